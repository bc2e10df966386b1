-- The Orders bot (docs/rules.md, "Orders bot"): rules that act on the order
-- that started them. An order action writes an order instruction (hold,
-- priority, note), shows it on the customer's timeline, and publishes
-- order.instruction on the "notes" event stream, all in one transaction, so
-- that the store that owns the order applies it.

-- One row per (rule, timeline row of the order event, action): the claim that
-- makes an action write its instruction once, however often its run is tried.
CREATE TABLE notes.order_instructions (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    customer_id uuid NOT NULL,
    order_source text NOT NULL,
    order_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('HOLD', 'PRIORITY', 'NOTE')),
    value text NOT NULL,
    rule_id uuid NOT NULL,
    rule_name text NOT NULL,
    timeline_id uuid NOT NULL,      -- the order event's timeline row that started the rule
    action_index integer NOT NULL,  -- the action's place in the rule
    event_id text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, rule_id, timeline_id, action_index)
);
CREATE INDEX order_instructions_by_order
    ON notes.order_instructions (tenant_id, order_source, order_id, created_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON notes.order_instructions TO crm_app;
ALTER TABLE notes.order_instructions ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes.order_instructions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notes.order_instructions
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);

-- Transactional outbox of the "notes" stream (libshared/cm_outbox.h):
-- order.instruction. Internal: the relay reads across tenants.
CREATE TABLE notes.outbox (
    id bigserial PRIMARY KEY,
    event bytea NOT NULL,
    seq bigint UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    customer_id uuid
);
CREATE INDEX outbox_unpublished ON notes.outbox (id) WHERE seq IS NULL;
CREATE INDEX outbox_by_published ON notes.outbox (published_at, seq) WHERE seq IS NOT NULL;
GRANT SELECT, INSERT, UPDATE, DELETE ON notes.outbox TO crm_app;
GRANT USAGE ON SEQUENCE notes.outbox_id_seq TO crm_app;

-- Durable readers of the "notes" stream (a store that names itself in its
-- ReplayEvents requests).
CREATE TABLE notes.stream_readers (
    name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    seq bigint NOT NULL CHECK (seq >= 0),
    seen_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON notes.stream_readers TO crm_app;

-- The relay (cm_outbox_relay) in one call, as notify.outbox_relay
-- (notify/sql/040_outbox_relay.sql, which says why the planner is pinned).
CREATE FUNCTION notes.outbox_relay(lim integer)
RETURNS TABLE (seq bigint, event bytea)
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('notes.outbox')) THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH top AS (SELECT coalesce(max(o.seq), 0) AS seq FROM notes.outbox o),
         next AS (SELECT u.id, (SELECT t.seq FROM top t) + row_number() OVER (ORDER BY u.id) AS seq
                    FROM (SELECT o.id FROM notes.outbox o WHERE o.seq IS NULL
                           ORDER BY o.id LIMIT lim) u),
         done AS (UPDATE notes.outbox o SET seq = next.seq, published_at = now()
                    FROM next WHERE o.id = next.id
                  RETURNING o.seq, o.event)
    SELECT d.seq, d.event FROM done d ORDER BY d.seq;
END
$$;
GRANT EXECUTE ON FUNCTION notes.outbox_relay(integer) TO crm_app;
