/* Fuzzes what arrives from the bus: the envelope frames (crm.RequestHeader,
 * crm.ReplyHeader, crm.Event) and the request and response bodies of every
 * customers method. The first byte picks the type, the rest is the protobuf.
 * Whatever decodes must pack again to the size it announces, decode from its
 * own packing and pack to the same bytes; its JSON must decode back to a
 * message whose JSON is the same. */
#include "fuzz.h"
#include "cm_pbjson.h"
#include "envelope.pb-c.h"
#include "customers.pb-c.h"

#include <stdbool.h>

/* Packs m into a new buffer (*len bytes); the caller frees it. */
static uint8_t *s_pack(const ProtobufCMessage *m, size_t *len)
{
    size_t want = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(want ? want : 1);
    FUZZ_CHECK(buf);
    *len = protobuf_c_message_pack(m, buf);
    FUZZ_CHECK(*len == want);

    /* The streaming packer writes the same bytes. */
    uint8_t start[16];
    ProtobufCBufferSimple simple = PROTOBUF_C_BUFFER_SIMPLE_INIT(start);
    size_t n = protobuf_c_message_pack_to_buffer(m, &simple.base);
    FUZZ_CHECK(n == want && simple.len == want);
    FUZZ_CHECK(want == 0 || memcmp(simple.data, buf, want) == 0);
    PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&simple);
    return buf;
}

/* What a decoded message may hold that its own encodings cannot carry. */
struct s_oddities {
    bool tag0_unknown; // protobuf-c 1.4.1 keeps a field number 0 spelled as the two-byte varint
                       // 80 00 as an unknown field, packs it as 00 and then refuses that
    bool open_enum;    // an enum number the enum does not name: cm_pbjson_encode writes the
                       // number, cm_pbjson_decode refuses it
};

static void s_scan(const ProtobufCMessage *m, struct s_oddities *odd)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            odd->tag0_unknown = true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *at = (const char *)m + f->offset;
        size_t n = 1;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)m + f->quantifier_offset);
            at = *(const char *const *)at;
        }
        for (size_t k = 0; k < n; k++) {
            if (f->type == PROTOBUF_C_TYPE_ENUM) {
                int v = ((const int *)at)[k];
                if (!protobuf_c_enum_descriptor_get_value(f->descriptor, v))
                    odd->open_enum = true;
            } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                const ProtobufCMessage *sub = ((const ProtobufCMessage *const *)at)[k];
                if (sub)
                    s_scan(sub, odd);
            }
        }
    }
}

/* Binary round trip: pack, unpack the packing, pack again, same bytes. */
static void s_round_trip(const ProtobufCMessage *m)
{
    size_t len1 = 0, len2 = 0;
    uint8_t *p1 = s_pack(m, &len1);
    ProtobufCMessage *m2 = protobuf_c_message_unpack(m->descriptor, NULL, len1, p1);
    if (!m2) {
        struct s_oddities odd = {0};
        s_scan(m, &odd);
        FUZZ_CHECK(odd.tag0_unknown); // the library's quirk, not ours
        free(p1);
        return;
    }
    uint8_t *p2 = s_pack(m2, &len2);
    FUZZ_CHECK(len1 == len2 && (len1 == 0 || memcmp(p1, p2, len1) == 0));
    protobuf_c_message_free_unpacked(m2, NULL);
    free(p1);
    free(p2);
}

/* JSON round trip, as the gateway and crmctl do with replies and events:
 * encode, decode that JSON, encode again, same JSON. */
static void s_json_round_trip(const ProtobufCMessage *m, unsigned flags)
{
    json_t *j1 = cm_pbjson_encode(m, flags);
    FUZZ_CHECK(j1 && json_is_object(j1));
    char *text = json_dumps(j1, JSON_COMPACT);
    FUZZ_CHECK(text);
    struct cm_pbjson_error err = {0};
    ProtobufCMessage *back = cm_pbjson_decode(m->descriptor, j1, NULL, &err);
    if (!back) {
        fprintf(stderr, "cm_pbjson_decode refused cm_pbjson_encode's output %s: %s: %s\n", text,
                err.field, err.description);
        abort();
    }
    json_t *j2 = cm_pbjson_encode(back, flags);
    if (!json_equal(j1, j2)) {
        char *text2 = json_dumps(j2, JSON_COMPACT);
        fprintf(stderr, "JSON round trip differs:\n  %s\n  %s\n", text, text2);
        abort();
    }
    /* The re-decoded message packs and unpacks cleanly too. */
    s_round_trip(back);
    json_decref(j2);
    protobuf_c_message_free_unpacked(back, NULL);
    free(text);
    json_decref(j1);
}

/* Every field of a decoded message can be encoded on its own. */
static void s_fields(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        json_t *v = cm_pbjson_encode_field(m, &d->fields[i]);
        FUZZ_CHECK(v);
        json_decref(v);
    }
}

static void s_check(ProtobufCMessage *m)
{
    struct s_oddities odd = {0};
    s_scan(m, &odd);
    s_round_trip(m);
    if (odd.open_enum) {
        /* Encoding must still work; decoding the number back is refused by design. */
        json_t *j = cm_pbjson_encode(m, 0);
        FUZZ_CHECK(j);
        json_decref(j);
    } else {
        s_json_round_trip(m, 0);
        s_json_round_trip(m, CM_PBJSON_OMIT_DEFAULTS);
    }
    s_fields(m);

    /* A deep copy packs to the same bytes and differs in nothing. */
    ProtobufCMessage *copy = cm_pb_clone(m);
    size_t l1 = 0, l2 = 0;
    uint8_t *p1 = s_pack(m, &l1), *p2 = s_pack(copy, &l2);
    FUZZ_CHECK(l1 == l2 && (l1 == 0 || memcmp(p1, p2, l1) == 0));
    free(p1);
    free(p2);
    protobuf_c_message_free_unpacked(copy, NULL);
}

/* The typed entry points for the three envelope messages, then the generic
 * unpack for each customers request and response type. */
static void s_envelope(unsigned which, const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = NULL;
    switch (which) {
    case 0: {
        Crm__RequestHeader *h = crm__request_header__unpack(NULL, size, data);
        if (h)
            FUZZ_CHECK(crm__request_header__get_packed_size(h) ==
                       protobuf_c_message_get_packed_size(&h->base));
        m = h ? &h->base : NULL;
        break;
    }
    case 1: {
        Crm__ReplyHeader *h = crm__reply_header__unpack(NULL, size, data);
        if (h)
            FUZZ_CHECK(crm__reply_header__get_packed_size(h) ==
                       protobuf_c_message_get_packed_size(&h->base));
        m = h ? &h->base : NULL;
        break;
    }
    default: {
        Crm__Event *e = crm__event__unpack(NULL, size, data);
        if (e) {
            FUZZ_CHECK(crm__event__get_packed_size(e) ==
                       protobuf_c_message_get_packed_size(&e->base));
            /* A customer.* payload is a crm.CustomerEvent: subscribers decode it. */
            Crm__CustomerEvent *ce =
                crm__customer_event__unpack(NULL, e->payload.len, e->payload.data);
            if (ce) {
                s_check(&ce->base);
                crm__customer_event__free_unpacked(ce, NULL);
            }
        }
        m = e ? &e->base : NULL;
        break;
    }
    }
    if (m) {
        s_check(m);
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const ProtobufCServiceDescriptor *svc = &crm__customers__descriptor;
    unsigned n_types = 3 + 2 * svc->n_methods;
    unsigned pick = data[0] % n_types;
    data++;
    size--;
    if (pick < 3) {
        s_envelope(pick, data, size);
        return 0;
    }
    const ProtobufCMethodDescriptor *method = &svc->methods[(pick - 3) / 2];
    const ProtobufCMessageDescriptor *desc = (pick - 3) % 2 ? method->output : method->input;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, size, data);
    if (m) {
        FUZZ_CHECK(m->descriptor == desc);
        s_check(m);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return 0;
}
