/* Reply addresses, SMS numbers and stop words (notify_inbound.h). */
#include "notify_inbound.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#define PREFIX "reply+"
#define PREFIX_LEN 6

void notify_inbound_reply_address(const char *id, const char *domain, char *out, size_t size)
{
    char hex[33];
    size_t n = 0;
    out[0] = '\0';
    if (!cm_uuid_valid(id))
        return;
    for (const char *c = id; *c && n < 32; c++)
        if (*c != '-')
            hex[n++] = cm_ascii_tolower(*c);
    hex[n] = '\0';
    snprintf(out, size, PREFIX "%s@%s", hex, domain);
}

bool notify_inbound_reply_token(const char *addr, char id[37])
{
    const char *at = strchr(addr, '@');
    if (!at || at - addr != PREFIX_LEN + 32 || strncasecmp(addr, PREFIX, PREFIX_LEN))
        return false;
    const char *hex = addr + PREFIX_LEN;
    for (int i = 0; i < 32; i++)
        if (!strchr("0123456789abcdefABCDEF", hex[i]))
            return false;
    snprintf(id, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    for (int i = 0; i < 36; i++)
        id[i] = cm_ascii_tolower(id[i]);
    return true;
}

bool notify_inbound_phone(const char *in, char *out, size_t size)
{
    char buf[40];
    size_t n = 0;
    for (const char *c = in; *c; c++) {
        if (*c == ' ' || *c == '-' || *c == '.' || *c == '(' || *c == ')')
            continue;
        if (n + 1 >= sizeof buf)
            return false;
        buf[n++] = *c;
    }
    buf[n] = '\0';
    const char *digits = buf[0] == '+' ? buf + 1 : buf[0] == '0' && buf[1] == '0' ? buf + 2 : NULL;
    if (!digits)
        return false;
    size_t d = strlen(digits);
    if (d < 8 || d > 15 || strspn(digits, "0123456789") != d || digits[0] == '0' || size < d + 2)
        return false;
    snprintf(out, size, "+%s", digits);
    return true;
}

/* The stop words, folded (lower case, accents off): English, German, Polish,
 * Norwegian and Bulgarian. */
static const char *const s_stop_words[] = {
    "stop",   "stopp",    "stop all",  "stopall", "unsubscribe", "end",       "cancel",
    "quit",   "abmelden", "austragen", "stoppen", "wypisz",      "rezygnuje", "wypisz mnie",
    "avmeld", "meld av",  "avslutt",   "стоп",    "отпиши",      "отписване", "спри",
};

bool notify_inbound_is_stop(const char *text)
{
    utf8proc_uint8_t *folded = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)text, 0, &folded,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                          UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK);
    if (n < 0)
        return false;
    char *s = (char *)folded;
    size_t len = (size_t)n;
    size_t start = 0;
    while (start < len && cm_ascii_space((unsigned char)s[start]))
        start++;
    while (len > start && (cm_ascii_space((unsigned char)s[len - 1]) || strchr(".!", s[len - 1])))
        len--;
    s[len] = '\0';
    /* Inner white space as one space: "STOP  ALL". */
    char *w = s + start;
    char *out = w;
    bool space = false;
    for (char *c = w; *c; c++) {
        if (cm_ascii_space((unsigned char)*c)) {
            space = true;
            continue;
        }
        if (space)
            *out++ = ' ';
        space = false;
        *out++ = *c;
    }
    *out = '\0';
    bool stop = false;
    for (size_t i = 0; i < sizeof s_stop_words / sizeof *s_stop_words && !stop; i++)
        stop = !strcmp(w, s_stop_words[i]);
    free(folded);
    return stop;
}

const char *notify_inbound_stop_hint(const char *lang)
{
    static const char *const hints[][2] = {
        {"de", "Abmelden: STOPP antworten"},
        {"pl", "Rezygnacja: odpisz STOP"},
        {"nb", "Meld deg av: svar STOPP"},
        {"bg", "Отписване: отговорете СТОП"},
    };
    for (size_t i = 0; i < sizeof hints / sizeof *hints; i++)
        if (lang && !strcmp(lang, hints[i][0]))
            return hints[i][1];
    return "Unsubscribe: reply STOP";
}
