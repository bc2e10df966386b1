/* Unit tests for cm_mdp: the client and the worker against a hand-driven
 * ROUTER standing in for the broker, so every frame on the wire is checked. */
#define _GNU_SOURCE // SCHED_BATCH
#include "cm_mdp.h"
#include "cm_util.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static void *s_ctx;

/* ------------------------------------------------------------------ */
/* A fake broker: a ROUTER and helpers to read and write whole messages */

struct frames {
    int n;
    size_t len[8];
    unsigned char data[8][256];
};

/* Receives one message within timeout_ms; returns 1, or 0 on timeout. */
static int s_recv(void *sock, struct frames *f, int timeout_ms)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return 0;
    f->n = 0;
    int more = 1;
    while (more) {
        CHECK(f->n < 8);
        int n = zmq_recv(sock, f->data[f->n], sizeof f->data[0], 0);
        CHECK(n >= 0 && n <= (int)sizeof f->data[0]);
        f->len[f->n++] = (size_t)n;
        int m = 0;
        size_t ms = sizeof m;
        zmq_getsockopt(sock, ZMQ_RCVMORE, &m, &ms);
        more = m;
    }
    return 1;
}

static int s_is(const struct frames *f, int i, const char *s)
{
    return i < f->n && f->len[i] == strlen(s) && memcmp(f->data[i], s, f->len[i]) == 0;
}

static int s_cmd(const struct frames *f, int i)
{
    return i < f->n && f->len[i] == 1 ? f->data[i][0] : -1;
}

/* Sends frames; a NULL-terminated list of strings, "\x01"-style commands allowed. */
static void s_send(void *sock, const void *id, size_t id_len, const char *const *parts)
{
    CHECK(zmq_send(sock, id, id_len, ZMQ_SNDMORE) >= 0);
    for (int i = 0; parts[i]; i++) {
        int more = parts[i + 1] ? ZMQ_SNDMORE : 0;
        CHECK(zmq_send(sock, parts[i], strlen(parts[i]), more) >= 0);
    }
}

static void *s_router(const char *endpoint)
{
    void *r = zmq_socket(s_ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof zero);
    CHECK(zmq_bind(r, endpoint) == 0);
    return r;
}

/* Runs the worker's receive loop for ms, letting it heartbeat or reconnect. */
static void s_spin(cm_mdp_worker_t *w, int ms)
{
    int64_t until = cm_mono_ms() + ms;
    while (cm_mono_ms() < until) {
        struct cm_mdp_msg msg = {0};
        CHECK(cm_mdp_worker_recv(w, 50, &msg) == 0);
        cm_mdp_msg_release(&msg);
    }
}

/* ------------------------------------------------------------------ */

static void test_msg_release(void)
{
    struct cm_mdp_msg msg = {0};
    cm_mdp_msg_release(&msg);
    cm_mdp_msg_release(NULL);
    msg.header = cm_malloc(3);
    msg.header_len = 3;
    cm_mdp_msg_release(&msg);
    CHECK(msg.header == NULL && msg.header_len == 0);
    printf("test_msg_release: OK\n");
}

static void test_client_frames(void)
{
    /* The client may start before the broker: its request waits for it. */
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, "inproc://mdp-client");
    CHECK(c);
    CHECK(cm_mdp_client_socket(c) != NULL);
    CHECK(cm_mdp_client_send(c, "echo", "hdr", 3, "body", 4) == 0);
    CHECK(cm_mdp_client_send(c, "echo", "h2", 2, "", 0) == 0);
    void *r = s_router("inproc://mdp-client");

    struct frames f;
    CHECK(s_recv(r, &f, 2000));
    CHECK(f.n == 6);
    CHECK(s_is(&f, 1, "MDPC02") && s_cmd(&f, 2) == 0x01 && s_is(&f, 3, "echo"));
    CHECK(s_is(&f, 4, "hdr") && s_is(&f, 5, "body"));
    unsigned char id[256];
    size_t id_len = f.len[0];
    memcpy(id, f.data[0], id_len);
    CHECK(s_recv(r, &f, 2000));
    CHECK(f.n == 6 && s_is(&f, 4, "h2") && f.len[5] == 0);

    /* Garbage and non-FINAL commands are skipped; the FINAL comes through. */
    s_send(r, id, id_len, (const char *const[]){"junk", NULL});
    s_send(r, id, id_len, (const char *const[]){"MDPC02", "\x02", "echo", "x", "y", NULL});
    s_send(r, id, id_len, (const char *const[]){"MDPC02", "\x04", "echo", "rh", "rb", NULL});
    struct cm_mdp_msg msg = {0};
    CHECK(cm_mdp_client_recv(c, 2000, &msg) == 1);
    CHECK(!strcmp(msg.service, "echo"));
    CHECK(msg.header_len == 2 && !memcmp(msg.header, "rh", 2));
    CHECK(msg.body_len == 2 && !memcmp(msg.body, "rb", 2));
    cm_mdp_msg_release(&msg);

    /* A FINAL without a body frame has an empty body. */
    s_send(r, id, id_len, (const char *const[]){"MDPC02", "\x04", "echo", "rh", NULL});
    CHECK(cm_mdp_client_recv(c, 2000, &msg) == 1);
    CHECK(msg.body && msg.body_len == 0);
    cm_mdp_msg_release(&msg);

    int64_t t0 = cm_mono_ms();
    CHECK(cm_mdp_client_recv(c, 150, &msg) == 0);
    int64_t took = cm_mono_ms() - t0;
    CHECK(took >= 140 && took < 1000);
    CHECK(cm_mdp_client_recv(c, 0, &msg) == 0);

    cm_mdp_client_destroy(&c);
    cm_mdp_client_destroy(&c);
    CHECK(c == NULL);
    zmq_close(r);
    printf("test_client_frames: OK\n");
}

static void test_invalid_endpoint(void)
{
    CHECK(cm_mdp_client_new(s_ctx, "nonsense://x") == NULL);
    CHECK(cm_mdp_worker_new(s_ctx, "nonsense://x", "svc") == NULL);
    printf("test_invalid_endpoint: OK\n");
}

/* A gateway with more requests in flight than libzmq's default queue (1,000)
 * must not be refused a send while the broker is slow to take them. */
static void test_client_queues_many(void)
{
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, "inproc://mdp-slow-broker");
    CHECK(c != NULL);
    int refused = 0;
    for (int i = 0; i < 5000; i++)
        if (cm_mdp_client_send(c, "customers", "h", 1, "b", 1) != 0)
            refused++;
    CHECK(refused == 0);
    cm_mdp_client_destroy(&c);
    printf("test_client_queues_many: OK\n");
}

static void test_worker_request_reply(void)
{
    void *r = s_router("inproc://mdp-worker");
    cm_mdp_worker_t *w = cm_mdp_worker_new(s_ctx, "inproc://mdp-worker", "svc");
    CHECK(w);
    struct frames f;
    CHECK(s_recv(r, &f, 2000));
    CHECK(f.n == 4 && s_is(&f, 1, "MDPW02") && s_cmd(&f, 2) == 0x01 && s_is(&f, 3, "svc"));
    unsigned char id[256];
    size_t id_len = f.len[0];
    memcpy(id, f.data[0], id_len);

    s_send(r, id, id_len, (const char *const[]){"MDPW02", "\x02", "CLIENT", "h", "b", NULL});
    struct cm_mdp_msg msg = {0};
    CHECK(cm_mdp_worker_recv(w, 2000, &msg) == 1);
    CHECK(msg.address_len == 6 && !memcmp(msg.address, "CLIENT", 6));
    CHECK(msg.header_len == 1 && msg.header[0] == 'h');
    CHECK(msg.body_len == 1 && msg.body[0] == 'b');
    CHECK(cm_mdp_worker_reply(w, &msg, "rh", 2, "rb", 2) == 0);
    cm_mdp_msg_release(&msg);
    CHECK(s_recv(r, &f, 2000));
    CHECK(f.n == 6 && !memcmp(f.data[0], id, id_len));
    CHECK(s_is(&f, 1, "MDPW02") && s_cmd(&f, 2) == 0x04 && s_is(&f, 3, "CLIENT"));
    CHECK(s_is(&f, 4, "rh") && s_is(&f, 5, "rb"));

    /* A malformed message from the broker is ignored. */
    s_send(r, id, id_len, (const char *const[]){"XXX", "\x02", NULL});
    CHECK(cm_mdp_worker_recv(w, 100, &msg) == 0);

    /* A clean leave. */
    cm_mdp_worker_disconnect(w);
    CHECK(s_recv(r, &f, 2000));
    CHECK(f.n == 3 && s_is(&f, 1, "MDPW02") && s_cmd(&f, 2) == 0x06);
    CHECK(cm_mdp_worker_reconnects(w) == 0);
    /* Receiving again means coming back: a new socket says READY. */
    CHECK(cm_mdp_worker_recv(w, 50, &msg) == 0);
    CHECK(s_recv(r, &f, 2000));
    CHECK(s_cmd(&f, 2) == 0x01 && s_is(&f, 3, "svc"));
    CHECK(f.len[0] != id_len || memcmp(f.data[0], id, id_len) != 0);
    CHECK(cm_mdp_worker_reconnects(w) == 1);

    cm_mdp_worker_destroy(&w);
    cm_mdp_worker_destroy(&w);
    CHECK(w == NULL);
    zmq_close(r);
    printf("test_worker_request_reply: OK\n");
}

/* With a broker that answers heartbeats, the worker heartbeats about once a
 * second and keeps its connection. */
/* Credit goes out in READY (clamped to 1..CM_MDP_CREDIT_MAX), also after a
 * reconnect; credit 1 keeps READY as plain MDP has it. Requests the broker
 * queued come out one per recv, in order. */
static void test_worker_credit(void)
{
    void *r = s_router("inproc://mdp-credit");
    cm_mdp_worker_t *w = cm_mdp_worker_new_credit(s_ctx, "inproc://mdp-credit", "svc", 4);
    CHECK(w);
    struct frames f;
    CHECK(s_recv(r, &f, 2000));
    CHECK(f.n == 5 && s_cmd(&f, 2) == 0x01 && s_is(&f, 3, "svc") && s_is(&f, 4, "4"));
    unsigned char id[256];
    size_t id_len = f.len[0];
    memcpy(id, f.data[0], id_len);
    s_send(r, id, id_len, (const char *const[]){"MDPW02", "\x02", "C1", "h1", "b1", NULL});
    s_send(r, id, id_len, (const char *const[]){"MDPW02", "\x02", "C2", "h2", "b2", NULL});
    struct cm_mdp_msg msg = {0};
    CHECK(cm_mdp_worker_recv(w, 2000, &msg) == 1 && msg.address_len == 2);
    CHECK(!memcmp(msg.address, "C1", 2));
    cm_mdp_msg_release(&msg);
    CHECK(cm_mdp_worker_recv(w, 2000, &msg) == 1 && msg.address_len == 2);
    CHECK(!memcmp(msg.address, "C2", 2));
    cm_mdp_msg_release(&msg);
    cm_mdp_worker_disconnect(w);
    CHECK(s_recv(r, &f, 2000) && s_cmd(&f, 2) == 0x06);
    CHECK(cm_mdp_worker_recv(w, 50, &msg) == 0);
    CHECK(s_recv(r, &f, 2000));
    CHECK(f.n == 5 && s_cmd(&f, 2) == 0x01 && s_is(&f, 4, "4"));
    cm_mdp_worker_destroy(&w);

    w = cm_mdp_worker_new_credit(s_ctx, "inproc://mdp-credit", "svc", 1000);
    CHECK(s_recv(r, &f, 2000));
    char max[8];
    snprintf(max, sizeof max, "%d", CM_MDP_CREDIT_MAX);
    CHECK(f.n == 5 && s_is(&f, 4, max));
    cm_mdp_worker_destroy(&w);
    w = cm_mdp_worker_new_credit(s_ctx, "inproc://mdp-credit", "svc", 0);
    CHECK(s_recv(r, &f, 2000));
    CHECK(f.n == 4 && s_is(&f, 3, "svc"));
    cm_mdp_worker_destroy(&w);
    zmq_close(r);
    printf("test_worker_credit: OK\n");
}

static void test_worker_heartbeat(void)
{
    void *r = s_router("inproc://mdp-hb");
    cm_mdp_worker_t *w = cm_mdp_worker_new(s_ctx, "inproc://mdp-hb", "svc");
    struct frames f;
    CHECK(s_recv(r, &f, 2000) && s_cmd(&f, 2) == 0x01);
    unsigned char id[256];
    size_t id_len = f.len[0];
    memcpy(id, f.data[0], id_len);

    int heartbeats = 0, others = 0;
    int64_t until = cm_mono_ms() + 4500, next_hb = 0;
    while (cm_mono_ms() < until) {
        if (cm_mono_ms() >= next_hb) {
            s_send(r, id, id_len, (const char *const[]){"MDPW02", "\x05", NULL});
            next_hb = cm_mono_ms() + 500;
        }
        struct cm_mdp_msg msg = {0};
        CHECK(cm_mdp_worker_recv(w, 50, &msg) == 0);
        while (s_recv(r, &f, 0)) {
            if (f.len[0] == id_len && !memcmp(f.data[0], id, id_len) && s_cmd(&f, 2) == 0x05)
                heartbeats++;
            else
                others++;
        }
    }
    CHECK(heartbeats >= 3 && heartbeats <= 6);
    CHECK(others == 0);
    CHECK(cm_mdp_worker_reconnects(w) == 0);

    /* cm_mdp_worker_heartbeat sends only when one is due. */
    cm_mdp_worker_heartbeat(w);
    cm_mdp_worker_heartbeat(w);
    int sent = 0;
    while (s_recv(r, &f, 100))
        sent++;
    CHECK(sent <= 1);
    struct timespec ts = {1, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    cm_mdp_worker_heartbeat(w);
    CHECK(s_recv(r, &f, 1000) && s_cmd(&f, 2) == 0x05);

    cm_mdp_worker_destroy(&w);
    zmq_close(r);
    printf("test_worker_heartbeat: OK\n");
}

/* A silent broker is given up after LIVENESS intervals: new socket, READY. */
static void test_worker_reconnects_on_silence(void)
{
    void *r = s_router("inproc://mdp-silent");
    int64_t t0 = cm_mono_ms();
    cm_mdp_worker_t *w = cm_mdp_worker_new(s_ctx, "inproc://mdp-silent", "svc");
    struct frames f;
    CHECK(s_recv(r, &f, 2000) && s_cmd(&f, 2) == 0x01);
    unsigned char id[256];
    size_t id_len = f.len[0];
    memcpy(id, f.data[0], id_len);

    int64_t ready_again = 0;
    while (!ready_again && cm_mono_ms() - t0 < 6000) {
        s_spin(w, 50);
        while (s_recv(r, &f, 0)) {
            int same = f.len[0] == id_len && !memcmp(f.data[0], id, id_len);
            if (s_cmd(&f, 2) == 0x01) {
                CHECK(!same && s_is(&f, 3, "svc"));
                ready_again = cm_mono_ms();
            } else {
                CHECK(same && s_cmd(&f, 2) == 0x05);
            }
        }
    }
    CHECK(ready_again);
    int64_t took = ready_again - t0;
    CHECK(took >= CM_MDP_HEARTBEAT_MS * CM_MDP_LIVENESS - 50);
    CHECK(took < CM_MDP_HEARTBEAT_MS * (CM_MDP_LIVENESS + 1));
    CHECK(cm_mdp_worker_reconnects(w) == 1);
    cm_mdp_worker_destroy(&w);
    zmq_close(r);
    printf("test_worker_reconnects_on_silence: OK\n");
}

/* DISCONNECT from the broker: reconnect at once on a new socket. */
static void test_worker_reconnects_on_disconnect(void)
{
    void *r = s_router("inproc://mdp-disc");
    cm_mdp_worker_t *w = cm_mdp_worker_new(s_ctx, "inproc://mdp-disc", "svc");
    struct frames f;
    CHECK(s_recv(r, &f, 2000) && s_cmd(&f, 2) == 0x01);
    unsigned char id[256];
    size_t id_len = f.len[0];
    memcpy(id, f.data[0], id_len);
    s_send(r, id, id_len, (const char *const[]){"MDPW02", "\x06", NULL});
    int64_t t0 = cm_mono_ms();
    s_spin(w, 100);
    CHECK(s_recv(r, &f, 1000));
    CHECK(s_cmd(&f, 2) == 0x01 && s_is(&f, 3, "svc"));
    CHECK(f.len[0] != id_len || memcmp(f.data[0], id, id_len) != 0);
    CHECK(cm_mono_ms() - t0 < 1000);
    CHECK(cm_mdp_worker_reconnects(w) == 1);
    cm_mdp_worker_destroy(&w);
    zmq_close(r);
    printf("test_worker_reconnects_on_disconnect: OK\n");
}

static void s_on_alarm(int sig)
{
    (void)sig;
}

/* A signal ends a wait with -1/EINTR, so a service loop can check its flag. */
static void test_eintr(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_alarm;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    struct itimerval it = {{0, 0}, {0, 200 * 1000}};

    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, "inproc://mdp-nobody");
    struct cm_mdp_msg msg = {0};
    int64_t t0 = cm_mono_ms();
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    CHECK(cm_mdp_client_recv(c, 3000, &msg) == -1 && errno == EINTR);
    CHECK(cm_mono_ms() - t0 < 2000);
    cm_mdp_client_destroy(&c);

    cm_mdp_worker_t *w = cm_mdp_worker_new(s_ctx, "inproc://mdp-nobody", "svc");
    t0 = cm_mono_ms();
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    CHECK(cm_mdp_worker_recv(w, 2500, &msg) == -1 && errno == EINTR);
    CHECK(cm_mono_ms() - t0 < 2000);
    cm_mdp_worker_destroy(&w);
    printf("test_eintr: OK\n");
}

/* The thread ids of this process's libzmq I/O threads ("ZMQbg/IO/n"); returns
 * how many, at most cap. */
static int s_io_threads(pid_t *tids, int cap)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(comm, sizeof comm, f) && strncmp(comm, "ZMQbg/IO/", 9) == 0)
            tids[n++] = (pid_t)strtol(e->d_name, NULL, 10);
        fclose(f);
    }
    closedir(d);
    return n;
}

static bool s_has(const pid_t *tids, int n, pid_t tid)
{
    for (int i = 0; i < n; i++)
        if (tids[i] == tid)
            return true;
    return false;
}

/* The I/O threads of a context made by cm_mdp_ctx_new run under SCHED_BATCH
 * with io_batch, under the normal policy without; the caller's policy is
 * untouched either way. */
static void test_ctx_io_batch(void)
{
    for (int batch = 0; batch <= 1; batch++) {
        pid_t before[64], after[64];
        int n0 = s_io_threads(before, 64);
        void *ctx = cm_mdp_ctx_new(batch);
        CHECK(ctx != NULL);
        void *sock = zmq_socket(ctx, ZMQ_DEALER); // starts the context's threads
        CHECK(sock != NULL);
        /* A thread names itself once running: wait for the name (1 s at most). */
        int n1 = 0, fresh = 0;
        for (int tries = 0; tries < 100 && fresh < 1; tries++) {
            if (tries)
                nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
            n1 = s_io_threads(after, 64);
            fresh = 0;
            for (int i = 0; i < n1; i++)
                if (!s_has(before, n0, after[i]))
                    after[fresh++] = after[i];
        }
        CHECK(fresh == 1); // libzmq's default: one I/O thread
        CHECK(sched_getscheduler(after[0]) == (batch ? SCHED_BATCH : SCHED_OTHER));
        CHECK(sched_getscheduler(0) == SCHED_OTHER);
        zmq_close(sock);
        zmq_ctx_term(ctx);
    }
    printf("test_ctx_io_batch: OK\n");
}

/* Waits up to 10 s for the client's connection to reach want (what
 * cm_mdp_client_link_events says when something changed). */
static void s_wait_link(cm_mdp_client_t *c, void *watch, enum cm_mdp_link want)
{
    int64_t until = cm_mono_ms() + 10000;
    for (;;) {
        zmq_pollitem_t item = {watch, 0, ZMQ_POLLIN, 0};
        CHECK(zmq_poll(&item, 1, 100) >= 0);
        if (cm_mdp_client_link_events(c) == want)
            return;
        CHECK(cm_mono_ms() < until);
    }
}

/* The client watches its connection: a broker gone is DOWN, one back is
 * RELINKED (once), and a request sent meanwhile reaches the new one. */
static void test_client_watch(void)
{
    char dir[] = "/tmp/test_mdp.XXXXXX", ep[64];
    CHECK(mkdtemp(dir));
    snprintf(ep, sizeof ep, "ipc://%s/broker", dir);
    void *r = s_router(ep);
    cm_mdp_client_t *c = cm_mdp_client_new(s_ctx, ep);
    CHECK(cm_mdp_client_link_events(c) == CM_MDP_LINK_SAME); /* not watching yet */
    void *watch = cm_mdp_client_watch(c);
    CHECK(watch && cm_mdp_client_watch(c) == watch);
    CHECK(cm_mdp_client_send(c, "svc", "h", 1, "b", 1) == 0);
    struct frames f;
    CHECK(s_recv(r, &f, 5000) && s_is(&f, 3, "svc"));
    /* The first connection is no relink. */
    CHECK(cm_mdp_client_link_events(c) == CM_MDP_LINK_SAME);

    zmq_close(r);
    s_wait_link(c, watch, CM_MDP_LINK_DOWN);
    CHECK(cm_mdp_client_send(c, "svc", "h2", 2, "b", 1) == 0);
    r = s_router(ep);
    s_wait_link(c, watch, CM_MDP_LINK_RELINKED);
    CHECK(cm_mdp_client_link_events(c) == CM_MDP_LINK_SAME); /* said once */
    CHECK(s_recv(r, &f, 5000) && s_is(&f, 4, "h2"));
    cm_mdp_client_destroy(&c);
    zmq_close(r);
    char path[64];
    snprintf(path, sizeof path, "%s/broker", dir);
    unlink(path);
    CHECK(rmdir(dir) == 0);
    printf("test_client_watch: OK\n");
}

int main(void)
{
    s_ctx = zmq_ctx_new();
    test_msg_release();
    test_client_frames();
    test_invalid_endpoint();
    test_client_queues_many();
    test_client_watch();
    test_worker_request_reply();
    test_worker_credit();
    test_worker_heartbeat();
    test_worker_reconnects_on_silence();
    test_worker_reconnects_on_disconnect();
    test_eintr();
    test_ctx_io_batch();
    zmq_ctx_term(s_ctx);
    return 0;
}
