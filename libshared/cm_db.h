/* A PostgreSQL connection for one single-threaded service: parameterised
 * queries, transactions scoped to a tenant (for row-level security), and
 * reconnection. Every query goes through PQexecParams with $n parameters. */
#ifndef CM_DB_H
#define CM_DB_H

#include <stdbool.h>
#include <libpq-fe.h>
#include "cm_err.h"

typedef struct cm_db cm_db_t;

/* Makes a connection handle for conninfo (a libpq URL or key=value string).
 * When role is not NULL/empty, every session runs SET ROLE role, so that a
 * login that owns the tables still gets row-level security. Connects lazily.
 * Returns an owned handle. */
cm_db_t *cm_db_new(const char *conninfo, const char *role);
void cm_db_destroy(cm_db_t **self_p);

/* Connects, or reconnects after a broken connection. Returns CM_OK or
 * CM_ERR_UNAVAILABLE (detail in cm_db_error). */
cm_err_t cm_db_connect(cm_db_t *self) CM_MUSTCHECK;

/* Runs one statement with text parameters (NULL entries are SQL NULL).
 * Returns the result (caller PQclears it) or NULL with *err set: CM_ERR_CONFLICT
 * for a unique violation, CM_ERR_UNAVAILABLE for a lost connection, a
 * serialization failure or a deadlock (retryable), CM_ERR_INVALID for bad input
 * data (22xxx), CM_ERR_INTERNAL otherwise. The detail is in cm_db_error. */
PGresult *cm_db_exec(cm_db_t *self, const char *sql, int nparams, const char *const *params,
                     cm_err_t *err) CM_MUSTCHECK;

/* Like cm_db_exec with explicit lengths and formats, for bytea parameters
 * (format 1 = binary) and binary results (result_format 1). */
PGresult *cm_db_exec_bin(cm_db_t *self, const char *sql, int nparams, const char *const *params,
                         const int *lengths, const int *formats, int result_format,
                         cm_err_t *err) CM_MUSTCHECK;

/* Queues a statement of the open transaction whose result is not read (an
 * audit entry, an event, a stored reply): it is sent with the next statement
 * run on self, or with COMMIT, in one round trip (libpq's pipeline mode).
 * Parameters are copied (lengths and formats as cm_db_exec_bin; both may be
 * NULL for text). Its error becomes the error of the statement or COMMIT it
 * went with; statements queued after a failed one are not run. At most 32
 * wait: one more sends them at once. */
void cm_db_defer(cm_db_t *self, const char *sql, int nparams, const char *const *params,
                 const int *lengths, const int *formats);

/* Queues, as cm_db_defer, a check of the open transaction: a query (text
 * parameters) that answers at least one row while what it checks holds.
 * When it answers none, the statement it went with fails as a serialization
 * failure (SQLSTATE 40001, CM_ERR_UNAVAILABLE, which callers retry) naming
 * what, and the transaction is lost: the statements sent after it ran but
 * never commit (COMMIT sends a queued check ahead of itself). Cheaper than a
 * PL/pgSQL function raising the error: a plain prepared SELECT. */
void cm_db_defer_check(cm_db_t *self, const char *sql, int nparams, const char *const *params,
                       const char *what);

/* Runs a statement whose result is not needed. Returns CM_OK or the error. */
cm_err_t cm_db_run(cm_db_t *self, const char *sql, int nparams,
                   const char *const *params) CM_MUSTCHECK;

/* One statement of cm_db_exec_all: its text and text parameters (NULL
 * entries are SQL NULL), both borrowed, and its result. */
struct cm_db_stmt {
    const char *sql; // borrowed
    int nparams;
    const char *const *params; // borrowed
    PGresult *res;             // out, owned by the caller: the result, NULL when not run
};

/* Runs n statements whose results are all needed, after what is queued, in
 * one round trip (libpq's pipeline mode), and reads every result into
 * stmts[i].res (the caller PQclears each). Meant for an open transaction;
 * outside one, the n statements commit or fail together (the pipeline's
 * implicit transaction). Returns CM_OK, or the error of the first statement
 * that failed, classified as cm_db_exec does, with its index in *failed (-1:
 * a queued statement or the connection) and every res NULL: the statements
 * after it did not run, and the transaction is lost (its COMMIT fails). The results wait in the
 * socket's buffers until all is sent: for statements answering a few rows. */
cm_err_t cm_db_exec_all(cm_db_t *self, struct cm_db_stmt *stmts, int n, int *failed) CM_MUSTCHECK;

/* Makes tenant (NULL: none) the session's app.tenant, which row-level
 * security reads; a round trip only when it is not already so on this
 * connection (a reconnect forgets). Rolls back an open transaction first.
 * Returns CM_OK or the error of the statement (the connection's). */
cm_err_t cm_db_use_tenant(cm_db_t *self, const char *tenant) CM_MUSTCHECK;

/* Begins a transaction for tenant: BEGIN, and app.tenant when it is not
 * already so, are queued (cm_db_defer) and go with the first statement, so
 * a transaction costs no round trip of its own. A tenant set inside a
 * transaction that rolls back is set again by the next one. */
cm_err_t cm_db_begin(cm_db_t *self, const char *tenant) CM_MUSTCHECK;
/* Sends what is queued and COMMIT in one round trip. On an error (of COMMIT
 * or of a queued statement) the transaction is rolled back. */
cm_err_t cm_db_commit(cm_db_t *self) CM_MUSTCHECK;
/* Rolls back if a transaction is open, dropping what is queued; never fails
 * (a broken connection is reset later). */
void cm_db_rollback(cm_db_t *self);
bool cm_db_in_txn(cm_db_t *self);

/* The open transaction added events to an outbox (cm_outbox_add says so);
 * cm_db_take_events answers whether the last one did, once, and forgets it.
 * BEGIN and ROLLBACK forget it too. cm_svc runs after_commit only for such
 * commits, so a write that published nothing never wakes the relay. */
void cm_db_mark_events(cm_db_t *self);
bool cm_db_take_events(cm_db_t *self);

/* The last error's detail (PQ message, one line) and SQLSTATE ("" if none).
 * Borrowed until the next call. */
const char *cm_db_error(cm_db_t *self);
const char *cm_db_sqlstate(cm_db_t *self);
/* The constraint the last error named ("customers_email_key" for a unique
 * violation of that index), "" when it named none. Borrowed likewise. */
const char *cm_db_constraint(cm_db_t *self);

/* The raw connection, for COPY and LISTEN, after what is queued was sent;
 * borrowed. NULL when not connected. */
PGconn *cm_db_conn(cm_db_t *self);

/* Helpers for results: the value at (row, col), or NULL for SQL NULL. */
const char *cm_db_get(const PGresult *res, int row, int col);

#endif
