/* The import's SQL. */
#include "exchange_import_store.h"
#include "exchange_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

cm_err_t exchange_istore_put_part(cm_db_t *db, const char *tenant, const char *upload, int seq,
                                  const uint8_t *data, size_t len, int64_t *total)
{
    char s[16];
    snprintf(s, sizeof s, "%d", seq);
    const char *p[] = {tenant, upload, s, (const char *)data};
    int lens[] = {0, 0, 0, (int)len};
    int fmts[] = {0, 0, 0, 1};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec_bin(db,
                                   "INSERT INTO exchange.upload_parts (tenant_id, upload_id, seq, "
                                   "data) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                   4, p, lens, fmts, 0, &err);
    PQclear(res);
    if (err)
        return err;
    long count, top;
    return exchange_istore_upload_size(db, upload, &count, &top, total);
}

cm_err_t exchange_istore_upload_size(cm_db_t *db, const char *upload, long *count, long *top,
                                     int64_t *size)
{
    const char *p[] = {upload};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db,
                               "SELECT count(*), coalesce(max(seq) + 1, 0), "
                               "coalesce(sum(octet_length(data)), 0) FROM exchange.upload_parts "
                               "WHERE upload_id = $1::uuid",
                               1, p, &err);
    if (!res)
        return err;
    *count = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    *top = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    *size = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t exchange_istore_get_part(cm_db_t *db, const char *upload, long seq, uint8_t **data,
                                  size_t *len)
{
    char s[24];
    snprintf(s, sizeof s, "%ld", seq);
    const char *p[] = {upload, s};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec_bin(db,
                                   "SELECT data FROM exchange.upload_parts "
                                   "WHERE upload_id = $1::uuid AND seq = $2::int",
                                   2, p, NULL, NULL, 1, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    *len = (size_t)PQgetlength(res, 0, 0);
    *data = cm_malloc(*len ? *len : 1);
    memcpy(*data, PQgetvalue(res, 0, 0), *len);
    PQclear(res);
    return CM_OK;
}

cm_err_t exchange_istore_create(cm_db_t *db, const char *tenant, const Crm__CreateImportRequest *r,
                                int64_t size, const uint8_t *principal, size_t principal_len,
                                const char *request_id, const char *zone, char id[37])
{
    cm_uuid(id);
    char parts[16], sz[24], mode[8];
    snprintf(parts, sizeof parts, "%d", r->parts);
    snprintf(sz, sizeof sz, "%lld", (long long)size);
    snprintf(mode, sizeof mode, "%d",
             r->mode ? (int)r->mode : (int)CRM__IMPORT_MODE__IMPORT_MODE_CREATE_OR_UPDATE);
    const char *p[] = {tenant,
                       id,
                       r->upload_id,
                       parts,
                       sz,
                       mode,
                       r->dry_run ? "t" : "f",
                       r->delimiter,
                       r->encoding,
                       r->mapping,
                       (const char *)principal,
                       request_id,
                       zone};
    int lens[13] = {0};
    int fmts[13] = {0};
    lens[10] = (int)principal_len;
    fmts[10] = 1;
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec_bin(
        db,
        "INSERT INTO exchange.imports (tenant_id, id, upload_id, parts, size, mode, dry_run, "
        "delimiter, encoding, mapping, principal, request_id, time_zone) VALUES ($1, $2, $3, $4, "
        "$5, $6, $7, $8, $9, $10, $11, $12, $13)",
        13, p, lens, fmts, 0, &err);
    PQclear(res);
    return err;
}

static void s_strings(json_t *arr, char ***out, size_t *n)
{
    *n = json_array_size(arr);
    *out = cm_calloc(*n ? *n : 1, sizeof **out);
    for (size_t i = 0; i < *n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        (*out)[i] = cm_strdup(s ? s : "");
    }
}

static cm_err_t s_revert_of(cm_db_t *db, const char *id, Crm__Import *im);

cm_err_t exchange_istore_get(cm_db_t *db, const char *id, Crm__Import **out)
{
    const char *p[] = {id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(
        db,
        "SELECT state, mode, dry_run, size, rows_total, rows_read, created, updated, unchanged, "
        "failed, delimiter, encoding, headers::text, columns::text, unknown_columns::text, "
        "message, " TS("created_at") ", coalesce(" TS(
            "finished_at") ", '') "
                           "FROM exchange.imports WHERE id = $1::uuid",
        1, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    Crm__Import *im = (Crm__Import *)cm_pb_new(&crm__import__descriptor);
    cm_pb_set_str(&im->id, id);
    im->state = (Crm__ImportState)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    im->mode = (Crm__ImportMode)strtol(PQgetvalue(res, 0, 1), NULL, 10);
    im->dry_run = PQgetvalue(res, 0, 2)[0] == 't';
    int64_t *nums[] = {&im->size,    &im->rows_total, &im->rows_read, &im->created,
                       &im->updated, &im->unchanged,  &im->failed};
    for (int i = 0; i < 7; i++)
        *nums[i] = strtoll(PQgetvalue(res, 0, 3 + i), NULL, 10);
    cm_pb_set_str(&im->delimiter, PQgetvalue(res, 0, 10));
    cm_pb_set_str(&im->encoding, PQgetvalue(res, 0, 11));
    json_t *h = json_loads(PQgetvalue(res, 0, 12), 0, NULL);
    json_t *c = json_loads(PQgetvalue(res, 0, 13), 0, NULL);
    json_t *u = json_loads(PQgetvalue(res, 0, 14), 0, NULL);
    s_strings(h, &im->headers, &im->n_headers);
    s_strings(c, &im->columns, &im->n_columns);
    s_strings(u, &im->unknown_columns, &im->n_unknown_columns);
    json_decref(h);
    json_decref(c);
    json_decref(u);
    cm_pb_set_str(&im->message, PQgetvalue(res, 0, 15));
    cm_pb_set_str(&im->created_at, PQgetvalue(res, 0, 16));
    cm_pb_set_str(&im->finished_at, PQgetvalue(res, 0, 17));
    PQclear(res);
    res = exchange_istore_failures(db, id, 0, 100, &err);
    if (!res) {
        crm__import__free_unpacked(im, NULL);
        return err;
    }
    int n = PQntuples(res);
    im->errors = cm_calloc(n ? (size_t)n : 1, sizeof *im->errors);
    for (int i = 0; i < n; i++) {
        Crm__ImportRowError *e =
            (Crm__ImportRowError *)cm_pb_new(&crm__import_row_error__descriptor);
        e->row = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        cm_pb_set_str(&e->column, PQgetvalue(res, i, 1));
        cm_pb_set_str(&e->reason, PQgetvalue(res, i, 2));
        cm_pb_set_str(&e->message, PQgetvalue(res, i, 3));
        im->errors[im->n_errors++] = e;
    }
    PQclear(res);
    err = s_revert_of(db, id, im);
    if (err) {
        crm__import__free_unpacked(im, NULL);
        return err;
    }
    *out = im;
    return CM_OK;
}

void exchange_job_release(struct exchange_job *job)
{
    free(job->mapping);
    free(job->principal);
    memset(job, 0, sizeof *job);
}

/* Runs a claim function (exchange.claim_import or claim_revert) for owner:
 * the job's tenant and id, or *found false. */
static cm_err_t s_claim(cm_db_t *db, const char *sql, const char *owner, int stale_s,
                        char tenant[37], char id[37], bool *found)
{
    char s[16];
    snprintf(s, sizeof s, "%d", stale_s);
    const char *p[] = {owner, s};
    return exchange_store_claim(db, sql, 2, p, tenant, id, found);
}

cm_err_t exchange_istore_claim(cm_db_t *db, const char *owner, int stale_s,
                               struct exchange_job *job, bool *found)
{
    return s_claim(db, "SELECT tenant_id, id FROM exchange.claim_import($1, $2)", owner, stale_s,
                   job->tenant, job->id, found);
}

cm_err_t exchange_istore_load(cm_db_t *db, struct exchange_job *job)
{
    const char *p[] = {job->id};
    cm_err_t err = CM_OK;
    /* principal comes back as hex text (bytea's text form). */
    PGresult *res = cm_db_exec(db,
                               "SELECT upload_id, parts, mode, dry_run, delimiter, encoding, "
                               "mapping, encode(principal, 'hex'), request_id, rows_read, "
                               "created, updated, unchanged, failed, time_zone "
                               "FROM exchange.imports WHERE id = $1::uuid",
                               1, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    snprintf(job->upload, sizeof job->upload, "%s", PQgetvalue(res, 0, 0));
    job->parts = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    job->mode = (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
    job->dry_run = PQgetvalue(res, 0, 3)[0] == 't';
    snprintf(job->delimiter, sizeof job->delimiter, "%s", PQgetvalue(res, 0, 4));
    snprintf(job->encoding, sizeof job->encoding, "%s", PQgetvalue(res, 0, 5));
    job->mapping = cm_strdup(PQgetvalue(res, 0, 6));
    snprintf(job->time_zone, sizeof job->time_zone, "%s", PQgetvalue(res, 0, 14));
    const char *hex = PQgetvalue(res, 0, 7);
    size_t hl = strlen(hex) / 2;
    job->principal = cm_malloc(hl ? hl : 1);
    for (size_t i = 0; i < hl; i++) {
        unsigned v = 0;
        // NOLINTNEXTLINE(cert-err34-c): two hex digits cannot overflow
        sscanf(hex + 2 * i, "%2x", &v);
        job->principal[i] = (uint8_t)v;
    }
    job->principal_len = hl;
    snprintf(job->request_id, sizeof job->request_id, "%s", PQgetvalue(res, 0, 8));
    job->rows_read = strtol(PQgetvalue(res, 0, 9), NULL, 10);
    job->created = strtol(PQgetvalue(res, 0, 10), NULL, 10);
    job->updated = strtol(PQgetvalue(res, 0, 11), NULL, 10);
    job->unchanged = strtol(PQgetvalue(res, 0, 12), NULL, 10);
    job->failed = strtol(PQgetvalue(res, 0, 13), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t exchange_istore_header(cm_db_t *db, const char *id, const char *headers,
                                const char *columns, const char *unknown, const char *delimiter,
                                const char *encoding)
{
    const char *p[] = {id, headers, columns, unknown, delimiter, encoding};
    return cm_db_run(db,
                     "UPDATE exchange.imports SET headers = $2::jsonb, columns = $3::jsonb, "
                     "unknown_columns = $4::jsonb, delimiter = $5, encoding = $6 "
                     "WHERE id = $1::uuid",
                     6, p);
}

cm_err_t exchange_istore_keys(cm_db_t *db, const struct exchange_job *job, const char *keys,
                              size_t n, long *first)
{
    const char *p[] = {job->tenant, job->id, keys};
    cm_err_t err = CM_OK;
    /* The table as it was before this statement (the insert's rows are not
     * seen by the join) holds the keys of earlier batches. */
    PGresult *res = cm_db_exec(
        db,
        "WITH k AS (SELECT * FROM json_to_recordset($3::json) AS k(i int, k text, r bigint)), "
        "ins AS (INSERT INTO exchange.import_keys (tenant_id, import_id, key, row_no) "
        "SELECT $1::uuid, $2::uuid, k.k, min(k.r) FROM k GROUP BY k.k ON CONFLICT DO NOTHING "
        "RETURNING key, row_no) "
        "SELECT k.i, coalesce(o.row_no, ins.row_no, k.r) FROM k LEFT JOIN ins ON ins.key = k.k "
        "LEFT JOIN exchange.import_keys o ON o.tenant_id = $1::uuid AND o.import_id = $2::uuid "
        "AND o.key = k.k",
        3, p, &err);
    if (!res)
        return err;
    for (int i = 0; i < PQntuples(res); i++) {
        long idx = strtol(PQgetvalue(res, i, 0), NULL, 10);
        if (idx >= 0 && (size_t)idx < n)
            first[idx] = strtol(PQgetvalue(res, i, 1), NULL, 10);
    }
    PQclear(res);
    return CM_OK;
}

PGresult *exchange_istore_plans_get(cm_db_t *db, const struct exchange_job *job, long from, long to,
                                    cm_err_t *err)
{
    char f[24], t[24];
    snprintf(f, sizeof f, "%ld", from);
    snprintf(t, sizeof t, "%ld", to);
    const char *p[] = {job->tenant, job->id, f, t};
    return cm_db_exec(db,
                      "SELECT row_no, action, customer_id, etag FROM exchange.import_plans "
                      "WHERE tenant_id = $1::uuid AND import_id = $2::uuid "
                      "AND row_no BETWEEN $3::bigint AND $4::bigint",
                      4, p, err);
}

cm_err_t exchange_istore_plans_put(cm_db_t *db, const struct exchange_job *job, const char *plans)
{
    const char *p[] = {job->tenant, job->id, plans};
    return cm_db_run(db,
                     "INSERT INTO exchange.import_plans (tenant_id, import_id, row_no, action, "
                     "customer_id, etag) SELECT $1::uuid, $2::uuid, x.r, x.a, x.c, x.e "
                     "FROM json_to_recordset($3::json) AS x(r bigint, a text, c text, e text) "
                     "ON CONFLICT DO NOTHING",
                     3, p);
}

cm_err_t exchange_istore_batch(cm_db_t *db, const struct exchange_job *job,
                               const struct exchange_failure *f, size_t n, const char *written)
{
    cm_err_t err = cm_db_begin(db, job->tenant);
    if (!err && written) {
        const char *p[] = {job->tenant, job->id, written};
        err = cm_db_run(db,
                        "INSERT INTO exchange.import_rows (tenant_id, import_id, row_no, action, "
                        "customer_id, etag, before, mask) SELECT $1::uuid, $2::uuid, x.r, x.a, "
                        "x.c, x.e, x.b, coalesce(x.m, '[]') FROM json_to_recordset($3::json) AS "
                        "x(r bigint, a text, c text, e text, b jsonb, m jsonb) "
                        "ON CONFLICT DO NOTHING",
                        3, p);
    }
    for (size_t i = 0; i < n && !err; i++) {
        char r[24];
        snprintf(r, sizeof r, "%ld", f[i].row);
        const char *p[] = {job->tenant,
                           job->id,
                           r,
                           f[i].column,
                           f[i].reason,
                           f[i].message,
                           f[i].fields ? f[i].fields : "[]"};
        err = cm_db_run(db,
                        "INSERT INTO exchange.import_errors (tenant_id, import_id, row_no, "
                        "column_name, reason, message, fields) VALUES ($1, $2, $3, $4, $5, $6, "
                        "$7::jsonb) ON CONFLICT DO NOTHING",
                        7, p);
    }
    if (!err) {
        char rr[24], c[24], u[24], un[24], fl[24];
        snprintf(rr, sizeof rr, "%ld", job->rows_read);
        snprintf(c, sizeof c, "%ld", job->created);
        snprintf(u, sizeof u, "%ld", job->updated);
        snprintf(un, sizeof un, "%ld", job->unchanged);
        snprintf(fl, sizeof fl, "%ld", job->failed);
        const char *p[] = {job->id, rr, c, u, un, fl};
        err = cm_db_run(db,
                        "UPDATE exchange.imports SET rows_read = $2, created = $3, updated = $4, "
                        "unchanged = $5, failed = $6, heartbeat_at = now() WHERE id = $1::uuid",
                        6, p);
    }
    if (!err)
        err = cm_db_commit(db);
    if (err)
        cm_db_rollback(db);
    return err;
}

cm_err_t exchange_istore_finish(cm_db_t *db, const struct exchange_job *job, int state,
                                const char *message, long rows_total)
{
    char s[8], t[24];
    snprintf(s, sizeof s, "%d", state);
    snprintf(t, sizeof t, "%ld", rows_total);
    const char *p[] = {job->id, s, message, t};
    cm_err_t err = cm_db_run(db,
                             "UPDATE exchange.imports SET state = $2::smallint, message = $3, "
                             "rows_total = $4, finished_at = now(), owner = NULL "
                             "WHERE id = $1::uuid",
                             4, p);
    /* The file has served its purpose: its failed rows are kept apart. */
    const char *q[] = {job->upload};
    if (!err)
        err = cm_db_run(db, "DELETE FROM exchange.upload_parts WHERE upload_id = $1::uuid", 1, q);
    const char *k[] = {job->id};
    if (!err)
        err = cm_db_run(db, "DELETE FROM exchange.import_keys WHERE import_id = $1::uuid", 1, k);
    if (!err)
        err = cm_db_run(db, "DELETE FROM exchange.import_plans WHERE import_id = $1::uuid", 1, k);
    return err;
}

PGresult *exchange_istore_failures(cm_db_t *db, const char *id, long after, int limit,
                                   cm_err_t *err)
{
    char a[24], l[16];
    snprintf(a, sizeof a, "%ld", after);
    snprintf(l, sizeof l, "%d", limit);
    const char *p[] = {id, a, l};
    return cm_db_exec(db,
                      "SELECT row_no, column_name, reason, message, fields::text FROM "
                      "exchange.import_errors WHERE import_id = $1::uuid AND row_no > $2 "
                      "ORDER BY row_no LIMIT $3",
                      3, p, err);
}

cm_err_t exchange_istore_headers(cm_db_t *db, const char *id, char **headers)
{
    const char *p[] = {id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db, "SELECT headers::text FROM exchange.imports WHERE id = $1::uuid",
                               1, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    *headers = cm_strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Reverting an import                                                     */

cm_err_t exchange_istore_revert_ask(cm_db_t *db, const char *id, const uint8_t *principal,
                                    size_t principal_len, const char *request_id, long days,
                                    int *import_state, bool *dry_run, bool *too_old, bool *asked)
{
    char d[24];
    snprintf(d, sizeof d, "%ld", days);
    const char *p[] = {id, (const char *)principal, request_id, d};
    int lens[] = {0, (int)principal_len, 0, 0};
    int fmts[] = {0, 1, 0, 0};
    cm_err_t err = CM_OK;
    /* Asked once: a second ask finds revert_state set and changes nothing. */
    PGresult *res = cm_db_exec_bin(
        db,
        "WITH a AS (UPDATE exchange.imports SET revert_state = 1, revert_requested_at = now(), "
        "revert_principal = $2, revert_request_id = $3, revert_total = (SELECT count(*) FROM "
        "exchange.import_rows r WHERE r.import_id = $1::uuid) WHERE id = $1::uuid AND state IN "
        "(3, 4) AND NOT dry_run AND revert_state = 0 "
        "AND finished_at >= now() - make_interval(days => $4::int) RETURNING 1) "
        "SELECT state, dry_run, coalesce(finished_at < now() - make_interval(days => $4::int), "
        "false), revert_state > 0 OR (SELECT count(*) FROM a) > 0 FROM exchange.imports "
        "WHERE id = $1::uuid",
        4, p, lens, fmts, 0, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    *import_state = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    *dry_run = PQgetvalue(res, 0, 1)[0] == 't';
    *too_old = PQgetvalue(res, 0, 2)[0] == 't';
    *asked = PQgetvalue(res, 0, 3)[0] == 't';
    PQclear(res);
    return CM_OK;
}

/* The revert of import id, if one was asked for, into im. */
static cm_err_t s_revert_of(cm_db_t *db, const char *id, Crm__Import *im)
{
    const char *p[] = {id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(
        db,
        "SELECT revert_state, revert_total, revert_done, revert_removed, "
        "revert_restored, revert_skipped, "
        "coalesce(" TS(
            "revert_requested_at") ", ''), "
                                   "coalesce(" TS(
                                       "revert_finished_at") ", '') "
                                                             "FROM exchange.imports WHERE id = "
                                                             "$1::uuid AND revert_state > 0",
        1, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_OK;
    }
    Crm__ImportRevert *rv = (Crm__ImportRevert *)cm_pb_new(&crm__import_revert__descriptor);
    im->revert = rv;
    rv->state = (Crm__ImportState)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    int64_t *nums[] = {&rv->rows_total, &rv->rows_done, &rv->removed, &rv->restored, &rv->skipped};
    for (int i = 0; i < 5; i++)
        *nums[i] = strtoll(PQgetvalue(res, 0, 1 + i), NULL, 10);
    cm_pb_set_str(&rv->requested_at, PQgetvalue(res, 0, 6));
    cm_pb_set_str(&rv->finished_at, PQgetvalue(res, 0, 7));
    PQclear(res);
    res = cm_db_exec(db,
                     "SELECT row_no, revert_reason, revert_message FROM exchange.import_rows "
                     "WHERE import_id = $1::uuid AND revert = 's' ORDER BY row_no LIMIT 100",
                     1, p, &err);
    if (!res)
        return err;
    int n = PQntuples(res);
    rv->skips = cm_calloc(n ? (size_t)n : 1, sizeof *rv->skips);
    for (int i = 0; i < n; i++) {
        Crm__ImportRowError *e =
            (Crm__ImportRowError *)cm_pb_new(&crm__import_row_error__descriptor);
        e->row = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        cm_pb_set_str(&e->reason, PQgetvalue(res, i, 1));
        cm_pb_set_str(&e->message, PQgetvalue(res, i, 2));
        rv->skips[rv->n_skips++] = e;
    }
    PQclear(res);
    return CM_OK;
}

void exchange_revert_job_release(struct exchange_revert_job *job)
{
    free(job->principal);
    memset(job, 0, sizeof *job);
}

cm_err_t exchange_istore_revert_claim(cm_db_t *db, const char *owner, int stale_s,
                                      struct exchange_revert_job *job, bool *found)
{
    return s_claim(db, "SELECT tenant_id, id FROM exchange.claim_revert($1, $2)", owner, stale_s,
                   job->tenant, job->id, found);
}

cm_err_t exchange_istore_revert_load(cm_db_t *db, struct exchange_revert_job *job)
{
    const char *p[] = {job->id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec_bin(db,
                                   "SELECT revert_principal, revert_done, revert_removed, "
                                   "revert_restored, revert_skipped FROM exchange.imports "
                                   "WHERE id = $1::uuid",
                                   1, p, NULL, NULL, 1, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    job->principal_len = (size_t)PQgetlength(res, 0, 0);
    job->principal = cm_malloc(job->principal_len ? job->principal_len : 1);
    memcpy(job->principal, PQgetvalue(res, 0, 0), job->principal_len);
    long *nums[] = {&job->done, &job->removed, &job->restored, &job->skipped};
    for (int i = 0; i < 4; i++) {
        /* bigint in binary: 8 bytes, network order */
        const unsigned char *b = (const unsigned char *)PQgetvalue(res, 0, 1 + i);
        uint64_t v = 0;
        for (int k = 0; k < 8; k++)
            v = (v << 8) | b[k];
        *nums[i] = (long)v;
    }
    PQclear(res);
    return CM_OK;
}

PGresult *exchange_istore_revert_rows(cm_db_t *db, const char *id, int limit, cm_err_t *err)
{
    char l[16];
    snprintf(l, sizeof l, "%d", limit);
    const char *p[] = {id, l};
    return cm_db_exec(db,
                      "SELECT row_no, action, customer_id, etag, coalesce(before::text, ''), "
                      "mask::text FROM exchange.import_rows WHERE import_id = $1::uuid "
                      "AND revert IS NULL ORDER BY row_no DESC LIMIT $2::int",
                      2, p, err);
}

cm_err_t exchange_istore_revert_batch(cm_db_t *db, const struct exchange_revert_job *job,
                                      const char *rows)
{
    cm_err_t err = cm_db_begin(db, job->tenant);
    const char *p[] = {job->tenant, job->id, rows};
    if (!err)
        err = cm_db_run(db,
                        "UPDATE exchange.import_rows r SET revert = x.s, revert_reason = x.why, "
                        "revert_message = x.msg FROM json_to_recordset($3::json) AS x(r bigint, "
                        "s text, why text, msg text) WHERE r.tenant_id = $1::uuid AND "
                        "r.import_id = $2::uuid AND r.row_no = x.r",
                        3, p);
    char d[24], rm[24], rs[24], sk[24];
    snprintf(d, sizeof d, "%ld", job->done);
    snprintf(rm, sizeof rm, "%ld", job->removed);
    snprintf(rs, sizeof rs, "%ld", job->restored);
    snprintf(sk, sizeof sk, "%ld", job->skipped);
    const char *q[] = {job->id, d, rm, rs, sk};
    if (!err)
        err = cm_db_run(db,
                        "UPDATE exchange.imports SET revert_done = $2, revert_removed = $3, "
                        "revert_restored = $4, revert_skipped = $5, revert_heartbeat_at = now() "
                        "WHERE id = $1::uuid",
                        5, q);
    if (!err)
        err = cm_db_commit(db);
    if (err)
        cm_db_rollback(db);
    return err;
}

cm_err_t exchange_istore_revert_finish(cm_db_t *db, const struct exchange_revert_job *job)
{
    const char *p[] = {job->id};
    return cm_db_run(db,
                     "UPDATE exchange.imports SET revert_state = 3, revert_finished_at = now(), "
                     "revert_owner = NULL WHERE id = $1::uuid",
                     1, p);
}
