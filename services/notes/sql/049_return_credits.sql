-- A return to the balance (docs/visits.md): the return commits first with its
-- credit PENDING; the credit is then made through customers.AdjustWallet,
-- idempotent on the return's reference, and marked DONE (or FAILED when
-- customers refuses it for good). A credit left PENDING by a crash or an
-- unanswered call is retried by notes' credit worker from credit_next_at.
ALTER TABLE notes.order_returns
    ADD COLUMN credit text CHECK (credit IN ('PENDING', 'DONE', 'FAILED')),
    ADD COLUMN credit_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN credit_next_at timestamptz,
    ADD COLUMN credit_error text NOT NULL DEFAULT '',
    ADD COLUMN credit_entry_id text NOT NULL DEFAULT '';
CREATE INDEX order_returns_credit_due ON notes.order_returns (credit_next_at)
    WHERE credit = 'PENDING';

-- Due credits of every tenant for the worker, each held for p_lease_s seconds
-- (credit_next_at moves on), so that copies share them and one that dies
-- leaves its credits to be claimed again after the lease.
CREATE FUNCTION notes.claim_return_credits(p_limit integer, p_lease_s integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, notes AS $$
    UPDATE notes.order_returns r
       SET credit_next_at = now() + make_interval(secs => p_lease_s)
      FROM (SELECT d.tenant_id, d.id FROM notes.order_returns d
             WHERE d.credit = 'PENDING' AND d.credit_next_at <= now()
             ORDER BY d.credit_next_at LIMIT p_limit FOR UPDATE SKIP LOCKED) due
     WHERE r.tenant_id = due.tenant_id AND r.id = due.id
 RETURNING r.tenant_id, r.id
$$;
REVOKE ALL ON FUNCTION notes.claim_return_credits(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notes.claim_return_credits(integer, integer) TO crm_app;
