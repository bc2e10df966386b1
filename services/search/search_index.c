/* The search index: its tenants, their customers by id, and the public
 * write side (put, delete, version, stats) and entry points. The
 * dictionaries are in search_dict.c, a customer's tokens in search_doc.c,
 * the name order in search_order.c and the query in search_page.c. */
#include "search_index_impl.h"
#include "search_fold.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        search_dict_free(&t->dicts[d]);
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

struct tenant *search_index_tenant(search_index_t *self, const char *id, bool create)
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

/* ---------------------------------------------------------------------- */
/* Ids                                                                     */

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
        int hi = cm_hex_digit(s[i]), lo = cm_hex_digit(s[i + 1]);
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

void search_index_slot_put(struct tenant *t, uint32_t doc)
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
            search_index_slot_put(t, i);
    } else {
        search_index_slot_put(t, doc);
    }
    return doc;
}

/* ---------------------------------------------------------------------- */
/* Putting and deleting customers                                          */

void search_index_bulk(search_index_t *self, bool on)
{
    self->bulk = on;
    for (size_t i = 0; i < self->n_tenants; i++) {
        struct tenant *t = self->tenants[i];
        bool was = t->bulk;
        t->bulk = on;
        for (int k = 0; k < D_N; k++)
            search_dict_bulk(&t->dicts[k], on);
        if (was && !on)
            search_order_renumber(t);
    }
}

/* Drops a live doc's data and postings; with keep_order its place in the
 * name order and its label stay (its names are not changing). */
static void s_unindex(struct tenant *t, uint32_t doc, bool keep_order)
{
    struct doc *d = &t->docs[doc];
    if (!d->data)
        return;
    search_doc_remove(t, doc);
    if (!keep_order) {
        if (!t->bulk)
            search_order_remove(t, doc);
        t->label[doc] = 0;
    }
    t->data_bytes -= d->packed_len + T_N * TIME_KEY + (size_t)d->f[F_N - 2] + 64;
    free(d->data);
    d->data = NULL;
    d->flags = 0;
    t->live--;
}

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
    struct tenant *t = search_index_tenant(self, tenant, true);
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
        keep = !strcmp(search_sort_last(d), last) &&
               !strcmp(search_field(d, F_FIRST), blob + f[F_FIRST]);
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
    search_doc_time_key(c->created_at, d->data + plen + T_CREATED * TIME_KEY);
    search_doc_time_key(c->updated_at, d->data + plen + T_UPDATED * TIME_KEY);
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
        search_order_insert(t, doc);
    t->live++;
    t->data_bytes += plen + T_N * TIME_KEY + f[F_N - 1] + 64;
    search_doc_add(t, doc);
    return 1;
}

int search_index_delete(search_index_t *self, const char *tenant, const char *id)
{
    uint8_t bin[16];
    if (s_uuid_parse(id, bin))
        return 0;
    struct tenant *t = search_index_tenant(self, tenant, true);
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
    struct tenant *t = search_index_tenant(self, tenant, false);
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

cm_err_t search_index_search(search_index_t *self, const char *tenant,
                             const Crm__SearchCustomersRequest *req,
                             Crm__SearchCustomersResponse *resp, struct search_problem *problem)
{
    cm_err_t rc = search_page_answer(self, tenant, req, resp, NULL, problem);
    if (rc == CM_OK && resp->no_match && !req->page_token[0])
        search_suggest_spelling(self, tenant, req, resp);
    return rc;
}

cm_err_t search_index_search_packed(search_index_t *self, const char *tenant,
                                    const Crm__SearchCustomersRequest *req,
                                    Crm__SearchCustomersResponse *resp, cm_buf_t *customers,
                                    struct search_problem *problem)
{
    cm_err_t rc = search_page_answer(self, tenant, req, resp, customers, problem);
    if (rc == CM_OK && resp->no_match && !req->page_token[0])
        search_suggest_spelling(self, tenant, req, resp);
    return rc;
}
