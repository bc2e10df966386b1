/* Majordomo over ZeroMQ: the asynchronous client and the worker. Frames are
 * documented in docs/bus.md; the broker is services/broker. The framing is
 * MDP 0.2 (ZeroMQ RFC 18) without the empty delimiter frame, with exactly one
 * header frame and one body frame, and with FINAL = 0x04 on both sides.
 *
 * Client (DEALER) -> broker:  "MDPC02", 0x01 REQUEST, service, header, body
 * Broker -> client:           "MDPC02", 0x04 FINAL,   service, header, body
 * Worker (DEALER) -> broker:  "MDPW02", 0x01 READY, service [, credit]
 *                             "MDPW02", 0x04 FINAL, client-address, header, body
 *                             "MDPW02", 0x05 HEARTBEAT
 *                             "MDPW02", 0x06 DISCONNECT
 * Broker -> worker:           "MDPW02", 0x02 REQUEST, client-address, header, body
 *                             "MDPW02", 0x05 HEARTBEAT / 0x06 DISCONNECT
 * header is a packed crm.RequestHeader on requests, crm.ReplyHeader on replies.
 * credit (decimal text, 1..CM_MDP_CREDIT_MAX, default 1): how many requests
 * the broker may have in flight at the worker at once; such a worker answers
 * them in the order it got them.
 */
#ifndef CM_MDP_H
#define CM_MDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "cm_err.h"

#define CM_MDP_CLIENT "MDPC02"
#define CM_MDP_WORKER "MDPW02"
enum {
    CM_MDP_CLIENT_REQUEST = 0x01, // client -> broker
    CM_MDP_READY = 0x01,
    CM_MDP_REQUEST = 0x02,
    CM_MDP_PARTIAL = 0x03,
    CM_MDP_FINAL = 0x04,
    CM_MDP_HEARTBEAT = 0x05,
    CM_MDP_DISCONNECT = 0x06
};

/* Heartbeat interval and liveness shared by broker and workers: a peer silent
 * for LIVENESS intervals is dead. */
#define CM_MDP_HEARTBEAT_MS 1000
#define CM_MDP_LIVENESS 3

/* Most requests a worker may take at once (READY's credit). */
#define CM_MDP_CREDIT_MAX 64

/* A client's queue to and from the broker, in messages each way. libzmq's
 * default (1,000) refuses a send at once when a gateway with more requests
 * in flight than that sends faster than CURVE boxes them; the gateway's
 * connection limit, not this, bounds what it keeps in flight. */
#define CM_MDP_CLIENT_HWM 100000

/* A received message: two owned byte strings. */
struct cm_mdp_msg {
    char *service;   // owned; client side only (the service that replied)
    uint8_t *header; // owned
    size_t header_len;
    uint8_t *body; // owned
    size_t body_len;
    uint8_t *address; // owned; worker side only (the client address to reply to)
    size_t address_len;
};

/* A ZeroMQ context for the bus. With io_batch, libzmq's I/O threads (started
 * with the first socket) run under SCHED_BATCH: a message handed to them no
 * longer preempts the thread that sent it, so under load each wake-up moves a
 * batch of messages (docs/operations.md, "Scheduling of the bus threads"). If
 * the system refuses that policy, the context is made without it and a warning
 * is logged. Returns NULL when libzmq cannot make a context. */
void *cm_mdp_ctx_new(bool io_batch);

/* Frees the parts of a message and zeroes it; safe on a zeroed message. */
void cm_mdp_msg_release(struct cm_mdp_msg *msg);

/* ---------------------------------------------------------------------- */
/* Frames, for the broker and the client and worker alike                   */

#define CM_MDP_MAX_PARTS 8

/* One received multipart message; parts beyond CM_MDP_MAX_PARTS are
 * discarded and counted in `dropped`. */
struct cm_mdp_parts {
    zmq_msg_t part[CM_MDP_MAX_PARTS];
    int n;
    int dropped;
};

/* Receives one whole message (flags for the first part, e.g. ZMQ_DONTWAIT).
 * Returns 0, or -1 with errno (EAGAIN, EINTR, ETERM); the parts are then closed. */
int cm_mdp_parts_recv(void *sock, struct cm_mdp_parts *p, int flags) CM_MUSTCHECK;
/* Closes every part. */
void cm_mdp_parts_close(struct cm_mdp_parts *p);
/* True when the frame holds exactly the string s. */
bool cm_mdp_part_is(zmq_msg_t *m, const char *s);
/* The command byte of a one-byte frame, or -1. */
int cm_mdp_part_command(zmq_msg_t *m);

/* ---------------------------------------------------------------------- */
/* Client: any number of requests in flight, replies in any order.          */

typedef struct cm_mdp_client cm_mdp_client_t;

/* Connects a DEALER to the broker. zctx is borrowed. Returns NULL if the
 * endpoint is invalid. Requests sent before the broker is reachable wait in
 * the socket and go out on connect. */
cm_mdp_client_t *cm_mdp_client_new(void *zctx, const char *endpoint);
void cm_mdp_client_destroy(cm_mdp_client_t **self_p);

/* Queues a request; never blocks. Returns 0 or -1 (errno from zmq: EAGAIN
 * when 1000 messages already wait for an unreachable broker). */
int cm_mdp_client_send(cm_mdp_client_t *self, const char *service, const void *header,
                       size_t header_len, const void *body, size_t body_len) CM_MUSTCHECK;

/* Waits up to timeout_ms (-1 forever, 0 poll) for one reply. Returns 1 with
 * *msg filled (release it), 0 on timeout, -1 on error or interrupt. */
int cm_mdp_client_recv(cm_mdp_client_t *self, int timeout_ms, struct cm_mdp_msg *msg) CM_MUSTCHECK;

/* The ZeroMQ socket, for zmq_poll alongside other sockets. Borrowed. */
void *cm_mdp_client_socket(cm_mdp_client_t *self);

/* What cm_mdp_client_link_events reports. */
enum cm_mdp_link {
    CM_MDP_LINK_SAME = 0,    // nothing changed (or not watching)
    CM_MDP_LINK_DOWN = 1,    // the connection to the broker is lost, not yet back
    CM_MDP_LINK_RELINKED = 2 // it was lost and is established again
};

/* Starts watching the connection to the broker (a ZeroMQ socket monitor).
 * Returns a socket that becomes readable (ZMQ_POLLIN) when the connection
 * changes, owned by the client; NULL (errno set) when it cannot be made. A
 * broker that dies takes the requests it held with it: a client told
 * CM_MDP_LINK_RELINKED sends again what it had in flight. */
void *cm_mdp_client_watch(cm_mdp_client_t *self);

/* Reads every pending change of the connection without blocking and says
 * where they leave it: DOWN while a loss is not followed by a new
 * connection, RELINKED once (the first call after one), SAME otherwise. */
enum cm_mdp_link cm_mdp_client_link_events(cm_mdp_client_t *self);

/* ---------------------------------------------------------------------- */
/* Worker: serves requests one at a time, in order; heartbeats and
 * reconnects inside.                                                         */

typedef struct cm_mdp_worker cm_mdp_worker_t;

/* Connects to the broker and announces the service (READY, queued until the
 * broker is reachable). zctx is borrowed. Returns NULL if the endpoint is
 * invalid. */
cm_mdp_worker_t *cm_mdp_worker_new(void *zctx, const char *endpoint, const char *service);

/* The same, announcing credit (clamped to 1..CM_MDP_CREDIT_MAX): the broker
 * may queue up to that many requests at this worker, which then reads the
 * next one without waiting for a round trip through the broker. The worker
 * may reply to them in any order (the broker matches a reply by request id
 * and client): a worker serving them at once gives a credit of as many as it
 * serves; a worker serving one at a time gains only on fast requests. */
cm_mdp_worker_t *cm_mdp_worker_new_credit(void *zctx, const char *endpoint, const char *service,
                                          unsigned credit);

/* Closes the socket without a word to the broker, which then treats the worker
 * as crashed (dropped within LIVENESS intervals, its request retried): call
 * cm_mdp_worker_disconnect first for a clean leave. */
void cm_mdp_worker_destroy(cm_mdp_worker_t **self_p);

/* Waits up to timeout_ms (-1 forever) for a request, sending heartbeats and
 * reconnecting (on a new socket, with a new READY) when the broker is silent
 * for LIVENESS intervals or sends DISCONNECT. Returns 1 with *msg filled
 * (header, body, address), 0 on timeout, -1 with errno on interrupt (EINTR) or
 * a dead context (ETERM). */
int cm_mdp_worker_recv(cm_mdp_worker_t *self, int timeout_ms, struct cm_mdp_msg *msg) CM_MUSTCHECK;

/* Sends the reply (FINAL) to request->address. Waits at most about a second
 * if the socket is full. Returns 0 or -1 with errno. */
int cm_mdp_worker_reply(cm_mdp_worker_t *self, const struct cm_mdp_msg *request, const void *header,
                        size_t header_len, const void *body, size_t body_len) CM_MUSTCHECK;

/* Makes cm_mdp_worker_recv return 0 (as on a timeout) as soon as fd is
 * readable, so that a loop waiting for requests also notices work finished on
 * other threads; fd is borrowed and never read here. -1 turns it off. */
void cm_mdp_worker_set_wake_fd(cm_mdp_worker_t *self, int fd);

/* Sends a heartbeat if one is due; call during long work so the broker keeps
 * the worker. */
void cm_mdp_worker_heartbeat(cm_mdp_worker_t *self);

/* Tells the broker the worker is leaving (DISCONNECT). A later
 * cm_mdp_worker_recv reconnects and announces the service again. */
void cm_mdp_worker_disconnect(cm_mdp_worker_t *self);

/* How many times the worker has dropped its socket and connected afresh. */
unsigned cm_mdp_worker_reconnects(const cm_mdp_worker_t *self);

#endif
