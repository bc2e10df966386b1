/* Fuzzes the customers service's pure validation: each field validator with
 * arbitrary text, and customers_check on a customer decoded from arbitrary
 * JSON. The first byte picks what to run (and a few parameters). Besides not
 * crashing: outputs stay in their buffers and have the documented shape, and
 * normalising what was already normalised changes nothing. */
#include "fuzz.h"
#include "customers_validate.h"
#include "customers_check.h"
#include "customers_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdbool.h>
#include <time.h>

static bool s_is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}
static bool s_is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}
static bool s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The same address with its ASCII letters in one case. */
static char *s_ascii_case(const char *s, bool upper)
{
    char *t = cm_strdup(s);
    for (char *p = t; *p; p++) {
        if (upper && s_is_lower(*p))
            *p = (char)(*p - 'a' + 'A');
        else if (!upper && s_is_upper(*p))
            *p = (char)(*p - 'A' + 'a');
    }
    return t;
}

static void s_key_checks(const char *email, size_t small)
{
    char key[CUSTOMERS_EMAIL_KEY_SIZE], other[CUSTOMERS_EMAIL_KEY_SIZE];
    customers_validate_email_key(email, key, sizeof key);
    FUZZ_CHECK(strlen(key) < sizeof key);
    FUZZ_CHECK(cm_utf8_valid(key, strlen(key), NULL));
    /* Case does not matter to the key. */
    for (int upper = 0; upper < 2; upper++) {
        char *t = s_ascii_case(email, upper);
        customers_validate_email_key(t, other, sizeof other);
        if (strcmp(key, other)) {
            fprintf(stderr, "email key differs by case: \"%s\" -> \"%s\", \"%s\" -> \"%s\"\n",
                    email, key, t, other);
            abort();
        }
        free(t);
    }
    /* A small buffer gets a prefix, cut at a code-point boundary. */
    char *cut = cm_malloc(small);
    customers_validate_email_key(email, cut, small);
    FUZZ_CHECK(strlen(cut) < small);
    FUZZ_CHECK(!strncmp(cut, key, strlen(cut)));
    FUZZ_CHECK(cm_utf8_valid(cut, strlen(cut), NULL));
    free(cut);
}

static void s_email(const char *in, size_t small)
{
    char out[CUSTOMERS_EMAIL_SIZE], again[CUSTOMERS_EMAIL_SIZE];
    const char *why = NULL;
    if (customers_validate_email(in, out, sizeof out, &why)) {
        FUZZ_CHECK(why && why[0]);
        FUZZ_CHECK(out[0] == '\0');
        return;
    }
    size_t n = strlen(out);
    FUZZ_CHECK(n >= 3 && n <= CUSTOMERS_EMAIL_MAX);
    FUZZ_CHECK(strchr(out, '@'));
    FUZZ_CHECK(cm_utf8_valid(out, n, NULL));
    const char *why2 = NULL;
    if (customers_validate_email(out, again, sizeof again, &why2) || strcmp(out, again)) {
        fprintf(stderr, "email not stable: \"%s\" -> \"%s\" -> \"%s\" (%s)\n", in, out, again,
                why2 ? why2 : "");
        abort();
    }
    s_key_checks(out, small);
}

static void s_phone(const char *in, const char *country)
{
    char out[CUSTOMERS_PHONE_SIZE], again[CUSTOMERS_PHONE_SIZE];
    const char *why = NULL;
    if (customers_validate_phone(in, country, out, sizeof out, &why)) {
        FUZZ_CHECK(why && why[0]);
        FUZZ_CHECK(out[0] == '\0');
        return;
    }
    size_t n = strlen(out);
    FUZZ_CHECK(out[0] == '+' && n >= 9 && n <= 16);
    for (size_t i = 1; i < n; i++)
        FUZZ_CHECK(s_is_digit(out[i]));
    /* E.164 is a fixed point, with or without a default country. */
    const char *why2 = NULL;
    if (customers_validate_phone(out, NULL, again, sizeof again, &why2) || strcmp(out, again)) {
        fprintf(stderr, "phone not stable: \"%s\" (%s) -> \"%s\" -> \"%s\" (%s)\n", in,
                country ? country : "none", out, again, why2 ? why2 : "");
        abort();
    }
    if (country) {
        FUZZ_CHECK(customers_validate_phone(out, country, again, sizeof again, &why2) == 0);
        FUZZ_CHECK(!strcmp(out, again));
    }
}

/* Days since 1970-01-01 by the C library, for comparison. */
static int64_t s_ref_days(int y, int m, int d)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    return (int64_t)((t - 12 * 3600) / 86400);
}

static void s_date(const char *in, int64_t today)
{
    const char *why = NULL;
    if (customers_validate_date(in, today, &why)) {
        FUZZ_CHECK(why && why[0]);
        return;
    }
    FUZZ_CHECK(strlen(in) == 10 && in[4] == '-' && in[7] == '-');
    int y = (in[0] - '0') * 1000 + (in[1] - '0') * 100 + (in[2] - '0') * 10 + (in[3] - '0');
    int m = (in[5] - '0') * 10 + (in[6] - '0');
    int d = (in[8] - '0') * 10 + (in[9] - '0');
    FUZZ_CHECK(y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
    int64_t days = cm_days_from_civil(y, m, d);
    FUZZ_CHECK(days <= today);
    FUZZ_CHECK(days == s_ref_days(y, m, d));
    /* A real date: timegm would carry an impossible day into the next month. */
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    (void)timegm(&tm);
    FUZZ_CHECK(tm.tm_mday == d && tm.tm_mon == m - 1);
}

static void s_civil(const uint8_t *data, size_t size)
{
    if (size < 4)
        return;
    int y = (int)(((unsigned)data[0] << 8 | data[1]) % 20000) - 10000;
    int m = 1 + data[2] % 12;
    int d = 1 + data[3] % 31;
    FUZZ_CHECK(cm_days_from_civil(y, m, d) == s_ref_days(y, m, d));
}

static void s_vat(const char *in)
{
    char out[CUSTOMERS_VAT_SIZE], again[CUSTOMERS_VAT_SIZE];
    const char *why = NULL;
    if (customers_validate_vat(in, out, sizeof out, &why)) {
        FUZZ_CHECK(why && why[0]);
        FUZZ_CHECK(out[0] == '\0');
        return;
    }
    size_t n = strlen(out);
    FUZZ_CHECK(n > 2 && n < CUSTOMERS_VAT_SIZE);
    FUZZ_CHECK(s_is_upper(out[0]) && s_is_upper(out[1]));
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(s_is_upper(out[i]) || s_is_digit(out[i]) || out[i] == '+' || out[i] == '*');
    const char *why2 = NULL;
    if (customers_validate_vat(out, again, sizeof again, &why2) || strcmp(out, again)) {
        fprintf(stderr, "VAT not stable: \"%s\" -> \"%s\" -> \"%s\" (%s)\n", in, out, again,
                why2 ? why2 : "");
        abort();
    }
}

/* The documented shape of a language tag: ll[l][-Ssss][-RR|-999]. */
static bool s_ref_language(const char *s)
{
    size_t i = 0;
    while (s_is_lower(s[i]))
        i++;
    if (i < 2 || i > 3)
        return false;
    if (s[i] == '-' && s_is_upper(s[i + 1]) && s_is_lower(s[i + 2]) && s_is_lower(s[i + 3]) &&
        s_is_lower(s[i + 4]) && (s[i + 5] == '\0' || s[i + 5] == '-'))
        i += 5;
    if (s[i] == '\0')
        return true;
    if (s[i] != '-')
        return false;
    i++;
    if (s_is_upper(s[i]) && s_is_upper(s[i + 1]) && s[i + 2] == '\0')
        return true;
    return s_is_digit(s[i]) && s_is_digit(s[i + 1]) && s_is_digit(s[i + 2]) && s[i + 3] == '\0';
}

static void s_codes(const char *in, size_t max_chars)
{
    if (customers_validate_country(in) == 0)
        FUZZ_CHECK(strlen(in) == 2 && s_is_upper(in[0]) && s_is_upper(in[1]));
    if (customers_validate_color(in) == 0) {
        FUZZ_CHECK(strlen(in) == 7 && in[0] == '#');
        for (int i = 1; i < 7; i++)
            FUZZ_CHECK(strchr("0123456789abcdefABCDEF", in[i]));
    }
    bool lang = customers_validate_language(in) == 0;
    if (lang != s_ref_language(in)) {
        fprintf(stderr, "language \"%s\": validator says %d, documented shape %d\n", in, lang,
                !lang);
        abort();
    }
    if (cm_utf8_valid(in, strlen(in), NULL))
        FUZZ_CHECK((customers_validate_length(in, max_chars) == 0) ==
                   (cm_utf8_length(in) <= max_chars));
}

static void s_split(const char *in, size_t fsz, size_t lsz)
{
    char *first = cm_malloc(fsz), *last = cm_malloc(lsz);
    memset(first, 'x', fsz);
    memset(last, 'x', lsz);
    customers_validate_split_name(in, first, fsz, last, lsz);
    FUZZ_CHECK(memchr(first, '\0', fsz) && memchr(last, '\0', lsz));
    const char *ws = " \t\n\r\v\f";
    FUZZ_CHECK(!first[0] || !strchr(ws, first[0]));
    FUZZ_CHECK(!last[0] || (!strchr(ws, last[0]) && !strchr(ws, last[strlen(last) - 1])));
    for (const char *p = first; *p; p++)
        FUZZ_CHECK(!strchr(ws, *p));
    FUZZ_CHECK(!strstr(last, "  "));
    if (cm_utf8_valid(in, strlen(in), NULL)) {
        FUZZ_CHECK(cm_utf8_valid(first, strlen(first), NULL));
        FUZZ_CHECK(cm_utf8_valid(last, strlen(last), NULL));
    }
    free(first);
    free(last);
}

/* ---- customers_check ------------------------------------------------------- */

#define NOW_MS 1795000000000LL /* 2026-11-18 */

static void s_release(struct cm_call *call)
{
    for (size_t i = 0; i < call->reply.n_details; i++)
        protobuf_c_message_free_unpacked(&call->reply.details[i]->base, NULL);
    free(call->reply.details);
}

static void s_check(unsigned opts, const uint8_t *data, size_t size)
{
    static const char *const countries[] = {"PL", "", "US", "IT", "DE", "GB", "RU", "XX"};
    json_t *json = json_loadb((const char *)data, size, 0, NULL);
    if (!json)
        return;
    Crm__Customer *c =
        (Crm__Customer *)cm_pbjson_decode(&crm__customer__descriptor, json, NULL, NULL);
    json_decref(json);
    if (!c)
        return;

    struct customers_tenant tenant = {0};
    snprintf(tenant.default_country, sizeof tenant.default_country, "%s", countries[opts % 8]);
    char *required[16];
    size_t n_req = 0;
    for (size_t i = 0; customers_requirable_fields[i] && n_req < 16; i++)
        if ((opts >> 3) & (1u << (i % 5)))
            required[n_req++] = (char *)customers_requirable_fields[i];
    tenant.required_fields = required;
    tenant.n_required = n_req;

    /* An update compares consents with the stored customer: use a copy. */
    Crm__Customer *old = opts & 0x80 ? (Crm__Customer *)cm_pb_clone(&c->base) : NULL;

    struct cm_call call;
    memset(&call, 0, sizeof call);
    crm__reply_header__init(&call.reply);
    customers_check(&call, c, old, &tenant, NOW_MS);
    for (size_t i = 0; i < call.reply.n_details; i++) {
        FUZZ_CHECK(call.reply.details[i]->field[0]);
        FUZZ_CHECK(call.reply.details[i]->reason[0]);
    }
    FUZZ_CHECK(cm_call_failed(&call) == (call.reply.n_details > 0));

    if (!cm_call_failed(&call)) {
        /* Stored as checked: it encodes, and a second check accepts it unchanged. */
        json_t *j1 = cm_pbjson_encode(&c->base, 0);
        FUZZ_CHECK(j1);
        struct cm_call again;
        memset(&again, 0, sizeof again);
        crm__reply_header__init(&again.reply);
        Crm__Customer *stored = (Crm__Customer *)cm_pb_clone(&c->base);
        customers_check(&again, c, stored, &tenant, NOW_MS);
        crm__customer__free_unpacked(stored, NULL);
        json_t *j2 = cm_pbjson_encode(&c->base, 0);
        if (cm_call_failed(&again) || !json_equal(j1, j2)) {
            char *t1 = json_dumps(j1, JSON_COMPACT), *t2 = json_dumps(j2, JSON_COMPACT);
            fprintf(stderr, "check not stable (%s: %s):\n  %s\n  %s\n",
                    again.reply.n_details ? again.reply.details[0]->field : "-",
                    again.reply.n_details ? again.reply.details[0]->description : "-", t1, t2);
            abort();
        }
        json_decref(j1);
        json_decref(j2);
        s_release(&again);
    }
    customers_check_clear_output_only(c);
    s_release(&call);
    if (old)
        crm__customer__free_unpacked(old, NULL);
    crm__customer__free_unpacked(c, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned pick = data[0] % 8, param = data[1];
    data += 2;
    size -= 2;
    if (pick == 7) {
        s_check(param, data, size);
        return 0;
    }
    if (pick == 6) {
        s_civil(data, size);
        return 0;
    }
    char *in = NULL;
    switch (pick) {
    case 0:
        in = fuzz_strndup(data, size);
        s_email(in, 1 + param % 64);
        break;
    case 1: {
        /* Two bytes of default country (none when the first is NUL), then the number. */
        char country[3] = {0};
        bool has = size >= 2 && data[0];
        if (size >= 2) {
            country[0] = (char)data[0];
            country[1] = (char)data[1];
            data += 2;
            size -= 2;
        }
        in = fuzz_strndup(data, size);
        s_phone(in, has ? country : NULL);
        break;
    }
    case 2: {
        /* Today is 2026-11-18 give or take up to 127 years. */
        int64_t today = 20775 + ((int64_t)param - 128) * 365;
        in = fuzz_strndup(data, size);
        s_date(in, today);
        break;
    }
    case 3:
        in = fuzz_strndup(data, size);
        s_vat(in);
        break;
    case 4:
        in = fuzz_strndup(data, size);
        s_codes(in, param);
        break;
    default:
        in = fuzz_strndup(data, size);
        s_split(in, 1 + param % 16, 1 + (param >> 4) * 4);
        break;
    }
    free(in);
    return 0;
}
