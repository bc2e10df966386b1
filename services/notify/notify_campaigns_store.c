/* Newsletters' SQL (notify_campaigns_store.h). */
#include "notify_campaigns_store.h"
#include "notify_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The columns s_campaign reads, in its order: the campaign c and the counts
 * of its recipients' messages. */
#define CAMPAIGN_SELECT                                                                            \
    "SELECT c.id, c.name, c.channel, c.audience_group, c.audience_tag, c.subject, c.body_text, "   \
    "c.body_html, c.status, c.total, c.skipped_no_consent, c.skipped_no_address, c.rate, " TS(     \
        "c.created_at") ", coalesce(" TS("c.cancelled_at") ", " TS("greatest(n.last_end, "         \
                                                                   "c.expanded_at)") ", ''), "     \
                                                                                     "n.queued, "  \
                                                                                     "n.sent, "    \
                                                                                     "n.failed, "  \
                                                                                     "n."          \
                                                                                     "cancelled, " \
                                                                                     "n.pending, " \
                                                                                     "(extract("   \
                                                                                     "epoch FROM " \
                                                                                     "c.created_"  \
                                                                                     "at) * "      \
                                                                                     "1000000)::"  \
                                                                                     "bigint "     \
                                                                                     "FROM "       \
                                                                                     "notify."     \
                                                                                     "campaigns "  \
                                                                                     "c CROSS "    \
                                                                                     "JOIN "       \
                                                                                     "LATERAL "    \
                                                                                     "(SELECT "    \
                                                                                     "count(r."    \
                                                                                     "message_id)" \
                                                                                     " AS "        \
                                                                                     "queued, "    \
                                                                                     "count(*) "   \
                                                                                     "FILTER "     \
                                                                                     "(WHERE "     \
                                                                                     "m.status = " \
                                                                                     "'SENT' OR "  \
                                                                                     "m.status = " \
                                                                                     "'REPLIED') " \
                                                                                     "AS "         \
                                                                                     "sent, "      \
                                                                                     "count(*) "   \
                                                                                     "FILTER "     \
                                                                                     "(WHERE "     \
                                                                                     "m.status = " \
                                                                                     "'FAILED' "   \
                                                                                     "AND NOT "    \
                                                                                     "r."          \
                                                                                     "cancelled) " \
                                                                                     "AS failed, " \
                                                                                     "count(*) "   \
                                                                                     "FILTER "     \
                                                                                     "(WHERE "     \
                                                                                     "r."          \
                                                                                     "cancelled) " \
                                                                                     "AS "         \
                                                                                     "cancelled, " \
                                                                                     "count(*) "   \
                                                                                     "FILTER "     \
                                                                                     "(WHERE "     \
                                                                                     "m.status = " \
                                                                                     "'QUEUED') "  \
                                                                                     "AS "         \
                                                                                     "pending, "   \
                                                                                     "max("        \
                                                                                     "coalesce(m." \
                                                                                     "sent_at, "   \
                                                                                     "m.failed_"   \
                                                                                     "at)) AS "    \
                                                                                     "last_end "   \
                                                                                     "FROM "       \
                                                                                     "notify."     \
                                                                                     "campaign_"   \
                                                                                     "recipients " \
                                                                                     "r LEFT "     \
                                                                                     "JOIN "       \
                                                                                     "notify."     \
                                                                                     "messages m " \
                                                                                     "ON m.id = "  \
                                                                                     "r.message_"  \
                                                                                     "id "         \
                                                                                     "WHERE "      \
                                                                                     "r.campaign_" \
                                                                                     "id = c.id) " \
                                                                                     "n "
#define CAMPAIGN_US_COLUMN 20

static int32_t s_int(const PGresult *res, int row, int col)
{
    return (int32_t)strtol(PQgetvalue(res, row, col), NULL, 10);
}

static Crm__Campaign *s_campaign(const PGresult *res, int row)
{
    Crm__Campaign *c = (Crm__Campaign *)cm_pb_new(&crm__campaign__descriptor);
    int k = 0;
    cm_pb_set_str(&c->id, PQgetvalue(res, row, k++));
    cm_pb_set_str(&c->name, PQgetvalue(res, row, k++));
    c->channel = !strcmp(PQgetvalue(res, row, k++), "SMS") ? CRM__CHANNEL__CHANNEL_SMS
                                                           : CRM__CHANNEL__CHANNEL_EMAIL;
    cm_pb_set_str(&c->group, PQgetvalue(res, row, k++));
    cm_pb_set_str(&c->tag, PQgetvalue(res, row, k++));
    cm_pb_set_str(&c->subject, PQgetvalue(res, row, k++));
    cm_pb_set_str(&c->text, PQgetvalue(res, row, k++));
    cm_pb_set_str(&c->html, PQgetvalue(res, row, k++));
    const char *status = PQgetvalue(res, row, k++);
    c->total = s_int(res, row, k++);
    c->skipped_no_consent = s_int(res, row, k++);
    c->skipped_no_address = s_int(res, row, k++);
    c->rate = s_int(res, row, k++);
    cm_pb_set_str(&c->created_at, PQgetvalue(res, row, k++));
    const char *finished = PQgetvalue(res, row, k++);
    c->queued = s_int(res, row, k++);
    c->sent = s_int(res, row, k++);
    c->failed = s_int(res, row, k++);
    c->cancelled = s_int(res, row, k++);
    int32_t pending = s_int(res, row, k++);
    /* DONE is not stored: a campaign SENDING with nothing left in the queue is done. */
    if (!strcmp(status, "CANCELLED"))
        c->status = CRM__CAMPAIGN_STATUS__CAMPAIGN_STATUS_CANCELLED;
    else if (!strcmp(status, "EXPANDING"))
        c->status = CRM__CAMPAIGN_STATUS__CAMPAIGN_STATUS_EXPANDING;
    else if (pending)
        c->status = CRM__CAMPAIGN_STATUS__CAMPAIGN_STATUS_SENDING;
    else
        c->status = CRM__CAMPAIGN_STATUS__CAMPAIGN_STATUS_DONE;
    if (c->status == CRM__CAMPAIGN_STATUS__CAMPAIGN_STATUS_DONE ||
        c->status == CRM__CAMPAIGN_STATUS__CAMPAIGN_STATUS_CANCELLED)
        cm_pb_set_str(&c->finished_at, finished);
    return c;
}

cm_err_t notify_campaigns_store_create(cm_db_t *db, const char *tenant, const Crm__Campaign *c,
                                       int rate)
{
    char r[16];
    snprintf(r, sizeof r, "%d", rate);
    const char *p[] = {
        tenant,   c->id,  c->name,    c->channel == CRM__CHANNEL__CHANNEL_SMS ? "SMS" : "EMAIL",
        c->group, c->tag, c->subject, c->text,
        c->html,  r};
    cm_err_t err = cm_db_run(db,
                             "INSERT INTO notify.campaigns (tenant_id, id, name, channel, "
                             "audience_group, audience_tag, subject, body_text, body_html, rate) "
                             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::int)",
                             10, p);
    if (err)
        return err;
    const char *wp[] = {c->id, tenant};
    return cm_db_run(
        db, "INSERT INTO notify.campaign_work (campaign_id, tenant_id) VALUES ($1, $2)", 2, wp);
}

cm_err_t notify_campaigns_store_get(cm_db_t *db, const char *id, Crm__Campaign **out)
{
    const char *p[] = {id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db, CAMPAIGN_SELECT "WHERE c.id = $1::uuid", 1, p, &err);
    if (!res)
        return err;
    err = PQntuples(res) == 1 ? CM_OK : CM_ERR_NOT_FOUND;
    if (!err)
        *out = s_campaign(res, 0);
    PQclear(res);
    return err;
}

cm_err_t notify_campaigns_store_list(cm_db_t *db, int limit, int64_t after_us, const char *after_id,
                                     Crm__ListCampaignsResponse *resp, int64_t *next_us,
                                     char *next_id)
{
    char lim[16], us[24];
    snprintf(lim, sizeof lim, "%d", limit + 1);
    snprintf(us, sizeof us, "%" PRId64, after_us);
    const char *p[] = {lim, after_id ? us : NULL, after_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        CAMPAIGN_SELECT "WHERE $2::bigint IS NULL OR (c.created_at, c.id) < "
                        "(timestamptz 'epoch' + $2::bigint * interval '1 microsecond', $3::uuid) "
                        "ORDER BY c.created_at DESC, c.id DESC LIMIT $1::int",
        3, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    int take = rows > limit ? limit : rows;
    resp->campaigns = take ? cm_calloc((size_t)take, sizeof *resp->campaigns) : NULL;
    for (int i = 0; i < take; i++)
        resp->campaigns[resp->n_campaigns++] = s_campaign(res, i);
    next_id[0] = '\0';
    if (rows > limit) {
        *next_us = strtoll(PQgetvalue(res, take - 1, CAMPAIGN_US_COLUMN), NULL, 10);
        snprintf(next_id, 40, "%s", PQgetvalue(res, take - 1, 0));
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_campaigns_store_cancel(cm_db_t *db, const char *id, bool *found, bool *cancelled)
{
    const char *p[] = {id};
    cm_err_t err;
    *found = *cancelled = false;
    /* The campaign's row is locked first, in a statement of its own: the
     * check below then runs with a snapshot taken after whatever held the
     * lock (an expansion queueing recipients) committed, so it sees what that
     * queued. (Locking in the same statement would re-read the row's new
     * status but judge the queue by the older snapshot.) */
    PGresult *res =
        cm_db_exec(db, "SELECT 1 FROM notify.campaigns WHERE id = $1::uuid FOR UPDATE", 1, p, &err);
    if (!res)
        return err;
    *found = PQntuples(res) == 1;
    PQclear(res);
    if (!*found)
        return CM_OK;
    /* A campaign sending with nothing left in the queue is done: nothing to cancel. */
    res = cm_db_exec(db,
                     "UPDATE notify.campaigns SET status = 'CANCELLED', cancelled_at = now() "
                     "WHERE id = $1::uuid AND (status = 'EXPANDING' OR (status = 'SENDING' AND "
                     "EXISTS (SELECT 1 FROM notify.campaign_recipients r JOIN notify.queue q ON "
                     "q.message_id = r.message_id WHERE r.campaign_id = $1::uuid))) RETURNING id",
                     1, p, &err);
    if (!res)
        return err;
    *cancelled = PQntuples(res) == 1;
    PQclear(res);
    if (!*cancelled)
        return CM_OK;
    err = cm_db_run(db, "DELETE FROM notify.campaign_work WHERE campaign_id = $1::uuid", 1, p);
    if (err)
        return err;
    /* Out of the queue first: a sender claims only what is in it. */
    return cm_db_run(
        db,
        "WITH q AS (DELETE FROM notify.queue q USING notify.campaign_recipients r "
        "WHERE r.campaign_id = $1::uuid AND q.message_id = r.message_id RETURNING q.message_id), "
        "m AS (UPDATE notify.messages SET status = 'FAILED', failed_at = now(), "
        "last_error = 'campaign cancelled' WHERE id IN (SELECT message_id FROM q) "
        "AND status = 'QUEUED' RETURNING id) "
        "UPDATE notify.campaign_recipients SET cancelled = true "
        "WHERE campaign_id = $1::uuid AND message_id IN (SELECT id FROM m)",
        1, p);
}

cm_err_t notify_campaigns_store_claim(cm_db_t *db, int max, long lease_ms,
                                      struct notify_campaign_claim *out, int *n)
{
    *n = 0;
    cm_err_t err;
    PGresult *res = notify_store_claim_rows(
        db,
        "WITH c AS MATERIALIZED (SELECT campaign_id FROM notify.campaign_work "
        "WHERE lease_until <= now() ORDER BY lease_until LIMIT $1::int FOR UPDATE SKIP LOCKED) "
        "UPDATE notify.campaign_work w SET lease_until = now() + $2::bigint * "
        "interval '1 millisecond' FROM c "
        "WHERE w.campaign_id = c.campaign_id RETURNING w.campaign_id, w.tenant_id",
        max, lease_ms, &err);
    if (!res)
        return err;
    for (int i = 0; i < PQntuples(res) && i < max; i++) {
        snprintf(out[i].id, sizeof out[i].id, "%s", PQgetvalue(res, i, 0));
        snprintf(out[i].tenant_id, sizeof out[i].tenant_id, "%s", PQgetvalue(res, i, 1));
        (*n)++;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_campaigns_store_release(cm_db_t *db, const char *id, long lease_ms)
{
    char lease[24];
    snprintf(lease, sizeof lease, "%ld", lease_ms);
    const char *p[] = {id, lease};
    return cm_db_run(db,
                     "UPDATE notify.campaign_work SET lease_until = now() + $2::bigint * "
                     "interval '1 millisecond' WHERE campaign_id = $1::uuid",
                     2, p);
}

cm_err_t notify_campaigns_store_cursor(cm_db_t *db, const char *id, bool *expanding, char *cursor,
                                       size_t size)
{
    const char *p[] = {id};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "SELECT cursor FROM notify.campaigns WHERE id = $1::uuid AND status = 'EXPANDING'", 1,
        p, &err);
    if (!res)
        return err;
    *expanding = PQntuples(res) == 1;
    const char *v = *expanding ? PQgetvalue(res, 0, 0) : "";
    /* A cursor longer than the buffer would be cut: refuse it rather than resume elsewhere. */
    err = strlen(v) < size ? CM_OK : CM_ERR_INTERNAL;
    snprintf(cursor, size, "%s", v);
    PQclear(res);
    return err;
}

cm_err_t notify_campaigns_store_recipient(cm_db_t *db, const char *tenant, const char *campaign,
                                          const char *customer, const char *skipped, bool *inserted)
{
    const char *p[] = {tenant, campaign, customer, skipped};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "INSERT INTO notify.campaign_recipients (tenant_id, campaign_id, customer_id, skipped) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING customer_id",
        4, p, &err);
    if (!res)
        return err;
    *inserted = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_campaigns_store_queued(cm_db_t *db, const char *campaign, const char *customer,
                                       const char *message_id)
{
    const char *p[] = {campaign, customer, message_id};
    return cm_db_run(
        db,
        "WITH c AS (UPDATE notify.campaigns SET next_due = greatest(next_due, now()) + "
        "interval '1 second' / rate WHERE id = $1::uuid "
        "RETURNING next_due - interval '1 second' / rate AS due), "
        "r AS (UPDATE notify.campaign_recipients SET message_id = $3::uuid "
        "WHERE campaign_id = $1::uuid AND customer_id = $2::uuid) "
        "UPDATE notify.queue SET due_at = (SELECT due FROM c) WHERE message_id = $3::uuid",
        3, p);
}

cm_err_t notify_campaigns_store_advance(cm_db_t *db, const char *id, const char *cursor,
                                        const char *next, int total, int no_consent, int no_address,
                                        bool *moved)
{
    char t[16], nc[16], na[16];
    snprintf(t, sizeof t, "%d", total);
    snprintf(nc, sizeof nc, "%d", no_consent);
    snprintf(na, sizeof na, "%d", no_address);
    const char *p[] = {id, cursor, next, t, nc, na};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "UPDATE notify.campaigns SET cursor = $3, total = total + $4::int, "
                   "skipped_no_consent = skipped_no_consent + $5::int, "
                   "skipped_no_address = skipped_no_address + $6::int, "
                   "status = CASE WHEN $3 = '' THEN 'SENDING' ELSE status END, "
                   "expanded_at = CASE WHEN $3 = '' THEN now() END "
                   "WHERE id = $1::uuid AND cursor = $2 AND status = 'EXPANDING' RETURNING id",
                   6, p, &err);
    if (!res)
        return err;
    *moved = PQntuples(res) == 1;
    PQclear(res);
    if (!*moved || next[0])
        return CM_OK;
    const char *wp[] = {id};
    return cm_db_run(db, "DELETE FROM notify.campaign_work WHERE campaign_id = $1::uuid", 1, wp);
}
