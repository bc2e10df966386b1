/* The notes service: wiring only. */
#include "notes_handlers.h"
#include "cm_cfg.h"
#include "cm_log.h"
#include "cm_svc.h"
#include "cm_util.h"

#include <stdlib.h>
#include <string.h>

static struct {
    char *bus_endpoint;
    char *events_in_endpoint;
    char *events_out_endpoint;
    char *database_url;
    char *db_role;
    bool bus_io_batch;
    long threads;
} cfg;

static const struct cm_cfg_item s_cfg[] = {
    {"bus_endpoint", CM_CFG_STR, &cfg.bus_endpoint, "tcp://127.0.0.1:5555"},
    {"events_in_endpoint", CM_CFG_STR, &cfg.events_in_endpoint, "tcp://127.0.0.1:5556"},
    {"events_out_endpoint", CM_CFG_STR, &cfg.events_out_endpoint, "tcp://127.0.0.1:5557"},
    {"database_url", CM_CFG_STR, &cfg.database_url, "dbname=crm", .secret = true},
    {"db_role", CM_CFG_STR, &cfg.db_role, "crm_app"},
    {"bus_io_batch", CM_CFG_BOOL, &cfg.bus_io_batch, "true"},
    /* Requests one copy serves at once, each with its own database connection. */
    {"threads", CM_CFG_INT, &cfg.threads, "16", .min = 1, .max = CM_SVC_THREADS_MAX},
    {NULL},
};

int main(int argc, char **argv)
{
    cm_log_init("notes");
    cm_cfg_main("notes", s_cfg, argc, argv);

    /* One table for the bus: notes and tasks, then the history side. */
    size_t n = notes_n_methods + notes_history_n_methods;
    struct cm_method *methods = cm_malloc(n * sizeof *methods);
    memcpy(methods, notes_methods, notes_n_methods * sizeof *methods);
    memcpy(methods + notes_n_methods, notes_history_methods,
           notes_history_n_methods * sizeof *methods);

    struct notes_history_cfg history = {
        .bus_endpoint = cfg.bus_endpoint,
        .events_in_endpoint = cfg.events_in_endpoint,
        .events_out_endpoint = cfg.events_out_endpoint,
        .database_url = cfg.database_url,
        .db_role = cfg.db_role,
    };
    struct cm_svc_def def = {
        .name = "notes",
        .methods = methods,
        .n_methods = n,
        .idempotency_table = "notes.idempotency",
        .start = notes_history_start,
        .stop = notes_history_stop,
        .after_commit = notes_history_after_commit,
        .tick = notes_history_tick,
        .tick_ms = 100,
        .user = &history,
    };
    struct cm_svc_cfg svc_cfg = {
        .bus_endpoint = cfg.bus_endpoint,
        .database_url = cfg.database_url,
        .db_role = cfg.db_role,
        .bus_io_batch = cfg.bus_io_batch,
        .threads = cfg.threads,
    };
    int rc = cm_svc_run(&def, &svc_cfg);
    free(methods);
    cm_cfg_free(s_cfg);
    return rc;
}
