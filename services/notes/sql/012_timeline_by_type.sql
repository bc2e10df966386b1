-- The summary looks up a customer's registration (type customer.created) among
-- what can be thousands of timeline rows of that customer.
CREATE INDEX timeline_by_type ON notes.timeline (tenant_id, customer_id, type, occurred_at);
