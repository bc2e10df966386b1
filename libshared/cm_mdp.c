/* Majordomo client and worker over raw libzmq. The library only moves frames:
 * it never looks inside the header or body, so correlation (request_id) and
 * deadlines belong to the caller and the broker. See docs/bus.md. */
#define _GNU_SOURCE // SCHED_BATCH
#include "cm_mdp.h"
#include "cm_curve.h"
#include "cm_log.h"
#include "cm_util.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

/* Large enough for every command we accept; longer messages are malformed. */
/* Linger for ordinary closes: long enough to flush a last reply or DISCONNECT,
 * short enough that zmq_ctx_term never hangs on a dead broker. */
#define S_LINGER_MS 1000

void cm_mdp_msg_release(struct cm_mdp_msg *msg)
{
    if (!msg)
        return;
    free(msg->service);
    free(msg->header);
    free(msg->body);
    free(msg->address);
    memset(msg, 0, sizeof *msg);
}

/* Whether this thread may switch from SCHED_OTHER to SCHED_BATCH and back:
 * libzmq asserts when its I/O thread cannot take the policy it was given, so
 * the switch is tried here first. */
static bool s_batch_allowed(int policy, const struct sched_param *param)
{
    struct sched_param zero = {.sched_priority = 0};
    if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &zero) != 0)
        return false;
    return pthread_setschedparam(pthread_self(), policy, param) == 0;
}

void *cm_mdp_ctx_new(bool io_batch)
{
    void *zctx = zmq_ctx_new();
    if (!zctx || !io_batch)
        return zctx;
    int policy;
    struct sched_param param;
    if (pthread_getschedparam(pthread_self(), &policy, &param) != 0 || policy != SCHED_OTHER)
        return zctx; // started under another policy (chrt): the threads inherit it
    if (!s_batch_allowed(policy, &param) ||
        zmq_ctx_set(zctx, ZMQ_THREAD_SCHED_POLICY, SCHED_BATCH) != 0)
        cm_log_warn("bus_io_batch: the bus I/O threads keep the normal scheduling policy: "
                    "this system refuses SCHED_BATCH");
    return zctx;
}

/* ---------------------------------------------------------------------- */
/* Frame helpers                                                            */

void cm_mdp_parts_close(struct cm_mdp_parts *p)
{
    for (int i = 0; i < p->n; i++)
        zmq_msg_close(&p->part[i]);
    p->n = 0;
    p->dropped = 0;
}

int cm_mdp_parts_recv(void *sock, struct cm_mdp_parts *p, int flags)
{
    p->n = 0;
    p->dropped = 0;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        /* Once the first part is in, the rest are already queued: multipart
         * messages are delivered atomically. */
        int rc = zmq_msg_recv(&m, sock, p->n + p->dropped == 0 ? flags : 0);
        if (rc < 0) {
            int e = errno;
            zmq_msg_close(&m);
            cm_mdp_parts_close(p);
            errno = e;
            return -1;
        }
        int more = zmq_msg_more(&m);
        if (p->n < CM_MDP_MAX_PARTS) {
            p->part[p->n++] = m;
        } else {
            zmq_msg_close(&m);
            p->dropped++;
        }
        if (!more)
            return 0;
    }
}

bool cm_mdp_part_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

int cm_mdp_part_command(zmq_msg_t *m)
{
    if (zmq_msg_size(m) != 1)
        return -1;
    return ((const unsigned char *)zmq_msg_data(m))[0];
}

/* Copies a frame into a fresh buffer (never NULL, even for an empty frame). */
static uint8_t *s_part_dup(zmq_msg_t *m, size_t *len)
{
    *len = zmq_msg_size(m);
    uint8_t *p = cm_malloc(*len + 1);
    if (*len)
        memcpy(p, zmq_msg_data(m), *len);
    p[*len] = 0; /* lets callers treat a text frame as a C string */
    return p;
}

struct s_frame {
    const void *data;
    size_t len;
};

/* Sends frames as one message. Returns 0 or -1 with errno. Under ZMQ_DONTWAIT
 * the first part decides: later parts of a message cannot hit the HWM. */
static int s_send_frames(void *sock, const struct s_frame *f, int n, int flags)
{
    for (int i = 0; i < n; i++) {
        int more = i + 1 < n ? ZMQ_SNDMORE : 0;
        if (zmq_send(sock, f[i].len ? f[i].data : "", f[i].len, flags | more) < 0)
            return -1;
    }
    return 0;
}

/* Options every bus socket gets. ZMTP heartbeats let a DEALER notice a
 * half-open TCP connection (peer host gone) and reconnect by itself; the MDP
 * heartbeats above them tell the broker and worker about each other. */
static void s_set_common(void *sock, int linger)
{
    int ivl = CM_MDP_HEARTBEAT_MS, tmo = CM_MDP_HEARTBEAT_MS * CM_MDP_LIVENESS;
    int sndtimeo = S_LINGER_MS;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &tmo, sizeof tmo);
    /* A blocking send waits at most this long at the high-water mark. */
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
}

/* Milliseconds until `at` (mono), clamped to [0, INT_MAX/2]; -1 stays -1. */
static long s_until(int64_t now, int64_t at)
{
    if (at < 0)
        return -1;
    int64_t d = at - now;
    if (d < 0)
        return 0;
    if (d > 1000000000)
        return 1000000000;
    return (long)d;
}

static long s_min_wait(long a, long b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* ---------------------------------------------------------------------- */
/* Client                                                                   */

struct cm_mdp_client {
    void *zctx;    // borrowed (the caller's)
    void *sock;    // owned: DEALER connected to the broker
    void *monitor; // owned: PAIR receiving the DEALER's connection events; NULL unwatched
    bool down;     // a loss seen and no connection since
};

cm_mdp_client_t *cm_mdp_client_new(void *zctx, const char *endpoint)
{
    assert(zctx && endpoint);
    void *sock = zmq_socket(zctx, ZMQ_DEALER);
    if (!sock)
        return NULL;
    /* No ZMQ_IMMEDIATE here on purpose: a request sent before the broker is up
     * (or while it restarts) waits in the pipe and is delivered on connect;
     * its deadline, enforced by the broker and by the caller, bounds it. */
    s_set_common(sock, S_LINGER_MS);
    int hwm = CM_MDP_CLIENT_HWM;
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (cm_curve_client_apply(sock) != 0 || zmq_connect(sock, endpoint) != 0) {
        zmq_close(sock);
        return NULL;
    }
    cm_mdp_client_t *self = cm_calloc(1, sizeof *self);
    self->zctx = zctx;
    self->sock = sock;
    return self;
}

void cm_mdp_client_destroy(cm_mdp_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cm_mdp_client_t *self = *self_p;
    if (self->monitor) {
        zmq_socket_monitor(self->sock, NULL, 0);
        zmq_close(self->monitor);
    }
    zmq_close(self->sock);
    free(self);
    *self_p = NULL;
}

int cm_mdp_client_send(cm_mdp_client_t *self, const char *service, const void *header,
                       size_t header_len, const void *body, size_t body_len)
{
    assert(self && service);
    const uint8_t cmd = CM_MDP_CLIENT_REQUEST;
    struct s_frame f[] = {
        {CM_MDP_CLIENT, 6},   {&cmd, 1},        {service, strlen(service)},
        {header, header_len}, {body, body_len},
    };
    return s_send_frames(self->sock, f, 5, ZMQ_DONTWAIT);
}

/* Fills msg from a broker message; returns 0, or -1 if it is not a FINAL. */
static int s_client_parse(struct cm_mdp_parts *p, struct cm_mdp_msg *msg)
{
    if (p->n < 4 || !cm_mdp_part_is(&p->part[0], CM_MDP_CLIENT) ||
        cm_mdp_part_command(&p->part[1]) != CM_MDP_FINAL)
        return -1;
    size_t n;
    msg->service = (char *)s_part_dup(&p->part[2], &n);
    msg->header = s_part_dup(&p->part[3], &msg->header_len);
    if (p->n >= 5) {
        msg->body = s_part_dup(&p->part[4], &msg->body_len);
    } else {
        msg->body = cm_calloc(1, 1);
        msg->body_len = 0;
    }
    return 0;
}

int cm_mdp_client_recv(cm_mdp_client_t *self, int timeout_ms, struct cm_mdp_msg *msg)
{
    assert(self && msg);
    int64_t until = timeout_ms < 0 ? -1 : cm_mono_ms() + timeout_ms;
    for (;;) {
        struct cm_mdp_parts p;
        if (cm_mdp_parts_recv(self->sock, &p, ZMQ_DONTWAIT) == 0) {
            int bad = s_client_parse(&p, msg);
            cm_mdp_parts_close(&p);
            if (!bad)
                return 1;
            cm_log_warn("dropped a malformed message from the broker");
            continue;
        }
        if (errno != EAGAIN)
            return -1;
        long wait = s_until(cm_mono_ms(), until);
        if (wait == 0)
            return 0;
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, wait);
        if (rc < 0)
            return -1;
        if (rc == 0 && until >= 0 && cm_mono_ms() >= until)
            return 0;
    }
}

void *cm_mdp_client_socket(cm_mdp_client_t *self)
{
    assert(self);
    return self->sock;
}

void *cm_mdp_client_watch(cm_mdp_client_t *self)
{
    assert(self);
    if (self->monitor)
        return self->monitor;
    /* The address only has to be unique in the context: the client's own. */
    char addr[64];
    snprintf(addr, sizeof addr, "inproc://cm-mdp-client-%p", (void *)self);
    if (zmq_socket_monitor(self->sock, addr,
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0)
        return NULL;
    void *mon = zmq_socket(self->zctx, ZMQ_PAIR);
    if (!mon || zmq_connect(mon, addr) != 0) {
        int e = errno;
        if (mon)
            zmq_close(mon);
        zmq_socket_monitor(self->sock, NULL, 0);
        errno = e;
        return NULL;
    }
    int zero = 0;
    zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero);
    self->monitor = mon;
    return mon;
}

enum cm_mdp_link cm_mdp_client_link_events(cm_mdp_client_t *self)
{
    assert(self);
    if (!self->monitor)
        return CM_MDP_LINK_SAME;
    bool relinked = false;
    /* Each event is two frames: 16-bit event and 32-bit value, then the
     * endpoint (libzmq's monitor format, version 1). */
    for (;;) {
        struct cm_mdp_parts p;
        if (cm_mdp_parts_recv(self->monitor, &p, ZMQ_DONTWAIT) != 0)
            break;
        if (p.n >= 1 && zmq_msg_size(&p.part[0]) >= 2) {
            uint16_t ev;
            memcpy(&ev, zmq_msg_data(&p.part[0]), sizeof ev);
            if (ev == ZMQ_EVENT_DISCONNECTED) {
                self->down = true;
            } else if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED && self->down) {
                self->down = false;
                relinked = true;
            }
        }
        cm_mdp_parts_close(&p);
    }
    if (self->down)
        return CM_MDP_LINK_DOWN;
    return relinked ? CM_MDP_LINK_RELINKED : CM_MDP_LINK_SAME;
}

/* ---------------------------------------------------------------------- */
/* Worker                                                                   */

struct cm_mdp_worker {
    void *zctx;           // borrowed (caller's context)
    char *endpoint;       // owned
    char *service;        // owned
    void *sock;           // owned: DEALER, replaced on every reconnect
    int64_t heartbeat_at; // mono ms: our next heartbeat is due
    int64_t expiry;       // mono ms: the broker counts as dead if silent until then
    bool disconnected;    // DISCONNECT sent: reconnect before receiving again
    unsigned reconnects;
    unsigned credit; // announced in READY
    int wake_fd;     // borrowed: recv returns 0 when readable; -1: none
};

static int s_worker_send_cmd(cm_mdp_worker_t *self, int cmd, const char *arg)
{
    const uint8_t c = (uint8_t)cmd;
    struct s_frame f[] = {{CM_MDP_WORKER, 6}, {&c, 1}, {arg, arg ? strlen(arg) : 0}};
    int rc = s_send_frames(self->sock, f, arg ? 3 : 2, ZMQ_DONTWAIT);
    self->heartbeat_at = cm_mono_ms() + CM_MDP_HEARTBEAT_MS;
    return rc;
}

/* Opens a fresh socket and announces the service. A new socket means a new
 * identity, so the broker never confuses us with the worker it dropped. */
static int s_worker_connect(cm_mdp_worker_t *self)
{
    self->sock = zmq_socket(self->zctx, ZMQ_DEALER);
    if (!self->sock)
        return -1;
    s_set_common(self->sock, S_LINGER_MS);
    if (cm_curve_client_apply(self->sock) != 0 || zmq_connect(self->sock, self->endpoint) != 0) {
        zmq_close(self->sock);
        self->sock = NULL;
        return -1;
    }
    /* No ZMQ_IMMEDIATE: READY must wait in the pipe for a broker that is not
     * up yet rather than fail. */
    self->disconnected = false;
    self->expiry = cm_mono_ms() + CM_MDP_HEARTBEAT_MS * CM_MDP_LIVENESS;
    const uint8_t c = CM_MDP_READY;
    char credit[12];
    snprintf(credit, sizeof credit, "%u", self->credit);
    struct s_frame f[] = {{CM_MDP_WORKER, 6},
                          {&c, 1},
                          {self->service, strlen(self->service)},
                          {credit, strlen(credit)}};
    /* Credit 1 is the default: READY stays as plain MDP has it. */
    int rc = s_send_frames(self->sock, f, self->credit > 1 ? 4 : 3, ZMQ_DONTWAIT);
    self->heartbeat_at = cm_mono_ms() + CM_MDP_HEARTBEAT_MS;
    if (rc != 0)
        cm_log_warn("could not queue READY for %s: %s", self->service, zmq_strerror(errno));
    return 0;
}

/* Drops the old socket at once (linger 0: whatever it still holds is for a
 * broker that forgot us) and connects a new one. */
static int s_worker_reconnect(cm_mdp_worker_t *self)
{
    if (self->sock) {
        int zero = 0;
        zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(self->sock);
        self->sock = NULL;
    }
    self->reconnects++;
    return s_worker_connect(self);
}

cm_mdp_worker_t *cm_mdp_worker_new(void *zctx, const char *endpoint, const char *service)
{
    return cm_mdp_worker_new_credit(zctx, endpoint, service, 1);
}

cm_mdp_worker_t *cm_mdp_worker_new_credit(void *zctx, const char *endpoint, const char *service,
                                          unsigned credit)
{
    assert(zctx && endpoint && service);
    cm_mdp_worker_t *self = cm_calloc(1, sizeof *self);
    self->zctx = zctx;
    self->credit = credit < 1 ? 1 : credit > CM_MDP_CREDIT_MAX ? CM_MDP_CREDIT_MAX : credit;
    self->wake_fd = -1;
    self->endpoint = cm_strdup(endpoint);
    self->service = cm_strdup(service);
    if (s_worker_connect(self) != 0) {
        free(self->endpoint);
        free(self->service);
        free(self);
        return NULL;
    }
    return self;
}

void cm_mdp_worker_destroy(cm_mdp_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cm_mdp_worker_t *self = *self_p;
    if (self->sock)
        zmq_close(self->sock);
    free(self->endpoint);
    free(self->service);
    free(self);
    *self_p = NULL;
}

unsigned cm_mdp_worker_reconnects(const cm_mdp_worker_t *self)
{
    assert(self);
    return self->reconnects;
}

/* Handles one message from the broker. Returns 1 if it was a request (msg
 * filled), 0 otherwise. */
static int s_worker_handle(cm_mdp_worker_t *self, struct cm_mdp_parts *p, struct cm_mdp_msg *msg)
{
    if (p->n < 2 || !cm_mdp_part_is(&p->part[0], CM_MDP_WORKER)) {
        cm_log_warn("dropped a malformed message from the broker");
        return 0;
    }
    /* Anything well-formed from the broker proves it is alive. */
    self->expiry = cm_mono_ms() + CM_MDP_HEARTBEAT_MS * CM_MDP_LIVENESS;
    switch (cm_mdp_part_command(&p->part[1])) {
    case CM_MDP_REQUEST:
        if (p->n < 4) {
            cm_log_warn("dropped a short REQUEST from the broker");
            return 0;
        }
        msg->address = s_part_dup(&p->part[2], &msg->address_len);
        msg->header = s_part_dup(&p->part[3], &msg->header_len);
        if (p->n >= 5) {
            msg->body = s_part_dup(&p->part[4], &msg->body_len);
        } else {
            msg->body = cm_calloc(1, 1);
            msg->body_len = 0;
        }
        return 1;
    case CM_MDP_HEARTBEAT:
        return 0;
    case CM_MDP_DISCONNECT:
        cm_log_info("broker sent DISCONNECT, reconnecting service=%s", self->service);
        if (s_worker_reconnect(self) != 0)
            cm_log_error("could not reconnect to %s", self->endpoint);
        return 0;
    default:
        cm_log_warn("dropped an unexpected command from the broker");
        return 0;
    }
}

int cm_mdp_worker_recv(cm_mdp_worker_t *self, int timeout_ms, struct cm_mdp_msg *msg)
{
    assert(self && msg);
    int64_t until = timeout_ms < 0 ? -1 : cm_mono_ms() + timeout_ms;
    for (;;) {
        if (self->disconnected || !self->sock) {
            if (s_worker_reconnect(self) != 0)
                return -1;
        }
        struct cm_mdp_parts p;
        if (cm_mdp_parts_recv(self->sock, &p, ZMQ_DONTWAIT) == 0) {
            int got = s_worker_handle(self, &p, msg);
            cm_mdp_parts_close(&p);
            if (got)
                return 1;
            continue;
        }
        if (errno != EAGAIN)
            return -1;
        int64_t now = cm_mono_ms();
        if (now >= self->expiry) {
            cm_log_warn("broker silent for %d ms, reconnecting service=%s",
                        CM_MDP_HEARTBEAT_MS * CM_MDP_LIVENESS, self->service);
            if (s_worker_reconnect(self) != 0)
                return -1;
            continue;
        }
        if (now >= self->heartbeat_at)
            (void)s_worker_send_cmd(self, CM_MDP_HEARTBEAT, NULL);
        if (until >= 0 && now >= until)
            return 0;
        long wait = s_min_wait(s_until(now, until), s_min_wait(s_until(now, self->heartbeat_at),
                                                               s_until(now, self->expiry)));
        zmq_pollitem_t items[2] = {{self->sock, 0, ZMQ_POLLIN, 0},
                                   {NULL, self->wake_fd, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, self->wake_fd >= 0 ? 2 : 1, wait);
        if (rc < 0)
            return -1;
        if (self->wake_fd >= 0 && (items[1].revents & ZMQ_POLLIN))
            return 0;
    }
}

void cm_mdp_worker_set_wake_fd(cm_mdp_worker_t *self, int fd)
{
    assert(self);
    self->wake_fd = fd;
}

int cm_mdp_worker_reply(cm_mdp_worker_t *self, const struct cm_mdp_msg *request, const void *header,
                        size_t header_len, const void *body, size_t body_len)
{
    assert(self && request);
    if (!self->sock || self->disconnected) {
        errno = ENOTCONN;
        return -1;
    }
    const uint8_t cmd = CM_MDP_FINAL;
    struct s_frame f[] = {
        {CM_MDP_WORKER, 6},   {&cmd, 1},        {request->address, request->address_len},
        {header, header_len}, {body, body_len},
    };
    /* Blocking, but bounded by ZMQ_SNDTIMEO: a reply is worth a short wait. */
    int rc = s_send_frames(self->sock, f, 5, 0);
    self->heartbeat_at = cm_mono_ms() + CM_MDP_HEARTBEAT_MS;
    return rc;
}

void cm_mdp_worker_heartbeat(cm_mdp_worker_t *self)
{
    assert(self);
    if (!self->sock || self->disconnected)
        return;
    if (cm_mono_ms() >= self->heartbeat_at)
        (void)s_worker_send_cmd(self, CM_MDP_HEARTBEAT, NULL);
}

void cm_mdp_worker_disconnect(cm_mdp_worker_t *self)
{
    assert(self);
    if (!self->sock || self->disconnected)
        return;
    (void)s_worker_send_cmd(self, CM_MDP_DISCONNECT, NULL);
    self->disconnected = true;
}
