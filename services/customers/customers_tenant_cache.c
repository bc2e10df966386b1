/* The tenants' settings this copy read last (customers_tenant_cache.h). */
#include "customers_tenant_cache.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define TENANT_SIZE 64

struct s_slot {
    char tenant[TENANT_SIZE]; // "" for a free slot
    struct customers_tenant settings;
};

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static struct s_slot s_slots[CUSTOMERS_TENANT_CACHE_SLOTS];

static struct s_slot *s_slot_of(const char *tenant)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = tenant; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return &s_slots[h % CUSTOMERS_TENANT_CACHE_SLOTS];
}

bool customers_tenant_cache_get(const char *tenant, int64_t now_ms, struct customers_tenant *out)
{
    bool found = false;
    pthread_mutex_lock(&s_mu);
    const struct s_slot *s = s_slot_of(tenant);
    if (!strcmp(s->tenant, tenant) && now_ms < s->settings.today_ends_ms) {
        customers_tenant_copy(out, &s->settings);
        found = true;
    }
    pthread_mutex_unlock(&s_mu);
    return found;
}

void customers_tenant_cache_put(const char *tenant, const struct customers_tenant *t)
{
    if (strlen(tenant) >= TENANT_SIZE)
        return;
    pthread_mutex_lock(&s_mu);
    struct s_slot *s = s_slot_of(tenant);
    if (s->tenant[0])
        customers_tenant_release(&s->settings);
    snprintf(s->tenant, sizeof s->tenant, "%s", tenant);
    customers_tenant_copy(&s->settings, t);
    pthread_mutex_unlock(&s_mu);
}

void customers_tenant_cache_forget(const char *tenant)
{
    pthread_mutex_lock(&s_mu);
    struct s_slot *s = s_slot_of(tenant);
    if (!strcmp(s->tenant, tenant)) {
        customers_tenant_release(&s->settings);
        s->tenant[0] = '\0';
    }
    pthread_mutex_unlock(&s_mu);
}
