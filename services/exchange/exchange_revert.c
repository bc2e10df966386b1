/* Reverting an import (exchange.RevertImport): a job the import threads of
 * any copy take (exchange.claim_revert) once no import waits. It goes
 * through the rows the import wrote (exchange.import_rows), last row first,
 * a batch at a time: a customer the import created is deleted
 * (customers.DeleteCustomer), one it updated gets the fields the row set
 * back as they were (customers.UpdateCustomer with the state kept before
 * the row), each only if the customer is still at the version the import
 * left (the etag), else the row is skipped with its reason. Each call
 * carries the idempotency key "revert:<import id>:<row>", and a batch's
 * outcomes and counts are committed together, so a copy that stops leaves
 * the job to another, which goes on after the last committed batch and
 * does nothing twice. The customers' audit and timeline show each change
 * (channel "import"). */
#include "exchange_calls.h"
#include "exchange_handlers.h"
#include "exchange_import_store.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "exchange.pb-c.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BATCH 100
#define S_CALL_TIMEOUT_MS 15000

/* ---------------------------------------------------------------------- */
/* exchange.RevertImport                                                   */

void exchange_revert_import(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__RevertImportRequest *req = (const Crm__RevertImportRequest *)msg;
    const Crm__Principal *pr = call->hdr->principal;
    if (!exchange_is_uuid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no import %.64s", req->id);
        return;
    }
    Crm__Principal none = CRM__PRINCIPAL__INIT;
    size_t plen = crm__principal__get_packed_size(pr ? pr : &none);
    uint8_t *packed = cm_malloc(plen ? plen : 1);
    crm__principal__pack(pr ? pr : &none, packed);
    const struct exchange_state *st = call->user;
    int state = 0;
    bool dry = false, too_old = false, asked = false;
    cm_err_t err =
        exchange_istore_revert_ask(call->db, req->id, packed, plen, call->hdr->request_id,
                                   st->revert_days, &state, &dry, &too_old, &asked);
    free(packed);
    if (err == CM_ERR_NOT_FOUND) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no import %s", req->id);
        return;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not ask for the revert");
        return;
    }
    if (dry) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "import %s was a dry run and changed nothing: there is nothing to revert",
                     req->id);
        return;
    }
    if (state != CRM__IMPORT_STATE__IMPORT_STATE_DONE &&
        state != CRM__IMPORT_STATE__IMPORT_STATE_FAILED) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "import %s is still running; revert it once it is done", req->id);
        return;
    }
    if (!asked && too_old) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "import %s ended more than %ld days ago: what it did is no longer kept, "
                     "so it cannot be reverted",
                     req->id, st->revert_days);
        return;
    }
    exchange_worker_wake(call->user);
    Crm__Import *im = NULL;
    err = exchange_istore_get(call->db, req->id, &im);
    if (err)
        cm_call_db_fail(call, err, "could not read the import");
    else
        *resp = &im->base;
}

/* ---------------------------------------------------------------------- */
/* The job                                                                 */

/* One row of a batch and what became of it. */
struct s_row {
    long row;
    char action;           // 'c' delete what was created, 'u' restore what was updated
    const char *id;        // borrowed (the batch's result)
    const char *etag;      // borrowed (the batch's result)
    Crm__Customer *before; // owned ('u')
    char **mask;           // owned ('u')
    size_t n_mask;
    /* The outcome. */
    char done;       // 'r' reverted, 's' skipped, 0 not yet (a transient failure)
    const char *why; // static
    char message[300];
};

static void s_row_release(struct s_row *r)
{
    if (r->before)
        crm__customer__free_unpacked(r->before, NULL);
    cm_pbjson_free_paths(r->mask, r->n_mask);
}

/* The state before a 'u' row: the customer (proto3 JSON) and the fields
 * the row set. False when it cannot be read (never written so). */
static bool s_read_before(struct s_row *r, const char *before, const char *mask)
{
    json_t *b = json_loads(before, 0, NULL), *m = json_loads(mask, 0, NULL);
    struct cm_pbjson_error perr;
    r->before =
        b ? (Crm__Customer *)cm_pbjson_decode(&crm__customer__descriptor, b, NULL, &perr) : NULL;
    r->n_mask = json_array_size(m);
    r->mask = r->n_mask ? cm_calloc(r->n_mask, sizeof *r->mask) : NULL;
    for (size_t i = 0; i < r->n_mask; i++) {
        const char *p = json_string_value(json_array_get(m, i));
        r->mask[i] = cm_strdup(p ? p : "");
    }
    json_decref(b);
    json_decref(m);
    return r->before != NULL;
}

/* What customers' answer (not a transient failure) means for a row. */
static void s_outcome(struct s_row *r, const Crm__ReplyHeader *rh)
{
    r->done = 's';
    switch (rh->status) {
    case CRM__STATUS__STATUS_OK:
        r->done = 'r';
        break;
    case CRM__STATUS__STATUS_NOT_FOUND:
        /* Merged into another record since: that record holds another's
         * history too, so neither it nor its fields are undone. */
        if (rh->n_details && !strcmp(rh->details[0]->reason, "MERGED")) {
            r->why = "MERGED";
            snprintf(r->message, sizeof r->message,
                     "customer %s was merged into %s since the import; it was left as it is", r->id,
                     rh->details[0]->resource_id);
            break;
        }
        r->why = "GONE";
        snprintf(r->message, sizeof r->message, "customer %s was deleted since the import", r->id);
        break;
    case CRM__STATUS__STATUS_FAILED_PRECONDITION:
        r->why = "CHANGED";
        snprintf(r->message, sizeof r->message,
                 "customer %s changed since the import; it was left as it is now", r->id);
        break;
    default:
        r->why = "INVALID";
        snprintf(r->message, sizeof r->message, "customer %s: %s", r->id,
                 rh->n_details ? rh->details[0]->description : rh->message);
        break;
    }
}

/* Sends one kind of the batch's calls at once (deletes, or restores). */
static bool s_send(cm_mdp_client_t *client, const struct exchange_revert_job *job,
                   const Crm__Principal *principal, struct s_row *rows, size_t n, char action,
                   const char *tag)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += rows[i].action == action && !rows[i].done;
    if (!k)
        return true;
    struct exchange_calls x;
    exchange_calls_init(&x, k);
    Crm__DeleteCustomerRequest *del = cm_calloc(k, sizeof *del);
    Crm__UpdateCustomerRequest *upd = cm_calloc(k, sizeof *upd);
    struct s_row **of = cm_calloc(k, sizeof *of);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        struct s_row *r = &rows[i];
        if (r->action != action || r->done)
            continue;
        Crm__RequestHeader *h = &x.hdr[j];
        snprintf(x.rid[j], sizeof x.rid[j], "%.8s.v%ld.%s", job->id, r->row, tag);
        snprintf(x.key[j], sizeof x.key[j], "revert:%s:%ld", job->id, r->row);
        h->request_id = x.rid[j];
        h->tenant_id = (char *)job->tenant;
        h->principal = (Crm__Principal *)principal;
        h->channel = "import";
        h->idempotency_key = x.key[j];
        if (action == 'c') {
            h->method = "customers.DeleteCustomer";
            crm__delete_customer_request__init(&del[j]);
            del[j].id = (char *)r->id;
            del[j].etag = (char *)r->etag;
            x.req[j] = &del[j].base;
        } else {
            h->method = "customers.UpdateCustomer";
            crm__update_customer_request__init(&upd[j]);
            upd[j].id = (char *)r->id;
            upd[j].etag = (char *)r->etag;
            upd[j].customer = r->before;
            upd[j].update_mask = r->mask;
            upd[j].n_update_mask = r->n_mask;
            x.req[j] = &upd[j].base;
        }
        of[j++] = r;
    }
    exchange_calls_run(&x, client,
                       action == 'c' ? &crm__empty__descriptor : &crm__customer__descriptor,
                       S_CALL_TIMEOUT_MS);
    bool ok = true;
    for (j = 0; j < k; j++) {
        if (exchange_calls_transient(&x, j)) {
            cm_log_warn("revert of import %s row %ld: %s", job->id, of[j]->row,
                        exchange_calls_error(&x, j));
            ok = false;
        } else {
            s_outcome(of[j], x.rh[j]);
        }
    }
    exchange_calls_release(&x);
    free(del);
    free(upd);
    free(of);
    return ok;
}

/* One batch: its rows reverted and recorded. *more: rows may follow. */
static cm_err_t s_batch(cm_db_t *db, cm_mdp_client_t *client, struct exchange_revert_job *job,
                        const Crm__Principal *principal, const char *tag, bool *more)
{
    cm_err_t err = CM_OK;
    PGresult *res = exchange_istore_revert_rows(db, job->id, S_BATCH, &err);
    if (!res)
        return err;
    size_t n = (size_t)PQntuples(res);
    *more = n == S_BATCH;
    struct s_row *rows = cm_calloc(n ? n : 1, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        struct s_row *r = &rows[i];
        r->row = strtol(PQgetvalue(res, (int)i, 0), NULL, 10);
        r->action = PQgetvalue(res, (int)i, 1)[0];
        r->id = PQgetvalue(res, (int)i, 2);
        r->etag = PQgetvalue(res, (int)i, 3);
        if (r->action == 'u' &&
            !s_read_before(r, PQgetvalue(res, (int)i, 4), PQgetvalue(res, (int)i, 5))) {
            r->done = 's';
            r->why = "INVALID";
            snprintf(r->message, sizeof r->message, "the state before the import was not kept");
        }
    }
    bool ok = s_send(client, job, principal, rows, n, 'c', tag) &&
              s_send(client, job, principal, rows, n, 'u', tag);
    if (!ok) {
        err = CM_ERR_UNAVAILABLE;
        goto out;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        struct s_row *r = &rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "r", json_integer(r->row));
        json_object_set_new(o, "s", json_stringn(&r->done, 1));
        json_object_set_new(o, "why", json_string(r->why ? r->why : ""));
        json_object_set_new(o, "msg", json_string(r->message));
        json_array_append_new(a, o);
        job->done++;
        if (r->done == 's')
            job->skipped++;
        else if (r->action == 'c')
            job->removed++;
        else
            job->restored++;
    }
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    err = exchange_istore_revert_batch(db, job, text);
    free(text);
out:
    for (size_t i = 0; i < n; i++)
        s_row_release(&rows[i]);
    free(rows);
    PQclear(res);
    return err;
}

bool exchange_revert_next(struct exchange_state *st, cm_db_t *db, cm_mdp_client_t *client,
                          const char *owner, cm_err_t *errp)
{
    struct exchange_revert_job job = {0};
    bool found = false;
    cm_err_t err = cm_db_use_tenant(db, NULL);
    if (!err)
        err = exchange_istore_revert_claim(db, owner, EXCHANGE_STALE_S, &job, &found);
    if (!err && found)
        err = cm_db_use_tenant(db, job.tenant);
    if (!err && found)
        err = exchange_istore_revert_load(db, &job);
    Crm__Principal *principal = NULL;
    if (!err && found) {
        principal = exchange_job_principal(job.principal, job.principal_len, "revert");
        char tag[8];
        cm_random_hex(tag, 3);
        cm_log_info("revert of import %s taken by %s", job.id, owner);
        bool more = true;
        while (!err && more && !exchange_worker_stopping(st))
            err = s_batch(db, client, &job, principal, tag, &more);
        if (!err && !more)
            err = exchange_istore_revert_finish(db, &job);
        if (!err && !more)
            cm_log_info("revert of import %s done rows=%ld removed=%ld restored=%ld skipped=%ld",
                        job.id, job.done, job.removed, job.restored, job.skipped);
        else if (err)
            cm_log_warn("revert of import %s paused after %ld rows: %s; it is taken up again "
                        "later",
                        job.id, job.done, cm_err_name(err));
    }
    if (principal)
        crm__principal__free_unpacked(principal, NULL);
    exchange_revert_job_release(&job);
    *errp = err;
    return found;
}
