/* Wrong API keys per client address: a set-associative table of addresses. */
#include "gateway_limit.h"
#include "cm_util.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WAYS 4 // addresses that share a set

struct s_entry {
    char addr[GATEWAY_LIMIT_ADDR]; // "" when free
    int64_t window_start;          // the first failure counted in the window
    long failures;                 // in the window
    int64_t last_failure;
    int64_t locked_until;
    int locks; // lock-outs in a row
};

struct gateway_limit {
    pthread_mutex_t mu;
    struct gateway_limit_cfg cfg;
    size_t n_sets;
    struct s_entry *entries; // owned: n_sets * S_WAYS
};

gateway_limit_t *gateway_limit_new(const struct gateway_limit_cfg *cfg, size_t n_entries)
{
    gateway_limit_t *self = cm_calloc(1, sizeof *self);
    pthread_mutex_init(&self->mu, NULL);
    self->cfg = *cfg;
    if (self->cfg.max_failures < 1)
        self->cfg.max_failures = 1;
    self->n_sets = 1;
    while (self->n_sets * S_WAYS < n_entries)
        self->n_sets <<= 1;
    self->entries = cm_calloc(self->n_sets * S_WAYS, sizeof *self->entries);
    return self;
}

void gateway_limit_destroy(gateway_limit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_limit_t *self = *self_p;
    free(self->entries);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

/* FNV-1a: addresses are short and the table only spreads them. */
static size_t s_set(const gateway_limit_t *self, const char *addr)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h & (self->n_sets - 1));
}

/* The address's entry, or NULL; with make, a new one in place of the
 * quietest of its set (never one still locked while another is not). */
static struct s_entry *s_find(gateway_limit_t *self, const char *addr, int64_t now, bool make)
{
    struct s_entry *set = &self->entries[s_set(self, addr) * S_WAYS];
    for (int i = 0; i < S_WAYS; i++)
        if (set[i].addr[0] && !strncmp(set[i].addr, addr, GATEWAY_LIMIT_ADDR - 1))
            return &set[i];
    if (!make)
        return NULL;
    struct s_entry *victim = &set[0];
    for (int i = 0; i < S_WAYS; i++) {
        struct s_entry *e = &set[i];
        if (!e->addr[0]) {
            victim = e;
            break;
        }
        bool e_locked = e->locked_until > now, v_locked = victim->locked_until > now;
        if ((v_locked && !e_locked) ||
            (v_locked == e_locked && e->last_failure < victim->last_failure))
            victim = e;
    }
    memset(victim, 0, sizeof *victim);
    snprintf(victim->addr, sizeof victim->addr, "%s", addr);
    return victim;
}

int64_t gateway_limit_wait(gateway_limit_t *self, const char *addr, int64_t now_ms)
{
    pthread_mutex_lock(&self->mu);
    const struct s_entry *e = s_find(self, addr, now_ms, false);
    int64_t wait = e && e->locked_until > now_ms ? e->locked_until - now_ms : 0;
    pthread_mutex_unlock(&self->mu);
    return wait;
}

int64_t gateway_limit_fail(gateway_limit_t *self, const char *addr, int64_t now_ms)
{
    const struct gateway_limit_cfg *c = &self->cfg;
    pthread_mutex_lock(&self->mu);
    struct s_entry *e = s_find(self, addr, now_ms, true);
    int64_t wait = 0;
    if (e->locked_until > now_ms) {
        /* Locked already: a failure now neither counts nor lengthens it. */
        wait = e->locked_until - now_ms;
        goto out;
    }
    /* Quiet for a whole longest lock-out: the next lock-out is a first one again. */
    if (e->last_failure && now_ms - e->last_failure > c->lock_max_ms)
        e->locks = 0;
    if (!e->failures || now_ms - e->window_start > c->window_ms) {
        e->window_start = now_ms;
        e->failures = 0;
    }
    e->failures++;
    e->last_failure = now_ms;
    if (e->failures >= c->max_failures) {
        int64_t lock = c->lock_ms;
        for (int i = 0; i < e->locks && lock < c->lock_max_ms; i++)
            lock *= 2;
        if (lock > c->lock_max_ms)
            lock = c->lock_max_ms;
        e->locked_until = now_ms + lock;
        e->locks++;
        e->failures = 0;
        wait = lock;
    }
out:
    pthread_mutex_unlock(&self->mu);
    return wait;
}

/* ---------------------------------------------------------------------- */
/* The client's address behind trusted proxies                             */

struct s_ip {
    int af; // AF_INET or AF_INET6
    unsigned char b[16];
};

/* Parses the n bytes of text (spaces around are dropped) as a numeric
 * address; an IPv4-mapped IPv6 one becomes IPv4. */
static bool s_ip_parse(const char *text, size_t n, struct s_ip *ip)
{
    while (n && *text == ' ') {
        text++;
        n--;
    }
    while (n && text[n - 1] == ' ')
        n--;
    char buf[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, text, n);
    buf[n] = '\0';
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (inet_pton(AF_INET, buf, ip->b) == 1) {
        ip->af = AF_INET;
    } else if (inet_pton(AF_INET6, buf, ip->b) == 1) {
        ip->af = AF_INET6;
        if (!memcmp(ip->b, mapped, sizeof mapped)) {
            memmove(ip->b, ip->b + 12, 4);
            ip->af = AF_INET;
        }
    } else {
        return false;
    }
    return true;
}

static bool s_ip_trusted(const struct s_ip *ip, const char *trusted)
{
    for (const char *p = trusted; p && *p;) {
        size_t n = strcspn(p, ",");
        struct s_ip t;
        if (s_ip_parse(p, n, &t) && t.af == ip->af &&
            !memcmp(t.b, ip->b, ip->af == AF_INET ? 4 : 16))
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

void gateway_limit_client(const char *peer, const char *xff, const char *trusted, char *out,
                          size_t size)
{
    struct s_ip ip;
    snprintf(out, size, "%s", peer);
    if (!s_ip_parse(peer, strlen(peer), &ip))
        return;
    if (trusted && *trusted && xff && s_ip_trusted(&ip, trusted)) {
        /* Right to left: each hop appends the address it saw. */
        size_t end = strlen(xff);
        while (end > 0) {
            size_t start = end;
            while (start > 0 && xff[start - 1] != ',')
                start--;
            struct s_ip hop;
            if (!s_ip_parse(xff + start, end - start, &hop))
                break;
            ip = hop;
            if (!s_ip_trusted(&hop, trusted))
                break;
            end = start ? start - 1 : 0;
        }
    }
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(ip.af, ip.b, text, sizeof text))
        snprintf(out, size, "%s", text);
}

bool gateway_limit_addresses_ok(const char *text)
{
    for (const char *p = text; p && *p;) {
        size_t n = strcspn(p, ",");
        struct s_ip ip;
        if (!s_ip_parse(p, n, &ip))
            return false;
        p += n + (p[n] == ',');
    }
    return true;
}
