/* Every SQL statement of visits, presets and staff actions on purchases
 * (notes_visits_store.h). Rows are built as proto3 JSON by PostgreSQL and
 * decoded here, so a column and its JSON name sit side by side. */
#include "notes_visits_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define US_OF(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
/* A page token: the last row's sort key as a JSON array, in hex. */
#define KEY_OF(...) "encode(convert_to(json_build_array(" __VA_ARGS__ ")::text, 'UTF8'), 'hex')"
#define TOKEN_KEY                                                                                  \
    "(CASE WHEN $3 = '' THEN NULL ELSE convert_from(decode($3, 'hex'), 'UTF8')::jsonb END)"
#define TOKEN_MAX 2048

/* Decodes a row's JSON into a new message of desc, or an empty one when it
 * does not decode (logged: the rows are ours). */
static ProtobufCMessage *s_decode(const ProtobufCMessageDescriptor *desc, const char *text)
{
    struct cm_pbjson_error perr = {0};
    ProtobufCMessage *m = cm_pbjson_decode_text(desc, text, strlen(text), NULL, &perr);
    if (!m) {
        cm_log_error("stored %s does not decode: %s: %s", desc->short_name, perr.field,
                     perr.description);
        m = cm_pb_new(desc);
    }
    return m;
}

/* A page: $1 tenant, $2 customer, $3 token, $4 limit + 1; each row (json,
 * key). Fills *items (n_items) and next. */
static cm_err_t s_page(cm_db_t *db, const char *sql, const char *tenant, const char *customer_id,
                       int limit, const char *token, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage ***items, size_t *n_items, char **next)
{
    if (strlen(token) > TOKEN_MAX || strspn(token, "0123456789abcdef") != strlen(token))
        return CM_ERR_INVALID;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {tenant, customer_id, token, lim};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db, sql, 4, p, &err);
    if (!res)
        return err;
    int n = PQntuples(res);
    int take = n > limit ? limit : n;
    *items = cm_calloc(take ? (size_t)take : 1, sizeof **items);
    for (int i = 0; i < take; i++)
        (*items)[i] = s_decode(desc, PQgetvalue(res, i, 0));
    *n_items = (size_t)take;
    if (n > limit)
        cm_pb_set_str(next, PQgetvalue(res, take - 1, 1));
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Visits                                                                  */

#define HAS_PARAMETERS(b)                                                                          \
    "EXISTS (SELECT 1 FROM notes.visit_parameters p WHERE p.tenant_id = " b ".tenant_id "          \
    "AND p.source = " b ".source AND p.booking_id = " b ".booking_id "                             \
    "AND (p.parameters <> '[]' OR p.remark <> ''))"

cm_err_t notes_visits_store_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                 int limit, const char *token, Crm__ListVisitsResponse *r)
{
    static const char sql[] =
        "SELECT json_build_object('id', b.booking_id, 'source', b.source, 'status', b.status, "
        "'service', b.service, 'staff', b.staff, 'startsAt', " TS(
            "b.starts_at") ", "
                           "'endsAt', coalesce(" TS("b.ends_at") ", ''), "
                                                                 "'hasParameters', " HAS_PARAMETERS("b") ")::text, " KEY_OF(US_OF(
                                                                     "b.starts_at") ", "
                                                                                    "b.source, "
                                                                                    "b.booking_"
                                                                                    "id") " "
                                                                                          "FROM"
                                                                                          " not"
                                                                                          "es."
                                                                                          "book"
                                                                                          "ings"
                                                                                          " b "
                                                                                          "WHER"
                                                                                          "E "
                                                                                          "b."
                                                                                          "tena"
                                                                                          "nt_"
                                                                                          "id "
                                                                                          "= "
                                                                                          "$1 "
                                                                                          "AND "
                                                                                          "b."
                                                                                          "cust"
                                                                                          "omer"
                                                                                          "_id "
                                                                                          "= "
                                                                                          "$2::"
                                                                                          "uuid"
                                                                                          " "
                                                                                          "AND "
                                                                                          "(" TOKEN_KEY
                                                                                          " IS "
                                                                                          "NULL"
                                                                                          " OR "
                                                                                          "(" US_OF(
                                                                                              "b."
                                                                                              "star"
                                                                                              "ts_"
                                                                                              "at") ", b.source, b.booking_id) < "
                                                                                                    "((" TOKEN_KEY
                                                                                                    " ->> 0)::bigint, " TOKEN_KEY
                                                                                                    " ->> 1, " TOKEN_KEY
                                                                                                    " ->> 2)) "
                                                                                                    "ORDER BY b.starts_at DESC, b.source DESC, b.booking_id DESC LIMIT $4::int";
    return s_page(db, sql, tenant, customer_id, limit, token, &crm__visit__descriptor,
                  (ProtobufCMessage ***)&r->visits, &r->n_visits, &r->next_page_token);
}

void notes_visit_release(struct notes_visit *v)
{
    if (v->params)
        crm__visit_parameters__free_unpacked(v->params, NULL);
    free(v->service);
    free(v->starts_at);
    *v = (struct notes_visit){0};
}

cm_err_t notes_visits_store_get(cm_db_t *db, const char *tenant, const char *customer_id,
                                const char *booking_id, const char *source, bool lock,
                                struct notes_visit *v)
{
    static const char base[] =
        "SELECT json_build_object('customerId', b.customer_id, 'bookingId', b.booking_id, "
        "'source', b.source, 'parameters', coalesce(p.parameters, '[]'), "
        "'remark', coalesce(p.remark, ''), 'etag', coalesce(p.version, 0)::text, "
        "'updatedAt', coalesce(" TS(
            "p.updated_at") ", ''), "
                            "'updatedBy', coalesce(p.updated_by, ''))::text, b.service, " TS(
                                "b.starts_at") ", "
                                               "count(*) OVER () "
                                               "FROM notes.bookings b LEFT JOIN "
                                               "notes.visit_parameters p "
                                               "ON p.tenant_id = b.tenant_id AND p.source = "
                                               "b.source AND p.booking_id = b.booking_id "
                                               "WHERE b.tenant_id = $1 AND b.customer_id = "
                                               "$2::uuid AND b.booking_id = $3 "
                                               "AND ($4 = '' OR b.source = $4) ORDER BY b.source "
                                               "LIMIT 2";
    *v = (struct notes_visit){0};
    const char *p[] = {tenant, customer_id, booking_id, source};
    cm_err_t err = CM_OK;
    /* Locked first, then read by a statement of its own: under READ
     * COMMITTED a locking read sees the locked row as it is now but what it
     * joins as its snapshot had it, which may be before the write it waited
     * for. */
    if (lock)
        err = cm_db_run(db,
                        "SELECT 1 FROM notes.bookings WHERE tenant_id = $1 AND "
                        "customer_id = $2::uuid AND booking_id = $3 AND ($4 = '' OR source = $4) "
                        "ORDER BY source FOR UPDATE",
                        4, p);
    PGresult *res = err ? NULL : cm_db_exec(db, base, 4, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    v->params =
        (Crm__VisitParameters *)s_decode(&crm__visit_parameters__descriptor, PQgetvalue(res, 0, 0));
    v->service = cm_strdup(PQgetvalue(res, 0, 1));
    v->starts_at = cm_strdup(PQgetvalue(res, 0, 2));
    v->matches = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_visits_store_put(cm_db_t *db, const char *tenant, const Crm__VisitParameters *v,
                                const char *parameters_json, const char *by)
{
    const char *p[] = {tenant,    v->source, v->booking_id, v->customer_id, parameters_json,
                       v->remark, by};
    return cm_db_run(db,
                     "INSERT INTO notes.visit_parameters AS v (tenant_id, source, booking_id, "
                     "customer_id, parameters, remark, version, updated_at, updated_by) "
                     "VALUES ($1, $2, $3, $4::uuid, $5::jsonb, $6, 1, now(), $7) "
                     "ON CONFLICT (tenant_id, source, booking_id) DO UPDATE SET "
                     "customer_id = EXCLUDED.customer_id, parameters = EXCLUDED.parameters, "
                     "remark = EXCLUDED.remark, version = v.version + 1, updated_at = now(), "
                     "updated_by = EXCLUDED.updated_by",
                     7, p);
}

/* ---------------------------------------------------------------------- */
/* Presets                                                                 */

#define PRESET_JSON(t)                                                                             \
    "json_build_object('id', " t ".id, 'name', " t ".name, 'parameterNames', " t                   \
    ".parameter_names, 'etag', " t ".version::text, 'createdAt', " TS(                             \
        t ".created_at") ", "                                                                      \
                         "'updatedAt', " TS(t ".updated_at") ")::text"

cm_err_t notes_presets_store_list(cm_db_t *db, const char *tenant, Crm__ListVisitPresetsResponse *r)
{
    const char *p[] = {tenant};
    cm_err_t err = CM_OK;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT " PRESET_JSON("s") " FROM notes.visit_presets s "
                                              "WHERE s.tenant_id = $1 ORDER BY lower(s.name), s.id",
                   1, p, &err);
    if (!res)
        return err;
    int n = PQntuples(res);
    r->presets = cm_calloc(n ? (size_t)n : 1, sizeof *r->presets);
    for (int i = 0; i < n; i++)
        r->presets[i] =
            (Crm__VisitPreset *)s_decode(&crm__visit_preset__descriptor, PQgetvalue(res, i, 0));
    r->n_presets = (size_t)n;
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_presets_store_get(cm_db_t *db, const char *tenant, const char *id, bool lock,
                                 Crm__VisitPreset **out)
{
    const char *p[] = {tenant, id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(
        db,
        lock ? "SELECT " PRESET_JSON("s") " FROM notes.visit_presets s "
                                          "WHERE s.tenant_id = $1 AND s.id = $2::uuid FOR UPDATE"
             : "SELECT " PRESET_JSON("s") " FROM notes.visit_presets s "
                                          "WHERE s.tenant_id = $1 AND s.id = $2::uuid",
        2, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    *out = (Crm__VisitPreset *)s_decode(&crm__visit_preset__descriptor, PQgetvalue(res, 0, 0));
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_presets_store_count(cm_db_t *db, const char *tenant, int *n)
{
    const char *p[] = {tenant};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db,
                               "SELECT pg_advisory_xact_lock(hashtext('notes.visit_presets'), "
                               "hashtext($1::text)), (SELECT count(*) FROM notes.visit_presets "
                               "WHERE tenant_id = $1::uuid)",
                               1, p, &err);
    if (!res)
        return err;
    *n = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_presets_store_put(cm_db_t *db, const char *tenant, const char *id, const char *name,
                                 const char *names_json, char *id_out)
{
    const char *p[] = {tenant, id[0] ? id : NULL, name, names_json};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(
        db,
        "INSERT INTO notes.visit_presets AS s (tenant_id, id, name, parameter_names) "
        "VALUES ($1, coalesce($2::uuid, gen_random_uuid()), $3, $4::jsonb) "
        "ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name, "
        "parameter_names = EXCLUDED.parameter_names, version = s.version + 1, updated_at = now() "
        "RETURNING s.id",
        4, p, &err);
    if (!res)
        return err;
    snprintf(id_out, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_presets_store_delete(cm_db_t *db, const char *tenant, const char *id)
{
    const char *p[] = {tenant, id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(
        db, "DELETE FROM notes.visit_presets WHERE tenant_id = $1 AND id = $2::uuid RETURNING 1", 2,
        p, &err);
    if (!res)
        return err;
    int n = PQntuples(res);
    PQclear(res);
    return n ? CM_OK : CM_ERR_NOT_FOUND;
}

/* ---------------------------------------------------------------------- */
/* Purchases                                                               */

/* An order's returns to the balance, oldest first (PurchaseCredit). */
#define CREDITS_JSON(o)                                                                            \
    "(SELECT coalesce(json_agg(json_build_object('returnId', r.id, 'reference', r.reference, "     \
    "'amount', json_build_object('amountMinor', r.amount_minor, 'currency', r.currency), "         \
    "'state', r.credit, 'error', r.credit_error, 'settledBy', r.credit_settled_by, "               \
    "'settledAt', coalesce(" TS(                                                                   \
        "r.credit_settled_at") ", '')) ORDER BY r.created_at, r.id), '[]') "                       \
                               "FROM notes.order_returns r WHERE r.tenant_id = " o                 \
                               ".tenant_id AND r.source = " o ".source "                           \
                               "AND r.order_id = " o                                               \
                               ".order_id AND r.to_balance AND r.credit IS NOT NULL)"
#define PURCHASE_JSON(o)                                                                           \
    "json_build_object('id', " o ".order_id, 'source', " o ".source, 'status', " o ".status, "     \
    "'total', json_build_object('amountMinor', " o ".total_minor, 'currency', " o ".currency), "   \
    "'items', " o ".items, 'paidMinor', " o ".paid_minor, 'refundedMinor', " o ".refunded_minor, " \
    "'returnedQuantities', to_json(" o ".returned_qty), "                                          \
    "'placedAt', " TS(                                                                             \
        "coalesce(" o ".placed_at, " o                                                             \
        ".first_seen_at)") ", "                                                                    \
                           "'statusAt', " TS(o                                                     \
                                             ".status_at") ", "                                    \
                                                           "'credits', " CREDITS_JSON(o) ")::text"
#define PLACED(o) "coalesce(" o ".placed_at, " o ".first_seen_at)"

cm_err_t notes_purchases_store_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                    int limit, const char *token, Crm__ListPurchasesResponse *r)
{
    static const char sql[] = "SELECT " PURCHASE_JSON("o") ", " KEY_OF(US_OF(PLACED(
        "o")) ", o.source, o.order_id") " "
                                        "FROM notes.orders o WHERE o.tenant_id = $1 AND "
                                        "o.customer_id = $2::uuid "
                                        "AND (" TOKEN_KEY " IS NULL OR (" US_OF(PLACED(
                                            "o")) ", o.source, o.order_id) < "
                                                  "((" TOKEN_KEY " ->> 0)::bigint, " TOKEN_KEY
                                                  " ->> 1, " TOKEN_KEY " ->> 2)) "
                                                  "ORDER BY " PLACED(
                                                      "o") " DESC, o.source DESC, o.order_id DESC "
                                                           "LIMIT $4::int";
    return s_page(db, sql, tenant, customer_id, limit, token, &crm__purchase__descriptor,
                  (ProtobufCMessage ***)&r->purchases, &r->n_purchases, &r->next_page_token);
}

cm_err_t notes_purchases_store_lock(cm_db_t *db, const char *tenant, const char *customer_id,
                                    const char *order_id, const char *source, Crm__Purchase **out,
                                    int *matches, char *action_id)
{
    const char *p[] = {tenant, customer_id, order_id, source};
    /* Locked first, then read (as for a visit): the returns counted must
     * include those committed while this waited. */
    cm_err_t err =
        cm_db_run(db,
                  "SELECT 1 FROM notes.orders WHERE tenant_id = $1 AND "
                  "customer_id = $2::uuid AND order_id = $3 AND ($4 = '' OR source = $4) "
                  "ORDER BY source FOR UPDATE",
                  4, p);
    PGresult *res = err ? NULL
                        : cm_db_exec(db,
                                     "SELECT " PURCHASE_JSON(
                                         "o") ", (SELECT count(*) FROM notes.orders c "
                                              "WHERE c.tenant_id = $1 AND c.customer_id = $2::uuid "
                                              "AND c.order_id = $3 "
                                              "AND ($4 = '' OR c.source = $4)), "
                                              "md5(concat_ws('/', $1, o.source, o.order_id, "
                                              "(SELECT count(*) FROM notes.order_returns r "
                                              "WHERE r.tenant_id = $1 AND r.source = o.source AND "
                                              "r.order_id = o.order_id)))::uuid "
                                              "FROM notes.orders o WHERE o.tenant_id = $1 AND "
                                              "o.customer_id = $2::uuid "
                                              "AND o.order_id = $3 AND ($4 = '' OR o.source = $4) "
                                              "ORDER BY o.source LIMIT 1",
                                     4, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    *out = (Crm__Purchase *)s_decode(&crm__purchase__descriptor, PQgetvalue(res, 0, 0));
    *matches = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
    snprintf(action_id, 37, "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_purchases_store_apply(cm_db_t *db, const char *tenant,
                                     const struct notes_purchase_action *a, int credit_grace_s)
{
    char amount[24], grace[16];
    snprintf(amount, sizeof amount, "%" PRId64, a->amount_minor);
    snprintf(grace, sizeof grace, "%d", credit_grace_s);
    const char *p[] = {tenant,
                       a->id,
                       a->source,
                       a->order_id,
                       a->customer_id,
                       a->action,
                       amount,
                       a->currency,
                       a->items_json,
                       a->reason,
                       a->to_balance ? "t" : "f",
                       a->by,
                       a->reference,
                       a->status,
                       a->returned_qty,
                       grace};
    return cm_db_run(
        db,
        "WITH act AS (INSERT INTO notes.order_returns (tenant_id, id, source, order_id, "
        "customer_id, action, amount_minor, currency, items, reason, to_balance, created_by, "
        "reference, credit, credit_next_at) VALUES ($1, $2::uuid, $3, $4, $5::uuid, $6, "
        "$7::bigint, $8, $9::jsonb, $10, $11::bool, $12, $13, "
        "CASE WHEN $11::bool THEN 'PENDING' END, "
        "CASE WHEN $11::bool THEN now() + make_interval(secs => $16::int) END)) "
        "UPDATE notes.orders SET status = $14, status_at = now(), "
        "refunded_minor = refunded_minor + $7::bigint, returned_qty = $15::int[] "
        "WHERE tenant_id = $1 AND source = $3 AND order_id = $4",
        16, p);
}

void notes_return_credit_release(struct notes_return_credit *c)
{
    free(c->source);
    free(c->order_id);
    free(c->reason);
    free(c->reference);
    free(c->by);
    free(c->error);
    c->source = c->order_id = c->reason = c->reference = c->by = c->error = NULL;
}

cm_err_t notes_purchases_store_credit_load(cm_db_t *db, struct notes_return_credit *out)
{
    const char *p[] = {out->tenant, out->id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db,
                               "SELECT customer_id, credit, amount_minor, credit_attempts, "
                               "source, order_id, reason, reference, created_by, credit_error "
                               "FROM notes.order_returns WHERE tenant_id = $1 AND id = $2::uuid "
                               "AND to_balance AND credit IS NOT NULL",
                               2, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    notes_return_credit_release(out);
    snprintf(out->customer_id, sizeof out->customer_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(out->state, sizeof out->state, "%s", PQgetvalue(res, 0, 1));
    out->amount = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    out->attempts = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
    out->source = cm_strdup(PQgetvalue(res, 0, 4));
    out->order_id = cm_strdup(PQgetvalue(res, 0, 5));
    out->reason = cm_strdup(PQgetvalue(res, 0, 6));
    out->reference = cm_strdup(PQgetvalue(res, 0, 7));
    out->by = cm_strdup(PQgetvalue(res, 0, 8));
    out->error = cm_strdup(PQgetvalue(res, 0, 9));
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_purchases_store_credit_settle(cm_db_t *db, const char *tenant, const char *id,
                                             const char *state, const char *entry_id,
                                             const char *error)
{
    const char *p[] = {tenant, id, state, entry_id, error};
    return cm_db_run(db,
                     "UPDATE notes.order_returns SET credit = $3, credit_entry_id = $4, "
                     "credit_error = $5, credit_next_at = NULL, "
                     "credit_attempts = credit_attempts + 1 "
                     "WHERE tenant_id = $1 AND id = $2::uuid AND credit = 'PENDING'",
                     5, p);
}

cm_err_t notes_purchases_store_credit_lock(cm_db_t *db, const char *tenant, const char *customer_id,
                                           const char *order_id, const char *source, const char *id,
                                           char *state, int *attempts)
{
    const char *p[] = {tenant, customer_id, order_id, source, id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db,
                               "SELECT credit, credit_attempts FROM notes.order_returns "
                               "WHERE tenant_id = $1 AND customer_id = $2::uuid AND order_id = $3 "
                               "AND ($4 = '' OR source = $4) AND id = $5::uuid AND to_balance "
                               "AND credit IS NOT NULL FOR UPDATE",
                               5, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    snprintf(state, NOTES_CREDIT_STATE_SIZE, "%s", PQgetvalue(res, 0, 0));
    *attempts = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_purchases_store_credit_reopen(cm_db_t *db, const char *tenant, const char *id,
                                             int grace_s)
{
    char grace[16];
    snprintf(grace, sizeof grace, "%d", grace_s);
    const char *p[] = {tenant, id, grace};
    return cm_db_run(db,
                     "UPDATE notes.order_returns SET credit = 'PENDING', credit_error = '', "
                     "credit_next_at = now() + make_interval(secs => $3::int) "
                     "WHERE tenant_id = $1 AND id = $2::uuid AND credit = 'FAILED'",
                     3, p);
}

cm_err_t notes_purchases_store_credit_mark_settled(cm_db_t *db, const char *tenant, const char *id,
                                                   const char *by)
{
    const char *p[] = {tenant, id, by};
    return cm_db_run(db,
                     "UPDATE notes.order_returns SET credit = 'SETTLED', credit_settled_by = $3, "
                     "credit_settled_at = now(), credit_next_at = NULL "
                     "WHERE tenant_id = $1 AND id = $2::uuid AND credit = 'FAILED'",
                     3, p);
}

cm_err_t notes_purchases_store_credit_later(cm_db_t *db, const char *tenant, const char *id,
                                            int delay_s)
{
    char delay[16];
    snprintf(delay, sizeof delay, "%d", delay_s);
    const char *p[] = {tenant, id, delay};
    return cm_db_run(db,
                     "UPDATE notes.order_returns SET credit_attempts = credit_attempts + 1, "
                     "credit_next_at = now() + make_interval(secs => $3::int) "
                     "WHERE tenant_id = $1 AND id = $2::uuid AND credit = 'PENDING'",
                     3, p);
}

cm_err_t notes_purchases_store_credit_claim(cm_db_t *db, int max, int lease_s,
                                            struct notes_return_credit *out, int *n)
{
    char lim[16], lease[16];
    snprintf(lim, sizeof lim, "%d", max);
    snprintf(lease, sizeof lease, "%d", lease_s);
    const char *p[] = {lim, lease};
    cm_err_t err = CM_OK;
    *n = 0;
    PGresult *res = cm_db_exec(db, "SELECT * FROM notes.claim_return_credits($1, $2)", 2, p, &err);
    if (!res)
        return err;
    for (int i = 0; i < PQntuples(res) && i < max; i++) {
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].tenant, sizeof out[i].tenant, "%s", PQgetvalue(res, i, 0));
        snprintf(out[i].id, sizeof out[i].id, "%s", PQgetvalue(res, i, 1));
        (*n)++;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_visits_store_erase_customer(cm_db_t *db, const char *tenant, const char *customer_id)
{
    const char *p[] = {tenant, customer_id};
    cm_err_t err = cm_db_run(
        db, "DELETE FROM notes.visit_parameters WHERE tenant_id = $1 AND customer_id = $2::uuid", 2,
        p);
    if (!err)
        err = cm_db_run(db,
                        "UPDATE notes.order_returns SET reason = '' "
                        "WHERE tenant_id = $1 AND customer_id = $2::uuid",
                        2, p);
    /* The timeline keeps which parameter changed when, not the values, and
     * that a purchase was returned, not the reason staff typed. */
    if (!err)
        err = cm_db_run(db,
                        "UPDATE notes.timeline SET details = CASE WHEN kind = 'ORDER' "
                        "  THEN details #- '{purchase,reason}' "
                        "  ELSE jsonb_set(details, '{visit,changes}', "
                        "       (SELECT coalesce(jsonb_agg(c - 'oldValue' - 'newValue'), '[]') "
                        "          FROM jsonb_array_elements(details->'visit'->'changes') c)) END "
                        "WHERE tenant_id = $1 AND customer_id = $2::uuid "
                        "  AND (kind = 'VISIT_PARAMETERS' OR (kind = 'ORDER' AND details ? "
                        "'purchase'))",
                        2, p);
    return err;
}
