/* libmicrohttpd wiring: one state record per request, made by the URI log
 * callback (which sees the raw request target, query included) and freed in
 * the completion callback. The daemon runs in external mode on the bus
 * thread (gateway_bus_attach): handlers, bus sends, replies and resumes all
 * happen on that one thread, so a request wakes no other thread. */
#include "gateway_http.h"
#include "cm_log.h"
#include "cm_buf.h"
#include "cm_util.h"
#include "gateway_call.h"
#include "gateway_openapi.h"
#include "gateway_routes.h"
#include "gateway_session.h"
#include "cm_session.h"
#include "gateway_static.h"

#include <netdb.h>
#include <sys/select.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <microhttpd.h>
#include <sodium.h>

/* Past the body limit we read on (without keeping anything) so the client
 * gets its 413; this much more and we just close the connection. */
#define DISCARD_MAX (16u << 20)

/* Request-body bytes held at once when the configuration names no budget. */
#define BODY_BUDGET_DEFAULT (256L << 20)

/* Seconds a request refused for want of body budget is told to wait. */
#define BODY_BUDGET_RETRY_AFTER "1"

/* Memory libmicrohttpd may use per connection: the request line, the headers,
 * and a record of about 64 bytes for every query parameter it parses before
 * s_handler runs. Its default, 32 KiB, ran out at about 450 parameters and
 * closed the connection without an answer; at 64 KiB about 900 fit, so that
 * GATEWAY_MAX_QUERY_PARAMS and GATEWAY_MAX_TARGET are answered in JSON well
 * past them (docs/api.md, "Limits"). Under load it costs about 30 KiB more a
 * connection (a 64-connection run: peak 19 MB against 17). */
#define CONNECTION_POOL_BYTES ((size_t)64 << 10)

/* Connections at once (more wait in the listen queue). Select mode needs
 * every descriptor under FD_SETSIZE; the rest of the process uses about 15. */
#define MAX_CONNECTIONS 1000

/* Client addresses the wrong-key limit keeps apart (about). */
#define GATEWAY_KEY_LIMIT_ENTRIES 16384
_Static_assert(MAX_CONNECTIONS + 24 <= FD_SETSIZE, "connections must fit an fd_set");

struct gateway_http {
    struct MHD_Daemon *daemon;  // owned
    gateway_bus_t *bus;         // borrowed (main)
    gateway_auth_t *auth;       // borrowed (main)
    gateway_metrics_t *metrics; // borrowed (main)
    gateway_limit_t *key_limit; // owned: wrong API keys per client address
    bool cookie_secure;
    const char *trusted_proxies; // borrowed (config): gateway_limit_client
    long timeout_ms;
    size_t max_body;
    /* Request bodies held in memory (bodies being taken, their calls in
     * flight, upload parts) against the budget; only the bus thread, which
     * runs MHD, touches body_held. */
    size_t body_budget;
    size_t body_held;
    char **services; // owned, with its strings: /readyz checks these
    size_t n_services;
    char *openapi; // owned: the generated document
    size_t openapi_len;
    gateway_static_t *ui; // owned; NULL when no UI directory was found
    uint16_t port;
    atomic_long in_flight; // requests between the URI callback and completion
    bool attached;         // the bus thread runs the daemon
};

enum s_state {
    S_NEW = 0, // headers in, not looked at yet
    S_BODY,    // taking the body
    S_WAITING, // suspended; the bus thread has the job
    S_DONE,    // a response is queued
};

struct s_req {
    gateway_http_t *http;        // borrowed
    struct MHD_Connection *conn; // borrowed (MHD)
    char *uri;                   // owned: the raw request target
    char method[16];
    char request_id[80];
    int64_t start; // monotonic ms
    enum s_state state;
    struct gateway_match match;
    const char *route_label; // borrowed: the route's pattern or "unmatched"
    cm_buf_t body;           // capped at limit
    size_t limit;
    bool keep_body;
    bool over;                       // the body passed the limit
    bool over_budget;                // taking the body would pass the body budget
    size_t held;                     // bytes of the body budget this request holds
    long declared;                   // its Content-Length (0: none)
    size_t seen;                     // body bytes received
    char *api_key;                   // owned; wiped when freed: the key, or a session's token
    bool session;                    // api_key is the crm_session cookie's token
    char *cookie;                    // owned; wiped when freed: a SESSION_TOKEN route's token
    struct gateway_job job;          // lent to the bus thread while S_WAITING
    struct gateway_response pending; // sent instead of the call once authenticated
    struct gateway_response early;   // a refusal held until the body is read
    bool has_early;
    bool has_body; // Content-Length > 0 or chunked
    int code;      // the status sent, 0 before
    /* A file streamed a chunk at a time (GATEWAY_STREAM_REPLY). */
    ProtobufCMessage *stream_req; // owned: the request; its cursor is set for each next chunk
    struct gateway_chunk chunk;   // owned: the chunk being written out
    size_t chunk_off;             // bytes of it written
    unsigned n_chunks;            // chunks asked for
    bool chunk_waiting;           // the call for the next chunk is out (connection suspended)
    /* A file sent on in parts as it arrives (GATEWAY_STREAM_BODY). */
    bool uploading;
    char upload_id[40];
    cm_buf_t part;     // the part being filled (at most GATEWAY_UPLOAD_PART)
    int n_parts;       // parts sent
    bool part_waiting; // a part's call is out (connection suspended)
};

/* ---------------------------------------------------------------------- */
/* Sending                                                                 */

static const char *s_header(const struct s_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* The session cookie carries Secure behind TLS. */
static bool s_secure(struct s_req *req)
{
    const char *proto = s_header(req, "X-Forwarded-Proto");
    return req->http->cookie_secure || (proto && !strcasecmp(proto, "https"));
}

/* Queues resp (released here) as the answer. A 401 to a request the
 * session cookie authenticated (its session ended: idle, absolute expiry,
 * signed out elsewhere) clears the cookie. */
static enum MHD_Result s_send(struct s_req *req, struct gateway_response *resp)
{
    struct MHD_Response *r;
    bool cookie_auth =
        req->session || (req->match.route && (req->match.route->flags & GATEWAY_SESSION_TOKEN));
    if (resp->code == 401 && cookie_auth && !gateway_response_get_header(resp, "Set-Cookie")) {
        char *cookie = gateway_session_set_cookie(NULL, 0, s_secure(req));
        gateway_response_header(resp, "Set-Cookie", cookie);
        free(cookie);
    }
    if (resp->body && resp->body_len) {
        r = MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (r)
            resp->body = NULL; // MHD frees it now
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!r) {
        gateway_response_release(resp);
        return MHD_NO;
    }
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    if (resp->content_type && resp->code != 204 && resp->code != 304)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (size_t i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
    /* API answers hold customer data: no cache keeps them unless told. */
    if (!gateway_response_get_header(resp, "Cache-Control"))
        MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(req->conn, (unsigned)resp->code, r);
    MHD_destroy_response(r);
    req->code = resp->code;
    req->state = S_DONE;
    gateway_response_release(resp);
    return rc;
}

static enum MHD_Result s_send_error(struct s_req *req, int status, const char *message)
{
    struct gateway_response resp = {0};
    gateway_response_error(&resp, status, message, NULL, 0);
    return s_send(req, &resp);
}

static enum MHD_Result s_send_error_http(struct s_req *req, int code, const char *status,
                                         const char *message)
{
    struct gateway_response resp = {0};
    gateway_response_error_http(&resp, code, status, message);
    return s_send(req, &resp);
}

static enum MHD_Result s_send_json(struct s_req *req, int code, json_t *json)
{
    struct gateway_response resp = {0};
    gateway_response_json(&resp, code, json);
    return s_send(req, &resp);
}

/* ---------------------------------------------------------------------- */
/* Credentials: an API key, or a staff session's cookie                    */

/* The cookie's token into out, or NULL. */
static const char *s_cookie(struct s_req *req, char *out, size_t size)
{
    return gateway_session_cookie(s_header(req, MHD_HTTP_HEADER_COOKIE), out, size);
}

static const char *s_bad_cred(const struct s_req *req)
{
    return req->session ? "the session has ended; sign in again" : "invalid API key";
}

/* True when the request's Origin (if any) is the host it was sent to: the
 * Host header, or the host a proxy in front says it was (X-Forwarded-Host). */
static bool s_same_origin(struct s_req *req)
{
    const char *origin = s_header(req, "Origin");
    const char *fwd = s_header(req, "X-Forwarded-Host");
    return gateway_session_origin_ok(origin, s_header(req, MHD_HTTP_HEADER_HOST)) ||
           (fwd && gateway_session_origin_ok(origin, fwd));
}

/* A request the cookie authenticates: from this site (Origin), and a write
 * carries the CSRF token of its session. 0, or -1 with resp filled (403). */
static int s_csrf(struct s_req *req, const char *token, struct gateway_response *resp)
{
    if (!s_same_origin(req)) {
        gateway_response_error(resp, CRM__STATUS__STATUS_PERMISSION_DENIED,
                               "cross-site request refused", NULL, 0);
        return -1;
    }
    if (gateway_session_safe_method(req->method) ||
        cm_session_csrf_ok(token, s_header(req, GATEWAY_CSRF_HEADER)))
        return 0;
    gateway_response_error(resp, CRM__STATUS__STATUS_PERMISSION_DENIED,
                           "missing or wrong CSRF token", NULL, 0);
    return -1;
}

/* Takes the request's credentials for a bus route: the API key of the
 * Authorization header, or else the session cookie (for a route that needs
 * either, and for a SESSION_TOKEN route). 0, or -1 with resp filled. */
static int s_credentials(struct s_req *req, struct gateway_response *resp)
{
    unsigned flags = req->match.route->flags;
    char token[128];
    if ((flags & GATEWAY_CLIENT_ADDRESS) && !s_same_origin(req)) {
        gateway_response_error(resp, CRM__STATUS__STATUS_PERMISSION_DENIED,
                               "cross-site request refused", NULL, 0);
        return -1;
    }
    if (flags & GATEWAY_SESSION_TOKEN) {
        if (!s_cookie(req, token, sizeof token)) {
            gateway_response_error(resp, CRM__STATUS__STATUS_UNAUTHENTICATED, "not signed in", NULL,
                                   0);
            return -1;
        }
        if (s_csrf(req, token, resp))
            return -1;
        req->cookie = cm_strdup(token);
        return 0;
    }
    if (flags & GATEWAY_PUBLIC)
        return 0;
    const char *auth = s_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *key = gateway_parse_bearer(auth);
    if (key) {
        req->api_key = cm_strdup(key);
        return 0;
    }
    if (!auth && s_cookie(req, token, sizeof token)) {
        if (s_csrf(req, token, resp))
            return -1;
        req->api_key = cm_strdup(token);
        req->session = true;
        return 0;
    }
    gateway_response_error(resp, CRM__STATUS__STATUS_UNAUTHENTICATED,
                           auth ? "malformed Authorization header (want: Bearer <API key>)"
                                : "missing or malformed Authorization header (want: Bearer "
                                  "<API key>, or sign in)",
                           NULL, 0);
    return -1;
}

/* The client's address, numeric ("127.0.0.1", "::1"), or "unknown": the
 * connection's, or behind a trusted proxy the one it forwarded
 * (gateway_limit_client). */
static void s_client_address(struct s_req *req, char *host, size_t size)
{
    char peer[NI_MAXHOST] = "unknown";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                               : sizeof(struct sockaddr_in);
        if (getnameinfo(ci->client_addr, len, peer, sizeof peer, NULL, 0, NI_NUMERICHOST))
            snprintf(peer, sizeof peer, "unknown");
    }
    gateway_limit_client(peer, s_header(req, "X-Forwarded-For"), req->http->trusted_proxies, host,
                         size);
}

/* Counts a wrong API key from the request's address (not a session's
 * cookie: those are 256-bit tokens that simply ended). */
static void s_key_failed(struct s_req *req)
{
    if (req->session)
        return;
    char host[NI_MAXHOST];
    s_client_address(req, host, sizeof host);
    int64_t wait = gateway_limit_fail(req->http->key_limit, host, cm_mono_ms());
    if (wait > 0)
        cm_log_warn("%s: locked out for %lld s after wrong API keys", host,
                    (long long)((wait + 999) / 1000));
}

/* While the request's address is locked out for wrong API keys, a key the
 * cache does not know as good is not looked at: 429 with Retry-After.
 * Returns 0, or -1 with resp filled. */
static int s_key_locked(struct s_req *req, struct gateway_response *resp)
{
    if (req->session)
        return 0;
    char host[NI_MAXHOST];
    s_client_address(req, host, sizeof host);
    int64_t wait = gateway_limit_wait(req->http->key_limit, host, cm_mono_ms());
    if (wait <= 0)
        return 0;
    char secs[24], msg[160];
    snprintf(secs, sizeof secs, "%lld", (long long)((wait + 999) / 1000));
    snprintf(msg, sizeof msg, "too many wrong API keys from this address; try again in %s s", secs);
    Crm__FieldViolation v = CRM__FIELD_VIOLATION__INIT;
    v.field = "Authorization";
    v.reason = "RETRY_AFTER";
    v.description = secs;
    Crm__FieldViolation *vs[] = {&v};
    gateway_response_error(resp, CRM__STATUS__STATUS_RESOURCE_EXHAUSTED, msg, vs, 1);
    return -1;
}

/* Sets what the gateway itself puts into a session route's request: the
 * cookie's token, the client's address. 0, or -1 when the request type has
 * no such field (a mistake in the route table). */
static int s_session_fields(struct s_req *req, ProtobufCMessage *msg)
{
    unsigned flags = req->match.route->flags;
    if ((flags & GATEWAY_SESSION_TOKEN) && gateway_call_set_str(msg, "token", req->cookie))
        return -1;
    if (flags & GATEWAY_CLIENT_ADDRESS) {
        char host[NI_MAXHOST];
        s_client_address(req, host, sizeof host);
        if (gateway_call_set_str(msg, "client_address", host))
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The gateway's own routes                                                */

static enum MHD_Result s_local(struct s_req *req)
{
    gateway_http_t *self = req->http;
    struct gateway_response resp = {0};
    switch (req->match.route->kind) {
    case GATEWAY_ROUTE_HEALTHZ:
        return s_send_json(req, 200, json_pack("{s:s}", "status", "ok"));
    case GATEWAY_ROUTE_METRICS:
        resp.code = 200;
        resp.body =
            gateway_metrics_render(self->metrics, gateway_auth_count(self->auth), &resp.body_len);
        resp.content_type = cm_strdup("text/plain; version=0.0.4; charset=utf-8");
        return s_send(req, &resp);
    case GATEWAY_ROUTE_OPENAPI:
        resp.code = 200;
        resp.body = cm_malloc(self->openapi_len);
        memcpy(resp.body, self->openapi, self->openapi_len);
        resp.body_len = self->openapi_len;
        resp.content_type = cm_strdup("application/json; charset=utf-8");
        gateway_response_header(&resp, "Cache-Control", "public, max-age=300");
        return s_send(req, &resp);
    default:
        break;
    }
    return s_send_error(req, CRM__STATUS__STATUS_INTERNAL, "unhandled route");
}

/* Hands the job to the bus thread with a fresh deadline, the connection
 * suspended until done() resumes it. Returns -1 (the job failed with
 * UNAVAILABLE, the connection resumed) when the bus is stopping. */
static int s_hand_over(struct s_req *req, void (*done)(struct gateway_job *))
{
    gateway_http_t *self = req->http;
    struct gateway_job *job = &req->job;
    job->deadline_mono = cm_mono_ms() + self->timeout_ms;
    job->deadline_unix_ms = cm_now_ms() + self->timeout_ms;
    job->done = done;
    job->done_arg = req;
    /* Suspend first: the bus thread may resume before this handler returns. */
    MHD_suspend_connection(req->conn);
    if (gateway_bus_submit(self->bus, job)) {
        job->outcome = GATEWAY_JOB_FAILED;
        job->fail_status = CRM__STATUS__STATUS_UNAVAILABLE;
        snprintf(job->fail_message, sizeof job->fail_message, "the gateway is shutting down");
        MHD_resume_connection(req->conn);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Files streamed a chunk at a time                                        */

/* Runs on the bus thread: the next chunk's call has its outcome. */
static void s_chunk_done(struct gateway_job *job)
{
    struct s_req *req = job->done_arg;
    MHD_resume_connection(req->conn);
}

/* Asks for the chunk at the current cursor: suspends the connection until
 * the answer is in. Returns 0, or -1 when the bus is stopping. */
static int s_chunk_ask(struct s_req *req)
{
    struct gateway_job *job = &req->job;
    if (gateway_call_set_cursor(req->stream_req, req->chunk.next_cursor))
        return -1;
    gateway_job_release(job);
    job->body_len = protobuf_c_message_get_packed_size(req->stream_req);
    job->body = cm_malloc(job->body_len ? job->body_len : 1);
    protobuf_c_message_pack(req->stream_req, job->body);
    req->n_chunks++;
    /* The request's id (at most 64 characters when a client chose it) and the chunk's number. */
    snprintf(job->request_id, sizeof job->request_id, "%.64s.%u", req->request_id, req->n_chunks);
    job->has_pending = false;
    req->chunk_waiting = true;
    if (s_hand_over(req, s_chunk_done)) {
        req->chunk_waiting = false;
        return -1;
    }
    return 0;
}

/* Takes the answer to the call for the next chunk. Returns 0, or -1 when it
 * failed (the client then gets a cut-off transfer, which it can tell from a
 * whole one: the chunked encoding never ends). */
static int s_chunk_take(struct s_req *req)
{
    struct gateway_job *job = &req->job;
    req->chunk_waiting = false;
    gateway_chunk_release(&req->chunk);
    req->chunk_off = 0;
    if (job->outcome != GATEWAY_JOB_REPLIED) {
        cm_log_warn("export cut off at chunk %u: %s", req->n_chunks, job->fail_message);
        return -1;
    }
    struct gateway_response err = {0};
    if (gateway_call_chunk(req->match.route, job->reply.header, job->reply.header_len,
                           job->reply.body, job->reply.body_len, &req->chunk, &err)) {
        cm_log_warn("export cut off at chunk %u: status %d", req->n_chunks, err.code);
        gateway_response_release(&err);
        return -1;
    }
    return 0;
}

/* MHD's content reader: the current chunk's bytes, then the next chunk. */
static ssize_t s_chunk_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct s_req *req = cls;
    cm_log_set_request_id(req->request_id);
    ssize_t rc = 0;
    if (req->chunk_waiting && s_chunk_take(req)) {
        rc = MHD_CONTENT_READER_END_WITH_ERROR;
        goto out;
    }
    for (;;) {
        if (req->chunk_off < req->chunk.len) {
            size_t n = req->chunk.len - req->chunk_off;
            if (n > max)
                n = max;
            memcpy(buf, req->chunk.data + req->chunk_off, n);
            req->chunk_off += n;
            rc = (ssize_t)n;
            goto out;
        }
        if (!req->chunk.next_cursor) {
            rc = MHD_CONTENT_READER_END_OF_STREAM;
            goto out;
        }
        if (s_chunk_ask(req)) {
            rc = MHD_CONTENT_READER_END_WITH_ERROR;
            goto out;
        }
        if (req->chunk_waiting)
            goto out; /* 0: MHD calls again once resumed */
        if (s_chunk_take(req)) {
            rc = MHD_CONTENT_READER_END_WITH_ERROR;
            goto out;
        }
    }
out:
    cm_log_set_request_id(NULL);
    return rc;
}

/* The first chunk is in: the headers go out, then the file as it comes. */
static enum MHD_Result s_stream_start(struct s_req *req)
{
    struct gateway_job *job = &req->job;
    struct gateway_response err = {0};
    if (!req->stream_req ||
        gateway_call_chunk(req->match.route, job->reply.header, job->reply.header_len,
                           job->reply.body, job->reply.body_len, &req->chunk, &err))
        return s_send(req, &err);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, s_chunk_read, req, NULL);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, req->chunk.media_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (req->chunk.filename) {
        char *cd = cm_strfmt("attachment; filename=\"%s\"", req->chunk.filename);
        MHD_add_response_header(r, "Content-Disposition", cd);
        free(cd);
    }
    enum MHD_Result rc = MHD_queue_response(req->conn, 200, r);
    MHD_destroy_response(r);
    req->code = 200;
    req->state = S_DONE;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Handing work to the bus thread                                          */

/* Runs on the bus thread: the job has its outcome; wake the connection (its
 * answer is written by the next MHD_run on the same thread). This must be the
 * last touch: once resumed, the request may complete and go. */
static void s_job_done(struct gateway_job *job)
{
    struct s_req *req = job->done_arg;
    MHD_resume_connection(req->conn);
}

static enum MHD_Result s_submit(struct s_req *req)
{
    struct gateway_job *job = &req->job;
    snprintf(job->request_id, sizeof job->request_id, "%s", req->request_id);
    req->state = S_WAITING;
    (void)s_hand_over(req, s_job_done); /* a failure is answered once resumed */
    return MHD_YES;
}

static enum MHD_Result s_ready(struct s_req *req)
{
    struct gateway_job *job = &req->job;
    job->kind = GATEWAY_JOB_READY;
    job->services = req->http->services;
    job->n_services = req->http->n_services;
    snprintf(job->channel, sizeof job->channel, "api");
    return s_submit(req);
}

/* The call of a bus route, once the whole body is in. */
static enum MHD_Result s_call(struct s_req *req)
{
    gateway_http_t *self = req->http;
    const struct gateway_route *route = req->match.route;
    struct gateway_job *job = &req->job;
    const char *q = strchr(req->uri, '?');
    struct gateway_input in = {
        .match = &req->match,
        .query = q ? q + 1 : NULL,
        .content_type = s_header(req, MHD_HTTP_HEADER_CONTENT_TYPE),
        .if_match = s_header(req, MHD_HTTP_HEADER_IF_MATCH),
        .body = req->body.data,
        .body_len = req->body.len,
    };
    ProtobufCMessage *msg = gateway_call_build(&in, &req->pending);
    cm_buf_release(&req->body);
    if (msg && s_session_fields(req, msg))
        return s_send_error(req, CRM__STATUS__STATUS_INTERNAL, "session route without its fields");
    if (msg) {
        job->body_len = protobuf_c_message_get_packed_size(msg);
        job->body = cm_malloc(job->body_len ? job->body_len : 1);
        protobuf_c_message_pack(msg, job->body);
        if (route->flags & GATEWAY_STREAM_REPLY)
            req->stream_req = msg; /* asked again for each next chunk */
        else
            protobuf_c_message_free_unpacked(msg, NULL);
    }
    job->kind = GATEWAY_JOB_CALL;
    job->has_pending = msg == NULL;
    job->scopes = route->scopes;
    snprintf(job->service, sizeof job->service, "%s", route->service);
    snprintf(job->method, sizeof job->method, "%s.%s", route->service, route->rpc);
    snprintf(job->channel, sizeof job->channel, "%s", gateway_channel(s_header(req, "X-Channel")));
    const char *ik = s_header(req, "Idempotency-Key");
    if (ik)
        snprintf(job->idempotency_key, sizeof job->idempotency_key, "%s", ik);
    else if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD"))
        cm_uuid(job->idempotency_key);

    if (!(route->flags & GATEWAY_PUBLIC)) {
        uint8_t hash[GATEWAY_AUTH_HASH];
        gateway_auth_hash_cred(req->api_key, req->session, hash);
        int known = gateway_auth_lookup(self->auth, hash, cm_mono_ms(), &job->ident);
        struct gateway_response locked = {0};
        if (known <= 0 && s_key_locked(req, &locked))
            return s_send(req, &locked);
        if (known < 0) {
            s_key_failed(req);
            return s_send_error(req, CRM__STATUS__STATUS_UNAUTHENTICATED, s_bad_cred(req));
        }
        if (known == 0) {
            job->api_key = req->api_key;
            job->session = req->session;
            req->api_key = NULL;
        }
        /* The route's scopes before anything else is said about the request
         * (an unknown key: once it proves good). The service checks again. */
        char why[160];
        if (known > 0 && !gateway_auth_allows(&job->ident, route->scopes, why, sizeof why))
            return s_send_error(req, CRM__STATUS__STATUS_PERMISSION_DENIED, why);
    }
    /* A bad request from a known key is answered at once; from an unknown key
     * only after the key proves good, so strangers learn nothing. */
    if (job->has_pending && !job->api_key)
        return s_send(req, &req->pending);
    return s_submit(req);
}

/* Resumed: turn the job's outcome into the answer. */
static enum MHD_Result s_answer(struct s_req *req)
{
    struct gateway_job *job = &req->job;
    struct gateway_response resp = {0};
    snprintf(req->request_id, sizeof req->request_id, "%s", job->request_id);
    if (job->kind == GATEWAY_JOB_READY) {
        json_t *failing = json_array();
        for (size_t i = 0; i < job->n_services; i++)
            if (!job->ready || !job->ready[i])
                json_array_append_new(failing, json_string(job->services[i]));
        if (json_array_size(failing) == 0) {
            json_decref(failing);
            return s_send_json(req, 200, json_pack("{s:s}", "status", "ok"));
        }
        return s_send_json(req, 503,
                           json_pack("{s:s, s:o}", "status", "unavailable", "failing", failing));
    }
    switch (job->outcome) {
    case GATEWAY_JOB_REPLIED:
        if (req->match.route->flags & GATEWAY_STREAM_REPLY)
            return s_stream_start(req);
        gateway_call_reply(req->match.route, job->reply.header, job->reply.header_len,
                           job->reply.body, job->reply.body_len,
                           s_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH), &resp);
        gateway_session_after(req->match.route, job->reply.body, job->reply.body_len, s_secure(req),
                              req->http->auth, &resp);
        return s_send(req, &resp);
    case GATEWAY_JOB_PENDING:
        return s_send(req, &req->pending);
    case GATEWAY_JOB_FAILED:
        if (job->fail_status == CRM__STATUS__STATUS_UNAUTHENTICATED)
            s_key_failed(req);
        return s_send_error(req, job->fail_status, job->fail_message);
    }
    return s_send_error(req, CRM__STATUS__STATUS_INTERNAL, "request lost its outcome");
}

/* ---------------------------------------------------------------------- */
/* Files uploaded a part at a time                                         */

/* Hands the request's API key to the job when the cache does not know it
 * (the bus thread checks it first). Returns 0, or -1 for a key known bad. */
static int s_auth(struct s_req *req)
{
    struct gateway_job *job = &req->job;
    if ((req->match.route->flags & GATEWAY_PUBLIC) || !req->api_key)
        return 0;
    uint8_t hash[GATEWAY_AUTH_HASH];
    gateway_auth_hash_cred(req->api_key, req->session, hash);
    int known = gateway_auth_lookup(req->http->auth, hash, cm_mono_ms(), &job->ident);
    if (known < 0)
        return -1;
    job->scopes = req->match.route->scopes;
    if (known == 0) {
        job->api_key = req->api_key;
        job->session = req->session;
        req->api_key = NULL;
    }
    return 0;
}

/* Makes the job a call of the route's service's rpc, on the request's channel. */
static void s_job_call(struct s_req *req, const char *rpc)
{
    const struct gateway_route *route = req->match.route;
    struct gateway_job *job = &req->job;
    job->kind = GATEWAY_JOB_CALL;
    job->has_pending = false;
    snprintf(job->service, sizeof job->service, "%s", route->service);
    snprintf(job->method, sizeof job->method, "%s.%s", route->service, rpc);
    snprintf(job->channel, sizeof job->channel, "%s", gateway_channel(s_header(req, "X-Channel")));
}

/* Sends the part filled so far: suspends until its answer is in. */
static enum MHD_Result s_part_send(struct s_req *req)
{
    const struct gateway_route *route = req->match.route;
    struct gateway_job *job = &req->job;
    gateway_job_release(job);
    if (req->n_parts == 0 && s_auth(req))
        return s_send_error(req, CRM__STATUS__STATUS_UNAUTHENTICATED, s_bad_cred(req));
    job->body = gateway_call_pack_part(route->part_request, req->upload_id, req->n_parts,
                                       req->part.data, req->part.len, &job->body_len);
    if (!job->body)
        return s_send_error(req, CRM__STATUS__STATUS_INTERNAL, "upload route without parts");
    cm_buf_reset(&req->part);
    s_job_call(req, route->part_rpc);
    snprintf(job->request_id, sizeof job->request_id, "%.64s.p%d", req->request_id, req->n_parts);
    req->n_parts++;
    req->part_waiting = true;
    (void)s_hand_over(req, s_chunk_done); /* a failure is answered once resumed */
    return MHD_YES;
}

/* The answer to a part's call: true (resp filled) when it failed. */
static bool s_part_failed(struct s_req *req, struct gateway_response *resp)
{
    struct gateway_job *job = &req->job;
    if (job->outcome == GATEWAY_JOB_FAILED) {
        gateway_response_error(resp, job->fail_status, job->fail_message, NULL, 0);
        return true;
    }
    if (job->outcome != GATEWAY_JOB_REPLIED) {
        gateway_response_error(resp, CRM__STATUS__STATUS_INTERNAL, "upload lost its outcome", NULL,
                               0);
        return true;
    }
    Crm__ReplyHeader *rh =
        crm__reply_header__unpack(NULL, job->reply.header_len, job->reply.header);
    bool failed = !rh || rh->status != CRM__STATUS__STATUS_OK;
    if (!rh)
        gateway_response_error(resp, CRM__STATUS__STATUS_INTERNAL,
                               "malformed reply header from the service", NULL, 0);
    else if (failed)
        gateway_response_error(resp, rh->status, rh->message, rh->details, rh->n_details);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return failed;
}

/* The route's own call once every part is stored. */
static enum MHD_Result s_upload_done(struct s_req *req)
{
    const struct gateway_route *route = req->match.route;
    struct gateway_job *job = &req->job;
    gateway_job_release(job);
    if (req->n_parts == 0 && s_auth(req))
        return s_send_error(req, CRM__STATUS__STATUS_UNAUTHENTICATED, s_bad_cred(req));
    if (gateway_call_set_upload(req->stream_req, req->upload_id, req->n_parts))
        return s_send_error(req, CRM__STATUS__STATUS_INTERNAL, "upload route without upload_id");
    job->body_len = protobuf_c_message_get_packed_size(req->stream_req);
    job->body = cm_malloc(job->body_len ? job->body_len : 1);
    protobuf_c_message_pack(req->stream_req, job->body);
    s_job_call(req, route->rpc);
    const char *ik = s_header(req, "Idempotency-Key");
    if (ik)
        snprintf(job->idempotency_key, sizeof job->idempotency_key, "%s", ik);
    else
        cm_uuid(job->idempotency_key);
    return s_submit(req);
}

/* Takes a piece of an uploaded file: fills the part, sends it when full. */
static enum MHD_Result s_upload(struct s_req *req, const char *data, size_t *size)
{
    if (req->part_waiting) {
        req->part_waiting = false;
        struct gateway_response resp = {0};
        if (s_part_failed(req, &resp))
            return s_send(req, &resp);
    }
    size_t n = *size;
    if (n) {
        if (req->over || req->seen + n > req->limit) {
            if (!req->over)
                cm_buf_release(&req->part);
            req->over = true;
            req->seen += n;
            *size = 0;
            return req->seen - req->limit > DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        size_t take = GATEWAY_UPLOAD_PART - req->part.len;
        if (take > n)
            take = n;
        if (cm_buf_append(&req->part, data, take))
            abort(); /* the part's cap is GATEWAY_UPLOAD_PART */
        req->seen += take;
        *size = n - take;
        if (req->part.len == GATEWAY_UPLOAD_PART)
            return s_part_send(req);
        return MHD_YES;
    }
    if (req->over) {
        char *msg = cm_strfmt("the file exceeds %zu bytes", req->limit);
        enum MHD_Result rc = s_send_error_http(req, 413, "RESOURCE_EXHAUSTED", msg);
        free(msg);
        return rc;
    }
    if (req->part.len)
        return s_part_send(req);
    return s_upload_done(req);
}

/* ---------------------------------------------------------------------- */
/* The request's first look: route, auth header, body framing              */

/* True when the client waits for "100 Continue" before it sends its body. */
static bool s_expects_continue(struct s_req *req)
{
    const char *e = s_header(req, MHD_HTTP_HEADER_EXPECT);
    return e && strcasecmp(e, "100-continue") == 0;
}

/* Refuses the request. The answer waits for MHD's final call, after the body
 * (if any) has been read and thrown away, so that a client that writes its
 * whole body before it reads (most HTTP libraries without Expect) reads the
 * answer instead of a broken pipe. It goes at once, and MHD closes the
 * connection unread, when the client waits for "100 Continue" (it then sends
 * nothing) or declares a body more than DISCARD_MAX past the limit. */
static enum MHD_Result s_refuse(struct s_req *req, struct gateway_response *resp)
{
    if (req->has_body &&
        (s_expects_continue(req) || (size_t)req->declared > req->limit + DISCARD_MAX))
        return s_send(req, resp);
    req->keep_body = false;
    req->early = *resp;
    memset(resp, 0, sizeof *resp);
    req->has_early = true;
    req->state = S_BODY;
    return MHD_YES;
}

static enum MHD_Result s_refuse_status(struct s_req *req, int status, const char *message)
{
    struct gateway_response resp = {0};
    gateway_response_error(&resp, status, message, NULL, 0);
    return s_refuse(req, &resp);
}

/* Takes n more bytes of the body budget for req. Returns 0, or -1 (and
 * counts a refusal) when they would pass it. */
static int s_budget_take(struct s_req *req, size_t n)
{
    gateway_http_t *self = req->http;
    if (n > self->body_budget - self->body_held) {
        gateway_metrics_body_held(self->metrics, self->body_held, true);
        return -1;
    }
    self->body_held += n;
    req->held += n;
    gateway_metrics_body_held(self->metrics, self->body_held, false);
    return 0;
}

/* Gives back what req holds of the body budget; safe twice. */
static void s_budget_release(struct s_req *req)
{
    gateway_http_t *self = req->http;
    if (!req->held)
        return;
    self->body_held -= req->held;
    req->held = 0;
    gateway_metrics_body_held(self->metrics, self->body_held, false);
}

/* The answer to a body the budget has no room for now: 503, come back in a second. */
static void s_budget_refusal(struct gateway_response *resp)
{
    gateway_response_error_http(resp, 503, "UNAVAILABLE",
                                "the gateway holds too many request bodies at once; "
                                "retry after the time in Retry-After");
    gateway_response_header(resp, "Retry-After", BODY_BUDGET_RETRY_AFTER);
}

/* The bytes of the budget a request takes before its body comes: what it
 * keeps of a declared body (an upload, a part at a time). A body of unknown
 * length (chunked) takes its share as it arrives (s_take). */
static size_t s_budget_want(const struct s_req *req)
{
    if (!req->has_body)
        return 0;
    if (req->uploading)
        return req->declared > 0 && (size_t)req->declared < GATEWAY_UPLOAD_PART
                   ? (size_t)req->declared
                   : GATEWAY_UPLOAD_PART;
    return req->keep_body && req->declared > 0 ? (size_t)req->declared : 0;
}

/* How many parameters a query ("?a=1&b=2", or "") holds: its non-empty
 * '&'-separated parts. */
static size_t s_query_params(const char *q)
{
    size_t n = 0;
    if (*q == '?')
        q++;
    while (*q) {
        size_t len = strcspn(q, "&");
        n += len > 0;
        q += len + (q[len] == '&');
    }
    return n;
}

static enum MHD_Result s_begin(struct s_req *req)
{
    gateway_http_t *self = req->http;
    const char *rid = s_header(req, "X-Request-Id");
    if (rid && gateway_request_id_valid(rid))
        snprintf(req->request_id, sizeof req->request_id, "%s", rid);
    else
        cm_uuid(req->request_id);
    cm_log_set_request_id(req->request_id);

    const char *cl = s_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    long length = 0;
    if (cl && cm_parse_long(cl, 0, (long)(~0UL >> 1), &length))
        length = 0;
    req->has_body = length > 0 || s_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    req->declared = length;
    req->limit = self->max_body;
    cm_buf_init(&req->body, req->limit);

    size_t plen = strcspn(req->uri, "?");
    char *path = cm_strndup(req->uri, plen);
    enum MHD_Result rc = MHD_YES;
    char *msg = NULL;
    struct gateway_response resp = {0};
    if (strlen(req->uri) > GATEWAY_MAX_TARGET) {
        msg = cm_strfmt("request target (path and query) exceeds %d bytes", GATEWAY_MAX_TARGET);
        gateway_response_error_http(&resp, 414, "INVALID_ARGUMENT", msg);
        rc = s_refuse(req, &resp);
        goto out;
    }
    if (s_query_params(req->uri + plen) > GATEWAY_MAX_QUERY_PARAMS) {
        msg = cm_strfmt("more than %d query parameters", GATEWAY_MAX_QUERY_PARAMS);
        rc = s_refuse_status(req, CRM__STATUS__STATUS_INVALID_ARGUMENT, msg);
        goto out;
    }
    /* The web UI's files: answered at once, like a refusal, as no body is wanted. */
    if (gateway_static_claims(path)) {
        req->route_label = "/ui";
        gateway_static_serve(self->ui, req->method, path,
                             s_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH), &resp);
        rc = s_refuse(req, &resp);
        goto out;
    }
    enum gateway_match_result mr =
        gateway_routes_match(gateway_routes, gateway_n_routes, req->method, path, &req->match);
    switch (mr) {
    case GATEWAY_MATCH_OK:
        break;
    case GATEWAY_MATCH_NO_ROUTE:
        msg = cm_strfmt("no route for %s %.200s", req->method, path);
        rc = s_refuse_status(req, CRM__STATUS__STATUS_NOT_FOUND, msg);
        goto out;
    case GATEWAY_MATCH_NO_METHOD:
        msg = cm_strfmt("method %s is not allowed on %.200s", req->method, path);
        gateway_response_error_http(&resp, 405, "UNIMPLEMENTED", msg);
        gateway_response_header(&resp, "Allow", req->match.allow);
        rc = s_refuse(req, &resp);
        goto out;
    case GATEWAY_MATCH_BAD_PARAM:
        req->route_label = req->match.route->pattern;
        rc = s_refuse_status(req, CRM__STATUS__STATUS_NOT_FOUND, "invalid id");
        goto out;
    }
    const struct gateway_route *route = req->match.route;
    req->route_label = route->pattern;
    req->limit = route->max_body ? route->max_body : self->max_body;
    req->keep_body = route->kind == GATEWAY_ROUTE_BUS && route->body;
    cm_buf_init(&req->body, req->limit);

    const char *ik = s_header(req, "Idempotency-Key");
    if (ik && !gateway_idempotency_key_valid(ik)) {
        rc = s_refuse_status(req, CRM__STATUS__STATUS_INVALID_ARGUMENT,
                             "Idempotency-Key must be 1 to 128 printable ASCII characters");
        goto out;
    }
    if (route->kind == GATEWAY_ROUTE_BUS) {
        struct gateway_response refusal = {0};
        if (s_credentials(req, &refusal)) {
            rc = s_refuse(req, &refusal);
            goto out;
        }
    }
    if (length > 0 && (size_t)length > req->limit) {
        msg = cm_strfmt("request body exceeds %zu bytes", req->limit);
        gateway_response_error_http(&resp, 413, "RESOURCE_EXHAUSTED", msg);
        rc = s_refuse(req, &resp);
        goto out;
    }
    if (route->flags & GATEWAY_STREAM_BODY) {
        /* The query is checked before any of the file is taken. */
        const char *q = strchr(req->uri, '?');
        struct gateway_input in = {.match = &req->match, .query = q ? q + 1 : NULL};
        req->stream_req = gateway_call_build(&in, &resp);
        if (!req->stream_req) {
            rc = s_refuse(req, &resp);
            goto out;
        }
        req->uploading = true;
        cm_uuid(req->upload_id);
        cm_buf_init(&req->part, GATEWAY_UPLOAD_PART);
    }
    if (req->has_body && req->keep_body && !(route->flags & GATEWAY_RAW_BODY) &&
        !gateway_content_type_is_json(s_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        gateway_response_error_http(&resp, 415, "INVALID_ARGUMENT",
                                    "Content-Type must be application/json");
        rc = s_refuse(req, &resp);
        goto out;
    }
    size_t want = s_budget_want(req);
    if (want > self->body_budget) {
        msg = cm_strfmt("request body exceeds the gateway's body budget of %zu bytes",
                        self->body_budget);
        gateway_response_error_http(&resp, 413, "RESOURCE_EXHAUSTED", msg);
        rc = s_refuse(req, &resp);
        goto out;
    }
    if (s_budget_take(req, want)) {
        s_budget_refusal(&resp);
        rc = s_refuse(req, &resp);
        goto out;
    }
    req->state = S_BODY;
out:
    gateway_response_release(&resp);
    free(msg);
    free(path);
    return rc;
}

/* Takes a piece of the body, keeping it only for routes that take one and
 * only up to the limit. Returns MHD_NO to drop a connection that keeps sending
 * far past the limit. */
static enum MHD_Result s_take(struct s_req *req, const char *data, size_t n)
{
    /* A body of unknown length takes its budget as it comes; without room it
     * is read on and thrown away, and answered 503. */
    if (req->keep_body && !req->over && req->seen + n <= req->limit && req->seen + n > req->held &&
        s_budget_take(req, req->seen + n - req->held)) {
        req->over_budget = true;
        req->keep_body = false;
        cm_buf_release(&req->body);
        s_budget_release(req);
    }
    if (!req->over && req->seen + n <= req->limit) {
        req->seen += n;
        /* The buffer's cap is the limit, so this append cannot fail. */
        if (req->keep_body && cm_buf_append(&req->body, data, n))
            req->over = true;
        return MHD_YES;
    }
    if (!req->over) {
        /* Keep nothing more; the 413 goes out once the client is done. */
        req->over = true;
        cm_buf_release(&req->body);
    }
    req->seen += n;
    return req->seen - req->limit > DISCARD_MAX ? MHD_NO : MHD_YES;
}

static enum MHD_Result s_dispatch(struct s_req *req, const char *upload_data,
                                  size_t *upload_data_size)
{
    switch (req->state) {
    case S_NEW:
        return s_begin(req);
    case S_BODY:
        if (req->uploading && !req->has_early)
            return s_upload(req, upload_data, upload_data_size);
        if (*upload_data_size) {
            size_t n = *upload_data_size;
            *upload_data_size = 0;
            return s_take(req, upload_data, n);
        }
        if (req->has_early)
            return s_send(req, &req->early);
        if (req->over_budget) {
            struct gateway_response resp = {0};
            s_budget_refusal(&resp);
            return s_send(req, &resp);
        }
        if (req->over) {
            char *msg = cm_strfmt("request body exceeds %zu bytes", req->limit);
            enum MHD_Result rc = s_send_error_http(req, 413, "RESOURCE_EXHAUSTED", msg);
            free(msg);
            return rc;
        }
        if (req->match.route->kind == GATEWAY_ROUTE_BUS)
            return s_call(req);
        if (req->match.route->kind == GATEWAY_ROUTE_READYZ)
            return s_ready(req);
        return s_local(req);
    case S_WAITING:
        return s_answer(req);
    case S_DONE:
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_NO;
}

/* ---------------------------------------------------------------------- */
/* MHD callbacks                                                           */

static void *s_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    gateway_http_t *self = cls;
    struct s_req *req = cm_calloc(1, sizeof *req);
    req->http = self;
    req->conn = conn;
    req->uri = cm_strdup(uri ? uri : "/");
    req->start = cm_mono_ms();
    req->route_label = "unmatched";
    gateway_metrics_in_flight(self->metrics, 1);
    atomic_fetch_add(&self->in_flight, 1);
    return req;
}

static enum MHD_Result s_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct s_req *req = *req_cls;
    if (!req) {
        /* The URI log callback makes it; keep going if some path skipped it. */
        req = s_uri_log(cls, url, conn);
        *req_cls = req;
    }
    if (req->state == S_NEW)
        snprintf(req->method, sizeof req->method, "%s", method);
    else
        cm_log_set_request_id(req->request_id);
    enum MHD_Result rc = s_dispatch(req, upload_data, upload_data_size);
    cm_log_set_request_id(NULL);
    return rc;
}

/* The path for the log: no query string (it may hold personal data), printable only. */
static void s_log_path(const char *uri, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = uri; *p && *p != '?' && o + 1 < size; p++)
        out[o++] = (*p > 0x20 && *p < 0x7f) ? *p : '?';
    out[o] = '\0';
}

static void s_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    gateway_http_t *self = cls;
    struct s_req *req = *req_cls;
    if (!req)
        return;
    *req_cls = NULL;
    double seconds = (double)(cm_mono_ms() - req->start) / 1000.0;
    /* Failed, unanswered and slow requests at info; the rest at debug (the
     * metrics count every one). */
    cm_log_level_t level =
        cm_log_request_level(req->code == 0 || req->code >= 400, (long long)(seconds * 1000.0));
    if (cm_log_level >= level) {
        char path[256];
        s_log_path(req->uri, path, sizeof path);
        if (req->request_id[0])
            cm_log_set_request_id(req->request_id);
        if (req->code)
            cm_log_write(level, "%s %s status=%d duration_ms=%.0f",
                         req->method[0] ? req->method : "-", path, req->code, seconds * 1000.0);
        else
            cm_log_write(level, "%s %s status=0 duration_ms=%.0f (no response: %s)",
                         req->method[0] ? req->method : "-", path, seconds * 1000.0,
                         toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED   ? "timed out"
                         : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT    ? "client went away"
                         : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutting down"
                                                                         : "connection error");
    }
    cm_log_set_request_id(NULL);
    if (req->code)
        gateway_metrics_http(self->metrics, req->route_label, req->method, req->code, seconds);
    gateway_metrics_in_flight(self->metrics, -1);
    atomic_fetch_sub(&self->in_flight, 1);

    s_budget_release(req);
    gateway_job_release(&req->job);
    gateway_chunk_release(&req->chunk);
    cm_buf_release(&req->part);
    if (req->stream_req)
        protobuf_c_message_free_unpacked(req->stream_req, NULL);
    gateway_response_release(&req->pending);
    gateway_response_release(&req->early);
    cm_buf_release(&req->body);
    if (req->api_key) {
        sodium_memzero(req->api_key, strlen(req->api_key));
        free(req->api_key);
    }
    if (req->cookie) {
        sodium_memzero(req->cookie, strlen(req->cookie));
        free(req->cookie);
    }
    free(req->uri);
    free(req);
}

/* MHD's messages, as warnings in our log format. */
static void s_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    cm_log_warn("libmicrohttpd: %s", line);
}

/* ---------------------------------------------------------------------- */
/* The daemon on the bus thread's loop                                     */

static long s_host_timeout(void *arg)
{
    gateway_http_t *self = arg;
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(self->daemon, &ms) != MHD_YES)
        return -1;
    return ms > 60000 ? 60000 : (long)ms;
}

/* The daemon runs in its select mode, not epoll: epoll would take every
 * suspended connection out of its set and put it back on resume, two system
 * calls per request, and read each keep-alive connection once more than
 * needed. The sets are rebuilt per loop instead, which costs no system call.
 * MAX_CONNECTIONS keeps descriptors under FD_SETSIZE. */
static size_t s_host_watch(void *arg, zmq_pollitem_t *items, size_t cap)
{
    gateway_http_t *self = arg;
    fd_set rs, ws, es;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_ZERO(&es);
    MHD_socket max = -1;
    if (MHD_get_fdset2(self->daemon, &rs, &ws, &es, &max, FD_SETSIZE) != MHD_YES)
        return 0;
    size_t n = 0;
    for (MHD_socket fd = 0; fd <= max && fd < FD_SETSIZE && n < cap; fd++) {
        short events = 0;
        if (FD_ISSET(fd, &rs))
            events |= ZMQ_POLLIN;
        if (FD_ISSET(fd, &ws))
            events |= ZMQ_POLLOUT;
        if (FD_ISSET(fd, &es))
            events |= ZMQ_POLLPRI;
        if (events)
            items[n++] = (zmq_pollitem_t){NULL, fd, events, 0};
    }
    return n;
}

/* An error or hang-up on a descriptor counts as ready for what it waited
 * for: the read or write that follows finds out. */
static void s_host_run(void *arg, const zmq_pollitem_t *items, size_t n)
{
    gateway_http_t *self = arg;
    fd_set rs, ws, es;
    FD_ZERO(&rs);
    FD_ZERO(&ws);
    FD_ZERO(&es);
    for (size_t i = 0; i < n; i++) {
        short got = items[i].revents, want = items[i].events;
        if (!got)
            continue;
        bool err = got & ZMQ_POLLERR;
        if ((want & ZMQ_POLLIN) && (err || (got & ZMQ_POLLIN)))
            FD_SET(items[i].fd, &rs);
        if ((want & ZMQ_POLLOUT) && (err || (got & ZMQ_POLLOUT)))
            FD_SET(items[i].fd, &ws);
        if ((want & ZMQ_POLLPRI) && (err || (got & ZMQ_POLLPRI)))
            FD_SET(items[i].fd, &es);
    }
    if (MHD_run_from_select(self->daemon, &rs, &ws, &es) != MHD_YES)
        cm_log_debug("MHD_run_from_select reported a failure");
}

static bool s_host_busy(void *arg)
{
    gateway_http_t *self = arg;
    return atomic_load(&self->in_flight) > 0;
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

int gateway_http_parse_addr(const char *text, struct sockaddr_storage *addr, socklen_t *len)
{
    char host[256], port[16];
    const char *colon;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return -1;
        snprintf(host, sizeof host, "%.*s", (int)(close - text - 1), text + 1);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || colon == text || memchr(text, ':', (size_t)(colon - text)))
            return -1;
        snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
    }
    long p;
    if (cm_parse_long(colon + 1, 0, 65535, &p))
        return -1;
    snprintf(port, sizeof port, "%ld", p);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) || !res)
        return -1;
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Splits "customers, search" into names of [a-z0-9_.-]. */
static int s_services(gateway_http_t *self, const char *list)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        const char *s = p;
        size_t n = len;
        while (n && *s == ' ')
            s++, n--;
        while (n && s[n - 1] == ' ')
            n--;
        if (n) {
            if (n > 60 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") < n)
                return -1;
            self->services =
                cm_realloc(self->services, (self->n_services + 1) * sizeof *self->services);
            self->services[self->n_services++] = cm_strndup(s, n);
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

gateway_http_t *gateway_http_new(const struct gateway_config *cfg, gateway_bus_t *bus,
                                 gateway_auth_t *auth, gateway_metrics_t *metrics, char *err,
                                 size_t errsz)
{
    gateway_http_t *self = cm_calloc(1, sizeof *self);
    atomic_init(&self->in_flight, 0);
    self->bus = bus;
    self->auth = auth;
    self->metrics = metrics;
    self->cookie_secure = cfg->cookie_secure;
    self->trusted_proxies = cfg->trusted_proxies;
    /* A configuration without the limit's settings (tests) gets main's defaults. */
    struct gateway_limit_cfg lc = {
        .max_failures = cfg->key_failures > 0 ? cfg->key_failures : 20,
        .window_ms = (cfg->key_failure_window_s > 0 ? cfg->key_failure_window_s : 60) * 1000,
        .lock_ms = (cfg->key_lockout_s > 0 ? cfg->key_lockout_s : 60) * 1000,
        .lock_max_ms = (cfg->key_lockout_max_s > 0 ? cfg->key_lockout_max_s : 900) * 1000};
    self->key_limit = gateway_limit_new(&lc, GATEWAY_KEY_LIMIT_ENTRIES);
    self->timeout_ms = cfg->request_timeout_ms;
    self->max_body = (size_t)cfg->max_body_bytes;
    self->body_budget =
        (size_t)(cfg->body_budget_bytes > 0 ? cfg->body_budget_bytes : BODY_BUDGET_DEFAULT);
    struct sockaddr_storage addr;
    socklen_t alen;
    if (gateway_http_parse_addr(cfg->http_addr, &addr, &alen)) {
        snprintf(err, errsz, "http_addr: cannot use \"%s\" (want host:port)", cfg->http_addr);
        goto fail;
    }
    if (s_services(self, cfg->services ? cfg->services : "")) {
        snprintf(err, errsz, "services: \"%s\" is not a comma list of service names",
                 cfg->services);
        goto fail;
    }
    json_t *doc = gateway_openapi_build(gateway_routes, gateway_n_routes);
    self->openapi = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!self->openapi) {
        snprintf(err, errsz, "could not build the OpenAPI document");
        goto fail;
    }
    self->openapi_len = strlen(self->openapi);
    char *ui_dir = gateway_static_find_dir(cfg->ui_dir, "/proc/self/exe");
    if (!ui_dir && cfg->ui_dir && cfg->ui_dir[0]) {
        snprintf(err, errsz, "ui_dir: \"%s\" is not a directory", cfg->ui_dir);
        goto fail;
    }
    if (ui_dir) {
        self->ui = gateway_static_new(ui_dir);
        cm_log_info("web UI from %s", ui_dir);
        free(ui_dir);
    } else {
        cm_log_warn("no web UI: services/gateway/ui not found near the program; set ui_dir");
    }

    /* Idle connections go after a minute; never before a request could end. */
    unsigned idle_s = (unsigned)(cfg->request_timeout_ms / 1000 + 5);
    if (idle_s < 60)
        idle_s = 60;
    unsigned flags = MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG; // select mode: s_host_watch
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_handler, self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        CONNECTION_POOL_BYTES, MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
        MHD_OPTION_URI_LOG_CALLBACK, s_uri_log, self, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf(err, errsz, "could not listen on %s", cfg->http_addr);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : 0;
    struct gateway_bus_host host = {
        .watch = s_host_watch,
        .timeout = s_host_timeout,
        .run = s_host_run,
        .busy = s_host_busy,
        .arg = self,
    };
    gateway_bus_attach(self->bus, &host);
    self->attached = true;
    return self;
fail:
    gateway_http_destroy(&self);
    return NULL;
}

/* On the bus thread, like everything that touches the daemon. */
static void s_quiesce(void *arg)
{
    gateway_http_t *self = arg;
    MHD_socket fd = MHD_quiesce_daemon(self->daemon);
    /* MHD hands the listening socket back; it is ours to close now. */
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void gateway_http_quiesce(gateway_http_t *self)
{
    gateway_bus_call(self->bus, s_quiesce, self);
}

bool gateway_http_wait_idle(gateway_http_t *self, long timeout_ms)
{
    int64_t until = cm_mono_ms() + timeout_ms;
    while (atomic_load(&self->in_flight) > 0) {
        if (cm_mono_ms() >= until)
            return false;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return true;
}

uint16_t gateway_http_port(const gateway_http_t *self)
{
    return self->port;
}

void gateway_http_destroy(gateway_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_http_t *self = *self_p;
    if (self->attached)
        gateway_bus_attach(self->bus, NULL);
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    for (size_t i = 0; i < self->n_services; i++)
        free(self->services[i]);
    free(self->services);
    free(self->openapi);
    gateway_static_destroy(&self->ui);
    gateway_limit_destroy(&self->key_limit);
    free(self);
    *self_p = NULL;
}
