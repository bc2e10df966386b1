/* Allocation, time, ids and UTF-8 helpers. */
#include "cm_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

static void s_oom(size_t n)
{
    fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *cm_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        s_oom(n);
    return p;
}

void *cm_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        s_oom(n * size);
    return p;
}

void *cm_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        s_oom(n);
    return q;
}

char *cm_strdup(const char *s)
{
    size_t n = strlen(s);
    char *d = cm_malloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

char *cm_strndup(const char *s, size_t n)
{
    char *d = cm_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *cm_strfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        s_oom(0);
    char *s = cm_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

int64_t cm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cm_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool cm_nap(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stop, long ms)
{
    pthread_mutex_lock(mu);
    if (!*stop && ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(cv, mu, &ts);
    }
    bool go = !*stop;
    pthread_mutex_unlock(mu);
    return go;
}

int64_t cm_days_from_civil(int y, int m, int d)
{
    /* Years counted from March, so that the leap day ends one; eras of 400
     * years (146097 days); 719468 days from 0000-03-01 to 1970-01-01. */
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;                                  /* 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
    return era * 146097 + doe - 719468;
}

void cm_civil_from_days(int64_t days, int *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

char *cm_time_rfc3339(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return buf;
}

static void s_sodium_init(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "fatal: libsodium failed to initialise\n");
        abort();
    }
}

/* Random bytes for ids, drawn from libsodium a pool at a time (one system
 * call per 16 ids instead of one each). A forked child starts a new pool, so
 * it never repeats its parent's ids. */
#define POOL_BYTES 256
static atomic_uint s_fork_gen;
static pthread_once_t s_pool_once = PTHREAD_ONCE_INIT;

static void s_after_fork(void)
{
    atomic_fetch_add(&s_fork_gen, 1);
}

static void s_pool_setup(void)
{
    s_sodium_init();
    pthread_atfork(NULL, NULL, s_after_fork);
}

static void s_pool_take(unsigned char *out, size_t n)
{
    static _Thread_local unsigned char pool[POOL_BYTES];
    static _Thread_local size_t left;
    static _Thread_local unsigned gen;
    pthread_once(&s_pool_once, s_pool_setup);
    unsigned now = atomic_load(&s_fork_gen);
    if (left < n || gen != now) {
        randombytes_buf(pool, sizeof pool);
        left = sizeof pool;
        gen = now;
    }
    unsigned char *from = pool + sizeof pool - left;
    memcpy(out, from, n);
    sodium_memzero(from, n); // handed out once
    left -= n;
}

void cm_uuid(char *buf)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    s_pool_take(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *o = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

void cm_random_hex(char *buf, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];
    s_sodium_init();
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < sizeof b ? n - done : sizeof b;
        randombytes_buf(b, k);
        for (size_t i = 0; i < k; i++) {
            buf[2 * (done + i)] = hex[b[i] >> 4];
            buf[2 * (done + i) + 1] = hex[b[i] & 15];
        }
        done += k;
    }
    buf[2 * n] = '\0';
}

bool cm_utf8_valid(const char *str, size_t len, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t need;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            goto bad;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
                goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            goto bad;
        i += need + 1;
    }
    return true;
bad:
    if (bad_offset)
        *bad_offset = i;
    return false;
}

size_t cm_utf8_length(const char *str)
{
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)str; *s; s++)
        if ((*s & 0xc0) != 0x80)
            n++;
    return n;
}

size_t cm_utf8_prefix(const char *str, size_t max_chars)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n = 0;
    for (; s[i]; i++)
        if ((s[i] & 0xc0) != 0x80 && n++ == max_chars)
            break;
    return i;
}

int cm_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

bool cm_uuid_valid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof shape - 1)
        return false;
    for (size_t i = 0; shape[i]; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        if (shape[i] == '-' ? c != '-' : !hex)
            return false;
    }
    return true;
}
