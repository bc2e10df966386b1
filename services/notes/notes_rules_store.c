/* Every SQL statement of the automation rules. */
#include "notes_rules_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* ---------------------------------------------------------------------- */
/* Rules                                                                   */

/* clang-format off */
/* A rule's definition, then its counts of runs (RULE_COLUMNS) or zeros
 * (RULE_DEF_COLUMNS: the worker reads a rule per run, and counting its runs
 * there would grow with its history). */
#define RULE_DEF                                                                                   \
    "r.id, r.name, r.enabled, r.trigger, r.trigger_tag, encode(r.definition, 'hex'), "             \
    TS("r.created_at") ", " TS("r.updated_at") ", r.last_error, "                                  \
    "coalesce(" TS("r.last_error_at") ", ''), "
#define RULE_COLUMNS                                                                               \
    RULE_DEF                                                                                       \
    "(SELECT count(*) FROM notes.rule_runs x WHERE x.tenant_id = r.tenant_id "                     \
    "AND x.rule_id = r.id), "                                                                      \
    "(SELECT count(*) FROM notes.rule_runs x WHERE x.tenant_id = r.tenant_id "                     \
    "AND x.rule_id = r.id AND x.status = 'FAILED')"
#define RULE_DEF_COLUMNS RULE_DEF "0, 0"
/* clang-format on */

/* The rule of a row (definition unpacked into its conditions and actions);
 * NULL when the definition does not unpack. */
static Crm__Rule *s_rule_from_row(const PGresult *res, int row)
{
    const char *hex = PQgetvalue(res, row, 5);
    size_t n = strlen(hex) / 2;
    uint8_t *bytes = cm_malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        int hi = cm_hex_digit(hex[2 * i]), lo = cm_hex_digit(hex[2 * i + 1]);
        bytes[i] = (uint8_t)((hi < 0 ? 0 : hi) << 4 | (lo < 0 ? 0 : lo));
    }
    Crm__Rule *r = crm__rule__unpack(NULL, n, bytes);
    free(bytes);
    if (!r)
        return NULL;
    cm_pb_set_str(&r->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&r->name, PQgetvalue(res, row, 1));
    r->enabled = PQgetvalue(res, row, 2)[0] == 't';
    r->trigger = notes_rules_trigger_of(PQgetvalue(res, row, 3));
    cm_pb_set_str(&r->trigger_tag, PQgetvalue(res, row, 4));
    cm_pb_set_str(&r->created_at, PQgetvalue(res, row, 6));
    cm_pb_set_str(&r->updated_at, PQgetvalue(res, row, 7));
    cm_pb_set_str(&r->last_error, PQgetvalue(res, row, 8));
    cm_pb_set_str(&r->last_error_at, PQgetvalue(res, row, 9));
    r->runs = (int32_t)strtol(PQgetvalue(res, row, 10), NULL, 10);
    r->failed_runs = (int32_t)strtol(PQgetvalue(res, row, 11), NULL, 10);
    return r;
}

/* r's conditions and actions, packed (malloc'd). */
static uint8_t *s_definition(const Crm__Rule *r, size_t *len)
{
    Crm__Rule d = CRM__RULE__INIT;
    d.conditions = r->conditions;
    d.n_conditions = r->n_conditions;
    d.actions = r->actions;
    d.n_actions = r->n_actions;
    *len = crm__rule__get_packed_size(&d);
    uint8_t *buf = cm_malloc(*len + 1);
    crm__rule__pack(&d, buf);
    return buf;
}

/* Runs a statement returning the RULE_COLUMNS of one rule (as r) and fills r
 * from it. */
static cm_err_t s_write(cm_db_t *db, const char *sql, const char *tenant, const char *id,
                        Crm__Rule *r)
{
    size_t len;
    uint8_t *def = s_definition(r, &len);
    const char *p[] = {tenant,
                       id,
                       r->name,
                       r->enabled ? "true" : "false",
                       notes_rules_trigger_name(r->trigger),
                       r->trigger_tag,
                       (const char *)def};
    int lengths[] = {0, 0, 0, 0, 0, 0, (int)len};
    int formats[] = {0, 0, 0, 0, 0, 0, 1};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec_bin(db, sql, 7, p, lengths, formats, 0, &err);
    free(def);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    Crm__Rule *stored = s_rule_from_row(res, 0);
    PQclear(res);
    if (!stored)
        return CM_ERR_INTERNAL;
    cm_pb_set_str(&r->id, stored->id);
    cm_pb_set_str(&r->created_at, stored->created_at);
    cm_pb_set_str(&r->updated_at, stored->updated_at);
    cm_pb_set_str(&r->last_error, stored->last_error);
    cm_pb_set_str(&r->last_error_at, stored->last_error_at);
    r->runs = stored->runs;
    r->failed_runs = stored->failed_runs;
    crm__rule__free_unpacked(stored, NULL);
    return CM_OK;
}

cm_err_t notes_rules_store_count(cm_db_t *db, const char *tenant, int *n)
{
    const char *p[] = {tenant};
    cm_err_t err = CM_OK;
    PGresult *res =
        cm_db_exec(db, "SELECT count(*) FROM notes.rules WHERE tenant_id = $1", 1, p, &err);
    if (!res)
        return err;
    *n = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_rules_store_insert(cm_db_t *db, const char *tenant, Crm__Rule *r)
{
    char id[NOTES_RULE_ID_SIZE];
    cm_uuid(id);
    return s_write(db,
                   "INSERT INTO notes.rules AS r (tenant_id, id, name, enabled, trigger, "
                   "trigger_tag, definition) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                   "RETURNING " RULE_COLUMNS,
                   tenant, id, r);
}

cm_err_t notes_rules_store_update(cm_db_t *db, const char *tenant, const char *id, Crm__Rule *r)
{
    return s_write(db,
                   "UPDATE notes.rules AS r SET name = $3, enabled = $4, trigger = $5, "
                   "trigger_tag = $6, definition = $7, updated_at = now(), "
                   "last_error = CASE WHEN $4 THEN r.last_error ELSE '' END "
                   "WHERE r.tenant_id = $1 AND r.id = $2 RETURNING " RULE_COLUMNS,
                   tenant, id, r);
}

cm_err_t notes_rules_store_delete(cm_db_t *db, const char *tenant, const char *id)
{
    const char *p[] = {tenant, id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db,
                               "WITH gone AS (DELETE FROM notes.rules WHERE tenant_id = $1 "
                               "AND id = $2 RETURNING id), runs AS (DELETE FROM notes.rule_runs "
                               "WHERE tenant_id = $1 AND rule_id IN (SELECT id FROM gone)) "
                               "SELECT count(*) FROM gone",
                               2, p, &err);
    if (!res)
        return err;
    bool found = PQgetvalue(res, 0, 0)[0] != '0';
    PQclear(res);
    return found ? CM_OK : CM_ERR_NOT_FOUND;
}

cm_err_t notes_rules_store_get(cm_db_t *db, const char *tenant, const char *id, bool counts,
                               Crm__Rule **out)
{
    *out = NULL;
    const char *p[] = {tenant, id};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db,
                               counts ? "SELECT " RULE_COLUMNS
                                        " FROM notes.rules r WHERE r.tenant_id = $1 AND r.id = $2"
                                      : "SELECT " RULE_DEF_COLUMNS
                                        " FROM notes.rules r WHERE r.tenant_id = $1 AND r.id = $2",
                               2, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) == 1)
        *out = s_rule_from_row(res, 0);
    err = PQntuples(res) != 1 ? CM_ERR_NOT_FOUND : *out ? CM_OK : CM_ERR_INTERNAL;
    PQclear(res);
    return err;
}

cm_err_t notes_rules_store_list(cm_db_t *db, const char *tenant, Crm__ListRulesResponse *resp)
{
    const char *p[] = {tenant};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db,
                               "SELECT " RULE_COLUMNS " FROM notes.rules r WHERE r.tenant_id = $1 "
                               "ORDER BY lower(r.name), r.id",
                               1, p, &err);
    if (!res)
        return err;
    int n = PQntuples(res);
    resp->rules = cm_calloc((size_t)n + 1, sizeof *resp->rules);
    for (int i = 0; i < n; i++) {
        Crm__Rule *r = s_rule_from_row(res, i);
        if (r)
            resp->rules[resp->n_rules++] = r;
    }
    PQclear(res);
    return CM_OK;
}

/* A run's outcomes from their JSON ([{"code", "value"}], written by
 * notes_rules_store_run_end). */
static void s_outcomes(Crm__RuleRun *r, const char *text)
{
    json_t *arr = json_loads(text, 0, NULL);
    size_t n = json_array_size(arr), i;
    json_t *o;
    r->outcomes = cm_calloc(n + 1, sizeof *r->outcomes);
    json_array_foreach(arr, i, o)
    {
        Crm__RuleOutcome *x = (Crm__RuleOutcome *)cm_pb_new(&crm__rule_outcome__descriptor);
        const char *code = json_string_value(json_object_get(o, "code"));
        const char *value = json_string_value(json_object_get(o, "value"));
        cm_pb_set_str(&x->code, code ? code : "");
        cm_pb_set_str(&x->value, value ? value : "");
        r->outcomes[r->n_outcomes++] = x;
    }
    json_decref(arr);
}

/* A page of a rule's runs after ($3, $4) (the keyset position; NULL: the
 * first page), newest first, $5 rows. */
/* clang-format off */
static const char RUNS_PAGE[] =
    "SELECT customer_id, event_id, event_type, status, result, attempts, " TS("created_at") ", "
    "coalesce(" TS("done_at") ", ''), "
    "CASE WHEN status = 'PENDING' THEN " TS("next_at") " ELSE '' END, "
    "(extract(epoch FROM created_at) * 1000000)::bigint, timeline_id, outcomes::text "
    "FROM notes.rule_runs WHERE tenant_id = $1 AND rule_id = $2 AND ($3::bigint IS NULL OR "
    "(created_at, timeline_id) < "
    "('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::uuid)) "
    "ORDER BY created_at DESC, timeline_id DESC LIMIT $5";
/* clang-format on */

cm_err_t notes_rules_store_runs(cm_db_t *db, const char *tenant, const char *rule_id,
                                const char *after, int limit, Crm__ListRuleRunsResponse *resp,
                                char *next, size_t next_size)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit + 1);
    const char *after_us = NULL, *after_id = NULL;
    char us[24] = "";
    if (after) {
        const char *sep = strchr(after, '_');
        snprintf(us, sizeof us, "%.*s", (int)(sep - after), after);
        after_us = us;
        after_id = sep + 1;
    }
    const char *p[] = {tenant, rule_id, after_us, after_id, lim};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db, RUNS_PAGE, 5, p, &err);
    if (!res)
        return err;
    int n = PQntuples(res);
    next[0] = '\0';
    if (n > limit) {
        n = limit;
        snprintf(next, next_size, "%s_%s", PQgetvalue(res, n - 1, 9), PQgetvalue(res, n - 1, 10));
    }
    resp->runs = cm_calloc((size_t)n + 1, sizeof *resp->runs);
    for (int i = 0; i < n; i++) {
        Crm__RuleRun *r = (Crm__RuleRun *)cm_pb_new(&crm__rule_run__descriptor);
        cm_pb_set_str(&r->customer_id, PQgetvalue(res, i, 0));
        cm_pb_set_str(&r->event_id, PQgetvalue(res, i, 1));
        cm_pb_set_str(&r->event_type, PQgetvalue(res, i, 2));
        cm_pb_set_str(&r->status, PQgetvalue(res, i, 3));
        cm_pb_set_str(&r->result, PQgetvalue(res, i, 4));
        r->attempts = (int32_t)strtol(PQgetvalue(res, i, 5), NULL, 10);
        cm_pb_set_str(&r->created_at, PQgetvalue(res, i, 6));
        cm_pb_set_str(&r->done_at, PQgetvalue(res, i, 7));
        cm_pb_set_str(&r->next_attempt_at, PQgetvalue(res, i, 8));
        s_outcomes(r, PQgetvalue(res, i, 11));
        resp->runs[resp->n_runs++] = r;
    }
    PQclear(res);
    return CM_OK;
}

/* ---------------------------------------------------------------------- */
/* The worker                                                              */

cm_err_t notes_rules_store_expand(cm_db_t *db, int max, int *n)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", max);
    const char *p[] = {lim};
    cm_err_t err = CM_OK;
    *n = 0;
    PGresult *res = cm_db_exec(db, "SELECT notes.expand_rule_events($1)", 1, p, &err);
    if (!res)
        return err;
    *n = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_rules_store_claim(cm_db_t *db, int max, int lease_s, struct notes_rule_claim *out,
                                 int *n)
{
    char lim[16], lease[16];
    snprintf(lim, sizeof lim, "%d", max);
    snprintf(lease, sizeof lease, "%d", lease_s);
    const char *p[] = {lim, lease};
    cm_err_t err = CM_OK;
    *n = 0;
    PGresult *res = cm_db_exec(db, "SELECT * FROM notes.claim_rule_runs($1, $2)", 2, p, &err);
    if (!res)
        return err;
    for (int i = 0; i < PQntuples(res) && i < max; i++) {
        snprintf(out[i].tenant, NOTES_RULE_ID_SIZE, "%s", PQgetvalue(res, i, 0));
        snprintf(out[i].rule_id, NOTES_RULE_ID_SIZE, "%s", PQgetvalue(res, i, 1));
        snprintf(out[i].timeline_id, NOTES_RULE_ID_SIZE, "%s", PQgetvalue(res, i, 2));
        snprintf(out[i].lease, NOTES_RULE_ID_SIZE, "%s", PQgetvalue(res, i, 3));
        (*n)++;
    }
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_rules_store_run_load(cm_db_t *db, const struct notes_rule_claim *c,
                                    struct notes_rule_run *run)
{
    const char *p[] = {c->tenant, c->rule_id, c->timeline_id, c->lease};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(db,
                               "SELECT customer_id, event_type, details::text, attempts "
                               "FROM notes.rule_runs WHERE tenant_id = $1 AND rule_id = $2 "
                               "AND timeline_id = $3 AND lease = $4 AND status = 'PENDING'",
                               4, p, &err);
    if (!res)
        return err;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return CM_ERR_NOT_FOUND;
    }
    snprintf(run->customer_id, sizeof run->customer_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(run->event_type, sizeof run->event_type, "%s", PQgetvalue(res, 0, 1));
    run->details = cm_strdup(PQgetvalue(res, 0, 2));
    run->attempts = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_rules_store_run_end(cm_db_t *db, const struct notes_rule_claim *c,
                                   const char *status, const char *result, const char *outcomes,
                                   long retry_ms)
{
    char retry[24];
    snprintf(retry, sizeof retry, "%ld", retry_ms);
    const char *p[] = {c->tenant, c->rule_id, c->timeline_id, c->lease,
                       status,    result,     retry,          outcomes};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(
        db,
        "WITH run AS (UPDATE notes.rule_runs SET status = $5, result = $6, "
        "outcomes = $8::jsonb, attempts = attempts + 1, lease = NULL, leased_until = NULL, "
        "next_at = now() + $7::bigint * interval '1 millisecond', "
        "done_at = CASE WHEN $5 = 'PENDING' THEN NULL ELSE now() END "
        "WHERE tenant_id = $1 AND rule_id = $2 AND timeline_id = $3 AND lease = $4 "
        "RETURNING rule_id), "
        "rule AS (UPDATE notes.rules SET last_error = $6, last_error_at = now() "
        "WHERE tenant_id = $1 AND id IN (SELECT rule_id FROM run) AND $5 = 'FAILED') "
        "SELECT count(*) FROM run",
        8, p, &err);
    if (!res)
        return err;
    bool held = PQgetvalue(res, 0, 0)[0] != '0';
    PQclear(res);
    return held ? CM_OK : CM_ERR_CONFLICT;
}

cm_err_t notes_rules_store_release(cm_db_t *db, const struct notes_rule_claim *c)
{
    const char *p[] = {c->tenant, c->rule_id, c->timeline_id, c->lease};
    return cm_db_run(db,
                     "UPDATE notes.rule_runs SET lease = NULL, leased_until = NULL "
                     "WHERE tenant_id = $1 AND rule_id = $2 AND timeline_id = $3 AND lease = $4",
                     4, p);
}

cm_err_t notes_rules_store_figures(cm_db_t *db, const char *tenant, const char *customer_id,
                                   const char *zone, struct notes_rule_facts *f,
                                   struct notes_rule_spent *spent, size_t max)
{
    const char *p[] = {tenant, customer_id, zone};
    cm_err_t err = CM_OK;
    PGresult *res = cm_db_exec(
        db,
        "SELECT coalesce(sum(f.orders), 0), coalesce(sum(f.attended), 0), "
        "coalesce((extract(epoch FROM v.at) * 1000)::bigint, 0), "
        "(SELECT coalesce(json_agg(json_build_array(currency, amount)), '[]')::text FROM "
        "(SELECT currency, sum(amount_minor) AS amount FROM notes.customer_spent "
        "WHERE tenant_id = $1 AND customer_id = $2 GROUP BY currency HAVING "
        "sum(paying_orders) > 0) s) "
        ", coalesce((v.at AT TIME ZONE $3::text)::date - date '1970-01-01', 0), "
        "(now() AT TIME ZONE $3::text)::date - date '1970-01-01' "
        /* the last visit: the last entry of bookings_visits (059_figures_times.sql) */
        "FROM (SELECT (SELECT starts_at FROM notes.bookings WHERE tenant_id = $1 "
        "AND customer_id = $2 AND status = 'ATTENDED' ORDER BY starts_at DESC LIMIT 1) AS at) v "
        "LEFT JOIN notes.customer_figures f ON f.tenant_id = $1 AND f.customer_id = $2 "
        "GROUP BY v.at",
        3, p, &err);
    if (!res)
        return err;
    f->orders = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    f->visits = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    f->last_visit_ms = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    f->last_visit_day = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    f->today = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    /* [["EUR", 12000], ...] */
    json_t *arr = json_loads(PQgetvalue(res, 0, 3), 0, NULL);
    size_t i;
    json_t *pair;
    f->n_spent = 0;
    f->spent = spent;
    json_array_foreach(arr, i, pair)
    {
        const char *currency = json_string_value(json_array_get(pair, 0));
        if (f->n_spent == max || !currency)
            break;
        snprintf(spent[f->n_spent].currency, sizeof spent[f->n_spent].currency, "%s", currency);
        spent[f->n_spent].amount_minor = (int64_t)json_integer_value(json_array_get(pair, 1));
        f->n_spent++;
    }
    json_decref(arr);
    PQclear(res);
    return CM_OK;
}

cm_err_t notes_rules_store_facts(cm_db_t *db, const char *tenant, const Crm__Rule *rule,
                                 const Crm__Customer *c, const char *zone,
                                 struct notes_rule_facts *f, struct notes_rule_spent *spent,
                                 size_t max)
{
    memset(f, 0, sizeof *f);
    f->tags = (const char *const *)c->tags;
    f->n_tags = c->n_tags;
    f->groups = (const char *const *)c->groups;
    f->n_groups = c->n_groups;
    f->source = (int)c->source;
    f->has_company = c->company && (c->company->name[0] || c->company->vat_number[0]);
    if (!notes_rules_needs_figures(rule))
        return CM_OK;
    return notes_rules_store_figures(db, tenant, c->id, zone, f, spent, max);
}

cm_err_t notes_rules_store_erase_customer(cm_db_t *db, const char *tenant, const char *customer_id)
{
    const char *p[] = {tenant, customer_id};
    return cm_db_run(db,
                     "UPDATE notes.rule_runs SET "
                     "  result = CASE WHEN status = 'FAILED' OR outcomes @> "
                     "    '[{\"code\": \"FAILED\"}]' THEN '' ELSE result END, "
                     "  outcomes = (SELECT coalesce(jsonb_agg(o || '{\"value\": \"\"}'), '[]') "
                     "    FROM jsonb_array_elements(outcomes) o) "
                     "WHERE tenant_id = $1 AND customer_id = $2 AND outcomes <> '[]'",
                     2, p);
}
