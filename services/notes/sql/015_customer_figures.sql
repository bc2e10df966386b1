-- The summary's figures kept per customer (notes_history_store_summary reads
-- them instead of aggregating the customer's bookings and orders on every
-- request). Triggers on notes.bookings and notes.orders keep them: every
-- insert, update and delete of a row takes its old contribution out and puts
-- its new one in, in the same transaction, whoever writes the row.
--
-- Counts and sums are added to and taken from. The earliest and latest times
-- cannot be taken back: when a row that held one of them changes or goes, the
-- time is computed again from that customer's rows (rare: a booking no longer
-- attended, an order's first time that moved later).
--
-- A customer's figures are spread over up to eight rows (slot: the writing
-- connection's process id modulo 8) that the summary adds up: a figures row
-- stays locked until its transaction commits, and with one row per customer
-- the writes of one busy customer would commit one after another (a quarter
-- to a tenth of the rate, measured with 32 writers). The triggers are also
-- deferred to the commit, so that a row is locked for the commit only.

-- Counts per booking status, orders, and the first and last times.
CREATE TABLE notes.customer_figures (
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    slot smallint NOT NULL,
    bookings integer NOT NULL DEFAULT 0,       -- every booking, whatever its status
    cancellations integer NOT NULL DEFAULT 0,  -- status CANCELLED
    no_shows integer NOT NULL DEFAULT 0,       -- status NO_SHOW
    attended integer NOT NULL DEFAULT 0,       -- status ATTENDED
    orders integer NOT NULL DEFAULT 0,         -- every order, whatever its status
    first_booking_at timestamptz,  -- min(coalesce(booked_at, details_at)) of the bookings
    last_visit_at timestamptz,     -- max(starts_at) of the ATTENDED bookings
    first_order_at timestamptz,    -- min(coalesce(placed_at, first_seen_at)) of the orders
    PRIMARY KEY (tenant_id, customer_id, slot)
);

-- Money per currency: paid minus refunded, over the orders of that currency
-- that were paid or refunded (paying_orders counts them: a currency whose
-- count is 0 is not shown).
CREATE TABLE notes.customer_spent (
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    slot smallint NOT NULL,
    currency text NOT NULL,
    amount_minor bigint NOT NULL DEFAULT 0,
    paying_orders integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, customer_id, slot, currency)
);

-- Bookings per service, cancelled ones and those without a service not counted.
CREATE TABLE notes.customer_services (
    tenant_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    slot smallint NOT NULL,
    service text NOT NULL,
    booked integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, customer_id, slot, service)
);

-- The summary's next ten bookings: a range of this index, ten rows read.
CREATE INDEX bookings_upcoming ON notes.bookings (tenant_id, customer_id, starts_at, booking_id)
    WHERE status = 'BOOKED';

-- The slot this connection writes a customer's figures to.
CREATE FUNCTION notes.figures_slot() RETURNS smallint
LANGUAGE sql AS $$ SELECT (pg_backend_pid() % 8)::smallint $$;

-- Locks every slot of a customer's figures, in one order, before a time is
-- computed again: a concurrent write of the customer's figures commits first,
-- so the computation (a statement after this one) sees its rows.
CREATE FUNCTION notes.figures_lock(t uuid, c uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM notes.customer_figures WHERE tenant_id = t AND customer_id = c
     ORDER BY slot FOR UPDATE;
END $$;

-- A booking's change, o as it was and n as it is (either NULL: inserted,
-- deleted), both of one customer, taken into that customer's figures.
CREATE FUNCTION notes.figures_take(o notes.bookings, n notes.bookings) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t uuid := coalesce(n.tenant_id, o.tenant_id);
    c uuid := coalesce(n.customer_id, o.customer_id);
    s smallint := notes.figures_slot();
    had boolean := o.booking_id IS NOT NULL;
    has boolean := n.booking_id IS NOT NULL;
    d_all integer := has::integer - had::integer;
    d_cancelled integer := coalesce(n.status = 'CANCELLED', false)::integer
                         - coalesce(o.status = 'CANCELLED', false)::integer;
    d_no_show integer := coalesce(n.status = 'NO_SHOW', false)::integer
                       - coalesce(o.status = 'NO_SHOW', false)::integer;
    d_attended integer := coalesce(n.status = 'ATTENDED', false)::integer
                        - coalesce(o.status = 'ATTENDED', false)::integer;
    old_first timestamptz := coalesce(o.booked_at, o.details_at);
    new_first timestamptz := coalesce(n.booked_at, n.details_at);
    old_visit timestamptz := CASE WHEN o.status = 'ATTENDED' THEN o.starts_at END;
    new_visit timestamptz := CASE WHEN n.status = 'ATTENDED' THEN n.starts_at END;
    old_service text := CASE WHEN had AND o.status <> 'CANCELLED' AND o.service <> ''
                             THEN o.service END;
    new_service text := CASE WHEN has AND n.status <> 'CANCELLED' AND n.service <> ''
                             THEN n.service END;
BEGIN
    IF (d_all, d_cancelled, d_no_show, d_attended) <> (0, 0, 0, 0)
       OR old_first IS DISTINCT FROM new_first OR old_visit IS DISTINCT FROM new_visit THEN
        INSERT INTO notes.customer_figures AS f (tenant_id, customer_id, slot, bookings,
                cancellations, no_shows, attended, first_booking_at, last_visit_at)
        VALUES (t, c, s, d_all, d_cancelled, d_no_show, d_attended, new_first, new_visit)
        ON CONFLICT (tenant_id, customer_id, slot) DO UPDATE SET
            bookings = f.bookings + excluded.bookings,
            cancellations = f.cancellations + excluded.cancellations,
            no_shows = f.no_shows + excluded.no_shows,
            attended = f.attended + excluded.attended,
            first_booking_at = least(f.first_booking_at, excluded.first_booking_at),
            last_visit_at = greatest(f.last_visit_at, excluded.last_visit_at);
    END IF;
    -- The row held the first or the last time and no longer does: that time
    -- again from the customer's rows as they are now, kept in this slot.
    IF old_first < coalesce(new_first, 'infinity')
       AND old_first <= (SELECT min(first_booking_at) FROM notes.customer_figures
                          WHERE tenant_id = t AND customer_id = c) THEN
        PERFORM notes.figures_lock(t, c);
        UPDATE notes.customer_figures SET first_booking_at = CASE WHEN slot = s THEN
               (SELECT min(coalesce(booked_at, details_at)) FROM notes.bookings
                 WHERE tenant_id = t AND customer_id = c) END
         WHERE tenant_id = t AND customer_id = c;
    END IF;
    IF old_visit > coalesce(new_visit, '-infinity')
       AND old_visit >= (SELECT max(last_visit_at) FROM notes.customer_figures
                          WHERE tenant_id = t AND customer_id = c) THEN
        PERFORM notes.figures_lock(t, c);
        UPDATE notes.customer_figures SET last_visit_at = CASE WHEN slot = s THEN
               (SELECT max(starts_at) FROM notes.bookings
                 WHERE tenant_id = t AND customer_id = c AND status = 'ATTENDED') END
         WHERE tenant_id = t AND customer_id = c;
    END IF;
    IF old_service IS DISTINCT FROM new_service THEN
        INSERT INTO notes.customer_services AS v (tenant_id, customer_id, slot, service, booked)
        SELECT t, c, s, x.service, x.d
          FROM (VALUES (old_service, -1), (new_service, 1)) x (service, d)
         WHERE x.service IS NOT NULL
        ON CONFLICT (tenant_id, customer_id, slot, service) DO UPDATE SET
            booked = v.booked + excluded.booked;
    END IF;
END $$;

-- An order's change, as for a booking.
CREATE FUNCTION notes.figures_take(o notes.orders, n notes.orders) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t uuid := coalesce(n.tenant_id, o.tenant_id);
    c uuid := coalesce(n.customer_id, o.customer_id);
    s smallint := notes.figures_slot();
    had boolean := o.order_id IS NOT NULL;
    has boolean := n.order_id IS NOT NULL;
    d_all integer := has::integer - had::integer;
    old_first timestamptz := coalesce(o.placed_at, o.first_seen_at);
    new_first timestamptz := coalesce(n.placed_at, n.first_seen_at);
    old_paying boolean := had AND (o.paid_minor <> 0 OR o.refunded_minor <> 0);
    new_paying boolean := has AND (n.paid_minor <> 0 OR n.refunded_minor <> 0);
BEGIN
    IF d_all <> 0 OR old_first IS DISTINCT FROM new_first THEN
        INSERT INTO notes.customer_figures AS f (tenant_id, customer_id, slot, orders,
                first_order_at)
        VALUES (t, c, s, d_all, new_first)
        ON CONFLICT (tenant_id, customer_id, slot) DO UPDATE SET
            orders = f.orders + excluded.orders,
            first_order_at = least(f.first_order_at, excluded.first_order_at);
    END IF;
    IF old_first < coalesce(new_first, 'infinity')
       AND old_first <= (SELECT min(first_order_at) FROM notes.customer_figures
                          WHERE tenant_id = t AND customer_id = c) THEN
        PERFORM notes.figures_lock(t, c);
        UPDATE notes.customer_figures SET first_order_at = CASE WHEN slot = s THEN
               (SELECT min(coalesce(placed_at, first_seen_at)) FROM notes.orders
                 WHERE tenant_id = t AND customer_id = c) END
         WHERE tenant_id = t AND customer_id = c;
    END IF;
    IF old_paying OR new_paying THEN
        -- What the order was worth taken out, what it is worth put in (one
        -- row when the currency stayed).
        INSERT INTO notes.customer_spent AS m (tenant_id, customer_id, slot, currency,
                amount_minor, paying_orders)
        SELECT t, c, s, x.currency, sum(x.amount), sum(x.n)
          FROM (SELECT o.currency, -(o.paid_minor - o.refunded_minor), -1 WHERE old_paying
                UNION ALL
                SELECT n.currency, n.paid_minor - n.refunded_minor, 1 WHERE new_paying)
               x (currency, amount, n)
         GROUP BY x.currency
        ON CONFLICT (tenant_id, customer_id, slot, currency) DO UPDATE SET
            amount_minor = m.amount_minor + excluded.amount_minor,
            paying_orders = m.paying_orders + excluded.paying_orders;
    END IF;
END $$;

-- A row's change into its customer's figures; one that changed customer
-- leaves one and joins the other.
CREATE FUNCTION notes.figures_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.tenant_id, OLD.customer_id) = (NEW.tenant_id, NEW.customer_id) THEN
        PERFORM notes.figures_take(OLD, NEW);
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM notes.figures_take(OLD, NULL);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM notes.figures_take(NULL, NEW);
    END IF;
    RETURN NULL;
END $$;

-- An update that changed nothing the figures read (a booking moved while
-- still booked, a status that lost to a newer one) does not fire.
CREATE CONSTRAINT TRIGGER figures_rows AFTER INSERT OR DELETE ON notes.bookings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notes.figures_trigger();
CREATE CONSTRAINT TRIGGER figures_changes AFTER UPDATE ON notes.bookings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.tenant_id, OLD.customer_id, OLD.status, OLD.service,
           coalesce(OLD.booked_at, OLD.details_at),
           CASE WHEN OLD.status = 'ATTENDED' THEN OLD.starts_at END)
          IS DISTINCT FROM
          (NEW.tenant_id, NEW.customer_id, NEW.status, NEW.service,
           coalesce(NEW.booked_at, NEW.details_at),
           CASE WHEN NEW.status = 'ATTENDED' THEN NEW.starts_at END))
    EXECUTE FUNCTION notes.figures_trigger();
CREATE CONSTRAINT TRIGGER figures_rows AFTER INSERT OR DELETE ON notes.orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notes.figures_trigger();
CREATE CONSTRAINT TRIGGER figures_changes AFTER UPDATE ON notes.orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.tenant_id, OLD.customer_id, OLD.currency, OLD.paid_minor, OLD.refunded_minor,
           coalesce(OLD.placed_at, OLD.first_seen_at))
          IS DISTINCT FROM
          (NEW.tenant_id, NEW.customer_id, NEW.currency, NEW.paid_minor, NEW.refunded_minor,
           coalesce(NEW.placed_at, NEW.first_seen_at)))
    EXECUTE FUNCTION notes.figures_trigger();

-- The figures of what is there already. The migration's role owns the
-- tables, which force row-level security on their owner too: lifted for the
-- fill (this file is one transaction), so that every tenant's rows are read.
ALTER TABLE notes.bookings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE notes.orders NO FORCE ROW LEVEL SECURITY;
INSERT INTO notes.customer_figures (tenant_id, customer_id, slot, bookings, cancellations,
        no_shows, attended, first_booking_at, last_visit_at)
SELECT tenant_id, customer_id, 0, count(*), count(*) FILTER (WHERE status = 'CANCELLED'),
       count(*) FILTER (WHERE status = 'NO_SHOW'), count(*) FILTER (WHERE status = 'ATTENDED'),
       min(coalesce(booked_at, details_at)), max(starts_at) FILTER (WHERE status = 'ATTENDED')
  FROM notes.bookings GROUP BY tenant_id, customer_id;
INSERT INTO notes.customer_figures AS c (tenant_id, customer_id, slot, orders, first_order_at)
SELECT tenant_id, customer_id, 0, count(*), min(coalesce(placed_at, first_seen_at))
  FROM notes.orders GROUP BY tenant_id, customer_id
ON CONFLICT (tenant_id, customer_id, slot) DO UPDATE SET
    orders = excluded.orders, first_order_at = excluded.first_order_at;
INSERT INTO notes.customer_spent (tenant_id, customer_id, slot, currency, amount_minor,
        paying_orders)
SELECT tenant_id, customer_id, 0, currency, sum(paid_minor - refunded_minor), count(*)
  FROM notes.orders WHERE paid_minor <> 0 OR refunded_minor <> 0
 GROUP BY tenant_id, customer_id, currency;
INSERT INTO notes.customer_services (tenant_id, customer_id, slot, service, booked)
SELECT tenant_id, customer_id, 0, service, count(*)
  FROM notes.bookings WHERE status <> 'CANCELLED' AND service <> ''
 GROUP BY tenant_id, customer_id, service;
ALTER TABLE notes.bookings FORCE ROW LEVEL SECURITY;
ALTER TABLE notes.orders FORCE ROW LEVEL SECURITY;

GRANT SELECT, INSERT, UPDATE, DELETE ON notes.customer_figures, notes.customer_spent,
    notes.customer_services TO crm_app;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['customer_figures', 'customer_spent', 'customer_services'] LOOP
        EXECUTE format('ALTER TABLE notes.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE notes.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_only ON notes.%I USING '
                       '(tenant_id = nullif(current_setting(''app.tenant'', true), '''')::uuid)', t);
    END LOOP;
END $$;
