/* The statement of identity resolution's read path (customers_resolve.c):
 * the customer a source's own id names, as far as resolving needs it. */
#ifndef CUSTOMERS_RESOLVE_STORE_H
#define CUSTOMERS_RESOLVE_STORE_H

#include "cm_db.h"
#include "customers_store.h"

#include <stdbool.h>

/* What resolving needs to know of the customer a (system, external id) names,
 * and of the tenant. */
struct customers_known {
    bool tenant_found; // false: no such tenant (nothing else is set)
    char default_country[3];
    bool found; // false: no customer holds the external id
    char id[CUSTOMERS_ID_SIZE];
    /* Which of the fields resolving fills when empty are set. */
    bool has_first_name;
    bool has_last_name;
    bool has_email;
    bool has_phone;
    int account_status; // Crm__AccountStatus
};

/* Reads, in one statement and without locking, the tenant's default country
 * and the customer holding (system, ext_id) into *out. Fails with the
 * database's error (CM_ERR_UNAVAILABLE, CM_ERR_INTERNAL). */
cm_err_t customers_resolve_store_known(cm_db_t *db, const char *tenant, const char *system,
                                       const char *ext_id,
                                       struct customers_known *out) CM_MUSTCHECK;

/* The same for many (system, ext_id) pairs at once, in one statement:
 * pairs_json is a JSON array of [system, ext_id] arrays, n of them; out[i]
 * (n of them) tells of the i-th. */
cm_err_t customers_resolve_store_known_many(cm_db_t *db, const char *tenant, const char *pairs_json,
                                            size_t n, struct customers_known *out) CM_MUSTCHECK;

#endif
