/* The in-memory index of every tenant's customers and the query over it.
 * Pure: no ZeroMQ, no SQL. Single-threaded: one caller at a time.
 *
 * Per tenant: each customer is held compactly (its packed crm.Customer plus
 * its folded names, e-mail, phone digits, groups and tags), found by id
 * through a hash table; sorted dictionaries of distinct folded tokens per
 * field (last name, first name, company, e-mail, phone digit trigrams, group,
 * tag) map each token to the customers holding it, so a prefix is a range of
 * a dictionary. See docs/search.md for matching and ranking. */
#ifndef SEARCH_INDEX_H
#define SEARCH_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_buf.h"
#include "cm_err.h"
#include "customers.pb-c.h"
#include "search.pb-c.h"

#define SEARCH_Q_MAX_CHARS 200
#define SEARCH_Q_MAX_WORDS 10
#define SEARCH_PAGE_DEFAULT 20
#define SEARCH_PAGE_MAX 100
#define SEARCH_TOTAL_CAP 10000

typedef struct search_index search_index_t;

search_index_t *search_index_new(void);
void search_index_destroy(search_index_t **self_p);

/* Testing: with on false, every query takes the general path (each
 * candidate's record read and matched), the reference the fast paths are
 * compared against. On by default. */
void search_index_set_fast(search_index_t *self, bool on);

/* Testing: a prefix held by at least n docs (and one in 64 of the live
 * ones) gets a bitmap of them, from the tenants made after this call on
 * (4096 by default; docs/search.md). */
void search_index_set_bitmap_min(search_index_t *self, uint32_t n);

/* Testing: a query of several plain words whose candidates are all
 * matches, more than min of them, is ranked tier by tier until that has
 * passed over factor postings per candidate, then the usual way
 * (docs/search.md; 64 and 32 by default). */
void search_index_set_walk(search_index_t *self, size_t min, size_t factor);

/* Bulk loading (a snapshot): while on, new tokens are only hashed, not kept
 * sorted, and the index must not be searched; turning it off sorts them in
 * once. Puts, deletes and version look-ups work in both modes. */
void search_index_bulk(search_index_t *self, bool on);

/* Holds customer c of tenant at its version (c->etag, an integer) when that
 * is newer than what the index holds and the id was not deleted. Returns 1
 * when applied, 0 when ignored as stale, -1 when c cannot be indexed (no
 * valid id or etag). */
int search_index_put(search_index_t *self, const char *tenant, const Crm__Customer *c);

/* Removes a customer and remembers the id as deleted (ids are never reused),
 * so no later update brings it back. Returns 1 when it was held, else 0. */
int search_index_delete(search_index_t *self, const char *tenant, const char *id);

/* The version held for a customer: 0 when unknown, -1 when deleted. */
long search_index_version(search_index_t *self, const char *tenant, const char *id);

/* What a request did wrong: the field (lowerCamelCase), an AIP-193 reason and
 * a description. */
struct search_problem {
    const char *field;
    const char *reason;
    char text[200];
};

/* Answers a search for tenant into resp (customers, next_page_token,
 * total_size, total_size_is_lower_bound, no_match, suggestion). Returns CM_OK,
 * or CM_ERR_INVALID with *problem filled. resp's new fields are malloc'd
 * (free with the response). */
cm_err_t search_index_search(search_index_t *self, const char *tenant,
                             const Crm__SearchCustomersRequest *req,
                             Crm__SearchCustomersResponse *resp,
                             struct search_problem *problem) CM_MUSTCHECK;

/* The same, but the page's customers are not put into resp: they are
 * appended to customers already packed, as elements of the response's
 * `customers` field (so customers followed by resp packed is the whole
 * response). For the service's reply: no unpacking of stored customers. */
cm_err_t search_index_search_packed(search_index_t *self, const char *tenant,
                                    const Crm__SearchCustomersRequest *req,
                                    Crm__SearchCustomersResponse *resp, cm_buf_t *customers,
                                    struct search_problem *problem) CM_MUSTCHECK;

/* Per-tenant figures for Stats: calls fn for each tenant with its live
 * customers and approximate bytes held. Returns the total bytes. */
typedef void (*search_index_stats_fn)(void *ud, const char *tenant, size_t customers, size_t bytes);
size_t search_index_stats(search_index_t *self, search_index_stats_fn fn, void *ud);

/* Live customers over all tenants. */
size_t search_index_count(const search_index_t *self);

#endif
