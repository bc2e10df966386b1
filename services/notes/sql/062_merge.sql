-- Following a merge of two customer records (customer.merged on the customers
-- stream; docs/architecture.md, "Merging"): what notes keeps under the
-- duplicate's id moves to the customer kept, in the follower's transaction,
-- and the duplicate's id keeps leading there for events that name it late.

-- A merged record's id and the customer it went into, from customer.merged.
-- A chain is kept flat (B merged into C re-points every row into B to C), so
-- one look-up answers. The kept customer's deletion removes its rows.
CREATE TABLE notes.merged_customers (
    tenant_id uuid NOT NULL,
    merged_id uuid NOT NULL,
    into_id uuid NOT NULL,
    event_id text NOT NULL,   -- the customer.merged applied: a replay of it finds it here
    merged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, merged_id)
);
CREATE INDEX merged_customers_into ON notes.merged_customers (tenant_id, into_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON notes.merged_customers TO crm_app;
ALTER TABLE notes.merged_customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes.merged_customers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notes.merged_customers
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);

-- A pending rule event moves with its timeline row.
GRANT UPDATE ON notes.rule_events TO crm_app;

-- Moves every row of p_dup to p_keep and records where p_dup leads. Run as
-- the caller (crm_app, the session's tenant); every statement names the
-- tenant. Nothing here has a unique key on the customer but the figures,
-- which the triggers of bookings and orders move (a row that changes
-- customer leaves the one's figures and joins the other's): the duplicate's
-- emptied figures rows are then removed. A form's card is the newest filling
-- whoever it was filled for, so both cards' fillings move and the newer
-- shows. p_event is the customer.merged event's id: the same event applied
-- again (a follower's replay) finds its row and changes nothing, and answers
-- -1; else the rows moved.
CREATE FUNCTION notes.merge_customer(p_tenant uuid, p_keep uuid, p_dup uuid, p_event text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, notes AS $$
DECLARE
    moved bigint := 0;
    n bigint;
BEGIN
    IF p_tenant IS DISTINCT FROM nullif(current_setting('app.tenant', true), '')::uuid THEN
        RAISE EXCEPTION 'merge_customer: not the session''s tenant';
    END IF;
    IF p_keep = p_dup OR EXISTS (SELECT 1 FROM notes.merged_customers
                                  WHERE tenant_id = p_tenant AND merged_id = p_dup
                                    AND event_id = p_event) THEN
        RETURN -1;
    END IF;
    UPDATE notes.notes SET customer_id = p_keep WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.tasks SET customer_id = p_keep WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.bookings SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.orders SET customer_id = p_keep WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.timeline SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.files SET customer_id = p_keep WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.form_fillings SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.rule_runs SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.rule_events SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE notes.order_instructions SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.visit_parameters SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.order_returns SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notes.intake SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    -- The stream's rows keep their payload (published history); the column
    -- is what the kept customer's erasure finds them by.
    UPDATE notes.outbox SET customer_id = p_keep WHERE customer_id = p_dup;
    UPDATE notes.merged_customers SET into_id = p_keep
     WHERE tenant_id = p_tenant AND into_id = p_dup;
    INSERT INTO notes.merged_customers (tenant_id, merged_id, into_id, event_id)
    VALUES (p_tenant, p_dup, p_keep, p_event)
    ON CONFLICT (tenant_id, merged_id)
    DO UPDATE SET into_id = EXCLUDED.into_id, event_id = EXCLUDED.event_id, merged_at = now();
    RETURN moved;
END
$$;
REVOKE ALL ON FUNCTION notes.merge_customer(uuid, uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notes.merge_customer(uuid, uuid, uuid, text) TO crm_app;
