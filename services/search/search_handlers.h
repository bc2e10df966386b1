/* The search service's methods and their dispatch table. */
#ifndef SEARCH_HANDLERS_H
#define SEARCH_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_svc.h"
#include "search_sync.h"

/* At most this many consistentWith entries in one request. */
#define SEARCH_CONSISTENT_MAX 10

struct cm_mdp_client;

/* The service's state, shared by its handlers. */
struct search_state {
    const char *bus_endpoint;        // borrowed (config)
    const char *events_out_endpoint; // borrowed (config)
    char instance[128];              // host:pid, in replies and stats
    search_sync_t *sync;             // owned: made by search_start
};

extern const struct cm_method search_methods[];
extern const size_t search_n_methods;

/* Sets up the snapshot loader and the GetCustomer client; tears them down. */
void search_start(cm_svc_t *svc, void *user);
void search_stop(cm_svc_t *svc, void *user);
/* Loads the snapshot, applies events. */
void search_tick(cm_svc_t *svc, void *user);
/* True once the index can answer (cm_svc announces the service then). */
bool search_ready(cm_svc_t *svc, void *user);

#endif
