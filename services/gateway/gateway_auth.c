/* API-key cache: a hash table of key hashes with a FIFO for eviction. */
#include "gateway_auth.h"
#include "cm_session.h"
#include "cm_perm.h"
#include "cm_util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

struct s_entry {
    uint8_t hash[GATEWAY_AUTH_HASH];
    bool good;
    struct gateway_identity ident;
    int64_t expires;
    struct s_entry *chain;         // borrowed (the table's bucket list)
    struct s_entry *older, *newer; // borrowed (FIFO by insertion)
};

struct gateway_auth {
    pthread_mutex_t mu;
    size_t max, count;
    int64_t ttl_ok, ttl_bad;
    size_t n_buckets;
    struct s_entry **buckets;        // owned array; entries owned through it
    struct s_entry *oldest, *newest; // borrowed (entries)
};

gateway_auth_t *gateway_auth_new(size_t max_entries, int64_t ttl_ok_ms, int64_t ttl_bad_ms)
{
    gateway_auth_t *self = cm_calloc(1, sizeof *self);
    pthread_mutex_init(&self->mu, NULL);
    self->max = max_entries ? max_entries : 1;
    self->ttl_ok = ttl_ok_ms;
    self->ttl_bad = ttl_bad_ms;
    self->n_buckets = 1;
    while (self->n_buckets < self->max)
        self->n_buckets <<= 1;
    self->buckets = cm_calloc(self->n_buckets, sizeof *self->buckets);
    return self;
}

void gateway_auth_destroy(gateway_auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_auth_t *self = *self_p;
    for (struct s_entry *e = self->oldest, *next; e; e = next) {
        next = e->newer;
        sodium_memzero(e, sizeof *e);
        free(e);
    }
    free(self->buckets);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

void gateway_auth_hash(const char *api_key, uint8_t out[GATEWAY_AUTH_HASH])
{
    crypto_generichash(out, GATEWAY_AUTH_HASH, (const unsigned char *)api_key, strlen(api_key),
                       NULL, 0);
}

void gateway_auth_hash_cred(const char *cred, bool session, uint8_t out[GATEWAY_AUTH_HASH])
{
    _Static_assert(GATEWAY_AUTH_HASH == CM_SESSION_HASH_LEN, "one hash size");
    if (session)
        cm_session_token_hash(cred, out);
    else
        gateway_auth_hash(cred, out);
}

static size_t s_bucket(const gateway_auth_t *self, const uint8_t *hash)
{
    /* The hash is uniform already. */
    uint64_t v;
    memcpy(&v, hash, sizeof v);
    return (size_t)(v & (self->n_buckets - 1));
}

static struct s_entry *s_find(gateway_auth_t *self, const uint8_t *hash)
{
    for (struct s_entry *e = self->buckets[s_bucket(self, hash)]; e; e = e->chain)
        if (!memcmp(e->hash, hash, GATEWAY_AUTH_HASH))
            return e;
    return NULL;
}

static void s_remove(gateway_auth_t *self, struct s_entry *e)
{
    struct s_entry **pp = &self->buckets[s_bucket(self, e->hash)];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    if (e->older)
        e->older->newer = e->newer;
    else
        self->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        self->newest = e->older;
    self->count--;
    sodium_memzero(e, sizeof *e);
    free(e);
}

int gateway_auth_lookup(gateway_auth_t *self, const uint8_t hash[GATEWAY_AUTH_HASH], int64_t now_ms,
                        struct gateway_identity *ident)
{
    int rc = 0;
    pthread_mutex_lock(&self->mu);
    struct s_entry *e = s_find(self, hash);
    if (e && e->expires <= now_ms) {
        s_remove(self, e);
        e = NULL;
    }
    if (e && e->good) {
        *ident = e->ident;
        rc = 1;
    } else if (e) {
        rc = -1;
    }
    pthread_mutex_unlock(&self->mu);
    return rc;
}

void gateway_auth_store(gateway_auth_t *self, const uint8_t hash[GATEWAY_AUTH_HASH],
                        const struct gateway_identity *ident, int64_t now_ms)
{
    pthread_mutex_lock(&self->mu);
    struct s_entry *e = s_find(self, hash);
    if (e)
        s_remove(self, e);
    /* Full: drop expired entries near the old end (bounded work), then the
     * oldest. Insertion order is close to expiry order. */
    if (self->count >= self->max) {
        size_t looked = 0;
        for (struct s_entry *x = self->oldest, *next; x && looked < 64; x = next, looked++) {
            next = x->newer;
            if (x->expires <= now_ms)
                s_remove(self, x);
        }
    }
    while (self->count >= self->max)
        s_remove(self, self->oldest);
    e = cm_calloc(1, sizeof *e);
    memcpy(e->hash, hash, GATEWAY_AUTH_HASH);
    e->good = ident != NULL;
    if (ident)
        e->ident = *ident;
    int64_t ttl = ident ? self->ttl_ok : self->ttl_bad;
    if (ident && ident->kind == CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_STAFF &&
        ttl > GATEWAY_AUTH_TTL_SESSION_MS)
        ttl = GATEWAY_AUTH_TTL_SESSION_MS;
    e->expires = now_ms + ttl;
    size_t b = s_bucket(self, hash);
    e->chain = self->buckets[b];
    self->buckets[b] = e;
    e->older = self->newest;
    if (self->newest)
        self->newest->newer = e;
    else
        self->oldest = e;
    self->newest = e;
    self->count++;
    pthread_mutex_unlock(&self->mu);
}

void gateway_auth_principal(const struct gateway_identity *ident, Crm__Principal *pr,
                            const char **names)
{
    /* A scoped key whose scopes are all unknown here may do nothing. */
    static const char *nothing[] = {"none"};
    pr->id = (char *)ident->principal_id;
    pr->name = (char *)ident->principal_name;
    pr->role = (Crm__Role)ident->role;
    pr->kind = (Crm__PrincipalKind)ident->kind;
    pr->n_scopes = cm_scopes_names(ident->scopes, names);
    pr->scopes = (char **)names;
    if (ident->scoped && !pr->n_scopes) {
        pr->scopes = (char **)nothing;
        pr->n_scopes = 1;
    }
}

bool gateway_auth_allows(const struct gateway_identity *ident, unsigned scopes, char *why,
                         size_t size)
{
    Crm__Principal pr = CRM__PRINCIPAL__INIT;
    const char *names[CM_SCOPE_LAST];
    gateway_auth_principal(ident, &pr, names);
    for (int s = CM_SCOPE_FIRST; s <= CM_SCOPE_LAST; s++)
        if ((scopes & (1u << s)) && !cm_perm_allows(&pr, (enum cm_scope)s)) {
            snprintf(why, size, "this key may not %s (%s)", cm_scope_what((enum cm_scope)s),
                     cm_scope_name((enum cm_scope)s));
            return false;
        }
    return true;
}

void gateway_auth_forget(gateway_auth_t *self, const char *tenant, const char *principal_id)
{
    pthread_mutex_lock(&self->mu);
    for (struct s_entry *e = self->oldest, *next; e; e = next) {
        next = e->newer;
        if (e->good && !strcmp(e->ident.tenant_id, tenant) &&
            !strcmp(e->ident.principal_id, principal_id))
            s_remove(self, e);
    }
    pthread_mutex_unlock(&self->mu);
}

size_t gateway_auth_count(gateway_auth_t *self)
{
    pthread_mutex_lock(&self->mu);
    size_t n = self->count;
    pthread_mutex_unlock(&self->mu);
    return n;
}
