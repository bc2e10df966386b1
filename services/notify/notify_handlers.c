/* notify.SendMessage queues a message to a customer (asking customers for
 * their address first, with no transaction open), GetMessage and
 * ListMessages read them back, MeasureSms, the tenant's sender settings, the
 * trial mailbox, ReplayEvents of the "notify" stream; the method table of the
 * whole service (templates: notify_templates.c, accounts:
 * notify_accounts.c), and the hooks. The sending itself is the senders'
 * (notify_sender.c). */
#include "notify_handlers.h"
#include "notify_staff.h"
#include "notify_retention.h"
#include "notify_register.h"
#include "notify_welcome.h"
#include "notify_accounts.h"
#include "notify_campaigns.h"
#include "notify_compose.h"
#include "notify_mime.h"
#include "notify_replies.h"
#include "notify_schedule.h"
#include "notify_sms.h"
#include "notify_sender.h"
#include "notify_store.h"
#include "notify_templates.h"
#include "notify_trial.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define SUBJECT_MAX 200 // characters
#define TEXT_MAX 100000 // bytes
#define HTML_MAX 200000 // bytes
#define PAGE_DEFAULT 20
#define PAGE_MAX 100

/* ---------------------------------------------------------------------- */
/* SendMessage                                                             */

static void s_check_subject(struct cm_call *call, const char *subject, bool required)
{
    size_t len = cm_utf8_length(subject);
    if (!subject[0] && required)
        cm_call_violation(call, "subject", "REQUIRED", "subject is required for an e-mail");
    else if (strpbrk(subject, "\r\n"))
        cm_call_violation(call, "subject", "INVALID_FORMAT", "subject: one line, no line breaks");
    else if (len > SUBJECT_MAX)
        cm_call_violation(call, "subject", "TOO_LONG", "subject: at most %d characters, not %zu",
                          SUBJECT_MAX, len);
}

/* The text of an SMS: at most NOTIFY_SMS_MAX_PARTS parts. */
static void s_check_sms_text(struct cm_call *call, const char *text)
{
    struct notify_sms_measure m;
    if (notify_sms_measure(text, &m))
        cm_call_violation(call, "text", "INVALID_FORMAT", "text: not UTF-8");
    else if (m.parts > NOTIFY_SMS_MAX_PARTS)
        cm_call_violation(call, "text", "TOO_LONG",
                          "text: an SMS of at most %d parts, not %d (%s, %zu characters)",
                          NOTIFY_SMS_MAX_PARTS, m.parts,
                          m.encoding == NOTIFY_SMS_GSM7 ? "GSM 7-bit" : "UCS-2", m.characters);
}

bool notify_check_content(struct cm_call *call, Crm__Channel channel, const char *subject,
                          const char *text, const char *html)
{
    bool sms = channel == CRM__CHANNEL__CHANNEL_SMS;
    if (channel != CRM__CHANNEL__CHANNEL_UNSPECIFIED && channel != CRM__CHANNEL__CHANNEL_EMAIL &&
        !sms)
        cm_call_violation(call, "channel", "UNSUPPORTED", "channel: EMAIL or SMS");
    if (sms && subject[0])
        cm_call_violation(call, "subject", "UNSUPPORTED", "subject: an SMS has none");
    else
        s_check_subject(call, subject, !sms);
    if (sms && html[0])
        cm_call_violation(call, "html", "UNSUPPORTED", "html: an SMS has none");
    if (!text[0])
        cm_call_violation(call, "text", "REQUIRED", "text is required");
    else if (strlen(text) > TEXT_MAX)
        cm_call_violation(call, "text", "TOO_LONG", "text: at most %d bytes, not %zu", TEXT_MAX,
                          strlen(text));
    else if (sms)
        s_check_sms_text(call, text);
    if (strlen(html) > HTML_MAX)
        cm_call_violation(call, "html", "TOO_LONG", "html: at most %d bytes, not %zu", HTML_MAX,
                          strlen(html));
    return !cm_call_failed(call);
}

/* Checks req; a send_at ahead is written to send_at (UTC, size 40), else "". */
static bool s_check_request(struct cm_call *call, const Crm__SendMessageRequest *req, char *send_at)
{
    if (!cm_uuid_valid(req->customer_id))
        cm_call_violation(call, "customerId", req->customer_id[0] ? "INVALID_FORMAT" : "REQUIRED",
                          "customerId: a customer's id is required");
    if (req->marketing && req->channel == CRM__CHANNEL__CHANNEL_SMS)
        cm_call_violation(call, "marketing", "UNSUPPORTED",
                          "marketing: e-mail only; an SMS to many goes as a newsletter");
    int64_t at_ms;
    switch (notify_schedule_check(req->send_at, cm_now_ms(), &at_ms)) {
    case NOTIFY_SEND_AT_INVALID:
        cm_call_violation(call, "sendAt", "INVALID_FORMAT",
                          "sendAt: an RFC 3339 date-time, e.g. 2026-12-08T09:00:00Z");
        break;
    case NOTIFY_SEND_AT_PAST:
        cm_call_violation(call, "sendAt", "OUT_OF_RANGE",
                          "sendAt: in the past; at most 5 minutes ago (or empty to send now)");
        break;
    case NOTIFY_SEND_AT_TOO_FAR:
        cm_call_violation(call, "sendAt", "OUT_OF_RANGE", "sendAt: at most 366 days ahead");
        break;
    case NOTIFY_SEND_AT_LATER:
        cm_time_rfc3339(at_ms, send_at, 40);
        break;
    case NOTIFY_SEND_AT_NOW:
        break;
    }
    return notify_check_content(call, req->channel, req->subject, req->text, req->html);
}

static bool s_marketing_allowed(const Crm__Customer *c)
{
    const Crm__Preferences *p = c->preferences;
    return p && p->marketing && p->marketing->granted && p->email && p->email->granted;
}

static void s_send_message(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__SendMessageRequest *req = (const Crm__SendMessageRequest *)msg;
    struct notify_state *st = call->user;
    /* A time ahead schedules it, written in UTC; one within the last 5
     * minutes goes at once. */
    char send_at[40] = "";
    if (!s_check_request(call, req, send_at))
        return;
    bool sms = req->channel == CRM__CHANNEL__CHANNEL_SMS;
    if (sms ? !st->sms : !st->email) {
        cm_call_fail(call, CM_ERR_PRECONDITION, "%s is not configured: set %s (docs/notify.md)",
                     sms ? "SMS" : "e-mail", sms ? "CRM_SMS_URL" : "CRM_SMTP_URL");
        return;
    }
    char root[40] = "";
    if (req->conversation_id[0] &&
        !notify_replies_conversation_of(call, req->conversation_id, req->customer_id, root))
        return;
    Crm__Customer *c = notify_compose_customer(call, req->customer_id, NULL);
    if (!c)
        return;
    /* Marketing mail goes only with both consents, and says how to stop it. */
    char *text = NULL, *html = NULL;
    if (req->marketing && !s_marketing_allowed(c))
        cm_call_violation(call, "customerId", "NO_MARKETING_CONSENT",
                          "customerId: the customer has not agreed to marketing e-mail");
    else if (req->marketing)
        notify_compose_unsubscribe_link(st, call->hdr->tenant_id, c, req->text, req->html, &text,
                                        &html);
    /* A message sent later is not set up for a customer who withdrew the
     * channel's consent; it is checked again when it goes. */
    if (send_at[0] && notify_schedule_withdrawn(c, sms))
        cm_call_violation(call, "customerId", "CONSENT_WITHDRAWN",
                          "customerId: the customer withdrew their %s consent",
                          sms ? "SMS" : "e-mail");
    if (!cm_call_failed(call) && notify_compose_reachable(call, c, sms)) {
        struct notify_address a;
        struct notify_new_message m = {
            .tenant_id = call->hdr->tenant_id,
            .kind = req->marketing ? NOTIFY_MARKETING_KIND : "message",
            .subject = req->subject,
            .text = text ? text : req->text,
            .html = html ? html : req->html,
            .request_key = call->hdr->idempotency_key,
            .principal = call->hdr->principal,
            .channel_name = call->hdr->channel[0] ? call->hdr->channel : "api",
            .request_id = call->hdr->request_id,
            .conversation_id = root,
            .send_at = send_at,
        };
        /* Only now a transaction: none was held while customers answered. */
        if (notify_compose_address(call, st, c, sms, &a, &m)) {
            Crm__Message *out = notify_compose_queue(call, st, call->hdr->tenant_id, &m, NULL);
            if (out)
                *resp = &out->base;
        }
    }
    free(text);
    free(html);
    crm__customer__free_unpacked(c, NULL);
}

/* ---------------------------------------------------------------------- */
/* Reads                                                                   */

static void s_get_message(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__GetMessageRequest *req = (const Crm__GetMessageRequest *)msg;
    Crm__Message *m = NULL;
    cm_err_t err =
        cm_uuid_valid(req->id) ? notify_store_get(call->db, req->id, &m) : CM_ERR_NOT_FOUND;
    if (err == CM_ERR_NOT_FOUND)
        cm_call_fail(call, err, "message %s not found", req->id);
    else if (err)
        cm_call_db_fail(call, err, "could not read the message");
    else
        *resp = &m->base;
}

/* A page token: "<created_at in µs>_<id>". */
static bool s_parse_token(const char *tok, int64_t *us, char *id)
{
    const char *sep = strchr(tok, '_');
    char num[24];
    long v = 0;
    if (!sep || (size_t)(sep - tok) >= sizeof num)
        return false;
    memcpy(num, tok, (size_t)(sep - tok));
    num[sep - tok] = '\0';
    if (cm_parse_long(num, 0, INT64_MAX, &v) || !cm_uuid_valid(sep + 1))
        return false;
    *us = v;
    snprintf(id, 40, "%s", sep + 1);
    return true;
}

bool notify_page_token_parse(const char *tok, int64_t *us, char id[40])
{
    return s_parse_token(tok, us, id);
}

void notify_page_check(struct cm_call *call, int32_t page_size, int32_t max, const char *token,
                       int64_t *after_us, char after_id[40])
{
    if (page_size < 0 || page_size > max)
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize: 0 to %d", max);
    if (token[0] && !s_parse_token(token, after_us, after_id))
        cm_call_violation(call, "pageToken", "INVALID_FORMAT",
                          "pageToken: not a token this list gave");
}

void notify_page_token_set(char **field, int64_t us, const char *id)
{
    if (!id[0])
        return;
    char tok[80];
    snprintf(tok, sizeof tok, "%" PRId64 "_%s", us, id);
    cm_pb_set_str(field, tok);
}

static void s_list_messages(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__ListMessagesRequest *req = (const Crm__ListMessagesRequest *)msg;
    if (!cm_uuid_valid(req->customer_id))
        cm_call_violation(call, "customerId", "INVALID_FORMAT", "customerId: a customer's id");
    int64_t after_us = 0;
    char after_id[40] = "";
    notify_page_check(call, req->page_size, PAGE_MAX, req->page_token, &after_us, after_id);
    if (cm_call_failed(call))
        return;
    Crm__ListMessagesResponse *r =
        (Crm__ListMessagesResponse *)cm_pb_new(&crm__list_messages_response__descriptor);
    int64_t next_us = 0;
    char next_id[40];
    cm_err_t err = notify_store_list(call->db, req->customer_id,
                                     req->page_size ? req->page_size : PAGE_DEFAULT, after_us,
                                     after_id[0] ? after_id : NULL, r, &next_us, next_id);
    if (err) {
        crm__list_messages_response__free_unpacked(r, NULL);
        cm_call_db_fail(call, err, "could not list the messages");
        return;
    }
    if (!r->n_messages && !after_id[0] && !notify_compose_known(call, req->customer_id)) {
        crm__list_messages_response__free_unpacked(r, NULL);
        return;
    }
    notify_page_token_set(&r->next_page_token, next_us, next_id);
    *resp = &r->base;
}

static void s_measure_sms(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__MeasureSmsRequest *req = (const Crm__MeasureSmsRequest *)msg;
    struct notify_sms_measure m;
    if (strlen(req->text) > TEXT_MAX)
        cm_call_violation(call, "text", "TOO_LONG", "text: at most %d bytes", TEXT_MAX);
    else if (notify_sms_measure(req->text, &m))
        cm_call_violation(call, "text", "INVALID_FORMAT", "text: not UTF-8");
    if (cm_call_failed(call))
        return;
    Crm__SmsMeasure *r = (Crm__SmsMeasure *)cm_pb_new(&crm__sms_measure__descriptor);
    notify_store_sms_measure(&m, r);
    *resp = &r->base;
}

static void s_list_trial_mailbox(struct cm_call *call, const ProtobufCMessage *msg,
                                 ProtobufCMessage **resp)
{
    const Crm__ListTrialMailboxRequest *req = (const Crm__ListTrialMailboxRequest *)msg;
    struct notify_state *st = call->user;
    if (req->page_size < 0 || req->page_size > PAGE_MAX) {
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize: 0 to %d", PAGE_MAX);
        return;
    }
    int limit = req->page_size ? req->page_size : PAGE_DEFAULT;
    Crm__ListTrialMailboxResponse *r =
        (Crm__ListTrialMailboxResponse *)cm_pb_new(&crm__list_trial_mailbox_response__descriptor);
    *resp = &r->base;
    if (!st->trial_dir || !st->trial_dir[0])
        return;
    r->trial = true;
    struct notify_trial_entry *entries = NULL;
    size_t n = notify_trial_read(st->trial_dir, &entries);
    json_t *keys = json_array();
    for (size_t i = 0; i < n; i++)
        if (entries[i].key[0])
            json_array_append_new(keys, json_string(entries[i].key));
    char *keys_json = json_dumps(keys, JSON_COMPACT);
    json_decref(keys);
    Crm__Message **found = NULL;
    size_t n_found = 0;
    cm_err_t err = notify_store_by_keys(call->db, keys_json, &found, &n_found);
    free(keys_json);
    if (err) {
        cm_call_db_fail(call, err, "could not read the messages");
        crm__list_trial_mailbox_response__free_unpacked(r, NULL);
        *resp = NULL;
        goto out;
    }
    r->entries = cm_calloc((size_t)limit, sizeof *r->entries);
    for (size_t i = 0; i < n && r->n_entries < (size_t)limit; i++) {
        /* Only the tenant's own: the store found only those. */
        Crm__Message *m = NULL;
        for (size_t k = 0; k < n_found && !m; k++)
            if (found[k] &&
                !strcmp(entries[i].sms ? found[k]->id : found[k]->message_id, entries[i].key))
                m = found[k];
        if (!m)
            continue;
        Crm__TrialMailboxEntry *e =
            (Crm__TrialMailboxEntry *)cm_pb_new(&crm__trial_mailbox_entry__descriptor);
        e->message = (Crm__Message *)cm_pb_clone(&m->base);
        char at[40];
        cm_pb_set_str(&e->received_at, cm_time_rfc3339(entries[i].received_ms, at, sizeof at));
        cm_pb_set_str(&e->raw, cm_utf8_valid(entries[i].raw, strlen(entries[i].raw), NULL)
                                   ? entries[i].raw
                                   : "(not UTF-8)");
        r->entries[r->n_entries++] = e;
    }
out:
    for (size_t k = 0; k < n_found; k++)
        crm__message__free_unpacked(found[k], NULL);
    free(found);
    notify_trial_free(entries, n);
}

static void s_get_settings(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    (void)msg;
    Crm__NotifySettings *s = (Crm__NotifySettings *)cm_pb_new(&crm__notify_settings__descriptor);
    if (!notify_compose_sender(call, call->user, s)) {
        crm__notify_settings__free_unpacked(s, NULL);
        return;
    }
    const struct notify_state *st = call->user;
    char *link = cm_strfmt("%s/ui/register.html?business=%s", st->sender_cfg.public_url,
                           call->hdr->tenant_id);
    cm_pb_set_str(&s->registration_link, link);
    free(link);
    *resp = &s->base;
}

static void s_update_settings(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp)
{
    const Crm__UpdateNotifySettingsRequest *req = (const Crm__UpdateNotifySettingsRequest *)msg;
    const Crm__NotifySettings *in = req->settings;
    if (!in) {
        cm_call_violation(call, "settings", "REQUIRED", "settings is required");
        return;
    }
    if (in->email_from[0] && !notify_mime_addr_ok(in->email_from))
        cm_call_violation(call, "settings.emailFrom", "INVALID_FORMAT",
                          "settings.emailFrom: an e-mail address (user@domain), ASCII");
    if (strpbrk(in->email_from_name, "\r\n") ||
        !cm_utf8_valid(in->email_from_name, strlen(in->email_from_name), NULL))
        cm_call_violation(call, "settings.emailFromName", "INVALID_FORMAT",
                          "settings.emailFromName: one line");
    else if (cm_utf8_length(in->email_from_name) > 100)
        cm_call_violation(call, "settings.emailFromName", "TOO_LONG",
                          "settings.emailFromName: at most 100 characters");
    if (in->sms_from[0] && !notify_sms_from_ok(in->sms_from))
        cm_call_violation(call, "settings.smsFrom", "INVALID_FORMAT",
                          "settings.smsFrom: 1 to 11 letters, digits and spaces, or + and up to "
                          "15 digits");
    if (in->welcome_channel != CRM__CHANNEL__CHANNEL_UNSPECIFIED &&
        in->welcome_channel != CRM__CHANNEL__CHANNEL_EMAIL &&
        in->welcome_channel != CRM__CHANNEL__CHANNEL_SMS)
        cm_call_violation(call, "settings.welcomeChannel", "UNSUPPORTED",
                          "settings.welcomeChannel: EMAIL or SMS");
    if (cm_call_failed(call))
        return;
    cm_err_t err = notify_store_settings_put(call->db, call->hdr->tenant_id, in);
    if (err) {
        cm_call_db_fail(call, err, "could not save the sender");
        return;
    }
    s_get_settings(call, msg, resp);
}

static void s_replay_events(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    /* A durable reader's position is recorded there (notify.stream_readers): the
     * outbox's retention keeps what it has not applied (notify_retention.c). */
    cm_outbox_serve_replay(call, &notify_outbox, (const Crm__ReplayEventsRequest *)msg, resp);
}

/* ---------------------------------------------------------------------- */
/* Hooks and the table                                                     */

void notify_start(cm_svc_t *svc, void *user)
{
    struct notify_state *st = user;
    notify_accounts_start(st);
    st->pub = cm_events_pub_new(cm_svc_zctx(svc), st->events_in_endpoint);
    st->sender = notify_sender_start(&st->sender_cfg);
    notify_campaigns_start(svc, st);
    notify_welcome_start(st);
}

void notify_stop(cm_svc_t *svc, void *user)
{
    (void)svc;
    struct notify_state *st = user;
    notify_welcome_stop(st);
    notify_campaigns_stop(st);
    notify_sender_stop(&st->sender);
    /* Whatever is still unpublished goes out with the next relay of any copy. */
    cm_events_pub_destroy(&st->pub);
    notify_accounts_stop(st);
}

void notify_tick(cm_svc_t *svc, void *user)
{
    struct notify_state *st = user;
    cm_db_t *db = cm_svc_db(svc);
    if (!st->pub)
        return;
    (void)cm_outbox_relay(db, &notify_outbox, st->pub);
    int64_t now = cm_mono_ms();
    if (now >= st->next_heartbeat_ms) {
        cm_outbox_heartbeat(db, &notify_outbox, st->pub);
        st->next_heartbeat_ms = now + 1000;
    }
    notify_campaigns_tick(svc, st);
    notify_welcome_tick(svc, st);
    notify_retention_tick(svc, st);
    notify_schedule_tick(svc, st);
}

#define M(name, req, resp, fn, flags, scope) CM_METHOD("notify", name, req, resp, fn, flags, scope)

const struct cm_method notify_methods[] = {
    /* Its own transaction, opened only after customers answered; idempotent on
     * the envelope's key through notify.messages.request_key. */
    M("SendMessage", send_message_request, message, s_send_message, CM_METHOD_NO_TXN,
      MESSAGES_SEND),
    /* Messages sent later (notify_scheduled.c): a cancel in its own
     * transaction; a release is notify's own call, asking customers first. */
    M("CancelMessage", cancel_message_request, message, notify_schedule_cancel, CM_METHOD_WRITE,
      MESSAGES_SEND),
    M("ReleaseMessage", release_message_request, release_message_response, notify_schedule_release,
      CM_METHOD_NO_TXN, INTERNAL),
    M("GetMessage", get_message_request, message, s_get_message, CM_METHOD_NO_TXN, NOTES_READ),
    M("ListMessages", list_messages_request, list_messages_response, s_list_messages,
      CM_METHOD_NO_TXN, NOTES_READ),
    M("MeasureSms", measure_sms_request, sms_measure, s_measure_sms, CM_METHOD_NO_TXN,
      MESSAGES_SEND),
    M("ListTemplates", list_templates_request, list_templates_response, notify_templates_list,
      CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("GetTemplate", get_template_request, template, notify_templates_get, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("UpdateTemplate", update_template_request, template, notify_templates_update, CM_METHOD_WRITE,
      SETTINGS),
    M("ResetTemplate", reset_template_request, template, notify_templates_reset, CM_METHOD_WRITE,
      SETTINGS),
    /* Asks customers (settings, the customer): no transaction held meanwhile. */
    M("PreviewTemplate", preview_template_request, rendered_message, notify_templates_preview,
      CM_METHOD_NO_TXN, CUSTOMERS_READ),
    /* Accounts (notify_accounts.c): each asks customers first, then writes in a
     * transaction of its own. The page's three calls have no key and no
     * tenant: the link names its tenant. */
    M("SendPasswordLink", send_password_link_request, message, notify_accounts_send_link,
      CM_METHOD_NO_TXN, MESSAGES_SEND),
    M("SendActivation", send_activation_request, message, notify_accounts_send_activation,
      CM_METHOD_NO_TXN, MESSAGES_SEND),
    M("InspectPasswordLink", inspect_password_link_request, password_link, notify_accounts_inspect,
      CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN, PUBLIC),
    M("SetPassword", set_password_request, set_password_response, notify_accounts_set_password,
      CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN, PUBLIC),
    M("RenewPasswordLink", renew_password_link_request, renew_password_link_response,
      notify_accounts_renew, CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN, PUBLIC),
    /* Self-registration at the business's public page (notify_register.c). */
    M("CreateRegistration", create_registration_request, create_registration_response,
      notify_register, CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN, PUBLIC),
    M("GetRegistrationForm", get_registration_form_request, registration_form, notify_register_form,
      CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN, PUBLIC),
    M("SignIn", sign_in_request, sign_in_response, notify_accounts_sign_in, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("SendStaffInvite", send_staff_invite_request, message, notify_staff_invite, CM_METHOD_NO_TXN,
      INTERNAL),
    /* Idempotent on the envelope's key, as SendMessage. */
    M("SendStaffNotice", send_staff_notice_request, message, notify_staff_notice, CM_METHOD_NO_TXN,
      INTERNAL),
    M("GetSettings", get_notify_settings_request, notify_settings, s_get_settings, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("UpdateSettings", update_notify_settings_request, notify_settings, s_update_settings,
      CM_METHOD_WRITE, SETTINGS),
    M("ListTrialMailbox", list_trial_mailbox_request, list_trial_mailbox_response,
      s_list_trial_mailbox, CM_METHOD_NO_TXN, NOTES_READ),
    M("ReplayEvents", replay_events_request, replay_events_response, s_replay_events,
      CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN, EVENTS_READ),
    /* Newsletters (notify_campaigns.c). ExpandCampaign is notify's own call to
     * itself: it asks customers with no transaction open, then writes a page
     * in a transaction of its own. */
    M("CreateCampaign", create_campaign_request, campaign, notify_campaigns_create, CM_METHOD_WRITE,
      MESSAGES_SEND),
    M("GetCampaign", get_campaign_request, campaign, notify_campaigns_get, CM_METHOD_NO_TXN,
      NOTES_READ),
    M("ListCampaigns", list_campaigns_request, list_campaigns_response, notify_campaigns_list,
      CM_METHOD_NO_TXN, NOTES_READ),
    M("CancelCampaign", cancel_campaign_request, campaign, notify_campaigns_cancel, CM_METHOD_WRITE,
      MESSAGES_SEND),
    M("ExpandCampaign", expand_campaign_request, expand_campaign_response, notify_campaigns_expand,
      CM_METHOD_NO_TXN, INTERNAL),
    /* Welcome on auto-registration (notify_welcome.c): notify's own call to
     * itself; it asks customers, then queues in a transaction of its own. */
    M("SendWelcome", send_welcome_request, send_welcome_response, notify_welcome_send,
      CM_METHOD_NO_TXN, INTERNAL),
    /* The link names its tenant; it asks customers, and writes nothing itself. */
    M("Unsubscribe", unsubscribe_request, unsubscribe_response, notify_campaigns_unsubscribe,
      CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN, PUBLIC),
    /* Replies (notify_replies.c): each stores in a transaction of its own;
     * an SMS STOP then asks customers to withdraw the consent. */
    M("InboundEmail", inbound_email_request, inbound_response, notify_replies_email,
      CM_METHOD_NO_TXN, NOTES_WRITE),
    M("InboundSms", inbound_sms_request, inbound_response, notify_replies_sms, CM_METHOD_NO_TXN,
      NOTES_WRITE),
    M("ListReplies", list_replies_request, list_replies_response, notify_replies_list,
      CM_METHOD_NO_TXN, NOTES_READ),
    M("ListConversations", list_conversations_request, list_conversations_response,
      notify_replies_conversations, CM_METHOD_NO_TXN, NOTES_READ),
};
const size_t notify_n_methods = sizeof notify_methods / sizeof *notify_methods;
