/* The handlers of subscriptions (customers_subs.h): each checks its request,
 * then works in the call's transaction; money moves through the wallet's
 * ledger in the same transaction, so a short balance leaves nothing written. */
#include "customers_subs.h"
#include "customers_check.h"
#include "customers_events.h"
#include "customers_subs_rules.h"
#include "customers_subs_store.h"
#include "customers_store.h"
#include "customers_validate.h"
#include "customers_wallet.h"
#include "customers_wallet_rules.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENANT(call) ((call)->hdr->tenant_id)

static const char *s_who(const struct cm_call *call)
{
    const Crm__Principal *p = call->hdr->principal;
    return p && p->name[0] ? p->name : "";
}

/* The business's today, in its time zone. Should the read fail, UTC's: the
 * failed statement has aborted the transaction, so the store call that
 * follows every use fails and reports it. */
static int64_t s_today(struct cm_call *call)
{
    int64_t day = cm_now_ms() / 86400000;
    if (customers_store_tenant_today(call->db, TENANT(call), &day))
        cm_log_warn("could not read the business's day: %s", cm_db_error(call->db));
    return day;
}

/* ---------------------------------------------------------------------- */
/* Plans                                                                   */

void customers_subs_plans(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__ListPlansRequest *req = (const Crm__ListPlansRequest *)msg;
    Crm__ListPlansResponse *r =
        (Crm__ListPlansResponse *)cm_pb_new(&crm__list_plans_response__descriptor);
    cm_err_t err = customers_subs_store_plans(call->db, TENANT(call), req->include_retired, r);
    if (err) {
        cm_call_db_fail(call, err, "could not list the plans");
        crm__list_plans_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

/* The plan id names, or NULL with the call failed (NOT_FOUND, a database
 * error). */
static Crm__Plan *s_plan(struct cm_call *call, const char *id)
{
    Crm__Plan *p = NULL;
    cm_err_t err = customers_check_uuid(id)
                       ? customers_subs_store_plan(call->db, TENANT(call), id, &p)
                       : CM_OK;
    if (err)
        cm_call_db_fail(call, err, "could not read the plan");
    else if (!p)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no plan %.64s", id);
    return p;
}

void customers_subs_plan_get(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    Crm__Plan *p = s_plan(call, ((const Crm__GetPlanRequest *)msg)->id);
    if (p)
        *resp = &p->base;
}

/* Checks a plan as it would be stored, naming each field that is wrong. */
static void s_check_plan(struct cm_call *call, const Crm__Plan *p)
{
    if (!p->name[0])
        cm_call_violation(call, "plan.name", "REQUIRED", "name is required");
    else if (customers_validate_length(p->name, CUSTOMERS_SUBS_NAME_MAX))
        cm_call_violation(call, "plan.name", "TOO_LONG", "name is too long: at most %d characters",
                          CUSTOMERS_SUBS_NAME_MAX);
    bool sub = p->kind == CRM__PLAN_KIND__PLAN_KIND_SUBSCRIPTION;
    bool pkg = p->kind == CRM__PLAN_KIND__PLAN_KIND_PACKAGE;
    if (!sub && !pkg)
        cm_call_violation(call, "plan.kind", "REQUIRED",
                          "kind is required: SUBSCRIPTION or PACKAGE");
    bool days = p->period_unit == CRM__PERIOD_UNIT__PERIOD_UNIT_DAY;
    bool months = p->period_unit == CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH;
    if (!days && !months && p->period_unit != CRM__PERIOD_UNIT__PERIOD_UNIT_UNSPECIFIED)
        cm_call_violation(call, "plan.periodUnit", "INVALID_FORMAT",
                          "periodUnit must be DAY or MONTH");
    else if (!days && !months && sub)
        cm_call_violation(call, "plan.periodUnit", "REQUIRED",
                          "periodUnit is required for a subscription: DAY or MONTH");
    else if (!days && !months && p->period_count)
        cm_call_violation(call, "plan.periodUnit", "REQUIRED",
                          "periodUnit is required with periodCount: DAY or MONTH");
    else if (days && (p->period_count < 1 || p->period_count > CUSTOMERS_SUBS_DAYS_MAX))
        cm_call_violation(call, "plan.periodCount", "OUT_OF_RANGE",
                          "periodCount must be 1 to %d days", CUSTOMERS_SUBS_DAYS_MAX);
    else if (months && (p->period_count < 1 || p->period_count > CUSTOMERS_SUBS_MONTHS_MAX))
        cm_call_violation(call, "plan.periodCount", "OUT_OF_RANGE",
                          "periodCount must be 1 to %d months", CUSTOMERS_SUBS_MONTHS_MAX);
    if (p->visits < 0 || p->visits > CUSTOMERS_SUBS_VISITS_MAX)
        cm_call_violation(call, "plan.visits", "OUT_OF_RANGE",
                          "visits must be 0 (unlimited, a subscription only) to %d",
                          CUSTOMERS_SUBS_VISITS_MAX);
    else if (pkg && p->visits == 0)
        cm_call_violation(call, "plan.visits", "REQUIRED",
                          "visits is required for a package: 1 to %d", CUSTOMERS_SUBS_VISITS_MAX);
    if (p->price < 0 || p->price > CUSTOMERS_WALLET_AMOUNT_MAX)
        cm_call_violation(call, "plan.price", "OUT_OF_RANGE",
                          "price must be 0 to %lld minor units of the business's currency",
                          (long long)CUSTOMERS_WALLET_AMOUNT_MAX);
}

/* Checks p and that its name is free and the business has room for it
 * (except_id: the plan being changed, or NULL for a new one), then stores it
 * and answers it. */
static void s_put_plan(struct cm_call *call, Crm__Plan *p, const char *except_id,
                       ProtobufCMessage **resp)
{
    s_check_plan(call, p);
    if (cm_call_failed(call))
        return;
    long count = 0;
    bool taken = false;
    cm_err_t err =
        customers_subs_store_plan_names(call->db, TENANT(call), p->name, except_id, &count, &taken);
    if (err) {
        cm_call_db_fail(call, err, "could not read the plans");
        return;
    }
    if (taken) {
        cm_call_fail(call, CM_ERR_CONFLICT, "a plan is named %.100s already", p->name);
        cm_call_violation(call, "plan.name", "ALREADY_EXISTS", "another plan has this name");
        return;
    }
    if (!except_id && count >= CUSTOMERS_SUBS_PLANS_MAX) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "a business has at most %d plans; delete or reuse one",
                     CUSTOMERS_SUBS_PLANS_MAX);
        return;
    }
    Crm__Plan *out = NULL;
    err = customers_subs_store_plan_put(call->db, TENANT(call), p, !except_id, &out);
    if (err) {
        cm_call_db_fail(call, err, "could not store the plan");
        return;
    }
    *resp = &out->base;
}

void customers_subs_plan_create(struct cm_call *call, const ProtobufCMessage *msg,
                                ProtobufCMessage **resp)
{
    const Crm__CreatePlanRequest *req = (const Crm__CreatePlanRequest *)msg;
    Crm__Plan *p = (Crm__Plan *)cm_pb_new(&crm__plan__descriptor);
    if (req->plan) {
        cm_pb_set_str(&p->name, req->plan->name);
        p->kind = req->plan->kind;
        p->period_unit = req->plan->period_unit;
        p->period_count = req->plan->period_count;
        p->visits = req->plan->visits;
        p->price = req->plan->price;
    }
    char id[40], currency[4];
    cm_uuid(id);
    cm_pb_set_str(&p->id, id);
    p->active = true;
    if (customers_wallet_currency(call, currency)) {
        cm_pb_set_str(&p->currency, currency);
        s_put_plan(call, p, NULL, resp);
    }
    crm__plan__free_unpacked(p, NULL);
}

void customers_subs_plan_update(struct cm_call *call, const ProtobufCMessage *msg,
                                ProtobufCMessage **resp)
{
    const Crm__UpdatePlanRequest *req = (const Crm__UpdatePlanRequest *)msg;
    Crm__Plan *p = s_plan(call, req->id);
    if (!p)
        return;
    static char *all[] = {"name", "kind", "periodUnit", "periodCount", "visits", "price", "active"};
    char **paths = req->n_update_mask ? req->update_mask : all;
    size_t n_paths = req->n_update_mask ? req->n_update_mask : sizeof all / sizeof *all;
    for (size_t i = 0; i < n_paths; i++) {
        bool known = false;
        for (size_t k = 0; k < sizeof all / sizeof *all; k++)
            known = known || !strcmp(paths[i], all[k]);
        if (!known)
            cm_call_violation(call, "updateMask", "UNKNOWN_FIELD",
                              "%.64s cannot be changed: name, kind, periodUnit, periodCount, "
                              "visits, price or active",
                              paths[i]);
    }
    Crm__Plan empty = CRM__PLAN__INIT;
    struct cm_pbjson_error perr;
    if (!cm_call_failed(call) &&
        cm_pb_apply_mask(&p->base, req->plan ? &req->plan->base : &empty.base, paths, n_paths,
                         &perr))
        cm_call_violation(call, perr.field, "UNKNOWN_FIELD", "%s", perr.description);
    if (!cm_call_failed(call))
        s_put_plan(call, p, req->id, resp);
    crm__plan__free_unpacked(p, NULL);
}

void customers_subs_plan_delete(struct cm_call *call, const ProtobufCMessage *msg,
                                ProtobufCMessage **resp)
{
    const Crm__DeletePlanRequest *req = (const Crm__DeletePlanRequest *)msg;
    bool deleted = false, sold = false;
    cm_err_t err =
        customers_check_uuid(req->id)
            ? customers_subs_store_plan_delete(call->db, TENANT(call), req->id, &deleted, &sold)
            : CM_OK;
    if (err)
        cm_call_db_fail(call, err, "could not delete the plan");
    else if (sold)
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "this plan was sold and stays with its subscriptions; retire it instead "
                     "(active false)");
    else if (!deleted)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no plan %.64s", req->id);
    else
        *resp = cm_pb_new(&crm__empty__descriptor);
}

/* ---------------------------------------------------------------------- */
/* Subscriptions                                                           */

/* Records a subscription.<what> event: the subscription without what staff
 * typed (note, cancel reason) and its changes. */
static bool s_event(struct cm_call *call, const char *what, const Crm__Subscription *s)
{
    Crm__Subscription copy = *s;
    copy.note = (char *)"";
    copy.cancel_reason = (char *)"";
    copy.n_changes = 0;
    copy.changes = NULL;
    Crm__SubscriptionEvent ev = CRM__SUBSCRIPTION_EVENT__INIT;
    ev.subscription = &copy;
    char type[48];
    snprintf(type, sizeof type, "%s%s", CUSTOMERS_SUBS_EVENT_PREFIX, what);
    cm_err_t err =
        customers_events_add_payload(call->db, call->hdr, type, &ev.base, s->customer_id);
    if (err)
        cm_call_db_fail(call, err, "could not record the subscription's event");
    return !err;
}

/* The customer's subscription id as it is now (locked when lock), or NULL
 * with the call failed. */
static Crm__Subscription *s_sub(struct cm_call *call, const char *customer, const char *id,
                                bool lock, bool changes)
{
    Crm__Subscription *s = NULL;
    cm_err_t err = customers_check_uuid(customer) && customers_check_uuid(id)
                       ? customers_subs_store_get(call->db, TENANT(call), customer, id,
                                                  s_today(call), lock, changes, &s)
                       : CM_OK;
    if (err)
        cm_call_db_fail(call, err, "could not read the subscription");
    else if (!s)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "customer %.64s has no subscription %.64s", customer,
                     id);
    return s;
}

void customers_subs_list(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ListSubscriptionsRequest *req = (const Crm__ListSubscriptionsRequest *)msg;
    if ((unsigned)req->state > CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_CANCELLED) {
        cm_call_violation(call, "state", "INVALID_FORMAT", "state is not one of the states");
        return;
    }
    Crm__ListSubscriptionsResponse *r =
        (Crm__ListSubscriptionsResponse *)cm_pb_new(&crm__list_subscriptions_response__descriptor);
    bool exists = false;
    long count = 0;
    cm_err_t err = customers_check_uuid(req->customer_id)
                       ? customers_subs_store_list(call->db, TENANT(call), req->customer_id,
                                                   s_today(call), &exists, &count, r)
                       : CM_OK;
    if (err || !exists) {
        if (err)
            cm_call_db_fail(call, err, "could not list the subscriptions");
        else
            cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", req->customer_id);
        crm__list_subscriptions_response__free_unpacked(r, NULL);
        return;
    }
    if (req->state) {
        size_t kept = 0;
        for (size_t i = 0; i < r->n_subscriptions; i++) {
            if (r->subscriptions[i]->state == req->state)
                r->subscriptions[kept++] = r->subscriptions[i];
            else
                crm__subscription__free_unpacked(r->subscriptions[i], NULL);
        }
        r->n_subscriptions = kept;
    }
    *resp = &r->base;
}

void customers_subs_get(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetSubscriptionRequest *req = (const Crm__GetSubscriptionRequest *)msg;
    Crm__Subscription *s = s_sub(call, req->customer_id, req->id, false, true);
    if (s)
        *resp = &s->base;
}

/* The reference a subscription's money carries in the ledger. */
static void s_money_ref(const char *id, char out[64])
{
    snprintf(out, 64, "subscription:%s", id);
}

/* Answers s (owned) with the wallet of posted (owned, may be NULL). */
static void s_answer(ProtobufCMessage **resp, Crm__Subscription *s,
                     Crm__WalletEntryResponse *posted, bool replayed)
{
    Crm__SubscriptionResponse *r =
        (Crm__SubscriptionResponse *)cm_pb_new(&crm__subscription_response__descriptor);
    r->subscription = s;
    r->replayed = replayed;
    if (posted) {
        r->wallet = posted->wallet;
        posted->wallet = NULL;
        crm__wallet_entry_response__free_unpacked(posted, NULL);
    }
    *resp = &r->base;
}

/* How many subscriptions the customer has (cancelled ones too); false with
 * the call failed (NOT_FOUND for no such customer, a database error). */
static bool s_count(struct cm_call *call, const char *customer, long *count)
{
    bool exists = false;
    cm_err_t err =
        customers_subs_store_list(call->db, TENANT(call), customer, 0, &exists, count, NULL);
    if (err)
        cm_call_db_fail(call, err, "could not read the subscriptions");
    else if (!exists)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", customer);
    return !err && exists;
}

/* Moves amount minor units (0: none) on the customer's money balance for
 * subscription id, with reason (field names the request's field a short
 * balance is put on), then records the subscription.<event> event and
 * answers the subscription after it with the wallet. Fails the call, leaving
 * *resp NULL, when any step fails. */
static void s_settle(struct cm_call *call, const char *customer, const char *id, int64_t amount,
                     const char *reason, const char *field, const char *event,
                     ProtobufCMessage **resp)
{
    Crm__WalletEntryResponse *posted = NULL;
    if (amount) {
        char ref[64];
        s_money_ref(id, ref);
        customers_wallet_post_money(call, customer, amount, reason, ref, field, &posted);
        if (!posted)
            return;
    }
    Crm__Subscription *s = s_sub(call, customer, id, false, false);
    if (s && s_event(call, event, s)) {
        s_answer(resp, s, posted, false);
        return;
    }
    if (s)
        crm__subscription__free_unpacked(s, NULL);
    if (posted)
        crm__wallet_entry_response__free_unpacked(posted, NULL);
}

void customers_subs_sell(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__SellSubscriptionRequest *req = (const Crm__SellSubscriptionRequest *)msg;
    if (!customers_check_uuid(req->customer_id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", req->customer_id);
        return;
    }
    int64_t today = s_today(call), start = today;
    if (!req->plan_id[0])
        cm_call_violation(call, "planId", "REQUIRED", "planId is required: the plan sold");
    if (req->starts_on[0] && customers_subs_parse_date(req->starts_on, &start))
        cm_call_violation(call, "startsOn", "INVALID_FORMAT",
                          "startsOn must be a real date as YYYY-MM-DD");
    else if (start < today - CUSTOMERS_SUBS_START_RANGE ||
             start > today + CUSTOMERS_SUBS_START_RANGE)
        cm_call_violation(call, "startsOn", "OUT_OF_RANGE",
                          "startsOn must be within %d days of today", CUSTOMERS_SUBS_START_RANGE);
    if (customers_validate_length(req->note, CUSTOMERS_SUBS_NOTE_MAX))
        cm_call_violation(call, "note", "TOO_LONG", "note is too long: at most %d characters",
                          CUSTOMERS_SUBS_NOTE_MAX);
    if (cm_call_failed(call))
        return;
    Crm__Plan *plan = s_plan(call, req->plan_id);
    if (!plan)
        return;
    char currency[4];
    if (!plan->active) {
        cm_call_fail(call, CM_ERR_PRECONDITION, "plan %.100s is retired and no longer sold",
                     plan->name);
        cm_call_violation(call, "planId", "RETIRED", "the plan is retired");
        goto out;
    }
    if (!customers_wallet_currency(call, currency))
        goto out;
    if (strcmp(currency, plan->currency)) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "the plan is priced in %s, the business's currency is %s; set its price again",
                     plan->currency, currency);
        goto out;
    }
    long count = 0;
    if (!s_count(call, req->customer_id, &count))
        goto out;
    if (count >= CUSTOMERS_SUBS_PER_CUSTOMER) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "a customer has at most %d subscriptions",
                     CUSTOMERS_SUBS_PER_CUSTOMER);
        goto out;
    }
    char id[40], starts[11], ends[11] = "";
    cm_uuid(id);
    customers_subs_format_date(start, starts);
    int64_t end = customers_subs_end(start, plan->period_unit, plan->period_count);
    if (end >= 0)
        customers_subs_format_date(end, ends);
    Crm__Subscription in = CRM__SUBSCRIPTION__INIT;
    in.id = id;
    in.customer_id = req->customer_id;
    in.plan_id = plan->id;
    in.plan_name = plan->name;
    in.kind = plan->kind;
    in.starts_on = starts;
    in.ends_on = ends;
    in.visits_total = plan->visits;
    in.visits_left = plan->visits;
    in.price = plan->price;
    in.currency = plan->currency;
    in.paid_from_balance = req->pay_from_balance && plan->price > 0;
    in.note = req->note;
    in.created_by = (char *)s_who(call);
    bool created = false;
    cm_err_t err = customers_subs_store_insert(call->db, TENANT(call), &in, &created);
    if (err || !created) {
        if (err)
            cm_call_db_fail(call, err, "could not store the subscription");
        else
            cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", req->customer_id);
        goto out;
    }
    char reason[160];
    snprintf(reason, sizeof reason, "subscription %s", plan->name);
    s_settle(call, req->customer_id, id, in.paid_from_balance ? -plan->price : 0, reason,
             "payFromBalance", "sold", resp);
out:
    crm__plan__free_unpacked(plan, NULL);
}

/* Records a change of field from old to new into changes. */
static void s_change(Crm__SubscriptionChange **changes, size_t *n, const char *field,
                     const char *old, const char *new_value)
{
    if (!strcmp(old, new_value))
        return;
    Crm__SubscriptionChange *c =
        (Crm__SubscriptionChange *)cm_pb_new(&crm__subscription_change__descriptor);
    cm_pb_set_str(&c->field, field);
    cm_pb_set_str(&c->old_value, old);
    cm_pb_set_str(&c->new_value, new_value);
    changes[(*n)++] = c;
}

void customers_subs_update(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__UpdateSubscriptionRequest *req = (const Crm__UpdateSubscriptionRequest *)msg;
    Crm__Subscription *s = s_sub(call, req->customer_id, req->id, true, false);
    if (!s)
        return;
    static char *all[] = {"endsOn", "visitsLeft", "note"};
    Crm__Subscription empty = CRM__SUBSCRIPTION__INIT;
    const Crm__Subscription *in = req->subscription ? req->subscription : &empty;
    char **paths = req->n_update_mask ? req->update_mask : all;
    size_t n_paths = req->n_update_mask ? req->n_update_mask : sizeof all / sizeof *all;
    Crm__SubscriptionChange *changes[3];
    size_t n_changes = 0;
    char old[24], now[24];
    if (s->state == CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_CANCELLED) {
        cm_call_fail(call, CM_ERR_PRECONDITION, "this subscription was cancelled at %s",
                     s->cancelled_at);
        goto out;
    }
    for (size_t i = 0; i < n_paths; i++) {
        const char *f = paths[i];
        if (!strcmp(f, "endsOn")) {
            int64_t start = 0, end = -1;
            if (customers_subs_parse_date(s->starts_on, &start))
                start = 0;
            if (in->ends_on[0] && customers_subs_parse_date(in->ends_on, &end))
                cm_call_violation(call, "subscription.endsOn", "INVALID_FORMAT",
                                  "endsOn must be a real date as YYYY-MM-DD, or \"\": no expiry");
            else if (end >= 0 && end < start)
                cm_call_violation(call, "subscription.endsOn", "OUT_OF_RANGE",
                                  "endsOn is before startsOn (%s)", s->starts_on);
            else if (end > start + CUSTOMERS_SUBS_DAYS_MAX)
                cm_call_violation(call, "subscription.endsOn", "OUT_OF_RANGE",
                                  "endsOn is more than %d days after startsOn",
                                  CUSTOMERS_SUBS_DAYS_MAX);
            else {
                s_change(changes, &n_changes, "endsOn", s->ends_on, in->ends_on);
                cm_pb_set_str(&s->ends_on, in->ends_on);
            }
        } else if (!strcmp(f, "visitsLeft")) {
            if (s->unlimited && in->visits_left)
                cm_call_violation(call, "subscription.visitsLeft", "INVALID_FORMAT",
                                  "this subscription has unlimited visits");
            else if (!s->unlimited && (in->visits_left < 0 || in->visits_left > s->visits_total))
                cm_call_violation(call, "subscription.visitsLeft", "OUT_OF_RANGE",
                                  "visitsLeft must be 0 to %d, the visits sold",
                                  (int)s->visits_total);
            else {
                snprintf(old, sizeof old, "%d", (int)s->visits_left);
                snprintf(now, sizeof now, "%d", (int)in->visits_left);
                s_change(changes, &n_changes, "visitsLeft", old, now);
                s->visits_left = in->visits_left;
            }
        } else if (!strcmp(f, "note")) {
            if (customers_validate_length(in->note, CUSTOMERS_SUBS_NOTE_MAX))
                cm_call_violation(call, "subscription.note", "TOO_LONG",
                                  "note is too long: at most %d characters",
                                  CUSTOMERS_SUBS_NOTE_MAX);
            else {
                s_change(changes, &n_changes, "note", s->note, in->note);
                cm_pb_set_str(&s->note, in->note);
            }
        } else {
            cm_call_violation(call, "updateMask", "UNKNOWN_FIELD",
                              "%.64s cannot be changed: endsOn, visitsLeft or note", f);
        }
    }
    if (cm_call_failed(call))
        goto out;
    if (n_changes) {
        cm_err_t err =
            customers_subs_store_update(call->db, TENANT(call), s, changes, n_changes, s_who(call));
        if (err) {
            cm_call_db_fail(call, err, "could not change the subscription");
            goto out;
        }
    }
    Crm__Subscription *after = s_sub(call, req->customer_id, req->id, false, true);
    if (after && n_changes && !s_event(call, "updated", after)) {
        crm__subscription__free_unpacked(after, NULL);
        after = NULL;
    }
    if (after)
        *resp = &after->base;
out:
    for (size_t i = 0; i < n_changes; i++)
        crm__subscription_change__free_unpacked(changes[i], NULL);
    crm__subscription__free_unpacked(s, NULL);
}

void customers_subs_cancel(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__CancelSubscriptionRequest *req = (const Crm__CancelSubscriptionRequest *)msg;
    if (customers_validate_length(req->reason, CUSTOMERS_SUBS_NOTE_MAX))
        cm_call_violation(call, "reason", "TOO_LONG", "reason is too long: at most %d characters",
                          CUSTOMERS_SUBS_NOTE_MAX);
    if (req->refund < 0)
        cm_call_violation(call, "refund", "OUT_OF_RANGE", "refund must be 0 or more");
    if (cm_call_failed(call))
        return;
    Crm__Subscription *s = s_sub(call, req->customer_id, req->id, true, false);
    if (!s)
        return;
    if (s->state == CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_CANCELLED) {
        cm_call_fail(call, CM_ERR_CONFLICT, "this subscription was cancelled already, at %s",
                     s->cancelled_at);
        goto out;
    }
    if (req->refund > s->price) {
        cm_call_violation(call, "refund", "OUT_OF_RANGE",
                          "refund must be at most the price, %lld minor units",
                          (long long)s->price);
        goto out;
    }
    cm_err_t err = customers_subs_store_cancel(call->db, TENANT(call), s->id, s_who(call),
                                               req->reason, req->refund);
    if (err) {
        cm_call_db_fail(call, err, "could not cancel the subscription");
        goto out;
    }
    char reason[160];
    snprintf(reason, sizeof reason, "refund: subscription %s", s->plan_name);
    s_settle(call, s->customer_id, s->id, req->refund, reason, "refund", "cancelled", resp);
out:
    crm__subscription__free_unpacked(s, NULL);
}

/* Checks a visit's customer and reference; false with the call failed. */
static bool s_check_visit(struct cm_call *call, const char *customer, const char *reference)
{
    if (!customers_check_uuid(customer)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", customer);
        return false;
    }
    if (!reference[0])
        cm_call_violation(call, "reference", "REQUIRED",
                          "reference is required: the booking the visit is for");
    else if (customers_validate_length(reference, CUSTOMERS_SUBS_REFERENCE_MAX))
        cm_call_violation(call, "reference", "TOO_LONG",
                          "reference is too long: at most %d characters",
                          CUSTOMERS_SUBS_REFERENCE_MAX);
    return !cm_call_failed(call);
}

/* Checks a visit's request, then finds the visit of its reference (waiting
 * for another call with the same reference): *found, whether it is the
 * customer's (*theirs), its subscription and whether it was given back.
 * False with the call failed. */
static bool s_visit_of(struct cm_call *call, const char *customer, const char *reference,
                       bool *found, bool *theirs, char sub[37], bool *undone)
{
    if (!s_check_visit(call, customer, reference))
        return false;
    char who[37] = "";
    cm_err_t err =
        customers_subs_store_visit(call->db, TENANT(call), reference, found, who, sub, undone);
    if (err) {
        cm_call_db_fail(call, err, "could not read the visits");
        return false;
    }
    *theirs = !*found || !strcmp(who, customer);
    return true;
}

/* Answers the subscription a visit went to, after what was done. */
static void s_visit_answer(struct cm_call *call, const char *customer, const char *sub,
                           const char *event, ProtobufCMessage **resp)
{
    Crm__Subscription *s = s_sub(call, customer, sub, false, false);
    if (!s)
        return;
    if (event && !s_event(call, event, s)) {
        crm__subscription__free_unpacked(s, NULL);
        return;
    }
    s_answer(resp, s, NULL, !event);
}

void customers_subs_use(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__UseVisitRequest *req = (const Crm__UseVisitRequest *)msg;
    bool found = false, undone = false, theirs = true;
    char sub[37] = "";
    if (!s_visit_of(call, req->customer_id, req->reference, &found, &theirs, sub, &undone))
        return;
    if (found && (!theirs || undone)) {
        cm_call_fail(call, CM_ERR_CONFLICT,
                     undone ? "the visit of booking %.200s was given back: a cancelled booking "
                              "uses no visit"
                            : "booking %.200s used a visit of another customer",
                     req->reference);
        cm_call_violation(call, "reference", "ALREADY_USED", "the booking's visit is recorded");
        return;
    }
    if (found) {
        s_visit_answer(call, req->customer_id, sub, NULL, resp);
        return;
    }
    cm_err_t err;
    char(*ids)[37] = cm_calloc(CUSTOMERS_SUBS_PER_CUSTOMER, sizeof *ids);
    struct customers_sub_facts *facts = cm_calloc(CUSTOMERS_SUBS_PER_CUSTOMER, sizeof *facts);
    size_t n = 0;
    err = customers_subs_store_candidates(call->db, TENANT(call), req->customer_id,
                                          CUSTOMERS_SUBS_PER_CUSTOMER, ids, facts, &n);
    int pick = err ? -1 : customers_subs_pick(facts, n, s_today(call));
    long count = 0;
    if (err) {
        cm_call_db_fail(call, err, "could not read the subscriptions");
        goto out;
    }
    /* None at all: is there such a customer? */
    if (!n && !s_count(call, req->customer_id, &count))
        goto out;
    if (pick < 0) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "the customer has no subscription usable today: none active with visits left");
        goto out;
    }
    err = customers_subs_store_visit_use(call->db, TENANT(call), req->customer_id, ids[pick],
                                         req->reference, s_who(call));
    if (err)
        cm_call_db_fail(call, err, "could not use the visit");
    else
        s_visit_answer(call, req->customer_id, ids[pick], "visit_used", resp);
out:
    free(ids);
    free(facts);
}

void customers_subs_undo(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__UndoVisitRequest *req = (const Crm__UndoVisitRequest *)msg;
    bool found = false, undone = false, theirs = true;
    char sub[37] = "";
    if (!s_visit_of(call, req->customer_id, req->reference, &found, &theirs, sub, &undone))
        return;
    if (!found || !theirs) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "the customer used no visit for booking %.200s",
                     req->reference);
        return;
    }
    if (undone) {
        s_visit_answer(call, req->customer_id, sub, NULL, resp);
        return;
    }
    Crm__Subscription *s = s_sub(call, req->customer_id, sub, true, false);
    if (!s)
        return;
    crm__subscription__free_unpacked(s, NULL);
    cm_err_t err =
        customers_subs_store_visit_undo(call->db, TENANT(call), sub, req->reference, s_who(call));
    if (err)
        cm_call_db_fail(call, err, "could not give the visit back");
    else
        s_visit_answer(call, req->customer_id, sub, "visit_undone", resp);
}
