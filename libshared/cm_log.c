/* Line-oriented logging to stderr. */
#include "cm_log.h"
#include "cm_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char s_service[32] = "crm";
static _Thread_local char s_request_id[80];

cm_log_level_t cm_log_level = CM_LOG_INFO;
long cm_log_slow_ms = 1000;

/* CRM_<SERVICE>_<key> for this service only, else CRM_<key>, as for every
 * other setting (cm_cfg); var gets the name of the one read. */
static const char *s_env(const char *service, const char *key, char *var, size_t size)
{
    size_t n = (size_t)snprintf(var, size, "CRM_");
    for (const char *p = service; *p && n + strlen(key) + 2 < size; p++)
        var[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p == '-' ? '_' : *p);
    snprintf(var + n, size - n, "_%s", key);
    const char *v = getenv(var);
    if (!v || !*v) {
        snprintf(var, size, "CRM_%s", key);
        v = getenv(var);
    }
    return v && *v ? v : NULL;
}

static void s_config_error(const char *service, const char *var, const char *value,
                           const char *expected)
{
    /* A bad value is a configuration error like any other. */
    fprintf(stderr, "%s: configuration error: %s: invalid value \"%s\": expected %s\n", service,
            var, value, expected);
    exit(2);
}

void cm_log_init(const char *service)
{
    snprintf(s_service, sizeof s_service, "%s", service);
    char var[64];
    const char *lvl = s_env(service, "LOG_LEVEL", var, sizeof var);
    if (!lvl || !strcmp(lvl, "info"))
        cm_log_level = CM_LOG_INFO;
    else if (!strcmp(lvl, "error"))
        cm_log_level = CM_LOG_ERROR;
    else if (!strcmp(lvl, "warn"))
        cm_log_level = CM_LOG_WARN;
    else if (!strcmp(lvl, "debug"))
        cm_log_level = CM_LOG_DEBUG;
    else
        s_config_error(service, var, lvl, "error, warn, info or debug");
    const char *slow = s_env(service, "LOG_SLOW_MS", var, sizeof var);
    if (slow) {
        char *end;
        errno = 0;
        long v = strtol(slow, &end, 10);
        if (errno || end == slow || *end || v < 0 || v > 3600000)
            s_config_error(service, var, slow, "milliseconds from 0 to 3600000");
        cm_log_slow_ms = v;
    }
}

cm_log_level_t cm_log_request_level(bool failed, long long ms)
{
    return failed || ms >= cm_log_slow_ms ? CM_LOG_INFO : CM_LOG_DEBUG;
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
