/* Password hashing: a hash verifies its password only; no stored hash never verifies. */
#include "cm_pwhash.h"
#include "unit.h"

#include <pthread.h>

static void test_hash_and_verify(void)
{
    cm_pwhash_t *h = cm_pwhash_new(1, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
    char a[crypto_pwhash_STRBYTES], b[crypto_pwhash_STRBYTES];
    CHECK(cm_pwhash_hash(h, "correct horse battery", a) == 0);
    CHECK(cm_pwhash_hash(h, "correct horse battery", b) == 0);
    CHECK(strcmp(a, b) != 0); /* salted */
    CHECK(!strncmp(a, "$argon2id$", 10));
    CHECK(cm_pwhash_verify(h, a, "correct horse battery"));
    CHECK(cm_pwhash_verify(h, b, "correct horse battery"));
    CHECK(!cm_pwhash_verify(h, a, "correct horse batterY"));
    CHECK(!cm_pwhash_verify(h, a, ""));
    CHECK(!cm_pwhash_verify(h, NULL, "correct horse battery"));
    CHECK(!cm_pwhash_verify(h, "not a hash", "correct horse battery"));
    cm_pwhash_destroy(&h);
    CHECK(h == NULL);
    cm_pwhash_destroy(&h);
}

static void *s_worker(void *arg)
{
    cm_pwhash_t *h = arg;
    char out[crypto_pwhash_STRBYTES];
    for (int i = 0; i < 3; i++) {
        CHECK(cm_pwhash_hash(h, "a password of ours", out) == 0);
        CHECK(cm_pwhash_verify(h, out, "a password of ours"));
    }
    return NULL;
}

static void test_many_threads_share_one_hasher(void)
{
    cm_pwhash_t *h = cm_pwhash_new(2, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, s_worker, h) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cm_pwhash_destroy(&h);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    RUN(test_hash_and_verify);
    RUN(test_many_threads_share_one_hasher);
    return 0;
}
