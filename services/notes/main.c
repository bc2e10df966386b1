/* The notes service: wiring only. */
#include "notes_files.h"
#include "notes_files_check.h"
#include "notes_handlers.h"
#include "notes_rules.h"
#include "notes_orders.h"
#include "notes_visits.h"
#include "notes_credits.h"
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
    long file_max_bytes;
    long files_per_customer;
    long rule_attempts;
    long rule_retry_ms;
    long rule_poll_ms;
    long rule_threads;
    long outbox_retain_hours;
    long credit_poll_ms;
} cfg;

static const struct cm_cfg_item s_cfg[] = {
    CM_SVC_CFG_ITEMS(cfg.svc),
    {"events_in_endpoint", CM_CFG_STR, &cfg.events_in_endpoint, "tcp://127.0.0.1:5556"},
    {"events_out_endpoint", CM_CFG_STR, &cfg.events_out_endpoint, "tcp://127.0.0.1:5557"},
    {"file_max_bytes", CM_CFG_INT, &cfg.file_max_bytes, "10485760", .min = 1,
     .max = NOTES_FILE_MAX_CAP},
    {"files_per_customer", CM_CFG_INT, &cfg.files_per_customer, "200", .min = 1,
     .max = NOTES_FILES_PER_CUSTOMER_CAP},
    {"rule_attempts", CM_CFG_INT, &cfg.rule_attempts, "5", .min = 1, .max = 50},
    {"rule_retry_ms", CM_CFG_INT, &cfg.rule_retry_ms, "5000", .min = 10, .max = 3600000},
    {"rule_poll_ms", CM_CFG_INT, &cfg.rule_poll_ms, "250", .min = 10, .max = 60000},
    {"rule_threads", CM_CFG_INT, &cfg.rule_threads, "2", .min = 1, .max = NOTES_RULES_THREADS_MAX},
    {"notes_outbox_retain_hours", CM_CFG_INT, &cfg.outbox_retain_hours, "720", .min = -1,
     .max = 24 * 365 * 10},
    {"credit_poll_ms", CM_CFG_INT, &cfg.credit_poll_ms, "1000", .min = 10, .max = 60000},
    {NULL},
};

static struct notes_rules_cfg s_rules;

/* The history side's hooks, and the rules' worker, the credit worker and the
 * "notes" stream's publisher beside them. */
static void s_start(cm_svc_t *svc, void *user)
{
    notes_history_start(svc, user);
    notes_orders_start(svc, cfg.events_in_endpoint, cfg.outbox_retain_hours);
    notes_rules_start(svc, &s_rules);
    notes_credits_start(svc, cfg.svc.database_url, cfg.svc.db_role, cfg.credit_poll_ms);
}

static void s_stop(cm_svc_t *svc, void *user)
{
    notes_credits_stop();
    notes_rules_stop();
    notes_orders_stop();
    notes_history_stop(svc, user);
}

/* The history side's tick, and the notes stream's relay and heartbeat. */
static void s_tick(cm_svc_t *svc, void *user)
{
    notes_history_tick(svc, user);
    notes_orders_tick(svc);
}

int main(int argc, char **argv)
{
    cm_log_init("notes");
    cm_cfg_main("notes", s_cfg, argc, argv);

    notes_files_configure(&(struct notes_files_limits){.max_bytes = cfg.file_max_bytes,
                                                       .per_customer = cfg.files_per_customer});

    /* One table for the bus: notes and tasks, the history side, files, the rules,
     * the Orders bot, the forms, visits and purchases. */
    const struct {
        const struct cm_method *methods;
        size_t n;
    } parts[] = {
        {notes_methods, notes_n_methods},
        {notes_history_methods, notes_history_n_methods},
        {notes_files_methods, notes_files_n_methods},
        {notes_rules_methods, notes_rules_n_methods},
        {notes_orders_methods, notes_orders_n_methods},
        {notes_forms_methods, notes_forms_n_methods},
        {notes_visits_methods, notes_visits_n_methods},
        {notes_purchases_methods, notes_purchases_n_methods},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        n += parts[i].n;
    struct cm_method *methods = cm_malloc(n * sizeof *methods);
    for (size_t i = 0, at = 0; i < sizeof parts / sizeof *parts; at += parts[i].n, i++)
        memcpy(methods + at, parts[i].methods, parts[i].n * sizeof *methods);

    struct notes_history_cfg history = {
        .bus_endpoint = cfg.svc.bus_endpoint,
        .events_in_endpoint = cfg.events_in_endpoint,
        .events_out_endpoint = cfg.events_out_endpoint,
        .database_url = cfg.svc.database_url,
        .db_role = cfg.svc.db_role,
    };
    s_rules = (struct notes_rules_cfg){.bus_endpoint = cfg.svc.bus_endpoint,
                                       .database_url = cfg.svc.database_url,
                                       .db_role = cfg.svc.db_role,
                                       .attempts = cfg.rule_attempts,
                                       .retry_ms = cfg.rule_retry_ms,
                                       .poll_ms = cfg.rule_poll_ms,
                                       .threads = cfg.rule_threads};
    struct cm_svc_def def = {
        .name = "notes",
        .methods = methods,
        .n_methods = n,
        .idempotency_table = "notes.idempotency",
        .start = s_start,
        .stop = s_stop,
        .after_commit = notes_orders_after_commit,
        .tick = s_tick,
        .tick_ms = 100,
        .user = &history,
    };
    struct cm_svc_cfg svc_cfg = cm_svc_cfg_of(&cfg.svc);
    int rc = cm_svc_run(&def, &svc_cfg);
    free(methods);
    cm_cfg_free(s_cfg);
    return rc;
}
