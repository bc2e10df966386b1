/* The API-key cache: who a key belongs to, remembered for a short while so
 * that most requests skip customers.Authenticate. Keys are kept only as a
 * BLAKE2b hash. Thread-safe. */
#ifndef GATEWAY_AUTH_H
#define GATEWAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "envelope.pb-c.h"

#define GATEWAY_AUTH_HASH 32
#define GATEWAY_AUTH_TTL_OK_MS 30000
#define GATEWAY_AUTH_TTL_BAD_MS 2000
/* A staff session is checked again sooner: another gateway copy learns of a
 * sign-out or a disabled member within this. */
#define GATEWAY_AUTH_TTL_SESSION_MS 5000
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

/* The cache key of a credential: an API key's, or a session token's
 * (cm_session_token_hash, a different keyed hash, so the two never meet). */
void gateway_auth_hash_cred(const char *cred, bool session, uint8_t out[GATEWAY_AUTH_HASH]);

/* Looks a key up at monotonic time now_ms. Returns 1 (known good, *ident
 * filled), -1 (known bad) or 0 (unknown or expired). */
int gateway_auth_lookup(gateway_auth_t *self, const uint8_t hash[GATEWAY_AUTH_HASH], int64_t now_ms,
                        struct gateway_identity *ident);

/* Remembers a key as good (ident) or bad (ident NULL) from now_ms; when full,
 * drops expired entries, then the oldest. */
void gateway_auth_store(gateway_auth_t *self, const uint8_t hash[GATEWAY_AUTH_HASH],
                        const struct gateway_identity *ident, int64_t now_ms);

/* Fills pr's id, name, role, kind and scopes from ident (borrowing its
 * strings, and names: room for CM_SCOPE_LAST). */
void gateway_auth_principal(const struct gateway_identity *ident, Crm__Principal *pr,
                            const char **names);

/* True when ident may call a route that needs every scope in scopes (cm_perm
 * bits); false with why ("this key may not read customers
 * (customers:read)") filled otherwise. */
bool gateway_auth_allows(const struct gateway_identity *ident, unsigned scopes, char *why,
                         size_t size);

/* Forgets every key of tenant whose principal id is principal_id (a key
 * just revoked through this gateway stops working at once). */
void gateway_auth_forget(gateway_auth_t *self, const char *tenant, const char *principal_id);

/* Number of entries held (expired ones included until dropped). */
size_t gateway_auth_count(gateway_auth_t *self);

#endif
