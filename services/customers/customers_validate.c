/* Pure validation and normalisation of customer fields. Everything here is a function of its
 * arguments and constant tables, so it is thread-safe and unit-testable without a database. */
#include "customers_validate.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "cm_util.h"
#include "cm_vat.h"

/* ---------------------------------------------------------------- shared helpers */

static int s_fail(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return -1;
}

static bool s_is_alpha(unsigned char c)
{
    return cm_ascii_upper(c) || cm_ascii_lower(c);
}

/* Returns the start of s without leading ASCII whitespace and its length without the trailing
 * whitespace. */
static const char *s_trim(const char *s, size_t *len)
{
    while (cm_ascii_space((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && cm_ascii_space((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

/* Copies at most size-1 bytes of src[0..n) to dst, never splitting a UTF-8 sequence, and
 * terminates it. Returns the number of bytes copied. */
static size_t s_copy_cut(char *dst, size_t size, const char *src, size_t n)
{
    size_t k = n;
    if (k > size - 1) {
        k = size - 1;
        while (k > 0 && ((unsigned char)src[k] & 0xc0) == 0x80)
            k--;
    }
    memcpy(dst, src, k);
    dst[k] = '\0';
    return k;
}

/* Constant tables of "<phrase> AA" .. "<phrase> ZZ", so that messages naming a two-letter code
 * can still be static strings. Index with s_code_index. The phrase is pasted
 * next to string literals, which parentheses would break. */
// NOLINTBEGIN(bugprone-macro-parentheses)
#define S_ROW(p, a)                                                                                \
    p #a "A", p #a "B", p #a "C", p #a "D", p #a "E", p #a "F", p #a "G", p #a "H", p #a "I",      \
        p #a "J", p #a "K", p #a "L", p #a "M", p #a "N", p #a "O", p #a "P", p #a "Q", p #a "R",  \
        p #a "S", p #a "T", p #a "U", p #a "V", p #a "W", p #a "X", p #a "Y", p #a "Z"
#define S_CODE_MESSAGES(p)                                                                         \
    {                                                                                              \
        S_ROW(p, A), S_ROW(p, B), S_ROW(p, C), S_ROW(p, D), S_ROW(p, E), S_ROW(p, F), S_ROW(p, G), \
            S_ROW(p, H), S_ROW(p, I), S_ROW(p, J), S_ROW(p, K), S_ROW(p, L), S_ROW(p, M),          \
            S_ROW(p, N), S_ROW(p, O), S_ROW(p, P), S_ROW(p, Q), S_ROW(p, R), S_ROW(p, S),          \
            S_ROW(p, T), S_ROW(p, U), S_ROW(p, V), S_ROW(p, W), S_ROW(p, X), S_ROW(p, Y),          \
            S_ROW(p, Z)                                                                            \
    }
// NOLINTEND(bugprone-macro-parentheses)

static const char *const s_unknown_default_country[26 * 26] =
    S_CODE_MESSAGES("unknown default country ");

/* Index of the two upper-case letters a, b in the tables above. */
static size_t s_code_index(char a, char b)
{
    return (size_t)(a - 'A') * 26 + (size_t)(b - 'A');
}

/* ---------------------------------------------------------------- e-mail */

/* RFC 5322 atext: the characters of a dot-atom besides the dot. */
static bool s_is_atext(unsigned char c)
{
    return s_is_alpha(c) || cm_ascii_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int s_check_local(const char *s, size_t n, const char **why)
{
    if (n == 0)
        return s_fail(why, "missing local part");
    if (n > 64)
        return s_fail(why, "local part too long (at most 64 characters)");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (i == 0 || i == n - 1)
                return s_fail(why, "local part starts or ends with a dot");
            if (s[i - 1] == '.')
                return s_fail(why, "local part has two dots in a row");
        } else if (!s_is_atext(c)) {
            return s_fail(why, "invalid character in local part");
        }
    }
    return 0;
}

/* Checks one domain label s[0..n); last says it is the top-level one. Bytes >= 0x80 are the
 * UTF-8 of an internationalised label and count as letters; lengths are counted in bytes. */
static int s_check_label(const char *s, size_t n, bool last, const char **why)
{
    if (n == 0)
        return s_fail(why, "domain has an empty label");
    if (n > 63)
        return s_fail(why, "domain label too long (at most 63 characters)");
    bool all_digits = true;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(s_is_alpha(c) || cm_ascii_digit(c) || c == '-' || c >= 0x80))
            return s_fail(why, "invalid character in domain");
        if (!cm_ascii_digit(c))
            all_digits = false;
        if ((c & 0xc0) != 0x80)
            chars++;
    }
    if (s[0] == '-' || s[n - 1] == '-')
        return s_fail(why, "domain label starts or ends with a hyphen");
    if (last && chars < 2)
        return s_fail(why, "top-level domain too short");
    if (last && all_digits)
        return s_fail(why, "top-level domain is all digits");
    return 0;
}

static int s_check_domain(const char *s, size_t n, const char **why)
{
    if (n == 0)
        return s_fail(why, "missing domain");
    if (!memchr(s, '.', n))
        return s_fail(why, "domain has no dot");
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        int rc = s_check_label(s + start, i - start, i == n, why);
        if (rc)
            return rc;
        start = i + 1;
    }
    return 0;
}

int customers_validate_email(const char *in, char *out, size_t outsz, const char **why)
{
    assert(in && out && outsz >= CUSTOMERS_EMAIL_SIZE);
    out[0] = '\0';
    size_t len = 0;
    const char *s = s_trim(in, &len);
    if (len == 0)
        return s_fail(why, "empty");
    if (len > CUSTOMERS_EMAIL_MAX)
        return s_fail(why, "too long (at most 254 characters)");
    if (!cm_utf8_valid(s, len, NULL))
        return s_fail(why, "invalid UTF-8");
    const char *at = memchr(s, '@', len);
    if (!at)
        return s_fail(why, "missing @");
    size_t local_len = (size_t)(at - s);
    const char *domain = at + 1;
    size_t domain_len = len - local_len - 1;
    if (memchr(domain, '@', domain_len))
        return s_fail(why, "more than one @");
    int rc = s_check_local(s, local_len, why);
    if (rc)
        return rc;
    rc = s_check_domain(domain, domain_len, why);
    if (rc)
        return rc;

    memcpy(out, s, len);
    for (size_t i = local_len + 1; i < len; i++)
        out[i] = cm_ascii_tolower(out[i]);
    out[len] = '\0';
    return 0;
}

void customers_validate_email_key(const char *email, char *out, size_t outsz)
{
    assert(email && out && outsz > 0);
    size_t len = 0;
    const char *s = s_trim(email, &len);
    utf8proc_uint8_t *folded = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &folded,
                     (utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
    if (n >= 0) {
        s_copy_cut(out, outsz, (const char *)folded, (size_t)n);
    } else {
        /* Not UTF-8 (never so for a validated address): fold ASCII only, bytes as they are. */
        size_t k = s_copy_cut(out, outsz, s, len);
        for (size_t i = 0; i < k; i++)
            out[i] = cm_ascii_tolower(out[i]);
    }
    free(folded);
}

/* ---------------------------------------------------------------- name lists */

/* The case fold of s, or a copy of s when it is not UTF-8; the caller frees it. */
static char *s_fold(const char *s)
{
    utf8proc_uint8_t *folded = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &folded,
                                      (utf8proc_option_t)(UTF8PROC_NULLTERM | UTF8PROC_STABLE |
                                                          UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
    if (n < 0)
        return cm_strdup(s);
    return (char *)folded;
}

struct s_keyed_name {
    char *key;  // owned
    char *name; // borrowed (the caller's list)
};

static int s_keyed_name_cmp(const void *pa, const void *pb)
{
    const struct s_keyed_name *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    return c ? c : strcmp(a->name, b->name);
}

void customers_validate_sort_names(char **items, size_t n)
{
    if (n < 2)
        return;
    struct s_keyed_name *k = cm_calloc(n, sizeof *k);
    for (size_t i = 0; i < n; i++) {
        k[i].key = s_fold(items[i]);
        k[i].name = items[i];
    }
    qsort(k, n, sizeof *k, s_keyed_name_cmp);
    for (size_t i = 0; i < n; i++) {
        items[i] = k[i].name;
        free(k[i].key);
    }
    free(k);
}

/* ---------------------------------------------------------------- phone */

/* How one country's numbers are dialled. Countries sharing a calling code share its rules. */
struct s_dial {
    char iso[3];       /* ISO 3166-1 alpha-2 (plus XK for Kosovo) */
    char cc[4];        /* country calling code, 1-3 digits */
    const char *trunk; /* borrowed (static): national prefixes dropped from a national number,
                          '|'-separated, tried in order; "" when numbers keep their leading 0 */
    const char *intl;  /* borrowed (static): international prefix besides "00", or NULL */
    unsigned nsn_len;  /* length of every national number when fixed, else 0; a number of
                          exactly this length has no trunk prefix to drop */
};

/* Most countries either use trunk prefix 0 or have numbers that never start with 0, so dropping
 * a leading 0 is right for them. */
#define S_D0(iso, cc)                                                                              \
    {                                                                                              \
        iso, cc, "0", NULL, 0                                                                      \
    }
/* Countries whose numbers start with 0 also in international format (Italy and a few more). */
#define S_DKEEP(iso, cc)                                                                           \
    {                                                                                              \
        iso, cc, "", NULL, 0                                                                       \
    }
/* The North American Numbering Plan: +1, ten-digit numbers, optional trunk 1, exit code 011. */
#define S_DNANP(iso)                                                                               \
    {                                                                                              \
        iso, "1", "1", "011", 10                                                                   \
    }

static const struct s_dial s_dial_plans[] = {
    S_D0("AD", "376"),
    S_D0("AE", "971"),
    S_D0("AF", "93"),
    S_DNANP("AG"),
    S_DNANP("AI"),
    S_D0("AL", "355"),
    S_D0("AM", "374"),
    S_D0("AO", "244"),
    S_D0("AQ", "672"),
    S_D0("AR", "54"),
    S_DNANP("AS"),
    S_D0("AT", "43"),
    {"AU", "61", "0", "0011", 0},
    S_D0("AW", "297"),
    S_D0("AX", "358"),
    S_D0("AZ", "994"),
    S_D0("BA", "387"),
    S_DNANP("BB"),
    S_D0("BD", "880"),
    S_D0("BE", "32"),
    S_D0("BF", "226"),
    S_D0("BG", "359"),
    S_D0("BH", "973"),
    S_D0("BI", "257"),
    S_DKEEP("BJ", "229"),
    S_D0("BL", "590"),
    S_DNANP("BM"),
    S_D0("BN", "673"),
    S_D0("BO", "591"),
    S_D0("BQ", "599"),
    S_D0("BR", "55"),
    S_DNANP("BS"),
    S_D0("BT", "975"),
    S_D0("BV", "47"),
    S_D0("BW", "267"),
    {"BY", "375", "80|0", "810", 9},
    S_D0("BZ", "501"),
    S_DNANP("CA"),
    {"CC", "61", "0", "0011", 0},
    S_D0("CD", "243"),
    S_D0("CF", "236"),
    S_DKEEP("CG", "242"),
    S_D0("CH", "41"),
    S_DKEEP("CI", "225"),
    S_D0("CK", "682"),
    S_D0("CL", "56"),
    S_D0("CM", "237"),
    S_D0("CN", "86"),
    S_D0("CO", "57"),
    S_D0("CR", "506"),
    S_D0("CU", "53"),
    S_D0("CV", "238"),
    S_D0("CW", "599"),
    {"CX", "61", "0", "0011", 0},
    S_D0("CY", "357"),
    S_D0("CZ", "420"),
    S_D0("DE", "49"),
    S_D0("DJ", "253"),
    S_D0("DK", "45"),
    S_DNANP("DM"),
    S_DNANP("DO"),
    S_D0("DZ", "213"),
    S_D0("EC", "593"),
    S_D0("EE", "372"),
    S_D0("EG", "20"),
    S_D0("EH", "212"),
    S_D0("ER", "291"),
    S_D0("ES", "34"),
    S_D0("ET", "251"),
    S_D0("FI", "358"),
    S_D0("FJ", "679"),
    S_D0("FK", "500"),
    S_D0("FM", "691"),
    S_D0("FO", "298"),
    S_D0("FR", "33"),
    S_DKEEP("GA", "241"),
    S_D0("GB", "44"),
    S_DNANP("GD"),
    S_D0("GE", "995"),
    S_D0("GF", "594"),
    S_D0("GG", "44"),
    S_D0("GH", "233"),
    S_D0("GI", "350"),
    S_D0("GL", "299"),
    S_D0("GM", "220"),
    S_D0("GN", "224"),
    S_D0("GP", "590"),
    S_D0("GQ", "240"),
    S_D0("GR", "30"),
    S_D0("GS", "500"),
    S_D0("GT", "502"),
    S_DNANP("GU"),
    S_D0("GW", "245"),
    S_D0("GY", "592"),
    S_D0("HK", "852"),
    S_D0("HM", "672"),
    S_D0("HN", "504"),
    S_D0("HR", "385"),
    S_D0("HT", "509"),
    {"HU", "36", "06|0", NULL, 0},
    S_D0("ID", "62"),
    S_D0("IE", "353"),
    S_D0("IL", "972"),
    S_D0("IM", "44"),
    S_D0("IN", "91"),
    S_D0("IO", "246"),
    S_D0("IQ", "964"),
    S_D0("IR", "98"),
    S_D0("IS", "354"),
    S_DKEEP("IT", "39"),
    S_D0("JE", "44"),
    S_DNANP("JM"),
    S_D0("JO", "962"),
    {"JP", "81", "0", "010", 0},
    S_D0("KE", "254"),
    S_D0("KG", "996"),
    S_D0("KH", "855"),
    S_D0("KI", "686"),
    S_D0("KM", "269"),
    S_DNANP("KN"),
    S_D0("KP", "850"),
    S_D0("KR", "82"),
    S_D0("KW", "965"),
    S_DNANP("KY"),
    {"KZ", "7", "8|0", "810", 10},
    S_D0("LA", "856"),
    S_D0("LB", "961"),
    S_DNANP("LC"),
    S_D0("LI", "423"),
    S_D0("LK", "94"),
    S_D0("LR", "231"),
    S_D0("LS", "266"),
    {"LT", "370", "8|0", NULL, 8},
    S_D0("LU", "352"),
    S_D0("LV", "371"),
    S_D0("LY", "218"),
    S_D0("MA", "212"),
    S_D0("MC", "377"),
    S_D0("MD", "373"),
    S_D0("ME", "382"),
    S_D0("MF", "590"),
    S_D0("MG", "261"),
    S_D0("MH", "692"),
    S_D0("MK", "389"),
    S_D0("ML", "223"),
    S_D0("MM", "95"),
    S_D0("MN", "976"),
    S_D0("MO", "853"),
    S_DNANP("MP"),
    S_D0("MQ", "596"),
    S_D0("MR", "222"),
    S_DNANP("MS"),
    S_D0("MT", "356"),
    S_D0("MU", "230"),
    S_D0("MV", "960"),
    S_D0("MW", "265"),
    S_D0("MX", "52"),
    S_D0("MY", "60"),
    S_D0("MZ", "258"),
    S_D0("NA", "264"),
    S_D0("NC", "687"),
    S_D0("NE", "227"),
    S_D0("NF", "672"),
    S_D0("NG", "234"),
    S_D0("NI", "505"),
    S_D0("NL", "31"),
    S_D0("NO", "47"),
    S_D0("NP", "977"),
    S_D0("NR", "674"),
    S_D0("NU", "683"),
    S_D0("NZ", "64"),
    S_D0("OM", "968"),
    S_D0("PA", "507"),
    S_D0("PE", "51"),
    S_D0("PF", "689"),
    S_D0("PG", "675"),
    S_D0("PH", "63"),
    S_D0("PK", "92"),
    S_D0("PL", "48"),
    S_D0("PM", "508"),
    S_D0("PN", "64"),
    S_DNANP("PR"),
    S_D0("PS", "970"),
    S_D0("PT", "351"),
    S_D0("PW", "680"),
    S_D0("PY", "595"),
    S_D0("QA", "974"),
    S_D0("RE", "262"),
    S_D0("RO", "40"),
    S_D0("RS", "381"),
    {"RU", "7", "8|0", "810", 10},
    S_D0("RW", "250"),
    S_D0("SA", "966"),
    S_D0("SB", "677"),
    S_D0("SC", "248"),
    S_D0("SD", "249"),
    S_D0("SE", "46"),
    S_D0("SG", "65"),
    S_D0("SH", "290"),
    S_D0("SI", "386"),
    S_D0("SJ", "47"),
    S_D0("SK", "421"),
    S_D0("SL", "232"),
    S_DKEEP("SM", "378"),
    S_D0("SN", "221"),
    S_D0("SO", "252"),
    S_D0("SR", "597"),
    S_D0("SS", "211"),
    S_D0("ST", "239"),
    S_D0("SV", "503"),
    S_DNANP("SX"),
    S_D0("SY", "963"),
    S_D0("SZ", "268"),
    S_DNANP("TC"),
    S_D0("TD", "235"),
    S_D0("TF", "262"),
    S_D0("TG", "228"),
    S_D0("TH", "66"),
    S_D0("TJ", "992"),
    S_D0("TK", "690"),
    S_D0("TL", "670"),
    S_D0("TM", "993"),
    S_D0("TN", "216"),
    S_D0("TO", "676"),
    S_D0("TR", "90"),
    S_DNANP("TT"),
    S_D0("TV", "688"),
    S_D0("TW", "886"),
    S_D0("TZ", "255"),
    S_D0("UA", "380"),
    S_D0("UG", "256"),
    S_DNANP("UM"),
    S_DNANP("US"),
    S_D0("UY", "598"),
    S_D0("UZ", "998"),
    S_DKEEP("VA", "39"),
    S_DNANP("VC"),
    S_D0("VE", "58"),
    S_DNANP("VG"),
    S_DNANP("VI"),
    S_D0("VN", "84"),
    S_D0("VU", "678"),
    S_D0("WF", "681"),
    S_D0("WS", "685"),
    S_D0("XK", "383"),
    S_D0("YE", "967"),
    S_D0("YT", "262"),
    S_D0("ZA", "27"),
    S_D0("ZM", "260"),
    S_D0("ZW", "263"),
};

#define S_NDIAL (sizeof s_dial_plans / sizeof s_dial_plans[0])

/* The plan of a two-letter code in either case, or NULL. */
static const struct s_dial *s_dial_by_iso(const char *iso)
{
    if (!s_is_alpha((unsigned char)iso[0]) || !s_is_alpha((unsigned char)iso[1]) || iso[2])
        return NULL;
    char a = cm_ascii_toupper(iso[0]), b = cm_ascii_toupper(iso[1]);
    for (size_t i = 0; i < S_NDIAL; i++)
        if (s_dial_plans[i].iso[0] == a && s_dial_plans[i].iso[1] == b)
            return &s_dial_plans[i];
    return NULL;
}

/* The plan whose calling code is the longest prefix of digits[0..n), or NULL. Calling codes
 * form a prefix code, so at most one length matches. */
static const struct s_dial *s_dial_by_prefix(const char *digits, size_t n)
{
    for (size_t len = 3; len >= 1; len--) {
        if (len > n)
            continue;
        for (size_t i = 0; i < S_NDIAL; i++) {
            const char *cc = s_dial_plans[i].cc;
            if (strlen(cc) == len && memcmp(cc, digits, len) == 0)
                return &s_dial_plans[i];
        }
    }
    return NULL;
}

/* True when one of the plan's '|'-separated trunk prefixes is exactly tok. */
static bool s_trunk_has(const struct s_dial *plan, const char *tok)
{
    size_t tlen = strlen(tok);
    for (const char *t = plan->trunk; *t;) {
        size_t n = strcspn(t, "|");
        if (n == tlen && !strncmp(t, tok, n))
            return true;
        t += n;
        if (*t == '|')
            t++;
    }
    return false;
}

static bool s_starts_with(const char *s, size_t n, const char *prefix, size_t plen)
{
    return plen <= n && memcmp(s, prefix, plen) == 0;
}

/* Length of a typographic separator (no-break, thin or narrow no-break space; hyphen, figure
 * dash, en dash, minus) at s, as pasted from documents and web pages, or 0. */
static size_t s_unicode_separator(const unsigned char *s)
{
    static const char *const seps[] = {
        "\xc2\xa0",     "\xe2\x80\x89", "\xe2\x80\xaf", "\xe2\x80\x90",
        "\xe2\x80\x91", "\xe2\x80\x92", "\xe2\x80\x93", "\xe2\x88\x92",
    };
    for (size_t i = 0; i < sizeof seps / sizeof seps[0]; i++) {
        size_t n = strlen(seps[i]);
        if (strncmp((const char *)s, seps[i], n) == 0)
            return n;
    }
    return 0;
}

/* Longest run of digits kept while scanning: an exit code ("0011") and 15 digits, with room to
 * tell "too long" apart. */
#define S_PHONE_SCAN 32

int customers_validate_phone(const char *in, const char *default_country, char *out, size_t outsz,
                             const char **why)
{
    assert(in && out && outsz >= CUSTOMERS_PHONE_SIZE);
    out[0] = '\0';
    size_t len = 0;
    const char *s = s_trim(in, &len);
    if (len == 0)
        return s_fail(why, "empty");

    char digits[S_PHONE_SCAN];
    size_t nd = 0;
    bool plus = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t seplen = 0;
        if (cm_ascii_digit(c)) {
            if (nd == sizeof digits)
                return s_fail(why, "too long (at most 15 digits)");
            digits[nd++] = (char)c;
        } else if (c == '+') {
            if (plus || nd > 0)
                return s_fail(why, "misplaced +");
            plus = true;
        } else if (s_is_alpha(c)) {
            return s_fail(why, "contains letters");
        } else if (cm_ascii_space(c) || c == '-' || c == '.' || c == '/' || c == '(' || c == ')') {
            continue;
        } else if ((seplen = s_unicode_separator((const unsigned char *)s + i)) > 0) {
            i += seplen - 1;
        } else {
            return s_fail(why, "invalid character");
        }
    }
    if (nd == 0)
        return s_fail(why, "too short");

    const struct s_dial *home = NULL;
    if (default_country && *default_country) {
        home = s_dial_by_iso(default_country);
        if (!home && s_is_alpha((unsigned char)default_country[0]) &&
            s_is_alpha((unsigned char)default_country[1]) && !default_country[2])
            return s_fail(
                why, s_unknown_default_country[s_code_index(cm_ascii_toupper(default_country[0]),
                                                            cm_ascii_toupper(default_country[1]))]);
        if (!home)
            return s_fail(why, "unknown default country");
    }

    const char *p = digits;
    size_t n = nd;
    bool intl = plus;
    if (!intl && home && home->intl && s_starts_with(p, n, home->intl, strlen(home->intl))) {
        p += strlen(home->intl);
        n -= strlen(home->intl);
        intl = true;
    } else if (!intl && s_starts_with(p, n, "00", 2)) {
        p += 2;
        n -= 2;
        intl = true;
    }

    const struct s_dial *plan = NULL;
    const char *nsn = NULL;
    size_t nsn_len = 0;
    if (intl) {
        if (n == 0)
            return s_fail(why, "too short");
        plan = s_dial_by_prefix(p, n);
        if (!plan)
            return s_fail(why, "unknown country calling code");
        nsn = p + strlen(plan->cc);
        nsn_len = n - strlen(plan->cc);
        /* "+49 (0)30 …" and "+49 030 …": the national trunk 0 written after the code. */
        if (s_trunk_has(plan, "0") && nsn_len > 0 && nsn[0] == '0') {
            nsn++;
            nsn_len--;
        }
    } else {
        if (!home)
            return s_fail(why, "local number needs a default country");
        plan = home;
        nsn = p;
        nsn_len = n;
        const char *t = plan->trunk;
        while (*t && !(plan->nsn_len && nsn_len == plan->nsn_len)) {
            size_t tlen = strcspn(t, "|");
            if (tlen < nsn_len && s_starts_with(nsn, nsn_len, t, tlen)) {
                nsn += tlen;
                nsn_len -= tlen;
                break;
            }
            t += tlen;
            if (*t == '|')
                t++;
        }
    }

    /* Normalising must be stable: what we store must normalise to itself. A
     * country that drops trunk 0 has no national number starting with 0, and
     * a North American number is ten digits starting 2-9. */
    if (s_trunk_has(plan, "0") && nsn_len > 0 && nsn[0] == '0')
        return s_fail(why, "unexpected 0 after the country code");
    if (!strcmp(plan->cc, "1")) {
        if (nsn_len != 10)
            return s_fail(why, "a North American number has 10 digits after +1");
        if (nsn[0] == '0' || nsn[0] == '1')
            return s_fail(why, "not a North American number (area codes start with 2-9)");
    }
    size_t cclen = strlen(plan->cc);
    size_t total = cclen + nsn_len;
    if (total < 8)
        return s_fail(why, "too short");
    if (total > 15)
        return s_fail(why, "too long (at most 15 digits)");
    out[0] = '+';
    memcpy(out + 1, plan->cc, cclen);
    memcpy(out + 1 + cclen, nsn, nsn_len);
    out[1 + total] = '\0';
    return 0;
}

/* ---------------------------------------------------------------- dates */

static bool s_is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int s_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && s_is_leap(y) ? 29 : days[m - 1];
}

/* Value of the n decimal digits at s, all known to be digits. */
static int s_digits_value(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int customers_validate_date(const char *in, int64_t today_days, const char **why)
{
    assert(in);
    static const char shape[] = "dddd-dd-dd";
    for (size_t i = 0; i < sizeof shape; i++) {
        bool ok = shape[i] == 'd' ? cm_ascii_digit((unsigned char)in[i]) : in[i] == shape[i];
        if (!ok)
            return s_fail(why, "expected YYYY-MM-DD");
    }
    int y = s_digits_value(in, 4), m = s_digits_value(in + 5, 2), d = s_digits_value(in + 8, 2);
    if (m < 1 || m > 12 || d < 1 || d > s_days_in_month(y, m))
        return s_fail(why, "not a real date");
    if (y < 1900)
        return s_fail(why, "before 1900");
    if (cm_days_from_civil(y, m, d) > today_days)
        return s_fail(why, "in the future");
    return 0;
}

/* ---------------------------------------------------------------- countries and languages */

/* Every officially assigned ISO 3166-1 alpha-2 code, sorted. */
static const char s_countries[][3] = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
};

static int s_compare_code(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int customers_validate_country(const char *in)
{
    assert(in);
    if (!cm_ascii_upper((unsigned char)in[0]) || !cm_ascii_upper((unsigned char)in[1]) || in[2])
        return -1;
    size_t n = sizeof s_countries / sizeof s_countries[0];
    return bsearch(in, s_countries, n, sizeof s_countries[0], s_compare_code) ? 0 : -1;
}

/* Length of the subtag at s (up to '-' or the end). */
static size_t s_subtag_len(const char *s)
{
    return strcspn(s, "-");
}

static bool s_all(const char *s, size_t n, bool (*pred)(unsigned char))
{
    for (size_t i = 0; i < n; i++)
        if (!pred((unsigned char)s[i]))
            return false;
    return true;
}

int customers_validate_language(const char *in)
{
    assert(in);
    const char *s = in;
    size_t n = s_subtag_len(s);
    if (n < 2 || n > 3 || !s_all(s, n, cm_ascii_lower))
        return -1;
    s += n;
    bool script_allowed = true;
    while (*s) {
        s++; /* the '-' */
        n = s_subtag_len(s);
        if (script_allowed && n == 4 && cm_ascii_upper((unsigned char)s[0]) &&
            s_all(s + 1, 3, cm_ascii_lower)) {
            script_allowed = false;
        } else if ((n == 2 && s_all(s, 2, cm_ascii_upper)) ||
                   (n == 3 && s_all(s, 3, cm_ascii_digit))) {
            /* The region ends the tag. */
            return s[n] ? -1 : 0;
        } else {
            return -1;
        }
        s += n;
    }
    return 0;
}

/* ---------------------------------------------------------------- text */

int customers_validate_length(const char *s, size_t max_chars)
{
    assert(s);
    return cm_utf8_length(s) <= max_chars ? 0 : -1;
}

int customers_validate_color(const char *in)
{
    assert(in);
    if (in[0] != '#')
        return -1;
    for (size_t i = 1; i <= 6; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!(cm_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return -1;
    }
    return in[7] ? -1 : 0;
}

/* Appends to a fixed buffer, dropping what does not fit without splitting a code point. */
struct s_writer {
    char *buf; /* borrowed (caller) */
    size_t size;
    size_t len;
    bool full;
};

static void s_put(struct s_writer *w, const char *src, size_t n)
{
    if (w->full)
        return;
    size_t room = w->size - 1 - w->len;
    if (n > room) {
        w->full = true;
        n = room;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(w->buf + w->len, src, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void customers_validate_split_name(const char *query, char *first, size_t fsz, char *last,
                                   size_t lsz)
{
    assert(query && first && last && fsz > 0 && lsz > 0);
    struct s_writer w_first = {first, fsz, 0, false};
    struct s_writer w_last = {last, lsz, 0, false};
    first[0] = '\0';
    last[0] = '\0';
    const char *s = query;
    for (size_t word = 0;; word++) {
        while (cm_ascii_space((unsigned char)*s))
            s++;
        if (!*s)
            break;
        size_t n = 0;
        while (s[n] && !cm_ascii_space((unsigned char)s[n]))
            n++;
        if (word == 0) {
            s_put(&w_first, s, n);
        } else {
            if (word > 1)
                s_put(&w_last, " ", 1);
            s_put(&w_last, s, n);
        }
        s += n;
    }
    /* A cut right after a separator would leave a trailing space. */
    if (w_last.len > 0 && last[w_last.len - 1] == ' ')
        last[w_last.len - 1] = '\0';
}

/* ---------------------------------------------------------------- EU VAT numbers */

int customers_validate_vat(const char *in, char *out, size_t outsz, const char **why)
{
    return cm_vat_normalise(in, out, outsz, why);
}
