/* One function per request of the customers service, and the dispatch table. */
#include "customers_handlers.h"
#include "customers_wallet_rules.h"
#include "customers_wallet_store.h"
#include "customers_keys.h"
#include "customers_keys_store.h"
#include "customers_changes.h"
#include "customers_check.h"
#include "customers_events.h"
#include "customers_import.h"
#include "customers_access.h"
#include "customers_access_store.h"
#include "customers_match.h"
#include "customers_merge.h"
#include "customers_merge_store.h"
#include "customers_prices.h"
#include "customers_resolve.h"
#include "customers_snapshot.h"
#include "customers_subs.h"
#include "customers_tenant_cache.h"
#include "customers_wallet.h"
#include "customers_store.h"
#include "customers_validate.h"
#include "customers_vat.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_money.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sodium.h>

/* Outbox retention: at most this many events deleted per statement (tens of
 * milliseconds, between requests of this copy), a pass this often, and while
 * passes delete full batches (a backlog) one every PRUNE_BACKLOG_MS. */
#define PRUNE_BATCH 2000
#define PRUNE_EVERY_MS (10 * 60 * 1000)
#define PRUNE_BACKLOG_MS 1000

#define PAGE_DEFAULT 50
#define PAGE_MAX 1000
#define BATCH_MAX 1000

#define TENANT(call) ((call)->hdr->tenant_id)

/* Writes the audit entry and the event of one change, in the transaction. */
static bool s_record(struct cm_call *call, const char *customer_id, const char *action,
                     const char *event_type, const Crm__Customer *customer,
                     const struct customers_changes *ch)
{
    const char *const types[] = {event_type, NULL};
    return customers_changes_record(call, customer_id, action, types, customer, ch);
}

/* ---------------------------------------------------------------------- */
/* Shared checks                                                           */

/* The customer as customers_store_get would read it back right after c was
 * written with the stamp the write returned, without reading it: c's groups
 * must be the stored names (as read, or none). */
static Crm__Customer *s_written(const Crm__Customer *c, const struct customers_stamp *stamp)
{
    /* Through JSON as the stored document goes, so that what was sent as an
     * empty message or a default reads back as it would from the row. */
    json_t *doc = cm_pbjson_encode(&c->base, CM_PBJSON_OMIT_DEFAULTS);
    struct cm_pbjson_error perr;
    Crm__Customer *w =
        (Crm__Customer *)cm_pbjson_decode(&crm__customer__descriptor, doc, NULL, &perr);
    json_decref(doc);
    if (!w) {
        cm_log_error("customer %s does not decode from its own JSON: %s %s", c->id, perr.field,
                     perr.description);
        w = (Crm__Customer *)cm_pb_clone(&c->base);
    }
    cm_pb_set_str(&w->etag, stamp->version);
    cm_pb_set_str(&w->created_at, stamp->created_at);
    cm_pb_set_str(&w->updated_at, stamp->updated_at);
    customers_validate_sort_names(w->groups, w->n_groups);
    customers_validate_sort_names(w->tags, w->n_tags);
    return w;
}

Crm__Customer *customers_load(struct cm_call *call, const char *id, const char *field,
                              bool for_update)
{
    Crm__Customer *c = NULL;
    if (!customers_check_uuid(id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", id);
        return NULL;
    }
    cm_err_t err = customers_store_get(call->db, TENANT(call), id, for_update, &c);
    if (err) {
        cm_call_db_fail(call, err, "could not read customer");
        return NULL;
    }
    if (c)
        return c;
    /* A merged record's id tells where the customer is now. */
    char into[CUSTOMERS_ID_SIZE];
    err = customers_merge_store_into(call->db, TENANT(call), id, into);
    if (err)
        cm_call_db_fail(call, err, "could not read customer");
    else if (into[0])
        cm_call_moved(call, field, "MERGED", into, "customer was merged into %s", into);
    else
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", id);
    return NULL;
}

static Crm__Customer *s_load(struct cm_call *call, const char *id, bool for_update)
{
    return customers_load(call, id, "id", for_update);
}

bool customers_tenant_of(struct cm_call *call, struct customers_tenant *t)
{
    /* In a transaction's first try the settings this copy read last serve,
     * checked against the row with the transaction's first statement (a
     * changed row fails it, and the retry reads them afresh): no round trip
     * of their own. */
    bool in_txn = cm_db_in_txn(call->db);
    if (in_txn && call->attempt == 0 && customers_tenant_cache_get(TENANT(call), cm_now_ms(), t)) {
        customers_store_tenant_check(call->db, TENANT(call), t->version);
        return true;
    }
    cm_err_t err = customers_store_tenant(call->db, TENANT(call), t);
    if (!err && in_txn)
        customers_tenant_cache_put(TENANT(call), t);
    if (err == CM_ERR_NOT_FOUND) {
        cm_call_fail(call, CM_ERR_PERMISSION, "unknown tenant");
        return false;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not read tenant settings");
        return false;
    }
    return true;
}

/* Another customer holding the same e-mail or external id is a duplicate
 * person. alone: the write is the call's only one, so the e-mail is left to
 * its unique index (s_email_taken), which costs no round trip of its own. */
static void s_check_unique(struct cm_call *call, const Crm__Customer *c, const char *self_id,
                           bool alone)
{
    char other[CUSTOMERS_ID_SIZE];
    cm_err_t err;
    if (c->email[0] && !alone) {
        char key[CUSTOMERS_EMAIL_KEY_SIZE];
        customers_validate_email_key(c->email, key, sizeof key);
        err = customers_store_find_email(call->db, TENANT(call), key, self_id, other);
        if (err) {
            cm_call_db_fail(call, err, "could not check e-mail");
            return;
        }
        if (other[0])
            cm_call_duplicate(call, "email", other, "customer %s already has this e-mail", other);
    }
    for (size_t i = 0; i < c->n_external_ids; i++) {
        const Crm__ExternalId *e = c->external_ids[i];
        err =
            customers_store_find_external(call->db, TENANT(call), e->system, e->id, self_id, other);
        if (err) {
            cm_call_db_fail(call, err, "could not check external ids");
            return;
        }
        if (other[0]) {
            char f[64];
            snprintf(f, sizeof f, "externalIds[%zu]", i);
            cm_call_duplicate(call, f, other, "customer %s already has %s id %s", other, e->system,
                              e->id);
        }
    }
}

/* Whether the write failed on the e-mail's unique index: then another
 * customer has it. The transaction is lost, so who has it is read after
 * it, for the answer: 409 naming that customer (or a lost race, retried,
 * when nobody has it any more). */
static bool s_email_taken(struct cm_call *call, cm_err_t err, const Crm__Customer *c,
                          const char *self_id)
{
    if (err != CM_ERR_CONFLICT || strcmp(cm_db_constraint(call->db), "customers_email_key") != 0)
        return false;
    cm_db_rollback(call->db);
    char key[CUSTOMERS_EMAIL_KEY_SIZE], other[CUSTOMERS_ID_SIZE];
    customers_validate_email_key(c->email, key, sizeof key);
    err = cm_db_use_tenant(call->db, TENANT(call));
    if (!err)
        err = customers_store_find_email(call->db, TENANT(call), key, self_id, other);
    if (err)
        cm_call_db_fail(call, err, "could not check e-mail");
    else if (other[0])
        cm_call_duplicate(call, "email", other, "customer %s already has this e-mail", other);
    else
        cm_call_fail(call, CM_ERR_CONFLICT, "e-mail: conflicting change, retry");
    return true;
}

/* Resolves group names to ids; names are replaced by their stored spelling. */
static char **s_group_ids(struct cm_call *call, Crm__Customer *c)
{
    if (!c->n_groups)
        return NULL;
    char **ids = cm_calloc(c->n_groups, sizeof *ids);
    long missing = -1;
    cm_err_t err =
        customers_store_group_ids(call->db, TENANT(call), c->groups, c->n_groups, ids, &missing);
    if (err) {
        cm_call_db_fail(call, err, "could not resolve groups");
    } else if (missing >= 0) {
        char f[32];
        snprintf(f, sizeof f, "groups[%ld]", missing);
        cm_call_violation(call, f, "NOT_FOUND",
                          "there is no group named \"%s\"; create it first with POST /v1/groups",
                          c->groups[missing]);
    }
    return ids;
}

static void s_free_ids(char **ids, size_t n)
{
    if (!ids)
        return;
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static Crm__Source s_source_of_channel(const char *channel)
{
    if (!strcmp(channel, "ui"))
        return CRM__SOURCE__SOURCE_MANUAL;
    if (!strcmp(channel, "import"))
        return CRM__SOURCE__SOURCE_IMPORT;
    if (!strcmp(channel, "booking"))
        return CRM__SOURCE__SOURCE_BOOKING;
    if (!strcmp(channel, "store"))
        return CRM__SOURCE__SOURCE_STORE;
    return CRM__SOURCE__SOURCE_API;
}

/* ---------------------------------------------------------------------- */
/* Customers                                                               */

Crm__Customer *customers_create_one(struct cm_call *call, const Crm__Customer *in,
                                    Crm__Source source, const struct customers_tenant *tenant,
                                    bool alone)
{
    Crm__Customer *c = NULL, *stored = NULL;
    char **group_ids = NULL;
    size_t n_group_ids = 0;
    struct customers_changes ch = {0};

    c = in ? (Crm__Customer *)cm_pb_clone(&in->base)
           : (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    customers_check_clear_output_only(c);
    if (c->source == CRM__SOURCE__SOURCE_UNSPECIFIED)
        c->source = source;
    customers_check(call, c, NULL, tenant, cm_now_ms());
    if (cm_call_failed(call))
        goto out;
    group_ids = s_group_ids(call, c);
    n_group_ids = c->n_groups;
    if (cm_call_failed(call))
        goto out;
    s_check_unique(call, c, NULL, alone);
    if (cm_call_failed(call))
        goto out;
    char id[CUSTOMERS_ID_SIZE];
    cm_uuid(id);
    cm_pb_set_str(&c->id, id);
    struct customers_stamp stamp;
    cm_err_t err =
        customers_store_insert(call->db, TENANT(call), id, c, group_ids, n_group_ids, &stamp);
    if (err) {
        if (!s_email_taken(call, err, c, NULL))
            cm_call_db_fail(call, err, "could not insert customer");
        goto out;
    }
    /* Groups are read back for their stored names; without any, nothing is. */
    stored = c->n_groups ? s_load(call, id, false) : s_written(c, &stamp);
    if (!stored)
        goto out;
    customers_changes_compute(&ch, NULL, stored);
    if (!s_record(call, id, "created", "customer.created", stored, &ch)) {
        crm__customer__free_unpacked(stored, NULL);
        stored = NULL;
        goto out;
    }
    cm_log_debug("created customer %s", id);
out:
    if (ch.json)
        customers_changes_release(&ch);
    s_free_ids(group_ids, n_group_ids);
    if (c)
        crm__customer__free_unpacked(c, NULL);
    return stored;
}

static void s_create_customer(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp)
{
    const Crm__CreateCustomerRequest *req = (const Crm__CreateCustomerRequest *)msg;
    struct customers_tenant tenant = {0};
    if (customers_tenant_of(call, &tenant)) {
        Crm__Customer *stored = customers_create_one(
            call, req->customer, s_source_of_channel(call->hdr->channel), &tenant, true);
        if (stored) {
            cm_log_debug("created customer %s", stored->id);
            cm_perm_hide_customer(call->hdr->principal, stored);
            *resp = &stored->base;
        }
    }
    customers_tenant_release(&tenant);
}

static void s_get_customer(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__GetCustomerRequest *req = (const Crm__GetCustomerRequest *)msg;
    Crm__Customer *c = s_load(call, req->id, false);
    cm_perm_hide_customer(call->hdr->principal, c);
    if (c)
        *resp = &c->base;
}

static bool s_etag_matches(struct cm_call *call, const Crm__Customer *c, const char *etag)
{
    if (etag[0] && strcmp(etag, c->etag) != 0) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "customer %s changed since it was read (etag %s, now %s)", c->id, etag,
                     c->etag);
        return false;
    }
    return true;
}

Crm__Customer *customers_update_one(struct cm_call *call, const char *id, const char *etag,
                                    const Crm__Customer *in, char *const *mask, size_t n_mask,
                                    const struct customers_tenant *tenant, bool alone,
                                    Crm__Customer **before)
{
    Crm__Customer *old = NULL, *c = NULL, *stored = NULL;
    char **group_ids = NULL, **paths = NULL;
    size_t n_group_ids = 0, n_paths = 0;
    struct customers_changes ch = {0};

    old = s_load(call, id, true);
    if (!old || !s_etag_matches(call, old, etag))
        goto out;
    /* Output-only paths are ignored, so a client may send back what it read.
     * Every path is borrowed: from the request, or from the request arena. */
    paths = cm_calloc(n_mask + 1, sizeof *paths);
    for (size_t i = 0; i < n_mask; i++)
        if (!customers_check_output_only(mask[i]))
            paths[n_paths++] = mask[i];
    if (n_paths == 0 && n_mask == 0 && in) {
        /* No mask: every field the request sets. */
        json_t *given = cm_pbjson_encode(&in->base, CM_PBJSON_OMIT_DEFAULTS);
        const char *key;
        json_t *value;
        json_object_foreach(given, key, value)
        {
            if (!customers_check_output_only(key)) {
                paths = cm_realloc(paths, (n_paths + 1) * sizeof *paths);
                paths[n_paths++] = cm_call_strdup(call, key);
            }
        }
        json_decref(given);
    }
    c = (Crm__Customer *)cm_pb_clone(&old->base);
    Crm__Customer empty = CRM__CUSTOMER__INIT;
    struct cm_pbjson_error perr;
    if (cm_pb_apply_mask(&c->base, in ? &in->base : &empty.base, paths, n_paths, &perr)) {
        cm_call_violation(call, perr.field, "UNKNOWN_FIELD", "%s: %s", perr.field,
                          perr.description);
        goto out;
    }
    /* Who may not read the private description may not change it either: it
     * stays as stored (a client sends back what it read, without it). */
    if (!cm_perm_private(call->hdr->principal))
        cm_pb_set_str(&c->description, old->description);
    customers_check(call, c, old, tenant, cm_now_ms());
    if (cm_call_failed(call))
        goto out;
    group_ids = s_group_ids(call, c);
    n_group_ids = c->n_groups;
    if (cm_call_failed(call))
        goto out;
    s_check_unique(call, c, old->id, alone);
    if (cm_call_failed(call))
        goto out;
    customers_changes_compute(&ch, old, c);
    if (ch.n == 0) {
        /* Nothing changed: no new version, no event. */
        stored = old;
        old = NULL;
        goto out;
    }
    bool links_changed = false;
    for (size_t i = 0; i < ch.n; i++)
        links_changed = links_changed || !strncmp(ch.items[i]->field, "groups", 6) ||
                        !strncmp(ch.items[i]->field, "externalIds", 11);
    struct customers_stamp stamp;
    cm_err_t err = customers_store_update(call->db, TENANT(call), c, group_ids, n_group_ids,
                                          links_changed, &stamp);
    if (err) {
        if (!s_email_taken(call, err, c, old->id))
            cm_call_db_fail(call, err, "could not update customer");
        goto out;
    }
    /* Unchanged links are the ones read with the row: nothing to read back. */
    stored = links_changed ? s_load(call, old->id, false) : s_written(c, &stamp);
    if (stored && !s_record(call, old->id, "updated", "customer.updated", stored, &ch)) {
        crm__customer__free_unpacked(stored, NULL);
        stored = NULL;
    }
    if (stored && before) {
        *before = old;
        old = NULL;
    }
out:
    free(paths);
    if (ch.json)
        customers_changes_release(&ch);
    s_free_ids(group_ids, n_group_ids);
    if (old)
        crm__customer__free_unpacked(old, NULL);
    if (c)
        crm__customer__free_unpacked(c, NULL);
    return stored;
}

static void s_update_customer(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp)
{
    const Crm__UpdateCustomerRequest *req = (const Crm__UpdateCustomerRequest *)msg;
    struct customers_tenant tenant = {0};
    if (customers_tenant_of(call, &tenant)) {
        Crm__Customer *stored =
            customers_update_one(call, req->id, req->etag, req->customer, req->update_mask,
                                 req->n_update_mask, &tenant, true, NULL);
        cm_perm_hide_customer(call->hdr->principal, stored);
        if (stored)
            *resp = &stored->base;
    }
    customers_tenant_release(&tenant);
}

/* The records merged into a deleted customer go with it: their ids stop
 * leading anywhere (they would tell that two records were one person), and
 * their events before the merge, which the merge left as they were, lose
 * their personal data as the customer's own do. */
static cm_err_t s_erase_merged(struct cm_call *call, const char *id)
{
    char **ids = NULL;
    size_t n = 0;
    cm_err_t err = customers_merge_store_forget(call->db, TENANT(call), id, &ids, &n);
    for (size_t i = 0; !err && i < n; i++)
        err = customers_events_erase(call->db, TENANT(call), ids[i]);
    s_free_ids(ids, n);
    return err;
}

/* Deletes one customer with its audit entry and event. Returns false on a
 * failure (already reported on call); *found tells whether it existed. */
static bool s_delete_one(struct cm_call *call, const char *id, const char *etag, bool *found)
{
    *found = false;
    if (!customers_check_uuid(id))
        return true;
    Crm__Customer *old = NULL;
    cm_err_t err = customers_store_get(call->db, TENANT(call), id, true, &old);
    if (err) {
        cm_call_db_fail(call, err, "could not read customer");
        return false;
    }
    if (!old)
        return true;
    bool ok = false;
    struct customers_changes ch = {0};
    if (!s_etag_matches(call, old, etag))
        goto out;
    err = customers_store_delete(call->db, TENANT(call), id, found);
    if (!err)
        err = customers_store_audit_redact(call->db, TENANT(call), id);
    if (!err)
        err = customers_events_erase(call->db, TENANT(call), id);
    if (!err)
        err = customers_access_store_erase(call->db, TENANT(call), id);
    if (!err)
        err = s_erase_merged(call, id);
    if (err) {
        cm_call_db_fail(call, err, "could not delete customer");
        goto out;
    }
    /* The audit of a deletion names the fields, not their values; its event
     * names the customer by id (and the version deleted), nothing more. */
    ch.json = json_array();
    Crm__Customer gone = CRM__CUSTOMER__INIT;
    gone.id = old->id;
    gone.etag = old->etag;
    ok = s_record(call, id, "deleted", "customer.deleted", &gone, &ch);
out:
    if (ch.json)
        customers_changes_release(&ch);
    crm__customer__free_unpacked(old, NULL);
    return ok;
}

static void s_delete_customer(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp)
{
    const Crm__DeleteCustomerRequest *req = (const Crm__DeleteCustomerRequest *)msg;
    bool found = false;
    if (!s_delete_one(call, req->id, req->etag, &found))
        return;
    if (!found) {
        /* A merged record's id says where it went, as GetCustomer does: an
         * import's revert leaves that customer (docs/exchange.md). */
        char into[CUSTOMERS_ID_SIZE];
        cm_err_t err = customers_merge_store_into(call->db, TENANT(call), req->id, into);
        if (err)
            cm_call_db_fail(call, err, "could not read customer");
        else if (into[0])
            cm_call_moved(call, "id", "MERGED", into, "customer was merged into %s", into);
        else
            cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", req->id);
        return;
    }
    cm_log_debug("deleted customer %s", req->id);
    *resp = cm_pb_new(&crm__empty__descriptor);
}

static void s_batch_delete(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__BatchDeleteCustomersRequest *req = (const Crm__BatchDeleteCustomersRequest *)msg;
    if (req->n_ids == 0) {
        cm_call_violation(call, "ids", "REQUIRED", "ids must list at least one customer id");
        return;
    }
    if (req->n_ids > BATCH_MAX) {
        cm_call_violation(call, "ids", "TOO_MANY", "at most %d ids per batch", BATCH_MAX);
        return;
    }
    Crm__BatchDeleteCustomersResponse *r = (Crm__BatchDeleteCustomersResponse *)cm_pb_new(
        &crm__batch_delete_customers_response__descriptor);
    r->deleted_ids = cm_calloc(req->n_ids, sizeof *r->deleted_ids);
    r->not_found_ids = cm_calloc(req->n_ids, sizeof *r->not_found_ids);
    for (size_t i = 0; i < req->n_ids; i++) {
        bool found = false, dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = !strcmp(req->ids[k], req->ids[i]);
        if (dup)
            continue;
        if (!s_delete_one(call, req->ids[i], "", &found)) {
            crm__batch_delete_customers_response__free_unpacked(r, NULL);
            return;
        }
        if (found)
            r->deleted_ids[r->n_deleted_ids++] = cm_strdup(req->ids[i]);
        else
            r->not_found_ids[r->n_not_found_ids++] = cm_strdup(req->ids[i]);
    }
    cm_log_info("batch deleted %zu customers", r->n_deleted_ids);
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Listing                                                                 */

struct s_order {
    const char *name;   // as in orderBy
    const char *column; // sort column
};

static const struct s_order s_orders[] = {
    {"lastName", "sort_last"},   {"firstName", "sort_first"}, {"email", "email"},
    {"createdAt", "created_at"}, {"updatedAt", "updated_at"},
};

/* Parses "lastName", "firstName desc", ... Returns the order or NULL. */
static const struct s_order *s_parse_order(const char *text, bool *desc)
{
    char name[32] = "", dir[8] = "";
    const char *s = text;
    while (*s == ' ')
        s++;
    size_t n = 0;
    while (*s && *s != ' ' && n + 1 < sizeof name)
        name[n++] = *s++;
    name[n] = '\0';
    while (*s == ' ')
        s++;
    n = 0;
    while (*s && *s != ' ' && n + 1 < sizeof dir)
        dir[n++] = (char)tolower((unsigned char)*s++);
    dir[n] = '\0';
    while (*s == ' ')
        s++;
    if (*s)
        return NULL;
    *desc = false;
    if (!strcmp(dir, "desc"))
        *desc = true;
    else if (dir[0] && strcmp(dir, "asc") != 0)
        return NULL;
    if (!name[0])
        name[0] = '\0';
    for (size_t i = 0; i < sizeof s_orders / sizeof *s_orders; i++)
        if (!strcmp(s_orders[i].name, name[0] ? name : "lastName"))
            return &s_orders[i];
    return NULL;
}

/* Page tokens: "<order>.<a|d>.<base64url key>.<id>.<total>"; the total is the
 * first page's, so later pages need not count again. */
static char *s_token_make(const struct s_order *o, bool desc, const char *key, const char *id,
                          int32_t total)
{
    size_t klen = strlen(key);
    size_t blen = sodium_base64_encoded_len(klen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *b64 = cm_malloc(blen);
    sodium_bin2base64(b64, blen, (const unsigned char *)key, klen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *tok = cm_strfmt("%s.%c.%s.%s.%d", o->name, desc ? 'd' : 'a', b64, id, (int)total);
    free(b64);
    return tok;
}

static bool s_token_parse(const char *tok, const struct s_order *o, bool desc, char **key, char *id,
                          long *total)
{
    size_t nlen = strlen(o->name);
    if (strncmp(tok, o->name, nlen) != 0 || tok[nlen] != '.' ||
        tok[nlen + 1] != (desc ? 'd' : 'a') || tok[nlen + 2] != '.')
        return false;
    const char *b64 = tok + nlen + 3;
    const char *last = strrchr(b64, '.');
    if (!last || last == b64 || cm_parse_long(last + 1, 0, INT32_MAX, total))
        return false;
    const char *dot = last - 1;
    while (dot > b64 && *dot != '.')
        dot--;
    if (*dot != '.' || (size_t)(last - dot - 1) != 36)
        return false;
    char idbuf[CUSTOMERS_ID_SIZE];
    memcpy(idbuf, dot + 1, 36);
    idbuf[36] = '\0';
    if (!customers_check_uuid(idbuf))
        return false;
    size_t blen = (size_t)(dot - b64);
    unsigned char *bin = cm_malloc(blen + 1);
    size_t got = 0;
    if (sodium_base642bin(bin, blen, b64, blen, NULL, &got, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        !cm_utf8_valid((const char *)bin, got, NULL) || memchr(bin, 0, got)) {
        free(bin);
        return false;
    }
    bin[got] = '\0';
    *key = (char *)bin;
    snprintf(id, CUSTOMERS_ID_SIZE, "%s", idbuf);
    return true;
}

static void s_list_customers(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__ListCustomersRequest *req = (const Crm__ListCustomersRequest *)msg;
    struct customers_list_query q = {0};
    char *key = NULL, *next_key = NULL, *next_id = NULL, after_id[CUSTOMERS_ID_SIZE];
    bool desc = false;
    long known_total = -1;

    if (req->page_size < 0 || req->page_size > PAGE_MAX) {
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize must be 0..%d (0 means %d)",
                          PAGE_MAX, PAGE_DEFAULT);
        return;
    }
    const struct s_order *o = s_parse_order(req->order_by, &desc);
    if (!o) {
        cm_call_violation(call, "orderBy", "INVALID_FORMAT",
                          "orderBy must be one of lastName, firstName, email, createdAt, "
                          "updatedAt, optionally followed by asc or desc");
        return;
    }
    if (req->page_token[0]) {
        if (!s_token_parse(req->page_token, o, desc, &key, after_id, &known_total)) {
            cm_call_violation(call, "pageToken", "INVALID_FORMAT",
                              "pageToken is not valid for this orderBy; start again without it");
            return;
        }
        q.after_key = key;
        q.after_id = after_id;
    }
    q.order_column = o->column;
    q.desc = desc;
    q.group = req->group;
    q.tag = req->tag;
    q.is_company = req->is_company ? req->is_company->value : -1;
    q.has_account = req->has_account ? req->has_account->value : -1;
    q.account_status = (int)req->account_status;
    q.limit = req->page_size ? req->page_size : PAGE_DEFAULT;
    q.known_total = known_total;
    Crm__ListCustomersResponse *r =
        (Crm__ListCustomersResponse *)cm_pb_new(&crm__list_customers_response__descriptor);
    cm_err_t err = customers_store_list(call->db, TENANT(call), &q, r, &next_key, &next_id);
    free(key);
    if (err) {
        cm_call_db_fail(call, err, "could not list customers");
        crm__list_customers_response__free_unpacked(r, NULL);
        return;
    }
    if (next_key) {
        char *tok = s_token_make(o, desc, next_key, next_id, r->total_size);
        cm_pb_set_str(&r->next_page_token, tok);
        free(tok);
    }
    free(next_key);
    free(next_id);
    for (size_t i = 0; i < r->n_customers; i++)
        cm_perm_hide_customer(call->hdr->principal, r->customers[i]);
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Photo                                                                   */

/* Bumps the customer's version and records hasPhoto changing. */
static bool s_photo_changed(struct cm_call *call, Crm__Customer *old)
{
    struct customers_changes ch = {0};
    bool ok = false;
    cm_err_t err = customers_store_touch(call->db, TENANT(call), old->id);
    if (err) {
        cm_call_db_fail(call, err, "could not update customer");
        return false;
    }
    Crm__Customer *now = s_load(call, old->id, false);
    if (!now)
        return false;
    customers_changes_compute(&ch, old, now);
    ok = s_record(call, old->id, "photo_changed", "customer.updated", now, &ch);
    customers_changes_release(&ch);
    crm__customer__free_unpacked(now, NULL);
    return ok;
}

static void s_put_photo(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__PutPhotoRequest *req = (const Crm__PutPhotoRequest *)msg;
    if (req->data.len == 0) {
        cm_call_violation(call, "photo", "REQUIRED", "the photo is empty");
        return;
    }
    if (req->data.len > CUSTOMERS_PHOTO_MAX) {
        cm_call_violation(call, "photo", "TOO_LARGE", "the photo is %zu bytes; at most %d",
                          req->data.len, CUSTOMERS_PHOTO_MAX);
        return;
    }
    const char *type = customers_check_image_type(req->data.data, req->data.len);
    if (!type) {
        cm_call_violation(call, "photo", "INVALID_FORMAT",
                          "the photo must be a JPEG, PNG or WebP image");
        return;
    }
    Crm__Customer *old = s_load(call, req->id, true);
    if (!old)
        return;
    cm_err_t err = customers_store_photo_put(call->db, TENANT(call), req->id, type, req->data.data,
                                             req->data.len);
    if (err)
        cm_call_db_fail(call, err, "could not store photo");
    else if (s_photo_changed(call, old)) {
        Crm__Photo *ph = (Crm__Photo *)cm_pb_new(&crm__photo__descriptor);
        cm_pb_set_str(&ph->id, req->id);
        cm_pb_set_str(&ph->content_type, type);
        char when[40];
        cm_pb_set_str(&ph->updated_at, cm_time_rfc3339(cm_now_ms(), when, sizeof when));
        *resp = &ph->base;
    }
    crm__customer__free_unpacked(old, NULL);
}

static void s_get_photo(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetPhotoRequest *req = (const Crm__GetPhotoRequest *)msg;
    Crm__Photo *ph = NULL;
    if (!customers_check_uuid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", req->id);
        return;
    }
    cm_err_t err = customers_store_photo_get(call->db, TENANT(call), req->id, &ph);
    if (err)
        cm_call_db_fail(call, err, "could not read photo");
    else if (!ph)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "customer %s has no photo", req->id);
    else
        *resp = &ph->base;
}

static void s_delete_photo(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__DeletePhotoRequest *req = (const Crm__DeletePhotoRequest *)msg;
    Crm__Customer *old = s_load(call, req->id, true);
    if (!old)
        return;
    bool found = false;
    cm_err_t err = customers_store_photo_delete(call->db, TENANT(call), req->id, &found);
    if (err)
        cm_call_db_fail(call, err, "could not delete photo");
    else if (!found)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "customer %s has no photo", req->id);
    else if (s_photo_changed(call, old))
        *resp = cm_pb_new(&crm__empty__descriptor);
    crm__customer__free_unpacked(old, NULL);
}

/* ---------------------------------------------------------------------- */
/* Audit                                                                   */

static void s_list_audit(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ListAuditRequest *req = (const Crm__ListAuditRequest *)msg;
    long before = 0;
    if (req->page_size < 0 || req->page_size > PAGE_MAX) {
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize must be 0..%d", PAGE_MAX);
        return;
    }
    if (req->page_token[0] && cm_parse_long(req->page_token, 1, INT64_MAX, &before)) {
        cm_call_violation(call, "pageToken", "INVALID_FORMAT", "pageToken is not valid");
        return;
    }
    if (!customers_check_uuid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", req->id);
        return;
    }
    Crm__ListAuditResponse *r =
        (Crm__ListAuditResponse *)cm_pb_new(&crm__list_audit_response__descriptor);
    cm_err_t err = customers_store_audit_list(call->db, TENANT(call), req->id, before,
                                              req->page_size ? req->page_size : PAGE_DEFAULT, r);
    if (err) {
        cm_call_db_fail(call, err, "could not read audit");
        crm__list_audit_response__free_unpacked(r, NULL);
        return;
    }
    if (r->n_entries == 0 && !req->page_token[0]) {
        /* No history at all: the customer never existed here. */
        crm__list_audit_response__free_unpacked(r, NULL);
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", req->id);
        return;
    }
    for (size_t i = 0; i < r->n_entries; i++)
        cm_perm_hide_changes(call->hdr->principal, r->entries[i]->changes,
                             r->entries[i]->n_changes);
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Groups                                                                  */

static void s_check_group(struct cm_call *call, Crm__Group *g)
{
    char *t;
    /* Trim the name by rebuilding it. */
    const char *s = g->name;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    t = cm_strndup(s, n);
    cm_pb_set_str(&g->name, t);
    free(t);
    if (!g->name[0])
        cm_call_violation(call, "name", "REQUIRED", "a group needs a name");
    else if (customers_validate_length(g->name, CUSTOMERS_NAME_MAX))
        cm_call_violation(call, "name", "TOO_LONG", "name is too long: at most %d characters",
                          CUSTOMERS_NAME_MAX);
    if (customers_validate_length(g->description, 1000))
        cm_call_violation(call, "description", "TOO_LONG",
                          "description is too long: at most 1000 characters");
    if (g->color[0] && customers_validate_color(g->color))
        cm_call_violation(call, "color", "INVALID_FORMAT", "color must look like #1a2b3c");
}

static void s_group_unique(struct cm_call *call, const Crm__Group *g, const char *self_id)
{
    char other[CUSTOMERS_ID_SIZE];
    cm_err_t err = customers_store_group_by_name(call->db, TENANT(call), g->name, other);
    if (err)
        cm_call_db_fail(call, err, "could not check group name");
    else if (other[0] && (!self_id || strcmp(other, self_id) != 0))
        cm_call_duplicate(call, "name", other, "group %s already has this name", other);
}

static void s_create_group(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__CreateGroupRequest *req = (const Crm__CreateGroupRequest *)msg;
    Crm__Group *g = req->group ? (Crm__Group *)cm_pb_clone(&req->group->base)
                               : (Crm__Group *)cm_pb_new(&crm__group__descriptor);
    s_check_group(call, g);
    if (!cm_call_failed(call))
        s_group_unique(call, g, NULL);
    if (!cm_call_failed(call)) {
        char id[CUSTOMERS_ID_SIZE];
        cm_uuid(id);
        cm_err_t err = customers_store_group_insert(call->db, TENANT(call), id, g);
        Crm__Group *stored = NULL;
        if (!err)
            err = customers_store_group_get(call->db, TENANT(call), id, false, &stored);
        if (err)
            cm_call_db_fail(call, err, "could not insert group");
        else
            *resp = &stored->base;
    }
    crm__group__free_unpacked(g, NULL);
}

static Crm__Group *s_load_group(struct cm_call *call, const char *id, bool for_update)
{
    Crm__Group *g = NULL;
    if (!customers_check_uuid(id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no group %s", id);
        return NULL;
    }
    cm_err_t err = customers_store_group_get(call->db, TENANT(call), id, for_update, &g);
    if (err)
        cm_call_db_fail(call, err, "could not read group");
    else if (!g)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no group %s", id);
    return g;
}

static void s_get_group(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetGroupRequest *req = (const Crm__GetGroupRequest *)msg;
    Crm__Group *g = s_load_group(call, req->id, false);
    if (g)
        *resp = &g->base;
}

static void s_list_groups(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    (void)msg;
    Crm__ListGroupsResponse *r =
        (Crm__ListGroupsResponse *)cm_pb_new(&crm__list_groups_response__descriptor);
    cm_err_t err = customers_store_group_list(call->db, TENANT(call), r);
    if (err) {
        cm_call_db_fail(call, err, "could not list groups");
        crm__list_groups_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

/* A group's members changed how they look (renamed or deleted group): one
 * customer.updated event each, so subscribers' copies follow. before[i] is
 * each member as it was. */
static bool s_group_members_changed(struct cm_call *call, Crm__Customer **before, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        Crm__Customer *now = s_load(call, before[i]->id, false);
        if (!now)
            return false;
        struct customers_changes ch;
        customers_changes_compute(&ch, before[i], now);
        bool ok = s_record(call, now->id, "updated", "customer.updated", now, &ch);
        customers_changes_release(&ch);
        crm__customer__free_unpacked(now, NULL);
        if (!ok)
            return false;
    }
    return true;
}

static Crm__Customer **s_members_before(struct cm_call *call, const char *group_id, size_t *n)
{
    char **ids = NULL;
    *n = 0;
    cm_err_t err = customers_store_group_members(call->db, TENANT(call), group_id, &ids, n);
    if (err) {
        cm_call_db_fail(call, err, "could not list group members");
        return NULL;
    }
    Crm__Customer **out = *n ? cm_calloc(*n, sizeof *out) : NULL;
    size_t got = 0;
    for (size_t i = 0; i < *n; i++) {
        Crm__Customer *c = NULL;
        if (!cm_call_failed(call)) {
            err = customers_store_get(call->db, TENANT(call), ids[i], true, &c);
            if (err)
                cm_call_db_fail(call, err, "could not read group member");
        }
        if (c)
            out[got++] = c;
        free(ids[i]);
    }
    free(ids);
    *n = got;
    return out;
}

static void s_free_customers(Crm__Customer **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        crm__customer__free_unpacked(list[i], NULL);
    free(list);
}

static void s_update_group(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__UpdateGroupRequest *req = (const Crm__UpdateGroupRequest *)msg;
    Crm__Group *g = s_load_group(call, req->id, true);
    if (!g)
        return;
    char *old_name = cm_strdup(g->name);
    Crm__Customer **members = NULL;
    size_t n_members = 0;
    Crm__Group empty = CRM__GROUP__INIT;
    struct cm_pbjson_error perr;
    char **paths = req->update_mask;
    size_t n_paths = req->n_update_mask;
    static char *all[] = {"name", "description", "color"};
    if (n_paths == 0) {
        paths = all;
        n_paths = 3;
    }
    for (size_t i = 0; i < n_paths; i++) {
        if (strcmp(paths[i], "name") && strcmp(paths[i], "description") &&
            strcmp(paths[i], "color") && strcmp(paths[i], "id") && strcmp(paths[i], "createdAt") &&
            strcmp(paths[i], "updatedAt") && strcmp(paths[i], "customerCount")) {
            cm_call_violation(call, paths[i], "UNKNOWN_FIELD", "%s cannot be changed", paths[i]);
            goto out;
        }
    }
    Crm__Group *src = req->group ? req->group : &empty;
    for (size_t i = 0; i < n_paths; i++) {
        char *one[] = {paths[i]};
        if (!strcmp(paths[i], "name") || !strcmp(paths[i], "description") ||
            !strcmp(paths[i], "color")) {
            if (cm_pb_apply_mask(&g->base, &src->base, one, 1, &perr)) {
                cm_call_violation(call, perr.field, "UNKNOWN_FIELD", "%s", perr.description);
                goto out;
            }
        }
    }
    s_check_group(call, g);
    if (!cm_call_failed(call))
        s_group_unique(call, g, g->id);
    if (cm_call_failed(call))
        goto out;
    bool renamed = strcmp(old_name, g->name) != 0;
    if (renamed)
        members = s_members_before(call, g->id, &n_members);
    if (cm_call_failed(call))
        goto out;
    cm_err_t err = customers_store_group_update(call->db, TENANT(call), g);
    if (err) {
        cm_call_db_fail(call, err, "could not update group");
        goto out;
    }
    if (renamed && !s_group_members_changed(call, members, n_members))
        goto out;
    Crm__Group *stored = s_load_group(call, g->id, false);
    if (stored)
        *resp = &stored->base;
out:
    s_free_customers(members, n_members);
    free(old_name);
    crm__group__free_unpacked(g, NULL);
}

static void s_delete_group(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__DeleteGroupRequest *req = (const Crm__DeleteGroupRequest *)msg;
    Crm__Group *g = s_load_group(call, req->id, true);
    if (!g)
        return;
    size_t n_members = 0;
    Crm__Customer **members = s_members_before(call, g->id, &n_members);
    bool found = false;
    if (!cm_call_failed(call)) {
        cm_err_t err = customers_store_group_delete(call->db, TENANT(call), g->id, &found);
        if (err)
            cm_call_db_fail(call, err, "could not delete group");
        else if (s_group_members_changed(call, members, n_members))
            *resp = cm_pb_new(&crm__empty__descriptor);
    }
    s_free_customers(members, n_members);
    crm__group__free_unpacked(g, NULL);
}

static void s_list_tags(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    Crm__ListTagsResponse *r =
        (Crm__ListTagsResponse *)cm_pb_new(&crm__list_tags_response__descriptor);
    cm_err_t err = customers_store_tags(call->db, TENANT(call), r);
    if (err) {
        cm_call_db_fail(call, err, "could not list tags");
        crm__list_tags_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Settings                                                                */

static Crm__Settings *s_settings_of(const struct customers_tenant *t)
{
    Crm__Settings *s = (Crm__Settings *)cm_pb_new(&crm__settings__descriptor);
    cm_pb_set_str(&s->default_country, t->default_country);
    cm_pb_set_str(&s->name, t->name);
    cm_pb_set_str(&s->vat_number, t->vat_number);
    cm_pb_set_str(&s->currency, t->currency);
    cm_pb_set_str(&s->effective_currency, t->effective_currency);
    cm_pb_set_str(&s->time_zone, t->time_zone);
    s->required_fields =
        t->n_required ? cm_calloc(t->n_required, sizeof *s->required_fields) : NULL;
    for (size_t i = 0; i < t->n_required; i++)
        s->required_fields[s->n_required_fields++] = cm_strdup(t->required_fields[i]);
    return s;
}

static void s_get_settings(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    (void)msg;
    struct customers_tenant t = {0};
    if (customers_tenant_of(call, &t)) {
        Crm__Settings *s = s_settings_of(&t);
        *resp = &s->base;
    }
    customers_tenant_release(&t);
}

/* The principal the request speaks for and the scopes it holds. */
static void s_who_am_i(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    const Crm__Principal *p = call->hdr->principal;
    Crm__Caller *w = (Crm__Caller *)cm_pb_new(&crm__caller__descriptor);
    cm_pb_set_str(&w->tenant_id, call->hdr->tenant_id);
    if (p) {
        cm_pb_set_str(&w->principal_id, p->id);
        cm_pb_set_str(&w->name, p->name);
        w->role = p->role;
        w->kind = p->kind;
    }
    w->scopes = cm_calloc(CM_SCOPE_LAST - CM_SCOPE_FIRST + 1, sizeof *w->scopes);
    for (int s = CM_SCOPE_FIRST; s <= CM_SCOPE_LAST; s++)
        if (cm_perm_allows(p, (enum cm_scope)s))
            w->scopes[w->n_scopes++] = cm_strdup(cm_scope_name((enum cm_scope)s));
    *resp = &w->base;
}

static bool s_requirable(const char *name)
{
    for (const char *const *f = customers_requirable_fields; *f; f++)
        if (!strcmp(*f, name))
            return true;
    return false;
}

/* Checks the time zone a business sets (one it already has stays good, even
 * should PostgreSQL's list drop it); false only when the check itself
 * failed (the call is failed then). */
static bool s_time_zone_ok(struct cm_call *call, const char *zone, const char *before)
{
    if (strlen(zone) > CUSTOMERS_TIME_ZONE_MAX) {
        cm_call_violation(call, "timeZone", "TOO_LONG",
                          "timeZone is too long: at most %d characters", CUSTOMERS_TIME_ZONE_MAX);
        return true;
    }
    if (!strcmp(zone, before))
        return true;
    bool known = false;
    cm_err_t err = customers_store_time_zone_known(call->db, zone, &known);
    if (err) {
        cm_call_db_fail(call, err, "could not read the time zones");
        return false;
    }
    if (!known)
        cm_call_violation(call, "timeZone", "INVALID_VALUE",
                          "timeZone must be an IANA time zone name such as Europe/Sofia");
    return true;
}

static void s_update_settings(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp)
{
    const Crm__UpdateSettingsRequest *req = (const Crm__UpdateSettingsRequest *)msg;
    struct customers_tenant t = {0};
    if (!customers_tenant_of(call, &t))
        return;
    Crm__Settings *s = s_settings_of(&t);
    Crm__Settings empty = CRM__SETTINGS__INIT;
    struct cm_pbjson_error perr;
    static char *all[] = {"defaultCountry", "requiredFields", "name",
                          "vatNumber",      "currency",       "timeZone"};
    char **paths = req->n_update_mask ? req->update_mask : all;
    size_t n_paths = req->n_update_mask ? req->n_update_mask : sizeof all / sizeof *all;
    if (cm_pb_apply_mask(&s->base, req->settings ? &req->settings->base : &empty.base, paths,
                         n_paths, &perr)) {
        cm_call_violation(call, perr.field, "UNKNOWN_FIELD", "%s", perr.description);
        goto out;
    }
    for (char *p = s->default_country; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    if (s->default_country[0] && customers_validate_country(s->default_country))
        cm_call_violation(call, "defaultCountry", "INVALID_FORMAT",
                          "defaultCountry must be an ISO 3166-1 alpha-2 code such as PL");
    for (size_t i = 0; i < s->n_required_fields; i++) {
        if (!s_requirable(s->required_fields[i])) {
            char f[40];
            snprintf(f, sizeof f, "requiredFields[%zu]", i);
            cm_call_violation(call, f, "INVALID_FORMAT",
                              "%s cannot be required; choose from firstName, lastName, email, "
                              "phone, gender, birthDate, description, groups, tags, company, "
                              "addresses, salesAgent",
                              s->required_fields[i]);
        }
    }
    if (customers_validate_length(s->name, 200))
        cm_call_violation(call, "name", "TOO_LONG", "name is too long: at most 200 characters");
    for (char *p = s->currency; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    if (s->currency[0] && !cm_money_taken(s->currency))
        cm_call_violation(call, "currency", "INVALID_FORMAT",
                          "currency must be an ISO 4217 code the suite takes (%s), or empty for "
                          "the country's",
                          CM_MONEY_CURRENCIES);
    if (s->vat_number[0]) {
        char vat[CUSTOMERS_VAT_SIZE];
        const char *why = NULL;
        if (customers_validate_vat(s->vat_number, vat, sizeof vat, &why))
            cm_call_violation(call, "vatNumber", "INVALID_FORMAT",
                              "vatNumber is not a valid EU VAT number: %s", why);
        else
            cm_pb_set_str(&s->vat_number, vat);
    }
    if (!s->time_zone[0])
        cm_pb_set_str(&s->time_zone, "UTC");
    if (!s_time_zone_ok(call, s->time_zone, t.time_zone))
        goto out;
    if (cm_call_failed(call))
        goto out;
    char before[sizeof t.effective_currency];
    snprintf(before, sizeof before, "%s", t.effective_currency);
    customers_tenant_release(&t);
    snprintf(t.default_country, sizeof t.default_country, "%s", s->default_country);
    t.required_fields = s->required_fields;
    t.n_required = s->n_required_fields;
    t.name = s->name;
    t.vat_number = s->vat_number;
    snprintf(t.currency, sizeof t.currency, "%s", s->currency);
    snprintf(t.time_zone, sizeof t.time_zone, "%s", s->time_zone);
    cm_err_t err = customers_store_tenant_update(call->db, TENANT(call), &t);
    memset(&t, 0, sizeof t);
    customers_tenant_cache_forget(TENANT(call));
    if (err) {
        cm_call_db_fail(call, err, "could not update settings");
        goto out;
    }
    /* Read back: the effective currency follows the country. Once money is
     * on accounts or vouchers it stays (the wallet's amounts are in it). */
    if (!customers_tenant_of(call, &t))
        goto out;
    if (strcmp(before, t.effective_currency)) {
        bool any = false;
        err = customers_wallet_store_has_money(call->db, TENANT(call), &any);
        if (err) {
            cm_call_db_fail(call, err, "could not read the wallet");
            goto out;
        }
        if (any) {
            cm_call_fail(call, CM_ERR_PRECONDITION,
                         "the currency is settled: money on accounts or vouchers are in %s",
                         before);
            cm_call_violation(call, "currency", "SETTLED", "it stays %s", before);
            goto out;
        }
    }
    err = customers_events_settings(call->db, call->hdr, &t);
    if (err) {
        cm_call_db_fail(call, err, "could not store the settings event");
        goto out;
    }
    Crm__Settings *settings = s_settings_of(&t);
    *resp = &settings->base;
out:
    if (s)
        crm__settings__free_unpacked(s, NULL);
    customers_tenant_release(&t);
}

/* ---------------------------------------------------------------------- */
/* Internal methods                                                        */

static void s_authenticate(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__AuthenticateRequest *req = (const Crm__AuthenticateRequest *)msg;
    uint8_t hash[32];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)req->api_key, strlen(req->api_key),
                       NULL, 0);
    Crm__AuthenticateResponse *r =
        (Crm__AuthenticateResponse *)cm_pb_new(&crm__authenticate_response__descriptor);
    bool found = false;
    cm_err_t err = customers_store_authenticate(call->db, hash, sizeof hash, &found, r);
    /* Its last use: written at most once a minute per key (the gateway asks
     * only when its cache has forgotten the key). */
    if (!err && found)
        err = customers_keys_store_touch(call->db, r->principal->id);
    if (err || !found) {
        if (err)
            cm_call_db_fail(call, err, "could not check api key");
        else
            cm_call_fail(call, CM_ERR_NOT_FOUND, "unknown api key");
        crm__authenticate_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

static void s_replay_events(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    /* A durable reader's position is recorded there (customers.stream_readers). */
    cm_outbox_serve_replay(call, &customers_outbox, (const Crm__ReplayEventsRequest *)msg, resp);
}

static void s_outbox_stats(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    (void)msg;
    Crm__OutboxStatsResponse *r =
        (Crm__OutboxStatsResponse *)cm_pb_new(&crm__outbox_stats_response__descriptor);
    cm_err_t err = customers_events_stats(call->db, r);
    if (err) {
        cm_call_db_fail(call, err, "could not read the outbox");
        crm__outbox_stats_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */

void customers_start(cm_svc_t *svc, void *user)
{
    struct customers_state *st = user;
    pthread_mutex_init(&st->relay_mu, NULL);
    st->pub = cm_events_pub_new(cm_svc_zctx(svc), st->events_in_endpoint);
    customers_staff_start(&st->staff);
}

void customers_stop(cm_svc_t *svc, void *user)
{
    struct customers_state *st = user;
    (void)svc;
    /* Whatever is still unpublished goes out with the next relay of any copy. */
    cm_events_pub_destroy(&st->pub);
    pthread_mutex_destroy(&st->relay_mu);
    customers_staff_stop(&st->staff);
}

/* The relay's rows are numbered and published under relay_mu, so this copy
 * publishes its events in order. */
static void s_relay(struct customers_state *st, cm_db_t *db)
{
    pthread_mutex_lock(&st->relay_mu);
    (void)cm_outbox_relay(db, &customers_outbox, st->pub);
    pthread_mutex_unlock(&st->relay_mu);
}

void customers_after_commit(cm_svc_t *svc, cm_db_t *db, void *user)
{
    (void)svc;
    s_relay(user, db);
}

void customers_tick(cm_svc_t *svc, void *user)
{
    struct customers_state *st = user;
    cm_db_t *db = cm_svc_db(svc);
    int64_t now = cm_mono_ms();
    s_relay(st, db);
    if (now >= st->next_heartbeat_ms) {
        pthread_mutex_lock(&st->relay_mu);
        cm_outbox_heartbeat(db, &customers_outbox, st->pub);
        pthread_mutex_unlock(&st->relay_mu);
        st->next_heartbeat_ms = now + 1000;
    }
    if (now >= st->next_expiry_ms) {
        if (customers_store_idempotency_expire(db, 24))
            cm_log_warn("could not expire idempotency keys: %s", cm_db_error(db));
        st->next_expiry_ms = now + 3600 * 1000;
    }
    customers_staff_tick(&st->staff, svc, now);
    if (now >= st->next_access_prune_ms) {
        long deleted = customers_access_prune(db);
        st->next_access_prune_ms =
            now + (deleted >= CUSTOMERS_ACCESS_PRUNE_BATCH ? PRUNE_BACKLOG_MS : PRUNE_EVERY_MS);
    }
    if (st->outbox_retain_days > 0 && now >= st->next_prune_ms) {
        long deleted = 0;
        uint64_t gone = 0;
        char held[200];
        cm_err_t err =
            cm_outbox_prune(db, &customers_outbox, st->outbox_retain_days * 86400,
                            st->outbox_readers, PRUNE_BATCH, &deleted, &gone, held, sizeof held);
        if (!err && deleted)
            cm_log_info("outbox: deleted %ld events; events up to seq %" PRIu64 " are gone",
                        deleted, gone);
        if (err)
            cm_log_warn("could not prune the outbox: %s", cm_db_error(db));
        else if (!strncmp(held, "unregistered", 12))
            cm_log_info("outbox: nothing deleted, a reader has not registered yet (%s)", held);
        else
            cm_log_debug("outbox: pruned %ld events older than %ld days%s%s", deleted,
                         st->outbox_retain_days, *held ? ", held back by " : "", held);
        st->next_prune_ms = now + (deleted >= PRUNE_BATCH ? PRUNE_BACKLOG_MS : PRUNE_EVERY_MS);
    }
}

#define M(name, req, resp, fn, flags, scope)                                                       \
    CM_METHOD("customers", name, req, resp, fn, flags, scope)

const struct cm_method customers_methods[] = {
    M("CreateCustomer", create_customer_request, customer, s_create_customer,
      CM_METHOD_WRITE | CM_METHOD_CLAIM_LATE, CUSTOMERS_WRITE),
    M("GetCustomer", get_customer_request, customer, s_get_customer, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("UpdateCustomer", update_customer_request, customer, s_update_customer,
      CM_METHOD_WRITE | CM_METHOD_CLAIM_LATE, CUSTOMERS_WRITE),
    M("DeleteCustomer", delete_customer_request, empty, s_delete_customer,
      CM_METHOD_WRITE | CM_METHOD_CLAIM_LATE, CUSTOMERS_WRITE),
    M("MergeCustomers", merge_customers_request, merge_customers_response, customers_merge,
      CM_METHOD_WRITE | CM_METHOD_CLAIM_LATE, CUSTOMERS_WRITE),
    M("BatchDeleteCustomers", batch_delete_customers_request, batch_delete_customers_response,
      s_batch_delete, CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("ListCustomers", list_customers_request, list_customers_response, s_list_customers,
      CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("PutPhoto", put_photo_request, photo, s_put_photo, CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("GetPhoto", get_photo_request, photo, s_get_photo, CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("DeletePhoto", delete_photo_request, empty, s_delete_photo, CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("ListAudit", list_audit_request, list_audit_response, s_list_audit, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("CreateGroup", create_group_request, group, s_create_group, CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("GetGroup", get_group_request, group, s_get_group, CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("ListGroups", list_groups_request, list_groups_response, s_list_groups, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("UpdateGroup", update_group_request, group, s_update_group, CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("DeleteGroup", delete_group_request, empty, s_delete_group, CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("ListTags", list_tags_request, list_tags_response, s_list_tags, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("WhoAmI", get_caller_request, caller, s_who_am_i, CM_METHOD_NO_TXN, AUTHENTICATED),
    M("GetSettings", get_settings_request, settings, s_get_settings, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("UpdateSettings", update_settings_request, settings, s_update_settings, CM_METHOD_WRITE,
      SETTINGS),
    M("Authenticate", authenticate_request, authenticate_response, s_authenticate,
      CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN, INTERNAL),
    M("ReplayEvents", replay_events_request, replay_events_response, s_replay_events,
      CM_METHOD_NO_TENANT, EVENTS_READ),
    M("OutboxStats", outbox_stats_request, outbox_stats_response, s_outbox_stats,
      CM_METHOD_NO_TENANT, INTERNAL),
    /* -- search: snapshot methods (customers_snapshot.c) -- */
    M("SnapshotCustomers", snapshot_customers_request, snapshot_customers_response,
      customers_snapshot, CM_METHOD_NO_TENANT, INTERNAL),
    /* -- company: a VAT check recorded on the customer (customers_vat.c) -- */
    M("RecordVatCheck", record_vat_check_request, customer, customers_vat_record, CM_METHOD_WRITE,
      CUSTOMERS_WRITE),
    /* -- intake: identity resolution (customers_resolve.c) -- */
    CM_METHOD_PREPARED("customers", "ResolveCustomer", resolve_customer_request,
                       resolve_customer_response, customers_resolve_prepare, customers_resolve,
                       CM_METHOD_WRITE, EVENTS_PUBLISH),
    M("ResolveKnown", resolve_known_request, resolve_known_response, customers_resolve_known,
      CM_METHOD_NO_TXN, EVENTS_PUBLISH),
    /* -- import: matching rows of a file (customers_match.c) -- */
    M("MatchCustomers", match_customers_request, match_customers_response, customers_match,
      CM_METHOD_NO_TXN, EXCHANGE),
    M("ImportCustomers", import_customers_request, import_customers_response, customers_import,
      CM_METHOD_WRITE, EXCHANGE),
    /* -- staff accounts and sessions (customers_staff.c) -- */
    CUSTOMERS_STAFF_METHODS,
    /* -- price rules and the store's cart prices (customers_prices.c) -- */
    CUSTOMERS_PRICES_METHODS,
    /* -- API keys (customers_keys.c): the create's reply carries the secret, which must
     * not be kept in the idempotency table (a retried create makes a second key) -- */
    M("ListApiKeys", list_api_keys_request, list_api_keys_response, customers_keys_list,
      CM_METHOD_NO_TXN, STAFF),
    M("CreateApiKey", create_api_key_request, create_api_key_response, customers_keys_create, 0,
      STAFF),
    M("RevokeApiKey", revoke_api_key_request, empty, customers_keys_revoke, CM_METHOD_WRITE, STAFF),
    /* -- the wallet: money, points, vouchers (customers_wallet.c) -- */
    CUSTOMERS_WALLET_METHODS,
    /* -- subscriptions and packages (customers_subs.c) -- */
    CUSTOMERS_SUBS_METHODS,
    /* -- access control: zones, credentials, grants, the door (customers_access.c) -- */
    CUSTOMERS_ACCESS_METHODS,
};
const size_t customers_n_methods = sizeof customers_methods / sizeof *customers_methods;
