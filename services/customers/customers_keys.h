/* A tenant's API keys: list, make (with scopes; the secret is answered
 * once) and revoke. Scope "staff" (docs/api.md, "API keys"). */
#ifndef CUSTOMERS_KEYS_H
#define CUSTOMERS_KEYS_H

#include "cm_svc.h"

/* At most this many characters a key's name has. */
#define CUSTOMERS_KEY_NAME_MAX 100

void customers_keys_list(struct cm_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp);
void customers_keys_create(struct cm_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp);
void customers_keys_revoke(struct cm_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp);

#endif
