/* Writing CSV for export: RFC 4180 fields through libcsv, made safe from
 * formula injection. Pure: no I/O. */
#ifndef EXCHANGE_CSV_H
#define EXCHANGE_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_buf.h"

/* UTF-8's byte order mark, which Excel needs to read a CSV file as UTF-8. */
#define EXCHANGE_CSV_BOM "\xEF\xBB\xBF"

/* True when a spreadsheet would run text as a formula (or start one from it):
 * it begins with '=', '+', '-', '@', a tab or a carriage return. */
bool exchange_csv_formula_like(const char *s, size_t len);

/* Appends one field, s[0..len), quoted (libcsv doubles any quote; a field
 * may hold the delimiter, quotes and line breaks). Text a spreadsheet would
 * take for a formula gets a leading apostrophe inside the quotes (CWE-1236),
 * which the import strips again. out must be uncapped. */
void exchange_csv_field(cm_buf_t *out, const char *s, size_t len);

/* Appends the end of a record: CRLF. */
void exchange_csv_end_row(cm_buf_t *out);

#endif
