/* The notes service: wiring only. */
#include "notes_files.h"
#include "notes_files_check.h"
#include "notes_handlers.h"
#include "cm_cfg.h"
#include "cm_log.h"
#include "cm_svc.h"
#include "cm_util.h"

#include <stdlib.h>
#include <string.h>

static struct {
    struct cm_svc_settings svc;
    char *events_in_endpoint;
    char *events_out_endpoint;
    long file_max_bytes;
    long files_per_customer;
} cfg;

static const struct cm_cfg_item s_cfg[] = {
    CM_SVC_CFG_ITEMS(cfg.svc),
    {"events_in_endpoint", CM_CFG_STR, &cfg.events_in_endpoint, "tcp://127.0.0.1:5556"},
    {"events_out_endpoint", CM_CFG_STR, &cfg.events_out_endpoint, "tcp://127.0.0.1:5557"},
    {"file_max_bytes", CM_CFG_INT, &cfg.file_max_bytes, "10485760", .min = 1,
     .max = NOTES_FILE_MAX_CAP},
    {"files_per_customer", CM_CFG_INT, &cfg.files_per_customer, "200", .min = 1,
     .max = NOTES_FILES_PER_CUSTOMER_CAP},
    {NULL},
};

int main(int argc, char **argv)
{
    cm_log_init("notes");
    cm_cfg_main("notes", s_cfg, argc, argv);

    notes_files_configure(&(struct notes_files_limits){.max_bytes = cfg.file_max_bytes,
                                                       .per_customer = cfg.files_per_customer});

    /* One table for the bus: notes and tasks, the history side, files. */
    size_t n = notes_n_methods + notes_history_n_methods + notes_files_n_methods;
    struct cm_method *methods = cm_malloc(n * sizeof *methods);
    memcpy(methods, notes_methods, notes_n_methods * sizeof *methods);
    memcpy(methods + notes_n_methods, notes_history_methods,
           notes_history_n_methods * sizeof *methods);
    memcpy(methods + notes_n_methods + notes_history_n_methods, notes_files_methods,
           notes_files_n_methods * sizeof *methods);

    struct notes_history_cfg history = {
        .bus_endpoint = cfg.svc.bus_endpoint,
        .events_in_endpoint = cfg.events_in_endpoint,
        .events_out_endpoint = cfg.events_out_endpoint,
        .database_url = cfg.svc.database_url,
        .db_role = cfg.svc.db_role,
    };
    struct cm_svc_def def = {
        .name = "notes",
        .methods = methods,
        .n_methods = n,
        .idempotency_table = "notes.idempotency",
        .start = notes_history_start,
        .stop = notes_history_stop,
        .tick = notes_history_tick,
        .tick_ms = 100,
        .user = &history,
    };
    struct cm_svc_cfg svc_cfg = cm_svc_cfg_of(&cfg.svc);
    int rc = cm_svc_run(&def, &svc_cfg);
    free(methods);
    cm_cfg_free(s_cfg);
    return rc;
}
