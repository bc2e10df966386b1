-- Newsletters (docs/notify.md, "Newsletters"): a campaign to the customers of
-- a group or a tag, its recipients (one row per customer, queued or skipped)
-- and the work of reading them from customers, page by page, from a durable
-- cursor.
CREATE TABLE notify.campaigns (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    name text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
    audience_group text NOT NULL DEFAULT '',
    audience_tag text NOT NULL DEFAULT '',
    subject text NOT NULL DEFAULT '',
    body_text text NOT NULL,
    body_html text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'EXPANDING'
        CHECK (status IN ('EXPANDING', 'SENDING', 'CANCELLED')),
    rate integer NOT NULL CHECK (rate > 0),
    next_due timestamptz NOT NULL DEFAULT now(), -- the throttle: when the next message is due
    cursor text NOT NULL DEFAULT '',             -- customers.ListCustomers' token of the next page
    total integer NOT NULL DEFAULT 0,            -- customers read so far
    skipped_no_consent integer NOT NULL DEFAULT 0,
    skipped_no_address integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    expanded_at timestamptz,
    cancelled_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX campaigns_by_created ON notify.campaigns (tenant_id, created_at DESC, id DESC);

-- One row per customer of a campaign: the unique key makes each customer get
-- at most one message, however often a page is read again.
CREATE TABLE notify.campaign_recipients (
    tenant_id uuid NOT NULL,
    campaign_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    message_id uuid,                  -- notify.messages.id; NULL when skipped
    skipped text CHECK (skipped IN ('NO_CONSENT', 'NO_ADDRESS')),
    cancelled boolean NOT NULL DEFAULT false, -- queued, then cancelled before it was sent
    PRIMARY KEY (tenant_id, campaign_id, customer_id)
);
CREATE INDEX campaign_recipients_by_message ON notify.campaign_recipients (message_id);

-- Internal, like notify.queue: campaigns whose recipients are still being
-- read. A copy's tick claims one (FOR UPDATE SKIP LOCKED) and moves its lease
-- ahead; the row goes when the last page is queued or the campaign cancelled.
CREATE TABLE notify.campaign_work (
    campaign_id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    lease_until timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON notify.campaigns, notify.campaign_recipients,
    notify.campaign_work TO crm_app;
ALTER TABLE notify.campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE notify.campaigns FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notify.campaigns USING
    (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
ALTER TABLE notify.campaign_recipients ENABLE ROW LEVEL SECURITY;
ALTER TABLE notify.campaign_recipients FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notify.campaign_recipients USING
    (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
