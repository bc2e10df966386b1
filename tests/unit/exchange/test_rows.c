/* Unit tests for exchange_rows: reading an imported file's rows. */
#include "exchange_layout.h"
#include "exchange_rows.h"
#include "cm_util.h"
#include "../unit.h"

#include <string.h>

static void test_encoding_detected(void)
{
    const char *utf8 = "Łukasz;Żółć";
    CHECK(exchange_detect_encoding((const unsigned char *)utf8, strlen(utf8)) == EXCHANGE_UTF8);
    /* A sequence cut by the end of the sample is still UTF-8. */
    CHECK(exchange_detect_encoding((const unsigned char *)utf8, 1) == EXCHANGE_UTF8);
    const unsigned char cp1250[] = {0xA3, 'u', 'k', 'a', 's', 'z', ' ', 0xAF, 0xF3, 0xB3, 0xE6};
    CHECK(exchange_detect_encoding(cp1250, sizeof cp1250) == EXCHANGE_CP1250);
    const unsigned char cp1252[] = {'M', 0xFC, 'l', 'l', 'e', 'r', ' ', 0xE9};
    CHECK(exchange_detect_encoding(cp1252, sizeof cp1252) == EXCHANGE_CP1252);
    enum exchange_encoding e;
    CHECK(!exchange_encoding_parse("Windows-1250", &e) && e == EXCHANGE_CP1250);
    CHECK(!exchange_encoding_parse("utf-8", &e) && e == EXCHANGE_UTF8);
    CHECK(exchange_encoding_parse("latin9", &e));
    CHECK_STR(exchange_encoding_name(EXCHANGE_CP1252), "windows-1252");
}

static void test_to_utf8(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    const unsigned char cp1250[] = {0xA3, 0xF3, 0xE6, 0x81}; /* 0x81 is undefined in 1250 */
    exchange_to_utf8(EXCHANGE_CP1250, cp1250, sizeof cp1250, &b);
    CHECK_STR(b.data, "Łóć\xEF\xBF\xBD");
    cm_buf_reset(&b);
    const unsigned char cp1252[] = {'M', 0xFC, 'l', 0x80};
    exchange_to_utf8(EXCHANGE_CP1252, cp1252, sizeof cp1252, &b);
    CHECK_STR(b.data, "Mül€");
    cm_buf_release(&b);
}

static void test_delimiter_detected(void)
{
    CHECK(exchange_detect_delimiter("a;b;c\r\n1,2", 10) == ';');
    CHECK(exchange_detect_delimiter("a,b,c", 5) == ',');
    CHECK(exchange_detect_delimiter("a\tb\tc", 5) == '\t');
    CHECK(exchange_detect_delimiter("\"x;y;z\",b", 9) == ','); /* quoted ones do not count */
    CHECK(exchange_detect_delimiter("", 0) == ',');
}

static void test_headers_mapped_by_name(void)
{
    int i = exchange_column_of_header("First name");
    CHECK(i >= 0);
    CHECK_STR(exchange_columns[i].name, "firstName");
    CHECK(exchange_column_of_header("E-mail") == exchange_column_of_header("email"));
    CHECK(exchange_column_of_header("billing_postal_code") >= 0);
    CHECK(exchange_column_of_header("Shoe size") < 0);
    CHECK(exchange_column_of_header("") < 0);
    CHECK(exchange_column_use((size_t)exchange_column_of_header("id")) == EXCHANGE_USE_IGNORED);
    CHECK(exchange_column_use((size_t)i) == EXCHANGE_USE_WRITE);
    CHECK(exchange_column_use(9999) == EXCHANGE_USE_NONE);
}

static int s_col(const char *name)
{
    int i = exchange_column_of_header(name);
    CHECK(i >= 0);
    return i;
}

static void test_row_read(void)
{
    char *fields[] = {"'+48601234567", "vip; a\\;b; c\\\\d",   "Kraków", "PL",     "shop:1\\;2",
                      "true",          "2026-01-02T03:04:05Z", "yes",    "FEMALE", ""};
    int cols[] = {s_col("phone"),
                  s_col("tags"),
                  s_col("billingCity"),
                  s_col("billingCountry"),
                  s_col("externalIds"),
                  s_col("smsConsent"),
                  s_col("smsConsentChangedAt"),
                  s_col("isCompany"),
                  s_col("gender"),
                  s_col("email")};
    struct exchange_row row;
    CHECK(!exchange_row_read(fields, 10, cols, &row));
    Crm__Customer *c = row.customer;
    CHECK_STR(c->phone, "+48601234567");
    CHECK(c->n_tags == 3);
    CHECK_STR(c->tags[1], "a;b");
    CHECK_STR(c->tags[2], "c\\d");
    CHECK(c->n_addresses == 1 && c->addresses[0]->kind == CRM__ADDRESS_KIND__ADDRESS_KIND_BILLING);
    CHECK_STR(c->addresses[0]->city, "Kraków");
    CHECK(c->n_external_ids == 1);
    CHECK_STR(c->external_ids[0]->id, "1;2");
    CHECK(c->preferences && c->preferences->sms && c->preferences->sms->granted);
    CHECK(c->is_company && c->gender == CRM__GENDER__GENDER_FEMALE);
    CHECK_STR(c->email, "");
    /* The mask names every column of the file, an empty one too (it clears). */
    bool has_email = false, has_addresses = false;
    for (size_t i = 0; i < row.n_mask; i++) {
        has_email = has_email || !strcmp(row.mask[i], "email");
        has_addresses = has_addresses || !strcmp(row.mask[i], "addresses");
    }
    CHECK(has_email && has_addresses);
    exchange_row_release(&row);

    char *bad[] = {"Ann", "sometimes"};
    int bad_cols[] = {s_col("firstName"), s_col("gender")};
    CHECK(exchange_row_read(bad, 2, bad_cols, &row) == -1);
    CHECK(row.bad_column == s_col("gender"));
    CHECK_STR(row.reason, "INVALID_VALUE");
    exchange_row_release(&row);

    char *ext[] = {"nocolon"};
    int ext_cols[] = {s_col("externalIds")};
    CHECK(exchange_row_read(ext, 1, ext_cols, &row) == -1);
    CHECK_STR(row.reason, "INVALID_FORMAT");
    exchange_row_release(&row);
}

static void test_field_of_path(void)
{
    int cols[] = {s_col("firstName"),
                  s_col("email"),
                  s_col("billingCountry"),
                  s_col("companyVatNumber"),
                  s_col("marketingConsentChangedAt"),
                  -1};
    CHECK(exchange_field_of_path("email", cols, 6) == 1);
    CHECK(exchange_field_of_path("addresses[0].country", cols, 6) == 2);
    CHECK(exchange_field_of_path("company.vatNumber", cols, 6) == 3);
    CHECK(exchange_field_of_path("preferences.marketing.changedAt", cols, 6) == 4);
    CHECK(exchange_field_of_path("phone", cols, 6) == -1);
    /* Paths cut short find nothing and read nothing past their end. */
    CHECK(exchange_field_of_path("preferences.sms.", cols, 6) == -1);
    CHECK(exchange_field_of_path("company.", cols, 6) == -1);
}

static void test_column_twice_last_wins(void)
{
    char *fields[] = {"a; b", "c", "shop:1", "shop:2"};
    int cols[] = {s_col("tags"), s_col("tags"), s_col("externalIds"), s_col("externalIds")};
    struct exchange_row row;
    CHECK(!exchange_row_read(fields, 4, cols, &row));
    CHECK(row.customer->n_tags == 1);
    CHECK_STR(row.customer->tags[0], "c");
    CHECK(row.customer->n_external_ids == 1);
    CHECK_STR(row.customer->external_ids[0]->id, "2");
    exchange_row_release(&row);
}

int main(void)
{
    RUN(test_encoding_detected);
    RUN(test_to_utf8);
    RUN(test_delimiter_detected);
    RUN(test_headers_mapped_by_name);
    RUN(test_row_read);
    RUN(test_field_of_path);
    RUN(test_column_twice_last_wins);
    return 0;
}
