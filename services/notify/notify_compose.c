/* Sending to a customer (notify_compose.h). */
#include "notify_compose.h"
#include "notify_mime.h"
#include "notify_template.h"
#include "notify_unsubscribe.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

/* How long SendMessage waits for customers.GetCustomer. */
#define CUSTOMER_TIMEOUT_MS 2500

const Crm__Principal notify_compose_service = {
    PROTOBUF_C_MESSAGE_INIT(&crm__principal__descriptor), .id = "notify", .name = "notify",
    .role = CRM__ROLE__ROLE_SERVICE, .kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE};

Crm__Customer *notify_compose_customer(struct cm_call *call, const char *id, const char *tenant)
{
    Crm__GetCustomerRequest r = CRM__GET_CUSTOMER_REQUEST__INIT;
    r.id = (char *)id;
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = NULL;
    /* As notify itself: the caller's key needs messages:send, not customers:read. */
    cm_err_t err =
        cm_call_service_as(call, tenant ? tenant : call->hdr->tenant_id, &notify_compose_service,
                           "customers", "customers.GetCustomer", &r.base,
                           &crm__customer__descriptor, CUSTOMER_TIMEOUT_MS, &rh, &resp);
    Crm__Customer *c = NULL;
    if (err) {
        cm_log_warn("customers.GetCustomer: %s", cm_err_name(err));
        cm_call_fail(call, err == CM_ERR_TIMEOUT ? CM_ERR_TIMEOUT : CM_ERR_UNAVAILABLE,
                     "customers did not answer in time; nothing was queued, retry");
    } else if (rh->status == CRM__STATUS__STATUS_NOT_FOUND) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "customer %s not found", id);
    } else if (rh->status != CRM__STATUS__STATUS_OK) {
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "could not read the customer: %s", rh->message);
    } else {
        c = (Crm__Customer *)resp;
        resp = NULL;
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return c;
}

bool notify_compose_known(struct cm_call *call, const char *id)
{
    Crm__Customer *c = notify_compose_customer(call, id, NULL);
    if (!c)
        return false;
    crm__customer__free_unpacked(c, NULL);
    return true;
}

bool notify_compose_reachable(struct cm_call *call, const Crm__Customer *c, bool sms)
{
    if (sms && !c->phone[0])
        cm_call_violation(call, "customerId", "NO_PHONE_NUMBER", "customer %s has no phone number",
                          c->id);
    else if (!sms && !c->email[0])
        cm_call_violation(call, "customerId", "NO_EMAIL_ADDRESS",
                          "customer %s has no e-mail address", c->id);
    else if (!sms && !notify_mime_addr_ok(c->email))
        cm_call_violation(call, "customerId", "EMAIL_NOT_SENDABLE",
                          "customer %s: the e-mail address cannot be sent to", c->id);
    return !cm_call_failed(call);
}

bool notify_compose_sender(struct cm_call *call, const struct notify_state *st,
                           Crm__NotifySettings *s)
{
    cm_err_t err = notify_store_settings_get(call->db, s);
    if (err) {
        cm_call_db_fail(call, err, "could not read the sender");
        return false;
    }
    cm_pb_set_str(&s->effective_email_from, s->email_from[0] ? s->email_from : st->from_addr);
    cm_pb_set_str(&s->effective_email_from_name,
                  s->email_from[0] || s->email_from_name[0] ? s->email_from_name : st->from_name);
    cm_pb_set_str(&s->effective_sms_from, s->sms_from[0] ? s->sms_from : st->sms_from);
    return true;
}

bool notify_compose_address(struct cm_call *call, const struct notify_state *st,
                            const Crm__Customer *c, bool sms, struct notify_address *a,
                            struct notify_new_message *m)
{
    Crm__NotifySettings *s = (Crm__NotifySettings *)cm_pb_new(&crm__notify_settings__descriptor);
    bool ok = notify_compose_sender(call, st, s);
    if (ok)
        notify_compose_address_from(st, s, c, sms, a, m);
    crm__notify_settings__free_unpacked(s, NULL);
    return ok;
}

void notify_compose_name(const Crm__Customer *c, char *out, size_t size)
{
    snprintf(out, size, "%s%s%s", c->first_name, c->first_name[0] ? " " : "", c->last_name);
}

void notify_compose_address_from(const struct notify_state *st, const Crm__NotifySettings *s,
                                 const Crm__Customer *c, bool sms, struct notify_address *a,
                                 struct notify_new_message *m)
{
    snprintf(a->from, sizeof a->from, "%s", sms ? s->effective_sms_from : s->effective_email_from);
    snprintf(a->from_name, sizeof a->from_name, "%s", sms ? "" : s->effective_email_from_name);
    char uuid[40];
    notify_compose_name(c, a->name, sizeof a->name);
    cm_uuid(uuid);
    /* The e-mail sender's domain: an address checked when it was set. */
    const char *at = strchr(sms ? st->from_addr : a->from, '@');
    snprintf(a->message_id, sizeof a->message_id, "%s@%s", uuid, at ? at + 1 : "localhost");
    m->customer_id = c->id;
    m->channel = sms ? "SMS" : "EMAIL";
    m->to = sms ? c->phone : c->email;
    m->to_name = a->name;
    m->from = a->from;
    m->from_name = a->from_name;
    m->message_id = a->message_id;
}

/* Withdraws the channel's consent on the customer, as notify in the token's
 * tenant; *lang the customer's language. A customer who is gone has nothing
 * to withdraw. False, the call failed, when customers did not take it. */
bool notify_compose_withdraw(struct cm_call *call, const char *tenant, const char *customer,
                             bool sms, const char *source, const char **lang)
{
    Crm__Consent no = CRM__CONSENT__INIT;
    no.granted = false;
    no.source = (char *)source;
    Crm__Preferences p = CRM__PREFERENCES__INIT;
    if (sms)
        p.sms = &no;
    else
        p.email = &no;
    Crm__Customer c = CRM__CUSTOMER__INIT;
    c.preferences = &p;
    char *mask[] = {sms ? "preferences.sms" : "preferences.email"};
    Crm__UpdateCustomerRequest r = CRM__UPDATE_CUSTOMER_REQUEST__INIT;
    r.id = (char *)customer;
    r.customer = &c;
    r.update_mask = mask;
    r.n_update_mask = 1;
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = NULL;
    cm_err_t err = cm_call_service_as(call, tenant, &notify_compose_service, "customers",
                                      "customers.UpdateCustomer", &r.base,
                                      &crm__customer__descriptor, CUSTOMER_TIMEOUT_MS, &rh, &resp);
    *lang = "en";
    if (err)
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "customers did not answer; try again");
    else if (rh->status == CRM__STATUS__STATUS_OK) {
        const Crm__Customer *got = (const Crm__Customer *)resp;
        *lang = notify_language_of(got->preferences ? got->preferences->language : "");
        cm_log_info("customer %s unsubscribed from %s newsletters (%s)", customer,
                    sms ? "SMS" : "e-mail", source);
    } else if (rh->status != CRM__STATUS__STATUS_NOT_FOUND)
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "could not withdraw the consent: %s", rh->message);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return !cm_call_failed(call);
}

/* Seals l->token into l->sealed with the service's key. */
static void s_seal(const struct notify_state *st, struct notify_link *l)
{
    size_t n = strlen(l->token);
    randombytes_buf(l->sealed, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(l->sealed + crypto_secretbox_NONCEBYTES, (const uint8_t *)l->token, n,
                          l->sealed, st->sender_cfg.link_key);
    l->sealed_len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
}

void notify_compose_link(const struct notify_state *st, const char *kind, struct notify_link *l)
{
    uint8_t raw[32], hash[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(l->token, sizeof l->token, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_generichash(hash, sizeof hash, (const uint8_t *)l->token, strlen(l->token), NULL, 0);
    sodium_bin2hex(l->hash, sizeof l->hash, hash, sizeof hash);
    s_seal(st, l);
    l->kind = kind;
    sodium_memzero(raw, sizeof raw);
}

void notify_compose_seal(const struct notify_state *st, const char *token, struct notify_link *l)
{
    memset(l, 0, sizeof *l);
    snprintf(l->token, sizeof l->token, "%s", token);
    s_seal(st, l);
}

Crm__Message *notify_compose_queue(struct cm_call *call, struct notify_state *st,
                                   const char *tenant, struct notify_new_message *m,
                                   const struct notify_link *link)
{
    Crm__Message *out = NULL;
    bool existed = false;
    if (link) {
        m->sealed_link = link->sealed;
        m->sealed_len = link->sealed_len;
    }
    cm_err_t err = cm_db_begin(call->db, tenant);
    if (!err)
        err = notify_store_queue(call->db, m, &out, &existed);
    /* A key queued before answers that message and its link: a new link
     * would void the one it carries. */
    if (!err && link && !existed)
        err = notify_store_link_create(call->db, tenant, m->customer_id, link->kind, link->hash,
                                       st->link_hours);
    if (!err)
        err = cm_db_commit(call->db);
    if (err) {
        cm_db_rollback(call->db);
        cm_call_db_fail(call, err, "could not queue the message");
        if (out)
            crm__message__free_unpacked(out, NULL);
        return NULL;
    }
    cm_log_info("message %s (%s) queued%s", out->id, m->kind,
                existed ? " before (same idempotency key)" : "");
    notify_sender_wake(st->sender);
    return out;
}

int notify_compose_ask(struct cm_mdp_client *client, const char *tenant, const char *method,
                       const char *channel, const ProtobufCMessage *req, long answer_within_ms)
{
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.tenant_id = (char *)tenant;
    h.principal = (Crm__Principal *)&notify_compose_service;
    h.channel = (char *)channel;
    h.method = (char *)method;
    h.deadline_unix_ms = cm_now_ms() + answer_within_ms;
    char rid[40];
    return cm_svc_send(client, "notify", &h, req, 0, rid) ? -1 : 0;
}

void notify_compose_unsubscribe_link(const struct notify_state *st, const char *tenant,
                                     const Crm__Customer *c, const char *text_in,
                                     const char *html_in, char **text, char **html)
{
    char token[NOTIFY_UNSUBSCRIBE_TOKEN], url[700];
    const char *lang = notify_language_of(c->preferences ? c->preferences->language : "");
    const char *label = notify_unsubscribe_label(lang);
    /* Both are UUIDs here: the customers service gave the one, cm_svc checked the other. */
    if (!notify_unsubscribe_token(st->sender_cfg.link_key, tenant, c->id, false, token,
                                  sizeof token))
        token[0] = '\0';
    snprintf(url, sizeof url, "%s" NOTIFY_UNSUBSCRIBE_PAGE_PATH "%s&lang=%s",
             st->sender_cfg.public_url, token, lang);
    size_t tn = strlen(text_in) + strlen(label) + strlen(url) + 16;
    *text = cm_malloc(tn);
    snprintf(*text, tn, "%s\n\n-- \n%s: %s\n", text_in, label, url);
    if (!html_in[0]) {
        *html = cm_strdup("");
        return;
    }
    /* The URL holds only the public address (checked at start-up: no quote or
     * angle bracket) and base64url: nothing to escape. */
    size_t hn = strlen(html_in) + strlen(label) + strlen(url) + 40;
    *html = cm_malloc(hn);
    snprintf(*html, hn, "%s\n<p><a href=\"%s\">%s</a></p>\n", html_in, url, label);
}
