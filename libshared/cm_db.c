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

struct cm_db {
    char *conninfo; // owned
    char *role;     // owned, may be NULL
    PGconn *conn;   // owned
    bool in_txn;
    bool events;       // the open transaction added events to an outbox (cm_db_mark_events)
    bool tenant_known; // app.tenant of the session is tenant (false after a reconnect)
    char tenant[64];
    char error[512];
    char sqlstate[6];
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
    *err = s_classify(state, PQstatus(self->conn));
    PQclear(res);
    if (PQstatus(self->conn) != CONNECTION_OK) {
        /* Drop the broken connection; the next request reconnects. */
        snprintf(self->sqlstate, sizeof self->sqlstate, "08006");
        PQfinish(self->conn);
        self->conn = NULL;
        self->in_txn = false;
    }
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

cm_err_t cm_db_use_tenant(cm_db_t *self, const char *tenant)
{
    cm_err_t err = cm_db_connect(self);
    if (err)
        return err;
    if (self->in_txn)
        cm_db_rollback(self);
    const char *t = tenant ? tenant : "";
    if (self->tenant_known && !strcmp(self->tenant, t))
        return CM_OK;
    /* Outside a transaction, so that no rollback takes it back behind our back. */
    self->tenant_known = false;
    const char *p[] = {t};
    err = cm_db_run(self, "SELECT set_config('app.tenant', $1, false)", 1, p);
    if (err)
        return err;
    if (strlen(t) < sizeof self->tenant) {
        memcpy(self->tenant, t, strlen(t) + 1);
        self->tenant_known = true;
    }
    return CM_OK;
}

cm_err_t cm_db_begin(cm_db_t *self, const char *tenant)
{
    cm_err_t err = cm_db_use_tenant(self, tenant);
    if (err)
        return err;
    err = cm_db_run(self, "BEGIN", 0, NULL);
    if (err)
        return err;
    self->in_txn = true;
    self->events = false;
    return CM_OK;
}

cm_err_t cm_db_commit(cm_db_t *self)
{
    cm_err_t err = cm_db_run(self, "COMMIT", 0, NULL);
    self->in_txn = false;
    return err;
}

void cm_db_rollback(cm_db_t *self)
{
    self->events = false;
    if (!self->in_txn || !self->conn) {
        self->in_txn = false;
        return;
    }
    PGresult *res = PQexec(self->conn, "ROLLBACK");
    PQclear(res);
    self->in_txn = false;
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

PGconn *cm_db_conn(cm_db_t *self)
{
    return self->conn;
}

const char *cm_db_get(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return PQgetvalue(res, row, col);
}
