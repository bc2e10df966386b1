/* Money as minor units of an ISO 4217 currency (cm_money.h). */
#include "cm_money.h"

#include <stdio.h>
#include <string.h>

/* The currencies the suite takes, then every other ISO 4217 currency whose
 * minor unit is not two digits (ISO 4217, amendment 177). A code in neither
 * part has two. */
static const struct {
    const char *code;
    int digits;
    bool taken;
} s_currencies[] = {
    {"EUR", 2, true},  {"PLN", 2, true},  {"NOK", 2, true},  {"BGN", 2, true},  {"CZK", 2, true},
    {"HUF", 2, true},  {"RON", 2, true},  {"SEK", 2, true},  {"DKK", 2, true},  {"CHF", 2, true},
    {"GBP", 2, true},  {"ISK", 0, true},  {"RSD", 2, true},  {"MKD", 2, true},  {"ALL", 2, true},
    {"BAM", 2, true},  {"MDL", 2, true},  {"UAH", 2, true},  {"TRY", 2, true},  {"USD", 2, true},
    {"CAD", 2, true},  {"AUD", 2, true},  {"JPY", 0, true},  {"BIF", 0, false}, {"CLP", 0, false},
    {"DJF", 0, false}, {"GNF", 0, false}, {"KMF", 0, false}, {"KRW", 0, false}, {"PYG", 0, false},
    {"RWF", 0, false}, {"UGX", 0, false}, {"UYI", 0, false}, {"VND", 0, false}, {"VUV", 0, false},
    {"XAF", 0, false}, {"XOF", 0, false}, {"XPF", 0, false}, {"BHD", 3, false}, {"IQD", 3, false},
    {"JOD", 3, false}, {"KWD", 3, false}, {"LYD", 3, false}, {"OMR", 3, false}, {"TND", 3, false},
    {"CLF", 4, false}, {"UYW", 4, false},
};
#define N_CURRENCIES (sizeof s_currencies / sizeof *s_currencies)

static int s_find(const char *code)
{
    for (size_t i = 0; code && i < N_CURRENCIES; i++)
        if (!strcmp(s_currencies[i].code, code))
            return (int)i;
    return -1;
}

int cm_money_digits(const char *code)
{
    int i = s_find(code);
    return i < 0 ? 2 : s_currencies[i].digits;
}

bool cm_money_taken(const char *code)
{
    int i = s_find(code);
    return i >= 0 && s_currencies[i].taken;
}

char *cm_money_format(int64_t amount, const char *currency, char *buf, size_t size)
{
    int digits = cm_money_digits(currency);
    /* The magnitude as unsigned, so INT64_MIN has one too. */
    uint64_t mag = amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
    uint64_t scale = 1;
    for (int i = 0; i < digits; i++)
        scale *= 10;
    char frac[8] = "";
    if (digits) {
        uint64_t f = mag % scale;
        frac[0] = '.';
        for (int i = digits; i > 0; i--, f /= 10)
            frac[i] = (char)('0' + f % 10);
        frac[digits + 1] = '\0';
    }
    snprintf(buf, size, "%s%llu%s", amount < 0 ? "-" : "", (unsigned long long)(mag / scale), frac);
    return buf;
}

char *cm_money_text(int64_t amount, const char *currency, char *buf, size_t size)
{
    char number[CM_MONEY_SIZE];
    snprintf(buf, size, "%s %s", cm_money_format(amount, currency, number, sizeof number),
             currency);
    return buf;
}

int cm_money_parse(const char *text, int digits, int64_t *minor)
{
    const char *p = text;
    bool neg = *p == '-';
    if (neg)
        p++;
    int64_t whole = 0;
    int n_whole = 0;
    for (; *p >= '0' && *p <= '9'; p++, n_whole++) {
        if (whole > CM_MONEY_MAX / 10)
            return -1;
        whole = whole * 10 + (*p - '0');
    }
    if (!n_whole)
        return -1;
    int64_t frac = 0;
    int n_frac = 0;
    if (*p == '.' || *p == ',') {
        p++;
        for (; *p >= '0' && *p <= '9' && n_frac <= digits; p++, n_frac++)
            frac = frac * 10 + (*p - '0');
        if (!n_frac || n_frac > digits)
            return -1;
    }
    if (*p)
        return -1;
    for (int i = n_frac; i < digits; i++)
        frac *= 10;
    int64_t scale = 1;
    for (int i = 0; i < digits; i++)
        scale *= 10;
    if (whole > CM_MONEY_MAX / scale)
        return -1;
    int64_t v = whole * scale + frac;
    if (v > CM_MONEY_MAX)
        return -1;
    *minor = neg ? -v : v;
    return 0;
}
