/* The export jobs' SQL. */
#include "exchange_export_store.h"
#include "exchange_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

cm_err_t exchange_xstore_create(cm_db_t *db, const struct exchange_export_new *x, char id[37])
{
    cm_uuid(id);
    char total[24];
    snprintf(total, sizeof total, "%ld", x->rows_total);
    const char *p[] = {x->tenant,
                       id,
                       x->format,
                       x->delimiter,
                       (const char *)x->request,
                       (const char *)x->principal,
                       x->request_id,
                       x->filename,
                       x->content_type,
                       total,
                       x->headers,
                       x->time_zone};
    int lens[] = {0, 0, 0, 0, (int)x->request_len, (int)x->principal_len, 0, 0, 0, 0, 0, 0};
    int fmts[] = {0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec_bin(db,
                                   "INSERT INTO exchange.exports (tenant_id, id, format, "
                                   "delimiter, request, principal, request_id, filename, "
                                   "content_type, rows_total, headers, time_zone) VALUES ($1, "
                                   "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                                   12, p, lens, fmts, 0, &err);
    PQclear(res);
    return err;
}

/* state as the API shows it: a DONE job past its time is EXPIRED. */
#define S_STATE "CASE WHEN state = 3 AND expires_at <= now() THEN 5 ELSE state END"

/* created_at, finished_at and expires_at ("" when not yet), RFC 3339. */
#define S_TIMES                                                                                    \
    TS("created_at") ", coalesce(" TS("finished_at") ", ''), coalesce(" TS("expires_at") ", '')"

cm_err_t exchange_xstore_get(cm_db_t *db, const char *id, Crm__Export **out)
{
    const char *p[] = {id};
    PGresult *res = NULL;
    cm_err_t err = exchange_store_row(db,
                                      "SELECT " S_STATE ", format, delimiter, rows_written, "
                                      "rows_total, size, filename, content_type, message, " S_TIMES
                                      ", headers FROM exchange.exports WHERE id = $1::uuid",
                                      1, p, 0, &res);
    if (err)
        return err;
    Crm__Export *x = (Crm__Export *)cm_pb_new(&crm__export__descriptor);
    cm_pb_set_str(&x->id, id);
    x->state = (Crm__ExportState)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    cm_pb_set_str(&x->format, PQgetvalue(res, 0, 1));
    cm_pb_set_str(&x->delimiter, PQgetvalue(res, 0, 2));
    x->rows_written = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    x->rows_total = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    x->size = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    char **strs[] = {&x->filename,   &x->content_type, &x->message,
                     &x->created_at, &x->finished_at,  &x->expires_at};
    for (int i = 0; i < 6; i++)
        cm_pb_set_str(strs[i], PQgetvalue(res, 0, 6 + i));
    cm_pb_set_str(&x->headers, PQgetvalue(res, 0, 12));
    PQclear(res);
    *out = x;
    return CM_OK;
}

void exchange_export_job_release(struct exchange_export_job *job)
{
    free(job->request);
    free(job->principal);
    free(job->page_token);
    memset(job, 0, sizeof *job);
}

cm_err_t exchange_xstore_claim(cm_db_t *db, const char *owner, int stale_s, int max_attempts,
                               struct exchange_export_job *job, bool *found)
{
    char s[16], m[16];
    snprintf(s, sizeof s, "%d", stale_s);
    snprintf(m, sizeof m, "%d", max_attempts);
    const char *p[] = {owner, s, m};
    return exchange_store_claim(db, "SELECT tenant_id, id FROM exchange.claim_export($1, $2, $3)",
                                3, p, job->tenant, job->id, found);
}

/* A bytea column of a binary result into a malloc'd copy. */
static uint8_t *s_bytes(const PGresult *res, int col, size_t *len)
{
    *len = (size_t)PQgetlength(res, 0, col);
    uint8_t *b = cm_malloc(*len ? *len : 1);
    memcpy(b, PQgetvalue(res, 0, col), *len);
    return b;
}

cm_err_t exchange_xstore_load(cm_db_t *db, struct exchange_export_job *job)
{
    const char *p[] = {job->id};
    /* Binary results: numbers are read as text through ::text. */
    PGresult *res = NULL;
    cm_err_t err = exchange_store_row(db,
                                      "SELECT format, delimiter, request, principal, request_id, "
                                      "rows_written::text, rows_total::text, parts::text, "
                                      "size::text, page_token, time_zone FROM exchange.exports "
                                      "WHERE id = $1::uuid",
                                      1, p, 1, &res);
    if (err)
        return err;
    job->xlsx = !strcmp(PQgetvalue(res, 0, 0), "xlsx");
    job->delim = PQgetvalue(res, 0, 1)[0] == ';' ? ';' : ',';
    job->request = s_bytes(res, 2, &job->request_len);
    job->principal = s_bytes(res, 3, &job->principal_len);
    snprintf(job->request_id, sizeof job->request_id, "%s", PQgetvalue(res, 0, 4));
    job->rows_written = strtol(PQgetvalue(res, 0, 5), NULL, 10);
    job->rows_total = strtol(PQgetvalue(res, 0, 6), NULL, 10);
    job->parts = strtol(PQgetvalue(res, 0, 7), NULL, 10);
    job->size = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
    job->page_token = cm_strdup(PQgetvalue(res, 0, 9));
    snprintf(job->time_zone, sizeof job->time_zone, "%s", PQgetvalue(res, 0, 10));
    PQclear(res);
    return CM_OK;
}

/* Updates the job's progress while owner holds it, in the open transaction
 * or alone; CM_ERR_CONFLICT when the lease is lost. end: "" (running), or
 * "done" (DONE, kept for hours). */
static cm_err_t s_update(cm_db_t *db, const struct exchange_export_job *job, const char *owner,
                         bool done, long hours)
{
    char rows[24], total[24], parts[24], size[24], h[24];
    snprintf(rows, sizeof rows, "%ld", job->rows_written);
    snprintf(total, sizeof total, "%ld", job->rows_total);
    snprintf(parts, sizeof parts, "%ld", job->parts);
    snprintf(size, sizeof size, "%lld", (long long)job->size);
    snprintf(h, sizeof h, "%ld", hours);
    const char *p[] = {
        job->id,        owner, rows, total, parts, size, job->page_token ? job->page_token : "",
        done ? h : NULL};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(
        db,
        "UPDATE exchange.exports SET rows_written = $3, rows_total = $4, parts = $5, size = $6, "
        "page_token = $7, heartbeat_at = now(), state = CASE WHEN $8::int IS NULL THEN 2 "
        "ELSE 3 END, finished_at = CASE WHEN $8::int IS NULL THEN NULL ELSE now() END, "
        "expires_at = now() + make_interval(hours => $8::int), owner = CASE WHEN $8::int IS "
        "NULL THEN owner END WHERE id = $1::uuid AND owner = $2 AND state = 2",
        8, p, &err);
    if (!res)
        return err;
    bool held = strtol(PQcmdTuples(res), NULL, 10) == 1;
    PQclear(res);
    return held ? CM_OK : CM_ERR_CONFLICT;
}

cm_err_t exchange_xstore_restart(cm_db_t *db, struct exchange_export_job *job, const char *owner)
{
    cm_err_t err = cm_db_begin(db, job->tenant);
    job->rows_written = job->parts = 0;
    job->size = 0;
    free(job->page_token);
    job->page_token = cm_strdup("");
    if (!err)
        err = s_update(db, job, owner, false, 0);
    const char *p[] = {job->id};
    if (!err)
        err = cm_db_run(db, "DELETE FROM exchange.export_parts WHERE export_id = $1::uuid", 1, p);
    if (!err)
        err = cm_db_commit(db);
    if (err)
        cm_db_rollback(db);
    return err;
}

cm_err_t exchange_xstore_progress(cm_db_t *db, const struct exchange_export_job *job,
                                  const char *owner)
{
    return s_update(db, job, owner, false, 0);
}

/* Inserts data[0..len) as parts from job->parts on (advancing parts, size). */
static cm_err_t s_insert_parts(cm_db_t *db, struct exchange_export_job *job, const uint8_t *data,
                               size_t len)
{
    cm_err_t err = CM_OK;
    for (size_t off = 0; off < len && !err;) {
        size_t n = len - off < EXCHANGE_PART_MAX ? len - off : EXCHANGE_PART_MAX;
        char s[24];
        snprintf(s, sizeof s, "%ld", job->parts);
        const char *p[] = {job->tenant, job->id, s, (const char *)data + off};
        int lens[] = {0, 0, 0, (int)n};
        int fmts[] = {0, 0, 0, 1};
        PGresult *res = cm_db_exec_bin(db,
                                       "INSERT INTO exchange.export_parts (tenant_id, export_id, "
                                       "seq, data) VALUES ($1, $2, $3, $4)",
                                       4, p, lens, fmts, 0, &err);
        PQclear(res);
        if (!err) {
            job->parts++;
            job->size += (int64_t)n;
            off += n;
        }
    }
    return err;
}

cm_err_t exchange_xstore_append(cm_db_t *db, struct exchange_export_job *job, const char *owner,
                                const uint8_t *data, size_t len, bool done, long hours)
{
    long parts = job->parts;
    int64_t size = job->size;
    cm_err_t err = cm_db_begin(db, job->tenant);
    if (!err)
        err = s_insert_parts(db, job, data, len);
    /* The update last: its row lock is held the shortest. */
    if (!err)
        err = s_update(db, job, owner, done, hours);
    if (!err)
        err = cm_db_commit(db);
    if (err) {
        cm_db_rollback(db);
        job->parts = parts;
        job->size = size;
    }
    return err;
}

cm_err_t exchange_xstore_append_file(cm_db_t *db, struct exchange_export_job *job,
                                     const char *owner, const char *path, long hours)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        cm_log_error("could not read the built file %s: %s", path, strerror(errno));
        return CM_ERR_INTERNAL;
    }
    uint8_t *part = cm_malloc(EXCHANGE_PART_MAX);
    cm_err_t err = cm_db_begin(db, job->tenant);
    size_t n;
    while (!err && (n = fread(part, 1, EXCHANGE_PART_MAX, fp)) > 0)
        err = s_insert_parts(db, job, part, n);
    if (!err && ferror(fp)) {
        cm_log_error("could not read the built file %s", path);
        err = CM_ERR_INTERNAL;
    }
    if (!err)
        err = s_update(db, job, owner, true, hours);
    if (!err)
        err = cm_db_commit(db);
    if (err)
        cm_db_rollback(db);
    free(part);
    fclose(fp);
    return err;
}

cm_err_t exchange_xstore_fail(cm_db_t *db, const struct exchange_export_job *job, const char *owner,
                              const char *message)
{
    const char *p[] = {job->id, owner, message};
    cm_err_t err = cm_db_begin(db, job->tenant);
    if (!err)
        err = cm_db_run(db,
                        "UPDATE exchange.exports SET state = 4, message = $3, owner = NULL, "
                        "finished_at = now() WHERE id = $1::uuid AND owner = $2 AND state = 2",
                        3, p);
    if (!err)
        err = cm_db_run(db, "DELETE FROM exchange.export_parts WHERE export_id = $1::uuid", 1, p);
    if (!err)
        err = cm_db_commit(db);
    if (err)
        cm_db_rollback(db);
    return err;
}

/* Marks a DONE job past its time EXPIRED and removes its parts. */
static cm_err_t s_expire(cm_db_t *db, const char *id)
{
    const char *p[] = {id};
    cm_err_t err = cm_db_run(db,
                             "UPDATE exchange.exports SET state = 5 WHERE id = $1::uuid AND "
                             "state = 3 AND expires_at <= now()",
                             1, p);
    if (!err)
        err = cm_db_run(db, "DELETE FROM exchange.export_parts WHERE export_id = $1::uuid", 1, p);
    return err;
}

cm_err_t exchange_xstore_part(cm_db_t *db, const char *id, long seq,
                              struct exchange_export_part *out)
{
    memset(out, 0, sizeof *out);
    char s[24];
    snprintf(s, sizeof s, "%ld", seq);
    const char *p[] = {id, s};
    PGresult *res = NULL;
    cm_err_t err = exchange_store_row(db,
                                      "SELECT (" S_STATE ")::text, e.message, e.filename, "
                                      "e.content_type, e.rows_written::text, e.parts::text, p.data "
                                      "FROM exchange.exports e LEFT JOIN exchange.export_parts p "
                                      "ON p.tenant_id = e.tenant_id AND p.export_id = e.id AND "
                                      "p.seq = $2::int AND e.state = 3 WHERE e.id = $1::uuid",
                                      2, p, 1, &res);
    if (err)
        return err;
    out->state = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(out->message, sizeof out->message, "%s", PQgetvalue(res, 0, 1));
    snprintf(out->filename, sizeof out->filename, "%s", PQgetvalue(res, 0, 2));
    snprintf(out->content_type, sizeof out->content_type, "%s", PQgetvalue(res, 0, 3));
    out->rows = strtol(PQgetvalue(res, 0, 4), NULL, 10);
    out->parts = strtol(PQgetvalue(res, 0, 5), NULL, 10);
    if (out->state == CRM__EXPORT_STATE__EXPORT_STATE_DONE && !PQgetisnull(res, 0, 6))
        out->data = s_bytes(res, 6, &out->len);
    PQclear(res);
    if (out->state == CRM__EXPORT_STATE__EXPORT_STATE_EXPIRED) {
        err = s_expire(db, id);
        if (err)
            cm_log_warn("could not remove the file of expired export %s: %s", id, cm_db_error(db));
    }
    return CM_OK;
}

long exchange_xstore_purge(cm_db_t *db)
{
    return exchange_store_count(db, "SELECT exchange.purge_exports()");
}
