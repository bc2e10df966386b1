/* One typing slip between a word and the start of a token (search_spell.h). */
#include "search_spell.h"

#include <string.h>

/* Decodes one code point of valid or invalid UTF-8 at s (NUL ends it).
 * Returns its byte length, 0 at the end; an invalid byte counts as itself. */
static size_t s_next(const unsigned char *s, uint32_t *cp)
{
    if (!s[0])
        return 0;
    size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (n == 0) {
        *cp = s[0];
        return 1;
    }
    uint32_t c = n == 1 ? s[0] : s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = s[0];
            return 1;
        }
        c = c << 6 | (s[i] & 0x3F);
    }
    *cp = c;
    return n;
}

bool search_spell_word(const char *w, struct search_spell_word *out)
{
    const unsigned char *p = (const unsigned char *)w;
    out->n = 0;
    for (;;) {
        uint32_t c;
        size_t n = s_next(p, &c);
        if (n == 0)
            return true;
        if (out->n == SEARCH_SPELL_MAX || (n == 1 && c >= 0x80))
            return false;
        out->c[out->n++] = c;
        p += n;
    }
}

static bool s_same(const uint32_t *a, const uint32_t *b, size_t n)
{
    return n == 0 || !memcmp(a, b, n * sizeof *a);
}

size_t search_spell_slip(const struct search_spell_word *w, const char *s)
{
    /* The token's first w->n + 1 code points, and where each ends. */
    uint32_t t[SEARCH_SPELL_MAX + 1];
    size_t end[SEARCH_SPELL_MAX + 2];
    size_t tn = 0, at = 0;
    end[0] = 0;
    while (tn < w->n + 1) {
        size_t n = s_next((const unsigned char *)s + at, &t[tn]);
        if (n == 0)
            break;
        at += n;
        end[++tn] = at;
    }
    const uint32_t *c = w->c;
    size_t wn = w->n, k = 0;
    while (k < wn && k < tn && c[k] == t[k])
        k++;
    if (k == wn)
        return 0; /* the token starts with the word: no slip */
    /* Two neighbours swapped. */
    if (k + 1 < wn && tn >= wn && c[k] == t[k + 1] && c[k + 1] == t[k] &&
        s_same(c + k + 2, t + k + 2, wn - k - 2))
        return end[wn];
    /* One missing from the word ("petrv" is "petrov" before "petro"). */
    if (tn >= wn + 1 && s_same(c + k, t + k + 1, wn - k))
        return end[wn + 1];
    /* One code point wrong. */
    if (tn >= wn && s_same(c + k + 1, t + k + 1, wn - k - 1))
        return end[wn];
    /* One extra in the word. */
    if (wn > 1 && tn >= wn - 1 && s_same(c + k + 1, t + k, wn - k - 1))
        return end[wn - 1];
    return 0;
}
