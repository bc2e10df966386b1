/* Export jobs' methods: exchange.CreateExport queues a job (any copy's export
 * thread builds it: exchange_jobs_run.c), exchange.GetExport shows its
 * progress, and exchange.GetExportFile hands out its file a part at a time
 * until it expires (docs/exchange.md, "Export jobs"). */
#include "exchange_handlers.h"
#include "exchange_export_store.h"
#include "exchange_pages.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "exchange.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The export request a job's request stands for (borrowing its fields). */
void exchange_jobs_request(const Crm__CreateExportRequest *c, Crm__ExportCustomersRequest *e)
{
    crm__export_customers_request__init(e);
    e->format = c->format;
    e->delimiter = c->delimiter;
    e->q = c->q;
    e->group = c->group;
    e->tag = c->tag;
    e->is_company = c->is_company;
    e->has_account = c->has_account;
    e->account_status = c->account_status;
    e->headers = c->headers;
}

/* Packs a message into a malloc'd buffer. */
static uint8_t *s_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = cm_malloc(*len ? *len : 1);
    protobuf_c_message_pack(m, b);
    return b;
}

void exchange_create_export(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__CreateExportRequest *req = (const Crm__CreateExportRequest *)msg;
    struct exchange_format fmt;
    if (!exchange_check_format(call, req->format, req->delimiter, req->headers, &fmt))
        return;
    bool xlsx = fmt.xlsx;
    char delim = fmt.delim;
    /* The first customer now: a query or filter the service we read from
     * refuses is a 400 naming it here, not a failed job later; and the
     * total is known from the start. */
    Crm__ExportCustomersRequest ereq;
    exchange_jobs_request(req, &ereq);
    struct exchange_page pg;
    if (exchange_export_read_page(call, &ereq, "", 1, &pg))
        return;
    long total = pg.total;
    exchange_page_release(&pg);
    const Crm__Principal *pr = call->hdr->principal;
    Crm__Principal none = CRM__PRINCIPAL__INIT;
    char filename[64], zone[64];
    exchange_business_zone(call, zone, sizeof zone);
    exchange_zone_filename(call->db, zone, filename, sizeof filename, xlsx ? "xlsx" : "csv");
    struct exchange_export_new x = {
        .tenant = call->hdr->tenant_id,
        .format = xlsx ? "xlsx" : "csv",
        .delimiter = xlsx           ? ""
                     : delim == ';' ? ";"
                                    : ",",
        .filename = filename,
        .content_type = xlsx ? EXCHANGE_XLSX_TYPE : EXCHANGE_CSV_TYPE,
        .request_id = call->hdr->request_id,
        .rows_total = total,
        .headers = exchange_headers_name(fmt.headers),
        .time_zone = zone,
    };
    uint8_t *packed_req = s_pack(&req->base, &x.request_len);
    uint8_t *packed_pr = s_pack(pr ? &pr->base : &none.base, &x.principal_len);
    x.request = packed_req;
    x.principal = packed_pr;
    char id[37];
    cm_err_t err = exchange_xstore_create(call->db, &x, id);
    free(packed_req);
    free(packed_pr);
    Crm__Export *job = NULL;
    if (!err)
        err = exchange_xstore_get(call->db, id, &job);
    if (err) {
        cm_call_db_fail(call, err, "could not start the export");
        return;
    }
    cm_log_info("export %s queued format=%s rows_total=%ld", id, x.format, total);
    exchange_jobs_wake(call->user);
    *resp = &job->base;
}

void exchange_get_export(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetExportRequest *req = (const Crm__GetExportRequest *)msg;
    if (!cm_uuid_valid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no export %.64s", req->id);
        return;
    }
    Crm__Export *job = NULL;
    cm_err_t err = exchange_xstore_get(call->db, req->id, &job);
    if (err == CM_ERR_NOT_FOUND)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no export %s", req->id);
    else if (err)
        cm_call_db_fail(call, err, "could not read the export");
    else
        *resp = &job->base;
}

void exchange_get_export_file(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp)
{
    const Crm__GetExportFileRequest *req = (const Crm__GetExportFileRequest *)msg;
    if (!cm_uuid_valid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no export %.64s", req->id);
        return;
    }
    long seq = 0;
    if (req->cursor[0] && cm_parse_long(req->cursor, 1, 1L << 30, &seq)) {
        cm_call_violation(call, "cursor", "INVALID_FORMAT",
                          "cursor is not one this download gave; start again without it");
        return;
    }
    struct exchange_export_part part;
    cm_err_t err = exchange_xstore_part(call->db, req->id, seq, &part);
    if (err == CM_ERR_NOT_FOUND) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no export %s", req->id);
        return;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not read the export");
        return;
    }
    switch (part.state) {
    case CRM__EXPORT_STATE__EXPORT_STATE_DONE:
        break;
    case CRM__EXPORT_STATE__EXPORT_STATE_EXPIRED:
        cm_call_fail(call, CM_ERR_GONE,
                     "the file of export %s was kept for its time and is gone; export again",
                     req->id);
        return;
    case CRM__EXPORT_STATE__EXPORT_STATE_FAILED:
        cm_call_fail(call, CM_ERR_PRECONDITION, "export %s failed: %s", req->id, part.message);
        return;
    default:
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "export %s is not done yet (%ld customers written); ask again when its state "
                     "is DONE",
                     req->id, part.rows);
        return;
    }
    if (!part.data) {
        /* A cursor past the end of the file. */
        cm_call_violation(call, "cursor", "OUT_OF_RANGE", "the file has %ld parts", part.parts);
        return;
    }
    Crm__ExportChunk *ch = (Crm__ExportChunk *)cm_pb_new(&crm__export_chunk__descriptor);
    cm_pb_set_str(&ch->content_type, part.content_type);
    cm_pb_set_str(&ch->filename, part.filename);
    ch->rows = part.rows;
    ch->data.data = part.data;
    ch->data.len = part.len;
    ch->done = seq + 1 >= part.parts;
    if (!ch->done) {
        char next[24];
        snprintf(next, sizeof next, "%ld", seq + 1);
        cm_pb_set_str(&ch->next_cursor, next);
    }
    *resp = &ch->base;
}
