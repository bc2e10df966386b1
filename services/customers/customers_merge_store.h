/* The statements of merging two customers (customers_merge.c) and of the
 * ids merged records leave behind (customers.merged_customers). */
#ifndef CUSTOMERS_MERGE_STORE_H
#define CUSTOMERS_MERGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_db.h"
#include "cm_err.h"

/* Moves every row dup owns in the schema (ledger, vouchers, subscriptions,
 * price rules, access, photo when keep has none) to keep and records dup as
 * merged into keep (customers.merge_rows), in the caller's transaction. With
 * dry, moves nothing. *currency_clash: both hold money in different
 * currencies (nothing moved). Fails with cm_db_exec's error. */
cm_err_t customers_merge_store_rows(cm_db_t *db, const char *tenant, const char *keep,
                                    const char *dup, bool dry, bool *currency_clash) CM_MUSTCHECK;

/* The customer the merged record id went into (the last one kept of a
 * chain) into `into` (CUSTOMERS_ID_SIZE bytes), "" when id was not merged. */
cm_err_t customers_merge_store_into(cm_db_t *db, const char *tenant, const char *id,
                                    char *into) CM_MUSTCHECK;

/* Forgets the records merged into id (its deletion): deletes their rows and
 * sets *ids (malloc'd, each malloc'd; free with n) to their ids. */
cm_err_t customers_merge_store_forget(cm_db_t *db, const char *tenant, const char *id, char ***ids,
                                      size_t *n) CM_MUSTCHECK;

#endif
