/* Unit tests for cm_pbjson_decode_text: for every input of a large table
 * (valid and hostile JSON, on the test messages of tests/unit/proto/pbtest.proto
 * and the crm messages notes decodes) and for mutations of each, it must give
 * what cm_pbjson_decode gives on jansson's tree of the same text: the same
 * message byte for byte, or the same error field and description. A few
 * cases also check the answer itself. */
#include "cm_pbjson.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "customers.pb-c.h"
#include "history.pb-c.h"
#include "pbtest.pb-c.h"
#include "unit.h"

static const ProtobufCMessageDescriptor *const s_all = &crmtest__all_types__descriptor;

/* The packed bytes of m (malloc'd, length in *len); NULL for NULL. */
static uint8_t *s_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = 0;
    if (!m)
        return NULL;
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*len ? *len : 1);
    CHECK(b);
    CHECK(protobuf_c_message_pack(m, b) == *len);
    return b;
}

static size_t s_decoded, s_refused;

/* Both decoders on text[0..len); aborts, showing the text, when they differ.
 * Returns the text decoder's message (the caller frees it) and its error. */
static ProtobufCMessage *s_both(const ProtobufCMessageDescriptor *desc, const char *text,
                                size_t len, const char *prefix, struct cm_pbjson_error *err)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    struct cm_pbjson_error e1, e2;
    memset(&e1, 'x', sizeof e1);
    memset(&e2, 'y', sizeof e2);
    ProtobufCMessage *m1 = cm_pbjson_decode(desc, j, prefix, &e1);
    json_decref(j);
    ProtobufCMessage *m2 = cm_pbjson_decode_text(desc, text, len, prefix, &e2);
    size_t n1, n2;
    uint8_t *b1 = s_pack(m1, &n1), *b2 = s_pack(m2, &n2);
    bool same =
        (m1 == NULL) == (m2 == NULL) &&
        (m1 ? n1 == n2 && memcmp(b1, b2, n1) == 0
            : strcmp(e1.field, e2.field) == 0 && strcmp(e1.description, e2.description) == 0);
    if (!same) {
        fprintf(stderr, "decoders differ on %s (%zu bytes):", desc->name, len);
        for (size_t i = 0; i < len; i++)
            fprintf(stderr, " %02x", (unsigned char)text[i]);
        fprintf(stderr, "\n");
        fprintf(stderr, "  tree: %s %s: %s\n", m1 ? "decoded" : "refused", m1 ? "" : e1.field,
                m1 ? "" : e1.description);
        fprintf(stderr, "  text: %s %s: %s\n", m2 ? "decoded" : "refused", m2 ? "" : e2.field,
                m2 ? "" : e2.description);
        abort();
    }
    free(b1);
    free(b2);
    if (m1)
        protobuf_c_message_free_unpacked(m1, NULL);
    if (err)
        *err = e2;
    m2 ? s_decoded++ : s_refused++;
    return m2;
}

static void s_same(const ProtobufCMessageDescriptor *desc, const char *text)
{
    ProtobufCMessage *m = s_both(desc, text, strlen(text), NULL, NULL);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* The table: each text on AllTypes, and the whole-message ones on the others too. */
static const char *const s_texts[] = {
    /* Whitespace, empty things, what is not an object. */
    "{}",
    " \t\r\n{ } \n",
    "",
    " ",
    "[]",
    "[1,2]",
    "\"x\"",
    "1",
    "null",
    "true",
    "{",
    "}",
    "{}{}",
    "{} x",
    "{}\x00",
    "\xEF\xBB\xBF{}",
    "{,}",
    "{\"fInt32\":1,}",
    "{\"fInt32\" 1}",
    "{\"fInt32\":}",
    "{fInt32:1}",
    "{'fInt32':1}",
    "{\"fInt32\":1 \"fBool\":true}",
    "{\"fInt32\":1}garbage",
    "{\"fInt32\":1}\n\t ",
    "{\"fInt32\":1}]",
    "[{\"fInt32\":1}",
    /* Integers in every form. */
    "{\"fInt32\":0}",
    "{\"fInt32\":-0}",
    "{\"fInt32\":2147483647}",
    "{\"fInt32\":2147483648}",
    "{\"fInt32\":-2147483648}",
    "{\"fInt32\":-2147483649}",
    "{\"fInt32\":1e3}",
    "{\"fInt32\":1.0}",
    "{\"fInt32\":1.5}",
    "{\"fInt32\":-0.0}",
    "{\"fInt32\":1E2}",
    "{\"fInt32\":1e+2}",
    "{\"fInt32\":1e-2}",
    "{\"fInt32\":100e-2}",
    "{\"fInt32\":\"12\"}",
    "{\"fInt32\":\"-12\"}",
    "{\"fInt32\":\"1e3\"}",
    "{\"fInt32\":\" 1\"}",
    "{\"fInt32\":\"\"}",
    "{\"fInt32\":\"-\"}",
    "{\"fInt32\":\"+1\"}",
    "{\"fInt32\":true}",
    "{\"fInt32\":null}",
    "{\"fInt32\":[1]}",
    "{\"fInt32\":{}}",
    "{\"fInt32\":01}",
    "{\"fInt32\":-}",
    "{\"fInt32\":+1}",
    "{\"fInt32\":.5}",
    "{\"fInt32\":1.}",
    "{\"fInt32\":1e}",
    "{\"fInt32\":1e+}",
    "{\"fInt32\":0x10}",
    "{\"fInt32\":-01}",
    "{\"fInt32\":00}",
    "{\"fUint32\":4294967295}",
    "{\"fUint32\":4294967296}",
    "{\"fUint32\":-1}",
    "{\"fUint32\":\"-0\"}",
    "{\"fInt64\":9223372036854775807}",
    "{\"fInt64\":9223372036854775808}",
    "{\"fInt64\":-9223372036854775808}",
    "{\"fInt64\":-9223372036854775809}",
    "{\"fInt64\":\"9223372036854775807\"}",
    "{\"fInt64\":\"9223372036854775808\"}",
    "{\"fInt64\":\"-9223372036854775808\"}",
    "{\"fInt64\":\"-9223372036854775809\"}",
    "{\"fInt64\":9.2233720368547758e18}",
    "{\"fInt64\":1e19}",
    "{\"fUint64\":\"18446744073709551615\"}",
    "{\"fUint64\":\"18446744073709551616\"}",
    "{\"fUint64\":1.8446744073709552e19}",
    "{\"fUint64\":1e300}",
    "{\"fUint64\":-1}",
    "{\"fUint64\":\"99999999999999999999999\"}",
    ("{\"fSint32\":-5,\"fSint64\":\"-5\",\"fFixed32\":5,\"fFixed64\":\"5\",\"fSfixed32\":-5,"
     "\"fSfixed64\":-5}"),
    "{\"fInt32\":123456789012345678901234567890}",
    "{\"fInt32\":1e400}",
    "{\"fInt32\":-1e400}",
    "{\"fInt32\":1e-400}",
    /* Reals. */
    "{\"fDouble\":1.5}",
    "{\"fDouble\":-0}",
    "{\"fDouble\":-0.0}",
    "{\"fDouble\":1e308}",
    "{\"fDouble\":1e309}",
    "{\"fDouble\":2.2250738585072014e-308}",
    "{\"fDouble\":4e-320}",
    "{\"fDouble\":\"NaN\"}",
    "{\"fDouble\":\"Infinity\"}",
    "{\"fDouble\":\"-Infinity\"}",
    "{\"fDouble\":\"inf\"}",
    "{\"fDouble\":\"1e999\"}",
    "{\"fDouble\":\"1.5\"}",
    "{\"fDouble\":\" 1.5\"}",
    "{\"fDouble\":\"0x1p3\"}",
    "{\"fDouble\":\".5\"}",
    "{\"fDouble\":\"1e\"}",
    "{\"fDouble\":\"\"}",
    "{\"fDouble\":true}",
    "{\"fDouble\":null}",
    "{\"fDouble\":12345678901234567890}",
    "{\"fFloat\":3.4028234e38}",
    "{\"fFloat\":3.5e38}",
    "{\"fFloat\":-3.5e38}",
    "{\"fFloat\":\"Infinity\"}",
    "{\"fFloat\":1e-50}",
    "{\"fFloat\":0.1}",
    "{\"fFloat\":\"3.5e38\"}",
    /* Booleans and words. */
    "{\"fBool\":true}",
    "{\"fBool\":false}",
    "{\"fBool\":1}",
    "{\"fBool\":\"true\"}",
    "{\"fBool\":tru}",
    "{\"fBool\":truex}",
    "{\"fBool\":True}",
    "{\"fBool\":nul}",
    "{\"fBool\":null}",
    "{\"fBool\":falsetrue}",
    /* Strings: escapes, UTF-8, controls, NUL. */
    "{\"fString\":\"\"}",
    "{\"fString\":\"plain\"}",
    "{\"fString\":\"a\\\"b\\\\c\\/d\"}",
    "{\"fString\":\"\\b\\f\\n\\r\\t\"}",
    "{\"fString\":\"\\u00e9\\u4e2d\"}",
    "{\"fString\":\"\\u00E9\"}",
    "{\"fString\":\"\\ud83d\\ude00\"}",
    "{\"fString\":\"\\uD83D\\uDE00x\"}",
    "{\"fString\":\"\\ud83d\"}",
    "{\"fString\":\"\\ud83dx\"}",
    "{\"fString\":\"\\ud83d\\u0041\"}",
    "{\"fString\":\"\\ude00\"}",
    "{\"fString\":\"\\ude00\\ud83d\"}",
    "{\"fString\":\"\\ud83d\\ud83d\"}",
    "{\"fString\":\"\\u0000\"}",
    "{\"fString\":\"a\\u0000b\"}",
    "{\"fString\":\"\\u0001\"}",
    "{\"fString\":\"\\u001f\"}",
    "{\"fString\":\"\\u12\"}",
    "{\"fString\":\"\\u12g4\"}",
    "{\"fString\":\"\\x41\"}",
    "{\"fString\":\"\\a\"}",
    "{\"fString\":\"\\\"}",
    "{\"fString\":\"\\",
    "{\"fString\":\"abc",
    "{\"fString\":\"a\nb\"}",
    "{\"fString\":\"a\tb\"}",
    "{\"fString\":\"a\x01\"}",
    "{\"fString\":\"a\x7f\"}",
    "{\"fString\":\"\xc3\xa9\"}",
    "{\"fString\":\"\xc3\"}",
    "{\"fString\":\"\xc3x\"}",
    "{\"fString\":\"\xc0\x80\"}",
    "{\"fString\":\"\xc1\xbf\"}",
    "{\"fString\":\"\xe0\x80\x80\"}",
    "{\"fString\":\"\xe0\xa0\x80\"}",
    "{\"fString\":\"\xed\xa0\x80\"}",
    "{\"fString\":\"\xed\x9f\xbf\"}",
    "{\"fString\":\"\xef\xbf\xbf\"}",
    "{\"fString\":\"\xf0\x80\x80\x80\"}",
    "{\"fString\":\"\xf0\x90\x80\x80\"}",
    "{\"fString\":\"\xf4\x8f\xbf\xbf\"}",
    "{\"fString\":\"\xf4\x90\x80\x80\"}",
    "{\"fString\":\"\xf5\x80\x80\x80\"}",
    "{\"fString\":\"\xff\"}",
    "{\"fString\":\"\x80\"}",
    "{\"f\xc3\xa9\":1}",
    "{\"\xff\":1}",
    "{\"fString\":\"\xe2\x82\"}",
    "{\"fString\":1}",
    "{\"fString\":null}",
    "{\"fString\":[\"a\"]}",
    "{\"f\\u0053tring\":\"escaped key\"}",
    "{\"\\u0000\":1}",
    "{\"fString\":\"a\"\"b\"}",
    /* Bytes. */
    "{\"fBytes\":\"\"}",
    "{\"fBytes\":\"aGVsbG8=\"}",
    "{\"fBytes\":\"aGVsbG8\"}",
    "{\"fBytes\":\"aGVsbG8-_w==\"}",
    "{\"fBytes\":\"aGVsbG8-_w\"}",
    "{\"fBytes\":\"a\"}",
    "{\"fBytes\":\"****\"}",
    "{\"fBytes\":\"aGVs bG8=\"}",
    "{\"fBytes\":1}",
    "{\"fBytes\":\"\\u0061GVsbG8=\"}",
    /* Enums. */
    "{\"fEnum\":\"RED\"}",
    "{\"fEnum\":\"COLOR_RED\"}",
    "{\"fEnum\":\"DARK_BLUE\"}",
    "{\"fEnum\":\"GREEN\"}",
    "{\"fEnum\":\"red\"}",
    "{\"fEnum\":\"\"}",
    "{\"fEnum\":2}",
    "{\"fEnum\":7}",
    "{\"fEnum\":-1}",
    "{\"fEnum\":2.0}",
    "{\"fEnum\":\"2\"}",
    "{\"fEnum\":4294967298}",
    "{\"fEnum\":true}",
    "{\"fEnum\":null}",
    /* Messages, wrappers, the oneof. */
    "{\"fInner\":{\"name\":\"a\",\"n\":1}}",
    "{\"fInner\":{}}",
    "{\"fInner\":null}",
    "{\"fInner\":1}",
    "{\"fInner\":[]}",
    "{\"fInner\":{\"zz\":1}}",
    "{\"fInner\":{\"children\":[{\"name\":\"b\"},{\"n\":\"x\"}]}}",
    "{\"fInner\":{\"children\":[{\"name\":\"b\"},null]}}",
    "{\"fWrapper\":5}",
    "{\"fWrapper\":{\"value\":5}}",
    "{\"fWrapper\":\"5\"}",
    "{\"fWrapper\":null}",
    "{\"fWrapper\":true}",
    "{\"fWrapper\":[5]}",
    "{\"fWrapper\":{\"value\":null}}",
    "{\"principal\":{\"role\":\"OWNER\"}}",
    "{\"principal\":{\"role\":\"NOBODY\"}}",
    "{\"choiceText\":\"a\"}",
    "{\"choiceNumber\":\"7\"}",
    "{\"choiceInner\":{\"n\":1}}",
    "{\"choiceText\":\"a\",\"choiceNumber\":1}",
    "{\"choiceText\":null,\"choiceNumber\":1}",
    "{\"choiceText\":\"a\",\"choiceNumber\":null}",
    "{\"choiceText\":\"\"}",
    "{\"choiceText\":\"a\",\"choiceText\":\"b\"}",
    "{\"choiceText\":\"a\",\"choice_text\":\"b\"}",
    "{\"choiceText\":1,\"choiceNumber\":\"x\"}",
    /* Repeated fields. */
    "{\"rInt32\":[]}",
    "{\"rInt32\":[1,2,3]}",
    "{\"rInt32\":[1,\"2\",3.0]}",
    "{\"rInt32\":[1,2.5]}",
    "{\"rInt32\":[1,null]}",
    "{\"rInt32\":[1,]}",
    "{\"rInt32\":[,1]}",
    "{\"rInt32\":[1 2]}",
    "{\"rInt32\":[1}",
    "{\"rInt32\":1}",
    "{\"rInt32\":null}",
    "{\"rInt32\":[[1]]}",
    "{\"rInt64\":[\"1\",2]}",
    "{\"rUint32\":[1,-1]}",
    "{\"rUint64\":[\"1\"]}",
    "{\"rSint32\":[-1]}",
    "{\"rSint64\":[\"-1\"]}",
    "{\"rFixed32\":[1]}",
    "{\"rFixed64\":[\"1\"]}",
    "{\"rSfixed32\":[-1]}",
    "{\"rSfixed64\":[\"-1\"]}",
    "{\"rFloat\":[1.5,\"NaN\"]}",
    "{\"rDouble\":[1,2.5,\"-Infinity\"]}",
    "{\"rBool\":[true,false,true]}",
    "{\"rBool\":[true,0]}",
    "{\"rString\":[\"a\",\"\",\"c\"]}",
    "{\"rString\":[\"a\",1]}",
    "{\"rString\":[\"\\u0000\"]}",
    "{\"rBytes\":[\"YQ==\",\"\"]}",
    "{\"rBytes\":[\"!\"]}",
    "{\"rEnum\":[\"RED\",2,\"GREEN\"]}",
    "{\"rEnum\":[\"PINK\"]}",
    "{\"rInner\":[{\"name\":\"a\"},{}]}",
    "{\"rInner\":[{\"name\":\"a\"},3]}",
    "{\"rInner\":[{\"name\":\"a\",\"children\":[{\"n\":1},{\"n\":\"q\"}]}]}",
    "{\"rWrapper\":[1,{\"value\":2},\"3\"]}",
    "{\"rWrapper\":[1,null]}",
    "{\"rWrapper\":[1,\"x\"]}",
    "{\"rInt32\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]}",
    /* Names: both spellings, unknown keys, keys given twice. */
    "{\"f_int32\":1}",
    "{\"fInt32\":1,\"f_int32\":2}",
    "{\"f_int32\":1,\"fInt32\":2}",
    "{\"fint32\":1}",
    "{\"FInt32\":1}",
    "{\"\":1}",
    "{\"unknown\":1}",
    "{\"fInt32\":1,\"unknown\":{\"deep\":[1,2,{\"x\":null}]}}",
    "{\"unknown\":[1,}",
    "{\"fInt32\":1,\"fInt32\":2}",
    "{\"fInt32\":\"bad\",\"fInt32\":2}",
    "{\"fInt32\":2,\"fInt32\":\"bad\"}",
    "{\"fInt32\":1,\"fBool\":\"bad\",\"fInt32\":\"worse\"}",
    "{\"fInt32\":1,\"fBool\":\"bad\",\"fInt32\":3}",
    "{\"fInt32\":1,\"f_int32\":2,\"fInt32\":3}",
    "{\"f_int32\":\"bad\",\"fInt32\":2,\"f_int32\":1}",
    "{\"zz\":1,\"fInt32\":\"x\",\"zz\":2}",
    "{\"fInt32\":\"x\",\"zz\":1,\"fInt32\":1}",
    "{\"fInner\":{\"n\":1,\"n\":\"x\"},\"fInner\":{\"n\":2}}",
    "{\"fInner\":{\"n\":\"x\"},\"fBool\":1,\"fInner\":{\"n\":2}}",
    "{\"fInner\":{\"n\":1,\"n\":2}}",
    "{\"fInner\":{\"n\":\"x\",\"n\":2},\"fBool\":true}",
    "{\"rInt32\":[1],\"rInt32\":[2,3]}",
    "{\"rInt32\":[\"x\"],\"rInt32\":[2,3]}",
    "{\"choiceText\":\"a\",\"choiceNumber\":1,\"choiceText\":null}",
    "{\"choiceNumber\":1,\"choiceText\":\"a\",\"choiceNumber\":null}",
    "{\"f\\u0049nt32\":\"x\",\"fInt32\":1}",
    "{\"fInt32\":1,\"fInt32\":2,\"fInt32\":\"x\"}",
    "{\"fInt32\":\"x\",\"fInt32\":2}garbage",
    "{\"fInt32\":\"x\",\"fInt32\":2,}",
    "{\"fInt32\":\"x\",\"unknown\":\"\\u0000\"}",
    "{\"unknown\":1,\"z\":1e400}",
    "{\"fInt32\":\"x\",\"z\":99999999999999999999}",
};

/* The messages notes decodes from its own rows. */
static const char *const s_timeline[] = {
    "{\"booking\":{\"id\":\"b1\",\"service\":\"Cut\",\"staff\":\"Ann\","
    "\"startsAt\":\"2026-01-01T10:00:00Z\",\"status\":\"BOOKED\"}}",
    "{\"note\":{\"id\":\"n1\",\"body\":\"Hello \\\"world\\\"\\n\\u00e9\",\"authorName\":\"A\","
    "\"pinned\":true,\"updatedAt\":\"2026-01-01T10:00:00Z\"}}",
    "{\"task\":{\"id\":\"t\",\"title\":\"Call\",\"dueAt\":\"\",\"assigneeName\":\"B\",\"done\":"
    "false}}",
    "{\"order\":{\"totalMinor\":\"1250\",\"currency\":\"EUR\"}}",
    "{\"id\":\"x\",\"kind\":\"BOOKING\",\"unknownThing\":1}",
    "{\"message\":{\"channel\":\"EMAIL\"}}",
    "{\"booking\":{\"id\":\"b1\"},\"booking\":{\"id\":\"b2\"}}",
    "{\"firstName\":\"Zo\u00eb\",\"last_name\":\"\u0141\u00f3d\u017a\",\"gender\":\"FEMALE\","
    "\"groups\":[\"g1\",\"g2\"],\"tags\":[],\"addresses\":[{\"line1\":\"Main 1\","
    "\"country\":\"PL\"},{}],\"externalIds\":null}",
    "{\"firstName\":\"A\",\"first_name\":\"B\"}",
    "{\"gender\":\"GENDER_MALE\",\"gender\":3}",
    "{\"addresses\":[{\"line1\":1}]}",
};

static void test_table(void)
{
    size_t n = sizeof s_texts / sizeof s_texts[0];
    for (size_t i = 0; i < n; i++) {
        s_same(s_all, s_texts[i]);
        s_same(&crmtest__node__descriptor, s_texts[i]);
        s_same(&crm__timeline_entry__descriptor, s_texts[i]);
        s_same(&crm__customer__descriptor, s_texts[i]);
    }
    for (size_t i = 0; i < sizeof s_timeline / sizeof s_timeline[0]; i++) {
        s_same(&crm__timeline_entry__descriptor, s_timeline[i]);
        s_same(&crm__summary__descriptor, s_timeline[i]);
        s_same(&crm__customer__descriptor, s_timeline[i]);
        s_same(s_all, s_timeline[i]);
    }
    CHECK(s_decoded > 100 && s_refused > 500);
}

/* Embedded NULs and a text that is not NUL-terminated. */
static void test_lengths(void)
{
    static const char nul[] = "{\"fString\":\"a\0b\"}";
    struct cm_pbjson_error err;
    CHECK(!s_both(s_all, nul, sizeof nul - 1, NULL, &err));
    CHECK_STR(err.description, "expected an object");
    static const char tail[] = "{\"fInt32\":1}\0";
    CHECK(!s_both(s_all, tail, sizeof tail - 1, NULL, &err));
    // jansson drops one NUL byte right after a number or a word, and only there.
    static const char after_number[] = "{\"fInt32\":1\0,\"fBool\":true\0,\"fString\":null\0}";
    Crmtest__AllTypes *d =
        (Crmtest__AllTypes *)s_both(s_all, after_number, sizeof after_number - 1, NULL, &err);
    CHECK(d && d->f_int32 == 1 && d->f_bool);
    protobuf_c_message_free_unpacked(&d->base, NULL);
    static const char *const refused[] = {"{\"fInt32\":1 \0}", "{\"fInt32\":1\0\0}",
                                          "{\"fString\":\"a\"\0}", "{\"fInner\":{}\0}"};
    static const size_t refused_len[] = {14, 14, 16, 14};
    for (size_t i = 0; i < 4; i++)
        CHECK(!s_both(s_all, refused[i], refused_len[i], NULL, &err));
    // Only the first 12 bytes of a longer buffer.
    const char *text = "{\"fInt32\":1}{\"fInt32\":2}";
    Crmtest__AllTypes *m = (Crmtest__AllTypes *)s_both(s_all, text, 12, NULL, &err);
    CHECK(m && m->f_int32 == 1);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    CHECK(!cm_pbjson_decode_text(s_all, NULL, 0, "body", &err));
    CHECK_STR(err.field, "body");
    CHECK_STR(err.description, "expected an object");
}

/* What the answers are, not only that they agree. */
static void test_answers(void)
{
    struct cm_pbjson_error err;
    const char *dup = "{\"fInt32\":\"bad\",\"fString\":\"s\",\"fInt32\":7}";
    Crmtest__AllTypes *m = (Crmtest__AllTypes *)s_both(s_all, dup, strlen(dup), NULL, &err);
    CHECK(m && m->f_int32 == 7 && strcmp(m->f_string, "s") == 0);
    protobuf_c_message_free_unpacked(&m->base, NULL);

    const char *both = "{\"fInt32\":1,\"f_int32\":2}";
    CHECK(!s_both(s_all, both, strlen(both), "req", &err));
    CHECK_STR(err.field, "req.fInt32");
    CHECK_STR(err.description, "given more than once");

    const char *deep = "{\"rInner\":[{\"children\":[{},{\"n\":2147483648}]}]}";
    CHECK(!s_both(s_all, deep, strlen(deep), NULL, &err));
    CHECK_STR(err.field, "rInner[0].children[1].n");
    CHECK_STR(err.description, "out of range for int32");

    // Bad JSON after a wrong field: the whole text is refused, as jansson does.
    const char *late = "{\"fInt32\":\"x\",\"fBool\":tru}";
    CHECK(!s_both(s_all, late, strlen(late), NULL, &err));
    CHECK_STR(err.field, "");
    CHECK_STR(err.description, "expected an object");

    const char *pair = "{\"fString\":\"\\ud83d\\ude00\"}";
    m = (Crmtest__AllTypes *)s_both(s_all, pair, strlen(pair), NULL, &err);
    CHECK(m);
    CHECK_STR(m->f_string, "\xf0\x9f\x98\x80");
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

/* A text of depth levels: Node in Node, or arrays under an unknown key. */
static char *s_nodes(int depth)
{
    size_t cap = (size_t)depth * 12 + 16, o = 0;
    char *s = malloc(cap);
    CHECK(s);
    for (int i = 0; i < depth; i++)
        o += (size_t)snprintf(s + o, cap - o, i ? "\"child\":{" : "{");
    o += (size_t)snprintf(s + o, cap - o, "\"v\":1");
    for (int i = 0; i < depth; i++)
        s[o++] = '}';
    s[o] = '\0';
    return s;
}

static char *s_arrays(const char *head, int depth)
{
    size_t hl = strlen(head), cap = hl + 2 * (size_t)depth + 8, o = 0;
    char *s = malloc(cap);
    CHECK(s);
    memcpy(s, head, hl);
    o = hl;
    for (int i = 0; i < depth; i++)
        s[o++] = '[';
    for (int i = 0; i < depth; i++)
        s[o++] = ']';
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

static void test_depth(void)
{
    for (int d = CM_PBJSON_MAX_DEPTH - 1; d <= CM_PBJSON_MAX_DEPTH + 2; d++) {
        char *t = s_nodes(d);
        s_same(&crmtest__node__descriptor, t);
        free(t);
    }
    // jansson parses 2048 levels of values; the 2049th fails the whole text.
    static const char *const heads[] = {
        "{\"zz\":", "{\"fInt32\":\"x\",\"zz\":", "{\"rInt32\":", "{\"fInt32\":1,\"fInt32\":"};
    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
        for (int d = 2045; d <= 2049; d++) {
            char *t = s_arrays(heads[h], d);
            s_same(s_all, t);
            free(t);
        }
    }
}

/* A small deterministic generator, so every run tries the same mutations. */
static uint32_t s_rand(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* Mutations of every table text: a byte removed, doubled, replaced with one
 * that matters to JSON, or a piece of another text spliced in. */
static void test_mutations(void)
{
    static const char pick[] = "{}[]\",:\\0123456789-+.eEtfnul \x00\x80\xc3\xed\xff";
    size_t n = sizeof s_texts / sizeof s_texts[0];
    uint32_t st = 1;
    char buf[512];
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(s_texts[i]);
        if (len == 0 || len + 64 >= sizeof buf)
            continue;
        for (int k = 0; k < 40; k++) {
            memcpy(buf, s_texts[i], len);
            size_t l = len, at = s_rand(&st) % len;
            switch (s_rand(&st) % 4) {
            case 0:
                memmove(buf + at, buf + at + 1, l - at - 1);
                l--;
                break;
            case 1:
                memmove(buf + at + 1, buf + at, l - at);
                l++;
                break;
            case 2:
                buf[at] = pick[s_rand(&st) % (sizeof pick - 1)];
                break;
            default: {
                const char *o = s_texts[s_rand(&st) % n];
                size_t ol = strlen(o), from = ol ? s_rand(&st) % ol : 0;
                size_t take = ol - from < 24 ? ol - from : 24;
                memmove(buf + at + take, buf + at, l - at);
                memcpy(buf + at, o + from, take);
                l += take;
            }
            }
            ProtobufCMessage *m = s_both(s_all, buf, l, NULL, NULL);
            if (m)
                protobuf_c_message_free_unpacked(m, NULL);
            m = s_both(&crm__timeline_entry__descriptor, buf, l, "entry", NULL);
            if (m)
                protobuf_c_message_free_unpacked(m, NULL);
        }
    }
}

/* Everything cm_pbjson_encode_text writes decodes back to the same message. */
static void test_round_trip(void)
{
    const char *text =
        "{\"fInt32\":-5,\"fInt64\":\"-9000000000\",\"fUint64\":\"18446744073709551615\","
        "\"fFloat\":0.1,\"fDouble\":\"NaN\",\"fBool\":true,\"fString\":\"\\u00e9\\n\","
        "\"fBytes\":\"AAEC\",\"fEnum\":\"DARK_BLUE\",\"fInner\":{\"name\":\"x\","
        "\"children\":[{\"n\":1}]},\"fWrapper\":3,\"rString\":[\"a\",\"b\"],"
        "\"rWrapper\":[1,2],\"choiceInner\":{\"n\":4}}";
    ProtobufCMessage *m = s_both(s_all, text, strlen(text), NULL, NULL);
    CHECK(m);
    for (unsigned flags = 0; flags <= CM_PBJSON_OMIT_DEFAULTS; flags++) {
        size_t len;
        char *out = cm_pbjson_encode_text(m, flags, NULL, &len);
        ProtobufCMessage *back = s_both(s_all, out, len, NULL, NULL);
        CHECK(back);
        size_t n1, n2;
        uint8_t *b1 = s_pack(m, &n1), *b2 = s_pack(back, &n2);
        CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
        free(b1);
        free(b2);
        free(out);
        protobuf_c_message_free_unpacked(back, NULL);
    }
    protobuf_c_message_free_unpacked(m, NULL);
}

int main(void)
{
    RUN(test_table);
    RUN(test_lengths);
    RUN(test_answers);
    RUN(test_depth);
    RUN(test_mutations);
    RUN(test_round_trip);
    printf("test_pbjson_text: all OK (%zu decoded, %zu refused)\n", s_decoded, s_refused);
    return 0;
}
