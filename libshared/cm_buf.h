/* A growable byte buffer with a hard cap, always NUL-terminated. */
#ifndef CM_BUF_H
#define CM_BUF_H

#include <stddef.h>
#include "cm_err.h"

typedef struct cm_buf {
    char *data; // owned
    size_t len;
    size_t cap; // allocated
    size_t max; // hard cap on len; 0 means none
} cm_buf_t;

/* Initialises an empty buffer that refuses to grow past max bytes (0: no cap). */
void cm_buf_init(cm_buf_t *self, size_t max);

/* Frees the contents; the buffer can be initialised again. */
void cm_buf_release(cm_buf_t *self);

/* Appends n bytes. Returns 0, or -1 (and appends nothing) past the cap. */
int cm_buf_append(cm_buf_t *self, const void *data, size_t n) CM_MUSTCHECK;

/* Appends a formatted string; -1 past the cap. */
int cm_buf_printf(cm_buf_t *self, const char *fmt, ...) CM_PRINTF(2, 3) CM_MUSTCHECK;

/* Makes room for n more bytes at once (one allocation instead of several as
 * the buffer grows); the cap is still checked when they are appended. */
void cm_buf_reserve(cm_buf_t *self, size_t n);

/* Empties the buffer, keeping its memory. */
void cm_buf_reset(cm_buf_t *self);

/* Hands the data to the caller (who frees it) and empties the buffer. */
char *cm_buf_steal(cm_buf_t *self, size_t *len);

#endif
