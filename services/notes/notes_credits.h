/* A return's credit to the customer's balance (docs/visits.md, "Returning
 * and cancelling a purchase"). The return commits first with its credit
 * PENDING; then the credit is made through customers.AdjustWallet, whose
 * reference (the return's, "purchase.returned:<id>") makes it land once
 * however often it is tried, and marked DONE, or FAILED when customers
 * refuses it for good. ReturnPurchase tries right after its commit (its
 * finish step, as the staff member); the credit worker here tries what is
 * still PENDING a while later (a copy that died between the commit and the
 * credit, customers not answering), as the notes service acting for that
 * staff member. */
#ifndef NOTES_CREDITS_H
#define NOTES_CREDITS_H

#include <stdbool.h>
#include "cm_db.h"
#include "cm_svc.h"
#include "notes_visits_store.h"
#include "wallet.pb-c.h"

/* Seconds a new credit is left to its request before the worker may try it. */
#define NOTES_CREDIT_GRACE_S 5

/* The AdjustWallet request for c into *ar (pointing into c and *reason, a new
 * string the caller frees). */
void notes_credit_request(const struct notes_return_credit *c, Crm__AdjustWalletRequest *ar,
                          char **reason);

/* Records what an attempt at c came to: status and message of customers'
 * answer (STATUS_UNAVAILABLE when there was none) and its entry (OK). Under
 * db's tenant, outside any transaction. Sets c->state to what the credit is
 * now. Returns false (logged) when it could not be written. */
bool notes_credit_record(cm_db_t *db, struct notes_return_credit *c, Crm__Status status,
                         const char *message, const Crm__WalletEntry *entry);

/* Starts this copy's credit worker (a thread with its own database
 * connection and bus client, looking for due credits every poll_ms);
 * stops and joins it. */
void notes_credits_start(cm_svc_t *svc, const char *database_url, const char *db_role,
                         long poll_ms);
void notes_credits_stop(void);

#endif
