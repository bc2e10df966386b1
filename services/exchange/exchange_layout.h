/* The export's column layout (docs/exchange.md, "Columns"): one row per
 * customer, every field of crm.Customer, then the customer's balances (money
 * and points), in a fixed, documented order that only ever grows at the
 * end. Pure: no I/O. */
#ifndef EXCHANGE_LAYOUT_H
#define EXCHANGE_LAYOUT_H

#include <stddef.h>
#include "cm_buf.h"
#include "customers.pb-c.h"
#include "wallet.pb-c.h"

/* How a spreadsheet should see a cell. */
enum exchange_cell {
    EXCHANGE_TEXT = 0,
    EXCHANGE_DATE,     // YYYY-MM-DD
    EXCHANGE_DATETIME, // RFC 3339 in UTC
    EXCHANGE_BOOL,     // "true" / "false" ("" when absent)
    EXCHANGE_NUMBER,   // a decimal number, "-12.50" or "40" (the digits it is written with kept)
};

struct exchange_column {
    const char *name; // the header: lowerCamelCase, as in the JSON API where one matches
    enum exchange_cell type;
    int width; // XLSX column width, in characters
    /* Appends the cell's text for c to out (never fails: out has no cap). */
    void (*get)(const Crm__Customer *c, cm_buf_t *out);
    /* Instead of get, for the wallet's columns: the cell of the customer's
     * balances (nothing when w is NULL). The import reads these but never
     * writes them. */
    void (*get_wallet)(const Crm__WalletBalance *w, cm_buf_t *out);
};

extern const struct exchange_column exchange_columns[];
extern const size_t exchange_n_columns;

/* Lists inside one cell (groups, tags, external ids) are joined with "; ";
 * a ';' or '\' inside an item is written as "\;" or "\\". */
#define EXCHANGE_LIST_SEP "; "

/* Appends s to out with ';' and '\' escaped as in a list cell. */
void exchange_layout_list_item(cm_buf_t *out, const char *s);

/* The text of column i for c, whose balances are w (NULL: none known), into
 * out (emptied first). */
void exchange_layout_cell(size_t i, const Crm__Customer *c, const Crm__WalletBalance *w,
                          cm_buf_t *out);

#endif
