/* The sign-in rate limit and lock-out, as arithmetic (docs/api.md, "Staff and
 * sessions", says why it is shaped so). Failures are counted over a window
 * three ways: for one account from one address (the lock-out proper), for
 * one account from anywhere (a short slowdown, never a lock-out: a stranger
 * who guesses from many addresses cannot keep the member out), and from one
 * address over every account (password spraying). */
#ifndef CUSTOMERS_STAFF_LIMIT_H
#define CUSTOMERS_STAFF_LIMIT_H

#include <stdint.h>

struct customers_limit_cfg {
    long window_s;         // failures older than this are forgotten
    long pair_failures;    // failures of one account from one address before a lock-out
    long pair_base_s;      // the first lock-out; each further failure doubles it
    long pair_cap_s;       // the longest lock-out
    long account_failures; // failures of one account from anywhere before the slowdown
    long account_cap_s;    // the slowdown's longest wait (1 s, doubling)
    long address_failures; // failures from one address over all accounts before a lock-out
};

/* Failures in the window, and ms since the newest of each (any when count is 0). */
struct customers_limit_counts {
    long pair, account, address;
    int64_t pair_age_ms, account_age_ms, address_age_ms;
};

/* The lock after failures failures: 0 below threshold, else base_s doubled
 * per failure past the threshold, at most cap_s. */
long customers_limit_lock_s(long failures, long threshold, long base_s, long cap_s);

/* Whole seconds (rounded up) until another attempt is looked at; 0 when it
 * may be now. */
long customers_limit_wait_s(const struct customers_limit_cfg *cfg,
                            const struct customers_limit_counts *n);

/* A quota of requests per window (password reset links): how many in the
 * window, and ms since the oldest of them. */
struct customers_quota_counts {
    long n;
    int64_t oldest_age_ms;
};

/* Whole seconds (rounded up) until the oldest of the window's requests
 * leaves it, when there are max or more; 0 when another may be now (also
 * for max <= 0: no quota). */
long customers_limit_quota_wait_s(const struct customers_quota_counts *c, long max, long window_s);

#endif
