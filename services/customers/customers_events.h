/* The customers event stream: events written to the outbox with the change,
 * the relay that numbers and publishes them, and replay for subscribers. */
#ifndef CUSTOMERS_EVENTS_H
#define CUSTOMERS_EVENTS_H

#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "customers.pb-c.h"

struct cm_events_pub;

#define CUSTOMERS_STREAM "customers"

/* Writes a customer.* event into the outbox, in the caller's transaction. */
cm_err_t customers_events_add(cm_db_t *db, const Crm__RequestHeader *hdr, const char *type,
                              const Crm__Customer *customer, Crm__FieldChange **changes,
                              size_t n_changes) CM_MUSTCHECK;

/* A customer was deleted: rewrites their earlier events in the outbox so that
 * the customer in them is only its id and etag, and each change keeps its
 * field but not the values. Replays after this carry no personal data of the
 * customer. In the caller's transaction. */
cm_err_t customers_events_erase(cm_db_t *db, const char *tenant,
                                const char *customer_id) CM_MUSTCHECK;

/* Numbers the unpublished outbox rows (one relay at a time across copies, by
 * an advisory lock) and publishes them. Returns how many were published, or
 * -1 on a database error. */
int customers_events_relay(cm_db_t *db, struct cm_events_pub *pub);

/* Publishes a heartbeat carrying the newest seq, so subscribers notice a lost
 * tail. */
void customers_events_heartbeat(cm_db_t *db, struct cm_events_pub *pub);

/* Fills resp with up to limit published events after after_seq, and the newest seq. */
cm_err_t customers_events_replay(cm_db_t *db, uint64_t after_seq, int limit,
                                 Crm__ReplayEventsResponse *resp) CM_MUSTCHECK;

#endif
