/* Line-oriented logging to stderr. */
#include "cm_log.h"
#include "cm_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cm_log_level_t cm_log_level = CM_LOG_INFO;
static char s_service[32] = "crm";
static _Thread_local char s_request_id[80];

void cm_log_init(const char *service)
{
    snprintf(s_service, sizeof s_service, "%s", service);
    /* CRM_<SERVICE>_LOG_LEVEL for this service only, else CRM_LOG_LEVEL, as for
     * every other setting (cm_cfg). */
    char var[64] = "CRM_";
    size_t n = 4;
    for (const char *p = service; *p && n < sizeof var - sizeof "_LOG_LEVEL"; p++)
        var[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p == '-' ? '_' : *p);
    snprintf(var + n, sizeof var - n, "_LOG_LEVEL");
    const char *lvl = getenv(var);
    if (!lvl || !*lvl) {
        snprintf(var, sizeof var, "CRM_LOG_LEVEL");
        lvl = getenv(var);
    }
    if (!lvl || !*lvl || !strcmp(lvl, "info"))
        cm_log_level = CM_LOG_INFO;
    else if (!strcmp(lvl, "error"))
        cm_log_level = CM_LOG_ERROR;
    else if (!strcmp(lvl, "warn"))
        cm_log_level = CM_LOG_WARN;
    else if (!strcmp(lvl, "debug"))
        cm_log_level = CM_LOG_DEBUG;
    else {
        /* A bad value is a configuration error like any other. */
        fprintf(stderr,
                "%s: configuration error: %s: invalid value \"%s\": expected "
                "error, warn, info or debug\n",
                service, var, lvl);
        exit(2);
    }
}

void cm_log_set_request_id(const char *request_id)
{
    snprintf(s_request_id, sizeof s_request_id, "%s", request_id ? request_id : "");
}

void cm_log_write(cm_log_level_t level, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char ts[40], line[2048];
    cm_time_rfc3339(cm_now_ms(), ts, sizeof ts);
    int n = snprintf(line, sizeof line, "%s %-5s %s ", ts, names[level], s_service);
    if (s_request_id[0] && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, "req=%s ", s_request_id);
    if (n < (int)sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    /* Keep one event on one line whatever the message holds. */
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n] = '\n';
    fwrite(line, 1, (size_t)n + 1, stderr);
    fflush(stderr);
}
