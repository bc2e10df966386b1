/* The VIES calls of one copy of the company service, for /metrics: a count
 * by result ("valid", "invalid", or VIES's error code) and a histogram of
 * their latency. The gateway gathers them with company.Stats. */
#ifndef COMPANY_METRICS_H
#define COMPANY_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "company.pb-c.h"

/* Distinct results kept; a further one counts as "other". */
#define COMPANY_METRICS_RESULTS 24
/* Upper bounds of the latency buckets, in seconds (+Inf is the count). */
#define COMPANY_METRICS_BUCKETS 10
extern const double company_metrics_le[COMPANY_METRICS_BUCKETS];

struct company_metrics {
    pthread_mutex_t mu;
    struct {
        char result[48];
        uint64_t n;
    } results[COMPANY_METRICS_RESULTS];
    size_t n_results;
    uint64_t buckets[COMPANY_METRICS_BUCKETS]; // calls that took <= company_metrics_le[i]
    uint64_t count;
    double sum; // seconds
};

void company_metrics_init(struct company_metrics *m);
void company_metrics_destroy(struct company_metrics *m);

/* Counts one call to VIES with its result, taking seconds. Thread-safe. */
void company_metrics_call(struct company_metrics *m, const char *result, double seconds);

/* The figures now, as a dynamic crm.CompanyStats (caller frees). */
Crm__CompanyStats *company_metrics_stats(struct company_metrics *m);

#endif
