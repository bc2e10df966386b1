/* The SQL of the wallet (customers_wallet_store.h). */
#include "customers_wallet_store.h"
#include "cm_buf.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A timestamptz column as RFC 3339 UTC with milliseconds, "" for NULL. */
#define UTC(col)                                                                                   \
    "coalesce(to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), '')"

/* ---------------------------------------------------------------------- */
/* Settings                                                                */

cm_err_t customers_wallet_store_cfg(cm_db_t *db, const char *tenant,
                                    struct customers_wallet_cfg *out)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT coalesce(t.currency, ''), t.default_country, coalesce(w.loyalty_enabled, false), "
        "coalesce(w.points_per_unit, 1), coalesce(w.unit_minor, 100) "
        "FROM customers.tenants t LEFT JOIN customers.wallet_settings w ON w.tenant_id = t.id "
        "WHERE t.id = $1",
        1, p, &err);
    if (!res)
        return err;
    memset(out, 0, sizeof *out);
    out->points_per_unit = 1;
    out->unit_minor = 100;
    if (PQntuples(res) == 1) {
        snprintf(out->currency, sizeof out->currency, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->country, sizeof out->country, "%s", PQgetvalue(res, 0, 1));
        out->loyalty = PQgetvalue(res, 0, 2)[0] == 't';
        out->points_per_unit = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        out->unit_minor = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    }
    PQclear(res);
    out->pinned = out->currency[0] != '\0';
    return CM_OK;
}

cm_err_t customers_wallet_store_cfg_put(cm_db_t *db, const char *tenant, const char *currency,
                                        const struct customers_wallet_cfg *cfg)
{
    char ppu[24], unit[24];
    snprintf(ppu, sizeof ppu, "%lld", (long long)cfg->points_per_unit);
    snprintf(unit, sizeof unit, "%lld", (long long)cfg->unit_minor);
    const char *p[] = {tenant, cfg->loyalty ? "true" : "false", ppu, unit};
    cm_err_t err = cm_db_run(db,
                             "INSERT INTO customers.wallet_settings (tenant_id, loyalty_enabled, "
                             "points_per_unit, unit_minor) VALUES ($1, $2::boolean, $3::int, "
                             "$4::bigint) ON CONFLICT (tenant_id) DO UPDATE SET "
                             "loyalty_enabled = EXCLUDED.loyalty_enabled, "
                             "points_per_unit = EXCLUDED.points_per_unit, "
                             "unit_minor = EXCLUDED.unit_minor",
                             4, p);
    if (err || !currency)
        return err;
    const char *q[] = {tenant, currency};
    return cm_db_run(db, "UPDATE customers.tenants SET currency = $2 WHERE id = $1", 2, q);
}

cm_err_t customers_wallet_store_pin(cm_db_t *db, const char *tenant, const char *currency,
                                    bool *pinned)
{
    const char *p[] = {tenant, currency};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "UPDATE customers.tenants SET currency = $2 WHERE id = $1 AND "
                               "coalesce(currency, '') = '' RETURNING 1",
                               2, p, &err);
    if (!res)
        return err;
    *pinned = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_wallet_store_has_money(cm_db_t *db, const char *tenant, bool *any)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT EXISTS (SELECT 1 FROM customers.wallet_entries WHERE tenant_id = $1 AND kind = 1) "
        "OR EXISTS (SELECT 1 FROM customers.vouchers WHERE tenant_id = $1)",
        1, p, &err);
    if (!res)
        return err;
    *any = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_wallet_store_many(cm_db_t *db, const char *tenant, char *const *ids, size_t n,
                                     Crm__ListWalletsResponse *resp)
{
    /* The ids as a PostgreSQL array literal: UUIDs (checked by the caller) need no quoting. */
    cm_buf_t arr;
    cm_buf_init(&arr, 0);
    if (cm_buf_append(&arr, "{", 1))
        abort();
    for (size_t i = 0; i < n; i++)
        if ((i && cm_buf_append(&arr, ",", 1)) || cm_buf_append(&arr, ids[i], strlen(ids[i])))
            abort();
    if (cm_buf_append(&arr, "}", 1))
        abort();
    const char *p[] = {tenant, arr.data};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT c.id, coalesce(m.balance, 0), coalesce(pt.balance, 0) "
        "FROM unnest($2::uuid[]) WITH ORDINALITY AS a(id, n) "
        "JOIN customers.customers c ON c.tenant_id = $1 AND c.id = a.id "
        "LEFT JOIN customers.wallet_balances m ON m.tenant_id = $1 AND m.customer_id = c.id "
        "AND m.kind = 1 "
        "LEFT JOIN customers.wallet_balances pt ON pt.tenant_id = $1 AND pt.customer_id = c.id "
        "AND pt.kind = 2 ORDER BY a.n",
        2, p, &err);
    cm_buf_release(&arr);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->wallets = rows ? cm_calloc((size_t)rows, sizeof *resp->wallets) : NULL;
    for (int i = 0; i < rows; i++) {
        Crm__WalletBalance *w = (Crm__WalletBalance *)cm_pb_new(&crm__wallet_balance__descriptor);
        cm_pb_set_str(&w->customer_id, PQgetvalue(res, i, 0));
        w->money = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        w->points = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        resp->wallets[resp->n_wallets++] = w;
    }
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* The ledger                                                              */

#define ENTRY_COLUMNS                                                                              \
    "e.id, e.customer_id, e.kind, e.amount, e.currency, e.balance_after, e.reason, e.source, "     \
    "e.reference, " UTC("e.created_at") ", e.created_by, coalesce(e.voucher_id::text, ''), e.seq"

static Crm__WalletEntry *s_entry_of(const PGresult *res, int row)
{
    Crm__WalletEntry *e = (Crm__WalletEntry *)cm_pb_new(&crm__wallet_entry__descriptor);
    cm_pb_set_str(&e->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&e->customer_id, PQgetvalue(res, row, 1));
    e->kind = (Crm__WalletKind)strtol(PQgetvalue(res, row, 2), NULL, 10);
    e->amount = strtoll(PQgetvalue(res, row, 3), NULL, 10);
    cm_pb_set_str(&e->currency, PQgetvalue(res, row, 4));
    e->balance_after = strtoll(PQgetvalue(res, row, 5), NULL, 10);
    cm_pb_set_str(&e->reason, PQgetvalue(res, row, 6));
    e->source = (Crm__WalletSource)strtol(PQgetvalue(res, row, 7), NULL, 10);
    cm_pb_set_str(&e->reference, PQgetvalue(res, row, 8));
    cm_pb_set_str(&e->created_at, PQgetvalue(res, row, 9));
    cm_pb_set_str(&e->created_by, PQgetvalue(res, row, 10));
    cm_pb_set_str(&e->voucher_id, PQgetvalue(res, row, 11));
    return e;
}

static cm_err_t s_entry(cm_db_t *db, const char *tenant, const char *id, Crm__WalletEntry **out)
{
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " ENTRY_COLUMNS " FROM customers.wallet_entries e "
                               "WHERE e.tenant_id = $1 AND e.id = $2::uuid",
                               2, p, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_entry_of(res, 0) : NULL;
    PQclear(res);
    return *out ? CM_OK : CM_ERR_INTERNAL;
}

cm_err_t customers_wallet_store_post(cm_db_t *db, const char *tenant,
                                     const struct customers_wallet_post *p,
                                     enum customers_wallet_outcome *outcome,
                                     Crm__WalletEntry **entry, int64_t *balance)
{
    char kind[8], amount[24], source[8], id[40];
    snprintf(kind, sizeof kind, "%d", (int)p->kind);
    snprintf(amount, sizeof amount, "%lld", (long long)p->amount);
    snprintf(source, sizeof source, "%d", (int)p->source);
    cm_uuid(id);
    const char *params[] = {tenant, p->customer_id, kind,          amount, p->currency, p->reason,
                            source, p->reference,   p->voucher_id, p->by,  id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT outcome, coalesce(entry_id::text, ''), balance FROM "
                               "customers.wallet_post($1, $2, $3::smallint, $4::bigint, $5, $6, "
                               "$7::smallint, $8, $9::uuid, $10, $11::uuid)",
                               11, params, &err);
    if (!res)
        return err;
    static const struct {
        const char *name;
        enum customers_wallet_outcome o;
    } outcomes[] = {{"created", CUSTOMERS_WALLET_CREATED},
                    {"replayed", CUSTOMERS_WALLET_REPLAYED},
                    {"reference_used", CUSTOMERS_WALLET_REFERENCE_USED},
                    {"no_customer", CUSTOMERS_WALLET_NO_CUSTOMER},
                    {"insufficient", CUSTOMERS_WALLET_INSUFFICIENT}};
    const char *name = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
    err = CM_ERR_INTERNAL;
    for (size_t i = 0; i < sizeof outcomes / sizeof *outcomes; i++)
        if (!strcmp(outcomes[i].name, name)) {
            *outcome = outcomes[i].o;
            err = CM_OK;
        }
    char entry_id[40] = "";
    if (!err) {
        snprintf(entry_id, sizeof entry_id, "%s", PQgetvalue(res, 0, 1));
        *balance = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    }
    PQclear(res);
    *entry = NULL;
    if (!err && entry_id[0])
        err = s_entry(db, tenant, entry_id, entry);
    return err;
}

cm_err_t customers_wallet_store_balances(cm_db_t *db, const char *tenant, const char *customer,
                                         bool *exists, int64_t *money, int64_t *points)
{
    const char *p[] = {tenant, customer};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT coalesce((SELECT balance FROM customers.wallet_balances b WHERE b.tenant_id = $1 "
        "AND b.customer_id = c.id AND b.kind = 1), 0), coalesce((SELECT balance FROM "
        "customers.wallet_balances b WHERE b.tenant_id = $1 AND b.customer_id = c.id AND "
        "b.kind = 2), 0) FROM customers.customers c WHERE c.tenant_id = $1 AND c.id = $2::uuid",
        2, p, &err);
    if (!res)
        return err;
    *exists = PQntuples(res) == 1;
    *money = *exists ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    *points = *exists ? strtoll(PQgetvalue(res, 0, 1), NULL, 10) : 0;
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_wallet_store_entries(cm_db_t *db, const char *tenant, const char *customer,
                                        Crm__WalletKind kind, long before_seq, int limit,
                                        Crm__ListWalletEntriesResponse *resp, long *next_seq)
{
    char k[8], before[24], lim[16];
    snprintf(k, sizeof k, "%d", (int)kind);
    snprintf(before, sizeof before, "%ld", before_seq);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {tenant, customer, k, before, lim};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT " ENTRY_COLUMNS " FROM customers.wallet_entries e "
                   "WHERE e.tenant_id = $1 AND e.customer_id = $2::uuid "
                   "AND ($3::smallint = 0 OR e.kind = $3::smallint) "
                   "AND ($4::bigint = 0 OR e.seq < $4::bigint) ORDER BY e.seq DESC LIMIT $5::int",
                   5, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    int shown = rows > limit ? limit : rows;
    resp->entries = shown ? cm_calloc((size_t)shown, sizeof *resp->entries) : NULL;
    for (int i = 0; i < shown; i++)
        resp->entries[resp->n_entries++] = s_entry_of(res, i);
    *next_seq = rows > limit ? strtol(PQgetvalue(res, shown - 1, 12), NULL, 10) : 0;
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Vouchers                                                                */

/* A voucher's state (VoucherState), from its row. */
#define VOUCHER_STATE                                                                              \
    "CASE WHEN v.cancelled_at IS NOT NULL THEN 4 WHEN v.redeemed_at IS NOT NULL THEN 2 "           \
    "WHEN v.expires_at <= now() THEN 3 ELSE 1 END"

#define VOUCHER_COLUMNS                                                                            \
    "v.id, v.amount, v.currency, " UTC(                                                            \
        "v.expires_at") ", v.note, v.code_hint, " VOUCHER_STATE                                    \
                        ", " UTC("v.issued_at") ", v.issued_by, " UTC(                             \
                            "v.redeemed_at") ", "                                                  \
                                             "coalesce(v.redeemed_by, ''), "                       \
                                             "coalesce(v.customer_id::text, ''), "                 \
                                             "v.seq, " UTC(                                        \
                                                 "v.cancelled_at") ", "                            \
                                                                   "coalesce(v.cancelled_by, "     \
                                                                   "''), "                         \
                                                                   "coalesce(v.cancel_reason, '')"

static Crm__Voucher *s_voucher_of(const PGresult *res, int row)
{
    Crm__Voucher *v = (Crm__Voucher *)cm_pb_new(&crm__voucher__descriptor);
    cm_pb_set_str(&v->id, PQgetvalue(res, row, 0));
    v->amount = strtoll(PQgetvalue(res, row, 1), NULL, 10);
    cm_pb_set_str(&v->currency, PQgetvalue(res, row, 2));
    cm_pb_set_str(&v->expires_at, PQgetvalue(res, row, 3));
    cm_pb_set_str(&v->note, PQgetvalue(res, row, 4));
    cm_pb_set_str(&v->code_hint, PQgetvalue(res, row, 5));
    v->state = (Crm__VoucherState)strtol(PQgetvalue(res, row, 6), NULL, 10);
    cm_pb_set_str(&v->issued_at, PQgetvalue(res, row, 7));
    cm_pb_set_str(&v->issued_by, PQgetvalue(res, row, 8));
    cm_pb_set_str(&v->redeemed_at, PQgetvalue(res, row, 9));
    cm_pb_set_str(&v->redeemed_by, PQgetvalue(res, row, 10));
    cm_pb_set_str(&v->customer_id, PQgetvalue(res, row, 11));
    cm_pb_set_str(&v->cancelled_at, PQgetvalue(res, row, 13));
    cm_pb_set_str(&v->cancelled_by, PQgetvalue(res, row, 14));
    cm_pb_set_str(&v->cancel_reason, PQgetvalue(res, row, 15));
    return v;
}

cm_err_t customers_wallet_store_voucher_add(cm_db_t *db, const char *tenant, const uint8_t *hash,
                                            const char *hint, int64_t amount, const char *currency,
                                            const char *expires_on, const char *note,
                                            const char *by, Crm__Voucher **out)
{
    char id[40], amt[24];
    cm_uuid(id);
    snprintf(amt, sizeof amt, "%lld", (long long)amount);
    const char *p[] = {id, tenant, (const char *)hash, hint, amt, currency, expires_on, note, by};
    int lens[] = {0, 0, CUSTOMERS_WALLET_HASH_SIZE, 0, 0, 0, 0, 0, 0};
    int fmts[] = {0, 0, 1, 0, 0, 0, 0, 0, 0};
    cm_err_t err;
    /* Valid through the day it names: it expires at the next midnight in the
     * business's time zone. */
    PGresult *res = cm_db_exec_bin(
        db,
        "INSERT INTO customers.vouchers AS v (id, tenant_id, code_hash, code_hint, amount, "
        "currency, expires_at, note, issued_by) VALUES ($1::uuid, $2, $3, $4, $5::bigint, $6, "
        "CASE WHEN $7 = '' THEN NULL ELSE ($7::date + 1)::timestamp AT TIME ZONE (SELECT "
        "time_zone FROM customers.tenants WHERE id = $2) END, $8, "
        "$9) RETURNING " VOUCHER_COLUMNS,
        9, p, lens, fmts, 0, &err);
    if (!res)
        return err;
    *out = s_voucher_of(res, 0);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_wallet_store_voucher_find(cm_db_t *db, const char *tenant, const uint8_t *hash,
                                             Crm__Voucher **out)
{
    const char *p[] = {tenant, (const char *)hash};
    int lens[] = {0, CUSTOMERS_WALLET_HASH_SIZE};
    int fmts[] = {0, 1};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(db,
                                   "SELECT " VOUCHER_COLUMNS " FROM customers.vouchers v "
                                   "WHERE v.tenant_id = $1 AND v.code_hash = $2",
                                   2, p, lens, fmts, 0, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_voucher_of(res, 0) : NULL;
    PQclear(res);
    return CM_OK;
}

/* A voucher's change (sql: an UPDATE of voucher $2 of tenant $1 ... RETURNING
 * VOUCHER_COLUMNS, with n parameters p): *changed whether it took; *out the
 * voucher after, with either outcome (read again when it did not).
 * CM_ERR_NOT_FOUND when the tenant has no such voucher. */
static cm_err_t s_voucher_change(cm_db_t *db, const char *sql, int n, const char *const *p,
                                 bool *changed, Crm__Voucher **out)
{
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, n, p, &err);
    if (!res)
        return err;
    *changed = PQntuples(res) == 1;
    *out = *changed ? s_voucher_of(res, 0) : NULL;
    PQclear(res);
    if (*changed)
        return CM_OK;
    res = cm_db_exec(db,
                     "SELECT " VOUCHER_COLUMNS " FROM customers.vouchers v "
                     "WHERE v.tenant_id = $1 AND v.id = $2::uuid",
                     2, p, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_voucher_of(res, 0) : NULL;
    PQclear(res);
    return *out ? CM_OK : CM_ERR_NOT_FOUND;
}

cm_err_t customers_wallet_store_voucher_redeem(cm_db_t *db, const char *tenant, const char *id,
                                               const char *customer, const char *by, bool *redeemed,
                                               Crm__Voucher **out)
{
    const char *p[] = {tenant, id, customer, by};
    return s_voucher_change(db,
                            "UPDATE customers.vouchers v SET redeemed_at = now(), "
                            "redeemed_by = $4, customer_id = $3::uuid "
                            "WHERE v.tenant_id = $1 AND v.id = $2::uuid "
                            "AND v.redeemed_at IS NULL AND v.cancelled_at IS NULL "
                            "AND (v.expires_at IS NULL OR v.expires_at > now()) "
                            "RETURNING " VOUCHER_COLUMNS,
                            4, p, redeemed, out);
}

cm_err_t customers_wallet_store_voucher_cancel(cm_db_t *db, const char *tenant, const char *id,
                                               const char *by, const char *reason, bool *cancelled,
                                               Crm__Voucher **out)
{
    const char *p[] = {tenant, id, by, reason};
    return s_voucher_change(db,
                            "UPDATE customers.vouchers v SET cancelled_at = now(), "
                            "cancelled_by = $3, cancel_reason = $4 "
                            "WHERE v.tenant_id = $1 AND v.id = $2::uuid "
                            "AND v.redeemed_at IS NULL AND v.cancelled_at IS NULL "
                            "RETURNING " VOUCHER_COLUMNS,
                            4, p, cancelled, out);
}

cm_err_t customers_wallet_store_vouchers(cm_db_t *db, const char *tenant, Crm__VoucherState state,
                                         long before_seq, int limit,
                                         Crm__ListVouchersResponse *resp, long *next_seq)
{
    char st[8], before[24], lim[16];
    snprintf(st, sizeof st, "%d", (int)state);
    snprintf(before, sizeof before, "%ld", before_seq);
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {tenant, st, before, lim};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT " VOUCHER_COLUMNS " FROM customers.vouchers v WHERE v.tenant_id = $1 "
                   "AND ($2::int = 0 OR $2::int = " VOUCHER_STATE ") "
                   "AND ($3::bigint = 0 OR v.seq < $3::bigint) ORDER BY v.seq DESC LIMIT $4::int",
                   4, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    int shown = rows > limit ? limit : rows;
    resp->vouchers = shown ? cm_calloc((size_t)shown, sizeof *resp->vouchers) : NULL;
    for (int i = 0; i < shown; i++)
        resp->vouchers[resp->n_vouchers++] = s_voucher_of(res, i);
    *next_seq = rows > limit ? strtol(PQgetvalue(res, shown - 1, 12), NULL, 10) : 0;
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Wrong codes                                                             */

cm_err_t customers_wallet_store_failures(cm_db_t *db, const char *tenant, const char *caller,
                                         long window_s, long *n, int64_t *oldest_age_ms)
{
    char win[24];
    snprintf(win, sizeof win, "%ld", window_s);
    const char *p[] = {tenant, caller, win};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT count(*), coalesce((extract(epoch FROM now() - min(at)) "
                               "* 1000)::bigint, 0) FROM customers.voucher_failures "
                               "WHERE tenant_id = $1 AND caller = $2 "
                               "AND at > now() - make_interval(secs => $3::int)",
                               3, p, &err);
    if (!res)
        return err;
    *n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    *oldest_age_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_wallet_store_failure_add(cm_db_t *db, const char *tenant, const char *caller,
                                            long window_s)
{
    char win[24];
    snprintf(win, sizeof win, "%ld", window_s);
    const char *p[] = {tenant, caller, win};
    return cm_db_run(db,
                     "WITH gone AS (DELETE FROM customers.voucher_failures WHERE tenant_id = $1 "
                     "AND caller = $2 AND at <= now() - make_interval(secs => $3::int)) "
                     "INSERT INTO customers.voucher_failures (tenant_id, caller) VALUES ($1, $2)",
                     3, p);
}
