/* The SQL of price rules (docs/bus.md, "Price rules"): the rules' rows, and
 * the one statement that finds what applies to a customer. */
#ifndef CUSTOMERS_PRICES_STORE_H
#define CUSTOMERS_PRICES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_db.h"
#include "cm_err.h"
#include "prices.pb-c.h"

/* How many rules the tenant has, after locking its row, so that two
 * creates at once cannot pass the limit (a write's transaction). */
cm_err_t customers_prices_store_count(cm_db_t *db, const char *tenant, long *n) CM_MUSTCHECK;

/* Whether the tenant has customer (or group) id; false for an id that is
 * no UUID. */
cm_err_t customers_prices_store_customer_exists(cm_db_t *db, const char *tenant, const char *id,
                                                bool *exists) CM_MUSTCHECK;
cm_err_t customers_prices_store_group_exists(cm_db_t *db, const char *tenant, const char *id,
                                             bool *exists) CM_MUSTCHECK;

/* Inserts r (checked) as id; *out is the stored rule (caller frees). */
cm_err_t customers_prices_store_insert(cm_db_t *db, const char *tenant, const char *id,
                                       const Crm__PriceRule *r, Crm__PriceRule **out) CM_MUSTCHECK;

/* The rule id (a UUID), locked when for_update; *out NULL when there is none. */
cm_err_t customers_prices_store_get(cm_db_t *db, const char *tenant, const char *id,
                                    bool for_update, Crm__PriceRule **out) CM_MUSTCHECK;

/* Replaces the rule's name, target, code, modifier and dates with r's. */
cm_err_t customers_prices_store_update(cm_db_t *db, const char *tenant, const Crm__PriceRule *r,
                                       Crm__PriceRule **out) CM_MUSTCHECK;

/* Deletes rule id; *deleted tells whether there was one. */
cm_err_t customers_prices_store_delete(cm_db_t *db, const char *tenant, const char *id,
                                       bool *deleted) CM_MUSTCHECK;

/* The rules of one customer, tag or group (each NULL when not asked), or
 * every rule of the tenant, oldest first, into resp. */
cm_err_t customers_prices_store_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                     const char *tag, const char *group_id,
                                     Crm__ListPriceRulesResponse *resp) CM_MUSTCHECK;

/* The tenant's currency (ISO 4217): its own, else its country's; "" for
 * an unknown tenant. out >= 4 bytes. */
cm_err_t customers_prices_store_currency(cm_db_t *db, const char *tenant, char *out) CM_MUSTCHECK;

/* What applies to a customer, found in one statement. */
struct customers_prices_found {
    bool tenant;            // the tenant exists
    char currency[4];       // the tenant's (its own, else its country's)
    char customer[37];      // the customer found, "" when none
    Crm__PriceRule **rules; // owned: the rules that apply
    size_t n_rules;
};

/* Finds the customer by id (a UUID) or email_key (either NULL), and the
 * rules that apply to them on date (YYYY-MM-DD, NULL: the business's today in its time zone); with
 * products_json and categories_json (JSON arrays of strings) only rules on
 * every product or on one of those, else all of them. One round trip.
 * Release with customers_prices_found_release. */
cm_err_t customers_prices_store_applying(cm_db_t *db, const char *tenant, const char *id,
                                         const char *email_key, const char *date,
                                         const char *products_json, const char *categories_json,
                                         struct customers_prices_found *out) CM_MUSTCHECK;
void customers_prices_found_release(struct customers_prices_found *f);

#endif
