/* The export jobs' SQL (exchange.exports, exchange.export_parts). Every
 * function works in the connection's tenant (cm_db_use_tenant), but claim
 * and purge, which look across tenants. A function that takes owner writes
 * only while the job is still that owner's (its lease): CM_ERR_CONFLICT when
 * another copy has taken the job meanwhile. */
#ifndef EXCHANGE_EXPORT_STORE_H
#define EXCHANGE_EXPORT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_db.h"
#include "exchange.pb-c.h"

/* What a new job is. */
struct exchange_export_new {
    const char *tenant, *format, *delimiter, *filename, *content_type, *request_id;
    const char *headers;    // "api", "en", ... (exchange_headers_name)
    const char *time_zone;  // the business's: a workbook's times are on its clock
    const uint8_t *request; // borrowed: the packed crm.CreateExportRequest
    size_t request_len;
    const uint8_t *principal; // borrowed: the packed crm.Principal
    size_t principal_len;
    long rows_total;
};

/* Inserts a queued job; its id into id. */
cm_err_t exchange_xstore_create(cm_db_t *db, const struct exchange_export_new *x,
                                char id[37]) CM_MUSTCHECK;

/* The job as the API shows it (a DONE job past its time shows EXPIRED);
 * CM_ERR_NOT_FOUND. *out is dynamic (free_unpacked). */
cm_err_t exchange_xstore_get(cm_db_t *db, const char *id, Crm__Export **out) CM_MUSTCHECK;

/* What a copy needs of a job it runs. */
struct exchange_export_job {
    char tenant[37], id[37];
    bool xlsx;
    char delim;
    uint8_t *request; // owned: packed crm.CreateExportRequest
    size_t request_len;
    uint8_t *principal; // owned: packed crm.Principal
    size_t principal_len;
    char request_id[96];
    char time_zone[64]; // the business's when the job was asked for
    long rows_written, rows_total, parts;
    int64_t size;
    char *page_token; // owned: where a CSV job goes on ("" from the start)
};
void exchange_export_job_release(struct exchange_export_job *job);

/* Takes the oldest waiting (or abandoned: no heartbeat for stale_s) job for
 * owner, failing those taken max_attempts times; tenant and id into job,
 * else *found false. Runs without a tenant. */
cm_err_t exchange_xstore_claim(cm_db_t *db, const char *owner, int stale_s, int max_attempts,
                               struct exchange_export_job *job, bool *found) CM_MUSTCHECK;
/* Reads the rest of the claimed job (tenant set). */
cm_err_t exchange_xstore_load(cm_db_t *db, struct exchange_export_job *job) CM_MUSTCHECK;

/* Starts the job's file again from nothing (a workbook cannot be continued). */
cm_err_t exchange_xstore_restart(cm_db_t *db, struct exchange_export_job *job,
                                 const char *owner) CM_MUSTCHECK;

/* Keeps the job's progress (rows_written, rows_total) and that owner is at it. */
cm_err_t exchange_xstore_progress(cm_db_t *db, const struct exchange_export_job *job,
                                  const char *owner) CM_MUSTCHECK;

/* In one transaction: data[0..len) as the job's next parts (at most
 * EXCHANGE_PART_MAX bytes each), the job's progress (rows_written,
 * rows_total, page_token, parts and size as job says after them), and when
 * done the end (DONE, the file kept for hours). job's parts and size are
 * advanced on success. */
cm_err_t exchange_xstore_append(cm_db_t *db, struct exchange_export_job *job, const char *owner,
                                const uint8_t *data, size_t len, bool done,
                                long hours) CM_MUSTCHECK;

/* The file at path as the job's parts, and the end (DONE, kept for hours),
 * in one transaction. CM_ERR_INTERNAL when path cannot be read. */
cm_err_t exchange_xstore_append_file(cm_db_t *db, struct exchange_export_job *job,
                                     const char *owner, const char *path, long hours) CM_MUSTCHECK;

/* Ends the job FAILED with message (its parts go). */
cm_err_t exchange_xstore_fail(cm_db_t *db, const struct exchange_export_job *job, const char *owner,
                              const char *message) CM_MUSTCHECK;

/* What GetExportFile needs of a job and one part of its file. */
struct exchange_export_part {
    int state; // crm.ExportState, EXPIRED for a DONE job past its time
    char message[512];
    char filename[96];
    char content_type[96];
    long rows, parts;
    uint8_t *data; // owned (malloc'd): part seq, when DONE and it exists
    size_t len;
};

/* Reads job id's state and, when DONE, part seq. A DONE job found past its
 * time is marked EXPIRED and its parts removed at once. CM_ERR_NOT_FOUND. */
cm_err_t exchange_xstore_part(cm_db_t *db, const char *id, long seq,
                              struct exchange_export_part *out) CM_MUSTCHECK;

/* Removes the files of expired and failed jobs, in every tenant. Returns the
 * files that expired, or -1. */
long exchange_xstore_purge(cm_db_t *db);

#endif
