/* Every SQL statement of the history side of the notes service: intake
 * claims, booking and order state, timeline rows and pages, and the summary
 * (the followed streams' cursor is cm_follow's). Each runs in the caller's
 * transaction, and names the tenant (row-level security is a second wall). */
#ifndef NOTES_HISTORY_STORE_H
#define NOTES_HISTORY_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "history.pb-c.h"

#define NOTES_ID_SIZE 37

/* The intake row of (source, event id) as committed: *found false when
 * there is none; otherwise customer_id (NOTES_ID_SIZE) gets the customer it
 * was resolved to, and *same whether it had the same digest
 * (notes_intake_digest; true as well for a row kept from before digests were
 * stored: it cannot tell). */
cm_err_t notes_history_store_claimed(cm_db_t *db, const char *tenant, const Crm__IntakeEvent *ev,
                                     const char *digest, bool *found, bool *same,
                                     char *customer_id) CM_MUSTCHECK;

/* One timeline row. at_ms: when it happened; details: a JSON object of
 * crm.TimelineEntry fields ("{}" for none). */
struct notes_timeline_row {
    const char *customer_id;
    int64_t at_ms;
    const char *kind; // "BOOKING", ...
    const char *type;
    const char *source;
    const char *actor;
    const char *event_id;
    const char *details;
};

/* Takes an event in, in one statement (atomic without a transaction around
 * it): inserts the intake row of (source, event id) with the event's digest
 * and the customer row->customer_id it was resolved to ("" for none: then
 * nothing is written), and, when this inserted it, the timeline row *row and
 * the event's effect on the state of its booking or order (the rule of
 * notes_intake.h for events out of order). *claimed is true when this
 * inserted the intake row; otherwise customer_id and *same are set as
 * notes_history_store_claimed sets them. A concurrent delivery of the same
 * event, or another event of the same booking or order, waits here until the
 * first one's write ends. CM_ERR_NOT_FOUND when nothing was inserted (no
 * customer) and no intake row is there either; CM_ERR_INVALID for a booking
 * time that does not read (notes_intake_check refuses those first). */
cm_err_t notes_history_store_take_in(cm_db_t *db, const char *tenant, const Crm__IntakeEvent *ev,
                                     const char *digest, const struct notes_timeline_row *row,
                                     bool *claimed, bool *same, char *customer_id) CM_MUSTCHECK;

/* One event of notes_history_store_take_in_all: what to take in (borrowed),
 * and what notes_history_store_take_in would answer for it. */
struct notes_take_in_item {
    const Crm__IntakeEvent *ev;           // borrowed
    const char *digest;                   // borrowed
    const struct notes_timeline_row *row; // borrowed
    bool claimed, same;
    char customer_id[NOTES_ID_SIZE];
    cm_err_t err; // the event's own: CM_ERR_NOT_FOUND or CM_ERR_INVALID as take_in's
};

/* Takes n events in inside the open transaction, as notes_history_store_take_in
 * does each, with their statements sent at once and their results read after
 * (cm_db_exec_all: one round trip for the lot, and one more for the records
 * of the events taken in before, when there are any). Each item's outcome is in the item. Returns
 * CM_OK, or the error of a statement that failed: then the transaction is lost, nothing of it
 * stays, and the items' outcomes mean nothing. */
cm_err_t notes_history_store_take_in_all(cm_db_t *db, const char *tenant,
                                         struct notes_take_in_item *items, size_t n) CM_MUSTCHECK;

/* Inserts one timeline row. */
cm_err_t notes_history_store_timeline_add(cm_db_t *db, const char *tenant,
                                          const struct notes_timeline_row *row) CM_MUSTCHECK;

/* A page of a customer's timeline, newest first. kinds: a PostgreSQL text
 * array literal ("{BOOKING,ORDER}") or NULL for all; after_us/after_id: the
 * keyset position (after_id NULL for the first page). with_notes/with_tasks:
 * whether notes.notes and notes.tasks exist to be merged in. Appends up to
 * limit entries to resp and writes the next position into *next_us/next_id
 * (next_id "" when this is the last page). */
struct notes_timeline_query {
    const char *customer_id;
    const char *kinds;
    int64_t after_us;
    const char *after_id;
    int limit;
    bool with_notes;
    bool with_tasks;
};
cm_err_t notes_history_store_timeline_page(cm_db_t *db, const char *tenant,
                                           const struct notes_timeline_query *q,
                                           Crm__ListTimelineResponse *resp, int64_t *next_us,
                                           char *next_id) CM_MUSTCHECK;

/* Whether the customer has any timeline row (*any), whatever its kind: a
 * customer with none may not exist (the caller asks the customers service). */
cm_err_t notes_history_store_any(cm_db_t *db, const char *tenant, const char *customer_id,
                                 bool *any) CM_MUSTCHECK;

/* The summary of a customer, in one round trip; *out is the caller's to free. */
cm_err_t notes_history_store_summary(cm_db_t *db, const char *tenant, const char *customer_id,
                                     Crm__Summary **out) CM_MUSTCHECK;

/* Whether a table exists (to_regclass), for tables of the notes side. */
cm_err_t notes_history_store_table_exists(cm_db_t *db, const char *name, bool *exists) CM_MUSTCHECK;

/* Whether notes has applied the customer's customer.deleted: its timeline row
 * is the mark, kept as long as the timeline (in *erased). In the caller's
 * transaction of tenant. */
cm_err_t notes_history_store_customer_erased(cm_db_t *db, const char *tenant,
                                             const char *customer_id, bool *erased) CM_MUSTCHECK;

/* A customer was deleted: erases what staff wrote about them (their notes and
 * tasks) and the old and new values of their changes in the timeline (the
 * rows stay, saying what kind of change happened and when). Bookings and
 * orders stay: the books need them, and they hold no personal data beyond the
 * customer id. Runs in the caller's transaction, scoped to the tenant. */
cm_err_t notes_history_store_erase_customer(cm_db_t *db, const char *tenant,
                                            const char *customer_id) CM_MUSTCHECK;

/* customer.merged: moves every row notes keeps under merged_id to keep_id
 * (notes.merge_customer, 062_merge.sql) and records where merged_id leads.
 * *first is false when this event (event_id) was applied before (a replay):
 * nothing is written then, and the caller writes no timeline row either. In
 * the caller's transaction of tenant. */
cm_err_t notes_history_store_merge(cm_db_t *db, const char *tenant, const char *keep_id,
                                   const char *merged_id, const char *event_id,
                                   bool *first) CM_MUSTCHECK;

/* The customer a merged record's id leads to now, into into (NOTES_ID_SIZE):
 * customer_id itself when it was never merged. */
cm_err_t notes_history_store_merged_into(cm_db_t *db, const char *tenant, const char *customer_id,
                                         char *into) CM_MUSTCHECK;

/* Deletes idempotency keys older than hours. */
cm_err_t notes_history_store_idempotency_expire(cm_db_t *db, int hours) CM_MUSTCHECK;

#endif
