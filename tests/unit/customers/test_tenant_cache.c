/* The settings a copy keeps per tenant: what is kept comes back whole, a
 * copy the caller may release; it lapses when the business's day it was
 * read on ends; forgetting one tenant leaves the others. */
#include "customers_tenant_cache.h"
#include "cm_util.h"
#include "../unit.h"

#include <stdio.h>
#include <string.h>

static void s_settings(struct customers_tenant *t, const char *name, int64_t ends_ms)
{
    memset(t, 0, sizeof *t);
    snprintf(t->default_country, sizeof t->default_country, "BG");
    t->n_required = 2;
    t->required_fields = cm_calloc(2, sizeof *t->required_fields);
    t->required_fields[0] = cm_strdup("gender");
    t->required_fields[1] = cm_strdup("phone");
    t->name = cm_strdup(name);
    t->vat_number = cm_strdup("BG123456789");
    snprintf(t->time_zone, sizeof t->time_zone, "Europe/Sofia");
    t->today = 20000;
    t->today_ends_ms = ends_ms;
    snprintf(t->version, sizeof t->version, "7421");
}

static void test_kept_settings_come_back_whole(void)
{
    struct customers_tenant t, got;
    s_settings(&t, "Studio A", 1000);
    customers_tenant_cache_put("tenant-a", &t);
    customers_tenant_release(&t); /* the cache holds its own copy */
    CHECK(customers_tenant_cache_get("tenant-a", 999, &got));
    CHECK(!strcmp(got.name, "Studio A") && !strcmp(got.vat_number, "BG123456789"));
    CHECK(got.n_required == 2 && !strcmp(got.required_fields[1], "phone"));
    CHECK(!strcmp(got.default_country, "BG") && !strcmp(got.time_zone, "Europe/Sofia"));
    CHECK(got.today == 20000 && !strcmp(got.version, "7421"));
    customers_tenant_release(&got);
    /* Released, the copy given out leaves the kept one as it was. */
    CHECK(customers_tenant_cache_get("tenant-a", 0, &got));
    CHECK(!strcmp(got.name, "Studio A"));
    customers_tenant_release(&got);
    customers_tenant_cache_forget("tenant-a");
}

static void test_settings_lapse_when_their_day_ends(void)
{
    struct customers_tenant t, got;
    s_settings(&t, "Night owl", 5000);
    customers_tenant_cache_put("tenant-b", &t);
    customers_tenant_release(&t);
    CHECK(customers_tenant_cache_get("tenant-b", 4999, &got));
    customers_tenant_release(&got);
    CHECK(!customers_tenant_cache_get("tenant-b", 5000, &got));
    CHECK(!customers_tenant_cache_get("tenant-b", 9000, &got));
    customers_tenant_cache_forget("tenant-b");
}

static void test_forgetting_one_leaves_the_others(void)
{
    struct customers_tenant t, got;
    s_settings(&t, "One", 1000);
    customers_tenant_cache_put("tenant-c", &t);
    customers_tenant_release(&t);
    s_settings(&t, "Two", 1000);
    customers_tenant_cache_put("tenant-d", &t);
    customers_tenant_release(&t);
    customers_tenant_cache_forget("tenant-c");
    customers_tenant_cache_forget("tenant-unknown"); /* nothing kept: nothing to do */
    CHECK(!customers_tenant_cache_get("tenant-c", 0, &got));
    CHECK(customers_tenant_cache_get("tenant-d", 0, &got));
    CHECK(!strcmp(got.name, "Two"));
    customers_tenant_release(&got);
    customers_tenant_cache_forget("tenant-d");
}

static void test_a_newer_read_replaces_the_kept_one(void)
{
    struct customers_tenant t, got;
    s_settings(&t, "Before", 1000);
    customers_tenant_cache_put("tenant-e", &t);
    customers_tenant_release(&t);
    s_settings(&t, "After", 1000);
    snprintf(t.version, sizeof t.version, "7500");
    customers_tenant_cache_put("tenant-e", &t);
    customers_tenant_release(&t);
    CHECK(customers_tenant_cache_get("tenant-e", 0, &got));
    CHECK(!strcmp(got.name, "After") && !strcmp(got.version, "7500"));
    customers_tenant_release(&got);
    /* Many tenants share the slots; each one gets back its own or nothing. */
    char id[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "tenant-%d", i);
        s_settings(&t, id, 1000);
        customers_tenant_cache_put(id, &t);
        customers_tenant_release(&t);
    }
    int kept = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "tenant-%d", i);
        if (customers_tenant_cache_get(id, 0, &got)) {
            kept++;
            CHECK(!strcmp(got.name, id));
            customers_tenant_release(&got);
        }
        customers_tenant_cache_forget(id);
    }
    CHECK(kept > 0 && kept <= CUSTOMERS_TENANT_CACHE_SLOTS);
}

int main(void)
{
    RUN(test_kept_settings_come_back_whole);
    RUN(test_settings_lapse_when_their_day_ends);
    RUN(test_forgetting_one_leaves_the_others);
    RUN(test_a_newer_read_replaces_the_kept_one);
    return 0;
}
