/* Money as the suite keeps it: integer minor units of an ISO 4217 currency.
 * One table of the currencies' minor digits (ISO 4217's exponent: 2 for EUR,
 * 0 for JPY, 3 for KWD), which currencies the suite takes (settings, wallet,
 * price rules), and amounts to and from text. Pure; shared by every service
 * that shows or reads an amount. */
#ifndef CM_MONEY_H
#define CM_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The currencies the suite takes, for messages; cm_money_taken says yes to
 * exactly these. */
#define CM_MONEY_CURRENCIES                                                                        \
    "EUR, PLN, NOK, BGN, CZK, HUF, RON, SEK, DKK, CHF, GBP, ISK, RSD, MKD, ALL, BAM, MDL, UAH, "   \
    "TRY, USD, CAD, AUD or JPY"

/* The largest amount, either sign, that cm_money_parse gives: 10^15 minor
 * units. */
#define CM_MONEY_MAX 1000000000000000LL

/* Room for any amount cm_money_format writes: a sign, 19 digits, a point,
 * and the NUL; cm_money_text adds a space and a code of at most 8
 * characters. */
#define CM_MONEY_SIZE 24
#define CM_MONEY_TEXT_SIZE 40

/* The digits after the decimal point of an ISO 4217 currency code (upper
 * case): 0 for JPY and ISK, 3 for KWD, 2 for EUR and for any code ISO 4217
 * or this table does not know (most currencies have two). */
int cm_money_digits(const char *code);

/* Whether the suite takes code (one of CM_MONEY_CURRENCIES, exact case). */
bool cm_money_taken(const char *code);

/* amount minor units of currency as a decimal number with the currency's
 * digits ("12.34" for 1234 EUR, "1234" for 1234 JPY, "1.234" for 1234 KWD,
 * "-0.05" for -5 PLN) into buf (size >= CM_MONEY_SIZE for any amount;
 * shorter truncates). Returns buf. */
char *cm_money_format(int64_t amount, const char *currency, char *buf, size_t size);

/* As cm_money_format, followed by a space and the code ("12.34 EUR"); size
 * >= CM_MONEY_TEXT_SIZE for any amount and code of at most 8 characters.
 * Returns buf. */
char *cm_money_text(int64_t amount, const char *currency, char *buf, size_t size);

/* Parses "12.34", "12,3", "-5" or "7" as minor units of a currency with
 * digits digits after the point (at most that many given). Returns 0 with
 * *minor set, or -1 for anything else or a value beyond +-CM_MONEY_MAX. */
int cm_money_parse(const char *text, int digits, int64_t *minor);

#endif
