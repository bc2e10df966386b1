/* The notify service's SQL (notify_store.h). */
#include "notify_store.h"
#include "notify_sms.h"
#include "cm_buf.h"
#include "notify_mime_parse.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct cm_outbox notify_outbox = {
    .stream = NOTIFY_STREAM, .table = "notify.outbox", .readers = "notify.stream_readers"};

#define REPLY_EVENT_TEXT 500 // bytes of a reply's text in its message.replied event
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define EPOCH_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* The columns s_message reads, in its order; m is notify.messages, q its
 * queue row (LEFT JOIN). */
#define MESSAGE_COLUMNS                                                                            \
    "m.id, coalesce(m.customer_id::text, ''), m.channel, m.kind, m.to_addr, m.to_name, "           \
    "m.from_addr, m.from_name, m.subject, m.body_text, m.body_html, m.message_id, m.status, "      \
    "m.attempts, m.last_error, m.permanent, " TS(                                                  \
        "m.created_at") ", "                                                                       \
                        "coalesce(" TS("m.sent_at") ", ''), coalesce(" TS(                         \
                            "m.failed_at") ", ''), "                                               \
                                           "coalesce(" TS("q.due_at") ", ''), " EPOCH_US(          \
                                               "m.created_at") ", "                                \
                                                               "coalesce(m.conversation_id, "      \
                                                               "m.id), coalesce(" TS(              \
                                                                   "m.send_at") ", '')"
#define MESSAGE_FROM "notify.messages m LEFT JOIN notify.queue q ON q.message_id = m.id "

void notify_store_sms_measure(const struct notify_sms_measure *m, Crm__SmsMeasure *out)
{
    out->encoding = m->encoding == NOTIFY_SMS_GSM7 ? CRM__SMS_ENCODING__SMS_ENCODING_GSM7
                                                   : CRM__SMS_ENCODING__SMS_ENCODING_UCS2;
    out->characters = (int32_t)m->characters;
    out->units = (int32_t)m->units;
    out->parts = m->parts;
    out->per_part = m->per_part;
    out->remaining = m->remaining;
}

const char *const notify_store_message_columns = "SELECT " MESSAGE_COLUMNS " FROM " MESSAGE_FROM;

static Crm__Message *s_message(const PGresult *res, int row)
{
    Crm__Message *m = (Crm__Message *)cm_pb_new(&crm__message__descriptor);
    int c = 0;
    cm_pb_set_str(&m->id, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->customer_id, PQgetvalue(res, row, c++));
    m->channel = !strcmp(PQgetvalue(res, row, c++), "SMS") ? CRM__CHANNEL__CHANNEL_SMS
                                                           : CRM__CHANNEL__CHANNEL_EMAIL;
    cm_pb_set_str(&m->kind, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->to, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->to_name, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->from, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->from_name, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->subject, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->text, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->html, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->message_id, PQgetvalue(res, row, c++));
    const char *st = PQgetvalue(res, row, c++);
    m->status = !strcmp(st, "SENT")        ? CRM__MESSAGE_STATUS__MESSAGE_STATUS_SENT
                : !strcmp(st, "FAILED")    ? CRM__MESSAGE_STATUS__MESSAGE_STATUS_FAILED
                : !strcmp(st, "REPLIED")   ? CRM__MESSAGE_STATUS__MESSAGE_STATUS_REPLIED
                : !strcmp(st, "SCHEDULED") ? CRM__MESSAGE_STATUS__MESSAGE_STATUS_SCHEDULED
                : !strcmp(st, "CANCELLED") ? CRM__MESSAGE_STATUS__MESSAGE_STATUS_CANCELLED
                                           : CRM__MESSAGE_STATUS__MESSAGE_STATUS_QUEUED;
    m->attempts = (int32_t)strtol(PQgetvalue(res, row, c++), NULL, 10);
    cm_pb_set_str(&m->last_error, PQgetvalue(res, row, c++));
    m->permanent = PQgetvalue(res, row, c++)[0] == 't';
    cm_pb_set_str(&m->created_at, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->sent_at, PQgetvalue(res, row, c++));
    cm_pb_set_str(&m->failed_at, PQgetvalue(res, row, c++));
    if (m->status == CRM__MESSAGE_STATUS__MESSAGE_STATUS_QUEUED)
        cm_pb_set_str(&m->next_attempt_at, PQgetvalue(res, row, c));
    cm_pb_set_str(&m->conversation_id, PQgetvalue(res, row, c + 2));
    cm_pb_set_str(&m->send_at, PQgetvalue(res, row, c + 3));
    struct notify_sms_measure sm;
    if (m->channel == CRM__CHANNEL__CHANNEL_SMS && !notify_sms_measure(m->text, &sm)) {
        m->sms = (Crm__SmsMeasure *)cm_pb_new(&crm__sms_measure__descriptor);
        notify_store_sms_measure(&sm, m->sms);
    }
    return m;
}

/* Writes a message.* event with the message (its text and HTML left out)
 * and, when given, the reply (its text cut to 500 bytes). */
static cm_err_t s_event_with(cm_db_t *db, const char *type, const Crm__Message *msg,
                             const Crm__Reply *reply, const char *tenant_id,
                             const Crm__Principal *principal, const char *channel,
                             const char *request_id)
{
    Crm__Message copy = *msg;
    copy.text = "";
    copy.html = "";
    Crm__MessageEvent payload = CRM__MESSAGE_EVENT__INIT;
    payload.message = &copy;
    Crm__Reply rcopy;
    char *cut = NULL;
    if (reply) {
        rcopy = *reply;
        /* A character that starts before the cut and ends after it goes too. */
        cut = cm_strndup(reply->text, strnlen(reply->text, REPLY_EVENT_TEXT + 4));
        notify_mime_parse_cut(cut, REPLY_EVENT_TEXT);
        rcopy.text = cut;
        payload.reply = &rcopy;
    }
    size_t plen = crm__message_event__get_packed_size(&payload);
    uint8_t *pbuf = cm_malloc(plen ? plen : 1);
    crm__message_event__pack(&payload, pbuf);
    Crm__Event ev = CRM__EVENT__INIT;
    ev.type = (char *)type;
    ev.tenant_id = (char *)tenant_id;
    ev.principal = (Crm__Principal *)principal;
    ev.channel = (char *)(channel && channel[0] ? channel : "notify");
    ev.request_id = (char *)(request_id ? request_id : "");
    ev.payload.data = pbuf;
    ev.payload.len = plen;
    cm_err_t err = cm_outbox_add(db, &notify_outbox, &ev, msg->customer_id);
    free(pbuf);
    free(cut);
    return err;
}

Crm__Message *notify_store_message_row(const PGresult *res, int row)
{
    return s_message(res, row);
}

cm_err_t notify_store_event(cm_db_t *db, const char *type, const Crm__Message *msg,
                            const Crm__Reply *reply, const char *tenant_id)
{
    return s_event_with(db, type, msg, reply, tenant_id, NULL, "notify", NULL);
}

static cm_err_t s_event(cm_db_t *db, const char *type, const Crm__Message *msg,
                        const char *tenant_id, const Crm__Principal *principal, const char *channel,
                        const char *request_id)
{
    return s_event_with(db, type, msg, NULL, tenant_id, principal, channel, request_id);
}

/* The e-mail addresses known to be the customer's ($1 tenant, $2 customer),
 * lower case as notify.accounts keeps them: the account's sign-in name and
 * where their e-mails went. */
#define CUSTOMER_ADDRESSES                                                                         \
    "SELECT email_key FROM notify.accounts WHERE tenant_id = $1::uuid AND customer_id = $2::uuid " \
    "UNION SELECT lower(to_addr) FROM notify.messages WHERE tenant_id = $1::uuid "                 \
    "  AND customer_id = $2::uuid AND channel = 'EMAIL' AND to_addr <> ''"

cm_err_t notify_store_erase_customer(cm_db_t *db, const char *tenant, const char *customer_id)
{
    static const char *const sql[] = {
        /* The sign-in account and what hangs on its address go first, while
         * the messages still say which addresses were the customer's. A
         * registration's e-mail went to no customer yet: it becomes theirs,
         * with its events, so it is erased with the rest. */
        "WITH m AS (UPDATE notify.messages SET customer_id = $2::uuid "
        "  WHERE tenant_id = $1::uuid AND customer_id IS NULL AND kind = 'registration' "
        "    AND lower(to_addr) IN (" CUSTOMER_ADDRESSES ") RETURNING id, created_at) "
        "UPDATE notify.outbox o SET customer_id = $2::uuid FROM m "
        "WHERE o.customer_id IS NULL AND o.created_at >= m.created_at "
        "  AND position(convert_to(m.id::text, 'UTF8') IN o.event) > 0",
        "DELETE FROM notify.sign_in_failures "
        "WHERE tenant_id = $1::uuid AND email_key IN (" CUSTOMER_ADDRESSES ")",
        "DELETE FROM notify.registrations WHERE tenant_id = $1::uuid "
        "  AND (customer_id = $2::uuid OR email_key IN (" CUSTOMER_ADDRESSES "))",
        /* Unused links stop working: their hashes go with the account. */
        "DELETE FROM notify.password_links WHERE tenant_id = $1::uuid AND customer_id = $2::uuid",
        "DELETE FROM notify.accounts WHERE tenant_id = $1::uuid AND customer_id = $2::uuid",
        "DELETE FROM notify.welcome_work WHERE tenant_id = $1::uuid AND customer_id = $2::uuid",
        /* That two records were one person goes with the person. */
        "DELETE FROM notify.merged_customers WHERE tenant_id = $1::uuid AND into_id = $2::uuid",
        /* Not sent yet: never sent now. A sender that holds one mid-attempt
         * still records its outcome. */
        "WITH q AS (DELETE FROM notify.queue q USING notify.messages m "
        "  WHERE m.tenant_id = $1::uuid AND m.customer_id = $2::uuid AND q.message_id = m.id "
        "  RETURNING q.message_id) "
        "UPDATE notify.messages SET status = 'CANCELLED', permanent = true, "
        "  last_error = 'the customer was deleted before it was sent' "
        "WHERE tenant_id = $1::uuid AND id IN (SELECT message_id FROM q) "
        "  AND status IN ('QUEUED', 'SCHEDULED')",
        /* A newsletter's message cancelled above counts as cancelled in its
         * campaign, as a cancelled campaign's do: the counts still add up. */
        "UPDATE notify.campaign_recipients r SET cancelled = true FROM notify.messages m "
        "WHERE r.tenant_id = $1::uuid AND m.tenant_id = $1::uuid AND m.customer_id = $2::uuid "
        "  AND r.message_id = m.id AND m.status = 'CANCELLED' AND NOT r.cancelled",
        "UPDATE notify.messages SET to_addr = '', to_name = '', subject = '', body_text = '', "
        "  body_html = '', sealed_link = NULL, "
        "  last_error = CASE WHEN status = 'CANCELLED' THEN last_error ELSE '' END "
        "WHERE tenant_id = $1::uuid AND customer_id = $2::uuid",
        "UPDATE notify.replies SET from_addr = '', from_name = '', subject = '', body_text = '', "
        "  attachments = '[]', raw = ''::bytea "
        "WHERE tenant_id = $1::uuid AND customer_id = $2::uuid",
    };
    const char *p[] = {tenant, customer_id};
    cm_err_t err = CM_OK;
    for (size_t i = 0; i < sizeof sql / sizeof *sql && !err; i++)
        err = cm_db_run(db, sql[i], 2, p);
    return err;
}

cm_err_t notify_store_merge(cm_db_t *db, const char *tenant, const char *keep_id,
                            const char *merged_id, const char *event_id, bool *first)
{
    const char *p[] = {tenant, keep_id, merged_id, event_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "SELECT notify.merge_customer($1::uuid, $2::uuid, $3::uuid, $4) >= 0", 4, p, &err);
    if (!res)
        return err;
    *first = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_store_get(cm_db_t *db, const char *id, Crm__Message **out)
{
    const char *p[] = {id};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "SELECT " MESSAGE_COLUMNS " FROM " MESSAGE_FROM "WHERE m.id = $1::uuid", 1, p, &err);
    if (!res) {
        assert(err != CM_OK); /* cm_db_exec's contract: NULL comes with a reason */
        return err;
    }
    err = PQntuples(res) == 1 ? CM_OK : CM_ERR_NOT_FOUND;
    if (!err)
        *out = s_message(res, 0);
    PQclear(res);
    return err;
}

cm_err_t notify_store_queue(cm_db_t *db, const struct notify_new_message *m, Crm__Message **out,
                            bool *existed)
{
    char id[40];
    cm_uuid(id);
    *existed = false;
    const char *key = m->request_key && m->request_key[0] ? m->request_key : NULL;
    const char *p[] = {m->tenant_id,
                       id,
                       m->customer_id && m->customer_id[0] ? m->customer_id : NULL,
                       m->channel,
                       m->kind,
                       m->to,
                       m->to_name,
                       m->from,
                       m->from_name,
                       m->subject,
                       m->text,
                       m->html ? m->html : "",
                       m->message_id,
                       key,
                       (const char *)m->sealed_link,
                       m->conversation_id && m->conversation_id[0] ? m->conversation_id : NULL,
                       m->send_at && m->send_at[0] ? m->send_at : NULL};
    int lens[17] = {0};
    int fmts[17] = {0};
    lens[14] = (int)m->sealed_len;
    fmts[14] = 1;
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(
        db,
        "INSERT INTO notify.messages (tenant_id, id, customer_id, channel, kind, to_addr, "
        "to_name, from_addr, from_name, subject, body_text, body_html, message_id, request_key, "
        "sealed_link, conversation_id, send_at, status) VALUES ($1, $2, "
        /* A record merged since it was asked for: the customer kept. */
        "coalesce((SELECT into_id FROM notify.merged_customers WHERE tenant_id = $1::uuid "
        "  AND merged_id = $3::uuid), $3::uuid), $4, $5, $6, $7, $8, "
        "$9, $10, $11, $12, $13, $14, $15, $16, $17::timestamptz, CASE WHEN $17::timestamptz IS "
        "NULL THEN 'QUEUED' ELSE 'SCHEDULED' END) ON CONFLICT (tenant_id, request_key) DO NOTHING "
        "RETURNING id",
        17, p, lens, fmts, 0, &err);
    if (!res)
        return err;
    bool inserted = PQntuples(res) == 1;
    PQclear(res);
    if (!inserted) {
        /* The same key queued it before: that message is the answer. */
        const char *kp[] = {key};
        res = cm_db_exec(db, "SELECT id FROM notify.messages WHERE request_key = $1", 1, kp, &err);
        if (!res)
            return err;
        if (PQntuples(res) != 1) {
            PQclear(res);
            return CM_ERR_CONFLICT;
        }
        snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        *existed = true;
        return notify_store_get(db, id, out);
    }
    /* A scheduled message's row is held: the senders take it only once
     * notify released it at send_at (notify_schedule.c). */
    const char *qp[] = {id, m->tenant_id, p[16]};
    err = cm_db_run(db,
                    "INSERT INTO notify.queue (message_id, tenant_id, due_at, held) VALUES ($1, "
                    "$2, coalesce($3::timestamptz, now()), $3::timestamptz IS NOT NULL)",
                    3, qp);
    if (!err)
        err = notify_store_get(db, id, out);
    if (!err) {
        err = s_event(db, "message.queued", *out, m->tenant_id, m->principal, m->channel_name,
                      m->request_id);
        if (err) {
            crm__message__free_unpacked(*out, NULL);
            *out = NULL;
        }
    }
    return err;
}

cm_err_t notify_store_by_keys(cm_db_t *db, const char *keys_json, Crm__Message ***out, size_t *n)
{
    const char *p[] = {keys_json};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "WITH k AS (SELECT jsonb_array_elements_text($1::jsonb) AS key) "
                   "SELECT " MESSAGE_COLUMNS " FROM " MESSAGE_FROM
                   "WHERE m.message_id IN (SELECT key FROM k) OR m.id::text IN (SELECT key FROM k)",
                   1, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    *out = cm_realloc(*out, (*n + (size_t)rows + 1) * sizeof **out);
    for (int i = 0; i < rows; i++)
        (*out)[(*n)++] = s_message(res, i);
    PQclear(res);
    return CM_OK;
}

void notify_store_next_position(const PGresult *res, int limit, int us_column, int64_t *next_us,
                                char *next_id)
{
    next_id[0] = '\0';
    if (PQntuples(res) > limit && limit > 0) {
        *next_us = strtoll(PQgetvalue(res, limit - 1, us_column), NULL, 10);
        snprintf(next_id, 40, "%s", PQgetvalue(res, limit - 1, 0));
    }
}

cm_err_t notify_store_list(cm_db_t *db, const char *customer_id, int limit, int64_t after_us,
                           const char *after_id, Crm__ListMessagesResponse *resp, int64_t *next_us,
                           char *next_id)
{
    char lim[16], us[24];
    snprintf(lim, sizeof lim, "%d", limit + 1);
    snprintf(us, sizeof us, "%" PRId64, after_us);
    const char *p[] = {customer_id, lim, after_id ? us : NULL, after_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT " MESSAGE_COLUMNS " FROM " MESSAGE_FROM
        "WHERE m.customer_id = $1::uuid AND ($3::bigint IS NULL OR "
        "(m.created_at, m.id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', "
        "$4::uuid)) ORDER BY m.created_at DESC, m.id DESC LIMIT $2::int",
        4, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    int take = rows > limit ? limit : rows;
    resp->messages = take ? cm_calloc((size_t)take, sizeof *resp->messages) : NULL;
    for (int i = 0; i < take; i++)
        resp->messages[resp->n_messages++] = s_message(res, i);
    notify_store_next_position(res, limit, 20, next_us, next_id);
    PQclear(res);
    return CM_OK;
}

PGresult *notify_store_claim_rows(cm_db_t *db, const char *sql, int max, long lease_ms,
                                  cm_err_t *err)
{
    char lim[16], lease[24];
    snprintf(lim, sizeof lim, "%d", max);
    snprintf(lease, sizeof lease, "%ld", lease_ms);
    const char *p[] = {lim, lease};
    *err = cm_db_use_tenant(db, NULL);
    if (*err)
        return NULL;
    PGresult *res = cm_db_exec(db, sql, 2, p, err);
    if (res && PQntuples(res) > max)
        cm_log_error("claimed %d rows, asked for %d: the rest wait for their lease", PQntuples(res),
                     max);
    return res;
}

cm_err_t notify_store_claim_queue(cm_db_t *db, const char *sql, int max, long lease_ms,
                                  struct notify_claim *out, int *n)
{
    *n = 0;
    cm_err_t err;
    PGresult *res = notify_store_claim_rows(db, sql, max, lease_ms, &err);
    if (!res)
        return err;
    for (int i = 0; i < PQntuples(res) && i < max; i++) {
        snprintf(out[i].id, sizeof out[i].id, "%s", PQgetvalue(res, i, 0));
        snprintf(out[i].tenant_id, sizeof out[i].tenant_id, "%s", PQgetvalue(res, i, 1));
        out[i].attempts = (int)strtol(PQgetvalue(res, i, 2), NULL, 10);
        (*n)++;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_store_claim(cm_db_t *db, int max, long lease_ms, struct notify_claim *out, int *n)
{
    /* The rows to take are chosen once, in a CTE: as a subquery of the
     * UPDATE it may be run again (a join's rescan, a concurrent update's
     * recheck) and take more rows than asked, which nobody would send until
     * their lease ended. Held rows wait for their release (notify_schedule.h). */
    return notify_store_claim_queue(
        db,
        "WITH c AS MATERIALIZED (SELECT message_id FROM notify.queue WHERE due_at <= now() "
        "AND NOT held ORDER BY due_at LIMIT $1::int FOR UPDATE SKIP LOCKED) "
        "UPDATE notify.queue q SET due_at = now() + $2::bigint * interval '1 millisecond', "
        "attempts = q.attempts + 1 FROM c "
        "WHERE q.message_id = c.message_id RETURNING q.message_id, q.tenant_id, q.attempts",
        max, lease_ms, out, n);
}

/* Ends the message's life in the queue with status, in one transaction, and
 * writes its event. */
static cm_err_t s_finish(cm_db_t *db, const struct notify_claim *c, const char *status,
                         const char *reason, bool permanent)
{
    char attempts[16];
    snprintf(attempts, sizeof attempts, "%d", c->attempts);
    const char *p[] = {c->id, status, attempts, reason, permanent ? "t" : "f"};
    Crm__Message *msg = NULL;
    cm_err_t err = cm_db_begin(db, c->tenant_id);
    if (err)
        return err;
    PGresult *res =
        cm_db_exec(db,
                   "UPDATE notify.messages SET status = $2, attempts = $3::int, "
                   "last_error = CASE WHEN $2 = 'SENT' THEN '' ELSE $4 END, permanent = $5::bool, "
                   "sent_at = CASE WHEN $2 = 'SENT' THEN now() END, "
                   "failed_at = CASE WHEN $2 = 'FAILED' THEN now() END, sealed_link = NULL "
                   "WHERE id = $1::uuid AND status = 'QUEUED' RETURNING id",
                   5, p, &err);
    if (!res)
        goto out;
    bool changed = PQntuples(res) == 1;
    PQclear(res);
    err = cm_db_run(db, "DELETE FROM notify.queue WHERE message_id = $1::uuid", 1, p);
    if (!err && changed)
        err = notify_store_get(db, c->id, &msg);
    if (!err && changed)
        err = s_event(db, !strcmp(status, "SENT") ? "message.sent" : "message.failed", msg,
                      c->tenant_id, NULL, "notify", NULL);
    if (!err)
        err = cm_db_commit(db);
out:
    if (msg)
        crm__message__free_unpacked(msg, NULL);
    if (err)
        cm_db_rollback(db);
    return err;
}

/* A PostgreSQL array literal of the claims' ids ("{a,b}") or attempts. */
static char *s_array(const struct notify_claim *const *c, int n, bool attempts)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    int rc = cm_buf_append(&b, "{", 1);
    for (int i = 0; i < n; i++) {
        char num[16];
        const char *v = c[i]->id;
        if (attempts) {
            snprintf(num, sizeof num, "%d", c[i]->attempts);
            v = num;
        }
        rc |= cm_buf_append(&b, i ? "," : "", i ? 1 : 0) | cm_buf_append(&b, v, strlen(v));
    }
    rc |= cm_buf_append(&b, "}", 2); /* with the terminating NUL */
    assert(rc == 0);
    size_t len;
    return cm_buf_steal(&b, &len);
}

cm_err_t notify_store_sent_many(cm_db_t *db, const char *tenant,
                                const struct notify_claim *const *c, int n)
{
    char *ids = s_array(c, n, false), *attempts = s_array(c, n, true);
    const char *p[] = {ids, attempts, tenant};
    PGresult *res = NULL;
    cm_err_t err = cm_db_begin(db, tenant);
    if (!err)
        /* By the primary key (tenant, id = ANY): a join with unnest() would
         * be planned as a scan of every message. */
        err = cm_db_run(db,
                        "UPDATE notify.messages m SET status = 'SENT', attempts = (SELECT v.a "
                        "FROM unnest($1::uuid[], $2::int[]) AS v(id, a) WHERE v.id = m.id), "
                        "last_error = '', permanent = false, sent_at = now(), failed_at = NULL, "
                        "sealed_link = NULL WHERE m.tenant_id = $3::uuid "
                        "AND m.id = ANY($1::uuid[]) AND m.status = 'QUEUED'",
                        3, p);
    if (!err)
        err = cm_db_run(db, "DELETE FROM notify.queue WHERE message_id = ANY($1::uuid[])", 1, p);
    /* Only those SENT now: a message recorded before (a lease that ran out
     * meanwhile) has had its event. */
    const char *ep[] = {ids, tenant};
    if (!err)
        res = cm_db_exec(db,
                         "SELECT " MESSAGE_COLUMNS " FROM " MESSAGE_FROM
                         "WHERE m.tenant_id = $2::uuid AND m.id = ANY($1::uuid[]) "
                         "AND m.sent_at = now()",
                         2, ep, &err);
    if (res) {
        err = cm_db_run(db,
                        "INSERT INTO notify.sent_bodies (message_id, tenant_id) "
                        "SELECT m.id, $2::uuid FROM notify.messages m WHERE m.tenant_id = $2::uuid "
                        "AND m.id = ANY($1::uuid[]) AND m.sent_at = now() ON CONFLICT DO NOTHING",
                        2, ep);
        for (int i = 0; !err && i < PQntuples(res); i++) {
            Crm__Message *msg = s_message(res, i);
            err = s_event(db, "message.sent", msg, tenant, NULL, "notify", NULL);
            crm__message__free_unpacked(msg, NULL);
        }
        PQclear(res);
    }
    if (!err)
        err = cm_db_commit(db);
    if (err)
        cm_db_rollback(db);
    free(ids);
    free(attempts);
    return err;
}

cm_err_t notify_store_failed(cm_db_t *db, const struct notify_claim *c, const char *reason,
                             bool permanent)
{
    return s_finish(db, c, "FAILED", reason, permanent);
}

cm_err_t notify_store_retry(cm_db_t *db, const struct notify_claim *c, const char *reason,
                            long retry_ms)
{
    char attempts[16], ms[24];
    snprintf(attempts, sizeof attempts, "%d", c->attempts);
    snprintf(ms, sizeof ms, "%ld", retry_ms);
    const char *p[] = {c->id, attempts, reason};
    cm_err_t err = cm_db_begin(db, c->tenant_id);
    if (!err)
        err = cm_db_run(db,
                        "UPDATE notify.messages SET attempts = $2::int, last_error = $3 "
                        "WHERE id = $1::uuid AND status = 'QUEUED'",
                        3, p);
    const char *qp[] = {c->id, ms};
    if (!err)
        err = cm_db_run(db,
                        "UPDATE notify.queue SET due_at = now() + $2::bigint * "
                        "interval '1 millisecond' WHERE message_id = $1::uuid",
                        2, qp);
    if (!err)
        err = cm_db_commit(db);
    if (err)
        cm_db_rollback(db);
    return err;
}

/* ---------------------------------------------------------------------- */
/* Templates                                                               */

#define TEMPLATE_COLUMNS "kind, language, subject, body_text, body_html, " TS("updated_at")

static Crm__Template *s_template(const PGresult *res, int row)
{
    Crm__Template *t = (Crm__Template *)cm_pb_new(&crm__template__descriptor);
    cm_pb_set_str(&t->kind, PQgetvalue(res, row, 0));
    cm_pb_set_str(&t->language, PQgetvalue(res, row, 1));
    cm_pb_set_str(&t->subject, PQgetvalue(res, row, 2));
    cm_pb_set_str(&t->text, PQgetvalue(res, row, 3));
    cm_pb_set_str(&t->html, PQgetvalue(res, row, 4));
    cm_pb_set_str(&t->updated_at, PQgetvalue(res, row, 5));
    t->custom = true;
    return t;
}

cm_err_t notify_store_template_get(cm_db_t *db, const char *kind, const char *language,
                                   Crm__Template **out)
{
    const char *p[] = {kind, language};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " TEMPLATE_COLUMNS " FROM notify.templates "
                               "WHERE kind = $1 AND language = $2",
                               2, p, &err);
    if (!res)
        return err;
    err = PQntuples(res) == 1 ? CM_OK : CM_ERR_NOT_FOUND;
    if (!err)
        *out = s_template(res, 0);
    PQclear(res);
    return err;
}

cm_err_t notify_store_template_list(cm_db_t *db, Crm__ListTemplatesResponse *resp)
{
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db, "SELECT " TEMPLATE_COLUMNS " FROM notify.templates", 0, NULL, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->templates = cm_realloc(resp->templates,
                                 (resp->n_templates + (size_t)rows + 1) * sizeof *resp->templates);
    for (int i = 0; i < rows; i++)
        resp->templates[resp->n_templates++] = s_template(res, i);
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_store_template_put(cm_db_t *db, const char *tenant, const char *kind,
                                   const char *language, const Crm__Template *t)
{
    const char *p[] = {tenant, kind, language, t->subject, t->text, t->html};
    return cm_db_run(db,
                     "INSERT INTO notify.templates (tenant_id, kind, language, subject, body_text, "
                     "body_html) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, kind, "
                     "language) DO UPDATE SET subject = EXCLUDED.subject, body_text = "
                     "EXCLUDED.body_text, body_html = EXCLUDED.body_html, updated_at = now()",
                     6, p);
}

cm_err_t notify_store_template_delete(cm_db_t *db, const char *kind, const char *language,
                                      bool *deleted)
{
    const char *p[] = {kind, language};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "DELETE FROM notify.templates WHERE kind = $1 AND language = $2 RETURNING kind", 2, p,
        &err);
    if (!res)
        return err;
    *deleted = PQntuples(res) > 0;
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Links, accounts, sign-in failures                                        */

cm_err_t notify_store_link_create(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *kind, const char *hash, long hours)
{
    char h[24];
    snprintf(h, sizeof h, "%ld", hours);
    const char *v[] = {tenant, customer_id};
    cm_err_t err = cm_db_run(db,
                             "UPDATE notify.password_links SET voided_at = now() "
                             "WHERE tenant_id = $1 AND customer_id = $2 AND used_at IS NULL "
                             "AND voided_at IS NULL",
                             2, v);
    if (err)
        return err;
    const char *p[] = {hash, tenant, customer_id, kind, h};
    return cm_db_run(db,
                     "INSERT INTO notify.password_links (token_hash, tenant_id, customer_id, kind, "
                     "expires_at) VALUES ($1, $2, $3, $4, now() + $5::int * interval '1 hour')",
                     5, p);
}

cm_err_t notify_store_link_find(cm_db_t *db, const char *hash, struct notify_link_row *out)
{
    const char *p[] = {hash};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT tenant_id, customer_id, kind, CASE WHEN used_at IS NOT "
                               "NULL OR voided_at IS NOT NULL THEN 'USED' WHEN expires_at <= "
                               "now() THEN 'EXPIRED' ELSE 'VALID' END, " TS(
                                   "expires_at") " "
                                                 "FROM notify.password_links WHERE token_hash = $1",
                               1, p, &err);
    if (!res)
        return err;
    err = PQntuples(res) == 1 ? CM_OK : CM_ERR_NOT_FOUND;
    if (!err) {
        snprintf(out->tenant_id, sizeof out->tenant_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(out->customer_id, sizeof out->customer_id, "%s", PQgetvalue(res, 0, 1));
        snprintf(out->kind, sizeof out->kind, "%s", PQgetvalue(res, 0, 2));
        snprintf(out->state, sizeof out->state, "%s", PQgetvalue(res, 0, 3));
        snprintf(out->expires_at, sizeof out->expires_at, "%s", PQgetvalue(res, 0, 4));
    }
    PQclear(res);
    return err;
}

cm_err_t notify_store_link_use(cm_db_t *db, const char *hash, bool *used)
{
    const char *p[] = {hash};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "UPDATE notify.password_links SET used_at = now() "
                               "WHERE token_hash = $1 AND used_at IS NULL AND voided_at IS NULL "
                               "AND expires_at > now() RETURNING token_hash",
                               1, p, &err);
    if (!res)
        return err;
    *used = PQntuples(res) == 1;
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_store_account_put(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *email_key, const char *hash)
{
    const char *p[] = {tenant, customer_id, email_key, hash};
    /* An address another customer's older account held moves to this one. */
    cm_err_t err = cm_db_run(db,
                             "DELETE FROM notify.accounts WHERE tenant_id = $1 AND email_key = $3 "
                             "AND customer_id <> $2",
                             3, p);
    if (err)
        return err;
    return cm_db_run(db,
                     "INSERT INTO notify.accounts (tenant_id, customer_id, email_key, "
                     "password_hash) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, customer_id) "
                     "DO UPDATE SET email_key = EXCLUDED.email_key, password_hash = "
                     "EXCLUDED.password_hash, updated_at = now()",
                     4, p);
}

cm_err_t notify_store_account_find(cm_db_t *db, const char *email_key, bool *found,
                                   char *customer_id, char *hash, size_t hashsz)
{
    const char *p[] = {email_key};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "SELECT customer_id, password_hash FROM notify.accounts WHERE email_key = $1", 1, p,
        &err);
    if (!res)
        return err;
    *found = PQntuples(res) == 1;
    if (*found) {
        snprintf(customer_id, 40, "%s", PQgetvalue(res, 0, 0));
        snprintf(hash, hashsz, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_store_failures(cm_db_t *db, const char *tenant, const char *email_key,
                               long window_s, int *failures, long *left_s)
{
    char w[24];
    snprintf(w, sizeof w, "%ld", window_s);
    const char *p[] = {tenant, email_key, w};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT failures, ceil(extract(epoch FROM window_start + $3::int * interval '1 second' "
        "- now()))::bigint FROM notify.sign_in_failures WHERE tenant_id = $1 AND email_key = $2 "
        "AND window_start + $3::int * interval '1 second' > now()",
        3, p, &err);
    if (!res)
        return err;
    *failures = 0;
    *left_s = 0;
    if (PQntuples(res) == 1) {
        *failures = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
        *left_s = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_store_failure_add(cm_db_t *db, const char *tenant, const char *email_key,
                                  long window_s)
{
    char w[24];
    snprintf(w, sizeof w, "%ld", window_s);
    const char *p[] = {tenant, email_key, w};
    return cm_db_run(
        db,
        "INSERT INTO notify.sign_in_failures AS f (tenant_id, email_key, failures) "
        "VALUES ($1, $2, 1) ON CONFLICT (tenant_id, email_key) DO UPDATE SET "
        "failures = CASE WHEN f.window_start + $3::int * interval '1 second' > now() "
        "THEN f.failures + 1 ELSE 1 END, window_start = CASE WHEN f.window_start + $3::int * "
        "interval '1 second' > now() THEN f.window_start ELSE now() END",
        3, p);
}

cm_err_t notify_store_failures_clear(cm_db_t *db, const char *tenant, const char *email_key)
{
    const char *p[] = {tenant, email_key};
    return cm_db_run(
        db, "DELETE FROM notify.sign_in_failures WHERE tenant_id = $1 AND email_key = $2", 2, p);
}

cm_err_t notify_store_sealed_link(cm_db_t *db, const char *id, uint8_t *buf, size_t size,
                                  size_t *len)
{
    const char *p[] = {id};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(db,
                                   "SELECT sealed_link FROM notify.messages WHERE id = $1::uuid "
                                   "AND sealed_link IS NOT NULL",
                                   1, p, NULL, NULL, 1, &err);
    if (!res)
        return err;
    *len = 0;
    if (PQntuples(res) == 1 && (size_t)PQgetlength(res, 0, 0) <= size) {
        *len = (size_t)PQgetlength(res, 0, 0);
        memcpy(buf, PQgetvalue(res, 0, 0), *len);
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_store_thread(cm_db_t *db, const char *conversation_id, const char *id,
                             char *ids[NOTIFY_STORE_THREAD_MAX], size_t *n)
{
    char more[16];
    snprintf(more, sizeof more, "%d", NOTIFY_STORE_THREAD_MAX - 1);
    const char *p[] = {conversation_id, id, more};
    cm_err_t err;
    /* A reply known by the hash of its bytes had no Message-ID to name. */
    PGresult *res = cm_db_exec(
        db,
        "WITH me AS (SELECT created_at FROM notify.messages WHERE id = $2::uuid), "
        "e AS (SELECT m.message_id AS mid, m.created_at AS at, m.id = $1::uuid AS root "
        "      FROM notify.messages m, me "
        "      WHERE (m.id = $1::uuid OR m.conversation_id = $1::uuid) AND m.id <> $2::uuid "
        "      AND m.channel = 'EMAIL' AND m.message_id <> '' AND m.created_at <= me.created_at "
        "      UNION ALL "
        "      SELECT r.external_id, r.received_at, false FROM notify.replies r, me "
        "      WHERE r.conversation_id = $1::uuid AND r.channel = 'EMAIL' "
        "      AND r.external_id NOT LIKE 'sha256:%' AND r.received_at <= me.created_at) "
        "SELECT mid FROM ((SELECT mid, at, root FROM e WHERE root) UNION ALL "
        "                 (SELECT mid, at, root FROM e WHERE NOT root "
        "                  ORDER BY at DESC LIMIT $3::int)) t "
        "ORDER BY root DESC, at",
        3, p, &err);
    *n = 0;
    if (!res)
        return err;
    for (int i = 0; i < PQntuples(res) && *n < NOTIFY_STORE_THREAD_MAX; i++)
        ids[(*n)++] = cm_strdup(PQgetvalue(res, i, 0));
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* The tenant's sender                                                     */

cm_err_t notify_store_settings_get(cm_db_t *db, Crm__NotifySettings *out)
{
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT email_from, email_from_name, sms_from, " TS(
                       "updated_at") ", welcome_channel, "
                                     "coalesce(" TS("welcome_since") ", ''), self_registration "
                                                                     "FROM notify.settings",
                   0, NULL, &err);
    if (!res)
        return err;
    out->welcome_channel = CRM__CHANNEL__CHANNEL_EMAIL;
    if (PQntuples(res) == 1) {
        cm_pb_set_str(&out->email_from, PQgetvalue(res, 0, 0));
        cm_pb_set_str(&out->email_from_name, PQgetvalue(res, 0, 1));
        cm_pb_set_str(&out->sms_from, PQgetvalue(res, 0, 2));
        cm_pb_set_str(&out->updated_at, PQgetvalue(res, 0, 3));
        out->welcome_channel = !strcmp(PQgetvalue(res, 0, 4), "SMS") ? CRM__CHANNEL__CHANNEL_SMS
                                                                     : CRM__CHANNEL__CHANNEL_EMAIL;
        cm_pb_set_str(&out->welcome_since, PQgetvalue(res, 0, 5));
        out->welcome_on_auto_registration = out->welcome_since[0] != '\0';
        out->self_registration = !strcmp(PQgetvalue(res, 0, 6), "t");
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_store_settings_put(cm_db_t *db, const char *tenant, const Crm__NotifySettings *s)
{
    const char *p[] = {tenant,
                       s->email_from,
                       s->email_from_name,
                       s->sms_from,
                       s->welcome_on_auto_registration ? "t" : "f",
                       s->welcome_channel == CRM__CHANNEL__CHANNEL_SMS ? "SMS" : "EMAIL",
                       s->self_registration ? "t" : "f"};
    /* welcome_since keeps the time the welcome was first turned on while it
     * stays on. */
    return cm_db_run(db,
                     "INSERT INTO notify.settings (tenant_id, email_from, email_from_name, "
                     "sms_from, welcome_since, welcome_channel, self_registration) VALUES ($1, $2, "
                     "$3, $4, CASE WHEN $5::boolean THEN now() END, $6, $7) ON CONFLICT "
                     "(tenant_id) DO UPDATE SET email_from = EXCLUDED.email_from, email_from_name "
                     "= EXCLUDED.email_from_name, sms_from = EXCLUDED.sms_from, welcome_since = "
                     "CASE WHEN $5::boolean THEN coalesce(notify.settings.welcome_since, now()) "
                     "END, welcome_channel = EXCLUDED.welcome_channel, self_registration = "
                     "EXCLUDED.self_registration, updated_at = now()",
                     7, p);
}
