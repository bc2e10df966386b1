/* The import's SQL: uploaded parts, jobs, failed rows and the identity keys
 * seen in a file. Every function works in the connection's tenant (set with
 * cm_db_use_tenant), but claim_import, which looks across tenants. */
#ifndef EXCHANGE_IMPORT_STORE_H
#define EXCHANGE_IMPORT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_db.h"
#include "exchange.pb-c.h"

/* Stores part seq of upload (again: no change) and sets *total to the bytes
 * the upload holds now. */
cm_err_t exchange_istore_put_part(cm_db_t *db, const char *tenant, const char *upload, int seq,
                                  const uint8_t *data, size_t len, int64_t *total) CM_MUSTCHECK;

/* The parts (count, and the highest seq + 1) and bytes an upload holds. */
cm_err_t exchange_istore_upload_size(cm_db_t *db, const char *upload, long *count, long *top,
                                     int64_t *size) CM_MUSTCHECK;

/* Part seq of upload into *data (malloc'd) and *len; CM_ERR_NOT_FOUND. */
cm_err_t exchange_istore_get_part(cm_db_t *db, const char *upload, long seq, uint8_t **data,
                                  size_t *len) CM_MUSTCHECK;

/* Inserts a queued import (id into id). principal: the packed crm.Principal;
 * zone: the business's time zone, which workbook times are read in. */
cm_err_t exchange_istore_create(cm_db_t *db, const char *tenant, const Crm__CreateImportRequest *r,
                                int64_t size, const uint8_t *principal, size_t principal_len,
                                const char *request_id, const char *zone, char id[37]) CM_MUSTCHECK;

/* The import as the API shows it, with its first 100 failed rows;
 * CM_ERR_NOT_FOUND. *out is dynamic (free_unpacked). */
cm_err_t exchange_istore_get(cm_db_t *db, const char *id, Crm__Import **out) CM_MUSTCHECK;

/* What the worker needs of a job. */
struct exchange_job {
    char tenant[37], id[37], upload[37];
    long parts;
    int mode;
    bool dry_run;
    char delimiter[8], encoding[16];
    char *mapping;      // owned
    uint8_t *principal; // owned: packed crm.Principal
    size_t principal_len;
    char request_id[96];
    char time_zone[64]; // the business's when the import was asked for
    long rows_read;     // data rows already done (a restart resumes after them)
    long created, updated, unchanged, failed;
};
void exchange_job_release(struct exchange_job *job);

/* Takes the oldest waiting (or abandoned) import for owner: tenant and id
 * into job (else *found false). Runs without a tenant. */
cm_err_t exchange_istore_claim(cm_db_t *db, const char *owner, int stale_s,
                               struct exchange_job *job, bool *found) CM_MUSTCHECK;
/* Reads the rest of the claimed job (tenant set). */
cm_err_t exchange_istore_load(cm_db_t *db, struct exchange_job *job) CM_MUSTCHECK;

/* Keeps the header row, the layout column of each header and the unknown
 * headers (JSON arrays), and the delimiter and encoding used. */
cm_err_t exchange_istore_header(cm_db_t *db, const char *id, const char *headers,
                                const char *columns, const char *unknown, const char *delimiter,
                                const char *encoding) CM_MUSTCHECK;

/* Registers the identity keys of a batch at once: keys is a JSON array of
 * {"i": index, "k": key, "r": row} (index < n); first[index] gets the row
 * of the file that had the key first (the smallest row of the batch for a
 * key new to the file; the same again when the batch is done again). */
cm_err_t exchange_istore_keys(cm_db_t *db, const struct exchange_job *job, const char *keys,
                              size_t n, long *first) CM_MUSTCHECK;

/* The decisions recorded for rows from..to: row_no, action, customer_id,
 * etag. Caller PQclears. NULL with *err. */
PGresult *exchange_istore_plans_get(cm_db_t *db, const struct exchange_job *job, long from, long to,
                                    cm_err_t *err) CM_MUSTCHECK;

/* Records decisions (a JSON array of {"r": row, "a": "c"|"u", "c":
 * customer, "e": etag}); a row decided before keeps its decision. */
cm_err_t exchange_istore_plans_put(cm_db_t *db, const struct exchange_job *job,
                                   const char *plans) CM_MUSTCHECK;

/* A failed row. */
struct exchange_failure {
    long row;
    char column[128];
    char reason[32];
    char message[300];
    char *fields; // owned: the row's fields as a JSON array
};

/* Records a batch in one transaction: its failed rows, what its written
 * rows did (written: NULL, or a JSON array of {"r": row, "a": "c"|"u", "c":
 * customer, "e": etag after, "b": the customer before, "m": mask}), the
 * counts and rows_read; and that owner is still at work. */
cm_err_t exchange_istore_batch(cm_db_t *db, const struct exchange_job *job,
                               const struct exchange_failure *f, size_t n,
                               const char *written) CM_MUSTCHECK;

/* Ends the job: state (DONE or FAILED), a message, the total rows. */
cm_err_t exchange_istore_finish(cm_db_t *db, const struct exchange_job *job, int state,
                                const char *message, long rows_total) CM_MUSTCHECK;

/* Failed rows after row after (at most limit), in order: row_no, column,
 * reason, message, fields (JSON). Caller PQclears. NULL with *err. */
PGresult *exchange_istore_failures(cm_db_t *db, const char *id, long after, int limit,
                                   cm_err_t *err) CM_MUSTCHECK;
/* The header row of an import (JSON array text, malloc'd); CM_ERR_NOT_FOUND. */
cm_err_t exchange_istore_headers(cm_db_t *db, const char *id, char **headers) CM_MUSTCHECK;

/* ---- reverting an import ---- */

/* Asks for the revert of import id (once: asked again, nothing changes) by
 * principal (packed crm.Principal): it is queued when the import is DONE or
 * FAILED, not a dry run, and ended at most days ago. *import_state,
 * *dry_run and *too_old tell which; *asked whether a revert was asked for
 * before or now. CM_ERR_NOT_FOUND. */
cm_err_t exchange_istore_revert_ask(cm_db_t *db, const char *id, const uint8_t *principal,
                                    size_t principal_len, const char *request_id, long days,
                                    int *import_state, bool *dry_run, bool *too_old,
                                    bool *asked) CM_MUSTCHECK;

/* What a revert thread needs of a job. */
struct exchange_revert_job {
    char tenant[37], id[37];
    uint8_t *principal; // owned: packed crm.Principal of who asked
    size_t principal_len;
    long done, removed, restored, skipped;
};
void exchange_revert_job_release(struct exchange_revert_job *job);

/* Takes the oldest waiting (or abandoned) revert for owner (across tenants). */
cm_err_t exchange_istore_revert_claim(cm_db_t *db, const char *owner, int stale_s,
                                      struct exchange_revert_job *job, bool *found) CM_MUSTCHECK;
/* Reads the rest of the claimed revert (tenant set). */
cm_err_t exchange_istore_revert_load(cm_db_t *db, struct exchange_revert_job *job) CM_MUSTCHECK;

/* The next rows (at most limit, last row first) not yet reverted: row_no,
 * action, customer_id, etag, before (JSON text or ""), mask (JSON text).
 * Caller PQclears. NULL with *err. */
PGresult *exchange_istore_revert_rows(cm_db_t *db, const char *id, int limit,
                                      cm_err_t *err) CM_MUSTCHECK;

/* Records in one transaction what a batch of the revert did to its rows
 * (a JSON array of {"r": row, "s": "r" reverted | "s" skipped, "why":
 * reason, "msg": message}) and the job's counts. */
cm_err_t exchange_istore_revert_batch(cm_db_t *db, const struct exchange_revert_job *job,
                                      const char *rows) CM_MUSTCHECK;

/* Ends the revert (DONE). */
cm_err_t exchange_istore_revert_finish(cm_db_t *db,
                                       const struct exchange_revert_job *job) CM_MUSTCHECK;

#endif
