/* crmctl publish: sends booking and store events to the intake over the
 * bus, one from the command line (notes.IngestEvent) or many, as JSON lines
 * on standard input, in batches (notes.IngestEvents, --batch, 50 by default;
 * --batch 1: IngestEvent each) with a window of requests in flight. An event
 * whose request failed in a way that a retry may cure (no worker, deadline,
 * no reply) is sent again until --give-up-s; the intake is idempotent on
 * (source, eventId), so a retry never has a second effect. */
#include "crmctl.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_svc.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "history.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define WINDOW_MAX 1000
#define BATCH_MAX 100 /* notes.IngestEvents' limit */
#define LINE_MAX_BYTES (1024 * 1024)

/* One event to deliver. */
struct s_event {
    uint8_t *body; // owned: packed crm.IntakeEvent
    size_t len;
    const char *channel; // static
    long line;
    int attempts;
    int64_t retry_at_ms;
    bool done;
    bool in_flight; // in a request that has not been answered
};

/* One request in flight: one event (notes.IngestEvent), or several
 * (notes.IngestEvents). */
struct s_slot {
    char request_id[40];
    size_t events[BATCH_MAX]; // indexes into the events
    size_t n_events;
    int64_t give_up_ms;
    bool busy;
};

struct s_run {
    struct s_event *events; // owned
    size_t n, cap;
    long accepted, duplicates, rejected, retried;
};

static const char *s_channel(const char *source)
{
    if (!strcmp(source, "booking"))
        return "booking";
    if (!strcmp(source, "store"))
        return "store";
    return "api";
}

/* Decodes one JSON event and appends it. Returns 0, or -1 (reported). */
static int s_add(struct s_run *run, const char *text, long line)
{
    json_error_t jerr;
    json_t *json = json_loads(text, 0, &jerr);
    if (!json) {
        fprintf(stderr, "crmctl: line %ld: malformed JSON at column %d: %s\n", line, jerr.column,
                jerr.text);
        return -1;
    }
    struct cm_pbjson_error perr;
    Crm__IntakeEvent *ev =
        (Crm__IntakeEvent *)cm_pbjson_decode(&crm__intake_event__descriptor, json, NULL, &perr);
    json_decref(json);
    if (!ev) {
        fprintf(stderr, "crmctl: line %ld: %s: %s\n", line, perr.field, perr.description);
        return -1;
    }
    if (run->n == run->cap) {
        run->cap = run->cap ? run->cap * 2 : 256;
        run->events = cm_realloc(run->events, run->cap * sizeof *run->events);
    }
    struct s_event *e = &run->events[run->n++];
    memset(e, 0, sizeof *e);
    e->len = crm__intake_event__get_packed_size(ev);
    e->body = cm_malloc(e->len ? e->len : 1);
    crm__intake_event__pack(ev, e->body);
    e->channel = s_channel(ev->source);
    e->line = line;
    crm__intake_event__free_unpacked(ev, NULL);
    return 0;
}

static int s_read_stdin(struct s_run *run)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long no = 0;
    int rc = 0;
    while ((got = getline(&line, &cap, stdin)) > 0) {
        no++;
        if (got > LINE_MAX_BYTES) {
            fprintf(stderr, "crmctl: line %ld: longer than %d bytes\n", no, LINE_MAX_BYTES);
            rc = -1;
            continue;
        }
        size_t n = (size_t)got;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if (s_add(run, line, no))
            rc = -1;
    }
    free(line);
    return rc;
}

static bool s_retryable(int status)
{
    return status == CRM__STATUS__STATUS_UNAVAILABLE ||
           status == CRM__STATUS__STATUS_DEADLINE_EXCEEDED ||
           status == CRM__STATUS__STATUS_RESOURCE_EXHAUSTED ||
           status == CRM__STATUS__STATUS_INTERNAL;
}

static void s_backoff(struct s_event *e)
{
    e->attempts++;
    int64_t wait = 100LL << (e->attempts < 5 ? e->attempts : 5);
    e->retry_at_ms = cm_mono_ms() + (wait > 2000 ? 2000 : wait);
}

/* Prints the reply to a single event, like crmctl call. */
static void s_print_one(const Crm__ReplyHeader *rh, const uint8_t *body, size_t len)
{
    json_t *out = json_object();
    char status[48];
    cm_pbjson_enum_name(&crm__status__descriptor, rh->status, status, sizeof status);
    json_object_set_new(out, "status", json_string(status));
    if (rh->message[0])
        json_object_set_new(out, "message", json_string(rh->message));
    if (rh->n_details) {
        json_t *d = json_array();
        for (size_t i = 0; i < rh->n_details; i++)
            json_array_append_new(d,
                                  cm_pbjson_encode(&rh->details[i]->base, CM_PBJSON_OMIT_DEFAULTS));
        json_object_set_new(out, "details", d);
    }
    if (rh->status == CRM__STATUS__STATUS_OK) {
        Crm__IngestEventResponse *r = crm__ingest_event_response__unpack(NULL, len, body);
        if (r) {
            json_object_set_new(out, "body", cm_pbjson_encode(&r->base, 0));
            crm__ingest_event_response__free_unpacked(r, NULL);
        }
    }
    char *text = json_dumps(out, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(out);
}

/* A packed IngestEventsRequest of the slot's events (field 1, each a
 * length-delimited crm.IntakeEvent, packed already). Caller frees. */
static uint8_t *s_pack_batch(const struct s_run *run, const struct s_slot *slot, size_t *len)
{
    size_t cap = 0;
    for (size_t k = 0; k < slot->n_events; k++)
        cap += 11 + run->events[slot->events[k]].len;
    uint8_t *buf = cm_malloc(cap ? cap : 1), *p = buf;
    for (size_t k = 0; k < slot->n_events; k++) {
        const struct s_event *e = &run->events[slot->events[k]];
        *p++ = 0x0a; /* field 1, length-delimited */
        uint64_t v = e->len;
        do {
            uint8_t b = (uint8_t)(v & 0x7f);
            v >>= 7;
            *p++ = v ? (uint8_t)(b | 0x80) : b;
        } while (v);
        memcpy(p, e->body, e->len);
        p += e->len;
    }
    *len = (size_t)(p - buf);
    return buf;
}

/* What became of one event: accepted or a duplicate, to be sent again, or
 * refused (reported with its line). */
static void s_outcome(struct s_run *run, struct s_event *e, const Crm__ReplyHeader *rh,
                      const Crm__IngestEventResponse *r, bool quiet, size_t *remaining)
{
    if (rh->status == CRM__STATUS__STATUS_OK) {
        if (r && r->duplicate)
            run->duplicates++;
        else
            run->accepted++;
        e->done = true;
        (*remaining)--;
    } else if (s_retryable((int)rh->status)) {
        run->retried++;
        s_backoff(e);
    } else {
        if (!quiet) {
            char status[48];
            cm_pbjson_enum_name(&crm__status__descriptor, rh->status, status, sizeof status);
            fprintf(stderr, "crmctl: line %ld: %s: %s%s%s\n", e->line, status, rh->message,
                    rh->n_details ? ": " : "", rh->n_details ? rh->details[0]->description : "");
        }
        run->rejected++;
        e->done = true;
        (*remaining)--;
    }
}

/* The reply to a slot's request: each event's outcome. */
static void s_reply(struct s_run *run, const struct s_slot *slot, bool batch,
                    const Crm__ReplyHeader *rh, const struct cm_mdp_msg *msg, bool quiet,
                    size_t *remaining)
{
    if (!batch || rh->status != CRM__STATUS__STATUS_OK) {
        Crm__IngestEventResponse *r =
            !batch && rh->status == CRM__STATUS__STATUS_OK
                ? crm__ingest_event_response__unpack(NULL, msg->body_len, msg->body)
                : NULL;
        for (size_t k = 0; k < slot->n_events; k++)
            s_outcome(run, &run->events[slot->events[k]], rh, r, quiet, remaining);
        if (r)
            crm__ingest_event_response__free_unpacked(r, NULL);
        return;
    }
    Crm__IngestEventsResponse *r =
        crm__ingest_events_response__unpack(NULL, msg->body_len, msg->body);
    for (size_t k = 0; k < slot->n_events; k++) {
        struct s_event *e = &run->events[slot->events[k]];
        if (!r || k >= r->n_results || !r->results[k]->header) {
            /* An answer that does not tell: send the event again (the
             * intake is idempotent on it). */
            run->retried++;
            s_backoff(e);
            continue;
        }
        s_outcome(run, e, r->results[k]->header, r->results[k]->response, quiet, remaining);
    }
    if (r)
        crm__ingest_events_response__free_unpacked(r, NULL);
}

int crmctl_publish(int argc, char **argv)
{
    const char *key = crmctl_opt(argc, argv, "--key");
    const char *tenant = crmctl_opt(argc, argv, "--tenant");
    const char *o_window = crmctl_opt(argc, argv, "--window");
    const char *o_timeout = crmctl_opt(argc, argv, "--timeout-ms");
    const char *o_give_up = crmctl_opt(argc, argv, "--give-up-s");
    const char *o_batch = crmctl_opt(argc, argv, "--batch");
    long window = 16, timeout = 30000, give_up = 300, batch = 50;
    if ((o_window && cm_parse_long(o_window, 1, WINDOW_MAX, &window)) ||
        (o_timeout && cm_parse_long(o_timeout, 100, 600000, &timeout)) ||
        (o_give_up && cm_parse_long(o_give_up, 1, 86400, &give_up)) ||
        (o_batch && cm_parse_long(o_batch, 1, BATCH_MAX, &batch))) {
        fprintf(stderr,
                "crmctl: --window 1..%d, --batch 1..%d, --timeout-ms 100..600000, "
                "--give-up-s 1..86400\n",
                WINDOW_MAX, BATCH_MAX);
        return 2;
    }
    if (!key && !tenant) {
        fprintf(stderr, "usage: crmctl publish [JSON] (--key API_KEY | --tenant ID) [--window N]\n"
                        "       [--batch N] [--timeout-ms N] [--give-up-s N]\n"
                        "       (no JSON: JSON lines on stdin)\n");
        return 2;
    }
    struct s_run run = {0};
    bool single = argc >= 2 && argv[1][0] != '-';
    if (single || batch == 1) {
        /* One event a request (notes.IngestEvent); a window of 64 as before batches. */
        batch = 1;
        if (!o_window)
            window = 64;
    }
    int rc = 1;
    if (single ? s_add(&run, argv[1], 1) : s_read_stdin(&run)) {
        for (size_t i = 0; i < run.n; i++)
            free(run.events[i].body);
        free(run.events);
        return 2;
    }
    const char *endpoint = getenv("CRM_BUS_ENDPOINT");
    if (!endpoint || !*endpoint)
        endpoint = "tcp://127.0.0.1:5555";
    void *zctx = zmq_ctx_new();
    cm_mdp_client_t *client = cm_mdp_client_new(zctx, endpoint);
    Crm__Principal principal = CRM__PRINCIPAL__INIT;
    principal.id = "crmctl";
    principal.name = "crmctl publish";
    principal.role = CRM__ROLE__ROLE_SERVICE;
    principal.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    Crm__RequestHeader hdr = CRM__REQUEST_HEADER__INIT;
    hdr.principal = &principal;
    hdr.tenant_id = (char *)(tenant ? tenant : "");
    Crm__AuthenticateResponse *auth = NULL;
    struct s_slot *slots = cm_calloc((size_t)window, sizeof *slots);
    if (key) {
        Crm__AuthenticateRequest areq = CRM__AUTHENTICATE_REQUEST__INIT;
        areq.api_key = (char *)key;
        hdr.method = "customers.Authenticate";
        Crm__ReplyHeader *rh = NULL;
        cm_err_t err = cm_svc_call(client, "customers", &hdr, &areq.base,
                                   &crm__authenticate_response__descriptor, (int)timeout, &rh,
                                   (ProtobufCMessage **)&auth);
        bool ok = !err && rh->status == CRM__STATUS__STATUS_OK;
        if (!ok)
            fprintf(stderr, "crmctl: authentication failed: %s\n",
                    err ? cm_err_name(err) : rh->message);
        if (rh)
            crm__reply_header__free_unpacked(rh, NULL);
        if (!ok)
            goto out;
        hdr.tenant_id = auth->tenant_id;
        hdr.principal = auth->principal;
    }
    hdr.method = batch > 1 ? "notes.IngestEvents" : "notes.IngestEvent";

    int64_t started = cm_mono_ms(), end = started + give_up * 1000;
    size_t next = 0, remaining = run.n, busy = 0;
    while (remaining > 0 && cm_mono_ms() < end) {
        int64_t now = cm_mono_ms();
        /* Fill the window: new events in order, then those due for a retry,
         * up to batch events a request. */
        for (long s = 0; s < window && busy < (size_t)window; s++) {
            if (slots[s].busy)
                continue;
            while (next < run.n && run.events[next].done)
                next++;
            struct s_slot *slot = &slots[s];
            slot->n_events = 0;
            for (size_t i = next; i < run.n && slot->n_events < (size_t)batch; i++) {
                struct s_event *e = &run.events[i];
                if (!e->done && !e->in_flight && e->retry_at_ms <= now)
                    slot->events[slot->n_events++] = i;
                if (i - next > (size_t)(window * batch) * 4)
                    break; /* look no further than a few windows ahead */
            }
            if (slot->n_events == 0)
                break;
            cm_uuid(slot->request_id);
            hdr.request_id = slot->request_id;
            hdr.deadline_unix_ms = cm_now_ms() + timeout;
            hdr.channel = (char *)run.events[slot->events[0]].channel;
            size_t hlen = crm__request_header__get_packed_size(&hdr);
            uint8_t *hbuf = cm_malloc(hlen);
            crm__request_header__pack(&hdr, hbuf);
            size_t blen = run.events[slot->events[0]].len;
            uint8_t *body = batch > 1 ? s_pack_batch(&run, slot, &blen) : NULL;
            int sent = cm_mdp_client_send(client, "notes", hbuf, hlen,
                                          body ? body : run.events[slot->events[0]].body, blen);
            free(body);
            free(hbuf);
            if (sent) {
                for (size_t k = 0; k < slot->n_events; k++)
                    s_backoff(&run.events[slot->events[k]]);
                break;
            }
            for (size_t k = 0; k < slot->n_events; k++)
                run.events[slot->events[k]].in_flight = true;
            slot->busy = true;
            slot->give_up_ms = now + timeout + 2000;
            busy++;
        }
        struct cm_mdp_msg msg = {0};
        int got = cm_mdp_client_recv(client, 50, &msg);
        if (got < 0)
            break;
        if (got == 1) {
            Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, msg.header_len, msg.header);
            long s = 0;
            for (; rh && s < window; s++)
                if (slots[s].busy && !strcmp(slots[s].request_id, rh->request_id))
                    break;
            if (rh && s < window) {
                slots[s].busy = false;
                busy--;
                for (size_t k = 0; k < slots[s].n_events; k++)
                    run.events[slots[s].events[k]].in_flight = false;
                s_reply(&run, &slots[s], batch > 1, rh, &msg, single, &remaining);
                if (single)
                    s_print_one(rh, msg.body, msg.body_len);
            }
            if (rh)
                crm__reply_header__free_unpacked(rh, NULL);
        }
        cm_mdp_msg_release(&msg);
        /* Requests whose reply never came (a lost worker's, a broker restart). */
        now = cm_mono_ms();
        for (long s = 0; s < window; s++) {
            if (slots[s].busy && now > slots[s].give_up_ms) {
                slots[s].busy = false;
                busy--;
                for (size_t k = 0; k < slots[s].n_events; k++) {
                    struct s_event *e = &run.events[slots[s].events[k]];
                    e->in_flight = false;
                    run.retried++;
                    s_backoff(e);
                }
            }
        }
    }
    if (!single || remaining)
        printf("{\"events\":%zu,\"accepted\":%ld,\"duplicates\":%ld,\"rejected\":%ld,"
               "\"retried\":%ld,\"undelivered\":%zu,\"seconds\":%.3f}\n",
               run.n, run.accepted, run.duplicates, run.rejected, run.retried, remaining,
               (double)(cm_mono_ms() - started) / 1000.0);
    rc = remaining == 0 && run.rejected == 0 ? 0 : 1;
out:
    free(slots);
    for (size_t i = 0; i < run.n; i++)
        free(run.events[i].body);
    free(run.events);
    if (auth)
        crm__authenticate_response__free_unpacked(auth, NULL);
    cm_mdp_client_destroy(&client);
    zmq_ctx_term(zctx);
    return rc;
}
