/* One function per request of the search service, and the dispatch table. */
#include "search_handlers.h"
#include "search_index.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET_TIMEOUT_MS 2000

/* Fetches one customer from the customers service as the caller, and puts it
 * into the index (or removes it when it is gone). */
static void s_refresh(search_index_t *idx, struct cm_call *call, const char *id)
{
    Crm__GetCustomerRequest req = CRM__GET_CUSTOMER_REQUEST__INIT;
    req.id = (char *)id;
    Crm__ReplyHeader *reply = NULL;
    ProtobufCMessage *body = NULL;
    cm_err_t err = cm_call_service(call, "customers", "customers.GetCustomer", NULL, &req.base,
                                   &crm__customer__descriptor, GET_TIMEOUT_MS, &reply, &body);
    if (err) {
        cm_log_warn("consistentWith: could not get customer %s: %s", id, cm_err_name(err));
    } else if (reply->status == CRM__STATUS__STATUS_OK) {
        (void)search_index_put(idx, call->hdr->tenant_id, (const Crm__Customer *)body);
    } else if (reply->status == CRM__STATUS__STATUS_NOT_FOUND) {
        search_index_delete(idx, call->hdr->tenant_id, id);
    } else {
        cm_log_warn("consistentWith: customer %s: %s", id, reply->message);
    }
    if (reply)
        crm__reply_header__free_unpacked(reply, NULL);
    if (body)
        protobuf_c_message_free_unpacked(body, NULL);
}

/* Brings the customers named in consistentWith up to the versions the caller
 * has seen. Returns false (the call failed) on a malformed entry. */
static bool s_consistent(search_index_t *idx, struct cm_call *call, char **entries, size_t n)
{
    if (n > SEARCH_CONSISTENT_MAX) {
        cm_call_violation(call, "consistentWith", "TOO_MANY",
                          "consistentWith takes at most %d entries", SEARCH_CONSISTENT_MAX);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(entries[i], ':');
        char id[40], field[32];
        long version = 0;
        bool deleted = colon && !strcmp(colon + 1, "deleted");
        snprintf(field, sizeof field, "consistentWith[%zu]", i);
        if (!colon || colon - entries[i] != 36 ||
            (!deleted && cm_parse_long(colon + 1, 1, 4294967294L, &version))) {
            cm_call_violation(call, field, "INVALID_FORMAT",
                              "must be CUSTOMER_ID:ETAG (ETAG an integer, or \"deleted\")");
            return false;
        }
        memcpy(id, entries[i], 36);
        id[36] = '\0';
        long held = search_index_version(idx, call->hdr->tenant_id, id);
        bool stale = deleted ? held > 0 : held >= 0 && held < version;
        if (stale)
            s_refresh(idx, call, id);
    }
    return true;
}

static void s_search(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    struct search_state *st = call->user;
    const Crm__SearchCustomersRequest *req = (const Crm__SearchCustomersRequest *)msg;
    search_index_t *idx = search_sync_index(st->sync);
    if (!idx) {
        cm_call_fail(call, CM_ERR_UNAVAILABLE, "search index is loading");
        return;
    }
    if (!s_consistent(idx, call, req->consistent_with, req->n_consistent_with))
        return;
    Crm__SearchCustomersResponse *r =
        (Crm__SearchCustomersResponse *)cm_pb_new(&crm__search_customers_response__descriptor);
    struct search_problem problem;
    /* The page's customers come packed from the index; the rest of the
     * response is packed after them (fields in any order make one message). */
    cm_buf_t body;
    cm_buf_init(&body, 0);
    cm_buf_reserve(&body, (size_t)(req->page_size > 0 ? req->page_size : 20) * 400);
    if (search_index_search_packed(idx, call->hdr->tenant_id, req, r, &body, &problem) != CM_OK) {
        cm_call_violation(call, problem.field, problem.reason, "%s", problem.text);
        crm__search_customers_response__free_unpacked(r, NULL);
        cm_buf_release(&body);
        return;
    }
    cm_pb_set_str(&r->served_by, st->instance);
    cm_log_debug("search q=\"%s\" total=%d", req->q, (int)r->total_size);
    size_t rest = protobuf_c_message_get_packed_size(&r->base);
    uint8_t *tail = cm_malloc(rest ? rest : 1);
    protobuf_c_message_pack(&r->base, tail);
    if (cm_buf_append(&body, tail, rest) != 0)
        abort(); /* uncapped */
    free(tail);
    crm__search_customers_response__free_unpacked(r, NULL);
    size_t len = 0;
    uint8_t *bytes = (uint8_t *)cm_buf_steal(&body, &len);
    cm_call_reply_raw(call, bytes, len);
    (void)resp; /* the reply is raw */
}

struct s_stats_ctx {
    Crm__SearchStatsResponse *r;
};

static void s_on_tenant(void *ud, const char *tenant, size_t customers, size_t bytes)
{
    Crm__SearchStatsResponse *r = ((struct s_stats_ctx *)ud)->r;
    Crm__SearchTenantStats *t =
        (Crm__SearchTenantStats *)cm_pb_new(&crm__search_tenant_stats__descriptor);
    cm_pb_set_str(&t->tenant_id, tenant);
    t->customers = (int64_t)customers;
    t->bytes = (int64_t)bytes;
    r->tenants = cm_realloc(r->tenants, (r->n_tenants + 1) * sizeof *r->tenants);
    r->tenants[r->n_tenants++] = t;
}

static void s_stats(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    struct search_state *st = call->user;
    (void)msg;
    Crm__SearchStatsResponse *r =
        (Crm__SearchStatsResponse *)cm_pb_new(&crm__search_stats_response__descriptor);
    cm_pb_set_str(&r->instance, st->instance);
    search_index_t *idx = search_sync_index(st->sync);
    r->ready = idx != NULL;
    r->stream_seq = search_sync_seq(st->sync);
    if (idx) {
        struct s_stats_ctx ctx = {r};
        r->bytes = (int64_t)search_index_stats(idx, s_on_tenant, &ctx);
        r->customers = (int64_t)search_index_count(idx);
    }
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */

void search_start(cm_svc_t *svc, void *user)
{
    struct search_state *st = user;
    st->sync = search_sync_new(cm_svc_zctx(svc), st->bus_endpoint, st->events_out_endpoint);
    if (!st->sync) {
        cm_log_error("could not connect to the bus at %s", st->bus_endpoint);
        exit(1);
    }
}

void search_stop(cm_svc_t *svc, void *user)
{
    struct search_state *st = user;
    (void)svc;
    search_sync_destroy(&st->sync);
}

void search_tick(cm_svc_t *svc, void *user)
{
    struct search_state *st = user;
    (void)svc;
    search_sync_tick(st->sync);
}

bool search_ready(cm_svc_t *svc, void *user)
{
    struct search_state *st = user;
    (void)svc;
    return search_sync_ready(st->sync);
}

#define M(name, req, resp, fn, flags, scope) CM_METHOD("search", name, req, resp, fn, flags, scope)

const struct cm_method search_methods[] = {
    M("SearchCustomers", search_customers_request, search_customers_response, s_search, 0,
      CUSTOMERS_READ),
    M("Stats", search_stats_request, search_stats_response, s_stats, CM_METHOD_NO_TENANT, INTERNAL),
};
const size_t search_n_methods = sizeof search_methods / sizeof *search_methods;
