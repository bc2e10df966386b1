-- Member states VIES reported unavailable (MS_UNAVAILABLE), shared by every
-- copy of the company service: a copy that meets the error backs the state
-- off here, every copy reads the table each second, and a copy whose
-- check-status says the state is back deletes the row. VIES's availability is
-- the same for every tenant, so the table has no tenant.
CREATE TABLE company.state_backoff (
    cc text PRIMARY KEY,                 -- the member state, "DE", "EL", "XI"
    seconds integer NOT NULL,            -- the current wait: 30 at first, doubling to 600
    until timestamptz NOT NULL,          -- asked again then (or when check-status says so)
    updated_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON company.state_backoff TO crm_app;
