/* Offsets of a time zone, and conversions between UTC and its wall clock. */
#include "exchange_zone.h"
#include "cm_util.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

void exchange_zone_init_utc(struct exchange_zone *z)
{
    snprintf(z->name, sizeof z->name, "UTC");
    z->n = 1;
    z->at = cm_malloc(sizeof *z->at);
    z->off = cm_malloc(sizeof *z->off);
    z->at[0] = INT64_MIN;
    z->off[0] = 0;
}

void exchange_zone_add(struct exchange_zone *z, int64_t at, int32_t off)
{
    assert(z->n && at > z->at[z->n - 1]);
    z->at = cm_realloc(z->at, (z->n + 1) * sizeof *z->at);
    z->off = cm_realloc(z->off, (z->n + 1) * sizeof *z->off);
    z->at[z->n] = at;
    z->off[z->n] = off;
    z->n++;
}

void exchange_zone_release(struct exchange_zone *z)
{
    free(z->at);
    free(z->off);
    z->at = NULL;
    z->off = NULL;
    z->n = 0;
}

/* The period that holds instant utc: the last i with at[i] <= utc. */
static size_t s_period(const struct exchange_zone *z, int64_t utc)
{
    size_t lo = 0, hi = z->n; // at[lo] <= utc < at[hi] (at[n] past the end)
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= utc)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int32_t exchange_zone_offset(const struct exchange_zone *z, int64_t utc)
{
    return z->n ? z->off[s_period(z, utc)] : 0;
}

/* Offsets stay within a day of UTC, so the periods that may hold local's
 * instant are those around local - 1 day .. local + 1 day. */
#define S_DAY 86400

int64_t exchange_zone_to_utc(const struct exchange_zone *z, int64_t local)
{
    if (!z->n)
        return local;
    size_t first = s_period(z, local - S_DAY), last = s_period(z, local + S_DAY);
    /* The earliest instant whose own offset gives this wall-clock time. */
    for (size_t i = first; i <= last; i++) {
        int64_t u = local - z->off[i];
        if (u >= z->at[i] && (i + 1 == z->n || u < z->at[i + 1]))
            return u;
    }
    /* None: the clock skipped this time. Read it with the offset before the
     * change, which puts it after the change. */
    for (size_t i = first; i < last; i++) {
        int64_t u = local - z->off[i];
        if (u >= z->at[i + 1] && local - z->off[i + 1] < z->at[i + 1])
            return u;
    }
    return local - z->off[last];
}

void exchange_zone_split(int64_t secs, int out[6])
{
    int64_t days = secs >= 0 ? secs / S_DAY : -((-secs + S_DAY - 1) / S_DAY);
    int64_t rest = secs - days * S_DAY;
    cm_civil_from_days(days, &out[0], &out[1], &out[2]);
    out[3] = (int)(rest / 3600);
    out[4] = (int)(rest / 60 % 60);
    out[5] = (int)(rest % 60);
}
