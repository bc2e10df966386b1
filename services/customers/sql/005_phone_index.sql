-- Identity resolution (customers.ResolveCustomer) finds the customer with a
-- given E.164 phone number when a booking or an order names no known id or
-- e-mail: without this index that is a scan of the tenant's customers.
CREATE INDEX customers_by_phone ON customers.customers (tenant_id, phone, created_at, id)
    WHERE phone <> '';
