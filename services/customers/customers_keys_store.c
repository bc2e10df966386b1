/* The SQL of API keys (customers_keys_store.h). */
#include "customers_keys_store.h"
#include "customers_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define KEY_COLUMNS                                                                                \
    "id, name, array_to_json(scopes)::text, role, " TS(                                            \
        "created_at") ", "                                                                         \
                      "coalesce(" TS("last_used_at") ", ''), coalesce(" TS(                        \
                          "revoked_at") ", ''), created_by"

void customers_keys_store_scopes(const char *json, char ***scopes, size_t *n_scopes)
{
    json_t *arr = json_loads(json, 0, NULL);
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    *scopes = n ? cm_calloc(n, sizeof **scopes) : NULL;
    *n_scopes = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        (*scopes)[(*n_scopes)++] = cm_strdup(s ? s : "");
    }
    json_decref(arr);
}

static Crm__ApiKey *s_key_of(PGresult *res, int row)
{
    Crm__ApiKey *k = (Crm__ApiKey *)cm_pb_new(&crm__api_key__descriptor);
    cm_pb_set_str(&k->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&k->name, PQgetvalue(res, row, 1));
    customers_keys_store_scopes(PQgetvalue(res, row, 2), &k->scopes, &k->n_scopes);
    k->role = (Crm__Role)strtol(PQgetvalue(res, row, 3), NULL, 10);
    cm_pb_set_str(&k->created_at, PQgetvalue(res, row, 4));
    cm_pb_set_str(&k->last_used_at, PQgetvalue(res, row, 5));
    cm_pb_set_str(&k->revoked_at, PQgetvalue(res, row, 6));
    cm_pb_set_str(&k->created_by, PQgetvalue(res, row, 7));
    return k;
}

cm_err_t customers_keys_store_list(cm_db_t *db, const char *tenant, Crm__ListApiKeysResponse *resp)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", CUSTOMERS_KEYS_MAX_LISTED);
    const char *p[] = {tenant, lim};
    cm_err_t err;
    PGresult *res =
        cm_db_exec(db,
                   "SELECT " KEY_COLUMNS " FROM customers.api_keys WHERE tenant_id = $1 "
                   "ORDER BY created_at DESC, id LIMIT $2::int",
                   2, p, &err);
    if (!res)
        return err;
    int rows = PQntuples(res);
    resp->api_keys = rows ? cm_calloc((size_t)rows, sizeof *resp->api_keys) : NULL;
    for (int i = 0; i < rows; i++)
        resp->api_keys[resp->n_api_keys++] = s_key_of(res, i);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_keys_store_count_active(cm_db_t *db, const char *tenant, long *n)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT count(*) FROM customers.api_keys "
                               "WHERE tenant_id = $1 AND revoked_at IS NULL",
                               1, p, &err);
    if (!res)
        return err;
    *n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return CM_OK;
}

/* A text[] literal's JSON form, for $n::jsonb → text[]. */
static char *s_json_array(char *const *items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(items[i]));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

cm_err_t customers_keys_store_insert(cm_db_t *db, const char *tenant, const char *id,
                                     const char *name, const uint8_t *hash, size_t hash_len,
                                     char *const *scopes, size_t n_scopes, const char *created_by,
                                     Crm__ApiKey **out)
{
    char *arr = s_json_array(scopes, n_scopes);
    const char *p[] = {id, tenant, name, (const char *)hash, arr, created_by};
    int lens[] = {0, 0, 0, (int)hash_len, 0, 0};
    int fmts[] = {0, 0, 0, 1, 0, 0};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(
        db,
        "INSERT INTO customers.api_keys (id, tenant_id, name, role, key_hash, scopes, created_by) "
        "VALUES ($1, $2, $3, 4, $4, ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), $6) "
        "RETURNING " KEY_COLUMNS,
        6, p, lens, fmts, 0, &err);
    free(arr);
    if (!res)
        return err;
    *out = s_key_of(res, 0);
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_keys_store_revoke(cm_db_t *db, const char *tenant, const char *id,
                                     Crm__ApiKey **out)
{
    const char *p[] = {tenant, id};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "UPDATE customers.api_keys SET revoked_at = now() "
                               "WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL "
                               "RETURNING " KEY_COLUMNS,
                               2, p, &err);
    if (!res)
        return err;
    *out = PQntuples(res) == 1 ? s_key_of(res, 0) : NULL;
    PQclear(res);
    return CM_OK;
}

cm_err_t customers_keys_store_touch(cm_db_t *db, const char *id)
{
    const char *p[] = {id};
    return cm_db_run(db, "SELECT customers.touch_api_key($1)", 1, p);
}

/* Until the staff accounts' security events land, a key's events go to the
 * audit under the nil customer id (no customer's history shows them). */
#define NO_CUSTOMER "00000000-0000-0000-0000-000000000000"

cm_err_t customers_keys_store_event(cm_db_t *db, const char *tenant, const char *action,
                                    const Crm__RequestHeader *hdr, const Crm__ApiKey *key)
{
    json_t *change = json_pack("[{s:s, s:s, s:s}]", "field", "apiKey", "oldValue", key->id,
                               "newValue", key->name);
    char *changes = json_dumps(change, JSON_COMPACT);
    json_decref(change);
    cm_err_t err = customers_store_audit(db, tenant, NO_CUSTOMER, action, hdr, changes);
    free(changes);
    return err;
}
