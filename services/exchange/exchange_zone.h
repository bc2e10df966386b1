/* The business's time zone as a spreadsheet needs it: Excel cells carry no
 * zone, so an XLSX export writes date-time cells on the business's wall clock
 * and an import reads them back from it. A zone is its table of UTC offsets
 * (read once per file from PostgreSQL's time zone data, exchange_store_zone),
 * and the conversions here are pure arithmetic on that table. */
#ifndef EXCHANGE_ZONE_H
#define EXCHANGE_ZONE_H

#include <stddef.h>
#include <stdint.h>

/* A zone's offsets: off[i] seconds east of UTC apply from the instant at[i]
 * (Unix seconds) up to at[i + 1]; at[0] is INT64_MIN. At least one entry. */
struct exchange_zone {
    char name[64]; // the IANA name ("UTC" for UTC's)
    size_t n;
    int64_t *at;  // owned
    int32_t *off; // owned
};

/* UTC (one entry, offset 0). Release with exchange_zone_release. */
void exchange_zone_init_utc(struct exchange_zone *z);

/* Adds the period that starts at instant at with offset off (after the last
 * one: at increasing). */
void exchange_zone_add(struct exchange_zone *z, int64_t at, int32_t off);

/* Frees the table and leaves z as UTC's (safe twice). */
void exchange_zone_release(struct exchange_zone *z);

/* The offset (seconds east of UTC) at instant utc. */
int32_t exchange_zone_offset(const struct exchange_zone *z, int64_t utc);

/* The instant a wall-clock time local (seconds since 1970-01-01T00:00 on the
 * zone's wall clock) means. A time the clock skips (it goes forward) is read
 * with the offset before the change, so it lands as far after the change as
 * it was typed after its start (02:30 on a spring-forward day at 02:00 is
 * 03:30); a time the clock shows twice (it goes back) is the first of them.
 * This is what a browser does with a time typed without a zone. */
int64_t exchange_zone_to_utc(const struct exchange_zone *z, int64_t local);

/* A count of seconds since 1970-01-01T00:00 (any clock) into year, month,
 * day, hour, minute, second. */
void exchange_zone_split(int64_t secs, int out[6]);

#endif
