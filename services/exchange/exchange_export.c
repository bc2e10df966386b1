/* exchange.ExportCustomers: the customers a list's filters (or a search)
 * select, as CSV or as a workbook, a chunk per call. The service keeps no
 * state between chunks: the cursor says where the next one starts, so any
 * copy can serve any chunk.
 *
 * CSV: each chunk is one page of customers read through customers'
 * ListCustomers (or search's SearchCustomers when q is given), written as it
 * comes; the first chunk starts with the BOM and the header. The cursor is
 * "c<rows>.<the page token of the next page>".
 *
 * XLSX: a workbook ends with its zip directory, so it cannot go out before
 * its last row is in: the first call reads every page into a workbook in a
 * temporary file (constant memory), stores the file in PostgreSQL in parts
 * and answers the first part; the cursor is "x<rows>.<file id>.<part>". */
#include "exchange_handlers.h"
#include "exchange_pages.h"
#include "exchange_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "exchange.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Customers per CSV chunk (ListCustomers allows 1000; a customer's row is at
 * most some 60 KB, the description included, so a chunk stays bounded). */
#define S_LIST_PAGE 500
#define S_WORKBOOK_PAGE 1000
#define S_UPSTREAM_TIMEOUT_MS 10000
#define S_CURSOR_MAX 600

/* ---------------------------------------------------------------------- */
/* Reading the selection a page at a time                                  */

/* Fails call with what the service we read from answered: its field
 * violations under our request's names (its pageToken is our cursor). */
static void s_upstream_fail(struct cm_call *call, const char *method, cm_err_t err,
                            const Crm__ReplyHeader *reply)
{
    if (err || !reply) {
        cm_log_warn("%s: %s", method, cm_err_name(err));
        cm_call_fail(call, err == CM_ERR_TIMEOUT ? CM_ERR_TIMEOUT : CM_ERR_UNAVAILABLE,
                     "could not read the customers to export; try again");
        return;
    }
    for (size_t i = 0; i < reply->n_details; i++) {
        const Crm__FieldViolation *v = reply->details[i];
        const char *field = !strcmp(v->field, "pageToken") ? "cursor" : v->field;
        cm_call_violation(call, field, v->reason, "%s", v->description);
    }
    if (!cm_call_failed(call))
        cm_call_fail(call, cm_err_of_status(reply->status), "%s", reply->message);
}

int exchange_export_read_page(struct cm_call *call, const Crm__ExportCustomersRequest *req,
                              const char *token, int size, struct exchange_page *pg)
{
    memset(pg, 0, sizeof *pg);
    struct exchange_page_req pr;
    exchange_page_request(req, token, size, &pr);
    Crm__ReplyHeader *reply = NULL;
    ProtobufCMessage *resp = NULL;
    cm_err_t err = cm_call_service(call, pr.service, pr.method, NULL, pr.msg, pr.resp_desc,
                                   S_UPSTREAM_TIMEOUT_MS, &reply, &resp);
    int rc = 0;
    if (err || reply->status != CRM__STATUS__STATUS_OK || !resp) {
        s_upstream_fail(call, pr.method, err, reply);
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        rc = -1;
    } else {
        exchange_page_take(req->q[0] != '\0', resp, pg);
    }
    if (reply)
        crm__reply_header__free_unpacked(reply, NULL);
    reply = NULL;
    resp = NULL;
    /* The page's balances, from customers (a search's page has none of its own). */
    Crm__ListWalletsRequest wr;
    if (!rc && exchange_page_wallets_request(pg, &wr)) {
        err = cm_call_service(call, "customers", "customers.ListWallets", NULL, &wr.base,
                              &crm__list_wallets_response__descriptor, S_UPSTREAM_TIMEOUT_MS,
                              &reply, &resp);
        if (err || reply->status != CRM__STATUS__STATUS_OK || !resp) {
            s_upstream_fail(call, "customers.ListWallets", err, reply);
            if (resp)
                protobuf_c_message_free_unpacked(resp, NULL);
            exchange_page_release(pg);
            rc = -1;
        } else {
            exchange_page_take_wallets(pg, resp);
        }
        if (reply)
            crm__reply_header__free_unpacked(reply, NULL);
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The request and its cursor                                              */

struct s_cursor {
    char kind; // 0 (first chunk), 'c' or 'x'
    long rows;
    const char *rest; // borrowed (the request): page token, or "<file id>.<part>"
};

static int s_cursor_parse(const char *text, struct s_cursor *c)
{
    memset(c, 0, sizeof *c);
    if (!text[0])
        return 0;
    if ((text[0] != 'c' && text[0] != 'x') || strlen(text) > S_CURSOR_MAX)
        return -1;
    errno = 0;
    char *end;
    long rows = strtol(text + 1, &end, 10);
    if (errno || end == text + 1 || *end != '.' || rows < 0)
        return -1;
    /* Filled only once whole: a kind always comes with its rest. */
    c->kind = text[0];
    c->rows = rows;
    c->rest = end + 1;
    return 0;
}

/* Checks the request; fails the call naming the field. */
static bool s_valid(struct cm_call *call, const Crm__ExportCustomersRequest *req,
                    struct exchange_format *fmt, struct s_cursor *cur)
{
    (void)exchange_check_format(call, req->format, req->delimiter, req->headers, fmt);
    if (s_cursor_parse(req->cursor, cur) || (cur->kind && cur->kind != (fmt->xlsx ? 'x' : 'c')))
        cm_call_violation(call, "cursor", "INVALID_FORMAT",
                          "cursor is not one this export gave; start again without it");
    return !cm_call_failed(call);
}

static Crm__ExportChunk *s_chunk(const char *type, const char *filename, long rows)
{
    Crm__ExportChunk *ch = (Crm__ExportChunk *)cm_pb_new(&crm__export_chunk__descriptor);
    cm_pb_set_str(&ch->content_type, type);
    cm_pb_set_str(&ch->filename, filename);
    ch->rows = rows;
    return ch;
}

/* ---------------------------------------------------------------------- */
/* CSV                                                                     */

static void s_export_csv(struct cm_call *call, const Crm__ExportCustomersRequest *req,
                         const struct exchange_format *fmt, const struct s_cursor *cur,
                         ProtobufCMessage **resp)
{
    struct exchange_page pg;
    if (exchange_export_read_page(call, req, cur->kind ? cur->rest : "", S_LIST_PAGE, &pg))
        return;
    cm_buf_t out, cell;
    cm_buf_init(&out, 0);
    cm_buf_init(&cell, 0);
    if (!cur->kind)
        exchange_csv_header(&out, fmt->delim, fmt->headers);
    for (size_t i = 0; i < pg.n; i++)
        exchange_csv_customer(&out, &cell, pg.customers[i], exchange_page_wallet(&pg, i),
                              fmt->delim);
    char filename[64];
    exchange_local_filename(call, filename, sizeof filename, "csv");
    Crm__ExportChunk *ch = s_chunk(EXCHANGE_CSV_TYPE, filename, cur->rows + (long)pg.n);
    ch->data.data = (uint8_t *)cm_buf_steal(&out, &ch->data.len);
    ch->done = !pg.next[0];
    if (!ch->done) {
        char *next = cm_strfmt("c%ld.%s", ch->rows, pg.next);
        cm_pb_set_str(&ch->next_cursor, next);
        free(next);
    }
    cm_buf_release(&cell);
    exchange_page_release(&pg);
    *resp = &ch->base;
}

/* ---------------------------------------------------------------------- */
/* XLSX                                                                    */

/* Answers part seq of stored file id. */
static void s_send_part(struct cm_call *call, const char *id, long seq, ProtobufCMessage **resp)
{
    struct exchange_file f;
    uint8_t *data = NULL;
    size_t len = 0;
    cm_err_t err = exchange_store_get_part(call->db, id, seq, &f, &data, &len);
    if (err == CM_ERR_NOT_FOUND || err == CM_ERR_INVALID) {
        cm_call_violation(call, "cursor", "NOT_FOUND",
                          "the export this cursor belongs to is gone; start again without it");
        return;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not read the export");
        return;
    }
    Crm__ExportChunk *ch = s_chunk(f.content_type, f.filename, f.rows);
    ch->data.data = data;
    ch->data.len = len;
    ch->done = seq + 1 >= f.parts;
    if (!ch->done) {
        char *next = cm_strfmt("x%ld.%s.%ld", f.rows, id, seq + 1);
        cm_pb_set_str(&ch->next_cursor, next);
        free(next);
    }
    *resp = &ch->base;
}

/* The workbook's page reader: the call and the request it serves. */
struct s_book {
    struct cm_call *call;
    const Crm__ExportCustomersRequest *req;
};

static int s_book_page(void *ctx, const char *token, struct exchange_page *pg)
{
    struct s_book *b = ctx;
    return exchange_export_read_page(b->call, b->req, token, S_WORKBOOK_PAGE, pg);
}

/* Builds the whole workbook into path. Returns the rows, or -1 with the call
 * failed. */
static long s_build_workbook(struct cm_call *call, const Crm__ExportCustomersRequest *req,
                             enum exchange_headers headers, const char *path, const char *tmpdir,
                             const char *name)
{
    struct s_book b = {call, req};
    cm_err_t err;
    char why[200];
    struct exchange_zone zone;
    exchange_zone_load(call->db, name, &zone);
    long rows = exchange_workbook_build(path, tmpdir, headers, &zone, s_book_page, NULL, &b, &err,
                                        why, sizeof why);
    exchange_zone_release(&zone);
    if (rows < 0 && err)
        cm_call_fail(call, err, "%s", why);
    return rows;
}

static void s_export_xlsx(struct cm_call *call, const Crm__ExportCustomersRequest *req,
                          const struct exchange_format *fmt, const struct s_cursor *cur,
                          ProtobufCMessage **resp)
{
    struct exchange_state *st = call->user;
    if (cur->kind) {
        char id[37];
        const char *dot = strchr(cur->rest, '.');
        long seq = -1;
        if (dot && dot - cur->rest == 36) {
            memcpy(id, cur->rest, 36);
            id[36] = '\0';
            if (cm_parse_long(dot + 1, 0, 1L << 30, &seq))
                seq = -1;
        }
        if (seq < 0) {
            cm_call_violation(call, "cursor", "INVALID_FORMAT",
                              "cursor is not one this export gave; start again without it");
            return;
        }
        s_send_part(call, id, seq, resp);
        return;
    }
    char *path = cm_strfmt("%s/crm-export-XXXXXX", st->tmpdir);
    int fd = mkstemp(path);
    if (fd < 0) {
        cm_log_error("could not make a file in %s: %s", st->tmpdir, strerror(errno));
        cm_call_fail(call, CM_ERR_INTERNAL, "could not start the workbook");
        free(path);
        return;
    }
    close(fd);
    char zone[80];
    exchange_business_zone(call, zone, sizeof zone);
    long rows = s_build_workbook(call, req, fmt->headers, path, st->tmpdir, zone);
    if (rows >= 0) {
        struct exchange_file f = {.rows = rows};
        snprintf(f.content_type, sizeof f.content_type, "%s", EXCHANGE_XLSX_TYPE);
        exchange_zone_filename(call->db, zone, f.filename, sizeof f.filename, "xlsx");
        char id[37];
        cm_err_t err =
            exchange_store_put_file(call->db, call->hdr->tenant_id, path, &f, st->file_hours, id);
        if (err)
            cm_call_db_fail(call, err, "could not keep the workbook");
        else
            s_send_part(call, id, 0, resp);
    }
    unlink(path);
    free(path);
}

void exchange_export_customers(struct cm_call *call, const ProtobufCMessage *msg,
                               ProtobufCMessage **resp)
{
    const Crm__ExportCustomersRequest *req = (const Crm__ExportCustomersRequest *)msg;
    struct exchange_format fmt;
    struct s_cursor cur;
    if (!s_valid(call, req, &fmt, &cur))
        return;
    if (fmt.xlsx)
        s_export_xlsx(call, req, &fmt, &cur, resp);
    else
        s_export_csv(call, req, &fmt, &cur, resp);
}
