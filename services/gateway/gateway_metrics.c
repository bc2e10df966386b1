/* Counters and histograms kept under one mutex; label sets are bounded by the
 * route table, the known methods and HTTP codes, and the services. */
#include "gateway_metrics.h"
#include "cm_buf.h"
#include "cm_mdp.h"
#include "cm_util.h"
#include "company.pb-c.h"
#include "customers.pb-c.h"
#include "search.pb-c.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double s_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define N_BUCKETS (sizeof s_buckets / sizeof s_buckets[0])
/* A hard cap on label sets, whatever a bug upstream might feed in. */
#define MAX_SERIES 4096

struct s_hist {
    char key[128];              // route or service
    uint64_t counts[N_BUCKETS]; // per bucket, not cumulative
    uint64_t count;
    double sum;
};

struct s_counter {
    char a[128], b[32]; // route+method or service+status
    int code;
    uint64_t n;
};

struct s_series {
    struct s_counter *counters; // owned
    size_t n_counters, cap_counters;
    struct s_hist *hists; // owned
    size_t n_hists, cap_hists;
};

struct gateway_metrics {
    pthread_mutex_t mu;
    struct s_series http, bus;
    long in_flight;
    size_t body_held;       // request-body bytes held against the budget
    uint64_t body_refusals; // requests refused for want of body budget
    uint64_t resent;        // bus requests sent again after the broker connection came back
    /* Asking search for its figures: one scrape at a time. */
    pthread_mutex_t search_mu;
    char *bus_endpoint;      // owned; NULL: not asked
    bool io_batch;           // for the context (cm_mdp_ctx_new)
    void *zctx;              // owned, made on first use
    cm_mdp_client_t *client; // owned, made on first use
};

gateway_metrics_t *gateway_metrics_new(void)
{
    gateway_metrics_t *self = cm_calloc(1, sizeof *self);
    pthread_mutex_init(&self->mu, NULL);
    pthread_mutex_init(&self->search_mu, NULL);
    return self;
}

void gateway_metrics_destroy(gateway_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_metrics_t *self = *self_p;
    free(self->http.counters);
    free(self->http.hists);
    free(self->bus.counters);
    free(self->bus.hists);
    cm_mdp_client_destroy(&self->client);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    free(self->bus_endpoint);
    pthread_mutex_destroy(&self->search_mu);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}

static void s_count(struct s_series *s, const char *a, const char *b, int code)
{
    for (size_t i = 0; i < s->n_counters; i++) {
        struct s_counter *c = &s->counters[i];
        if (c->code == code && !strcmp(c->a, a) && !strcmp(c->b, b)) {
            c->n++;
            return;
        }
    }
    if (s->n_counters == MAX_SERIES)
        return;
    if (s->n_counters == s->cap_counters) {
        s->cap_counters = s->cap_counters ? 2 * s->cap_counters : 32;
        s->counters = cm_realloc(s->counters, s->cap_counters * sizeof *s->counters);
    }
    struct s_counter *c = &s->counters[s->n_counters++];
    memset(c, 0, sizeof *c);
    snprintf(c->a, sizeof c->a, "%s", a);
    snprintf(c->b, sizeof c->b, "%s", b);
    c->code = code;
    c->n = 1;
}

static void s_observe(struct s_series *s, const char *key, double seconds)
{
    struct s_hist *h = NULL;
    for (size_t i = 0; i < s->n_hists && !h; i++)
        if (!strcmp(s->hists[i].key, key))
            h = &s->hists[i];
    if (!h) {
        if (s->n_hists == MAX_SERIES)
            return;
        if (s->n_hists == s->cap_hists) {
            s->cap_hists = s->cap_hists ? 2 * s->cap_hists : 32;
            s->hists = cm_realloc(s->hists, s->cap_hists * sizeof *s->hists);
        }
        h = &s->hists[s->n_hists++];
        memset(h, 0, sizeof *h);
        snprintf(h->key, sizeof h->key, "%s", key);
    }
    for (size_t i = 0; i < N_BUCKETS; i++) {
        if (seconds <= s_buckets[i]) {
            h->counts[i]++;
            break;
        }
    }
    h->count++;
    h->sum += seconds;
}

static const char *s_method(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (m && !strcmp(m, known[i]))
            return known[i];
    return "OTHER";
}

void gateway_metrics_http(gateway_metrics_t *self, const char *route, const char *method, int code,
                          double seconds)
{
    pthread_mutex_lock(&self->mu);
    s_count(&self->http, route, s_method(method), code);
    s_observe(&self->http, route, seconds);
    pthread_mutex_unlock(&self->mu);
}

void gateway_metrics_bus(gateway_metrics_t *self, const char *service, const char *status,
                         double seconds)
{
    pthread_mutex_lock(&self->mu);
    s_count(&self->bus, service, status, 0);
    s_observe(&self->bus, service, seconds);
    pthread_mutex_unlock(&self->mu);
}

void gateway_metrics_bus_resent(gateway_metrics_t *self)
{
    pthread_mutex_lock(&self->mu);
    self->resent++;
    pthread_mutex_unlock(&self->mu);
}

void gateway_metrics_in_flight(gateway_metrics_t *self, int delta)
{
    pthread_mutex_lock(&self->mu);
    self->in_flight += delta;
    pthread_mutex_unlock(&self->mu);
}

void gateway_metrics_body_held(gateway_metrics_t *self, size_t held, bool refused)
{
    pthread_mutex_lock(&self->mu);
    self->body_held = held;
    if (refused)
        self->body_refusals++;
    pthread_mutex_unlock(&self->mu);
}

/* ---------------------------------------------------------------------- */
/* Exposition                                                              */

/* Appends a label value with \, " and newline escaped. */
static void s_label(cm_buf_t *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        int rc;
        if (*p == '\\' || *p == '"')
            rc = cm_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            rc = cm_buf_printf(b, "\\n");
        else
            rc = cm_buf_append(b, p, 1);
        (void)rc; // the buffer has no cap
    }
}

static void s_text(cm_buf_t *b, const char *s)
{
    int rc = cm_buf_append(b, s, strlen(s));
    (void)rc; // no cap
}

static void s_hists(cm_buf_t *b, const char *name, const char *label, const struct s_series *s)
{
    char num[64];
    for (size_t i = 0; i < s->n_hists; i++) {
        const struct s_hist *h = &s->hists[i];
        uint64_t cum = 0;
        for (size_t k = 0; k <= N_BUCKETS; k++) {
            s_text(b, name);
            s_text(b, "_bucket{");
            s_text(b, label);
            s_text(b, "=\"");
            s_label(b, h->key);
            if (k < N_BUCKETS) {
                cum += h->counts[k];
                snprintf(num, sizeof num, "\",le=\"%g\"} %llu\n", s_buckets[k],
                         (unsigned long long)cum);
            } else {
                snprintf(num, sizeof num, "\",le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
            }
            s_text(b, num);
        }
        s_text(b, name);
        s_text(b, "_sum{");
        s_text(b, label);
        s_text(b, "=\"");
        s_label(b, h->key);
        snprintf(num, sizeof num, "\"} %.6f\n", h->sum);
        s_text(b, num);
        s_text(b, name);
        s_text(b, "_count{");
        s_text(b, label);
        s_text(b, "=\"");
        s_label(b, h->key);
        snprintf(num, sizeof num, "\"} %llu\n", (unsigned long long)h->count);
        s_text(b, num);
    }
}

/* ---------------------------------------------------------------------- */
/* The search index figures                                                */

void gateway_metrics_set_bus(gateway_metrics_t *self, const char *bus_endpoint, bool io_batch)
{
    pthread_mutex_lock(&self->search_mu);
    free(self->bus_endpoint);
    self->bus_endpoint = bus_endpoint ? cm_strdup(bus_endpoint) : NULL;
    self->io_batch = io_batch;
    pthread_mutex_unlock(&self->search_mu);
}

/* The HELP and TYPE lines of a gauge. */
static void s_gauge_head(struct cm_buf *out, const char *name, const char *help)
{
    s_text(out, "# HELP ");
    s_text(out, name);
    s_text(out, " ");
    s_text(out, help);
    s_text(out, "\n# TYPE ");
    s_text(out, name);
    s_text(out, " gauge\n");
}

void gateway_metrics_search_text(struct Crm__SearchStatsResponse *const *stats, size_t n,
                                 struct cm_buf *out)
{
    char num[64];
    /* Totals a copy, never a figure per tenant: /metrics needs no key, and
     * the businesses sharing a deployment must not learn each other's ids or
     * sizes from it (search.Stats over the bus has them per tenant). */
    s_gauge_head(out, "crm_search_index_customers", "Customers in a search copy's index.");
    for (size_t i = 0; i < n; i++) {
        long long customers = 0;
        for (size_t k = 0; k < stats[i]->n_tenants; k++)
            customers += (long long)stats[i]->tenants[k]->customers;
        s_text(out, "crm_search_index_customers{instance=\"");
        s_label(out, stats[i]->instance);
        snprintf(num, sizeof num, "\"} %lld\n", customers);
        s_text(out, num);
    }
    s_gauge_head(out, "crm_search_index_tenants",
                 "Tenants with customers in a search copy's index.");
    for (size_t i = 0; i < n; i++) {
        s_text(out, "crm_search_index_tenants{instance=\"");
        s_label(out, stats[i]->instance);
        snprintf(num, sizeof num, "\"} %zu\n", stats[i]->n_tenants);
        s_text(out, num);
    }
    static const char *const totals[][2] = {
        {"crm_search_index_bytes", "Memory a search copy's index holds (approximate)."},
        {"crm_search_stream_seq", "The last customers event a search copy applied."},
    };
    for (size_t t = 0; t < 2; t++) {
        s_gauge_head(out, totals[t][0], totals[t][1]);
        for (size_t i = 0; i < n; i++) {
            s_text(out, totals[t][0]);
            s_text(out, "{instance=\"");
            s_label(out, stats[i]->instance);
            snprintf(num, sizeof num, "\"} %llu\n",
                     t == 0 ? (unsigned long long)stats[i]->bytes
                            : (unsigned long long)stats[i]->stream_seq);
            s_text(out, num);
        }
    }
}

#define SEARCH_ASKS 4

/* Sends `asks` requests for method (empty body) to service and calls keep for
 * the body of each OK answer to them, waiting at most
 * GATEWAY_METRICS_SEARCH_MS in all. */
static void s_ask(gateway_metrics_t *self, const char *service, const char *method, int asks,
                  void (*keep)(void *ud, const uint8_t *body, size_t len), void *ud)
{
    pthread_mutex_lock(&self->search_mu);
    if (!self->bus_endpoint)
        goto out;
    if (!self->client) {
        if (!self->zctx)
            self->zctx = cm_mdp_ctx_new(self->io_batch);
        self->client = cm_mdp_client_new(self->zctx, self->bus_endpoint);
        if (!self->client)
            goto out;
    }
    char ids[SEARCH_ASKS][40];
    Crm__Principal who = CRM__PRINCIPAL__INIT;
    who.role = CRM__ROLE__ROLE_SERVICE;
    who.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    who.name = (char *)"metrics";
    int64_t until = cm_mono_ms() + GATEWAY_METRICS_SEARCH_MS;
    for (int i = 0; i < asks && i < SEARCH_ASKS; i++) {
        Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
        cm_uuid(ids[i]);
        h.request_id = ids[i];
        h.method = (char *)method;
        h.principal = &who;
        h.deadline_unix_ms = cm_now_ms() + GATEWAY_METRICS_SEARCH_MS;
        uint8_t hb[256];
        size_t hl = crm__request_header__get_packed_size(&h);
        if (hl > sizeof hb)
            goto out;
        crm__request_header__pack(&h, hb);
        if (cm_mdp_client_send(self->client, service, hb, hl, "", 0))
            goto out;
    }
    int answered = 0;
    while (answered < asks) {
        int64_t left = until - cm_mono_ms();
        struct cm_mdp_msg msg = {0};
        if (left <= 0 || cm_mdp_client_recv(self->client, (int)left, &msg) != 1)
            break;
        Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, msg.header_len, msg.header);
        bool ours = false;
        for (int i = 0; rh && i < asks; i++)
            ours = ours || !strcmp(rh->request_id, ids[i]);
        if (ours) {
            answered++;
            if (rh->status == CRM__STATUS__STATUS_OK)
                keep(ud, msg.body, msg.body_len);
        }
        if (rh)
            crm__reply_header__free_unpacked(rh, NULL);
        cm_mdp_msg_release(&msg);
    }
out:
    pthread_mutex_unlock(&self->search_mu);
}

/* Stats answers of the copies of one service, one per instance. */
struct s_per_instance {
    const ProtobufCMessageDescriptor *desc; // the answer's type; it has a string "instance"
    ProtobufCMessage **got;                 // owned (the caller frees the n kept)
    size_t n, max;
};

static const char *s_instance_of(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "instance");
    return f ? *(const char *const *)((const char *)m + f->offset) : "";
}

/* Keeps one answer per instance (the broker may bring two asks to one copy). */
static void s_keep_per_instance(void *ud, const uint8_t *body, size_t len)
{
    struct s_per_instance *g = ud;
    ProtobufCMessage *r = protobuf_c_message_unpack(g->desc, NULL, len, body);
    for (size_t k = 0; r && k < g->n; k++)
        if (!strcmp(s_instance_of(g->got[k]), s_instance_of(r))) {
            protobuf_c_message_free_unpacked(r, NULL);
            r = NULL;
        }
    if (r && g->n < g->max)
        g->got[g->n++] = r;
    else if (r)
        protobuf_c_message_free_unpacked(r, NULL);
}

void gateway_metrics_company_text(struct Crm__CompanyStats *const *stats, size_t n,
                                  struct cm_buf *out)
{
    char num[96];
    s_text(out, "# HELP crm_vies_calls_total Calls of the company service to VIES, by result "
                "(valid, invalid, or VIES's error code).\n# TYPE crm_vies_calls_total counter\n");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < stats[i]->n_results; k++) {
            s_text(out, "crm_vies_calls_total{instance=\"");
            s_label(out, stats[i]->instance);
            s_text(out, "\",result=\"");
            s_label(out, stats[i]->results[k]->result);
            snprintf(num, sizeof num, "\"} %llu\n",
                     (unsigned long long)stats[i]->results[k]->calls);
            s_text(out, num);
        }
    s_text(out, "# HELP crm_vies_call_duration_seconds How long calls to VIES took.\n"
                "# TYPE crm_vies_call_duration_seconds histogram\n");
    for (size_t i = 0; i < n; i++) {
        const Crm__CompanyStats *c = stats[i];
        for (size_t b = 0; b < c->n_bucket_le && b < c->n_bucket_calls; b++) {
            s_text(out, "crm_vies_call_duration_seconds_bucket{instance=\"");
            s_label(out, c->instance);
            snprintf(num, sizeof num, "\",le=\"%g\"} %llu\n", c->bucket_le[b],
                     (unsigned long long)c->bucket_calls[b]);
            s_text(out, num);
        }
        static const char *const tails[] = {"_bucket", "_sum", "_count"};
        for (size_t t = 0; t < 3; t++) {
            s_text(out, "crm_vies_call_duration_seconds");
            s_text(out, tails[t]);
            s_text(out, "{instance=\"");
            s_label(out, c->instance);
            if (t == 0)
                snprintf(num, sizeof num, "\",le=\"+Inf\"} %llu\n", (unsigned long long)c->calls);
            else if (t == 1)
                snprintf(num, sizeof num, "\"} %.3f\n", c->seconds);
            else
                snprintf(num, sizeof num, "\"} %llu\n", (unsigned long long)c->calls);
            s_text(out, num);
        }
    }
}

static void s_keep_outbox(void *ud, const uint8_t *body, size_t len)
{
    Crm__OutboxStatsResponse **out = ud;
    if (!*out)
        *out = crm__outbox_stats_response__unpack(NULL, len, body);
}

void gateway_metrics_outbox_text(const Crm__OutboxStatsResponse *o, int64_t now_ms,
                                 struct cm_buf *out)
{
    char num[96];
    static const char *const gauges[][2] = {
        {"crm_outbox_oldest_seq", "The oldest customers event the outbox keeps for replay."},
        {"crm_outbox_newest_seq", "The newest customers event published."},
        {"crm_outbox_unpublished", "Customers events written but not yet published."},
    };
    const unsigned long long values[] = {
        (unsigned long long)o->oldest_seq, (unsigned long long)o->newest_seq,
        (unsigned long long)(o->unpublished > 0 ? o->unpublished : 0)};
    for (size_t i = 0; i < 3; i++) {
        s_gauge_head(out, gauges[i][0], gauges[i][1]);
        snprintf(num, sizeof num, "%s %llu\n", gauges[i][0], values[i]);
        s_text(out, num);
    }
    static const char *const per_reader[][2] = {
        {"crm_stream_reader_behind", "Customers events a durable reader has not applied yet."},
        {"crm_stream_reader_silent_seconds",
         "Seconds since a durable reader last reported its position."},
    };
    for (size_t g = 0; g < 2; g++) {
        s_gauge_head(out, per_reader[g][0], per_reader[g][1]);
        for (size_t i = 0; i < o->n_readers; i++) {
            const Crm__StreamReader *r = o->readers[i];
            s_text(out, per_reader[g][0]);
            s_text(out, "{reader=\"");
            s_label(out, r->name);
            if (g == 0) {
                snprintf(num, sizeof num, "\"} %llu\n",
                         (unsigned long long)(o->newest_seq > r->seq ? o->newest_seq - r->seq : 0));
            } else {
                int64_t ms = now_ms > r->seen_unix_ms ? now_ms - r->seen_unix_ms : 0;
                snprintf(num, sizeof num, "\"} %lld.%03lld\n", (long long)(ms / 1000),
                         (long long)(ms % 1000));
            }
            s_text(out, num);
        }
    }
}

char *gateway_metrics_render(gateway_metrics_t *self, size_t auth_entries, size_t *len)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    char num[64];
    pthread_mutex_lock(&self->mu);

    s_text(&b, "# HELP crm_http_requests_total HTTP requests by route pattern, method and code.\n"
               "# TYPE crm_http_requests_total counter\n");
    for (size_t i = 0; i < self->http.n_counters; i++) {
        const struct s_counter *c = &self->http.counters[i];
        s_text(&b, "crm_http_requests_total{route=\"");
        s_label(&b, c->a);
        s_text(&b, "\",method=\"");
        s_label(&b, c->b);
        snprintf(num, sizeof num, "\",code=\"%d\"} %llu\n", c->code, (unsigned long long)c->n);
        s_text(&b, num);
    }
    s_text(&b, "# HELP crm_http_request_duration_seconds HTTP request latency by route pattern.\n"
               "# TYPE crm_http_request_duration_seconds histogram\n");
    s_hists(&b, "crm_http_request_duration_seconds", "route", &self->http);

    s_text(&b, "# HELP crm_bus_requests_total Bus requests by service and reply status.\n"
               "# TYPE crm_bus_requests_total counter\n");
    for (size_t i = 0; i < self->bus.n_counters; i++) {
        const struct s_counter *c = &self->bus.counters[i];
        s_text(&b, "crm_bus_requests_total{service=\"");
        s_label(&b, c->a);
        s_text(&b, "\",status=\"");
        s_label(&b, c->b);
        snprintf(num, sizeof num, "\"} %llu\n", (unsigned long long)c->n);
        s_text(&b, num);
    }
    s_text(&b, "# HELP crm_bus_request_duration_seconds Bus request latency by service.\n"
               "# TYPE crm_bus_request_duration_seconds histogram\n");
    s_hists(&b, "crm_bus_request_duration_seconds", "service", &self->bus);

    s_text(&b, "# HELP crm_http_in_flight HTTP requests being handled.\n"
               "# TYPE crm_http_in_flight gauge\n");
    snprintf(num, sizeof num, "crm_http_in_flight %ld\n", self->in_flight);
    s_text(&b, num);
    s_text(&b, "# HELP crm_http_body_bytes_held Request-body bytes held in memory against "
               "the body budget.\n"
               "# TYPE crm_http_body_bytes_held gauge\n");
    snprintf(num, sizeof num, "crm_http_body_bytes_held %zu\n", self->body_held);
    s_text(&b, num);
    s_text(&b, "# HELP crm_http_body_budget_refusals_total Requests refused (503) because "
               "their body would pass the body budget.\n"
               "# TYPE crm_http_body_budget_refusals_total counter\n");
    snprintf(num, sizeof num, "crm_http_body_budget_refusals_total %llu\n",
             (unsigned long long)self->body_refusals);
    s_text(&b, num);
    s_text(&b, "# HELP crm_bus_requests_resent_total Bus requests sent again because the "
               "connection to the broker was lost and came back.\n"
               "# TYPE crm_bus_requests_resent_total counter\n");
    snprintf(num, sizeof num, "crm_bus_requests_resent_total %llu\n",
             (unsigned long long)self->resent);
    s_text(&b, num);
    pthread_mutex_unlock(&self->mu);

    s_text(&b, "# HELP crm_auth_cache_entries API keys in the authentication cache.\n"
               "# TYPE crm_auth_cache_entries gauge\n");
    snprintf(num, sizeof num, "crm_auth_cache_entries %zu\n", auth_entries);
    s_text(&b, num);

    /* Asked over the bus: the copies of search (the broker spreads the asks
     * over them), and customers for its outbox. */
    ProtobufCMessage *got[SEARCH_ASKS] = {NULL};
    struct s_per_instance g = {&crm__search_stats_response__descriptor, got, 0, SEARCH_ASKS};
    s_ask(self, "search", "search.Stats", SEARCH_ASKS, s_keep_per_instance, &g);
    gateway_metrics_search_text((Crm__SearchStatsResponse *const *)got, g.n, &b);
    for (size_t i = 0; i < g.n; i++)
        protobuf_c_message_free_unpacked(got[i], NULL);
    /* The copies of company, for their calls to VIES. */
    g = (struct s_per_instance){&crm__company_stats__descriptor, got, 0, SEARCH_ASKS};
    s_ask(self, "company", "company.Stats", SEARCH_ASKS, s_keep_per_instance, &g);
    gateway_metrics_company_text((Crm__CompanyStats *const *)got, g.n, &b);
    for (size_t i = 0; i < g.n; i++)
        protobuf_c_message_free_unpacked(got[i], NULL);
    Crm__OutboxStatsResponse *outbox = NULL;
    s_ask(self, "customers", "customers.OutboxStats", 1, s_keep_outbox, &outbox);
    if (outbox) {
        gateway_metrics_outbox_text(outbox, cm_now_ms(), &b);
        crm__outbox_stats_response__free_unpacked(outbox, NULL);
    }
    return cm_buf_steal(&b, len);
}
