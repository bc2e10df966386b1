/* Transactional outbox and relay of the customers stream. */
#include "customers_events.h"
#include "cm_events.h"
#include "cm_outbox.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_perm.h"
#include "cm_util.h"
#include "wallet.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replaces the event's payload with m packed. */
static void s_set_payload(Crm__Event *ev, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = cm_malloc(len ? len : 1);
    protobuf_c_message_pack(m, buf);
    free(ev->payload.data);
    ev->payload.data = buf;
    ev->payload.len = len;
}

/* A merge's event with the kept customer's description hidden. */
static void s_hide_merged(const Crm__Principal *principal, Crm__Event *ev)
{
    Crm__CustomerMergedEvent *me =
        crm__customer_merged_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!me)
        return;
    if (cm_perm_hide_customer(principal, me->customer))
        s_set_payload(ev, &me->base);
    crm__customer_merged_event__free_unpacked(me, NULL);
}

/* A customer event for a reader without private:read: the customer's
 * description, and the values of a change to it, are left out. */
static void s_hide_private(const Crm__Principal *principal, Crm__Event *ev)
{
    /* A settings event's payload could pass for a customer's (both start
     * with a length-delimited field 1), and it has nothing private. */
    if (!ev->payload.len || !strcmp(ev->type, CUSTOMERS_SETTINGS_EVENT))
        return;
    if (!strcmp(ev->type, CUSTOMERS_MERGED_EVENT)) {
        s_hide_merged(principal, ev);
        return;
    }
    Crm__CustomerEvent *ce = crm__customer_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!ce)
        return; /* not a customer event (stream.* events carry none) */
    bool hid = cm_perm_hide_customer(principal, ce->customer);
    hid = cm_perm_hide_changes(principal, ce->changes, ce->n_changes) || hid;
    if (hid)
        s_set_payload(ev, &ce->base);
    crm__customer_event__free_unpacked(ce, NULL);
}

const struct cm_outbox customers_outbox = {.stream = CUSTOMERS_STREAM,
                                           .table = "customers.outbox",
                                           .readers = "customers.stream_readers",
                                           .hide_private = s_hide_private};

cm_err_t customers_events_add_payload(cm_db_t *db, const Crm__RequestHeader *hdr, const char *type,
                                      const ProtobufCMessage *payload, const char *customer_id)
{
    size_t plen = protobuf_c_message_get_packed_size(payload);
    uint8_t *pbuf = cm_malloc(plen ? plen : 1);
    protobuf_c_message_pack(payload, pbuf);

    Crm__Event ev = CRM__EVENT__INIT;
    ev.type = (char *)type;
    ev.tenant_id = hdr->tenant_id;
    ev.principal = hdr->principal;
    ev.channel = hdr->channel[0] ? hdr->channel : "api";
    ev.request_id = hdr->request_id;
    ev.payload.data = pbuf;
    ev.payload.len = plen;
    cm_err_t err = cm_outbox_add(db, &customers_outbox, &ev, customer_id);
    free(pbuf);
    return err;
}

cm_err_t customers_events_add(cm_db_t *db, const Crm__RequestHeader *hdr, const char *type,
                              const Crm__Customer *customer, Crm__FieldChange **changes,
                              size_t n_changes)
{
    Crm__CustomerEvent payload = CRM__CUSTOMER_EVENT__INIT;
    payload.customer = (Crm__Customer *)customer;
    payload.changes = changes;
    payload.n_changes = n_changes;
    return customers_events_add_payload(db, hdr, type, &payload.base, customer->id);
}

cm_err_t customers_events_settings(cm_db_t *db, const Crm__RequestHeader *hdr,
                                   const struct customers_tenant *t)
{
    Crm__SettingsEvent payload = CRM__SETTINGS_EVENT__INIT;
    payload.time_zone = (char *)t->time_zone;
    payload.default_country = (char *)t->default_country;
    payload.currency = (char *)t->currency;
    payload.effective_currency = (char *)t->effective_currency;
    payload.name = t->name ? t->name : "";
    return customers_events_add_payload(db, hdr, CUSTOMERS_SETTINGS_EVENT, &payload.base, NULL);
}

/* Packs the event's payload with the customer reduced to what identifies it
 * and each change to its field name. Returns the packed bytes (caller frees). */
static uint8_t *s_erased_payload(const Crm__CustomerEvent *ce, size_t *len)
{
    Crm__Customer keep = CRM__CUSTOMER__INIT;
    if (ce->customer) {
        keep.id = ce->customer->id;
        keep.etag = ce->customer->etag;
    }
    Crm__FieldChange *items = ce->n_changes ? cm_calloc(ce->n_changes, sizeof *items) : NULL;
    Crm__FieldChange **ptrs = ce->n_changes ? cm_calloc(ce->n_changes, sizeof *ptrs) : NULL;
    for (size_t i = 0; i < ce->n_changes; i++) {
        crm__field_change__init(&items[i]);
        items[i].field = ce->changes[i]->field;
        ptrs[i] = &items[i];
    }
    Crm__CustomerEvent out = CRM__CUSTOMER_EVENT__INIT;
    out.customer = &keep;
    out.changes = ptrs;
    out.n_changes = ce->n_changes;
    *len = crm__customer_event__get_packed_size(&out);
    uint8_t *buf = cm_malloc(*len ? *len : 1);
    crm__customer_event__pack(&out, buf);
    free(items);
    free(ptrs);
    return buf;
}

/* A wallet.entry's payload without the reason staff typed (the amounts and
 * references stay, as the books need them); NULL when it does not decode. */
static uint8_t *s_erased_wallet(const ProtobufCBinaryData *payload, size_t *len)
{
    Crm__WalletEvent *we = crm__wallet_event__unpack(NULL, payload->len, payload->data);
    if (!we)
        return NULL;
    if (we->entry)
        cm_pb_set_str(&we->entry->reason, "");
    *len = crm__wallet_event__get_packed_size(we);
    uint8_t *buf = cm_malloc(*len ? *len : 1);
    crm__wallet_event__pack(we, buf);
    crm__wallet_event__free_unpacked(we, NULL);
    return buf;
}

/* The payload of one of an erased customer's events without their personal
 * data (cm_outbox_scrub_fn); NULL for a subscription's, which carries no text
 * staff typed. */
/* A merge's event with the kept customer reduced to its id and etag; the
 * two ids and the duplicate's version stay. */
static uint8_t *s_erased_merged(const ProtobufCBinaryData *payload, size_t *len)
{
    Crm__CustomerMergedEvent *me =
        crm__customer_merged_event__unpack(NULL, payload->len, payload->data);
    if (!me)
        return NULL;
    Crm__Customer keep = CRM__CUSTOMER__INIT;
    if (me->customer) {
        keep.id = me->customer->id;
        keep.etag = me->customer->etag;
    }
    Crm__CustomerMergedEvent out = CRM__CUSTOMER_MERGED_EVENT__INIT;
    out.customer = &keep;
    out.merged_id = me->merged_id;
    out.merged_etag = me->merged_etag;
    *len = crm__customer_merged_event__get_packed_size(&out);
    uint8_t *buf = cm_malloc(*len ? *len : 1);
    crm__customer_merged_event__pack(&out, buf);
    crm__customer_merged_event__free_unpacked(me, NULL);
    return buf;
}

static uint8_t *s_scrub(const Crm__Event *ev, size_t *len)
{
    if (!strcmp(ev->type, CUSTOMERS_MERGED_EVENT))
        return s_erased_merged(&ev->payload, len);
    if (!strcmp(ev->type, CUSTOMERS_WALLET_EVENT))
        return s_erased_wallet(&ev->payload, len);
    if (!strncmp(ev->type, CUSTOMERS_SUBS_EVENT_PREFIX, strlen(CUSTOMERS_SUBS_EVENT_PREFIX)))
        return NULL;
    Crm__CustomerEvent *ce = crm__customer_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!ce)
        return NULL;
    uint8_t *buf = s_erased_payload(ce, len);
    crm__customer_event__free_unpacked(ce, NULL);
    return buf;
}

cm_err_t customers_events_erase(cm_db_t *db, const char *tenant, const char *customer_id)
{
    return cm_outbox_erase(db, &customers_outbox, tenant, customer_id, s_scrub, NULL);
}

cm_err_t customers_events_stats(cm_db_t *db, Crm__OutboxStatsResponse *resp)
{
    cm_err_t err;
    /* min and max by the seq index; the unpublished by their partial index. */
    PGresult *res = cm_db_exec(db,
                               "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0), "
                               "(SELECT count(*) FROM customers.outbox WHERE seq IS NULL) "
                               "FROM customers.outbox",
                               0, NULL, &err);
    if (!res)
        return err;
    resp->oldest_seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    resp->newest_seq = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    resp->unpublished = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    res = cm_db_exec(db,
                     "SELECT name, seq, (extract(epoch FROM seen_at) * 1000)::bigint "
                     "FROM customers.stream_readers ORDER BY name",
                     0, NULL, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->readers = rows ? cm_calloc((size_t)rows, sizeof *resp->readers) : NULL;
    for (int i = 0; i < rows; i++) {
        Crm__StreamReader *r = (Crm__StreamReader *)cm_pb_new(&crm__stream_reader__descriptor);
        cm_pb_set_str(&r->name, PQgetvalue(res, i, 0));
        r->seq = strtoull(PQgetvalue(res, i, 1), NULL, 10);
        r->seen_unix_ms = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        resp->readers[resp->n_readers++] = r;
    }
    PQclear(res);
    return CM_OK;
}
