/* OpenAPI document from the route table and message descriptors. */
#include "gateway_openapi.h"
#include "gateway_session.h"
#include "cm_session.h"
#include "cm_perm.h"
#include "gateway_call.h"
#include "gateway_protodoc.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "cm_buf.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define REF_PREFIX "#/components/schemas/"

static json_t *s_ref(const char *name)
{
    char ref[256];
    snprintf(ref, sizeof ref, REF_PREFIX "%s", name);
    return json_pack("{s:s}", "$ref", ref);
}

/* ---------------------------------------------------------------------- */
/* Descriptions                                                            */

/* name as a sentence: "first_name" and "FirstName" give "First name.",
 * "crm.ListTagsResponse" gives "List tags response." */
static void s_sentence(const char *name, char *out, size_t size)
{
    const char *dot = strrchr(name, '.');
    const char *p = dot ? dot + 1 : name;
    size_t n = 0;
    for (; *p && n + 3 < size; p++) {
        char c = *p;
        if (c == '_') {
            c = ' ';
        } else if (isupper((unsigned char)c)) {
            if (n > 0 && out[n - 1] != ' ')
                out[n++] = ' ';
            c = (char)tolower((unsigned char)c);
        }
        out[n++] = c;
    }
    if (n > 0)
        out[0] = (char)toupper((unsigned char)out[0]);
    out[n++] = '.';
    out[n] = '\0';
}

/* The description of the proto element key (gateway_protodoc.h): its
 * comment, or when it has none, its own name (the last part of key) as a
 * sentence. A new reference. */
static json_t *s_doc(const char *key)
{
    const char *text = gateway_protodoc(key);
    if (text)
        return json_string(text);
    char sentence[160];
    s_sentence(key, sentence, sizeof sentence);
    return json_string(sentence);
}

/* A property of type type that says description. */
static json_t *s_prop(const char *type, const char *description)
{
    return json_pack("{s:s, s:s}", "type", type, "description", description);
}

/* A string property described by the .proto field key. */
static json_t *s_prop_doc(const char *key)
{
    return json_pack("{s:s, s:o}", "type", "string", "description", s_doc(key));
}

/* s_doc of field f of message desc. */
static json_t *s_field_doc(const ProtobufCMessageDescriptor *desc,
                           const ProtobufCFieldDescriptor *f)
{
    char key[256];
    snprintf(key, sizeof key, "%s.%s", desc->name, f->name);
    return s_doc(key);
}

/* What enum desc means, then each value (by its JSON name) with its comment.
 * No cap: the text is the proto's, not input. */
static json_t *s_enum_doc(const ProtobufCEnumDescriptor *desc)
{
    cm_buf_t buf;
    cm_buf_init(&buf, 0);
    json_t *doc = s_doc(desc->name);
    int rc = cm_buf_printf(&buf, "%s", json_string_value(doc));
    json_decref(doc);
    for (unsigned i = 0; i < desc->n_values && !rc; i++) {
        char name[128];
        char key[256];
        if (!cm_pbjson_enum_name(desc, desc->values[i].value, name, sizeof name))
            continue;
        snprintf(key, sizeof key, "%s.%s", desc->name, desc->values[i].name);
        const char *text = gateway_protodoc(key);
        rc = cm_buf_printf(&buf, "%s- `%s`%s%s", i ? "\n" : "\n\n", name, text ? ": " : "",
                           text ? text : "");
    }
    assert(!rc);
    json_t *out = json_stringn(buf.data, buf.len);
    cm_buf_release(&buf);
    return out;
}

static void s_add_message(json_t *schemas, const ProtobufCMessageDescriptor *desc);

static void s_add_enum(json_t *schemas, const ProtobufCEnumDescriptor *desc)
{
    if (json_object_get(schemas, desc->name))
        return;
    json_t *values = json_array();
    for (unsigned i = 0; i < desc->n_values; i++) {
        char name[128];
        if (cm_pbjson_enum_name(desc, desc->values[i].value, name, sizeof name))
            json_array_append_new(values, json_string(name));
    }
    json_object_set_new(schemas, desc->name,
                        json_pack("{s:s, s:o, s:o}", "type", "string", "description",
                                  s_enum_doc(desc), "enum", values));
}

/* The schema of one value of a field (not the array around a repeated one). */
static json_t *s_value_schema(json_t *schemas, const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int32");
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_pack("{s:s, s:s, s:i}", "type", "integer", "format", "int64", "minimum", 0);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return json_pack("{s:s, s:s}", "type", "string", "format", "int64");
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_pack("{s:s, s:s}", "type", "string", "format", "uint64");
    case PROTOBUF_C_TYPE_FLOAT:
        return json_pack("{s:s, s:s}", "type", "number", "format", "float");
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_pack("{s:s, s:s}", "type", "number", "format", "double");
    case PROTOBUF_C_TYPE_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case PROTOBUF_C_TYPE_STRING:
        return json_pack("{s:s}", "type", "string");
    case PROTOBUF_C_TYPE_BYTES:
        return json_pack("{s:s, s:s}", "type", "string", "format", "byte");
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        s_add_enum(schemas, ed);
        /* allOf, as a $ref may have no siblings and the field's description
         * goes beside it. */
        return json_pack("{s:[o]}", "allOf", s_ref(ed->name));
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *md = f->descriptor;
        if (cm_pbjson_is_wrapper(md)) {
            /* Written as its bare value; null or absent means unset. */
            json_t *s = s_value_schema(schemas, &md->fields[0]);
            json_object_set_new(s, "nullable", json_true());
            return s;
        }
        s_add_message(schemas, md);
        /* OpenAPI 3.0 lets a $ref have no siblings, hence the allOf; and
         * nullable only adds null to a type beside it, hence the type. */
        return json_pack("{s:s, s:[o], s:b}", "type", "object", "allOf", s_ref(md->name),
                         "nullable", 1);
    }
    }
    return json_object();
}

static json_t *s_field_schema(json_t *schemas, const ProtobufCFieldDescriptor *f)
{
    json_t *v = s_value_schema(schemas, f);
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        return v;
    /* A repeated message's items are never null. */
    json_object_del(v, "nullable");
    if (json_object_get(v, "allOf")) {
        json_t *ref = json_incref(json_array_get(json_object_get(v, "allOf"), 0));
        json_decref(v);
        v = ref;
    }
    return json_pack("{s:s, s:o}", "type", "array", "items", v);
}

static void s_add_message(json_t *schemas, const ProtobufCMessageDescriptor *desc)
{
    if (json_object_get(schemas, desc->name))
        return;
    /* Placed first so that recursive types stop here. */
    json_t *props = json_object();
    json_object_set_new(schemas, desc->name,
                        json_pack("{s:s, s:o, s:o, s:b}", "type", "object", "description",
                                  s_doc(desc->name), "properties", props, "additionalProperties",
                                  0));
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        char camel[128];
        cm_pbjson_camel(f->name, camel, sizeof camel);
        json_t *schema = s_field_schema(schemas, f);
        json_object_set_new(schema, "description", s_field_doc(desc, f));
        json_object_set_new(props, camel, schema);
    }
}

/* ---------------------------------------------------------------------- */
/* Operations                                                              */

static json_t *s_header_param(const char *name, const char *description, json_t *schema)
{
    return json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", name, "in", "header", "description",
                     description, "required", 0, "schema", schema);
}

static json_t *s_json_content(json_t *schema)
{
    return json_pack("{s:{s:o}}", "application/json; charset=utf-8", "schema", schema);
}

/* True when a request field is set from the path of route. */
static bool s_in_path(const struct gateway_route *r, const char *field)
{
    char want[80];
    snprintf(want, sizeof want, "{%s}", field);
    return strstr(r->pattern, want) != NULL;
}

/* True when desc has a string field etag: a request's is set from If-Match,
 * a reply's is sent as the ETag header. */
static bool s_has_etag(const ProtobufCMessageDescriptor *desc)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(desc, "etag");
    return f && f->type == PROTOBUF_C_TYPE_STRING;
}

/* What a query parameter means wherever a request has it, when its field has
 * no comment of its own in the .proto file. */
static const struct {
    const char *name;
    const char *description;
} s_query_help[] = {
    {"pageSize", "Results on one page; 0 or absent: the route's default. Over the route's maximum: "
                 "400 (the timeline cuts it to its maximum). docs/api.md, Limits."},
    {"pageToken", "The nextPageToken of the page before, every other parameter unchanged (another "
                  "query: 400). An empty nextPageToken means the last page."},
    {"orderBy",
     "A field (lastName, firstName, email, createdAt, updatedAt), optionally followed by "
     "a space and asc or desc; search sorts by relevance when absent."},
    {"consistentWith",
     "Read-your-writes: CUSTOMER_ID:ETAG of a write just made (CUSTOMER_ID:deleted "
     "after a delete), at most 10; the answer reflects at least those versions "
     "(docs/search.md)."},
    {"q", "A search query, as GET /v1/customers:search takes it: 1..200 characters, at most 10 "
          "words (docs/search.md)."},
};

/* The description of query parameter name, or NULL. */
static const char *s_query_description(const char *name)
{
    for (size_t i = 0; i < sizeof s_query_help / sizeof s_query_help[0]; i++)
        if (!strcmp(s_query_help[i].name, name))
            return s_query_help[i].description;
    return NULL;
}

static json_t *s_parameters(json_t *schemas, const struct gateway_route *r)
{
    json_t *params = json_array();
    /* Path parameters, in pattern order. */
    for (const char *p = strchr(r->pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *close = strchr(p, '}');
        if (!close)
            break;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(close - p - 1), p + 1);
        json_t *param =
            json_pack("{s:s, s:s, s:b, s:{s:s, s:s}}", "name", name, "in", "path", "required", 1,
                      "schema", "type", "string", "pattern", "^[A-Za-z0-9_-]{1,64}$");
        const ProtobufCFieldDescriptor *f =
            r->request ? protobuf_c_message_descriptor_get_field_by_name(r->request, name) : NULL;
        json_object_set_new(param, "description", f ? s_field_doc(r->request, f) : s_doc(name));
        json_array_append_new(params, param);
    }
    if (r->kind == GATEWAY_ROUTE_BUS &&
        (!r->body || (r->flags & (GATEWAY_STREAM_BODY | GATEWAY_RAW_BODY)))) {
        for (unsigned i = 0; i < r->request->n_fields; i++) {
            const ProtobufCFieldDescriptor *f = &r->request->fields[i];
            if (s_in_path(r, f->name))
                continue;
            /* A raw body fills its field, and its Content-Type content_type. A
             * raw-body route names that field (test_routes checks the table). */
            assert(!(r->flags & GATEWAY_RAW_BODY) || r->body);
            if ((r->flags & GATEWAY_RAW_BODY) &&
                (!strcmp(f->name, r->body) || !strcmp(f->name, "content_type")))
                continue;
            /* The gateway itself pages through a streamed file. */
            if ((r->flags & GATEWAY_STREAM_REPLY) && !strcmp(f->name, "cursor"))
                continue;
            /* ... and names the parts of an upload. */
            if ((r->flags & GATEWAY_STREAM_BODY) &&
                (!strcmp(f->name, "upload_id") || !strcmp(f->name, "parts")))
                continue;
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && !cm_pbjson_is_wrapper(f->descriptor))
                continue;
            char camel[128];
            cm_pbjson_camel(f->name, camel, sizeof camel);
            json_t *schema = s_field_schema(schemas, f);
            json_object_del(schema, "nullable");
            /* The parameter carries the description: an enum's bare $ref will do. */
            json_t *all_of = json_object_get(schema, "allOf");
            if (all_of && json_object_size(schema) == 1) {
                json_t *ref = json_incref(json_array_get(all_of, 0));
                json_decref(schema);
                schema = ref;
            }
            json_t *q = json_pack("{s:s, s:s, s:b, s:o}", "name", camel, "in", "query", "required",
                                  0, "schema", schema);
            /* The field's comment; the shared paging words where it has none. */
            char key[256];
            snprintf(key, sizeof key, "%s.%s", r->request->name, f->name);
            const char *help = gateway_protodoc(key);
            if (!help)
                help = s_query_description(camel);
            json_object_set_new(q, "description",
                                help ? json_string(help) : s_field_doc(r->request, f));
            if (f->label == PROTOBUF_C_LABEL_REPEATED)
                json_object_set_new(q, "explode", json_true());
            json_array_append_new(params, q);
        }
    }
    json_array_append_new(params,
                          s_header_param("X-Request-Id",
                                         "Your id for the request (1-64 of A-Z a-z 0-9 . _ -), "
                                         "echoed back; one is made up when absent or invalid.",
                                         json_pack("{s:s, s:s}", "type", "string", "pattern",
                                                   "^[A-Za-z0-9._-]{1,64}$")));
    if (r->kind != GATEWAY_ROUTE_BUS)
        return params;
    json_array_append_new(params,
                          s_header_param("X-Channel",
                                         "Where the change comes from: api (default), ui, "
                                         "import, booking or store.",
                                         json_pack("{s:s, s:[s,s,s,s,s]}", "type", "string", "enum",
                                                   "api", "ui", "import", "booking", "store")));
    if (strcmp(r->method, "GET"))
        json_array_append_new(
            params,
            s_header_param("Idempotency-Key",
                           "Makes a retried request take effect once (at most 128 characters).",
                           json_pack("{s:s, s:i}", "type", "string", "maxLength",
                                     GATEWAY_MAX_IDEMPOTENCY_KEY)));
    if (strcmp(r->method, "GET") &&
        (!(r->flags & GATEWAY_PUBLIC) || (r->flags & GATEWAY_SESSION_TOKEN)))
        json_array_append_new(
            params,
            s_header_param(GATEWAY_CSRF_HEADER,
                           "With the session cookie (not with an API key): the session's "
                           "csrfToken; a write without it is refused (403).",
                           json_pack("{s:s, s:i, s:i}", "type", "string", "minLength",
                                     CM_SESSION_CSRF_LEN, "maxLength", CM_SESSION_CSRF_LEN)));
    if (s_has_etag(r->request))
        json_array_append_new(
            params,
            s_header_param("If-Match", "The ETag the change is based on; a stale one gets 412.",
                           json_pack("{s:s}", "type", "string")));
    if (r->flags & GATEWAY_RAW_REPLY)
        json_array_append_new(
            params, s_header_param("If-None-Match", "An ETag you hold; unchanged content gets 304.",
                                   json_pack("{s:s}", "type", "string")));
    return params;
}

static json_t *s_request_body(json_t *schemas, const struct gateway_route *r)
{
    if (r->kind != GATEWAY_ROUTE_BUS || (!r->body && !(r->flags & GATEWAY_STREAM_BODY)))
        return NULL;
    if (r->flags & (GATEWAY_RAW_BODY | GATEWAY_STREAM_BODY)) {
        json_t *content = json_object();
        const char *types = r->body_types ? r->body_types : "application/octet-stream";
        for (const char *t = types; *t;) {
            size_t len = strcspn(t, ",");
            char type[128];
            snprintf(type, sizeof type, "%.*s", (int)len, t);
            json_object_set_new(
                content, type,
                json_pack("{s:{s:s, s:s}}", "schema", "type", "string", "format", "binary"));
            t += len;
            if (*t == ',')
                t++;
        }
        return json_pack("{s:b, s:o}", "required", 1, "content", content);
    }
    const ProtobufCMessageDescriptor *md = r->request;
    if (strcmp(r->body, "*")) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(r->request, r->body);
        md = f->descriptor;
    }
    s_add_message(schemas, md);
    return json_pack("{s:b, s:o}", "required", 1, "content", s_json_content(s_ref(md->name)));
}

/* ---------------------------------------------------------------------- */
/* Responses                                                               */

/* The error answers an operation lists beside "default", each a shared
 * response (#/components/responses/<name>, an Error body). s_gives says which
 * a route can get; the rest stay under "default". */
enum s_error {
    S_BAD_REQUEST = 0,
    S_UNAUTHENTICATED,
    S_FORBIDDEN,
    S_NOT_FOUND,
    S_CONFLICT,
    S_STALE,
    S_GONE,
    S_TOO_LARGE,
    S_NOT_JSON,
    S_TOO_MANY,
};

static const struct {
    const char *code;
    const char *name;
    const char *description;
} s_errors[] = {
    [S_BAD_REQUEST] = {"400", "BadRequest",
                       "INVALID_ARGUMENT: a field, query parameter, header or the JSON itself is "
                       "wrong; the message says where."},
    [S_UNAUTHENTICATED] = {"401", "Unauthenticated",
                           "UNAUTHENTICATED: no API key, or one that is unknown or revoked."},
    [S_FORBIDDEN] = {"403", "Forbidden",
                     "PERMISSION_DENIED: the key lacks a scope the route needs (x-crm-scopes; the "
                     "message names it), the staff member's role does not allow it, or a write "
                     "with the session cookie has no valid X-CSRF-Token."},
    [S_NOT_FOUND] = {"404", "NotFound",
                     "NOT_FOUND: nothing has this id (or token), or the id cannot be one "
                     "(\"invalid id\")."},
    [S_CONFLICT] = {"409", "Conflict",
                    "ALREADY_EXISTS: the change would make a second of something that must be "
                    "unique (details name the field, reason DUPLICATE, resourceId the record "
                    "holding the value), or it collided with a concurrent change: retry."},
    [S_STALE] = {"412", "PreconditionFailed",
                 "FAILED_PRECONDITION: If-Match is stale, or the state does not allow the change."},
    [S_GONE] = {"410", "Gone",
                "GONE: it was there and is no more (an export's file kept for its time)."},
    [S_TOO_LARGE] = {"413", "PayloadTooLarge", "RESOURCE_EXHAUSTED: the body is over the limit."},
    [S_NOT_JSON] = {"415", "UnsupportedMediaType",
                    "INVALID_ARGUMENT: a JSON body without Content-Type: application/json."},
    [S_TOO_MANY] = {"429", "TooManyRequests",
                    "RESOURCE_EXHAUSTED: too many wrong keys from this address, or another limit "
                    "of the service; Retry-After says when to try again."},
};

/* True when the gateway (or the service behind a bus route) can answer r with e. */
static bool s_gives(const struct gateway_route *r, enum s_error e)
{
    bool bus = r->kind == GATEWAY_ROUTE_BUS;
    switch (e) {
    case S_BAD_REQUEST:
        /* Every request's Idempotency-Key is checked; a bus route's query,
         * path and body too. */
        return true;
    case S_UNAUTHENTICATED:
        /* No key or session; or, on a route that signs a member in, wrong
         * credentials. */
        return !(r->flags & GATEWAY_PUBLIC) ||
               (r->flags & (GATEWAY_SESSION_TOKEN | GATEWAY_SESSION_SET));
    case S_TOO_MANY:
        /* Wrong keys lock the client's address out (gateway_limit.h); a
         * public write has limits of its own (sign-in, self-registration). */
        return !(r->flags & GATEWAY_PUBLIC) || (r->flags & GATEWAY_SESSION_TOKEN) ||
               (bus && strcmp(r->method, "GET"));
    case S_FORBIDDEN:
        /* A scope the key lacks, or a session write without its CSRF token;
         * a public write's service may refuse whom it names (a disabled
         * account). */
        if (r->flags & GATEWAY_PUBLIC)
            return bus && strcmp(r->method, "GET");
        return r->scopes || strcmp(r->method, "GET");
    case S_CONFLICT:
        /* A write that would duplicate something unique, or that loses to a
         * concurrent one after the service's retries (cm_call_db_fail). */
        return bus && strcmp(r->method, "GET");
    case S_NOT_FOUND:
        /* A path parameter names the resource; a public bus route has no key
         * to find a tenant by, so a secret in the request finds it (not the
         * session's routes: a session that is not there is a 401). */
        return bus && !(r->flags & (GATEWAY_NO_NOT_FOUND | GATEWAY_SESSION_TOKEN)) &&
               (strchr(r->pattern, '{') || (r->flags & (GATEWAY_PUBLIC | GATEWAY_NAMES_RESOURCE)));
    case S_STALE:
        /* A stale If-Match, or a state that does not allow the change (a
         * cancelled order, a full list, a settled currency). */
        return bus && (s_has_etag(r->request) ||
                       (r->flags & (GATEWAY_MAY_BE_GONE | GATEWAY_STATE_CHECKED)) ||
                       strcmp(r->method, "GET"));
    case S_GONE:
        return bus && (r->flags & GATEWAY_MAY_BE_GONE);
    case S_TOO_LARGE:
        return bus && (r->body || (r->flags & GATEWAY_STREAM_BODY));
    case S_NOT_JSON:
        return bus && r->body && !(r->flags & GATEWAY_RAW_BODY);
    }
    return false;
}

/* A reference to the shared response name, which is added to shared (the
 * components' responses) on first use. */
static json_t *s_shared_response(json_t *shared, const char *name, const char *description)
{
    if (!json_object_get(shared, name))
        json_object_set_new(shared, name,
                            json_pack("{s:s, s:o}", "description", description, "content",
                                      s_json_content(s_ref("Error"))));
    char ref[128];
    snprintf(ref, sizeof ref, "#/components/responses/%s", name);
    return json_pack("{s:s}", "$ref", ref);
}

/* Adds the schema of r's JSON reply to schemas and writes its name: the
 * response message's, or when the route leaves a field out (r->omit, the
 * photo's bytes, a session's token), a copy without it named for that
 * ("crm.PhotoWithoutData"). */
static void s_reply_schema(json_t *schemas, const struct gateway_route *r, char *name, size_t size)
{
    bool known = json_object_get(schemas, r->response->name) != NULL;
    s_add_message(schemas, r->response);
    if (!r->omit) {
        snprintf(name, size, "%s", r->response->name);
        return;
    }
    char camel[128];
    cm_pbjson_camel(r->omit, camel, sizeof camel);
    camel[0] = (char)toupper((unsigned char)camel[0]);
    snprintf(name, size, "%sWithout%s", r->response->name, camel);
    if (!json_object_get(schemas, name)) {
        json_t *copy = json_deep_copy(json_object_get(schemas, r->response->name));
        camel[0] = (char)tolower((unsigned char)camel[0]);
        json_object_del(json_object_get(copy, "properties"), camel);
        json_object_set_new(schemas, name, copy);
    }
    /* Added only to be copied: an unused component would be noise (a later
     * route or field that needs it adds it again). */
    if (!known)
        json_object_del(schemas, r->response->name);
}

static json_t *s_responses(json_t *schemas, json_t *shared, const struct gateway_route *r)
{
    json_t *resp = json_object();
    char code[8];
    snprintf(code, sizeof code, "%d", r->success);
    json_t *ok = json_object();
    switch (r->kind) {
    case GATEWAY_ROUTE_HEALTHZ:
        json_object_set_new(ok, "description", json_string("The gateway is up."));
        json_object_set_new(
            ok, "content",
            s_json_content(json_pack("{s:s, s:s, s:[s], s:{s:o}, s:b}", "type", "object",
                                     "description", "The gateway's liveness.", "required", "status",
                                     "properties", "status", s_prop("string", "Always ok."),
                                     "additionalProperties", 0)));
        break;
    case GATEWAY_ROUTE_READYZ: {
        /* 200 {"status":"ok"}; 503 names the services that did not answer. */
        json_t *ready =
            json_pack("{s:s, s:s, s:[s], s:{s:o}, s:b}", "type", "object", "description",
                      "Every service answers.", "required", "status", "properties", "status",
                      s_prop("string", "Always ok."), "additionalProperties", 0);
        json_t *unready = json_pack(
            "{s:s, s:s, s:[ss], s:{s:o, s:{s:s, s:s, s:{s:s}}}, s:b}", "type", "object",
            "description", "Which services do not answer.", "required", "status", "failing",
            "properties", "status", s_prop("string", "Always unavailable."), "failing", "type",
            "array", "description", "The services that did not answer.", "items", "type", "string",
            "additionalProperties", 0);
        json_object_set_new(ok, "description", json_string("Every service answers."));
        json_object_set_new(ok, "content", s_json_content(ready));
        json_object_set_new(resp, "503",
                            json_pack("{s:s, s:o}", "description",
                                      "A service does not answer; see failing.", "content",
                                      s_json_content(unready)));
        break;
    }
    case GATEWAY_ROUTE_METRICS:
        json_object_set_new(ok, "description", json_string("Prometheus text format 0.0.4."));
        json_object_set_new(
            ok, "content",
            json_pack("{s:{s:{s:s}}}", "text/plain; version=0.0.4", "schema", "type", "string"));
        break;
    case GATEWAY_ROUTE_OPENAPI:
        json_object_set_new(ok, "description", json_string("This document."));
        json_object_set_new(ok, "content", s_json_content(json_pack("{s:s}", "type", "object")));
        break;
    case GATEWAY_ROUTE_BUS:
        if (r->success == 204) {
            json_object_set_new(ok, "description", json_string("Done; no content."));
        } else if (r->flags & GATEWAY_STREAM_REPLY) {
            json_object_set_new(ok, "description",
                                json_string("The file, streamed (chunked transfer encoding), with "
                                            "Content-Disposition naming it. A transfer cut off "
                                            "before its end means the file is incomplete."));
            json_t *content = json_object();
            const char *const *types = gateway_reply_media_types(r->response);
            for (size_t i = 0; types && types[i]; i++)
                json_object_set_new(
                    content, types[i],
                    json_pack("{s:{s:s, s:s}}", "schema", "type", "string", "format", "binary"));
            json_object_set_new(ok, "content", content);
        } else if (r->flags & GATEWAY_RAW_REPLY) {
            json_object_set_new(ok, "description",
                                json_string("The bytes, with their Content-Type and an ETag."));
            json_object_set_new(ok, "content",
                                json_pack("{s:{s:{s:s, s:s}}}", "*/*", "schema", "type", "string",
                                          "format", "binary"));
            json_object_set_new(resp, "304",
                                json_pack("{s:s}", "description", "Not modified (If-None-Match)."));
        } else {
            char name[200];
            s_reply_schema(schemas, r, name, sizeof name);
            json_object_set_new(ok, "description", json_string(name));
            json_object_set_new(ok, "content", s_json_content(s_ref(name)));
        }
        json_t *headers = json_object();
        if (s_has_etag(r->response) || (r->flags & GATEWAY_RAW_REPLY))
            json_object_set_new(headers, "ETag",
                                json_pack("{s:s, s:{s:s}}", "description",
                                          "Quoted entity tag; send it back in If-Match.", "schema",
                                          "type", "string"));
        if (r->flags & GATEWAY_ATTACHMENT)
            json_object_set_new(headers, "Content-Disposition",
                                json_pack("{s:s, s:{s:s}}", "description",
                                          "attachment, with the file's name (filename*, RFC "
                                          "6266, when it is not plain ASCII)",
                                          "schema", "type", "string"));
        if (r->location)
            json_object_set_new(headers, "Location",
                                json_pack("{s:s, s:{s:s}}", "description", r->location, "schema",
                                          "type", "string"));
        if (json_object_size(headers))
            json_object_set_new(ok, "headers", headers);
        else
            json_decref(headers);
        break;
    }
    json_object_set_new(resp, code, ok);
    for (size_t e = 0; e < sizeof s_errors / sizeof s_errors[0]; e++)
        if (s_gives(r, (enum s_error)e))
            json_object_set_new(
                resp, s_errors[e].code,
                s_shared_response(shared, s_errors[e].name, s_errors[e].description));
    json_object_set_new(resp, "default", s_shared_response(shared, "Error", "Error (AIP-193)"));
    return resp;
}

/* The gateway's own operations, which no .proto file describes. */
static const struct {
    const char *summary;
    const char *description;
} s_gateway_ops[] = {
    [GATEWAY_ROUTE_HEALTHZ] = {"Liveness", "200 while the gateway process serves HTTP; it asks "
                                           "no service (GET /readyz does)."},
    [GATEWAY_ROUTE_READYZ] = {"Readiness",
                              "Asks every service over the bus; 200 when all answer, 503 naming "
                              "those that do not."},
    [GATEWAY_ROUTE_METRICS] = {"Metrics", "The gateway's counters and latency histograms in the "
                                          "Prometheus text format."},
    [GATEWAY_ROUTE_OPENAPI] = {"This document",
                               "The OpenAPI 3.0.3 description of this API, generated from the "
                               "gateway's route table and the .proto files of the running "
                               "version; no key needed."},
};

/* An operation's summary from its method name: "GetCustomer" -> "Get customer". */
static json_t *s_summary(const char *rpc)
{
    char sentence[160];
    s_sentence(rpc, sentence, sizeof sentence);
    sentence[strlen(sentence) - 1] = '\0';
    return json_string(sentence);
}

/* The comment of the route's method in its .proto file (or when it has none,
 * of its request message), then the bus method it calls. */
static json_t *s_bus_description(const struct gateway_route *r)
{
    char key[256];
    snprintf(key, sizeof key, "rpc %s %s %s", r->rpc, r->request->name, r->response->name);
    const char *text = gateway_protodoc(key);
    /* A request message's comment often says what the call does. */
    if (!text)
        text = gateway_protodoc(r->request->name);
    char summary[160];
    if (!text) {
        s_sentence(r->rpc, summary, sizeof summary);
        text = summary;
    }
    return json_pack("s++++", text, "\n\nBus method: ", r->service, ".", r->rpc);
}

static json_t *s_operation(json_t *schemas, json_t *shared, const struct gateway_route *r)
{
    json_t *op = json_object();
    char id[160];
    if (r->kind == GATEWAY_ROUTE_BUS) {
        snprintf(id, sizeof id, "%s.%s", r->service, r->rpc);
        json_object_set_new(op, "summary", s_summary(r->rpc));
        json_object_set_new(op, "description", s_bus_description(r));
        json_object_set_new(op, "tags", json_pack("[s]", r->service));
    } else {
        /* "/readyz" -> "readyz", "/v1/openapi.json" -> "openapi" */
        const char *base = strrchr(r->pattern, '/') + 1;
        snprintf(id, sizeof id, "%.*s", (int)strcspn(base, "."), base);
        json_object_set_new(op, "summary", json_string(s_gateway_ops[r->kind].summary));
        json_object_set_new(op, "description", json_string(s_gateway_ops[r->kind].description));
        json_object_set_new(op, "tags", json_pack("[s]", "gateway"));
    }
    json_object_set_new(op, "operationId", json_string(id));
    json_object_set_new(op, "parameters", s_parameters(schemas, r));
    json_t *body = s_request_body(schemas, r);
    if (body)
        json_object_set_new(op, "requestBody", body);
    json_object_set_new(op, "responses", s_responses(schemas, shared, r));
    if (r->flags & GATEWAY_SESSION_TOKEN)
        json_object_set_new(op, "security", json_pack("[{s:[]}]", "sessionCookie"));
    else if (r->flags & GATEWAY_PUBLIC)
        json_object_set_new(op, "security", json_array());
    if (r->scopes) {
        const char *names[CM_SCOPE_LAST];
        size_t n = cm_scopes_names(r->scopes, names);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_string(names[i]));
        json_object_set_new(op, "x-crm-scopes", arr);
    }
    return op;
}

/* The AIP-193 body gateway_error_json writes: code, status and message always;
 * details only when fields are named, each with its field and description,
 * reason and resourceId only when not empty. */
static json_t *s_error_schema(void)
{
    /* Each detail is a crm.FieldViolation of the reply envelope. */
    json_t *violation =
        json_pack("{s:s, s:o, s:[ss], s:{s:o, s:o, s:o, s:o}, s:b}", "type", "object",
                  "description", s_doc("crm.FieldViolation"), "required", "field", "description",
                  "properties", "field", s_prop_doc("crm.FieldViolation.field"), "description",
                  s_prop_doc("crm.FieldViolation.description"), "reason",
                  s_prop_doc("crm.FieldViolation.reason"), "resourceId",
                  s_prop_doc("crm.FieldViolation.resource_id"), "additionalProperties", 0);
    json_t *error = json_pack(
        "{s:s, s:s, s:[sss], s:{s:o, s:o, s:o, s:{s:s, s:s, s:o}}, s:b}", "type", "object",
        "description", "What went wrong.", "required", "code", "status", "message", "properties",
        "code", s_prop("integer", "The HTTP status code again."), "status",
        s_prop("string",
               "The status name: INVALID_ARGUMENT, NOT_FOUND, ... (docs/api.md, Errors)."),
        "message", s_prop("string", "A short English phrase naming what failed."), "details",
        "type", "array", "description", "The fields at fault, when the error is about fields.",
        "items", violation, "additionalProperties", 0);
    return json_pack("{s:s, s:s, s:[s], s:{s:o}, s:b}", "type", "object", "description",
                     "An error answer (AIP-193): every 4xx and 5xx has this body.", "required",
                     "error", "properties", "error", error, "additionalProperties", 0);
}

json_t *gateway_openapi_build(const struct gateway_route *routes, size_t n)
{
    json_t *schemas = json_object();
    json_t *shared = json_object();
    json_t *paths = json_object();
    json_object_set_new(schemas, "Error", s_error_schema());
    for (size_t i = 0; i < n; i++) {
        const struct gateway_route *r = &routes[i];
        json_t *item = json_object_get(paths, r->pattern);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, r->pattern, item);
        }
        char method[16];
        size_t k = 0;
        for (; r->method[k] && k + 1 < sizeof method; k++)
            method[k] = (char)tolower((unsigned char)r->method[k]);
        method[k] = '\0';
        json_object_set_new(item, method, s_operation(schemas, shared, r));
    }
    /* The server is relative: whichever gateway served the document (the
     * paths start at its root). */
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s}], s:[{s:[]}, {s:[]}], s:o, "
        "s:{s:o, s:{s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s}}, s:o}}",
        "openapi", "3.0.3", "info", "title", "CRM API", "version", "1", "description",
        "Customer management over HTTP/JSON. Names follow the proto3 JSON mapping "
        "(lowerCamelCase); int64 values are strings. Errors follow AIP-193. This document is "
        "generated by the gateway from its route table and the protobuf descriptors.",
        "servers", "url", "/", "description", "The gateway that serves this document", "security",
        "bearerAuth", "sessionCookie", "paths", paths, "components", "schemas", schemas,
        "securitySchemes", "bearerAuth", "type", "http", "scheme", "bearer", "sessionCookie",
        "type", "apiKey", "in", "cookie", "name", GATEWAY_SESSION_COOKIE, "description",
        "A staff member's session (POST /v1/session sets it; HttpOnly). Writes carry "
        "X-CSRF-Token.",
        "responses", shared);
    return doc;
}
