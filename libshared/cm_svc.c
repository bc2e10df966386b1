/* The worker loop shared by every service. */
#include "cm_svc.h"
#include "cm_arena.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

/* A thread serving requests: one of the pool's, or the main thread. */
struct cm_svc_thread {
    cm_svc_t *svc;             // borrowed
    pthread_t tid;             // the pool's threads only
    cm_db_t *db;               // owned by a pool thread; borrowed (svc) for the main thread
    cm_mdp_client_t *client;   // owned: for cm_call_service, made on first use
    cm_mdp_worker_t *worker;   // owned by a pool thread: its own place on the bus
    pthread_mutex_t worker_mu; // held while the thread uses worker: the main thread
                               // heartbeats a busy thread's worker for it
    cm_arena_t arena;          // the request arena (cm_call_alloc): reset after each reply
};

struct s_reply {
    uint8_t *header;
    size_t header_len;
    uint8_t *body;
    size_t body_len;
};

struct cm_svc {
    const struct cm_svc_def *def; // borrowed
    const char *bus_endpoint;     // borrowed (the config)
    void *zctx;                   // owned
    cm_mdp_worker_t *worker;      // owned
    cm_db_t *db;                  // owned: the main thread's (start, stop, tick, after_commit)
    char *health_method;          // owned: "<name>.Health"
    char *sql_idem_claim;         // owned
    char *sql_idem_get;           // owned
    char *sql_idem_put;           // owned: the reply, into the claimed record
    char *sql_idem_put_new;       // owned: the claim with its reply (CM_METHOD_CLAIM_LATE)
    struct cm_svc_thread main;    // the main thread as a server of requests
    /* The pool (n_threads > 1). */
    unsigned n_threads;
    struct cm_svc_thread *threads; // owned array
    unsigned n_started;            // threads running
    atomic_bool closing;           // threads leave after the request they serve
    /* after_commit, one at a time and shared by the writes that wait for it
     * (s_after_commit). */
    pthread_mutex_t relay_mu;
    pthread_cond_t relay_cond; // a run ended
    uint64_t relay_asked;      // writes that asked for a run
    uint64_t relay_covered;    // asks the last finished run covered
    bool relay_running;
};

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

void *cm_svc_zctx(cm_svc_t *svc)
{
    return svc->zctx;
}

cm_db_t *cm_svc_db(cm_svc_t *svc)
{
    return svc->db;
}

const char *cm_svc_bus_endpoint(cm_svc_t *svc)
{
    return svc->bus_endpoint;
}

bool cm_svc_stopping(cm_svc_t *svc)
{
    (void)svc;
    return s_stop != 0;
}

/* ---------------------------------------------------------------------- */
/* Failing a call                                                          */

void cm_call_reply_raw(struct cm_call *call, uint8_t *body, size_t len)
{
    free(call->raw);
    call->raw = body;
    call->raw_len = len;
}

void cm_call_fail(struct cm_call *call, cm_err_t err, const char *fmt, ...)
{
    call->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->message, sizeof call->message, fmt, ap);
    va_end(ap);
}

CM_PRINTF(5, 0)
static void s_add_violation(struct cm_call *call, const char *field, const char *reason,
                            const char *resource_id, const char *fmt, va_list ap)
{
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    Crm__FieldViolation *v = cm_malloc(sizeof *v);
    crm__field_violation__init(v);
    v->field = cm_strdup(field);
    v->description = cm_strdup(text);
    v->reason = cm_strdup(reason ? reason : "");
    v->resource_id = cm_strdup(resource_id ? resource_id : "");
    call->reply.details =
        cm_realloc(call->reply.details, (call->reply.n_details + 1) * sizeof *call->reply.details);
    call->reply.details[call->reply.n_details++] = v;
}

void cm_call_violation(struct cm_call *call, const char *field, const char *reason, const char *fmt,
                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_add_violation(call, field, reason, NULL, fmt, ap);
    va_end(ap);
    if (call->err == CM_OK) {
        call->err = CM_ERR_INVALID;
        snprintf(call->message, sizeof call->message, "invalid %s", field);
    } else if (call->err == CM_ERR_INVALID) {
        snprintf(call->message, sizeof call->message, "%zu invalid fields", call->reply.n_details);
    }
}

void cm_call_duplicate(struct cm_call *call, const char *field, const char *resource_id,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_add_violation(call, field, "DUPLICATE", resource_id, fmt, ap);
    va_end(ap);
    call->err = CM_ERR_CONFLICT;
    snprintf(call->message, sizeof call->message, "%s already belongs to another record", field);
}

void cm_call_moved(struct cm_call *call, const char *field, const char *reason,
                   const char *resource_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_add_violation(call, field, reason, resource_id, fmt, ap);
    va_end(ap);
    call->err = CM_ERR_NOT_FOUND;
    va_start(ap, fmt);
    vsnprintf(call->message, sizeof call->message, fmt, ap);
    va_end(ap);
}

void cm_call_db_fail(struct cm_call *call, cm_err_t err, const char *what)
{
    /* A conflict is a race lost to another request (or a retried request's
     * key, CM_METHOD_CLAIM_LATE), a serialization failure or deadlock (40xxx)
     * one lost to another transaction: cm_svc tries again, so neither is an
     * error. */
    if (err == CM_ERR_CONFLICT || !strncmp(cm_db_sqlstate(call->db), "40", 2))
        cm_log_info("%s: %s (sqlstate %s)", what, cm_db_error(call->db), cm_db_sqlstate(call->db));
    else
        cm_log_error("%s: %s (sqlstate %s)", what, cm_db_error(call->db), cm_db_sqlstate(call->db));
    if (err == CM_ERR_UNAVAILABLE)
        cm_call_fail(call, err, "%s: database unavailable", what);
    else if (err == CM_ERR_CONFLICT)
        cm_call_fail(call, err, "%s: conflicting change, retry", what);
    else
        cm_call_fail(call, CM_ERR_INTERNAL, "%s", what);
}

static void s_free_details(Crm__ReplyHeader *reply)
{
    for (size_t i = 0; i < reply->n_details; i++)
        protobuf_c_message_free_unpacked(&reply->details[i]->base, NULL);
    free(reply->details);
    reply->details = NULL;
    reply->n_details = 0;
}

void cm_call_reset(struct cm_call *call)
{
    s_free_details(&call->reply);
    call->err = CM_OK;
    call->message[0] = '\0';
}

void *cm_call_alloc(struct cm_call *call, size_t n)
{
    return cm_arena_alloc(&call->thread->arena, n);
}

char *cm_call_strdup(struct cm_call *call, const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(cm_call_alloc(call, n), s, n);
}

void cm_call_item(struct cm_call *item, const struct cm_call *parent)
{
    memset(item, 0, sizeof *item);
    item->hdr = parent->hdr;
    item->db = parent->db;
    item->svc = parent->svc;
    item->user = parent->user;
    item->thread = parent->thread;
    item->n_calls = parent->n_calls;
    crm__reply_header__init(&item->reply);
}

Crm__ReplyHeader *cm_call_item_end(struct cm_call *item, struct cm_call *parent)
{
    Crm__ReplyHeader *h = cm_malloc(sizeof *h);
    crm__reply_header__init(h);
    h->status = (Crm__Status)cm_err_status(item->err);
    h->message = cm_strdup(item->err ? item->message : "");
    h->request_id = cm_strdup("");
    /* The violations move over as they are (dynamic, like the header). */
    h->details = item->reply.details;
    h->n_details = item->reply.n_details;
    item->reply.details = NULL;
    item->reply.n_details = 0;
    free(item->raw);
    free(item->prep);
    parent->n_calls = item->n_calls;
    memset(item, 0, sizeof *item);
    return h;
}

/* ---------------------------------------------------------------------- */
/* Serving one request                                                     */

static const struct cm_method *s_find_method(const struct cm_svc_def *def, const char *name)
{
    for (size_t i = 0; i < def->n_methods; i++)
        if (!strcmp(def->methods[i].name, name))
            return &def->methods[i];
    return NULL;
}

static void s_pack_header(struct s_reply *out, const Crm__ReplyHeader *reply)
{
    out->header_len = crm__reply_header__get_packed_size(reply);
    out->header = cm_malloc(out->header_len);
    crm__reply_header__pack(reply, out->header);
}

/* The body of a successful call: its raw bytes (taken over) or resp packed. */
static void s_call_body(struct s_reply *out, struct cm_call *call, const ProtobufCMessage *resp);

static void s_pack_body(struct s_reply *out, const ProtobufCMessage *msg)
{
    out->body_len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    out->body = cm_malloc(out->body_len);
    if (msg)
        protobuf_c_message_pack(msg, out->body);
}

/* Looks up (or claims) the idempotency key. Returns 1 with the stored reply
 * in *out, 0 when the key was claimed by this transaction, -1 on error. */
static int s_idem_claim(cm_svc_t *svc, struct cm_call *call, const char *body_hash,
                        struct s_reply *out)
{
    const Crm__RequestHeader *h = call->hdr;
    const char *p[] = {h->tenant_id, h->idempotency_key, h->method, body_hash};
    cm_err_t err;
    PGresult *res = cm_db_exec(call->db, svc->sql_idem_claim, 4, p, &err);
    if (!res) {
        cm_call_db_fail(call, err, "could not record idempotency key");
        return -1;
    }
    bool claimed = PQntuples(res) == 1;
    PQclear(res);
    if (claimed)
        return 0;
    const char *q[] = {h->tenant_id, h->idempotency_key};
    res = cm_db_exec_bin(call->db, svc->sql_idem_get, 2, q, NULL, NULL, 1, &err);
    if (!res || PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
        PQclear(res);
        cm_call_fail(call, CM_ERR_INTERNAL, "could not read idempotent reply");
        return -1;
    }
    const char *stored_hash = PQgetvalue(res, 0, 3);
    if (strcmp(PQgetvalue(res, 0, 0), h->method) != 0 ||
        (stored_hash[0] && strcmp(stored_hash, body_hash) != 0)) {
        PQclear(res);
        cm_call_fail(call, CM_ERR_INVALID,
                     "idempotency key already used for a different request; use a new key");
        return -1;
    }
    /* The stored reply answered an earlier request id; stamp this one's. */
    Crm__ReplyHeader *stored = crm__reply_header__unpack(NULL, (size_t)PQgetlength(res, 0, 1),
                                                         (const uint8_t *)PQgetvalue(res, 0, 1));
    if (!stored) {
        PQclear(res);
        cm_call_fail(call, CM_ERR_INTERNAL, "could not read idempotent reply");
        return -1;
    }
    char *old_id = stored->request_id;
    stored->request_id = h->request_id;
    s_pack_header(out, stored);
    stored->request_id = old_id;
    crm__reply_header__free_unpacked(stored, NULL);
    out->body_len = (size_t)PQgetlength(res, 0, 2);
    out->body = cm_malloc(out->body_len);
    memcpy(out->body, PQgetvalue(res, 0, 2), out->body_len);
    PQclear(res);
    return 1;
}

static cm_err_t s_idem_store(cm_svc_t *svc, struct cm_call *call, const char *body_hash, bool late,
                             const struct s_reply *r)
{
    const Crm__RequestHeader *h = call->hdr;
    /* Sent with COMMIT, in one round trip: the reply into the record claimed
     * before fn, or (late) the claim and its reply at once, which fails as a
     * conflict when the key is taken. */
    if (late) {
        const char *p[] = {h->tenant_id, h->idempotency_key,      h->method,
                           body_hash,    (const char *)r->header, (const char *)r->body};
        int len[] = {0, 0, 0, 0, (int)r->header_len, (int)r->body_len};
        int fmt[] = {0, 0, 0, 0, 1, 1};
        cm_db_defer(call->db, svc->sql_idem_put_new, 6, p, len, fmt);
        return CM_OK;
    }
    const char *p[] = {h->tenant_id, h->idempotency_key, (const char *)r->header,
                       (const char *)r->body};
    int len[] = {0, 0, (int)r->header_len, (int)r->body_len};
    int fmt[] = {0, 0, 1, 1};
    cm_db_defer(call->db, svc->sql_idem_put, 4, p, len, fmt);
    return CM_OK;
}

/* Runs the method's finish step on the reply in out (OK, committed or
 * replayed): unpacks its body, lets finish amend it, packs it again. */
static void s_finish(const struct cm_method *m, struct cm_call *call, const ProtobufCMessage *req,
                     struct s_reply *out)
{
    ProtobufCMessage *resp = protobuf_c_message_unpack(m->response, NULL, out->body_len, out->body);
    if (!resp) {
        cm_log_error("could not unpack the reply of %s for its finish step", m->name);
        return;
    }
    cm_err_t err = call->db ? cm_db_use_tenant(call->db, call->hdr->tenant_id) : CM_OK;
    if (err)
        cm_log_warn("could not set the tenant for the finish step: %s", cm_db_error(call->db));
    else
        m->finish(call, req, resp);
    assert(!cm_call_failed(call));
    free(out->body);
    out->body = NULL;
    s_pack_body(out, resp);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* Runs the handler once inside a transaction. Returns true when a write
 * committed. late: the idempotency key is claimed with the reply, at COMMIT
 * (CM_METHOD_CLAIM_LATE), instead of before fn. */
static bool s_attempt(cm_svc_t *svc, const struct cm_method *m, struct cm_call *call,
                      const ProtobufCMessage *req, const char *body_hash, bool late,
                      struct s_reply *out)
{
    ProtobufCMessage *resp = NULL;
    bool committed = false;
    bool tenant = !(m->flags & CM_METHOD_NO_TENANT);
    bool idem = (m->flags & CM_METHOD_WRITE) && svc->sql_idem_claim && tenant &&
                call->hdr->idempotency_key[0];

    if (tenant && !call->hdr->tenant_id[0]) {
        cm_call_fail(call, CM_ERR_PERMISSION, "request carries no tenant");
        goto out;
    }
    /* No database, a read that needs no transaction, or a write of one
     * statement sent without an idempotency key: nothing to begin, commit or
     * deduplicate (each still sets its tenant). */
    if (!call->db || ((m->flags & CM_METHOD_NO_TXN) && !(m->flags & CM_METHOD_WRITE)) ||
        ((m->flags & CM_METHOD_ONE_STATEMENT) && !call->hdr->idempotency_key[0])) {
        cm_err_t err =
            call->db ? cm_db_use_tenant(call->db, tenant ? call->hdr->tenant_id : NULL) : CM_OK;
        if (err) {
            cm_call_db_fail(call, err, "could not set the tenant");
            goto out;
        }
        m->fn(call, req, &resp);
        if (!cm_call_failed(call)) {
            call->reply.status = CRM__STATUS__STATUS_OK;
            s_pack_header(out, &call->reply);
            s_call_body(out, call, resp);
        }
        goto out;
    }
    cm_err_t err = cm_db_begin(call->db, tenant ? call->hdr->tenant_id : NULL);
    if (err) {
        cm_call_db_fail(call, err, "could not begin transaction");
        goto out;
    }
    if (idem && !late) {
        int rc = s_idem_claim(svc, call, body_hash, out);
        if (rc != 0) {
            cm_db_rollback(call->db);
            if (rc == 1) {
                cm_log_info("replayed idempotent reply key=%s", call->hdr->idempotency_key);
                if (m->finish)
                    s_finish(m, call, req, out);
            }
            goto out;
        }
    }
    m->fn(call, req, &resp);
    if (cm_call_failed(call)) {
        cm_db_rollback(call->db);
        goto out;
    }
    call->reply.status = CRM__STATUS__STATUS_OK;
    s_pack_header(out, &call->reply);
    s_call_body(out, call, resp);
    if (idem) {
        err = s_idem_store(svc, call, body_hash, late, out);
        if (err) {
            cm_call_db_fail(call, err, "could not store idempotent reply");
            cm_db_rollback(call->db);
            goto out;
        }
    }
    err = cm_db_commit(call->db);
    if (err) {
        cm_call_db_fail(call, err, "could not commit");
        goto out;
    }
    /* after_commit (the relay) is due only when the commit stored events. */
    committed = (m->flags & CM_METHOD_WRITE) && cm_db_take_events(call->db);
    if (m->finish)
        s_finish(m, call, req, out);
out:
    if (cm_call_failed(call)) {
        free(out->header);
        free(out->body);
        out->header = out->body = NULL;
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    free(call->raw); /* unused when the call failed */
    call->raw = NULL;
    return committed;
}

static void s_call_body(struct s_reply *out, struct cm_call *call, const ProtobufCMessage *resp)
{
    if (call->raw) {
        out->body = call->raw;
        out->body_len = call->raw_len;
        call->raw = NULL;
        return;
    }
    s_pack_body(out, resp);
}

/* Runs the method's prepare step outside any transaction. Returns false
 * when the call failed. */
static bool s_prepare(const struct cm_method *m, struct cm_call *call, const ProtobufCMessage *req)
{
    bool tenant = !(m->flags & CM_METHOD_NO_TENANT);
    if (tenant && !call->hdr->tenant_id[0]) {
        cm_call_fail(call, CM_ERR_PERMISSION, "request carries no tenant");
        return false;
    }
    cm_err_t err =
        call->db ? cm_db_use_tenant(call->db, tenant ? call->hdr->tenant_id : NULL) : CM_OK;
    if (err) {
        cm_call_db_fail(call, err, "could not set the tenant");
        return false;
    }
    m->prepare(call, req);
    return !cm_call_failed(call);
}

/* Serves one request on thread t: decodes it, runs its handler (in a
 * transaction, retried on a lost race or connection) and packs the reply
 * into out, failures included. Returns true when a write committed. */
static bool s_handle(cm_svc_t *svc, struct cm_svc_thread *t, const struct cm_mdp_msg *msg,
                     struct s_reply *out)
{
    struct cm_call call = {0};
    crm__reply_header__init(&call.reply);
    ProtobufCMessage *req = NULL;
    Crm__RequestHeader *hdr = crm__request_header__unpack(NULL, msg->header_len, msg->header);
    int64_t started = cm_mono_ms();
    bool committed = false;

    call.svc = svc;
    call.db = t->db;
    call.user = svc->def->user;
    call.thread = t;
    if (!hdr) {
        cm_call_fail(&call, CM_ERR_INVALID, "request header does not decode");
        goto reply;
    }
    call.hdr = hdr;
    call.reply.request_id = hdr->request_id;
    cm_log_set_request_id(hdr->request_id);
    if (hdr->deadline_unix_ms && hdr->deadline_unix_ms < cm_now_ms()) {
        cm_call_fail(&call, CM_ERR_TIMEOUT, "deadline passed before the request was served");
        goto reply;
    }
    if (!strcmp(hdr->method, svc->health_method)) {
        /* Twice, as a request would be: the first use after PostgreSQL
         * restarted finds the connection lost, the second reconnects. */
        cm_err_t err = CM_OK;
        for (int attempt = 0; attempt < 2 && t->db; attempt++) {
            err = cm_db_connect(t->db);
            if (!err)
                err = cm_db_run(t->db, "SELECT 1", 0, NULL);
            if (!err)
                break;
        }
        if (err) {
            cm_call_fail(&call, CM_ERR_UNAVAILABLE, "database unavailable");
        } else {
            s_pack_header(out, &call.reply);
            s_pack_body(out, NULL);
        }
        goto reply;
    }
    const struct cm_method *m = s_find_method(svc->def, hdr->method);
    if (!m) {
        cm_call_fail(&call, CM_ERR_INVALID, "unknown method %s", hdr->method);
        goto reply;
    }
    if (!cm_perm_allows(hdr->principal, m->scope)) {
        cm_call_fail(&call, CM_ERR_PERMISSION, "this key may not %s (%s)", cm_scope_what(m->scope),
                     cm_scope_name(m->scope));
        goto reply;
    }
    req = protobuf_c_message_unpack(m->request, NULL, msg->body_len, msg->body);
    if (!req) {
        cm_call_fail(&call, CM_ERR_INVALID, "request body does not decode as %s", m->request->name);
        goto reply;
    }
    /* What the idempotency key stands for: this exact request body (only a
     * write with a key needs it). */
    char body_hash[33] = "";
    if ((m->flags & CM_METHOD_WRITE) && hdr->idempotency_key[0]) {
        static const char hex[] = "0123456789abcdef";
        unsigned char digest[16];
        crypto_generichash(digest, sizeof digest, msg->body, msg->body_len, NULL, 0);
        for (size_t i = 0; i < sizeof digest; i++) {
            body_hash[2 * i] = hex[digest[i] >> 4];
            body_hash[2 * i + 1] = hex[digest[i] & 15];
        }
        body_hash[32] = '\0';
    }
    if (m->prepare && !s_prepare(m, &call, req))
        goto reply;
    if (m->prepare && call.raw) {
        /* prepare answered the call itself (a read found all it needed):
         * no transaction, no idempotency record, and fn does not run. */
        call.reply.status = CRM__STATUS__STATUS_OK;
        s_pack_header(out, &call.reply);
        s_call_body(out, &call, NULL);
        goto reply;
    }
    /* A unique violation or serialization failure between our check and our
     * write means a concurrent request won; run once more to see its result.
     * A first try with its claim late that failed in any way runs again with
     * the claim first (CM_METHOD_CLAIM_LATE), an extra try. */
    bool late = (m->flags & CM_METHOD_CLAIM_LATE) && hdr->idempotency_key[0];
    for (int attempt = 0; attempt < 3 + late; attempt++) {
        if (attempt) {
            cm_call_reset(&call);
        }
        call.attempt = (unsigned)attempt;
        bool late_try = late && attempt == 0;
        committed = s_attempt(svc, m, &call, req, body_hash, late_try, out) || committed;
        if (!t->db)
            break;
        /* Also a lost connection (PostgreSQL restarted): nothing was
         * committed, and the next attempt reconnects. */
        const char *state = cm_db_sqlstate(t->db);
        bool retry =
            call.err == CM_ERR_UNAVAILABLE && (state[0] == '4' || !strncmp(state, "08", 2));
        retry = retry || (call.err == CM_ERR_CONFLICT && call.reply.n_details == 0);
        retry = retry || (late_try && cm_call_failed(&call));
        if (!retry)
            break;
    }
reply:
    if (cm_call_failed(&call)) {
        free(out->body);
        call.reply.status = cm_err_status(call.err);
        call.reply.message = call.message;
        s_pack_header(out, &call.reply);
        s_pack_body(out, NULL);
        call.reply.message = NULL;
    }
    if (hdr) {
        long long ms = (long long)(cm_mono_ms() - started);
        cm_log_at(cm_log_request_level(call.err != CM_OK, ms), "%s %s in %lld ms", hdr->method,
                  cm_err_name(call.err), ms);
    }
    call.reply.message = NULL;
    s_free_details(&call.reply);
    free(call.prep);
    cm_arena_reset(&t->arena);
    if (req)
        protobuf_c_message_free_unpacked(req, NULL);
    if (hdr)
        crm__request_header__free_unpacked(hdr, NULL);
    cm_log_set_request_id(NULL);
    return committed;
}

static void s_send_reply(cm_mdp_worker_t *worker, const struct cm_mdp_msg *msg,
                         const struct s_reply *r)
{
    if (cm_mdp_worker_reply(worker, msg, r->header, r->header_len, r->body, r->body_len))
        cm_log_warn("could not send reply: %s", zmq_strerror(errno));
}

/* Runs after_commit for a write that committed events, before its reply
 * goes out (so a reply never overtakes its write's event). One run at a time
 * per copy; a write whose ask a run that started after it covered (the run
 * reads what was committed when it began) waits for that run instead of
 * making its own, so writes finishing together share one relay. */
static void s_after_commit(cm_svc_t *svc, cm_db_t *db)
{
    if (!svc->def->after_commit)
        return;
    pthread_mutex_lock(&svc->relay_mu);
    uint64_t mine = ++svc->relay_asked;
    while (svc->relay_running)
        pthread_cond_wait(&svc->relay_cond, &svc->relay_mu);
    if (svc->relay_covered >= mine) {
        pthread_mutex_unlock(&svc->relay_mu);
        return;
    }
    svc->relay_running = true;
    uint64_t covers = svc->relay_asked;
    pthread_mutex_unlock(&svc->relay_mu);
    svc->def->after_commit(svc, db, svc->def->user);
    pthread_mutex_lock(&svc->relay_mu);
    svc->relay_running = false;
    svc->relay_covered = covers;
    pthread_cond_broadcast(&svc->relay_cond);
    pthread_mutex_unlock(&svc->relay_mu);
}

/* Serves one request on thread t and answers it on worker: serve, relay,
 * reply. */
static void s_serve(cm_svc_t *svc, struct cm_svc_thread *t, cm_mdp_worker_t *worker,
                    pthread_mutex_t *worker_mu, const struct cm_mdp_msg *msg)
{
    struct s_reply out = {0};
    if (s_handle(svc, t, msg, &out))
        s_after_commit(svc, t->db);
    if (worker_mu)
        pthread_mutex_lock(worker_mu);
    s_send_reply(worker, msg, &out);
    if (worker_mu)
        pthread_mutex_unlock(worker_mu);
    free(out.header);
    free(out.body);
}

/* ---------------------------------------------------------------------- */
/* The pool: requests served at once                                       */

/* How long a pool thread waits for a request before it looks whether the
 * copy is stopping. */
#define S_POOL_POLL_MS 200

/* A pool thread: a worker of its own on the bus (credit 1), so a request
 * goes from libzmq's I/O thread straight to the thread that serves it, and
 * its reply straight back. */
static void *s_pool_main(void *arg)
{
    struct cm_svc_thread *t = arg;
    cm_svc_t *svc = t->svc;
    /* Signals are the main thread's: it stops the pool. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&t->worker_mu);
    t->worker = cm_mdp_worker_new_credit(svc->zctx, svc->bus_endpoint, svc->def->name, 1);
    pthread_mutex_unlock(&t->worker_mu);
    if (!t->worker) {
        cm_log_error("could not connect a thread to the bus at %s", svc->bus_endpoint);
        return NULL;
    }
    for (;;) {
        struct cm_mdp_msg msg = {0};
        pthread_mutex_lock(&t->worker_mu);
        if (atomic_load(&svc->closing)) {
            cm_mdp_worker_disconnect(t->worker);
            cm_mdp_worker_destroy(&t->worker);
            pthread_mutex_unlock(&t->worker_mu);
            break;
        }
        int got = cm_mdp_worker_recv(t->worker, S_POOL_POLL_MS, &msg);
        int saved = errno;
        pthread_mutex_unlock(&t->worker_mu);
        if (got == 1) {
            s_serve(svc, t, t->worker, &t->worker_mu, &msg);
        } else if (got < 0 && saved == ETERM) {
            break;
        } else if (got < 0 && saved != EINTR) {
            cm_log_error("bus receive failed: %s", zmq_strerror(saved));
            struct timespec ts = {0, S_POOL_POLL_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
        cm_mdp_msg_release(&msg);
    }
    cm_mdp_client_destroy(&t->client);
    cm_arena_release(&t->arena);
    return NULL;
}

/* Heartbeats the worker of each thread busy with a request (an idle one
 * heartbeats itself while it waits), so that a long request does not make
 * the broker drop it and give its request to another. */
static void s_pool_heartbeat(cm_svc_t *svc)
{
    for (unsigned i = 0; i < svc->n_started; i++) {
        struct cm_svc_thread *t = &svc->threads[i];
        if (pthread_mutex_trylock(&t->worker_mu) != 0)
            continue; /* waiting for a request, or replying */
        if (t->worker)
            cm_mdp_worker_heartbeat(t->worker);
        pthread_mutex_unlock(&t->worker_mu);
    }
}

/* Starts the pool's threads, each with its own database connection and its
 * own worker. Returns 0, or -1 when not one could start. */
static int s_pool_start(cm_svc_t *svc, const struct cm_svc_cfg *cfg)
{
    svc->threads = cm_calloc(svc->n_threads, sizeof *svc->threads);
    for (unsigned i = 0; i < svc->n_threads; i++) {
        struct cm_svc_thread *t = &svc->threads[i];
        t->svc = svc;
        pthread_mutex_init(&t->worker_mu, NULL);
        cm_arena_init(&t->arena);
        if (cfg->database_url)
            t->db = cm_db_new(cfg->database_url, cfg->db_role);
        if (pthread_create(&t->tid, NULL, s_pool_main, t)) {
            cm_log_warn("could start only %u of %u threads", i, svc->n_threads);
            cm_db_destroy(&t->db);
            pthread_mutex_destroy(&t->worker_mu);
            break;
        }
        svc->n_started++;
    }
    return svc->n_started ? 0 : -1;
}

/* Lets each thread finish the request it serves, leave the broker, and
 * joins them. */
static void s_pool_stop(cm_svc_t *svc)
{
    if (!svc->threads)
        return;
    atomic_store(&svc->closing, true);
    for (unsigned i = 0; i < svc->n_started; i++)
        pthread_join(svc->threads[i].tid, NULL);
    for (unsigned i = 0; i < svc->n_started; i++) {
        cm_mdp_worker_destroy(&svc->threads[i].worker); /* a thread that left on an error */
        pthread_mutex_destroy(&svc->threads[i].worker_mu);
    }
    for (unsigned i = 0; i < svc->n_threads; i++)
        cm_db_destroy(&svc->threads[i].db);
    free(svc->threads);
    svc->threads = NULL;
}

struct cm_svc_cfg cm_svc_cfg_of(const struct cm_svc_settings *s)
{
    return (struct cm_svc_cfg){.bus_endpoint = s->bus_endpoint,
                               .database_url = s->database_url,
                               .db_role = s->db_role,
                               .bus_io_batch = s->bus_io_batch,
                               .threads = s->threads};
}

unsigned cm_svc_threads(const struct cm_svc_def *def, const struct cm_svc_cfg *cfg)
{
    long n = cfg->threads > 0    ? cfg->threads
             : def->threads      ? (long)def->threads
             : cfg->database_url ? CM_SVC_THREADS_DEFAULT
                                 : 1;
    return n > CM_SVC_THREADS_MAX ? CM_SVC_THREADS_MAX : (unsigned)n;
}

/* ---------------------------------------------------------------------- */

int cm_svc_run(const struct cm_svc_def *def, const struct cm_svc_cfg *cfg)
{
    cm_svc_t svc = {.def = def, .bus_endpoint = cfg->bus_endpoint};
    pthread_mutex_init(&svc.relay_mu, NULL);
    pthread_cond_init(&svc.relay_cond, NULL);
    int rc = 1;
    bool started = false; /* def->start ran */
    struct sigaction sa = {0};
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (size_t i = 0; i < def->n_methods; i++)
        if (def->methods[i].scope == CM_SCOPE_UNSET || def->methods[i].scope >= CM_SCOPE_END) {
            cm_log_error("method %s names no scope (struct cm_method.scope)", def->methods[i].name);
            return 1;
        }
    svc.health_method = cm_strfmt("%s.Health", def->name);
    if (def->idempotency_table) {
        svc.sql_idem_claim = cm_strfmt(
            "INSERT INTO %s (tenant_id, key, method, request_hash) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            def->idempotency_table);
        svc.sql_idem_put_new =
            cm_strfmt("INSERT INTO %s (tenant_id, key, method, request_hash, reply_header, "
                      "reply_body) VALUES ($1, $2, $3, $4, $5, $6)",
                      def->idempotency_table);
        svc.sql_idem_get =
            cm_strfmt("SELECT method, reply_header, reply_body, request_hash FROM %s "
                      "WHERE tenant_id = $1 AND key = $2",
                      def->idempotency_table);
        svc.sql_idem_put = cm_strfmt("UPDATE %s SET reply_header = $3, reply_body = $4 "
                                     "WHERE tenant_id = $1 AND key = $2",
                                     def->idempotency_table);
    }
    svc.zctx = cm_mdp_ctx_new(cfg->bus_io_batch);
    if (cfg->database_url)
        svc.db = cm_db_new(cfg->database_url, cfg->db_role);
    /* Wait for the database before announcing ourselves, so /readyz tells the truth. */
    while (svc.db && !s_stop && cm_db_connect(svc.db) != CM_OK) {
        cm_log_warn("database not reachable, retrying: %s", cm_db_error(svc.db));
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    int tick_ms = def->tick_ms > 0 ? def->tick_ms : 1000;
    if (def->ready) {
        /* Not announced yet: start, then tick until the service says it can answer. */
        if (def->start)
            def->start(&svc, def->user);
        while (!s_stop && !def->ready(&svc, def->user)) {
            if (def->tick)
                def->tick(&svc, def->user);
            if (def->ready(&svc, def->user))
                break;
            struct timespec ts = {tick_ms / 1000, (long)(tick_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    svc.main.svc = &svc;
    svc.main.db = svc.db;
    cm_arena_init(&svc.main.arena);
    svc.n_threads = cm_svc_threads(def, cfg);
    if (svc.n_threads > 1) {
        /* The threads announce themselves once the service has started. */
        if (def->start && !def->ready)
            def->start(&svc, def->user);
        started = true;
        if (s_pool_start(&svc, cfg)) {
            cm_log_error("could not start the threads serving requests");
            goto out;
        }
        cm_log_info("serving %s on %s, %u requests at once", def->name, cfg->bus_endpoint,
                    svc.n_started);
        /* The main thread only ticks, and heartbeats the busy threads. */
        int64_t next_tick = cm_mono_ms() + tick_ms;
        int64_t next_beat = cm_mono_ms() + CM_MDP_HEARTBEAT_MS / 2;
        while (!s_stop) {
            int64_t now = cm_mono_ms();
            int64_t until = next_tick < next_beat ? next_tick : next_beat;
            if (until > now) {
                struct timespec ts = {(until - now) / 1000,
                                      (long)((until - now) % 1000) * 1000000L};
                nanosleep(&ts, NULL); /* a signal cuts it short */
                continue;
            }
            if (now >= next_beat) {
                s_pool_heartbeat(&svc);
                next_beat = now + CM_MDP_HEARTBEAT_MS / 2;
            }
            if (now >= next_tick) {
                if (def->tick && !s_stop)
                    def->tick(&svc, def->user);
                next_tick = cm_mono_ms() + tick_ms;
            }
        }
    } else {
        /* One request at a time, on the main thread, between ticks. */
        unsigned credit = def->credit ? def->credit : cfg->database_url ? 1 : CM_SVC_CREDIT_NO_DB;
        svc.worker = cm_mdp_worker_new_credit(svc.zctx, cfg->bus_endpoint, def->name, credit);
        if (!svc.worker) {
            cm_log_error("could not connect to the bus at %s", cfg->bus_endpoint);
            goto out;
        }
        if (def->start && !def->ready)
            def->start(&svc, def->user);
        started = true;
        cm_log_info("serving %s on %s, one request at a time", def->name, cfg->bus_endpoint);
        int64_t next_tick = cm_mono_ms() + tick_ms;
        while (!s_stop) {
            int64_t wait = next_tick - cm_mono_ms();
            struct cm_mdp_msg msg = {0};
            int got = cm_mdp_worker_recv(svc.worker, wait > 0 ? (int)wait : 0, &msg);
            if (got == 1)
                s_serve(&svc, &svc.main, svc.worker, NULL, &msg);
            cm_mdp_msg_release(&msg);
            if (got < 0 && !s_stop && errno != EINTR) {
                cm_log_error("bus receive failed: %s", zmq_strerror(errno));
                break;
            }
            if (cm_mono_ms() >= next_tick) {
                if (def->tick && !s_stop)
                    def->tick(&svc, def->user);
                next_tick = cm_mono_ms() + tick_ms;
            }
        }
    }
    rc = 0;
    cm_log_info("stopping");
out:
    /* What the threads hold is served and answered before the worker leaves. */
    s_pool_stop(&svc);
    if (def->stop && (started || def->ready))
        def->stop(&svc, def->user);
    if (svc.worker)
        cm_mdp_worker_disconnect(svc.worker);
    cm_mdp_worker_destroy(&svc.worker);
    cm_mdp_client_destroy(&svc.main.client);
    cm_arena_release(&svc.main.arena);
    cm_db_destroy(&svc.db);
    zmq_ctx_term(svc.zctx);
    free(svc.health_method);
    free(svc.sql_idem_claim);
    free(svc.sql_idem_put_new);
    free(svc.sql_idem_get);
    free(svc.sql_idem_put);
    pthread_cond_destroy(&svc.relay_cond);
    pthread_mutex_destroy(&svc.relay_mu);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Calling another service                                                 */

static cm_err_t s_call_service(struct cm_call *call, const char *tenant,
                               const Crm__Principal *principal, const char *service,
                               const char *method, const char *channel, const ProtobufCMessage *req,
                               const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                               Crm__ReplyHeader **reply, ProtobufCMessage **resp);

cm_err_t cm_call_service(struct cm_call *call, const char *service, const char *method,
                         const char *channel, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                         Crm__ReplyHeader **reply, ProtobufCMessage **resp)
{
    return s_call_service(call, call->hdr->tenant_id, call->hdr->principal, service, method,
                          channel, req, resp_desc, timeout_ms, reply, resp);
}

cm_err_t cm_call_service_as(struct cm_call *call, const char *tenant,
                            const Crm__Principal *principal, const char *service,
                            const char *method, const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                            Crm__ReplyHeader **reply, ProtobufCMessage **resp)
{
    return s_call_service(call, tenant, principal, service, method, NULL, req, resp_desc,
                          timeout_ms, reply, resp);
}

ProtobufCMessage *cm_call_settings(struct cm_call *call, const char *tenant,
                                   const Crm__Principal *principal, int timeout_ms)
{
    Crm__GetSettingsRequest req = CRM__GET_SETTINGS_REQUEST__INIT;
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = NULL;
    cm_err_t err = s_call_service(call, tenant ? tenant : call->hdr->tenant_id,
                                  principal ? principal : call->hdr->principal, "customers",
                                  "customers.GetSettings", NULL, &req.base,
                                  &crm__settings__descriptor, timeout_ms, &rh, &resp);
    if (err || rh->status != CRM__STATUS__STATUS_OK || !resp) {
        cm_log_warn("customers.GetSettings: %s", err ? cm_err_name(err) : rh->message);
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        resp = NULL;
    }
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return resp;
}

static cm_err_t s_call_service(struct cm_call *call, const char *tenant,
                               const Crm__Principal *principal, const char *service,
                               const char *method, const char *channel, const ProtobufCMessage *req,
                               const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                               Crm__ReplyHeader **reply, ProtobufCMessage **resp)
{
    assert(call && call->hdr && call->thread && service && method && req);
    *reply = NULL;
    *resp = NULL;
    struct cm_svc_thread *t = call->thread;
    cm_svc_t *svc = t->svc;
    int64_t now = cm_now_ms(), deadline = now + timeout_ms;
    if (call->hdr->deadline_unix_ms && call->hdr->deadline_unix_ms - CM_CALL_MARGIN_MS < deadline)
        deadline = call->hdr->deadline_unix_ms - CM_CALL_MARGIN_MS;
    if (deadline <= now)
        return CM_ERR_TIMEOUT;
    if (!t->client)
        t->client = cm_mdp_client_new(svc->zctx, svc->bus_endpoint);
    if (!t->client)
        return CM_ERR_UNAVAILABLE;
    char rid[160];
    snprintf(rid, sizeof rid, "%.120s.%u", call->hdr->request_id, ++call->n_calls);
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.request_id = rid;
    h.tenant_id = (char *)tenant;
    h.principal = (Crm__Principal *)principal;
    h.channel = (char *)(channel ? channel : call->hdr->channel);
    h.method = (char *)method;
    h.deadline_unix_ms = deadline;
    size_t hlen = crm__request_header__get_packed_size(&h);
    size_t blen = protobuf_c_message_get_packed_size(req);
    uint8_t *hbuf = cm_malloc(hlen ? hlen : 1), *bbuf = cm_malloc(blen ? blen : 1);
    crm__request_header__pack(&h, hbuf);
    protobuf_c_message_pack(req, bbuf);
    int rc = cm_mdp_client_send(t->client, service, hbuf, hlen, bbuf, blen);
    free(hbuf);
    free(bbuf);
    if (rc)
        return CM_ERR_UNAVAILABLE;
    /* Waits in slices: served on the main thread (one request at a time),
     * the copy must still heartbeat, or the broker gives its request away. */
    for (;;) {
        int64_t left = deadline - cm_now_ms();
        if (left <= 0)
            return CM_ERR_TIMEOUT;
        int slice = left > 1000 ? 1000 : (int)left;
        cm_err_t err = cm_svc_recv(t->client, rid, resp_desc, slice, reply, resp);
        if (err != CM_ERR_TIMEOUT)
            return err;
        if (t == &svc->main && svc->worker)
            cm_mdp_worker_heartbeat(svc->worker);
    }
}

/* ---------------------------------------------------------------------- */

cm_err_t cm_svc_send(struct cm_mdp_client *client, const char *service, Crm__RequestHeader *hdr,
                     const ProtobufCMessage *req, int timeout_ms, char request_id[40])
{
    if (!hdr->request_id[0]) {
        cm_uuid(request_id);
        hdr->request_id = request_id;
    } else {
        snprintf(request_id, 40, "%s", hdr->request_id);
    }
    if (!hdr->deadline_unix_ms)
        hdr->deadline_unix_ms = cm_now_ms() + timeout_ms;
    size_t hlen = crm__request_header__get_packed_size(hdr);
    size_t blen = protobuf_c_message_get_packed_size(req);
    uint8_t *hbuf = cm_malloc(hlen), *bbuf = cm_malloc(blen);
    crm__request_header__pack(hdr, hbuf);
    protobuf_c_message_pack(req, bbuf);
    int rc = cm_mdp_client_send(client, service, hbuf, hlen, bbuf, blen);
    free(hbuf);
    free(bbuf);
    return rc ? CM_ERR_UNAVAILABLE : CM_OK;
}

cm_err_t cm_svc_recv(struct cm_mdp_client *client, const char *request_id,
                     const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                     Crm__ReplyHeader **reply, ProtobufCMessage **resp)
{
    *reply = NULL;
    *resp = NULL;
    int64_t until = cm_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = until - cm_mono_ms();
        if (left <= 0)
            return CM_ERR_TIMEOUT;
        struct cm_mdp_msg msg = {0};
        int got = cm_mdp_client_recv(client, (int)left, &msg);
        if (got < 0)
            return CM_ERR_UNAVAILABLE;
        if (got == 0)
            return CM_ERR_TIMEOUT;
        Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, msg.header_len, msg.header);
        if (!rh || strcmp(rh->request_id, request_id) != 0) {
            /* A late reply to an earlier request: not ours. */
            if (rh)
                crm__reply_header__free_unpacked(rh, NULL);
            cm_mdp_msg_release(&msg);
            continue;
        }
        *reply = rh;
        if (rh->status == CRM__STATUS__STATUS_OK && resp_desc) {
            *resp = protobuf_c_message_unpack(resp_desc, NULL, msg.body_len, msg.body);
            if (!*resp) {
                cm_mdp_msg_release(&msg);
                return CM_ERR_UPSTREAM;
            }
        }
        cm_mdp_msg_release(&msg);
        return CM_OK;
    }
}

cm_err_t cm_svc_call(struct cm_mdp_client *client, const char *service, Crm__RequestHeader *hdr,
                     const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                     int timeout_ms, Crm__ReplyHeader **reply, ProtobufCMessage **resp)
{
    char rid[40];
    *reply = NULL;
    *resp = NULL;
    cm_err_t err = cm_svc_send(client, service, hdr, req, timeout_ms, rid);
    if (err)
        return err;
    return cm_svc_recv(client, rid, resp_desc, timeout_ms, reply, resp);
}

void cm_svc_call_many(struct cm_mdp_client *client, const char *service, size_t n,
                      Crm__RequestHeader *const *hdr, const ProtobufCMessage *const *req,
                      const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, cm_err_t *err,
                      Crm__ReplyHeader **reply, ProtobufCMessage **resp)
{
    char(*rid)[40] = cm_calloc(n ? n : 1, sizeof *rid);
    size_t waiting = 0;
    for (size_t i = 0; i < n; i++) {
        reply[i] = NULL;
        resp[i] = NULL;
        err[i] = cm_svc_send(client, service, hdr[i], req[i], timeout_ms, rid[i]);
        if (!err[i]) {
            err[i] = CM_ERR_TIMEOUT; /* until its reply comes */
            waiting++;
        }
    }
    int64_t until = cm_mono_ms() + timeout_ms;
    while (waiting) {
        int64_t left = until - cm_mono_ms();
        if (left <= 0)
            break;
        struct cm_mdp_msg msg = {0};
        int got = cm_mdp_client_recv(client, (int)left, &msg);
        if (got <= 0)
            break;
        Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, msg.header_len, msg.header);
        size_t i = 0;
        while (rh && i < n && (reply[i] || strcmp(rh->request_id, rid[i])))
            i++;
        if (!rh || i == n) {
            /* A late reply to an earlier request, or one already taken. */
            if (rh)
                crm__reply_header__free_unpacked(rh, NULL);
            cm_mdp_msg_release(&msg);
            continue;
        }
        reply[i] = rh;
        err[i] = CM_OK;
        if (rh->status == CRM__STATUS__STATUS_OK && resp_desc) {
            resp[i] = protobuf_c_message_unpack(resp_desc, NULL, msg.body_len, msg.body);
            if (!resp[i])
                err[i] = CM_ERR_UPSTREAM;
        }
        cm_mdp_msg_release(&msg);
        waiting--;
    }
    free(rid);
}
