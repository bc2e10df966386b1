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
#define READER_ACK_MS 10000 /* how often the follower tells an owner where it is */

struct cm_follow {
    const struct cm_follow_def *def;              // borrowed (caller)
    cm_events_sub_t *subs[CM_FOLLOW_STREAMS_MAX]; // owned: each followed stream, while we lead
    cm_db_t *db;                                  // borrowed (cm_svc): the tick's connection
    bool resync;       // the database's cursor may differ from the subscriber's: start again
    char *sql_get;     // owned
    char *sql_advance; // owned
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
    self->sql_advance = cm_strfmt("UPDATE %s SET last_seq = $2::bigint "
                                  "WHERE stream = $1 AND last_seq = $2::bigint - 1 RETURNING 1",
                                  def->cursor_table);
    return self;
}

static void s_unfollow(cm_follow_t *self)
{
    for (size_t i = 0; i < self->def->n_streams; i++)
        cm_events_sub_destroy(&self->subs[i]);
}

void cm_follow_destroy(cm_follow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cm_follow_t *self = *self_p;
    s_unfollow(self);
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

static cm_err_t s_cursor_advance(cm_follow_t *self, const char *stream, uint64_t seq,
                                 bool *advanced)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRIu64, seq);
    const char *p[] = {stream, s};
    cm_err_t err;
    PGresult *res = cm_db_exec(self->db, self->sql_advance, 2, p, &err);
    if (!res)
        return err;
    *advanced = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

static int s_apply(void *ud, const Crm__Event *ev)
{
    cm_follow_t *self = ud;
    cm_db_t *db = self->db;
    bool advanced = false;
    cm_err_t err = cm_db_begin(db, ev->tenant_id[0] ? ev->tenant_id : NULL);
    if (!err)
        err = s_cursor_advance(self, ev->stream, ev->seq, &advanced);
    if (!err && advanced)
        err = self->def->apply(self->def->ud, db, ev);
    if (!err && advanced)
        err = cm_db_commit(db);
    if (err) {
        cm_log_warn("could not apply %s event seq=%" PRIu64 ": %s", ev->stream, ev->seq,
                    cm_db_error(db));
        cm_db_rollback(db);
        /* A lost connection also lost the leader's lock: lead again, from the
         * cursors as the database has them. */
        self->resync = true;
        return -1;
    }
    if (advanced)
        return 0;
    cm_db_rollback(db);
    /* Another copy applied it (it led while our connection was away). */
    uint64_t cur = 0;
    if (s_cursor_get(self, ev->stream, &cur))
        return -1;
    if (cur >= ev->seq)
        return 0;
    /* The cursor is behind what this follower applied: the database lost
     * commits (a crash with asynchronous commits, a restore). Follow again
     * from where the database is, or the next event never applies. */
    cm_log_warn("the %s cursor of %s is at %" PRIu64 ", behind seq %" PRIu64
                ": following again from the cursor",
                self->def->reader, ev->stream, cur, ev->seq - 1);
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

/* Becomes the copy that applies the streams, when none is: one subscriber
 * per stream from its cursor. Returns true when leading. */
static bool s_lead(cm_follow_t *self, cm_svc_t *svc)
{
    int64_t now = cm_mono_ms();
    if (now < self->next_lead_try_ms)
        return false;
    self->next_lead_try_ms = now + LEAD_RETRY_MS;
    bool leader = false;
    if (cm_db_connect(self->db) || s_try_lead(self, &leader) || !leader)
        return false;
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

void cm_follow_tick(cm_follow_t *self, cm_svc_t *svc, int budget_ms)
{
    self->db = cm_svc_db(svc);
    if (self->subs[0] && self->resync)
        s_unfollow(self);
    self->resync = false;
    if (!self->subs[0] && !s_lead(self, svc))
        return;
    int64_t until = cm_mono_ms() + budget_ms;
    for (size_t i = 0; i < self->def->n_streams && !self->resync; i++)
        while (cm_mono_ms() < until && !self->resync)
            if (cm_events_sub_poll(self->subs[i], 0) <= 0)
                break;
}
