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
};

#define S_VAT(cc, pattern)                                                                         \
    {                                                                                              \
        cc, pattern, "does not match the format for " cc                                           \
    }

static const struct s_vat_format s_vat_formats[] = {
    S_VAT("AT", "Ud{8}"),
    S_VAT("BE", "bd{9}"),
    S_VAT("BG", "d{9,10}"),
    S_VAT("CY", "d{8}a"), /* and not starting 12, checked apart */
    S_VAT("CZ", "d{8,10}"),
    S_VAT("DE", "d{9}"),
    S_VAT("DK", "d{8}"),
    S_VAT("EE", "10d{7}"),
    S_VAT("EL", "d{9}"),
    S_VAT("ES", "ad{7}x|xd{7}a"),
    S_VAT("FI", "d{8}"),
    S_VAT("FR", "f{2}d{9}"),
    S_VAT("HR", "d{11}"),
    S_VAT("HU", "d{8}"),
    S_VAT("IE", "d{7}a{1,2}|did{5}a"),
    S_VAT("IT", "d{11}"),
    S_VAT("LT", "d{9}|d{12}"),
    S_VAT("LU", "d{8}"),
    S_VAT("LV", "d{11}"),
    S_VAT("MT", "d{8}"),
    S_VAT("NL", "d{9}Bd{2}"),
    S_VAT("PL", "d{10}"),
    S_VAT("PT", "d{9}"),
    S_VAT("RO", "nd{1,9}"),
    S_VAT("SE", "d{10}01"),
    S_VAT("SI", "d{8}"),
    S_VAT("SK", "d{10}"),
    S_VAT("XI", "d{9}|d{12}|GDd{3}|HAd{3}"),
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
    memcpy(out, buf, n);
    out[n] = '\0';
    return 0;
}
