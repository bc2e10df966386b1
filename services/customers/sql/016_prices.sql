-- Price rules (docs/bus.md, "Price rules"): a discount for one customer,
-- for everyone with a tag, or for everyone in a group, on every product, a
-- category or one product of the store's, for a span of days or for good.
-- And the business's currency, which the amounts of the rules are in.

-- The business's currency (ISO 4217; the column came with the wallet,
-- 013_wallet.sql). NULL or empty: the one of its country
-- (customers.currency_of), so it follows the country until someone sets it
-- or the first money goes on an account.
ALTER TABLE customers.tenants ADD COLUMN IF NOT EXISTS currency text;
ALTER TABLE customers.tenants ADD CONSTRAINT tenants_currency_code
    CHECK (currency IS NULL OR currency = '' OR currency ~ '^[A-Z]{3}$');

-- The currency of a country (ISO 3166-1 alpha-2): the euro area and the
-- other European currencies; EUR for a country this does not name. The same
-- table is customers_currency_of_country (customers_wallet_rules.c).
CREATE FUNCTION customers.currency_of(p_country text)
RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog AS $$
    SELECT CASE upper(p_country)
        WHEN 'PL' THEN 'PLN' WHEN 'NO' THEN 'NOK' WHEN 'SE' THEN 'SEK'
        WHEN 'DK' THEN 'DKK' WHEN 'FO' THEN 'DKK' WHEN 'GL' THEN 'DKK'
        WHEN 'SJ' THEN 'NOK' WHEN 'CZ' THEN 'CZK' WHEN 'HU' THEN 'HUF'
        WHEN 'RO' THEN 'RON' WHEN 'CH' THEN 'CHF' WHEN 'LI' THEN 'CHF'
        WHEN 'GB' THEN 'GBP' WHEN 'IS' THEN 'ISK' WHEN 'RS' THEN 'RSD'
        WHEN 'MK' THEN 'MKD' WHEN 'AL' THEN 'ALL' WHEN 'BA' THEN 'BAM'
        WHEN 'MD' THEN 'MDL' WHEN 'UA' THEN 'UAH' WHEN 'TR' THEN 'TRY'
        WHEN 'US' THEN 'USD' WHEN 'CA' THEN 'CAD' WHEN 'AU' THEN 'AUD'
        WHEN 'JP' THEN 'JPY'
        ELSE 'EUR' END
$$;
GRANT EXECUTE ON FUNCTION customers.currency_of(text) TO crm_app;

-- One rule: exactly one of customer_id, tag, group_id says whom it is for;
-- target 1 all, 2 a category (code), 3 a product (code); exactly one of
-- percent_off_bp and amount_off_minor is the modifier. A rule goes with its
-- customer or group.
CREATE TABLE customers.price_rules (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    name text NOT NULL DEFAULT '',
    customer_id uuid,
    tag text,
    group_id uuid,
    target smallint NOT NULL CHECK (target BETWEEN 1 AND 3),
    code text NOT NULL DEFAULT '',
    percent_off_bp integer NOT NULL DEFAULT 0 CHECK (percent_off_bp BETWEEN 0 AND 10000),
    amount_off_minor bigint NOT NULL DEFAULT 0 CHECK (amount_off_minor >= 0),
    valid_from date,
    valid_until date,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK (num_nonnulls(customer_id, tag, group_id) = 1),
    CHECK ((percent_off_bp > 0) <> (amount_off_minor > 0)),
    CHECK ((target = 1) = (code = '')),
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from <= valid_until),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers.customers (tenant_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, group_id) REFERENCES customers.groups (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX price_rules_by_customer ON customers.price_rules (tenant_id, customer_id)
    WHERE customer_id IS NOT NULL;
CREATE INDEX price_rules_by_tag ON customers.price_rules (tenant_id, tag) WHERE tag IS NOT NULL;
CREATE INDEX price_rules_by_group ON customers.price_rules (tenant_id, group_id)
    WHERE group_id IS NOT NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON customers.price_rules TO crm_app;
ALTER TABLE customers.price_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers.price_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON customers.price_rules
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
