/* PostgreSQL access through libpq for single-threaded services. */
#include "cm_db.h"
#include "cm_log.h"
#include "cm_util.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* Statements are prepared once per connection: parsing and planning each
 * time cost as much as running them. Keyed by the SQL text; statements built
 * at run time beyond the cap simply run unprepared. */
#define STMT_SLOTS 512 /* power of two */
#define STMT_MAX 384

struct s_stmt {
    char *sql; // owned; NULL for an empty slot
    uint64_t hash;
    int nparams;
};

/* A statement queued by cm_db_defer: its text and parameters, copied. */
struct s_deferred {
    char *sql; // owned
    int nparams;
    char **params; // owned, NULL entries are SQL NULL
    int *lengths;  // owned
    int *formats;  // owned
    char *check;   // owned, NULL but for cm_db_defer_check: what an empty answer means
};

/* At most this many statements wait; one more sends them all. */
#define DEFER_MAX 32

struct cm_db {
    char *conninfo; // owned
    char *role;     // owned, may be NULL
    PGconn *conn;   // owned
    bool in_txn;
    bool tenant_in_txn; // app.tenant was set inside the open transaction: a rollback undoes it
    struct s_deferred deferred[DEFER_MAX];
    int n_deferred;
    cm_err_t held;     // a queued statement sent early failed: the transaction's statements fail
    bool events;       // the open transaction added events to an outbox (cm_db_mark_events)
    bool tenant_known; // app.tenant of the session is tenant (false after a reconnect)
    char tenant[64];
    char error[512];
    char sqlstate[6];
    char constraint[64]; // of the last error, "" if it named none
    struct s_stmt stmts[STMT_SLOTS];
    size_t n_stmts;
};

static void s_forget_statements(cm_db_t *self)
{
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        free(self->stmts[i].sql);
        self->stmts[i].sql = NULL;
    }
    self->n_stmts = 0;
}

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The name of the prepared statement for sql, preparing it on first use.
 * Returns false when it should run unprepared (cap reached, or PostgreSQL
 * refused to prepare it). */
static bool s_prepared(cm_db_t *self, const char *sql, int nparams, char *name, size_t size)
{
    uint64_t h = s_hash(sql);
    size_t i = (size_t)h & (STMT_SLOTS - 1);
    while (self->stmts[i].sql) {
        if (self->stmts[i].hash == h && self->stmts[i].nparams == nparams &&
            !strcmp(self->stmts[i].sql, sql)) {
            snprintf(name, size, "s%zu", i);
            return true;
        }
        i = (i + 1) & (STMT_SLOTS - 1);
    }
    if (self->n_stmts >= STMT_MAX)
        return false;
    snprintf(name, size, "s%zu", i);
    PGresult *res = PQprepare(self->conn, name, sql, nparams, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok)
        return false;
    self->stmts[i].sql = cm_strdup(sql);
    self->stmts[i].hash = h;
    self->stmts[i].nparams = nparams;
    self->n_stmts++;
    return true;
}

cm_db_t *cm_db_new(const char *conninfo, const char *role)
{
    cm_db_t *self = cm_calloc(1, sizeof *self);
    self->conninfo = cm_strdup(conninfo);
    self->role = role && *role ? cm_strdup(role) : NULL;
    return self;
}

void cm_db_destroy(cm_db_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cm_db_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    s_forget_statements(self);
    free(self->conninfo);
    free(self->role);
    free(self);
    *self_p = NULL;
}

static void s_set_error(cm_db_t *self, const char *msg, const char *state)
{
    self->constraint[0] = '\0';
    snprintf(self->error, sizeof self->error, "%s", msg ? msg : "");
    /* Keep the detail on one line for the log. */
    for (char *p = self->error; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t n = strlen(self->error);
    while (n && self->error[n - 1] == ' ')
        self->error[--n] = '\0';
    snprintf(self->sqlstate, sizeof self->sqlstate, "%s", state ? state : "");
}

/* The constraint the error of res names (a unique index, a check), if any. */
static void s_set_constraint(cm_db_t *self, const PGresult *res)
{
    const char *name = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    snprintf(self->constraint, sizeof self->constraint, "%s", name ? name : "");
}

cm_err_t cm_db_connect(cm_db_t *self)
{
    assert(self);
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK)
        return CM_OK;
    if (self->conn) {
        PQfinish(self->conn);
        self->conn = NULL;
    }
    self->in_txn = false;
    self->tenant_known = false;
    s_forget_statements(self);
    self->conn = PQconnectdb(self->conninfo);
    if (PQstatus(self->conn) != CONNECTION_OK) {
        s_set_error(self, PQerrorMessage(self->conn), "08006");
        PQfinish(self->conn);
        self->conn = NULL;
        return CM_ERR_UNAVAILABLE;
    }
    PGresult *res = PQexec(self->conn, "SET client_encoding = 'UTF8'; SET timezone = 'UTC'");
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (ok && self->role) {
        /* The role name comes from configuration; quote it as an identifier. */
        char *quoted = PQescapeIdentifier(self->conn, self->role, strlen(self->role));
        char *sql = cm_strfmt("SET ROLE %s", quoted ? quoted : "\"\"");
        PQfreemem(quoted);
        res = PQexec(self->conn, sql);
        free(sql);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            s_set_error(self, PQresultErrorMessage(res), PQresultErrorField(res, PG_DIAG_SQLSTATE));
        PQclear(res);
    }
    if (!ok) {
        if (!self->error[0])
            s_set_error(self, PQerrorMessage(self->conn), "08006");
        PQfinish(self->conn);
        self->conn = NULL;
        return CM_ERR_UNAVAILABLE;
    }
    return CM_OK;
}

static cm_err_t s_classify(const char *state, ConnStatusType cs)
{
    if (cs != CONNECTION_OK)
        return CM_ERR_UNAVAILABLE;
    if (!state || !*state)
        return CM_ERR_INTERNAL;
    if (!strcmp(state, "23505"))
        return CM_ERR_CONFLICT;
    if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strncmp(state, "08", 2) ||
        !strncmp(state, "57P", 3))
        return CM_ERR_UNAVAILABLE;
    if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2))
        return CM_ERR_INVALID;
    return CM_ERR_INTERNAL;
}

static void s_deferred_clear(cm_db_t *self)
{
    for (int i = 0; i < self->n_deferred; i++) {
        struct s_deferred *d = &self->deferred[i];
        for (int k = 0; k < d->nparams; k++)
            free(d->params[k]);
        free(d->params);
        free(d->lengths);
        free(d->formats);
        free(d->sql);
        free(d->check);
        d->check = NULL;
    }
    self->n_deferred = 0;
}

/* Drops a broken connection; the next statement reconnects. */
static void s_drop(cm_db_t *self)
{
    snprintf(self->sqlstate, sizeof self->sqlstate, "08006");
    PQfinish(self->conn);
    self->conn = NULL;
    /* A transaction lost with the connection stays open and failed until it
     * is rolled back: its next statements must not run on a new connection,
     * outside it. */
    self->held = self->in_txn ? CM_ERR_UNAVAILABLE : CM_OK;
    self->tenant_known = false;
    s_deferred_clear(self);
}

/* Records the error of res (or of the connection) once: the first one wins. */
static void s_fail(cm_db_t *self, const PGresult *res, cm_err_t *err)
{
    if (*err)
        return;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    s_set_error(self, res ? PQresultErrorMessage(res) : PQerrorMessage(self->conn), state);
    s_set_constraint(self, res);
    *err = s_classify(state, PQstatus(self->conn));
    if (*err == CM_OK)
        *err = CM_ERR_INTERNAL;
}

/* Sends one statement into the pipeline, prepared when it can be. */
static bool s_send(cm_db_t *self, const char *sql, int nparams, const char *const *params,
                   const int *lengths, const int *formats, int result_format)
{
    char name[16];
    if (s_prepared(self, sql, nparams, name, sizeof name))
        return PQsendQueryPrepared(self->conn, name, nparams, params, lengths, formats,
                                   result_format) == 1;
    return PQsendQueryParams(self->conn, sql, nparams, NULL, params, lengths, formats,
                             result_format) == 1;
}

/* One statement of a pipeline: what to send, and its result. */
struct s_piece {
    const char *sql; // borrowed
    int nparams;
    const char *const *params; // borrowed
    const int *lengths;        // borrowed, may be NULL
    const int *formats;        // borrowed, may be NULL
    int result_format;
    PGresult *res; // owned: the result when the statement ran
};

/* Sends the queued statements and then the n pieces in one round trip
 * (libpq's pipeline mode) and reads their results in order into each piece's
 * res. Returns CM_OK, or the error of the first statement that failed (the
 * ones after it were not run; a queued one counts as piece -1) with its
 * index in *failed and no piece's result kept. */
static cm_err_t s_pipeline(cm_db_t *self, struct s_piece *pieces, int n, int *failed)
{
    int queued = self->n_deferred;
    cm_err_t err = CM_OK;
    *failed = -1;
    /* Preparing is a round trip of its own, and not allowed in a pipeline:
     * statements new to this connection are prepared first (once). */
    char name[16];
    for (int i = 0; i < queued; i++)
        (void)s_prepared(self, self->deferred[i].sql, self->deferred[i].nparams, name, sizeof name);
    for (int i = 0; i < n; i++)
        (void)s_prepared(self, pieces[i].sql, pieces[i].nparams, name, sizeof name);
    if (PQenterPipelineMode(self->conn) != 1) {
        s_fail(self, NULL, &err);
        s_deferred_clear(self);
        return err;
    }
    /* What each queued check means when it answers no row (kept past the
     * queue's clearing below). */
    char *checks[DEFER_MAX];
    for (int i = 0; i < queued; i++) {
        checks[i] = self->deferred[i].check;
        self->deferred[i].check = NULL;
    }
    bool sent = true;
    for (int i = 0; sent && i < queued; i++) {
        const struct s_deferred *d = &self->deferred[i];
        sent = s_send(self, d->sql, d->nparams, (const char *const *)d->params, d->lengths,
                      d->formats, 0);
    }
    for (int i = 0; sent && i < n; i++)
        sent = s_send(self, pieces[i].sql, pieces[i].nparams, pieces[i].params, pieces[i].lengths,
                      pieces[i].formats, pieces[i].result_format);
    s_deferred_clear(self);
    if (!sent || PQpipelineSync(self->conn) != 1) {
        s_fail(self, NULL, &err);
        s_drop(self);
        goto done;
    }
    /* Each statement's results end with NULL; the Sync's result ends the pipeline. */
    for (int i = 0; i < queued + n && PQstatus(self->conn) == CONNECTION_OK; i++) {
        struct s_piece *piece = i >= queued ? &pieces[i - queued] : NULL;
        const char *check = i < queued ? checks[i] : NULL;
        PGresult *res;
        while ((res = PQgetResult(self->conn)) != NULL) {
            ExecStatusType st = PQresultStatus(res);
            if (st == PGRES_TUPLES_OK && check && PQntuples(res) == 0 && !err) {
                /* A check found what it checks no longer so. The server's
                 * transaction goes on: nothing of it may commit. */
                s_set_error(self, check, "40001");
                err = CM_ERR_UNAVAILABLE;
                if (self->in_txn)
                    self->held = err;
            } else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                if (piece && !piece->res) {
                    piece->res = res;
                    continue;
                }
            } else if (st != PGRES_PIPELINE_ABORTED) {
                if (!err)
                    *failed = i - queued;
                s_fail(self, res, &err);
            }
            PQclear(res);
        }
    }
    PGresult *sync = PQstatus(self->conn) == CONNECTION_OK ? PQgetResult(self->conn) : NULL;
    bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || PQexitPipelineMode(self->conn) != 1) {
        s_fail(self, NULL, &err);
        s_drop(self);
    }
    if (err)
        for (int i = 0; i < n; i++) {
            PQclear(pieces[i].res);
            pieces[i].res = NULL;
        }
done:
    for (int i = 0; i < queued; i++)
        free(checks[i]);
    return err;
}

/* Sends what is queued by itself (the queue is full, or the caller takes the
 * connection): its error, if any, holds the transaction's next statements. */
static void s_flush_queue(cm_db_t *self)
{
    int failed;
    cm_err_t err = s_pipeline(self, NULL, 0, &failed);
    if (err && !self->held)
        self->held = err;
}

void cm_db_defer(cm_db_t *self, const char *sql, int nparams, const char *const *params,
                 const int *lengths, const int *formats)
{
    assert(self && sql && nparams >= 0);
    if (self->n_deferred == DEFER_MAX) {
        /* A long queue goes now; its error, if any, shows at the next
         * statement or COMMIT (the transaction is lost). */
        s_flush_queue(self);
    }
    struct s_deferred *d = &self->deferred[self->n_deferred++];
    d->sql = cm_strdup(sql);
    d->nparams = nparams;
    d->params = cm_calloc((size_t)(nparams ? nparams : 1), sizeof *d->params);
    d->lengths = cm_calloc((size_t)(nparams ? nparams : 1), sizeof *d->lengths);
    d->formats = cm_calloc((size_t)(nparams ? nparams : 1), sizeof *d->formats);
    for (int i = 0; i < nparams; i++) {
        if (!params[i])
            continue;
        bool bin = formats && formats[i] == 1;
        size_t len = bin ? (size_t)lengths[i] : strlen(params[i]);
        d->params[i] = cm_malloc(len + 1);
        memcpy(d->params[i], params[i], len);
        d->params[i][len] = '\0';
        d->lengths[i] = (int)len;
        d->formats[i] = bin ? 1 : 0;
    }
}

void cm_db_defer_check(cm_db_t *self, const char *sql, int nparams, const char *const *params,
                       const char *what)
{
    assert(what && *what);
    cm_db_defer(self, sql, nparams, params, NULL, NULL);
    self->deferred[self->n_deferred - 1].check = cm_strdup(what);
}

PGresult *cm_db_exec_bin(cm_db_t *self, const char *sql, int nparams, const char *const *params,
                         const int *lengths, const int *formats, int result_format, cm_err_t *err)
{
    assert(self && sql && err);
    *err = CM_OK;
    if (!self->conn) {
        *err = cm_db_connect(self);
        if (*err)
            return NULL;
    }
    if (self->held) {
        *err = self->held;
        return NULL;
    }
    if (self->n_deferred) {
        struct s_piece piece = {sql, nparams, params, lengths, formats, result_format, NULL};
        int failed;
        *err = s_pipeline(self, &piece, 1, &failed);
        return piece.res;
    }
    char name[16];
    PGresult *res;
    /* Inside a failed transaction nothing can be prepared; run it as it is. */
    if (PQtransactionStatus(self->conn) != PQTRANS_INERROR &&
        s_prepared(self, sql, nparams, name, sizeof name))
        res = PQexecPrepared(self->conn, name, nparams, params, lengths, formats, result_format);
    else
        res = PQexecParams(self->conn, sql, nparams, NULL, params, lengths, formats, result_format);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    s_set_error(self, res ? PQresultErrorMessage(res) : PQerrorMessage(self->conn), state);
    s_set_constraint(self, res);
    *err = s_classify(state, PQstatus(self->conn));
    PQclear(res);
    if (PQstatus(self->conn) != CONNECTION_OK)
        s_drop(self); // the next request reconnects
    return NULL;
}

PGresult *cm_db_exec(cm_db_t *self, const char *sql, int nparams, const char *const *params,
                     cm_err_t *err)
{
    return cm_db_exec_bin(self, sql, nparams, params, NULL, NULL, 0, err);
}

cm_err_t cm_db_run(cm_db_t *self, const char *sql, int nparams, const char *const *params)
{
    cm_err_t err;
    PGresult *res = cm_db_exec(self, sql, nparams, params, &err);
    PQclear(res);
    return err;
}

cm_err_t cm_db_exec_all(cm_db_t *self, struct cm_db_stmt *stmts, int n, int *failed)
{
    assert(self && (stmts || n == 0) && n >= 0 && failed);
    *failed = -1;
    for (int i = 0; i < n; i++)
        stmts[i].res = NULL;
    cm_err_t err = CM_OK;
    if (!self->conn) {
        err = cm_db_connect(self);
        if (err)
            return err;
    }
    if (self->held)
        return self->held;
    struct s_piece *pieces = cm_calloc((size_t)(n ? n : 1), sizeof *pieces);
    for (int i = 0; i < n; i++)
        pieces[i] = (struct s_piece){
            .sql = stmts[i].sql, .nparams = stmts[i].nparams, .params = stmts[i].params};
    err = s_pipeline(self, pieces, n, failed);
    for (int i = 0; i < n; i++)
        stmts[i].res = pieces[i].res;
    free(pieces);
    /* The transaction is lost: COMMIT must not answer as if it were not. */
    if (err && self->in_txn && !self->held)
        self->held = err;
    return err;
}

/* Whether tenant is the session's app.tenant already. */
static bool s_tenant_is(const cm_db_t *self, const char *t)
{
    return self->tenant_known && !strcmp(self->tenant, t);
}

static void s_tenant_set(cm_db_t *self, const char *t)
{
    self->tenant_known = strlen(t) < sizeof self->tenant;
    if (self->tenant_known)
        memcpy(self->tenant, t, strlen(t) + 1);
}

cm_err_t cm_db_use_tenant(cm_db_t *self, const char *tenant)
{
    cm_db_rollback(self); // an open transaction, or what is left of a lost one
    cm_err_t err = cm_db_connect(self);
    if (err)
        return err;
    const char *t = tenant ? tenant : "";
    if (s_tenant_is(self, t))
        return CM_OK;
    /* Outside a transaction, so that no rollback takes it back behind our back. */
    self->tenant_known = false;
    const char *p[] = {t};
    err = cm_db_run(self, "SELECT set_config('app.tenant', $1, false)", 1, p);
    if (err)
        return err;
    s_tenant_set(self, t);
    return CM_OK;
}

cm_err_t cm_db_begin(cm_db_t *self, const char *tenant)
{
    cm_db_rollback(self); // an open transaction, or what is left of a lost one
    cm_err_t err = cm_db_connect(self);
    if (err)
        return err;
    /* BEGIN (and app.tenant when it changes) go with the transaction's first
     * statement. Set inside the transaction, the tenant is forgotten if it
     * rolls back. */
    cm_db_defer(self, "BEGIN", 0, NULL, NULL, NULL);
    const char *t = tenant ? tenant : "";
    self->tenant_in_txn = !s_tenant_is(self, t);
    if (self->tenant_in_txn) {
        const char *p[] = {t};
        cm_db_defer(self, "SELECT set_config('app.tenant', $1, false)", 1, p, NULL, NULL);
        s_tenant_set(self, t);
    }
    self->in_txn = true;
    self->events = false;
    return CM_OK;
}

cm_err_t cm_db_commit(cm_db_t *self)
{
    /* A check still queued answers before COMMIT is sent: sent with it, the
     * transaction would commit whatever the check found. */
    bool check = false;
    for (int i = 0; i < self->n_deferred && !check; i++)
        check = self->deferred[i].check != NULL;
    if (check && self->conn)
        s_flush_queue(self);
    cm_err_t err = cm_db_run(self, "COMMIT", 0, NULL);
    if (err) {
        /* A statement queued before COMMIT failed, or COMMIT did: whatever
         * is left of the transaction ends here, and with it its tenant. */
        cm_db_rollback(self);
        return err;
    }
    self->in_txn = false;
    self->tenant_in_txn = false; // committed with the transaction
    return CM_OK;
}

void cm_db_rollback(cm_db_t *self)
{
    self->events = false;
    self->held = CM_OK;
    s_deferred_clear(self);
    if (self->tenant_in_txn) {
        self->tenant_known = false;
        self->tenant_in_txn = false;
    }
    if (!self->in_txn || !self->conn) {
        self->in_txn = false;
        return;
    }
    self->in_txn = false;
    if (PQtransactionStatus(self->conn) == PQTRANS_IDLE)
        return; // BEGIN never left the queue
    PGresult *res = PQexec(self->conn, "ROLLBACK");
    PQclear(res);
}

bool cm_db_in_txn(cm_db_t *self)
{
    return self->in_txn;
}

void cm_db_mark_events(cm_db_t *self)
{
    self->events = true;
}

bool cm_db_take_events(cm_db_t *self)
{
    bool events = self->events;
    self->events = false;
    return events;
}

const char *cm_db_error(cm_db_t *self)
{
    return self->error;
}

const char *cm_db_sqlstate(cm_db_t *self)
{
    return self->sqlstate;
}

const char *cm_db_constraint(cm_db_t *self)
{
    return self->constraint;
}

PGconn *cm_db_conn(cm_db_t *self)
{
    if (self->conn && self->n_deferred) {
        /* The caller speaks to the connection itself: what is queued goes first. */
        s_flush_queue(self);
    }
    return self->conn;
}

const char *cm_db_get(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return PQgetvalue(res, row, col);
}
