/* The API-key cache: hits, misses, TTLs for good and bad keys, the bound, a
 * revoked key forgotten, and a key's scopes against a route's. */
#include "gateway_auth.h"
#include "cm_perm.h"
#include "../unit.h"

#include <stdint.h>

static void test_good_and_bad_keys_expire(void)
{
    gateway_auth_t *a = gateway_auth_new(100, 30000, 2000);
    uint8_t good[GATEWAY_AUTH_HASH], bad[GATEWAY_AUTH_HASH], other[GATEWAY_AUTH_HASH];
    gateway_auth_hash("key-good", good);
    gateway_auth_hash("key-bad", bad);
    gateway_auth_hash("key-other", other);
    CHECK(memcmp(good, bad, sizeof good) != 0);

    struct gateway_identity id = {0}, got = {0};
    snprintf(id.tenant_id, sizeof id.tenant_id, "t-1");
    snprintf(id.principal_id, sizeof id.principal_id, "k-1");
    snprintf(id.principal_name, sizeof id.principal_name, "booking system");
    id.role = 4;
    CHECK(gateway_auth_lookup(a, good, 1000, &got) == 0);
    gateway_auth_store(a, good, &id, 1000);
    gateway_auth_store(a, bad, NULL, 1000);
    CHECK(gateway_auth_count(a) == 2);

    CHECK(gateway_auth_lookup(a, good, 1000 + 29999, &got) == 1);
    CHECK_STR(got.tenant_id, "t-1");
    CHECK_STR(got.principal_name, "booking system");
    CHECK(got.role == 4);
    CHECK(gateway_auth_lookup(a, bad, 1000 + 1999, &got) == -1);
    CHECK(gateway_auth_lookup(a, other, 1000, &got) == 0);

    /* A bad key is forgotten after 2 s, a good one after 30 s. */
    CHECK(gateway_auth_lookup(a, bad, 1000 + 2000, &got) == 0);
    CHECK(gateway_auth_count(a) == 1);
    CHECK(gateway_auth_lookup(a, good, 1000 + 30000, &got) == 0);
    CHECK(gateway_auth_count(a) == 0);

    /* A staff session is checked again after 5 s. */
    struct gateway_identity staff = id;
    staff.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_STAFF;
    gateway_auth_store(a, other, &staff, 1000);
    CHECK(gateway_auth_lookup(a, other, 1000 + 4999, &got) == 1);
    CHECK(gateway_auth_lookup(a, other, 1000 + 5000, &got) == 0);

    /* A key that turned bad replaces its good entry. */
    gateway_auth_store(a, good, &id, 5000);
    gateway_auth_store(a, good, NULL, 5001);
    CHECK(gateway_auth_count(a) == 1);
    CHECK(gateway_auth_lookup(a, good, 5002, &got) == -1);
    gateway_auth_destroy(&a);
    CHECK(a == NULL);
    gateway_auth_destroy(&a);
}

static void test_cache_is_bounded(void)
{
    gateway_auth_t *a = gateway_auth_new(50, 30000, 2000);
    struct gateway_identity id = {0};
    snprintf(id.tenant_id, sizeof id.tenant_id, "t");
    uint8_t h[GATEWAY_AUTH_HASH], first[GATEWAY_AUTH_HASH], last[GATEWAY_AUTH_HASH];
    for (int i = 0; i < 500; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%d", i);
        gateway_auth_hash(key, h);
        if (i == 0)
            memcpy(first, h, sizeof h);
        memcpy(last, h, sizeof h);
        gateway_auth_store(a, h, &id, 1000 + i);
        CHECK(gateway_auth_count(a) <= 50);
    }
    CHECK(gateway_auth_count(a) == 50);
    struct gateway_identity got;
    /* The oldest went first; the newest stays. */
    CHECK(gateway_auth_lookup(a, first, 2000, &got) == 0);
    CHECK(gateway_auth_lookup(a, last, 2000, &got) == 1);
    gateway_auth_destroy(&a);
}

static void s_ident(struct gateway_identity *id, const char *tenant, const char *key)
{
    memset(id, 0, sizeof *id);
    snprintf(id->tenant_id, sizeof id->tenant_id, "%s", tenant);
    snprintf(id->principal_id, sizeof id->principal_id, "%s", key);
    id->role = CRM__ROLE__ROLE_SERVICE;
    id->kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_API_KEY;
}

static void test_a_revoked_key_is_forgotten_in_its_tenant_only(void)
{
    gateway_auth_t *a = gateway_auth_new(100, 30000, 2000);
    uint8_t h1[GATEWAY_AUTH_HASH], h2[GATEWAY_AUTH_HASH], h3[GATEWAY_AUTH_HASH];
    gateway_auth_hash("one", h1);
    gateway_auth_hash("two", h2);
    gateway_auth_hash("three", h3);
    struct gateway_identity id, got;
    s_ident(&id, "t-1", "key_a");
    gateway_auth_store(a, h1, &id, 0);
    s_ident(&id, "t-2", "key_a"); /* the same id in another tenant */
    gateway_auth_store(a, h2, &id, 0);
    s_ident(&id, "t-1", "key_b");
    gateway_auth_store(a, h3, &id, 0);
    gateway_auth_forget(a, "t-1", "key_a");
    CHECK(gateway_auth_lookup(a, h1, 1, &got) == 0);
    CHECK(gateway_auth_lookup(a, h2, 1, &got) == 1);
    CHECK(gateway_auth_lookup(a, h3, 1, &got) == 1);
    CHECK(gateway_auth_count(a) == 2);
    gateway_auth_forget(a, "t-9", "key_b");
    CHECK(gateway_auth_count(a) == 2);
    gateway_auth_destroy(&a);
}

static void test_scopes_against_a_route(void)
{
    struct gateway_identity id;
    char why[160];
    unsigned read = 1u << CM_SCOPE_CUSTOMERS_READ, write = 1u << CM_SCOPE_CUSTOMERS_WRITE;
    s_ident(&id, "t", "k");
    id.scoped = true;
    id.scopes = read;
    CHECK(gateway_auth_allows(&id, read, why, sizeof why));
    CHECK(!gateway_auth_allows(&id, read | write, why, sizeof why));
    CHECK_STR(why, "this key may not change customers (customers:write)");
    /* Scopes this gateway does not know: the key may do nothing. */
    id.scopes = 0;
    CHECK(!gateway_auth_allows(&id, read, why, sizeof why));
    Crm__Principal pr = CRM__PRINCIPAL__INIT;
    const char *names[CM_SCOPE_LAST];
    gateway_auth_principal(&id, &pr, names);
    CHECK(pr.n_scopes == 1 && !strcmp(pr.scopes[0], "none"));
    /* A key without scopes: its role decides. */
    id.scoped = false;
    id.role = CRM__ROLE__ROLE_READONLY;
    CHECK(gateway_auth_allows(&id, read, why, sizeof why));
    CHECK(!gateway_auth_allows(&id, write, why, sizeof why));
    gateway_auth_principal(&id, &pr, names);
    CHECK(pr.n_scopes == 0 && pr.role == CRM__ROLE__ROLE_READONLY &&
          pr.kind == CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_API_KEY);
    /* A route without scopes (none named) is not refused here. */
    CHECK(gateway_auth_allows(&id, 0, why, sizeof why));
    /* One any valid key may use, a key of no scope at all included. */
    unsigned any = 1u << CM_SCOPE_AUTHENTICATED;
    CHECK(gateway_auth_allows(&id, any, why, sizeof why));
    id.scoped = true;
    id.scopes = 1u << CM_SCOPE_ACCESS_CHECK;
    CHECK(!gateway_auth_allows(&id, read, why, sizeof why));
    CHECK(gateway_auth_allows(&id, any, why, sizeof why));
}

int main(void)
{
    RUN(test_good_and_bad_keys_expire);
    RUN(test_cache_is_bounded);
    RUN(test_a_revoked_key_is_forgotten_in_its_tenant_only);
    RUN(test_scopes_against_a_route);
    return 0;
}
