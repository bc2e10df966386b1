/* Reading an Excel workbook (.xlsx) for import, row by row in constant
 * memory: the file is a ZIP archive (read here with zlib, entry by entry),
 * its first worksheet an XML stream parsed with expat as it is inflated, so a
 * sheet of a million rows never sits whole in memory. What a cell shows
 * comes back as text: shared and inline strings, numbers as written,
 * booleans as "true"/"false", and numbers formatted as dates as
 * "YYYY-MM-DD" (or "YYYY-MM-DDTHH:MM:SS[.mmm]Z" when the format shows a time);
 * OOXML's escapes ("_x000D_") decoded.
 * Formulas give their cached value. Hostile files (a ZIP bomb, entities,
 * cells or rows beyond Excel's limits) stop with a reason. */
#ifndef EXCHANGE_XLSX_READ_H
#define EXCHANGE_XLSX_READ_H

#include <stddef.h>
#include "cm_err.h"
#include "exchange_zone.h"

/* Excel's own limits: columns a row may have, characters a cell may hold
 * (as UTF-8 bytes, up to 4 a character). */
#define EXCHANGE_XLSX_READ_MAX_COLUMNS 16384
#define EXCHANGE_XLSX_READ_MAX_CELL (32767 * 4)
/* The shared-string table kept in memory (every distinct text of the
 * workbook), and how much a part may inflate to. */
#define EXCHANGE_XLSX_READ_MAX_STRINGS_BYTES (512L * 1024 * 1024)
#define EXCHANGE_XLSX_READ_MAX_PART ((long long)8 * 1024 * 1024 * 1024)
/* A part that inflates more than this many times what was read of it (plus
 * 1 MiB) is refused: spreadsheet XML compresses 5 to 50 times, a bomb a
 * thousand. */
#define EXCHANGE_XLSX_READ_MAX_RATIO 200

typedef struct exchange_xlsx_reader exchange_xlsx_reader_t;

/* Opens the workbook at path and prepares its first worksheet (reading the
 * shared strings and the styles first). Returns the reader, or NULL with a
 * reason for a person ("not an Excel workbook: ...") in why. */
exchange_xlsx_reader_t *exchange_xlsx_reader_new(const char *path, char *why, size_t whysz);

/* The next row that has a cell: returns 1 with *cells (n texts, "" for an
 * empty cell; borrowed until the next call) and the sheet's row number
 * (1-based) in *row; 0 at the end of the sheet; -1 when the sheet cannot be
 * read further (exchange_xlsx_reader_error says why, with the row). */
int exchange_xlsx_reader_next(exchange_xlsx_reader_t *self, const char *const **cells, size_t *n,
                              long *row) CM_MUSTCHECK;

/* Reads date-time cells as wall-clock times of zone (borrowed: it must
 * outlive the reader; exchange_zone_to_utc), handing them out in UTC. Without
 * it (NULL, the default) they are read as UTC. */
void exchange_xlsx_reader_zone(exchange_xlsx_reader_t *self, const struct exchange_zone *zone);

/* Why the last call failed; borrowed. */
const char *exchange_xlsx_reader_error(const exchange_xlsx_reader_t *self);

/* Closes the file and frees the reader; safe on NULL, NULLs *self_p. */
void exchange_xlsx_reader_destroy(exchange_xlsx_reader_t **self_p);

/* A spreadsheet serial date (days since 1899-12-30, or since 1904-01-01 when
 * date1904) as "YYYY-MM-DD", or "YYYY-MM-DDTHH:MM:SS[.mmm]Z" when with_time
 * (milliseconds when there are any): the serial read on zone's wall clock
 * (NULL: UTC's) and given in UTC.
 * Returns 0, or -1 for a serial outside years 1900..9999. */
int exchange_xlsx_read_serial_date(double serial, int date1904, int with_time,
                                   const struct exchange_zone *zone, char *out,
                                   size_t outsz) CM_MUSTCHECK;

/* Whether an Excel number format code shows a date (d, m, y outside quotes,
 * brackets and escapes; "[h]" elapsed times are not dates): 0 no, 1 a date,
 * 2 a date with a time of day. */
int exchange_xlsx_read_format_kind(const char *code);

#endif
