/* The Majordomo broker and the event proxy, as a library: main.c wires it to
 * the configuration and signals, unit tests run it in a thread on inproc or
 * ipc endpoints. One thread drives everything through one zmq_poll loop.
 * The protocol is described in docs/bus.md. */
#ifndef BROKER_H
#define BROKER_H

#include <signal.h>
#include "cm_curve.h"
#include "cm_err.h"

/* Requests arriving with deadline_unix_ms = 0 get this long. */
#define BROKER_DEFAULT_DEADLINE_MS 30000
/* Requests waiting for one service beyond this are refused (RESOURCE_EXHAUSTED). */
#define BROKER_QUEUE_MAX 100000
/* High-water marks of the bus ROUTER and the event proxy sockets. */
#define BROKER_HWM 100000
/* Largest frame the broker accepts; a peer sending more is disconnected. */
#define BROKER_MAX_FRAME (64L * 1024 * 1024)

struct broker_cfg {
    const char *bus_endpoint;        // borrowed: ROUTER, bound; clients and workers connect
    const char *events_in_endpoint;  // borrowed: XSUB, bound; publishers connect (NULL: no proxy)
    const char *events_out_endpoint; // borrowed: XPUB, bound; subscribers connect
    /* CURVE on every socket with this key pair, admitting only the keys of
     * the registry file (reloaded when it changes); NULL: no CURVE, no
     * checks (docs/bus.md, "Who may speak"). */
    const struct cm_curve_pair *curve; // borrowed
    const char *registry_path;         // borrowed; with curve
};

typedef struct broker broker_t;

/* Creates the sockets on zctx (borrowed; it must outlive the broker) and binds
 * them. Returns NULL, after logging which endpoint failed, if a bind fails. */
broker_t *broker_new(void *zctx, const struct broker_cfg *cfg);

/* Runs until *stop becomes non-zero (checked at least every 100 ms and after
 * every signal). Before returning it answers waiting requests UNAVAILABLE and
 * sends DISCONNECT to every worker, so they reconnect to the next broker at
 * once. Returns 0 when stopped, -1 if ZeroMQ fails (e.g. the context was
 * terminated). */
int broker_run(broker_t *self, volatile sig_atomic_t *stop) CM_MUSTCHECK;

/* Closes the sockets and frees everything; accepts NULL, sets *self_p NULL. */
void broker_destroy(broker_t **self_p);

#endif
