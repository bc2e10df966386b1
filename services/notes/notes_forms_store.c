/* Every SQL statement of the forms: the card and surveys. */
#include "notes_forms_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define US_OF(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* Decodes a stored JSON object into a new dynamic message of type desc, or
 * an empty one when it does not decode (logged: the rows are ours). */
static ProtobufCMessage *s_decode(const ProtobufCMessageDescriptor *desc, const char *text,
                                  const char *what, const char *id)
{
    struct cm_pbjson_error perr = {0};
    ProtobufCMessage *m = cm_pbjson_decode_text(desc, text, strlen(text), NULL, &perr);
    if (!m) {
        cm_log_error("%s %s does not decode: %s: %s", what, id, perr.field, perr.description);
        m = cm_pb_new(desc);
    }
    return m;
}

static Crm__FormPurpose s_purpose(const char *s)
{
    return !strcmp(s, "CARD") ? CRM__FORM_PURPOSE__FORM_PURPOSE_CARD
                              : CRM__FORM_PURPOSE__FORM_PURPOSE_SURVEY;
}

static Crm__StaffMember *s_staff(const char *id, const char *name)
{
    Crm__StaffMember *s = (Crm__StaffMember *)cm_pb_new(&crm__staff_member__descriptor);
    cm_pb_set_str(&s->id, id);
    cm_pb_set_str(&s->name, name);
    return s;
}

/* ---------------------------------------------------------------------- */
/* Forms                                                                   */

#define FORM_COLUMNS                                                                               \
    "f.id, f.purpose, v.version, v.title, v.questions::text, v.created_by_id, "                    \
    "v.created_by_name, " TS("f.created_at") ", " TS("v.created_at")

static Crm__Form *s_form_from_row(const PGresult *res, int row)
{
    Crm__Form *f = (Crm__Form *)s_decode(&crm__form__descriptor, PQgetvalue(res, row, 4), "form",
                                         PQgetvalue(res, row, 0));
    cm_pb_set_str(&f->id, PQgetvalue(res, row, 0));
    f->purpose = s_purpose(PQgetvalue(res, row, 1));
    f->version = (int32_t)strtol(PQgetvalue(res, row, 2), NULL, 10);
    cm_pb_set_str(&f->title, PQgetvalue(res, row, 3));
    f->updated_by = s_staff(PQgetvalue(res, row, 5), PQgetvalue(res, row, 6));
    cm_pb_set_str(&f->created_at, PQgetvalue(res, row, 7));
    cm_pb_set_str(&f->updated_at, PQgetvalue(res, row, 8));
    char etag[16];
    snprintf(etag, sizeof etag, "%d", f->version);
    cm_pb_set_str(&f->etag, etag);
    return f;
}

cm_err_t notes_forms_store_count(cm_db_t *db, const char *tenant, int *n)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(
        db, "SELECT count(*) FROM notes.forms WHERE tenant_id = $1 AND deleted_at IS NULL", 1, p,
        &err);
    if (!res)
        return err;
    *n = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_forms_store_insert(cm_db_t *db, const char *tenant, const struct notes_form_row *r)
{
    const char *p[] = {tenant,   r->id,     r->purpose, r->title, r->questions_json,
                       r->by_id, r->by_name};
    return cm_db_run(db,
                     "WITH f AS (INSERT INTO notes.forms (tenant_id, id, purpose) "
                     "  VALUES ($1, $2, $3) RETURNING tenant_id, id) "
                     "INSERT INTO notes.form_versions (tenant_id, form_id, version, title, "
                     "  questions, created_by_id, created_by_name) "
                     "SELECT f.tenant_id, f.id, 1, $4, $5::jsonb, $6, $7 FROM f",
                     7, p);
}

cm_err_t notes_forms_store_add_version(cm_db_t *db, const char *tenant,
                                       const struct notes_form_row *r)
{
    char v[16];
    snprintf(v, sizeof v, "%d", r->version);
    const char *p[] = {tenant, r->id, v, r->title, r->questions_json, r->by_id, r->by_name};
    return cm_db_run(db,
                     "WITH v AS (INSERT INTO notes.form_versions (tenant_id, form_id, version, "
                     "  title, questions, created_by_id, created_by_name) "
                     "  VALUES ($1, $2, $3::int, $4, $5::jsonb, $6, $7) RETURNING version) "
                     "UPDATE notes.forms SET version = (SELECT version FROM v) "
                     "WHERE tenant_id = $1 AND id = $2",
                     7, p);
}

cm_err_t notes_forms_store_delete(cm_db_t *db, const char *tenant, const char *id)
{
    const char *p[] = {tenant, id};
    return cm_db_run(db,
                     "UPDATE notes.forms SET deleted_at = now() "
                     "WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
                     2, p);
}

/* One message or none (*out NULL) from a query whose first row row_fn reads. */
typedef void *(*s_row_fn)(const PGresult *res, int row);

static cm_err_t s_one(cm_db_t *db, const char *sql, int n, const char *const *p, s_row_fn row_fn,
                      void **out)
{
    *out = NULL;
    cm_err_t err;
    PGresult *res = cm_db_exec(db, sql, n, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) >= 1)
        *out = row_fn(res, 0);
    PQclear(res);
    return CM_OK;
}

static void *s_form_row(const PGresult *res, int row)
{
    return s_form_from_row(res, row);
}

static cm_err_t s_one_form(cm_db_t *db, const char *sql, int n, const char *const *p,
                           Crm__Form **out)
{
    void *m = NULL;
    cm_err_t err = s_one(db, sql, n, p, s_form_row, &m);
    *out = m;
    return err;
}

cm_err_t notes_forms_store_get(cm_db_t *db, const char *tenant, const char *id, int version,
                               bool live, bool for_update, Crm__Form **out)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *p[] = {tenant, id, v, live ? "true" : "false"};
    return s_one_form(db,
                      for_update ? "SELECT " FORM_COLUMNS " FROM notes.forms f "
                                   "JOIN notes.form_versions v ON v.tenant_id = f.tenant_id "
                                   "  AND v.form_id = f.id AND v.version = "
                                   "  CASE WHEN $3::int = 0 THEN f.version ELSE $3::int END "
                                   "WHERE f.tenant_id = $1 AND f.id = $2 "
                                   "  AND (NOT $4::bool OR f.deleted_at IS NULL) "
                                   "FOR UPDATE OF f"
                                 : "SELECT " FORM_COLUMNS " FROM notes.forms f "
                                   "JOIN notes.form_versions v ON v.tenant_id = f.tenant_id "
                                   "  AND v.form_id = f.id AND v.version = "
                                   "  CASE WHEN $3::int = 0 THEN f.version ELSE $3::int END "
                                   "WHERE f.tenant_id = $1 AND f.id = $2 "
                                   "  AND (NOT $4::bool OR f.deleted_at IS NULL)",
                      4, p, out);
}

cm_err_t notes_forms_store_card_form(cm_db_t *db, const char *tenant, Crm__Form **out)
{
    const char *p[] = {tenant};
    return s_one_form(db,
                      "SELECT " FORM_COLUMNS " FROM notes.forms f "
                      "JOIN notes.form_versions v ON v.tenant_id = f.tenant_id "
                      "  AND v.form_id = f.id AND v.version = f.version "
                      "WHERE f.tenant_id = $1 AND f.purpose = 'CARD' AND f.deleted_at IS NULL",
                      1, p, out);
}

cm_err_t notes_forms_store_list(cm_db_t *db, const char *tenant, const char *purpose,
                                Crm__ListFormsResponse *r)
{
    const char *p[] = {tenant, purpose};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT " FORM_COLUMNS " FROM notes.forms f "
                               "JOIN notes.form_versions v ON v.tenant_id = f.tenant_id "
                               "  AND v.form_id = f.id AND v.version = f.version "
                               "WHERE f.tenant_id = $1 AND f.deleted_at IS NULL "
                               "  AND ($2::text IS NULL OR f.purpose = $2) "
                               "ORDER BY f.purpose = 'CARD' DESC, lower(v.title), f.id",
                               2, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    r->forms = cm_calloc((size_t)rows + 1, sizeof *r->forms);
    for (int i = 0; i < rows; i++)
        r->forms[r->n_forms++] = s_form_from_row(res, i);
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* Fillings                                                                */

#define FILLING_COLUMNS                                                                            \
    "x.id, x.customer_id, x.form_id, x.form_version, x.purpose, x.answers::text, "                 \
    "x.filled_by_id, x.filled_by_name, x.by_customer, " TS("x.filled_at") ", v.title, " US_OF(     \
        "x.filled_at")
#define FILLING_FROM                                                                               \
    " FROM notes.form_fillings x JOIN notes.form_versions v ON v.tenant_id = x.tenant_id "         \
    "AND v.form_id = x.form_id AND v.version = x.form_version "

static Crm__FormFilling *s_filling_from_row(const PGresult *res, int row)
{
    Crm__FormFilling *f =
        (Crm__FormFilling *)s_decode(&crm__form_filling__descriptor, PQgetvalue(res, row, 5),
                                     "filling", PQgetvalue(res, row, 0));
    cm_pb_set_str(&f->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&f->customer_id, PQgetvalue(res, row, 1));
    cm_pb_set_str(&f->form_id, PQgetvalue(res, row, 2));
    f->form_version = (int32_t)strtol(PQgetvalue(res, row, 3), NULL, 10);
    f->purpose = s_purpose(PQgetvalue(res, row, 4));
    f->filled_by = s_staff(PQgetvalue(res, row, 6), PQgetvalue(res, row, 7));
    f->by_customer = PQgetvalue(res, row, 8)[0] == 't';
    cm_pb_set_str(&f->filled_at, PQgetvalue(res, row, 9));
    cm_pb_set_str(&f->form_title, PQgetvalue(res, row, 10));
    return f;
}

cm_err_t notes_forms_store_filling_insert(cm_db_t *db, const char *tenant,
                                          const struct notes_filling_row *r)
{
    char v[16];
    snprintf(v, sizeof v, "%d", r->form_version);
    const char *p[] = {
        tenant,     r->id,           r->customer_id, r->form_id, v,
        r->purpose, r->answers_json, r->by_id,       r->by_name, r->by_customer ? "true" : "false"};
    return cm_db_run(db,
                     "INSERT INTO notes.form_fillings (tenant_id, id, customer_id, form_id, "
                     "form_version, purpose, answers, filled_by_id, filled_by_name, by_customer) "
                     "VALUES ($1, $2, $3, $4, $5::int, $6, $7::jsonb, $8, $9, $10::bool)",
                     10, p);
}

cm_err_t notes_forms_store_lock_card(cm_db_t *db, const char *tenant, const char *customer_id)
{
    const char *p[] = {tenant, customer_id};
    return cm_db_run(db, "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/card/' || $2, 0))",
                     2, p);
}

/* Appends the rows of res to r (at most limit of them when limit >= 0). */
static void s_append(const PGresult *res, int limit, Crm__ListFillingsResponse *r)
{
    int rows = PQntuples(res);
    int take = limit >= 0 && rows > limit ? limit : rows;
    r->fillings = cm_realloc(r->fillings, ((size_t)take + r->n_fillings + 1) * sizeof *r->fillings);
    for (int i = 0; i < take; i++)
        r->fillings[r->n_fillings++] = s_filling_from_row(res, i);
}

static void *s_filling_row(const PGresult *res, int row)
{
    return s_filling_from_row(res, row);
}

static cm_err_t s_one_filling(cm_db_t *db, const char *sql, int n, const char *const *p,
                              Crm__FormFilling **out)
{
    void *m = NULL;
    cm_err_t err = s_one(db, sql, n, p, s_filling_row, &m);
    *out = m;
    return err;
}

cm_err_t notes_forms_store_filling_get(cm_db_t *db, const char *tenant, const char *customer_id,
                                       const char *id, Crm__FormFilling **out)
{
    const char *p[] = {tenant, customer_id, id};
    return s_one_filling(db,
                         "SELECT " FILLING_COLUMNS FILLING_FROM
                         "WHERE x.tenant_id = $1 AND x.customer_id = $2 AND x.id = $3",
                         3, p, out);
}

cm_err_t notes_forms_store_latest(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *form_id, Crm__FormFilling **out)
{
    const char *p[] = {tenant, customer_id, form_id};
    return s_one_filling(db,
                         "SELECT " FILLING_COLUMNS FILLING_FROM
                         "WHERE x.tenant_id = $1 AND x.customer_id = $2 AND x.purpose = 'CARD' "
                         "  AND x.form_id = $3 ORDER BY x.filled_at DESC, x.id DESC LIMIT 1",
                         3, p, out);
}

cm_err_t notes_forms_store_fillings(cm_db_t *db, const char *tenant, const char *customer_id,
                                    const char *purpose, const char *form_id,
                                    const struct notes_page *after, int limit,
                                    Crm__ListFillingsResponse *r, struct notes_page *next)
{
    memset(next, 0, sizeof *next);
    char key[24], lim[16];
    const char *k = NULL, *id = NULL;
    if (after && after->set) {
        snprintf(key, sizeof key, "%" PRId64, after->key);
        k = key;
        id = after->id;
    }
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *p[] = {tenant, customer_id, purpose, form_id, k, id, lim};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT " FILLING_COLUMNS FILLING_FROM
                   "WHERE x.tenant_id = $1 AND x.customer_id = $2 AND x.purpose = $3 "
                   "  AND ($4::uuid IS NULL OR x.form_id = $4::uuid) "
                   "  AND ($5::bigint IS NULL OR (" US_OF(
                       "x.filled_at") ", x.id) < "
                                      "       ($5::bigint, $6::uuid)) "
                                      "ORDER BY x.filled_at DESC, x.id DESC LIMIT $7::int",
                   7, p, &err);
    if (!res)
        return err;
    s_append(res, limit, r);
    if (PQntuples(res) > limit) {
        next->set = true;
        next->key = strtoll(PQgetvalue(res, limit - 1, 11), NULL, 10);
        next->id = cm_strdup(PQgetvalue(res, limit - 1, 0));
    }
    PQclear(res);
    return CM_OK;
}

/* The answer of one row of the results query (columns 1..4), or NULL for a
 * filling without answers. The choices of a MANY_CHOICES answer come joined
 * by U+001F, which no answer can hold (control characters are refused). */
static Crm__FormAnswer *s_answer_from_row(const PGresult *res, int row)
{
    if (PQgetisnull(res, row, 1))
        return NULL;
    Crm__FormAnswer *a = (Crm__FormAnswer *)cm_pb_new(&crm__form_answer__descriptor);
    cm_pb_set_str(&a->question_id, PQgetvalue(res, row, 1));
    char type[64];
    snprintf(type, sizeof type, "QUESTION_TYPE_%s", PQgetvalue(res, row, 2));
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value_by_name(&crm__question_type__descriptor, type);
    a->type = v ? (Crm__QuestionType)v->value : CRM__QUESTION_TYPE__QUESTION_TYPE_UNSPECIFIED;
    cm_pb_set_str(&a->value, PQgetvalue(res, row, 3));
    if (PQgetisnull(res, row, 4))
        return a;
    for (const char *p = PQgetvalue(res, row, 4);;) {
        const char *end = strchr(p, '\x1f');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        a->values = cm_realloc(a->values, (a->n_values + 1) * sizeof *a->values);
        a->values[a->n_values++] = cm_strndup(p, n);
        if (!end)
            break;
        p = end + 1;
    }
    return a;
}

cm_err_t notes_forms_store_form_answers(cm_db_t *db, const char *tenant, const char *form_id,
                                        int limit, Crm__ListFillingsResponse *r)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = {tenant, form_id, lim};
    cm_err_t err;
    /* One row per answer, the answers' fields as columns: no JSON to parse
     * for ten thousand fillings. */
    PGresult *res = cm_db_exec(
        db,
        "SELECT x.id, a->>'questionId', coalesce(a->>'type', ''), coalesce(a->>'value', ''), "
        "  CASE WHEN jsonb_typeof(a->'values') = 'array' AND jsonb_array_length(a->'values') > 0 "
        "  THEN array_to_string(ARRAY(SELECT jsonb_array_elements_text(a->'values')), chr(31)) "
        "  END "
        "FROM (SELECT id, answers, filled_at FROM notes.form_fillings "
        "      WHERE tenant_id = $1 AND form_id = $2 "
        "      ORDER BY filled_at DESC, id DESC LIMIT $3::int) x "
        "LEFT JOIN LATERAL jsonb_array_elements(x.answers->'answers') a ON true "
        "ORDER BY x.filled_at DESC, x.id DESC",
        3, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    r->fillings = cm_realloc(r->fillings, ((size_t)rows + r->n_fillings + 1) * sizeof *r->fillings);
    Crm__FormFilling *f = NULL;
    for (int i = 0; i < rows; i++) {
        if (!f || strcmp(f->id, PQgetvalue(res, i, 0))) {
            f = (Crm__FormFilling *)cm_pb_new(&crm__form_filling__descriptor);
            cm_pb_set_str(&f->id, PQgetvalue(res, i, 0));
            r->fillings[r->n_fillings++] = f;
        }
        Crm__FormAnswer *a = s_answer_from_row(res, i);
        if (a) {
            f->answers = cm_realloc(f->answers, (f->n_answers + 1) * sizeof *f->answers);
            f->answers[f->n_answers++] = a;
        }
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_forms_store_erase_customer(cm_db_t *db, const char *tenant, const char *customer_id)
{
    const char *p[] = {tenant, customer_id};
    return cm_db_run(
        db, "DELETE FROM notes.form_fillings WHERE tenant_id = $1 AND customer_id = $2", 2, p);
}
