/* The API-key cache: who a key belongs to, remembered for a short while so
 * that most requests skip customers.Authenticate. Keys are kept only as a
 * BLAKE2b hash. Thread-safe. */
#ifndef GATEWAY_AUTH_H
#define GATEWAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GATEWAY_AUTH_HASH 32
#define GATEWAY_AUTH_TTL_OK_MS 30000
#define GATEWAY_AUTH_TTL_BAD_MS 2000
#define GATEWAY_AUTH_MAX_ENTRIES 10000

/* Tenant and principal of an authenticated key. */
struct gateway_identity {
    char tenant_id[128];
    char principal_id[128];
    char principal_name[256];
    int role; // crm.Role
    int kind; // crm.PrincipalKind
    /* The key's scopes as cm_perm bits (cm_scopes_mask); with scoped set and
     * no bit (scopes this gateway does not know), the key may do nothing. */
    unsigned scopes;
    bool scoped;
};

typedef struct gateway_auth gateway_auth_t;

/* A cache of at most max_entries keys; good ones live ttl_ok_ms, bad ones ttl_bad_ms. */
gateway_auth_t *gateway_auth_new(size_t max_entries, int64_t ttl_ok_ms, int64_t ttl_bad_ms);
void gateway_auth_destroy(gateway_auth_t **self_p);

/* The cache key of an API key. */
void gateway_auth_hash(const char *api_key, uint8_t out[GATEWAY_AUTH_HASH]);

/* Looks a key up at monotonic time now_ms. Returns 1 (known good, *ident
 * filled), -1 (known bad) or 0 (unknown or expired). */
int gateway_auth_lookup(gateway_auth_t *self, const uint8_t hash[GATEWAY_AUTH_HASH], int64_t now_ms,
                        struct gateway_identity *ident);

/* Remembers a key as good (ident) or bad (ident NULL) from now_ms; when full,
 * drops expired entries, then the oldest. */
void gateway_auth_store(gateway_auth_t *self, const uint8_t hash[GATEWAY_AUTH_HASH],
                        const struct gateway_identity *ident, int64_t now_ms);

/* Forgets every key of tenant whose principal id is principal_id (a key
 * just revoked through this gateway stops working at once). */
void gateway_auth_forget(gateway_auth_t *self, const char *tenant, const char *principal_id);

/* Number of entries held (expired ones included until dropped). */
size_t gateway_auth_count(gateway_auth_t *self);

#endif
