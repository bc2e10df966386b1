/* The header row's language: the API's names (firstName, vatNumber, ...),
 * which scripts rely on, or the labels a person reads in the UI's languages
 * (English, German, Polish, Norwegian, Bulgarian). One table of labels per
 * layout column; the export writes them, the import knows them all, and the
 * UI's message catalogue uses the same words for the same fields
 * (test_exchange_headers.py checks that). Pure: no I/O. */
#ifndef EXCHANGE_HEADERS_H
#define EXCHANGE_HEADERS_H

#include <stddef.h>

enum exchange_headers {
    EXCHANGE_HEADERS_API = 0, // the layout's names, as the JSON API spells them
    EXCHANGE_HEADERS_EN,
    EXCHANGE_HEADERS_DE,
    EXCHANGE_HEADERS_PL,
    EXCHANGE_HEADERS_NB,
    EXCHANGE_HEADERS_BG,
};
#define EXCHANGE_N_HEADERS 6

/* Parses a header language: "api", "en", "de", "pl", "nb" or "bg" ("" is
 * "api"). Returns 0, or -1 for anything else. */
int exchange_headers_parse(const char *name, enum exchange_headers *out);

/* The name of h as exchange_headers_parse reads it ("api", "de", ...). */
const char *exchange_headers_name(enum exchange_headers h);

/* The header of layout column i (an index in exchange_columns) in h: its
 * API name for EXCHANGE_HEADERS_API, else its label. A static string. */
const char *exchange_header(size_t i, enum exchange_headers h);

#endif
