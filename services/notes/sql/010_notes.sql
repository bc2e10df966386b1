-- The notes service's schema, part one: private notes on customers, tasks,
-- the secret addresses of task calendars, and idempotency keys. Tables are
-- owned by the migrating role; services SET ROLE crm_app (created by the
-- customers migration), so row-level security applies to them.

CREATE SCHEMA IF NOT EXISTS notes;
GRANT USAGE ON SCHEMA notes TO crm_app;

-- Replies of writes, by idempotency key (cm_svc reads and writes it). Internal:
-- every statement names its tenant.
CREATE TABLE notes.idempotency (
    tenant_id uuid NOT NULL,
    key text NOT NULL,
    method text NOT NULL,
    reply_header bytea,
    reply_body bytea,
    request_hash text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_by_time ON notes.idempotency (created_at);

-- A note belongs to a customer of the customers service (checked over the bus
-- when written; no foreign key across services). Deleting a note deletes the row.
CREATE TABLE notes.notes (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    customer_id uuid NOT NULL,
    body text NOT NULL,
    author_id text NOT NULL DEFAULT '',
    author_name text NOT NULL DEFAULT '',
    edited_by_id text NOT NULL DEFAULT '',
    edited_by_name text NOT NULL DEFAULT '',
    pinned boolean NOT NULL DEFAULT false,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX notes_by_customer ON notes.notes (tenant_id, customer_id, pinned DESC,
                                               created_at DESC, id DESC);

-- A task; due_at is a point in time, or for an all-day task (due_all_day) the
-- start of its day in UTC. customer_name is the customer's name when the task
-- was written, for lists and the calendar.
CREATE TABLE notes.tasks (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    customer_id uuid,
    customer_name text NOT NULL DEFAULT '',
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    due_at timestamptz,
    due_all_day boolean NOT NULL DEFAULT false,
    assignee_id text NOT NULL DEFAULT '',
    assignee_name text NOT NULL DEFAULT '',
    done boolean NOT NULL DEFAULT false,
    done_at timestamptz,
    created_by_id text NOT NULL DEFAULT '',
    created_by_name text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    CHECK (done = (done_at IS NOT NULL)),
    CHECK (NOT due_all_day OR due_at IS NOT NULL)
);
CREATE INDEX tasks_by_assignee ON notes.tasks (tenant_id, assignee_id, done, due_at, id);
CREATE INDEX tasks_by_customer ON notes.tasks (tenant_id, customer_id, due_at, id);
CREATE INDEX tasks_open_by_due ON notes.tasks (tenant_id, due_at, id) WHERE NOT done;

-- Secret calendar addresses: only the BLAKE2b hash of the token is kept. A
-- request for a feed carries no tenant; it sets app.feed_token (the hash in
-- hex) and the policy by_token lets it read just that row, which names the tenant.
CREATE TABLE notes.task_feeds (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    assignee_id text NOT NULL,
    assignee_name text NOT NULL DEFAULT '',
    component text NOT NULL DEFAULT 'event',
    base_url text NOT NULL DEFAULT '',
    created_by_id text NOT NULL DEFAULT '',
    created_by_name text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON notes.idempotency, notes.notes, notes.tasks,
    notes.task_feeds TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['notes', 'tasks', 'task_feeds'] LOOP
        EXECUTE format('ALTER TABLE notes.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE notes.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON notes.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;
CREATE POLICY by_token ON notes.task_feeds FOR SELECT
    USING (token_hash = decode(nullif(current_setting('app.feed_token', true), ''), 'hex'));
