/* Unit tests for company_metrics: the VIES calls of one copy, counted. */
#include "company_metrics.h"
#include "../unit.h"

static void test_calls_by_result_and_latency(void)
{
    struct company_metrics m;
    company_metrics_init(&m);
    company_metrics_call(&m, "valid", 0.04);
    company_metrics_call(&m, "valid", 0.3);
    company_metrics_call(&m, "MS_UNAVAILABLE", 12.0);
    company_metrics_call(&m, "TIMEOUT", 99.0);
    Crm__CompanyStats *s = company_metrics_stats(&m);
    CHECK(s->n_results == 3);
    CHECK_STR(s->results[0]->result, "valid");
    CHECK(s->results[0]->calls == 2);
    CHECK_STR(s->results[1]->result, "MS_UNAVAILABLE");
    CHECK(s->results[2]->calls == 1);
    CHECK(s->calls == 4);
    CHECK(s->seconds > 111.33 && s->seconds < 111.35);
    CHECK(s->n_bucket_le == COMPANY_METRICS_BUCKETS &&
          s->n_bucket_calls == COMPANY_METRICS_BUCKETS);
    /* Cumulative: <= 0.05 one call, <= 0.5 two, <= 20 three; 99 s only in +Inf (calls). */
    CHECK(s->bucket_le[0] == 0.05 && s->bucket_calls[0] == 1);
    CHECK(s->bucket_le[3] == 0.5 && s->bucket_calls[3] == 2);
    CHECK(s->bucket_le[8] == 20 && s->bucket_calls[8] == 3);
    CHECK(s->bucket_calls[COMPANY_METRICS_BUCKETS - 1] == 3);
    crm__company_stats__free_unpacked(s, NULL);
    company_metrics_destroy(&m);
}

static void test_results_beyond_the_limit_count_as_other(void)
{
    struct company_metrics m;
    company_metrics_init(&m);
    char code[32];
    for (int i = 0; i < COMPANY_METRICS_RESULTS + 5; i++) {
        snprintf(code, sizeof code, "CODE_%d", i);
        company_metrics_call(&m, code, 1.0);
    }
    Crm__CompanyStats *s = company_metrics_stats(&m);
    CHECK(s->n_results == COMPANY_METRICS_RESULTS);
    CHECK_STR(s->results[COMPANY_METRICS_RESULTS - 1]->result, "other");
    CHECK(s->results[COMPANY_METRICS_RESULTS - 1]->calls == 6);
    CHECK(s->calls == COMPANY_METRICS_RESULTS + 5);
    crm__company_stats__free_unpacked(s, NULL);
    company_metrics_destroy(&m);
}

int main(void)
{
    RUN(test_calls_by_result_and_latency);
    RUN(test_results_beyond_the_limit_count_as_other);
    return 0;
}
