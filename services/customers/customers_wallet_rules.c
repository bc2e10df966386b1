/* The wallet's pure logic (customers_wallet_rules.h). */
#include "customers_wallet_rules.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define ALPHABET_SIZE ((int)sizeof CUSTOMERS_VOUCHER_ALPHABET - 1)

static int s_value(char c)
{
    const char *p = c ? strchr(CUSTOMERS_VOUCHER_ALPHABET, c) : NULL;
    return p ? (int)(p - CUSTOMERS_VOUCHER_ALPHABET) : -1;
}

char customers_voucher_check_char(const char *body)
{
    /* Weights 1..15 are all units modulo the prime 31, so one wrong
     * character always changes the sum; neighbours' weights differ by one,
     * so swapping two different ones does too. */
    int sum = 0;
    for (int i = 0; i < CUSTOMERS_VOUCHER_CHARS - 1; i++)
        sum = (sum + (i + 1) * s_value(body[i])) % ALPHABET_SIZE;
    return CUSTOMERS_VOUCHER_ALPHABET[sum];
}

void customers_voucher_new(char code[CUSTOMERS_VOUCHER_CODE_SIZE])
{
    char raw[CUSTOMERS_VOUCHER_CHARS + 1];
    for (int i = 0; i < CUSTOMERS_VOUCHER_CHARS - 1; i++)
        raw[i] = CUSTOMERS_VOUCHER_ALPHABET[randombytes_uniform(ALPHABET_SIZE)];
    raw[CUSTOMERS_VOUCHER_CHARS - 1] = customers_voucher_check_char(raw);
    raw[CUSTOMERS_VOUCHER_CHARS] = '\0';
    size_t o = 0;
    for (int i = 0; i < CUSTOMERS_VOUCHER_CHARS; i++) {
        if (i && i % 4 == 0)
            code[o++] = '-';
        code[o++] = raw[i];
    }
    code[o] = '\0';
    sodium_memzero(raw, sizeof raw);
}

int customers_voucher_normalize(const char *typed, char out[CUSTOMERS_VOUCHER_CHARS + 1])
{
    size_t n = 0;
    for (const char *p = typed; *p; p++) {
        if (p - typed >= CUSTOMERS_VOUCHER_INPUT_MAX)
            return -1;
        if (*p == ' ' || *p == '-')
            continue;
        char c = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        if (n == CUSTOMERS_VOUCHER_CHARS || s_value(c) < 0)
            return -1;
        out[n++] = c;
    }
    out[n] = '\0';
    if (n != CUSTOMERS_VOUCHER_CHARS)
        return -1;
    return customers_voucher_check_char(out) == out[CUSTOMERS_VOUCHER_CHARS - 1] ? 0 : -1;
}

static const struct {
    const char *code;
    int exponent;
} s_currencies[] = {
    {"EUR", 2}, {"PLN", 2}, {"NOK", 2}, {"BGN", 2}, {"CZK", 2}, {"HUF", 2}, {"RON", 2}, {"SEK", 2},
    {"DKK", 2}, {"CHF", 2}, {"GBP", 2}, {"ISK", 0}, {"RSD", 2}, {"MKD", 2}, {"ALL", 2}, {"BAM", 2},
    {"MDL", 2}, {"UAH", 2}, {"TRY", 2}, {"USD", 2}, {"CAD", 2}, {"AUD", 2}, {"JPY", 0},
};

int customers_currency_exponent(const char *code)
{
    for (size_t i = 0; i < sizeof s_currencies / sizeof *s_currencies; i++)
        if (!strcmp(s_currencies[i].code, code))
            return s_currencies[i].exponent;
    return -1;
}

/* Countries whose currency is not the euro; the euro area (Bulgaria since
 * 2026 among them) and every other country fall back to EUR. The same
 * table is customers.currency_of in sql/016_prices.sql: change both. */
static const char *const s_countries[][2] = {
    {"PL", "PLN"}, {"NO", "NOK"}, {"SJ", "NOK"}, {"CZ", "CZK"}, {"HU", "HUF"},
    {"RO", "RON"}, {"SE", "SEK"}, {"DK", "DKK"}, {"FO", "DKK"}, {"GL", "DKK"},
    {"CH", "CHF"}, {"LI", "CHF"}, {"GB", "GBP"}, {"IS", "ISK"}, {"RS", "RSD"},
    {"MK", "MKD"}, {"AL", "ALL"}, {"BA", "BAM"}, {"MD", "MDL"}, {"UA", "UAH"},
    {"TR", "TRY"}, {"US", "USD"}, {"CA", "CAD"}, {"AU", "AUD"}, {"JP", "JPY"},
};

const char *customers_currency_of_country(const char *country)
{
    for (size_t i = 0; i < sizeof s_countries / sizeof *s_countries; i++)
        if (!strcmp(s_countries[i][0], country))
            return s_countries[i][1];
    return "EUR";
}

char *customers_money_format(int64_t amount, const char *currency, char *buf, size_t size)
{
    int exp = customers_currency_exponent(currency);
    if (exp < 0)
        exp = 2;
    uint64_t mag = amount < 0 ? (uint64_t)0 - (uint64_t)amount : (uint64_t)amount;
    uint64_t scale = 1;
    for (int i = 0; i < exp; i++)
        scale *= 10;
    char frac[8] = "";
    uint64_t f = mag % scale;
    for (int i = exp; i > 0 && i < (int)sizeof frac; i--, f /= 10)
        frac[i] = (char)('0' + f % 10);
    if (exp)
        frac[0] = '.';
    frac[exp ? exp + 1 : 0] = '\0';
    snprintf(buf, size, "%s%llu%s %s", amount < 0 ? "-" : "", (unsigned long long)(mag / scale),
             frac, currency);
    return buf;
}

#define MONEY_MAX 1000000000000000LL /* 10^15 minor units */

int customers_money_parse(const char *text, int exponent, int64_t *minor)
{
    const char *p = text;
    bool neg = *p == '-';
    if (neg)
        p++;
    int64_t whole = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (whole > MONEY_MAX / 10)
            return -1;
        whole = whole * 10 + (*p - '0');
    }
    if (!digits)
        return -1;
    int64_t frac = 0;
    int fdigits = 0;
    if (*p == '.' || *p == ',') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, fdigits++)
            frac = frac * 10 + (*p - '0');
        if (!fdigits || fdigits > exponent)
            return -1;
    }
    if (*p)
        return -1;
    for (int i = fdigits; i < exponent; i++)
        frac *= 10;
    int64_t scale = 1;
    for (int i = 0; i < exponent; i++)
        scale *= 10;
    if (whole > MONEY_MAX / scale)
        return -1;
    int64_t v = whole * scale + frac;
    if (v > MONEY_MAX)
        return -1;
    *minor = neg ? -v : v;
    return 0;
}

int64_t customers_loyalty_points(int64_t amount_minor, int64_t points_per_unit, int64_t unit_minor)
{
    if (amount_minor < 0 || points_per_unit < 1 || unit_minor < 1)
        return -1;
    int64_t units = amount_minor / unit_minor;
    if (units > INT64_MAX / points_per_unit)
        return -1;
    return units * points_per_unit;
}
