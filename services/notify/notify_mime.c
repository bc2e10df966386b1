/* The MIME builder (notify_mime.h). */
#include "notify_mime.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Raw bytes per encoded word: 39 bytes are 52 base64 characters, so
 * "=?UTF-8?B?" + 52 + "?=" is 64 and "Subject: " with it stays under 78. */
#define WORD_BYTES 39

static bool s_printable_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return false;
    return true;
}

static bool s_has_break(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

bool notify_mime_addr_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 254 || !s_printable_ascii(s))
        return false;
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@'))
        return false;
    return strpbrk(s, " <>(),;:\"\\") == NULL;
}

/* ---------------------------------------------------------------------- */
/* Header fields                                                           */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int s_base64(cm_buf_t *out, const unsigned char *p, size_t n)
{
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        q[0] = B64[v >> 18 & 63];
        q[1] = B64[v >> 12 & 63];
        q[2] = i + 1 < n ? B64[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? B64[v & 63] : '=';
        if (cm_buf_append(out, q, 4))
            return -1;
    }
    return 0;
}

/* The length of the longest run of whole UTF-8 characters from s of at most
 * max bytes (at least one character). */
static size_t s_utf8_cut(const unsigned char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t cut = max;
    while (cut > 0 && (s[cut] & 0xC0) == 0x80)
        cut--;
    if (cut == 0) { /* a character longer than max: cannot happen with max >= 4 */
        cut = 1;
        while (cut < len && (s[cut] & 0xC0) == 0x80)
            cut++;
    }
    return cut;
}

/* Encoded words for value, folded one per line after the first. */
static int s_encoded_words(cm_buf_t *out, const char *value)
{
    const unsigned char *p = (const unsigned char *)value;
    size_t left = strlen(value);
    bool first = true;
    while (left > 0) {
        size_t n = s_utf8_cut(p, left, WORD_BYTES);
        if (!first && cm_buf_append(out, "\r\n ", 3))
            return -1;
        if (cm_buf_append(out, "=?UTF-8?B?", 10) || s_base64(out, p, n) ||
            cm_buf_append(out, "?=", 2))
            return -1;
        p += n;
        left -= n;
        first = false;
    }
    return 0;
}

/* Printable ASCII folded at spaces: a line is broken before a space when the
 * next word would take it past NOTIFY_MIME_LINE and fits a line of its own.
 * value opens with the space after the field's colon, so even its first word
 * can go to the next line. col is the column after the colon. A word longer
 * than a line stays where it is, whole (a URL): breaking before it would
 * gain nothing. RFC 5322's hard limit of 998 is the caller's. */
static int s_folded_ascii(cm_buf_t *out, const char *value, size_t col)
{
    const char *p = value;
    while (*p) {
        const char *sp = strchr(p + 1, ' ');
        size_t n = sp ? (size_t)(sp - p) : strlen(p);
        if (*p == ' ' && col > 1 && col + n > NOTIFY_MIME_LINE && n <= NOTIFY_MIME_LINE) {
            if (cm_buf_append(out, "\r\n", 2))
                return -1;
            col = 0;
        }
        if (cm_buf_append(out, p, n))
            return -1;
        col += n;
        p += n;
    }
    return 0;
}

/* Whether every word of a value fits on a folded line of its own. */
static bool s_words_fit(const char *value)
{
    size_t run = 0;
    for (const char *p = value; *p; p++) {
        run = *p == ' ' ? 0 : run + 1;
        if (run > NOTIFY_MIME_LINE - 1)
            return false;
    }
    return true;
}

/* An encoded word would be taken for text: "=?" in a plain value is encoded,
 * and so is one with a word too long for a line. */
static bool s_plain_ok(const char *value)
{
    return s_printable_ascii(value) && !strstr(value, "=?") && s_words_fit(value);
}

/* "Name:" and the space that opens a plain value, which folding may break. */
static int s_plain_field(cm_buf_t *out, const char *name, const char *value)
{
    if (cm_buf_printf(out, "%s:", name))
        return -1;
    char *spaced = cm_strfmt(" %s", value);
    int rc = s_folded_ascii(out, spaced, strlen(name) + 1);
    free(spaced);
    return rc || cm_buf_append(out, "\r\n", 2) ? -1 : 0;
}

int notify_mime_header(cm_buf_t *out, const char *name, const char *value)
{
    if (s_plain_ok(value))
        return s_plain_field(out, name, value);
    if (cm_buf_printf(out, "%s: ", name) || s_encoded_words(out, value) ||
        cm_buf_append(out, "\r\n", 2))
        return -1;
    return 0;
}

/* A field of the caller's ("Name: value", printable ASCII), folded at its
 * spaces, never encoded: it may hold a URL. */
static int s_extra(cm_buf_t *out, const char *field)
{
    const char *colon = strchr(field, ':');
    char *name = cm_strndup(field, (size_t)(colon - field));
    const char *value = colon + 1;
    while (*value == ' ')
        value++;
    int rc = s_plain_field(out, name, value);
    free(name);
    return rc;
}

/* "Name: <id>" for each id, one per line (In-Reply-To, References). */
static int s_msg_ids(cm_buf_t *out, const char *name, const char *const *ids, size_t n)
{
    if (cm_buf_printf(out, "%s:", name))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (cm_buf_printf(out, "%s<%s>", i ? "\r\n " : " ", ids[i]))
            return -1;
    return cm_buf_append(out, "\r\n", 2);
}

/* RFC 5322 atext plus space: a display name of these needs no quotes. */
static bool s_atext_phrase(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (cm_ascii_digit(*p) || cm_ascii_upper(*p) || cm_ascii_lower(*p) || *p == ' ')
            continue;
        if (!strchr("!#$%&'*+-/=?^_`{|}~", *p))
            return false;
    }
    return true;
}

/* "Name: display name <addr>" and CRLF. */
static int s_address(cm_buf_t *out, const char *field, const char *name, const char *addr)
{
    if (cm_buf_printf(out, "%s: ", field))
        return -1;
    if (name && name[0]) {
        int rc = 0;
        if (s_plain_ok(name) && s_atext_phrase(name)) {
            rc = cm_buf_append(out, name, strlen(name));
        } else if (s_plain_ok(name)) {
            rc = cm_buf_append(out, "\"", 1);
            for (const char *p = name; *p && !rc; p++)
                rc = (*p == '"' || *p == '\\') ? cm_buf_printf(out, "\\%c", *p)
                                               : cm_buf_append(out, p, 1);
            rc = rc ? rc : cm_buf_append(out, "\"", 1);
        } else {
            rc = s_encoded_words(out, name);
        }
        /* The address on a line of its own when the name filled this one. */
        if (rc || cm_buf_append(out, "\r\n ", 3))
            return -1;
    }
    return cm_buf_printf(out, "<%s>\r\n", addr);
}

char *notify_mime_date(int64_t ms, char *buf, size_t size)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

/* ---------------------------------------------------------------------- */
/* Bodies                                                                  */

static const char HEX[] = "0123456789ABCDEF";

/* Appends one encoded unit (1 or 3 characters), breaking the line softly
 * first when it would not fit before the '=' of a soft break. */
static int s_qp_unit(cm_buf_t *out, size_t *col, const char *unit, size_t n)
{
    if (*col + n > NOTIFY_MIME_QP_LINE - 1) {
        if (cm_buf_append(out, "=\r\n", 3))
            return -1;
        *col = 0;
    }
    *col += n;
    return cm_buf_append(out, unit, n);
}

int notify_mime_qp(cm_buf_t *out, const char *text)
{
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        unsigned char c = *p;
        if (c == '\r' || c == '\n') {
            if (c == '\r' && p[1] == '\n')
                p++;
            if (cm_buf_append(out, "\r\n", 2))
                return -1;
            col = 0;
            continue;
        }
        bool line_end = p[1] == '\0' || p[1] == '\r' || p[1] == '\n';
        bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
        /* A '.' opening a line is encoded too: no transport can take it for
         * the end of the message. */
        if (c == '.' && col == 0)
            literal = false;
        char unit[3] = {(char)c, 0, 0};
        size_t n = 1;
        if (!literal) {
            unit[0] = '=';
            unit[1] = HEX[c >> 4];
            unit[2] = HEX[c & 15];
            n = 3;
        }
        if (s_qp_unit(out, &col, unit, n))
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The message                                                             */

static int s_part_header(cm_buf_t *out, const char *type)
{
    return cm_buf_printf(out,
                         "Content-Type: %s; charset=UTF-8\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n",
                         type);
}

static bool s_utf8_line(const char *s)
{
    return s && cm_utf8_valid(s, strlen(s), NULL) && !s_has_break(s);
}

cm_err_t notify_mime_build(const struct notify_mime *m, cm_buf_t *out)
{
    if (!notify_mime_addr_ok(m->from_addr) || !notify_mime_addr_ok(m->to_addr) ||
        (m->reply_to && m->reply_to[0] && !notify_mime_addr_ok(m->reply_to)) ||
        !s_utf8_line(m->subject) || !s_utf8_line(m->from_name ? m->from_name : "") ||
        !s_utf8_line(m->to_name ? m->to_name : "") || !m->message_id ||
        !notify_mime_addr_ok(m->message_id) || !m->text ||
        !cm_utf8_valid(m->text, strlen(m->text), NULL) ||
        (m->html && !cm_utf8_valid(m->html, strlen(m->html), NULL)))
        return CM_ERR_INVALID;
    for (const char *const *h = m->extra; h && *h; h++)
        if (!s_printable_ascii(*h) || !strchr(*h, ':') || strlen(*h) > NOTIFY_MIME_FIELD_MAX)
            return CM_ERR_INVALID;
    size_t n_refs = 0;
    for (; m->references && m->references[n_refs]; n_refs++)
        if (!notify_mime_addr_ok(m->references[n_refs]))
            return CM_ERR_INVALID;
    if (m->in_reply_to && m->in_reply_to[0] && !notify_mime_addr_ok(m->in_reply_to))
        return CM_ERR_INVALID;

    char date[40];
    bool alt = m->html && m->html[0];
    int rc = s_address(out, "From", m->from_name, m->from_addr) ||
             s_address(out, "To", m->to_name, m->to_addr) ||
             (m->reply_to && m->reply_to[0] && s_address(out, "Reply-To", NULL, m->reply_to)) ||
             notify_mime_header(out, "Subject", m->subject) ||
             cm_buf_printf(out, "Date: %s\r\n", notify_mime_date(m->date_ms, date, sizeof date)) ||
             cm_buf_printf(out, "Message-ID: <%s>\r\nMIME-Version: 1.0\r\n", m->message_id);
    if (!rc && m->in_reply_to && m->in_reply_to[0])
        rc = s_msg_ids(out, "In-Reply-To", &m->in_reply_to, 1);
    if (!rc && n_refs)
        rc = s_msg_ids(out, "References", m->references, n_refs);
    for (const char *const *h = m->extra; h && *h && !rc; h++)
        rc = s_extra(out, *h);
    if (rc)
        return CM_ERR_UNAVAILABLE;
    if (!alt) {
        rc = s_part_header(out, "text/plain") || cm_buf_append(out, "\r\n", 2) ||
             notify_mime_qp(out, m->text) || cm_buf_append(out, "\r\n", 2);
        return rc ? CM_ERR_UNAVAILABLE : CM_OK;
    }
    const char *seed = m->boundary_seed ? m->boundary_seed : "0";
    rc = cm_buf_printf(out,
                       "Content-Type: multipart/alternative;\r\n boundary=\"=_crm_%s\"\r\n\r\n"
                       "This is a message in two forms: text and HTML.\r\n\r\n--=_crm_%s\r\n",
                       seed, seed) ||
         s_part_header(out, "text/plain") || cm_buf_append(out, "\r\n", 2) ||
         notify_mime_qp(out, m->text) || cm_buf_printf(out, "\r\n--=_crm_%s\r\n", seed) ||
         s_part_header(out, "text/html") || cm_buf_append(out, "\r\n", 2) ||
         notify_mime_qp(out, m->html) || cm_buf_printf(out, "\r\n--=_crm_%s--\r\n", seed);
    return rc ? CM_ERR_UNAVAILABLE : CM_OK;
}
