-- Export jobs (POST /v1/exports): an export built in the background by any
-- copy of exchange, its file kept in parts for download until expires_at.

-- A job. A CSV job commits its parts with its progress (rows_written, parts,
-- size and the page token it goes on from) in one transaction, so a copy
-- that stops leaves a job another copy takes up after the last committed
-- part; a workbook cannot be continued (its ZIP directory is written last)
-- and is built again from the start.
CREATE TABLE exchange.exports (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    state smallint NOT NULL DEFAULT 1,       -- crm.ExportState
    format text NOT NULL,                    -- 'csv' or 'xlsx'
    delimiter text NOT NULL DEFAULT '',
    request bytea NOT NULL,                  -- the packed crm.CreateExportRequest
    principal bytea NOT NULL,                -- crm.Principal of who started it
    request_id text NOT NULL,
    filename text NOT NULL,
    content_type text NOT NULL,
    rows_total bigint NOT NULL DEFAULT 0,
    rows_written bigint NOT NULL DEFAULT 0,
    parts integer NOT NULL DEFAULT 0,
    size bigint NOT NULL DEFAULT 0,
    page_token text NOT NULL DEFAULT '',     -- CSV: where the next part starts
    attempts integer NOT NULL DEFAULT 0,     -- times a copy took it
    message text NOT NULL DEFAULT '',
    owner text,                              -- the copy working on it (host:pid:thread)
    heartbeat_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    expires_at timestamptz,                  -- DONE: the file is kept until then
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX exports_waiting ON exchange.exports (created_at) WHERE state IN (1, 2);
CREATE INDEX exports_by_expiry ON exchange.exports (expires_at) WHERE state = 3;

CREATE TABLE exchange.export_parts (
    tenant_id uuid NOT NULL,
    export_id uuid NOT NULL,
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (tenant_id, export_id, seq)
);
ALTER TABLE exchange.export_parts ALTER COLUMN data SET STORAGE EXTERNAL;

GRANT SELECT, INSERT, UPDATE, DELETE ON exchange.exports, exchange.export_parts TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['exports', 'export_parts'] LOOP
        EXECUTE format('ALTER TABLE exchange.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE exchange.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON exchange.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
        -- The owner of the tables reaches every tenant's rows, through the two
        -- functions below only (claiming a job, removing expired files).
        EXECUTE format('CREATE POLICY jobs ON exchange.%I TO %I USING (true)', t, current_user);
    END LOOP;
END $$;

-- Takes the oldest export that waits, or whose copy stopped reporting
-- (heartbeat older than stale_s), for owner; returns its tenant and id (no
-- row when none waits). A job taken p_max_attempts times already fails
-- instead (a job that kills its copy must not kill every copy in turn).
CREATE FUNCTION exchange.claim_export(p_owner text, p_stale_s integer, p_max_attempts integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, exchange AS $$
BEGIN
    UPDATE exchange.exports e SET state = 4, owner = NULL, finished_at = now(),
           message = format('the export stopped %s times before it was done', e.attempts)
     WHERE e.state IN (1, 2) AND e.attempts >= p_max_attempts
       AND e.heartbeat_at < now() - make_interval(secs => p_stale_s);
    RETURN QUERY
    UPDATE exchange.exports e SET owner = p_owner, heartbeat_at = now(), state = 2,
           attempts = e.attempts + 1
     WHERE (e.tenant_id, e.id) = (
           SELECT w.tenant_id, w.id FROM exchange.exports w
            WHERE w.state IN (1, 2)
              AND (w.heartbeat_at IS NULL
                   OR w.heartbeat_at < now() - make_interval(secs => p_stale_s))
            ORDER BY w.created_at
            LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING e.tenant_id, e.id;
END $$;
REVOKE ALL ON FUNCTION exchange.claim_export(text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange.claim_export(text, integer, integer) TO crm_app;

-- Removes the files of exports past expires_at (the job stays, EXPIRED, for
-- a GET to say so: 410) and the parts of failed jobs; jobs 30 days past their
-- end go altogether. Returns the files removed.
CREATE FUNCTION exchange.purge_exports() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, exchange AS $$
DECLARE n bigint;
BEGIN
    UPDATE exchange.exports SET state = 5 WHERE state = 3 AND expires_at <= now();
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM exchange.export_parts p USING exchange.exports e
     WHERE e.tenant_id = p.tenant_id AND e.id = p.export_id AND e.state IN (4, 5);
    DELETE FROM exchange.exports
     WHERE state IN (4, 5) AND finished_at < now() - interval '30 days';
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION exchange.purge_exports() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange.purge_exports() TO crm_app;
