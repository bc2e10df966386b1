/* A tenant's API keys (customers_keys.h). */
#include "customers_keys.h"
#include "cm_apikey.h"
#include "cm_pbjson.h"
#include "cm_perm.h"
#include "cm_util.h"
#include "customers_keys_store.h"
#include "customers_validate.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void customers_keys_list(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    Crm__ListApiKeysResponse *r =
        (Crm__ListApiKeysResponse *)cm_pb_new(&crm__list_api_keys_response__descriptor);
    cm_err_t err = customers_keys_store_list(call->db, call->hdr->tenant_id, r);
    if (err) {
        cm_call_db_fail(call, err, "could not list api keys");
        crm__list_api_keys_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

/* Every violation of a new key's name and scopes. */
static void s_check_new(struct cm_call *call, const Crm__CreateApiKeyRequest *req)
{
    size_t name_len = strlen(req->name);
    if (!name_len || strspn(req->name, " \t") == name_len)
        cm_call_violation(call, "name", "REQUIRED", "name is required");
    else if (customers_validate_length(req->name, CUSTOMERS_KEY_NAME_MAX))
        cm_call_violation(call, "name", "TOO_LONG", "name is too long: at most %d characters",
                          CUSTOMERS_KEY_NAME_MAX);
    if (!req->n_scopes) {
        cm_call_violation(call, "scopes", "REQUIRED",
                          "scopes is required: at least one of the scopes of docs/api.md");
        return;
    }
    unsigned seen = 0;
    for (size_t i = 0; i < req->n_scopes && i < CM_SCOPE_LAST + 1u; i++) {
        char field[24];
        snprintf(field, sizeof field, "scopes[%zu]", i);
        enum cm_scope s = cm_scope_parse(req->scopes[i], strlen(req->scopes[i]));
        if (s == CM_SCOPE_UNSET)
            cm_call_violation(call, field, "INVALID_FORMAT",
                              "%.64s is not a scope; choose from customers:read, customers:write, "
                              "notes:read, notes:write, private:read, messages:send, "
                              "company:read, events:publish, events:read, exchange, settings, "
                              "staff, access:check",
                              req->scopes[i]);
        else if (seen & (1u << s))
            cm_call_violation(call, field, "DUPLICATE", "%s is given twice", req->scopes[i]);
        seen |= 1u << s;
    }
    if (req->n_scopes > CM_SCOPE_LAST)
        cm_call_violation(call, "scopes", "TOO_MANY", "scopes has %zu entries: at most %d",
                          req->n_scopes, (int)CM_SCOPE_LAST);
}

void customers_keys_create(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__CreateApiKeyRequest *req = (const Crm__CreateApiKeyRequest *)msg;
    s_check_new(call, req);
    if (cm_call_failed(call))
        return;
    long active = 0;
    cm_err_t err = customers_keys_store_count_active(call->db, call->hdr->tenant_id, &active);
    if (err) {
        cm_call_db_fail(call, err, "could not count api keys");
        return;
    }
    if (active >= CUSTOMERS_KEYS_MAX_ACTIVE) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "this tenant has %d api keys that work, the most it may; revoke one first",
                     CUSTOMERS_KEYS_MAX_ACTIVE);
        return;
    }
    char secret[CM_APIKEY_SIZE], id[CM_APIKEY_ID_SIZE];
    uint8_t hash[CM_APIKEY_HASH_SIZE];
    cm_apikey_new(secret, id);
    cm_apikey_hash(secret, hash);
    const Crm__Principal *pr = call->hdr->principal;
    Crm__ApiKey *key = NULL;
    err = customers_keys_store_insert(call->db, call->hdr->tenant_id, id, req->name, hash,
                                      sizeof hash, req->scopes, req->n_scopes,
                                      pr && pr->name[0] ? pr->name : "", &key);
    if (!err)
        err = customers_keys_store_event(call->db, call->hdr->tenant_id, true, call->hdr, key);
    if (err) {
        cm_call_db_fail(call, err, "could not store the api key");
        if (key)
            crm__api_key__free_unpacked(key, NULL);
        sodium_memzero(secret, sizeof secret);
        return;
    }
    Crm__CreateApiKeyResponse *r =
        (Crm__CreateApiKeyResponse *)cm_pb_new(&crm__create_api_key_response__descriptor);
    r->api_key = key;
    cm_pb_set_str(&r->secret, secret);
    sodium_memzero(secret, sizeof secret);
    *resp = &r->base;
}

void customers_keys_revoke(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__RevokeApiKeyRequest *req = (const Crm__RevokeApiKeyRequest *)msg;
    Crm__ApiKey *key = NULL;
    cm_err_t err = customers_keys_store_revoke(call->db, call->hdr->tenant_id, req->id, &key);
    if (!err && key)
        err = customers_keys_store_event(call->db, call->hdr->tenant_id, false, call->hdr, key);
    if (err)
        cm_call_db_fail(call, err, "could not revoke the api key");
    else if (!key)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no api key %.64s that works", req->id);
    else
        *resp = cm_pb_new(&crm__empty__descriptor);
    if (key)
        crm__api_key__free_unpacked(key, NULL);
}
