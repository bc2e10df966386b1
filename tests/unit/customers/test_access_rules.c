/* Unit tests for customers_access_rules: a credential's value, a grant's
 * hours and days, the time a door asks about, and the decision with its
 * reasons in order (credential, block, account, grant; then each grant's
 * dates, plan and hours, the nearest miss reported). */
#include "customers_access_rules.h"
#include "../unit.h"

#include <stdint.h>
#include <string.h>

#define REASON(r) CRM__ACCESS_REASON__ACCESS_REASON_##r

static int64_t T(const char *s)
{
    int64_t ms = -1;
    CHECK(customers_access_parse_time(s, &ms) == 0);
    return ms;
}

static void test_values(void)
{
    CHECK(customers_access_value_ok("04:A2:19:7F"));
    CHECK(customers_access_value_ok("1"));
    CHECK(customers_access_value_ok("a code with spaces ~"));
    char v[66];
    memset(v, 'x', 64);
    v[64] = '\0';
    CHECK(customers_access_value_ok(v));
    v[64] = 'x';
    v[65] = '\0';
    CHECK(!customers_access_value_ok(v));
    CHECK(!customers_access_value_ok(""));
    CHECK(!customers_access_value_ok("12\t34"));
    CHECK(!customers_access_value_ok("caf\xc3\xa9"));
    CHECK(!customers_access_value_ok("\x7f"));
}

static void test_hours_and_days(void)
{
    int m = -1;
    CHECK(customers_access_parse_hhmm("00:00", false, &m) == 0 && m == 0);
    CHECK(customers_access_parse_hhmm("06:30", false, &m) == 0 && m == 390);
    CHECK(customers_access_parse_hhmm("23:59", false, &m) == 0 && m == 1439);
    CHECK(customers_access_parse_hhmm("24:00", true, &m) == 0 && m == 1440);
    CHECK(customers_access_parse_hhmm("24:00", false, &m) == -1);
    CHECK(customers_access_parse_hhmm("24:01", true, &m) == -1);
    CHECK(customers_access_parse_hhmm("6:30", false, &m) == -1);
    CHECK(customers_access_parse_hhmm("06:60", false, &m) == -1);
    CHECK(customers_access_parse_hhmm("06-30", false, &m) == -1);
    CHECK(customers_access_parse_hhmm("", false, &m) == -1);
    char out[6];
    customers_access_format_hhmm(1440, out);
    CHECK_STR(out, "24:00");
    customers_access_format_hhmm(65, out);
    CHECK_STR(out, "01:05");
    int32_t week[] = {1, 5, 7}, bad[] = {0}, worse[] = {8};
    CHECK(customers_access_days_mask(week, 3) == (1 | 16 | 64));
    CHECK(customers_access_days_mask(week, 0) == 0);
    CHECK(customers_access_days_mask(bad, 1) == -1);
    CHECK(customers_access_days_mask(worse, 1) == -1);
}

static void test_times(void)
{
    CHECK(T("1970-01-01T00:00:00Z") == 0);
    CHECK(T("1970-01-01T00:00:01.5Z") == 1500);
    CHECK(T("2026-12-07T12:00:00Z") == T("2026-12-07T13:00:00+01:00"));
    CHECK(T("2026-12-07T12:00:00Z") == T("2026-12-07T07:00:00-05:00"));
    CHECK(T("2026-12-07t12:00:00.123456789z") == T("2026-12-07T12:00:00Z") + 123);
    int64_t ms;
    CHECK(customers_access_parse_time("2026-12-07 12:00:00Z", &ms) == -1);
    CHECK(customers_access_parse_time("2026-12-07T12:00:00", &ms) == -1);
    CHECK(customers_access_parse_time("2026-12-07T25:00:00Z", &ms) == -1);
    CHECK(customers_access_parse_time("2026-02-30T12:00:00Z", &ms) == -1);
    CHECK(customers_access_parse_time("2026-12-07T12:00:00.Z", &ms) == -1);
    CHECK(customers_access_parse_time("2026-12-07T12:00:00+0100", &ms) == -1);
    CHECK(customers_access_parse_time("yesterday", &ms) == -1);
    CHECK(customers_access_parse_time("", &ms) == -1);
}

/* A grant with no conditions. */
static struct customers_access_grant G(void) {
    struct customers_access_grant g = {
        .valid_from = -1, .valid_until = -1, .from_minute = -1, .until_minute = -1};
    return g;
}

static Crm__AccessReason
decide(const struct customers_access_grant *g, size_t n, const char *at)
{
    struct customers_access_facts f = {.known = true, .grants = g, .n_grants = n};
    return customers_access_decide(&f, T(at));
}

static void test_the_order_of_the_first_reasons(void)
{
    struct customers_access_grant g = G();
    struct customers_access_facts f = {.known = false, .blocked = true, .disabled = true};
    int64_t now = T("2026-12-07T12:00:00Z");
    CHECK(customers_access_decide(&f, now) == REASON(UNKNOWN_CREDENTIAL));
    f.known = true;
    CHECK(customers_access_decide(&f, now) == REASON(BLOCKED));
    f.blocked = false;
    CHECK(customers_access_decide(&f, now) == REASON(ACCOUNT_DISABLED));
    f.disabled = false;
    CHECK(customers_access_decide(&f, now) == REASON(NO_GRANT));
    f.grants = &g;
    f.n_grants = 1;
    CHECK(customers_access_decide(&f, now) == REASON(UNSPECIFIED));
    /* A grant that holds does not open a blocked credential's door. */
    f.blocked = true;
    CHECK(customers_access_decide(&f, now) == REASON(BLOCKED));
}

static void test_dates_through_the_last_day(void)
{
    struct customers_access_grant g = G();
    g.valid_from = T("2026-12-01T00:00:00Z") / 86400000;
    g.valid_until = T("2026-12-07T00:00:00Z") / 86400000;
    CHECK(decide(&g, 1, "2026-12-01T00:00:00Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-07T23:59:59.999Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-08T00:00:00Z") == REASON(EXPIRED));
    CHECK(decide(&g, 1, "2026-11-30T23:59:59Z") == REASON(EXPIRED));
}

static void test_weekly_hours(void)
{
    struct customers_access_grant g = G();
    g.days = 1 | 2 | 4 | 8 | 16; // Monday to Friday
    g.from_minute = 6 * 60;
    g.until_minute = 21 * 60;
    CHECK(decide(&g, 1, "2026-12-07T06:00:00Z") == REASON(UNSPECIFIED)); // a Monday
    CHECK(decide(&g, 1, "2026-12-07T20:59:59Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-07T21:00:00Z") == REASON(OUTSIDE_HOURS));
    CHECK(decide(&g, 1, "2026-12-07T05:59:59Z") == REASON(OUTSIDE_HOURS));
    CHECK(decide(&g, 1, "2026-12-11T12:00:00Z") == REASON(UNSPECIFIED));   // Friday
    CHECK(decide(&g, 1, "2026-12-12T12:00:00Z") == REASON(OUTSIDE_HOURS)); // Saturday
    CHECK(decide(&g, 1, "2026-12-13T12:00:00Z") == REASON(OUTSIDE_HOURS)); // Sunday
    g.days = 64;                                                           // Sundays only
    g.from_minute = 18 * 60;
    g.until_minute = 1440;
    CHECK(decide(&g, 1, "2026-12-13T23:59:59Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-14T00:00:00Z") == REASON(OUTSIDE_HOURS));
    CHECK(decide(&g, 1, "1970-01-04T18:00:00Z") == REASON(UNSPECIFIED)); // a Sunday
}

static void test_day_boundaries(void)
{
    struct customers_access_grant g = G();
    g.days = 1; // Mondays, all day
    CHECK(decide(&g, 1, "2026-12-07T00:00:00Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-07T23:59:59.999Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-06T23:59:59.999Z") == REASON(OUTSIDE_HOURS));
    CHECK(decide(&g, 1, "2026-12-08T00:00:00Z") == REASON(OUTSIDE_HOURS));
    /* A wall clock before 1970 (the first instant in a zone west of UTC). */
    struct customers_access_facts f = {.known = true, .grants = &g, .n_grants = 1};
    g.days = 4; // Wednesdays: 1969-12-31 was one
    g.from_minute = 23 * 60;
    g.until_minute = 1440;
    CHECK(customers_access_decide(&f, -1) == REASON(UNSPECIFIED));
    CHECK(customers_access_decide(&f, -3600001) == REASON(OUTSIDE_HOURS)); // 22:59:59.999
}

static void test_spans_across_midnight(void)
{
    struct customers_access_grant g = G();
    g.days = 16; // Fridays, 22:00 until 02:00
    g.from_minute = 22 * 60;
    g.until_minute = 2 * 60;
    CHECK(decide(&g, 1, "2026-12-11T21:59:59Z") == REASON(OUTSIDE_HOURS)); // a Friday
    CHECK(decide(&g, 1, "2026-12-11T22:00:00Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-11T23:59:59.999Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-12T00:00:00Z") == REASON(UNSPECIFIED)); // Saturday
    CHECK(decide(&g, 1, "2026-12-12T01:30:00Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-12T01:59:59.999Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-12T02:00:00Z") == REASON(OUTSIDE_HOURS));
    CHECK(decide(&g, 1, "2026-12-12T22:30:00Z") == REASON(OUTSIDE_HOURS)); // Saturday's own
    CHECK(decide(&g, 1, "2026-12-11T01:30:00Z") == REASON(OUTSIDE_HOURS)); // Thursday's
    CHECK(decide(&g, 1, "2026-12-11T12:00:00Z") == REASON(OUTSIDE_HOURS));
    /* The week wraps: Sunday's night ends on Monday, Monday's is not Sunday's. */
    g.days = 64;
    g.from_minute = 23 * 60;
    g.until_minute = 60;
    CHECK(decide(&g, 1, "2026-12-13T23:30:00Z") == REASON(UNSPECIFIED)); // Sunday
    CHECK(decide(&g, 1, "2026-12-14T00:30:00Z") == REASON(UNSPECIFIED)); // Monday
    CHECK(decide(&g, 1, "2026-12-14T23:30:00Z") == REASON(OUTSIDE_HOURS));
    g.days = 1;
    CHECK(decide(&g, 1, "2026-12-07T00:30:00Z") == REASON(OUTSIDE_HOURS)); // Sunday's night
    CHECK(decide(&g, 1, "2026-12-08T00:30:00Z") == REASON(UNSPECIFIED));   // Tuesday, early
    /* The night's dates are those of the day it starts. */
    g.days = 0;
    g.from_minute = 22 * 60;
    g.until_minute = 2 * 60;
    g.valid_until = T("2026-12-11T00:00:00Z") / 86400000; // through Friday
    CHECK(decide(&g, 1, "2026-12-12T01:30:00Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-12T22:30:00Z") == REASON(EXPIRED));
    g.valid_until = -1;
    g.valid_from = T("2026-12-12T00:00:00Z") / 86400000; // from Saturday
    CHECK(decide(&g, 1, "2026-12-12T01:30:00Z") == REASON(EXPIRED));
    CHECK(decide(&g, 1, "2026-12-12T22:30:00Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-13T01:30:00Z") == REASON(UNSPECIFIED));
    /* Until 00:00 ends at midnight, as 24:00 does. */
    g.valid_from = -1;
    g.until_minute = 0;
    CHECK(decide(&g, 1, "2026-12-11T23:59:59Z") == REASON(UNSPECIFIED));
    CHECK(decide(&g, 1, "2026-12-12T00:00:00Z") == REASON(OUTSIDE_HOURS));
}

static void test_plans_and_the_nearest_miss(void)
{
    struct customers_access_grant g[3] = {G(), G(), G()};
    g[0].needs_plan = true;
    CHECK(decide(g, 1, "2026-12-07T12:00:00Z") == REASON(NO_SUBSCRIPTION));
    g[0].plan_active = true;
    CHECK(decide(g, 1, "2026-12-07T12:00:00Z") == REASON(UNSPECIFIED));
    /* Each check of a grant in turn: dates before the plan before the hours. */
    g[0].plan_active = false;
    g[0].from_minute = 0;
    g[0].until_minute = 60;
    CHECK(decide(g, 1, "2026-12-07T12:00:00Z") == REASON(NO_SUBSCRIPTION));
    g[0].valid_until = 0;
    CHECK(decide(g, 1, "2026-12-07T12:00:00Z") == REASON(EXPIRED));
    /* Of several grants, the one that came nearest names the reason. */
    g[1].valid_until = 0; // expired
    g[2].days = 64;       // Sundays only
    CHECK(decide(g, 3, "2026-12-07T12:00:00Z") == REASON(OUTSIDE_HOURS));
    g[2].needs_plan = true; // and a plan with no subscription
    CHECK(decide(g, 3, "2026-12-07T12:00:00Z") == REASON(NO_SUBSCRIPTION));
    /* Any one that holds lets the bearer in. */
    g[1] = G();
    CHECK(decide(g, 3, "2026-12-07T12:00:00Z") == REASON(UNSPECIFIED));
}

int main(void)
{
    RUN(test_values);
    RUN(test_hours_and_days);
    RUN(test_times);
    RUN(test_the_order_of_the_first_reasons);
    RUN(test_dates_through_the_last_day);
    RUN(test_weekly_hours);
    RUN(test_day_boundaries);
    RUN(test_spans_across_midnight);
    RUN(test_plans_and_the_nearest_miss);
    return 0;
}
