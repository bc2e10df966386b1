/* Every SQL statement of the history side of the notes service. */
#include "notes_history_store.h"
#include "notes_intake.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
/* A time parameter in milliseconds since the epoch. */
#define MS(n) "(timestamptz 'epoch' + $" #n "::bigint * interval '1 millisecond')"
#define EPOCH_MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

static int64_t s_int64(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}

/* ---------------------------------------------------------------------- */
/* Intake claims                                                           */

/* The record of an event: $1 tenant, $2 source, $3 event id. */
#define SQL_RECORD                                                                                 \
    "SELECT coalesce(customer_id::text, ''), body_hash FROM notes.intake "                         \
    "WHERE tenant_id = $1 AND source = $2 AND event_id = $3"

/* What SQL_RECORD's result res says, as notes_history_store_claimed answers. */
static void s_record(const PGresult *res, const char *digest, bool *found, bool *same,
                     char *customer_id)
{
    customer_id[0] = '\0';
    *found = PQntuples(res) == 1;
    *same = true;
    if (*found) {
        snprintf(customer_id, NOTES_ID_SIZE, "%s", PQgetvalue(res, 0, 0));
        const char *stored = PQgetvalue(res, 0, 1);
        *same = !stored[0] || !strcmp(stored, digest);
    }
}

cm_err_t notes_history_store_claimed(cm_db_t *db, const char *tenant, const Crm__IntakeEvent *ev,
                                     const char *digest, bool *found, bool *same, char *customer_id)
{
    const char *p[] = {tenant, ev->source, ev->event_id};
    cm_err_t err;
    customer_id[0] = '\0';
    *found = false;
    *same = true;
    PGresult *res = cm_db_exec(db, SQL_RECORD, 3, p, &err);
    if (!res)
        return err;
    s_record(res, digest, found, same, customer_id);
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Taking an event in                                                      */

/* Every write of bookings and orders also moves the customer's summary
 * figures (deferred triggers, sql/015_customer_figures.sql and
 * 016_figures_triggers.sql, at the commit). */

/* The parts of the take-in statement. $1 tenant, $2 source, $3 event id,
 * $4 type, $5 digest, $6 customer, $7 occurredAt (ms), $8 kind, $9 details,
 * $10 actor; a booking's or order's own from $11. Nothing is written without
 * a customer, and nothing but the claim when the claim was there before. */
/* clang-format off */
/* A customer merged into another since customers resolved the event is the
 * one kept (notes.merged_customers, 062_merge.sql): WHO below. */
#define WHO "(SELECT id FROM who)"
#define SQL_CLAIM                                                                                  \
    "WITH who AS (SELECT coalesce((SELECT m.into_id FROM notes.merged_customers m "                \
    "WHERE m.tenant_id = $1 AND m.merged_id = $6::uuid), $6::uuid) AS id), "                       \
    "claim AS (INSERT INTO notes.intake "                                                          \
    "(tenant_id, source, event_id, type, body_hash, customer_id) "                                 \
    "SELECT $1, $2, $3, $4, $5, " WHO " WHERE $6::uuid IS NOT NULL "                               \
    "ON CONFLICT DO NOTHING RETURNING 1), "                                                        \
    "line AS (INSERT INTO notes.timeline (tenant_id, customer_id, occurred_at, kind, type, "       \
    "source, actor, event_id, details) SELECT $1, " WHO ", " MS(7) ", $8::text, $4::text, "        \
    "$2::text, $10::text, $3::text, $9::jsonb WHERE EXISTS (SELECT 1 FROM claim)) "
#define SQL_CLAIMED "SELECT EXISTS (SELECT 1 FROM claim)"
/* Out-of-order events (notes_intake.h): the stored status gives way to a
 * later stage ($12 the event's, $13 the stages of every status), or to the
 * same stage no older; details to an event no older. */
#define STATUS_WINS(t)                                                                             \
    "(coalesce(($13::jsonb ->> " t ".status)::int, 0) < $12::int OR "                              \
    "(coalesce(($13::jsonb ->> " t ".status)::int, 0) = $12::int "                                 \
    "AND EXCLUDED.status_at >= " t ".status_at))"
#define DETAILS_WIN(t) "(EXCLUDED.details_at >= " t ".details_at)"
#define IF_STATUS(t, col) col " = CASE WHEN " STATUS_WINS(t) " THEN EXCLUDED." col " ELSE " t "." col " END, "
#define IF_DETAILS(t, col) col " = CASE WHEN " DETAILS_WIN(t) " THEN EXCLUDED." col " ELSE " t "." col " END, "
/* A booking: $11 status, $12 stage, $13 stages, $14 id, $15 service, $16
 * staff, $17 starts (ms), $18 ends (ms or NULL), $19 booking.created. */
#define SQL_TAKE_IN_BOOKING                                                                        \
    SQL_CLAIM ", state AS (INSERT INTO notes.bookings AS b (tenant_id, source, booking_id, "       \
    "customer_id, service, staff, starts_at, ends_at, status, status_at, details_at, booked_at) "  \
    "SELECT $1, $2, $14, " WHO ", $15, $16, " MS(17) ", " MS(18) ", $11, " MS(7) ", " MS(7) ", "  \
    "CASE WHEN $19::bool THEN " MS(7) " END WHERE EXISTS (SELECT 1 FROM claim) "                   \
    "ON CONFLICT (tenant_id, source, booking_id) DO UPDATE SET "                                   \
    IF_STATUS("b", "status") IF_STATUS("b", "status_at")                                           \
    IF_DETAILS("b", "customer_id") IF_DETAILS("b", "service") IF_DETAILS("b", "staff")             \
    IF_DETAILS("b", "starts_at") IF_DETAILS("b", "ends_at") IF_DETAILS("b", "details_at")          \
    "booked_at = CASE WHEN $19::bool THEN least(b.booked_at, EXCLUDED.booked_at) "                 \
    "ELSE b.booked_at END) " SQL_CLAIMED
/* An order.refunded that names ($22) a staff return of the order
 * (notes.order_returns, notes_purchases.c) with the same amount is that
 * return, already counted: it adds nothing (docs/visits.md). */
#define SAME_REFUND                                                                                \
    "($22::text <> '' AND EXISTS (SELECT 1 FROM notes.order_returns r WHERE r.tenant_id = $1 "     \
    "AND r.source = $2 AND r.order_id = $14 AND r.reference = $22::text "                         \
    "AND r.amount_minor = EXCLUDED.refunded_minor))"
/* An order: $11 status, $12 stage, $13 stages, $14 id, $15 total, $16
 * currency, $17 items, $18 paid, $19 refunded, $20 order.placed, $21
 * order.paid, $22 the staff return a refund names. A payment sets what was
 * paid (a repeated payment event of another id does not double it); refunds
 * add up, each taken in once. */
#define SQL_TAKE_IN_ORDER                                                                          \
    SQL_CLAIM ", state AS (INSERT INTO notes.orders AS o (tenant_id, source, order_id, "           \
    "customer_id, status, status_at, details_at, placed_at, first_seen_at, total_minor, "          \
    "currency, items, paid_minor, refunded_minor) "                                                \
    "SELECT $1, $2, $14, " WHO ", $11, " MS(7) ", " MS(7) ", CASE WHEN $20::bool THEN " MS(7)     \
    " END, " MS(7) ", $15::bigint, $16, $17::jsonb, $18::bigint, $19::bigint "                     \
    "WHERE EXISTS (SELECT 1 FROM claim) "                                                          \
    "ON CONFLICT (tenant_id, source, order_id) DO UPDATE SET "                                     \
    IF_STATUS("o", "status") IF_STATUS("o", "status_at")                                           \
    IF_DETAILS("o", "customer_id") IF_DETAILS("o", "total_minor") IF_DETAILS("o", "currency")      \
    "items = CASE WHEN " DETAILS_WIN("o") " AND jsonb_array_length(EXCLUDED.items) > 0 "           \
    "THEN EXCLUDED.items ELSE o.items END, "                                                       \
    IF_DETAILS("o", "details_at")                                                                  \
    "placed_at = CASE WHEN $20::bool THEN least(o.placed_at, EXCLUDED.placed_at) "                 \
    "ELSE o.placed_at END, "                                                                       \
    "first_seen_at = least(o.first_seen_at, EXCLUDED.first_seen_at), "                             \
    "paid_minor = CASE WHEN $21::bool THEN EXCLUDED.paid_minor ELSE o.paid_minor END, "            \
    "refunded_minor = o.refunded_minor + CASE WHEN " SAME_REFUND " THEN 0 "                       \
    "ELSE EXCLUDED.refunded_minor END) " SQL_CLAIMED
/* clang-format on */

static char *s_items_json(const Crm__IntakeOrder *o)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < o->n_items; i++)
        json_array_append_new(arr, cm_pbjson_encode(&o->items[i]->base, CM_PBJSON_OMIT_DEFAULTS));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

/* The parameters of a booking from $11 (p[10]); CM_ERR_INVALID when its
 * times do not read (notes_intake_check let them through). */
static cm_err_t s_booking_params(const Crm__IntakeEvent *ev, const char **p, char *stage,
                                 char *stages, char *starts, char *ends)
{
    const Crm__IntakeBooking *b = ev->booking;
    int64_t s_ms = 0, e_ms = 0;
    bool has_end = b->ends_at[0] && !notes_intake_time(b->ends_at, &e_ms);
    if (notes_intake_time(b->starts_at, &s_ms))
        return CM_ERR_INVALID;
    p[10] = notes_intake_status(ev->type);
    snprintf(stage, 12, "%d", notes_intake_stage(false, p[10]));
    p[11] = stage;
    notes_intake_stages(false, stages);
    p[12] = stages;
    p[13] = b->id;
    p[14] = b->service;
    p[15] = b->staff;
    snprintf(starts, 24, "%" PRId64, s_ms);
    snprintf(ends, 24, "%" PRId64, e_ms);
    p[16] = starts;
    p[17] = has_end ? ends : NULL;
    p[18] = !strcmp(ev->type, "booking.created") ? "t" : "f";
    return CM_OK;
}

/* The parameters of an order from $11 (p[10]); items is the caller's to free. */
static void s_order_params(const Crm__IntakeEvent *ev, const char **p, char *stage, char *stages,
                           char *total, char *paid, char *refunded, char **items)
{
    const Crm__IntakeOrder *o = ev->order;
    bool is_paid = !strcmp(ev->type, "order.paid");
    bool is_refund = !strcmp(ev->type, "order.refunded");
    p[10] = notes_intake_status(ev->type);
    snprintf(stage, 12, "%d", notes_intake_stage(true, p[10]));
    p[11] = stage;
    notes_intake_stages(true, stages);
    p[12] = stages;
    p[13] = o->id;
    snprintf(total, 24, "%" PRId64, o->total->amount_minor);
    p[14] = total;
    p[15] = o->total->currency;
    *items = s_items_json(o);
    p[16] = *items;
    snprintf(paid, 24, "%" PRId64, is_paid ? o->total->amount_minor : 0);
    p[17] = paid;
    snprintf(refunded, 24, "%" PRId64,
             is_refund ? (o->refund ? o->refund->amount_minor : o->total->amount_minor) : 0);
    p[18] = refunded;
    p[19] = !strcmp(ev->type, "order.placed") ? "t" : "f";
    p[20] = is_paid ? "t" : "f";
    p[21] = is_refund ? o->reference : "";
}

/* One event's take-in statement and its parameters, which point into it. */
struct s_take_in {
    const char *sql; // static
    int n;
    const char *p[22];
    char at[24], stage[12], stages[NOTES_INTAKE_STAGES_SIZE], a[24], b[24], c[24];
    char *items; // owned: an order's items as JSON
};

/* Fills t for ev; CM_ERR_INVALID when a booking's times do not read. */
static cm_err_t s_take_in_params(struct s_take_in *t, const char *tenant,
                                 const Crm__IntakeEvent *ev, const char *digest,
                                 const struct notes_timeline_row *row)
{
    snprintf(t->at, sizeof t->at, "%" PRId64, row->at_ms);
    const char *head[] = {tenant,
                          ev->source,
                          ev->event_id,
                          ev->type,
                          digest,
                          row->customer_id[0] ? row->customer_id : NULL,
                          t->at,
                          row->kind,
                          row->details ? row->details : "{}",
                          row->actor ? row->actor : ""};
    memset(t->p, 0, sizeof t->p);
    memcpy(t->p, head, sizeof head);
    t->sql = SQL_CLAIM SQL_CLAIMED;
    t->n = 10;
    t->items = NULL;
    if (ev->booking) {
        t->sql = SQL_TAKE_IN_BOOKING;
        t->n = 19;
        return s_booking_params(ev, t->p, t->stage, t->stages, t->a, t->b);
    }
    if (ev->order) {
        s_order_params(ev, t->p, t->stage, t->stages, t->a, t->b, t->c, &t->items);
        t->sql = SQL_TAKE_IN_ORDER;
        t->n = 22;
    }
    return CM_OK;
}

/* What the take-in statement's result res says (res is PQcleared): claimed,
 * or the record of the event taken in before, read by a statement of its own
 * (the take-in's snapshot may not see a claim that committed while it waited). */
static cm_err_t s_take_in_answer(cm_db_t *db, const char *tenant, const Crm__IntakeEvent *ev,
                                 const char *digest, const struct notes_timeline_row *row,
                                 PGresult *res, bool *claimed, bool *same, char *customer_id)
{
    *claimed = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (*claimed) {
        snprintf(customer_id, NOTES_ID_SIZE, "%s", row->customer_id);
        return CM_OK;
    }
    bool found = false;
    cm_err_t err = notes_history_store_claimed(db, tenant, ev, digest, &found, same, customer_id);
    return err ? err : found ? CM_OK : CM_ERR_NOT_FOUND;
}

cm_err_t notes_history_store_take_in(cm_db_t *db, const char *tenant, const Crm__IntakeEvent *ev,
                                     const char *digest, const struct notes_timeline_row *row,
                                     bool *claimed, bool *same, char *customer_id)
{
    struct s_take_in t;
    customer_id[0] = '\0';
    *same = true;
    *claimed = false;
    cm_err_t err = s_take_in_params(&t, tenant, ev, digest, row);
    PGresult *res = err ? NULL : cm_db_exec(db, t.sql, t.n, t.p, &err);
    free(t.items);
    if (!res)
        return err;
    return s_take_in_answer(db, tenant, ev, digest, row, res, claimed, same, customer_id);
}

/* Reads, in one round trip, the records of the items that were taken in
 * before (not claimed now, and no error of their own). */
static cm_err_t s_records_all(cm_db_t *db, const char *tenant, struct notes_take_in_item *items,
                              size_t n)
{
    struct cm_db_stmt *stmts = cm_calloc(n ? n : 1, sizeof *stmts);
    const char *(*params)[3] = cm_calloc(n ? n : 1, sizeof *params);
    size_t *index = cm_calloc(n ? n : 1, sizeof *index);
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        struct notes_take_in_item *it = &items[i];
        if (it->err || it->claimed)
            continue;
        params[m][0] = tenant;
        params[m][1] = it->ev->source;
        params[m][2] = it->ev->event_id;
        stmts[m] = (struct cm_db_stmt){.sql = SQL_RECORD, .nparams = 3, .params = params[m]};
        index[m++] = i;
    }
    int failed;
    cm_err_t err = m ? cm_db_exec_all(db, stmts, m, &failed) : CM_OK;
    for (int k = 0; k < m && !err; k++) {
        struct notes_take_in_item *it = &items[index[k]];
        bool found;
        s_record(stmts[k].res, it->digest, &found, &it->same, it->customer_id);
        /* Taken in before, yet no record now: take_in's CM_ERR_NOT_FOUND. */
        it->err = found ? CM_OK : CM_ERR_NOT_FOUND;
    }
    for (int k = 0; k < m; k++)
        PQclear(stmts[k].res);
    free(index);
    free(params);
    free(stmts);
    return err;
}

cm_err_t notes_history_store_take_in_all(cm_db_t *db, const char *tenant,
                                         struct notes_take_in_item *items, size_t n)
{
    struct s_take_in *ts = cm_calloc(n ? n : 1, sizeof *ts);
    struct cm_db_stmt *stmts = cm_calloc(n ? n : 1, sizeof *stmts);
    size_t *index = cm_calloc(n ? n : 1, sizeof *index);
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        struct notes_take_in_item *it = &items[i];
        it->customer_id[0] = '\0';
        it->same = true;
        it->claimed = false;
        it->err = s_take_in_params(&ts[m], tenant, it->ev, it->digest, it->row);
        if (it->err)
            continue;
        stmts[m] = (struct cm_db_stmt){.sql = ts[m].sql, .nparams = ts[m].n, .params = ts[m].p};
        index[m++] = i;
    }
    int failed;
    cm_err_t err = cm_db_exec_all(db, stmts, m, &failed);
    for (int k = 0; k < m; k++)
        free(ts[k].items);
    free(ts);
    for (int k = 0; k < m && !err; k++) {
        struct notes_take_in_item *it = &items[index[k]];
        const PGresult *res = stmts[k].res;
        it->claimed = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
        if (it->claimed)
            snprintf(it->customer_id, NOTES_ID_SIZE, "%s", it->row->customer_id);
    }
    for (int k = 0; k < m; k++)
        PQclear(stmts[k].res);
    free(stmts);
    free(index);
    /* The records of the events taken in before (duplicates, reused ids) are
     * read after the take-in: its snapshot may not see a claim that committed
     * while it waited. */
    return err ? err : s_records_all(db, tenant, items, n);
}

/* ---------------------------------------------------------------------- */
/* Timeline                                                                */

cm_err_t notes_history_store_timeline_add(cm_db_t *db, const char *tenant,
                                          const struct notes_timeline_row *r)
{
    char at[24];
    snprintf(at, sizeof at, "%" PRId64, r->at_ms);
    const char *p[] = {tenant,
                       r->customer_id,
                       at,
                       r->kind,
                       r->type,
                       r->source ? r->source : "",
                       r->actor ? r->actor : "",
                       r->event_id ? r->event_id : "",
                       r->details ? r->details : "{}"};
    return cm_db_run(db,
                     "INSERT INTO notes.timeline (tenant_id, customer_id, occurred_at, kind, type, "
                     "source, actor, event_id, details) VALUES ($1, $2, " MS(
                         3) ", $4, $5, $6, $7, $8, $9::jsonb)",
                     9, p);
}

/* The branches of the union, each written with the parameters it needs:
 * $1 tenant, $2 customer, then (when given) the kinds array and the keyset
 * position. Conditions that do not apply are left out rather than written
 * as "$n IS NULL OR ...", so that the planner walks each branch's index in
 * order and stops after the page. */
struct s_branch_params {
    int kinds;    // parameter number of the kinds array, 0 when absent
    int after_us; // parameter numbers of the keyset position, 0 when absent
    int after_id;
};

static void s_branch(char *out, size_t size, const char *select, const char *from,
                     const char *alias, const char *at_col, const char *kind_literal,
                     const char *extra, const struct s_branch_params *bp)
{
    char kinds[128] = "", after[256] = "";
    if (bp->kinds && kind_literal)
        snprintf(kinds, sizeof kinds, " AND '%s' = ANY($%d::text[])", kind_literal, bp->kinds);
    else if (bp->kinds)
        snprintf(kinds, sizeof kinds, " AND %s.kind = ANY($%d::text[])", alias, bp->kinds);
    if (bp->after_us)
        snprintf(after, sizeof after,
                 " AND (%s.%s, %s.id) < (timestamptz 'epoch' + $%d::bigint * "
                 "interval '1 microsecond', $%d::uuid)",
                 alias, at_col, alias, bp->after_us, bp->after_id);
    snprintf(out, size,
             "(SELECT %s FROM %s %s WHERE %s.tenant_id = $1 AND %s.customer_id = $2%s%s%s "
             "ORDER BY %s.%s DESC, %s.id DESC LIMIT $3)",
             select, from, alias, alias, alias, extra, kinds, after, alias, at_col, alias);
}

/* One entry of a page: the row's details ({"booking": {...}} and the like)
 * decoded from the text onto the entry (no jansson tree: fifty rows a page),
 * its plain columns straight into the entry. */
static Crm__TimelineEntry *s_entry_from_row(const PGresult *res, int row)
{
    struct cm_pbjson_error perr;
    Crm__TimelineEntry *e = (Crm__TimelineEntry *)cm_pbjson_decode_text(
        &crm__timeline_entry__descriptor, PQgetvalue(res, row, 7), (size_t)PQgetlength(res, row, 7),
        NULL, &perr);
    if (!e)
        cm_log_error("timeline row %s does not decode: %s: %s", PQgetvalue(res, row, 0), perr.field,
                     perr.description);
    if (!e)
        e = (Crm__TimelineEntry *)cm_pb_new(&crm__timeline_entry__descriptor);
    cm_pb_set_str(&e->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&e->type, PQgetvalue(res, row, 2));
    cm_pb_set_str(&e->occurred_at, PQgetvalue(res, row, 3));
    cm_pb_set_str(&e->source, PQgetvalue(res, row, 4));
    cm_pb_set_str(&e->actor, PQgetvalue(res, row, 5));
    cm_pb_set_str(&e->event_id, PQgetvalue(res, row, 6));
    char kind[48];
    snprintf(kind, sizeof kind, "TIMELINE_KIND_%s", PQgetvalue(res, row, 1));
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value_by_name(&crm__timeline_kind__descriptor, kind);
    e->kind = v ? (Crm__TimelineKind)v->value : CRM__TIMELINE_KIND__TIMELINE_KIND_UNSPECIFIED;
    return e;
}

cm_err_t notes_history_store_timeline_page(cm_db_t *db, const char *tenant,
                                           const struct notes_timeline_query *q,
                                           Crm__ListTimelineResponse *resp, int64_t *next_us,
                                           char *next_id)
{
    char after[24], limit[16];
    snprintf(after, sizeof after, "%" PRId64, q->after_us);
    snprintf(limit, sizeof limit, "%d", q->limit + 1);
    const char *p[6] = {tenant, q->customer_id, limit};
    int n = 3;
    struct s_branch_params bp = {0};
    if (q->kinds) {
        p[n++] = q->kinds;
        bp.kinds = n;
    }
    if (q->after_id) {
        p[n++] = after;
        bp.after_us = n;
        p[n++] = q->after_id;
        bp.after_id = n;
    }
    /* Each branch is a page by itself; the union is sorted and cut again. */
    char timeline[1024], notes[1536] = "", tasks[1536] = "", done[1536] = "";
    s_branch(timeline, sizeof timeline,
             "t.id, t.kind, t.type, t.occurred_at AS at, t.source, t.actor, t.event_id, t.details",
             "notes.timeline", "t", "occurred_at", NULL, "", &bp);
    if (q->with_notes)
        s_branch(notes, sizeof notes,
                 "n.id, 'NOTE', 'note.created', n.created_at, 'notes', n.author_name, '', "
                 "jsonb_build_object('note', jsonb_build_object('id', n.id, 'body', n.body, "
                 "'authorName', n.author_name, 'pinned', n.pinned, 'updatedAt', " TS(
                     "n.updated_at") "))",
                 "notes.notes", "n", "created_at", "NOTE", "", &bp);
    static const char task_select[] =
        "k.id, 'TASK', '%s', k.%s, 'notes', k.created_by_name, '', jsonb_build_object('task', "
        "jsonb_build_object('id', k.id, 'title', k.title, 'dueAt', coalesce(" TS(
            "k.due_at") ", ''), 'assigneeName', k.assignee_name, 'done', k.done))";
    if (q->with_tasks) {
        char sel[1024];
        snprintf(sel, sizeof sel, task_select, "task.created", "created_at");
        s_branch(tasks, sizeof tasks, sel, "notes.tasks", "k", "created_at", "TASK", "", &bp);
        snprintf(sel, sizeof sel, task_select, "task.done", "done_at");
        s_branch(done, sizeof done, sel, "notes.tasks", "k", "done_at", "TASK",
                 " AND k.done AND k.done_at IS NOT NULL", &bp);
    }
    char *sql =
        cm_strfmt("SELECT e.id, e.kind, e.type, " TS(
                      "e.at") ", e.source, e.actor, "
                              "e.event_id, e.details::text, "
                              "(extract(epoch FROM e.at) * 1000000)::bigint "
                              "FROM (%s%s%s%s%s%s%s) e ORDER BY e.at DESC, e.id DESC LIMIT $3",
                  timeline, notes[0] ? " UNION ALL " : "", notes, tasks[0] ? " UNION ALL " : "",
                  tasks, done[0] ? " UNION ALL " : "", done);
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, n, p, &err);
    free(sql);
    next_id[0] = '\0';
    if (!res)
        return err;
    int rows = PQntuples(res);
    int shown = rows > q->limit ? q->limit : rows;
    resp->entries = shown ? cm_calloc((size_t)shown, sizeof *resp->entries) : NULL;
    for (int i = 0; i < shown; i++)
        resp->entries[resp->n_entries++] = s_entry_from_row(res, i);
    if (rows > q->limit && shown > 0) {
        *next_us = s_int64(PQgetvalue(res, shown - 1, 8));
        snprintf(next_id, NOTES_ID_SIZE, "%s", PQgetvalue(res, shown - 1, 0));
    }
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Summary                                                                 */

cm_err_t notes_history_store_summary(cm_db_t *db, const char *tenant, const char *customer_id,
                                     Crm__Summary **out)
{
    const char *p[] = {tenant, customer_id};
    cm_err_t err;
    /* One round trip: the figures the triggers of 015_customer_figures.sql
     * keep per customer (up to eight rows each of counts, per currency and
     * per service, added up here), the first booking, last visit and first
     * order (the first or last entry of an index each, 059_figures_times.sql:
     * ORDER BY and LIMIT 1 rather than min() or max(), which PostgreSQL may
     * answer by reading every entry of a customer whose rows it has not
     * counted yet),
     * the next ten bookings (a range of the partial index bookings_upcoming)
     * and the registration (timeline_by_type), as one JSON object in the
     * Summary's own names. No rows of figures: nothing booked or ordered. */
    /* clang-format off */
    static const char sql[] =
        "SELECT json_build_object("
        "  'customerId', $2::uuid::text, "
        "  'registeredAt', (SELECT " TS("min(t.occurred_at)") " FROM notes.timeline t "
        "                    WHERE t.tenant_id = $1 AND t.customer_id = $2 "
        "                      AND t.type = 'customer.created'), "
        "  'firstBookingAt', (SELECT " TS("coalesce(b.booked_at, b.details_at)") " "
        "                      FROM notes.bookings b "
        "                     WHERE b.tenant_id = $1 AND b.customer_id = $2 "
        "                     ORDER BY coalesce(b.booked_at, b.details_at) LIMIT 1), "
        "  'lastVisitAt', (SELECT " TS("b.starts_at") " FROM notes.bookings b "
        "                   WHERE b.tenant_id = $1 AND b.customer_id = $2 "
        "                     AND b.status = 'ATTENDED' ORDER BY b.starts_at DESC LIMIT 1), "
        "  'bookings', coalesce(sum(f.bookings), 0), "
        "  'cancellations', coalesce(sum(f.cancellations), 0), "
        "  'noShows', coalesce(sum(f.no_shows), 0), 'attended', coalesce(sum(f.attended), 0), "
        "  'firstOrderAt', (SELECT " TS("coalesce(o.placed_at, o.first_seen_at)") " "
        "                    FROM notes.orders o WHERE o.tenant_id = $1 AND o.customer_id = $2 "
        "                   ORDER BY coalesce(o.placed_at, o.first_seen_at) LIMIT 1), "
        "  'orders', coalesce(sum(f.orders), 0), "
        "  'totalSpent', (SELECT json_agg(json_build_object('currency', currency, "
        "                                 'amountMinor', amount) ORDER BY currency) "
        "                   FROM (SELECT currency, sum(amount_minor) AS amount "
        "                           FROM notes.customer_spent m "
        "                          WHERE m.tenant_id = $1 AND m.customer_id = $2 "
        "                          GROUP BY currency HAVING sum(paying_orders) > 0) m), "
        "  'upcoming', (SELECT json_agg(json_build_object('id', booking_id, 'service', service, "
        "                 'staff', staff, 'startsAt', " TS("starts_at") ", "
        "                 'endsAt', coalesce(" TS("ends_at") ", '')) ORDER BY starts_at, booking_id) "
        "                 FROM (SELECT * FROM notes.bookings b "
        "                        WHERE b.tenant_id = $1 AND b.customer_id = $2 "
        "                          AND b.status = 'BOOKED' AND b.starts_at > now() "
        "                        ORDER BY b.starts_at, b.booking_id LIMIT 10) u), "
        "  'topServices', (SELECT json_agg(json_build_object('service', service, 'count', n) "
        "                                  ORDER BY n DESC, service) "
        "                    FROM (SELECT service, sum(booked) AS n FROM notes.customer_services v "
        "                           WHERE v.tenant_id = $1 AND v.customer_id = $2 "
        "                           GROUP BY service HAVING sum(booked) > 0 "
        "                           ORDER BY n DESC, service LIMIT 5) s)) "
        "  FROM notes.customer_figures f WHERE f.tenant_id = $1 AND f.customer_id = $2";
    /* clang-format on */
    *out = NULL;
    PGresult *res = cm_db_exec(db, sql, 2, p, &err);
    if (!res)
        return err;
    struct cm_pbjson_error perr = {0};
    *out = (Crm__Summary *)cm_pbjson_decode_text(&crm__summary__descriptor, PQgetvalue(res, 0, 0),
                                                 (size_t)PQgetlength(res, 0, 0), NULL, &perr);
    PQclear(res);
    if (!*out) {
        cm_log_error("the summary of %s does not decode: %s: %s", customer_id, perr.field,
                     perr.description);
        return CM_ERR_INTERNAL;
    }
    return CM_OK;
}

/* Runs a query answering one boolean into *out. */
static cm_err_t s_exec_bool(cm_db_t *db, const char *sql, int n, const char *const *params,
                            bool *out)
{
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, n, params, &err);
    if (!res)
        return err;
    *out = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_history_store_any(cm_db_t *db, const char *tenant, const char *customer_id,
                                 bool *any)
{
    const char *p[] = {tenant, customer_id};
    return s_exec_bool(db,
                       "SELECT EXISTS (SELECT 1 FROM notes.timeline "
                       "WHERE tenant_id = $1 AND customer_id = $2)",
                       2, p, any);
}

/* ---------------------------------------------------------------------- */
/* Tables                                                                  */

cm_err_t notes_history_store_table_exists(cm_db_t *db, const char *name, bool *exists)
{
    const char *p[] = {name};
    return s_exec_bool(db, "SELECT to_regclass($1) IS NOT NULL", 1, p, exists);
}

cm_err_t notes_history_store_customer_erased(cm_db_t *db, const char *tenant,
                                             const char *customer_id, bool *erased)
{
    const char *p[] = {tenant, customer_id};
    return s_exec_bool(db,
                       "SELECT EXISTS (SELECT 1 FROM notes.timeline WHERE tenant_id = $1 "
                       "  AND customer_id = $2 AND type = 'customer.deleted')",
                       2, p, erased);
}

cm_err_t notes_history_store_erase_customer(cm_db_t *db, const char *tenant,
                                            const char *customer_id)
{
    const char *p[] = {tenant, customer_id};
    cm_err_t err =
        cm_db_run(db, "DELETE FROM notes.notes WHERE tenant_id = $1 AND customer_id = $2", 2, p);
    if (!err)
        err = cm_db_run(db, "DELETE FROM notes.tasks WHERE tenant_id = $1 AND customer_id = $2", 2,
                        p);
    if (!err)
        err = cm_db_run(
            db,
            "UPDATE notes.timeline SET details = details - 'changes' - 'vatCheck' - 'merged' "
            "  || CASE WHEN details ? 'changes' THEN jsonb_build_object('changes', "
            "       (SELECT coalesce(jsonb_agg(c - 'oldValue' - 'newValue'), '[]') "
            "          FROM jsonb_array_elements(details->'changes') c)) "
            "     ELSE '{}'::jsonb END "
            /* A VAT check keeps its status and time, not the number or what VIES
             * said of the company. */
            "  || CASE WHEN details ? 'vatCheck' THEN jsonb_build_object('vatCheck', "
            "       (details->'vatCheck') - 'vatNumber' - 'name' - 'address' "
            "       - 'consultationNumber' - 'requestDate') "
            "     ELSE '{}'::jsonb END "
            /* A merge keeps the duplicate's id, not its name. */
            "  || CASE WHEN details ? 'merged' THEN jsonb_build_object('merged', "
            "       (details->'merged') - 'name') "
            "     ELSE '{}'::jsonb END "
            /* A wallet entry keeps its amounts, not the reason staff typed. */
            "  || CASE WHEN details ? 'wallet' THEN jsonb_build_object('wallet', "
            "       (details->'wallet') - 'reason') "
            "     ELSE '{}'::jsonb END "
            "WHERE tenant_id = $1 AND customer_id = $2 "
            "  AND kind IN ('CUSTOMER', 'CONSENT', 'IMPORT', 'WALLET')",
            2, p);
    /* That two records were one person goes with the person. */
    if (!err)
        err = cm_db_run(
            db, "DELETE FROM notes.merged_customers WHERE tenant_id = $1 AND into_id = $2", 2, p);
    /* The Orders bot's notes are filled with the customer's name: their text
     * goes; that an order was held or given a priority stays, as the order does. */
    if (!err)
        err = cm_db_run(db,
                        "UPDATE notes.order_instructions SET value = '' "
                        "WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'NOTE'",
                        2, p);
    /* A message keeps its channel and fate, not its subject, the reason it
     * failed (it may name the address) or the customer's reply. */
    if (!err)
        err = cm_db_run(db,
                        "UPDATE notes.timeline SET details = jsonb_set(details, '{message}', "
                        "  (details->'message') - 'subject' - 'reason' - 'reply') "
                        "WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'MESSAGE' "
                        "  AND jsonb_typeof(details->'message') = 'object'",
                        2, p);
    if (!err)
        err = cm_db_run(db,
                        "UPDATE notes.timeline SET details = jsonb_set(details, "
                        "'{orderInstruction,value}', '\"\"') "
                        "WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'ORDER_INSTRUCTION' "
                        "AND details -> 'orderInstruction' ->> 'kind' = 'NOTE'",
                        2, p);
    return err;
}

cm_err_t notes_history_store_merge(cm_db_t *db, const char *tenant, const char *keep_id,
                                   const char *merged_id, const char *event_id, bool *first)
{
    const char *p[] = {tenant, keep_id, merged_id, event_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db, "SELECT notes.merge_customer($1, $2, $3, $4) >= 0", 4, p, &err);
    if (!res)
        return err;
    *first = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!*first)
        return CM_OK;
    /* The figures' triggers (deferred to the commit) move the rows' figures
     * now, then the duplicate's emptied figures rows go. */
    static const char *const figures[] = {
        "SET CONSTRAINTS notes.figures_rows IMMEDIATE",
        "DELETE FROM notes.customer_figures WHERE tenant_id = $1 AND customer_id = $2",
        "DELETE FROM notes.customer_spent WHERE tenant_id = $1 AND customer_id = $2",
        "DELETE FROM notes.customer_services WHERE tenant_id = $1 AND customer_id = $2",
        "SET CONSTRAINTS notes.figures_rows DEFERRED",
    };
    const char *q[] = {tenant, merged_id};
    err = CM_OK;
    for (size_t i = 0; i < sizeof figures / sizeof *figures && !err; i++)
        err = cm_db_run(db, figures[i], i == 0 || i == 4 ? 0 : 2, q);
    return err;
}

cm_err_t notes_history_store_merged_into(cm_db_t *db, const char *tenant, const char *customer_id,
                                         char *into)
{
    const char *p[] = {tenant, customer_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT coalesce((SELECT into_id::text FROM notes.merged_customers "
                               "  WHERE tenant_id = $1::uuid AND merged_id = $2::uuid), $2::text)",
                               2, p, &err);
    if (!res)
        return err;
    snprintf(into, NOTES_ID_SIZE, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_history_store_idempotency_expire(cm_db_t *db, int hours)
{
    char h[16];
    snprintf(h, sizeof h, "%d", hours);
    const char *p[] = {h};
    return cm_db_run(db,
                     "DELETE FROM notes.idempotency "
                     "WHERE created_at < now() - make_interval(hours => $1::int)",
                     1, p);
}
