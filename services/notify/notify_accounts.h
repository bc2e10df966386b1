/* Customer accounts (docs/notify.md, "Customer accounts"): set-password and
 * activation links sent from templates, the public page's three calls
 * (inspect a link, set the password, ask for a new link) and the sign-in of
 * the booking site and the store. The password hashes stay in schema notify;
 * the account's status is the customers service's. */
#ifndef NOTIFY_ACCOUNTS_H
#define NOTIFY_ACCOUNTS_H

#include "cm_svc.h"

struct notify_state;

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
