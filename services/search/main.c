/* The search service: wiring only. It needs no database: the index is built
 * from the customers service's snapshot and event stream (docs/search.md). */
#include "search_fold.h"
#include "search_handlers.h"
#include "cm_cfg.h"
#include "cm_log.h"
#include "cm_svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct {
    char *bus_endpoint;
    char *events_out_endpoint;
    bool bus_io_batch;
} cfg;

static const struct cm_cfg_item s_cfg[] = {
    {"bus_endpoint", CM_CFG_STR, &cfg.bus_endpoint, "tcp://127.0.0.1:5555"},
    {"events_out_endpoint", CM_CFG_STR, &cfg.events_out_endpoint, "tcp://127.0.0.1:5557"},
    {"bus_io_batch", CM_CFG_BOOL, &cfg.bus_io_batch, "true"},
    {NULL},
};

int main(int argc, char **argv)
{
    cm_log_init("search");
    cm_cfg_main("search", s_cfg, argc, argv);

    struct search_state state = {
        .bus_endpoint = cfg.bus_endpoint,
        .events_out_endpoint = cfg.events_out_endpoint,
    };
    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "search");
    snprintf(state.instance, sizeof state.instance, "%s:%ld", host, (long)getpid());
    struct cm_svc_def def = {
        .name = "search",
        .methods = search_methods,
        .n_methods = search_n_methods,
        .start = search_start,
        .stop = search_stop,
        .tick = search_tick,
        .tick_ms = 5,
        .ready = search_ready,
        .user = &state,
        /* One thread: the tick changes the index the handlers read, and a
         * search takes microseconds; credit keeps it busy (docs/search.md). */
        .threads = 1,
    };
    struct cm_svc_cfg svc_cfg = {
        .bus_endpoint = cfg.bus_endpoint,
        .database_url = NULL,
        .bus_io_batch = cfg.bus_io_batch,
    };
    int rc = cm_svc_run(&def, &svc_cfg);
    search_fold_shutdown();
    cm_cfg_free(s_cfg);
    return rc;
}
