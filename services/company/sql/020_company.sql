-- The company service's schema: answers of the EU's VIES service, kept for
-- company_cache_hours (CRM_COMPANY_CACHE_HOURS). VIES answers are public data
-- about a company, the same for every tenant, so the cache has no tenant.
CREATE SCHEMA IF NOT EXISTS company;
GRANT USAGE ON SCHEMA company TO crm_app;

CREATE TABLE company.vat_checks (
    vat_number text PRIMARY KEY,     -- normalised, with its prefix
    valid boolean NOT NULL,
    answer jsonb NOT NULL,           -- the crm.VatLookup in proto3 JSON
    raw text NOT NULL,               -- VIES's answer as it came (evidence)
    checked_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON company.vat_checks TO crm_app;
