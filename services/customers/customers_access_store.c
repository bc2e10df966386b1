/* The SQL of access control (customers_access_store.h). */
#include "customers_access_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A timestamptz column as RFC 3339 UTC with milliseconds, "" for NULL. */
#define UTC(col)                                                                                   \
    "coalesce(to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), '')"
#define DAY(col) "coalesce(to_char(" col ", 'YYYY-MM-DD'), '')"

/* Whether the customer exists, as the first column of a list's statement. */
#define EXISTS_CUSTOMER                                                                            \
    "EXISTS (SELECT 1 FROM customers.customers c WHERE c.tenant_id = $1 AND c.id = $2::uuid)"

static long s_long(const PGresult *res, int row, int col)
{
    return strtol(PQgetvalue(res, row, col), NULL, 10);
}

/* ---------------------------------------------------------------------- */
/* Zones                                                                   */

#define ZONE_COLUMNS "z.id, z.name, " UTC("z.created_at") ", " UTC("z.updated_at")

static Crm__AccessZone *s_zone_of(const PGresult *res, int row)
{
    Crm__AccessZone *z = (Crm__AccessZone *)cm_pb_new(&crm__access_zone__descriptor);
    cm_pb_set_str(&z->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&z->name, PQgetvalue(res, row, 1));
    cm_pb_set_str(&z->created_at, PQgetvalue(res, row, 2));
    cm_pb_set_str(&z->updated_at, PQgetvalue(res, row, 3));
    return z;
}

cm_err_t customers_access_store_zones(cm_db_t *db, const char *tenant,
                                      Crm__ListAccessZonesResponse *resp)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " ZONE_COLUMNS " FROM customers.access_zones z "
                               "WHERE z.tenant_id = $1 ORDER BY lower(z.name), z.seq",
                               1, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->zones = rows ? cm_calloc((size_t)rows, sizeof *resp->zones) : NULL;
    for (int i = 0; i < rows; i++)
        resp->zones[resp->n_zones++] = s_zone_of(res, i);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_access_store_zone(cm_db_t *db, const char *tenant, const char *id,
                                     Crm__AccessZone **out)
{
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " ZONE_COLUMNS " FROM customers.access_zones z "
                               "WHERE z.tenant_id = $1 AND z.id = $2::uuid",
                               2, p, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_zone_of(res, 0) : NULL;
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_access_store_zone_count(cm_db_t *db, const char *tenant, long *count)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "SELECT count(*) FROM customers.access_zones z WHERE z.tenant_id = $1", 1, p, &err);
    if (!res)
        return err;
    *count = s_long(res, 0, 0);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_access_store_zone_put(cm_db_t *db, const char *tenant, const char *id,
                                         const char *name, bool insert, Crm__AccessZone **out)
{
    const char *p[] = {tenant, id, name};
    cm_err_t err;
    PGresult *res =
        insert ? cm_db_exec(db,
                            "INSERT INTO customers.access_zones AS z (tenant_id, id, name) "
                            "VALUES ($1, $2::uuid, $3) RETURNING " ZONE_COLUMNS,
                            3, p, &err)
               : cm_db_exec(db,
                            "UPDATE customers.access_zones z SET name = $3, updated_at = now() "
                            "WHERE z.tenant_id = $1 AND z.id = $2::uuid RETURNING " ZONE_COLUMNS,
                            3, p, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_zone_of(res, 0) : NULL;
    PQclear(res);
    return CM_OK;
}

/* Runs a DELETE ... RETURNING 1 of p (tenant, customer or id, ...). */
static cm_err_t s_delete(cm_db_t *db, const char *sql, int n, const char *const *p, bool *deleted)
{
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, n, p, &err);
    if (!res)
        return err;
    *deleted = PQntuples(res) > 0;
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_access_store_zone_delete(cm_db_t *db, const char *tenant, const char *id,
                                            bool *deleted)
{
    const char *p[] = {tenant, id};
    return s_delete(db,
                    "DELETE FROM customers.access_zones z WHERE z.tenant_id = $1 "
                    "AND z.id = $2::uuid RETURNING 1",
                    2, p, deleted);
}

/* ---------------------------------------------------------------------- */
/* Credentials                                                             */

#define CRED_COLUMNS                                                                               \
    "k.id, k.customer_id, k.kind, k.value, k.blocked, k.block_reason, " UTC(                       \
        "k.created_at") ", " UTC("k.updated_at")

static Crm__AccessCredential *s_cred_of(const PGresult *res, int row, int col)
{
    Crm__AccessCredential *c =
        (Crm__AccessCredential *)cm_pb_new(&crm__access_credential__descriptor);
    cm_pb_set_str(&c->id, PQgetvalue(res, row, col));
    cm_pb_set_str(&c->customer_id, PQgetvalue(res, row, col + 1));
    c->kind = (Crm__CredentialKind)s_long(res, row, col + 2);
    cm_pb_set_str(&c->value, PQgetvalue(res, row, col + 3));
    c->blocked = PQgetvalue(res, row, col + 4)[0] == 't';
    cm_pb_set_str(&c->block_reason, PQgetvalue(res, row, col + 5));
    cm_pb_set_str(&c->created_at, PQgetvalue(res, row, col + 6));
    cm_pb_set_str(&c->updated_at, PQgetvalue(res, row, col + 7));
    return c;
}

/* Runs a list's statement, whose rows are (customer exists, count, the row's
 * columns or NULLs): one row even for a customer with none. Answers the
 * result with *exists, *count and its *rows of the list (0 for that one row
 * of NULLs), or NULL with *err. */
static PGresult *s_list(cm_db_t *db, const char *sql, const char *tenant, const char *customer,
                        bool *exists, long *count, int *rows, cm_err_t *err)
{
    const char *p[] = {tenant, customer};
    PGresult *res = cm_db_exec(db, sql, 2, p, err);
    if (!res)
        return NULL;
    *rows = PQntuples(res);
    *exists = *rows > 0 && PQgetvalue(res, 0, 0)[0] == 't';
    *count = *rows > 0 ? s_long(res, 0, 1) : 0;
    if (*rows == 1 && PQgetisnull(res, 0, 2))
        *count = *rows = 0;
    return res;
}

cm_err_t customers_access_store_credentials(cm_db_t *db, const char *tenant, const char *customer,
                                            bool *exists, long *count,
                                            Crm__ListAccessCredentialsResponse *resp)
{
    cm_err_t err = CM_OK;
    int rows = 0;
    PGresult *res = s_list(db,
                           "SELECT " EXISTS_CUSTOMER ", count(*) OVER (), " CRED_COLUMNS
                           " FROM (SELECT 1) one LEFT JOIN customers.access_credentials k "
                           "ON k.tenant_id = $1 AND k.customer_id = $2::uuid ORDER BY k.seq",
                           tenant, customer, exists, count, &rows, &err);
    if (!res)
        return err;
    if (resp) {
        resp->credentials = rows ? cm_calloc((size_t)rows, sizeof *resp->credentials) : NULL;
        for (int i = 0; i < rows; i++)
            resp->credentials[resp->n_credentials++] = s_cred_of(res, i, 2);
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_access_store_credential(cm_db_t *db, const char *tenant, const char *customer,
                                           const char *id, bool lock, Crm__AccessCredential **out)
{
    const char *p[] = {tenant, customer, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               lock ? "SELECT " CRED_COLUMNS " FROM customers.access_credentials k "
                                      "WHERE k.tenant_id = $1 AND k.customer_id = $2::uuid "
                                      "AND k.id = $3::uuid FOR UPDATE"
                                    : "SELECT " CRED_COLUMNS " FROM customers.access_credentials k "
                                      "WHERE k.tenant_id = $1 AND k.customer_id = $2::uuid "
                                      "AND k.id = $3::uuid",
                               3, p, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_cred_of(res, 0, 0) : NULL;
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_access_store_credential_put(cm_db_t *db, const char *tenant,
                                               const Crm__AccessCredential *c, bool insert,
                                               Crm__AccessCredential **out)
{
    char kind[8];
    snprintf(kind, sizeof kind, "%d", (int)c->kind);
    const char *blocked = c->blocked ? "true" : "false";
    const char *ins[] = {tenant, c->customer_id, c->id, kind, c->value, blocked, c->block_reason};
    const char *upd[] = {tenant, c->customer_id, c->id, blocked, c->block_reason};
    cm_err_t err;
    PGresult *res =
        insert ? cm_db_exec(db,
                            "INSERT INTO customers.access_credentials AS k (tenant_id, "
                            "customer_id, id, kind, value, blocked, block_reason) VALUES ($1, "
                            "$2::uuid, $3::uuid, $4::smallint, $5, $6::boolean, $7) "
                            "RETURNING " CRED_COLUMNS,
                            7, ins, &err)
               : cm_db_exec(db,
                            "UPDATE customers.access_credentials k SET blocked = $4::boolean, "
                            "block_reason = $5, updated_at = now() WHERE k.tenant_id = $1 "
                            "AND k.customer_id = $2::uuid AND k.id = $3::uuid "
                            "RETURNING " CRED_COLUMNS,
                            5, upd, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_cred_of(res, 0, 0) : NULL;
    PQclear(res);
    return *out ? CM_OK : CM_ERR_NOT_FOUND;
}

cm_err_t customers_access_store_credential_delete(cm_db_t *db, const char *tenant,
                                                  const char *customer, const char *id,
                                                  bool *deleted)
{
    const char *p[] = {tenant, customer, id};
    return s_delete(db,
                    "DELETE FROM customers.access_credentials k WHERE k.tenant_id = $1 "
                    "AND k.customer_id = $2::uuid AND k.id = $3::uuid RETURNING 1",
                    3, p, deleted);
}

/* ---------------------------------------------------------------------- */
/* Grants                                                                  */

#define GRANT_COLUMNS                                                                              \
    "g.id, g.customer_id, g.zone_id, z.name, " DAY("g.valid_from") ", " DAY(                       \
        "g.valid_until") ", g.days, coalesce(g.from_minute, -1), coalesce(g.until_minute, -1), "   \
                         "coalesce(g.plan_id::text, ''), coalesce(pl.name, ''), " UTC(             \
                             "g.created_at")
#define GRANT_JOINS                                                                                \
    " JOIN customers.access_zones z ON z.id = g.zone_id "                                          \
    "LEFT JOIN customers.sub_plans pl ON pl.id = g.plan_id"

static Crm__AccessGrant *s_grant_of(const PGresult *res, int row, int col)
{
    Crm__AccessGrant *g = (Crm__AccessGrant *)cm_pb_new(&crm__access_grant__descriptor);
    cm_pb_set_str(&g->id, PQgetvalue(res, row, col));
    cm_pb_set_str(&g->customer_id, PQgetvalue(res, row, col + 1));
    cm_pb_set_str(&g->zone_id, PQgetvalue(res, row, col + 2));
    cm_pb_set_str(&g->zone_name, PQgetvalue(res, row, col + 3));
    cm_pb_set_str(&g->valid_from, PQgetvalue(res, row, col + 4));
    cm_pb_set_str(&g->valid_until, PQgetvalue(res, row, col + 5));
    long mask = s_long(res, row, col + 6);
    g->days = mask ? cm_calloc(7, sizeof *g->days) : NULL;
    for (int d = 1; d <= 7; d++)
        if (mask & (1L << (d - 1)))
            g->days[g->n_days++] = d;
    long from = s_long(res, row, col + 7), until = s_long(res, row, col + 8);
    char hhmm[6];
    if (from >= 0) {
        customers_access_format_hhmm((int)from, hhmm);
        cm_pb_set_str(&g->from_time, hhmm);
        customers_access_format_hhmm((int)until, hhmm);
        cm_pb_set_str(&g->until_time, hhmm);
    }
    cm_pb_set_str(&g->plan_id, PQgetvalue(res, row, col + 9));
    cm_pb_set_str(&g->plan_name, PQgetvalue(res, row, col + 10));
    cm_pb_set_str(&g->created_at, PQgetvalue(res, row, col + 11));
    return g;
}

cm_err_t customers_access_store_grants(cm_db_t *db, const char *tenant, const char *customer,
                                       bool *exists, long *count,
                                       Crm__ListAccessGrantsResponse *resp)
{
    cm_err_t err = CM_OK;
    int rows = 0;
    PGresult *res = s_list(db,
                           "SELECT " EXISTS_CUSTOMER ", count(*) OVER (), " GRANT_COLUMNS
                           " FROM (SELECT 1) one LEFT JOIN (customers.access_grants g" GRANT_JOINS
                           ") ON g.tenant_id = $1 AND g.customer_id = $2::uuid ORDER BY g.seq",
                           tenant, customer, exists, count, &rows, &err);
    if (!res)
        return err;
    if (resp) {
        resp->grants = rows ? cm_calloc((size_t)rows, sizeof *resp->grants) : NULL;
        for (int i = 0; i < rows; i++)
            resp->grants[resp->n_grants++] = s_grant_of(res, i, 2);
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_access_store_grant_insert(cm_db_t *db, const char *tenant,
                                             const Crm__AccessGrant *g, int days, int from_minute,
                                             int until_minute, Crm__AccessGrant **out)
{
    char mask[8], from[8], until[8];
    snprintf(mask, sizeof mask, "%d", days);
    snprintf(from, sizeof from, "%d", from_minute);
    snprintf(until, sizeof until, "%d", until_minute);
    const char *p[] = {tenant,
                       g->id,
                       g->customer_id,
                       g->zone_id,
                       g->valid_from[0] ? g->valid_from : NULL,
                       g->valid_until[0] ? g->valid_until : NULL,
                       mask,
                       from_minute >= 0 ? from : NULL,
                       from_minute >= 0 ? until : NULL,
                       g->plan_id[0] ? g->plan_id : NULL};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "WITH g AS (INSERT INTO customers.access_grants (tenant_id, id, customer_id, zone_id, "
        "valid_from, valid_until, days, from_minute, until_minute, plan_id) VALUES ($1, $2::uuid, "
        "$3::uuid, $4::uuid, $5::date, $6::date, $7::smallint, $8::smallint, $9::smallint, "
        "$10::uuid) RETURNING *) SELECT " GRANT_COLUMNS " FROM g" GRANT_JOINS,
        10, p, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_grant_of(res, 0, 0) : NULL;
    PQclear(res);
    return *out ? CM_OK : CM_ERR_INTERNAL;
}

cm_err_t customers_access_store_grant_delete(cm_db_t *db, const char *tenant, const char *customer,
                                             const char *id, bool *deleted)
{
    const char *p[] = {tenant, customer, id};
    return s_delete(db,
                    "DELETE FROM customers.access_grants g WHERE g.tenant_id = $1 "
                    "AND g.customer_id = $2::uuid AND g.id = $3::uuid RETURNING 1",
                    3, p, deleted);
}

/* ---------------------------------------------------------------------- */
/* The door                                                                */

cm_err_t customers_access_store_read(cm_db_t *db, const char *tenant, const char *value,
                                     const char *zone, const char *at,
                                     struct customers_access_read *out)
{
    memset(out, 0, sizeof *out);
    const char *p[] = {tenant, value, zone, at};
    cm_err_t err;
    /* One row per grant of the credential's customer to the zone (one row
     * with NULLs for none); no row for an unknown zone. A value held by a
     * credential not blocked wins over blocked ones. The time is read on the
     * business's wall clock (AT TIME ZONE follows daylight saving time), and
     * a subscription is asked about on the business's day. */
    PGresult *res = cm_db_exec(
        db,
        "WITH w AS (SELECT $4::timestamptz AT TIME ZONE t.time_zone AS at FROM "
        "customers.tenants t WHERE t.id = $1), "
        "z AS (SELECT id, name FROM customers.access_zones WHERE tenant_id = $1 "
        "AND id = $3::uuid), "
        "k AS (SELECT customer_id, blocked FROM customers.access_credentials WHERE "
        "tenant_id = $1 AND value = $2 ORDER BY blocked, seq LIMIT 1) "
        "SELECT z.name, coalesce(c.id::text, ''), coalesce(k.blocked, false), "
        "coalesce(c.account_status, 0), coalesce(nullif(trim(c.first_name || ' ' || "
        "c.last_name), ''), c.email, ''), g.id IS NOT NULL, "
        "coalesce(g.valid_from - date '1970-01-01', -1), "
        "coalesce(g.valid_until - date '1970-01-01', -1), coalesce(g.days, 0), "
        "coalesce(g.from_minute, -1), coalesce(g.until_minute, -1), g.plan_id IS NOT NULL, "
        "g.plan_id IS NOT NULL AND EXISTS (SELECT 1 FROM customers.subscriptions s WHERE "
        "s.tenant_id = $1 AND s.customer_id = c.id AND s.plan_id = g.plan_id AND "
        "s.cancelled_at IS NULL AND s.starts_on <= w.at::date AND (s.ends_on IS NULL OR "
        "s.ends_on >= w.at::date) AND (s.visits_total = 0 OR s.visits_left > 0)), "
        "floor(extract(epoch FROM w.at) * 1000)::bigint "
        "FROM z CROSS JOIN w LEFT JOIN k ON true "
        "LEFT JOIN customers.customers c ON c.tenant_id = $1 AND c.id = k.customer_id "
        "LEFT JOIN customers.access_grants g ON g.tenant_id = $1 AND g.customer_id = c.id "
        "AND g.zone_id = z.id",
        4, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    out->zone_found = rows > 0;
    if (rows > 0) {
        snprintf(out->zone_name, sizeof out->zone_name, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->customer_id, sizeof out->customer_id, "%s", PQgetvalue(res, 0, 1));
        snprintf(out->display_name, sizeof out->display_name, "%s", PQgetvalue(res, 0, 4));
        out->facts.known = out->customer_id[0] != '\0';
        out->facts.blocked = PQgetvalue(res, 0, 2)[0] == 't';
        out->facts.disabled = s_long(res, 0, 3) == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED;
        out->local_ms = strtoll(PQgetvalue(res, 0, 13), NULL, 10);
        out->grants = cm_calloc((size_t)rows, sizeof *out->grants);
    }
    for (int i = 0; i < rows; i++) {
        if (PQgetvalue(res, i, 5)[0] != 't')
            continue;
        struct customers_access_grant *g = &out->grants[out->facts.n_grants++];
        g->valid_from = strtoll(PQgetvalue(res, i, 6), NULL, 10);
        g->valid_until = strtoll(PQgetvalue(res, i, 7), NULL, 10);
        g->days = (unsigned)s_long(res, i, 8);
        g->from_minute = (int)s_long(res, i, 9);
        g->until_minute = (int)s_long(res, i, 10);
        g->needs_plan = PQgetvalue(res, i, 11)[0] == 't';
        g->plan_active = PQgetvalue(res, i, 12)[0] == 't';
    }
    out->facts.grants = out->grants;
    PQclear(res);
    return CM_OK;
}

void customers_access_store_read_free(struct customers_access_read *r)
{
    free(r->grants);
    r->grants = NULL;
    r->facts.grants = NULL;
    r->facts.n_grants = 0;
}

void customers_access_store_log_add(cm_db_t *db, const char *tenant, const char *at,
                                    const char *zone, const char *zone_name, const char *value,
                                    const char *customer, Crm__AccessDecision decision,
                                    Crm__AccessReason reason)
{
    char dec[8], why[8];
    snprintf(dec, sizeof dec, "%d", (int)decision);
    snprintf(why, sizeof why, "%d", (int)reason);
    const char *p[] = {tenant, at, zone, zone_name, value, customer[0] ? customer : NULL, dec, why};
    cm_db_defer(db,
                "INSERT INTO customers.access_log (tenant_id, checked_at, zone_id, zone_name, "
                "credential_value, customer_id, decision, reason) VALUES ($1, $2::timestamptz, "
                "$3::uuid, $4, $5, $6::uuid, $7::smallint, $8::smallint)",
                8, p, NULL, NULL);
}

cm_err_t customers_access_store_log(cm_db_t *db, const char *tenant, const char *customer,
                                    int limit, bool *exists, Crm__ListAccessLogResponse *resp)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = {tenant, customer, lim};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT " EXISTS_CUSTOMER
                   ", l.id, " UTC("l.checked_at") ", l.zone_id, l.zone_name, "
                                                  "l.credential_value, l.decision, l.reason FROM "
                                                  "(SELECT 1) one LEFT JOIN LATERAL "
                                                  "(SELECT * FROM customers.access_log x WHERE "
                                                  "x.tenant_id = $1 AND x.customer_id = "
                                                  "$2::uuid ORDER BY x.id DESC LIMIT $3::int) l ON "
                                                  "true ORDER BY l.id DESC",
                   3, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    *exists = rows > 0 && PQgetvalue(res, 0, 0)[0] == 't';
    if (rows == 1 && PQgetisnull(res, 0, 1))
        rows = 0;
    resp->entries = rows ? cm_calloc((size_t)rows, sizeof *resp->entries) : NULL;
    for (int i = 0; i < rows; i++) {
        Crm__AccessLogEntry *e =
            (Crm__AccessLogEntry *)cm_pb_new(&crm__access_log_entry__descriptor);
        cm_pb_set_str(&e->id, PQgetvalue(res, i, 1));
        cm_pb_set_str(&e->at, PQgetvalue(res, i, 2));
        cm_pb_set_str(&e->zone_id, PQgetvalue(res, i, 3));
        cm_pb_set_str(&e->zone_name, PQgetvalue(res, i, 4));
        cm_pb_set_str(&e->credential_value, PQgetvalue(res, i, 5));
        cm_pb_set_str(&e->customer_id, customer);
        e->decision = (Crm__AccessDecision)s_long(res, i, 6);
        e->reason = (Crm__AccessReason)s_long(res, i, 7);
        resp->entries[resp->n_entries++] = e;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_access_store_erase(cm_db_t *db, const char *tenant, const char *customer)
{
    const char *p[] = {tenant, customer};
    return cm_db_run(db,
                     "UPDATE customers.access_log SET credential_value = '' WHERE tenant_id = $1 "
                     "AND customer_id = $2::uuid AND credential_value <> ''",
                     2, p);
}

cm_err_t customers_access_store_prune(cm_db_t *db, int days, int limit, long *deleted)
{
    char d[16], lim[16];
    snprintf(d, sizeof d, "%d", days);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = {d, lim};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT customers.access_log_prune(now() - make_interval(days => "
                               "$1::int), $2::int)",
                               2, p, &err);
    if (!res)
        return err;
    *deleted = s_long(res, 0, 0);
    PQclear(res);
    return CM_OK;
}
