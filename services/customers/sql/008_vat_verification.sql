-- The tenant's own EU VAT number (Settings.vatNumber): the company service
-- sends it to VIES as the requester, so that every check of a customer's
-- number gets a consultation number as evidence. A customer's VAT status and
-- its evidence live in the customer's document (company.vatCheck).
ALTER TABLE customers.tenants ADD COLUMN vat_number text NOT NULL DEFAULT '';
