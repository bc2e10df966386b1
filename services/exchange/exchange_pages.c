/* Reading an export's selection a page at a time, and writing it out. */
#include "exchange_pages.h"
#include "exchange_csv.h"
#include "exchange_layout.h"
#include "exchange_xlsx.h"
#include "exchange_store.h"
#include "cm_log.h"
#include "cm_svc.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void exchange_page_request(const Crm__ExportCustomersRequest *req, const char *token, int size,
                           struct exchange_page_req *out)
{
    memset(out, 0, sizeof *out);
    if (req->q[0]) {
        Crm__SearchCustomersRequest *s = &out->search;
        crm__search_customers_request__init(s);
        s->q = req->q;
        s->page_size = size < EXCHANGE_SEARCH_PAGE ? size : EXCHANGE_SEARCH_PAGE;
        s->page_token = (char *)token;
        s->group = req->group;
        s->tag = req->tag;
        s->is_company = req->is_company;
        s->has_account = req->has_account;
        s->account_status = req->account_status;
        s->consistent_with = req->consistent_with;
        s->n_consistent_with = req->n_consistent_with;
        out->service = "search";
        out->method = "search.SearchCustomers";
        out->resp_desc = &crm__search_customers_response__descriptor;
        out->msg = &s->base;
        return;
    }
    Crm__ListCustomersRequest *l = &out->list;
    crm__list_customers_request__init(l);
    l->page_size = size;
    l->page_token = (char *)token;
    l->group = req->group;
    l->tag = req->tag;
    l->is_company = req->is_company;
    l->has_account = req->has_account;
    l->account_status = req->account_status;
    out->service = "customers";
    out->method = "customers.ListCustomers";
    out->resp_desc = &crm__list_customers_response__descriptor;
    out->msg = &l->base;
}

void exchange_page_take(bool q, ProtobufCMessage *resp, struct exchange_page *pg)
{
    memset(pg, 0, sizeof *pg);
    pg->resp = resp;
    if (q) {
        Crm__SearchCustomersResponse *r = (Crm__SearchCustomersResponse *)resp;
        pg->customers = r->customers;
        pg->n = r->n_customers;
        pg->next = r->next_page_token;
        pg->total = r->total_size;
    } else {
        Crm__ListCustomersResponse *r = (Crm__ListCustomersResponse *)resp;
        pg->customers = r->customers;
        pg->n = r->n_customers;
        pg->next = r->next_page_token;
        pg->total = r->total_size;
    }
}

void exchange_page_release(struct exchange_page *pg)
{
    if (pg->resp)
        protobuf_c_message_free_unpacked(pg->resp, NULL);
    if (pg->wallets_resp)
        crm__list_wallets_response__free_unpacked(pg->wallets_resp, NULL);
    free(pg->wallets);
    free(pg->ids);
    memset(pg, 0, sizeof *pg);
}

bool exchange_page_wallets_request(struct exchange_page *pg, Crm__ListWalletsRequest *req)
{
    crm__list_wallets_request__init(req);
    if (!pg->n)
        return false;
    free(pg->ids);
    pg->ids = cm_calloc(pg->n, sizeof *pg->ids);
    for (size_t i = 0; i < pg->n; i++)
        pg->ids[i] = pg->customers[i]->id;
    req->ids = pg->ids;
    req->n_ids = pg->n;
    return true;
}

void exchange_page_take_wallets(struct exchange_page *pg, ProtobufCMessage *resp)
{
    pg->wallets_resp = (Crm__ListWalletsResponse *)resp;
    pg->wallets = cm_calloc(pg->n ? pg->n : 1, sizeof *pg->wallets);
    /* In the order asked for, less any customer deleted meanwhile: walk both. */
    size_t k = 0;
    for (size_t i = 0; i < pg->n && k < pg->wallets_resp->n_wallets; i++)
        if (!strcmp(pg->wallets_resp->wallets[k]->customer_id, pg->customers[i]->id))
            pg->wallets[i] = pg->wallets_resp->wallets[k++];
}

const Crm__WalletBalance *exchange_page_wallet(const struct exchange_page *pg, size_t i)
{
    return pg->wallets && i < pg->n ? pg->wallets[i] : NULL;
}

void exchange_csv_header(cm_buf_t *out, char delim, enum exchange_headers headers)
{
    if (cm_buf_append(out, EXCHANGE_CSV_BOM, 3))
        abort();
    for (size_t i = 0; i < exchange_n_columns; i++) {
        if (i && cm_buf_append(out, &delim, 1))
            abort();
        const char *name = exchange_header(i, headers);
        exchange_csv_field(out, name, strlen(name));
    }
    exchange_csv_end_row(out);
}

void exchange_csv_customer(cm_buf_t *out, cm_buf_t *cell, const Crm__Customer *c,
                           const Crm__WalletBalance *w, char delim)
{
    for (size_t i = 0; i < exchange_n_columns; i++) {
        if (i && cm_buf_append(out, &delim, 1))
            abort();
        exchange_layout_cell(i, c, w, cell);
        exchange_csv_field(out, cell->data ? cell->data : "", cell->len);
    }
    exchange_csv_end_row(out);
}

long exchange_workbook_build(const char *path, const char *tmpdir, enum exchange_headers headers,
                             const struct exchange_zone *zone, exchange_page_fn read,
                             void (*progress)(void *ctx, long rows), void *ctx, cm_err_t *err,
                             char *why, size_t whysz)
{
    *err = CM_OK;
    exchange_xlsx_t *x = exchange_xlsx_new(path, tmpdir, headers, zone);
    if (!x) {
        *err = CM_ERR_INTERNAL;
        snprintf(why, whysz, "could not start the workbook");
        return -1;
    }
    long rows = 0;
    bool failed = false;
    char *token = cm_strdup("");
    while (!failed) {
        struct exchange_page pg;
        if (read(ctx, token, &pg)) {
            failed = true;
            break;
        }
        for (size_t i = 0; i < pg.n && !failed; i++) {
            if (!exchange_xlsx_row(x, pg.customers[i], exchange_page_wallet(&pg, i))) {
                rows++;
                continue;
            }
            failed = true;
            if (rows >= EXCHANGE_XLSX_MAX_ROWS) {
                *err = CM_ERR_TOO_LARGE;
                snprintf(why, whysz, "a workbook holds at most %ld customers; export as csv",
                         EXCHANGE_XLSX_MAX_ROWS);
            } else {
                *err = CM_ERR_INTERNAL;
                snprintf(why, whysz, "could not write the workbook (after %ld customers)", rows);
            }
        }
        free(token);
        token = cm_strdup(pg.next);
        exchange_page_release(&pg);
        if (!failed && progress)
            progress(ctx, rows);
        if (!token[0])
            break;
    }
    free(token);
    if (exchange_xlsx_close(&x) && !failed) {
        failed = true;
        *err = CM_ERR_INTERNAL;
        snprintf(why, whysz, "could not finish the workbook");
    }
    return failed ? -1 : rows;
}

void exchange_filename(char *out, size_t size, const char *stamp, const char *ext)
{
    snprintf(out, size, "customers-%s.%s", stamp, ext);
}

/* How long a file name waits for customers.GetSettings. */
#define SETTINGS_TIMEOUT_MS 2000

/* The business's time zone into zone, or false (logged). */
static bool s_zone(struct cm_call *call, char *zone, size_t size)
{
    ProtobufCMessage *s = cm_call_settings(call, NULL, NULL, SETTINGS_TIMEOUT_MS);
    bool ok = s && ((const Crm__Settings *)s)->time_zone[0];
    if (ok)
        snprintf(zone, size, "%s", ((const Crm__Settings *)s)->time_zone);
    if (s)
        protobuf_c_message_free_unpacked(s, NULL);
    return ok;
}

void exchange_business_zone(struct cm_call *call, char *zone, size_t size)
{
    if (!s_zone(call, zone, size))
        snprintf(zone, size, "UTC");
}

void exchange_zone_load(cm_db_t *db, const char *name, struct exchange_zone *z)
{
    if (exchange_store_zone(db, name, z))
        cm_log_warn("could not read the offsets of time zone %s, times in UTC: %s", name,
                    cm_db_error(db));
}

void exchange_zone_filename(cm_db_t *db, const char *zone, char *out, size_t size, const char *ext)
{
    char stamp[16];
    if (exchange_store_local_stamp(db, zone, stamp)) {
        cm_log_warn("could not read the time in %s: %s", zone, cm_db_error(db));
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    }
    exchange_filename(out, size, stamp, ext);
}

void exchange_local_filename(struct cm_call *call, char *out, size_t size, const char *ext)
{
    char zone[80];
    exchange_business_zone(call, zone, sizeof zone);
    exchange_zone_filename(call->db, zone, out, size, ext);
}

bool exchange_check_format(struct cm_call *call, const char *format, const char *delimiter,
                           const char *headers, struct exchange_format *out)
{
    bool ok = true;
    out->xlsx = !strcmp(format, "xlsx");
    if (format[0] && strcmp(format, "csv") && !out->xlsx) {
        cm_call_violation(call, "format", "INVALID_VALUE", "format must be csv or xlsx");
        ok = false;
    }
    out->delim = ',';
    if (delimiter[0] && out->xlsx) {
        cm_call_violation(call, "delimiter", "INVALID_VALUE", "delimiter applies to csv only");
        ok = false;
    } else if (!strcmp(delimiter, ";")) {
        out->delim = ';';
    } else if (delimiter[0] && strcmp(delimiter, ",")) {
        cm_call_violation(call, "delimiter", "INVALID_VALUE", "delimiter must be \",\" or \";\"");
        ok = false;
    }
    if (exchange_headers_parse(headers, &out->headers)) {
        cm_call_violation(call, "headers", "INVALID_VALUE",
                          "headers must be api, en, de, pl, nb or bg");
        ok = false;
    }
    return ok;
}
