/* Fuzzes reading an uploaded .xlsx workbook (exchange_xlsx_read): the input
 * is the file. Every row handed out must be well-formed: as many texts as it
 * says, each NUL-terminated, within Excel's limits, row numbers within the
 * sheet; a failure must say why. */
#include "fuzz.h"
#include "exchange_xlsx_read.h"

#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/fuzz_xlsx.%ld.xlsx", (long)getpid());
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
    char why[512] = "";
    exchange_xlsx_reader_t *r = exchange_xlsx_reader_new(path, why, sizeof why);
    if (!r) {
        FUZZ_CHECK(why[0]);
        return 0;
    }
    const char *const *cells;
    size_t n;
    long row;
    int rc;
    while ((rc = exchange_xlsx_reader_next(r, &cells, &n, &row)) == 1) {
        FUZZ_CHECK(n >= 1 && n <= EXCHANGE_XLSX_READ_MAX_COLUMNS);
        FUZZ_CHECK(row >= 1 && row <= 1048576);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(strlen(cells[i]) <= EXCHANGE_XLSX_READ_MAX_CELL);
    }
    FUZZ_CHECK(rc == 0 || (rc == -1 && exchange_xlsx_reader_error(r)[0]));
    exchange_xlsx_reader_destroy(&r);
    return 0;
}
