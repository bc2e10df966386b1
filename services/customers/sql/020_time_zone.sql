-- The business's time zone (Settings.timeZone, docs/access.md): an IANA name
-- PostgreSQL knows (pg_timezone_names; the service checks it before it
-- stores it), "UTC" for every business until it sets its own. A door's
-- check reads its time in it (timestamptz AT TIME ZONE, so daylight saving
-- time never shifts the hours a business entered).
ALTER TABLE customers.tenants ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CHECK (length(time_zone) BETWEEN 1 AND 64);

-- A grant's weekly span may cross midnight (22:00 until 02:00 belongs to the
-- day it starts); a span of no length is still refused.
-- The old check compares two columns, so PostgreSQL named it by the table
-- alone: it is found by what it says.
DO $$
DECLARE c name;
BEGIN
    SELECT conname INTO STRICT c FROM pg_constraint
     WHERE conrelid = 'customers.access_grants'::regclass AND contype = 'c'
       AND pg_get_constraintdef(oid) LIKE '%until_minute > from_minute%';
    EXECUTE format('ALTER TABLE customers.access_grants DROP CONSTRAINT %I', c);
END $$;
ALTER TABLE customers.access_grants ADD CONSTRAINT access_grants_span
    CHECK (until_minute BETWEEN 0 AND 1440 AND until_minute <> from_minute);
