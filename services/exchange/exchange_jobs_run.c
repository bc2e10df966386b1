/* The export threads: each takes a waiting export job (exchange.claim_export,
 * across tenants and copies, FOR UPDATE SKIP LOCKED, with a lease kept by
 * the job's heartbeat) and builds its file from the pages customers (or
 * search) answer, as the person who started it.
 *
 * CSV: rows go into a buffer that is stored as the job's next parts (at most
 * 1 MiB each) together with the job's progress and the page token it goes
 * on from, in one transaction, every S_FLUSH_BYTES or S_FLUSH_MS. A copy that
 * stops (SIGKILL included) leaves the job with its last committed part; once
 * its heartbeat is S_STALE_S old another thread takes it and goes on from
 * that page: no row is written twice, none is left out.
 *
 * XLSX: a workbook's ZIP directory is written last, so a stopped build
 * cannot be continued: the job is built again from the start (in a
 * temporary file in CRM_EXCHANGE_TMPDIR, constant memory), and the file is
 * stored in parts with the job's end in one transaction.
 *
 * A job taken S_MAX_ATTEMPTS times fails. Memory is one page and one buffer
 * of some S_FLUSH_BYTES. CRM_EXCHANGE_EXPORT_RATE caps the rows a second a
 * job reads, so that a big export leaves customers' time to the staff. */
#include "exchange_calls.h"
#include "exchange_handlers.h"
#include "exchange_export_store.h"
#include "exchange_pages.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_util.h"
#include "exchange.pb-c.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_STALE_S 30
#define S_MAX_ATTEMPTS 5
#define S_PAGE 1000 /* ListCustomers' most */
#define S_FLUSH_BYTES (768 * 1024)
#define S_FLUSH_MS 1000
#define S_CALL_TIMEOUT_MS 15000

struct s_thread {
    pthread_t thread;
    struct exchange_state *st; // borrowed
    void *zctx;                // borrowed (cm_svc)
    int index;
    bool started;
};

struct exchange_jobs {
    pthread_mutex_t mu;
    pthread_cond_t wake;      // a job was created, or stop
    bool stopping;            // under mu
    struct s_thread *threads; // owned: n of them
    long n;
};

static bool s_nap(struct exchange_jobs *j, long ms)
{
    return cm_nap(&j->mu, &j->wake, &j->stopping, ms);
}

static bool s_stopping(struct exchange_jobs *j)
{
    return !cm_nap(&j->mu, &j->wake, &j->stopping, 0);
}

/* ---------------------------------------------------------------------- */
/* A run of one job                                                        */

struct s_run {
    struct exchange_state *st;
    cm_db_t *db;             // borrowed (the thread's)
    cm_mdp_client_t *client; // borrowed (the thread's)
    const char *owner;       // borrowed (the thread's)
    struct exchange_export_job job;
    Crm__CreateExportRequest *creq;   // owned
    Crm__ExportCustomersRequest ereq; // borrows from creq
    Crm__Principal *principal;        // owned
    cm_err_t err;    // transient, or CM_ERR_CONFLICT (another copy took the job): leave it
    char fatal[300]; // the job cannot be done: it fails with this
    long calls;
    char tag[8];        // this run's, in its request ids
    int64_t started_ms; // for the rate
    long rows_at_start; // rows_written when this run began
    int64_t last_flush_ms;
};

/* Keeps the rows a second under the configured rate: naps as long as this
 * run is ahead of it. False when stopping. */
static bool s_pace(struct s_run *r)
{
    long rate = r->st->export_rate;
    if (rate <= 0)
        return !s_stopping(r->st->jobs);
    int64_t due = r->started_ms + (int64_t)(r->job.rows_written - r->rows_at_start) * 1000 / rate;
    int64_t now = cm_mono_ms();
    return s_nap(r->st->jobs, due > now ? (long)(due - now) : 0);
}

/* A page asked for and not yet taken: a CSV job asks for the next page
 * before it writes the one it has, so that customers (and PostgreSQL) read
 * it meanwhile. */
struct s_ask {
    bool on;
    char rid[40];
    const char *method;  // borrowed (static)
    const char *service; // borrowed (static)
    const ProtobufCMessageDescriptor *resp_desc;
};

/* Sends the request for the page at token. Returns 0, or -1 with r->err. */
static int s_ask_page(struct s_run *r, const char *token, struct s_ask *a)
{
    long rate = r->st->export_rate;
    int size = rate > 0 && rate < S_PAGE ? (int)rate : S_PAGE;
    struct exchange_page_req pr;
    exchange_page_request(&r->ereq, token, size, &pr);
    snprintf(a->rid, sizeof a->rid, "x%.8s.%ld.%s", r->job.id, ++r->calls, r->tag);
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.request_id = a->rid;
    h.tenant_id = r->job.tenant;
    h.principal = r->principal;
    h.method = (char *)pr.method;
    a->method = pr.method;
    a->service = pr.service;
    a->resp_desc = pr.resp_desc;
    r->err = cm_svc_send(r->client, pr.service, &h, pr.msg, S_CALL_TIMEOUT_MS, a->rid);
    a->on = !r->err;
    return r->err ? -1 : 0;
}

/* Asks customers for the balances of pg's customers and lines them up in pg
 * (no other call of the job is out meanwhile). Returns 0, or -1 with r->err
 * (transient) or r->fatal (refused) set. */
static int s_take_wallets(struct s_run *r, struct exchange_page *pg)
{
    Crm__ListWalletsRequest wr;
    if (!exchange_page_wallets_request(pg, &wr))
        return 0;
    char rid[40];
    snprintf(rid, sizeof rid, "x%.8s.%ld.%s", r->job.id, ++r->calls, r->tag);
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.request_id = rid;
    h.tenant_id = r->job.tenant;
    h.principal = r->principal;
    h.method = "customers.ListWallets";
    r->err = cm_svc_send(r->client, "customers", &h, &wr.base, S_CALL_TIMEOUT_MS, rid);
    if (r->err)
        return -1;
    Crm__ReplyHeader *reply = NULL;
    ProtobufCMessage *resp = NULL;
    cm_err_t err = cm_svc_recv(r->client, rid, &crm__list_wallets_response__descriptor,
                               S_CALL_TIMEOUT_MS, &reply, &resp);
    assert(err || reply); /* cm_svc_recv: CM_OK comes with the reply header */
    int st = reply ? (int)reply->status : -1;
    if (err || (st == CRM__STATUS__STATUS_OK && !resp) || st == CRM__STATUS__STATUS_UNAVAILABLE ||
        st == CRM__STATUS__STATUS_DEADLINE_EXCEEDED || st == CRM__STATUS__STATUS_INTERNAL) {
        cm_log_warn("export %s: customers.ListWallets: %s", r->job.id,
                    err ? cm_err_name(err) : reply->message);
        r->err = err ? err : CM_ERR_UNAVAILABLE;
    } else if (st != CRM__STATUS__STATUS_OK) {
        snprintf(r->fatal, sizeof r->fatal, "customers refused the balances: %s", reply->message);
    } else {
        exchange_page_take_wallets(pg, resp);
        resp = NULL;
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (reply)
        crm__reply_header__free_unpacked(reply, NULL);
    return r->err || r->fatal[0] ? -1 : 0;
}

/* Takes the answer to the page asked for into pg. Returns 0, or -1 with
 * r->err (transient) or r->fatal (refused) set. */
static int s_take_page(struct s_run *r, struct s_ask *a, struct exchange_page *pg)
{
    memset(pg, 0, sizeof *pg);
    a->on = false;
    Crm__ReplyHeader *reply = NULL;
    ProtobufCMessage *resp = NULL;
    cm_err_t err = cm_svc_recv(r->client, a->rid, a->resp_desc, S_CALL_TIMEOUT_MS, &reply, &resp);
    assert(err || reply); /* cm_svc_recv: CM_OK comes with the reply header */
    int st = reply ? (int)reply->status : -1;
    if (err || st == CRM__STATUS__STATUS_UNAVAILABLE ||
        st == CRM__STATUS__STATUS_DEADLINE_EXCEEDED || st == CRM__STATUS__STATUS_INTERNAL ||
        (st == CRM__STATUS__STATUS_OK && !resp)) {
        cm_log_warn("export %s: %s: %s", r->job.id, a->method,
                    err ? cm_err_name(err) : reply->message);
        r->err = err ? err : CM_ERR_UNAVAILABLE;
    } else if (st != CRM__STATUS__STATUS_OK) {
        snprintf(r->fatal, sizeof r->fatal, "%s refused the export: %s", a->service,
                 reply->message);
    } else {
        exchange_page_take(r->ereq.q[0] != '\0', resp, pg);
        resp = NULL;
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (reply)
        crm__reply_header__free_unpacked(reply, NULL);
    if (!r->err && !r->fatal[0] && s_take_wallets(r, pg))
        exchange_page_release(pg);
    return r->err || r->fatal[0] ? -1 : 0;
}

/* exchange_page_fn: a page as the person who started the job. */
static int s_page(void *ctx, const char *token, struct exchange_page *pg)
{
    struct s_run *r = ctx;
    memset(pg, 0, sizeof *pg);
    struct s_ask a = {0};
    if (r->err || r->fatal[0] || s_ask_page(r, token, &a))
        return -1;
    return s_take_page(r, &a, pg);
}

/* Stores what buf holds as the job's next parts with its progress. */
static void s_flush(struct s_run *r, cm_buf_t *buf, const char *next, bool done)
{
    free(r->job.page_token);
    r->job.page_token = cm_strdup(next);
    if (done)
        r->job.rows_total = r->job.rows_written;
    else if (r->job.rows_total < r->job.rows_written)
        r->job.rows_total = r->job.rows_written;
    r->err = exchange_xstore_append(r->db, &r->job, r->owner, (const uint8_t *)buf->data, buf->len,
                                    done, r->st->file_hours);
    cm_buf_reset(buf);
    r->last_flush_ms = cm_mono_ms();
}

/* The header row's language the job was asked for (checked when it was
 * created; a request from before it had the field has "", the API's names). */
static enum exchange_headers s_headers(const struct s_run *r)
{
    enum exchange_headers h = EXCHANGE_HEADERS_API;
    if (exchange_headers_parse(r->ereq.headers, &h))
        h = EXCHANGE_HEADERS_API;
    return h;
}

static void s_run_csv(struct s_run *r)
{
    cm_buf_t buf, cell;
    cm_buf_init(&buf, 0);
    cm_buf_init(&cell, 0);
    if (r->job.parts == 0)
        exchange_csv_header(&buf, r->job.delim, s_headers(r));
    else
        cm_log_info("export %s taken up again after %ld customers (%ld parts)", r->job.id,
                    r->job.rows_written, r->job.parts);
    r->last_flush_ms = cm_mono_ms();
    struct s_ask ask = {0};
    (void)s_ask_page(r, r->job.page_token, &ask);
    while (ask.on) {
        struct exchange_page pg;
        if (s_take_page(r, &ask, &pg))
            break;
        char *next = cm_strdup(pg.next);
        bool done = !next[0];
        /* The next page is read while this one is written. */
        if (!done && s_ask_page(r, next, &ask)) {
            free(next);
            exchange_page_release(&pg);
            break;
        }
        for (size_t i = 0; i < pg.n; i++)
            exchange_csv_customer(&buf, &cell, pg.customers[i], exchange_page_wallet(&pg, i),
                                  r->job.delim);
        r->job.rows_written += (long)pg.n;
        exchange_page_release(&pg);
        if (done || buf.len >= S_FLUSH_BYTES || cm_mono_ms() - r->last_flush_ms >= S_FLUSH_MS)
            s_flush(r, &buf, next, done);
        free(next);
        if (done || r->err || !s_pace(r))
            break;
    }
    cm_buf_release(&cell);
    cm_buf_release(&buf);
}

/* exchange_workbook_build's progress: kept every page, and the pace. */
static void s_book_progress(void *ctx, long rows)
{
    struct s_run *r = ctx;
    r->job.rows_written = rows;
    if (r->job.rows_total < rows)
        r->job.rows_total = rows;
    if (!r->err)
        r->err = exchange_xstore_progress(r->db, &r->job, r->owner);
    if (!r->err && !s_pace(r))
        r->err = CM_ERR_UNAVAILABLE; /* stopping: the job is taken up again */
}

static void s_run_xlsx(struct s_run *r)
{
    r->err = exchange_xstore_restart(r->db, &r->job, r->owner);
    if (r->err)
        return;
    char *path = cm_strfmt("%s/crm-export-XXXXXX", r->st->tmpdir);
    int fd = mkstemp(path);
    if (fd < 0) {
        cm_log_error("could not make a file in %s: %s", r->st->tmpdir, strerror(errno));
        r->err = CM_ERR_UNAVAILABLE;
        free(path);
        return;
    }
    close(fd);
    cm_err_t err;
    char why[200];
    struct exchange_zone zone;
    exchange_zone_load(r->db, r->job.time_zone, &zone);
    long rows = exchange_workbook_build(path, r->st->tmpdir, s_headers(r), &zone, s_page,
                                        s_book_progress, r, &err, why, sizeof why);
    exchange_zone_release(&zone);
    if (rows >= 0 && !r->err) {
        r->job.rows_written = r->job.rows_total = rows;
        r->err = exchange_xstore_append_file(r->db, &r->job, r->owner, path, r->st->file_hours);
    } else if (rows < 0 && err && !r->err && !r->fatal[0]) {
        snprintf(r->fatal, sizeof r->fatal, "%s", why);
    }
    unlink(path);
    free(path);
}

static void s_run(struct s_run *r)
{
    cm_random_hex(r->tag, 3);
    r->err = exchange_xstore_load(r->db, &r->job);
    if (r->err)
        return;
    r->creq = crm__create_export_request__unpack(NULL, r->job.request_len, r->job.request);
    r->principal = exchange_job_principal(r->job.principal, r->job.principal_len, "export");
    if (!r->creq || !r->principal) {
        snprintf(r->fatal, sizeof r->fatal, "the export's request cannot be read");
    } else {
        exchange_jobs_request(r->creq, &r->ereq);
        r->started_ms = cm_mono_ms();
        r->rows_at_start = r->job.rows_written;
        if (r->job.xlsx)
            s_run_xlsx(r);
        else
            s_run_csv(r);
    }
    if (r->fatal[0] && !r->err) {
        cm_log_warn("export %s failed: %s", r->job.id, r->fatal);
        r->err = exchange_xstore_fail(r->db, &r->job, r->owner, r->fatal);
    } else if (!r->err && !s_stopping(r->st->jobs)) {
        cm_log_info("export %s done rows=%ld parts=%ld bytes=%lld", r->job.id, r->job.rows_written,
                    r->job.parts, (long long)r->job.size);
    }
}

static void s_run_release(struct s_run *r)
{
    if (r->creq)
        crm__create_export_request__free_unpacked(r->creq, NULL);
    if (r->principal)
        crm__principal__free_unpacked(r->principal, NULL);
    exchange_export_job_release(&r->job);
}

/* ---------------------------------------------------------------------- */
/* The threads                                                             */

static void *s_main(void *arg)
{
    struct s_thread *t = arg;
    struct exchange_state *st = t->st;
    char owner[96], host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(owner, sizeof owner, "%s:%d:x%d", host, (int)getpid(), t->index);
    cm_db_t *db = cm_db_new(st->database_url, st->db_role);
    cm_mdp_client_t *client = cm_mdp_client_new(t->zctx, st->bus_endpoint);
    while (!s_stopping(st->jobs)) {
        struct s_run r = {.st = st, .db = db, .client = client, .owner = owner};
        bool found = false;
        cm_err_t err = cm_db_use_tenant(db, NULL);
        if (!err)
            err = exchange_xstore_claim(db, owner, S_STALE_S, S_MAX_ATTEMPTS, &r.job, &found);
        if (err)
            cm_log_warn("could not look for exports: %s", cm_db_error(db));
        if (!err && found && !cm_db_use_tenant(db, r.job.tenant)) {
            cm_log_info("export %s taken by %s", r.job.id, owner);
            s_run(&r);
            if (r.err == CM_ERR_CONFLICT)
                cm_log_warn("export %s was taken by another copy; left to it", r.job.id);
            else if (r.err)
                cm_log_warn("export %s paused after %ld customers: %s; it is taken up again later",
                            r.job.id, r.job.rows_written, cm_err_name(r.err));
        }
        s_run_release(&r);
        if (!found || err)
            s_nap(st->jobs, err ? 2000 : 1000);
        else if (r.err)
            s_nap(st->jobs, 2000);
    }
    cm_mdp_client_destroy(&client);
    cm_db_destroy(&db);
    return NULL;
}

void exchange_jobs_wake(struct exchange_state *st)
{
    pthread_mutex_lock(&st->jobs->mu);
    pthread_cond_broadcast(&st->jobs->wake);
    pthread_mutex_unlock(&st->jobs->mu);
}

void exchange_jobs_start(cm_svc_t *svc, struct exchange_state *st)
{
    struct exchange_jobs *j = cm_calloc(1, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->wake, NULL);
    j->n = st->export_threads;
    j->threads = cm_calloc((size_t)j->n, sizeof *j->threads);
    st->jobs = j;
    for (long i = 0; i < j->n; i++) {
        struct s_thread *t = &j->threads[i];
        t->st = st;
        t->zctx = cm_svc_zctx(svc);
        t->index = (int)i;
        t->started = pthread_create(&t->thread, NULL, s_main, t) == 0;
        if (!t->started)
            cm_log_error("could not start export thread %ld", i);
    }
}

void exchange_jobs_stop(struct exchange_state *st)
{
    struct exchange_jobs *j = st->jobs;
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stopping = true;
    pthread_cond_broadcast(&j->wake);
    pthread_mutex_unlock(&j->mu);
    for (long i = 0; i < j->n; i++)
        if (j->threads[i].started)
            pthread_join(j->threads[i].thread, NULL);
    free(j->threads);
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->mu);
    free(j);
    st->jobs = NULL;
}
