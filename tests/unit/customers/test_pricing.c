/* Price rules' arithmetic: half-up rounding, 100 %, an amount larger than
 * the price, which rule wins, and lines refused for their quantity or price. */
#include "customers_pricing.h"
#include "../unit.h"

static struct customers_price_rule s_pct(const char *id, int via, int target, const char *code,
                                         int32_t bp)
{
    return (struct customers_price_rule){
        .id = id, .via = via, .target = target, .code = code, .percent_off_bp = bp};
}

static struct customers_price_rule s_off(const char *id, int via, int target, const char *code,
                                         int64_t amount)
{
    return (struct customers_price_rule){
        .id = id, .via = via, .target = target, .code = code, .amount_off_minor = amount};
}

static void test_a_percentage_rounds_the_price_half_up(void)
{
    struct customers_price_rule r =
        s_pct("a", CUSTOMERS_VIA_CUSTOMER, CUSTOMERS_TARGET_ALL, "", 1000);
    CHECK(customers_pricing_unit(&r, 1000) == 900);
    CHECK(customers_pricing_unit(&r, 5) == 5);   /* 4.5 -> 5 */
    CHECK(customers_pricing_unit(&r, 4) == 4);   /* 3.6 -> 4 */
    CHECK(customers_pricing_unit(&r, 16) == 14); /* 14.4 -> 14 */
    CHECK(customers_pricing_unit(&r, 0) == 0);
    r.percent_off_bp = 5000;
    CHECK(customers_pricing_unit(&r, 1) == 1);       /* 0.5 -> 1 */
    CHECK(customers_pricing_unit(&r, 3) == 2);       /* 1.5 -> 2 */
    r.percent_off_bp = 1250;                         /* 12.5 % */
    CHECK(customers_pricing_unit(&r, 1999) == 1749); /* 1749.125 */
    CHECK(customers_pricing_unit(&r, 1996) == 1747); /* 1746.5 -> 1747 */
    r.percent_off_bp = 1;                            /* 0.01 % */
    CHECK(customers_pricing_unit(&r, CUSTOMERS_PRICE_UNIT_MAX) == 99990000000LL);
}

static void test_all_off_and_more_than_the_price_cost_nothing(void)
{
    struct customers_price_rule r =
        s_pct("a", CUSTOMERS_VIA_TAG, CUSTOMERS_TARGET_ALL, "", CUSTOMERS_PRICE_BP_MAX);
    CHECK(customers_pricing_unit(&r, 12345) == 0);
    CHECK(customers_pricing_unit(&r, CUSTOMERS_PRICE_UNIT_MAX) == 0);
    struct customers_price_rule o = s_off("b", CUSTOMERS_VIA_TAG, CUSTOMERS_TARGET_ALL, "", 500);
    CHECK(customers_pricing_unit(&o, 1200) == 700);
    CHECK(customers_pricing_unit(&o, 500) == 0);
    CHECK(customers_pricing_unit(&o, 499) == 0); /* never below 0 */
    CHECK(customers_pricing_unit(&o, 0) == 0);
}

static void test_a_rule_applies_to_its_code_only(void)
{
    struct customers_price_rule all = s_pct("a", 1, CUSTOMERS_TARGET_ALL, "", 100);
    struct customers_price_rule cat = s_pct("b", 1, CUSTOMERS_TARGET_CATEGORY, "shoes", 100);
    struct customers_price_rule prod = s_pct("c", 1, CUSTOMERS_TARGET_PRODUCT, "SKU-1", 100);
    CHECK(customers_pricing_applies(&all, "SKU-9", ""));
    CHECK(customers_pricing_applies(&cat, "SKU-9", "shoes"));
    CHECK(!customers_pricing_applies(&cat, "SKU-9", "Shoes")); /* byte for byte */
    CHECK(!customers_pricing_applies(&cat, "shoes", ""));      /* a product code is no category */
    CHECK(customers_pricing_applies(&prod, "SKU-1", "shoes"));
    CHECK(!customers_pricing_applies(&prod, "SKU-10", "shoes"));
    struct customers_price_rule bad = s_pct("d", 1, 0, "", 100);
    CHECK(!customers_pricing_applies(&bad, "SKU-1", ""));
}

static void test_the_lowest_price_wins_and_rules_never_combine(void)
{
    struct customers_price_rule rules[] = {
        s_pct("a", CUSTOMERS_VIA_TAG, CUSTOMERS_TARGET_ALL, "", 1000),            /* 900 */
        s_off("b", CUSTOMERS_VIA_GROUP, CUSTOMERS_TARGET_CATEGORY, "shoes", 150), /* 850 */
        s_pct("c", CUSTOMERS_VIA_CUSTOMER, CUSTOMERS_TARGET_PRODUCT, "SKU-2", 5000),
    };
    struct customers_priced p;
    CHECK(customers_pricing_line(rules, 3, "SKU-1", "shoes", 2, 1000, &p) == 0);
    CHECK(p.rule == 1);
    CHECK(p.price == 850 && p.total == 1700 && p.discount == 300);
    /* The product's 50 % beats the rest; it does not add to them. */
    CHECK(customers_pricing_line(rules, 3, "SKU-2", "shoes", 1, 1000, &p) == 0);
    CHECK(p.rule == 2 && p.price == 500);
    /* Outside the category only the tag's rule applies. */
    CHECK(customers_pricing_line(rules, 3, "SKU-3", "hats", 3, 1000, &p) == 0);
    CHECK(p.rule == 0 && p.price == 900 && p.total == 2700 && p.discount == 300);
    /* With no rule the list price stands. */
    CHECK(customers_pricing_line(rules, 0, "SKU-3", "hats", 3, 1000, &p) == 0);
    CHECK(p.rule == -1 && p.price == 1000 && p.total == 3000 && p.discount == 0);
    /* On a price of 0 every rule ties: the most specific one is shown. */
    CHECK(customers_pricing_line(rules, 3, "SKU-2", "shoes", 1, 0, &p) == 0);
    CHECK(p.rule == 2 && p.price == 0);
}

static void test_ties_go_to_the_product_then_the_customer_then_the_id(void)
{
    struct customers_price_rule rules[] = {
        s_pct("a", CUSTOMERS_VIA_CUSTOMER, CUSTOMERS_TARGET_ALL, "", 1000),
        s_off("b", CUSTOMERS_VIA_TAG, CUSTOMERS_TARGET_CATEGORY, "shoes", 100),
        s_off("c", CUSTOMERS_VIA_TAG, CUSTOMERS_TARGET_PRODUCT, "SKU-1", 100),
    };
    /* All three give 900: the product's rule wins, then the category's. */
    CHECK(customers_pricing_best(rules, 3, "SKU-1", "shoes", 1000) == 2);
    CHECK(customers_pricing_best(rules, 2, "SKU-1", "shoes", 1000) == 1);
    /* Same target and price: the customer's own, then a group's, then a tag's. */
    struct customers_price_rule same[] = {
        s_off("a", CUSTOMERS_VIA_TAG, CUSTOMERS_TARGET_ALL, "", 100),
        s_off("b", CUSTOMERS_VIA_GROUP, CUSTOMERS_TARGET_ALL, "", 100),
        s_off("c", CUSTOMERS_VIA_CUSTOMER, CUSTOMERS_TARGET_ALL, "", 100),
        s_off("0", CUSTOMERS_VIA_TAG, CUSTOMERS_TARGET_ALL, "", 100),
    };
    CHECK(customers_pricing_best(same, 4, "x", "", 1000) == 2);
    CHECK(customers_pricing_best(same, 2, "x", "", 1000) == 1);
    /* Everything equal: the smaller id, whatever the order. */
    CHECK(customers_pricing_best(same, 1, "x", "", 1000) == 0);
    struct customers_price_rule tags[] = {same[0], same[3]};
    CHECK(customers_pricing_best(tags, 2, "x", "", 1000) == 1);
    struct customers_price_rule rev[] = {same[3], same[0]};
    CHECK(customers_pricing_best(rev, 2, "x", "", 1000) == 0);
    CHECK(customers_pricing_best(same, 4, "x", "", 1000) == 2);
}

static void test_a_line_out_of_range_is_refused(void)
{
    struct customers_price_rule r = s_pct("a", 1, CUSTOMERS_TARGET_ALL, "", 1000);
    struct customers_priced p = {.rule = 7};
    CHECK(customers_pricing_line(&r, 1, "x", "", 0, 1000, &p) == -1);
    CHECK(p.rule == 7);
    CHECK(customers_pricing_line(&r, 1, "x", "", -1, 1000, &p) == -1);
    CHECK(customers_pricing_line(&r, 1, "x", "", CUSTOMERS_PRICE_QTY_MAX + 1, 1000, &p) == -1);
    CHECK(customers_pricing_line(&r, 1, "x", "", 1, -1, &p) == -1);
    CHECK(customers_pricing_line(&r, 1, "x", "", 1, CUSTOMERS_PRICE_UNIT_MAX + 1, &p) == -1);
    /* The largest line is exact. */
    CHECK(customers_pricing_line(&r, 1, "x", "", CUSTOMERS_PRICE_QTY_MAX, CUSTOMERS_PRICE_UNIT_MAX,
                                 &p) == 0);
    CHECK(p.price == 90000000000LL);
    CHECK(p.total == 9000000000000000LL);
    CHECK(p.discount == 1000000000000000LL);
}

int main(void)
{
    RUN(test_a_percentage_rounds_the_price_half_up);
    RUN(test_all_off_and_more_than_the_price_cost_nothing);
    RUN(test_a_rule_applies_to_its_code_only);
    RUN(test_the_lowest_price_wins_and_rules_never_combine);
    RUN(test_ties_go_to_the_product_then_the_customer_then_the_id);
    RUN(test_a_line_out_of_range_is_refused);
    return 0;
}
