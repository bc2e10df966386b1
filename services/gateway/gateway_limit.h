/* Wrong API keys per client address. After max_failures wrong keys within
 * window_ms an address is locked out for lock_ms; each lock-out that follows
 * another (a failure within lock_max_ms of the last one) doubles, up to
 * lock_max_ms, so a lock-out always ends by itself. The table holds a fixed
 * number of addresses and forgets the quietest first. Thread-safe. */
#ifndef GATEWAY_LIMIT_H
#define GATEWAY_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GATEWAY_LIMIT_ADDR 64 // the longest address kept, with its NUL

struct gateway_limit_cfg {
    long max_failures; // wrong keys that lock an address out
    int64_t window_ms; // within this long
    int64_t lock_ms;   // the first lock-out
    int64_t lock_max_ms;
};

typedef struct gateway_limit gateway_limit_t;

/* A table of about n_entries addresses (rounded up to a power of two, at least 4). */
gateway_limit_t *gateway_limit_new(const struct gateway_limit_cfg *cfg, size_t n_entries);
void gateway_limit_destroy(gateway_limit_t **self_p);

/* Milliseconds the address must still wait at monotonic time now_ms (0: it may try). */
int64_t gateway_limit_wait(gateway_limit_t *self, const char *addr, int64_t now_ms);

/* Counts a wrong key from the address; returns the wait it starts (0 when none). */
int64_t gateway_limit_fail(gateway_limit_t *self, const char *addr, int64_t now_ms);

/* The client's address, which the limits count by (the wrong keys here, the
 * sign-in and reset limits of the customers service): peer, the connection's
 * numeric address; or, when peer is one of trusted (a comma-separated list
 * of numeric IPv4 and IPv6 addresses: the proxies in front), the right-most
 * address of xff (an X-Forwarded-For header, or NULL) that is not itself
 * trusted, walking left past trusted ones and stopping at anything that is
 * not an address. Addresses are written in their canonical form
 * (::ffff:10.0.0.1 as 10.0.0.1) into out (size bytes). */
void gateway_limit_client(const char *peer, const char *xff, const char *trusted, char *out,
                          size_t size);

/* True when text is "" or a comma-separated list of numeric addresses. */
bool gateway_limit_addresses_ok(const char *text);

#endif
