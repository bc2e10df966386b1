/* Every SQL statement of visits (their parameters and the presets) and of
 * staff returns and cancellations of purchases, and the notes stream's
 * outbox. Each runs in the caller's transaction and names the tenant
 * (row-level security is a second wall). */
#ifndef NOTES_VISITS_STORE_H
#define NOTES_VISITS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "cm_outbox.h"
#include "visits.pb-c.h"

/* purchase.cancelled and purchase.returned go on the "notes" stream
 * (notes_outbox, notes_orders_store.h). */

/* A page of a customer's bookings (r->visits) or orders (r->purchases),
 * newest first, limit at most: token "" for the first page, else one this
 * gave as r->next_page_token. CM_ERR_INVALID for a token it did not give. */
cm_err_t notes_visits_store_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                 int limit, const char *token,
                                 Crm__ListVisitsResponse *r) CM_MUSTCHECK;
cm_err_t notes_purchases_store_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                    int limit, const char *token,
                                    Crm__ListPurchasesResponse *r) CM_MUSTCHECK;

/* One booking of the customer and its parameters. */
struct notes_visit {
    Crm__VisitParameters *params; // owned: etag "0" before the first write
    char *service;                // owned
    char *starts_at;              // owned, RFC 3339
    int matches;                  // bookings of that id (of any source when none was named)
};
void notes_visit_release(struct notes_visit *v);

/* The booking booking_id of the customer (of source, or any source when it
 * is ""), locking its row when lock. CM_ERR_NOT_FOUND when there is none;
 * v->matches > 1 when source was "" and two systems sent that id. */
cm_err_t notes_visits_store_get(cm_db_t *db, const char *tenant, const char *customer_id,
                                const char *booking_id, const char *source, bool lock,
                                struct notes_visit *v) CM_MUSTCHECK;

/* Writes the parameters (a JSON array of {name, value}) and remark of the
 * booking, one version more than before. */
cm_err_t notes_visits_store_put(cm_db_t *db, const char *tenant, const Crm__VisitParameters *p,
                                const char *parameters_json, const char *by) CM_MUSTCHECK;

/* Presets, by name. */
cm_err_t notes_presets_store_list(cm_db_t *db, const char *tenant,
                                  Crm__ListVisitPresetsResponse *r) CM_MUSTCHECK;
/* One preset, locked when lock; CM_ERR_NOT_FOUND. *out owned by the caller. */
cm_err_t notes_presets_store_get(cm_db_t *db, const char *tenant, const char *id, bool lock,
                                 Crm__VisitPreset **out) CM_MUSTCHECK;
/* The tenant's presets counted, with the tenant's presets locked against a
 * concurrent create (a transaction-scoped advisory lock). */
cm_err_t notes_presets_store_count(cm_db_t *db, const char *tenant, int *n) CM_MUSTCHECK;
/* Inserts (id "") or replaces preset id (one version more); names_json the
 * names as a JSON array. The new id into id_out (37 bytes). CM_ERR_CONFLICT
 * when another preset has the name (whatever its case). */
cm_err_t notes_presets_store_put(cm_db_t *db, const char *tenant, const char *id, const char *name,
                                 const char *names_json, char *id_out) CM_MUSTCHECK;
cm_err_t notes_presets_store_delete(cm_db_t *db, const char *tenant, const char *id) CM_MUSTCHECK;

/* One order of the customer, its row locked, as a Purchase (*out owned by
 * the caller); *matches as for visits; action_id (37 bytes) the id the
 * order's next staff action takes: the same for a retried transaction, so
 * that what it calls elsewhere (a wallet credit) is idempotent. */
cm_err_t notes_purchases_store_lock(cm_db_t *db, const char *tenant, const char *customer_id,
                                    const char *order_id, const char *source, Crm__Purchase **out,
                                    int *matches, char *action_id) CM_MUSTCHECK;

/* A staff action on a locked order. */
struct notes_purchase_action {
    const char *id;
    const char *customer_id;
    const char *source;
    const char *order_id;
    const char *action;   // CANCEL, RETURN
    const char *status;   // the order's status after it
    int64_t amount_minor; // returned
    const char *currency;
    const char *items_json;   // [{"index", "quantity"}]
    const char *returned_qty; // the order's returned quantities after it, "{1,0}"
    const char *reason;
    bool to_balance;
    const char *by;
    const char *reference;
};

/* Records the action and applies it to the order: status, what was refunded
 * and the returned quantities (the summary's figures follow by trigger). A
 * return to the balance is recorded with its credit PENDING, due for the
 * credit worker credit_grace_s seconds from now (the request makes it
 * itself right after the commit). */
cm_err_t notes_purchases_store_apply(cm_db_t *db, const char *tenant,
                                     const struct notes_purchase_action *a,
                                     int credit_grace_s) CM_MUSTCHECK;

#define NOTES_CREDIT_STATE_SIZE 8 // the longest state, SETTLED, and its NUL

/* What a return's credit to the balance needs (notes_credits.h). */
struct notes_return_credit {
    char tenant[37];
    char id[37];
    char customer_id[37];
    char state[NOTES_CREDIT_STATE_SIZE]; // PENDING, DONE, FAILED, SETTLED
    int64_t amount;
    int attempts;
    char *source;    // owned
    char *order_id;  // owned
    char *reason;    // owned: the return's
    char *reference; // owned: "purchase.returned:<id>"
    char *by;        // owned: the staff member who made the return
    char *error;     // owned: why customers refused it (FAILED)
};

/* Frees what c owns (safe on a zeroed or released one). */
void notes_return_credit_release(struct notes_return_credit *c);

/* The credit of return out->id of tenant out->tenant (a return to the
 * balance) into the rest of *out (what it held released first), under the
 * session's tenant. CM_ERR_NOT_FOUND when there is none. */
cm_err_t notes_purchases_store_credit_load(cm_db_t *db,
                                           struct notes_return_credit *out) CM_MUSTCHECK;

/* Marks a PENDING credit DONE with the wallet entry that made it, or FAILED
 * with why (error "" and state "DONE" / a message and "FAILED"); a credit
 * already settled stays as it is. */
cm_err_t notes_purchases_store_credit_settle(cm_db_t *db, const char *tenant, const char *id,
                                             const char *state, const char *entry_id,
                                             const char *error) CM_MUSTCHECK;

/* The state of the credit of return id of the customer's order (source ""
 * for any), locked for the transaction, into state (NOTES_CREDIT_STATE_SIZE
 * bytes) and the attempts made so far into *attempts. CM_ERR_NOT_FOUND when
 * that order has no such return to the balance. */
cm_err_t notes_purchases_store_credit_lock(cm_db_t *db, const char *tenant, const char *customer_id,
                                           const char *order_id, const char *source, const char *id,
                                           char *state, int *attempts) CM_MUSTCHECK;

/* A FAILED credit back to PENDING (its error cleared), due for the credit
 * worker in grace_s seconds: the caller tries it right after the commit. */
cm_err_t notes_purchases_store_credit_reopen(cm_db_t *db, const char *tenant, const char *id,
                                             int grace_s) CM_MUSTCHECK;

/* A FAILED credit SETTLED (staff paid it another way) by the staff member
 * named by, now; no credit is made. */
cm_err_t notes_purchases_store_credit_mark_settled(cm_db_t *db, const char *tenant, const char *id,
                                                   const char *by) CM_MUSTCHECK;

/* Counts one more attempt of a PENDING credit and makes it due again in
 * delay_s seconds. */
cm_err_t notes_purchases_store_credit_later(cm_db_t *db, const char *tenant, const char *id,
                                            int delay_s) CM_MUSTCHECK;

/* Claims up to max due PENDING credits of any tenant for lease_s seconds
 * (notes.claim_return_credits); out[i] gets tenant and id only. */
cm_err_t notes_purchases_store_credit_claim(cm_db_t *db, int max, int lease_s,
                                            struct notes_return_credit *out, int *n) CM_MUSTCHECK;

/* A deleted customer: the parameters of their visits go, and of what staff
 * typed about their purchases and visits the timeline and the returns keep
 * only what changed when (reasons and values erased). Orders stay. */
cm_err_t notes_visits_store_erase_customer(cm_db_t *db, const char *tenant,
                                           const char *customer_id) CM_MUSTCHECK;

#endif
