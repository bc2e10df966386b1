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
    /* The businesses' own words, in their languages and any case. */
    static const char *const same[][2] = {
        {"Vorname", "firstName"},
        {"IMIĘ", "firstName"},
        {"Fornavn", "firstName"},
        {"ИМЕ", "firstName"},
        {"Nachname", "lastName"},
        {"Nazwisko", "lastName"},
        {"Etternavn", "lastName"},
        {"Фамилия", "lastName"},
        {"E-Mail-Adresse", "email"},
        {"Adres e-mail", "email"},
        {"E-post", "email"},
        {"Имейл", "email"},
        {"Telefonnummer", "phone"},
        {"Numer telefonu", "phone"},
        {"Телефон", "phone"},
        {"Geburtsdatum", "birthDate"},
        {"Data urodzenia", "birthDate"},
        {"Fødselsdato", "birthDate"},
        {"Дата на раждане", "birthDate"},
        {"USt-IdNr.", "companyVatNumber"},
        {"MVA-nummer", "companyVatNumber"},
        {"Płeć", "gender"},
        {"Kjønn", "gender"},
        {"Uwagi", "description"},
    };
    for (size_t k = 0; k < sizeof same / sizeof *same; k++) {
        int col = exchange_column_of_header(same[k][0]);
        if (col < 0)
            fprintf(stderr, "%s: no column\n", same[k][0]);
        CHECK(col >= 0);
        CHECK_STR(exchange_columns[col].name, same[k][1]);
    }
    CHECK(exchange_column_of_header("Schuhgröße") < 0);
    CHECK(exchange_column_of_header("\xff\xfe") < 0);
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
    CHECK(exchange_field_of_path("company", cols, 6) == -1);
    CHECK(exchange_field_of_path("", cols, 6) == -1);
    CHECK(exchange_field_of_path("[0]", cols, 6) == -1);
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

static void test_identity_keys(void)
{
    Crm__Customer c = CRM__CUSTOMER__INIT;
    Crm__ExternalId e = CRM__EXTERNAL_ID__INIT, *ep = &e;
    e.system = "shop";
    e.id = "42";
    c.external_ids = &ep;
    c.n_external_ids = 1;
    c.email = "Anna.Nowak@Example.COM";
    c.phone = "+48 (601) 234-567";
    char k[EXCHANGE_KEYS_MAX][EXCHANGE_KEY_SIZE];
    /* As customers compares them, when it could read them. */
    size_t n = exchange_identity_keys(&c, "anna.nowak@example.com", "+48601234567",
                                      "6f1c2d3e-0000-4000-8000-000000000001", k);
    CHECK(n == 4);
    CHECK_STR(k[0], "x:shop:42");
    CHECK_STR(k[1], "e:anna.nowak@example.com");
    CHECK_STR(k[2], "p:+48601234567");
    CHECK_STR(k[3], "c:6f1c2d3e-0000-4000-8000-000000000001");
    /* Else as written: the e-mail in lower case, the phone's digits. */
    n = exchange_identity_keys(&c, "", "", "", k);
    CHECK(n == 3);
    CHECK_STR(k[1], "e:anna.nowak@example.com");
    CHECK_STR(k[2], "p:+48601234567");
    /* Nothing to go by: no key. */
    Crm__Customer none = CRM__CUSTOMER__INIT;
    CHECK(exchange_identity_keys(&none, "", "", "", k) == 0);
    /* Never more than the room: many external ids. */
    Crm__ExternalId many[40], *mp[40];
    for (int i = 0; i < 40; i++) {
        crm__external_id__init(&many[i]);
        many[i].system = "s";
        many[i].id = "x";
        mp[i] = &many[i];
    }
    c.external_ids = mp;
    c.n_external_ids = 40;
    n = exchange_identity_keys(&c, "a@b.c", "+48601234567", "t", k);
    CHECK(n == EXCHANGE_KEYS_MAX - 1);
    CHECK_STR(k[n - 1], "c:t");
}

static void test_row_key(void)
{
    char *a[] = {"Anna", "Nowak", ""}, *b[] = {"Anna", "Nowak", ""}, *c[] = {"Anna", "Nowa", "k"},
         *d[] = {"Anna", "Nowak"};
    char ka[EXCHANGE_KEY_SIZE], kb[EXCHANGE_KEY_SIZE], kc[EXCHANGE_KEY_SIZE], kd[EXCHANGE_KEY_SIZE];
    exchange_row_key(a, 3, ka);
    exchange_row_key(b, 3, kb);
    exchange_row_key(c, 3, kc);
    exchange_row_key(d, 2, kd);
    CHECK(!strncmp(ka, "r:", 2) && strlen(ka) == 2 + 32);
    CHECK_STR(ka, kb);
    /* Fields are told apart where they end, and an empty last field counts. */
    CHECK(strcmp(ka, kc) != 0);
    CHECK(strcmp(ka, kd) != 0);
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
    RUN(test_identity_keys);
    RUN(test_row_key);
    return 0;
}
