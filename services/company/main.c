/* The company service: wiring only. EU VAT numbers checked against VIES
 * (docs/company.md). */
#include "company_handlers.h"
#include "cm_cfg.h"
#include "cm_http.h"
#include "cm_log.h"
#include "cm_svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
    struct cm_svc_settings svc;
    char *vies_url;
    long vies_connect_timeout_ms;
    long vies_timeout_ms;
    long vies_max_in_flight;
    long cache_hours;
    long retry_min_s;
    long retry_max_s;
    long give_up_hours;
} cfg;

static int s_url_check(const char *value, char *why, size_t whysz)
{
    if (!strncmp(value, "https://", 8) || !strncmp(value, "http://", 7))
        return 0;
    snprintf(why, whysz, "an http:// or https:// URL (VIES's REST base)");
    return -1;
}

static const struct cm_cfg_item s_cfg[] = {
    CM_SVC_CFG_ITEMS(cfg.svc),
    /* VIES's REST interface: the EU's own unless pointed elsewhere (tests: a local fake). */
    {"vies_url", CM_CFG_STR, &cfg.vies_url, "https://ec.europa.eu/taxation_customs/vies/rest-api",
     .check = s_url_check},
    {"vies_connect_timeout_ms", CM_CFG_INT, &cfg.vies_connect_timeout_ms, "3000", .min = 100,
     .max = 60000},
    {"vies_timeout_ms", CM_CFG_INT, &cfg.vies_timeout_ms, "8000", .min = 100, .max = 60000},
    {"vies_max_in_flight", CM_CFG_INT, &cfg.vies_max_in_flight, "8", .min = 1, .max = 64},
    {"company_cache_hours", CM_CFG_INT, &cfg.cache_hours, "24", .min = 0, .max = 24 * 365},
    /* A check VIES could not answer (PENDING) is asked again after retry_min_s, doubling up to
     * retry_max_s, until it has waited give_up_hours (then UNAVAILABLE). */
    {"company_retry_min_s", CM_CFG_INT, &cfg.retry_min_s, "30", .min = 1, .max = 86400},
    {"company_retry_max_s", CM_CFG_INT, &cfg.retry_max_s, "3600", .min = 1, .max = 86400},
    {"company_give_up_hours", CM_CFG_INT, &cfg.give_up_hours, "168", .min = 1, .max = 24 * 365},
    {NULL},
};

int main(int argc, char **argv)
{
    cm_log_init("company");
    cm_cfg_main("company", s_cfg, argc, argv);
    cm_http_init();

    if (cfg.retry_max_s < cfg.retry_min_s) {
        fprintf(stderr,
                "company: CRM_COMPANY_RETRY_MAX_S (%ld) is below CRM_COMPANY_RETRY_MIN_S "
                "(%ld)\n",
                cfg.retry_max_s, cfg.retry_min_s);
        cm_cfg_free(s_cfg);
        return 2;
    }
    struct company_state state = {
        .vies_url = cfg.vies_url,
        .bus = cfg.svc.bus_endpoint,
        .connect_timeout_ms = cfg.vies_connect_timeout_ms,
        .timeout_ms = cfg.vies_timeout_ms,
        .cache_hours = cfg.cache_hours,
        .max_in_flight = cfg.vies_max_in_flight,
        .retry_min_s = cfg.retry_min_s,
        .retry_max_s = cfg.retry_max_s,
        .give_up_s = cfg.give_up_hours * 3600,
        /* A retry asks customers for the settings, VIES, then customers again. */
        .lease_s = (cfg.vies_connect_timeout_ms + cfg.vies_timeout_ms) / 1000 + 20,
    };
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(state.instance, sizeof state.instance, "%s:%ld", host, (long)getpid());
    struct cm_svc_def def = {
        .name = "company",
        .methods = company_methods,
        .n_methods = company_n_methods,
        .start = company_start,
        .stop = company_stop,
        .tick = company_tick,
        .tick_ms = 1000,
        .user = &state,
    };
    struct cm_svc_cfg svc_cfg = cm_svc_cfg_of(&cfg.svc);
    int rc = cm_svc_run(&def, &svc_cfg);
    cm_cfg_free(s_cfg);
    return rc;
}
