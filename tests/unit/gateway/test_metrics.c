/* Prometheus exposition: counters by pattern/method/code, histograms with
 * cumulative buckets, bus series, gauges, label escaping. */
#include "gateway_metrics.h"
#include "../unit.h"

#include <pthread.h>

static void s_has(const char *text, const char *line)
{
    if (!strstr(text, line)) {
        fprintf(stderr, "missing: %s\n--- in ---\n%s\n", line, text);
        abort();
    }
}

static void test_render(void)
{
    gateway_metrics_t *m = gateway_metrics_new();
    gateway_metrics_http(m, "/v1/customers/{id}", "GET", 200, 0.0004);
    gateway_metrics_http(m, "/v1/customers/{id}", "GET", 200, 0.003);
    gateway_metrics_http(m, "/v1/customers/{id}", "GET", 404, 0.02);
    gateway_metrics_http(m, "/v1/customers/{id}", "BREW", 405, 20);
    gateway_metrics_bus(m, "customers", "OK", 0.002);
    gateway_metrics_bus(m, "customers", "DEADLINE_EXCEEDED", 15);
    gateway_metrics_in_flight(m, 3);
    gateway_metrics_in_flight(m, -1);
    size_t len = 0;
    char *t = gateway_metrics_render(m, 7, &len);
    CHECK(len == strlen(t));
    s_has(t, "# TYPE crm_http_requests_total counter\n");
    s_has(
        t,
        "\ncrm_http_requests_total{route=\"/v1/customers/{id}\",method=\"GET\",code=\"200\"} 2\n");
    s_has(
        t,
        "\ncrm_http_requests_total{route=\"/v1/customers/{id}\",method=\"GET\",code=\"404\"} 1\n");
    s_has(t, "\ncrm_http_requests_total{route=\"/v1/customers/"
             "{id}\",method=\"OTHER\",code=\"405\"} 1\n");
    s_has(t, "# TYPE crm_http_request_duration_seconds histogram\n");
    s_has(t, "\ncrm_http_request_duration_seconds_bucket{route=\"/v1/customers/"
             "{id}\",le=\"0.0005\"} 1\n");
    s_has(t, "\ncrm_http_request_duration_seconds_bucket{route=\"/v1/customers/"
             "{id}\",le=\"0.005\"} 2\n");
    s_has(t,
          "\ncrm_http_request_duration_seconds_bucket{route=\"/v1/customers/{id}\",le=\"10\"} 3\n");
    s_has(
        t,
        "\ncrm_http_request_duration_seconds_bucket{route=\"/v1/customers/{id}\",le=\"+Inf\"} 4\n");
    s_has(t, "\ncrm_http_request_duration_seconds_count{route=\"/v1/customers/{id}\"} 4\n");
    s_has(t, "\ncrm_http_request_duration_seconds_sum{route=\"/v1/customers/{id}\"} 20.0234");
    s_has(t, "\ncrm_bus_requests_total{service=\"customers\",status=\"OK\"} 1\n");
    s_has(t, "\ncrm_bus_requests_total{service=\"customers\",status=\"DEADLINE_EXCEEDED\"} 1\n");
    s_has(t, "\ncrm_bus_request_duration_seconds_bucket{service=\"customers\",le=\"0.0025\"} 1\n");
    s_has(t, "\ncrm_bus_request_duration_seconds_count{service=\"customers\"} 2\n");
    s_has(t, "# TYPE crm_http_in_flight gauge\ncrm_http_in_flight 2\n");
    s_has(t, "# TYPE crm_auth_cache_entries gauge\ncrm_auth_cache_entries 7\n");
    CHECK(t[len - 1] == '\n');
    free(t);

    /* Label values are escaped. */
    gateway_metrics_http(m, "a\"b\\c\nd", "GET", 200, 0.1);
    t = gateway_metrics_render(m, 0, NULL);
    s_has(t, "route=\"a\\\"b\\\\c\\nd\"");
    free(t);
    gateway_metrics_destroy(&m);
    CHECK(m == NULL);
}

static void *s_hammer(void *arg)
{
    gateway_metrics_t *m = arg;
    for (int i = 0; i < 10000; i++) {
        gateway_metrics_http(m, "/v1/tags", "GET", 200, 0.001);
        gateway_metrics_in_flight(m, 1);
        gateway_metrics_in_flight(m, -1);
    }
    return NULL;
}

static void test_threads(void)
{
    gateway_metrics_t *m = gateway_metrics_new();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, s_hammer, m);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    char *text = gateway_metrics_render(m, 0, NULL);
    s_has(text, "crm_http_requests_total{route=\"/v1/tags\",method=\"GET\",code=\"200\"} 40000\n");
    s_has(text, "crm_http_in_flight 0\n");
    free(text);
    gateway_metrics_destroy(&m);
}

int main(void)
{
    RUN(test_render);
    RUN(test_threads);
    return 0;
}
