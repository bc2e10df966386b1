/* The customers service's methods and their dispatch table. */
#ifndef CUSTOMERS_HANDLERS_H
#define CUSTOMERS_HANDLERS_H

#include <stddef.h>
#include <stdint.h>
#include "cm_svc.h"

struct cm_events_pub;

/* The service's state, shared by its handlers. */
struct customers_state {
    const char *events_in_endpoint; // borrowed (config)
    struct cm_events_pub *pub;      // owned: made by customers_start
    int64_t next_heartbeat_ms;
    int64_t next_expiry_ms;
    long outbox_retain_days;    // 0: keep every event
    const char *outbox_readers; // borrowed (config): readers that must register first
    int64_t next_prune_ms;
};

extern const struct cm_method customers_methods[];
extern const size_t customers_n_methods;

/* Connects the event publisher; closes it. */
void customers_start(cm_svc_t *svc, void *user);
void customers_stop(cm_svc_t *svc, void *user);
/* Runs after a write committed: relays the outbox. */
void customers_after_commit(cm_svc_t *svc, void *user);
/* Periodic work: relay, heartbeat, expiry of idempotency keys. */
void customers_tick(cm_svc_t *svc, void *user);

#endif
