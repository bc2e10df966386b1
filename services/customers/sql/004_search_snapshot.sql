-- The search service builds its index from a snapshot of every tenant's
-- customers (customers.SnapshotCustomers). Row-level security hides other
-- tenants from crm_app, so the snapshot walks the tenants one by one, setting
-- app.tenant for each; this function lists them (ids only) to crm_app.

CREATE FUNCTION customers.snapshot_tenants(p_from uuid)
RETURNS TABLE (id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, customers AS $$
    SELECT t.id FROM customers.tenants t WHERE p_from IS NULL OR t.id >= p_from ORDER BY t.id
$$;
REVOKE ALL ON FUNCTION customers.snapshot_tenants(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customers.snapshot_tenants(uuid) TO crm_app;
