-- Retention of the customers stream's outbox (docs/operations.md, "The event
-- outbox"). A durable reader of the stream (the notes service) names itself in
-- its ReplayEvents requests; its position is the seq it asked to replay after,
-- which it has applied for good. Published events older than the retention
-- that every reader has passed are deleted; the newest event always stays, as
-- the relay numbers new events on from it.
CREATE TABLE customers.stream_readers (
    name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    seq bigint NOT NULL CHECK (seq >= 0),
    seen_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON customers.stream_readers TO crm_app;

-- The newest event older than the retention, found without reading the
-- events since (published_at grows with seq: the relay numbers in order).
CREATE INDEX outbox_by_published ON customers.outbox (published_at, seq) WHERE seq IS NOT NULL;

-- Deletes at most `batch` of the oldest events that were published before
-- now() - keep and that every registered reader has passed. While a reader
-- named in `expected` (comma-separated) has not registered yet, nothing is deleted: it would
-- start from an event that is gone. Returns what was deleted, the seq the
-- outbox now starts after (0: nothing deleted ever), and what holds the rest
-- back ('' when only the retention does): 'busy' (another copy is pruning),
-- 'unregistered: NAME, ...' or 'reader: NAME' (the slowest reader).
CREATE FUNCTION customers.outbox_prune(keep interval, expected text, batch integer)
RETURNS TABLE (deleted bigint, gone_through bigint, held_by text)
LANGUAGE plpgsql AS $$
DECLARE
    newest bigint;
    missing text;
    slowest text;
    slowest_seq bigint;
    bound bigint;
    cut bigint;
    n bigint := 0;
    why text := '';
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('customers.outbox_prune')) THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint, 'busy'::text;
        RETURN;
    END IF;
    SELECT max(o.seq) INTO newest FROM customers.outbox o;
    SELECT string_agg(e, ', ' ORDER BY e) INTO missing
      FROM unnest(string_to_array(replace(expected, ' ', ''), ',')) AS e
     WHERE e <> '' AND NOT EXISTS (SELECT 1 FROM customers.stream_readers r WHERE r.name = e);
    IF newest IS NULL OR missing IS NOT NULL THEN
        RETURN QUERY SELECT 0::bigint,
                            coalesce((SELECT min(o.seq) - 1 FROM customers.outbox o), 0),
                            CASE WHEN missing IS NULL THEN '' ELSE 'unregistered: ' || missing END;
        RETURN;
    END IF;
    bound := newest - 1;
    SELECT r.name, r.seq INTO slowest, slowest_seq
      FROM customers.stream_readers r ORDER BY r.seq, r.name LIMIT 1;
    IF slowest_seq IS NOT NULL AND slowest_seq < bound THEN
        bound := slowest_seq;
        why := 'reader: ' || slowest;
    END IF;
    -- Events are published in seq order, so what is old enough is a prefix
    -- of the stream, up to the newest event published before now() - keep.
    SELECT o.seq INTO cut
      FROM customers.outbox o
     WHERE o.seq IS NOT NULL AND o.published_at < now() - keep
     ORDER BY o.published_at DESC, o.seq DESC
     LIMIT 1;
    IF cut IS NOT NULL THEN
        IF cut < bound THEN
            why := '';
        ELSE
            cut := bound;
        END IF;
        DELETE FROM customers.outbox
         WHERE id IN (SELECT o.id FROM customers.outbox o
                       WHERE o.seq <= cut ORDER BY o.seq LIMIT batch);
        GET DIAGNOSTICS n = ROW_COUNT;
    ELSE
        why := '';
    END IF;
    RETURN QUERY SELECT n, coalesce((SELECT min(o.seq) - 1 FROM customers.outbox o
                                      WHERE o.seq IS NOT NULL), 0), why;
END
$$;
GRANT EXECUTE ON FUNCTION customers.outbox_prune(interval, text, integer) TO crm_app;
