/* The event stream, client side (the Clone pattern of the ZeroMQ guide).
 *
 * A publisher sends each crm.Event as two frames, the stream name (the topic)
 * and the packed event, to the broker's XSUB endpoint; the broker fans them
 * out from its XPUB endpoint. The pub/sub path may drop events, so a
 * subscriber never trusts it alone: it subscribes first, then asks the
 * stream's owner over the bus ("<stream>.ReplayEvents" to service <stream>)
 * for everything after the last sequence number it applied, and asks again
 * whenever a live event or a "stream.heartbeat" shows it is behind. It hands
 * events to its callback strictly in seq order, each once. See docs/bus.md. */
#ifndef CM_EVENTS_H
#define CM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_err.h"
#include "envelope.pb-c.h"

/* The event type that carries only `seq` = the newest published on a stream. */
#define CM_EVENTS_HEARTBEAT "stream.heartbeat"
/* The type of an event another tenant's event is replaced by when an outside
 * system replays a stream: it carries only stream and seq, so that seq stays
 * contiguous (docs/bus.md, "Who may speak"). */
#define CM_EVENTS_ELIDED "stream.elided"
/* Most events a subscriber asks for in one ReplayEvents request. */
#define CM_EVENTS_REPLAY_LIMIT 1000

/* ---------------------------------------------------------------------- */
/* Publisher                                                                */

typedef struct cm_events_pub cm_events_pub_t;

/* Connects a PUB socket to the broker's events_in endpoint. zctx is borrowed.
 * Returns NULL if the endpoint is invalid. */
cm_events_pub_t *cm_events_pub_new(void *zctx, const char *events_in_endpoint);
void cm_events_pub_destroy(cm_events_pub_t **self_p);

/* Publishes ev (topic = ev->stream). Never blocks; the transport may drop the
 * event (no subscriber yet, a full queue), which subscribers repair by replay.
 * Returns 0, or -1 with errno if ZeroMQ refused it. */
int cm_events_pub_send(cm_events_pub_t *self, const Crm__Event *ev) CM_MUSTCHECK;

/* Publishes a "stream.heartbeat" event carrying seq = the newest published
 * seq of the stream, so subscribers notice events they missed at the tail.
 * Returns 0 or -1. */
int cm_events_pub_heartbeat(cm_events_pub_t *self, const char *stream, uint64_t seq) CM_MUSTCHECK;

/* ---------------------------------------------------------------------- */
/* Subscriber                                                               */

/* Applies one event. Returns 0 when applied; non-zero leaves it unapplied:
 * the subscriber stops delivering and fetches it again by replay after a
 * short back-off. ev is borrowed for the call. */
typedef int (*cm_events_fn)(void *ud, const Crm__Event *ev);

typedef struct cm_events_sub cm_events_sub_t;

/* Subscribes to `stream` on the broker's events_out endpoint and starts
 * catching up from after_seq (events after_seq+1, ... are delivered) by
 * ReplayEvents requests over bus_endpoint. zctx and ud are borrowed. Returns
 * NULL if an endpoint is invalid. */
cm_events_sub_t *cm_events_sub_new(void *zctx, const char *events_out_endpoint,
                                   const char *bus_endpoint, const char *stream, uint64_t after_seq,
                                   cm_events_fn fn, void *ud);
void cm_events_sub_destroy(cm_events_sub_t **self_p);

/* Receives live events and replay replies, sends replay requests when due,
 * and calls fn for each event in order. Waits up to timeout_ms (0: only what
 * is ready; -1: until something is delivered) and returns once at least one
 * event was delivered and nothing more is ready. Returns the number of events
 * delivered (0 on timeout), or -1 with errno on interrupt (EINTR) or a dead
 * context. */
int cm_events_sub_poll(cm_events_sub_t *self, int timeout_ms) CM_MUSTCHECK;

/* A durable reader's name: 1 to CM_EVENTS_READER_MAX of a-z, 0-9, '.', '_',
 * '-', starting with a letter or digit (the first len bytes of name). */
#define CM_EVENTS_READER_MAX 64
bool cm_events_reader_ok(const char *name, size_t len);
/* Every name of a list separated by commas and spaces passes cm_events_reader_ok. */
bool cm_events_readers_ok(const char *list);

/* Makes the subscriber a durable reader named `name` (see ReplayEventsRequest
 * in proto/envelope.proto): every replay request carries the name and `last`,
 * and once caught up it sends one every every_ms, so the owner keeps the
 * events the reader has not applied yet. Only for a reader that has applied
 * `last` for good (committed). */
void cm_events_sub_set_reader(cm_events_sub_t *self, const char *name, int every_ms);

/* The owner's message when the events right after `last` are no longer kept
 * (outbox retention), NULL otherwise. The subscriber then cannot go on: it
 * keeps asking seldom, and its user should start over from a snapshot. */
const char *cm_events_sub_gone(const cm_events_sub_t *self);

/* The seq of the last event fn applied (after_seq until then). */
uint64_t cm_events_sub_last_seq(const cm_events_sub_t *self);

/* True while the subscriber knows of events it has not delivered yet. */
int cm_events_sub_behind(const cm_events_sub_t *self);

/* For an outer zmq_poll: the SUB socket (live events) and the bus socket
 * (replay replies), both borrowed; poll both for ZMQ_POLLIN, and call
 * cm_events_sub_poll(self, 0) when either is readable or when
 * cm_events_sub_timeout() milliseconds have passed. */
void *cm_events_sub_socket(cm_events_sub_t *self);
void *cm_events_sub_reply_socket(cm_events_sub_t *self);

/* Milliseconds until the subscriber has timed work to do (a replay retry, a
 * reader's position report), or -1 if it only waits for its sockets. */
int cm_events_sub_timeout(const cm_events_sub_t *self);

#endif
