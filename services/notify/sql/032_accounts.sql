-- Customer accounts: the password a customer sets through a link, the links
-- themselves (only a hash of each token is kept), and failed sign-ins per
-- address for the rate limit. The account's status (ACTIVE, DISABLED) is the
-- customers service's; the secrets are here (docs/architecture.md says why).
ALTER TABLE notify.messages ADD COLUMN sealed_link bytea; -- the link of a queued message, sealed

CREATE TABLE notify.accounts (
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    email_key text NOT NULL,          -- the address it was set for, lower case: the sign-in name
    password_hash text NOT NULL,      -- crypto_pwhash_str: Argon2id with its salt and limits
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_id),
    UNIQUE (tenant_id, email_key)
);

-- Internal (no tenant policy): a link is found by its hash alone, from a page
-- that has no tenant yet. Every statement names the hash, or the tenant.
CREATE TABLE notify.password_links (
    token_hash text PRIMARY KEY,      -- BLAKE2b-256 of the token, hex; the token is never stored
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    kind text NOT NULL,               -- password_link, activation, welcome
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    voided_at timestamptz             -- a newer link for the customer voided this one
);
CREATE INDEX password_links_by_customer ON notify.password_links (tenant_id, customer_id);

-- Internal: failed sign-ins per (tenant, address) in the current window.
CREATE TABLE notify.sign_in_failures (
    tenant_id uuid NOT NULL,
    email_key text NOT NULL,
    failures integer NOT NULL DEFAULT 0,
    window_start timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, email_key)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON notify.accounts, notify.password_links,
    notify.sign_in_failures TO crm_app;
ALTER TABLE notify.accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE notify.accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notify.accounts USING
    (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
