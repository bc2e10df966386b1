/* Customer accounts (docs/notify.md, "Customer accounts"): set-password and
 * activation links sent from templates, the public page's three calls
 * (inspect a link, set the password, ask for a new link) and the sign-in of
 * the booking site and the store. The password hashes stay in schema notify;
 * the account's status is the customers service's. */
#ifndef NOTIFY_ACCOUNTS_H
#define NOTIFY_ACCOUNTS_H

#include <stdbool.h>
#include "cm_svc.h"
#include "customers.pb-c.h"
#include "notify.pb-c.h"
#include "notify_template.h"

#include <sodium.h>

struct notify_state;

/* Renders kind (a template with a set-password link) for customer c in their
 * language and queues it with a new link, as tenant, on e-mail or SMS. A
 * request_key (NULL: none) queued before answers that message and makes no
 * new link. The message (dynamic, the caller frees it), or NULL with the call
 * failed. */
Crm__Message *notify_accounts_queue(struct cm_call *call, struct notify_state *st,
                                    const char *tenant, const Crm__Customer *c,
                                    enum notify_kind kind, bool sms, const char *request_key);

/* Renders kind in lang (one of notify_languages) for c (names, e-mail) of
 * tenant, its own template or the default, with business as
 * {{businessName}} and {{link}} kept for the sender to fill. Dynamic, or NULL
 * with the call failed. Leaves the session's tenant at tenant. */
Crm__RenderedMessage *notify_accounts_render(struct cm_call *call, const struct notify_state *st,
                                             const char *tenant, enum notify_kind kind,
                                             const char *lang, const char *business,
                                             const Crm__Customer *c);

/* Checks password for the account of email (a violation on "password" naming
 * the rule) and hashes it into hash (Argon2id, at most two at once). False,
 * the call failed, when it is refused or cannot be hashed now. */
bool notify_accounts_hash(struct cm_call *call, struct notify_state *st, const char *password,
                          const char *email, char hash[crypto_pwhash_STRBYTES]);

/* Makes customer_id's account ACTIVE at the customers service, as notify in
 * tenant (no transaction open), with consents' email and sms (each when not
 * NULL) as given. Returns whether customers took it (a refusal is logged;
 * the call is not failed). */
bool notify_accounts_activate(struct cm_call *call, const char *tenant, const char *customer_id,
                              const Crm__Preferences *consents);

/* Makes the hash every failed look-up is checked against (constant time) and
 * the limit on hashing at once. Before the first request. */
void notify_accounts_start(struct notify_state *st);
void notify_accounts_stop(struct notify_state *st);

void notify_accounts_send_link(struct cm_call *call, const ProtobufCMessage *msg,
                               ProtobufCMessage **resp);
void notify_accounts_send_activation(struct cm_call *call, const ProtobufCMessage *msg,
                                     ProtobufCMessage **resp);
void notify_accounts_inspect(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp);
void notify_accounts_set_password(struct cm_call *call, const ProtobufCMessage *msg,
                                  ProtobufCMessage **resp);
void notify_accounts_renew(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp);
void notify_accounts_sign_in(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp);

#endif
