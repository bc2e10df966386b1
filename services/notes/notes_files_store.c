/* Every SQL statement of a customer's files and of the terms. */
#include "notes_files_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "notes.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

#define FILE_COLUMNS                                                                               \
    "f.id, f.customer_id, f.filename, f.content_type, f.size, f.sha256, f.kind, "                  \
    "f.terms_version, f.terms_sha256, f.created_by_id, f.created_by_name, " TS("f.created_at")

static Crm__StaffMember *s_staff(const char *id, const char *name)
{
    Crm__StaffMember *s = (Crm__StaffMember *)cm_pb_new(&crm__staff_member__descriptor);
    cm_pb_set_str(&s->id, id);
    cm_pb_set_str(&s->name, name);
    return s;
}

static Crm__CustomerFile *s_file_from_row(const PGresult *res, int row)
{
    Crm__CustomerFile *f = (Crm__CustomerFile *)cm_pb_new(&crm__customer_file__descriptor);
    cm_pb_set_str(&f->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&f->customer_id, PQgetvalue(res, row, 1));
    cm_pb_set_str(&f->filename, PQgetvalue(res, row, 2));
    cm_pb_set_str(&f->content_type, PQgetvalue(res, row, 3));
    f->size = strtoll(PQgetvalue(res, row, 4), NULL, 10);
    cm_pb_set_str(&f->sha256, PQgetvalue(res, row, 5));
    f->kind = !strcmp(PQgetvalue(res, row, 6), "SIGNATURE") ? CRM__FILE_KIND__FILE_KIND_SIGNATURE
                                                            : CRM__FILE_KIND__FILE_KIND_FILE;
    f->terms_version = (int32_t)strtol(PQgetvalue(res, row, 7), NULL, 10);
    cm_pb_set_str(&f->terms_sha256, PQgetvalue(res, row, 8));
    f->created_by = s_staff(PQgetvalue(res, row, 9), PQgetvalue(res, row, 10));
    cm_pb_set_str(&f->created_at, PQgetvalue(res, row, 11));
    return f;
}

/* Runs a statement answering at most one file row into *out (NULL for none). */
static cm_err_t s_one_file(cm_db_t *db, const char *sql, int n, const char *const *p,
                           Crm__CustomerFile **out)
{
    *out = NULL;
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, n, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_file_from_row(res, 0);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_files_store_lock_count(cm_db_t *db, const char *tenant, const char *customer_id,
                                      long *count)
{
    *count = 0;
    const char *p[] = {tenant, customer_id};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db,
        "SELECT pg_advisory_xact_lock(hashtextextended('notes.files:' || $1::text || ':' || "
        "$2::text, 0)), "
        "(SELECT count(*) FROM notes.files WHERE tenant_id = $1::uuid AND customer_id = $2::uuid)",
        2, p, &err);
    if (!res)
        return err;
    *count = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_files_store_insert(cm_db_t *db, const char *tenant, const Crm__CustomerFile *f,
                                  const uint8_t *data, size_t len, Crm__CustomerFile **out)
{
    *out = NULL;
    char size[24], version[16];
    snprintf(size, sizeof size, "%zu", len);
    snprintf(version, sizeof version, "%" PRId32, f->terms_version);
    const char *kind = f->kind == CRM__FILE_KIND__FILE_KIND_SIGNATURE ? "SIGNATURE" : "FILE";
    const char *p[] = {tenant,
                       f->id,
                       f->customer_id,
                       f->filename,
                       f->content_type,
                       size,
                       f->sha256,
                       kind,
                       version,
                       f->terms_sha256,
                       f->created_by ? f->created_by->id : "",
                       f->created_by ? f->created_by->name : "",
                       (const char *)data};
    int lens[13] = {0};
    int fmts[13] = {0};
    lens[12] = (int)len;
    fmts[12] = 1;
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(
        db,
        "INSERT INTO notes.files AS f (tenant_id, id, customer_id, filename, content_type, size, "
        "sha256, kind, terms_version, terms_sha256, created_by_id, created_by_name, data) "
        "VALUES ($1, $2, $3, $4, $5, $6::bigint, $7, $8, $9::int, $10, $11, $12, $13) "
        "RETURNING " FILE_COLUMNS,
        13, p, lens, fmts, 0, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_file_from_row(res, 0);
    PQclear(res);
    return *out ? CM_OK : CM_ERR_INTERNAL;
}

cm_err_t notes_files_store_list(cm_db_t *db, const char *tenant, const char *customer_id,
                                const char *kind, Crm__ListFilesResponse *resp)
{
    const char *p[] = {tenant, customer_id, kind};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " FILE_COLUMNS " FROM notes.files f "
                               "WHERE f.tenant_id = $1 AND f.customer_id = $2 "
                               "  AND ($3::text IS NULL OR f.kind = $3) "
                               "ORDER BY f.created_at DESC, f.id DESC",
                               3, p, &err);
    if (!res)
        return err;
    int n = PQntuples(res);
    resp->files = cm_malloc(((size_t)n + 1) * sizeof *resp->files);
    for (int i = 0; i < n; i++)
        resp->files[resp->n_files++] = s_file_from_row(res, i);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_files_store_get(cm_db_t *db, const char *tenant, const char *customer_id,
                               const char *id, Crm__CustomerFile **out)
{
    const char *p[] = {tenant, customer_id, id};
    return s_one_file(db,
                      "SELECT " FILE_COLUMNS " FROM notes.files f "
                      "WHERE f.tenant_id = $1 AND f.customer_id = $2 AND f.id = $3",
                      3, p, out);
}

cm_err_t notes_files_store_content(cm_db_t *db, const char *tenant, const char *customer_id,
                                   const char *id, Crm__FileContent **out)
{
    *out = NULL;
    const char *p[] = {tenant, customer_id, id};
    cm_err_t err;
    /* Binary results: the bytea arrives raw, the text columns as they are. */
    PGresult *res = cm_db_exec_bin(db,
                                   "SELECT content_type, filename, data FROM notes.files "
                                   "WHERE tenant_id = $1 AND customer_id = $2 AND id = $3",
                                   3, p, NULL, NULL, 1, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1) {
        Crm__FileContent *c = (Crm__FileContent *)cm_pb_new(&crm__file_content__descriptor);
        c->content_type = cm_strndup(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
        c->filename = cm_strndup(PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
        c->data.len = (size_t)PQgetlength(res, 0, 2);
        c->data.data = cm_malloc(c->data.len ? c->data.len : 1);
        memcpy(c->data.data, PQgetvalue(res, 0, 2), c->data.len);
        *out = c;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_files_store_rename(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *id, const char *filename, Crm__CustomerFile **out)
{
    const char *p[] = {tenant, customer_id, id, filename};
    return s_one_file(db,
                      "UPDATE notes.files f SET filename = $4 "
                      "WHERE f.tenant_id = $1 AND f.customer_id = $2 AND f.id = $3 "
                      "RETURNING " FILE_COLUMNS,
                      4, p, out);
}

cm_err_t notes_files_store_delete(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *id, Crm__CustomerFile **out)
{
    const char *p[] = {tenant, customer_id, id};
    return s_one_file(db,
                      "DELETE FROM notes.files f "
                      "WHERE f.tenant_id = $1 AND f.customer_id = $2 AND f.id = $3 "
                      "RETURNING " FILE_COLUMNS,
                      3, p, out);
}

cm_err_t notes_files_store_erase_customer(cm_db_t *db, const char *tenant, const char *customer_id)
{
    const char *p[] = {tenant, customer_id};
    cm_err_t err =
        cm_db_run(db, "DELETE FROM notes.files WHERE tenant_id = $1 AND customer_id = $2", 2, p);
    if (!err)
        err = cm_db_run(db,
                        "UPDATE notes.timeline SET details = jsonb_set(details, '{file}', "
                        "  (details->'file') - 'filename') "
                        "WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'FILE' "
                        "  AND details ? 'file'",
                        2, p);
    return err;
}

/* ---------------------------------------------------------------------- */
/* Terms                                                                   */

#define TERMS_COLUMNS                                                                              \
    "t.text, t.version, t.sha256, " TS("t.updated_at") ", t.updated_by_id, t.updated_by_name"

static Crm__Terms *s_terms_from_row(const PGresult *res, int row)
{
    Crm__Terms *t = (Crm__Terms *)cm_pb_new(&crm__terms__descriptor);
    if (!res || PQntuples(res) <= row)
        return t;
    cm_pb_set_str(&t->text, PQgetvalue(res, row, 0));
    t->version = (int32_t)strtol(PQgetvalue(res, row, 1), NULL, 10);
    cm_pb_set_str(&t->sha256, PQgetvalue(res, row, 2));
    cm_pb_set_str(&t->updated_at, PQgetvalue(res, row, 3));
    t->updated_by = s_staff(PQgetvalue(res, row, 4), PQgetvalue(res, row, 5));
    return t;
}

cm_err_t notes_files_store_terms_get(cm_db_t *db, const char *tenant, Crm__Terms **out)
{
    *out = NULL;
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "SELECT " TERMS_COLUMNS " FROM notes.terms t WHERE t.tenant_id = $1", 1, p, &err);
    if (!res)
        return err;
    *out = s_terms_from_row(res, 0);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_files_store_terms_put(cm_db_t *db, const char *tenant, const char *text,
                                     const char *sha256, const char *by_id, const char *by_name,
                                     Crm__Terms **out)
{
    *out = NULL;
    const char *p[] = {tenant, text, sha256, by_id, by_name};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "INSERT INTO notes.terms AS t (tenant_id, text, version, sha256, "
                               "updated_by_id, updated_by_name) VALUES ($1, $2, 1, $3, $4, $5) "
                               "ON CONFLICT (tenant_id) DO UPDATE SET text = EXCLUDED.text, "
                               "  version = t.version + 1, sha256 = EXCLUDED.sha256, "
                               "  updated_by_id = EXCLUDED.updated_by_id, "
                               "  updated_by_name = EXCLUDED.updated_by_name, updated_at = now() "
                               "  WHERE t.sha256 <> EXCLUDED.sha256 "
                               "RETURNING " TERMS_COLUMNS,
                               5, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1) {
        *out = s_terms_from_row(res, 0);
        PQclear(res);
        return CM_OK;
    }
    /* The same text again: nothing changed. */
    PQclear(res);
    return notes_files_store_terms_get(db, tenant, out);
}
