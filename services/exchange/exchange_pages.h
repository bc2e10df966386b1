/* What an export selects, read a page at a time: the request to customers'
 * ListCustomers (or search's SearchCustomers when q is given) for a page,
 * and the page out of its answer; the CSV rows and the workbook built from
 * the pages. Shared by the export streamed to the gateway (exchange_export.c)
 * and the export jobs (exchange_jobs_run.c), which send the requests their
 * own ways. */
#ifndef EXCHANGE_PAGES_H
#define EXCHANGE_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_buf.h"
#include "cm_db.h"
#include "cm_err.h"
#include "exchange_headers.h"
#include "exchange_zone.h"
#include "customers.pb-c.h"
#include "exchange.pb-c.h"
#include "search.pb-c.h"
#include "wallet.pb-c.h"

#define EXCHANGE_CSV_TYPE "text/csv; charset=utf-8"
#define EXCHANGE_XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#define EXCHANGE_SEARCH_PAGE 100 /* SearchCustomers' most */

/* The request for one page: the one of list and search that msg points to. */
struct exchange_page_req {
    const char *service; // "customers" or "search"
    const char *method;  // "customers.ListCustomers" or "search.SearchCustomers"
    const ProtobufCMessageDescriptor *resp_desc;
    Crm__ListCustomersRequest list;     // borrows from the export request and token
    Crm__SearchCustomersRequest search; // likewise
    const ProtobufCMessage *msg;        // borrowed (this struct)
};

/* Fills out for the page at token ("" for the first) of at most size
 * customers (a search: at most EXCHANGE_SEARCH_PAGE) of what req selects.
 * out borrows from req and token. */
void exchange_page_request(const Crm__ExportCustomersRequest *req, const char *token, int size,
                           struct exchange_page_req *out);

/* One page of what an export selects. */
struct exchange_page {
    ProtobufCMessage *resp;    // owned: the list or search response
    Crm__Customer **customers; // borrowed (resp)
    size_t n;
    const char *next; // borrowed (resp): "" on the last page
    long total;       // the answer's total_size
    /* The page's balances (customers.ListWallets), in the customers' order. */
    Crm__ListWalletsResponse *wallets_resp; // owned; NULL until taken
    const Crm__WalletBalance **wallets;     // owned array, borrowed entries (wallets_resp);
                                            // an entry NULL when customers had none
    char **ids;                             // owned array, borrowed entries (resp)
};

/* Takes over resp, the answer to a request of exchange_page_request for q. */
void exchange_page_take(bool q, ProtobufCMessage *resp, struct exchange_page *pg);
void exchange_page_release(struct exchange_page *pg);

/* The request for the balances of pg's customers (customers.ListWallets);
 * it borrows from pg. False when pg has no customers (nothing to ask). */
bool exchange_page_wallets_request(struct exchange_page *pg, Crm__ListWalletsRequest *req);
/* Takes over resp, the answer to it, and lines its balances up with pg's customers. */
void exchange_page_take_wallets(struct exchange_page *pg, ProtobufCMessage *resp);
/* The balances of pg's customer i, or NULL. */
const Crm__WalletBalance *exchange_page_wallet(const struct exchange_page *pg, size_t i);

/* Reads the page at token into pg. Returns 0, or -1 after reporting the
 * failure its own way (ctx). */
typedef int (*exchange_page_fn)(void *ctx, const char *token, struct exchange_page *pg);

/* Reads the page at token ("" for the first) of at most size customers of
 * what req selects, as the caller of call (exchange_export.c). Returns 0, or
 * -1 with the call failed: what the service asked answered, its pageToken
 * named cursor. */
struct cm_call;
int exchange_export_read_page(struct cm_call *call, const Crm__ExportCustomersRequest *req,
                              const char *token, int size, struct exchange_page *pg);

/* The BOM and the header row of the CSV layout in headers' language. */
void exchange_csv_header(cm_buf_t *out, char delim, enum exchange_headers headers);
/* One customer's row, with their balances w (NULL: none known); cell is scratch space. */
void exchange_csv_customer(cm_buf_t *out, cm_buf_t *cell, const Crm__Customer *c,
                           const Crm__WalletBalance *w, char delim);

/* Builds a whole workbook of what read gives, page after page, into path
 * (temporary files in tmpdir), its header row in headers' language, its
 * times on zone's wall clock (exchange_xlsx_new), calling
 * progress (when not NULL) after each page with the rows so far. Returns the
 * rows; or -1 with *err CM_OK when read failed (it reported why), else *err
 * and why filled. */
long exchange_workbook_build(const char *path, const char *tmpdir, enum exchange_headers headers,
                             const struct exchange_zone *zone, exchange_page_fn read,
                             void (*progress)(void *ctx, long rows), void *ctx, cm_err_t *err,
                             char *why, size_t whysz);

/* An export's file as asked for: its format, delimiter and header row. */
struct exchange_format {
    bool xlsx;
    char delim; // CSV: ',' or ';'
    enum exchange_headers headers;
};

/* Checks an export's format ("csv", "xlsx" or "" for csv), delimiter (CSV:
 * ",", ";" or "" for ",") and headers (exchange_headers_parse), failing call
 * naming each field that is wrong; fills out. Returns true when all are good. */
bool exchange_check_format(struct cm_call *call, const char *format, const char *delimiter,
                           const char *headers, struct exchange_format *out);

/* "customers-<stamp>.<ext>" into out. */
void exchange_filename(char *out, size_t size, const char *stamp, const char *ext);

/* The business's time zone (an IANA name) from customers.GetSettings (as the
 * caller) into zone; "UTC" should customers not answer (logged). */
struct cm_call;
void exchange_business_zone(struct cm_call *call, char *zone, size_t size);

/* exchange_filename of now on the business's wall clock
 * ("customers-YYYYMMDD-HHMMSS.<ext>"): its time zone from
 * exchange_business_zone, the local time from PostgreSQL. Should either
 * fail, UTC (logged). */
void exchange_local_filename(struct cm_call *call, char *out, size_t size, const char *ext);

/* exchange_filename of now on the wall clock of zone (PostgreSQL's time);
 * UTC's should the database not know it (logged). */
void exchange_zone_filename(cm_db_t *db, const char *zone, char *out, size_t size, const char *ext);

/* The offsets of time zone name (exchange_store_zone) into z, or UTC's when
 * the database cannot give them (logged). Release with exchange_zone_release. */
void exchange_zone_load(cm_db_t *db, const char *name, struct exchange_zone *z);

#endif
