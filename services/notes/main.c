/* The notes service: wiring only. */
#include "notes_handlers.h"
#include "notes_forms_handlers.h"
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
} cfg;

static const struct cm_cfg_item s_cfg[] = {
    CM_SVC_CFG_ITEMS(cfg.svc),
    {"events_in_endpoint", CM_CFG_STR, &cfg.events_in_endpoint, "tcp://127.0.0.1:5556"},
    {"events_out_endpoint", CM_CFG_STR, &cfg.events_out_endpoint, "tcp://127.0.0.1:5557"},
    {NULL},
};

int main(int argc, char **argv)
{
    cm_log_init("notes");
    cm_cfg_main("notes", s_cfg, argc, argv);

    /* One table for the bus: notes and tasks, the history side, the forms. */
    size_t n = notes_n_methods + notes_history_n_methods + notes_forms_n_methods;
    struct cm_method *methods = cm_malloc(n * sizeof *methods);
    memcpy(methods, notes_methods, notes_n_methods * sizeof *methods);
    memcpy(methods + notes_n_methods, notes_history_methods,
           notes_history_n_methods * sizeof *methods);
    memcpy(methods + notes_n_methods + notes_history_n_methods, notes_forms_methods,
           notes_forms_n_methods * sizeof *methods);

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
