/* Every SQL statement of subscriptions (customers_subs.c): plans, the
 * subscriptions sold, the visits used by booking reference and the changes
 * staff made. Each runs in the caller's transaction with the tenant set for
 * row-level security and returns CM_OK or the database's error; what it
 * hands back is dynamic messages the caller frees. Dates are days since
 * 1970-01-01 (customers_subs_rules.h); today comes from the caller. */
#ifndef CUSTOMERS_SUBS_STORE_H
#define CUSTOMERS_SUBS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "customers_subs_rules.h"
#include "subscriptions.pb-c.h"

/* Plans */
cm_err_t customers_subs_store_plans(cm_db_t *db, const char *tenant, bool include_retired,
                                    Crm__ListPlansResponse *resp) CM_MUSTCHECK;
/* *out NULL when there is no such plan. */
cm_err_t customers_subs_store_plan(cm_db_t *db, const char *tenant, const char *id,
                                   Crm__Plan **out) CM_MUSTCHECK;
/* How many plans the business has, and whether another than except_id
 * (NULL: none) is named name. */
cm_err_t customers_subs_store_plan_names(cm_db_t *db, const char *tenant, const char *name,
                                         const char *except_id, long *count,
                                         bool *taken) CM_MUSTCHECK;
/* Writes p (a new plan when insert, else the one of p->id); *out after. */
cm_err_t customers_subs_store_plan_put(cm_db_t *db, const char *tenant, const Crm__Plan *p,
                                       bool insert, Crm__Plan **out) CM_MUSTCHECK;
/* Deletes a plan never sold: *deleted false when there is no such plan or
 * *sold (it was sold, and stays). */
cm_err_t customers_subs_store_plan_delete(cm_db_t *db, const char *tenant, const char *id,
                                          bool *deleted, bool *sold) CM_MUSTCHECK;

/* Subscriptions */

/* The customer's subscriptions, newest first, in the state they are in on
 * today; *exists false when there is no such customer. */
cm_err_t customers_subs_store_list(cm_db_t *db, const char *tenant, const char *customer,
                                   int64_t today, bool *exists, long *count,
                                   Crm__ListSubscriptionsResponse *resp) CM_MUSTCHECK;
/* One subscription of the customer (locked for update when lock), with its
 * changes when changes; *out NULL when there is none. */
cm_err_t customers_subs_store_get(cm_db_t *db, const char *tenant, const char *customer,
                                  const char *id, int64_t today, bool lock, bool changes,
                                  Crm__Subscription **out) CM_MUSTCHECK;
/* A new subscription s (its id, customer, plan, dates, visits, price, note
 * and created_by set); *created false when there is no such customer. */
cm_err_t customers_subs_store_insert(cm_db_t *db, const char *tenant, const Crm__Subscription *s,
                                     bool *created) CM_MUSTCHECK;
/* Sets ends_on ("" none), visits_left and note of id, and records a change
 * row for each of the n_changes. */
cm_err_t customers_subs_store_update(cm_db_t *db, const char *tenant, const Crm__Subscription *s,
                                     Crm__SubscriptionChange **changes, size_t n_changes,
                                     const char *by) CM_MUSTCHECK;
cm_err_t customers_subs_store_cancel(cm_db_t *db, const char *tenant, const char *id,
                                     const char *by, const char *reason,
                                     int64_t refund) CM_MUSTCHECK;

/* The customer's subscriptions not cancelled, locked for update (visits
 * queue on them): ids[i] (37 bytes each) and facts[i]; at most max. */
cm_err_t customers_subs_store_candidates(cm_db_t *db, const char *tenant, const char *customer,
                                         size_t max, char (*ids)[37],
                                         struct customers_sub_facts *facts, size_t *n) CM_MUSTCHECK;

/* The visit of a booking reference: *found, and its customer, subscription
 * (37 bytes each) and whether it was undone. */
cm_err_t customers_subs_store_visit(cm_db_t *db, const char *tenant, const char *reference,
                                    bool *found, char *customer, char *subscription,
                                    bool *undone) CM_MUSTCHECK;
/* Records the visit and takes it off the subscription (unless unlimited). */
cm_err_t customers_subs_store_visit_use(cm_db_t *db, const char *tenant, const char *customer,
                                        const char *subscription, const char *reference,
                                        const char *by) CM_MUSTCHECK;
/* Marks the visit undone and gives it back (unless unlimited). */
cm_err_t customers_subs_store_visit_undo(cm_db_t *db, const char *tenant, const char *subscription,
                                         const char *reference, const char *by) CM_MUSTCHECK;

#endif
