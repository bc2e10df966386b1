/* The gateway end to end in one process: the real HTTP server and bus thread
 * against a fake broker (a ROUTER speaking the client side of MDP, answering
 * as the customers service would), driven over loopback sockets. */
#include "gateway_auth.h"
#include "gateway_bus.h"
#include "gateway_http.h"
#include "gateway_metrics.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "envelope.pb-c.h"
#include "../unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>
#include <zmq.h>

#define TIMEOUT_MS 1500

/* ---------------------------------------------------------------------- */
/* The fake broker + customers service                                     */

struct s_delayed {
    int64_t due;
    zmq_msg_t frames[6];
};

static struct {
    void *ctx, *router;
    char endpoint[64];
    pthread_t thread;
    atomic_bool stop;
    atomic_int auth_calls;
    pthread_mutex_t mu;
    Crm__RequestHeader *last_create; // owned, guarded by mu
    struct s_delayed delayed[64];
    size_t n_delayed;
} s_fake;

static void s_send_reply(zmq_msg_t *ident, const char *service, int status, const char *message,
                         const char *request_id, const ProtobufCMessage *body, int delay_ms)
{
    Crm__ReplyHeader h = CRM__REPLY_HEADER__INIT;
    h.status = (Crm__Status)status;
    h.message = (char *)message;
    h.request_id = (char *)request_id;
    size_t hl = crm__reply_header__get_packed_size(&h);
    size_t bl = body ? protobuf_c_message_get_packed_size(body) : 0;
    uint8_t cmd = CM_MDP_FINAL;
    struct s_delayed d;
    zmq_msg_init(&d.frames[0]);
    zmq_msg_copy(&d.frames[0], ident);
    zmq_msg_init_size(&d.frames[1], 6);
    memcpy(zmq_msg_data(&d.frames[1]), CM_MDP_CLIENT, 6);
    zmq_msg_init_size(&d.frames[2], 1);
    memcpy(zmq_msg_data(&d.frames[2]), &cmd, 1);
    zmq_msg_init_size(&d.frames[3], strlen(service));
    memcpy(zmq_msg_data(&d.frames[3]), service, strlen(service));
    zmq_msg_init_size(&d.frames[4], hl);
    crm__reply_header__pack(&h, zmq_msg_data(&d.frames[4]));
    zmq_msg_init_size(&d.frames[5], bl);
    if (body)
        protobuf_c_message_pack(body, zmq_msg_data(&d.frames[5]));
    d.due = cm_mono_ms() + delay_ms;
    CHECK(s_fake.n_delayed < 64);
    s_fake.delayed[s_fake.n_delayed++] = d;
}

static void s_flush_due(void)
{
    int64_t now = cm_mono_ms();
    for (size_t i = 0; i < s_fake.n_delayed;) {
        struct s_delayed *d = &s_fake.delayed[i];
        if (d->due > now) {
            i++;
            continue;
        }
        for (int f = 0; f < 6; f++)
            CHECK(zmq_msg_send(&d->frames[f], s_fake.router, f < 5 ? ZMQ_SNDMORE : 0) >= 0);
        s_fake.delayed[i] = s_fake.delayed[--s_fake.n_delayed];
    }
}

static void s_serve(zmq_msg_t *parts, int n)
{
    CHECK(n == 6);
    CHECK(zmq_msg_size(&parts[1]) == 6 && !memcmp(zmq_msg_data(&parts[1]), "MDPC02", 6));
    char service[64];
    snprintf(service, sizeof service, "%.*s", (int)zmq_msg_size(&parts[3]),
             (char *)zmq_msg_data(&parts[3]));
    Crm__RequestHeader *h =
        crm__request_header__unpack(NULL, zmq_msg_size(&parts[4]), zmq_msg_data(&parts[4]));
    CHECK(h);
    const uint8_t *body = zmq_msg_data(&parts[5]);
    size_t blen = zmq_msg_size(&parts[5]);
    const char *m = h->method;
    if (!strcmp(m, "customers.Authenticate")) {
        atomic_fetch_add(&s_fake.auth_calls, 1);
        CHECK_STR(h->principal->name, "gateway");
        CHECK(h->principal->role == CRM__ROLE__ROLE_SERVICE);
        CHECK_STR(h->tenant_id, "");
        Crm__AuthenticateRequest *ar = crm__authenticate_request__unpack(NULL, blen, body);
        CHECK(ar);
        if (!strcmp(ar->api_key, "good")) {
            Crm__AuthenticateResponse resp = CRM__AUTHENTICATE_RESPONSE__INIT;
            Crm__Principal pr = CRM__PRINCIPAL__INIT;
            pr.id = "k1";
            pr.name = "test key";
            pr.role = CRM__ROLE__ROLE_STAFF;
            resp.tenant_id = "t-1";
            resp.principal = &pr;
            s_send_reply(&parts[0], service, 0, "", h->request_id, &resp.base, 0);
        } else if (!strcmp(ar->api_key, "down")) {
            s_send_reply(&parts[0], service, CRM__STATUS__STATUS_UNAVAILABLE, "db down",
                         h->request_id, NULL, 0);
        } else {
            s_send_reply(&parts[0], service, CRM__STATUS__STATUS_UNAUTHENTICATED, "no such key",
                         h->request_id, NULL, 0);
        }
        crm__authenticate_request__free_unpacked(ar, NULL);
    } else if (!strcmp(m, "customers.CreateCustomer")) {
        Crm__CreateCustomerRequest *r = crm__create_customer_request__unpack(NULL, blen, body);
        CHECK(r && r->customer);
        Crm__Customer c = CRM__CUSTOMER__INIT;
        c.id = "c-1";
        c.first_name = r->customer->first_name;
        c.etag = "e1";
        s_send_reply(&parts[0], service, 0, "", h->request_id, &c.base, 0);
        crm__create_customer_request__free_unpacked(r, NULL);
        pthread_mutex_lock(&s_fake.mu);
        if (s_fake.last_create)
            crm__request_header__free_unpacked(s_fake.last_create, NULL);
        s_fake.last_create = h;
        h = NULL;
        pthread_mutex_unlock(&s_fake.mu);
    } else if (!strcmp(m, "customers.GetCustomer")) {
        Crm__GetCustomerRequest *r = crm__get_customer_request__unpack(NULL, blen, body);
        CHECK(r);
        CHECK_STR(h->tenant_id, "t-1");
        if (!strcmp(r->id, "missing")) {
            s_send_reply(&parts[0], service, CRM__STATUS__STATUS_NOT_FOUND, "customer not found",
                         h->request_id, NULL, 0);
        } else if (strcmp(r->id, "slow")) {
            Crm__Customer c = CRM__CUSTOMER__INIT;
            c.id = r->id;
            c.etag = "e2";
            s_send_reply(&parts[0], service, 0, "", h->request_id, &c.base,
                         !strncmp(r->id, "delay", 5) ? 150 : 0);
        }
        crm__get_customer_request__free_unpacked(r, NULL);
    } else if (!strcmp(m, "customers.Health")) {
        s_send_reply(&parts[0], service, 0, "", h->request_id, NULL, 0);
    } else if (strcmp(service, "ghost")) {
        s_send_reply(&parts[0], service, CRM__STATUS__STATUS_INTERNAL, "unexpected", h->request_id,
                     NULL, 0);
    }
    if (h)
        crm__request_header__free_unpacked(h, NULL);
}

static void *s_fake_run(void *arg)
{
    (void)arg;
    while (!atomic_load(&s_fake.stop)) {
        zmq_pollitem_t item = {s_fake.router, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 10);
        s_flush_due();
        if (!(item.revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t parts[8];
        int n = 0;
        int more = 1;
        while (more) {
            zmq_msg_init(&parts[n]);
            CHECK(zmq_msg_recv(&parts[n], s_fake.router, 0) >= 0);
            more = zmq_msg_more(&parts[n]);
            n++;
            CHECK(n < 8 || !more);
        }
        s_serve(parts, n);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
    }
    return NULL;
}

static void s_fake_start(void)
{
    pthread_mutex_init(&s_fake.mu, NULL);
    s_fake.ctx = zmq_ctx_new();
    s_fake.router = zmq_socket(s_fake.ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(s_fake.router, ZMQ_LINGER, &linger, sizeof linger);
    CHECK(zmq_bind(s_fake.router, "tcp://127.0.0.1:*") == 0);
    size_t len = sizeof s_fake.endpoint;
    zmq_getsockopt(s_fake.router, ZMQ_LAST_ENDPOINT, s_fake.endpoint, &len);
    CHECK(pthread_create(&s_fake.thread, NULL, s_fake_run, NULL) == 0);
}

static void s_fake_stop(void)
{
    atomic_store(&s_fake.stop, true);
    pthread_join(s_fake.thread, NULL);
    for (size_t i = 0; i < s_fake.n_delayed; i++)
        for (int f = 0; f < 6; f++)
            zmq_msg_close(&s_fake.delayed[i].frames[f]);
    zmq_close(s_fake.router);
    zmq_ctx_term(s_fake.ctx);
    if (s_fake.last_create)
        crm__request_header__free_unpacked(s_fake.last_create, NULL);
}

/* ---------------------------------------------------------------------- */
/* A small HTTP client                                                     */

/* Room for the largest answer: the OpenAPI document (about 280 KB in
 * 2026-12); each answer is on the stack, so not much more (ASan makes frames larger). */
#define S_MAX_BODY (1 << 19)

struct s_resp {
    int code;
    char headers[4096];
    char body[S_MAX_BODY];
    size_t body_len;
};

static int s_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void s_write_all(int fd, const char *data, size_t n)
{
    while (n) {
        ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; // the server may close early (413); the answer is still readable
        data += w;
        n -= (size_t)w;
    }
}

/* Value of a response header (case-insensitive name), copied into out. */
static const char *s_hdr(const struct s_resp *r, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; *p;) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl + 1 && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(eol - v), v);
            return out;
        }
        p = eol + 2;
    }
    return NULL;
}

/* Reads one response from fd. */
static void s_read_resp(int fd, struct s_resp *r)
{
    static _Thread_local char buf[8192 + S_MAX_BODY]; // the headers and the body
    size_t n = 0;
    char *end = NULL;
    memset(r, 0, sizeof *r);
    while (!end) {
        ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        CHECK(k > 0);
        n += (size_t)k;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    // NOLINTNEXTLINE(cert-err34-c): a status line from our gateway
    CHECK(sscanf(buf, "HTTP/1.1 %d", &r->code) == 1);
    size_t hlen = (size_t)(end - buf) + 2;
    CHECK(hlen < sizeof r->headers);
    memcpy(r->headers, buf, hlen);
    char cl[32];
    long want = s_hdr(r, "Content-Length", cl, sizeof cl) ? strtol(cl, NULL, 10) : 0;
    size_t have = n - (hlen + 2);
    CHECK(want < S_MAX_BODY && have < S_MAX_BODY);
    memcpy(r->body, end + 4, have);
    while ((long)have < want) {
        ssize_t k = recv(fd, r->body + have, sizeof r->body - 1 - have, 0);
        CHECK(k > 0);
        have += (size_t)k;
    }
    r->body_len = have;
    r->body[have] = '\0';
}

static uint16_t s_port;

/* One request on a fresh connection. extra: more header lines, each "\r\n"-ended. */
static void s_http(const char *method, const char *path, const char *extra, const char *body,
                   struct s_resp *r)
{
    int fd = s_connect(s_port);
    char *req = cm_strfmt("%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s"
                          "Content-Length: %zu\r\n\r\n",
                          method, path, extra ? extra : "", body ? strlen(body) : 0);
    s_write_all(fd, req, strlen(req));
    if (body)
        s_write_all(fd, body, strlen(body));
    free(req);
    s_read_resp(fd, r);
    close(fd);
}

#define AUTH "Authorization: Bearer good\r\n"
#define CT "Content-Type: application/json\r\n"

static json_t *s_json(const struct s_resp *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    if (!j) {
        fprintf(stderr, "not JSON: %s\n", r->body);
        abort();
    }
    return j;
}

static const char *s_err_status(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "status"));
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void test_health_and_openapi(void)
{
    struct s_resp r;
    char v[128];
    s_http("GET", "/healthz", "X-Request-Id: probe-1\r\n", NULL, &r);
    CHECK(r.code == 200);
    CHECK_STR(r.body, "{\"status\":\"ok\"}");
    CHECK_STR(s_hdr(&r, "X-Request-Id", v, sizeof v), "probe-1");
    s_http("GET", "/v1/openapi.json", NULL, NULL, &r);
    CHECK(r.code == 200);
    json_t *j = s_json(&r);
    CHECK(json_object_get(json_object_get(j, "paths"), "/v1/customers/{id}"));
    json_decref(j);
    /* An invalid X-Request-Id is replaced, not refused. */
    s_http("GET", "/healthz", "X-Request-Id: has space\r\n", NULL, &r);
    CHECK(r.code == 200);
    CHECK(strlen(s_hdr(&r, "X-Request-Id", v, sizeof v)) == 36);
}

static void test_auth(void)
{
    struct s_resp r;
    char v[128];
    s_http("GET", "/v1/customers/c1", NULL, NULL, &r);
    CHECK(r.code == 401);
    CHECK_STR(s_hdr(&r, "WWW-Authenticate", v, sizeof v), "Bearer");
    json_t *j = s_json(&r);
    CHECK_STR(s_err_status(j), "UNAUTHENTICATED");
    json_decref(j);

    int before = atomic_load(&s_fake.auth_calls);
    s_http("GET", "/v1/customers/c1", "Authorization: Bearer wrong\r\n", NULL, &r);
    CHECK(r.code == 401);
    CHECK_STR(s_hdr(&r, "WWW-Authenticate", v, sizeof v), "Bearer");
    /* The bad key is remembered for a moment. */
    s_http("GET", "/v1/customers/c1", "Authorization: Bearer wrong\r\n", NULL, &r);
    CHECK(r.code == 401);
    CHECK(atomic_load(&s_fake.auth_calls) == before + 1);

    /* A bad key with a bad body learns only that the key is bad. */
    s_http("POST", "/v1/customers", "Authorization: Bearer wrong2\r\n" CT, "{nope", &r);
    CHECK(r.code == 401);

    /* The customers service down is a 503, not a 401. */
    s_http("GET", "/v1/customers/c1", "Authorization: Bearer down\r\n", NULL, &r);
    CHECK(r.code == 503);
    j = s_json(&r);
    CHECK_STR(s_err_status(j), "UNAVAILABLE");
    json_decref(j);

    /* A good key is asked once, then cached. */
    before = atomic_load(&s_fake.auth_calls);
    s_http("GET", "/v1/customers/c1", AUTH, NULL, &r);
    CHECK(r.code == 200);
    s_http("GET", "/v1/customers/c2", AUTH, NULL, &r);
    CHECK(r.code == 200);
    CHECK(atomic_load(&s_fake.auth_calls) == before + 1);
}

static void test_create_and_envelope(void)
{
    struct s_resp r;
    char v[128];
    int64_t t0 = cm_now_ms();
    s_http("POST", "/v1/customers", AUTH CT "X-Request-Id: create-1\r\nX-Channel: booking\r\n",
           "{\"firstName\":\"Zoë\"}", &r);
    CHECK(r.code == 201);
    CHECK_STR(s_hdr(&r, "Location", v, sizeof v), "/v1/customers/c-1");
    CHECK_STR(s_hdr(&r, "ETag", v, sizeof v), "\"e1\"");
    CHECK_STR(s_hdr(&r, "X-Request-Id", v, sizeof v), "create-1");
    CHECK_STR(s_hdr(&r, "Content-Type", v, sizeof v), "application/json; charset=utf-8");
    json_t *j = s_json(&r);
    CHECK_STR(json_string_value(json_object_get(j, "firstName")), "Zoë");
    CHECK_STR(json_string_value(json_object_get(j, "id")), "c-1");
    json_decref(j);

    pthread_mutex_lock(&s_fake.mu);
    Crm__RequestHeader *h = s_fake.last_create;
    CHECK(h);
    CHECK_STR(h->request_id, "create-1");
    CHECK_STR(h->tenant_id, "t-1");
    CHECK_STR(h->principal->id, "k1");
    CHECK_STR(h->principal->name, "test key");
    CHECK(h->principal->role == CRM__ROLE__ROLE_STAFF);
    CHECK_STR(h->method, "customers.CreateCustomer");
    CHECK_STR(h->channel, "booking");
    CHECK(strlen(h->idempotency_key) == 36); // minted for a POST without one
    CHECK(h->deadline_unix_ms >= t0 + TIMEOUT_MS &&
          h->deadline_unix_ms <= cm_now_ms() + TIMEOUT_MS);
    pthread_mutex_unlock(&s_fake.mu);

    s_http("POST", "/v1/customers", AUTH CT "Idempotency-Key: order-77\r\nX-Channel: fax\r\n", "{}",
           &r);
    CHECK(r.code == 201);
    pthread_mutex_lock(&s_fake.mu);
    CHECK_STR(s_fake.last_create->idempotency_key, "order-77");
    CHECK_STR(s_fake.last_create->channel, "api");
    pthread_mutex_unlock(&s_fake.mu);
}

static void test_errors(void)
{
    struct s_resp r;
    char v[128];
    json_t *j;
    s_http("GET", "/v1/customers/missing", AUTH, NULL, &r);
    CHECK(r.code == 404);
    j = s_json(&r);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
              "customer not found");
    json_decref(j);

    s_http("POST", "/v1/customers", AUTH CT, "{\"firstName\":", &r);
    CHECK(r.code == 400);
    j = s_json(&r);
    CHECK(!strncmp(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                   "malformed JSON at line 1", 24));
    json_decref(j);

    s_http("POST", "/v1/customers", AUTH CT, "{\"nickname\":\"x\"}", &r);
    CHECK(r.code == 400);
    j = s_json(&r);
    CHECK_STR(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(j, "error"), "details"), 0), "field")),
        "nickname");
    json_decref(j);

    s_http("POST", "/v1/customers", AUTH "Content-Type: text/plain\r\n", "{}", &r);
    CHECK(r.code == 415);

    /* The body limit of this server is 1024 bytes. */
    char big[2048];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '{';
    big[sizeof big - 2] = '}';
    s_http("POST", "/v1/customers", AUTH CT, big, &r);
    CHECK(r.code == 413);
    j = s_json(&r);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
              "request body exceeds 1024 bytes");
    json_decref(j);

    s_http("GET", "/v1/nothing", AUTH, NULL, &r);
    CHECK(r.code == 404);
    j = s_json(&r);
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
              "no route for GET /v1/nothing");
    json_decref(j);

    s_http("POST", "/v1/customers/c1", AUTH, NULL, &r);
    CHECK(r.code == 405);
    CHECK_STR(s_hdr(&r, "Allow", v, sizeof v), "GET, HEAD, PATCH, DELETE");

    s_http("GET", "/v1/customers/bad%24id", AUTH, NULL, &r);
    CHECK(r.code == 404);

    s_http("GET", "/v1/customers?pageSize=x&email=a%40b", AUTH, NULL, &r);
    CHECK(r.code == 400);
}

static void test_timeout_is_504(void)
{
    struct s_resp r;
    int64_t t0 = cm_mono_ms();
    s_http("GET", "/v1/customers/slow", AUTH, NULL, &r);
    int64_t took = cm_mono_ms() - t0;
    CHECK(r.code == 504);
    CHECK(took >= TIMEOUT_MS - 10 && took < TIMEOUT_MS + 1000);
    json_t *j = s_json(&r);
    CHECK_STR(s_err_status(j), "DEADLINE_EXCEEDED");
    json_decref(j);
}

static void test_keep_alive_after_refusal(void)
{
    /* A refused request without a body keeps the connection open. */
    int fd = s_connect(s_port);
    const char *first = "GET /v1/nothing HTTP/1.1\r\nHost: t\r\n\r\n";
    const char *second = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    struct s_resp r;
    char v[64];
    s_write_all(fd, first, strlen(first));
    s_read_resp(fd, &r);
    CHECK(r.code == 404);
    CHECK(!s_hdr(&r, "Connection", v, sizeof v));
    s_write_all(fd, second, strlen(second));
    s_read_resp(fd, &r);
    CHECK(r.code == 200);
    close(fd);
}

struct s_par {
    int i;
    const char *rid;
    struct s_resp r;
};

static void *s_par_get(void *arg)
{
    struct s_par *p = arg;
    char path[64], extra[128];
    snprintf(path, sizeof path, "/v1/customers/delay%d", p->i);
    snprintf(extra, sizeof extra, AUTH "X-Request-Id: %s\r\n", p->rid);
    s_http("GET", path, extra, NULL, &p->r);
    return NULL;
}

static void test_concurrent_requests(void)
{
    enum { N = 24 };
    static struct s_par par[N]; // 3 MB: too big a frame for valgrind
    pthread_t t[N];
    char rids[N][24];
    int64_t t0 = cm_mono_ms();
    for (int i = 0; i < N; i++) {
        par[i].i = i;
        /* Pairs share a request id: replies must still reach the right client. */
        snprintf(rids[i], sizeof rids[i], "same-%d", i / 2);
        par[i].rid = rids[i];
        CHECK(pthread_create(&t[i], NULL, s_par_get, &par[i]) == 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
    /* Each answer took 150 ms at the fake; together they overlap. */
    CHECK(cm_mono_ms() - t0 < 150 * N * 2 / 3);
    for (int i = 0; i < N; i++) {
        CHECK(par[i].r.code == 200);
        json_t *j = s_json(&par[i].r);
        char want[32];
        snprintf(want, sizeof want, "delay%d", i);
        CHECK_STR(json_string_value(json_object_get(j, "id")), want);
        json_decref(j);
    }
}

static void test_readyz_and_metrics(void)
{
    struct s_resp r;
    s_http("GET", "/readyz", NULL, NULL, &r);
    CHECK(r.code == 503);
    CHECK_STR(r.body, "{\"status\":\"unavailable\",\"failing\":[\"ghost\"]}");

    s_http("GET", "/metrics", NULL, NULL, &r);
    CHECK(r.code == 200);
    CHECK(strstr(
        r.body,
        "crm_http_requests_total{route=\"/v1/customers/{id}\",method=\"GET\",code=\"200\"}"));
    CHECK(strstr(
        r.body,
        "crm_http_requests_total{route=\"/v1/customers/{id}\",method=\"GET\",code=\"504\"} 1\n"));
    CHECK(strstr(r.body, "crm_bus_requests_total{service=\"customers\",status=\"OK\"}"));
    CHECK(strstr(r.body,
                 "crm_bus_requests_total{service=\"ghost\",status=\"DEADLINE_EXCEEDED\"} 1\n"));
    CHECK(strstr(r.body, "crm_http_in_flight 1\n")); // this request
    CHECK(strstr(r.body, "crm_auth_cache_entries "));
    /* Raw paths never become labels. */
    CHECK(!strstr(r.body, "delay1"));
}

static void *s_slow_get(void *arg)
{
    struct s_resp *r = arg;
    s_http("GET", "/v1/customers/slow", AUTH, NULL, r);
    return NULL;
}

/* gateway_bus_call: runs on the bus thread (the one that serves HTTP). */
static void s_note_thread(void *arg)
{
    *(pthread_t *)arg = pthread_self();
}

/* True if a TCP connect to the gateway's port is refused. */
static bool s_refused(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(s_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool refused = connect(fd, (struct sockaddr *)&a, sizeof a) != 0;
    close(fd);
    return refused;
}

int main(void)
{
    cm_log_level = CM_LOG_WARN; // one access line per request is noise here
    s_fake_start();
    gateway_metrics_t *metrics = gateway_metrics_new();
    gateway_auth_t *auth = gateway_auth_new(100, 30000, 2000);
    gateway_bus_t *bus = gateway_bus_new(s_fake.endpoint, true, auth, metrics);
    CHECK(bus);
    struct gateway_config cfg = {
        .http_addr = "127.0.0.1:0",
        .bus_endpoint = s_fake.endpoint,
        .request_timeout_ms = TIMEOUT_MS,
        .services = "customers, ghost",
        .max_body_bytes = 1024,
    };
    char err[256];
    gateway_http_t *http = gateway_http_new(&cfg, bus, auth, metrics, err, sizeof err);
    if (!http) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    s_port = gateway_http_port(http);
    CHECK(s_port > 0);

    RUN(test_health_and_openapi);
    RUN(test_auth);
    RUN(test_create_and_envelope);
    RUN(test_errors);
    RUN(test_timeout_is_504);
    RUN(test_keep_alive_after_refusal);
    RUN(test_concurrent_requests);
    RUN(test_readyz_and_metrics);

    /* Calls run on the bus thread while it runs, on the caller after. */
    pthread_t on1 = pthread_self(), on2 = pthread_self();
    gateway_bus_call(bus, s_note_thread, &on1);
    gateway_bus_call(bus, s_note_thread, &on2);
    CHECK(!pthread_equal(on1, pthread_self()) && pthread_equal(on1, on2));
    printf("test_bus_call: OK\n");

    /* Stopping with a request in flight: quiesced, the gateway takes no new
     * connection; the request is answered 503 and it stops cleanly. */
    struct s_resp slow;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, s_slow_get, &slow) == 0);
    while (gateway_bus_pending(bus) == 0)
        usleep(1000);
    CHECK(!s_refused());
    gateway_http_quiesce(http);
    CHECK(s_refused());
    gateway_bus_stop(bus);
    pthread_join(t, NULL);
    CHECK(slow.code == 503);
    gateway_bus_call(bus, s_note_thread, &on2);
    CHECK(pthread_equal(on2, pthread_self()));
    gateway_http_destroy(&http);
    gateway_bus_destroy(&bus);
    gateway_auth_destroy(&auth);
    gateway_metrics_destroy(&metrics);
    s_fake_stop();
    printf("test_stop_with_request_in_flight: OK\n");
    return 0;
}
