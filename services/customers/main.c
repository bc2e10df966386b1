/* The customers service: wiring only. */
#include "customers_handlers.h"
#include "cm_cfg.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_svc.h"

#include <stdio.h>
#include <stdlib.h>

static struct {
    struct cm_svc_settings svc;
    char *events_in_endpoint;
    long outbox_retain_days;
    char *outbox_readers;
    long session_idle_s, session_absolute_s, invite_s;
    long reset_s, reset_per_account, reset_per_address;
    long sign_in_window_s, sign_in_failures, sign_in_lock_s, sign_in_lock_max_s;
    long sign_in_account_failures, sign_in_account_wait_max_s, sign_in_address_failures;
    char *public_url;
} cfg;

static int s_readers_check(const char *value, char *why, size_t whysz)
{
    if (cm_events_readers_ok(value))
        return 0;
    snprintf(why, whysz, "comma-separated reader names: a-z, 0-9, '.', '_', '-'");
    return -1;
}

static const struct cm_cfg_item s_cfg[] = {
    CM_SVC_CFG_ITEMS(cfg.svc),
    {"events_in_endpoint", CM_CFG_STR, &cfg.events_in_endpoint, "tcp://127.0.0.1:5556"},
    {"outbox_retain_days", CM_CFG_INT, &cfg.outbox_retain_days, "30", .min = 0, .max = 36500},
    {"outbox_readers", CM_CFG_STR, &cfg.outbox_readers, "notes, notify", .check = s_readers_check},
    /* Staff sessions and sign-in (docs/api.md, "Staff and sessions"). */
    {"customers_session_idle_s", CM_CFG_INT, &cfg.session_idle_s, "28800", .min = 60,
     .max = 2592000},
    {"customers_session_absolute_s", CM_CFG_INT, &cfg.session_absolute_s, "604800", .min = 60,
     .max = 31536000},
    {"customers_staff_invite_s", CM_CFG_INT, &cfg.invite_s, "259200", .min = 1, .max = 2592000},
    {"customers_password_reset_s", CM_CFG_INT, &cfg.reset_s, "3600", .min = 60, .max = 86400},
    {"customers_password_reset_per_account", CM_CFG_INT, &cfg.reset_per_account, "3", .min = 1,
     .max = 100},
    {"customers_password_reset_per_address", CM_CFG_INT, &cfg.reset_per_address, "30", .min = 1,
     .max = 100000},
    {"customers_sign_in_window_s", CM_CFG_INT, &cfg.sign_in_window_s, "900", .min = 1,
     .max = 86400},
    {"customers_sign_in_failures", CM_CFG_INT, &cfg.sign_in_failures, "5", .min = 1, .max = 1000},
    {"customers_sign_in_lock_s", CM_CFG_INT, &cfg.sign_in_lock_s, "60", .min = 1, .max = 86400},
    {"customers_sign_in_lock_max_s", CM_CFG_INT, &cfg.sign_in_lock_max_s, "900", .min = 1,
     .max = 86400},
    {"customers_sign_in_account_failures", CM_CFG_INT, &cfg.sign_in_account_failures, "5", .min = 1,
     .max = 1000},
    {"customers_sign_in_account_wait_max_s", CM_CFG_INT, &cfg.sign_in_account_wait_max_s, "4",
     .min = 1, .max = 60},
    {"customers_sign_in_address_failures", CM_CFG_INT, &cfg.sign_in_address_failures, "50",
     .min = 1, .max = 100000},
    {"public_url", CM_CFG_STR, &cfg.public_url, "http://127.0.0.1:8080",
     .check = cm_cfg_check_public_url},
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
        .staff =
            {
                .idle_s = cfg.session_idle_s,
                .absolute_s = cfg.session_absolute_s,
                .invite_s = cfg.invite_s,
                .reset_s = cfg.reset_s,
                .reset_per_account = cfg.reset_per_account,
                .reset_per_address = cfg.reset_per_address,
                .public_url = cfg.public_url,
                .limit =
                    {
                        .window_s = cfg.sign_in_window_s,
                        .pair_failures = cfg.sign_in_failures,
                        .pair_base_s = cfg.sign_in_lock_s,
                        .pair_cap_s = cfg.sign_in_lock_max_s,
                        .account_failures = cfg.sign_in_account_failures,
                        .account_cap_s = cfg.sign_in_account_wait_max_s,
                        .address_failures = cfg.sign_in_address_failures,
                    },
            },
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
    struct cm_svc_cfg svc_cfg = cm_svc_cfg_of(&cfg.svc);
    int rc = cm_svc_run(&def, &svc_cfg);
    cm_cfg_free(s_cfg);
    return rc;
}
