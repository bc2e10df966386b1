-- A return's credit customers refused for good (FAILED) is tried again by
-- staff (back to PENDING, then DONE or FAILED) or marked SETTLED: staff paid
-- it another way; who and when are kept (docs/visits.md).
ALTER TABLE notes.order_returns
    DROP CONSTRAINT order_returns_credit_check,
    ADD CONSTRAINT order_returns_credit_check
        CHECK (credit IN ('PENDING', 'DONE', 'FAILED', 'SETTLED')),
    ADD COLUMN credit_settled_by text NOT NULL DEFAULT '',
    ADD COLUMN credit_settled_at timestamptz;
