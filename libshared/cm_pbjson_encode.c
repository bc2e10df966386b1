/* Encoding a message as JSON: to a jansson tree, and straight to text
 * (the same bytes as the tree dumped compactly). See cm_pbjson.h. */
#include "cm_pbjson_impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

/* ---- Encoding ----------------------------------------------------------- */

/* A JSON string of s; invalid UTF-8 (possible in messages off the wire) turns
 * into U+FFFD per bad byte rather than failing the whole reply. */
static json_t *s_json_text(const char *s, size_t len)
{
    size_t bad;
    if (cm_utf8_valid(s, len, &bad))
        return json_stringn_nocheck(s, len);
    char *fixed = cm_malloc(len * 3 + 1);
    size_t o = 0, pos = 0;
    do {
        memcpy(fixed + o, s + pos, bad);
        o += bad;
        memcpy(fixed + o, "\xEF\xBF\xBD", 3);
        o += 3;
        pos += bad + 1;
    } while (!cm_utf8_valid(s + pos, len - pos, &bad));
    memcpy(fixed + o, s + pos, len - pos);
    o += len - pos;
    json_t *j = json_stringn_nocheck(fixed, o);
    free(fixed);
    return j;
}

static json_t *s_encode_double(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

/* Floats widen to the double with the fewest digits that reads back as the
 * same float, so 0.1f is written 0.1 and not 0.10000000149011612. */
static json_t *s_encode_float(float f)
{
    if (!isfinite(f))
        return s_encode_double((double)f);
    char buf[32];
    double d = (double)f;
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        d = strtod(buf, NULL);
        if ((float)d == f)
            break;
    }
    return json_real(d);
}

static json_t *s_encode_bytes(const ProtobufCBinaryData *bd)
{
    if (bd->len == 0)
        return json_string("");
    size_t cap = sodium_base64_ENCODED_LEN(bd->len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = cm_malloc(cap);
    sodium_bin2base64(b64, cap, bd->data, bd->len, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_string_nocheck(b64);
    free(b64);
    return j;
}

static json_t *s_encode_message(const ProtobufCMessage *msg, unsigned flags);

/* Encodes one value of field type f->type stored at p. */
static json_t *s_encode_value(const ProtobufCFieldDescriptor *f, const void *p, unsigned flags)
{
    char buf[NAME_MAX_LEN];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)p);
        return json_string_nocheck(buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)p);
        return json_string_nocheck(buf);
    case PROTOBUF_C_TYPE_FLOAT:
        return s_encode_float(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return s_encode_double(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        if (cm_pbjson_enum_name(f->descriptor, v, buf, sizeof buf))
            return json_string(buf);
        return json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return s ? s_json_text(s, strlen(s)) : json_string("");
    }
    case PROTOBUF_C_TYPE_BYTES:
        return s_encode_bytes(p);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (!sub)
            return json_null();
        if (cm_pbjson_is_wrapper(sub->descriptor)) {
            const ProtobufCFieldDescriptor *vf = &sub->descriptor->fields[0];
            return s_encode_value(vf, cm_pbjson_at_(sub, vf->offset), flags);
        }
        return s_encode_message(sub, flags);
    }
    }
    return json_null();
}

json_t *cm_pbjson_encode_field_(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                                unsigned flags)
{
    if (!cm_pbjson_selected_(msg, f))
        return json_null();
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        json_t *arr = json_array();
        size_t n = *cm_pbjson_count_(msg, f), size = cm_pbjson_type_size_(f->type);
        const char *elems = *(char *const *)cm_pbjson_at_(msg, f->offset);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, s_encode_value(f, elems + i * size, flags));
        return arr;
    }
    if (cm_pbjson_has_flag_(f) && !cm_pbjson_present_(msg, f))
        return json_null();
    return s_encode_value(f, cm_pbjson_at_(msg, f->offset), flags);
}

static json_t *s_encode_message(const ProtobufCMessage *msg, unsigned flags)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *obj = json_object();
    char camel[NAME_MAX_LEN];
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!cm_pbjson_selected_(msg, f))
            continue;
        if ((flags & CM_PBJSON_OMIT_DEFAULTS) && !cm_pbjson_is_oneof_(f) &&
            !cm_pbjson_present_(msg, f))
            continue;
        cm_pbjson_camel(f->name, camel, sizeof camel);
        json_object_set_new_nocheck(obj, camel, cm_pbjson_encode_field_(msg, f, flags));
    }
    return obj;
}

json_t *cm_pbjson_encode(const ProtobufCMessage *msg, unsigned flags)
{
    if (!msg)
        return NULL;
    return s_encode_message(msg, flags);
}

/* ---- Encoding straight to text ---------------------------------------------
 * The same JSON as json_dumps(cm_pbjson_encode(msg, flags), JSON_COMPACT),
 * byte for byte (test_pbjson compares them), written into one buffer: no
 * tree of small allocations for a reply that is sent and forgotten. */

/* The text being written: grows by doubling, never fails (cm_realloc). */
struct s_tb {
    char *p; // owned
    size_t len, cap;
};

/* Room for n more bytes and the final NUL. */
static inline void s_reserve(struct s_tb *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? 2 * b->cap : 16384;
        b->p = cm_realloc(b->p, b->cap);
    }
}

static inline void s_out(struct s_tb *b, const char *s, size_t n)
{
    s_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* One byte: no call for the punctuation between values. */
static inline void s_out1(struct s_tb *b, char c)
{
    s_reserve(b, 1);
    b->p[b->len++] = c;
}

static void s_out_str(struct s_tb *b, const char *s)
{
    s_out(b, s, strlen(s));
}

/* A JSON string, escaped as jansson escapes (", \, the short escapes, other
 * controls as \u00XX); invalid UTF-8 becomes U+FFFD per bad byte. */
/* A byte JSON writes escaped: a control character, " or \\. */
static bool s_escaped(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/* Bytes written as they are in any string: printable ASCII but " and \\. */
static bool s_ascii_plain(unsigned char c)
{
    return c < 0x80 && !s_escaped(c);
}

/* How many bytes from the start of s (up to len) are s_ascii_plain. */
static size_t s_plain_run(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s_ascii_plain((unsigned char)s[i]))
        i++;
    return i;
}

static void s_text_string(struct s_tb *b, const char *s, size_t len)
{
    /* Most strings need nothing done: printable ASCII, or valid UTF-8
     * without a quote, backslash or control character. */
    size_t lead = s_plain_run(s, len);
    bool plain = true;
    for (size_t i = lead; i < len && plain; i++) {
        unsigned char c = (unsigned char)s[i];
        plain = !s_escaped(c);
    }
    if (plain && (lead == len || cm_utf8_valid(s + lead, len - lead, NULL))) {
        s_reserve(b, len + 2);
        char *o = b->p + b->len;
        o[0] = '"';
        memcpy(o + 1, s, len);
        o[len + 1] = '"';
        b->len += len + 2;
        return;
    }
    s_out1(b, '"');
    size_t pos = 0;
    while (pos < len) {
        size_t bad;
        bool ok = cm_utf8_valid(s + pos, len - pos, &bad);
        size_t run = ok ? len - pos : bad, start = pos;
        for (size_t i = pos; i < pos + run; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!s_escaped(c))
                continue;
            s_out(b, s + start, i - start);
            start = i + 1;
            char esc[8];
            switch (c) {
            case '"':
                s_out(b, "\\\"", 2);
                break;
            case '\\':
                s_out(b, "\\\\", 2);
                break;
            case '\b':
                s_out(b, "\\b", 2);
                break;
            case '\f':
                s_out(b, "\\f", 2);
                break;
            case '\n':
                s_out(b, "\\n", 2);
                break;
            case '\r':
                s_out(b, "\\r", 2);
                break;
            case '\t':
                s_out(b, "\\t", 2);
                break;
            default:
                snprintf(esc, sizeof esc, "\\u%04X", c);
                s_out(b, esc, 6);
            }
        }
        s_out(b, s + start, pos + run - start);
        pos += run;
        if (!ok) {
            s_out(b, "\xEF\xBF\xBD", 3);
            pos++;
        }
    }
    s_out1(b, '"');
}

/* A real as jansson writes one: %.17g, with ".0" when it would read as an
 * integer, and the exponent without '+' or leading zeros. */
static void s_text_real(struct s_tb *b, double d)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", d);
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        size_t n = strlen(buf);
        if (n + 3 <= sizeof buf)
            memcpy(buf + n, ".0", 3);
    }
    char *e = strchr(buf, 'e');
    if (e) {
        char *from = e + 1, *to = e + 1;
        if (*from == '+')
            from++;
        else if (*from == '-')
            *to++ = *from++;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
    }
    s_out_str(b, buf);
}

static void s_text_double(struct s_tb *b, double d)
{
    if (isnan(d))
        s_out_str(b, "\"NaN\"");
    else if (isinf(d))
        s_out_str(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else
        s_text_real(b, d);
}

static void s_text_message(struct s_tb *b, const ProtobufCMessage *msg, unsigned flags,
                           const char *omit);

/* A field's key as written ("camelName":), kept per field descriptor in a
 * small table per thread: descriptors are static, so a pointer names one. */
#define KEY_CACHE 256
#define KEY_TEXT 64
static const char *s_key_text(const ProtobufCFieldDescriptor *f, size_t *len)
{
    static _Thread_local struct {
        const ProtobufCFieldDescriptor *f;
        uint8_t len;
        char text[KEY_TEXT];
    } cache[KEY_CACHE];
    size_t h = ((uintptr_t)f >> 4) % KEY_CACHE;
    if (cache[h].f != f) {
        char camel[NAME_MAX_LEN];
        cm_pbjson_camel(f->name, camel, sizeof camel);
        size_t n = strlen(camel);
        struct s_tb tmp = {0};
        s_text_string(&tmp, camel, n);
        s_out(&tmp, ":", 1);
        if (tmp.len >= sizeof cache[h].text) { /* not kept: a name this long is made up */
            static _Thread_local char once[4 * NAME_MAX_LEN];
            size_t m = tmp.len < sizeof once ? tmp.len : sizeof once;
            memcpy(once, tmp.p, m);
            free(tmp.p);
            *len = m;
            return once;
        }
        memcpy(cache[h].text, tmp.p, tmp.len);
        cache[h].len = (uint8_t)tmp.len;
        cache[h].f = f;
        free(tmp.p);
    }
    *len = cache[h].len;
    return cache[h].text;
}

/* An enum value as written: its JSON name, or the number when it has none.
 * The text is kept per descriptor and value in a small table per thread. */
#define ENUM_CACHE 64
static void s_text_enum(struct s_tb *b, const ProtobufCEnumDescriptor *desc, int v)
{
    static _Thread_local struct {
        const ProtobufCEnumDescriptor *desc;
        int value;
        uint8_t len;
        char text[KEY_TEXT];
    } cache[ENUM_CACHE];
    size_t h = (((uintptr_t)desc >> 4) ^ (unsigned)v * 2654435761u) % ENUM_CACHE;
    if (cache[h].desc != desc || cache[h].value != v) {
        char name[NAME_MAX_LEN + 4];
        struct s_tb tmp = {0};
        if (cm_pbjson_enum_name(desc, v, name, sizeof name)) {
            s_text_string(&tmp, name, strlen(name));
        } else {
            snprintf(name, sizeof name, "%d", v);
            s_out_str(&tmp, name);
        }
        if (tmp.len >= KEY_TEXT) { /* not kept: a name this long is made up */
            s_out(b, tmp.p, tmp.len);
            free(tmp.p);
            return;
        }
        memcpy(cache[h].text, tmp.p, tmp.len);
        cache[h].len = (uint8_t)tmp.len;
        cache[h].value = v;
        cache[h].desc = desc;
        free(tmp.p);
    }
    s_out(b, cache[h].text, cache[h].len);
}

static void s_text_value(struct s_tb *b, const ProtobufCFieldDescriptor *f, const void *p,
                         unsigned flags)
{
    char buf[NAME_MAX_LEN + 4];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, sizeof buf, "%" PRId32, *(const int32_t *)p);
        s_out_str(b, buf);
        return;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, sizeof buf, "%" PRIu32, *(const uint32_t *)p);
        s_out_str(b, buf);
        return;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "\"%" PRId64 "\"", *(const int64_t *)p);
        s_out_str(b, buf);
        return;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "\"%" PRIu64 "\"", *(const uint64_t *)p);
        s_out_str(b, buf);
        return;
    case PROTOBUF_C_TYPE_FLOAT: {
        float fl = *(const float *)p;
        if (!isfinite(fl)) {
            s_text_double(b, (double)fl);
            return;
        }
        double d = (double)fl;
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, (double)fl);
            d = strtod(buf, NULL);
            if ((float)d == fl)
                break;
        }
        s_text_real(b, d);
        return;
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        s_text_double(b, *(const double *)p);
        return;
    case PROTOBUF_C_TYPE_BOOL:
        s_out_str(b, *(const protobuf_c_boolean *)p ? "true" : "false");
        return;
    case PROTOBUF_C_TYPE_ENUM:
        s_text_enum(b, f->descriptor, *(const int *)p);
        return;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        s_text_string(b, s ? s : "", s ? strlen(s) : 0);
        return;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;
        if (bd->len == 0) {
            s_out_str(b, "\"\"");
            return;
        }
        size_t cap = sodium_base64_ENCODED_LEN(bd->len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = cm_malloc(cap);
        sodium_bin2base64(b64, cap, bd->data, bd->len, sodium_base64_VARIANT_ORIGINAL);
        s_out1(b, '"');
        s_out_str(b, b64);
        s_out1(b, '"');
        free(b64);
        return;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (!sub) {
            s_out_str(b, "null");
        } else if (cm_pbjson_is_wrapper(sub->descriptor)) {
            const ProtobufCFieldDescriptor *vf = &sub->descriptor->fields[0];
            s_text_value(b, vf, cm_pbjson_at_(sub, vf->offset), flags);
        } else {
            s_text_message(b, sub, flags, NULL);
        }
        return;
    }
    }
    s_out_str(b, "null");
}

static void s_text_field(struct s_tb *b, const ProtobufCMessage *msg,
                         const ProtobufCFieldDescriptor *f, unsigned flags)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *cm_pbjson_count_(msg, f), size = cm_pbjson_type_size_(f->type);
        const char *elems = *(char *const *)cm_pbjson_at_(msg, f->offset);
        s_out1(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                s_out1(b, ',');
            s_text_value(b, f, elems + i * size, flags);
        }
        s_out1(b, ']');
        return;
    }
    if (cm_pbjson_has_flag_(f) && !cm_pbjson_present_(msg, f)) {
        s_out_str(b, "null");
        return;
    }
    s_text_value(b, f, cm_pbjson_at_(msg, f->offset), flags);
}

static void s_text_message(struct s_tb *b, const ProtobufCMessage *msg, unsigned flags,
                           const char *omit)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    bool first = true;
    s_out1(b, '{');
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!cm_pbjson_selected_(msg, f))
            continue;
        if ((flags & CM_PBJSON_OMIT_DEFAULTS) && !cm_pbjson_is_oneof_(f) &&
            !cm_pbjson_present_(msg, f))
            continue;
        if (omit && !strcmp(f->name, omit))
            continue;
        size_t kl;
        const char *key = s_key_text(f, &kl);
        /* A kept key is a whole KEY_TEXT array: copied at a fixed size (no
         * call), the length then says how much of it counts. */
        s_reserve(b, kl + KEY_TEXT + 1);
        if (!first)
            b->p[b->len++] = ',';
        first = false;
        if (kl <= KEY_TEXT)
            memcpy(b->p + b->len, key, KEY_TEXT);
        else
            memcpy(b->p + b->len, key, kl);
        b->len += kl;
        s_text_field(b, msg, f, flags);
    }
    s_out1(b, '}');
}

char *cm_pbjson_encode_text(const ProtobufCMessage *msg, unsigned flags, const char *omit,
                            size_t *len)
{
    struct s_tb b = {0};
    s_text_message(&b, msg, flags, omit);
    s_out(&b, "", 0);
    b.p[b.len] = '\0';
    if (len)
        *len = b.len;
    return b.p;
}

json_t *cm_pbjson_encode_field(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field)
{
    if (!msg || !field)
        return NULL;
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    uintptr_t p = (uintptr_t)field, lo = (uintptr_t)desc->fields;
    if (p < lo || p >= (uintptr_t)(desc->fields + desc->n_fields))
        return NULL;
    return cm_pbjson_encode_field_(msg, field, 0);
}
