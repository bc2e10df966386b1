/* The staff invitation and password reset e-mails (notify.SendStaffInvite):
 * asked by the customers service when an admin invites a member, or a member
 * asks for a password reset link ("Forgot your password?"). */
#ifndef NOTIFY_STAFF_H
#define NOTIFY_STAFF_H

#include "cm_svc.h"
#include "notify_template.h"

/* The invitation's text in lang (one of notify_languages; another is
 * English): subject and text with {{firstName}}, {{businessName}}, {{link}}
 * and {{validHours}}. */
const struct notify_template *notify_staff_invite_text(const char *lang);

/* The password reset e-mail's text in lang, with the same variables. */
const struct notify_template *notify_staff_reset_text(const char *lang);

void notify_staff_invite(struct cm_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp);

/* notify.SendStaffNotice: a service e-mail to a staff member (notes' Orders
 * bot), idempotent on the envelope's key. INTERNAL. */
void notify_staff_notice(struct cm_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp);

#endif
