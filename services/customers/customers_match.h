/* Matching rows of an imported file to customers (the exchange service's
 * import). */
#ifndef CUSTOMERS_MATCH_H
#define CUSTOMERS_MATCH_H

#include "cm_svc.h"

/* Keys one call may match. */
#define CUSTOMERS_MATCH_MAX 1000

/* customers.MatchCustomers, a read: for each key the customer an external id
 * names, else the one with the case-folded e-mail, else the oldest with the
 * phone in E.164 (the tenant's default country for local numbers), whole; a
 * key that cannot be used (an e-mail or phone that is not valid) says why in
 * its match's problem and matches nothing by it. */
void customers_match(struct cm_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);

#endif
