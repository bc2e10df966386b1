/* Wrong API keys per address: the lock-out, its doubling and its end. */
#include "gateway_limit.h"
#include "../unit.h"

#include <stdio.h>

static const struct gateway_limit_cfg s_cfg = {
    .max_failures = 3, .window_ms = 1000, .lock_ms = 100, .lock_max_ms = 350};

static void test_locks_after_max_failures_in_the_window(void)
{
    gateway_limit_t *l = gateway_limit_new(&s_cfg, 16);
    CHECK(gateway_limit_fail(l, "10.0.0.1", 1000) == 0);
    CHECK(gateway_limit_fail(l, "10.0.0.1", 1100) == 0);
    CHECK(gateway_limit_wait(l, "10.0.0.1", 1100) == 0);
    CHECK(gateway_limit_fail(l, "10.0.0.1", 1200) == 100);
    CHECK(gateway_limit_wait(l, "10.0.0.1", 1250) == 50);
    /* Another address is not touched. */
    CHECK(gateway_limit_wait(l, "10.0.0.2", 1250) == 0);
    /* It ends by itself, and a failure while locked does not lengthen it. */
    CHECK(gateway_limit_fail(l, "10.0.0.1", 1290) == 10);
    CHECK(gateway_limit_wait(l, "10.0.0.1", 1300) == 0);
    gateway_limit_destroy(&l);
    CHECK(l == NULL);
}

static void test_failures_outside_the_window_start_again(void)
{
    gateway_limit_t *l = gateway_limit_new(&s_cfg, 16);
    CHECK(gateway_limit_fail(l, "a", 0 + 1) == 0);
    CHECK(gateway_limit_fail(l, "a", 500) == 0);
    /* The window began at 1: this one opens a new one. */
    CHECK(gateway_limit_fail(l, "a", 1002) == 0);
    CHECK(gateway_limit_fail(l, "a", 1003) == 0);
    CHECK(gateway_limit_fail(l, "a", 1004) == 100);
    gateway_limit_destroy(&l);
}

static void test_lock_outs_in_a_row_double_up_to_the_cap_then_forget(void)
{
    gateway_limit_t *l = gateway_limit_new(&s_cfg, 16);
    int64_t t = 10, expect[] = {100, 200, 350, 350};
    for (int round = 0; round < 4; round++) {
        CHECK(gateway_limit_fail(l, "b", t) == 0);
        CHECK(gateway_limit_fail(l, "b", t + 1) == 0);
        CHECK(gateway_limit_fail(l, "b", t + 2) == expect[round]);
        t += 2 + expect[round];
    }
    /* Quiet for longer than the longest lock-out: back to the first. */
    t += 400;
    CHECK(gateway_limit_fail(l, "b", t) == 0);
    CHECK(gateway_limit_fail(l, "b", t + 1) == 0);
    CHECK(gateway_limit_fail(l, "b", t + 2) == 100);
    gateway_limit_destroy(&l);
}

static void test_a_full_table_forgets_the_quietest_not_the_locked(void)
{
    /* One set of four: the fifth address takes the place of the quietest one
     * that is not locked. */
    gateway_limit_t *l = gateway_limit_new(&s_cfg, 4);
    for (int i = 0; i < 3; i++)
        gateway_limit_fail(l, "locked", 10 + i);
    CHECK(gateway_limit_wait(l, "locked", 20) > 0);
    gateway_limit_fail(l, "q1", 20);
    gateway_limit_fail(l, "q2", 21);
    gateway_limit_fail(l, "q3", 22);
    gateway_limit_fail(l, "new", 23);
    CHECK(gateway_limit_wait(l, "locked", 30) > 0);
    /* q1 was forgotten: two more failures do not lock it. */
    CHECK(gateway_limit_fail(l, "q1", 31) == 0);
    CHECK(gateway_limit_fail(l, "q1", 32) == 0);
    /* A long address is kept by its first 63 bytes. */
    char longaddr[200];
    snprintf(longaddr, sizeof longaddr, "%0190d", 7);
    CHECK(gateway_limit_fail(l, longaddr, 40) == 0);
    gateway_limit_destroy(&l);
}

int main(void)
{
    RUN(test_locks_after_max_failures_in_the_window);
    RUN(test_failures_outside_the_window_start_again);
    RUN(test_lock_outs_in_a_row_double_up_to_the_cap_then_forget);
    RUN(test_a_full_table_forgets_the_quietest_not_the_locked);
    return 0;
}
