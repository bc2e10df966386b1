/* The rules of a merge for the fields of a customer (docs/api.md, "Merging
 * two records"): which of two records' values the kept record ends with.
 * Pure: no database, no call. */
#ifndef CUSTOMERS_MERGE_RULES_H
#define CUSTOMERS_MERGE_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include "customers.pb-c.h"

/* Folds dup's values into keep, which the caller owns (a copy of the kept
 * customer): an empty scalar of keep takes dup's; descriptions are joined,
 * keep's first, with a blank line between; tags, groups, addresses and
 * external ids are united (an identical address or external id once; tags and
 * groups are de-duplicated by customers_check); each consent is the one
 * changed later; the account status is the more active one; hasPhoto is
 * either's. id, times, etag, source and isCompany stay keep's. Lengths and
 * counts are not checked here: customers_check refuses what is past a limit. */
void customers_merge_fields(Crm__Customer *keep, const Crm__Customer *dup);

/* An RFC 3339 time as milliseconds since the epoch into *ms (any offset;
 * fractions past milliseconds dropped). False when s is not one. */
bool customers_merge_time_ms(const char *s, int64_t *ms);

/* How active an account status is, for the merge: NONE 0 < DISABLED 1 <
 * INVITED 2 < ACTIVE 3. */
int customers_merge_status_rank(Crm__AccountStatus status);

#endif
