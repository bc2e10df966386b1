/* The HTTP front door (libmicrohttpd, run by the bus thread's loop): routing,
 * authentication, body accumulation with limits, suspend while the bus
 * request is out, resume with the answer, one access-log line and the
 * metrics of each request. */
#ifndef GATEWAY_HTTP_H
#define GATEWAY_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "cm_err.h"
#include "gateway_auth.h"
#include "gateway_bus.h"
#include "gateway_limit.h"
#include "gateway_metrics.h"

/* The gateway's configuration (the cm_cfg table in main.c fills it). */
struct gateway_config {
    char *http_addr;    // owned by the table: "127.0.0.1:8080", "[::1]:8080"
    char *bus_endpoint; // owned by the table
    long request_timeout_ms;
    char *services; // owned by the table: "customers,search" for /readyz
    long max_body_bytes;
    /* Request-body bytes held in memory at once, all requests together; a
     * body that would pass it gets 503 with Retry-After (0: the default). */
    long body_budget_bytes;
    char *ui_dir;       // owned by the table: the web UI's files; NULL or "" to look for them
    bool bus_io_batch;  // the bus context's I/O threads under SCHED_BATCH (cm_mdp_ctx_new)
    bool cookie_secure; // the session cookie always carries Secure (a TLS proxy in front);
                        // it does anyway for a request with X-Forwarded-Proto: https
    /* Wrong API keys from one address: so many within the window lock it out
     * (seconds), doubling up to the longest (gateway_limit.h). */
    long key_failures, key_failure_window_s, key_lockout_s, key_lockout_max_s;
    /* owned by the table: the proxies in front whose X-Forwarded-For names
     * the client (gateway_limit_client); "" for none */
    char *trusted_proxies;
};

typedef struct gateway_http gateway_http_t;

/* Parses "host:port" or "[v6]:port" into addr. Returns 0 or -1. */
int gateway_http_parse_addr(const char *text, struct sockaddr_storage *addr,
                            socklen_t *len) CM_MUSTCHECK;

/* Starts serving cfg->http_addr on the bus thread's loop (the daemon runs in
 * external mode, attached to bus). bus, auth and metrics are borrowed and must
 * outlive the server. Returns NULL with a reason in err on failure (bad
 * address or service list, port taken). */
gateway_http_t *gateway_http_new(const struct gateway_config *cfg, gateway_bus_t *bus,
                                 gateway_auth_t *auth, gateway_metrics_t *metrics, char *err,
                                 size_t errsz);

/* The port actually bound (useful with port 0). */
uint16_t gateway_http_port(const gateway_http_t *self);

/* Stops accepting connections; open ones are still served. Waits for the bus
 * thread to do it. */
void gateway_http_quiesce(gateway_http_t *self);

/* Waits up to timeout_ms until no request is being handled. Returns true if
 * none is. */
bool gateway_http_wait_idle(gateway_http_t *self, long timeout_ms);

/* Detaches from the bus and stops the server. Stop the bus first
 * (gateway_bus_stop): that resumes every suspended request, which MHD
 * requires before it stops, and joins the thread that runs the daemon. */
void gateway_http_destroy(gateway_http_t **self_p);

#endif
