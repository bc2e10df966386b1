/* The pure logic of access control (docs/access.md): what a credential's
 * value and a grant's hours may be, the time a door asks about, and the
 * decision a door gets from the facts one statement read. No I/O. */
#ifndef CUSTOMERS_ACCESS_RULES_H
#define CUSTOMERS_ACCESS_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "access.pb-c.h"

#define CUSTOMERS_ACCESS_VALUE_MAX 64 // characters of a credential's value

/* True when s is 1 to CUSTOMERS_ACCESS_VALUE_MAX printable ASCII characters
 * (space to tilde). */
bool customers_access_value_ok(const char *s);

/* "HH:MM" (00:00 to 23:59, or 24:00 when end is true) as minutes of the day
 * into *minute; 0, or -1 for anything else. */
int customers_access_parse_hhmm(const char *s, bool end, int *minute);

/* minute (0..1440) as "HH:MM" into out. */
void customers_access_format_hhmm(int minute, char out[6]);

/* An RFC 3339 time ("2026-12-07T18:30:00Z", optional fraction, "Z" or
 * "+HH:MM"/"-HH:MM") from 1970 to 9999 as milliseconds since the epoch into
 * *ms; 0, or -1 for anything else. */
int customers_access_parse_time(const char *s, int64_t *ms);

/* The ISO days of the week (1 Monday .. 7 Sunday) as a mask (bit d-1), or -1
 * when one is out of range; none: 0 (every day). */
int customers_access_days_mask(const int32_t *days, size_t n);

/* What the decision looks at of one grant to the zone asked about. */
struct customers_access_grant {
    int64_t valid_from;  // days since 1970-01-01; -1: always
    int64_t valid_until; // last valid day; -1: for good
    unsigned days;       // bit d-1 for ISO day d; 0: every day
    int from_minute;     // -1: all day
    int until_minute;    // exclusive; 1440 the end of the day; before from_minute: the next day's
    bool needs_plan;     // the grant names a plan
    bool plan_active;    // a subscription of it is active with visits left (or unlimited)
};

/* What the one statement read: the credential's customer and their grants
 * to the zone. */
struct customers_access_facts {
    bool known;    // a credential has the value (its customer not erased)
    bool blocked;  // every credential with the value is blocked
    bool disabled; // the customer's account is disabled
    const struct customers_access_grant *grants; // borrowed (caller)
    size_t n_grants;
};

/* The reason a door says no at ms (milliseconds since 1970-01-01 00:00 on
 * the business's wall clock: the time in its zone, counted as if it were
 * UTC), or ACCESS_REASON_UNSPECIFIED to let the bearer in. In order: an unknown
 * credential, a blocked one, a disabled account, no grant to the zone; then
 * ALLOW when any grant holds, else the reason of the grant that came
 * nearest, each grant checked for its dates (EXPIRED), then its plan
 * (NO_SUBSCRIPTION), then its hours (OUTSIDE_HOURS). A span that crosses
 * midnight (until_minute before from_minute) belongs to the day it starts:
 * its dates and days are those of that day (Friday 22:00..02:00 lets in on
 * Saturday at 01:30). */
Crm__AccessReason customers_access_decide(const struct customers_access_facts *f, int64_t ms);

#endif
