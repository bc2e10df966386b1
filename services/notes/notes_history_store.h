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

/* The stored state of a booking or an order: found false when there is none
 * yet. */
struct notes_row_state {
    bool found;
    char status[16];
    int64_t status_ms;
    int64_t details_ms;
};

/* Takes an event in, in one statement: inserts the intake row of (source,
 * event id) with the event's digest and the customer it was resolved to
 * (resolved, "" for none) and, when this inserted it and a customer is
 * named, the timeline row *row; and reads, locked for this transaction, the
 * state of the booking or order a booking.* or order.* event names into *st
 * (found false for other events). *claimed is true when this transaction
 * inserted the intake row; otherwise customer_id and *same are set as
 * notes_history_store_claimed sets them. A concurrent delivery of the same
 * event waits here until the first commits or rolls back. */
cm_err_t notes_history_store_take_in(cm_db_t *db, const char *tenant, const Crm__IntakeEvent *ev,
                                     const char *digest, const char *resolved,
                                     const struct notes_timeline_row *row, bool *claimed,
                                     bool *same, char *customer_id,
                                     struct notes_row_state *st) CM_MUSTCHECK;

/* Applies a booking.* or order.* event at at_ms to the stored state of its
 * booking or order, *st as notes_history_store_take_in read it
 * (notes_intake_status_wins decides the status). The first event of a
 * booking or order racing another inserts nothing and applies itself to the
 * winner's row. */
cm_err_t notes_history_store_booking(cm_db_t *db, const char *tenant, const Crm__IntakeEvent *ev,
                                     const char *customer_id, int64_t at_ms,
                                     const struct notes_row_state *st) CM_MUSTCHECK;
cm_err_t notes_history_store_order(cm_db_t *db, const char *tenant, const Crm__IntakeEvent *ev,
                                   const char *customer_id, int64_t at_ms,
                                   const struct notes_row_state *st) CM_MUSTCHECK;

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

/* A customer was deleted: erases what staff wrote about them (their notes and
 * tasks) and the old and new values of their changes in the timeline (the
 * rows stay, saying what kind of change happened and when). Bookings and
 * orders stay: the books need them, and they hold no personal data beyond the
 * customer id. Runs in the caller's transaction, scoped to the tenant. */
cm_err_t notes_history_store_erase_customer(cm_db_t *db, const char *tenant,
                                            const char *customer_id) CM_MUSTCHECK;

/* Deletes idempotency keys older than hours. */
cm_err_t notes_history_store_idempotency_expire(cm_db_t *db, int hours) CM_MUSTCHECK;

#endif
