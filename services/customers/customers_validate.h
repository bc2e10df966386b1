/* Pure validation and normalisation of customer fields: e-mail, phone (E.164), dates, country
 * and language codes, EU VAT numbers, colours and names. No database, no network, no state:
 * every function is thread-safe.
 *
 * Functions that can reject input return 0 or -1; on -1, *why (when why is not NULL) gets a
 * short static lower-case phrase naming what is wrong ("missing @"), fit for the detail of an
 * INVALID_ARGUMENT reply. Output buffers are sized with the *_SIZE constants below; passing a
 * smaller one is a programmer error caught by assert. */
#ifndef CUSTOMERS_VALIDATE_H
#define CUSTOMERS_VALIDATE_H

#include <stddef.h>
#include <stdint.h>
#include "cm_err.h"
#include "cm_vat.h"

/* Longest e-mail address accepted (RFC 5321 path limit minus the angle brackets), in bytes. */
#define CUSTOMERS_EMAIL_MAX 254
/* Buffer size for customers_validate_email's output. */
#define CUSTOMERS_EMAIL_SIZE (CUSTOMERS_EMAIL_MAX + 1)
/* Buffer size for customers_validate_email_key's output: case folding can grow a non-ASCII
 * domain up to three times. */
#define CUSTOMERS_EMAIL_KEY_SIZE (3 * CUSTOMERS_EMAIL_MAX + 1)
/* Buffer size for an E.164 number: "+", at most 15 digits, NUL. */
#define CUSTOMERS_PHONE_SIZE 17
/* Buffer size for a normalised EU VAT number: 2-letter prefix, at most 12 characters, NUL. */
#define CUSTOMERS_VAT_SIZE CM_VAT_SIZE

/* Validates an e-mail address and writes it as stored into out (>= CUSTOMERS_EMAIL_SIZE):
 * surrounding whitespace trimmed, the domain's ASCII letters lower-cased, the local part kept as
 * typed. Accepts local@domain where the local part is an RFC 5322 dot-atom of at most 64 bytes
 * and the domain has at least two labels of letters, digits, hyphens or UTF-8 (IDN), each at
 * most 63 bytes, not starting or ending with a hyphen, and a top-level label of at least two
 * characters that is not all digits; at most 254 bytes in all. Returns 0, or -1 with *why set
 * (out then holds ""). */
int customers_validate_email(const char *in, char *out, size_t outsz,
                             const char **why) CM_MUSTCHECK;

/* Writes the identity key used to detect duplicate e-mail addresses: the whole address
 * (trimmed) Unicode case-folded and NFC-composed, so "Jan@Example.COM" and "jan@example.com"
 * share a key. Give it a validated address and out >= CUSTOMERS_EMAIL_KEY_SIZE; a longer input
 * is cut at a code-point boundary to fit outsz (> 0). */
void customers_validate_email_key(const char *email, char *out, size_t outsz);

/* Sorts a list of names (a customer's groups or tags, which are sets) into the one canonical
 * order: by their Unicode case fold, then by their bytes, so "vip" and "VIP" have a fixed order
 * too. In place; items are borrowed. A list holding the same names in any order comes out the
 * same, so comparing two sorted lists compares the sets. */
void customers_validate_sort_names(char **items, size_t n);

/* Normalises a phone number to E.164 ("+48600100200") in out (>= CUSTOMERS_PHONE_SIZE).
 * Accepts digits separated by spaces, dashes, dots, slashes and parentheses, with a leading "+"
 * or "00" (or the default country's own international prefix, e.g. "011" in the US). A number
 * without one is national: default_country (ISO 3166-1 alpha-2, either case) gives the calling
 * code, and its trunk prefix ("0" in most of Europe, "1" in North America, "8" in Russia) is
 * dropped, except in Italy and the few other countries whose numbers start with 0. A "0" right
 * after the calling code, as in "+49 (0)30 1234567", is dropped for the same countries.
 * The calling code must be a known one and the whole number 8..15 digits. A default_country
 * that is given must be known (all ISO 3166-1 codes and XK are), even for a "+" number, so a
 * misconfigured tenant shows at once.
 * Returns 0, or -1 with *why set ("contains letters", "too short", "too long (at most 15
 * digits)", "unknown country calling code", "local number needs a default country",
 * "unknown default country XX", ...); out then holds "". */
int customers_validate_phone(const char *in, const char *default_country, char *out, size_t outsz,
                             const char **why) CM_MUSTCHECK;

/* Checks a date of birth or similar: exactly "YYYY-MM-DD", a real calendar date, in 1900 or
 * later and not after today_days (days since 1970-01-01 UTC, from the caller so tests are
 * deterministic). Returns 0, or -1 with *why set ("expected YYYY-MM-DD", "not a real date",
 * "before 1900", "in the future"). */
int customers_validate_date(const char *in, int64_t today_days, const char **why) CM_MUSTCHECK;

/* Returns 0 when in is an officially assigned ISO 3166-1 alpha-2 code in upper case ("PL"),
 * else -1. */
int customers_validate_country(const char *in) CM_MUSTCHECK;

/* Returns 0 when in is a language tag in canonical case: a 2-3 letter lower-case language,
 * then optionally "-Script" (four letters, the first upper-case) and/or "-REGION" (two
 * upper-case letters or three digits): "pl", "de-AT", "sr-Latn-RS", "es-419". Else -1. */
int customers_validate_language(const char *in) CM_MUSTCHECK;

/* Returns 0 when the UTF-8 string s has at most max_chars code points, else -1. */
int customers_validate_length(const char *s, size_t max_chars) CM_MUSTCHECK;

/* cm_vat_normalise (libshared/cm_vat.h): an EU VAT number checked and normalised. */
int customers_validate_vat(const char *in, char *out, size_t outsz, const char **why) CM_MUSTCHECK;

/* Returns 0 when in is a colour "#rrggbb" (hex digits of either case), else -1. */
int customers_validate_color(const char *in) CM_MUSTCHECK;

/* Splits a name as typed into a search box: the first word goes to first, the remaining words
 * (runs of whitespace collapsed to one space) to last; "" when absent. Surrounding whitespace is
 * ignored. Each output is cut at a code-point boundary to fit its buffer (size > 0). */
void customers_validate_split_name(const char *query, char *first, size_t fsz, char *last,
                                   size_t lsz);

#endif
