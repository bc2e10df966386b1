-- A customer's first booking, last visit and first order read from indexes
-- of their bookings and orders when asked for, no longer kept in the figures
-- rows (015_customer_figures.sql, 016_figures_triggers.sql): the figures rows
-- keep what is added to and taken from (counts, money, services), which any
-- number of connections can do at once in their own slots.
--
-- Why. A first or last time cannot be taken back: when the row that held it
-- changed or went (a visit moved earlier or no longer attended, a booking
-- moved to another customer), 016's trigger computed it again from the
-- customer's rows, and for that locked all eight of the customer's figures
-- rows while its transaction already held the one it wrote at its commit.
-- Two commits doing that for one busy customer waited for each other: a
-- deadlock, found after PostgreSQL's deadlock_timeout (1 s), one batch rolled
-- back and tried again (up to 13 in the intake benchmark of 10,000 events,
-- docs/benchmarks.md). Three ways out were weighed:
--   - the customer's lock taken before the transaction writes its own slot,
--     when a row's old and new values say a computation may follow (an
--     advisory lock in a trigger at the statement): a batch writes one
--     customer's rows with several statements, and one that only counts may
--     come before one that computes; the transaction then waits for the
--     customer's lock while holding rows of the customer's bookings that the
--     lock's holder may write next: a deadlock of another shape, still;
--   - the computation left to the summary, per-slot values marked stale:
--     nothing can clear the mark without the same cross-slot lock, so a busy
--     customer's summary would read their bookings on every request anyway;
--   - no time kept at all: each is the first or last entry of an index of
--     the customer's rows (below), which the summary reads in one index probe
--     each, exact under any concurrency because it reads what has committed,
--     with no lock and no computation at the write. This one.
-- The cost is the indexes' upkeep at the write (two more entries a booking,
-- one an order), which the trigger's saved statements pay back: a booking's
-- change that moves only a time writes no figures row, and no computation,
-- nor the reads that decided on one, runs at any commit (docs/benchmarks.md).

-- firstBookingAt: min(coalesce(booked_at, details_at)) of the customer's bookings.
CREATE INDEX bookings_first ON notes.bookings (tenant_id, customer_id,
    (coalesce(booked_at, details_at)));
-- lastVisitAt: max(starts_at) of the customer's ATTENDED bookings.
CREATE INDEX bookings_visits ON notes.bookings (tenant_id, customer_id, starts_at)
    WHERE status = 'ATTENDED';
-- firstOrderAt: min(coalesce(placed_at, first_seen_at)) of the customer's orders.
CREATE INDEX orders_first ON notes.orders (tenant_id, customer_id,
    (coalesce(placed_at, first_seen_at)));

-- A booking inserted, changed or deleted, into its customer's counts and
-- services; one that changed customer leaves one (first pass) and joins the
-- other (second). Only the connection's own slot is written: no other row of
-- figures is read or locked.
CREATE OR REPLACE FUNCTION notes.figures_bookings() RETURNS trigger
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
    old_service text;
    new_service text;
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
        old_service := CASE WHEN o.status <> 'CANCELLED' AND o.service <> '' THEN o.service END;
        new_service := CASE WHEN n.status <> 'CANCELLED' AND n.service <> '' THEN n.service END;
        IF (d_all, d_cancelled, d_no_show, d_attended) <> (0, 0, 0, 0) THEN
            INSERT INTO notes.customer_figures AS f (tenant_id, customer_id, slot, bookings,
                    cancellations, no_shows, attended)
            VALUES (t, c, s, d_all, d_cancelled, d_no_show, d_attended)
            ON CONFLICT (tenant_id, customer_id, slot) DO UPDATE SET
                bookings = f.bookings + excluded.bookings,
                cancellations = f.cancellations + excluded.cancellations,
                no_shows = f.no_shows + excluded.no_shows,
                attended = f.attended + excluded.attended;
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

-- An order, as a booking: its count and its money.
CREATE OR REPLACE FUNCTION notes.figures_orders() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    o notes.orders;
    n notes.orders;
    passes integer := 1;
    s smallint := notes.figures_slot();
    t uuid;
    c uuid;
    d_all integer;
    old_paying boolean;
    new_paying boolean;
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
        old_paying := coalesce(o.paid_minor <> 0 OR o.refunded_minor <> 0, false);
        new_paying := coalesce(n.paid_minor <> 0 OR n.refunded_minor <> 0, false);
        IF d_all <> 0 THEN
            INSERT INTO notes.customer_figures AS f (tenant_id, customer_id, slot, orders)
            VALUES (t, c, s, d_all)
            ON CONFLICT (tenant_id, customer_id, slot) DO UPDATE SET
                orders = f.orders + excluded.orders;
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

ALTER TABLE notes.customer_figures DROP COLUMN first_booking_at, DROP COLUMN last_visit_at,
    DROP COLUMN first_order_at;
