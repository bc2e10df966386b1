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
-- the writes of one busy customer would commit one after another (a tenth of
-- the rate, measured with 32 writers). The triggers are also deferred to the
-- commit, so that a row is locked for the commit only.

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

-- One booking's contribution (sign +1 for a row as it is now, -1 for a row as
-- it was) to its customer's figures.
CREATE FUNCTION notes.figures_booking(r notes.bookings, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s smallint := notes.figures_slot();
    first_at timestamptz := coalesce(r.booked_at, r.details_at);
    visit_at timestamptz := CASE WHEN r.status = 'ATTENDED' THEN r.starts_at END;
BEGIN
    INSERT INTO notes.customer_figures AS c (tenant_id, customer_id, slot, bookings,
            cancellations, no_shows, attended, first_booking_at, last_visit_at)
    VALUES (r.tenant_id, r.customer_id, s, sign,
            CASE WHEN r.status = 'CANCELLED' THEN sign ELSE 0 END,
            CASE WHEN r.status = 'NO_SHOW' THEN sign ELSE 0 END,
            CASE WHEN r.status = 'ATTENDED' THEN sign ELSE 0 END,
            CASE WHEN sign > 0 THEN first_at END, CASE WHEN sign > 0 THEN visit_at END)
    ON CONFLICT (tenant_id, customer_id, slot) DO UPDATE SET
        bookings = c.bookings + excluded.bookings,
        cancellations = c.cancellations + excluded.cancellations,
        no_shows = c.no_shows + excluded.no_shows,
        attended = c.attended + excluded.attended,
        first_booking_at = least(c.first_booking_at, excluded.first_booking_at),
        last_visit_at = greatest(c.last_visit_at, excluded.last_visit_at);
    -- A row that held the first or the last time is gone or changed: that
    -- time again from the customer's rows as they are now, kept in this slot.
    IF sign < 0 AND first_at <= (SELECT min(first_booking_at) FROM notes.customer_figures
                                  WHERE tenant_id = r.tenant_id AND customer_id = r.customer_id) THEN
        PERFORM notes.figures_lock(r.tenant_id, r.customer_id);
        UPDATE notes.customer_figures SET first_booking_at = CASE WHEN slot = s THEN
               (SELECT min(coalesce(booked_at, details_at)) FROM notes.bookings
                 WHERE tenant_id = r.tenant_id AND customer_id = r.customer_id) END
         WHERE tenant_id = r.tenant_id AND customer_id = r.customer_id;
    END IF;
    IF sign < 0 AND visit_at >= (SELECT max(last_visit_at) FROM notes.customer_figures
                                  WHERE tenant_id = r.tenant_id AND customer_id = r.customer_id) THEN
        PERFORM notes.figures_lock(r.tenant_id, r.customer_id);
        UPDATE notes.customer_figures SET last_visit_at = CASE WHEN slot = s THEN
               (SELECT max(starts_at) FROM notes.bookings
                 WHERE tenant_id = r.tenant_id AND customer_id = r.customer_id
                   AND status = 'ATTENDED') END
         WHERE tenant_id = r.tenant_id AND customer_id = r.customer_id;
    END IF;
    IF r.status <> 'CANCELLED' AND r.service <> '' THEN
        INSERT INTO notes.customer_services AS v (tenant_id, customer_id, slot, service, booked)
        VALUES (r.tenant_id, r.customer_id, s, r.service, sign)
        ON CONFLICT (tenant_id, customer_id, slot, service) DO UPDATE SET booked = v.booked + sign;
    END IF;
END $$;

-- One order's contribution, as for a booking.
CREATE FUNCTION notes.figures_order(r notes.orders, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s smallint := notes.figures_slot();
    first_at timestamptz := coalesce(r.placed_at, r.first_seen_at);
BEGIN
    INSERT INTO notes.customer_figures AS c (tenant_id, customer_id, slot, orders, first_order_at)
    VALUES (r.tenant_id, r.customer_id, s, sign, CASE WHEN sign > 0 THEN first_at END)
    ON CONFLICT (tenant_id, customer_id, slot) DO UPDATE SET
        orders = c.orders + excluded.orders,
        first_order_at = least(c.first_order_at, excluded.first_order_at);
    IF sign < 0 AND first_at <= (SELECT min(first_order_at) FROM notes.customer_figures
                                  WHERE tenant_id = r.tenant_id AND customer_id = r.customer_id) THEN
        PERFORM notes.figures_lock(r.tenant_id, r.customer_id);
        UPDATE notes.customer_figures SET first_order_at = CASE WHEN slot = s THEN
               (SELECT min(coalesce(placed_at, first_seen_at)) FROM notes.orders
                 WHERE tenant_id = r.tenant_id AND customer_id = r.customer_id) END
         WHERE tenant_id = r.tenant_id AND customer_id = r.customer_id;
    END IF;
    IF r.paid_minor <> 0 OR r.refunded_minor <> 0 THEN
        INSERT INTO notes.customer_spent AS m (tenant_id, customer_id, slot, currency,
                amount_minor, paying_orders)
        VALUES (r.tenant_id, r.customer_id, s, r.currency,
                sign * (r.paid_minor - r.refunded_minor), sign)
        ON CONFLICT (tenant_id, customer_id, slot, currency) DO UPDATE SET
            amount_minor = m.amount_minor + excluded.amount_minor,
            paying_orders = m.paying_orders + excluded.paying_orders;
    END IF;
END $$;

-- What the figures read of a row: an update that changed none of it (a
-- booking moved while still booked, a status that lost to a newer one) does
-- not touch them.
CREATE FUNCTION notes.figures_bookings_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND
       (OLD.tenant_id, OLD.customer_id, OLD.status, OLD.service,
        coalesce(OLD.booked_at, OLD.details_at),
        CASE WHEN OLD.status = 'ATTENDED' THEN OLD.starts_at END)
       IS NOT DISTINCT FROM
       (NEW.tenant_id, NEW.customer_id, NEW.status, NEW.service,
        coalesce(NEW.booked_at, NEW.details_at),
        CASE WHEN NEW.status = 'ATTENDED' THEN NEW.starts_at END) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM notes.figures_booking(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM notes.figures_booking(NEW, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION notes.figures_orders_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND
       (OLD.tenant_id, OLD.customer_id, OLD.currency, OLD.paid_minor, OLD.refunded_minor,
        coalesce(OLD.placed_at, OLD.first_seen_at))
       IS NOT DISTINCT FROM
       (NEW.tenant_id, NEW.customer_id, NEW.currency, NEW.paid_minor, NEW.refunded_minor,
        coalesce(NEW.placed_at, NEW.first_seen_at)) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM notes.figures_order(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM notes.figures_order(NEW, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER figures AFTER INSERT OR UPDATE OR DELETE ON notes.bookings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notes.figures_bookings_trigger();
CREATE CONSTRAINT TRIGGER figures AFTER INSERT OR UPDATE OR DELETE ON notes.orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notes.figures_orders_trigger();

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
