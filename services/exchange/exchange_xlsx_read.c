/* Reading an .xlsx workbook row by row: a small ZIP reader over zlib, expat
 * for the XML parts. See exchange_xlsx_read.h. */
#include "exchange_xlsx_read.h"
#include "cm_util.h"

#include <assert.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (64 * 1024)
#define MAX_ENTRIES 65536
#define MAX_SMALL_PART (64L * 1024 * 1024) /* workbook, relationships, styles */
#define MAX_ROW_BYTES (64L * 1024 * 1024)
#define MAX_FORMATS 4096
#define MAX_XFS 65536
#define PATH_MAX_LEN 512

/* ---------------------------------------------------------------------- */
/* The ZIP archive                                                         */

struct s_entry {
    char *name; // owned
    int method; // 0 stored, 8 deflated
    uint64_t csize, usize, offset;
};

struct s_zip {
    int fd;
    uint64_t size;
    struct s_entry *entries; // owned
    size_t n;
};

static uint16_t s_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t s_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t s_u64(const unsigned char *p)
{
    return (uint64_t)s_u32(p) | (uint64_t)s_u32(p + 4) << 32;
}

static bool s_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static void s_zip_close(struct s_zip *z)
{
    for (size_t i = 0; i < z->n; i++)
        free(z->entries[i].name);
    free(z->entries);
    z->entries = NULL;
    z->n = 0;
    if (z->fd >= 0)
        close(z->fd);
    z->fd = -1;
}

/* Where the central directory is and how many entries it has, from the end
 * record (and its ZIP64 form). */
static bool s_zip_directory(struct s_zip *z, uint64_t *cd_off, uint64_t *cd_size, uint64_t *count,
                            char *why, size_t whysz)
{
    size_t tail = z->size < 65557 ? (size_t)z->size : 65557;
    unsigned char *buf = cm_malloc(tail ? tail : 1);
    bool ok = false;
    if (tail < 22 || !s_pread_all(z->fd, buf, tail, z->size - tail)) {
        snprintf(why, whysz, "not an Excel workbook: the file is too short");
        goto out;
    }
    long at = -1;
    for (long i = (long)tail - 22; i >= 0; i--)
        if (s_u32(buf + i) == 0x06054b50) {
            at = i;
            break;
        }
    if (at < 0) {
        unsigned char head[8] = {0};
        bool ole = s_pread_all(z->fd, head, sizeof head, 0) &&
                   !memcmp(head, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
        snprintf(why, whysz, "%s",
                 ole ? "not an .xlsx workbook: this is an old .xls file or a workbook saved with a "
                       "password; save it as .xlsx without a password"
                     : "not an Excel workbook (.xlsx): it is not a ZIP archive");
        goto out;
    }
    const unsigned char *e = buf + at;
    *count = s_u16(e + 10);
    *cd_size = s_u32(e + 12);
    *cd_off = s_u32(e + 16);
    if (*count == 0xffff || *cd_size == 0xffffffffu || *cd_off == 0xffffffffu) {
        /* ZIP64: a locator just before the end record points at the real one. */
        unsigned char loc[20], rec[56];
        uint64_t loc_at = z->size - tail + (uint64_t)at;
        if (loc_at < 20 || !s_pread_all(z->fd, loc, 20, loc_at - 20) || s_u32(loc) != 0x07064b50 ||
            !s_pread_all(z->fd, rec, 56, s_u64(loc + 8)) || s_u32(rec) != 0x06064b50) {
            snprintf(why, whysz, "not an Excel workbook: a broken ZIP64 directory");
            goto out;
        }
        *count = s_u64(rec + 32);
        *cd_size = s_u64(rec + 40);
        *cd_off = s_u64(rec + 48);
    }
    if (*count > MAX_ENTRIES || *cd_off > z->size || *cd_size > z->size - *cd_off ||
        *cd_size > MAX_SMALL_PART) {
        snprintf(why, whysz, "not an Excel workbook: a broken ZIP directory");
        goto out;
    }
    ok = true;
out:
    free(buf);
    return ok;
}

/* The ZIP64 extra field's sizes and offset, where the header says 0xffffffff. */
static void s_zip64_extra(const unsigned char *x, size_t xlen, struct s_entry *en, bool usize,
                          bool csize, bool offset)
{
    size_t i = 0;
    while (i + 4 <= xlen) {
        uint16_t id = s_u16(x + i), len = s_u16(x + i + 2);
        if (i + 4 + len > xlen)
            return;
        if (id == 0x0001) {
            const unsigned char *p = x + i + 4, *end = p + len;
            if (usize && p + 8 <= end) {
                en->usize = s_u64(p);
                p += 8;
            }
            if (csize && p + 8 <= end) {
                en->csize = s_u64(p);
                p += 8;
            }
            if (offset && p + 8 <= end)
                en->offset = s_u64(p);
            return;
        }
        i += 4 + (size_t)len;
    }
}

static bool s_zip_open(struct s_zip *z, const char *path, char *why, size_t whysz)
{
    memset(z, 0, sizeof *z);
    z->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (z->fd < 0 || fstat(z->fd, &st) != 0) {
        snprintf(why, whysz, "could not open the file: %s", strerror(errno));
        return false;
    }
    z->size = (uint64_t)st.st_size;
    uint64_t cd_off, cd_size, count;
    if (!s_zip_directory(z, &cd_off, &cd_size, &count, why, whysz))
        return false;
    unsigned char *cd = cm_malloc(cd_size ? cd_size : 1);
    bool ok = false;
    if (!s_pread_all(z->fd, cd, cd_size, cd_off)) {
        snprintf(why, whysz, "not an Excel workbook: the ZIP directory cannot be read");
        goto out;
    }
    z->entries = cm_calloc(count ? count : 1, sizeof *z->entries);
    size_t at = 0;
    for (uint64_t i = 0; i < count; i++) {
        const unsigned char *h = cd + at;
        if (at + 46 > cd_size || s_u32(h) != 0x02014b50) {
            snprintf(why, whysz, "not an Excel workbook: a broken ZIP directory entry");
            goto out;
        }
        size_t nlen = s_u16(h + 28), xlen = s_u16(h + 30), clen = s_u16(h + 32);
        if (at + 46 + nlen + xlen + clen > cd_size || nlen == 0 || nlen > PATH_MAX_LEN) {
            snprintf(why, whysz, "not an Excel workbook: a broken ZIP directory entry");
            goto out;
        }
        if (s_u16(h + 8) & 1) {
            snprintf(why, whysz, "the workbook is encrypted; save it without a password");
            goto out;
        }
        struct s_entry *en = &z->entries[z->n++];
        en->name = cm_malloc(nlen + 1);
        memcpy(en->name, h + 46, nlen);
        en->name[nlen] = '\0';
        en->method = s_u16(h + 10);
        en->csize = s_u32(h + 20);
        en->usize = s_u32(h + 24);
        en->offset = s_u32(h + 42);
        s_zip64_extra(h + 46 + nlen, xlen, en, en->usize == 0xffffffffu, en->csize == 0xffffffffu,
                      en->offset == 0xffffffffu);
        at += 46 + nlen + xlen + clen;
    }
    ok = true;
out:
    free(cd);
    return ok;
}

static const struct s_entry *s_zip_find(const struct s_zip *z, const char *name)
{
    for (size_t i = 0; i < z->n; i++)
        if (!strcmp(z->entries[i].name, name))
            return &z->entries[i];
    return NULL;
}

/* One entry read as a stream of inflated bytes. */
struct s_stream {
    const struct s_zip *zip;     // borrowed
    const struct s_entry *entry; // borrowed (zip)
    uint64_t pos, left;          // compressed bytes: next file offset, still to read
    uint64_t out_total;
    z_stream zs;
    bool zs_live;
    bool eof;
    unsigned char in[CHUNK];
};

static bool s_stream_open(struct s_stream *s, const struct s_zip *z, const struct s_entry *e,
                          char *why, size_t whysz)
{
    memset(s, 0, sizeof *s);
    s->zip = z;
    s->entry = e;
    unsigned char lh[30];
    if (e->method != 0 && e->method != 8) {
        snprintf(why, whysz, "%s is compressed in a way Excel does not use (method %d)", e->name,
                 e->method);
        return false;
    }
    if (!s_pread_all(z->fd, lh, sizeof lh, e->offset) || s_u32(lh) != 0x04034b50) {
        snprintf(why, whysz, "not an Excel workbook: %s cannot be found in the archive", e->name);
        return false;
    }
    s->pos = e->offset + 30 + s_u16(lh + 26) + s_u16(lh + 28);
    if (s->pos > z->size || e->csize > z->size - s->pos) {
        snprintf(why, whysz, "not an Excel workbook: %s goes past the end of the file", e->name);
        return false;
    }
    s->left = e->csize;
    if (e->method == 8) {
        if (inflateInit2(&s->zs, -MAX_WBITS) != Z_OK) {
            snprintf(why, whysz, "could not start inflating %s", e->name);
            return false;
        }
        s->zs_live = true;
    }
    return true;
}

static void s_stream_close(struct s_stream *s)
{
    if (s->zs_live)
        inflateEnd(&s->zs);
    s->zs_live = false;
}

/* Up to cap inflated bytes into out: returns how many (0 at the end), or -1
 * with why. */
static long s_stream_read(struct s_stream *s, unsigned char *out, size_t cap, char *why,
                          size_t whysz)
{
    const struct s_entry *e = s->entry;
    if (s->eof)
        return 0;
    size_t got = 0;
    if (e->method == 0) {
        size_t n = s->left < cap ? (size_t)s->left : cap;
        if (n && !s_pread_all(s->zip->fd, out, n, s->pos)) {
            snprintf(why, whysz, "could not read %s", e->name);
            return -1;
        }
        s->pos += n;
        s->left -= n;
        s->eof = s->left == 0;
        got = n;
    } else {
        s->zs.next_out = out;
        s->zs.avail_out = (uInt)cap;
        while (s->zs.avail_out == cap) {
            if (s->zs.avail_in == 0 && s->left > 0) {
                size_t n = s->left < CHUNK ? (size_t)s->left : CHUNK;
                if (!s_pread_all(s->zip->fd, s->in, n, s->pos)) {
                    snprintf(why, whysz, "could not read %s", e->name);
                    return -1;
                }
                s->pos += n;
                s->left -= n;
                s->zs.next_in = s->in;
                s->zs.avail_in = (uInt)n;
            }
            int rc = inflate(&s->zs, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                s->eof = true;
                break;
            }
            if (rc == Z_BUF_ERROR && s->zs.avail_in == 0 && s->left == 0) {
                snprintf(why, whysz, "not an Excel workbook: %s is cut short", e->name);
                return -1;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                snprintf(why, whysz, "not an Excel workbook: %s is damaged (%s)", e->name,
                         s->zs.msg ? s->zs.msg : "inflate failed");
                return -1;
            }
        }
        got = cap - s->zs.avail_out;
    }
    s->out_total += got;
    uint64_t read_in = e->csize - s->left;
    if (s->out_total > (uint64_t)EXCHANGE_XLSX_READ_MAX_PART ||
        s->out_total > (read_in + 1024 * 1024) * EXCHANGE_XLSX_READ_MAX_RATIO) {
        snprintf(why, whysz,
                 "%s inflates to far more than a spreadsheet does (more than %d times its "
                 "size): refused as a ZIP bomb",
                 e->name, EXCHANGE_XLSX_READ_MAX_RATIO);
        return -1;
    }
    return (long)got;
}

/* ---------------------------------------------------------------------- */
/* XML helpers                                                             */

/* The local part of an expat name "namespace|local". */
static const char *s_local(const char *name)
{
    const char *bar = strrchr(name, '|');
    return bar ? bar + 1 : name;
}

/* An attribute by local name; namespaced says whether it must carry a
 * namespace (r:id) or must not (Id). */
static const char *s_attr(const XML_Char **atts, const char *local, bool namespaced)
{
    for (size_t i = 0; atts[i]; i += 2) {
        bool has_ns = strchr(atts[i], '|') != NULL;
        if (has_ns == namespaced && !strcmp(s_local(atts[i]), local))
            return atts[i + 1];
    }
    return NULL;
}

/* What every parse's user data starts with (its first member), so that the
 * DOCTYPE handler finds it whatever the part. */
struct s_parse {
    bool *doctype;     // borrowed: set when a DOCTYPE is seen
    XML_Parser parser; // borrowed (owned by whoever made it)
};

/* A DOCTYPE has no place in a workbook part; refusing it at once keeps
 * entity tricks out. */
static void XMLCALL s_doctype(void *user, const XML_Char *name, const XML_Char *sysid,
                              const XML_Char *pubid, int has_internal)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal;
    struct s_parse *ps = user;
    *ps->doctype = true;
    XML_StopParser(ps->parser, XML_FALSE);
}

static XML_Parser s_parser_new(struct s_parse *ps, void *user, bool *doctype)
{
    XML_Parser p = XML_ParserCreateNS("UTF-8", '|');
    if (!p)
        abort();
    ps->doctype = doctype;
    ps->parser = p;
    XML_SetUserData(p, user);
    XML_SetStartDoctypeDeclHandler(p, s_doctype);
    return p;
}

/* Parses a whole part through p (no suspension). Returns true, or false with
 * why. */
static bool s_parse_part(const struct s_zip *z, const struct s_entry *e, XML_Parser p,
                         const bool *doctype, const bool *failed, const char *fail_why,
                         long long limit, char *why, size_t whysz)
{
    struct s_stream *s = cm_malloc(sizeof *s);
    unsigned char *buf = cm_malloc(CHUNK);
    bool ok = false;
    if (!s_stream_open(s, z, e, why, whysz))
        goto out;
    for (;;) {
        long n = s_stream_read(s, buf, CHUNK, why, whysz);
        if (n < 0)
            goto out;
        if ((long long)s->out_total > limit) {
            snprintf(why, whysz, "%s is larger than %lld MB", e->name, limit / (1024 * 1024));
            goto out;
        }
        enum XML_Status st = XML_Parse(p, (const char *)buf, (int)n, n == 0);
        if (*doctype) {
            snprintf(why, whysz, "%s declares a DOCTYPE, which a workbook never does", e->name);
            goto out;
        }
        if (*failed) {
            snprintf(why, whysz, "%s", fail_why);
            goto out;
        }
        if (st != XML_STATUS_OK) {
            snprintf(why, whysz, "%s is not well-formed XML (line %lu: %s)", e->name,
                     (unsigned long)XML_GetCurrentLineNumber(p),
                     XML_ErrorString(XML_GetErrorCode(p)));
            goto out;
        }
        if (n == 0)
            break;
    }
    ok = true;
out:
    s_stream_close(s);
    free(s);
    free(buf);
    return ok;
}

/* ---------------------------------------------------------------------- */
/* Relationships and the workbook                                          */

struct s_rels {
    struct s_parse ps;
    bool doctype;
    const char *want_id;   // borrowed: the Id looked for, or NULL
    const char *want_type; // borrowed: a Type suffix looked for, or NULL
    char target[PATH_MAX_LEN];
};

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static void XMLCALL s_rels_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    struct s_rels *r = user;
    if (strcmp(s_local(name), "Relationship") || r->target[0])
        return;
    const char *id = s_attr(atts, "Id", false), *type = s_attr(atts, "Type", false),
               *target = s_attr(atts, "Target", false);
    if (!target)
        return;
    if ((r->want_id && id && !strcmp(id, r->want_id)) ||
        (r->want_type && type && s_ends_with(type, r->want_type)))
        snprintf(r->target, sizeof r->target, "%s", target);
}

/* The part a relationship of base_dir's rels file points at ("" if none):
 * by Id or by the end of its Type. */
static bool s_rel_target(const struct s_zip *z, const char *rels_name, const char *base_dir,
                         const char *id, const char *type, char *out, size_t outsz, char *why,
                         size_t whysz)
{
    out[0] = '\0';
    const struct s_entry *e = s_zip_find(z, rels_name);
    if (!e)
        return true;
    struct s_rels r = {.want_id = id, .want_type = type};
    bool failed = false;
    XML_Parser p = s_parser_new(&r.ps, &r, &r.doctype);
    XML_SetStartElementHandler(p, s_rels_start);
    bool ok = s_parse_part(z, e, p, &r.doctype, &failed, "", MAX_SMALL_PART, why, whysz);
    XML_ParserFree(p);
    if (!ok || !r.target[0])
        return ok;
    /* Targets are relative to the part's folder, or absolute from the root. */
    if (r.target[0] == '/')
        snprintf(out, outsz, "%s", r.target + 1);
    else
        snprintf(out, outsz, "%s%s", base_dir, r.target);
    return true;
}

struct s_book {
    struct s_parse ps;
    bool doctype;
    bool date1904;
    char sheet_rid[128];
};

static void XMLCALL s_book_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    struct s_book *b = user;
    const char *local = s_local(name);
    if (!strcmp(local, "workbookPr")) {
        const char *v = s_attr(atts, "date1904", false);
        b->date1904 = v && (!strcmp(v, "1") || !strcmp(v, "true"));
    } else if (!strcmp(local, "sheet") && !b->sheet_rid[0]) {
        const char *rid = s_attr(atts, "id", true);
        if (rid)
            snprintf(b->sheet_rid, sizeof b->sheet_rid, "%s", rid);
    }
}

/* ---------------------------------------------------------------------- */
/* Styles: which cell formats show dates                                   */

int exchange_xlsx_read_format_kind(const char *code)
{
    bool date = false, time = false, elapsed = false;
    for (const char *p = code; *p; p++) {
        char c = *p;
        if (c == '"') { /* literal text */
            while (p[1] && p[1] != '"')
                p++;
            if (p[1])
                p++;
        } else if (c == '\\' || c == '_' || c == '*') { /* escaped, spacing, fill */
            if (p[1])
                p++;
        } else if (c == '[') { /* colour, condition, locale; [h] [m] [s] elapsed */
            const char *end = strchr(p, ']');
            if (!end)
                break;
            if (end - p >= 2 && strchr("hHmMsS", p[1]) && (end - p == 2 || p[2] == p[1]))
                elapsed = true;
            p = end;
        } else if (c == ';') {
            break; /* the first section decides */
        } else if (strchr("dDyY", c)) {
            date = true;
        } else if (strchr("hHsS", c)) {
            time = true;
        } else if (c == 'm' || c == 'M') {
            /* m is a month unless it sits among hours and seconds; a date
             * needs d or y as well, so m alone says nothing here. */
        }
    }
    if (elapsed || !date)
        return 0;
    return time ? 2 : 1;
}

/* The kind (0 number, 1 date, 2 date and time) of a built-in format id. */
static int s_builtin_kind(long id)
{
    if ((id >= 14 && id <= 17) || (id >= 27 && id <= 31) || (id >= 34 && id <= 36) ||
        (id >= 50 && id <= 58))
        return 1;
    if (id == 22)
        return 2;
    return 0;
}

struct s_styles {
    struct s_parse ps;
    bool doctype;
    long fmt_ids[MAX_FORMATS];
    unsigned char fmt_kinds[MAX_FORMATS];
    size_t n_fmts;
    unsigned char *xf_kinds; // owned: per cellXfs index
    size_t n_xfs;
    int depth_in_xfs; // >0 inside <cellXfs>
};

static void XMLCALL s_styles_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    struct s_styles *s = user;
    const char *local = s_local(name);
    if (!strcmp(local, "numFmt") && s->n_fmts < MAX_FORMATS) {
        const char *id = s_attr(atts, "numFmtId", false), *code = s_attr(atts, "formatCode", false);
        if (id && code) {
            s->fmt_ids[s->n_fmts] = strtol(id, NULL, 10);
            s->fmt_kinds[s->n_fmts++] = (unsigned char)exchange_xlsx_read_format_kind(code);
        }
    } else if (!strcmp(local, "cellXfs")) {
        s->depth_in_xfs = 1;
    } else if (s->depth_in_xfs && !strcmp(local, "xf") && s->n_xfs < MAX_XFS) {
        const char *v = s_attr(atts, "numFmtId", false);
        long id = v ? strtol(v, NULL, 10) : 0;
        int kind = s_builtin_kind(id);
        for (size_t i = 0; i < s->n_fmts; i++)
            if (s->fmt_ids[i] == id)
                kind = s->fmt_kinds[i];
        s->xf_kinds[s->n_xfs++] = (unsigned char)kind;
    }
}

static void XMLCALL s_styles_end(void *user, const XML_Char *name)
{
    struct s_styles *s = user;
    if (!strcmp(s_local(name), "cellXfs"))
        s->depth_in_xfs = 0;
}

/* ---------------------------------------------------------------------- */
/* Text collected from <t> and <v> elements                                */

struct s_text {
    char *s; // owned
    size_t len, cap;
    bool too_long;
};

static void s_text_add(struct s_text *t, const char *s, size_t n, size_t max)
{
    if (t->len + n > max) {
        t->too_long = true;
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap < t->len + n + 1)
            cap *= 2;
        t->s = cm_realloc(t->s, cap);
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void s_text_clear(struct s_text *t)
{
    t->len = 0;
    t->too_long = false;
    if (t->s)
        t->s[0] = '\0';
}

/* Decodes OOXML's escapes of characters XML cannot carry, "_x000D_" for a
 * carriage return (ECMA-376 ST_Xstring; "_x005F_" is a literal '_'), in
 * place. Returns the new length. */
static size_t s_unescape(char *s, size_t len)
{
    size_t in = 0, out = 0;
    while (in < len) {
        unsigned v = 0;
        bool esc = in + 7 <= len && s[in] == '_' && s[in + 1] == 'x' && s[in + 6] == '_';
        for (size_t k = 2; esc && k < 6; k++) {
            char c = s[in + k];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            esc = d >= 0;
            v = v * 16 + (unsigned)(d < 0 ? 0 : d);
        }
        if (!esc || v == 0 || (v >= 0xd800 && v <= 0xdfff)) {
            s[out++] = s[in++];
            continue;
        }
        if (v < 0x80) {
            s[out++] = (char)v;
        } else if (v < 0x800) {
            s[out++] = (char)(0xc0 | v >> 6);
            s[out++] = (char)(0x80 | (v & 0x3f));
        } else {
            s[out++] = (char)(0xe0 | v >> 12);
            s[out++] = (char)(0x80 | (v >> 6 & 0x3f));
            s[out++] = (char)(0x80 | (v & 0x3f));
        }
        in += 7;
    }
    if (out < len)
        s[out] = '\0';
    return out;
}

/* ---------------------------------------------------------------------- */
/* Shared strings                                                          */

struct s_strings {
    struct s_parse ps;
    bool doctype;
    struct s_text chars; // every string, NUL-terminated, one after another
    size_t *offs;        // owned: where each string starts in chars
    size_t n, offs_cap;
    int in_si, in_t, in_rph;
    bool failed;
    char why[160];
};

static void s_strings_put(struct s_strings *st, const char *s, size_t n)
{
    s_text_add(&st->chars, s, n, (size_t)EXCHANGE_XLSX_READ_MAX_STRINGS_BYTES - 1);
    if (st->chars.too_long) {
        if (!st->failed)
            snprintf(st->why, sizeof st->why, "the workbook's shared texts exceed %ld MB",
                     EXCHANGE_XLSX_READ_MAX_STRINGS_BYTES / (1024 * 1024));
        st->failed = true;
        XML_StopParser(st->ps.parser, XML_FALSE);
    }
}

static void XMLCALL s_strings_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    struct s_strings *st = user;
    const char *local = s_local(name);
    if (!strcmp(local, "si")) {
        if (st->n == st->offs_cap) {
            st->offs_cap = st->offs_cap ? st->offs_cap * 2 : 1024;
            st->offs = cm_realloc(st->offs, st->offs_cap * sizeof *st->offs);
        }
        st->offs[st->n++] = st->chars.len;
        st->in_si = 1;
    } else if (!strcmp(local, "rPh")) {
        st->in_rph++;
    } else if (!strcmp(local, "t") && st->in_si) {
        st->in_t = 1;
    }
}

static void XMLCALL s_strings_end(void *user, const XML_Char *name)
{
    struct s_strings *st = user;
    const char *local = s_local(name);
    if (!strcmp(local, "si")) {
        size_t start = st->offs[st->n - 1];
        if (st->chars.len > start)
            st->chars.len = start + s_unescape(st->chars.s + start, st->chars.len - start);
        s_strings_put(st, "", 1);
        st->in_si = 0;
    } else if (!strcmp(local, "rPh")) {
        st->in_rph--;
    } else if (!strcmp(local, "t")) {
        st->in_t = 0;
    }
}

static void XMLCALL s_strings_text(void *user, const XML_Char *s, int len)
{
    struct s_strings *st = user;
    if (st->in_si && st->in_t && !st->in_rph)
        s_strings_put(st, s, (size_t)len);
}

/* ---------------------------------------------------------------------- */
/* The worksheet                                                           */

struct exchange_xlsx_reader {
    struct s_parse ps; // first: the worksheet's parser
    struct s_zip zip;
    struct s_strings strings;
    unsigned char *xf_kinds; // owned
    size_t n_xfs;
    bool date1904;
    const struct exchange_zone *zone; // borrowed (caller): NULL for UTC
    char sheet_name[PATH_MAX_LEN];

    struct s_stream *stream; // owned
    unsigned char *buf;      // owned: the inflated chunk expat is parsing
    bool doctype;
    bool suspended, parsed_all, failed, row_ready;
    char why[1024];

    /* The row being read. */
    long row, last_row;
    long col, max_col; // current cell's column (0-based), highest column with a cell
    char type[12];
    long style;
    int in_v, in_is, in_t, in_rph;
    struct s_text value;    // the current cell's <v> or inline text
    struct s_text row_text; // the row's cells, NUL-separated
    long *cell_at;          // owned: per column, offset in row_text or -1
    size_t cell_cap;
    const char **cells; // owned: the row handed out
};

static void s_fail(exchange_xlsx_reader_t *r, const char *fmt, ...) CM_PRINTF(2, 3);
static void s_fail(exchange_xlsx_reader_t *r, const char *fmt, ...)
{
    if (!r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->why, sizeof r->why, fmt, ap);
        va_end(ap);
    }
    r->failed = true;
    XML_StopParser(r->ps.parser, XML_FALSE);
}

/* "C" for column 2, "AA" for 26. */
static void s_col_name(long col, char *out)
{
    char tmp[8];
    int n = 0;
    for (long c = col + 1; c > 0 && n < 7; c = (c - 1) / 26)
        tmp[n++] = (char)('A' + (c - 1) % 26);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

/* The column of a cell reference "BC12": 54. -1 when it is not one. */
static long s_ref_col(const char *ref)
{
    long col = 0;
    int letters = 0;
    for (; *ref >= 'A' && *ref <= 'Z'; ref++) {
        if (++letters > 3)
            return -1;
        col = col * 26 + (*ref - 'A' + 1);
    }
    if (!letters || *ref < '1' || *ref > '9')
        return -1;
    return col - 1;
}

static void XMLCALL s_sheet_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    exchange_xlsx_reader_t *r = user;
    const char *local = s_local(name);
    if (!strcmp(local, "row")) {
        const char *v = s_attr(atts, "r", false);
        long n = r->last_row + 1;
        if (v && cm_parse_long(v, 1, 1048576, &n)) {
            s_fail(r, "row %ld: \"%s\" is not a row number", r->last_row + 1, v);
            return;
        }
        r->row = n;
        r->col = -1;
        r->max_col = -1;
        s_text_clear(&r->row_text);
    } else if (!strcmp(local, "c")) {
        const char *ref = s_attr(atts, "r", false), *t = s_attr(atts, "t", false),
                   *s = s_attr(atts, "s", false);
        long col = ref ? s_ref_col(ref) : r->col + 1;
        if (col < 0 || col >= EXCHANGE_XLSX_READ_MAX_COLUMNS) {
            s_fail(r, "row %ld: \"%s\" is not a cell of the sheet", r->row, ref ? ref : "");
            return;
        }
        r->col = col;
        snprintf(r->type, sizeof r->type, "%s", t ? t : "n");
        r->style = s ? strtol(s, NULL, 10) : 0;
        s_text_clear(&r->value);
    } else if (!strcmp(local, "v")) {
        r->in_v = 1;
    } else if (!strcmp(local, "is")) {
        r->in_is = 1;
    } else if (!strcmp(local, "rPh")) {
        r->in_rph++;
    } else if (!strcmp(local, "t") && r->in_is) {
        r->in_t = 1;
    }
}

static void XMLCALL s_sheet_text(void *user, const XML_Char *s, int len)
{
    exchange_xlsx_reader_t *r = user;
    if (r->in_v || (r->in_is && r->in_t && !r->in_rph))
        s_text_add(&r->value, s, (size_t)len, EXCHANGE_XLSX_READ_MAX_CELL);
}

/* What a cell shows, as text, into out (borrowed from the reader or r->value). */
static const char *s_cell_text(exchange_xlsx_reader_t *r, char *tmp, size_t tmpsz)
{
    const char *v = r->value.s ? r->value.s : "";
    if (!v[0])
        return v;
    if (!strcmp(r->type, "s")) {
        long i;
        if (cm_parse_long(v, 0, LONG_MAX, &i) || (size_t)i >= r->strings.n)
            return NULL;
        return r->strings.chars.s + r->strings.offs[i];
    }
    if (!strcmp(r->type, "b"))
        return !strcmp(v, "1") ? "true" : !strcmp(v, "0") ? "false" : v;
    if (!strcmp(r->type, "inlineStr") || !strcmp(r->type, "str")) {
        r->value.len = s_unescape(r->value.s, r->value.len);
        return r->value.s;
    }
    if (!strcmp(r->type, "n") && v[0] && r->style >= 0 && (size_t)r->style < r->n_xfs &&
        r->xf_kinds[r->style]) {
        char *end;
        double d = strtod(v, &end);
        int kind = r->xf_kinds[r->style];
        if (*end == '\0' &&
            exchange_xlsx_read_serial_date(d, r->date1904, kind == 2 || d != floor(d), r->zone, tmp,
                                           tmpsz) == 0)
            return tmp;
    }
    return v; /* a number as written, inline or formula text, an error value, an ISO date */
}

static void XMLCALL s_sheet_end(void *user, const XML_Char *name)
{
    exchange_xlsx_reader_t *r = user;
    const char *local = s_local(name);
    if (!strcmp(local, "v")) {
        r->in_v = 0;
    } else if (!strcmp(local, "is")) {
        r->in_is = 0;
    } else if (!strcmp(local, "rPh")) {
        r->in_rph--;
    } else if (!strcmp(local, "t")) {
        r->in_t = 0;
    } else if (!strcmp(local, "c")) {
        char col[8], tmp[40];
        s_col_name(r->col, col);
        if (r->value.too_long) {
            s_fail(r, "row %ld, column %s: text longer than Excel's 32,767 characters", r->row,
                   col);
            return;
        }
        const char *text = s_cell_text(r, tmp, sizeof tmp);
        if (!text) {
            s_fail(r, "row %ld, column %s: shared text \"%s\" does not exist in the workbook",
                   r->row, col, r->value.s ? r->value.s : "");
            return;
        }
        if (!text[0])
            return;
        if ((size_t)r->col >= r->cell_cap) {
            size_t cap = r->cell_cap ? r->cell_cap : 64;
            while (cap <= (size_t)r->col)
                cap *= 2;
            r->cell_at = cm_realloc(r->cell_at, cap * sizeof *r->cell_at);
            r->cells = cm_realloc(r->cells, cap * sizeof *r->cells);
            for (size_t i = r->cell_cap; i < cap; i++)
                r->cell_at[i] = -1;
            r->cell_cap = cap;
        }
        for (long i = r->max_col + 1; i <= r->col; i++)
            r->cell_at[i] = -1;
        r->cell_at[r->col] = (long)r->row_text.len;
        s_text_add(&r->row_text, text, strlen(text) + 1, MAX_ROW_BYTES);
        if (r->row_text.too_long) {
            s_fail(r, "row %ld: more than %ld MB of text", r->row, MAX_ROW_BYTES / (1024 * 1024));
            return;
        }
        if (r->col > r->max_col)
            r->max_col = r->col;
    } else if (!strcmp(local, "row")) {
        r->last_row = r->row;
        if (r->max_col >= 0) {
            r->row_ready = true;
            XML_StopParser(r->ps.parser, XML_TRUE);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Opening                                                                 */

/* The folder part of a part name, with its slash: "xl/" for "xl/workbook.xml". */
static void s_dir_of(const char *part, char *out, size_t outsz)
{
    const char *slash = strrchr(part, '/');
    snprintf(out, outsz, "%.*s", slash ? (int)(slash - part + 1) : 0, part);
}

/* The rels file of a part: "xl/_rels/workbook.xml.rels". */
static void s_rels_of(const char *part, char *out, size_t outsz)
{
    const char *slash = strrchr(part, '/');
    const char *base = slash ? slash + 1 : part;
    snprintf(out, outsz, "%.*s_rels/%s.rels", slash ? (int)(slash - part + 1) : 0, part, base);
}

static bool s_read_strings(exchange_xlsx_reader_t *r, const char *name)
{
    const struct s_entry *e = s_zip_find(&r->zip, name);
    if (!e)
        return true; /* a workbook of numbers only has none */
    struct s_strings *st = &r->strings;
    XML_Parser p = s_parser_new(&st->ps, st, &st->doctype);
    XML_SetElementHandler(p, s_strings_start, s_strings_end);
    XML_SetCharacterDataHandler(p, s_strings_text);
    bool ok = s_parse_part(&r->zip, e, p, &st->doctype, &st->failed, st->why,
                           EXCHANGE_XLSX_READ_MAX_PART, r->why, sizeof r->why);
    XML_ParserFree(p);
    if (ok && st->in_si) {
        snprintf(r->why, sizeof r->why, "%s ends inside a text", name);
        ok = false;
    }
    return ok;
}

static bool s_read_styles(exchange_xlsx_reader_t *r, const char *name)
{
    const struct s_entry *e = s_zip_find(&r->zip, name);
    if (!e)
        return true; /* no styles: no dates, numbers stay numbers */
    struct s_styles *s = cm_calloc(1, sizeof *s);
    s->xf_kinds = cm_calloc(MAX_XFS, 1);
    bool failed = false;
    XML_Parser p = s_parser_new(&s->ps, s, &s->doctype);
    XML_SetElementHandler(p, s_styles_start, s_styles_end);
    bool ok = s_parse_part(&r->zip, e, p, &s->doctype, &failed, "", MAX_SMALL_PART, r->why,
                           sizeof r->why);
    XML_ParserFree(p);
    r->xf_kinds = s->xf_kinds;
    r->n_xfs = s->n_xfs;
    free(s);
    return ok;
}

exchange_xlsx_reader_t *exchange_xlsx_reader_new(const char *path, char *why, size_t whysz)
{
    exchange_xlsx_reader_t *r = cm_calloc(1, sizeof *r);
    r->zip.fd = -1;
    char book[PATH_MAX_LEN], dir[PATH_MAX_LEN], rels[PATH_MAX_LEN + 16], part[PATH_MAX_LEN + 32];
    if (!s_zip_open(&r->zip, path, r->why, sizeof r->why))
        goto fail;
    /* The workbook: where the package's relationships say, else the usual place. */
    if (!s_rel_target(&r->zip, "_rels/.rels", "", NULL, "/officeDocument", book, sizeof book,
                      r->why, sizeof r->why))
        goto fail;
    if (!book[0])
        snprintf(book, sizeof book, "xl/workbook.xml");
    const struct s_entry *e = s_zip_find(&r->zip, book);
    if (!e) {
        snprintf(r->why, sizeof r->why,
                 "not an Excel workbook: the archive has no workbook (%s); is it a .docx or "
                 "another ZIP file?",
                 book);
        goto fail;
    }
    struct s_book b = {0};
    bool failed = false;
    XML_Parser p = s_parser_new(&b.ps, &b, &b.doctype);
    XML_SetStartElementHandler(p, s_book_start);
    bool ok =
        s_parse_part(&r->zip, e, p, &b.doctype, &failed, "", MAX_SMALL_PART, r->why, sizeof r->why);
    XML_ParserFree(p);
    if (!ok)
        goto fail;
    if (!b.sheet_rid[0]) {
        snprintf(r->why, sizeof r->why, "the workbook has no worksheet");
        goto fail;
    }
    r->date1904 = b.date1904;
    s_dir_of(book, dir, sizeof dir);
    s_rels_of(book, rels, sizeof rels);
    if (!s_rel_target(&r->zip, rels, dir, b.sheet_rid, NULL, r->sheet_name, sizeof r->sheet_name,
                      r->why, sizeof r->why))
        goto fail;
    if (!r->sheet_name[0] || !s_zip_find(&r->zip, r->sheet_name)) {
        snprintf(r->why, sizeof r->why, "the workbook's first worksheet is missing from the file");
        goto fail;
    }
    if (!s_rel_target(&r->zip, rels, dir, NULL, "/sharedStrings", part, sizeof part, r->why,
                      sizeof r->why))
        goto fail;
    if (!part[0])
        snprintf(part, sizeof part, "%ssharedStrings.xml", dir);
    if (!s_read_strings(r, part))
        goto fail;
    if (!s_rel_target(&r->zip, rels, dir, NULL, "/styles", part, sizeof part, r->why,
                      sizeof r->why))
        goto fail;
    if (!part[0])
        snprintf(part, sizeof part, "%sstyles.xml", dir);
    if (!s_read_styles(r, part))
        goto fail;

    r->stream = cm_malloc(sizeof *r->stream);
    r->buf = cm_malloc(CHUNK);
    if (!s_stream_open(r->stream, &r->zip, s_zip_find(&r->zip, r->sheet_name), r->why,
                       sizeof r->why)) {
        free(r->stream);
        r->stream = NULL;
        goto fail;
    }
    p = s_parser_new(&r->ps, r, &r->doctype);
    XML_SetElementHandler(p, s_sheet_start, s_sheet_end);
    XML_SetCharacterDataHandler(p, s_sheet_text);
    return r;
fail:
    snprintf(why, whysz, "%s", r->why);
    exchange_xlsx_reader_destroy(&r);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Rows                                                                    */

/* Hands out the row read: texts for its columns up to the last with a cell. */
static void s_hand_out(exchange_xlsx_reader_t *r, const char *const **cells, size_t *n, long *row)
{
    for (long i = 0; i <= r->max_col; i++)
        r->cells[i] = r->cell_at[i] >= 0 ? r->row_text.s + r->cell_at[i] : "";
    *cells = r->cells;
    *n = (size_t)(r->max_col + 1);
    *row = r->row;
}

int exchange_xlsx_reader_next(exchange_xlsx_reader_t *self, const char *const **cells, size_t *n,
                              long *row)
{
    assert(self && cells && n && row);
    *cells = NULL;
    *n = 0;
    *row = 0;
    if (self->failed)
        return -1;
    for (;;) {
        enum XML_Status st;
        if (self->suspended) {
            st = XML_ResumeParser(self->ps.parser);
        } else if (self->parsed_all) {
            return 0;
        } else {
            long got = s_stream_read(self->stream, self->buf, CHUNK, self->why, sizeof self->why);
            if (got < 0) {
                self->failed = true;
                return -1;
            }
            st = XML_Parse(self->ps.parser, (const char *)self->buf, (int)got, got == 0);
            if (got == 0)
                self->parsed_all = true;
        }
        if (self->doctype)
            s_fail(self, "%s declares a DOCTYPE, which a workbook never does", self->sheet_name);
        if (self->failed)
            return -1;
        if (st == XML_STATUS_ERROR) {
            snprintf(self->why, sizeof self->why, "%s is not well-formed XML (line %lu: %s)",
                     self->sheet_name, (unsigned long)XML_GetCurrentLineNumber(self->ps.parser),
                     XML_ErrorString(XML_GetErrorCode(self->ps.parser)));
            self->failed = true;
            return -1;
        }
        self->suspended = st == XML_STATUS_SUSPENDED;
        if (self->row_ready) {
            self->row_ready = false;
            s_hand_out(self, cells, n, row);
            return 1;
        }
    }
}

void exchange_xlsx_reader_zone(exchange_xlsx_reader_t *self, const struct exchange_zone *zone)
{
    self->zone = zone;
}

const char *exchange_xlsx_reader_error(const exchange_xlsx_reader_t *self)
{
    return self->why;
}

void exchange_xlsx_reader_destroy(exchange_xlsx_reader_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    exchange_xlsx_reader_t *r = *self_p;
    if (r->ps.parser)
        XML_ParserFree(r->ps.parser);
    if (r->stream)
        s_stream_close(r->stream);
    free(r->stream);
    free(r->buf);
    s_zip_close(&r->zip);
    free(r->strings.chars.s);
    free(r->strings.offs);
    free(r->xf_kinds);
    free(r->value.s);
    free(r->row_text.s);
    free(r->cell_at);
    free(r->cells);
    free(r);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------- */
/* Serial dates                                                            */

int exchange_xlsx_read_serial_date(double serial, int date1904, int with_time,
                                   const struct exchange_zone *zone, char *out, size_t outsz)
{
    if (!isfinite(serial) || serial < (date1904 ? 0 : 1) || serial > 2958466)
        return -1;
    /* Excel's day 0 is 1899-12-30 for serials past its phantom 1900-02-29
     * (serial 60); before it, 1899-12-31. 1904 workbooks count from
     * 1904-01-01. Days from 1970-01-01: */
    double epoch = date1904 ? -24107 : serial < 61 ? -25568 : -25569;
    double whole = floor(serial);
    long long ms = llround((serial - whole) * 86400000.0);
    long long days = (long long)whole + (long long)epoch;
    if (ms >= 86400000) {
        days++;
        ms -= 86400000;
    }
    long long secs = ms / 1000;
    ms %= 1000;
    if (with_time && zone) {
        /* A wall-clock time of the business: the instant it means, in UTC. */
        int64_t utc = exchange_zone_to_utc(zone, (int64_t)days * 86400 + secs);
        days = utc >= 0 ? utc / 86400 : -((-utc + 86399) / 86400);
        secs = utc - days * 86400;
    }
    int y, m, d;
    cm_civil_from_days(days, &y, &m, &d);
    if (y < 1900 || y > 9999)
        return -1;
    if (with_time && ms)
        snprintf(out, outsz, "%04d-%02d-%02dT%02lld:%02lld:%02lld.%03lldZ", y, m, d, secs / 3600,
                 secs / 60 % 60, secs % 60, ms);
    else if (with_time)
        snprintf(out, outsz, "%04d-%02d-%02dT%02lld:%02lld:%02lldZ", y, m, d, secs / 3600,
                 secs / 60 % 60, secs % 60);
    else
        snprintf(out, outsz, "%04d-%02d-%02d", y, m, d);
    return 0;
}
