/* The transactional outbox of a service's event stream, its relay and replay
 * (cm_outbox.h). The table names are the services' constants, never input;
 * each statement is formatted from one. */
#include "cm_outbox.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_perm.h"
#include "cm_svc.h"
#include "cm_util.h"

#include <assert.h>
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
    /* Nothing is read back: it goes with the transaction's next statement. */
    cm_db_defer(db, sql, 2, p, lens, fmts);
    free(sql);
    free(ebuf);
    cm_db_mark_events(db);
    return CM_OK;
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

/* Replaces row id's event by ev with payload (len bytes), in the caller's
 * transaction. */
static cm_err_t s_rewrite(cm_db_t *db, const struct cm_outbox *ob, uint64_t id,
                          const Crm__Event *ev, uint8_t *payload, size_t len)
{
    Crm__Event out = *ev;
    out.payload.data = payload;
    out.payload.len = len;
    size_t elen = crm__event__get_packed_size(&out);
    uint8_t *ebuf = cm_malloc(elen ? elen : 1);
    crm__event__pack(&out, ebuf);
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%" PRIu64, id);
    char *sql = cm_strfmt("UPDATE %s SET event = $1 WHERE id = $2::bigint", ob->table);
    const char *p[] = {(const char *)ebuf, idtext};
    int lens[] = {(int)elen, 0};
    int fmts[] = {1, 0};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(db, sql, 2, p, lens, fmts, 0, &err);
    PQclear(res);
    free(sql);
    free(ebuf);
    return res ? CM_OK : err;
}

cm_err_t cm_outbox_erase(cm_db_t *db, const struct cm_outbox *ob, const char *tenant,
                         const char *customer_id, cm_outbox_scrub_fn scrub, long *erased)
{
    assert(scrub);
    long n = 0;
    char *sql = cm_strfmt("SELECT id, event FROM %s WHERE customer_id = $1::uuid ORDER BY id "
                          "FOR UPDATE",
                          ob->table);
    const char *p[] = {customer_id};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(db, sql, 1, p, NULL, NULL, 1, &err);
    free(sql);
    if (!res)
        return err;
    err = CM_OK;
    for (int i = 0; i < PQntuples(res) && !err; i++) {
        Crm__Event *ev = crm__event__unpack(NULL, (size_t)PQgetlength(res, i, 1),
                                            (const uint8_t *)PQgetvalue(res, i, 1));
        size_t len = 0;
        uint8_t *payload = ev && !strcmp(ev->tenant_id, tenant) ? scrub(ev, &len) : NULL;
        if (payload) {
            err = s_rewrite(db, ob, s_int8(res, i, 0), ev, payload, len);
            n += !err;
        }
        free(payload);
        if (ev)
            crm__event__free_unpacked(ev, NULL);
    }
    PQclear(res);
    if (erased)
        *erased = err ? 0 : n;
    return err;
}

int cm_outbox_relay(cm_db_t *db, const struct cm_outbox *ob, struct cm_events_pub *pub)
{
    /* One statement in a transaction of its own (sql/010_outbox_relay.sql):
     * the lock, the numbering and the rows, committed before they come back. */
    cm_err_t err;
    char *sql = cm_strfmt("SELECT seq, event FROM %s_relay(1000)", ob->table);
    PGresult *res = cm_db_exec_bin(db, sql, 0, NULL, NULL, NULL, 1, &err);
    free(sql);
    if (!res) {
        cm_log_error("%s outbox relay failed: %s", ob->stream, cm_db_error(db));
        return -1;
    }
    /* Published after commit: a crash in between leaves a gap that subscribers
     * close by replay, never an event that was not stored. */
    int rows = PQntuples(res);
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
    PQclear(res);
    return rows;
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
    resp->n_events = 0;
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

/* Records where a durable reader is: it has applied after_seq for good. */
static cm_err_t s_reader_seen(cm_db_t *db, const struct cm_outbox *ob, const char *name,
                              uint64_t seq)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, seq);
    const char *p[] = {name, s};
    char *sql = cm_strfmt("INSERT INTO %s (name, seq) VALUES ($1, $2::bigint) "
                          "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, seen_at = now()",
                          ob->readers);
    cm_err_t err = cm_db_run(db, sql, 2, p);
    free(sql);
    return err;
}

/* Replaces every event of another tenant than `tenant` by a CM_EVENTS_ELIDED
 * event with only its stream and seq. */
static void s_elide_others(Crm__ReplayEventsResponse *r, const char *tenant)
{
    for (size_t i = 0; i < r->n_events; i++) {
        Crm__Event *ev = r->events[i];
        if (!strcmp(ev->tenant_id, tenant))
            continue;
        Crm__Event *stub = (Crm__Event *)cm_pb_new(&crm__event__descriptor);
        cm_pb_set_str(&stub->stream, ev->stream);
        cm_pb_set_str(&stub->type, CM_EVENTS_ELIDED);
        stub->seq = ev->seq;
        crm__event__free_unpacked(ev, NULL);
        r->events[i] = stub;
    }
}

void cm_outbox_serve_replay(struct cm_call *call, const struct cm_outbox *ob,
                            const Crm__ReplayEventsRequest *req, ProtobufCMessage **resp)
{
    int limit = req->limit > 0 && req->limit <= CM_EVENTS_REPLAY_LIMIT ? req->limit
                                                                       : CM_EVENTS_REPLAY_LIMIT;
    if (req->reader[0] && !cm_events_reader_ok(req->reader, strlen(req->reader))) {
        cm_call_violation(call, "reader", "INVALID_FORMAT",
                          "reader: 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter "
                          "or digit");
        return;
    }
    if (req->after_seq > INT64_MAX) {
        cm_call_violation(call, "afterSeq", "OUT_OF_RANGE", "afterSeq: at most %" PRId64,
                          INT64_MAX);
        return;
    }
    /* An outside system's key (events:read) reads its own tenant's events,
     * and keeps no durable position: those hold back the retention. */
    bool outsider = !cm_perm_allows(call->hdr->principal, CM_SCOPE_INTERNAL);
    if (outsider && !call->hdr->tenant_id[0]) {
        cm_call_fail(call, CM_ERR_PERMISSION,
                     "this key reads only its own tenant's events: "
                     "the request needs its tenant_id");
        return;
    }
    if (outsider && req->reader[0]) {
        cm_call_violation(call, "reader", "NOT_ALLOWED",
                          "reader: only the suite's own services keep a position; store the "
                          "last seq applied and replay after it");
        return;
    }
    if (req->reader[0] && ob->readers) {
        cm_err_t err = s_reader_seen(call->db, ob, req->reader, req->after_seq);
        if (err) {
            cm_call_db_fail(call, err, "could not record the reader's position");
            return;
        }
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
    if (outsider)
        s_elide_others(r, call->hdr->tenant_id);
    if (ob->hide_private && !cm_perm_private(call->hdr->principal))
        for (size_t i = 0; i < r->n_events; i++)
            ob->hide_private(call->hdr->principal, r->events[i]);
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Retention                                                               */

/* Runs sql (one row, one column) into out (size outsz); "" for NULL. */
static cm_err_t s_value(cm_db_t *db, char *sql, int n, const char *const *p, char *out,
                        size_t outsz)
{
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, n, p, &err);
    free(sql);
    if (!res) {
        assert(err != CM_OK); /* cm_db_exec's contract: NULL comes with a reason */
        return err;
    }
    snprintf(out, outsz, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return CM_OK;
}

/* The seq the outbox starts after now (0 when it is whole). */
static cm_err_t s_gone_through(cm_db_t *db, const struct cm_outbox *ob, uint64_t *gone)
{
    char v[24];
    cm_err_t err = s_value(db,
                           cm_strfmt("SELECT coalesce(min(seq) - 1, 0) FROM %s "
                                     "WHERE seq IS NOT NULL",
                                     ob->table),
                           0, NULL, v, sizeof v);
    *gone = err ? 0 : strtoull(v, NULL, 10);
    return err;
}

/* In prune's transaction: the last seq that may go (0: none) and why not more. */
static cm_err_t s_prune_bound(cm_db_t *db, const struct cm_outbox *ob, long keep_s,
                              const char *expected, uint64_t *cut, char *held, size_t heldsz)
{
    char v[256];
    *cut = 0;
    const char *pe[] = {expected};
    cm_err_t err = s_value(db,
                           cm_strfmt("SELECT string_agg(e, ', ' ORDER BY e) FROM "
                                     "unnest(string_to_array(replace($1, ' ', ''), ',')) AS e "
                                     "WHERE e <> '' AND NOT EXISTS "
                                     "(SELECT 1 FROM %s r WHERE r.name = e)",
                                     ob->readers),
                           1, pe, v, sizeof v);
    if (err || v[0]) {
        /* A reader that has not registered would start from an event that is gone. */
        if (!err)
            snprintf(held, heldsz, "unregistered: %s", v);
        return err;
    }
    err = s_value(db, cm_strfmt("SELECT coalesce(max(seq), 0) FROM %s", ob->table), 0, NULL, v,
                  sizeof v);
    uint64_t newest = err ? 0 : strtoull(v, NULL, 10);
    if (err || newest < 2)
        return err;
    uint64_t bound = newest - 1; /* the newest stays */
    char slowest[200] = "";
    PGresult *res = NULL;
    char *sql = cm_strfmt("SELECT name, seq FROM %s ORDER BY seq, name LIMIT 1", ob->readers);
    res = cm_db_exec(db, sql, 0, NULL, &err);
    free(sql);
    if (!res)
        return err;
    if (PQntuples(res) == 1 && strtoull(PQgetvalue(res, 0, 1), NULL, 10) < bound) {
        bound = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
        snprintf(slowest, sizeof slowest, "reader: %s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    /* Events are published in seq order, so what is old enough is a prefix
     * of the stream, up to the newest event published before now() - keep. */
    char keep[24];
    snprintf(keep, sizeof keep, "%ld", keep_s);
    const char *pk[] = {keep};
    err = s_value(db,
                  cm_strfmt("SELECT seq FROM %s WHERE seq IS NOT NULL AND published_at < "
                            "now() - $1::bigint * interval '1 second' "
                            "ORDER BY published_at DESC, seq DESC LIMIT 1",
                            ob->table),
                  1, pk, v, sizeof v);
    if (err || !v[0])
        return err;
    *cut = strtoull(v, NULL, 10);
    if (*cut >= bound) {
        *cut = bound;
        snprintf(held, heldsz, "%s", slowest);
    }
    return CM_OK;
}

cm_err_t cm_outbox_prune(cm_db_t *db, const struct cm_outbox *ob, long keep_s, const char *expected,
                         int batch, long *deleted, uint64_t *gone_through, char *held,
                         size_t heldsz)
{
    assert(ob->readers);
    *deleted = 0;
    *gone_through = 0;
    held[0] = '\0';
    char v[24];
    char *lock_name = cm_strfmt("%s_prune", ob->table);
    const char *pl[] = {lock_name};
    cm_err_t err = cm_db_begin(db, NULL);
    if (!err)
        err = s_value(db, cm_strdup("SELECT pg_try_advisory_xact_lock(hashtext($1))"), 1, pl, v,
                      sizeof v);
    free(lock_name);
    if (!err && strcmp(v, "t") != 0) {
        snprintf(held, heldsz, "busy");
        cm_db_rollback(db);
        return CM_OK;
    }
    uint64_t cut = 0;
    if (!err)
        err = s_prune_bound(db, ob, keep_s, expected, &cut, held, heldsz);
    if (!err && cut) {
        char c[24], lim[16];
        snprintf(c, sizeof c, "%" PRIu64, cut);
        snprintf(lim, sizeof lim, "%d", batch);
        const char *pd[] = {c, lim};
        char *sql = cm_strfmt("DELETE FROM %s WHERE id IN (SELECT id FROM %s WHERE seq <= "
                              "$1::bigint ORDER BY seq LIMIT $2::int)",
                              ob->table, ob->table);
        PGresult *res = cm_db_exec(db, sql, 2, pd, &err);
        free(sql);
        if (res)
            *deleted = strtol(PQcmdTuples(res), NULL, 10);
        PQclear(res);
    }
    if (!err)
        err = s_gone_through(db, ob, gone_through);
    if (!err)
        err = cm_db_commit(db);
    if (err)
        cm_db_rollback(db);
    return err;
}

cm_err_t cm_outbox_forget(cm_db_t *db, const struct cm_outbox *ob, const char *name, uint64_t *seq)
{
    const char *p[] = {name};
    char v[24];
    cm_err_t err =
        s_value(db, cm_strfmt("DELETE FROM %s WHERE name = $1 RETURNING seq", ob->readers), 1, p, v,
                sizeof v);
    if (err)
        return err;
    if (!v[0])
        return CM_ERR_NOT_FOUND;
    *seq = strtoull(v, NULL, 10);
    return CM_OK;
}
