/* Self-registration (docs/notify.md, "Self-registration"): a person asks to
 * become a customer at the business's public page; the ask is kept (a token's
 * hash, an expiry) and an e-mail with a link to the set-password page goes
 * out. Nothing is created until the password is set there: then the customer
 * is found or made (customers.ResolveCustomer, by e-mail), the password
 * stored, the consents recorded and the account made ACTIVE. An address that
 * already has an account gets a set-password link for it instead. The answer
 * to the form is the same either way. */
#ifndef NOTIFY_REGISTER_H
#define NOTIFY_REGISTER_H

#include <stdbool.h>
#include "cm_svc.h"
#include "notify.pb-c.h"

/* notify.CreateRegistration (public). */
void notify_register(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp);

/* notify.GetRegistrationForm (public): NOT_FOUND unless the business takes registrations. */
void notify_register_form(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp);

/* The set-password page's look at a token that is no customer's link: when
 * it is a registration's, its PasswordLink into *resp (or the call failed)
 * and true; false when it is none. */
bool notify_register_inspect(struct cm_call *call, const char *token, ProtobufCMessage **resp);

/* RenewPasswordLink with a token that is no customer's link: when it is a
 * registration's, true with its language in *lang (static) after a new link
 * went by e-mail: a used one's customer gets a set-password link (unless
 * disabled), an expired one a new registration link. False when it is none. */
bool notify_register_renew(struct cm_call *call, const char *token, const char **lang);

/* SetPassword with a token that is no customer's link: when it is a
 * registration's, confirms it (a SetPasswordResponse into *resp, or the call
 * failed with the field named) and true; false when it is none. */
bool notify_register_confirm(struct cm_call *call, const Crm__SetPasswordRequest *req,
                             ProtobufCMessage **resp);

#endif
