/* What notify erases when a customer is deleted (notify_erase.h). */
#include "notify_erase.h"
#include "notify_store.h"
#include "cm_log.h"
#include "cm_outbox.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "notify.pb-c.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The message as the stream's readers may keep it: what it was and became
 * (ids, channel, kind, status, attempts, times), not to whom or about what. */
static void s_scrub_message(const Crm__Message *m, Crm__Message *out)
{
    crm__message__init(out);
    out->id = m->id;
    out->customer_id = m->customer_id;
    out->channel = m->channel;
    out->kind = m->kind;
    out->from = m->from;
    out->from_name = m->from_name;
    out->message_id = m->message_id;
    out->status = m->status;
    out->attempts = m->attempts;
    out->permanent = m->permanent;
    out->next_attempt_at = m->next_attempt_at;
    out->created_at = m->created_at;
    out->sent_at = m->sent_at;
    out->failed_at = m->failed_at;
    out->sms = m->sms;
    out->conversation_id = m->conversation_id;
    out->send_at = m->send_at;
}

/* The reply without who wrote it and what: how it joined, when, its size. */
static void s_scrub_reply(const Crm__Reply *r, Crm__Reply *out)
{
    crm__reply__init(out);
    out->id = r->id;
    out->channel = r->channel;
    out->customer_id = r->customer_id;
    out->conversation_id = r->conversation_id;
    out->message_id = r->message_id;
    out->joined_by = r->joined_by;
    out->to = r->to;
    out->stop = r->stop;
    out->received_at = r->received_at;
    out->from_html = r->from_html;
    out->raw_size = r->raw_size;
}

uint8_t *notify_erase_scrub(const Crm__Event *ev, size_t *len)
{
    Crm__MessageEvent *me = crm__message_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!me)
        return NULL;
    Crm__Message m;
    Crm__Reply r;
    Crm__MessageEvent out = CRM__MESSAGE_EVENT__INIT;
    if (me->message) {
        s_scrub_message(me->message, &m);
        out.message = &m;
    }
    if (me->reply) {
        s_scrub_reply(me->reply, &r);
        out.reply = &r;
    }
    *len = crm__message_event__get_packed_size(&out);
    uint8_t *buf = cm_malloc(*len ? *len : 1);
    crm__message_event__pack(&out, buf);
    crm__message_event__free_unpacked(me, NULL);
    return buf;
}

cm_err_t notify_erase_customer(cm_db_t *db, const char *tenant, const char *customer_id)
{
    long n = 0;
    cm_err_t err = notify_store_erase_customer(db, tenant, customer_id);
    if (!err)
        err = cm_outbox_erase(db, &notify_outbox, tenant, customer_id, notify_erase_scrub, &n);
    if (!err && n)
        cm_log_info("customer %s erased: %ld notify events rewritten", customer_id, n);
    return err;
}

/* A customer.merged: the duplicate's messages, replies, account and the
 * rest move to the customer kept (notify_store_merge). */
static cm_err_t s_merge_apply(cm_db_t *db, const Crm__Event *ev)
{
    Crm__CustomerMergedEvent *me =
        crm__customer_merged_event__unpack(NULL, ev->payload.len, ev->payload.data);
    cm_err_t err = CM_OK;
    bool first = false;
    if (!me || !me->customer || !cm_uuid_valid(me->customer->id) || !cm_uuid_valid(me->merged_id) ||
        !cm_uuid_valid(ev->tenant_id))
        cm_log_warn("merge event seq=%" PRIu64 " names no two customers; skipped", ev->seq);
    else
        err = notify_store_merge(db, ev->tenant_id, me->customer->id, me->merged_id, ev->event_id,
                                 &first);
    if (!err && first)
        cm_log_info("customer %s merged into %s: messages moved", me->merged_id, me->customer->id);
    if (me)
        crm__customer_merged_event__free_unpacked(me, NULL);
    return err;
}

cm_err_t notify_erase_apply(cm_db_t *db, const Crm__Event *ev)
{
    if (!strcmp(ev->type, "customer.merged"))
        return s_merge_apply(db, ev);
    if (strcmp(ev->type, "customer.deleted") != 0)
        return CM_OK;
    Crm__CustomerEvent *ce = crm__customer_event__unpack(NULL, ev->payload.len, ev->payload.data);
    cm_err_t err = CM_OK;
    if (ce && ce->customer && cm_uuid_valid(ce->customer->id) && cm_uuid_valid(ev->tenant_id))
        err = notify_erase_customer(db, ev->tenant_id, ce->customer->id);
    if (ce)
        crm__customer_event__free_unpacked(ce, NULL);
    return err;
}
