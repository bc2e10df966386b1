/* The Majordomo broker (services by name, a FIFO of requests and LRU lists
 * of workers with room per service, heartbeats, retries within the deadline)
 * and the XSUB/XPUB event proxy, in one zmq_poll loop.
 *
 * Credit. A worker may announce in READY that it takes up to `credit`
 * requests at once (it may answer them in any order: a reply is matched to
 * its request by request id and client). The broker prefers idle
 * workers and only then fills workers' spare credit, so under load a worker
 * gets several requests per wake-up and answers them in one go, instead of
 * one round trip per request.
 *
 * Duplicate replies. A request is retried on another worker when its worker
 * is lost; the lost worker may still answer later. The broker remembers the
 * request_id of every request it has re-queued (only those: normal traffic
 * costs nothing) until a minute after its deadline, and forwards only the
 * first reply carrying that id. When that table is empty a reply is forwarded
 * without even decoding its header. Clients still dedup by request_id, since
 * the broker restarting loses the table.
 *
 * Keys (with CURVE, docs/bus.md "Who may speak"). Every socket is a CURVE
 * server; a ZAP handler polled in the request loop admits the public keys of
 * the registry, per socket by its ZAP domain, and names the connection after
 * the key (its User-Id). Per request the broker looks the name up (a hash)
 * and checks the header against the key's kind: an outside system's request
 * gets the key's tenant and principal; a service may speak for someone else
 * only while a request of theirs is in flight at a worker with the same key
 * (a table of requests in flight by request id, kept only with CURVE). */
#include "broker.h"
#include "cm_curve.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_util.h"
#include "envelope.pb-c.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#define S_BATCH 1000          /* messages handled per socket per wake-up */
#define S_STOP_CHECK_MS 100   /* longest poll, so a stop flag set by a thread is seen */
#define S_PURGE_GAP_MS 10     /* deadlines are checked at most this often */
#define S_LINGER_MS 1000      /* on close: flush what is pending, never hang */
#define S_RETRY_KEEP_MS 60000 /* remember a retried request this long past its deadline */
#define S_BUCKETS 1024        /* worker hash table size */
#define S_SERVICE_MAX 255
#define S_INFLIGHT_BUCKETS 4096 /* in-flight request table size (CURVE only) */

/* ---------------------------------------------------------------------- */
/* Records                                                                  */

/* A request waiting in a queue or in flight at a worker. The frames are kept
 * as zmq messages so dispatching shares them (reference counted) rather than
 * copying. */
struct s_request {
    struct s_request *next, *prev; // borrowed (links of the service queue)
    zmq_msg_t client;              // routing id of the client
    zmq_msg_t header;              // packed crm.RequestHeader
    zmq_msg_t body;
    char *request_id; // owned
    char *method;     // owned: one request id may name several calls (the gateway's
                      // Authenticate, then the call itself), told apart by method
    int64_t deadline; // unix ms
    bool retried;     // re-queued at least once after losing its worker
    /* With CURVE: who the request speaks for, so that a service forwarding
     * it (cm_call_service) may speak for the same principal. */
    char *tenant;                    // owned; NULL without CURVE
    char *principal_id;              // owned; NULL without CURVE
    struct s_request *inext, *iprev; // borrowed (in-flight chain of the broker)
    const struct s_worker *at;       // borrowed: the worker it is in flight at
    bool inflight;                   // on the in-flight table
};

struct s_worker;

enum s_list { S_LIST_NONE = 0, S_LIST_IDLE, S_LIST_SPARE };

struct s_service {
    struct s_service *next;            // owned (list of the broker)
    char *name;                        // owned
    struct s_request *q_head, *q_tail; // owned (FIFO)
    size_t q_len;
    struct s_worker *idle_head, *idle_tail;   // borrowed (workers of the broker), LRU first
    struct s_worker *spare_head, *spare_tail; // borrowed: busy workers with credit left
    size_t workers;                           // registered workers
};

struct s_worker {
    struct s_worker *hnext;                 // owned (hash chain of the broker)
    struct s_worker *idle_next, *idle_prev; // borrowed (idle or spare list of the service)
    uint8_t *id;                            // owned: ROUTER routing id
    size_t id_len;
    char hex[2 * 16 + 1];                  // printable id for logs
    struct s_service *service;             // borrowed (the broker's list); NULL until READY
    struct s_request *cur_head, *cur_tail; // owned: requests in flight, oldest first
    unsigned n_current;
    unsigned credit;  // requests it takes at once (READY), >= 1
    enum s_list list; // which list of the service it is on
    int64_t expiry;   // mono ms: dropped if silent until then
    char *key_name;   // owned: the bus key it connected with ("" without CURVE)
};

/* A request that was re-queued: its first reply wins. A request is its id
 * and method: a client may send several calls under one id, one after the
 * other, and the reply to the next is not a duplicate of the one before. */
struct s_retry {
    struct s_retry *next; // owned
    char *request_id;     // owned
    char *method;         // owned
    char *service;        // owned
    bool answered;
    int64_t forget_at; // unix ms
};

struct broker {
    void *zctx;                          // borrowed
    void *router;                        // owned: the bus
    void *xsub, *xpub;                   // owned: the event proxy, or NULL; used by its thread
    pthread_t events_thread;             // moves events while broker_run runs
    atomic_bool events_failed;           // the events thread stopped on an error
    struct s_service *services;          // owned
    struct s_worker *buckets[S_BUCKETS]; // owned
    size_t n_workers;
    struct s_retry *retries; // owned
    int64_t heartbeat_at;    // mono ms
    int64_t purge_at;        // unix ms: earliest deadline of a queued request
    int64_t purged_at;       // unix ms: last walk over the queues
    /* CURVE (NULL/unused without): */
    void *zap;                                      // owned: REP at inproc://zeromq.zap.01
    cm_curve_registry_t *registry;                  // owned: the admitted keys
    char *registry_path;                            // owned
    struct stat registry_st;                        // of the file loaded, to notice a change
    struct s_request *inflight[S_INFLIGHT_BUCKETS]; // borrowed (the workers' lists)
};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                            */

/* A service name: 1..255 bytes, no NUL. Returns a new string or NULL. */
static char *s_part_service(zmq_msg_t *m)
{
    size_t n = zmq_msg_size(m);
    if (n == 0 || n > S_SERVICE_MAX || memchr(zmq_msg_data(m), 0, n))
        return NULL;
    return cm_strndup(zmq_msg_data(m), n);
}

static void s_hex(const uint8_t *id, size_t len, char *out, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && o + 2 < size; i++) {
        out[o++] = digits[id[i] >> 4];
        out[o++] = digits[id[i] & 15];
    }
    out[o] = '\0';
}

struct s_frame {
    const void *data;
    size_t len;
};

/* Sends frames given as (data, len) pairs; the first is the routing id; with
 * `more` the message goes on after them. Never blocks. Returns 0 or -1 with
 * errno (EHOSTUNREACH: peer gone; EAGAIN: peer not reading). The first frame
 * decides: once the routing id is accepted the rest cannot fail. */
static int s_send_frames(void *sock, const struct s_frame *f, int n, bool more)
{
    for (int i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n || more ? ZMQ_SNDMORE : 0);
        if (zmq_send(sock, f[i].len ? f[i].data : "", f[i].len, flags) < 0)
            return -1;
    }
    return 0;
}

/* Sends a copy of a stored frame (shared, not duplicated, for large ones). */
static int s_send_copy(void *sock, zmq_msg_t *m, int flags)
{
    zmq_msg_t t;
    zmq_msg_init(&t);
    zmq_msg_copy(&t, m);
    int rc = zmq_msg_send(&t, sock, flags);
    if (rc < 0)
        zmq_msg_close(&t);
    return rc < 0 ? -1 : 0;
}

/* Sets the request id shown on log lines, only when debug lines are written. */
static void s_log_req(const char *request_id)
{
    if (cm_log_level >= CM_LOG_DEBUG)
        cm_log_set_request_id(request_id);
}

/* ---------------------------------------------------------------------- */
/* Requests and services                                                    */

static void s_request_free(struct s_request **req_p)
{
    struct s_request *req = *req_p;
    if (!req)
        return;
    zmq_msg_close(&req->client);
    zmq_msg_close(&req->header);
    zmq_msg_close(&req->body);
    free(req->request_id);
    free(req->method);
    free(req->tenant);
    free(req->principal_id);
    free(req);
    *req_p = NULL;
}

static void s_queue_push_back(struct s_service *svc, struct s_request *req)
{
    req->next = NULL;
    req->prev = svc->q_tail;
    if (svc->q_tail)
        svc->q_tail->next = req;
    else
        svc->q_head = req;
    svc->q_tail = req;
    svc->q_len++;
}

static void s_queue_push_front(struct s_service *svc, struct s_request *req)
{
    req->prev = NULL;
    req->next = svc->q_head;
    if (svc->q_head)
        svc->q_head->prev = req;
    else
        svc->q_tail = req;
    svc->q_head = req;
    svc->q_len++;
}

static void s_queue_remove(struct s_service *svc, struct s_request *req)
{
    if (req->prev)
        req->prev->next = req->next;
    else
        svc->q_head = req->next;
    if (req->next)
        req->next->prev = req->prev;
    else
        svc->q_tail = req->prev;
    req->next = req->prev = NULL;
    svc->q_len--;
}

static struct s_service *s_service_find(broker_t *self, const char *name)
{
    for (struct s_service *s = self->services; s; s = s->next)
        if (!strcmp(s->name, name))
            return s;
    return NULL;
}

static struct s_service *s_service_require(broker_t *self, const char *name)
{
    struct s_service *s = s_service_find(self, name);
    if (s)
        return s;
    s = cm_calloc(1, sizeof *s);
    s->name = cm_strdup(name);
    s->next = self->services;
    self->services = s;
    return s;
}

/* Takes w off the idle or spare list it is on. */
static void s_idle_remove(struct s_service *svc, struct s_worker *w)
{
    if (w->list == S_LIST_NONE)
        return;
    struct s_worker **head = w->list == S_LIST_IDLE ? &svc->idle_head : &svc->spare_head;
    struct s_worker **tail = w->list == S_LIST_IDLE ? &svc->idle_tail : &svc->spare_tail;
    if (w->idle_prev)
        w->idle_prev->idle_next = w->idle_next;
    else
        *head = w->idle_next;
    if (w->idle_next)
        w->idle_next->idle_prev = w->idle_prev;
    else
        *tail = w->idle_prev;
    w->idle_next = w->idle_prev = NULL;
    w->list = S_LIST_NONE;
}

/* Puts w (on no list) at the back of the list its load says: idle with
 * nothing in flight, spare with credit left, none when full. */
static void s_idle_push_back(struct s_service *svc, struct s_worker *w)
{
    assert(w->list == S_LIST_NONE);
    if (w->n_current >= w->credit)
        return;
    w->list = w->n_current == 0 ? S_LIST_IDLE : S_LIST_SPARE;
    struct s_worker **head = w->list == S_LIST_IDLE ? &svc->idle_head : &svc->spare_head;
    struct s_worker **tail = w->list == S_LIST_IDLE ? &svc->idle_tail : &svc->spare_tail;
    w->idle_next = NULL;
    w->idle_prev = *tail;
    if (*tail)
        (*tail)->idle_next = w;
    else
        *head = w;
    *tail = w;
}

/* The worker's requests in flight, in the order it was sent them. */
static void s_current_push(struct s_worker *w, struct s_request *req)
{
    req->next = NULL;
    req->prev = w->cur_tail;
    if (w->cur_tail)
        w->cur_tail->next = req;
    else
        w->cur_head = req;
    w->cur_tail = req;
    w->n_current++;
}

/* Takes the oldest request in flight (the one a reply answers), or NULL. */
static struct s_request *s_current_pop(struct s_worker *w)
{
    struct s_request *req = w->cur_head;
    if (!req)
        return NULL;
    w->cur_head = req->next;
    if (w->cur_head)
        w->cur_head->prev = NULL;
    else
        w->cur_tail = NULL;
    req->next = req->prev = NULL;
    w->n_current--;
    return req;
}

/* Takes the newest request in flight, or NULL. */
static struct s_request *s_current_pop_newest(struct s_worker *w)
{
    struct s_request *req = w->cur_tail;
    if (!req)
        return NULL;
    w->cur_tail = req->prev;
    if (w->cur_tail)
        w->cur_tail->next = NULL;
    else
        w->cur_head = NULL;
    req->next = req->prev = NULL;
    w->n_current--;
    return req;
}

/* Takes the request in flight that a worker's reply answers. A worker with
 * credit may answer its requests in any order (a copy serving several at
 * once finishes a quick one before a slow one), so with more than one in
 * flight the reply's request id and client say which; the only one needs no
 * look. Falls back to the oldest. */
static struct s_request *s_current_take(struct s_worker *w, zmq_msg_t *client, zmq_msg_t *header)
{
    if (w->n_current <= 1)
        return s_current_pop(w);
    Crm__ReplyHeader *rh =
        crm__reply_header__unpack(NULL, zmq_msg_size(header), zmq_msg_data(header));
    struct s_request *found = NULL;
    if (rh && rh->request_id[0]) {
        size_t cl = zmq_msg_size(client);
        for (struct s_request *q = w->cur_head; q && !found; q = q->next)
            if (!strcmp(q->request_id, rh->request_id) && zmq_msg_size(&q->client) == cl &&
                !memcmp(zmq_msg_data(&q->client), zmq_msg_data(client), cl))
                found = q;
    }
    crm__reply_header__free_unpacked(rh, NULL);
    if (!found || found == w->cur_head)
        return s_current_pop(w);
    if (found == w->cur_tail)
        return s_current_pop_newest(w);
    found->prev->next = found->next;
    found->next->prev = found->prev;
    found->next = found->prev = NULL;
    w->n_current--;
    return found;
}

/* ---------------------------------------------------------------------- */
/* Requests in flight by request id (with CURVE only)                       */

static unsigned s_str_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % S_INFLIGHT_BUCKETS;
}

static void s_inflight_add(broker_t *self, struct s_request *req, const struct s_worker *w)
{
    if (!self->registry || !req->request_id[0])
        return;
    struct s_request **head = &self->inflight[s_str_hash(req->request_id)];
    req->iprev = NULL;
    req->inext = *head;
    if (*head)
        (*head)->iprev = req;
    *head = req;
    req->at = w;
    req->inflight = true;
}

static void s_inflight_remove(broker_t *self, struct s_request *req)
{
    if (!req || !req->inflight)
        return;
    if (req->iprev)
        req->iprev->inext = req->inext;
    else
        self->inflight[s_str_hash(req->request_id)] = req->inext;
    if (req->inext)
        req->inext->iprev = req->iprev;
    req->inext = req->iprev = NULL;
    req->at = NULL;
    req->inflight = false;
}

static bool s_inflight_find(const broker_t *self, const char *request_id, const char *tenant,
                            const char *principal_id, const char *key_name)
{
    for (const struct s_request *q = self->inflight[s_str_hash(request_id)]; q; q = q->inext)
        if (!strcmp(q->request_id, request_id) && q->tenant && !strcmp(q->tenant, tenant) &&
            !strcmp(q->principal_id, principal_id) && !strcmp(q->at->key_name, key_name))
            return true;
    return false;
}

/* True when the request a service sends on behalf of someone belongs to a
 * request in flight at a worker that connected with the same key, for the
 * same tenant and principal: the caller's request id itself, or the id
 * cm_call_service derives from it ("<caller's id>.<n>"). */
static bool s_inflight_serving(const broker_t *self, const char *request_id, const char *tenant,
                               const char *principal_id, const char *key_name)
{
    if (!request_id[0])
        return false;
    if (s_inflight_find(self, request_id, tenant, principal_id, key_name))
        return true;
    const char *dot = strrchr(request_id, '.');
    if (!dot || dot == request_id || !dot[1] || strspn(dot + 1, "0123456789") != strlen(dot + 1))
        return false;
    char caller[256];
    size_t n = (size_t)(dot - request_id);
    if (n >= sizeof caller)
        return false;
    memcpy(caller, request_id, n);
    caller[n] = '\0';
    return s_inflight_find(self, caller, tenant, principal_id, key_name);
}

/* ---------------------------------------------------------------------- */
/* The retry table                                                          */

/* The record of a request; method NULL matches any (a reply whose request
 * the broker no longer holds). */
static struct s_retry *s_retry_find(broker_t *self, const char *request_id, const char *method)
{
    for (struct s_retry *r = self->retries; r; r = r->next)
        if (!strcmp(r->request_id, request_id) && (!method || !strcmp(r->method, method)))
            return r;
    return NULL;
}

static void s_retry_note(broker_t *self, const struct s_request *req, const char *service)
{
    if (!req->request_id[0] || s_retry_find(self, req->request_id, req->method))
        return;
    struct s_retry *r = cm_calloc(1, sizeof *r);
    r->request_id = cm_strdup(req->request_id);
    r->method = cm_strdup(req->method);
    r->service = cm_strdup(service);
    r->forget_at = req->deadline + S_RETRY_KEEP_MS;
    r->next = self->retries;
    self->retries = r;
}

/* Marks a retried request answered; true if it already was. */
static bool s_retry_answer(broker_t *self, const char *request_id, const char *method)
{
    struct s_retry *r = s_retry_find(self, request_id, method);
    if (!r)
        return false;
    bool was = r->answered;
    r->answered = true;
    return was;
}

static void s_retry_purge(broker_t *self, int64_t now)
{
    struct s_retry **pp = &self->retries;
    while (*pp) {
        struct s_retry *r = *pp;
        if (r->forget_at <= now) {
            *pp = r->next;
            free(r->request_id);
            free(r->method);
            free(r->service);
            free(r);
        } else {
            pp = &r->next;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Replies the broker writes itself                                         */

/* Sends FINAL with a packed reply header and a body to a client. A client
 * that is gone (EHOSTUNREACH) or not reading (EAGAIN) loses the reply. */
static void s_send_client(broker_t *self, zmq_msg_t *client, const char *service,
                          const void *header, size_t header_len, const void *body, size_t body_len)
{
    const uint8_t cmd = CM_MDP_FINAL;
    struct s_frame f[] = {
        {zmq_msg_data(client), zmq_msg_size(client)},
        {CM_MDP_CLIENT, 6},
        {&cmd, 1},
        {service, strlen(service)},
        {header, header_len},
        {body, body_len},
    };
    if (s_send_frames(self->router, f, 6, false) != 0)
        cm_log_debug("reply dropped, client unreachable: %s", zmq_strerror(errno));
}

static void s_answer(broker_t *self, zmq_msg_t *client, const char *service, const char *request_id,
                     Crm__Status status, const char *message, const void *body, size_t body_len)
{
    Crm__ReplyHeader rh = CRM__REPLY_HEADER__INIT;
    rh.status = status;
    rh.message = (char *)(message ? message : "");
    rh.request_id = (char *)(request_id ? request_id : "");
    size_t n = crm__reply_header__get_packed_size(&rh);
    uint8_t *buf = cm_malloc(n + 1);
    crm__reply_header__pack(&rh, buf);
    s_send_client(self, client, service, buf, n, body, body_len);
    free(buf);
}

/* Answers a request the broker gives up on, and frees it. */
static void s_answer_expired(broker_t *self, struct s_service *svc, struct s_request **req_p)
{
    struct s_request *req = *req_p;
    s_log_req(req->request_id);
    if (req->retried)
        (void)s_retry_answer(self, req->request_id, req->method);
    if (svc->workers == 0) {
        char *msg = cm_strfmt("no worker for service %s", svc->name);
        cm_log_debug("unavailable service=%s", svc->name);
        s_answer(self, &req->client, svc->name, req->request_id, CRM__STATUS__STATUS_UNAVAILABLE,
                 msg, NULL, 0);
        free(msg);
    } else {
        cm_log_debug("deadline exceeded service=%s", svc->name);
        s_answer(self, &req->client, svc->name, req->request_id,
                 CRM__STATUS__STATUS_DEADLINE_EXCEEDED, "deadline exceeded", NULL, 0);
    }
    s_log_req(NULL);
    s_request_free(req_p);
}

/* ---------------------------------------------------------------------- */
/* Workers                                                                  */

static unsigned s_hash(const uint8_t *id, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ id[i]) * 16777619u;
    return h % S_BUCKETS;
}

static struct s_worker *s_worker_find(broker_t *self, const void *id, size_t len)
{
    for (struct s_worker *w = self->buckets[s_hash(id, len)]; w; w = w->hnext)
        if (w->id_len == len && !memcmp(w->id, id, len))
            return w;
    return NULL;
}

static struct s_worker *s_worker_add(broker_t *self, const void *id, size_t len,
                                     const struct cm_curve_entry *key)
{
    struct s_worker *w = cm_calloc(1, sizeof *w);
    w->key_name = cm_strdup(key ? key->name : "");
    w->id = cm_malloc(len ? len : 1);
    memcpy(w->id, id, len);
    w->id_len = len;
    s_hex(w->id, len, w->hex, sizeof w->hex);
    unsigned b = s_hash(id, len);
    w->hnext = self->buckets[b];
    self->buckets[b] = w;
    self->n_workers++;
    return w;
}

static void s_send_worker_cmd(broker_t *self, const void *id, size_t len, int cmd)
{
    const uint8_t c = (uint8_t)cmd;
    struct s_frame f[] = {{id, len}, {CM_MDP_WORKER, 6}, {&c, 1}};
    (void)s_send_frames(self->router, f, 3, false);
}

/* Puts a request whose worker was lost back at the front of its queue, so it
 * is the next one to go to another worker, or answers it if its deadline has
 * passed. */
static void s_requeue(broker_t *self, struct s_service *svc, struct s_request **req_p)
{
    struct s_request *req = *req_p;
    *req_p = NULL;
    if (req->deadline <= cm_now_ms()) {
        s_answer_expired(self, svc, &req);
        return;
    }
    req->retried = true;
    s_retry_note(self, req, svc->name);
    s_log_req(req->request_id);
    cm_log_debug("request re-queued service=%s", svc->name);
    s_log_req(NULL);
    s_queue_push_front(svc, req);
    if (req->deadline < self->purge_at)
        self->purge_at = req->deadline;
}

/* Takes a worker out of its service, re-queueing its request. */
static void s_worker_detach(broker_t *self, struct s_worker *w)
{
    struct s_service *svc = w->service;
    if (!svc)
        return;
    s_idle_remove(svc, w);
    /* Newest first: each goes to the front, so they keep their order. */
    struct s_request *req;
    while ((req = s_current_pop_newest(w))) {
        s_inflight_remove(self, req);
        s_requeue(self, svc, &req);
    }
    svc->workers--;
    w->service = NULL;
}

/* Forgets a worker; with `disconnect` it is told so. Returns its service,
 * which the caller dispatches again once that is safe (its request may be
 * back in the queue), or NULL. */
static struct s_service *s_worker_delete(broker_t *self, struct s_worker *w, bool disconnect,
                                         const char *why)
{
    struct s_service *svc = w->service;
    /* held: the requests it was working on, which go to another copy now. */
    cm_log_info("worker %s service=%s worker=%s held=%u", why, svc ? svc->name : "-", w->hex,
                w->n_current);
    if (disconnect)
        s_send_worker_cmd(self, w->id, w->id_len, CM_MDP_DISCONNECT);
    s_worker_detach(self, w);
    struct s_worker **pp = &self->buckets[s_hash(w->id, w->id_len)];
    while (*pp != w)
        pp = &(*pp)->hnext;
    *pp = w->hnext;
    self->n_workers--;
    free(w->key_name);
    free(w->id);
    free(w);
    return svc;
}

/* Sends queued requests to idle workers, least recently used first. */
static void s_dispatch(broker_t *self, struct s_service *svc)
{
    int64_t now = 0;
    while (svc->q_head && (svc->idle_head || svc->spare_head)) {
        struct s_request *req = svc->q_head;
        s_queue_remove(svc, req);
        if (req->retried) {
            struct s_retry *r = s_retry_find(self, req->request_id, req->method);
            if (r && r->answered) {
                s_request_free(&req); /* a late reply already answered it */
                continue;
            }
        }
        if (!now)
            now = cm_now_ms();
        if (req->deadline <= now) {
            s_answer_expired(self, svc, &req);
            continue;
        }
        struct s_worker *w = svc->idle_head ? svc->idle_head : svc->spare_head;
        s_idle_remove(svc, w);
        const uint8_t cmd = CM_MDP_REQUEST;
        struct s_frame f[] = {{w->id, w->id_len}, {CM_MDP_WORKER, 6}, {&cmd, 1}};
        if (s_send_frames(self->router, f, 3, true) == 0) {
            (void)s_send_copy(self->router, &req->client, ZMQ_DONTWAIT | ZMQ_SNDMORE);
            (void)s_send_copy(self->router, &req->header, ZMQ_DONTWAIT | ZMQ_SNDMORE);
            (void)s_send_copy(self->router, &req->body, ZMQ_DONTWAIT);
            s_current_push(w, req);
            s_inflight_add(self, req, w);
            s_idle_push_back(svc, w);
            s_log_req(req->request_id);
            cm_log_debug("dispatched service=%s worker=%s", svc->name, w->hex);
            s_log_req(NULL);
        } else {
            s_queue_push_front(svc, req);
            (void)s_worker_delete(self, w, false, "unreachable");
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Messages from workers                                                    */

/* Forwards a worker's FINAL to its client as the client's FINAL, moving the
 * header and body frames without copying. Drops it if the same request was
 * already answered (see the top of the file). */
static void s_forward_reply(broker_t *self, struct cm_mdp_parts *p, const char *service,
                            const struct s_worker *w, const struct s_request *answered)
{
    zmq_msg_t *client = &p->part[3], *header = &p->part[4];
    zmq_msg_t empty;
    zmq_msg_init(&empty);
    zmq_msg_t *body = p->n >= 6 ? &p->part[5] : &empty;
    if (self->retries) {
        Crm__ReplyHeader *rh =
            crm__reply_header__unpack(NULL, zmq_msg_size(header), zmq_msg_data(header));
        bool dup = false;
        if (rh && rh->request_id[0]) {
            /* The method of the call answered: the worker's request in
             * flight under that id (unknown for a forgotten worker). */
            const char *method =
                answered && !strcmp(answered->request_id, rh->request_id) ? answered->method : NULL;
            for (const struct s_request *q = w ? w->cur_head : NULL; q && !method; q = q->next)
                if (!strcmp(q->request_id, rh->request_id))
                    method = q->method;
            struct s_retry *r = s_retry_find(self, rh->request_id, method);
            if (r && !service[0])
                service = r->service; /* for a reply from a forgotten worker */
            dup = r && s_retry_answer(self, rh->request_id, r->method);
            if (dup) {
                s_log_req(rh->request_id);
                cm_log_debug("duplicate reply dropped");
                s_log_req(NULL);
            }
        }
        /* `service` may point into the retry record, which outlives this call. */
        crm__reply_header__free_unpacked(rh, NULL);
        if (dup) {
            zmq_msg_close(&empty);
            return;
        }
    }
    const uint8_t cmd = CM_MDP_FINAL;
    struct s_frame f[] = {{CM_MDP_CLIENT, 6}, {&cmd, 1}, {service, strlen(service)}};
    int rc = zmq_msg_send(client, self->router, ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 ? -1 : 0;
    if (rc == 0) {
        for (int i = 0; i < 3; i++)
            (void)zmq_send(self->router, f[i].len ? f[i].data : "", f[i].len,
                           ZMQ_DONTWAIT | ZMQ_SNDMORE);
        (void)zmq_msg_send(header, self->router, ZMQ_DONTWAIT | ZMQ_SNDMORE);
        (void)zmq_msg_send(body, self->router, ZMQ_DONTWAIT);
    } else {
        cm_log_debug("reply dropped, client unreachable: %s", zmq_strerror(errno));
    }
    zmq_msg_close(&empty);
}

static void s_worker_ready(broker_t *self, struct s_worker *w, struct cm_mdp_parts *p)
{
    char *name = p->n >= 4 ? s_part_service(&p->part[3]) : NULL;
    /* With CURVE a service's key serves only that service (the check on the
     * key's kind was made before). */
    if (name && self->registry && strcmp(name, w->key_name) != 0) {
        cm_log_warn("worker refused, key %s may not serve %s worker=%s", w->key_name, name, w->hex);
        free(name);
        struct s_service *old = s_worker_delete(self, w, true, "refused");
        if (old)
            s_dispatch(self, old);
        return;
    }
    if (!name || !strncmp(name, "mmi.", 4)) {
        cm_log_warn("worker refused, invalid service name worker=%s", w->hex);
        free(name);
        struct s_service *old = s_worker_delete(self, w, true, "refused");
        if (old)
            s_dispatch(self, old);
        return;
    }
    if (w->service) {
        /* A second READY: the worker restarted its conversation, so whatever
         * it was doing is lost. */
        cm_log_info("worker re-registered service=%s worker=%s", w->service->name, w->hex);
        struct s_service *old = w->service;
        s_worker_detach(self, w);
        s_dispatch(self, old);
    }
    struct s_service *svc = s_service_require(self, name);
    free(name);
    w->credit = 1;
    if (p->n >= 5) {
        long credit = 0;
        char text[8];
        size_t n = zmq_msg_size(&p->part[4]);
        if (n > 0 && n < sizeof text) {
            memcpy(text, zmq_msg_data(&p->part[4]), n);
            text[n] = '\0';
            if (cm_parse_long(text, 1, CM_MDP_CREDIT_MAX, &credit) == 0)
                w->credit = (unsigned)credit;
        }
        if (!credit)
            cm_log_warn("worker credit ignored, not 1..%d worker=%s", CM_MDP_CREDIT_MAX, w->hex);
    }
    w->service = svc;
    svc->workers++;
    s_idle_push_back(svc, w);
    cm_log_info("worker ready service=%s worker=%s workers=%zu", svc->name, w->hex, svc->workers);
    s_dispatch(self, svc);
}

static void s_worker_message(broker_t *self, struct cm_mdp_parts *p,
                             const struct cm_curve_entry *key)
{
    zmq_msg_t *id = &p->part[0];
    struct s_worker *w = s_worker_find(self, zmq_msg_data(id), zmq_msg_size(id));
    int cmd = p->n >= 3 ? cm_mdp_part_command(&p->part[2]) : -1;
    if (key && key->kind != CM_CURVE_SERVICE) {
        /* Only a service's key may be a worker (or answer as one). */
        cm_log_warn("worker refused, the %s key %s may not be a worker",
                    cm_curve_kind_name(key->kind), key->name);
        s_send_worker_cmd(self, zmq_msg_data(id), zmq_msg_size(id), CM_MDP_DISCONNECT);
        if (w) {
            struct s_service *svc = s_worker_delete(self, w, false, "refused");
            if (svc)
                s_dispatch(self, svc);
        }
        return;
    }
    if (w)
        w->expiry = cm_mono_ms() + CM_MDP_HEARTBEAT_MS * CM_MDP_LIVENESS;
    switch (cmd) {
    case CM_MDP_READY:
        if (!w) {
            w = s_worker_add(self, zmq_msg_data(id), zmq_msg_size(id), key);
            w->expiry = cm_mono_ms() + CM_MDP_HEARTBEAT_MS * CM_MDP_LIVENESS;
        }
        s_worker_ready(self, w, p);
        return;
    case CM_MDP_FINAL:
        if (p->n < 5) {
            cm_log_warn("dropped a short FINAL from worker");
            return;
        }
        /* Which request it answers, before the frames are moved on. */
        struct s_request *done =
            w && w->service ? s_current_take(w, &p->part[3], &p->part[4]) : NULL;
        s_inflight_remove(self, done);
        s_forward_reply(self, p, w && w->service ? w->service->name : "", w, done);
        if (!w || !w->service) {
            /* A worker we dropped (expired) answered late: its reply went
             * out above if it was the first; now make it register again. */
            s_send_worker_cmd(self, zmq_msg_data(id), zmq_msg_size(id), CM_MDP_DISCONNECT);
            if (w)
                (void)s_worker_delete(self, w, false, "unregistered");
            return;
        }
        s_request_free(&done);
        s_idle_remove(w->service, w);
        s_idle_push_back(w->service, w);
        s_dispatch(self, w->service);
        return;
    case CM_MDP_HEARTBEAT:
        if (!w || !w->service)
            s_send_worker_cmd(self, zmq_msg_data(id), zmq_msg_size(id), CM_MDP_DISCONNECT);
        return;
    case CM_MDP_DISCONNECT:
        if (w) {
            struct s_service *svc = s_worker_delete(self, w, false, "disconnected");
            if (svc)
                s_dispatch(self, svc);
        }
        return;
    default:
        /* RFC 18: a valid but unexpected command earns a DISCONNECT. */
        cm_log_warn("dropped an unexpected worker command %d", cmd);
        if (w) {
            struct s_service *svc = s_worker_delete(self, w, true, "refused");
            if (svc)
                s_dispatch(self, svc);
        } else
            s_send_worker_cmd(self, zmq_msg_data(id), zmq_msg_size(id), CM_MDP_DISCONNECT);
        return;
    }
}

/* ---------------------------------------------------------------------- */
/* What a key may say (docs/bus.md, "Who may speak")                        */

/* A principal a service may send on its own account: none, or kind SERVICE
 * (or unspecified) with role SERVICE (or unspecified). */
static bool s_own_principal(const Crm__Principal *p)
{
    return !p || ((p->kind == CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE ||
                   p->kind == CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_UNSPECIFIED) &&
                  (p->role == CRM__ROLE__ROLE_SERVICE || p->role == CRM__ROLE__ROLE_UNSPECIFIED));
}

/* Rewrites the header of an outside system's request: its key's tenant and
 * the principal the key stands for, whatever the request said. */
static void s_bind_system(const struct cm_curve_entry *key, Crm__RequestHeader *h,
                          zmq_msg_t *header)
{
    Crm__Principal mine = CRM__PRINCIPAL__INIT;
    mine.id = key->name;
    mine.name = key->name;
    mine.role = CRM__ROLE__ROLE_SERVICE;
    mine.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SYSTEM;
    mine.scopes = key->scopes;
    mine.n_scopes = key->n_scopes;
    Crm__Principal *theirs = h->principal;
    char *tenant = h->tenant_id;
    h->principal = &mine;
    h->tenant_id = key->tenant;
    zmq_msg_close(header);
    zmq_msg_init_size(header, crm__request_header__get_packed_size(h));
    crm__request_header__pack(h, zmq_msg_data(header));
    /* The unpacked header frees what it unpacked, not the key's strings. */
    h->principal = theirs;
    h->tenant_id = tenant;
}

/* Checks what a request says about itself against the key that sent it.
 * Returns NULL when it may go on (an outside system's header rewritten in
 * *header), or why it is refused. */
static const char *s_admit(broker_t *self, const struct cm_curve_entry *key, Crm__RequestHeader *h,
                           zmq_msg_t *header)
{
    const Crm__Principal *p = h->principal;
    switch (key->kind) {
    case CM_CURVE_CRMCTL:
        return NULL; /* the operator, who holds the data directory anyway */
    case CM_CURVE_GATEWAY:
        return p && p->kind == CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SYSTEM
                   ? "only an outside system's own bus key speaks as that system"
                   : NULL;
    case CM_CURVE_SYSTEM:
        if (h->tenant_id[0] && strcmp(h->tenant_id, key->tenant) != 0)
            return "this bus key belongs to another tenant";
        s_bind_system(key, h, header);
        return NULL;
    case CM_CURVE_SERVICE:
        if (s_own_principal(p) ||
            s_inflight_serving(self, h->request_id, h->tenant_id, p->id, key->name))
            return NULL;
        return "a service's bus key speaks for a person or another system only while serving "
               "that request";
    }
    return "unknown kind of bus key";
}

/* ---------------------------------------------------------------------- */
/* Messages from clients                                                    */

/* Management interface (ZeroMQ RFC 8): mmi.service answers "200" when the
 * service named in the body has a live worker, "404" if not. */
static void s_mmi(broker_t *self, zmq_msg_t *client, const char *service, const char *request_id,
                  zmq_msg_t *body)
{
    const char *answer = "501";
    if (!strcmp(service, "mmi.service")) {
        char *name = cm_strndup(zmq_msg_data(body), zmq_msg_size(body));
        struct s_service *svc = s_service_find(self, name);
        answer = svc && svc->workers > 0 ? "200" : "404";
        free(name);
    }
    s_answer(self, client, service, request_id, CRM__STATUS__STATUS_OK, NULL, answer, 3);
}

static void s_client_message(broker_t *self, struct cm_mdp_parts *p,
                             const struct cm_curve_entry *key)
{
    zmq_msg_t *client = &p->part[0];
    if (p->n < 5 || cm_mdp_part_command(&p->part[2]) != CM_MDP_CLIENT_REQUEST) {
        cm_log_warn("dropped a malformed client message");
        return;
    }
    zmq_msg_t empty;
    zmq_msg_init(&empty);
    zmq_msg_t *header = &p->part[4], *body = p->n >= 6 ? &p->part[5] : &empty;
    Crm__RequestHeader *h =
        crm__request_header__unpack(NULL, zmq_msg_size(header), zmq_msg_data(header));
    char *service = s_part_service(&p->part[3]);
    const char *reply_service = service ? service : "";
    int64_t now = cm_now_ms();
    const char *invalid = !h                        ? "request header does not decode"
                          : !service                ? "invalid service name"
                          : h->deadline_unix_ms < 0 ? "negative deadline"
                                                    : NULL;
    if (invalid) {
        cm_log_debug("invalid request service=%s: %s", reply_service, invalid);
        s_answer(self, client, reply_service, h ? h->request_id : NULL,
                 CRM__STATUS__STATUS_INVALID_ARGUMENT, invalid, NULL, 0);
        goto out;
    }
    s_log_req(h->request_id);
    int64_t deadline = h->deadline_unix_ms ? h->deadline_unix_ms : now + BROKER_DEFAULT_DEADLINE_MS;
    if (!strncmp(service, "mmi.", 4)) {
        s_mmi(self, client, service, h->request_id, body);
        goto out;
    }
    if (key) {
        const char *refused = s_admit(self, key, h, header);
        if (refused) {
            cm_log_warn("request refused key=%s service=%s method=%s tenant=%s: %s", key->name,
                        service, h->method, h->tenant_id, refused);
            s_answer(self, client, service, h->request_id, CRM__STATUS__STATUS_PERMISSION_DENIED,
                     refused, NULL, 0);
            goto out;
        }
    }
    if (deadline <= now) {
        cm_log_debug("deadline passed on arrival service=%s", service);
        s_answer(self, client, service, h->request_id, CRM__STATUS__STATUS_DEADLINE_EXCEEDED,
                 "deadline exceeded", NULL, 0);
        goto out;
    }
    struct s_service *svc = s_service_require(self, service);
    if (svc->q_len >= BROKER_QUEUE_MAX) {
        cm_log_warn("queue full service=%s", service);
        s_answer(self, client, service, h->request_id, CRM__STATUS__STATUS_RESOURCE_EXHAUSTED,
                 "too many requests waiting", NULL, 0);
        goto out;
    }
    struct s_request *req = cm_calloc(1, sizeof *req);
    zmq_msg_init(&req->client);
    zmq_msg_init(&req->header);
    zmq_msg_init(&req->body);
    zmq_msg_move(&req->client, client);
    zmq_msg_move(&req->header, header);
    zmq_msg_move(&req->body, body);
    req->request_id = cm_strdup(h->request_id);
    req->method = cm_strdup(h->method);
    req->deadline = deadline;
    if (key) {
        req->tenant = cm_strdup(key->kind == CM_CURVE_SYSTEM ? key->tenant : h->tenant_id);
        req->principal_id = cm_strdup(key->kind == CM_CURVE_SYSTEM ? key->name
                                      : h->principal               ? h->principal->id
                                                                   : "");
    }
    cm_log_debug("request service=%s method=%s queued=%zu", service, h->method, svc->q_len);
    s_queue_push_back(svc, req);
    if (deadline < self->purge_at)
        self->purge_at = deadline;
    s_dispatch(self, svc);
out:
    s_log_req(NULL);
    crm__request_header__free_unpacked(h, NULL);
    zmq_msg_close(&empty);
    free(service);
}

/* A message from a connection whose key left the registry after it connected:
 * a client's request is answered PERMISSION_DENIED, a worker told to go. */
static void s_refuse_revoked(broker_t *self, struct cm_mdp_parts *p, const char *uid)
{
    cm_log_warn("message refused, bus key %s is no longer admitted", uid ? uid : "(none)");
    if (p->n >= 5 && cm_mdp_part_is(&p->part[1], CM_MDP_CLIENT)) {
        Crm__RequestHeader *h =
            crm__request_header__unpack(NULL, zmq_msg_size(&p->part[4]), zmq_msg_data(&p->part[4]));
        char *service = s_part_service(&p->part[3]);
        s_answer(self, &p->part[0], service ? service : "", h ? h->request_id : NULL,
                 CRM__STATUS__STATUS_PERMISSION_DENIED, "this bus key is no longer admitted", NULL,
                 0);
        free(service);
        crm__request_header__free_unpacked(h, NULL);
    } else if (p->n >= 2 && cm_mdp_part_is(&p->part[1], CM_MDP_WORKER)) {
        struct s_worker *w =
            s_worker_find(self, zmq_msg_data(&p->part[0]), zmq_msg_size(&p->part[0]));
        s_send_worker_cmd(self, zmq_msg_data(&p->part[0]), zmq_msg_size(&p->part[0]),
                          CM_MDP_DISCONNECT);
        if (w) {
            struct s_service *svc = s_worker_delete(self, w, false, "revoked");
            if (svc)
                s_dispatch(self, svc);
        }
    }
}

/* Reads and handles up to S_BATCH messages from the bus. */
static int s_router_batch(broker_t *self)
{
    for (int i = 0; i < S_BATCH; i++) {
        struct cm_mdp_parts p;
        if (cm_mdp_parts_recv(self->router, &p, ZMQ_DONTWAIT) != 0)
            return errno == EAGAIN ? 0 : -1;
        /* With CURVE, the key the sender connected with (ZAP's user id). */
        const struct cm_curve_entry *key = NULL;
        if (self->registry && p.n >= 2) {
            const char *uid = zmq_msg_gets(&p.part[1], "User-Id");
            key = cm_curve_registry_by_name(self->registry, uid);
            if (!key) {
                s_refuse_revoked(self, &p, uid);
                cm_mdp_parts_close(&p);
                continue;
            }
        }
        if (p.dropped || p.n < 3) {
            cm_log_warn("dropped a malformed message of %d frames", p.n);
        } else if (cm_mdp_part_is(&p.part[1], CM_MDP_WORKER)) {
            s_worker_message(self, &p, key);
        } else if (cm_mdp_part_is(&p.part[1], CM_MDP_CLIENT)) {
            s_client_message(self, &p, key);
        } else {
            cm_log_warn("dropped a message with an unknown protocol");
        }
        cm_mdp_parts_close(&p);
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Timers                                                                   */

/* Answers queued requests whose deadline passed; finds the next deadline. */
static void s_purge(broker_t *self)
{
    int64_t now = cm_now_ms();
    int64_t next = INT64_MAX;
    for (struct s_service *svc = self->services; svc; svc = svc->next) {
        struct s_request *req = svc->q_head;
        while (req) {
            struct s_request *following = req->next;
            if (req->deadline <= now) {
                s_queue_remove(svc, req);
                s_answer_expired(self, svc, &req);
            } else if (req->deadline < next) {
                next = req->deadline;
            }
            req = following;
        }
    }
    self->purge_at = next;
    self->purged_at = now;
}

/* When the queues are next due for a walk: the earliest deadline, but never
 * sooner than S_PURGE_GAP_MS after the last walk, which with many queued
 * requests is not cheap. */
static int64_t s_purge_due(const broker_t *self)
{
    if (self->purge_at == INT64_MAX)
        return INT64_MAX;
    int64_t gap = self->purged_at + S_PURGE_GAP_MS;
    return self->purge_at > gap ? self->purge_at : gap;
}

/* Heartbeats every worker, drops the silent and the unreachable ones, and
 * forgets services nobody uses. */
static void s_heartbeat(broker_t *self)
{
    int64_t now = cm_mono_ms();
    for (int b = 0; b < S_BUCKETS; b++) {
        struct s_worker *w = self->buckets[b];
        while (w) {
            struct s_worker *following = w->hnext;
            if (now >= w->expiry) {
                (void)s_worker_delete(self, w, true, "expired");
            } else {
                const uint8_t c = CM_MDP_HEARTBEAT;
                struct s_frame f[] = {{w->id, w->id_len}, {CM_MDP_WORKER, 6}, {&c, 1}};
                if (s_send_frames(self->router, f, 3, false) != 0 && errno == EHOSTUNREACH)
                    (void)s_worker_delete(self, w, false, "gone");
            }
            w = following;
        }
    }
    /* Requests of dropped workers went back to their queues. */
    for (struct s_service *svc = self->services; svc; svc = svc->next)
        s_dispatch(self, svc);
    struct s_service **pp = &self->services;
    while (*pp) {
        struct s_service *svc = *pp;
        if (svc->workers == 0 && !svc->q_head) {
            *pp = svc->next;
            free(svc->name);
            free(svc);
        } else {
            pp = &svc->next;
        }
    }
    s_retry_purge(self, cm_now_ms());
}

/* ---------------------------------------------------------------------- */
/* Event proxy                                                              */

/* Moves up to S_BATCH whole messages from one socket to the other. XPUB drops
 * for a subscriber at its high-water mark rather than blocking; subscribers
 * notice the gap in seq and replay. */
static int s_proxy(void *from, void *to)
{
    for (int done = 0; done < S_BATCH;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, from, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return errno == EAGAIN ? 0 : -1;
        }
        int more = zmq_msg_more(&m);
        if (zmq_msg_send(&m, to, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0)
            zmq_msg_close(&m);
        if (!more)
            done++;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* ZAP: which keys may connect (ZeroMQ RFC 27)                              */

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* ZAP domains of the broker's sockets: one handler tells them apart. */
#define S_DOMAIN_BUS "bus"
#define S_DOMAIN_EVENTS_IN "events-in"
#define S_DOMAIN_EVENTS_OUT "events-out"

/* Whether a key of this kind may connect to the socket of this domain: every
 * admitted key to the bus; only services publish events; services, the
 * gateway and crmctl subscribe (an outside system replays its tenant's events
 * over the bus instead). */
static bool s_domain_admits(zmq_msg_t *domain, enum cm_curve_kind kind)
{
    if (cm_mdp_part_is(domain, S_DOMAIN_BUS))
        return true;
    if (cm_mdp_part_is(domain, S_DOMAIN_EVENTS_IN))
        return kind == CM_CURVE_SERVICE;
    if (cm_mdp_part_is(domain, S_DOMAIN_EVENTS_OUT))
        return kind == CM_CURVE_SERVICE || kind == CM_CURVE_GATEWAY || kind == CM_CURVE_CRMCTL;
    return false;
}

/* Answers one ZAP request: 200 with the key's name as user id, or 400. */
static void s_zap_answer(broker_t *self, struct cm_mdp_parts *p)
{
    /* version, request id, domain, address, routing id, mechanism, key */
    const char *status = "400", *text = "malformed request", *user = "";
    char key[CM_CURVE_KEY_LEN + 1] = "";
    if (p->n >= 7 && cm_mdp_part_is(&p->part[0], "1.0") && cm_mdp_part_is(&p->part[5], "CURVE") &&
        zmq_msg_size(&p->part[6]) == 32) {
        zmq_z85_encode(key, zmq_msg_data(&p->part[6]), 32);
        const struct cm_curve_entry *e = cm_curve_registry_by_key(self->registry, key);
        if (!e)
            text = "unknown key";
        else if (!s_domain_admits(&p->part[2], e->kind))
            text = "key not admitted on this socket";
        else
            status = "200", text = "OK", user = e->name;
    }
    if (status[0] != '2') {
        char domain[32] = "", address[64] = "";
        if (p->n >= 4) {
            snprintf(domain, sizeof domain, "%.*s", (int)zmq_msg_size(&p->part[2]),
                     (const char *)zmq_msg_data(&p->part[2]));
            snprintf(address, sizeof address, "%.*s", (int)zmq_msg_size(&p->part[3]),
                     (const char *)zmq_msg_data(&p->part[3]));
        }
        cm_log_warn("connection refused domain=%s address=%s key=%s: %s", domain, address,
                    key[0] ? key : "-", text);
    }
    int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    zmq_msg_t *rid = p->n >= 2 ? &p->part[1] : NULL;
    (void)zmq_send(self->zap, "1.0", 3, more);
    (void)zmq_send(self->zap, rid ? zmq_msg_data(rid) : "", rid ? zmq_msg_size(rid) : 0, more);
    (void)zmq_send(self->zap, status, 3, more);
    (void)zmq_send(self->zap, text, strlen(text), more);
    (void)zmq_send(self->zap, user, strlen(user), more);
    (void)zmq_send(self->zap, "", 0, ZMQ_DONTWAIT);
}

static int s_zap_batch(broker_t *self)
{
    for (int i = 0; i < S_BATCH; i++) {
        struct cm_mdp_parts p;
        if (cm_mdp_parts_recv(self->zap, &p, ZMQ_DONTWAIT) != 0)
            return errno == EAGAIN ? 0 : -1;
        s_zap_answer(self, &p);
        cm_mdp_parts_close(&p);
    }
    return 0;
}

/* Reads the registry again when its file changed (checked every heartbeat,
 * about a second). A registry that does not parse leaves the old one in
 * force. */
static void s_registry_check(broker_t *self)
{
    struct stat st;
    if (stat(self->registry_path, &st) != 0) {
        if (self->registry_st.st_mtime != 0)
            cm_log_error("key registry %s unreadable: %s; the keys loaded stay admitted",
                         self->registry_path, strerror(errno));
        memset(&self->registry_st, 0, sizeof self->registry_st);
        return;
    }
    if (st.st_mtim.tv_sec == self->registry_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == self->registry_st.st_mtim.tv_nsec &&
        st.st_size == self->registry_st.st_size && st.st_ino == self->registry_st.st_ino)
        return;
    self->registry_st = st;
    char err[512];
    cm_curve_registry_t *fresh = cm_curve_registry_load(self->registry_path, err, sizeof err);
    if (!fresh) {
        cm_log_error("key registry not reloaded, the old one stays in force: %s", err);
        return;
    }
    cm_curve_registry_destroy(&self->registry);
    self->registry = fresh;
    cm_log_info("key registry reloaded keys=%zu", cm_curve_registry_count(fresh));
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                               */

static void *s_bind(void *zctx, int type, const char *endpoint, const char *what,
                    const struct cm_curve_pair *curve, const char *domain)
{
    void *s = zmq_socket(zctx, type);
    if (!s) {
        cm_log_error("could not create the %s socket: %s", what, zmq_strerror(errno));
        return NULL;
    }
    int linger = S_LINGER_MS, hwm = BROKER_HWM;
    int64_t max = BROKER_MAX_FRAME;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (curve) {
        int one = 1;
        if (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve->secret_key, CM_CURVE_KEY_LEN) != 0 ||
            zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0) {
            cm_log_error("could not make the %s socket a CURVE server: %s", what,
                         zmq_strerror(errno));
            zmq_close(s);
            return NULL;
        }
    }
    if (type == ZMQ_ROUTER) {
        int one = 1, ivl = CM_MDP_HEARTBEAT_MS, tmo = CM_MDP_HEARTBEAT_MS * CM_MDP_LIVENESS;
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
        zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &tmo, sizeof tmo);
    }
    /* A list binds every address of it: say TCP for other hosts and an ipc://
     * socket for the processes on this one. */
    const char *at = endpoint;
    do {
        size_t n = strcspn(at, ",");
        char one[512];
        if (n == 0 || n >= sizeof one) {
            cm_log_error("the %s endpoint list \"%s\" has an empty or overlong address", what,
                         endpoint);
            zmq_close(s);
            return NULL;
        }
        memcpy(one, at, n);
        one[n] = '\0';
        if (zmq_bind(s, one) != 0) {
            cm_log_error("could not bind the %s socket to %s: %s", what, one, zmq_strerror(errno));
            zmq_close(s);
            return NULL;
        }
        at += n;
    } while (*at++ == ',');
    return s;
}

broker_t *broker_new(void *zctx, const struct broker_cfg *cfg)
{
    assert(zctx && cfg && cfg->bus_endpoint);
    broker_t *self = cm_calloc(1, sizeof *self);
    self->zctx = zctx;
    self->purge_at = INT64_MAX;
    atomic_init(&self->events_failed, false);
    if (cfg->curve) {
        /* The registry, then the ZAP handler, before any socket that uses it. */
        char err[512];
        self->registry_path = cm_strdup(cfg->registry_path);
        if (stat(self->registry_path, &self->registry_st) != 0) {
            cm_log_error("cannot read the key registry %s: %s", self->registry_path,
                         strerror(errno));
            goto fail;
        }
        self->registry = cm_curve_registry_load(self->registry_path, err, sizeof err);
        if (!self->registry) {
            cm_log_error("%s", err);
            goto fail;
        }
        int linger = 0;
        self->zap = zmq_socket(zctx, ZMQ_REP);
        if (!self->zap || zmq_setsockopt(self->zap, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
            zmq_bind(self->zap, S_ZAP_ENDPOINT) != 0) {
            cm_log_error("could not bind the ZAP handler: %s", zmq_strerror(errno));
            goto fail;
        }
        cm_log_info("bus keys admitted keys=%zu registry=%s",
                    cm_curve_registry_count(self->registry), self->registry_path);
    }
    self->router = s_bind(zctx, ZMQ_ROUTER, cfg->bus_endpoint, "bus", cfg->curve, S_DOMAIN_BUS);
    if (!self->router)
        goto fail;
    if (cfg->events_in_endpoint && cfg->events_in_endpoint[0]) {
        self->xsub = s_bind(zctx, ZMQ_XSUB, cfg->events_in_endpoint, "events in", cfg->curve,
                            S_DOMAIN_EVENTS_IN);
        if (!self->xsub)
            goto fail;
        self->xpub = s_bind(zctx, ZMQ_XPUB, cfg->events_out_endpoint, "events out", cfg->curve,
                            S_DOMAIN_EVENTS_OUT);
        if (!self->xpub)
            goto fail;
    }
    return self;
fail:
    broker_destroy(&self);
    return NULL;
}

/* On a clean stop: answer whoever waits and tell workers to reconnect. */
static void s_shutdown(broker_t *self)
{
    for (struct s_service *svc = self->services; svc; svc = svc->next) {
        while (svc->q_head) {
            struct s_request *req = svc->q_head;
            s_queue_remove(svc, req);
            s_answer(self, &req->client, svc->name, req->request_id,
                     CRM__STATUS__STATUS_UNAVAILABLE, "broker stopping", NULL, 0);
            s_request_free(&req);
        }
    }
    for (int b = 0; b < S_BUCKETS; b++)
        for (struct s_worker *w = self->buckets[b]; w; w = w->hnext)
            s_send_worker_cmd(self, w->id, w->id_len, CM_MDP_DISCONNECT);
}

/* The event proxy's own thread: events never wait behind requests, nor
 * requests behind an import's events, and the request loop polls one
 * socket. It stops when the control socket speaks. */
struct s_events_arg {
    broker_t *broker;
    void *ctl; // owned by the thread: PAIR, connected
};

static void *s_events_main(void *arg)
{
    struct s_events_arg *a = arg;
    broker_t *self = a->broker;
    zmq_pollitem_t items[3] = {
        {self->xsub, 0, ZMQ_POLLIN, 0},
        {self->xpub, 0, ZMQ_POLLIN, 0},
        {a->ctl, 0, ZMQ_POLLIN, 0},
    };
    for (;;) {
        if (zmq_poll(items, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            cm_log_error("event poll failed: %s", zmq_strerror(errno));
            break;
        }
        if (items[2].revents & ZMQ_POLLIN)
            break;
        if (((items[0].revents & ZMQ_POLLIN) && s_proxy(self->xsub, self->xpub) != 0 &&
             errno != EINTR) ||
            ((items[1].revents & ZMQ_POLLIN) && s_proxy(self->xpub, self->xsub) != 0 &&
             errno != EINTR)) {
            cm_log_error("event proxy failed: %s", zmq_strerror(errno));
            atomic_store(&self->events_failed, true);
            break;
        }
    }
    zmq_close(a->ctl);
    free(a);
    return NULL;
}

/* Starts the events thread; *ctl is the main side of its control pair.
 * Returns 0 or -1. */
static int s_events_start(broker_t *self, void **ctl)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://broker-events-%p", (void *)self);
    void *mine = zmq_socket(self->zctx, ZMQ_PAIR), *theirs = zmq_socket(self->zctx, ZMQ_PAIR);
    int linger = 0;
    if (mine)
        zmq_setsockopt(mine, ZMQ_LINGER, &linger, sizeof linger);
    if (theirs)
        zmq_setsockopt(theirs, ZMQ_LINGER, &linger, sizeof linger);
    struct s_events_arg *a = cm_malloc(sizeof *a);
    a->broker = self;
    a->ctl = theirs;
    if (!mine || !theirs || zmq_bind(mine, ep) != 0 || zmq_connect(theirs, ep) != 0 ||
        pthread_create(&self->events_thread, NULL, s_events_main, a) != 0) {
        cm_log_error("could not start the event proxy: %s", zmq_strerror(errno));
        if (mine)
            zmq_close(mine);
        if (theirs)
            zmq_close(theirs);
        free(a);
        return -1;
    }
    *ctl = mine;
    return 0;
}

static void s_events_stop(broker_t *self, void *ctl)
{
    if (zmq_send(ctl, "", 0, 0) < 0)
        cm_log_error("could not stop the event proxy: %s", zmq_strerror(errno));
    pthread_join(self->events_thread, NULL);
    zmq_close(ctl);
}

int broker_run(broker_t *self, volatile sig_atomic_t *stop)
{
    assert(self && stop);
    zmq_pollitem_t items[2] = {{self->router, 0, ZMQ_POLLIN, 0}, {self->zap, 0, ZMQ_POLLIN, 0}};
    int n_items = self->zap ? 2 : 1;
    void *events_ctl = NULL;
    if (self->xsub && s_events_start(self, &events_ctl) != 0)
        return -1;
    int rc = 0;
    self->heartbeat_at = cm_mono_ms() + CM_MDP_HEARTBEAT_MS;
    while (!*stop) {
        int64_t wait = self->heartbeat_at - cm_mono_ms();
        if (s_purge_due(self) != INT64_MAX) {
            int64_t to_purge = s_purge_due(self) - cm_now_ms();
            if (to_purge < wait)
                wait = to_purge;
        }
        if (wait > S_STOP_CHECK_MS)
            wait = S_STOP_CHECK_MS;
        if (wait < 0)
            wait = 0;
        if (zmq_poll(items, n_items, (long)wait) < 0) {
            if (errno == EINTR)
                continue;
            cm_log_error("poll failed: %s", zmq_strerror(errno));
            rc = -1;
            break;
        }
        if (n_items > 1 && (items[1].revents & ZMQ_POLLIN) && s_zap_batch(self) != 0 &&
            errno != EINTR) {
            cm_log_error("ZAP receive failed: %s", zmq_strerror(errno));
            rc = -1;
            break;
        }
        if ((items[0].revents & ZMQ_POLLIN) && s_router_batch(self) != 0 && errno != EINTR) {
            cm_log_error("bus receive failed: %s", zmq_strerror(errno));
            rc = -1;
            break;
        }
        if (atomic_load(&self->events_failed)) {
            rc = -1;
            break;
        }
        if (cm_mono_ms() >= self->heartbeat_at) {
            s_heartbeat(self);
            if (self->registry)
                s_registry_check(self);
            self->heartbeat_at = cm_mono_ms() + CM_MDP_HEARTBEAT_MS;
        }
        if (cm_now_ms() >= s_purge_due(self))
            s_purge(self);
    }
    if (events_ctl)
        s_events_stop(self, events_ctl);
    if (rc == 0)
        s_shutdown(self);
    return rc;
}

void broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    for (int b = 0; b < S_BUCKETS; b++) {
        struct s_worker *w = self->buckets[b];
        while (w) {
            struct s_worker *following = w->hnext;
            struct s_request *req;
            while ((req = s_current_pop(w))) {
                s_inflight_remove(self, req);
                s_request_free(&req);
            }
            free(w->key_name);
            free(w->id);
            free(w);
            w = following;
        }
    }
    while (self->services) {
        struct s_service *svc = self->services;
        self->services = svc->next;
        while (svc->q_head) {
            struct s_request *req = svc->q_head;
            s_queue_remove(svc, req);
            s_request_free(&req);
        }
        free(svc->name);
        free(svc);
    }
    s_retry_purge(self, INT64_MAX);
    if (self->router)
        zmq_close(self->router);
    if (self->xsub)
        zmq_close(self->xsub);
    if (self->xpub)
        zmq_close(self->xpub);
    if (self->zap)
        zmq_close(self->zap);
    cm_curve_registry_destroy(&self->registry);
    free(self->registry_path);
    free(self);
    *self_p = NULL;
}
