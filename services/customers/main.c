/* The customers service: wiring only. */
#include "customers_handlers.h"
#include "cm_cfg.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_svc.h"

#include <stdio.h>
#include <stdlib.h>

static struct {
    char *bus_endpoint;
    char *events_in_endpoint;
    char *database_url;
    char *db_role;
    long outbox_retain_days;
    char *outbox_readers;
    bool bus_io_batch;
    long threads;
} cfg;

static int s_readers_check(const char *value, char *why, size_t whysz)
{
    if (cm_events_readers_ok(value))
        return 0;
    snprintf(why, whysz, "comma-separated reader names: a-z, 0-9, '.', '_', '-'");
    return -1;
}

static const struct cm_cfg_item s_cfg[] = {
    {"bus_endpoint", CM_CFG_STR, &cfg.bus_endpoint, "tcp://127.0.0.1:5555"},
    {"events_in_endpoint", CM_CFG_STR, &cfg.events_in_endpoint, "tcp://127.0.0.1:5556"},
    {"database_url", CM_CFG_STR, &cfg.database_url, "dbname=crm", .secret = true},
    {"db_role", CM_CFG_STR, &cfg.db_role, "crm_app"},
    {"bus_io_batch", CM_CFG_BOOL, &cfg.bus_io_batch, "true"},
    /* Requests one copy serves at once, each with its own database connection. */
    {"threads", CM_CFG_INT, &cfg.threads, "16", .min = 1, .max = CM_SVC_THREADS_MAX},
    {"outbox_retain_days", CM_CFG_INT, &cfg.outbox_retain_days, "30", .min = 0, .max = 36500},
    {"outbox_readers", CM_CFG_STR, &cfg.outbox_readers, "notes", .check = s_readers_check},
    {NULL},
};

int main(int argc, char **argv)
{
    cm_log_init("customers");
    cm_cfg_main("customers", s_cfg, argc, argv);

    struct customers_state state = {
        .events_in_endpoint = cfg.events_in_endpoint,
        .outbox_retain_days = cfg.outbox_retain_days,
        .outbox_readers = cfg.outbox_readers,
    };
    struct cm_svc_def def = {
        .name = "customers",
        .methods = customers_methods,
        .n_methods = customers_n_methods,
        .idempotency_table = "customers.idempotency",
        .start = customers_start,
        .stop = customers_stop,
        .after_commit = customers_after_commit,
        .tick = customers_tick,
        .tick_ms = 500,
        .user = &state,
    };
    struct cm_svc_cfg svc_cfg = {
        .bus_endpoint = cfg.bus_endpoint,
        .database_url = cfg.database_url,
        .db_role = cfg.db_role,
        .bus_io_batch = cfg.bus_io_batch,
        .threads = cfg.threads,
    };
    int rc = cm_svc_run(&def, &svc_cfg);
    cm_cfg_free(s_cfg);
    return rc;
}
