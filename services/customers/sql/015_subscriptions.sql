-- Subscriptions and packages sold to a customer (docs/api.md, "Subscriptions"):
-- the plans the business defines, the subscriptions sold from them (what
-- each was sold for, its dates and visits left, kept as cancelled rather than
-- deleted), the visits used by booking reference (one per reference, given
-- back once), and every change staff make to a subscription.

CREATE TABLE customers.sub_plans (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    tenant_id uuid NOT NULL REFERENCES customers.tenants (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name <> ''),
    kind smallint NOT NULL CHECK (kind IN (1, 2)),         -- crm.PlanKind
    period_unit smallint NOT NULL CHECK (period_unit IN (0, 1, 2)), -- crm.PeriodUnit
    period_count integer NOT NULL CHECK (period_count >= 0),
    visits integer NOT NULL CHECK (visits >= 0),           -- 0: unlimited
    price bigint NOT NULL CHECK (price >= 0),
    currency text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE customers.subscriptions (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    plan_id uuid NOT NULL REFERENCES customers.sub_plans (id),
    plan_name text NOT NULL,
    kind smallint NOT NULL,
    starts_on date NOT NULL,
    ends_on date CHECK (ends_on >= starts_on),             -- NULL: no expiry
    visits_total integer NOT NULL CHECK (visits_total >= 0), -- 0: unlimited
    visits_left integer NOT NULL CHECK (visits_left >= 0 AND visits_left <= visits_total),
    price bigint NOT NULL,
    currency text NOT NULL,
    paid_from_balance boolean NOT NULL DEFAULT false,
    note text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz,
    cancelled_by text,
    cancel_reason text,
    refunded bigint NOT NULL DEFAULT 0,
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers.customers (tenant_id, id)
        ON DELETE CASCADE
);
CREATE INDEX subscriptions_by_customer ON customers.subscriptions (tenant_id, customer_id, seq DESC);

-- One visit per booking reference; undone_at set when the booking was cancelled.
CREATE TABLE customers.subscription_visits (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    subscription_id uuid NOT NULL REFERENCES customers.subscriptions (id) ON DELETE CASCADE,
    customer_id uuid NOT NULL,
    reference text NOT NULL CHECK (reference <> ''),
    used_at timestamptz NOT NULL DEFAULT now(),
    used_by text NOT NULL DEFAULT '',
    undone_at timestamptz,
    undone_by text,
    UNIQUE (tenant_id, reference)
);

-- What staff changed on a subscription: a row per field.
CREATE TABLE customers.subscription_changes (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    subscription_id uuid NOT NULL REFERENCES customers.subscriptions (id) ON DELETE CASCADE,
    field text NOT NULL,
    old_value text NOT NULL,
    new_value text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL DEFAULT ''
);
CREATE INDEX subscription_changes_by_sub ON customers.subscription_changes (subscription_id, id);

GRANT SELECT, INSERT, UPDATE, DELETE ON customers.sub_plans TO crm_app;
GRANT SELECT, INSERT, UPDATE ON customers.subscriptions, customers.subscription_visits TO crm_app;
GRANT SELECT, INSERT ON customers.subscription_changes TO crm_app;
GRANT USAGE ON SEQUENCE customers.sub_plans_seq_seq, customers.subscriptions_seq_seq,
    customers.subscription_visits_id_seq, customers.subscription_changes_id_seq TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sub_plans', 'subscriptions', 'subscription_visits',
                             'subscription_changes'] LOOP
        EXECUTE format('ALTER TABLE customers.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE customers.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON customers.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;
