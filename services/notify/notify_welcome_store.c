/* Welcome on auto-registration: its SQL (notify_welcome_store.h). */
#include "notify_welcome_store.h"
#include "notify_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cm_err_t notify_welcome_store_record(cm_db_t *db, const char *tenant, const char *event_id,
                                     const char *customer_id, const char *occurred_at,
                                     bool *recorded)
{
    const char *p[] = {tenant, event_id, customer_id, occurred_at};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "INSERT INTO notify.welcome_work (tenant_id, event_id, customer_id, "
                               "channel) SELECT s.tenant_id, $2, $3::uuid, s.welcome_channel "
                               "FROM notify.settings s WHERE s.tenant_id = $1::uuid "
                               "AND s.welcome_since <= $4::timestamptz "
                               "ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING 1",
                               4, p, &err);
    if (!res)
        return err;
    *recorded = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_welcome_store_claim(cm_db_t *db, int max, long lease_ms,
                                    struct notify_welcome_claim *out, int *n)
{
    *n = 0;
    cm_err_t err;
    PGresult *res = notify_store_claim_rows(
        db,
        "WITH c AS MATERIALIZED (SELECT tenant_id, event_id FROM notify.welcome_work "
        "WHERE lease_until <= now() ORDER BY lease_until LIMIT $1::int FOR UPDATE SKIP LOCKED) "
        "UPDATE notify.welcome_work w SET lease_until = now() + $2::bigint * "
        "interval '1 millisecond', attempts = w.attempts + 1 FROM c "
        "WHERE w.tenant_id = c.tenant_id AND w.event_id = c.event_id "
        "RETURNING w.tenant_id, w.event_id",
        max, lease_ms, &err);
    if (!res)
        return err;
    for (int i = 0; i < PQntuples(res) && i < max; i++) {
        snprintf(out[i].tenant_id, sizeof out[i].tenant_id, "%s", PQgetvalue(res, i, 0));
        snprintf(out[i].event_id, sizeof out[i].event_id, "%s", PQgetvalue(res, i, 1));
        (*n)++;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_welcome_store_get(cm_db_t *db, const char *tenant, const char *event_id,
                                  struct notify_welcome_row *out)
{
    const char *p[] = {tenant, event_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT customer_id, channel, attempts FROM notify.welcome_work "
                               "WHERE tenant_id = $1::uuid AND event_id = $2",
                               2, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    snprintf(out->customer_id, sizeof out->customer_id, "%s", PQgetvalue(res, 0, 0));
    out->sms = !strcmp(PQgetvalue(res, 0, 1), "SMS");
    out->attempts = (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_welcome_store_done(cm_db_t *db, const char *tenant, const char *event_id)
{
    const char *p[] = {tenant, event_id};
    return cm_db_run(
        db, "DELETE FROM notify.welcome_work WHERE tenant_id = $1::uuid AND event_id = $2", 2, p);
}
