/* Purchases on the customer card: the customer's orders, and staff returns
 * and cancellations of them (notes_visits.h). An action changes the order as
 * the store's own order.refunded or order.cancelled would (status, what was
 * refunded, so the summary's figures follow), adds a timeline entry naming
 * the staff member, and goes out on the notes stream as purchase.returned or
 * purchase.cancelled for the system that owns the order; a return may credit
 * the customer's wallet (customers.AdjustWallet) once it committed
 * (notes_credits.h). */
#include "notes_visits.h"
#include "notes_credits.h"
#include "notes_history_store.h"
#include "notes_handlers.h"
#include "notes_returns.h"
#include "notes_validate.h"
#include "notes_visits_store.h"
#include "notes_orders_store.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "visits.pb-c.h"
#include "wallet.pb-c.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TENANT(call) ((call)->hdr->tenant_id)
/* How long a call to customers' wallet may take: under the broker's worker
 * liveness, as the intake's. */
#define WALLET_TIMEOUT_MS 2500

/* ---------------------------------------------------------------------- */
/* The list                                                                */

static void s_list_purchases(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__ListPurchasesRequest *req = (const Crm__ListPurchasesRequest *)msg;
    int limit = 0;
    if (!notes_list_begin(call, req->customer_id, req->page_size, &limit))
        return;
    Crm__ListPurchasesResponse *r =
        (Crm__ListPurchasesResponse *)cm_pb_new(&crm__list_purchases_response__descriptor);
    cm_err_t err = notes_purchases_store_list(call->db, TENANT(call), req->customer_id, limit,
                                              req->page_token, r);
    if (!notes_list_end(call, err, "could not list purchases", r->n_purchases, req->customer_id,
                        req->page_token)) {
        crm__list_purchases_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Actions                                                                 */

/* What one action is about, for its timeline entry, event and reply. */
struct s_action {
    const char *type; // purchase.cancelled, purchase.returned
    char id[NOTES_ID_SIZE];
    char reference[80];
    char *reason;         // owned, checked
    Crm__Purchase *order; // owned: the order before the action, locked
    int64_t amount;       // returned
    Crm__ReturnItem *const *items;
    size_t n_items;
    bool to_balance;
};

static void s_action_release(struct s_action *a)
{
    free(a->reason);
    if (a->order)
        crm__purchase__free_unpacked(a->order, NULL);
}

/* The order of the request locked into a->order, with the reason checked;
 * false with the call failed: 404 for no such order of the customer, 400 on
 * source when two systems sent that order id. */
static bool s_begin(struct cm_call *call, struct s_action *a, const char *type,
                    const char *customer_id, const char *order_id, const char *source,
                    const char *reason)
{
    struct notes_problem p;
    a->type = type;
    if (!cm_uuid_valid(customer_id) || !order_id[0]) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no purchase %s of customer %s", order_id,
                     customer_id);
        return false;
    }
    a->reason =
        notes_validate_text(reason, NOTES_RETURN_REASON_MAX, NOTES_TEXT_MULTILINE, "reason", &p);
    if (!a->reason) {
        cm_call_violation(call, "reason", p.reason, "%s", p.description);
        return false;
    }
    int matches = 0;
    cm_err_t err = notes_purchases_store_lock(call->db, TENANT(call), customer_id, order_id, source,
                                              &a->order, &matches, a->id);
    if (err == CM_ERR_NOT_FOUND) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no purchase %s of customer %s", order_id,
                     customer_id);
        return false;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not read the purchase");
        return false;
    }
    if (matches > 1) {
        cm_call_violation(call, "source", "REQUIRED",
                          "purchase %s came from more than one system: name its source", order_id);
        return false;
    }
    snprintf(a->reference, sizeof a->reference, "%s:%s", type, a->id);
    return true;
}

/* The timeline entry of an action, an ORDER row naming the staff member. */
static bool s_timeline(struct cm_call *call, const char *customer_id, const struct s_action *a)
{
    const Crm__Purchase *o = a->order;
    json_t *order = json_pack("{s:s, s:{s:I, s:s}}", "id", o->id, "total", "amountMinor",
                              (json_int_t)o->total->amount_minor, "currency", o->total->currency);
    json_t *purchase = json_pack("{s:s, s:s, s:s}", "actionId", a->id, "reason", a->reason,
                                 "reference", a->reference);
    if (a->amount) {
        json_t *m = json_pack("{s:I, s:s}", "amountMinor", (json_int_t)a->amount, "currency",
                              o->total->currency);
        json_object_set(order, "refund", m);
        json_object_set_new(purchase, "amount", m);
    }
    if (a->to_balance)
        json_object_set_new(purchase, "refundToBalance", json_true());
    json_t *d = json_pack("{s:o, s:o}", "order", order, "purchase", purchase);
    char *details = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    struct notes_timeline_row row = {.customer_id = customer_id,
                                     .at_ms = cm_now_ms(),
                                     .kind = "ORDER",
                                     .type = a->type,
                                     .source = call->hdr->channel,
                                     .actor = notes_caller_name(call),
                                     .event_id = a->reference,
                                     .details = details};
    cm_err_t err = notes_history_store_timeline_add(call->db, TENANT(call), &row);
    free(details);
    if (err)
        cm_call_db_fail(call, err, "could not add to the timeline");
    return !err;
}

/* The action's event on the notes stream, in the transaction. */
static bool s_publish(struct cm_call *call, const char *customer_id, const struct s_action *a,
                      const char *status)
{
    Crm__PurchaseEvent pe = CRM__PURCHASE_EVENT__INIT;
    Crm__Money amount = CRM__MONEY__INIT;
    pe.customer_id = (char *)customer_id;
    pe.source = a->order->source;
    pe.order_id = a->order->id;
    pe.action_id = (char *)a->id;
    pe.reference = (char *)a->reference;
    pe.status = (char *)status;
    if (a->amount) {
        amount.amount_minor = a->amount;
        amount.currency = a->order->total->currency;
        pe.amount = &amount;
    }
    pe.items = (Crm__ReturnItem **)a->items;
    pe.n_items = a->n_items;
    pe.reason = a->reason;
    pe.refund_to_balance = a->to_balance;
    pe.done_by = (char *)notes_caller_name(call);
    size_t len = protobuf_c_message_get_packed_size(&pe.base);
    uint8_t *buf = cm_malloc(len ? len : 1);
    protobuf_c_message_pack(&pe.base, buf);
    Crm__Event ev = CRM__EVENT__INIT;
    ev.type = (char *)a->type;
    ev.tenant_id = TENANT(call);
    ev.principal = call->hdr->principal;
    ev.channel = call->hdr->channel[0] ? call->hdr->channel : "api";
    ev.request_id = call->hdr->request_id;
    ev.payload.data = buf;
    ev.payload.len = len;
    cm_err_t err = cm_outbox_add(call->db, &notes_outbox, &ev, customer_id);
    free(buf);
    if (err)
        cm_call_db_fail(call, err, "could not record the event");
    return !err;
}

/* The answer of an action: the order read back after it, the action's id,
 * the reference given and the amount; NULL with the call failed. */
static Crm__PurchaseActionResponse *s_answer(struct cm_call *call, const char *customer_id,
                                             const struct s_action *a, const char *reference)
{
    Crm__Purchase *after = NULL;
    int matches = 0;
    char next_id[NOTES_ID_SIZE];
    cm_err_t err = notes_purchases_store_lock(call->db, TENANT(call), customer_id, a->order->id,
                                              a->order->source, &after, &matches, next_id);
    if (err) {
        cm_call_db_fail(call, err, "could not read the purchase back");
        return NULL;
    }
    Crm__PurchaseActionResponse *r =
        (Crm__PurchaseActionResponse *)cm_pb_new(&crm__purchase_action_response__descriptor);
    r->purchase = after;
    cm_pb_set_str(&r->action_id, a->id);
    cm_pb_set_str(&r->reference, reference);
    if (a->amount) {
        r->amount = (Crm__Money *)cm_pb_new(&crm__money__descriptor);
        r->amount->amount_minor = a->amount;
        cm_pb_set_str(&r->amount->currency, a->order->total->currency);
    }
    return r;
}

/* Applies the action (status after it, returned quantities), writes its
 * timeline entry and event, and answers the order after it. */
static void s_finish(struct cm_call *call, const char *customer_id, struct s_action *a,
                     const char *status, const char *returned_qty, ProtobufCMessage **resp)
{
    json_t *items = json_array();
    for (size_t i = 0; i < a->n_items; i++)
        json_array_append_new(items, json_pack("{s:i, s:i}", "index", a->items[i]->index,
                                               "quantity", a->items[i]->quantity));
    char *items_json = json_dumps(items, JSON_COMPACT);
    json_decref(items);
    struct notes_purchase_action row = {.id = a->id,
                                        .customer_id = customer_id,
                                        .source = a->order->source,
                                        .order_id = a->order->id,
                                        .action = !strcmp(a->type, "purchase.returned") ? "RETURN"
                                                                                        : "CANCEL",
                                        .status = status,
                                        .amount_minor = a->amount,
                                        .currency = a->order->total->currency,
                                        .items_json = items_json,
                                        .returned_qty = returned_qty,
                                        .reason = a->reason,
                                        .to_balance = a->to_balance,
                                        .by = notes_caller_name(call),
                                        .reference = a->reference};
    cm_err_t err = notes_purchases_store_apply(call->db, TENANT(call), &row, NOTES_CREDIT_GRACE_S);
    free(items_json);
    if (err) {
        cm_call_db_fail(call, err, "could not apply the action to the purchase");
        return;
    }
    if (!s_timeline(call, customer_id, a) || !s_publish(call, customer_id, a, status))
        return;
    cm_log_info("%s order=%s amount=%" PRId64 " action=%s", a->type, a->order->id, a->amount,
                a->id);
    Crm__PurchaseActionResponse *r = s_answer(call, customer_id, a, a->reference);
    if (!r)
        return;
    /* The credit follows the commit (s_return_credit). */
    if (a->to_balance)
        cm_pb_set_str(&r->wallet_credit, "PENDING");
    *resp = &r->base;
}

/* The order's returned quantities as a PostgreSQL array literal. */
static char *s_qty_array(const int32_t *q, size_t n)
{
    size_t cap = 3 + n * 12; // "{", "}", NUL and each number with its comma
    char *s = cm_malloc(cap);
    size_t at = (size_t)snprintf(s, cap, "{");
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(s + at, cap - at, "%s%d", i ? "," : "", q[i]);
    snprintf(s + at, cap - at, "}");
    return s;
}

static void s_cancel(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__CancelPurchaseRequest *req = (const Crm__CancelPurchaseRequest *)msg;
    struct s_action a = {0};
    if (!s_begin(call, &a, "purchase.cancelled", req->customer_id, req->order_id, req->source,
                 req->reason))
        goto out;
    const char *st = a.order->status;
    if (strcmp(st, "PLACED") && strcmp(st, "PAID")) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "purchase %s is %s: only one placed or paid can be cancelled", req->order_id,
                     st);
        goto out;
    }
    char *qty = s_qty_array(a.order->returned_quantities, a.order->n_returned_quantities);
    s_finish(call, req->customer_id, &a, "CANCELLED", qty, resp);
    free(qty);
out:
    s_action_release(&a);
}

/* What customers says the wallet's currency is, left by s_return_prepare. */
struct s_return_prep {
    char wallet_currency[8]; // "" when the return does not go to the balance
};

/* Before the transaction: the wallet's currency, for a return to the balance,
 * so that no call to customers is needed to refuse one in another currency. */
static void s_return_prepare(struct cm_call *call, const ProtobufCMessage *msg)
{
    const Crm__ReturnPurchaseRequest *req = (const Crm__ReturnPurchaseRequest *)msg;
    struct s_return_prep *prep = cm_calloc(1, sizeof *prep);
    call->prep = prep;
    if (!req->refund_to_balance || !cm_uuid_valid(req->customer_id))
        return;
    Crm__GetWalletRequest wr = CRM__GET_WALLET_REQUEST__INIT;
    wr.id = req->customer_id;
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *w = NULL;
    cm_err_t err = cm_call_service(call, "customers", "customers.GetWallet", NULL, &wr.base,
                                   &crm__wallet__descriptor, WALLET_TIMEOUT_MS, &rh, &w);
    if (err)
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "customers did not answer in time; retry");
    else if (rh->status != CRM__STATUS__STATUS_OK)
        cm_call_fail(call, cm_err_of_status((int)rh->status), "could not read the wallet: %s",
                     rh->message);
    else
        snprintf(prep->wallet_currency, sizeof prep->wallet_currency, "%s",
                 ((Crm__Wallet *)w)->currency);
    if (w)
        protobuf_c_message_free_unpacked(w, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
}

static void s_return(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ReturnPurchaseRequest *req = (const Crm__ReturnPurchaseRequest *)msg;
    const struct s_return_prep *prep = call->prep;
    struct s_action a = {
        .items = req->items, .n_items = req->n_items, .to_balance = req->refund_to_balance};
    int32_t *qty = NULL, *returned = NULL;
    int64_t *amounts = NULL;
    char *qty_text = NULL;
    if (!s_begin(call, &a, "purchase.returned", req->customer_id, req->order_id, req->source,
                 req->reason))
        goto out;
    const Crm__Purchase *o = a.order;
    if (!strcmp(o->status, "CANCELLED")) {
        cm_call_fail(call, CM_ERR_PRECONDITION, "purchase %s was cancelled: nothing to return",
                     req->order_id);
        goto out;
    }
    size_t n = o->n_items;
    qty = cm_calloc(n ? n : 1, sizeof *qty);
    returned = cm_calloc(n ? n : 1, sizeof *returned);
    amounts = cm_calloc(n ? n : 1, sizeof *amounts);
    for (size_t i = 0; i < n; i++) {
        qty[i] = o->items[i]->quantity;
        amounts[i] = o->items[i]->amount_minor;
        returned[i] = i < o->n_returned_quantities ? o->returned_quantities[i] : 0;
    }
    struct notes_return_order ro = {.paid = o->paid_minor,
                                    .refunded = o->refunded_minor,
                                    .n_items = n,
                                    .quantity = qty,
                                    .amount = amounts,
                                    .returned = returned};
    struct notes_return_problem why;
    switch (notes_return_amount(&ro, req->whole, req->items, req->n_items, req->amount_minor,
                                &a.amount, &why)) {
    case NOTES_RETURN_OK:
        break;
    case NOTES_RETURN_INVALID:
        cm_call_violation(call, why.field, why.reason, "%s", why.description);
        goto out;
    case NOTES_RETURN_NOTHING_LEFT:
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     o->paid_minor ? "purchase %s was refunded in full already"
                                   : "purchase %s was not paid: nothing to return",
                     req->order_id);
        goto out;
    }
    if (req->refund_to_balance && strcmp(prep->wallet_currency, o->total->currency)) {
        cm_call_violation(call, "refundToBalance", "CURRENCY_MISMATCH",
                          "refundToBalance: the purchase is in %s, the customer's balance in %s",
                          o->total->currency, prep->wallet_currency);
        goto out;
    }
    qty_text = s_qty_array(returned, n);
    s_finish(call, req->customer_id, &a,
             notes_return_status(o->paid_minor, o->refunded_minor + a.amount), qty_text, resp);
out:
    free(qty);
    free(returned);
    free(amounts);
    free(qty_text);
    s_action_release(&a);
}

/* After the return committed (or a retry under its key is answered): the
 * credit to the balance, as the caller, idempotent on the return's
 * reference. Whatever customers answers, the return stands: the answer says
 * DONE with the entry, PENDING (the credit worker goes on trying) or
 * FAILED with customers' reason. */
static void s_return_credit(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage *resp)
{
    (void)msg;
    Crm__PurchaseActionResponse *r = (Crm__PurchaseActionResponse *)resp;
    if (!r->wallet_credit[0])
        return;
    struct notes_return_credit c = {0};
    snprintf(c.tenant, sizeof c.tenant, "%s", TENANT(call));
    snprintf(c.id, sizeof c.id, "%s", r->action_id);
    cm_err_t err = notes_purchases_store_credit_load(call->db, &c);
    if (err) {
        cm_log_warn("could not read the credit of return %s: %s", r->action_id,
                    cm_db_error(call->db));
        goto out;
    }
    if (!strcmp(c.state, "FAILED"))
        goto answer;
    Crm__AdjustWalletRequest ar;
    char *reason = NULL;
    notes_credit_request(&c, &ar, &reason);
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *wr = NULL;
    err = cm_call_service(call, "customers", "customers.AdjustWallet", NULL, &ar.base,
                          &crm__wallet_entry_response__descriptor, WALLET_TIMEOUT_MS, &rh, &wr);
    free(reason);
    Crm__Status st = err ? CRM__STATUS__STATUS_UNAVAILABLE : rh->status;
    const Crm__WalletEntry *entry = wr ? ((Crm__WalletEntryResponse *)wr)->entry : NULL;
    if (!strcmp(c.state, "PENDING"))
        notes_credit_record(call->db, &c, st, err ? "customers did not answer" : rh->message,
                            entry);
    if (entry && !r->wallet_entry)
        r->wallet_entry = (Crm__WalletEntry *)cm_pb_clone(&entry->base);
    if (wr)
        protobuf_c_message_free_unpacked(wr, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
answer:
    cm_pb_set_str(&r->wallet_credit, c.state);
    cm_pb_set_str(&r->wallet_credit_error, c.error ? c.error : "");
out:
    notes_return_credit_release(&c);
}

/* ---------------------------------------------------------------------- */
/* A credit customers refused for good                                     */

/* The order of the request locked into a->order and its return's credit,
 * which must be FAILED; a->id is the return's, a->reference names this
 * action for the timeline (type and the return's id, with the attempt for a
 * retry, which may come more than once). False with the call failed. */
static bool s_failed_credit(struct cm_call *call, const Crm__PurchaseCreditRequest *req,
                            struct s_action *a, const char *type)
{
    if (!s_begin(call, a, type, req->customer_id, req->order_id, req->source, ""))
        return false;
    char state[NOTES_CREDIT_STATE_SIZE];
    int attempts = 0;
    cm_err_t err = cm_uuid_valid(req->return_id)
                       ? notes_purchases_store_credit_lock(call->db, TENANT(call), req->customer_id,
                                                           req->order_id, a->order->source,
                                                           req->return_id, state, &attempts)
                       : CM_ERR_NOT_FOUND;
    if (err == CM_ERR_NOT_FOUND) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "purchase %s has no return %.64s to the balance",
                     req->order_id, req->return_id);
        return false;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not read the credit");
        return false;
    }
    if (strcmp(state, "FAILED")) {
        cm_call_fail(call, CM_ERR_PRECONDITION, "the credit of return %s is %s: %s", req->return_id,
                     state,
                     !strcmp(state, "DONE")      ? "it was made already"
                     : !strcmp(state, "SETTLED") ? "it was settled by hand"
                                                 : "it is being tried");
        return false;
    }
    snprintf(a->id, sizeof a->id, "%s", req->return_id);
    snprintf(a->reference, sizeof a->reference, "%s:%s:%d", type, req->return_id, attempts);
    a->to_balance = true;
    return true;
}

/* The answer of an action on a credit: the order after it, the return's
 * id, reference and credit, and the credit's state. */
static void s_credit_answer(struct cm_call *call, const Crm__PurchaseCreditRequest *req,
                            const struct s_action *a, const char *state, ProtobufCMessage **resp)
{
    char reference[80];
    snprintf(reference, sizeof reference, "purchase.returned:%s", a->id);
    Crm__PurchaseActionResponse *r = s_answer(call, req->customer_id, a, reference);
    if (!r)
        return;
    cm_pb_set_str(&r->wallet_credit, state);
    *resp = &r->base;
}

/* The credit's amount, for its timeline entry. */
static int64_t s_credit_amount(const Crm__Purchase *o, const char *return_id)
{
    for (size_t i = 0; i < o->n_credits; i++)
        if (!strcmp(o->credits[i]->return_id, return_id) && o->credits[i]->amount)
            return o->credits[i]->amount->amount_minor;
    return 0;
}

/* In the transaction, on a FAILED credit: a retry puts it back to PENDING
 * (the attempt itself follows the commit, s_return_credit, as the caller);
 * settling marks it SETTLED with who and when (staff paid it another way),
 * no credit made. Either is on the timeline. */
static void s_credit_action(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp, bool settle)
{
    const Crm__PurchaseCreditRequest *req = (const Crm__PurchaseCreditRequest *)msg;
    struct s_action a = {0};
    if (!s_failed_credit(call, req, &a,
                         settle ? "purchase.credit_settled" : "purchase.credit_retried"))
        goto out;
    a.amount = s_credit_amount(a.order, a.id);
    cm_err_t err = settle ? notes_purchases_store_credit_mark_settled(call->db, TENANT(call), a.id,
                                                                      notes_caller_name(call))
                          : notes_purchases_store_credit_reopen(call->db, TENANT(call), a.id,
                                                                NOTES_CREDIT_GRACE_S);
    if (err) {
        cm_call_db_fail(call, err, "could not change the credit");
        goto out;
    }
    if (!s_timeline(call, req->customer_id, &a))
        goto out;
    cm_log_info("credit of return %s %s", a.id, settle ? "settled by hand" : "tried again");
    s_credit_answer(call, req, &a, settle ? "SETTLED" : "PENDING", resp);
out:
    s_action_release(&a);
}

static void s_retry_credit(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    s_credit_action(call, msg, resp, false);
}

static void s_settle_credit(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    s_credit_action(call, msg, resp, true);
}

#define M(name, req, resp, fn, flags, scope) CM_METHOD("notes", name, req, resp, fn, flags, scope)

const struct cm_method notes_purchases_methods[] = {
    M("ListPurchases", list_purchases_request, list_purchases_response, s_list_purchases,
      CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("CancelPurchase", cancel_purchase_request, purchase_action_response, s_cancel,
      CM_METHOD_WRITE, CUSTOMERS_WRITE),
    CM_METHOD_FINISHED("notes", "ReturnPurchase", return_purchase_request, purchase_action_response,
                       s_return_prepare, s_return, s_return_credit, CM_METHOD_WRITE,
                       CUSTOMERS_WRITE),
    CM_METHOD_FINISHED("notes", "RetryPurchaseCredit", purchase_credit_request,
                       purchase_action_response, NULL, s_retry_credit, s_return_credit,
                       CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("SettlePurchaseCredit", purchase_credit_request, purchase_action_response, s_settle_credit,
      CM_METHOD_WRITE, CUSTOMERS_WRITE),
};
const size_t notes_purchases_n_methods =
    sizeof notes_purchases_methods / sizeof *notes_purchases_methods;
