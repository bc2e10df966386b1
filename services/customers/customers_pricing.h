/* The pure arithmetic of price rules (docs/bus.md, "Price rules"): which of
 * the rules that apply to a customer wins on a cart line, and the line's
 * price after it. Money is integer minor units; no database, no bus. */
#ifndef CUSTOMERS_PRICING_H
#define CUSTOMERS_PRICING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_err.h"

/* The limits of rules and carts (docs/api.md, "Limits"). With these the
 * largest cart total, 500 lines of 100000 units at 10^11, stays below 2^63. */
#define CUSTOMERS_PRICE_RULES_MAX 1000          // rules per business
#define CUSTOMERS_PRICE_CODE_MAX 64             // characters of a product or category code
#define CUSTOMERS_PRICE_NAME_MAX 100            // characters of a rule's name
#define CUSTOMERS_PRICE_BP_MAX 10000            // 100 %, in basis points
#define CUSTOMERS_PRICE_UNIT_MAX 100000000000LL // a unit price or an amount off, minor units
#define CUSTOMERS_PRICE_QTY_MAX 100000          // units on one line
#define CUSTOMERS_PRICE_LINES_MAX 500           // lines of one cart

/* Whom a rule is for and what it discounts: the values of crm.PriceRuleVia
 * and crm.PriceRuleTarget. */
enum { CUSTOMERS_VIA_CUSTOMER = 1, CUSTOMERS_VIA_TAG = 2, CUSTOMERS_VIA_GROUP = 3 };
enum { CUSTOMERS_TARGET_ALL = 1, CUSTOMERS_TARGET_CATEGORY = 2, CUSTOMERS_TARGET_PRODUCT = 3 };

struct customers_price_rule {
    const char *id;           // borrowed: the last tie-break, so the answer never depends on order
    int via;                  // CUSTOMERS_VIA_*
    int target;               // CUSTOMERS_TARGET_*
    const char *code;         // borrowed: the category's or product's code; "" for ALL
    int32_t percent_off_bp;   // 1..10000, or 0 when amount_off_minor is the modifier
    int64_t amount_off_minor; // 1..CUSTOMERS_PRICE_UNIT_MAX, or 0
};

/* One unit's price under r: a percentage off rounds the price half-up to
 * the minor unit ((unit * (10000 - bp) + 5000) / 10000); an amount off never
 * takes the price below 0. unit must be 0..CUSTOMERS_PRICE_UNIT_MAX. */
int64_t customers_pricing_unit(const struct customers_price_rule *r, int64_t unit);

/* True when r discounts a line of product (never empty) in category (may be
 * ""): ALL always, CATEGORY and PRODUCT when their code equals, byte for
 * byte. */
bool customers_pricing_applies(const struct customers_price_rule *r, const char *product,
                               const char *category);

/* The winner among rules[0..n) that apply to the line: the lowest unit
 * price; on a tie the more specific target (product, category, all), then
 * whom it is for (the customer's own, a group's, a tag's), then the smaller
 * id. Rules never combine. Returns its index, or -1 when none applies. */
int customers_pricing_best(const struct customers_price_rule *rules, size_t n, const char *product,
                           const char *category, int64_t unit);

/* A line priced: the unit price after the winner, the line's total and
 * discount, and the winner's index (-1: the list price). */
struct customers_priced {
    int rule;
    int64_t price;
    int64_t total;
    int64_t discount;
};

/* Prices one line. Returns 0, or -1 (out untouched) when quantity is not
 * 1..CUSTOMERS_PRICE_QTY_MAX or unit not 0..CUSTOMERS_PRICE_UNIT_MAX. */
int customers_pricing_line(const struct customers_price_rule *rules, size_t n, const char *product,
                           const char *category, int64_t quantity, int64_t unit,
                           struct customers_priced *out) CM_MUSTCHECK;

#endif
