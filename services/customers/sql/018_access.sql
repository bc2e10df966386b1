-- Access control (docs/access.md): the business's zones, the credentials a
-- customer shows at a reader, the grants that let a customer into a zone, and
-- the log of every check a door made (kept 90 days; the tick prunes it
-- through customers.access_log_prune).

CREATE TABLE customers.access_zones (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    tenant_id uuid NOT NULL REFERENCES customers.tenants (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX access_zones_name ON customers.access_zones (tenant_id, lower(name));

CREATE TABLE customers.access_credentials (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    kind smallint NOT NULL CHECK (kind BETWEEN 1 AND 4),       -- crm.CredentialKind
    value text NOT NULL CHECK (value ~ '^[ -~]{1,64}$'),       -- printable ASCII
    blocked boolean NOT NULL DEFAULT false,
    block_reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers.customers (tenant_id, id)
        ON DELETE CASCADE
);
-- The door's lookup is an index hit on (tenant_id, value); a value opens for
-- one customer at a time (blocked ones may repeat it).
CREATE UNIQUE INDEX access_credentials_value ON customers.access_credentials (tenant_id, value)
    WHERE NOT blocked;
CREATE INDEX access_credentials_lookup ON customers.access_credentials (tenant_id, value);
CREATE INDEX access_credentials_by_customer
    ON customers.access_credentials (tenant_id, customer_id, seq);

CREATE TABLE customers.access_grants (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    zone_id uuid NOT NULL REFERENCES customers.access_zones (id) ON DELETE CASCADE,
    valid_from date,                                            -- NULL: always
    valid_until date CHECK (valid_until >= valid_from),         -- NULL: for good
    days smallint NOT NULL DEFAULT 0 CHECK (days BETWEEN 0 AND 127), -- bit d-1: ISO day d; 0: all
    from_minute smallint CHECK (from_minute BETWEEN 0 AND 1439),     -- NULL: all day
    until_minute smallint CHECK (until_minute BETWEEN 1 AND 1440 AND until_minute > from_minute),
    plan_id uuid REFERENCES customers.sub_plans (id) ON DELETE CASCADE, -- NULL: no plan needed
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((from_minute IS NULL) = (until_minute IS NULL)),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers.customers (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX access_grants_by_customer ON customers.access_grants (tenant_id, customer_id, zone_id);

-- Every check. No foreign keys: the entry outlives its zone, credential and
-- customer; an erased customer's entries lose the credential's value.
CREATE TABLE customers.access_log (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    checked_at timestamptz NOT NULL,
    zone_id uuid NOT NULL,
    zone_name text NOT NULL,
    credential_value text NOT NULL,
    customer_id uuid,
    decision smallint NOT NULL CHECK (decision IN (1, 2)),     -- crm.AccessDecision
    reason smallint NOT NULL CHECK (reason BETWEEN 0 AND 7),   -- crm.AccessReason
    logged_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_log_by_customer ON customers.access_log (tenant_id, customer_id, id DESC);
CREATE INDEX access_log_by_logged ON customers.access_log (logged_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON customers.access_zones, customers.access_credentials,
    customers.access_grants TO crm_app;
GRANT SELECT, INSERT, UPDATE (credential_value) ON customers.access_log TO crm_app;
GRANT USAGE ON SEQUENCE customers.access_zones_seq_seq, customers.access_credentials_seq_seq,
    customers.access_grants_seq_seq, customers.access_log_id_seq TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['access_zones', 'access_credentials', 'access_grants'] LOOP
        EXECUTE format('ALTER TABLE customers.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE customers.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON customers.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;
-- Not FORCEd (as customers.api_keys): crm_app, which owns no table, is held to
-- the request's tenant; customers.access_log_prune runs as the owner across
-- tenants.
ALTER TABLE customers.access_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON customers.access_log
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);

-- The tick's retention, across tenants: deletes at most p_limit entries
-- logged before p_before, oldest first; returns how many.
CREATE FUNCTION customers.access_log_prune(p_before timestamptz, p_limit integer)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
    WITH gone AS (
        DELETE FROM customers.access_log
         WHERE id IN (SELECT id FROM customers.access_log WHERE logged_at < p_before
                       ORDER BY logged_at LIMIT p_limit)
        RETURNING 1)
    SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION customers.access_log_prune(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.access_log_prune(timestamptz, integer) TO crm_app;
