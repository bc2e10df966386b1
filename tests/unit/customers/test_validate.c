/* Unit tests for customers_validate: what a user typing into a customer form would expect to be
 * accepted, how it is stored, and the reason given when it is refused. */
#include "customers_validate.h"
#include "cm_util.h"
#include "../unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- e-mail */

/* Asserts that in is accepted and stored as want. */
static void s_email_ok(const char *in, const char *want, int line)
{
    char out[CUSTOMERS_EMAIL_SIZE];
    const char *why = NULL;
    int rc = customers_validate_email(in, out, sizeof out, &why);
    if (rc != 0 || strcmp(out, want) != 0) {
        fprintf(stderr, "%s:%d: email \"%s\": rc %d (%s), got \"%s\", want \"%s\"\n", __FILE__,
                line, in, rc, why ? why : "", out, want);
        abort();
    }
}

/* Asserts that in is refused with reason want_why. */
static void s_email_bad(const char *in, const char *want_why, int line)
{
    char out[CUSTOMERS_EMAIL_SIZE];
    const char *why = NULL;
    int rc = customers_validate_email(in, out, sizeof out, &why);
    if (rc != -1 || !why || strcmp(why, want_why) != 0 || out[0] != '\0') {
        fprintf(stderr, "%s:%d: email \"%s\": rc %d, why \"%s\", want \"%s\"\n", __FILE__, line, in,
                rc, why ? why : "(null)", want_why);
        abort();
    }
}

#define EMAIL_OK(in, want) s_email_ok(in, want, __LINE__)
#define EMAIL_BAD(in, why) s_email_bad(in, why, __LINE__)

static void test_email_valid(void)
{
    EMAIL_OK("jan.kowalski@example.com", "jan.kowalski@example.com");
    EMAIL_OK("  Jan.Kowalski@Example.COM \t\n", "Jan.Kowalski@example.com");
    EMAIL_OK("a+tag@mail.example.co.uk", "a+tag@mail.example.co.uk");
    EMAIL_OK("o'brien@example.ie", "o'brien@example.ie");
    EMAIL_OK("x!#$%&'*+-/=?^_`{|}~y@example.org", "x!#$%&'*+-/=?^_`{|}~y@example.org");
    EMAIL_OK("user@sub-domain.example-1.com", "user@sub-domain.example-1.com");
    EMAIL_OK("user@123.example.com", "user@123.example.com");
    /* IDN domains: ASCII is lower-cased, the UTF-8 letters are kept. */
    EMAIL_OK("hans@MÜLLER.de", "hans@mÜller.de");
    EMAIL_OK("ivan@пример.рф", "ivan@пример.рф");
    /* Exactly 64 bytes of local part, a 63-byte label. */
    char buf[400];
    memset(buf, 'a', 64);
    snprintf(buf + 64, sizeof buf - 64, "@example.com");
    EMAIL_OK(buf, buf);
    memcpy(buf, "x@", 2);
    memset(buf + 2, 'c', 63);
    snprintf(buf + 65, sizeof buf - 65, ".com");
    EMAIL_OK(buf, buf);
    /* Exactly 254 bytes in all. */
    memcpy(buf, "x@", 2);
    size_t at = 2;
    for (int i = 0; i < 4; i++) {
        memset(buf + at, 'd', 60);
        buf[at + 60] = '.';
        at += 61;
    }
    memset(buf + at, 'e', 254 - at);
    buf[254] = '\0';
    CHECK(strlen(buf) == 254);
    EMAIL_OK(buf, buf);
    printf("test_email_valid: OK\n");
}

static void test_email_invalid(void)
{
    EMAIL_BAD("", "empty");
    EMAIL_BAD("   ", "empty");
    EMAIL_BAD("jan.example.com", "missing @");
    EMAIL_BAD("jan@kowalski@example.com", "more than one @");
    EMAIL_BAD("@example.com", "missing local part");
    EMAIL_BAD("jan@", "missing domain");
    EMAIL_BAD("jan@localhost", "domain has no dot");
    EMAIL_BAD(".jan@example.com", "local part starts or ends with a dot");
    EMAIL_BAD("jan.@example.com", "local part starts or ends with a dot");
    EMAIL_BAD("jan..kowalski@example.com", "local part has two dots in a row");
    EMAIL_BAD("jan kowalski@example.com", "invalid character in local part");
    EMAIL_BAD("\"jan\"@example.com", "invalid character in local part");
    EMAIL_BAD("jörg@example.de", "invalid character in local part");
    EMAIL_BAD("jan@exa_mple.com", "invalid character in domain");
    EMAIL_BAD("jan@[192.168.0.1]", "invalid character in domain");
    EMAIL_BAD("jan@example..com", "domain has an empty label");
    EMAIL_BAD("jan@.example.com", "domain has an empty label");
    EMAIL_BAD("jan@example.com.", "domain has an empty label");
    EMAIL_BAD("jan@-example.com", "domain label starts or ends with a hyphen");
    EMAIL_BAD("jan@example-.com", "domain label starts or ends with a hyphen");
    EMAIL_BAD("jan@example.c", "top-level domain too short");
    EMAIL_BAD("jan@example.123", "top-level domain is all digits");
    EMAIL_BAD("jan@192.168.0.10", "top-level domain is all digits");
    EMAIL_BAD("jan@example.\xff\xfe", "invalid UTF-8");

    char buf[400];
    memset(buf, 'a', 65);
    snprintf(buf + 65, sizeof buf - 65, "@example.com");
    EMAIL_BAD(buf, "local part too long (at most 64 characters)");
    memcpy(buf, "x@", 2);
    memset(buf + 2, 'c', 64);
    snprintf(buf + 66, sizeof buf - 66, ".com");
    EMAIL_BAD(buf, "domain label too long (at most 63 characters)");
    /* 255 bytes in all. */
    memcpy(buf, "x@", 2);
    size_t at = 2;
    for (int i = 0; i < 4; i++) {
        memset(buf + at, 'd', 60);
        buf[at + 60] = '.';
        at += 61;
    }
    memset(buf + at, 'e', 255 - at);
    buf[255] = '\0';
    EMAIL_BAD(buf, "too long (at most 254 characters)");

    /* why may be NULL. */
    char out[CUSTOMERS_EMAIL_SIZE];
    CHECK(customers_validate_email("nope", out, sizeof out, NULL) == -1);
    printf("test_email_invalid: OK\n");
}

static void test_email_key(void)
{
    char a[CUSTOMERS_EMAIL_KEY_SIZE], b[CUSTOMERS_EMAIL_KEY_SIZE];
    customers_validate_email_key("Jan.Kowalski@Example.COM", a, sizeof a);
    CHECK_STR(a, "jan.kowalski@example.com");
    customers_validate_email_key("jan.kowalski@example.com", b, sizeof b);
    CHECK_STR(a, b);
    customers_validate_email_key("  Jan@Example.com  ", a, sizeof a);
    CHECK_STR(a, "jan@example.com");

    /* Non-ASCII domains fold too: Ü -> ü, Cyrillic upper -> lower, ß -> ss. */
    customers_validate_email_key("hans@MÜLLER.DE", a, sizeof a);
    CHECK_STR(a, "hans@müller.de");
    customers_validate_email_key("ivan@ПРИМЕР.РФ", a, sizeof a);
    CHECK_STR(a, "ivan@пример.рф");
    customers_validate_email_key("info@STRAẞE.de", a, sizeof a);
    CHECK_STR(a, "info@strasse.de");
    /* Decomposed u + combining diaeresis composes to the same key as precomposed ü. */
    customers_validate_email_key("hans@mu\xcc\x88ller.de", a, sizeof a);
    customers_validate_email_key("hans@m\xc3\xbcller.de", b, sizeof b);
    CHECK_STR(a, b);
    /* Different addresses keep different keys. */
    customers_validate_email_key("jan@example.com", a, sizeof a);
    customers_validate_email_key("jana@example.com", b, sizeof b);
    CHECK(strcmp(a, b) != 0);

    /* A small buffer cuts at a code-point boundary, never inside ü. */
    char small[8];
    customers_validate_email_key("ABCDEFÜ@x.de", small, sizeof small);
    CHECK_STR(small, "abcdef");
    customers_validate_email_key("ABCDEÜ@x.de", small, sizeof small);
    CHECK_STR(small, "abcdeü");
    printf("test_email_key: OK\n");
}

/* ---------------------------------------------------------------- phone */

static void s_phone_ok(const char *in, const char *country, const char *want, int line)
{
    char out[CUSTOMERS_PHONE_SIZE];
    const char *why = NULL;
    int rc = customers_validate_phone(in, country, out, sizeof out, &why);
    if (rc != 0 || strcmp(out, want) != 0) {
        fprintf(stderr, "%s:%d: phone \"%s\" (%s): rc %d (%s), got \"%s\", want \"%s\"\n", __FILE__,
                line, in, country ? country : "NULL", rc, why ? why : "", out, want);
        abort();
    }
}

static void s_phone_bad(const char *in, const char *country, const char *want_why, int line)
{
    char out[CUSTOMERS_PHONE_SIZE];
    const char *why = NULL;
    int rc = customers_validate_phone(in, country, out, sizeof out, &why);
    if (rc != -1 || !why || strcmp(why, want_why) != 0 || out[0] != '\0') {
        fprintf(stderr, "%s:%d: phone \"%s\" (%s): rc %d, why \"%s\", want \"%s\"\n", __FILE__,
                line, in, country ? country : "NULL", rc, why ? why : "(null)", want_why);
        abort();
    }
}

#define PHONE_OK(in, country, want) s_phone_ok(in, country, want, __LINE__)
#define PHONE_BAD(in, country, why) s_phone_bad(in, country, why, __LINE__)

static void test_phone_valid(void)
{
    PHONE_OK("600 100 200", "PL", "+48600100200");
    PHONE_OK("+48 600-100-200", "PL", "+48600100200");
    PHONE_OK("+48 600-100-200", NULL, "+48600100200");
    PHONE_OK("0048600100200", "PL", "+48600100200");
    PHONE_OK("0048600100200", "", "+48600100200");
    PHONE_OK("  +48.600.100.200  ", "DE", "+48600100200");
    /* Germany: trunk 0 dropped, however it is written. */
    PHONE_OK("(030) 123 4567", "DE", "+49301234567");
    PHONE_OK("0 30 1234567", "DE", "+49301234567");
    PHONE_OK("030/1234567", "DE", "+49301234567");
    PHONE_OK("+49 (0)30 1234567", "PL", "+49301234567");
    PHONE_OK("+49 030 1234567", NULL, "+49301234567");
    PHONE_OK("0049 (0)30 1234567", "DE", "+49301234567");
    PHONE_OK("0151 23456789", "de", "+4915123456789");
    /* France, UK, Bulgaria, Norway. */
    PHONE_OK("06 12 34 56 78", "FR", "+33612345678");
    PHONE_OK("+44 (0)20 7946 0958", NULL, "+442079460958");
    PHONE_OK("020 7946 0958", "GB", "+442079460958");
    PHONE_OK("07700 900123", "GB", "+447700900123");
    PHONE_OK("0888 123 456", "BG", "+359888123456");
    PHONE_OK("912 34 567", "NO", "+4791234567");
    /* Italy keeps its leading 0, also after +39. */
    PHONE_OK("02 1234 5678", "IT", "+390212345678");
    PHONE_OK("+39 02 1234 5678", NULL, "+390212345678");
    PHONE_OK("333 123 4567", "IT", "+393331234567");
    /* North America: optional trunk 1, exit code 011. */
    PHONE_OK("+1 (415) 555-0132", NULL, "+14155550132");
    PHONE_OK("(415) 555-0132", "US", "+14155550132");
    PHONE_OK("1-415-555-0132", "US", "+14155550132");
    PHONE_OK("416.555.0199", "CA", "+14165550199");
    PHONE_OK("011 48 600 100 200", "US", "+48600100200");
    /* Russia: trunk 8 except on a ten-digit number (toll-free 800 keeps its 8). */
    PHONE_OK("8 (912) 345-67-89", "RU", "+79123456789");
    PHONE_OK("912 345-67-89", "RU", "+79123456789");
    PHONE_OK("800 555-35-35", "RU", "+78005553535");
    PHONE_OK("8 800 555-35-35", "RU", "+78005553535");
    /* Hungary: trunk 06. Belarus: 8 0 or 0. Lithuania: 8. */
    PHONE_OK("06 20 123 4567", "HU", "+36201234567");
    PHONE_OK("8 029 123-45-67", "BY", "+375291234567");
    PHONE_OK("029 123-45-67", "BY", "+375291234567");
    PHONE_OK("8 612 34567", "LT", "+37061234567");
    /* Other European neighbours and calling codes of 1, 2 and 3 digits. */
    PHONE_OK("0664 1234567", "AT", "+436641234567");
    PHONE_OK("079 123 45 67", "CH", "+41791234567");
    PHONE_OK("050 123 4567", "UA", "+380501234567");
    PHONE_OK("0532 123 45 67", "TR", "+905321234567");
    PHONE_OK("064 1234567", "RS", "+381641234567");
    PHONE_OK("612 345 678", "ES", "+34612345678");
    PHONE_OK("912 345 678", "PT", "+351912345678");
    PHONE_OK("06 12345678", "NL", "+31612345678");
    PHONE_OK("0470 12 34 56", "BE", "+32470123456");
    PHONE_OK("070 123 4567", "SE", "+46701234567");
    PHONE_OK("040 1234567", "FI", "+358401234567");
    PHONE_OK("087 123 4567", "IE", "+353871234567");
    PHONE_OK("20 12 34 56", "DK", "+4520123456");
    PHONE_OK("691 234 567", "GR", "+30691234567");
    PHONE_OK("0721 234 567", "RO", "+40721234567");
    PHONE_OK("601 234 567", "CZ", "+420601234567");
    PHONE_OK("0901 234 567", "SK", "+421901234567");
    PHONE_OK("+7 701 123 4567", NULL, "+77011234567");
    PHONE_OK("+352 621 123 456", NULL, "+352621123456");
    PHONE_OK("+61 4 1234 5678", NULL, "+61412345678");
    PHONE_OK("0011 48 600 100 200", "AU", "+48600100200");
    PHONE_OK("090-1234-5678", "JP", "+819012345678");
    PHONE_OK("+86 138 0013 8000", NULL, "+8613800138000");
    PHONE_OK("+225 07 12 34 56 78", NULL, "+2250712345678");
    /* Pasted separators: no-break space, en dash. */
    PHONE_OK("600\xc2\xa0"
             "100\xe2\x80\x93"
             "200",
             "PL", "+48600100200");
    /* Exactly 8 and 15 digits. */
    PHONE_OK("+47 912 3456", NULL, "+479123456");
    PHONE_OK("+49 1234 5678 901 23", NULL, "+491234567890123");
    printf("test_phone_valid: OK\n");
}

static void test_phone_invalid(void)
{
    PHONE_BAD("abc", "PL", "contains letters");
    PHONE_BAD("600 100 200 ext 12", "PL", "contains letters");
    PHONE_BAD("", "PL", "empty");
    PHONE_BAD("  ", "PL", "empty");
    PHONE_BAD("+999 123456789", "PL", "unknown country calling code");
    PHONE_BAD("+384 123456789", NULL, "unknown country calling code");
    PHONE_BAD("12", "PL", "too short");
    PHONE_BAD("+48 600", NULL, "too short");
    PHONE_BAD("()", "PL", "too short");
    PHONE_BAD("+", "PL", "too short");
    PHONE_BAD("00", "PL", "too short");
    PHONE_BAD("+49 1234 5678 901 234", NULL, "too long (at most 15 digits)");
    PHONE_BAD("1234567890123456789012345678901234567890", "PL", "too long (at most 15 digits)");
    PHONE_BAD("600 100 200", NULL, "local number needs a default country");
    PHONE_BAD("600 100 200", "", "local number needs a default country");
    PHONE_BAD("600 100 200", "QQ", "unknown default country QQ");
    PHONE_BAD("600 100 200", "zz", "unknown default country ZZ");
    PHONE_BAD("600 100 200", "POL", "unknown default country");
    PHONE_BAD("+48 600 100 200", "QQ", "unknown default country QQ");
    PHONE_BAD("600 + 100 200", "PL", "misplaced +");
    PHONE_BAD("++48 600 100 200", "PL", "misplaced +");
    PHONE_BAD("600#100#200", "PL", "invalid character");
    PHONE_BAD("600 100 200 \xd0\xb4", "PL", "invalid character");

    char out[CUSTOMERS_PHONE_SIZE];
    CHECK(customers_validate_phone("abc", "PL", out, sizeof out, NULL) == -1);
    printf("test_phone_invalid: OK\n");
}

/* ---------------------------------------------------------------- dates */

static void test_days_from_civil(void)
{
    CHECK(cm_days_from_civil(1970, 1, 1) == 0);
    CHECK(cm_days_from_civil(1970, 1, 2) == 1);
    CHECK(cm_days_from_civil(1969, 12, 31) == -1);
    CHECK(cm_days_from_civil(2000, 3, 1) == 11017);
    CHECK(cm_days_from_civil(2024, 2, 29) == 19782);
    CHECK(cm_days_from_civil(2024, 3, 1) == 19783);
    CHECK(cm_days_from_civil(1900, 1, 1) == -25567);
    /* Consecutive days across many years differ by one. */
    int64_t prev = cm_days_from_civil(1899, 12, 31);
    for (int y = 1900; y <= 2100; y++) {
        for (int m = 1; m <= 12; m++) {
            static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
            int days = dim[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
            for (int d = 1; d <= days; d++) {
                int64_t cur = cm_days_from_civil(y, m, d);
                CHECK(cur == prev + 1);
                prev = cur;
            }
        }
    }
    printf("test_days_from_civil: OK\n");
}

static void s_date(const char *in, int64_t today, const char *want_why, int line)
{
    const char *why = NULL;
    int rc = customers_validate_date(in, today, &why);
    int ok = want_why ? rc == -1 && why && strcmp(why, want_why) == 0 : rc == 0;
    if (!ok) {
        fprintf(stderr, "%s:%d: date \"%s\": rc %d, why \"%s\", want \"%s\"\n", __FILE__, line, in,
                rc, why ? why : "(null)", want_why ? want_why : "ok");
        abort();
    }
}

#define DATE_OK(in, today) s_date(in, today, NULL, __LINE__)
#define DATE_BAD(in, today, why) s_date(in, today, why, __LINE__)

static void test_date(void)
{
    int64_t today = cm_days_from_civil(2025, 6, 15);
    DATE_OK("1985-07-23", today);
    DATE_OK("2024-02-29", today);
    DATE_OK("2000-02-29", today);
    DATE_OK("1900-01-01", today);
    DATE_OK("2025-06-15", today);
    DATE_OK("1999-12-31", today);
    DATE_BAD("2023-02-29", today, "not a real date");
    DATE_BAD("1900-02-29", today, "not a real date");
    DATE_BAD("2024-04-31", today, "not a real date");
    DATE_BAD("2024-13-01", today, "not a real date");
    DATE_BAD("2024-00-10", today, "not a real date");
    DATE_BAD("2024-01-00", today, "not a real date");
    DATE_BAD("2025-06-16", today, "in the future");
    DATE_BAD("3000-01-01", today, "in the future");
    DATE_BAD("1899-12-31", today, "before 1900");
    DATE_BAD("0000-01-01", today, "before 1900");
    DATE_BAD("", today, "expected YYYY-MM-DD");
    DATE_BAD("1985-7-23", today, "expected YYYY-MM-DD");
    DATE_BAD("23.07.1985", today, "expected YYYY-MM-DD");
    DATE_BAD("1985/07/23", today, "expected YYYY-MM-DD");
    DATE_BAD("1985-07-23T00:00:00Z", today, "expected YYYY-MM-DD");
    DATE_BAD(" 1985-07-23", today, "expected YYYY-MM-DD");
    DATE_BAD("1985-07-2x", today, "expected YYYY-MM-DD");
    DATE_BAD("+985-07-23", today, "expected YYYY-MM-DD");
    CHECK(customers_validate_date("nope", today, NULL) == -1);
    printf("test_date: OK\n");
}

/* ---------------------------------------------------------------- codes */

static void test_country(void)
{
    const char *good[] = {"PL", "DE", "GB", "US", "AX", "BQ", "SS", "CW", "ZW", "AD", "VA"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(customers_validate_country(good[i]) == 0);
    const char *bad[] = {"XX", "UK", "EU", "XK", "pl", "Pl", "POL", "P", "", "P1", "AA", "ZZ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(customers_validate_country(bad[i]) == -1);
    /* All 249 officially assigned codes, and nothing else, are accepted. */
    int n = 0;
    char code[3] = {0};
    for (int a = 'A'; a <= 'Z'; a++) {
        for (int b = 'A'; b <= 'Z'; b++) {
            code[0] = (char)a;
            code[1] = (char)b;
            n += customers_validate_country(code) == 0;
        }
    }
    CHECK(n == 249);
    printf("test_country: OK\n");
}

static void test_language(void)
{
    const char *good[] = {"pl",      "de",         "nb",         "fil",    "de-AT", "pt-BR",
                          "sr-Latn", "sr-Latn-RS", "zh-Hant-TW", "es-419", "en-GB"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (customers_validate_language(good[i]) != 0) {
            fprintf(stderr, "language %s refused\n", good[i]);
            CHECK(0);
        }
    }
    const char *bad[] = {"",       "p",     "PL",    "polski",     "de-at",        "de_AT",
                         "de-",    "-de",   "de-A",  "sr-latn",    "de-AT-",       "de-AT-x",
                         "de-DEU", "es-41", "de AT", "sr-RS-Latn", "sr-Latn-Cyrl", "d1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (customers_validate_language(bad[i]) != -1) {
            fprintf(stderr, "language %s accepted\n", bad[i]);
            CHECK(0);
        }
    }
    printf("test_language: OK\n");
}

static void test_color(void)
{
    CHECK(customers_validate_color("#1a2b3c") == 0);
    CHECK(customers_validate_color("#FFFFFF") == 0);
    CHECK(customers_validate_color("#000000") == 0);
    CHECK(customers_validate_color("#aBcDeF") == 0);
    CHECK(customers_validate_color("1a2b3c") == -1);
    CHECK(customers_validate_color("#1a2b3") == -1);
    CHECK(customers_validate_color("#1a2b3c4") == -1);
    CHECK(customers_validate_color("#1a2b3g") == -1);
    CHECK(customers_validate_color("#fff") == -1);
    CHECK(customers_validate_color("") == -1);
    CHECK(customers_validate_color("#") == -1);
    CHECK(customers_validate_color("red") == -1);
    printf("test_color: OK\n");
}

/* ---------------------------------------------------------------- text */

static void test_length(void)
{
    CHECK(customers_validate_length("", 0) == 0);
    CHECK(customers_validate_length("a", 0) == -1);
    CHECK(customers_validate_length("Jan", 3) == 0);
    CHECK(customers_validate_length("Jan", 2) == -1);
    /* Code points, not bytes: each of these is 2 bytes a letter. */
    CHECK(customers_validate_length("Иван", 4) == 0);
    CHECK(customers_validate_length("Иван", 3) == -1);
    CHECK(customers_validate_length("Łukasz", 6) == 0);
    CHECK(customers_validate_length("Łukasz", 5) == -1);
    CHECK(customers_validate_length("Müller", 6) == 0);
    CHECK(customers_validate_length("Müller", 5) == -1);
    /* 4-byte code point. */
    CHECK(customers_validate_length("\xf0\x9f\x98\x80", 1) == 0);
    printf("test_length: OK\n");
}

static void s_split(const char *q, const char *want_first, const char *want_last, int line)
{
    char first[64], last[64];
    memset(first, 'X', sizeof first);
    memset(last, 'X', sizeof last);
    customers_validate_split_name(q, first, sizeof first, last, sizeof last);
    if (strcmp(first, want_first) != 0 || strcmp(last, want_last) != 0) {
        fprintf(stderr, "%s:%d: split \"%s\": got \"%s\" / \"%s\", want \"%s\" / \"%s\"\n",
                __FILE__, line, q, first, last, want_first, want_last);
        abort();
    }
}

#define SPLIT(q, f, l) s_split(q, f, l, __LINE__)

static void test_split_name(void)
{
    SPLIT("jan kowalski", "jan", "kowalski");
    SPLIT("  jan   kowalski  ", "jan", "kowalski");
    SPLIT("jan", "jan", "");
    SPLIT("  jan\t", "jan", "");
    SPLIT("", "", "");
    SPLIT("   ", "", "");
    SPLIT("Anna Maria  de la\tCruz", "Anna", "Maria de la Cruz");
    SPLIT("Łukasz Żółć", "Łukasz", "Żółć");
    SPLIT("Иван Петров", "Иван", "Петров");

    /* Small buffers cut whole code points. */
    char first[4], last[6];
    customers_validate_split_name("Łukasz Żółć", first, sizeof first, last, sizeof last);
    CHECK_STR(first, "Łu");
    CHECK_STR(last, "Żó");
    char tiny[1];
    customers_validate_split_name("jan kowalski", tiny, sizeof tiny, last, sizeof last);
    CHECK_STR(tiny, "");
    CHECK_STR(last, "kowal");
    /* A cut right after the space between words leaves no trailing space. */
    customers_validate_split_name("x ab cde", first, sizeof first, last, sizeof last);
    CHECK_STR(last, "ab cd");
    customers_validate_split_name("x abcd e", first, sizeof first, last, sizeof last);
    CHECK_STR(last, "abcd");
    printf("test_split_name: OK\n");
}

/* ---------------------------------------------------------------- VAT */

static void s_vat_ok(const char *in, const char *want, int line)
{
    char out[CUSTOMERS_VAT_SIZE];
    const char *why = NULL;
    int rc = customers_validate_vat(in, out, sizeof out, &why);
    if (rc != 0 || strcmp(out, want) != 0) {
        fprintf(stderr, "%s:%d: vat \"%s\": rc %d (%s), got \"%s\", want \"%s\"\n", __FILE__, line,
                in, rc, why ? why : "", out, want);
        abort();
    }
}

static void s_vat_bad(const char *in, const char *want_why, int line)
{
    char out[CUSTOMERS_VAT_SIZE];
    const char *why = NULL;
    int rc = customers_validate_vat(in, out, sizeof out, &why);
    if (rc != -1 || !why || strcmp(why, want_why) != 0 || out[0] != '\0') {
        fprintf(stderr, "%s:%d: vat \"%s\": rc %d, why \"%s\", want \"%s\"\n", __FILE__, line, in,
                rc, why ? why : "(null)", want_why);
        abort();
    }
}

#define VAT_OK(in, want) s_vat_ok(in, want, __LINE__)
#define VAT_BAD(in, why) s_vat_bad(in, why, __LINE__)

static void test_vat_valid(void)
{
    VAT_OK("PL5260250274", "PL5260250274");
    VAT_OK("pl 526-025-02-74", "PL5260250274");
    VAT_OK(" PL 526.025.02.74 ", "PL5260250274");
    VAT_OK("ATU12345675", "ATU12345675");
    VAT_OK("atu12345675", "ATU12345675");
    VAT_OK("BE0123456749", "BE0123456749");
    VAT_OK("BE 1234.567.894", "BE1234567894");
    VAT_OK("BG123456786", "BG123456786");
    VAT_OK("BG1234567890", "BG1234567890");
    VAT_OK("CY10259033P", "CY10259033P");
    VAT_OK("CZ12345679", "CZ12345679");
    VAT_OK("CZ123456789", "CZ123456789");
    VAT_OK("CZ1234567890", "CZ1234567890");
    VAT_OK("DE 123 456 788", "DE123456788");
    VAT_OK("DK12345674", "DK12345674");
    VAT_OK("EE100931558", "EE100931558");
    VAT_OK("EL094259216", "EL094259216");
    VAT_OK("ESA12345674", "ESA12345674");
    VAT_OK("ES12345678Z", "ES12345678Z");
    VAT_OK("ESX1234567L", "ESX1234567L");
    VAT_OK("FI12345671", "FI12345671");
    VAT_OK("FR40303265045", "FR40303265045");
    VAT_OK("FRK7399859412", "FRK7399859412");
    VAT_OK("FRAB123456782", "FRAB123456782");
    VAT_OK("HR12345678903", "HR12345678903");
    VAT_OK("HU12345676", "HU12345676");
    VAT_OK("IE6388047V", "IE6388047V");
    VAT_OK("IE1234567WH", "IE1234567WH");
    VAT_OK("IE1A23456W", "IE1A23456W");
    VAT_OK("IE1+23456W", "IE1+23456W");
    VAT_OK("IE1*23456W", "IE1*23456W");
    VAT_OK("IT12345678903", "IT12345678903");
    VAT_OK("LT123456786", "LT123456786");
    VAT_OK("LT123456789011", "LT123456789011");
    VAT_OK("LU12345613", "LU12345613");
    VAT_OK("LV12345678901", "LV12345678901");
    VAT_OK("MT12345671", "MT12345671");
    VAT_OK("NL123456782B01", "NL123456782B01");
    VAT_OK("nl 1234.56.782.b.01", "NL123456782B01");
    VAT_OK("PT123456789", "PT123456789");
    VAT_OK("RO19", "RO19");
    VAT_OK("RO1234567897", "RO1234567897");
    VAT_OK("SE123456789701", "SE123456789701");
    VAT_OK("SI12345679", "SI12345679");
    VAT_OK("SK1234567895", "SK1234567895");
    VAT_OK("XI123456782", "XI123456782");
    VAT_OK("XI123456782012", "XI123456782012");
    VAT_OK("XIGD123", "XIGD123");
    VAT_OK("XIHA123", "XIHA123");
    printf("test_vat_valid: OK\n");
}

static void test_vat_invalid(void)
{
    VAT_BAD("", "empty");
    VAT_BAD(" - . ", "empty");
    VAT_BAD("5260250274", "missing country prefix");
    VAT_BAD("P5260250274", "missing country prefix");
    VAT_BAD("P", "missing country prefix");
    VAT_BAD("GR094259216", "use EL for Greece");
    VAT_BAD("gr 094259216", "use EL for Greece");
    VAT_BAD("GB123456789", "unknown country prefix GB");
    VAT_BAD("CH123456789", "unknown country prefix CH");
    VAT_BAD("zz123", "unknown country prefix ZZ");
    VAT_BAD("PL", "does not match the format for PL");
    VAT_BAD("PL526025027", "does not match the format for PL");
    VAT_BAD("PL52602502745", "does not match the format for PL");
    VAT_BAD("PL526025027A", "does not match the format for PL");
    VAT_BAD("PL5260250274/", "does not match the format for PL");
    VAT_BAD("PL 5260 2502 7411 1111 1111 1111 1111", "does not match the format for PL");
    VAT_BAD("AT12345678", "does not match the format for AT");
    VAT_BAD("ATU1234567", "does not match the format for AT");
    VAT_BAD("BE2123456789", "does not match the format for BE");
    VAT_BAD("BE123456789", "does not match the format for BE");
    VAT_BAD("BG12345678", "does not match the format for BG");
    VAT_BAD("BG12345678901", "does not match the format for BG");
    VAT_BAD("CY12345678P", "does not match the format for CY");
    VAT_BAD("CY102590331", "does not match the format for CY");
    VAT_BAD("CZ1234567", "does not match the format for CZ");
    VAT_BAD("CZ12345678901", "does not match the format for CZ");
    VAT_BAD("DE12345678", "does not match the format for DE");
    VAT_BAD("EE200931558", "does not match the format for EE");
    VAT_BAD("EL12345678", "does not match the format for EL");
    VAT_BAD("ES123456789", "does not match the format for ES");
    VAT_BAD("ESA1234567", "does not match the format for ES");
    VAT_BAD("ESAB1234567", "does not match the format for ES");
    VAT_BAD("FRI1303265045", "does not match the format for FR");
    VAT_BAD("FRO1303265045", "does not match the format for FR");
    VAT_BAD("FR4030326504", "does not match the format for FR");
    VAT_BAD("IE1234567", "does not match the format for IE");
    VAT_BAD("IE1234567ABC", "does not match the format for IE");
    VAT_BAD("IE1A234567", "does not match the format for IE");
    VAT_BAD("IE1-23456B", "does not match the format for IE"); /* '-' is stripped: too short */
    VAT_BAD("LT1234567890", "does not match the format for LT");
    VAT_BAD("NL123456789A01", "does not match the format for NL");
    VAT_BAD("NL123456789B1", "does not match the format for NL");
    VAT_BAD("RO0123456789", "does not match the format for RO");
    VAT_BAD("RO1", "does not match the format for RO");
    VAT_BAD("RO12345678901", "does not match the format for RO");
    VAT_BAD("SE123456789002", "does not match the format for SE");
    VAT_BAD("XIGB123", "does not match the format for XI");
    VAT_BAD("XIGD1234", "does not match the format for XI");
    VAT_BAD("XI12345678", "does not match the format for XI");
    VAT_BAD("PL526025027\xc3\xbc", "does not match the format for PL");

    char out[CUSTOMERS_VAT_SIZE];
    CHECK(customers_validate_vat("nope", out, sizeof out, NULL) == -1);
    printf("test_vat_invalid: OK\n");
}

/* What is stored must normalise to itself, or one phone could be stored two
 * ways (found by fuzzing). */
static void test_phone_stable(void)
{
    static const char *const cases[][2] = {
        {"0212 555 0100", "US"},     {"+46 00 8 123 456 78", "SE"},
        {"011 4600 100 200", "US"},  {"0044 0 20 7946 0000", "GB"},
        {"0568034", "BS"},           {"+49 (0)30 1234567", "DE"},
        {"+1 (415) 555-0132", "PL"}, {"8 912 345 67 89", "RU"},
        {"06 1 234 5678", "HU"},     {"02 1234 5678", "IT"},
        {"+39 02 1234 5678", "DE"},  {"600 100 200", "PL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char once[CUSTOMERS_PHONE_SIZE], twice[CUSTOMERS_PHONE_SIZE];
        const char *why = NULL;
        if (customers_validate_phone(cases[i][0], cases[i][1], once, sizeof once, &why))
            continue; /* refused: nothing stored */
        CHECK(customers_validate_phone(once, cases[i][1], twice, sizeof twice, &why) == 0);
        CHECK_STR(twice, once);
    }
    PHONE_BAD("0212 555 0100", "US", "a North American number has 10 digits after +1");
    PHONE_BAD("212 555 010", "US", "a North American number has 10 digits after +1");
    PHONE_BAD("+1 012 555 0100", "PL", "not a North American number (area codes start with 2-9)");
    PHONE_BAD("+46 00 8 123 456 78", "SE", "unexpected 0 after the country code");
    PHONE_BAD("0568034", "BS", "a North American number has 10 digits after +1");
    PHONE_OK("+49 (0)30 1234567", "DE", "+49301234567");
    printf("test_phone_stable: OK\n");
}

static void test_sort_names(void)
{
    /* Any order of the same names comes out the same: by case fold, then by bytes. */
    char *a[] = {"VIP", "business", "Ärzte", "Zahnarzt", "vip"};
    char *b[] = {"vip", "Zahnarzt", "VIP", "Ärzte", "business"};
    customers_validate_sort_names(a, 5);
    customers_validate_sort_names(b, 5);
    for (size_t i = 0; i < 5; i++)
        CHECK_STR(a[i], b[i]);
    CHECK_STR(a[0], "business");
    CHECK_STR(a[1], "VIP"); /* "VIP" < "vip" by bytes when the folds are equal */
    CHECK_STR(a[2], "vip");
    CHECK_STR(a[3], "Zahnarzt");
    CHECK_STR(a[4], "Ärzte");
    /* Cyrillic folds too: "Б" sorts with "б", after "а". */
    char *c[] = {"я \xff (not UTF-8)", "Б-клиенти", "а-клиенти"};
    customers_validate_sort_names(c, 3);
    CHECK_STR(c[0], "а-клиенти");
    CHECK_STR(c[1], "Б-клиенти");
    /* Fewer than two: nothing to do (and no allocation). */
    customers_validate_sort_names(c, 1);
    customers_validate_sort_names(NULL, 0);
    printf("test_sort_names: OK\n");
}

int main(void)
{
    test_email_valid();
    test_email_invalid();
    test_email_key();
    test_phone_valid();
    test_phone_invalid();
    test_phone_stable();
    test_days_from_civil();
    test_date();
    test_country();
    test_language();
    test_color();
    test_length();
    test_split_name();
    test_vat_valid();
    test_vat_invalid();
    test_sort_names();
    return 0;
}
