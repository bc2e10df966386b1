/* Unit tests for customers_subs_rules: dates as days, a subscription's end
 * from its period (month ends, leap years), its state on a day, and the rule
 * that picks which subscription a visit uses. */
#include "customers_subs_rules.h"
#include "../unit.h"

#include <stdint.h>

static int64_t D(const char *s)
{
    int64_t d = -1;
    CHECK(customers_subs_parse_date(s, &d) == 0);
    return d;
}

static void check_day(int64_t day, const char *want)
{
    char out[11];
    customers_subs_format_date(day, out);
    CHECK_STR(out, want);
}

static void test_parse_and_format(void)
{
    CHECK(D("1970-01-01") == 0);
    CHECK(D("2024-02-29") == D("2024-02-28") + 1);
    check_day(D("2031-12-31"), "2031-12-31");
    check_day(D("2000-02-29"), "2000-02-29");
    int64_t d;
    CHECK(customers_subs_parse_date("2025-02-29", &d) == -1); // not a leap year
    CHECK(customers_subs_parse_date("1900-02-29", &d) == -1);
    CHECK(customers_subs_parse_date("2025-13-01", &d) == -1);
    CHECK(customers_subs_parse_date("2025-1-01", &d) == -1);
    CHECK(customers_subs_parse_date("2025-01-011", &d) == -1);
    CHECK(customers_subs_parse_date("2025/01/01", &d) == -1);
    CHECK(customers_subs_parse_date("", &d) == -1);
    CHECK(customers_subs_parse_date("1969-12-31", &d) == -1);
}

static void test_add_months_keeps_the_day_or_the_month_end(void)
{
    check_day(customers_subs_add_months(D("2025-01-15"), 1), "2025-02-15");
    check_day(customers_subs_add_months(D("2025-01-31"), 1), "2025-02-28");
    check_day(customers_subs_add_months(D("2024-01-31"), 1), "2024-02-29");
    check_day(customers_subs_add_months(D("2025-03-31"), 1), "2025-04-30");
    check_day(customers_subs_add_months(D("2025-11-30"), 3), "2026-02-28");
    check_day(customers_subs_add_months(D("2024-02-29"), 12), "2025-02-28");
    check_day(customers_subs_add_months(D("2024-02-29"), 48), "2028-02-29");
    check_day(customers_subs_add_months(D("2025-12-01"), 1), "2026-01-01");
}

static void test_end_of_a_period(void)
{
    /* Days: the start day is the first. */
    check_day(customers_subs_end(D("2025-01-01"), CRM__PERIOD_UNIT__PERIOD_UNIT_DAY, 1),
              "2025-01-01");
    check_day(customers_subs_end(D("2025-01-01"), CRM__PERIOD_UNIT__PERIOD_UNIT_DAY, 30),
              "2025-01-30");
    check_day(customers_subs_end(D("2024-02-28"), CRM__PERIOD_UNIT__PERIOD_UNIT_DAY, 3),
              "2024-03-01");
    /* Months: the day before the same day, or the month's last day. */
    check_day(customers_subs_end(D("2025-01-01"), CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH, 1),
              "2025-01-31");
    check_day(customers_subs_end(D("2025-01-15"), CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH, 1),
              "2025-02-14");
    check_day(customers_subs_end(D("2025-01-31"), CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH, 1),
              "2025-02-28");
    check_day(customers_subs_end(D("2024-01-31"), CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH, 1),
              "2024-02-29");
    check_day(customers_subs_end(D("2024-01-30"), CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH, 1),
              "2024-02-29");
    check_day(customers_subs_end(D("2024-01-29"), CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH, 1),
              "2024-02-28");
    check_day(customers_subs_end(D("2025-12-31"), CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH, 2),
              "2026-02-28");
    check_day(customers_subs_end(D("2024-02-29"), CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH, 12),
              "2025-02-28");
    check_day(customers_subs_end(D("2025-03-01"), CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH, 120),
              "2035-02-28");
    /* No period. */
    CHECK(customers_subs_end(D("2025-01-01"), CRM__PERIOD_UNIT__PERIOD_UNIT_UNSPECIFIED, 3) == -1);
    CHECK(customers_subs_end(D("2025-01-01"), CRM__PERIOD_UNIT__PERIOD_UNIT_DAY, 0) == -1);
}

static void test_state(void)
{
    int64_t today = D("2025-06-10");
    struct customers_sub_facts s = {.starts_on = D("2025-06-01"),
                                    .ends_on = D("2025-06-30"),
                                    .visits_total = 10,
                                    .visits_left = 3};
    CHECK(customers_subs_state(&s, today) == CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_ACTIVE);
    CHECK(customers_subs_state(&s, D("2025-06-30")) ==
          CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_ACTIVE); // through its last day
    CHECK(customers_subs_state(&s, D("2025-07-01")) ==
          CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_EXPIRED);
    CHECK(customers_subs_state(&s, D("2025-05-31")) ==
          CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_PENDING);
    s.visits_left = 0;
    CHECK(customers_subs_state(&s, today) == CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_USED_UP);
    s.visits_total = 0; // unlimited: never used up
    CHECK(customers_subs_state(&s, today) == CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_ACTIVE);
    s.ends_on = -1; // no expiry
    CHECK(customers_subs_state(&s, D("2099-01-01")) ==
          CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_ACTIVE);
    s.cancelled = 1;
    CHECK(customers_subs_state(&s, today) == CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_CANCELLED);
}

static void test_pick_the_one_ending_soonest(void)
{
    int64_t today = D("2025-06-10");
    struct customers_sub_facts subs[] = {
        {.starts_on = D("2025-06-01"),
         .ends_on = -1,
         .visits_total = 5,
         .visits_left = 5,
         .seq = 1},
        {.starts_on = D("2025-06-01"), .ends_on = D("2025-07-31"), .visits_total = 0, .seq = 2},
        {.starts_on = D("2025-06-01"),
         .ends_on = D("2025-07-31"),
         .visits_total = 8,
         .visits_left = 2,
         .seq = 3},
        {.starts_on = D("2025-06-01"),
         .ends_on = D("2025-06-20"),
         .visits_total = 4,
         .visits_left = 0,
         .seq = 4}, // used up
        {.starts_on = D("2025-06-01"),
         .ends_on = D("2025-06-09"),
         .visits_total = 4,
         .visits_left = 4,
         .seq = 5}, // expired
        {.starts_on = D("2025-06-11"),
         .ends_on = D("2025-06-12"),
         .visits_total = 4,
         .visits_left = 4,
         .seq = 6}, // starts tomorrow
        {.starts_on = D("2025-06-01"),
         .ends_on = D("2025-06-15"),
         .visits_total = 4,
         .visits_left = 4,
         .cancelled = 1,
         .seq = 7},
    };
    size_t n = sizeof subs / sizeof *subs;
    /* Ending alike on 31 July: counted visits before unlimited. */
    CHECK(customers_subs_pick(subs, n, today) == 2);
    subs[2].visits_left = 0;
    CHECK(customers_subs_pick(subs, n, today) == 1);
    subs[1].ends_on = D("2025-06-09");
    CHECK(customers_subs_pick(subs, n, today) == 0); // no expiry: last, but the only one left
    subs[0].visits_left = 0;
    CHECK(customers_subs_pick(subs, n, today) == -1);
    CHECK(customers_subs_pick(subs, 0, today) == -1);
    /* Same end, both counted: the one sold first. */
    struct customers_sub_facts two[] = {
        {.starts_on = 0, .ends_on = D("2025-08-01"), .visits_total = 3, .visits_left = 1, .seq = 9},
        {.starts_on = 0, .ends_on = D("2025-08-01"), .visits_total = 3, .visits_left = 3, .seq = 4},
    };
    CHECK(customers_subs_pick(two, 2, today) == 1);
}

int main(void)
{
    RUN(test_parse_and_format);
    RUN(test_add_months_keeps_the_day_or_the_month_end);
    RUN(test_end_of_a_period);
    RUN(test_state);
    RUN(test_pick_the_one_ending_soonest);
    return 0;
}
