/* The statements of merging two customers. */
#include "customers_merge_store.h"
#include "customers_store.h"
#include "cm_util.h"

#include <stdio.h>
#include <string.h>

cm_err_t customers_merge_store_rows(cm_db_t *db, const char *tenant, const char *keep,
                                    const char *dup, bool dry, bool *currency_clash)
{
    const char *p[] = {tenant, keep, dup, dry ? "true" : "false"};
    cm_err_t err;
    PGresult *res = cm_db_exec(db, "SELECT customers.merge_rows($1, $2, $3, $4)", 4, p, &err);
    if (!res)
        return err;
    *currency_clash = !strcmp(PQgetvalue(res, 0, 0), "currency");
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_merge_store_into(cm_db_t *db, const char *tenant, const char *id, char *into)
{
    into[0] = '\0';
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT into_id FROM customers.merged_customers "
                               "WHERE tenant_id = $1 AND merged_id = $2",
                               2, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        snprintf(into, CUSTOMERS_ID_SIZE, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_merge_store_forget(cm_db_t *db, const char *tenant, const char *id, char ***ids,
                                      size_t *n)
{
    *ids = NULL;
    *n = 0;
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "DELETE FROM customers.merged_customers "
                               "WHERE tenant_id = $1 AND into_id = $2 RETURNING merged_id",
                               2, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    if (rows > 0) {
        *ids = cm_calloc((size_t)rows, sizeof **ids);
        for (int i = 0; i < rows; i++)
            (*ids)[(*n)++] = cm_strdup(PQgetvalue(res, i, 0));
    }
    PQclear(res);
    return CM_OK;
}
