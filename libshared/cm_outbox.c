/* The transactional outbox of a service's event stream, its relay and replay
 * (cm_outbox.h). The table names are the services' constants, never input;
 * each statement is formatted from one. */
#include "cm_outbox.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_svc.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cm_err_t cm_outbox_add(cm_db_t *db, const struct cm_outbox *ob, Crm__Event *ev,
                       const char *customer_id)
{
    char event_id[40], when[40];
    char *stream = ev->stream, *id = ev->event_id, *at = ev->occurred_at;
    if (!ev->stream || !ev->stream[0])
        ev->stream = (char *)ob->stream;
    if (!ev->event_id || !ev->event_id[0]) {
        cm_uuid(event_id);
        ev->event_id = event_id;
    }
    if (!ev->occurred_at || !ev->occurred_at[0])
        ev->occurred_at = cm_time_rfc3339(cm_now_ms(), when, sizeof when);
    size_t elen = crm__event__get_packed_size(ev);
    uint8_t *ebuf = cm_malloc(elen ? elen : 1);
    crm__event__pack(ev, ebuf);
    ev->stream = stream;
    ev->event_id = id;
    ev->occurred_at = at;

    char *sql = cm_strfmt("INSERT INTO %s (event, customer_id) VALUES ($1, $2::uuid)", ob->table);
    const char *p[] = {(const char *)ebuf, customer_id && customer_id[0] ? customer_id : NULL};
    int lens[] = {(int)elen, 0};
    int fmts[] = {1, 0};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(db, sql, 2, p, lens, fmts, 0, &err);
    PQclear(res);
    free(sql);
    free(ebuf);
    return err;
}

static uint64_t s_max_seq(cm_db_t *db, const struct cm_outbox *ob)
{
    char *sql = cm_strfmt("SELECT coalesce(max(seq), 0) FROM %s", ob->table);
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, 0, NULL, &err);
    free(sql);
    if (!res)
        return 0;
    uint64_t seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return seq;
}

/* A binary int8 column, big-endian. */
static uint64_t s_int8(const PGresult *res, int row, int col)
{
    const uint8_t *b = (const uint8_t *)PQgetvalue(res, row, col);
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v = (v << 8) | b[k];
    return v;
}

int cm_outbox_relay(cm_db_t *db, const struct cm_outbox *ob, struct cm_events_pub *pub)
{
    PGresult *res = NULL;
    int published = -1;
    char *sql = NULL;
    cm_err_t err = cm_db_begin(db, NULL);
    if (err)
        return -1;
    const char *lp[] = {ob->table};
    res = cm_db_exec(db, "SELECT pg_try_advisory_xact_lock(hashtext($1))", 1, lp, &err);
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
    /* One statement numbers the oldest unpublished rows after the highest seq
     * and returns them in order. Its snapshot is taken after the lock above,
     * so it sees everything an earlier relay committed. */
    sql = cm_strfmt("WITH top AS (SELECT coalesce(max(seq), 0) AS seq FROM %s), "
                    "next AS (SELECT id, (SELECT seq FROM top) + row_number() OVER (ORDER BY id) "
                    "AS seq FROM (SELECT id FROM %s WHERE seq IS NULL ORDER BY id LIMIT 1000) u), "
                    "done AS (UPDATE %s o SET seq = next.seq, published_at = now() FROM next "
                    "WHERE o.id = next.id RETURNING o.seq, o.event) "
                    "SELECT seq, event FROM done ORDER BY seq",
                    ob->table, ob->table, ob->table);
    res = cm_db_exec_bin(db, sql, 0, NULL, NULL, NULL, 1, &err);
    if (!res)
        goto out;
    int rows = PQntuples(res);
    if (rows == 0) {
        published = 0;
        goto out;
    }
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
        ev->seq = s_int8(res, i, 0);
        if (cm_events_pub_send(pub, ev))
            cm_log_warn("could not publish %s event seq=%" PRIu64, ob->stream, ev->seq);
        crm__event__free_unpacked(ev, NULL);
    }
    published = rows;
out:
    if (err)
        cm_log_error("%s outbox relay failed: %s", ob->stream, cm_db_error(db));
    free(sql);
    PQclear(res);
    cm_db_rollback(db);
    return published;
}

void cm_outbox_heartbeat(cm_db_t *db, const struct cm_outbox *ob, struct cm_events_pub *pub)
{
    if (cm_db_connect(db))
        return;
    if (cm_events_pub_heartbeat(pub, ob->stream, s_max_seq(db, ob)))
        cm_log_warn("could not publish the %s heartbeat", ob->stream);
}

cm_err_t cm_outbox_replay(cm_db_t *db, const struct cm_outbox *ob, uint64_t after_seq, int limit,
                          Crm__ReplayEventsResponse *resp, char *why, size_t whysz)
{
    char *sql = cm_strfmt("SELECT coalesce(min(seq), 0) FROM %s", ob->table);
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, 0, NULL, &err);
    free(sql);
    if (!res)
        return err;
    uint64_t oldest = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
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
    sql = cm_strfmt("SELECT seq, event FROM %s WHERE seq > $1 ORDER BY seq LIMIT $2", ob->table);
    res = cm_db_exec_bin(db, sql, 2, p, NULL, NULL, 1, &err);
    free(sql);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->events = rows ? cm_calloc((size_t)rows, sizeof *resp->events) : NULL;
    for (int i = 0; i < rows; i++) {
        uint64_t seq = s_int8(res, i, 0);
        Crm__Event *ev = crm__event__unpack(NULL, (size_t)PQgetlength(res, i, 1),
                                            (const uint8_t *)PQgetvalue(res, i, 1));
        if (!ev) {
            cm_log_error("%s event seq=%" PRIu64 " does not decode", ob->stream, seq);
            continue;
        }
        ev->seq = seq;
        resp->events[resp->n_events++] = ev;
    }
    PQclear(res);
    resp->last_seq = s_max_seq(db, ob);
    return CM_OK;
}

void cm_outbox_serve_replay(struct cm_call *call, const struct cm_outbox *ob,
                            const Crm__ReplayEventsRequest *req, ProtobufCMessage **resp)
{
    int limit = req->limit > 0 && req->limit <= CM_EVENTS_REPLAY_LIMIT ? req->limit
                                                                       : CM_EVENTS_REPLAY_LIMIT;
    if (req->after_seq > INT64_MAX) {
        cm_call_violation(call, "afterSeq", "OUT_OF_RANGE", "afterSeq: at most %" PRId64,
                          INT64_MAX);
        return;
    }
    Crm__ReplayEventsResponse *r =
        (Crm__ReplayEventsResponse *)cm_pb_new(&crm__replay_events_response__descriptor);
    char why[200];
    cm_err_t err = cm_outbox_replay(call->db, ob, req->after_seq, limit, r, why, sizeof why);
    if (err == CM_ERR_PRECONDITION)
        cm_call_fail(call, err, "%s", why);
    else if (err)
        cm_call_db_fail(call, err, "could not replay events");
    if (err) {
        crm__replay_events_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}
