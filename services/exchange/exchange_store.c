/* The exchange service's SQL. */
#include "exchange_store.h"
#include "cm_log.h"
#include "cm_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cm_err_t exchange_store_local_stamp(cm_db_t *db, const char *zone, char stamp[16])
{
    const char *p[] = {zone};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db, "SELECT to_char(now() AT TIME ZONE $1, 'YYYYMMDD-HH24MISS')", 1, p, &err);
    if (!res)
        return err;
    snprintf(stamp, 16, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return CM_OK;
}

/* The offset of instant t in zone $1, in seconds. */
#define S_OFF(t) "extract(epoch FROM (" t " AT TIME ZONE $1) - (" t " AT TIME ZONE 'UTC'))::int"
/* The rows of a series where the offset changes, as "t" (CTE name x). */
#define S_CHANGES(x)                                                                               \
    "(SELECT t FROM (SELECT t, " S_OFF("t") " <> lag(" S_OFF(                                      \
        "t") ") OVER (ORDER BY t) AS c FROM " x ") y WHERE c)"

cm_err_t exchange_store_zone(cm_db_t *db, const char *name, struct exchange_zone *z)
{
    exchange_zone_init_utc(z);
    const char *p[] = {name};
    cm_err_t err;
    /* Scanning two centuries minute by minute would take seconds: find the
     * weeks in which the offset changes, then the day, the hour, the minute. */
    PGresult *res = cm_db_exec(
        db,
        "WITH w AS (SELECT g AS t FROM generate_series(timestamptz '1900-01-01Z', "
        "timestamptz '2100-01-01Z', interval '7 days') g), "
        "wc AS " S_CHANGES(
            "w") ", "
                 "d AS (SELECT DISTINCT g AS t FROM wc, generate_series(wc.t - interval '7 days', "
                 "wc.t, "
                 "interval '1 day') g), dc AS " S_CHANGES(
                     "d") ", "
                          "h AS (SELECT DISTINCT g AS t FROM dc, generate_series(dc.t - interval "
                          "'1 day', dc.t, "
                          "interval '1 hour') g), hc AS " S_CHANGES(
                              "h") ", "
                                   "m AS (SELECT DISTINCT g AS t FROM hc, generate_series(hc.t - "
                                   "interval '1 hour', hc.t, "
                                   "interval '1 minute') g), mc AS " S_CHANGES(
                                       "m") " "
                                            "SELECT NULL::bigint, " S_OFF(
                                                "timestamptz '1900-01-01Z'") " "
                                                                             "UNION ALL SELECT "
                                                                             "extract(epoch FROM "
                                                                             "t)::bigint, " S_OFF(
                                                                                 "t") " FROM mc "
                                                                                      "ORDER BY 1 "
                                                                                      "NULLS FIRST",
        1, p, &err);
    if (!res)
        return err;
    snprintf(z->name, sizeof z->name, "%s", name);
    int n = PQntuples(res);
    z->off[0] = n ? (int32_t)strtol(PQgetvalue(res, 0, 1), NULL, 10) : 0;
    for (int i = 1; i < n; i++)
        exchange_zone_add(z, strtoll(PQgetvalue(res, i, 0), NULL, 10),
                          (int32_t)strtol(PQgetvalue(res, i, 1), NULL, 10));
    PQclear(res);
    return CM_OK;
}

cm_err_t exchange_store_put_file(cm_db_t *db, const char *tenant, const char *path,
                                 const struct exchange_file *f, long hours, char id[37])
{
    cm_uuid(id);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        cm_log_error("could not read the built file %s: %s", path, strerror(errno));
        return CM_ERR_INTERNAL;
    }
    cm_err_t err = CM_OK;
    char *part = cm_malloc(EXCHANGE_PART_MAX);
    char h[24];
    snprintf(h, sizeof h, "%ld", hours);
    long seq = 0;
    for (;;) {
        size_t n = fread(part, 1, EXCHANGE_PART_MAX, fp);
        if (n == 0)
            break;
        char s[24];
        snprintf(s, sizeof s, "%ld", seq);
        const char *p[] = {tenant, id, s, part, h};
        int lens[] = {0, 0, 0, (int)n, 0};
        int formats[] = {0, 0, 0, 1, 0};
        PGresult *res = cm_db_exec_bin(db,
                                       "INSERT INTO exchange.file_parts (tenant_id, file_id, "
                                       "seq, data, expires_at) VALUES ($1, $2, $3, $4, "
                                       "now() + make_interval(hours => $5::int))",
                                       5, p, lens, formats, 0, &err);
        PQclear(res);
        if (err)
            goto out;
        seq++;
    }
    if (ferror(fp)) {
        cm_log_error("could not read the built file %s", path);
        err = CM_ERR_INTERNAL;
        goto out;
    }
    char rows[24], parts[24];
    snprintf(rows, sizeof rows, "%ld", f->rows);
    snprintf(parts, sizeof parts, "%ld", seq);
    const char *p[] = {tenant, id, f->content_type, f->filename, rows, parts, h};
    err = cm_db_run(db,
                    "INSERT INTO exchange.files (tenant_id, id, content_type, filename, rows, "
                    "parts, expires_at) VALUES ($1, $2, $3, $4, $5, $6, "
                    "now() + make_interval(hours => $7::int))",
                    7, p);
out:
    free(part);
    fclose(fp);
    return err;
}

cm_err_t exchange_store_get_part(cm_db_t *db, const char *id, long seq, struct exchange_file *f,
                                 uint8_t **data, size_t *len)
{
    char s[24];
    snprintf(s, sizeof s, "%ld", seq);
    const char *p[] = {id, s};
    /* Binary results: the part's bytes as they are (the numbers come back as
     * big-endian integers then, so they are read as text through ::text). */
    PGresult *res = NULL;
    cm_err_t err = exchange_store_row(db,
                                      "SELECT f.content_type, f.filename, f.rows::text, "
                                      "f.parts::text, p.data FROM exchange.files f "
                                      "JOIN exchange.file_parts p ON p.tenant_id = f.tenant_id "
                                      "AND p.file_id = f.id WHERE f.id = $1::uuid AND p.seq = "
                                      "$2::int AND f.expires_at > now()",
                                      2, p, 1, &res);
    if (err)
        return err;
    snprintf(f->content_type, sizeof f->content_type, "%s", PQgetvalue(res, 0, 0));
    snprintf(f->filename, sizeof f->filename, "%s", PQgetvalue(res, 0, 1));
    f->rows = strtol(PQgetvalue(res, 0, 2), NULL, 10);
    f->parts = strtol(PQgetvalue(res, 0, 3), NULL, 10);
    *len = (size_t)PQgetlength(res, 0, 4);
    *data = cm_malloc(*len ? *len : 1);
    memcpy(*data, PQgetvalue(res, 0, 4), *len);
    PQclear(res);
    return CM_OK;
}

long exchange_store_purge_import_rows(cm_db_t *db, long days)
{
    char d[24];
    snprintf(d, sizeof d, "%ld", days);
    const char *p[] = {d};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db, "SELECT exchange.purge_import_rows($1::int)", 1, p, &err);
    if (!res)
        return -1;
    long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

long exchange_store_purge(cm_db_t *db)
{
    return exchange_store_count(db, "SELECT exchange.purge_files()");
}

long exchange_store_count(cm_db_t *db, const char *sql)
{
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db, sql, 0, NULL, &err);
    if (!res)
        return -1;
    long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

cm_err_t exchange_store_row(cm_db_t *db, const char *sql, int n, const char *const *p,
                            int result_format, PGresult **res)
{
    cm_err_t err = CM_OK;
    *res = cm_db_exec_bin(db, sql, n, p, NULL, NULL, result_format, &err);
    if (!*res)
        return err;
    if (PQntuples(*res) != 1) {
        PQclear(*res);
        *res = NULL;
        return CM_ERR_NOT_FOUND;
    }
    return CM_OK;
}

cm_err_t exchange_store_claim(cm_db_t *db, const char *sql, int n, const char *const *p,
                              char *tenant, char *id, bool *found)
{
    PGresult *res = NULL;
    cm_err_t err = exchange_store_row(db, sql, n, p, 0, &res);
    *found = err == CM_OK;
    if (err == CM_ERR_NOT_FOUND)
        return CM_OK;
    if (err)
        return err;
    snprintf(tenant, 37, "%s", PQgetvalue(res, 0, 0));
    snprintf(id, 37, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return CM_OK;
}
