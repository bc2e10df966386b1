/* "Did you mean": how far a typed word is from the start of a name. A slip
 * is one code point wrong, missing or extra, or two neighbours swapped (the
 * Damerau distance 1 of typing). Pure: no I/O. */
#ifndef SEARCH_SPELL_H
#define SEARCH_SPELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEARCH_SPELL_MAX 48 /* code points of a word worth correcting, at most */

/* A word as code points. */
struct search_spell_word {
    uint32_t c[SEARCH_SPELL_MAX];
    size_t n;
};

/* Decodes the UTF-8 word w. Returns false when it is not valid UTF-8 or has
 * more than SEARCH_SPELL_MAX code points. */
bool search_spell_word(const char *w, struct search_spell_word *out);

/* When a prefix of the token s is one slip away from w, and s does not start
 * with w as it is, returns that prefix's length in bytes (whole code points);
 * else 0. "kowalsky" against "kowalski": 8 ("kowalski"); "kowalsk" against
 * "kowalski": 0 (a prefix already). */
size_t search_spell_slip(const struct search_spell_word *w, const char *s);

#endif
