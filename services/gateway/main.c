/* The gateway: configuration, the parts, and a clean stop on SIGINT/SIGTERM. */
#include "cm_cfg.h"
#include "cm_log.h"
#include "gateway_auth.h"
#include "gateway_bus.h"
#include "gateway_http.h"
#include "gateway_limit.h"
#include "gateway_metrics.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* How long a stop waits for requests in flight (supervisors allow ~10 s). */
#define DRAIN_MS 5000

static struct gateway_config s_cfg;

static int s_check_addr(const char *value, char *why, size_t whysz)
{
    struct sockaddr_storage addr;
    socklen_t alen;
    if (gateway_http_parse_addr(value, &addr, &alen) == 0)
        return 0;
    snprintf(why, whysz, "expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080");
    return -1;
}

static int s_check_services(const char *value, char *why, size_t whysz)
{
    size_t n = strlen(value);
    if (strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789_.-, ") == n)
        return 0;
    snprintf(why, whysz, "expected a comma-separated list of service names");
    return -1;
}

static int s_check_proxies(const char *value, char *why, size_t whysz)
{
    if (gateway_limit_addresses_ok(value))
        return 0;
    snprintf(why, whysz, "expected a comma-separated list of numeric addresses, e.g. 10.0.0.1,::1");
    return -1;
}

static const struct cm_cfg_item s_items[] = {
    {"http_addr", CM_CFG_STR, &s_cfg.http_addr, "127.0.0.1:8080", .check = s_check_addr},
    {"bus_endpoint", CM_CFG_STR, &s_cfg.bus_endpoint, "tcp://127.0.0.1:5555"},
    {"request_timeout_ms", CM_CFG_INT, &s_cfg.request_timeout_ms, "15000", 100, 600000},
    {"services", CM_CFG_STR, &s_cfg.services, "customers,search,notes,company,notify,exchange",
     .check = s_check_services},
    {"max_body_bytes", CM_CFG_INT, &s_cfg.max_body_bytes, "1048576", 1024, 67108864},
    {"body_budget_bytes", CM_CFG_INT, &s_cfg.body_budget_bytes, "268435456", 65536, 68719476736},
    {"ui_dir", CM_CFG_STR, &s_cfg.ui_dir, ""},
    {"bus_io_batch", CM_CFG_BOOL, &s_cfg.bus_io_batch, "true"},
    {"cookie_secure", CM_CFG_BOOL, &s_cfg.cookie_secure, "false"},
    {"api_key_failures", CM_CFG_INT, &s_cfg.key_failures, "20", 1, 1000000},
    {"api_key_failure_window_s", CM_CFG_INT, &s_cfg.key_failure_window_s, "60", 1, 86400},
    {"api_key_lockout_s", CM_CFG_INT, &s_cfg.key_lockout_s, "60", 1, 86400},
    {"api_key_lockout_max_s", CM_CFG_INT, &s_cfg.key_lockout_max_s, "900", 1, 86400},
    {"trusted_proxies", CM_CFG_STR, &s_cfg.trusted_proxies, "", .check = s_check_proxies},
    {NULL},
};

int main(int argc, char **argv)
{
    cm_log_init("gateway");
    cm_cfg_main("gateway", s_items, argc, argv);
    /* Every reply allocates and frees a body of some kilobytes: without
     * this, glibc gives the top of the bus thread's heap back to the system
     * (madvise) after nearly every request, and takes it again for the next. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);

    /* Every thread started from here on inherits the mask; main takes the
     * signals with sigwait, so no handler runs inside MHD or ZeroMQ. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    char err[256];
    gateway_metrics_t *metrics = gateway_metrics_new();
    gateway_metrics_set_bus(metrics, s_cfg.bus_endpoint, s_cfg.bus_io_batch);
    gateway_auth_t *auth =
        gateway_auth_new(GATEWAY_AUTH_MAX_ENTRIES, GATEWAY_AUTH_TTL_OK_MS, GATEWAY_AUTH_TTL_BAD_MS);
    gateway_http_t *http = NULL;
    gateway_bus_t *bus = gateway_bus_new(s_cfg.bus_endpoint, s_cfg.bus_io_batch, auth, metrics);
    if (!bus) {
        cm_log_error("bus_endpoint: cannot connect to \"%s\"", s_cfg.bus_endpoint);
        rc = 2;
        goto out;
    }
    http = gateway_http_new(&s_cfg, bus, auth, metrics, err, sizeof err);
    if (!http) {
        cm_log_error("%s", err);
        rc = 2;
        goto out;
    }
    cm_log_info("listening on %s (port %u), bus %s", s_cfg.http_addr,
                (unsigned)gateway_http_port(http), s_cfg.bus_endpoint);
    int sig = 0;
    sigwait(&stop, &sig);
    cm_log_info("stopping on signal %d: draining requests in flight", sig);
    /* No new connections; requests under way get up to DRAIN_MS to finish. */
    gateway_http_quiesce(http);
    if (!gateway_http_wait_idle(http, DRAIN_MS))
        cm_log_warn("requests still in flight after %d ms: answering them 503", DRAIN_MS);
    rc = 0;
out:
    /* The bus first: it answers and resumes every suspended request, as MHD
     * requires before it stops, and serves the HTTP side a moment longer so
     * those answers leave (GATEWAY_BUS_DRAIN_MS). */
    if (bus)
        gateway_bus_stop(bus);
    gateway_http_destroy(&http);
    gateway_bus_destroy(&bus);
    gateway_auth_destroy(&auth);
    gateway_metrics_destroy(&metrics);
    cm_cfg_free(s_items);
    return rc;
}
