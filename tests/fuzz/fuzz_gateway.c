/* Fuzzes the gateway's request parsing without a socket: the route matcher
 * (method + raw path), query strings and bodies through gateway_call_build,
 * the header parsers, and the turning of bus replies into HTTP responses.
 *
 * Input, request mode (first byte < 0x80): the first byte picks the method;
 * then lines: path, query, Content-Type, If-Match, X-Request-Id; the rest is
 * the body. Reply mode (first byte >= 0x80): a byte picks the route, two bytes
 * give the ReplyHeader's length, then the header, then the response body. */
#include "fuzz.h"
#include "gateway_call.h"
#include "gateway_routes.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdbool.h>
#include <strings.h>

static const char *const s_methods[] = {"GET",    "POST", "PUT",     "PATCH",
                                        "DELETE", "HEAD", "OPTIONS", "get"};

/* A table that is not the real one, for what the real one does not have (yet):
 * custom verbs and the most parameters a pattern may hold. */
static const struct gateway_route s_extra[] = {
    {"POST", "/v1/things/{id}:merge", .success = 200},
    {"GET", "/v1/things/{id}", .success = 200},
    {"GET", "/a/{a}/b/{b}/{c}/{d}", .success = 200},
    {"GET", "/a/{a}/b/{b}/{c}/{d}/{e}", .success = 200}, // one too many: never matches
    {"DELETE", "/", .success = 204},
};

static bool s_id_char(char c, bool dot)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || (dot && c == '.');
}

/* The documented shape, written independently of the code under test. */
static bool s_ref_id(const char *s, bool dot)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!s_id_char(s[i], dot))
            return false;
    return true;
}

/* True when allow ("GET, HEAD, PATCH") lists method. */
static bool s_allow_has(const char *allow, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = allow; *p;) {
        const char *e = strstr(p, ", ");
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !memcmp(p, method, n))
            return true;
        p += e ? len + 2 : len;
    }
    return false;
}

static enum gateway_match_result s_match(const struct gateway_route *routes, size_t n,
                                         const char *method, const char *path,
                                         struct gateway_match *m)
{
    enum gateway_match_result r = gateway_routes_match(routes, n, method, path, m);
    const char *want = strcmp(method, "HEAD") ? method : "GET";
    switch (r) {
    case GATEWAY_MATCH_OK:
        FUZZ_CHECK(m->route >= routes && m->route < routes + n);
        FUZZ_CHECK(!strcmp(m->route->method, want));
        FUZZ_CHECK(m->n_params <= GATEWAY_MAX_PARAMS);
        for (size_t i = 0; i < m->n_params; i++) {
            FUZZ_CHECK(m->params[i].name[0]);
            FUZZ_CHECK(strstr(m->route->pattern, m->params[i].name));
            FUZZ_CHECK(s_ref_id(m->params[i].value, false));
        }
        break;
    case GATEWAY_MATCH_BAD_PARAM:
        FUZZ_CHECK(m->route >= routes && m->route < routes + n);
        FUZZ_CHECK(m->n_params > 0);
        break;
    case GATEWAY_MATCH_NO_METHOD:
        FUZZ_CHECK(m->route == NULL);
        FUZZ_CHECK(m->allow[0]);
        FUZZ_CHECK(!s_allow_has(m->allow, want)); // else it would have matched
        break;
    case GATEWAY_MATCH_NO_ROUTE:
        FUZZ_CHECK(m->route == NULL);
        break;
    default:
        FUZZ_CHECK(!"unknown match result");
    }
    return r;
}

static bool s_same_match(enum gateway_match_result ra, const struct gateway_match *a,
                         enum gateway_match_result rb, const struct gateway_match *b)
{
    if (ra != rb || a->route != b->route || strcmp(a->allow, b->allow))
        return false;
    if (ra != GATEWAY_MATCH_OK)
        return true;
    if (a->n_params != b->n_params)
        return false;
    for (size_t i = 0; i < a->n_params; i++)
        if (strcmp(a->params[i].name, b->params[i].name) ||
            strcmp(a->params[i].value, b->params[i].value))
            return false;
    return true;
}

/* Matching against a table: HEAD is GET, and one trailing slash changes nothing. */
static enum gateway_match_result s_routes(const struct gateway_route *routes, size_t n,
                                          const char *method, const char *path,
                                          struct gateway_match *m)
{
    enum gateway_match_result r = s_match(routes, n, method, path, m);

    struct gateway_match other;
    if (!strcmp(method, "HEAD") || !strcmp(method, "GET")) {
        enum gateway_match_result r2 =
            s_match(routes, n, strcmp(method, "HEAD") ? "HEAD" : "GET", path, &other);
        FUZZ_CHECK(s_same_match(r, m, r2, &other));
    }
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] != '/') {
        char *slash = cm_malloc(len + 2);
        memcpy(slash, path, len);
        slash[len] = '/';
        slash[len + 1] = '\0';
        enum gateway_match_result r2 = s_match(routes, n, method, slash, &other);
        FUZZ_CHECK(s_same_match(r, m, r2, &other));
        free(slash);
    }
    return r;
}

static void s_percent(const char *s, bool plus_space, size_t size)
{
    char *out = cm_malloc(size);
    long n = gateway_percent_decode(s, strlen(s), plus_space, out, size);
    if (n >= 0) {
        FUZZ_CHECK((size_t)n < size);
        FUZZ_CHECK(strlen(out) == (size_t)n);
        FUZZ_CHECK((size_t)n <= strlen(s));
        if (!strchr(s, '%'))
            FUZZ_CHECK((size_t)n == strlen(s));
    }
    free(out);
}

static void s_headers(const char *content_type, const char *if_match, const char *rid,
                      unsigned size_pick)
{
    /* If-Match: a bare tag, bounded by the buffer, or no condition. */
    size_t size = 1 + size_pick % 256;
    char *tag = cm_malloc(size);
    if (gateway_parse_if_match(if_match, tag, size) == 0) {
        size_t n = strlen(tag);
        FUZZ_CHECK(n > 0 && n < size);
        FUZZ_CHECK(strcmp(tag, "*"));
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(tag[i] > 0x20 && tag[i] < 0x7f && tag[i] != '"' && tag[i] != ',');
    }
    free(tag);
    FUZZ_CHECK(gateway_parse_if_match(NULL, NULL, 0) == -1);

    if (gateway_content_type_is_json(content_type)) {
        const char *p = content_type;
        while (*p == ' ')
            p++;
        FUZZ_CHECK(!strncasecmp(p, "application/json", 16));
    }
    FUZZ_CHECK(!gateway_content_type_is_json(NULL));

    FUZZ_CHECK(gateway_request_id_valid(rid) == s_ref_id(rid, true));

    /* The same line as an Authorization header, an Idempotency-Key, a channel. */
    const char *key = gateway_parse_bearer(rid);
    if (key) {
        FUZZ_CHECK(key > rid && key < rid + strlen(rid));
        FUZZ_CHECK(strlen(key) >= 1 && strlen(key) <= 512);
    }
    FUZZ_CHECK(gateway_parse_bearer(NULL) == NULL);
    bool idem = gateway_idempotency_key_valid(rid);
    if (idem)
        FUZZ_CHECK(strlen(rid) >= 1 && strlen(rid) <= GATEWAY_MAX_IDEMPOTENCY_KEY);
    const char *ch = gateway_channel(rid);
    FUZZ_CHECK(ch && (!strcmp(ch, "api") || !strcmp(ch, rid)));
}

/* A JSON error body, when there is one, is JSON. */
static void s_check_response(const struct gateway_response *r)
{
    FUZZ_CHECK(r->code >= 100 && r->code <= 599);
    FUZZ_CHECK(r->n_headers <= GATEWAY_MAX_HEADERS);
    FUZZ_CHECK(r->body || r->body_len == 0);
    if (r->body && r->content_type && strstr(r->content_type, "json")) {
        json_error_t je;
        json_t *j = json_loadb(r->body, r->body_len, 0, &je);
        if (!j) {
            fprintf(stderr, "response %d is not JSON: %.*s\n", r->code, (int)r->body_len, r->body);
            abort();
        }
        json_decref(j);
    }
    for (size_t i = 0; i < r->n_headers; i++)
        for (const char *p = r->headers[i].value; *p; p++)
            FUZZ_CHECK(*p != '\r' && *p != '\n'); // no header injection
}

static void s_build(const struct gateway_match *m, const char *query, const char *content_type,
                    const char *if_match, const char *body, size_t body_len)
{
    struct gateway_input in = {
        .match = m,
        .query = query,
        .content_type = content_type,
        .if_match = if_match,
        .body = body,
        .body_len = body_len,
    };
    struct gateway_response err = {0};
    ProtobufCMessage *msg = gateway_call_build(&in, &err);
    if (msg) {
        FUZZ_CHECK(msg->descriptor == m->route->request);
        FUZZ_CHECK(err.code == 0 && !err.body);
        /* What the bus will carry: it packs, and unpacks to the same size. */
        size_t want = protobuf_c_message_get_packed_size(msg);
        uint8_t *buf = cm_malloc(want ? want : 1);
        FUZZ_CHECK(protobuf_c_message_pack(msg, buf) == want);
        ProtobufCMessage *back = protobuf_c_message_unpack(msg->descriptor, NULL, want, buf);
        FUZZ_CHECK(back);
        FUZZ_CHECK(protobuf_c_message_get_packed_size(back) == want);
        protobuf_c_message_free_unpacked(back, NULL);
        free(buf);
        json_t *j = cm_pbjson_encode(msg, CM_PBJSON_OMIT_DEFAULTS);
        FUZZ_CHECK(j);
        json_decref(j);
        protobuf_c_message_free_unpacked(msg, NULL);
    } else {
        FUZZ_CHECK(err.code == 400 || err.code == 413 || err.code == 415);
        s_check_response(&err);
    }
    gateway_response_release(&err);
}

static void s_request(unsigned first, const uint8_t *data, size_t size)
{
    const char *method = s_methods[first % 8];
    char *path = fuzz_take(&data, &size, '\n');
    char *query = fuzz_take(&data, &size, '\n');
    char *content_type = fuzz_take(&data, &size, '\n');
    char *if_match = fuzz_take(&data, &size, '\n');
    char *rid = fuzz_take(&data, &size, '\n');
    const char *body = size ? (const char *)data : NULL;

    s_percent(path, false, 1 + (first >> 3) % 128);
    s_percent(query, true, strlen(query) + 1);
    s_headers(content_type, if_match, rid, first);

    struct gateway_match m;
    s_routes(s_extra, sizeof s_extra / sizeof s_extra[0], method, path, &m);
    if (s_routes(gateway_routes, gateway_n_routes, method, path, &m) == GATEWAY_MATCH_OK &&
        m.route->kind == GATEWAY_ROUTE_BUS)
        s_build(&m, query[0] ? query : NULL, content_type[0] ? content_type : NULL,
                if_match[0] ? if_match : NULL, body, size);

    free(path);
    free(query);
    free(content_type);
    free(if_match);
    free(rid);
}

/* What the gateway may serve a reply as: JSON, or for a raw reply one of the
 * types its response carries (written here from the services, not taken from
 * the gateway's table): a photo as an image type the customers service
 * accepts, a calendar as notes writes it. Never what the bus said otherwise. */
static void s_check_reply_type(const struct gateway_route *route, const struct gateway_response *r)
{
    if (!r->content_type)
        return;
    if (r->code != 200 || !(route->flags & GATEWAY_RAW_REPLY)) {
        FUZZ_CHECK(!strcmp(r->content_type, "application/json; charset=utf-8"));
        return;
    }
    static const char *const photo[] = {"image/jpeg", "image/png", "image/webp"};
    if (!strcmp(route->rpc, "GetPhoto")) {
        bool known = false;
        for (size_t i = 0; i < sizeof photo / sizeof photo[0]; i++)
            known = known || !strcmp(r->content_type, photo[i]);
        FUZZ_CHECK(known);
    } else if (strstr(route->rpc, "Calendar")) {
        FUZZ_CHECK(!strcmp(r->content_type, "text/calendar; charset=utf-8"));
    } else {
        FUZZ_CHECK(!"a raw reply this target does not know: add its types here");
    }
}

static void s_reply(const uint8_t *data, size_t size)
{
    if (size < 3)
        return;
    const struct gateway_route *bus[64];
    size_t n_bus = 0;
    for (size_t i = 0; i < gateway_n_routes && n_bus < 64; i++)
        if (gateway_routes[i].kind == GATEWAY_ROUTE_BUS)
            bus[n_bus++] = &gateway_routes[i];
    const struct gateway_route *route = bus[data[0] % n_bus];
    const char *if_none_match = data[0] & 0x80 ? "\"v1\"" : NULL;
    size_t hlen = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (hlen > size)
        hlen = size;
    struct gateway_response resp = {0};
    gateway_call_reply(route, data, hlen, data + hlen, size - hlen, if_none_match, &resp);
    s_check_response(&resp);
    s_check_reply_type(route, &resp);
    gateway_response_release(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned first = data[0];
    if (first & 0x80)
        s_reply(data + 1, size - 1);
    else
        s_request(first, data + 1, size - 1);
    return 0;
}
