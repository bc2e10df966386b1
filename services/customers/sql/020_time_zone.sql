-- The business's time zone (Settings.timeZone, docs/access.md): an IANA name
-- PostgreSQL knows (pg_timezone_names; the service checks it before it
-- stores it), "UTC" for every business until it sets its own. A door's
-- check reads its time in it (timestamptz AT TIME ZONE, so daylight saving
-- time never shifts the hours a business entered).
ALTER TABLE customers.tenants ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CHECK (length(time_zone) BETWEEN 1 AND 64);

-- A grant's weekly span may cross midnight (22:00 until 02:00 belongs to the
-- day it starts); a span of no length is still refused.
ALTER TABLE customers.access_grants DROP CONSTRAINT access_grants_until_minute_check;
ALTER TABLE customers.access_grants ADD CONSTRAINT access_grants_until_minute_check
    CHECK (until_minute BETWEEN 0 AND 1440 AND until_minute <> from_minute);
