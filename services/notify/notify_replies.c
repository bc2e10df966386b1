/* Replies (notify_replies.h). */
#include "notify_replies.h"
#include "notify_compose.h"
#include "notify_handlers.h"
#include "notify_inbound.h"
#include "notify_mime_parse.h"
#include "notify_replies_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sodium.h>

#define PAGE_DEFAULT 20
#define PAGE_MAX 100
#define CONVERSATIONS_MAX 50
#define SMS_ID_MAX 200
#define STOP_SOURCE "SMS STOP"

/* Stores the reply in one transaction of the caller's tenant and answers it;
 * for an SMS asking to stop, the customer's SMS consent is withdrawn after
 * (and again when the same SMS comes twice: a retry after customers failed
 * still withdraws it). */
static void s_store(struct cm_call *call, const struct notify_reply_in *in, ProtobufCMessage **resp)
{
    Crm__Reply *r = NULL;
    bool duplicate = false;
    cm_err_t err = cm_db_begin(call->db, call->hdr->tenant_id);
    if (!err)
        err = notify_replies_store_add(call->db, in, &r, &duplicate);
    if (!err)
        err = cm_db_commit(call->db);
    if (err) {
        cm_db_rollback(call->db);
        if (r)
            crm__reply__free_unpacked(r, NULL);
        cm_call_db_fail(call, err, "could not store the reply");
        return;
    }
    cm_log_info("reply %s (%s) %s%s", r->id, in->channel,
                r->joined_by[0] ? "joined by " : "unassigned", r->joined_by);
    const char *lang = "en";
    if (r->stop && r->customer_id[0] &&
        !notify_compose_withdraw(call, call->hdr->tenant_id, r->customer_id, true, STOP_SOURCE,
                                 &lang)) {
        crm__reply__free_unpacked(r, NULL);
        return;
    }
    Crm__InboundResponse *out =
        (Crm__InboundResponse *)cm_pb_new(&crm__inbound_response__descriptor);
    out->reply = r;
    out->duplicate = duplicate;
    *resp = &out->base;
}

/* A JSON array of strings (dynamic). */
static char *s_json_list(char *const *items, size_t n, bool reverse)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(items[reverse ? n - 1 - i : i]));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

void notify_replies_email(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__InboundEmailRequest *req = (const Crm__InboundEmailRequest *)msg;
    if (!req->raw.len) {
        cm_call_violation(call, "raw", "REQUIRED", "the body: an RFC 5322 message is required");
        return;
    }
    struct notify_mail m;
    char why[200];
    cm_err_t err =
        notify_mime_parse((const char *)req->raw.data, req->raw.len, &m, why, sizeof why);
    if (err) {
        cm_call_violation(call, "raw", err == CM_ERR_UNAVAILABLE ? "TOO_LARGE" : "INVALID_FORMAT",
                          "the message: %s", why);
        return;
    }
    /* Without a Message-ID, the same bytes are the same message. */
    char external[NOTIFY_MIME_PARSE_MAX_ID + 8];
    if (m.message_id[0]) {
        snprintf(external, sizeof external, "%s", m.message_id);
    } else {
        uint8_t h[crypto_hash_sha256_BYTES];
        char hex[2 * sizeof h + 1];
        crypto_hash_sha256(h, req->raw.data, req->raw.len);
        sodium_bin2hex(hex, sizeof hex, h, 16);
        snprintf(external, sizeof external, "sha256:%s", hex);
    }
    char **tokens = cm_calloc(m.n_to + 1, sizeof *tokens);
    size_t n_tokens = 0;
    const char *to = m.n_to ? m.to[0] : "";
    for (size_t i = 0; i < m.n_to; i++) {
        char id[37];
        if (notify_inbound_reply_token(m.to[i], id)) {
            tokens[n_tokens++] = cm_strdup(id);
            if (n_tokens == 1)
                to = m.to[i];
        }
    }
    char *tokens_json = s_json_list(tokens, n_tokens, false);
    /* Newest first: a thread's References end with the message answered. */
    char *refs_json = s_json_list(m.refs, m.n_refs, true);
    char *att_json = s_json_list(m.attachments, m.n_attachments, false);
    struct notify_reply_in in = {
        .tenant_id = call->hdr->tenant_id,
        .channel = "EMAIL",
        .external_id = external,
        .from = m.from_addr,
        .from_name = m.from_name,
        .to = to,
        .subject = m.subject,
        .text = m.text,
        .from_html = m.from_html,
        .attachments_json = att_json,
        .raw = req->raw.data,
        .raw_len = req->raw.len,
        .token_ids_json = tokens_json,
        .in_reply_to = m.in_reply_to,
        .refs_json = refs_json,
    };
    s_store(call, &in, resp);
    for (size_t i = 0; i < n_tokens; i++)
        free(tokens[i]);
    free(tokens);
    free(tokens_json);
    free(refs_json);
    free(att_json);
    notify_mime_parse_free(&m);
}

/* Whether s is an RFC 3339 time ("2026-12-06T12:00:00Z", fraction and
 * offset allowed). */
static bool s_time_ok(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    // NOLINTNEXTLINE(cert-err34-c): field widths bound every number; the count is checked
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return false;
    const char *p = s + n;
    if (*p == '.')
        for (p++; cm_ascii_digit((unsigned char)*p); p++)
            ;
    if (*p == 'Z')
        return p[1] == '\0';
    return (*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' && mo >= 1 && mo <= 12;
}

void notify_replies_sms(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__InboundSmsRequest *req = (const Crm__InboundSmsRequest *)msg;
    char phone[20];
    if (!notify_inbound_phone(req->from, phone, sizeof phone))
        cm_call_violation(call, "from", req->from[0] ? "INVALID_FORMAT" : "REQUIRED",
                          "from: the sender's number, + and 8 to 15 digits");
    size_t tlen = strlen(req->text);
    if (!tlen)
        cm_call_violation(call, "text", "REQUIRED", "text is required");
    else if (tlen > NOTIFY_INBOUND_SMS_TEXT)
        cm_call_violation(call, "text", "TOO_LONG", "text: at most %d bytes, not %zu",
                          NOTIFY_INBOUND_SMS_TEXT, tlen);
    else if (!cm_utf8_valid(req->text, tlen, NULL))
        cm_call_violation(call, "text", "INVALID_FORMAT", "text: not UTF-8");
    size_t idlen = strlen(req->message_id);
    bool printable = idlen > 0;
    for (size_t i = 0; i < idlen && printable; i++)
        printable = req->message_id[i] > 0x20 && req->message_id[i] < 0x7f;
    if (!idlen)
        cm_call_violation(call, "messageId", "REQUIRED",
                          "messageId: the provider's id of the SMS is required");
    else if (idlen > SMS_ID_MAX || !printable)
        cm_call_violation(call, "messageId", "INVALID_FORMAT",
                          "messageId: 1 to %d printable ASCII characters", SMS_ID_MAX);
    if (strlen(req->to) > 100 || !cm_utf8_valid(req->to, strlen(req->to), NULL))
        cm_call_violation(call, "to", "INVALID_FORMAT", "to: at most 100 characters");
    if (req->received_at[0] && !s_time_ok(req->received_at))
        cm_call_violation(call, "receivedAt", "INVALID_FORMAT",
                          "receivedAt: an RFC 3339 time (2026-12-06T12:00:00Z)");
    if (cm_call_failed(call))
        return;
    /* The request as it came is the raw message kept. */
    json_t *raw =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "from", req->from, "to", req->to, "text", req->text,
                  "messageId", req->message_id, "receivedAt", req->received_at);
    char *raw_s = json_dumps(raw, JSON_COMPACT);
    json_decref(raw);
    struct notify_reply_in in = {
        .tenant_id = call->hdr->tenant_id,
        .channel = "SMS",
        .external_id = req->message_id,
        .from = phone,
        .from_name = "",
        .to = req->to,
        .subject = "",
        .text = req->text,
        .attachments_json = "[]",
        .raw = (const uint8_t *)raw_s,
        .raw_len = strlen(raw_s),
        .stop = notify_inbound_is_stop(req->text),
        .received_at = req->received_at,
        .phone = phone,
    };
    s_store(call, &in, resp);
    free(raw_s);
}

void notify_replies_list(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ListRepliesRequest *req = (const Crm__ListRepliesRequest *)msg;
    int64_t after_us = 0;
    char after_id[40] = "";
    notify_page_check(call, req->page_size, PAGE_MAX, req->page_token, &after_us, after_id);
    if (cm_call_failed(call))
        return;
    Crm__ListRepliesResponse *r =
        (Crm__ListRepliesResponse *)cm_pb_new(&crm__list_replies_response__descriptor);
    int64_t next_us = 0;
    char next_id[40];
    cm_err_t err = notify_replies_store_list(
        call->db, req->unassigned, req->page_size ? req->page_size : PAGE_DEFAULT, after_us,
        after_id[0] ? after_id : NULL, r, &next_us, next_id);
    if (err) {
        crm__list_replies_response__free_unpacked(r, NULL);
        cm_call_db_fail(call, err, "could not list the replies");
        return;
    }
    notify_page_token_set(&r->next_page_token, next_us, next_id);
    *resp = &r->base;
}

void notify_replies_conversations(struct cm_call *call, const ProtobufCMessage *msg,
                                  ProtobufCMessage **resp)
{
    const Crm__ListConversationsRequest *req = (const Crm__ListConversationsRequest *)msg;
    if (!cm_uuid_valid(req->customer_id))
        cm_call_violation(call, "customerId", "INVALID_FORMAT", "customerId: a customer's id");
    if (req->page_size < 0 || req->page_size > CONVERSATIONS_MAX)
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize: 0 to %d", CONVERSATIONS_MAX);
    if (cm_call_failed(call))
        return;
    Crm__ListConversationsResponse *r =
        (Crm__ListConversationsResponse *)cm_pb_new(&crm__list_conversations_response__descriptor);
    cm_err_t err = notify_replies_store_conversations(
        call->db, req->customer_id, req->page_size ? req->page_size : PAGE_DEFAULT, r);
    if (err) {
        crm__list_conversations_response__free_unpacked(r, NULL);
        cm_call_db_fail(call, err, "could not read the conversations");
        return;
    }
    if (!r->n_conversations && !notify_compose_known(call, req->customer_id)) {
        crm__list_conversations_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

bool notify_replies_conversation_of(struct cm_call *call, const char *conversation_id,
                                    const char *customer_id, char *root)
{
    cm_err_t err =
        cm_uuid_valid(conversation_id)
            ? notify_replies_store_conversation_of(call->db, conversation_id, customer_id, root)
            : CM_ERR_NOT_FOUND;
    if (err == CM_ERR_NOT_FOUND)
        cm_call_violation(call, "conversationId", "NOT_FOUND",
                          "conversationId: no conversation %s with this customer", conversation_id);
    else if (err)
        cm_call_db_fail(call, err, "could not read the conversation");
    return !err;
}
