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

int64_t customers_loyalty_points(int64_t amount_minor, int64_t points_per_unit, int64_t unit_minor)
{
    if (amount_minor < 0 || points_per_unit < 1 || unit_minor < 1)
        return -1;
    int64_t units = amount_minor / unit_minor;
    if (units > INT64_MAX / points_per_unit)
        return -1;
    return units * points_per_unit;
}
