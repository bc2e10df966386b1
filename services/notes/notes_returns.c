/* A staff return of a purchase: the amount and the status after it
 * (notes_returns.h). */
#include "notes_returns.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define AMOUNT_MAX 1000000000000000LL // 10^15

static enum notes_return_result s_problem(struct notes_return_problem *why, const char *field,
                                          const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum notes_return_result s_problem(struct notes_return_problem *why, const char *field,
                                          const char *reason, const char *fmt, ...)
{
    snprintf(why->field, sizeof why->field, "%s", field);
    why->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->description, sizeof why->description, fmt, ap);
    va_end(ap);
    return NOTES_RETURN_INVALID;
}

/* What the first n units of a line of quantity q and amount a are worth: the
 * line split evenly, so that all q units are worth exactly a. Without
 * overflow for a up to 10^15 and q up to 10^6. */
static int64_t s_share(int64_t a, int32_t q, int32_t n)
{
    if (q <= 0)
        return 0;
    return (a / q) * n + (a % q) * n / q;
}

/* The items' amount, checked; *sum set. */
static enum notes_return_result s_items(const struct notes_return_order *o,
                                        Crm__ReturnItem *const *items, size_t n, int64_t *sum,
                                        struct notes_return_problem *why)
{
    char f[48];
    *sum = 0;
    for (size_t i = 0; i < n; i++) {
        const Crm__ReturnItem *it = items[i];
        snprintf(f, sizeof f, "items[%zu].index", i);
        if (it->index < 0 || (size_t)it->index >= o->n_items)
            return s_problem(why, f, "OUT_OF_RANGE", "%s: the order has items 0..%zu", f,
                             o->n_items ? o->n_items - 1 : 0);
        for (size_t j = 0; j < i; j++)
            if (items[j]->index == it->index)
                return s_problem(why, f, "DUPLICATE", "%s: item %d is named twice", f, it->index);
        size_t k = (size_t)it->index;
        int32_t left = o->quantity[k] - o->returned[k];
        snprintf(f, sizeof f, "items[%zu].quantity", i);
        if (left <= 0)
            return s_problem(why, f, "OVER_REFUND", "%s: item %d was returned in full already", f,
                             it->index);
        if (it->quantity < 1 || it->quantity > left)
            return s_problem(why, f, "OUT_OF_RANGE", "%s: 1..%d of item %d are left to return", f,
                             left, it->index);
        *sum += s_share(o->amount[k], o->quantity[k], o->returned[k] + it->quantity) -
                s_share(o->amount[k], o->quantity[k], o->returned[k]);
    }
    return NOTES_RETURN_OK;
}

enum notes_return_result notes_return_amount(struct notes_return_order *o, bool whole,
                                             Crm__ReturnItem *const *items, size_t n_items,
                                             int64_t amount_minor, int64_t *amount,
                                             struct notes_return_problem *why)
{
    int asked = (whole ? 1 : 0) + (n_items ? 1 : 0) + (amount_minor ? 1 : 0);
    if (asked == 0)
        return s_problem(why, "whole", "REQUIRED",
                         "say what to return: whole, items or amountMinor");
    if (asked > 1)
        return s_problem(why, whole ? "whole" : "items", "INVALID_FORMAT",
                         "whole, items and amountMinor exclude one another: give one");
    if (amount_minor < 0 || amount_minor > AMOUNT_MAX)
        return s_problem(why, "amountMinor", "OUT_OF_RANGE",
                         "amountMinor must be 1..%lld minor units", AMOUNT_MAX);
    int64_t left = o->paid - o->refunded;
    if (o->paid <= 0 || left <= 0)
        return NOTES_RETURN_NOTHING_LEFT;
    int64_t sum = 0;
    const char *field = "amountMinor";
    if (whole) {
        sum = left;
        field = "whole";
    } else if (n_items) {
        enum notes_return_result r = s_items(o, items, n_items, &sum, why);
        if (r != NOTES_RETURN_OK)
            return r;
        field = "items";
    } else {
        sum = amount_minor;
    }
    if (sum > left)
        return s_problem(why, field, "OVER_REFUND",
                         "%s: %" PRId64 " would return more than the %" PRId64
                         " left of what was paid",
                         field, sum, left);
    if (sum <= 0)
        return s_problem(why, field, "OUT_OF_RANGE", "%s: the return comes to nothing", field);
    for (size_t i = 0; whole && i < o->n_items; i++)
        o->returned[i] = o->quantity[i];
    for (size_t i = 0; !whole && i < n_items; i++)
        o->returned[items[i]->index] += items[i]->quantity;
    *amount = sum;
    return NOTES_RETURN_OK;
}

const char *notes_return_status(int64_t paid, int64_t refunded)
{
    return refunded >= paid ? "REFUNDED" : "PARTIALLY_REFUNDED";
}

enum notes_credit_next notes_credit_judge(Crm__Status status)
{
    switch (status) {
    case CRM__STATUS__STATUS_OK:
        return NOTES_CREDIT_DONE;
    case CRM__STATUS__STATUS_UNAVAILABLE:
    case CRM__STATUS__STATUS_DEADLINE_EXCEEDED:
    case CRM__STATUS__STATUS_RESOURCE_EXHAUSTED:
    case CRM__STATUS__STATUS_INTERNAL:
        return NOTES_CREDIT_RETRY;
    default:
        return NOTES_CREDIT_FAILED;
    }
}

int notes_credit_delay_s(int attempts)
{
    int delay = NOTES_CREDIT_RETRY_S;
    for (int i = 1; i < attempts && delay < NOTES_CREDIT_RETRY_MAX_S; i++)
        delay *= 2;
    return delay < NOTES_CREDIT_RETRY_MAX_S ? delay : NOTES_CREDIT_RETRY_MAX_S;
}
