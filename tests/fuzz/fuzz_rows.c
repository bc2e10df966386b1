/* Fuzzes reading an imported file (exchange_rows): the encoding and
 * delimiter guesses, the conversion to UTF-8, libcsv's parse of the text
 * into records with the import's limits, the header mapping and each record
 * turned into a customer. Besides not crashing: converted text is valid
 * UTF-8, a failed row names its reason and a column of the layout or none,
 * and the update mask holds only paths the customer has. */
#include "fuzz.h"
#include "exchange_layout.h"
#include "exchange_rows.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <csv.h>

struct s_state {
    char **fields;
    size_t n, extra;
    int cols[EXCHANGE_MAX_COLUMNS];
    size_t n_cols;
    bool header;
};

static void s_field(void *data, size_t len, void *arg)
{
    struct s_state *st = arg;
    if (st->n == EXCHANGE_MAX_COLUMNS) {
        st->extra++;
        return;
    }
    st->fields = realloc(st->fields, (st->n + 1) * sizeof *st->fields);
    FUZZ_CHECK(st->fields);
    st->fields[st->n++] = fuzz_strndup(data ? data : (const uint8_t *)"", len);
}

static void s_row(int term, void *arg)
{
    (void)term;
    struct s_state *st = arg;
    if (!st->header) {
        st->header = true;
        st->n_cols = st->n;
        for (size_t k = 0; k < st->n; k++) {
            st->cols[k] = exchange_column_of_header(st->fields[k]);
            FUZZ_CHECK(st->cols[k] < (int)exchange_n_columns);
        }
    } else if (!st->extra && st->n <= st->n_cols) {
        struct exchange_row row;
        int rc = exchange_row_read(st->fields, st->n, st->cols, &row);
        FUZZ_CHECK(row.customer);
        if (rc) {
            FUZZ_CHECK(rc == -1 && row.reason[0] && row.message[0]);
            FUZZ_CHECK(row.bad_column >= -1 && row.bad_column < (int)exchange_n_columns);
        }
        for (size_t m = 0; m < row.n_mask; m++) {
            struct cm_pbjson_error err;
            ProtobufCMessage *copy = cm_pb_new(&crm__customer__descriptor);
            /* Every path of the mask is one the customer message has. */
            FUZZ_CHECK(!cm_pb_apply_mask(copy, &row.customer->base, &row.mask[m], 1, &err));
            protobuf_c_message_free_unpacked(copy, NULL);
        }
        for (size_t k = 0; k < st->n; k++)
            (void)exchange_field_of_path(st->fields[k], st->cols, st->n);
        exchange_row_release(&row);
    }
    for (size_t k = 0; k < st->n; k++)
        free(st->fields[k]);
    free(st->fields);
    st->fields = NULL;
    st->n = st->extra = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    enum exchange_encoding enc = exchange_detect_encoding(data, size);
    cm_buf_t text;
    cm_buf_init(&text, 0);
    exchange_to_utf8(enc, data, size, &text);
    if (enc != EXCHANGE_UTF8)
        FUZZ_CHECK(cm_utf8_valid(text.data ? text.data : "", text.len, NULL));
    char delim = exchange_detect_delimiter(text.data ? text.data : "", text.len);
    FUZZ_CHECK(delim == ',' || delim == ';' || delim == '\t');
    struct csv_parser p;
    csv_init(&p, CSV_APPEND_NULL);
    csv_set_delim(&p, (unsigned char)delim);
    struct s_state st = {0};
    if (text.len)
        (void)csv_parse(&p, text.data, text.len, s_field, s_row, &st);
    csv_fini(&p, s_field, s_row, &st);
    csv_free(&p);
    for (size_t k = 0; k < st.n; k++)
        free(st.fields[k]);
    free(st.fields);
    cm_buf_release(&text);
    return 0;
}
