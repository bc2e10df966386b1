/* Clearing, copying and cloning fields of dynamic messages, field paths
 * (apply a mask, clear a path) and the diff of two messages. See cm_pbjson.h. */
#include "cm_pbjson_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
void cm_pbjson_copy_clear_field_(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    if (!cm_pbjson_selected_(msg, f))
        return;
    void *slot = cm_pbjson_at_(msg, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        s_free_elems(f, *(void **)slot, *cm_pbjson_count_(msg, f));
        *(void **)slot = NULL;
        *cm_pbjson_count_(msg, f) = 0;
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
            memcpy(slot, f->default_value, cm_pbjson_type_size_(f->type));
        else
            memset(slot, 0, cm_pbjson_type_size_(f->type));
        break;
    }
    if (cm_pbjson_has_flag_(f))
        *(protobuf_c_boolean *)cm_pbjson_at_(msg, f->quantifier_offset) = 0;
    if (cm_pbjson_is_oneof_(f)) {
        memset(slot, 0, cm_pbjson_type_size_(f->type));
        *cm_pbjson_case_(msg, f) = 0;
    }
}

/* Clears whichever member of f's oneof is selected. */
static void s_clear_oneof(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    uint32_t c = *cm_pbjson_case_(msg, f);
    if (c == 0)
        return;
    const ProtobufCFieldDescriptor *g = protobuf_c_message_descriptor_get_field(msg->descriptor, c);
    if (g)
        cm_pbjson_copy_clear_field_(msg, g);
    else
        *cm_pbjson_case_(msg, f) = 0;
}

/* Deep-copies one value of field type f->type from src to dst (which holds
 * nothing owned); elem for an element of a repeated field. */
static void s_copy_value(const ProtobufCFieldDescriptor *f, void *dst, const void *src, bool elem)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)src;
        if (elem || cm_pbjson_is_oneof_(f))
            *(char **)dst = cm_strdup(s ? s : "");
        else if (!s || s == f->default_value)
            *(char **)dst = (char *)(uintptr_t)f->default_value;
        else
            cm_pbjson_decode_store_string_(f, dst, s, strlen(s), false);
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
        memcpy(dst, src, cm_pbjson_type_size_(f->type));
        break;
    }
}

/* Makes dst's field f a deep copy of src's (src NULL: the default). */
static void s_copy_field(ProtobufCMessage *dst, const ProtobufCMessage *src,
                         const ProtobufCFieldDescriptor *f)
{
    cm_pbjson_copy_clear_field_(dst, f);
    if (!src || !cm_pbjson_selected_(src, f))
        return;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *cm_pbjson_count_(src, f), size = cm_pbjson_type_size_(f->type);
        if (n == 0)
            return;
        const char *from = *(char *const *)cm_pbjson_at_(src, f->offset);
        char *to = cm_calloc(n, size);
        for (size_t i = 0; i < n; i++)
            s_copy_value(f, to + i * size, from + i * size, true);
        *(void **)cm_pbjson_at_(dst, f->offset) = to;
        *cm_pbjson_count_(dst, f) = n;
        return;
    }
    if (cm_pbjson_is_oneof_(f))
        s_clear_oneof(dst, f);
    // The slot now holds the default, nothing owned: overwrite it.
    s_copy_value(f, cm_pbjson_at_(dst, f->offset), cm_pbjson_at_(src, f->offset), false);
    if (cm_pbjson_is_oneof_(f))
        *cm_pbjson_case_(dst, f) = f->id;
    else if (cm_pbjson_has_flag_(f))
        *(protobuf_c_boolean *)cm_pbjson_at_(dst, f->quantifier_offset) =
            *(const protobuf_c_boolean *)cm_pbjson_at_(src, f->quantifier_offset);
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
    if (!msg || !cm_pbjson_selected_(msg, f))
        return NULL;
    return *(ProtobufCMessage **)cm_pbjson_at_(msg, f->offset);
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
            if (cm_pbjson_is_oneof_(f))
                s_clear_oneof(dst, f);
            sub_dst = cm_pb_new(f->descriptor);
            *(ProtobufCMessage **)cm_pbjson_at_(dst, f->offset) = sub_dst;
            if (cm_pbjson_is_oneof_(f))
                *cm_pbjson_case_(dst, f) = f->id;
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
    cm_pbjson_copy_clear_field_(msg, chain[steps - 1]);
    return 0;
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
    if (!msg || !cm_pbjson_present_(msg, f))
        return cm_strdup("");
    json_t *j = cm_pbjson_encode_field_(msg, f, 0);
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
