/* Password hashing (cm_pwhash.h). */
#include "cm_pwhash.h"
#include "cm_log.h"
#include "cm_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct cm_pwhash {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    unsigned busy, at_once;
    unsigned long long ops;
    size_t mem;
    char dummy[crypto_pwhash_STRBYTES];
};

cm_pwhash_t *cm_pwhash_new(unsigned at_once, unsigned long long ops, size_t mem)
{
    cm_pwhash_t *self = cm_calloc(1, sizeof *self);
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cond, NULL);
    self->at_once = at_once ? at_once : 1;
    self->ops = ops;
    self->mem = mem;
    char random[33];
    cm_random_hex(random, 16);
    if (crypto_pwhash_str(self->dummy, random, strlen(random), ops, mem))
        cm_log_error("could not make the stand-in password hash (out of memory)");
    return self;
}

void cm_pwhash_destroy(cm_pwhash_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cm_pwhash_t *self = *self_p;
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

static void s_enter(cm_pwhash_t *self)
{
    pthread_mutex_lock(&self->mu);
    while (self->busy >= self->at_once)
        pthread_cond_wait(&self->cond, &self->mu);
    self->busy++;
    pthread_mutex_unlock(&self->mu);
}

static void s_leave(cm_pwhash_t *self)
{
    pthread_mutex_lock(&self->mu);
    self->busy--;
    pthread_cond_signal(&self->cond);
    pthread_mutex_unlock(&self->mu);
}

int cm_pwhash_hash(cm_pwhash_t *self, const char *password, char out[crypto_pwhash_STRBYTES])
{
    s_enter(self);
    int rc = crypto_pwhash_str(out, password, strlen(password), self->ops, self->mem);
    s_leave(self);
    return rc ? -1 : 0;
}

bool cm_pwhash_verify(cm_pwhash_t *self, const char *hash, const char *password)
{
    s_enter(self);
    bool ok = crypto_pwhash_str_verify(hash ? hash : self->dummy, password, strlen(password)) == 0;
    s_leave(self);
    return ok && hash != NULL;
}
