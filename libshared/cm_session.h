/* Staff session tokens: the secret a session cookie carries, the hash the
 * customers service keeps of it, and the CSRF token derived from it (which
 * the customers service hands out and the gateway checks, so both use this
 * one derivation). */
#ifndef CM_SESSION_H
#define CM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A token: 32 random bytes, base64url without padding (43 characters). */
#define CM_SESSION_TOKEN_LEN 43
/* BLAKE2b-256 of a token: what the database keeps. */
#define CM_SESSION_HASH_LEN 32
/* The CSRF token: hex of a 16-byte keyed BLAKE2b of the session token. */
#define CM_SESSION_CSRF_LEN 32

/* Staff passwords are hashed with crypto_pwhash_str (Argon2id) at these
 * limits: 32 MiB and about 21 ms a hash (or a check) on one core of the
 * development machine (2 cores, measured 2026-12-06). The string
 * keeps its limits, so raising them later still verifies older hashes. */
#define CM_SESSION_PWHASH_OPS 2ULL
#define CM_SESSION_PWHASH_MEM (32u << 20)

/* Writes a fresh random token into out (CM_SESSION_TOKEN_LEN + 1 bytes). */
void cm_session_token_new(char out[CM_SESSION_TOKEN_LEN + 1]);

/* True for a string shaped like a token (exactly CM_SESSION_TOKEN_LEN
 * characters of the base64url alphabet). */
bool cm_session_token_valid(const char *token);

/* The hash of token kept in place of it (a BLAKE2b-256 keyed for this use
 * alone, so it never equals an API key's hash). */
void cm_session_token_hash(const char *token, uint8_t out[CM_SESSION_HASH_LEN]);

/* The CSRF token of a session token, hex, into out (CM_SESSION_CSRF_LEN + 1).
 * One-way: knowing it tells nothing of the session token, and a page of
 * another site, which cannot read the cookie, cannot make it. */
void cm_session_csrf(const char *token, char out[CM_SESSION_CSRF_LEN + 1]);

/* True when given (may be NULL) is the CSRF token of token; the comparison
 * takes the same time wherever they differ. */
bool cm_session_csrf_ok(const char *token, const char *given);

#endif
