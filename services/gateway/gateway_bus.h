/* The bus thread: the one owner of the gateway's Majordomo client, and the
 * gateway's event loop. It also serves an attached host (the HTTP server in
 * external mode) in the same poll, so a request is read, sent to the broker,
 * answered and written out by one thread without waking another: handlers
 * running on the thread submit jobs directly; other threads queue them
 * (mutex + eventfd). The thread sends jobs, authenticates API keys it has no
 * cached answer for, matches replies to jobs by request id, enforces each
 * job's deadline itself, and calls the job's done() once the job holds its
 * outcome. */
#ifndef GATEWAY_BUS_H
#define GATEWAY_BUS_H

#include <stdbool.h>
#include <zmq.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_err.h"
#include "cm_mdp.h"
#include "gateway_auth.h"
#include "gateway_metrics.h"
#include "gateway_status.h"

#define GATEWAY_AUTH_SERVICE "customers"
#define GATEWAY_AUTH_METHOD "customers.Authenticate"
#define GATEWAY_SESSION_METHOD "customers.CheckSession"
#define GATEWAY_READY_TIMEOUT_MS 2000
#define GATEWAY_BUS_DRAIN_MS 1000

enum gateway_job_kind {
    GATEWAY_JOB_CALL = 0, // one request to service/method
    GATEWAY_JOB_READY,    // "<service>.Health" to each of services
};

enum gateway_job_outcome {
    GATEWAY_JOB_REPLIED = 1, // reply holds the service's header and body
    GATEWAY_JOB_FAILED,      // the gateway's own answer: fail_status, fail_message
    GATEWAY_JOB_PENDING,     // authenticated: send the prepared pending response
};

/* One unit of work. The submitter owns it and must keep it alive until done()
 * has been called; the bus thread touches it only between submit and done. */
struct gateway_job {
    enum gateway_job_kind kind;
    char request_id[80]; // the envelope's; replaced by a fresh one if already in flight
    char service[64];
    char method[128]; // "customers.GetCustomer"
    uint8_t *body;    // owned: the packed request message
    size_t body_len;
    char idempotency_key[129];
    char channel[16];
    int64_t deadline_mono;    // the gateway gives up at this monotonic ms
    int64_t deadline_unix_ms; // sent in the envelope

    /* Authentication: with api_key set, the thread asks customers.Authenticate
     * first (and fills ident); else ident is already known. */
    char *api_key; // owned; wiped when freed
    bool session;  // api_key is a session cookie's token: customers.CheckSession checks it
    struct gateway_identity ident;
    bool has_pending; // authenticated -> PENDING instead of calling
    unsigned scopes;  // what the route needs (cm_perm bits), checked once the key is known

    /* Readiness. */
    char **services; // borrowed (the HTTP layer's list)
    size_t n_services;
    bool *ready; // owned: n_services answers

    /* Outcome, valid when done() runs. */
    enum gateway_job_outcome outcome;
    struct cm_mdp_msg reply; // REPLIED: owned parts
    int fail_status;         // FAILED: crm.Status
    char fail_message[160];

    /* Called on the bus thread once the outcome is set; the job is the
     * submitter's again from the moment it is called. */
    void (*done)(struct gateway_job *job);
    void *done_arg; // borrowed, for done()

    /* The bus thread's. */
    struct gateway_job *next; // borrowed (queue link)
    size_t outstanding;       // READY: answers still due
    bool authed;              // the Authenticate step is behind it
};

/* Frees what a job owns (body, api_key, ready, reply) and zeroes those. */
void gateway_job_release(struct gateway_job *job);

typedef struct gateway_bus gateway_bus_t;

/* Connects to the broker at endpoint and starts the thread. io_batch: see
 * cm_mdp_ctx_new. auth and metrics are borrowed and must outlive the bus. NULL
 * if the endpoint is invalid. */
gateway_bus_t *gateway_bus_new(const char *endpoint, bool io_batch, gateway_auth_t *auth,
                               gateway_metrics_t *metrics);

/* Most descriptors a host may have polled at once (its connections, its
 * listening socket and its wake-up descriptor). */
#define GATEWAY_BUS_HOST_FDS 1024

/* Something else the thread serves in its loop (the HTTP server). All
 * callbacks run on the bus thread. */
struct gateway_bus_host {
    /* Fills items (at most cap) with what the host waits for; returns how many. */
    size_t (*watch)(void *arg, zmq_pollitem_t *items, size_t cap);
    long (*timeout)(void *arg); // ms until run() is due regardless of items; -1: none
    /* Serves what is ready, without blocking: items are watch()'s, with the
     * poll's revents (all zero when the loop ran for another reason). */
    void (*run)(void *arg, const zmq_pollitem_t *items, size_t n);
    bool (*busy)(void *arg); // requests still open: a stop serves them a while
    void *arg;               // borrowed, for the callbacks
};

/* Serves host (copied) from the thread's loop from now on; NULL detaches.
 * Returns once the thread has taken it. */
void gateway_bus_attach(gateway_bus_t *self, const struct gateway_bus_host *host);

/* Runs fn(arg) on the bus thread and waits for it (or runs it here when the
 * thread has stopped, or when called on the thread). */
void gateway_bus_call(gateway_bus_t *self, void (*fn)(void *arg), void *arg);

/* Hands a job to the thread (on the thread itself: starts it at once, and
 * done() may run before this returns). Returns 0, or -1 once the bus is
 * stopping (the job is untouched and done() is not called). */
int gateway_bus_submit(gateway_bus_t *self, struct gateway_job *job) CM_MUSTCHECK;

/* Stops taking jobs, fails every queued and in-flight job with UNAVAILABLE
 * (calling their done()), serves the host up to GATEWAY_BUS_DRAIN_MS more
 * while it is busy (so those answers go out), and joins the thread. Safe
 * twice. */
void gateway_bus_stop(gateway_bus_t *self);

/* Stops (if needed) and frees. */
void gateway_bus_destroy(gateway_bus_t **self_p);

/* Jobs in flight or queued, for tests. */
size_t gateway_bus_pending(gateway_bus_t *self);

#endif
