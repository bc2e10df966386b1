-- Self-registration (services/notify/notify_register.c): a business turns it
-- on, a person registers at its public page, and nothing is created until they
-- confirm through the e-mailed link by setting a password.
ALTER TABLE notify.settings ADD COLUMN self_registration boolean NOT NULL DEFAULT false;

-- Each registration asked for. Internal (no tenant policy): the confirmation
-- page finds its row by the token's hash alone, with no tenant yet, and the
-- limit per client address counts across tenants. Every statement names the
-- hash, or the tenant. The row stays after it is used or expires, so the
-- limits count it, and goes once it has expired and left the limits' window
-- (notify_retention.c): a person who never confirmed is not kept.
-- token_hash is NULL for an address that already had an account (a
-- set-password link went instead).
CREATE TABLE notify.registrations (
    id uuid PRIMARY KEY,
    token_hash text UNIQUE,           -- BLAKE2b-256 of the token, hex; the token is never stored
    tenant_id uuid NOT NULL,
    email_key text NOT NULL,          -- the address, lower case (as notify.accounts keeps it)
    email text NOT NULL,              -- as customers normalised it
    first_name text NOT NULL,
    last_name text NOT NULL,
    phone text NOT NULL DEFAULT '',   -- E.164 or ''
    language text NOT NULL,           -- en, de, pl, nb or bg
    consent_email boolean NOT NULL,
    consent_sms boolean NOT NULL,
    client_address text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    customer_id uuid                  -- the customer it made or found, once used
);
CREATE INDEX registrations_by_address ON notify.registrations (client_address, created_at);
CREATE INDEX registrations_by_email ON notify.registrations (tenant_id, email_key, created_at);
CREATE INDEX registrations_due ON notify.registrations (expires_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON notify.registrations TO crm_app;
