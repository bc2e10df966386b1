/* The wallet's pure logic: gift voucher codes (alphabet, check character,
 * normalising what staff type), currencies (which the wallet takes, their
 * minor units, the default for a country, amounts as text) and the loyalty
 * rule. No I/O but the random bytes of a new code. */
#ifndef CUSTOMERS_WALLET_RULES_H
#define CUSTOMERS_WALLET_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A code is CUSTOMERS_VOUCHER_CHARS characters of CUSTOMERS_VOUCHER_ALPHABET
 * (no 0/O, 1/I/L: easy to read aloud and to print), the last a check
 * character over the others; written in groups of four with dashes. The 15
 * random characters carry 15 * log2(31), about 74 bits. */
#define CUSTOMERS_VOUCHER_ALPHABET "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#define CUSTOMERS_VOUCHER_CHARS 16
/* "XXXX-XXXX-XXXX-XXXX" and its NUL. */
#define CUSTOMERS_VOUCHER_CODE_SIZE (CUSTOMERS_VOUCHER_CHARS + CUSTOMERS_VOUCHER_CHARS / 4)
/* The longest text RedeemVoucher looks at (spaces and dashes included). */
#define CUSTOMERS_VOUCHER_INPUT_MAX 64

/* The check character of the first CUSTOMERS_VOUCHER_CHARS - 1 characters
 * of body (each in the alphabet): a weighted sum modulo the alphabet's size,
 * which catches every single wrong character and every swap of two
 * neighbours. */
char customers_voucher_check_char(const char *body);

/* A new random code, written "XXXX-XXXX-XXXX-XXXX" into code. */
void customers_voucher_new(char code[CUSTOMERS_VOUCHER_CODE_SIZE]);

/* What was typed as the code's canonical form (the 16 characters, upper
 * case, no spaces or dashes) into out. Returns 0, or -1 when it cannot be a
 * code (wrong length, a character outside the alphabet, a wrong check
 * character). */
int customers_voucher_normalize(const char *typed, char out[CUSTOMERS_VOUCHER_CHARS + 1]);

/* The currencies the suite takes (settings, wallet, price rules), for
 * messages. customers.currency_of (sql/016_prices.sql) maps countries to
 * them as customers_currency_of_country does. */
#define CUSTOMERS_CURRENCIES                                                                       \
    "EUR, PLN, NOK, BGN, CZK, HUF, RON, SEK, DKK, CHF, GBP, ISK, RSD, MKD, ALL, BAM, MDL, UAH, "   \
    "TRY, USD, CAD, AUD or JPY"

/* The digits after the decimal point of an ISO 4217 currency the wallet
 * takes (2 for EUR, 0 for ISK), or -1 for a code it does not take. */
int customers_currency_exponent(const char *code);

/* The currency of an ISO 3166-1 alpha-2 country ("BG" -> "EUR", "PL" ->
 * "PLN"); "EUR" for a country not in the table or "". Static. */
const char *customers_currency_of_country(const char *country);

/* amount minor units of currency as "-12.34 EUR" (the exponent's digits, a
 * point, the code) into buf. Returns buf. */
char *customers_money_format(int64_t amount, const char *currency, char *buf, size_t size);

/* Parses "12.34", "12,3", "-5" or "7" as minor units of a currency with
 * exponent digits after the point (at most that many given). Returns 0, or -1
 * for anything else or a value beyond +-10^15 minor units. */
int customers_money_parse(const char *text, int exponent, int64_t *minor);

/* The points earned for amount_minor spent: points_per_unit for each whole
 * unit_minor (rounded down). -1 when an argument is out of range (amount
 * negative, a rule value below 1) or the result would overflow. */
int64_t customers_loyalty_points(int64_t amount_minor, int64_t points_per_unit, int64_t unit_minor);

#endif
