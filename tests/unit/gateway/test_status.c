/* The status table and the AIP-193 error body. */
#include "gateway_status.h"
#include "../unit.h"

static void test_status_table(void)
{
    static const struct {
        int status, http;
        const char *name;
    } want[] = {
        {CRM__STATUS__STATUS_OK, 200, "OK"},
        {CRM__STATUS__STATUS_INVALID_ARGUMENT, 400, "INVALID_ARGUMENT"},
        {CRM__STATUS__STATUS_NOT_FOUND, 404, "NOT_FOUND"},
        {CRM__STATUS__STATUS_ALREADY_EXISTS, 409, "ALREADY_EXISTS"},
        {CRM__STATUS__STATUS_FAILED_PRECONDITION, 412, "FAILED_PRECONDITION"},
        {CRM__STATUS__STATUS_PERMISSION_DENIED, 403, "PERMISSION_DENIED"},
        {CRM__STATUS__STATUS_UNAUTHENTICATED, 401, "UNAUTHENTICATED"},
        {CRM__STATUS__STATUS_RESOURCE_EXHAUSTED, 429, "RESOURCE_EXHAUSTED"},
        {CRM__STATUS__STATUS_UNAVAILABLE, 503, "UNAVAILABLE"},
        {CRM__STATUS__STATUS_DEADLINE_EXCEEDED, 504, "DEADLINE_EXCEEDED"},
        {CRM__STATUS__STATUS_INTERNAL, 500, "INTERNAL"},
        {CRM__STATUS__STATUS_GONE, 410, "GONE"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK(gateway_status_http(want[i].status) == want[i].http);
        CHECK_STR(gateway_status_name(want[i].status), want[i].name);
    }
    /* Every value of the enum is in the table. */
    for (unsigned i = 0; i < crm__status__descriptor.n_values; i++)
        CHECK(gateway_status_http(crm__status__descriptor.values[i].value) != 500 ||
              crm__status__descriptor.values[i].value == CRM__STATUS__STATUS_INTERNAL);
    /* A status from a newer service is an internal error, not a crash. */
    CHECK(gateway_status_http(99) == 500);
    CHECK_STR(gateway_status_name(99), "INTERNAL");
}

static void test_error_body_shape(void)
{
    Crm__FieldViolation a = CRM__FIELD_VIOLATION__INIT, b = CRM__FIELD_VIOLATION__INIT;
    a.field = "email";
    a.description = "already used by another customer";
    a.reason = "DUPLICATE";
    a.resource_id = "c-42";
    b.field = "phone";
    b.description = "not a phone number";
    Crm__FieldViolation *d[] = {&a, &b};
    struct gateway_response r = {0};
    gateway_response_error(&r, CRM__STATUS__STATUS_ALREADY_EXISTS, "customer exists", d, 2);
    CHECK(r.code == 409);
    CHECK_STR(r.content_type, "application/json; charset=utf-8");
    CHECK(r.body_len == strlen(r.body));
    CHECK_STR(r.body, "{\"error\":{\"code\":409,\"status\":\"ALREADY_EXISTS\",\"message\":"
                      "\"customer exists\",\"details\":[{\"field\":\"email\",\"description\":"
                      "\"already used by another customer\",\"reason\":\"DUPLICATE\","
                      "\"resourceId\":\"c-42\"},{\"field\":\"phone\",\"description\":"
                      "\"not a phone number\"}]}}");
    CHECK(gateway_response_get_header(&r, "WWW-Authenticate") == NULL);
    gateway_response_release(&r);
    CHECK(r.body == NULL && r.n_headers == 0);

    /* No details: no key. 401 carries the challenge. */
    gateway_response_error(&r, CRM__STATUS__STATUS_UNAUTHENTICATED, "invalid API key", NULL, 0);
    CHECK(r.code == 401);
    CHECK_STR(r.body, "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\",\"message\":"
                      "\"invalid API key\"}}");
    CHECK_STR(gateway_response_get_header(&r, "www-authenticate"), "Bearer");
    gateway_response_release(&r);

    /* A service message that is not UTF-8 still gives a valid body. */
    gateway_response_error(&r, CRM__STATUS__STATUS_INTERNAL, "bad \xff text", NULL, 0);
    json_t *j = json_loads(r.body, 0, NULL);
    CHECK(j && json_is_string(json_object_get(json_object_get(j, "error"), "message")));
    json_decref(j);
    gateway_response_release(&r);

    gateway_response_error_http(&r, 413, "RESOURCE_EXHAUSTED", "request body exceeds 10 bytes");
    CHECK(r.code == 413);
    CHECK_STR(r.body, "{\"error\":{\"code\":413,\"status\":\"RESOURCE_EXHAUSTED\",\"message\":"
                      "\"request body exceeds 10 bytes\"}}");
    gateway_response_release(&r);

    gateway_response_field_error(&r, "pageSize: expected a number", "pageSize",
                                 "expected a number");
    CHECK(r.code == 400);
    CHECK(strstr(r.body, "\"details\":[{\"field\":\"pageSize\",\"description\":"
                         "\"expected a number\"}]"));
    gateway_response_release(&r);
}

static void test_response_headers(void)
{
    struct gateway_response r = {0};
    gateway_response_header(&r, "ETag", "\"1\"");
    gateway_response_header(&r, "Location", "/v1/x");
    gateway_response_header(&r, "etag", "\"2\"");
    CHECK(r.n_headers == 2);
    CHECK_STR(gateway_response_get_header(&r, "ETag"), "\"2\"");
    CHECK_STR(gateway_response_get_header(&r, "location"), "/v1/x");
    CHECK(gateway_response_get_header(&r, "Allow") == NULL);
    gateway_response_release(&r);
}

int main(void)
{
    RUN(test_status_table);
    RUN(test_error_body_shape);
    RUN(test_response_headers);
    return 0;
}
