/* Intake of events from the booking system and the store: the pure parts.
 * Checking an event before anything is recorded, the kind of timeline entry
 * an event makes, the digest that tells a resend from another event under the
 * same id, and the rule that makes out-of-order events end in the right
 * state. No database, no bus. */
#ifndef NOTES_INTAKE_H
#define NOTES_INTAKE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_svc.h"
#include "history.pb-c.h"

/* Limits, each checked and tested. */
#define NOTES_INTAKE_SOURCE_MAX 50    // bytes of a-z, 0-9, '_', '.', '-'
#define NOTES_INTAKE_EVENT_ID_MAX 200 // characters
#define NOTES_INTAKE_ID_MAX 200       // booking, order, message and customer ids
#define NOTES_INTAKE_NAME_MAX 100     // first and last name, service, staff
#define NOTES_INTAKE_EMAIL_MAX 254
#define NOTES_INTAKE_PHONE_MAX 40
#define NOTES_INTAKE_LANGUAGE_MAX 35 /* a BCP 47 tag, as customers takes it */
#define NOTES_INTAKE_TEXT_MAX 200    // item names, SKUs, message subject and channel
#define NOTES_INTAKE_ITEMS_MAX 100
#define NOTES_INTAKE_QUANTITY_MAX 1000000
/* Amounts: |amount| at most 10^15 minor units. */
#define NOTES_INTAKE_AMOUNT_MAX 1000000000000000LL

/* What an event is about. */
enum notes_intake_family {
    NOTES_INTAKE_NONE = 0, // not a known type
    NOTES_INTAKE_BOOKING,
    NOTES_INTAKE_ORDER,
    NOTES_INTAKE_SIGNUP,
    NOTES_INTAKE_MESSAGE,
};

/* The family of an event type ("booking.cancelled" -> BOOKING), NONE for an
 * unknown one. */
enum notes_intake_family notes_intake_family(const char *type);

/* Parses an RFC 3339 time with a Z or +hh:mm offset and optional fraction
 * ("2026-11-20T10:00:00Z") into milliseconds since the epoch. Returns 0, or
 * -1 when it is not one (or not a real date, or outside years 1970..9999). */
int notes_intake_time(const char *s, int64_t *ms) CM_MUSTCHECK;

/* Checks every field of ev and adds a violation to call (lowerCamelCase paths
 * such as "booking.startsAt", "order.items[3].quantity") for each problem.
 * Returns true when the event may be taken in. */
bool notes_intake_check(struct cm_call *call, const Crm__IntakeEvent *ev);

/* ---- What an event says, to tell a resend from a different event -------- */

/* The size of notes_intake_digest's output: 32 hex digits and a NUL. */
#define NOTES_INTAKE_DIGEST_SIZE 33

/* Writes into out the digest of ev's content: BLAKE2b-128 in lower-case hex of
 * the event's proto3 JSON form (fields at their default left out, keys sorted,
 * no spaces). So the same event gets the same digest whether it came as JSON
 * to POST /v1/events or packed by any protobuf library, in any field order;
 * unknown fields do not count, and neither does a field declared later at its
 * default. Cannot fail. */
void notes_intake_digest(const Crm__IntakeEvent *ev, char out[NOTES_INTAKE_DIGEST_SIZE]);

/* ---- State of a booking or an order, whatever order events arrive in ---- */

/* The status an event sets: booking "BOOKED", "CANCELLED", "ATTENDED",
 * "NO_SHOW"; order "PLACED", "PAID", "REFUNDED", "CANCELLED". NULL for
 * other types. Static strings. */
const char *notes_intake_status(const char *type);

/* Out-of-order events: an event (of an order when order, else of a booking) replaces the stored
 * status when its status is of a later stage, whatever the times (a booking.created that arrives
 * after its booking.cancelled does not revive it; a paid order stays paid when order.placed comes
 * late); within the same stage the later event wins, and on equal times the one that arrives last.
 * Details (times, service, items) follow the latest event. The store applies this in the statement
 * that takes the event in, with these stages: booking BOOKED < CANCELLED = ATTENDED = NO_SHOW;
 * order PLACED < PAID < REFUNDED = CANCELLED = PARTIALLY_REFUNDED (a staff return). */

/* The stage of a status (1 the first), 0 for one that is not a status of its kind. */
int notes_intake_stage(bool order, const char *status);

/* Every status of its kind with its stage, as the JSON object {"BOOKED": 1, ...}, into out. */
#define NOTES_INTAKE_STAGES_SIZE 128
void notes_intake_stages(bool order, char out[NOTES_INTAKE_STAGES_SIZE]);

/* The rule in C: true when an event whose status is new_status, which happened at new_ms,
 * replaces the stored status cur_status (set at cur_ms; NULL or "" for none). The take-in
 * statement (notes_history_store.c) applies the same rule in SQL with notes_intake_stages; the
 * unit and fuzz tests hold this one to its definition. */
bool notes_intake_status_wins(bool order, const char *cur_status, int64_t cur_ms,
                              const char *new_status, int64_t new_ms);

#endif
