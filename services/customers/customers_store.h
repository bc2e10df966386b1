/* Every SQL statement the customers service runs. Each function runs inside
 * the caller's transaction (cm_svc opens it, scoped to the tenant); queries
 * also name the tenant explicitly, so row-level security is a second wall. */
#ifndef CUSTOMERS_STORE_H
#define CUSTOMERS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "customers.pb-c.h"

#define CUSTOMERS_ID_SIZE 37

#define CUSTOMERS_TIME_ZONE_MAX 64 // bytes of a time zone's name

/* A tenant's settings. */
struct customers_tenant {
    char default_country[3];
    char **required_fields; // owned, n_required
    size_t n_required;
    char *name;                 // owned
    char *vat_number;           // owned: the tenant's own EU VAT number, normalised, or ""
    char currency[4];           // ISO 4217 as set, or "" (the country's)
    char effective_currency[4]; // read only: currency, or the country's
    char time_zone[CUSTOMERS_TIME_ZONE_MAX + 1]; // IANA name, e.g. "Europe/Sofia"
    int64_t today;         // read only: the business's today, days since 1970-01-01 in time_zone
    int64_t today_ends_ms; // read only: when that day ends (ms since 1970-01-01 UTC)
    char version[24];      // read only: the row's version as read (its xmin)
};
cm_err_t customers_store_tenant(cm_db_t *db, const char *tenant,
                                struct customers_tenant *out) CM_MUSTCHECK;
void customers_tenant_release(struct customers_tenant *t);
/* A deep copy of src into dst (release it). */
void customers_tenant_copy(struct customers_tenant *dst, const struct customers_tenant *src);
/* Queues (cm_db_defer_check) the check that tenant's settings row is still at
 * version: the statement, and so the transaction, fails as a serialization
 * failure (retried by cm_svc) when it changed. */
void customers_store_tenant_check(cm_db_t *db, const char *tenant, const char *version);
cm_err_t customers_store_tenant_update(cm_db_t *db, const char *tenant,
                                       const struct customers_tenant *t) CM_MUSTCHECK;
/* The business's today (days since 1970-01-01 in its time zone) into *day;
 * CM_OK, CM_ERR_NOT_FOUND for no such tenant, or cm_db_exec's error. */
cm_err_t customers_store_tenant_today(cm_db_t *db, const char *tenant, int64_t *day) CM_MUSTCHECK;
/* Whether PostgreSQL knows the time zone name (pg_timezone_names) into
 * *known; CM_OK or cm_db_exec's error. */
cm_err_t customers_store_time_zone_known(cm_db_t *db, const char *name, bool *known) CM_MUSTCHECK;

/* Loads a customer with its groups, photo flag, times and etag. Sets *out to a
 * dynamic message, or NULL when there is no such customer. */
cm_err_t customers_store_get(cm_db_t *db, const char *tenant, const char *id, bool for_update,
                             Crm__Customer **out) CM_MUSTCHECK;

/* What the database gave a row it wrote: its version (the etag) and times,
 * as customers_store_get shows them. */
struct customers_stamp {
    char version[24];
    char created_at[40];
    char updated_at[40];
};

/* Inserts a validated customer under id, with its groups (ids resolved) and
 * external ids. Fills *stamp when not NULL. */
cm_err_t customers_store_insert(cm_db_t *db, const char *tenant, const char *id,
                                const Crm__Customer *c, char **group_ids, size_t n_groups,
                                struct customers_stamp *stamp) CM_MUSTCHECK;

/* Writes a validated customer over the stored one and bumps its version;
 * group links and external ids are rewritten only when links_changed. Fills
 * *stamp when not NULL. */
cm_err_t customers_store_update(cm_db_t *db, const char *tenant, const Crm__Customer *c,
                                char **group_ids, size_t n_groups, bool links_changed,
                                struct customers_stamp *stamp) CM_MUSTCHECK;

/* Bumps version and updated_at only (e.g. a photo changed). */
cm_err_t customers_store_touch(cm_db_t *db, const char *tenant, const char *id) CM_MUSTCHECK;

/* Deletes a customer; *found tells whether it existed. */
cm_err_t customers_store_delete(cm_db_t *db, const char *tenant, const char *id,
                                bool *found) CM_MUSTCHECK;

/* Finds another customer (not exclude_id, which may be NULL) holding the
 * e-mail key or the external id; writes its id into out ("" if none). */
cm_err_t customers_store_find_email(cm_db_t *db, const char *tenant, const char *email_key,
                                    const char *exclude_id, char *out) CM_MUSTCHECK;
cm_err_t customers_store_find_external(cm_db_t *db, const char *tenant, const char *system,
                                       const char *ext_id, const char *exclude_id,
                                       char *out) CM_MUSTCHECK;

/* Resolves group names (case-insensitively) to ids. Writes malloc'd ids into
 * ids[i]; *missing gets the index of the first unknown name, or -1. */
cm_err_t customers_store_group_ids(cm_db_t *db, const char *tenant, char **names, size_t n,
                                   char **ids, long *missing) CM_MUSTCHECK;

/* Listing with filters, order and keyset position. */
struct customers_list_query {
    const char *order_column; // one of the whitelisted sort columns
    bool desc;
    const char *after_key; // keyset position, or NULL for the first page
    const char *after_id;
    const char *group; // filters; NULL or "" when absent
    const char *tag;
    int is_company;     // -1 absent, 0/1
    int has_account;    // -1 absent, 0/1
    int account_status; // 0 absent
    int limit;
    long known_total; // the first page's total, or -1 to count
};
/* Fills resp->customers (at most limit), and *next_key and *next_id (malloc'd)
 * when another page follows, and the total count. */
cm_err_t customers_store_list(cm_db_t *db, const char *tenant, const struct customers_list_query *q,
                              Crm__ListCustomersResponse *resp, char **next_key,
                              char **next_id) CM_MUSTCHECK;

/* Audit. changes_json is a JSON array of {field, oldValue, newValue}. */
cm_err_t customers_store_audit(cm_db_t *db, const char *tenant, const char *customer_id,
                               const char *action, const Crm__RequestHeader *hdr,
                               const char *changes_json) CM_MUSTCHECK;
/* Blanks the values in a customer's audit entries, keeping the field names
 * (personal data goes with the customer; who changed what stays). */
cm_err_t customers_store_audit_redact(cm_db_t *db, const char *tenant,
                                      const char *customer_id) CM_MUSTCHECK;
cm_err_t customers_store_audit_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                    int64_t before_id, int limit,
                                    Crm__ListAuditResponse *resp) CM_MUSTCHECK;

/* Photos. */
cm_err_t customers_store_photo_put(cm_db_t *db, const char *tenant, const char *id,
                                   const char *content_type, const uint8_t *data,
                                   size_t len) CM_MUSTCHECK;
cm_err_t customers_store_photo_get(cm_db_t *db, const char *tenant, const char *id,
                                   Crm__Photo **out) CM_MUSTCHECK;
cm_err_t customers_store_photo_delete(cm_db_t *db, const char *tenant, const char *id,
                                      bool *found) CM_MUSTCHECK;

/* Groups. */
cm_err_t customers_store_group_insert(cm_db_t *db, const char *tenant, const char *id,
                                      const Crm__Group *g) CM_MUSTCHECK;
cm_err_t customers_store_group_get(cm_db_t *db, const char *tenant, const char *id, bool for_update,
                                   Crm__Group **out) CM_MUSTCHECK;
cm_err_t customers_store_group_by_name(cm_db_t *db, const char *tenant, const char *name,
                                       char *out_id) CM_MUSTCHECK;
cm_err_t customers_store_group_update(cm_db_t *db, const char *tenant,
                                      const Crm__Group *g) CM_MUSTCHECK;
cm_err_t customers_store_group_delete(cm_db_t *db, const char *tenant, const char *id,
                                      bool *found) CM_MUSTCHECK;
cm_err_t customers_store_group_list(cm_db_t *db, const char *tenant,
                                    Crm__ListGroupsResponse *resp) CM_MUSTCHECK;
/* Ids of the customers in a group (for events when a group is renamed or deleted). */
cm_err_t customers_store_group_members(cm_db_t *db, const char *tenant, const char *group_id,
                                       char ***ids, size_t *n) CM_MUSTCHECK;

/* Tags with counts. */
cm_err_t customers_store_tags(cm_db_t *db, const char *tenant,
                              Crm__ListTagsResponse *resp) CM_MUSTCHECK;

/* API keys: the tenant and principal of a key hash, or *found false. */
cm_err_t customers_store_authenticate(cm_db_t *db, const uint8_t *hash, size_t len, bool *found,
                                      Crm__AuthenticateResponse *out) CM_MUSTCHECK;

/* Idempotency keys older than the given age are forgotten. */
cm_err_t customers_store_idempotency_expire(cm_db_t *db, int hours) CM_MUSTCHECK;

/* Identity resolution: the oldest customer with this E.164 phone (id into out,
 * "" if none); and transaction-scoped advisory locks on identity keys (a JSON
 * array of strings such as "email:anna@example.com"), taken in a fixed order,
 * so that two resolutions of the same new person run one after the other. */
cm_err_t customers_store_find_phone(cm_db_t *db, const char *tenant, const char *phone,
                                    char *out) CM_MUSTCHECK;
cm_err_t customers_store_lock_identity(cm_db_t *db, const char *tenant,
                                       const char *keys_json) CM_MUSTCHECK;

/* Matching many keys in one statement (customers_match.c). keys_json: a
 * JSON array of {"i": index, "x": [[system, id], ...], "e": email key or
 * "", "p": E.164 phone or ""}. A row per key: index, the customer id ("" for
 * none) and how it matched ("externalId", "email", "phone" or ""), by the
 * first external id that names someone, else the e-mail, else the oldest
 * customer with the phone. Caller PQclears. NULL with *err. */
PGresult *customers_store_match(cm_db_t *db, const char *tenant, const char *keys_json,
                                cm_err_t *err) CM_MUSTCHECK;

#endif
