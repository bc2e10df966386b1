/* Staff sessions at the gateway: the `crm_session` cookie (HttpOnly,
 * SameSite=Lax, Path=/, Secure under TLS), the CSRF check of a write the
 * cookie authenticates (X-CSRF-Token, cm_session_csrf) and the refusal of a
 * cross-site Origin, and what a session route's reply does to the cookie and
 * to the credential cache. The pure parts are separate for unit tests. */
#ifndef GATEWAY_SESSION_H
#define GATEWAY_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gateway_auth.h"
#include "gateway_routes.h"
#include "gateway_status.h"

#define GATEWAY_SESSION_COOKIE "crm_session"
#define GATEWAY_CSRF_HEADER "X-CSRF-Token"

/* Finds the crm_session cookie in a Cookie header (NULL: none) and copies
 * its value into out (size bytes). Returns out, or NULL when there is no
 * such cookie, its value is empty or does not fit. */
const char *gateway_session_cookie(const char *cookie_header, char *out, size_t size);

/* True when an Origin header (NULL: none sent, as from a non-browser
 * client) names the host the request was sent to (the Host header): the
 * scheme is dropped and host[:port] compared, case-insensitively. "null"
 * and any other host are cross-site. */
bool gateway_session_origin_ok(const char *origin, const char *host);

/* True for a method that changes nothing (GET, HEAD, OPTIONS): no CSRF token needed. */
bool gateway_session_safe_method(const char *method);

/* The Set-Cookie value that sets token (max_age_s: the session's absolute
 * life) or, for token NULL, clears the cookie. Caller frees. */
char *gateway_session_set_cookie(const char *token, long max_age_s, bool secure);

/* After a session route answered (resp holds its answer): on OK, sets the
 * cookie from a StaffSession reply (GATEWAY_SESSION_SET), clears it
 * (GATEWAY_SESSION_CLEAR; also on 401, a session that had ended), and
 * forgets the cached sessions of the member a crm.Staff reply names
 * (GATEWAY_SESSION_EVICT). body is the reply's packed message. */
void gateway_session_after(const struct gateway_route *route, const uint8_t *body, size_t body_len,
                           bool secure, gateway_auth_t *auth, struct gateway_response *resp);

#endif
