-- A customer's files (services/notes/notes_files*.c): the bytes live here, so
-- any copy of the service serves any file; and the business's terms and
-- conditions, which a customer signs on a tablet (the signature is a file of
-- kind SIGNATURE, naming the version and the hash of the text signed).

CREATE TABLE notes.files (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    customer_id uuid NOT NULL,
    filename text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    kind text NOT NULL DEFAULT 'FILE', -- FILE, SIGNATURE
    terms_version integer NOT NULL DEFAULT 0,
    terms_sha256 text NOT NULL DEFAULT '',
    created_by_id text NOT NULL DEFAULT '',
    created_by_name text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    data bytea NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- The bytes are read only by GetFileContent; keep them out of line.
ALTER TABLE notes.files ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX files_by_customer ON notes.files (tenant_id, customer_id, created_at DESC, id DESC);

-- One row per tenant: the current terms. version goes up by one with each
-- change of the text.
CREATE TABLE notes.terms (
    tenant_id uuid PRIMARY KEY,
    text text NOT NULL,
    version integer NOT NULL,
    sha256 text NOT NULL,
    updated_by_id text NOT NULL DEFAULT '',
    updated_by_name text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON notes.files, notes.terms TO crm_app;

ALTER TABLE notes.files ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes.files FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notes.files
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
ALTER TABLE notes.terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes.terms FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notes.terms
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
