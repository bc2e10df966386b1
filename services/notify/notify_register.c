/* Self-registration (notify_register.h). */
#include "notify_register.h"
#include "notify_accounts.h"
#include "notify_compose.h"
#include "notify_handlers.h"
#include "notify_password.h"
#include "notify_register_store.h"
#include "notify_store.h"
#include "notify_templates.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_pwhash.h"
#include "cm_util.h"
#include "customers.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define CUSTOMERS_TIMEOUT_MS 2500
#define SIGNUP_SYSTEM "signup" // the external id's system on a customer who registered
#define CONSENT_SOURCE "signup"

/* ---------------------------------------------------------------------- */
/* The business                                                            */

/* Reads whether tenant takes registrations into *on; the session's tenant is
 * tenant afterwards. False, the call failed, on a database error. */
static bool s_takes_registrations(struct cm_call *call, const char *tenant, bool *on)
{
    *on = false;
    cm_err_t err = cm_db_use_tenant(call->db, tenant);
    Crm__NotifySettings *s = (Crm__NotifySettings *)cm_pb_new(&crm__notify_settings__descriptor);
    if (!err)
        err = notify_store_settings_get(call->db, s);
    if (!err)
        *on = s->self_registration;
    crm__notify_settings__free_unpacked(s, NULL);
    if (err)
        cm_call_db_fail(call, err, "could not read the business's settings");
    return !err;
}

/* Checks business (a tenant's id that takes registrations): false with the
 * call failed, NOT_FOUND when it is none (or cannot be one) or takes none. */
static bool s_business(struct cm_call *call, const char *business)
{
    bool on = false;
    if (cm_uuid_valid(business) && !s_takes_registrations(call, business, &on))
        return false;
    if (!on) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "this business takes no registrations here");
        return false;
    }
    return true;
}

void notify_register_form(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__GetRegistrationFormRequest *req = (const Crm__GetRegistrationFormRequest *)msg;
    if (!s_business(call, req->business))
        return;
    char name[256], country[3];
    notify_templates_business(call, req->business, name, sizeof name, country);
    Crm__RegistrationForm *r =
        (Crm__RegistrationForm *)cm_pb_new(&crm__registration_form__descriptor);
    cm_pb_set_str(&r->business_name, name);
    cm_pb_set_str(&r->language, notify_language_for(NULL, country));
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Register                                                                */

/* customers.ResolveCustomer as notify in tenant: its answer (dynamic, the
 * caller frees it), or NULL with the call failed (customers' violations on
 * firstName, lastName, email, phone as they came). */
static Crm__ResolveCustomerResponse *s_customers_resolve(struct cm_call *call, const char *tenant,
                                                         const Crm__ResolveCustomerRequest *q)
{
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = NULL;
    cm_err_t err = cm_call_service_as(
        call, tenant, &notify_compose_service, "customers", "customers.ResolveCustomer", &q->base,
        &crm__resolve_customer_response__descriptor, CUSTOMERS_TIMEOUT_MS, &rh, &resp);
    if (err) {
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "customers did not answer; try again");
    } else if (rh->status == CRM__STATUS__STATUS_INVALID_ARGUMENT && rh->n_details) {
        for (size_t i = 0; i < rh->n_details; i++)
            cm_call_violation(call, rh->details[i]->field, rh->details[i]->reason, "%s",
                              rh->details[i]->description);
    } else if (rh->status != CRM__STATUS__STATUS_OK) {
        cm_call_fail(call, cm_err_of_status((int)rh->status), "customers refused: %s", rh->message);
    }
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    if (cm_call_failed(call) && resp) {
        protobuf_c_message_free_unpacked(resp, NULL);
        resp = NULL;
    }
    return (Crm__ResolveCustomerResponse *)resp;
}

/* Asks customers to check the person's fields as it would store them: the
 * e-mail and phone as stored into r, or the call failed with customers'
 * violations. */
static bool s_check_fields(struct cm_call *call, const Crm__CreateRegistrationRequest *req,
                           struct notify_registration *r)
{
    Crm__ResolveCustomerRequest v = CRM__RESOLVE_CUSTOMER_REQUEST__INIT;
    v.system = SIGNUP_SYSTEM;
    v.external_id = "-";
    v.first_name = req->first_name;
    v.last_name = req->last_name;
    v.email = req->email;
    v.phone = req->phone;
    v.source = CRM__SOURCE__SOURCE_SIGNUP;
    v.validate_only = true;
    Crm__ResolveCustomerResponse *ok = s_customers_resolve(call, req->business, &v);
    if (!ok)
        return false;
    snprintf(r->email, sizeof r->email, "%s", ok->email);
    snprintf(r->phone, sizeof r->phone, "%s", ok->phone);
    crm__resolve_customer_response__free_unpacked(ok, NULL);
    return true;
}

/* The fields every registration needs, each violation named. */
static void s_check_request(struct cm_call *call, const Crm__CreateRegistrationRequest *req)
{
    if (!req->first_name[0])
        cm_call_violation(call, "firstName", "REQUIRED", "firstName is required");
    if (!req->last_name[0])
        cm_call_violation(call, "lastName", "REQUIRED", "lastName is required");
    if (!req->email[0])
        cm_call_violation(call, "email", "REQUIRED", "email is required");
    if (req->language[0] && !notify_language_ok(req->language))
        cm_call_violation(call, "language", "UNSUPPORTED", "language: en, de, pl, nb or bg");
}

static bool s_disabled(const Crm__Customer *c)
{
    return c->account && c->account->status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED;
}

/* An address with an account already: a set-password link for it instead,
 * unless the account is disabled (logged when it cannot go; the answer is
 * the same). */
static void s_send_password_link(struct cm_call *call, struct notify_state *st, const char *tenant,
                                 const char *customer_id)
{
    Crm__Customer *c = notify_compose_customer(call, customer_id, tenant);
    if (c && !s_disabled(c) && c->email[0] && notify_compose_reachable(call, c, false)) {
        Crm__Message *m =
            notify_accounts_queue(call, st, tenant, c, NOTIFY_KIND_PASSWORD_LINK, false, NULL);
        if (m)
            crm__message__free_unpacked(m, NULL);
    }
    if (c)
        crm__customer__free_unpacked(c, NULL);
    if (cm_call_failed(call))
        cm_log_warn("a registration for an existing account sent no link: %s", call->message);
    cm_call_reset(call);
}

/* Keeps the ask (or, renewing, gives the kept one a new token) and queues
 * the registration e-mail with its link, in r's language, from the business
 * named business_name (NULL: asked for here). False, the call failed, when it
 * could not; a new ask is not kept then. */
static bool s_ask(struct cm_call *call, struct notify_state *st, struct notify_registration *r,
                  bool renew, const char *business_name)
{
    char business[256];
    if (business_name)
        snprintf(business, sizeof business, "%s", business_name);
    else
        notify_templates_business_name(call, r->tenant_id, business, sizeof business);
    /* The person is no customer yet: the message names none. */
    Crm__Customer person = CRM__CUSTOMER__INIT;
    person.first_name = r->first_name;
    person.last_name = r->last_name;
    person.email = r->email;
    Crm__RenderedMessage *rm = notify_accounts_render(
        call, st, r->tenant_id, NOTIFY_KIND_REGISTRATION, r->language, business, &person);
    if (!rm)
        return false;
    struct notify_link link;
    notify_compose_link(st, notify_kind_name(NOTIFY_KIND_REGISTRATION), &link);
    Crm__Message *out = NULL;
    cm_err_t err = renew ? notify_register_store_renew(call->db, r->id, link.hash, st->link_hours)
                         : notify_register_store_insert(call->db, r, link.hash, st->link_hours);
    if (err) {
        cm_call_db_fail(call, err, "could not keep the registration");
        goto out;
    }
    struct notify_address a;
    struct notify_new_message m = {
        .tenant_id = r->tenant_id,
        .kind = notify_kind_name(NOTIFY_KIND_REGISTRATION),
        .subject = rm->subject,
        .text = rm->text,
        .html = rm->html,
        .principal = &notify_compose_service,
        .channel_name = "signup",
        .request_id = call->hdr->request_id,
        .sealed_link = link.sealed,
        .sealed_len = link.sealed_len,
    };
    if (notify_compose_address(call, st, &person, false, &a, &m)) {
        m.customer_id = NULL;
        out = notify_compose_queue(call, st, r->tenant_id, &m, NULL);
    }
    if (!out && !renew && notify_register_store_delete(call->db, r->id))
        cm_log_warn("could not remove a registration whose e-mail was not queued: %s",
                    cm_db_error(call->db));
out:
    sodium_memzero(&link, sizeof link);
    crm__rendered_message__free_unpacked(rm, NULL);
    if (!out)
        return false;
    crm__message__free_unpacked(out, NULL);
    return true;
}

void notify_register(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__CreateRegistrationRequest *req = (const Crm__CreateRegistrationRequest *)msg;
    struct notify_state *st = call->user;
    /* The business first: a link that leads nowhere says only that. */
    if (!s_business(call, req->business))
        return;
    s_check_request(call, req);
    if (cm_call_failed(call))
        return;
    if (!st->email) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "e-mail is not configured: set CRM_SMTP_URL (docs/notify.md)");
        return;
    }
    struct notify_registration *r = cm_calloc(1, sizeof *r);
    if (!s_check_fields(call, req, r))
        goto out;
    snprintf(r->tenant_id, sizeof r->tenant_id, "%s", req->business);
    for (size_t i = 0; r->email[i] && i + 1 < sizeof r->email_key; i++)
        r->email_key[i] = cm_ascii_tolower(r->email[i]);
    snprintf(r->first_name, sizeof r->first_name, "%s", req->first_name);
    snprintf(r->last_name, sizeof r->last_name, "%s", req->last_name);
    snprintf(r->client_address, sizeof r->client_address, "%s", req->client_address);
    r->consent_email = req->consents && req->consents->email;
    r->consent_sms = req->consents && req->consents->sms;
    char business[256], country[3];
    notify_templates_business(call, r->tenant_id, business, sizeof business, country);
    snprintf(r->language, sizeof r->language, "%s",
             req->language[0] ? req->language : notify_language_for(NULL, country));
    int by_address = 0, by_email = 0;
    long retry_s = 0;
    cm_err_t err =
        notify_register_store_count(call->db, r->client_address, r->tenant_id, r->email_key,
                                    st->registration_window_s, &by_address, &by_email, &retry_s);
    if (err) {
        cm_call_db_fail(call, err, "could not check the registration");
        goto out;
    }
    if (by_address >= st->registrations_per_address || by_email >= st->registrations_per_email) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "too many registrations; retry in %ld s",
                     retry_s > 0 ? retry_s : 1);
        goto out;
    }
    bool found = false;
    char customer_id[40] = "", hash[crypto_pwhash_STRBYTES] = "";
    err = cm_db_use_tenant(call->db, r->tenant_id);
    if (!err)
        err = notify_store_account_find(call->db, r->email_key, &found, customer_id, hash,
                                        sizeof hash);
    sodium_memzero(hash, sizeof hash);
    if (err) {
        cm_call_db_fail(call, err, "could not check the registration");
        goto out;
    }
    if (found) {
        /* Counted like any ask, with no link of its own. */
        err = notify_register_store_insert(call->db, r, NULL, st->link_hours);
        if (err) {
            cm_call_db_fail(call, err, "could not keep the registration");
            goto out;
        }
        s_send_password_link(call, st, r->tenant_id, customer_id);
    } else if (!s_ask(call, st, r, false, business)) {
        goto out;
    }
    cm_log_info("registration asked at business %s%s", r->tenant_id,
                found ? " for an existing account" : "");
    Crm__CreateRegistrationResponse *rr = (Crm__CreateRegistrationResponse *)cm_pb_new(
        &crm__create_registration_response__descriptor);
    rr->valid_hours = (int32_t)st->link_hours;
    *resp = &rr->base;
out:
    sodium_memzero(r, sizeof *r);
    free(r);
}

/* ---------------------------------------------------------------------- */
/* The set-password page                                                   */

/* The registration of token: true with it in *r; false when there is none
 * (or the call failed). */
static bool s_find(struct cm_call *call, const char *token, struct notify_registration *r)
{
    if (!notify_password_token_ok(token))
        return false;
    char hash[65];
    notify_password_token_hash(token, hash);
    cm_err_t err = notify_register_store_find(call->db, hash, r);
    if (err && err != CM_ERR_NOT_FOUND)
        cm_call_db_fail(call, err, "could not read the link");
    return !err;
}

static Crm__LinkState s_state(const struct notify_registration *r)
{
    return !strcmp(r->state, "VALID")     ? CRM__LINK_STATE__LINK_STATE_VALID
           : !strcmp(r->state, "EXPIRED") ? CRM__LINK_STATE__LINK_STATE_EXPIRED
                                          : CRM__LINK_STATE__LINK_STATE_USED;
}

bool notify_register_inspect(struct cm_call *call, const char *token, ProtobufCMessage **resp)
{
    struct notify_registration r;
    if (!s_find(call, token, &r))
        return cm_call_failed(call);
    Crm__PasswordLink *out = (Crm__PasswordLink *)cm_pb_new(&crm__password_link__descriptor);
    out->state = s_state(&r);
    cm_pb_set_str(&out->language, r.language);
    *resp = &out->base;
    return true;
}

bool notify_register_renew(struct cm_call *call, const char *token, const char **lang)
{
    struct notify_state *st = call->user;
    struct notify_registration *r = cm_calloc(1, sizeof *r);
    bool found = s_find(call, token, r);
    if (found) {
        *lang = notify_language_of(r->language);
        if (!strcmp(r->state, "USED") && cm_uuid_valid(r->customer_id))
            s_send_password_link(call, st, r->tenant_id, r->customer_id);
        else if (!strcmp(r->state, "EXPIRED") && st->email)
            (void)s_ask(call, st, r, true, NULL);
    }
    sodium_memzero(r, sizeof *r);
    free(r);
    return found || cm_call_failed(call);
}

/* Finds or makes the customer the registration means, by e-mail (as notify
 * in its tenant), into cid. False, the call failed, when customers did not. */
static bool s_resolve(struct cm_call *call, const struct notify_registration *r, char cid[40])
{
    /* One external id per address: a second registration finds the same
     * customer, and the address itself is not copied into it. */
    char ext[65];
    notify_password_token_hash(r->email_key, ext);
    Crm__ResolveCustomerRequest q = CRM__RESOLVE_CUSTOMER_REQUEST__INIT;
    q.system = SIGNUP_SYSTEM;
    q.external_id = ext;
    q.first_name = (char *)r->first_name;
    q.last_name = (char *)r->last_name;
    q.email = (char *)r->email;
    q.phone = (char *)r->phone;
    q.language = (char *)r->language;
    q.source = CRM__SOURCE__SOURCE_SIGNUP;
    Crm__ResolveCustomerResponse *got = s_customers_resolve(call, r->tenant_id, &q);
    if (!got)
        return false;
    snprintf(cid, 40, "%s", got->customer_id);
    crm__resolve_customer_response__free_unpacked(got, NULL);
    if (!cm_uuid_valid(cid)) {
        cm_call_fail(call, CM_ERR_INTERNAL, "customers resolved no customer");
        return false;
    }
    return true;
}

/* False, the call failed, when the customer registration found is one whose
 * account staff disabled: registering does not open it again. */
static bool s_not_disabled(struct cm_call *call, const char *tenant, const char *cid)
{
    Crm__Customer *c = notify_compose_customer(call, cid, tenant);
    if (!c)
        return false;
    bool disabled = s_disabled(c);
    crm__customer__free_unpacked(c, NULL);
    if (disabled)
        cm_call_fail(call, CM_ERR_PERMISSION, "this account is disabled");
    return !disabled;
}

/* The consents the person gave on the form, with their source and time. */
static bool s_activate(struct cm_call *call, const struct notify_registration *r, const char *cid)
{
    char now[40];
    cm_time_rfc3339(cm_now_ms(), now, sizeof now);
    Crm__Consent yes = CRM__CONSENT__INIT;
    yes.granted = true;
    yes.changed_at = now;
    yes.source = CONSENT_SOURCE;
    Crm__Preferences p = CRM__PREFERENCES__INIT;
    p.email = r->consent_email ? &yes : NULL;
    p.sms = r->consent_sms ? &yes : NULL;
    return notify_accounts_activate(call, r->tenant_id, cid, &p);
}

bool notify_register_confirm(struct cm_call *call, const Crm__SetPasswordRequest *req,
                             ProtobufCMessage **resp)
{
    struct notify_state *st = call->user;
    struct notify_registration r;
    if (!s_find(call, req->token, &r))
        return cm_call_failed(call);
    Crm__LinkState state = s_state(&r);
    if (state != CRM__LINK_STATE__LINK_STATE_VALID) {
        bool expired = state == CRM__LINK_STATE__LINK_STATE_EXPIRED;
        cm_call_violation(call, "token", expired ? "EXPIRED" : "USED",
                          "this link %s; register again", expired ? "has expired" : "was used");
        return true;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (!notify_accounts_hash(call, st, req->password, r.email, hash))
        return true;
    /* The customer first (no transaction open while customers works): a
     * retry after a failure below finds the same one by its external id. */
    char cid[40] = "";
    if (!s_resolve(call, &r, cid) || !s_not_disabled(call, r.tenant_id, cid)) {
        sodium_memzero(hash, sizeof hash);
        return true;
    }
    char token_hash[65];
    notify_password_token_hash(req->token, token_hash);
    bool used = false;
    cm_err_t err = cm_db_begin(call->db, r.tenant_id);
    if (!err)
        err = notify_register_store_use(call->db, token_hash, cid, &used);
    if (!err && used)
        err = notify_store_account_put(call->db, r.tenant_id, cid, r.email_key, hash);
    if (!err && used)
        err = cm_db_commit(call->db);
    cm_db_rollback(call->db);
    sodium_memzero(hash, sizeof hash);
    if (err) {
        cm_call_db_fail(call, err, "could not set the password");
        return true;
    }
    if (!used) {
        cm_call_violation(call, "token", "USED", "this link was used already; register again");
        return true;
    }
    Crm__SetPasswordResponse *out =
        (Crm__SetPasswordResponse *)cm_pb_new(&crm__set_password_response__descriptor);
    out->activated = s_activate(call, &r, cid);
    cm_pb_set_str(&out->language, r.language);
    cm_log_info("customer %s registered and set a password", cid);
    *resp = &out->base;
    return true;
}
