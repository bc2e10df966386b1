/* Every SQL statement of notes, tasks and task feeds. Each function runs in
 * the caller's transaction (cm_svc opens it, scoped to the tenant); queries
 * also name the tenant, so row-level security is a second wall. Functions
 * return CM_OK or the database error (cm_db_exec's codes). */
#ifndef NOTES_STORE_H
#define NOTES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "notes.pb-c.h"

/* A keyset position: the sort flag and key of the last row and its id. */
struct notes_page {
    bool set;
    int flag;
    int64_t key;
    const char *id; // borrowed
};

/* ---- Notes -------------------------------------------------------------- */

/* Inserts a validated note. */
cm_err_t notes_store_note_insert(cm_db_t *db, const char *tenant, const char *id,
                                 const char *customer_id, const char *body, bool pinned,
                                 const char *author_id, const char *author_name) CM_MUSTCHECK;

/* Loads a note of a customer into *out (a dynamic message), or NULL when the
 * customer has no such note. */
cm_err_t notes_store_note_get(cm_db_t *db, const char *tenant, const char *customer_id,
                              const char *id, bool for_update, Crm__Note **out) CM_MUSTCHECK;

/* Writes body and pinned over a note, records the editor (when edited is
 * true) and bumps its version. */
cm_err_t notes_store_note_update(cm_db_t *db, const char *tenant, const char *id, const char *body,
                                 bool pinned, bool edited, const char *editor_id,
                                 const char *editor_name) CM_MUSTCHECK;

cm_err_t notes_store_note_delete(cm_db_t *db, const char *tenant, const char *id) CM_MUSTCHECK;

/* A page of a customer's notes (pinned first, newest first) appended to
 * r->notes; when more follow, *next gets the last row's position (next->id
 * malloc'd, the caller frees it). */
cm_err_t notes_store_note_list(cm_db_t *db, const char *tenant, const char *customer_id,
                               const struct notes_page *after, int limit, Crm__ListNotesResponse *r,
                               struct notes_page *next) CM_MUSTCHECK;

/* ---- Tasks -------------------------------------------------------------- */

/* A task as written: validated strings (borrowed), "" for none. */
struct notes_task_row {
    const char *id;
    const char *customer_id; // "" for none
    const char *customer_name;
    const char *title;
    const char *description;
    bool has_due;
    bool due_all_day;
    int64_t due_ms;
    const char *assignee_id;
    const char *assignee_name;
    bool done;
    const char *created_by_id;   // insert only
    const char *created_by_name; // insert only
};

/* Inserts a task; done_at is now when done. */
cm_err_t notes_store_task_insert(cm_db_t *db, const char *tenant,
                                 const struct notes_task_row *t) CM_MUSTCHECK;

/* Loads a task into *out (dynamic), or NULL when there is none. zone is the
 * business's time zone (IANA name): an all-day task is overdue once its date
 * is before the business's today there. */
cm_err_t notes_store_task_get(cm_db_t *db, const char *tenant, const char *id, bool for_update,
                              const char *zone, Crm__Task **out) CM_MUSTCHECK;

/* Writes a task over the stored one and bumps its version; done_at becomes
 * now when done turns true, NULL when it turns false, else stays. */
cm_err_t notes_store_task_update(cm_db_t *db, const char *tenant,
                                 const struct notes_task_row *t) CM_MUSTCHECK;

cm_err_t notes_store_task_delete(cm_db_t *db, const char *tenant, const char *id) CM_MUSTCHECK;

/* Filters of a task list; NULL or -1 for "any". */
struct notes_task_filter {
    const char *customer_id;
    const char *assignee_id;
    int done; // -1 any, 0 open, 1 done
    bool overdue;
    bool has_before, has_after;
    int64_t before_ms, after_ms;
};

/* A page of tasks by due time (none last), then id; like notes_store_note_list.
 * zone: as notes_store_task_get's, for overdue (the flag and the filter). */
cm_err_t notes_store_task_list(cm_db_t *db, const char *tenant, const struct notes_task_filter *f,
                               const struct notes_page *after, int limit, const char *zone,
                               Crm__ListTasksResponse *r, struct notes_page *next) CM_MUSTCHECK;

/* The tasks of a calendar: the assignee's open tasks and those done in the
 * last done_days days, by due time, at most limit, appended to r->tasks.
 * zone: as notes_store_task_get's. */
cm_err_t notes_store_task_calendar(cm_db_t *db, const char *tenant, const char *assignee_id,
                                   int done_days, int limit, const char *zone,
                                   Crm__ListTasksResponse *r) CM_MUSTCHECK;

/* ---- Task feeds ----------------------------------------------------------- */

/* Stores a feed with the BLAKE2b hash (32 bytes) of its token. */
cm_err_t notes_store_feed_insert(cm_db_t *db, const char *tenant, const Crm__TaskFeed *f,
                                 const uint8_t hash[32]) CM_MUSTCHECK;
/* Appends the tenant's feeds (all of them, or only those for assignee_id when
 * it is not NULL) to r->feeds, newest first. */
cm_err_t notes_store_feed_list(cm_db_t *db, const char *tenant, const char *assignee_id,
                               Crm__ListTaskFeedsResponse *r) CM_MUSTCHECK;
/* Loads one feed (no token) into *out, or NULL. */
cm_err_t notes_store_feed_get(cm_db_t *db, const char *tenant, const char *id,
                              Crm__TaskFeed **out) CM_MUSTCHECK;
cm_err_t notes_store_feed_delete(cm_db_t *db, const char *tenant, const char *id) CM_MUSTCHECK;

/* Finds the feed of a token hash in a transaction without a tenant, and
 * scopes the rest of the transaction to the feed's tenant. Sets *out (dynamic)
 * and tenant_out (>= 37 bytes), or *out NULL when no feed has that token. */
cm_err_t notes_store_feed_by_token(cm_db_t *db, const uint8_t hash[32], Crm__TaskFeed **out,
                                   char *tenant_out) CM_MUSTCHECK;

#endif
