/* Every SQL statement of the customers service. */
#include "customers_store.h"
#include "customers_keys_store.h"
#include "customers_validate.h"
#include "customers_wallet_rules.h"
#include "cm_buf.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* ---------------------------------------------------------------------- */
/* Tenant settings                                                         */

static char **s_json_strings(const char *json_text, size_t *n)
{
    *n = 0;
    json_t *arr = json_loads(json_text ? json_text : "[]", 0, NULL);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return NULL;
    }
    size_t count = json_array_size(arr);
    char **out = count ? cm_calloc(count, sizeof *out) : NULL;
    for (size_t i = 0; i < count; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        out[(*n)++] = cm_strdup(s ? s : "");
    }
    json_decref(arr);
    return out;
}

cm_err_t customers_store_tenant(cm_db_t *db, const char *tenant, struct customers_tenant *out)
{
    memset(out, 0, sizeof *out);
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT default_country, to_json(required_fields), name, vat_number, "
                   "coalesce(currency, ''), time_zone, "
                   "(now() AT TIME ZONE time_zone)::date - date '1970-01-01', "
                   "(extract(epoch FROM ((now() AT TIME ZONE time_zone)::date + 1)::timestamp "
                   "AT TIME ZONE time_zone) * 1000)::bigint, xmin::text "
                   "FROM customers.tenants WHERE id = $1",
                   1, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1) {
        snprintf(out->default_country, sizeof out->default_country, "%s", PQgetvalue(res, 0, 0));
        out->required_fields = s_json_strings(PQgetvalue(res, 0, 1), &out->n_required);
        out->name = cm_strdup(PQgetvalue(res, 0, 2));
        out->vat_number = cm_strdup(PQgetvalue(res, 0, 3));
        snprintf(out->currency, sizeof out->currency, "%s", PQgetvalue(res, 0, 4));
        snprintf(out->time_zone, sizeof out->time_zone, "%s", PQgetvalue(res, 0, 5));
        out->today = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
        out->today_ends_ms = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
        snprintf(out->version, sizeof out->version, "%s", PQgetvalue(res, 0, 8));
        /* The country's currency until one is set: customers.currency_of in
         * C, where it costs nothing (in SQL it cost a create a tenth of a
         * millisecond of PostgreSQL's CPU). */
        snprintf(out->effective_currency, sizeof out->effective_currency, "%s",
                 out->currency[0] ? out->currency
                                  : customers_currency_of_country(out->default_country));
    } else {
        out->name = cm_strdup("");
        out->vat_number = cm_strdup("");
        err = CM_ERR_NOT_FOUND;
    }
    PQclear(res);
    return err;
}

void customers_tenant_release(struct customers_tenant *t)
{
    for (size_t i = 0; i < t->n_required; i++)
        free(t->required_fields[i]);
    free(t->required_fields);
    free(t->name);
    free(t->vat_number);
    memset(t, 0, sizeof *t);
}

void customers_tenant_copy(struct customers_tenant *dst, const struct customers_tenant *src)
{
    *dst = *src;
    dst->required_fields = cm_calloc(src->n_required + 1, sizeof *dst->required_fields);
    for (size_t i = 0; i < src->n_required; i++)
        dst->required_fields[i] = cm_strdup(src->required_fields[i]);
    dst->name = cm_strdup(src->name ? src->name : "");
    dst->vat_number = cm_strdup(src->vat_number ? src->vat_number : "");
}

void customers_store_tenant_check(cm_db_t *db, const char *tenant, const char *version)
{
    const char *p[] = {tenant, version};
    cm_db_defer_check(db, "SELECT 1 FROM customers.tenants t WHERE t.id = $1 AND t.xmin::text = $2",
                      2, p, "the tenant's settings changed since this copy read them");
}

static char *s_json_array_text(char **items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(items[i]));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

cm_err_t customers_store_tenant_update(cm_db_t *db, const char *tenant,
                                       const struct customers_tenant *t)
{
    char *req = s_json_array_text(t->required_fields, t->n_required);
    const char *p[] = {tenant,        t->default_country, req,         t->name,
                       t->vat_number, t->currency,        t->time_zone};
    cm_err_t err = cm_db_run(db,
                             "UPDATE customers.tenants SET default_country = $2, "
                             "required_fields = ARRAY(SELECT json_array_elements_text($3::json)), "
                             "name = $4, vat_number = $5, currency = $6, time_zone = $7 "
                             "WHERE id = $1",
                             7, p);
    free(req);
    return err;
}

cm_err_t customers_store_tenant_today(cm_db_t *db, const char *tenant, int64_t *day)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT (now() AT TIME ZONE time_zone)::date - date '1970-01-01' "
                               "FROM customers.tenants WHERE id = $1",
                               1, p, &err);
    if (!res)
        return err;
    err = PQntuples(res) == 1 ? CM_OK : CM_ERR_NOT_FOUND;
    if (!err)
        *day = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return err;
}

cm_err_t customers_store_time_zone_known(cm_db_t *db, const char *name, bool *known)
{
    const char *p[] = {name};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name = $1)",
                   1, p, &err);
    if (!res)
        return err;
    *known = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Customers                                                               */

#define CUSTOMER_COLUMNS                                                                           \
    "c.id, c.doc, c.version, " TS("c.created_at") ", " TS(                                         \
        "c.updated_at") ", "                                                                       \
                        "coalesce((SELECT json_agg(g.name ORDER BY cg.position, g.name) "          \
                        "  FROM customers.customer_groups cg JOIN customers.groups g "             \
                        "    ON g.tenant_id = cg.tenant_id AND g.id = cg.group_id "                \
                        " WHERE cg.tenant_id = c.tenant_id AND cg.customer_id = c.id), '[]'), "    \
                        "EXISTS (SELECT 1 FROM customers.photos p "                                \
                        "         WHERE p.tenant_id = c.tenant_id AND p.customer_id = c.id)"

/* Builds a customer from a row of CUSTOMER_COLUMNS starting at column 0. */
static Crm__Customer *s_customer_from_row(const PGresult *res, int row)
{
    struct cm_pbjson_error perr;
    Crm__Customer *c =
        (Crm__Customer *)cm_pbjson_decode_text(&crm__customer__descriptor, PQgetvalue(res, row, 1),
                                               (size_t)PQgetlength(res, row, 1), NULL, &perr);
    if (!c) {
        /* The stored document no longer decodes: show the row rather than fail the list. */
        cm_log_error("stored customer %s does not decode", PQgetvalue(res, row, 0));
        c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    }
    cm_pb_set_str(&c->id, PQgetvalue(res, row, 0));
    char etag[32];
    snprintf(etag, sizeof etag, "%s", PQgetvalue(res, row, 2));
    cm_pb_set_str(&c->etag, etag);
    cm_pb_set_str(&c->created_at, PQgetvalue(res, row, 3));
    cm_pb_set_str(&c->updated_at, PQgetvalue(res, row, 4));
    for (size_t i = 0; i < c->n_groups; i++)
        free(c->groups[i]);
    free(c->groups);
    c->groups = s_json_strings(PQgetvalue(res, row, 5), &c->n_groups);
    /* Sets: stored before their order was canonical, they are read in it, so that an edit
     * never records a change that is only an order. */
    customers_validate_sort_names(c->groups, c->n_groups);
    customers_validate_sort_names(c->tags, c->n_tags);
    c->has_photo = PQgetvalue(res, row, 6)[0] == 't';
    return c;
}

cm_err_t customers_store_get(cm_db_t *db, const char *tenant, const char *id, bool for_update,
                             Crm__Customer **out)
{
    *out = NULL;
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   for_update ? "SELECT " CUSTOMER_COLUMNS " FROM customers.customers c "
                                "WHERE c.tenant_id = $1 AND c.id = $2 FOR UPDATE OF c"
                              : "SELECT " CUSTOMER_COLUMNS " FROM customers.customers c "
                                "WHERE c.tenant_id = $1 AND c.id = $2",
                   2, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_customer_from_row(res, 0);
    PQclear(res);
    return CM_OK;
}

/* The stored document: the customer without what other columns and tables hold. */
static char *s_doc_text(const Crm__Customer *c)
{
    json_t *doc = cm_pbjson_encode(&c->base, CM_PBJSON_OMIT_DEFAULTS);
    static const char *drop[] = {"id", "groups", "hasPhoto", "createdAt", "updatedAt", "etag"};
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        json_object_del(doc, drop[i]);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

static void s_sort_keys(const Crm__Customer *c, char **last, char **first)
{
    const char *cl = c->is_company && c->company && c->company->name[0] && !c->last_name[0]
                         ? c->company->name
                         : c->last_name;
    *last = cm_strfmt("%s %s", cl, c->first_name);
    *first = cm_strfmt("%s %s", c->first_name, cl);
}

static char *s_tags_text(const Crm__Customer *c)
{
    return s_json_array_text(c->tags, c->n_tags);
}

static cm_err_t s_write_links(cm_db_t *db, const char *tenant, const Crm__Customer *c,
                              char **group_ids, size_t n_groups, bool replace)
{
    const char *p[] = {tenant, c->id, NULL, NULL, NULL};
    cm_err_t err = CM_OK;
    if (replace) {
        err = cm_db_run(db,
                        "DELETE FROM customers.customer_groups "
                        "WHERE tenant_id = $1 AND customer_id = $2",
                        2, p);
        if (!err)
            err = cm_db_run(db,
                            "DELETE FROM customers.external_ids "
                            "WHERE tenant_id = $1 AND customer_id = $2",
                            2, p);
    }
    for (size_t i = 0; !err && i < n_groups; i++) {
        char pos[24];
        snprintf(pos, sizeof pos, "%zu", i);
        p[2] = group_ids[i];
        p[3] = pos;
        err = cm_db_run(db,
                        "INSERT INTO customers.customer_groups "
                        "(tenant_id, customer_id, group_id, position) VALUES ($1, $2, $3, $4) "
                        "ON CONFLICT DO NOTHING",
                        4, p);
    }
    for (size_t i = 0; !err && i < c->n_external_ids; i++) {
        p[2] = c->external_ids[i]->system;
        p[3] = c->external_ids[i]->id;
        err = cm_db_run(db,
                        "INSERT INTO customers.external_ids (tenant_id, customer_id, system, "
                        "ext_id) VALUES ($1, $2, $3, $4)",
                        4, p);
    }
    return err;
}

static const char *s_email_key_param(const Crm__Customer *c, char *buf, size_t size)
{
    if (!c->email[0])
        return NULL;
    customers_validate_email_key(c->email, buf, size);
    return buf;
}

/* Runs the insert or the update of a customer row: both take the same 13
 * parameters, from the tenant and id to the sort keys, and return the row's
 * version and times (STAMP_COLUMNS) into *stamp when it is not NULL. */
#define STAMP_COLUMNS " RETURNING version, " TS("created_at") ", " TS("updated_at")
static cm_err_t s_write_row(cm_db_t *db, const char *tenant, const char *id, const Crm__Customer *c,
                            const char *sql, struct customers_stamp *stamp)
{
    char *doc = s_doc_text(c), *last, *first, *tags = s_tags_text(c);
    char key[CUSTOMERS_EMAIL_KEY_SIZE], status[16];
    s_sort_keys(c, &last, &first);
    snprintf(status, sizeof status, "%d", (int)(c->account ? c->account->status : 0));
    const char *p[] = {tenant,
                       id,
                       doc,
                       c->first_name,
                       c->last_name,
                       c->email,
                       s_email_key_param(c, key, sizeof key),
                       c->phone,
                       c->is_company ? "t" : "f",
                       status,
                       tags,
                       last,
                       first};
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, 13, p, &err);
    if (res && PQntuples(res) != 1) {
        err = CM_ERR_NOT_FOUND;
    } else if (res && stamp) {
        snprintf(stamp->version, sizeof stamp->version, "%s", PQgetvalue(res, 0, 0));
        snprintf(stamp->created_at, sizeof stamp->created_at, "%s", PQgetvalue(res, 0, 1));
        snprintf(stamp->updated_at, sizeof stamp->updated_at, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    free(doc);
    free(tags);
    free(last);
    free(first);
    return err;
}

cm_err_t customers_store_insert(cm_db_t *db, const char *tenant, const char *id,
                                const Crm__Customer *c, char **group_ids, size_t n_groups,
                                struct customers_stamp *stamp)
{
    cm_err_t err = s_write_row(
        db, tenant, id, c,
        "INSERT INTO customers.customers (tenant_id, id, doc, first_name, last_name, email, "
        "email_key, phone, is_company, account_status, tags, sort_last, sort_first) "
        "VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10, "
        "ARRAY(SELECT json_array_elements_text($11::json)), $12, $13)" STAMP_COLUMNS,
        stamp);
    if (err)
        return err;
    return s_write_links(db, tenant, c, group_ids, n_groups, false);
}

cm_err_t customers_store_update(cm_db_t *db, const char *tenant, const Crm__Customer *c,
                                char **group_ids, size_t n_groups, bool links_changed,
                                struct customers_stamp *stamp)
{
    cm_err_t err = s_write_row(
        db, tenant, c->id, c,
        "UPDATE customers.customers SET doc = $3::jsonb, first_name = $4, last_name = $5, "
        "email = $6, email_key = $7, phone = $8, is_company = $9, account_status = $10, "
        "tags = ARRAY(SELECT json_array_elements_text($11::json)), sort_last = $12, "
        "sort_first = $13, version = version + 1, updated_at = now() "
        "WHERE tenant_id = $1 AND id = $2" STAMP_COLUMNS,
        stamp);
    if (err || !links_changed)
        return err;
    return s_write_links(db, tenant, c, group_ids, n_groups, true);
}

cm_err_t customers_store_touch(cm_db_t *db, const char *tenant, const char *id)
{
    const char *p[] = {tenant, id};
    return cm_db_run(db,
                     "UPDATE customers.customers SET version = version + 1, updated_at = now() "
                     "WHERE tenant_id = $1 AND id = $2",
                     2, p);
}

/* Runs a statement that returns a row when it found what it changed. */
static cm_err_t s_exec_found(cm_db_t *db, const char *sql, int n, const char *const *p, bool *found)
{
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, n, p, &err);
    if (!res)
        return err;
    *found = PQntuples(res) >= 1;
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_store_delete(cm_db_t *db, const char *tenant, const char *id, bool *found)
{
    const char *p[] = {tenant, id};
    return s_exec_found(db,
                        "DELETE FROM customers.customers WHERE tenant_id = $1 AND id = $2 "
                        "RETURNING 1",
                        2, p, found);
}

static cm_err_t s_find_one(cm_db_t *db, const char *sql, int n, const char *const *p, char *out)
{
    out[0] = '\0';
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, n, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) >= 1)
        snprintf(out, CUSTOMERS_ID_SIZE, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_store_find_email(cm_db_t *db, const char *tenant, const char *email_key,
                                    const char *exclude_id, char *out)
{
    const char *p[] = {tenant, email_key, exclude_id};
    return s_find_one(db,
                      "SELECT id FROM customers.customers WHERE tenant_id = $1 AND email_key = $2 "
                      "AND ($3::uuid IS NULL OR id <> $3::uuid) LIMIT 1",
                      3, p, out);
}

cm_err_t customers_store_find_external(cm_db_t *db, const char *tenant, const char *system,
                                       const char *ext_id, const char *exclude_id, char *out)
{
    const char *p[] = {tenant, system, ext_id, exclude_id};
    return s_find_one(db,
                      "SELECT customer_id FROM customers.external_ids WHERE tenant_id = $1 "
                      "AND system = $2 AND ext_id = $3 "
                      "AND ($4::uuid IS NULL OR customer_id <> $4::uuid)",
                      4, p, out);
}

cm_err_t customers_store_group_ids(cm_db_t *db, const char *tenant, char **names, size_t n,
                                   char **ids, long *missing)
{
    *missing = -1;
    for (size_t i = 0; i < n; i++) {
        char id[CUSTOMERS_ID_SIZE];
        cm_err_t err = customers_store_group_by_name(db, tenant, names[i], id);
        if (err)
            return err;
        if (!id[0]) {
            *missing = (long)i;
            return CM_OK;
        }
        ids[i] = cm_strdup(id);
    }
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Listing                                                                 */

cm_err_t customers_store_list(cm_db_t *db, const char *tenant, const struct customers_list_query *q,
                              Crm__ListCustomersResponse *resp, char **next_key, char **next_id)
{
    /* The statement is put together from fixed fragments only; every value is
     * a parameter. The buffer's cap is far past what the fragments make: a
     * statement that would not fit is refused, never cut. */
    cm_buf_t where, sql;
    cm_buf_init(&where, 4096);
    cm_buf_init(&sql, 8192);
    char limit[16], status[16], company[2];
    const char *p[12];
    int n = 0;
    p[n++] = tenant;
    bool ok = !cm_buf_printf(&where, "c.tenant_id = $1");
    if (q->group && q->group[0]) {
        p[n++] = q->group;
        ok = ok &&
             !cm_buf_printf(&where,
                            " AND EXISTS (SELECT 1 FROM customers.customer_groups cg "
                            "JOIN customers.groups g ON g.tenant_id = cg.tenant_id AND g.id = "
                            "cg.group_id WHERE cg.tenant_id = c.tenant_id AND cg.customer_id = "
                            "c.id AND g.name_key = lower($%d))",
                            n);
    }
    if (q->tag && q->tag[0]) {
        p[n++] = q->tag;
        ok = ok && !cm_buf_printf(&where, " AND c.tags @> ARRAY[$%d]", n);
    }
    if (q->is_company >= 0) {
        snprintf(company, sizeof company, "%s", q->is_company ? "t" : "f");
        p[n++] = company;
        ok = ok && !cm_buf_printf(&where, " AND c.is_company = $%d", n);
    }
    if (q->has_account >= 0)
        ok = ok && !cm_buf_printf(&where, "%s",
                                  q->has_account ? " AND c.account_status <> 0"
                                                 : " AND c.account_status = 0");
    if (q->account_status > 0) {
        snprintf(status, sizeof status, "%d", q->account_status);
        p[n++] = status;
        ok = ok && !cm_buf_printf(&where, " AND c.account_status = $%d", n);
    }
    int n_filter = n;

    /* Total over the filters, without the keyset position; later pages carry
     * the first page's total in their token rather than count again. */
    cm_err_t err = CM_ERR_INTERNAL;
    PGresult *res = NULL;
    if (!ok)
        goto out;
    if (q->known_total >= 0) {
        resp->total_size = (int32_t)q->known_total;
    } else {
        ok =
            !cm_buf_printf(&sql, "SELECT count(*) FROM customers.customers c WHERE %s", where.data);
        if (!ok)
            goto out;
        res = cm_db_exec(db, sql.data, n_filter, p, &err);
        if (!res)
            goto out;
        resp->total_size = (int32_t)strtol(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        cm_buf_reset(&sql);
    }

    bool is_time = !strcmp(q->order_column, "created_at") || !strcmp(q->order_column, "updated_at");
    const char *cmp = q->desc ? "<" : ">";
    const char *dir = q->desc ? "DESC" : "ASC";
    char *keyset = NULL;
    if (q->after_key && q->after_id) {
        p[n++] = q->after_key;
        p[n++] = q->after_id;
        keyset = cm_strfmt(" AND (c.%s, c.id) %s ($%d%s, $%d::uuid)", q->order_column, cmp, n - 1,
                           is_time ? "::timestamptz" : "", n);
    }
    snprintf(limit, sizeof limit, "%d", q->limit + 1);
    p[n++] = limit;
    /* Timestamps travel in the token with full precision. */
    ok = !cm_buf_printf(&sql,
                        "SELECT " CUSTOMER_COLUMNS ", %s FROM customers.customers c WHERE %s%s "
                        "ORDER BY c.%s %s, c.id %s LIMIT $%d",
                        is_time ? (!strcmp(q->order_column, "created_at")
                                       ? "to_char(c.created_at AT TIME ZONE 'UTC', "
                                         "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                                       : "to_char(c.updated_at AT TIME ZONE 'UTC', "
                                         "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
                                : (!strcmp(q->order_column, "sort_last")    ? "c.sort_last"
                                   : !strcmp(q->order_column, "sort_first") ? "c.sort_first"
                                                                            : "c.email"),
                        where.data, keyset ? keyset : "", q->order_column, dir, dir, n);
    free(keyset);
    if (!ok)
        goto out;
    res = cm_db_exec(db, sql.data, n, p, &err);
    if (!res)
        goto out;
    int rows = PQntuples(res);
    int shown = rows > q->limit ? q->limit : rows;
    resp->customers = shown ? cm_calloc((size_t)shown, sizeof *resp->customers) : NULL;
    for (int i = 0; i < shown; i++)
        resp->customers[resp->n_customers++] = s_customer_from_row(res, i);
    if (rows > q->limit) {
        *next_key = cm_strdup(PQgetvalue(res, shown - 1, 7));
        *next_id = cm_strdup(PQgetvalue(res, shown - 1, 0));
    }
    PQclear(res);
    err = CM_OK;
out:
    if (!ok)
        cm_log_error("the list statement did not fit its buffer");
    cm_buf_release(&where);
    cm_buf_release(&sql);
    return err;
}

/* ---------------------------------------------------------------------- */
/* Audit                                                                   */

cm_err_t customers_store_audit(cm_db_t *db, const char *tenant, const char *customer_id,
                               const char *action, const Crm__RequestHeader *hdr,
                               const char *changes_json)
{
    char role[8];
    const Crm__Principal *pr = hdr->principal;
    snprintf(role, sizeof role, "%d", pr ? (int)pr->role : 0);
    const char *p[] = {tenant,
                       customer_id,
                       action,
                       pr ? pr->id : "",
                       pr ? pr->name : "",
                       role,
                       hdr->channel[0] ? hdr->channel : "api",
                       hdr->request_id,
                       changes_json};
    /* Nothing is read back: it goes with the transaction's next statement. */
    cm_db_defer(db,
                "INSERT INTO customers.audit (tenant_id, customer_id, action, principal_id, "
                "principal_name, principal_role, channel, request_id, changes) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)",
                9, p, NULL, NULL);
    return CM_OK;
}

cm_err_t customers_store_audit_redact(cm_db_t *db, const char *tenant, const char *customer_id)
{
    const char *p[] = {tenant, customer_id};
    return cm_db_run(db,
                     "UPDATE customers.audit SET changes = coalesce((SELECT jsonb_agg("
                     "jsonb_build_object('field', e->>'field', 'oldValue', '', 'newValue', '')) "
                     "FROM jsonb_array_elements(changes) e), '[]'::jsonb) "
                     "WHERE tenant_id = $1 AND customer_id = $2",
                     2, p);
}

cm_err_t customers_store_audit_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                    int64_t before_id, int limit, Crm__ListAuditResponse *resp)
{
    char before[24], lim[16];
    snprintf(before, sizeof before, "%lld", (long long)before_id);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {tenant, customer_id, before_id > 0 ? before : NULL, lim};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT id, " TS(
            "at") ", action, principal_id, principal_name, principal_role, channel, "
                  "request_id, changes FROM customers.audit WHERE tenant_id = $1 AND customer_id = "
                  "$2 "
                  "AND ($3::bigint IS NULL OR id < $3::bigint) ORDER BY id DESC LIMIT $4",
        4, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    int shown = rows > limit ? limit : rows;
    resp->entries = shown ? cm_calloc((size_t)shown, sizeof *resp->entries) : NULL;
    for (int i = 0; i < shown; i++) {
        Crm__AuditEntry *e = (Crm__AuditEntry *)cm_pb_new(&crm__audit_entry__descriptor);
        cm_pb_set_str(&e->id, PQgetvalue(res, i, 0));
        cm_pb_set_str(&e->time, PQgetvalue(res, i, 1));
        cm_pb_set_str(&e->action, PQgetvalue(res, i, 2));
        e->principal = (Crm__Principal *)cm_pb_new(&crm__principal__descriptor);
        cm_pb_set_str(&e->principal->id, PQgetvalue(res, i, 3));
        cm_pb_set_str(&e->principal->name, PQgetvalue(res, i, 4));
        e->principal->role = (Crm__Role)strtol(PQgetvalue(res, i, 5), NULL, 10);
        cm_pb_set_str(&e->channel, PQgetvalue(res, i, 6));
        cm_pb_set_str(&e->request_id, PQgetvalue(res, i, 7));
        json_t *changes = json_loads(PQgetvalue(res, i, 8), 0, NULL);
        size_t nc = json_array_size(changes);
        e->changes = nc ? cm_calloc(nc, sizeof *e->changes) : NULL;
        for (size_t k = 0; k < nc; k++) {
            json_t *ch = json_array_get(changes, k);
            Crm__FieldChange *fc = (Crm__FieldChange *)cm_pb_new(&crm__field_change__descriptor);
            cm_pb_set_str(&fc->field, json_string_value(json_object_get(ch, "field")));
            cm_pb_set_str(&fc->old_value, json_string_value(json_object_get(ch, "oldValue")));
            cm_pb_set_str(&fc->new_value, json_string_value(json_object_get(ch, "newValue")));
            e->changes[e->n_changes++] = fc;
        }
        json_decref(changes);
        resp->entries[resp->n_entries++] = e;
    }
    if (rows > limit)
        cm_pb_set_str(&resp->next_page_token, PQgetvalue(res, shown - 1, 0));
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Photos                                                                  */

cm_err_t customers_store_photo_put(cm_db_t *db, const char *tenant, const char *id,
                                   const char *content_type, const uint8_t *data, size_t len)
{
    const char *p[] = {tenant, id, content_type, (const char *)data};
    int lens[] = {0, 0, 0, (int)len};
    int fmts[] = {0, 0, 0, 1};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(
        db,
        "INSERT INTO customers.photos (tenant_id, customer_id, content_type, data) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, customer_id) DO UPDATE "
        "SET content_type = excluded.content_type, data = excluded.data, updated_at = now()",
        4, p, lens, fmts, 0, &err);
    PQclear(res);
    return err;
}

cm_err_t customers_store_photo_get(cm_db_t *db, const char *tenant, const char *id,
                                   Crm__Photo **out)
{
    *out = NULL;
    const char *p[] = {tenant, id};
    cm_err_t err;
    /* Binary results: the bytea arrives raw, the text columns as they are. */
    PGresult *res = cm_db_exec_bin(
        db,
        "SELECT content_type, data, " TS("updated_at") " FROM customers.photos "
                                                       "WHERE tenant_id = $1 AND customer_id = $2",
        2, p, NULL, NULL, 1, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1) {
        Crm__Photo *ph = (Crm__Photo *)cm_pb_new(&crm__photo__descriptor);
        cm_pb_set_str(&ph->id, id);
        ph->content_type = cm_strndup(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        ph->data.len = (size_t)PQgetlength(res, 0, 1);
        ph->data.data = cm_malloc(ph->data.len);
        memcpy(ph->data.data, PQgetvalue(res, 0, 1), ph->data.len);
        ph->updated_at = cm_strndup(PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
        *out = ph;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_store_photo_delete(cm_db_t *db, const char *tenant, const char *id, bool *found)
{
    const char *p[] = {tenant, id};
    return s_exec_found(db,
                        "DELETE FROM customers.photos WHERE tenant_id = $1 AND "
                        "customer_id = $2 RETURNING 1",
                        2, p, found);
}

/* ---------------------------------------------------------------------- */
/* Groups                                                                  */

#define GROUP_COLUMNS                                                                              \
    "g.id, g.name, g.description, g.color, " TS("g.created_at") ", " TS(                           \
        "g.updated_at") ", "                                                                       \
                        "(SELECT count(*) FROM customers.customer_groups cg "                      \
                        "  WHERE cg.tenant_id = g.tenant_id AND cg.group_id = g.id)"

static Crm__Group *s_group_from_row(const PGresult *res, int row)
{
    Crm__Group *g = (Crm__Group *)cm_pb_new(&crm__group__descriptor);
    cm_pb_set_str(&g->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&g->name, PQgetvalue(res, row, 1));
    cm_pb_set_str(&g->description, PQgetvalue(res, row, 2));
    cm_pb_set_str(&g->color, PQgetvalue(res, row, 3));
    cm_pb_set_str(&g->created_at, PQgetvalue(res, row, 4));
    cm_pb_set_str(&g->updated_at, PQgetvalue(res, row, 5));
    g->customer_count = (int32_t)strtol(PQgetvalue(res, row, 6), NULL, 10);
    return g;
}

cm_err_t customers_store_group_insert(cm_db_t *db, const char *tenant, const char *id,
                                      const Crm__Group *g)
{
    const char *p[] = {tenant, id, g->name, g->description, g->color};
    return cm_db_run(db,
                     "INSERT INTO customers.groups (tenant_id, id, name, name_key, description, "
                     "color) VALUES ($1, $2, $3, lower($3), $4, $5)",
                     5, p);
}

cm_err_t customers_store_group_get(cm_db_t *db, const char *tenant, const char *id, bool for_update,
                                   Crm__Group **out)
{
    *out = NULL;
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               for_update ? "SELECT " GROUP_COLUMNS " FROM customers.groups g "
                                            "WHERE g.tenant_id = $1 AND g.id = $2 FOR UPDATE"
                                          : "SELECT " GROUP_COLUMNS " FROM customers.groups g "
                                            "WHERE g.tenant_id = $1 AND g.id = $2",
                               2, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_group_from_row(res, 0);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_store_group_by_name(cm_db_t *db, const char *tenant, const char *name,
                                       char *out_id)
{
    const char *p[] = {tenant, name};
    return s_find_one(db,
                      "SELECT id FROM customers.groups WHERE tenant_id = $1 AND "
                      "name_key = lower($2)",
                      2, p, out_id);
}

cm_err_t customers_store_group_update(cm_db_t *db, const char *tenant, const Crm__Group *g)
{
    const char *p[] = {tenant, g->id, g->name, g->description, g->color};
    return cm_db_run(db,
                     "UPDATE customers.groups SET name = $3, name_key = lower($3), "
                     "description = $4, color = $5, updated_at = now() "
                     "WHERE tenant_id = $1 AND id = $2",
                     5, p);
}

cm_err_t customers_store_group_delete(cm_db_t *db, const char *tenant, const char *id, bool *found)
{
    const char *p[] = {tenant, id};
    return s_exec_found(db,
                        "DELETE FROM customers.groups WHERE tenant_id = $1 AND id = $2 "
                        "RETURNING 1",
                        2, p, found);
}

cm_err_t customers_store_group_list(cm_db_t *db, const char *tenant, Crm__ListGroupsResponse *resp)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " GROUP_COLUMNS " FROM customers.groups g "
                               "WHERE g.tenant_id = $1 ORDER BY g.name_key",
                               1, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->groups = rows ? cm_calloc((size_t)rows, sizeof *resp->groups) : NULL;
    for (int i = 0; i < rows; i++)
        resp->groups[resp->n_groups++] = s_group_from_row(res, i);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_store_group_members(cm_db_t *db, const char *tenant, const char *group_id,
                                       char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    const char *p[] = {tenant, group_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT customer_id FROM customers.customer_groups "
                               "WHERE tenant_id = $1 AND group_id = $2 ORDER BY customer_id",
                               2, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    *ids = rows ? cm_calloc((size_t)rows, sizeof **ids) : NULL;
    for (int i = 0; i < rows; i++)
        (*ids)[(*n)++] = cm_strdup(PQgetvalue(res, i, 0));
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_store_tags(cm_db_t *db, const char *tenant, Crm__ListTagsResponse *resp)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT t, count(*) FROM customers.customers c, unnest(c.tags) t "
                               "WHERE c.tenant_id = $1 GROUP BY t ORDER BY lower(t), t",
                               1, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->tags = rows ? cm_calloc((size_t)rows, sizeof *resp->tags) : NULL;
    for (int i = 0; i < rows; i++) {
        Crm__Tag *t = (Crm__Tag *)cm_pb_new(&crm__tag__descriptor);
        cm_pb_set_str(&t->name, PQgetvalue(res, i, 0));
        t->customer_count = (int32_t)strtol(PQgetvalue(res, i, 1), NULL, 10);
        resp->tags[resp->n_tags++] = t;
    }
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Keys, outbox, idempotency                                               */

cm_err_t customers_store_authenticate(cm_db_t *db, const uint8_t *hash, size_t len, bool *found,
                                      Crm__AuthenticateResponse *out)
{
    const char *p[] = {(const char *)hash};
    int lens[] = {(int)len};
    int fmts[] = {1};
    cm_err_t err;
    PGresult *res =
        cm_db_exec_bin(db,
                       "SELECT tenant_id, key_id, name, role, array_to_json(scopes)::text "
                       "FROM customers.authenticate($1)",
                       1, p, lens, fmts, 0, &err);
    if (!res)
        return err;
    *found = PQntuples(res) == 1;
    if (*found) {
        cm_pb_set_str(&out->tenant_id, PQgetvalue(res, 0, 0));
        out->principal = (Crm__Principal *)cm_pb_new(&crm__principal__descriptor);
        cm_pb_set_str(&out->principal->id, PQgetvalue(res, 0, 1));
        cm_pb_set_str(&out->principal->name, PQgetvalue(res, 0, 2));
        out->principal->role = (Crm__Role)strtol(PQgetvalue(res, 0, 3), NULL, 10);
        out->principal->kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_API_KEY;
        customers_keys_store_scopes(PQgetvalue(res, 0, 4), &out->principal->scopes,
                                    &out->principal->n_scopes);
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_store_idempotency_expire(cm_db_t *db, int hours)
{
    char h[16];
    snprintf(h, sizeof h, "%d", hours);
    const char *p[] = {h};
    return cm_db_run(db,
                     "DELETE FROM customers.idempotency "
                     "WHERE created_at < now() - make_interval(hours => $1::int)",
                     1, p);
}

/* ---------------------------------------------------------------------- */
/* Identity resolution (customers_resolve.c)                               */

cm_err_t customers_store_find_phone(cm_db_t *db, const char *tenant, const char *phone, char *out)
{
    const char *p[] = {tenant, phone};
    return s_find_one(db,
                      "SELECT id FROM customers.customers WHERE tenant_id = $1 AND phone = $2 "
                      "ORDER BY created_at, id LIMIT 1",
                      2, p, out);
}

PGresult *customers_store_match(cm_db_t *db, const char *tenant, const char *keys_json,
                                cm_err_t *err)
{
    const char *p[] = {tenant, keys_json};
    return cm_db_exec(
        db,
        "WITH k AS (SELECT (v->>'i')::int AS i, v->>'e' AS e, v->>'p' AS p, v->'x' AS x "
        "FROM json_array_elements($2::json) AS v), "
        "ext AS (SELECT DISTINCT ON (k.i) k.i, x.customer_id::text AS id FROM k "
        "CROSS JOIN LATERAL json_array_elements(k.x) WITH ORDINALITY AS xe(v, n) "
        "JOIN customers.external_ids x ON x.tenant_id = $1 AND x.system = xe.v->>0 "
        "AND x.ext_id = xe.v->>1 ORDER BY k.i, xe.n), "
        "em AS (SELECT k.i, c.id::text AS id FROM k JOIN customers.customers c "
        "ON c.tenant_id = $1 AND c.email_key = k.e WHERE k.e <> ''), "
        "ph AS (SELECT DISTINCT ON (k.i) k.i, c.id::text AS id FROM k JOIN customers.customers c "
        "ON c.tenant_id = $1 AND c.phone = k.p WHERE k.p <> '' ORDER BY k.i, c.created_at, c.id) "
        "SELECT k.i, coalesce(ext.id, em.id, ph.id, ''), CASE WHEN ext.id IS NOT NULL THEN "
        "'externalId' WHEN em.id IS NOT NULL THEN 'email' WHEN ph.id IS NOT NULL THEN 'phone' "
        "ELSE '' END FROM k LEFT JOIN ext ON ext.i = k.i LEFT JOIN em ON em.i = k.i "
        "LEFT JOIN ph ON ph.i = k.i",
        2, p, err);
}

cm_err_t customers_store_lock_identity(cm_db_t *db, const char *tenant, const char *keys_json)
{
    const char *p[] = {tenant, keys_json};
    return cm_db_run(db,
                     "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT "
                     "hashtextextended($1 || ':' || k, 0) AS h "
                     "FROM json_array_elements_text($2::json) AS k) s ORDER BY h",
                     2, p);
}
