/* customers.SnapshotCustomers: pages of (tenant_id, id)-ordered customers
 * across tenants. Row-level security shows one tenant per transaction setting,
 * so the page walks the tenants (customers.snapshot_tenants, a SECURITY
 * DEFINER function) and sets app.tenant for each in turn. The stream's newest
 * seq is read before the rows: whatever the rows miss comes later in the
 * stream. */
#include "customers_snapshot.h"
#include "customers_check.h"
#include "customers_validate.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* The customer as GetCustomer shows it, from the row's columns. */
static Crm__Customer *s_customer(const PGresult *res, int row)
{
    json_error_t jerr;
    struct cm_pbjson_error perr;
    Crm__Customer *c =
        (Crm__Customer *)cm_pbjson_decode_text(&crm__customer__descriptor, PQgetvalue(res, row, 1),
                                               (size_t)PQgetlength(res, row, 1), NULL, &perr);
    if (!c) {
        cm_log_error("stored customer %s does not decode", PQgetvalue(res, row, 0));
        c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    }
    cm_pb_set_str(&c->id, PQgetvalue(res, row, 0));
    cm_pb_set_str(&c->etag, PQgetvalue(res, row, 2));
    cm_pb_set_str(&c->created_at, PQgetvalue(res, row, 3));
    cm_pb_set_str(&c->updated_at, PQgetvalue(res, row, 4));
    json_t *groups = json_loads(PQgetvalue(res, row, 5), 0, &jerr);
    size_t n = json_is_array(groups) ? json_array_size(groups) : 0;
    if (n) {
        c->groups = cm_calloc(n, sizeof *c->groups);
        for (size_t i = 0; i < n; i++) {
            const char *s = json_string_value(json_array_get(groups, i));
            c->groups[c->n_groups++] = cm_strdup(s ? s : "");
        }
    }
    json_decref(groups);
    customers_validate_sort_names(c->groups, c->n_groups);
    customers_validate_sort_names(c->tags, c->n_tags);
    c->has_photo = PQgetvalue(res, row, 6)[0] == 't';
    return c;
}

/* Appends up to limit customers of one tenant after after_id ("" for all),
 * their ids in [id_from, id_before) ("" for no bound). */
static cm_err_t s_tenant_page(cm_db_t *db, const char *tenant, const char *after_id,
                              const char *id_from, const char *id_before, int limit,
                              Crm__SnapshotCustomersResponse *r)
{
    const char *set[] = {tenant};
    cm_err_t err = cm_db_run(db, "SELECT set_config('app.tenant', $1, true)", 1, set);
    if (err)
        return err;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    /* Only the bounds given, as plain conditions: a prepared statement's
     * generic plan cannot use "($n IS NULL OR id > $n)" on the index, and
     * would read the tenant from its start for every page. */
    const char *p[5] = {tenant, lim};
    int n = 2;
    char *where = cm_strdup("c.tenant_id = $1");
    const char *bound[3] = {after_id, id_from, id_before};
    const char *op[3] = {">", ">=", "<"};
    for (int i = 0; i < 3; i++) {
        if (!bound[i][0])
            continue;
        p[n++] = bound[i];
        char *longer = cm_strfmt("%s AND c.id %s $%d::uuid", where, op[i], n);
        free(where);
        where = longer;
    }
    char *sql = cm_strfmt(
        "SELECT c.id, c.doc, c.version, " TS("c.created_at") ", " TS(
            "c.updated_at") ", "
                            "coalesce((SELECT json_agg(g.name ORDER BY cg.position, g.name) "
                            "  FROM customers.customer_groups cg JOIN customers.groups g "
                            "    ON g.tenant_id = cg.tenant_id AND g.id = cg.group_id "
                            " WHERE cg.tenant_id = c.tenant_id AND cg.customer_id = c.id), '[]'), "
                            "EXISTS (SELECT 1 FROM customers.photos p "
                            "         WHERE p.tenant_id = c.tenant_id AND p.customer_id = c.id) "
                            "FROM customers.customers c WHERE %s ORDER BY c.id LIMIT $2::int",
        where);
    free(where);
    PGresult *res = cm_db_exec(db, sql, n, p, &err);
    free(sql);
    if (!res)
        return err;
    int rows = PQntuples(res);
    if (rows) {
        r->customers =
            cm_realloc(r->customers, (r->n_customers + (size_t)rows) * sizeof *r->customers);
        for (int i = 0; i < rows; i++) {
            Crm__SnapshotCustomer *sc =
                (Crm__SnapshotCustomer *)cm_pb_new(&crm__snapshot_customer__descriptor);
            cm_pb_set_str(&sc->tenant_id, tenant);
            sc->customer = s_customer(res, i);
            r->customers[r->n_customers++] = sc;
        }
    }
    PQclear(res);
    return CM_OK;
}

void customers_snapshot(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__SnapshotCustomersRequest *req = (const Crm__SnapshotCustomersRequest *)msg;
    if (req->limit < 0 || req->limit > CUSTOMERS_SNAPSHOT_MAX) {
        cm_call_violation(call, "limit", "OUT_OF_RANGE", "limit must be 0..%d (0 means %d)",
                          CUSTOMERS_SNAPSHOT_MAX, CUSTOMERS_SNAPSHOT_MAX);
        return;
    }
    if ((req->after_tenant_id[0] && !customers_check_uuid(req->after_tenant_id)) ||
        (req->after_id[0] && !customers_check_uuid(req->after_id))) {
        cm_call_violation(call, "afterId", "INVALID_FORMAT", "after ids must be UUIDs");
        return;
    }
    if ((req->id_from[0] && !customers_check_uuid(req->id_from)) ||
        (req->id_before[0] && !customers_check_uuid(req->id_before))) {
        cm_call_violation(call, "idFrom", "INVALID_FORMAT", "id bounds must be UUIDs");
        return;
    }
    int limit = req->limit ? req->limit : CUSTOMERS_SNAPSHOT_MAX;
    Crm__SnapshotCustomersResponse *r =
        (Crm__SnapshotCustomersResponse *)cm_pb_new(&crm__snapshot_customers_response__descriptor);
    PGresult *tenants = NULL;
    cm_err_t err;
    PGresult *res =
        cm_db_exec(call->db, "SELECT coalesce(max(seq), 0) FROM customers.outbox", 0, NULL, &err);
    if (!res)
        goto fail;
    r->stream_seq = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    const char *p[] = {req->after_tenant_id[0] ? req->after_tenant_id : NULL};
    tenants =
        cm_db_exec(call->db, "SELECT id FROM customers.snapshot_tenants($1::uuid)", 1, p, &err);
    if (!tenants)
        goto fail;
    int nt = PQntuples(tenants);
    for (int i = 0; i < nt && (int)r->n_customers < limit; i++) {
        const char *t = PQgetvalue(tenants, i, 0);
        bool first = !strcmp(t, req->after_tenant_id);
        err = s_tenant_page(call->db, t, first ? req->after_id : "", req->id_from, req->id_before,
                            limit - (int)r->n_customers, r);
        if (err)
            goto fail;
    }
    r->done = (int)r->n_customers < limit;
    PQclear(tenants);
    cm_log_debug("snapshot page of %zu customers", r->n_customers);
    *resp = &r->base;
    return;
fail:
    PQclear(tenants);
    cm_call_db_fail(call, err, "could not read the snapshot");
    crm__snapshot_customers_response__free_unpacked(r, NULL);
}
