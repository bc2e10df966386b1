/* Outbound HTTP with libcurl: one request, with connect and total timeouts,
 * TLS verification on, a User-Agent that names the product, and a cap on the
 * answer's size. Blocking: call it from a thread that may wait (a cm_svc
 * handler thread), never from a loop that must stay responsive. */
#ifndef CM_HTTP_H
#define CM_HTTP_H

#include <stddef.h>
#include "cm_err.h"

#define CM_HTTP_USER_AGENT "crm/1.0 (customer-management suite; +https://example.invalid/crm)"

struct cm_http_opts {
    long connect_timeout_ms;  // 0: 3000
    long timeout_ms;          // 0: 10000 (the whole request)
    size_t max_body;          // 0: 1 MiB; a longer answer fails with CM_ERR_UPSTREAM
    const char *content_type; // of the request body; NULL: application/json
    /* More request headers, each a whole "Name: value" line without CR or LF
     * (Authorization, Idempotency-Key, ...), NULL-terminated; NULL for none. */
    const char *const *headers;
};

struct cm_http_response {
    long status; // HTTP status, 0 when none came
    char *body;  // owned: NUL-terminated (the answer may hold NULs before it)
    size_t len;
    char error[256]; // what went wrong, for the log
};

/* Calls once libcurl's global set-up (thread-safe; cm_http_request does it too). */
void cm_http_init(void);

/* Sends method (GET or POST) to url with body (POST; NULL for none) and fills
 * *r (release it with cm_http_response_release, on every path). Returns CM_OK
 * when an answer came, whatever its status; CM_ERR_TIMEOUT when none came in
 * time; CM_ERR_UNAVAILABLE when the server could not be reached (name, connect,
 * TLS); CM_ERR_UPSTREAM for an answer over max_body or a broken one. */
cm_err_t cm_http_request(const char *method, const char *url, const char *body, size_t body_len,
                         const struct cm_http_opts *opts, struct cm_http_response *r) CM_MUSTCHECK;

void cm_http_response_release(struct cm_http_response *r);

#endif
