/* The statement of identity resolution's read path. */
#include "customers_resolve_store.h"
#include "cm_util.h"

#include <stdio.h>
#include <string.h>

cm_err_t customers_resolve_store_known(cm_db_t *db, const char *tenant, const char *system,
                                       const char *ext_id, struct customers_known *out)
{
    memset(out, 0, sizeof *out);
    const char *p[] = {tenant, system, ext_id};
    cm_err_t err;
    /* One round trip: the tenant's row always, the customer's when the
     * external id is held (external_ids' rows go with their customer). */
    PGresult *res = cm_db_exec(db,
                               "SELECT t.default_country, c.id, c.first_name <> '', "
                               "c.last_name <> '', c.email <> '', c.phone <> '', c.account_status "
                               "FROM customers.tenants t "
                               "LEFT JOIN customers.external_ids x ON x.tenant_id = t.id "
                               "AND x.system = $2 AND x.ext_id = $3 "
                               "LEFT JOIN customers.customers c ON c.tenant_id = x.tenant_id "
                               "AND c.id = x.customer_id "
                               "WHERE t.id = $1",
                               3, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1) {
        out->tenant_found = true;
        snprintf(out->default_country, sizeof out->default_country, "%s", PQgetvalue(res, 0, 0));
        out->found = !PQgetisnull(res, 0, 1);
    }
    if (out->found) {
        snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 1));
        out->has_first_name = PQgetvalue(res, 0, 2)[0] == 't';
        out->has_last_name = PQgetvalue(res, 0, 3)[0] == 't';
        out->has_email = PQgetvalue(res, 0, 4)[0] == 't';
        out->has_phone = PQgetvalue(res, 0, 5)[0] == 't';
        long status = 0;
        if (cm_parse_long(PQgetvalue(res, 0, 6), 0, 1000, &status))
            status = -1; /* not a status: resolving writes, as for one it must change */
        out->account_status = (int)status;
    }
    PQclear(res);
    return CM_OK;
}
