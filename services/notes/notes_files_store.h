/* Every SQL statement of a customer's files and of the terms: each runs in
 * the caller's transaction (or alone, for a CM_METHOD_NO_TXN read) and names
 * the tenant (row-level security is a second wall). */
#ifndef NOTES_FILES_STORE_H
#define NOTES_FILES_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "files.pb-c.h"

/* Takes the customer's files lock for the rest of the transaction (so two
 * uploads at once cannot both pass the files-per-customer limit), then counts
 * the customer's files into *count. */
cm_err_t notes_files_store_lock_count(cm_db_t *db, const char *tenant, const char *customer_id,
                                      long *count) CM_MUSTCHECK;

/* A new file; f's id, customer_id, filename, content_type, size, sha256,
 * kind, terms_* and created_by are stored (created_at is now). On success
 * *out is the stored row (the caller frees it). */
cm_err_t notes_files_store_insert(cm_db_t *db, const char *tenant, const Crm__CustomerFile *f,
                                  const uint8_t *data, size_t len,
                                  Crm__CustomerFile **out) CM_MUSTCHECK;

/* The customer's files, newest first, without bytes; kind NULL for all
 * ("FILE", "SIGNATURE"). Appended to resp. */
cm_err_t notes_files_store_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                const char *kind, Crm__ListFilesResponse *resp) CM_MUSTCHECK;

/* One file without its bytes; *out NULL when there is none. */
cm_err_t notes_files_store_get(cm_db_t *db, const char *tenant, const char *customer_id,
                               const char *id, Crm__CustomerFile **out) CM_MUSTCHECK;

/* One file's bytes, type and name; *out NULL when there is none. */
cm_err_t notes_files_store_content(cm_db_t *db, const char *tenant, const char *customer_id,
                                   const char *id, Crm__FileContent **out) CM_MUSTCHECK;

/* Renames a file; *out the row after, NULL when there is none. */
cm_err_t notes_files_store_rename(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *id, const char *filename,
                                  Crm__CustomerFile **out) CM_MUSTCHECK;

/* Deletes a file; *out the row as it was, NULL when there was none. */
cm_err_t notes_files_store_delete(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *id, Crm__CustomerFile **out) CM_MUSTCHECK;

/* A customer was deleted: their files go, and the timeline's file entries
 * keep what happened and when, not the file's name. */
cm_err_t notes_files_store_erase_customer(cm_db_t *db, const char *tenant,
                                          const char *customer_id) CM_MUSTCHECK;

/* The tenant's terms (*out: version 0 and no text when none were set). */
cm_err_t notes_files_store_terms_get(cm_db_t *db, const char *tenant,
                                     Crm__Terms **out) CM_MUSTCHECK;

/* Sets the terms' text; the version goes up by one when the text differs
 * from the current one (the first text is version 1), otherwise nothing
 * changes. *out the terms after. */
cm_err_t notes_files_store_terms_put(cm_db_t *db, const char *tenant, const char *text,
                                     const char *sha256, const char *by_id, const char *by_name,
                                     Crm__Terms **out) CM_MUSTCHECK;

#endif
