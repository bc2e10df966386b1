/* Prometheus metrics of the gateway (text format 0.0.4): HTTP requests by
 * route pattern, method and code; HTTP and bus latency histograms; bus
 * requests by service and status; requests in flight; auth cache size.
 * Thread-safe. */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gateway_metrics gateway_metrics_t;

gateway_metrics_t *gateway_metrics_new(void);
void gateway_metrics_destroy(gateway_metrics_t **self_p);

/* Counts one HTTP request. route is the route's pattern (never a raw path) or
 * "unmatched"; a method outside the usual ones counts as "OTHER". */
void gateway_metrics_http(gateway_metrics_t *self, const char *route, const char *method, int code,
                          double seconds);

/* Counts one bus request by service and outcome ("OK", "NOT_FOUND", ...,
 * "DEADLINE_EXCEEDED" when it timed out). */
void gateway_metrics_bus(gateway_metrics_t *self, const char *service, const char *status,
                         double seconds);

/* Counts one bus request sent again after the broker connection came back. */
void gateway_metrics_bus_resent(gateway_metrics_t *self);

/* Adds delta to the in-flight gauge. */
void gateway_metrics_in_flight(gateway_metrics_t *self, int delta);

/* Sets the gauge of request-body bytes held against the body budget
 * (crm_http_body_bytes_held), and counts one refusal for want of it
 * (crm_http_body_budget_refusals_total) when refused. */
void gateway_metrics_body_held(gateway_metrics_t *self, size_t held, bool refused);

/* The exposition text (malloc'd, the caller frees), with auth_entries as the
 * crm_auth_cache_entries gauge; *len gets its length. When a bus endpoint was
 * given (gateway_metrics_set_bus; main passes the gateway's), it also asks the copies of search
 * for their index figures (search.Stats, waiting at most
 * GATEWAY_METRICS_SEARCH_MS) and adds them, labelled by instance and tenant,
 * then the copies of company for their calls to VIES (company.Stats, as long
 * again at most), then customers for its outbox and durable readers (customers.OutboxStats,
 * as long again at most). */
char *gateway_metrics_render(gateway_metrics_t *self, size_t auth_entries, size_t *len);

#define GATEWAY_METRICS_SEARCH_MS 300

/* The bus endpoint to ask search.Stats on (copied); NULL turns it off.
 * io_batch: as for cm_mdp_ctx_new. */
void gateway_metrics_set_bus(gateway_metrics_t *self, const char *bus_endpoint, bool io_batch);

struct Crm__SearchStatsResponse;
struct Crm__OutboxStatsResponse;
struct Crm__CompanyStats;
struct cm_buf;
/* Appends the search index gauges of n Stats replies to out (exposed for tests). */
void gateway_metrics_search_text(struct Crm__SearchStatsResponse *const *stats, size_t n,
                                 struct cm_buf *out);
/* Appends the company copies' calls to VIES (crm_vies_calls_total by result, and the
 * crm_vies_call_duration_seconds histogram), labelled by instance (exposed for tests). */
void gateway_metrics_company_text(struct Crm__CompanyStats *const *stats, size_t n,
                                  struct cm_buf *out);
/* Appends the outbox gauges and each durable reader's lag and silence (at
 * now_ms, unix) to out (exposed for tests). */
void gateway_metrics_outbox_text(const struct Crm__OutboxStatsResponse *o, int64_t now_ms,
                                 struct cm_buf *out);

#endif
