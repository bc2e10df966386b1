/* Every SQL statement of the exchange service: built files, kept in
 * PostgreSQL in parts so that any copy of the service can serve any part. */
#ifndef EXCHANGE_STORE_H
#define EXCHANGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_db.h"
#include "exchange_zone.h"

/* A part of a stored file holds at most this many bytes. */
#define EXCHANGE_PART_MAX (1024 * 1024)

/* What is known of a stored file. */
struct exchange_file {
    char content_type[96];
    char filename[96];
    long rows;
    long parts;
};

/* Now on the wall clock of time zone zone (an IANA name) as YYYYMMDD-HHMMSS
 * into stamp. Returns CM_OK or the database's error (an unknown zone is one). */
cm_err_t exchange_store_local_stamp(cm_db_t *db, const char *zone, char stamp[16]) CM_MUSTCHECK;

/* The UTC offsets of time zone name (an IANA name) from 1900 to 2100, as
 * PostgreSQL's zone data has them, into z (initialised here; release with
 * exchange_zone_release). Changes are found to the minute. Returns CM_OK, or
 * the database's error with z left as UTC's (an unknown zone is one). */
cm_err_t exchange_store_zone(cm_db_t *db, const char *name, struct exchange_zone *z) CM_MUSTCHECK;

/* Stores the file at path (read in parts of EXCHANGE_PART_MAX) for tenant
 * under a new id (written into id, 37 bytes), kept for hours. The file's row
 * is written last, so a file is visible only whole. Returns CM_OK or the
 * database's error (CM_ERR_INTERNAL when path cannot be read). */
cm_err_t exchange_store_put_file(cm_db_t *db, const char *tenant, const char *path,
                                 const struct exchange_file *f, long hours,
                                 char id[37]) CM_MUSTCHECK;

/* Reads part seq (0-based) of file id into *data (malloc'd, caller frees)
 * and the file's facts into f. CM_ERR_NOT_FOUND when there is no such file
 * (or it expired) or part. */
cm_err_t exchange_store_get_part(cm_db_t *db, const char *id, long seq, struct exchange_file *f,
                                 uint8_t **data, size_t *len) CM_MUSTCHECK;

/* Deletes files past their time, in every tenant. Returns the count, or -1. */
long exchange_store_purge(cm_db_t *db);

/* Runs a statement that answers one row (result_format 1: binary) into
 * *res (caller PQclears). CM_ERR_NOT_FOUND when it answers none (or more),
 * else CM_OK or the database's error. */
cm_err_t exchange_store_row(cm_db_t *db, const char *sql, int n, const char *const *p,
                            int result_format, PGresult **res) CM_MUSTCHECK;

/* Runs a claim function's query (its answer: no row, or tenant and id) and
 * copies what it claimed into tenant and id (37 bytes each); *found says
 * whether it claimed one. */
cm_err_t exchange_store_claim(cm_db_t *db, const char *sql, int n, const char *const *p,
                              char *tenant, char *id, bool *found) CM_MUSTCHECK;

/* Runs sql, a statement without parameters whose answer is one number (a
 * purge function's count). Returns it, or -1. */
long exchange_store_count(cm_db_t *db, const char *sql);

/* Deletes what the rows of imports that ended more than days ago did (kept
 * to revert them), in every tenant, unless a revert of them waits or runs.
 * Returns the rows deleted, or -1. */
long exchange_store_purge_import_rows(cm_db_t *db, long days);

#endif
