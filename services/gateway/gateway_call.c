/* HTTP request -> protobuf request, bus reply -> HTTP response, generically. */
#include "gateway_call.h"
#include "gateway_download.h"
#include "cm_arena.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "exchange.pb-c.h"
#include "notes.pb-c.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

/* ---------------------------------------------------------------------- */
/* Header parsing                                                          */

int gateway_parse_if_match(const char *value, char *out, size_t size)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!strncmp(value, "W/", 2))
        value += 2;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
        value++;
        n -= 2;
    }
    if (n == 0 || n >= size || (n == 1 && value[0] == '*'))
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] <= 0x20 || (unsigned char)value[i] >= 0x7f || value[i] == '"' ||
            value[i] == ',')
            return -1;
    memcpy(out, value, n);
    out[n] = '\0';
    return 0;
}

bool gateway_content_type_is_json(const char *value)
{
    if (!value)
        return false;
    while (*value == ' ')
        value++;
    if (strncasecmp(value, "application/json", 16))
        return false;
    const char *p = value + 16;
    while (*p == ' ')
        p++;
    if (!*p)
        return true;
    if (*p++ != ';')
        return false;
    while (*p == ' ')
        p++;
    if (strncasecmp(p, "charset", 7))
        return false;
    p += 7;
    while (*p == ' ')
        p++;
    if (*p++ != '=')
        return false;
    while (*p == ' ')
        p++;
    bool quoted = *p == '"';
    if (quoted)
        p++;
    if (strncasecmp(p, "utf-8", 5))
        return false;
    p += 5;
    if (quoted && *p++ != '"')
        return false;
    while (*p == ' ')
        p++;
    return *p == '\0';
}

const char *gateway_parse_bearer(const char *value)
{
    if (!value || strncasecmp(value, "Bearer ", 7))
        return NULL;
    const char *key = value + 7;
    while (*key == ' ')
        key++;
    size_t n = strlen(key);
    if (n == 0 || n > 512)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f)
            return NULL;
    return key;
}

const char *gateway_channel(const char *value)
{
    static const char *const known[] = {"api", "ui", "import", "booking", "store"};
    if (value)
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (!strcmp(value, known[i]))
                return known[i];
    return "api";
}

bool gateway_idempotency_key_valid(const char *value)
{
    size_t n = 0;
    for (; value[n]; n++)
        if ((unsigned char)value[n] <= 0x20 || (unsigned char)value[n] >= 0x7f ||
            n == GATEWAY_MAX_IDEMPOTENCY_KEY)
            return false;
    return n > 0;
}

/* ---------------------------------------------------------------------- */
/* Building the request                                                    */

static void s_pbjson_error(struct gateway_response *err, const struct cm_pbjson_error *pe)
{
    char *msg = pe->field[0] ? cm_strfmt("%s: %s", pe->field, pe->description)
                             : cm_strfmt("request body: %s", pe->description);
    gateway_response_field_error(err, msg, pe->field, pe->description);
    free(msg);
}

/* True when a path parameter of the match names this field. */
static bool s_is_path_field(const struct gateway_match *m, const ProtobufCFieldDescriptor *f)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, f->name))
            return true;
    return false;
}

/* A field a query parameter may set: not bound by the path, and text can say it. */
static const ProtobufCFieldDescriptor *s_query_field(const struct gateway_match *m,
                                                     const char *name)
{
    const ProtobufCFieldDescriptor *f = cm_pbjson_find_field(m->route->request, name);
    if (!f || s_is_path_field(m, f))
        return NULL;
    /* A raw body fills its field, and its Content-Type content_type. A raw-body
     * route names that field (test_routes checks the table). */
    assert(!(m->route->flags & GATEWAY_RAW_BODY) || m->route->body);
    if ((m->route->flags & GATEWAY_RAW_BODY) &&
        (!strcmp(f->name, m->route->body) || !strcmp(f->name, "content_type")))
        return NULL;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE && !cm_pbjson_is_wrapper(f->descriptor))
        return NULL;
    return f;
}

/* Sets query parameters into msg. Returns 0, or -1 with err filled. */
static int s_query(ProtobufCMessage *msg, const struct gateway_input *in,
                   struct gateway_response *err)
{
    const struct gateway_match *m = in->match;
    bool allowed = m->route->body == NULL || (m->route->flags & GATEWAY_RAW_BODY);
    const char *p = in->query;
    int rc = 0;
    char *value = NULL;
    while (p && *p && rc == 0) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        char key[65];
        free(value);
        value = NULL;
        if (kend == p) { // "&&" or "=x"
            if (eq) {
                gateway_response_error(err, CRM__STATUS__STATUS_INVALID_ARGUMENT,
                                       "query parameter without a name", NULL, 0);
                rc = -1;
            }
            p = *end ? end + 1 : end;
            continue;
        }
        if (gateway_percent_decode(p, (size_t)(kend - p), true, key, sizeof key) < 0 ||
            !cm_utf8_valid(key, strlen(key), NULL)) {
            gateway_response_error(err, CRM__STATUS__STATUS_INVALID_ARGUMENT,
                                   "invalid query parameter name", NULL, 0);
            rc = -1;
            break;
        }
        size_t raw_len = eq ? (size_t)(end - eq - 1) : 0;
        value = cm_malloc(raw_len + 1);
        value[0] = '\0';
        const ProtobufCFieldDescriptor *f = allowed ? s_query_field(m, key) : NULL;
        char *msgtext = NULL;
        const char *desc = NULL;
        size_t bad = 0;
        long decoded = 0;
        struct cm_pbjson_error pe = {0};
        if (!f) {
            msgtext = cm_strfmt("unknown query parameter \"%s\"", key);
            desc = "unknown query parameter";
        } else if (eq && (decoded = gateway_percent_decode(eq + 1, raw_len, true, value,
                                                           raw_len + 1)) == GATEWAY_DECODE_NUL) {
            msgtext = cm_strfmt("query parameter \"%s\" holds a NUL byte (%%00)", key);
            desc = "NUL byte";
        } else if (eq && decoded < 0) {
            msgtext = cm_strfmt("query parameter \"%s\" has a bad percent-escape", key);
            desc = "bad percent-escape";
        } else if (strlen(value) > GATEWAY_MAX_QUERY_VALUE) {
            msgtext = cm_strfmt("query parameter \"%s\" is longer than %d bytes", key,
                                GATEWAY_MAX_QUERY_VALUE);
            desc = "too long";
        } else if (!cm_utf8_valid(value, strlen(value), &bad)) {
            msgtext = cm_strfmt("query parameter \"%s\" is not valid UTF-8 (byte %zu)", key, bad);
            desc = "not valid UTF-8";
        } else {
            char camel[128];
            cm_pbjson_camel(f->name, camel, sizeof camel);
            if (cm_pbjson_set_text(msg, camel, value, &pe)) {
                msgtext = cm_strfmt("query parameter \"%s\": %s", key, pe.description);
                desc = pe.description;
            }
        }
        if (msgtext) {
            gateway_response_field_error(err, msgtext, key, desc);
            free(msgtext);
            rc = -1;
        }
        p = *end ? end + 1 : end;
    }
    free(value);
    return rc;
}

/* Parses the JSON body; returns a new reference to an object, or NULL with err. */
static json_t *s_parse_json(const struct gateway_input *in, struct gateway_response *err)
{
    if (in->body_len == 0)
        return json_object();
    json_error_t je;
    json_t *json = json_loadb(in->body, in->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!json) {
        /* jansson names its own flag for a NUL; a client needs the rule. */
        const char *why = strstr(je.text, "JSON_ALLOW_NUL")
                              ? "a string holds \\u0000 (NUL), which no text field accepts"
                              : je.text;
        char *msg = cm_strfmt("malformed JSON at line %d, column %d (byte %d): %s", je.line,
                              je.column, je.position, why);
        gateway_response_error(err, CRM__STATUS__STATUS_INVALID_ARGUMENT, msg, NULL, 0);
        free(msg);
        return NULL;
    }
    if (!json_is_object(json)) {
        json_decref(json);
        gateway_response_error(err, CRM__STATUS__STATUS_INVALID_ARGUMENT,
                               "request body must be a JSON object", NULL, 0);
        return NULL;
    }
    return json;
}

/* The body into a field of msg (or the whole message for "*"). Returns the
 * message, or NULL with err. */
static ProtobufCMessage *s_json_body(const struct gateway_input *in, struct gateway_response *err)
{
    const struct gateway_route *route = in->match->route;
    ProtobufCMessage *msg = NULL, *sub = NULL;
    char **paths = NULL;
    size_t n_paths = 0;
    struct cm_pbjson_error pe = {0};
    json_t *json = s_parse_json(in, err);
    if (!json)
        goto out;
    if (!strcmp(route->body, "*")) {
        msg = cm_pbjson_decode(route->request, json, NULL, &pe);
        if (!msg)
            s_pbjson_error(err, &pe);
        goto out;
    }
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(route->request, route->body);
    /* A table naming a field its request lacks is a programming error. */
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
        abort();
    sub = cm_pbjson_decode(f->descriptor, json, NULL, &pe);
    if (!sub) {
        s_pbjson_error(err, &pe);
        goto out;
    }
    const ProtobufCFieldDescriptor *mf =
        protobuf_c_message_descriptor_get_field_by_name(route->request, "update_mask");
    if (mf && mf->label == PROTOBUF_C_LABEL_REPEATED && mf->type == PROTOBUF_C_TYPE_STRING) {
        paths = cm_pbjson_mask_paths(f->descriptor, json, &n_paths);
        if (n_paths == 0) {
            gateway_response_error(err, CRM__STATUS__STATUS_INVALID_ARGUMENT,
                                   "request body sets no fields", NULL, 0);
            goto out;
        }
    }
    msg = cm_pb_new(route->request);
    *(ProtobufCMessage **)((char *)msg + f->offset) = sub;
    sub = NULL;
    if (mf && paths) {
        *(size_t *)((char *)msg + mf->quantifier_offset) = n_paths;
        *(char ***)((char *)msg + mf->offset) = paths;
        paths = NULL;
    }
out:
    if (paths)
        cm_pbjson_free_paths(paths, n_paths);
    if (sub)
        protobuf_c_message_free_unpacked(sub, NULL);
    json_decref(json);
    return msg;
}

/* Raw body into the bytes field, Content-Type into content_type. */
static ProtobufCMessage *s_raw_body(const struct gateway_input *in, struct gateway_response *err)
{
    const struct gateway_route *route = in->match->route;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(route->request, route->body);
    if (!f || f->type != PROTOBUF_C_TYPE_BYTES || f->label == PROTOBUF_C_LABEL_REPEATED)
        abort();
    ProtobufCMessage *msg = cm_pb_new(route->request);
    ProtobufCBinaryData *bd = (ProtobufCBinaryData *)((char *)msg + f->offset);
    bd->data = cm_malloc(in->body_len ? in->body_len : 1);
    if (in->body_len)
        memcpy(bd->data, in->body, in->body_len);
    bd->len = in->body_len;
    if (in->content_type &&
        protobuf_c_message_descriptor_get_field_by_name(route->request, "content_type")) {
        struct cm_pbjson_error pe = {0};
        if (cm_pbjson_set_text(msg, "contentType", in->content_type, &pe)) {
            gateway_response_field_error(err, "invalid Content-Type header", "Content-Type",
                                         pe.description);
            protobuf_c_message_free_unpacked(msg, NULL);
            return NULL;
        }
    }
    return msg;
}

ProtobufCMessage *gateway_call_build(const struct gateway_input *in, struct gateway_response *err)
{
    const struct gateway_route *route = in->match->route;
    ProtobufCMessage *msg = NULL;
    if (route->body && (route->flags & GATEWAY_RAW_BODY)) {
        msg = s_raw_body(in, err);
    } else if (route->body) {
        if (in->body_len && !gateway_content_type_is_json(in->content_type)) {
            gateway_response_error_http(err, 415, "INVALID_ARGUMENT",
                                        "Content-Type must be application/json");
            return NULL;
        }
        msg = s_json_body(in, err);
    } else {
        msg = cm_pb_new(route->request);
    }
    if (!msg)
        return NULL;
    for (size_t i = 0; i < in->match->n_params; i++) {
        struct cm_pbjson_error pe = {0};
        if (cm_pbjson_set_text(msg, in->match->params[i].name, in->match->params[i].value, &pe)) {
            gateway_response_field_error(err, "invalid path parameter", in->match->params[i].name,
                                         pe.description);
            goto fail;
        }
    }
    if (s_query(msg, in, err))
        goto fail;
    const ProtobufCFieldDescriptor *ef =
        protobuf_c_message_descriptor_get_field_by_name(route->request, "etag");
    char etag[256];
    if (ef && ef->type == PROTOBUF_C_TYPE_STRING && ef->label != PROTOBUF_C_LABEL_REPEATED &&
        !gateway_parse_if_match(in->if_match, etag, sizeof etag)) {
        struct cm_pbjson_error pe = {0};
        if (cm_pbjson_set_text(msg, "etag", etag, &pe)) {
            gateway_response_field_error(err, "invalid If-Match header", "If-Match",
                                         pe.description);
            goto fail;
        }
    }
    return msg;
fail:
    protobuf_c_message_free_unpacked(msg, NULL);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Turning the reply around                                                */

/* A top-level singular string field of msg, or NULL. Borrowed. */
static const char *s_str_field(const ProtobufCMessage *msg, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t which = *(const uint32_t *)((const char *)msg + f->quantifier_offset);
        if (which != f->id)
            return NULL;
    }
    return *(char *const *)((const char *)msg + f->offset);
}

/* The reply's etag: its own, or that of the customer it carries (a
 * merge's reply is {customer}). NULL when it has neither. */
static const char *s_etag_of(const ProtobufCMessage *msg)
{
    const char *etag = s_str_field(msg, "etag");
    if (etag)
        return etag;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "customer");
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    const ProtobufCMessage *sub = *(ProtobufCMessage *const *)((const char *)msg + f->offset);
    return sub ? s_str_field(sub, "etag") : NULL;
}

/* True for a value that can sit in a quoted header token as it is. */
static bool s_header_safe(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || s[n] == '"' ||
            s[n] == '\\' || n == max)
            return false;
    return n > 0;
}

/* Fills a "{name}" template from string fields of msg; NULL if one is missing. */
static char *s_fill_location(const char *tmpl, const ProtobufCMessage *msg)
{
    char out[512];
    size_t o = 0;
    for (const char *p = tmpl; *p;) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close)
                return NULL;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(close - p - 1), p + 1);
            const char *v = s_str_field(msg, name);
            /* Ids are [A-Za-z0-9_-]; anything else would need escaping. */
            if (!v || !*v ||
                strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789_-") != strlen(v))
                return NULL;
            size_t n = strlen(v);
            if (o + n >= sizeof out)
                return NULL;
            memcpy(out + o, v, n);
            o += n;
            p = close + 1;
        } else {
            if (o + 1 >= sizeof out)
                return NULL;
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return cm_strdup(out);
}

/* True when an If-None-Match value lists etag (quoted) or is "*". */
static bool s_none_match(const char *value, const char *etag)
{
    if (!value)
        return false;
    size_t elen = strlen(etag);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        if (!strncmp(p, "W/", 2))
            p += 2;
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && p[n - 1] == ' ')
            n--;
        if ((n == 1 && *p == '*') || (n == elen && !memcmp(p, etag, n)))
            return true;
        p += n;
    }
    return false;
}

/* What a raw reply may be sent as, by its response type. The gateway owns the
 * Content-Type of what it serves: the service's value only picks an entry here
 * and is never echoed, so nothing on the bus can make the gateway send, say,
 * HTML, or a body that is not JSON as JSON. A photo is one of the image types
 * the customers service accepts (customers_check_image_type, and PutPhoto's
 * body_types in the route table); a calendar is what notes writes. */
static const struct {
    const ProtobufCMessageDescriptor *response; // borrowed (generated code)
    const char *types[4];                       // NULL-terminated
} s_raw_types[] = {
    {&crm__photo__descriptor, {"image/jpeg", "image/png", "image/webp", NULL}},
    {&crm__task_calendar__descriptor, {"text/calendar; charset=utf-8", NULL}},
    {&crm__export_chunk__descriptor,
     {"text/csv; charset=utf-8",
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", NULL}},
};

const char *const *gateway_reply_media_types(const ProtobufCMessageDescriptor *response)
{
    for (size_t i = 0; i < sizeof s_raw_types / sizeof s_raw_types[0]; i++)
        if (s_raw_types[i].response == response)
            return s_raw_types[i].types;
    return NULL;
}

const char *gateway_reply_media_type(const ProtobufCMessageDescriptor *response, const char *value)
{
    if (!value)
        return NULL;
    for (size_t i = 0; i < sizeof s_raw_types / sizeof s_raw_types[0]; i++) {
        if (s_raw_types[i].response != response)
            continue;
        for (const char *const *t = s_raw_types[i].types; *t; t++)
            if (!strcmp(value, *t))
                return *t;
    }
    return NULL;
}

/* value, cut to fit out, with anything but printable ASCII as '?': safe to log
 * inside quotes whatever a service sent. */
static void s_loggable(const char *value, char *out, size_t size)
{
    size_t n = 0;
    for (; value && value[n] && n + 1 < size; n++) {
        unsigned char c = (unsigned char)value[n];
        out[n] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
    }
    out[n] = '\0';
}

static void s_raw_reply(const struct gateway_route *route, const ProtobufCMessage *msg,
                        const char *if_none_match, struct gateway_response *resp)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "data");
    if (!f || f->type != PROTOBUF_C_TYPE_BYTES || f->label == PROTOBUF_C_LABEL_REPEATED)
        abort();
    const char *given = s_str_field(msg, "content_type");
    const char *type = (route->flags & GATEWAY_ATTACHMENT)
                           ? gateway_download_type(given)
                           : gateway_reply_media_type(route->response, given);
    if (!type) {
        char shown[80];
        s_loggable(given, shown, sizeof shown);
        cm_log_error("refused a reply whose content type the gateway does not serve method=%s.%s "
                     "content_type=\"%s\"",
                     route->service, route->rpc, shown);
        gateway_response_error(resp, CRM__STATUS__STATUS_INTERNAL,
                               "reply from the service has an unexpected content type", NULL, 0);
        return;
    }
    const ProtobufCBinaryData *bd = (const ProtobufCBinaryData *)((const char *)msg + f->offset);
    unsigned char hash[16];
    crypto_generichash(hash, sizeof hash, bd->data, bd->len, NULL, 0);
    char etag[2 * sizeof hash + 3];
    etag[0] = '"';
    sodium_bin2hex(etag + 1, sizeof etag - 2, hash, sizeof hash);
    size_t n = strlen(etag);
    etag[n] = '"';
    etag[n + 1] = '\0';
    gateway_response_header(resp, "ETag", etag);
    gateway_response_header(resp, "Cache-Control", "private, max-age=0");
    if (s_none_match(if_none_match, etag)) {
        resp->code = 304;
        return;
    }
    resp->code = 200;
    resp->body = cm_malloc(bd->len ? bd->len : 1);
    if (bd->len)
        memcpy(resp->body, bd->data, bd->len);
    resp->body_len = bd->len;
    resp->content_type = cm_strdup(type);
    gateway_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (route->flags & GATEWAY_ATTACHMENT) {
        char *cd = gateway_content_disposition(s_str_field(msg, "filename"));
        gateway_response_header(resp, "Content-Disposition", cd);
        free(cd);
        gateway_response_header(resp, "Content-Security-Policy", "sandbox; default-src 'none'");
    }
}

void gateway_call_reply(const struct gateway_route *route, const uint8_t *header, size_t header_len,
                        const uint8_t *body, size_t body_len, const char *if_none_match,
                        struct gateway_response *resp)
{
    /* The reply lives only for this function: unpacked into the thread's
     * arena, given back whole at the end. */
    static _Thread_local cm_arena_t arena;
    static _Thread_local bool arena_ready;
    if (!arena_ready) {
        cm_arena_init(&arena);
        arena_ready = true;
    }
    Crm__ReplyHeader *rh = crm__reply_header__unpack(cm_arena_pb(&arena), header_len, header);
    ProtobufCMessage *msg = NULL;
    if (!rh) {
        gateway_response_error(resp, CRM__STATUS__STATUS_INTERNAL,
                               "malformed reply header from the service", NULL, 0);
        goto out;
    }
    if (rh->status != CRM__STATUS__STATUS_OK) {
        gateway_response_error(resp, rh->status, rh->message, rh->details, rh->n_details);
        goto out;
    }
    msg = protobuf_c_message_unpack(route->response, cm_arena_pb(&arena), body_len, body);
    if (!msg) {
        gateway_response_error(resp, CRM__STATUS__STATUS_INTERNAL,
                               "malformed reply from the service", NULL, 0);
        goto out;
    }
    if (route->flags & GATEWAY_RAW_REPLY) {
        s_raw_reply(route, msg, if_none_match, resp);
        goto out;
    }
    if (route->success == 204) {
        resp->code = 204;
    } else {
        /* Straight to text: no tree of allocations for a reply sent once. */
        free(resp->body);
        free(resp->content_type);
        resp->code = route->success;
        resp->body = cm_pbjson_encode_text(msg, 0, route->omit, &resp->body_len);
        resp->content_type = cm_strdup("application/json; charset=utf-8");
    }
    const char *etag = s_etag_of(msg);
    if (etag && s_header_safe(etag, 200)) {
        char *quoted = cm_strfmt("\"%s\"", etag);
        gateway_response_header(resp, "ETag", quoted);
        free(quoted);
    }
    if (route->location && (resp->code == 201 || resp->code == 202)) {
        char *loc = s_fill_location(route->location, msg);
        if (loc)
            gateway_response_header(resp, "Location", loc);
        free(loc);
    }
out:
    cm_arena_reset(&arena);
}

/* ---------------------------------------------------------------------- */
/* Chunks of a streamed file                                               */

void gateway_chunk_release(struct gateway_chunk *c)
{
    free(c->data);
    free(c->filename);
    free(c->next_cursor);
    memset(c, 0, sizeof *c);
}

int gateway_call_chunk(const struct gateway_route *route, const uint8_t *header, size_t header_len,
                       const uint8_t *body, size_t body_len, struct gateway_chunk *out,
                       struct gateway_response *err)
{
    memset(out, 0, sizeof *out);
    Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, header_len, header);
    ProtobufCMessage *msg = NULL;
    int rc = -1;
    if (!rh) {
        gateway_response_error(err, CRM__STATUS__STATUS_INTERNAL,
                               "malformed reply header from the service", NULL, 0);
        goto out;
    }
    if (rh->status != CRM__STATUS__STATUS_OK) {
        gateway_response_error(err, rh->status, rh->message, rh->details, rh->n_details);
        goto out;
    }
    msg = protobuf_c_message_unpack(route->response, NULL, body_len, body);
    const ProtobufCFieldDescriptor *f =
        msg ? protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "data") : NULL;
    const ProtobufCFieldDescriptor *done =
        msg ? protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "done") : NULL;
    if (!f || f->type != PROTOBUF_C_TYPE_BYTES || !done || done->type != PROTOBUF_C_TYPE_BOOL) {
        gateway_response_error(err, CRM__STATUS__STATUS_INTERNAL,
                               "malformed reply from the service", NULL, 0);
        goto out;
    }
    out->media_type = gateway_reply_media_type(route->response, s_str_field(msg, "content_type"));
    if (!out->media_type) {
        char shown[80];
        s_loggable(s_str_field(msg, "content_type"), shown, sizeof shown);
        cm_log_error("refused a chunk whose content type the gateway does not serve method=%s.%s "
                     "content_type=\"%s\"",
                     route->service, route->rpc, shown);
        gateway_response_error(err, CRM__STATUS__STATUS_INTERNAL,
                               "reply from the service has an unexpected content type", NULL, 0);
        goto out;
    }
    ProtobufCBinaryData *bd = (ProtobufCBinaryData *)((char *)msg + f->offset);
    out->data = bd->data; /* taken over: unpacked with the default allocator */
    out->len = bd->len;
    bd->data = NULL;
    bd->len = 0;
    const char *name = s_str_field(msg, "filename");
    if (name && s_header_safe(name, 120) &&
        strspn(name, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(name))
        out->filename = cm_strdup(name);
    const char *next = s_str_field(msg, "next_cursor");
    bool is_done = *(const protobuf_c_boolean *)((const char *)msg + done->offset);
    if (!is_done && next && next[0])
        out->next_cursor = cm_strdup(next);
    rc = 0;
out:
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    if (rc)
        gateway_chunk_release(out);
    return rc;
}

int gateway_call_set_str(ProtobufCMessage *request, const char *field, const char *value)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(request->descriptor, field);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED ||
        (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return -1;
    cm_pb_set_str((char **)((char *)request + f->offset), value);
    return 0;
}

int gateway_call_set_cursor(ProtobufCMessage *request, const char *cursor)
{
    return gateway_call_set_str(request, "cursor", cursor);
}

/* A field of msg by name and type, or NULL. */
static void *s_field_at(ProtobufCMessage *msg, const char *name, ProtobufCType type)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
    if (!f || f->type != type || f->label == PROTOBUF_C_LABEL_REPEATED ||
        (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return NULL;
    return (char *)msg + f->offset;
}

uint8_t *gateway_call_pack_part(const ProtobufCMessageDescriptor *desc, const char *upload_id,
                                int seq, const void *data, size_t n, size_t *len)
{
    ProtobufCMessage *msg = cm_pb_new(desc);
    char **id = s_field_at(msg, "upload_id", PROTOBUF_C_TYPE_STRING);
    int32_t *sq = s_field_at(msg, "seq", PROTOBUF_C_TYPE_INT32);
    ProtobufCBinaryData *bd = s_field_at(msg, "data", PROTOBUF_C_TYPE_BYTES);
    uint8_t *out = NULL;
    if (id && sq && bd) {
        cm_pb_set_str(id, upload_id);
        *sq = seq;
        bd->data = (uint8_t *)data; /* borrowed for the pack */
        bd->len = n;
        *len = protobuf_c_message_get_packed_size(msg);
        out = cm_malloc(*len ? *len : 1);
        protobuf_c_message_pack(msg, out);
        bd->data = NULL;
        bd->len = 0;
    }
    protobuf_c_message_free_unpacked(msg, NULL);
    return out;
}

int gateway_call_set_upload(ProtobufCMessage *request, const char *upload_id, int parts)
{
    char **id = s_field_at(request, "upload_id", PROTOBUF_C_TYPE_STRING);
    int32_t *n = s_field_at(request, "parts", PROTOBUF_C_TYPE_INT32);
    if (!id || !n)
        return -1;
    cm_pb_set_str(id, upload_id);
    *n = parts;
    return 0;
}
