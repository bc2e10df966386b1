/* What notify keeps, and for how long (docs/notify.md): the "notify"
 * stream's published events go after CRM_NOTIFY_OUTBOX_RETAIN_HOURS once
 * every durable reader (CRM_NOTIFY_OUTBOX_READERS) has applied them
 * (cm_outbox_prune); a sent message stays, as the customer's history, but its
 * text and HTML go after CRM_NOTIFY_BODY_RETAIN_HOURS. Both run on the tick,
 * every tenth of the retention (between 1 s and 10 min), a batch at a time.
 * A registration goes once it has expired and left the limits' window
 * (every 10 s). */
#ifndef NOTIFY_RETENTION_H
#define NOTIFY_RETENTION_H

#include "cm_svc.h"

struct notify_state;

/* A retention in hours of -1 keeps forever. */
void notify_retention_tick(cm_svc_t *svc, struct notify_state *st);

#endif
