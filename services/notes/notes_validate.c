/* Pure checks for notes and tasks: texts, due times, ids, URLs, page tokens. */
#include "notes_validate.h"
#include "cm_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Texts                                                                   */

/* Decodes the code point at s (valid UTF-8) into *cp; returns its length. */
static size_t s_decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        *cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
        return 2;
    }
    if ((s[0] & 0xf0) == 0xe0) {
        *cp = ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
        return 3;
    }
    *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
          ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
    return 4;
}

static char *s_problem(struct notes_problem *p, const char *reason, const char *fmt, ...)
    CM_PRINTF(3, 4);

static char *s_problem(struct notes_problem *p, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    p->reason = reason;
    vsnprintf(p->description, sizeof p->description, fmt, ap);
    va_end(ap);
    return NULL;
}

char *notes_validate_text(const char *s, size_t max_chars, unsigned flags, const char *what,
                          struct notes_problem *p)
{
    p->reason = NULL;
    p->description[0] = '\0';
    size_t len = strlen(s);
    size_t bad = 0;
    if (!cm_utf8_valid(s, len, &bad))
        return s_problem(p, "INVALID", "%s is not valid UTF-8 (byte %zu)", what, bad);
    bool multiline = flags & NOTES_TEXT_MULTILINE;
    char *out = cm_malloc(len + 1);
    size_t o = 0, chars = 0;
    bool blank = true;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = s_decode(u + i, &cp);
        if (cp == '\r' && multiline) {
            /* CRLF and a lone CR both become one LF. */
            out[o++] = '\n';
            i += (i + 1 < len && u[i + 1] == '\n') ? 2 : 1;
            chars++;
            continue;
        }
        bool allowed_ctl = multiline && (cp == '\n' || cp == '\t');
        if ((cp < 0x20 && !allowed_ctl) || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
            free(out);
            return s_problem(
                p, "INVALID", "%s holds control character U+%04" PRIX32 " at character %zu%s", what,
                cp, chars + 1, multiline ? "; only newlines and tabs are allowed" : "");
        }
        if (cp != ' ' && cp != '\n' && cp != '\t' && cp != 0xa0 && cp != 0x3000)
            blank = false;
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
        chars++;
    }
    out[o] = '\0';
    if (chars > max_chars) {
        free(out);
        return s_problem(p, "TOO_LONG", "%s is %zu characters long; at most %zu are allowed", what,
                         chars, max_chars);
    }
    if ((flags & NOTES_TEXT_REQUIRED) && blank) {
        free(out);
        return s_problem(p, "REQUIRED", "%s is required and must not be blank", what);
    }
    return out;
}

/* ---------------------------------------------------------------------- */
/* Dates                                                                   */

static bool s_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned s_month_days(int y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && s_leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n decimal digits at *p. Returns -1 if they are not there. */
static long s_digits(const char **p, int n)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

enum notes_due_result notes_due_parse(const char *s, struct notes_due *out)
{
    const char *p = s;
    long y = s_digits(&p, 4);
    if (y < 0 || *p++ != '-')
        return NOTES_DUE_FORMAT;
    long mo = s_digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        return NOTES_DUE_FORMAT;
    long d = s_digits(&p, 2);
    if (d < 1 || d > (long)s_month_days((int)y, (unsigned)mo))
        return NOTES_DUE_FORMAT;
    int64_t days = cm_days_from_civil((int)y, (int)mo, (int)d);
    int64_t ms = days * 86400000;
    bool all_day = *p == '\0';
    if (!all_day) {
        if (*p != 'T' && *p != 't' && *p != ' ')
            return NOTES_DUE_FORMAT;
        p++;
        long h = s_digits(&p, 2);
        if (h < 0 || h > 23 || *p++ != ':')
            return NOTES_DUE_FORMAT;
        long mi = s_digits(&p, 2);
        if (mi < 0 || mi > 59 || *p++ != ':')
            return NOTES_DUE_FORMAT;
        long se = s_digits(&p, 2);
        if (se < 0 || se > 59) // no leap seconds: a due time needs none
            return NOTES_DUE_FORMAT;
        long frac_ms = 0;
        if (*p == '.') {
            p++;
            int n = 0;
            for (; *p >= '0' && *p <= '9'; p++, n++)
                if (n < 3)
                    frac_ms = frac_ms * 10 + (*p - '0');
            if (n == 0 || n > 9)
                return NOTES_DUE_FORMAT;
            for (; n < 3; n++)
                frac_ms *= 10;
        }
        long offset_min = 0;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1;
            long oh = s_digits(&p, 2);
            if (oh < 0 || oh > 23 || *p++ != ':')
                return NOTES_DUE_FORMAT;
            long om = s_digits(&p, 2);
            if (om < 0 || om > 59)
                return NOTES_DUE_FORMAT;
            offset_min = sign * (oh * 60 + om);
        } else {
            return NOTES_DUE_FORMAT; // a time without its offset means nothing
        }
        if (*p != '\0')
            return NOTES_DUE_FORMAT;
        ms += ((int64_t)h * 3600 + mi * 60 + se) * 1000 + frac_ms - (int64_t)offset_min * 60000;
    }
    int uy, um, ud;
    cm_civil_from_days(ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000, &uy, &um, &ud);
    if (uy < NOTES_DUE_MIN_YEAR || uy > NOTES_DUE_MAX_YEAR)
        return NOTES_DUE_RANGE;
    out->ms = ms;
    out->all_day = all_day;
    return NOTES_DUE_OK;
}

char *notes_due_format(const struct notes_due *d, char *buf, size_t size)
{
    int64_t days = d->ms >= 0 ? d->ms / 86400000 : (d->ms - 86399999) / 86400000;
    int64_t rest = d->ms - days * 86400000;
    int y, m, dd;
    cm_civil_from_days(days, &y, &m, &dd);
    if (d->all_day) {
        snprintf(buf, size, "%04d-%02d-%02d", y, m, dd);
        return buf;
    }
    int h = (int)(rest / 3600000), mi = (int)(rest / 60000 % 60), s = (int)(rest / 1000 % 60);
    int ms = (int)(rest % 1000);
    if (ms)
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, dd, h, mi, s, ms);
    else
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, dd, h, mi, s);
    return buf;
}

/* ---------------------------------------------------------------------- */
/* Ids and URLs                                                            */

bool notes_staff_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || n == NOTES_STAFF_ID_MAX)
            return false;
    return n > 0;
}

bool notes_base_url_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return true;
    if (n > NOTES_BASE_URL_MAX || s[n - 1] == '/')
        return false;
    const char *host;
    if (!strncmp(s, "https://", 8))
        host = s + 8;
    else if (!strncmp(s, "http://", 7))
        host = s + 7;
    else
        return false;
    if (*host == '\0' || *host == '/' || *host == ':')
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '#' || c == '?' || c == '<' ||
            c == '>' || c == '`' || c == '{' || c == '}' || c == '|' || c == '^')
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* Page tokens                                                             */

char *notes_token_make(int flag, int64_t key, const char *id, char *buf, size_t size)
{
    snprintf(buf, size, "%d.%" PRId64 ".%s", flag, key, id);
    return buf;
}

int notes_token_parse(const char *tok, int *flag, int64_t *key, char id[NOTES_ID_SIZE])
{
    if ((tok[0] != '0' && tok[0] != '1') || tok[1] != '.')
        return -1;
    const char *k = tok + 2;
    const char *dot = strchr(k, '.');
    if (!dot || dot == k || dot - k > 20)
        return -1;
    char num[24];
    memcpy(num, k, (size_t)(dot - k));
    num[dot - k] = '\0';
    char *end = NULL;
    errno = 0;
    long long v = strtoll(num, &end, 10);
    if (*end != '\0' || errno || (num[0] != '-' && (num[0] < '0' || num[0] > '9')))
        return -1;
    if (!cm_uuid_valid(dot + 1))
        return -1;
    *flag = tok[0] - '0';
    *key = (int64_t)v;
    memcpy(id, dot + 1, NOTES_ID_SIZE);
    return 0;
}
