/* Every SQL statement of notes, tasks and task feeds. */
#include "notes_store.h"
#include "notes_validate.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* Milliseconds since the epoch of a timestamptz parameter given as text. */
#define MS_PARAM(n) "('epoch'::timestamptz + $" n "::bigint * interval '1 millisecond')"
#define MS_OF(col) "(extract(epoch FROM " col ") * 1000)::bigint"

static Crm__StaffMember *s_staff(const char *id, const char *name)
{
    Crm__StaffMember *s = (Crm__StaffMember *)cm_pb_new(&crm__staff_member__descriptor);
    cm_pb_set_str(&s->id, id);
    cm_pb_set_str(&s->name, name);
    return s;
}

static void s_etag(char **field, const char *version)
{
    cm_pb_set_str(field, version);
}

/* ---------------------------------------------------------------------- */
/* Notes                                                                   */

#define NOTE_COLUMNS                                                                               \
    "n.id, n.customer_id, n.body, n.pinned, n.author_id, n.author_name, n.edited_by_id, "          \
    "n.edited_by_name, " TS("n.created_at") ", " TS(                                               \
        "n.updated_at") ", n.version, "                                                            \
                        "(extract(epoch FROM n.created_at) * 1000000)::bigint"

static Crm__Note *s_note_from_row(const PGresult *res, int row)
{
    Crm__Note *n = (Crm__Note *)cm_pb_new(&crm__note__descriptor);
    cm_pb_set_str(&n->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&n->customer_id, PQgetvalue(res, row, 1));
    cm_pb_set_str(&n->body, PQgetvalue(res, row, 2));
    n->pinned = PQgetvalue(res, row, 3)[0] == 't';
    n->author = s_staff(PQgetvalue(res, row, 4), PQgetvalue(res, row, 5));
    if (PQgetvalue(res, row, 6)[0])
        n->edited_by = s_staff(PQgetvalue(res, row, 6), PQgetvalue(res, row, 7));
    cm_pb_set_str(&n->created_at, PQgetvalue(res, row, 8));
    cm_pb_set_str(&n->updated_at, PQgetvalue(res, row, 9));
    s_etag(&n->etag, PQgetvalue(res, row, 10));
    return n;
}

cm_err_t notes_store_note_insert(cm_db_t *db, const char *tenant, const char *id,
                                 const char *customer_id, const char *body, bool pinned,
                                 const char *author_id, const char *author_name)
{
    const char *p[] = {tenant,    id,         customer_id, body, pinned ? "true" : "false",
                       author_id, author_name};
    return cm_db_run(
        db,
        "INSERT INTO notes.notes (tenant_id, id, customer_id, body, pinned, author_id, "
        "author_name) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        7, p);
}

cm_err_t notes_store_note_get(cm_db_t *db, const char *tenant, const char *customer_id,
                              const char *id, bool for_update, Crm__Note **out)
{
    *out = NULL;
    const char *p[] = {tenant, customer_id, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               for_update ? "SELECT " NOTE_COLUMNS " FROM notes.notes n "
                                            "WHERE n.tenant_id = $1 AND n.customer_id = $2 "
                                            "AND n.id = $3 FOR UPDATE"
                                          : "SELECT " NOTE_COLUMNS " FROM notes.notes n "
                                            "WHERE n.tenant_id = $1 AND n.customer_id = $2 "
                                            "AND n.id = $3",
                               3, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_note_from_row(res, 0);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_store_note_update(cm_db_t *db, const char *tenant, const char *id, const char *body,
                                 bool pinned, bool edited, const char *editor_id,
                                 const char *editor_name)
{
    const char *p[] = {
        tenant,    id,         body, pinned ? "true" : "false", edited ? "true" : "false",
        editor_id, editor_name};
    return cm_db_run(db,
                     "UPDATE notes.notes SET body = $3, pinned = $4, "
                     "edited_by_id = CASE WHEN $5::bool THEN $6 ELSE edited_by_id END, "
                     "edited_by_name = CASE WHEN $5::bool THEN $7 ELSE edited_by_name END, "
                     "version = version + 1, updated_at = now() "
                     "WHERE tenant_id = $1 AND id = $2",
                     7, p);
}

cm_err_t notes_store_note_delete(cm_db_t *db, const char *tenant, const char *id)
{
    const char *p[] = {tenant, id};
    return cm_db_run(db, "DELETE FROM notes.notes WHERE tenant_id = $1 AND id = $2", 2, p);
}

/* Fills the text parameters of a keyset position. */
struct s_page_params {
    char flag[4], key[24];
};

static void s_page_params(const struct notes_page *after, struct s_page_params *pp,
                          const char **flag, const char **key, const char **id)
{
    *flag = *key = *id = NULL;
    if (!after || !after->set)
        return;
    snprintf(pp->flag, sizeof pp->flag, "%d", after->flag);
    snprintf(pp->key, sizeof pp->key, "%" PRId64, after->key);
    *flag = pp->flag;
    *key = pp->key;
    *id = after->id;
}

static void s_next(const PGresult *res, int row, int flag_col, int key_col, struct notes_page *next,
                   bool flag_is_bool)
{
    const char *f = PQgetvalue(res, row, flag_col);
    next->set = true;
    next->flag = flag_is_bool ? f[0] == 't' : (int)strtol(f, NULL, 10);
    next->key = strtoll(PQgetvalue(res, row, key_col), NULL, 10);
    next->id = cm_strdup(PQgetvalue(res, row, 0));
}

cm_err_t notes_store_note_list(cm_db_t *db, const char *tenant, const char *customer_id,
                               const struct notes_page *after, int limit, Crm__ListNotesResponse *r,
                               struct notes_page *next)
{
    memset(next, 0, sizeof *next);
    struct s_page_params pp;
    const char *flag, *key, *id;
    s_page_params(after, &pp, &flag, &key, &id);
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {tenant, customer_id, flag, key, id, lim};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT " NOTE_COLUMNS " FROM notes.notes n WHERE n.tenant_id = $1 AND n.customer_id = $2 "
        "AND ($3::int IS NULL OR (n.pinned::int, (extract(epoch FROM n.created_at) * "
        "1000000)::bigint, n.id) < ($3::int, $4::bigint, $5::uuid)) "
        "ORDER BY n.pinned DESC, n.created_at DESC, n.id DESC LIMIT $6",
        6, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    int take = rows > limit ? limit : rows;
    r->notes = cm_calloc((size_t)take + 1, sizeof *r->notes);
    for (int i = 0; i < take; i++)
        r->notes[r->n_notes++] = s_note_from_row(res, i);
    if (rows > limit)
        s_next(res, take - 1, 3, 11, next, true);
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Tasks                                                                   */

/* Column 16 is the keyset flag (no due date), 17 the key (due ms or 0), 18
 * whether the task is overdue: a timed one once its time has passed, an
 * all-day one (stored at 00:00 UTC of its date) once its date is before the
 * business's today in its time zone, the text parameter z. */
#define TASK_DUE_MS MS_OF("t.due_at")
#define TASK_OVERDUE(z)                                                                            \
    "(NOT t.done AND t.due_at IS NOT NULL AND CASE WHEN t.due_all_day THEN t.due_at < "            \
    "((now() AT TIME ZONE " z "::text)::date::timestamp AT TIME ZONE 'UTC') "                      \
    "ELSE t.due_at <= now() END)"
#define TASK_COLUMNS(z)                                                                            \
    "t.id, coalesce(t.customer_id::text, ''), t.customer_name, t.title, t.description, "           \
    "coalesce(" TASK_DUE_MS "::text, ''), t.due_all_day, t.assignee_id, t.assignee_name, t.done, " \
    "coalesce(" TS("t.done_at") ", ''), t.created_by_id, t.created_by_name, " TS(                  \
        "t.created_at") ", " TS("t.updated_at") ", t.version, t.due_at IS NULL, "                  \
                                                "coalesce(" TASK_DUE_MS ", 0), " TASK_OVERDUE(z)

static Crm__Task *s_task_from_row(const PGresult *res, int row)
{
    Crm__Task *t = (Crm__Task *)cm_pb_new(&crm__task__descriptor);
    cm_pb_set_str(&t->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&t->customer_id, PQgetvalue(res, row, 1));
    cm_pb_set_str(&t->customer_name, PQgetvalue(res, row, 2));
    cm_pb_set_str(&t->title, PQgetvalue(res, row, 3));
    cm_pb_set_str(&t->description, PQgetvalue(res, row, 4));
    const char *due = PQgetvalue(res, row, 5);
    if (due[0]) {
        struct notes_due d = {.ms = strtoll(due, NULL, 10),
                              .all_day = PQgetvalue(res, row, 6)[0] == 't'};
        char buf[40];
        cm_pb_set_str(&t->due_at, notes_due_format(&d, buf, sizeof buf));
    }
    t->assignee = s_staff(PQgetvalue(res, row, 7), PQgetvalue(res, row, 8));
    t->done = PQgetvalue(res, row, 9)[0] == 't';
    cm_pb_set_str(&t->done_at, PQgetvalue(res, row, 10));
    t->created_by = s_staff(PQgetvalue(res, row, 11), PQgetvalue(res, row, 12));
    cm_pb_set_str(&t->created_at, PQgetvalue(res, row, 13));
    cm_pb_set_str(&t->updated_at, PQgetvalue(res, row, 14));
    s_etag(&t->etag, PQgetvalue(res, row, 15));
    t->overdue = PQgetvalue(res, row, 18)[0] == 't';
    return t;
}

/* The text parameters of a task row: $2..$11. */
struct s_task_params {
    char due[24];
    const char *p[11];
};

static void s_task_params(const char *tenant, const struct notes_task_row *t,
                          struct s_task_params *tp)
{
    if (t->has_due)
        snprintf(tp->due, sizeof tp->due, "%" PRId64, t->due_ms);
    tp->p[0] = tenant;
    tp->p[1] = t->id;
    tp->p[2] = t->customer_id[0] ? t->customer_id : NULL;
    tp->p[3] = t->customer_name;
    tp->p[4] = t->title;
    tp->p[5] = t->description;
    tp->p[6] = t->has_due ? tp->due : NULL;
    tp->p[7] = t->has_due && t->due_all_day ? "true" : "false";
    tp->p[8] = t->assignee_id;
    tp->p[9] = t->assignee_name;
    tp->p[10] = t->done ? "true" : "false";
}

cm_err_t notes_store_task_insert(cm_db_t *db, const char *tenant, const struct notes_task_row *t)
{
    struct s_task_params tp;
    s_task_params(tenant, t, &tp);
    const char *p[13];
    memcpy(p, tp.p, sizeof tp.p);
    p[11] = t->created_by_id;
    p[12] = t->created_by_name;
    /* clang-format off */
    static const char sql[] =
        "INSERT INTO notes.tasks (tenant_id, id, customer_id, customer_name, title, "
        "  description, due_at, due_all_day, assignee_id, assignee_name, done, done_at, "
        "  created_by_id, created_by_name) "
        "VALUES ($1, $2, $3, $4, $5, $6, "
        "  CASE WHEN $7::bigint IS NULL THEN NULL ELSE " MS_PARAM("7") " END, "
        "  $8, $9, $10, $11, CASE WHEN $11::bool THEN now() END, $12, $13)";
    /* clang-format on */
    return cm_db_run(db, sql, 13, p);
}

cm_err_t notes_store_task_get(cm_db_t *db, const char *tenant, const char *id, bool for_update,
                              const char *zone, Crm__Task **out)
{
    *out = NULL;
    const char *p[] = {tenant, id, zone};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        for_update ? "SELECT " TASK_COLUMNS("$3") " FROM notes.tasks t "
                                                  "WHERE t.tenant_id = $1 AND t.id = $2 FOR UPDATE"
                   : "SELECT " TASK_COLUMNS("$3") " FROM notes.tasks t "
                                                  "WHERE t.tenant_id = $1 AND t.id = $2",
        3, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_task_from_row(res, 0);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_store_task_update(cm_db_t *db, const char *tenant, const struct notes_task_row *t)
{
    struct s_task_params tp;
    s_task_params(tenant, t, &tp);
    return cm_db_run(db,
                     "UPDATE notes.tasks SET customer_id = $3, customer_name = $4, title = $5, "
                     "description = $6, due_at = CASE WHEN $7::bigint IS NULL THEN NULL "
                     "ELSE " MS_PARAM("7") " END, due_all_day = $8, assignee_id = $9, "
                                           "assignee_name = $10, "
                                           "done_at = CASE WHEN NOT $11::bool THEN NULL "
                                           "WHEN done THEN done_at ELSE now() END, done = $11, "
                                           "version = version + 1, updated_at = now() "
                                           "WHERE tenant_id = $1 AND id = $2",
                     11, tp.p);
}

cm_err_t notes_store_task_delete(cm_db_t *db, const char *tenant, const char *id)
{
    const char *p[] = {tenant, id};
    return cm_db_run(db, "DELETE FROM notes.tasks WHERE tenant_id = $1 AND id = $2", 2, p);
}

cm_err_t notes_store_task_list(cm_db_t *db, const char *tenant, const struct notes_task_filter *f,
                               const struct notes_page *after, int limit, const char *zone,
                               Crm__ListTasksResponse *r, struct notes_page *next)
{
    memset(next, 0, sizeof *next);
    struct s_page_params pp;
    const char *flag, *key, *id;
    s_page_params(after, &pp, &flag, &key, &id);
    char lim[16], before[24], since[24];
    snprintf(lim, sizeof lim, "%d", limit + 1);
    snprintf(before, sizeof before, "%" PRId64, f->before_ms);
    snprintf(since, sizeof since, "%" PRId64, f->after_ms);
    const char *p[] = {tenant,
                       f->customer_id,
                       f->assignee_id,
                       f->done < 0 ? NULL : (f->done ? "true" : "false"),
                       f->overdue ? "true" : "false",
                       f->has_before ? before : NULL,
                       f->has_after ? since : NULL,
                       flag ? (pp.flag[0] == '1' ? "true" : "false") : NULL,
                       key,
                       id,
                       lim,
                       zone};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT " TASK_COLUMNS(
            "$12") " FROM notes.tasks t WHERE t.tenant_id = $1 "
                   "AND ($2::uuid IS NULL OR t.customer_id = $2::uuid) "
                   "AND ($3::text IS NULL OR t.assignee_id = $3) "
                   "AND ($4::bool IS NULL OR t.done = $4::bool) "
                   "AND (NOT $5::bool OR " TASK_OVERDUE(
                       "$12") ") "
                              "AND ($6::bigint IS NULL OR t.due_at < " MS_PARAM(
                                  "6") ") "
                                       "AND ($7::bigint IS NULL OR t.due_at >= " MS_PARAM(
                                           "7") ") "
                                                "AND ($8::bool IS NULL OR (t.due_at IS NULL, "
                                                "coalesce(" MS_OF(
                                                    "t.due_at") ", 0), t.id) > "
                                                                "($8::bool, $9::bigint, "
                                                                "$10::uuid)) "
                                                                "ORDER BY t.due_at IS NULL, "
                                                                "t.due_at, t.id LIMIT $11",
        12, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    int take = rows > limit ? limit : rows;
    r->tasks = cm_calloc((size_t)take + 1, sizeof *r->tasks);
    for (int i = 0; i < take; i++)
        r->tasks[r->n_tasks++] = s_task_from_row(res, i);
    if (rows > limit)
        s_next(res, take - 1, 16, 17, next, true);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_store_task_calendar(cm_db_t *db, const char *tenant, const char *assignee_id,
                                   int done_days, int limit, const char *zone,
                                   Crm__ListTasksResponse *r)
{
    char days[16], lim[16];
    snprintf(days, sizeof days, "%d", done_days);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = {tenant, assignee_id, days, lim, zone};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT " TASK_COLUMNS(
                       "$5") " FROM notes.tasks t "
                             "WHERE t.tenant_id = $1 "
                             "AND t.assignee_id = $2 AND (NOT t.done OR t.done_at > now() - "
                             "$3::int * interval '1 day') "
                             "ORDER BY t.due_at IS NULL, t.due_at, t.id LIMIT $4",
                   5, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    r->tasks = cm_calloc((size_t)rows + 1, sizeof *r->tasks);
    for (int i = 0; i < rows; i++)
        r->tasks[r->n_tasks++] = s_task_from_row(res, i);
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Task feeds                                                              */

#define FEED_COLUMNS                                                                               \
    "f.id, f.assignee_id, f.assignee_name, f.component, f.base_url, f.created_by_id, "             \
    "f.created_by_name, " TS("f.created_at") ", f.tenant_id"

static Crm__TaskFeed *s_feed_from_row(const PGresult *res, int row)
{
    Crm__TaskFeed *f = (Crm__TaskFeed *)cm_pb_new(&crm__task_feed__descriptor);
    cm_pb_set_str(&f->id, PQgetvalue(res, row, 0));
    f->assignee = s_staff(PQgetvalue(res, row, 1), PQgetvalue(res, row, 2));
    cm_pb_set_str(&f->component, PQgetvalue(res, row, 3));
    cm_pb_set_str(&f->base_url, PQgetvalue(res, row, 4));
    f->created_by = s_staff(PQgetvalue(res, row, 5), PQgetvalue(res, row, 6));
    cm_pb_set_str(&f->created_at, PQgetvalue(res, row, 7));
    return f;
}

cm_err_t notes_store_feed_insert(cm_db_t *db, const char *tenant, const Crm__TaskFeed *f,
                                 const uint8_t hash[32])
{
    const char *p[] = {
        tenant,       f->id,       (const char *)hash, f->assignee->id,    f->assignee->name,
        f->component, f->base_url, f->created_by->id,  f->created_by->name};
    int len[] = {0, 0, 32, 0, 0, 0, 0, 0, 0};
    int fmt[] = {0, 0, 1, 0, 0, 0, 0, 0, 0};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(db,
                                   "INSERT INTO notes.task_feeds (tenant_id, id, token_hash, "
                                   "assignee_id, assignee_name, component, base_url, "
                                   "created_by_id, created_by_name) "
                                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                                   9, p, len, fmt, 0, &err);
    PQclear(res);
    return err;
}

cm_err_t notes_store_feed_list(cm_db_t *db, const char *tenant, const char *assignee_id,
                               Crm__ListTaskFeedsResponse *r)
{
    const char *p[] = {tenant, assignee_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " FEED_COLUMNS " FROM notes.task_feeds f "
                               "WHERE f.tenant_id = $1 AND ($2::text IS NULL OR "
                               "f.assignee_id = $2) ORDER BY f.created_at DESC, f.id LIMIT 1000",
                               2, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    r->feeds = cm_calloc((size_t)rows + 1, sizeof *r->feeds);
    for (int i = 0; i < rows; i++)
        r->feeds[r->n_feeds++] = s_feed_from_row(res, i);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_store_feed_get(cm_db_t *db, const char *tenant, const char *id, Crm__TaskFeed **out)
{
    *out = NULL;
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " FEED_COLUMNS " FROM notes.task_feeds f "
                               "WHERE f.tenant_id = $1 AND f.id = $2",
                               2, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_feed_from_row(res, 0);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_store_feed_delete(cm_db_t *db, const char *tenant, const char *id)
{
    const char *p[] = {tenant, id};
    return cm_db_run(db, "DELETE FROM notes.task_feeds WHERE tenant_id = $1 AND id = $2", 2, p);
}

cm_err_t notes_store_feed_by_token(cm_db_t *db, const uint8_t hash[32], Crm__TaskFeed **out,
                                   char *tenant_out)
{
    *out = NULL;
    tenant_out[0] = '\0';
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", hash[i]);
    const char *p[] = {hex};
    cm_err_t err = cm_db_run(db, "SELECT set_config('app.feed_token', $1, true)", 1, p);
    if (err)
        return err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " FEED_COLUMNS " FROM notes.task_feeds f "
                               "WHERE f.token_hash = decode($1, 'hex')",
                               1, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1) {
        *out = s_feed_from_row(res, 0);
        snprintf(tenant_out, NOTES_ID_SIZE, "%s", PQgetvalue(res, 0, 8));
    }
    PQclear(res);
    if (!*out)
        return CM_OK;
    /* From here on the transaction sees the feed's tenant only. */
    const char *q[] = {tenant_out};
    err = cm_db_run(db,
                    "SELECT set_config('app.feed_token', '', true), "
                    "set_config('app.tenant', $1, true)",
                    1, q);
    if (err) {
        protobuf_c_message_free_unpacked(&(*out)->base, NULL);
        *out = NULL;
    }
    return err;
}
