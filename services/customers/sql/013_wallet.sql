-- The wallet (docs/api.md, "Wallet"): money on a customer's account and
-- loyalty points as an append-only ledger with derived balances that never go
-- below zero, gift vouchers (only the code's BLAKE2b-256 hash and its last
-- four characters are kept), the business's currency and loyalty rule, and
-- the wrong voucher codes counted for the rate limit.

-- The business's currency (ISO 4217). NULL: derived from default_country
-- until the first money entry or voucher pins it.
ALTER TABLE customers.tenants ADD COLUMN IF NOT EXISTS currency text;

CREATE TABLE customers.wallet_settings (
    tenant_id uuid PRIMARY KEY REFERENCES customers.tenants (id) ON DELETE CASCADE,
    loyalty_enabled boolean NOT NULL DEFAULT false,
    points_per_unit integer NOT NULL DEFAULT 1 CHECK (points_per_unit BETWEEN 1 AND 1000),
    unit_minor bigint NOT NULL DEFAULT 100 CHECK (unit_minor BETWEEN 1 AND 100000000)
);

-- One row per customer and kind (1 money, 2 points): the sum of the ledger.
-- Every posting updates it under the row's lock, so concurrent spends queue
-- and the CHECK is never reached by a correct caller.
CREATE TABLE customers.wallet_balances (
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    kind smallint NOT NULL CHECK (kind IN (1, 2)),
    balance bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
    PRIMARY KEY (tenant_id, customer_id, kind),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers.customers (tenant_id, id)
        ON DELETE CASCADE
);

CREATE TABLE customers.wallet_entries (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    kind smallint NOT NULL CHECK (kind IN (1, 2)),
    amount bigint NOT NULL CHECK (amount <> 0),
    currency text NOT NULL DEFAULT '',
    balance_after bigint NOT NULL CHECK (balance_after >= 0),
    reason text NOT NULL DEFAULT '',
    source smallint NOT NULL,          -- crm.WalletSource
    reference text NOT NULL DEFAULT '',
    voucher_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT '',
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers.customers (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX wallet_entries_by_customer
    ON customers.wallet_entries (tenant_id, customer_id, seq DESC);
-- A source's reference is posted once per kind and direction (an order may
-- both earn points and spend money).
CREATE UNIQUE INDEX wallet_entries_by_reference
    ON customers.wallet_entries (tenant_id, source, reference, kind, (amount > 0))
    WHERE reference <> '';

CREATE TABLE customers.vouchers (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    tenant_id uuid NOT NULL REFERENCES customers.tenants (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    code_hint text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    currency text NOT NULL,
    expires_at timestamptz,
    note text NOT NULL DEFAULT '',
    issued_at timestamptz NOT NULL DEFAULT now(),
    issued_by text NOT NULL DEFAULT '',
    redeemed_at timestamptz,
    redeemed_by text,
    customer_id uuid,
    UNIQUE (tenant_id, code_hash)
);
CREATE INDEX vouchers_by_tenant ON customers.vouchers (tenant_id, seq DESC);

-- Wrong codes by caller (a member or a key), for the rate limit; a caller's
-- rows older than the window go when it fails again.
CREATE TABLE customers.voucher_failures (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    caller text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX voucher_failures_by_caller ON customers.voucher_failures (tenant_id, caller, at);

-- The ledger is append-only for the application: no UPDATE, no DELETE (the
-- customer's deletion removes it by the foreign key, as the table's owner).
GRANT SELECT, INSERT ON customers.wallet_entries TO crm_app;
GRANT SELECT, INSERT, UPDATE ON customers.wallet_balances, customers.wallet_settings,
    customers.vouchers TO crm_app;
GRANT SELECT, INSERT, DELETE ON customers.voucher_failures TO crm_app;
GRANT USAGE ON SEQUENCE customers.wallet_entries_seq_seq, customers.vouchers_seq_seq,
    customers.voucher_failures_id_seq TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['wallet_settings', 'wallet_balances', 'wallet_entries', 'vouchers',
                             'voucher_failures'] LOOP
        EXECUTE format('ALTER TABLE customers.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE customers.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON customers.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;

-- Posts one ledger entry in the caller's transaction (as the caller: row-level
-- security holds). With a reference, the (source, reference, kind, direction)
-- already posted answers 'replayed' (same customer and amount) or
-- 'reference_used'; a customer of another tenant or none 'no_customer'; a
-- posting that would take the balance below zero 'insufficient' with the
-- balance now. Otherwise 'created' with the new entry's id and balance.
CREATE FUNCTION customers.wallet_post(p_tenant uuid, p_customer uuid, p_kind smallint,
                                      p_amount bigint, p_currency text, p_reason text,
                                      p_source smallint, p_reference text, p_voucher uuid,
                                      p_by text, p_id uuid)
RETURNS TABLE (outcome text, entry_id uuid, balance bigint)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, customers AS $$
DECLARE
    e customers.wallet_entries;
    b bigint;
BEGIN
    IF p_reference <> '' THEN
        -- Two retries of one reference at once: the second waits, then sees the first.
        PERFORM pg_advisory_xact_lock(hashtextextended(
            p_tenant::text || '/' || p_source || '/' || p_reference, 0));
        SELECT * INTO e FROM customers.wallet_entries w
         WHERE w.tenant_id = p_tenant AND w.source = p_source AND w.reference = p_reference
           AND w.kind = p_kind AND (w.amount > 0) = (p_amount > 0);
        IF FOUND THEN
            IF e.customer_id = p_customer AND e.amount = p_amount THEN
                RETURN QUERY SELECT 'replayed'::text, e.id, e.balance_after;
            ELSE
                RETURN QUERY SELECT 'reference_used'::text, e.id, e.balance_after;
            END IF;
            RETURN;
        END IF;
    END IF;
    PERFORM 1 FROM customers.customers c WHERE c.tenant_id = p_tenant AND c.id = p_customer;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_customer'::text, NULL::uuid, 0::bigint;
        RETURN;
    END IF;
    INSERT INTO customers.wallet_balances (tenant_id, customer_id, kind, balance)
    VALUES (p_tenant, p_customer, p_kind, 0) ON CONFLICT DO NOTHING;
    UPDATE customers.wallet_balances w SET balance = w.balance + p_amount
     WHERE w.tenant_id = p_tenant AND w.customer_id = p_customer AND w.kind = p_kind
       AND w.balance + p_amount >= 0
    RETURNING w.balance INTO b;
    IF NOT FOUND THEN
        SELECT w.balance INTO b FROM customers.wallet_balances w
         WHERE w.tenant_id = p_tenant AND w.customer_id = p_customer AND w.kind = p_kind;
        RETURN QUERY SELECT 'insufficient'::text, NULL::uuid, coalesce(b, 0);
        RETURN;
    END IF;
    INSERT INTO customers.wallet_entries (id, tenant_id, customer_id, kind, amount, currency,
                                          balance_after, reason, source, reference, voucher_id,
                                          created_by)
    VALUES (p_id, p_tenant, p_customer, p_kind, p_amount, p_currency, b, p_reason, p_source,
            p_reference, p_voucher, p_by);
    RETURN QUERY SELECT 'created'::text, p_id, b;
END
$$;
REVOKE ALL ON FUNCTION customers.wallet_post(uuid, uuid, smallint, bigint, text, text, smallint,
    text, uuid, text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.wallet_post(uuid, uuid, smallint, bigint, text, text, smallint,
    text, uuid, text, uuid) TO crm_app;
