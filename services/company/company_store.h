/* The SQL statements of the company service's background retries
 * (company.vat_retries, sql/021_vat_retries.sql) and of the member states
 * backed off (company.state_backoff, sql/022_state_backoff.sql). The cache's
 * statements live with the cache (company_ask.c). */
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

/* VIES reported cc unavailable: backs it off for every copy, 30 s at first,
 * doubled (to at most 600 s) each time it is reported again after its wait
 * ended; a report while it waits changes nothing. Sets *seconds (the wait)
 * and *left_ms (until it ends). */
cm_err_t company_store_backoff_start(cm_db_t *db, const char *cc, int *seconds,
                                     int64_t *left_ms) CM_MUSTCHECK;

/* cc answered again (or check-status says it is available): its backoff ends. */
cm_err_t company_store_backoff_end(cm_db_t *db, const char *cc) CM_MUSTCHECK;

/* Calls fn for every member state backed off, with its wait and the time
 * left (negative once it ended, until check-status or an answer clears it).
 * Returns the rows, or -1 on a database error (detail in cm_db_error). */
typedef void (*company_store_backoff_fn)(void *ud, const char *cc, int seconds, int64_t left_ms);
int company_store_backoff_load(cm_db_t *db, company_store_backoff_fn fn, void *ud);

#endif
