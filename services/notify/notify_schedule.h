/* Messages sent later (docs/notify.md, "Sending later"): the checks on a
 * SendMessage's send_at (pure), CancelMessage, ReleaseMessage (notify's own
 * call when a scheduled message is due) and the tick that finds those due. */
#ifndef NOTIFY_SCHEDULE_H
#define NOTIFY_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_svc.h"

#define NOTIFY_SEND_AT_PAST_MS (5 * 60 * 1000LL)              // how far back "now" may lie
#define NOTIFY_SEND_AT_AHEAD_MS (366 * 24 * 60 * 60 * 1000LL) // the furthest ahead

typedef enum {
    NOTIFY_SEND_AT_NOW,     // "" or within the past 5 minutes: sent at once
    NOTIFY_SEND_AT_LATER,   // scheduled at *at_ms
    NOTIFY_SEND_AT_INVALID, // not an RFC 3339 date-time
    NOTIFY_SEND_AT_PAST,    // more than 5 minutes ago
    NOTIFY_SEND_AT_TOO_FAR, // more than 366 days ahead
} notify_send_at_t;

/* Parses an RFC 3339 date-time ("2026-12-08T09:00:00Z", fractions and a
 * "+01:00" offset allowed) into Unix ms. Returns 0, or -1 when s is not one. */
int notify_schedule_parse(const char *s, int64_t *ms);

/* Judges send_at against now_ms; *at_ms is the time for NOTIFY_SEND_AT_LATER. */
notify_send_at_t notify_schedule_check(const char *send_at, int64_t now_ms, int64_t *at_ms);

struct Crm__Customer;
/* Whether customer c has the consent of the channel (sms or e-mail)
 * withdrawn now: recorded, with its time, and not granted. A consent
 * withdrawn and granted again since is granted. */
bool notify_schedule_withdrawn(const struct Crm__Customer *c, bool sms);
/* Why customer c, as they are now, may not get a scheduled message of kind
 * on the channel (sms or e-mail), or NULL when they may: no address, the
 * channel's consent withdrawn, an e-mail address SMTP cannot carry, no
 * marketing consent for marketing mail. Static text naming which. */
const char *notify_schedule_refusal(const struct Crm__Customer *c, bool sms, const char *kind);

struct cm_call;
struct notify_state;
struct ProtobufCMessage;

/* CancelMessage and ReleaseMessage (method table entries). */
void notify_schedule_cancel(struct cm_call *call, const struct ProtobufCMessage *msg,
                            struct ProtobufCMessage **resp);
void notify_schedule_release(struct cm_call *call, const struct ProtobufCMessage *msg,
                             struct ProtobufCMessage **resp);

/* The main thread's tick: claims due scheduled messages and asks notify to
 * release each (through st->campaign_client). */
void notify_schedule_tick(cm_svc_t *svc, struct notify_state *st);

#endif
