/* Error codes shared by every module, and the mapping to the envelope's
 * status. Only the gateway maps statuses to HTTP. */
#ifndef CM_ERR_H
#define CM_ERR_H

#define CM_MUSTCHECK __attribute__((warn_unused_result))
#define CM_PRINTF(a, b) __attribute__((format(printf, a, b)))

typedef enum {
    CM_OK = 0,
    CM_ERR_INVALID,
    CM_ERR_NOT_FOUND,
    CM_ERR_CONFLICT,
    CM_ERR_PRECONDITION,
    CM_ERR_PERMISSION,
    CM_ERR_UNAVAILABLE,
    CM_ERR_TIMEOUT,
    CM_ERR_UPSTREAM,
    CM_ERR_TOO_LARGE, // RESOURCE_EXHAUSTED: too large, or too many (a rate limit)
    CM_ERR_UNAUTHENTICATED,
    CM_ERR_INTERNAL,
    CM_ERR_GONE, // GONE: it was there and is no more (a file past its time)
} cm_err_t;

/* Returns a static lower-case name of the code, e.g. "invalid". */
const char *cm_err_name(cm_err_t err);

/* Returns the crm.Status value (envelope.proto) for an error code. */
int cm_err_status(cm_err_t err);

/* The error code for a crm.Status another service replied (CM_OK for
 * STATUS_OK): the other way from cm_err_status, for a caller that passes an
 * answer on. UNAUTHENTICATED is CM_ERR_PERMISSION; DEADLINE_EXCEEDED and
 * RESOURCE_EXHAUSTED are CM_ERR_UNAVAILABLE (try again). */
cm_err_t cm_err_of_status(int status);

#endif
