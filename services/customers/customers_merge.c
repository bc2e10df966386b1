/* Merging two records of one customer. */
#include "customers_merge.h"
#include "customers_changes.h"
#include "customers_check.h"
#include "customers_events.h"
#include "customers_handlers.h"
#include "customers_merge_rules.h"
#include "customers_merge_store.h"
#include "customers_store.h"
#include "customers_validate.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_perm.h"
#include "cm_util.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TENANT(call) ((call)->hdr->tenant_id)

/* What a merge works on: both records as stored (locked), the kept one as it
 * will be, and its groups' ids. */
struct s_merge {
    Crm__Customer *keep;   // owned
    Crm__Customer *dup;    // owned
    Crm__Customer *merged; // owned
    char **group_ids;      // owned, n_group_ids
    size_t n_group_ids;
};

static void s_merge_release(struct s_merge *m)
{
    if (m->keep)
        crm__customer__free_unpacked(m->keep, NULL);
    if (m->dup)
        crm__customer__free_unpacked(m->dup, NULL);
    if (m->merged)
        crm__customer__free_unpacked(m->merged, NULL);
    for (size_t i = 0; i < m->n_group_ids; i++)
        free(m->group_ids[i]);
    free(m->group_ids);
}

static bool s_etag_ok(struct cm_call *call, const Crm__Customer *c, const char *etag,
                      const char *field)
{
    if (!etag[0] || !strcmp(etag, c->etag))
        return true;
    cm_call_fail(call, CM_ERR_PRECONDITION, "customer %s changed since it was read (%s %s, now %s)",
                 c->id, field, etag, c->etag);
    return false;
}

/* Loads and locks both, in the order of their ids, so that two merges of the
 * same pair (either way round) queue rather than deadlock. */
static bool s_load_both(struct cm_call *call, const Crm__MergeCustomersRequest *req,
                        struct s_merge *m)
{
    bool keep_first = strcmp(req->id, req->duplicate_id) < 0;
    for (int i = 0; i < 2; i++) {
        bool keep = (i == 0) == keep_first;
        Crm__Customer *c = customers_load(call, keep ? req->id : req->duplicate_id,
                                          keep ? "id" : "duplicateId", true);
        if (!c)
            return false;
        if (keep)
            m->keep = c;
        else
            m->dup = c;
    }
    return s_etag_ok(call, m->keep, req->etag, "etag") &&
           s_etag_ok(call, m->dup, req->duplicate_etag, "duplicateEtag");
}

/* The kept record as it will be, checked as an update of it is. */
static bool s_plan(struct cm_call *call, const struct customers_tenant *tenant, struct s_merge *m)
{
    m->merged = (Crm__Customer *)cm_pb_clone(&m->keep->base);
    customers_merge_fields(m->merged, m->dup);
    /* Said in terms of the merge, before the field's own rule says it. */
    if (customers_validate_length(m->merged->description, CUSTOMERS_DESCRIPTION_MAX)) {
        cm_call_violation(call, "description", "TOO_LONG",
                          "the two records' descriptions together are longer than %d "
                          "characters: shorten one of them first",
                          CUSTOMERS_DESCRIPTION_MAX);
        return false;
    }
    customers_check(call, m->merged, m->keep, tenant, cm_now_ms());
    if (cm_call_failed(call))
        return false;
    if (!m->merged->n_groups)
        return true;
    m->group_ids = cm_calloc(m->merged->n_groups, sizeof *m->group_ids);
    m->n_group_ids = m->merged->n_groups;
    long missing = -1;
    cm_err_t err = customers_store_group_ids(call->db, TENANT(call), m->merged->groups,
                                             m->merged->n_groups, m->group_ids, &missing);
    if (err) {
        cm_call_db_fail(call, err, "could not resolve groups");
        return false;
    }
    return true;
}

/* Moves what the duplicate owns (or, dry, only checks it can); false with
 * the call failed when their money is in two currencies. */
static bool s_move_rows(struct cm_call *call, const struct s_merge *m, bool dry)
{
    bool clash = false;
    cm_err_t err =
        customers_merge_store_rows(call->db, TENANT(call), m->keep->id, m->dup->id, dry, &clash);
    if (err) {
        cm_call_db_fail(call, err, "could not merge customers");
        return false;
    }
    if (clash) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "the two customers hold money in different currencies");
        cm_call_violation(call, "duplicateId", "CURRENCY_MISMATCH",
                          "customer %s holds money in another currency than %s; settle one "
                          "account first",
                          m->dup->id, m->keep->id);
        return false;
    }
    return true;
}

/* The duplicate goes: its row (with its groups and external ids), its audit's
 * values as a deletion blanks them, and an audit entry saying where it went.
 * No customer.deleted and no erasure of its events: the history moves. */
static bool s_remove_duplicate(struct cm_call *call, const struct s_merge *m)
{
    bool found = false;
    cm_err_t err = customers_store_delete(call->db, TENANT(call), m->dup->id, &found);
    if (!err)
        err = customers_store_audit_redact(call->db, TENANT(call), m->dup->id);
    if (!err) {
        json_t *changes = json_pack("[{s:s, s:s, s:o}]", "field", "mergedInto", "oldValue", "",
                                    "newValue", json_sprintf("\"%s\"", m->keep->id));
        char *text = json_dumps(changes, JSON_COMPACT);
        json_decref(changes);
        err = customers_store_audit(call->db, TENANT(call), m->dup->id, "merged", call->hdr, text);
        free(text);
    }
    if (err) {
        cm_call_db_fail(call, err, "could not remove the duplicate");
        return false;
    }
    return true;
}

/* Writes the kept record with its audit entry and events; returns it as
 * stored (caller frees), or NULL with the call failed. */
static Crm__Customer *s_write_kept(struct cm_call *call, const struct s_merge *m)
{
    struct customers_stamp stamp;
    cm_err_t err = customers_store_update(call->db, TENANT(call), m->merged, m->group_ids,
                                          m->n_group_ids, true, &stamp);
    if (err) {
        cm_call_db_fail(call, err, "could not update the customer kept");
        return NULL;
    }
    Crm__Customer *stored = customers_load(call, m->keep->id, "id", false);
    if (!stored)
        return NULL;
    struct customers_changes ch = {0};
    customers_changes_compute(&ch, m->keep, stored);
    /* The audit says which record came in; the event's changes are the fields'. */
    json_array_insert_new(ch.json, 0,
                          json_pack("{s:s, s:s, s:o}", "field", "mergedId", "oldValue", "",
                                    "newValue", json_sprintf("\"%s\"", m->dup->id)));
    static const char *const types[] = {"customer.updated", NULL};
    bool ok = customers_changes_record(call, m->keep->id, "merged", types, stored, &ch);
    customers_changes_release(&ch);
    if (ok) {
        Crm__CustomerMergedEvent ev = CRM__CUSTOMER_MERGED_EVENT__INIT;
        ev.customer = stored;
        ev.merged_id = m->dup->id;
        ev.merged_etag = m->dup->etag;
        char *name =
            cm_strfmt("%s%s%s", m->dup->first_name,
                      m->dup->first_name[0] && m->dup->last_name[0] ? " " : "", m->dup->last_name);
        ev.merged_name = name;
        err = customers_events_add_payload(call->db, call->hdr, CUSTOMERS_MERGED_EVENT, &ev.base,
                                           m->keep->id);
        free(name);
        if (err) {
            cm_call_db_fail(call, err, "could not record the merge");
            ok = false;
        }
    }
    if (!ok) {
        crm__customer__free_unpacked(stored, NULL);
        return NULL;
    }
    return stored;
}

void customers_merge(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__MergeCustomersRequest *req = (const Crm__MergeCustomersRequest *)msg;
    struct customers_tenant tenant = {0};
    struct s_merge m = {0};
    Crm__Customer *out = NULL;
    if (!req->duplicate_id[0]) {
        cm_call_violation(call, "duplicateId", "REQUIRED",
                          "duplicateId must name the customer to merge into id");
        return;
    }
    if (!strcmp(req->id, req->duplicate_id)) {
        cm_call_violation(call, "duplicateId", "SAME_AS_ID",
                          "duplicateId names the customer kept: name another one");
        return;
    }
    if (!customers_tenant_of(call, &tenant) || !s_load_both(call, req, &m) ||
        !s_plan(call, &tenant, &m))
        goto out;
    if (req->validate_only) {
        if (s_move_rows(call, &m, true)) {
            out = m.merged;
            m.merged = NULL;
        }
        goto out;
    }
    /* The duplicate's row goes first: the kept one may take its e-mail and
     * external ids, which are unique in the tenant. */
    if (!s_move_rows(call, &m, false) || !s_remove_duplicate(call, &m))
        goto out;
    out = s_write_kept(call, &m);
    if (out)
        cm_log_debug("merged customer %s into %s", m.dup->id, m.keep->id);
out:
    if (out) {
        cm_perm_hide_customer(call->hdr->principal, out);
        Crm__MergeCustomersResponse *r =
            (Crm__MergeCustomersResponse *)cm_pb_new(&crm__merge_customers_response__descriptor);
        r->customer = out;
        *resp = &r->base;
    }
    s_merge_release(&m);
    customers_tenant_release(&tenant);
}
