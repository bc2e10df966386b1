/* The changes between two versions of a customer, and their record: the audit
 * entry and the outbox events of one write, in the caller's transaction.
 * Shared by the handlers and identity resolution. */
#ifndef CUSTOMERS_CHANGES_H
#define CUSTOMERS_CHANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "cm_svc.h"
#include "customers.pb-c.h"

struct customers_changes {
    Crm__FieldChange **items; // owned
    size_t n;
    json_t *json; // owned: [{field, oldValue, newValue}], for the audit
};

/* Fills ch with the fields that differ from a to b (either may be NULL),
 * leaving out id, createdAt, updatedAt and etag. Release with
 * customers_changes_release. */
void customers_changes_compute(struct customers_changes *ch, const Crm__Customer *a,
                               const Crm__Customer *b);
void customers_changes_release(struct customers_changes *ch);

/* Writes the audit entry (action: created, updated, deleted) and one outbox
 * event per type of types (NULL-terminated), each carrying customer and ch.
 * Returns false with the call failed on a database error. */
bool customers_changes_record(struct cm_call *call, const char *customer_id, const char *action,
                              const char *const *types, const Crm__Customer *customer,
                              const struct customers_changes *ch);

#endif
