/* Wrong API keys per address: the lock-out, its doubling and its end. */
#include "gateway_limit.h"
#include "../unit.h"

#include <stdio.h>
#include <string.h>

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

static const char *s_client(const char *peer, const char *xff, const char *trusted)
{
    static char out[GATEWAY_LIMIT_ADDR];
    gateway_limit_client(peer, xff, trusted, out, sizeof out);
    return out;
}

static void test_the_client_is_the_peer_unless_a_trusted_proxy_says_otherwise(void)
{
    /* No proxy trusted: X-Forwarded-For is anyone's to write, and ignored. */
    CHECK(!strcmp(s_client("127.0.0.1", "203.0.113.9", ""), "127.0.0.1"));
    CHECK(!strcmp(s_client("127.0.0.1", "203.0.113.9", NULL), "127.0.0.1"));
    /* A peer that is not trusted is itself, whatever it sends. */
    CHECK(!strcmp(s_client("10.0.0.5", "203.0.113.9", "10.0.0.1"), "10.0.0.5"));
    /* Behind a trusted proxy: the address it saw. */
    CHECK(!strcmp(s_client("10.0.0.1", "203.0.113.9", "10.0.0.1"), "203.0.113.9"));
    CHECK(!strcmp(s_client("10.0.0.1", NULL, "10.0.0.1"), "10.0.0.1"));
    /* What the client put in front is not believed: the right-most hop is. */
    CHECK(!strcmp(s_client("10.0.0.1", "1.2.3.4, 203.0.113.9", "10.0.0.1"), "203.0.113.9"));
    /* Two trusted proxies in a row, walked past; any spelling of an address. */
    CHECK(!strcmp(s_client("::ffff:10.0.0.1", "198.51.100.7,10.0.0.2", " 10.0.0.1 , 10.0.0.2"),
                  "198.51.100.7"));
    CHECK(!strcmp(s_client("::1", "2001:DB8::0:1", "0:0:0:0:0:0:0:1"), "2001:db8::1"));
    /* Garbage stops the walk at the last trusted hop; every hop trusted: the left-most. */
    CHECK(!strcmp(s_client("10.0.0.1", "x, 10.0.0.2", "10.0.0.1,10.0.0.2"), "10.0.0.2"));
    CHECK(!strcmp(s_client("10.0.0.1", "nonsense", "10.0.0.1"), "10.0.0.1"));
    CHECK(!strcmp(s_client("10.0.0.1", "10.0.0.2", "10.0.0.1,10.0.0.2"), "10.0.0.2"));
    CHECK(!strcmp(s_client("unknown", "203.0.113.9", "10.0.0.1"), "unknown"));
    CHECK(gateway_limit_addresses_ok(""));
    CHECK(gateway_limit_addresses_ok("10.0.0.1, ::1,fd00::2"));
    CHECK(!gateway_limit_addresses_ok("10.0.0.0/8"));
    CHECK(!gateway_limit_addresses_ok("proxy.example"));
    CHECK(!gateway_limit_addresses_ok(",10.0.0.1"));
}

int main(void)
{
    RUN(test_locks_after_max_failures_in_the_window);
    RUN(test_failures_outside_the_window_start_again);
    RUN(test_lock_outs_in_a_row_double_up_to_the_cap_then_forget);
    RUN(test_a_full_table_forgets_the_quietest_not_the_locked);
    RUN(test_the_client_is_the_peer_unless_a_trusted_proxy_says_otherwise);
    return 0;
}
