/* Folding with utf8proc and ICU's Latin-ASCII transliterator. */
#include "search_fold.h"
#include "cm_log.h"
#include "cm_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utrans.h>

static UTransliterator *s_latin_ascii; // owned; opened on first use
static bool s_latin_failed;

/* True when s holds a non-ASCII letter of the Latin script. */
static bool s_has_latin(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0)
            return false;
        UErrorCode st = U_ZERO_ERROR;
        if (uscript_getScript(cp, &st) == USCRIPT_LATIN && U_SUCCESS(st))
            return true;
        i += (size_t)n;
    }
    return false;
}

/* Latin-ASCII over a whole (already folded) string. Returns a malloc'd string
 * or NULL when ICU cannot do it (the input then stays as it is). */
static char *s_transliterate(const char *s, size_t len)
{
    if (!s_latin_ascii && !s_latin_failed) {
        UChar id[16];
        u_uastrcpy(id, "Latin-ASCII");
        UErrorCode st = U_ZERO_ERROR;
        s_latin_ascii = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, NULL, &st);
        if (U_FAILURE(st)) {
            cm_log_error("could not open the Latin-ASCII transliterator: %s", u_errorName(st));
            s_latin_ascii = NULL;
            s_latin_failed = true;
        }
    }
    if (!s_latin_ascii)
        return NULL;
    /* Each letter becomes at most a few (Þ -> TH, ß -> ss): 4x is ample. */
    int32_t cap = (int32_t)len * 4 + 16;
    UChar *u = cm_malloc((size_t)cap * sizeof *u);
    char *out = NULL;
    int32_t ulen = 0;
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(u, cap, &ulen, s, (int32_t)len, &st);
    if (U_FAILURE(st))
        goto out;
    int32_t limit = ulen;
    utrans_transUChars(s_latin_ascii, u, &ulen, cap, 0, &limit, &st);
    if (U_FAILURE(st))
        goto out;
    int32_t olen = 0;
    u_strToUTF8(NULL, 0, &olen, u, ulen, &st);
    st = U_ZERO_ERROR;
    out = cm_malloc((size_t)olen + 1);
    u_strToUTF8(out, olen + 1, NULL, u, ulen, &st);
    if (U_FAILURE(st)) {
        free(out);
        out = NULL;
    }
out:
    free(u);
    return out;
}

char *search_fold(const char *text)
{
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)text, 0, &mapped,
                     UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE |
                         UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
    if (n < 0) {
        /* Not UTF-8 (the services reject it at the edge): lower-case ASCII. */
        char *out = cm_strdup(text);
        for (char *p = out; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        return out;
    }
    if (s_has_latin(mapped, (size_t)n)) {
        char *t = s_transliterate((const char *)mapped, (size_t)n);
        if (t) {
            free(mapped);
            /* Latin-ASCII may produce capitals (Æ -> AE from an upper-case
             * input that case folding missed); lower them. */
            for (char *p = t; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            return t;
        }
    }
    return (char *)mapped;
}

/* True for the code points that end a word: not a letter, digit or mark. */
static bool s_word_char(utf8proc_int32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    utf8proc_category_t c = utf8proc_category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
           (c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME) ||
           (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

static bool s_apostrophe(utf8proc_int32_t cp)
{
    return cp == '\'' || cp == 0x2019 || cp == 0x02BC || cp == 0x2018;
}

size_t search_fold_words(const char *text, char *out, size_t size)
{
    char *f = search_fold(text);
    const uint8_t *s = (const uint8_t *)f;
    size_t len = strlen(f), o = 0, i = 0, word_start = 0;
    bool in_word = false;
    if (size == 0) {
        free(f);
        return 0;
    }
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) {
            n = 1;
            cp = ' ';
        }
        if (s_word_char(cp)) {
            if (!in_word) {
                if (o) {
                    if (o + 1 >= size)
                        break; /* no room for a separator, let alone a word */
                    out[o++] = ' ';
                }
                word_start = o;
                in_word = true;
            }
            if (o + (size_t)n >= size) {
                /* Cut at the last whole word. */
                o = word_start ? word_start - 1 : 0;
                break;
            }
            memcpy(out + o, s + i, (size_t)n);
            o += (size_t)n;
        } else if (!(in_word && s_apostrophe(cp))) {
            in_word = false;
        }
        i += (size_t)n;
    }
    out[o] = '\0';
    free(f);
    return o;
}

size_t search_digits(const char *text, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = text; *p && o + 1 < size; p++)
        if (*p >= '0' && *p <= '9')
            out[o++] = *p;
    if (size)
        out[o] = '\0';
    return o;
}

bool search_is_numeric(const char *word)
{
    bool digit = false;
    for (const char *p = word; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = true;
        else if (!strchr("+-()./", *p))
            return false;
    }
    return digit;
}

void search_fold_shutdown(void)
{
    if (s_latin_ascii)
        utrans_close(s_latin_ascii);
    s_latin_ascii = NULL;
}
