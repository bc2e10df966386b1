-- A tenant's own message templates (notify_template.c holds the defaults):
-- one per kind and language; deleting the row brings the default back.
CREATE TABLE notify.templates (
    tenant_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('password_link', 'activation', 'welcome')),
    language text NOT NULL CHECK (language IN ('en', 'de', 'pl', 'nb', 'bg')),
    subject text NOT NULL,
    body_text text NOT NULL,
    body_html text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, language)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON notify.templates TO crm_app;
ALTER TABLE notify.templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE notify.templates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notify.templates USING
    (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
