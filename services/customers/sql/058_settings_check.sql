-- A copy of the customers service keeps each tenant's settings as it last
-- read them (customers_tenant_cache.c) and, when a write uses them, queues
-- this check with the write's first statement instead of reading them again:
-- when the row is no longer the version kept (its xmin), the statement fails
-- as a serialization failure, the transaction with it, and the write runs
-- again reading the settings afresh. A missing row fails it the same way.
CREATE FUNCTION customers.settings_unchanged(p_tenant uuid, p_version text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM customers.tenants t
                    WHERE t.id = p_tenant AND t.xmin::text = p_version) THEN
        RAISE EXCEPTION 'the tenant''s settings changed since this copy read them'
            USING ERRCODE = 'serialization_failure';
    END IF;
END
$$;
GRANT EXECUTE ON FUNCTION customers.settings_unchanged(uuid, text) TO crm_app;
