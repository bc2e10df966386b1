-- The header row's language an export job was asked for (docs/exchange.md,
-- "Header row"), shown with the job. Jobs from before it wrote the API's names.
ALTER TABLE exchange.exports
    ADD COLUMN headers text NOT NULL DEFAULT 'api'
    CONSTRAINT exports_headers_known CHECK (headers IN ('api', 'en', 'de', 'pl', 'nb', 'bg'));
