/* Folding and tokenising: the scripts of the issue, through utf8proc and ICU. */
#include "search_fold.h"
#include "../unit.h"

static void s_fold_is(const char *in, const char *want)
{
    char *f = search_fold(in);
    CHECK_STR(f, want);
    free(f);
}

static void test_fold_scripts(void)
{
    s_fold_is("Müller", "muller");
    s_fold_is("MULLER", "muller");
    s_fold_is("Łukasz", "lukasz");
    s_fold_is("ŁUKASZ", "lukasz");
    s_fold_is("Ødegård", "odegard");
    s_fold_is("Иван", "иван");
    s_fold_is("ИВАН", "иван");
    s_fold_is("Άννα", "αννα");
    /* Case folding makes the final sigma a plain one, either way round. */
    s_fold_is("Ωραίος", "ωραιοσ");
    s_fold_is("ΩΡΑΊΟΣ", "ωραιοσ");
    s_fold_is("Straße", "strasse");
    s_fold_is("Đorđe Æsir Œuvre Þór ı", "dorde aesir oeuvre thor i");
    s_fold_is("Jürgen-Żółkiewski", "jurgen-zolkiewski");
    s_fold_is("ｆｕｌｌ", "full"); /* compatibility forms */
    s_fold_is("jan.kowalski+crm@Example.COM", "jan.kowalski+crm@example.com");
    s_fold_is("", "");
}

static void test_fold_words(void)
{
    char out[256];
    CHECK(search_fold_words("  Müller-Lüdenscheidt  von Ødegård ", out, sizeof out) ==
          strlen("muller ludenscheidt von odegard"));
    CHECK_STR(out, "muller ludenscheidt von odegard");
    search_fold_words("O'Brien d’Artagnan", out, sizeof out);
    CHECK_STR(out, "obrien dartagnan");
    search_fold_words("Jan2 -- 3x", out, sizeof out);
    CHECK_STR(out, "jan2 3x");
    search_fold_words("", out, sizeof out);
    CHECK_STR(out, "");
    /* Cut at a word boundary when the output is small. */
    search_fold_words("alpha beta gamma", out, 12);
    CHECK_STR(out, "alpha beta");
    /* No room even for the separator: the words before stay whole (fuzzing
     * found "ab c" cut to "a" in 3 bytes). */
    search_fold_words("ab c de", out, 3);
    CHECK_STR(out, "ab");
}

static void test_digits_and_numeric(void)
{
    char out[32];
    CHECK(search_digits("+48 600-123 (456)", out, sizeof out) == 11);
    CHECK_STR(out, "48600123456");
    CHECK(search_is_numeric("600"));
    CHECK(search_is_numeric("+48"));
    CHECK(search_is_numeric("(0)600-12"));
    CHECK(!search_is_numeric("60a"));
    CHECK(!search_is_numeric("+-"));
    CHECK(!search_is_numeric(""));
}

int main(void)
{
    RUN(test_fold_scripts);
    RUN(test_fold_words);
    RUN(test_digits_and_numeric);
    search_fold_shutdown();
    return 0;
}
