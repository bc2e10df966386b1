/* Every SQL statement of the Orders bot (sql/026_orders_bot.sql): the order
 * a rule's run acts on, the order instructions, and the "notes" event
 * stream's outbox they are published through. Each names the tenant;
 * row-level security is a second wall. */
#ifndef NOTES_ORDERS_STORE_H
#define NOTES_ORDERS_STORE_H

#include <stdbool.h>
#include "cm_db.h"
#include "cm_err.h"
#include "cm_outbox.h"
#include "notes_rules_eval.h"
#include "history.pb-c.h"
#include "rules.pb-c.h"

/* The "notes" stream (order.instruction) and its outbox. */
#define NOTES_STREAM "notes"
extern const struct cm_outbox notes_outbox;

/* A customer was erased (customer.deleted): their stored events of the
 * notes stream keep type, ids, order and amounts, without the text staff or a
 * rule wrote (an order instruction's value, a return's or cancellation's
 * reason). In the caller's transaction. */
cm_err_t notes_orders_store_erase_events(cm_db_t *db, const char *tenant,
                                         const char *customer_id) CM_MUSTCHECK;

/* At most this many instructions of one order are answered. */
#define NOTES_ORDER_INSTRUCTIONS_MAX 100

/* The order whose event made timeline row timeline_id (a rule's run), into
 * o, with whether it is the customer's first. CM_ERR_NOT_FOUND when the row
 * is gone (the customer erased) or is no order's. */
cm_err_t notes_orders_store_of_run(cm_db_t *db, const char *tenant, const char *timeline_id,
                                   struct notes_rule_order *o) CM_MUSTCHECK;

/* The customer's latest order (a dry run tries a rule on it) into o.
 * CM_ERR_NOT_FOUND when the customer has none. */
cm_err_t notes_orders_store_latest(cm_db_t *db, const char *tenant, const char *customer_id,
                                   struct notes_rule_order *o) CM_MUSTCHECK;

/* Writes ins (customer, order, kind, value, rule, event filled by the
 * caller; id and created_at filled here) as the instruction of action
 * action_index of the run of rule ins->rule_id started by timeline row
 * timeline_id, with its timeline row (actor) and its order.instruction event
 * (principal, request_id), in one transaction of its own. Once per (rule,
 * timeline row, action): when it was written before, nothing changes and
 * *written is false. Returns CM_OK or the database's error (rolled back). */
cm_err_t notes_orders_store_instruct(cm_db_t *db, const char *tenant, const char *timeline_id,
                                     int action_index, Crm__OrderInstruction *ins,
                                     const Crm__Principal *principal, const char *request_id,
                                     bool *written) CM_MUSTCHECK;

/* The instructions of one order of customer_id, oldest first, at most
 * NOTES_ORDER_INSTRUCTIONS_MAX, into resp. */
cm_err_t notes_orders_store_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                 const char *source, const char *order_id,
                                 Crm__ListOrderInstructionsResponse *resp) CM_MUSTCHECK;

#endif
