/* The business's time zone, as notes learns it: customers owns it (the
 * tenant's settings), notes asks customers.GetSettings and keeps the answer
 * per tenant for NOTES_ZONE_TTL_MS; the copy that follows the customers
 * stream also learns a change at once from its settings.updated event
 * (notes_zone_changed). docs/architecture.md, "The business's day in other
 * services". */
#ifndef NOTES_ZONE_H
#define NOTES_ZONE_H

#include <stdbool.h>
#include <stdint.h>

struct cm_call;

#define NOTES_ZONE_SIZE 65      // an IANA name as customers keeps it (64 bytes) and its NUL
#define NOTES_ZONE_TTL_MS 30000 // how long an answer stands before it is asked again
#define NOTES_ZONE_TENANTS 4096 // tenants kept; past that the oldest answer goes
#define NOTES_ZONE_ASK_MS 2000  // how long a call waits for customers

/* Asks the owner for tenant's zone: writes it into zone and returns true, or
 * false when there was no usable answer. ctx is the asker's. */
typedef bool (*notes_zone_ask_fn)(void *ctx, const char *tenant, char zone[NOTES_ZONE_SIZE]);

/* The zone of tenant into zone: the kept answer while younger than
 * NOTES_ZONE_TTL_MS at now_ms (a monotonic clock), else ask's, which is kept.
 * When ask fails: the last answer however old, else "UTC" (logged), so a
 * list of tasks still shows while customers does not answer. Thread-safe;
 * ask runs without the cache's lock held. */
void notes_zone_get(const char *tenant, int64_t now_ms, notes_zone_ask_fn ask, void *ctx,
                    char zone[NOTES_ZONE_SIZE]);

/* The customers stream says tenant's zone is now zone (settings.updated):
 * the kept answer becomes zone and is asked again on its next use, so that
 * an old event replayed cannot stand for long against the owner's answer.
 * Thread-safe. */
void notes_zone_changed(const char *tenant, const char *zone);

/* Forgets every kept answer (tests, and a service that stops). */
void notes_zone_forget(void);

/* notes_zone_get for a request: asks customers.GetSettings as notes itself
 * (a caller with notes scopes alone may not read customers' settings), for
 * the call's tenant, over the call's own connection. */
void notes_zone_of_call(struct cm_call *call, char zone[NOTES_ZONE_SIZE]);

#endif
