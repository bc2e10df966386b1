/* The wallet's pure logic: gift voucher codes (alphabet, check character,
 * normalising what staff type), the default currency of a country and the loyalty
 * rule. No I/O but the random bytes of a new code. Minor digits and amounts
 * as text are libshared's (cm_money.h). */
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

/* The currency of an ISO 3166-1 alpha-2 country ("BG" -> "EUR", "PL" ->
 * "PLN"); "EUR" for a country not in the table or "". One the suite takes
 * (cm_money_taken); customers.currency_of (sql/016_prices.sql) maps
 * countries the same way. Static. */
const char *customers_currency_of_country(const char *country);

/* The points earned for amount_minor spent: points_per_unit for each whole
 * unit_minor (rounded down). -1 when an argument is out of range (amount
 * negative, a rule value below 1) or the result would overflow. */
int64_t customers_loyalty_points(int64_t amount_minor, int64_t points_per_unit, int64_t unit_minor);

#endif
