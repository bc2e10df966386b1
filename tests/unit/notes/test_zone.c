/* Unit tests for notes_zone: the per-tenant cache of the business's time
 * zone in front of customers.GetSettings (asked through a stand-in). */
#include "notes_zone.h"
#include "../unit.h"

#include <stdio.h>
#include <string.h>

#define T1 "11111111-1111-4111-8111-111111111111"
#define T2 "22222222-2222-4222-8222-222222222222"

/* A stand-in for customers: answers with zone, or fails when it is NULL. */
struct s_owner {
    const char *zone;
    int asked;
};

static bool s_ask(void *ctx, const char *tenant, char zone[NOTES_ZONE_SIZE])
{
    struct s_owner *o = ctx;
    (void)tenant;
    o->asked++;
    if (!o->zone)
        return false;
    snprintf(zone, NOTES_ZONE_SIZE, "%s", o->zone);
    return true;
}

static void test_asks_once_then_keeps(void)
{
    notes_zone_forget();
    struct s_owner o = {"Pacific/Kiritimati", 0};
    char zone[NOTES_ZONE_SIZE];
    notes_zone_get(T1, 1000, s_ask, &o, zone);
    CHECK_STR(zone, "Pacific/Kiritimati");
    notes_zone_get(T1, 1000 + NOTES_ZONE_TTL_MS - 1, s_ask, &o, zone);
    CHECK(o.asked == 1);
    /* Another tenant is asked for on its own. */
    o.zone = "Pacific/Pago_Pago";
    notes_zone_get(T2, 2000, s_ask, &o, zone);
    CHECK_STR(zone, "Pacific/Pago_Pago");
    CHECK(o.asked == 2);
}

static void test_asks_again_after_the_ttl(void)
{
    notes_zone_forget();
    struct s_owner o = {"UTC", 0};
    char zone[NOTES_ZONE_SIZE];
    notes_zone_get(T1, 0, s_ask, &o, zone);
    o.zone = "Europe/Sofia"; /* the business changed its zone */
    notes_zone_get(T1, NOTES_ZONE_TTL_MS, s_ask, &o, zone);
    CHECK_STR(zone, "Europe/Sofia");
    CHECK(o.asked == 2);
}

static void test_no_answer_keeps_the_last_or_utc(void)
{
    notes_zone_forget();
    struct s_owner o = {NULL, 0};
    char zone[NOTES_ZONE_SIZE];
    notes_zone_get(T1, 0, s_ask, &o, zone);
    CHECK_STR(zone, "UTC"); /* never known */
    o.zone = "Pacific/Kiritimati";
    notes_zone_get(T1, 10, s_ask, &o, zone);
    CHECK_STR(zone, "Pacific/Kiritimati"); /* a failure is not kept */
    o.zone = NULL;
    notes_zone_get(T1, 10 + NOTES_ZONE_TTL_MS, s_ask, &o, zone);
    CHECK_STR(zone, "Pacific/Kiritimati"); /* stale beats UTC */
    /* An empty answer is no answer. */
    o.zone = "";
    notes_zone_get(T2, 0, s_ask, &o, zone);
    CHECK_STR(zone, "UTC");
}

static void test_full_cache_drops_the_oldest(void)
{
    notes_zone_forget();
    struct s_owner o = {"Europe/Oslo", 0};
    char zone[NOTES_ZONE_SIZE], tenant[40];
    for (int i = 0; i <= NOTES_ZONE_TENANTS; i++) {
        snprintf(tenant, sizeof tenant, "t-%d", i);
        notes_zone_get(tenant, 100 + i, s_ask, &o, zone);
    }
    CHECK(o.asked == NOTES_ZONE_TENANTS + 1);
    notes_zone_get("t-1", 200, s_ask, &o, zone); /* still kept */
    CHECK(o.asked == NOTES_ZONE_TENANTS + 1);
    notes_zone_get("t-0", 200, s_ask, &o, zone); /* the oldest went */
    CHECK(o.asked == NOTES_ZONE_TENANTS + 2);
}

static void test_a_settings_event_replaces_the_kept_zone(void)
{
    notes_zone_forget();
    struct s_owner o = {"UTC", 0};
    char zone[NOTES_ZONE_SIZE];
    notes_zone_get(T1, 1000, s_ask, &o, zone);
    /* The zone changed: well inside the TTL, the next use asks again. */
    o.zone = "Pacific/Kiritimati";
    notes_zone_changed(T1, "Pacific/Kiritimati");
    notes_zone_get(T1, 1001, s_ask, &o, zone);
    CHECK_STR(zone, "Pacific/Kiritimati");
    CHECK(o.asked == 2);
    notes_zone_get(T1, 1002, s_ask, &o, zone); /* and keeps that answer */
    CHECK(o.asked == 2);
    /* An old event replayed: the owner's answer wins on the next use. */
    notes_zone_changed(T1, "UTC");
    notes_zone_get(T1, 1003, s_ask, &o, zone);
    CHECK_STR(zone, "Pacific/Kiritimati");
    /* Customers not answering: the event's zone stands in, not UTC. */
    notes_zone_changed(T2, "Pacific/Pago_Pago");
    o.zone = NULL;
    notes_zone_get(T2, 1004, s_ask, &o, zone);
    CHECK_STR(zone, "Pacific/Pago_Pago");
    /* Another tenant's event leaves T1's answer alone; a bad one is ignored. */
    o.zone = "Europe/Oslo";
    notes_zone_changed(T1, "");
    char toolong[NOTES_ZONE_SIZE + 1];
    memset(toolong, 'x', sizeof toolong - 1);
    toolong[sizeof toolong - 1] = '\0';
    notes_zone_changed(T1, toolong);
    int asked = o.asked;
    notes_zone_get(T1, 1005, s_ask, &o, zone);
    CHECK_STR(zone, "Pacific/Kiritimati");
    CHECK(o.asked == asked);
}

int main(void)
{
    RUN(test_asks_once_then_keeps);
    RUN(test_asks_again_after_the_ttl);
    RUN(test_no_answer_keeps_the_last_or_utc);
    RUN(test_full_cache_drops_the_oldest);
    RUN(test_a_settings_event_replaces_the_kept_zone);
    return 0;
}
