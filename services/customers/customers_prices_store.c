/* The SQL of price rules (customers_prices_store.h). */
#include "customers_prices_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define DAY(col) "coalesce(to_char(" col ", 'YYYY-MM-DD'), '')"
/* A rule's columns, r with its group's name (s_rule_of reads them); the
 * lighter RULE_TERMS leave out its times (formatting them is most of what
 * PostgreSQL spends on a rule of a quote). */
#define RULE_TERMS                                                                                 \
    "r.id::text, r.name, coalesce(r.customer_id::text, ''), coalesce(r.tag, ''), "                 \
    "coalesce(r.group_id::text, ''), coalesce((SELECT g.name FROM customers.groups g "             \
    "  WHERE g.tenant_id = r.tenant_id AND g.id = r.group_id), ''), "                              \
    "CASE WHEN r.customer_id IS NOT NULL THEN 1 WHEN r.tag IS NOT NULL THEN 2 ELSE 3 END, "        \
    "r.target, r.code, r.percent_off_bp, r.amount_off_minor, " DAY("r.valid_from") ", " DAY(       \
        "r.valid_until")
#define RULE_COLUMNS RULE_TERMS ", " TS("r.created_at") ", " TS("r.updated_at")
/* Ends "WITH r AS (INSERT or UPDATE ...": the row written, as s_rule_of reads it. */
#define RULE_WRITTEN " RETURNING *) SELECT " RULE_COLUMNS " FROM r"

static Crm__PriceRule *s_rule_of(PGresult *res, int row, int col)
{
    Crm__PriceRule *r = (Crm__PriceRule *)cm_pb_new(&crm__price_rule__descriptor);
    cm_pb_set_str(&r->id, PQgetvalue(res, row, col));
    cm_pb_set_str(&r->name, PQgetvalue(res, row, col + 1));
    cm_pb_set_str(&r->customer_id, PQgetvalue(res, row, col + 2));
    cm_pb_set_str(&r->tag, PQgetvalue(res, row, col + 3));
    cm_pb_set_str(&r->group_id, PQgetvalue(res, row, col + 4));
    cm_pb_set_str(&r->group_name, PQgetvalue(res, row, col + 5));
    r->via = (Crm__PriceRuleVia)strtol(PQgetvalue(res, row, col + 6), NULL, 10);
    r->target = (Crm__PriceRuleTarget)strtol(PQgetvalue(res, row, col + 7), NULL, 10);
    cm_pb_set_str(&r->code, PQgetvalue(res, row, col + 8));
    r->percent_off_bp = (int32_t)strtol(PQgetvalue(res, row, col + 9), NULL, 10);
    r->amount_off_minor = strtoll(PQgetvalue(res, row, col + 10), NULL, 10);
    cm_pb_set_str(&r->valid_from, PQgetvalue(res, row, col + 11));
    cm_pb_set_str(&r->valid_until, PQgetvalue(res, row, col + 12));
    if (PQnfields(res) > col + 14) {
        cm_pb_set_str(&r->created_at, PQgetvalue(res, row, col + 13));
        cm_pb_set_str(&r->updated_at, PQgetvalue(res, row, col + 14));
    }
    return r;
}

/* The rules of rows [0, n) from column col on, skipping rows without one. */
static void s_rules_of(PGresult *res, int col, Crm__PriceRule ***rules, size_t *n_rules)
{
    int rows = PQntuples(res);
    *rules = rows ? cm_calloc((size_t)rows, sizeof **rules) : NULL;
    *n_rules = 0;
    for (int i = 0; i < rows; i++)
        if (!PQgetisnull(res, i, col))
            (*rules)[(*n_rules)++] = s_rule_of(res, i, col);
}

cm_err_t customers_prices_store_count(cm_db_t *db, const char *tenant, long *n)
{
    const char *p[] = {tenant};
    cm_err_t err = cm_db_run(db, "SELECT 1 FROM customers.tenants WHERE id = $1 FOR UPDATE", 1, p);
    if (err)
        return err;
    PGresult *res = cm_db_exec(
        db, "SELECT count(*) FROM customers.price_rules WHERE tenant_id = $1", 1, p, &err);
    if (!res)
        return err;
    *n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return CM_OK;
}

static cm_err_t s_exists(cm_db_t *db, const char *sql, const char *tenant, const char *id,
                         bool *exists)
{
    *exists = false;
    if (!cm_uuid_valid(id))
        return CM_OK;
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, 2, p, &err);
    if (!res)
        return err;
    *exists = PQntuples(res) > 0;
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_prices_store_customer_exists(cm_db_t *db, const char *tenant, const char *id,
                                                bool *exists)
{
    return s_exists(db, "SELECT 1 FROM customers.customers WHERE tenant_id = $1 AND id = $2",
                    tenant, id, exists);
}

cm_err_t customers_prices_store_group_exists(cm_db_t *db, const char *tenant, const char *id,
                                             bool *exists)
{
    return s_exists(db, "SELECT 1 FROM customers.groups WHERE tenant_id = $1 AND id = $2", tenant,
                    id, exists);
}

/* An empty string as SQL NULL. */
static const char *s_null(const char *s)
{
    return s && s[0] ? s : NULL;
}

/* Reads back the one rule a statement returned in r's columns. */
static cm_err_t s_one(PGresult *res, cm_err_t err, Crm__PriceRule **out)
{
    *out = NULL;
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_rule_of(res, 0, 0);
    PQclear(res);
    return CM_OK;
}

/* A rule's terms as text parameters. */
struct s_terms {
    char target[8], bp[16], amount[24];
};

static void s_terms_of(const Crm__PriceRule *r, struct s_terms *t)
{
    snprintf(t->target, sizeof t->target, "%d", (int)r->target);
    snprintf(t->bp, sizeof t->bp, "%" PRId32, r->percent_off_bp);
    snprintf(t->amount, sizeof t->amount, "%" PRId64, r->amount_off_minor);
}

cm_err_t customers_prices_store_insert(cm_db_t *db, const char *tenant, const char *id,
                                       const Crm__PriceRule *r, Crm__PriceRule **out)
{
    struct s_terms t;
    s_terms_of(r, &t);
    const char *p[] = {tenant,
                       id,
                       r->name,
                       s_null(r->customer_id),
                       s_null(r->tag),
                       s_null(r->group_id),
                       t.target,
                       r->code,
                       t.bp,
                       t.amount,
                       s_null(r->valid_from),
                       s_null(r->valid_until)};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "WITH r AS (INSERT INTO customers.price_rules (tenant_id, id, name, customer_id, tag, "
        "group_id, target, code, percent_off_bp, amount_off_minor, valid_from, valid_until) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)" RULE_WRITTEN,
        12, p, &err);
    return s_one(res, err, out);
}

cm_err_t customers_prices_store_get(cm_db_t *db, const char *tenant, const char *id,
                                    bool for_update, Crm__PriceRule **out)
{
    *out = NULL;
    if (!cm_uuid_valid(id))
        return CM_OK;
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               for_update ? "SELECT " RULE_COLUMNS " FROM customers.price_rules r"
                                            " WHERE r.tenant_id = $1 AND r.id = $2 FOR UPDATE OF r"
                                          : "SELECT " RULE_COLUMNS " FROM customers.price_rules r"
                                            " WHERE r.tenant_id = $1 AND r.id = $2",
                               2, p, &err);
    return s_one(res, err, out);
}

cm_err_t customers_prices_store_update(cm_db_t *db, const char *tenant, const Crm__PriceRule *r,
                                       Crm__PriceRule **out)
{
    struct s_terms t;
    s_terms_of(r, &t);
    const char *p[] = {tenant,
                       r->id,
                       r->name,
                       t.target,
                       r->code,
                       t.bp,
                       t.amount,
                       s_null(r->valid_from),
                       s_null(r->valid_until)};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "WITH r AS (UPDATE customers.price_rules SET name = $3, target = $4, code = $5, "
                   "percent_off_bp = $6, amount_off_minor = $7, valid_from = $8, valid_until = $9, "
                   "updated_at = now() WHERE tenant_id = $1 AND id = $2" RULE_WRITTEN,
                   9, p, &err);
    return s_one(res, err, out);
}

cm_err_t customers_prices_store_delete(cm_db_t *db, const char *tenant, const char *id,
                                       bool *deleted)
{
    *deleted = false;
    if (!cm_uuid_valid(id))
        return CM_OK;
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "DELETE FROM customers.price_rules WHERE tenant_id = $1 AND id = $2", 2, p, &err);
    if (!res)
        return err;
    *deleted = !strcmp(PQcmdTuples(res), "1");
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_prices_store_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                     const char *tag, const char *group_id,
                                     Crm__ListPriceRulesResponse *resp)
{
    const char *p[] = {tenant, customer_id, tag, group_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " RULE_COLUMNS " FROM customers.price_rules r"
                               " WHERE r.tenant_id = $1"
                               " AND ($2::uuid IS NULL OR r.customer_id = $2::uuid)"
                               " AND ($3::text IS NULL OR r.tag = $3)"
                               " AND ($4::uuid IS NULL OR r.group_id = $4::uuid)"
                               " ORDER BY r.created_at, r.id",
                               4, p, &err);
    if (!res)
        return err;
    s_rules_of(res, 0, &resp->rules, &resp->n_rules);
    PQclear(res);
    return CM_OK;
}

#define CURRENCY "coalesce(nullif(t.currency, ''), customers.currency_of(t.default_country))"

cm_err_t customers_prices_store_currency(cm_db_t *db, const char *tenant, char *out)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db, "SELECT " CURRENCY " FROM customers.tenants t WHERE t.id = $1", 1, p, &err);
    if (!res)
        return err;
    snprintf(out, 4, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_prices_store_applying(cm_db_t *db, const char *tenant, const char *id,
                                         const char *email_key, const char *date,
                                         const char *products_json, const char *categories_json,
                                         struct customers_prices_found *out)
{
    memset(out, 0, sizeof *out);
    const char *p[] = {tenant,        cm_uuid_valid(id ? id : "") ? id : NULL,
                       email_key,     date,
                       products_json, categories_json};
    cm_err_t err;
    /* One statement: the tenant's currency, the customer, and the rules of
     * the customer, of their tags and of their groups (each through its
     * index) that are valid on the day (by default the business's today, in
     * its time zone) and (with codes) on one of the cart's products or
     * categories. */
    PGresult *res = cm_db_exec(
        db,
        "WITH c AS ((SELECT id, tags FROM customers.customers WHERE tenant_id = $1 AND id = "
        "$2::uuid) "
        "  UNION ALL (SELECT id, tags FROM customers.customers WHERE tenant_id = $1 "
        "             AND email_key = $3) LIMIT 1), "
        "k AS (SELECT coalesce($4::date, (now() AT TIME ZONE (SELECT time_zone FROM "
        "customers.tenants WHERE id = $1))::date) AS day, "
        "  ARRAY(SELECT jsonb_array_elements_text($5::jsonb)) AS products, "
        "  ARRAY(SELECT jsonb_array_elements_text($6::jsonb)) AS categories), "
        "r AS (SELECT r.* FROM c JOIN customers.price_rules r "
        "        ON r.tenant_id = $1 AND r.customer_id = c.id "
        "  UNION ALL SELECT r.* FROM c JOIN customers.price_rules r "
        "        ON r.tenant_id = $1 AND r.tag = ANY (c.tags) "
        "  UNION ALL SELECT r.* FROM c JOIN customers.customer_groups cg "
        "        ON cg.tenant_id = $1 AND cg.customer_id = c.id "
        "      JOIN customers.price_rules r ON r.tenant_id = $1 AND r.group_id = cg.group_id) "
        "SELECT " CURRENCY ", coalesce((SELECT id::text FROM c), ''), " RULE_TERMS
        " FROM customers.tenants t CROSS JOIN k LEFT JOIN r ON "
        "  (r.valid_from IS NULL OR r.valid_from <= k.day) "
        "  AND (r.valid_until IS NULL OR r.valid_until >= k.day) "
        "  AND ($5::jsonb IS NULL OR r.target = 1 "
        "       OR (r.target = 2 AND r.code = ANY (k.categories)) "
        "       OR (r.target = 3 AND r.code = ANY (k.products))) "
        " WHERE t.id = $1 ORDER BY r.created_at, r.id",
        6, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) > 0) {
        out->tenant = true;
        snprintf(out->currency, sizeof out->currency, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->customer, sizeof out->customer, "%s", PQgetvalue(res, 0, 1));
        s_rules_of(res, 2, &out->rules, &out->n_rules);
    }
    PQclear(res);
    return CM_OK;
}

void customers_prices_found_release(struct customers_prices_found *f)
{
    for (size_t i = 0; i < f->n_rules; i++)
        crm__price_rule__free_unpacked(f->rules[i], NULL);
    free(f->rules);
    f->rules = NULL;
    f->n_rules = 0;
}
