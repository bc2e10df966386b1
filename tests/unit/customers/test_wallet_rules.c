/* Unit tests for customers_wallet_rules: voucher codes (alphabet, check
 * character, what staff may type), a country's currency, and the loyalty
 * rule. */
#include "customers_wallet_rules.h"
#include "cm_money.h"
#include "../unit.h"

#include <stdint.h>

static void test_new_codes_use_the_alphabet_and_check(void)
{
    for (int n = 0; n < 2000; n++) {
        char code[CUSTOMERS_VOUCHER_CODE_SIZE], canon[CUSTOMERS_VOUCHER_CHARS + 1];
        customers_voucher_new(code);
        CHECK(strlen(code) == 19);
        for (int i = 0; i < 19; i++) {
            if (i % 5 == 4)
                CHECK(code[i] == '-');
            else
                CHECK(strchr(CUSTOMERS_VOUCHER_ALPHABET, code[i]) != NULL);
        }
        CHECK(customers_voucher_normalize(code, canon) == 0);
        CHECK(strlen(canon) == CUSTOMERS_VOUCHER_CHARS);
    }
    /* None of the characters read alike. */
    for (const char *c = "01OIL"; *c; c++)
        CHECK(strchr(CUSTOMERS_VOUCHER_ALPHABET, *c) == NULL);
    CHECK(strlen(CUSTOMERS_VOUCHER_ALPHABET) == 31);
}

static void test_two_codes_differ(void)
{
    char a[CUSTOMERS_VOUCHER_CODE_SIZE], b[CUSTOMERS_VOUCHER_CODE_SIZE];
    customers_voucher_new(a);
    customers_voucher_new(b);
    CHECK(strcmp(a, b) != 0);
}

static void test_normalize_accepts_what_staff_type(void)
{
    char body[CUSTOMERS_VOUCHER_CHARS + 1] = "ABCD2345EFGH678";
    body[15] = customers_voucher_check_char(body);
    body[16] = '\0';
    char typed[64], out[CUSTOMERS_VOUCHER_CHARS + 1];
    snprintf(typed, sizeof typed, "%.4s-%.4s-%.4s-%.4s", body, body + 4, body + 8, body + 12);
    CHECK(customers_voucher_normalize(typed, out) == 0);
    CHECK_STR(out, body);
    /* Lower case and spaces. */
    for (char *p = typed; *p; p++)
        *p = *p == '-' ? ' ' : (*p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p);
    CHECK(customers_voucher_normalize(typed, out) == 0);
    CHECK_STR(out, body);
}

static void test_normalize_refuses_what_cannot_be_a_code(void)
{
    char body[CUSTOMERS_VOUCHER_CHARS + 1] = "ABCD2345EFGH678";
    body[15] = customers_voucher_check_char(body);
    body[16] = '\0';
    char out[CUSTOMERS_VOUCHER_CHARS + 1], typo[CUSTOMERS_VOUCHER_CHARS + 1];
    /* Every single wrong character is caught by the check character. */
    for (int i = 0; i < CUSTOMERS_VOUCHER_CHARS; i++)
        for (const char *c = CUSTOMERS_VOUCHER_ALPHABET; *c; c++) {
            if (*c == body[i])
                continue;
            memcpy(typo, body, sizeof typo);
            typo[i] = *c;
            CHECK(customers_voucher_normalize(typo, out) == -1);
        }
    /* Every swap of two different neighbours too. */
    for (int i = 0; i + 1 < CUSTOMERS_VOUCHER_CHARS; i++) {
        if (body[i] == body[i + 1])
            continue;
        memcpy(typo, body, sizeof typo);
        typo[i] = body[i + 1];
        typo[i + 1] = body[i];
        CHECK(customers_voucher_normalize(typo, out) == -1);
    }
    CHECK(customers_voucher_normalize("", out) == -1);
    CHECK(customers_voucher_normalize("ABCD", out) == -1);
    CHECK(customers_voucher_normalize("ABCD-2345-EFGH-6780", out) == -1); /* 0 */
    CHECK(customers_voucher_normalize("ABCD-2345-EFGH-678O", out) == -1); /* O */
    char longer[40];
    snprintf(longer, sizeof longer, "%s2", body);
    CHECK(customers_voucher_normalize(longer, out) == -1);
    char spaces[80];
    memset(spaces, ' ', sizeof spaces - 1);
    spaces[sizeof spaces - 1] = '\0';
    memcpy(spaces + 60, body, 16);
    CHECK(customers_voucher_normalize(spaces, out) == -1); /* past the input limit */
}

static void test_currencies(void)
{
    CHECK_STR(customers_currency_of_country("BG"), "EUR");
    CHECK_STR(customers_currency_of_country("DE"), "EUR");
    CHECK_STR(customers_currency_of_country("PL"), "PLN");
    CHECK_STR(customers_currency_of_country("NO"), "NOK");
    CHECK_STR(customers_currency_of_country(""), "EUR");
    /* Every country's currency is one the suite takes. */
    const char *countries[] = {"PL", "NO", "SJ", "CZ", "HU", "RO", "SE", "DK", "FO",
                               "GL", "CH", "LI", "GB", "IS", "RS", "MK", "AL", "BA",
                               "MD", "UA", "TR", "US", "CA", "AU", "JP", "DE", ""};
    for (size_t i = 0; i < sizeof countries / sizeof *countries; i++)
        CHECK(cm_money_taken(customers_currency_of_country(countries[i])));
}

static void test_loyalty_rule(void)
{
    CHECK(customers_loyalty_points(100, 1, 100) == 1);
    CHECK(customers_loyalty_points(1234, 1, 100) == 12);
    CHECK(customers_loyalty_points(1234, 2, 500) == 4);
    CHECK(customers_loyalty_points(99, 1, 100) == 0);
    CHECK(customers_loyalty_points(0, 1, 100) == 0);
    CHECK(customers_loyalty_points(-1, 1, 100) == -1);
    CHECK(customers_loyalty_points(100, 0, 100) == -1);
    CHECK(customers_loyalty_points(100, 1, 0) == -1);
    CHECK(customers_loyalty_points(INT64_MAX, 1000, 1) == -1);
    CHECK(customers_loyalty_points(INT64_MAX, 1, 1) == INT64_MAX);
}

int main(void)
{
    RUN(test_new_codes_use_the_alphabet_and_check);
    RUN(test_two_codes_differ);
    RUN(test_normalize_accepts_what_staff_type);
    RUN(test_normalize_refuses_what_cannot_be_a_code);
    RUN(test_currencies);
    RUN(test_loyalty_rule);
    return 0;
}
