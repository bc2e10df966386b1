/* customers.ImportCustomers: many rows of an imported file written in one
 * transaction (the exchange service's import). */
#ifndef CUSTOMERS_IMPORT_H
#define CUSTOMERS_IMPORT_H

#include "cm_svc.h"

/* Rows one call may carry. */
#define CUSTOMERS_IMPORT_MAX 500

/* customers.ImportCustomers, a write: each row created or updated exactly as
 * CreateCustomer or UpdateCustomer would (checks, identity rules, audit
 * entry, event), in order, so a later row sees what an earlier one wrote.
 * Every check runs before a row writes anything, so a row that fails
 * leaves nothing behind and its neighbours go on; its result carries the
 * status, message and field violations the single call would have
 * answered. A database failure fails the whole call (nothing kept, the
 * caller tries again). With validate_only the same is done inside a
 * savepoint that is rolled back: the same results, nothing kept. */
void customers_import(struct cm_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);

#endif
