/* Following event streams durably: one copy of a service (the leader, by a
 * session advisory lock) subscribes to each stream from the cursor its own
 * schema keeps, and applies every event once, in seq order, in the
 * transaction that also moves the cursor from seq-1 to seq. The events that
 * are ready when a tick looks (up to 256) share one transaction, each under
 * its own tenant, so a busy stream costs a commit per batch, not per event;
 * a failure rolls the whole batch back and follows again from the cursors.
 * Whichever copy applies an event, and however often it is delivered, it has
 * its effect once; a restart or a new leader goes on from the cursor.
 *
 * A copy that does not lead may also watch the streams (def.watch): it sees
 * each event live, from the cursor as it found it, outside any transaction,
 * for what it keeps in memory (a cache the leader refreshes in its apply).
 *
 * The cursor table is the service's own: (stream text PRIMARY KEY, last_seq
 * bigint NOT NULL), with a row per followed stream made by its migration. */
#ifndef CM_FOLLOW_H
#define CM_FOLLOW_H

#include <stddef.h>
#include "cm_db.h"
#include "cm_err.h"
#include "cm_events.h"
#include "cm_svc.h"
#include "envelope.pb-c.h"

/* Applies ev inside the transaction cm_follow opened (app.tenant is
 * ev->tenant_id, or none), after the cursor moved. It must not commit or
 * roll back. CM_OK keeps both for the batch's commit; anything else rolls the
 * batch back, and its events are delivered again later. */
typedef cm_err_t (*cm_follow_fn)(void *ud, cm_db_t *db, const Crm__Event *ev);

struct cm_follow_def {
    const char *cursor_table;   // "notes.stream_cursor": schema.table, [a-z_.] only
    const char *reader;         // the durable reader's name at each stream's owner
    const char *const *streams; // borrowed: the streams followed, in the order applied
    size_t n_streams;           // 1..CM_FOLLOW_STREAMS_MAX
    const char *events_out;     // the broker's events_out endpoint
    const char *bus;            // the broker's request endpoint (replays)
    cm_follow_fn apply;
    /* Optional: each event, in seq order, on every copy while it does not
     * lead (the leader sees it in apply). Best effort: not durable, no
     * transaction; a watcher that falls past the owner's retention starts
     * again from the cursor. Returning non-zero has it delivered again. */
    cm_events_fn watch;
    void *ud; // borrowed: passed to apply and watch
};
#define CM_FOLLOW_STREAMS_MAX 4

typedef struct cm_follow cm_follow_t;

/* A follower of def's streams (def and its strings are borrowed for the
 * follower's life). Subscribes nothing yet: cm_follow_tick does, once it leads. */
cm_follow_t *cm_follow_new(const struct cm_follow_def *def);
/* Unsubscribes (the lock goes with the connection, or stays for the next
 * follower on it). NULL-safe; sets *self_p NULL. */
void cm_follow_destroy(cm_follow_t **self_p);

/* On the service's tick thread, with its connection (cm_svc_db): tries to
 * lead (every 2 s while another copy does), then applies the events that are
 * ready for up to budget_ms. A failed apply or a lost connection ends this
 * copy's lead; it leads again from the cursors as the database has them. */
void cm_follow_tick(cm_follow_t *self, cm_svc_t *svc, int budget_ms);

/* True while this copy leads (follows the streams). */
bool cm_follow_leading(const cm_follow_t *self);

#endif
