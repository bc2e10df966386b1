/* JSON <-> protobuf-c by walking the message descriptors (proto3 JSON
 * mapping), and field-path helpers on dynamic messages. See cm_pbjson.h. */
#include "cm_pbjson.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "cm_buf.h"
#include "cm_util.h"

// Longest field or enum name handled; longer ones are truncated (and so never match).
#define NAME_MAX_LEN 128

/* ---- Descriptor helpers ------------------------------------------------- */

static void *s_at(const ProtobufCMessage *msg, unsigned offset)
{
    // Messages are reached through const pointers for reading; writers own them.
    return (char *)(uintptr_t)msg + offset;
}

static bool s_is_oneof(const ProtobufCFieldDescriptor *f)
{
    return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

static uint32_t *s_case(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    return s_at(msg, f->quantifier_offset);
}

/* proto2 optional scalars carry a has_ flag; strings and messages use NULL. */
static bool s_has_flag(const ProtobufCFieldDescriptor *f)
{
    return f->label == PROTOBUF_C_LABEL_OPTIONAL && !s_is_oneof(f) &&
           f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE;
}

static size_t *s_count(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    return s_at(msg, f->quantifier_offset);
}

/* The member's slot is in use: always, except for unselected oneof members. */
static bool s_selected(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    return !s_is_oneof(f) || *s_case(msg, f) == f->id;
}

/* Size of one value in a message or a repeated array (protobuf-c's layout). */
static size_t s_type_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 8;
}

bool cm_pbjson_is_wrapper(const ProtobufCMessageDescriptor *desc)
{
    if (!desc || desc->n_fields != 1)
        return false;
    const ProtobufCFieldDescriptor *f = &desc->fields[0];
    return f->label != PROTOBUF_C_LABEL_REPEATED && f->type != PROTOBUF_C_TYPE_MESSAGE &&
           !s_is_oneof(f) && strcmp(f->name, "value") == 0;
}

/* True when the field holds something other than its default (or, for
 * presence-tracking fields, is set at all). */
static bool s_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (s_is_oneof(f))
        return *s_case(msg, f) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *s_count(msg, f) > 0;
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    if (s_has_flag(f))
        return *(protobuf_c_boolean *)s_at(msg, f->quantifier_offset) != 0;
    const void *p = s_at(msg, f->offset);
    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p != NULL;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
            return s != NULL && s != f->default_value;
        return s != NULL && s[0] != '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len > 0;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p != 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p != 0.0f;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p != 0.0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)p != 0;
    default:
        return *(const uint32_t *)p != 0;
    }
}

void cm_pbjson_camel(const char *proto_name, char *out, size_t size)
{
    size_t o = 0;
    bool up = false;
    if (size == 0)
        return;
    for (const char *p = proto_name; *p && o + 1 < size; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        char c = *p;
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        up = false;
        out[o++] = c;
    }
    out[o] = '\0';
}

/* Compares a key with the lowerCamelCase form of a proto name without building it. */
static bool s_camel_eq(const char *proto_name, const char *key)
{
    bool up = false;
    for (const char *p = proto_name; *p; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        char c = *p;
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        up = false;
        if (*key != c)
            return false;
        key++;
    }
    return *key == '\0';
}

const ProtobufCFieldDescriptor *cm_pbjson_find_field(const ProtobufCMessageDescriptor *desc,
                                                     const char *name)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, name);
    if (f)
        return f;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        // Cheap first-letter filter: camel names keep the proto name's first letter.
        if (desc->fields[i].name[0] == name[0] && s_camel_eq(desc->fields[i].name, name))
            return &desc->fields[i];
    }
    return NULL;
}

/* ---- Enums -------------------------------------------------------------- */

/* "AddressKind" -> "ADDRESS_KIND_", "HTTPStatus" -> "HTTP_STATUS_". */
static size_t s_enum_prefix(const char *short_name, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; short_name[i] && o + 3 < size; i++) {
        char c = short_name[i];
        bool upper = c >= 'A' && c <= 'Z';
        if (upper && i > 0) {
            char p = short_name[i - 1], nx = short_name[i + 1];
            bool p_low = (p >= 'a' && p <= 'z') || (p >= '0' && p <= '9');
            bool p_up = p >= 'A' && p <= 'Z';
            bool nx_low = nx >= 'a' && nx <= 'z';
            if (p_low || (p_up && nx_low))
                out[o++] = '_';
        }
        out[o++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    out[o++] = '_';
    out[o] = '\0';
    return o;
}

static const char *s_enum_strip(const char *name, const char *prefix, size_t plen)
{
    if (strncmp(name, prefix, plen) == 0 && name[plen] != '\0')
        return name + plen;
    return name;
}

const char *cm_pbjson_enum_name(const ProtobufCEnumDescriptor *desc, int value, char *out,
                                size_t size)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(desc, value);
    if (!v || size == 0)
        return NULL;
    char prefix[NAME_MAX_LEN];
    size_t plen = s_enum_prefix(desc->short_name, prefix, sizeof prefix);
    snprintf(out, size, "%s", s_enum_strip(v->name, prefix, plen));
    return out;
}

/* Looks up an enum value by stripped or full name. */
static const ProtobufCEnumValue *s_enum_by_name(const ProtobufCEnumDescriptor *desc,
                                                const char *name)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(desc, name);
    if (v)
        return v;
    char full[2 * NAME_MAX_LEN];
    size_t plen = s_enum_prefix(desc->short_name, full, NAME_MAX_LEN);
    size_t nlen = strlen(name);
    if (nlen == 0 || plen + nlen >= sizeof full)
        return NULL;
    memcpy(full + plen, name, nlen + 1);
    return protobuf_c_enum_descriptor_get_value_by_name(desc, full);
}

/* "not a valid value; expected one of FEMALE, MALE, OTHER, UNSPECIFIED". */
static void s_enum_expected(const ProtobufCEnumDescriptor *desc, char *out, size_t size)
{
    char prefix[NAME_MAX_LEN];
    size_t plen = s_enum_prefix(desc->short_name, prefix, sizeof prefix);
    size_t o = (size_t)snprintf(out, size, "not a valid value; expected one of ");
    for (unsigned i = 0; i < desc->n_value_names && o < size; i++) {
        const char *name = s_enum_strip(desc->values_by_name[i].name, prefix, plen);
        const char *sep = i ? ", " : "";
        // Keep room for ", ..." so a long list ends visibly cut.
        if (o + strlen(sep) + strlen(name) + 6 >= size) {
            snprintf(out + o, size - o, ", ...");
            return;
        }
        o += (size_t)snprintf(out + o, size - o, "%s%s", sep, name);
    }
}

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
            return s_encode_value(vf, s_at(sub, vf->offset), flags);
        }
        return s_encode_message(sub, flags);
    }
    }
    return json_null();
}

static json_t *s_encode_field(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                              unsigned flags)
{
    if (!s_selected(msg, f))
        return json_null();
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        json_t *arr = json_array();
        size_t n = *s_count(msg, f), size = s_type_size(f->type);
        const char *elems = *(char *const *)s_at(msg, f->offset);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, s_encode_value(f, elems + i * size, flags));
        return arr;
    }
    if (s_has_flag(f) && !s_present(msg, f))
        return json_null();
    return s_encode_value(f, s_at(msg, f->offset), flags);
}

static json_t *s_encode_message(const ProtobufCMessage *msg, unsigned flags)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *obj = json_object();
    char camel[NAME_MAX_LEN];
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!s_selected(msg, f))
            continue;
        if ((flags & CM_PBJSON_OMIT_DEFAULTS) && !s_is_oneof(f) && !s_present(msg, f))
            continue;
        cm_pbjson_camel(f->name, camel, sizeof camel);
        json_object_set_new_nocheck(obj, camel, s_encode_field(msg, f, flags));
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
            s_text_value(b, vf, s_at(sub, vf->offset), flags);
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
        size_t n = *s_count(msg, f), size = s_type_size(f->type);
        const char *elems = *(char *const *)s_at(msg, f->offset);
        s_out1(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i)
                s_out1(b, ',');
            s_text_value(b, f, elems + i * size, flags);
        }
        s_out1(b, ']');
        return;
    }
    if (s_has_flag(f) && !s_present(msg, f)) {
        s_out_str(b, "null");
        return;
    }
    s_text_value(b, f, s_at(msg, f->offset), flags);
}

static void s_text_message(struct s_tb *b, const ProtobufCMessage *msg, unsigned flags,
                           const char *omit)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    bool first = true;
    s_out1(b, '{');
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!s_selected(msg, f))
            continue;
        if ((flags & CM_PBJSON_OMIT_DEFAULTS) && !s_is_oneof(f) && !s_present(msg, f))
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
    return s_encode_field(msg, field, 0);
}

/* ---- Decoding ----------------------------------------------------------- */

struct s_ctx {
    struct cm_pbjson_error *err; // borrowed (caller), may be NULL
    char path[256];              // where we are, e.g. "customer.addresses[1]"
    size_t len;
    bool failed;
};

static void s_ctx_init(struct s_ctx *ctx, struct cm_pbjson_error *err, const char *prefix)
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

static void s_ctx_fail(struct s_ctx *ctx, const char *description)
{
    if (ctx->failed)
        return;
    ctx->failed = true;
    if (ctx->err) {
        snprintf(ctx->err->field, sizeof ctx->err->field, "%s", ctx->path);
        snprintf(ctx->err->description, sizeof ctx->err->description, "%s", description);
    }
}

/* Appends n bytes of text to the path, cut where the path is full. */
static void s_ctx_append(struct s_ctx *ctx, const char *text, size_t n)
{
    size_t room = sizeof ctx->path - 1 - ctx->len;
    if (n > room)
        n = room;
    memcpy(ctx->path + ctx->len, text, n);
    ctx->len += n;
    ctx->path[ctx->len] = '\0';
}

/* Appends ".name" (or "name" at the start); returns the length to pop back to.
 * Every field decoded passes here, so no printf. */
static size_t s_ctx_push_name(struct s_ctx *ctx, const char *name)
{
    size_t mark = ctx->len;
    if (ctx->len)
        s_ctx_append(ctx, ".", 1);
    s_ctx_append(ctx, name, strlen(name));
    return mark;
}

static size_t s_ctx_push_index(struct s_ctx *ctx, size_t i)
{
    size_t mark = ctx->len;
    char digits[24], *d = digits + sizeof digits;
    *--d = ']';
    do {
        *--d = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    *--d = '[';
    s_ctx_append(ctx, d, (size_t)(digits + sizeof digits - d));
    return mark;
}

static void s_ctx_pop(struct s_ctx *ctx, size_t mark)
{
    ctx->len = mark;
    ctx->path[mark] = '\0';
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

/* One JSON value as both decoders see it: the text decoder reads it off the
 * text, the tree decoder takes it from a json_t. Objects and arrays are only
 * their kind here; each decoder walks into them its own way. */
enum s_kind { K_NULL, K_TRUE, K_FALSE, K_INT, K_REAL, K_STR, K_OBJ, K_ARR };

struct s_tok {
    enum s_kind kind;
    const char *s; // K_STR: the string, NUL-terminated; borrowed (the text's scratch or the json_t)
    size_t len;    // K_STR: its length in bytes (it may hold NULs only from a built tree)
    json_int_t i;  // K_INT
    double d;      // K_INT and K_REAL: the number as a double
};

static void s_tok_of_json(const json_t *j, struct s_tok *t)
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
static int s_tok_int(const struct s_tok *t, struct s_int *out, struct s_ctx *ctx)
{
    if (t->kind == K_INT) {
        out->neg = t->i < 0;
        out->mag = t->i < 0 ? (uint64_t)(-(t->i + 1)) + 1 : (uint64_t)t->i;
        return 0;
    }
    if (t->kind == K_REAL) {
        double d = t->d;
        if (!isfinite(d) || d != floor(d)) {
            s_ctx_fail(ctx, "expected an integer");
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
            s_ctx_fail(ctx, "expected an integer");
        return rc;
    }
    s_ctx_fail(ctx, "expected an integer");
    return -1;
}

static int s_scalar_int(const ProtobufCFieldDescriptor *f, void *slot, const struct s_tok *t,
                        struct s_ctx *ctx)
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
    s_ctx_fail(ctx, desc);
    return -1;
}

/* A number, or a string: "NaN", "Infinity", "-Infinity" or a decimal number. */
static int s_tok_real(const struct s_tok *t, double *out, struct s_ctx *ctx)
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
                s_ctx_fail(ctx, "out of range for double");
                return -1;
            }
            if (end == s + len) {
                *out = d;
                return 0;
            }
        }
    }
    s_ctx_fail(ctx, "expected a number");
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
static void s_store_string(const ProtobufCFieldDescriptor *f, void *slot, const char *s, size_t len,
                           bool elem)
{
    if (len == 0 && !elem && !s_is_oneof(f) &&
        f->default_value == (const void *)protobuf_c_empty_string)
        *(char **)slot = (char *)protobuf_c_empty_string;
    else
        *(char **)slot = cm_strndup(s, len);
}

/* Decodes one value of field f (an element when elem) of any type but a
 * message into slot, which holds the default. On failure the slot is left at
 * the default. Both decoders come here, so they agree on every scalar. */
static int s_scalar(const ProtobufCFieldDescriptor *f, void *slot, const struct s_tok *t, bool elem,
                    struct s_ctx *ctx)
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
            s_ctx_fail(ctx, "out of range for float");
            return -1;
        }
        *(float *)slot = (float)d;
        return 0;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (t->kind != K_TRUE && t->kind != K_FALSE) {
            s_ctx_fail(ctx, "expected a boolean");
            return -1;
        }
        *(protobuf_c_boolean *)slot = t->kind == K_TRUE;
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v = NULL;
        if (t->kind == K_STR)
            v = s_enum_by_name(f->descriptor, t->s);
        else if (t->kind == K_INT && t->i >= INT32_MIN && t->i <= INT32_MAX)
            v = protobuf_c_enum_descriptor_get_value(f->descriptor, (int)t->i);
        if (!v) {
            char desc[256];
            s_enum_expected(f->descriptor, desc, sizeof desc);
            s_ctx_fail(ctx, desc);
            return -1;
        }
        *(int *)slot = v->value;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (t->kind != K_STR) {
            s_ctx_fail(ctx, "expected a string");
            return -1;
        }
        if (!cm_utf8_valid(t->s, t->len, NULL)) {
            s_ctx_fail(ctx, "not valid UTF-8");
            return -1;
        }
        if (strlen(t->s) != t->len) {
            s_ctx_fail(ctx, "must not contain NUL characters");
            return -1;
        }
        s_store_string(f, slot, t->s, t->len, elem);
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (t->kind != K_STR) {
            s_ctx_fail(ctx, "expected a string");
            return -1;
        }
        ProtobufCBinaryData *bd = slot;
        if (s_base64_decode(t->s, t->len, &bd->data, &bd->len)) {
            s_ctx_fail(ctx, "not valid base64");
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
        if (!s_is_oneof(g) || g->quantifier_offset != f->quantifier_offset)
            continue;
        char camel[NAME_MAX_LEN];
        cm_pbjson_camel(g->name, camel, sizeof camel);
        o += (size_t)snprintf(out + o, size - o, "%s%s", first ? "" : ", ", camel);
        first = false;
    }
    if (o < size)
        snprintf(out + o, size - o, " may be set");
}

/* Before a singular value of f: fails when another member of f's oneof is set. */
static int s_oneof_taken(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                         struct s_ctx *ctx)
{
    if (s_is_oneof(f) && *s_case(msg, f) != 0 && *s_case(msg, f) != f->id) {
        char desc[256];
        s_oneof_conflict(msg->descriptor, f, desc, sizeof desc);
        s_ctx_fail(ctx, desc);
        return -1;
    }
    return 0;
}

/* After a singular value of f was stored: marks it set. */
static void s_mark_set(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (s_is_oneof(f))
        *s_case(msg, f) = f->id;
    else if (s_has_flag(f))
        *(protobuf_c_boolean *)s_at(msg, f->quantifier_offset) = 1;
}

/* The field an object's key names, with its path pushed onto ctx (pop back to
 * *mark). NULL with ctx failed (and the path as it was) for a key desc does
 * not know or a field given before (seen, one flag per field, by either name). */
static const ProtobufCFieldDescriptor *s_member(const ProtobufCMessageDescriptor *desc,
                                                const char *key, unsigned char *seen,
                                                struct s_ctx *ctx, size_t *mark)
{
    const ProtobufCFieldDescriptor *f = cm_pbjson_find_field(desc, key);
    if (!f) {
        *mark = s_ctx_push_name(ctx, key);
        s_ctx_fail(ctx, "unknown field");
        s_ctx_pop(ctx, *mark);
        return NULL;
    }
    char camel[NAME_MAX_LEN];
    cm_pbjson_camel(f->name, camel, sizeof camel);
    *mark = s_ctx_push_name(ctx, camel);
    size_t idx = (size_t)(f - desc->fields);
    if (seen[idx]) {
        s_ctx_fail(ctx, "given more than once");
        s_ctx_pop(ctx, *mark);
        return NULL;
    }
    seen[idx] = 1;
    return f;
}

/* Which fields of a message were given: a small array on the stack for most. */
struct s_seen {
    unsigned char small[64];
    unsigned char *flags; // small, or owned when the message has more fields
};

static unsigned char *s_seen_init(struct s_seen *s, const ProtobufCMessageDescriptor *desc)
{
    if (desc->n_fields > sizeof s->small) {
        s->flags = cm_calloc(desc->n_fields, 1);
    } else {
        memset(s->small, 0, sizeof s->small);
        s->flags = s->small;
    }
    return s->flags;
}

static void s_seen_done(struct s_seen *s)
{
    if (s->flags != s->small)
        free(s->flags);
    s->flags = NULL;
}

/* The end of a message's members: the message, or NULL (freed) when rc < 0. */
static ProtobufCMessage *s_message_end(ProtobufCMessage *msg, struct s_seen *seen, int rc)
{
    s_seen_done(seen);
    if (rc) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}

/* ---- Decoding a jansson tree ------------------------------------------------ */

static ProtobufCMessage *s_decode_message(const ProtobufCMessageDescriptor *desc, json_t *json,
                                          struct s_ctx *ctx, int depth);

/* A message-typed value: an object, or for a wrapper type the bare value. */
static ProtobufCMessage *s_decode_sub(const ProtobufCMessageDescriptor *desc, json_t *json,
                                      struct s_ctx *ctx, int depth);

/* Decodes one value of field f (an element when elem) into slot, which holds
 * the default. On failure the slot is left at the default. */
static int s_decode_value(const ProtobufCFieldDescriptor *f, void *slot, json_t *j, bool elem,
                          struct s_ctx *ctx, int depth)
{
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        ProtobufCMessage *sub = s_decode_sub(f->descriptor, j, ctx, depth + 1);
        if (!sub)
            return -1;
        *(ProtobufCMessage **)slot = sub;
        return 0;
    }
    struct s_tok t;
    s_tok_of_json(j, &t);
    return s_scalar(f, slot, &t, elem, ctx);
}

static ProtobufCMessage *s_decode_sub(const ProtobufCMessageDescriptor *desc, json_t *json,
                                      struct s_ctx *ctx, int depth)
{
    if (json_is_object(json) || !cm_pbjson_is_wrapper(desc))
        return s_decode_message(desc, json, ctx, depth);
    ProtobufCMessage *msg = cm_pb_new(desc);
    const ProtobufCFieldDescriptor *vf = &desc->fields[0];
    if (s_decode_value(vf, s_at(msg, vf->offset), json, false, ctx, depth)) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}

static int s_decode_repeated(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, json_t *val,
                             struct s_ctx *ctx, int depth)
{
    if (!json_is_array(val)) {
        s_ctx_fail(ctx, "expected an array");
        return -1;
    }
    size_t n = json_array_size(val);
    if (n == 0)
        return 0;
    size_t size = s_type_size(f->type);
    char *elems = cm_calloc(n, size);
    size_t *count = s_count(msg, f);
    // Hand the array to msg now and count only decoded elements, so freeing
    // msg on a later failure frees exactly what was built.
    *(void **)s_at(msg, f->offset) = elems;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mark = s_ctx_push_index(ctx, i);
        int rc = s_decode_value(f, elems + i * size, json_array_get(val, i), true, ctx, depth);
        s_ctx_pop(ctx, mark);
        if (rc)
            return -1;
        (*count)++;
    }
    return 0;
}

static int s_decode_field(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, json_t *val,
                          struct s_ctx *ctx, int depth)
{
    if (json_is_null(val))
        return 0;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return s_decode_repeated(msg, f, val, ctx, depth);
    if (s_oneof_taken(msg, f, ctx))
        return -1;
    if (s_decode_value(f, s_at(msg, f->offset), val, false, ctx, depth))
        return -1;
    s_mark_set(msg, f);
    return 0;
}

static ProtobufCMessage *s_decode_message(const ProtobufCMessageDescriptor *desc, json_t *json,
                                          struct s_ctx *ctx, int depth)
{
    if (depth > CM_PBJSON_MAX_DEPTH) {
        s_ctx_fail(ctx, "nested too deeply");
        return NULL;
    }
    if (!json_is_object(json)) {
        s_ctx_fail(ctx, "expected an object");
        return NULL;
    }
    ProtobufCMessage *msg = cm_pb_new(desc);
    // Which fields were given, to refuse "firstName" and "first_name" together.
    struct s_seen seen;
    unsigned char *flags = s_seen_init(&seen, desc);
    int rc = 0;
    const char *key;
    json_t *val;
    json_object_foreach(json, key, val)
    {
        size_t mark;
        const ProtobufCFieldDescriptor *f = s_member(desc, key, flags, ctx, &mark);
        if (!f) {
            rc = -1;
            break;
        }
        rc = s_decode_field(msg, f, val, ctx, depth);
        s_ctx_pop(ctx, mark);
        if (rc)
            break;
    }
    return s_message_end(msg, &seen, rc);
}

ProtobufCMessage *cm_pbjson_decode(const ProtobufCMessageDescriptor *desc, json_t *json,
                                   const char *prefix, struct cm_pbjson_error *err)
{
    struct s_ctx ctx;
    s_ctx_init(&ctx, err, prefix);
    return s_decode_message(desc, json, &ctx, 1);
}

/* ---- Decoding straight from the text ---------------------------------------
 * cm_pbjson_decode_text gives what cm_pbjson_decode(json_loadb(text, len, 0))
 * gives, without the tree: one pass over the text builds the message. The
 * values go through s_scalar and the members through s_member as in the tree
 * decoder, so the two can differ only in reading JSON, which this section
 * does as jansson does: the same grammar, UTF-8 checked everywhere, \u0000
 * refused, integers beyond 64 bits and reals beyond a double refused, values
 * nested at most JSON_MAX_NEST deep, nothing but whitespace after the value.
 *
 * Two things jansson does cannot be seen in one pass. Any bad JSON fails the
 * whole text, even after the first wrong field; and a key given twice keeps
 * its first place among the members but takes its last value (json_loads
 * without JSON_REJECT_DUPLICATES), so a later value can undo an error. So
 * when the single pass fails for any reason, the text is checked whole (bad
 * JSON reads as jansson's NULL: "expected an object"), and then decoded again
 * reading each object's members first and keeping one per key. Texts that
 * decode, the every-day case, are read once. */

// jansson's JSON_PARSER_MAX_DEPTH: a value nested deeper fails to parse.
#define JSON_MAX_NEST 2048

struct s_tx {
    const char *p, *end; // what is left of the text; borrowed (caller)
    bool slow;           // members read first and one kept per key (see above)
    int nest;            // containers open around p
    unsigned char in_obj[JSON_MAX_NEST / 8 + 1]; // per open container: an object?
    struct s_ctx *ctx;                           // borrowed (caller)
    char *buf; // owned: the last string or number read, unescaped, NUL-terminated
};

static void s_ws(struct s_tx *tx)
{
    while (tx->p < tx->end && (*tx->p == ' ' || *tx->p == '\t' || *tx->p == '\n' || *tx->p == '\r'))
        tx->p++;
}

/* Four hex digits at p (before end) as a number, or -1. */
static long s_hex4(const char *p, const char *end)
{
    if (end - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t s_put_utf8(char *o, uint32_t v)
{
    if (v < 0x80) {
        o[0] = (char)v;
        return 1;
    }
    if (v < 0x800) {
        o[0] = (char)(0xC0 | (v >> 6));
        o[1] = (char)(0x80 | (v & 0x3F));
        return 2;
    }
    if (v < 0x10000) {
        o[0] = (char)(0xE0 | (v >> 12));
        o[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        o[2] = (char)(0x80 | (v & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (v >> 18));
    o[1] = (char)(0x80 | ((v >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((v >> 6) & 0x3F));
    o[3] = (char)(0x80 | (v & 0x3F));
    return 4;
}

/* A \u escape at p (just after the backslash and 'u'), a surrogate pair
 * taken whole, written as UTF-8 at *o. Returns the bytes read, or 0 for what
 * jansson refuses: bad hex, a lone or reversed surrogate, \u0000. */
static size_t s_unicode_escape(const char *p, const char *end, char **o)
{
    long v = s_hex4(p, end);
    size_t used = 4;
    if (v <= 0 || (v >= 0xDC00 && v <= 0xDFFF))
        return 0;
    if (v >= 0xD800 && v <= 0xDBFF) {
        if (end - p < 6 || p[4] != '\\' || p[5] != 'u')
            return 0;
        long lo = s_hex4(p + 6, end);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return 0;
        v = ((v - 0xD800) << 10) + (lo - 0xDC00) + 0x10000;
        used = 10;
    }
    *o += s_put_utf8(*o, (uint32_t)v);
    return used;
}

/* The string at p (on its opening quote) into tx->buf. False on bad JSON. */
static bool s_read_string(struct s_tx *tx, struct s_tok *t)
{
    const char *p = tx->p + 1, *end = tx->end;
    char *o = tx->buf;
    for (;;) {
        const char *run = p;
        while (p < end && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80 && *p != '"' &&
               *p != '\\')
            p++;
        memcpy(o, run, (size_t)(p - run));
        o += p - run;
        if (p == end)
            return false;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            // A run of bytes above ASCII is whole characters or bad UTF-8,
            // which jansson refuses wherever it is.
            const char *high = p;
            while (p < end && (unsigned char)*p >= 0x80)
                p++;
            if (!cm_utf8_valid(high, (size_t)(p - high), NULL))
                return false;
            memcpy(o, high, (size_t)(p - high));
            o += p - high;
            continue;
        }
        if (end - p < 2)
            return false;
        char e = p[1];
        p += 2;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *k = e ? strchr(from, e) : NULL;
        if (k) {
            *o++ = to[k - from];
        } else if (e == 'u') {
            size_t used = s_unicode_escape(p, end, &o);
            if (!used)
                return false;
            p += used;
        } else {
            return false;
        }
    }
    *o = '\0';
    t->kind = K_STR;
    t->s = tx->buf;
    t->len = (size_t)(o - tx->buf);
    tx->p = p + 1;
    return true;
}

/* jansson drops a NUL byte that ends a number or a word: it puts the byte
 * back into its read-ahead buffer, where a NUL means "empty", and reads on. */
static void s_jansson_nul(struct s_tx *tx)
{
    if (tx->p < tx->end && *tx->p == '\0')
        tx->p++;
}

static bool s_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* A number as jansson reads one: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
 * an integer when it has neither fraction nor exponent. */
static bool s_read_number(struct s_tx *tx, struct s_tok *t)
{
    const char *p = tx->p, *end = tx->end;
    bool real = false;
    if (*p == '-')
        p++;
    if (!s_digit(p, end))
        return false;
    if (*p == '0') {
        p++;
        if (s_digit(p, end))
            return false;
    } else {
        while (s_digit(p, end))
            p++;
    }
    if (p < end && *p == '.') {
        real = true;
        p++;
        if (!s_digit(p, end))
            return false;
        while (s_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!s_digit(p, end))
            return false;
        while (s_digit(p, end))
            p++;
    }
    size_t n = (size_t)(p - tx->p);
    memcpy(tx->buf, tx->p, n);
    tx->buf[n] = '\0';
    tx->p = p;
    s_jansson_nul(tx);
    errno = 0;
    if (!real) {
        long long v = strtoll(tx->buf, NULL, 10);
        if (errno == ERANGE)
            return false;
        t->kind = K_INT;
        t->i = v;
        t->d = (double)v;
        return true;
    }
    double d = strtod(tx->buf, NULL);
    if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
        return false;
    t->kind = K_REAL;
    t->d = d;
    return true;
}

static bool s_read_word(struct s_tx *tx, const char *word, enum s_kind kind, struct s_tok *t)
{
    size_t n = strlen(word);
    if ((size_t)(tx->end - tx->p) < n || memcmp(tx->p, word, n) != 0)
        return false;
    tx->p += n;
    s_jansson_nul(tx);
    t->kind = kind;
    return true;
}

/* Reads the next value's token. An object or array is entered: its opening
 * bracket read, tx->nest one more. False on bad JSON. */
static bool s_next(struct s_tx *tx, struct s_tok *t)
{
    s_ws(tx);
    if (tx->p == tx->end || tx->nest + 1 > JSON_MAX_NEST)
        return false;
    switch (*tx->p) {
    case '{':
    case '[': {
        bool obj = *tx->p == '{';
        unsigned char bit = (unsigned char)(1u << (tx->nest % 8));
        if (obj)
            tx->in_obj[tx->nest / 8] |= bit;
        else
            tx->in_obj[tx->nest / 8] &= (unsigned char)~bit;
        tx->nest++;
        tx->p++;
        t->kind = obj ? K_OBJ : K_ARR;
        return true;
    }
    case '"':
        return s_read_string(tx, t);
    case 't':
        return s_read_word(tx, "true", K_TRUE, t);
    case 'f':
        return s_read_word(tx, "false", K_FALSE, t);
    case 'n':
        return s_read_word(tx, "null", K_NULL, t);
    default:
        return s_read_number(tx, t);
    }
}

/* Steps into the next member or element of the container around p, just
 * entered (first) or whose last value was just read: 1 when one follows (the
 * comma read), 0 at the closing bracket close (read, the container left), -1
 * on bad JSON. */
static int s_next_in(struct s_tx *tx, bool first, char close)
{
    s_ws(tx);
    if (tx->p == tx->end)
        return -1;
    if (*tx->p == close) {
        tx->p++;
        tx->nest--;
        return 0;
    }
    if (!first) {
        if (*tx->p != ',')
            return -1;
        tx->p++;
    }
    return 1;
}

/* The next member of an object: 1 with its key in *key (tx->buf) and p after
 * the ':', otherwise as s_next_in. */
static int s_next_key(struct s_tx *tx, bool first, struct s_tok *key)
{
    int more = s_next_in(tx, first, '}');
    if (more <= 0)
        return more;
    s_ws(tx);
    if (tx->p == tx->end || *tx->p != '"' || !s_read_string(tx, key))
        return -1;
    s_ws(tx);
    if (tx->p == tx->end || *tx->p != ':')
        return -1;
    tx->p++;
    return 1;
}

/* Reads one whole value (its first token already in t), checking it as
 * jansson's parser would. False on bad JSON. */
static bool s_skip(struct s_tx *tx, const struct s_tok *t)
{
    int base = tx->nest - (t->kind == K_OBJ || t->kind == K_ARR);
    bool opened = t->kind == K_OBJ || t->kind == K_ARR;
    while (tx->nest > base) {
        bool obj = (tx->in_obj[(tx->nest - 1) / 8] >> ((tx->nest - 1) % 8)) & 1;
        struct s_tok k;
        int more = obj ? s_next_key(tx, opened, &k) : s_next_in(tx, opened, ']');
        if (more < 0)
            return false;
        opened = false;
        if (more == 0)
            continue;
        struct s_tok v;
        if (!s_next(tx, &v))
            return false;
        opened = v.kind == K_OBJ || v.kind == K_ARR;
    }
    return true;
}

/* The whole text is JSON that json_loadb(text, len, 0) takes: an object or an
 * array, then only whitespace. */
static bool s_tx_valid(struct s_tx *tx)
{
    struct s_tok t;
    s_ws(tx);
    if (tx->p == tx->end || (*tx->p != '{' && *tx->p != '['))
        return false;
    if (!s_next(tx, &t) || !s_skip(tx, &t))
        return false;
    s_ws(tx);
    return tx->p == tx->end;
}

static ProtobufCMessage *s_tx_message(struct s_tx *tx, const ProtobufCMessageDescriptor *desc,
                                      const struct s_tok *t, int depth);

/* s_decode_sub on the text: an object, or for a wrapper type the bare value. */
static ProtobufCMessage *s_tx_sub(struct s_tx *tx, const ProtobufCMessageDescriptor *desc,
                                  const struct s_tok *t, int depth)
{
    if (t->kind == K_OBJ || !cm_pbjson_is_wrapper(desc))
        return s_tx_message(tx, desc, t, depth);
    ProtobufCMessage *msg = cm_pb_new(desc);
    const ProtobufCFieldDescriptor *vf = &desc->fields[0];
    if (s_scalar(vf, s_at(msg, vf->offset), t, false, tx->ctx)) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}

/* s_decode_value on the text: the value whose first token is t. */
static int s_tx_value(struct s_tx *tx, const ProtobufCFieldDescriptor *f, void *slot,
                      const struct s_tok *t, bool elem, int depth)
{
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
        return s_scalar(f, slot, t, elem, tx->ctx);
    ProtobufCMessage *sub = s_tx_sub(tx, f->descriptor, t, depth + 1);
    if (!sub)
        return -1;
    *(ProtobufCMessage **)slot = sub;
    return 0;
}

/* A repeated field's array, grown as elements come; msg owns it throughout
 * and counts only decoded elements, so freeing msg frees what was built. */
static int s_tx_repeated(struct s_tx *tx, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                         const struct s_tok *t, int depth)
{
    if (t->kind != K_ARR) {
        s_ctx_fail(tx->ctx, "expected an array");
        return -1;
    }
    size_t size = s_type_size(f->type), cap = 0;
    size_t *count = s_count(msg, f);
    char **elems = s_at(msg, f->offset);
    for (size_t i = 0;; i++) {
        int more = s_next_in(tx, i == 0, ']');
        if (more <= 0)
            return more;
        struct s_tok e;
        if (!s_next(tx, &e))
            return -1;
        if (i == cap) {
            cap = cap ? 2 * cap : 4;
            *elems = cm_realloc(*elems, cap * size);
        }
        memset(*elems + i * size, 0, size);
        size_t mark = s_ctx_push_index(tx->ctx, i);
        int rc = s_tx_value(tx, f, *elems + i * size, &e, true, depth);
        s_ctx_pop(tx->ctx, mark);
        if (rc)
            return -1;
        (*count)++;
    }
}

/* One member: key names the field (checked against seen), the value follows at p. */
static int s_tx_member(struct s_tx *tx, ProtobufCMessage *msg, unsigned char *seen, const char *key,
                       int depth)
{
    size_t mark;
    const ProtobufCFieldDescriptor *f = s_member(msg->descriptor, key, seen, tx->ctx, &mark);
    if (!f)
        return -1;
    struct s_tok t;
    int rc = -1;
    if (!s_next(tx, &t))
        goto out;
    if (t.kind == K_NULL) {
        rc = 0;
    } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        rc = s_tx_repeated(tx, msg, f, &t, depth);
    } else if (!s_oneof_taken(msg, f, tx->ctx) &&
               !s_tx_value(tx, f, s_at(msg, f->offset), &t, false, depth)) {
        s_mark_set(msg, f);
        rc = 0;
    }
out:
    s_ctx_pop(tx->ctx, mark);
    return rc;
}

/* A member as the slow pass sees it: its key and where its value starts. */
struct s_slot {
    char *key;         // owned
    const char *value; // borrowed (the text); NULL once merged into an earlier key
    size_t at;         // place among the members
};

static int s_slot_cmp(const void *a, const void *b)
{
    const struct s_slot *x = *(const struct s_slot *const *)a,
                        *y = *(const struct s_slot *const *)b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* The slow pass over an object (already checked to be good JSON): the members
 * listed first, a repeated key's last value moved to its first place, then
 * decoded in that order, as jansson's tree would hand them over. */
static int s_tx_members_slow(struct s_tx *tx, ProtobufCMessage *msg, unsigned char *seen, int depth)
{
    struct s_slot *m = NULL, **order = NULL;
    size_t n = 0, cap = 0;
    int inner = tx->nest, rc = -1;
    for (;;) {
        struct s_tok key, v;
        int more = s_next_key(tx, n == 0, &key);
        if (more < 0)
            goto out;
        if (more == 0)
            break;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            m = cm_realloc(m, cap * sizeof *m);
        }
        m[n] = (struct s_slot){cm_strdup(key.s), tx->p, n};
        n++;
        if (!s_next(tx, &v) || !s_skip(tx, &v))
            goto out;
    }
    const char *after = tx->p;
    order = cm_malloc((n ? n : 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = &m[i];
    qsort(order, n, sizeof *order, s_slot_cmp);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(order[j]->key, order[i]->key) == 0; j++)
            continue;
        // Equal keys sort by place: order[i] is the first, order[j - 1] the last value.
        order[i]->value = order[j - 1]->value;
        for (size_t k = i + 1; k < j; k++)
            order[k]->value = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!m[i].value)
            continue;
        tx->p = m[i].value;
        tx->nest = inner;
        if (s_tx_member(tx, msg, seen, m[i].key, depth))
            goto out;
    }
    tx->p = after;
    tx->nest = inner - 1;
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(m[i].key);
    free(m);
    free(order);
    return rc;
}

static ProtobufCMessage *s_tx_message(struct s_tx *tx, const ProtobufCMessageDescriptor *desc,
                                      const struct s_tok *t, int depth)
{
    if (depth > CM_PBJSON_MAX_DEPTH) {
        s_ctx_fail(tx->ctx, "nested too deeply");
        return NULL;
    }
    if (t->kind != K_OBJ) {
        s_ctx_fail(tx->ctx, "expected an object");
        return NULL;
    }
    ProtobufCMessage *msg = cm_pb_new(desc);
    struct s_seen seen;
    unsigned char *flags = s_seen_init(&seen, desc);
    int rc = 0;
    if (tx->slow) {
        rc = s_tx_members_slow(tx, msg, flags, depth);
    } else {
        struct s_tok key;
        for (bool first = true;; first = false) {
            int more = s_next_key(tx, first, &key);
            if (more <= 0) {
                rc = more;
                break;
            }
            rc = s_tx_member(tx, msg, flags, key.s, depth);
            if (rc)
                break;
        }
    }
    return s_message_end(msg, &seen, rc);
}

/* One pass of the text: a message, then only whitespace. */
static ProtobufCMessage *s_tx_top(struct s_tx *tx, const ProtobufCMessageDescriptor *desc)
{
    struct s_tok t;
    if (!s_next(tx, &t)) {
        s_ctx_fail(tx->ctx, "expected an object");
        return NULL;
    }
    ProtobufCMessage *msg = s_tx_message(tx, desc, &t, 1);
    if (!msg)
        return NULL;
    s_ws(tx);
    if (tx->p != tx->end) {
        protobuf_c_message_free_unpacked(msg, NULL);
        s_ctx_fail(tx->ctx, "expected an object");
        return NULL;
    }
    return msg;
}

ProtobufCMessage *cm_pbjson_decode_text(const ProtobufCMessageDescriptor *desc, const char *text,
                                        size_t len, const char *prefix, struct cm_pbjson_error *err)
{
    struct s_ctx ctx;
    s_ctx_init(&ctx, err, prefix);
    if (!text)
        text = "";
    struct s_tx tx = {.p = text, .end = text + len, .ctx = &ctx};
    tx.buf = cm_malloc(len + 1);
    ProtobufCMessage *msg = s_tx_top(&tx, desc);
    if (!msg) {
        s_ctx_init(&ctx, err, prefix);
        tx.p = text;
        tx.nest = 0;
        if (s_tx_valid(&tx)) {
            tx.p = text;
            tx.nest = 0;
            tx.slow = true;
            msg = s_tx_top(&tx, desc);
        } else {
            s_ctx_fail(&ctx, "expected an object");
        }
    }
    free(tx.buf);
    return msg;
}

/* ---- Clearing and copying fields ------------------------------------------ */

static void s_free_elems(const ProtobufCFieldDescriptor *f, void *elems, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f->type == PROTOBUF_C_TYPE_STRING)
            free(((char **)elems)[i]);
        else if (f->type == PROTOBUF_C_TYPE_BYTES)
            free(((ProtobufCBinaryData *)elems)[i].data);
        else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            protobuf_c_message_free_unpacked(((ProtobufCMessage **)elems)[i], NULL);
    }
    free(elems);
}

/* Frees what field f owns in msg and resets it to its default; an unselected
 * oneof member is left alone (its slot belongs to the selected one). */
static void s_clear_field(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (!s_selected(msg, f))
        return;
    void *slot = s_at(msg, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        s_free_elems(f, *(void **)slot, *s_count(msg, f));
        *(void **)slot = NULL;
        *s_count(msg, f) = 0;
        return;
    }
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        char *s = *(char **)slot;
        if (s && s != f->default_value)
            free(s);
        *(char **)slot = (char *)(uintptr_t)f->default_value;
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *bd = slot;
        const ProtobufCBinaryData *def = f->default_value;
        if (bd->data && (!def || def->data != bd->data))
            free(bd->data);
        bd->data = NULL;
        bd->len = 0;
        if (def)
            *bd = *def;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = *(ProtobufCMessage **)slot;
        if (sub && (const void *)sub != f->default_value)
            protobuf_c_message_free_unpacked(sub, NULL);
        *(ProtobufCMessage **)slot = NULL;
        break;
    }
    default:
        if (f->default_value)
            memcpy(slot, f->default_value, s_type_size(f->type));
        else
            memset(slot, 0, s_type_size(f->type));
        break;
    }
    if (s_has_flag(f))
        *(protobuf_c_boolean *)s_at(msg, f->quantifier_offset) = 0;
    if (s_is_oneof(f)) {
        memset(slot, 0, s_type_size(f->type));
        *s_case(msg, f) = 0;
    }
}

/* Clears whichever member of f's oneof is selected. */
static void s_clear_oneof(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    uint32_t c = *s_case(msg, f);
    if (c == 0)
        return;
    const ProtobufCFieldDescriptor *g = protobuf_c_message_descriptor_get_field(msg->descriptor, c);
    if (g)
        s_clear_field(msg, g);
    else
        *s_case(msg, f) = 0;
}

/* Deep-copies one value of field type f->type from src to dst (which holds
 * nothing owned); elem for an element of a repeated field. */
static void s_copy_value(const ProtobufCFieldDescriptor *f, void *dst, const void *src, bool elem)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)src;
        if (elem || s_is_oneof(f))
            *(char **)dst = cm_strdup(s ? s : "");
        else if (!s || s == f->default_value)
            *(char **)dst = (char *)(uintptr_t)f->default_value;
        else
            s_store_string(f, dst, s, strlen(s), false);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *s = src;
        ProtobufCBinaryData *d = dst;
        d->len = s->len;
        d->data = NULL;
        if (s->len) {
            d->data = cm_malloc(s->len);
            memcpy(d->data, s->data, s->len);
        }
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        *(ProtobufCMessage **)dst = cm_pb_clone(*(ProtobufCMessage *const *)src);
        break;
    default:
        memcpy(dst, src, s_type_size(f->type));
        break;
    }
}

/* Makes dst's field f a deep copy of src's (src NULL: the default). */
static void s_copy_field(ProtobufCMessage *dst, const ProtobufCMessage *src,
                         const ProtobufCFieldDescriptor *f)
{
    s_clear_field(dst, f);
    if (!src || !s_selected(src, f))
        return;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *s_count(src, f), size = s_type_size(f->type);
        if (n == 0)
            return;
        const char *from = *(char *const *)s_at(src, f->offset);
        char *to = cm_calloc(n, size);
        for (size_t i = 0; i < n; i++)
            s_copy_value(f, to + i * size, from + i * size, true);
        *(void **)s_at(dst, f->offset) = to;
        *s_count(dst, f) = n;
        return;
    }
    if (s_is_oneof(f))
        s_clear_oneof(dst, f);
    // The slot now holds the default, nothing owned: overwrite it.
    s_copy_value(f, s_at(dst, f->offset), s_at(src, f->offset), false);
    if (s_is_oneof(f))
        *s_case(dst, f) = f->id;
    else if (s_has_flag(f))
        *(protobuf_c_boolean *)s_at(dst, f->quantifier_offset) =
            *(const protobuf_c_boolean *)s_at(src, f->quantifier_offset);
}

ProtobufCMessage *cm_pb_new(const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *msg = cm_malloc(desc->sizeof_message);
    protobuf_c_message_init(desc, msg);
    return msg;
}

ProtobufCMessage *cm_pb_clone(const ProtobufCMessage *msg)
{
    if (!msg)
        return NULL;
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    ProtobufCMessage *copy = cm_pb_new(desc);
    for (unsigned i = 0; i < desc->n_fields; i++)
        s_copy_field(copy, msg, &desc->fields[i]);
    if (msg->n_unknown_fields) {
        copy->unknown_fields =
            cm_calloc(msg->n_unknown_fields, sizeof(ProtobufCMessageUnknownField));
        for (unsigned i = 0; i < msg->n_unknown_fields; i++) {
            const ProtobufCMessageUnknownField *u = &msg->unknown_fields[i];
            copy->unknown_fields[i] = *u;
            copy->unknown_fields[i].data = cm_malloc(u->len);
            memcpy(copy->unknown_fields[i].data, u->data, u->len);
        }
        copy->n_unknown_fields = msg->n_unknown_fields;
    }
    return copy;
}

void cm_pb_set_str(char **field, const char *s)
{
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    if (!s || !*s)
        *field = (char *)protobuf_c_empty_string;
    else
        *field = cm_strdup(s);
}

/* ---- Paths -------------------------------------------------------------- */

/* Resolves a dotted path to its chain of fields: every step but the last a
 * singular message field. Returns the number of steps, or 0 when unknown. */
static size_t s_resolve(const ProtobufCMessageDescriptor *desc, const char *path,
                        const ProtobufCFieldDescriptor **chain)
{
    size_t n = 0;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char seg[NAME_MAX_LEN];
        if (len == 0 || len >= sizeof seg || n >= CM_PBJSON_MAX_DEPTH)
            return 0;
        memcpy(seg, p, len);
        seg[len] = '\0';
        const ProtobufCFieldDescriptor *f = cm_pbjson_find_field(desc, seg);
        if (!f)
            return 0;
        chain[n++] = f;
        if (!dot)
            return n;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
            return 0;
        desc = f->descriptor;
        p = dot + 1;
    }
}

static ProtobufCMessage *s_sub(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (!msg || !s_selected(msg, f))
        return NULL;
    return *(ProtobufCMessage **)s_at(msg, f->offset);
}

static void s_apply_one(ProtobufCMessage *dst, const ProtobufCMessage *src,
                        const ProtobufCFieldDescriptor **chain, size_t n)
{
    for (size_t k = 0; k + 1 < n; k++) {
        const ProtobufCFieldDescriptor *f = chain[k];
        const ProtobufCMessage *sub_src = s_sub(src, f);
        ProtobufCMessage *sub_dst = s_sub(dst, f);
        if (!sub_dst) {
            if (!sub_src)
                return; // the leaf is at its default on both sides
            if (s_is_oneof(f))
                s_clear_oneof(dst, f);
            sub_dst = cm_pb_new(f->descriptor);
            *(ProtobufCMessage **)s_at(dst, f->offset) = sub_dst;
            if (s_is_oneof(f))
                *s_case(dst, f) = f->id;
        }
        dst = sub_dst;
        src = sub_src;
    }
    s_copy_field(dst, src, chain[n - 1]);
}

int cm_pb_apply_mask(ProtobufCMessage *dst, const ProtobufCMessage *src, char **paths, size_t n,
                     struct cm_pbjson_error *err)
{
    const ProtobufCFieldDescriptor *chain[CM_PBJSON_MAX_DEPTH];
    if (err) {
        err->field[0] = '\0';
        err->description[0] = '\0';
    }
    for (size_t i = 0; i < n; i++) {
        if (s_resolve(dst->descriptor, paths[i], chain) == 0) {
            if (err) {
                snprintf(err->field, sizeof err->field, "%s", paths[i]);
                snprintf(err->description, sizeof err->description, "unknown field");
            }
            return -1;
        }
    }
    if (dst == src)
        return 0; // copying a field onto itself would free what it copies
    for (size_t i = 0; i < n; i++) {
        size_t steps = s_resolve(dst->descriptor, paths[i], chain);
        s_apply_one(dst, src, chain, steps);
    }
    return 0;
}

int cm_pb_clear_path(ProtobufCMessage *msg, const char *path)
{
    const ProtobufCFieldDescriptor *chain[CM_PBJSON_MAX_DEPTH];
    size_t steps = s_resolve(msg->descriptor, path, chain);
    if (steps == 0)
        return -1;
    for (size_t k = 0; k + 1 < steps; k++) {
        msg = s_sub(msg, chain[k]);
        if (!msg)
            return 0;
    }
    s_clear_field(msg, chain[steps - 1]);
    return 0;
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
    struct s_ctx ctx;
    s_ctx_init(&ctx, err, NULL);
    if (!text)
        text = "";
    const ProtobufCFieldDescriptor *f = cm_pbjson_find_field(msg->descriptor, json_name);
    if (!f) {
        s_ctx_push_name(&ctx, json_name);
        s_ctx_fail(&ctx, "unknown field");
        return -1;
    }
    char camel[NAME_MAX_LEN];
    cm_pbjson_camel(f->name, camel, sizeof camel);
    s_ctx_push_name(&ctx, camel);

    const ProtobufCFieldDescriptor *vf = f;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (!cm_pbjson_is_wrapper(f->descriptor)) {
            s_ctx_fail(&ctx, "cannot be set from text");
            return -1;
        }
        const ProtobufCMessageDescriptor *md = f->descriptor;
        vf = &md->fields[0];
    }
    if (!cm_utf8_valid(text, strlen(text), NULL)) {
        s_ctx_fail(&ctx, "not valid UTF-8");
        return -1;
    }
    if (s_is_oneof(f) && *s_case(msg, f) != 0 && *s_case(msg, f) != f->id) {
        char desc[256];
        s_oneof_conflict(msg->descriptor, f, desc, sizeof desc);
        s_ctx_fail(&ctx, desc);
        return -1;
    }

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

    size_t size = s_type_size(f->type);
    if (repeated) {
        size_t *count = s_count(msg, f);
        char **elems = s_at(msg, f->offset);
        *elems = cm_realloc(*elems, (*count + 1) * size);
        memcpy(*elems + *count * size, &tmp, size);
        (*count)++;
        return 0;
    }
    s_clear_field(msg, f);
    memcpy(s_at(msg, f->offset), &tmp, size);
    if (s_is_oneof(f))
        *s_case(msg, f) = f->id;
    else if (s_has_flag(f))
        *(protobuf_c_boolean *)s_at(msg, f->quantifier_offset) = 1;
    return 0;
}

/* ---- Update masks ------------------------------------------------------- */

struct s_paths {
    char **v; // owned, each owned
    size_t n;
    size_t cap;
};

static void s_paths_add(struct s_paths *p, char *path)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->v = cm_realloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = path;
}

static void s_mask_collect(const ProtobufCMessageDescriptor *desc, json_t *obj, const char *prefix,
                           struct s_paths *out, int depth)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        const ProtobufCFieldDescriptor *f = desc ? cm_pbjson_find_field(desc, key) : NULL;
        char camel[NAME_MAX_LEN];
        const char *name = key;
        if (f) {
            cm_pbjson_camel(f->name, camel, sizeof camel);
            name = camel;
        }
        char *path = prefix ? cm_strfmt("%s.%s", prefix, name) : cm_strdup(name);
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED &&
            json_is_object(val) && json_object_size(val) > 0 && depth < CM_PBJSON_MAX_DEPTH) {
            s_mask_collect(f->descriptor, val, path, out, depth + 1);
            free(path);
        } else {
            s_paths_add(out, path);
        }
    }
}

char **cm_pbjson_mask_paths(const ProtobufCMessageDescriptor *desc, json_t *obj, size_t *n)
{
    struct s_paths out = {NULL, 0, 0};
    if (json_is_object(obj))
        s_mask_collect(desc, obj, NULL, &out, 1);
    *n = out.n;
    return out.v;
}

void cm_pbjson_free_paths(char **paths, size_t n)
{
    if (!paths)
        return;
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* ---- Diff --------------------------------------------------------------- */

static bool s_skipped(const char *const *skip, const char *path)
{
    if (!skip)
        return false;
    for (size_t i = 0; skip[i]; i++) {
        size_t len = strlen(skip[i]);
        if (strncmp(skip[i], path, len) == 0 && (path[len] == '\0' || path[len] == '.'))
            return true;
    }
    return false;
}

/* Compact JSON of a leaf, "" at its default or absent; the caller frees it. */
static char *s_leaf_json(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (!msg || !s_present(msg, f))
        return cm_strdup("");
    json_t *j = s_encode_field(msg, f, 0);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    char *copy = cm_strdup(s ? s : "");
    free(s);
    return copy;
}

static void s_diff(const ProtobufCMessageDescriptor *desc, const ProtobufCMessage *a,
                   const ProtobufCMessage *b, const char *const *skip, cm_pb_diff_fn fn, void *ud,
                   char *path, size_t len, size_t cap, int depth)
{
    char camel[NAME_MAX_LEN];
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        cm_pbjson_camel(f->name, camel, sizeof camel);
        int w = snprintf(path + len, cap - len, "%s%s", len ? "." : "", camel);
        size_t plen = len + (w > 0 ? (size_t)w : 0);
        if (plen >= cap)
            plen = cap - 1;
        if (s_skipped(skip, path))
            continue;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->label != PROTOBUF_C_LABEL_REPEATED &&
            !cm_pbjson_is_wrapper(f->descriptor) && depth < CM_PBJSON_MAX_DEPTH) {
            const ProtobufCMessage *sa = s_sub(a, f), *sb = s_sub(b, f);
            if (sa != sb)
                s_diff(f->descriptor, sa, sb, skip, fn, ud, path, plen, cap, depth + 1);
            path[len] = '\0';
            continue;
        }
        char *ja = s_leaf_json(a, f), *jb = s_leaf_json(b, f);
        if (strcmp(ja, jb) != 0)
            fn(ud, path, ja, jb);
        free(ja);
        free(jb);
        path[len] = '\0';
    }
    path[len] = '\0';
}

void cm_pb_diff(const ProtobufCMessageDescriptor *desc, const ProtobufCMessage *a,
                const ProtobufCMessage *b, const char *const *skip, cm_pb_diff_fn fn, void *ud)
{
    char path[256] = "";
    s_diff(desc, a, b, skip, fn, ud, path, 0, sizeof path, 1);
}
