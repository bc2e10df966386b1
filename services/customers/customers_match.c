/* customers.MatchCustomers: who each row of an imported file is. */
#include "customers_match.h"
#include "customers_store.h"
#include "customers_validate.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENANT(call) ((call)->hdr->tenant_id)

/* The key k as the match statement takes it (index i), its e-mail and
 * phone as customers compares them into m, and what cannot be used of it
 * into m->problem. */
static json_t *s_key(size_t i, const Crm__MatchKey *k, const struct customers_tenant *tenant,
                     Crm__CustomerMatch *m)
{
    json_t *o = json_object(), *x = json_array();
    char problem[300] = "";
    for (size_t j = 0; j < k->n_external_ids; j++) {
        const Crm__ExternalId *e = k->external_ids[j];
        if (e->system[0] && e->id[0])
            json_array_append_new(x, json_pack("[s, s]", e->system, e->id));
    }
    const char *why = NULL;
    char email[CUSTOMERS_EMAIL_SIZE], key[CUSTOMERS_EMAIL_KEY_SIZE];
    if (k->email[0]) {
        if (customers_validate_email(k->email, email, sizeof email, &why)) {
            snprintf(problem, sizeof problem, "email: not valid: %s", why);
        } else {
            customers_validate_email_key(email, key, sizeof key);
            cm_pb_set_str(&m->email_key, key);
        }
    }
    char phone[CUSTOMERS_PHONE_SIZE];
    if (k->phone[0]) {
        if (customers_validate_phone(k->phone, tenant->default_country, phone, sizeof phone,
                                     &why)) {
            if (!problem[0])
                snprintf(problem, sizeof problem, "phone: not valid: %s", why);
        } else {
            cm_pb_set_str(&m->phone_e164, phone);
        }
    }
    cm_pb_set_str(&m->problem, problem);
    json_object_set_new(o, "i", json_integer((json_int_t)i));
    json_object_set_new(o, "x", x);
    json_object_set_new(o, "e", json_string(m->email_key));
    json_object_set_new(o, "p", json_string(m->phone_e164));
    return o;
}

void customers_match(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__MatchCustomersRequest *req = (const Crm__MatchCustomersRequest *)msg;
    if (req->n_keys > CUSTOMERS_MATCH_MAX) {
        cm_call_violation(call, "keys", "TOO_MANY", "at most %d keys", CUSTOMERS_MATCH_MAX);
        return;
    }
    struct customers_tenant tenant = {0};
    cm_err_t err = customers_store_tenant(call->db, TENANT(call), &tenant);
    if (err) {
        cm_call_db_fail(call, err, "could not read the tenant's settings");
        return;
    }
    Crm__MatchCustomersResponse *r =
        (Crm__MatchCustomersResponse *)cm_pb_new(&crm__match_customers_response__descriptor);
    r->matches = cm_calloc(req->n_keys ? req->n_keys : 1, sizeof *r->matches);
    json_t *keys = json_array();
    for (size_t i = 0; i < req->n_keys; i++) {
        Crm__CustomerMatch *m = (Crm__CustomerMatch *)cm_pb_new(&crm__customer_match__descriptor);
        r->matches[r->n_matches++] = m;
        json_t *k = s_key(i, req->keys[i], &tenant, m);
        /* A key that is not UTF-8 (jansson refuses it) can match nothing. */
        if (json_is_string(json_object_get(k, "e")) && json_is_string(json_object_get(k, "p")))
            json_array_append_new(keys, k);
        else
            json_decref(k);
    }
    customers_tenant_release(&tenant);
    /* Every key in one statement; then each customer found, whole. */
    char *text = json_dumps(keys, JSON_COMPACT);
    json_decref(keys);
    PGresult *res = req->n_keys ? customers_store_match(call->db, TENANT(call), text, &err) : NULL;
    free(text);
    for (int row = 0; res && !err && row < PQntuples(res); row++) {
        long i = strtol(PQgetvalue(res, row, 0), NULL, 10);
        const char *id = PQgetvalue(res, row, 1);
        if (!id[0] || i < 0 || (size_t)i >= r->n_matches)
            continue;
        Crm__CustomerMatch *m = r->matches[i];
        err = customers_store_get(call->db, TENANT(call), id, false, &m->customer);
        if (err == CM_ERR_NOT_FOUND) /* deleted since it was found */
            err = CM_OK;
        else if (!err)
            cm_pb_set_str(&m->matched_by, PQgetvalue(res, row, 2));
    }
    PQclear(res);
    if (err) {
        cm_call_db_fail(call, err, "could not match customers");
        crm__match_customers_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}
