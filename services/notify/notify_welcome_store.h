/* Welcome on auto-registration: its SQL (notify_welcome.c). The work rows
 * are internal (no row-level security); each statement names the tenant. */
#ifndef NOTIFY_WELCOME_STORE_H
#define NOTIFY_WELCOME_STORE_H

#include <stdbool.h>
#include "cm_db.h"
#include "cm_err.h"

#define NOTIFY_WELCOME_EVENT_ID_MAX 100

/* In the transaction that applies a customer.registered event (session tenant
 * = tenant): a work row for the registration when the tenant's welcome was on
 * at occurred_at (RFC 3339), none otherwise or when there is one already.
 * *recorded says whether a row was written. */
cm_err_t notify_welcome_store_record(cm_db_t *db, const char *tenant, const char *event_id,
                                     const char *customer_id, const char *occurred_at,
                                     bool *recorded) CM_MUSTCHECK;

/* Up to max work rows whose lease has ended, of any tenant, leased for
 * lease_ms and their attempts counted, into out[0..*n). */
struct notify_welcome_claim {
    char tenant_id[40];
    char event_id[NOTIFY_WELCOME_EVENT_ID_MAX + 1];
};
cm_err_t notify_welcome_store_claim(cm_db_t *db, int max, long lease_ms,
                                    struct notify_welcome_claim *out, int *n) CM_MUSTCHECK;

/* The work row of (tenant, event_id): CM_ERR_NOT_FOUND when there is none
 * (done by another copy). */
struct notify_welcome_row {
    char customer_id[40];
    bool sms;
    int attempts;
};
cm_err_t notify_welcome_store_get(cm_db_t *db, const char *tenant, const char *event_id,
                                  struct notify_welcome_row *out) CM_MUSTCHECK;

/* Removes the work row (the welcome is queued, or cannot be). */
cm_err_t notify_welcome_store_done(cm_db_t *db, const char *tenant,
                                   const char *event_id) CM_MUSTCHECK;

#endif
