/* The token dictionaries of a tenant: sorted tokens (a main array and a
 * small recent one, or while loading in bulk a hashed one), each with its
 * postings (the docs holding it), and the ranges of a prefix. */
#include "search_index_impl.h"
#include "cm_util.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void search_dict_free(struct dict *d)
{
    struct tok *arrays[2] = {d->main, d->recent};
    size_t counts[2] = {d->n_main, d->n_recent};
    for (int a = 0; a < 2; a++)
        for (size_t i = 0; i < counts[a]; i++)
            if (arrays[a][i].cap)
                free(arrays[a][i].p.many);
    free(d->main);
    free(d->recent);
    free(d->hash);
}

/* First index in a[0..n) whose token is >= s. */
size_t search_dict_lower(const struct tok *a, size_t n, const char *s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(a[mid].s, s) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The end of the run of tokens starting with prefix (len plen) that begins
 * at lo: a binary search, so a long range costs no string reads. */
size_t search_dict_prefix_end(const struct tok *a, size_t n, size_t lo, const char *prefix,
                              size_t plen)
{
    size_t hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (!strncmp(a[mid].s, prefix, plen))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint32_t s_str_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Bulk: the slot of s in d's hash (holding 0 when s is not there). */
static uint32_t *s_hash_slot(const struct dict *d, const char *s)
{
    size_t mask = d->hash_cap - 1;
    for (size_t i = s_str_hash(s) & mask;; i = (i + 1) & mask) {
        uint32_t v = d->hash[i];
        if (!v || !strcmp(d->recent[v - 1].s, s))
            return &d->hash[i];
    }
}

/* Bulk: (re)builds the hash for the recent tokens, at most half full. */
static void s_hash_build(struct dict *d, size_t want)
{
    size_t cap = 1024;
    while (cap < 2 * want)
        cap *= 2;
    assert(d->recent || !d->n_recent);
    free(d->hash);
    d->hash = cm_calloc(cap, sizeof *d->hash);
    d->hash_cap = cap;
    for (size_t i = 0; i < d->n_recent; i++)
        *s_hash_slot(d, d->recent[i].s) = (uint32_t)i + 1;
}

struct tok *search_dict_find(struct dict *d, const char *s)
{
    size_t i = search_dict_lower(d->main, d->n_main, s);
    if (i < d->n_main && !strcmp(d->main[i].s, s))
        return &d->main[i];
    if (d->hash) {
        uint32_t v = *s_hash_slot(d, s);
        return v ? &d->recent[v - 1] : NULL;
    }
    i = search_dict_lower(d->recent, d->n_recent, s);
    if (i < d->n_recent && !strcmp(d->recent[i].s, s))
        return &d->recent[i];
    return NULL;
}

/* Merges recent into main, dropping tokens nobody holds any more. */
static void s_dict_merge(struct dict *d)
{
    struct tok *m = cm_malloc((d->n_main + d->n_recent + 1) * sizeof *m);
    size_t i = 0, j = 0, o = 0;
    while (i < d->n_main || j < d->n_recent) {
        struct tok *t;
        if (j >= d->n_recent || (i < d->n_main && strcmp(d->main[i].s, d->recent[j].s) < 0))
            t = &d->main[i++];
        else
            t = &d->recent[j++];
        if (t->n == 0) {
            if (t->cap)
                free(t->p.many);
            continue;
        }
        m[o++] = *t;
    }
    free(d->main);
    d->main = m;
    d->n_main = o;
    d->n_recent = 0;
}

/* A copy of s (len bytes and a NUL) in the tenant's arena of token strings. */
static const char *s_arena_str(struct tenant *t, const char *s, size_t len)
{
    if (!t->arena || t->arena->used + len + 1 > t->arena->size) {
        size_t size = len + 1 > 65536 ? len + 1 : 65536;
        struct chunk *c = cm_malloc(sizeof *c + size);
        c->next = t->arena;
        c->used = 0;
        c->size = size;
        t->arena = c;
    }
    char *p = t->arena->mem + t->arena->used;
    memcpy(p, s, len);
    p[len] = '\0';
    t->arena->used += len + 1;
    return p;
}

struct tok *search_dict_get(struct tenant *t, struct dict *d, const char *s, size_t len)
{
    char buf[512];
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct tok *k = search_dict_find(d, buf);
    if (k)
        return k;
    if (t->bulk) {
        if (!d->hash || 2 * (d->n_recent + 1) > d->hash_cap)
            s_hash_build(d, d->n_recent + 1 > 4096 ? 2 * (d->n_recent + 1) : 4096);
        if (d->n_recent == d->cap_recent) {
            d->cap_recent = d->cap_recent > RECENT_MAX ? 2 * d->cap_recent : 2 * RECENT_MAX;
            d->recent = cm_realloc(d->recent, d->cap_recent * sizeof *d->recent);
        }
        /* recent has room: cap_recent counts what it holds. */
        assert(d->recent && d->n_recent < d->cap_recent);
        k = &d->recent[d->n_recent++];
        memset(k, 0, sizeof *k);
        k->s = s_arena_str(t, buf, len);
        if (d->email && len)
            k->cover = (unsigned)(buf[len - 1] - 1) & 15;
        *s_hash_slot(d, k->s) = (uint32_t)d->n_recent;
        return k;
    }
    if (d->n_recent == RECENT_MAX)
        s_dict_merge(d);
    if (!d->recent)
        d->recent = cm_malloc(RECENT_MAX * sizeof *d->recent);
    size_t i = search_dict_lower(d->recent, d->n_recent, buf);
    memmove(&d->recent[i + 1], &d->recent[i], (d->n_recent - i) * sizeof *d->recent);
    d->n_recent++;
    k = &d->recent[i];
    memset(k, 0, sizeof *k);
    k->s = s_arena_str(t, buf, len);
    if (d->email && len)
        k->cover = (unsigned)(buf[len - 1] - 1) & 15;
    return k;
}

static int s_tok_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tok *)a)->s, ((const struct tok *)b)->s);
}

void search_dict_bulk(struct dict *d, bool on)
{
    if (on && !d->hash) {
        /* recent is sorted now and stays usable as the start of the bulk array. */
        if (d->recent)
            d->cap_recent = RECENT_MAX;
        s_hash_build(d, d->n_recent > 2048 ? d->n_recent : 2048);
    } else if (!on && d->hash) {
        qsort(d->recent, d->n_recent, sizeof *d->recent, s_tok_cmp);
        free(d->hash);
        d->hash = NULL;
        d->hash_cap = 0;
        s_dict_merge(d);
        free(d->recent);
        d->recent = NULL;
        d->cap_recent = 0;
    }
}

/* Adds doc to k's postings: in label order in an ordered dictionary (the
 * doc's label is set), else (or while bulk) at the end. */
void search_dict_post_add(const struct tenant *t, const struct dict *d, struct tok *k, uint32_t doc)
{
    bool sorted = d->ordered && !t->bulk;
    uint32_t at = k->n;
    if (k->n) {
        const uint32_t *p = search_post_mut(k);
        if (p[k->n - 1] == doc)
            return;
        if (sorted) {
            at = search_post_lower(t->label, p, k->n, t->label[doc]);
            if (at < k->n && p[at] == doc)
                return;
        }
    }
    if (k->cap == 0 && k->n < 2) {
        if (at == 0 && k->n == 1)
            k->p.two[1] = k->p.two[0];
        k->p.two[at] = doc;
        k->n++;
        if (sorted && at == 0)
            k->first = t->label[doc];
        return;
    }
    if (k->cap == 0) {
        uint32_t a = k->p.two[0], b = k->p.two[1];
        k->cap = 4;
        k->p.many = cm_malloc(k->cap * sizeof *k->p.many);
        k->p.many[0] = a;
        k->p.many[1] = b;
    } else if (k->n == k->cap) {
        k->cap += k->cap < 64 ? k->cap : k->cap / 2;
        k->p.many = cm_realloc(k->p.many, k->cap * sizeof *k->p.many);
    }
    memmove(&k->p.many[at + 1], &k->p.many[at], (k->n - at) * sizeof *k->p.many);
    k->p.many[at] = doc;
    k->n++;
    if (sorted && at == 0)
        k->first = t->label[doc];
}

/* Where doc is in p[0..n), or n. Unordered postings (a phone trigram's, a
 * big group's) are scanned, 16 at a time in vector compares (GCC's vector
 * extension, which clang has too: SSE2 here, whatever the target has). */
typedef uint32_t s_u32x4 __attribute__((vector_size(16)));
static uint32_t s_post_index(const uint32_t *p, uint32_t n, uint32_t doc)
{
    const s_u32x4 want = {doc, doc, doc, doc};
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s_u32x4 v[4];
        memcpy(v, p + i, sizeof v);
        __typeof__(v[0] == want) hit =
            (v[0] == want) | (v[1] == want) | (v[2] == want) | (v[3] == want);
        uint64_t w[2];
        memcpy(w, &hit, sizeof w);
        if (w[0] | w[1])
            break;
    }
    for (; i < n; i++)
        if (p[i] == doc)
            return i;
    return n;
}

/* Removes doc from k's postings (found by its label, which must be the one
 * it was added with, in an ordered dictionary). */
void search_dict_post_remove(const struct tenant *t, const struct dict *d, struct tok *k,
                             uint32_t doc)
{
    uint32_t *p = search_post_mut(k);
    if (d->ordered && !t->bulk && k->n > 8) {
        uint32_t at = search_post_lower(t->label, p, k->n, t->label[doc]);
        if (at < k->n && p[at] == doc) {
            memmove(&p[at], &p[at + 1], (k->n - at - 1) * sizeof *p);
            k->n--;
        }
    } else {
        uint32_t i = s_post_index(p, k->n, doc);
        if (i < k->n) {
            if (d->ordered)
                memmove(&p[i], &p[i + 1], (k->n - i - 1) * sizeof *p);
            else
                p[i] = p[k->n - 1];
            k->n--;
        }
    }
    if (d->ordered && !t->bulk)
        k->first = k->n ? t->label[p[0]] : 0;
}

/* The bytes of an e-mail token: at most EMAIL_TOK_MAX, not cutting a
 * UTF-8 sequence. */
size_t search_dict_email_len(const char *s)
{
    size_t n = strlen(s);
    if (n <= EMAIL_TOK_MAX)
        return n;
    n = EMAIL_TOK_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* What to look prefix up by in d: in the e-mail dictionary a prefix longer
 * than its cut tokens is cut the same way (into cut), so the range holds
 * every candidate; elsewhere the prefix itself. */
static const char *s_dict_prefix(const struct dict *d, const char *prefix,
                                 char cut[EMAIL_TOK_MAX + 1])
{
    if (!d->email || strlen(prefix) <= EMAIL_TOK_MAX)
        return prefix;
    size_t n = search_dict_email_len(prefix);
    memcpy(cut, prefix, n);
    cut[n] = '\0';
    return cut;
}

struct span search_dict_span(const struct dict *d, const char *prefix)
{
    char cut[EMAIL_TOK_MAX + 1];
    size_t whole = strlen(prefix);
    prefix = s_dict_prefix(d, prefix, cut);
    size_t plen = strlen(prefix);
    const struct tok *arrays[2] = {d->main, d->recent};
    size_t counts[2] = {d->n_main, d->n_recent};
    struct span sp;
    for (int a = 0; a < 2; a++) {
        size_t lo = search_dict_lower(arrays[a], counts[a], prefix);
        sp.tok[a] = arrays[a] ? arrays[a] + lo : NULL;
        sp.n[a] = search_dict_prefix_end(arrays[a], counts[a], lo, prefix, plen) - lo;
    }
    /* Covers below the word's length (every cover for a long word). */
    sp.max_cover = !d->email || d->every_cover || whole == 0 || whole > EMAIL_TOK_MAX
                       ? 15
                       : (unsigned)whole - 1;
    return sp;
}
