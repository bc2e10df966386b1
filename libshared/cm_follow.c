/* Following event streams durably (cm_follow.h). */
#include "cm_follow.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_util.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEAD_RETRY_MS 2000
#define BATCH_MAX 256       /* events applied in one transaction at most */
#define READER_ACK_MS 10000 /* how often the follower tells an owner where it is */

struct cm_follow {
    const struct cm_follow_def *def;                  // borrowed (caller)
    cm_events_sub_t *subs[CM_FOLLOW_STREAMS_MAX];     // owned: each followed stream, while we lead
    cm_events_sub_t *watchers[CM_FOLLOW_STREAMS_MAX]; // owned: each stream, while we do not
    cm_db_t *db;                                      // borrowed (cm_svc): the tick's connection
    bool resync;   // the database's cursor may differ from the subscriber's: start again
    bool in_batch; // a transaction holds the events applied since the last commit
    int batch_n;   // how many
    /* Per stream: the cursor as the batch found it, and the last seq the
     * batch applied (equal: none of the stream's in the batch). */
    uint64_t batch_from[CM_FOLLOW_STREAMS_MAX];
    uint64_t batch_to[CM_FOLLOW_STREAMS_MAX];
    char batch_tenant[64]; // the tenant app.tenant is set to in it ("" none)
    char *sql_get;         // owned
    char *sql_advance;     // owned
    int64_t next_lead_try_ms;
};

static bool s_ident_ok(const char *s)
{
    for (; *s; s++)
        if (!cm_ascii_lower((unsigned char)*s) && *s != '_' && *s != '.')
            return false;
    return true;
}

cm_follow_t *cm_follow_new(const struct cm_follow_def *def)
{
    assert(def && def->apply && def->n_streams >= 1 && def->n_streams <= CM_FOLLOW_STREAMS_MAX);
    /* The table's name is the caller's constant, never input: it is the one
     * part of these statements that cannot be a parameter. */
    assert(s_ident_ok(def->cursor_table));
    cm_follow_t *self = cm_malloc(sizeof *self);
    memset(self, 0, sizeof *self);
    self->def = def;
    self->sql_get = cm_strfmt("SELECT last_seq FROM %s WHERE stream = $1", def->cursor_table);
    self->sql_advance = cm_strfmt("UPDATE %s SET last_seq = $3::bigint "
                                  "WHERE stream = $1 AND last_seq = $2::bigint RETURNING 1",
                                  def->cursor_table);
    return self;
}

static void s_unfollow(cm_follow_t *self)
{
    for (size_t i = 0; i < self->def->n_streams; i++)
        cm_events_sub_destroy(&self->subs[i]);
}

static void s_unwatch(cm_follow_t *self)
{
    for (size_t i = 0; i < self->def->n_streams; i++)
        cm_events_sub_destroy(&self->watchers[i]);
}

void cm_follow_destroy(cm_follow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cm_follow_t *self = *self_p;
    s_unfollow(self);
    s_unwatch(self);
    free(self->sql_get);
    free(self->sql_advance);
    free(self);
    *self_p = NULL;
}

bool cm_follow_leading(const cm_follow_t *self)
{
    return self->subs[0] != NULL;
}

static cm_err_t s_cursor_get(cm_follow_t *self, const char *stream, uint64_t *seq)
{
    const char *p[] = {stream};
    cm_err_t err;
    PGresult *res = cm_db_exec(self->db, self->sql_get, 1, p, &err);
    if (!res)
        return err;
    *seq = PQntuples(res) == 1 ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return CM_OK;
}

/* Moves stream's cursor from `from` to `to`; *advanced false when it was not
 * at `from` (another copy moved it). */
static cm_err_t s_cursor_advance(cm_follow_t *self, const char *stream, uint64_t from, uint64_t to,
                                 bool *advanced)
{
    char f[24], t[24];
    snprintf(f, sizeof f, "%" PRIu64, from);
    snprintf(t, sizeof t, "%" PRIu64, to);
    const char *p[] = {stream, f, t};
    cm_err_t err;
    PGresult *res = cm_db_exec(self->db, self->sql_advance, 3, p, &err);
    if (!res)
        return err;
    *advanced = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

static void s_batch_end(cm_follow_t *self)
{
    self->in_batch = false;
    self->batch_n = 0;
    memset(self->batch_from, 0, sizeof self->batch_from);
    memset(self->batch_to, 0, sizeof self->batch_to);
}

/* The cursor of each stream the batch applied events of moves once, from
 * where the batch found it to its last event, in the batch's transaction. A
 * cursor that is elsewhere was moved by another copy (it led while our
 * connection was away): the batch is rolled back, and the cursor as the
 * database has it decides where to follow from. */
static cm_err_t s_cursors_advance(cm_follow_t *self)
{
    for (size_t i = 0; i < self->def->n_streams; i++) {
        if (self->batch_to[i] == self->batch_from[i])
            continue;
        bool advanced = false;
        cm_err_t err = s_cursor_advance(self, self->def->streams[i], self->batch_from[i],
                                        self->batch_to[i], &advanced);
        if (err)
            return err;
        if (!advanced) {
            cm_log_warn("the %s cursor of %s is no longer at %" PRIu64
                        ": following again from the cursor",
                        self->def->reader, self->def->streams[i], self->batch_from[i]);
            return CM_ERR_CONFLICT;
        }
    }
    return CM_OK;
}

/* Ends the batch: moves the cursors and commits what it applied. A failure
 * loses every event of the batch, which the subscriber counts as applied:
 * follow again from the cursors as the database has them. */
static cm_err_t s_flush(cm_follow_t *self)
{
    if (!self->in_batch)
        return CM_OK;
    cm_err_t err = s_cursors_advance(self);
    s_batch_end(self);
    if (!err) {
        err = cm_db_commit(self->db);
        if (err)
            cm_log_warn("could not commit the %s reader's batch: %s", self->def->reader,
                        cm_db_error(self->db));
    }
    if (err) {
        cm_db_rollback(self->db);
        self->resync = true;
    }
    return err;
}

/* Opens the batch's transaction, or points the open one at ev's tenant:
 * events of several tenants share a transaction, each applied under its own
 * tenant (a transaction-local app.tenant). */
static cm_err_t s_enter(cm_follow_t *self, const char *tenant)
{
    if (!self->in_batch) {
        cm_err_t err = cm_db_begin(self->db, tenant[0] ? tenant : NULL);
        if (err)
            return err;
        self->in_batch = true;
        self->batch_n = 0;
    } else if (strcmp(self->batch_tenant, tenant) != 0) {
        const char *p[] = {tenant};
        cm_err_t err = cm_db_run(self->db, "SELECT set_config('app.tenant', $1, true)", 1, p);
        if (err)
            return err;
    }
    snprintf(self->batch_tenant, sizeof self->batch_tenant, "%s", tenant);
    return CM_OK;
}

static int s_apply(void *ud, const Crm__Event *ev)
{
    cm_follow_t *self = ud;
    cm_db_t *db = self->db;
    size_t i = 0;
    while (i < self->def->n_streams && strcmp(self->def->streams[i], ev->stream) != 0)
        i++;
    if (i == self->def->n_streams || ev->seq == 0)
        return -1; /* not a stream this follower subscribed to */
    const char *tenant = strlen(ev->tenant_id) < sizeof self->batch_tenant ? ev->tenant_id : "";
    cm_err_t err = s_enter(self, tenant);
    if (!err && self->batch_to[i] == self->batch_from[i]) {
        /* The subscriber delivers each stream in seq order, each event once,
         * from the cursor: the batch's first event of it is one past it. */
        self->batch_from[i] = ev->seq - 1;
        self->batch_to[i] = ev->seq - 1;
    }
    if (!err && ev->seq != self->batch_to[i] + 1)
        err = CM_ERR_INTERNAL;
    if (!err)
        err = self->def->apply(self->def->ud, db, ev);
    if (!err) {
        self->batch_to[i] = ev->seq;
        if (++self->batch_n >= BATCH_MAX)
            return s_flush(self) ? -1 : 0;
        return 0;
    }
    cm_log_warn("could not apply %s event seq=%" PRIu64 ": %s", ev->stream, ev->seq,
                cm_db_error(db));
    cm_db_rollback(db);
    s_batch_end(self);
    /* A lost connection also lost the leader's lock, and the batch's earlier
     * events are gone too: lead again, from the cursors as the database has
     * them. */
    self->resync = true;
    return -1;
}

static cm_err_t s_try_lead(cm_follow_t *self, bool *leader)
{
    const char *p[] = {self->def->cursor_table};
    cm_err_t err;
    PGresult *res = cm_db_exec(self->db, "SELECT pg_try_advisory_lock(hashtext($1))", 1, p, &err);
    if (!res)
        return err;
    *leader = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return CM_OK;
}

/* A copy that does not lead watches each stream it does not yet watch, from
 * the cursor as the leader left it (def.watch; nothing without one). */
static void s_watch(cm_follow_t *self, cm_svc_t *svc)
{
    const struct cm_follow_def *def = self->def;
    for (size_t i = 0; def->watch && i < def->n_streams; i++) {
        uint64_t seq = 0;
        if (self->watchers[i])
            continue;
        if (s_cursor_get(self, def->streams[i], &seq))
            return;
        self->watchers[i] = cm_events_sub_new(cm_svc_zctx(svc), def->events_out, def->bus,
                                              def->streams[i], seq, def->watch, def->ud);
    }
}

/* Becomes the copy that applies the streams, when none is: one subscriber
 * per stream from its cursor. Returns true when leading. While another copy
 * leads, watches instead (s_watch). */
static bool s_lead(cm_follow_t *self, cm_svc_t *svc)
{
    int64_t now = cm_mono_ms();
    if (now < self->next_lead_try_ms)
        return false;
    self->next_lead_try_ms = now + LEAD_RETRY_MS;
    bool leader = false;
    if (cm_db_connect(self->db) || s_try_lead(self, &leader))
        return false;
    if (!leader) {
        s_watch(self, svc);
        return false;
    }
    s_unwatch(self);
    const struct cm_follow_def *def = self->def;
    for (size_t i = 0; i < def->n_streams; i++) {
        uint64_t seq = 0;
        if (s_cursor_get(self, def->streams[i], &seq))
            break;
        self->subs[i] = cm_events_sub_new(cm_svc_zctx(svc), def->events_out, def->bus,
                                          def->streams[i], seq, s_apply, self);
        if (!self->subs[i])
            break;
        /* The cursor commits with each event applied, so the owner may drop
         * what is behind it, never what is ahead. */
        cm_events_sub_set_reader(self->subs[i], def->reader, READER_ACK_MS);
        cm_log_info("following the %s stream from seq %" PRIu64, def->streams[i], seq);
    }
    if (!self->subs[def->n_streams - 1]) {
        s_unfollow(self);
        return false;
    }
    return true;
}

/* Delivers what the watchers have ready, for up to budget_ms. A watcher
 * whose next events the owner no longer keeps goes; the next try to lead
 * watches again from the cursor. */
static void s_watch_poll(cm_follow_t *self, int budget_ms)
{
    int64_t until = cm_mono_ms() + budget_ms;
    for (size_t i = 0; i < self->def->n_streams; i++) {
        if (!self->watchers[i])
            continue;
        while (cm_mono_ms() < until)
            if (cm_events_sub_poll(self->watchers[i], 0) <= 0)
                break;
        if (cm_events_sub_gone(self->watchers[i]))
            cm_events_sub_destroy(&self->watchers[i]);
    }
}

void cm_follow_tick(cm_follow_t *self, cm_svc_t *svc, int budget_ms)
{
    self->db = cm_svc_db(svc);
    if (self->subs[0] && self->resync)
        s_unfollow(self);
    self->resync = false;
    if (!self->subs[0] && !s_lead(self, svc)) {
        s_watch_poll(self, budget_ms);
        return;
    }
    /* What is ready is applied in one transaction (up to BATCH_MAX events
     * a commit), committed before the tick returns: a commit's wait for the
     * disk is shared by the events of a busy moment. */
    int64_t until = cm_mono_ms() + budget_ms;
    for (size_t i = 0; i < self->def->n_streams && !self->resync; i++)
        while (cm_mono_ms() < until && !self->resync)
            if (cm_events_sub_poll(self->subs[i], 0) <= 0)
                break;
    (void)s_flush(self);
}
