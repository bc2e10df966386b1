/* Prometheus exposition: counters by pattern/method/code, histograms with
 * cumulative buckets, bus series, gauges, label escaping. */
#include "gateway_metrics.h"
#include "company.pb-c.h"
#include "cm_buf.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "search.pb-c.h"
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
    gateway_metrics_set_bus(m, NULL, false);
    gateway_metrics_http(m, "/v1/customers/{id}", "GET", 200, 0.0004);
    gateway_metrics_http(m, "/v1/customers/{id}", "GET", 200, 0.003);
    gateway_metrics_http(m, "/v1/customers/{id}", "GET", 404, 0.02);
    gateway_metrics_http(m, "/v1/customers/{id}", "BREW", 405, 20);
    gateway_metrics_bus(m, "customers", "OK", 0.002);
    gateway_metrics_bus(m, "customers", "DEADLINE_EXCEEDED", 15);
    gateway_metrics_in_flight(m, 3);
    gateway_metrics_in_flight(m, -1);
    gateway_metrics_body_held(m, 4096, false);
    gateway_metrics_body_held(m, 1024, true);
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
    s_has(t, "# TYPE crm_http_body_bytes_held gauge\ncrm_http_body_bytes_held 1024\n");
    s_has(t, "# TYPE crm_http_body_budget_refusals_total counter\n"
             "crm_http_body_budget_refusals_total 1\n");
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
    gateway_metrics_set_bus(m, NULL, false);
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

/* The search copies' figures, labelled by instance, never by tenant. */
static void test_search_text(void)
{
    Crm__SearchTenantStats t1 = CRM__SEARCH_TENANT_STATS__INIT, t2 = CRM__SEARCH_TENANT_STATS__INIT;
    t1.tenant_id = (char *)"ten-1";
    t1.customers = 42;
    t1.bytes = 4200;
    t2.tenant_id = (char *)"ten\"2";
    t2.customers = 7;
    t2.bytes = 700;
    Crm__SearchTenantStats *ts[] = {&t1, &t2};
    Crm__SearchStatsResponse a = CRM__SEARCH_STATS_RESPONSE__INIT,
                             b = CRM__SEARCH_STATS_RESPONSE__INIT;
    a.instance = (char *)"host:1";
    a.tenants = ts;
    a.n_tenants = 2;
    a.bytes = 4900;
    a.stream_seq = 99;
    b.instance = (char *)"host:2";
    b.tenants = ts;
    b.n_tenants = 1;
    b.bytes = 4200;
    b.stream_seq = 98;
    Crm__SearchStatsResponse *all[] = {&a, &b};
    cm_buf_t out;
    cm_buf_init(&out, 0);
    gateway_metrics_search_text(all, 2, &out);
    const char *t = out.data;
    s_has(t, "# TYPE crm_search_index_customers gauge\n");
    /* A copy's totals: no tenant's id nor size (the endpoint needs no key). */
    s_has(t, "crm_search_index_customers{instance=\"host:1\"} 49\n");
    s_has(t, "crm_search_index_customers{instance=\"host:2\"} 42\n");
    s_has(t, "crm_search_index_tenants{instance=\"host:1\"} 2\n");
    s_has(t, "crm_search_index_tenants{instance=\"host:2\"} 1\n");
    s_has(t, "crm_search_index_bytes{instance=\"host:1\"} 4900\n");
    s_has(t, "crm_search_index_bytes{instance=\"host:2\"} 4200\n");
    s_has(t, "crm_search_stream_seq{instance=\"host:2\"} 98\n");
    CHECK(!strstr(t, "tenant=") && !strstr(t, "ten-1"));
    cm_buf_release(&out);
}

/* The company copies' calls to VIES: a counter by result, a histogram of latency. */
static void test_company_text(void)
{
    Crm__ViesResultCount valid = CRM__VIES_RESULT_COUNT__INIT, down = CRM__VIES_RESULT_COUNT__INIT;
    valid.result = (char *)"valid";
    valid.calls = 5;
    down.result = (char *)"MS_UNAVAILABLE";
    down.calls = 2;
    Crm__ViesResultCount *rs[] = {&valid, &down};
    double le[] = {0.05, 0.5, 2.5};
    uint64_t in[] = {1, 4, 6};
    Crm__CompanyStats a = CRM__COMPANY_STATS__INIT;
    a.instance = (char *)"host:7";
    a.results = rs;
    a.n_results = 2;
    a.bucket_le = le;
    a.n_bucket_le = 3;
    a.bucket_calls = in;
    a.n_bucket_calls = 3;
    a.calls = 7;
    a.seconds = 4.25;
    Crm__CompanyStats *all[] = {&a};
    cm_buf_t out;
    cm_buf_init(&out, 0);
    gateway_metrics_company_text(all, 1, &out);
    const char *t = out.data;
    s_has(t, "# TYPE crm_vies_calls_total counter\n");
    s_has(t, "crm_vies_calls_total{instance=\"host:7\",result=\"valid\"} 5\n");
    s_has(t, "crm_vies_calls_total{instance=\"host:7\",result=\"MS_UNAVAILABLE\"} 2\n");
    s_has(t, "# TYPE crm_vies_call_duration_seconds histogram\n");
    s_has(t, "crm_vies_call_duration_seconds_bucket{instance=\"host:7\",le=\"0.05\"} 1\n");
    s_has(t, "crm_vies_call_duration_seconds_bucket{instance=\"host:7\",le=\"2.5\"} 6\n");
    s_has(t, "crm_vies_call_duration_seconds_bucket{instance=\"host:7\",le=\"+Inf\"} 7\n");
    s_has(t, "crm_vies_call_duration_seconds_sum{instance=\"host:7\"} 4.250\n");
    s_has(t, "crm_vies_call_duration_seconds_count{instance=\"host:7\"} 7\n");
    cm_buf_release(&out);
}

/* The outbox gauges and each reader's lag and silence. */
static void test_outbox_text(void)
{
    Crm__StreamReader notes = CRM__STREAM_READER__INIT, slow = CRM__STREAM_READER__INIT;
    notes.name = (char *)"notes";
    notes.seq = 120;
    notes.seen_unix_ms = 1000000;
    slow.name = (char *)"ar\"chive";
    slow.seq = 20;
    slow.seen_unix_ms = 900500;
    Crm__StreamReader *rs[] = {&notes, &slow};
    Crm__OutboxStatsResponse o = CRM__OUTBOX_STATS_RESPONSE__INIT;
    o.oldest_seq = 11;
    o.newest_seq = 120;
    o.unpublished = 3;
    o.readers = rs;
    o.n_readers = 2;
    cm_buf_t out;
    cm_buf_init(&out, 0);
    gateway_metrics_outbox_text(&o, 1002500, &out);
    const char *t = out.data;
    s_has(t, "# TYPE crm_outbox_oldest_seq gauge\ncrm_outbox_oldest_seq 11\n");
    s_has(t, "crm_outbox_newest_seq 120\n");
    s_has(t, "crm_outbox_unpublished 3\n");
    s_has(t, "crm_stream_reader_behind{reader=\"notes\"} 0\n");
    s_has(t, "crm_stream_reader_behind{reader=\"ar\\\"chive\"} 100\n");
    s_has(t, "crm_stream_reader_silent_seconds{reader=\"notes\"} 2.500\n");
    s_has(t, "crm_stream_reader_silent_seconds{reader=\"ar\\\"chive\"} 102.000\n");
    cm_buf_release(&out);
}

/* Nobody answers search.Stats: the page still renders, promptly, without them. */
static void test_search_absent(void)
{
    gateway_metrics_t *m = gateway_metrics_new();
    gateway_metrics_set_bus(m, "ipc:///tmp/crm-test-metrics-nobody", true);
    int64_t t0 = cm_mono_ms();
    char *text = gateway_metrics_render(m, 1, NULL);
    int64_t took = cm_mono_ms() - t0;
    printf("render without search took %lld ms\n", (long long)took);
    CHECK(took < 2 * GATEWAY_METRICS_SEARCH_MS + 1000); /* search, then customers */
    s_has(text, "crm_auth_cache_entries 1\n");
    s_has(text, "# TYPE crm_search_index_customers gauge\n");
    CHECK(!strstr(text, "crm_search_index_customers{"));
    CHECK(!strstr(text, "crm_outbox_newest_seq")); /* customers did not answer either */
    free(text);
    gateway_metrics_destroy(&m);
}

int main(void)
{
    RUN(test_render);
    RUN(test_threads);
    RUN(test_search_text);
    RUN(test_outbox_text);
    RUN(test_company_text);
    RUN(test_search_absent);
    return 0;
}
