-- A tenant's own sender: the address and name its e-mail comes from and the
-- name its SMS come from. An empty value (or no row) means the installation's
-- (CRM_SMTP_FROM, CRM_SMTP_FROM_NAME, CRM_SMS_FROM).
CREATE TABLE notify.settings (
    tenant_id uuid PRIMARY KEY,
    email_from text NOT NULL DEFAULT '',
    email_from_name text NOT NULL DEFAULT '',
    sms_from text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON notify.settings TO crm_app;
ALTER TABLE notify.settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE notify.settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notify.settings USING
    (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
