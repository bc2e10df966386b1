-- Forms the business defines (services/notes/notes_forms*.c): the customer
-- card and surveys. A form's questions live in its versions; a filling names
-- the version it answered and keeps each answer's question text, so editing a
-- form never changes what was answered.

CREATE TABLE notes.forms (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('CARD', 'SURVEY')),
    version integer NOT NULL DEFAULT 1, -- the current version
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,             -- deleted forms stay for the fillings that answered them
    PRIMARY KEY (tenant_id, id)
);
-- One card form per business.
CREATE UNIQUE INDEX forms_one_card ON notes.forms (tenant_id)
    WHERE purpose = 'CARD' AND deleted_at IS NULL;

CREATE TABLE notes.form_versions (
    tenant_id uuid NOT NULL,
    form_id uuid NOT NULL,
    version integer NOT NULL,
    title text NOT NULL,
    questions jsonb NOT NULL,           -- {"questions": [crm.Question in proto3 JSON]}
    created_by_id text NOT NULL DEFAULT '',
    created_by_name text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, form_id, version),
    FOREIGN KEY (tenant_id, form_id) REFERENCES notes.forms (tenant_id, id)
);

-- A card version or a survey filled. Erasing a customer deletes their rows.
CREATE TABLE notes.form_fillings (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    customer_id uuid NOT NULL,
    form_id uuid NOT NULL,
    form_version integer NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('CARD', 'SURVEY')),
    answers jsonb NOT NULL,             -- {"answers": [crm.FormAnswer in proto3 JSON]}
    filled_by_id text NOT NULL DEFAULT '',
    filled_by_name text NOT NULL DEFAULT '',
    by_customer boolean NOT NULL DEFAULT false,
    filled_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, form_id, form_version)
        REFERENCES notes.form_versions (tenant_id, form_id, version)
);
CREATE INDEX form_fillings_by_customer
    ON notes.form_fillings (tenant_id, customer_id, purpose, filled_at DESC, id DESC);
CREATE INDEX form_fillings_by_form ON notes.form_fillings (tenant_id, form_id, filled_at DESC);

GRANT SELECT, INSERT, UPDATE, DELETE ON notes.forms, notes.form_versions, notes.form_fillings
    TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['forms', 'form_versions', 'form_fillings'] LOOP
        EXECUTE format('ALTER TABLE notes.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE notes.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON notes.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;
