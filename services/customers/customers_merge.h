/* Merging two records of one customer (customers.MergeCustomers; docs/api.md,
 * "Merging two records"; docs/architecture.md, "Merging"): the duplicate is
 * folded into the record kept and removed, in one transaction, with the
 * kept one's customer.updated and a customer.merged event. */
#ifndef CUSTOMERS_MERGE_H
#define CUSTOMERS_MERGE_H

#include "cm_svc.h"

/* MergeCustomers: answers crm.MergeCustomersResponse with the kept customer
 * after the merge (with validate_only, as it would be, nothing written).
 * INVALID_ARGUMENT naming duplicateId for a missing or the same id, or naming
 * the field a united value is past its limit in; NOT_FOUND for either
 * unknown; FAILED_PRECONDITION for a stale etag or money in two currencies. */
void customers_merge(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp);

#endif
