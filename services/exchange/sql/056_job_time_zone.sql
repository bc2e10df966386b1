-- The business's time zone when an export or import job was asked for
-- (docs/exchange.md, "Times in a workbook"): a job writes and reads workbook
-- date-time cells on that wall clock, even when it runs later. Jobs from
-- before it read and wrote UTC.
ALTER TABLE exchange.exports
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CONSTRAINT exports_time_zone_length CHECK (length(time_zone) BETWEEN 1 AND 63);
ALTER TABLE exchange.imports
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CONSTRAINT imports_time_zone_length CHECK (length(time_zone) BETWEEN 1 AND 63);
