-- "Forgot your password?": a member's single-use password reset links (only
-- the token's BLAKE2b-256 hash is kept; a newer link replaces the older), and
-- the reset requests counted for the rate limit (docs/api.md, "Staff and
-- sessions").

CREATE TABLE customers.staff_password_resets (
    token_hash bytea PRIMARY KEY,
    tenant_id uuid NOT NULL,
    staff_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    FOREIGN KEY (tenant_id, staff_id) REFERENCES customers.staff (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX staff_password_resets_by_staff
    ON customers.staff_password_resets (tenant_id, staff_id);

-- Internal (no tenant policy): reset requests by e-mail and address, counted
-- before the tenant is known (an unknown e-mail counts too, so the limit says
-- nothing of who is a member). Old rows are deleted by the service's tick.
CREATE TABLE customers.password_reset_requests (
    id bigserial PRIMARY KEY,
    email_key text NOT NULL,
    address text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_reset_requests_by_email ON customers.password_reset_requests (email_key, at);
CREATE INDEX password_reset_requests_by_address
    ON customers.password_reset_requests (address, at);

GRANT SELECT, INSERT, UPDATE, DELETE ON customers.staff_password_resets TO crm_app;
GRANT SELECT, INSERT, DELETE ON customers.password_reset_requests TO crm_app;
GRANT USAGE ON SEQUENCE customers.password_reset_requests_id_seq TO crm_app;

ALTER TABLE customers.staff_password_resets ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON customers.staff_password_resets USING
    (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
ALTER TABLE customers.staff_password_resets FORCE ROW LEVEL SECURITY;

-- The reset link of a token hash, found before the tenant is known.
CREATE FUNCTION customers.staff_password_reset(p_hash bytea)
RETURNS TABLE (tenant_id uuid, tenant_name text, staff_id uuid, email text, name text,
               expires_at timestamptz, used_at timestamptz, status smallint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
    SELECT r.tenant_id, t.name, s.id, s.email, s.name, r.expires_at, r.used_at, s.status
      FROM customers.staff_password_resets r
      JOIN customers.staff s ON s.tenant_id = r.tenant_id AND s.id = r.staff_id
      JOIN customers.tenants t ON t.id = r.tenant_id
     WHERE r.token_hash = p_hash
$$;
REVOKE ALL ON FUNCTION customers.staff_password_reset(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.staff_password_reset(bytea) TO crm_app;

-- Expired sessions, invitations and reset links go (the service's tick).
CREATE OR REPLACE FUNCTION customers.staff_expire()
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
    DELETE FROM customers.staff_sessions
     WHERE absolute_expires_at < now() OR idle_expires_at < now();
    DELETE FROM customers.staff_invites
     WHERE expires_at < now() - interval '30 days';
    DELETE FROM customers.staff_password_resets
     WHERE expires_at < now() - interval '1 day';
$$;
