/* API-key secrets and ids (cm_apikey.h). */
#include "cm_apikey.h"
#include "cm_util.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

void cm_apikey_new(char secret[CM_APIKEY_SIZE], char id[CM_APIKEY_ID_SIZE])
{
    char hex[49];
    cm_random_hex(hex, 24);
    snprintf(secret, CM_APIKEY_SIZE, "crm_%s", hex);
    char idhex[13];
    cm_random_hex(idhex, 6);
    snprintf(id, CM_APIKEY_ID_SIZE, "key_%s", idhex);
}

void cm_apikey_hash(const char *secret, uint8_t out[CM_APIKEY_HASH_SIZE])
{
    crypto_generichash(out, CM_APIKEY_HASH_SIZE, (const unsigned char *)secret, strlen(secret),
                       NULL, 0);
}
