-- The exchange service's imports: uploaded files (in parts, as they came),
-- the import jobs, and what each failed row was and why.

CREATE TABLE exchange.upload_parts (
    tenant_id uuid NOT NULL,
    upload_id uuid NOT NULL,
    seq integer NOT NULL,
    data bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, upload_id, seq)
);
ALTER TABLE exchange.upload_parts ALTER COLUMN data SET STORAGE EXTERNAL;

-- A job. rows_read and the counts move together, a batch at a time, in the
-- transaction that records the batch's failed rows: a copy that stops starts
-- again after the last batch so recorded (customers' idempotency keys make
-- the writes of a batch done twice take effect once).
CREATE TABLE exchange.imports (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    upload_id uuid NOT NULL,
    parts integer NOT NULL,
    size bigint NOT NULL,
    state smallint NOT NULL DEFAULT 1,       -- crm.ImportState
    mode smallint NOT NULL,                  -- crm.ImportMode
    dry_run boolean NOT NULL DEFAULT false,
    delimiter text NOT NULL DEFAULT '',
    encoding text NOT NULL DEFAULT '',
    mapping text NOT NULL DEFAULT '',
    principal bytea NOT NULL,                -- crm.Principal of who started it
    request_id text NOT NULL,
    headers jsonb NOT NULL DEFAULT '[]',
    columns jsonb NOT NULL DEFAULT '[]',
    unknown_columns jsonb NOT NULL DEFAULT '[]',
    rows_total bigint NOT NULL DEFAULT 0,
    rows_read bigint NOT NULL DEFAULT 0,
    created bigint NOT NULL DEFAULT 0,
    updated bigint NOT NULL DEFAULT 0,
    unchanged bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    message text NOT NULL DEFAULT '',
    owner text,                              -- the copy working on it (host:pid)
    heartbeat_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX imports_waiting ON exchange.imports (created_at) WHERE state IN (1, 2);

-- Failed rows: the file's fields as read (a JSON array) and the reason.
CREATE TABLE exchange.import_errors (
    tenant_id uuid NOT NULL,
    import_id uuid NOT NULL,
    row_no bigint NOT NULL,
    column_name text NOT NULL DEFAULT '',
    reason text NOT NULL,
    message text NOT NULL,
    fields jsonb NOT NULL,
    PRIMARY KEY (tenant_id, import_id, row_no)
);

-- Identity keys seen in a file (external id, e-mail, phone), for duplicates
-- within the file: the first row with a key wins.
CREATE TABLE exchange.import_keys (
    tenant_id uuid NOT NULL,
    import_id uuid NOT NULL,
    key text NOT NULL,
    row_no bigint NOT NULL,
    PRIMARY KEY (tenant_id, import_id, key)
);

-- What a row was going to do, written before it is done: a batch done again
-- after a restart does the same (the first decision wins), so a row created
-- before the stop is created again under the same idempotency key (and the
-- customers service answers what it answered then) instead of being found
-- and "updated". etag: the customer's before an update, to tell unchanged.
CREATE TABLE exchange.import_plans (
    tenant_id uuid NOT NULL,
    import_id uuid NOT NULL,
    row_no bigint NOT NULL,
    action char(1) NOT NULL,               -- 'c' create, 'u' update
    customer_id text NOT NULL DEFAULT '',
    etag text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, import_id, row_no)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON exchange.upload_parts, exchange.imports,
    exchange.import_errors, exchange.import_keys, exchange.import_plans TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['upload_parts', 'imports', 'import_errors', 'import_keys',
                             'import_plans'] LOOP
        EXECUTE format('ALTER TABLE exchange.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE exchange.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON exchange.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;

-- Takes the oldest import that waits, or whose copy stopped reporting
-- (heartbeat older than stale_s), for owner; returns its tenant and id (no
-- row when none waits). Across tenants, so it runs as the owner of the
-- tables, to whom only this function's query reaches them.
DO $$
BEGIN
    EXECUTE format('CREATE POLICY claim ON exchange.imports TO %I USING (true)', current_user);
END $$;
CREATE FUNCTION exchange.claim_import(p_owner text, p_stale_s integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, exchange AS $$
    UPDATE exchange.imports i SET owner = p_owner, heartbeat_at = now(), state = 2
     WHERE (i.tenant_id, i.id) = (
           SELECT w.tenant_id, w.id FROM exchange.imports w
            WHERE w.state IN (1, 2)
              AND (w.heartbeat_at IS NULL OR w.heartbeat_at < now() - make_interval(secs => p_stale_s))
            ORDER BY w.created_at
            LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING i.tenant_id, i.id
$$;
REVOKE ALL ON FUNCTION exchange.claim_import(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange.claim_import(text, integer) TO crm_app;

-- Uploads never turned into an import (the client went away) go after a day,
-- with the files past their time (exchange.purge_files, run now and then).
DO $$
BEGIN
    EXECUTE format('CREATE POLICY purge ON exchange.upload_parts TO %I '
                   'USING (created_at < now() - interval ''1 day'')', current_user);
END $$;
CREATE OR REPLACE FUNCTION exchange.purge_files() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, exchange AS $$
DECLARE n bigint;
BEGIN
    DELETE FROM exchange.files WHERE expires_at <= now();
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM exchange.file_parts WHERE expires_at <= now();
    DELETE FROM exchange.upload_parts WHERE created_at < now() - interval '1 day';
    RETURN n;
END $$;
