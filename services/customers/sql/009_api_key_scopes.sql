-- API keys with scopes and their last use (docs/api.md, "Roles and scopes").
-- A key made from now on has the scopes an administrator chose and role
-- SERVICE (4); keys made before keep their role and empty scopes (the role
-- alone decides). last_used_at is set when the gateway checks the key (its
-- cache holds the answer for 30 s), at most once a minute per key.
ALTER TABLE customers.api_keys
    ADD COLUMN scopes text[] NOT NULL DEFAULT '{}',
    ADD COLUMN last_used_at timestamptz,
    ADD COLUMN created_by text NOT NULL DEFAULT '';

-- The service lists, makes and revokes a tenant's keys; it never reads a
-- key's hash (only customers.authenticate compares it).
GRANT SELECT (id, tenant_id, name, role, scopes, created_at, revoked_at, last_used_at, created_by),
      INSERT (id, tenant_id, name, role, key_hash, scopes, created_by),
      UPDATE (revoked_at)
    ON customers.api_keys TO crm_app;
ALTER TABLE customers.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers.api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON customers.api_keys
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);

DROP FUNCTION customers.authenticate(bytea);
CREATE FUNCTION customers.authenticate(p_hash bytea)
RETURNS TABLE (tenant_id uuid, key_id text, name text, role smallint, scopes text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
    SELECT k.tenant_id, k.id, k.name, k.role, k.scopes
      FROM customers.api_keys k
     WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION customers.authenticate(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.authenticate(bytea) TO crm_app;

-- Marks a key used now, unless it was marked less than a minute ago (then
-- nothing is written).
CREATE FUNCTION customers.touch_api_key(p_id text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
    UPDATE customers.api_keys SET last_used_at = now()
     WHERE id = p_id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
$$;
REVOKE ALL ON FUNCTION customers.touch_api_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.touch_api_key(text) TO crm_app;
