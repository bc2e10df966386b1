/* The API-key cache: hits, misses, TTLs for good and bad keys, the bound. */
#include "gateway_auth.h"
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

int main(void)
{
    RUN(test_good_and_bad_keys_expire);
    RUN(test_cache_is_bounded);
    return 0;
}
