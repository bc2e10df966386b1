/* Staff accounts' SQL (customers_staff_store.h). */
#include "customers_staff_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define STAFF_COLS                                                                                 \
    "s.id, s.email, s.name, s.role, s.status, s.tenant_id, t.name, " TS(                           \
        "s.created_at") ", "                                                                       \
                        "coalesce(" TS("s.last_sign_in_at") ", '')"
#define STAFF_FROM "customers.staff s JOIN customers.tenants t ON t.id = s.tenant_id"

/* The member of row i of a result whose first columns are STAFF_COLS. */
static Crm__Staff *s_staff_row(const PGresult *res, int i)
{
    Crm__Staff *s = (Crm__Staff *)cm_pb_new(&crm__staff__descriptor);
    cm_pb_set_str(&s->id, PQgetvalue(res, i, 0));
    cm_pb_set_str(&s->email, PQgetvalue(res, i, 1));
    cm_pb_set_str(&s->name, PQgetvalue(res, i, 2));
    s->role = (Crm__Role)strtol(PQgetvalue(res, i, 3), NULL, 10);
    s->status = (Crm__StaffStatus)strtol(PQgetvalue(res, i, 4), NULL, 10);
    cm_pb_set_str(&s->tenant_id, PQgetvalue(res, i, 5));
    cm_pb_set_str(&s->tenant_name, PQgetvalue(res, i, 6));
    cm_pb_set_str(&s->created_at, PQgetvalue(res, i, 7));
    cm_pb_set_str(&s->last_sign_in_at, PQgetvalue(res, i, 8));
    return s;
}

PGresult *customers_staff_store_by_email(cm_db_t *db, const char *email_key, cm_err_t *err)
{
    const char *p[] = {email_key};
    return cm_db_exec(db,
                      "SELECT tenant_id, tenant_name, staff_id, name, role, status, password_hash "
                      "FROM customers.staff_by_email($1)",
                      1, p, err);
}

/* ---------------------------------------------------------------------- */
/* Failed sign-ins                                                         */

static int64_t s_ms(const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? 0 : (int64_t)strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

/* Runs a count of sql over the last window_s seconds: $1 the e-mail key, $2
 * the address, $3 the window. */
static PGresult *s_window_exec(cm_db_t *db, const char *sql, const char *email_key,
                               const char *address, long window_s, cm_err_t *err)
{
    char w[24];
    snprintf(w, sizeof w, "%ld", window_s);
    const char *p[] = {email_key, address, w};
    return cm_db_exec(db, sql, 3, p, err);
}

cm_err_t customers_staff_store_failures(cm_db_t *db, const char *email_key, const char *address,
                                        long window_s, struct customers_limit_counts *n)
{
    cm_err_t err;
    PGresult *res = s_window_exec(
        db,
        "WITH f AS (SELECT email_key, address, at FROM customers.sign_in_failures "
        "WHERE at > now() - make_interval(secs => $3::int) AND (email_key = $1 OR address = $2)) "
        "SELECT count(*) FILTER (WHERE email_key = $1 AND address = $2), "
        "(extract(epoch FROM now() - max(at) FILTER (WHERE email_key = $1 AND address = $2)) "
        "* 1000)::bigint, "
        "count(*) FILTER (WHERE email_key = $1), "
        "(extract(epoch FROM now() - max(at) FILTER (WHERE email_key = $1)) * 1000)::bigint, "
        "count(*) FILTER (WHERE address = $2), "
        "(extract(epoch FROM now() - max(at) FILTER (WHERE address = $2)) * 1000)::bigint "
        "FROM f",
        email_key, address, window_s, &err);
    if (!res)
        return err;
    n->pair = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    n->pair_age_ms = s_ms(res, 1);
    n->account = strtol(PQgetvalue(res, 0, 2), NULL, 10);
    n->account_age_ms = s_ms(res, 3);
    n->address = strtol(PQgetvalue(res, 0, 4), NULL, 10);
    n->address_age_ms = s_ms(res, 5);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_staff_store_failure_add(cm_db_t *db, const char *email_key, const char *address)
{
    const char *p[] = {email_key, address};
    return cm_db_run(
        db, "INSERT INTO customers.sign_in_failures (email_key, address) VALUES ($1, $2)", 2, p);
}

cm_err_t customers_staff_store_failures_clear(cm_db_t *db, const char *email_key,
                                              const char *address)
{
    const char *p[] = {email_key, address};
    return cm_db_run(
        db, "DELETE FROM customers.sign_in_failures WHERE email_key = $1 AND address = $2", 2, p);
}

/* ---------------------------------------------------------------------- */
/* Sessions                                                                */

cm_err_t customers_staff_store_session_add(cm_db_t *db, const char *tenant, const char *staff_id,
                                           const char *hash_hex, long idle_s, long absolute_s,
                                           const char *address, Crm__StaffSession *out)
{
    char idle[24], abs[24];
    snprintf(idle, sizeof idle, "%ld", idle_s);
    snprintf(abs, sizeof abs, "%ld", absolute_s);
    const char *p[] = {tenant, staff_id, hash_hex, idle, abs, address};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "WITH n AS (INSERT INTO customers.staff_sessions (token_hash, tenant_id, staff_id, "
        "idle_expires_at, absolute_expires_at, address) VALUES (decode($3, 'hex'), $1, $2, "
        "least(now() + make_interval(secs => $4::int), now() + make_interval(secs => $5::int)), "
        "now() + make_interval(secs => $5::int), $6) "
        "RETURNING idle_expires_at, absolute_expires_at), "
        "u AS (UPDATE customers.staff SET last_sign_in_at = now() "
        "WHERE tenant_id = $1 AND id = $2) "
        "SELECT " TS("idle_expires_at") ", " TS("absolute_expires_at") " FROM n",
        6, p, &err);
    if (!res)
        return err;
    cm_pb_set_str(&out->idle_expires_at, PQgetvalue(res, 0, 0));
    cm_pb_set_str(&out->absolute_expires_at, PQgetvalue(res, 0, 1));
    PQclear(res);
    return CM_OK;
}

/* The session of a token hash (customers.staff_session), with STAFF_COLS'
 * order first and the two expiries after. */
static const char S_SESSION_SQL[] =
    "SELECT staff_id, email, name, role, status, tenant_id, tenant_name, " TS(
        "created_at") ", "
                      "coalesce(" TS("last_sign_in_at") ", ''), " TS("idle_expires_at") ", " TS(
                          "absolute_expires_at") " FROM customers.staff_session(decode($1, 'hex'), "
                                                 "$2::int)";

cm_err_t customers_staff_store_session(cm_db_t *db, const char *hash_hex, long idle_s, bool *found,
                                       Crm__StaffSession *out)
{
    char idle[24];
    snprintf(idle, sizeof idle, "%ld", idle_s);
    const char *p[] = {hash_hex, idle};
    cm_err_t err;
    PGresult *res = cm_db_exec(db, S_SESSION_SQL, 2, p, &err);
    if (!res)
        return err;
    *found = PQntuples(res) == 1;
    if (*found) {
        out->staff = s_staff_row(res, 0);
        cm_pb_set_str(&out->idle_expires_at, PQgetvalue(res, 0, 9));
        cm_pb_set_str(&out->absolute_expires_at, PQgetvalue(res, 0, 10));
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_staff_store_session_end(cm_db_t *db, const char *tenant, const char *hash_hex)
{
    const char *p[] = {tenant, hash_hex};
    return cm_db_run(db,
                     "DELETE FROM customers.staff_sessions WHERE tenant_id = $1 "
                     "AND token_hash = decode($2, 'hex')",
                     2, p);
}

cm_err_t customers_staff_store_sessions_end(cm_db_t *db, const char *tenant, const char *staff_id)
{
    const char *p[] = {tenant, staff_id};
    return cm_db_run(
        db, "DELETE FROM customers.staff_sessions WHERE tenant_id = $1 AND staff_id = $2", 2, p);
}

/* ---------------------------------------------------------------------- */
/* Members                                                                 */

cm_err_t customers_staff_store_list(cm_db_t *db, const char *tenant, Crm__ListStaffResponse *out)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " STAFF_COLS " FROM " STAFF_FROM " WHERE s.tenant_id = $1 "
                               "ORDER BY lower(s.name), s.email_key",
                               1, p, &err);
    if (!res)
        return err;
    int n = PQntuples(res);
    out->staff = n ? cm_calloc((size_t)n, sizeof *out->staff) : NULL;
    for (int i = 0; i < n; i++)
        out->staff[out->n_staff++] = s_staff_row(res, i);
    PQclear(res);
    return CM_OK;
}

static cm_err_t s_one(cm_db_t *db, const char *sql, int n, const char *const *p, Crm__Staff **out)
{
    *out = NULL;
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, n, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_staff_row(res, 0);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_staff_store_get(cm_db_t *db, const char *tenant, const char *id, bool lock,
                                   Crm__Staff **out)
{
    const char *p[] = {tenant, id};
    return s_one(db,
                 lock ? "SELECT " STAFF_COLS " FROM " STAFF_FROM
                        " WHERE s.tenant_id = $1 AND s.id = $2 FOR UPDATE OF s"
                      : "SELECT " STAFF_COLS " FROM " STAFF_FROM
                        " WHERE s.tenant_id = $1 AND s.id = $2",
                 2, p, out);
}

cm_err_t customers_staff_store_find(cm_db_t *db, const char *tenant, const char *email_key,
                                    Crm__Staff **out)
{
    const char *p[] = {tenant, email_key};
    return s_one(
        db, "SELECT " STAFF_COLS " FROM " STAFF_FROM " WHERE s.tenant_id = $1 AND s.email_key = $2",
        2, p, out);
}

cm_err_t customers_staff_store_lock(cm_db_t *db, const char *tenant)
{
    const char *p[] = {tenant};
    return cm_db_run(db, "SELECT pg_advisory_xact_lock(hashtextextended('staff:' || $1, 0))", 1, p);
}

cm_err_t customers_staff_store_other_owners(cm_db_t *db, const char *tenant, const char *except_id,
                                            long *n)
{
    const char *p[] = {tenant, except_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT count(*) FROM customers.staff WHERE tenant_id = $1 "
                               "AND role = 5 AND status = 2 AND ($2::uuid IS NULL OR id <> $2)",
                               2, p, &err);
    if (!res)
        return err;
    *n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_staff_store_insert(cm_db_t *db, const char *tenant, const char *id,
                                      const char *email, const char *email_key, const char *name,
                                      int role, const char *password_hash)
{
    char r[8], st[8];
    snprintf(r, sizeof r, "%d", role);
    snprintf(st, sizeof st, "%d",
             password_hash ? CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE
                           : CRM__STAFF_STATUS__STAFF_STATUS_INVITED);
    const char *p[] = {tenant, id, email, email_key, name, r, st, password_hash};
    return cm_db_run(db,
                     "INSERT INTO customers.staff (tenant_id, id, email, email_key, name, role, "
                     "status, password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                     8, p);
}

cm_err_t customers_staff_store_update(cm_db_t *db, const char *tenant, const char *id,
                                      const char *name, int role, int status)
{
    char r[8], st[8];
    snprintf(r, sizeof r, "%d", role);
    snprintf(st, sizeof st, "%d", status);
    const char *p[] = {tenant, id, name, r, st};
    return cm_db_run(db,
                     "UPDATE customers.staff SET name = $3, role = $4, status = $5 "
                     "WHERE tenant_id = $1 AND id = $2",
                     5, p);
}

cm_err_t customers_staff_store_has_password(cm_db_t *db, const char *tenant, const char *id,
                                            bool *has)
{
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT password_hash IS NOT NULL FROM customers.staff "
                               "WHERE tenant_id = $1 AND id = $2",
                               2, p, &err);
    if (!res)
        return err;
    *has = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_staff_store_activate(cm_db_t *db, const char *tenant, const char *id,
                                        const char *name, const char *password_hash)
{
    const char *p[] = {tenant, id, name, password_hash};
    return cm_db_run(db,
                     "UPDATE customers.staff SET name = $3, password_hash = $4, status = 2 "
                     "WHERE tenant_id = $1 AND id = $2",
                     4, p);
}

/* ---------------------------------------------------------------------- */
/* Invitations                                                             */

/* Replaces a member's links of one kind (an invitation, a password reset)
 * by one for hash_hex: del and ins are that kind's statements, with $1
 * tenant, $2 staff id, $3 hash, $4 life in seconds. */
static cm_err_t s_link_add(cm_db_t *db, const char *del, const char *ins, const char *tenant,
                           const char *staff_id, const char *hash_hex, long ttl_s)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%ld", ttl_s);
    const char *p[] = {tenant, staff_id, hash_hex, ttl};
    cm_err_t err = cm_db_run(db, del, 2, p);
    if (err)
        return err;
    return cm_db_run(db, ins, 4, p);
}

/* Marks a link used by sql ($1 tenant, $2 hash; RETURNING a row when it was
 * live); *used false when it was not. */
static cm_err_t s_link_use(cm_db_t *db, const char *sql, const char *tenant, const char *hash_hex,
                           bool *used)
{
    const char *p[] = {tenant, hash_hex};
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, 2, p, &err);
    if (!res)
        return err;
    *used = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

/* The link found by the SECURITY DEFINER function of select, $1 the hash. */
static PGresult *s_link_get(cm_db_t *db, const char *select, const char *hash_hex, cm_err_t *err)
{
    const char *p[] = {hash_hex};
    return cm_db_exec(db, select, 1, p, err);
}

#define LINK_COLS                                                                                  \
    "SELECT tenant_id, tenant_name, staff_id, email, name, "                                       \
    "used_at IS NULL AND expires_at > now(), status "
#define LINK_INSERT(table)                                                                         \
    "INSERT INTO " table " (token_hash, tenant_id, staff_id, expires_at) "                         \
    "VALUES (decode($3, 'hex'), $1, $2, now() + make_interval(secs => $4::int))"
#define LINK_USE(table)                                                                            \
    "UPDATE " table " SET used_at = now() "                                                        \
    "WHERE tenant_id = $1 AND token_hash = decode($2, 'hex') "                                     \
    "AND used_at IS NULL AND expires_at > now() RETURNING 1"

cm_err_t customers_staff_store_invite_add(cm_db_t *db, const char *tenant, const char *staff_id,
                                          const char *hash_hex, long ttl_s)
{
    return s_link_add(db,
                      "DELETE FROM customers.staff_invites WHERE tenant_id = $1 AND staff_id = $2",
                      LINK_INSERT("customers.staff_invites"), tenant, staff_id, hash_hex, ttl_s);
}

PGresult *customers_staff_store_invite(cm_db_t *db, const char *hash_hex, cm_err_t *err)
{
    return s_link_get(db, LINK_COLS "FROM customers.staff_invite(decode($1, 'hex'))", hash_hex,
                      err);
}

cm_err_t customers_staff_store_invite_use(cm_db_t *db, const char *tenant, const char *hash_hex,
                                          bool *used)
{
    return s_link_use(db, LINK_USE("customers.staff_invites"), tenant, hash_hex, used);
}

/* ---------------------------------------------------------------------- */
/* Password reset links                                                    */

cm_err_t customers_staff_store_reset_requests(cm_db_t *db, const char *email_key,
                                              const char *address, long window_s,
                                              struct customers_quota_counts *account,
                                              struct customers_quota_counts *from)
{
    cm_err_t err;
    PGresult *res = s_window_exec(
        db,
        "WITH r AS (SELECT email_key, address, at FROM customers.password_reset_requests "
        "WHERE at > now() - make_interval(secs => $3::int) AND (email_key = $1 OR address = $2)) "
        "SELECT count(*) FILTER (WHERE email_key = $1), "
        "(extract(epoch FROM now() - min(at) FILTER (WHERE email_key = $1)) * 1000)::bigint, "
        "count(*) FILTER (WHERE address = $2), "
        "(extract(epoch FROM now() - min(at) FILTER (WHERE address = $2)) * 1000)::bigint "
        "FROM r",
        email_key, address, window_s, &err);
    if (!res)
        return err;
    account->n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    account->oldest_age_ms = s_ms(res, 1);
    from->n = strtol(PQgetvalue(res, 0, 2), NULL, 10);
    from->oldest_age_ms = s_ms(res, 3);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_staff_store_reset_request_add(cm_db_t *db, const char *email_key,
                                                 const char *address, const char *tenant,
                                                 const char *language)
{
    const char *p[] = {email_key, address, tenant, language};
    return cm_db_run(db,
                     "INSERT INTO customers.password_reset_requests "
                     "(email_key, address, tenant, language) VALUES ($1, $2, $3, $4)",
                     4, p);
}

PGresult *customers_staff_store_reset_claim(cm_db_t *db, int limit, int max_attempts, cm_err_t *err)
{
    char l[16], m[16];
    snprintf(l, sizeof l, "%d", limit);
    snprintf(m, sizeof m, "%d", max_attempts);
    const char *p[] = {l, m};
    return cm_db_exec(db,
                      "WITH c AS (UPDATE customers.password_reset_requests r "
                      "SET handled = true, attempts = r.attempts + 1 "
                      "WHERE r.id IN (SELECT id FROM customers.password_reset_requests "
                      "WHERE NOT handled AND attempts < $2::int ORDER BY id LIMIT $1::int "
                      "FOR UPDATE SKIP LOCKED) "
                      "RETURNING r.id, r.email_key, r.address, r.tenant, r.language) "
                      "SELECT id, email_key, address, tenant, language FROM c ORDER BY id",
                      2, p, err);
}

cm_err_t customers_staff_store_reset_unclaim(cm_db_t *db, const char *id)
{
    const char *p[] = {id};
    return cm_db_run(
        db, "UPDATE customers.password_reset_requests SET handled = false WHERE id = $1", 1, p);
}

cm_err_t customers_staff_store_reset_add(cm_db_t *db, const char *tenant, const char *staff_id,
                                         const char *hash_hex, long ttl_s)
{
    return s_link_add(
        db, "DELETE FROM customers.staff_password_resets WHERE tenant_id = $1 AND staff_id = $2",
        LINK_INSERT("customers.staff_password_resets"), tenant, staff_id, hash_hex, ttl_s);
}

PGresult *customers_staff_store_reset(cm_db_t *db, const char *hash_hex, cm_err_t *err)
{
    return s_link_get(db, LINK_COLS "FROM customers.staff_password_reset(decode($1, 'hex'))",
                      hash_hex, err);
}

cm_err_t customers_staff_store_reset_use(cm_db_t *db, const char *tenant, const char *hash_hex,
                                         bool *used)
{
    return s_link_use(db, LINK_USE("customers.staff_password_resets"), tenant, hash_hex, used);
}

cm_err_t customers_staff_store_set_password(cm_db_t *db, const char *tenant, const char *id,
                                            const char *password_hash, bool *set)
{
    const char *p[] = {tenant, id, password_hash};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "UPDATE customers.staff SET password_hash = $3 "
                               "WHERE tenant_id = $1 AND id = $2 AND status = 2 RETURNING 1",
                               3, p, &err);
    if (!res)
        return err;
    *set = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Security events                                                         */

cm_err_t customers_staff_store_event(cm_db_t *db, const char *tenant, int kind,
                                     const char *actor_id, const char *actor_name,
                                     const char *subject, const char *address, const char *detail)
{
    char k[8];
    snprintf(k, sizeof k, "%d", kind);
    const char *p[] = {tenant,
                       k,
                       actor_id ? actor_id : "",
                       actor_name ? actor_name : "",
                       subject ? subject : "",
                       address ? address : "",
                       detail ? detail : ""};
    return cm_db_run(db,
                     "INSERT INTO customers.security_events (tenant_id, kind, actor_id, "
                     "actor_name, subject, address, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                     7, p);
}

static const char S_EVENTS_SQL[] =
    "SELECT id, " TS("at") ", kind, actor_id, actor_name, subject, address, detail "
                           "FROM customers.security_events WHERE tenant_id = $1 "
                           "AND ($2::bigint = 0 OR id < $2::bigint) ORDER BY id DESC LIMIT $3::int";

cm_err_t customers_staff_store_events(cm_db_t *db, const char *tenant, long long before_id,
                                      int limit, Crm__ListSecurityEventsResponse *out, bool *more)
{
    char b[24], l[16];
    snprintf(b, sizeof b, "%lld", before_id);
    snprintf(l, sizeof l, "%d", limit + 1);
    const char *p[] = {tenant, b, l};
    cm_err_t err;
    PGresult *res = cm_db_exec(db, S_EVENTS_SQL, 3, p, &err);
    if (!res)
        return err;
    int n = PQntuples(res);
    *more = n > limit;
    if (n > limit)
        n = limit;
    out->events = n ? cm_calloc((size_t)n, sizeof *out->events) : NULL;
    for (int i = 0; i < n; i++) {
        Crm__SecurityEvent *e = (Crm__SecurityEvent *)cm_pb_new(&crm__security_event__descriptor);
        cm_pb_set_str(&e->id, PQgetvalue(res, i, 0));
        cm_pb_set_str(&e->time, PQgetvalue(res, i, 1));
        e->kind = (Crm__SecurityEventKind)strtol(PQgetvalue(res, i, 2), NULL, 10);
        e->actor = (Crm__SecurityActor *)cm_pb_new(&crm__security_actor__descriptor);
        cm_pb_set_str(&e->actor->id, PQgetvalue(res, i, 3));
        cm_pb_set_str(&e->actor->name, PQgetvalue(res, i, 4));
        cm_pb_set_str(&e->subject, PQgetvalue(res, i, 5));
        cm_pb_set_str(&e->address, PQgetvalue(res, i, 6));
        cm_pb_set_str(&e->detail, PQgetvalue(res, i, 7));
        out->events[out->n_events++] = e;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_staff_store_expire(cm_db_t *db, long window_s, long reset_window_s)
{
    char w[24], rw[24];
    snprintf(w, sizeof w, "%ld", window_s);
    snprintf(rw, sizeof rw, "%ld", reset_window_s);
    const char *p[] = {w};
    const char *rp[] = {rw};
    cm_err_t err = cm_db_run(db, "SELECT customers.staff_expire()", 0, NULL);
    if (!err)
        err = cm_db_run(db,
                        "DELETE FROM customers.password_reset_requests "
                        "WHERE at < now() - make_interval(secs => $1::int)",
                        1, rp);
    if (err)
        return err;
    return cm_db_run(db,
                     "DELETE FROM customers.sign_in_failures "
                     "WHERE at < now() - make_interval(secs => $1::int)",
                     1, p);
}
