/* The per-tenant index and the query. */
#include "search_index.h"
#include "search_fold.h"
#include "search_spell.h"
#include "cm_buf.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <assert.h>
#include <limits.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

/* ---------------------------------------------------------------------- */
/* Structures                                                              */

/* The token dictionaries of a tenant; the first five are matched by the
 * query, in ranking order after the exact match. */
enum { D_LAST, D_FIRST, D_COMPANY, D_EMAIL, D_PHONE, D_GROUP, D_TAG, D_N };

/* The folded fields of a customer, NUL-terminated one after another. */
enum { F_FIRST, F_LAST, F_COMPANY, F_EMAIL, F_PHONE, F_GROUPS, F_TAGS, F_N };

/* The creation and change times, kept as 10-byte keys (the 20 digits of
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ", two to a byte: memcmp order is time
 * order), between the packed customer and the folded fields. */
#define TIME_KEY 10
enum { T_CREATED, T_UPDATED, T_N };

/* A distinct token and the customers (doc numbers) holding it, unordered. */
struct tok {
    const char *s;  // borrowed (tenant arena)
    uint64_t first; // ordered dictionaries: the label of the first posting (0 when none)
    uint32_t n;
    uint32_t cap : 28;  // 0: the (up to two) postings are inline in p.two; at most 2^28 - 1,
                        // far past the customers one index can hold in memory
    uint32_t cover : 4; // e-mail: the cover its key ends with (see EMAIL_TOK_MAX)
    union {
        uint32_t two[2];
        uint32_t *many; // owned
    } p;
};

/* Sorted tokens: a large main array and a small recent one (sorted too) that
 * is merged into main when full, so adding a token never moves millions.
 * While an index is loaded in bulk (a snapshot, nothing served from it),
 * recent is instead an unsorted, growing array found through a hash table,
 * sorted and merged once at the end: merging every 2,048 new tokens into
 * millions would copy the main array hundreds of times. */
struct dict {
    bool ordered;     // postings kept in name order (label order), not just appended
    bool email;       // tokens cut to EMAIL_TOK_MAX bytes, after a cover byte (s_email_token)
    bool every_cover; // e-mail: look covered postings up too (the general path's check)
    uint32_t most;    // the most tokens one doc has given (never lowered: a bound)
    struct tok *main; // owned
    size_t n_main;
    struct tok *recent; // owned
    size_t n_recent;
    size_t cap_recent; // bulk only; RECENT_MAX otherwise
    uint32_t *hash;    // owned: bulk only, recent index + 1 by token, 0 = empty
    size_t hash_cap;   // a power of two
};
#define RECENT_MAX 2048

/* E-mail tokens are cut to this many bytes: an address is one of a kind,
 * and a dictionary of a million unique strings would cost more than the
 * rest of the index. A longer prefix is looked up by its first bytes and
 * the candidates checked against the record.
 *
 * Each e-mail token ends with a cover byte, 1 + r: r is the length of the
 * longest of the customer's own name words that the e-mail word starts with
 * (at most EMAIL_TOK_MAX), also kept in the token's cover. A query word of
 * at most r bytes that starts the e-mail word starts that name word too, so
 * the name dictionaries find the customer already (at a better tier): such
 * a word reads only the tokens with r below its length. For "lena" that
 * skips lena.berg@..., written by a Lena, and keeps lenab@... written by
 * someone else. (The byte never matches a query's: it is a control
 * character, which folding never leaves in a query.) */
#define EMAIL_TOK_MAX 6

/* Name order labels: live docs in the order of (sort last name, first name,
 * id) carry increasing labels, spaced so a new doc usually fits between its
 * neighbours; when it does not, every label is given again (in the same
 * order, so postings sorted by label stay sorted). */
#define LABEL_STEP ((uint64_t)1 << 20)

enum { DOC_LIVE = 1, DOC_COMPANY = 2, DOC_ACCOUNT = 4 };

/* 48 bytes: a million of them are 48 MB. */
struct doc {
    uint8_t id[16];
    uint8_t *data;    // owned: packed crm.Customer, then the folded fields; NULL when not live
    uint32_t version; // UINT32_MAX once deleted (a tombstone)
    uint32_t packed_len;
    uint16_t f[F_N - 1]; // offsets of the folded fields after F_FIRST (which starts at 0)
    uint8_t flags;
    uint8_t status; // crm.AccountStatus
};

/* How many live docs have a word in the last name, first name, company or
 * e-mail dictionaries that starts with a given prefix of up to PREFIX_CHARS
 * characters (PREFIX_BYTES bytes): the exact total of a short one-word
 * query without filters, read instead of counted over every posting of its
 * ranges. Open addressing; entries stay when their count falls to 0. */
#define PREFIX_CHARS 3
#define PREFIX_BYTES 6 /* a prefix over this is counted (e-mail tokens are cut here too) */
struct pcount {
    char s[PREFIX_BYTES];
    uint8_t len; // 0: an empty slot
    uint32_t n;
    uint32_t bm; // 1 + its bitmap's index in the tenant's bms; 0: none
};

/* A prefix held by at least BM_MIN docs and one in BM_SHARE of the live
 * ones gets a bitmap of those docs (a bit per doc number, at most twice the
 * bytes of the postings it stands for), at most BM_MAX per tenant. A query
 * word that is such a prefix then narrows another word's candidates by one
 * bit each, where its tens of thousands of postings would be read (or every
 * candidate's record checked): "jan k" as it is typed. */
#define BM_MIN 4096
#define BM_SHARE 64
#define BM_MAX 128

/* A query of several words whose candidates are all matches, more than
 * WALK_MIN of them, is ranked tier by tier while that passes over fewer
 * than WALK_FACTOR postings per candidate (s_search_walk). */
#define WALK_MIN 64
#define WALK_FACTOR 32

/* A run of the name order. Blocks are never empty; a full one splits. */
#define ORDER_BLOCK 512
struct order_block {
    uint32_t n;
    uint32_t doc[ORDER_BLOCK];
};

/* A place in the name order: block b, entry i; {n_blocks, 0} is the end. */
struct opos {
    uint32_t b, i;
};

struct chunk {
    struct chunk *next; // owned
    size_t used, size;
    char mem[];
};

struct tenant {
    char id[40];
    struct doc *docs; // owned
    uint32_t n_docs, cap_docs;
    uint32_t *slots; // owned: hash of ids, doc number + 1, 0 = empty
    uint32_t n_slots;
    uint32_t *stamp; // owned: per-query marks, cap_docs of them
    uint32_t gen;
    uint64_t *bits;  // owned: a bit per doc (cap_docs), all clear between uses: small enough
                     // to stay in cache where stamps would not
    uint64_t *bits2; // owned: another
    uint64_t *label; // owned: cap_docs name order labels (0 for a doc not live)
    struct order_block **by_name; // owned, with its blocks: the live docs in name order, in
                                  // blocks (a change moves at most one block); not kept while bulk
    uint32_t n_blocks, cap_blocks;
    struct dict dicts[D_N];
    struct pcount *pcounts; // owned: short prefix counts (struct pcount)
    uint32_t n_pcounts, cap_pcounts;
    bool pcounts_off; // a doc had too many prefixes to count: the table is not used
    uint64_t **bms;   // owned, with each bitmap (cap_docs / 64 + 1 words): see BM_MIN
    uint32_t n_bms;
    uint32_t bm_min;     // BM_MIN, or the test's
    struct chunk *arena; // owned: token strings
    bool bulk;           // being loaded in bulk (search_index_bulk)
    size_t live;
    size_t data_bytes;
};

struct search_index {
    struct tenant **tenants; // owned
    size_t n_tenants;
    bool general_only;   // testing: no fast paths
    size_t walk_min;     // WALK_MIN, or the test's
    size_t walk_factor;  // WALK_FACTOR, or the test's (at least 1)
    uint32_t bm_min;     // testing: BM_MIN when 0
    bool bulk;           // search_index_bulk
    struct query *q;     // owned: the query being answered (large: kept, not allocated each time)
    uint32_t *cand_docs; // owned: the candidates' array, kept for the next query
    size_t cap_cand_docs;
};

search_index_t *search_index_new(void)
{
    search_index_t *self = cm_calloc(1, sizeof(search_index_t));
    self->walk_min = WALK_MIN;
    self->walk_factor = WALK_FACTOR;
    return self;
}

void search_index_set_bitmap_min(search_index_t *self, uint32_t n)
{
    self->bm_min = n;
}

void search_index_set_walk(search_index_t *self, size_t min, size_t factor)
{
    self->walk_min = min;
    self->walk_factor = factor ? factor : 1;
}

void search_index_set_fast(search_index_t *self, bool on)
{
    self->general_only = !on;
    for (size_t i = 0; i < self->n_tenants; i++)
        self->tenants[i]->dicts[D_EMAIL].every_cover = !on;
}

static void s_dict_free(struct dict *d)
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

static void s_tenant_free(struct tenant *t)
{
    for (uint32_t i = 0; i < t->n_docs; i++)
        free(t->docs[i].data);
    free(t->docs);
    free(t->slots);
    free(t->stamp);
    free(t->label);
    free(t->bits);
    free(t->bits2);
    for (uint32_t b = 0; b < t->n_blocks; b++)
        free(t->by_name[b]);
    free(t->by_name);
    free(t->pcounts);
    for (uint32_t i = 0; i < t->n_bms; i++)
        free(t->bms[i]);
    free(t->bms);
    for (int d = 0; d < D_N; d++)
        s_dict_free(&t->dicts[d]);
    while (t->arena) {
        struct chunk *next = t->arena->next;
        free(t->arena);
        t->arena = next;
    }
    free(t);
}

void search_index_destroy(search_index_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    search_index_t *self = *self_p;
    for (size_t i = 0; i < self->n_tenants; i++)
        s_tenant_free(self->tenants[i]);
    free(self->tenants);
    free(self->q);
    free(self->cand_docs);
    free(self);
    *self_p = NULL;
}

static struct tenant *s_tenant(search_index_t *self, const char *id, bool create)
{
    for (size_t i = 0; i < self->n_tenants; i++)
        if (!strcmp(self->tenants[i]->id, id))
            return self->tenants[i];
    if (!create || strlen(id) >= sizeof self->tenants[0]->id)
        return NULL;
    struct tenant *t = cm_calloc(1, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    t->bulk = self->bulk;
    t->bm_min = self->bm_min ? self->bm_min : BM_MIN;
    for (int k = 0; k < D_N; k++)
        t->dicts[k].ordered = k == D_LAST || k == D_FIRST || k == D_COMPANY || k == D_EMAIL;
    t->dicts[D_EMAIL].email = true;
    t->dicts[D_EMAIL].every_cover = self->general_only;
    self->tenants = cm_realloc(self->tenants, (self->n_tenants + 1) * sizeof *self->tenants);
    self->tenants[self->n_tenants++] = t;
    return t;
}

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

/* ---------------------------------------------------------------------- */
/* Ids                                                                     */

static int s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses a textual UUID (36 characters with dashes). Returns 0 or -1. */
static int s_uuid_parse(const char *s, uint8_t out[16])
{
    if (strlen(s) != 36)
        return -1;
    int o = 0;
    for (int i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return -1;
            i++;
            continue;
        }
        int hi = s_hexval(s[i]), lo = s_hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[o++] = (uint8_t)(hi * 16 + lo);
        i += 2;
    }
    return 0;
}

static uint32_t s_id_hash(const uint8_t id[16])
{
    /* Ids need not be random (imported ones may count up): mix all 16 bytes. */
    uint64_t a, b;
    memcpy(&a, id, sizeof a);
    memcpy(&b, id + 8, sizeof b);
    uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b + 0x632BE59BD9B4E019ull);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* The doc number of id, or UINT32_MAX. */
static uint32_t s_find(const struct tenant *t, const uint8_t id[16])
{
    if (!t->n_slots)
        return UINT32_MAX;
    uint32_t mask = t->n_slots - 1;
    for (uint32_t i = s_id_hash(id) & mask;; i = (i + 1) & mask) {
        uint32_t s = t->slots[i];
        if (!s)
            return UINT32_MAX;
        if (!memcmp(t->docs[s - 1].id, id, 16))
            return s - 1;
    }
}

static void s_slot_put(struct tenant *t, uint32_t doc)
{
    uint32_t mask = t->n_slots - 1;
    uint32_t i = s_id_hash(t->docs[doc].id) & mask;
    while (t->slots[i])
        i = (i + 1) & mask;
    t->slots[i] = doc + 1;
}

/* A new doc slot for id (hash grown as needed). */
static uint32_t s_doc_new(struct tenant *t, const uint8_t id[16])
{
    if (t->n_docs == t->cap_docs) {
        t->cap_docs = t->cap_docs ? t->cap_docs * 2 : 64;
        t->docs = cm_realloc(t->docs, t->cap_docs * sizeof *t->docs);
        t->stamp = cm_realloc(t->stamp, t->cap_docs * sizeof *t->stamp);
        t->label = cm_realloc(t->label, t->cap_docs * sizeof *t->label);
        free(t->bits);
        free(t->bits2);
        size_t old_words = t->n_docs / 64 + 1, words = t->cap_docs / 64 + 1;
        t->bits = cm_calloc(words, sizeof *t->bits);
        t->bits2 = cm_calloc(words, sizeof *t->bits2);
        for (uint32_t i = 0; i < t->n_bms; i++) {
            t->bms[i] = cm_realloc(t->bms[i], words * sizeof *t->bms[i]);
            memset(t->bms[i] + old_words, 0, (words - old_words) * sizeof *t->bms[i]);
        }
    }
    uint32_t doc = t->n_docs++;
    memset(&t->docs[doc], 0, sizeof t->docs[doc]);
    t->stamp[doc] = 0;
    t->label[doc] = 0;
    memcpy(t->docs[doc].id, id, 16);
    if ((uint64_t)t->n_docs * 2 > t->n_slots) {
        free(t->slots);
        t->n_slots = t->n_slots ? t->n_slots * 2 : 128;
        while ((uint64_t)t->n_docs * 2 > t->n_slots)
            t->n_slots *= 2;
        t->slots = cm_calloc(t->n_slots, sizeof *t->slots);
        for (uint32_t i = 0; i < t->n_docs; i++)
            s_slot_put(t, i);
    } else {
        s_slot_put(t, doc);
    }
    return doc;
}

/* ---------------------------------------------------------------------- */
/* Dictionaries                                                            */

/* First index in a[0..n) whose token is >= s. */
static size_t s_lower(const struct tok *a, size_t n, const char *s)
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
static size_t s_prefix_end(const struct tok *a, size_t n, size_t lo, const char *prefix,
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
    free(d->hash);
    d->hash = cm_calloc(cap, sizeof *d->hash);
    d->hash_cap = cap;
    for (size_t i = 0; i < d->n_recent; i++)
        *s_hash_slot(d, d->recent[i].s) = (uint32_t)i + 1;
}

static struct tok *s_tok_find(struct dict *d, const char *s)
{
    size_t i = s_lower(d->main, d->n_main, s);
    if (i < d->n_main && !strcmp(d->main[i].s, s))
        return &d->main[i];
    if (d->hash) {
        uint32_t v = *s_hash_slot(d, s);
        return v ? &d->recent[v - 1] : NULL;
    }
    i = s_lower(d->recent, d->n_recent, s);
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

static struct tok *s_tok_get(struct tenant *t, struct dict *d, const char *s, size_t len)
{
    char buf[512];
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct tok *k = s_tok_find(d, buf);
    if (k)
        return k;
    if (t->bulk) {
        if (!d->hash || 2 * (d->n_recent + 1) > d->hash_cap)
            s_hash_build(d, d->n_recent + 1 > 4096 ? 2 * (d->n_recent + 1) : 4096);
        if (d->n_recent == d->cap_recent) {
            d->cap_recent = d->cap_recent > RECENT_MAX ? 2 * d->cap_recent : 2 * RECENT_MAX;
            d->recent = cm_realloc(d->recent, d->cap_recent * sizeof *d->recent);
        }
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
    size_t i = s_lower(d->recent, d->n_recent, buf);
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

static void s_renumber(struct tenant *t);

void search_index_bulk(search_index_t *self, bool on)
{
    self->bulk = on;
    for (size_t i = 0; i < self->n_tenants; i++) {
        struct tenant *t = self->tenants[i];
        bool was = t->bulk;
        t->bulk = on;
        for (int k = 0; k < D_N; k++) {
            struct dict *d = &t->dicts[k];
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
        if (was && !on)
            s_renumber(t);
    }
}

static uint32_t *s_post_mut(struct tok *k)
{
    return k->cap ? k->p.many : k->p.two;
}

/* First index in postings p[0..n) whose label is >= lab (p in label order). */
static uint32_t s_post_lower(const uint64_t *label, const uint32_t *p, uint32_t n, uint64_t lab)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (label[p[mid]] < lab)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Adds doc to k's postings: in label order in an ordered dictionary (the
 * doc's label is set), else (or while bulk) at the end. */
static void s_post_add(const struct tenant *t, const struct dict *d, struct tok *k, uint32_t doc)
{
    bool sorted = d->ordered && !t->bulk;
    uint32_t at = k->n;
    if (k->n) {
        const uint32_t *p = s_post_mut(k);
        if (p[k->n - 1] == doc)
            return;
        if (sorted) {
            at = s_post_lower(t->label, p, k->n, t->label[doc]);
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
static void s_post_remove(const struct tenant *t, const struct dict *d, struct tok *k, uint32_t doc)
{
    uint32_t *p = s_post_mut(k);
    if (d->ordered && !t->bulk && k->n > 8) {
        uint32_t at = s_post_lower(t->label, p, k->n, t->label[doc]);
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

static const uint32_t *s_post(const struct tok *k)
{
    return k->cap ? k->p.many : k->p.two;
}

/* The bytes of an e-mail token: at most EMAIL_TOK_MAX, not cutting a
 * UTF-8 sequence. */
static size_t s_email_tok_len(const char *s)
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
    size_t n = s_email_tok_len(prefix);
    memcpy(cut, prefix, n);
    cut[n] = '\0';
    return cut;
}

/* The tokens of d starting with prefix (cut as s_dict_prefix cuts it): a
 * run of the main array and one of the recent array. In the e-mail
 * dictionary only its tokens with a cover up to max_cover count (s_in). */
struct span {
    const struct tok *tok[2]; // borrowed
    size_t n[2];
    unsigned max_cover;
};

static struct span s_span(const struct dict *d, const char *prefix)
{
    char cut[EMAIL_TOK_MAX + 1];
    size_t whole = strlen(prefix);
    prefix = s_dict_prefix(d, prefix, cut);
    size_t plen = strlen(prefix);
    const struct tok *arrays[2] = {d->main, d->recent};
    size_t counts[2] = {d->n_main, d->n_recent};
    struct span sp;
    for (int a = 0; a < 2; a++) {
        size_t lo = s_lower(arrays[a], counts[a], prefix);
        sp.tok[a] = arrays[a] ? arrays[a] + lo : NULL;
        sp.n[a] = s_prefix_end(arrays[a], counts[a], lo, prefix, plen) - lo;
    }
    /* Covers below the word's length (every cover for a long word). */
    sp.max_cover = !d->email || d->every_cover || whole == 0 || whole > EMAIL_TOK_MAX
                       ? 15
                       : (unsigned)whole - 1;
    return sp;
}

/* The token is one of the span's (not an e-mail token its names cover). */
static bool s_in(const struct span *sp, const struct tok *k)
{
    return k->cover <= sp->max_cover;
}

/* Called for a token of a range (s_gen_tokens). */
typedef void (*s_range_fn)(void *ud, const struct tok *k);

/* ---------------------------------------------------------------------- */
/* The tokens of a customer                                                */

static const char *s_field(const struct doc *d, int f)
{
    return (const char *)d->data + d->packed_len + T_N * TIME_KEY +
           (f == F_FIRST ? 0 : d->f[f - 1]);
}

/* Asks for the cache lines s_match reads of d (its folded names and e-mail)
 * ahead of the reading: a query's candidates are scattered over memory, and
 * a record's lines fetched one miss after another cost more than the match. */
static void s_prefetch_fields(const struct doc *d)
{
    if (!d->data)
        return;
    const char *f = s_field(d, F_FIRST);
    __builtin_prefetch(f);
    __builtin_prefetch(f + 64);
}

/* A time key of the doc (T_CREATED, T_UPDATED). */
static const uint8_t *s_time(const struct doc *d, int which)
{
    return d->data + d->packed_len + which * TIME_KEY;
}

/* The key of an RFC 3339 time as the customers service writes them: its
 * digits, two to a byte, padded with zeros. */
static void s_time_key(const char *ts, uint8_t key[TIME_KEY])
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

/* Separators inside an e-mail's local part that start another findable word. */
static bool s_email_sep(char c)
{
    return c == '.' || c == '_' || c == '-' || c == '+';
}

/* The length of the longest name word of d that the e-mail word w starts
 * with, at most EMAIL_TOK_MAX: the cover (see EMAIL_TOK_MAX). */
static size_t s_email_cover(const struct doc *d, const char *w)
{
    static const int fields[3] = {F_FIRST, F_LAST, F_COMPANY};
    size_t best = 0;
    for (int i = 0; i < 3; i++) {
        const char *s = s_field(d, fields[i]);
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
    size_t n = s_email_tok_len(w);
    memcpy(key, w, n);
    key[n] = (char)(1 + s_email_cover(d, w));
    fn(ud, D_EMAIL, key, n + 1);
}

static void s_doc_tokens(const struct doc *d, s_token_fn fn, void *ud)
{
    static const int name_dicts[][2] = {
        {F_FIRST, D_FIRST}, {F_LAST, D_LAST}, {F_COMPANY, D_COMPANY}};
    for (size_t i = 0; i < 3; i++) {
        const char *s = s_field(d, name_dicts[i][0]);
        while (*s) {
            const char *e = strchr(s, ' ');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            fn(ud, name_dicts[i][1], s, len);
            s += len;
            while (*s == ' ')
                s++;
        }
    }
    const char *email = s_field(d, F_EMAIL);
    if (*email) {
        s_email_token(d, email, fn, ud);
        const char *at = strchr(email, '@');
        for (const char *p = email; at && p < at; p++)
            if (s_email_sep(*p) && p + 1 < at && !s_email_sep(p[1]))
                s_email_token(d, p + 1, fn, ud);
    }
    const char *phone = s_field(d, F_PHONE);
    size_t pl = strlen(phone);
    for (size_t i = 0; i + 3 <= pl; i++)
        fn(ud, D_PHONE, phone + i, 3);
    static const int lists[][2] = {{F_GROUPS, D_GROUP}, {F_TAGS, D_TAG}};
    for (size_t i = 0; i < 2; i++) {
        const char *s = s_field(d, lists[i][0]);
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
    s_post_add(c->t, d, s_tok_get(c->t, d, s, len), c->doc);
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
    struct tok *k = s_tok_find(&c->t->dicts[dict], buf);
    if (k)
        s_post_remove(c->t, &c->t->dicts[dict], k, c->doc);
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

/* The count of docs with a word starting with prefix w (strlen wl), when
 * the table holds it: 1..PREFIX_CHARS characters in at most PREFIX_BYTES
 * bytes. Returns false otherwise. */
/* Whether w (strlen wl) is a prefix the table keeps: 1..PREFIX_CHARS
 * characters in at most PREFIX_BYTES bytes. */
static bool s_prefix_kept(const char *w, size_t wl)
{
    size_t chars = 0;
    for (size_t i = 0; i < wl; i++)
        chars += ((unsigned char)w[i] & 0xC0) != 0x80;
    return wl && wl <= PREFIX_BYTES && chars <= PREFIX_CHARS;
}

static bool s_pcount_get(const struct tenant *t, const char *w, size_t wl, size_t *n)
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
         * no longer trusted (s_tier_count counts again). */
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
     * "ko", which s_match finds. */
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

/* Gives e a bitmap of the docs with a word starting with it (below, with
 * the query code whose range walk it uses). */
static void s_bm_make(struct tenant *t, struct pcount *e);

/* After doc numbers changed (a bulk load): every bitmap made again. */
static void s_bm_rebuild(struct tenant *t)
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
static const uint64_t *s_bm_get(const struct tenant *t, const char *w, size_t wl)
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

/* Drops a live doc's data and postings. */
static void s_order_remove(struct tenant *t, uint32_t doc);

/* Drops a live doc's data and postings; with keep_order its place in the
 * name order and its label stay (its names are not changing). */
static void s_unindex(struct tenant *t, uint32_t doc, bool keep_order)
{
    struct doc *d = &t->docs[doc];
    if (!d->data)
        return;
    struct s_tok_ctx c = {t, doc, {0}};
    s_doc_tokens(d, s_on_remove, &c); /* by the label it was added with */
    s_prefix_update(t, doc, -1);
    if (!keep_order) {
        if (!t->bulk)
            s_order_remove(t, doc);
        t->label[doc] = 0;
    }
    t->data_bytes -= d->packed_len + T_N * TIME_KEY + (size_t)d->f[F_N - 2] + 64;
    free(d->data);
    d->data = NULL;
    d->flags = 0;
    t->live--;
}

/* The first 8 bytes of "last NUL first" (zero-padded), big-endian: integer
 * order is the (strcmp last, strcmp first) order as far as those bytes go,
 * so unequal keys decide, and equal keys leave it to the strings. */
static uint64_t s_key(const char *last, const char *first)
{
    uint64_t k = 0;
    int n = 0;
    for (const char *s = last; *s && n < 8; s++, n++)
        k = k << 8 | (unsigned char)*s;
    if (n < 8) {
        k <<= 8; /* the NUL ending last */
        n++;
    }
    for (const char *s = first; *s && n < 8; s++, n++)
        k = k << 8 | (unsigned char)*s;
    return n < 8 ? k << 8 * (8 - n) : k;
}

/* The name a customer is ordered by: its last name, or for a company
 * without one the company name. */
static const char *s_sort_last(const struct doc *d)
{
    const char *last = s_field(d, F_LAST);
    return !last[0] && (d->flags & DOC_COMPANY) ? s_field(d, F_COMPANY) : last;
}

/* ---------------------------------------------------------------------- */
/* Name order                                                              */

/* Where live doc a stands against the name (last, first, id): <0, 0, >0. */
static int s_name_cmp(const struct tenant *t, uint32_t a, const char *last, const char *first,
                      const uint8_t id[16])
{
    const struct doc *d = &t->docs[a];
    int c = strcmp(s_sort_last(d), last);
    if (!c)
        c = strcmp(s_field(d, F_FIRST), first);
    if (!c)
        c = memcmp(d->id, id, 16);
    return c;
}

/* Whether doc comes before the place a search of the name order looks for. */
typedef bool (*s_before_fn)(const struct tenant *t, uint32_t doc, const void *key);

/* The first place in the name order whose doc is not before key. */
static struct opos s_order_search(const struct tenant *t, s_before_fn before, const void *key)
{
    uint32_t lo = 0, hi = t->n_blocks;
    while (lo < hi) { /* the first block whose last doc is not before it */
        uint32_t mid = lo + (hi - lo) / 2;
        const struct order_block *blk = t->by_name[mid];
        if (before(t, blk->doc[blk->n - 1], key))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->n_blocks)
        return (struct opos){t->n_blocks, 0};
    const struct order_block *blk = t->by_name[lo];
    uint32_t l = 0, h = blk->n - 1; /* the last one is not before it */
    while (l < h) {
        uint32_t mid = l + (h - l) / 2;
        if (before(t, blk->doc[mid], key))
            l = mid + 1;
        else
            h = mid;
    }
    return (struct opos){lo, l};
}

struct name_key {
    const char *last, *first;
    const uint8_t *id;
    bool strict;
};

static bool s_before_name(const struct tenant *t, uint32_t doc, const void *key)
{
    const struct name_key *k = key;
    int c = s_name_cmp(t, doc, k->last, k->first, k->id);
    return c < 0 || (k->strict && c == 0);
}

/* The first place in the name order whose doc is after the name (strict)
 * or not before it. */
static struct opos s_order_find(const struct tenant *t, const char *last, const char *first,
                                const uint8_t id[16], bool strict)
{
    struct name_key k = {last, first, id, strict};
    return s_order_search(t, s_before_name, &k);
}

static bool s_before_label(const struct tenant *t, uint32_t doc, const void *key)
{
    return t->label[doc] < *(const uint64_t *)key;
}

/* The first place in the name order whose label is at least lab. */
static struct opos s_order_at_label(const struct tenant *t, uint64_t lab)
{
    return s_order_search(t, s_before_label, &lab);
}

/* The label of the doc before p, or 0 at the start. */
static uint64_t s_label_before(const struct tenant *t, struct opos p)
{
    if (p.i > 0)
        return t->label[t->by_name[p.b]->doc[p.i - 1]];
    if (p.b > 0) {
        const struct order_block *blk = t->by_name[p.b - 1];
        return t->label[blk->doc[blk->n - 1]];
    }
    return 0;
}

/* The label of the doc at p, or UINT64_MAX at the end. */
static uint64_t s_label_at(const struct tenant *t, struct opos p)
{
    if (p.b < t->n_blocks && p.i < t->by_name[p.b]->n)
        return t->label[t->by_name[p.b]->doc[p.i]];
    if (p.b + 1 < t->n_blocks)
        return t->label[t->by_name[p.b + 1]->doc[0]];
    return UINT64_MAX;
}

/* Makes room for a block at index b. */
static void s_block_insert(struct tenant *t, uint32_t b, struct order_block *blk)
{
    if (t->n_blocks == t->cap_blocks) {
        t->cap_blocks = t->cap_blocks ? t->cap_blocks * 2 : 16;
        t->by_name = cm_realloc(t->by_name, t->cap_blocks * sizeof *t->by_name);
    }
    memmove(&t->by_name[b + 1], &t->by_name[b], (t->n_blocks - b) * sizeof *t->by_name);
    t->by_name[b] = blk;
    t->n_blocks++;
}

/* Labels every live doc afresh, in name order, and the first-posting
 * labels of the ordered dictionaries with them. */
static void s_relabel(struct tenant *t)
{
    uint64_t next = LABEL_STEP;
    for (uint32_t b = 0; b < t->n_blocks; b++)
        for (uint32_t i = 0; i < t->by_name[b]->n; i++, next += LABEL_STEP)
            t->label[t->by_name[b]->doc[i]] = next;
    for (int k = 0; k < D_N; k++) {
        struct dict *d = &t->dicts[k];
        struct tok *arrays[2] = {d->main, d->recent};
        size_t counts[2] = {d->n_main, d->n_recent};
        for (int a = 0; d->ordered && a < 2; a++)
            for (size_t j = 0; j < counts[a]; j++)
                arrays[a][j].first = arrays[a][j].n ? t->label[s_post(&arrays[a][j])[0]] : 0;
    }
}

/* Puts a live doc in name order and gives it a label between its
 * neighbours'. */
static void s_order_insert(struct tenant *t, uint32_t doc)
{
    const struct doc *d = &t->docs[doc];
    struct opos p = s_order_find(t, s_sort_last(d), s_field(d, F_FIRST), d->id, false);
    if (p.b == t->n_blocks && p.b > 0) /* the end: after the last block's last doc */
        p = (struct opos){p.b - 1, t->by_name[p.b - 1]->n};
    if (p.b == t->n_blocks) {
        s_block_insert(t, p.b, cm_calloc(1, sizeof(struct order_block)));
    } else if (t->by_name[p.b]->n == ORDER_BLOCK) { /* split in halves */
        struct order_block *blk = t->by_name[p.b], *tail = cm_malloc(sizeof *tail);
        tail->n = ORDER_BLOCK / 2;
        memcpy(tail->doc, blk->doc + ORDER_BLOCK / 2, ORDER_BLOCK / 2 * sizeof *blk->doc);
        blk->n = ORDER_BLOCK / 2;
        s_block_insert(t, p.b + 1, tail);
        if (p.i > ORDER_BLOCK / 2)
            p = (struct opos){p.b + 1, p.i - ORDER_BLOCK / 2};
    }
    struct order_block *blk = t->by_name[p.b];
    memmove(&blk->doc[p.i + 1], &blk->doc[p.i], (blk->n - p.i) * sizeof *blk->doc);
    blk->doc[p.i] = doc;
    blk->n++;
    uint64_t prev = s_label_before(t, p);
    uint64_t next = s_label_at(t, (struct opos){p.b, p.i + 1});
    if (next == UINT64_MAX)
        next = prev + 2 * LABEL_STEP;
    if (next - prev >= 2)
        t->label[doc] = prev + (next - prev) / 2;
    else
        s_relabel(t);
}

static void s_order_remove(struct tenant *t, uint32_t doc)
{
    const struct doc *d = &t->docs[doc];
    struct opos p = s_order_find(t, s_sort_last(d), s_field(d, F_FIRST), d->id, false);
    if (p.b == t->n_blocks || t->by_name[p.b]->doc[p.i] != doc)
        return;
    struct order_block *blk = t->by_name[p.b];
    memmove(&blk->doc[p.i], &blk->doc[p.i + 1], (blk->n - p.i - 1) * sizeof *blk->doc);
    if (--blk->n == 0) {
        free(blk);
        memmove(&t->by_name[p.b], &t->by_name[p.b + 1],
                (t->n_blocks - p.b - 1) * sizeof *t->by_name);
        t->n_blocks--;
    }
}

static const struct tenant *s_sort_tenant; // s_renumber's qsort
struct s_named {
    uint64_t key;
    uint32_t doc;
};
static int s_named_cmp(const void *a, const void *b)
{
    const struct s_named *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    const struct doc *d = &s_sort_tenant->docs[y->doc];
    return s_name_cmp(s_sort_tenant, x->doc, s_sort_last(d), s_field(d, F_FIRST), d->id);
}

static int s_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* After a bulk load: numbers the live docs in name order (then the deleted
 * ones), so doc number order is label order and postings in label order
 * are read front to back; rebuilds by_name, labels, the id hash, and puts
 * every ordered posting list in order. Dictionaries must be merged. */
static void s_renumber(struct tenant *t)
{
    uint32_t n = t->n_docs, live = 0;
    struct s_named *named = cm_malloc((n + 1) * sizeof *named);
    for (uint32_t i = 0; i < n; i++) {
        const struct doc *d = &t->docs[i];
        if (d->data)
            named[live++] = (struct s_named){s_key(s_sort_last(d), s_field(d, F_FIRST)), i};
    }
    s_sort_tenant = t;
    qsort(named, live, sizeof *named, s_named_cmp);
    uint32_t *perm = cm_malloc((n + 1) * sizeof *perm);
    struct doc *docs = cm_malloc((t->cap_docs ? t->cap_docs : 1) * sizeof *docs);
    for (uint32_t i = 0; i < live; i++) {
        perm[named[i].doc] = i;
        docs[i] = t->docs[named[i].doc];
    }
    uint32_t o = live;
    for (uint32_t i = 0; i < n; i++) {
        if (!t->docs[i].data) {
            perm[i] = o;
            docs[o++] = t->docs[i];
        }
    }
    free(named);
    free(t->docs);
    t->docs = docs;
    /* Blocks three-quarters full: room for changes before the first splits. */
    for (uint32_t b = 0; b < t->n_blocks; b++)
        free(t->by_name[b]);
    t->n_blocks = 0;
    for (uint32_t i = 0; i < live;) {
        struct order_block *blk = cm_malloc(sizeof *blk);
        blk->n = live - i < ORDER_BLOCK * 3 / 4 ? live - i : ORDER_BLOCK * 3 / 4;
        for (uint32_t j = 0; j < blk->n; j++)
            blk->doc[j] = i++;
        s_block_insert(t, t->n_blocks, blk);
    }
    memset(t->label, 0, t->cap_docs * sizeof *t->label);
    memset(t->stamp, 0, t->cap_docs * sizeof *t->stamp);
    t->gen = 0;
    memset(t->slots, 0, t->n_slots * sizeof *t->slots);
    for (uint32_t i = 0; i < n; i++)
        s_slot_put(t, i);
    for (int k = 0; k < D_N; k++) {
        struct dict *d = &t->dicts[k];
        for (size_t j = 0; j < d->n_main; j++) {
            struct tok *tk = &d->main[j];
            uint32_t *p = s_post_mut(tk);
            for (uint32_t i = 0; i < tk->n; i++)
                p[i] = perm[p[i]];
            if (d->ordered && tk->n > 1)
                qsort(p, tk->n, sizeof *p, s_u32_cmp);
            if (tk->cap > tk->n + tk->n / 8 + 4) { /* loaded: growth room is waste */
                tk->cap = tk->n > 4 ? tk->n : 4;
                tk->p.many = cm_realloc(tk->p.many, tk->cap * sizeof *tk->p.many);
            }
        }
    }
    s_relabel(t);
    free(perm);
    s_bm_rebuild(t);
}

/* ---------------------------------------------------------------------- */
/* Putting and deleting customers                                          */

/* Appends s and a NUL to buf at *len (capped at cap). */
static void s_put_field(char *buf, size_t cap, size_t *len, uint16_t *off, const char *s)
{
    *off = (uint16_t)*len;
    size_t n = strlen(s);
    if (*len + n + 1 > cap)
        n = *len + 1 < cap ? cap - *len - 1 : 0;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[(*len)++] = '\0';
}

/* Joins folded (fold=true) or raw strings with 0x1f. */
static char *s_join(char **items, size_t n, bool fold)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(items[i]) * 4 + 1;
    char *out = cm_malloc(total), *o = out;
    for (size_t i = 0; i < n; i++) {
        char *f = fold ? search_fold(items[i]) : cm_strdup(items[i]);
        size_t fl = strlen(f);
        if (fl > strlen(items[i]) * 4)
            fl = strlen(items[i]) * 4;
        if (i)
            *o++ = '\x1f';
        memcpy(o, f, fl);
        o += fl;
        free(f);
    }
    *o = '\0';
    return out;
}

#define BLOB_MAX 65000

int search_index_put(search_index_t *self, const char *tenant, const Crm__Customer *c)
{
    uint8_t id[16];
    long version;
    if (s_uuid_parse(c->id, id) || cm_parse_long(c->etag, 1, UINT32_MAX - 1, &version))
        return -1;
    struct tenant *t = s_tenant(self, tenant, true);
    if (!t)
        return -1;
    uint32_t doc = s_find(t, id);
    if (doc != UINT32_MAX && t->docs[doc].version >= (uint32_t)version)
        return 0; /* stale, the same, or deleted */
    if (doc == UINT32_MAX)
        doc = s_doc_new(t, id);

    /* The folded fields. */
    char *blob = cm_malloc(BLOB_MAX + 1);
    size_t blen = 0;
    uint16_t f[F_N];
    char words[1024];
    search_fold_words(c->first_name, words, sizeof words);
    s_put_field(blob, BLOB_MAX, &blen, &f[F_FIRST], words);
    search_fold_words(c->last_name, words, sizeof words);
    s_put_field(blob, BLOB_MAX, &blen, &f[F_LAST], words);
    search_fold_words(c->company ? c->company->name : "", words, sizeof words);
    s_put_field(blob, BLOB_MAX, &blen, &f[F_COMPANY], words);
    char *email = search_fold(c->email);
    s_put_field(blob, BLOB_MAX, &blen, &f[F_EMAIL], email);
    free(email);
    char digits[64];
    search_digits(c->phone, digits, sizeof digits);
    s_put_field(blob, BLOB_MAX, &blen, &f[F_PHONE], digits);
    char *groups = s_join(c->groups, c->n_groups, true);
    s_put_field(blob, BLOB_MAX, &blen, &f[F_GROUPS], groups);
    free(groups);
    char *tags = s_join(c->tags, c->n_tags, false);
    s_put_field(blob, BLOB_MAX, &blen, &f[F_TAGS], tags);
    free(tags);

    /* A change that keeps the names keeps the customer's place in the name
     * order (moving it costs a memmove of the order array). */
    struct doc *d = &t->docs[doc];
    bool keep = false;
    if (d->data && !t->bulk) {
        const char *last = blob + f[F_LAST];
        if (!last[0] && c->is_company)
            last = blob + f[F_COMPANY];
        keep = !strcmp(s_sort_last(d), last) && !strcmp(s_field(d, F_FIRST), blob + f[F_FIRST]);
    }
    s_unindex(t, doc, keep);

    /* The customer as the list shows it, packed without its id and etag
     * (the record holds both; they are put back when it is shown). */
    Crm__Customer bare = *c;
    bare.id = (char *)"";
    bare.etag = (char *)"";
    size_t plen = protobuf_c_message_get_packed_size(&bare.base);
    d->data = cm_malloc(plen + T_N * TIME_KEY + blen);
    protobuf_c_message_pack(&bare.base, d->data);
    s_time_key(c->created_at, d->data + plen + T_CREATED * TIME_KEY);
    s_time_key(c->updated_at, d->data + plen + T_UPDATED * TIME_KEY);
    memcpy(d->data + plen + T_N * TIME_KEY, blob, blen);
    free(blob);
    d->packed_len = (uint32_t)plen;
    memcpy(d->f, f + 1, sizeof d->f); /* f[F_FIRST] is 0 */
    d->version = (uint32_t)version;
    d->flags =
        DOC_LIVE | (c->is_company ? DOC_COMPANY : 0) |
        (c->account && c->account->status != CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_NONE ? DOC_ACCOUNT
                                                                                      : 0);
    d->status = (uint8_t)(c->account ? c->account->status : 0);
    if (!t->bulk && !keep)
        s_order_insert(t, doc);
    t->live++;
    t->data_bytes += plen + T_N * TIME_KEY + f[F_N - 1] + 64;
    struct s_tok_ctx ctx = {t, doc, {0}};
    s_doc_tokens(d, s_on_add, &ctx);
    s_prefix_update(t, doc, 1);
    for (int k = 0; k < D_N; k++)
        if (ctx.n[k] > t->dicts[k].most)
            t->dicts[k].most = ctx.n[k];
    return 1;
}

int search_index_delete(search_index_t *self, const char *tenant, const char *id)
{
    uint8_t bin[16];
    if (s_uuid_parse(id, bin))
        return 0;
    struct tenant *t = s_tenant(self, tenant, true);
    if (!t)
        return 0;
    uint32_t doc = s_find(t, bin);
    if (doc == UINT32_MAX)
        doc = s_doc_new(t, bin);
    bool held = t->docs[doc].data != NULL;
    s_unindex(t, doc, false);
    t->docs[doc].version = UINT32_MAX;
    return held;
}

long search_index_version(search_index_t *self, const char *tenant, const char *id)
{
    uint8_t bin[16];
    struct tenant *t = s_tenant(self, tenant, false);
    if (!t || s_uuid_parse(id, bin))
        return 0;
    uint32_t doc = s_find(t, bin);
    if (doc == UINT32_MAX)
        return 0;
    return t->docs[doc].version == UINT32_MAX ? -1 : (long)t->docs[doc].version;
}

size_t search_index_count(const search_index_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_tenants; i++)
        n += self->tenants[i]->live;
    return n;
}

size_t search_index_stats(search_index_t *self, search_index_stats_fn fn, void *ud)
{
    size_t total = 0;
    for (size_t i = 0; i < self->n_tenants; i++) {
        struct tenant *t = self->tenants[i];
        size_t bytes =
            t->data_bytes +
            (size_t)t->cap_docs * (sizeof *t->docs + sizeof *t->stamp + sizeof *t->label) +
            2 * ((size_t)t->cap_docs / 64 + 1) * sizeof *t->bits +
            (size_t)t->cap_blocks * sizeof *t->by_name +
            (size_t)t->n_blocks * sizeof(struct order_block) + (size_t)t->n_slots * 4 +
            (size_t)t->cap_pcounts * sizeof *t->pcounts +
            (size_t)t->n_bms * (t->cap_docs / 64 + 1) * sizeof(uint64_t);
        for (int k = 0; k < D_N; k++) {
            const struct dict *d = &t->dicts[k];
            bytes += (d->n_main + RECENT_MAX) * sizeof(struct tok);
            for (size_t j = 0; j < d->n_main; j++)
                bytes += (size_t)d->main[j].cap * 4;
            for (size_t j = 0; j < d->n_recent; j++)
                bytes += (size_t)d->recent[j].cap * 4;
        }
        for (const struct chunk *c = t->arena; c; c = c->next)
            bytes += sizeof *c + c->size;
        if (fn)
            fn(ud, t->id, t->live, bytes);
        total += bytes;
    }
    return total;
}

/* ---------------------------------------------------------------------- */
/* The query                                                               */

enum { O_RELEVANCE, O_LAST, O_FIRST, O_CREATED, O_EMAIL, O_UPDATED };
static const char s_order_letter[] = "rlfceu";

struct word {
    const char *raw;   // borrowed (the request's q, copied)
    char folded[1024]; // folded whole, punctuation kept (e-mail matching)
    char parts[1024];  // folded words, space separated (name matching)
    char first_part[256];
    char gen_part[256]; // the part with the fewest name postings (s_word_gen)
};

struct term {
    int w0, w1;      // words [w0, w1)
    bool numeric;    // a run of numeric words: also a phone number
    char digits[64]; // normalized digits (numeric, 3 or more)
};

struct query {
    struct word words[SEARCH_Q_MAX_WORDS];
    int n_words;
    struct term terms[SEARCH_Q_MAX_WORDS];
    int n_terms;
    char exact[1024]; // every word's parts, space separated
    int order;
    bool desc;
    char group[1024]; // folded; "" when absent
    const char *tag;  // "" when absent
    int is_company, has_account, status;
};

/* True when some space-separated word of field starts with p (len plen). */
static bool s_field_has_prefix(const char *field, const char *p, size_t plen)
{
    const char *s = field;
    while (*s) {
        if (!strncmp(s, p, plen))
            return true;
        const char *e = strchr(s, ' ');
        if (!e)
            return false;
        s = e + 1;
    }
    return false;
}

static bool s_email_has_prefix(const char *email, const char *p, size_t plen)
{
    if (!*email || !plen)
        return false;
    if (!strncmp(email, p, plen))
        return true;
    const char *at = strchr(email, '@');
    for (const char *q = email; at && q < at; q++)
        if (s_email_sep(*q) && !strncmp(q + 1, p, plen))
            return true;
    return false;
}

/* How well a word matches a doc: 1 last name, 2 first name, 3 company, 4
 * e-mail; 0 not at all. Every part of the word must start a word of the
 * names (any of them), and the first part decides the field. */
static int s_word_tier(const struct doc *d, const struct word *w)
{
    const char *fields[3] = {s_field(d, F_LAST), s_field(d, F_FIRST), s_field(d, F_COMPANY)};
    int tier = 0;
    size_t fl = strlen(w->first_part);
    for (int i = 0; i < 3 && fl; i++) {
        if (s_field_has_prefix(fields[i], w->first_part, fl)) {
            tier = i + 1;
            break;
        }
    }
    if (tier) {
        /* The other parts ("jan-kow") may be anywhere in the names. */
        const char *s = w->parts + fl;
        while (*s == ' ')
            s++;
        while (*s) {
            const char *e = strchr(s, ' ');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            if (!s_field_has_prefix(fields[0], s, len) && !s_field_has_prefix(fields[1], s, len) &&
                !s_field_has_prefix(fields[2], s, len)) {
                tier = 0;
                break;
            }
            s += len;
            while (*s == ' ')
                s++;
        }
    }
    if (!tier && s_email_has_prefix(s_field(d, F_EMAIL), w->folded, strlen(w->folded)))
        tier = 4;
    return tier;
}

/* The phone digits match: anywhere in the number's digits. */
static bool s_phone_match(const struct doc *d, const char *digits)
{
    return digits[0] && strstr(s_field(d, F_PHONE), digits) != NULL;
}

/* 0: no match; else the doc's tier (0 is reserved for "no match", so the
 * exact match is 1 here and every field one more than s_word_tier's:
 * TIER_PHONE for the phone). */
#define TIER_PHONE 6
static int s_match(const struct doc *d, const struct query *q)
{
    int best = 99;
    for (int i = 0; i < q->n_terms; i++) {
        const struct term *t = &q->terms[i];
        int tier = 99;
        bool all = true;
        for (int w = t->w0; w < t->w1; w++) {
            int wt = s_word_tier(d, &q->words[w]);
            if (!wt) {
                all = false;
                break;
            }
            if (wt < tier)
                tier = wt;
        }
        if (!all)
            tier = 99;
        if (t->numeric && tier == 99 && s_phone_match(d, t->digits))
            tier = TIER_PHONE - 1;
        if (tier == 99)
            return 0;
        if (tier < best)
            best = tier;
    }
    /* The exact name: every word, in order, is the whole first or last name,
     * company, or first and last name together (either way round). */
    const char *first = s_field(d, F_FIRST), *last = s_field(d, F_LAST);
    size_t fl = strlen(first), ll = strlen(last), el = strlen(q->exact);
    if (el && (!strcmp(q->exact, first) || !strcmp(q->exact, last) ||
               !strcmp(q->exact, s_field(d, F_COMPANY)) ||
               (el == fl + 1 + ll && fl && ll &&
                ((!strncmp(q->exact, first, fl) && q->exact[fl] == ' ' &&
                  !strcmp(q->exact + fl + 1, last)) ||
                 (!strncmp(q->exact, last, ll) && q->exact[ll] == ' ' &&
                  !strcmp(q->exact + ll + 1, first))))))
        return 1;
    return best + 1;
}

/* Filters as ListCustomers has them. */
static bool s_filters(const struct doc *d, const struct query *q)
{
    if (q->is_company >= 0 && !!(d->flags & DOC_COMPANY) != q->is_company)
        return false;
    if (q->has_account >= 0 && !!(d->flags & DOC_ACCOUNT) != q->has_account)
        return false;
    if (q->status > 0 && d->status != q->status)
        return false;
    static const int lists[2] = {F_GROUPS, F_TAGS};
    for (size_t i = 0; i < 2; i++) {
        const char *want = i == 0 ? q->group : q->tag;
        if (!want[0])
            continue;
        size_t wl = strlen(want);
        const char *s = s_field(d, lists[i]);
        bool found = false;
        while (*s && !found) {
            const char *e = strchr(s, '\x1f');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            found = len == wl && !memcmp(s, want, wl);
            s += e ? len + 1 : len;
        }
        if (!found)
            return false;
    }
    return true;
}

/* ---- ordering ---- */

/* A match: its tier (relevance) and the doc, whose label gives the name
 * order. */
struct hit {
    int tier;
    uint32_t doc;
    uint64_t label;
};

/* Where the previous page ended (from its token): the last customer shown,
 * and for the name orders the labels around that place now: the greatest
 * before it and the least after it (the customer may have changed since). */
struct after {
    int tier;
    const char *last, *first; // borrowed (the decoded token)
    const char *key_text;     // borrowed: the order's own key (e-mail; time in hex)
    uint8_t time[TIME_KEY];   // createdAt, updatedAt orders: key_text decoded
    uint8_t id[16];
    uint64_t lo, hi;
};

/* <0 when a comes first in the order asked for (a and b distinct docs). */
static int s_cmp(const struct tenant *t, const struct hit *a, const struct hit *b, int order,
                 bool desc)
{
    int c = 0;
    if (order == O_RELEVANCE || order == O_LAST) {
        if (order == O_RELEVANCE)
            c = a->tier - b->tier;
        if (!c)
            c = a->label < b->label ? -1 : a->label > b->label;
        return desc ? -c : c;
    }
    const struct doc *x = &t->docs[a->doc], *y = &t->docs[b->doc];
    if (order == O_FIRST) {
        c = strcmp(s_field(x, F_FIRST), s_field(y, F_FIRST));
        if (!c)
            c = strcmp(s_sort_last(x), s_sort_last(y));
    } else if (order == O_EMAIL) {
        c = strcmp(s_field(x, F_EMAIL), s_field(y, F_EMAIL));
    } else {
        int w = order == O_CREATED ? T_CREATED : T_UPDATED;
        c = memcmp(s_time(x, w), s_time(y, w), TIME_KEY);
    }
    if (!c)
        c = memcmp(x->id, y->id, 16);
    return desc ? -c : c;
}

/* True when the hit comes after the previous page's end. */
static bool s_after_ok(const struct tenant *t, const struct hit *h, const struct after *af,
                       int order, bool desc)
{
    if (order == O_RELEVANCE && h->tier != af->tier)
        return desc ? h->tier < af->tier : h->tier > af->tier;
    if (order == O_RELEVANCE || order == O_LAST)
        return desc ? h->label <= af->lo : h->label >= af->hi;
    const struct doc *d = &t->docs[h->doc];
    int c;
    if (order == O_FIRST) {
        c = strcmp(s_field(d, F_FIRST), af->first);
        if (!c)
            c = strcmp(s_sort_last(d), af->last);
    } else if (order == O_EMAIL) {
        c = strcmp(s_field(d, F_EMAIL), af->key_text);
    } else {
        c = memcmp(s_time(d, order == O_CREATED ? T_CREATED : T_UPDATED), af->time, TIME_KEY);
    }
    if (!c)
        c = memcmp(d->id, af->id, 16);
    return desc ? c < 0 : c > 0;
}

/* Fills af->lo and af->hi from the name order as it is now. */
static void s_after_bounds(const struct tenant *t, struct after *af)
{
    af->hi = s_label_at(t, s_order_find(t, af->last, af->first, af->id, true));
    af->lo = s_label_before(t, s_order_find(t, af->last, af->first, af->id, false));
}

/* ---- candidates ---- */

struct s_cands {
    struct tenant *t;
    uint32_t *docs; // owned (the index keeps it from query to query)
    size_t n, cap;
    uint64_t *need; // borrowed: when not NULL, only docs with their bit set here
    uint64_t *mark; // borrowed: the bits being set (s_mark_range) or the docs taken
    const uint64_t *also[SEARCH_Q_MAX_WORDS]; // borrowed: prefix bitmaps a doc needs too
    int n_also;
    const char *check; // borrowed: when set, a doc not yet taken needs an e-mail
                       // starting with it (s_gen_each)
    size_t check_len;
};

static bool s_bit(const uint64_t *bits, uint32_t doc)
{
    return bits[doc >> 6] >> (doc & 63) & 1;
}

static void s_collect_range(void *ud, const struct tok *k)
{
    struct s_cands *c = ud;
    const uint32_t *p = s_post(k);
    /* Room for every posting first: the loop then only reads and writes. */
    if (c->cap - c->n < k->n) {
        while (c->cap - c->n < k->n)
            c->cap = c->cap ? c->cap * 2 : 1024;
        c->docs = cm_realloc(c->docs, c->cap * sizeof *c->docs);
    }
    /* Taken once: a doc needed loses its bit when taken, else it gets one. */
    uint64_t *bits = c->need ? c->need : c->mark;
    const uint64_t want = c->need != NULL;
    const uint64_t *const *also = c->also;
    const int n_also = c->n_also;
    uint32_t *out = c->docs;
    size_t n = c->n;
    const char *check = c->check;
    for (uint32_t i = 0, m = k->n; i < m; i++) {
        uint32_t doc = p[i];
        int a = 0;
        while (a < n_also && s_bit(also[a], doc))
            a++;
        if (a < n_also || (bits[doc >> 6] >> (doc & 63) & 1) != want)
            continue;
        if (check && !s_email_has_prefix(s_field(&c->t->docs[doc], F_EMAIL), check, c->check_len))
            continue;
        bits[doc >> 6] ^= (uint64_t)1 << (doc & 63);
        out[n++] = doc;
    }
    c->n = n;
}

/* Sets the bits in mark of the docs of a range that have theirs in need
 * (all when need is NULL), so one pass per word leaves the docs every word
 * reached. */
static void s_mark_range(void *ud, const struct tok *k)
{
    const struct s_cands *c = ud;
    const uint32_t *p = s_post(k);
    const uint64_t *need = c->need;
    uint64_t *mark = c->mark;
    if (!need) {
        for (uint32_t i = 0, n = k->n; i < n; i++)
            mark[p[i] >> 6] |= (uint64_t)1 << (p[i] & 63);
        return;
    }
    for (uint32_t i = 0, n = k->n; i < n; i++)
        if (s_bit(need, p[i]))
            mark[p[i] >> 6] |= (uint64_t)1 << (p[i] & 63);
}

/* A generator: the postings a match must come from, for one term or filter. */
struct gen {
    const char *prefixes[4]; // prefix per name/e-mail dict (NULL: skip)
    const struct tok *exact; // a single posting (filter, phone trigram), or NULL
    bool none;               // nothing can match
    bool spanned;            // sp holds the ranges of the prefixes (looked up once)
    struct span sp[4];
};

static const int s_gen_dicts[4] = {D_LAST, D_FIRST, D_COMPANY, D_EMAIL};

/* Looks the prefixes' ranges up, once per generator: a query asks for the
 * same ranges to cost, mark and collect them. */
static void s_gen_spans(const struct tenant *t, struct gen *g)
{
    if (g->spanned)
        return;
    for (int i = 0; i < 4; i++)
        if (g->prefixes[i])
            g->sp[i] = s_span(&t->dicts[s_gen_dicts[i]], g->prefixes[i]);
    g->spanned = true;
}

/* Calls fn for each token of g's ranges that has postings. */
static void s_gen_tokens(const struct tenant *t, struct gen *g, s_range_fn fn, void *ud)
{
    s_gen_spans(t, g);
    for (int i = 0; i < 4; i++) {
        if (!g->prefixes[i])
            continue;
        const struct span *sp = &g->sp[i];
        for (int a = 0; a < 2; a++)
            for (size_t j = 0; j < sp->n[a]; j++)
                if (sp->tok[a][j].n && s_in(sp, &sp->tok[a][j]))
                    fn(ud, &sp->tok[a][j]);
    }
}

/* s_gen_tokens with the e-mail range last, and when check is set (a plain
 * word longer than the cut e-mail tokens, whose e-mail range holds
 * candidates, not matches) with c->check set for it: a doc that only that
 * range gives is checked against its record (s_collect_range), so every
 * doc collected is a match of the word. */
static void s_gen_each(const struct tenant *t, struct gen *g, s_range_fn fn, struct s_cands *c,
                       const char *check)
{
    if (!check || !g->prefixes[3]) {
        s_gen_tokens(t, g, fn, c);
        return;
    }
    s_gen_spans(t, g);
    struct gen part = *g;
    part.prefixes[3] = NULL;
    s_gen_tokens(t, &part, fn, c);
    part = *g;
    part.prefixes[0] = part.prefixes[1] = part.prefixes[2] = NULL;
    c->check = check;
    c->check_len = strlen(check);
    s_gen_tokens(t, &part, fn, c);
    c->check = NULL;
}

static size_t s_gen_cost(const struct tenant *t, struct gen *g, size_t cap)
{
    if (g->none)
        return 0;
    size_t cost = g->exact ? g->exact->n : 0;
    s_gen_spans(t, g);
    for (int i = 0; i < 4 && cost <= cap; i++) {
        if (!g->prefixes[i])
            continue;
        const struct span *sp = &g->sp[i];
        for (int a = 0; a < 2 && cost <= cap; a++)
            for (size_t j = 0; j < sp->n[a] && cost <= cap; j++)
                if (s_in(sp, &sp->tok[a][j]))
                    cost += sp->tok[a][j].n;
    }
    return cost;
}

/* The candidates a word can match from: in the name dictionaries, the docs
 * of its part with the fewest postings (a name match needs every part to
 * start a name word), and in the e-mail dictionary the docs of the whole
 * folded word (an e-mail match needs that prefix). For "a.kowal" that is
 * "kowal" and "a.kowal", not everyone whose name starts with "a". */
static void s_word_gen(const struct tenant *t, struct word *w, struct gen *gn)
{
    if (!w->gen_part[0] && !strcmp(w->parts, w->first_part)) {
        /* One part: nothing to choose. */
        memcpy(w->gen_part, w->first_part, strlen(w->first_part) + 1);
    } else if (!w->gen_part[0]) {
        size_t best = SIZE_MAX;
        const char *s = w->parts;
        while (*s) {
            const char *e = strchr(s, ' ');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            char part[256];
            if (len >= sizeof part)
                len = sizeof part - 1;
            memcpy(part, s, len);
            part[len] = '\0';
            struct gen g = {.prefixes = {part, part, part, NULL}};
            size_t cost = s_gen_cost(t, &g, best);
            if (len && cost < best) {
                best = cost;
                memcpy(w->gen_part, part, len + 1);
            }
            s += len;
            while (*s == ' ')
                s++;
        }
        if (!w->gen_part[0])
            memcpy(w->gen_part, w->first_part, strlen(w->first_part) + 1);
    }
    for (int k = 0; k < 3; k++)
        gn->prefixes[k] = w->gen_part[0] ? w->gen_part : NULL;
    gn->prefixes[3] = w->folded[0] ? w->folded : NULL;
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
    struct s_cands m = {.t = t, .mark = cm_calloc(t->cap_docs / 64 + 1, sizeof(uint64_t))};
    s_gen_tokens(t, &g, s_mark_range, &m);
    t->bms = cm_realloc(t->bms, (t->n_bms + 1) * sizeof *t->bms);
    t->bms[t->n_bms++] = m.mark;
    e->bm = t->n_bms;
}

/* Collects g's candidates into c: its ranges', then those only its single
 * posting gives (from the returned index on), which must have their bit in
 * exact_also too, when that is given. */
static size_t s_gen_collect(struct tenant *t, struct gen *g, struct s_cands *c, const char *check,
                            const uint64_t *exact_also)
{
    if (g->none)
        return c->n;
    s_gen_each(t, g, s_collect_range, c, check);
    size_t ranges = c->n;
    if (g->exact) {
        if (exact_also)
            c->also[c->n_also++] = exact_also;
        s_collect_range(c, g->exact);
        if (exact_also)
            c->n_also--;
    }
    return ranges;
}

/* The smallest phone trigram posting of digits (NULL when one is missing:
 * then nothing matches by phone). */
static const struct tok *s_best_trigram(struct tenant *t, const char *digits, bool *none)
{
    const struct tok *best = NULL;
    size_t n = strlen(digits);
    *none = false;
    for (size_t i = 0; i + 3 <= n; i++) {
        char tri[4] = {digits[i], digits[i + 1], digits[i + 2], '\0'};
        const struct tok *k = s_tok_find(&t->dicts[D_PHONE], tri);
        if (!k || !k->n) {
            *none = true;
            return NULL;
        }
        if (!best || k->n < best->n)
            best = k;
    }
    return best;
}

/* A trigram of digits other than first (the rarest, s_best_trigram's),
 * that a doc reached through first must hold too to match by phone: the
 * rarest of those not overlapping first, else of the rest; NULL when the
 * digits have no other. */
static const struct tok *s_other_trigram(struct tenant *t, const char *digits,
                                         const struct tok *first)
{
    size_t n = strlen(digits), at = 0;
    const struct tok *ks[64];
    for (size_t i = 0; i + 3 <= n && i < 64; i++) {
        char tri[4] = {digits[i], digits[i + 1], digits[i + 2], '\0'};
        ks[i] = s_tok_find(&t->dicts[D_PHONE], tri);
        if (ks[i] == first)
            at = i;
    }
    const struct tok *best = NULL;
    bool apart = false;
    for (size_t i = 0; i + 3 <= n && i < 64; i++) {
        if (!ks[i] || ks[i] == first)
            continue;
        bool away = i + 3 <= at || at + 3 <= i;
        if (!best || (away && !apart) || (away == apart && ks[i]->n < best->n)) {
            best = ks[i];
            apart = away;
        }
    }
    return best;
}

/* ---- the request ---- */

static void s_problem(struct search_problem *p, const char *field, const char *reason,
                      const char *text)
{
    p->field = field;
    p->reason = reason;
    snprintf(p->text, sizeof p->text, "%s", text);
}

static size_t s_utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Normalises the digits of a phone query: a leading 00 (international
 * prefix) or a single leading 0 (trunk prefix) goes, when at least 3 digits
 * remain. Fewer cannot be a number dialled that way, so they are the digits of
 * a number's middle or end, as typed ("0063", "063" find ...460 063). */
static void s_phone_digits(const char *in, char *out, size_t size)
{
    const char *p = in;
    if (p[0] == '0' && p[1] == '0')
        p += 2;
    else if (p[0] == '0')
        p += 1;
    if (strlen(p) < 3)
        p = in;
    size_t n = strlen(p);
    if (n >= size)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

static int s_parse_order(const char *text, int *order, bool *desc)
{
    char name[32] = "", dir[8] = "";
    int n = sscanf(text, " %31s %7s", name, dir);
    *desc = false;
    if (n <= 0) {
        *order = O_RELEVANCE;
        return 0;
    }
    char extra[2];
    if (sscanf(text, " %*s %*s %1s", extra) == 1)
        return -1;
    for (char *p = dir; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (n == 2 && strcmp(dir, "asc") != 0 && strcmp(dir, "desc") != 0)
        return -1;
    *desc = n == 2 && !strcmp(dir, "desc");
    if (!strcmp(name, "relevance"))
        *order = O_RELEVANCE;
    else if (!strcmp(name, "lastName"))
        *order = O_LAST;
    else if (!strcmp(name, "firstName"))
        *order = O_FIRST;
    else if (!strcmp(name, "createdAt"))
        *order = O_CREATED;
    else if (!strcmp(name, "email"))
        *order = O_EMAIL;
    else if (!strcmp(name, "updatedAt"))
        *order = O_UPDATED;
    else
        return -1;
    return 0;
}

/* Splits q into words and terms. Returns 0, or -1 with *problem. */
static int s_parse_query(const char *qtext, char *copy, struct query *q,
                         struct search_problem *problem)
{
    if (!cm_utf8_valid(qtext, strlen(qtext), NULL)) {
        s_problem(problem, "q", "INVALID_FORMAT", "q must be UTF-8");
        return -1;
    }
    if (s_utf8_chars(qtext) > SEARCH_Q_MAX_CHARS) {
        s_problem(problem, "q", "TOO_LONG", "q must be at most 200 characters");
        return -1;
    }
    q->n_words = 0;
    char *s = copy;
    while (*s) {
        while (*s && isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        char *e = s;
        while (*e && !isspace((unsigned char)*e))
            e++;
        if (q->n_words == SEARCH_Q_MAX_WORDS) {
            s_problem(problem, "q", "TOO_MANY", "q must have at most 10 words");
            return -1;
        }
        bool end = !*e;
        *e = '\0';
        struct word *w = &q->words[q->n_words];
        w->raw = s;
        w->gen_part[0] = '\0';
        char *f = search_fold(s);
        snprintf(w->folded, sizeof w->folded, "%s", f);
        free(f);
        search_fold_words(s, w->parts, sizeof w->parts);
        size_t fp = strcspn(w->parts, " ");
        if (fp >= sizeof w->first_part)
            fp = sizeof w->first_part - 1;
        memcpy(w->first_part, w->parts, fp);
        w->first_part[fp] = '\0';
        /* A word of punctuation only ("-", "&") asks for nothing. */
        if (w->parts[0])
            q->n_words++;
        s = end ? e : e + 1;
    }
    if (q->n_words == 0) {
        s_problem(problem, "q", "REQUIRED", "q must have at least one letter or digit");
        return -1;
    }
    /* Terms: a run of numeric words is one term, also matched as a phone
     * number ("600 123", "+48 600 123"). */
    q->n_terms = 0;
    q->exact[0] = '\0';
    size_t el = 0;
    for (int i = 0; i < q->n_words;) {
        struct term *t = &q->terms[q->n_terms++];
        t->w0 = i;
        t->numeric = search_is_numeric(q->words[i].raw);
        t->digits[0] = '\0';
        i++;
        if (t->numeric) {
            char all[256] = "";
            size_t al = search_digits(q->words[t->w0].raw, all, sizeof all);
            while (i < q->n_words && search_is_numeric(q->words[i].raw)) {
                al += search_digits(q->words[i].raw, all + al, sizeof all - al);
                i++;
            }
            char norm[64];
            s_phone_digits(all, norm, sizeof norm);
            if (strlen(norm) >= 3)
                snprintf(t->digits, sizeof t->digits, "%s", norm);
        }
        t->w1 = i;
    }
    for (int i = 0; i < q->n_words; i++)
        el += (size_t)snprintf(q->exact + el, sizeof q->exact - el, "%s%s", el ? " " : "",
                               q->words[i].parts);
    if (el >= sizeof q->exact)
        q->exact[0] = '\0';
    return 0;
}

/* Page tokens: "<order><a|d>.<tier>.<qhash>.<id hex>.<b64 last>.<b64 first>.<b64 created>";
 * the position of the last customer shown, and a hash of what was asked. */
static void s_qhash(const Crm__SearchCustomersRequest *req, char out[17])
{
    crypto_generichash_state st;
    unsigned char h[8];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    const char *parts[] = {req->q, req->order_by, req->group, req->tag};
    for (size_t i = 0; i < 4; i++)
        crypto_generichash_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    char flags[32];
    snprintf(flags, sizeof flags, "%d/%d/%d", req->is_company ? (int)req->is_company->value : -1,
             req->has_account ? (int)req->has_account->value : -1, (int)req->account_status);
    crypto_generichash_update(&st, (const unsigned char *)flags, strlen(flags));
    crypto_generichash_final(&st, h, sizeof h);
    for (size_t i = 0; i < sizeof h; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Appends to an uncapped buffer (which cannot refuse). */
static void s_add(cm_buf_t *b, const char *s, size_t n)
{
    if (cm_buf_append(b, s, n) != 0)
        abort();
}

static void s_b64(cm_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    size_t bl = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *tmp = cm_malloc(bl);
    sodium_bin2base64(tmp, bl, (const unsigned char *)s, n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    s_add(b, tmp, strlen(tmp));
    free(tmp);
}

static char *s_token_make(const struct query *q, const char *qhash, const struct tenant *t,
                          const struct hit *h)
{
    const struct doc *d = &t->docs[h->doc];
    cm_buf_t buf, *b = &buf;
    cm_buf_init(b, 0);
    char head[80];
    snprintf(head, sizeof head, "%c%c.%d.%s.", s_order_letter[q->order], q->desc ? 'd' : 'a',
             h->tier, qhash);
    s_add(b, head, strlen(head));
    for (int i = 0; i < 16; i++) {
        char hx[3];
        snprintf(hx, sizeof hx, "%02x", d->id[i]);
        s_add(b, hx, 2);
    }
    /* The order's own key: the e-mail, or a time key in hex. */
    char key[2 * TIME_KEY + 1] = "";
    if (q->order == O_CREATED || q->order == O_UPDATED) {
        const uint8_t *k = s_time(d, q->order == O_CREATED ? T_CREATED : T_UPDATED);
        for (int i = 0; i < TIME_KEY; i++)
            snprintf(key + 2 * i, 3, "%02x", k[i]);
    }
    const char *strs[3] = {s_sort_last(d), s_field(d, F_FIRST),
                           q->order == O_EMAIL ? s_field(d, F_EMAIL) : key};
    for (int i = 0; i < 3; i++) {
        s_add(b, ".", 1);
        s_b64(b, strs[i]);
    }
    return cm_buf_steal(b, NULL);
}

/* Decodes a token into p; the strings go into store (3 malloc'd). */
static int s_token_parse(const char *tok, const struct query *q, const char *qhash, struct after *p,
                         char *store[3])
{
    char head[8];
    snprintf(head, sizeof head, "%c%c.", s_order_letter[q->order], q->desc ? 'd' : 'a');
    if (strncmp(tok, head, 3) != 0)
        return -1;
    const char *s = tok + 3;
    char *end;
    long tier = strtol(s, &end, 10);
    if (end == s || *end != '.' || tier < 0 || tier > 99)
        return -1;
    p->tier = (int)tier;
    s = end + 1;
    if (strncmp(s, qhash, 16) != 0 || s[16] != '.')
        return -1;
    s += 17;
    for (int i = 0; i < 16; i++) {
        int hi = s_hexval(s[2 * i]), lo = hi < 0 ? -1 : s_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        p->id[i] = (uint8_t)(hi * 16 + lo);
    }
    s += 32;
    for (int i = 0; i < 3; i++) {
        if (*s != '.')
            return -1;
        s++;
        size_t n = strcspn(s, ".");
        unsigned char *bin = cm_malloc(n + 1);
        size_t got = 0;
        if (sodium_base642bin(bin, n + 1, s, n, NULL, &got, NULL,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
            memchr(bin, 0, got)) {
            free(bin);
            return -1;
        }
        bin[got] = '\0';
        store[i] = (char *)bin;
        s += n;
    }
    if (*s)
        return -1;
    p->last = store[0];
    p->first = store[1];
    p->key_text = store[2];
    memset(p->time, 0, sizeof p->time);
    if (q->order == O_CREATED || q->order == O_UPDATED) {
        if (strlen(p->key_text) != 2 * TIME_KEY)
            return -1;
        for (int i = 0; i < TIME_KEY; i++) {
            int hi = s_hexval(p->key_text[2 * i]), lo = s_hexval(p->key_text[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            p->time[i] = (uint8_t)(hi * 16 + lo);
        }
    }
    return 0;
}

/* ---- the page: a bounded max-heap of the best page_size + 1 ---- */

struct heap {
    const struct tenant *t; // borrowed
    struct hit *a;          // owned
    size_t n, cap;
    int order;
    bool desc;
};

static int s_heap_cmp(const struct heap *h, size_t i, size_t j)
{
    return s_cmp(h->t, &h->a[i], &h->a[j], h->order, h->desc);
}

static void s_heap_swap(struct heap *h, size_t i, size_t j)
{
    struct hit x = h->a[i];
    h->a[i] = h->a[j];
    h->a[j] = x;
}

static void s_heap_down(struct heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && s_heap_cmp(h, l, m) > 0)
            m = l;
        if (r < h->n && s_heap_cmp(h, r, m) > 0)
            m = r;
        if (m == i)
            return;
        s_heap_swap(h, i, m);
        i = m;
    }
}

/* Keeps x if it is among the best cap seen. */
static void s_heap_offer(struct heap *h, const struct hit *x)
{
    if (h->n < h->cap) {
        size_t i = h->n++;
        h->a[i] = *x;
        while (i > 0) {
            size_t parent = (i - 1) / 2;
            if (s_heap_cmp(h, i, parent) <= 0)
                break;
            s_heap_swap(h, i, parent);
            i = parent;
        }
        return;
    }
    if (s_cmp(h->t, x, &h->a[0], h->order, h->desc) >= 0)
        return;
    h->a[0] = *x;
    s_heap_down(h, 0);
}

static struct heap *s_heap_for_sort;
static int s_heap_idx_cmp(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return s_heap_cmp(s_heap_for_sort, i, j);
}

/* The phone matches of three digits held by one customer in PHONE_SHARE or
 * more ("486" in a book of +48 600 numbers: nearly everyone), other than
 * the docs marked in `taken`: offered to the page in name order from the
 * previous page's end, a record read for each doc passed, until the page
 * is full of better ones. With their trigram's postings (not in name
 * order) every label would be read instead. */
#define PHONE_SHARE 16
static void s_phone_walk(const struct tenant *t, const struct query *q, const uint64_t *taken,
                         struct heap *h, const struct after *after)
{
    const char *digits = q->terms[0].digits;
    struct opos p = {0, 0};
    if (after && after->tier == TIER_PHONE)
        p = s_order_at_label(t, after->hi);
    else if (after && after->tier > TIER_PHONE)
        return;
    for (; p.b < t->n_blocks; p.b++, p.i = 0) {
        const struct order_block *blk = t->by_name[p.b];
        for (; p.i < blk->n; p.i++) {
            uint32_t doc = blk->doc[p.i];
            /* Two stages ahead: the record, then (once it is in) its fields. */
            if (p.i + 8 < blk->n)
                __builtin_prefetch(&t->docs[blk->doc[p.i + 8]]);
            if (p.i + 4 < blk->n)
                s_prefetch_fields(&t->docs[blk->doc[p.i + 4]]);
            if (s_bit(taken, doc) || !s_phone_match(&t->docs[doc], digits))
                continue;
            struct hit x = {TIER_PHONE, doc, t->label[doc]};
            if (h->n == h->cap && s_cmp(t, &x, &h->a[0], q->order, q->desc) >= 0)
                return; /* later docs come later still */
            if (after && !s_after_ok(t, &x, after, q->order, q->desc))
                continue;
            s_heap_offer(h, &x);
        }
    }
}

/* ---- the single-word relevance page, tier by tier ---- */

/* A term the dictionaries answer exactly: one word of one part, no
 * punctuation (so its e-mail prefix is its name prefix), not numeric (no
 * phone). The docs it matches through a field are then exactly the postings
 * of that field's dictionary range. */
static bool s_term_plain(const struct query *q, int i)
{
    const struct term *tm = &q->terms[i];
    const struct word *w = &q->words[tm->w0];
    return !tm->numeric && tm->w1 == tm->w0 + 1 && w->first_part[0] &&
           !strcmp(w->folded, w->first_part) && !strcmp(w->parts, w->first_part);
}

/* Where a scan of postings p[i..n) (in label order) for the given tier can
 * stop: n while the page is not full of this tier or better, else the first
 * whose label comes after the page's last, found in steps doubling from i
 * (the page's last is usually near). */
static uint32_t s_scan_end(const struct tenant *t, const struct heap *h, int tier,
                           const uint32_t *p, uint32_t i, uint32_t n)
{
    if (h->n < h->cap || h->a[0].tier > tier)
        return n;
    if (h->a[0].tier < tier)
        return i;
    uint64_t last = h->a[0].label;
    uint32_t lo = i, step = 1;
    while (lo < n && t->label[p[lo]] <= last) {
        i = lo + 1;
        lo = step < n - lo ? lo + step : n;
        step *= 2;
    }
    /* Labels at i - 1 (or before the scan) are at most last; lo is past it. */
    uint32_t hi = lo < n ? lo : n;
    while (i < hi) {
        uint32_t mid = i + (hi - i) / 2;
        if (t->label[p[mid]] <= last)
            i = mid + 1;
        else
            hi = mid;
    }
    return i;
}

/* A walk of several words' ranges (s_search_walk): only the docs with
 * their bit set in `only` are read, and the walk gives up once it has
 * spent its budget (a posting passed over costs 1, a record read
 * WALK_READ). */
struct walk {
    const uint64_t *only; // borrowed
    long budget;
};
#define WALK_READ 16

/* The word of plain term i when it is longer than the cut e-mail tokens
 * (its e-mail range then holds candidates, not matches), else NULL. */
static const char *s_long_word(const struct query *q, int i)
{
    const char *w = q->words[q->terms[i].w0].folded;
    return s_term_plain(q, i) && strlen(w) > EMAIL_TOK_MAX ? w : NULL;
}

/* Offers the docs of one posting list (in label order) that are in the
 * given tier to the page, from label `from` on, stopping where the page is
 * full of better ones. stamp == gen marks docs already offered. With a
 * walk, a doc whose bit is clear is passed over unread. */
static void s_tier_scan(struct tenant *t, const struct query *q, bool filters, struct heap *h,
                        int tier, uint64_t from, const struct tok *k, struct walk *wk)
{
    if (!from && h->n == h->cap &&
        (h->a[0].tier < tier || (h->a[0].tier == tier && h->a[0].label < k->first)))
        return; /* not even its first can enter */
    const uint32_t *p = s_post(k);
    uint32_t i = from ? s_post_lower(t->label, p, k->n, from) : 0;
    /* In a walk labels are read for the docs that pass, and the list ends
     * where the page's last (when full, of this tier) says: most docs fail
     * the bit, and would otherwise be passed over to the list's end. */
    uint32_t end = wk ? s_scan_end(t, h, tier, p, i, k->n) : k->n;
    if (wk && wk->budget < (long)(end - i)) {
        end = i + (uint32_t)(wk->budget > 0 ? wk->budget : 0);
        wk->budget = -1; /* spent: the walk gives up after this list */
    } else if (wk) {
        wk->budget -= (long)(end - i);
    }
    for (; i < end; i++) {
        if (wk) {
            /* Most fail the bit: nothing of theirs is asked for ahead. */
            if (!s_bit(wk->only, p[i]))
                continue;
            wk->budget -= WALK_READ;
        } else {
            /* Two stages ahead: the record, then (once it is in) its fields. */
            if (i + 8 < k->n)
                __builtin_prefetch(&t->docs[p[i + 8]]);
            if (i + 4 < k->n)
                s_prefetch_fields(&t->docs[p[i + 4]]);
        }
        uint32_t doc = p[i];
        uint64_t lab = t->label[doc];
        if (h->n == h->cap &&
            (h->a[0].tier < tier || (h->a[0].tier == tier && h->a[0].label < lab)))
            return; /* this list's later docs come later still */
        if (t->stamp[doc] == t->gen)
            continue;
        const struct doc *d = &t->docs[doc];
        if (filters && !s_filters(d, q))
            continue;
        if (s_match(d, q) != tier)
            continue; /* an earlier tier has it */
        t->stamp[doc] = t->gen;
        struct hit x = {tier, doc, lab};
        s_heap_offer(h, &x);
        if (wk)
            end = s_scan_end(t, h, tier, p, i + 1, end);
    }
}

/* The distinct docs of the word's ranges (passing the filters), counted to
 * just past the cap (with t->bits, left clear). */
static size_t s_tier_count(struct tenant *t, const struct query *q, bool filters)
{
    static const int dicts[4] = {D_LAST, D_FIRST, D_COMPANY, D_EMAIL};
    const char *word = q->words[0].first_part;
    size_t wl = strlen(word), total = 0;
    if (!filters && !t->pcounts_off && s_pcount_get(t, word, wl, &total))
        return total;
    /* Without filters, a range whose postings exceed the cap that many
     * times over (as no doc gives a dictionary more than `most` tokens)
     * holds more than the cap distinct docs: nothing to count. */
    for (int i = 0; i < 4 && !filters; i++) {
        const struct dict *d = &t->dicts[dicts[i]];
        if (d->email && wl > EMAIL_TOK_MAX)
            continue; /* the range holds candidates, not matches */
        struct span sp = s_span(d, word);
        size_t sum = 0;
        for (int a = 0; a < 2; a++)
            for (size_t j = 0; j < sp.n[a]; j++)
                sum += s_in(&sp, &sp.tok[a][j]) ? sp.tok[a][j].n : 0;
        if (d->most && sum / d->most > SEARCH_TOTAL_CAP)
            return sum / d->most;
    }
    uint64_t *bits = t->bits;
    for (int i = 0; i < 4 && total <= SEARCH_TOTAL_CAP; i++) {
        const struct dict *d = &t->dicts[dicts[i]];
        /* E-mail tokens are cut: a longer word is looked up by its cut
         * start, and the candidates not already counted are checked. */
        bool check = d->email && wl > EMAIL_TOK_MAX;
        struct span sp = s_span(d, word);
        for (int a = 0; a < 2; a++) {
            for (size_t j = 0; total <= SEARCH_TOTAL_CAP && j < sp.n[a]; j++) {
                const struct tok *k = &sp.tok[a][j];
                if (!s_in(&sp, k))
                    continue;
                const uint32_t *p = s_post(k);
                for (uint32_t m = 0; m < k->n && total <= SEARCH_TOTAL_CAP; m++) {
                    uint32_t doc = p[m];
                    uint64_t bit = (uint64_t)1 << (doc & 63);
                    if (bits[doc >> 6] & bit)
                        continue;
                    const struct doc *dd = &t->docs[doc];
                    if (check && !s_email_has_prefix(s_field(dd, F_EMAIL), word, wl))
                        continue;
                    bits[doc >> 6] |= bit;
                    if (!filters || s_filters(dd, q))
                        total++;
                }
            }
        }
    }
    memset(bits, 0, (t->n_docs / 64 + 1) * sizeof *bits);
    return total;
}

static bool s_filtered(const struct query *q)
{
    return q->group[0] || q->tag[0] || q->is_company >= 0 || q->has_account >= 0 || q->status > 0;
}

/* The relevance page of plain terms, tier by tier: 1 the exact name (each
 * word of which is a whole word of the names), then the last name, first
 * name, company and e-mail ranges of each term's word. A doc's tier is the
 * first it is in; each posting list is read in name order only as far as it
 * can still enter the page, so a page costs about the page and the number
 * of tokens in the ranges, whatever the matches. With a walk, docs whose
 * bit is clear are passed over, and it stops once the budget is spent. */
static void s_tier_walk(struct tenant *t, const struct query *q, bool filters, struct heap *h,
                        const struct after *after, struct walk *wk)
{
    static const int exact_dicts[3] = {D_LAST, D_FIRST, D_COMPANY};
    static const int range_dicts[4] = {D_LAST, D_FIRST, D_COMPANY, D_EMAIL};
    for (int tier = 1; tier <= 5; tier++) {
        if (after && tier < after->tier)
            continue;
        if ((h->n == h->cap && h->a[0].tier < tier) || (wk && wk->budget < 0))
            break; /* the page is full of earlier tiers, or the walk gives up */
        uint64_t from = after && tier == after->tier ? after->hi : 0;
        if (from == UINT64_MAX)
            continue;
        if (tier == 1) {
            /* Each word is a whole word of the names there: the word whose
             * tokens have the fewest docs is read ("lukáš l": the l's). */
            const struct tok *best[3] = {NULL, NULL, NULL};
            size_t least = SIZE_MAX;
            for (int w = 0; w < q->n_words && least; w++) {
                const struct tok *ks[3];
                size_t n = 0;
                for (int i = 0; i < 3; i++) {
                    ks[i] = s_tok_find(&t->dicts[exact_dicts[i]], q->words[w].first_part);
                    n += ks[i] ? ks[i]->n : 0;
                }
                if (n < least) {
                    least = n;
                    memcpy(best, ks, sizeof best);
                }
            }
            for (int i = 0; i < 3; i++)
                if (best[i] && best[i]->n)
                    s_tier_scan(t, q, filters, h, tier, from, best[i], wk);
            continue;
        }
        /* A word longer than the cut e-mail tokens: its cut start's range
         * holds the candidates (s_tier_scan checks each). */
        for (int m = 0; m < q->n_terms; m++) {
            struct span sp =
                s_span(&t->dicts[range_dicts[tier - 2]], q->words[q->terms[m].w0].first_part);
            for (int a = 0; a < 2; a++)
                for (size_t j = 0; j < sp.n[a]; j++)
                    if (sp.tok[a][j].n && s_in(&sp, &sp.tok[a][j]))
                        s_tier_scan(t, q, filters, h, tier, from, &sp.tok[a][j], wk);
        }
    }
}

/* The relevance page of a one-word query by s_tier_walk; the total is
 * counted apart, to just past the cap. Gives what the general path gives
 * (test_index checks). Returns false when the query is not of that kind. */
static bool s_search_tiers(struct tenant *t, const struct query *q, struct heap *h,
                           const struct after *after, size_t *total)
{
    if (q->order != O_RELEVANCE || q->desc || q->n_terms != 1 || q->n_words != 1 ||
        !s_term_plain(q, 0))
        return false;
    bool filters = s_filtered(q);
    s_tier_walk(t, q, filters, h, after, NULL);
    *total = s_tier_count(t, q, filters);
    return true;
}

/* The page of several plain words whose candidates (n docs) are exactly
 * their matches, by s_tier_walk: it reads the records of about a page of
 * them where ranking reads every one. "lukáš l" has thousands of
 * candidates (every Lukáš has an l-word, his first name) and the walk
 * reads a few dozen. It passes over the postings of the words' ranges that
 * are not candidates, though, and with few candidates ("ada kow") or a
 * tier that holds few of them, that can cost more than reading them: past
 * walk_factor postings per candidate it gives up, and returns false with
 * the page empty, to be ranked the usual way. */
static bool s_search_walk(const search_index_t *self, struct tenant *t, const struct query *q,
                          const uint32_t *docs, size_t n, struct heap *h, const struct after *after)
{
    if (n <= self->walk_min)
        return false;
    uint64_t *bits = t->bits;
    for (size_t i = 0; i < n; i++)
        bits[docs[i] >> 6] |= (uint64_t)1 << (docs[i] & 63);
    struct walk wk = {.only = bits,
                      .budget = n < (size_t)LONG_MAX / self->walk_factor
                                    ? (long)(n * self->walk_factor)
                                    : LONG_MAX};
    s_tier_walk(t, q, false, h, after, &wk);
    for (size_t i = 0; i < n; i++)
        bits[docs[i] >> 6] = 0;
    if (wk.budget >= 0)
        return true;
    h->n = 0;
    return false;
}

/* ---- the suggestion for an empty result ---- */

static void s_suggest(const struct query *q, Crm__SearchCustomersResponse *resp)
{
    Crm__SearchSuggestion *sg =
        (Crm__SearchSuggestion *)cm_pb_new(&crm__search_suggestion__descriptor);
    cm_buf_t nb, pb, *names = &nb, *phone = &pb;
    cm_buf_init(names, 0);
    cm_buf_init(phone, 0);
    const char *first = NULL;
    int n_names = 0;
    for (int i = 0; i < q->n_words; i++) {
        const char *w = q->words[i].raw;
        if (strchr(w, '@')) {
            if (!sg->email[0])
                cm_pb_set_str(&sg->email, w);
        } else if (search_is_numeric(w)) {
            if (phone->len)
                s_add(phone, " ", 1);
            s_add(phone, w, strlen(w));
        } else if (n_names++ == 0) {
            first = w;
        } else {
            if (names->len)
                s_add(names, " ", 1);
            s_add(names, w, strlen(w));
        }
    }
    /* One word is a last name; more are a first name and the rest. */
    if (n_names == 1) {
        cm_pb_set_str(&sg->last_name, first);
    } else if (n_names > 1) {
        cm_pb_set_str(&sg->first_name, first);
        cm_pb_set_str(&sg->last_name, names->data ? names->data : "");
    }
    if (phone->len)
        cm_pb_set_str(&sg->phone, phone->data);
    cm_buf_release(names);
    cm_buf_release(phone);
    resp->suggestion = sg;
}

/* The id as text (36 characters and a NUL). */
static void s_uuid_text(const uint8_t id[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 15];
    }
    out[o] = '\0';
}

/* Writes v as a protobuf varint at out (up to 10 bytes); returns its length. */
static size_t s_varint_to(char *out, uint64_t v)
{
    size_t n = 0;
    do {
        out[n++] = (char)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

static void s_varint(cm_buf_t *b, uint64_t v)
{
    char tmp[10];
    s_add(b, tmp, s_varint_to(tmp, v));
}

/* Appends a customer of the page to out as one element of the response's
 * `customers` field, packed: its stored bytes (packed without id and etag)
 * and those two fields after them. */
static void s_customer_packed(cm_buf_t *out, const struct doc *d)
{
    static unsigned f_customers, f_id, f_etag;
    if (!f_customers) {
        f_customers = protobuf_c_message_descriptor_get_field_by_name(
                          &crm__search_customers_response__descriptor, "customers")
                          ->id;
        f_id =
            protobuf_c_message_descriptor_get_field_by_name(&crm__customer__descriptor, "id")->id;
        f_etag =
            protobuf_c_message_descriptor_get_field_by_name(&crm__customer__descriptor, "etag")->id;
    }
    /* The id and etag fields, written here: tag, length, text. */
    char tail[2 * 10 + 37 + 2 * 10 + 10];
    size_t tl = s_varint_to(tail, (uint64_t)f_id << 3 | 2);
    tl += s_varint_to(tail + tl, 36);
    s_uuid_text(d->id, tail + tl); /* its NUL is overwritten next */
    tl += 36;
    char digits[10];
    size_t nd = 0;
    for (uint32_t v = d->version; nd == 0 || v; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    tl += s_varint_to(tail + tl, (uint64_t)f_etag << 3 | 2);
    tl += s_varint_to(tail + tl, nd);
    while (nd)
        tail[tl++] = digits[--nd];
    s_varint(out, (uint64_t)f_customers << 3 | 2);
    s_varint(out, d->packed_len + tl);
    s_add(out, (const char *)d->data, d->packed_len);
    s_add(out, tail, tl);
}

static cm_err_t s_search(search_index_t *self, const char *tenant,
                         const Crm__SearchCustomersRequest *req, Crm__SearchCustomersResponse *resp,
                         cm_buf_t *packed, struct search_problem *problem);

/* ---- "did you mean": one slip away from names that exist ---- */

#define SPELL_MIN 4   /* code points of the shortest word corrected */
#define SPELL_TRIES 6 /* corrected queries run at most, per empty result */
#define SPELL_SHOWN 3 /* of which offered at most */

/* A corrected word: the token prefix it becomes, and how many customers hold
 * tokens with that correction (to try the likeliest first). */
struct slip {
    char word[4 * SEARCH_SPELL_MAX + 1];
    size_t held;
};

/* Adds the corrections of w found among a[lo, hi) to the best `max` in c. */
static void s_slips_in(const struct tok *a, size_t lo, size_t hi, const struct search_spell_word *w,
                       struct slip *c, size_t *n, size_t max)
{
    for (size_t i = lo; i < hi; i++) {
        size_t len = search_spell_slip(w, a[i].s);
        if (!len || len >= sizeof c->word)
            continue;
        size_t j = 0;
        while (j < *n && (strncmp(c[j].word, a[i].s, len) || c[j].word[len]))
            j++;
        if (j == *n) {
            if (*n < max) {
                (*n)++;
            } else {
                /* Full: it replaces the least held, if it holds more. */
                size_t least = 0;
                for (size_t k = 1; k < max; k++)
                    if (c[k].held < c[least].held)
                        least = k;
                if (c[least].held >= a[i].n)
                    continue;
                j = least;
            }
            memcpy(c[j].word, a[i].s, len);
            c[j].word[len] = '\0';
            c[j].held = 0;
        }
        c[j].held += a[i].n;
    }
}

/* Corrections of w among the name dictionaries' tokens whose first byte is
 * one of `firsts` (all tokens when firsts is NULL). */
static void s_slips(const struct tenant *t, const struct search_spell_word *w, const char *firsts,
                    struct slip *c, size_t *n, size_t max)
{
    static const int dicts[] = {D_LAST, D_FIRST, D_COMPANY};
    for (size_t di = 0; di < 3; di++) {
        const struct dict *d = &t->dicts[dicts[di]];
        const struct tok *arrays[2] = {d->main, d->recent};
        size_t counts[2] = {d->n_main, d->n_recent};
        for (int a = 0; a < 2; a++) {
            if (!arrays[a])
                continue;
            if (!firsts) {
                s_slips_in(arrays[a], 0, counts[a], w, c, n, max);
                continue;
            }
            for (const char *f = firsts; *f; f++) {
                char one[2] = {*f, '\0'};
                size_t lo = s_lower(arrays[a], counts[a], one);
                size_t hi = s_prefix_end(arrays[a], counts[a], lo, one, 1);
                s_slips_in(arrays[a], lo, hi, w, c, n, max);
            }
        }
    }
}

/* True when some name word, or an e-mail word, starts with the folded word
 * w. E-mail tokens are cut (EMAIL_TOK_MAX), so a longer w is looked up in
 * the names only: "kowalskx" is not taken for a word because some address
 * starts with "kowals". */
static bool s_word_exists(const struct tenant *t, const char *w)
{
    static const int dicts[] = {D_LAST, D_FIRST, D_COMPANY, D_EMAIL};
    size_t n = strlen(w) > EMAIL_TOK_MAX ? 3 : 4;
    for (size_t di = 0; di < n; di++) {
        struct span sp = s_span(&t->dicts[dicts[di]], w);
        if (sp.n[0] || sp.n[1])
            return true;
    }
    return false;
}

/* Writes the query's words into q (emptied first), word i replaced by x. */
static void s_words_with(cm_buf_t *q, char *const *words, int n_words, int i, const char *x)
{
    cm_buf_reset(q);
    for (int j = 0; j < n_words; j++) {
        const char *w = j == i ? x : words[j];
        if (j)
            s_add(q, " ", 1);
        s_add(q, w, strlen(w));
    }
}

/* The corrected word as a customer who has it writes it: the word of c's
 * names or company whose folded form is the whole correction ("kowalski" is
 * "Kowalski", "lukasz" is "Łukasz"); NULL when the correction is only the
 * start of a word. Caller frees. */
static char *s_spelled(const Crm__Customer *c, const char *folded)
{
    const char *fields[3] = {c->last_name, c->first_name,
                             c->company && c->company->name ? c->company->name : ""};
    for (int f = 0; f < 3; f++) {
        for (const char *p = fields[f]; *p;) {
            size_t n = strcspn(p, " \t-,;/()\"");
            if (n > 0 && n < 4 * SEARCH_SPELL_MAX) {
                char word[4 * SEARCH_SPELL_MAX + 1], out[4 * SEARCH_SPELL_MAX + 8];
                memcpy(word, p, n);
                word[n] = '\0';
                search_fold_words(word, out, sizeof out);
                if (!strcmp(out, folded))
                    return cm_strdup(word);
            }
            p += n;
            if (*p)
                p++;
        }
    }
    return NULL;
}

/* After an empty result: looks for queries with one word corrected by one
 * slip that find customers (with the same filters), and puts the SPELL_SHOWN
 * that find the most into the suggestion. Only plain words of SPELL_MIN code
 * points or more that start no name or e-mail word are corrected. */
static void s_spell(search_index_t *self, const char *tenant,
                    const Crm__SearchCustomersRequest *req, Crm__SearchCustomersResponse *resp)
{
    struct tenant *t = s_tenant(self, tenant, false);
    if (!t || !t->live || !resp->suggestion)
        return;
    char *copy = cm_strdup(req->q);
    char *words[SEARCH_Q_MAX_WORDS];
    int n_words = 0;
    for (char *p = strtok(copy, " \t\n\r\f\v"); p && n_words < SEARCH_Q_MAX_WORDS;
         p = strtok(NULL, " \t\n\r\f\v"))
        words[n_words++] = p;
    /* The corrected queries that find someone, most found first. */
    Crm__SpellingSuggestion *found[SPELL_TRIES];
    size_t n_found = 0, tries = 0;
    for (int i = 0; i < n_words && tries < SPELL_TRIES; i++) {
        char parts[4 * SEARCH_SPELL_MAX + 8];
        search_fold_words(words[i], parts, sizeof parts);
        struct search_spell_word w;
        if (search_is_numeric(words[i]) || !parts[0] || strchr(parts, ' ') ||
            !search_spell_word(parts, &w) || w.n < SPELL_MIN || s_word_exists(t, parts))
            continue;
        struct slip c[SPELL_TRIES];
        size_t n = 0;
        /* A slip after the first letter keeps it; one in the first two
         * letters may start the token with the second. Only when neither
         * finds any is every token read. */
        char firsts[3] = {parts[0], parts[1] && parts[1] != parts[0] ? parts[1] : '\0', '\0'};
        s_slips(t, &w, firsts, c, &n, SPELL_TRIES);
        if (n == 0)
            s_slips(t, &w, NULL, c, &n, SPELL_TRIES);
        for (size_t k = 0; k < n && tries < SPELL_TRIES; k++, tries++) {
            cm_buf_t q;
            cm_buf_init(&q, 0);
            s_words_with(&q, words, n_words, i, c[k].word);
            Crm__SearchCustomersRequest r2 = *req;
            r2.q = q.data;
            r2.page_size = 1;
            r2.page_token = (char *)"";
            r2.order_by = (char *)"";
            Crm__SearchCustomersResponse *o = (Crm__SearchCustomersResponse *)cm_pb_new(
                &crm__search_customers_response__descriptor);
            struct search_problem pr;
            if (s_search(self, tenant, &r2, o, NULL, &pr) == CM_OK && o->total_size > 0) {
                Crm__SpellingSuggestion *f =
                    (Crm__SpellingSuggestion *)cm_pb_new(&crm__spelling_suggestion__descriptor);
                /* Offered as the customer found writes the word, when it is whole. */
                char *spelled = o->n_customers ? s_spelled(o->customers[0], c[k].word) : NULL;
                if (spelled) {
                    s_words_with(&q, words, n_words, i, spelled);
                    free(spelled);
                }
                cm_pb_set_str(&f->q, q.data);
                f->total_size = o->total_size;
                size_t at = n_found++;
                while (at > 0 && found[at - 1]->total_size < f->total_size) {
                    found[at] = found[at - 1];
                    at--;
                }
                found[at] = f;
            }
            crm__search_customers_response__free_unpacked(o, NULL);
            cm_buf_release(&q);
        }
    }
    Crm__SearchSuggestion *sg = resp->suggestion;
    size_t keep = n_found < SPELL_SHOWN ? n_found : SPELL_SHOWN;
    sg->did_you_mean = keep ? cm_calloc(keep, sizeof *sg->did_you_mean) : NULL;
    for (size_t k = 0; k < n_found; k++) {
        if (k < keep)
            sg->did_you_mean[sg->n_did_you_mean++] = found[k];
        else
            crm__spelling_suggestion__free_unpacked(found[k], NULL);
    }
    free(copy);
}

cm_err_t search_index_search(search_index_t *self, const char *tenant,
                             const Crm__SearchCustomersRequest *req,
                             Crm__SearchCustomersResponse *resp, struct search_problem *problem)
{
    cm_err_t rc = s_search(self, tenant, req, resp, NULL, problem);
    if (rc == CM_OK && resp->no_match && !req->page_token[0])
        s_spell(self, tenant, req, resp);
    return rc;
}

cm_err_t search_index_search_packed(search_index_t *self, const char *tenant,
                                    const Crm__SearchCustomersRequest *req,
                                    Crm__SearchCustomersResponse *resp, cm_buf_t *customers,
                                    struct search_problem *problem)
{
    cm_err_t rc = s_search(self, tenant, req, resp, customers, problem);
    if (rc == CM_OK && resp->no_match && !req->page_token[0])
        s_spell(self, tenant, req, resp);
    return rc;
}

static cm_err_t s_search(search_index_t *self, const char *tenant,
                         const Crm__SearchCustomersRequest *req, Crm__SearchCustomersResponse *resp,
                         cm_buf_t *packed, struct search_problem *problem)
{
    if (!self->q)
        self->q = cm_malloc(sizeof *self->q);
    struct query *q = self->q; /* every field is set before it is read */
    char *qcopy = cm_strdup(req->q);
    char *store[3] = {NULL, NULL, NULL};
    struct s_cands cands = {.docs = self->cand_docs, .cap = self->cap_cand_docs};
    struct heap h = {0};
    cm_err_t rc = CM_ERR_INVALID;

    if (req->page_size < 0 || req->page_size > SEARCH_PAGE_MAX) {
        s_problem(problem, "pageSize", "OUT_OF_RANGE", "pageSize must be 0..100 (0 means 20)");
        goto out;
    }
    if (s_parse_order(req->order_by, &q->order, &q->desc)) {
        s_problem(problem, "orderBy", "INVALID_FORMAT",
                  "orderBy must be relevance, lastName, firstName, email, createdAt or "
                  "updatedAt, optionally "
                  "followed by asc or desc");
        goto out;
    }
    if (s_parse_query(req->q, qcopy, q, problem))
        goto out;
    if (strlen(req->group) > 200 || strlen(req->tag) > 200) {
        s_problem(problem, strlen(req->group) > 200 ? "group" : "tag", "TOO_LONG",
                  "group and tag must be at most 200 bytes");
        goto out;
    }
    char *g = search_fold(req->group);
    snprintf(q->group, sizeof q->group, "%s", g);
    free(g);
    q->tag = req->tag;
    q->is_company = req->is_company ? req->is_company->value : -1;
    q->has_account = req->has_account ? req->has_account->value : -1;
    q->status = (int)req->account_status;
    char qhash[17];
    s_qhash(req, qhash);
    struct after after;
    bool has_after = false;
    if (req->page_token[0]) {
        if (s_token_parse(req->page_token, q, qhash, &after, store)) {
            s_problem(problem, "pageToken", "INVALID_FORMAT",
                      "pageToken does not belong to this query; start again without it");
            goto out;
        }
        has_after = true;
    }
    rc = CM_OK;
    struct tenant *t = s_tenant(self, tenant, false);
    size_t total = 0;
    size_t page = req->page_size ? (size_t)req->page_size : SEARCH_PAGE_DEFAULT;
    h.cap = page + 1;
    h.a = cm_malloc(h.cap * sizeof *h.a);
    h.t = t;
    h.order = q->order;
    h.desc = q->desc;
    if (t && t->live) {
        /* Fresh stamps: one generation per word pass and one to collect. */
        if (t->gen > UINT32_MAX - 4 * SEARCH_Q_MAX_WORDS) {
            memset(t->stamp, 0, t->cap_docs * sizeof *t->stamp);
            t->gen = 0;
        }
        t->gen++;
        if (has_after)
            s_after_bounds(t, &after);
        if (!self->general_only && s_search_tiers(t, q, &h, has_after ? &after : NULL, &total))
            goto page;
        /* The cheapest generator: the term or filter with the fewest postings. */
        struct gen best = {.none = false};
        struct gen gens[SEARCH_Q_MAX_WORDS]; /* per term; its ranges serve the marking too */
        size_t best_cost = SIZE_MAX;
        int best_term = -1;
        for (int i = 0; i < q->n_terms; i++) {
            const struct term *tm = &q->terms[i];
            struct gen *gn = &gens[i];
            memset(gn, 0, sizeof *gn);
            s_word_gen(t, &q->words[tm->w0], gn);
            if (tm->numeric && tm->digits[0]) {
                bool none;
                gn->exact = s_best_trigram(t, tm->digits, &none);
            }
            size_t cost = s_gen_cost(t, gn, best_cost);
            if (cost < best_cost) {
                best = *gn;
                best_cost = cost;
                best_term = i;
            }
        }
        const char *filters[2] = {q->group, q->tag};
        for (int i = 0; i < 2; i++) {
            if (!filters[i][0])
                continue;
            struct gen gn = {0};
            gn.exact = s_tok_find(&t->dicts[i ? D_TAG : D_GROUP], filters[i]);
            gn.none = gn.exact == NULL;
            size_t cost = s_gen_cost(t, &gn, best_cost);
            if (cost < best_cost) {
                best = gn;
                best_cost = cost;
                best_term = -1;
            }
        }
        /* The other plain words narrow the candidates by bits alone (a
         * match is in each such word's ranges), so records are read only
         * for docs every one of them reached; a word far commoner than the
         * generator is left to s_match. Two bitmaps take turns. */
        uint64_t *need = NULL;
        size_t nbits = (t->n_docs / 64 + 1) * sizeof *t->bits;
        size_t mark_cap = best_cost < SIZE_MAX / 16 ? 8 * best_cost + 1024 : 0;
        /* Whether every candidate collected is a match (s_search_walk): the
         * ranges of plain words are exactly their matches (a long word's
         * e-mail range checked, s_gen_each), and each word is the
         * generator, marked, or a bitmap. */
        bool exact = !self->general_only && best_term >= 0 && q->order == O_RELEVANCE && !q->desc &&
                     !s_filtered(q);
        for (int i = 0; i < q->n_terms && exact; i++)
            exact = s_term_plain(q, i);
        for (int i = 0; i < q->n_terms && !self->general_only && !best.none; i++) {
            if (i == best_term || !s_term_plain(q, i))
                continue;
            /* A common prefix's bitmap is the word's docs: nothing to mark. */
            const char *w = q->words[q->terms[i].w0].first_part;
            const uint64_t *bm = s_bm_get(t, w, strlen(w));
            if (bm) {
                cands.also[cands.n_also++] = bm;
                continue;
            }
            /* A plain word's generator covers exactly its ranges (one part:
             * the names by it, the e-mail by it as folded, the same). */
            struct gen *gn = &gens[i];
            if (s_gen_cost(t, gn, mark_cap) > mark_cap) {
                exact = false;
                continue;
            }
            struct s_cands m = {.t = t, .need = need, .mark = need == t->bits ? t->bits2 : t->bits};
            s_gen_tokens(t, gn, s_mark_range, &m);
            /* A long word's e-mail range marked more than its matches:
             * checking them here would read every record in it that the
             * other words rule out anyway (the generator's are checked
             * after those). */
            exact = exact && !s_long_word(q, i);
            if (need)
                memset(need, 0, nbits);
            need = m.mark;
        }
        cands.t = t;
        cands.need = need;
        cands.mark = need ? NULL : t->bits;
        /* Digits: the docs of their rarest trigram (9,000 at a million)
         * narrowed by a second one, marked in the bitmap the words left
         * free, to the few dozen that have both. */
        /* A term of digits generating from its rarest trigram (9,000 docs at
         * a million): the docs are narrowed by a second trigram, marked in
         * the bitmap the words left free, to the few dozen that have both.
         * When it is the only term, a doc only the trigram gives (from
         * `ranges` on; the word's ranges gave every other match) can match
         * by phone alone, at TIER_PHONE. With three digits every such doc
         * does, so they are ranked by tier and label with no record read
         * ("600"), or, when one customer in PHONE_SHARE has them, walked in
         * name order and counted from the trigram (s_phone_walk: "359").
         * With more, once the count is past the cap, a doc whose label
         * cannot enter the page is passed over unread: "3597", where numbers
         * starting +359 are an eighth of the book, has 31,000 matches. */
        bool digits =
            !self->general_only && best_term >= 0 && best.exact && q->terms[best_term].numeric;
        bool one_phone =
            digits && q->n_terms == 1 && (q->order == O_RELEVANCE || q->order == O_LAST);
        bool phones = one_phone && strlen(q->terms[0].digits) == 3 && !s_filtered(q);
        bool common = phones && !q->desc && (size_t)best.exact->n * PHONE_SHARE >= t->live;
        const struct tok *tri =
            digits ? s_other_trigram(t, q->terms[best_term].digits, best.exact) : NULL;
        uint64_t *spare = need == t->bits2 ? t->bits : t->bits2;
        if (tri) {
            struct s_cands m = {.t = t, .mark = spare};
            s_mark_range(&m, tri);
        }
        struct gen ranges_only = best;
        ranges_only.exact = NULL;
        size_t ranges =
            s_gen_collect(t, common ? &ranges_only : &best, &cands,
                          best_term >= 0 ? s_long_word(q, best_term) : NULL, tri ? spare : NULL);
        if (common) {
            /* Every holder of the trigram matches; those the ranges gave
             * are counted with them. */
            total = best.exact->n;
            for (size_t i = 0; i < ranges; i++)
                total -= s_phone_match(&t->docs[cands.docs[i]], q->terms[0].digits);
            s_phone_walk(t, q, t->bits, &h, has_after ? &after : NULL);
        }
        size_t checked = phones ? ranges : cands.n;
        memset(need ? need : t->bits, 0, nbits);
        if (tri) {
            const uint32_t *p = s_post(tri);
            for (uint32_t i = 0; i < tri->n; i++)
                spare[p[i] >> 6] = 0;
        }
        if (exact && !best.none &&
            s_search_walk(self, t, q, cands.docs, cands.n, &h, has_after ? &after : NULL)) {
            total = cands.n;
            goto page;
        }
        size_t i = 0;
        for (; i < checked; i++) {
            if (one_phone && i >= ranges && total > SEARCH_TOTAL_CAP && h.n == h.cap)
                break;
            /* Chunks of 32: the records asked for, then their fields, then read. */
            if (i % 32 == 0) {
                size_t end = i + 32 < checked ? i + 32 : checked;
                for (size_t j = i; j < end; j++) {
                    __builtin_prefetch(&t->docs[cands.docs[j]]);
                    __builtin_prefetch(&t->label[cands.docs[j]]);
                }
                for (size_t j = i; j < end; j++)
                    s_prefetch_fields(&t->docs[cands.docs[j]]);
            }
            const struct doc *d = &t->docs[cands.docs[i]];
            if (!d->data || !s_filters(d, q))
                continue;
            int tier = s_match(d, q);
            if (!tier)
                continue;
            total++;
            struct hit x = {tier, cands.docs[i], t->label[cands.docs[i]]};
            if (has_after && !s_after_ok(t, &x, &after, q->order, q->desc))
                continue;
            s_heap_offer(&h, &x);
        }
        for (; i < checked; i++) {
            if (i + 16 < checked)
                __builtin_prefetch(&t->label[cands.docs[i + 16]]);
            struct hit x = {TIER_PHONE, cands.docs[i], t->label[cands.docs[i]]};
            if (s_cmp(t, &x, &h.a[0], q->order, q->desc) >= 0)
                continue; /* it cannot enter the page */
            const struct doc *d = &t->docs[cands.docs[i]];
            if (!d->data || !s_filters(d, q) || !s_match(d, q))
                continue;
            if (has_after && !s_after_ok(t, &x, &after, q->order, q->desc))
                continue;
            s_heap_offer(&h, &x);
        }
        for (i = checked; i < cands.n; i++) {
            if (i + 16 < cands.n)
                __builtin_prefetch(&t->label[cands.docs[i + 16]]);
            total++;
            struct hit x = {TIER_PHONE, cands.docs[i], t->label[cands.docs[i]]};
            if (has_after && !s_after_ok(t, &x, &after, q->order, q->desc))
                continue;
            s_heap_offer(&h, &x);
        }
    }
page:;
    /* The page, in order. */
    size_t *idx = cm_malloc((h.n + 1) * sizeof *idx);
    for (size_t i = 0; i < h.n; i++)
        idx[i] = i;
    s_heap_for_sort = &h;
    qsort(idx, h.n, sizeof *idx, s_heap_idx_cmp);
    size_t shown = h.n > page ? page : h.n;
    for (size_t i = 0; packed && i < shown; i++) {
        const struct doc *d = &t->docs[h.a[idx[i]].doc];
        for (uint32_t off = 0; off < d->packed_len; off += 64)
            __builtin_prefetch(d->data + off);
    }
    if (!packed)
        resp->customers = shown ? cm_calloc(shown, sizeof *resp->customers) : NULL;
    for (size_t i = 0; i < shown; i++) {
        const struct doc *d = &t->docs[h.a[idx[i]].doc];
        if (packed) {
            s_customer_packed(packed, d);
            continue;
        }
        Crm__Customer *c = crm__customer__unpack(NULL, d->packed_len, d->data);
        if (!c)
            continue;
        char id[37], etag[16];
        s_uuid_text(d->id, id);
        snprintf(etag, sizeof etag, "%u", (unsigned)d->version);
        cm_pb_set_str(&c->id, id);
        cm_pb_set_str(&c->etag, etag);
        resp->customers[resp->n_customers++] = c;
    }
    if (h.n > page) {
        char *tok = s_token_make(q, qhash, t, &h.a[idx[shown - 1]]);
        cm_pb_set_str(&resp->next_page_token, tok);
        free(tok);
    }
    free(idx);
    resp->total_size = (int32_t)(total > SEARCH_TOTAL_CAP ? SEARCH_TOTAL_CAP : total);
    resp->total_size_is_lower_bound = total > SEARCH_TOTAL_CAP;
    resp->no_match = total == 0;
    if (total == 0)
        s_suggest(q, resp);
out:
    for (int i = 0; i < 3; i++)
        free(store[i]);
    /* Kept for the next query, unless one of many candidates made it large. */
    if (cands.cap > 65536) {
        free(cands.docs);
        cands.docs = NULL;
        cands.cap = 0;
    }
    self->cand_docs = cands.docs;
    self->cap_cand_docs = cands.cap;
    free(h.a);
    free(qcopy);
    return rc;
}
