/* What the cm_pbjson_*.c files share, for them alone (callers use
 * cm_pbjson.h): the descriptor helpers, the decoding context and token both
 * decoders use, and the few functions one file calls in another. Names end
 * in "_" to show they are internal and carry the file that defines them
 * (cm_pbjson_decode_*_ is in cm_pbjson_decode.c; cm_pbjson_*_ otherwise in
 * cm_pbjson.c or here). The small helpers on every field's path are static
 * inline here, so they cost no call.
 *
 *   cm_pbjson.c         descriptor helpers, names, enums, mask paths
 *   cm_pbjson_encode.c  encoding to a jansson tree and straight to text
 *   cm_pbjson_decode.c  value conversions both decoders share, the jansson
 *                       tree decoder, text (URL) values
 *   cm_pbjson_text.c    decoding straight from the text
 *   cm_pbjson_copy.c    clearing, copying, cloning, paths, masks applied, diff */
#ifndef CM_PBJSON_IMPL_H
#define CM_PBJSON_IMPL_H

#include "cm_pbjson.h"

#include <stdint.h>
#include <string.h>

#include "cm_util.h"

// Longest field or enum name handled; longer ones are truncated (and so never match).
#define NAME_MAX_LEN 128

/* ---- Descriptor helpers (cm_pbjson.c) ------------------------------------ */

static inline void *cm_pbjson_at_(const ProtobufCMessage *msg, unsigned offset)
{
    // Messages are reached through const pointers for reading; writers own them.
    return (char *)(uintptr_t)msg + offset;
}

static inline bool cm_pbjson_is_oneof_(const ProtobufCFieldDescriptor *f)
{
    return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

static inline uint32_t *cm_pbjson_case_(const ProtobufCMessage *msg,
                                        const ProtobufCFieldDescriptor *f)
{
    return cm_pbjson_at_(msg, f->quantifier_offset);
}

/* proto2 optional scalars carry a has_ flag; strings and messages use NULL. */
static inline bool cm_pbjson_has_flag_(const ProtobufCFieldDescriptor *f)
{
    return f->label == PROTOBUF_C_LABEL_OPTIONAL && !cm_pbjson_is_oneof_(f) &&
           f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE;
}

static inline size_t *cm_pbjson_count_(const ProtobufCMessage *msg,
                                       const ProtobufCFieldDescriptor *f)
{
    return cm_pbjson_at_(msg, f->quantifier_offset);
}

/* The member's slot is in use: always, except for unselected oneof members. */
static inline bool cm_pbjson_selected_(const ProtobufCMessage *msg,
                                       const ProtobufCFieldDescriptor *f)
{
    return !cm_pbjson_is_oneof_(f) || *cm_pbjson_case_(msg, f) == f->id;
}

/* Size of one value in a message or a repeated array (protobuf-c's layout). */
static inline size_t cm_pbjson_type_size_(ProtobufCType type)
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

/* True when the field holds something other than its default (or, for
 * presence-tracking fields, is set at all). */
static inline bool cm_pbjson_present_(const ProtobufCMessage *msg,
                                      const ProtobufCFieldDescriptor *f)
{
    if (cm_pbjson_is_oneof_(f))
        return *cm_pbjson_case_(msg, f) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *cm_pbjson_count_(msg, f) > 0;
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    if (cm_pbjson_has_flag_(f))
        return *(protobuf_c_boolean *)cm_pbjson_at_(msg, f->quantifier_offset) != 0;
    const void *p = cm_pbjson_at_(msg, f->offset);
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

/* Looks up an enum value by stripped or full name; NULL when none. */
const ProtobufCEnumValue *cm_pbjson_enum_by_name_(const ProtobufCEnumDescriptor *desc,
                                                  const char *name);

/* Writes "not a valid value; expected one of FEMALE, MALE, OTHER, UNSPECIFIED"
 * for desc into out (cut with ", ..." when it does not fit). */
void cm_pbjson_enum_expected_(const ProtobufCEnumDescriptor *desc, char *out, size_t size);

/* ---- Decoding (cm_pbjson_decode.c) --------------------------------------- */

struct cm_pbjson_ctx {
    struct cm_pbjson_error *err; // borrowed (caller), may be NULL
    char path[256];              // where we are, e.g. "customer.addresses[1]"
    size_t len;
    bool failed;
};

/* One JSON value as both decoders see it: the text decoder reads it off the
 * text, the tree decoder takes it from a json_t. Objects and arrays are only
 * their kind here; each decoder walks into them its own way. */
enum cm_pbjson_kind { K_NULL, K_TRUE, K_FALSE, K_INT, K_REAL, K_STR, K_OBJ, K_ARR };

struct cm_pbjson_tok {
    enum cm_pbjson_kind kind;
    const char *s; // K_STR: the string, NUL-terminated; borrowed (the text's scratch or the json_t)
    size_t len;    // K_STR: its length in bytes (it may hold NULs only from a built tree)
    json_int_t i;  // K_INT
    double d;      // K_INT and K_REAL: the number as a double
};

/* Which fields of a message were given: a small array on the stack for most. */
struct cm_pbjson_seen {
    unsigned char small[64];
    unsigned char *flags; // small, or owned when the message has more fields
};

/* Starts ctx at path prefix (may be NULL) and empties err (may be NULL). */
void cm_pbjson_decode_ctx_init_(struct cm_pbjson_ctx *ctx, struct cm_pbjson_error *err,
                                const char *prefix);

/* Records the first failure: the path where it happened and description. */
void cm_pbjson_decode_ctx_fail_(struct cm_pbjson_ctx *ctx, const char *description);

/* Appends n bytes of text to the path, cut where the path is full. */
static inline void cm_pbjson_decode_ctx_append_(struct cm_pbjson_ctx *ctx, const char *text,
                                                size_t n)
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
static inline size_t cm_pbjson_decode_ctx_push_name_(struct cm_pbjson_ctx *ctx, const char *name)
{
    size_t mark = ctx->len;
    if (ctx->len)
        cm_pbjson_decode_ctx_append_(ctx, ".", 1);
    cm_pbjson_decode_ctx_append_(ctx, name, strlen(name));
    return mark;
}

static inline size_t cm_pbjson_decode_ctx_push_index_(struct cm_pbjson_ctx *ctx, size_t i)
{
    size_t mark = ctx->len;
    char digits[24], *d = digits + sizeof digits;
    *--d = ']';
    do {
        *--d = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    *--d = '[';
    cm_pbjson_decode_ctx_append_(ctx, d, (size_t)(digits + sizeof digits - d));
    return mark;
}

static inline void cm_pbjson_decode_ctx_pop_(struct cm_pbjson_ctx *ctx, size_t mark)
{
    ctx->len = mark;
    ctx->path[mark] = '\0';
}

/* After a singular value of f was stored: marks it set. */
static inline void cm_pbjson_decode_mark_set_(ProtobufCMessage *msg,
                                              const ProtobufCFieldDescriptor *f)
{
    if (cm_pbjson_is_oneof_(f))
        *cm_pbjson_case_(msg, f) = f->id;
    else if (cm_pbjson_has_flag_(f))
        *(protobuf_c_boolean *)cm_pbjson_at_(msg, f->quantifier_offset) = 1;
}

static inline unsigned char *cm_pbjson_decode_seen_init_(struct cm_pbjson_seen *s,
                                                         const ProtobufCMessageDescriptor *desc)
{
    if (desc->n_fields > sizeof s->small) {
        s->flags = cm_calloc(desc->n_fields, 1);
    } else {
        memset(s->small, 0, sizeof s->small);
        s->flags = s->small;
    }
    return s->flags;
}

static inline void cm_pbjson_decode_seen_done_(struct cm_pbjson_seen *s)
{
    if (s->flags != s->small)
        free(s->flags);
    s->flags = NULL;
}

/* Stores a malloc'd copy of s (len bytes) in slot, or protobuf_c_empty_string
 * where the field allows sharing it (see cm_pbjson_decode.c). */
void cm_pbjson_decode_store_string_(const ProtobufCFieldDescriptor *f, void *slot, const char *s,
                                    size_t len, bool elem);

/* Decodes token t as one value of field f (an element when elem) of any type
 * but a message into slot, which holds the default. Returns 0, or -1 with ctx
 * failed and the slot left at the default. Both decoders come here, so they
 * agree on every scalar. */
int cm_pbjson_decode_scalar_(const ProtobufCFieldDescriptor *f, void *slot,
                             const struct cm_pbjson_tok *t, bool elem, struct cm_pbjson_ctx *ctx);

/* Fails ctx naming the members of f's oneof ("only one of ... may be set"). */
void cm_pbjson_decode_oneof_fail_(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                                  struct cm_pbjson_ctx *ctx);

/* Before a singular value of f: -1 with ctx failed when another member of
 * f's oneof is set, else 0. */
static inline int cm_pbjson_decode_oneof_taken_(const ProtobufCMessage *msg,
                                                const ProtobufCFieldDescriptor *f,
                                                struct cm_pbjson_ctx *ctx)
{
    if (cm_pbjson_is_oneof_(f) && *cm_pbjson_case_(msg, f) != 0 &&
        *cm_pbjson_case_(msg, f) != f->id) {
        cm_pbjson_decode_oneof_fail_(msg, f, ctx);
        return -1;
    }
    return 0;
}

/* The field an object's key names, with its path pushed onto ctx (pop back to
 * *mark). NULL with ctx failed (and the path as it was) for a key desc does
 * not know or a field given before (seen, one flag per field, by either name). */
const ProtobufCFieldDescriptor *cm_pbjson_decode_member_(const ProtobufCMessageDescriptor *desc,
                                                         const char *key, unsigned char *seen,
                                                         struct cm_pbjson_ctx *ctx, size_t *mark);

/* The end of a message's members: ends seen and returns msg, or NULL (msg
 * freed) when rc is not 0. */
static inline ProtobufCMessage *cm_pbjson_decode_message_end_(ProtobufCMessage *msg,
                                                              struct cm_pbjson_seen *seen, int rc)
{
    cm_pbjson_decode_seen_done_(seen);
    if (rc) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return NULL;
    }
    return msg;
}

/* ---- Encoding (cm_pbjson_encode.c) --------------------------------------- */

/* Field f of msg as a new JSON value (the caller owns it): null when it is an
 * unselected oneof member or an unset field with presence. */
json_t *cm_pbjson_encode_field_(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
                                unsigned flags);

/* ---- Clearing and copying (cm_pbjson_copy.c) ----------------------------- */

/* Frees what field f owns in msg and resets it to its default; an unselected
 * oneof member is left alone (its slot belongs to the selected one). */
void cm_pbjson_copy_clear_field_(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f);

#endif
