/* Writing the export as an Excel workbook (libxlsxwriter, constant-memory
 * mode: each row goes to a temporary file as it is written, so memory stays
 * flat whatever the number of customers). One sheet, "Customers": a bold
 * header row (frozen) in the language asked for, the layout's column widths,
 * dates and times as spreadsheet dates, true/false as booleans, balances and
 * points as numbers, everything else as text (never a formula): phone
 * numbers, VAT numbers, postcodes and ids keep their "+" and leading zeros. */
#ifndef EXCHANGE_XLSX_H
#define EXCHANGE_XLSX_H

#include <stdbool.h>
#include "cm_err.h"
#include "exchange_headers.h"
#include "exchange_zone.h"
#include "customers.pb-c.h"
#include "wallet.pb-c.h"

/* Rows a sheet holds below its header (Excel's limit less one). */
#define EXCHANGE_XLSX_MAX_ROWS 1048575L

typedef struct exchange_xlsx exchange_xlsx_t;

/* Starts a workbook at path, its temporary files in tmpdir, and writes the
 * header row in headers' language. Date-time cells are written on the wall
 * clock of zone (borrowed; it must outlive the workbook), whose name the
 * workbook keeps as its custom property "timeZone". NULL when it cannot be
 * created (logged). */
exchange_xlsx_t *exchange_xlsx_new(const char *path, const char *tmpdir,
                                   enum exchange_headers headers, const struct exchange_zone *zone);

/* Writes c as the next row. Returns 0, or -1 when the sheet is full
 * (EXCHANGE_XLSX_MAX_ROWS) or the row could not be written. */
int exchange_xlsx_row(exchange_xlsx_t *self, const Crm__Customer *c,
                      const Crm__WalletBalance *w) CM_MUSTCHECK;

/* Finishes the file and frees self (NULLs *self_p). Returns 0, or -1 when the
 * file could not be completed. Safe on NULL. */
int exchange_xlsx_close(exchange_xlsx_t **self_p);

/* The digits after the point of a decimal number s ("-12.50" is 2, "40" 0),
 * or -1 when s is not one (an optional '-', 1 to 15 digits, and an optional
 * point followed by 1 to EXCHANGE_XLSX_MAX_DECIMALS digits). */
#define EXCHANGE_XLSX_MAX_DECIMALS 4
int exchange_xlsx_decimals(const char *s);

/* Parses "YYYY-MM-DD" and, when with_time, "YYYY-MM-DDTHH:MM:SS[.f]Z" (UTC)
 * into its parts (year, month, day, hour, minute, second). Returns 0 or -1. */
int exchange_xlsx_parse_time(const char *s, bool with_time, int out[6]) CM_MUSTCHECK;

/* The UTC parts t (as exchange_xlsx_parse_time gives them) on zone's wall
 * clock, in place. */
void exchange_xlsx_to_local(const struct exchange_zone *zone, int t[6]);

#endif
