/* Staff accounts (customers_staff.h). Sign-in, sessions and invitations are
 * public methods (no tenant yet: the e-mail or the token finds it); they open
 * the tenant's transaction themselves once they know it, and never hold one
 * while Argon2id works. */
#include "customers_staff.h"
#include "customers_handlers.h"
#include "customers_staff_store.h"
#include "customers_validate.h"
#include "notify.pb-c.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_pwhash.h"
#include "cm_session.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EVENTS_PAGE_DEFAULT 50
#define EVENTS_PAGE_MAX 200
#define EXPIRE_EVERY_MS (60 * 1000)
/* How long notify has to queue the invitation e-mail. */
#define INVITE_MAIL_TIMEOUT_MS 5000
/* Password reset asks the tick answers at once, how often one is tried, and
 * the longest it waits for a member's row locked by a request. */
#define RESET_ASKS_PER_TICK 20
#define RESET_ASK_ATTEMPTS 20
#define RESET_LOCK_WAIT "200ms"

static struct customers_staff *s_st(struct cm_call *call)
{
    return &((struct customers_state *)call->user)->staff;
}

void customers_staff_start(struct customers_staff *st)
{
    st->pw =
        cm_pwhash_new(CUSTOMERS_STAFF_HASHES_AT_ONCE, CM_SESSION_PWHASH_OPS, CM_SESSION_PWHASH_MEM);
}

void customers_staff_stop(struct customers_staff *st)
{
    cm_mdp_client_destroy(&st->mailer);
    cm_pwhash_destroy(&st->pw);
}

static void s_reset_asks(struct customers_staff *st, cm_svc_t *svc);
static void s_reset_mail_replies(struct customers_staff *st);

void customers_staff_tick(struct customers_staff *st, cm_svc_t *svc, int64_t now_ms)
{
    cm_db_t *db = cm_svc_db(svc);
    s_reset_mail_replies(st);
    s_reset_asks(st, svc);
    if (now_ms < st->next_expiry_ms)
        return;
    st->next_expiry_ms = now_ms + EXPIRE_EVERY_MS;
    if (customers_staff_store_expire(db, st->limit.window_s, CUSTOMERS_STAFF_RESET_WINDOW_S))
        cm_log_warn("could not expire staff sessions: %s", cm_db_error(db));
}

/* The hex of a session or invitation token's hash. */
static void s_hash_hex(const char *token, char hex[2 * CM_SESSION_HASH_LEN + 1])
{
    uint8_t h[CM_SESSION_HASH_LEN];
    cm_session_token_hash(token, h);
    sodium_bin2hex(hex, 2 * CM_SESSION_HASH_LEN + 1, h, sizeof h);
}

/* ---------------------------------------------------------------------- */
/* Checks                                                                  */

static const char *s_pid(const struct cm_call *call)
{
    return call->hdr->principal && call->hdr->principal->id ? call->hdr->principal->id : "";
}

static const char *s_pname(const struct cm_call *call)
{
    return call->hdr->principal && call->hdr->principal->name ? call->hdr->principal->name : "";
}

static Crm__Role s_prole(const struct cm_call *call)
{
    return call->hdr->principal ? call->hdr->principal->role : CRM__ROLE__ROLE_UNSPECIFIED;
}

/* True for an owner or admin; else fails the call. */
static bool s_may_manage(struct cm_call *call)
{
    Crm__Role r = s_prole(call);
    if (r == CRM__ROLE__ROLE_OWNER || r == CRM__ROLE__ROLE_ADMIN)
        return true;
    cm_call_fail(call, CM_ERR_PERMISSION, "only an owner or an admin manages staff");
    return false;
}

static bool s_role_valid(Crm__Role r)
{
    return r == CRM__ROLE__ROLE_OWNER || r == CRM__ROLE__ROLE_ADMIN || r == CRM__ROLE__ROLE_STAFF ||
           r == CRM__ROLE__ROLE_READONLY;
}

/* A name of 1..CUSTOMERS_STAFF_NAME_MAX characters of valid UTF-8 on one
 * line, not only spaces, else a violation. */
static bool s_name_ok(struct cm_call *call, const char *field, const char *name, bool required)
{
    size_t len = name ? strlen(name) : 0;
    bool blank = true;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
            cm_call_violation(call, field, "INVALID_FORMAT", "%s: one line of text", field);
            return false;
        }
        blank &= name[i] == ' ';
    }
    if (!len || blank) {
        if (required)
            cm_call_violation(call, field, "REQUIRED", "%s is required", field);
        return !required;
    }
    if (!cm_utf8_valid(name, len, NULL)) {
        cm_call_violation(call, field, "INVALID_FORMAT", "%s is not valid UTF-8", field);
        return false;
    }
    if (cm_utf8_length(name) > CUSTOMERS_STAFF_NAME_MAX) {
        cm_call_violation(call, field, "TOO_LONG", "%s: at most %d characters", field,
                          CUSTOMERS_STAFF_NAME_MAX);
        return false;
    }
    return true;
}

/* The password rule of a new password (10..256 characters). */
static bool s_password_ok(struct cm_call *call, const char *pw)
{
    size_t len = pw ? strlen(pw) : 0;
    if (!len) {
        cm_call_violation(call, "password", "REQUIRED", "password is required");
        return false;
    }
    if (!cm_utf8_valid(pw, len, NULL)) {
        cm_call_violation(call, "password", "INVALID_FORMAT", "password is not valid UTF-8");
        return false;
    }
    size_t chars = cm_utf8_length(pw);
    if (chars < CUSTOMERS_STAFF_PASSWORD_MIN || chars > CUSTOMERS_STAFF_PASSWORD_MAX) {
        cm_call_violation(call, "password",
                          chars < CUSTOMERS_STAFF_PASSWORD_MIN ? "TOO_SHORT" : "TOO_LONG",
                          "password: %d to %d characters", CUSTOMERS_STAFF_PASSWORD_MIN,
                          CUSTOMERS_STAFF_PASSWORD_MAX);
        return false;
    }
    return true;
}

/* The e-mail (as stored) and its key, or a violation of field email. */
static bool s_email(struct cm_call *call, const char *in, char email[CUSTOMERS_EMAIL_SIZE],
                    char key[CUSTOMERS_EMAIL_KEY_SIZE])
{
    const char *why = NULL;
    if (!in || !*in) {
        cm_call_violation(call, "email", "REQUIRED", "email is required");
        return false;
    }
    if (customers_validate_email(in, email, CUSTOMERS_EMAIL_SIZE, &why)) {
        cm_call_violation(call, "email", "INVALID_FORMAT", "email: %s", why);
        return false;
    }
    customers_validate_email_key(email, key, CUSTOMERS_EMAIL_KEY_SIZE);
    return true;
}

/* ---------------------------------------------------------------------- */
/* Sessions                                                                */

/* Starts a session of member staff_id in tenant (a transaction of its own,
 * with the event kind), filling *out with the token and CSRF token. */
static bool s_session_start(struct cm_call *call, const char *tenant, const char *staff_id,
                            const char *address, int kind, const char *detail,
                            Crm__StaffSession **out)
{
    struct customers_staff *st = s_st(call);
    char token[CM_SESSION_TOKEN_LEN + 1], csrf[CM_SESSION_CSRF_LEN + 1];
    char hash[2 * CM_SESSION_HASH_LEN + 1];
    cm_session_token_new(token);
    cm_session_csrf(token, csrf);
    s_hash_hex(token, hash);
    Crm__StaffSession *r = (Crm__StaffSession *)cm_pb_new(&crm__staff_session__descriptor);
    cm_err_t err = cm_db_begin(call->db, tenant);
    if (!err)
        err = customers_staff_store_session_add(call->db, tenant, staff_id, hash, st->idle_s,
                                                st->absolute_s, address, r);
    Crm__Staff *fresh = NULL;
    if (!err)
        err = customers_staff_store_get(call->db, tenant, staff_id, false, &fresh);
    if (!err && fresh)
        err = customers_staff_store_event(call->db, tenant, kind, fresh->id, fresh->name,
                                          fresh->email, address, detail);
    if (!err)
        err = cm_db_commit(call->db);
    cm_db_rollback(call->db);
    if (err || !fresh) {
        if (fresh)
            crm__staff__free_unpacked(fresh, NULL);
        crm__staff_session__free_unpacked(r, NULL);
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not start the session");
        return false;
    }
    r->staff = fresh;
    cm_pb_set_str(&r->token, token);
    cm_pb_set_str(&r->csrf_token, csrf);
    sodium_memzero(token, sizeof token);
    *out = r;
    return true;
}

/* Fails the call RESOURCE_EXHAUSTED with the wait in a detail the gateway
 * turns into Retry-After. */
static void s_too_many(struct cm_call *call, const char *what, long wait_s)
{
    cm_call_fail(call, CM_ERR_TOO_LARGE, "too many %s; try again in %ld s", what, wait_s);
    cm_call_violation(call, "retryAfter", "RETRY_AFTER", "%ld", wait_s);
}

/* The row of by_email to check the password against: the tenant asked for,
 * or the only one; -1 when none (unknown e-mail or tenant). */
/* The longest tenant a sign-in may name (an id, or the business's name). */
#define CUSTOMERS_STAFF_TENANT_MAX 400

static int s_pick(const PGresult *rows, const char *tenant)
{
    int n = PQntuples(rows);
    if (!tenant || !*tenant)
        return n > 0 ? 0 : -1;
    /* The tenant's id, or the business's name as people type it. */
    for (int i = 0; i < n; i++)
        if (!strcmp(PQgetvalue(rows, i, 0), tenant))
            return i;
    for (int i = 0; i < n; i++)
        if (!strcasecmp(PQgetvalue(rows, i, 1), tenant))
            return i;
    return -1;
}

/* Verifies password against row i of rows (or the dummy hash, for none),
 * so that an unknown e-mail costs what a wrong password does. */
static bool s_verify(struct customers_staff *st, const PGresult *rows, int i, const char *password)
{
    const char *hash = i >= 0 && !PQgetisnull(rows, i, 6) ? PQgetvalue(rows, i, 6) : NULL;
    return cm_pwhash_verify(st->pw, hash, password);
}

/* Counts a failed sign-in and records it (and a lock-out it starts) in the
 * tenant of row i, when there is one. */
static void s_failed(struct cm_call *call, const char *email_key, const char *address,
                     const PGresult *rows, int i, long pair_before)
{
    struct customers_staff *st = s_st(call);
    if (customers_staff_store_failure_add(call->db, email_key, address))
        cm_log_warn("could not count a failed sign-in: %s", cm_db_error(call->db));
    if (i < 0)
        return;
    const char *tenant = PQgetvalue(rows, i, 0);
    const char *staff_id = PQgetvalue(rows, i, 2);
    const char *name = PQgetvalue(rows, i, 3);
    cm_err_t err = cm_db_begin(call->db, tenant);
    if (!err)
        err = customers_staff_store_event(
            call->db, tenant, CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_SIGN_IN_FAILED,
            staff_id, name, email_key, address, "wrong password");
    if (!err && pair_before + 1 == st->limit.pair_failures) {
        char detail[96];
        snprintf(detail, sizeof detail, "%ld failed sign-ins; locked for %ld s",
                 st->limit.pair_failures, st->limit.pair_base_s);
        err = customers_staff_store_event(call->db, tenant,
                                          CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_LOCKED_OUT,
                                          staff_id, name, email_key, address, detail);
    }
    if (!err)
        err = cm_db_commit(call->db);
    cm_db_rollback(call->db);
    if (err)
        cm_log_warn("could not record a failed sign-in: %s", cm_db_error(call->db));
}

void customers_staff_sign_in(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__SignInStaffRequest *req = (const Crm__SignInStaffRequest *)msg;
    struct customers_staff *st = s_st(call);
    char email[CUSTOMERS_EMAIL_SIZE], key[CUSTOMERS_EMAIL_KEY_SIZE];
    PGresult *rows = NULL;
    if (!req->email || !*req->email)
        cm_call_violation(call, "email", "REQUIRED", "email is required");
    if (!req->password || !*req->password)
        cm_call_violation(call, "password", "REQUIRED", "password is required");
    else if (strlen(req->password) > 4 * CUSTOMERS_STAFF_PASSWORD_MAX)
        cm_call_violation(call, "password", "TOO_LONG", "password: at most %d characters",
                          CUSTOMERS_STAFF_PASSWORD_MAX);
    if (req->tenant && strlen(req->tenant) > CUSTOMERS_STAFF_TENANT_MAX)
        cm_call_violation(call, "tenant", "TOO_LONG",
                          "tenant: a tenant id or a business name, at most %d bytes",
                          CUSTOMERS_STAFF_TENANT_MAX);
    if (cm_call_failed(call))
        return;
    /* An address that is not one still counts, as itself. */
    const char *why = NULL;
    if (customers_validate_email(req->email, email, sizeof email, &why)) {
        snprintf(email, sizeof email, "%.*s", CUSTOMERS_EMAIL_MAX, req->email);
    }
    customers_validate_email_key(email, key, sizeof key);
    char address[64];
    snprintf(address, sizeof address, "%s",
             req->client_address && *req->client_address ? req->client_address : "bus");

    struct customers_limit_counts n = {0};
    cm_err_t err = customers_staff_store_failures(call->db, key, address, st->limit.window_s, &n);
    if (err) {
        cm_call_db_fail(call, err, "could not check the sign-in");
        return;
    }
    long wait = customers_limit_wait_s(&st->limit, &n);
    if (wait > 0) {
        s_too_many(call, "failed sign-ins", wait);
        return;
    }
    rows = customers_staff_store_by_email(call->db, key, &err);
    if (!rows) {
        cm_call_db_fail(call, err, "could not check the sign-in");
        return;
    }
    int i = s_pick(rows, req->tenant);
    bool ok = s_verify(st, rows, i, req->password);
    /* One e-mail in several tenants, none named: the password picks, and
     * when it fits more than one the caller must name the tenant. */
    if (!(req->tenant && *req->tenant) && PQntuples(rows) > 1) {
        int fits = ok ? 1 : 0;
        for (int j = 1; j < PQntuples(rows) && j < 8; j++)
            if (s_verify(st, rows, j, req->password)) {
                if (!fits)
                    i = j;
                fits++;
            }
        ok = fits > 0;
        if (fits > 1) {
            cm_call_violation(call, "tenant", "AMBIGUOUS",
                              "this e-mail is staff of several businesses; name the tenant");
            goto out;
        }
    }
    if (!ok) {
        s_failed(call, key, address, rows, i, n.pair);
        cm_call_fail(call, CM_ERR_UNAUTHENTICATED, "wrong e-mail address or password");
        goto out;
    }
    if (strtol(PQgetvalue(rows, i, 5), NULL, 10) != CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE) {
        cm_call_fail(call, CM_ERR_PERMISSION, "this member is disabled");
        goto out;
    }
    if (customers_staff_store_failures_clear(call->db, key, address))
        cm_log_warn("could not clear failed sign-ins: %s", cm_db_error(call->db));
    Crm__StaffSession *r = NULL;
    if (s_session_start(call, PQgetvalue(rows, i, 0), PQgetvalue(rows, i, 2), address,
                        CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_SIGN_IN, "", &r))
        *resp = &r->base;
out:
    PQclear(rows);
}

/* The live session of req's token into a new StaffSession (without the
 * token), or NULL with the call failed UNAUTHENTICATED. */
static Crm__StaffSession *s_session(struct cm_call *call, const ProtobufCMessage *msg)
{
    const Crm__SessionTokenRequest *req = (const Crm__SessionTokenRequest *)msg;
    if (!cm_session_token_valid(req->token)) {
        cm_call_fail(call, CM_ERR_UNAUTHENTICATED, "not signed in");
        return NULL;
    }
    char hash[2 * CM_SESSION_HASH_LEN + 1];
    s_hash_hex(req->token, hash);
    Crm__StaffSession *r = (Crm__StaffSession *)cm_pb_new(&crm__staff_session__descriptor);
    bool found = false;
    cm_err_t err = customers_staff_store_session(call->db, hash, s_st(call)->idle_s, &found, r);
    if (err || !found) {
        crm__staff_session__free_unpacked(r, NULL);
        if (err)
            cm_call_db_fail(call, err, "could not check the session");
        else
            cm_call_fail(call, CM_ERR_UNAUTHENTICATED, "the session has ended; sign in again");
        return NULL;
    }
    char csrf[CM_SESSION_CSRF_LEN + 1];
    cm_session_csrf(req->token, csrf);
    cm_pb_set_str(&r->csrf_token, csrf);
    return r;
}

void customers_staff_get_session(struct cm_call *call, const ProtobufCMessage *msg,
                                 ProtobufCMessage **resp)
{
    Crm__StaffSession *r = s_session(call, msg);
    if (r)
        *resp = &r->base;
}

void customers_staff_check_session(struct cm_call *call, const ProtobufCMessage *msg,
                                   ProtobufCMessage **resp)
{
    Crm__StaffSession *s = s_session(call, msg);
    if (!s)
        return;
    Crm__AuthenticateResponse *r =
        (Crm__AuthenticateResponse *)cm_pb_new(&crm__authenticate_response__descriptor);
    cm_pb_set_str(&r->tenant_id, s->staff->tenant_id);
    r->principal = (Crm__Principal *)cm_pb_new(&crm__principal__descriptor);
    cm_pb_set_str(&r->principal->id, s->staff->id);
    cm_pb_set_str(&r->principal->name, s->staff->name);
    r->principal->role = s->staff->role;
    r->principal->kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_STAFF;
    crm__staff_session__free_unpacked(s, NULL);
    *resp = &r->base;
}

/* Ends this session, or (everywhere) every session of its member. */
static void s_sign_out(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp,
                       bool everywhere)
{
    const Crm__SessionTokenRequest *req = (const Crm__SessionTokenRequest *)msg;
    Crm__StaffSession *s = s_session(call, msg);
    if (!s)
        return;
    const char *tenant = s->staff->tenant_id;
    char hash[2 * CM_SESSION_HASH_LEN + 1];
    s_hash_hex(req->token, hash);
    cm_err_t err = cm_db_begin(call->db, tenant);
    if (!err)
        err = everywhere ? customers_staff_store_sessions_end(call->db, tenant, s->staff->id)
                         : customers_staff_store_session_end(call->db, tenant, hash);
    if (!err)
        err = customers_staff_store_event(
            call->db, tenant,
            everywhere ? CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_SIGN_OUT_EVERYWHERE
                       : CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_SIGN_OUT,
            s->staff->id, s->staff->name, s->staff->email, "", "");
    if (!err)
        err = cm_db_commit(call->db);
    cm_db_rollback(call->db);
    Crm__Staff *staff = s->staff;
    s->staff = NULL;
    crm__staff_session__free_unpacked(s, NULL);
    if (err) {
        crm__staff__free_unpacked(staff, NULL);
        cm_call_db_fail(call, err, "could not sign out");
        return;
    }
    *resp = &staff->base;
}

void customers_staff_sign_out(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp)
{
    s_sign_out(call, msg, resp, false);
}

void customers_staff_sign_out_everywhere(struct cm_call *call, const ProtobufCMessage *msg,
                                         ProtobufCMessage **resp)
{
    s_sign_out(call, msg, resp, true);
}

/* ---------------------------------------------------------------------- */
/* Members                                                                 */

void customers_staff_list(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    (void)msg;
    Crm__ListStaffResponse *r =
        (Crm__ListStaffResponse *)cm_pb_new(&crm__list_staff_response__descriptor);
    cm_err_t err = customers_staff_store_list(call->db, call->hdr->tenant_id, r);
    if (err) {
        crm__list_staff_response__free_unpacked(r, NULL);
        cm_call_db_fail(call, err, "could not list the staff");
        return;
    }
    *resp = &r->base;
}

/* The invitation link of token. */
static char *s_invite_url(const struct customers_staff *st, const char *token)
{
    size_t n = strlen(st->public_url);
    while (n && st->public_url[n - 1] == '/')
        n--;
    return cm_strfmt("%.*s/ui/#/invite/%s", (int)n, st->public_url, token);
}

/* Asks notify to e-mail a member the link of token (an invitation or a
 * password reset: kind) in tenant. True when it is queued; false when e-mail
 * is not configured there (FAILED_PRECONDITION) or notify did not take it
 * (logged). */
/* The request that has notify e-mail staff's link (token, valid valid_s
 * seconds); req borrows staff, token and language. */
static void s_staff_mail_req(const Crm__Staff *staff, const char *token, const char *language,
                             Crm__StaffMailKind kind, long valid_s,
                             Crm__SendStaffInviteRequest *req)
{
    crm__send_staff_invite_request__init(req);
    req->email = staff->email;
    req->name = staff->name;
    req->token = (char *)token;
    req->language = (char *)(language ? language : "");
    req->valid_hours = (int32_t)((valid_s + 3599) / 3600);
    req->kind = kind;
}

/* The customers service asks for itself (the link is its own work), not as
 * the admin or the member: SendStaffInvite is for services only. */
static void s_self(Crm__Principal *self)
{
    crm__principal__init(self);
    self->id = "customers";
    self->name = "customers";
    self->role = CRM__ROLE__ROLE_SERVICE;
    self->kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
}

static bool s_staff_mail(struct cm_call *call, const char *tenant, const Crm__Staff *staff,
                         const char *token, const char *language, Crm__StaffMailKind kind,
                         long valid_s)
{
    Crm__SendStaffInviteRequest req;
    s_staff_mail_req(staff, token, language, kind, valid_s, &req);
    Crm__Principal self;
    s_self(&self);
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *out = NULL;
    cm_err_t err =
        cm_call_service_as(call, tenant, &self, "notify", "notify.SendStaffInvite", &req.base,
                           &crm__message__descriptor, INVITE_MAIL_TIMEOUT_MS, &rh, &out);
    bool sent = !err && rh && rh->status == CRM__STATUS__STATUS_OK;
    if (!sent && !(rh && rh->status == CRM__STATUS__STATUS_FAILED_PRECONDITION))
        cm_log_warn("the %s was not e-mailed (%s%s%s)",
                    kind == CRM__STAFF_MAIL_KIND__STAFF_MAIL_KIND_INVITE ? "invitation"
                                                                         : "password reset link",
                    err ? cm_err_name(err) : "", rh && rh->message ? " " : "",
                    rh && rh->message ? rh->message : "");
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return sent;
}

/* A language tag of at most 35 letters, digits, '-' and '_' ("" too), else a
 * violation of field language. */
static bool s_language_ok(struct cm_call *call, const char *language)
{
    size_t len = language ? strlen(language) : 0;
    if (len > 35 || strspn(language ? language : "", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
                                                     "mnopqrstuvwxyz0123456789-_") != len) {
        cm_call_violation(call, "language", "INVALID_FORMAT",
                          "language: a language tag such as de or pl");
        return false;
    }
    return true;
}

void customers_staff_invite(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__InviteStaffRequest *req = (const Crm__InviteStaffRequest *)msg;
    struct customers_staff *st = s_st(call);
    const char *tenant = call->hdr->tenant_id;
    if (!s_may_manage(call))
        return;
    char email[CUSTOMERS_EMAIL_SIZE], key[CUSTOMERS_EMAIL_KEY_SIZE];
    (void)s_email(call, req->email, email, key);
    (void)s_name_ok(call, "name", req->name, true);
    if (!s_role_valid(req->role))
        cm_call_violation(call, "role", req->role ? "INVALID_VALUE" : "REQUIRED",
                          "role: OWNER, ADMIN, STAFF or READONLY");
    (void)s_language_ok(call, req->language);
    if (cm_call_failed(call))
        return;
    if (req->role == CRM__ROLE__ROLE_OWNER && s_prole(call) != CRM__ROLE__ROLE_OWNER) {
        cm_call_fail(call, CM_ERR_PERMISSION, "only an owner invites an owner");
        return;
    }
    char token[CM_SESSION_TOKEN_LEN + 1], hash[2 * CM_SESSION_HASH_LEN + 1];
    cm_session_token_new(token);
    s_hash_hex(token, hash);
    Crm__Staff *staff = NULL;
    char id[40];
    cm_err_t err = cm_db_begin(call->db, tenant);
    if (!err)
        err = customers_staff_store_lock(call->db, tenant);
    if (!err)
        err = customers_staff_store_find(call->db, tenant, key, &staff);
    if (!err && staff && staff->status != CRM__STAFF_STATUS__STAFF_STATUS_INVITED) {
        cm_call_duplicate(call, "email", staff->id, "a member with this e-mail exists");
        goto out;
    }
    if (!err && staff) {
        /* Invited again: a fresh link, the member's name and role as now asked. */
        snprintf(id, sizeof id, "%s", staff->id);
        err = customers_staff_store_update(call->db, tenant, id, req->name, req->role,
                                           CRM__STAFF_STATUS__STAFF_STATUS_INVITED);
    } else if (!err) {
        cm_uuid(id);
        err = customers_staff_store_insert(call->db, tenant, id, email, key, req->name, req->role,
                                           NULL);
    }
    if (!err)
        err = customers_staff_store_invite_add(call->db, tenant, id, hash, st->invite_s);
    if (!err) {
        char role[16];
        cm_pbjson_enum_name(&crm__role__descriptor, req->role, role, sizeof role);
        err = customers_staff_store_event(call->db, tenant,
                                          CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_INVITED,
                                          s_pid(call), s_pname(call), email, "", role);
    }
    if (staff)
        crm__staff__free_unpacked(staff, NULL);
    staff = NULL;
    if (!err)
        err = customers_staff_store_get(call->db, tenant, id, false, &staff);
    if (!err)
        err = cm_db_commit(call->db);
    if (err || !staff) {
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not invite the member");
        goto out;
    }
    /* Committed: no transaction is held while notify works. */
    Crm__InviteStaffResponse *r =
        (Crm__InviteStaffResponse *)cm_pb_new(&crm__invite_staff_response__descriptor);
    r->staff = staff;
    staff = NULL;
    r->invite_sent = s_staff_mail(call, tenant, r->staff, token, req->language,
                                  CRM__STAFF_MAIL_KIND__STAFF_MAIL_KIND_INVITE, st->invite_s);
    /* Not e-mailed: the admin passes the link on. It is shown this once;
     * only its hash is kept. */
    if (!r->invite_sent)
        r->invite_url = s_invite_url(st, token);
    *resp = &r->base;
out:
    cm_db_rollback(call->db);
    sodium_memzero(token, sizeof token);
    if (staff)
        crm__staff__free_unpacked(staff, NULL);
}

/* The change of a member as asked, checked against the rules of who may
 * touch whom; false with the call failed. */
static bool s_update_allowed(struct cm_call *call, const Crm__Staff *cur, Crm__Role role,
                             Crm__StaffStatus status, long other_owners)
{
    bool owner_now = cur->role == CRM__ROLE__ROLE_OWNER;
    if ((owner_now || role == CRM__ROLE__ROLE_OWNER) && s_prole(call) != CRM__ROLE__ROLE_OWNER) {
        cm_call_fail(call, CM_ERR_PERMISSION, "only an owner changes an owner");
        return false;
    }
    bool stays_owner =
        role == CRM__ROLE__ROLE_OWNER && status == CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE;
    if (owner_now && cur->status == CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE && !stays_owner &&
        other_owners == 0) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "the last active owner cannot be demoted or disabled");
        return false;
    }
    return true;
}

void customers_staff_update(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__UpdateStaffRequest *req = (const Crm__UpdateStaffRequest *)msg;
    const char *tenant = call->hdr->tenant_id;
    if (!s_may_manage(call))
        return;
    if (!req->id || !cm_uuid_valid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no such member");
        return;
    }
    (void)s_name_ok(call, "name", req->name, false);
    if (req->role && !s_role_valid(req->role))
        cm_call_violation(call, "role", "INVALID_VALUE", "role: OWNER, ADMIN, STAFF or READONLY");
    if (req->status && req->status != CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE &&
        req->status != CRM__STAFF_STATUS__STAFF_STATUS_DISABLED)
        cm_call_violation(call, "status", "INVALID_VALUE", "status: ACTIVE or DISABLED");
    if (cm_call_failed(call))
        return;
    Crm__Staff *cur = NULL;
    long others = 0;
    cm_err_t err = customers_staff_store_lock(call->db, tenant);
    if (!err)
        err = customers_staff_store_get(call->db, tenant, req->id, true, &cur);
    if (!err && !cur) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no such member");
        return;
    }
    if (!err)
        err = customers_staff_store_other_owners(call->db, tenant, req->id, &others);
    if (err) {
        if (cur)
            crm__staff__free_unpacked(cur, NULL);
        cm_call_db_fail(call, err, "could not change the member");
        return;
    }
    Crm__Role role = req->role ? req->role : cur->role;
    Crm__StaffStatus status = cur->status;
    if (req->status && cur->status == CRM__STAFF_STATUS__STAFF_STATUS_INVITED &&
        req->status == CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE) {
        cm_call_violation(call, "status", "INVALID_VALUE",
                          "an invited member becomes active by accepting the invitation");
        goto out;
    }
    if (req->status)
        status = req->status;
    /* Enabled again before they ever set a password: invited again (a new
     * invitation gives them one). */
    bool has_password = true;
    if (status == CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE &&
        cur->status == CRM__STAFF_STATUS__STAFF_STATUS_DISABLED) {
        err = customers_staff_store_has_password(call->db, tenant, cur->id, &has_password);
        if (err) {
            cm_call_db_fail(call, err, "could not change the member");
            goto out;
        }
    }
    if (!has_password)
        status = CRM__STAFF_STATUS__STAFF_STATUS_INVITED;
    if (!s_update_allowed(call, cur, role, status, others))
        goto out;
    const char *name = req->name && *req->name ? req->name : cur->name;
    err = customers_staff_store_update(call->db, tenant, cur->id, name, role, status);
    if (!err && status == CRM__STAFF_STATUS__STAFF_STATUS_DISABLED)
        err = customers_staff_store_sessions_end(call->db, tenant, cur->id);
    if (!err && role != cur->role) {
        char from[16], to[40];
        cm_pbjson_enum_name(&crm__role__descriptor, cur->role, from, sizeof from);
        cm_pbjson_enum_name(&crm__role__descriptor, role, to, sizeof to);
        char *detail = cm_strfmt("%s -> %s", from, to);
        err = customers_staff_store_event(
            call->db, tenant, CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_ROLE_CHANGED,
            s_pid(call), s_pname(call), cur->email, "", detail);
        free(detail);
    }
    if (!err && status != cur->status)
        err = customers_staff_store_event(
            call->db, tenant,
            status == CRM__STAFF_STATUS__STAFF_STATUS_DISABLED
                ? CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_STAFF_DISABLED
                : CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_STAFF_ENABLED,
            s_pid(call), s_pname(call), cur->email, "", "");
    Crm__Staff *after = NULL;
    if (!err)
        err = customers_staff_store_get(call->db, tenant, cur->id, false, &after);
    if (err || !after) {
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not change the member");
        goto out;
    }
    *resp = &after->base;
out:
    crm__staff__free_unpacked(cur, NULL);
}

/* ---------------------------------------------------------------------- */
/* Invitations                                                             */

/* A kind of link that sets a member's password: an invitation, a password
 * reset. */
struct s_link_kind {
    PGresult *(*look)(cm_db_t *, const char *, cm_err_t *); // its row by token hash
    int status;                                             // the member's status the link is for
    const char *bad;                                        // INVALID_TOKEN's message
    const char *fail;                                       // a database failure's message
    int event;                                              // the security event of its use
    const char *event_detail;                               // and its detail
    const char *sign_in; // the detail of the sign-in that follows
};

static const struct s_link_kind S_INVITE = {
    customers_staff_store_invite,
    CRM__STAFF_STATUS__STAFF_STATUS_INVITED,
    "this invitation link does not work (used, expired or mistyped)",
    "could not accept the invitation",
    CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_INVITE_ACCEPTED,
    "",
    "invitation",
};

static const struct s_link_kind S_RESET = {
    customers_staff_store_reset,
    CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE,
    "this password reset link does not work (used, replaced, expired or mistyped)",
    "could not set the password",
    CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_PASSWORD_RESET,
    "every session ended",
    "password reset",
};

/* The link of token: its row (the columns of customers_staff_store_invite;
 * caller PQclears), or NULL with the call failed alike (k->bad) for every
 * token that does not work (unknown, used, expired, its member not of
 * k->status), so a page learns nothing of which tokens exist. */
static PGresult *s_link(struct cm_call *call, const char *token, char hash[65],
                        const struct s_link_kind *k)
{
    if (!cm_session_token_valid(token)) {
        cm_call_violation(call, "token", "INVALID_TOKEN", "%s", k->bad);
        return NULL;
    }
    s_hash_hex(token, hash);
    cm_err_t err;
    PGresult *res = k->look(call->db, hash, &err);
    if (!res) {
        cm_call_db_fail(call, err, "could not read the link");
        return NULL;
    }
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 5), "t") ||
        strtol(PQgetvalue(res, 0, 6), NULL, 10) != k->status) {
        PQclear(res);
        cm_call_violation(call, "token", "INVALID_TOKEN", "%s", k->bad);
        return NULL;
    }
    return res;
}

/* A link opened to set a password: its tenant, member, token hash, and the
 * new password's hash. */
struct s_link_open {
    char tenant[40], id[40], hash[65];
    char pw[crypto_pwhash_STRBYTES];
    const char *address; // borrowed (the request)
};

/* Checks token's link and hashes password into *o; false with the call failed. */
static bool s_link_open(struct cm_call *call, const struct s_link_kind *k, const char *token,
                        const char *password, const char *address, struct s_link_open *o)
{
    PGresult *res = s_link(call, token, o->hash, k);
    if (!res)
        return false;
    snprintf(o->tenant, sizeof o->tenant, "%s", PQgetvalue(res, 0, 0));
    snprintf(o->id, sizeof o->id, "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    o->address = address && *address ? address : "bus";
    if (cm_pwhash_hash(s_st(call)->pw, password, o->pw)) {
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "could not hash the password now; retry");
        return false;
    }
    return true;
}

/* Ends the transaction of a link's use (err so far; done when the link was
 * live and the password set): records k->event for the member, commits and
 * signs the member in, or fails the call (a link that did not work:
 * INVALID_TOKEN, as for one never made). */
static void s_link_done(struct cm_call *call, const struct s_link_kind *k, struct s_link_open *o,
                        cm_err_t err, bool done, ProtobufCMessage **resp)
{
    Crm__Staff *staff = NULL;
    if (!err && done)
        err = customers_staff_store_get(call->db, o->tenant, o->id, false, &staff);
    if (!err && done && staff)
        err = customers_staff_store_event(call->db, o->tenant, k->event, o->id, staff->name,
                                          staff->email, o->address, k->event_detail);
    if (!err && done && staff)
        err = cm_db_commit(call->db);
    cm_db_rollback(call->db);
    sodium_memzero(o->pw, sizeof o->pw);
    if (staff)
        crm__staff__free_unpacked(staff, NULL);
    if (err || !done || !staff) {
        if (err)
            cm_call_db_fail(call, err, k->fail);
        else
            cm_call_violation(call, "token", "INVALID_TOKEN", "%s", k->bad);
        return;
    }
    Crm__StaffSession *r = NULL;
    if (s_session_start(call, o->tenant, o->id, o->address,
                        CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_SIGN_IN, k->sign_in, &r))
        *resp = &r->base;
}

void customers_staff_inspect_invite(struct cm_call *call, const ProtobufCMessage *msg,
                                    ProtobufCMessage **resp)
{
    const Crm__InspectInviteRequest *req = (const Crm__InspectInviteRequest *)msg;
    char hash[65];
    PGresult *res = s_link(call, req->token, hash, &S_INVITE);
    if (!res)
        return;
    Crm__InviteInfo *r = (Crm__InviteInfo *)cm_pb_new(&crm__invite_info__descriptor);
    cm_pb_set_str(&r->email, PQgetvalue(res, 0, 3));
    cm_pb_set_str(&r->name, PQgetvalue(res, 0, 4));
    cm_pb_set_str(&r->tenant_name, PQgetvalue(res, 0, 1));
    PQclear(res);
    *resp = &r->base;
}

void customers_staff_accept_invite(struct cm_call *call, const ProtobufCMessage *msg,
                                   ProtobufCMessage **resp)
{
    const Crm__AcceptInviteRequest *req = (const Crm__AcceptInviteRequest *)msg;
    (void)s_name_ok(call, "name", req->name, true);
    (void)s_password_ok(call, req->password);
    if (cm_call_failed(call))
        return;
    struct s_link_open o;
    if (!s_link_open(call, &S_INVITE, req->token, req->password, req->client_address, &o))
        return;
    /* The link is used and the password set in one transaction: a second
     * use, even at the same moment, finds it used. */
    bool used = false;
    cm_err_t err = cm_db_begin(call->db, o.tenant);
    if (!err)
        err = customers_staff_store_invite_use(call->db, o.tenant, o.hash, &used);
    if (!err && used)
        err = customers_staff_store_activate(call->db, o.tenant, o.id, req->name, o.pw);
    s_link_done(call, &S_INVITE, &o, err, used, resp);
}

/* ---------------------------------------------------------------------- */
/* Password reset ("Forgot your password?")                                */

/* The ask is answered in the tick, out of the request: the request does the
 * same work for any e-mail (counts and records the ask), and the reply's time
 * cannot tell a member's address from a stranger's. */

/* Makes a reset link for member id of tenant (still active), records the
 * security event, commits, and has notify e-mail the link (sent, not waited
 * for: s_reset_mail_replies reads the answer). Waits at most
 * RESET_LOCK_WAIT for a lock: the tick runs on the thread that moves every
 * request. Returns CM_OK when done or when nothing is to be done (the
 * member was disabled meanwhile), else the error (the ask is tried again). */
static cm_err_t s_reset_link_send(struct customers_staff *st, cm_svc_t *svc, const char *tenant,
                                  const char *id, const char *address, const char *language)
{
    cm_db_t *db = cm_svc_db(svc);
    char token[CM_SESSION_TOKEN_LEN + 1], hash[2 * CM_SESSION_HASH_LEN + 1];
    cm_session_token_new(token);
    s_hash_hex(token, hash);
    Crm__Staff *staff = NULL;
    const char *wait[] = {RESET_LOCK_WAIT};
    cm_err_t err = cm_db_begin(db, tenant);
    if (!err)
        err = cm_db_run(db, "SELECT set_config('lock_timeout', $1, true)", 1, wait);
    if (!err)
        err = customers_staff_store_get(db, tenant, id, true, &staff);
    if (err || !staff || staff->status != CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE)
        goto out; /* disabled or invited meanwhile: nothing to send */
    err = customers_staff_store_reset_add(db, tenant, id, hash, st->reset_s);
    if (!err)
        err = customers_staff_store_event(
            db, tenant, CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_PASSWORD_RESET_REQUESTED, id,
            staff->name, staff->email, address, "");
    if (!err)
        err = cm_db_commit(db);
    if (err)
        goto out;
    if (!st->mailer)
        st->mailer = cm_mdp_client_new(cm_svc_zctx(svc), cm_svc_bus_endpoint(svc));
    Crm__SendStaffInviteRequest req;
    s_staff_mail_req(staff, token, language, CRM__STAFF_MAIL_KIND__STAFF_MAIL_KIND_PASSWORD_RESET,
                     st->reset_s, &req);
    Crm__Principal self;
    s_self(&self);
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.tenant_id = (char *)tenant;
    h.principal = &self;
    h.method = "notify.SendStaffInvite";
    char rid[40];
    if (!st->mailer ||
        cm_svc_send(st->mailer, "notify", &h, &req.base, INVITE_MAIL_TIMEOUT_MS, rid) != CM_OK)
        cm_log_warn("the password reset link was not e-mailed (the bus is unavailable)");
out:
    if (err)
        cm_log_warn("could not make a password reset link: %s", cm_db_error(db));
    cm_db_rollback(db);
    sodium_memzero(token, sizeof token);
    if (staff)
        crm__staff__free_unpacked(staff, NULL);
    return err;
}

/* Reads notify's answers to the reset e-mails sent (without waiting). */
static void s_reset_mail_replies(struct customers_staff *st)
{
    struct cm_mdp_msg msg = {0}; /* what recv does not fill (address) must be NULL */
    while (st->mailer && cm_mdp_client_recv(st->mailer, 0, &msg) == 1) {
        Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, msg.header_len, msg.header);
        /* FAILED_PRECONDITION: no mail server is configured (notify says so
         * when it starts); the member asks an admin instead. */
        if (!rh || (rh->status != CRM__STATUS__STATUS_OK &&
                    rh->status != CRM__STATUS__STATUS_FAILED_PRECONDITION))
            cm_log_warn("the password reset link was not e-mailed (%s)",
                        rh && rh->message ? rh->message : "an answer that does not decode");
        if (rh)
            crm__reply_header__free_unpacked(rh, NULL);
        cm_mdp_msg_release(&msg);
    }
}

/* Answers the asks not yet handled: for each, a link for every business
 * the e-mail is an active member of, or only the one named. An ask that
 * could not be done (a lock held too long, the database away) is given back
 * for a later tick, RESET_ASK_ATTEMPTS times at most. */
static void s_reset_asks(struct customers_staff *st, cm_svc_t *svc)
{
    cm_db_t *db = cm_svc_db(svc);
    cm_err_t err = CM_OK;
    PGresult *asks =
        customers_staff_store_reset_claim(db, RESET_ASKS_PER_TICK, RESET_ASK_ATTEMPTS, &err);
    if (!asks) {
        cm_log_warn("could not take the password reset asks: %s", cm_db_error(db));
        return;
    }
    for (int a = 0; a < PQntuples(asks); a++) {
        const char *id = PQgetvalue(asks, a, 0), *tenant = PQgetvalue(asks, a, 3);
        PGresult *rows = customers_staff_store_by_email(db, PQgetvalue(asks, a, 1), &err);
        bool again = !rows;
        int only = *tenant && rows ? s_pick(rows, tenant) : -1;
        for (int i = 0; rows && i < PQntuples(rows); i++) {
            if (*tenant && i != only)
                continue;
            if (strtol(PQgetvalue(rows, i, 5), NULL, 10) ==
                    CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE &&
                s_reset_link_send(st, svc, PQgetvalue(rows, i, 0), PQgetvalue(rows, i, 2),
                                  PQgetvalue(asks, a, 2), PQgetvalue(asks, a, 4)) != CM_OK)
                again = true;
        }
        PQclear(rows);
        if (again && customers_staff_store_reset_unclaim(db, id))
            cm_log_warn("could not give back a password reset ask: %s", cm_db_error(db));
    }
    PQclear(asks);
}

void customers_staff_forgot_password(struct cm_call *call, const ProtobufCMessage *msg,
                                     ProtobufCMessage **resp)
{
    const Crm__ForgotPasswordRequest *req = (const Crm__ForgotPasswordRequest *)msg;
    struct customers_staff *st = s_st(call);
    char email[CUSTOMERS_EMAIL_SIZE], key[CUSTOMERS_EMAIL_KEY_SIZE];
    (void)s_email(call, req->email, email, key);
    if (req->tenant && strlen(req->tenant) > CUSTOMERS_STAFF_TENANT_MAX)
        cm_call_violation(call, "tenant", "TOO_LONG",
                          "tenant: a tenant id or a business name, at most %d bytes",
                          CUSTOMERS_STAFF_TENANT_MAX);
    (void)s_language_ok(call, req->language);
    if (cm_call_failed(call))
        return;
    char address[64];
    snprintf(address, sizeof address, "%s",
             req->client_address && *req->client_address ? req->client_address : "bus");
    /* Counted for every e-mail, a member's or not: the limit tells nothing. */
    struct customers_quota_counts account = {0}, from = {0};
    cm_err_t err = customers_staff_store_reset_requests(
        call->db, key, address, CUSTOMERS_STAFF_RESET_WINDOW_S, &account, &from);
    if (err) {
        cm_call_db_fail(call, err, "could not check the request");
        return;
    }
    long wait = customers_limit_quota_wait_s(&account, st->reset_per_account,
                                             CUSTOMERS_STAFF_RESET_WINDOW_S);
    long wait_from =
        customers_limit_quota_wait_s(&from, st->reset_per_address, CUSTOMERS_STAFF_RESET_WINDOW_S);
    if (wait_from > wait)
        wait = wait_from;
    if (wait > 0) {
        s_too_many(call, "password reset requests", wait);
        return;
    }
    /* Only recorded: the tick finds the member and makes the link. */
    err = customers_staff_store_reset_request_add(
        call->db, key, address, req->tenant ? req->tenant : "", req->language ? req->language : "");
    if (err) {
        cm_call_db_fail(call, err, "could not take the request");
        return;
    }
    *resp = cm_pb_new(&crm__empty__descriptor);
}

void customers_staff_reset_password(struct cm_call *call, const ProtobufCMessage *msg,
                                    ProtobufCMessage **resp)
{
    const Crm__ResetPasswordRequest *req = (const Crm__ResetPasswordRequest *)msg;
    if (!s_password_ok(call, req->password))
        return;
    struct s_link_open o;
    if (!s_link_open(call, &S_RESET, req->token, req->password, req->client_address, &o))
        return;
    /* The link is used, the password set and every session ended in one
     * transaction: a second use, even at the same moment, finds it used. */
    bool used = false, set = false;
    cm_err_t err = cm_db_begin(call->db, o.tenant);
    if (!err)
        err = customers_staff_store_reset_use(call->db, o.tenant, o.hash, &used);
    if (!err && used)
        err = customers_staff_store_set_password(call->db, o.tenant, o.id, o.pw, &set);
    if (!err && set)
        err = customers_staff_store_sessions_end(call->db, o.tenant, o.id);
    s_link_done(call, &S_RESET, &o, err, set, resp);
}

/* ---------------------------------------------------------------------- */
/* Security events                                                         */

void customers_staff_events(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__ListSecurityEventsRequest *req = (const Crm__ListSecurityEventsRequest *)msg;
    if (!s_may_manage(call))
        return;
    if (req->page_size < 0 || req->page_size > EVENTS_PAGE_MAX)
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize: 0 to %d", EVENTS_PAGE_MAX);
    long before = 0;
    if (req->page_token && *req->page_token &&
        cm_parse_long(req->page_token, 1, (long)(~0UL >> 1), &before))
        cm_call_violation(call, "pageToken", "INVALID_FORMAT", "pageToken: not a page token");
    if (cm_call_failed(call))
        return;
    int limit = req->page_size ? req->page_size : EVENTS_PAGE_DEFAULT;
    Crm__ListSecurityEventsResponse *r = (Crm__ListSecurityEventsResponse *)cm_pb_new(
        &crm__list_security_events_response__descriptor);
    bool more = false;
    cm_err_t err =
        customers_staff_store_events(call->db, call->hdr->tenant_id, before, limit, r, &more);
    if (err) {
        crm__list_security_events_response__free_unpacked(r, NULL);
        cm_call_db_fail(call, err, "could not list the security events");
        return;
    }
    if (more && r->n_events)
        cm_pb_set_str(&r->next_page_token, r->events[r->n_events - 1]->id);
    *resp = &r->base;
}
