/* Which docs match a query: a record's match (its tier) and filters, and
 * the candidates the dictionaries give (a word's ranges, generators, phone
 * trigrams), collected or marked in bitmaps. */
#include "search_index_impl.h"
#include "cm_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

bool search_match_email_prefix(const char *email, const char *p, size_t plen)
{
    if (!*email || !plen)
        return false;
    if (!strncmp(email, p, plen))
        return true;
    const char *at = strchr(email, '@');
    for (const char *q = email; at && q < at; q++)
        if (search_email_sep(*q) && !strncmp(q + 1, p, plen))
            return true;
    return false;
}

/* How well a word matches a doc: 1 last name, 2 first name, 3 company, 4
 * e-mail; 0 not at all. Every part of the word must start a word of the
 * names (any of them), and the first part decides the field. */
static int s_word_tier(const struct doc *d, const struct word *w)
{
    const char *fields[3] = {search_field(d, F_LAST), search_field(d, F_FIRST),
                             search_field(d, F_COMPANY)};
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
    if (!tier && search_match_email_prefix(search_field(d, F_EMAIL), w->folded, strlen(w->folded)))
        tier = 4;
    return tier;
}

/* 0: no match; else the doc's tier (0 is reserved for "no match", so the
 * exact match is 1 here and every field one more than s_word_tier's:
 * TIER_PHONE for the phone). */
int search_match_doc(const struct doc *d, const struct query *q)
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
        if (t->numeric && tier == 99 && search_phone_match(d, t->digits))
            tier = TIER_PHONE - 1;
        if (tier == 99)
            return 0;
        if (tier < best)
            best = tier;
    }
    /* The exact name: every word, in order, is the whole first or last name,
     * company, or first and last name together (either way round). */
    const char *first = search_field(d, F_FIRST), *last = search_field(d, F_LAST);
    size_t fl = strlen(first), ll = strlen(last), el = strlen(q->exact);
    if (el && (!strcmp(q->exact, first) || !strcmp(q->exact, last) ||
               !strcmp(q->exact, search_field(d, F_COMPANY)) ||
               (el == fl + 1 + ll && fl && ll &&
                ((!strncmp(q->exact, first, fl) && q->exact[fl] == ' ' &&
                  !strcmp(q->exact + fl + 1, last)) ||
                 (!strncmp(q->exact, last, ll) && q->exact[ll] == ' ' &&
                  !strcmp(q->exact + ll + 1, first))))))
        return 1;
    return best + 1;
}

/* Filters as ListCustomers has them. */
bool search_match_filters(const struct doc *d, const struct query *q)
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
        const char *s = search_field(d, lists[i]);
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

/* ---- candidates ---- */

static void s_collect_range(void *ud, const struct tok *k)
{
    struct cands *c = ud;
    const uint32_t *p = search_post(k);
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
        while (a < n_also && search_bit(also[a], doc))
            a++;
        if (a < n_also || (bits[doc >> 6] >> (doc & 63) & 1) != want)
            continue;
        if (check && !search_match_email_prefix(search_field(&c->t->docs[doc], F_EMAIL), check,
                                                c->check_len))
            continue;
        bits[doc >> 6] ^= (uint64_t)1 << (doc & 63);
        out[n++] = doc;
    }
    c->n = n;
}

/* Sets the bits in mark of the docs of a range that have theirs in need
 * (all when need is NULL), so one pass per word leaves the docs every word
 * reached. */
void search_match_mark_range(void *ud, const struct tok *k)
{
    const struct cands *c = ud;
    const uint32_t *p = search_post(k);
    const uint64_t *need = c->need;
    uint64_t *mark = c->mark;
    if (!need) {
        for (uint32_t i = 0, n = k->n; i < n; i++)
            mark[p[i] >> 6] |= (uint64_t)1 << (p[i] & 63);
        return;
    }
    for (uint32_t i = 0, n = k->n; i < n; i++)
        if (search_bit(need, p[i]))
            mark[p[i] >> 6] |= (uint64_t)1 << (p[i] & 63);
}

static const int s_gen_dicts[4] = {D_LAST, D_FIRST, D_COMPANY, D_EMAIL};

/* Looks the prefixes' ranges up, once per generator: a query asks for the
 * same ranges to cost, mark and collect them. */
static void s_gen_spans(const struct tenant *t, struct gen *g)
{
    if (g->spanned)
        return;
    for (int i = 0; i < 4; i++)
        if (g->prefixes[i])
            g->sp[i] = search_dict_span(&t->dicts[s_gen_dicts[i]], g->prefixes[i]);
    g->spanned = true;
}

/* Calls fn for each token of g's ranges that has postings. */
void search_match_gen_tokens(const struct tenant *t, struct gen *g, search_range_fn fn, void *ud)
{
    s_gen_spans(t, g);
    for (int i = 0; i < 4; i++) {
        if (!g->prefixes[i])
            continue;
        const struct span *sp = &g->sp[i];
        for (int a = 0; a < 2; a++)
            for (size_t j = 0; j < sp->n[a]; j++)
                if (sp->tok[a][j].n && search_span_has(sp, &sp->tok[a][j]))
                    fn(ud, &sp->tok[a][j]);
    }
}

/* search_match_gen_tokens with the e-mail range last, and when check is set (a plain
 * word longer than the cut e-mail tokens, whose e-mail range holds
 * candidates, not matches) with c->check set for it: a doc that only that
 * range gives is checked against its record (s_collect_range), so every
 * doc collected is a match of the word. */
static void s_gen_each(const struct tenant *t, struct gen *g, search_range_fn fn, struct cands *c,
                       const char *check)
{
    if (!check || !g->prefixes[3]) {
        search_match_gen_tokens(t, g, fn, c);
        return;
    }
    s_gen_spans(t, g);
    struct gen part = *g;
    part.prefixes[3] = NULL;
    search_match_gen_tokens(t, &part, fn, c);
    part = *g;
    part.prefixes[0] = part.prefixes[1] = part.prefixes[2] = NULL;
    c->check = check;
    c->check_len = strlen(check);
    search_match_gen_tokens(t, &part, fn, c);
    c->check = NULL;
}

size_t search_match_gen_cost(const struct tenant *t, struct gen *g, size_t cap)
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
                if (search_span_has(sp, &sp->tok[a][j]))
                    cost += sp->tok[a][j].n;
    }
    return cost;
}

/* The candidates a word can match from: in the name dictionaries, the docs
 * of its part with the fewest postings (a name match needs every part to
 * start a name word), and in the e-mail dictionary the docs of the whole
 * folded word (an e-mail match needs that prefix). For "a.kowal" that is
 * "kowal" and "a.kowal", not everyone whose name starts with "a". */
void search_match_word_gen(const struct tenant *t, struct word *w, struct gen *gn)
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
            size_t cost = search_match_gen_cost(t, &g, best);
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

/* Collects g's candidates into c: its ranges', then those only its single
 * posting gives (from the returned index on), which must have their bit in
 * exact_also too, when that is given. */
size_t search_match_collect(struct tenant *t, struct gen *g, struct cands *c, const char *check,
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
const struct tok *search_match_best_trigram(struct tenant *t, const char *digits, bool *none)
{
    const struct tok *best = NULL;
    size_t n = strlen(digits);
    *none = false;
    for (size_t i = 0; i + 3 <= n; i++) {
        char tri[4] = {digits[i], digits[i + 1], digits[i + 2], '\0'};
        const struct tok *k = search_dict_find(&t->dicts[D_PHONE], tri);
        if (!k || !k->n) {
            *none = true;
            return NULL;
        }
        if (!best || k->n < best->n)
            best = k;
    }
    return best;
}

/* A trigram of digits other than first (the rarest, search_match_best_trigram's),
 * that a doc reached through first must hold too to match by phone: the
 * rarest of those not overlapping first, else of the rest; NULL when the
 * digits have no other. */
const struct tok *search_match_other_trigram(struct tenant *t, const char *digits,
                                             const struct tok *first)
{
    size_t n = strlen(digits), at = 0;
    const struct tok *ks[64];
    for (size_t i = 0; i + 3 <= n && i < 64; i++) {
        char tri[4] = {digits[i], digits[i + 1], digits[i + 2], '\0'};
        ks[i] = search_dict_find(&t->dicts[D_PHONE], tri);
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
