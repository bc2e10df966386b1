/* Unit tests for cm_vat's check digits: numbers published as valid (in the
 * member states' examples and python-stdnum's documentation), and each with
 * its check digit one off, which must be refused saying so. The syntax
 * itself is tested through the customers service (customers/test_validate.c). */
#include "cm_vat.h"
#include "unit.h"

static const char *const s_valid[] = {
    "ATU13585627",   "BE0403019261",  "BE0776091951",   "BG175074752",    "BG7523169263",
    "BG8032056031",  "CY10259033P",   "CZ25123891",     "DE136695976",    "DK13585628",
    "EE100931558",   "EE100594102",   "EL094259216",    "ESA13585625",    "ES54362315K",
    "ESX2482300W",   "ESJ99216582",   "ESB58378431",    "FI20774740",     "FR40303265045",
    "FR61954506077", "HR33392005961", "HU12892312",     "IE6433435F",     "IE8D79739I",
    "IE6388047V",    "IT00743110157", "LT119511515",    "LT100001919017", "LU15027442",
    "LV40003521600", "MT11679112",    "NL004495445B01", "NL000099998B57", "PL5260250274",
    "PL8567346215",  "PT501964843",   "RO18547290",     "SE123456789701", "SI50223054",
    "SK2022749619",  "XI980780684",   "XI100190874",
};

/* The number with the character at i one further along its class (digit or letter). */
static void s_one_off(const char *in, size_t i, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s", in);
    char c = out[i];
    if (c >= '0' && c <= '9')
        out[i] = (char)('0' + (c - '0' + 1) % 10);
    else
        out[i] = (char)('A' + (c - 'A' + 1) % 26);
}

/* Where a number's check digit is: its last character, but for Ireland's
 * 7 digits + check letter + one more letter, the Netherlands' B01 suffix and
 * Sweden's 01 suffix. */
static size_t s_check_at(const char *vat)
{
    size_t n = strlen(vat);
    if (!strncmp(vat, "NL", 2))
        return n - 4;
    if (!strncmp(vat, "SE", 2))
        return n - 3;
    return n - 1;
}

static void test_published_numbers_are_valid(void)
{
    for (size_t i = 0; i < sizeof s_valid / sizeof *s_valid; i++) {
        char out[CM_VAT_SIZE];
        const char *why = NULL;
        if (cm_vat_normalise(s_valid[i], out, sizeof out, &why)) {
            fprintf(stderr, "%s refused: %s\n", s_valid[i], why);
            abort();
        }
        CHECK_STR(out, s_valid[i]);
    }
}

static void test_a_check_digit_one_off_is_refused(void)
{
    for (size_t i = 0; i < sizeof s_valid / sizeof *s_valid; i++) {
        char bad[CM_VAT_SIZE + 4], out[CM_VAT_SIZE], want[80];
        s_one_off(s_valid[i], s_check_at(s_valid[i]), bad, sizeof bad);
        const char *why = NULL;
        int rc = cm_vat_normalise(bad, out, sizeof out, &why);
        snprintf(want, sizeof want, "the check digit is wrong: not a valid %.2s number", bad);
        if (rc != -1 || !why || strcmp(why, want) != 0) {
            fprintf(stderr, "%s (from %s): rc %d, why \"%s\"\n", bad, s_valid[i], rc,
                    why ? why : "(null)");
            abort();
        }
        CHECK_STR(out, "");
    }
}

static void test_other_digits_one_off_are_refused_where_the_rule_sees_them(void)
{
    /* A weighted sum sees every digit: the first digit after the prefix, one off. */
    static const char *const cases[] = {"DE236695976", "PL6260250274", "IT10743110157",
                                        "FI30774740",  "PT601964843",  "HU22892312",
                                        "DK23585628",  "SI60223054",   "EL194259216"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[CM_VAT_SIZE];
        const char *why = NULL;
        CHECK(cm_vat_normalise(cases[i], out, sizeof out, &why) == -1);
        CHECK(why && strstr(why, "check digit"));
    }
}

static void test_numbers_without_a_checked_rule_pass_on_syntax(void)
{
    /* Czech people's numbers, Latvian people's codes, French keys with letters, XI's GD/HA. */
    static const char *const cases[] = {"CZ123456789", "LV12345678901", "FRK7399859412", "XIGD123",
                                        "XIHA999"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[CM_VAT_SIZE];
        const char *why = NULL;
        CHECK(cm_vat_normalise(cases[i], out, sizeof out, &why) == 0);
    }
}

int main(void)
{
    RUN(test_published_numbers_are_valid);
    RUN(test_a_check_digit_one_off_is_refused);
    RUN(test_other_digits_one_off_are_refused_where_the_rule_sees_them);
    RUN(test_numbers_without_a_checked_rule_pass_on_syntax);
    return 0;
}
