/* The exchange service: wiring only. The customer book out as CSV and Excel
 * files (docs/exchange.md). */
#include "exchange_handlers.h"
#include "cm_cfg.h"
#include "cm_log.h"
#include "cm_svc.h"

#include <malloc.h>

#define S_ARENAS 2

static struct {
    struct cm_svc_settings svc;
    char *tmpdir;
    long file_hours;
    long import_max_mb;
    long import_threads;
    long export_threads;
    long export_rate;
    long import_revert_days;
} cfg;

static const struct cm_cfg_item s_cfg[] = {
    CM_SVC_CFG_ITEMS(cfg.svc),
    /* Where workbooks are built before they are stored (then deleted). */
    {"exchange_tmpdir", CM_CFG_STR, &cfg.tmpdir, "/tmp"},
    /* How long a built export file stays downloadable (an export job's too). */
    {"exchange_file_hours", CM_CFG_INT, &cfg.file_hours, "24", .min = 1, .max = 24 * 30},
    /* The largest file an import takes, in MiB (the gateway's limit for file routes too). */
    {"import_max_mb", CM_CFG_INT, &cfg.import_max_mb, "512", .min = 1, .max = 4096},
    /* Imports one copy runs at once, each on a thread with its own connections. */
    {"import_threads", CM_CFG_INT, &cfg.import_threads, "2", .min = 1, .max = 16},
    /* Export jobs one copy builds at once, each on a thread with its own connections. */
    {"exchange_export_threads", CM_CFG_INT, &cfg.export_threads, "1", .min = 1, .max = 8},
    /* Customers a second an export job reads at most (0: as fast as it can). */
    {"exchange_export_rate", CM_CFG_INT, &cfg.export_rate, "0", .min = 0, .max = 1000000},
    /* Days after an import ended that it can be reverted (what its rows did is kept so long). */
    {"exchange_import_revert_days", CM_CFG_INT, &cfg.import_revert_days, "30", .min = 1,
     .max = 3650},
    {NULL},
};

int main(int argc, char **argv)
{
    cm_log_init("exchange");
    cm_cfg_main("exchange", s_cfg, argc, argv);
    /* Memory flat whatever the file: every handler, import and export thread
     * would get a malloc arena of its own, each keeping the most a chunk or
     * a page once needed there (docs/benchmarks.md, "Import and export"). Two
     * arenas are plenty: exchange spends a tenth of an export's time in
     * malloc. */
    mallopt(M_ARENA_MAX, S_ARENAS);
    struct exchange_state state = {
        .tmpdir = cfg.tmpdir,
        .file_hours = cfg.file_hours,
        .upload_max = (int64_t)cfg.import_max_mb * 1024 * 1024,
        .workers = cfg.import_threads,
        .export_threads = cfg.export_threads,
        .export_rate = cfg.export_rate,
        .revert_days = cfg.import_revert_days,
        .database_url = cfg.svc.database_url,
        .db_role = cfg.svc.db_role,
        .bus_endpoint = cfg.svc.bus_endpoint,
        .mu = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
    };
    struct cm_svc_def def = {
        .name = "exchange",
        .methods = exchange_methods,
        .n_methods = exchange_n_methods,
        .start = exchange_start_all,
        .stop = exchange_stop_all,
        .tick = exchange_tick,
        .tick_ms = 1000,
        .user = &state,
    };
    struct cm_svc_cfg svc_cfg = cm_svc_cfg_of(&cfg.svc);
    int rc = cm_svc_run(&def, &svc_cfg);
    cm_cfg_free(s_cfg);
    return rc;
}
