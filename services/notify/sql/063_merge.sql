-- Following a merge of two customer records (customer.merged on the customers
-- stream; docs/architecture.md, "Merging"): what notify keeps under the
-- duplicate's id moves to the customer kept, in the follower's transaction,
-- and a message queued later for the duplicate's id is the kept customer's.

-- A merged record's id and the customer it went into, from customer.merged.
-- A chain is kept flat (B merged into C re-points every row into B to C). The
-- kept customer's erasure removes its rows.
CREATE TABLE notify.merged_customers (
    tenant_id uuid NOT NULL,
    merged_id uuid NOT NULL,
    into_id uuid NOT NULL,
    event_id text NOT NULL,   -- the customer.merged applied: a replay of it finds it here
    merged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, merged_id)
);
CREATE INDEX merged_customers_into ON notify.merged_customers (tenant_id, into_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON notify.merged_customers TO crm_app;
ALTER TABLE notify.merged_customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE notify.merged_customers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notify.merged_customers
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);

-- Moves every row of p_dup to p_keep and records where p_dup leads. Run as
-- the caller (crm_app, the session's tenant); every statement names the
-- tenant. Two keys are one per customer:
--   - the sign-in account (notify.accounts): the kept customer's stays; one
--     without an account takes the duplicate's. The duplicate's account
--     otherwise goes with its unused links: the person signs in with the
--     kept customer's address (its status is customers', by the merge's
--     rules);
--   - a campaign's recipient row: where both records got one campaign, both
--     rows stay and the duplicate's keeps its id (two messages went, and the
--     campaign's counts say so); the messages move.
-- p_event is the customer.merged event's id: applied again (a replay) it
-- finds its row, changes nothing and answers -1; else the rows moved.
CREATE FUNCTION notify.merge_customer(p_tenant uuid, p_keep uuid, p_dup uuid, p_event text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, notify AS $$
DECLARE
    moved bigint := 0;
    n bigint;
BEGIN
    IF p_tenant IS DISTINCT FROM nullif(current_setting('app.tenant', true), '')::uuid THEN
        RAISE EXCEPTION 'merge_customer: not the session''s tenant';
    END IF;
    IF p_keep = p_dup OR EXISTS (SELECT 1 FROM notify.merged_customers
                                  WHERE tenant_id = p_tenant AND merged_id = p_dup
                                    AND event_id = p_event) THEN
        RETURN -1;
    END IF;
    UPDATE notify.messages SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notify.replies SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    UPDATE notify.campaign_recipients d SET customer_id = p_keep
     WHERE d.tenant_id = p_tenant AND d.customer_id = p_dup
       AND NOT EXISTS (SELECT 1 FROM notify.campaign_recipients k
                        WHERE k.tenant_id = p_tenant AND k.campaign_id = d.campaign_id
                          AND k.customer_id = p_keep);
    GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    IF EXISTS (SELECT 1 FROM notify.accounts WHERE tenant_id = p_tenant AND customer_id = p_keep)
    THEN
        DELETE FROM notify.password_links
         WHERE tenant_id = p_tenant AND customer_id = p_dup AND used_at IS NULL;
        DELETE FROM notify.accounts WHERE tenant_id = p_tenant AND customer_id = p_dup;
    ELSE
        UPDATE notify.accounts SET customer_id = p_keep, updated_at = now()
         WHERE tenant_id = p_tenant AND customer_id = p_dup;
        GET DIAGNOSTICS n = ROW_COUNT; moved := moved + n;
    END IF;
    UPDATE notify.password_links SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE notify.welcome_work SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE notify.registrations SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    -- The stream's rows keep their payload (published history); the column
    -- is what the kept customer's erasure finds them by.
    UPDATE notify.outbox SET customer_id = p_keep WHERE customer_id = p_dup;
    UPDATE notify.merged_customers SET into_id = p_keep
     WHERE tenant_id = p_tenant AND into_id = p_dup;
    INSERT INTO notify.merged_customers (tenant_id, merged_id, into_id, event_id)
    VALUES (p_tenant, p_dup, p_keep, p_event)
    ON CONFLICT (tenant_id, merged_id)
    DO UPDATE SET into_id = EXCLUDED.into_id, event_id = EXCLUDED.event_id, merged_at = now();
    RETURN moved;
END
$$;
REVOKE ALL ON FUNCTION notify.merge_customer(uuid, uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notify.merge_customer(uuid, uuid, uuid, text) TO crm_app;
