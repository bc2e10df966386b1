-- "Forgot your password?" answers before anything is looked up: the request
-- only records the ask (the same work for a member's e-mail and a stranger's),
-- and the service's tick later finds the member, makes the link and has it
-- e-mailed (docs/api.md, "Staff and sessions"). An ask is claimed by one copy
-- (handled), and carries what the tick needs: the business named and the
-- language of the e-mail. Rows recorded before this migration were handled.

ALTER TABLE customers.password_reset_requests
    ADD COLUMN handled boolean NOT NULL DEFAULT true,
    ADD COLUMN tenant text NOT NULL DEFAULT '',
    ADD COLUMN language text NOT NULL DEFAULT '',
    ADD COLUMN attempts smallint NOT NULL DEFAULT 0;
ALTER TABLE customers.password_reset_requests ALTER COLUMN handled SET DEFAULT false;
CREATE INDEX password_reset_requests_pending
    ON customers.password_reset_requests (id) WHERE NOT handled;

GRANT UPDATE ON customers.password_reset_requests TO crm_app;
