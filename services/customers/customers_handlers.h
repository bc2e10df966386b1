/* The customers service's methods and their dispatch table. */
#ifndef CUSTOMERS_HANDLERS_H
#define CUSTOMERS_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_svc.h"
#include "customers.pb-c.h"
#include "customers_staff.h"

#include <pthread.h>

struct cm_events_pub;

/* The service's state, shared by its handlers. */
struct customers_state {
    const char *events_in_endpoint; // borrowed (config)
    struct cm_events_pub *pub;      // owned: made by customers_start
    pthread_mutex_t relay_mu;       // one relay at a time: tick's and after_commit's
    int64_t next_heartbeat_ms;
    int64_t next_expiry_ms;
    long outbox_retain_days;    // 0: keep every event
    const char *outbox_readers; // borrowed (config): readers that must register first
    int64_t next_prune_ms;
    int64_t next_access_prune_ms; // the access log's retention (customers_access_prune)
    struct customers_staff staff; // staff accounts' settings and shared state
};

struct customers_tenant;

extern const struct cm_method customers_methods[];

/* The request's tenant settings into t (release with
 * customers_tenant_release). False, with the call failed, when unknown or
 * unreadable. */
bool customers_tenant_of(struct cm_call *call, struct customers_tenant *t);

/* Creates a customer from in, as CreateCustomer does (source, when in
 * leaves it unset): checks, identity rules, insert, audit entry and event,
 * in the call's transaction. alone: the call writes nothing else, so an
 * e-mail another customer has may end its transaction (found by the unique
 * index rather than looked up first; an import's rows share one). Returns
 * the stored customer (caller frees), or NULL with the call failed. */
Crm__Customer *customers_create_one(struct cm_call *call, const Crm__Customer *in,
                                    Crm__Source source, const struct customers_tenant *tenant,
                                    bool alone);

/* Updates customer id from in by mask (empty: every field in sets), as
 * UpdateCustomer does, when etag is "" or its version; alone as for
 * customers_create_one. Returns the stored
 * customer (caller frees): unchanged when nothing differs (same etag, no
 * audit entry, no event); else NULL with the call failed. With before, an
 * update that changed something leaves the customer as it was there
 * (caller frees; NULL otherwise). */
Crm__Customer *customers_update_one(struct cm_call *call, const char *id, const char *etag,
                                    const Crm__Customer *in, char *const *mask, size_t n_mask,
                                    const struct customers_tenant *tenant, bool alone,
                                    Crm__Customer **before);
extern const size_t customers_n_methods;

/* Loads customer id (for_update: locked) as GetCustomer reads it. Returns it
 * (caller frees), or NULL with the call failed: NOT_FOUND, for the id of a
 * merged record with a violation of field, reason MERGED, naming the
 * customer it went into. */
Crm__Customer *customers_load(struct cm_call *call, const char *id, const char *field,
                              bool for_update);

/* Connects the event publisher; closes it. */
void customers_start(cm_svc_t *svc, void *user);
void customers_stop(cm_svc_t *svc, void *user);
/* Runs after a write committed: relays the outbox on db. */
void customers_after_commit(cm_svc_t *svc, cm_db_t *db, void *user);
/* Periodic work: relay, heartbeat, expiry of idempotency keys. */
void customers_tick(cm_svc_t *svc, void *user);

#endif
