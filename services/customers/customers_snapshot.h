/* customers.SnapshotCustomers: every tenant's customers page by page, for the
 * search service's index (docs/search.md). Internal: no tenant in the header. */
#ifndef CUSTOMERS_SNAPSHOT_H
#define CUSTOMERS_SNAPSHOT_H

#include "cm_svc.h"

/* Most customers in one page (also the default). */
#define CUSTOMERS_SNAPSHOT_MAX 5000

/* The handler (a crm.SnapshotCustomersRequest in, a crm.SnapshotCustomersResponse out). */
void customers_snapshot(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp);

#endif
