/* The company service's methods (company.LookupVat, company.VerifyVat, and
 * the internal company.RetryVatCheck and company.Stats) and its state. */
#ifndef COMPANY_HANDLERS_H
#define COMPANY_HANDLERS_H

#include <pthread.h>
#include <stdint.h>
#include "cm_mdp.h"
#include "cm_svc.h"
#include "company_metrics.h"

struct company_flight;

/* A member state VIES reported unavailable: asked again after until_ms. */
struct company_backoff {
    char cc[3];
    int64_t until_ms; // mono
    int seconds;      // the current wait, doubled each time (at most 600)
};

#define COMPANY_STATES 32
#define COMPANY_RETRIES_OUT 4

struct company_state {
    const char *vies_url;    // borrowed (config)
    const char *bus;         // borrowed (config): where the tick sends retries
    long connect_timeout_ms; // config
    long timeout_ms;
    long cache_hours;
    long max_in_flight;
    long retry_min_s; // a PENDING check is asked again after retry_min_s, doubling...
    long retry_max_s; // ...up to retry_max_s,
    long give_up_s;   // until it has waited this long: then UNAVAILABLE
    long lease_s;     // a claimed retry is its claimer's this long
    /* Shared by the handler threads, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cond;            // a flight landed, or a call slot freed
    struct company_flight *flights; // owned: the numbers being asked now
    long in_flight;                 // calls to VIES now
    struct company_backoff backoff[COMPANY_STATES];
    size_t n_backoff;
    int64_t next_status_ms; // the tick asks check-status then (while a state waits)
    struct company_metrics metrics;
    /* The main thread's only (start, tick, stop). */
    cm_mdp_client_t *client; // owned: sends claimed retries to any copy
    /* The retries this copy sent and has no answer to yet, at most
     * COMPANY_RETRIES_OUT at once (so retries never take more than that many
     * handler threads of the copies from interactive requests); a slot whose
     * deadline passed is free again (its lease runs out too). */
    struct {
        char request_id[40]; // "" when free
        int64_t until_ms;    // unix
    } retries_out[COMPANY_RETRIES_OUT];
    char instance[96]; // host:pid, for company.Stats
};

extern const struct cm_method company_methods[];
extern const size_t company_n_methods;

void company_start(cm_svc_t *svc, void *user);
void company_stop(cm_svc_t *svc, void *user);
/* Asks VIES's check-status now and then while a member state is backed off,
 * and claims the PENDING checks that are due, sending each to any copy as a
 * company.RetryVatCheck. */
void company_tick(cm_svc_t *svc, void *user);

#endif
