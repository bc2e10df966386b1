/* The statement of identity resolution's read path. */
#include "customers_resolve_store.h"
#include "cm_util.h"

#include <stdio.h>
#include <string.h>

/* The columns of a known customer, from column col of row on:
 * default_country (NULL: no such tenant), id (NULL: not held), the four
 * fields' presence, account_status. */
#define KNOWN_COLUMNS                                                                              \
    "c.id, c.first_name <> '', c.last_name <> '', c.email <> '', c.phone <> '', c.account_status"

static void s_known_from_row(const PGresult *res, int row, int col, struct customers_known *out)
{
    memset(out, 0, sizeof *out);
    if (PQgetisnull(res, row, col))
        return;
    out->tenant_found = true;
    snprintf(out->default_country, sizeof out->default_country, "%s", PQgetvalue(res, row, col));
    out->found = !PQgetisnull(res, row, col + 1);
    if (!out->found)
        return;
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, row, col + 1));
    out->has_first_name = PQgetvalue(res, row, col + 2)[0] == 't';
    out->has_last_name = PQgetvalue(res, row, col + 3)[0] == 't';
    out->has_email = PQgetvalue(res, row, col + 4)[0] == 't';
    out->has_phone = PQgetvalue(res, row, col + 5)[0] == 't';
    long status = 0;
    if (cm_parse_long(PQgetvalue(res, row, col + 6), 0, 1000, &status))
        status = -1; /* not a status: resolving writes, as for one it must change */
    out->account_status = (int)status;
}

cm_err_t customers_resolve_store_known(cm_db_t *db, const char *tenant, const char *system,
                                       const char *ext_id, struct customers_known *out)
{
    memset(out, 0, sizeof *out);
    const char *p[] = {tenant, system, ext_id};
    cm_err_t err;
    /* One round trip: the tenant's row always, the customer's when the
     * external id is held (external_ids' rows go with their customer). */
    PGresult *res = cm_db_exec(db,
                               "SELECT t.default_country, " KNOWN_COLUMNS " "
                               "FROM customers.tenants t "
                               "LEFT JOIN customers.external_ids x ON x.tenant_id = t.id "
                               "AND x.system = $2 AND x.ext_id = $3 "
                               "LEFT JOIN customers.customers c ON c.tenant_id = x.tenant_id "
                               "AND c.id = x.customer_id "
                               "WHERE t.id = $1",
                               3, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        s_known_from_row(res, 0, 0, out);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_resolve_store_known_many(cm_db_t *db, const char *tenant, const char *pairs_json,
                                            size_t n, struct customers_known *out)
{
    memset(out, 0, n * sizeof *out);
    const char *p[] = {tenant, pairs_json};
    cm_err_t err;
    /* A row per pair, in its order (ordinality from 1); the tenant's
     * country on each (NULL without the tenant). */
    PGresult *res = cm_db_exec(db,
                               "SELECT i.n, (SELECT t.default_country FROM customers.tenants t "
                               "WHERE t.id = $1), " KNOWN_COLUMNS " "
                               "FROM json_array_elements($2::json) WITH ORDINALITY AS i(pair, n) "
                               "LEFT JOIN customers.external_ids x ON x.tenant_id = $1 "
                               "AND x.system = i.pair->>0 AND x.ext_id = i.pair->>1 "
                               "LEFT JOIN customers.customers c ON c.tenant_id = x.tenant_id "
                               "AND c.id = x.customer_id",
                               2, p, &err);
    if (!res)
        return err;
    for (int row = 0; row < PQntuples(res); row++) {
        long i = 0;
        if (cm_parse_long(PQgetvalue(res, row, 0), 1, (long)n, &i))
            continue;
        s_known_from_row(res, row, 1, &out[i - 1]);
    }
    PQclear(res);
    return CM_OK;
}
