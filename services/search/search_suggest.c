/* The suggestion for an empty result: the query's words as a new
 * customer's fields, and "did you mean": queries one slip away from names
 * that exist. */
#include "search_index_impl.h"
#include "search_fold.h"
#include "search_spell.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdlib.h>
#include <string.h>

void search_suggest_empty(const struct query *q, Crm__SearchCustomersResponse *resp)
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
                search_buf_add(phone, " ", 1);
            search_buf_add(phone, w, strlen(w));
        } else if (n_names++ == 0) {
            first = w;
        } else {
            if (names->len)
                search_buf_add(names, " ", 1);
            search_buf_add(names, w, strlen(w));
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
                size_t lo = search_dict_lower(arrays[a], counts[a], one);
                size_t hi = search_dict_prefix_end(arrays[a], counts[a], lo, one, 1);
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
        struct span sp = search_dict_span(&t->dicts[dicts[di]], w);
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
            search_buf_add(q, " ", 1);
        search_buf_add(q, w, strlen(w));
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
void search_suggest_spelling(search_index_t *self, const char *tenant,
                             const Crm__SearchCustomersRequest *req,
                             Crm__SearchCustomersResponse *resp)
{
    struct tenant *t = search_index_tenant(self, tenant, false);
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
            if (search_page_answer(self, tenant, &r2, o, NULL, &pr) == CM_OK && o->total_size > 0) {
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
