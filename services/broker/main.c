/* The broker process: configuration, logging, signals, then broker_run. */
#include "broker.h"
#include "cm_cfg.h"
#include "cm_log.h"
#include "cm_mdp.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

int main(int argc, char **argv)
{
    struct {
        char *bus_endpoint;
        char *events_in_endpoint;
        char *events_out_endpoint;
        bool bus_io_batch;
    } cfg = {0};
    const struct cm_cfg_item items[] = {
        {"bus_endpoint", CM_CFG_STR, &cfg.bus_endpoint, "tcp://127.0.0.1:5555"},
        {"events_in_endpoint", CM_CFG_STR, &cfg.events_in_endpoint, "tcp://127.0.0.1:5556"},
        {"events_out_endpoint", CM_CFG_STR, &cfg.events_out_endpoint, "tcp://127.0.0.1:5557"},
        {"bus_io_batch", CM_CFG_BOOL, &cfg.bus_io_batch, "true"},
        {NULL},
    };
    cm_log_init("broker");
    cm_cfg_main("broker", items, argc, argv);

    /* No SA_RESTART: the signal interrupts zmq_poll so the loop sees the flag. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    void *zctx = cm_mdp_ctx_new(cfg.bus_io_batch);
    struct broker_cfg bcfg = {
        .bus_endpoint = cfg.bus_endpoint,
        .events_in_endpoint = cfg.events_in_endpoint,
        .events_out_endpoint = cfg.events_out_endpoint,
        .curve = cm_curve_identity(),
        .registry_path = cm_curve_registry_path(),
    };
    broker_t *broker = broker_new(zctx, &bcfg);
    if (!broker)
        goto out;
    cm_log_info("broker listening bus=%s events_in=%s events_out=%s curve=%s", cfg.bus_endpoint,
                cfg.events_in_endpoint, cfg.events_out_endpoint, bcfg.curve ? "on" : "off");
    rc = broker_run(broker, &s_stop) == 0 ? 0 : 1;
    cm_log_info("broker stopping");
out:
    broker_destroy(&broker);
    zmq_ctx_term(zctx);
    cm_cfg_free(items);
    return rc;
}
