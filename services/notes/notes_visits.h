/* Visits and purchases on the customer card (docs/visits.md): the customer's
 * bookings with the parameters staff attach to them and the tenant's
 * presets of parameter names (notes_visits.c), and the customer's orders
 * with staff returns and cancellations, published on the notes stream
 * (notes_purchases.c). main.c joins the tables into the service's. */
#ifndef NOTES_VISITS_H
#define NOTES_VISITS_H

#include <stddef.h>
#include "cm_svc.h"

#define NOTES_VISIT_PARAMETERS_MAX 50
#define NOTES_VISIT_NAME_MAX 100
#define NOTES_VISIT_VALUE_MAX 500
#define NOTES_VISIT_REMARK_MAX 2000
#define NOTES_VISIT_PRESETS_MAX 100

extern const struct cm_method notes_visits_methods[];
extern const size_t notes_visits_n_methods;

extern const struct cm_method notes_purchases_methods[];
extern const size_t notes_purchases_n_methods;

/* The notes stream's publisher: started and stopped with the service; the
 * relay runs after a commit that stored events and on every tick, with a
 * heartbeat once a second. */
void notes_purchases_start(cm_svc_t *svc, const char *events_in_endpoint);
void notes_purchases_stop(void);
void notes_purchases_after_commit(cm_svc_t *svc, cm_db_t *db, void *user);
void notes_purchases_tick(cm_svc_t *svc);

#endif
