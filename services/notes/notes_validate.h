/* Pure checks for notes and tasks: text limits counted in characters, the
 * due date-time (RFC 3339, or a date for an all-day task), staff references,
 * calendar base URLs and the keyset page tokens. No database, no bus. */
#ifndef NOTES_VALIDATE_H
#define NOTES_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_err.h"

/* Limits, in characters (Unicode code points), unless said otherwise. */
#define NOTES_BODY_MAX 10000
#define NOTES_TITLE_MAX 200
#define NOTES_DESCRIPTION_MAX 10000
#define NOTES_STAFF_ID_MAX 128   // bytes of printable ASCII
#define NOTES_STAFF_NAME_MAX 200 // characters
#define NOTES_BASE_URL_MAX 200   // bytes
#define NOTES_PAGE_DEFAULT 50
#define NOTES_PAGE_MAX 100
/* Due dates from 2000-01-01 to 2199-12-31 (UTC). */
#define NOTES_DUE_MIN_YEAR 2000
#define NOTES_DUE_MAX_YEAR 2199

#define NOTES_ID_SIZE 37 // a UUID and its NUL

enum {
    NOTES_TEXT_MULTILINE = 1 << 0, // newlines and tabs allowed (CRLF becomes LF)
    NOTES_TEXT_REQUIRED = 1 << 1,  // empty or only white space is refused
};

/* What is wrong with a text, for the FieldViolation. */
struct notes_problem {
    const char *reason; // "REQUIRED", "TOO_LONG", "INVALID"; NULL when fine
    char description[160];
};

/* Checks a valid-UTF-8 text (the edge refuses invalid UTF-8): at most
 * max_chars characters, no control characters (C0, DEL, C1) except newline
 * and tab when NOTES_TEXT_MULTILINE. Returns the text normalised (CRLF and
 * lone CR become LF) as a malloc'd string the caller frees, or NULL with p
 * filled. what names the field in the description ("note body"). */
char *notes_validate_text(const char *s, size_t max_chars, unsigned flags, const char *what,
                          struct notes_problem *p);

/* A due time: UTC milliseconds; for an all-day task the day's 00:00 UTC. */
struct notes_due {
    int64_t ms;
    bool all_day;
};

enum notes_due_result {
    NOTES_DUE_OK = 0,
    NOTES_DUE_FORMAT = -1, // neither RFC 3339 date-time nor YYYY-MM-DD, or no such day
    NOTES_DUE_RANGE = -2,  // outside NOTES_DUE_MIN_YEAR..NOTES_DUE_MAX_YEAR
};

/* Parses "2026-11-27T10:00:00+01:00" (T, t or space; Z, z or an offset;
 * fractions to milliseconds) or "2026-11-27". */
enum notes_due_result notes_due_parse(const char *s, struct notes_due *out) CM_MUSTCHECK;

/* Writes "2026-11-27" (all-day) or "2026-11-27T09:00:00Z" (".123" when the
 * milliseconds are not zero) into buf (>= 32 bytes). Returns buf. */
char *notes_due_format(const struct notes_due *d, char *buf, size_t size);

/* True for a staff id: 1..NOTES_STAFF_ID_MAX printable ASCII bytes, no space. */
bool notes_staff_id_valid(const char *s);

/* True for "http://host[:port][/path]" or https, printable ASCII, no
 * quotes, backslashes, spaces, '#', '?' or a trailing slash, at most
 * NOTES_BASE_URL_MAX bytes; "" is valid too (no links). */
bool notes_base_url_valid(const char *s);

/* Page tokens of the keyset paging: three fields joined by '.': a small
 * integer (0/1), a signed 64-bit integer and a UUID. Writes into buf
 * (>= 80 bytes). Parse returns 0, or -1 for anything else. */
char *notes_token_make(int flag, int64_t key, const char *id, char *buf, size_t size);
int notes_token_parse(const char *tok, int *flag, int64_t *key,
                      char id[NOTES_ID_SIZE]) CM_MUSTCHECK;

#endif
