/* Staff session tokens (cm_session.h). */
#include "cm_session.h"

#include <string.h>
#include <sodium.h>

/* Keys that keep the two derivations apart (not secrets: the token is). */
static const uint8_t S_HASH_KEY[16] = "crm-session-v1\0";
static const uint8_t S_CSRF_KEY[16] = "crm-csrf-v1\0\0\0\0";

void cm_session_token_new(char out[CM_SESSION_TOKEN_LEN + 1])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, CM_SESSION_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

bool cm_session_token_valid(const char *token)
{
    if (!token)
        return false;
    size_t n = 0;
    for (; token[n]; n++) {
        char c = token[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok || n >= CM_SESSION_TOKEN_LEN)
            return false;
    }
    return n == CM_SESSION_TOKEN_LEN;
}

void cm_session_token_hash(const char *token, uint8_t out[CM_SESSION_HASH_LEN])
{
    crypto_generichash(out, CM_SESSION_HASH_LEN, (const uint8_t *)token, strlen(token), S_HASH_KEY,
                       sizeof S_HASH_KEY);
}

void cm_session_csrf(const char *token, char out[CM_SESSION_CSRF_LEN + 1])
{
    uint8_t h[CM_SESSION_CSRF_LEN / 2];
    crypto_generichash(h, sizeof h, (const uint8_t *)token, strlen(token), S_CSRF_KEY,
                       sizeof S_CSRF_KEY);
    sodium_bin2hex(out, CM_SESSION_CSRF_LEN + 1, h, sizeof h);
}

bool cm_session_csrf_ok(const char *token, const char *given)
{
    if (!token || !given || strlen(given) != CM_SESSION_CSRF_LEN)
        return false;
    char want[CM_SESSION_CSRF_LEN + 1];
    cm_session_csrf(token, want);
    return sodium_memcmp(want, given, CM_SESSION_CSRF_LEN) == 0;
}
