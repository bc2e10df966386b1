/* Event stream publisher and subscriber. The subscriber's rules, in short:
 * `last` is the seq of the last event applied; an event is applied only if
 * its seq is last+1; anything newer is parked in a small sorted buffer while
 * ReplayEvents requests fill the gap from the stream's owner; anything older
 * is dropped. */
#include "cm_events.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_util.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_LINGER_MS 1000
#define S_HWM 100000
#define S_MAX_FRAME (64L * 1024 * 1024)
#define S_BUF_MAX 10000           /* live events parked while catching up */
#define S_LIVE_BATCH 10000        /* live messages read per pass */
#define S_REPLAY_DEADLINE_MS 5000 /* deadline of a ReplayEvents request */
#define S_REPLAY_GRACE_MS 1000    /* then wait this much more for the broker's answer */
#define S_BACKOFF_MIN_MS 100
#define S_BACKOFF_MAX_MS 5000

/* ---------------------------------------------------------------------- */
/* Publisher                                                                */

struct cm_events_pub {
    void *sock; // owned: PUB connected to events_in
};

cm_events_pub_t *cm_events_pub_new(void *zctx, const char *events_in_endpoint)
{
    assert(zctx && events_in_endpoint);
    void *sock = zmq_socket(zctx, ZMQ_PUB);
    if (!sock)
        return NULL;
    int linger = S_LINGER_MS, hwm = S_HWM;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (zmq_connect(sock, events_in_endpoint) != 0) {
        zmq_close(sock);
        return NULL;
    }
    cm_events_pub_t *self = cm_calloc(1, sizeof *self);
    self->sock = sock;
    return self;
}

void cm_events_pub_destroy(cm_events_pub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zmq_close((*self_p)->sock);
    free(*self_p);
    *self_p = NULL;
}

int cm_events_pub_send(cm_events_pub_t *self, const Crm__Event *ev)
{
    assert(self && ev && ev->stream);
    size_t n = crm__event__get_packed_size(ev);
    uint8_t *buf = cm_malloc(n + 1);
    crm__event__pack(ev, buf);
    int rc = -1;
    if (zmq_send(self->sock, ev->stream, strlen(ev->stream), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        goto out;
    if (zmq_send(self->sock, n ? buf : (uint8_t *)"", n, ZMQ_DONTWAIT) < 0)
        goto out;
    rc = 0;
out:
    free(buf);
    return rc;
}

int cm_events_pub_heartbeat(cm_events_pub_t *self, const char *stream, uint64_t seq)
{
    Crm__Event ev = CRM__EVENT__INIT;
    ev.stream = (char *)stream;
    ev.seq = seq;
    ev.type = (char *)CM_EVENTS_HEARTBEAT;
    return cm_events_pub_send(self, &ev);
}

/* ---------------------------------------------------------------------- */
/* Subscriber                                                               */

struct cm_events_sub {
    void *sub;               // owned: SUB connected to events_out
    cm_mdp_client_t *client; // owned: replay requests
    char *stream;            // owned
    char *method;            // owned: "<stream>.ReplayEvents"
    cm_events_fn fn;         // borrowed (caller)
    void *ud;                // borrowed (caller)
    uint64_t last;           // seq of the last event applied
    uint64_t newest;         // newest seq known to exist
    bool need_replay;        // behind: replay from `last` when retry_at comes
    char inflight[40];       // request_id of the replay in flight; "" if none
    int64_t inflight_until;  // mono ms: give up waiting for its reply
    int64_t retry_at;        // mono ms: next replay request
    int backoff_ms;          // after an owner failure
    int apply_backoff_ms;    // after fn refused an event
    bool failing;            // the last replay failed (logged once)
    char *reader;            // owned: durable reader name sent with replays; NULL if none
    int ack_ms;              // report the position this often (reader only)
    int64_t ack_at;          // mono ms: next position report
    char *gone;              // owned: the owner's word that events after `last` are gone
    Crm__Event **buf;        // owned: live events after last+1, sorted by seq
    size_t buf_len, buf_cap;
};

cm_events_sub_t *cm_events_sub_new(void *zctx, const char *events_out_endpoint,
                                   const char *bus_endpoint, const char *stream, uint64_t after_seq,
                                   cm_events_fn fn, void *ud)
{
    assert(zctx && events_out_endpoint && bus_endpoint && stream && fn);
    void *sub = zmq_socket(zctx, ZMQ_SUB);
    if (!sub)
        return NULL;
    int linger = 0, hwm = S_HWM;
    int64_t max = S_MAX_FRAME;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_MAXMSGSIZE, &max, sizeof max);
    /* Subscribe before the first replay, so nothing published in between
     * falls through (the Clone pattern). */
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, stream, strlen(stream));
    if (zmq_connect(sub, events_out_endpoint) != 0) {
        zmq_close(sub);
        return NULL;
    }
    cm_mdp_client_t *client = cm_mdp_client_new(zctx, bus_endpoint);
    if (!client) {
        zmq_close(sub);
        return NULL;
    }
    cm_events_sub_t *self = cm_calloc(1, sizeof *self);
    self->sub = sub;
    self->client = client;
    self->stream = cm_strdup(stream);
    self->method = cm_strfmt("%s.ReplayEvents", stream);
    self->fn = fn;
    self->ud = ud;
    self->last = after_seq;
    self->newest = after_seq;
    self->need_replay = true; /* only the owner knows where the stream is */
    self->retry_at = cm_mono_ms();
    self->backoff_ms = S_BACKOFF_MIN_MS;
    self->apply_backoff_ms = S_BACKOFF_MIN_MS;
    return self;
}

void cm_events_sub_destroy(cm_events_sub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cm_events_sub_t *self = *self_p;
    for (size_t i = 0; i < self->buf_len; i++)
        crm__event__free_unpacked(self->buf[i], NULL);
    free(self->buf);
    zmq_close(self->sub);
    cm_mdp_client_destroy(&self->client);
    free(self->stream);
    free(self->method);
    free(self->reader);
    free(self->gone);
    free(self);
    *self_p = NULL;
}

bool cm_events_reader_ok(const char *name, size_t len)
{
    if (len == 0 || len > CM_EVENTS_READER_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

bool cm_events_readers_ok(const char *list)
{
    for (const char *s = list; *s;) {
        while (*s == ',' || *s == ' ')
            s++;
        size_t n = strcspn(s, ", ");
        if (n && !cm_events_reader_ok(s, n))
            return false;
        s += n;
    }
    return true;
}

void cm_events_sub_set_reader(cm_events_sub_t *self, const char *name, int every_ms)
{
    assert(self && name && every_ms > 0);
    free(self->reader);
    self->reader = cm_strdup(name);
    self->ack_ms = every_ms;
    self->ack_at = cm_mono_ms() + every_ms;
}

const char *cm_events_sub_gone(const cm_events_sub_t *self)
{
    assert(self);
    return self->gone;
}

uint64_t cm_events_sub_last_seq(const cm_events_sub_t *self)
{
    assert(self);
    return self->last;
}

int cm_events_sub_behind(const cm_events_sub_t *self)
{
    assert(self);
    return self->need_replay || self->last < self->newest;
}

void *cm_events_sub_socket(cm_events_sub_t *self)
{
    assert(self);
    return self->sub;
}

void *cm_events_sub_reply_socket(cm_events_sub_t *self)
{
    assert(self);
    return cm_mdp_client_socket(self->client);
}

int cm_events_sub_timeout(const cm_events_sub_t *self)
{
    assert(self);
    int64_t at;
    if (self->inflight[0])
        at = self->inflight_until;
    else if (self->need_replay)
        at = self->retry_at;
    else if (self->reader)
        at = self->ack_at;
    else
        return -1;
    int64_t d = at - cm_mono_ms();
    if (d < 0)
        return 0;
    return d > 1000000 ? 1000000 : (int)d;
}

/* Schedules the next replay after the owner failed us, doubling the wait. */
static void s_backoff(cm_events_sub_t *self, const char *why)
{
    if (!self->failing)
        cm_log_warn("event replay failed, retrying stream=%s seq=%llu: %s", self->stream,
                    (unsigned long long)self->last, why);
    else
        cm_log_debug("event replay failed stream=%s: %s", self->stream, why);
    self->failing = true;
    self->need_replay = true;
    self->retry_at = cm_mono_ms() + self->backoff_ms;
    self->backoff_ms =
        self->backoff_ms * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS : self->backoff_ms * 2;
}

/* Hands the next event to fn. Returns 1 if applied, -1 if fn refused it (the
 * subscriber then pauses and will fetch it again by replay). */
static int s_apply(cm_events_sub_t *self, const Crm__Event *ev, int *count)
{
    assert(ev->seq == self->last + 1);
    if (self->fn(self->ud, ev) != 0) {
        cm_log_debug("event not applied, retrying later stream=%s seq=%llu", self->stream,
                     (unsigned long long)ev->seq);
        self->need_replay = true;
        self->retry_at = cm_mono_ms() + self->apply_backoff_ms;
        self->apply_backoff_ms = self->apply_backoff_ms * 2 > S_BACKOFF_MAX_MS
                                     ? S_BACKOFF_MAX_MS
                                     : self->apply_backoff_ms * 2;
        return -1;
    }
    self->apply_backoff_ms = S_BACKOFF_MIN_MS;
    self->last = ev->seq;
    (*count)++;
    return 1;
}

/* Parks a live event that is ahead of `last` (takes ownership). Drops it if
 * it is old, already parked, or the buffer is full: replay brings it back. */
static void s_park(cm_events_sub_t *self, Crm__Event *ev)
{
    if (ev->seq <= self->last || self->buf_len >= S_BUF_MAX) {
        crm__event__free_unpacked(ev, NULL);
        return;
    }
    size_t i = self->buf_len;
    while (i > 0 && self->buf[i - 1]->seq > ev->seq)
        i--;
    if (i > 0 && self->buf[i - 1]->seq == ev->seq) {
        crm__event__free_unpacked(ev, NULL);
        return;
    }
    if (self->buf_len == self->buf_cap) {
        self->buf_cap = self->buf_cap ? self->buf_cap * 2 : 64;
        self->buf = cm_realloc(self->buf, self->buf_cap * sizeof *self->buf);
    }
    memmove(&self->buf[i + 1], &self->buf[i], (self->buf_len - i) * sizeof *self->buf);
    self->buf[i] = ev;
    self->buf_len++;
}

/* Applies parked events that are now next in line. Returns 0, or -1 if fn
 * refused one. */
static int s_drain_parked(cm_events_sub_t *self, int *count)
{
    size_t used = 0;
    int rc = 0;
    while (used < self->buf_len && self->buf[used]->seq <= self->last + 1) {
        Crm__Event *ev = self->buf[used++];
        if (ev->seq == self->last + 1 && s_apply(self, ev, count) < 0)
            rc = -1;
        crm__event__free_unpacked(ev, NULL);
        if (rc)
            break;
    }
    if (used) {
        memmove(self->buf, self->buf + used, (self->buf_len - used) * sizeof *self->buf);
        self->buf_len -= used;
    }
    return rc;
}

/* Handles one live message (topic, packed event). */
static void s_on_live(cm_events_sub_t *self, zmq_msg_t *topic, zmq_msg_t *body, int *count)
{
    size_t tn = strlen(self->stream);
    /* SUB filters by prefix: "customers" would also let "customers2" in. */
    if (zmq_msg_size(topic) != tn || memcmp(zmq_msg_data(topic), self->stream, tn) != 0)
        return;
    Crm__Event *ev = crm__event__unpack(NULL, zmq_msg_size(body), zmq_msg_data(body));
    if (!ev) {
        cm_log_warn("dropped an undecodable event stream=%s", self->stream);
        return;
    }
    if (ev->seq > self->newest)
        self->newest = ev->seq;
    if (!strcmp(ev->type, CM_EVENTS_HEARTBEAT)) {
        /* The tail: events we never saw were published after `last`. */
        if (ev->seq > self->last && !self->need_replay) {
            self->need_replay = true;
            self->retry_at = cm_mono_ms();
        }
        crm__event__free_unpacked(ev, NULL);
        return;
    }
    if (ev->seq <= self->last) {
        crm__event__free_unpacked(ev, NULL);
        return;
    }
    if (self->need_replay || ev->seq != self->last + 1) {
        if (!self->need_replay) {
            cm_log_debug("gap in stream=%s after seq=%llu, replaying", self->stream,
                         (unsigned long long)self->last);
            self->need_replay = true;
            self->retry_at = cm_mono_ms();
        }
        s_park(self, ev);
        return;
    }
    (void)s_apply(self, ev, count);
    crm__event__free_unpacked(ev, NULL);
}

/* Reads what the SUB socket holds. Returns 0, or -1 with errno. */
static int s_read_live(cm_events_sub_t *self, int *count)
{
    for (int i = 0; i < S_LIVE_BATCH; i++) {
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        int rc = zmq_msg_recv(&topic, self->sub, ZMQ_DONTWAIT);
        if (rc >= 0 && zmq_msg_more(&topic))
            rc = zmq_msg_recv(&body, self->sub, 0);
        if (rc < 0) {
            int e = errno;
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            if (e == EAGAIN)
                return 0;
            errno = e;
            return -1;
        }
        /* Skip any further frames of a malformed message. */
        while (zmq_msg_more(&body)) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            int more = zmq_msg_recv(&extra, self->sub, 0) >= 0 && zmq_msg_more(&extra);
            zmq_msg_close(&extra);
            if (!more)
                break;
        }
        s_on_live(self, &topic, &body, count);
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }
    return 0;
}

/* Sends a ReplayEvents request for the events after `last`. */
static void s_send_replay(cm_events_sub_t *self)
{
    Crm__Principal who = CRM__PRINCIPAL__INIT;
    who.role = CRM__ROLE__ROLE_SERVICE;
    who.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    who.name = (char *)"events";
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    char id[40];
    cm_uuid(id);
    h.request_id = id;
    h.method = self->method;
    h.principal = &who;
    h.deadline_unix_ms = cm_now_ms() + S_REPLAY_DEADLINE_MS;
    Crm__ReplayEventsRequest req = CRM__REPLAY_EVENTS_REQUEST__INIT;
    req.after_seq = self->last;
    req.limit = CM_EVENTS_REPLAY_LIMIT;
    if (self->reader) {
        req.reader = self->reader;
        self->ack_at = cm_mono_ms() + self->ack_ms;
    }

    size_t hn = crm__request_header__get_packed_size(&h);
    size_t bn = crm__replay_events_request__get_packed_size(&req);
    uint8_t *hb = cm_malloc(hn + 1), *bb = cm_malloc(bn + 1);
    crm__request_header__pack(&h, hb);
    crm__replay_events_request__pack(&req, bb);
    if (cm_mdp_client_send(self->client, self->stream, hb, hn, bb, bn) == 0) {
        snprintf(self->inflight, sizeof self->inflight, "%s", id);
        self->inflight_until = cm_mono_ms() + S_REPLAY_DEADLINE_MS + S_REPLAY_GRACE_MS;
        cm_log_debug("replay requested stream=%s after=%llu", self->stream,
                     (unsigned long long)self->last);
    } else {
        s_backoff(self, zmq_strerror(errno));
    }
    free(hb);
    free(bb);
}

/* Applies a ReplayEvents answer. */
static void s_on_replay(cm_events_sub_t *self, const Crm__ReplayEventsResponse *resp, int *count)
{
    uint64_t before = self->last;
    if (resp->last_seq > self->newest)
        self->newest = resp->last_seq;
    for (size_t i = 0; i < resp->n_events; i++) {
        const Crm__Event *ev = resp->events[i];
        if (ev->seq <= self->last)
            continue;
        if (ev->seq != self->last + 1) {
            s_backoff(self, "the owner skipped a seq");
            return;
        }
        if (s_apply(self, ev, count) < 0)
            return;
    }
    if (s_drain_parked(self, count) < 0)
        return;
    self->failing = false;
    self->backoff_ms = S_BACKOFF_MIN_MS;
    if (self->last >= self->newest) {
        self->need_replay = false;
        cm_log_debug("caught up stream=%s seq=%llu", self->stream, (unsigned long long)self->last);
    } else if (self->last == before) {
        /* The owner says there is more but gave nothing: it lags behind
         * what was published. Ask again later rather than spin. */
        s_backoff(self, "the owner has not caught up");
    } else {
        self->need_replay = true;
        self->retry_at = cm_mono_ms();
    }
}

/* Reads replay replies. Returns 0, or -1 with errno. */
static int s_read_replies(cm_events_sub_t *self, int *count)
{
    for (;;) {
        struct cm_mdp_msg msg = {0};
        int got = cm_mdp_client_recv(self->client, 0, &msg);
        if (got <= 0)
            return got;
        Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, msg.header_len, msg.header);
        if (rh && self->inflight[0] && !strcmp(rh->request_id, self->inflight)) {
            self->inflight[0] = '\0';
            if (rh->status == CRM__STATUS__STATUS_FAILED_PRECONDITION) {
                /* The events we need are no longer kept: asking again will
                 * not bring them back, so say it once and ask seldom. */
                if (!self->gone)
                    cm_log_error("stream=%s cannot be followed after seq=%llu: %s", self->stream,
                                 (unsigned long long)self->last, rh->message);
                free(self->gone);
                self->gone = cm_strdup(rh->message);
                self->failing = true;
                self->backoff_ms = S_BACKOFF_MAX_MS;
                s_backoff(self, rh->message);
            } else if (rh->status != CRM__STATUS__STATUS_OK) {
                char *why = cm_strfmt("status %d %s", (int)rh->status, rh->message);
                s_backoff(self, why);
                free(why);
            } else {
                Crm__ReplayEventsResponse *resp =
                    crm__replay_events_response__unpack(NULL, msg.body_len, msg.body);
                free(self->gone);
                self->gone = NULL;
                if (resp)
                    s_on_replay(self, resp, count);
                else
                    s_backoff(self, "undecodable ReplayEventsResponse");
                crm__replay_events_response__free_unpacked(resp, NULL);
            }
        }
        /* Anything else answers a replay we gave up on. */
        crm__reply_header__free_unpacked(rh, NULL);
        cm_mdp_msg_release(&msg);
    }
}

/* Gives up on a lost replay and sends the next one when due. */
static void s_timers(cm_events_sub_t *self)
{
    int64_t now = cm_mono_ms();
    if (self->inflight[0] && now >= self->inflight_until) {
        self->inflight[0] = '\0';
        s_backoff(self, "no answer");
    }
    if (!self->inflight[0] && self->need_replay && now >= self->retry_at)
        s_send_replay(self);
    /* A caught-up durable reader reports its position now and then (the
     * answer is the events after it, normally none). */
    else if (!self->inflight[0] && !self->need_replay && self->reader && now >= self->ack_at)
        s_send_replay(self);
}

int cm_events_sub_poll(cm_events_sub_t *self, int timeout_ms)
{
    assert(self);
    int64_t until = timeout_ms < 0 ? -1 : cm_mono_ms() + timeout_ms;
    int count = 0;
    for (;;) {
        if (s_read_live(self, &count) < 0)
            return -1;
        if (s_read_replies(self, &count) < 0)
            return -1;
        s_timers(self);
        if (count > 0)
            return count;
        int64_t now = cm_mono_ms();
        if (until >= 0 && now >= until)
            return 0;
        long wait = until < 0 ? -1 : (long)(until - now);
        int t = cm_events_sub_timeout(self);
        if (t >= 0 && (wait < 0 || t < wait))
            wait = t;
        zmq_pollitem_t items[2] = {
            {self->sub, 0, ZMQ_POLLIN, 0},
            {cm_mdp_client_socket(self->client), 0, ZMQ_POLLIN, 0},
        };
        if (zmq_poll(items, 2, wait) < 0)
            return -1;
    }
}
