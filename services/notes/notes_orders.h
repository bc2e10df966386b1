/* The Orders bot's bus side (docs/rules.md, "Orders bot"): the instructions
 * of an order (ListOrderInstructions), and the "notes" event stream they
 * and purchases' returns and cancellations are published on (the relay,
 * its heartbeat, ReplayEvents, retention). The worker writes
 * them (notes_rules_worker.c, notes_orders_store.c). */
#ifndef NOTES_ORDERS_H
#define NOTES_ORDERS_H

#include <stddef.h>
#include "cm_svc.h"

extern const struct cm_method notes_orders_methods[];
extern const size_t notes_orders_n_methods;

/* Opens the stream's publisher on events_in (borrowed for the service's
 * life), keeping published events retain_hours (-1: for ever); closes
 * it. */
void notes_orders_start(cm_svc_t *svc, const char *events_in, long retain_hours);
void notes_orders_stop(void);
/* Publishes what the outbox holds unpublished, and a heartbeat a second;
 * prunes the outbox now and then. */
void notes_orders_tick(cm_svc_t *svc);
/* cm_svc's after_commit: publishes what a write stored (a purchase's return
 * or cancellation) before its reply. */
void notes_orders_after_commit(cm_svc_t *svc, cm_db_t *db, void *user);

#endif
