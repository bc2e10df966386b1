/* One line per event on stderr: time, level, service, req=<id>, message,
 * key=value pairs. Customer data only at debug level; secrets never. */
#ifndef CM_LOG_H
#define CM_LOG_H

#include <stdbool.h>

#include "cm_err.h"

typedef enum { CM_LOG_ERROR = 0, CM_LOG_WARN, CM_LOG_INFO, CM_LOG_DEBUG } cm_log_level_t;

extern cm_log_level_t cm_log_level;
/* A request that took at least this long is logged at info (CRM_LOG_SLOW_MS,
 * default 1000; 0 logs every request at info). */
extern long cm_log_slow_ms;

/* Sets the service name shown on every line, the level from
 * CRM_<SERVICE>_LOG_LEVEL, else CRM_LOG_LEVEL (error, warn, info, debug;
 * default info), and cm_log_slow_ms from CRM_<SERVICE>_LOG_SLOW_MS, else
 * CRM_LOG_SLOW_MS (0..3600000). A bad value exits 2 naming the variable. */
void cm_log_init(const char *service);

/* The level of the line a finished request is logged with: info when it
 * failed (or got no answer) or took at least cm_log_slow_ms, debug otherwise.
 * Every request a line at info was two lines through the process supervisor
 * per request, a fifth of the capacity of a GET by id. */
cm_log_level_t cm_log_request_level(bool failed, long long ms);

/* Sets the request id of the calling thread, shown as req=<id>; NULL clears it. */
void cm_log_set_request_id(const char *request_id);

/* Writes one line; use the macros below, which skip argument evaluation. */
void cm_log_write(cm_log_level_t level, const char *fmt, ...) CM_PRINTF(2, 3);

#define cm_log_at(lvl, ...)                                                                        \
    do {                                                                                           \
        if (cm_log_level >= (lvl))                                                                 \
            cm_log_write((lvl), __VA_ARGS__);                                                      \
    } while (0)
#define cm_log_error(...) cm_log_at(CM_LOG_ERROR, __VA_ARGS__)
#define cm_log_warn(...) cm_log_at(CM_LOG_WARN, __VA_ARGS__)
#define cm_log_info(...) cm_log_at(CM_LOG_INFO, __VA_ARGS__)
#define cm_log_debug(...) cm_log_at(CM_LOG_DEBUG, __VA_ARGS__)

#endif
