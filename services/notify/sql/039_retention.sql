-- Retention of what notify keeps (services/notify/notify_retention.c,
-- docs/notify.md "What notify keeps, and for how long").

-- Durable readers of the "notify" stream (the notes service): each names
-- itself in its ReplayEvents requests, and no event it has not applied is
-- deleted (libshared/cm_outbox.c, cm_outbox_prune).
CREATE TABLE notify.stream_readers (
    name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    seq bigint NOT NULL CHECK (seq >= 0),
    seen_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON notify.stream_readers TO crm_app;

-- The newest event older than the retention, found without reading the
-- events since (published_at grows with seq: the relay numbers in order).
CREATE INDEX outbox_by_published ON notify.outbox (published_at, seq) WHERE seq IS NOT NULL;

-- A sent message stays (it is the customer's history); its text and HTML go
-- after CRM_NOTIFY_BODY_RETAIN_HOURS. body_dropped_at says when.
ALTER TABLE notify.messages ADD COLUMN body_dropped_at timestamptz;

-- The sent messages whose bodies are still kept. Internal (the tick reads it
-- across tenants, then drops bodies in a transaction of each message's
-- tenant): written with the SENT outcome, removed with the body.
CREATE TABLE notify.sent_bodies (
    message_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sent_bodies_by_time ON notify.sent_bodies (sent_at);
GRANT SELECT, INSERT, DELETE ON notify.sent_bodies TO crm_app;
