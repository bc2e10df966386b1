/* The return of a purchase, the pure part: the amount of a whole, item or
 * amount return, the cap at what was paid, and the status after it. */
#include "notes_returns.h"
#include "notes_credits.h"
#include "cm_util.h"

#include <stdlib.h>
#include <string.h>
#include "../unit.h"

/* Two lines: 3 x "Cream" for 1000 (not divisible by 3), 1 x "Brush" for 500. */
static int32_t s_qty[] = {3, 1};
static int64_t s_amt[] = {1000, 500};

static struct notes_return_order s_order(int32_t *returned, int64_t paid, int64_t refunded)
{
    return (struct notes_return_order){.paid = paid,
                                       .refunded = refunded,
                                       .n_items = 2,
                                       .quantity = s_qty,
                                       .amount = s_amt,
                                       .returned = returned};
}

static void test_whole(void)
{
    int32_t ret[2] = {0, 0};
    struct notes_return_order o = s_order(ret, 1500, 200);
    struct notes_return_problem why;
    int64_t amount = 0;
    /* The whole order is what is left of what was paid; every item goes back. */
    CHECK(notes_return_amount(&o, true, NULL, 0, 0, &amount, &why) == NOTES_RETURN_OK);
    CHECK(amount == 1300);
    CHECK(ret[0] == 3 && ret[1] == 1);
    /* Nothing left: refunded in full already, or never paid. */
    o = s_order(ret, 1500, 1500);
    CHECK(notes_return_amount(&o, true, NULL, 0, 0, &amount, &why) == NOTES_RETURN_NOTHING_LEFT);
    o = s_order(ret, 0, 0);
    CHECK(notes_return_amount(&o, false, NULL, 0, 10, &amount, &why) == NOTES_RETURN_NOTHING_LEFT);
}

static void test_items(void)
{
    int32_t ret[2] = {0, 0};
    struct notes_return_order o = s_order(ret, 1500, 0);
    struct notes_return_problem why;
    int64_t amount = 0;
    Crm__ReturnItem a = CRM__RETURN_ITEM__INIT, b = CRM__RETURN_ITEM__INIT;
    Crm__ReturnItem *items[] = {&a, &b};
    /* One cream of three is a third of its line, rounded down... */
    a.index = 0;
    a.quantity = 1;
    CHECK(notes_return_amount(&o, false, items, 1, 0, &amount, &why) == NOTES_RETURN_OK);
    CHECK(amount == 333 && ret[0] == 1);
    o.refunded += amount;
    /* ...and the last ones take the rest, so the line comes to exactly 1000. */
    a.quantity = 2;
    b.index = 1;
    b.quantity = 1;
    CHECK(notes_return_amount(&o, false, items, 2, 0, &amount, &why) == NOTES_RETURN_OK);
    CHECK(amount == 667 + 500 && ret[0] == 3 && ret[1] == 1);
    o.refunded += amount;
    CHECK(o.refunded == 1500);
    CHECK_STR(notes_return_status(o.paid, o.refunded), "REFUNDED");
    CHECK_STR(notes_return_status(1500, 333), "PARTIALLY_REFUNDED");
}

static void test_item_problems(void)
{
    int32_t ret[2] = {2, 0};
    struct notes_return_order o = s_order(ret, 1500, 666);
    struct notes_return_problem why;
    int64_t amount = -1;
    Crm__ReturnItem a = CRM__RETURN_ITEM__INIT, b = CRM__RETURN_ITEM__INIT;
    Crm__ReturnItem *items[] = {&a, &b};
    a.index = 2;
    a.quantity = 1;
    CHECK(notes_return_amount(&o, false, items, 1, 0, &amount, &why) == NOTES_RETURN_INVALID);
    CHECK_STR(why.field, "items[0].index");
    CHECK_STR(why.reason, "OUT_OF_RANGE");
    /* Two of three creams went back before: one is left. */
    a.index = 0;
    a.quantity = 2;
    CHECK(notes_return_amount(&o, false, items, 1, 0, &amount, &why) == NOTES_RETURN_INVALID);
    CHECK_STR(why.field, "items[0].quantity");
    a.quantity = 0;
    CHECK(notes_return_amount(&o, false, items, 1, 0, &amount, &why) == NOTES_RETURN_INVALID);
    CHECK_STR(why.reason, "OUT_OF_RANGE");
    a.quantity = 1;
    b.index = 0;
    b.quantity = 1;
    CHECK(notes_return_amount(&o, false, items, 2, 0, &amount, &why) == NOTES_RETURN_INVALID);
    CHECK_STR(why.field, "items[1].index");
    CHECK_STR(why.reason, "DUPLICATE");
    /* Nothing changed by a refused return. */
    CHECK(ret[0] == 2 && ret[1] == 0 && amount == -1);
    /* Items worth more than is left of the payment (the store refunded by
     * amount meanwhile) are refused. */
    o.refunded = 1400;
    b.index = 1;
    CHECK(notes_return_amount(&o, false, items, 2, 0, &amount, &why) == NOTES_RETURN_INVALID);
    CHECK_STR(why.field, "items");
    CHECK_STR(why.reason, "OVER_REFUND");
    ret[0] = 3;
    a.quantity = 1;
    CHECK(notes_return_amount(&o, false, items, 1, 0, &amount, &why) == NOTES_RETURN_INVALID);
    CHECK_STR(why.reason, "OVER_REFUND");
}

static void test_amount(void)
{
    int32_t ret[2] = {0, 0};
    struct notes_return_order o = s_order(ret, 1500, 1000);
    struct notes_return_problem why;
    int64_t amount = 0;
    CHECK(notes_return_amount(&o, false, NULL, 0, 500, &amount, &why) == NOTES_RETURN_OK);
    CHECK(amount == 500 && ret[0] == 0);
    /* One minor unit more than is left: refused, naming the amount. */
    CHECK(notes_return_amount(&o, false, NULL, 0, 501, &amount, &why) == NOTES_RETURN_INVALID);
    CHECK_STR(why.field, "amountMinor");
    CHECK_STR(why.reason, "OVER_REFUND");
    CHECK(notes_return_amount(&o, false, NULL, 0, -1, &amount, &why) == NOTES_RETURN_INVALID);
    CHECK_STR(why.reason, "OUT_OF_RANGE");
    /* Exactly one of whole, items and amount. */
    CHECK(notes_return_amount(&o, false, NULL, 0, 0, &amount, &why) == NOTES_RETURN_INVALID);
    CHECK_STR(why.field, "whole");
    CHECK_STR(why.reason, "REQUIRED");
    CHECK(notes_return_amount(&o, true, NULL, 0, 5, &amount, &why) == NOTES_RETURN_INVALID);
    CHECK_STR(why.reason, "INVALID_FORMAT");
}

static void test_large(void)
{
    /* A line of 10^15 over 10^6 units does not overflow. */
    int32_t q[] = {1000000};
    int64_t a[] = {1000000000000000LL};
    int32_t ret[] = {999999};
    struct notes_return_order o = {
        .paid = a[0], .refunded = 0, .n_items = 1, .quantity = q, .amount = a, .returned = ret};
    Crm__ReturnItem it = CRM__RETURN_ITEM__INIT;
    Crm__ReturnItem *items[] = {&it};
    it.quantity = 1;
    struct notes_return_problem why;
    int64_t amount = 0;
    CHECK(notes_return_amount(&o, false, items, 1, 0, &amount, &why) == NOTES_RETURN_OK);
    CHECK(amount == 1000000000);
}

static void test_credit_judge(void)
{
    CHECK(notes_credit_judge(CRM__STATUS__STATUS_OK) == NOTES_CREDIT_DONE);
    CHECK(notes_credit_judge(CRM__STATUS__STATUS_UNAVAILABLE) == NOTES_CREDIT_RETRY);
    CHECK(notes_credit_judge(CRM__STATUS__STATUS_DEADLINE_EXCEEDED) == NOTES_CREDIT_RETRY);
    CHECK(notes_credit_judge(CRM__STATUS__STATUS_RESOURCE_EXHAUSTED) == NOTES_CREDIT_RETRY);
    CHECK(notes_credit_judge(CRM__STATUS__STATUS_INTERNAL) == NOTES_CREDIT_RETRY);
    CHECK(notes_credit_judge(CRM__STATUS__STATUS_NOT_FOUND) == NOTES_CREDIT_FAILED);
    CHECK(notes_credit_judge(CRM__STATUS__STATUS_INVALID_ARGUMENT) == NOTES_CREDIT_FAILED);
    CHECK(notes_credit_judge(CRM__STATUS__STATUS_ALREADY_EXISTS) == NOTES_CREDIT_FAILED);
    CHECK(notes_credit_judge(CRM__STATUS__STATUS_FAILED_PRECONDITION) == NOTES_CREDIT_FAILED);
    CHECK(notes_credit_judge(CRM__STATUS__STATUS_PERMISSION_DENIED) == NOTES_CREDIT_FAILED);
}

static void test_credit_delay(void)
{
    CHECK(notes_credit_delay_s(0) == NOTES_CREDIT_RETRY_S);
    CHECK(notes_credit_delay_s(1) == NOTES_CREDIT_RETRY_S);
    CHECK(notes_credit_delay_s(2) == 2 * NOTES_CREDIT_RETRY_S);
    CHECK(notes_credit_delay_s(3) == 4 * NOTES_CREDIT_RETRY_S);
    CHECK(notes_credit_delay_s(7) == NOTES_CREDIT_RETRY_MAX_S);
    CHECK(notes_credit_delay_s(1000000) == NOTES_CREDIT_RETRY_MAX_S);
    for (int i = 1; i < 100; i++)
        CHECK(notes_credit_delay_s(i) <= notes_credit_delay_s(i + 1));
}

/* The wallet reason of a return's credit: "Return of <order>: <reason>",
 * cut to customers' 500 characters with an ellipsis when longer, never
 * inside a character. */
static void test_credit_reason(void)
{
    char order[] = "o-1", src[] = "store", ref[] = "purchase.returned:x";
    char shortr[] = "Too small";
    struct notes_return_credit c = {
        .amount = 500, .source = src, .order_id = order, .reason = shortr, .reference = ref};
    Crm__AdjustWalletRequest ar;
    char *reason = NULL;
    notes_credit_request(&c, &ar, &reason);
    CHECK_STR(reason, "Return of o-1: Too small");
    CHECK(ar.reason == reason && ar.amount == 500);
    free(reason);

    char longr[1001];
    for (int i = 0; i < 500; i++)
        memcpy(longr + 2 * i, "\xd0\x96", 2); // "Ж", two bytes
    longr[1000] = '\0';
    c.reason = longr;
    notes_credit_request(&c, &ar, &reason);
    CHECK(cm_utf8_length(reason) == 500);
    CHECK(cm_utf8_valid(reason, strlen(reason), NULL));
    CHECK(!strncmp(reason, "Return of o-1: \xd0\x96", 17));
    CHECK(!strcmp(reason + strlen(reason) - 3, "\xe2\x80\xa6"));
    free(reason);
}

int main(void)
{
    RUN(test_whole);
    RUN(test_credit_reason);
    RUN(test_items);
    RUN(test_item_problems);
    RUN(test_amount);
    RUN(test_large);
    RUN(test_credit_judge);
    RUN(test_credit_delay);
    return 0;
}
