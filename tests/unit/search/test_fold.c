/* Folding and tokenising: the scripts of the issue, through utf8proc and ICU. */
#include "search_fold.h"
#include "search_spell.h"
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

/* The prefix of token that word is one slip from, or "" (none). */
static void s_slip_is(const char *word, const char *token, const char *want)
{
    struct search_spell_word w;
    CHECK(search_spell_word(word, &w));
    size_t n = search_spell_slip(&w, token);
    if (n != strlen(want) || strncmp(token, want, n)) {
        fprintf(stderr, "slip %s -> %s: got %.*s, want %s\n", word, token, (int)n, token, want);
        abort();
    }
}

static void test_spelling_slips(void)
{
    s_slip_is("kowalsky", "kowalski", "kowalski");    /* a letter wrong */
    s_slip_is("kowlaski", "kowalski", "kowalski");    /* two swapped */
    s_slip_is("kowallski", "kowalski", "kowalski");   /* one extra */
    s_slip_is("kowlski", "kowalski", "kowalski");     /* one missing */
    s_slip_is("owalski", "kowalski", "kowalski");     /* the first missing */
    s_slip_is("okwalski", "kowalski", "kowalski");    /* the first two swapped */
    s_slip_is("nowak", "nowakowski", "");             /* a prefix already: no slip */
    s_slip_is("kowalsky", "kowalskiego", "kowalski"); /* the start of a longer name */
    s_slip_is("kowalsky", "nowak", "");
    s_slip_is("kowaxxki", "kowalski", ""); /* two slips */
    /* By code points, not bytes: a Cyrillic letter missing or wrong is one slip. */
    s_slip_is("петрв", "петров", "петров");
    s_slip_is("петрова", "петрова", "");
    s_slip_is("пэтров", "петров", "петров");
    s_slip_is("müler", "müller", "müller");
    /* Words too long or not UTF-8 are not decoded. */
    struct search_spell_word w;
    char longw[SEARCH_SPELL_MAX + 2];
    memset(longw, 'a', sizeof longw - 1);
    longw[sizeof longw - 1] = '\0';
    CHECK(!search_spell_word(longw, &w));
    CHECK(!search_spell_word("ab\xff"
                             "cd",
                             &w));
    CHECK(search_spell_word("", &w) && w.n == 0);
}

int main(void)
{
    RUN(test_spelling_slips);
    RUN(test_fold_scripts);
    RUN(test_fold_words);
    RUN(test_digits_and_numeric);
    search_fold_shutdown();
    return 0;
}
