/* A service's event stream, owner side: the transactional outbox (events
 * written into <schema>.outbox in the same transaction as the change they
 * report), the relay that numbers and publishes them, the heartbeat, and the
 * replay that subscribers ask for (cm_events.h is the subscriber side).
 *
 * The outbox table has the columns of customers.outbox (sql/001_init.sql):
 * id bigserial, event bytea (a packed crm.Event with seq 0), seq bigint
 * UNIQUE, created_at, published_at, customer_id uuid, and a relay function
 * <table>_relay(lim) of customers.outbox_relay's. Its durable readers'
 * positions, when it keeps them, are in a table of customers.stream_readers'
 * columns (sql/007_outbox_retention.sql): name text PRIMARY KEY, seq bigint,
 * seen_at timestamptz. */
#ifndef CM_OUTBOX_H
#define CM_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "envelope.pb-c.h"

struct cm_events_pub;

/* One stream and its table, both constants of the owning service. */
struct cm_outbox {
    const char *stream;  // "customers"
    const char *table;   // "customers.outbox"
    const char *readers; // "customers.stream_readers", or NULL: readers are not kept
    /* Optional: removes from ev's payload what principal may not see
     * (private content, cm_perm_private), for a replay; NULL when the
     * stream's events carry none. */
    void (*hide_private)(const Crm__Principal *principal, Crm__Event *ev);
};

/* Writes ev into the outbox, in the caller's transaction. The caller fills
 * type, tenant_id, payload and what it knows of principal, channel and
 * request_id; stream, event_id and occurred_at are filled here when empty
 * (ev is changed only for the call). customer_id (NULL: none) marks the row
 * for erasure. Returns CM_OK or the database's error. */
cm_err_t cm_outbox_add(cm_db_t *db, const struct cm_outbox *ob, Crm__Event *ev,
                       const char *customer_id) CM_MUSTCHECK;

/* Erasure of a customer (docs/operations.md, "Erasure"): the new payload of
 * one of the customer's stored events, packed, with *len; NULL leaves the
 * event as it is (it carries nothing personal). Dynamic: cm_outbox_erase
 * frees it. */
typedef uint8_t *(*cm_outbox_scrub_fn)(const Crm__Event *ev, size_t *len);

/* Rewrites the payload of every stored event of tenant's customer_id (the
 * rows cm_outbox_add marked with it, published or not) through scrub, in the
 * caller's transaction: type, ids, seq and times stay, so readers replaying
 * find the same sequence without the personal data. Rows of another tenant
 * and rows that do not decode are left. *erased (may be NULL) the number
 * rewritten. Returns CM_OK or the database's error. */
cm_err_t cm_outbox_erase(cm_db_t *db, const struct cm_outbox *ob, const char *tenant,
                         const char *customer_id, cm_outbox_scrub_fn scrub,
                         long *erased) CM_MUSTCHECK;

/* Numbers the unpublished rows (one relay at a time across copies, by an
 * advisory lock) and publishes them after the commit, through the table's
 * <table>_relay(limit) function (customers/sql/010_outbox_relay.sql), outside
 * any transaction of db's. Returns how many were published, or -1 on a
 * database error (logged). */
int cm_outbox_relay(cm_db_t *db, const struct cm_outbox *ob, struct cm_events_pub *pub);

/* Publishes a heartbeat carrying the newest seq, so subscribers notice a lost
 * tail. */
void cm_outbox_heartbeat(cm_db_t *db, const struct cm_outbox *ob, struct cm_events_pub *pub);

/* Fills resp with up to limit published events after after_seq and the newest
 * seq. CM_ERR_PRECONDITION, with the reason in why (size whysz), when events
 * right after after_seq are no longer kept (retention). */
cm_err_t cm_outbox_replay(cm_db_t *db, const struct cm_outbox *ob, uint64_t after_seq, int limit,
                          Crm__ReplayEventsResponse *resp, char *why, size_t whysz) CM_MUSTCHECK;

/* The owner's <stream>.ReplayEvents handler: a durable reader's name is
 * checked (reader, INVALID_FORMAT) and, when ob keeps readers, its position
 * (after_seq) recorded; afterSeq above 2^63-1 is OUT_OF_RANGE, a limit
 * outside 1..CM_EVENTS_REPLAY_LIMIT is the most; pruned events fail the call
 * with FAILED_PRECONDITION and why. An outside caller sees only its tenant's
 * events, and a caller without private:read none of their private content
 * (ob->hide_private). Sets *resp or fails the call. */
struct cm_call;
void cm_outbox_serve_replay(struct cm_call *call, const struct cm_outbox *ob,
                            const Crm__ReplayEventsRequest *req, ProtobufCMessage **resp);

/* Retention: deletes at most batch of the oldest events published more
 * than keep_s seconds ago that every durable reader of ob->readers has
 * passed, in one transaction (no tenant) on db. The newest event always
 * stays (the relay numbers on from it). While a reader named in expected
 * (comma-separated, may be "") has not registered, nothing is deleted.
 * *deleted the number deleted; *gone_through the seq the outbox now starts
 * after (0: none deleted ever); held (size heldsz) what holds the rest back,
 * "" when only the retention does: "busy" (another copy is pruning),
 * "unregistered: NAME, ..." or "reader: NAME" (the slowest). Returns CM_OK or
 * the database's error (rolled back). */
cm_err_t cm_outbox_prune(cm_db_t *db, const struct cm_outbox *ob, long keep_s, const char *expected,
                         int batch, long *deleted, uint64_t *gone_through, char *held,
                         size_t heldsz) CM_MUSTCHECK;

/* Forgets a durable reader (its events may be deleted then): *seq its last
 * position. CM_ERR_NOT_FOUND when there is none of that name. */
cm_err_t cm_outbox_forget(cm_db_t *db, const struct cm_outbox *ob, const char *name,
                          uint64_t *seq) CM_MUSTCHECK;

#endif
