/* Staff session tokens: shape, hashing, and the CSRF token derived from one. */
#include "cm_session.h"
#include "unit.h"

#include <stdint.h>
#include <string.h>

static void test_tokens_are_fresh_and_well_formed(void)
{
    char a[CM_SESSION_TOKEN_LEN + 1], b[CM_SESSION_TOKEN_LEN + 1];
    cm_session_token_new(a);
    cm_session_token_new(b);
    CHECK(strlen(a) == CM_SESSION_TOKEN_LEN);
    CHECK(strcmp(a, b) != 0);
    CHECK(cm_session_token_valid(a));
    CHECK(!cm_session_token_valid(NULL));
    CHECK(!cm_session_token_valid(""));
    char c[CM_SESSION_TOKEN_LEN + 2];
    memcpy(c, a, sizeof a);
    c[5] = '+'; /* not base64url */
    CHECK(!cm_session_token_valid(c));
    memcpy(c, a, sizeof a);
    c[CM_SESSION_TOKEN_LEN] = 'A'; /* one too long */
    c[CM_SESSION_TOKEN_LEN + 1] = '\0';
    CHECK(!cm_session_token_valid(c));
    c[CM_SESSION_TOKEN_LEN - 1] = '\0'; /* one too short */
    CHECK(!cm_session_token_valid(c));
}

static void test_hash_is_stable_and_keyed(void)
{
    uint8_t h1[CM_SESSION_HASH_LEN], h2[CM_SESSION_HASH_LEN], h3[CM_SESSION_HASH_LEN];
    cm_session_token_hash("token-one", h1);
    cm_session_token_hash("token-one", h2);
    cm_session_token_hash("token-two", h3);
    CHECK(memcmp(h1, h2, sizeof h1) == 0);
    CHECK(memcmp(h1, h3, sizeof h1) != 0);
}

static void test_csrf_is_derived_and_checked(void)
{
    char t1[CM_SESSION_TOKEN_LEN + 1], t2[CM_SESSION_TOKEN_LEN + 1];
    cm_session_token_new(t1);
    cm_session_token_new(t2);
    char c1[CM_SESSION_CSRF_LEN + 1], again[CM_SESSION_CSRF_LEN + 1], c2[CM_SESSION_CSRF_LEN + 1];
    cm_session_csrf(t1, c1);
    cm_session_csrf(t1, again);
    cm_session_csrf(t2, c2);
    CHECK(strlen(c1) == CM_SESSION_CSRF_LEN);
    CHECK_STR(c1, again);
    CHECK(strcmp(c1, c2) != 0);
    /* It is not the token, nor its stored hash. */
    CHECK(strstr(t1, c1) == NULL);
    CHECK(cm_session_csrf_ok(t1, c1));
    CHECK(!cm_session_csrf_ok(t1, c2));
    CHECK(!cm_session_csrf_ok(t1, NULL));
    CHECK(!cm_session_csrf_ok(t1, ""));
    c1[CM_SESSION_CSRF_LEN - 1] = c1[CM_SESSION_CSRF_LEN - 1] == '0' ? '1' : '0';
    CHECK(!cm_session_csrf_ok(t1, c1));
    c1[5] = '\0';
    CHECK(!cm_session_csrf_ok(t1, c1));
    /* A fixed vector: the derivation never changes under a running UI. */
    char fixed[CM_SESSION_CSRF_LEN + 1];
    cm_session_csrf("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", fixed);
    CHECK_STR(fixed, "faa0fc0d780e86f36090758f4d01f22c");
}

int main(void)
{
    RUN(test_tokens_are_fresh_and_well_formed);
    RUN(test_hash_is_stable_and_keyed);
    RUN(test_csrf_is_derived_and_checked);
    return 0;
}
