-- Deleting a customer also blanks the old and new values in its audit trail,
-- keeping who changed which field and when: the service needs to update that
-- one column.
GRANT UPDATE (changes) ON customers.audit TO crm_app;
