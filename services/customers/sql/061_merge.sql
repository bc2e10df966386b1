-- Merging two records of one person (customers.MergeCustomers; docs/api.md,
-- "Merging two records"): where a merged record's id now leads, and the
-- statement that moves what the duplicate owns to the customer kept.

-- A merged record's id and the customer it went into: GetCustomer of a
-- merged id answers NOT_FOUND naming into_id. A chain is kept flat (B merged
-- into C re-points every row into B to C), so one look-up finds the last
-- one kept. The kept customer's deletion removes its rows.
CREATE TABLE customers.merged_customers (
    tenant_id uuid NOT NULL,
    merged_id uuid NOT NULL,
    into_id uuid NOT NULL,
    merged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, merged_id)
);
CREATE INDEX merged_customers_into ON customers.merged_customers (tenant_id, into_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON customers.merged_customers TO crm_app;
ALTER TABLE customers.merged_customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers.merged_customers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON customers.merged_customers
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);

-- Moves every row the duplicate p_dup owns in this schema to p_keep, in the
-- caller's transaction, both customers locked by the caller. As the owner:
-- the ledger and the door's log are append-only for crm_app, and a merge is
-- the one change that re-points them. Every statement names the tenant, and
-- it must be the session's. Answers 'currency' (nothing moved) when both
-- hold money in different currencies, else 'ok'; p_dry: only that answer,
-- nothing moved (validateOnly). The customer rows, their
-- groups, external ids and audit are the service's (customers_merge.c).
CREATE FUNCTION customers.merge_rows(p_tenant uuid, p_keep uuid, p_dup uuid, p_dry boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
BEGIN
    IF p_tenant IS DISTINCT FROM nullif(current_setting('app.tenant', true), '')::uuid THEN
        RAISE EXCEPTION 'merge_rows: not the session''s tenant';
    END IF;
    IF EXISTS (SELECT 1
                 FROM (SELECT DISTINCT currency FROM customers.wallet_entries
                        WHERE tenant_id = p_tenant AND customer_id = p_dup AND kind = 1) d
                 JOIN (SELECT DISTINCT currency FROM customers.wallet_entries
                        WHERE tenant_id = p_tenant AND customer_id = p_keep AND kind = 1) k
                   ON d.currency <> k.currency) THEN
        RETURN 'currency';
    END IF;
    IF p_dry THEN
        RETURN 'ok';
    END IF;
    -- Balances add up (the ledger's sum); the entries move as they were.
    INSERT INTO customers.wallet_balances AS w (tenant_id, customer_id, kind, balance)
    SELECT tenant_id, p_keep, kind, balance FROM customers.wallet_balances
     WHERE tenant_id = p_tenant AND customer_id = p_dup
    ON CONFLICT (tenant_id, customer_id, kind) DO UPDATE SET balance = w.balance + EXCLUDED.balance;
    DELETE FROM customers.wallet_balances WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE customers.wallet_entries SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE customers.vouchers SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE customers.subscriptions SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE customers.subscription_visits SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE customers.price_rules SET customer_id = p_keep, updated_at = now()
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE customers.access_credentials SET customer_id = p_keep, updated_at = now()
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE customers.access_grants SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    UPDATE customers.access_log SET customer_id = p_keep
     WHERE tenant_id = p_tenant AND customer_id = p_dup;
    -- The kept one's photo stays; without one it takes the duplicate's.
    IF NOT EXISTS (SELECT 1 FROM customers.photos
                    WHERE tenant_id = p_tenant AND customer_id = p_keep) THEN
        UPDATE customers.photos SET customer_id = p_keep
         WHERE tenant_id = p_tenant AND customer_id = p_dup;
    END IF;
    UPDATE customers.merged_customers SET into_id = p_keep
     WHERE tenant_id = p_tenant AND into_id = p_dup;
    INSERT INTO customers.merged_customers (tenant_id, merged_id, into_id)
    VALUES (p_tenant, p_dup, p_keep)
    ON CONFLICT (tenant_id, merged_id) DO UPDATE SET into_id = EXCLUDED.into_id, merged_at = now();
    RETURN 'ok';
END
$$;
REVOKE ALL ON FUNCTION customers.merge_rows(uuid, uuid, uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.merge_rows(uuid, uuid, uuid, boolean) TO crm_app;
