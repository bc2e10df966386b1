/* Timeline, summary and intake: the handlers, the method table, and the
 * service hooks that follow the customers and notify streams (cm_follow) into
 * the timeline.
 *
 * The state lives here rather than in struct notes_history_cfg: one notes
 * process serves one service, and the hooks are the only way in. */
#include "notes_handlers.h"
#include "notes_files_store.h"
#include "notes_history_store.h"
#include "notes_forms_store.h"
#include "notes_visits_store.h"
#include "notes_orders_store.h"
#include "notes_rules_store.h"
#include "notes_intake.h"
#include "notes_zone.h"
#include "cm_follow.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "history.pb-c.h"
#include "notify.pb-c.h"
#include "subscriptions.pb-c.h"
#include "wallet.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TENANT(call) ((call)->hdr->tenant_id)
#define PAGE_DEFAULT 50
#define PAGE_MAX 200
/* How long the intake waits for customers.ResolveCustomer: under the
 * broker's 3 s worker liveness, since the worker does not heartbeat while it
 * waits. */
#define RESOLVE_TIMEOUT_MS 2500
/* Events one notes.IngestEvents takes. */
#define NOTES_INTAKE_BATCH_MAX 100
/* Times a batch's transaction is tried before its events go one by one: a
 * deadlock between two batches' commits is retryable. */
#define BATCH_ATTEMPTS 3
/* Time the tick may spend applying customer events before it serves requests again. */
#define FOLLOW_BUDGET_MS 200
#define CUSTOMERS_STREAM "customers"
#define NOTIFY_STREAM "notify"
/* The streams the timeline follows: the customers' changes and the messages
 * the notify service sent. */
static const char *const s_streams[] = {CUSTOMERS_STREAM, NOTIFY_STREAM};
#define N_STREAMS (sizeof s_streams / sizeof *s_streams)

static struct {
    const struct notes_history_cfg *cfg; // borrowed (main)
    struct cm_follow_def follow_def;
    cm_follow_t *follow; // owned: the customers and notify streams into the timeline
    bool with_notes;     // notes.notes exists (010_notes.sql)
    bool with_tasks;
    int64_t next_expiry_ms;
} s_st;

/* ---------------------------------------------------------------------- */
/* Intake                                                                  */

/* A field of ResolveCustomerRequest as the event names it. */
static void s_event_field(const char *field, char *out, size_t size)
{
    if (!strcmp(field, "system"))
        snprintf(out, size, "source");
    else if (!strcmp(field, "preferences.language"))
        snprintf(out, size, "customer.language");
    else
        snprintf(out, size, "customer.%s", field);
}

/* Asks customers which customer the event's record means (or registers one;
 * with known_only, only a read of a customer known with nothing new). Writes
 * its id into cid and returns 1; 0 when known_only found no such customer;
 * -1 with the call failed. */
/* The ResolveCustomerRequest of an event's record (borrowing its strings). */
static void s_resolve_request(const Crm__IntakeEvent *ev, enum notes_intake_family fam,
                              bool known_only, Crm__ResolveCustomerRequest *r)
{
    const Crm__IntakeCustomer *c = ev->customer;
    crm__resolve_customer_request__init(r);
    r->system = ev->source;
    r->external_id = c->external_id;
    r->first_name = c->first_name;
    r->last_name = c->last_name;
    r->email = c->email;
    r->phone = c->phone;
    r->signed_up = fam == NOTES_INTAKE_SIGNUP;
    r->language = c->language;
    r->known_only = known_only;
    bool store =
        fam == NOTES_INTAKE_ORDER || (fam != NOTES_INTAKE_BOOKING && !strcmp(ev->source, "store"));
    r->source = store ? CRM__SOURCE__SOURCE_STORE : CRM__SOURCE__SOURCE_BOOKING;
    if (fam == NOTES_INTAKE_MESSAGE || (fam == NOTES_INTAKE_SIGNUP && strcmp(ev->source, "store") &&
                                        strcmp(ev->source, "booking")))
        r->source = CRM__SOURCE__SOURCE_API;
}

static int s_resolve(struct cm_call *call, const Crm__IntakeEvent *ev, enum notes_intake_family fam,
                     bool known_only, char *cid)
{
    Crm__ResolveCustomerRequest r;
    s_resolve_request(ev, fam, known_only, &r);
    const char *channel = r.source == CRM__SOURCE__SOURCE_STORE     ? "store"
                          : r.source == CRM__SOURCE__SOURCE_BOOKING ? "booking"
                                                                    : "api";
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = NULL;
    cm_err_t err = cm_call_service(call, "customers", "customers.ResolveCustomer", channel, &r.base,
                                   &crm__resolve_customer_response__descriptor, RESOLVE_TIMEOUT_MS,
                                   &rh, &resp);
    int ok = -1;
    if (err == CM_ERR_TIMEOUT && call->hdr->deadline_unix_ms &&
        call->hdr->deadline_unix_ms - CM_CALL_MARGIN_MS <= cm_now_ms()) {
        cm_call_fail(call, CM_ERR_TIMEOUT, "deadline passed before the customer was resolved");
    } else if (err) {
        cm_log_warn("customers.ResolveCustomer: %s", cm_err_name(err));
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "customers did not answer in time; retry");
    } else if (rh->status == CRM__STATUS__STATUS_INVALID_ARGUMENT && rh->n_details) {
        for (size_t i = 0; i < rh->n_details; i++) {
            char f[300];
            s_event_field(rh->details[i]->field, f, sizeof f);
            cm_call_violation(call, f, rh->details[i]->reason, "%s: %s", f,
                              rh->details[i]->description);
        }
    } else if (known_only && rh->status == CRM__STATUS__STATUS_NOT_FOUND) {
        ok = 0;
    } else if (rh->status != CRM__STATUS__STATUS_OK) {
        cm_call_fail(call, cm_err_of_status((int)rh->status), "could not resolve the customer: %s",
                     rh->message);
    } else {
        const Crm__ResolveCustomerResponse *rr = (const Crm__ResolveCustomerResponse *)resp;
        snprintf(cid, NOTES_ID_SIZE, "%s", rr->customer_id);
        cm_log_debug("event %s resolved to customer %s by %s", ev->event_id, cid, rr->matched_by);
        ok = cid[0] ? 1 : -1;
        if (ok < 0)
            cm_call_fail(call, CM_ERR_INTERNAL, "customers resolved no customer");
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return ok;
}

/* The timeline row of an intake event: {"booking": {...}} and the like. */
static char *s_intake_details(const Crm__IntakeEvent *ev, enum notes_intake_family fam,
                              const char **kind)
{
    json_t *d = json_object();
    *kind = "CUSTOMER";
    if (fam == NOTES_INTAKE_BOOKING) {
        *kind = "BOOKING";
        json_object_set_new(d, "booking",
                            cm_pbjson_encode(&ev->booking->base, CM_PBJSON_OMIT_DEFAULTS));
    } else if (fam == NOTES_INTAKE_ORDER) {
        *kind = "ORDER";
        json_object_set_new(d, "order",
                            cm_pbjson_encode(&ev->order->base, CM_PBJSON_OMIT_DEFAULTS));
    } else if (fam == NOTES_INTAKE_MESSAGE) {
        *kind = "MESSAGE";
        json_object_set_new(d, "message",
                            cm_pbjson_encode(&ev->message->base, CM_PBJSON_OMIT_DEFAULTS));
    }
    char *s = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return s;
}

/* What s_ingest_prepare leaves for s_ingest: the customer the event's record
 * was resolved to ("" when the event was taken in before and customers could
 * not answer by a read alone), and the event's digest. */
struct s_ingest_prep {
    char customer_id[NOTES_ID_SIZE];
    char digest[NOTES_INTAKE_DIGEST_SIZE]; // notes_intake_digest of the event
};

/* Before the write: an event not taken in yet has its customer resolved by
 * the customers service here, so that no transaction (nor the claim's row
 * lock) is held while customers answers. Resolving is idempotent on the
 * source's customer id and the person's contacts, so two deliveries of one
 * event racing here resolve to the same customer, and the claim in s_ingest
 * lets one of them through.
 *
 * Most events are of a person customers knows by the source's id, with
 * nothing new: customers is asked first for that read alone, which changes
 * nothing even for an event taken in before, so the event's own record need
 * not be looked up first. Only when that read cannot answer is the record
 * looked up, and the customer resolved in full (registered, filled in) for an
 * event not taken in before: a repeat never registers anyone again (its
 * customer may have been deleted since). */
static void s_resolve_unknown(struct cm_call *call, const Crm__IntakeEvent *ev,
                              struct s_ingest_prep *prep);

static void s_ingest_prepare(struct cm_call *call, const ProtobufCMessage *msg)
{
    const Crm__IntakeEvent *ev = (const Crm__IntakeEvent *)msg;
    if (!notes_intake_check(call, ev))
        return;
    struct s_ingest_prep *prep = cm_malloc(sizeof *prep);
    prep->customer_id[0] = '\0';
    notes_intake_digest(ev, prep->digest);
    call->prep = prep;
    enum notes_intake_family fam = notes_intake_family(ev->type);
    if (s_resolve(call, ev, fam, true, prep->customer_id) != 0)
        return; /* resolved, or failed */
    s_resolve_unknown(call, ev, prep);
}

/* The rest of s_ingest_prepare for an event whose record customers could
 * not answer by a read alone. */
static void s_resolve_unknown(struct cm_call *call, const Crm__IntakeEvent *ev,
                              struct s_ingest_prep *prep)
{
    enum notes_intake_family fam = notes_intake_family(ev->type);
    char cid[NOTES_ID_SIZE];
    bool found = false, same = true;
    cm_err_t err =
        notes_history_store_claimed(call->db, TENANT(call), ev, prep->digest, &found, &same, cid);
    if (err) {
        cm_call_db_fail(call, err, "could not read the event's record");
        return;
    }
    if (!found)
        (void)s_resolve(call, ev, fam, false, prep->customer_id);
}

/* The timeline row of an event whose customer prep holds; *details (the
 * row's, owned) is the caller's to free. False when the event's time does not
 * read (checked before: not reached). */
static bool s_ingest_row(const Crm__IntakeEvent *ev, const struct s_ingest_prep *prep,
                         struct notes_timeline_row *row, char **details)
{
    int64_t at = 0;
    *details = NULL;
    if (notes_intake_time(ev->occurred_at, &at))
        return false;
    const char *kind;
    *details = s_intake_details(ev, notes_intake_family(ev->type), &kind);
    *row = (struct notes_timeline_row){.customer_id = prep->customer_id,
                                       .at_ms = at,
                                       .kind = kind,
                                       .type = ev->type,
                                       .source = ev->source,
                                       .event_id = ev->event_id,
                                       .details = *details};
    return true;
}

/* The answer to an event from what taking it in said (err, claimed, same,
 * the customer cid): the call's failure, or *resp. */
static void s_ingest_answer(struct cm_call *call, const Crm__IntakeEvent *ev, cm_err_t err,
                            bool claimed, bool same, const char *cid, ProtobufCMessage **resp)
{
    if (err == CM_ERR_NOT_FOUND) {
        /* Taken in before prepare looked, yet no record of it now: intake
         * records are never deleted, so only a hand-made change does this
         * (the statement wrote nothing without a customer). */
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "the event's record changed meanwhile; retry");
        return;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not record the event");
        return;
    }
    if (!claimed && !same) {
        /* Refused as customer writes refuse an idempotency key sent again with
         * another body: acknowledging it as a duplicate would drop the change
         * without a word. */
        cm_call_violation(call, "eventId", "REUSED",
                          "eventId %s of source %s was taken in before with other content; an "
                          "event that changed needs an eventId of its own",
                          ev->event_id, ev->source);
        cm_call_fail(call, CM_ERR_INVALID,
                     "eventId already used for a different event; use a new one");
        cm_log_info("event id reused for different content source=%s", ev->source);
        return;
    }
    if (!claimed)
        cm_log_info("duplicate event source=%s", ev->source);
    Crm__IngestEventResponse *r =
        (Crm__IngestEventResponse *)cm_pb_new(&crm__ingest_event_response__descriptor);
    cm_pb_set_str(&r->customer_id, cid);
    r->duplicate = !claimed;
    *resp = &r->base;
}

static void s_ingest(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__IntakeEvent *ev = (const Crm__IntakeEvent *)msg;
    struct notes_timeline_row row;
    char *details;
    if (!s_ingest_row(ev, call->prep, &row, &details))
        return; /* checked in s_ingest_prepare */
    /* One statement (no transaction around it): the claim, and with it the
     * timeline row and the booking's or order's state. A second delivery
     * stops at the claim (or waits there until the first one's ends). */
    char cid[NOTES_ID_SIZE] = "";
    bool claimed = false, same = true;
    cm_err_t err = notes_history_store_take_in(call->db, TENANT(call), ev,
                                               ((const struct s_ingest_prep *)call->prep)->digest,
                                               &row, &claimed, &same, cid);
    free(details);
    s_ingest_answer(call, ev, err, claimed, same, cid, resp);
}

/* ---------------------------------------------------------------------- */
/* Intake in batches                                                       */

/* One event of a batch: its item call (its failure stays its own), what
 * prepare would leave, and its outcome. */
struct s_batch_item {
    struct cm_call call;
    struct s_ingest_prep prep;
    bool ready;             // checked and resolved: to take in
    ProtobufCMessage *resp; // taken in: its IngestEventResponse
};

/* Asks customers, in one request, which customers the ready items' records
 * name when nothing is to be written for them (customers.ResolveKnown).
 * Items it cannot answer keep an empty customer id. Returns false with every
 * ready item failed when customers could not be asked. */
static bool s_batch_known(struct cm_call *call, const Crm__IntakeEvent *const *evs,
                          struct s_batch_item *items, size_t n)
{
    Crm__ResolveCustomerRequest *reqs = cm_calloc(n, sizeof *reqs);
    Crm__ResolveCustomerRequest **ptrs = cm_calloc(n, sizeof *ptrs);
    size_t *index = cm_calloc(n, sizeof *index);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].ready)
            continue;
        s_resolve_request(evs[i], notes_intake_family(evs[i]->type), true, &reqs[m]);
        ptrs[m] = &reqs[m];
        index[m++] = i;
    }
    bool ok = true;
    if (m) {
        Crm__ResolveKnownRequest r = CRM__RESOLVE_KNOWN_REQUEST__INIT;
        r.items = ptrs;
        r.n_items = m;
        Crm__ReplyHeader *rh = NULL;
        ProtobufCMessage *resp = NULL;
        cm_err_t err = cm_call_service(call, "customers", "customers.ResolveKnown", NULL, &r.base,
                                       &crm__resolve_known_response__descriptor, RESOLVE_TIMEOUT_MS,
                                       &rh, &resp);
        const Crm__ResolveKnownResponse *known = (const Crm__ResolveKnownResponse *)resp;
        cm_err_t fail = CM_OK;
        char why[256] = "";
        if (err) {
            cm_log_warn("customers.ResolveKnown: %s", cm_err_name(err));
            fail = CM_ERR_UNAVAILABLE;
            snprintf(why, sizeof why, "customers did not answer in time; retry");
        } else if (rh->status != CRM__STATUS__STATUS_OK || known->n_customer_ids != m) {
            fail = rh->status != CRM__STATUS__STATUS_OK ? cm_err_of_status((int)rh->status)
                                                        : CM_ERR_UPSTREAM;
            snprintf(why, sizeof why, "could not resolve the customer: %s",
                     rh->status != CRM__STATUS__STATUS_OK ? rh->message : "a short answer");
        }
        for (size_t k = 0; k < m; k++) {
            struct s_batch_item *it = &items[index[k]];
            if (fail) {
                cm_call_fail(&it->call, fail, "%s", why);
                it->ready = false;
            } else {
                snprintf(it->prep.customer_id, sizeof it->prep.customer_id, "%s",
                         known->customer_ids[k]);
            }
        }
        ok = !fail;
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        if (rh)
            crm__reply_header__free_unpacked(rh, NULL);
    }
    free(index);
    free(ptrs);
    free(reqs);
    return ok;
}

/* A place in the order items are taken in: by customer, so that batches
 * taken in at once lock the customers' rows (figures, bookings) in one
 * order; then as sent. */
struct s_slot {
    const char *customer_id; // borrowed: the item's prep
    size_t index;
};

static int s_by_customer(const void *a, const void *b)
{
    const struct s_slot *x = a, *y = b;
    int c = strcmp(x->customer_id, y->customer_id);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Takes the ready items in, in order, in one transaction: their statements
 * sent at once (notes_history_store_take_in_all), then COMMIT. Returns CM_OK
 * with every item answered, or the error of the transaction (rolled back,
 * the items' answers undone). */
static cm_err_t s_batch_together(struct cm_call *call, const Crm__IntakeEvent *const *evs,
                                 struct s_batch_item *items, const size_t *order, size_t n)
{
    cm_err_t err = cm_db_begin(call->db, TENANT(call));
    if (err)
        return err;
    struct notes_take_in_item *all = cm_calloc(n, sizeof *all);
    struct notes_timeline_row *rows = cm_calloc(n, sizeof *rows);
    char **details = cm_calloc(n, sizeof *details);
    size_t *which = cm_calloc(n, sizeof *which);
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        struct s_batch_item *it = &items[order[k]];
        if (!it->ready || !s_ingest_row(evs[order[k]], &it->prep, &rows[m], &details[m]))
            continue;
        all[m] = (struct notes_take_in_item){
            .ev = evs[order[k]], .digest = it->prep.digest, .row = &rows[m]};
        which[m++] = order[k];
    }
    err = notes_history_store_take_in_all(call->db, TENANT(call), all, m);
    for (size_t k = 0; k < m && !err; k++) {
        struct s_batch_item *it = &items[which[k]];
        s_ingest_answer(&it->call, evs[which[k]], all[k].err, all[k].claimed, all[k].same,
                        all[k].customer_id, &it->resp);
    }
    for (size_t k = 0; k < m; k++)
        free(details[k]);
    free(which);
    free(details);
    free(rows);
    free(all);
    if (!err)
        err = cm_db_commit(call->db);
    if (!err)
        return CM_OK;
    cm_db_rollback(call->db);
    for (size_t k = 0; k < n; k++) {
        struct s_batch_item *it = &items[k];
        if (!it->ready)
            continue;
        cm_call_reset(&it->call);
        if (it->resp)
            protobuf_c_message_free_unpacked(it->resp, NULL);
        it->resp = NULL;
    }
    return err;
}

/* Takes the ready items in: in one transaction when there are several, their
 * statements sent at once (a round trip and a commit for the lot), tried
 * again when the failure is worth retrying (a deadlock of two batches' commits
 * over the same customers' figures, a lost connection); else, or when it
 * keeps failing or PostgreSQL refuses an event's statement, one statement
 * each without a transaction, as IngestEvent does, so that only a bad event
 * fails. */
static void s_batch_take_in(struct cm_call *call, const Crm__IntakeEvent *const *evs,
                            struct s_batch_item *items, size_t n)
{
    struct s_slot *slots = cm_calloc(n, sizeof *slots);
    for (size_t i = 0; i < n; i++)
        slots[i] = (struct s_slot){.customer_id = items[i].prep.customer_id, .index = i};
    qsort(slots, n, sizeof *slots, s_by_customer);
    size_t *order = cm_calloc(n, sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = slots[i].index;
    free(slots);
    size_t ready = 0;
    for (size_t k = 0; k < n; k++)
        ready += items[order[k]].ready;
    cm_err_t err = CM_ERR_INVALID; // one event goes by itself
    for (int attempt = 0; ready > 1 && attempt < BATCH_ATTEMPTS; attempt++) {
        err = s_batch_together(call, evs, items, order, n);
        if (!err)
            break;
        cm_log_info("a batch of %zu events failed together: %s (%s)", ready, cm_err_name(err),
                    cm_db_sqlstate(call->db));
        if (err != CM_ERR_UNAVAILABLE)
            break;
    }
    for (size_t k = 0; k < n && err; k++) {
        struct s_batch_item *it = &items[order[k]];
        if (!it->ready)
            continue;
        it->call.prep = &it->prep;
        s_ingest(&it->call, &evs[order[k]]->base, &it->resp);
        it->call.prep = NULL;
    }
    free(order);
}

static void s_ingest_many(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__IngestEventsRequest *req = (const Crm__IngestEventsRequest *)msg;
    size_t n = req->n_events;
    if (n == 0 || n > NOTES_INTAKE_BATCH_MAX) {
        cm_call_violation(call, "events", n ? "TOO_MANY" : "REQUIRED",
                          "events must hold 1 to %d events", NOTES_INTAKE_BATCH_MAX);
        return;
    }
    const Crm__IntakeEvent *const *evs = (const Crm__IntakeEvent *const *)req->events;
    struct s_batch_item *items = cm_calloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++) {
        struct s_batch_item *it = &items[i];
        cm_call_item(&it->call, call);
        it->ready = notes_intake_check(&it->call, evs[i]);
        if (it->ready)
            notes_intake_digest(evs[i], it->prep.digest);
    }
    /* Who each event is of: one read for the people customers knows with
     * nothing new, then the rest one by one, as IngestEvent's prepare. */
    if (s_batch_known(call, evs, items, n)) {
        for (size_t i = 0; i < n; i++) {
            struct s_batch_item *it = &items[i];
            if (!it->ready || it->prep.customer_id[0])
                continue;
            s_resolve_unknown(&it->call, evs[i], &it->prep);
            it->ready = !cm_call_failed(&it->call);
        }
    }
    s_batch_take_in(call, evs, items, n);

    Crm__IngestEventsResponse *r =
        (Crm__IngestEventsResponse *)cm_pb_new(&crm__ingest_events_response__descriptor);
    r->results = cm_calloc(n, sizeof *r->results);
    r->n_results = n;
    for (size_t i = 0; i < n; i++) {
        Crm__IngestEventResult *res =
            (Crm__IngestEventResult *)cm_pb_new(&crm__ingest_event_result__descriptor);
        res->response = (Crm__IngestEventResponse *)items[i].resp;
        if (res->response && cm_call_failed(&items[i].call)) {
            protobuf_c_message_free_unpacked(&res->response->base, NULL);
            res->response = NULL;
        }
        res->header = cm_call_item_end(&items[i].call, call);
        r->results[i] = res;
    }
    free(items);
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Timeline and summary                                                    */

/* A page token: "<microseconds>_<entry id>". */
static bool s_parse_token(const char *tok, int64_t *us, char *id)
{
    const char *sep = strchr(tok, '_');
    if (!sep || sep == tok || sep - tok > 20)
        return false;
    char num[24];
    snprintf(num, sizeof num, "%.*s", (int)(sep - tok), tok);
    long v;
    if (cm_parse_long(num, 0, INT64_MAX, &v) || !cm_uuid_valid(sep + 1))
        return false;
    *us = v;
    snprintf(id, NOTES_ID_SIZE, "%s", sep + 1);
    return true;
}

/* A customer with no history yet: true when it exists (or has a history after
 * all); false with the call failed: 404 naming it when the customers service
 * knows no such customer, so an id nobody has is not answered as an empty
 * story. A deleted customer's history stays readable. */
static bool s_known(struct cm_call *call, const char *customer_id)
{
    bool any = false;
    cm_err_t err = notes_history_store_any(call->db, TENANT(call), customer_id, &any);
    if (err) {
        cm_call_db_fail(call, err, "could not read the timeline");
        return false;
    }
    if (any)
        return true;
    char *name = notes_customer(call, customer_id);
    bool exists = name != NULL;
    free(name);
    return exists;
}

static void s_list_timeline(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__ListTimelineRequest *req = (const Crm__ListTimelineRequest *)msg;
    struct notes_timeline_query q = {.customer_id = req->id,
                                     .limit = req->page_size ? req->page_size : PAGE_DEFAULT,
                                     .with_notes = s_st.with_notes,
                                     .with_tasks = s_st.with_tasks};
    char after_id[NOTES_ID_SIZE], next_id[NOTES_ID_SIZE];
    char *kinds = NULL;
    if (!cm_uuid_valid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", req->id);
        return;
    }
    if (req->page_size < 0)
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize must be 0..%d", PAGE_MAX);
    if (q.limit > PAGE_MAX)
        q.limit = PAGE_MAX;
    if (req->page_token[0]) {
        if (s_parse_token(req->page_token, &q.after_us, after_id))
            q.after_id = after_id;
        else
            cm_call_violation(call, "pageToken", "INVALID_FORMAT",
                              "pageToken is not one this service gave out");
    }
    if (req->n_kind) {
        struct cm_buf_like {
            char *s;
            size_t n;
        } b = {cm_strdup("{"), 1};
        for (size_t i = 0; i < req->n_kind; i++) {
            char name[48];
            if (req->kind[i] == CRM__TIMELINE_KIND__TIMELINE_KIND_UNSPECIFIED ||
                !cm_pbjson_enum_name(&crm__timeline_kind__descriptor, req->kind[i], name,
                                     sizeof name)) {
                cm_call_violation(call, "kind", "INVALID_FORMAT",
                                  "kind must be CUSTOMER, NOTE, TASK, BOOKING, ORDER, MESSAGE, "
                                  "CONSENT, IMPORT, WALLET, SUBSCRIPTION, FILE, FORM, "
                                  "ORDER_INSTRUCTION or VISIT_PARAMETERS");
                break;
            }
            char *t = cm_strfmt("%s%s%s", b.s, i ? "," : "", name);
            free(b.s);
            b.s = t;
        }
        kinds = cm_strfmt("%s}", b.s);
        free(b.s);
    }
    if (cm_call_failed(call)) {
        free(kinds);
        return;
    }
    q.kinds = kinds;
    Crm__ListTimelineResponse *r =
        (Crm__ListTimelineResponse *)cm_pb_new(&crm__list_timeline_response__descriptor);
    int64_t next_us = 0;
    cm_err_t err =
        notes_history_store_timeline_page(call->db, TENANT(call), &q, r, &next_us, next_id);
    free(kinds);
    if (err) {
        cm_call_db_fail(call, err, "could not read the timeline");
        crm__list_timeline_response__free_unpacked(r, NULL);
        return;
    }
    if (!r->n_entries && !req->page_token[0] && !s_known(call, req->id)) {
        crm__list_timeline_response__free_unpacked(r, NULL);
        return;
    }
    if (next_id[0]) {
        char *tok = cm_strfmt("%" PRId64 "_%s", next_us, next_id);
        cm_pb_set_str(&r->next_page_token, tok);
        free(tok);
    }
    /* Private content (a note's body, the customer's description) only for
     * who may read it. */
    for (size_t i = 0; i < r->n_entries; i++) {
        Crm__TimelineEntry *e = r->entries[i];
        cm_perm_hide_changes(call->hdr->principal, e->changes, e->n_changes);
        if (e->note && !cm_perm_private(call->hdr->principal))
            cm_pb_set_str(&e->note->body, "");
    }
    *resp = &r->base;
}

static void s_get_summary(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__GetSummaryRequest *req = (const Crm__GetSummaryRequest *)msg;
    if (!cm_uuid_valid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", req->id);
        return;
    }
    Crm__Summary *s = NULL;
    cm_err_t err = notes_history_store_summary(call->db, TENANT(call), req->id, &s);
    if (err) {
        cm_call_db_fail(call, err, "could not compute the summary");
        return;
    }
    /* registeredAt is the first timeline row's time: none, no history. */
    if (!s->registered_at[0] && !s_known(call, req->id)) {
        crm__summary__free_unpacked(s, NULL);
        return;
    }
    *resp = &s->base;
}

/* ---------------------------------------------------------------------- */
/* Customer events into the timeline                                       */

/* What a changed field of a customer is, for the timeline: a consent (its
 * own CONSENT rows), the VAT check the company service recorded (its own
 * customer.vat_checked row), or anything else. */
enum { S_CHANGE_PLAIN = 1, S_CHANGE_CONSENT = 2, S_CHANGE_VAT = 4 };

static unsigned s_change_class(const char *field)
{
    if (!strncmp(field, "preferences.", 12) && strcmp(field, "preferences.language") != 0)
        return S_CHANGE_CONSENT;
    if (!strncmp(field, "company.vatCheck", 16))
        return S_CHANGE_VAT;
    return S_CHANGE_PLAIN;
}

/* One timeline row of kind and type for an event of a followed stream, at the
 * event's time, with details d. */
static cm_err_t s_timeline_add(cm_db_t *db, const Crm__Event *ev, const char *cid, const char *kind,
                               const char *type, json_t *d)
{
    char *details = json_dumps(d, JSON_COMPACT);
    int64_t at = cm_now_ms();
    if (notes_intake_time(ev->occurred_at, &at))
        at = cm_now_ms();
    struct notes_timeline_row row = {.customer_id = cid,
                                     .at_ms = at,
                                     .kind = kind,
                                     .type = type,
                                     .source = ev->channel,
                                     .actor = ev->principal ? ev->principal->name : "",
                                     .event_id = ev->event_id,
                                     .details = details};
    cm_err_t err = notes_history_store_timeline_add(db, ev->tenant_id, &row);
    free(details);
    return err;
}

/* One row of the changes of the classes in `want` (S_CHANGE_*), none when
 * there are none of them (all of them when n is 0). */
static cm_err_t s_customer_row(cm_db_t *db, const Crm__Event *ev, const char *cid, const char *kind,
                               Crm__FieldChange **changes, size_t n, unsigned want)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!(s_change_class(changes[i]->field) & want))
            continue;
        json_array_append_new(arr, cm_pbjson_encode(&changes[i]->base, CM_PBJSON_OMIT_DEFAULTS));
    }
    if (n && json_array_size(arr) == 0) {
        json_decref(arr);
        return CM_OK; /* nothing of this kind changed */
    }
    json_t *d = json_object();
    if (json_array_size(arr))
        json_object_set(d, "changes", arr);
    json_decref(arr);
    cm_err_t err = s_timeline_add(db, ev, cid, kind, ev->type, d);
    json_decref(d);
    return err;
}

/* A new VAT check on the customer (its checkedAt changed): one readable row
 * with the status and its evidence, without VIES's raw answer (the audit
 * keeps that). A status reset by a changed number shows as that change. */
static cm_err_t s_vat_row(cm_db_t *db, const Crm__Event *ev, const Crm__Customer *c,
                          Crm__FieldChange **changes, size_t n)
{
    bool checked = false;
    for (size_t i = 0; i < n; i++)
        checked = checked || !strcmp(changes[i]->field, "company.vatCheck.checkedAt");
    const Crm__VatCheck *v = c->company ? c->company->vat_check : NULL;
    if (!checked || !v || !v->checked_at[0])
        return CM_OK;
    Crm__VatCheck shown = *v;
    shown.raw = (char *)"";
    shown.filled_name = (char *)"";
    shown.filled_address = (char *)"";
    json_t *d = json_object();
    json_object_set_new(d, "vatCheck", cm_pbjson_encode(&shown.base, CM_PBJSON_OMIT_DEFAULTS));
    cm_err_t err = s_timeline_add(db, ev, c->id, "CUSTOMER", "customer.vat_checked", d);
    json_decref(d);
    return err;
}

/* The timeline rows of one customer.* event. */
static cm_err_t s_customer_rows(cm_db_t *db, const Crm__Event *ev)
{
    Crm__CustomerEvent *ce = crm__customer_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!ce || !ce->customer || !cm_uuid_valid(ce->customer->id)) {
        cm_log_warn("customers event seq=%" PRIu64 " has no customer; skipped", ev->seq);
        if (ce)
            crm__customer_event__free_unpacked(ce, NULL);
        return CM_OK;
    }
    const char *cid = ce->customer->id;
    const char *kind = !strcmp(ev->channel, "import") ? "IMPORT" : "CUSTOMER";
    cm_err_t err;
    if (!strcmp(ev->type, "customer.updated")) {
        err = s_customer_row(db, ev, cid, kind, ce->changes, ce->n_changes, S_CHANGE_PLAIN);
        if (!err)
            err = s_customer_row(db, ev, cid, "CONSENT", ce->changes, ce->n_changes,
                                 S_CHANGE_CONSENT);
        if (!err)
            err = s_vat_row(db, ev, ce->customer, ce->changes, ce->n_changes);
    } else if (!strcmp(ev->type, "customer.created") ||
               !strncmp(ev->type, "customer.discount_", 18)) {
        /* created, or a price rule of the customer's own added, changed or
         * removed (its change of "discounts" carries the rule). */
        err = s_customer_row(db, ev, cid, kind, ce->changes, ce->n_changes,
                             S_CHANGE_PLAIN | S_CHANGE_CONSENT);
    } else {
        /* registered, deleted: what happened, not the fields again. */
        err = s_customer_row(db, ev, cid, "CUSTOMER", NULL, 0, S_CHANGE_PLAIN);
        if (!err && !strcmp(ev->type, "customer.deleted"))
            err = notes_history_store_erase_customer(db, ev->tenant_id, cid);
        if (!err && !strcmp(ev->type, "customer.deleted"))
            err = notes_files_store_erase_customer(db, ev->tenant_id, cid);
        if (!err && !strcmp(ev->type, "customer.deleted"))
            err = notes_forms_store_erase_customer(db, ev->tenant_id, cid);
        if (!err && !strcmp(ev->type, "customer.deleted"))
            err = notes_visits_store_erase_customer(db, ev->tenant_id, cid);
        if (!err && !strcmp(ev->type, "customer.deleted"))
            err = notes_orders_store_erase_events(db, ev->tenant_id, cid);
        if (!err && !strcmp(ev->type, "customer.deleted"))
            err = notes_rules_store_erase_customer(db, ev->tenant_id, cid);
    }
    crm__customer_event__free_unpacked(ce, NULL);
    return err;
}

/* A customer.merged event: what notes keeps of the duplicate moves to the
 * customer kept (notes_history_store_merge), and the kept customer's
 * timeline gets one row saying so, {"merged": {"id", "name"}}. Applied twice
 * (a replay), the second time changes nothing. */
static cm_err_t s_merged_rows(cm_db_t *db, const Crm__Event *ev)
{
    Crm__CustomerMergedEvent *me =
        crm__customer_merged_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!me || !me->customer || !cm_uuid_valid(me->customer->id) || !cm_uuid_valid(me->merged_id)) {
        cm_log_warn("merge event seq=%" PRIu64 " names no two customers; skipped", ev->seq);
        if (me)
            crm__customer_merged_event__free_unpacked(me, NULL);
        return CM_OK;
    }
    bool first = false;
    cm_err_t err = notes_history_store_merge(db, ev->tenant_id, me->customer->id, me->merged_id,
                                             ev->event_id, &first);
    if (!err && first) {
        json_t *d =
            json_pack("{s:{s:s, s:s}}", "merged", "id", me->merged_id, "name", me->merged_name);
        err = s_timeline_add(db, ev, me->customer->id, "CUSTOMER", ev->type, d);
        json_decref(d);
        cm_log_info("customer %s merged into %s: history moved", me->merged_id, me->customer->id);
    }
    crm__customer_merged_event__free_unpacked(me, NULL);
    return err;
}

/* The timeline row of one message.* event of the notify stream: what was
 * sent to the customer, on which channel, and what became of it. The streams
 * are independent, so an event may come after the customer's deletion, with
 * the words notify has not erased yet: the row is then what the erasure
 * leaves of one (notes_history_store_erase_customer), its channel and fate. */
static cm_err_t s_message_row(cm_db_t *db, const Crm__Event *ev)
{
    Crm__MessageEvent *me = crm__message_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!me || !me->message || !cm_uuid_valid(me->message->customer_id)) {
        /* A message to no customer of ours has no timeline. */
        if (me)
            crm__message_event__free_unpacked(me, NULL);
        return CM_OK;
    }
    const Crm__Message *m = me->message;
    /* A message set to go later is on the timeline once it goes (or fails),
     * not while it waits: a cancelled one never went (docs/notify.md). */
    if (!strcmp(ev->type, "message.queued") &&
        m->status == CRM__MESSAGE_STATUS__MESSAGE_STATUS_SCHEDULED) {
        crm__message_event__free_unpacked(me, NULL);
        return CM_OK;
    }
    /* A message to a record merged since is the kept customer's. */
    char cid[NOTES_ID_SIZE];
    bool erased = false;
    cm_err_t err = notes_history_store_merged_into(db, ev->tenant_id, m->customer_id, cid);
    if (!err)
        err = notes_history_store_customer_erased(db, ev->tenant_id, cid, &erased);
    if (err) {
        crm__message_event__free_unpacked(me, NULL);
        return err;
    }
    json_t *msg = json_pack("{s:s, s:s}", "id", m->id, "channel",
                            m->channel == CRM__CHANNEL__CHANNEL_SMS ? "sms" : "email");
    if (!erased)
        json_object_set_new(msg, "subject", json_string(m->subject));
    if (!erased && m->last_error[0] && !strcmp(ev->type, "message.failed"))
        json_object_set_new(msg, "reason", json_string(m->last_error));
    /* message.replied carries the start of the customer's answer. */
    if (!erased && me->reply && me->reply->text[0] && !strcmp(ev->type, "message.replied"))
        json_object_set_new(msg, "reply", json_string(me->reply->text));
    json_t *d = json_pack("{s:o}", "message", msg);
    err = s_timeline_add(db, ev, cid, "MESSAGE", ev->type, d);
    json_decref(d);
    crm__message_event__free_unpacked(me, NULL);
    return err;
}

/* The timeline row of a wallet.entry event of the customers stream: money or
 * points added or taken off, and where from. */
static cm_err_t s_wallet_row(cm_db_t *db, const Crm__Event *ev)
{
    Crm__WalletEvent *we = crm__wallet_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!we || !we->entry || !cm_uuid_valid(we->entry->customer_id)) {
        cm_log_warn("wallet event seq=%" PRIu64 " has no customer; skipped", ev->seq);
        if (we)
            crm__wallet_event__free_unpacked(we, NULL);
        return CM_OK;
    }
    json_t *d = json_object();
    json_object_set_new(d, "wallet", cm_pbjson_encode(&we->entry->base, CM_PBJSON_OMIT_DEFAULTS));
    cm_err_t err = s_timeline_add(db, ev, we->entry->customer_id, "WALLET", ev->type, d);
    json_decref(d);
    crm__wallet_event__free_unpacked(we, NULL);
    return err;
}

/* The timeline row of a subscription.* event of the customers stream: a
 * subscription sold, changed or cancelled, or a visit used or given back. */
static cm_err_t s_subscription_row(cm_db_t *db, const Crm__Event *ev)
{
    Crm__SubscriptionEvent *se =
        crm__subscription_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!se || !se->subscription || !cm_uuid_valid(se->subscription->customer_id)) {
        cm_log_warn("subscription event seq=%" PRIu64 " has no customer; skipped", ev->seq);
        if (se)
            crm__subscription_event__free_unpacked(se, NULL);
        return CM_OK;
    }
    json_t *d = json_object();
    json_object_set_new(d, "subscription",
                        cm_pbjson_encode(&se->subscription->base, CM_PBJSON_OMIT_DEFAULTS));
    cm_err_t err =
        s_timeline_add(db, ev, se->subscription->customer_id, "SUBSCRIPTION", ev->type, d);
    json_decref(d);
    crm__subscription_event__free_unpacked(se, NULL);
    return err;
}

/* A settings.updated event of the customers stream: no row (it concerns no
 * customer), but the business's zone this copy keeps follows it at once. */
static cm_err_t s_settings_changed(const Crm__Event *ev)
{
    Crm__SettingsEvent *se = crm__settings_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!se) {
        cm_log_warn("settings event seq=%" PRIu64 " does not decode; skipped", ev->seq);
        return CM_OK;
    }
    notes_zone_changed(ev->tenant_id, se->time_zone);
    crm__settings_event__free_unpacked(se, NULL);
    return CM_OK;
}

/* What a copy that does not lead takes from the streams (cm_follow's
 * watch): the business's zone, which every copy keeps. */
static int s_watch(void *ud, const Crm__Event *ev)
{
    (void)ud;
    if (!strcmp(ev->stream, CUSTOMERS_STREAM) && !strcmp(ev->type, "settings.updated"))
        (void)s_settings_changed(ev);
    return 0;
}

/* The rows an event makes, by its stream and type (cm_follow's apply, in
 * the transaction that moves the cursor). */
static cm_err_t s_rows(void *ud, cm_db_t *db, const Crm__Event *ev)
{
    (void)ud;
    if (!strcmp(ev->stream, CUSTOMERS_STREAM) && !strcmp(ev->type, "customer.merged"))
        return s_merged_rows(db, ev);
    if (!strcmp(ev->stream, CUSTOMERS_STREAM) && !strncmp(ev->type, "customer.", 9))
        return s_customer_rows(db, ev);
    if (!strcmp(ev->stream, CUSTOMERS_STREAM) && !strcmp(ev->type, "wallet.entry"))
        return s_wallet_row(db, ev);
    if (!strcmp(ev->stream, CUSTOMERS_STREAM) && !strncmp(ev->type, "subscription.", 13))
        return s_subscription_row(db, ev);
    if (!strcmp(ev->stream, CUSTOMERS_STREAM) && !strcmp(ev->type, "settings.updated"))
        return s_settings_changed(ev);
    if (!strcmp(ev->stream, NOTIFY_STREAM) && !strncmp(ev->type, "message.", 8))
        return s_message_row(db, ev);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Hooks and the table                                                     */

void notes_history_start(cm_svc_t *svc, void *user)
{
    s_st.cfg = user;
    s_st.follow_def = (struct cm_follow_def){.cursor_table = "notes.stream_cursor",
                                             .reader = "notes",
                                             .streams = s_streams,
                                             .n_streams = N_STREAMS,
                                             .events_out = s_st.cfg->events_out_endpoint,
                                             .bus = s_st.cfg->bus_endpoint,
                                             .apply = s_rows,
                                             .watch = s_watch};
    s_st.follow = cm_follow_new(&s_st.follow_def);
    cm_db_t *db = cm_svc_db(svc);
    if (notes_history_store_table_exists(db, "notes.notes", &s_st.with_notes) ||
        notes_history_store_table_exists(db, "notes.tasks", &s_st.with_tasks))
        cm_log_warn("could not look for the notes tables: %s", cm_db_error(db));
    if (!s_st.with_notes || !s_st.with_tasks)
        cm_log_warn("timeline without %s%s (table missing)", s_st.with_notes ? "" : "notes ",
                    s_st.with_tasks ? "" : "tasks");
}

void notes_history_stop(cm_svc_t *svc, void *user)
{
    (void)svc;
    (void)user;
    cm_follow_destroy(&s_st.follow);
}

void notes_history_tick(cm_svc_t *svc, void *user)
{
    (void)user;
    if (s_st.follow) /* started */
        cm_follow_tick(s_st.follow, svc, FOLLOW_BUDGET_MS);
    /* Replies to retried writes are kept for a day (as customers does). */
    int64_t now = cm_mono_ms();
    if (now >= s_st.next_expiry_ms) {
        cm_db_t *db = cm_svc_db(svc);
        if (cm_db_connect(db) || notes_history_store_idempotency_expire(db, 24))
            cm_log_warn("could not expire idempotency keys: %s", cm_db_error(db));
        s_st.next_expiry_ms = now + 3600 * 1000;
    }
}

#define M(name, req, resp, fn, flags, scope) CM_METHOD("notes", name, req, resp, fn, flags, scope)

const struct cm_method notes_history_methods[] = {
    /* Its write is one statement, idempotent on the source and event id:
     * over the bus without an idempotency key, no transaction around it. */
    CM_METHOD_PREPARED("notes", "IngestEvent", intake_event, ingest_event_response,
                       s_ingest_prepare, s_ingest, CM_METHOD_WRITE | CM_METHOD_ONE_STATEMENT,
                       EVENTS_PUBLISH),
    /* Many events: their own transaction, or one statement each (no BEGIN
     * from cm_svc). */
    M("IngestEvents", ingest_events_request, ingest_events_response, s_ingest_many,
      CM_METHOD_NO_TXN, EVENTS_PUBLISH),
    M("ListTimeline", list_timeline_request, list_timeline_response, s_list_timeline,
      CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("GetSummary", get_summary_request, summary, s_get_summary, CM_METHOD_NO_TXN, CUSTOMERS_READ),
};
const size_t notes_history_n_methods = sizeof notes_history_methods / sizeof *notes_history_methods;
