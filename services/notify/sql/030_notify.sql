-- The notify service's schema: every message sent to a customer (content,
-- Message-ID and fate), the queue of those still to send and the event outbox
-- of the "notify" stream. Tables are owned by the
-- migrating role; the service runs SET ROLE crm_app, so row-level security
-- applies to the tenant's tables.
CREATE SCHEMA IF NOT EXISTS notify;
GRANT USAGE ON SCHEMA notify TO crm_app;

-- One row per message, written when it is queued and updated with its fate.
CREATE TABLE notify.messages (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    customer_id uuid,
    channel text NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
    kind text NOT NULL DEFAULT 'message',
    to_addr text NOT NULL,
    to_name text NOT NULL DEFAULT '',
    from_addr text NOT NULL,
    from_name text NOT NULL DEFAULT '',
    subject text NOT NULL DEFAULT '',
    body_text text NOT NULL,
    body_html text NOT NULL DEFAULT '',
    message_id text NOT NULL UNIQUE,  -- RFC 5322 Message-ID, without <>; every attempt sends it
    request_key text,                 -- the envelope's idempotency key: one message per key
    status text NOT NULL DEFAULT 'QUEUED' CHECK (status IN ('QUEUED', 'SENT', 'FAILED')),
    attempts integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    permanent boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    failed_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, request_key)
);
CREATE INDEX messages_by_customer ON notify.messages (tenant_id, customer_id, created_at DESC, id DESC);

-- The messages still to send. Internal, like the outbox: the senders claim
-- across tenants (FOR UPDATE SKIP LOCKED, so copies never take the same
-- row), and a claim moves due_at a lease ahead: a sender that dies leaves the
-- row to be claimed again when the lease ends. Rows go when the message is
-- sent or failed for good.
CREATE TABLE notify.queue (
    message_id uuid PRIMARY KEY,      -- notify.messages.id
    tenant_id uuid NOT NULL,
    due_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0
);
CREATE INDEX queue_by_due ON notify.queue (due_at);

-- Transactional outbox of the "notify" stream (cm_outbox.h): message.queued,
-- message.sent, message.failed. Internal: the relay reads across tenants.
CREATE TABLE notify.outbox (
    id bigserial PRIMARY KEY,
    event bytea NOT NULL,
    seq bigint UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    customer_id uuid
);
CREATE INDEX outbox_unpublished ON notify.outbox (id) WHERE seq IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON notify.messages, notify.queue, notify.outbox TO crm_app;
GRANT USAGE ON SEQUENCE notify.outbox_id_seq TO crm_app;

ALTER TABLE notify.messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE notify.messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notify.messages USING
    (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
