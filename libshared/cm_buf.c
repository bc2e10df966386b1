/* Growable byte buffer with a cap. */
#include "cm_buf.h"
#include "cm_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cm_buf_init(cm_buf_t *self, size_t max)
{
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
    self->max = max;
}

void cm_buf_release(cm_buf_t *self)
{
    free(self->data);
    cm_buf_init(self, self->max);
}

static void s_reserve(cm_buf_t *self, size_t need)
{
    if (need + 1 <= self->cap)
        return;
    size_t cap = self->cap ? self->cap : 256;
    while (cap < need + 1)
        cap *= 2;
    self->data = cm_realloc(self->data, cap);
    self->cap = cap;
}

void cm_buf_reserve(cm_buf_t *self, size_t n)
{
    s_reserve(self, self->len + n);
}

int cm_buf_append(cm_buf_t *self, const void *data, size_t n)
{
    if (self->max && self->len + n > self->max)
        return -1;
    s_reserve(self, self->len + n);
    if (n)
        memcpy(self->data + self->len, data, n);
    self->len += n;
    self->data[self->len] = '\0';
    return 0;
}

int cm_buf_printf(cm_buf_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if (self->max && self->len + (size_t)n > self->max)
        return -1;
    s_reserve(self, self->len + (size_t)n);
    va_start(ap, fmt);
    vsnprintf(self->data + self->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    self->len += (size_t)n;
    return 0;
}

void cm_buf_reset(cm_buf_t *self)
{
    self->len = 0;
    if (self->data)
        self->data[0] = '\0';
}

char *cm_buf_steal(cm_buf_t *self, size_t *len)
{
    s_reserve(self, self->len);
    self->data[self->len] = '\0';
    char *d = self->data;
    if (len)
        *len = self->len;
    cm_buf_init(self, self->max);
    return d;
}
