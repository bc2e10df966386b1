/* Every SQL statement of self-registration (notify_register.c): the asks in
 * notify.registrations, found by their token's hash, and counted for the
 * limits. The table is internal (no tenant policy): each statement names the
 * hash, or the tenant. */
#ifndef NOTIFY_REGISTER_STORE_H
#define NOTIFY_REGISTER_STORE_H

#include <stdbool.h>
#include "cm_db.h"
#include "cm_err.h"

/* One registration as stored. Names are at most 100 characters (400 bytes). */
struct notify_registration {
    char id[40];
    char tenant_id[40];
    char email[255];
    char email_key[255];
    char first_name[404];
    char last_name[404];
    char phone[20];
    char language[8];
    bool consent_email, consent_sms;
    char client_address[64];
    char state[8];        // found: VALID, EXPIRED or USED
    char customer_id[40]; // found and USED: the customer it made or found
};

/* Registrations asked for within the last window_s seconds: from address
 * (any business) into *by_address, for email_key of tenant into *by_email;
 * *retry_s is when the older of the two sets loses its oldest (0 when empty). */
cm_err_t notify_register_store_count(cm_db_t *db, const char *address, const char *tenant,
                                     const char *email_key, long window_s, int *by_address,
                                     int *by_email, long *retry_s) CM_MUSTCHECK;

/* Stores r (a new id is written into r->id) with token_hash (NULL: no link,
 * the ask only counts), valid for hours. */
cm_err_t notify_register_store_insert(cm_db_t *db, struct notify_registration *r,
                                      const char *token_hash, long hours) CM_MUSTCHECK;

/* Gives the registration id a new token (its hash) valid for hours from now:
 * the old one no longer works. */
cm_err_t notify_register_store_renew(cm_db_t *db, const char *id, const char *token_hash,
                                     long hours) CM_MUSTCHECK;

/* Removes the registration id (its message could not be queued). */
cm_err_t notify_register_store_delete(cm_db_t *db, const char *id) CM_MUSTCHECK;

/* The registration of token_hash, with its state; CM_ERR_NOT_FOUND when none. */
cm_err_t notify_register_store_find(cm_db_t *db, const char *token_hash,
                                    struct notify_registration *out) CM_MUSTCHECK;

/* Uses the registration up for customer_id if it is still valid: *used says
 * whether it was (false: used or expired meanwhile). */
cm_err_t notify_register_store_use(cm_db_t *db, const char *token_hash, const char *customer_id,
                                   bool *used) CM_MUSTCHECK;

/* Deletes up to limit registrations that have expired and are older than
 * window_s (the limits no longer count them), oldest first; *deleted says
 * how many. */
cm_err_t notify_register_store_prune(cm_db_t *db, long window_s, int limit,
                                     long *deleted) CM_MUSTCHECK;

#endif
