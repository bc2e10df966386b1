-- What each written row of an import did, kept to revert the import: the
-- customer it created or updated, that customer's version after the row,
-- and for an update the customer as it was before (proto3 JSON, as the
-- customers service answered it) with the fields the row set.
CREATE TABLE exchange.import_rows (
    tenant_id uuid NOT NULL,
    import_id uuid NOT NULL,
    row_no bigint NOT NULL,
    action char(1) NOT NULL,             -- 'c' created, 'u' updated
    customer_id text NOT NULL,
    etag text NOT NULL,                  -- the customer's version after the row
    before jsonb,                        -- 'u': the customer before the row
    mask jsonb NOT NULL DEFAULT '[]',    -- 'u': the fields the row set
    PRIMARY KEY (tenant_id, import_id, row_no)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON exchange.import_rows TO crm_app;
ALTER TABLE exchange.import_rows ENABLE ROW LEVEL SECURITY;
ALTER TABLE exchange.import_rows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON exchange.import_rows
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
