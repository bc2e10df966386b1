/* CSV fields for export, written by libcsv. */
#include "exchange_csv.h"

#include <stdlib.h>
#include <string.h>
#include <csv.h>

bool exchange_csv_formula_like(const char *s, size_t len)
{
    return len > 0 && s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
}

void exchange_csv_field(cm_buf_t *out, const char *s, size_t len)
{
    bool guard = exchange_csv_formula_like(s, len);
    /* libcsv quotes every field and doubles quotes: at most 2 * len + 2 bytes,
     * plus the apostrophe (which needs no doubling) inside the opening quote. */
    size_t need = 2 * len + 3;
    cm_buf_reserve(out, need + 1);
    char *dst = out->data + out->len;
    size_t n = csv_write(dst, need, s, len);
    if (n > need)
        abort(); /* cannot happen: need is csv_write's worst case */
    if (guard) {
        memmove(dst + 2, dst + 1, n - 1);
        dst[1] = '\'';
        n++;
    }
    out->len += n;
    out->data[out->len] = '\0';
}

void exchange_csv_end_row(cm_buf_t *out)
{
    if (cm_buf_append(out, "\r\n", 2))
        abort();
}
