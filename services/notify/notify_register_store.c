/* Self-registration's SQL (notify_register_store.h). */
#include "notify_register_store.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cm_err_t notify_register_store_count(cm_db_t *db, const char *address, const char *tenant,
                                     const char *email_key, long window_s, int *by_address,
                                     int *by_email, long *retry_s)
{
    char w[24];
    snprintf(w, sizeof w, "%ld", window_s);
    const char *p[] = {address, tenant, email_key, w};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT count(*) FILTER (WHERE client_address = $1), count(*) FILTER (WHERE tenant_id = "
        "$2 AND email_key = $3), coalesce(ceil(extract(epoch FROM min(created_at) + $4::int * "
        "interval '1 second' - now()))::bigint, 0) FROM notify.registrations WHERE created_at > "
        "now() - $4::int * interval '1 second' AND (client_address = $1 OR (tenant_id = $2 AND "
        "email_key = $3))",
        4, p, &err);
    if (!res)
        return err;
    *by_address = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    *by_email = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
    *retry_s = strtol(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_register_store_insert(cm_db_t *db, struct notify_registration *r,
                                      const char *token_hash, long hours)
{
    cm_uuid(r->id);
    char h[24];
    snprintf(h, sizeof h, "%ld", hours);
    const char *p[] = {r->id,
                       token_hash,
                       r->tenant_id,
                       r->email_key,
                       r->email,
                       r->first_name,
                       r->last_name,
                       r->phone,
                       r->language,
                       r->consent_email ? "t" : "f",
                       r->consent_sms ? "t" : "f",
                       r->client_address,
                       h};
    return cm_db_run(db,
                     "INSERT INTO notify.registrations (id, token_hash, tenant_id, email_key, "
                     "email, first_name, last_name, phone, language, consent_email, consent_sms, "
                     "client_address, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                     "$10, $11, $12, now() + $13::int * interval '1 hour')",
                     13, p);
}

cm_err_t notify_register_store_renew(cm_db_t *db, const char *id, const char *token_hash,
                                     long hours)
{
    char h[24];
    snprintf(h, sizeof h, "%ld", hours);
    const char *p[] = {id, token_hash, h};
    return cm_db_run(db,
                     "UPDATE notify.registrations SET token_hash = $2, expires_at = now() + "
                     "$3::int * interval '1 hour' WHERE id = $1 AND used_at IS NULL",
                     3, p);
}

cm_err_t notify_register_store_delete(cm_db_t *db, const char *id)
{
    const char *p[] = {id};
    return cm_db_run(db, "DELETE FROM notify.registrations WHERE id = $1", 1, p);
}

cm_err_t notify_register_store_find(cm_db_t *db, const char *token_hash,
                                    struct notify_registration *out)
{
    const char *p[] = {token_hash};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT id, tenant_id, email, email_key, first_name, last_name, phone, language, "
        "consent_email, consent_sms, client_address, CASE WHEN used_at IS NOT NULL THEN 'USED' "
        "WHEN expires_at <= now() THEN 'EXPIRED' ELSE 'VALID' END, coalesce(customer_id::text, "
        "'') FROM notify.registrations WHERE token_hash = $1",
        1, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 0));
    snprintf(out->tenant_id, sizeof out->tenant_id, "%s", PQgetvalue(res, 0, 1));
    snprintf(out->email, sizeof out->email, "%s", PQgetvalue(res, 0, 2));
    snprintf(out->email_key, sizeof out->email_key, "%s", PQgetvalue(res, 0, 3));
    snprintf(out->first_name, sizeof out->first_name, "%s", PQgetvalue(res, 0, 4));
    snprintf(out->last_name, sizeof out->last_name, "%s", PQgetvalue(res, 0, 5));
    snprintf(out->phone, sizeof out->phone, "%s", PQgetvalue(res, 0, 6));
    snprintf(out->language, sizeof out->language, "%s", PQgetvalue(res, 0, 7));
    out->consent_email = !strcmp(PQgetvalue(res, 0, 8), "t");
    out->consent_sms = !strcmp(PQgetvalue(res, 0, 9), "t");
    snprintf(out->client_address, sizeof out->client_address, "%s", PQgetvalue(res, 0, 10));
    snprintf(out->state, sizeof out->state, "%s", PQgetvalue(res, 0, 11));
    snprintf(out->customer_id, sizeof out->customer_id, "%s", PQgetvalue(res, 0, 12));
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_register_store_use(cm_db_t *db, const char *token_hash, const char *customer_id,
                                   bool *used)
{
    const char *p[] = {token_hash, customer_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "UPDATE notify.registrations SET used_at = now(), customer_id = $2 "
                               "WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() "
                               "RETURNING id",
                               2, p, &err);
    if (!res)
        return err;
    *used = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_register_store_prune(cm_db_t *db, long window_s, int limit, long *deleted)
{
    char w[24], n[16];
    snprintf(w, sizeof w, "%ld", window_s);
    snprintf(n, sizeof n, "%d", limit);
    const char *p[] = {w, n};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "DELETE FROM notify.registrations WHERE id IN (SELECT id FROM "
                               "notify.registrations WHERE expires_at <= now() AND created_at <= "
                               "now() - $1::int * interval '1 second' ORDER BY expires_at LIMIT "
                               "$2::int)",
                               2, p, &err);
    if (!res)
        return err;
    *deleted = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return CM_OK;
}
