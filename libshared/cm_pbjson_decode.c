/* Decoding JSON into a message: the value conversions both decoders share
 * (cm_pbjson_text.c is the other), the decoder of a jansson tree, and field
 * values given as URL text. See cm_pbjson.h. */
#include "cm_pbjson_impl.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

/* ---- What both decoders share -------------------------------------------- */

void cm_pbjson_decode_ctx_init_(struct cm_pbjson_ctx *ctx, struct cm_pbjson_error *err,
                                const char *prefix)
{
    ctx->err = err;
    ctx->failed = false;
    ctx->path[0] = '\0';
    ctx->len = 0;
    if (err) {
        err->field[0] = '\0';
        err->description[0] = '\0';
    }
    if (prefix && *prefix) {
        snprintf(ctx->path, sizeof ctx->path, "%s", prefix);
        ctx->len = strlen(ctx->path);
    }
}

void cm_pbjson_decode_ctx_fail_(struct cm_pbjson_ctx *ctx, const char *description)
{
    if (ctx->failed)
        return;
    ctx->failed = true;
    if (ctx->err) {
        snprintf(ctx->err->field, sizeof ctx->err->field, "%s", ctx->path);
        snprintf(ctx->err->description, sizeof ctx->err->description, "%s", description);
    }
}

/* An integer as sign and magnitude, so every 64-bit value of either sign fits. */
struct s_int {
    bool neg;
    uint64_t mag;
};

/* Parses "-?[0-9]+" exactly. Returns 0, -1 for bad syntax, -2 past 64 bits. */
static int s_parse_digits(const char *s, size_t len, struct s_int *out)
{
    size_t i = 0;
    out->neg = false;
    out->mag = 0;
    if (i < len && s[i] == '-') {
        out->neg = true;
        i++;
    }
    if (i == len)
        return -1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (out->mag > (UINT64_MAX - d) / 10)
            return -2;
        out->mag = out->mag * 10 + d;
    }
    if (out->mag == 0)
        out->neg = false;
    return 0;
}

static void s_tok_of_json(const json_t *j, struct cm_pbjson_tok *t)
{
    memset(t, 0, sizeof *t);
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        t->kind = K_OBJ;
        break;
    case JSON_ARRAY:
        t->kind = K_ARR;
        break;
    case JSON_STRING:
        t->kind = K_STR;
        t->s = json_string_value(j);
        t->len = json_string_length(j);
        break;
    case JSON_INTEGER:
        t->kind = K_INT;
        t->i = json_integer_value(j);
        t->d = (double)t->i;
        break;
    case JSON_REAL:
        t->kind = K_REAL;
        t->d = json_real_value(j);
        break;
    case JSON_TRUE:
        t->kind = K_TRUE;
        break;
    case JSON_FALSE:
        t->kind = K_FALSE;
        break;
    default:
        t->kind = K_NULL;
    }
}

/* Reads an integer, an integral real or a string of digits. Returns 0, -1
 * (not an integer: ctx failed) or -2 (beyond 64 bits: the caller reports). */
static int s_tok_int(const struct cm_pbjson_tok *t, struct s_int *out, struct cm_pbjson_ctx *ctx)
{
    if (t->kind == K_INT) {
        out->neg = t->i < 0;
        out->mag = t->i < 0 ? (uint64_t)(-(t->i + 1)) + 1 : (uint64_t)t->i;
        return 0;
    }
    if (t->kind == K_REAL) {
        double d = t->d;
        if (!isfinite(d) || d != floor(d)) {
            cm_pbjson_decode_ctx_fail_(ctx, "expected an integer");
            return -1;
        }
        if (fabs(d) >= 18446744073709551616.0)
            return -2;
        out->neg = d < 0;
        out->mag = (uint64_t)fabs(d);
        return 0;
    }
    if (t->kind == K_STR) {
        int rc = s_parse_digits(t->s, t->len, out);
        if (rc == -1)
            cm_pbjson_decode_ctx_fail_(ctx, "expected an integer");
        return rc;
    }
    cm_pbjson_decode_ctx_fail_(ctx, "expected an integer");
    return -1;
}

static int s_scalar_int(const ProtobufCFieldDescriptor *f, void *slot,
                        const struct cm_pbjson_tok *t, struct cm_pbjson_ctx *ctx)
{
    struct s_int v;
    const char *type;
    int rc = s_tok_int(t, &v, ctx);
    if (rc == -1)
        return -1;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        type = "int32";
        if (rc || v.mag > (v.neg ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX))
            break;
        *(int32_t *)slot = v.neg ? (int32_t)(-(int64_t)v.mag) : (int32_t)v.mag;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        type = "uint32";
        if (rc || v.neg || v.mag > UINT32_MAX)
            break;
        *(uint32_t *)slot = (uint32_t)v.mag;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        type = "int64";
        if (rc || v.mag > (v.neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
            break;
        if (!v.neg)
            *(int64_t *)slot = (int64_t)v.mag;
        else if (v.mag == (uint64_t)INT64_MAX + 1)
            *(int64_t *)slot = INT64_MIN;
        else
            *(int64_t *)slot = -(int64_t)v.mag;
        return 0;
    default: // UINT64, FIXED64
        type = "uint64";
        if (rc || v.neg)
            break;
        *(uint64_t *)slot = v.mag;
        return 0;
    }
    char desc[64];
    snprintf(desc, sizeof desc, "out of range for %s", type);
    cm_pbjson_decode_ctx_fail_(ctx, desc);
    return -1;
}

/* A number, or a string: "NaN", "Infinity", "-Infinity" or a decimal number. */
static int s_tok_real(const struct cm_pbjson_tok *t, double *out, struct cm_pbjson_ctx *ctx)
{
    if (t->kind == K_INT || t->kind == K_REAL) {
        *out = t->d;
        return 0;
    }
    if (t->kind == K_STR) {
        const char *s = t->s;
        size_t len = t->len;
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return 0;
        }
        if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
            *out = s[0] == '-' ? -INFINITY : INFINITY;
            return 0;
        }
        // Only plain decimal notation: strtod alone would take hex, "inf", spaces.
        if (len > 0 && strspn(s, "0123456789+-.eE") == len) {
            char *end = NULL;
            double d = strtod(s, &end);
            if (end == s + len && isinf(d)) {
                cm_pbjson_decode_ctx_fail_(ctx, "out of range for double");
                return -1;
            }
            if (end == s + len) {
                *out = d;
                return 0;
            }
        }
    }
    cm_pbjson_decode_ctx_fail_(ctx, "expected a number");
    return -1;
}

/* Decodes base64, standard or URL-safe alphabet, padded or not. Returns 0 and
 * a malloc'd buffer (NULL when empty), or -1. */
static int s_base64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len == 0)
        return 0;
    bool url = memchr(s, '-', len) || memchr(s, '_', len);
    bool pad = s[len - 1] == '=';
    int variant =
        url ? (pad ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING)
            : (pad ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    size_t cap = len / 4 * 3 + 3;
    uint8_t *buf = cm_malloc(cap);
    const char *end = NULL;
    if (sodium_base642bin(buf, cap, s, len, NULL, out_len, &end, variant) != 0 || end != s + len) {
        free(buf);
        *out_len = 0;
        return -1;
    }
    if (*out_len == 0) {
        free(buf);
        buf = NULL;
    }
    *out = buf;
    return 0;
}

/* Stores a copy of s. protobuf_c_empty_string is shared only where the field's
 * default is that very pointer and protobuf-c neither frees nor drops it: a
 * singular field outside a oneof (a oneof member equal to its default is not
 * packed, and repeated elements are always freed). */
void cm_pbjson_decode_store_string_(const ProtobufCFieldDescriptor *f, void *slot, const char *s,
                                    size_t len, bool elem)
{
    if (len == 0 && !elem && !cm_pbjson_is_oneof_(f) &&
        f->default_value == (const void *)protobuf_c_empty_string)
        *(char **)slot = (char *)protobuf_c_empty_string;
    else
        *(char **)slot = cm_strndup(s, len);
}

/* Decodes one value of field f (an element when elem) of any type but a
 * message into slot, which holds the default. On failure the slot is left at
 * the default. Both decoders come here, so they agree on every scalar. */
int cm_pbjson_decode_scalar_(const ProtobufCFieldDescriptor *f, void *slot,
                             const struct cm_pbjson_tok *t, bool elem, struct cm_pbjson_ctx *ctx)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double d;
        if (s_tok_real(t, &d, ctx))
            return -1;
        if (f->type == PROTOBUF_C_TYPE_DOUBLE) {
            *(double *)slot = d;
            return 0;
        }
        if (isfinite(d) && fabs(d) > FLT_MAX) {
            cm_pbjson_decode_ctx_fail_(ctx, "out of range for float");
            return -1;
        }
        *(float *)slot = (float)d;
        return 0;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (t->kind != K_TRUE && t->kind != K_FALSE) {
            cm_pbjson_decode_ctx_fail_(ctx, "expected a boolean");
            return -1;
        }
        *(protobuf_c_boolean *)slot = t->kind == K_TRUE;
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v = NULL;
        if (t->kind == K_STR)
            v = cm_pbjson_enum_by_name_(f->descriptor, t->s);
        else if (t->kind == K_INT && t->i >= INT32_MIN && t->i <= INT32_MAX)
            v = protobuf_c_enum_descriptor_get_value(f->descriptor, (int)t->i);
        if (!v) {
            char desc[256];
            cm_pbjson_enum_expected_(f->descriptor, desc, sizeof desc);
            cm_pbjson_decode_ctx_fail_(ctx, desc);
            return -1;
        }
        *(int *)slot = v->value;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (t->kind != K_STR) {
            cm_pbjson_decode_ctx_fail_(ctx, "expected a string");
            return -1;
        }
        if (!cm_utf8_valid(t->s, t->len, NULL)) {
            cm_pbjson_decode_ctx_fail_(ctx, "not valid UTF-8");
            return -1;
        }
        if (strlen(t->s) != t->len) {
            cm_pbjson_decode_ctx_fail_(ctx, "must not contain NUL characters");
            return -1;
        }
        cm_pbjson_decode_store_string_(f, slot, t->s, t->len, elem);
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (t->kind != K_STR) {
            cm_pbjson_decode_ctx_fail_(ctx, "expected a string");
            return -1;
        }
        ProtobufCBinaryData *bd = slot;
        if (s_base64_decode(t->s, t->len, &bd->data, &bd->len)) {
            cm_pbjson_decode_ctx_fail_(ctx, "not valid base64");
            return -1;
        }
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        abort(); // each decoder walks into messages itself
    default:
        return s_scalar_int(f, slot, t, ctx);
    }
}

/* "only one of choiceText, choiceNumber may be set" for f's oneof. */
static void s_oneof_conflict(const ProtobufCMessageDescriptor *desc,
                             const ProtobufCFieldDescriptor *f, char *out, size_t size)
{
    size_t o = (size_t)snprintf(out, size, "only one of ");
    bool first = true;
    for (unsigned i = 0; i < desc->n_fields && o < size; i++) {
        const ProtobufCFieldDescriptor *g = &desc->fields[i];
        if (!cm_pbjson_is_oneof_(g) || g->quantifier_offset != f->quantifier_offset)
            continue;
        char camel[NAME_MAX_LEN];
        cm_pbjson_camel(g->name, camel, sizeof camel);
        o += (size_t)snprintf(out + o, size - o, "%s%s", first ? "" : ", ", camel);
        first = false;
    }
    if (o < size)
        snprintf(out + o, size - o, " may be set");
}

/* Fails ctx naming the members of f's oneof ("only one of ... may be set"). */
void cm_pbjson_decode_oneof_fail_(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                                  struct cm_pbjson_ctx *ctx)
{
    char desc[256];
    s_oneof_conflict(msg->descriptor, f, desc, sizeof desc);
    cm_pbjson_decode_ctx_fail_(ctx, desc);
}

/* The field an object's key names, with its path pushed onto ctx (pop back to
 * *mark). NULL with ctx failed (and the path as it was) for a key desc does
 * not know or a field given before (seen, one flag per field, by either name). */
const ProtobufCFieldDescriptor *cm_pbjson_decode_member_(const ProtobufCMessageDescriptor *desc,
                                                         const char *key, unsigned char *seen,
                                                         struct cm_pbjson_ctx *ctx, size_t *mark)
{
    const ProtobufCFieldDescriptor *f = cm_pbjson_find_field(desc, key);
    if (!f) {
        *mark = cm_pbjson_decode_ctx_push_name_(ctx, key);
        cm_pbjson_decode_ctx_fail_(ctx, "unknown field");
        cm_pbjson_decode_ctx_pop_(ctx, *mark);
        return NULL;
    }
    char camel[NAME_MAX_LEN];
    cm_pbjson_camel(f->name, camel, sizeof camel);
    *mark = cm_pbjson_decode_ctx_push_name_(ctx, camel);
    size_t idx = (size_t)(f - desc->fields);
    if (seen[idx]) {
        cm_pbjson_decode_ctx_fail_(ctx, "given more than once");
        cm_pbjson_decode_ctx_pop_(ctx, *mark);
        return NULL;
    }
    seen[idx] = 1;
    return f;
}

/* ---- Decoding a jansson tree ------------------------------------------------ */

static ProtobufCMessage *s_decode_message(const ProtobufCMessageDescriptor *desc, json_t *json,
                                          struct cm_pbjson_ctx *ctx, int depth);

/* A message-typed value: an object, or for a wrapper type the bare value. */
static ProtobufCMessage *s_decode_sub(const ProtobufCMessageDescriptor *desc, json_t *json,
                                      struct cm_pbjson_ctx *ctx, int depth);

/* Decodes one value of field f (an element when elem) into slot, which holds
 * the default. On failure the slot is left at the default. */
static int s_decode_value(const ProtobufCFieldDescriptor *f, void *slot, json_t *j, bool elem,
                          struct cm_pbjson_ctx *ctx, int depth)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        ProtobufCMessage *sub = s_decode_sub(f->descriptor, j, ctx, depth + 1);
        if (!sub)
            return -1;
        *(ProtobufCMessage **)slot = sub;
        return 0;
    }
    struct cm_pbjson_tok t;
    s_tok_of_json(j, &t);
    return cm_pbjson_decode_scalar_(f, slot, &t, elem, ctx);
}

static ProtobufCMessage *s_decode_sub(const ProtobufCMessageDescriptor *desc, json_t *json,
                                      struct cm_pbjson_ctx *ctx, int depth)
{
    if (json_is_object(json) || !cm_pbjson_is_wrapper(desc))
        return s_decode_message(desc, json, ctx, depth);
    ProtobufCMessage *msg = cm_pb_new(desc);
    const ProtobufCFieldDescriptor *vf = &desc->fields[0];
    if (s_decode_value(vf, cm_pbjson_at_(msg, vf->offset), json, false, ctx, depth)) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}

static int s_decode_repeated(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, json_t *val,
                             struct cm_pbjson_ctx *ctx, int depth)
{
    if (!json_is_array(val)) {
        cm_pbjson_decode_ctx_fail_(ctx, "expected an array");
        return -1;
    }
    size_t n = json_array_size(val);
    if (n == 0)
        return 0;
    size_t size = cm_pbjson_type_size_(f->type);
    char *elems = cm_calloc(n, size);
    size_t *count = cm_pbjson_count_(msg, f);
    // Hand the array to msg now and count only decoded elements, so freeing
    // msg on a later failure frees exactly what was built.
    *(void **)cm_pbjson_at_(msg, f->offset) = elems;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mark = cm_pbjson_decode_ctx_push_index_(ctx, i);
        int rc = s_decode_value(f, elems + i * size, json_array_get(val, i), true, ctx, depth);
        cm_pbjson_decode_ctx_pop_(ctx, mark);
        if (rc)
            return -1;
        (*count)++;
    }
    return 0;
}

static int s_decode_field(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, json_t *val,
                          struct cm_pbjson_ctx *ctx, int depth)
{
    if (json_is_null(val))
        return 0;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return s_decode_repeated(msg, f, val, ctx, depth);
    if (cm_pbjson_decode_oneof_taken_(msg, f, ctx))
        return -1;
    if (s_decode_value(f, cm_pbjson_at_(msg, f->offset), val, false, ctx, depth))
        return -1;
    cm_pbjson_decode_mark_set_(msg, f);
    return 0;
}

static ProtobufCMessage *s_decode_message(const ProtobufCMessageDescriptor *desc, json_t *json,
                                          struct cm_pbjson_ctx *ctx, int depth)
{
    if (depth > CM_PBJSON_MAX_DEPTH) {
        cm_pbjson_decode_ctx_fail_(ctx, "nested too deeply");
        return NULL;
    }
    if (!json_is_object(json)) {
        cm_pbjson_decode_ctx_fail_(ctx, "expected an object");
        return NULL;
    }
    ProtobufCMessage *msg = cm_pb_new(desc);
    // Which fields were given, to refuse "firstName" and "first_name" together.
    struct cm_pbjson_seen seen;
    unsigned char *flags = cm_pbjson_decode_seen_init_(&seen, desc);
    int rc = 0;
    const char *key;
    json_t *val;
    json_object_foreach(json, key, val)
    {
        size_t mark;
        const ProtobufCFieldDescriptor *f = cm_pbjson_decode_member_(desc, key, flags, ctx, &mark);
        if (!f) {
            rc = -1;
            break;
        }
        rc = s_decode_field(msg, f, val, ctx, depth);
        cm_pbjson_decode_ctx_pop_(ctx, mark);
        if (rc)
            break;
    }
    return cm_pbjson_decode_message_end_(msg, &seen, rc);
}

ProtobufCMessage *cm_pbjson_decode(const ProtobufCMessageDescriptor *desc, json_t *json,
                                   const char *prefix, struct cm_pbjson_error *err)
{
    struct cm_pbjson_ctx ctx;
    cm_pbjson_decode_ctx_init_(&ctx, err, prefix);
    return s_decode_message(desc, json, &ctx, 1);
}

/* ---- Text (URL) values -------------------------------------------------- */

/* The JSON form of URL text for a value of field vf's type. */
static json_t *s_text_json(const ProtobufCFieldDescriptor *vf, const char *text)
{
    if (vf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
            return json_true();
        if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
            return json_false();
    }
    if (vf->type == PROTOBUF_C_TYPE_ENUM) {
        struct s_int v;
        if (s_parse_digits(text, strlen(text), &v) == 0 && v.mag <= INT32_MAX)
            return json_integer(v.neg ? -(json_int_t)v.mag : (json_int_t)v.mag);
    }
    return json_string(text);
}

int cm_pbjson_set_text(ProtobufCMessage *msg, const char *json_name, const char *text,
                       struct cm_pbjson_error *err)
{
    struct cm_pbjson_ctx ctx;
    cm_pbjson_decode_ctx_init_(&ctx, err, NULL);
    if (!text)
        text = "";
    const ProtobufCFieldDescriptor *f = cm_pbjson_find_field(msg->descriptor, json_name);
    if (!f) {
        cm_pbjson_decode_ctx_push_name_(&ctx, json_name);
        cm_pbjson_decode_ctx_fail_(&ctx, "unknown field");
        return -1;
    }
    char camel[NAME_MAX_LEN];
    cm_pbjson_camel(f->name, camel, sizeof camel);
    cm_pbjson_decode_ctx_push_name_(&ctx, camel);

    const ProtobufCFieldDescriptor *vf = f;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (!cm_pbjson_is_wrapper(f->descriptor)) {
            cm_pbjson_decode_ctx_fail_(&ctx, "cannot be set from text");
            return -1;
        }
        const ProtobufCMessageDescriptor *md = f->descriptor;
        vf = &md->fields[0];
    }
    if (!cm_utf8_valid(text, strlen(text), NULL)) {
        cm_pbjson_decode_ctx_fail_(&ctx, "not valid UTF-8");
        return -1;
    }
    if (cm_pbjson_decode_oneof_taken_(msg, f, &ctx))
        return -1;

    // Decode into a scratch slot first so msg stays as it was on failure.
    union {
        ProtobufCBinaryData bd;
        uint64_t u;
        double d;
        void *p;
    } tmp;
    memset(&tmp, 0, sizeof tmp);
    json_t *j = s_text_json(vf, text);
    bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
    int rc = s_decode_value(f, &tmp, j, repeated, &ctx, 1);
    json_decref(j);
    if (rc)
        return -1;

    size_t size = cm_pbjson_type_size_(f->type);
    if (repeated) {
        size_t *count = cm_pbjson_count_(msg, f);
        char **elems = cm_pbjson_at_(msg, f->offset);
        *elems = cm_realloc(*elems, (*count + 1) * size);
        memcpy(*elems + *count * size, &tmp, size);
        (*count)++;
        return 0;
    }
    cm_pbjson_copy_clear_field_(msg, f);
    memcpy(cm_pbjson_at_(msg, f->offset), &tmp, size);
    if (cm_pbjson_is_oneof_(f))
        *cm_pbjson_case_(msg, f) = f->id;
    else if (cm_pbjson_has_flag_(f))
        *(protobuf_c_boolean *)cm_pbjson_at_(msg, f->quantifier_offset) = 1;
    return 0;
}
