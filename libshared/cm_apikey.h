/* API keys: how a key's secret and id are made and how it is stored (only
 * as a BLAKE2b hash). The customers service (POST /v1/apiKeys) and crmctl
 * (key create, bootstrap) both make keys. */
#ifndef CM_APIKEY_H
#define CM_APIKEY_H

#include <stdint.h>

#define CM_APIKEY_SIZE 53    // "crm_" + 48 hex digits + NUL
#define CM_APIKEY_ID_SIZE 17 // "key_" + 12 hex digits + NUL
#define CM_APIKEY_HASH_SIZE 32

/* A new random secret and id. */
void cm_apikey_new(char secret[CM_APIKEY_SIZE], char id[CM_APIKEY_ID_SIZE]);

/* What customers.api_keys.key_hash holds for secret. */
void cm_apikey_hash(const char *secret, uint8_t out[CM_APIKEY_HASH_SIZE]);

#endif
