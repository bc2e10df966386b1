/* The sign-in rate limit's arithmetic: lock-outs that double to a cap and
 * end by themselves, the account-wide slowdown that never locks out. */
#include "customers_staff_limit.h"
#include "../unit.h"

static const struct customers_limit_cfg CFG = {
    .window_s = 900,
    .pair_failures = 5,
    .pair_base_s = 60,
    .pair_cap_s = 900,
    .account_failures = 5,
    .account_cap_s = 4,
    .address_failures = 50,
};

static void test_lock_doubles_to_the_cap(void)
{
    CHECK(customers_limit_lock_s(0, 5, 60, 900) == 0);
    CHECK(customers_limit_lock_s(4, 5, 60, 900) == 0);
    CHECK(customers_limit_lock_s(5, 5, 60, 900) == 60);
    CHECK(customers_limit_lock_s(6, 5, 60, 900) == 120);
    CHECK(customers_limit_lock_s(7, 5, 60, 900) == 240);
    CHECK(customers_limit_lock_s(8, 5, 60, 900) == 480);
    CHECK(customers_limit_lock_s(9, 5, 60, 900) == 900);
    CHECK(customers_limit_lock_s(1000000, 5, 60, 900) == 900);
    CHECK(customers_limit_lock_s(5, 0, 60, 900) == 0); /* no threshold: no lock */
}

static void test_wait_counts_down_from_the_last_failure(void)
{
    struct customers_limit_counts n = {.pair = 5,
                                       .pair_age_ms = 0,
                                       .account = 5,
                                       .account_age_ms = 0,
                                       .address = 5,
                                       .address_age_ms = 0};
    CHECK(customers_limit_wait_s(&CFG, &n) == 60);
    n.pair_age_ms = n.account_age_ms = n.address_age_ms = 59001;
    CHECK(customers_limit_wait_s(&CFG, &n) == 1); /* rounded up */
    n.pair_age_ms = n.account_age_ms = n.address_age_ms = 60000;
    CHECK(customers_limit_wait_s(&CFG, &n) == 0); /* it ends by itself */
    n.pair = 4;
    n.pair_age_ms = 0;
    CHECK(customers_limit_wait_s(&CFG, &n) == 0);
}

static void test_an_attacker_elsewhere_only_slows_the_account(void)
{
    /* 200 failures from other addresses: none from the member's own. */
    struct customers_limit_counts n = {
        .pair = 0, .account = 200, .account_age_ms = 0, .address = 0};
    CHECK(customers_limit_wait_s(&CFG, &n) == 4); /* the cap, seconds, not minutes */
    n.account_age_ms = 4000;
    CHECK(customers_limit_wait_s(&CFG, &n) == 0);
    n.account = 6;
    n.account_age_ms = 500;
    CHECK(customers_limit_wait_s(&CFG, &n) == 2); /* 2 s lock, 0.5 s gone: 1.5 rounds to 2 */
}

static void test_an_address_spraying_many_accounts_is_locked(void)
{
    struct customers_limit_counts n = {.address = 50, .address_age_ms = 1000};
    CHECK(customers_limit_wait_s(&CFG, &n) == 59);
    n.address = 49;
    CHECK(customers_limit_wait_s(&CFG, &n) == 0);
}

static void test_a_quota_waits_for_the_oldest_request_to_leave_the_window(void)
{
    struct customers_quota_counts c = {.n = 2, .oldest_age_ms = 10000};
    CHECK(customers_limit_quota_wait_s(&c, 3, 3600) == 0); /* under the quota */
    c.n = 3;
    CHECK(customers_limit_quota_wait_s(&c, 3, 3600) == 3590);
    c.n = 7;
    c.oldest_age_ms = 3599500;
    CHECK(customers_limit_quota_wait_s(&c, 3, 3600) == 1); /* 0.5 s rounds up */
    c.oldest_age_ms = 3600000;
    CHECK(customers_limit_quota_wait_s(&c, 3, 3600) == 1); /* at the edge: never 0 when full */
    CHECK(customers_limit_quota_wait_s(&c, 0, 3600) == 0); /* no quota */
}

int main(void)
{
    RUN(test_lock_doubles_to_the_cap);
    RUN(test_wait_counts_down_from_the_last_failure);
    RUN(test_an_attacker_elsewhere_only_slows_the_account);
    RUN(test_an_address_spraying_many_accounts_is_locked);
    RUN(test_a_quota_waits_for_the_oldest_request_to_leave_the_window);
    return 0;
}
