/* Unit tests for exchange_zone: offsets of a zone's table, wall-clock times
 * to instants (the clock's gaps and repeats), and the workbook's local times
 * and serial dates read back in a zone. */
#include "exchange_zone.h"
#include "exchange_xlsx.h"
#include "exchange_xlsx_read.h"
#include "cm_util.h"
#include "../unit.h"

#include <string.h>

/* America/Los_Angeles around 2024, as PostgreSQL gives it: PDT (-7 h) from
 * 2024-03-10T10:00Z, PST (-8 h) from 2024-11-03T09:00Z. */
static void s_los_angeles(struct exchange_zone *z)
{
    exchange_zone_init_utc(z);
    snprintf(z->name, sizeof z->name, "America/Los_Angeles");
    z->off[0] = -28800;
    exchange_zone_add(z, 1710064800, -25200);
    exchange_zone_add(z, 1730624400, -28800);
}

static int64_t s_at(int y, int mo, int d, int h, int mi)
{
    return cm_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static void test_days_and_civil(void)
{
    CHECK(cm_days_from_civil(1970, 1, 1) == 0);
    CHECK(cm_days_from_civil(2000, 3, 1) == 11017);
    CHECK(cm_days_from_civil(1900, 1, 1) == -25567);
    int y, m, d;
    cm_civil_from_days(19783, &y, &m, &d);
    CHECK(y == 2024 && m == 3 && d == 1);
    cm_civil_from_days(-1, &y, &m, &d);
    CHECK(y == 1969 && m == 12 && d == 31);
    int t[6];
    exchange_zone_split(-1, t);
    CHECK(t[0] == 1969 && t[1] == 12 && t[2] == 31 && t[3] == 23 && t[4] == 59 && t[5] == 59);
}

static void test_offsets(void)
{
    struct exchange_zone z;
    s_los_angeles(&z);
    CHECK(exchange_zone_offset(&z, s_at(2024, 1, 15, 12, 0)) == -28800);
    CHECK(exchange_zone_offset(&z, 1710064800 - 1) == -28800);
    CHECK(exchange_zone_offset(&z, 1710064800) == -25200);
    CHECK(exchange_zone_offset(&z, s_at(2024, 7, 1, 0, 0)) == -25200);
    CHECK(exchange_zone_offset(&z, s_at(2025, 1, 1, 0, 0)) == -28800);
    exchange_zone_release(&z);
    exchange_zone_release(&z); /* safe twice */
    struct exchange_zone utc;
    exchange_zone_init_utc(&utc);
    CHECK(!strcmp(utc.name, "UTC") && exchange_zone_offset(&utc, 0) == 0);
    CHECK(exchange_zone_to_utc(&utc, 12345) == 12345);
    exchange_zone_release(&utc);
}

static void test_wall_clock_to_instant(void)
{
    struct exchange_zone z;
    s_los_angeles(&z);
    /* An ordinary summer morning: 09:00 PDT is 16:00Z. */
    CHECK(exchange_zone_to_utc(&z, s_at(2024, 7, 1, 9, 0)) == s_at(2024, 7, 1, 16, 0));
    /* 02:30 does not exist on 10 March: read with PST, it is 10:30Z (03:30 PDT). */
    CHECK(exchange_zone_to_utc(&z, s_at(2024, 3, 10, 2, 30)) == s_at(2024, 3, 10, 10, 30));
    /* 01:30 happens twice on 3 November: the first, PDT, 08:30Z. */
    CHECK(exchange_zone_to_utc(&z, s_at(2024, 11, 3, 1, 30)) == s_at(2024, 11, 3, 8, 30));
    /* Just after the repeat: 02:00 PST. */
    CHECK(exchange_zone_to_utc(&z, s_at(2024, 11, 3, 2, 0)) == s_at(2024, 11, 3, 10, 0));
    exchange_zone_release(&z);
}

/* Pacific/Kiritimati: UTC+14 since 1995 (its date is a day ahead of UTC's). */
static void test_workbook_times_round_trip(void)
{
    struct exchange_zone z;
    exchange_zone_init_utc(&z);
    z.off[0] = -36000;
    exchange_zone_add(&z, 788868000, 50400);
    int t[6];
    CHECK(!exchange_xlsx_parse_time("2026-12-06T22:15:30.250Z", true, t));
    exchange_xlsx_to_local(&z, t);
    CHECK(t[0] == 2026 && t[1] == 12 && t[2] == 7 && t[3] == 12 && t[4] == 15 && t[5] == 30);
    /* The serial Excel keeps for 2026-12-07 12:15:30.250 reads back as the instant. */
    double serial =
        (double)(cm_days_from_civil(2026, 12, 7) + 25569) + (12 * 3600 + 15 * 60 + 30.25) / 86400.0;
    char out[40];
    CHECK(!exchange_xlsx_read_serial_date(serial, 0, 1, &z, out, sizeof out));
    CHECK(!strcmp(out, "2026-12-06T22:15:30.250Z"));
    CHECK(!exchange_xlsx_read_serial_date(serial, 0, 1, NULL, out, sizeof out));
    CHECK(!strcmp(out, "2026-12-07T12:15:30.250Z"));
    /* A date alone has no zone. */
    CHECK(!exchange_xlsx_read_serial_date(46363, 0, 0, &z, out, sizeof out));
    CHECK(!strcmp(out, "2026-12-07"));
    exchange_zone_release(&z);
}

int main(void)
{
    RUN(test_days_and_civil);
    RUN(test_offsets);
    RUN(test_wall_clock_to_instant);
    RUN(test_workbook_times_round_trip);
    return 0;
}
