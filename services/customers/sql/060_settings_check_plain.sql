-- The settings check of a write (customers_store_tenant_check) is a plain
-- prepared SELECT of the tenant's row at the version a copy kept now, whose
-- empty answer the service itself treats as a serialization failure
-- (cm_db_defer_check): the PL/pgSQL function it replaces cost PostgreSQL two
-- to three times the SELECT's time on every write.
DROP FUNCTION customers.settings_unchanged(uuid, text);
