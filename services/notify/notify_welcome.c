/* Welcome on auto-registration (notify_welcome.h). */
#include "notify_welcome.h"
#include "notify_accounts.h"
#include "notify_compose.h"
#include "notify_erase.h"
#include "notify_handlers.h"
#include "notify_mime.h"
#include "notify_welcome_store.h"
#include "cm_follow.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOW_BUDGET_MS 100 // applying events per tick, before requests are served again
#define TICK_EVERY_MS 500    // how often a copy looks for welcomes to send
#define CLAIM_MAX 16
#define SEND_LEASE_MS 15000 // a claimed welcome comes back after this if its copy dies
#define GIVE_UP_ATTEMPTS 50 // customers never answered: the welcome is dropped, logged
#define KEY_PREFIX "welcome:"

static const char *const s_streams[] = {"customers"};

/* ---------------------------------------------------------------------- */
/* Following the customers stream                                          */

/* A registration the booking system or the store made: a work row when the
 * tenant welcomes them; a customer deleted: erased from notify's stored
 * events; two merged: the duplicate's rows moved (notify_erase.h). In
 * cm_follow's transaction. */
static cm_err_t s_apply(void *ud, cm_db_t *db, const Crm__Event *ev)
{
    (void)ud;
    if (strcmp(ev->type, "customer.registered") != 0)
        return notify_erase_apply(db, ev);
    Crm__CustomerEvent *ce = crm__customer_event__unpack(NULL, ev->payload.len, ev->payload.data);
    cm_err_t err = CM_OK;
    const Crm__Customer *c = ce ? ce->customer : NULL;
    if (!c || !cm_uuid_valid(c->id) || !cm_uuid_valid(ev->tenant_id) || !ev->occurred_at[0] ||
        strlen(ev->event_id) > NOTIFY_WELCOME_EVENT_ID_MAX) {
        cm_log_warn("customers event seq=%" PRIu64 " is not a registration notify can read; "
                    "skipped",
                    ev->seq);
    } else if (c->source == CRM__SOURCE__SOURCE_BOOKING || c->source == CRM__SOURCE__SOURCE_STORE) {
        bool recorded = false;
        err = notify_welcome_store_record(db, ev->tenant_id, ev->event_id, c->id, ev->occurred_at,
                                          &recorded);
        if (!err && recorded)
            cm_log_info("customer %s registered automatically: welcome due", c->id);
    }
    if (ce)
        crm__customer_event__free_unpacked(ce, NULL);
    return err;
}

void notify_welcome_start(struct notify_state *st)
{
    st->welcome_def = (struct cm_follow_def){.cursor_table = "notify.stream_cursor",
                                             .reader = "notify",
                                             .streams = s_streams,
                                             .n_streams = 1,
                                             .events_out = st->events_out_endpoint,
                                             .bus = st->bus,
                                             .apply = s_apply,
                                             .ud = st};
    st->welcome_follow = cm_follow_new(&st->welcome_def);
}

void notify_welcome_stop(struct notify_state *st)
{
    cm_follow_destroy(&st->welcome_follow);
}

void notify_welcome_tick(cm_svc_t *svc, struct notify_state *st)
{
    if (!st->welcome_follow)
        return;
    cm_follow_tick(st->welcome_follow, svc, FOLLOW_BUDGET_MS);
    int64_t now = cm_mono_ms();
    if (!st->campaign_client || now < st->next_welcome_ms)
        return;
    st->next_welcome_ms = now + TICK_EVERY_MS;
    struct notify_welcome_claim claims[CLAIM_MAX];
    int n = 0;
    if (notify_welcome_store_claim(cm_svc_db(svc), CLAIM_MAX, SEND_LEASE_MS, claims, &n)) {
        cm_log_warn("could not claim welcomes to send: %s", cm_db_error(cm_svc_db(svc)));
        return;
    }
    for (int i = 0; i < n; i++) {
        Crm__SendWelcomeRequest req = CRM__SEND_WELCOME_REQUEST__INIT;
        req.event_id = claims[i].event_id;
        /* Answered before the lease runs out, or another copy may take it. */
        if (notify_compose_ask(st->campaign_client, claims[i].tenant_id, "notify.SendWelcome",
                               "welcome", &req.base, SEND_LEASE_MS - 3000))
            cm_log_warn("could not ask to send a welcome; claimed again later");
    }
}

/* ---------------------------------------------------------------------- */
/* SendWelcome                                                             */

/* The welcome's row goes: sent, or it never can be (outcome says why). */
static void s_done(struct cm_call *call, const char *event_id, const char *outcome,
                   const char *message_id, ProtobufCMessage **resp)
{
    cm_err_t err = notify_welcome_store_done(call->db, call->hdr->tenant_id, event_id);
    if (err) {
        /* The row comes back when its lease ends; its key keeps it to one message. */
        cm_call_db_fail(call, err, "could not record the welcome");
        return;
    }
    if (cm_call_failed(call))
        return;
    Crm__SendWelcomeResponse *r =
        (Crm__SendWelcomeResponse *)cm_pb_new(&crm__send_welcome_response__descriptor);
    cm_pb_set_str(&r->outcome, outcome);
    cm_pb_set_str(&r->message_id, message_id);
    *resp = &r->base;
}

static bool s_reachable(const Crm__Customer *c, bool sms)
{
    return sms ? c->phone[0] != '\0' : c->email[0] && notify_mime_addr_ok(c->email);
}

void notify_welcome_send(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__SendWelcomeRequest *req = (const Crm__SendWelcomeRequest *)msg;
    struct notify_state *st = call->user;
    const Crm__Principal *who = call->hdr->principal;
    if (!who || who->role != CRM__ROLE__ROLE_SERVICE || strcmp(who->id, "notify")) {
        cm_call_fail(call, CM_ERR_PERMISSION, "only notify itself sends a welcome");
        return;
    }
    struct notify_welcome_row row;
    cm_err_t err = notify_welcome_store_get(call->db, call->hdr->tenant_id, req->event_id, &row);
    if (err == CM_ERR_NOT_FOUND) {
        s_done(call, req->event_id, "GONE", "", resp);
        return;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not read the welcome");
        return;
    }
    if (!(row.sms ? st->sms : st->email)) {
        cm_log_warn("welcome of customer %s not sent: %s is not configured", row.customer_id,
                    row.sms ? "SMS" : "e-mail");
        s_done(call, req->event_id, "NOT_CONFIGURED", "", resp);
        return;
    }
    Crm__Customer *c = notify_compose_customer(call, row.customer_id, NULL);
    if (!c) {
        if (call->err == CM_ERR_NOT_FOUND)
            s_done(call, req->event_id, "GONE", "", resp);
        else if (row.attempts >= GIVE_UP_ATTEMPTS) {
            cm_log_error("welcome of customer %s dropped after %d attempts: %s", row.customer_id,
                         row.attempts, call->message);
            s_done(call, req->event_id, "GONE", "", resp);
        }
        return;
    }
    bool active = c->account && c->account->status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE;
    if (active) {
        s_done(call, req->event_id, "ACCOUNT_ACTIVE", "", resp);
    } else if (!s_reachable(c, row.sms)) {
        s_done(call, req->event_id, "NOT_REACHABLE", "", resp);
    } else {
        char *key = cm_strfmt(KEY_PREFIX "%s", req->event_id);
        Crm__Message *m = notify_accounts_queue(call, st, call->hdr->tenant_id, c,
                                                NOTIFY_KIND_WELCOME, row.sms, key);
        free(key);
        if (m) {
            s_done(call, req->event_id, "SENT", m->id, resp);
            crm__message__free_unpacked(m, NULL);
        }
    }
    crm__customer__free_unpacked(c, NULL);
}
