/* Customer accounts (notify_accounts.h). */
#include "notify_accounts.h"
#include "notify_compose.h"
#include "notify_handlers.h"
#include "notify_password.h"
#include "notify_register.h"
#include "notify_store.h"
#include "notify_templates.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_pwhash.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define HASHES_AT_ONCE 2
#define TOKEN_MAX 128
#define EMAIL_MAX 254

void notify_accounts_start(struct notify_state *st)
{
    st->pw = cm_pwhash_new(HASHES_AT_ONCE, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

void notify_accounts_stop(struct notify_state *st)
{
    cm_pwhash_destroy(&st->pw);
}

/* ---------------------------------------------------------------------- */
/* Sending links                                                           */

Crm__RenderedMessage *notify_accounts_render(struct cm_call *call, const struct notify_state *st,
                                             const char *tenant, enum notify_kind kind,
                                             const char *lang, const char *business,
                                             const Crm__Customer *c)
{
    /* The tenant's own template: a public caller's session has no tenant yet. */
    cm_err_t err = cm_db_use_tenant(call->db, tenant);
    if (err) {
        cm_call_db_fail(call, err, "could not read the template");
        return NULL;
    }
    Crm__Template *t = notify_templates_resolve(call, kind, lang);
    if (!t)
        return NULL;
    /* The link goes in when the message is sent (notify_sender.c): the text
     * keeps {{link}} and the token travels sealed. */
    struct notify_vars v = {.first_name = c->first_name,
                            .last_name = c->last_name,
                            .email = c->email,
                            .business_name = business,
                            .link = "{{link}}",
                            .valid_hours = (int)st->link_hours};
    Crm__RenderedMessage *r = notify_templates_render(call, t, &v);
    crm__template__free_unpacked(t, NULL);
    return r;
}

Crm__Message *notify_accounts_queue(struct cm_call *call, struct notify_state *st,
                                    const char *tenant, const Crm__Customer *c,
                                    enum notify_kind kind, bool sms, const char *request_key)
{
    /* Written in the customer's language, else in the business's country's. */
    char business[256], country[3];
    notify_templates_business(call, tenant, business, sizeof business, country);
    const char *lang =
        notify_language_for(c->preferences ? c->preferences->language : NULL, country);
    Crm__RenderedMessage *r = notify_accounts_render(call, st, tenant, kind, lang, business, c);
    if (!r)
        return NULL;
    struct notify_link link;
    notify_compose_link(st, notify_kind_name(kind), &link);
    struct notify_address a;
    struct notify_new_message m = {
        .tenant_id = tenant,
        .kind = notify_kind_name(kind),
        .subject = sms ? "" : r->subject,
        .text = r->text,
        .html = sms ? "" : r->html,
        .principal = call->hdr->principal ? call->hdr->principal : &notify_compose_service,
        .channel_name = call->hdr->channel[0] ? call->hdr->channel : "api",
        .request_id = call->hdr->request_id,
        .request_key = request_key,
    };
    Crm__Message *out = notify_compose_address(call, st, c, sms, &a, &m)
                            ? notify_compose_queue(call, st, tenant, &m, &link)
                            : NULL;
    sodium_memzero(link.token, sizeof link.token);
    crm__rendered_message__free_unpacked(r, NULL);
    return out;
}

static bool s_channel_ready(struct cm_call *call, const struct notify_state *st, bool sms)
{
    if (sms ? st->sms : st->email)
        return true;
    cm_call_fail(call, CM_ERR_PRECONDITION, "%s is not configured: set %s (docs/notify.md)",
                 sms ? "SMS" : "e-mail", sms ? "CRM_SMS_URL" : "CRM_SMTP_URL");
    return false;
}

static bool s_set_status(struct cm_call *call, const char *tenant, const char *customer_id,
                         Crm__AccountStatus status, const Crm__Preferences *consents);

static void s_send_for(struct cm_call *call, const char *customer_id, enum notify_kind kind,
                       bool sms, ProtobufCMessage **resp)
{
    struct notify_state *st = call->user;
    if (!cm_uuid_valid(customer_id)) {
        cm_call_violation(call, "customerId", customer_id[0] ? "INVALID_FORMAT" : "REQUIRED",
                          "customerId: a customer's id is required");
        return;
    }
    if (!s_channel_ready(call, st, sms))
        return;
    Crm__Customer *c = notify_compose_customer(call, customer_id, NULL);
    if (!c)
        return;
    if (notify_compose_reachable(call, c, sms)) {
        Crm__Message *m = notify_accounts_queue(call, st, call->hdr->tenant_id, c, kind, sms, NULL);
        if (m)
            *resp = &m->base;
        /* Asked to activate an account: it is invited from now on (an active
         * or disabled one stays as it is). */
        bool none = !c->account || c->account->status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_NONE;
        if (m && kind == NOTIFY_KIND_ACTIVATION && none)
            (void)s_set_status(call, call->hdr->tenant_id, customer_id,
                               CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_INVITED, NULL);
    }
    crm__customer__free_unpacked(c, NULL);
}

void notify_accounts_send_link(struct cm_call *call, const ProtobufCMessage *msg,
                               ProtobufCMessage **resp)
{
    const Crm__SendPasswordLinkRequest *req = (const Crm__SendPasswordLinkRequest *)msg;
    s_send_for(call, req->customer_id, NOTIFY_KIND_PASSWORD_LINK, false, resp);
}

void notify_accounts_send_activation(struct cm_call *call, const ProtobufCMessage *msg,
                                     ProtobufCMessage **resp)
{
    const Crm__SendActivationRequest *req = (const Crm__SendActivationRequest *)msg;
    if (req->channel != CRM__CHANNEL__CHANNEL_UNSPECIFIED &&
        req->channel != CRM__CHANNEL__CHANNEL_EMAIL && req->channel != CRM__CHANNEL__CHANNEL_SMS) {
        cm_call_violation(call, "channel", "UNSUPPORTED", "channel: EMAIL or SMS");
        return;
    }
    s_send_for(call, req->customer_id, NOTIFY_KIND_ACTIVATION,
               req->channel == CRM__CHANNEL__CHANNEL_SMS, resp);
}

/* ---------------------------------------------------------------------- */
/* The page behind a link (public: no key, no tenant)                      */

/* The link of a token; false (the call failed or *state UNKNOWN) when there is none. */
static bool s_find(struct cm_call *call, const char *token, struct notify_link_row *row,
                   Crm__LinkState *state)
{
    *state = CRM__LINK_STATE__LINK_STATE_UNKNOWN;
    if (!notify_password_token_ok(token))
        return false;
    char hash[65];
    notify_password_token_hash(token, hash);
    cm_err_t err = notify_store_link_find(call->db, hash, row);
    if (err == CM_ERR_NOT_FOUND)
        return false;
    if (err) {
        cm_call_db_fail(call, err, "could not read the link");
        return false;
    }
    *state = !strcmp(row->state, "VALID")     ? CRM__LINK_STATE__LINK_STATE_VALID
             : !strcmp(row->state, "EXPIRED") ? CRM__LINK_STATE__LINK_STATE_EXPIRED
                                              : CRM__LINK_STATE__LINK_STATE_USED;
    return true;
}

/* The language a customer of tenant is written to, and their link's page
 * speaks: theirs, else the business's country's (as notify_accounts_queue
 * chooses it). c may be NULL (a customer who is gone). */
static const char *s_customer_language(struct cm_call *call, const char *tenant,
                                       const Crm__Customer *c)
{
    const char *tag = c && c->preferences ? c->preferences->language : NULL;
    if (tag && tag[0])
        return notify_language_of(tag);
    char business[256], country[3];
    notify_templates_business(call, tenant, business, sizeof business, country);
    return notify_language_for(NULL, country);
}

/* The language the page speaks for a link's customer (s_customer_language). */
static const char *s_language(struct cm_call *call, const struct notify_link_row *row)
{
    Crm__Customer *c = notify_compose_customer(call, row->customer_id, row->tenant_id);
    /* A customer who is gone or unreadable gets the business's language. */
    call->err = CM_OK;
    const char *lang = s_customer_language(call, row->tenant_id, c);
    if (c)
        crm__customer__free_unpacked(c, NULL);
    return lang;
}

void notify_accounts_inspect(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__InspectPasswordLinkRequest *req = (const Crm__InspectPasswordLinkRequest *)msg;
    struct notify_link_row row;
    Crm__LinkState state;
    bool found = s_find(call, req->token, &row, &state);
    if (cm_call_failed(call))
        return;
    /* Not a customer's link: perhaps a registration's (notify_register.c). */
    if (!found && notify_register_inspect(call, req->token, resp))
        return;
    Crm__PasswordLink *r = (Crm__PasswordLink *)cm_pb_new(&crm__password_link__descriptor);
    r->state = state;
    cm_pb_set_str(&r->language, found ? s_language(call, &row) : "en");
    if (state == CRM__LINK_STATE__LINK_STATE_VALID)
        cm_pb_set_str(&r->expires_at, row.expires_at);
    *resp = &r->base;
}

/* Sets the account's status (and the consents given with it) through
 * customers, as the notify service. */
static bool s_set_status(struct cm_call *call, const char *tenant, const char *customer_id,
                         Crm__AccountStatus status, const Crm__Preferences *consents)
{
    Crm__Account account = CRM__ACCOUNT__INIT;
    account.status = status;
    Crm__Customer c = CRM__CUSTOMER__INIT;
    c.account = &account;
    char *mask[3] = {"account.status"};
    size_t n_mask = 1;
    if (consents) {
        c.preferences = (Crm__Preferences *)consents;
        if (consents->email)
            mask[n_mask++] = "preferences.email";
        if (consents->sms)
            mask[n_mask++] = "preferences.sms";
    }
    Crm__UpdateCustomerRequest u = CRM__UPDATE_CUSTOMER_REQUEST__INIT;
    u.id = (char *)customer_id;
    u.customer = &c;
    u.update_mask = mask;
    u.n_update_mask = n_mask;
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = NULL;
    cm_err_t err = cm_call_service_as(call, tenant, &notify_compose_service, "customers",
                                      "customers.UpdateCustomer", &u.base,
                                      &crm__customer__descriptor, 2500, &rh, &resp);
    bool ok = !err && rh->status == CRM__STATUS__STATUS_OK;
    if (!ok)
        cm_log_warn("could not set the account of customer %s: %s", customer_id,
                    err ? cm_err_name(err) : rh->message);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return ok;
}

bool notify_accounts_activate(struct cm_call *call, const char *tenant, const char *customer_id,
                              const Crm__Preferences *consents)
{
    return s_set_status(call, tenant, customer_id, CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE,
                        consents);
}

bool notify_accounts_hash(struct cm_call *call, struct notify_state *st, const char *password,
                          const char *email, char hash[crypto_pwhash_STRBYTES])
{
    const char *problem = notify_password_problem(password, email);
    if (problem) {
        cm_call_violation(call, "password", problem,
                          "password: %d to %d characters, not a common password or your e-mail "
                          "address",
                          NOTIFY_PASSWORD_MIN, NOTIFY_PASSWORD_MAX);
        return false;
    }
    if (cm_pwhash_hash(st->pw, password, hash)) {
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "could not hash the password now; retry");
        return false;
    }
    return true;
}

void notify_accounts_set_password(struct cm_call *call, const ProtobufCMessage *msg,
                                  ProtobufCMessage **resp)
{
    const Crm__SetPasswordRequest *req = (const Crm__SetPasswordRequest *)msg;
    struct notify_state *st = call->user;
    struct notify_link_row row;
    Crm__LinkState state;
    bool found = s_find(call, req->token, &row, &state);
    if (!found && !cm_call_failed(call) && notify_register_confirm(call, req, resp))
        return;
    if (!found || state != CRM__LINK_STATE__LINK_STATE_VALID) {
        if (!cm_call_failed(call))
            cm_call_violation(call, "token",
                              state == CRM__LINK_STATE__LINK_STATE_EXPIRED ? "EXPIRED"
                              : state == CRM__LINK_STATE__LINK_STATE_USED  ? "USED"
                                                                           : "UNKNOWN",
                              "this link %s; ask for a new one",
                              state == CRM__LINK_STATE__LINK_STATE_EXPIRED ? "has expired"
                              : state == CRM__LINK_STATE__LINK_STATE_USED  ? "was used already"
                                                                           : "is not valid");
        return;
    }
    Crm__Customer *c = notify_compose_customer(call, row.customer_id, row.tenant_id);
    if (!c)
        return;
    char email_key[EMAIL_MAX + 1] = "";
    for (size_t i = 0; i < EMAIL_MAX && c->email[i]; i++)
        email_key[i] = cm_ascii_tolower(c->email[i]);
    char hash[crypto_pwhash_STRBYTES];
    bool hashed = email_key[0] && notify_accounts_hash(call, st, req->password, c->email, hash);
    crm__customer__free_unpacked(c, NULL);
    if (!email_key[0])
        cm_call_violation(call, "token", "NO_EMAIL_ADDRESS",
                          "the account has no e-mail address to sign in with");
    if (!hashed)
        return;
    /* The link is used and the hash stored in one transaction; a second use
     * of the same link (even at the same moment) finds it used. */
    char token_hash[65];
    notify_password_token_hash(req->token, token_hash);
    bool used = false;
    cm_err_t err = cm_db_begin(call->db, row.tenant_id);
    if (!err)
        err = notify_store_link_use(call->db, token_hash, &used);
    if (!err && used)
        err = notify_store_account_put(call->db, row.tenant_id, row.customer_id, email_key, hash);
    if (!err && used)
        err = cm_db_commit(call->db);
    cm_db_rollback(call->db);
    sodium_memzero(hash, sizeof hash);
    if (err) {
        cm_call_db_fail(call, err, "could not set the password");
        return;
    }
    if (!used) {
        cm_call_violation(call, "token", "USED", "this link was used already; ask for a new one");
        return;
    }
    Crm__SetPasswordResponse *r =
        (Crm__SetPasswordResponse *)cm_pb_new(&crm__set_password_response__descriptor);
    r->activated = notify_accounts_activate(call, row.tenant_id, row.customer_id, NULL);
    cm_pb_set_str(&r->language, s_language(call, &row));
    cm_log_info("customer %s set a password", row.customer_id);
    *resp = &r->base;
}

void notify_accounts_renew(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__RenewPasswordLinkRequest *req = (const Crm__RenewPasswordLinkRequest *)msg;
    struct notify_state *st = call->user;
    struct notify_link_row row;
    Crm__LinkState state;
    const char *lang = "en";
    /* Whatever happens, the same answer: the page tells nobody whether an
     * address is known or a message went out. */
    bool found = s_find(call, req->token, &row, &state);
    if (!found && !cm_call_failed(call)) {
        /* Perhaps a registration's (notify_register.c). */
        (void)notify_register_renew(call, req->token, &lang);
    } else if (found && state != CRM__LINK_STATE__LINK_STATE_VALID && st->email) {
        Crm__Customer *c = notify_compose_customer(call, row.customer_id, row.tenant_id);
        if (c && c->email[0] && notify_compose_reachable(call, c, false)) {
            lang = s_customer_language(call, row.tenant_id, c);
            Crm__Message *m = notify_accounts_queue(call, st, row.tenant_id, c,
                                                    NOTIFY_KIND_PASSWORD_LINK, false, NULL);
            if (m)
                crm__message__free_unpacked(m, NULL);
        }
        if (c)
            crm__customer__free_unpacked(c, NULL);
    }
    if (cm_call_failed(call))
        cm_log_warn("a new link was asked for and not sent: %s", call->message);
    cm_call_reset(call);
    Crm__RenewPasswordLinkResponse *r =
        (Crm__RenewPasswordLinkResponse *)cm_pb_new(&crm__renew_password_link_response__descriptor);
    cm_pb_set_str(&r->language, lang);
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Sign-in (the booking site and the store, with their key)                */

void notify_accounts_sign_in(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__SignInRequest *req = (const Crm__SignInRequest *)msg;
    struct notify_state *st = call->user;
    const char *tenant = call->hdr->tenant_id;
    if (!req->email[0])
        cm_call_violation(call, "email", "REQUIRED", "email is required");
    else if (strlen(req->email) > EMAIL_MAX)
        cm_call_violation(call, "email", "TOO_LONG", "email: at most %d bytes", EMAIL_MAX);
    if (!req->password[0])
        cm_call_violation(call, "password", "REQUIRED", "password is required");
    else if (strlen(req->password) > 4 * NOTIFY_PASSWORD_MAX)
        cm_call_violation(call, "password", "TOO_LONG", "password: at most %d characters",
                          NOTIFY_PASSWORD_MAX);
    if (cm_call_failed(call))
        return;
    char email_key[EMAIL_MAX + 1];
    size_t n = 0;
    for (; req->email[n]; n++)
        email_key[n] = cm_ascii_tolower(req->email[n]);
    email_key[n] = '\0';
    int failures = 0;
    long left = 0;
    cm_err_t err =
        notify_store_failures(call->db, tenant, email_key, st->sign_in_window_s, &failures, &left);
    if (err) {
        cm_call_db_fail(call, err, "could not check the sign-in");
        return;
    }
    if (failures >= st->sign_in_failures) {
        cm_call_fail(call, CM_ERR_TOO_LARGE,
                     "too many failed sign-ins for this address; retry in %ld s", left);
        return;
    }
    bool found = false;
    char customer_id[40] = "", hash[crypto_pwhash_STRBYTES] = "";
    err = notify_store_account_find(call->db, email_key, &found, customer_id, hash, sizeof hash);
    if (err) {
        cm_call_db_fail(call, err, "could not check the sign-in");
        return;
    }
    /* The same work whether the address is known or not: a wrong address
     * takes as long as a wrong password. */
    bool ok = cm_pwhash_verify(st->pw, found ? hash : NULL, req->password);
    if (!ok) {
        err = notify_store_failure_add(call->db, tenant, email_key, st->sign_in_window_s);
        if (err)
            cm_log_warn("could not count a failed sign-in: %s", cm_db_error(call->db));
        cm_call_fail(call, CM_ERR_UNAUTHENTICATED, "wrong e-mail address or password");
        return;
    }
    Crm__Customer *c = notify_compose_customer(call, customer_id, NULL);
    if (!c) {
        if (call->err == CM_ERR_NOT_FOUND) {
            call->err = CM_OK;
            cm_call_fail(call, CM_ERR_UNAUTHENTICATED, "wrong e-mail address or password");
        }
        return;
    }
    bool disabled =
        c->account && c->account->status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED;
    crm__customer__free_unpacked(c, NULL);
    if (disabled) {
        cm_call_fail(call, CM_ERR_PERMISSION, "this account is disabled");
        return;
    }
    if (notify_store_failures_clear(call->db, tenant, email_key))
        cm_log_warn("could not clear failed sign-ins: %s", cm_db_error(call->db));
    Crm__SignInResponse *r = (Crm__SignInResponse *)cm_pb_new(&crm__sign_in_response__descriptor);
    cm_pb_set_str(&r->customer_id, customer_id);
    *resp = &r->base;
}
