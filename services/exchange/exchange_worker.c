/* The import threads: each takes a waiting import (exchange.claim_import,
 * across tenants and copies; a revert, exchange_revert.c, when none waits),
 * reads its file part by part from PostgreSQL, parses it with libcsv (or,
 * for an Excel workbook, reads its first sheet through exchange_xlsx_read
 * from a temporary file), and turns each batch of rows into customers
 * through the customers service: customers.MatchCustomers finds who each
 * row is, the rows that are the same person as an earlier row of the file
 * are reported, and customers.ImportCustomers writes the rest, S_PER_CALL
 * rows a call, the calls of a batch at once (channel "import", so the
 * source is IMPORT and the audit and the timeline say so), each call with
 * the idempotency key "import:<import id>:b<its first row>"; a dry run
 * sends the same calls with validate_only. A batch's failed rows, counts,
 * progress and what its rows did (for a revert) are committed together; a
 * copy that stops mid-file leaves the job to be taken again (heartbeat
 * older than EXCHANGE_STALE_S), which resumes after the last committed
 * batch, and a batch done twice makes the same decisions (import_plans)
 * and writes nothing twice (the keys). Memory is one part, one batch and
 * libcsv's field. */
#include "exchange_calls.h"
#include "exchange_handlers.h"
#include "exchange_import_store.h"
#include "exchange_layout.h"
#include "exchange_rows.h"
#include "exchange_xlsx_read.h"
#include "exchange_pages.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "exchange.pb-c.h"

#include <csv.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_BATCH 500
#define S_SLICE (64 * 1024)
#define S_CALL_TIMEOUT_MS 15000

struct exchange_worker {
    pthread_t thread;
    struct exchange_state *st; // borrowed
    void *zctx;                // borrowed (cm_svc)
    int index;
    bool started;
};

/* One row waiting in the batch. */
struct s_item {
    long row;      // record number, the header being 1
    char **fields; // owned, n of them
    size_t n;
    size_t extra; // fields past EXCHANGE_MAX_COLUMNS
    int nul;      // the first field holding a NUL byte, or -1
};

/* A run of one import. */
struct s_run {
    struct exchange_state *st;
    cm_db_t *db;             // borrowed (the thread's)
    cm_mdp_client_t *client; // borrowed (the thread's)
    struct exchange_job job;
    Crm__Principal *principal; // owned
    /* The file's header and what each field means. */
    bool have_header;
    char **headers; // owned
    size_t n_headers;
    int *cols; // owned: layout column of each header (-1 none or ignored by mapping)
    /* Parsing. */
    struct s_item cur; // the row being read
    long record;       // records seen (the header is 1)
    long data_rows;    // data rows seen
    struct s_item batch[S_BATCH];
    size_t n_batch;
    bool utf8;       // the text is checked for UTF-8 (converted text always is)
    cm_err_t err;    // a transient failure: stop, the job is taken up again later
    char fatal[300]; // the file cannot be read on: the job fails with this
    char tag[8];     // this run's, in its request ids
    json_t *written; // owned: what the batch's written rows did (exchange_istore_batch)
};

/* ---------------------------------------------------------------------- */
/* Calls to the customers service as the importer                         */

/* The request header of a call as the importer: request id into rid (at
 * most 39 characters: cm_svc_call matches replies by it: the import's, the
 * row, the method and this run's tag), idempotency key into key for writes. */
static void s_header_for(struct s_run *r, const char *method, long row, bool write,
                         Crm__RequestHeader *h, char rid[40], char key[96])
{
    snprintf(rid, 40, "%.8s.r%ld.%c.%s", r->job.id, row, strrchr(method, '.')[1], r->tag);
    h->request_id = rid;
    h->tenant_id = r->job.tenant;
    h->principal = r->principal;
    h->channel = "import";
    h->method = (char *)method;
    if (write) {
        /* A batch of ImportCustomers by its first row ("b"): never the key
         * of a single write of an older run of the same job. */
        snprintf(key, 96, "import:%s:b%ld", r->job.id, row);
        h->idempotency_key = key;
    }
}

/* ---------------------------------------------------------------------- */
/* Failed rows                                                             */

static char *s_fields_json(const struct s_item *it)
{
    json_t *a = json_array();
    for (size_t i = 0; i < it->n; i++) {
        json_t *s = json_stringn_nocheck(it->fields[i], strlen(it->fields[i]));
        /* Not UTF-8 (a field at fault): kept as far as it is. */
        if (!cm_utf8_valid(it->fields[i], strlen(it->fields[i]), NULL)) {
            json_decref(s);
            s = json_string("");
        }
        json_array_append_new(a, s);
    }
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return text;
}

static void s_fail(struct s_run *r, struct exchange_failure *f, size_t *nf, const struct s_item *it,
                   int field, const char *reason, const char *fmt, ...) CM_PRINTF(7, 8);
static void s_fail(struct s_run *r, struct exchange_failure *f, size_t *nf, const struct s_item *it,
                   int field, const char *reason, const char *fmt, ...)
{
    struct exchange_failure *x = &f[(*nf)++];
    memset(x, 0, sizeof *x);
    x->row = it->row;
    if (field >= 0 && (size_t)field < r->n_headers)
        snprintf(x->column, sizeof x->column, "%s", r->headers[field]);
    snprintf(x->reason, sizeof x->reason, "%s", reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->message, sizeof x->message, fmt, ap);
    va_end(ap);
    x->fields = s_fields_json(it);
    r->job.failed++;
}

/* ---------------------------------------------------------------------- */
/* A batch                                                                 */

/* Rows of the batch that reached matching: item, customer, mask. */
struct s_ready {
    struct s_item *it;
    struct exchange_row row;
};

/* The failure of a customers' answer for a row. */
static void s_fail_reply(struct s_run *r, struct exchange_failure *f, size_t *nf,
                         const struct s_item *it, const Crm__ReplyHeader *rh)
{
    const char *reason = rh->status == CRM__STATUS__STATUS_ALREADY_EXISTS      ? "DUPLICATE"
                         : rh->status == CRM__STATUS__STATUS_PERMISSION_DENIED ? "PERMISSION_DENIED"
                         : rh->status == CRM__STATUS__STATUS_FAILED_PRECONDITION ? "CHANGED"
                                                                                 : "INVALID";
    if (rh->n_details) {
        const Crm__FieldViolation *v = rh->details[0];
        int field =
            exchange_field_of_path(v->field, r->cols, it->n < r->n_headers ? it->n : r->n_headers);
        s_fail(r, f, nf, it, field, v->reason[0] ? v->reason : reason, "%s", v->description);
        return;
    }
    s_fail(r, f, nf, it, -1, reason, "%s", rh->message);
}

/* What was decided for a row that goes to customers. */
struct s_decision {
    char action; // 'c' create, 'u' update, 0 none (the row failed here)
    char target[64];
    char etag[64];
    bool planned; // recorded by an earlier run of the batch
};

/* The decisions an earlier run of this batch recorded (a batch done again
 * does what it did then). */
static void s_load_plans(struct s_run *r, struct s_ready *ready, size_t n, struct s_decision *d)
{
    cm_err_t err = CM_OK;
    PGresult *res =
        exchange_istore_plans_get(r->db, &r->job, ready[0].it->row, ready[n - 1].it->row, &err);
    if (!res) {
        r->err = err;
        return;
    }
    for (int k = 0; k < PQntuples(res); k++) {
        long row = strtol(PQgetvalue(res, k, 0), NULL, 10);
        for (size_t i = 0; i < n; i++) {
            if (ready[i].it->row != row)
                continue;
            d[i].action = PQgetvalue(res, k, 1)[0];
            snprintf(d[i].target, sizeof d[i].target, "%s", PQgetvalue(res, k, 2));
            snprintf(d[i].etag, sizeof d[i].etag, "%s", PQgetvalue(res, k, 3));
            d[i].planned = true;
        }
    }
    PQclear(res);
}

/* Marks the rows that are the same person as an earlier row of the file
 * (dup[i]: that row, else 0), registering the keys of the others. */
static void s_duplicates(struct s_run *r, struct s_ready *ready, size_t n,
                         const Crm__CustomerMatch *const *m, const struct s_decision *d, long *dup)
{
    json_t *keys = json_array();
    size_t total = 0;
    size_t *owner = NULL;
    for (size_t i = 0; i < n; i++) {
        char k[EXCHANGE_KEYS_MAX][EXCHANGE_KEY_SIZE];
        const char *target = d[i].action == 'u' ? d[i].target : "";
        size_t nk = exchange_identity_keys(ready[i].row.customer, m[i]->email_key, m[i]->phone_e164,
                                           target, k);
        exchange_row_key(ready[i].it->fields, ready[i].it->n, k[nk++]);
        owner = cm_realloc(owner, (total + nk + 1) * sizeof *owner);
        for (size_t j = 0; j < nk; j++) {
            json_t *o = json_object();
            json_object_set_new(o, "i", json_integer((json_int_t)total));
            json_object_set_new(o, "k", json_string(k[j]));
            json_object_set_new(o, "r", json_integer(ready[i].it->row));
            if (json_is_string(json_object_get(o, "k"))) {
                json_array_append_new(keys, o);
                owner[total++] = i;
            } else {
                json_decref(o); /* not UTF-8: customers refuses the row anyway */
            }
        }
    }
    long *first = cm_calloc(total + 1, sizeof *first);
    if (total) {
        char *text = json_dumps(keys, JSON_COMPACT);
        r->err = exchange_istore_keys(r->db, &r->job, text, total, first);
        free(text);
    }
    for (size_t j = 0; j < total && !r->err; j++) {
        size_t i = owner[j];
        if (first[j] && first[j] < ready[i].it->row && (!dup[i] || first[j] < dup[i]))
            dup[i] = first[j];
    }
    free(first);
    free(owner);
    json_decref(keys);
}

/* Rows per customers.ImportCustomers call; a batch's calls go at once, so
 * customers writes them on as many threads. */
#define S_PER_CALL 50

/* What the rows that reached customers did: counts, failures, and (not in
 * a dry run) into r->written what revert needs. */
static void s_results(struct s_run *r, struct s_ready *ready, size_t n,
                      const Crm__ImportCustomersResponse *resp, struct exchange_failure *f,
                      size_t *nf)
{
    for (size_t i = 0; i < n; i++) {
        const Crm__ImportRowResult *res = resp->results[i];
        struct s_item *it = ready[i].it;
        switch (res->outcome) {
        case CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_CREATED:
            r->job.created++;
            break;
        case CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_UPDATED:
            r->job.updated++;
            break;
        case CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_UNCHANGED:
            r->job.unchanged++;
            continue;
        default: {
            Crm__ReplyHeader h = CRM__REPLY_HEADER__INIT;
            h.status = res->status;
            h.message = res->message;
            h.details = res->details;
            h.n_details = res->n_details;
            s_fail_reply(r, f, nf, it, &h);
            continue;
        }
        }
        if (r->job.dry_run)
            continue;
        json_t *w = json_object();
        bool upd = res->outcome == CRM__IMPORT_OUTCOME__IMPORT_OUTCOME_UPDATED;
        json_object_set_new(w, "r", json_integer(it->row));
        json_object_set_new(w, "a", json_string(upd ? "u" : "c"));
        json_object_set_new(w, "c", json_string(res->customer_id));
        json_object_set_new(w, "e", json_string(res->etag));
        if (upd && res->before) {
            json_object_set_new(w, "b", cm_pbjson_encode(&res->before->base, 0));
            json_t *mask = json_array();
            for (size_t k = 0; k < ready[i].row.n_mask; k++)
                json_array_append_new(mask, json_string(ready[i].row.mask[k]));
            json_object_set_new(w, "m", mask);
        }
        json_array_append_new(r->written, w);
    }
}

/* Sends the rows to customers.ImportCustomers, S_PER_CALL a call, the calls
 * at once, and takes in their results. */
static void s_send(struct s_run *r, struct s_ready *ready, const struct s_decision *d, size_t n,
                   struct exchange_failure *f, size_t *nf)
{
    size_t calls = (n + S_PER_CALL - 1) / S_PER_CALL;
    struct exchange_calls x;
    exchange_calls_init(&x, calls);
    Crm__ImportCustomersRequest *req = cm_calloc(calls, sizeof *req);
    Crm__ImportRow *rows = cm_calloc(n, sizeof *rows);
    Crm__ImportRow **rowp = cm_calloc(n, sizeof *rowp);
    for (size_t i = 0; i < n; i++) {
        crm__import_row__init(&rows[i]);
        rows[i].row = ready[i].it->row;
        rows[i].customer = ready[i].row.customer;
        if (d[i].action == 'u') {
            rows[i].id = (char *)d[i].target;
            rows[i].etag = (char *)d[i].etag;
            rows[i].update_mask = ready[i].row.mask;
            rows[i].n_update_mask = ready[i].row.n_mask;
        }
        rowp[i] = &rows[i];
    }
    for (size_t c = 0; c < calls; c++) {
        size_t from = c * S_PER_CALL;
        s_header_for(r, "customers.ImportCustomers", ready[from].it->row, !r->job.dry_run,
                     &x.hdr[c], x.rid[c], x.key[c]);
        crm__import_customers_request__init(&req[c]);
        req[c].rows = &rowp[from];
        req[c].n_rows = n - from < S_PER_CALL ? n - from : S_PER_CALL;
        req[c].validate_only = r->job.dry_run;
        x.req[c] = &req[c].base;
    }
    exchange_calls_run(&x, r->client, &crm__import_customers_response__descriptor,
                       S_CALL_TIMEOUT_MS);
    for (size_t c = 0; c < calls && !r->err; c++) {
        const Crm__ImportCustomersResponse *ir = (const Crm__ImportCustomersResponse *)x.resp[c];
        if (exchange_calls_transient(&x, c) || !ir || ir->n_results != req[c].n_rows) {
            /* The whole batch is done again later (the keys make it once). */
            cm_log_warn("import %s rows from %ld: %s", r->job.id, ready[c * S_PER_CALL].it->row,
                        ir ? "an answer without a result for every row"
                           : exchange_calls_error(&x, c));
            r->err = x.err[c] ? x.err[c] : CM_ERR_UNAVAILABLE;
        }
    }
    for (size_t c = 0; c < calls && !r->err; c++)
        s_results(r, &ready[c * S_PER_CALL], req[c].n_rows,
                  (const Crm__ImportCustomersResponse *)x.resp[c], f, nf);
    exchange_calls_release(&x);
    free(req);
    free(rows);
    free(rowp);
}

/* Records the decisions not recorded before, so that a batch done again
 * does the same: a row created before a stop is created again under the
 * same idempotency key (customers answers what it answered then) instead
 * of being found and "updated". */
static void s_save_plans(struct s_run *r, struct s_ready *ready, const struct s_decision *d,
                         size_t n)
{
    json_t *plans = json_array();
    for (size_t i = 0; i < n; i++) {
        if (d[i].planned)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "r", json_integer(ready[i].it->row));
        json_object_set_new(o, "a", json_stringn(&d[i].action, 1));
        json_object_set_new(o, "c", json_string(d[i].target));
        json_object_set_new(o, "e", json_string(d[i].etag));
        json_array_append_new(plans, o);
    }
    if (json_array_size(plans)) {
        char *text = json_dumps(plans, JSON_COMPACT);
        r->err = exchange_istore_plans_put(r->db, &r->job, text);
        free(text);
    }
    json_decref(plans);
}

/* Who each row is (customers.MatchCustomers, S_PER_CALL keys a call, the
 * calls at once): m[i] the match of ready[i], borrowed from x (the caller
 * releases it). Sets r->err when customers cannot answer. */
static void s_match(struct s_run *r, struct s_ready *ready, size_t n, struct exchange_calls *x,
                    const Crm__CustomerMatch **m)
{
    size_t calls = (n + S_PER_CALL - 1) / S_PER_CALL;
    exchange_calls_init(x, calls);
    Crm__MatchKey *keys = cm_calloc(n, sizeof *keys);
    Crm__MatchKey **kp = cm_calloc(n, sizeof *kp);
    Crm__MatchCustomersRequest *req = cm_calloc(calls, sizeof *req);
    for (size_t i = 0; i < n; i++) {
        Crm__Customer *c = ready[i].row.customer;
        crm__match_key__init(&keys[i]);
        keys[i].external_ids = c->external_ids;
        keys[i].n_external_ids = c->n_external_ids;
        keys[i].email = c->email;
        keys[i].phone = c->phone;
        kp[i] = &keys[i];
    }
    for (size_t c = 0; c < calls; c++) {
        size_t from = c * S_PER_CALL;
        crm__match_customers_request__init(&req[c]);
        req[c].keys = &kp[from];
        req[c].n_keys = n - from < S_PER_CALL ? n - from : S_PER_CALL;
        x->req[c] = &req[c].base;
        s_header_for(r, "customers.MatchCustomers", ready[from].it->row, false, &x->hdr[c],
                     x->rid[c], x->key[c]);
    }
    exchange_calls_run(x, r->client, &crm__match_customers_response__descriptor, S_CALL_TIMEOUT_MS);
    for (size_t c = 0; c < calls; c++) {
        const Crm__MatchCustomersResponse *mr = (const Crm__MatchCustomersResponse *)x->resp[c];
        if (!r->err && (!mr || mr->n_matches != req[c].n_keys)) {
            cm_log_warn("import %s: could not match rows: %s", r->job.id,
                        exchange_calls_error(x, c));
            r->err = x->err[c] ? x->err[c] : CM_ERR_UNAVAILABLE;
        }
        for (size_t k = 0; !r->err && k < req[c].n_keys; k++)
            m[c * S_PER_CALL + k] = mr->matches[k];
    }
    free(keys);
    free(kp);
    free(req);
}

/* Matches the rows in ready[0..n), finds the duplicates within the file,
 * decides each row by the mode, and sends the rest to customers. */
static void s_write(struct s_run *r, struct s_ready *ready, size_t n, struct exchange_failure *f,
                    size_t *nf)
{
    struct s_ready *go = cm_calloc(n, sizeof *go);
    struct s_decision *d = cm_calloc(n, sizeof *d), *gd = cm_calloc(n, sizeof *gd);
    long *dup = cm_calloc(n, sizeof *dup);
    size_t ngo = 0;
    struct exchange_calls mc;
    const Crm__CustomerMatch **m = cm_calloc(n, sizeof *m);
    s_match(r, ready, n, &mc, m);
    if (r->err)
        goto out;
    if (!r->job.dry_run)
        s_load_plans(r, ready, n, d);
    for (size_t i = 0; i < n; i++) {
        if (d[i].planned)
            continue;
        const Crm__Customer *found = m[i]->customer;
        d[i].action = found ? 'u' : 'c';
        snprintf(d[i].target, sizeof d[i].target, "%s", found ? found->id : "");
        snprintf(d[i].etag, sizeof d[i].etag, "%s", found ? found->etag : "");
    }
    if (!r->err)
        s_duplicates(r, ready, n, m, d, dup);
    for (size_t i = 0; i < n && !r->err; i++) {
        struct s_item *it = ready[i].it;
        int mode = r->job.mode;
        if (dup[i]) {
            s_fail(r, f, nf, it, -1, "DUPLICATE_IN_FILE",
                   "the same person as row %ld (external id, e-mail, phone, the customer it "
                   "matches, or the whole row); not imported twice",
                   dup[i]);
            continue;
        }
        if (!d[i].planned && d[i].action == 'u' &&
            mode == CRM__IMPORT_MODE__IMPORT_MODE_CREATE_ONLY) {
            s_fail(r, f, nf, it, -1, "EXISTS", "matches customer %s by %s; mode is CREATE_ONLY",
                   d[i].target, m[i]->matched_by);
            continue;
        }
        if (!d[i].planned && d[i].action == 'c' &&
            mode == CRM__IMPORT_MODE__IMPORT_MODE_UPDATE_ONLY) {
            s_fail(r, f, nf, it, -1, "NOT_FOUND",
                   "matches no customer by external id, e-mail or phone; mode is UPDATE_ONLY");
            continue;
        }
        go[ngo] = ready[i];
        gd[ngo++] = d[i];
    }
    if (!r->err && ngo && !r->job.dry_run)
        s_save_plans(r, go, gd, ngo);
    if (!r->err && ngo)
        s_send(r, go, gd, ngo, f, nf);
out:
    free(d);
    free(dup);
    free(go);
    free(gd);
    free(m);
    exchange_calls_release(&mc);
}

static void s_item_release(struct s_item *it)
{
    for (size_t i = 0; i < it->n; i++)
        free(it->fields[i]);
    free(it->fields);
    memset(it, 0, sizeof *it);
    it->nul = -1;
}

/* Checks, matches and writes the batch, then records it. */
static void s_flush(struct s_run *r)
{
    if (!r->n_batch || r->err || r->fatal[0])
        return;
    struct exchange_failure f[S_BATCH];
    size_t nf = 0;
    struct s_ready ready[S_BATCH];
    size_t nr = 0;
    struct exchange_job saved = r->job; /* counts to go back to if the batch is not done */
    for (size_t b = 0; b < r->n_batch && !r->err; b++) {
        struct s_item *it = &r->batch[b];
        if (it->extra || it->n > r->n_headers) {
            s_fail(r, f, &nf, it, -1, "TOO_MANY_COLUMNS", "the row has %zu fields, the header %zu",
                   it->n + it->extra, r->n_headers);
            continue;
        }
        if (it->nul >= 0) {
            s_fail(r, f, &nf, it, it->nul, "INVALID_FORMAT", "the field holds a NUL byte");
            continue;
        }
        int bad = -1;
        bool empty = true;
        for (size_t k = 0; k < it->n; k++) {
            if (it->fields[k][0])
                empty = false;
            if (r->utf8 && bad < 0 && !cm_utf8_valid(it->fields[k], strlen(it->fields[k]), NULL))
                bad = (int)k;
        }
        if (bad >= 0) {
            s_fail(r, f, &nf, it, bad, "INVALID_ENCODING",
                   "the field is not valid UTF-8 (declare the file's encoding)");
            continue;
        }
        if (empty)
            continue; /* a row of nothing but delimiters */
        struct exchange_row row;
        if (exchange_row_read(it->fields, it->n, r->cols, &row)) {
            int field = -1;
            for (size_t k = 0; k < it->n; k++)
                if (r->cols[k] == row.bad_column)
                    field = (int)k;
            s_fail(r, f, &nf, it, field, row.reason, "%s", row.message);
            exchange_row_release(&row);
            continue;
        }
        ready[nr].it = it;
        ready[nr++].row = row;
    }
    if (nr && !r->err)
        s_write(r, ready, nr, f, &nf);
    for (size_t i = 0; i < nr; i++)
        exchange_row_release(&ready[i].row);
    if (!r->err) {
        r->job.rows_read += (long)r->n_batch;
        char *written = json_array_size(r->written) ? json_dumps(r->written, JSON_COMPACT) : NULL;
        r->err = exchange_istore_batch(r->db, &r->job, f, nf, written);
        free(written);
    }
    json_array_clear(r->written);
    if (r->err)
        r->job = saved; /* not recorded: done again when the job is taken up again */
    else
        memset(&saved, 0, sizeof saved);
    for (size_t i = 0; i < nf; i++)
        free(f[i].fields);
    for (size_t b = 0; b < r->n_batch; b++)
        s_item_release(&r->batch[b]);
    r->n_batch = 0;
}

/* ---------------------------------------------------------------------- */
/* The header                                                              */

/* The layout column the explicit mapping gives header h: 1 with *col set
 * (-1 for "ignore"), 0 when the mapping does not name it. */
static int s_mapped(const char *mapping, const char *h, int *col)
{
    for (const char *item = mapping; *item;) {
        size_t len = strcspn(item, ";");
        const char *eq = memchr(item, '=', len);
        if (eq && (size_t)(eq - item) == strlen(h) && !strncmp(item, h, (size_t)(eq - item))) {
            char name[80];
            snprintf(name, sizeof name, "%.*s", (int)(item + len - eq - 1), eq + 1);
            *col = name[0] ? exchange_column_of_header(name) : -1;
            return 1;
        }
        item += len;
        if (*item == ';')
            item++;
    }
    return 0;
}

static void s_header(struct s_run *r, struct s_item *it, char delim, const char *encoding)
{
    r->have_header = true;
    r->n_headers = it->n;
    r->headers = it->fields;
    it->fields = NULL;
    it->n = 0;
    r->cols = cm_calloc(r->n_headers ? r->n_headers : 1, sizeof *r->cols);
    json_t *h = json_array(), *c = json_array(), *u = json_array();
    for (size_t k = 0; k < r->n_headers; k++) {
        /* A BOM the file had inside (a second one) or spaces around a name. */
        int col;
        if (!s_mapped(r->job.mapping, r->headers[k], &col))
            col = exchange_column_of_header(r->headers[k]);
        r->cols[k] = col;
        bool text = cm_utf8_valid(r->headers[k], strlen(r->headers[k]), NULL);
        json_array_append_new(h, json_string(text ? r->headers[k] : ""));
        json_array_append_new(c, json_string(col >= 0 ? exchange_columns[col].name : ""));
        if (col < 0 && r->headers[k][0])
            json_array_append_new(u, json_string(text ? r->headers[k] : ""));
    }
    char *hs = json_dumps(h, JSON_COMPACT), *cs = json_dumps(c, JSON_COMPACT),
         *us = json_dumps(u, JSON_COMPACT);
    const char *d = delim == 0 ? "" : delim == '\t' ? "tab" : delim == ';' ? ";" : ",";
    r->err = exchange_istore_header(r->db, r->job.id, hs, cs, us, d, encoding);
    free(hs);
    free(cs);
    free(us);
    json_decref(h);
    json_decref(c);
    json_decref(u);
    if (r->n_headers > EXCHANGE_MAX_COLUMNS || it->extra)
        snprintf(r->fatal, sizeof r->fatal, "the header has more than %d columns",
                 EXCHANGE_MAX_COLUMNS);
}

/* ---------------------------------------------------------------------- */
/* libcsv's callbacks                                                      */

static void s_on_field(void *data, size_t len, void *arg)
{
    struct s_run *r = arg;
    struct s_item *it = &r->cur;
    if (it->n == EXCHANGE_MAX_COLUMNS) {
        it->extra++;
        return;
    }
    if (it->nul < 0 && memchr(data, '\0', len))
        it->nul = (int)it->n;
    it->fields = cm_realloc(it->fields, (it->n + 1) * sizeof *it->fields);
    it->fields[it->n++] = cm_strndup(data ? data : "", len);
}

struct s_parse {
    struct s_run *r;
    char delim;
    const char *encoding;
};

static void s_on_row(int term, void *arg)
{
    (void)term;
    struct s_parse *ps = arg;
    struct s_run *r = ps->r;
    struct s_item *it = &r->cur;
    r->record++;
    if (!r->have_header) {
        s_header(r, it, ps->delim, ps->encoding);
        s_item_release(it);
        return;
    }
    r->data_rows++;
    if (r->data_rows > EXCHANGE_MAX_ROWS) {
        if (!r->fatal[0])
            snprintf(r->fatal, sizeof r->fatal,
                     "the file has more than %ld rows; the rows after row %ld were not read",
                     EXCHANGE_MAX_ROWS, r->record - 1);
        s_item_release(it);
        return;
    }
    if (r->data_rows <= r->job.rows_read || r->err || r->fatal[0]) {
        s_item_release(it); /* done before a restart */
        return;
    }
    it->row = r->record;
    r->batch[r->n_batch++] = *it;
    memset(it, 0, sizeof *it);
    it->nul = -1;
    if (r->n_batch == S_BATCH)
        s_flush(r);
}

static void s_field_cb(void *data, size_t len, void *arg)
{
    s_on_field(data, len, ((struct s_parse *)arg)->r);
}

static int s_no_space(unsigned char c)
{
    (void)c;
    return 0; /* spaces and tabs are data: a tab may be the delimiter */
}

/* ---------------------------------------------------------------------- */
/* A run                                                                   */

static void s_finish(struct s_run *r);

/* The uploaded parts into a temporary file in tmpdir (a workbook is read by
 * its ZIP directory, at its end). Returns the open descriptor's path
 * (caller unlinks and frees), or NULL with r->err or r->fatal set. */
static char *s_parts_to_file(struct s_run *r)
{
    char *path = cm_strfmt("%s/crm-import-XXXXXX", r->st->tmpdir);
    int fd = mkstemp(path);
    if (fd < 0) {
        cm_log_error("could not make a file in %s: %s", r->st->tmpdir, strerror(errno));
        r->err = CM_ERR_UNAVAILABLE;
        free(path);
        return NULL;
    }
    for (long seq = 0; seq < r->job.parts && !r->err; seq++) {
        uint8_t *part = NULL;
        size_t len = 0;
        r->err = exchange_istore_get_part(r->db, r->job.upload, seq, &part, &len);
        for (size_t off = 0; !r->err && off < len;) {
            ssize_t w = write(fd, part + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                cm_log_error("could not write %s: %s", path, strerror(errno));
                r->err = CM_ERR_UNAVAILABLE;
                break;
            }
            off += (size_t)w;
        }
        free(part);
    }
    if (close(fd) != 0 && !r->err)
        r->err = CM_ERR_UNAVAILABLE;
    if (r->err) {
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

/* Reads an Excel workbook's first sheet row by row into the same batches as
 * a CSV file's records: its first row with a cell is the header, and each
 * row keeps the sheet's row number. */
static void s_read_workbook(struct s_run *r)
{
    char *path = s_parts_to_file(r);
    if (!path)
        return;
    char why[300];
    exchange_xlsx_reader_t *x = exchange_xlsx_reader_new(path, why, sizeof why);
    unlink(path); /* the reader keeps it open */
    free(path);
    if (!x) {
        snprintf(r->fatal, sizeof r->fatal, "%s", why);
        return;
    }
    /* Excel has no zones: its times are the business's wall clock. */
    struct exchange_zone zone;
    exchange_zone_load(r->db, r->job.time_zone, &zone);
    exchange_xlsx_reader_zone(x, &zone);
    r->utf8 = true;
    struct s_parse ps = {r, 0, "xlsx"}; /* no delimiter: cells */
    const char *const *cells;
    size_t n;
    long row;
    int rc = 0;
    while (!r->err && !r->fatal[0] && (rc = exchange_xlsx_reader_next(x, &cells, &n, &row)) == 1) {
        for (size_t k = 0; k < n; k++) {
            size_t len = strlen(cells[k]);
            if (len > EXCHANGE_FIELD_MAX) {
                snprintf(r->fatal, sizeof r->fatal,
                         "row %ld has a cell longer than %d bytes; the workbook was not read "
                         "further",
                         row, EXCHANGE_FIELD_MAX);
                break;
            }
            s_on_field((void *)cells[k], len, r);
        }
        if (r->fatal[0])
            break;
        r->record = row - 1; /* s_on_row counts it: the sheet's own number */
        s_on_row(0, &ps);
    }
    if (!r->err && !r->fatal[0] && rc < 0)
        snprintf(r->fatal, sizeof r->fatal, "the workbook cannot be read after row %ld: %s",
                 r->record, exchange_xlsx_reader_error(x));
    s_item_release(&r->cur);
    exchange_xlsx_reader_destroy(&x);
    exchange_zone_release(&zone);
}

static void s_run(struct s_run *r)
{
    struct exchange_job *job = &r->job;
    cm_random_hex(r->tag, 3);
    cm_err_t err = exchange_istore_load(r->db, job);
    if (err) {
        r->err = err;
        return;
    }
    r->principal = exchange_job_principal(job->principal, job->principal_len, "import");
    uint8_t *part = NULL;
    size_t len = 0;
    r->err = exchange_istore_get_part(r->db, job->upload, 0, &part, &len);
    if (r->err)
        return;
    if (len >= 4 && !memcmp(part, "PK\x03\x04", 4)) {
        /* An Excel workbook (a ZIP archive), not text. */
        free(part);
        s_read_workbook(r);
        s_finish(r);
        return;
    }
    size_t skip = len >= 3 && !memcmp(part, "\xEF\xBB\xBF", 3) ? 3 : 0;
    enum exchange_encoding enc;
    if (!job->encoding[0] || exchange_encoding_parse(job->encoding, &enc))
        enc = skip ? EXCHANGE_UTF8 : exchange_detect_encoding(part + skip, len - skip);
    r->utf8 = enc == EXCHANGE_UTF8;
    cm_buf_t text;
    cm_buf_init(&text, 0);
    exchange_to_utf8(enc, part + skip, len - skip, &text);
    char delim = !strcmp(job->delimiter, ";")     ? ';'
                 : !strcmp(job->delimiter, "tab") ? '\t'
                 : !strcmp(job->delimiter, ",")
                     ? ','
                     : exchange_detect_delimiter(text.data ? text.data : "", text.len);
    struct csv_parser p;
    csv_init(&p, CSV_APPEND_NULL);
    csv_set_delim(&p, (unsigned char)delim);
    csv_set_space_func(&p, s_no_space);
    struct s_parse ps = {r, delim, exchange_encoding_name(enc)};
    for (long seq = 0;;) {
        for (size_t off = 0; off < text.len && !r->err && !r->fatal[0];) {
            size_t n = text.len - off < S_SLICE ? text.len - off : S_SLICE;
            if (csv_parse(&p, text.data + off, n, s_field_cb, s_on_row, &ps) != n) {
                snprintf(r->fatal, sizeof r->fatal,
                         "the file cannot be read as CSV after row %ld: %s", r->record,
                         csv_strerror(csv_error(&p)));
                break;
            }
            off += n;
            if (p.entry_pos > EXCHANGE_FIELD_MAX)
                snprintf(r->fatal, sizeof r->fatal,
                         "row %ld has a field longer than %d bytes (a quote left open?); the file "
                         "was not read further",
                         r->record + 1, EXCHANGE_FIELD_MAX);
        }
        free(part);
        part = NULL;
        cm_buf_reset(&text);
        if (r->err || r->fatal[0] || ++seq >= job->parts)
            break;
        r->err = exchange_istore_get_part(r->db, job->upload, seq, &part, &len);
        if (!r->err)
            exchange_to_utf8(enc, part, len, &text);
    }
    if (!r->err && !r->fatal[0])
        csv_fini(&p, s_field_cb, s_on_row, &ps);
    csv_free(&p);
    cm_buf_release(&text);
    free(part);
    s_finish(r);
}

/* Writes what is left, then ends the job (unless a transient failure leaves
 * it to be taken up again). */
static void s_finish(struct s_run *r)
{
    struct exchange_job *job = &r->job;
    s_flush(r);
    if (r->err)
        return; /* taken up again later */
    if (!r->have_header && !r->fatal[0])
        snprintf(r->fatal, sizeof r->fatal, "the file has no header row");
    r->err = exchange_istore_finish(r->db, job,
                                    r->fatal[0] ? CRM__IMPORT_STATE__IMPORT_STATE_FAILED
                                                : CRM__IMPORT_STATE__IMPORT_STATE_DONE,
                                    r->fatal, r->data_rows);
    cm_log_info("import %s %s rows=%ld created=%ld updated=%ld unchanged=%ld failed=%ld%s%s",
                job->id, r->fatal[0] ? "failed" : "done", r->data_rows, job->created, job->updated,
                job->unchanged, job->failed, r->fatal[0] ? ": " : "", r->fatal);
}

static void s_run_release(struct s_run *r)
{
    s_item_release(&r->cur);
    for (size_t b = 0; b < r->n_batch; b++)
        s_item_release(&r->batch[b]);
    for (size_t k = 0; k < r->n_headers; k++)
        free(r->headers[k]);
    free(r->headers);
    free(r->cols);
    if (r->principal)
        crm__principal__free_unpacked(r->principal, NULL);
    exchange_job_release(&r->job);
    json_decref(r->written);
}

/* ---------------------------------------------------------------------- */
/* The threads                                                             */

/* Waits up to ms for a wake-up; false once stopping. */
static bool s_nap(struct exchange_state *st, long ms)
{
    return cm_nap(&st->mu, &st->wake, &st->stopping, ms);
}

bool exchange_worker_stopping(struct exchange_state *st)
{
    return !cm_nap(&st->mu, &st->wake, &st->stopping, 0);
}

static void *s_main(void *arg)
{
    struct exchange_worker *w = arg;
    struct exchange_state *st = w->st;
    char owner[96], host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(owner, sizeof owner, "%s:%d:%d", host, (int)getpid(), w->index);
    cm_db_t *db = cm_db_new(st->database_url, st->db_role);
    cm_mdp_client_t *client = cm_mdp_client_new(w->zctx, st->bus_endpoint);
    while (!exchange_worker_stopping(st)) {
        struct s_run r = {.st = st, .db = db, .client = client, .written = json_array()};
        r.cur.nul = -1;
        bool found = false;
        cm_err_t err = cm_db_use_tenant(db, NULL);
        if (!err)
            err = exchange_istore_claim(db, owner, EXCHANGE_STALE_S, &r.job, &found);
        if (err)
            cm_log_warn("could not look for imports: %s", cm_db_error(db));
        if (!err && found && !cm_db_use_tenant(db, r.job.tenant)) {
            cm_log_info("import %s taken by %s", r.job.id, owner);
            s_run(&r);
            if (r.err)
                cm_log_warn("import %s paused after row %ld: %s; it is taken up again later",
                            r.job.id, r.job.rows_read + 1, cm_err_name(r.err));
        }
        s_run_release(&r);
        if (!err && !found) {
            /* No import waits: a revert, if one does. */
            found = exchange_revert_next(st, db, client, owner, &r.err);
            if (r.err && !found)
                err = r.err;
        }
        if (!found || err)
            s_nap(st, err ? 2000 : 1000);
        else if (r.err)
            s_nap(st, 2000);
    }
    cm_mdp_client_destroy(&client);
    cm_db_destroy(&db);
    return NULL;
}

void exchange_worker_wake(struct exchange_state *st)
{
    pthread_mutex_lock(&st->mu);
    pthread_cond_broadcast(&st->wake);
    pthread_mutex_unlock(&st->mu);
}

void exchange_start(cm_svc_t *svc, void *user)
{
    struct exchange_state *st = user;
    st->threads = cm_calloc((size_t)st->workers, sizeof *st->threads);
    for (long i = 0; i < st->workers; i++) {
        struct exchange_worker *w = &st->threads[i];
        w->st = st;
        w->zctx = cm_svc_zctx(svc);
        w->index = (int)i;
        w->started = pthread_create(&w->thread, NULL, s_main, w) == 0;
        if (!w->started)
            cm_log_error("could not start import thread %ld", i);
    }
}

void exchange_stop(cm_svc_t *svc, void *user)
{
    (void)svc;
    struct exchange_state *st = user;
    pthread_mutex_lock(&st->mu);
    st->stopping = true;
    pthread_cond_broadcast(&st->wake);
    pthread_mutex_unlock(&st->mu);
    for (long i = 0; st->threads && i < st->workers; i++)
        if (st->threads[i].started)
            pthread_join(st->threads[i].thread, NULL);
    free(st->threads);
    st->threads = NULL;
}
