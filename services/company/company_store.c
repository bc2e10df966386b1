/* The SQL of the background retries. */
#include "company_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cm_err_t company_store_retry_start(cm_db_t *db, const char *tenant, const char *customer_id,
                                   const char *vat, bool fill, const char *code, long delay_s)
{
    char delay[24];
    snprintf(delay, sizeof delay, "%ld", delay_s);
    const char *p[] = {tenant, customer_id, vat, fill ? "t" : "f", code, delay};
    return cm_db_run(db,
                     "INSERT INTO company.vat_retries (tenant_id, customer_id, vat_number, fill, "
                     "attempts, last_code, next_at) VALUES ($1, $2, $3, $4, 1, $5, "
                     "now() + make_interval(secs => $6::int)) "
                     "ON CONFLICT (tenant_id, customer_id) DO UPDATE SET "
                     "vat_number = EXCLUDED.vat_number, fill = EXCLUDED.fill, attempts = 1, "
                     "last_code = EXCLUDED.last_code, next_at = EXCLUDED.next_at, lease = NULL, "
                     "leased_until = NULL, created_at = now()",
                     6, p);
}

cm_err_t company_store_retry_take(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *lease, struct company_retry *out, bool *found)
{
    memset(out, 0, sizeof *out);
    *found = false;
    const char *p[] = {tenant, customer_id, lease};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT vat_number, fill, attempts, "
                               "extract(epoch FROM now() - created_at)::bigint "
                               "FROM company.vat_retries WHERE tenant_id = $1 AND "
                               "customer_id = $2 AND lease = $3 AND leased_until > now()",
                               3, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1) {
        snprintf(out->vat, sizeof out->vat, "%s", PQgetvalue(res, 0, 0));
        out->fill = PQgetvalue(res, 0, 1)[0] == 't';
        out->attempts = (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
        out->age_s = strtol(PQgetvalue(res, 0, 3), NULL, 10);
        *found = true;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t company_store_retry_later(cm_db_t *db, const char *tenant, const char *customer_id,
                                   const char *lease, const char *code, long delay_s)
{
    char delay[24];
    snprintf(delay, sizeof delay, "%ld", delay_s);
    const char *p[] = {tenant, customer_id, lease, code, delay};
    return cm_db_run(db,
                     "UPDATE company.vat_retries SET attempts = attempts + 1, last_code = $4, "
                     "next_at = now() + make_interval(secs => $5::int), lease = NULL, "
                     "leased_until = NULL WHERE tenant_id = $1 AND customer_id = $2 AND lease = $3",
                     5, p);
}

cm_err_t company_store_retry_done(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *lease)
{
    const char *p[] = {tenant, customer_id, lease};
    return cm_db_run(db,
                     "DELETE FROM company.vat_retries WHERE tenant_id = $1 AND customer_id = $2 "
                     "AND ($3::uuid IS NULL OR lease = $3::uuid)",
                     3, p);
}

int company_store_retry_claim(cm_db_t *db, int limit, long lease_s, company_store_claim_fn fn,
                              void *ud)
{
    char l[16], s[24];
    snprintf(l, sizeof l, "%d", limit);
    snprintf(s, sizeof s, "%ld", lease_s);
    const char *p[] = {l, s};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "SELECT tenant_id, customer_id, lease FROM company.claim_vat_retries($1, $2)", 2, p,
        &err);
    if (!res)
        return -1;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        fn(ud, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
    PQclear(res);
    return n;
}

cm_err_t company_store_backoff_start(cm_db_t *db, const char *cc, int *seconds, int64_t *left_ms)
{
    const char *p[] = {cc};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "INSERT INTO company.state_backoff AS b (cc, seconds, until) "
        "VALUES ($1, 30, now() + interval '30 seconds') "
        "ON CONFLICT (cc) DO UPDATE SET "
        "seconds = CASE WHEN b.until > now() THEN b.seconds "
        "               ELSE least(600, b.seconds * 2) END, "
        "until = CASE WHEN b.until > now() THEN b.until "
        "             ELSE now() + make_interval(secs => least(600, b.seconds * 2)) END, "
        "updated_at = now() "
        "RETURNING seconds, (extract(epoch FROM until - now()) * 1000)::bigint",
        1, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1) {
        *seconds = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
        *left_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t company_store_backoff_end(cm_db_t *db, const char *cc)
{
    const char *p[] = {cc};
    return cm_db_run(db, "DELETE FROM company.state_backoff WHERE cc = $1", 1, p);
}

int company_store_backoff_load(cm_db_t *db, company_store_backoff_fn fn, void *ud)
{
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT cc, seconds, (extract(epoch FROM until - now()) * 1000)"
                               "::bigint FROM company.state_backoff",
                               0, NULL, &err);
    if (!res)
        return -1;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        fn(ud, PQgetvalue(res, i, 0), (int)strtol(PQgetvalue(res, i, 1), NULL, 10),
           strtoll(PQgetvalue(res, i, 2), NULL, 10));
    PQclear(res);
    return n;
}
