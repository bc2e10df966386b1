/* Keeping the index in step with the customers service: a snapshot
 * (customers.SnapshotCustomers, page by page) and then the "customers" event
 * stream from the snapshot's seq on (cm_events_sub: live events, replay of
 * anything missed). Events apply by the customer's version, so an event
 * already reflected in the snapshot changes nothing. When the stream cannot
 * be followed (the subscriber stays behind without progress for a minute, as
 * when the outbox no longer holds the range), a new snapshot is built beside
 * the serving index and replaces it. */
#ifndef SEARCH_SYNC_H
#define SEARCH_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include "search_index.h"

typedef struct search_sync search_sync_t;

/* zctx is borrowed; endpoints are copied. Loads nothing until the first tick. */
search_sync_t *search_sync_new(void *zctx, const char *bus_endpoint,
                               const char *events_out_endpoint);
void search_sync_destroy(search_sync_t **self_p);

/* Does what is due: fetches snapshot pages (all of them while nothing is
 * served yet, one per call otherwise) and applies the events that arrived. */
void search_sync_tick(search_sync_t *self);

/* True once the first snapshot is loaded and the stream caught up. */
bool search_sync_ready(const search_sync_t *self);

/* The index to answer from (NULL until ready); borrowed until the next tick. */
search_index_t *search_sync_index(search_sync_t *self);

/* The seq of the last event applied. */
uint64_t search_sync_seq(const search_sync_t *self);

/* Applies one customers-stream event to index (exposed for tests). Returns 0. */
int search_sync_apply(search_index_t *index, const Crm__Event *ev);

#endif
