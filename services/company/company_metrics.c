/* The VIES calls of one copy, counted for /metrics. */
#include "company_metrics.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <string.h>

const double company_metrics_le[COMPANY_METRICS_BUCKETS] = {0.05, 0.1, 0.25, 0.5, 1,
                                                            2.5,  5,   10,   20,  30};

void company_metrics_init(struct company_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void company_metrics_destroy(struct company_metrics *m)
{
    pthread_mutex_destroy(&m->mu);
}

void company_metrics_call(struct company_metrics *m, const char *result, double seconds)
{
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->n_results && strcmp(m->results[i].result, result))
        i++;
    if (i == m->n_results) {
        if (m->n_results < COMPANY_METRICS_RESULTS - 1) {
            snprintf(m->results[i].result, sizeof m->results[i].result, "%s", result);
            m->n_results++;
        } else {
            /* The last slot gathers every result beyond the others. */
            i = COMPANY_METRICS_RESULTS - 1;
            snprintf(m->results[i].result, sizeof m->results[i].result, "other");
            m->n_results = COMPANY_METRICS_RESULTS;
        }
    }
    m->results[i].n++;
    for (size_t b = 0; b < COMPANY_METRICS_BUCKETS; b++)
        if (seconds <= company_metrics_le[b])
            m->buckets[b]++;
    m->count++;
    m->sum += seconds;
    pthread_mutex_unlock(&m->mu);
}

Crm__CompanyStats *company_metrics_stats(struct company_metrics *m)
{
    Crm__CompanyStats *s = (Crm__CompanyStats *)cm_pb_new(&crm__company_stats__descriptor);
    pthread_mutex_lock(&m->mu);
    s->results = m->n_results ? cm_calloc(m->n_results, sizeof *s->results) : NULL;
    for (size_t i = 0; i < m->n_results; i++) {
        Crm__ViesResultCount *r =
            (Crm__ViesResultCount *)cm_pb_new(&crm__vies_result_count__descriptor);
        cm_pb_set_str(&r->result, m->results[i].result);
        r->calls = m->results[i].n;
        s->results[s->n_results++] = r;
    }
    s->bucket_le = cm_calloc(COMPANY_METRICS_BUCKETS, sizeof *s->bucket_le);
    s->bucket_calls = cm_calloc(COMPANY_METRICS_BUCKETS, sizeof *s->bucket_calls);
    for (size_t b = 0; b < COMPANY_METRICS_BUCKETS; b++) {
        s->bucket_le[s->n_bucket_le++] = company_metrics_le[b];
        s->bucket_calls[s->n_bucket_calls++] = m->buckets[b];
    }
    s->calls = m->count;
    s->seconds = m->sum;
    pthread_mutex_unlock(&m->mu);
    return s;
}
