/* The rules of a customer's new password, and the shape and hash of the
 * tokens that set-password and registration links carry. */
#include "notify_password.h"
#include "notify_template.h"
#include "../unit.h"

#include <sodium.h>

static void test_problems(void)
{
    CHECK(notify_password_problem("Fjord og fjell 2026", "kari@example.no") == NULL);
    CHECK(!strcmp(notify_password_problem("short", "kari@example.no"), "TOO_SHORT"));
    CHECK(!strcmp(notify_password_problem("1234567890", "kari@example.no"), "COMMON"));
    CHECK(!strcmp(notify_password_problem("kari@example.no", "kari@example.no"), "COMMON"));
    char long_pw[NOTIFY_PASSWORD_MAX + 2];
    memset(long_pw, 'k', sizeof long_pw - 1);
    long_pw[sizeof long_pw - 1] = '\0';
    CHECK(!strcmp(notify_password_problem(long_pw, ""), "TOO_LONG"));
}

static void test_token_shape(void)
{
    char t[64];
    memset(t, 'A', 43);
    t[43] = '\0';
    CHECK(notify_password_token_ok(t));
    t[10] = '-';
    t[11] = '_';
    CHECK(notify_password_token_ok(t));
    t[12] = '+'; /* base64, not base64url */
    CHECK(!notify_password_token_ok(t));
    t[12] = 'z';
    t[42] = '\0'; /* one short */
    CHECK(!notify_password_token_ok(t));
    CHECK(!notify_password_token_ok(""));
    memset(t, 'b', 44);
    t[44] = '\0'; /* one long */
    CHECK(!notify_password_token_ok(t));
}

static void test_token_hash(void)
{
    char a[65], b[65], c[65];
    notify_password_token_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", a);
    notify_password_token_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", b);
    notify_password_token_hash("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", c);
    CHECK(strlen(a) == 64 && strspn(a, "0123456789abcdef") == 64);
    CHECK(!strcmp(a, b) && strcmp(a, c));
    /* BLAKE2b-256 of "abc", the RFC 7693 test vector's input. */
    notify_password_token_hash("abc", a);
    CHECK(!strcmp(a, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"));
}

/* The registration kind is a template kind like the others. */
static void test_registration_kind(void)
{
    CHECK(notify_kind_of("registration") == NOTIFY_KIND_REGISTRATION);
    CHECK(!strcmp(notify_kind_name(NOTIFY_KIND_REGISTRATION), "registration"));
    const struct notify_template *nb = notify_template_default(NOTIFY_KIND_REGISTRATION, "nb");
    CHECK(!strncmp(nb->subject, "Bekreft registreringen", 22));
    CHECK(strstr(nb->text, "{{validHours}}") != NULL);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    RUN(test_problems);
    RUN(test_token_shape);
    RUN(test_token_hash);
    RUN(test_registration_kind);
    return 0;
}
