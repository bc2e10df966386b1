/* Unit tests for the export's pure parts: the column layout, CSV fields and
 * the workbook's dates. */
#include "exchange_csv.h"
#include "exchange_layout.h"
#include "exchange_xlsx.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "../unit.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The cell of the column named name. */
static const char *s_cell(const Crm__Customer *c, const char *name, cm_buf_t *out)
{
    for (size_t i = 0; i < exchange_n_columns; i++) {
        if (!strcmp(exchange_columns[i].name, name)) {
            exchange_layout_cell(i, c, NULL, out);
            return out->data ? out->data : "";
        }
    }
    fprintf(stderr, "no column %s\n", name);
    abort();
}

static Crm__Customer *s_customer(void)
{
    Crm__Customer *c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    cm_pb_set_str(&c->id, "0b0e7c1e-0000-4000-8000-000000000001");
    cm_pb_set_str(&c->first_name, "Łukasz");
    cm_pb_set_str(&c->phone, "+48601234567");
    c->gender = CRM__GENDER__GENDER_FEMALE;
    c->n_tags = 2;
    c->tags = cm_calloc(2, sizeof *c->tags);
    c->tags[0] = cm_strdup("a;b");
    c->tags[1] = cm_strdup("c\\d");
    c->n_addresses = 3;
    c->addresses = cm_calloc(3, sizeof *c->addresses);
    Crm__AddressKind kinds[] = {CRM__ADDRESS_KIND__ADDRESS_KIND_SHIPPING,
                                CRM__ADDRESS_KIND__ADDRESS_KIND_BILLING,
                                CRM__ADDRESS_KIND__ADDRESS_KIND_SHIPPING};
    const char *cities[] = {"Berlin", "Kraków", "Oslo"};
    for (int i = 0; i < 3; i++) {
        Crm__Address *a = (Crm__Address *)cm_pb_new(&crm__address__descriptor);
        a->kind = kinds[i];
        cm_pb_set_str(&a->city, cities[i]);
        c->addresses[i] = a;
    }
    c->n_external_ids = 1;
    c->external_ids = cm_calloc(1, sizeof *c->external_ids);
    c->external_ids[0] = (Crm__ExternalId *)cm_pb_new(&crm__external_id__descriptor);
    cm_pb_set_str(&c->external_ids[0]->system, "shop");
    cm_pb_set_str(&c->external_ids[0]->id, "1;2");
    c->preferences = (Crm__Preferences *)cm_pb_new(&crm__preferences__descriptor);
    c->preferences->sms = (Crm__Consent *)cm_pb_new(&crm__consent__descriptor);
    c->preferences->sms->granted = false;
    cm_pb_set_str(&c->preferences->sms->changed_at, "2026-01-02T03:04:05Z");
    return c;
}

static void test_layout_columns_are_unique_and_stable(void)
{
    CHECK(exchange_n_columns == 50);
    CHECK_STR(exchange_columns[0].name, "id");
    CHECK_STR(exchange_columns[46].name, "updatedAt");
    /* The wallet's columns, added at the end. */
    CHECK_STR(exchange_columns[47].name, "balance");
    CHECK_STR(exchange_columns[48].name, "balanceCurrency");
    CHECK_STR(exchange_columns[49].name, "points");
    for (size_t i = 0; i < exchange_n_columns; i++)
        for (size_t k = i + 1; k < exchange_n_columns; k++)
            CHECK(strcmp(exchange_columns[i].name, exchange_columns[k].name));
}

static void test_layout_wallet_cells(void)
{
    Crm__Customer *c = s_customer();
    Crm__WalletBalance *w = (Crm__WalletBalance *)cm_pb_new(&crm__wallet_balance__descriptor);
    cm_pb_set_str(&w->currency, "PLN");
    cm_pb_set_str(&w->money_text, "10.50");
    w->money = 1050;
    w->points = 25;
    cm_buf_t b;
    cm_buf_init(&b, 0);
    for (size_t i = 47; i < 50; i++) {
        /* No balances known: empty cells. */
        exchange_layout_cell(i, c, NULL, &b);
        CHECK(b.len == 0);
    }
    exchange_layout_cell(47, c, w, &b);
    CHECK_STR(b.data, "10.50");
    exchange_layout_cell(48, c, w, &b);
    CHECK_STR(b.data, "PLN");
    exchange_layout_cell(49, c, w, &b);
    CHECK_STR(b.data, "25");
    cm_buf_release(&b);
    crm__wallet_balance__free_unpacked(w, NULL);
    crm__customer__free_unpacked(c, NULL);
}

static void test_layout_cells(void)
{
    Crm__Customer *c = s_customer();
    cm_buf_t b;
    cm_buf_init(&b, 0);
    CHECK_STR(s_cell(c, "firstName", &b), "Łukasz");
    CHECK_STR(s_cell(c, "gender", &b), "FEMALE");
    CHECK_STR(s_cell(c, "isCompany", &b), "false");
    CHECK_STR(s_cell(c, "tags", &b), "a\\;b; c\\\\d");
    CHECK_STR(s_cell(c, "billingCity", &b), "Kraków");
    CHECK_STR(s_cell(c, "shippingCity", &b), "Berlin");
    CHECK_STR(s_cell(c, "otherAddresses", &b), "[{\"kind\":\"SHIPPING\",\"city\":\"Oslo\"}]");
    CHECK_STR(s_cell(c, "externalIds", &b), "shop:1\\;2");
    CHECK_STR(s_cell(c, "smsConsent", &b), "false");
    CHECK_STR(s_cell(c, "smsConsentChangedAt", &b), "2026-01-02T03:04:05Z");
    CHECK_STR(s_cell(c, "emailConsent", &b), ""); /* never given: empty, not false */
    CHECK_STR(s_cell(c, "accountStatus", &b), "");
    CHECK_STR(s_cell(c, "companyName", &b), "");
    cm_buf_release(&b);
    crm__customer__free_unpacked(c, NULL);
}

static void s_field(cm_buf_t *b, const char *s)
{
    cm_buf_reset(b);
    exchange_csv_field(b, s, strlen(s));
}

static void test_csv_fields_quoted_and_formulas_made_safe(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    s_field(&b, "plain");
    CHECK_STR(b.data, "\"plain\"");
    s_field(&b, "say \"hi\", then\r\nbye");
    CHECK_STR(b.data, "\"say \"\"hi\"\", then\r\nbye\"");
    s_field(&b, "");
    CHECK_STR(b.data, "\"\"");
    const char *risky[] = {"=1+1", "+48601", "-2", "@SUM(A1)", "\tx", "\rx"};
    for (size_t i = 0; i < sizeof risky / sizeof *risky; i++) {
        s_field(&b, risky[i]);
        char want[32];
        snprintf(want, sizeof want, "\"'%s\"", risky[i]);
        CHECK_STR(b.data, want);
        CHECK(exchange_csv_formula_like(risky[i], strlen(risky[i])));
    }
    s_field(&b, "=\"quoted\"");
    CHECK_STR(b.data, "\"'=\"\"quoted\"\"\"");
    CHECK(!exchange_csv_formula_like("a=1", 3));
    CHECK(!exchange_csv_formula_like("", 0));
    cm_buf_reset(&b);
    exchange_csv_end_row(&b);
    CHECK_STR(b.data, "\r\n");
    cm_buf_release(&b);
}

static void test_parse_time(void)
{
    int t[6];
    CHECK(!exchange_xlsx_parse_time("1985-02-28", false, t));
    CHECK(t[0] == 1985 && t[1] == 2 && t[2] == 28 && t[3] == 0);
    CHECK(!exchange_xlsx_parse_time("2026-12-06T09:48:39.890Z", true, t));
    CHECK(t[3] == 9 && t[4] == 48 && t[5] == 39);
    CHECK(!exchange_xlsx_parse_time("2026-12-06T09:48:39Z", true, t));
    CHECK(exchange_xlsx_parse_time("2026-12-06T09:48:39Z", false, t)); /* not a date */
    CHECK(exchange_xlsx_parse_time("2026-13-06", false, t));
    CHECK(exchange_xlsx_parse_time("1899-12-31", false, t)); /* before Excel's epoch */
    CHECK(exchange_xlsx_parse_time("2026-12-06T09:48:39+01:00", true, t));
    CHECK(exchange_xlsx_parse_time("2026-1x-06", false, t));
    CHECK(exchange_xlsx_parse_time("", false, t));
}

static void test_number_cells(void)
{
    CHECK(exchange_xlsx_decimals("10.50") == 2);
    CHECK(exchange_xlsx_decimals("-0.5") == 1);
    CHECK(exchange_xlsx_decimals("40") == 0);
    CHECK(exchange_xlsx_decimals("0") == 0);
    CHECK(exchange_xlsx_decimals("1.2345") == 4);
    CHECK(exchange_xlsx_decimals("1.23456") == -1);
    CHECK(exchange_xlsx_decimals("") == -1);
    CHECK(exchange_xlsx_decimals("-") == -1);
    CHECK(exchange_xlsx_decimals("1.") == -1);
    CHECK(exchange_xlsx_decimals(".5") == -1);
    CHECK(exchange_xlsx_decimals("1e5") == -1);
    CHECK(exchange_xlsx_decimals("+1") == -1);
    CHECK(exchange_xlsx_decimals("1,5") == -1);
    CHECK(exchange_xlsx_decimals("1234567890123456") == -1); /* past a double's exact digits */
}

static void test_workbook_written(void)
{
    char path[] = "/tmp/test-exchange-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    struct exchange_zone utc;
    exchange_zone_init_utc(&utc);
    exchange_xlsx_t *x = exchange_xlsx_new(path, "/tmp", EXCHANGE_HEADERS_PL, &utc);
    CHECK(x);
    Crm__Customer *c = s_customer();
    CHECK(!exchange_xlsx_row(x, c, NULL));
    CHECK(!exchange_xlsx_close(&x));
    CHECK(x == NULL);
    exchange_zone_release(&utc);
    FILE *f = fopen(path, "rb");
    CHECK(f);
    char magic[4] = {0};
    CHECK(fread(magic, 1, 4, f) == 4);
    fclose(f);
    CHECK(!memcmp(magic, "PK\x03\x04", 4)); /* a zip, as an .xlsx is */
    unlink(path);
    crm__customer__free_unpacked(c, NULL);
    CHECK(!exchange_xlsx_close(&x)); /* NULL: nothing to do */
}

int main(void)
{
    RUN(test_layout_columns_are_unique_and_stable);
    RUN(test_layout_cells);
    RUN(test_number_cells);
    RUN(test_layout_wallet_cells);
    RUN(test_csv_fields_quoted_and_formulas_made_safe);
    RUN(test_parse_time);
    RUN(test_workbook_written);
    return 0;
}
