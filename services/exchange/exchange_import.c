/* The import's methods: an uploaded file arrives in parts
 * (exchange.PutUploadPart), becomes a job (exchange.CreateImport) that a
 * worker thread of some copy runs (exchange_worker.c), and is watched
 * (exchange.GetImport); its failed rows come back as CSV
 * (exchange.ExportFailedRows). */
#include "exchange_handlers.h"
#include "exchange_csv.h"
#include "exchange_headers.h"
#include "exchange_import_store.h"
#include "exchange_pages.h"
#include "exchange_layout.h"
#include "exchange_rows.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "exchange.pb-c.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FAILED_PAGE 500

bool exchange_is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

void exchange_put_upload_part(struct cm_call *call, const ProtobufCMessage *msg,
                              ProtobufCMessage **resp)
{
    const Crm__PutUploadPartRequest *req = (const Crm__PutUploadPartRequest *)msg;
    const struct exchange_state *st = call->user;
    if (!exchange_is_uuid(req->upload_id))
        cm_call_violation(call, "uploadId", "INVALID_FORMAT", "uploadId must be a UUID");
    if (req->seq < 0 || (int64_t)req->seq * EXCHANGE_UPLOAD_PART_MAX >= st->upload_max)
        cm_call_violation(call, "seq", "OUT_OF_RANGE", "seq must be 0..%lld",
                          (long long)(st->upload_max / EXCHANGE_UPLOAD_PART_MAX));
    if (req->data.len == 0 || req->data.len > EXCHANGE_UPLOAD_PART_MAX)
        cm_call_violation(call, "data", "OUT_OF_RANGE", "a part holds 1 to %d bytes",
                          EXCHANGE_UPLOAD_PART_MAX);
    if (cm_call_failed(call))
        return;
    int64_t total = 0;
    cm_err_t err = exchange_istore_put_part(call->db, call->hdr->tenant_id, req->upload_id,
                                            req->seq, req->data.data, req->data.len, &total);
    if (err) {
        cm_call_db_fail(call, err, "could not keep the uploaded part");
        return;
    }
    if (total > st->upload_max) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "the file exceeds %lld bytes",
                     (long long)st->upload_max);
        return;
    }
    Crm__PutUploadPartResponse *r =
        (Crm__PutUploadPartResponse *)cm_pb_new(&crm__put_upload_part_response__descriptor);
    r->size = total;
    *resp = &r->base;
}

/* Checks "Header=column;Header=column" (column a layout column or empty). */
static void s_check_mapping(struct cm_call *call, const char *mapping)
{
    if (strlen(mapping) > 8192) {
        cm_call_violation(call, "mapping", "TOO_LONG", "mapping is at most 8192 bytes");
        return;
    }
    for (const char *item = mapping; *item;) {
        size_t len = strcspn(item, ";");
        const char *eq = memchr(item, '=', len);
        if (len && (!eq || eq == item)) {
            cm_call_violation(call, "mapping", "INVALID_FORMAT",
                              "mapping must be Header=column pairs separated by ';'");
            return;
        }
        if (eq) {
            char col[80];
            snprintf(col, sizeof col, "%.*s", (int)(item + len - eq - 1), eq + 1);
            if (col[0] && exchange_column_of_header(col) < 0) {
                cm_call_violation(call, "mapping", "INVALID_VALUE",
                                  "mapping names %.60s, which is not a column of the layout", col);
                return;
            }
        }
        item += len;
        if (*item == ';')
            item++;
    }
}

void exchange_create_import(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__CreateImportRequest *req = (const Crm__CreateImportRequest *)msg;
    struct exchange_state *st = call->user;
    if (!exchange_is_uuid(req->upload_id))
        cm_call_violation(call, "uploadId", "INVALID_FORMAT", "uploadId must be a UUID");
    if (req->parts < 1)
        cm_call_violation(call, "file", "REQUIRED", "the file is empty");
    if ((int)req->mode < 0 || (int)req->mode > 3)
        cm_call_violation(call, "mode", "INVALID_VALUE",
                          "mode must be CREATE_OR_UPDATE, CREATE_ONLY or UPDATE_ONLY");
    if (req->delimiter[0] && strcmp(req->delimiter, ",") && strcmp(req->delimiter, ";") &&
        strcmp(req->delimiter, "tab"))
        cm_call_violation(call, "delimiter", "INVALID_VALUE",
                          "delimiter must be \",\", \";\" or \"tab\" (or left out to detect it)");
    enum exchange_encoding enc;
    if (req->encoding[0] && exchange_encoding_parse(req->encoding, &enc))
        cm_call_violation(call, "encoding", "INVALID_VALUE",
                          "encoding must be utf-8, windows-1250 or windows-1252 (or left out "
                          "to detect it)");
    s_check_mapping(call, req->mapping);
    if (cm_call_failed(call))
        return;
    long count = 0, top = 0;
    int64_t size = 0;
    cm_err_t err = exchange_istore_upload_size(call->db, req->upload_id, &count, &top, &size);
    if (err) {
        cm_call_db_fail(call, err, "could not read the upload");
        return;
    }
    if (count != req->parts || top != req->parts) {
        cm_call_violation(call, "uploadId", "INCOMPLETE", "the upload holds %ld of its %d parts",
                          count, req->parts);
        return;
    }
    if (size > st->upload_max) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "the file exceeds %lld bytes",
                     (long long)st->upload_max);
        return;
    }
    const Crm__Principal *pr = call->hdr->principal;
    Crm__Principal none = CRM__PRINCIPAL__INIT;
    size_t plen = crm__principal__get_packed_size(pr ? pr : &none);
    uint8_t *packed = cm_malloc(plen ? plen : 1);
    crm__principal__pack(pr ? pr : &none, packed);
    char id[37], zone[64];
    exchange_business_zone(call, zone, sizeof zone);
    err = exchange_istore_create(call->db, call->hdr->tenant_id, req, size, packed, plen,
                                 call->hdr->request_id, zone, id);
    free(packed);
    if (!err) {
        Crm__Import *im = NULL;
        err = exchange_istore_get(call->db, id, &im);
        if (!err)
            *resp = &im->base;
        exchange_worker_wake(call->user);
    }
    if (err)
        cm_call_db_fail(call, err, "could not start the import");
}

void exchange_get_import(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetImportRequest *req = (const Crm__GetImportRequest *)msg;
    if (!exchange_is_uuid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no import %.64s", req->id);
        return;
    }
    Crm__Import *im = NULL;
    cm_err_t err = exchange_istore_get(call->db, req->id, &im);
    if (err == CM_ERR_NOT_FOUND)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no import %s", req->id);
    else if (err)
        cm_call_db_fail(call, err, "could not read the import");
    else
        *resp = &im->base;
}

/* One failed row as CSV: its fields as read, then the reason. */
static void s_failed_row(cm_buf_t *out, const char *fields_json, size_t n_headers, long row,
                         const char *column, const char *message)
{
    json_t *fields = json_loads(fields_json, 0, NULL);
    for (size_t i = 0; i < n_headers; i++) {
        const char *v = json_string_value(json_array_get(fields, i));
        exchange_csv_field(out, v ? v : "", v ? strlen(v) : 0);
        if (cm_buf_append(out, ",", 1))
            abort();
    }
    json_decref(fields);
    char *reason = column[0] ? cm_strfmt("row %ld, %s: %s", row, column, message)
                             : cm_strfmt("row %ld: %s", row, message);
    exchange_csv_field(out, reason, strlen(reason));
    free(reason);
    exchange_csv_end_row(out);
}

void exchange_export_failed_rows(struct cm_call *call, const ProtobufCMessage *msg,
                                 ProtobufCMessage **resp)
{
    const Crm__ExportFailedRowsRequest *req = (const Crm__ExportFailedRowsRequest *)msg;
    if (!exchange_is_uuid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no import %.64s", req->id);
        return;
    }
    long after = 0;
    if (req->cursor[0] && cm_parse_long(req->cursor, 1, 1L << 40, &after)) {
        cm_call_violation(call, "cursor", "INVALID_FORMAT",
                          "cursor is not one this download gave; start again without it");
        return;
    }
    char *headers_text = NULL;
    cm_err_t err = exchange_istore_headers(call->db, req->id, &headers_text);
    if (err == CM_ERR_NOT_FOUND) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no import %s", req->id);
        return;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not read the import");
        return;
    }
    json_t *headers = json_loads(headers_text, 0, NULL);
    free(headers_text);
    size_t nh = json_array_size(headers);
    PGresult *res = exchange_istore_failures(call->db, req->id, after, S_FAILED_PAGE, &err);
    if (!res) {
        json_decref(headers);
        cm_call_db_fail(call, err, "could not read the failed rows");
        return;
    }
    cm_buf_t out;
    cm_buf_init(&out, 0);
    if (!after) {
        if (cm_buf_append(&out, EXCHANGE_CSV_BOM, 3))
            abort();
        for (size_t i = 0; i < nh; i++) {
            const char *h = json_string_value(json_array_get(headers, i));
            exchange_csv_field(&out, h ? h : "", h ? strlen(h) : 0);
            if (cm_buf_append(&out, ",", 1))
                abort();
        }
        exchange_csv_field(&out, "reason", 6);
        exchange_csv_end_row(&out);
    }
    json_decref(headers);
    int n = PQntuples(res);
    long last = after;
    for (int i = 0; i < n; i++) {
        last = strtol(PQgetvalue(res, i, 0), NULL, 10);
        s_failed_row(&out, PQgetvalue(res, i, 4), nh, last, PQgetvalue(res, i, 1),
                     PQgetvalue(res, i, 3));
    }
    PQclear(res);
    Crm__ExportChunk *ch = (Crm__ExportChunk *)cm_pb_new(&crm__export_chunk__descriptor);
    cm_pb_set_str(&ch->content_type, "text/csv; charset=utf-8");
    char name[80];
    snprintf(name, sizeof name, "failed-rows-%.8s.csv", req->id);
    cm_pb_set_str(&ch->filename, name);
    ch->data.data = (uint8_t *)cm_buf_steal(&out, &ch->data.len);
    ch->done = n < S_FAILED_PAGE;
    if (!ch->done) {
        char next[24];
        snprintf(next, sizeof next, "%ld", last);
        cm_pb_set_str(&ch->next_cursor, next);
    }
    *resp = &ch->base;
}

void exchange_list_columns(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__ListColumnsRequest *req = (const Crm__ListColumnsRequest *)msg;
    enum exchange_headers h;
    if (exchange_headers_parse(req->headers, &h)) {
        cm_call_violation(call, "headers", "INVALID_VALUE",
                          "headers must be api, en, de, pl, nb or bg");
        return;
    }
    Crm__ListColumnsResponse *r =
        (Crm__ListColumnsResponse *)cm_pb_new(&crm__list_columns_response__descriptor);
    r->columns = cm_calloc(exchange_n_columns, sizeof *r->columns);
    r->labels = cm_calloc(exchange_n_columns, sizeof *r->labels);
    for (size_t i = 0; i < exchange_n_columns; i++) {
        cm_pb_set_str(&r->columns[r->n_columns++], exchange_columns[i].name);
        cm_pb_set_str(&r->labels[r->n_labels++], exchange_header(i, h));
    }
    *resp = &r->base;
}
