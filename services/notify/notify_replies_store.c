/* The SQL of replies (notify_replies_store.h). */
#include "notify_replies_store.h"
#include "notify_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define ENTRIES_MAX 200 // messages, and replies, of one conversation

#define REPLY_COLUMNS                                                                              \
    "r.id, r.channel, coalesce(r.customer_id::text, ''), coalesce(r.conversation_id::text, ''), "  \
    "coalesce(r.message_id::text, ''), r.joined_by, r.from_addr, r.from_name, r.to_addr, "         \
    "r.subject, r.body_text, r.attachments::text, r.external_id, r.stop, " TS(                     \
        "r.received_at") ", r.from_html, octet_length(r.raw), "                                    \
                         "(extract(epoch FROM r.received_at) * 1000000)::bigint"

static Crm__Reply *s_reply(const PGresult *res, int row)
{
    Crm__Reply *r = (Crm__Reply *)cm_pb_new(&crm__reply__descriptor);
    int c = 0;
    cm_pb_set_str(&r->id, PQgetvalue(res, row, c++));
    r->channel = !strcmp(PQgetvalue(res, row, c++), "SMS") ? CRM__CHANNEL__CHANNEL_SMS
                                                           : CRM__CHANNEL__CHANNEL_EMAIL;
    cm_pb_set_str(&r->customer_id, PQgetvalue(res, row, c++));
    cm_pb_set_str(&r->conversation_id, PQgetvalue(res, row, c++));
    cm_pb_set_str(&r->message_id, PQgetvalue(res, row, c++));
    cm_pb_set_str(&r->joined_by, PQgetvalue(res, row, c++));
    cm_pb_set_str(&r->from, PQgetvalue(res, row, c++));
    cm_pb_set_str(&r->from_name, PQgetvalue(res, row, c++));
    cm_pb_set_str(&r->to, PQgetvalue(res, row, c++));
    cm_pb_set_str(&r->subject, PQgetvalue(res, row, c++));
    cm_pb_set_str(&r->text, PQgetvalue(res, row, c++));
    json_t *att = json_loads(PQgetvalue(res, row, c++), 0, NULL);
    size_t n = json_is_array(att) ? json_array_size(att) : 0;
    r->attachments = n ? cm_calloc(n, sizeof *r->attachments) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(att, i));
        r->attachments[r->n_attachments++] = cm_strdup(s ? s : "");
    }
    json_decref(att);
    cm_pb_set_str(&r->external_id, PQgetvalue(res, row, c++));
    r->stop = PQgetvalue(res, row, c++)[0] == 't';
    cm_pb_set_str(&r->received_at, PQgetvalue(res, row, c++));
    r->from_html = PQgetvalue(res, row, c++)[0] == 't';
    r->raw_size = (int32_t)strtol(PQgetvalue(res, row, c), NULL, 10);
    return r;
}

/* The reply stored under (channel, external id), or NULL. */
static cm_err_t s_find(cm_db_t *db, const char *channel, const char *external_id, Crm__Reply **out)
{
    const char *p[] = {channel, external_id};
    cm_err_t err;
    *out = NULL;
    PGresult *res = cm_db_exec(db,
                               "SELECT " REPLY_COLUMNS " FROM notify.replies r "
                               "WHERE r.channel = $1 AND r.external_id = $2",
                               2, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_reply(res, 0);
    PQclear(res);
    return CM_OK;
}

/* The message a reply answers, tried in order: a reply address's message,
 * In-Reply-To, References, the latest SMS to the number. *how says which
 * ("" when none; *msg NULL). */
static cm_err_t s_join(cm_db_t *db, const struct notify_reply_in *in, Crm__Message **msg,
                       const char **how)
{
    static const struct {
        const char *how;
        const char *where;
    } ways[] = {
        {"REPLY_ADDRESS", "m.id::text IN (SELECT jsonb_array_elements_text($1::jsonb))"},
        {"IN_REPLY_TO", "m.message_id = $1"},
        {"REFERENCES", "m.message_id IN (SELECT jsonb_array_elements_text($1::jsonb))"},
        {"PHONE", "m.channel = 'SMS' AND m.to_addr = $1"},
    };
    const char *args[] = {in->token_ids_json, in->in_reply_to, in->refs_json, in->phone};
    *msg = NULL;
    *how = "";
    for (size_t i = 0; i < sizeof ways / sizeof *ways; i++) {
        if (!args[i] || !args[i][0] || !strcmp(args[i], "[]"))
            continue;
        char *sql = cm_strfmt("%sWHERE %s ORDER BY m.created_at DESC LIMIT 1",
                              notify_store_message_columns, ways[i].where);
        const char *p[] = {args[i]};
        cm_err_t err;
        PGresult *res = cm_db_exec(db, sql, 1, p, &err);
        free(sql);
        if (!res)
            return err;
        if (PQntuples(res) == 1) {
            *msg = notify_store_message_row(res, 0);
            *how = ways[i].how;
        }
        PQclear(res);
        if (*msg)
            return CM_OK;
    }
    return CM_OK;
}

cm_err_t notify_replies_store_add(cm_db_t *db, const struct notify_reply_in *in, Crm__Reply **out,
                                  bool *duplicate)
{
    Crm__Message *msg = NULL;
    const char *how = "";
    *duplicate = false;
    cm_err_t err = s_find(db, in->channel, in->external_id, out);
    if (err || *out) {
        *duplicate = *out != NULL;
        return err;
    }
    err = s_join(db, in, &msg, &how);
    if (err)
        return err;
    char id[40];
    cm_uuid(id);
    const char *p[] = {in->tenant_id,
                       id,
                       in->channel,
                       in->external_id,
                       msg && msg->customer_id[0] ? msg->customer_id : NULL,
                       msg ? msg->conversation_id : NULL,
                       msg ? msg->id : NULL,
                       how,
                       in->from,
                       in->from_name,
                       in->to,
                       in->subject,
                       in->text,
                       in->from_html ? "t" : "f",
                       in->attachments_json,
                       (const char *)in->raw,
                       in->stop ? "t" : "f",
                       in->received_at && in->received_at[0] ? in->received_at : NULL};
    int lens[18] = {0}, fmts[18] = {0};
    lens[15] = (int)in->raw_len;
    fmts[15] = 1;
    PGresult *res = cm_db_exec_bin(
        db,
        "INSERT INTO notify.replies (tenant_id, id, channel, external_id, customer_id, "
        "conversation_id, message_id, joined_by, from_addr, from_name, to_addr, subject, "
        "body_text, from_html, attachments, raw, stop, received_at) VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10, $11, $12, $13, $14::bool, $15::jsonb, $16, $17::bool, "
        "coalesce($18::timestamptz, now())) "
        "ON CONFLICT (tenant_id, channel, external_id) DO NOTHING RETURNING id",
        18, p, lens, fmts, 0, &err);
    if (!res)
        goto out;
    bool inserted = PQntuples(res) == 1;
    PQclear(res);
    /* Stored meanwhile by another copy: that one is the answer. */
    err = s_find(db, in->channel, in->external_id, out);
    if (err || !*out) {
        err = err ? err : CM_ERR_INTERNAL;
        goto out;
    }
    *duplicate = !inserted;
    if (!inserted || !msg)
        goto out;
    const char *mp[] = {msg->id};
    err = cm_db_run(db,
                    "UPDATE notify.messages SET status = 'REPLIED' WHERE id = $1::uuid AND "
                    "status = 'SENT'",
                    1, mp);
    if (!err && msg->status == CRM__MESSAGE_STATUS__MESSAGE_STATUS_SENT)
        msg->status = CRM__MESSAGE_STATUS__MESSAGE_STATUS_REPLIED;
    if (!err)
        err = notify_store_event(db, "message.replied", msg, *out, in->tenant_id);
out:
    if (err && *out) {
        crm__reply__free_unpacked(*out, NULL);
        *out = NULL;
    }
    if (msg)
        crm__message__free_unpacked(msg, NULL);
    return err;
}

cm_err_t notify_replies_store_list(cm_db_t *db, bool unassigned, int limit, int64_t after_us,
                                   const char *after_id, Crm__ListRepliesResponse *resp,
                                   int64_t *next_us, char *next_id)
{
    char lim[16], us[24];
    snprintf(lim, sizeof lim, "%d", limit + 1);
    snprintf(us, sizeof us, "%" PRId64, after_us);
    const char *p[] = {unassigned ? "t" : "f", lim, after_id ? us : NULL, after_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT " REPLY_COLUMNS " FROM notify.replies r "
        "WHERE (NOT $1::bool OR r.customer_id IS NULL) AND ($3::bigint IS NULL OR "
        "(r.received_at, r.id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', "
        "$4::uuid)) ORDER BY r.received_at DESC, r.id DESC LIMIT $2::int",
        4, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    int take = rows > limit ? limit : rows;
    resp->replies = take ? cm_calloc((size_t)take, sizeof *resp->replies) : NULL;
    for (int i = 0; i < take; i++)
        resp->replies[resp->n_replies++] = s_reply(res, i);
    notify_store_next_position(res, limit, 17, next_us, next_id);
    PQclear(res);
    return CM_OK;
}

cm_err_t notify_replies_store_conversation_of(cm_db_t *db, const char *message_id,
                                              const char *customer_id, char *root)
{
    const char *p[] = {message_id, customer_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT coalesce(conversation_id, id) FROM notify.messages "
                               "WHERE id = $1::uuid AND customer_id = $2::uuid",
                               2, p, &err);
    if (!res)
        return err;
    err = PQntuples(res) == 1 ? CM_OK : CM_ERR_NOT_FOUND;
    if (!err)
        snprintf(root, 40, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return err;
}

/* One conversation's messages and replies, merged by time. */
static cm_err_t s_entries(cm_db_t *db, Crm__Conversation *cv)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", ENTRIES_MAX);
    const char *p[] = {cv->id, lim};
    cm_err_t err;
    char *sql = cm_strfmt("%sWHERE m.id = $1::uuid OR m.conversation_id = $1::uuid "
                          "ORDER BY m.created_at, m.id LIMIT $2::int",
                          notify_store_message_columns);
    PGresult *ms = cm_db_exec(db, sql, 2, p, &err);
    free(sql);
    if (!ms)
        return err;
    PGresult *rs = cm_db_exec(db,
                              "SELECT " REPLY_COLUMNS " FROM notify.replies r "
                              "WHERE r.conversation_id = $1::uuid "
                              "ORDER BY r.received_at, r.id LIMIT $2::int",
                              2, p, &err);
    if (!rs) {
        PQclear(ms);
        return err;
    }
    int nm = PQntuples(ms), nr = PQntuples(rs), i = 0, k = 0;
    cv->entries = cm_calloc((size_t)(nm + nr) + 1, sizeof *cv->entries);
    while (i < nm || k < nr) {
        Crm__ConversationEntry *e =
            (Crm__ConversationEntry *)cm_pb_new(&crm__conversation_entry__descriptor);
        /* Both times are written the same way: text order is time order. */
        if (k >= nr || (i < nm && strcmp(PQgetvalue(ms, i, 16), PQgetvalue(rs, k, 14)) <= 0)) {
            e->message = notify_store_message_row(ms, i++);
            cm_pb_set_str(&e->at, e->message->created_at);
        } else {
            e->reply = s_reply(rs, k++);
            cm_pb_set_str(&e->at, e->reply->received_at);
        }
        cv->entries[cv->n_entries++] = e;
    }
    if (nm) {
        Crm__Message *first = cv->entries[0]->message ? cv->entries[0]->message : NULL;
        if (first) {
            cv->channel = first->channel;
            cm_pb_set_str(&cv->subject, first->subject);
        }
    }
    PQclear(ms);
    PQclear(rs);
    return CM_OK;
}

cm_err_t notify_replies_store_conversations(cm_db_t *db, const char *customer_id, int limit,
                                            Crm__ListConversationsResponse *resp)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = {customer_id, lim};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "WITH c AS (SELECT coalesce(conversation_id, id) AS cid, min(created_at) AS first_at, "
        "max(created_at) AS last_m FROM notify.messages WHERE customer_id = $1::uuid GROUP BY 1), "
        "r AS (SELECT conversation_id AS cid, max(received_at) AS last_r FROM notify.replies "
        "WHERE customer_id = $1::uuid GROUP BY 1) "
        "SELECT c.cid, " TS("c.first_at") ", " TS(
            "greatest(c.last_m, coalesce(r.last_r, "
            "c.last_m))") " FROM c LEFT JOIN r USING (cid) "
                          "ORDER BY greatest(c.last_m, coalesce(r.last_r, c.last_m)) DESC, c.cid "
                          "LIMIT $2::int",
        2, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->conversations = rows ? cm_calloc((size_t)rows, sizeof *resp->conversations) : NULL;
    for (int i = 0; i < rows && !err; i++) {
        Crm__Conversation *cv = (Crm__Conversation *)cm_pb_new(&crm__conversation__descriptor);
        cm_pb_set_str(&cv->id, PQgetvalue(res, i, 0));
        cm_pb_set_str(&cv->started_at, PQgetvalue(res, i, 1));
        cm_pb_set_str(&cv->last_at, PQgetvalue(res, i, 2));
        resp->conversations[resp->n_conversations++] = cv;
        err = s_entries(db, cv);
    }
    PQclear(res);
    return err;
}
