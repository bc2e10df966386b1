/* Password hashing for a service's handler threads: Argon2id through
 * libsodium (crypto_pwhash_str), at most a few hashes at a time per process
 * (a burst of sign-ins queues instead of taking every thread's memory at
 * once), and a check that costs the same when there is no stored hash (an
 * unknown e-mail), so a wrong address takes as long as a wrong password.
 * Thread-safe. */
#ifndef CM_PWHASH_H
#define CM_PWHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <sodium.h>
#include "cm_err.h"

typedef struct cm_pwhash cm_pwhash_t;

/* A hasher at ops and mem (crypto_pwhash limits), at_once hashes at a time
 * (at least 1). Makes the stand-in hash it checks when there is none. */
cm_pwhash_t *cm_pwhash_new(unsigned at_once, unsigned long long ops, size_t mem);
void cm_pwhash_destroy(cm_pwhash_t **self_p);

/* Hashes password into out. Returns 0, or -1 when libsodium could not (out
 * of memory: try again later). */
int cm_pwhash_hash(cm_pwhash_t *self, const char *password,
                   char out[crypto_pwhash_STRBYTES]) CM_MUSTCHECK;

/* True when password fits hash (a crypto_pwhash_str string). With hash NULL
 * the stand-in is checked, for the same cost, and the answer is false. */
bool cm_pwhash_verify(cm_pwhash_t *self, const char *hash, const char *password);

#endif
