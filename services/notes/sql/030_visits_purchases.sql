-- Visit parameters, their presets, and staff returns and cancellations of
-- purchases (docs/visits.md; services/notes/notes_visits*.c,
-- notes_purchases.c), and the notes service's own event stream.

-- The parameters staff attached to one booking (notes.bookings): a list of
-- {name, value} pairs and a remark. version is the ETag: 0 before the first
-- write, one more with each.
CREATE TABLE notes.visit_parameters (
    tenant_id uuid NOT NULL,
    source text NOT NULL,
    booking_id text NOT NULL,
    customer_id uuid NOT NULL,
    parameters jsonb NOT NULL DEFAULT '[]',
    remark text NOT NULL DEFAULT '',
    version bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, source, booking_id)
);
CREATE INDEX visit_parameters_by_customer ON notes.visit_parameters (tenant_id, customer_id);

-- Named lists of parameter names the staff form starts from; at most 100 a
-- tenant (notes_visits.c), names unique in the tenant whatever their case.
CREATE TABLE notes.visit_presets (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    parameter_names jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX visit_presets_name ON notes.visit_presets (tenant_id, lower(name));

-- Staff returns and cancellations of an order (notes.orders), one row each.
-- reference ("purchase.returned:<id>") is what the purchase.* event carries
-- and what a later order.refunded of the store names to be taken as the same
-- refund (docs/visits.md, "The store's later events").
CREATE TABLE notes.order_returns (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    source text NOT NULL,
    order_id text NOT NULL,
    customer_id uuid NOT NULL,
    action text NOT NULL,              -- CANCEL, RETURN
    amount_minor bigint NOT NULL DEFAULT 0,
    currency text NOT NULL,
    items jsonb NOT NULL DEFAULT '[]', -- [{"index", "quantity"}] of a return of chosen items
    reason text NOT NULL DEFAULT '',
    to_balance boolean NOT NULL DEFAULT false,
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    reference text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX order_returns_by_order ON notes.order_returns (tenant_id, source, order_id);
CREATE UNIQUE INDEX order_returns_reference ON notes.order_returns (tenant_id, reference);

-- Per item of an order, the quantity staff returned so far (index = the
-- item's position in items).
ALTER TABLE notes.orders ADD COLUMN returned_qty integer[] NOT NULL DEFAULT '{}';

-- purchase.cancelled and purchase.returned go on the "notes" stream, whose
-- outbox and relay 026_orders_bot.sql made.

GRANT SELECT, INSERT, UPDATE, DELETE ON notes.visit_parameters, notes.visit_presets,
    notes.order_returns TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['visit_parameters', 'visit_presets', 'order_returns'] LOOP
        EXECUTE format('ALTER TABLE notes.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE notes.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON notes.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;
