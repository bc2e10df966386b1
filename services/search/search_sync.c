/* Snapshot loading and event following. */
#include "search_sync.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_svc.h"
#include "cm_util.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 5000
#define PAGE_TIMEOUT_MS 30000
#define STUCK_MS 60000

/* The snapshot is read in PARTS parts of the id space at once (each with its
 * own connection, so each has a page in flight): the customers copies build
 * pages side by side while this copy indexes. */
#define PARTS 2
static const char *const s_bounds[PARTS + 1] = {"", "80000000-0000-0000-0000-000000000000", ""};

struct s_part {
    cm_mdp_client_t *client; // owned
    char after_tenant[40];
    char after_id[40];
    char inflight[40]; // request id of the page asked for, "" when none
    bool done;
};

struct search_sync {
    void *zctx;                // borrowed
    char *bus_endpoint;        // owned
    char *events_out_endpoint; // owned
    search_index_t *index;     // owned: the one answering (NULL before the first load)
    cm_events_sub_t *sub;      // owned: follows the stream for index

    /* A snapshot being loaded. */
    bool loading;
    search_index_t *next; // owned
    uint64_t next_seq;    // the stream's seq before the first page
    bool have_seq;
    struct s_part parts[PARTS];
    int turn; // the part whose page is read next
    size_t loaded;
    int64_t started_ms;
    int64_t retry_at_ms;

    bool ready;
    uint64_t progress_seq;
    int64_t progress_ms;
};

search_sync_t *search_sync_new(void *zctx, const char *bus_endpoint,
                               const char *events_out_endpoint)
{
    search_sync_t *self = cm_calloc(1, sizeof *self);
    self->zctx = zctx;
    self->bus_endpoint = cm_strdup(bus_endpoint);
    self->events_out_endpoint = cm_strdup(events_out_endpoint);
    for (int i = 0; i < PARTS; i++) {
        self->parts[i].client = cm_mdp_client_new(zctx, bus_endpoint);
        if (!self->parts[i].client) {
            search_sync_destroy(&self);
            return NULL;
        }
    }
    self->loading = true;
    return self;
}

void search_sync_destroy(search_sync_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    search_sync_t *self = *self_p;
    cm_events_sub_destroy(&self->sub);
    for (int i = 0; i < PARTS; i++)
        cm_mdp_client_destroy(&self->parts[i].client);
    search_index_destroy(&self->index);
    search_index_destroy(&self->next);
    free(self->bus_endpoint);
    free(self->events_out_endpoint);
    free(self);
    *self_p = NULL;
}

bool search_sync_ready(const search_sync_t *self)
{
    return self->ready;
}

search_index_t *search_sync_index(search_sync_t *self)
{
    return self->ready ? self->index : NULL;
}

uint64_t search_sync_seq(const search_sync_t *self)
{
    return self->sub ? cm_events_sub_last_seq(self->sub) : 0;
}

/* customer.merged: the duplicate leaves the index, the kept customer is
 * indexed as it is after the merge (its customer.updated says the same). */
static void s_apply_merged(search_index_t *index, const Crm__Event *ev)
{
    Crm__CustomerMergedEvent *me =
        crm__customer_merged_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!me) {
        cm_log_warn("customer.merged seq=%" PRIu64 " does not decode", ev->seq);
        return;
    }
    if (me->merged_id[0])
        search_index_delete(index, ev->tenant_id, me->merged_id);
    if (me->customer && me->customer->id[0] &&
        search_index_put(index, ev->tenant_id, me->customer) < 0)
        cm_log_warn("customer event seq=%" PRIu64 " cannot be indexed", ev->seq);
    crm__customer_merged_event__free_unpacked(me, NULL);
}

int search_sync_apply(search_index_t *index, const Crm__Event *ev)
{
    if (strncmp(ev->type, "customer.", 9) != 0)
        return 0;
    if (!strcmp(ev->type, "customer.merged")) {
        s_apply_merged(index, ev);
        return 0;
    }
    Crm__CustomerEvent *ce = crm__customer_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!ce || !ce->customer) {
        cm_log_warn("customer event seq=%" PRIu64 " has no customer", ev->seq);
        if (ce)
            crm__customer_event__free_unpacked(ce, NULL);
        return 0;
    }
    if (!strcmp(ev->type, "customer.deleted"))
        search_index_delete(index, ev->tenant_id, ce->customer->id);
    else if (search_index_put(index, ev->tenant_id, ce->customer) < 0)
        cm_log_warn("customer event seq=%" PRIu64 " cannot be indexed", ev->seq);
    crm__customer_event__free_unpacked(ce, NULL);
    return 0;
}

static int s_on_event(void *ud, const Crm__Event *ev)
{
    search_sync_t *self = ud;
    return search_sync_apply(self->index, ev);
}

/* Asks customers for part i's next page (after its cursor, within its
 * bounds). Returns 0, or -1 when the bus refused it. */
static int s_send_page(search_sync_t *self, int i)
{
    struct s_part *pt = &self->parts[i];
    Crm__Principal who = CRM__PRINCIPAL__INIT;
    who.role = CRM__ROLE__ROLE_SERVICE;
    who.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    who.name = (char *)"search";
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.method = (char *)"customers.SnapshotCustomers";
    h.principal = &who;
    Crm__SnapshotCustomersRequest req = CRM__SNAPSHOT_CUSTOMERS_REQUEST__INIT;
    req.after_tenant_id = pt->after_tenant;
    req.after_id = pt->after_id;
    req.id_from = (char *)s_bounds[i];
    req.id_before = (char *)s_bounds[i + 1];
    req.limit = PAGE;
    cm_err_t err =
        cm_svc_send(pt->client, "customers", &h, &req.base, PAGE_TIMEOUT_MS, pt->inflight);
    if (err) {
        pt->inflight[0] = '\0';
        cm_log_warn("could not ask for a snapshot page, retrying: %s", cm_err_name(err));
        return -1;
    }
    return 0;
}

/* Keeps a page of every unfinished part in flight, receives the next part's
 * page, asks for the one after it at once (customers reads it while this
 * copy indexes), then indexes it. Returns 1 when the snapshot is complete,
 * 0 when more follows, -1 on failure (the load goes on from the parts'
 * cursors later). */
static int s_page(search_sync_t *self)
{
    for (int i = 0; i < PARTS; i++)
        if (!self->parts[i].done && !self->parts[i].inflight[0] && s_send_page(self, i))
            return -1;
    int i = self->turn;
    while (self->parts[i].done)
        i = (i + 1) % PARTS;
    self->turn = (i + 1) % PARTS;
    struct s_part *pt = &self->parts[i];
    Crm__ReplyHeader *reply = NULL;
    ProtobufCMessage *body = NULL;
    cm_err_t err =
        cm_svc_recv(pt->client, pt->inflight, &crm__snapshot_customers_response__descriptor,
                    PAGE_TIMEOUT_MS, &reply, &body);
    pt->inflight[0] = '\0';
    int rc = -1;
    if (err || reply->status != CRM__STATUS__STATUS_OK) {
        cm_log_warn("could not load a snapshot page, retrying: %s",
                    err ? cm_err_name(err) : reply->message);
        goto out;
    }
    Crm__SnapshotCustomersResponse *r = (Crm__SnapshotCustomersResponse *)body;
    /* Follow the stream from the oldest point any page was read at: what
     * came later is applied again, harmlessly (versions decide). */
    if (!self->have_seq || r->stream_seq < self->next_seq)
        self->next_seq = r->stream_seq;
    self->have_seq = true;
    if (r->n_customers) {
        const Crm__SnapshotCustomer *last = r->customers[r->n_customers - 1];
        snprintf(pt->after_tenant, sizeof pt->after_tenant, "%s", last->tenant_id);
        snprintf(pt->after_id, sizeof pt->after_id, "%s", last->customer ? last->customer->id : "");
    }
    pt->done = r->done;
    /* A failed send is retried by the next call, from the cursor just set. */
    if (!pt->done)
        (void)s_send_page(self, i);
    for (size_t k = 0; k < r->n_customers; k++) {
        const Crm__SnapshotCustomer *sc = r->customers[k];
        if (sc->customer && search_index_put(self->next, sc->tenant_id, sc->customer) < 0)
            cm_log_warn("snapshot customer %s cannot be indexed", sc->customer->id);
    }
    self->loaded += r->n_customers;
    rc = 1;
    for (int k = 0; k < PARTS; k++)
        if (!self->parts[k].done)
            rc = 0;
out:
    if (reply)
        crm__reply_header__free_unpacked(reply, NULL);
    if (body)
        protobuf_c_message_free_unpacked(body, NULL);
    return rc;
}

static void s_start_load(search_sync_t *self)
{
    self->loading = true;
    search_index_destroy(&self->next);
    self->next = search_index_new();
    /* Nothing searches it until it is complete: load it the fast way. */
    search_index_bulk(self->next, true);
    self->have_seq = false;
    for (int i = 0; i < PARTS; i++) {
        struct s_part *pt = &self->parts[i];
        pt->after_tenant[0] = pt->after_id[0] = pt->inflight[0] = '\0';
        pt->done = false;
    }
    self->turn = 0;
    self->loaded = 0;
    self->started_ms = cm_mono_ms();
}

/* The snapshot is complete: it becomes the index, followed from its seq. */
static void s_finish_load(search_sync_t *self)
{
    cm_events_sub_destroy(&self->sub);
    search_index_destroy(&self->index);
    search_index_bulk(self->next, false);
    self->index = self->next;
    self->next = NULL;
    self->loading = false;
    self->sub = cm_events_sub_new(self->zctx, self->events_out_endpoint, self->bus_endpoint,
                                  "customers", self->next_seq, s_on_event, self);
    if (!self->sub)
        cm_log_error("could not subscribe to the customers stream at %s",
                     self->events_out_endpoint);
    self->progress_seq = self->next_seq;
    self->progress_ms = cm_mono_ms();
    /* The pages' messages are gone: give their memory back. */
    malloc_trim(0);
    cm_log_info("index loaded customers=%zu seq=%" PRIu64 " in %lld ms", self->loaded,
                self->next_seq, (long long)(cm_mono_ms() - self->started_ms));
}

void search_sync_tick(search_sync_t *self)
{
    int64_t now = cm_mono_ms();
    if (self->loading && now >= self->retry_at_ms) {
        if (!self->next)
            s_start_load(self);
        /* Before the first load nothing is served: load it all at once. */
        for (;;) {
            int rc = s_page(self);
            if (rc < 0) {
                self->retry_at_ms = cm_mono_ms() + 1000;
                break;
            }
            if (rc == 1) {
                s_finish_load(self);
                break;
            }
            if (self->index)
                break;
        }
    }
    if (!self->sub)
        return;
    int n = cm_events_sub_poll(self->sub, 0);
    (void)n;
    uint64_t seq = cm_events_sub_last_seq(self->sub);
    bool behind = cm_events_sub_behind(self->sub);
    if (!self->ready && !behind) {
        self->ready = true;
        cm_log_info("index ready customers=%zu seq=%" PRIu64, search_index_count(self->index), seq);
    }
    if (seq != self->progress_seq || !behind) {
        self->progress_seq = seq;
        self->progress_ms = now;
    } else if (!self->loading &&
               (now - self->progress_ms > STUCK_MS || cm_events_sub_gone(self->sub))) {
        cm_log_warn("the customers stream cannot be followed from seq=%" PRIu64
                    ", loading a new snapshot",
                    seq);
        s_start_load(self);
    }
}
