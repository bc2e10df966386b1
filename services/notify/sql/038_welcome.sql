-- Welcome on auto-registration (services/notify/notify_welcome.c): notify
-- follows the customers stream (cm_follow) from the cursor kept here, and a
-- customer.registered event of a tenant that turned the welcome on leaves a
-- work row; a copy's tick claims it and the welcome is queued once (its
-- idempotency key is the event's id) before the row goes.

-- How far the customers stream has been applied. Internal (no tenant):
-- advanced only from seq-1 to seq, in the transaction that applies the event.
CREATE TABLE notify.stream_cursor (
    stream text PRIMARY KEY,
    last_seq bigint NOT NULL
);
INSERT INTO notify.stream_cursor (stream, last_seq) VALUES ('customers', 0);
GRANT SELECT, UPDATE ON notify.stream_cursor TO crm_app;

-- The tenant's choice: welcome_since is when the welcome was turned on (NULL:
-- off); registrations before it get none, so turning it on does not greet
-- every customer the booking system ever brought.
ALTER TABLE notify.settings
    ADD COLUMN welcome_channel text NOT NULL DEFAULT 'EMAIL' CHECK (welcome_channel IN ('EMAIL', 'SMS')),
    ADD COLUMN welcome_since timestamptz;

-- Registrations to welcome. Internal: the tick claims across tenants (FOR
-- UPDATE SKIP LOCKED, a lease); the row goes once the welcome is queued or
-- cannot be (no address, customer gone).
CREATE TABLE notify.welcome_work (
    tenant_id uuid NOT NULL,
    event_id text NOT NULL,
    customer_id uuid NOT NULL,
    channel text NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
    lease_until timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX welcome_work_due ON notify.welcome_work (lease_until);
GRANT SELECT, INSERT, UPDATE, DELETE ON notify.welcome_work TO crm_app;
