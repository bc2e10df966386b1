/* Subscriptions and packages sold to a customer (docs/api.md,
 * "Subscriptions"; docs/bus.md, "Subscriptions"): the plans the business
 * defines (settings), the subscriptions sold from them, optionally paid from
 * the customer's money balance, edited with every change kept, cancelled
 * with an optional refund, and the visits the booking system uses and gives
 * back by booking reference. Each change is a subscription.* event on the
 * customers stream. */
#ifndef CUSTOMERS_SUBS_H
#define CUSTOMERS_SUBS_H

#include "cm_svc.h"
#include "subscriptions.pb-c.h"

/* Limits (docs/api.md, "Limits"). */
#define CUSTOMERS_SUBS_NAME_MAX 100      // characters of a plan's name
#define CUSTOMERS_SUBS_PLANS_MAX 200     // plans of a business, retired ones too
#define CUSTOMERS_SUBS_DAYS_MAX 3660     // a period in days
#define CUSTOMERS_SUBS_MONTHS_MAX 120    // a period in months
#define CUSTOMERS_SUBS_VISITS_MAX 1000   // visits of a plan
#define CUSTOMERS_SUBS_NOTE_MAX 500      // characters of a note or a cancel's reason
#define CUSTOMERS_SUBS_PER_CUSTOMER 200  // subscriptions sold to one customer
#define CUSTOMERS_SUBS_START_RANGE 366   // days a start may lie before or after today
#define CUSTOMERS_SUBS_REFERENCE_MAX 200 // characters of a booking reference

void customers_subs_plans(struct cm_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp);
void customers_subs_plan_get(struct cm_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);
void customers_subs_plan_create(struct cm_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp);
void customers_subs_plan_update(struct cm_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp);
void customers_subs_plan_delete(struct cm_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp);
void customers_subs_list(struct cm_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp);
void customers_subs_get(struct cm_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
void customers_subs_sell(struct cm_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp);
void customers_subs_update(struct cm_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp);
void customers_subs_cancel(struct cm_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp);
void customers_subs_use(struct cm_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
void customers_subs_undo(struct cm_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp);

/* The entries of customers_methods[]: plans are settings. */
#define CUSTOMERS_SUBS_METHOD(name, req, resp, fn, flags, scope)                                   \
    CM_METHOD("customers", name, req, resp, fn, flags, scope)
#define CUSTOMERS_SUBS_METHODS                                                                     \
    CUSTOMERS_SUBS_METHOD("ListPlans", list_plans_request, list_plans_response,                    \
                          customers_subs_plans, CM_METHOD_NO_TXN, CUSTOMERS_READ),                 \
        CUSTOMERS_SUBS_METHOD("GetPlan", get_plan_request, plan, customers_subs_plan_get,          \
                              CM_METHOD_NO_TXN, CUSTOMERS_READ),                                   \
        CUSTOMERS_SUBS_METHOD("CreatePlan", create_plan_request, plan, customers_subs_plan_create, \
                              CM_METHOD_WRITE, SETTINGS),                                          \
        CUSTOMERS_SUBS_METHOD("UpdatePlan", update_plan_request, plan, customers_subs_plan_update, \
                              CM_METHOD_WRITE, SETTINGS),                                          \
        CUSTOMERS_SUBS_METHOD("DeletePlan", delete_plan_request, empty,                            \
                              customers_subs_plan_delete, CM_METHOD_WRITE, SETTINGS),              \
        CUSTOMERS_SUBS_METHOD("ListSubscriptions", list_subscriptions_request,                     \
                              list_subscriptions_response, customers_subs_list, CM_METHOD_NO_TXN,  \
                              CUSTOMERS_READ),                                                     \
        CUSTOMERS_SUBS_METHOD("GetSubscription", get_subscription_request, subscription,           \
                              customers_subs_get, CM_METHOD_NO_TXN, CUSTOMERS_READ),               \
        CUSTOMERS_SUBS_METHOD("SellSubscription", sell_subscription_request,                       \
                              subscription_response, customers_subs_sell, CM_METHOD_WRITE,         \
                              CUSTOMERS_WRITE),                                                    \
        CUSTOMERS_SUBS_METHOD("UpdateSubscription", update_subscription_request, subscription,     \
                              customers_subs_update, CM_METHOD_WRITE, CUSTOMERS_WRITE),            \
        CUSTOMERS_SUBS_METHOD("CancelSubscription", cancel_subscription_request,                   \
                              subscription_response, customers_subs_cancel, CM_METHOD_WRITE,       \
                              CUSTOMERS_WRITE),                                                    \
        CUSTOMERS_SUBS_METHOD("UseVisit", use_visit_request, subscription_response,                \
                              customers_subs_use, CM_METHOD_WRITE, CUSTOMERS_WRITE),               \
        CUSTOMERS_SUBS_METHOD("UndoVisit", undo_visit_request, subscription_response,              \
                              customers_subs_undo, CM_METHOD_WRITE, CUSTOMERS_WRITE)

#endif
