/* Unit tests for exchange_headers: the header row's languages, and that the
 * import reads every header the export writes back to its own column. */
#include "exchange_headers.h"
#include "exchange_layout.h"
#include "exchange_rows.h"
#include "../unit.h"

#include <string.h>

static void test_parse_and_name(void)
{
    enum exchange_headers h = EXCHANGE_HEADERS_DE;
    CHECK(!exchange_headers_parse("", &h) && h == EXCHANGE_HEADERS_API);
    CHECK(!exchange_headers_parse("bg", &h) && h == EXCHANGE_HEADERS_BG);
    CHECK(!exchange_headers_parse("api", &h) && h == EXCHANGE_HEADERS_API);
    CHECK(exchange_headers_parse("DE", &h));
    CHECK(exchange_headers_parse("fr", &h));
    CHECK(exchange_headers_parse("de ", &h));
    for (int k = 0; k < EXCHANGE_N_HEADERS; k++) {
        CHECK(!exchange_headers_parse(exchange_headers_name((enum exchange_headers)k), &h));
        CHECK((int)h == k);
    }
}

static void test_every_column_has_a_label(void)
{
    CHECK_STR(exchange_header(1, EXCHANGE_HEADERS_API), "firstName");
    CHECK_STR(exchange_header(1, EXCHANGE_HEADERS_DE), "Vorname");
    CHECK_STR(exchange_header(3, EXCHANGE_HEADERS_DE), "E-Mail");
    CHECK_STR(exchange_header(1, EXCHANGE_HEADERS_BG), "Име");
    for (size_t i = 0; i < exchange_n_columns; i++) {
        CHECK_STR(exchange_header(i, EXCHANGE_HEADERS_API), exchange_columns[i].name);
        /* A label of its own in every language (never the API name as a
         * stand-in for a missing row of the table), at most 100 bytes (S_FOLD_MAX holds it folded).
         */
        for (int h = EXCHANGE_HEADERS_EN; h < EXCHANGE_N_HEADERS; h++) {
            const char *label = exchange_header(i, (enum exchange_headers)h);
            CHECK(strcmp(label, exchange_columns[i].name) != 0);
            CHECK(strlen(label) > 0 && strlen(label) <= 100);
        }
    }
}

/* Every header of every language is read back as its own column: no label
 * is another column's name, label or alias. */
static void test_import_reads_every_label_back(void)
{
    for (size_t i = 0; i < exchange_n_columns; i++) {
        for (int h = 0; h < EXCHANGE_N_HEADERS; h++) {
            const char *label = exchange_header(i, (enum exchange_headers)h);
            if (exchange_column_of_header(label) != (int)i)
                fprintf(stderr, "%s (%d) is not column %zu\n", label, h, i);
            CHECK(exchange_column_of_header(label) == (int)i);
        }
    }
}

static void test_variants_case_and_space(void)
{
    int email = exchange_column_of_header("email");
    int phone = exchange_column_of_header("phone");
    const char *emails[] = {"E-Mail", "Email", "e-mail", "E-MAIL",      " e mail ",
                            "Имейл",  "ИМЕЙЛ", "E-post", "Adres e-mail"};
    for (size_t k = 0; k < sizeof emails / sizeof *emails; k++)
        CHECK(exchange_column_of_header(emails[k]) == email);
    const char *phones[] = {"Telefon", "TELEFON",     "Phone",
                            "Телефон", "Handynummer", "Mobile phone"};
    for (size_t k = 0; k < sizeof phones / sizeof *phones; k++)
        CHECK(exchange_column_of_header(phones[k]) == phone);
    CHECK(exchange_column_of_header("adres dostawy kraj") ==
          exchange_column_of_header("shippingCountry"));
    CHECK(exchange_column_of_header("RECHNUNGSADRESSE  plz") ==
          exchange_column_of_header("billingPostalCode"));
    /* The card's "Firma" is the company's name in other tools' files. */
    CHECK(exchange_column_of_header("Firma") == exchange_column_of_header("companyName"));
}

int main(void)
{
    RUN(test_parse_and_name);
    RUN(test_every_column_has_a_label);
    RUN(test_import_reads_every_label_back);
    RUN(test_variants_case_and_space);
    return 0;
}
