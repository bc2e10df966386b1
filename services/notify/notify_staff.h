/* The staff invitation e-mail (notify.SendStaffInvite): asked by the
 * customers service when an admin invites a member. */
#ifndef NOTIFY_STAFF_H
#define NOTIFY_STAFF_H

#include "cm_svc.h"
#include "notify_template.h"

/* The invitation's text in lang (one of notify_languages; another is
 * English): subject and text with {{firstName}}, {{businessName}}, {{link}}
 * and {{validHours}}. */
const struct notify_template *notify_staff_invite_text(const char *lang);

void notify_staff_invite(struct cm_call *call, const ProtobufCMessage *req,
                         ProtobufCMessage **resp);

#endif
