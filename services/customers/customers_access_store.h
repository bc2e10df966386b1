/* The SQL of access control (docs/access.md): zones, credentials, grants,
 * the door's one read, its log, erasure and retention. Every function takes
 * the request's tenant and runs in the caller's transaction; each returns
 * CM_OK or cm_db_exec's error (CM_ERR_CONFLICT for a value or name another
 * row holds). Messages answered are the caller's to free. */
#ifndef CUSTOMERS_ACCESS_STORE_H
#define CUSTOMERS_ACCESS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "access.pb-c.h"
#include "customers_access_rules.h"

/* ---- zones ---- */
cm_err_t customers_access_store_zones(cm_db_t *db, const char *tenant,
                                      Crm__ListAccessZonesResponse *resp) CM_MUSTCHECK;
/* *out NULL when there is no such zone. */
cm_err_t customers_access_store_zone(cm_db_t *db, const char *tenant, const char *id,
                                     Crm__AccessZone **out) CM_MUSTCHECK;
/* How many zones the business has. */
cm_err_t customers_access_store_zone_count(cm_db_t *db, const char *tenant,
                                           long *count) CM_MUSTCHECK;
/* Inserts zone id named name (insert), or renames it; *out NULL when there
 * is no zone id to rename. */
cm_err_t customers_access_store_zone_put(cm_db_t *db, const char *tenant, const char *id,
                                         const char *name, bool insert,
                                         Crm__AccessZone **out) CM_MUSTCHECK;
cm_err_t customers_access_store_zone_delete(cm_db_t *db, const char *tenant, const char *id,
                                            bool *deleted) CM_MUSTCHECK;

/* ---- credentials and grants of a customer ---- */

/* The customer's credentials into resp (NULL: only count them); *exists
 * false when there is no such customer. */
cm_err_t customers_access_store_credentials(cm_db_t *db, const char *tenant, const char *customer,
                                            bool *exists, long *count,
                                            Crm__ListAccessCredentialsResponse *resp) CM_MUSTCHECK;
/* *out NULL when the customer has no credential id; lock: FOR UPDATE. */
cm_err_t customers_access_store_credential(cm_db_t *db, const char *tenant, const char *customer,
                                           const char *id, bool lock,
                                           Crm__AccessCredential **out) CM_MUSTCHECK;
/* Inserts c (insert) or stores its blocked state and reason; answers it as
 * stored. */
cm_err_t customers_access_store_credential_put(cm_db_t *db, const char *tenant,
                                               const Crm__AccessCredential *c, bool insert,
                                               Crm__AccessCredential **out) CM_MUSTCHECK;
cm_err_t customers_access_store_credential_delete(cm_db_t *db, const char *tenant,
                                                  const char *customer, const char *id,
                                                  bool *deleted) CM_MUSTCHECK;

/* The customer's grants (zone and plan names with them) into resp (NULL:
 * only count them); *exists as above. */
cm_err_t customers_access_store_grants(cm_db_t *db, const char *tenant, const char *customer,
                                       bool *exists, long *count,
                                       Crm__ListAccessGrantsResponse *resp) CM_MUSTCHECK;
/* Inserts g (its id, customer, zone and plan checked by the caller), days
 * as the mask and the hours as minutes (-1: all day); answers it. */
cm_err_t customers_access_store_grant_insert(cm_db_t *db, const char *tenant,
                                             const Crm__AccessGrant *g, int days, int from_minute,
                                             int until_minute, Crm__AccessGrant **out) CM_MUSTCHECK;
cm_err_t customers_access_store_grant_delete(cm_db_t *db, const char *tenant, const char *customer,
                                             const char *id, bool *deleted) CM_MUSTCHECK;

/* ---- the door ---- */

/* What one check read: its facts (grants owned here) and who it names. */
struct customers_access_read {
    bool zone_found;
    char zone_name[404];
    char customer_id[40];
    char display_name[512];
    int64_t local_ms; // the check's time on the business's wall clock, as if it were UTC
    struct customers_access_facts facts;
    struct customers_access_grant *grants; // owned: free with customers_access_store_read_free
};

/* The zone, the credential with value (one not blocked first), its customer
 * and their grants to the zone, each with whether its plan has an active
 * subscription on the business's day at at (RFC 3339), and at read in the
 * business's time zone: one statement. */
cm_err_t customers_access_store_read(cm_db_t *db, const char *tenant, const char *value,
                                     const char *zone, const char *at,
                                     struct customers_access_read *out) CM_MUSTCHECK;
void customers_access_store_read_free(struct customers_access_read *r);

/* Queues the check's log entry (sent with the commit). at: RFC 3339. */
void customers_access_store_log_add(cm_db_t *db, const char *tenant, const char *at,
                                    const char *zone, const char *zone_name, const char *value,
                                    const char *customer, Crm__AccessDecision decision,
                                    Crm__AccessReason reason);
/* The customer's last limit entries, newest first; *exists as above. */
cm_err_t customers_access_store_log(cm_db_t *db, const char *tenant, const char *customer,
                                    int limit, bool *exists,
                                    Crm__ListAccessLogResponse *resp) CM_MUSTCHECK;

/* An erased customer's log entries keep the decision, not the value. */
cm_err_t customers_access_store_erase(cm_db_t *db, const char *tenant,
                                      const char *customer) CM_MUSTCHECK;

/* Deletes at most limit entries of every business logged more than days
 * days ago; *deleted how many. */
cm_err_t customers_access_store_prune(cm_db_t *db, int days, int limit, long *deleted) CM_MUSTCHECK;

#endif
