/* A staff return of a purchase, the pure part: which amount a return of the
 * whole order, of chosen items or of an amount comes to, and the order's
 * status after it (notes_purchases.c applies it under the order's row lock;
 * docs/visits.md says the rules), and what a credit to the balance does
 * next (notes_credits.c). */
#ifndef NOTES_RETURNS_H
#define NOTES_RETURNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "envelope.pb-c.h"
#include "visits.pb-c.h"

/* Amounts are integer minor units, at most 10^15 each (the intake's limit). */
#define NOTES_RETURN_REASON_MAX 500

/* An order as a return sees it. quantity[i] and amount[i] (the line's amount)
 * describe item i; returned[i] is how many of it staff returned before, and
 * takes this return's quantities when it succeeds. */
struct notes_return_order {
    int64_t paid;     // what was paid
    int64_t refunded; // refunded so far (store and staff)
    size_t n_items;
    const int32_t *quantity; // borrowed (caller)
    const int64_t *amount;   // borrowed (caller)
    int32_t *returned;       // borrowed (caller), changed on success
};

enum notes_return_result {
    NOTES_RETURN_OK = 0,
    NOTES_RETURN_INVALID,      // the request is wrong: field and reason say where
    NOTES_RETURN_NOTHING_LEFT, // everything paid was refunded already (or nothing was paid)
};

/* What went wrong with a return that is not OK: the field (lowerCamelCase,
 * with the item's index) and a reason code, and an English description. */
struct notes_return_problem {
    char field[48];
    const char *reason; // static: REQUIRED, INVALID_FORMAT, OUT_OF_RANGE, DUPLICATE, OVER_REFUND
    char description[200];
};

/* The amount of a return of o: the whole of what is left when whole, the
 * items' share of their lines (a line's amount split over its quantity, the
 * last unit taking the rounding), or amount_minor; exactly one of the three.
 * The total returned never exceeds what was paid: more is INVALID
 * (OVER_REFUND). On OK sets *amount and adds the items' quantities to
 * o->returned (a whole return marks every item returned); otherwise fills
 * *why and changes nothing. */
enum notes_return_result notes_return_amount(struct notes_return_order *o, bool whole,
                                             Crm__ReturnItem *const *items, size_t n_items,
                                             int64_t amount_minor, int64_t *amount,
                                             struct notes_return_problem *why);

/* The order's status once refunded of paid was refunded: REFUNDED when all
 * of it, PARTIALLY_REFUNDED otherwise. Static. */
const char *notes_return_status(int64_t paid, int64_t refunded);

/* A return to the balance: what customers.AdjustWallet's answer (status)
 * means for the credit. OK is DONE; no answer, UNAVAILABLE,
 * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED or INTERNAL are worth another try
 * (RETRY); any other refusal (no such customer, a wallet in another
 * currency, a reference used otherwise) stays for good (FAILED). */
enum notes_credit_next { NOTES_CREDIT_DONE, NOTES_CREDIT_RETRY, NOTES_CREDIT_FAILED };
enum notes_credit_next notes_credit_judge(Crm__Status status);

/* Seconds until the next try of a credit tried attempts times (1 or more):
 * NOTES_CREDIT_RETRY_S doubling, at most NOTES_CREDIT_RETRY_MAX_S. */
#define NOTES_CREDIT_RETRY_S 5
#define NOTES_CREDIT_RETRY_MAX_S 300
int notes_credit_delay_s(int attempts);

#endif
