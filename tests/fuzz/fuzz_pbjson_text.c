/* Differential fuzzing of cm_pbjson_decode_text against the tree decoder.
 * The first byte picks the message type; the rest is the JSON text (not
 * NUL-terminated). Both decoders must agree: the same message, packed byte
 * for byte, or the same error field and description. What decodes must also
 * come back the same through cm_pbjson_encode_text. */
#include "fuzz.h"
#include "cm_pbjson.h"
#include "customers.pb-c.h"
#include "forms.pb-c.h"
#include "history.pb-c.h"
#include "visits.pb-c.h"

static const ProtobufCMessageDescriptor *const s_types[] = {
    &crm__timeline_entry__descriptor,
    &crm__summary__descriptor,
    &crm__customer__descriptor,
    &crm__update_customer_request__descriptor,
    &crm__list_customers_request__descriptor,
    &crm__visit_parameters__descriptor,
    &crm__form__descriptor,
};
#define N_TYPES (sizeof s_types / sizeof s_types[0])

/* The packed bytes of m (malloc'd, length in *len). */
static uint8_t *s_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*len ? *len : 1);
    FUZZ_CHECK(b);
    FUZZ_CHECK(protobuf_c_message_pack(m, b) == *len);
    return b;
}

static void s_same_message(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t na, nb;
    uint8_t *pa = s_pack(a, &na), *pb = s_pack(b, &nb);
    FUZZ_CHECK(na == nb && memcmp(pa, pb, na) == 0);
    free(pa);
    free(pb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *desc = s_types[data[0] % N_TYPES];
    const char *prefix = data[0] & 0x80 ? "body" : NULL;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    json_t *j = json_loadb(text, len, 0, NULL);
    struct cm_pbjson_error e1, e2;
    ProtobufCMessage *tree = cm_pbjson_decode(desc, j, prefix, &e1);
    json_decref(j);
    ProtobufCMessage *direct = cm_pbjson_decode_text(desc, text, len, prefix, &e2);
    if (!tree || !direct) {
        if (tree || direct) {
            fprintf(stderr, "one decoder refused: tree %s: %s, text %s: %s\n",
                    tree ? "-" : e1.field, tree ? "decoded" : e1.description,
                    direct ? "-" : e2.field, direct ? "decoded" : e2.description);
            abort();
        }
        FUZZ_CHECK(strcmp(e1.field, e2.field) == 0);
        FUZZ_CHECK(strcmp(e1.description, e2.description) == 0);
        return 0;
    }
    s_same_message(tree, direct);

    size_t out_len;
    char *out = cm_pbjson_encode_text(direct, 0, NULL, &out_len);
    ProtobufCMessage *back = cm_pbjson_decode_text(desc, out, out_len, NULL, &e2);
    FUZZ_CHECK(back);
    s_same_message(direct, back);
    protobuf_c_message_free_unpacked(back, NULL);
    free(out);
    protobuf_c_message_free_unpacked(tree, NULL);
    protobuf_c_message_free_unpacked(direct, NULL);
    return 0;
}
