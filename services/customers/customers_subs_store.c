/* The SQL of subscriptions (customers_subs_store.h). */
#include "customers_subs_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A timestamptz column as RFC 3339 UTC with milliseconds, "" for NULL. */
#define UTC(col)                                                                                   \
    "coalesce(to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), '')"
#define DAY(col) "coalesce(to_char(" col ", 'YYYY-MM-DD'), '')"

static long s_long(const PGresult *res, int row, int col)
{
    return strtol(PQgetvalue(res, row, col), NULL, 10);
}

/* ---------------------------------------------------------------------- */
/* Plans                                                                   */

#define PLAN_COLUMNS                                                                               \
    "p.id, p.name, p.kind, p.period_unit, p.period_count, p.visits, p.price, p.currency, "         \
    "p.active, " UTC("p.created_at") ", " UTC("p.updated_at")

static Crm__Plan *s_plan_of(const PGresult *res, int row)
{
    Crm__Plan *p = (Crm__Plan *)cm_pb_new(&crm__plan__descriptor);
    cm_pb_set_str(&p->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&p->name, PQgetvalue(res, row, 1));
    p->kind = (Crm__PlanKind)s_long(res, row, 2);
    p->period_unit = (Crm__PeriodUnit)s_long(res, row, 3);
    p->period_count = (int32_t)s_long(res, row, 4);
    p->visits = (int32_t)s_long(res, row, 5);
    p->price = strtoll(PQgetvalue(res, row, 6), NULL, 10);
    cm_pb_set_str(&p->currency, PQgetvalue(res, row, 7));
    p->active = PQgetvalue(res, row, 8)[0] == 't';
    cm_pb_set_str(&p->created_at, PQgetvalue(res, row, 9));
    cm_pb_set_str(&p->updated_at, PQgetvalue(res, row, 10));
    return p;
}

cm_err_t customers_subs_store_plans(cm_db_t *db, const char *tenant, bool include_retired,
                                    Crm__ListPlansResponse *resp)
{
    const char *p[] = {tenant, include_retired ? "true" : "false"};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " PLAN_COLUMNS " FROM customers.sub_plans p "
                               "WHERE p.tenant_id = $1 AND (p.active OR $2::boolean) "
                               "ORDER BY lower(p.name), p.seq",
                               2, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->plans = rows ? cm_calloc((size_t)rows, sizeof *resp->plans) : NULL;
    for (int i = 0; i < rows; i++)
        resp->plans[resp->n_plans++] = s_plan_of(res, i);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_subs_store_plan(cm_db_t *db, const char *tenant, const char *id, Crm__Plan **out)
{
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " PLAN_COLUMNS " FROM customers.sub_plans p "
                               "WHERE p.tenant_id = $1 AND p.id = $2::uuid",
                               2, p, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_plan_of(res, 0) : NULL;
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_subs_store_plan_names(cm_db_t *db, const char *tenant, const char *name,
                                         const char *except_id, long *count, bool *taken)
{
    const char *p[] = {tenant, name, except_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT count(*), coalesce(bool_or(p.name = $2 AND "
                               "($3::uuid IS NULL OR p.id <> $3::uuid)), false) "
                               "FROM customers.sub_plans p WHERE p.tenant_id = $1",
                               3, p, &err);
    if (!res)
        return err;
    *count = s_long(res, 0, 0);
    *taken = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_subs_store_plan_put(cm_db_t *db, const char *tenant, const Crm__Plan *pl,
                                       bool insert, Crm__Plan **out)
{
    char kind[8], unit[8], count[16], visits[16], price[24];
    snprintf(kind, sizeof kind, "%d", (int)pl->kind);
    snprintf(unit, sizeof unit, "%d", (int)pl->period_unit);
    snprintf(count, sizeof count, "%d", (int)pl->period_count);
    snprintf(visits, sizeof visits, "%d", (int)pl->visits);
    snprintf(price, sizeof price, "%lld", (long long)pl->price);
    const char *p[] = {tenant, pl->id, pl->name, kind,         unit,
                       count,  visits, price,    pl->currency, pl->active ? "true" : "false"};
    cm_err_t err;
    PGresult *res =
        insert ? cm_db_exec(db,
                            "INSERT INTO customers.sub_plans AS p (tenant_id, id, name, kind, "
                            "period_unit, period_count, visits, price, currency, active) VALUES "
                            "($1, $2::uuid, $3, $4::smallint, $5::smallint, $6::int, $7::int, "
                            "$8::bigint, $9, $10::boolean) RETURNING " PLAN_COLUMNS,
                            10, p, &err)
               : cm_db_exec(db,
                            "UPDATE customers.sub_plans p SET name = $3, kind = $4::smallint, "
                            "period_unit = $5::smallint, period_count = $6::int, visits = $7::int, "
                            "price = $8::bigint, currency = $9, active = $10::boolean, "
                            "updated_at = now() WHERE p.tenant_id = $1 AND p.id = $2::uuid "
                            "RETURNING " PLAN_COLUMNS,
                            10, p, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_plan_of(res, 0) : NULL;
    PQclear(res);
    return *out ? CM_OK : CM_ERR_NOT_FOUND;
}

cm_err_t customers_subs_store_plan_delete(cm_db_t *db, const char *tenant, const char *id,
                                          bool *deleted, bool *sold)
{
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT EXISTS (SELECT 1 FROM customers.subscriptions s WHERE s.tenant_id = $1 "
                   "AND s.plan_id = $2::uuid)",
                   2, p, &err);
    if (!res)
        return err;
    *sold = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    *deleted = false;
    if (*sold)
        return CM_OK;
    res = cm_db_exec(db,
                     "DELETE FROM customers.sub_plans p WHERE p.tenant_id = $1 AND p.id = $2::uuid "
                     "RETURNING p.id",
                     2, p, &err);
    if (!res)
        return err;
    *deleted = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Subscriptions                                                           */

#define SUB_COLUMNS                                                                                \
    "s.id, s.customer_id, s.plan_id, s.plan_name, s.kind, " DAY("s.starts_on") ", " DAY(           \
        "s.ends_on") ", s.visits_total, s.visits_left, s.price, s.currency, "                      \
                     "s.paid_from_balance, s.note, " UTC("s.created_at") ", s.created_by, " UTC(   \
                         "s.updated_at") ", " UTC("s.cancelled_at") ", "                           \
                                                                    "coalesce(s.cancelled_by, "    \
                                                                    "''), "                        \
                                                                    "coalesce(s.cancel_reason, "   \
                                                                    "''), s.refunded, s.seq"

/* The facts the state and the pick look at, of a row of SUB_COLUMNS. */
static void s_facts_of(const PGresult *res, int row, struct customers_sub_facts *f)
{
    f->starts_on = 0;
    f->ends_on = -1;
    if (customers_subs_parse_date(PQgetvalue(res, row, 5), &f->starts_on))
        f->starts_on = 0;
    if (PQgetvalue(res, row, 6)[0] &&
        customers_subs_parse_date(PQgetvalue(res, row, 6), &f->ends_on))
        f->ends_on = -1;
    f->visits_total = (int)s_long(res, row, 7);
    f->visits_left = (int)s_long(res, row, 8);
    f->cancelled = PQgetvalue(res, row, 16)[0] != '\0';
    f->seq = s_long(res, row, 20);
}

static Crm__Subscription *s_sub_of(const PGresult *res, int row, int64_t today)
{
    Crm__Subscription *s = (Crm__Subscription *)cm_pb_new(&crm__subscription__descriptor);
    cm_pb_set_str(&s->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&s->customer_id, PQgetvalue(res, row, 1));
    cm_pb_set_str(&s->plan_id, PQgetvalue(res, row, 2));
    cm_pb_set_str(&s->plan_name, PQgetvalue(res, row, 3));
    s->kind = (Crm__PlanKind)s_long(res, row, 4);
    cm_pb_set_str(&s->starts_on, PQgetvalue(res, row, 5));
    cm_pb_set_str(&s->ends_on, PQgetvalue(res, row, 6));
    s->visits_total = (int32_t)s_long(res, row, 7);
    s->visits_left = (int32_t)s_long(res, row, 8);
    s->unlimited = s->visits_total == 0;
    s->price = strtoll(PQgetvalue(res, row, 9), NULL, 10);
    cm_pb_set_str(&s->currency, PQgetvalue(res, row, 10));
    s->paid_from_balance = PQgetvalue(res, row, 11)[0] == 't';
    cm_pb_set_str(&s->note, PQgetvalue(res, row, 12));
    cm_pb_set_str(&s->created_at, PQgetvalue(res, row, 13));
    cm_pb_set_str(&s->created_by, PQgetvalue(res, row, 14));
    cm_pb_set_str(&s->updated_at, PQgetvalue(res, row, 15));
    cm_pb_set_str(&s->cancelled_at, PQgetvalue(res, row, 16));
    cm_pb_set_str(&s->cancelled_by, PQgetvalue(res, row, 17));
    cm_pb_set_str(&s->cancel_reason, PQgetvalue(res, row, 18));
    s->refunded = strtoll(PQgetvalue(res, row, 19), NULL, 10);
    struct customers_sub_facts f;
    s_facts_of(res, row, &f);
    s->state = customers_subs_state(&f, today);
    return s;
}

cm_err_t customers_subs_store_list(cm_db_t *db, const char *tenant, const char *customer,
                                   int64_t today, bool *exists, long *count,
                                   Crm__ListSubscriptionsResponse *resp)
{
    const char *p[] = {tenant, customer};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "SELECT 1 FROM customers.customers c WHERE c.tenant_id = $1 AND c.id = $2::uuid", 2, p,
        &err);
    if (!res)
        return err;
    *exists = PQntuples(res) == 1;
    PQclear(res);
    *count = 0;
    if (!*exists)
        return CM_OK;
    res = cm_db_exec(db,
                     "SELECT " SUB_COLUMNS " FROM customers.subscriptions s "
                     "WHERE s.tenant_id = $1 AND s.customer_id = $2::uuid ORDER BY s.seq DESC",
                     2, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    *count = rows;
    if (resp) {
        resp->subscriptions = rows ? cm_calloc((size_t)rows, sizeof *resp->subscriptions) : NULL;
        for (int i = 0; i < rows; i++)
            resp->subscriptions[resp->n_subscriptions++] = s_sub_of(res, i, today);
    }
    PQclear(res);
    return CM_OK;
}

static cm_err_t s_changes(cm_db_t *db, const char *tenant, Crm__Subscription *s)
{
    const char *p[] = {tenant, s->id};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT c.field, c.old_value, c.new_value, " UTC(
                       "c.changed_at") ", c.changed_by FROM customers.subscription_changes c "
                                       "WHERE c.tenant_id = $1 AND c.subscription_id = $2::uuid "
                                       "ORDER BY c.id",
                   2, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    s->changes = rows ? cm_calloc((size_t)rows, sizeof *s->changes) : NULL;
    for (int i = 0; i < rows; i++) {
        Crm__SubscriptionChange *c =
            (Crm__SubscriptionChange *)cm_pb_new(&crm__subscription_change__descriptor);
        cm_pb_set_str(&c->field, PQgetvalue(res, i, 0));
        cm_pb_set_str(&c->old_value, PQgetvalue(res, i, 1));
        cm_pb_set_str(&c->new_value, PQgetvalue(res, i, 2));
        cm_pb_set_str(&c->changed_at, PQgetvalue(res, i, 3));
        cm_pb_set_str(&c->changed_by, PQgetvalue(res, i, 4));
        s->changes[s->n_changes++] = c;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_subs_store_get(cm_db_t *db, const char *tenant, const char *customer,
                                  const char *id, int64_t today, bool lock, bool changes,
                                  Crm__Subscription **out)
{
    const char *p[] = {tenant, customer, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               lock ? "SELECT " SUB_COLUMNS " FROM customers.subscriptions s "
                                      "WHERE s.tenant_id = $1 AND s.customer_id = $2::uuid "
                                      "AND s.id = $3::uuid FOR UPDATE"
                                    : "SELECT " SUB_COLUMNS " FROM customers.subscriptions s "
                                      "WHERE s.tenant_id = $1 AND s.customer_id = $2::uuid "
                                      "AND s.id = $3::uuid",
                               3, p, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_sub_of(res, 0, today) : NULL;
    PQclear(res);
    err = *out && changes ? s_changes(db, tenant, *out) : CM_OK;
    if (err) {
        crm__subscription__free_unpacked(*out, NULL);
        *out = NULL;
    }
    return err;
}

cm_err_t customers_subs_store_insert(cm_db_t *db, const char *tenant, const Crm__Subscription *s,
                                     bool *created)
{
    char kind[8], total[16], left[16], price[24];
    snprintf(kind, sizeof kind, "%d", (int)s->kind);
    snprintf(total, sizeof total, "%d", (int)s->visits_total);
    snprintf(left, sizeof left, "%d", (int)s->visits_left);
    snprintf(price, sizeof price, "%lld", (long long)s->price);
    const char *p[] = {tenant,
                       s->id,
                       s->customer_id,
                       s->plan_id,
                       s->plan_name,
                       kind,
                       s->starts_on,
                       s->ends_on,
                       total,
                       left,
                       price,
                       s->currency,
                       s->paid_from_balance ? "true" : "false",
                       s->note,
                       s->created_by};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "INSERT INTO customers.subscriptions (tenant_id, id, customer_id, plan_id, plan_name, "
        "kind, starts_on, ends_on, visits_total, visits_left, price, currency, "
        "paid_from_balance, note, created_by) SELECT $1, $2::uuid, c.id, $4::uuid, $5, "
        "$6::smallint, $7::date, nullif($8, '')::date, $9::int, $10::int, $11::bigint, $12, "
        "$13::boolean, $14, $15 FROM customers.customers c "
        "WHERE c.tenant_id = $1 AND c.id = $3::uuid RETURNING id",
        15, p, &err);
    if (!res)
        return err;
    *created = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_subs_store_update(cm_db_t *db, const char *tenant, const Crm__Subscription *s,
                                     Crm__SubscriptionChange **changes, size_t n_changes,
                                     const char *by)
{
    char left[16];
    snprintf(left, sizeof left, "%d", (int)s->visits_left);
    const char *p[] = {tenant, s->id, s->ends_on, left, s->note};
    cm_err_t err = cm_db_run(db,
                             "UPDATE customers.subscriptions s SET ends_on = nullif($3, '')::date, "
                             "visits_left = $4::int, note = $5, updated_at = now() "
                             "WHERE s.tenant_id = $1 AND s.id = $2::uuid",
                             5, p);
    for (size_t i = 0; !err && i < n_changes; i++) {
        const char *q[] = {
            tenant, s->id, changes[i]->field, changes[i]->old_value, changes[i]->new_value, by};
        err = cm_db_run(db,
                        "INSERT INTO customers.subscription_changes (tenant_id, subscription_id, "
                        "field, old_value, new_value, changed_by) VALUES ($1, $2::uuid, $3, $4, "
                        "$5, $6)",
                        6, q);
    }
    return err;
}

cm_err_t customers_subs_store_cancel(cm_db_t *db, const char *tenant, const char *id,
                                     const char *by, const char *reason, int64_t refund)
{
    char amount[24];
    snprintf(amount, sizeof amount, "%lld", (long long)refund);
    const char *p[] = {tenant, id, by, reason, amount};
    return cm_db_run(
        db,
        "UPDATE customers.subscriptions s SET cancelled_at = now(), cancelled_by = $3, "
        "cancel_reason = $4, refunded = $5::bigint, updated_at = now() "
        "WHERE s.tenant_id = $1 AND s.id = $2::uuid AND s.cancelled_at IS NULL",
        5, p);
}

cm_err_t customers_subs_store_candidates(cm_db_t *db, const char *tenant, const char *customer,
                                         size_t max, char (*ids)[37],
                                         struct customers_sub_facts *facts, size_t *n)
{
    char lim[24];
    snprintf(lim, sizeof lim, "%zu", max);
    const char *p[] = {tenant, customer, lim};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " SUB_COLUMNS " FROM customers.subscriptions s "
                               "WHERE s.tenant_id = $1 AND s.customer_id = $2::uuid "
                               "AND s.cancelled_at IS NULL ORDER BY s.seq LIMIT $3::int "
                               "FOR UPDATE",
                               3, p, &err);
    if (!res)
        return err;
    *n = (size_t)PQntuples(res);
    for (size_t i = 0; i < *n; i++) {
        snprintf(ids[i], 37, "%s", PQgetvalue(res, (int)i, 0));
        s_facts_of(res, (int)i, &facts[i]);
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_subs_store_visit(cm_db_t *db, const char *tenant, const char *reference,
                                    bool *found, char *customer, char *subscription, bool *undone)
{
    const char *p[] = {tenant, reference};
    /* Two calls with one reference at once: the second waits, then sees the first. */
    cm_err_t err = cm_db_run(db,
                             "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/visit/' || "
                             "$2, 0))",
                             2, p);
    if (err)
        return err;
    PGresult *res = cm_db_exec(db,
                               "SELECT v.customer_id, v.subscription_id, v.undone_at IS NOT NULL "
                               "FROM customers.subscription_visits v "
                               "WHERE v.tenant_id = $1 AND v.reference = $2",
                               2, p, &err);
    if (!res)
        return err;
    *found = PQntuples(res) == 1;
    if (*found) {
        snprintf(customer, 37, "%s", PQgetvalue(res, 0, 0));
        snprintf(subscription, 37, "%s", PQgetvalue(res, 0, 1));
        *undone = PQgetvalue(res, 0, 2)[0] == 't';
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_subs_store_visit_use(cm_db_t *db, const char *tenant, const char *customer,
                                        const char *subscription, const char *reference,
                                        const char *by)
{
    const char *p[] = {tenant, customer, subscription, reference, by};
    cm_err_t err = cm_db_run(db,
                             "INSERT INTO customers.subscription_visits (tenant_id, customer_id, "
                             "subscription_id, reference, used_by) VALUES ($1, $2::uuid, "
                             "$3::uuid, $4, $5)",
                             5, p);
    if (err)
        return err;
    const char *q[] = {tenant, subscription};
    return cm_db_run(db,
                     "UPDATE customers.subscriptions s SET visits_left = s.visits_left - 1, "
                     "updated_at = now() WHERE s.tenant_id = $1 AND s.id = $2::uuid "
                     "AND s.visits_total > 0",
                     2, q);
}

cm_err_t customers_subs_store_visit_undo(cm_db_t *db, const char *tenant, const char *subscription,
                                         const char *reference, const char *by)
{
    const char *p[] = {tenant, reference, by};
    cm_err_t err = cm_db_run(db,
                             "UPDATE customers.subscription_visits v SET undone_at = now(), "
                             "undone_by = $3 WHERE v.tenant_id = $1 AND v.reference = $2",
                             3, p);
    if (err)
        return err;
    const char *q[] = {tenant, subscription};
    /* Never above the total: an edit may have set the visits left since. */
    return cm_db_run(db,
                     "UPDATE customers.subscriptions s SET visits_left = "
                     "least(s.visits_left + 1, s.visits_total), updated_at = now() "
                     "WHERE s.tenant_id = $1 AND s.id = $2::uuid AND s.visits_total > 0",
                     2, q);
}
