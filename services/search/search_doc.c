/* The tokens of a customer (its name words, e-mail words, phone trigrams,
 * groups and tags) put into and taken out of the dictionaries, and the
 * short prefix counts and bitmaps of common prefixes they feed. */
#include "search_index_impl.h"
#include "cm_util.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* The key of an RFC 3339 time as the customers service writes them: its
 * digits, two to a byte, padded with zeros. */
void search_doc_time_key(const char *ts, uint8_t key[TIME_KEY])
{
    memset(key, 0, TIME_KEY);
    int n = 0;
    for (const char *p = ts ? ts : ""; *p && n < 2 * TIME_KEY; p++)
        if (*p >= '0' && *p <= '9') {
            key[n / 2] |= (uint8_t)((*p - '0') << (n % 2 ? 0 : 4));
            n++;
        }
}

typedef void (*s_token_fn)(void *ud, int dict, const char *s, size_t len);

/* The length of the longest name word of d that the e-mail word w starts
 * with, at most EMAIL_TOK_MAX: the cover (see EMAIL_TOK_MAX). */
static size_t s_email_cover(const struct doc *d, const char *w)
{
    static const int fields[3] = {F_FIRST, F_LAST, F_COMPANY};
    size_t best = 0;
    for (int i = 0; i < 3; i++) {
        const char *s = search_field(d, fields[i]);
        while (*s) {
            const char *e = strchr(s, ' ');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            if (len > best && !strncmp(w, s, len))
                best = len;
            s += len;
            while (*s == ' ')
                s++;
        }
    }
    return best > EMAIL_TOK_MAX ? EMAIL_TOK_MAX : best;
}

/* The e-mail token of the word starting at w: w cut, then the cover byte. */
static void s_email_token(const struct doc *d, const char *w, s_token_fn fn, void *ud)
{
    char key[EMAIL_TOK_MAX + 2];
    size_t n = search_dict_email_len(w);
    memcpy(key, w, n);
    key[n] = (char)(1 + s_email_cover(d, w));
    fn(ud, D_EMAIL, key, n + 1);
}

static void s_doc_tokens(const struct doc *d, s_token_fn fn, void *ud)
{
    static const int name_dicts[][2] = {
        {F_FIRST, D_FIRST}, {F_LAST, D_LAST}, {F_COMPANY, D_COMPANY}};
    for (size_t i = 0; i < 3; i++) {
        const char *s = search_field(d, name_dicts[i][0]);
        while (*s) {
            const char *e = strchr(s, ' ');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            fn(ud, name_dicts[i][1], s, len);
            s += len;
            while (*s == ' ')
                s++;
        }
    }
    const char *email = search_field(d, F_EMAIL);
    if (*email) {
        s_email_token(d, email, fn, ud);
        const char *at = strchr(email, '@');
        for (const char *p = email; at && p < at; p++)
            if (search_email_sep(*p) && p + 1 < at && !search_email_sep(p[1]))
                s_email_token(d, p + 1, fn, ud);
    }
    const char *phone = search_field(d, F_PHONE);
    size_t pl = strlen(phone);
    for (size_t i = 0; i + 3 <= pl; i++)
        fn(ud, D_PHONE, phone + i, 3);
    static const int lists[][2] = {{F_GROUPS, D_GROUP}, {F_TAGS, D_TAG}};
    for (size_t i = 0; i < 2; i++) {
        const char *s = search_field(d, lists[i][0]);
        while (*s) {
            const char *e = strchr(s, '\x1f');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            fn(ud, lists[i][1], s, len);
            s += e ? len + 1 : len;
        }
    }
}

struct s_tok_ctx {
    struct tenant *t;
    uint32_t doc;
    uint32_t n[D_N]; // tokens given per dictionary
};

static void s_on_add(void *ud, int dict, const char *s, size_t len)
{
    struct s_tok_ctx *c = ud;
    struct dict *d = &c->t->dicts[dict];
    search_dict_post_add(c->t, d, search_dict_get(c->t, d, s, len), c->doc);
    c->n[dict]++;
}

static void s_on_remove(void *ud, int dict, const char *s, size_t len)
{
    struct s_tok_ctx *c = ud;
    char buf[512];
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct tok *k = search_dict_find(&c->t->dicts[dict], buf);
    if (k)
        search_dict_post_remove(c->t, &c->t->dicts[dict], k, c->doc);
}

/* ---- short prefix counts ---- */

static uint32_t s_prefix_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* The slot of a prefix (len 1..PREFIX_BYTES): its entry, or the empty slot
 * where it would go. The table must have room. */
static struct pcount *s_pcount_slot(const struct tenant *t, const char *s, size_t len)
{
    uint32_t mask = t->cap_pcounts - 1;
    for (uint32_t i = s_prefix_hash(s, len) & mask;; i = (i + 1) & mask) {
        struct pcount *e = &t->pcounts[i];
        if (!e->len || (e->len == len && !memcmp(e->s, s, len)))
            return e;
    }
}

static struct pcount *s_pcount_add(struct tenant *t, const char *s, size_t len, int delta)
{
    if ((t->n_pcounts + 1) * 2 > t->cap_pcounts) {
        struct pcount *old = t->pcounts;
        uint32_t old_cap = t->cap_pcounts;
        t->cap_pcounts = old_cap ? old_cap * 2 : 1024;
        t->pcounts = cm_calloc(t->cap_pcounts, sizeof *t->pcounts);
        for (uint32_t i = 0; i < old_cap; i++)
            if (old[i].len)
                *s_pcount_slot(t, old[i].s, old[i].len) = old[i];
        free(old);
    }
    struct pcount *e = s_pcount_slot(t, s, len);
    if (!e->len) {
        memcpy(e->s, s, len);
        e->len = (uint8_t)len;
        t->n_pcounts++;
    }
    if (delta < 0) {
        assert(e->n > 0);
        e->n--;
    } else {
        e->n++;
    }
    return e;
}

/* Whether w (strlen wl) is a prefix the table keeps: 1..PREFIX_CHARS
 * characters in at most PREFIX_BYTES bytes. */
static bool s_prefix_kept(const char *w, size_t wl)
{
    size_t chars = 0;
    for (size_t i = 0; i < wl; i++)
        chars += ((unsigned char)w[i] & 0xC0) != 0x80;
    return wl && wl <= PREFIX_BYTES && chars <= PREFIX_CHARS;
}

/* The count of docs with a word starting with prefix w (strlen wl), when
 * the table holds it: 1..PREFIX_CHARS characters in at most PREFIX_BYTES
 * bytes. Returns false otherwise. */
bool search_doc_prefix_count(const struct tenant *t, const char *w, size_t wl, size_t *n)
{
    if (!s_prefix_kept(w, wl))
        return false;
    *n = 0;
    if (!t->cap_pcounts)
        return true;
    const struct pcount *e = s_pcount_slot(t, w, wl);
    *n = e->len ? e->n : 0;
    return true;
}

/* A doc's distinct short prefixes, gathered from its tokens. */
#define DOC_PREFIXES 96
struct s_prefixes {
    uint8_t n;
    bool full; // there were more than DOC_PREFIXES
    uint8_t len[DOC_PREFIXES];
    char s[DOC_PREFIXES][PREFIX_BYTES];
};

static void s_prefix_one(struct s_prefixes *p, const char *s, size_t len)
{
    for (unsigned i = 0; i < p->n; i++)
        if (p->len[i] == len && !memcmp(p->s[i], s, len))
            return;
    if (p->n == DOC_PREFIXES) {
        /* Only a made-up doc has this many: its first DOC_PREFIXES are
         * counted (the same ones when it goes), and the tenant's table is
         * no longer trusted (search_page.c's s_tier_count counts again). */
        p->full = true;
        return;
    }
    memcpy(p->s[p->n], s, len);
    p->len[p->n++] = (uint8_t)len;
}

static void s_on_prefixes(void *ud, int dict, const char *s, size_t len)
{
    if (dict != D_LAST && dict != D_FIRST && dict != D_COMPANY && dict != D_EMAIL)
        return;
    if (dict == D_EMAIL)
        len--; /* not the cover byte */
    /* A query is UTF-8, so it is only ever a prefix of a token's well-formed
     * start: past a bad byte (text that is not UTF-8) there is nothing to
     * count, and reading on would take "ko\xa7" for one character and miss
     * "ko", which search_match_doc finds. */
    size_t bad;
    if (len > PREFIX_BYTES)
        len = PREFIX_BYTES; /* a sequence cut here is past the last prefix anyway */
    if (!cm_utf8_valid(s, len, &bad))
        len = bad;
    size_t end = 0;
    for (int c = 0; c < PREFIX_CHARS && end < len; c++) {
        end++;
        while (end < len && ((unsigned char)s[end] & 0xC0) == 0x80)
            end++;
        if (end > PREFIX_BYTES)
            break;
        s_prefix_one(ud, s, end);
    }
}

/* ---- bitmaps of common prefixes (BM_MIN) ---- */

static bool s_bm_wanted(const struct tenant *t, const struct pcount *e)
{
    return !e->bm && e->n >= t->bm_min && (size_t)e->n * BM_SHARE >= t->live && t->n_bms < BM_MAX;
}

/* The docs of e's ranges (what the prefix count counts) marked, as a
 * word's are; e-mail tokens whose names cover the prefix are skipped, their
 * docs being in a name range already. */
static void s_bm_make(struct tenant *t, struct pcount *e)
{
    char prefix[PREFIX_BYTES + 1];
    memcpy(prefix, e->s, e->len);
    prefix[e->len] = '\0';
    struct gen g = {.prefixes = {prefix, prefix, prefix, prefix}};
    struct cands m = {.t = t, .mark = cm_calloc(t->cap_docs / 64 + 1, sizeof(uint64_t))};
    search_match_gen_tokens(t, &g, search_match_mark_range, &m);
    t->bms = cm_realloc(t->bms, (t->n_bms + 1) * sizeof *t->bms);
    t->bms[t->n_bms++] = m.mark;
    e->bm = t->n_bms;
}

/* After doc numbers changed (a bulk load): every bitmap made again. */
void search_doc_bitmaps_rebuild(struct tenant *t)
{
    for (uint32_t i = 0; i < t->n_bms; i++)
        free(t->bms[i]);
    t->n_bms = 0;
    for (uint32_t i = 0; i < t->cap_pcounts; i++)
        t->pcounts[i].bm = 0;
    for (uint32_t i = 0; i < t->cap_pcounts && !t->pcounts_off; i++)
        if (t->pcounts[i].len && s_bm_wanted(t, &t->pcounts[i]))
            s_bm_make(t, &t->pcounts[i]);
}

/* The bitmap of word w (strlen wl), when it is a prefix that has one. */
const uint64_t *search_doc_prefix_bitmap(const struct tenant *t, const char *w, size_t wl)
{
    if (!s_prefix_kept(w, wl) || !t->n_bms || t->pcounts_off || t->bulk)
        return NULL;
    const struct pcount *e = s_pcount_slot(t, w, wl);
    return e->len && e->bm ? t->bms[e->bm - 1] : NULL;
}

/* Adds (delta 1) or takes away (-1) a live doc's prefixes, and its bit in
 * their bitmaps (made here when a prefix becomes common; while bulk, the
 * load's end makes them). */
static void s_prefix_update(struct tenant *t, uint32_t doc, int delta)
{
    struct s_prefixes p;
    p.n = 0;
    p.full = false;
    s_doc_tokens(&t->docs[doc], s_on_prefixes, &p);
    for (unsigned i = 0; i < p.n; i++) {
        struct pcount *e = s_pcount_add(t, p.s[i], p.len[i], delta);
        if (t->bulk)
            continue;
        if (e->bm && delta > 0)
            t->bms[e->bm - 1][doc >> 6] |= (uint64_t)1 << (doc & 63);
        else if (e->bm)
            t->bms[e->bm - 1][doc >> 6] &= ~((uint64_t)1 << (doc & 63));
        else if (delta > 0 && s_bm_wanted(t, e))
            s_bm_make(t, e);
    }
    if (p.full)
        t->pcounts_off = true;
}

void search_doc_add(struct tenant *t, uint32_t doc)
{
    struct s_tok_ctx ctx = {t, doc, {0}};
    s_doc_tokens(&t->docs[doc], s_on_add, &ctx);
    s_prefix_update(t, doc, 1);
    for (int k = 0; k < D_N; k++)
        if (ctx.n[k] > t->dicts[k].most)
            t->dicts[k].most = ctx.n[k];
}

void search_doc_remove(struct tenant *t, uint32_t doc)
{
    struct s_tok_ctx c = {t, doc, {0}};
    s_doc_tokens(&t->docs[doc], s_on_remove, &c); /* by the label it was added with */
    s_prefix_update(t, doc, -1);
}
