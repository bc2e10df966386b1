/* EU VAT numbers: each member state's syntax (after yolk/valvat), in a small
 * pattern language. Pure: used by the customers service (the company data of a
 * customer) and the company service (before it asks VIES). */
#include "cm_vat.h"
#include "cm_util.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int s_fail(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return -1;
}

/* "unknown country prefix XX": kept per thread until its next call, so *why
 * stays a string the caller need not free. */
static const char *s_unknown_prefix(char a, char b)
{
    static _Thread_local char msg[32];
    snprintf(msg, sizeof msg, "unknown country prefix %c%c", a, b);
    return msg;
}

/* Syntax of each member state's VAT number after its prefix (after yolk/valvat), in a small
 * pattern language: d digit, a letter, x letter or digit, b 0 or 1, n 1-9, f [A-HJ-NP-Z0-9]
 * (France), i letter, '+' or '*' (Ireland); upper-case letters and digits stand for themselves;
 * {m} or {m,n} repeats the class before it; '|' separates alternatives. */
struct s_vat_format {
    char prefix[3];
    const char *pattern;  /* borrowed (static) */
    const char *mismatch; /* borrowed (static): the error for a number that does not match */
    /* The member state's check digits over the part after the prefix (n characters, already
     * matching pattern): true when they hold. NULL where the state defines none we check. */
    bool (*check)(const char *b, size_t n);
    const char *wrong; /* borrowed (static): the error for a wrong check digit */
};

#define S_VAT(cc, pattern, check)                                                                  \
    {                                                                                              \
        cc, pattern, "does not match the format for " cc, check,                                   \
            "the check digit is wrong: not a valid " cc " number"                                  \
    }

/* ---------------------------------------------------------------------- */
/* Check digits (after python-stdnum's descriptions of each state's rules)   */

/* The digit at i. */
#define D(i) ((int)(b[i] - '0'))

/* Sum of digits b[from..from+n) weighted by w. */
static int s_weighted(const char *b, size_t from, const int *w, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += D(from + i) * w[i];
    return sum;
}

/* The Luhn sum (mod 10) of the digits b[0..n): 0 when they carry a valid Luhn check digit. */
static int s_luhn(const char *b, size_t n)
{
    int sum = 0;
    for (size_t k = 0; k < n; k++) {
        int d = D(n - 1 - k);
        if (k % 2) {
            d *= 2;
            d = d / 10 + d % 10;
        }
        sum += d;
    }
    return sum % 10;
}

/* ISO 7064 MOD 11,10 over the digits b[0..n): 1 when the last is a valid check digit. */
static int s_mod11_10(const char *b, size_t n)
{
    int c = 5;
    for (size_t i = 0; i < n; i++)
        c = (((c ? c : 10) * 2) % 11 + D(i)) % 10;
    return c;
}

static bool s_at(const char *b, size_t n)
{
    (void)n; /* U + 7 digits + check: the Luhn sum of the 7, shifted by 4 */
    return (6 - s_luhn(b + 1, 7) + 10) % 10 == D(8);
}

static bool s_be(const char *b, size_t n)
{
    (void)n;
    long head = 0;
    for (size_t i = 0; i < 8; i++)
        head = head * 10 + D(i);
    return 97 - head % 97 == D(8) * 10 + D(9);
}

static bool s_bg(const char *b, size_t n)
{
    if (n == 9) { /* a legal entity */
        static const int w1[] = {1, 2, 3, 4, 5, 6, 7, 8}, w2[] = {3, 4, 5, 6, 7, 8, 9, 10};
        int c = s_weighted(b, 0, w1, 8) % 11;
        if (c == 10)
            c = s_weighted(b, 0, w2, 8) % 11 % 10;
        return c == D(8);
    }
    /* Ten digits: a person's EGN, a foreigner's PNF, or another's number. */
    static const int egn[] = {2, 4, 8, 5, 10, 9, 7, 3, 6}, pnf[] = {21, 19, 17, 13, 11, 9, 7, 3, 1},
                     other[] = {4, 3, 2, 7, 6, 5, 4, 3, 2};
    if (s_weighted(b, 0, egn, 9) % 11 % 10 == D(9) || s_weighted(b, 0, pnf, 9) % 10 == D(9))
        return true;
    int c = 11 - s_weighted(b, 0, other, 9) % 11;
    return c != 10 && c % 11 == D(9);
}

static bool s_cy(const char *b, size_t n)
{
    (void)n;
    static const int odd[] = {1, 0, 5, 7, 9, 13, 15, 17, 19, 21};
    int sum = 0;
    for (size_t i = 0; i < 8; i++)
        sum += i % 2 ? D(i) : odd[D(i)];
    return b[8] == 'A' + sum % 26;
}

static bool s_cz(const char *b, size_t n)
{
    if (n != 8)
        return true; /* 9 and 10 digits: people, whose numbers we do not check */
    static const int w[] = {8, 7, 6, 5, 4, 3, 2};
    int c = (11 - s_weighted(b, 0, w, 7) % 11) % 11;
    return (c ? c : 1) % 10 == D(7);
}

static bool s_de_hr(const char *b, size_t n)
{
    return s_mod11_10(b, n) == 1;
}

static bool s_dk(const char *b, size_t n)
{
    (void)n;
    static const int w[] = {2, 7, 6, 5, 4, 3, 2, 1};
    return s_weighted(b, 0, w, 8) % 11 == 0;
}

static bool s_ee(const char *b, size_t n)
{
    (void)n;
    static const int w[] = {3, 7, 1, 3, 7, 1, 3, 7, 1};
    return s_weighted(b, 0, w, 9) % 10 == 0;
}

static bool s_el(const char *b, size_t n)
{
    (void)n;
    long c = 0;
    for (size_t i = 0; i < 8; i++)
        c = c * 2 + D(i);
    return c * 2 % 11 % 10 == D(8);
}

static bool s_es(const char *b, size_t n)
{
    (void)n;
    static const char dni[] = "TRWAGMYFPDXBNJZSQVHLCKE";
    long v = 0;
    if (cm_ascii_digit((unsigned char)b[0])) { /* DNI: 8 digits and a letter */
        for (size_t i = 0; i < 8; i++)
            v = v * 10 + D(i);
        return b[8] == dni[v % 23];
    }
    if (b[0] == 'X' || b[0] == 'Y' || b[0] == 'Z' || b[0] == 'K' || b[0] == 'L' || b[0] == 'M') {
        /* NIE (X, Y, Z stand for 0, 1, 2) and the K, L, M numbers: the DNI's letter. */
        v = b[0] == 'Y' ? 1 : b[0] == 'Z' ? 2 : 0;
        for (size_t i = 1; i < 8; i++) {
            if (!cm_ascii_digit((unsigned char)b[i]))
                return false;
            v = v * 10 + D(i);
        }
        return b[8] == dni[v % 23];
    }
    /* CIF: a letter, 7 digits, a check digit or its letter. */
    char digits[9];
    for (size_t i = 1; i < 8; i++) {
        if (!cm_ascii_digit((unsigned char)b[i]))
            return false;
        digits[i - 1] = b[i];
    }
    digits[7] = '0';
    int c = (10 - s_luhn(digits, 8)) % 10;
    return b[8] == '0' + c || b[8] == "JABCDEFGHI"[c];
}

static bool s_fi(const char *b, size_t n)
{
    (void)n;
    static const int w[] = {7, 9, 10, 5, 8, 4, 2, 1};
    return s_weighted(b, 0, w, 8) % 11 == 0;
}

static bool s_fr(const char *b, size_t n)
{
    (void)n;
    const char *siren = b + 2;
    /* The SIREN carries a Luhn digit (Monaco's 000... numbers excepted). */
    if (memcmp(siren, "000", 3) != 0 && s_luhn(siren, 9) != 0)
        return false;
    if (!cm_ascii_digit((unsigned char)b[0]) || !cm_ascii_digit((unsigned char)b[1]))
        return true; /* the newer keys with letters: not checked */
    long v = 0;
    for (size_t i = 0; i < 9; i++)
        v = v * 10 + (siren[i] - '0');
    return (v * 100 + 12) % 97 == D(0) * 10 + D(1);
}

static bool s_hu(const char *b, size_t n)
{
    (void)n;
    static const int w[] = {9, 7, 3, 1, 9, 7, 3, 1};
    return s_weighted(b, 0, w, 8) % 10 == 0;
}

/* Ireland's check letter of 7 digits and an optional letter after the check. */
static char s_ie_letter(const char digits[7], char extra)
{
    static const char alphabet[] = "WABCDEFGHIJKLMNOPQRSTUV";
    int sum = 0;
    for (int i = 0; i < 7; i++)
        sum += (8 - i) * (digits[i] - '0');
    const char *x = extra ? strchr(alphabet, extra) : alphabet;
    if (!x)
        return '\0'; /* no letter of the alphabet: matches no check letter */
    sum += 9 * (int)(x - alphabet);
    return alphabet[sum % 23];
}

static bool s_ie(const char *b, size_t n)
{
    if (cm_ascii_digit((unsigned char)b[1])) /* 7 digits, the check letter, maybe one more */
        return b[7] == s_ie_letter(b, n == 9 ? b[8] : 0);
    /* The old form 9X99999X: the digits are 0, b[2..7), b[0]. */
    char digits[7] = {'0', b[2], b[3], b[4], b[5], b[6], b[0]};
    return b[7] == s_ie_letter(digits, 0);
}

static bool s_it(const char *b, size_t n)
{
    return s_luhn(b, n) == 0;
}

static bool s_lt(const char *b, size_t n)
{
    int c = 0;
    for (size_t i = 0; i + 1 < n; i++)
        c += (int)(i % 9 + 1) * D(i);
    c %= 11;
    if (c == 10) {
        c = 0;
        for (size_t i = 0; i + 1 < n; i++)
            c += (int)((i + 2) % 9 + 1) * D(i);
        c %= 11;
    }
    return c % 10 == D(n - 1);
}

static bool s_lu(const char *b, size_t n)
{
    (void)n;
    long head = 0;
    for (size_t i = 0; i < 6; i++)
        head = head * 10 + D(i);
    return head % 89 == D(6) * 10 + D(7);
}

static bool s_lv(const char *b, size_t n)
{
    (void)n;
    if (D(0) <= 3)
        return true; /* a person's code: not checked */
    static const int w[] = {9, 1, 4, 8, 3, 10, 2, 5, 7, 6, 1};
    return s_weighted(b, 0, w, 11) % 11 == 3;
}

static bool s_mt(const char *b, size_t n)
{
    (void)n;
    static const int w[] = {3, 4, 6, 7, 8, 9, 10, 1};
    return s_weighted(b, 0, w, 8) % 37 == 0;
}

static bool s_nl(const char *b, size_t n)
{
    /* The older numbers: 11-proof of the first nine digits (the last weighs -1). */
    static const int w[] = {9, 8, 7, 6, 5, 4, 3, 2};
    if ((s_weighted(b, 0, w, 8) - D(8)) % 11 == 0)
        return true;
    /* Since 2020 (sole traders): ISO 7064 MOD 97-10 of "NL" and the number, letters as 10..35. */
    char all[16];
    snprintf(all, sizeof all, "NL%.*s", (int)n, b);
    int r = 0;
    for (const char *p = all; *p; p++) {
        if (cm_ascii_digit((unsigned char)*p)) {
            r = (r * 10 + (*p - '0')) % 97;
        } else {
            int v = *p - 'A' + 10;
            r = (r * 100 + v) % 97;
        }
    }
    return r == 1;
}

static bool s_pl(const char *b, size_t n)
{
    (void)n;
    static const int w[] = {6, 5, 7, 2, 3, 4, 5, 6, 7};
    int c = s_weighted(b, 0, w, 9) % 11;
    return c != 10 && c == D(9);
}

static bool s_pt(const char *b, size_t n)
{
    (void)n;
    static const int w[] = {9, 8, 7, 6, 5, 4, 3, 2};
    return (11 - s_weighted(b, 0, w, 8) % 11) % 11 % 10 == D(8);
}

static bool s_ro(const char *b, size_t n)
{
    /* The digits before the check, aligned right under the weights. */
    static const int w[] = {7, 5, 3, 2, 1, 7, 5, 3, 2};
    int sum = 0;
    for (size_t i = 0; i + 1 < n; i++)
        sum += D(i) * w[9 - (n - 1) + i];
    return sum * 10 % 11 % 10 == D(n - 1);
}

static bool s_se(const char *b, size_t n)
{
    (void)n;
    return s_luhn(b, 10) == 0;
}

static bool s_si(const char *b, size_t n)
{
    (void)n;
    static const int w[] = {8, 7, 6, 5, 4, 3, 2};
    int c = 11 - s_weighted(b, 0, w, 7) % 11;
    return c != 11 && c % 10 == D(7);
}

static bool s_sk(const char *b, size_t n)
{
    long v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v * 10 + D(i)) % 11;
    return v == 0;
}

static bool s_xi(const char *b, size_t n)
{
    (void)n;
    if (!cm_ascii_digit((unsigned char)b[0]))
        return true; /* GD and HA: government departments and health authorities */
    /* The UK's: weights 8..2 and the last two digits, mod 97 (the 55 series too). */
    static const int w[] = {8, 7, 6, 5, 4, 3, 2};
    int r = (s_weighted(b, 0, w, 7) + D(7) * 10 + D(8)) % 97;
    return r == 0 || r == 42 || r == 55;
}

#undef D

static const struct s_vat_format s_vat_formats[] = {
    S_VAT("AT", "Ud{8}", s_at),
    S_VAT("BE", "bd{9}", s_be),
    S_VAT("BG", "d{9,10}", s_bg),
    S_VAT("CY", "d{8}a", s_cy), /* and not starting 12, checked apart */
    S_VAT("CZ", "d{8,10}", s_cz),
    S_VAT("DE", "d{9}", s_de_hr),
    S_VAT("DK", "d{8}", s_dk),
    S_VAT("EE", "10d{7}", s_ee),
    S_VAT("EL", "d{9}", s_el),
    S_VAT("ES", "ad{7}x|xd{7}a", s_es),
    S_VAT("FI", "d{8}", s_fi),
    S_VAT("FR", "f{2}d{9}", s_fr),
    S_VAT("HR", "d{11}", s_de_hr),
    S_VAT("HU", "d{8}", s_hu),
    S_VAT("IE", "d{7}a{1,2}|did{5}a", s_ie),
    S_VAT("IT", "d{11}", s_it),
    S_VAT("LT", "d{9}|d{12}", s_lt),
    S_VAT("LU", "d{8}", s_lu),
    S_VAT("LV", "d{11}", s_lv),
    S_VAT("MT", "d{8}", s_mt),
    S_VAT("NL", "d{9}Bd{2}", s_nl),
    S_VAT("PL", "d{10}", s_pl),
    S_VAT("PT", "d{9}", s_pt),
    S_VAT("RO", "nd{1,9}", s_ro),
    S_VAT("SE", "d{10}01", s_se),
    S_VAT("SI", "d{8}", s_si),
    S_VAT("SK", "d{10}", s_sk),
    S_VAT("XI", "d{9}|d{12}|GDd{3}|HAd{3}", s_xi),
};

static bool s_vat_class(char cls, unsigned char c)
{
    switch (cls) {
    case 'd':
        return cm_ascii_digit(c);
    case 'a':
        return cm_ascii_upper(c);
    case 'x':
        return cm_ascii_upper(c) || cm_ascii_digit(c);
    case 'b':
        return c == '0' || c == '1';
    case 'n':
        return c >= '1' && c <= '9';
    case 'f':
        return (cm_ascii_upper(c) && c != 'I' && c != 'O') || cm_ascii_digit(c);
    case 'i':
        return cm_ascii_upper(c) || c == '+' || c == '*';
    default:
        return (unsigned char)cls == c;
    }
}

/* Reads "{m}" or "{m,n}" at *p (single-digit or two-digit counts), else 1..1. */
static void s_vat_repeat(const char **p, size_t *min, size_t *max)
{
    *min = *max = 1;
    if (**p != '{')
        return;
    const char *q = *p + 1;
    size_t v = 0;
    while (cm_ascii_digit((unsigned char)*q))
        v = v * 10 + (size_t)(*q++ - '0');
    *min = *max = v;
    if (*q == ',') {
        q++;
        v = 0;
        while (cm_ascii_digit((unsigned char)*q))
            v = v * 10 + (size_t)(*q++ - '0');
        *max = v;
    }
    assert(*q == '}');
    *p = q + 1;
}

/* True when the alternative starting at pat matches all of s[0..n). Inputs are at most a few
 * dozen bytes, so plain backtracking is cheap. */
static bool s_vat_match_here(const char *pat, const char *s, size_t n)
{
    if (*pat == '\0' || *pat == '|')
        return n == 0;
    char cls = *pat++;
    size_t min = 0, max = 0;
    s_vat_repeat(&pat, &min, &max);
    for (size_t k = 0; k <= max && k <= n; k++) {
        if (k > 0 && !s_vat_class(cls, (unsigned char)s[k - 1]))
            return false;
        if (k >= min && s_vat_match_here(pat, s + k, n - k))
            return true;
    }
    return false;
}

static bool s_vat_match(const char *pattern, const char *s, size_t n)
{
    for (const char *alt = pattern;; alt++) {
        if (s_vat_match_here(alt, s, n))
            return true;
        alt = strchr(alt, '|');
        if (!alt)
            return false;
    }
}

/* Longest normalised input kept while scanning: the longest number is 14 characters. */
#define S_VAT_SCAN 24

int cm_vat_normalise(const char *in, char *out, size_t outsz, const char **why)
{
    assert(in && out && outsz >= CM_VAT_SIZE);
    out[0] = '\0';
    char buf[S_VAT_SCAN];
    size_t n = 0;
    bool overflow = false;
    for (const char *s = in; *s; s++) {
        if (cm_ascii_space((unsigned char)*s) || *s == '.' || *s == '-')
            continue;
        if (n == sizeof buf) {
            overflow = true;
            break;
        }
        buf[n++] = cm_ascii_toupper(*s);
    }
    if (n == 0)
        return s_fail(why, "empty");
    if (n < 2 || !cm_ascii_upper((unsigned char)buf[0]) || !cm_ascii_upper((unsigned char)buf[1]))
        return s_fail(why, "missing country prefix");
    if (buf[0] == 'G' && buf[1] == 'R')
        return s_fail(why, "use EL for Greece");
    const struct s_vat_format *fmt = NULL;
    for (size_t i = 0; i < sizeof s_vat_formats / sizeof s_vat_formats[0]; i++)
        if (s_vat_formats[i].prefix[0] == buf[0] && s_vat_formats[i].prefix[1] == buf[1])
            fmt = &s_vat_formats[i];
    if (!fmt)
        return s_fail(why, s_unknown_prefix(buf[0], buf[1]));

    const char *body = buf + 2;
    size_t body_len = n - 2;
    if (overflow || body_len + 2 >= CM_VAT_SIZE || !s_vat_match(fmt->pattern, body, body_len))
        return s_fail(why, fmt->mismatch);
    if (buf[0] == 'C' && buf[1] == 'Y' && body[0] == '1' && body[1] == '2')
        return s_fail(why, fmt->mismatch);
    if (fmt->check && !fmt->check(body, body_len))
        return s_fail(why, fmt->wrong);
    memcpy(out, buf, n);
    out[n] = '\0';
    return 0;
}
