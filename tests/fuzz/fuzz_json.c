/* Fuzzes the JSON <-> protobuf mapping with request bodies as the gateway
 * gets them. The first byte picks the message type (and a few options); the
 * rest is the JSON text. What decodes must encode, decode again to the same
 * JSON, clone without differences, and rebuild from its update mask. A last
 * mode feeds query-string style key=value pairs to cm_pbjson_set_text. */
#include "fuzz.h"
#include "cm_pbjson.h"
#include "customers.pb-c.h"

#include <stdbool.h>

static const ProtobufCMessageDescriptor *const s_types[] = {
    &crm__customer__descriptor,
    &crm__update_customer_request__descriptor,
    &crm__list_customers_request__descriptor,
    &crm__create_group_request__descriptor,
    &crm__update_settings_request__descriptor,
    &crm__batch_delete_customers_request__descriptor,
};
#define N_TYPES (sizeof s_types / sizeof s_types[0])

/* Counts differences; every reported path and value must be sane. */
static void s_on_diff(void *ud, const char *path, const char *old_json, const char *new_json)
{
    FUZZ_CHECK(path && path[0]);
    FUZZ_CHECK(old_json && new_json);
    FUZZ_CHECK(strcmp(old_json, new_json) != 0);
    /* Non-empty values are compact JSON. */
    const char *v[2] = {old_json, new_json};
    for (int i = 0; i < 2; i++) {
        if (!v[i][0])
            continue;
        json_error_t je;
        json_t *j = json_loads(v[i], JSON_DECODE_ANY, &je);
        if (!j) {
            fprintf(stderr, "cm_pb_diff gave bad JSON for %s: %s (%s)\n", path, v[i], je.text);
            abort();
        }
        json_decref(j);
    }
    (*(size_t *)ud)++;
}

static size_t s_diff(const ProtobufCMessageDescriptor *desc, const ProtobufCMessage *a,
                     const ProtobufCMessage *b)
{
    size_t n = 0;
    cm_pb_diff(desc, a, b, NULL, s_on_diff, &n);
    return n;
}

/* True when a path goes into a wrapper message ("hasAccount.value"). */
static bool s_wrapper_path(const ProtobufCMessageDescriptor *desc, char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *dot = strchr(paths[i], '.');
        if (!dot)
            continue;
        char *head = fuzz_strndup((const uint8_t *)paths[i], (size_t)(dot - paths[i]));
        const ProtobufCFieldDescriptor *f = cm_pbjson_find_field(desc, head);
        free(head);
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && cm_pbjson_is_wrapper(f->descriptor))
            return true;
    }
    return false;
}

/* encode -> decode -> encode gives the same JSON. */
static void s_json_round_trip(const ProtobufCMessage *m, unsigned flags)
{
    json_t *j1 = cm_pbjson_encode(m, flags);
    FUZZ_CHECK(j1 && json_is_object(j1));
    struct cm_pbjson_error err = {0};
    ProtobufCMessage *back = cm_pbjson_decode(m->descriptor, j1, NULL, &err);
    if (!back) {
        char *text = json_dumps(j1, JSON_COMPACT);
        fprintf(stderr, "cm_pbjson_decode refused cm_pbjson_encode's output %s: %s: %s\n", text,
                err.field, err.description);
        abort();
    }
    json_t *j2 = cm_pbjson_encode(back, flags);
    if (!json_equal(j1, j2)) {
        char *t1 = json_dumps(j1, JSON_COMPACT), *t2 = json_dumps(j2, JSON_COMPACT);
        fprintf(stderr, "JSON round trip differs:\n  %s\n  %s\n", t1, t2);
        abort();
    }
    FUZZ_CHECK(s_diff(m->descriptor, m, back) == 0);
    json_decref(j2);
    protobuf_c_message_free_unpacked(back, NULL);
    json_decref(j1);
}

static void s_json(const ProtobufCMessageDescriptor *desc, unsigned opts, const uint8_t *data,
                   size_t size)
{
    json_error_t je;
    json_t *json = json_loadb((const char *)data, size, opts & 1 ? JSON_REJECT_DUPLICATES : 0, &je);
    if (!json)
        return;

    size_t n_paths = 0;
    char **paths = cm_pbjson_mask_paths(desc, json, &n_paths);
    FUZZ_CHECK((paths == NULL) == (n_paths == 0));
    for (size_t i = 0; i < n_paths; i++)
        FUZZ_CHECK(paths[i] != NULL);

    struct cm_pbjson_error err = {{0}};
    ProtobufCMessage *m = cm_pbjson_decode(desc, json, opts & 2 ? "body" : NULL, &err);
    if (!m) {
        /* A refusal says why, NUL-terminated within its buffers. */
        FUZZ_CHECK(memchr(err.field, '\0', sizeof err.field));
        FUZZ_CHECK(memchr(err.description, '\0', sizeof err.description));
        FUZZ_CHECK(err.description[0]);
        goto out;
    }
    FUZZ_CHECK(m->descriptor == desc);
    FUZZ_CHECK(json_is_object(json));
    FUZZ_CHECK(protobuf_c_message_get_packed_size(m) < (size_t)1 << 30);

    s_json_round_trip(m, 0);
    s_json_round_trip(m, CM_PBJSON_OMIT_DEFAULTS);

    /* A clone equals the original; against an empty message the diff sees
     * exactly the fields that are not at their default. */
    ProtobufCMessage *copy = cm_pb_clone(m);
    ProtobufCMessage *empty = cm_pb_new(desc);
    FUZZ_CHECK(s_diff(desc, m, copy) == 0);
    size_t changed = s_diff(desc, empty, m);
    FUZZ_CHECK(s_diff(desc, NULL, m) == changed);
    FUZZ_CHECK(s_diff(desc, m, NULL) == changed);

    /* The update mask of the body, applied to an empty message, rebuilds m:
     * what PATCH does with a stored customer. */
    if (n_paths) {
        struct cm_pbjson_error merr = {{0}};
        if (cm_pb_apply_mask(empty, m, paths, n_paths, &merr) == 0) {
            FUZZ_CHECK(s_diff(desc, empty, m) == 0);
            /* Clearing every path again leaves an empty message. */
            for (size_t i = 0; i < n_paths; i++)
                FUZZ_CHECK(cm_pb_clear_path(empty, paths[i]) == 0);
            /* Except that a wrapper (a leaf to cm_pb_diff) stays set when
             * only its "value" was cleared. */
            if (!s_wrapper_path(desc, paths, n_paths))
                FUZZ_CHECK(s_diff(desc, empty, NULL) == 0);
        } else {
            FUZZ_CHECK(merr.description[0]);
        }
    }
    protobuf_c_message_free_unpacked(empty, NULL);
    protobuf_c_message_free_unpacked(copy, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
out:
    cm_pbjson_free_paths(paths, n_paths);
    json_decref(json);
}

/* Packs m into a new buffer; the caller frees it. */
static uint8_t *s_pack(const ProtobufCMessage *m, size_t *len)
{
    size_t want = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(want ? want : 1);
    FUZZ_CHECK(buf);
    *len = protobuf_c_message_pack(m, buf);
    FUZZ_CHECK(*len == want);
    return buf;
}

/* Query-string style: "key=value" pairs separated by '&' (not decoded; the
 * gateway percent-decodes first, which this input need not imitate). */
static void s_set_text(const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = cm_pb_new(&crm__list_customers_request__descriptor);
    while (size) {
        char *pair = fuzz_take(&data, &size, '&');
        char *eq = strchr(pair, '=');
        const char *value = "";
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        size_t before_len = 0, after_len = 0;
        uint8_t *before = s_pack(m, &before_len);
        struct cm_pbjson_error err = {{0}};
        if (cm_pbjson_set_text(m, pair, value, &err)) {
            /* Refused: the message is as it was. */
            uint8_t *after = s_pack(m, &after_len);
            FUZZ_CHECK(before_len == after_len &&
                       (before_len == 0 || memcmp(before, after, before_len) == 0));
            FUZZ_CHECK(err.description[0]);
            free(after);
        }
        free(before);
        free(pair);
    }
    /* Whatever was set encodes and survives the JSON round trip. */
    s_json_round_trip(m, 0);
    s_json_round_trip(m, CM_PBJSON_OMIT_DEFAULTS);
    protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned pick = data[0] % (N_TYPES + 1);
    unsigned opts = (unsigned)(data[0] / (N_TYPES + 1));
    data++;
    size--;
    if (pick == N_TYPES)
        s_set_text(data, size);
    else
        s_json(s_types[pick], opts, data, size);
    return 0;
}
