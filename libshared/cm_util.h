/* Memory that never fails (out of memory aborts), time, ids and UTF-8. */
#ifndef CM_UTIL_H
#define CM_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_err.h"

/* Allocators that log and abort on out-of-memory; callers skip NULL checks. */
void *cm_malloc(size_t n);
void *cm_calloc(size_t n, size_t size);
void *cm_realloc(void *p, size_t n);
char *cm_strdup(const char *s);
/* Exactly n bytes of s (which must hold that many; NULs included) and a NUL. */
char *cm_strndup(const char *s, size_t n);

/* Returns a malloc'd formatted string; the caller frees it. */
char *cm_strfmt(const char *fmt, ...) CM_PRINTF(1, 2);

/* Wall-clock milliseconds since the epoch, and monotonic milliseconds. */
int64_t cm_now_ms(void);
int64_t cm_mono_ms(void);

/* For a background thread that naps between rounds of work: waits on cv
 * (with mu) up to ms (0: not at all), or until woken, unless *stop (read
 * under mu) is set. Returns !*stop: false once the thread should end. */
bool cm_nap(pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stop, long ms);

/* Writes the UTC time `ms` as RFC 3339 with milliseconds ("2026-11-24T05:31:23.123Z")
 * into buf (at least 32 bytes). Returns buf. */
char *cm_time_rfc3339(int64_t ms, char *buf, size_t size);

/* The day of the proleptic Gregorian date y-m-d (m 1..12, d 1..31) as days
 * since 1970-01-01 (negative before), exact for every year; and back. After
 * Howard Hinnant's days_from_civil and civil_from_days. */
int64_t cm_days_from_civil(int y, int m, int d);
void cm_civil_from_days(int64_t days, int *y, int *m, int *d);

/* Writes a random RFC 4122 version-4 UUID (36 characters) into buf (>= 37 bytes). */
void cm_uuid(char *buf);

/* True when s is a UUID as the services write them: 36 characters, lower-case
 * hex in groups of 8-4-4-4-12 separated by '-'. */
bool cm_uuid_valid(const char *s);

/* Writes `n` random bytes as lower-case hex into buf (>= 2n+1 bytes). */
void cm_random_hex(char *buf, size_t n);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
 * On false, *bad_offset (if not NULL) gets the byte offset of the first bad byte. */
bool cm_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Number of code points in a valid UTF-8 string. */
size_t cm_utf8_length(const char *s);

/* Bytes of the first max_chars code points of a valid UTF-8 string (all of
 * it when it is shorter): where to cut it without splitting a character. */
size_t cm_utf8_prefix(const char *s, size_t max_chars);

/* Parses a base-10 integer filling all of s; returns 0 or -1. */
int cm_parse_long(const char *s, long min, long max, long *out) CM_MUSTCHECK;

/* ASCII character classes, whatever the locale (input is UTF-8; these look
 * at single bytes and never match one of a multi-byte sequence). */
static inline bool cm_ascii_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
static inline bool cm_ascii_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}
static inline bool cm_ascii_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}
static inline bool cm_ascii_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}
/* The value of a hex digit (either case), or -1. */
static inline int cm_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
static inline char cm_ascii_toupper(char c)
{
    return cm_ascii_lower((unsigned char)c) ? (char)(c - 'a' + 'A') : c;
}
static inline char cm_ascii_tolower(char c)
{
    return cm_ascii_upper((unsigned char)c) ? (char)(c - 'A' + 'a') : c;
}

#endif
