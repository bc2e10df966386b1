/* Staff accounts: sign-in with e-mail and password, sessions, invitations,
 * roles and security events (docs/api.md, "Staff and sessions"). The methods
 * are entries of the service's table (CUSTOMERS_STAFF_METHODS). */
#ifndef CUSTOMERS_STAFF_H
#define CUSTOMERS_STAFF_H

#include <stdint.h>
#include "cm_svc.h"
#include "customers_staff_limit.h"

/* Passwords: 10 to 256 characters. */
#define CUSTOMERS_STAFF_PASSWORD_MIN 10
#define CUSTOMERS_STAFF_PASSWORD_MAX 256
#define CUSTOMERS_STAFF_NAME_MAX 200
/* Argon2id work at once per copy: a burst of sign-ins queues instead of
 * taking every handler thread's memory at once. */
#define CUSTOMERS_STAFF_HASHES_AT_ONCE 2
/* Password reset requests are counted over this window (one hour). */
#define CUSTOMERS_STAFF_RESET_WINDOW_S 3600

struct customers_staff {
    long idle_s;            // a session unused this long ends
    long absolute_s;        // a session ends this long after sign-in, used or not
    long invite_s;          // an invitation's life
    long reset_s;           // a password reset link's life
    long reset_per_account; // reset requests of one e-mail per window
                            // (CUSTOMERS_STAFF_RESET_WINDOW_S)
    long reset_per_address; // reset requests from one address per window, over every e-mail
    struct customers_limit_cfg limit;
    const char *public_url;       // borrowed (config): invitation links point there
    struct cm_pwhash *pw;         // owned: made by customers_staff_start
    struct cm_mdp_client *mailer; // owned: the tick's client to notify (reset e-mails), made
                                  // on first use
    int64_t next_expiry_ms;
};

/* Sets up what the methods share (the password hasher); call from the service's start. */
void customers_staff_start(struct customers_staff *st);
void customers_staff_stop(struct customers_staff *st);
/* Answers the password reset asks recorded since (makes the links, has them
 * e-mailed), and drops expired sessions, invitations and failed sign-ins now
 * and then. */
void customers_staff_tick(struct customers_staff *st, cm_svc_t *svc, int64_t now_ms);

void customers_staff_sign_in(struct cm_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);
void customers_staff_get_session(struct cm_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp);
void customers_staff_check_session(struct cm_call *call, const ProtobufCMessage *req,
                                   ProtobufCMessage **resp);
void customers_staff_sign_out(struct cm_call *call, const ProtobufCMessage *req,
                              ProtobufCMessage **resp);
void customers_staff_sign_out_everywhere(struct cm_call *call, const ProtobufCMessage *req,
                                         ProtobufCMessage **resp);
void customers_staff_list(struct cm_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp);
void customers_staff_invite(struct cm_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp);
void customers_staff_update(struct cm_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp);
void customers_staff_inspect_invite(struct cm_call *call, const ProtobufCMessage *req,
                                    ProtobufCMessage **resp);
void customers_staff_accept_invite(struct cm_call *call, const ProtobufCMessage *req,
                                   ProtobufCMessage **resp);
void customers_staff_forgot_password(struct cm_call *call, const ProtobufCMessage *req,
                                     ProtobufCMessage **resp);
void customers_staff_reset_password(struct cm_call *call, const ProtobufCMessage *req,
                                    ProtobufCMessage **resp);
void customers_staff_events(struct cm_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp);

/* The entries of the service's method table, each with the scope it needs
 * (docs/api.md, "Roles and scopes"): the sign-in, session and invitation
 * methods, and the password reset's, are PUBLIC (the password or the token
 * is the credential),
 * CheckSession INTERNAL (the gateway's), ListStaff CUSTOMERS_READ (any role:
 * the assignee picker), ListStaffInternal INTERNAL (the same list for the
 * suite's services: notes' Orders bot e-mails the staff of a role), the rest
 * STAFF. CUSTOMERS_STAFF_M hands CM_METHOD
 * all but the scope; where CM_METHOD takes one (cm_perm), it passes it on. */
#define CUSTOMERS_STAFF_M(name, req, resp, fn, flags, scope)                                       \
    CM_METHOD("customers", name, req, resp, fn, flags, scope)
#define CUSTOMERS_STAFF_PUBLIC (CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN)
#define CUSTOMERS_STAFF_METHODS                                                                    \
    CUSTOMERS_STAFF_M("SignInStaff", sign_in_staff_request, staff_session,                         \
                      customers_staff_sign_in, CUSTOMERS_STAFF_PUBLIC, PUBLIC),                    \
        CUSTOMERS_STAFF_M("GetSession", session_token_request, staff_session,                      \
                          customers_staff_get_session, CUSTOMERS_STAFF_PUBLIC, PUBLIC),            \
        CUSTOMERS_STAFF_M("CheckSession", session_token_request, authenticate_response,            \
                          customers_staff_check_session, CUSTOMERS_STAFF_PUBLIC, INTERNAL),        \
        CUSTOMERS_STAFF_M("SignOut", session_token_request, staff, customers_staff_sign_out,       \
                          CUSTOMERS_STAFF_PUBLIC, PUBLIC),                                         \
        CUSTOMERS_STAFF_M("SignOutEverywhere", session_token_request, staff,                       \
                          customers_staff_sign_out_everywhere, CUSTOMERS_STAFF_PUBLIC, PUBLIC),    \
        CUSTOMERS_STAFF_M("ListStaff", list_staff_request, list_staff_response,                    \
                          customers_staff_list, CM_METHOD_NO_TXN, PRIVATE_READ),                   \
        CUSTOMERS_STAFF_M("ListStaffInternal", list_staff_request, list_staff_response,            \
                          customers_staff_list, CM_METHOD_NO_TXN, INTERNAL),                       \
        CUSTOMERS_STAFF_M("InviteStaff", invite_staff_request, invite_staff_response,              \
                          customers_staff_invite, CM_METHOD_NO_TXN, STAFF),                        \
        CUSTOMERS_STAFF_M("UpdateStaff", update_staff_request, staff, customers_staff_update,      \
                          CM_METHOD_WRITE, STAFF),                                                 \
        CUSTOMERS_STAFF_M("InspectInvite", inspect_invite_request, invite_info,                    \
                          customers_staff_inspect_invite, CUSTOMERS_STAFF_PUBLIC, PUBLIC),         \
        CUSTOMERS_STAFF_M("AcceptInvite", accept_invite_request, staff_session,                    \
                          customers_staff_accept_invite, CUSTOMERS_STAFF_PUBLIC, PUBLIC),          \
        CUSTOMERS_STAFF_M("ForgotPassword", forgot_password_request, empty,                        \
                          customers_staff_forgot_password, CUSTOMERS_STAFF_PUBLIC, PUBLIC),        \
        CUSTOMERS_STAFF_M("ResetPassword", reset_password_request, staff_session,                  \
                          customers_staff_reset_password, CUSTOMERS_STAFF_PUBLIC, PUBLIC),         \
        CUSTOMERS_STAFF_M("ListSecurityEvents", list_security_events_request,                      \
                          list_security_events_response, customers_staff_events, CM_METHOD_NO_TXN, \
                          STAFF)

#endif
