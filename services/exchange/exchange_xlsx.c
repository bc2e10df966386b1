/* The export as an Excel workbook, through libxlsxwriter. */
#include "exchange_xlsx.h"
#include "exchange_layout.h"
#include "cm_log.h"
#include "cm_util.h"

#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

/* Excel's limit of a cell, which libxlsxwriter checks in bytes. */
#define S_CELL_MAX 32767

struct exchange_xlsx {
    lxw_workbook *wb;                                   // owned
    lxw_worksheet *ws;                                  // borrowed (wb)
    lxw_format *date;                                   // borrowed (wb)
    lxw_format *time;                                   // borrowed (wb)
    lxw_format *number[EXCHANGE_XLSX_MAX_DECIMALS + 1]; // borrowed (wb): by decimals
    const struct exchange_zone *zone;                   // borrowed (caller)
    long rows;                                          // written below the header
    cm_buf_t cell;
    cm_buf_t tmp; // s_escape_x's
};

static int s_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!cm_ascii_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int exchange_xlsx_parse_time(const char *s, bool with_time, int out[6])
{
    memset(out, 0, 6 * sizeof out[0]);
    size_t len = strlen(s);
    if (len < 10 || s[4] != '-' || s[7] != '-')
        return -1;
    out[0] = s_digits(s, 4);
    out[1] = s_digits(s + 5, 2);
    out[2] = s_digits(s + 8, 2);
    if (out[0] < 1900 || out[1] < 1 || out[1] > 12 || out[2] < 1 || out[2] > 31)
        return -1;
    if (!with_time)
        return len == 10 ? 0 : -1;
    if (len < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len - 1] != 'Z')
        return -1;
    out[3] = s_digits(s + 11, 2);
    out[4] = s_digits(s + 14, 2);
    out[5] = s_digits(s + 17, 2);
    if (out[3] < 0 || out[3] > 23 || out[4] < 0 || out[4] > 59 || out[5] < 0 || out[5] > 60)
        return -1;
    /* Fractions of a second are dropped: a spreadsheet shows seconds. */
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        while (cm_ascii_digit((unsigned char)*p))
            p++;
    }
    return p == s + len - 1 ? 0 : -1;
}

int exchange_xlsx_decimals(const char *s)
{
    const char *p = s + (*s == '-');
    size_t whole = strspn(p, "0123456789");
    if (whole < 1 || whole > 15)
        return -1;
    p += whole;
    if (!*p)
        return 0;
    if (*p != '.')
        return -1;
    size_t frac = strspn(p + 1, "0123456789");
    if (frac < 1 || frac > EXCHANGE_XLSX_MAX_DECIMALS || p[1 + frac])
        return -1;
    return (int)frac;
}

void exchange_xlsx_to_local(const struct exchange_zone *zone, int t[6])
{
    int64_t utc = cm_days_from_civil(t[0], t[1], t[2]) * 86400 + t[3] * 3600 + t[4] * 60 + t[5];
    exchange_zone_split(utc + exchange_zone_offset(zone, utc), t);
}

exchange_xlsx_t *exchange_xlsx_new(const char *path, const char *tmpdir,
                                   enum exchange_headers headers, const struct exchange_zone *zone)
{
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = (char *)tmpdir};
    lxw_workbook *wb = workbook_new_opt(path, &opt);
    if (!wb) {
        cm_log_error("could not start a workbook in %s", tmpdir);
        return NULL;
    }
    exchange_xlsx_t *self = cm_calloc(1, sizeof *self);
    self->wb = wb;
    self->zone = zone;
    self->ws = workbook_add_worksheet(wb, "Customers");
    /* Excel has no zones: the times are the business's; say whose. */
    workbook_set_custom_property_string(wb, "timeZone", zone->name);
    self->date = workbook_add_format(wb);
    format_set_num_format(self->date, "yyyy-mm-dd");
    self->time = workbook_add_format(wb);
    format_set_num_format(self->time, "yyyy-mm-dd hh:mm:ss");
    /* Numbers shown with the digits they were written with ("10.50", not
     * "10.5"), thousands grouped as the reader's spreadsheet groups them. */
    static const char *const number_formats[] = {"#,##0", "#,##0.0", "#,##0.00", "#,##0.000",
                                                 "#,##0.0000"};
    for (int d = 0; d <= EXCHANGE_XLSX_MAX_DECIMALS; d++) {
        self->number[d] = workbook_add_format(wb);
        format_set_num_format(self->number[d], number_formats[d]);
    }
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);
    cm_buf_init(&self->cell, 0);
    cm_buf_init(&self->tmp, 0);
    /* In constant-memory mode column widths and panes come before any row. */
    for (size_t i = 0; i < exchange_n_columns; i++)
        worksheet_set_column(self->ws, (lxw_col_t)i, (lxw_col_t)i, exchange_columns[i].width, NULL);
    worksheet_freeze_panes(self->ws, 1, 0);
    for (size_t i = 0; i < exchange_n_columns; i++)
        worksheet_write_string(self->ws, 0, (lxw_col_t)i, exchange_header(i, headers), bold);
    return self;
}

/* Excel keeps at most 32,767 characters in a cell; libxlsxwriter counts bytes.
 * The layout's longest field (description, 10,000 characters) fits in
 * characters but may not in bytes: cut at a character boundary. */
static void s_fit_cell(cm_buf_t *cell)
{
    if (cell->len <= S_CELL_MAX)
        return;
    size_t n = S_CELL_MAX;
    while (n && ((unsigned char)cell->data[n] & 0xC0) == 0x80)
        n--;
    cell->len = n;
    cell->data[n] = '\0';
}

static bool s_hex(char c)
{
    return cm_ascii_digit((unsigned char)c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Text that reads as one of OOXML's escapes ("_x000D_" is a carriage return
 * to a spreadsheet) keeps its literal '_' as "_x005F_", as Excel writes it;
 * libxlsxwriter escapes control characters but not this. */
static void s_escape_x(cm_buf_t *cell, cm_buf_t *tmp)
{
    const char *s = cell->data;
    if (!strstr(s, "_x"))
        return;
    cm_buf_reset(tmp);
    for (size_t i = 0; i < cell->len; i++) {
        bool esc = i + 7 <= cell->len && s[i] == '_' && s[i + 1] == 'x' && s[i + 6] == '_' &&
                   s_hex(s[i + 2]) && s_hex(s[i + 3]) && s_hex(s[i + 4]) && s_hex(s[i + 5]);
        if (cm_buf_append(tmp, esc ? "_x005F" : "", esc ? 6 : 0) || cm_buf_append(tmp, s + i, 1))
            return;
    }
    cm_buf_reset(cell);
    if (cm_buf_append(cell, tmp->data, tmp->len))
        return;
}

int exchange_xlsx_row(exchange_xlsx_t *self, const Crm__Customer *c, const Crm__WalletBalance *w)
{
    if (self->rows >= EXCHANGE_XLSX_MAX_ROWS)
        return -1;
    lxw_row_t row = (lxw_row_t)(self->rows + 1);
    for (size_t i = 0; i < exchange_n_columns; i++) {
        exchange_layout_cell(i, c, w, &self->cell);
        if (!self->cell.len)
            continue;
        lxw_col_t col = (lxw_col_t)i;
        const char *text = self->cell.data;
        lxw_error rc = LXW_NO_ERROR;
        int t[6];
        enum exchange_cell type = exchange_columns[i].type;
        int decimals = type == EXCHANGE_NUMBER ? exchange_xlsx_decimals(text) : -1;
        if (type == EXCHANGE_BOOL) {
            rc = worksheet_write_boolean(self->ws, row, col, !strcmp(text, "true"), NULL);
        } else if ((type == EXCHANGE_DATE || type == EXCHANGE_DATETIME) &&
                   !exchange_xlsx_parse_time(text, type == EXCHANGE_DATETIME, t)) {
            /* Milliseconds too: a spreadsheet date carries fractions of a second. */
            const char *dot = type == EXCHANGE_DATETIME ? strchr(text, '.') : NULL;
            double frac = dot ? strtod(dot, NULL) : 0;
            if (type == EXCHANGE_DATETIME)
                exchange_xlsx_to_local(self->zone, t);
            lxw_datetime dt = {t[0], t[1], t[2],
                               t[3], t[4], t[5] + (frac > 0 && frac < 1 ? frac : 0)};
            rc = worksheet_write_datetime(self->ws, row, col, &dt,
                                          type == EXCHANGE_DATE ? self->date : self->time);
        } else if (decimals >= 0) {
            rc = worksheet_write_number(self->ws, row, col, strtod(text, NULL),
                                        self->number[decimals]);
        } else {
            s_escape_x(&self->cell, &self->tmp);
            s_fit_cell(&self->cell);
            rc = worksheet_write_string(self->ws, row, col, self->cell.data, NULL);
        }
        if (rc != LXW_NO_ERROR) {
            cm_log_error("could not write a workbook cell row=%ld column=%s: %s", (long)row,
                         exchange_columns[i].name, lxw_strerror(rc));
            return -1;
        }
    }
    self->rows++;
    return 0;
}

int exchange_xlsx_close(exchange_xlsx_t **self_p)
{
    if (!self_p || !*self_p)
        return 0;
    exchange_xlsx_t *self = *self_p;
    lxw_error rc = workbook_close(self->wb);
    cm_buf_release(&self->cell);
    cm_buf_release(&self->tmp);
    free(self);
    *self_p = NULL;
    if (rc != LXW_NO_ERROR) {
        cm_log_error("could not finish a workbook: %s", lxw_strerror(rc));
        return -1;
    }
    return 0;
}
