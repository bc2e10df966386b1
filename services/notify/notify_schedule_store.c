/* The SQL of messages sent later (notify_schedule_store.h). Cancelling
 * deletes the held queue row and releasing (or ending) updates or deletes
 * it: each locks the row and rechecks held, so exactly one of them wins. */
#include "notify_schedule_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cm_err_t notify_schedule_store_claim(cm_db_t *db, int max, long lease_ms, struct notify_claim *out,
                                     int *n)
{
    return notify_store_claim_queue(
        db,
        "WITH c AS MATERIALIZED (SELECT message_id FROM notify.queue WHERE held AND "
        "due_at <= now() ORDER BY due_at LIMIT $1::int FOR UPDATE SKIP LOCKED) "
        "UPDATE notify.queue q SET due_at = now() + $2::bigint * interval '1 millisecond' FROM c "
        "WHERE q.message_id = c.message_id RETURNING q.message_id, q.tenant_id, q.attempts",
        max, lease_ms, out, n);
}

/* Whether the session tenant has message id. */
static cm_err_t s_exists(cm_db_t *db, const char *id, bool *found)
{
    const char *p[] = {id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db, "SELECT 1 FROM notify.messages WHERE id = $1::uuid", 1, p, &err);
    if (!res)
        return err;
    *found = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_schedule_store_cancel(cm_db_t *db, const char *id, const char *reason, bool *found,
                                      bool *cancelled)
{
    const char *p[] = {id, reason};
    cm_err_t err;
    *cancelled = false;
    PGresult *res = cm_db_exec(
        db,
        "WITH d AS (DELETE FROM notify.queue q USING notify.messages m WHERE q.message_id = "
        "$1::uuid AND m.id = q.message_id AND q.held AND m.status = 'SCHEDULED' "
        "RETURNING q.message_id) "
        "UPDATE notify.messages SET status = 'CANCELLED', last_error = $2, sealed_link = NULL "
        "WHERE id IN (SELECT message_id FROM d) RETURNING id",
        2, p, &err);
    if (!res)
        return err;
    *cancelled = PQntuples(res) == 1;
    PQclear(res);
    *found = *cancelled;
    return *cancelled ? CM_OK : s_exists(db, id, found);
}

cm_err_t notify_schedule_store_release(cm_db_t *db, const char *id, const char *to,
                                       const char *to_name, bool *released)
{
    const char *p[] = {id, to, to_name};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "WITH u AS (UPDATE notify.queue SET held = false, due_at = now() WHERE message_id = "
        "$1::uuid AND held RETURNING message_id) "
        "UPDATE notify.messages SET status = 'QUEUED', to_addr = coalesce($2, to_addr), "
        "to_name = coalesce($3, to_name) WHERE id IN (SELECT message_id FROM u) "
        "AND status = 'SCHEDULED' RETURNING id",
        3, p, &err);
    if (!res)
        return err;
    *released = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_schedule_store_end(cm_db_t *db, const char *tenant, const char *id,
                                   const char *status, const char *reason, bool *ended)
{
    const char *p[] = {id, status, reason};
    Crm__Message *msg = NULL;
    *ended = false;
    cm_err_t err = cm_db_begin(db, tenant);
    if (err)
        return err;
    PGresult *res =
        cm_db_exec(db,
                   "WITH d AS (DELETE FROM notify.queue WHERE message_id = $1::uuid AND held "
                   "RETURNING message_id) "
                   "UPDATE notify.messages SET status = $2, last_error = $3, permanent = true, "
                   "failed_at = CASE WHEN $2 = 'FAILED' THEN now() END, sealed_link = NULL "
                   "WHERE id IN (SELECT message_id FROM d) AND status = 'SCHEDULED' RETURNING id",
                   3, p, &err);
    if (!res)
        goto out;
    *ended = PQntuples(res) == 1;
    PQclear(res);
    if (*ended && !strcmp(status, "FAILED")) {
        err = notify_store_get(db, id, &msg);
        if (!err)
            err = notify_store_event(db, "message.failed", msg, NULL, tenant);
    }
    if (!err)
        err = cm_db_commit(db);
out:
    if (msg)
        crm__message__free_unpacked(msg, NULL);
    if (err) {
        cm_db_rollback(db);
        *ended = false;
    }
    return err;
}
