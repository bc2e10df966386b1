/* The request: the query parsed into words and terms, the order, the
 * filters, and page tokens (made for the next page, read back from it). */
#include "search_index_impl.h"
#include "search_fold.h"
#include "cm_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

static const char s_order_letter[] = "rlfceu";

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

static void s_b64(cm_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    size_t bl = sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *tmp = cm_malloc(bl);
    sodium_bin2base64(tmp, bl, (const unsigned char *)s, n,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    search_buf_add(b, tmp, strlen(tmp));
    free(tmp);
}

char *search_query_token(const struct query *q, const char *qhash, const struct tenant *t,
                         const struct hit *h)
{
    const struct doc *d = &t->docs[h->doc];
    cm_buf_t buf, *b = &buf;
    cm_buf_init(b, 0);
    char head[80];
    snprintf(head, sizeof head, "%c%c.%d.%s.", s_order_letter[q->order], q->desc ? 'd' : 'a',
             h->tier, qhash);
    search_buf_add(b, head, strlen(head));
    for (int i = 0; i < 16; i++) {
        char hx[3];
        snprintf(hx, sizeof hx, "%02x", d->id[i]);
        search_buf_add(b, hx, 2);
    }
    /* The order's own key: the e-mail, or a time key in hex. */
    char key[2 * TIME_KEY + 1] = "";
    if (q->order == O_CREATED || q->order == O_UPDATED) {
        const uint8_t *k = search_time(d, q->order == O_CREATED ? T_CREATED : T_UPDATED);
        for (int i = 0; i < TIME_KEY; i++)
            snprintf(key + 2 * i, 3, "%02x", k[i]);
    }
    const char *strs[3] = {search_sort_last(d), search_field(d, F_FIRST),
                           q->order == O_EMAIL ? search_field(d, F_EMAIL) : key};
    for (int i = 0; i < 3; i++) {
        search_buf_add(b, ".", 1);
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
        int hi = cm_hex_digit(s[2 * i]), lo = hi < 0 ? -1 : cm_hex_digit(s[2 * i + 1]);
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
            int hi = cm_hex_digit(p->key_text[2 * i]), lo = cm_hex_digit(p->key_text[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            p->time[i] = (uint8_t)(hi * 16 + lo);
        }
    }
    return 0;
}

int search_query_parse(const Crm__SearchCustomersRequest *req, char *copy, struct query *q,
                       char qhash[17], struct after *after, bool *has_after, char *store[3],
                       struct search_problem *problem)
{
    if (req->page_size < 0 || req->page_size > SEARCH_PAGE_MAX) {
        s_problem(problem, "pageSize", "OUT_OF_RANGE", "pageSize must be 0..100 (0 means 20)");
        return -1;
    }
    if (s_parse_order(req->order_by, &q->order, &q->desc)) {
        s_problem(problem, "orderBy", "INVALID_FORMAT",
                  "orderBy must be relevance, lastName, firstName, email, createdAt or "
                  "updatedAt, optionally "
                  "followed by asc or desc");
        return -1;
    }
    if (s_parse_query(req->q, copy, q, problem))
        return -1;
    if (strlen(req->group) > 200 || strlen(req->tag) > 200) {
        s_problem(problem, strlen(req->group) > 200 ? "group" : "tag", "TOO_LONG",
                  "group and tag must be at most 200 bytes");
        return -1;
    }
    char *g = search_fold(req->group);
    snprintf(q->group, sizeof q->group, "%s", g);
    free(g);
    q->tag = req->tag;
    q->is_company = req->is_company ? req->is_company->value : -1;
    q->has_account = req->has_account ? req->has_account->value : -1;
    q->status = (int)req->account_status;
    s_qhash(req, qhash);
    *has_after = false;
    if (req->page_token[0]) {
        if (s_token_parse(req->page_token, q, qhash, after, store)) {
            s_problem(problem, "pageToken", "INVALID_FORMAT",
                      "pageToken does not belong to this query; start again without it");
            return -1;
        }
        *has_after = true;
    }
    return 0;
}
