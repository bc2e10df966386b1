-- Checks of customers' VAT numbers that VIES could not answer (status
-- PENDING on the customer): retried in the background with backoff until VIES
-- answers, across restarts and by whichever copy of the company service
-- claims the row first (company.claim_vat_retries).
CREATE TABLE company.vat_retries (
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    vat_number text NOT NULL,          -- the number to check, normalised
    fill boolean NOT NULL DEFAULT false,
    attempts integer NOT NULL DEFAULT 1,
    last_code text NOT NULL DEFAULT '', -- VIES's code the last time
    principal_name text NOT NULL DEFAULT '', -- who asked first, for the record
    next_at timestamptz NOT NULL,
    lease uuid,                        -- set by the claim; the retry checks it is still its own
    leased_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_id)
);
CREATE INDEX vat_retries_due ON company.vat_retries (next_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON company.vat_retries TO crm_app;

-- A session sees only its tenant's rows. Not FORCEd: the claim below (run by
-- the table's owner) is the one reader of every tenant's rows.
ALTER TABLE company.vat_retries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON company.vat_retries
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);

-- Claims up to p_limit due retries of any tenant for p_lease_s seconds: rows
-- another copy holds (locked now, or leased and not expired) are skipped, so
-- several copies never take one row at once; a copy that dies holding a lease
-- leaves the row to be claimed again when the lease runs out.
CREATE FUNCTION company.claim_vat_retries(p_limit integer, p_lease_s integer)
RETURNS TABLE (tenant_id uuid, customer_id uuid, lease uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, company AS $$
    UPDATE company.vat_retries r
       SET lease = gen_random_uuid(),
           leased_until = now() + make_interval(secs => p_lease_s)
      FROM (SELECT d.tenant_id, d.customer_id FROM company.vat_retries d
             WHERE d.next_at <= now() AND (d.leased_until IS NULL OR d.leased_until <= now())
             ORDER BY d.next_at LIMIT p_limit FOR UPDATE SKIP LOCKED) due
     WHERE r.tenant_id = due.tenant_id AND r.customer_id = due.customer_id
 RETURNING r.tenant_id, r.customer_id, r.lease
$$;
REVOKE ALL ON FUNCTION company.claim_vat_retries(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION company.claim_vat_retries(integer, integer) TO crm_app;
