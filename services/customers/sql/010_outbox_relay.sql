-- The relay (cm_outbox_relay) in one call: the lock that keeps it to one copy
-- at a time, the numbering of the oldest unpublished events after the highest
-- seq, and the events to publish, in seq order. Run on its own (no explicit
-- transaction), it commits before the caller sees the rows.
--
-- Planner settings are pinned for this function only: unpublished rows leave
-- the partial index only when vacuumed, and a bitmap scan (which the planner
-- picks when its statistics say the table is small) visits every row numbered
-- since the last vacuum, while an index scan marks them dead and skips them
-- from then on; the rows are then updated by their key, never by a scan of the
-- whole outbox. Returns nothing when another copy holds the lock: that copy
-- takes these rows too.
CREATE FUNCTION customers.outbox_relay(lim integer)
RETURNS TABLE (seq bigint, event bytea)
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('customers.outbox')) THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH top AS (SELECT coalesce(max(o.seq), 0) AS seq FROM customers.outbox o),
         next AS (SELECT u.id, (SELECT t.seq FROM top t) + row_number() OVER (ORDER BY u.id) AS seq
                    FROM (SELECT o.id FROM customers.outbox o WHERE o.seq IS NULL
                           ORDER BY o.id LIMIT lim) u),
         done AS (UPDATE customers.outbox o SET seq = next.seq, published_at = now()
                    FROM next WHERE o.id = next.id
                  RETURNING o.seq, o.event)
    SELECT d.seq, d.event FROM done d ORDER BY d.seq;
END
$$;
GRANT EXECUTE ON FUNCTION customers.outbox_relay(integer) TO crm_app;
