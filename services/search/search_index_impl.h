/* The search index's own structures, shared by its files (search_index.c,
 * search_dict.c, search_doc.c, search_order.c, search_match.c,
 * search_query.c, search_page.c, search_suggest.c), and the small hot
 * helpers they all use, inline so that no hot path calls across files.
 * Private to services/search: search_index.h is the interface. */
#ifndef SEARCH_INDEX_IMPL_H
#define SEARCH_INDEX_IMPL_H

#include "search_index.h"
#include "cm_buf.h"
#include "cm_util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    bool email;       // tokens cut to EMAIL_TOK_MAX bytes, after a cover byte (search_doc.c)
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
 * than WALK_FACTOR postings per candidate (s_search_walk, search_page.c). */
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

/* The tokens of d starting with prefix (cut as search_dict.c's
 * s_dict_prefix cuts it): a run of the main array and one of the recent
 * array. In the e-mail dictionary only its tokens with a cover up to
 * max_cover count (search_span_has). */
struct span {
    const struct tok *tok[2]; // borrowed
    size_t n[2];
    unsigned max_cover;
};

/* Called for a token of a range (search_match_gen_tokens). */
typedef void (*search_range_fn)(void *ud, const struct tok *k);

/* ---------------------------------------------------------------------- */
/* The query                                                               */

enum { O_RELEVANCE, O_LAST, O_FIRST, O_CREATED, O_EMAIL, O_UPDATED };

struct word {
    const char *raw;   // borrowed (the request's q, copied)
    char folded[1024]; // folded whole, punctuation kept (e-mail matching)
    char parts[1024];  // folded words, space separated (name matching)
    char first_part[256];
    char gen_part[256]; // the part with the fewest name postings (search_match_word_gen)
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

/* A doc's tier in a match (search_match_doc): 0 is "no match", the exact
 * match 1 and every field one more than search_match.c's s_word_tier's:
 * TIER_PHONE for the phone. */
#define TIER_PHONE 6

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

/* The candidates of a query, collected or marked (search_match.c). */
struct cands {
    struct tenant *t;
    uint32_t *docs; // owned (the index keeps it from query to query)
    size_t n, cap;
    uint64_t *need; // borrowed: when not NULL, only docs with their bit set here
    uint64_t *mark; // borrowed: the bits being set (search_match_mark_range) or the docs taken
    const uint64_t *also[SEARCH_Q_MAX_WORDS]; // borrowed: prefix bitmaps a doc needs too
    int n_also;
    const char *check; // borrowed: when set, a doc not yet taken needs an e-mail
                       // starting with it (search_match.c's s_gen_each)
    size_t check_len;
};

/* A generator: the postings a match must come from, for one term or filter. */
struct gen {
    const char *prefixes[4]; // prefix per name/e-mail dict (NULL: skip)
    const struct tok *exact; // a single posting (filter, phone trigram), or NULL
    bool none;               // nothing can match
    bool spanned;            // sp holds the ranges of the prefixes (looked up once)
    struct span sp[4];
};

/* ---------------------------------------------------------------------- */
/* Small hot helpers                                                       */

/* The postings of k (inline in it when up to two). */
static inline uint32_t *search_post_mut(struct tok *k)
{
    return k->cap ? k->p.many : k->p.two;
}

/* The postings of k, to read. */
static inline const uint32_t *search_post(const struct tok *k)
{
    return k->cap ? k->p.many : k->p.two;
}

/* First index in postings p[0..n) whose label is >= lab (p in label order). */
static inline uint32_t search_post_lower(const uint64_t *label, const uint32_t *p, uint32_t n,
                                         uint64_t lab)
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

/* The token is one of the span's (not an e-mail token its names cover). */
static inline bool search_span_has(const struct span *sp, const struct tok *k)
{
    return k->cover <= sp->max_cover;
}

/* The folded field f (F_FIRST..F_TAGS) of a live doc. */
static inline const char *search_field(const struct doc *d, int f)
{
    return (const char *)d->data + d->packed_len + T_N * TIME_KEY +
           (f == F_FIRST ? 0 : d->f[f - 1]);
}

/* A time key of the doc (T_CREATED, T_UPDATED). */
static inline const uint8_t *search_time(const struct doc *d, int which)
{
    return d->data + d->packed_len + which * TIME_KEY;
}

/* Asks for the cache lines search_match_doc reads of d (its folded names
 * and e-mail) ahead of the reading: a query's candidates are scattered over
 * memory, and a record's lines fetched one miss after another cost more
 * than the match. */
static inline void search_prefetch_fields(const struct doc *d)
{
    if (!d->data)
        return;
    const char *f = search_field(d, F_FIRST);
    __builtin_prefetch(f);
    __builtin_prefetch(f + 64);
}

/* The name a customer is ordered by: its last name, or for a company
 * without one the company name. */
static inline const char *search_sort_last(const struct doc *d)
{
    const char *last = search_field(d, F_LAST);
    return !last[0] && (d->flags & DOC_COMPANY) ? search_field(d, F_COMPANY) : last;
}

/* The phone digits match: anywhere in the number's digits. */
static inline bool search_phone_match(const struct doc *d, const char *digits)
{
    return digits[0] && strstr(search_field(d, F_PHONE), digits) != NULL;
}

/* Separators inside an e-mail's local part that start another findable word. */
static inline bool search_email_sep(char c)
{
    return c == '.' || c == '_' || c == '-' || c == '+';
}

/* Whether doc's bit is set in bits. */
static inline bool search_bit(const uint64_t *bits, uint32_t doc)
{
    return bits[doc >> 6] >> (doc & 63) & 1;
}

/* Appends to an uncapped buffer (which cannot refuse). */
static inline void search_buf_add(cm_buf_t *b, const char *s, size_t n)
{
    if (cm_buf_append(b, s, n) != 0)
        abort();
}

/* ---------------------------------------------------------------------- */
/* Shared between the files                                                */

/* search_index.c */

/* The tenant of id; made (empty) when create is set and it is not there.
 * Returns the borrowed tenant, or NULL (not there, or an id too long). */
struct tenant *search_index_tenant(search_index_t *self, const char *id, bool create);
/* Puts doc into the id hash, which must have room. */
void search_index_slot_put(struct tenant *t, uint32_t doc);

/* search_dict.c */

void search_dict_free(struct dict *d);
/* First index in a[0..n) whose token is >= s. */
size_t search_dict_lower(const struct tok *a, size_t n, const char *s);
/* The end of the run of tokens of a[0..n) starting with prefix (len plen)
 * that begins at lo. */
size_t search_dict_prefix_end(const struct tok *a, size_t n, size_t lo, const char *prefix,
                              size_t plen);
/* The token s of d (borrowed), or NULL. */
struct tok *search_dict_find(struct dict *d, const char *s);
/* The token s (len bytes) of d, added when new (its string in t's arena). */
struct tok *search_dict_get(struct tenant *t, struct dict *d, const char *s, size_t len);
/* Starts (on) or ends loading d in bulk (see struct dict). */
void search_dict_bulk(struct dict *d, bool on);
/* Adds doc to k's postings (in label order in an ordered dictionary). */
void search_dict_post_add(const struct tenant *t, const struct dict *d, struct tok *k,
                          uint32_t doc);
/* Removes doc from k's postings (by the label it was added with). */
void search_dict_post_remove(const struct tenant *t, const struct dict *d, struct tok *k,
                             uint32_t doc);
/* The bytes of an e-mail token starting s: at most EMAIL_TOK_MAX. */
size_t search_dict_email_len(const char *s);
/* The tokens of d starting with prefix. */
struct span search_dict_span(const struct dict *d, const char *prefix);

/* search_doc.c */

/* The time key of an RFC 3339 time (TIME_KEY bytes into key). */
void search_doc_time_key(const char *ts, uint8_t key[TIME_KEY]);
/* Adds the live doc's tokens to the dictionaries, and its prefixes. */
void search_doc_add(struct tenant *t, uint32_t doc);
/* Takes the live doc's tokens and prefixes away again. */
void search_doc_remove(struct tenant *t, uint32_t doc);
/* Sets *n to the count of docs with a word starting with w (strlen wl) and
 * returns true, when the prefix count table keeps such prefixes; false
 * otherwise. */
bool search_doc_prefix_count(const struct tenant *t, const char *w, size_t wl, size_t *n);
/* The bitmap of the docs with a word starting with w (strlen wl), when it
 * is a prefix that has one (borrowed), else NULL. */
const uint64_t *search_doc_prefix_bitmap(const struct tenant *t, const char *w, size_t wl);
/* After doc numbers changed (a bulk load): every bitmap made again. */
void search_doc_bitmaps_rebuild(struct tenant *t);

/* search_order.c */

/* Puts a live doc in name order and gives it a label. */
void search_order_insert(struct tenant *t, uint32_t doc);
/* Takes a live doc out of the name order. */
void search_order_remove(struct tenant *t, uint32_t doc);
/* After a bulk load: doc numbers in name order, and everything by them. */
void search_order_renumber(struct tenant *t);
/* The first place in the name order whose label is at least lab. */
struct opos search_order_at_label(const struct tenant *t, uint64_t lab);
/* Fills af->lo and af->hi from the name order as it is now. */
void search_order_after_bounds(const struct tenant *t, struct after *af);

/* search_match.c */

/* True when the e-mail, or a word of its local part, starts with p (plen). */
bool search_match_email_prefix(const char *email, const char *p, size_t plen);
/* The doc's tier for the query (1 the exact name .. TIER_PHONE), 0 for no
 * match. */
int search_match_doc(const struct doc *d, const struct query *q);
/* True when the doc passes the query's filters. */
bool search_match_filters(const struct doc *d, const struct query *q);
/* A search_range_fn (ud a struct cands): marks the range's docs. */
void search_match_mark_range(void *ud, const struct tok *k);
/* Calls fn for each token of g's ranges that has postings. */
void search_match_gen_tokens(const struct tenant *t, struct gen *g, search_range_fn fn, void *ud);
/* The postings of g, counted to just past cap. */
size_t search_match_gen_cost(const struct tenant *t, struct gen *g, size_t cap);
/* Sets gn to the generator of word w. */
void search_match_word_gen(const struct tenant *t, struct word *w, struct gen *gn);
/* Collects g's candidates into c; returns where those only its single
 * posting gives begin. */
size_t search_match_collect(struct tenant *t, struct gen *g, struct cands *c, const char *check,
                            const uint64_t *exact_also);
/* The smallest phone trigram posting of digits (NULL, *none set, when one
 * is missing). */
const struct tok *search_match_best_trigram(struct tenant *t, const char *digits, bool *none);
/* Another trigram of digits than first that a match must hold, or NULL. */
const struct tok *search_match_other_trigram(struct tenant *t, const char *digits,
                                             const struct tok *first);

/* search_query.c */

/* Parses and checks the request into q (copy: a copy of req->q, cut into
 * words), its hash into qhash and its page token into *after (*has_after;
 * the token's strings into store, 3 malloc'd, the caller's to free).
 * Returns 0, or -1 with *problem. */
int search_query_parse(const Crm__SearchCustomersRequest *req, char *copy, struct query *q,
                       char qhash[17], struct after *after, bool *has_after, char *store[3],
                       struct search_problem *problem);
/* The page token of the hit h, the last shown (the caller frees it). */
char *search_query_token(const struct query *q, const char *qhash, const struct tenant *t,
                         const struct hit *h);

/* search_page.c */

/* Answers the request into resp (the customers into packed instead when
 * it is not NULL). Returns CM_OK, or CM_ERR_INVALID with *problem. */
cm_err_t search_page_answer(search_index_t *self, const char *tenant,
                            const Crm__SearchCustomersRequest *req,
                            Crm__SearchCustomersResponse *resp, cm_buf_t *packed,
                            struct search_problem *problem);

/* search_suggest.c */

/* Sets resp->suggestion from the query's words (an empty result's). */
void search_suggest_empty(const struct query *q, Crm__SearchCustomersResponse *resp);
/* Adds "did you mean" queries to resp->suggestion after an empty result. */
void search_suggest_spelling(search_index_t *self, const char *tenant,
                             const Crm__SearchCustomersRequest *req,
                             Crm__SearchCustomersResponse *resp);

#endif
