/* The broker with CURVE (docs/bus.md, "Who may speak"): a real broker in a
 * thread on ipc endpoints with a registry file; peers are raw DEALER and SUB
 * sockets with their own keys, so the test sees exactly what the broker
 * admits, answers and rewrites. */
#include "broker.h"
#include "cm_curve.h"
#include "cm_mdp.h"
#include "cm_util.h"
#include "envelope.pb-c.h"
#include "../unit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define TENANT "00000000-0000-4000-8000-000000000001"
#define OTHER "00000000-0000-4000-8000-000000000002"

static void *s_ctx;
static char s_dir[64], s_bus[128], s_ev_in[128], s_ev_out[128], s_registry[128];
static struct cm_curve_pair s_broker_pair, s_svc, s_gw, s_sys, s_stranger;
static broker_t *s_broker;
static volatile sig_atomic_t s_stop;
static pthread_t s_thread;

static void *s_broker_main(void *arg)
{
    (void)arg;
    CHECK(broker_run(s_broker, &s_stop) == 0);
    return NULL;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Writes the registry: the service "customers", the gateway and, with
 * with_system, the booking system of TENANT. A new file renamed over the old,
 * with a modification time the broker sees as new. */
static void s_write_registry(bool with_system)
{
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.new", s_registry);
    FILE *f = fopen(tmp, "w");
    CHECK(f);
    fprintf(f, "# test registry\n%s customers service\n%s gateway gateway\n", s_svc.public_key,
            s_gw.public_key);
    if (with_system)
        fprintf(f, "%s booking system " TENANT " events:publish\n", s_sys.public_key);
    CHECK(fclose(f) == 0);
    CHECK(rename(tmp, s_registry) == 0);
}

/* A DEALER (or other type) connected to endpoint as a CURVE client with pair. */
static void *s_socket(int type, const char *endpoint, const struct cm_curve_pair *pair)
{
    void *s = zmq_socket(s_ctx, type);
    int linger = 0;
    CHECK(s && zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) == 0);
    if (pair) {
        CHECK(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, s_broker_pair.public_key, 40) == 0);
        CHECK(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pair->public_key, 40) == 0);
        CHECK(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, pair->secret_key, 40) == 0);
    }
    CHECK(zmq_connect(s, endpoint) == 0);
    return s;
}

static void s_send(void *s, const char *const *frames, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        CHECK(zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

/* Sends a client request with the given tenant and principal. */
static void s_request(void *s, const char *service, const char *request_id, const char *tenant,
                      const Crm__Principal *principal, int timeout_ms)
{
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.request_id = (char *)request_id;
    h.tenant_id = (char *)tenant;
    h.principal = (Crm__Principal *)principal;
    h.method = "test.Method";
    h.deadline_unix_ms = cm_now_ms() + timeout_ms;
    uint8_t buf[512];
    size_t n = crm__request_header__pack(&h, buf);
    const uint8_t cmd = CM_MDP_CLIENT_REQUEST;
    const char *f[] = {CM_MDP_CLIENT, (const char *)&cmd, service, (const char *)buf, "x"};
    size_t l[] = {6, 1, strlen(service), n, 1};
    s_send(s, f, l, 5);
}

/* Receives one whole message within timeout_ms; the number of parts (0 on
 * timeout). */
static int s_recv(void *s, int timeout_ms, zmq_msg_t *parts, int max)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return 0;
    int n = 0;
    for (;;) {
        CHECK(n < max);
        zmq_msg_init(&parts[n]);
        CHECK(zmq_msg_recv(&parts[n], s, 0) >= 0);
        int more = zmq_msg_more(&parts[n]);
        n++;
        if (!more)
            return n;
    }
}

static void s_close_parts(zmq_msg_t *parts, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
}

/* The reply to request_id (others are skipped): its status and message, or
 * -1 when none came within timeout_ms. */
static int s_reply(void *s, const char *request_id, int timeout_ms, char *message, size_t msz)
{
    int64_t until = cm_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = until - cm_mono_ms();
        zmq_msg_t p[8];
        int n = left > 0 ? s_recv(s, (int)left, p, 8) : 0;
        if (n == 0)
            return -1;
        CHECK(n >= 4);
        Crm__ReplyHeader *rh =
            crm__reply_header__unpack(NULL, zmq_msg_size(&p[3]), zmq_msg_data(&p[3]));
        CHECK(rh);
        int status = -2;
        if (!strcmp(rh->request_id, request_id)) {
            status = (int)rh->status;
            if (message)
                snprintf(message, msz, "%s", rh->message);
        }
        crm__reply_header__free_unpacked(rh, NULL);
        s_close_parts(p, n);
        if (status != -2)
            return status;
    }
}

/* A worker announcing service with pair. */
static void *s_worker(const char *service, const struct cm_curve_pair *pair)
{
    void *w = s_socket(ZMQ_DEALER, s_bus, pair);
    const uint8_t cmd = CM_MDP_READY;
    const char *f[] = {CM_MDP_WORKER, (const char *)&cmd, service};
    size_t l[] = {6, 1, strlen(service)};
    s_send(w, f, l, 3);
    return w;
}

/* True when the broker tells the worker to go (DISCONNECT) within a second. */
static bool s_disconnected(void *w)
{
    int64_t until = cm_mono_ms() + 1000;
    while (cm_mono_ms() < until) {
        zmq_msg_t p[8];
        int n = s_recv(w, 100, p, 8);
        bool bye = n == 2 && cm_mdp_part_command(&p[1]) == CM_MDP_DISCONNECT;
        s_close_parts(p, n);
        if (bye)
            return true;
    }
    return false;
}

/* Takes the next REQUEST at worker w: its header (unpacked, to free) and the
 * client's address (into addr). NULL on timeout. */
static Crm__RequestHeader *s_take(void *w, zmq_msg_t *addr, int timeout_ms)
{
    int64_t until = cm_mono_ms() + timeout_ms;
    while (cm_mono_ms() < until) {
        zmq_msg_t p[8];
        int n = s_recv(w, 100, p, 8);
        if (n >= 5 && cm_mdp_part_command(&p[1]) == CM_MDP_REQUEST) {
            Crm__RequestHeader *h =
                crm__request_header__unpack(NULL, zmq_msg_size(&p[3]), zmq_msg_data(&p[3]));
            zmq_msg_init(addr);
            zmq_msg_copy(addr, &p[2]);
            s_close_parts(p, n);
            return h;
        }
        s_close_parts(p, n);
    }
    return NULL;
}

static void s_answer(void *w, zmq_msg_t *addr, const char *request_id)
{
    Crm__ReplyHeader rh = CRM__REPLY_HEADER__INIT;
    rh.request_id = (char *)request_id;
    uint8_t hb[128];
    size_t hn = crm__reply_header__pack(&rh, hb);
    const uint8_t cmd = CM_MDP_FINAL;
    const char *f[] = {CM_MDP_WORKER, (const char *)&cmd, zmq_msg_data(addr), (const char *)hb,
                       "ok"};
    size_t l[] = {6, 1, zmq_msg_size(addr), hn, 2};
    s_send(w, f, l, 5);
    zmq_msg_close(addr);
}

/* ------------------------------------------------------------------ */

static void test_unknown_and_plain_clients_get_nothing(void)
{
    void *stranger = s_socket(ZMQ_DEALER, s_bus, &s_stranger);
    void *plain = s_socket(ZMQ_DEALER, s_bus, NULL);
    s_request(stranger, "mmi.service", "u-1", "", NULL, 1000);
    s_request(plain, "mmi.service", "u-2", "", NULL, 1000);
    CHECK(s_reply(stranger, "u-1", 1500, NULL, 0) == -1);
    CHECK(s_reply(plain, "u-2", 200, NULL, 0) == -1);
    zmq_close(stranger);
    zmq_close(plain);
    /* The same request with a known key is answered. */
    void *gw = s_socket(ZMQ_DEALER, s_bus, &s_gw);
    s_request(gw, "mmi.service", "u-3", "", NULL, 1000);
    CHECK(s_reply(gw, "u-3", 2000, NULL, 0) == CRM__STATUS__STATUS_OK);
    zmq_close(gw);
}

static void test_a_system_key_is_bound_to_its_tenant_and_principal(void)
{
    void *w = s_worker("customers", &s_svc);
    void *sys = s_socket(ZMQ_DEALER, s_bus, &s_sys);
    /* A forged principal and no tenant: the worker sees the key's. */
    Crm__Principal forged = CRM__PRINCIPAL__INIT;
    forged.id = "admin-1";
    forged.role = CRM__ROLE__ROLE_OWNER;
    forged.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_STAFF;
    s_request(sys, "customers", "s-1", "", &forged, 3000);
    zmq_msg_t addr;
    Crm__RequestHeader *h = s_take(w, &addr, 3000);
    CHECK(h);
    CHECK_STR(h->tenant_id, TENANT);
    CHECK(h->principal);
    CHECK_STR(h->principal->id, "booking");
    CHECK_STR(h->principal->name, "booking");
    CHECK(h->principal->role == CRM__ROLE__ROLE_SERVICE);
    CHECK(h->principal->kind == CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SYSTEM);
    CHECK(h->principal->n_scopes == 1);
    CHECK_STR(h->principal->scopes[0], "events:publish");
    CHECK_STR(h->request_id, "s-1");
    s_answer(w, &addr, h->request_id);
    crm__request_header__free_unpacked(h, NULL);
    CHECK(s_reply(sys, "s-1", 2000, NULL, 0) == CRM__STATUS__STATUS_OK);
    /* Its own tenant named: the same. Another tenant: refused at once. */
    char why[128];
    s_request(sys, "customers", "s-2", OTHER, NULL, 3000);
    CHECK(s_reply(sys, "s-2", 2000, why, sizeof why) == CRM__STATUS__STATUS_PERMISSION_DENIED);
    CHECK(strstr(why, "another tenant"));
    /* It may not be a worker. */
    void *sw = s_worker("booking", &s_sys);
    CHECK(s_disconnected(sw));
    zmq_close(sw);
    zmq_close(sys);
    zmq_close(w);
}

static void test_a_service_speaks_for_a_person_only_while_serving_them(void)
{
    void *w = s_worker("customers", &s_svc);
    void *gw = s_socket(ZMQ_DEALER, s_bus, &s_gw);
    void *svc = s_socket(ZMQ_DEALER, s_bus, &s_svc);
    Crm__Principal jane = CRM__PRINCIPAL__INIT;
    jane.id = "staff-7";
    jane.name = "Jane";
    jane.role = CRM__ROLE__ROLE_ADMIN;
    jane.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_STAFF;
    char why[160];
    /* Out of the blue: refused. */
    s_request(svc, "nobody", "p-1.1", TENANT, &jane, 300);
    CHECK(s_reply(svc, "p-1.1", 2000, why, sizeof why) == CRM__STATUS__STATUS_PERMISSION_DENIED);
    CHECK(strstr(why, "only while serving"));
    /* The gateway's request for Jane reaches the customers worker... */
    s_request(gw, "customers", "p-1", TENANT, &jane, 5000);
    zmq_msg_t addr;
    Crm__RequestHeader *h = s_take(w, &addr, 3000);
    CHECK(h);
    /* ...which may now call on for her: under the request's id or a derived
     * one, same tenant and principal. (Service "nobody" has no worker: the
     * call is let through and expires there.) */
    s_request(svc, "nobody", "p-1.1", TENANT, &jane, 300);
    int st = s_reply(svc, "p-1.1", 2000, NULL, 0);
    CHECK(st == CRM__STATUS__STATUS_UNAVAILABLE || st == CRM__STATUS__STATUS_DEADLINE_EXCEEDED);
    s_request(svc, "nobody", "p-1", TENANT, &jane, 300);
    st = s_reply(svc, "p-1", 2000, NULL, 0);
    CHECK(st == CRM__STATUS__STATUS_UNAVAILABLE || st == CRM__STATUS__STATUS_DEADLINE_EXCEEDED);
    /* Not for someone else, nor in another tenant, nor a made-up id. */
    Crm__Principal bob = jane;
    bob.id = "staff-8";
    s_request(svc, "nobody", "p-1.2", TENANT, &bob, 300);
    CHECK(s_reply(svc, "p-1.2", 2000, NULL, 0) == CRM__STATUS__STATUS_PERMISSION_DENIED);
    s_request(svc, "nobody", "p-1.3", OTHER, &jane, 300);
    CHECK(s_reply(svc, "p-1.3", 2000, NULL, 0) == CRM__STATUS__STATUS_PERMISSION_DENIED);
    s_request(svc, "nobody", "p-1.x", TENANT, &jane, 300);
    CHECK(s_reply(svc, "p-1.x", 2000, NULL, 0) == CRM__STATUS__STATUS_PERMISSION_DENIED);
    /* The gateway's key may not claim to be an outside system. */
    Crm__Principal sys = CRM__PRINCIPAL__INIT;
    sys.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SYSTEM;
    s_request(gw, "nobody", "p-2", TENANT, &sys, 300);
    CHECK(s_reply(gw, "p-2", 2000, NULL, 0) == CRM__STATUS__STATUS_PERMISSION_DENIED);
    /* Answered: Jane's request is no longer in flight. */
    s_answer(w, &addr, h->request_id);
    crm__request_header__free_unpacked(h, NULL);
    CHECK(s_reply(gw, "p-1", 2000, NULL, 0) == CRM__STATUS__STATUS_OK);
    s_request(svc, "nobody", "p-1.4", TENANT, &jane, 300);
    CHECK(s_reply(svc, "p-1.4", 2000, NULL, 0) == CRM__STATUS__STATUS_PERMISSION_DENIED);
    /* On its own account a service needs no one's request. */
    Crm__Principal own = CRM__PRINCIPAL__INIT;
    own.id = "customers";
    own.role = CRM__ROLE__ROLE_SERVICE;
    own.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    s_request(svc, "nobody", "p-3", TENANT, &own, 300);
    st = s_reply(svc, "p-3", 2000, NULL, 0);
    CHECK(st == CRM__STATUS__STATUS_UNAVAILABLE || st == CRM__STATUS__STATUS_DEADLINE_EXCEEDED);
    zmq_close(svc);
    zmq_close(gw);
    zmq_close(w);
}

static void test_workers_only_for_their_own_service(void)
{
    void *gw = s_worker("customers", &s_gw);
    CHECK(s_disconnected(gw));
    void *other = s_worker("notes", &s_svc);
    CHECK(s_disconnected(other));
    void *mine = s_worker("customers", &s_svc);
    CHECK(!s_disconnected(mine));
    zmq_close(mine);
    zmq_close(other);
    zmq_close(gw);
}

static void test_events_sockets_admit_by_kind(void)
{
    /* The gateway may subscribe, the booking system may not; only a
     * service publishes. */
    void *sub_gw = s_socket(ZMQ_SUB, s_ev_out, &s_gw);
    void *sub_sys = s_socket(ZMQ_SUB, s_ev_out, &s_sys);
    CHECK(zmq_setsockopt(sub_gw, ZMQ_SUBSCRIBE, "t", 1) == 0);
    CHECK(zmq_setsockopt(sub_sys, ZMQ_SUBSCRIBE, "t", 1) == 0);
    void *pub_svc = s_socket(ZMQ_PUB, s_ev_in, &s_svc);
    void *pub_gw = s_socket(ZMQ_PUB, s_ev_in, &s_gw);
    /* Until the subscription has reached the publisher, send again. */
    int64_t until = cm_mono_ms() + 5000;
    int got = 0;
    zmq_msg_t p[4];
    while (!got && cm_mono_ms() < until) {
        CHECK(zmq_send(pub_gw, "t", 1, ZMQ_SNDMORE) == 1 && zmq_send(pub_gw, "gw", 2, 0) == 2);
        CHECK(zmq_send(pub_svc, "t", 1, ZMQ_SNDMORE) == 1 && zmq_send(pub_svc, "svc", 3, 0) == 3);
        got = s_recv(sub_gw, 50, p, 4);
    }
    CHECK(got == 2);
    CHECK(zmq_msg_size(&p[1]) == 3 && !memcmp(zmq_msg_data(&p[1]), "svc", 3));
    s_close_parts(p, got);
    /* Nothing from the gateway's publisher ever, nothing to the system. */
    while ((got = s_recv(sub_gw, 200, p, 4)) > 0) {
        CHECK(!(zmq_msg_size(&p[1]) == 2 && !memcmp(zmq_msg_data(&p[1]), "gw", 2)));
        s_close_parts(p, got);
    }
    CHECK(s_recv(sub_sys, 0, p, 4) == 0);
    zmq_close(pub_gw);
    zmq_close(pub_svc);
    zmq_close(sub_sys);
    zmq_close(sub_gw);
}

static void test_a_revoked_key_is_refused_on_its_open_connection(void)
{
    void *sys = s_socket(ZMQ_DEALER, s_bus, &s_sys);
    s_request(sys, "mmi.service", "r-1", "", NULL, 1000);
    CHECK(s_reply(sys, "r-1", 2000, NULL, 0) == CRM__STATUS__STATUS_OK);
    s_sleep_ms(20); /* a modification time the broker can tell apart */
    s_write_registry(false);
    int64_t until = cm_mono_ms() + 5000;
    char why[128] = "";
    int st = CRM__STATUS__STATUS_OK;
    for (int i = 0; st != CRM__STATUS__STATUS_PERMISSION_DENIED; i++) {
        CHECK(cm_mono_ms() < until);
        char rid[16];
        snprintf(rid, sizeof rid, "r-%d", i + 2);
        s_request(sys, "mmi.service", rid, "", NULL, 1000);
        st = s_reply(sys, rid, 2000, why, sizeof why);
        if (st != CRM__STATUS__STATUS_PERMISSION_DENIED)
            s_sleep_ms(100);
    }
    CHECK(strstr(why, "no longer admitted"));
    /* A registry that does not parse leaves the one in force. */
    FILE *f = fopen(s_registry, "a");
    CHECK(f);
    fprintf(f, "garbage\n");
    CHECK(fclose(f) == 0);
    s_sleep_ms(1500);
    void *gw = s_socket(ZMQ_DEALER, s_bus, &s_gw);
    s_request(gw, "mmi.service", "r-x", "", NULL, 1000);
    CHECK(s_reply(gw, "r-x", 2000, NULL, 0) == CRM__STATUS__STATUS_OK);
    zmq_close(gw);
    zmq_close(sys);
}

int main(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/cmcurve-XXXXXX");
    CHECK(mkdtemp(s_dir));
    snprintf(s_bus, sizeof s_bus, "ipc://%s/bus", s_dir);
    snprintf(s_ev_in, sizeof s_ev_in, "ipc://%s/ev-in", s_dir);
    snprintf(s_ev_out, sizeof s_ev_out, "ipc://%s/ev-out", s_dir);
    snprintf(s_registry, sizeof s_registry, "%s/registry", s_dir);
    CHECK(cm_curve_pair_new(&s_broker_pair) == 0 && cm_curve_pair_new(&s_svc) == 0 &&
          cm_curve_pair_new(&s_gw) == 0 && cm_curve_pair_new(&s_sys) == 0 &&
          cm_curve_pair_new(&s_stranger) == 0);
    s_ctx = zmq_ctx_new();
    struct broker_cfg cfg = {s_bus, s_ev_in, s_ev_out, &s_broker_pair, s_registry};
    /* No registry: no broker. */
    CHECK(broker_new(s_ctx, &cfg) == NULL);
    s_write_registry(true);
    s_broker = broker_new(s_ctx, &cfg);
    CHECK(s_broker);
    CHECK(pthread_create(&s_thread, NULL, s_broker_main, NULL) == 0);

    RUN(test_unknown_and_plain_clients_get_nothing);
    RUN(test_a_system_key_is_bound_to_its_tenant_and_principal);
    RUN(test_a_service_speaks_for_a_person_only_while_serving_them);
    RUN(test_workers_only_for_their_own_service);
    RUN(test_events_sockets_admit_by_kind);
    RUN(test_a_revoked_key_is_refused_on_its_open_connection);

    s_stop = 1;
    CHECK(pthread_join(s_thread, NULL) == 0);
    broker_destroy(&s_broker);
    zmq_ctx_term(s_ctx);
    const char *names[] = {"bus", "ev-in", "ev-out", "registry"};
    for (int i = 0; i < 4; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s/%s", s_dir, names[i]);
        unlink(path);
    }
    rmdir(s_dir);
    return 0;
}
