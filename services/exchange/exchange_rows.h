/* Reading an imported file's rows: the encoding and delimiter of a file,
 * which layout column each header means, and a row's fields turned into a
 * customer with the update mask of what the file gives. Pure: no I/O. */
#ifndef EXCHANGE_ROWS_H
#define EXCHANGE_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_buf.h"
#include "customers.pb-c.h"

/* Limits of a file (docs/exchange.md, "Import limits"). */
#define EXCHANGE_MAX_COLUMNS 200
#define EXCHANGE_FIELD_MAX (64 * 1024) /* bytes of one field */
#define EXCHANGE_MAX_ROWS 1000000L     /* data rows of a file */

enum exchange_encoding {
    EXCHANGE_UTF8 = 0,
    EXCHANGE_CP1250, // Windows-1250 (Central European)
    EXCHANGE_CP1252, // Windows-1252 (Western European)
};

/* The encoding's name as the API writes it: "utf-8", "windows-1250", ... */
const char *exchange_encoding_name(enum exchange_encoding e);
/* Parses a name ("" -> -1: detect). Returns 0, or -1 (unknown or ""). */
int exchange_encoding_parse(const char *name, enum exchange_encoding *out);

/* Guesses a file's encoding from its start (BOM already removed): UTF-8 when
 * sample is valid UTF-8 (a sequence cut at the end allowed); else
 * Windows-1250 when it holds a byte that is a Polish, Czech or Slovak letter
 * there but a rare sign in 1252 (ą ę ł ś ź ż Ą Ł Ś Ź Ż ...); else
 * Windows-1252. */
enum exchange_encoding exchange_detect_encoding(const unsigned char *sample, size_t n);

/* Appends src[0..n) in encoding e to out as UTF-8 (UTF-8 is copied as is). */
void exchange_to_utf8(enum exchange_encoding e, const unsigned char *src, size_t n, cm_buf_t *out);

/* Guesses the delimiter from the first record of sample: the most frequent
 * of ',', ';' and tab outside quotes (',' when none). */
char exchange_detect_delimiter(const char *sample, size_t n);

/* What the import does with a column of the layout. */
enum exchange_use {
    EXCHANGE_USE_NONE = -1, // no such column
    EXCHANGE_USE_WRITE = 0, // written to the customer
    EXCHANGE_USE_IGNORED,   // known but kept by the service (id, source, createdAt, ...)
};

/* The layout column a header means: its API name or its label in any of
 * the export's languages (exchange_headers.h), then the usual names other
 * tools give it ("Mail", "Handy", "NIP"), matched without regard to case,
 * spaces, '_', '-', '.', ',' and parentheses ("First name", "first_name" and "Vorname"
 * are firstName). Returns its index in exchange_columns, or -1. */
int exchange_column_of_header(const char *header);

/* What the import does with layout column i. */
enum exchange_use exchange_column_use(size_t i);

/* One row turned into a customer. */
struct exchange_row {
    Crm__Customer *customer; // owned (dynamic message)
    char *mask[64];          // borrowed (string literals): update mask paths, n_mask
    size_t n_mask;
    /* The first problem: the layout column at fault ("" for the row) and why. */
    int bad_column; // index in exchange_columns, or -1
    char reason[32];
    char message[256];
};

/* Turns fields (UTF-8, NUL-terminated, n of them) of a row into row, with
 * cols[k] the layout column of field k (-1: none). Empty cells leave a field
 * unset and out of the mask for a new customer, but clear it on update (the
 * mask holds it). A cell that begins with ' followed by = + - @ tab or CR
 * loses the '. Returns 0, or -1 with row->bad_column, reason and message
 * set. Release with exchange_row_release. */
int exchange_row_read(char *const *fields, size_t n, const int *cols, struct exchange_row *row);
void exchange_row_release(struct exchange_row *row);

/* The field k of a file (cols[k] its layout column, n of them) a field path
 * of a customers' violation ("addresses[0].country", "company.vatNumber",
 * "preferences.sms.changedAt") is about, or -1. */
int exchange_field_of_path(const char *path, const int *cols, size_t n);
/* Duplicates within a file: the keys that say two rows are one person. */
#define EXCHANGE_KEYS_MAX 24  /* keys of one row, its whole-row key included */
#define EXCHANGE_KEY_SIZE 300 /* bytes of one key; a longer one is cut */

/* The identity keys of a row's customer c into keys (at most
 * EXCHANGE_KEYS_MAX - 1; returns how many): "x:system:id" for each external
 * id; "e:" the e-mail as customers compares it (email_key; else c's e-mail
 * in ASCII lower case); "p:" the phone in E.164 (phone_e164; else c's digits,
 * a leading + kept); "c:" the existing customer the row updates (target, or
 * "" for none). */
size_t exchange_identity_keys(const Crm__Customer *c, const char *email_key, const char *phone_e164,
                              const char *target, char keys[][EXCHANGE_KEY_SIZE]);

/* The key of a row's whole content ("r:" and a hash of its n fields): the
 * same row given twice has the same key. */
void exchange_row_key(char *const *fields, size_t n, char key[EXCHANGE_KEY_SIZE]);

#endif
