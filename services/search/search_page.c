/* The page of a search: the hits ordered (relevance or a field, after the
 * previous page's end) in a bounded heap, the fast paths (tiers in name
 * order, the walk of several words, the phone walk) and the general one
 * (every candidate's record read), and the page written out. */
#include "search_index_impl.h"
#include "search_fold.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        c = strcmp(search_field(x, F_FIRST), search_field(y, F_FIRST));
        if (!c)
            c = strcmp(search_sort_last(x), search_sort_last(y));
    } else if (order == O_EMAIL) {
        c = strcmp(search_field(x, F_EMAIL), search_field(y, F_EMAIL));
    } else {
        int w = order == O_CREATED ? T_CREATED : T_UPDATED;
        c = memcmp(search_time(x, w), search_time(y, w), TIME_KEY);
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
        c = strcmp(search_field(d, F_FIRST), af->first);
        if (!c)
            c = strcmp(search_sort_last(d), af->last);
    } else if (order == O_EMAIL) {
        c = strcmp(search_field(d, F_EMAIL), af->key_text);
    } else {
        c = memcmp(search_time(d, order == O_CREATED ? T_CREATED : T_UPDATED), af->time, TIME_KEY);
    }
    if (!c)
        c = memcmp(d->id, af->id, 16);
    return desc ? c < 0 : c > 0;
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
        p = search_order_at_label(t, after->hi);
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
                search_prefetch_fields(&t->docs[blk->doc[p.i + 4]]);
            if (search_bit(taken, doc) || !search_phone_match(&t->docs[doc], digits))
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
    const uint32_t *p = search_post(k);
    uint32_t i = from ? search_post_lower(t->label, p, k->n, from) : 0;
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
            if (!search_bit(wk->only, p[i]))
                continue;
            wk->budget -= WALK_READ;
        } else {
            /* Two stages ahead: the record, then (once it is in) its fields. */
            if (i + 8 < k->n)
                __builtin_prefetch(&t->docs[p[i + 8]]);
            if (i + 4 < k->n)
                search_prefetch_fields(&t->docs[p[i + 4]]);
        }
        uint32_t doc = p[i];
        uint64_t lab = t->label[doc];
        if (h->n == h->cap &&
            (h->a[0].tier < tier || (h->a[0].tier == tier && h->a[0].label < lab)))
            return; /* this list's later docs come later still */
        if (t->stamp[doc] == t->gen)
            continue;
        const struct doc *d = &t->docs[doc];
        if (filters && !search_match_filters(d, q))
            continue;
        if (search_match_doc(d, q) != tier)
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
    if (!filters && !t->pcounts_off && search_doc_prefix_count(t, word, wl, &total))
        return total;
    /* Without filters, a range whose postings exceed the cap that many
     * times over (as no doc gives a dictionary more than `most` tokens)
     * holds more than the cap distinct docs: nothing to count. */
    for (int i = 0; i < 4 && !filters; i++) {
        const struct dict *d = &t->dicts[dicts[i]];
        if (d->email && wl > EMAIL_TOK_MAX)
            continue; /* the range holds candidates, not matches */
        struct span sp = search_dict_span(d, word);
        size_t sum = 0;
        for (int a = 0; a < 2; a++)
            for (size_t j = 0; j < sp.n[a]; j++)
                sum += search_span_has(&sp, &sp.tok[a][j]) ? sp.tok[a][j].n : 0;
        if (d->most && sum / d->most > SEARCH_TOTAL_CAP)
            return sum / d->most;
    }
    uint64_t *bits = t->bits;
    for (int i = 0; i < 4 && total <= SEARCH_TOTAL_CAP; i++) {
        const struct dict *d = &t->dicts[dicts[i]];
        /* E-mail tokens are cut: a longer word is looked up by its cut
         * start, and the candidates not already counted are checked. */
        bool check = d->email && wl > EMAIL_TOK_MAX;
        struct span sp = search_dict_span(d, word);
        for (int a = 0; a < 2; a++) {
            for (size_t j = 0; total <= SEARCH_TOTAL_CAP && j < sp.n[a]; j++) {
                const struct tok *k = &sp.tok[a][j];
                if (!search_span_has(&sp, k))
                    continue;
                const uint32_t *p = search_post(k);
                for (uint32_t m = 0; m < k->n && total <= SEARCH_TOTAL_CAP; m++) {
                    uint32_t doc = p[m];
                    uint64_t bit = (uint64_t)1 << (doc & 63);
                    if (bits[doc >> 6] & bit)
                        continue;
                    const struct doc *dd = &t->docs[doc];
                    if (check && !search_match_email_prefix(search_field(dd, F_EMAIL), word, wl))
                        continue;
                    bits[doc >> 6] |= bit;
                    if (!filters || search_match_filters(dd, q))
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
                    ks[i] = search_dict_find(&t->dicts[exact_dicts[i]], q->words[w].first_part);
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
            struct span sp = search_dict_span(&t->dicts[range_dicts[tier - 2]],
                                              q->words[q->terms[m].w0].first_part);
            for (int a = 0; a < 2; a++)
                for (size_t j = 0; j < sp.n[a]; j++)
                    if (sp.tok[a][j].n && search_span_has(&sp, &sp.tok[a][j]))
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
    search_buf_add(b, tmp, s_varint_to(tmp, v));
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
    search_buf_add(out, (const char *)d->data, d->packed_len);
    search_buf_add(out, tail, tl);
}

/* The cheapest generator of q: the term or filter with the fewest
 * postings, into *best (its cost into *best_cost), and every term's into
 * gens (its ranges serve the marking too). Returns the term's index, or -1
 * for a filter's. */
static int s_pick_gen(struct tenant *t, struct query *q, struct gen *gens, struct gen *best,
                      size_t *best_cost)
{
    *best = (struct gen){.none = false};
    *best_cost = SIZE_MAX;
    int best_term = -1;
    for (int i = 0; i < q->n_terms; i++) {
        const struct term *tm = &q->terms[i];
        struct gen *gn = &gens[i];
        memset(gn, 0, sizeof *gn);
        search_match_word_gen(t, &q->words[tm->w0], gn);
        if (tm->numeric && tm->digits[0]) {
            bool none;
            gn->exact = search_match_best_trigram(t, tm->digits, &none);
        }
        size_t cost = search_match_gen_cost(t, gn, *best_cost);
        if (cost < *best_cost) {
            *best = *gn;
            *best_cost = cost;
            best_term = i;
        }
    }
    const char *filters[2] = {q->group, q->tag};
    for (int i = 0; i < 2; i++) {
        if (!filters[i][0])
            continue;
        struct gen gn = {0};
        gn.exact = search_dict_find(&t->dicts[i ? D_TAG : D_GROUP], filters[i]);
        gn.none = gn.exact == NULL;
        size_t cost = search_match_gen_cost(t, &gn, *best_cost);
        if (cost < *best_cost) {
            *best = gn;
            *best_cost = cost;
            best_term = -1;
        }
    }
    return best_term;
}

/* The other plain words than the generator's (term best_term) narrow the
 * candidates by bits alone (a match is in each such word's ranges), so
 * records are read only for docs every one of them reached; a word far
 * commoner than the generator is left to search_match_doc. Two bitmaps
 * take turns. A common prefix's bitmap goes into c->also instead. Returns
 * the bitmap of the docs every marked word reached (NULL when none was
 * marked); clears *exact when the candidates will not all be matches. */
static uint64_t *s_narrow(struct tenant *t, const struct query *q, struct gen *gens, int best_term,
                          size_t best_cost, struct cands *c, bool *exact)
{
    uint64_t *need = NULL;
    size_t nbits = (t->n_docs / 64 + 1) * sizeof *t->bits;
    size_t mark_cap = best_cost < SIZE_MAX / 16 ? 8 * best_cost + 1024 : 0;
    for (int i = 0; i < q->n_terms; i++) {
        if (i == best_term || !s_term_plain(q, i))
            continue;
        /* A common prefix's bitmap is the word's docs: nothing to mark. */
        const char *w = q->words[q->terms[i].w0].first_part;
        const uint64_t *bm = search_doc_prefix_bitmap(t, w, strlen(w));
        if (bm) {
            c->also[c->n_also++] = bm;
            continue;
        }
        /* A plain word's generator covers exactly its ranges (one part:
         * the names by it, the e-mail by it as folded, the same). */
        struct gen *gn = &gens[i];
        if (search_match_gen_cost(t, gn, mark_cap) > mark_cap) {
            *exact = false;
            continue;
        }
        struct cands m = {.t = t, .need = need, .mark = need == t->bits ? t->bits2 : t->bits};
        search_match_gen_tokens(t, gn, search_match_mark_range, &m);
        /* A long word's e-mail range marked more than its matches:
         * checking them here would read every record in it that the
         * other words rule out anyway (the generator's are checked
         * after those). */
        *exact = *exact && !s_long_word(q, i);
        if (need)
            memset(need, 0, nbits);
        need = m.mark;
    }
    return need;
}

/* Ranks the candidates into the page, counting the matches into *total.
 * The first `checked` have their record read; with one_phone, those from
 * `ranges` on (which the trigram alone gave) only until the count is past
 * the cap and the page is full, and after that only the ones whose label
 * can still enter the page. The rest match by phone alone, at TIER_PHONE. */
static void s_rank(const struct tenant *t, const struct query *q, const struct cands *c,
                   size_t checked, size_t ranges, bool one_phone, struct heap *h,
                   const struct after *after, size_t *total)
{
    size_t i = 0;
    for (; i < checked; i++) {
        if (one_phone && i >= ranges && *total > SEARCH_TOTAL_CAP && h->n == h->cap)
            break;
        /* Chunks of 32: the records asked for, then their fields, then read. */
        if (i % 32 == 0) {
            size_t end = i + 32 < checked ? i + 32 : checked;
            for (size_t j = i; j < end; j++) {
                __builtin_prefetch(&t->docs[c->docs[j]]);
                __builtin_prefetch(&t->label[c->docs[j]]);
            }
            for (size_t j = i; j < end; j++)
                search_prefetch_fields(&t->docs[c->docs[j]]);
        }
        const struct doc *d = &t->docs[c->docs[i]];
        if (!d->data || !search_match_filters(d, q))
            continue;
        int tier = search_match_doc(d, q);
        if (!tier)
            continue;
        (*total)++;
        struct hit x = {tier, c->docs[i], t->label[c->docs[i]]};
        if (after && !s_after_ok(t, &x, after, q->order, q->desc))
            continue;
        s_heap_offer(h, &x);
    }
    for (; i < checked; i++) {
        if (i + 16 < checked)
            __builtin_prefetch(&t->label[c->docs[i + 16]]);
        struct hit x = {TIER_PHONE, c->docs[i], t->label[c->docs[i]]};
        if (s_cmp(t, &x, &h->a[0], q->order, q->desc) >= 0)
            continue; /* it cannot enter the page */
        const struct doc *d = &t->docs[c->docs[i]];
        if (!d->data || !search_match_filters(d, q) || !search_match_doc(d, q))
            continue;
        if (after && !s_after_ok(t, &x, after, q->order, q->desc))
            continue;
        s_heap_offer(h, &x);
    }
    for (i = checked; i < c->n; i++) {
        if (i + 16 < c->n)
            __builtin_prefetch(&t->label[c->docs[i + 16]]);
        (*total)++;
        struct hit x = {TIER_PHONE, c->docs[i], t->label[c->docs[i]]};
        if (after && !s_after_ok(t, &x, after, q->order, q->desc))
            continue;
        s_heap_offer(h, &x);
    }
}

/* The page of q from its candidates (the general path, and the ways to
 * narrow it): the cheapest generator's docs, narrowed by the other words'
 * bits, then ranked (s_search_walk, or each record read by s_rank).
 * Returns the total. */
static size_t s_search_candidates(const search_index_t *self, struct tenant *t, struct query *q,
                                  struct cands *c, struct heap *h, const struct after *after)
{
    struct gen gens[SEARCH_Q_MAX_WORDS];
    struct gen best;
    size_t best_cost;
    int best_term = s_pick_gen(t, q, gens, &best, &best_cost);
    size_t nbits = (t->n_docs / 64 + 1) * sizeof *t->bits;
    /* Whether every candidate collected is a match (s_search_walk): the
     * ranges of plain words are exactly their matches (a long word's
     * e-mail range checked, search_match_collect), and each word is the
     * generator, marked, or a bitmap. */
    bool exact = !self->general_only && best_term >= 0 && q->order == O_RELEVANCE && !q->desc &&
                 !s_filtered(q);
    for (int i = 0; i < q->n_terms && exact; i++)
        exact = s_term_plain(q, i);
    uint64_t *need = NULL;
    if (!self->general_only && !best.none)
        need = s_narrow(t, q, gens, best_term, best_cost, c, &exact);
    size_t total = 0;
    c->t = t;
    c->need = need;
    c->mark = need ? NULL : t->bits;
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
    bool one_phone = digits && q->n_terms == 1 && (q->order == O_RELEVANCE || q->order == O_LAST);
    bool phones = one_phone && strlen(q->terms[0].digits) == 3 && !s_filtered(q);
    bool common = phones && !q->desc && (size_t)best.exact->n * PHONE_SHARE >= t->live;
    const struct tok *tri =
        digits ? search_match_other_trigram(t, q->terms[best_term].digits, best.exact) : NULL;
    uint64_t *spare = need == t->bits2 ? t->bits : t->bits2;
    if (tri) {
        struct cands m = {.t = t, .mark = spare};
        search_match_mark_range(&m, tri);
    }
    struct gen ranges_only = best;
    ranges_only.exact = NULL;
    size_t ranges =
        search_match_collect(t, common ? &ranges_only : &best, c,
                             best_term >= 0 ? s_long_word(q, best_term) : NULL, tri ? spare : NULL);
    if (common) {
        /* Every holder of the trigram matches; those the ranges gave
         * are counted with them. */
        total = best.exact->n;
        for (size_t i = 0; i < ranges; i++)
            total -= search_phone_match(&t->docs[c->docs[i]], q->terms[0].digits);
        s_phone_walk(t, q, t->bits, h, after);
    }
    size_t checked = phones ? ranges : c->n;
    memset(need ? need : t->bits, 0, nbits);
    if (tri) {
        const uint32_t *p = search_post(tri);
        for (uint32_t i = 0; i < tri->n; i++)
            spare[p[i] >> 6] = 0;
    }
    if (exact && !best.none && s_search_walk(self, t, q, c->docs, c->n, h, after))
        return c->n;
    s_rank(t, q, c, checked, ranges, one_phone, h, after, &total);
    return total;
}

/* Writes the page (the best `page` of the heap, in order) into resp, or
 * its customers into packed when that is not NULL, with the next page's
 * token, the total and, when nothing matched, the suggestion. */
static void s_page_write(const struct tenant *t, const struct query *q, const char *qhash,
                         struct heap *h, size_t page, size_t total,
                         Crm__SearchCustomersResponse *resp, cm_buf_t *packed)
{
    /* The page, in order. */
    size_t *idx = cm_malloc((h->n + 1) * sizeof *idx);
    for (size_t i = 0; i < h->n; i++)
        idx[i] = i;
    s_heap_for_sort = h;
    qsort(idx, h->n, sizeof *idx, s_heap_idx_cmp);
    size_t shown = h->n > page ? page : h->n;
    for (size_t i = 0; packed && i < shown; i++) {
        const struct doc *d = &t->docs[h->a[idx[i]].doc];
        for (uint32_t off = 0; off < d->packed_len; off += 64)
            __builtin_prefetch(d->data + off);
    }
    if (!packed)
        resp->customers = shown ? cm_calloc(shown, sizeof *resp->customers) : NULL;
    for (size_t i = 0; i < shown; i++) {
        const struct doc *d = &t->docs[h->a[idx[i]].doc];
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
    if (h->n > page) {
        char *tok = search_query_token(q, qhash, t, &h->a[idx[shown - 1]]);
        cm_pb_set_str(&resp->next_page_token, tok);
        free(tok);
    }
    free(idx);
    resp->total_size = (int32_t)(total > SEARCH_TOTAL_CAP ? SEARCH_TOTAL_CAP : total);
    resp->total_size_is_lower_bound = total > SEARCH_TOTAL_CAP;
    resp->no_match = total == 0;
    if (total == 0)
        search_suggest_empty(q, resp);
}

cm_err_t search_page_answer(search_index_t *self, const char *tenant,
                            const Crm__SearchCustomersRequest *req,
                            Crm__SearchCustomersResponse *resp, cm_buf_t *packed,
                            struct search_problem *problem)
{
    if (!self->q)
        self->q = cm_malloc(sizeof *self->q);
    struct query *q = self->q; /* every field is set before it is read */
    char *qcopy = cm_strdup(req->q);
    char *store[3] = {NULL, NULL, NULL};
    struct cands cands = {.docs = self->cand_docs, .cap = self->cap_cand_docs};
    struct heap h = {0};
    cm_err_t rc = CM_ERR_INVALID;

    char qhash[17];
    struct after after;
    bool has_after = false;
    if (search_query_parse(req, qcopy, q, qhash, &after, &has_after, store, problem))
        goto out;
    rc = CM_OK;
    struct tenant *t = search_index_tenant(self, tenant, false);
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
            search_order_after_bounds(t, &after);
        const struct after *af = has_after ? &after : NULL;
        if (self->general_only || !s_search_tiers(t, q, &h, af, &total))
            total = s_search_candidates(self, t, q, &cands, &h, af);
    }
    s_page_write(t, q, qhash, &h, page, total, resp, packed);
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
