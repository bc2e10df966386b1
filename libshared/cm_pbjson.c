/* JSON <-> protobuf-c by walking the message descriptors (proto3 JSON
 * mapping): the descriptor helpers, JSON names, enums and update masks the
 * other cm_pbjson_*.c files build on. See cm_pbjson.h and cm_pbjson_impl.h. */
#include "cm_pbjson_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Descriptor helpers ------------------------------------------------- */

bool cm_pbjson_is_wrapper(const ProtobufCMessageDescriptor *desc)
{
    if (!desc || desc->n_fields != 1)
        return false;
    const ProtobufCFieldDescriptor *f = &desc->fields[0];
    return f->label != PROTOBUF_C_LABEL_REPEATED && f->type != PROTOBUF_C_TYPE_MESSAGE &&
           !cm_pbjson_is_oneof_(f) && strcmp(f->name, "value") == 0;
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
const ProtobufCEnumValue *cm_pbjson_enum_by_name_(const ProtobufCEnumDescriptor *desc,
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
void cm_pbjson_enum_expected_(const ProtobufCEnumDescriptor *desc, char *out, size_t size)
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
