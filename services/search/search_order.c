/* The name order of a tenant's live docs (sort last name, first name,
 * id): blocks of doc numbers, and order-maintenance labels that postings
 * are kept sorted by; renumbering after a bulk load. */
#include "search_index_impl.h"
#include "cm_util.h"

#include <stdlib.h>
#include <string.h>

/* Name order labels: live docs in the order of (sort last name, first name,
 * id) carry increasing labels, spaced so a new doc usually fits between its
 * neighbours; when it does not, every label is given again (in the same
 * order, so postings sorted by label stay sorted). */
#define LABEL_STEP ((uint64_t)1 << 20)

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

/* Where live doc a stands against the name (last, first, id): <0, 0, >0. */
static int s_name_cmp(const struct tenant *t, uint32_t a, const char *last, const char *first,
                      const uint8_t id[16])
{
    const struct doc *d = &t->docs[a];
    int c = strcmp(search_sort_last(d), last);
    if (!c)
        c = strcmp(search_field(d, F_FIRST), first);
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
struct opos search_order_at_label(const struct tenant *t, uint64_t lab)
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
                arrays[a][j].first = arrays[a][j].n ? t->label[search_post(&arrays[a][j])[0]] : 0;
    }
}

/* Puts a live doc in name order and gives it a label between its
 * neighbours'. */
void search_order_insert(struct tenant *t, uint32_t doc)
{
    const struct doc *d = &t->docs[doc];
    struct opos p = s_order_find(t, search_sort_last(d), search_field(d, F_FIRST), d->id, false);
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

void search_order_remove(struct tenant *t, uint32_t doc)
{
    const struct doc *d = &t->docs[doc];
    struct opos p = s_order_find(t, search_sort_last(d), search_field(d, F_FIRST), d->id, false);
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

static const struct tenant *s_sort_tenant; // search_order_renumber's qsort
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
    return s_name_cmp(s_sort_tenant, x->doc, search_sort_last(d), search_field(d, F_FIRST), d->id);
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
void search_order_renumber(struct tenant *t)
{
    uint32_t n = t->n_docs, live = 0;
    struct s_named *named = cm_malloc((n + 1) * sizeof *named);
    for (uint32_t i = 0; i < n; i++) {
        const struct doc *d = &t->docs[i];
        if (d->data)
            named[live++] =
                (struct s_named){s_key(search_sort_last(d), search_field(d, F_FIRST)), i};
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
        search_index_slot_put(t, i);
    for (int k = 0; k < D_N; k++) {
        struct dict *d = &t->dicts[k];
        for (size_t j = 0; j < d->n_main; j++) {
            struct tok *tk = &d->main[j];
            uint32_t *p = search_post_mut(tk);
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
    search_doc_bitmaps_rebuild(t);
}

/* Fills af->lo and af->hi from the name order as it is now. */
void search_order_after_bounds(const struct tenant *t, struct after *af)
{
    af->hi = s_label_at(t, s_order_find(t, af->last, af->first, af->id, true));
    af->lo = s_label_before(t, s_order_find(t, af->last, af->first, af->id, false));
}
