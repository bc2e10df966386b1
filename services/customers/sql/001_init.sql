-- The customers service's schema: tenants and API keys, customers, groups,
-- tags, external ids, photos, audit, the event outbox and idempotency keys.
-- Tables are owned by the migrating role; services SET ROLE crm_app, which
-- owns nothing, so row-level security applies to them.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'crm_app') THEN
        CREATE ROLE crm_app NOLOGIN;
    END IF;
END $$;
DO $$
BEGIN
    EXECUTE format('GRANT crm_app TO %I', current_user);
EXCEPTION WHEN others THEN
    NULL; -- already a member, or a superuser that needs no membership
END $$;

CREATE SCHEMA IF NOT EXISTS customers;
GRANT USAGE ON SCHEMA customers TO crm_app;

CREATE TABLE customers.tenants (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    default_country text NOT NULL DEFAULT '',
    required_fields text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored as BLAKE2b hashes; only customers.authenticate reads them.
CREATE TABLE customers.api_keys (
    id text PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES customers.tenants (id) ON DELETE CASCADE,
    name text NOT NULL,
    role smallint NOT NULL,
    key_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE FUNCTION customers.authenticate(p_hash bytea)
RETURNS TABLE (tenant_id uuid, key_id text, name text, role smallint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
    SELECT k.tenant_id, k.id, k.name, k.role
      FROM customers.api_keys k
     WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION customers.authenticate(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.authenticate(bytea) TO crm_app;

CREATE TABLE customers.customers (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    doc jsonb NOT NULL,            -- the crm.Customer in proto3 JSON, without id, groups and times
    first_name text NOT NULL DEFAULT '',
    last_name text NOT NULL DEFAULT '',
    email text NOT NULL DEFAULT '',
    email_key text,                -- case-folded e-mail; unique per tenant
    phone text NOT NULL DEFAULT '',
    is_company boolean NOT NULL DEFAULT false,
    account_status smallint NOT NULL DEFAULT 0,
    tags text[] NOT NULL DEFAULT '{}',
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- sort keys for keyset paging
    sort_last text COLLATE "und-x-icu" NOT NULL DEFAULT '',
    sort_first text COLLATE "und-x-icu" NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX customers_email_key ON customers.customers (tenant_id, email_key)
    WHERE email_key IS NOT NULL;
CREATE INDEX customers_by_last ON customers.customers (tenant_id, sort_last, id);
CREATE INDEX customers_by_first ON customers.customers (tenant_id, sort_first, id);
CREATE INDEX customers_by_email ON customers.customers (tenant_id, email, id);
CREATE INDEX customers_by_created ON customers.customers (tenant_id, created_at, id);
CREATE INDEX customers_by_updated ON customers.customers (tenant_id, updated_at, id);
CREATE INDEX customers_tags ON customers.customers USING gin (tags);

CREATE TABLE customers.groups (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    name text NOT NULL,
    name_key text NOT NULL,
    description text NOT NULL DEFAULT '',
    color text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name_key)
);

CREATE TABLE customers.customer_groups (
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    group_id uuid NOT NULL,
    position smallint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, customer_id, group_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers.customers (tenant_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, group_id) REFERENCES customers.groups (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX customer_groups_by_group ON customers.customer_groups (tenant_id, group_id);

CREATE TABLE customers.external_ids (
    tenant_id uuid NOT NULL,
    system text NOT NULL,
    ext_id text NOT NULL,
    customer_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, system, ext_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers.customers (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX external_ids_by_customer ON customers.external_ids (tenant_id, customer_id);

CREATE TABLE customers.photos (
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    content_type text NOT NULL,
    data bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers.customers (tenant_id, id)
        ON DELETE CASCADE
);

-- Who changed what; kept after the customer is deleted.
CREATE TABLE customers.audit (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    action text NOT NULL,
    principal_id text NOT NULL,
    principal_name text NOT NULL,
    principal_role smallint NOT NULL,
    channel text NOT NULL,
    request_id text NOT NULL,
    changes jsonb NOT NULL
);
CREATE INDEX audit_by_customer ON customers.audit (tenant_id, customer_id, id DESC);

-- Transactional outbox: rows are written with the change; the relay gives
-- them a contiguous seq and publishes them. Internal: no tenant policy, the
-- relay reads across tenants.
CREATE TABLE customers.outbox (
    id bigserial PRIMARY KEY,
    event bytea NOT NULL,          -- packed crm.Event with seq 0
    seq bigint UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON customers.outbox (id) WHERE seq IS NULL;

-- Replies of writes, by idempotency key. Internal like the outbox: every
-- statement names the tenant, and old keys are expired across tenants.
CREATE TABLE customers.idempotency (
    tenant_id uuid NOT NULL,
    key text NOT NULL,
    method text NOT NULL,
    reply_header bytea,
    reply_body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_by_time ON customers.idempotency (created_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON customers.customers, customers.groups,
    customers.customer_groups, customers.external_ids, customers.photos,
    customers.idempotency TO crm_app;
GRANT SELECT, INSERT ON customers.audit TO crm_app;
GRANT SELECT, UPDATE ON customers.tenants TO crm_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON customers.outbox TO crm_app;
GRANT USAGE ON SEQUENCE customers.audit_id_seq, customers.outbox_id_seq TO crm_app;

-- Row-level security: a session sees only the tenant it set for the transaction.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['customers', 'groups', 'customer_groups', 'external_ids',
                             'photos', 'audit'] LOOP
        EXECUTE format('ALTER TABLE customers.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE customers.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON customers.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;
ALTER TABLE customers.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON customers.tenants
    USING (id = nullif(current_setting('app.tenant', true), '')::uuid);
