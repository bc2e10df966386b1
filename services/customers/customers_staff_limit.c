/* The sign-in rate limit's arithmetic (customers_staff_limit.h). */
#include "customers_staff_limit.h"

long customers_limit_lock_s(long failures, long threshold, long base_s, long cap_s)
{
    if (threshold <= 0 || failures < threshold || base_s <= 0)
        return 0;
    long lock = base_s;
    for (long i = threshold; i < failures && lock < cap_s; i++)
        lock *= 2;
    return lock < cap_s ? lock : cap_s;
}

/* Seconds left of a lock of lock_s that began age_ms ago, rounded up. */
static long s_left(long lock_s, int64_t age_ms)
{
    int64_t left = (int64_t)lock_s * 1000 - (age_ms > 0 ? age_ms : 0);
    return left > 0 ? (long)((left + 999) / 1000) : 0;
}

long customers_limit_wait_s(const struct customers_limit_cfg *cfg,
                            const struct customers_limit_counts *n)
{
    long pair = s_left(
        customers_limit_lock_s(n->pair, cfg->pair_failures, cfg->pair_base_s, cfg->pair_cap_s),
        n->pair_age_ms);
    long account =
        s_left(customers_limit_lock_s(n->account, cfg->account_failures, 1, cfg->account_cap_s),
               n->account_age_ms);
    long address = s_left(customers_limit_lock_s(n->address, cfg->address_failures,
                                                 cfg->pair_base_s, cfg->pair_cap_s),
                          n->address_age_ms);
    long wait = pair > account ? pair : account;
    return wait > address ? wait : address;
}

long customers_limit_quota_wait_s(const struct customers_quota_counts *c, long max, long window_s)
{
    if (max <= 0 || c->n < max)
        return 0;
    long wait = s_left(window_s, c->oldest_age_ms);
    return wait > 0 ? wait : 1;
}
