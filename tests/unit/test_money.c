/* Unit tests for cm_money: the currencies' minor digits, which the suite
 * takes, amounts as text and text as amounts. */
#include "cm_money.h"
#include "unit.h"

#include <stdint.h>

static void test_digits(void)
{
    CHECK(cm_money_digits("EUR") == 2);
    CHECK(cm_money_digits("PLN") == 2);
    CHECK(cm_money_digits("ISK") == 0);
    CHECK(cm_money_digits("JPY") == 0);
    CHECK(cm_money_digits("KRW") == 0);
    CHECK(cm_money_digits("KWD") == 3);
    CHECK(cm_money_digits("BHD") == 3);
    CHECK(cm_money_digits("CLF") == 4);
    /* A code the table does not know has two, as most have. */
    CHECK(cm_money_digits("XXX") == 2);
    CHECK(cm_money_digits("jpy") == 2);
    CHECK(cm_money_digits("") == 2);
}

static void test_taken(void)
{
    CHECK(cm_money_taken("EUR"));
    CHECK(cm_money_taken("ISK"));
    CHECK(cm_money_taken("JPY"));
    CHECK(cm_money_taken("AUD"));
    CHECK(!cm_money_taken("KWD")); /* known to ISO 4217, not taken */
    CHECK(!cm_money_taken("XXX"));
    CHECK(!cm_money_taken("eur"));
    CHECK(!cm_money_taken(""));
    /* Every code the message names is taken. */
    char list[] = CM_MONEY_CURRENCIES;
    int n = 0;
    for (char *p = list; *p; p++) {
        if (p[0] >= 'A' && p[0] <= 'Z' && p[1] >= 'A' && p[1] <= 'Z' && p[2] >= 'A' &&
            p[2] <= 'Z') {
            char code[4] = {p[0], p[1], p[2], '\0'};
            CHECK(cm_money_taken(code));
            n++;
            p += 2;
        }
    }
    CHECK(n == 23);
}

static void test_format(void)
{
    char buf[CM_MONEY_SIZE];
    CHECK_STR(cm_money_format(1234, "JPY", buf, sizeof buf), "1234");
    CHECK_STR(cm_money_format(1234, "EUR", buf, sizeof buf), "12.34");
    CHECK_STR(cm_money_format(1234, "KWD", buf, sizeof buf), "1.234");
    CHECK_STR(cm_money_format(1234, "CLF", buf, sizeof buf), "0.1234");
    CHECK_STR(cm_money_format(1234, "XXX", buf, sizeof buf), "12.34");
    CHECK_STR(cm_money_format(1050, "EUR", buf, sizeof buf), "10.50");
    CHECK_STR(cm_money_format(-5, "PLN", buf, sizeof buf), "-0.05");
    CHECK_STR(cm_money_format(-5, "KWD", buf, sizeof buf), "-0.005");
    CHECK_STR(cm_money_format(-5, "JPY", buf, sizeof buf), "-5");
    CHECK_STR(cm_money_format(0, "NOK", buf, sizeof buf), "0.00");
    CHECK_STR(cm_money_format(0, "ISK", buf, sizeof buf), "0");
    CHECK_STR(cm_money_format(INT64_MIN, "EUR", buf, sizeof buf), "-92233720368547758.08");
    CHECK_STR(cm_money_format(INT64_MAX, "JPY", buf, sizeof buf), "9223372036854775807");
    CHECK_STR(cm_money_format(INT64_MIN, "JPY", buf, sizeof buf), "-9223372036854775808");
    /* A short buffer truncates, still terminated. */
    char small[4];
    CHECK_STR(cm_money_format(1234, "EUR", small, sizeof small), "12.");
}

static void test_text(void)
{
    char buf[CM_MONEY_TEXT_SIZE];
    CHECK_STR(cm_money_text(1050, "EUR", buf, sizeof buf), "10.50 EUR");
    CHECK_STR(cm_money_text(1234, "JPY", buf, sizeof buf), "1234 JPY");
    CHECK_STR(cm_money_text(12345, "KWD", buf, sizeof buf), "12.345 KWD");
    CHECK_STR(cm_money_text(1234, "ISK", buf, sizeof buf), "1234 ISK");
    CHECK_STR(cm_money_text(INT64_MIN, "XXXXXXXX", buf, sizeof buf),
              "-92233720368547758.08 XXXXXXXX");
}

static void test_parse(void)
{
    int64_t v = 0;
    CHECK(cm_money_parse("12.34", 2, &v) == 0 && v == 1234);
    CHECK(cm_money_parse("12,3", 2, &v) == 0 && v == 1230);
    CHECK(cm_money_parse("7", 2, &v) == 0 && v == 700);
    CHECK(cm_money_parse("-5", 2, &v) == 0 && v == -500);
    CHECK(cm_money_parse("0.01", 2, &v) == 0 && v == 1);
    CHECK(cm_money_parse("250", 0, &v) == 0 && v == 250);
    CHECK(cm_money_parse("1.234", 3, &v) == 0 && v == 1234);
    CHECK(cm_money_parse("10000000000000.00", 2, &v) == 0 && v == CM_MONEY_MAX);
    CHECK(cm_money_parse("-10000000000000.00", 2, &v) == 0 && v == -CM_MONEY_MAX);
    CHECK(cm_money_parse("10000000000000.01", 2, &v) == -1);
    CHECK(cm_money_parse("1.234", 2, &v) == -1);
    CHECK(cm_money_parse("1.99999999999999999999999", 2, &v) == -1);
    CHECK(cm_money_parse("2.5", 0, &v) == -1);
    CHECK(cm_money_parse("", 2, &v) == -1);
    CHECK(cm_money_parse("-", 2, &v) == -1);
    CHECK(cm_money_parse("1.", 2, &v) == -1);
    CHECK(cm_money_parse(".5", 2, &v) == -1);
    CHECK(cm_money_parse("1 000", 2, &v) == -1);
    CHECK(cm_money_parse("1e3", 2, &v) == -1);
    CHECK(cm_money_parse("99999999999999999999", 2, &v) == -1);
}

int main(void)
{
    RUN(test_digits);
    RUN(test_taken);
    RUN(test_format);
    RUN(test_text);
    RUN(test_parse);
    return 0;
}
