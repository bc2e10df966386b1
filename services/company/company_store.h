/* Every SQL statement of the company service's background retries
 * (company.vat_retries, sql/021_vat_retries.sql). The cache's statements
 * live with the cache (company_ask.c). */
#ifndef COMPANY_STORE_H
#define COMPANY_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_vat.h"

/* A PENDING check waiting for VIES. */
struct company_retry {
    char vat[CM_VAT_SIZE];
    bool fill;
    int attempts; // failed attempts so far
    long age_s;   // since the first
};

/* The first failure of a check of customer_id: (re)starts its retry row with
 * one attempt, due in delay_s. */
cm_err_t company_store_retry_start(cm_db_t *db, const char *tenant, const char *customer_id,
                                   const char *vat, bool fill, const char *code,
                                   long delay_s) CM_MUSTCHECK;

/* The retry row of customer_id while lease is still its lease (not expired):
 * *found false otherwise. */
cm_err_t company_store_retry_take(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *lease, struct company_retry *out,
                                  bool *found) CM_MUSTCHECK;

/* Another failure: one more attempt, due in delay_s, the lease given back. */
cm_err_t company_store_retry_later(cm_db_t *db, const char *tenant, const char *customer_id,
                                   const char *lease, const char *code, long delay_s) CM_MUSTCHECK;

/* The check is over: the row goes (when lease is NULL, whoever holds it). */
cm_err_t company_store_retry_done(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *lease) CM_MUSTCHECK;

/* Claims up to limit due rows of any tenant for lease_s seconds
 * (company.claim_vat_retries); calls fn for each. Returns the rows claimed,
 * or -1 on a database error (detail in cm_db_error). */
typedef void (*company_store_claim_fn)(void *ud, const char *tenant, const char *customer_id,
                                       const char *lease);
int company_store_retry_claim(cm_db_t *db, int limit, long lease_s, company_store_claim_fn fn,
                              void *ud);

#endif
