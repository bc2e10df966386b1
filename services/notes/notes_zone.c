/* The business's time zone per tenant: a small cache in front of
 * customers.GetSettings (notes_zone.h). */
#include "notes_zone.h"
#include "cm_log.h"
#include "cm_svc.h"
#include "cm_util.h"
#include "customers.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define TENANT_SIZE 64

struct s_entry {
    char tenant[TENANT_SIZE]; // "" for a free slot
    char zone[NOTES_ZONE_SIZE];
    int64_t at_ms; // when the answer came (monotonic)
};

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static struct s_entry s_kept[NOTES_ZONE_TENANTS];

/* The slot of tenant, or NULL. Called with s_mu held. */
static struct s_entry *s_find(const char *tenant)
{
    for (size_t i = 0; i < NOTES_ZONE_TENANTS && s_kept[i].tenant[0]; i++)
        if (!strcmp(s_kept[i].tenant, tenant))
            return &s_kept[i];
    return NULL;
}

/* Keeps an answer: the tenant's slot, a free one, or the oldest. Called
 * with s_mu held. */
static void s_keep_locked(const char *tenant, const char *zone, int64_t at_ms)
{
    struct s_entry *e = s_find(tenant);
    for (size_t i = 0; !e && i < NOTES_ZONE_TENANTS; i++) {
        if (!s_kept[i].tenant[0])
            e = &s_kept[i];
    }
    if (!e) {
        e = &s_kept[0];
        for (size_t i = 1; i < NOTES_ZONE_TENANTS; i++)
            if (s_kept[i].at_ms < e->at_ms)
                e = &s_kept[i];
    }
    snprintf(e->tenant, sizeof e->tenant, "%s", tenant);
    snprintf(e->zone, sizeof e->zone, "%s", zone);
    e->at_ms = at_ms;
}

static void s_keep(const char *tenant, const char *zone, int64_t now_ms)
{
    pthread_mutex_lock(&s_mu);
    s_keep_locked(tenant, zone, now_ms);
    pthread_mutex_unlock(&s_mu);
}

void notes_zone_get(const char *tenant, int64_t now_ms, notes_zone_ask_fn ask, void *ctx,
                    char zone[NOTES_ZONE_SIZE])
{
    bool fresh = false, known = false;
    pthread_mutex_lock(&s_mu);
    const struct s_entry *e = s_find(tenant);
    if (e) {
        known = true;
        fresh = now_ms - e->at_ms < NOTES_ZONE_TTL_MS;
        memcpy(zone, e->zone, NOTES_ZONE_SIZE);
    }
    pthread_mutex_unlock(&s_mu);
    if (fresh)
        return;
    char asked[NOTES_ZONE_SIZE];
    if (ask(ctx, tenant, asked) && asked[0]) {
        memcpy(zone, asked, NOTES_ZONE_SIZE);
        s_keep(tenant, zone, now_ms);
        return;
    }
    if (!known) {
        cm_log_warn("the business's time zone is not known yet; using UTC");
        snprintf(zone, NOTES_ZONE_SIZE, "UTC");
    }
}

void notes_zone_changed(const char *tenant, const char *zone)
{
    if (!tenant[0] || !zone[0] || strlen(zone) >= NOTES_ZONE_SIZE)
        return;
    /* Kept as answered long ago: the fallback when customers does not
     * answer, and asked again on the next use. */
    pthread_mutex_lock(&s_mu);
    s_keep_locked(tenant, zone, INT64_MIN / 2);
    pthread_mutex_unlock(&s_mu);
}

void notes_zone_forget(void)
{
    pthread_mutex_lock(&s_mu);
    memset(s_kept, 0, sizeof s_kept);
    pthread_mutex_unlock(&s_mu);
}

/* customers.GetSettings as notes, for the call's tenant. */
static bool s_ask_call(void *ctx, const char *tenant, char zone[NOTES_ZONE_SIZE])
{
    static const Crm__Principal self = {
        PROTOBUF_C_MESSAGE_INIT(&crm__principal__descriptor), .id = "notes", .name = "notes",
        .role = CRM__ROLE__ROLE_SERVICE, .kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE};
    ProtobufCMessage *s = cm_call_settings(ctx, tenant, &self, NOTES_ZONE_ASK_MS);
    if (s)
        snprintf(zone, NOTES_ZONE_SIZE, "%s", ((const Crm__Settings *)s)->time_zone);
    if (s)
        protobuf_c_message_free_unpacked(s, NULL);
    return s != NULL;
}

void notes_zone_of_call(struct cm_call *call, char zone[NOTES_ZONE_SIZE])
{
    notes_zone_get(call->hdr->tenant_id, cm_mono_ms(), s_ask_call, call, zone);
}
