/* Every SQL statement of a tenant's API keys (customers_keys.c), and the
 * last-use mark of customers.Authenticate. */
#ifndef CUSTOMERS_KEYS_STORE_H
#define CUSTOMERS_KEYS_STORE_H

#include "cm_db.h"
#include "customers.pb-c.h"

#include <stdint.h>

/* At most this many keys a tenant holds that are not revoked. */
#define CUSTOMERS_KEYS_MAX_ACTIVE 200
/* At most this many keys a list answers (revoked ones included, newest first). */
#define CUSTOMERS_KEYS_MAX_LISTED 1000

/* A key's scopes from their JSON array text (array_to_json(scopes)) into a
 * message's repeated string (malloc'd, freed with the message). */
void customers_keys_store_scopes(const char *json, char ***scopes, size_t *n_scopes);

/* Fills resp->api_keys. */
cm_err_t customers_keys_store_list(cm_db_t *db, const char *tenant,
                                   Crm__ListApiKeysResponse *resp) CM_MUSTCHECK;

/* How many keys of the tenant are not revoked, into *n. */
cm_err_t customers_keys_store_count_active(cm_db_t *db, const char *tenant, long *n) CM_MUSTCHECK;

/* Stores a key made now (role SERVICE, the hash of its secret) and fills
 * *out (dynamic, caller frees) as it was stored. */
cm_err_t customers_keys_store_insert(cm_db_t *db, const char *tenant, const char *id,
                                     const char *name, const uint8_t *hash, size_t hash_len,
                                     char *const *scopes, size_t n_scopes, const char *created_by,
                                     Crm__ApiKey **out) CM_MUSTCHECK;

/* Revokes the tenant's key id if it still works; *out (dynamic, caller
 * frees) is the key revoked, or NULL when there was none. */
cm_err_t customers_keys_store_revoke(cm_db_t *db, const char *tenant, const char *id,
                                     Crm__ApiKey **out) CM_MUSTCHECK;

/* Marks the key used now, unless it was marked less than a minute ago
 * (nothing is written then). */
cm_err_t customers_keys_store_touch(cm_db_t *db, const char *id) CM_MUSTCHECK;

/* Records a key made or revoked (action "api_key.created", "api_key.revoked")
 * as a security event of the tenant. */
cm_err_t customers_keys_store_event(cm_db_t *db, const char *tenant, const char *action,
                                    const Crm__RequestHeader *hdr,
                                    const Crm__ApiKey *key) CM_MUSTCHECK;

#endif
