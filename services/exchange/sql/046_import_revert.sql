-- Reverting an import: a job of its own on the import's row, taken by any
-- copy's import threads like the import itself. What it did to each written
-- row is kept on the row (exchange.import_rows).
ALTER TABLE exchange.imports
    ADD COLUMN revert_state smallint NOT NULL DEFAULT 0,   -- crm.ImportState; 0 never asked
    ADD COLUMN revert_total bigint NOT NULL DEFAULT 0,     -- rows the import wrote
    ADD COLUMN revert_done bigint NOT NULL DEFAULT 0,
    ADD COLUMN revert_removed bigint NOT NULL DEFAULT 0,
    ADD COLUMN revert_restored bigint NOT NULL DEFAULT 0,
    ADD COLUMN revert_skipped bigint NOT NULL DEFAULT 0,
    ADD COLUMN revert_owner text,
    ADD COLUMN revert_heartbeat_at timestamptz,
    ADD COLUMN revert_requested_at timestamptz,
    ADD COLUMN revert_principal bytea,                      -- crm.Principal of who asked
    ADD COLUMN revert_request_id text NOT NULL DEFAULT '',
    ADD COLUMN revert_finished_at timestamptz;
CREATE INDEX imports_reverting ON exchange.imports (revert_requested_at)
    WHERE revert_state IN (1, 2);

ALTER TABLE exchange.import_rows
    ADD COLUMN revert char(1),                        -- NULL not yet, 'r' reverted, 's' skipped
    ADD COLUMN revert_reason text NOT NULL DEFAULT '', -- 's': CHANGED, GONE, INVALID
    ADD COLUMN revert_message text NOT NULL DEFAULT '';

-- Takes the oldest revert that waits, or whose copy stopped reporting, for
-- owner (as exchange.claim_import does for imports).
CREATE FUNCTION exchange.claim_revert(p_owner text, p_stale_s integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, exchange AS $$
    UPDATE exchange.imports i SET revert_owner = p_owner, revert_heartbeat_at = now(),
           revert_state = 2
     WHERE (i.tenant_id, i.id) = (
           SELECT w.tenant_id, w.id FROM exchange.imports w
            WHERE w.revert_state IN (1, 2)
              AND (w.revert_heartbeat_at IS NULL
                   OR w.revert_heartbeat_at < now() - make_interval(secs => p_stale_s))
            ORDER BY w.revert_requested_at
            LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING i.tenant_id, i.id
$$;
REVOKE ALL ON FUNCTION exchange.claim_revert(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exchange.claim_revert(text, integer) TO crm_app;
