/* customers.ResolveCustomer: identity resolution for the intake. */
#include "customers_resolve.h"
#include "customers_resolve_store.h"
#include "customers_changes.h"
#include "customers_check.h"
#include "customers_events.h"
#include "customers_store.h"
#include "customers_validate.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TENANT(call) ((call)->hdr->tenant_id)
#define EXTERNAL_ID_MAX 200
#define SYSTEM_MAX 50

/* ---------------------------------------------------------------------- */
/* The request's identity                                                   */

struct s_identity {
    char email[CUSTOMERS_EMAIL_SIZE]; // normalised, or ""
    char email_key[CUSTOMERS_EMAIL_KEY_SIZE];
    char phone[CUSTOMERS_PHONE_SIZE]; // E.164, or ""
};

static bool s_system_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SYSTEM_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool s_has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

static void s_check_text(struct cm_call *call, const char *s, const char *field, size_t max)
{
    if (customers_validate_length(s, max))
        cm_call_violation(call, field, "TOO_LONG", "%s is too long: at most %zu characters", field,
                          max);
    else if (s_has_control(s))
        cm_call_violation(call, field, "INVALID_FORMAT", "%s contains control characters", field);
}

/* Checks the request and normalises its e-mail and phone into id. */
static void s_identity(struct cm_call *call, const Crm__ResolveCustomerRequest *req,
                       const struct customers_tenant *tenant, struct s_identity *id)
{
    memset(id, 0, sizeof *id);
    if (!s_system_valid(req->system))
        cm_call_violation(call, "system", "INVALID_FORMAT",
                          "system must be 1..50 characters of a-z, 0-9, '_', '.', '-'");
    if (!req->external_id[0])
        cm_call_violation(call, "externalId", "REQUIRED", "externalId is required");
    s_check_text(call, req->external_id, "externalId", EXTERNAL_ID_MAX);
    s_check_text(call, req->first_name, "firstName", CUSTOMERS_NAME_MAX);
    s_check_text(call, req->last_name, "lastName", CUSTOMERS_NAME_MAX);
    const char *why = NULL;
    if (req->email[0]) {
        if (customers_validate_email(req->email, id->email, sizeof id->email, &why))
            cm_call_violation(call, "email", "INVALID_FORMAT", "email is not valid: %s", why);
        else
            customers_validate_email_key(id->email, id->email_key, sizeof id->email_key);
    }
    if (req->phone[0] && customers_validate_phone(req->phone, tenant->default_country, id->phone,
                                                  sizeof id->phone, &why))
        cm_call_violation(call, "phone", "INVALID_FORMAT", "phone is not valid: %s", why);
    if (req->source != CRM__SOURCE__SOURCE_UNSPECIFIED &&
        req->source != CRM__SOURCE__SOURCE_BOOKING && req->source != CRM__SOURCE__SOURCE_STORE &&
        req->source != CRM__SOURCE__SOURCE_API && req->source != CRM__SOURCE__SOURCE_SIGNUP)
        cm_call_violation(call, "source", "INVALID_FORMAT",
                          "source must be BOOKING, STORE, API or SIGNUP");
}

/* Locks every identity key of the request for this transaction. */
static bool s_lock(struct cm_call *call, const Crm__ResolveCustomerRequest *req,
                   const struct s_identity *id)
{
    json_t *keys = json_array();
    char *k = cm_strfmt("x:%s:%s", req->system, req->external_id);
    json_array_append_new(keys, json_string(k));
    free(k);
    if (id->email_key[0]) {
        k = cm_strfmt("e:%s", id->email_key);
        json_array_append_new(keys, json_string(k));
        free(k);
    }
    if (id->phone[0]) {
        k = cm_strfmt("p:%s", id->phone);
        json_array_append_new(keys, json_string(k));
        free(k);
    }
    char *text = json_dumps(keys, JSON_COMPACT);
    json_decref(keys);
    cm_err_t err = customers_store_lock_identity(call->db, TENANT(call), text);
    free(text);
    if (err) {
        cm_call_db_fail(call, err, "could not lock identity");
        return false;
    }
    return true;
}

/* Finds the customer: external id, e-mail, phone. Writes its id into out ("" if
 * none) and how it matched into *how. */
static bool s_find(struct cm_call *call, const Crm__ResolveCustomerRequest *req,
                   const struct s_identity *id, char *out, const char **how)
{
    cm_err_t err = customers_store_find_external(call->db, TENANT(call), req->system,
                                                 req->external_id, NULL, out);
    *how = "externalId";
    if (!err && !out[0] && id->email_key[0]) {
        err = customers_store_find_email(call->db, TENANT(call), id->email_key, NULL, out);
        *how = "email";
    }
    if (!err && !out[0] && id->phone[0]) {
        err = customers_store_find_phone(call->db, TENANT(call), id->phone, out);
        *how = "phone";
    }
    if (err) {
        cm_call_db_fail(call, err, "could not look the customer up");
        return false;
    }
    return true;
}

static bool s_has_external(const Crm__Customer *c, const char *system, const char *ext)
{
    for (size_t i = 0; i < c->n_external_ids; i++)
        if (!strcmp(c->external_ids[i]->system, system) && !strcmp(c->external_ids[i]->id, ext))
            return true;
    return false;
}

static void s_add_external(Crm__Customer *c, const char *system, const char *ext)
{
    Crm__ExternalId *e = (Crm__ExternalId *)cm_pb_new(&crm__external_id__descriptor);
    cm_pb_set_str(&e->system, system);
    cm_pb_set_str(&e->id, ext);
    c->external_ids =
        cm_realloc(c->external_ids, (c->n_external_ids + 1) * sizeof *c->external_ids);
    c->external_ids[c->n_external_ids++] = e;
}

static void s_set_account(Crm__Customer *c, Crm__AccountStatus status)
{
    if (!c->account)
        c->account = (Crm__Account *)cm_pb_new(&crm__account__descriptor);
    c->account->status = status;
}

/* ---------------------------------------------------------------------- */
/* Matched: attach the id, fill what is empty                              */

static void s_update_match(struct cm_call *call, const Crm__ResolveCustomerRequest *req,
                           const struct s_identity *id, const struct customers_tenant *tenant,
                           const char *customer_id)
{
    Crm__Customer *old = NULL, *c = NULL, *stored = NULL;
    struct customers_changes ch = {0};
    char **group_ids = NULL;
    size_t n_groups = 0;
    cm_err_t err = customers_store_get(call->db, TENANT(call), customer_id, true, &old);
    if (err || !old) {
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not read the matched customer");
        goto out;
    }
    c = (Crm__Customer *)cm_pb_clone(&old->base);
    bool links = false;
    if (!s_has_external(c, req->system, req->external_id) &&
        c->n_external_ids < CUSTOMERS_EXTERNAL_IDS_MAX) {
        s_add_external(c, req->system, req->external_id);
        links = true;
    }
    if (!c->first_name[0] && req->first_name[0])
        cm_pb_set_str(&c->first_name, req->first_name);
    if (!c->last_name[0] && req->last_name[0])
        cm_pb_set_str(&c->last_name, req->last_name);
    if (!c->email[0] && id->email[0]) {
        char other[CUSTOMERS_ID_SIZE];
        err = customers_store_find_email(call->db, TENANT(call), id->email_key, c->id, other);
        if (err) {
            cm_call_db_fail(call, err, "could not check e-mail");
            goto out;
        }
        if (!other[0])
            cm_pb_set_str(&c->email, id->email);
    }
    if (!c->phone[0] && id->phone[0])
        cm_pb_set_str(&c->phone, id->phone);
    Crm__AccountStatus st =
        c->account ? c->account->status : CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_NONE;
    if (req->signed_up && st != CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE &&
        st != CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED)
        s_set_account(c, CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE);
    customers_changes_compute(&ch, old, c);
    if (ch.n == 0)
        goto out;
    customers_check(call, c, old, tenant, cm_now_ms());
    if (cm_call_failed(call))
        goto out;
    if (links && c->n_groups) {
        long missing = -1;
        group_ids = cm_calloc(c->n_groups, sizeof *group_ids);
        n_groups = c->n_groups;
        err = customers_store_group_ids(call->db, TENANT(call), c->groups, c->n_groups, group_ids,
                                        &missing);
        if (err || missing >= 0) {
            cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not resolve groups");
            goto out;
        }
    }
    err = customers_store_update(call->db, TENANT(call), c, group_ids, n_groups, links, NULL);
    if (err) {
        cm_call_db_fail(call, err, "could not update customer");
        goto out;
    }
    err = customers_store_get(call->db, TENANT(call), customer_id, false, &stored);
    if (err || !stored) {
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not read customer");
        goto out;
    }
    static const char *const types[] = {"customer.updated", NULL};
    if (customers_changes_record(call, customer_id, "updated", types, stored, &ch))
        cm_log_info("intake matched customer %s and updated %zu fields", customer_id, ch.n);
out:
    if (ch.json)
        customers_changes_release(&ch);
    if (group_ids)
        for (size_t i = 0; i < n_groups; i++)
            free(group_ids[i]);
    free(group_ids);
    if (old)
        crm__customer__free_unpacked(old, NULL);
    if (c)
        crm__customer__free_unpacked(c, NULL);
    if (stored)
        crm__customer__free_unpacked(stored, NULL);
}

/* ---------------------------------------------------------------------- */
/* Not found: register                                                      */

static void s_register(struct cm_call *call, const Crm__ResolveCustomerRequest *req,
                       const struct s_identity *id, const struct customers_tenant *tenant,
                       char *out_id)
{
    Crm__Customer *c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    Crm__Customer *stored = NULL;
    struct customers_changes ch = {0};
    cm_pb_set_str(&c->first_name, req->first_name);
    cm_pb_set_str(&c->last_name, req->last_name);
    cm_pb_set_str(&c->email, id->email);
    cm_pb_set_str(&c->phone, id->phone);
    if (!req->first_name[0] && !req->last_name[0]) {
        /* Someone must be named on the card: the address or number we know. */
        char local[CUSTOMERS_EMAIL_SIZE];
        snprintf(local, sizeof local, "%s", id->email);
        char *at = strchr(local, '@');
        if (at)
            *at = '\0';
        cm_pb_set_str(&c->first_name, local[0] ? local : id->phone[0] ? id->phone : "");
        if (!c->first_name[0]) {
            char *name = cm_strfmt("%s %s", req->system, req->external_id);
            char cut[CUSTOMERS_NAME_MAX + 1];
            snprintf(cut, sizeof cut, "%s", name);
            cm_pb_set_str(&c->first_name, cut);
            free(name);
        }
    }
    if (req->language[0]) {
        /* The language the person booked or ordered in: the messages the
         * suite sends on its own (a welcome) speak it. */
        c->preferences = (Crm__Preferences *)cm_pb_new(&crm__preferences__descriptor);
        cm_pb_set_str(&c->preferences->language, req->language);
    }
    c->source = req->source != CRM__SOURCE__SOURCE_UNSPECIFIED ? req->source
                : !strcmp(req->system, "store")                ? CRM__SOURCE__SOURCE_STORE
                                                               : CRM__SOURCE__SOURCE_BOOKING;
    s_set_account(c, req->signed_up ? CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE
                                    : CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_INVITED);
    s_add_external(c, req->system, req->external_id);
    customers_check(call, c, NULL, tenant, cm_now_ms());
    if (cm_call_failed(call))
        goto out;
    char cid[CUSTOMERS_ID_SIZE];
    cm_uuid(cid);
    cm_pb_set_str(&c->id, cid);
    cm_err_t err = customers_store_insert(call->db, TENANT(call), cid, c, NULL, 0, NULL);
    if (err) {
        /* CM_ERR_CONFLICT: someone registered the same person in between
         * (outside the locks, e.g. CreateCustomer); cm_svc runs us again. */
        cm_call_db_fail(call, err, "could not register customer");
        goto out;
    }
    err = customers_store_get(call->db, TENANT(call), cid, false, &stored);
    if (err || !stored) {
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not read customer");
        goto out;
    }
    customers_changes_compute(&ch, NULL, stored);
    static const char *const types[] = {"customer.created", "customer.registered", NULL};
    if (!customers_changes_record(call, cid, "created", types, stored, &ch))
        goto out;
    snprintf(out_id, CUSTOMERS_ID_SIZE, "%s", cid);
    cm_log_info("intake registered customer %s", cid);
out:
    if (ch.json)
        customers_changes_release(&ch);
    crm__customer__free_unpacked(c, NULL);
    if (stored)
        crm__customer__free_unpacked(stored, NULL);
}

/* ---------------------------------------------------------------------- */
/* Known and unchanged: a read                                              */

/* True when s_update_match would change nothing of the customer known: what
 * it fills is set already (or the request brings nothing for it), and a
 * sign-up finds the account active or disabled. The e-mail is counted as a
 * change whenever the stored one is empty and the request has one, though
 * another customer holding it would keep it out: the write path decides. */
static bool s_unchanged(const Crm__ResolveCustomerRequest *req, const struct s_identity *id,
                        const struct customers_known *k)
{
    if (!k->has_first_name && req->first_name[0])
        return false;
    if (!k->has_last_name && req->last_name[0])
        return false;
    if (!k->has_email && id->email[0])
        return false;
    if (!k->has_phone && id->phone[0])
        return false;
    return !req->signed_up || k->account_status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE ||
           k->account_status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED;
}

void customers_resolve_prepare(struct cm_call *call, const ProtobufCMessage *msg)
{
    const Crm__ResolveCustomerRequest *req = (const Crm__ResolveCustomerRequest *)msg;
    /* A request under an idempotency key gets its first answer again (the
     * write path's record), which a read now could tell otherwise. */
    if ((call->hdr->idempotency_key[0] && !req->known_only) || req->validate_only)
        return;
    struct customers_known k;
    cm_err_t err =
        customers_resolve_store_known(call->db, TENANT(call), req->system, req->external_id, &k);
    if (err) {
        cm_call_db_fail(call, err, "could not look the customer up");
        return;
    }
    if (!k.tenant_found && !req->known_only)
        return; /* the write path refuses it */
    if (!k.tenant_found) {
        cm_call_fail(call, CM_ERR_PERMISSION, "unknown tenant");
        return;
    }
    struct customers_tenant tenant = {0};
    memcpy(tenant.default_country, k.default_country, sizeof tenant.default_country);
    struct s_identity id;
    s_identity(call, req, &tenant, &id);
    if (cm_call_failed(call))
        return;
    if (!k.found || !s_unchanged(req, &id, &k)) {
        if (req->known_only)
            cm_call_fail(call, CM_ERR_NOT_FOUND,
                         "no customer holds the external id with nothing to add");
        return;
    }
    /* Held by a committed row read just now: a delete or merge that commits
     * later comes after this answer, as it would after the write path's. */
    Crm__ResolveCustomerResponse r = CRM__RESOLVE_CUSTOMER_RESPONSE__INIT;
    r.customer_id = k.id;
    r.created = false;
    r.matched_by = "externalId";
    size_t len = crm__resolve_customer_response__get_packed_size(&r);
    uint8_t *body = cm_malloc(len ? len : 1);
    crm__resolve_customer_response__pack(&r, body);
    cm_call_reply_raw(call, body, len);
}

void customers_resolve_known(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__ResolveKnownRequest *req = (const Crm__ResolveKnownRequest *)msg;
    size_t n = req->n_items;
    if (n == 0 || n > CUSTOMERS_RESOLVE_KNOWN_MAX) {
        cm_call_violation(call, "items", n ? "TOO_MANY" : "REQUIRED",
                          "items must hold 1 to %d records", CUSTOMERS_RESOLVE_KNOWN_MAX);
        return;
    }
    /* One pair per item, in order: an item whose text is not UTF-8 (the bus
     * does not check it) gets one that names nobody, so that every later
     * item keeps its place and is answered for itself. */
    json_t *pairs = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *pair = json_pack("[ss]", req->items[i]->system, req->items[i]->external_id);
        json_array_append_new(pairs, pair ? pair : json_pack("[ss]", "", ""));
    }
    char *text = json_dumps(pairs, JSON_COMPACT);
    json_decref(pairs);
    struct customers_known *known = cm_calloc(n, sizeof *known);
    cm_err_t err = customers_resolve_store_known_many(call->db, TENANT(call), text, n, known);
    free(text);
    if (err) {
        cm_call_db_fail(call, err, "could not look the customers up");
        goto out;
    }
    if (!known[0].tenant_found) {
        cm_call_fail(call, CM_ERR_PERMISSION, "unknown tenant");
        goto out;
    }
    Crm__ResolveKnownResponse *r =
        (Crm__ResolveKnownResponse *)cm_pb_new(&crm__resolve_known_response__descriptor);
    r->customer_ids = cm_calloc(n, sizeof *r->customer_ids);
    r->n_customer_ids = n;
    for (size_t i = 0; i < n; i++) {
        const Crm__ResolveCustomerRequest *it = req->items[i];
        const struct customers_known *k = &known[i];
        bool ok = k->found;
        if (ok) {
            /* The item's checks, as ResolveCustomer makes them: an item
             * that fails them is answered "" and refused by it. */
            struct customers_tenant tenant = {0};
            memcpy(tenant.default_country, k->default_country, sizeof tenant.default_country);
            struct s_identity id;
            struct cm_call item;
            cm_call_item(&item, call);
            s_identity(&item, it, &tenant, &id);
            ok = !cm_call_failed(&item) && s_unchanged(it, &id, k);
            crm__reply_header__free_unpacked(cm_call_item_end(&item, call), NULL);
        }
        r->customer_ids[i] = cm_strdup(ok ? k->id : "");
    }
    *resp = &r->base;
out:
    free(known);
}

void customers_resolve(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ResolveCustomerRequest *req = (const Crm__ResolveCustomerRequest *)msg;
    struct customers_tenant tenant = {0};
    struct s_identity id;
    char found[CUSTOMERS_ID_SIZE] = "";
    const char *how = "created";

    cm_err_t err = customers_store_tenant(call->db, TENANT(call), &tenant);
    if (err) {
        if (err == CM_ERR_NOT_FOUND)
            cm_call_fail(call, CM_ERR_PERMISSION, "unknown tenant");
        else
            cm_call_db_fail(call, err, "could not read tenant settings");
        goto out;
    }
    s_identity(call, req, &tenant, &id);
    if (!cm_call_failed(call) && req->validate_only) {
        /* A form that checks its fields before anything is kept (notify.Register). */
        Crm__ResolveCustomerResponse *v =
            (Crm__ResolveCustomerResponse *)cm_pb_new(&crm__resolve_customer_response__descriptor);
        cm_pb_set_str(&v->email, id.email);
        cm_pb_set_str(&v->phone, id.phone);
        *resp = &v->base;
        goto out;
    }
    if (cm_call_failed(call) || !s_lock(call, req, &id) || !s_find(call, req, &id, found, &how))
        goto out;
    /* Automatic registration never fails on the business's required fields:
     * a booking is not refused for a missing birth date. */
    for (size_t i = 0; i < tenant.n_required; i++)
        free(tenant.required_fields[i]);
    free(tenant.required_fields);
    tenant.required_fields = NULL;
    tenant.n_required = 0;
    bool created = !found[0];
    if (created) {
        how = "created";
        s_register(call, req, &id, &tenant, found);
    } else {
        s_update_match(call, req, &id, &tenant, found);
    }
    if (cm_call_failed(call))
        goto out;
    Crm__ResolveCustomerResponse *r =
        (Crm__ResolveCustomerResponse *)cm_pb_new(&crm__resolve_customer_response__descriptor);
    cm_pb_set_str(&r->customer_id, found);
    r->created = created;
    cm_pb_set_str(&r->matched_by, how);
    *resp = &r->base;
out:
    customers_tenant_release(&tenant);
}
