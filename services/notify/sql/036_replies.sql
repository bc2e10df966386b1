-- Replies (docs/notify.md, "Replies"): what customers send back by e-mail or
-- SMS, joined to the message it answers and its conversation, or kept
-- unassigned. A message belongs to a conversation: the id of the first
-- message of it; NULL on a message that starts one (and on those sent before
-- conversations were kept), which is its own conversation.
ALTER TABLE notify.messages ADD COLUMN conversation_id uuid;
CREATE INDEX messages_by_conversation ON notify.messages (tenant_id, conversation_id, created_at);
-- SMS replies join the latest message to the sender's number.
CREATE INDEX messages_by_to ON notify.messages (tenant_id, to_addr, created_at DESC);
ALTER TABLE notify.messages DROP CONSTRAINT messages_status_check;
ALTER TABLE notify.messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('QUEUED', 'SENT', 'FAILED', 'REPLIED'));

CREATE TABLE notify.replies (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    channel text NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
    external_id text NOT NULL,        -- the e-mail's Message-ID, or the SMS provider's id
    customer_id uuid,                 -- NULL: unassigned
    conversation_id uuid,
    message_id uuid,                  -- notify.messages.id it answers
    joined_by text NOT NULL DEFAULT '',
    from_addr text NOT NULL,
    from_name text NOT NULL DEFAULT '',
    to_addr text NOT NULL DEFAULT '',
    subject text NOT NULL DEFAULT '',
    body_text text NOT NULL,
    from_html boolean NOT NULL DEFAULT false,
    attachments jsonb NOT NULL DEFAULT '[]',
    raw bytea NOT NULL,               -- the message as posted (at most 1 MiB)
    stop boolean NOT NULL DEFAULT false,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, channel, external_id)
);
CREATE INDEX replies_by_conversation ON notify.replies (tenant_id, conversation_id, received_at);
CREATE INDEX replies_by_received ON notify.replies (tenant_id, received_at DESC, id DESC);
CREATE INDEX replies_unassigned ON notify.replies (tenant_id, received_at DESC, id DESC)
    WHERE customer_id IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON notify.replies TO crm_app;
ALTER TABLE notify.replies ENABLE ROW LEVEL SECURITY;
ALTER TABLE notify.replies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notify.replies USING
    (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
