/* customers.MatchCustomers: who each row of an imported file is. */
#include "customers_match.h"
#include "customers_store.h"
#include "customers_validate.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENANT(call) ((call)->hdr->tenant_id)

/* The e-mail and phone of k as customers compares them, into m. */
static void s_keys(const Crm__MatchKey *k, const struct customers_tenant *tenant,
                   Crm__CustomerMatch *m)
{
    const char *why = NULL;
    char email[CUSTOMERS_EMAIL_SIZE], key[CUSTOMERS_EMAIL_KEY_SIZE];
    if (k->email[0] && !customers_validate_email(k->email, email, sizeof email, &why)) {
        customers_validate_email_key(email, key, sizeof key);
        cm_pb_set_str(&m->email_key, key);
    }
    char phone[CUSTOMERS_PHONE_SIZE];
    if (k->phone[0] &&
        !customers_validate_phone(k->phone, tenant->default_country, phone, sizeof phone, &why))
        cm_pb_set_str(&m->phone_e164, phone);
}

/* The customer key k means: its id into out ("" if none) and how in *how; a
 * key part that cannot be used is said in problem. */
static cm_err_t s_find(struct cm_call *call, const Crm__MatchKey *k,
                       const struct customers_tenant *tenant, Crm__CustomerMatch *m, char *out,
                       const char **how, char *problem, size_t psize)
{
    out[0] = '\0';
    *how = "";
    s_keys(k, tenant, m);
    for (size_t i = 0; i < k->n_external_ids; i++) {
        const Crm__ExternalId *e = k->external_ids[i];
        if (!e->system[0] || !e->id[0])
            continue;
        cm_err_t err =
            customers_store_find_external(call->db, TENANT(call), e->system, e->id, NULL, out);
        if (err || out[0]) {
            *how = "externalId";
            return err;
        }
    }
    const char *why = NULL;
    if (k->email[0]) {
        char email[CUSTOMERS_EMAIL_SIZE], key[CUSTOMERS_EMAIL_KEY_SIZE];
        if (customers_validate_email(k->email, email, sizeof email, &why)) {
            snprintf(problem, psize, "email: not valid: %s", why);
        } else {
            customers_validate_email_key(email, key, sizeof key);
            cm_err_t err = customers_store_find_email(call->db, TENANT(call), key, NULL, out);
            if (err || out[0]) {
                *how = "email";
                return err;
            }
        }
    }
    if (k->phone[0]) {
        char phone[CUSTOMERS_PHONE_SIZE];
        if (customers_validate_phone(k->phone, tenant->default_country, phone, sizeof phone,
                                     &why)) {
            if (!problem[0])
                snprintf(problem, psize, "phone: not valid: %s", why);
        } else {
            cm_err_t err = customers_store_find_phone(call->db, TENANT(call), phone, out);
            if (err || out[0]) {
                *how = "phone";
                return err;
            }
        }
    }
    return CM_OK;
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
    for (size_t i = 0; i < req->n_keys && !err; i++) {
        Crm__CustomerMatch *m = (Crm__CustomerMatch *)cm_pb_new(&crm__customer_match__descriptor);
        r->matches[r->n_matches++] = m;
        char id[CUSTOMERS_ID_SIZE], problem[300] = "";
        const char *how;
        err = s_find(call, req->keys[i], &tenant, m, id, &how, problem, sizeof problem);
        if (!err && id[0]) {
            err = customers_store_get(call->db, TENANT(call), id, false, &m->customer);
            if (err == CM_ERR_NOT_FOUND) /* deleted since it was found */
                err = CM_OK;
            else if (!err)
                cm_pb_set_str(&m->matched_by, how);
        }
        cm_pb_set_str(&m->problem, problem);
    }
    customers_tenant_release(&tenant);
    if (err) {
        cm_call_db_fail(call, err, "could not match customers");
        crm__match_customers_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}
