-- The customer's history (services/notes/notes_history*.c): events taken in
-- from the booking system and the store, the state of their bookings and
-- orders, the timeline rows, and how far the customers stream was applied.
-- 010_notes.sql (notes and tasks) runs first and creates the schema; this file
-- does not depend on its tables (the timeline reads them when they exist).

CREATE SCHEMA IF NOT EXISTS notes;
GRANT USAGE ON SCHEMA notes TO crm_app;

-- One row per (tenant, source, event id): inserted first in the intake's
-- transaction, so a second delivery finds it and has no effect.
CREATE TABLE notes.intake (
    tenant_id uuid NOT NULL,
    source text NOT NULL,
    event_id text NOT NULL,
    type text NOT NULL,
    customer_id uuid,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, source, event_id)
);

-- The state of each booking, whatever order its events arrived in.
CREATE TABLE notes.bookings (
    tenant_id uuid NOT NULL,
    source text NOT NULL,
    booking_id text NOT NULL,
    customer_id uuid NOT NULL,
    service text NOT NULL DEFAULT '',
    staff text NOT NULL DEFAULT '',
    starts_at timestamptz NOT NULL,
    ends_at timestamptz,
    status text NOT NULL,             -- BOOKED, CANCELLED, ATTENDED, NO_SHOW
    status_at timestamptz NOT NULL,   -- occurredAt of the event that set status
    details_at timestamptz NOT NULL,  -- occurredAt of the event the details are from
    booked_at timestamptz,            -- occurredAt of booking.created, once seen
    PRIMARY KEY (tenant_id, source, booking_id)
);
CREATE INDEX bookings_by_customer ON notes.bookings (tenant_id, customer_id, starts_at);

CREATE TABLE notes.orders (
    tenant_id uuid NOT NULL,
    source text NOT NULL,
    order_id text NOT NULL,
    customer_id uuid NOT NULL,
    status text NOT NULL,             -- PLACED, PAID, REFUNDED, CANCELLED
    status_at timestamptz NOT NULL,
    details_at timestamptz NOT NULL,
    placed_at timestamptz,            -- occurredAt of order.placed, once seen
    first_seen_at timestamptz NOT NULL,
    total_minor bigint NOT NULL,
    currency text NOT NULL,
    items jsonb NOT NULL DEFAULT '[]',
    paid_minor bigint NOT NULL DEFAULT 0,     -- the total, once order.paid arrived
    refunded_minor bigint NOT NULL DEFAULT 0, -- the sum of order.refunded amounts
    PRIMARY KEY (tenant_id, source, order_id)
);
CREATE INDEX orders_by_customer ON notes.orders (tenant_id, customer_id);

-- Everything that happened to a customer, newest first by (occurred_at, id).
-- Notes and tasks are not copied here: the timeline reads them where they live.
CREATE TABLE notes.timeline (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    customer_id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    kind text NOT NULL,          -- CUSTOMER, BOOKING, ORDER, MESSAGE, CONSENT, IMPORT
    type text NOT NULL,          -- booking.cancelled, customer.updated, ...
    source text NOT NULL DEFAULT '',
    actor text NOT NULL DEFAULT '',
    event_id text NOT NULL DEFAULT '',
    details jsonb NOT NULL DEFAULT '{}', -- crm.TimelineEntry fields in proto3 JSON
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX timeline_by_customer
    ON notes.timeline (tenant_id, customer_id, occurred_at DESC, id DESC);

-- How far a followed stream has been applied. Internal (no tenant): advanced
-- in the same transaction as the rows an event makes, only from seq-1 to seq,
-- so each event has its effect once whichever copy applies it.
CREATE TABLE notes.stream_cursor (
    stream text PRIMARY KEY,
    last_seq bigint NOT NULL
);
INSERT INTO notes.stream_cursor (stream, last_seq) VALUES ('customers', 0);

GRANT SELECT, INSERT, UPDATE, DELETE ON notes.intake, notes.bookings, notes.orders,
    notes.timeline TO crm_app;
GRANT SELECT, UPDATE ON notes.stream_cursor TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['intake', 'bookings', 'orders', 'timeline'] LOOP
        EXECUTE format('ALTER TABLE notes.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE notes.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON notes.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;
