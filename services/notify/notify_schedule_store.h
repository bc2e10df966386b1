/* The SQL of messages sent later (notify_schedule.h). */
#ifndef NOTIFY_SCHEDULE_STORE_H
#define NOTIFY_SCHEDULE_STORE_H

#include <stdbool.h>
#include "cm_db.h"
#include "cm_err.h"
#include "notify_store.h"

/* Takes up to max held queue rows that are due (any tenant; FOR UPDATE SKIP
 * LOCKED) and moves them lease_ms ahead, so they come back if the release
 * never happens. One statement, committed at once. Sets *n. */
cm_err_t notify_schedule_store_claim(cm_db_t *db, int max, long lease_ms, struct notify_claim *out,
                                     int *n) CM_MUSTCHECK;

/* Cancels the session tenant's message id while it is SCHEDULED and its row
 * held, in the caller's transaction: *found says whether the message exists,
 * *cancelled whether it was cancelled now (false: it is being sent or ended). */
cm_err_t notify_schedule_store_cancel(cm_db_t *db, const char *id, const char *reason, bool *found,
                                      bool *cancelled) CM_MUSTCHECK;

/* Hands the scheduled message id to the senders (row no longer held, due
 * now; status QUEUED), addressed to to and to_name (the customer's address
 * now; NULL keeps the stored one), in the caller's transaction; *released
 * false when it was cancelled or released before. */
cm_err_t notify_schedule_store_release(cm_db_t *db, const char *id, const char *to,
                                       const char *to_name, bool *released) CM_MUSTCHECK;

/* Ends the scheduled message id with status ("FAILED" or "CANCELLED") and
 * reason instead of sending it, in one transaction of tenant; a FAILED one
 * writes message.failed. *ended false when it was cancelled or released
 * before. */
cm_err_t notify_schedule_store_end(cm_db_t *db, const char *tenant, const char *id,
                                   const char *status, const char *reason,
                                   bool *ended) CM_MUSTCHECK;

#endif
