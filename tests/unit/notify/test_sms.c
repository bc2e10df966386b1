/* SMS encoding and parts (3GPP TS 23.038 / 23.040), the sender check and the
 * provider's HTTP outcomes. */
#include "notify_sms.h"
#include "../unit.h"

static struct notify_sms_measure s_m(const char *text)
{
    struct notify_sms_measure m;
    CHECK(notify_sms_measure(text, &m) == 0);
    return m;
}

/* n copies of unit (a UTF-8 string) into buf. */
static const char *s_rep(char *buf, size_t size, const char *unit, int n)
{
    size_t u = strlen(unit), off = 0;
    for (int i = 0; i < n; i++) {
        CHECK(off + u < size);
        memcpy(buf + off, unit, u);
        off += u;
    }
    buf[off] = '\0';
    return buf;
}

static void test_gsm7(void)
{
    struct notify_sms_measure m = s_m("Hello @ 10:00, £5 & Øre! Ça va? ÄÖÜäöüß");
    CHECK(m.encoding == NOTIFY_SMS_GSM7 && m.parts == 1);
    CHECK(m.units == m.characters && m.per_part == 160);
    CHECK(m.remaining == 160 - (int)m.units);
    /* The extension table counts 2 septets: € [ ] { } ~ ^ \ |. */
    m = s_m("€5 [x] {y} ~^\\|");
    CHECK(m.encoding == NOTIFY_SMS_GSM7 && m.characters == 15 && m.units == 24);
    /* Greek capitals of the alphabet stay GSM. */
    CHECK(s_m("ΔΦΓΛΩΠΨΣΘΞ").encoding == NOTIFY_SMS_GSM7);
}

static void test_gsm7_parts(void)
{
    char buf[2000];
    CHECK(s_m(s_rep(buf, sizeof buf, "a", 160)).parts == 1);
    struct notify_sms_measure m = s_m(s_rep(buf, sizeof buf, "a", 161));
    CHECK(m.parts == 2 && m.per_part == 153 && m.remaining == 153 * 2 - 161);
    CHECK(s_m(s_rep(buf, sizeof buf, "a", 306)).parts == 2);
    CHECK(s_m(s_rep(buf, sizeof buf, "a", 307)).parts == 3);
    /* 152 septets then an escape pair: the pair is not split, it opens part 2. */
    char t[400];
    snprintf(t, sizeof t, "%s€%s", s_rep(buf, sizeof buf, "a", 152), "b");
    m = s_m(t);
    CHECK(m.units == 155 && m.parts == 1); /* 155 <= 160: one SMS */
    snprintf(t, sizeof t, "%s€%s", s_rep(buf, sizeof buf, "a", 152), "bcdefgh");
    m = s_m(t);
    CHECK(m.units == 161 && m.parts == 2 && m.remaining == 153 - 9);
}

static void test_ucs2(void)
{
    /* Polish and Bulgarian letters outside the GSM alphabet: UCS-2. */
    struct notify_sms_measure m = s_m("Zażółć gęślą jaźń");
    CHECK(m.encoding == NOTIFY_SMS_UCS2 && m.per_part == 70 && m.parts == 1);
    CHECK(m.characters == 17 && m.units == 17);
    CHECK(s_m("Здравейте").encoding == NOTIFY_SMS_UCS2);
    char buf[2000];
    CHECK(s_m(s_rep(buf, sizeof buf, "ą", 70)).parts == 1);
    m = s_m(s_rep(buf, sizeof buf, "ą", 71));
    CHECK(m.parts == 2 && m.per_part == 67 && m.remaining == 67 * 2 - 71);
    /* An emoji is a surrogate pair: 2 units, never split across parts. */
    m = s_m("🙂");
    CHECK(m.encoding == NOTIFY_SMS_UCS2 && m.characters == 1 && m.units == 2);
    char t[600];
    snprintf(t, sizeof t, "%s🙂", s_rep(buf, sizeof buf, "ą", 66));
    m = s_m(t);
    CHECK(m.units == 68 && m.parts == 1);
    snprintf(t, sizeof t, "%s🙂x", s_rep(buf, sizeof buf, "ą", 69));
    m = s_m(t);
    CHECK(m.units == 72 && m.parts == 2 && m.remaining == 67 - 5);
}

static void test_empty_and_invalid(void)
{
    struct notify_sms_measure m = s_m("");
    CHECK(m.parts == 0 && m.units == 0 && m.encoding == NOTIFY_SMS_GSM7);
    CHECK(notify_sms_measure("\xc3\x28", &m) == -1);
    /* A backtick is not in the GSM alphabet. */
    CHECK(s_m("`").encoding == NOTIFY_SMS_UCS2);
}

static void test_from_and_outcomes(void)
{
    CHECK(notify_sms_from_ok("SalonAnna"));
    CHECK(notify_sms_from_ok("Salon Anna1"));
    CHECK(!notify_sms_from_ok("Salon Anna12"));
    CHECK(!notify_sms_from_ok(""));
    CHECK(!notify_sms_from_ok("Łucja"));
    CHECK(notify_sms_from_ok("+48601234567"));
    CHECK(!notify_sms_from_ok("+"));
    CHECK(!notify_sms_from_ok("+4860123456789012"));
    CHECK(notify_sms_classify(200) == NOTIFY_SENT && notify_sms_classify(202) == NOTIFY_SENT);
    CHECK(notify_sms_classify(0) == NOTIFY_RETRY && notify_sms_classify(503) == NOTIFY_RETRY);
    CHECK(notify_sms_classify(429) == NOTIFY_RETRY && notify_sms_classify(408) == NOTIFY_RETRY);
    CHECK(notify_sms_classify(400) == NOTIFY_REFUSED && notify_sms_classify(401) == NOTIFY_REFUSED);
}

int main(void)
{
    RUN(test_gsm7);
    RUN(test_gsm7_parts);
    RUN(test_ucs2);
    RUN(test_empty_and_invalid);
    RUN(test_from_and_outcomes);
    return 0;
}
