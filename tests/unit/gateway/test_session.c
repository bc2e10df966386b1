/* Staff sessions at the gateway: the cookie's parsing and making, the
 * Origin check, safe methods, and evicting a member's cached sessions. */
#include "gateway_session.h"
#include "cm_session.h"
#include "../unit.h"

#include <stdint.h>
#include <stdlib.h>

static void test_cookie_is_found_among_others(void)
{
    char out[64];
    CHECK_STR(gateway_session_cookie("crm_session=abc", out, sizeof out), "abc");
    CHECK_STR(gateway_session_cookie("a=1; crm_session=xyz-_9; b=2", out, sizeof out), "xyz-_9");
    CHECK_STR(gateway_session_cookie("a=1;crm_session=\"q\" ", out, sizeof out), "q");
    /* A longer name with the same start is another cookie. */
    CHECK(gateway_session_cookie("crm_session_old=abc; x=1", out, sizeof out) == NULL);
    CHECK(gateway_session_cookie("xcrm_session=abc", out, sizeof out) == NULL);
    CHECK(gateway_session_cookie("crm_session=", out, sizeof out) == NULL);
    CHECK(gateway_session_cookie(NULL, out, sizeof out) == NULL);
    CHECK(gateway_session_cookie("", out, sizeof out) == NULL);
    /* Too long for the buffer: none. */
    CHECK(gateway_session_cookie("crm_session=0123456789", out, 8) == NULL);
    CHECK_STR(gateway_session_cookie("crm_session=0123456", out, 8), "0123456");
}

static void test_set_cookie_carries_the_flags(void)
{
    char *c = gateway_session_set_cookie("tok", 3600, false);
    CHECK_STR(c, "crm_session=tok; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax");
    free(c);
    c = gateway_session_set_cookie("tok", 60, true);
    CHECK_STR(c, "crm_session=tok; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure");
    free(c);
    c = gateway_session_set_cookie(NULL, 0, false);
    CHECK_STR(c, "crm_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax");
    free(c);
}

static void test_origin_must_be_the_host(void)
{
    CHECK(gateway_session_origin_ok(NULL, "crm.example:8080"));
    CHECK(gateway_session_origin_ok("http://crm.example:8080", "crm.example:8080"));
    CHECK(gateway_session_origin_ok("https://CRM.example", "crm.example"));
    CHECK(!gateway_session_origin_ok("http://evil.example", "crm.example"));
    CHECK(!gateway_session_origin_ok("http://crm.example:8081", "crm.example:8080"));
    CHECK(!gateway_session_origin_ok("http://crm.example.evil", "crm.example"));
    CHECK(!gateway_session_origin_ok("null", "crm.example"));
    CHECK(!gateway_session_origin_ok("http://crm.example", NULL));
}

static void test_safe_methods(void)
{
    CHECK(gateway_session_safe_method("GET"));
    CHECK(gateway_session_safe_method("HEAD"));
    CHECK(gateway_session_safe_method("OPTIONS"));
    CHECK(!gateway_session_safe_method("POST"));
    CHECK(!gateway_session_safe_method("DELETE"));
    CHECK(!gateway_session_safe_method("get"));
}

static void test_sessions_and_keys_hash_apart_and_evict_by_member(void)
{
    char token[CM_SESSION_TOKEN_LEN + 1];
    cm_session_token_new(token);
    uint8_t as_key[GATEWAY_AUTH_HASH], as_session[GATEWAY_AUTH_HASH];
    gateway_auth_hash_cred(token, false, as_key);
    gateway_auth_hash_cred(token, true, as_session);
    CHECK(memcmp(as_key, as_session, sizeof as_key) != 0);

    gateway_auth_t *a = gateway_auth_new(100, 30000, 2000);
    struct gateway_identity ann = {.role = 2, .kind = 1}, bob = ann, got;
    snprintf(ann.tenant_id, sizeof ann.tenant_id, "t-1");
    snprintf(ann.principal_id, sizeof ann.principal_id, "ann");
    snprintf(bob.tenant_id, sizeof bob.tenant_id, "t-1");
    snprintf(bob.principal_id, sizeof bob.principal_id, "bob");
    uint8_t h[3][GATEWAY_AUTH_HASH];
    gateway_auth_hash_cred("s1", true, h[0]);
    gateway_auth_hash_cred("s2", true, h[1]);
    gateway_auth_hash_cred("s3", true, h[2]);
    gateway_auth_store(a, h[0], &ann, 1000);
    gateway_auth_store(a, h[1], &ann, 1000);
    gateway_auth_store(a, h[2], &bob, 1000);
    gateway_auth_forget(a, "t-2", "ann");
    CHECK(gateway_auth_count(a) == 3);
    gateway_auth_forget(a, "t-1", "ann");
    CHECK(gateway_auth_lookup(a, h[0], 1001, &got) == 0);
    CHECK(gateway_auth_lookup(a, h[1], 1001, &got) == 0);
    CHECK(gateway_auth_lookup(a, h[2], 1001, &got) == 1);
    CHECK(got.kind == 1);
    CHECK(gateway_auth_count(a) == 1);
    gateway_auth_destroy(&a);
}

int main(void)
{
    RUN(test_cookie_is_found_among_others);
    RUN(test_set_cookie_carries_the_flags);
    RUN(test_origin_must_be_the_host);
    RUN(test_safe_methods);
    RUN(test_sessions_and_keys_hash_apart_and_evict_by_member);
    return 0;
}
