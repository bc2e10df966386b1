/* Fuzzes the search service's pure logic: folding and tokenising, and the
 * index answering hostile requests.
 *
 * Byte 0 even: folding. Byte 1 is a parameter (the small output buffer), the
 * rest the text. Checks: folding is idempotent and keeps valid UTF-8 valid;
 * words are single-space separated, fold again to themselves, and a small
 * buffer gets a whole-word prefix; digits and numeric words match a
 * reference.
 *
 * Byte 0 odd: a search. Byte 1 picks orderBy (bits 0-2; 7: from the input)
 * and, in bits 3-7, how the index is built; byte 2 the pageSize; byte 3 the
 * filters (bit 0/1 isCompany set/value, 2/3 hasAccount, 4-5 accountStatus,
 * 6 group, 7 tag). Then lines: q, pageToken, orderBy (only when picked), group,
 * tag, and customers "first|last|email|phone|company|group,group|tag,tag"
 * ("-N" deletes fixed customer N). Checks: no crash; a refusal names a field;
 * at most pageSize customers, totalSize >= those returned, each one is a live
 * customer of this tenant with what was put; paging through every page never
 * repeats a customer and sees exactly totalSize of them; and a general-path
 * index (search_index_set_fast false) gives the very same pages. */
#include "fuzz.h"
#include "search_fold.h"
#include "search_index.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdbool.h>

/* ---- folding --------------------------------------------------------------- */

static bool s_valid(const char *s)
{
    return cm_utf8_valid(s, strlen(s), NULL);
}

static void s_words_shape(const char *w)
{
    size_t n = strlen(w);
    FUZZ_CHECK(n == 0 || (w[0] != ' ' && w[n - 1] != ' '));
    FUZZ_CHECK(!strstr(w, "  "));
}

static void s_fold(const char *in, unsigned param)
{
    bool valid = s_valid(in);
    char *f = search_fold(in);
    if (valid) {
        FUZZ_CHECK(s_valid(f));
        char *ff = search_fold(f);
        if (strcmp(f, ff)) {
            fprintf(stderr, "fold not idempotent: \"%s\" -> \"%s\" -> \"%s\"\n", in, f, ff);
            abort();
        }
        free(ff);
    } else {
        /* Not UTF-8: ASCII letters lowered, every other byte kept. */
        FUZZ_CHECK(strlen(f) == strlen(in));
        for (size_t i = 0; in[i]; i++)
            FUZZ_CHECK(f[i] == ((in[i] >= 'A' && in[i] <= 'Z') ? in[i] - 'A' + 'a' : in[i]));
    }

    size_t big = 4 * strlen(in) + 64;
    char *w = cm_malloc(big);
    size_t wn = search_fold_words(in, w, big);
    FUZZ_CHECK(wn == strlen(w));
    s_words_shape(w);
    if (valid) {
        FUZZ_CHECK(s_valid(w));
        char *w2 = cm_malloc(big);
        search_fold_words(w, w2, big);
        if (strcmp(w, w2)) {
            fprintf(stderr, "fold_words not idempotent: \"%s\" -> \"%s\" -> \"%s\"\n", in, w, w2);
            abort();
        }
        free(w2);
    }
    /* A small buffer holds whole words from the start. */
    size_t small = 1 + param % 32;
    char *cut = cm_malloc(small);
    size_t cn = search_fold_words(in, cut, small);
    FUZZ_CHECK(cn == strlen(cut) && cn < small);
    if (strncmp(cut, w, cn) || (cn && w[cn] != ' ' && w[cn] != '\0')) {
        fprintf(stderr, "fold_words cut to %zu bytes: \"%s\", not a whole-word prefix of \"%s\"\n",
                small, cut, w);
        abort();
    }
    free(cut);
    free(w);
    free(f);

    char digits[16];
    size_t dn = search_digits(in, digits, sizeof digits), want = 0;
    bool numeric = true, has_digit = false;
    for (const char *p = in; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (want + 1 < sizeof digits)
                FUZZ_CHECK(digits[want++] == *p);
            has_digit = true;
        } else if (!strchr("+-()./", *p)) {
            numeric = false;
        }
    }
    FUZZ_CHECK(dn == want && digits[dn] == '\0');
    FUZZ_CHECK(search_is_numeric(in) == (numeric && has_digit));
}

/* ---- the index ------------------------------------------------------------- */

#define T1 "00000000-0000-4000-8000-000000000001"
#define T2 "00000000-0000-4000-8000-000000000002"
#define N_FIXED 10
#define N_INPUT 8
#define N_IDS 200 // ids 1..N_FIXED fixed, 100.. from the input, 199 the other tenant's

struct s_fixed {
    const char *first, *last, *email, *phone, *company, *group, *tag;
};

static const struct s_fixed s_fixed[N_FIXED] = {
    {"Jan", "Kowalski", "jan.kowalski@example.com", "+48600123456", "", "VIP", "gold"},
    {"Łukasz", "Müller", "lukasz@example.de", "+4930123456", "", "Stammkunden", ""},
    {"Øyvind", "Ødegård", "", "+4791234567", "", "", "nordic"},
    {"Иван", "Петров", "ivan@example.ru", "+74951234567", "", "VIP", ""},
    {"Άννα", "Straße", "anna+crm@example.gr", "", "", "", "gold"},
    {"", "", "biuro.glowne_x+crm@bistro.example", "+48221234567", "Bistro Janina", "Firmy", ""},
    {"Seán", "O'Brien", "sean@example.ie", "+35312345678", "", "", ""},
    {"Ǆemal", "Đorđević", "", "+381111234567", "", "ﬁrmy", "x"},
    {"Zoë", "Van Dyke", "zoe@example.nl", "", "", "", ""},
    {"山田", "太郎", "taro@example.jp", "+81312345678", "", "", ""},
};

/* What the index should hold for an id. */
struct s_held {
    bool live;
    char *first, *last; // owned
    long version;
};

struct s_world {
    search_index_t *idx[2]; // fast, general
    struct s_held held[N_IDS];
};

static void s_id(int n, char id[40])
{
    snprintf(id, 40, "00000000-0000-4000-8000-%012d", n);
}

static char **s_split_list(const char *s, size_t *n)
{
    *n = 0;
    if (!s[0])
        return NULL;
    char **out = cm_calloc(8, sizeof *out);
    const uint8_t *d = (const uint8_t *)s;
    size_t size = strlen(s);
    while (size && *n < 8)
        out[(*n)++] = fuzz_take(&d, &size, ',');
    return out;
}

static void s_put(struct s_world *w, const char *tenant, int n, long version,
                  const struct s_fixed *f, unsigned flags)
{
    Crm__Customer *c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    char id[40], created[40], etag[24];
    s_id(n, id);
    snprintf(created, sizeof created, "2024-01-%02dT00:00:%02d.000000Z", 1 + n % 28, (n * 7) % 60);
    snprintf(etag, sizeof etag, "%ld", version);
    cm_pb_set_str(&c->id, id);
    cm_pb_set_str(&c->etag, etag);
    cm_pb_set_str(&c->created_at, created);
    cm_pb_set_str(&c->first_name, f->first);
    cm_pb_set_str(&c->last_name, f->last);
    cm_pb_set_str(&c->email, f->email);
    cm_pb_set_str(&c->phone, f->phone);
    if (f->company[0]) {
        c->is_company = true;
        c->company = (Crm__Company *)cm_pb_new(&crm__company__descriptor);
        cm_pb_set_str(&c->company->name, f->company);
    }
    if (flags & 3) {
        c->account = (Crm__Account *)cm_pb_new(&crm__account__descriptor);
        c->account->status = (Crm__AccountStatus)(flags & 3);
    }
    c->groups = s_split_list(f->group, &c->n_groups);
    c->tags = s_split_list(f->tag, &c->n_tags);
    int r0 = search_index_put(w->idx[0], tenant, c);
    int r1 = search_index_put(w->idx[1], tenant, c);
    FUZZ_CHECK(r0 == r1 && r0 >= 0);
    if (r0 == 1 && !strcmp(tenant, T1)) {
        struct s_held *h = &w->held[n];
        free(h->first);
        free(h->last);
        h->live = true;
        h->first = cm_strdup(f->first);
        h->last = cm_strdup(f->last);
        h->version = version;
    }
    crm__customer__free_unpacked(c, NULL);
}

static void s_delete(struct s_world *w, int n)
{
    char id[40];
    s_id(n, id);
    int r0 = search_index_delete(w->idx[0], T1, id);
    int r1 = search_index_delete(w->idx[1], T1, id);
    FUZZ_CHECK(r0 == r1 && r0 == (int)w->held[n].live);
    w->held[n].live = false;
    FUZZ_CHECK(search_index_version(w->idx[0], T1, id) == -1);
}

static int s_id_num(const char *id)
{
    char want[40];
    if (strlen(id) != 36)
        return -1;
    long n = strtol(id + 24, NULL, 10);
    if (n < 0 || n >= N_IDS)
        return -1;
    s_id((int)n, want);
    return strcmp(want, id) ? -1 : (int)n;
}

/* Every customer returned is live in T1 with what was put. */
static void s_check_page(const struct s_world *w, const Crm__SearchCustomersResponse *r,
                         size_t page, bool q_valid)
{
    FUZZ_CHECK(r->n_customers <= page);
    FUZZ_CHECK(r->total_size >= 0 && (size_t)r->total_size >= r->n_customers);
    FUZZ_CHECK(r->no_match == (r->total_size == 0));
    FUZZ_CHECK(!r->no_match || r->n_customers == 0);
    FUZZ_CHECK(!r->next_page_token[0] || r->n_customers == page);
    for (const char *p = r->next_page_token; *p; p++)
        FUZZ_CHECK(*p > 0x20 && *p < 0x7f);
    for (size_t i = 0; i < r->n_customers; i++) {
        const Crm__Customer *c = r->customers[i];
        FUZZ_CHECK(c);
        int n = s_id_num(c->id);
        if (n < 0 || !w->held[n].live) {
            fprintf(stderr, "search returned %s, not a live customer of this tenant\n", c->id);
            abort();
        }
        const struct s_held *h = &w->held[n];
        FUZZ_CHECK(!strcmp(c->first_name, h->first) && !strcmp(c->last_name, h->last));
        FUZZ_CHECK(strtol(c->etag, NULL, 10) == h->version);
    }
    if (r->suggestion && q_valid) {
        const Crm__SearchSuggestion *s = r->suggestion;
        FUZZ_CHECK(s_valid(s->first_name) && s_valid(s->last_name) && s_valid(s->email) &&
                   s_valid(s->phone));
    }
}

static Crm__SearchCustomersResponse *s_search(search_index_t *idx,
                                              const Crm__SearchCustomersRequest *req, cm_err_t *rc,
                                              struct search_problem *p)
{
    Crm__SearchCustomersResponse *r =
        (Crm__SearchCustomersResponse *)cm_pb_new(&crm__search_customers_response__descriptor);
    memset(p, 0, sizeof *p);
    *rc = search_index_search(idx, T1, req, r, p);
    if (*rc != CM_OK) {
        FUZZ_CHECK(*rc == CM_ERR_INVALID);
        FUZZ_CHECK(p->field && p->field[0] && p->reason && p->reason[0] && p->text[0]);
        FUZZ_CHECK(memchr(p->text, '\0', sizeof p->text));
        return r;
    }
    /* The service's packed reply decodes to the same message. */
    Crm__SearchCustomersResponse *b =
        (Crm__SearchCustomersResponse *)cm_pb_new(&crm__search_customers_response__descriptor);
    cm_buf_t body;
    cm_buf_init(&body, 0);
    struct search_problem p2;
    FUZZ_CHECK(search_index_search_packed(idx, T1, req, b, &body, &p2) == CM_OK);
    size_t rest = protobuf_c_message_get_packed_size(&b->base);
    uint8_t *tail = cm_malloc(rest + 1);
    protobuf_c_message_pack(&b->base, tail);
    FUZZ_CHECK(cm_buf_append(&body, tail, rest) == 0);
    Crm__SearchCustomersResponse *c =
        crm__search_customers_response__unpack(NULL, body.len, (const uint8_t *)body.data);
    FUZZ_CHECK(c != NULL);
    size_t la = protobuf_c_message_get_packed_size(&r->base);
    size_t lc = protobuf_c_message_get_packed_size(&c->base);
    uint8_t *pa = cm_malloc(la + 1), *pc = cm_malloc(lc + 1);
    protobuf_c_message_pack(&r->base, pa);
    protobuf_c_message_pack(&c->base, pc);
    FUZZ_CHECK(la == lc && !memcmp(pa, pc, la));
    free(pa);
    free(pc);
    free(tail);
    cm_buf_release(&body);
    crm__search_customers_response__free_unpacked(b, NULL);
    crm__search_customers_response__free_unpacked(c, NULL);
    return r;
}

static void s_same(const Crm__SearchCustomersResponse *a, const Crm__SearchCustomersResponse *b,
                   const Crm__SearchCustomersRequest *req, int page_no)
{
    bool same = a->n_customers == b->n_customers && a->total_size == b->total_size &&
                a->total_size_is_lower_bound == b->total_size_is_lower_bound &&
                a->no_match == b->no_match && !strcmp(a->next_page_token, b->next_page_token);
    for (size_t i = 0; same && i < a->n_customers; i++)
        same = !strcmp(a->customers[i]->id, b->customers[i]->id);
    if (same)
        return;
    fprintf(stderr, "q=\"%s\" orderBy=\"%s\" pageSize=%d group=\"%s\" tag=\"%s\" page %d:\n",
            req->q, req->order_by, req->page_size, req->group, req->tag, page_no);
    const Crm__SearchCustomersResponse *r[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        fprintf(stderr, "  %s total %d%s next \"%s\":", k ? "general" : "fast   ", r[k]->total_size,
                r[k]->total_size_is_lower_bound ? "+" : "", r[k]->next_page_token);
        for (size_t i = 0; i < r[k]->n_customers; i++)
            fprintf(stderr, " %d", s_id_num(r[k]->customers[i]->id));
        fprintf(stderr, "\n");
    }
    abort();
}

/* Pages through every result from the first page; returns false when the
 * request itself is refused. */
static bool s_walk(struct s_world *w, Crm__SearchCustomersRequest *req, bool q_valid)
{
    bool seen[N_IDS] = {false};
    size_t page = req->page_size ? (size_t)req->page_size : SEARCH_PAGE_DEFAULT, shown = 0;
    int32_t total = -1;
    char *token = cm_strdup("");
    bool ok = true;
    for (int page_no = 0;; page_no++) {
        FUZZ_CHECK(page_no <= N_IDS);
        req->page_token = token;
        cm_err_t rc[2];
        struct search_problem p[2];
        Crm__SearchCustomersResponse *r[2];
        for (int k = 0; k < 2; k++)
            r[k] = s_search(w->idx[k], req, &rc[k], &p[k]);
        FUZZ_CHECK(rc[0] == rc[1]);
        if (rc[0] != CM_OK) {
            /* A token the index made itself is never refused. */
            FUZZ_CHECK(page_no == 0);
            FUZZ_CHECK(!strcmp(p[0].field, p[1].field));
            ok = false;
        } else {
            s_same(r[0], r[1], req, page_no);
            s_check_page(w, r[0], page, q_valid);
            if (total < 0)
                total = r[0]->total_size;
            FUZZ_CHECK(r[0]->total_size == total);
            for (size_t i = 0; i < r[0]->n_customers; i++) {
                int n = s_id_num(r[0]->customers[i]->id);
                if (seen[n]) {
                    fprintf(stderr, "q=\"%s\" orderBy=\"%s\": customer %d on two pages\n", req->q,
                            req->order_by, n);
                    abort();
                }
                seen[n] = true;
                shown++;
            }
            free(token);
            token = cm_strdup(r[0]->next_page_token);
        }
        for (int k = 0; k < 2; k++)
            crm__search_customers_response__free_unpacked(r[k], NULL);
        if (!ok || !token[0])
            break;
    }
    if (ok && shown != (size_t)total) {
        fprintf(stderr, "q=\"%s\" orderBy=\"%s\" pageSize=%zu: totalSize %d, pages showed %zu\n",
                req->q, req->order_by, page, total, shown);
        abort();
    }
    req->page_token = (char *)"";
    free(token);
    return ok;
}

static void s_index(unsigned pick, unsigned size_byte, unsigned filt, const uint8_t *data,
                    size_t size)
{
    static const char *const orders[7] = {
        "",          "relevance",      "lastName",     "firstName desc",
        "createdAt", "createdAt desc", "lastName asc",
    };
    struct s_world w;
    memset(&w, 0, sizeof w);
    w.idx[0] = search_index_new();
    w.idx[1] = search_index_new();
    search_index_set_fast(w.idx[1], false);

    char *q = fuzz_take(&data, &size, '\n');
    char *token = fuzz_take(&data, &size, '\n');
    char *order = (pick & 7) == 7 ? fuzz_take(&data, &size, '\n') : cm_strdup(orders[pick & 7]);
    char *group = fuzz_take(&data, &size, '\n');
    char *tag = fuzz_take(&data, &size, '\n');

    /* The fixed customers (bit 3: only half of them), and one of another tenant. */
    for (int i = 0; i < N_FIXED; i++)
        if (!(pick & 8) || i % 2 == 0)
            s_put(&w, T1, 1 + i, 1, &s_fixed[i], (unsigned)i);
    s_put(&w, T2, N_IDS - 1, 1, &s_fixed[0], 0);
    int n_input = 0;
    while (size && n_input < N_INPUT) {
        char *line = fuzz_take(&data, &size, '\n');
        if (line[0] == '-') {
            s_delete(&w, 1 + (unsigned char)line[1] % N_FIXED);
            free(line);
            continue;
        }
        const uint8_t *ld = (const uint8_t *)line;
        size_t ls = strlen(line);
        char *fld[7];
        for (int k = 0; k < 7; k++)
            fld[k] = fuzz_take(&ld, &ls, '|');
        struct s_fixed f = {fld[0], fld[1], fld[2], fld[3], fld[4], fld[5], fld[6]};
        /* Bit 4: the input updates fixed customers (a newer version) instead. */
        int n = pick & 16 ? 1 + n_input % N_FIXED : 100 + n_input;
        s_put(&w, T1, n, pick & 16 ? 2 : 1, &f, pick >> 5);
        n_input++;
        for (int k = 0; k < 7; k++)
            free(fld[k]);
        free(line);
    }

    Crm__BoolValue company = CRM__BOOL_VALUE__INIT, account = CRM__BOOL_VALUE__INIT;
    company.value = filt & 2;
    account.value = filt & 8;
    Crm__SearchCustomersRequest req = CRM__SEARCH_CUSTOMERS_REQUEST__INIT;
    req.q = q;
    req.order_by = order;
    req.group = filt & 64 ? group : (char *)"";
    req.tag = filt & 128 ? tag : (char *)"";
    req.is_company = filt & 1 ? &company : NULL;
    req.has_account = filt & 4 ? &account : NULL;
    req.account_status = (Crm__AccountStatus)((filt >> 4) & 3);
    bool q_valid = s_valid(q);

    /* Every page, small pages. */
    req.page_size = (int32_t)(1 + size_byte % 5);
    bool valid = s_walk(&w, &req, q_valid);
    /* The input's pageSize (0..100 valid; 0 means 20). */
    req.page_size = size_byte <= 100 ? (int32_t)size_byte : (int32_t)size_byte * 1000 - 200000;
    if (req.page_size >= 0 && req.page_size <= SEARCH_PAGE_MAX && valid)
        (void)s_walk(&w, &req, q_valid);
    /* The input's page token. */
    req.page_token = token;
    cm_err_t rc;
    struct search_problem p;
    Crm__SearchCustomersResponse *r = s_search(w.idx[0], &req, &rc, &p);
    bool size_ok = req.page_size >= 0 && req.page_size <= SEARCH_PAGE_MAX;
    if (rc == CM_OK) {
        FUZZ_CHECK(valid && size_ok);
        s_check_page(&w, r, req.page_size ? (size_t)req.page_size : SEARCH_PAGE_DEFAULT, q_valid);
    } else if (valid && size_ok) {
        /* Only the token can be wrong now. */
        FUZZ_CHECK(!strcmp(p.field, "pageToken"));
    }
    crm__search_customers_response__free_unpacked(r, NULL);

    for (int i = 0; i < N_IDS; i++) {
        free(w.held[i].first);
        free(w.held[i].last);
    }
    search_index_destroy(&w.idx[0]);
    search_index_destroy(&w.idx[1]);
    FUZZ_CHECK(w.idx[0] == NULL);
    free(q);
    free(token);
    free(order);
    free(group);
    free(tag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 4096)
        return 0;
    if (data[0] % 2 == 0) {
        char *in = fuzz_strndup(data + 2, size - 2);
        s_fold(in, data[1]);
        free(in);
        return 0;
    }
    if (size < 4)
        return 0;
    s_index(data[1], data[2], data[3], data + 4, size - 4);
    return 0;
}
