/* customers.ImportCustomers: many rows of an imported file in one
 * transaction, each through the same code as CreateCustomer and
 * UpdateCustomer, each with a result of its own. */
#include "customers_import.h"
#include "customers_handlers.h"
#include "customers_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdlib.h>
#include <string.h>

/* A failure of the database (or a lost race) is the whole call's: it is
 * retried as a whole. Anything else is the row's own. */
static bool s_transient(const struct cm_call *sub)
{
    return sub->err == CM_ERR_UNAVAILABLE || sub->err == CM_ERR_INTERNAL ||
           sub->err == CM_ERR_TIMEOUT || (sub->err == CM_ERR_CONFLICT && !sub->reply.n_details);
}

/* Writes one row through a call of its own (so its failure stays its own);
 * fills res. Returns false when the whole call must fail (done on call). */
static bool s_row(struct cm_call *call, const Crm__ImportRow *row,
                  const struct customers_tenant *tenant, bool validate_only,
                  Crm__ImportRowResult *res)
{
    struct cm_call sub = *call;
    sub.err = CM_OK;
    sub.message[0] = '\0';
    crm__reply_header__init(&sub.reply);
    sub.raw = NULL;
    sub.prep = NULL;
    Crm__Customer *before = NULL, *stored;
    res->row = row->row;
    if (row->id[0])
        stored = customers_update_one(&sub, row->id, row->etag, row->customer, row->update_mask,
                                      row->n_update_mask, tenant, false, &before);
    else
        stored =
            customers_create_one(&sub, row->customer, CRM__SOURCE__SOURCE_IMPORT, tenant, false);
    if (!stored) {
        if (s_transient(&sub)) {
            cm_call_fail(call, sub.err, "row %lld: %s", (long long)row->row, sub.message);
            cm_call_reset(&sub);
            return false;
        }
        res->outcome = CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_FAILED;
        res->status = cm_err_status(sub.err);
        cm_pb_set_str(&res->message, sub.message);
        res->details = sub.reply.details;
        res->n_details = sub.reply.n_details;
        sub.reply.details = NULL;
        sub.reply.n_details = 0;
        return true;
    }
    if (!row->id[0])
        res->outcome = CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_CREATED;
    else if (before)
        res->outcome = CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_UPDATED;
    else
        res->outcome = CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_UNCHANGED;
    /* A customer only checked for creation does not exist. */
    if (!(validate_only && !row->id[0]))
        cm_pb_set_str(&res->customer_id, stored->id);
    cm_pb_set_str(&res->etag, stored->etag);
    if (before && !validate_only)
        res->before = before;
    else if (before)
        crm__customer__free_unpacked(before, NULL);
    crm__customer__free_unpacked(stored, NULL);
    return true;
}

void customers_import(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ImportCustomersRequest *req = (const Crm__ImportCustomersRequest *)msg;
    if (req->n_rows == 0) {
        cm_call_violation(call, "rows", "REQUIRED", "rows must hold at least one row");
        return;
    }
    if (req->n_rows > CUSTOMERS_IMPORT_MAX) {
        cm_call_violation(call, "rows", "TOO_MANY", "at most %d rows per call",
                          CUSTOMERS_IMPORT_MAX);
        return;
    }
    struct customers_tenant tenant = {0};
    if (!customers_tenant_of(call, &tenant))
        return;
    cm_err_t err = CM_OK;
    if (req->validate_only) {
        err = cm_db_run(call->db, "SAVEPOINT import_check", 0, NULL);
        if (err) {
            cm_call_db_fail(call, err, "could not start the check");
            goto out;
        }
    }
    Crm__ImportCustomersResponse *r =
        (Crm__ImportCustomersResponse *)cm_pb_new(&crm__import_customers_response__descriptor);
    r->results = cm_calloc(req->n_rows, sizeof *r->results);
    bool ok = true;
    long counts[5] = {0};
    for (size_t i = 0; i < req->n_rows && ok; i++) {
        Crm__ImportRowResult *res =
            (Crm__ImportRowResult *)cm_pb_new(&crm__import_row_result__descriptor);
        r->results[r->n_results++] = res;
        ok = s_row(call, req->rows[i], &tenant, req->validate_only, res);
        counts[res->outcome]++;
    }
    if (ok && req->validate_only) {
        err = cm_db_run(call->db, "ROLLBACK TO SAVEPOINT import_check", 0, NULL);
        if (err) {
            cm_call_db_fail(call, err, "could not undo the check");
            ok = false;
        }
    }
    if (!ok) {
        crm__import_customers_response__free_unpacked(r, NULL);
        goto out;
    }
    cm_log_debug("import rows=%zu%s created=%ld updated=%ld unchanged=%ld failed=%ld", req->n_rows,
                 req->validate_only ? " (checked only)" : "",
                 counts[CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_CREATED],
                 counts[CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_UPDATED],
                 counts[CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_UNCHANGED],
                 counts[CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_FAILED]);
    *resp = &r->base;
out:
    customers_tenant_release(&tenant);
}
