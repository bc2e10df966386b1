/* The generated OpenAPI document: valid JSON, every route of the table, every
 * $ref resolvable, schemas that follow the proto3 JSON mapping. */
#include "gateway_openapi.h"
#include "customers.pb-c.h"
#include "envelope.pb-c.h"
#include "gateway_protodoc.h"
#include "../unit.h"

#include <ctype.h>

static json_t *s_get(json_t *j, const char *path)
{
    /* "a/b/c" walks objects; keys here have no '/' of their own but paths do,
     * so callers use s_op for those. */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf, *slash; p && j; p = slash ? slash + 1 : NULL) {
        slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        j = json_object_get(j, p);
    }
    return j;
}

static json_t *s_op(json_t *doc, const char *pattern, const char *method)
{
    return json_object_get(json_object_get(json_object_get(doc, "paths"), pattern), method);
}

/* Checks every "$ref" under j points at an existing schema or response. */
static size_t s_check_refs(json_t *doc, json_t *j)
{
    size_t n = 0;
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
        {
            if (!strcmp(key, "$ref")) {
                const char *ref = json_string_value(v);
                CHECK(ref && !strncmp(ref, "#/components/", 13));
                const char *rest = ref + 13;
                const char *slash = strchr(rest, '/');
                CHECK(slash);
                char kind[32];
                snprintf(kind, sizeof kind, "%.*s", (int)(slash - rest), rest);
                if (!json_object_get(json_object_get(json_object_get(doc, "components"), kind),
                                     slash + 1)) {
                    fprintf(stderr, "dangling $ref %s\n", ref);
                    abort();
                }
                n++;
            } else {
                n += s_check_refs(doc, v);
            }
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) n += s_check_refs(doc, v);
    }
    return n;
}

static void test_every_route_is_documented(void)
{
    json_t *doc = gateway_openapi_build(gateway_routes, gateway_n_routes);
    CHECK(doc);
    CHECK_STR(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    /* Valid JSON text, round trip. */
    char *text = json_dumps(doc, JSON_COMPACT);
    CHECK(text);
    json_error_t e;
    json_t *again = json_loads(text, 0, &e);
    CHECK(again && json_equal(doc, again));
    json_decref(again);
    free(text);

    json_t *ids = json_object();
    for (size_t i = 0; i < gateway_n_routes; i++) {
        const struct gateway_route *r = &gateway_routes[i];
        char method[16];
        size_t k = 0;
        for (; r->method[k]; k++)
            method[k] = (char)tolower((unsigned char)r->method[k]);
        method[k] = '\0';
        json_t *op = s_op(doc, r->pattern, method);
        if (!op) {
            fprintf(stderr, "%s %s is not documented\n", r->method, r->pattern);
            abort();
        }
        const char *id = json_string_value(json_object_get(op, "operationId"));
        CHECK(id && !json_object_get(ids, id));
        json_object_set_new(ids, id, json_true());
        char code[8];
        snprintf(code, sizeof code, "%d", r->success);
        CHECK(json_object_get(json_object_get(op, "responses"), code));
        CHECK(json_object_get(json_object_get(op, "responses"), "default"));
        /* Public routes opt out of the global requirement (a key or a
         * session); a session route needs the session's cookie alone. */
        json_t *sec = json_object_get(op, "security");
        if (r->flags & GATEWAY_SESSION_TOKEN)
            CHECK(json_is_array(sec) && json_array_size(sec) == 1 &&
                  json_object_get(json_array_get(sec, 0), "sessionCookie"));
        else
            CHECK((r->flags & GATEWAY_PUBLIC) ? json_is_array(sec) && json_array_size(sec) == 0
                                              : sec == NULL);
        /* A body: a request field it fills, or a file streamed on in parts. */
        bool takes_body = r->body != NULL || (r->flags & GATEWAY_STREAM_BODY);
        if (r->kind == GATEWAY_ROUTE_BUS)
            CHECK(json_object_get(op, "requestBody") ? takes_body : !takes_body);
    }
    CHECK(json_object_size(ids) == gateway_n_routes);
    json_decref(ids);
    CHECK(s_check_refs(doc, doc) > 20);
    CHECK_STR(json_string_value(s_get(doc, "components/securitySchemes/bearerAuth/scheme")),
              "bearer");
    json_decref(doc);
}

static void test_schemas_follow_the_json_mapping(void)
{
    json_t *doc = gateway_openapi_build(gateway_routes, gateway_n_routes);
    json_t *cust = s_get(doc, "components/schemas/crm.Customer/properties");
    CHECK(cust);
    CHECK_STR(json_string_value(s_get(cust, "firstName/type")), "string");
    CHECK_STR(json_string_value(s_get(cust, "tags/type")), "array");
    CHECK_STR(json_string_value(s_get(cust, "tags/items/type")), "string");
    CHECK_STR(json_string_value(s_get(cust, "isCompany/type")), "boolean");
    CHECK_STR(json_string_value(s_get(cust, "addresses/items/$ref")),
              "#/components/schemas/crm.Address");
    /* An enum field is an allOf of its enum, so its description may stand beside it. */
    CHECK_STR(
        json_string_value(json_object_get(json_array_get(s_get(cust, "gender/allOf"), 0), "$ref")),
        "#/components/schemas/crm.Gender");
    CHECK(json_object_get(s_get(cust, "company"), "allOf"));
    CHECK(json_is_true(s_get(cust, "company/nullable")));
    json_t *gender = s_get(doc, "components/schemas/crm.Gender/enum");
    CHECK(json_array_size(gender) == 4);
    CHECK_STR(json_string_value(json_array_get(gender, 1)), "FEMALE");
    /* The photo's PUT answers without its bytes: a copy of crm.Photo without
     * data, and no crm.Photo left over that nothing uses. */
    CHECK(s_get(doc, "components/schemas/crm.PhotoWithoutData/properties/contentType"));
    CHECK(!s_get(doc, "components/schemas/crm.PhotoWithoutData/properties/data"));
    CHECK(!s_get(doc, "components/schemas/crm.Photo"));

    /* List parameters come from the request message. */
    json_t *params = json_object_get(s_op(doc, "/v1/customers", "get"), "parameters");
    bool saw_page = false, saw_company = false, saw_status = false;
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        const char *in = json_string_value(json_object_get(p, "in"));
        if (!strcmp(name, "pageSize")) {
            saw_page = !strcmp(in, "query") &&
                       !strcmp(json_string_value(s_get(p, "schema/type")), "integer");
        } else if (!strcmp(name, "isCompany")) {
            saw_company = !strcmp(json_string_value(s_get(p, "schema/type")), "boolean");
        } else if (!strcmp(name, "accountStatus")) {
            saw_status = s_get(p, "schema/$ref") != NULL;
        }
    }
    CHECK(saw_page && saw_company && saw_status);

    /* PATCH: path id, If-Match, body of the customer; PUT photo: raw images. */
    json_t *patch = s_op(doc, "/v1/customers/{id}", "patch");
    bool saw_id = false, saw_if_match = false;
    json_array_foreach(json_object_get(patch, "parameters"), i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        saw_id |=
            !strcmp(name, "id") && !strcmp(json_string_value(json_object_get(p, "in")), "path");
        saw_if_match |= !strcmp(name, "If-Match");
    }
    CHECK(saw_id && saw_if_match);
    json_t *content = s_get(patch, "requestBody/content");
    json_t *media = json_object_iter_value(json_object_iter(content));
    CHECK_STR(json_string_value(s_get(media, "schema/$ref")), "#/components/schemas/crm.Customer");
    CHECK(json_object_get(
        s_get(s_op(doc, "/v1/customers/{id}/photo", "put"), "requestBody/content"), "image/png"));
    CHECK(json_object_get(json_object_get(s_op(doc, "/v1/customers", "post"), "responses"), "201"));
    CHECK(json_object_get(json_object_get(s_op(doc, "/v1/customers/{id}", "delete"), "responses"),
                          "204"));
    CHECK(s_op(doc, "/v1/customers:batchDelete", "post"));
    json_decref(doc);
}

static void test_64_bit_integers_are_strings(void)
{
    static const struct gateway_route table[] = {
        {"POST", "/v1/envelopes", .kind = GATEWAY_ROUTE_BUS, .service = "x", .rpc = "Echo",
         .request = &crm__request_header__descriptor,
         .response = &crm__replay_events_response__descriptor, .body = "*", .success = 200},
    };
    json_t *doc = gateway_openapi_build(table, 1);
    json_t *hdr = s_get(doc, "components/schemas/crm.RequestHeader/properties");
    CHECK_STR(json_string_value(s_get(hdr, "deadlineUnixMs/type")), "string");
    CHECK_STR(json_string_value(s_get(hdr, "deadlineUnixMs/format")), "int64");
    json_t *ev = s_get(doc, "components/schemas/crm.Event/properties");
    CHECK_STR(json_string_value(s_get(ev, "seq/type")), "string");
    CHECK_STR(json_string_value(s_get(ev, "payload/format")), "byte");
    CHECK(s_check_refs(doc, doc) > 0);
    json_decref(doc);
}

/* The error body's schema says which fields are always there and allows no
 * others; a paging parameter says what it takes. */
static void test_error_schema_and_query_help(void)
{
    static const struct gateway_route table[] = {
        {"GET", "/v1/customers", .kind = GATEWAY_ROUTE_BUS, .service = "customers",
         .rpc = "ListCustomers", .request = &crm__list_customers_request__descriptor,
         .response = &crm__list_customers_response__descriptor, .success = 200},
    };
    json_t *doc = gateway_openapi_build(table, 1);
    json_t *err = s_get(doc, "components/schemas/Error");
    CHECK_STR(json_string_value(json_array_get(s_get(err, "required"), 0)), "error");
    CHECK(json_is_false(s_get(err, "additionalProperties")));
    json_t *inner = s_get(err, "properties/error");
    CHECK(json_array_size(s_get(inner, "required")) == 3);
    CHECK(json_is_false(s_get(inner, "additionalProperties")));
    json_t *item = s_get(inner, "properties/details/items");
    CHECK(json_array_size(s_get(item, "required")) == 2);
    CHECK(s_get(item, "properties/resourceId"));

    json_t *params = json_object_get(s_op(doc, "/v1/customers", "get"), "parameters");
    size_t i, described = 0;
    json_t *p;
    json_array_foreach(params, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        const char *help = json_string_value(json_object_get(p, "description"));
        if (!strcmp(name, "pageToken") || !strcmp(name, "orderBy") || !strcmp(name, "pageSize")) {
            CHECK(help && strlen(help) > 20);
            described++;
        }
        /* Every parameter says what it takes. */
        CHECK(help && help[0]);
    }
    CHECK(described == 3);
    json_decref(doc);
}

/* Every schema, property and parameter has a description, from its .proto
 * comment where there is one; every operation a summary and a description. */
static void test_everything_is_described(void)
{
    json_t *doc = gateway_openapi_build(gateway_routes, gateway_n_routes);
    const char *name;
    json_t *schema;
    size_t props = 0;
    json_object_foreach(s_get(doc, "components/schemas"), name, schema)
    {
        CHECK(json_string_length(json_object_get(schema, "description")) > 0);
        const char *prop;
        json_t *ps;
        json_object_foreach(json_object_get(schema, "properties"), prop, ps)
        {
            if (!json_string_length(json_object_get(ps, "description"))) {
                fprintf(stderr, "%s.%s has no description\n", name, prop);
                abort();
            }
            props++;
        }
    }
    CHECK(props > 500);
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op)
        {
            CHECK(json_string_length(json_object_get(op, "summary")) > 0);
            CHECK(json_string_length(json_object_get(op, "description")) > 0);
            size_t i;
            json_t *p;
            json_array_foreach(json_object_get(op, "parameters"), i, p)
                CHECK(json_string_length(json_object_get(p, "description")) > 0);
        }
    }
    /* From the .proto comments: a message, a field, an enum value, a method. */
    CHECK_STR(json_string_value(s_get(doc, "components/schemas/crm.Customer/description")),
              gateway_protodoc("crm.Customer"));
    CHECK_STR(json_string_value(
                  s_get(doc, "components/schemas/crm.Customer/properties/email/description")),
              gateway_protodoc("crm.Customer.email"));
    CHECK(strstr(json_string_value(s_get(doc, "components/schemas/crm.Source/description")),
                 gateway_protodoc("crm.Source.SOURCE_SIGNUP")));
    const char *get =
        json_string_value(json_object_get(s_op(doc, "/v1/customers/{id}", "get"), "description"));
    const char *rpc = gateway_protodoc("rpc GetCustomer crm.GetCustomerRequest crm.Customer");
    CHECK(get && rpc && !strncmp(get, rpc, strlen(rpc)));
    CHECK(strstr(get, "Bus method: customers.GetCustomer"));
    /* The summary: the method's name as words. */
    CHECK_STR(json_string_value(json_object_get(s_op(doc, "/v1/customers/{id}", "get"), "summary")),
              "Get customer");
    json_decref(doc);
}

int main(void)
{
    RUN(test_every_route_is_documented);
    RUN(test_schemas_follow_the_json_mapping);
    RUN(test_64_bit_integers_are_strings);
    RUN(test_error_schema_and_query_help);
    RUN(test_everything_is_described);
    return 0;
}
