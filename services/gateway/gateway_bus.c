/* The bus thread: a queue in (mutex + eventfd) for other threads, the
 * attached host's descriptors, a DEALER out, in-flight requests in a hash by request
 * id and a min-heap by deadline. */
#include "gateway_bus.h"
#include "cm_log.h"
#include "cm_perm.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "envelope.pb-c.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <sodium.h>
#include <zmq.h>

#define N_BUCKETS 1024

/* One request on the wire; a job has one at a time, a READY job one per service. */
struct s_pending {
    char id[100];            // the envelope's request_id, the reply's key
    struct gateway_job *job; // borrowed (the submitter's)
    size_t sub;              // READY: which service
    bool auth;               // the Authenticate step of a CALL
    char service[64];
    int64_t deadline; // monotonic ms
    int64_t sent;     // monotonic ms, for the latency histogram
    size_t heap_index;
    struct s_pending *chain; // borrowed (bucket list)
};

/* A function gateway_bus_call runs on the thread. */
struct s_call {
    void (*fn)(void *arg);
    void *arg; // borrowed
    bool done;
};

/* The bus whose thread this is, on the bus thread; NULL elsewhere. */
static _Thread_local gateway_bus_t *s_on_thread;

struct gateway_bus {
    void *zctx;                 // owned
    cm_mdp_client_t *client;    // owned; used by the thread only
    gateway_auth_t *auth;       // borrowed (main)
    gateway_metrics_t *metrics; // borrowed (main)
    int efd;                    // owned: wakes the thread
    pthread_t thread;
    bool running;

    pthread_mutex_t mu;       // guards the queue, stopping, exited, running and the call
    pthread_cond_t cond;      // signals a finished call
    struct gateway_job *head; // borrowed (submitters' jobs)
    struct gateway_job *tail; // borrowed
    bool stopping;
    bool exited;         // the thread left its loop: calls run on the caller
    struct s_call *call; // borrowed (the caller's): runs on the thread next

    /* The thread's own. */
    struct gateway_bus_host host; // run NULL: none; set through gateway_bus_call
    unsigned host_gen;            // bumped by every attach: the loop's items are stale
    struct s_pending **heap;      // owned array; entries owned through it
    size_t n_heap, cap_heap;
    struct s_pending *buckets[N_BUCKETS]; // borrowed (the heap's entries)
    atomic_size_t n_jobs;                 // queued or in flight
};

void gateway_job_release(struct gateway_job *job)
{
    free(job->body);
    job->body = NULL;
    job->body_len = 0;
    if (job->api_key) {
        sodium_memzero(job->api_key, strlen(job->api_key));
        free(job->api_key);
        job->api_key = NULL;
    }
    job->session = false;
    free(job->ready);
    job->ready = NULL;
    cm_mdp_msg_release(&job->reply);
}

/* ---------------------------------------------------------------------- */
/* In-flight table: hash by id, heap by deadline                           */

static size_t s_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % N_BUCKETS;
}

static struct s_pending *s_find(gateway_bus_t *self, const char *id)
{
    for (struct s_pending *p = self->buckets[s_hash(id)]; p; p = p->chain)
        if (!strcmp(p->id, id))
            return p;
    return NULL;
}

static void s_heap_swap(gateway_bus_t *self, size_t a, size_t b)
{
    struct s_pending *t = self->heap[a];
    self->heap[a] = self->heap[b];
    self->heap[b] = t;
    self->heap[a]->heap_index = a;
    self->heap[b]->heap_index = b;
}

static void s_heap_up(gateway_bus_t *self, size_t i)
{
    while (i > 0 && self->heap[(i - 1) / 2]->deadline > self->heap[i]->deadline) {
        s_heap_swap(self, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void s_heap_down(gateway_bus_t *self, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < self->n_heap && self->heap[l]->deadline < self->heap[m]->deadline)
            m = l;
        if (r < self->n_heap && self->heap[r]->deadline < self->heap[m]->deadline)
            m = r;
        if (m == i)
            return;
        s_heap_swap(self, i, m);
        i = m;
    }
}

static void s_insert(gateway_bus_t *self, struct s_pending *p)
{
    size_t b = s_hash(p->id);
    p->chain = self->buckets[b];
    self->buckets[b] = p;
    if (self->n_heap == self->cap_heap) {
        self->cap_heap = self->cap_heap ? 2 * self->cap_heap : 64;
        self->heap = cm_realloc(self->heap, self->cap_heap * sizeof *self->heap);
    }
    p->heap_index = self->n_heap;
    self->heap[self->n_heap++] = p;
    s_heap_up(self, p->heap_index);
}

/* Unlinks p from hash and heap; the caller frees it. */
static void s_unlink(gateway_bus_t *self, struct s_pending *p)
{
    struct s_pending **pp = &self->buckets[s_hash(p->id)];
    while (*pp != p)
        pp = &(*pp)->chain;
    *pp = p->chain;
    size_t i = p->heap_index;
    self->n_heap--;
    if (i != self->n_heap) {
        s_heap_swap(self, i, self->n_heap);
        s_heap_down(self, i);
        s_heap_up(self, i);
    }
}

/* ---------------------------------------------------------------------- */
/* Jobs                                                                    */

static void s_finish(gateway_bus_t *self, struct gateway_job *job)
{
    atomic_fetch_sub(&self->n_jobs, 1);
    job->done(job);
}

static void s_fail(gateway_bus_t *self, struct gateway_job *job, int status, const char *message)
{
    job->outcome = GATEWAY_JOB_FAILED;
    job->fail_status = status;
    snprintf(job->fail_message, sizeof job->fail_message, "%s", message);
    s_finish(self, job);
}

/* Sends one request for job: the Authenticate step (auth), the health check
 * of services[sub] (READY) or the call itself. Returns 0 or -1. */
static int s_send(gateway_bus_t *self, struct gateway_job *job, size_t sub, bool auth)
{
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    Crm__Principal pr = CRM__PRINCIPAL__INIT;
    Crm__AuthenticateRequest ar = CRM__AUTHENTICATE_REQUEST__INIT;
    struct s_pending *p = cm_calloc(1, sizeof *p);
    uint8_t *hbuf = NULL, *abuf = NULL;
    size_t alen = 0;
    char method[160];
    const char *scopes[CM_SCOPE_LAST];
    const uint8_t *body = job->body;
    size_t body_len = job->body_len;
    int rc = -1;

    for (int attempt = 0; attempt < 3; attempt++) {
        if (job->kind == GATEWAY_JOB_READY)
            snprintf(p->id, sizeof p->id, "%s.%zu", job->request_id, sub);
        else
            snprintf(p->id, sizeof p->id, "%s", job->request_id);
        if (!s_find(self, p->id))
            break;
        /* Two requests with one X-Request-Id at once: replies would cross. */
        cm_log_info("request id %s is in flight already, using a fresh one", job->request_id);
        cm_uuid(job->request_id);
    }
    h.request_id = p->id;
    h.deadline_unix_ms = job->deadline_unix_ms;
    h.channel = job->channel;
    h.principal = &pr;
    if (auth || job->kind == GATEWAY_JOB_READY) {
        h.tenant_id = "";
        pr.id = "";
        pr.name = "gateway";
        pr.role = CRM__ROLE__ROLE_SERVICE;
        pr.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    } else {
        h.tenant_id = job->ident.tenant_id;
        gateway_auth_principal(&job->ident, &pr, scopes);
        h.idempotency_key = job->idempotency_key;
    }
    if (auth) {
        snprintf(p->service, sizeof p->service, "%s", GATEWAY_AUTH_SERVICE);
        if (job->session) {
            /* A session cookie's token: the same step, another method. */
            Crm__SessionTokenRequest sr = CRM__SESSION_TOKEN_REQUEST__INIT;
            sr.token = job->api_key;
            snprintf(method, sizeof method, "%s", GATEWAY_SESSION_METHOD);
            alen = crm__session_token_request__get_packed_size(&sr);
            abuf = cm_malloc(alen ? alen : 1);
            crm__session_token_request__pack(&sr, abuf);
        } else {
            snprintf(method, sizeof method, "%s", GATEWAY_AUTH_METHOD);
            ar.api_key = job->api_key;
            alen = crm__authenticate_request__get_packed_size(&ar);
            abuf = cm_malloc(alen ? alen : 1);
            crm__authenticate_request__pack(&ar, abuf);
        }
        body = abuf;
        body_len = alen;
    } else if (job->kind == GATEWAY_JOB_READY) {
        snprintf(p->service, sizeof p->service, "%s", job->services[sub]);
        snprintf(method, sizeof method, "%s.Health", job->services[sub]);
        body = NULL; // crm.Empty packs to nothing
        body_len = 0;
    } else {
        snprintf(p->service, sizeof p->service, "%s", job->service);
        snprintf(method, sizeof method, "%s", job->method);
    }
    h.method = method;
    size_t hlen = crm__request_header__get_packed_size(&h);
    hbuf = cm_malloc(hlen ? hlen : 1);
    crm__request_header__pack(&h, hbuf);
    if (cm_mdp_client_send(self->client, p->service, hbuf, hlen, body, body_len)) {
        cm_log_warn("could not send %s to the broker: %s", method, zmq_strerror(errno));
        goto out;
    }
    p->job = job;
    p->sub = sub;
    p->auth = auth;
    p->sent = cm_mono_ms();
    p->deadline =
        job->kind == GATEWAY_JOB_READY && job->deadline_mono > p->sent + GATEWAY_READY_TIMEOUT_MS
            ? p->sent + GATEWAY_READY_TIMEOUT_MS
            : job->deadline_mono;
    s_insert(self, p);
    p = NULL;
    rc = 0;
out:
    if (abuf) {
        sodium_memzero(abuf, alen);
        free(abuf);
    }
    free(hbuf);
    free(p);
    return rc;
}

static void s_ready_answer(gateway_bus_t *self, struct gateway_job *job, size_t sub, bool ok)
{
    job->ready[sub] = ok;
    if (--job->outstanding == 0)
        s_finish(self, job);
}

/* Starts a job taken from the queue, or its call once authenticated. */
static void s_start(gateway_bus_t *self, struct gateway_job *job)
{
    if (job->kind == GATEWAY_JOB_READY) {
        job->ready = cm_calloc(job->n_services ? job->n_services : 1, sizeof *job->ready);
        job->outstanding = job->n_services + 1; // +1 until every send is done
        for (size_t i = 0; i < job->n_services; i++)
            if (s_send(self, job, i, false))
                s_ready_answer(self, job, i, false);
        if (--job->outstanding == 0)
            s_finish(self, job);
        return;
    }
    if (job->api_key && !job->authed) {
        if (s_send(self, job, 0, true))
            s_fail(self, job, CRM__STATUS__STATUS_UNAVAILABLE,
                   "authentication service unavailable");
        return;
    }
    if (s_send(self, job, 0, false))
        s_fail(self, job, CRM__STATUS__STATUS_UNAVAILABLE, "message bus unavailable");
}

/* Copies s into a fixed field; false when it does not fit. */
static bool s_fits(char *dst, size_t size, const char *s)
{
    if (!s)
        s = "";
    if (strlen(s) >= size)
        return false;
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

/* A key revoked through this gateway stops working here at once (other
 * gateways forget it within GATEWAY_AUTH_TTL_OK_MS). */
static void s_forget_revoked(gateway_bus_t *self, const struct gateway_job *job)
{
    Crm__RevokeApiKeyRequest *r =
        crm__revoke_api_key_request__unpack(NULL, job->body_len, job->body);
    if (!r)
        return;
    gateway_auth_forget(self->auth, job->ident.tenant_id, r->id);
    crm__revoke_api_key_request__free_unpacked(r, NULL);
}

/* The Authenticate step answered. */
static void s_on_auth(gateway_bus_t *self, struct gateway_job *job, const Crm__ReplyHeader *rh,
                      const struct cm_mdp_msg *msg)
{
    uint8_t hash[GATEWAY_AUTH_HASH];
    gateway_auth_hash_cred(job->api_key, job->session, hash);
    int64_t now = cm_mono_ms();
    switch (rh->status) {
    case CRM__STATUS__STATUS_OK: {
        Crm__AuthenticateResponse *ar =
            crm__authenticate_response__unpack(NULL, msg->body_len, msg->body);
        struct gateway_identity *id = &job->ident;
        bool ok = ar && ar->tenant_id && *ar->tenant_id &&
                  s_fits(id->tenant_id, sizeof id->tenant_id, ar->tenant_id) &&
                  s_fits(id->principal_id, sizeof id->principal_id,
                         ar->principal ? ar->principal->id : "") &&
                  s_fits(id->principal_name, sizeof id->principal_name,
                         ar->principal ? ar->principal->name : "");
        id->role = ar && ar->principal ? (int)ar->principal->role : 0;
        id->kind = ar && ar->principal && ar->principal->kind
                       ? (int)ar->principal->kind
                       : CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_API_KEY;
        id->scoped = ar && ar->principal && ar->principal->n_scopes;
        id->scopes =
            id->scoped ? cm_scopes_mask(ar->principal->scopes, ar->principal->n_scopes) : 0;
        if (ar)
            crm__authenticate_response__free_unpacked(ar, NULL);
        if (!ok) {
            cm_log_error("customers.Authenticate answered OK without a usable identity");
            s_fail(self, job, CRM__STATUS__STATUS_INTERNAL, "authentication failed");
            return;
        }
        gateway_auth_store(self->auth, hash, id, now);
        job->authed = true;
        sodium_memzero(job->api_key, strlen(job->api_key));
        free(job->api_key);
        job->api_key = NULL;
        char why[160];
        if (!gateway_auth_allows(id, job->scopes, why, sizeof why)) {
            s_fail(self, job, CRM__STATUS__STATUS_PERMISSION_DENIED, why);
            return;
        }
        if (job->has_pending) {
            job->outcome = GATEWAY_JOB_PENDING;
            s_finish(self, job);
        } else {
            s_start(self, job);
        }
        return;
    }
    case CRM__STATUS__STATUS_UNAUTHENTICATED:
    case CRM__STATUS__STATUS_INVALID_ARGUMENT:
    case CRM__STATUS__STATUS_NOT_FOUND:
    case CRM__STATUS__STATUS_PERMISSION_DENIED:
        gateway_auth_store(self->auth, hash, NULL, now);
        s_fail(self, job, CRM__STATUS__STATUS_UNAUTHENTICATED,
               job->session ? "the session has ended; sign in again" : "invalid API key");
        return;
    default:
        cm_log_warn("customers.Authenticate failed: %s", gateway_status_name(rh->status));
        s_fail(self, job, CRM__STATUS__STATUS_UNAVAILABLE, "authentication service unavailable");
        return;
    }
}

static void s_on_reply(gateway_bus_t *self, struct cm_mdp_msg *msg)
{
    Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, msg->header_len, msg->header);
    struct s_pending *p = NULL;
    if (!rh) {
        cm_log_warn("dropped a reply with a malformed header from %s", msg->service);
        goto out;
    }
    p = s_find(self, rh->request_id ? rh->request_id : "");
    if (!p) {
        /* A reply after its deadline, or to a request we never sent. */
        cm_log_debug("dropped a late or unknown reply %s from %s", rh->request_id, msg->service);
        goto out;
    }
    s_unlink(self, p);
    cm_log_set_request_id(p->job->request_id);
    gateway_metrics_bus(self->metrics, p->service, gateway_status_name(rh->status),
                        (double)(cm_mono_ms() - p->sent) / 1000.0);
    struct gateway_job *job = p->job;
    if (p->auth) {
        s_on_auth(self, job, rh, msg);
    } else if (job->kind == GATEWAY_JOB_READY) {
        s_ready_answer(self, job, p->sub, rh->status == CRM__STATUS__STATUS_OK);
    } else {
        if (rh->status == CRM__STATUS__STATUS_OK && !strcmp(job->method, "customers.RevokeApiKey"))
            s_forget_revoked(self, job);
        job->outcome = GATEWAY_JOB_REPLIED;
        job->reply = *msg;
        memset(msg, 0, sizeof *msg);
        s_finish(self, job);
    }
out:
    cm_log_set_request_id(NULL);
    free(p);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    cm_mdp_msg_release(msg);
}

/* Gives up on requests whose deadline has passed. */
static void s_expire(gateway_bus_t *self, int64_t now)
{
    while (self->n_heap && self->heap[0]->deadline <= now) {
        struct s_pending *p = self->heap[0];
        /* The heap keeps each entry's index in it: unlinking the root moves
         * another entry (or none) to heap[0]. */
        assert(p->heap_index == 0);
        s_unlink(self, p);
        gateway_metrics_bus(self->metrics, p->service, "DEADLINE_EXCEEDED",
                            (double)(now - p->sent) / 1000.0);
        struct gateway_job *job = p->job;
        cm_log_set_request_id(job->request_id);
        if (p->auth) {
            cm_log_warn("customers.Authenticate did not answer in time");
            s_fail(self, job, CRM__STATUS__STATUS_UNAVAILABLE,
                   "authentication service did not answer in time");
        } else if (job->kind == GATEWAY_JOB_READY) {
            s_ready_answer(self, job, p->sub, false);
        } else {
            char m[160];
            snprintf(m, sizeof m, "service %s did not answer in time", p->service);
            s_fail(self, job, CRM__STATUS__STATUS_DEADLINE_EXCEEDED, m);
        }
        cm_log_set_request_id(NULL);
        free(p);
    }
}

/* The connection to the broker was lost and is back. A broker that died took
 * with it what it held (its queue, the requests at its workers, their
 * replies), so every request in flight goes again under its id rather than
 * waiting out its deadline. A write carries its idempotency key (the gateway
 * gives one to every write), so a service that did it already answers its
 * stored reply instead of doing it twice; a broker that did not die answers
 * the first reply and drops the second. */
static void s_resend_all(gateway_bus_t *self)
{
    size_t n = self->n_heap;
    if (!n)
        return;
    cm_log_warn("the broker connection is back: sending the %zu requests in flight again", n);
    struct s_pending **all = cm_malloc(n * sizeof *all);
    memcpy(all, self->heap, n * sizeof *all);
    for (size_t i = 0; i < n; i++) {
        struct s_pending *p = all[i];
        struct gateway_job *job = p->job;
        size_t sub = p->sub;
        bool auth = p->auth;
        s_unlink(self, p);
        free(p);
        cm_log_set_request_id(job->request_id);
        gateway_metrics_bus_resent(self->metrics);
        if (s_send(self, job, sub, auth) == 0)
            continue;
        if (job->kind == GATEWAY_JOB_READY && !auth)
            s_ready_answer(self, job, sub, false);
        else
            s_fail(self, job, CRM__STATUS__STATUS_UNAVAILABLE, "message bus unavailable");
    }
    cm_log_set_request_id(NULL);
    free(all);
}

/* Fails everything in flight: the gateway is stopping. */
static void s_fail_all(gateway_bus_t *self)
{
    while (self->n_heap) {
        struct s_pending *p = self->heap[self->n_heap - 1];
        s_unlink(self, p);
        struct gateway_job *job = p->job;
        if (job->kind == GATEWAY_JOB_READY && !p->auth)
            s_ready_answer(self, job, p->sub, false);
        else
            s_fail(self, job, CRM__STATUS__STATUS_UNAVAILABLE, "the gateway is shutting down");
        free(p);
    }
}

/* Runs a pending gateway_bus_call and wakes its caller. */
static void s_run_call(gateway_bus_t *self)
{
    pthread_mutex_lock(&self->mu);
    struct s_call *c = self->call;
    pthread_mutex_unlock(&self->mu);
    if (!c)
        return;
    c->fn(c->arg);
    pthread_mutex_lock(&self->mu);
    c->done = true;
    self->call = NULL;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mu);
}

/* How long the host lets the loop sleep, bounded by limit. */
static long s_host_timeout(gateway_bus_t *self, long limit)
{
    if (!self->host.run)
        return limit;
    long t = self->host.timeout(self->host.arg);
    return t >= 0 && t < limit ? t : limit;
}

/* After a stop: serves the host while it still has requests open (their
 * answers are on their way out), for up to GATEWAY_BUS_DRAIN_MS. */
static void s_drain_host(gateway_bus_t *self, zmq_pollitem_t *items)
{
    if (!self->host.run)
        return;
    int64_t until = cm_mono_ms() + GATEWAY_BUS_DRAIN_MS;
    self->host.run(self->host.arg, items, 0);
    while (self->host.busy(self->host.arg)) {
        int64_t left = until - cm_mono_ms();
        if (left <= 0)
            break;
        size_t n = self->host.watch(self->host.arg, items, GATEWAY_BUS_HOST_FDS);
        long timeout = s_host_timeout(self, left > 50 ? 50 : (long)left);
        if (zmq_poll(items, (int)n, timeout) < 0)
            for (size_t i = 0; i < n; i++)
                items[i].revents = 0;
        self->host.run(self->host.arg, items, n);
    }
}

enum { S_ITEM_BUS, S_ITEM_WAKE, S_ITEM_LINK, S_ITEM_HOST };

static void *s_run(void *arg)
{
    gateway_bus_t *self = arg;
    s_on_thread = self;
    cm_log_set_request_id(NULL);
    zmq_pollitem_t *items = cm_calloc(S_ITEM_HOST + GATEWAY_BUS_HOST_FDS, sizeof *items);
    items[S_ITEM_BUS] = (zmq_pollitem_t){cm_mdp_client_socket(self->client), 0, ZMQ_POLLIN, 0};
    items[S_ITEM_WAKE] = (zmq_pollitem_t){NULL, self->efd, ZMQ_POLLIN, 0};
    void *link = cm_mdp_client_watch(self->client);
    if (link)
        items[S_ITEM_LINK] = (zmq_pollitem_t){link, 0, ZMQ_POLLIN, 0};
    else
        cm_log_warn("cannot watch the broker connection (%s): requests in flight when the "
                    "broker restarts wait for their deadline",
                    zmq_strerror(errno));
    if (!link)
        items[S_ITEM_LINK] = (zmq_pollitem_t){NULL, -1, 0, 0};
    for (;;) {
        long timeout = 1000;
        if (self->n_heap) {
            int64_t d = self->heap[0]->deadline - cm_mono_ms();
            timeout = d < 0 ? 0 : d < timeout ? (long)d : timeout;
        }
        timeout = s_host_timeout(self, timeout);
        size_t n_host = 0;
        unsigned gen = self->host_gen;
        if (self->host.run)
            n_host = self->host.watch(self->host.arg, items + S_ITEM_HOST, GATEWAY_BUS_HOST_FDS);
        if (zmq_poll(items, (int)(S_ITEM_HOST + n_host), timeout) < 0) {
            if (errno != EINTR) {
                cm_log_error("bus poll failed: %s", zmq_strerror(errno));
                break;
            }
            for (size_t i = 0; i < S_ITEM_HOST + n_host; i++)
                items[i].revents = 0;
        }
        if (items[S_ITEM_WAKE].revents & ZMQ_POLLIN) {
            uint64_t v;
            ssize_t n = read(self->efd, &v, sizeof v);
            (void)n; // nonblocking; a spurious wake-up reads nothing
            s_run_call(self);
        }
        pthread_mutex_lock(&self->mu);
        struct gateway_job *jobs = self->head;
        self->head = self->tail = NULL;
        bool stopping = self->stopping;
        pthread_mutex_unlock(&self->mu);
        for (struct gateway_job *j = jobs, *next; j; j = next) {
            next = j->next;
            cm_log_set_request_id(j->request_id);
            if (stopping)
                s_fail(self, j, CRM__STATUS__STATUS_UNAVAILABLE, "the gateway is shutting down");
            else
                s_start(self, j);
        }
        cm_log_set_request_id(NULL);
        struct cm_mdp_msg msg = {0};
        while (!stopping && cm_mdp_client_recv(self->client, 0, &msg) == 1)
            s_on_reply(self, &msg);
        if (items[S_ITEM_LINK].revents & ZMQ_POLLIN) {
            enum cm_mdp_link l = cm_mdp_client_link_events(self->client);
            if (l == CM_MDP_LINK_DOWN)
                cm_log_warn("lost the connection to the broker");
            else if (l == CM_MDP_LINK_RELINKED && !stopping)
                s_resend_all(self);
        }
        s_expire(self, cm_mono_ms());
        if (stopping) {
            s_fail_all(self);
            s_drain_host(self, items + S_ITEM_HOST);
            break;
        }
        /* Last: what the poll found, and connections resumed by the replies
         * above, are served now. A call may have just attached the host. */
        if (self->host.run)
            self->host.run(self->host.arg, items + S_ITEM_HOST, gen == self->host_gen ? n_host : 0);
    }
    free(items);
    pthread_mutex_lock(&self->mu);
    self->exited = true;
    pthread_mutex_unlock(&self->mu);
    s_run_call(self); // a caller may wait on it
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

gateway_bus_t *gateway_bus_new(const char *endpoint, bool io_batch, gateway_auth_t *auth,
                               gateway_metrics_t *metrics)
{
    gateway_bus_t *self = cm_calloc(1, sizeof *self);
    self->auth = auth;
    self->metrics = metrics;
    self->efd = -1;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cond, NULL);
    atomic_init(&self->n_jobs, 0);
    self->zctx = cm_mdp_ctx_new(io_batch);
    if (!self->zctx)
        goto fail;
    self->client = cm_mdp_client_new(self->zctx, endpoint);
    if (!self->client)
        goto fail;
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->efd < 0)
        goto fail;
    if (pthread_create(&self->thread, NULL, s_run, self))
        goto fail;
    pthread_mutex_lock(&self->mu);
    self->running = true;
    pthread_mutex_unlock(&self->mu);
    return self;
fail:
    gateway_bus_destroy(&self);
    return NULL;
}

/* Sets the host; runs on the thread. */
struct s_attach {
    gateway_bus_t *bus;
    const struct gateway_bus_host *host;
};

static void s_attach(void *arg)
{
    struct s_attach *a = arg;
    a->bus->host_gen++;
    if (a->host)
        a->bus->host = *a->host;
    else
        a->bus->host = (struct gateway_bus_host){0};
}

void gateway_bus_attach(gateway_bus_t *self, const struct gateway_bus_host *host)
{
    struct s_attach a = {self, host};
    gateway_bus_call(self, s_attach, &a);
}

void gateway_bus_call(gateway_bus_t *self, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&self->mu);
    if (!self->running || self->exited || s_on_thread == self) {
        pthread_mutex_unlock(&self->mu);
        fn(arg);
        return;
    }
    struct s_call c = {fn, arg, false};
    while (self->call)
        pthread_cond_wait(&self->cond, &self->mu);
    /* c lives until the loop has run it: the loop clears self->call before it
     * sets c.done, and this function returns only after that. cppcheck sees
     * only a local's address kept in an object. */
    // cppcheck-suppress autoVariables
    self->call = &c;
    pthread_mutex_unlock(&self->mu);
    uint64_t one = 1;
    ssize_t n = write(self->efd, &one, sizeof one);
    (void)n;
    pthread_mutex_lock(&self->mu);
    while (!c.done)
        pthread_cond_wait(&self->cond, &self->mu);
    pthread_mutex_unlock(&self->mu);
}

int gateway_bus_submit(gateway_bus_t *self, struct gateway_job *job)
{
    if (s_on_thread == self) {
        /* A handler on the loop: no queue, no wake-up. */
        pthread_mutex_lock(&self->mu);
        bool stopping = self->stopping;
        pthread_mutex_unlock(&self->mu);
        if (stopping)
            return -1;
        job->next = NULL;
        job->outcome = 0;
        job->authed = false;
        atomic_fetch_add(&self->n_jobs, 1);
        s_start(self, job);
        return 0;
    }
    pthread_mutex_lock(&self->mu);
    if (self->stopping) {
        pthread_mutex_unlock(&self->mu);
        return -1;
    }
    job->next = NULL;
    job->outcome = 0;
    job->authed = false;
    if (self->tail)
        self->tail->next = job;
    else
        self->head = job;
    self->tail = job;
    atomic_fetch_add(&self->n_jobs, 1);
    pthread_mutex_unlock(&self->mu);
    uint64_t one = 1;
    ssize_t n = write(self->efd, &one, sizeof one);
    (void)n; // only fails when the counter is saturated: the thread is awake then
    return 0;
}

void gateway_bus_stop(gateway_bus_t *self)
{
    pthread_mutex_lock(&self->mu);
    self->stopping = true;
    pthread_mutex_unlock(&self->mu);
    if (!self->running)
        return;
    uint64_t one = 1;
    ssize_t n = write(self->efd, &one, sizeof one);
    (void)n;
    pthread_join(self->thread, NULL);
    pthread_mutex_lock(&self->mu);
    self->running = false;
    pthread_mutex_unlock(&self->mu);
}

void gateway_bus_destroy(gateway_bus_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_bus_t *self = *self_p;
    gateway_bus_stop(self);
    cm_mdp_client_destroy(&self->client);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    if (self->efd >= 0)
        close(self->efd);
    free(self->heap);
    pthread_mutex_destroy(&self->mu);
    pthread_cond_destroy(&self->cond);
    free(self);
    *self_p = NULL;
}

size_t gateway_bus_pending(gateway_bus_t *self)
{
    return atomic_load(&self->n_jobs);
}
