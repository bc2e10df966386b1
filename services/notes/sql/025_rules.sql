-- Automation rules (services/notes/notes_rules*.c, docs/rules.md): when a
-- trigger happens to a customer and the conditions hold, the actions run.
--
-- Every event that reaches a customer's story makes a timeline row (the
-- intake's bookings and orders, the customers stream's changes). A trigger on
-- notes.timeline records the rows that start an enabled rule in
-- notes.rule_events, one row per event whatever the number of rules, in the
-- transaction that records the event: only when the event is, and once (the
-- timeline row is written once per event). The rules' worker threads then,
-- after the commit and outside the intake's path, turn each into a run per
-- rule (notes.rule_runs), claim the runs and act.

CREATE TABLE notes.rules (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    name text NOT NULL,
    enabled boolean NOT NULL,
    trigger text NOT NULL,         -- CUSTOMER_CREATED, ORDER_PLACED, ... (crm.RuleTrigger less its prefix)
    trigger_tag text NOT NULL DEFAULT '',
    definition bytea NOT NULL,     -- a packed crm.Rule holding its conditions and actions
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_error text NOT NULL DEFAULT '',
    last_error_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX rules_by_name ON notes.rules (tenant_id, lower(name));
CREATE INDEX rules_by_trigger ON notes.rules (tenant_id, trigger) WHERE enabled;

-- One row per (rule, timeline row that started it), made from notes.rule_events:
-- the claim that makes a rule act at most once per event, whichever copy of
-- notes runs it and however often it is retried. It is also the rule's history.
CREATE TABLE notes.rule_runs (
    tenant_id uuid NOT NULL,
    rule_id uuid NOT NULL,
    timeline_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    event_id text NOT NULL DEFAULT '',
    event_type text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}', -- TAG_ADDED: the row's change of the tags, nothing else
    status text NOT NULL DEFAULT 'PENDING', -- PENDING, DONE, SKIPPED, FAILED
    result text NOT NULL DEFAULT '',          -- what it did, in English
    outcomes jsonb NOT NULL DEFAULT '[]',     -- the same as [{"code", "value"}] (docs/rules.md)
    attempts integer NOT NULL DEFAULT 0,
    next_at timestamptz NOT NULL DEFAULT now(),
    lease uuid,
    leased_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    done_at timestamptz,
    PRIMARY KEY (tenant_id, rule_id, timeline_id)
);
CREATE INDEX rule_runs_due ON notes.rule_runs (next_at) WHERE status = 'PENDING';
CREATE INDEX rule_runs_by_rule ON notes.rule_runs (tenant_id, rule_id, created_at DESC, timeline_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON notes.rules, notes.rule_runs TO crm_app;

-- Not FORCEd: the expansion below (run by the table's owner) reads every
-- tenant's rules; the services' role sees only its tenant's.
ALTER TABLE notes.rules ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notes.rules
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);
-- Not FORCEd: the claim below (run by the table's owner) is the one reader of
-- every tenant's rows.
ALTER TABLE notes.rule_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notes.rule_runs
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);

-- The trigger a timeline row's type starts (NULL for none).
CREATE FUNCTION notes.rule_trigger_of(t text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE t
        WHEN 'customer.created' THEN 'CUSTOMER_CREATED'
        WHEN 'order.placed' THEN 'ORDER_PLACED'
        WHEN 'order.paid' THEN 'ORDER_PAID'
        WHEN 'booking.created' THEN 'BOOKING_MADE'
        WHEN 'booking.attended' THEN 'VISIT_COMPLETED'
        WHEN 'booking.no_show' THEN 'NO_SHOW'
        WHEN 'customer.updated' THEN 'TAG_ADDED'
    END
$$;

-- The tags a customer.updated row's changes added (lower case), none for
-- another change. The values are customers' JSON; one that does not read
-- adds nothing rather than failing the event's transaction.
CREATE FUNCTION notes.rule_tags_added(details jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    c jsonb;
    added text[] := '{}';
BEGIN
    FOR c IN SELECT x FROM jsonb_array_elements(coalesce(details -> 'changes', '[]')) x
              WHERE x ->> 'field' = 'tags' LOOP
        BEGIN
            added := added || ARRAY(
                SELECT lower(t) FROM jsonb_array_elements_text(
                    coalesce(nullif(c ->> 'newValue', ''), '[]')::jsonb) t
                EXCEPT
                SELECT lower(t) FROM jsonb_array_elements_text(
                    coalesce(nullif(c ->> 'oldValue', ''), '[]')::jsonb) t);
        EXCEPTION WHEN others THEN
            NULL;
        END;
    END LOOP;
    RETURN added;
END $$;

-- The events that start rules, until the worker turns them into runs.
CREATE TABLE notes.rule_events (
    tenant_id uuid NOT NULL,
    timeline_id uuid NOT NULL,
    customer_id uuid NOT NULL,
    event_id text NOT NULL DEFAULT '',
    event_type text NOT NULL,
    trigger text NOT NULL,
    tags_added text[] NOT NULL DEFAULT '{}', -- TAG_ADDED: the tags added (lower case)
    details jsonb NOT NULL DEFAULT '{}',      -- TAG_ADDED: the row's change of the tags only
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, timeline_id)
);
GRANT SELECT, INSERT, DELETE ON notes.rule_events TO crm_app;
ALTER TABLE notes.rule_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_only ON notes.rule_events
    USING (tenant_id = nullif(current_setting('app.tenant', true), '')::uuid);

-- A timeline row that starts an enabled rule of its business is recorded.
-- Rows a rule's own action made (the actor "rule: <name>") start none: rules
-- never start each other, so they cannot loop. A customer.updated row counts
-- only when its changes added a tag. The row's other changes are not copied:
-- they may be personal data, which the timeline erases with the customer.
CREATE FUNCTION notes.rule_enqueue() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    trg text := notes.rule_trigger_of(NEW.type);
    added text[] := '{}';
BEGIN
    IF trg IS NULL OR NEW.actor LIKE 'rule: %' THEN
        RETURN NULL;
    END IF;
    IF trg = 'TAG_ADDED'
       AND NOT coalesce(NEW.details -> 'changes' @> '[{"field": "tags"}]', false) THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM notes.rules r
                    WHERE r.tenant_id = NEW.tenant_id AND r.trigger = trg AND r.enabled) THEN
        RETURN NULL;
    END IF;
    IF trg = 'TAG_ADDED' THEN
        added := notes.rule_tags_added(NEW.details);
        IF cardinality(added) = 0 THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO notes.rule_events (tenant_id, timeline_id, customer_id, event_id, event_type,
                                   trigger, tags_added, details)
    VALUES (NEW.tenant_id, NEW.id, NEW.customer_id, NEW.event_id, NEW.type, trg, added,
            CASE WHEN trg = 'TAG_ADDED' THEN jsonb_build_object('changes',
                (SELECT jsonb_agg(x) FROM jsonb_array_elements(NEW.details -> 'changes') x
                  WHERE x ->> 'field' = 'tags')) ELSE '{}' END)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER timeline_rules AFTER INSERT ON notes.timeline
    FOR EACH ROW EXECUTE FUNCTION notes.rule_enqueue();

-- Turns up to p_limit recorded events of any tenant into a run for each
-- enabled rule of their trigger (and tag) that existed when the event came,
-- and forgets them, in one statement: two copies never take the same event
-- (SKIP LOCKED), and a run is inserted once (the primary key) whoever does it.
-- Returns the events taken.
CREATE FUNCTION notes.expand_rule_events(p_limit integer) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, notes AS $$
    WITH ev AS (
        DELETE FROM notes.rule_events e
         USING (SELECT d.tenant_id, d.timeline_id FROM notes.rule_events d
                 LIMIT p_limit FOR UPDATE SKIP LOCKED) due
         WHERE e.tenant_id = due.tenant_id AND e.timeline_id = due.timeline_id
        RETURNING e.*),
    runs AS (
        INSERT INTO notes.rule_runs (tenant_id, rule_id, timeline_id, customer_id, event_id,
                                     event_type, details, created_at)
        SELECT ev.tenant_id, r.id, ev.timeline_id, ev.customer_id, ev.event_id, ev.event_type,
               ev.details, ev.created_at
          FROM ev JOIN notes.rules r
            ON r.tenant_id = ev.tenant_id AND r.trigger = ev.trigger AND r.enabled
           AND r.created_at <= ev.created_at
         WHERE ev.trigger <> 'TAG_ADDED' OR r.trigger_tag = ''
            OR lower(r.trigger_tag) = ANY (ev.tags_added)
        ON CONFLICT DO NOTHING)
    SELECT count(*)::integer FROM ev
$$;
REVOKE ALL ON FUNCTION notes.expand_rule_events(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notes.expand_rule_events(integer) TO crm_app;

-- Claims up to p_limit due runs of any tenant for p_lease_s seconds (as
-- company.claim_vat_retries): rows another copy holds are skipped, and a copy
-- that dies holding a lease leaves the run to be claimed again when it ends.
CREATE FUNCTION notes.claim_rule_runs(p_limit integer, p_lease_s integer)
RETURNS TABLE (tenant_id uuid, rule_id uuid, timeline_id uuid, lease uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, notes AS $$
    UPDATE notes.rule_runs r
       SET lease = gen_random_uuid(),
           leased_until = now() + make_interval(secs => p_lease_s)
      FROM (SELECT d.tenant_id, d.rule_id, d.timeline_id FROM notes.rule_runs d
             WHERE d.status = 'PENDING' AND d.next_at <= now()
               AND (d.leased_until IS NULL OR d.leased_until <= now())
             ORDER BY d.next_at LIMIT p_limit FOR UPDATE SKIP LOCKED) due
     WHERE r.tenant_id = due.tenant_id AND r.rule_id = due.rule_id
       AND r.timeline_id = due.timeline_id
 RETURNING r.tenant_id, r.rule_id, r.timeline_id, r.lease
$$;
REVOKE ALL ON FUNCTION notes.claim_rule_runs(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notes.claim_rule_runs(integer, integer) TO crm_app;
