/* Newsletters (docs/notify.md, "Newsletters"): notify.CreateCampaign,
 * GetCampaign, ListCampaigns, CancelCampaign, and the expansion of a
 * campaign into one queued message per recipient, page by page from a
 * durable cursor (notify.ExpandCampaign, sent by a copy's tick to any copy). */
#ifndef NOTIFY_CAMPAIGNS_H
#define NOTIFY_CAMPAIGNS_H

#include "cm_svc.h"
#include "notify_handlers.h"

void notify_campaigns_create(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp);
void notify_campaigns_get(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp);
void notify_campaigns_list(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp);
void notify_campaigns_cancel(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp);
/* Internal: only notify itself (ROLE_SERVICE "notify") may ask. */
void notify_campaigns_expand(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp);

/* Public (no key, no tenant): a newsletter's unsubscribe link, used. */
void notify_campaigns_unsubscribe(struct cm_call *call, const ProtobufCMessage *msg,
                                  ProtobufCMessage **resp);

/* Connects the tick's client to the bus; closes it. */
void notify_campaigns_start(cm_svc_t *svc, struct notify_state *st);
void notify_campaigns_stop(struct notify_state *st);
/* Claims campaigns still to expand (their lease ended) and asks a copy to
 * expand each. Main thread. */
void notify_campaigns_tick(cm_svc_t *svc, struct notify_state *st);

#endif
