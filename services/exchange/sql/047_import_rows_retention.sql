-- What an import's rows did is kept to revert it, for a time
-- (CRM_EXCHANGE_IMPORT_REVERT_DAYS after the import ended): it holds
-- customers' data as they were, so it does not stay for ever. Runs as the
-- owner of the tables, across tenants, like exchange.purge_files; never
-- while a revert of the import waits or runs.
DO $$
BEGIN
    EXECUTE format('CREATE POLICY purge ON exchange.import_rows TO %I USING (true)', current_user);
END $$;
CREATE FUNCTION exchange.purge_import_rows(p_days integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, exchange AS $$
DECLARE n bigint;
BEGIN
    DELETE FROM exchange.import_rows r USING exchange.imports i
     WHERE i.tenant_id = r.tenant_id AND i.id = r.import_id
       AND i.finished_at < now() - make_interval(days => p_days)
       AND i.revert_state NOT IN (1, 2);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION exchange.purge_import_rows(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange.purge_import_rows(integer) TO crm_app;
