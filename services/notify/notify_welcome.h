/* Welcome on auto-registration (docs/notify.md): notify follows the customers
 * stream (cm_follow: one copy at a time, from the cursor in notify's schema).
 * A customer.registered event of a customer the booking system or the store
 * brought (source BOOKING or STORE), of a tenant whose welcome was on when it
 * happened, leaves a work row in the transaction that moves the cursor. A
 * copy's tick claims the row for a lease and asks any copy to send it
 * (notify.SendWelcome, internal): the welcome template in the customer's
 * language with a set-password link, queued with the idempotency key
 * "welcome:<event id>", then the row goes. A copy that dies between the two
 * leaves the row; the next try finds the message queued under its key and
 * queues nothing more. */
#ifndef NOTIFY_WELCOME_H
#define NOTIFY_WELCOME_H

#include "cm_svc.h"

struct notify_state;

/* Starts following (st->bus, st->events_out_endpoint). */
void notify_welcome_start(struct notify_state *st);
void notify_welcome_stop(struct notify_state *st);
/* Applies the customers events that are ready and asks for the due welcomes
 * (through st->campaign_client, the tick's bus client). */
void notify_welcome_tick(cm_svc_t *svc, struct notify_state *st);

/* notify.SendWelcome: only notify itself may ask. */
void notify_welcome_send(struct cm_call *call, const ProtobufCMessage *msg,
                         ProtobufCMessage **resp);

#endif
