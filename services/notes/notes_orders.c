/* The Orders bot's bus side: the instructions of an order, and the "notes"
 * event stream's relay and replay. */
#include "notes_orders.h"
#include "notes_orders_store.h"
#include "notes_handlers.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_outbox.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "rules.pb-c.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The source's name and the order id: as the intake takes them in. */
#define SOURCE_MAX 50
#define ORDER_ID_MAX 200

/* The outbox's retention: events deleted at once at most, and how often it
 * is looked after (sooner while a backlog is left). */
#define PRUNE_BATCH 1000
#define PRUNE_EVERY_MS (3600 * 1000)
#define PRUNE_BACKLOG_MS 1000

/* The stream's publisher, shared by the handler threads' after_commit and
 * the tick: relay_mu keeps this copy's events in order. */
static struct {
    pthread_mutex_t relay_mu;
    cm_events_pub_t *pub; // owned
    long retain_hours;
    int64_t next_heartbeat_ms;
    int64_t next_prune_ms;
} s_o = {.relay_mu = PTHREAD_MUTEX_INITIALIZER};

static void s_list(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ListOrderInstructionsRequest *req = (const Crm__ListOrderInstructionsRequest *)msg;
    if (!cm_uuid_valid(req->customer_id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", req->customer_id);
        return;
    }
    /* Another business's customer is not found, whatever the query says. */
    char *name = notes_customer(call, req->customer_id);
    if (!name)
        return;
    free(name);
    if (!req->source[0] || strlen(req->source) > SOURCE_MAX)
        cm_call_violation(call, "source", req->source[0] ? "TOO_LONG" : "REQUIRED",
                          "source: the store's name, 1..%d characters", SOURCE_MAX);
    if (!req->order_id[0] || strlen(req->order_id) > ORDER_ID_MAX)
        cm_call_violation(call, "orderId", req->order_id[0] ? "TOO_LONG" : "REQUIRED",
                          "orderId: the store's order id, 1..%d characters", ORDER_ID_MAX);
    if (cm_call_failed(call))
        return;
    Crm__ListOrderInstructionsResponse *r = (Crm__ListOrderInstructionsResponse *)cm_pb_new(
        &crm__list_order_instructions_response__descriptor);
    cm_err_t err = notes_orders_store_list(call->db, call->hdr->tenant_id, req->customer_id,
                                           req->source, req->order_id, r);
    if (err) {
        cm_call_db_fail(call, err, "could not read the order's instructions");
        crm__list_order_instructions_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

static void s_replay_events(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    /* A durable reader (one of the suite's services; an outside system may
     * not be one) has its position kept in notes.stream_readers. */
    cm_outbox_serve_replay(call, &notes_outbox, (const Crm__ReplayEventsRequest *)msg, resp);
}

void notes_orders_start(cm_svc_t *svc, const char *events_in, long retain_hours)
{
    s_o.pub = cm_events_pub_new(cm_svc_zctx(svc), events_in);
    s_o.retain_hours = retain_hours;
    s_o.next_heartbeat_ms = 0;
    s_o.next_prune_ms = 0;
}

/* Deletes events older than the retention (and passed by every durable
 * reader, should one of the suite's services ever follow the stream).
 * Returns how many. */
static long s_prune(cm_db_t *db)
{
    long deleted = 0;
    uint64_t gone = 0;
    char held[200];
    cm_err_t err = cm_outbox_prune(db, &notes_outbox, s_o.retain_hours * 3600, "", PRUNE_BATCH,
                                   &deleted, &gone, held, sizeof held);
    if (err)
        cm_log_warn("could not prune the outbox: %s", cm_db_error(db));
    else if (deleted)
        cm_log_info("outbox: deleted %ld events; events up to seq %" PRIu64 " are gone", deleted,
                    gone);
    return err ? 0 : deleted;
}

void notes_orders_stop(void)
{
    /* Whatever is still unpublished goes out with the next relay of any copy. */
    pthread_mutex_lock(&s_o.relay_mu);
    cm_events_pub_destroy(&s_o.pub);
    pthread_mutex_unlock(&s_o.relay_mu);
}

static void s_relay(cm_db_t *db, bool heartbeat)
{
    pthread_mutex_lock(&s_o.relay_mu);
    if (s_o.pub) {
        (void)cm_outbox_relay(db, &notes_outbox, s_o.pub);
        if (heartbeat)
            cm_outbox_heartbeat(db, &notes_outbox, s_o.pub);
    }
    pthread_mutex_unlock(&s_o.relay_mu);
}

void notes_orders_after_commit(cm_svc_t *svc, cm_db_t *db, void *user)
{
    (void)svc;
    (void)user;
    s_relay(db, false);
}

void notes_orders_tick(cm_svc_t *svc)
{
    cm_db_t *db = cm_svc_db(svc);
    int64_t now = cm_mono_ms();
    bool beat = now >= s_o.next_heartbeat_ms;
    s_relay(db, beat);
    if (beat)
        s_o.next_heartbeat_ms = now + 1000;
    if (s_o.retain_hours >= 0 && now >= s_o.next_prune_ms)
        s_o.next_prune_ms = now + (s_prune(db) >= PRUNE_BATCH ? PRUNE_BACKLOG_MS : PRUNE_EVERY_MS);
}

#define M(name, req, resp, fn, flags, scope) CM_METHOD("notes", name, req, resp, fn, flags, scope)

const struct cm_method notes_orders_methods[] = {
    M("ListOrderInstructions", list_order_instructions_request, list_order_instructions_response,
      s_list, CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("ReplayEvents", replay_events_request, replay_events_response, s_replay_events,
      CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN, EVENTS_READ),
};
const size_t notes_orders_n_methods = sizeof notes_orders_methods / sizeof *notes_orders_methods;
