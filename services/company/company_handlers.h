/* The company service's methods (company.LookupVat) and its state. */
#ifndef COMPANY_HANDLERS_H
#define COMPANY_HANDLERS_H

#include <pthread.h>
#include <stdint.h>
#include "cm_svc.h"

struct company_flight;

/* A member state VIES reported unavailable: asked again after until_ms. */
struct company_backoff {
    char cc[3];
    int64_t until_ms; // mono
    int seconds;      // the current wait, doubled each time (at most 600)
};

#define COMPANY_STATES 32

struct company_state {
    const char *vies_url;    // borrowed (config)
    long connect_timeout_ms; // config
    long timeout_ms;
    long cache_hours;
    long max_in_flight;
    /* Shared by the handler threads, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cond;            // a flight landed, or a call slot freed
    struct company_flight *flights; // owned: the numbers being asked now
    long in_flight;                 // calls to VIES now
    struct company_backoff backoff[COMPANY_STATES];
    size_t n_backoff;
    int64_t next_status_ms; // the tick asks check-status then (while a state waits)
};

extern const struct cm_method company_methods[];
extern const size_t company_n_methods;

void company_start(cm_svc_t *svc, void *user);
void company_stop(cm_svc_t *svc, void *user);
/* Asks VIES's check-status now and then while a member state is backed off. */
void company_tick(cm_svc_t *svc, void *user);

#endif
