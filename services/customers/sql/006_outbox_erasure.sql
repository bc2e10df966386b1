-- Deleting a customer erases their personal data from the event stream's
-- outbox too (customers_events_erase): past events of the customer keep their
-- type, time, who and which fields changed, but the customer in them is
-- reduced to its id. The column finds those rows. Rows written before this
-- migration have no customer_id and are not erased (see docs/architecture.md).
ALTER TABLE customers.outbox ADD COLUMN customer_id uuid;
CREATE INDEX outbox_by_customer ON customers.outbox (customer_id) WHERE customer_id IS NOT NULL;
