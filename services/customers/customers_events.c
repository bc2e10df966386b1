/* Transactional outbox and relay of the customers stream. */
#include "customers_events.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cm_err_t customers_events_add(cm_db_t *db, const Crm__RequestHeader *hdr, const char *type,
                              const Crm__Customer *customer, Crm__FieldChange **changes,
                              size_t n_changes)
{
    Crm__CustomerEvent payload = CRM__CUSTOMER_EVENT__INIT;
    payload.customer = (Crm__Customer *)customer;
    payload.changes = changes;
    payload.n_changes = n_changes;
    size_t plen = crm__customer_event__get_packed_size(&payload);
    uint8_t *pbuf = cm_malloc(plen);
    crm__customer_event__pack(&payload, pbuf);

    char event_id[40], when[40];
    cm_uuid(event_id);
    cm_time_rfc3339(cm_now_ms(), when, sizeof when);
    Crm__Event ev = CRM__EVENT__INIT;
    ev.stream = CUSTOMERS_STREAM;
    ev.event_id = event_id;
    ev.type = (char *)type;
    ev.tenant_id = hdr->tenant_id;
    ev.occurred_at = when;
    ev.principal = hdr->principal;
    ev.channel = hdr->channel[0] ? hdr->channel : "api";
    ev.request_id = hdr->request_id;
    ev.payload.data = pbuf;
    ev.payload.len = plen;
    size_t elen = crm__event__get_packed_size(&ev);
    uint8_t *ebuf = cm_malloc(elen);
    crm__event__pack(&ev, ebuf);
    const char *p[] = {(const char *)ebuf, customer->id[0] ? customer->id : NULL};
    int lens[] = {(int)elen, 0};
    int fmts[] = {1, 0};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(
        db, "INSERT INTO customers.outbox (event, customer_id) VALUES ($1, $2::uuid)", 2, p, lens,
        fmts, 0, &err);
    PQclear(res);
    free(ebuf);
    free(pbuf);
    return err;
}

static uint64_t s_max_seq(cm_db_t *db)
{
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db, "SELECT coalesce(max(seq), 0) FROM customers.outbox", 0, NULL, &err);
    if (!res)
        return 0;
    uint64_t seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return seq;
}

int customers_events_relay(cm_db_t *db, struct cm_events_pub *pub)
{
    PGresult *res = NULL;
    int published = -1;
    cm_err_t err = cm_db_begin(db, NULL);
    if (err)
        return -1;
    res = cm_db_exec(db, "SELECT pg_try_advisory_xact_lock(hashtext('customers.outbox'))", 0, NULL,
                     &err);
    if (!res)
        goto out;
    bool locked = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    res = NULL;
    if (!locked) {
        /* Another copy is relaying right now; it will take our rows too. */
        published = 0;
        goto out;
    }
    uint64_t seq = s_max_seq(db);
    res = cm_db_exec_bin(db,
                         "SELECT id, event FROM customers.outbox WHERE seq IS NULL "
                         "ORDER BY id LIMIT 1000",
                         0, NULL, NULL, NULL, 1, &err);
    if (!res)
        goto out;
    int rows = PQntuples(res);
    if (rows == 0) {
        published = 0;
        goto out;
    }
    /* Binary int8 ids, big-endian. */
    char *ids = cm_malloc((size_t)rows * 21 + 2), *seqs = cm_malloc((size_t)rows * 21 + 2);
    size_t il = 0, sl = 0;
    ids[il++] = '{';
    seqs[sl++] = '{';
    for (int i = 0; i < rows; i++) {
        const uint8_t *b = (const uint8_t *)PQgetvalue(res, i, 0);
        uint64_t id = 0;
        for (int k = 0; k < 8; k++)
            id = (id << 8) | b[k];
        il += (size_t)snprintf(ids + il, 22, "%s%" PRIu64, i ? "," : "", id);
        sl += (size_t)snprintf(seqs + sl, 22, "%s%" PRIu64, i ? "," : "", seq + 1 + (uint64_t)i);
    }
    ids[il++] = '}';
    ids[il] = '\0';
    seqs[sl++] = '}';
    seqs[sl] = '\0';
    const char *p[] = {ids, seqs};
    err = cm_db_run(db,
                    "UPDATE customers.outbox o SET seq = v.seq, published_at = now() "
                    "FROM unnest($1::bigint[], $2::bigint[]) AS v(id, seq) WHERE o.id = v.id",
                    2, p);
    free(ids);
    free(seqs);
    if (err)
        goto out;
    err = cm_db_commit(db);
    if (err)
        goto out;
    /* Published after commit: a crash in between leaves a gap that subscribers
     * close by replay, never an event that was not stored. */
    for (int i = 0; i < rows; i++) {
        Crm__Event *ev = crm__event__unpack(NULL, (size_t)PQgetlength(res, i, 1),
                                            (const uint8_t *)PQgetvalue(res, i, 1));
        if (!ev)
            continue;
        ev->seq = seq + 1 + (uint64_t)i;
        if (cm_events_pub_send(pub, ev))
            cm_log_warn("could not publish event seq=%" PRIu64, ev->seq);
        crm__event__free_unpacked(ev, NULL);
    }
    published = rows;
out:
    if (err)
        cm_log_error("outbox relay failed: %s", cm_db_error(db));
    PQclear(res);
    cm_db_rollback(db);
    return published;
}

void customers_events_heartbeat(cm_db_t *db, struct cm_events_pub *pub)
{
    if (cm_db_connect(db))
        return;
    if (cm_events_pub_heartbeat(pub, CUSTOMERS_STREAM, s_max_seq(db)))
        cm_log_warn("could not publish heartbeat");
}

/* The oldest seq the outbox still holds (0 if none is published). */
static cm_err_t s_min_seq(cm_db_t *db, uint64_t *seq)
{
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db, "SELECT coalesce(min(seq), 0) FROM customers.outbox", 0, NULL, &err);
    if (!res)
        return err;
    *seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_events_replay(cm_db_t *db, uint64_t after_seq, int limit,
                                 Crm__ReplayEventsResponse *resp, char *why, size_t whysz)
{
    uint64_t oldest = 0;
    cm_err_t err = s_min_seq(db, &oldest);
    if (err)
        return err;
    /* Pruned events are not skipped silently: the caller asked for them. */
    if (oldest > 1 && after_seq + 1 < oldest) {
        snprintf(why, whysz,
                 "events %" PRIu64 " to %" PRIu64 " are no longer kept (outbox retention); "
                 "replay can start after seq %" PRIu64 " at the earliest",
                 after_seq + 1, oldest - 1, oldest - 1);
        return CM_ERR_PRECONDITION;
    }
    char after[24], lim[16];
    snprintf(after, sizeof after, "%" PRIu64, after_seq);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = {after, lim};
    PGresult *res = cm_db_exec_bin(db,
                                   "SELECT seq, event FROM customers.outbox WHERE seq > $1 "
                                   "ORDER BY seq LIMIT $2",
                                   2, p, NULL, NULL, 1, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->events = rows ? cm_calloc((size_t)rows, sizeof *resp->events) : NULL;
    for (int i = 0; i < rows; i++) {
        const uint8_t *b = (const uint8_t *)PQgetvalue(res, i, 0);
        uint64_t seq = 0;
        for (int k = 0; k < 8; k++)
            seq = (seq << 8) | b[k];
        Crm__Event *ev = crm__event__unpack(NULL, (size_t)PQgetlength(res, i, 1),
                                            (const uint8_t *)PQgetvalue(res, i, 1));
        if (!ev) {
            cm_log_error("outbox event seq=%" PRIu64 " does not decode", seq);
            continue;
        }
        ev->seq = seq;
        resp->events[resp->n_events++] = ev;
    }
    PQclear(res);
    resp->last_seq = s_max_seq(db);
    return CM_OK;
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

cm_err_t customers_events_erase(cm_db_t *db, const char *tenant, const char *customer_id)
{
    const char *p[] = {customer_id};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(db,
                                   "SELECT id, event FROM customers.outbox WHERE customer_id = $1 "
                                   "ORDER BY id FOR UPDATE",
                                   1, p, NULL, NULL, 1, &err);
    if (!res)
        return err;
    for (int i = 0; i < PQntuples(res) && !err; i++) {
        Crm__Event *ev = crm__event__unpack(NULL, (size_t)PQgetlength(res, i, 1),
                                            (const uint8_t *)PQgetvalue(res, i, 1));
        if (!ev)
            continue;
        Crm__CustomerEvent *ce =
            strcmp(ev->tenant_id, tenant)
                ? NULL
                : crm__customer_event__unpack(NULL, ev->payload.len, ev->payload.data);
        if (ce) {
            size_t plen;
            uint8_t *pbuf = s_erased_payload(ce, &plen);
            ProtobufCBinaryData old = ev->payload;
            ev->payload.data = pbuf;
            ev->payload.len = plen;
            size_t elen = crm__event__get_packed_size(ev);
            uint8_t *ebuf = cm_malloc(elen);
            crm__event__pack(ev, ebuf);
            ev->payload = old;
            /* The row id came back in binary: an int8 in network order. */
            uint64_t rid = 0;
            const uint8_t *b = (const uint8_t *)PQgetvalue(res, i, 0);
            for (int k = 0; k < 8; k++)
                rid = rid << 8 | b[k];
            char idtext[24];
            snprintf(idtext, sizeof idtext, "%llu", (unsigned long long)rid);
            const char *up[] = {(const char *)ebuf, idtext};
            int lens[] = {(int)elen, 0};
            int fmts[] = {1, 0};
            PGresult *u =
                cm_db_exec_bin(db, "UPDATE customers.outbox SET event = $1 WHERE id = $2::bigint",
                               2, up, lens, fmts, 0, &err);
            PQclear(u);
            free(ebuf);
            free(pbuf);
            crm__customer_event__free_unpacked(ce, NULL);
        }
        crm__event__free_unpacked(ev, NULL);
    }
    PQclear(res);
    return err;
}

cm_err_t customers_events_reader_seen(cm_db_t *db, const char *name, uint64_t seq)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, seq);
    const char *p[] = {name, s};
    return cm_db_run(db,
                     "INSERT INTO customers.stream_readers (name, seq) VALUES ($1, $2::bigint) "
                     "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, seen_at = now()",
                     2, p);
}

cm_err_t customers_events_prune(cm_db_t *db, long keep_days, const char *expected, int batch,
                                long *deleted, char *held_by, size_t held_sz)
{
    char keep[32], lim[16];
    snprintf(keep, sizeof keep, "%ld days", keep_days);
    snprintf(lim, sizeof lim, "%d", batch);
    const char *p[] = {keep, expected ? expected : "", lim};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT deleted, gone_through, held_by FROM "
                               "customers.outbox_prune($1::interval, $2, $3::integer)",
                               3, p, &err);
    if (!res)
        return err;
    *deleted = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(held_by, held_sz, "%s", PQgetvalue(res, 0, 2));
    if (*deleted)
        cm_log_info("outbox: deleted %ld events; events up to seq %s are gone", *deleted,
                    PQgetvalue(res, 0, 1));
    PQclear(res);
    return CM_OK;
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
