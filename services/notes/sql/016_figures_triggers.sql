-- The summary's figures (015_customer_figures.sql) kept by cheaper triggers:
-- the same figures by the same rules, with less work per row written.
--
-- Measured on the intake (docs/benchmarks.md): the triggers of 015 cost a
-- quarter of the intake's rate (these a fifth), almost all of it in
-- PostgreSQL running their statements: each row's trigger called a second
-- function (a query of its own), and two of their conditions held a
-- subquery that PostgreSQL planned again on every call (a custom plan,
-- cheaper for each set of values than the generic one). Here one function a table does the work itself, every
-- condition is a plain expression, and a query runs only when its answer is
-- needed; the WHEN clauses went too (PostgreSQL reads a trigger's WHEN from
-- its stored text at every statement that writes the table), a row whose
-- change the figures do not read leaving at the function's first tests.
--
-- Folding the figures into the intake's one statement instead (its upsert
-- returning the row as it was, through a column recording it) was measured
-- too and cost more than these triggers: PostgreSQL sets up every part of a
-- statement on each execution, whether the part has work to do or not.

DROP TRIGGER figures_rows ON notes.bookings;
DROP TRIGGER figures_changes ON notes.bookings;
DROP TRIGGER figures_rows ON notes.orders;
DROP TRIGGER figures_changes ON notes.orders;
DROP FUNCTION notes.figures_trigger();
DROP FUNCTION notes.figures_take(notes.bookings, notes.bookings);
DROP FUNCTION notes.figures_take(notes.orders, notes.orders);
DROP FUNCTION notes.figures_lock(uuid, uuid);

-- A booking inserted, changed or deleted, into its customer's figures; one
-- that changed customer leaves one (first pass) and joins the other (second).
CREATE FUNCTION notes.figures_bookings() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o notes.bookings;  -- the row as it was, for this pass's customer (NULL: not theirs)
    n notes.bookings;  -- the row as it is, for this pass's customer (NULL: not theirs)
    passes integer := 1;
    s smallint := notes.figures_slot();
    t uuid;
    c uuid;
    d_all integer;
    d_cancelled integer;
    d_no_show integer;
    d_attended integer;
    old_first timestamptz;
    new_first timestamptz;
    old_visit timestamptz;
    new_visit timestamptz;
    old_service text;
    new_service text;
    kept timestamptz;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o := OLD;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF (o.tenant_id, o.customer_id) <> (n.tenant_id, n.customer_id) THEN
            passes := 2;
        END IF;
    END IF;
    FOR pass IN 1..passes LOOP
        IF passes = 2 AND pass = 1 THEN
            n := NULL;
        ELSIF passes = 2 THEN
            o := NULL;
            n := NEW;
        END IF;
        t := coalesce(n.tenant_id, o.tenant_id);
        c := coalesce(n.customer_id, o.customer_id);
        d_all := (n.booking_id IS NOT NULL)::integer - (o.booking_id IS NOT NULL)::integer;
        d_cancelled := coalesce(n.status = 'CANCELLED', false)::integer
                     - coalesce(o.status = 'CANCELLED', false)::integer;
        d_no_show := coalesce(n.status = 'NO_SHOW', false)::integer
                   - coalesce(o.status = 'NO_SHOW', false)::integer;
        d_attended := coalesce(n.status = 'ATTENDED', false)::integer
                    - coalesce(o.status = 'ATTENDED', false)::integer;
        old_first := coalesce(o.booked_at, o.details_at);
        new_first := coalesce(n.booked_at, n.details_at);
        old_visit := CASE WHEN o.status = 'ATTENDED' THEN o.starts_at END;
        new_visit := CASE WHEN n.status = 'ATTENDED' THEN n.starts_at END;
        old_service := CASE WHEN o.status <> 'CANCELLED' AND o.service <> '' THEN o.service END;
        new_service := CASE WHEN n.status <> 'CANCELLED' AND n.service <> '' THEN n.service END;
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
        -- The row held the customer's first booking or last visit and no
        -- longer does: that time again from the customer's rows, kept in
        -- this slot. Every slot is locked first, in one order, so that a
        -- concurrent write of the customer's figures commits before the
        -- rows are read (each statement here sees what committed before it).
        IF old_first < coalesce(new_first, 'infinity') THEN
            SELECT min(first_booking_at) INTO kept FROM notes.customer_figures
             WHERE tenant_id = t AND customer_id = c;
            IF old_first <= kept THEN
                PERFORM 1 FROM notes.customer_figures WHERE tenant_id = t AND customer_id = c
                 ORDER BY slot FOR UPDATE;
                UPDATE notes.customer_figures SET first_booking_at = CASE WHEN slot = s THEN
                       (SELECT min(coalesce(booked_at, details_at)) FROM notes.bookings
                         WHERE tenant_id = t AND customer_id = c) END
                 WHERE tenant_id = t AND customer_id = c;
            END IF;
        END IF;
        IF old_visit > coalesce(new_visit, '-infinity') THEN
            SELECT max(last_visit_at) INTO kept FROM notes.customer_figures
             WHERE tenant_id = t AND customer_id = c;
            IF old_visit >= kept THEN
                PERFORM 1 FROM notes.customer_figures WHERE tenant_id = t AND customer_id = c
                 ORDER BY slot FOR UPDATE;
                UPDATE notes.customer_figures SET last_visit_at = CASE WHEN slot = s THEN
                       (SELECT max(starts_at) FROM notes.bookings
                         WHERE tenant_id = t AND customer_id = c AND status = 'ATTENDED') END
                 WHERE tenant_id = t AND customer_id = c;
            END IF;
        END IF;
        IF old_service IS DISTINCT FROM new_service THEN
            INSERT INTO notes.customer_services AS v (tenant_id, customer_id, slot, service,
                    booked)
            SELECT t, c, s, x.service, x.d
              FROM (VALUES (old_service, -1), (new_service, 1)) x (service, d)
             WHERE x.service IS NOT NULL
            ON CONFLICT (tenant_id, customer_id, slot, service) DO UPDATE SET
                booked = v.booked + excluded.booked;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- An order, as a booking.
CREATE FUNCTION notes.figures_orders() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o notes.orders;
    n notes.orders;
    passes integer := 1;
    s smallint := notes.figures_slot();
    t uuid;
    c uuid;
    d_all integer;
    old_first timestamptz;
    new_first timestamptz;
    old_paying boolean;
    new_paying boolean;
    kept timestamptz;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        o := OLD;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        n := NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF (o.tenant_id, o.customer_id) <> (n.tenant_id, n.customer_id) THEN
            passes := 2;
        END IF;
    END IF;
    FOR pass IN 1..passes LOOP
        IF passes = 2 AND pass = 1 THEN
            n := NULL;
        ELSIF passes = 2 THEN
            o := NULL;
            n := NEW;
        END IF;
        t := coalesce(n.tenant_id, o.tenant_id);
        c := coalesce(n.customer_id, o.customer_id);
        d_all := (n.order_id IS NOT NULL)::integer - (o.order_id IS NOT NULL)::integer;
        old_first := coalesce(o.placed_at, o.first_seen_at);
        new_first := coalesce(n.placed_at, n.first_seen_at);
        old_paying := coalesce(o.paid_minor <> 0 OR o.refunded_minor <> 0, false);
        new_paying := coalesce(n.paid_minor <> 0 OR n.refunded_minor <> 0, false);
        IF d_all <> 0 OR old_first IS DISTINCT FROM new_first THEN
            INSERT INTO notes.customer_figures AS f (tenant_id, customer_id, slot, orders,
                    first_order_at)
            VALUES (t, c, s, d_all, new_first)
            ON CONFLICT (tenant_id, customer_id, slot) DO UPDATE SET
                orders = f.orders + excluded.orders,
                first_order_at = least(f.first_order_at, excluded.first_order_at);
        END IF;
        IF old_first < coalesce(new_first, 'infinity') THEN
            SELECT min(first_order_at) INTO kept FROM notes.customer_figures
             WHERE tenant_id = t AND customer_id = c;
            IF old_first <= kept THEN
                PERFORM 1 FROM notes.customer_figures WHERE tenant_id = t AND customer_id = c
                 ORDER BY slot FOR UPDATE;
                UPDATE notes.customer_figures SET first_order_at = CASE WHEN slot = s THEN
                       (SELECT min(coalesce(placed_at, first_seen_at)) FROM notes.orders
                         WHERE tenant_id = t AND customer_id = c) END
                 WHERE tenant_id = t AND customer_id = c;
            END IF;
        END IF;
        -- What the order was worth taken out, what it is worth put in (one
        -- row when the currency stayed); nothing when neither changed.
        IF (old_paying OR new_paying)
           AND (old_paying, o.currency, o.paid_minor - o.refunded_minor)
               IS DISTINCT FROM (new_paying, n.currency, n.paid_minor - n.refunded_minor) THEN
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
    END LOOP;
    RETURN NULL;
END $$;

-- Deferred to the commit, as before, so that a figures row is locked for the
-- commit only.
CREATE CONSTRAINT TRIGGER figures_rows AFTER INSERT OR UPDATE OR DELETE ON notes.bookings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notes.figures_bookings();
CREATE CONSTRAINT TRIGGER figures_rows AFTER INSERT OR UPDATE OR DELETE ON notes.orders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION notes.figures_orders();
