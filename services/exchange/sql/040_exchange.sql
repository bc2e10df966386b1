-- The exchange service's schema: files it has built (an export as a
-- workbook), kept in parts so that any copy of the service can serve any
-- part, until they expire (CRM_EXCHANGE_FILE_HOURS). Tables are owned by the
-- migrating role; the service runs as crm_app, so row-level security applies.
CREATE SCHEMA IF NOT EXISTS exchange;
GRANT USAGE ON SCHEMA exchange TO crm_app;

-- A file, written after all its parts: a row here means the file is whole.
CREATE TABLE exchange.files (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    content_type text NOT NULL,
    filename text NOT NULL,
    rows bigint NOT NULL,
    parts integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX files_by_expiry ON exchange.files (expires_at);
CREATE UNIQUE INDEX files_by_id ON exchange.files (id);

CREATE TABLE exchange.file_parts (
    tenant_id uuid NOT NULL,
    file_id uuid NOT NULL,
    seq integer NOT NULL,
    data bytea NOT NULL,
    expires_at timestamptz NOT NULL, -- the file's (parts of a file never finished go too)
    PRIMARY KEY (tenant_id, file_id, seq)
);
ALTER TABLE exchange.file_parts ALTER COLUMN data SET STORAGE EXTERNAL; -- already compressed

GRANT SELECT, INSERT, UPDATE, DELETE ON exchange.files, exchange.file_parts TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['files', 'file_parts'] LOOP
        EXECUTE format('ALTER TABLE exchange.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE exchange.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON exchange.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;

-- Deletes expired files and parts (parts of a file never finished too) in
-- every tenant, for the service's periodic purge, which has no tenant. It runs
-- as the owner, whom only expired rows are visible to (FORCE ROW LEVEL
-- SECURITY holds the owner too); it reveals nothing but a count.
DO $$
BEGIN
    EXECUTE format('CREATE POLICY purge ON exchange.files TO %I USING (expires_at <= now())',
                   current_user);
    EXECUTE format('CREATE POLICY purge ON exchange.file_parts TO %I USING (expires_at <= now())',
                   current_user);
END $$;
CREATE FUNCTION exchange.purge_files() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, exchange AS $$
DECLARE n bigint;
BEGIN
    DELETE FROM exchange.files WHERE expires_at <= now();
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM exchange.file_parts WHERE expires_at <= now();
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION exchange.purge_files() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange.purge_files() TO crm_app;
