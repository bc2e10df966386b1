/* Identity resolution for events from outside systems (the notes service's
 * intake): which customer does the booking system's or the store's record
 * mean? */
#ifndef CUSTOMERS_RESOLVE_H
#define CUSTOMERS_RESOLVE_H

#include "cm_svc.h"

/* customers.ResolveCustomer, a write. Finds the customer by the system's own
 * id, else by the case-folded e-mail, else by the phone normalised to E.164
 * with the tenant's default country; attaches the external id and fills empty
 * fields of a match (never overwriting what is there; a sign-up activates an
 * account that is not disabled); else registers a new customer (source from
 * the request, account INVITED, or ACTIVE on sign-up) and writes
 * customer.created and customer.registered to the outbox. Race-free: identity
 * keys are locked for the transaction, and a unique violation makes cm_svc
 * run the call again, which then finds the winner. */
void customers_resolve(struct cm_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);

/* Its prepare step, outside any transaction: one read of the customer that
 * holds the request's external id. When that customer has already all the
 * request would fill, it answers the call (matchedBy "externalId"): no lock,
 * no transaction, nothing written. Otherwise (a new person, details to add,
 * a bad request, a request under an idempotency key) customers_resolve runs
 * as described above, unless the request is known_only: then the call fails
 * with CM_ERR_NOT_FOUND (CM_ERR_PERMISSION for an unknown tenant) and
 * nothing is done. */
void customers_resolve_prepare(struct cm_call *call, const ProtobufCMessage *req);

/* customers.ResolveKnown, a read (no transaction): customers_resolve_prepare's
 * read for up to CUSTOMERS_RESOLVE_KNOWN_MAX records in one statement. Each
 * record is answered with the customer its external id names when
 * ResolveCustomer would change nothing of it, else "" (ResolveCustomer then
 * answers it alone). An unknown tenant fails the call (CM_ERR_PERMISSION). */
#define CUSTOMERS_RESOLVE_KNOWN_MAX 500
void customers_resolve_known(struct cm_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);

#endif
