/* The notes service: notes, tasks and their iCalendar feed (notes_*.c), and
 * the customer's history: timeline, summary and intake of events from the
 * booking system and the store (notes_history*.c, notes_intake*.c). main.c
 * joins the two method tables into one. */
#ifndef NOTES_HANDLERS_H
#define NOTES_HANDLERS_H

#include <stddef.h>
#include "cm_svc.h"

/* Notes, tasks and the task feed (notes_handlers.c). */
extern const struct cm_method notes_methods[];
extern const size_t notes_n_methods;

/* Checks that the customer exists in the caller's tenant, asking the
 * customers service as the caller. Returns its display name (malloc'd), or
 * NULL with the call failed: 404 naming the customer, or 503. */
struct cm_call;
char *notes_customer(struct cm_call *call, const char *customer_id);

/* Timeline, summary and intake (notes_history.c). */
extern const struct cm_method notes_history_methods[];
extern const size_t notes_history_n_methods;

/* The history side's state and hooks (notes_history.c): it follows the
 * customers event stream into the timeline and publishes its own events. */
struct notes_history_cfg {
    const char *bus_endpoint;        // borrowed (config)
    const char *events_in_endpoint;  // borrowed (config)
    const char *events_out_endpoint; // borrowed (config)
    const char *database_url;        // borrowed (config)
    const char *db_role;             // borrowed (config)
};
void notes_history_start(cm_svc_t *svc, void *user);
void notes_history_stop(cm_svc_t *svc, void *user);
void notes_history_tick(cm_svc_t *svc, void *user);

#endif
