/* Newsletters (notify_campaigns.h): a campaign is stored with a work row;
 * a copy's tick claims the row for a lease and asks any copy to expand it
 * (notify.ExpandCampaign). The expansion reads the audience from customers
 * (customers.ListCustomers with the group or tag, a page at a time, no
 * transaction open while it answers) and writes each page in one
 * transaction: a recipient row per customer (unique per campaign, so a page
 * read again queues nobody twice), a queued message for each one with the
 * consents and an address, and the cursor moved to the next page. A copy
 * killed mid-page loses the page's transaction and nothing else; the lease
 * brings the campaign back from the cursor. */
#include "notify_campaigns.h"
#include "notify_campaigns_store.h"
#include "notify_compose.h"
#include "notify_mime.h"
#include "notify_sender.h"
#include "notify_store.h"
#include "notify_template.h"
#include "notify_unsubscribe.h"
#include "notify_inbound.h"
#include "notify_sms.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_CHARS 200
#define AUDIENCE_MAX 200 // bytes of a group's or tag's name
#define PAGE_DEFAULT 20
#define PAGE_MAX 100
#define AUDIENCE_PAGE 200 // customers read per ListCustomers
#define LIST_TIMEOUT_MS 5000
#define EXPAND_LEASE_MS 10000 // a claimed campaign comes back after this if its copy dies
#define EXPAND_BUDGET_MS 3000 // pages one ExpandCampaign queues before it hands back
#define EXPAND_RETRY_MS 2000  // customers unavailable: try again after this
/* How often a copy looks for campaigns to expand: a campaign handed back after
 * its budget waits at most this long before the next copy goes on with it. */
#define TICK_EVERY_MS 100
#define CLAIM_MAX 4
#define CURSOR_MAX 1024

/* ---------------------------------------------------------------------- */
/* CreateCampaign, GetCampaign, ListCampaigns, CancelCampaign              */

/* An SMS newsletter goes out with the stop line of the customer's language
 * after its text (s_queue_one): with the longest of them it must still fit. */
static void s_check_with_stop_line(struct cm_call *call, const char *text)
{
    static const char *const langs[] = {"en", "de", "pl", "nb", "bg"};
    for (size_t i = 0; i < sizeof langs / sizeof *langs; i++) {
        char *full = cm_strfmt("%s\n%s", text, notify_inbound_stop_hint(langs[i]));
        struct notify_sms_measure m;
        int rc = notify_sms_measure(full, &m);
        free(full);
        if (!rc && m.parts > NOTIFY_SMS_MAX_PARTS) {
            cm_call_violation(call, "text", "TOO_LONG",
                              "text: with the line saying how to stop (%s) an SMS of at most %d "
                              "parts, not %d",
                              langs[i], NOTIFY_SMS_MAX_PARTS, m.parts);
            return;
        }
    }
}

static bool s_check_campaign(struct cm_call *call, const Crm__Campaign *c)
{
    size_t name_len = cm_utf8_length(c->name);
    if (!c->name[0])
        cm_call_violation(call, "name", "REQUIRED", "name is required");
    else if (strpbrk(c->name, "\r\n"))
        cm_call_violation(call, "name", "INVALID_FORMAT", "name: one line, no line breaks");
    else if (name_len > NAME_MAX_CHARS)
        cm_call_violation(call, "name", "TOO_LONG", "name: at most %d characters, not %zu",
                          NAME_MAX_CHARS, name_len);
    if (!c->group[0] && !c->tag[0])
        cm_call_violation(call, "group", "REQUIRED", "the audience: a group or a tag is required");
    else if (c->group[0] && c->tag[0])
        cm_call_violation(call, "tag", "ONE_OF", "the audience: a group or a tag, not both");
    else if (strlen(c->group) > AUDIENCE_MAX || strlen(c->tag) > AUDIENCE_MAX)
        cm_call_violation(call, c->group[0] ? "group" : "tag", "TOO_LONG", "%s: at most %d bytes",
                          c->group[0] ? "group" : "tag", AUDIENCE_MAX);
    if (notify_check_content(call, c->channel, c->subject, c->text, c->html) &&
        c->channel == CRM__CHANNEL__CHANNEL_SMS)
        s_check_with_stop_line(call, c->text);
    return !cm_call_failed(call);
}

void notify_campaigns_create(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__CreateCampaignRequest *req = (const Crm__CreateCampaignRequest *)msg;
    struct notify_state *st = call->user;
    if (!req->campaign) {
        cm_call_violation(call, "campaign", "REQUIRED", "campaign is required");
        return;
    }
    if (!s_check_campaign(call, req->campaign))
        return;
    bool sms = req->campaign->channel == CRM__CHANNEL__CHANNEL_SMS;
    if (sms ? !st->sms : !st->email) {
        cm_call_fail(call, CM_ERR_PRECONDITION, "%s is not configured: set %s (docs/notify.md)",
                     sms ? "SMS" : "e-mail", sms ? "CRM_SMS_URL" : "CRM_SMTP_URL");
        return;
    }
    if (req->campaign->rate < 0 || req->campaign->rate > st->campaign_rate) {
        cm_call_violation(call, "rate", "OUT_OF_RANGE",
                          "rate: 1 to %d messages a second (CRM_NOTIFY_CAMPAIGN_RATE), or 0 for "
                          "that",
                          st->campaign_rate);
        return;
    }
    Crm__Campaign c = *req->campaign;
    char id[40];
    cm_uuid(id);
    c.id = id;
    cm_err_t err = notify_campaigns_store_create(call->db, call->hdr->tenant_id, &c,
                                                 c.rate ? c.rate : st->campaign_rate);
    Crm__Campaign *out = NULL;
    if (!err)
        err = notify_campaigns_store_get(call->db, id, &out);
    if (err) {
        cm_call_db_fail(call, err, "could not store the campaign");
        return;
    }
    cm_log_info("campaign %s created", id);
    *resp = &out->base;
}

void notify_campaigns_get(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__GetCampaignRequest *req = (const Crm__GetCampaignRequest *)msg;
    Crm__Campaign *c = NULL;
    cm_err_t err = cm_uuid_valid(req->id) ? notify_campaigns_store_get(call->db, req->id, &c)
                                          : CM_ERR_NOT_FOUND;
    if (err == CM_ERR_NOT_FOUND)
        cm_call_fail(call, err, "campaign %s not found", req->id);
    else if (err)
        cm_call_db_fail(call, err, "could not read the campaign");
    else
        *resp = &c->base;
}

void notify_campaigns_list(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__ListCampaignsRequest *req = (const Crm__ListCampaignsRequest *)msg;
    int64_t after_us = 0;
    char after_id[40] = "";
    notify_page_check(call, req->page_size, PAGE_MAX, req->page_token, &after_us, after_id);
    if (cm_call_failed(call))
        return;
    Crm__ListCampaignsResponse *r =
        (Crm__ListCampaignsResponse *)cm_pb_new(&crm__list_campaigns_response__descriptor);
    int64_t next_us = 0;
    char next_id[40];
    cm_err_t err =
        notify_campaigns_store_list(call->db, req->page_size ? req->page_size : PAGE_DEFAULT,
                                    after_us, after_id[0] ? after_id : NULL, r, &next_us, next_id);
    if (err) {
        crm__list_campaigns_response__free_unpacked(r, NULL);
        cm_call_db_fail(call, err, "could not list the campaigns");
        return;
    }
    notify_page_token_set(&r->next_page_token, next_us, next_id);
    *resp = &r->base;
}

void notify_campaigns_cancel(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__CancelCampaignRequest *req = (const Crm__CancelCampaignRequest *)msg;
    bool found = false, cancelled = false;
    cm_err_t err = cm_uuid_valid(req->id)
                       ? notify_campaigns_store_cancel(call->db, req->id, &found, &cancelled)
                       : CM_OK;
    Crm__Campaign *c = NULL;
    if (!err && cancelled)
        err = notify_campaigns_store_get(call->db, req->id, &c);
    if (err)
        cm_call_db_fail(call, err, "could not cancel the campaign");
    else if (!found)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "campaign %s not found", req->id);
    else if (!cancelled)
        cm_call_fail(call, CM_ERR_PRECONDITION, "campaign %s has ended: nothing to cancel",
                     req->id);
    else {
        cm_log_info("campaign %s cancelled", req->id);
        *resp = &c->base;
    }
}

/* ---------------------------------------------------------------------- */
/* ExpandCampaign                                                          */

/* NULL when the customer gets the newsletter, else why not. */
static const char *s_skip_reason(const Crm__Customer *c, bool sms)
{
    const Crm__Preferences *p = c->preferences;
    const Crm__Consent *channel = p ? (sms ? p->sms : p->email) : NULL;
    if (!p || !p->marketing || !p->marketing->granted || !channel || !channel->granted)
        return "NO_CONSENT";
    if (sms ? !c->phone[0] : !c->email[0] || !notify_mime_addr_ok(c->email))
        return "NO_ADDRESS";
    return NULL;
}

/* Queues one customer's message in the page's transaction, from the
 * tenant's sender s (read once for the page). */
static cm_err_t s_queue_one(struct cm_call *call, struct notify_state *st, const Crm__Campaign *cp,
                            const Crm__NotifySettings *s, const Crm__Customer *c)
{
    bool sms = cp->channel == CRM__CHANNEL__CHANNEL_SMS;
    char key[100];
    snprintf(key, sizeof key, "campaign:%s:%s", cp->id, c->id);
    char *text = NULL, *html = NULL;
    if (!sms) {
        notify_compose_unsubscribe_link(st, call->hdr->tenant_id, c, cp->text, cp->html, &text,
                                        &html);
    } else {
        /* An SMS says how to stop: a reply of STOP (docs/notify.md, "Replies"). */
        const char *hint = notify_inbound_stop_hint(
            notify_language_of(c->preferences ? c->preferences->language : ""));
        text = cm_strfmt("%s\n%s", cp->text, hint);
        html = cm_strdup("");
    }
    struct notify_address a;
    struct notify_new_message m = {
        .tenant_id = call->hdr->tenant_id,
        .kind = NOTIFY_NEWSLETTER_KIND,
        .subject = cp->subject,
        .text = text,
        .html = html,
        .request_key = key,
        .principal = call->hdr->principal,
        .channel_name = "campaign",
        .request_id = call->hdr->request_id,
    };
    Crm__Message *out = NULL;
    bool existed = false;
    notify_compose_address_from(st, s, c, sms, &a, &m);
    cm_err_t err = notify_store_queue(call->db, &m, &out, &existed);
    if (!err && !existed)
        err = notify_campaigns_store_queued(call->db, cp->id, c->id, out->id);
    if (out)
        crm__message__free_unpacked(out, NULL);
    free(text);
    free(html);
    return err;
}

/* Writes one page in one transaction; *moved false when another copy or a
 * cancel got there first (nothing written then). */
static cm_err_t s_write_page(struct cm_call *call, struct notify_state *st, const Crm__Campaign *cp,
                             const char *cursor, const Crm__ListCustomersResponse *page,
                             bool *moved)
{
    bool sms = cp->channel == CRM__CHANNEL__CHANNEL_SMS;
    int total = 0, no_consent = 0, no_address = 0;
    cm_err_t err = cm_db_begin(call->db, call->hdr->tenant_id);
    /* The tenant's sender, read once in the page's transaction. */
    Crm__NotifySettings *s = (Crm__NotifySettings *)cm_pb_new(&crm__notify_settings__descriptor);
    if (!err && !notify_compose_sender(call, st, s))
        err = CM_ERR_UNAVAILABLE;
    for (size_t i = 0; !err && i < page->n_customers; i++) {
        const Crm__Customer *c = page->customers[i];
        const char *skip = s_skip_reason(c, sms);
        bool inserted = false;
        err = notify_campaigns_store_recipient(call->db, call->hdr->tenant_id, cp->id, c->id, skip,
                                               &inserted);
        if (err || !inserted)
            continue;
        total++;
        no_consent += skip && !strcmp(skip, "NO_CONSENT");
        no_address += skip && !strcmp(skip, "NO_ADDRESS");
        if (!skip)
            err = s_queue_one(call, st, cp, s, c);
    }
    crm__notify_settings__free_unpacked(s, NULL);
    if (!err)
        err = notify_campaigns_store_advance(call->db, cp->id, cursor, page->next_page_token, total,
                                             no_consent, no_address, moved);
    if (!err && *moved)
        err = cm_db_commit(call->db);
    else
        cm_db_rollback(call->db);
    return err;
}

/* customers.ListCustomers for the page at cursor, as the caller (notify in
 * the campaign's tenant). NULL, the call failed, when it did not answer. */
static Crm__ListCustomersResponse *s_read_page(struct cm_call *call, const Crm__Campaign *cp,
                                               const char *cursor)
{
    Crm__ListCustomersRequest r = CRM__LIST_CUSTOMERS_REQUEST__INIT;
    r.page_size = AUDIENCE_PAGE;
    r.page_token = (char *)cursor;
    r.order_by = "createdAt";
    r.group = cp->group;
    r.tag = cp->tag;
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = NULL;
    cm_err_t err =
        cm_call_service(call, "customers", "customers.ListCustomers", NULL, &r.base,
                        &crm__list_customers_response__descriptor, LIST_TIMEOUT_MS, &rh, &resp);
    Crm__ListCustomersResponse *out = NULL;
    if (err)
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "customers did not answer: %s", cm_err_name(err));
    else if (rh->status != CRM__STATUS__STATUS_OK)
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "could not list the audience: %s", rh->message);
    else {
        out = (Crm__ListCustomersResponse *)resp;
        resp = NULL;
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return out;
}

void notify_campaigns_expand(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__ExpandCampaignRequest *req = (const Crm__ExpandCampaignRequest *)msg;
    struct notify_state *st = call->user;
    const Crm__Principal *who = call->hdr->principal;
    if (!who || who->role != CRM__ROLE__ROLE_SERVICE || strcmp(who->id, "notify")) {
        cm_call_fail(call, CM_ERR_PERMISSION, "only notify itself expands a campaign");
        return;
    }
    Crm__Campaign *cp = NULL;
    cm_err_t err = cm_uuid_valid(req->id) ? notify_campaigns_store_get(call->db, req->id, &cp)
                                          : CM_ERR_NOT_FOUND;
    if (err) {
        cm_call_db_fail(call, err, "could not read the campaign");
        return;
    }
    int64_t until = cm_mono_ms() + EXPAND_BUDGET_MS;
    bool expanding = true, queued = false;
    long again_ms = 0;
    while (expanding && cm_mono_ms() < until) {
        char cursor[CURSOR_MAX];
        err = notify_campaigns_store_cursor(call->db, cp->id, &expanding, cursor, sizeof cursor);
        if (err || !expanding)
            break;
        Crm__ListCustomersResponse *page = s_read_page(call, cp, cursor);
        if (!page) {
            again_ms = EXPAND_RETRY_MS;
            break;
        }
        bool moved = false;
        err = strlen(page->next_page_token) < CURSOR_MAX
                  ? s_write_page(call, st, cp, cursor, page, &moved)
                  : CM_ERR_UPSTREAM;
        queued = queued || moved;
        crm__list_customers_response__free_unpacked(page, NULL);
        if (err || !moved)
            break;
    }
    if (queued)
        notify_sender_wake(st->sender);
    if (err && !cm_call_failed(call)) {
        cm_call_db_fail(call, err, "could not queue the campaign's recipients");
        again_ms = EXPAND_RETRY_MS;
    }
    /* Not done: hand the campaign back, to be claimed again by any copy. */
    if (expanding && notify_campaigns_store_release(call->db, cp->id, again_ms))
        cm_log_warn("could not release campaign %s: claimed again when its lease ends", cp->id);
    crm__campaign__free_unpacked(cp, NULL);
    if (cm_call_failed(call))
        return;
    Crm__ExpandCampaignResponse *r =
        (Crm__ExpandCampaignResponse *)cm_pb_new(&crm__expand_campaign_response__descriptor);
    r->done = !expanding;
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Unsubscribe                                                             */

#define UNSUBSCRIBE_SOURCE "unsubscribe link"

void notify_campaigns_unsubscribe(struct cm_call *call, const ProtobufCMessage *msg,
                                  ProtobufCMessage **resp)
{
    const Crm__UnsubscribeRequest *req = (const Crm__UnsubscribeRequest *)msg;
    struct notify_state *st = call->user;
    static const char one_click[] = NOTIFY_UNSUBSCRIBE_ONE_CLICK;
    char tenant[37], customer[37];
    bool sms = false;
    if (!notify_unsubscribe_parse(st->sender_cfg.link_key, req->token, tenant, customer, &sms))
        cm_call_violation(call, "token", req->token[0] ? "INVALID" : "REQUIRED",
                          "token: not an unsubscribe link this service made");
    /* Only the one-click POST (RFC 8058 3.1): a link checker's stray request
     * unsubscribes nobody. */
    if (req->body.len != sizeof one_click - 1 ||
        memcmp(req->body.data, one_click, sizeof one_click - 1))
        cm_call_violation(call, "body", "ONE_CLICK_REQUIRED",
                          "body: " NOTIFY_UNSUBSCRIBE_ONE_CLICK " (RFC 8058)");
    const char *lang = "en";
    if (cm_call_failed(call) ||
        !notify_compose_withdraw(call, tenant, customer, sms, UNSUBSCRIBE_SOURCE, &lang))
        return;
    Crm__UnsubscribeResponse *r =
        (Crm__UnsubscribeResponse *)cm_pb_new(&crm__unsubscribe_response__descriptor);
    r->channel = sms ? CRM__CHANNEL__CHANNEL_SMS : CRM__CHANNEL__CHANNEL_EMAIL;
    cm_pb_set_str(&r->language, lang);
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* The tick                                                                */

void notify_campaigns_start(cm_svc_t *svc, struct notify_state *st)
{
    st->campaign_client = cm_mdp_client_new(cm_svc_zctx(svc), st->bus);
    if (!st->campaign_client)
        cm_log_error("could not connect to the bus at %s: this copy expands no campaign", st->bus);
}

void notify_campaigns_stop(struct notify_state *st)
{
    /* Campaigns asked for and not answered come back when their lease ends. */
    cm_mdp_client_destroy(&st->campaign_client);
}

/* Drops the answers to earlier requests: each did its work where it ran. */
static void s_drain(struct notify_state *st)
{
    for (;;) {
        struct cm_mdp_msg m = {0}; /* recv fills only the client's fields */
        if (cm_mdp_client_recv(st->campaign_client, 0, &m) != 1)
            break;
        cm_mdp_msg_release(&m);
    }
}

void notify_campaigns_tick(cm_svc_t *svc, struct notify_state *st)
{
    int64_t now = cm_mono_ms();
    if (!st->campaign_client || now < st->next_campaign_ms)
        return;
    st->next_campaign_ms = now + TICK_EVERY_MS;
    s_drain(st);
    struct notify_campaign_claim claims[CLAIM_MAX];
    int n = 0;
    if (notify_campaigns_store_claim(cm_svc_db(svc), CLAIM_MAX, EXPAND_LEASE_MS, claims, &n)) {
        cm_log_warn("could not claim campaigns to expand: %s", cm_db_error(cm_svc_db(svc)));
        return;
    }
    for (int i = 0; i < n; i++) {
        Crm__ExpandCampaignRequest req = CRM__EXPAND_CAMPAIGN_REQUEST__INIT;
        req.id = claims[i].id;
        /* Answered before the lease runs out, or another copy may take it. */
        if (notify_compose_ask(st->campaign_client, claims[i].tenant_id, "notify.ExpandCampaign",
                               "campaign", &req.base, EXPAND_LEASE_MS - 2000))
            cm_log_warn("could not ask to expand campaign %s; claimed again later", claims[i].id);
    }
}
