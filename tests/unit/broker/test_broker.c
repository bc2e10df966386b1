/* Unit tests for the broker and the event stream: a real broker in a thread
 * on ipc endpoints, workers and owners in threads, clients in the test. */
#include "broker.h"
#include "cm_events.h"
#include "cm_mdp.h"
#include "cm_util.h"
#include "envelope.pb-c.h"
#include "../unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static void *s_ctx;
static char s_dir[64], s_bus[128], s_bus2[128], s_binds[260], s_ev_in[128], s_ev_out[128];

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ */
/* The broker in a thread                                              */

static broker_t *s_broker;
static volatile sig_atomic_t s_broker_stop;
static pthread_t s_broker_thread;

static void *s_broker_main(void *arg)
{
    (void)arg;
    CHECK(broker_run(s_broker, &s_broker_stop) == 0);
    return NULL;
}

static void s_broker_start(void)
{
    /* An endpoint that cannot be bound fails the constructor. (Not a second
     * broker on the same ipc path: libzmq would take the path over.) */
    struct broker_cfg bad = {s_bus, "nonsense://x", s_ev_out};
    CHECK(broker_new(s_ctx, &bad) == NULL);
    /* A list with an empty member is refused whole. */
    char listed[300];
    snprintf(listed, sizeof listed, "%s,", s_bus2);
    bad = (struct broker_cfg){listed, s_ev_in, s_ev_out};
    CHECK(broker_new(s_ctx, &bad) == NULL);
    snprintf(listed, sizeof listed, "%s,,%s", s_bus2, s_bus);
    bad = (struct broker_cfg){listed, s_ev_in, s_ev_out};
    CHECK(broker_new(s_ctx, &bad) == NULL);
    /* The bus listens on two addresses (as `make run`'s broker does: TCP and
     * a Unix socket). */
    struct broker_cfg cfg = {s_binds, s_ev_in, s_ev_out};
    s_broker = broker_new(s_ctx, &cfg);
    CHECK(s_broker);
    CHECK(pthread_create(&s_broker_thread, NULL, s_broker_main, NULL) == 0);
}

static void s_broker_stop_join(void)
{
    s_broker_stop = 1;
    CHECK(pthread_join(s_broker_thread, NULL) == 0);
    broker_destroy(&s_broker);
    broker_destroy(&s_broker);
}

/* ------------------------------------------------------------------ */
/* Envelope helpers                                                    */

static uint8_t *s_request_header(const char *request_id, const char *method, int64_t deadline,
                                 size_t *len)
{
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.request_id = (char *)request_id;
    h.method = (char *)method;
    h.deadline_unix_ms = deadline;
    *len = crm__request_header__get_packed_size(&h);
    uint8_t *buf = cm_malloc(*len + 1);
    crm__request_header__pack(&h, buf);
    return buf;
}

static void s_send_call(cm_mdp_client_t *c, const char *service, const char *request_id,
                        const char *method, int64_t deadline, const char *body)
{
    size_t n;
    uint8_t *h = s_request_header(request_id, method, deadline, &n);
    CHECK(cm_mdp_client_send(c, service, h, n, body, strlen(body)) == 0);
    free(h);
}

static void s_send_request(cm_mdp_client_t *c, const char *service, const char *request_id,
                           int64_t deadline, const char *body)
{
    size_t n;
    uint8_t *h = s_request_header(request_id, "test.Method", deadline, &n);
    CHECK(cm_mdp_client_send(c, service, h, n, body, strlen(body)) == 0);
    free(h);
}

struct reply {
    Crm__Status status;
    char message[128];
    char request_id[64];
    char service[64];
    char body[256];
};

/* Waits for one reply; returns 1, or 0 on timeout. */
static int s_reply(cm_mdp_client_t *c, int timeout_ms, struct reply *r)
{
    struct cm_mdp_msg msg = {0};
    int got = cm_mdp_client_recv(c, timeout_ms, &msg);
    CHECK(got >= 0);
    if (got == 0)
        return 0;
    Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, msg.header_len, msg.header);
    CHECK(rh);
    r->status = rh->status;
    snprintf(r->message, sizeof r->message, "%s", rh->message);
    snprintf(r->request_id, sizeof r->request_id, "%s", rh->request_id);
    snprintf(r->service, sizeof r->service, "%s", msg.service);
    CHECK(msg.body_len < sizeof r->body);
    memcpy(r->body, msg.body, msg.body_len);
    r->body[msg.body_len] = '\0';
    crm__reply_header__free_unpacked(rh, NULL);
    cm_mdp_msg_release(&msg);
    return 1;
}

/* Asks mmi.service whether a service has a live worker: "200" or "404". */
static int s_mmi_has(cm_mdp_client_t *c, const char *service)
{
    s_send_request(c, "mmi.service", "mmi-1", 0, service);
    struct reply r;
    CHECK(s_reply(c, 2000, &r));
    CHECK(r.status == CRM__STATUS__STATUS_OK && !strcmp(r.request_id, "mmi-1"));
    CHECK(!strcmp(r.service, "mmi.service"));
    return !strcmp(r.body, "200");
}

static void s_wait_service(cm_mdp_client_t *c, const char *service)
{
    int64_t until = cm_mono_ms() + 3000;
    while (!s_mmi_has(c, service)) {
        CHECK(cm_mono_ms() < until);
        s_sleep_ms(20);
    }
}

/* ------------------------------------------------------------------ */
/* Worker threads                                                      */

struct worker_cfg {
    const char *service;
    const char *tag; /* prefixed to each reply body */
    int stall_ms;    /* sleep this long, heartbeat-less, before each reply */
    int busy_ms;     /* work this long per request, heartbeating */
    atomic_int stop;
    atomic_int handled;
    atomic_int got_request;
    atomic_int replied;
    pthread_t thread;
};

static void *s_worker_main(void *arg)
{
    struct worker_cfg *cfg = arg;
    cm_mdp_worker_t *w = cm_mdp_worker_new(s_ctx, s_bus, cfg->service);
    CHECK(w);
    while (!atomic_load(&cfg->stop)) {
        struct cm_mdp_msg msg = {0};
        int got = cm_mdp_worker_recv(w, 50, &msg);
        CHECK(got >= 0);
        if (got == 0)
            continue;
        atomic_store(&cfg->got_request, 1);
        Crm__RequestHeader *h = crm__request_header__unpack(NULL, msg.header_len, msg.header);
        CHECK(h);
        if (cfg->stall_ms)
            s_sleep_ms(cfg->stall_ms);
        for (int t = 0; t < cfg->busy_ms; t += 50) {
            s_sleep_ms(50);
            cm_mdp_worker_heartbeat(w);
        }
        Crm__ReplyHeader rh = CRM__REPLY_HEADER__INIT;
        rh.request_id = h->request_id;
        uint8_t hb[256];
        size_t hn = crm__reply_header__pack(&rh, hb);
        char *body = cm_strfmt("%s:%.*s", cfg->tag, (int)msg.body_len, (const char *)msg.body);
        CHECK(cm_mdp_worker_reply(w, &msg, hb, hn, body, strlen(body)) == 0);
        free(body);
        crm__request_header__free_unpacked(h, NULL);
        cm_mdp_msg_release(&msg);
        atomic_fetch_add(&cfg->handled, 1);
        atomic_store(&cfg->replied, 1);
    }
    cm_mdp_worker_disconnect(w);
    cm_mdp_worker_destroy(&w);
    return NULL;
}

static void s_worker_start(struct worker_cfg *cfg)
{
    CHECK(pthread_create(&cfg->thread, NULL, s_worker_main, cfg) == 0);
}

static void s_worker_stop(struct worker_cfg *cfg)
{
    atomic_store(&cfg->stop, 1);
    CHECK(pthread_join(cfg->thread, NULL) == 0);
}

/* ------------------------------------------------------------------ */
/* Request/reply                                                       */

static void test_echo_balanced(void)
{
    struct worker_cfg w1 = {.service = "echo", .tag = "w1"};
    struct worker_cfg w2 = {.service = "echo", .tag = "w2"};
    s_worker_start(&w1);
    s_worker_start(&w2);
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, s_bus);
    s_wait_service(c, "echo");
    s_sleep_ms(200); /* both READYs in */

    enum { N = 100 };
    for (int i = 0; i < N; i++) {
        char id[32], body[32];
        snprintf(id, sizeof id, "req-%d", i);
        snprintf(body, sizeof body, "payload-%d", i);
        s_send_request(c, "echo", id, cm_now_ms() + 10000, body);
    }
    int seen[N] = {0}, by_w1 = 0, by_w2 = 0;
    for (int k = 0; k < N; k++) {
        struct reply r;
        CHECK(s_reply(c, 5000, &r));
        CHECK(r.status == CRM__STATUS__STATUS_OK && !strcmp(r.service, "echo"));
        long i;
        CHECK(!strncmp(r.request_id, "req-", 4) &&
              cm_parse_long(r.request_id + 4, 0, N - 1, &i) == 0);
        CHECK(seen[i] == 0);
        seen[i] = 1;
        char want[64];
        snprintf(want, sizeof want, "payload-%ld", i);
        CHECK(!strcmp(r.body + 3, want));
        if (!strncmp(r.body, "w1:", 3))
            by_w1++;
        else if (!strncmp(r.body, "w2:", 3))
            by_w2++;
        else
            CHECK(!"reply from an unknown worker");
    }
    CHECK(by_w1 + by_w2 == N && by_w1 > 0 && by_w2 > 0);
    struct reply r;
    CHECK(s_reply(c, 200, &r) == 0); /* nothing more */

    s_worker_stop(&w1);
    s_worker_stop(&w2);
    /* Both said DISCONNECT: the service is gone at once. */
    s_sleep_ms(100);
    CHECK(!s_mmi_has(c, "echo"));
    cm_mdp_client_destroy(&c);
    printf("test_echo_balanced: OK (w1=%d w2=%d)\n", by_w1, by_w2);
}

static void test_mmi(void)
{
    struct worker_cfg w = {.service = "mmitest", .tag = "m"};
    s_worker_start(&w);
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, s_bus);
    s_wait_service(c, "mmitest");
    CHECK(s_mmi_has(c, "mmitest"));
    CHECK(!s_mmi_has(c, "nosuch"));
    /* Other mmi.* names are not implemented. */
    s_send_request(c, "mmi.other", "mmi-2", 0, "x");
    struct reply r;
    CHECK(s_reply(c, 2000, &r) && !strcmp(r.body, "501") && !strcmp(r.request_id, "mmi-2"));
    s_worker_stop(&w);
    cm_mdp_client_destroy(&c);
    printf("test_mmi: OK\n");
}

/* A client on the second address of the broker's list reaches a worker on
 * the first. */
static void test_second_address(void)
{
    struct worker_cfg w = {.service = "second", .tag = "s"};
    s_worker_start(&w);
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, s_bus2);
    CHECK(c);
    s_wait_service(c, "second");
    s_send_request(c, "second", "second-1", 0, "hello");
    struct reply r;
    CHECK(s_reply(c, 2000, &r) && !strcmp(r.request_id, "second-1") && !strcmp(r.body, "s:hello"));
    CHECK(r.status == CRM__STATUS__STATUS_OK);
    s_worker_stop(&w);
    cm_mdp_client_destroy(&c);
    printf("test_second_address: OK\n");
}

static void test_invalid_header(void)
{
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, s_bus);
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    CHECK(cm_mdp_client_send(c, "echo", junk, sizeof junk, "b", 1) == 0);
    struct reply r;
    CHECK(s_reply(c, 2000, &r));
    CHECK(r.status == CRM__STATUS__STATUS_INVALID_ARGUMENT && !strcmp(r.service, "echo"));
    CHECK(r.body[0] == '\0');
    /* An empty service name and a negative deadline are refused, echoing the id. */
    s_send_request(c, "", "bad-1", 0, "b");
    CHECK(s_reply(c, 2000, &r));
    CHECK(r.status == CRM__STATUS__STATUS_INVALID_ARGUMENT && !strcmp(r.request_id, "bad-1"));
    CHECK(!strcmp(r.message, "invalid service name"));
    s_send_request(c, "echo", "bad-2", -5, "b");
    CHECK(s_reply(c, 2000, &r));
    CHECK(r.status == CRM__STATUS__STATUS_INVALID_ARGUMENT && !strcmp(r.request_id, "bad-2"));
    /* A deadline already in the past is answered at once. */
    s_send_request(c, "echo", "late-1", cm_now_ms() - 1, "b");
    CHECK(s_reply(c, 2000, &r));
    CHECK(r.status == CRM__STATUS__STATUS_DEADLINE_EXCEEDED && !strcmp(r.request_id, "late-1"));
    cm_mdp_client_destroy(&c);
    printf("test_invalid_header: OK\n");
}

static void test_unknown_service(void)
{
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, s_bus);
    int64_t t0 = cm_mono_ms();
    s_send_request(c, "nosuch", "ns-1", cm_now_ms() + 300, "b");
    struct reply r;
    CHECK(s_reply(c, 3000, &r));
    int64_t took = cm_mono_ms() - t0;
    CHECK(r.status == CRM__STATUS__STATUS_UNAVAILABLE);
    CHECK(!strcmp(r.message, "no worker for service nosuch"));
    CHECK(!strcmp(r.request_id, "ns-1") && !strcmp(r.service, "nosuch") && r.body[0] == '\0');
    CHECK(took >= 250 && took < 1500);
    cm_mdp_client_destroy(&c);
    printf("test_unknown_service: OK\n");
}

/* A request waiting behind a busy worker is answered by the broker when its
 * deadline passes; the request in flight still gets its real answer. */
/* A raw DEALER speaking the worker protocol, so the test sees exactly what
 * the broker sends and when. */
static void *s_credit_worker(const char *service, const char *credit)
{
    void *w = zmq_socket(s_ctx, ZMQ_DEALER);
    CHECK(w);
    int linger = 0;
    zmq_setsockopt(w, ZMQ_LINGER, &linger, sizeof linger);
    CHECK(zmq_connect(w, s_bus) == 0);
    const uint8_t ready = CM_MDP_READY;
    CHECK(zmq_send(w, CM_MDP_WORKER, 6, ZMQ_SNDMORE) == 6);
    CHECK(zmq_send(w, &ready, 1, ZMQ_SNDMORE) == 1);
    CHECK(zmq_send(w, service, strlen(service), credit ? ZMQ_SNDMORE : 0) >= 0);
    if (credit)
        CHECK(zmq_send(w, credit, strlen(credit), 0) >= 0);
    return w;
}

/* Waits up to timeout_ms for a REQUEST at a raw worker; 1 with its parts. */
static int s_credit_request(void *w, int timeout_ms, struct cm_mdp_parts *p)
{
    int64_t until = cm_mono_ms() + timeout_ms;
    for (;;) {
        zmq_pollitem_t item = {w, 0, ZMQ_POLLIN, 0};
        long left = (long)(until - cm_mono_ms());
        if (left <= 0 || zmq_poll(&item, 1, left) <= 0)
            return 0;
        CHECK(cm_mdp_parts_recv(w, p, 0) == 0);
        if (p->n >= 2 && cm_mdp_part_command(&p->part[1]) == CM_MDP_REQUEST) {
            CHECK(p->n == 5);
            return 1;
        }
        cm_mdp_parts_close(p); /* a heartbeat */
    }
}

/* Answers a request a raw worker holds (FINAL to its client, body "raw"). */
static void s_credit_reply(void *w, struct cm_mdp_parts *p)
{
    Crm__RequestHeader *h =
        crm__request_header__unpack(NULL, zmq_msg_size(&p->part[3]), zmq_msg_data(&p->part[3]));
    CHECK(h);
    Crm__ReplyHeader rh = CRM__REPLY_HEADER__INIT;
    rh.request_id = h->request_id;
    uint8_t hb[256];
    size_t hn = crm__reply_header__pack(&rh, hb);
    const uint8_t final = CM_MDP_FINAL;
    CHECK(zmq_send(w, CM_MDP_WORKER, 6, ZMQ_SNDMORE) == 6);
    CHECK(zmq_send(w, &final, 1, ZMQ_SNDMORE) == 1);
    CHECK(zmq_send(w, zmq_msg_data(&p->part[2]), zmq_msg_size(&p->part[2]), ZMQ_SNDMORE) >= 0);
    CHECK(zmq_send(w, hb, hn, ZMQ_SNDMORE) == (int)hn);
    CHECK(zmq_send(w, "raw", 3, 0) == 3);
    crm__request_header__free_unpacked(h, NULL);
}

/* A raw worker with credit 3 for service, holding the first three of n
 * requests prefix-0, prefix-1, ... sent by client c (held[0..2]). */
static void *s_credit_holding(cm_mdp_client_t *c, const char *service, const char *prefix, int n,
                              struct cm_mdp_parts held[3])
{
    void *w = s_credit_worker(service, "3");
    s_wait_service(c, service);
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        s_send_request(c, service, id, cm_now_ms() + 20000, "x");
    }
    for (int i = 0; i < 3; i++)
        CHECK(s_credit_request(w, 2000, &held[i]));
    return w;
}

/* A raw worker leaves (DISCONNECT). */
static void s_credit_leave(void *w)
{
    const uint8_t bye = CM_MDP_DISCONNECT;
    CHECK(zmq_send(w, CM_MDP_WORKER, 6, ZMQ_SNDMORE) == 6);
    CHECK(zmq_send(w, &bye, 1, 0) == 1);
}

/* A worker announcing credit 3 gets three requests at once, the next one as
 * soon as it answers one; without credit it gets one at a time. When it
 * leaves, all it held go, in order, to another worker. */
static void test_worker_credit(void)
{
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, s_bus);
    struct cm_mdp_parts held[3];
    void *w = s_credit_holding(c, "credit", "cr", 5, held);
    struct cm_mdp_parts extra;
    CHECK(s_credit_request(w, 300, &extra) == 0); /* credit used up */
    s_credit_reply(w, &held[0]);
    cm_mdp_parts_close(&held[0]);
    struct reply r;
    CHECK(s_reply(c, 2000, &r) && !strcmp(r.request_id, "cr-0") && !strcmp(r.body, "raw"));
    CHECK(s_credit_request(w, 2000, &held[0])); /* the fourth, in the freed slot */
    CHECK(s_credit_request(w, 300, &extra) == 0);

    /* It leaves holding three (cr-1, cr-2, cr-3): they go to the next worker
     * ahead of cr-4, which waited in the queue. */
    s_credit_leave(w);
    for (int i = 0; i < 3; i++)
        cm_mdp_parts_close(&held[i]);
    void *one = s_credit_worker("credit", NULL);
    for (int i = 1; i < 5; i++) {
        struct cm_mdp_parts p;
        CHECK(s_credit_request(one, 2000, &p));
        CHECK(s_credit_request(one, 200, &extra) == 0); /* no credit: one at a time */
        s_credit_reply(one, &p);
        cm_mdp_parts_close(&p);
        char want[32];
        snprintf(want, sizeof want, "cr-%d", i);
        CHECK(s_reply(c, 2000, &r) && !strcmp(r.request_id, want));
        CHECK(r.status == CRM__STATUS__STATUS_OK);
    }
    s_credit_leave(one);
    zmq_close(w);
    zmq_close(one);
    cm_mdp_client_destroy(&c);
    printf("test_worker_credit: OK\n");
}

/* A worker with credit answers in any order: the broker matches each reply to
 * its request, so when the worker leaves, only what it still held is retried. */
static void test_worker_credit_out_of_order(void)
{
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, s_bus);
    struct cm_mdp_parts held[3];
    void *w = s_credit_holding(c, "ooo", "oo", 3, held);
    struct reply r;
    /* The newest first, then the oldest: the middle one is still at work. */
    s_credit_reply(w, &held[2]);
    CHECK(s_reply(c, 2000, &r) && !strcmp(r.request_id, "oo-2"));
    s_credit_reply(w, &held[0]);
    CHECK(s_reply(c, 2000, &r) && !strcmp(r.request_id, "oo-0"));
    for (int i = 0; i < 3; i++)
        cm_mdp_parts_close(&held[i]);
    s_credit_leave(w);
    /* Only oo-1 goes to the next worker. */
    void *one = s_credit_worker("ooo", NULL);
    struct cm_mdp_parts p, extra;
    CHECK(s_credit_request(one, 2000, &p));
    Crm__RequestHeader *h =
        crm__request_header__unpack(NULL, zmq_msg_size(&p.part[3]), zmq_msg_data(&p.part[3]));
    CHECK(h && !strcmp(h->request_id, "oo-1"));
    crm__request_header__free_unpacked(h, NULL);
    s_credit_reply(one, &p);
    cm_mdp_parts_close(&p);
    CHECK(s_reply(c, 2000, &r) && !strcmp(r.request_id, "oo-1"));
    CHECK(s_credit_request(one, 300, &extra) == 0); /* nothing else was retried */
    s_credit_leave(one);
    zmq_close(w);
    zmq_close(one);
    cm_mdp_client_destroy(&c);
    printf("test_worker_credit_out_of_order: OK\n");
}

static void test_deadline_exceeded(void)
{
    struct worker_cfg w = {.service = "slow", .tag = "s", .busy_ms = 1500};
    s_worker_start(&w);
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, s_bus);
    s_wait_service(c, "slow");
    int64_t t0 = cm_mono_ms();
    s_send_request(c, "slow", "slow-a", cm_now_ms() + 5000, "a");
    s_send_request(c, "slow", "slow-b", cm_now_ms() + 600, "b");
    struct reply r;
    CHECK(s_reply(c, 3000, &r));
    CHECK(!strcmp(r.request_id, "slow-b"));
    CHECK(r.status == CRM__STATUS__STATUS_DEADLINE_EXCEEDED);
    int64_t took = cm_mono_ms() - t0;
    CHECK(took >= 550 && took < 1400);
    CHECK(s_reply(c, 3000, &r));
    CHECK(!strcmp(r.request_id, "slow-a") && r.status == CRM__STATUS__STATUS_OK);
    CHECK(!strcmp(r.body, "s:a"));
    /* The busy worker heartbeated throughout, so it was never dropped. */
    CHECK(s_mmi_has(c, "slow"));
    CHECK(atomic_load(&w.handled) == 1);
    s_worker_stop(&w);
    cm_mdp_client_destroy(&c);
    printf("test_deadline_exceeded: OK\n");
}

/* A raw DEALER playing a worker, to crash without a word. */
static void *s_raw_worker(const char *service)
{
    void *d = zmq_socket(s_ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    CHECK(zmq_connect(d, s_bus) == 0);
    CHECK(zmq_send(d, "MDPW02", 6, ZMQ_SNDMORE) == 6);
    CHECK(zmq_send(d, "\x01", 1, ZMQ_SNDMORE) == 1);
    CHECK(zmq_send(d, service, strlen(service), 0) == (int)strlen(service));
    return d;
}

/* Receives the next REQUEST on a raw worker, skipping heartbeats; checks the
 * frames and returns the body's first byte. */
static char s_raw_request(void *d)
{
    for (;;) {
        zmq_pollitem_t item = {d, 0, ZMQ_POLLIN, 0};
        CHECK(zmq_poll(&item, 1, 3000) == 1);
        char f[5][256];
        int n[5], parts = 0, more = 1;
        while (more) {
            CHECK(parts < 5);
            n[parts] = zmq_recv(d, f[parts], sizeof f[0], 0);
            CHECK(n[parts] >= 0);
            parts++;
            size_t ms = sizeof more;
            zmq_getsockopt(d, ZMQ_RCVMORE, &more, &ms);
        }
        CHECK(parts >= 2 && n[0] == 6 && !memcmp(f[0], "MDPW02", 6) && n[1] == 1);
        if (f[1][0] == 0x05)
            continue;
        CHECK(f[1][0] == 0x02 && parts == 5);
        CHECK(n[2] > 0); /* the client's address */
        Crm__RequestHeader *h = crm__request_header__unpack(NULL, (size_t)n[3], (uint8_t *)f[3]);
        CHECK(h && !strncmp(h->request_id, "crash-", 6));
        crm__request_header__free_unpacked(h, NULL);
        return n[4] > 0 ? f[4][0] : 0;
    }
}

/* A worker that dies holding a request (socket closed, no DISCONNECT), and
 * one that says DISCONNECT while busy: each request goes to another worker. */
static void test_worker_crash_retry(void)
{
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, s_bus);
    void *d = s_raw_worker("crash");
    s_wait_service(c, "crash");
    s_send_request(c, "crash", "crash-1", cm_now_ms() + 10000, "x");
    CHECK(s_raw_request(d) == 'x');
    int64_t t0 = cm_mono_ms();
    zmq_close(d);
    struct worker_cfg w = {.service = "crash", .tag = "b"};
    s_worker_start(&w);
    struct reply r;
    CHECK(s_reply(c, 6000, &r));
    CHECK(!strcmp(r.request_id, "crash-1") && r.status == CRM__STATUS__STATUS_OK);
    CHECK(!strcmp(r.body, "b:x"));
    CHECK(cm_mono_ms() - t0 < 4500);
    s_worker_stop(&w);

    /* DISCONNECT while busy: re-queued at once. */
    d = s_raw_worker("crash");
    s_wait_service(c, "crash");
    s_send_request(c, "crash", "crash-2", cm_now_ms() + 10000, "y");
    CHECK(s_raw_request(d) == 'y');
    struct worker_cfg w2 = {.service = "crash", .tag = "c"};
    s_worker_start(&w2);
    s_sleep_ms(200);
    t0 = cm_mono_ms();
    CHECK(zmq_send(d, "MDPW02", 6, ZMQ_SNDMORE) == 6);
    CHECK(zmq_send(d, "\x06", 1, 0) == 1);
    CHECK(s_reply(c, 3000, &r));
    CHECK(!strcmp(r.request_id, "crash-2") && !strcmp(r.body, "c:y"));
    CHECK(cm_mono_ms() - t0 < 1000);
    zmq_close(d);
    s_worker_stop(&w2);
    cm_mdp_client_destroy(&c);
    printf("test_worker_crash_retry: OK\n");
}

/* A worker that stops responding (no heartbeats) is dropped after LIVENESS
 * intervals and its request answered by another; its late answer is not
 * forwarded, because the request was already answered. */
static void test_worker_stall_retry_dedup(void)
{
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, s_bus);
    struct worker_cfg a = {.service = "stall", .tag = "a", .stall_ms = 5000};
    s_worker_start(&a);
    s_wait_service(c, "stall");
    int64_t t0 = cm_mono_ms();
    s_send_request(c, "stall", "stall-1", cm_now_ms() + 15000, "z");
    while (!atomic_load(&a.got_request)) {
        CHECK(cm_mono_ms() - t0 < 2000);
        s_sleep_ms(10);
    }
    struct worker_cfg b = {.service = "stall", .tag = "b"};
    s_worker_start(&b);
    struct reply r;
    CHECK(s_reply(c, 6000, &r));
    int64_t took = cm_mono_ms() - t0;
    CHECK(!strcmp(r.request_id, "stall-1") && !strcmp(r.body, "b:z"));
    CHECK(took >= 1900 && took < 4500);
    /* a wakes up and answers too; the broker drops that second answer. */
    while (!atomic_load(&a.replied)) {
        CHECK(cm_mono_ms() - t0 < 8000);
        s_sleep_ms(20);
    }
    CHECK(s_reply(c, 500, &r) == 0);
    s_worker_stop(&a);
    /* The next call under the same request id (the gateway sends
     * Authenticate, then the call itself) is another request: its reply is
     * no duplicate of the first's. */
    s_send_call(c, "stall", "stall-1", "test.Next", cm_now_ms() + 5000, "y");
    CHECK(s_reply(c, 3000, &r));
    CHECK(!strcmp(r.request_id, "stall-1") && !strcmp(r.body, "b:y"));
    s_worker_stop(&b);
    cm_mdp_client_destroy(&c);
    printf("test_worker_stall_retry_dedup: OK (retried after %lld ms)\n", (long long)took);
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

enum { EV_N = 300 };
static Crm__Event s_events[EV_N + 1];
static char s_event_ids[EV_N + 1][16];
static atomic_int s_published; /* how many the owner can replay */
static atomic_int s_bad_replay_header;

static void s_events_init(void)
{
    for (int i = 1; i <= EV_N; i++) {
        crm__event__init(&s_events[i]);
        snprintf(s_event_ids[i], sizeof s_event_ids[i], "e%d", i);
        s_events[i].stream = "evtest";
        s_events[i].seq = (uint64_t)i;
        s_events[i].event_id = s_event_ids[i];
        s_events[i].type = "thing.happened";
    }
}

/* Seqs the publisher does not put on the wire: the subscriber must replay
 * them (the last two are found only through heartbeats). */
static int s_hidden(int seq)
{
    return seq == 5 || seq == 17 || seq == 18 || (seq >= 50 && seq <= 64) || seq >= EV_N - 1;
}

struct owner {
    atomic_int stop;
    atomic_int served;
    pthread_t thread;
};

static void *s_owner_main(void *arg)
{
    struct owner *o = arg;
    cm_mdp_worker_t *w = cm_mdp_worker_new(s_ctx, s_bus, "evtest");
    while (!atomic_load(&o->stop)) {
        struct cm_mdp_msg msg = {0};
        int got = cm_mdp_worker_recv(w, 50, &msg);
        CHECK(got >= 0);
        if (got == 0)
            continue;
        Crm__RequestHeader *h = crm__request_header__unpack(NULL, msg.header_len, msg.header);
        CHECK(h);
        if (strcmp(h->method, "evtest.ReplayEvents") || !h->principal ||
            h->principal->role != CRM__ROLE__ROLE_SERVICE || strcmp(h->principal->name, "events") ||
            h->deadline_unix_ms <= cm_now_ms() || strlen(h->request_id) != 36)
            atomic_store(&s_bad_replay_header, 1);
        Crm__ReplayEventsRequest *req =
            crm__replay_events_request__unpack(NULL, msg.body_len, msg.body);
        CHECK(req && req->limit == 1000);
        /* Serve small pages so catching up takes several requests. */
        int published = atomic_load(&s_published);
        Crm__Event *page[40];
        size_t n = 0;
        for (uint64_t s = req->after_seq + 1; s <= (uint64_t)published && n < 40; s++)
            page[n++] = &s_events[s];
        Crm__ReplayEventsResponse resp = CRM__REPLAY_EVENTS_RESPONSE__INIT;
        resp.events = page;
        resp.n_events = n;
        resp.last_seq = (uint64_t)published;
        Crm__ReplyHeader rh = CRM__REPLY_HEADER__INIT;
        rh.request_id = h->request_id;
        uint8_t hb[256];
        size_t hn = crm__reply_header__pack(&rh, hb);
        size_t bn = crm__replay_events_response__get_packed_size(&resp);
        uint8_t *bb = cm_malloc(bn + 1);
        crm__replay_events_response__pack(&resp, bb);
        CHECK(cm_mdp_worker_reply(w, &msg, hb, hn, bb, bn) == 0);
        free(bb);
        crm__replay_events_request__free_unpacked(req, NULL);
        crm__request_header__free_unpacked(h, NULL);
        cm_mdp_msg_release(&msg);
        atomic_fetch_add(&o->served, 1);
    }
    cm_mdp_worker_disconnect(w);
    cm_mdp_worker_destroy(&w);
    return NULL;
}

struct subscriber {
    uint64_t after;
    int refuse_seq;         /* fn refuses this seq the first time */
    int calls_refused_seq;  /* how often fn saw it */
    uint64_t got[EV_N + 1]; /* delivered seqs, in order */
    int n;
    int bad;
    atomic_int done;
    pthread_t thread;
};

static int s_apply(void *ud, const Crm__Event *ev)
{
    struct subscriber *s = ud;
    if (strcmp(ev->type, "thing.happened") || ev->seq == 0 || ev->seq > EV_N ||
        strcmp(ev->event_id, s_event_ids[ev->seq]))
        s->bad = 1;
    if ((int)ev->seq == s->refuse_seq && s->calls_refused_seq++ == 0)
        return 1;
    if (s->n <= EV_N)
        s->got[s->n++] = ev->seq;
    return 0;
}

static void *s_subscriber_main(void *arg)
{
    struct subscriber *s = arg;
    cm_events_sub_t *sub =
        cm_events_sub_new(s_ctx, s_ev_out, s_bus, "evtest", s->after, s_apply, s);
    CHECK(sub);
    CHECK(cm_events_sub_socket(sub) && cm_events_sub_reply_socket(sub));
    int64_t until = cm_mono_ms() + 15000;
    while (cm_events_sub_last_seq(sub) < EV_N && cm_mono_ms() < until) {
        int n = cm_events_sub_poll(sub, 100);
        CHECK(n >= 0);
    }
    CHECK(!cm_events_sub_behind(sub));
    /* Once caught up and quiet, nothing more arrives. */
    CHECK(cm_events_sub_poll(sub, 300) == 0);
    cm_events_sub_destroy(&sub);
    cm_events_sub_destroy(&sub);
    atomic_store(&s->done, 1);
    return NULL;
}

static void s_check_delivered(const struct subscriber *s)
{
    CHECK(!s->bad);
    CHECK(s->n == (int)(EV_N - s->after));
    for (int i = 0; i < s->n; i++)
        CHECK(s->got[i] == s->after + 1 + (uint64_t)i);
}

static void test_events(void)
{
    s_events_init();
    /* The subscriber starts before the owner: its first replay request waits
     * in the broker until the owner registers. */
    struct subscriber *s1 = cm_calloc(1, sizeof *s1);
    struct subscriber *s2 = cm_calloc(1, sizeof *s2);
    s2->refuse_seq = 7;
    CHECK(pthread_create(&s1->thread, NULL, s_subscriber_main, s1) == 0);
    CHECK(pthread_create(&s2->thread, NULL, s_subscriber_main, s2) == 0);

    cm_events_pub_t *pub = cm_events_pub_new(s_ctx, s_ev_in);
    CHECK(pub);
    struct owner o = {0};
    CHECK(pthread_create(&o.thread, NULL, s_owner_main, &o) == 0);
    s_sleep_ms(300);
    for (int i = 1; i <= EV_N; i++) {
        atomic_store(&s_published, i); /* committed before it is published */
        if (!s_hidden(i))
            CHECK(cm_events_pub_send(pub, &s_events[i]) == 0);
        if (i % 40 == 0)
            CHECK(cm_events_pub_heartbeat(pub, "evtest", (uint64_t)i) == 0);
        if (i % 10 == 0)
            s_sleep_ms(5);
    }
    /* The relay's periodic heartbeat reveals the hidden tail. */
    int64_t until = cm_mono_ms() + 15000;
    while (!(atomic_load(&s1->done) && atomic_load(&s2->done))) {
        CHECK(cm_mono_ms() < until);
        CHECK(cm_events_pub_heartbeat(pub, "evtest", EV_N) == 0);
        s_sleep_ms(100);
    }
    CHECK(pthread_join(s1->thread, NULL) == 0);
    CHECK(pthread_join(s2->thread, NULL) == 0);
    s_check_delivered(s1);
    s_check_delivered(s2);
    CHECK(s2->calls_refused_seq == 2);
    CHECK(!atomic_load(&s_bad_replay_header));
    CHECK(atomic_load(&o.served) >= EV_N / 40);

    /* A subscriber resuming after seq 250 gets exactly 251..EV_N. */
    struct subscriber *s3 = cm_calloc(1, sizeof *s3);
    s3->after = 250;
    CHECK(pthread_create(&s3->thread, NULL, s_subscriber_main, s3) == 0);
    CHECK(pthread_join(s3->thread, NULL) == 0);
    s_check_delivered(s3);

    atomic_store(&o.stop, 1);
    CHECK(pthread_join(o.thread, NULL) == 0);
    cm_events_pub_destroy(&pub);
    cm_events_pub_destroy(&pub);
    free(s1);
    free(s2);
    free(s3);
    printf("test_events: OK\n");
}

/* Live delivery without the owner's help once caught up, and a topic that
 * merely starts with the stream name is not delivered. */
static int s_count_live(void *ud, const Crm__Event *ev)
{
    int *n = ud;
    if (!strcmp(ev->stream, "live"))
        (*n)++;
    else
        *n = -1000;
    return 0;
}

static void test_events_live_only(void)
{
    /* An owner for stream "live" that always reports an empty stream. */
    cm_events_pub_t *pub = cm_events_pub_new(s_ctx, s_ev_in);
    int count = 0;
    cm_events_sub_t *sub =
        cm_events_sub_new(s_ctx, s_ev_out, s_bus, "live", 0, s_count_live, &count);
    cm_mdp_worker_t *w = cm_mdp_worker_new(s_ctx, s_bus, "live");
    /* Serve the one replay inline. */
    int served = 0;
    int64_t until = cm_mono_ms() + 5000;
    while (!served) {
        CHECK(cm_mono_ms() < until);
        CHECK(cm_events_sub_poll(sub, 0) == 0);
        struct cm_mdp_msg msg = {0};
        if (cm_mdp_worker_recv(w, 20, &msg) == 1) {
            Crm__RequestHeader *h = crm__request_header__unpack(NULL, msg.header_len, msg.header);
            Crm__ReplyHeader rh = CRM__REPLY_HEADER__INIT;
            rh.request_id = h->request_id;
            uint8_t hb[128], bb[16];
            size_t hn = crm__reply_header__pack(&rh, hb);
            Crm__ReplayEventsResponse resp = CRM__REPLAY_EVENTS_RESPONSE__INIT;
            size_t bn = crm__replay_events_response__pack(&resp, bb);
            CHECK(cm_mdp_worker_reply(w, &msg, hb, hn, bb, bn) == 0);
            crm__request_header__free_unpacked(h, NULL);
            served = 1;
        }
        cm_mdp_msg_release(&msg);
    }
    while (cm_events_sub_behind(sub)) {
        CHECK(cm_mono_ms() < until);
        CHECK(cm_events_sub_poll(sub, 20) >= 0);
    }
    CHECK(cm_events_sub_timeout(sub) == -1);
    s_sleep_ms(200); /* the subscription reaches the publisher */
    Crm__Event ev = CRM__EVENT__INIT;
    ev.stream = "livelier";
    ev.seq = 1;
    ev.type = "x";
    CHECK(cm_events_pub_send(pub, &ev) == 0);
    ev.stream = "live";
    for (int i = 1; i <= 3; i++) {
        ev.seq = (uint64_t)i;
        CHECK(cm_events_pub_send(pub, &ev) == 0);
    }
    while (count < 3) {
        CHECK(cm_mono_ms() < until);
        CHECK(cm_events_sub_poll(sub, 100) >= 0);
    }
    CHECK(count == 3 && cm_events_sub_last_seq(sub) == 3);
    /* Only one replay was ever needed: no request waits at the owner. */
    struct cm_mdp_msg msg = {0};
    CHECK(cm_mdp_worker_recv(w, 100, &msg) == 0);
    cm_mdp_worker_disconnect(w);
    cm_mdp_worker_destroy(&w);
    cm_events_sub_destroy(&sub);
    cm_events_pub_destroy(&pub);
    printf("test_events_live_only: OK\n");
}

/* A durable reader: its name and position go with every replay request, it
 * reports again now and then once caught up, and an owner's "no longer kept"
 * is kept for its user to see. */
static Crm__ReplayEventsRequest *s_next_replay(cm_mdp_worker_t *w, struct cm_mdp_msg *msg,
                                               Crm__RequestHeader **h, cm_events_sub_t *sub,
                                               int64_t until)
{
    for (;;) {
        CHECK(cm_mono_ms() < until);
        CHECK(cm_events_sub_poll(sub, 0) >= 0);
        if (cm_mdp_worker_recv(w, 20, msg) == 1)
            break;
        cm_mdp_msg_release(msg);
    }
    *h = crm__request_header__unpack(NULL, msg->header_len, msg->header);
    CHECK(*h && !strcmp((*h)->method, "kept.ReplayEvents"));
    Crm__ReplayEventsRequest *req =
        crm__replay_events_request__unpack(NULL, msg->body_len, msg->body);
    CHECK(req);
    return req;
}

static void s_answer_replay(cm_mdp_worker_t *w, struct cm_mdp_msg *msg, Crm__RequestHeader *h,
                            Crm__Status status, const char *message)
{
    Crm__ReplyHeader rh = CRM__REPLY_HEADER__INIT;
    rh.request_id = h->request_id;
    rh.status = status;
    rh.message = (char *)message;
    uint8_t hb[256], bb[16];
    size_t hn = crm__reply_header__pack(&rh, hb);
    Crm__ReplayEventsResponse resp = CRM__REPLAY_EVENTS_RESPONSE__INIT;
    resp.last_seq = 5;
    size_t bn = status == CRM__STATUS__STATUS_OK ? crm__replay_events_response__pack(&resp, bb) : 0;
    CHECK(cm_mdp_worker_reply(w, msg, hb, hn, bb, bn) == 0);
}

static void test_events_reader(void)
{
    CHECK(cm_events_reader_ok("notes", 5) && cm_events_reader_ok("a.b_c-9", 7));
    CHECK(!cm_events_reader_ok("", 0) && !cm_events_reader_ok("Notes", 5) &&
          !cm_events_reader_ok("-x", 2) && !cm_events_reader_ok("a b", 3));
    char long_name[CM_EVENTS_READER_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK(cm_events_reader_ok(long_name, CM_EVENTS_READER_MAX));
    CHECK(!cm_events_reader_ok(long_name, CM_EVENTS_READER_MAX + 1));
    CHECK(cm_events_readers_ok("notes, billing,x") && cm_events_readers_ok(""));
    CHECK(!cm_events_readers_ok("notes;billing") && !cm_events_readers_ok("notes,Bad"));

    int count = 0;
    cm_events_sub_t *sub =
        cm_events_sub_new(s_ctx, s_ev_out, s_bus, "kept", 5, s_count_live, &count);
    cm_events_sub_set_reader(sub, "r1", 150);
    cm_mdp_worker_t *w = cm_mdp_worker_new(s_ctx, s_bus, "kept");
    int64_t until = cm_mono_ms() + 5000;
    /* The first replay carries the name and position; the answer says the
     * stream ends at 5, so the reader is caught up. */
    struct cm_mdp_msg msg = {0};
    Crm__RequestHeader *h = NULL;
    Crm__ReplayEventsRequest *req = s_next_replay(w, &msg, &h, sub, until);
    CHECK(!strcmp(req->reader, "r1") && req->after_seq == 5);
    int64_t answered = cm_mono_ms();
    s_answer_replay(w, &msg, h, CRM__STATUS__STATUS_OK, "");
    crm__replay_events_request__free_unpacked(req, NULL);
    crm__request_header__free_unpacked(h, NULL);
    cm_mdp_msg_release(&msg);
    while (cm_events_sub_behind(sub)) {
        CHECK(cm_mono_ms() < until);
        CHECK(cm_events_sub_poll(sub, 10) >= 0);
    }
    /* Caught up, it still has timed work: its next report. */
    int t = cm_events_sub_timeout(sub);
    CHECK(t >= 0 && t <= 150);
    CHECK(!cm_events_sub_gone(sub));
    /* The report comes about every 150 ms; this time the owner no longer
     * keeps what comes after 5. */
    req = s_next_replay(w, &msg, &h, sub, until);
    CHECK(cm_mono_ms() - answered >= 100);
    CHECK(!strcmp(req->reader, "r1") && req->after_seq == 5);
    s_answer_replay(w, &msg, h, CRM__STATUS__STATUS_FAILED_PRECONDITION,
                    "events 6 to 9 are no longer kept");
    crm__replay_events_request__free_unpacked(req, NULL);
    crm__request_header__free_unpacked(h, NULL);
    cm_mdp_msg_release(&msg);
    while (!cm_events_sub_gone(sub)) {
        CHECK(cm_mono_ms() < until);
        CHECK(cm_events_sub_poll(sub, 10) >= 0);
    }
    CHECK(!strcmp(cm_events_sub_gone(sub), "events 6 to 9 are no longer kept"));
    CHECK(cm_events_sub_behind(sub) && cm_events_sub_last_seq(sub) == 5 && count == 0);
    /* It asks again only after the longest back-off, not at once. */
    CHECK(cm_events_sub_timeout(sub) > 1000);
    cm_mdp_worker_disconnect(w);
    cm_mdp_worker_destroy(&w);
    cm_events_sub_destroy(&sub);
    printf("test_events_reader: OK\n");
}

int main(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/cmbroker-XXXXXX");
    CHECK(mkdtemp(s_dir));
    snprintf(s_bus, sizeof s_bus, "ipc://%s/bus", s_dir);
    snprintf(s_bus2, sizeof s_bus2, "ipc://%s/bus2", s_dir);
    snprintf(s_binds, sizeof s_binds, "%s,%s", s_bus, s_bus2);
    snprintf(s_ev_in, sizeof s_ev_in, "ipc://%s/ev-in", s_dir);
    snprintf(s_ev_out, sizeof s_ev_out, "ipc://%s/ev-out", s_dir);
    s_ctx = zmq_ctx_new();
    s_broker_start();

    test_mmi();
    test_second_address();
    test_invalid_header();
    test_unknown_service();
    test_echo_balanced();
    test_worker_credit();
    test_worker_credit_out_of_order();
    test_deadline_exceeded();
    test_worker_crash_retry();
    test_worker_stall_retry_dedup();
    test_events();
    test_events_live_only();
    test_events_reader();

    s_broker_stop_join();
    zmq_ctx_term(s_ctx);
    char path[128];
    const char *names[] = {"bus", "bus2", "ev-in", "ev-out"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", s_dir, names[i]);
        unlink(path);
    }
    rmdir(s_dir);
    return 0;
}
