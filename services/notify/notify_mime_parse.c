/* Reading an e-mail sent back (notify_mime_parse.h). */
#include "notify_mime_parse.h"
#include "cm_buf.h"
#include "cm_util.h"

#include <assert.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ADDRESSES 100 // recipients kept
#define MAX_SUBJECT 998   // bytes of the subject kept
#define MAX_BOUNDARY 70   // RFC 2046 5.1.1

/* Appends to a buffer without a cap (such an append cannot fail). */
static void s_add(cm_buf_t *b, const void *data, size_t n)
{
    int rc = cm_buf_append(b, data, n);
    assert(rc == 0);
    (void)rc;
}

struct s_field {
    const char *name; // borrowed (the raw message)
    size_t name_len;
    const char *value; // borrowed (the raw message): folded, as written
    size_t value_len;
};

struct s_header {
    struct s_field *fields; // owned
    size_t n;
};

struct s_ctx {
    char *why; // borrowed (the caller's buffer for the reason)
    size_t whysz;
    bool failed;
    int parts;
    char *plain;        // owned: the first text/plain part, UTF-8
    char *html;         // owned: the first text/html part, UTF-8
    char **attachments; // owned
    size_t n_attachments;
};

static void s_fail(struct s_ctx *ctx, const char *fmt, ...) CM_PRINTF(2, 3);
static void s_fail(struct s_ctx *ctx, const char *fmt, ...)
{
    if (ctx->failed)
        return;
    ctx->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->why, ctx->whysz, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* Header sections                                                          */

/* Splits data into its header fields and body. A section without an empty
 * line is all header (a body part may have none). */
static int s_split(struct s_ctx *ctx, const char *data, size_t len, struct s_header *h,
                   const char **body, size_t *body_len)
{
    size_t pos = 0;
    h->fields = NULL;
    h->n = 0;
    *body = data + len;
    *body_len = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        size_t line_len = end - pos;
        if (line_len && data[end - 1] == '\r')
            line_len--;
        if (pos > NOTIFY_MIME_PARSE_MAX_HEADER) {
            s_fail(ctx, "a header section is larger than %d bytes", NOTIFY_MIME_PARSE_MAX_HEADER);
            return -1;
        }
        if (line_len == 0) {
            *body = nl ? data + end + 1 : data + len;
            *body_len = (size_t)(data + len - *body);
            return 0;
        }
        const char *line = data + pos;
        if ((line[0] == ' ' || line[0] == '\t') && h->n) {
            struct s_field *f = &h->fields[h->n - 1];
            f->value_len = (size_t)(line + line_len - f->value);
        } else {
            const char *colon = memchr(line, ':', line_len);
            /* A line that is no field (an mbox "From " line) is passed over. */
            if (colon && colon > line) {
                if (h->n == NOTIFY_MIME_PARSE_MAX_FIELDS) {
                    s_fail(ctx, "a header section has more than %d fields",
                           NOTIFY_MIME_PARSE_MAX_FIELDS);
                    return -1;
                }
                if (!h->fields)
                    h->fields = cm_calloc(NOTIFY_MIME_PARSE_MAX_FIELDS, sizeof *h->fields);
                struct s_field *f = &h->fields[h->n++];
                f->name = line;
                f->name_len = (size_t)(colon - line);
                f->value = colon + 1;
                f->value_len = (size_t)(line + line_len - (colon + 1));
            }
        }
        pos = nl ? end + 1 : len;
    }
    return 0;
}

/* Field i's value unfolded (line breaks out) and trimmed; dynamic. */
static char *s_value(const struct s_field *f)
{
    char *v = cm_malloc(f->value_len + 1);
    size_t n = 0;
    for (size_t i = 0; i < f->value_len; i++)
        if (f->value[i] != '\r' && f->value[i] != '\n')
            v[n++] = f->value[i];
    v[n] = '\0';
    size_t start = 0;
    while (start < n && (v[start] == ' ' || v[start] == '\t'))
        start++;
    while (n > start && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    memmove(v, v + start, n - start);
    v[n - start] = '\0';
    return v;
}

/* The first field called name, unfolded (dynamic), or NULL. */
static char *s_get(const struct s_header *h, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->n; i++)
        if (h->fields[i].name_len == n && !strncasecmp(h->fields[i].name, name, n))
            return s_value(&h->fields[i]);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Charsets and transfer encodings                                          */

/* data[0..len) in charset as UTF-8 (dynamic, *out_len its length), or NULL:
 * *unknown says whether the charset is one iconv does not know (else the
 * bytes are not valid in it). A NUL byte is refused too. */
static char *s_utf8(const char *charset, const char *data, size_t len, size_t *out_len,
                    bool *unknown)
{
    *unknown = false;
    if (memchr(data, '\0', len))
        return NULL;
    if (!charset[0] || !strcasecmp(charset, "utf-8") || !strcasecmp(charset, "utf8") ||
        !strcasecmp(charset, "us-ascii") || !strcasecmp(charset, "ascii")) {
        /* 8-bit bytes in "us-ascii" are taken when they are UTF-8 (RFC 6532). */
        if (!cm_utf8_valid(data, len, NULL))
            return NULL;
        *out_len = len;
        return cm_strndup(data, len);
    }
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == (iconv_t)-1) {
        *unknown = true;
        return NULL;
    }
    size_t cap = len * 4 + 16;
    char *out = cm_malloc(cap);
    char *in = (char *)data, *op = out;
    size_t in_left = len, out_left = cap - 1;
    size_t rc = iconv(cd, &in, &in_left, &op, &out_left);
    if (rc != (size_t)-1)
        rc = iconv(cd, NULL, NULL, &op, &out_left);
    iconv_close(cd);
    *op = '\0';
    *out_len = (size_t)(op - out);
    if (rc == (size_t)-1 || memchr(out, '\0', *out_len) || !cm_utf8_valid(out, *out_len, NULL)) {
        free(out);
        return NULL;
    }
    return out;
}

static int s_b64(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Base64 into out (at least len * 3 / 4 + 3 bytes); white space is passed
 * over, decoding stops at '='. -1 on any other character. */
static int s_base64(const char *in, size_t len, char *out, size_t *out_len)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (cm_ascii_space(c))
            continue;
        if (c == '=')
            break;
        int v = s_b64(c);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    *out_len = n;
    return 0;
}

/* Quoted-printable into out (at least len bytes): "=XX" a byte, "=" at a line
 * end a soft break; an '=' that is neither is kept as it is (RFC 2045 6.7
 * note 1). With q (RFC 2047 "Q"), '_' is a space. */
static void s_qp(const char *in, size_t len, bool q, char *out, size_t *out_len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '=' && i + 2 < len && cm_hex_digit((unsigned char)in[i + 1]) >= 0 &&
            cm_hex_digit((unsigned char)in[i + 2]) >= 0) {
            out[n++] = (char)(cm_hex_digit((unsigned char)in[i + 1]) * 16 +
                              cm_hex_digit((unsigned char)in[i + 2]));
            i += 2;
        } else if (c == '=' && i + 1 < len && (in[i + 1] == '\n' || in[i + 1] == '\r')) {
            i += in[i + 1] == '\r' && i + 2 < len && in[i + 2] == '\n' ? 2 : 1;
        } else if (c == '=' && !q) {
            /* Soft break before trailing white space: "=  \r\n". */
            size_t k = i + 1;
            while (k < len && (in[k] == ' ' || in[k] == '\t'))
                k++;
            if (k == len || in[k] == '\r' || in[k] == '\n') {
                i = k < len && in[k] == '\r' && k + 1 < len && in[k + 1] == '\n' ? k + 1 : k;
                continue;
            }
            out[n++] = c;
        } else {
            out[n++] = q && c == '_' ? ' ' : c;
        }
    }
    *out_len = n;
}

/* ---------------------------------------------------------------------- */
/* RFC 2047 encoded words                                                   */

/* One "=?charset?E?text?=" at s (n bytes left) decoded into out; returns its
 * length, or 0 when s holds no well-formed word (then it is kept as text). */
static size_t s_word(const char *s, size_t n, cm_buf_t *out)
{
    if (n < 8 || s[0] != '=' || s[1] != '?')
        return 0;
    const char *cs = s + 2, *end = s + n;
    const char *q1 = memchr(cs, '?', (size_t)(end - cs));
    if (!q1 || q1 == cs || q1 + 3 >= end || q1[2] != '?' || q1 - cs > 40)
        return 0;
    char enc = cm_ascii_toupper(q1[1]);
    const char *text = q1 + 3;
    const char *q2 = text;
    while (q2 + 1 < end && !(q2[0] == '?' && q2[1] == '=')) {
        if (cm_ascii_space((unsigned char)*q2))
            return 0;
        q2++;
    }
    if (q2 + 1 >= end || (enc != 'B' && enc != 'Q'))
        return 0;
    char charset[48];
    snprintf(charset, sizeof charset, "%.*s", (int)(q1 - cs), cs);
    /* RFC 2231 adds a language: "utf-8*de". */
    char *star = strchr(charset, '*');
    if (star)
        *star = '\0';
    size_t tlen = (size_t)(q2 - text), blen = 0;
    char *bytes = cm_malloc(tlen + 4);
    if (enc == 'B') {
        if (s_base64(text, tlen, bytes, &blen)) {
            free(bytes);
            return 0;
        }
    } else {
        s_qp(text, tlen, true, bytes, &blen);
    }
    bool unknown;
    size_t ulen = 0;
    char *u = s_utf8(charset, bytes, blen, &ulen, &unknown);
    free(bytes);
    if (!u)
        return 0;
    int rc = cm_buf_append(out, u, ulen);
    free(u);
    return rc ? 0 : (size_t)(q2 + 2 - s);
}

/* in with its encoded words decoded, line breaks and tabs as spaces;
 * dynamic, or NULL when the result is not UTF-8. White space between two
 * encoded words goes (RFC 2047 6.2). */
static char *s_decode_words(const char *in)
{
    cm_buf_t out, word;
    cm_buf_init(&out, 0);
    cm_buf_init(&word, 0);
    size_t n = strlen(in);
    bool after_word = false;
    size_t word_end = 0; // out.len just after the last encoded word
    for (size_t i = 0; i < n;) {
        cm_buf_reset(&word);
        size_t used = s_word(in + i, n - i, &word);
        if (used) {
            if (after_word && out.data) {
                /* Only white space since the last word: it goes. */
                out.len = word_end;
                out.data[out.len] = '\0';
            }
            s_add(&out, word.data, word.len);
            i += used;
            after_word = true;
            word_end = out.len;
            continue;
        }
        char c = in[i] == '\t' || in[i] == '\r' || in[i] == '\n' ? ' ' : in[i];
        if (c != ' ')
            after_word = false;
        s_add(&out, &c, 1);
        i++;
    }
    cm_buf_release(&word);
    size_t len = 0;
    char *s = cm_buf_steal(&out, &len);
    if (!s)
        s = cm_strdup("");
    if (!cm_utf8_valid(s, strlen(s), NULL)) {
        free(s);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------------- */
/* Structured fields: parameters, addresses, Message-IDs                    */

/* The value of parameter key in a Content-Type or Content-Disposition value
 * (token or quoted string; "key*=charset''percent-encoded" of RFC 2231 too)
 * into out; false when it has none. */
static bool s_param(const char *v, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    const char *p = strchr(v, ';');
    while (p) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *eq = strchr(p, '=');
        if (!eq)
            return false;
        const char *name_end = eq;
        while (name_end > p && (name_end[-1] == ' ' || name_end[-1] == '\t'))
            name_end--;
        bool ext = name_end > p && name_end[-1] == '*';
        size_t nlen = (size_t)(name_end - p) - (ext ? 1 : 0);
        bool match = nlen == klen && !strncasecmp(p, key, klen);
        const char *val = eq + 1;
        while (*val == ' ' || *val == '\t')
            val++;
        size_t n = 0;
        const char *next;
        if (*val == '"') {
            const char *q = val + 1;
            while (*q && *q != '"') {
                if (*q == '\\' && q[1])
                    q++;
                if (match && n + 1 < size)
                    out[n++] = *q;
                q++;
            }
            next = strchr(*q ? q + 1 : q, ';');
        } else {
            const char *e = val;
            while (*e && *e != ';' && *e != ' ' && *e != '\t')
                e++;
            if (match && ext) {
                /* charset'language'percent-encoded: the name as its bytes. */
                const char *t = memchr(val, '\'', (size_t)(e - val));
                t = t ? memchr(t + 1, '\'', (size_t)(e - t - 1)) : NULL;
                for (const char *c = t ? t + 1 : val; c < e && n + 1 < size; c++) {
                    if (*c == '%' && c + 2 < e && cm_hex_digit((unsigned char)c[1]) >= 0 &&
                        cm_hex_digit((unsigned char)c[2]) >= 0) {
                        out[n++] = (char)(cm_hex_digit((unsigned char)c[1]) * 16 +
                                          cm_hex_digit((unsigned char)c[2]));
                        c += 2;
                    } else {
                        out[n++] = *c;
                    }
                }
            } else if (match) {
                for (const char *c = val; c < e && n + 1 < size; c++)
                    out[n++] = *c;
            }
            next = strchr(e, ';');
        }
        if (match) {
            out[n] = '\0';
            return true;
        }
        p = next;
    }
    return false;
}

/* The media type of a Content-Type value, lower case, into out. */
static void s_media_type(const char *v, char *out, size_t size)
{
    size_t n = 0;
    for (const char *c = v; *c && *c != ';' && n + 1 < size; c++)
        if (!cm_ascii_space((unsigned char)*c))
            out[n++] = cm_ascii_tolower(*c);
    out[n] = '\0';
}

/* Appends to list (*n of at most max) a copy of s[0..len). */
static void s_push(char ***list, size_t *n, const char *s, size_t len)
{
    *list = cm_realloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = cm_strndup(s, len);
}

/* Whether s[0..len) is a Message-ID we keep: printable ASCII, no brackets. */
static bool s_id_ok(const char *s, size_t len)
{
    if (!len || len > NOTIFY_MIME_PARSE_MAX_ID)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '<' || s[i] == '>')
            return false;
    return true;
}

/* The Message-IDs of a field (each "<...>", without the brackets; a bare id
 * when there are no brackets at all), appended to list up to max; the last
 * ones are kept when there are more. Ids longer than NOTIFY_MIME_PARSE_MAX_ID
 * are passed over. */
static void s_ids(const char *v, char ***list, size_t *n, size_t max)
{
    const char *p = v;
    bool any = false;
    while ((p = strchr(p, '<'))) {
        const char *e = strchr(p + 1, '>');
        if (!e)
            break;
        size_t len = (size_t)(e - p - 1);
        any = true;
        if (s_id_ok(p + 1, len)) {
            if (*n == max) {
                free((*list)[0]);
                memmove(*list, *list + 1, (max - 1) * sizeof **list);
                (*n)--;
            }
            s_push(list, n, p + 1, len);
        }
        p = e + 1;
    }
    size_t len = strlen(v);
    if (!any && s_id_ok(v, len) && *n < max)
        s_push(list, n, v, len);
}

/* The address of one mailbox ("Name <a@b>", "a@b (comment)", "a@b") and
 * its display name as written (quotes off, still encoded). */
static void s_mailbox(const char *s, size_t len, char **addr, char **name)
{
    const char *lt = NULL, *gt = NULL;
    bool quoted = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' && (i == 0 || s[i - 1] != '\\'))
            quoted = !quoted;
        else if (!quoted && s[i] == '<' && !lt)
            lt = s + i;
        else if (!quoted && s[i] == '>' && lt && !gt)
            gt = s + i;
    }
    const char *a = s, *ae = s + len;
    if (lt && gt) {
        a = lt + 1;
        ae = gt;
    } else {
        const char *paren = memchr(s, '(', len);
        if (paren)
            ae = paren;
    }
    while (a < ae && cm_ascii_space((unsigned char)*a))
        a++;
    while (ae > a && cm_ascii_space((unsigned char)ae[-1]))
        ae--;
    *addr = cm_strndup(a, (size_t)(ae - a));
    for (char *c = *addr; *c; c++)
        *c = cm_ascii_tolower(*c);
    if (!name)
        return;
    const char *ns = s, *ne = lt && gt ? lt : s;
    while (ns < ne && cm_ascii_space((unsigned char)*ns))
        ns++;
    while (ne > ns && cm_ascii_space((unsigned char)ne[-1]))
        ne--;
    if (ne - ns >= 2 && *ns == '"' && ne[-1] == '"') {
        ns++;
        ne--;
    }
    char *raw = cm_malloc((size_t)(ne - ns) + 1);
    size_t n = 0;
    for (const char *c = ns; c < ne; c++) {
        if (*c == '\\' && c + 1 < ne)
            c++;
        raw[n++] = *c;
    }
    raw[n] = '\0';
    *name = raw;
}

/* Every address of an address-list field, appended to list (at most
 * MAX_ADDRESSES). */
static void s_addresses(const char *v, char ***list, size_t *n)
{
    const char *start = v;
    bool quoted = false;
    int angle = 0;
    for (const char *c = v;; c++) {
        if (*c == '"')
            quoted = !quoted;
        else if (!quoted && *c == '<')
            angle++;
        else if (!quoted && *c == '>' && angle)
            angle--;
        if (*c == '\0' || (*c == ',' && !quoted && !angle)) {
            char *addr = NULL;
            s_mailbox(start, (size_t)(c - start), &addr, NULL);
            if (addr[0] && strchr(addr, '@') && cm_utf8_valid(addr, strlen(addr), NULL) &&
                *n < MAX_ADDRESSES) {
                *list = cm_realloc(*list, (*n + 1) * sizeof **list);
                (*list)[(*n)++] = addr;
            } else {
                free(addr);
            }
            if (*c == '\0')
                break;
            start = c + 1;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Bodies                                                                   */

/* The part's body decoded by its Content-Transfer-Encoding and charset into
 * UTF-8 (dynamic), or NULL with the context failed. */
static char *s_text_of(struct s_ctx *ctx, const struct s_header *h, const char *ctype,
                       const char *body, size_t len)
{
    char charset[64] = "";
    if (ctype)
        (void)s_param(ctype, "charset", charset, sizeof charset);
    char *cte = s_get(h, "Content-Transfer-Encoding");
    char *bytes = cm_malloc(len + 4);
    size_t n = 0;
    int part = ctx->parts;
    if (!cte || !strcasecmp(cte, "7bit") || !strcasecmp(cte, "8bit") ||
        !strcasecmp(cte, "binary") || !cte[0]) {
        memcpy(bytes, body, len);
        n = len;
    } else if (!strcasecmp(cte, "quoted-printable")) {
        s_qp(body, len, false, bytes, &n);
    } else if (!strcasecmp(cte, "base64")) {
        if (s_base64(body, len, bytes, &n))
            s_fail(ctx, "part %d: base64 holds a character outside its alphabet", part);
    } else {
        s_fail(ctx, "part %d: unknown Content-Transfer-Encoding \"%.40s\"", part, cte);
    }
    free(cte);
    char *text = NULL;
    if (!ctx->failed) {
        bool unknown;
        size_t tlen;
        text = s_utf8(charset, bytes, n, &tlen, &unknown);
        if (!text && unknown)
            s_fail(ctx, "part %d: unknown charset \"%.40s\"", part, charset);
        else if (!text)
            s_fail(ctx, "part %d: the text is not valid %s", part, charset[0] ? charset : "UTF-8");
    }
    free(bytes);
    return text;
}

/* The offset in body of the next delimiter line "--boundary" at or after
 * from, or len. */
static size_t s_delimiter(const char *body, size_t len, size_t from, const char *b, size_t blen)
{
    for (size_t i = from; i + 2 + blen <= len; i++) {
        const char *hit = memchr(body + i, '-', len - i);
        if (!hit)
            return len;
        i = (size_t)(hit - body);
        if (i + 2 + blen <= len && (i == 0 || body[i - 1] == '\n') && body[i + 1] == '-' &&
            !memcmp(body + i + 2, b, blen))
            return i;
    }
    return len;
}

static void s_part(struct s_ctx *ctx, const char *data, size_t len, int depth);

/* The parts of a multipart body, each parsed in turn. */
static void s_multipart(struct s_ctx *ctx, const char *ctype, const char *body, size_t len,
                        int depth)
{
    char b[MAX_BOUNDARY + 2];
    if (!s_param(ctype, "boundary", b, sizeof b) || !b[0]) {
        s_fail(ctx, "part %d: a multipart without a boundary", ctx->parts);
        return;
    }
    size_t blen = strlen(b);
    if (blen > MAX_BOUNDARY) {
        s_fail(ctx, "part %d: a boundary longer than %d characters", ctx->parts, MAX_BOUNDARY);
        return;
    }
    size_t at = s_delimiter(body, len, 0, b, blen);
    while (at < len && !ctx->failed) {
        size_t after = at + 2 + blen;
        if (after + 1 < len + 1 && len - after >= 2 && body[after] == '-' && body[after + 1] == '-')
            return; /* the close delimiter */
        const char *nl = memchr(body + after, '\n', len - after);
        if (!nl)
            return;
        size_t start = (size_t)(nl - body) + 1;
        size_t next = s_delimiter(body, len, start, b, blen);
        /* The line break before a delimiter belongs to it. */
        size_t end = next;
        if (end > start && body[end - 1] == '\n')
            end--;
        if (end > start && body[end - 1] == '\r')
            end--;
        s_part(ctx, body + start, end > start ? end - start : 0, depth + 1);
        at = next;
    }
}

static void s_attachment(struct s_ctx *ctx, const struct s_header *h, const char *ctype,
                         const char *type)
{
    char name[256] = "";
    char *disp = s_get(h, "Content-Disposition");
    if (!(disp && s_param(disp, "filename", name, sizeof name)) &&
        !(ctype && s_param(ctype, "name", name, sizeof name)))
        snprintf(name, sizeof name, "%s", type);
    free(disp);
    char *decoded = s_decode_words(name);
    if (ctx->n_attachments < NOTIFY_MIME_PARSE_MAX_PARTS) {
        ctx->attachments =
            cm_realloc(ctx->attachments, (ctx->n_attachments + 1) * sizeof *ctx->attachments);
        ctx->attachments[ctx->n_attachments++] = decoded ? decoded : cm_strdup("(a file)");
    } else {
        free(decoded);
    }
}

/* One body part: its header and body. */
static void s_part(struct s_ctx *ctx, const char *data, size_t len, int depth)
{
    if (++ctx->parts > NOTIFY_MIME_PARSE_MAX_PARTS) {
        s_fail(ctx, "more than %d body parts", NOTIFY_MIME_PARSE_MAX_PARTS);
        return;
    }
    if (depth > NOTIFY_MIME_PARSE_MAX_DEPTH) {
        s_fail(ctx, "multiparts nested deeper than %d", NOTIFY_MIME_PARSE_MAX_DEPTH);
        return;
    }
    struct s_header h;
    const char *body;
    size_t blen;
    if (s_split(ctx, data, len, &h, &body, &blen))
        goto out;
    char *ctype = s_get(&h, "Content-Type");
    char type[128];
    s_media_type(ctype ? ctype : "text/plain", type, sizeof type);
    if (!type[0])
        snprintf(type, sizeof type, "text/plain");
    char *disp = s_get(&h, "Content-Disposition");
    bool attached = disp && !strncasecmp(disp, "attachment", 10);
    free(disp);
    if (!strncmp(type, "multipart/", 10)) {
        s_multipart(ctx, ctype, body, blen, depth);
    } else if (!attached && !strcmp(type, "text/plain") && !ctx->plain) {
        ctx->plain = s_text_of(ctx, &h, ctype, body, blen);
    } else if (!attached && !strcmp(type, "text/html") && !ctx->html) {
        ctx->html = s_text_of(ctx, &h, ctype, body, blen);
    } else {
        /* A forwarded message (message/rfc822) is named, not opened. */
        s_attachment(ctx, &h, ctype, type);
    }
    free(ctype);
out:
    free(h.fields);
}

/* ---------------------------------------------------------------------- */
/* HTML to text                                                             */

/* Appends code point cp as UTF-8 (a bad one as U+FFFD). */
static void s_put_cp(cm_buf_t *b, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        cp = 0xfffd;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    s_add(b, u, n);
}

/* The character reference at s (after '&'); its length, 0 when none. */
static size_t s_entity(const char *s, const char *end, cm_buf_t *b)
{
    static const struct {
        const char *name;
        unsigned long cp;
    } names[] = {{"amp;", '&'},      {"lt;", '<'},       {"gt;", '>'},       {"quot;", '"'},
                 {"apos;", '\''},    {"nbsp;", 0xa0},    {"euro;", 0x20ac},  {"copy;", 0xa9},
                 {"ndash;", 0x2013}, {"mdash;", 0x2014}, {"hellip;", 0x2026}};
    if (s < end && *s == '#') {
        const char *p = s + 1;
        int base = 10;
        if (p < end && (*p == 'x' || *p == 'X')) {
            base = 16;
            p++;
        }
        unsigned long cp = 0;
        const char *digits = p;
        while (p < end && p - digits < 8 &&
               (base == 16 ? cm_hex_digit((unsigned char)*p) >= 0
                           : cm_ascii_digit((unsigned char)*p))) {
            cp = cp * (unsigned long)base +
                 (unsigned long)(base == 16 ? cm_hex_digit((unsigned char)*p) : *p - '0');
            p++;
        }
        if (p == digits || p >= end || *p != ';')
            return 0;
        s_put_cp(b, cp);
        return (size_t)(p + 1 - s);
    }
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t n = strlen(names[i].name);
        if ((size_t)(end - s) >= n && !strncmp(s, names[i].name, n)) {
            s_put_cp(b, names[i].cp);
            return n;
        }
    }
    return 0;
}

/* Whether tag (lower case, no '/') ends a line. */
static bool s_block(const char *tag)
{
    static const char *const blocks[] = {"p",  "div",   "br",         "tr", "li", "ul",
                                         "ol", "h1",    "h2",         "h3", "h4", "h5",
                                         "h6", "table", "blockquote", "hr", "pre"};
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
        if (!strcmp(tag, blocks[i]))
            return true;
    return false;
}

/* A line break, then the quote marks of the depth the next line opens in. */
static void s_newline(cm_buf_t *b, int quote)
{
    s_add(b, "\n", 1);
    for (int i = 0; i < quote; i++)
        s_add(b, "> ", 2);
}

/* s (n bytes, each line ending in a line break) with its lines trimmed,
 * blank lines at either end dropped and at most one in a row; in place. */
static void s_tidy_lines(char *s, size_t n)
{
    char *w = s;
    int blank = 2; // leading blank lines go
    for (size_t pos = 0; pos < n;) {
        char *line = s + pos;
        char *nl = memchr(line, '\n', n - pos);
        size_t llen = nl ? (size_t)(nl - line) : n - pos;
        pos += llen + 1;
        size_t st = 0;
        while (st < llen && line[st] == ' ')
            st++;
        while (llen > st && line[llen - 1] == ' ')
            llen--;
        /* A line of only quote marks is a blank line of the quote. */
        bool empty = true;
        for (size_t i = st; i < llen; i++)
            if (line[i] != '>' && line[i] != ' ')
                empty = false;
        if (!empty || blank < 1) {
            memmove(w, line + st, llen - st);
            w += llen - st;
            *w++ = '\n';
        }
        blank = empty ? blank + 1 : 0;
    }
    /* And no blank line at the end. */
    while (w - s >= 2 && w[-1] == '\n' && w[-2] == '\n')
        w--;
    *w = '\0';
}

/* Whether the tag tag[0..len) opens what Outlook quotes below a reply: the
 * element with id "divRplyFwdMsg" (its From/Sent/To block) or "appendonsend"
 * (the rule above it). */
static bool s_outlook_original(const char *tag, size_t len)
{
    static const char *const ids[] = {"divRplyFwdMsg", "appendonsend"};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        size_t n = strlen(ids[i]);
        for (size_t k = 0; k + n <= len; k++)
            if (!strncasecmp(tag + k, ids[i], n) && k >= 4 && !strncasecmp(tag + k - 4, "id=", 3))
                return true;
    }
    return false;
}

char *notify_mime_parse_html_text(const char *html, size_t len)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    const char *p = html, *end = html + len;
    int quote = 0;
    bool space = false;
    const char *skip_to = NULL; // inside <script> or <style>: the closing tag
    while (p < end) {
        if (*p == '<') {
            const char *close = memchr(p, '>', (size_t)(end - p));
            if (!close)
                break;
            if (p + 4 <= end && !strncmp(p, "<!--", 4)) {
                const char *c = p + 4;
                const char *e = NULL;
                for (; c + 3 <= end; c++)
                    if (!strncmp(c, "-->", 3)) {
                        e = c;
                        break;
                    }
                p = e ? e + 3 : end;
                continue;
            }
            /* Outlook puts the original after a marked element, not in a quote. */
            if (s_outlook_original(p, (size_t)(close - p)))
                break;
            const char *t = p + 1;
            bool closing = t < close && *t == '/';
            if (closing)
                t++;
            char tag[16];
            size_t n = 0;
            while (t < close && n + 1 < sizeof tag &&
                   (cm_ascii_lower((unsigned char)cm_ascii_tolower(*t)) ||
                    cm_ascii_digit((unsigned char)*t)))
                tag[n++] = cm_ascii_tolower(*t++);
            tag[n] = '\0';
            p = close + 1;
            if (skip_to) {
                if (closing && !strcmp(tag, skip_to))
                    skip_to = NULL;
                continue;
            }
            if (!closing && (!strcmp(tag, "script") || !strcmp(tag, "style") ||
                             !strcmp(tag, "head") || !strcmp(tag, "title"))) {
                skip_to = !strcmp(tag, "script")  ? "script"
                          : !strcmp(tag, "style") ? "style"
                          : !strcmp(tag, "head")  ? "head"
                                                  : "title";
                continue;
            }
            if (!strcmp(tag, "blockquote"))
                quote = closing ? (quote ? quote - 1 : 0) : (quote < 20 ? quote + 1 : quote);
            if (s_block(tag)) {
                s_newline(&b, quote);
                space = false;
            }
            continue;
        }
        if (skip_to) {
            p++;
            continue;
        }
        if (cm_ascii_space((unsigned char)*p)) {
            space = true;
            p++;
            continue;
        }
        if (space && b.len && b.data[b.len - 1] != '\n' && b.data[b.len - 1] != ' ')
            s_add(&b, " ", 1);
        space = false;
        if (*p == '&') {
            size_t used = s_entity(p + 1, end, &b);
            if (used) {
                p += used + 1;
                continue;
            }
        }
        s_add(&b, p, 1);
        p++;
    }
    /* Every line ends in a line break: the loop below writes one per line. */
    s_add(&b, "\n", 1);
    size_t n = 0;
    char *s = cm_buf_steal(&b, &n);
    s_tidy_lines(s, n);
    return s;
}

/* ---------------------------------------------------------------------- */
/* The quoted history                                                       */

/* Whether line[0..len) opens a forwarded or quoted original in the style of
 * Outlook: "-----Original Message-----" (any words between the dashes, in
 * any language), or a rule of underscores. */
static bool s_original_rule(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && line[i] == ' ')
        i++;
    if (len - i >= 20 && strspn(line + i, "_") >= 20)
        return true;
    if (len - i < 10 || strncmp(line + i, "-----", 5))
        return false;
    size_t e = len;
    while (e > i && line[e - 1] == ' ')
        e--;
    return e - i >= 10 && !strncmp(line + e - 5, "-----", 5) && e - i > 10;
}

void notify_mime_parse_strip_quotes(char *text)
{
    size_t n = strlen(text);
    size_t cut = n;                // where the history starts
    size_t quote_start = SIZE_MAX; // the first line of the closing run of quoted lines
    size_t prev_line = SIZE_MAX;   // the last line before it that is not blank
    size_t last_text = SIZE_MAX;   // the last line that is neither quoted nor blank
    for (size_t pos = 0; pos < n;) {
        const char *nl = memchr(text + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - text) : n;
        size_t len = end - pos;
        if (len && text[end - 1] == '\r')
            len--;
        if (s_original_rule(text + pos, len)) {
            cut = pos;
            break;
        }
        size_t k = 0;
        while (k < len && text[pos + k] == ' ')
            k++;
        bool blank = k == len;
        bool quoted = k < len && text[pos + k] == '>';
        if (quoted && quote_start == SIZE_MAX) {
            quote_start = pos;
            prev_line = last_text;
        } else if (!quoted && !blank) {
            quote_start = SIZE_MAX;
            last_text = pos;
        }
        pos = nl ? end + 1 : n;
    }
    if (cut == n && quote_start != SIZE_MAX) {
        cut = quote_start;
        /* The attribution ("On ... wrote:", "Am ... schrieb ...:") just above. */
        if (prev_line != SIZE_MAX) {
            const char *nl = memchr(text + prev_line, '\n', n - prev_line);
            size_t e = nl ? (size_t)(nl - text) : n;
            while (e > prev_line && (text[e - 1] == '\r' || text[e - 1] == ' '))
                e--;
            bool blank_between = true;
            for (size_t i = e; i < quote_start; i++)
                if (!cm_ascii_space((unsigned char)text[i]))
                    blank_between = false;
            if (e > prev_line && text[e - 1] == ':' && blank_between)
                cut = prev_line;
        }
    }
    while (cut > 0 && cm_ascii_space((unsigned char)text[cut - 1]))
        cut--;
    text[cut] = '\0';
}

/* ---------------------------------------------------------------------- */
/* The message                                                              */

/* Field name of h decoded into *out (dynamic; "" when absent). */
static void s_text_field(struct s_ctx *ctx, const struct s_header *h, const char *name, char **out)
{
    char *v = s_get(h, name);
    *out = NULL;
    if (!v) {
        *out = cm_strdup("");
        return;
    }
    *out = s_decode_words(v);
    free(v);
    if (!*out) {
        s_fail(ctx, "%s: not UTF-8", name);
        *out = cm_strdup("");
    }
}

static void s_headers(struct s_ctx *ctx, const struct s_header *h, struct notify_mail *out)
{
    char **ids = NULL;
    size_t n_ids = 0;
    char *v = s_get(h, "Message-ID");
    if (v)
        s_ids(v, &ids, &n_ids, 1);
    out->message_id = n_ids ? ids[0] : cm_strdup("");
    free(ids);
    free(v);
    v = s_get(h, "References");
    if (v)
        s_ids(v, &out->refs, &out->n_refs, NOTIFY_MIME_PARSE_MAX_REFS);
    free(v);
    ids = NULL;
    n_ids = 0;
    v = s_get(h, "In-Reply-To");
    if (v)
        s_ids(v, &ids, &n_ids, NOTIFY_MIME_PARSE_MAX_REFS);
    free(v);
    out->in_reply_to = cm_strdup(n_ids ? ids[0] : "");
    for (size_t i = 0; i < n_ids; i++) {
        bool seen = false;
        for (size_t k = 0; k < out->n_refs && !seen; k++)
            seen = !strcmp(out->refs[k], ids[i]);
        if (!seen && out->n_refs < NOTIFY_MIME_PARSE_MAX_REFS + 1)
            s_push(&out->refs, &out->n_refs, ids[i], strlen(ids[i]));
        free(ids[i]);
    }
    free(ids);
    static const char *const recipients[] = {"To", "Cc", "Delivered-To", "X-Original-To"};
    for (size_t r = 0; r < sizeof recipients / sizeof *recipients; r++) {
        size_t rn = strlen(recipients[r]);
        for (size_t i = 0; i < h->n; i++)
            if (h->fields[i].name_len == rn && !strncasecmp(h->fields[i].name, recipients[r], rn)) {
                char *val = s_value(&h->fields[i]);
                s_addresses(val, &out->to, &out->n_to);
                free(val);
            }
    }
    v = s_get(h, "From");
    char *name = NULL;
    if (v) {
        s_mailbox(v, strlen(v), &out->from_addr, &name);
        out->from_name = s_decode_words(name);
        free(name);
        if (!out->from_name || !cm_utf8_valid(out->from_addr, strlen(out->from_addr), NULL))
            s_fail(ctx, "From: not UTF-8");
    }
    free(v);
    if (!out->from_addr)
        out->from_addr = cm_strdup("");
    if (!out->from_name)
        out->from_name = cm_strdup("");
    notify_mime_parse_cut(out->from_name, MAX_SUBJECT);
    notify_mime_parse_cut(out->from_addr, MAX_SUBJECT);
    s_text_field(ctx, h, "Subject", &out->subject);
    notify_mime_parse_cut(out->subject, MAX_SUBJECT);
}

cm_err_t notify_mime_parse(const char *raw, size_t len, struct notify_mail *out, char *why,
                           size_t whysz)
{
    memset(out, 0, sizeof *out);
    if (len > NOTIFY_MIME_PARSE_MAX_BYTES) {
        snprintf(why, whysz, "the message is larger than %d bytes", NOTIFY_MIME_PARSE_MAX_BYTES);
        return CM_ERR_UNAVAILABLE;
    }
    struct s_ctx ctx = {.why = why, .whysz = whysz};
    struct s_header h;
    const char *body;
    size_t blen;
    if (s_split(&ctx, raw, len, &h, &body, &blen))
        goto out;
    if (!h.n) {
        s_fail(&ctx, "no header fields: not an e-mail message");
        goto out;
    }
    s_headers(&ctx, &h, out);
    if (ctx.failed)
        goto out;
    /* The top level is part 1; its header is the message's. */
    ctx.parts = 1;
    char *ctype = s_get(&h, "Content-Type");
    char type[128];
    s_media_type(ctype ? ctype : "text/plain", type, sizeof type);
    if (!type[0])
        snprintf(type, sizeof type, "text/plain");
    if (!strncmp(type, "multipart/", 10))
        s_multipart(&ctx, ctype, body, blen, 0);
    else if (!strcmp(type, "text/plain"))
        ctx.plain = s_text_of(&ctx, &h, ctype, body, blen);
    else if (!strcmp(type, "text/html"))
        ctx.html = s_text_of(&ctx, &h, ctype, body, blen);
    else
        s_attachment(&ctx, &h, ctype, type);
    free(ctype);
    if (ctx.failed)
        goto out;
    if (ctx.plain) {
        out->text = ctx.plain;
        ctx.plain = NULL;
    } else if (ctx.html) {
        out->text = notify_mime_parse_html_text(ctx.html, strlen(ctx.html));
        out->from_html = true;
    } else {
        out->text = cm_strdup("");
    }
    notify_mime_parse_strip_quotes(out->text);
    out->truncated = notify_mime_parse_cut(out->text, NOTIFY_MIME_PARSE_MAX_TEXT);
    out->attachments = ctx.attachments;
    out->n_attachments = ctx.n_attachments;
    ctx.attachments = NULL;
    ctx.n_attachments = 0;
out:
    free(h.fields);
    free(ctx.plain);
    free(ctx.html);
    for (size_t i = 0; i < ctx.n_attachments; i++)
        free(ctx.attachments[i]);
    free(ctx.attachments);
    if (ctx.failed) {
        notify_mime_parse_free(out);
        return CM_ERR_INVALID;
    }
    return CM_OK;
}

static void s_free_list(char ***list, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*list)[i]);
    free(*list);
    *list = NULL;
    *n = 0;
}

void notify_mime_parse_free(struct notify_mail *m)
{
    free(m->message_id);
    free(m->in_reply_to);
    free(m->from_addr);
    free(m->from_name);
    free(m->subject);
    free(m->text);
    s_free_list(&m->refs, &m->n_refs);
    s_free_list(&m->to, &m->n_to);
    s_free_list(&m->attachments, &m->n_attachments);
    memset(m, 0, sizeof *m);
}

bool notify_mime_parse_cut(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return false;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    s[max] = '\0';
    return true;
}
