/* HTTP request -> protobuf request and bus reply -> HTTP response, over the
 * real route table: bodies, masks, query parameters, If-Match, raw photos,
 * and every 400 naming what is wrong. */
#include "gateway_call.h"
#include "cm_pbjson.h"
#include "customers.pb-c.h"
#include "../unit.h"

/* Builds a request for method+path with the given query and body. Returns the
 * message or NULL with *err filled. */
static ProtobufCMessage *s_build(const char *method, const char *path, const char *query,
                                 const char *content_type, const char *if_match, const char *body,
                                 size_t body_len, struct gateway_match *m,
                                 struct gateway_response *err)
{
    CHECK(gateway_routes_match(gateway_routes, gateway_n_routes, method, path, m) ==
          GATEWAY_MATCH_OK);
    struct gateway_input in = {
        .match = m,
        .query = query,
        .content_type = content_type,
        .if_match = if_match,
        .body = body,
        .body_len = body_len,
    };
    return gateway_call_build(&in, err);
}

#define JSON "application/json"

/* The error's message, and its first detail's field ("" when none). */
static void s_check_400(struct gateway_response *err, const char *message_prefix, const char *field)
{
    if (err->code != 400) {
        fprintf(stderr, "want 400, got %d: %s\n", err->code, err->body ? err->body : "");
        abort();
    }
    json_t *j = json_loads(err->body, 0, NULL);
    CHECK(j);
    json_t *e = json_object_get(j, "error");
    CHECK_STR(json_string_value(json_object_get(e, "status")), "INVALID_ARGUMENT");
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (strncmp(msg, message_prefix, strlen(message_prefix))) {
        fprintf(stderr, "message \"%s\" does not start with \"%s\"\n", msg, message_prefix);
        abort();
    }
    json_t *d = json_array_get(json_object_get(e, "details"), 0);
    CHECK_STR(d ? json_string_value(json_object_get(d, "field")) : "", field);
    json_decref(j);
    gateway_response_release(err);
}

static void test_create_takes_body_as_field(void)
{
    struct gateway_match m;
    struct gateway_response err = {0};
    const char *body = "{\"firstName\":\"Łucja\",\"email\":\"l@example.com\","
                       "\"addresses\":[{\"kind\":\"BILLING\",\"country\":\"PL\"}]}";
    ProtobufCMessage *msg =
        s_build("POST", "/v1/customers", NULL, "application/json; charset=UTF-8", NULL, body,
                strlen(body), &m, &err);
    CHECK(msg && msg->descriptor == &crm__create_customer_request__descriptor);
    Crm__CreateCustomerRequest *r = (Crm__CreateCustomerRequest *)msg;
    CHECK(r->customer);
    CHECK_STR(r->customer->first_name, "Łucja");
    CHECK_STR(r->customer->email, "l@example.com");
    CHECK(r->customer->n_addresses == 1);
    CHECK(r->customer->addresses[0]->kind == CRM__ADDRESS_KIND__ADDRESS_KIND_BILLING);
    /* Packs, so the bus can carry it. */
    CHECK(protobuf_c_message_get_packed_size(msg) > 0);
    protobuf_c_message_free_unpacked(msg, NULL);
}

static void test_json_errors_name_the_problem(void)
{
    struct gateway_match m;
    struct gateway_response err = {0};
    const char *bad = "{\"firstName\": }";
    CHECK(!s_build("POST", "/v1/customers", NULL, JSON, NULL, bad, strlen(bad), &m, &err));
    s_check_400(&err, "malformed JSON at line 1, column 15 (byte 15): ", "");

    const char *utf = "{\"firstName\":\"a\xff\"}";
    CHECK(!s_build("POST", "/v1/customers", NULL, JSON, NULL, utf, strlen(utf), &m, &err));
    s_check_400(&err, "malformed JSON at line 1, column ", "");

    const char *two = "{\n\"firstName\":\"a\",\n\"firstName\":\"b\"}";
    CHECK(!s_build("POST", "/v1/customers", NULL, JSON, NULL, two, strlen(two), &m, &err));
    s_check_400(&err, "malformed JSON at line 3", "");

    const char *nul = "{\"firstName\":\"a\\u0000b\"}";
    CHECK(!s_build("POST", "/v1/customers", NULL, JSON, NULL, nul, strlen(nul), &m, &err));
    s_check_400(&err,
                "malformed JSON at line 1, column 23 (byte 23): a string holds \\u0000 (NUL), "
                "which no text field accepts",
                "");

    const char *arr = "[1,2]";
    CHECK(!s_build("POST", "/v1/customers", NULL, JSON, NULL, arr, strlen(arr), &m, &err));
    s_check_400(&err, "request body must be a JSON object", "");

    const char *unknown = "{\"emial\":\"x@y.z\"}";
    CHECK(!s_build("POST", "/v1/customers", NULL, JSON, NULL, unknown, strlen(unknown), &m, &err));
    s_check_400(&err, "emial: ", "emial");

    const char *type = "{\"firstName\":5}";
    CHECK(!s_build("POST", "/v1/customers", NULL, JSON, NULL, type, strlen(type), &m, &err));
    s_check_400(&err, "firstName: ", "firstName");

    const char *nested = "{\"company\":{\"vatNumber\":true}}";
    CHECK(!s_build("POST", "/v1/customers", NULL, JSON, NULL, nested, strlen(nested), &m, &err));
    s_check_400(&err, "company.vatNumber: ", "company.vatNumber");

    const char *ok = "{}";
    CHECK(!s_build("POST", "/v1/customers", NULL, "text/plain", NULL, ok, 2, &m, &err));
    CHECK(err.code == 415);
    gateway_response_release(&err);
    CHECK(!s_build("POST", "/v1/customers", NULL, "application/json; charset=latin1", NULL, ok, 2,
                   &m, &err));
    CHECK(err.code == 415);
    gateway_response_release(&err);
}

static void test_patch_mask_and_if_match(void)
{
    struct gateway_match m;
    struct gateway_response err = {0};
    const char *body = "{\"email\":\"new@example.com\",\"company\":{\"vatNumber\":\"PL1\"},"
                       "\"tags\":[]}";
    ProtobufCMessage *msg = s_build("PATCH", "/v1/customers/c-7", NULL, JSON, "W/\"v12\"", body,
                                    strlen(body), &m, &err);
    CHECK(msg);
    Crm__UpdateCustomerRequest *r = (Crm__UpdateCustomerRequest *)msg;
    CHECK_STR(r->id, "c-7");
    CHECK_STR(r->etag, "v12");
    CHECK_STR(r->customer->email, "new@example.com");
    CHECK(r->n_update_mask == 3);
    CHECK_STR(r->update_mask[0], "email");
    CHECK_STR(r->update_mask[1], "company.vatNumber");
    CHECK_STR(r->update_mask[2], "tags");
    protobuf_c_message_free_unpacked(msg, NULL);

    /* An empty patch would be read as "replace everything": refuse it. */
    CHECK(!s_build("PATCH", "/v1/customers/c-7", NULL, JSON, NULL, "{}", 2, &m, &err));
    s_check_400(&err, "request body sets no fields", "");
    CHECK(!s_build("PATCH", "/v1/groups/g1", NULL, JSON, NULL, "", 0, &m, &err));
    s_check_400(&err, "request body sets no fields", "");

    /* Delete with If-Match; "*" means no condition. */
    msg = s_build("DELETE", "/v1/customers/c-7", NULL, NULL, "\"abc\"", NULL, 0, &m, &err);
    CHECK(msg);
    CHECK_STR(((Crm__DeleteCustomerRequest *)msg)->etag, "abc");
    CHECK_STR(((Crm__DeleteCustomerRequest *)msg)->id, "c-7");
    protobuf_c_message_free_unpacked(msg, NULL);
    msg = s_build("DELETE", "/v1/customers/c-7", NULL, NULL, "*", NULL, 0, &m, &err);
    CHECK(msg);
    CHECK_STR(((Crm__DeleteCustomerRequest *)msg)->etag, "");
    protobuf_c_message_free_unpacked(msg, NULL);
}

static void test_if_match_parsing(void)
{
    char out[64];
    CHECK(gateway_parse_if_match("\"abc\"", out, sizeof out) == 0);
    CHECK_STR(out, "abc");
    CHECK(gateway_parse_if_match("W/\"abc\"", out, sizeof out) == 0);
    CHECK_STR(out, "abc");
    CHECK(gateway_parse_if_match("  abc  ", out, sizeof out) == 0);
    CHECK_STR(out, "abc");
    CHECK(gateway_parse_if_match("*", out, sizeof out) == -1);
    CHECK(gateway_parse_if_match("\"\"", out, sizeof out) == -1);
    CHECK(gateway_parse_if_match("", out, sizeof out) == -1);
    CHECK(gateway_parse_if_match(NULL, out, sizeof out) == -1);
    CHECK(gateway_parse_if_match("\"a\", \"b\"", out, sizeof out) == -1);
    CHECK(gateway_parse_if_match("\"a b\"", out, sizeof out) == -1);
    CHECK(gateway_parse_if_match("0123456789", out, 5) == -1);
}

static void test_list_query_parameters(void)
{
    struct gateway_match m;
    struct gateway_response err = {0};
    ProtobufCMessage *msg = s_build("GET", "/v1/customers",
                                    "pageSize=10&pageToken=a%20b+c&isCompany=true&accountStatus="
                                    "ACTIVE&tag=caf%C3%A9&orderBy=lastName",
                                    NULL, NULL, NULL, 0, &m, &err);
    CHECK(msg);
    Crm__ListCustomersRequest *r = (Crm__ListCustomersRequest *)msg;
    CHECK(r->page_size == 10);
    CHECK_STR(r->page_token, "a b c");
    CHECK(r->is_company && r->is_company->value);
    CHECK(!r->has_account);
    CHECK(r->account_status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE);
    CHECK_STR(r->tag, "café");
    CHECK_STR(r->order_by, "lastName");
    protobuf_c_message_free_unpacked(msg, NULL);

    /* Empty pieces are fine. */
    msg = s_build("GET", "/v1/customers", "&&pageSize=5&", NULL, NULL, NULL, 0, &m, &err);
    CHECK(msg && ((Crm__ListCustomersRequest *)msg)->page_size == 5);
    protobuf_c_message_free_unpacked(msg, NULL);

    CHECK(!s_build("GET", "/v1/customers", "pageSize=10&foo=1", NULL, NULL, NULL, 0, &m, &err));
    s_check_400(&err, "unknown query parameter \"foo\"", "foo");
    CHECK(!s_build("GET", "/v1/customers", "pageSize=ten", NULL, NULL, NULL, 0, &m, &err));
    s_check_400(&err, "query parameter \"pageSize\": ", "pageSize");
    CHECK(!s_build("GET", "/v1/customers", "isCompany=maybe", NULL, NULL, NULL, 0, &m, &err));
    s_check_400(&err, "query parameter \"isCompany\": ", "isCompany");
    CHECK(!s_build("GET", "/v1/customers", "tag=%FF", NULL, NULL, NULL, 0, &m, &err));
    s_check_400(&err, "query parameter \"tag\" is not valid UTF-8 (byte 0)", "tag");
    CHECK(!s_build("GET", "/v1/customers", "tag=%G1", NULL, NULL, NULL, 0, &m, &err));
    s_check_400(&err, "query parameter \"tag\" has a bad percent-escape", "tag");
    CHECK(!s_build("GET", "/v1/customers", "tag=a%00b", NULL, NULL, NULL, 0, &m, &err));
    s_check_400(&err, "query parameter \"tag\" holds a NUL byte (%00)", "tag");
    char longq[1100];
    memcpy(longq, "tag=", 4);
    memset(longq + 4, 'a', 1025);
    longq[1029] = '\0';
    CHECK(!s_build("GET", "/v1/customers", longq, NULL, NULL, NULL, 0, &m, &err));
    s_check_400(&err, "query parameter \"tag\" is longer than 1024 bytes", "tag");
    longq[1028] = '\0';
    msg = s_build("GET", "/v1/customers", longq, NULL, NULL, NULL, 0, &m, &err);
    CHECK(msg);
    protobuf_c_message_free_unpacked(msg, NULL);

    /* A path field cannot be overridden, a body route takes none. */
    CHECK(!s_build("GET", "/v1/customers/c1", "id=c2", NULL, NULL, NULL, 0, &m, &err));
    s_check_400(&err, "unknown query parameter \"id\"", "id");
    CHECK(!s_build("POST", "/v1/customers", "pageSize=1", JSON, NULL, "{}", 2, &m, &err));
    s_check_400(&err, "unknown query parameter \"pageSize\"", "pageSize");

    msg = s_build("GET", "/v1/customers/c1/audit", "pageSize=2&pageToken=t", NULL, NULL, NULL, 0,
                  &m, &err);
    CHECK(msg);
    Crm__ListAuditRequest *a = (Crm__ListAuditRequest *)msg;
    CHECK_STR(a->id, "c1");
    CHECK(a->page_size == 2);
    CHECK_STR(a->page_token, "t");
    protobuf_c_message_free_unpacked(msg, NULL);
}

static void test_whole_body_and_raw_body(void)
{
    struct gateway_match m;
    struct gateway_response err = {0};
    const char *body = "{\"ids\":[\"a\",\"b\"]}";
    ProtobufCMessage *msg = s_build("POST", "/v1/customers:batchDelete", NULL, JSON, NULL, body,
                                    strlen(body), &m, &err);
    CHECK(msg);
    Crm__BatchDeleteCustomersRequest *b = (Crm__BatchDeleteCustomersRequest *)msg;
    CHECK(b->n_ids == 2);
    CHECK_STR(b->ids[1], "b");
    protobuf_c_message_free_unpacked(msg, NULL);

    const char png[] = "\x89PNG\r\n\x1a\n\0\0binary";
    msg = s_build("PUT", "/v1/customers/c9/photo", NULL, "image/png", NULL, png, sizeof png - 1, &m,
                  &err);
    CHECK(msg);
    Crm__PutPhotoRequest *p = (Crm__PutPhotoRequest *)msg;
    CHECK_STR(p->id, "c9");
    CHECK_STR(p->content_type, "image/png");
    CHECK(p->data.len == sizeof png - 1 && !memcmp(p->data.data, png, p->data.len));
    protobuf_c_message_free_unpacked(msg, NULL);
}

/* Packs a ReplyHeader with status/message/details. */
static uint8_t *s_header(int status, const char *message, Crm__FieldViolation **details, size_t n,
                         size_t *len)
{
    Crm__ReplyHeader h = CRM__REPLY_HEADER__INIT;
    h.status = (Crm__Status)status;
    h.message = (char *)message;
    h.details = details;
    h.n_details = n;
    h.request_id = "r1";
    *len = crm__reply_header__get_packed_size(&h);
    uint8_t *buf = malloc(*len + 1);
    crm__reply_header__pack(&h, buf);
    return buf;
}

static uint8_t *s_pack(const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(*len + 1);
    protobuf_c_message_pack(msg, buf);
    return buf;
}

static const struct gateway_route *s_route(const char *method, const char *path)
{
    static struct gateway_match m;
    CHECK(gateway_routes_match(gateway_routes, gateway_n_routes, method, path, &m) ==
          GATEWAY_MATCH_OK);
    return m.route;
}

static void test_reply_created_with_location_and_etag(void)
{
    Crm__Customer c = CRM__CUSTOMER__INIT;
    c.id = "c-1";
    c.first_name = "Ada";
    c.etag = "7";
    size_t hl, bl;
    uint8_t *h = s_header(CRM__STATUS__STATUS_OK, "", NULL, 0, &hl);
    uint8_t *b = s_pack(&c.base, &bl);
    struct gateway_response r = {0};
    gateway_call_reply(s_route("POST", "/v1/customers"), h, hl, b, bl, NULL, &r);
    CHECK(r.code == 201);
    CHECK_STR(gateway_response_get_header(&r, "Location"), "/v1/customers/c-1");
    CHECK_STR(gateway_response_get_header(&r, "ETag"), "\"7\"");
    CHECK_STR(r.content_type, "application/json; charset=utf-8");
    json_t *j = json_loads(r.body, 0, NULL);
    CHECK(j);
    CHECK_STR(json_string_value(json_object_get(j, "firstName")), "Ada");
    /* All fields are written, defaults included. */
    CHECK(json_is_string(json_object_get(j, "lastName")));
    CHECK(json_is_array(json_object_get(j, "tags")));
    json_decref(j);
    gateway_response_release(&r);

    /* The same reply to a GET: 200, ETag, no Location. */
    gateway_call_reply(s_route("GET", "/v1/customers/c-1"), h, hl, b, bl, NULL, &r);
    CHECK(r.code == 200);
    CHECK(!gateway_response_get_header(&r, "Location"));
    CHECK_STR(gateway_response_get_header(&r, "ETag"), "\"7\"");
    gateway_response_release(&r);
    free(h);
    free(b);
}

static void test_reply_errors_and_empty(void)
{
    Crm__FieldViolation d = CRM__FIELD_VIOLATION__INIT;
    d.field = "email";
    d.description = "already used";
    d.reason = "DUPLICATE";
    d.resource_id = "c-0";
    Crm__FieldViolation *dp = &d;
    size_t hl;
    uint8_t *h = s_header(CRM__STATUS__STATUS_ALREADY_EXISTS, "customer exists", &dp, 1, &hl);
    struct gateway_response r = {0};
    gateway_call_reply(s_route("POST", "/v1/customers"), h, hl, NULL, 0, NULL, &r);
    CHECK(r.code == 409);
    CHECK_STR(r.body, "{\"error\":{\"code\":409,\"status\":\"ALREADY_EXISTS\",\"message\":"
                      "\"customer exists\",\"details\":[{\"field\":\"email\",\"description\":"
                      "\"already used\",\"reason\":\"DUPLICATE\",\"resourceId\":\"c-0\"}]}}");
    gateway_response_release(&r);
    free(h);

    h = s_header(CRM__STATUS__STATUS_FAILED_PRECONDITION, "etag mismatch", NULL, 0, &hl);
    gateway_call_reply(s_route("DELETE", "/v1/customers/c-1"), h, hl, NULL, 0, NULL, &r);
    CHECK(r.code == 412);
    gateway_response_release(&r);
    free(h);

    h = s_header(CRM__STATUS__STATUS_OK, "", NULL, 0, &hl);
    gateway_call_reply(s_route("DELETE", "/v1/customers/c-1"), h, hl, NULL, 0, NULL, &r);
    CHECK(r.code == 204 && r.body == NULL && r.content_type == NULL);
    gateway_response_release(&r);

    /* Garbage from a service is a 500, never a crash. */
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01};
    gateway_call_reply(s_route("GET", "/v1/customers/c-1"), junk, sizeof junk, NULL, 0, NULL, &r);
    CHECK(r.code == 500);
    gateway_response_release(&r);
    gateway_call_reply(s_route("GET", "/v1/customers/c-1"), h, hl, junk, sizeof junk, NULL, &r);
    CHECK(r.code == 500);
    CHECK(strstr(r.body, "\"status\":\"INTERNAL\""));
    gateway_response_release(&r);
    free(h);
}

static void test_reply_photo(void)
{
    Crm__Photo p = CRM__PHOTO__INIT;
    p.id = "c-1";
    p.content_type = "image/png";
    p.data.data = (uint8_t *)"\x89PNG-bytes";
    p.data.len = 10;
    p.updated_at = "2026-01-01T00:00:00.000Z";
    size_t hl, bl;
    uint8_t *h = s_header(CRM__STATUS__STATUS_OK, "", NULL, 0, &hl);
    uint8_t *b = s_pack(&p.base, &bl);
    struct gateway_response r = {0};

    /* PUT answers JSON without the bytes. */
    gateway_call_reply(s_route("PUT", "/v1/customers/c-1/photo"), h, hl, b, bl, NULL, &r);
    CHECK(r.code == 200);
    json_t *j = json_loads(r.body, 0, NULL);
    CHECK(j && !json_object_get(j, "data"));
    CHECK_STR(json_string_value(json_object_get(j, "contentType")), "image/png");
    json_decref(j);
    gateway_response_release(&r);

    /* GET answers the bytes themselves. */
    gateway_call_reply(s_route("GET", "/v1/customers/c-1/photo"), h, hl, b, bl, NULL, &r);
    CHECK(r.code == 200);
    CHECK(r.body_len == 10 && !memcmp(r.body, "\x89PNG-bytes", 10));
    CHECK_STR(r.content_type, "image/png");
    CHECK_STR(gateway_response_get_header(&r, "Cache-Control"), "private, max-age=0");
    const char *etag = gateway_response_get_header(&r, "ETag");
    CHECK(etag && etag[0] == '"' && strlen(etag) == 34);
    char *saved = strdup(etag);
    gateway_response_release(&r);

    /* The client has it already. */
    char inm[80];
    snprintf(inm, sizeof inm, "\"other\", W/%s", saved);
    gateway_call_reply(s_route("GET", "/v1/customers/c-1/photo"), h, hl, b, bl, inm, &r);
    CHECK(r.code == 304 && r.body == NULL);
    CHECK_STR(gateway_response_get_header(&r, "ETag"), saved);
    gateway_response_release(&r);
    gateway_call_reply(s_route("GET", "/v1/customers/c-1/photo"), h, hl, b, bl, "\"other\"", &r);
    CHECK(r.code == 200);
    gateway_response_release(&r);
    free(saved);
    free(b);

    free(h);
}

/* A raw reply of route with this content_type and data: the response, whose
 * release is the caller's. */
static void s_raw(const char *method, const char *path, const char *content_type, const char *data,
                  const char *if_none_match, struct gateway_response *r)
{
    const struct gateway_route *route = s_route(method, path);
    ProtobufCMessage *msg = cm_pb_new(route->response);
    const ProtobufCFieldDescriptor *df =
        protobuf_c_message_descriptor_get_field_by_name(route->response, "data");
    CHECK(df);
    ProtobufCBinaryData *bd = (ProtobufCBinaryData *)((char *)msg + df->offset);
    bd->len = strlen(data);
    bd->data = (uint8_t *)strdup(data);
    if (content_type) {
        struct cm_pbjson_error pe = {0};
        CHECK(cm_pbjson_set_text(msg, "contentType", content_type, &pe) == 0);
    }
    size_t hl, bl;
    uint8_t *h = s_header(CRM__STATUS__STATUS_OK, "", NULL, 0, &hl);
    uint8_t *b = s_pack(msg, &bl);
    gateway_call_reply(route, h, hl, b, bl, if_none_match, r);
    free(h);
    free(b);
    protobuf_c_message_free_unpacked(msg, NULL);
}

/* The response is the 500 the gateway sends for a reply it will not serve. */
static void s_check_refused(struct gateway_response *r)
{
    if (r->code != 500) {
        fprintf(stderr, "want 500, got %d with Content-Type %s\n", r->code,
                r->content_type ? r->content_type : "(none)");
        abort();
    }
    CHECK_STR(r->content_type, "application/json; charset=utf-8");
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    CHECK(j);
    json_t *e = json_object_get(j, "error");
    CHECK_STR(json_string_value(json_object_get(e, "status")), "INTERNAL");
    CHECK(!strstr(r->body, "x-payload")); // none of the service's bytes
    CHECK(!gateway_response_get_header(r, "ETag"));
    json_decref(j);
    gateway_response_release(r);
}

/* The gateway serves raw bytes only with a Content-Type of its own choosing,
 * per response type: a photo as an image type the customers service accepts,
 * a calendar as text/calendar. Anything else from the bus is a 500. */
static void test_reply_raw_content_types(void)
{
    const char *photo = "/v1/customers/c-1/photo";
    struct gateway_response r = {0};

    /* The fuzz_gateway crash: "imajsonng" was served as is, so a body that
     * is not JSON went out as JSON. */
    s_raw("GET", photo, "imajsonng", "x-payload\x89PNG", NULL, &r);
    s_check_refused(&r);
    const char *bad[] = {"text/html",
                         "application/json",
                         "image/svg+xml",
                         "image/png; charset=utf-8",
                         "image/pngx",
                         " image/png",
                         "image/png ",
                         "IMAGE/PNG",
                         "image/",
                         "",
                         "text/calendar; charset=utf-8",
                         "text/html\r\nSet-Cookie: x=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_raw("GET", photo, bad[i], "x-payload", NULL, &r);
        s_check_refused(&r);
    }
    s_raw("GET", photo, NULL, "x-payload", NULL, &r); // no content type at all
    s_check_refused(&r);
    /* Refused even when the client's If-None-Match would have made it a 304. */
    s_raw("GET", photo, "text/html", "x-payload", "*", &r);
    s_check_refused(&r);

    /* Every type PutPhoto takes is served, as the gateway's own string. */
    const struct gateway_route *put = s_route("PUT", photo);
    CHECK(put->body_types);
    size_t n_types = 0;
    for (const char *t = put->body_types; *t; n_types++) {
        size_t n = strcspn(t, ",");
        char type[64];
        CHECK(n < sizeof type);
        memcpy(type, t, n);
        type[n] = '\0';
        s_raw("GET", photo, type, "bytes", NULL, &r);
        CHECK(r.code == 200);
        CHECK_STR(r.content_type, type);
        CHECK(r.body_len == 5 && !memcmp(r.body, "bytes", 5));
        CHECK_STR(gateway_response_get_header(&r, "X-Content-Type-Options"), "nosniff");
        gateway_response_release(&r);
        t += n + (t[n] == ',');
    }
    CHECK(n_types == 3);
    CHECK_STR(gateway_reply_media_type(put->response, "image/png"), "image/png");
    /* A type PutPhoto refuses is not served either. */
    CHECK(!gateway_reply_media_type(put->response, "image/gif"));

    /* A calendar is text/calendar and nothing else. */
    s_raw("GET", "/v1/tasks.ics", "text/calendar; charset=utf-8", "BEGIN:VCALENDAR", NULL, &r);
    CHECK(r.code == 200);
    CHECK_STR(r.content_type, "text/calendar; charset=utf-8");
    gateway_response_release(&r);
    s_raw("GET", "/v1/feeds/tasks.ics", "image/png", "x-payload", NULL, &r);
    s_check_refused(&r);
    s_raw("GET", "/v1/tasks.ics", "text/html", "x-payload", NULL, &r);
    s_check_refused(&r);

    /* A response type with no raw replies serves nothing. */
    CHECK(!gateway_reply_media_type(&crm__customer__descriptor, "image/png"));
    CHECK(!gateway_reply_media_type(put->response, NULL));
}

static void test_header_helpers(void)
{
    CHECK(gateway_content_type_is_json("application/json"));
    CHECK(gateway_content_type_is_json("Application/JSON"));
    CHECK(gateway_content_type_is_json("application/json; charset=utf-8"));
    CHECK(gateway_content_type_is_json("application/json;charset=\"UTF-8\""));
    CHECK(!gateway_content_type_is_json("application/json; charset=iso-8859-1"));
    CHECK(!gateway_content_type_is_json("application/jsonx"));
    CHECK(!gateway_content_type_is_json("text/json"));
    CHECK(!gateway_content_type_is_json("application/x-www-form-urlencoded"));
    CHECK(!gateway_content_type_is_json(NULL));

    CHECK_STR(gateway_parse_bearer("Bearer abc.DEF-123"), "abc.DEF-123");
    CHECK_STR(gateway_parse_bearer("bearer   k"), "k");
    CHECK(!gateway_parse_bearer("Basic dXNlcjpwYXNz"));
    CHECK(!gateway_parse_bearer("Bearer "));
    CHECK(!gateway_parse_bearer("Bearer a b"));
    CHECK(!gateway_parse_bearer("Bearerabc"));
    CHECK(!gateway_parse_bearer(NULL));

    CHECK_STR(gateway_channel("booking"), "booking");
    CHECK_STR(gateway_channel("ui"), "ui");
    CHECK_STR(gateway_channel("cli"), "api");
    CHECK_STR(gateway_channel("BOOKING"), "api");
    CHECK_STR(gateway_channel(NULL), "api");

    CHECK(gateway_idempotency_key_valid("order-123"));
    CHECK(!gateway_idempotency_key_valid(""));
    CHECK(!gateway_idempotency_key_valid("a\tb"));
    CHECK(!gateway_idempotency_key_valid("a b"));
    char k[140];
    memset(k, 'k', 128);
    k[128] = '\0';
    CHECK(gateway_idempotency_key_valid(k));
    k[128] = 'k';
    k[129] = '\0';
    CHECK(!gateway_idempotency_key_valid(k));
}

int main(void)
{
    RUN(test_create_takes_body_as_field);
    RUN(test_json_errors_name_the_problem);
    RUN(test_patch_mask_and_if_match);
    RUN(test_if_match_parsing);
    RUN(test_list_query_parameters);
    RUN(test_whole_body_and_raw_body);
    RUN(test_reply_created_with_location_and_etag);
    RUN(test_reply_errors_and_empty);
    RUN(test_reply_photo);
    RUN(test_reply_raw_content_types);
    RUN(test_header_helpers);
    return 0;
}
