/* Route table and path matching: literals, {id}, custom verbs, trailing
 * slashes, percent-decoding, id validation, 404 vs 405, request ids. */
#include "gateway_routes.h"
#include "cm_pbjson.h"
#include "customers.pb-c.h"
#include "../unit.h"

static enum gateway_match_result s_match(const char *method, const char *path,
                                         struct gateway_match *m)
{
    return gateway_routes_match(gateway_routes, gateway_n_routes, method, path, m);
}

static void test_literal_and_param_routes(void)
{
    struct gateway_match m;
    CHECK(s_match("GET", "/v1/customers", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.route->rpc, "ListCustomers");
    CHECK(m.n_params == 0);
    CHECK(s_match("POST", "/v1/customers", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.route->rpc, "CreateCustomer");
    CHECK(m.route->success == 201);
    CHECK(s_match("GET", "/v1/customers/c-123_X", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.route->rpc, "GetCustomer");
    CHECK(m.n_params == 1);
    CHECK_STR(m.params[0].name, "id");
    CHECK_STR(m.params[0].value, "c-123_X");
    CHECK(s_match("PUT", "/v1/customers/abc/photo", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.route->rpc, "PutPhoto");
    CHECK(m.route->max_body == 2097152);
    CHECK(s_match("GET", "/v1/customers/abc/audit", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.route->rpc, "ListAudit");
    CHECK_STR(m.params[0].value, "abc");
    CHECK(s_match("PATCH", "/v1/settings", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.route->rpc, "UpdateSettings");
    CHECK(s_match("GET", "/healthz", &m) == GATEWAY_MATCH_OK);
    CHECK(m.route->kind == GATEWAY_ROUTE_HEALTHZ);
    CHECK(s_match("GET", "/v1/openapi.json", &m) == GATEWAY_MATCH_OK);
    CHECK(m.route->kind == GATEWAY_ROUTE_OPENAPI && (m.route->flags & GATEWAY_PUBLIC));
}

static void test_custom_verb(void)
{
    struct gateway_match m;
    CHECK(s_match("POST", "/v1/customers:batchDelete", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.route->rpc, "BatchDeleteCustomers");
    CHECK_STR(m.route->body, "*");
    /* The verb is part of the segment: an encoded colon is another path. */
    CHECK(s_match("POST", "/v1/customers%3AbatchDelete", &m) == GATEWAY_MATCH_NO_ROUTE);
    CHECK(s_match("POST", "/v1/customers:batchdelete", &m) == GATEWAY_MATCH_NO_ROUTE);
    CHECK(s_match("GET", "/v1/customers:batchDelete", &m) == GATEWAY_MATCH_NO_METHOD);
    CHECK_STR(m.allow, "POST");

    /* A verb after a parameter, as the next services will have. */
    static const struct gateway_route table[] = {
        {"POST", "/v1/customers/{id}:merge", .kind = GATEWAY_ROUTE_BUS, .service = "customers",
         .rpc = "Merge", .request = &crm__get_customer_request__descriptor,
         .response = &crm__customer__descriptor, .success = 200},
    };
    CHECK(gateway_routes_match(table, 1, "POST", "/v1/customers/abc:merge", &m) ==
          GATEWAY_MATCH_OK);
    CHECK_STR(m.params[0].value, "abc");
    CHECK(gateway_routes_match(table, 1, "POST", "/v1/customers/:merge", &m) ==
          GATEWAY_MATCH_NO_ROUTE);
    CHECK(gateway_routes_match(table, 1, "POST", "/v1/customers/abc", &m) ==
          GATEWAY_MATCH_NO_ROUTE);
}

static void test_trailing_slash_and_empty_segments(void)
{
    struct gateway_match m;
    CHECK(s_match("GET", "/v1/customers/", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.route->rpc, "ListCustomers");
    CHECK(s_match("GET", "/v1/customers/abc/", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.route->rpc, "GetCustomer");
    CHECK(s_match("GET", "/v1/customers//", &m) == GATEWAY_MATCH_NO_ROUTE);
    CHECK(s_match("GET", "/v1//customers", &m) == GATEWAY_MATCH_NO_ROUTE);
    CHECK(s_match("GET", "//v1/customers", &m) == GATEWAY_MATCH_NO_ROUTE);
    CHECK(s_match("GET", "/", &m) == GATEWAY_MATCH_NO_ROUTE);
    CHECK(s_match("GET", "", &m) == GATEWAY_MATCH_NO_ROUTE);
    CHECK(s_match("GET", "v1/customers", &m) == GATEWAY_MATCH_NO_ROUTE);
    CHECK(s_match("GET", "/v1/customers/a/b/c", &m) == GATEWAY_MATCH_NO_ROUTE);
    CHECK(s_match("GET", "/v1/customer", &m) == GATEWAY_MATCH_NO_ROUTE);
    CHECK(s_match("GET", "/v1/customersx", &m) == GATEWAY_MATCH_NO_ROUTE);
}

static void test_percent_decoding_and_id_validation(void)
{
    struct gateway_match m;
    CHECK(s_match("GET", "/v1/customers/ab%2Dc", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.params[0].value, "ab-c");
    CHECK(s_match("GET", "/v1/customers/%61%62", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.params[0].value, "ab");
    /* An encoded slash stays inside the segment and then fails the id rule. */
    CHECK(s_match("GET", "/v1/customers/a%2Fphoto", &m) == GATEWAY_MATCH_BAD_PARAM);
    CHECK_STR(m.route->rpc, "GetCustomer");
    CHECK(s_match("GET", "/v1/customers/a.b", &m) == GATEWAY_MATCH_BAD_PARAM);
    CHECK(s_match("GET", "/v1/customers/a%20b", &m) == GATEWAY_MATCH_BAD_PARAM);
    CHECK(s_match("GET", "/v1/customers/%zz", &m) == GATEWAY_MATCH_BAD_PARAM);
    CHECK(s_match("GET", "/v1/customers/%4", &m) == GATEWAY_MATCH_BAD_PARAM);
    CHECK(s_match("GET", "/v1/customers/%00", &m) == GATEWAY_MATCH_BAD_PARAM);
    CHECK(s_match("GET", "/v1/customers/%C5%81", &m) == GATEWAY_MATCH_BAD_PARAM);
    char id64[80], id65[80];
    memset(id64, 'a', 64);
    id64[64] = '\0';
    memset(id65, 'b', 65);
    id65[65] = '\0';
    char path[128];
    snprintf(path, sizeof path, "/v1/customers/%s", id64);
    CHECK(s_match("GET", path, &m) == GATEWAY_MATCH_OK);
    CHECK(strlen(m.params[0].value) == 64);
    snprintf(path, sizeof path, "/v1/customers/%s", id65);
    CHECK(s_match("GET", path, &m) == GATEWAY_MATCH_BAD_PARAM);

    char out[16];
    CHECK(gateway_percent_decode("a+b%2B", 6, true, out, sizeof out) == 4);
    CHECK_STR(out, "a b+");
    CHECK(gateway_percent_decode("a+b", 3, false, out, sizeof out) == 3);
    CHECK_STR(out, "a+b");
    CHECK(gateway_percent_decode("%", 1, false, out, sizeof out) == -1);
    CHECK(gateway_percent_decode("%e", 2, false, out, sizeof out) == -1);
    CHECK(gateway_percent_decode("a%00b", 5, false, out, sizeof out) == GATEWAY_DECODE_NUL);
    CHECK(gateway_percent_decode("0123456789abcdef", 16, false, out, sizeof out) == -1);
}

static void test_405_lists_allowed_methods(void)
{
    struct gateway_match m;
    CHECK(s_match("PUT", "/v1/customers/abc", &m) == GATEWAY_MATCH_NO_METHOD);
    CHECK_STR(m.allow, "GET, HEAD, PATCH, DELETE");
    CHECK(m.route == NULL);
    CHECK(s_match("DELETE", "/v1/customers", &m) == GATEWAY_MATCH_NO_METHOD);
    CHECK_STR(m.allow, "POST, GET, HEAD");
    CHECK(s_match("POST", "/healthz", &m) == GATEWAY_MATCH_NO_METHOD);
    CHECK_STR(m.allow, "GET, HEAD");
    /* 405 is decided on the pattern, before the id is checked. */
    CHECK(s_match("PUT", "/v1/customers/bad.id", &m) == GATEWAY_MATCH_NO_METHOD);
    /* HEAD is served by GET routes. */
    CHECK(s_match("HEAD", "/v1/customers/abc/photo", &m) == GATEWAY_MATCH_OK);
    CHECK_STR(m.route->rpc, "GetPhoto");
}

/* Every bus route can be served: the path parameters and the body name fields
 * of its request, the codes are the ones the gateway knows. */
static void test_table_is_consistent(void)
{
    for (size_t i = 0; i < gateway_n_routes; i++) {
        const struct gateway_route *r = &gateway_routes[i];
        CHECK(r->pattern[0] == '/');
        CHECK(r->success == 200 || r->success == 201 || r->success == 202 || r->success == 204);
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(r->pattern, gateway_routes[k].pattern) ||
                  strcmp(r->method, gateway_routes[k].method));
        if (r->kind != GATEWAY_ROUTE_BUS)
            continue;
        CHECK(r->service && r->rpc && r->request && r->response);
        for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(p + 1, "}"), p + 1);
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(r->request, name);
            CHECK(f && f->type == PROTOBUF_C_TYPE_STRING);
        }
        /* The gateway fills a raw body into the field the route names. */
        CHECK(!(r->flags & GATEWAY_RAW_BODY) || r->body);
        if (r->body && strcmp(r->body, "*")) {
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(r->request, r->body);
            CHECK(f);
            CHECK(f->type == ((r->flags & GATEWAY_RAW_BODY) ? PROTOBUF_C_TYPE_BYTES
                                                            : PROTOBUF_C_TYPE_MESSAGE));
        }
        /* A 204 sends no body: the reply is crm.Empty, or the member whose
         * cached sessions the gateway forgets (sign-out). */
        if (r->success == 204)
            CHECK(r->response == &crm__empty__descriptor || (r->flags & GATEWAY_SESSION_EVICT));
        /* What the gateway itself sets in a session route's request, and reads from its reply. */
        if (r->flags & GATEWAY_SESSION_TOKEN)
            CHECK(protobuf_c_message_descriptor_get_field_by_name(r->request, "token"));
        if (r->flags & GATEWAY_CLIENT_ADDRESS)
            CHECK(protobuf_c_message_descriptor_get_field_by_name(r->request, "client_address"));
        if (r->flags & GATEWAY_SESSION_SET)
            CHECK(r->response == &crm__staff_session__descriptor && r->omit &&
                  !strcmp(r->omit, "token"));
        /* Eviction reads the member from a Staff reply, or from a new
         * session's (a password reset ends the member's others). */
        if (r->flags & GATEWAY_SESSION_EVICT)
            CHECK(r->response == ((r->flags & GATEWAY_SESSION_SET) ? &crm__staff_session__descriptor
                                                                   : &crm__staff__descriptor));
        if (r->location)
            CHECK(r->success == 201 || r->success == 202);
    }
}

static void test_request_id_validation(void)
{
    CHECK(gateway_request_id_valid("abc-DEF_123.x"));
    CHECK(gateway_request_id_valid("a"));
    char s[80];
    memset(s, 'x', 64);
    s[64] = '\0';
    CHECK(gateway_request_id_valid(s));
    s[64] = 'x';
    s[65] = '\0';
    CHECK(!gateway_request_id_valid(s));
    CHECK(!gateway_request_id_valid(""));
    CHECK(!gateway_request_id_valid("a b"));
    CHECK(!gateway_request_id_valid("a/b"));
    CHECK(!gateway_request_id_valid("id\n"));
    CHECK(!gateway_request_id_valid("Łukasz"));
}

int main(void)
{
    RUN(test_literal_and_param_routes);
    RUN(test_custom_verb);
    RUN(test_trailing_slash_and_empty_segments);
    RUN(test_percent_decoding_and_id_validation);
    RUN(test_405_lists_allowed_methods);
    RUN(test_table_is_consistent);
    RUN(test_request_id_validation);
    return 0;
}
