/* The pure logic of subscriptions: calendar dates as days since 1970-01-01
 * (UTC), a subscription's end date from its plan's period, its state on a
 * day, and which of a customer's subscriptions a visit uses. No I/O. */
#ifndef CUSTOMERS_SUBS_RULES_H
#define CUSTOMERS_SUBS_RULES_H

#include <stddef.h>
#include <stdint.h>
#include "subscriptions.pb-c.h"

/* "YYYY-MM-DD" (a real date from 1970 to 9999) as days; 0, or -1 for
 * anything else. */
int customers_subs_parse_date(const char *s, int64_t *days);

/* days as "YYYY-MM-DD" into out. */
void customers_subs_format_date(int64_t days, char out[11]);

/* The day n months after day, the day of the month kept unless that month
 * is shorter, then its last day (31 January + 1 month: 28 or 29 February). */
int64_t customers_subs_add_months(int64_t day, int months);

/* The last day a subscription starting on start is valid (through that
 * day): count days, the start day the first of them; or count months, the day
 * before the same day of the month count months later, or that month's last
 * day when it has no such day (15 January + 1 month ends 14 February; 31
 * January + 1 month ends 28 February, or 29 in a leap year). -1 for no period
 * (UNSPECIFIED, or count below 1). */
int64_t customers_subs_end(int64_t start, Crm__PeriodUnit unit, int count);

/* What the state and the pick look at of one subscription. */
struct customers_sub_facts {
    int64_t starts_on;
    int64_t ends_on;  // -1: no expiry
    int visits_total; // 0: unlimited
    int visits_left;
    int cancelled;
    long seq; // the order of sale
};

/* Its state on day today. */
Crm__SubscriptionState customers_subs_state(const struct customers_sub_facts *s, int64_t today);

/* The index in subs of the one a visit on today uses, or -1 when none is
 * ACTIVE. The rule: the active one ending soonest (one without expiry last);
 * among those ending alike, one with counted visits before an unlimited one;
 * then the one sold first. */
int customers_subs_pick(const struct customers_sub_facts *subs, size_t n, int64_t today);

#endif
