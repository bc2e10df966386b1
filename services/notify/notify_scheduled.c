/* Messages sent later: CancelMessage, ReleaseMessage and the tick that finds
 * scheduled messages due (notify_schedule.h). A scheduled message waits in
 * notify.queue as a held row the senders never take; when it is due, a copy's
 * tick claims it and asks notify itself to release it (ReleaseMessage, which
 * asks customers with no transaction open), so the customer's consents and
 * address as they are when the message goes decide, not those it was set up
 * with. */
#include "notify_schedule.h"
#include "notify_schedule_store.h"
#include "notify_compose.h"
#include "notify_handlers.h"
#include "notify_sender.h"
#include "notify_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_EVERY_MS 500 // how often a copy looks for scheduled messages due
#define CLAIM_MAX 16
#define RELEASE_LEASE_MS 15000 // a claimed message comes back after this if no release happened

/* ---------------------------------------------------------------------- */
/* CancelMessage                                                           */

void notify_schedule_cancel(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__CancelMessageRequest *req = (const Crm__CancelMessageRequest *)msg;
    bool found = false, cancelled = false;
    const Crm__Principal *who = call->hdr->principal;
    char reason[200];
    snprintf(reason, sizeof reason, "cancelled by %s before it was sent",
             who && who->name[0] ? who->name : "staff");
    cm_err_t err = cm_uuid_valid(req->id)
                       ? notify_schedule_store_cancel(call->db, req->id, reason, &found, &cancelled)
                       : CM_OK;
    Crm__Message *m = NULL;
    if (!err && cancelled)
        err = notify_store_get(call->db, req->id, &m);
    if (err)
        cm_call_db_fail(call, err, "could not cancel the message");
    else if (!found)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "message %s not found", req->id);
    else if (!cancelled)
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "message %s is not scheduled any more (being sent, sent or ended): nothing "
                     "to cancel",
                     req->id);
    else {
        cm_log_info("scheduled message %s cancelled", req->id);
        *resp = &m->base;
    }
}

/* ---------------------------------------------------------------------- */
/* ReleaseMessage                                                          */

static void s_outcome(struct cm_call *call, const char *outcome, ProtobufCMessage **resp)
{
    if (cm_call_failed(call))
        return;
    Crm__ReleaseMessageResponse *r =
        (Crm__ReleaseMessageResponse *)cm_pb_new(&crm__release_message_response__descriptor);
    cm_pb_set_str(&r->outcome, outcome);
    *resp = &r->base;
}

/* Ends message m (status, reason) instead of sending it. */
static void s_end(struct cm_call *call, const Crm__Message *m, const char *status,
                  const char *reason, ProtobufCMessage **resp)
{
    bool ended = false;
    cm_err_t err =
        notify_schedule_store_end(call->db, call->hdr->tenant_id, m->id, status, reason, &ended);
    if (err) {
        cm_call_db_fail(call, err, "could not end the scheduled message");
        return;
    }
    if (ended)
        cm_log_info("scheduled message %s not sent: %s", m->id, reason);
    s_outcome(call, ended ? status : "GONE", resp);
}

void notify_schedule_release(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__ReleaseMessageRequest *req = (const Crm__ReleaseMessageRequest *)msg;
    struct notify_state *st = call->user;
    const Crm__Principal *who = call->hdr->principal;
    if (!who || who->role != CRM__ROLE__ROLE_SERVICE || strcmp(who->id, "notify")) {
        cm_call_fail(call, CM_ERR_PERMISSION, "only notify itself releases a scheduled message");
        return;
    }
    Crm__Message *m = NULL;
    cm_err_t err =
        cm_uuid_valid(req->id) ? notify_store_get(call->db, req->id, &m) : CM_ERR_NOT_FOUND;
    if (err == CM_ERR_NOT_FOUND ||
        (!err && m->status != CRM__MESSAGE_STATUS__MESSAGE_STATUS_SCHEDULED)) {
        s_outcome(call, "GONE", resp);
        goto out;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not read the message");
        goto out;
    }
    /* No transaction while customers answers; a failure leaves the row to
     * its lease, and it is tried again. */
    Crm__Customer *c =
        m->customer_id[0] ? notify_compose_customer(call, m->customer_id, NULL) : NULL;
    if (!c && m->customer_id[0]) {
        if (call->err == CM_ERR_NOT_FOUND) {
            /* Not a failure of this call: the message ends, and says why. */
            call->err = CM_OK;
            s_end(call, m, "CANCELLED", "the customer was deleted before it was sent", resp);
        }
        goto out;
    }
    /* The customer as they are now decides: their consent, and the address
     * (or number) it goes to, which the message then records. */
    bool sms = m->channel == CRM__CHANNEL__CHANNEL_SMS;
    const char *refusal = c ? notify_schedule_refusal(c, sms, m->kind) : NULL;
    char to[300] = "", to_name[512] = "";
    if (c && !refusal) {
        snprintf(to, sizeof to, "%s", sms ? c->phone : c->email);
        notify_compose_name(c, to_name, sizeof to_name);
    }
    if (c)
        crm__customer__free_unpacked(c, NULL);
    if (refusal) {
        s_end(call, m, "FAILED", refusal, resp);
        goto out;
    }
    bool released = false;
    err = cm_db_begin(call->db, call->hdr->tenant_id);
    if (!err)
        err = notify_schedule_store_release(call->db, m->id, to[0] ? to : NULL,
                                            to[0] ? to_name : NULL, &released);
    if (!err)
        err = cm_db_commit(call->db);
    if (err) {
        cm_db_rollback(call->db);
        cm_call_db_fail(call, err, "could not release the scheduled message");
        goto out;
    }
    if (released) {
        cm_log_info("scheduled message %s released to the senders", m->id);
        notify_sender_wake(st->sender);
    }
    s_outcome(call, released ? "QUEUED" : "GONE", resp);
out:
    if (m)
        crm__message__free_unpacked(m, NULL);
}

/* ---------------------------------------------------------------------- */
/* The tick                                                                */

void notify_schedule_tick(cm_svc_t *svc, struct notify_state *st)
{
    int64_t now = cm_mono_ms();
    if (!st->campaign_client || now < st->next_schedule_ms)
        return;
    st->next_schedule_ms = now + TICK_EVERY_MS;
    struct notify_claim claims[CLAIM_MAX];
    int n = 0;
    if (notify_schedule_store_claim(cm_svc_db(svc), CLAIM_MAX, RELEASE_LEASE_MS, claims, &n)) {
        cm_log_warn("could not claim scheduled messages: %s", cm_db_error(cm_svc_db(svc)));
        return;
    }
    for (int i = 0; i < n; i++) {
        Crm__ReleaseMessageRequest req = CRM__RELEASE_MESSAGE_REQUEST__INIT;
        req.id = claims[i].id;
        /* Answered before the lease runs out, or another copy may take it. */
        if (notify_compose_ask(st->campaign_client, claims[i].tenant_id, "notify.ReleaseMessage",
                               "schedule", &req.base, RELEASE_LEASE_MS - 3000))
            cm_log_warn("could not ask to release message %s; claimed again later", claims[i].id);
    }
}
