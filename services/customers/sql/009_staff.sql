-- Staff accounts: the members of a tenant who sign in to the web UI, their
-- sessions, invitations, the security events admins read, and failed sign-ins
-- for the rate limit. Secrets are kept only as hashes: passwords as Argon2id
-- strings (crypto_pwhash_str), session and invitation tokens as BLAKE2b-256.

CREATE TABLE customers.staff (
    tenant_id uuid NOT NULL REFERENCES customers.tenants (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    email text NOT NULL,
    email_key text NOT NULL,          -- lower-case e-mail: unique per tenant, the sign-in name
    name text NOT NULL,
    role smallint NOT NULL,           -- crm.Role: OWNER 5, ADMIN 1, STAFF 2, READONLY 3
    status smallint NOT NULL,         -- crm.StaffStatus: INVITED 1, ACTIVE 2, DISABLED 3
    password_hash text,               -- NULL until the invitation is accepted
    created_at timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email_key)
);
CREATE INDEX staff_by_email ON customers.staff (email_key);

-- A session is found by its token's hash alone (customers.staff_session),
-- before the tenant is known; every other statement names the tenant.
CREATE TABLE customers.staff_sessions (
    token_hash bytea PRIMARY KEY,
    tenant_id uuid NOT NULL,
    staff_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    idle_expires_at timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    address text NOT NULL DEFAULT '',
    FOREIGN KEY (tenant_id, staff_id) REFERENCES customers.staff (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX staff_sessions_by_staff ON customers.staff_sessions (tenant_id, staff_id);
CREATE INDEX staff_sessions_by_expiry ON customers.staff_sessions (absolute_expires_at);

CREATE TABLE customers.staff_invites (
    token_hash bytea PRIMARY KEY,
    tenant_id uuid NOT NULL,
    staff_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    FOREIGN KEY (tenant_id, staff_id) REFERENCES customers.staff (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX staff_invites_by_staff ON customers.staff_invites (tenant_id, staff_id);

CREATE TABLE customers.security_events (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    kind smallint NOT NULL,           -- crm.SecurityEventKind
    actor_id text NOT NULL DEFAULT '',
    actor_name text NOT NULL DEFAULT '',
    subject text NOT NULL DEFAULT '', -- the member or key acted on
    address text NOT NULL DEFAULT '',
    detail text NOT NULL DEFAULT ''
);
CREATE INDEX security_events_by_tenant ON customers.security_events (tenant_id, id DESC);

-- Internal (no tenant policy): failed sign-ins by e-mail and address, counted
-- before the tenant is known (an unknown e-mail counts too). Old rows are
-- deleted by the service's tick.
CREATE TABLE customers.sign_in_failures (
    id bigserial PRIMARY KEY,
    email_key text NOT NULL,
    address text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_failures_by_email ON customers.sign_in_failures (email_key, at);
CREATE INDEX sign_in_failures_by_address ON customers.sign_in_failures (address, at);

GRANT SELECT, INSERT, UPDATE ON customers.staff TO crm_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON customers.staff_sessions, customers.staff_invites
    TO crm_app;
GRANT SELECT, INSERT ON customers.security_events TO crm_app;
GRANT SELECT, INSERT, DELETE ON customers.sign_in_failures TO crm_app;
GRANT USAGE ON SEQUENCE customers.security_events_id_seq, customers.sign_in_failures_id_seq
    TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['staff', 'staff_sessions', 'staff_invites', 'security_events'] LOOP
        EXECUTE format('ALTER TABLE customers.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON customers.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;
-- FORCEd for the owner too, but security events: crmctl (the owner) records
-- a key it revokes by id, before it knows the key's tenant. crm_app, which
-- the services use and which owns nothing, is held to the tenant either way.
ALTER TABLE customers.staff FORCE ROW LEVEL SECURITY;
ALTER TABLE customers.staff_sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE customers.staff_invites FORCE ROW LEVEL SECURITY;

-- The members an e-mail signs in as, across tenants (sign-in has no tenant
-- yet), with what sign-in needs.
CREATE FUNCTION customers.staff_by_email(p_email_key text)
RETURNS TABLE (tenant_id uuid, tenant_name text, staff_id uuid, name text, role smallint,
               status smallint, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
    SELECT s.tenant_id, t.name, s.id, s.name, s.role, s.status, s.password_hash
      FROM customers.staff s JOIN customers.tenants t ON t.id = s.tenant_id
     WHERE s.email_key = p_email_key
     ORDER BY t.name, s.tenant_id
$$;
REVOKE ALL ON FUNCTION customers.staff_by_email(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.staff_by_email(text) TO crm_app;

-- The live session of a token hash, and its member (active only). Moves the
-- idle expiry on when the session was last seen more than a minute ago, so a
-- busy session costs one write a minute, not one per request.
CREATE FUNCTION customers.staff_session(p_hash bytea, p_idle_s integer)
RETURNS TABLE (tenant_id uuid, tenant_name text, staff_id uuid, email text, name text,
               role smallint, status smallint, created_at timestamptz,
               last_sign_in_at timestamptz, idle_expires_at timestamptz,
               absolute_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
BEGIN
    UPDATE customers.staff_sessions x
       SET last_seen_at = now(),
           idle_expires_at = least(now() + make_interval(secs => p_idle_s), x.absolute_expires_at)
     WHERE x.token_hash = p_hash AND x.last_seen_at < now() - interval '1 minute'
       AND x.idle_expires_at > now() AND x.absolute_expires_at > now();
    RETURN QUERY
    SELECT x.tenant_id, t.name, s.id, s.email, s.name, s.role, s.status, s.created_at,
           s.last_sign_in_at, x.idle_expires_at, x.absolute_expires_at
      FROM customers.staff_sessions x
      JOIN customers.staff s ON s.tenant_id = x.tenant_id AND s.id = x.staff_id
      JOIN customers.tenants t ON t.id = x.tenant_id
     WHERE x.token_hash = p_hash AND x.idle_expires_at > now()
       AND x.absolute_expires_at > now() AND s.status = 2;
END $$;
REVOKE ALL ON FUNCTION customers.staff_session(bytea, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.staff_session(bytea, integer) TO crm_app;

-- The invitation of a token hash, found before the tenant is known.
CREATE FUNCTION customers.staff_invite(p_hash bytea)
RETURNS TABLE (tenant_id uuid, tenant_name text, staff_id uuid, email text, name text,
               expires_at timestamptz, used_at timestamptz, status smallint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
    SELECT i.tenant_id, t.name, s.id, s.email, s.name, i.expires_at, i.used_at, s.status
      FROM customers.staff_invites i
      JOIN customers.staff s ON s.tenant_id = i.tenant_id AND s.id = i.staff_id
      JOIN customers.tenants t ON t.id = i.tenant_id
     WHERE i.token_hash = p_hash
$$;
REVOKE ALL ON FUNCTION customers.staff_invite(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.staff_invite(bytea) TO crm_app;

-- Expired sessions and invitations go (the service's tick calls this; the
-- tables have no tenant policy bypass for crm_app).
CREATE FUNCTION customers.staff_expire()
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
    DELETE FROM customers.staff_sessions
     WHERE absolute_expires_at < now() OR idle_expires_at < now();
    DELETE FROM customers.staff_invites
     WHERE expires_at < now() - interval '30 days';
$$;
REVOKE ALL ON FUNCTION customers.staff_expire() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.staff_expire() TO crm_app;
