/* Unit tests for cm_pbjson: JSON <-> protobuf for every field kind, the errors
 * a client sees, update masks, diffs and text values, on the test messages of
 * tests/unit/proto/pbtest.proto and the real crm.Customer family. */
#include "cm_pbjson.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "customers.pb-c.h"
#include "pbtest.pb-c.h"
#include "unit.h"

static json_t *s_load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s: %s\n", text, jerr.text);
        abort();
    }
    return j;
}

static ProtobufCMessage *s_decode_ok(const ProtobufCMessageDescriptor *desc, const char *text)
{
    json_t *j = s_load(text);
    struct cm_pbjson_error err;
    ProtobufCMessage *m = cm_pbjson_decode(desc, j, NULL, &err);
    json_decref(j);
    if (!m) {
        fprintf(stderr, "decode of %s failed: %s: %s\n", text, err.field, err.description);
        abort();
    }
    return m;
}

/* The JSON member `key` of obj dumped compactly, for comparing against text. */
static char *s_member_text(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return strdup("(missing)");
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

#define CHECK_MEMBER(obj, key, want)                                                               \
    do {                                                                                           \
        char *t_ = s_member_text(obj, key);                                                        \
        CHECK_STR(t_, want);                                                                       \
        free(t_);                                                                                  \
    } while (0)

static void s_expect_error(const ProtobufCMessageDescriptor *desc, json_t *j, const char *prefix,
                           const char *field, const char *description, int line)
{
    struct cm_pbjson_error err;
    memset(&err, 'x', sizeof err);
    ProtobufCMessage *m = cm_pbjson_decode(desc, j, prefix, &err);
    if (m) {
        fprintf(stderr, "%s:%d: decode succeeded, expected %s: %s\n", __FILE__, line, field,
                description);
        abort();
    }
    if (strcmp(err.field, field) != 0 || strcmp(err.description, description) != 0) {
        fprintf(stderr, "%s:%d: got error \"%s\": \"%s\", expected \"%s\": \"%s\"\n", __FILE__,
                line, err.field, err.description, field, description);
        abort();
    }
}

#define EXPECT_ERROR(desc, text, prefix, field, description)                                       \
    do {                                                                                           \
        json_t *j_ = s_load(text);                                                                 \
        s_expect_error(desc, j_, prefix, field, description, __LINE__);                            \
        json_decref(j_);                                                                           \
    } while (0)

/* ---- Names -------------------------------------------------------------- */

static void test_names(void)
{
    char buf[64];
    cm_pbjson_camel("postal_code", buf, sizeof buf);
    CHECK_STR(buf, "postalCode");
    cm_pbjson_camel("line1", buf, sizeof buf);
    CHECK_STR(buf, "line1");
    cm_pbjson_camel("vat_number", buf, sizeof buf);
    CHECK_STR(buf, "vatNumber");
    cm_pbjson_camel("f_int32", buf, sizeof buf);
    CHECK_STR(buf, "fInt32");
    cm_pbjson_camel("external_ids", buf, 6);
    CHECK_STR(buf, "exter");

    const ProtobufCMessageDescriptor *cust = &crm__customer__descriptor;
    CHECK(cm_pbjson_find_field(cust, "firstName") == cm_pbjson_find_field(cust, "first_name"));
    CHECK_STR(cm_pbjson_find_field(cust, "firstName")->name, "first_name");
    CHECK_STR(cm_pbjson_find_field(cust, "externalIds")->name, "external_ids");
    CHECK(cm_pbjson_find_field(cust, "FirstName") == NULL);
    CHECK(cm_pbjson_find_field(cust, "first") == NULL);
    CHECK(cm_pbjson_find_field(cust, "") == NULL);

    CHECK_STR(
        cm_pbjson_enum_name(&crm__gender__descriptor, CRM__GENDER__GENDER_FEMALE, buf, sizeof buf),
        "FEMALE");
    CHECK_STR(cm_pbjson_enum_name(&crm__address_kind__descriptor,
                                  CRM__ADDRESS_KIND__ADDRESS_KIND_BILLING, buf, sizeof buf),
              "BILLING");
    CHECK_STR(cm_pbjson_enum_name(&crm__account_status__descriptor,
                                  CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_NONE, buf, sizeof buf),
              "NONE");
    CHECK_STR(cm_pbjson_enum_name(&crmtest__color__descriptor, CRMTEST__COLOR__COLOR_DARK_BLUE, buf,
                                  sizeof buf),
              "DARK_BLUE");
    CHECK_STR(
        cm_pbjson_enum_name(&crmtest__color__descriptor, CRMTEST__COLOR__GREEN, buf, sizeof buf),
        "GREEN");
    CHECK(cm_pbjson_enum_name(&crm__gender__descriptor, 99, buf, sizeof buf) == NULL);

    CHECK(cm_pbjson_is_wrapper(&crm__bool_value__descriptor));
    CHECK(cm_pbjson_is_wrapper(&crmtest__int32_value__descriptor));
    CHECK(!cm_pbjson_is_wrapper(&crm__company__descriptor));
    CHECK(!cm_pbjson_is_wrapper(&crm__account__descriptor)); // one field, not named value
    printf("names: OK\n");
}

/* ---- Every field type ---------------------------------------------------- */

/* A message with every field set, on the stack (not to be freed). */
struct all_fixture {
    Crmtest__AllTypes m;
    Crmtest__Inner inner, child, rin[2];
    Crmtest__Inner *children[1], *rinp[2];
    Crmtest__Int32Value wrap, rw[2];
    Crmtest__Int32Value *rwp[2];
    Crm__Principal principal;
    int32_t r_int32[2];
    int64_t r_int64[2];
    uint32_t r_uint32[2];
    uint64_t r_uint64[2];
    int32_t r_sint32[2];
    int64_t r_sint64[2];
    uint32_t r_fixed32[2];
    uint64_t r_fixed64[2];
    int32_t r_sfixed32[2];
    int64_t r_sfixed64[2];
    float r_float[3];
    double r_double[2];
    protobuf_c_boolean r_bool[2];
    char *r_string[3];
    ProtobufCBinaryData r_bytes[2];
    Crmtest__Color r_enum[3];
};

static uint8_t BYTES1[] = {0x00, 0x01, 0x02, 0xff, 'a'};
static uint8_t BYTES2[] = {0xfb, 0xff};

static void s_fill_all(struct all_fixture *x)
{
    crmtest__all_types__init(&x->m);
    Crmtest__AllTypes *m = &x->m;
    m->f_int32 = INT32_MIN;
    m->f_int64 = INT64_MIN;
    m->f_uint32 = UINT32_MAX;
    m->f_uint64 = UINT64_MAX;
    m->f_sint32 = -5;
    m->f_sint64 = INT64_MAX;
    m->f_fixed32 = 4000000000u;
    m->f_fixed64 = 10000000000000000000ull;
    m->f_sfixed32 = -7;
    m->f_sfixed64 = -9000000000000000000LL;
    m->f_float = 0.1f;
    m->f_double = 1e300;
    m->f_bool = 1;
    m->f_string = "héllo \"quoted\"\n";
    m->f_bytes.data = BYTES1;
    m->f_bytes.len = sizeof BYTES1;
    m->f_enum = CRMTEST__COLOR__COLOR_DARK_BLUE;

    crmtest__inner__init(&x->inner);
    crmtest__inner__init(&x->child);
    x->inner.name = "outer";
    x->inner.n = 3;
    x->child.name = "kid";
    x->children[0] = &x->child;
    x->inner.n_children = 1;
    x->inner.children = x->children;
    m->f_inner = &x->inner;

    crmtest__int32_value__init(&x->wrap); // set, at its default: still written
    m->f_wrapper = &x->wrap;
    crm__principal__init(&x->principal);
    x->principal.role = CRM__ROLE__ROLE_ADMIN;
    x->principal.name = "Zoë";
    m->principal = &x->principal;

#define FILL2(field, a, b)                                                                         \
    x->field[0] = a;                                                                               \
    x->field[1] = b;                                                                               \
    m->field = x->field;                                                                           \
    m->n_##field = 2
    FILL2(r_int32, -1, INT32_MAX);
    FILL2(r_int64, 1, -2);
    FILL2(r_uint32, 0, 7);
    FILL2(r_uint64, UINT64_MAX, 0);
    FILL2(r_sint32, INT32_MIN, 3);
    FILL2(r_sint64, INT64_MIN, 4);
    FILL2(r_fixed32, 1, 2);
    FILL2(r_fixed64, 3, 4);
    FILL2(r_sfixed32, -5, 6);
    FILL2(r_sfixed64, -7, 8);
    FILL2(r_double, 2.5, -0.125);
    FILL2(r_bool, 1, 0);
#undef FILL2
    x->r_float[0] = 1.5f;
    x->r_float[1] = -3.0f;
    x->r_float[2] = 0.3f;
    m->r_float = x->r_float;
    m->n_r_float = 3;
    x->r_string[0] = "a";
    x->r_string[1] = "";
    x->r_string[2] = "Ωmega";
    m->r_string = x->r_string;
    m->n_r_string = 3;
    x->r_bytes[0].data = BYTES2;
    x->r_bytes[0].len = sizeof BYTES2;
    x->r_bytes[1].data = NULL;
    x->r_bytes[1].len = 0;
    m->r_bytes = x->r_bytes;
    m->n_r_bytes = 2;
    x->r_enum[0] = CRMTEST__COLOR__COLOR_RED;
    x->r_enum[1] = CRMTEST__COLOR__GREEN;
    x->r_enum[2] = CRMTEST__COLOR__COLOR_UNSPECIFIED;
    m->r_enum = x->r_enum;
    m->n_r_enum = 3;
    for (int i = 0; i < 2; i++) {
        crmtest__inner__init(&x->rin[i]);
        x->rinp[i] = &x->rin[i];
        crmtest__int32_value__init(&x->rw[i]);
        x->rwp[i] = &x->rw[i];
    }
    x->rin[1].name = "second";
    x->rw[0].value = -1;
    x->rw[1].value = 100;
    m->r_inner = x->rinp;
    m->n_r_inner = 2;
    m->r_wrapper = x->rwp;
    m->n_r_wrapper = 2;

    m->choice_case = CRMTEST__ALL_TYPES__CHOICE_CHOICE_NUMBER; // selected at its default
    m->choice_number = 0;
}

static void s_check_same_wire(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t na = protobuf_c_message_get_packed_size(a);
    size_t nb = protobuf_c_message_get_packed_size(b);
    CHECK(na == nb);
    uint8_t *pa = malloc(na + 1), *pb = malloc(nb + 1);
    protobuf_c_message_pack(a, pa);
    protobuf_c_message_pack(b, pb);
    CHECK(memcmp(pa, pb, na) == 0);
    free(pa);
    free(pb);
}

static void test_all_types_round_trip(void)
{
    struct all_fixture x;
    s_fill_all(&x);
    json_t *j = cm_pbjson_encode(&x.m.base, 0);
    CHECK(j);

    CHECK_MEMBER(j, "fInt32", "-2147483648");
    CHECK_MEMBER(j, "fInt64", "\"-9223372036854775808\"");
    CHECK_MEMBER(j, "fUint32", "4294967295");
    CHECK_MEMBER(j, "fUint64", "\"18446744073709551615\"");
    CHECK_MEMBER(j, "fSint32", "-5");
    CHECK_MEMBER(j, "fSint64", "\"9223372036854775807\"");
    CHECK_MEMBER(j, "fFixed32", "4000000000");
    CHECK_MEMBER(j, "fFixed64", "\"10000000000000000000\"");
    CHECK_MEMBER(j, "fSfixed32", "-7");
    CHECK_MEMBER(j, "fSfixed64", "\"-9000000000000000000\"");
    CHECK(fabs(json_real_value(json_object_get(j, "fFloat")) - 0.1) < 1e-15);
    CHECK(json_real_value(json_object_get(j, "fDouble")) == 1e300);
    CHECK_MEMBER(j, "fBool", "true");
    CHECK_MEMBER(j, "fString", "\"héllo \\\"quoted\\\"\\n\"");
    CHECK_MEMBER(j, "fBytes", "\"AAEC/2E=\"");
    CHECK_MEMBER(j, "fEnum", "\"DARK_BLUE\"");
    CHECK_MEMBER(j, "fInner",
                 "{\"name\":\"outer\",\"n\":3,\"children\":[{\"name\":\"kid\","
                 "\"n\":0,\"children\":[]}]}");
    CHECK_MEMBER(j, "fWrapper", "0");
    CHECK_MEMBER(j, "principal",
                 "{\"id\":\"\",\"name\":\"Zoë\",\"role\":\"ADMIN\",\"scopes\":[],"
                 "\"kind\":\"UNSPECIFIED\"}");
    CHECK_MEMBER(j, "rInt32", "[-1,2147483647]");
    CHECK_MEMBER(j, "rInt64", "[\"1\",\"-2\"]");
    CHECK_MEMBER(j, "rUint64", "[\"18446744073709551615\",\"0\"]");
    CHECK_MEMBER(j, "rSint32", "[-2147483648,3]");
    CHECK_MEMBER(j, "rSint64", "[\"-9223372036854775808\",\"4\"]");
    CHECK_MEMBER(j, "rFixed32", "[1,2]");
    CHECK_MEMBER(j, "rFixed64", "[\"3\",\"4\"]");
    CHECK_MEMBER(j, "rSfixed32", "[-5,6]");
    CHECK_MEMBER(j, "rSfixed64", "[\"-7\",\"8\"]");
    CHECK_MEMBER(j, "rFloat", "[1.5,-3.0,0.29999999999999999]");
    CHECK_MEMBER(j, "rDouble", "[2.5,-0.125]");
    CHECK_MEMBER(j, "rBool", "[true,false]");
    CHECK_MEMBER(j, "rString", "[\"a\",\"\",\"Ωmega\"]");
    CHECK_MEMBER(j, "rBytes", "[\"+/8=\",\"\"]");
    CHECK_MEMBER(j, "rEnum", "[\"RED\",\"GREEN\",\"UNSPECIFIED\"]");
    CHECK_MEMBER(j, "rInner",
                 "[{\"name\":\"\",\"n\":0,\"children\":[]},{\"name\":\"second\","
                 "\"n\":0,\"children\":[]}]");
    CHECK_MEMBER(j, "rWrapper", "[-1,100]");
    CHECK_MEMBER(j, "choiceNumber", "\"0\"");
    CHECK(json_object_get(j, "choiceText") == NULL);
    CHECK(json_object_get(j, "choiceInner") == NULL);

    // Through text and back, as the gateway sees it.
    char *text = json_dumps(j, JSON_COMPACT);
    ProtobufCMessage *back = s_decode_ok(&crmtest__all_types__descriptor, text);
    free(text);
    Crmtest__AllTypes *b = (Crmtest__AllTypes *)back;
    CHECK(b->f_float == 0.1f);
    CHECK(b->f_int64 == INT64_MIN);
    CHECK(b->f_uint64 == UINT64_MAX);
    CHECK(b->f_bytes.len == sizeof BYTES1 && memcmp(b->f_bytes.data, BYTES1, 5) == 0);
    CHECK(b->f_wrapper && b->f_wrapper->value == 0);
    CHECK(b->n_r_enum == 3 && b->r_enum[1] == CRMTEST__COLOR__GREEN);
    CHECK(b->choice_case == CRMTEST__ALL_TYPES__CHOICE_CHOICE_NUMBER);
    CHECK(b->n_r_bytes == 2 && b->r_bytes[1].len == 0);
    s_check_same_wire(&x.m.base, back);

    // Re-encoding the decoded message gives the same JSON, also without defaults.
    json_t *j2 = cm_pbjson_encode(back, 0);
    CHECK(json_equal(j, j2));
    json_decref(j2);
    json_t *sparse = cm_pbjson_encode(back, CM_PBJSON_OMIT_DEFAULTS);
    CHECK(json_object_get(sparse, "choiceNumber") != NULL); // oneof: presence, not value
    CHECK(json_object_get(sparse, "fWrapper") != NULL);     // set wrapper at its default
    CHECK_MEMBER(sparse, "principal", "{\"name\":\"Zoë\",\"role\":\"ADMIN\"}");
    ProtobufCMessage *back2 = cm_pbjson_decode(&crmtest__all_types__descriptor, sparse, NULL, NULL);
    CHECK(back2);
    s_check_same_wire(back, back2);
    protobuf_c_message_free_unpacked(back2, NULL);
    json_decref(sparse);

    // A clone is deep and equal.
    ProtobufCMessage *copy = cm_pb_clone(back);
    protobuf_c_message_free_unpacked(back, NULL);
    s_check_same_wire(&x.m.base, copy);
    protobuf_c_message_free_unpacked(copy, NULL);
    CHECK(cm_pb_clone(NULL) == NULL);

    // Field by field.
    const ProtobufCFieldDescriptor *f =
        cm_pbjson_find_field(&crmtest__all_types__descriptor, "rInt64");
    json_t *fj = cm_pbjson_encode_field(&x.m.base, f);
    CHECK(fj && json_array_size(fj) == 2);
    json_decref(fj);
    fj = cm_pbjson_encode_field(
        &x.m.base, cm_pbjson_find_field(&crmtest__all_types__descriptor, "choiceText"));
    CHECK(json_is_null(fj));
    json_decref(fj);
    CHECK(cm_pbjson_encode_field(&x.m.base,
                                 cm_pbjson_find_field(&crm__customer__descriptor, "id")) == NULL);
    json_decref(j);

    // An enum value the descriptor does not know is written as its number,
    // which decoding refuses.
    x.r_enum[2] = (Crmtest__Color)42;
    j = cm_pbjson_encode(&x.m.base, 0);
    CHECK_MEMBER(j, "rEnum", "[\"RED\",\"GREEN\",42]");
    s_expect_error(&crmtest__all_types__descriptor, j, NULL, "rEnum[2]",
                   "not a valid value; expected one of DARK_BLUE, RED, UNSPECIFIED, GREEN",
                   __LINE__);
    json_decref(j);
    printf("all types round trip: OK\n");
}

static void test_defaults(void)
{
    Crmtest__AllTypes m;
    crmtest__all_types__init(&m);
    json_t *j = cm_pbjson_encode(&m.base, 0);
    // Every field but the unset oneof's members.
    CHECK(json_object_size(j) == crmtest__all_types__descriptor.n_fields - 3);
    CHECK_MEMBER(j, "fInt32", "0");
    CHECK_MEMBER(j, "fInt64", "\"0\"");
    CHECK_MEMBER(j, "fUint64", "\"0\"");
    CHECK_MEMBER(j, "fFloat", "0.0");
    CHECK_MEMBER(j, "fBool", "false");
    CHECK_MEMBER(j, "fString", "\"\"");
    CHECK_MEMBER(j, "fBytes", "\"\"");
    CHECK_MEMBER(j, "fEnum", "\"UNSPECIFIED\"");
    CHECK_MEMBER(j, "fInner", "null");
    CHECK_MEMBER(j, "fWrapper", "null");
    CHECK_MEMBER(j, "rInt32", "[]");
    CHECK_MEMBER(j, "rInner", "[]");
    CHECK(json_object_get(j, "choiceText") == NULL);
    json_decref(j);

    j = cm_pbjson_encode(&m.base, CM_PBJSON_OMIT_DEFAULTS);
    CHECK(json_object_size(j) == 0);
    json_decref(j);

    Crm__Customer c;
    crm__customer__init(&c);
    c.first_name = "Ann";
    j = cm_pbjson_encode(&c.base, 0);
    CHECK_MEMBER(j, "firstName", "\"Ann\"");
    CHECK_MEMBER(j, "company", "null");
    CHECK_MEMBER(j, "gender", "\"UNSPECIFIED\"");
    CHECK_MEMBER(j, "source", "\"UNSPECIFIED\"");
    CHECK_MEMBER(j, "addresses", "[]");
    CHECK_MEMBER(j, "isCompany", "false");
    json_decref(j);
    j = cm_pbjson_encode(&c.base, CM_PBJSON_OMIT_DEFAULTS);
    char *text = json_dumps(j, JSON_COMPACT);
    CHECK_STR(text, "{\"firstName\":\"Ann\"}");
    free(text);
    json_decref(j);
    printf("defaults: OK\n");
}

static void test_special_floats(void)
{
    Crmtest__AllTypes m;
    crmtest__all_types__init(&m);
    m.f_double = NAN;
    m.f_float = -INFINITY;
    double rd[1] = {INFINITY};
    m.r_double = rd;
    m.n_r_double = 1;
    json_t *j = cm_pbjson_encode(&m.base, CM_PBJSON_OMIT_DEFAULTS);
    CHECK_MEMBER(j, "fDouble", "\"NaN\"");
    CHECK_MEMBER(j, "fFloat", "\"-Infinity\"");
    CHECK_MEMBER(j, "rDouble", "[\"Infinity\"]");
    Crmtest__AllTypes *b =
        (Crmtest__AllTypes *)cm_pbjson_decode(&crmtest__all_types__descriptor, j, NULL, NULL);
    CHECK(b && isnan(b->f_double) && isinf(b->f_float) && b->f_float < 0);
    CHECK(b->n_r_double == 1 && isinf(b->r_double[0]));
    protobuf_c_message_free_unpacked(&b->base, NULL);
    json_decref(j);
    printf("special floats: OK\n");
}

/* ---- What decoding accepts ------------------------------------------------ */

static void test_decode_accepts(void)
{
    Crmtest__AllTypes *m = (Crmtest__AllTypes *)s_decode_ok(
        &crmtest__all_types__descriptor,
        "{\"f_int32\":\"42\",\"fInt64\":123,\"fUint64\":\"18446744073709551615\","
        "\"fUint32\":4.0,\"fSint64\":-5e2,\"fDouble\":3,\"fFloat\":\"1.25\","
        "\"fEnum\":\"COLOR_RED\",\"rEnum\":[2,\"GREEN\",\"DARK_BLUE\"],"
        "\"fBytes\":\"__s\",\"rBytes\":[\"+/8\",\"-_8=\",\"\"],"
        "\"fWrapper\":{\"value\":9},\"rWrapper\":[1,{\"value\":2}],"
        "\"fString\":null,\"fInner\":null,\"rInt32\":null,\"principal\":{\"role\":\"ROLE_STAFF\"},"
        "\"choiceText\":\"\",\"choiceNumber\":null}");
    CHECK(m->f_int32 == 42);
    CHECK(m->f_int64 == 123);
    CHECK(m->f_uint64 == UINT64_MAX);
    CHECK(m->f_uint32 == 4);
    CHECK(m->f_sint64 == -500);
    CHECK(m->f_double == 3.0);
    CHECK(m->f_float == 1.25f);
    CHECK(m->f_enum == CRMTEST__COLOR__COLOR_RED);
    CHECK(m->n_r_enum == 3 && m->r_enum[0] == CRMTEST__COLOR__COLOR_DARK_BLUE &&
          m->r_enum[1] == CRMTEST__COLOR__GREEN && m->r_enum[2] == CRMTEST__COLOR__COLOR_DARK_BLUE);
    CHECK(m->f_bytes.len == 2 && m->f_bytes.data[0] == 0xff && m->f_bytes.data[1] == 0xfb);
    CHECK(m->n_r_bytes == 3);
    for (int i = 0; i < 2; i++)
        CHECK(m->r_bytes[i].len == 2 && m->r_bytes[i].data[0] == 0xfb &&
              m->r_bytes[i].data[1] == 0xff);
    CHECK(m->r_bytes[2].len == 0);
    CHECK(m->f_wrapper && m->f_wrapper->value == 9);
    CHECK(m->n_r_wrapper == 2 && m->r_wrapper[0]->value == 1 && m->r_wrapper[1]->value == 2);
    CHECK(m->f_string[0] == '\0' && m->f_inner == NULL && m->n_r_int32 == 0);
    CHECK(m->principal && m->principal->role == CRM__ROLE__ROLE_STAFF);
    // An empty string still selects its oneof member (and survives packing).
    CHECK(m->choice_case == CRMTEST__ALL_TYPES__CHOICE_CHOICE_TEXT);
    CHECK(m->choice_text != protobuf_c_empty_string && m->choice_text[0] == '\0');
    size_t n = protobuf_c_message_get_packed_size(&m->base);
    uint8_t *wire = malloc(n);
    protobuf_c_message_pack(&m->base, wire);
    Crmtest__AllTypes *u = crmtest__all_types__unpack(NULL, n, wire);
    free(wire);
    CHECK(u && u->choice_case == CRMTEST__ALL_TYPES__CHOICE_CHOICE_TEXT);
    crmtest__all_types__free_unpacked(u, NULL);
    protobuf_c_message_free_unpacked(&m->base, NULL);

    // Customer as a client sends it, with proto names mixed in.
    Crm__Customer *c = (Crm__Customer *)s_decode_ok(
        &crm__customer__descriptor,
        "{\"firstName\":\"Ann\",\"last_name\":\"Lee\",\"gender\":\"GENDER_FEMALE\","
        "\"isCompany\":true,\"company\":{\"name\":\"ACME\",\"vat_number\":\"PL1\"},"
        "\"addresses\":[{\"kind\":\"BILLING\",\"line1\":\"Main 1\",\"postalCode\":\"00-001\","
        "\"country\":\"PL\"}],\"tags\":[\"vip\"],\"preferences\":{\"language\":\"pl\","
        "\"email\":{\"granted\":true}},\"externalIds\":[{\"system\":\"store\",\"id\":\"7\"}]}");
    CHECK_STR(c->first_name, "Ann");
    CHECK_STR(c->last_name, "Lee");
    CHECK(c->gender == CRM__GENDER__GENDER_FEMALE);
    CHECK(c->is_company);
    CHECK_STR(c->company->vat_number, "PL1");
    CHECK(c->n_addresses == 1 && c->addresses[0]->kind == CRM__ADDRESS_KIND__ADDRESS_KIND_BILLING);
    CHECK_STR(c->addresses[0]->postal_code, "00-001");
    CHECK(c->preferences->email->granted && c->preferences->sms == NULL);
    CHECK_STR(c->external_ids[0]->system, "store");
    json_t *j = cm_pbjson_encode(&c->base, CM_PBJSON_OMIT_DEFAULTS);
    char *text = json_dumps(j, JSON_COMPACT);
    CHECK_STR(text, "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"gender\":\"FEMALE\","
                    "\"tags\":[\"vip\"],\"isCompany\":true,\"company\":{\"name\":\"ACME\","
                    "\"vatNumber\":\"PL1\"},\"addresses\":[{\"kind\":\"BILLING\","
                    "\"line1\":\"Main 1\",\"postalCode\":\"00-001\",\"country\":\"PL\"}],"
                    "\"preferences\":{\"language\":\"pl\",\"email\":{\"granted\":true}},"
                    "\"externalIds\":[{\"system\":\"store\",\"id\":\"7\"}]}");
    free(text);
    json_decref(j);
    protobuf_c_message_free_unpacked(&c->base, NULL);

    // A wrapper given as a bare value.
    Crm__ListCustomersRequest *l = (Crm__ListCustomersRequest *)s_decode_ok(
        &crm__list_customers_request__descriptor,
        "{\"isCompany\":false,\"hasAccount\":null,\"accountStatus\":2}");
    CHECK(l->is_company && l->is_company->value == 0);
    CHECK(l->has_account == NULL);
    CHECK(l->account_status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE);
    j = cm_pbjson_encode(&l->base, CM_PBJSON_OMIT_DEFAULTS);
    text = json_dumps(j, JSON_COMPACT);
    CHECK_STR(text, "{\"isCompany\":false,\"accountStatus\":\"ACTIVE\"}");
    free(text);
    json_decref(j);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    printf("decode accepts: OK\n");
}

/* ---- What decoding refuses ---------------------------------------------- */

static void test_decode_errors(void)
{
    const ProtobufCMessageDescriptor *upd = &crm__update_customer_request__descriptor;
    const ProtobufCMessageDescriptor *all = &crmtest__all_types__descriptor;
    const ProtobufCMessageDescriptor *cust = &crm__customer__descriptor;
    const ProtobufCMessageDescriptor *list = &crm__list_customers_request__descriptor;
    const char *addr = "{\"customer\":{\"firstName\":\"A\",\"addresses\":[{\"city\":\"X\"},"
                       "{\"line1\":\"y\",\"bogus_key\":1}]}}";
    EXPECT_ERROR(upd, addr, NULL, "customer.addresses[1].bogus_key", "unknown field");
    EXPECT_ERROR(upd, addr, "body", "body.customer.addresses[1].bogus_key", "unknown field");
    EXPECT_ERROR(upd, addr, "", "customer.addresses[1].bogus_key", "unknown field");
    EXPECT_ERROR(upd, "{\"customer\":{\"addresses\":[{\"country\":1}]}}", NULL,
                 "customer.addresses[0].country", "expected a string");
    EXPECT_ERROR(upd, "{\"customer\":{\"first_name\":5}}", NULL, "customer.firstName",
                 "expected a string");
    EXPECT_ERROR(cust, "{\"isCompany\":\"yes\"}", NULL, "isCompany", "expected a boolean");
    EXPECT_ERROR(cust, "{\"company\":\"ACME\"}", NULL, "company", "expected an object");
    EXPECT_ERROR(cust, "{\"tags\":\"vip\"}", NULL, "tags", "expected an array");
    EXPECT_ERROR(cust, "{\"tags\":[\"a\",null]}", NULL, "tags[1]", "expected a string");
    EXPECT_ERROR(cust, "{\"addresses\":[{},null]}", NULL, "addresses[1]", "expected an object");
    EXPECT_ERROR(cust, "{\"firstName\":\"a\",\"first_name\":\"b\"}", NULL, "firstName",
                 "given more than once");
    EXPECT_ERROR(cust, "[1]", NULL, "", "expected an object");
    EXPECT_ERROR(cust, "[1]", "customer", "customer", "expected an object");
    EXPECT_ERROR(all, "{\"fInt32\":2147483648}", NULL, "fInt32", "out of range for int32");
    EXPECT_ERROR(all, "{\"fInt32\":-2147483649}", NULL, "fInt32", "out of range for int32");
    EXPECT_ERROR(all, "{\"fSfixed32\":\"-2147483649\"}", NULL, "fSfixed32",
                 "out of range for int32");
    EXPECT_ERROR(all, "{\"fUint32\":-1}", NULL, "fUint32", "out of range for uint32");
    EXPECT_ERROR(all, "{\"fFixed32\":4294967296}", NULL, "fFixed32", "out of range for uint32");
    EXPECT_ERROR(all, "{\"fInt64\":\"9223372036854775808\"}", NULL, "fInt64",
                 "out of range for int64");
    EXPECT_ERROR(all, "{\"fInt64\":1e19}", NULL, "fInt64", "out of range for int64");
    EXPECT_ERROR(all, "{\"fUint64\":\"18446744073709551616\"}", NULL, "fUint64",
                 "out of range for uint64");
    EXPECT_ERROR(all, "{\"fFixed64\":\"-1\"}", NULL, "fFixed64", "out of range for uint64");
    EXPECT_ERROR(all, "{\"fInt32\":1.5}", NULL, "fInt32", "expected an integer");
    EXPECT_ERROR(all, "{\"fInt32\":\"12a\"}", NULL, "fInt32", "expected an integer");
    EXPECT_ERROR(all, "{\"fInt32\":\" 12\"}", NULL, "fInt32", "expected an integer");
    EXPECT_ERROR(all, "{\"fInt64\":true}", NULL, "fInt64", "expected an integer");
    EXPECT_ERROR(all, "{\"rSint32\":[1,\"x\"]}", NULL, "rSint32[1]", "expected an integer");
    EXPECT_ERROR(all, "{\"fFloat\":1e39}", NULL, "fFloat", "out of range for float");
    EXPECT_ERROR(all, "{\"fDouble\":\"0x10\"}", NULL, "fDouble", "expected a number");
    EXPECT_ERROR(all, "{\"fDouble\":\"nan\"}", NULL, "fDouble", "expected a number");
    EXPECT_ERROR(all, "{\"fDouble\":\"1e999\"}", NULL, "fDouble", "out of range for double");
    EXPECT_ERROR(all, "{\"fBool\":1}", NULL, "fBool", "expected a boolean");
    EXPECT_ERROR(cust, "{\"gender\":\"WOMAN\"}", NULL, "gender",
                 "not a valid value; expected one of FEMALE, MALE, OTHER, UNSPECIFIED");
    EXPECT_ERROR(cust, "{\"gender\":7}", NULL, "gender",
                 "not a valid value; expected one of FEMALE, MALE, OTHER, UNSPECIFIED");
    EXPECT_ERROR(cust, "{\"gender\":\"female\"}", NULL, "gender",
                 "not a valid value; expected one of FEMALE, MALE, OTHER, UNSPECIFIED");
    EXPECT_ERROR(upd, "{\"customer\":{\"addresses\":[{\"kind\":\"HOME\"}]}}", NULL,
                 "customer.addresses[0].kind",
                 "not a valid value; expected one of BILLING, SHIPPING, UNSPECIFIED");
    EXPECT_ERROR(all, "{\"fBytes\":\"abc$\"}", NULL, "fBytes", "not valid base64");
    EXPECT_ERROR(all, "{\"fBytes\":\"a\"}", NULL, "fBytes", "not valid base64");
    EXPECT_ERROR(all, "{\"fBytes\":\"ab=c\"}", NULL, "fBytes", "not valid base64");
    EXPECT_ERROR(all, "{\"rBytes\":[\"AA==\",\"A===\"]}", NULL, "rBytes[1]", "not valid base64");
    EXPECT_ERROR(all, "{\"fBytes\":5}", NULL, "fBytes", "expected a string");
    EXPECT_ERROR(all, "{\"choiceText\":\"a\",\"choiceNumber\":\"1\"}", NULL, "choiceNumber",
                 "only one of choiceText, choiceNumber, choiceInner may be set");
    EXPECT_ERROR(all, "{\"choiceInner\":{},\"choice_text\":\"\"}", NULL, "choiceText",
                 "only one of choiceText, choiceNumber, choiceInner may be set");
    EXPECT_ERROR(all, "{\"fWrapper\":\"x\"}", NULL, "fWrapper", "expected an integer");
    EXPECT_ERROR(all, "{\"fWrapper\":{\"value\":1,\"other\":2}}", NULL, "fWrapper.other",
                 "unknown field");
    EXPECT_ERROR(all, "{\"rWrapper\":[1,[2]]}", NULL, "rWrapper[1]", "expected an integer");
    EXPECT_ERROR(all, "{\"fInner\":{\"children\":[{\"children\":[{\"n\":\"x\"}]}]}}", NULL,
                 "fInner.children[0].children[0].n", "expected an integer");
    EXPECT_ERROR(list, "{\"isCompany\":\"yes\"}", NULL, "isCompany", "expected a boolean");
    EXPECT_ERROR(list, "{\"pageSize\":99999999999}", "query", "query.pageSize",
                 "out of range for int32");

    // A string with NUL inside.
    json_t *j = json_object();
    json_object_set_new(j, "firstName", json_stringn("a\0b", 3));
    s_expect_error(cust, j, NULL, "firstName", "must not contain NUL characters", __LINE__);
    json_decref(j);

    // An error late in a big object frees everything decoded before it.
    j = s_load("{\"firstName\":\"A\",\"company\":{\"name\":\"C\"},\"tags\":[\"a\",\"b\"],"
               "\"addresses\":[{\"line1\":\"l\"}],\"externalIds\":[{\"id\":\"1\"}],"
               "\"preferences\":{\"email\":{\"source\":\"web\"}},\"source\":\"NOPE\"}");
    s_expect_error(cust, j, NULL, "source",
                   "not a valid value; expected one of API, BOOKING, IMPORT, MANUAL, SIGNUP, "
                   "STORE, UNSPECIFIED",
                   __LINE__);
    json_decref(j);

    // A NULL err is allowed.
    j = s_load("{\"nope\":1}");
    CHECK(cm_pbjson_decode(cust, j, NULL, NULL) == NULL);
    json_decref(j);
    printf("decode errors: OK\n");
}

static json_t *s_nested_nodes(int children)
{
    json_t *root = json_object(), *cur = root;
    for (int i = 0; i < children; i++) {
        json_t *child = json_object();
        json_object_set_new(cur, "child", child);
        cur = child;
    }
    json_object_set_new(cur, "v", json_integer(7));
    return root;
}

static void test_nesting_limit(void)
{
    // 32 levels of messages decode; 33 do not.
    json_t *ok = s_nested_nodes(CM_PBJSON_MAX_DEPTH - 1);
    Crmtest__Node *n =
        (Crmtest__Node *)cm_pbjson_decode(&crmtest__node__descriptor, ok, NULL, NULL);
    CHECK(n);
    int levels = 1;
    for (Crmtest__Node *p = n; p->child; p = p->child)
        levels++;
    CHECK(levels == CM_PBJSON_MAX_DEPTH);
    protobuf_c_message_free_unpacked(&n->base, NULL);
    json_decref(ok);

    json_t *deep = s_nested_nodes(CM_PBJSON_MAX_DEPTH);
    char want[256] = "";
    for (int i = 0; i < CM_PBJSON_MAX_DEPTH; i++)
        strncat(want, i ? ".child" : "child", sizeof want - strlen(want) - 1);
    s_expect_error(&crmtest__node__descriptor, deep, NULL, want, "nested too deeply", __LINE__);
    json_decref(deep);

    // Much deeper input fails the same way, and the path is cut, not overrun.
    deep = s_nested_nodes(200);
    struct cm_pbjson_error err;
    CHECK(cm_pbjson_decode(&crmtest__node__descriptor, deep, NULL, &err) == NULL);
    CHECK_STR(err.description, "nested too deeply");
    json_decref(deep);
    deep = s_nested_nodes(60);
    char prefix[300];
    memset(prefix, 'p', sizeof prefix - 1);
    prefix[sizeof prefix - 1] = '\0';
    CHECK(cm_pbjson_decode(&crmtest__node__descriptor, deep, prefix, &err) == NULL);
    CHECK(strlen(err.field) == sizeof err.field - 1);
    json_decref(deep);
    printf("nesting limit: OK\n");
}

static void test_utf8(void)
{
    json_t *j = json_object();
    json_object_set_new(j, "lastName", json_string("ok"));
    json_object_set_new(j, "firstName", json_stringn_nocheck("\xC3\x28", 2));
    s_expect_error(&crm__customer__descriptor, j, NULL, "firstName", "not valid UTF-8", __LINE__);
    json_decref(j);
    j = json_object();
    json_t *tags = json_array();
    json_array_append_new(tags, json_string("fine"));
    json_array_append_new(tags, json_stringn_nocheck("\xED\xA0\x80", 3)); // a surrogate
    json_object_set_new(j, "tags", tags);
    s_expect_error(&crm__customer__descriptor, j, "customer", "customer.tags[1]", "not valid UTF-8",
                   __LINE__);
    json_decref(j);

    // A message holding bad bytes (as from the wire) still encodes, with U+FFFD.
    Crm__Customer c;
    crm__customer__init(&c);
    c.first_name = "a\xff"
                   "b\xC3";
    j = cm_pbjson_encode(&c.base, 0);
    CHECK_STR(json_string_value(json_object_get(j, "firstName")), "a\xEF\xBF\xBD"
                                                                  "b\xEF\xBF\xBD");
    json_decref(j);
    printf("utf8: OK\n");
}

static void test_unicode_names(void)
{
    static const char *const names[][2] = {
        {"Zażółć", "Gęślą-Jaźń"},
        {"Jürgen", "Müßiggang"},
        {"Йордан", "Иванов-Щерев"},
        {"Ǆemal 😀", "O'Brien"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        Crm__Customer c;
        crm__customer__init(&c);
        c.first_name = (char *)names[i][0];
        c.last_name = (char *)names[i][1];
        json_t *j = cm_pbjson_encode(&c.base, CM_PBJSON_OMIT_DEFAULTS);
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        CHECK(strstr(text, names[i][0]) != NULL); // raw UTF-8, not \u escapes
        Crm__Customer *back = (Crm__Customer *)s_decode_ok(&crm__customer__descriptor, text);
        free(text);
        CHECK_STR(back->first_name, names[i][0]);
        CHECK_STR(back->last_name, names[i][1]);
        protobuf_c_message_free_unpacked(&back->base, NULL);
    }
    // Escaped input decodes to the same bytes.
    Crm__Customer *c = (Crm__Customer *)s_decode_ok(&crm__customer__descriptor,
                                                    "{\"firstName\":\"\\u0419\\u043e\"}");
    CHECK_STR(c->first_name, "Йо");
    protobuf_c_message_free_unpacked(&c->base, NULL);
    printf("unicode names: OK\n");
}

/* ---- Update masks, apply, clear, diff ------------------------------------- */

static void test_mask_paths(void)
{
    size_t n;
    json_t *j = s_load("{\"firstName\":\"A\",\"company\":{\"vatNumber\":\"x\"},\"phone\":null}");
    char **p = cm_pbjson_mask_paths(&crm__customer__descriptor, j, &n);
    CHECK(n == 3);
    CHECK_STR(p[0], "firstName");
    CHECK_STR(p[1], "company.vatNumber");
    CHECK_STR(p[2], "phone");
    cm_pbjson_free_paths(p, n);
    json_decref(j);

    j = s_load("{\"last_name\":\"B\",\"company\":{},\"addresses\":[{\"city\":\"c\"}],"
               "\"preferences\":{\"email\":{\"granted\":true},\"language\":\"de\"},"
               "\"account\":null}");
    p = cm_pbjson_mask_paths(&crm__customer__descriptor, j, &n);
    CHECK(n == 6);
    CHECK_STR(p[0], "lastName");
    CHECK_STR(p[1], "company");
    CHECK_STR(p[2], "addresses");
    CHECK_STR(p[3], "preferences.email.granted");
    CHECK_STR(p[4], "preferences.language");
    CHECK_STR(p[5], "account");
    cm_pbjson_free_paths(p, n);
    json_decref(j);

    j = json_object();
    p = cm_pbjson_mask_paths(&crm__customer__descriptor, j, &n);
    CHECK(p == NULL && n == 0);
    json_decref(j);
    j = json_array();
    p = cm_pbjson_mask_paths(&crm__customer__descriptor, j, &n);
    CHECK(p == NULL && n == 0);
    json_decref(j);
    cm_pbjson_free_paths(NULL, 0);
    printf("mask paths: OK\n");
}

static Crm__Customer *s_customer(const char *json_text)
{
    return (Crm__Customer *)s_decode_ok(&crm__customer__descriptor, json_text);
}

static void test_apply_mask(void)
{
    Crm__Customer *dst =
        s_customer("{\"firstName\":\"Old\",\"lastName\":\"Keep\",\"tags\":[\"a\"],"
                   "\"addresses\":[{\"city\":\"Kraków\"}],\"account\":{\"status\":\"INVITED\"},"
                   "\"preferences\":{\"language\":\"pl\"}}");
    Crm__Customer *src =
        s_customer("{\"firstName\":\"New\",\"lastName\":\"Ignored\",\"company\":{\"name\":\"ACME\","
                   "\"vatNumber\":\"PL1\"},\"tags\":[\"x\",\"y\"],\"gender\":\"MALE\","
                   "\"externalIds\":[{\"system\":\"s\",\"id\":\"1\"}],"
                   "\"preferences\":{\"sms\":{\"granted\":true}}}");
    char *paths[] = {"firstName", "company.vatNumber", "tags",  "addresses",       "account",
                     "gender",    "externalIds",       "phone", "preferences.sms", "is_company"};
    struct cm_pbjson_error err;
    CHECK(cm_pb_apply_mask(&dst->base, &src->base, paths, sizeof paths / sizeof paths[0], &err) ==
          0);
    protobuf_c_message_free_unpacked(&src->base, NULL); // dst must own deep copies
    CHECK_STR(dst->first_name, "New");
    CHECK_STR(dst->last_name, "Keep");
    CHECK(dst->company != NULL);
    CHECK_STR(dst->company->vat_number, "PL1");
    CHECK_STR(dst->company->name, ""); // only the leaf named
    CHECK(dst->n_tags == 2);
    CHECK_STR(dst->tags[0], "x");
    CHECK_STR(dst->tags[1], "y");
    CHECK(dst->n_addresses == 0 && dst->addresses == NULL);
    CHECK(dst->account == NULL); // src has none: cleared
    CHECK(dst->gender == CRM__GENDER__GENDER_MALE);
    CHECK(dst->n_external_ids == 1);
    CHECK_STR(dst->external_ids[0]->system, "s");
    CHECK_STR(dst->preferences->language, "pl");
    CHECK(dst->preferences->sms && dst->preferences->sms->granted);

    // A whole message field copies whole; a path through a missing parent on
    // both sides changes nothing.
    Crm__Customer *src2 = s_customer("{\"company\":{\"name\":\"Other\",\"address\":\"A 1\"}}");
    char *paths2[] = {"company", "account.status"};
    CHECK(cm_pb_apply_mask(&dst->base, &src2->base, paths2, 2, &err) == 0);
    protobuf_c_message_free_unpacked(&src2->base, NULL);
    CHECK_STR(dst->company->name, "Other");
    CHECK_STR(dst->company->vat_number, "");
    CHECK_STR(dst->company->address, "A 1");
    CHECK(dst->account == NULL);

    // A leaf whose parent src lacks goes back to its default.
    Crm__Customer *empty = s_customer("{}");
    char *paths3[] = {"company.name"};
    CHECK(cm_pb_apply_mask(&dst->base, &empty->base, paths3, 1, &err) == 0);
    CHECK(dst->company && dst->company->name[0] == '\0');
    CHECK_STR(dst->company->address, "A 1");

    // Unknown paths are refused before anything changes.
    char *bad[] = {"firstName", "company.bogus"};
    CHECK(cm_pb_apply_mask(&dst->base, &empty->base, bad, 2, &err) == -1);
    CHECK_STR(err.field, "company.bogus");
    CHECK_STR(err.description, "unknown field");
    CHECK_STR(dst->first_name, "New");
    char *bad2[] = {"firstName.x"};
    CHECK(cm_pb_apply_mask(&dst->base, &empty->base, bad2, 1, &err) == -1);
    CHECK_STR(err.field, "firstName.x");
    char *bad3[] = {"addresses.city"}; // no paths into repeated fields
    CHECK(cm_pb_apply_mask(&dst->base, &empty->base, bad3, 1, &err) == -1);
    char *bad4[] = {"company."};
    CHECK(cm_pb_apply_mask(&dst->base, &empty->base, bad4, 1, &err) == -1);
    protobuf_c_message_free_unpacked(&empty->base, NULL);
    CHECK(cm_pb_apply_mask(&dst->base, &dst->base, paths2, 2, &err) == 0); // onto itself
    CHECK_STR(dst->company->address, "A 1");

    // Inside a oneof: selecting another member frees the old one.
    Crmtest__AllTypes *a =
        (Crmtest__AllTypes *)s_decode_ok(&crmtest__all_types__descriptor, "{\"choiceText\":\"t\"}");
    Crmtest__AllTypes *b = (Crmtest__AllTypes *)s_decode_ok(
        &crmtest__all_types__descriptor, "{\"choiceInner\":{\"name\":\"in\"},\"fWrapper\":5}");
    char *paths4[] = {"choiceInner.name", "choiceText", "fWrapper"};
    CHECK(cm_pb_apply_mask(&a->base, &b->base, paths4, 3, &err) == 0);
    CHECK(a->choice_case == CRMTEST__ALL_TYPES__CHOICE_CHOICE_INNER);
    CHECK_STR(a->choice_inner->name, "in");
    CHECK(a->f_wrapper && a->f_wrapper->value == 5);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    protobuf_c_message_free_unpacked(&dst->base, NULL);
    printf("apply mask: OK\n");
}

static void test_clear_path(void)
{
    Crm__Customer *c = s_customer(
        "{\"firstName\":\"A\",\"company\":{\"name\":\"C\",\"vatNumber\":\"V\"},\"tags\":[\"t\"],"
        "\"gender\":\"OTHER\",\"addresses\":[{\"city\":\"x\"}]}");
    CHECK(cm_pb_clear_path(&c->base, "company.vatNumber") == 0);
    CHECK_STR(c->company->vat_number, "");
    CHECK_STR(c->company->name, "C");
    CHECK(cm_pb_clear_path(&c->base, "company") == 0);
    CHECK(c->company == NULL);
    CHECK(cm_pb_clear_path(&c->base, "company.name") == 0); // parent unset: nothing to do
    CHECK(cm_pb_clear_path(&c->base, "tags") == 0);
    CHECK(c->n_tags == 0 && c->tags == NULL);
    CHECK(cm_pb_clear_path(&c->base, "addresses") == 0);
    CHECK(cm_pb_clear_path(&c->base, "gender") == 0);
    CHECK(c->gender == CRM__GENDER__GENDER_UNSPECIFIED);
    CHECK(cm_pb_clear_path(&c->base, "first_name") == 0);
    CHECK_STR(c->first_name, "");
    CHECK(cm_pb_clear_path(&c->base, "bogus") == -1);
    CHECK(cm_pb_clear_path(&c->base, "company.bogus") == -1);
    protobuf_c_message_free_unpacked(&c->base, NULL);

    Crmtest__AllTypes *a = (Crmtest__AllTypes *)s_decode_ok(&crmtest__all_types__descriptor,
                                                            "{\"choiceText\":\"t\",\"fBytes\":"
                                                            "\"AQI=\"}");
    CHECK(cm_pb_clear_path(&a->base, "choiceNumber") == 0); // not the selected one
    CHECK(a->choice_case == CRMTEST__ALL_TYPES__CHOICE_CHOICE_TEXT);
    CHECK(cm_pb_clear_path(&a->base, "choiceText") == 0);
    CHECK(a->choice_case == CRMTEST__ALL_TYPES__CHOICE__NOT_SET);
    CHECK(cm_pb_clear_path(&a->base, "fBytes") == 0);
    CHECK(a->f_bytes.len == 0 && a->f_bytes.data == NULL);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    printf("clear path: OK\n");
}

struct diff_log {
    char text[2048];
};

static void s_on_diff(void *ud, const char *path, const char *old_json, const char *new_json)
{
    struct diff_log *log = ud;
    size_t len = strlen(log->text);
    snprintf(log->text + len, sizeof log->text - len, "%s: %s -> %s\n", path, old_json, new_json);
}

static void test_diff(void)
{
    Crm__Customer *a = s_customer("{\"firstName\":\"Ann\",\"tags\":[\"a\"],\"gender\":\"FEMALE\","
                                  "\"etag\":\"1\",\"account\":{},\"isCompany\":false}");
    Crm__Customer *b = s_customer(
        "{\"firstName\":\"Anna\",\"tags\":[\"a\",\"b\"],\"gender\":\"FEMALE\",\"etag\":\"2\","
        "\"company\":{\"name\":\"ACME\"},\"addresses\":[{\"city\":\"Łódź\"}],"
        "\"updatedAt\":\"now\"}");
    const char *skip[] = {"etag", "updatedAt", NULL};
    struct diff_log log = {""};
    cm_pb_diff(&crm__customer__descriptor, &a->base, &b->base, skip, s_on_diff, &log);
    CHECK_STR(log.text,
              "firstName: \"Ann\" -> \"Anna\"\n"
              "tags: [\"a\"] -> [\"a\",\"b\"]\n"
              "company.name:  -> \"ACME\"\n"
              "addresses:  -> [{\"kind\":\"UNSPECIFIED\",\"line1\":\"\",\"line2\":\"\","
              "\"postalCode\":\"\",\"city\":\"Łódź\",\"region\":\"\",\"country\":\"\"}]\n");

    // Against nothing: every non-default leaf, new side "".
    log.text[0] = '\0';
    cm_pb_diff(&crm__customer__descriptor, &a->base, NULL, NULL, s_on_diff, &log);
    CHECK_STR(log.text, "firstName: \"Ann\" -> \n"
                        "gender: \"FEMALE\" -> \n"
                        "tags: [\"a\"] -> \n"
                        "etag: \"1\" -> \n");

    // Identical messages and subtrees skipped by prefix.
    log.text[0] = '\0';
    cm_pb_diff(&crm__customer__descriptor, &b->base, &b->base, NULL, s_on_diff, &log);
    CHECK_STR(log.text, "");
    const char *skip2[] = {"company", "addresses", "tags", "firstName", "etag", "updatedAt", NULL};
    cm_pb_diff(&crm__customer__descriptor, &a->base, &b->base, skip2, s_on_diff, &log);
    CHECK_STR(log.text, "");

    // Wrappers are leaves.
    Crm__ListCustomersRequest *l1 = (Crm__ListCustomersRequest *)s_decode_ok(
        &crm__list_customers_request__descriptor, "{\"isCompany\":false}");
    log.text[0] = '\0';
    cm_pb_diff(&crm__list_customers_request__descriptor, NULL, &l1->base, NULL, s_on_diff, &log);
    CHECK_STR(log.text, "isCompany:  -> false\n");
    protobuf_c_message_free_unpacked(&l1->base, NULL);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    printf("diff: OK\n");
}

/* ---- Text values ---------------------------------------------------------- */

static void test_set_text(void)
{
    Crm__ListCustomersRequest *l =
        (Crm__ListCustomersRequest *)cm_pb_new(&crm__list_customers_request__descriptor);
    struct cm_pbjson_error err;
    CHECK(cm_pbjson_set_text(&l->base, "pageSize", "10", &err) == 0);
    CHECK(l->page_size == 10);
    CHECK(cm_pbjson_set_text(&l->base, "isCompany", "true", &err) == 0);
    CHECK(l->is_company && l->is_company->value);
    CHECK(cm_pbjson_set_text(&l->base, "isCompany", "0", &err) == 0); // replaced
    CHECK(l->is_company && !l->is_company->value);
    CHECK(cm_pbjson_set_text(&l->base, "has_account", "1", &err) == 0);
    CHECK(l->has_account && l->has_account->value);
    CHECK(cm_pbjson_set_text(&l->base, "accountStatus", "ACTIVE", &err) == 0);
    CHECK(l->account_status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE);
    CHECK(cm_pbjson_set_text(&l->base, "accountStatus", "ACCOUNT_STATUS_DISABLED", &err) == 0);
    CHECK(l->account_status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED);
    CHECK(cm_pbjson_set_text(&l->base, "accountStatus", "1", &err) == 0);
    CHECK(l->account_status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_INVITED);
    CHECK(cm_pbjson_set_text(&l->base, "pageToken", "abc", &err) == 0);
    CHECK(cm_pbjson_set_text(&l->base, "pageToken", "def", &err) == 0);
    CHECK_STR(l->page_token, "def");
    CHECK(cm_pbjson_set_text(&l->base, "orderBy", "lastName desc", &err) == 0);
    CHECK_STR(l->order_by, "lastName desc");
    CHECK(cm_pbjson_set_text(&l->base, "tag", "", &err) == 0);
    CHECK(l->tag == protobuf_c_empty_string);
    CHECK(cm_pbjson_set_text(&l->base, "group", "VIP", &err) == 0);
    CHECK(cm_pbjson_set_text(&l->base, "group", NULL, &err) == 0);
    CHECK(l->group == protobuf_c_empty_string);

#define EXPECT_TEXT_ERROR(name, text, want_field, want_description)                                \
    do {                                                                                           \
        CHECK(cm_pbjson_set_text(&l->base, name, text, &err) == -1);                               \
        CHECK_STR(err.field, want_field);                                                          \
        CHECK_STR(err.description, want_description);                                              \
    } while (0)
    EXPECT_TEXT_ERROR("pageSize", "ten", "pageSize", "expected an integer");
    EXPECT_TEXT_ERROR("pageSize", "", "pageSize", "expected an integer");
    EXPECT_TEXT_ERROR("pageSize", "1.5", "pageSize", "expected an integer");
    EXPECT_TEXT_ERROR("pageSize", "+5", "pageSize", "expected an integer");
    EXPECT_TEXT_ERROR("page_size", "99999999999", "pageSize", "out of range for int32");
    EXPECT_TEXT_ERROR("isCompany", "yes", "isCompany", "expected a boolean");
    EXPECT_TEXT_ERROR("accountStatus", "BOGUS", "accountStatus",
                      "not a valid value; expected one of ACTIVE, DISABLED, INVITED, NONE");
    EXPECT_TEXT_ERROR("accountStatus", "9", "accountStatus",
                      "not a valid value; expected one of ACTIVE, DISABLED, INVITED, NONE");
    EXPECT_TEXT_ERROR("foo", "1", "foo", "unknown field");
    EXPECT_TEXT_ERROR("group", "\xff", "group", "not valid UTF-8");
    // Failures leave the message as it was.
    CHECK(l->page_size == 10);
    CHECK(l->is_company && !l->is_company->value);
    CHECK(l->account_status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_INVITED);
    json_t *j = cm_pbjson_encode(&l->base, CM_PBJSON_OMIT_DEFAULTS);
    char *text = json_dumps(j, JSON_COMPACT);
    CHECK_STR(text, "{\"pageSize\":10,\"pageToken\":\"def\",\"orderBy\":\"lastName desc\","
                    "\"isCompany\":false,\"hasAccount\":true,\"accountStatus\":\"INVITED\"}");
    free(text);
    json_decref(j);
    protobuf_c_message_free_unpacked(&l->base, NULL);

    // Repeated values append; messages other than wrappers can't come from text.
    Crmtest__AllTypes *a = (Crmtest__AllTypes *)cm_pb_new(&crmtest__all_types__descriptor);
    CHECK(cm_pbjson_set_text(&a->base, "rInt64", "5", &err) == 0);
    CHECK(cm_pbjson_set_text(&a->base, "rInt64", "-7", &err) == 0);
    CHECK(a->n_r_int64 == 2 && a->r_int64[0] == 5 && a->r_int64[1] == -7);
    CHECK(cm_pbjson_set_text(&a->base, "rString", "x", &err) == 0);
    CHECK(cm_pbjson_set_text(&a->base, "rString", "", &err) == 0);
    CHECK(a->n_r_string == 2 && a->r_string[1] != protobuf_c_empty_string);
    CHECK(cm_pbjson_set_text(&a->base, "rWrapper", "3", &err) == 0);
    CHECK(a->n_r_wrapper == 1 && a->r_wrapper[0]->value == 3);
    CHECK(cm_pbjson_set_text(&a->base, "rEnum", "RED", &err) == 0);
    CHECK(cm_pbjson_set_text(&a->base, "rBool", "false", &err) == 0);
    CHECK(a->n_r_enum == 1 && a->n_r_bool == 1 && a->r_bool[0] == 0);
    CHECK(cm_pbjson_set_text(&a->base, "fBytes", "AQI", &err) == 0);
    CHECK(a->f_bytes.len == 2 && a->f_bytes.data[1] == 2);
    CHECK(cm_pbjson_set_text(&a->base, "fBytes", "AQID", &err) == 0);
    CHECK(a->f_bytes.len == 3);
    CHECK(cm_pbjson_set_text(&a->base, "fDouble", "2.5", &err) == 0);
    CHECK(a->f_double == 2.5);
    CHECK(cm_pbjson_set_text(&a->base, "fUint64", "18446744073709551615", &err) == 0);
    CHECK(a->f_uint64 == UINT64_MAX);
    CHECK(cm_pbjson_set_text(&a->base, "choiceText", "t", &err) == 0);
    CHECK(cm_pbjson_set_text(&a->base, "choiceText", "u", &err) == 0);
    CHECK_STR(a->choice_text, "u");
    CHECK(cm_pbjson_set_text(&a->base, "choiceNumber", "1", &err) == -1);
    CHECK_STR(err.description, "only one of choiceText, choiceNumber, choiceInner may be set");
    CHECK(cm_pbjson_set_text(&a->base, "fInner", "x", &err) == -1);
    CHECK_STR(err.field, "fInner");
    CHECK_STR(err.description, "cannot be set from text");
    CHECK(cm_pbjson_set_text(&a->base, "rInner", "x", &err) == -1);
    CHECK(cm_pbjson_set_text(&a->base, "rInt32", "x", &err) == -1);
    CHECK_STR(err.field, "rInt32");
    CHECK(a->n_r_int32 == 0);
    protobuf_c_message_free_unpacked(&a->base, NULL);

    Crm__BatchDeleteCustomersRequest *bd = (Crm__BatchDeleteCustomersRequest *)cm_pb_new(
        &crm__batch_delete_customers_request__descriptor);
    CHECK(cm_pbjson_set_text(&bd->base, "ids", "a", &err) == 0);
    CHECK(cm_pbjson_set_text(&bd->base, "ids", "b", &err) == 0);
    CHECK(bd->n_ids == 2);
    CHECK_STR(bd->ids[1], "b");
    protobuf_c_message_free_unpacked(&bd->base, NULL);
    printf("set text: OK\n");
}

static void test_new_clone_set_str(void)
{
    Crm__Customer *c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    CHECK(c->first_name == protobuf_c_empty_string && c->company == NULL);
    cm_pb_set_str(&c->first_name, "Ewa");
    CHECK_STR(c->first_name, "Ewa");
    cm_pb_set_str(&c->first_name, "Łucja");
    CHECK_STR(c->first_name, "Łucja");
    cm_pb_set_str(&c->last_name, NULL);
    CHECK(c->last_name == protobuf_c_empty_string);
    cm_pb_set_str(&c->first_name, "");
    CHECK(c->first_name == protobuf_c_empty_string);
    cm_pb_set_str(&c->first_name, "Iga");

    c->company = (Crm__Company *)cm_pb_new(&crm__company__descriptor);
    cm_pb_set_str(&c->company->name, "ACME");
    Crm__Customer *copy = (Crm__Customer *)cm_pb_clone(&c->base);
    cm_pb_set_str(&c->company->name, "Changed");
    cm_pb_set_str(&c->first_name, "Changed");
    CHECK_STR(copy->first_name, "Iga");
    CHECK_STR(copy->company->name, "ACME");
    CHECK(copy->last_name == protobuf_c_empty_string);
    protobuf_c_message_free_unpacked(&c->base, NULL);

    // Unknown fields from the wire survive a clone.
    uint8_t wire[] = {0x0a, 0x01, 'x', 0xf8, 0x06, 0x05}; // id "x", field 111 varint 5
    Crm__Customer *u = crm__customer__unpack(NULL, sizeof wire, wire);
    CHECK(u && u->base.n_unknown_fields == 1);
    Crm__Customer *uc = (Crm__Customer *)cm_pb_clone(&u->base);
    s_check_same_wire(&u->base, &uc->base);
    crm__customer__free_unpacked(u, NULL);
    protobuf_c_message_free_unpacked(&uc->base, NULL);
    protobuf_c_message_free_unpacked(&copy->base, NULL);
    printf("new, clone, set_str: OK\n");
}

/* ---- Straight to text ------------------------------------------------------ */

/* encode_text gives exactly what json_dumps of encode gives. */
static void s_same_text(const ProtobufCMessage *m, unsigned flags, const char *omit, int line)
{
    json_t *j = cm_pbjson_encode(m, flags);
    if (omit) {
        char camel[128];
        cm_pbjson_camel(omit, camel, sizeof camel);
        json_object_del(j, camel);
    }
    char *want = json_dumps(j, JSON_COMPACT);
    size_t len = 0;
    char *got = cm_pbjson_encode_text(m, flags, omit, &len);
    if (strcmp(want, got) != 0 || len != strlen(want)) {
        fprintf(stderr, "line %d:\n  jansson %s\n  text    %s\n", line, want, got);
        abort();
    }
    json_decref(j);
    free(want);
    free(got);
}

static void test_encode_text(void)
{
    struct all_fixture x;
    s_fill_all(&x);
    for (unsigned flags = 0; flags < 2; flags++) {
        s_same_text(&x.m.base, flags, NULL, __LINE__);
        s_same_text(&x.m.base, flags, "f_inner", __LINE__);
    }
    Crmtest__AllTypes m;
    crmtest__all_types__init(&m);
    s_same_text(&m.base, 0, NULL, __LINE__);
    s_same_text(&m.base, CM_PBJSON_OMIT_DEFAULTS, NULL, __LINE__);
    /* Reals of every shape, and the special ones. */
    static const double doubles[] = {0.0,       -0.0,
                                     1.0,       -1.5,
                                     0.1,       1e300,
                                     1e-300,    1e20,
                                     1e21,      123456789012345678.0,
                                     5e-324,    2.5e-5,
                                     NAN,       INFINITY,
                                     -INFINITY, 3.141592653589793};
    static const float floats[] = {0.1f, 1e10f, 3.4e38f, -2.5f, 1e-7f, 16777216.0f, NAN};
    for (size_t i = 0; i < sizeof doubles / sizeof *doubles; i++) {
        m.f_double = doubles[i];
        m.f_float = floats[i % (sizeof floats / sizeof *floats)];
        s_same_text(&m.base, 0, NULL, __LINE__);
    }
    /* Strings: escapes, controls, DEL, slashes, every script, bad bytes. */
    static const char *const strs[] = {"",
                                       "plain",
                                       "q\"uote\\back/slash",
                                       "\x01\x02\x1f\x7f\b\f\n\r\t",
                                       "Zoë Łukasz Иван Ωμέγα",
                                       "\xff",
                                       "a\xff\x62\xC3", /* a, a bad byte, b, a cut sequence */
                                       "\xED\xA0\x80 surrogate",
                                       "\xF0\x9F\x98\x80 emoji \xE2\x80\xA8"};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        m.f_string = (char *)strs[i];
        s_same_text(&m.base, 0, NULL, __LINE__);
        s_same_text(&m.base, CM_PBJSON_OMIT_DEFAULTS, NULL, __LINE__);
    }
    /* A plain ASCII start, then what ends the fast path. */
    static const char *const tails[] = {"abc\"def", "abcdefgh\x01", "Kowalski-Æsir", "name\xC3",
                                        "0123456789abcdef\\"};
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        m.f_string = (char *)tails[i];
        s_same_text(&m.base, 0, NULL, __LINE__);
    }
    m.f_string = (char *)"";
    /* Enum values, named and not, twice over (the second time from the
     * encoder's table of texts). */
    static const int colors[] = {0, 1, 2, 3, 77, -3, 1, 77, 3, 0, 2, -3};
    for (size_t i = 0; i < sizeof colors / sizeof *colors; i++) {
        m.f_enum = (Crmtest__Color)colors[i];
        s_same_text(&m.base, 0, NULL, __LINE__);
    }
    /* A customer as the list returns it. */
    Crm__Customer c;
    crm__customer__init(&c);
    c.id = (char *)"0f8e0e9c-1c2b-4b8a-9d5e-3f2a1b0c9d8e";
    c.first_name = (char *)"Łukasz";
    c.last_name = (char *)"Wiśniewski";
    c.email = (char *)"lukasz@example.com";
    c.etag = (char *)"7";
    char *tags[2] = {(char *)"vip", (char *)"new\nline"};
    c.tags = tags;
    c.n_tags = 2;
    s_same_text(&c.base, 0, NULL, __LINE__);
    s_same_text(&c.base, 0, "etag", __LINE__);
    printf("encode_text: OK\n");
}

int main(void)
{
    test_names();
    test_all_types_round_trip();
    test_defaults();
    test_special_floats();
    test_decode_accepts();
    test_decode_errors();
    test_nesting_limit();
    test_utf8();
    test_unicode_names();
    test_mask_paths();
    test_apply_mask();
    test_clear_path();
    test_diff();
    test_set_text();
    test_new_clone_set_str();
    test_encode_text();
    printf("test_pbjson: all OK\n");
    return 0;
}
