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

static struct {
    struct cm_svc_settings svc;
    char *vies_url;
    long vies_connect_timeout_ms;
    long vies_timeout_ms;
    long vies_max_in_flight;
    long cache_hours;
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
    {NULL},
};

int main(int argc, char **argv)
{
    cm_log_init("company");
    cm_cfg_main("company", s_cfg, argc, argv);
    cm_http_init();

    struct company_state state = {
        .vies_url = cfg.vies_url,
        .connect_timeout_ms = cfg.vies_connect_timeout_ms,
        .timeout_ms = cfg.vies_timeout_ms,
        .cache_hours = cfg.cache_hours,
        .max_in_flight = cfg.vies_max_in_flight,
    };
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
