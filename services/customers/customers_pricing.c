/* Which price rule wins on a cart line, and the line's price after it. */
#include "customers_pricing.h"

#include <string.h>

int64_t customers_pricing_unit(const struct customers_price_rule *r, int64_t unit)
{
    if (r->percent_off_bp > 0) {
        /* unit <= 10^11, so the product stays below 2^63. */
        int64_t keep = CUSTOMERS_PRICE_BP_MAX - r->percent_off_bp;
        return (unit * keep + CUSTOMERS_PRICE_BP_MAX / 2) / CUSTOMERS_PRICE_BP_MAX;
    }
    return r->amount_off_minor >= unit ? 0 : unit - r->amount_off_minor;
}

bool customers_pricing_applies(const struct customers_price_rule *r, const char *product,
                               const char *category)
{
    switch (r->target) {
    case CUSTOMERS_TARGET_ALL:
        return true;
    case CUSTOMERS_TARGET_CATEGORY:
        return r->code[0] && !strcmp(r->code, category);
    case CUSTOMERS_TARGET_PRODUCT:
        return r->code[0] && !strcmp(r->code, product);
    default:
        return false;
    }
}

/* Rank of whom a rule is for on a tie: the customer's own, a group's, a tag's. */
static int s_via_rank(int via)
{
    return via == CUSTOMERS_VIA_CUSTOMER ? 3 : via == CUSTOMERS_VIA_GROUP ? 2 : 1;
}

/* True when a (priced pa) beats b (priced pb). */
static bool s_beats(const struct customers_price_rule *a, int64_t pa,
                    const struct customers_price_rule *b, int64_t pb)
{
    if (pa != pb)
        return pa < pb;
    if (a->target != b->target)
        return a->target > b->target;
    if (a->via != b->via)
        return s_via_rank(a->via) > s_via_rank(b->via);
    return strcmp(a->id, b->id) < 0;
}

int customers_pricing_best(const struct customers_price_rule *rules, size_t n, const char *product,
                           const char *category, int64_t unit)
{
    int best = -1;
    int64_t best_price = 0;
    for (size_t i = 0; i < n; i++) {
        if (!customers_pricing_applies(&rules[i], product, category))
            continue;
        int64_t p = customers_pricing_unit(&rules[i], unit);
        if (best < 0 || s_beats(&rules[i], p, &rules[best], best_price)) {
            best = (int)i;
            best_price = p;
        }
    }
    return best;
}

int customers_pricing_line(const struct customers_price_rule *rules, size_t n, const char *product,
                           const char *category, int64_t quantity, int64_t unit,
                           struct customers_priced *out)
{
    if (quantity < 1 || quantity > CUSTOMERS_PRICE_QTY_MAX || unit < 0 ||
        unit > CUSTOMERS_PRICE_UNIT_MAX)
        return -1;
    int best = customers_pricing_best(rules, n, product, category, unit);
    out->rule = best;
    out->price = best < 0 ? unit : customers_pricing_unit(&rules[best], unit);
    out->total = out->price * quantity;
    out->discount = (unit - out->price) * quantity;
    return 0;
}
