/* Prometheus metrics of the gateway (text format 0.0.4): HTTP requests by
 * route pattern, method and code; HTTP and bus latency histograms; bus
 * requests by service and status; requests in flight; auth cache size.
 * Thread-safe. */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

#include <stddef.h>

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

/* Adds delta to the in-flight gauge. */
void gateway_metrics_in_flight(gateway_metrics_t *self, int delta);

/* The exposition text (malloc'd, the caller frees), with auth_entries as the
 * crm_auth_cache_entries gauge; *len gets its length. */
char *gateway_metrics_render(gateway_metrics_t *self, size_t auth_entries, size_t *len);

#endif
