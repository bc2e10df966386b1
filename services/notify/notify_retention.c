/* What notify keeps, and for how long (notify_retention.h). */
#include "notify_retention.h"
#include "notify_handlers.h"
#include "notify_register_store.h"
#include "notify_store.h"
#include "cm_log.h"
#include "cm_outbox.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 1000
#define EVERY_MAX_MS (10 * 60 * 1000L)
#define EVERY_MIN_MS 1000L
#define BACKLOG_MS 1000L /* a full batch: the next one a second later */
#define REGISTRATIONS_EVERY_MS 10000L

/* How often a retention of hours is looked after: a tenth of it, within bounds. */
static long s_every_ms(long hours)
{
    long ms = hours * 3600 * 100; /* a tenth */
    return ms < EVERY_MIN_MS ? EVERY_MIN_MS : ms > EVERY_MAX_MS ? EVERY_MAX_MS : ms;
}

static long s_outbox(cm_db_t *db, const struct notify_state *st)
{
    long deleted = 0;
    uint64_t gone = 0;
    char held[200];
    cm_err_t err = cm_outbox_prune(db, &notify_outbox, st->outbox_retain_hours * 3600,
                                   st->outbox_readers, BATCH, &deleted, &gone, held, sizeof held);
    if (err)
        cm_log_warn("could not prune the outbox: %s", cm_db_error(db));
    else if (!strncmp(held, "unregistered", 12))
        cm_log_info("outbox: nothing deleted, a reader has not registered yet (%s)", held);
    else if (deleted)
        cm_log_info("outbox: deleted %ld events; events up to seq %" PRIu64 " are gone%s%s",
                    deleted, gone, *held ? "; held back by " : "", held);
    else
        cm_log_debug("outbox: nothing to delete; events up to seq %" PRIu64 " are gone%s%s", gone,
                     *held ? "; held back by " : "", held);
    return err ? 0 : deleted;
}

/* One tenant's share of a batch: its messages' bodies dropped and their rows
 * removed, in one transaction of the tenant. */
static cm_err_t s_drop_bodies(cm_db_t *db, const char *tenant, const char *ids)
{
    const char *p[] = {ids};
    cm_err_t err = cm_db_begin(db, tenant);
    if (!err)
        err = cm_db_run(db,
                        "UPDATE notify.messages SET body_text = '', body_html = '', "
                        "body_dropped_at = now() WHERE id = ANY($1::uuid[]) AND status = 'SENT'",
                        1, p);
    if (!err)
        err = cm_db_run(db, "DELETE FROM notify.sent_bodies WHERE message_id = ANY($1::uuid[])", 1,
                        p);
    if (!err)
        err = cm_db_commit(db);
    if (err)
        cm_db_rollback(db);
    return err;
}

static long s_bodies(cm_db_t *db, const struct notify_state *st)
{
    char keep[24], lim[16];
    snprintf(keep, sizeof keep, "%ld", st->body_retain_hours * 3600);
    snprintf(lim, sizeof lim, "%d", BATCH);
    const char *p[] = {keep, lim};
    cm_err_t err = cm_db_use_tenant(db, NULL);
    PGresult *res = err ? NULL
                        : cm_db_exec(db,
                                     "SELECT tenant_id, array_agg(message_id)::text, count(*) "
                                     "FROM (SELECT tenant_id, message_id FROM notify.sent_bodies "
                                     "WHERE sent_at <= now() - $1::bigint * interval '1 second' "
                                     "ORDER BY sent_at LIMIT $2::int) b GROUP BY tenant_id",
                                     2, p, &err);
    if (!res) {
        cm_log_warn("could not find the bodies to drop: %s", cm_db_error(db));
        return 0;
    }
    long dropped = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        if (s_drop_bodies(db, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1))) {
            cm_log_warn("could not drop the bodies of sent messages: %s", cm_db_error(db));
            break;
        }
        dropped += strtol(PQgetvalue(res, i, 2), NULL, 10);
    }
    PQclear(res);
    if (dropped)
        cm_log_info("dropped the text of %ld messages sent more than %ld hours ago", dropped,
                    st->body_retain_hours);
    return dropped;
}

/* Registrations nobody needs any more: expired, and out of the limits' window. */
static long s_registrations(cm_db_t *db, const struct notify_state *st)
{
    long deleted = 0;
    cm_err_t err = cm_db_use_tenant(db, NULL);
    if (!err)
        err = notify_register_store_prune(db, st->registration_window_s, BATCH, &deleted);
    if (err) {
        cm_log_warn("could not remove expired registrations: %s", cm_db_error(db));
        return 0;
    }
    if (deleted)
        cm_log_info("removed %ld expired registrations", deleted);
    return deleted;
}

void notify_retention_tick(cm_svc_t *svc, struct notify_state *st)
{
    int64_t now = cm_mono_ms();
    cm_db_t *db = cm_svc_db(svc);
    if (st->outbox_retain_hours >= 0 && now >= st->next_outbox_prune_ms) {
        long n = s_outbox(db, st);
        st->next_outbox_prune_ms =
            now + (n >= BATCH ? BACKLOG_MS : s_every_ms(st->outbox_retain_hours));
    }
    if (st->body_retain_hours >= 0 && now >= st->next_body_prune_ms) {
        long n = s_bodies(db, st);
        st->next_body_prune_ms =
            now + (n >= BATCH ? BACKLOG_MS : s_every_ms(st->body_retain_hours));
    }
    if (now >= st->next_registration_prune_ms) {
        long n = s_registrations(db, st);
        st->next_registration_prune_ms = now + (n >= BATCH ? BACKLOG_MS : REGISTRATIONS_EVERY_MS);
    }
}
