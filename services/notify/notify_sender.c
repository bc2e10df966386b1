/* The background senders (notify_sender.h). */
#include "notify_sender.h"
#include "notify_inbound.h"
#include "notify_unsubscribe.h"
#include "notify_mime.h"
#include "notify_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

/* The largest message built: the API's limits on text and HTML, encoded. */
#define MIME_MAX (2 * 1024 * 1024)
#define CLAIM_MAX 64
/* How often recording an outcome is tried before it is left to the lease. */
#define RECORD_TRIES 5

struct notify_sender {
    const struct notify_sender_cfg *cfg; // borrowed (config)
    long lease_ms;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    unsigned wakes;       // counts wake-ups, under mu
    bool stopping;        // under mu
    atomic_bool stop_now; // the same, read by a message under way (notify_smtp)
    pthread_t *threads;
    int n_threads;
    notify_smtp_t **clients; // borrowed (each thread's), under mu: interrupted on stop
    int next_slot;           // under mu
};

long notify_sender_backoff(int attempts, long min_ms, long max_ms)
{
    long ms = min_ms;
    for (int i = 1; i < attempts && ms < max_ms; i++)
        ms *= 2;
    return ms < max_ms ? ms : max_ms;
}

/* Unix ms of an RFC 3339 time as notify_store writes it ("...T...Z"); now
 * when it does not parse. */
static int64_t s_ms_of(const char *rfc3339)
{
    struct tm tm = {0};
    int ms = 0;
    // NOLINTNEXTLINE(cert-err34-c): our own timestamp; the count is checked
    if (sscanf(rfc3339, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) < 6)
        return cm_now_ms();
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* The thread a message continues (RFC 5322 3.6.4): the Message-IDs before
 * it in its conversation, oldest first, of the form the builder takes. */
struct thread {
    char *ids[NOTIFY_STORE_THREAD_MAX]; // owned, ids[0..n)
    size_t n;
};

static void s_thread_release(struct thread *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->ids[i]);
    t->n = 0;
}

/* Loads m's thread into t (empty for a message that starts a conversation).
 * A reply's Message-ID came from outside: one the builder would refuse is
 * left out, not the whole message. Returns 0, or -1 when the database did
 * not answer (the message is tried again). */
static int s_thread_load(cm_db_t *db, const Crm__Message *m, struct thread *t)
{
    t->n = 0;
    if (!m->conversation_id[0] || !strcmp(m->conversation_id, m->id))
        return 0;
    char *ids[NOTIFY_STORE_THREAD_MAX];
    size_t n = 0;
    if (notify_store_thread(db, m->conversation_id, m->id, ids, &n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (notify_mime_addr_ok(ids[i]))
            t->ids[t->n++] = ids[i];
        else
            free(ids[i]);
    }
    return 0;
}

/* The Date of m: when it was queued, or a scheduled message's time, when it
 * is ready to go (RFC 5322 3.6.1), so that a mail sent days after it was
 * written does not look back-dated. */
static int64_t s_date_of(const Crm__Message *m)
{
    int64_t queued = s_ms_of(m->created_at);
    if (!m->send_at[0])
        return queued;
    int64_t at = s_ms_of(m->send_at);
    return at > queued ? at : queued;
}

/* The header fields of m's kind beyond the builder's own, into extra (at
 * least 6 slots, NULL-terminated), their text in list and list_id:
 * marketing e-mail (a newsletter's, a rule's) carries List-Unsubscribe with
 * its one-click POST (RFC 2369, RFC 8058), List-Id (RFC 2919) and
 * Precedence: bulk; every mail nobody wrote by hand carries Auto-Submitted
 * (RFC 3834), so that no auto-responder answers it. */
static void s_extra_fields(const struct notify_sender_cfg *cfg, const char *tenant,
                           const Crm__Message *m, const char **extra, char *list, size_t list_size,
                           char *list_id, size_t list_id_size)
{
    size_t n = 0;
    char token[NOTIFY_UNSUBSCRIBE_TOKEN];
    if (notify_sender_marketing_kind(m->kind) &&
        notify_unsubscribe_token(cfg->link_key, tenant, m->customer_id, false, token,
                                 sizeof token)) {
        snprintf(list, list_size, "List-Unsubscribe: <%s" NOTIFY_UNSUBSCRIBE_POST_PATH "%s>",
                 cfg->public_url, token);
        const char *at = strrchr(m->from, '@');
        snprintf(list_id, list_id_size, "List-Id: <%s.%s>", tenant, at ? at + 1 : "localhost");
        extra[n++] = list;
        extra[n++] = "List-Unsubscribe-Post: " NOTIFY_UNSUBSCRIBE_ONE_CLICK;
        extra[n++] = list_id;
        extra[n++] = "Precedence: bulk";
    }
    if (strcmp(m->kind, "message") != 0)
        extra[n++] = "Auto-Submitted: auto-generated";
    extra[n] = NULL;
}

/* Builds the e-mail of m (of tenant, continuing thread) into out. */
static cm_err_t s_build(const struct notify_sender_cfg *cfg, const char *tenant,
                        const Crm__Message *m, const struct thread *thread, cm_buf_t *out)
{
    char seed[33];
    cm_random_hex(seed, 16);
    char list[600], list_id[400];
    const char *extra[8];
    s_extra_fields(cfg, tenant, m, extra, list, sizeof list, list_id, sizeof list_id);
    /* Replies come back to an address naming the message (docs/notify.md,
     * "Replies"); not a staff invitation's, which is no conversation with a
     * customer. */
    char reply_to[300] = "";
    if (cfg->reply_domain && cfg->reply_domain[0] && !notify_sender_staff_kind(m->kind))
        notify_inbound_reply_address(m->id, cfg->reply_domain, reply_to, sizeof reply_to);
    const char *refs[NOTIFY_STORE_THREAD_MAX + 1];
    for (size_t i = 0; i < thread->n; i++)
        refs[i] = thread->ids[i];
    refs[thread->n] = NULL;
    struct notify_mime mime = {
        .reply_to = reply_to,
        .from_name = m->from_name,
        .from_addr = m->from,
        .to_name = m->to_name,
        .to_addr = m->to,
        .subject = m->subject,
        .text = m->text,
        .html = m->html,
        .message_id = m->message_id,
        .date_ms = s_date_of(m),
        .boundary_seed = seed,
        .in_reply_to = thread->n ? thread->ids[thread->n - 1] : NULL,
        .references = thread->n ? refs : NULL,
        .extra = extra,
    };
    return notify_mime_build(&mime, out);
}

/* Records an outcome, trying again a few times while the database is away;
 * after that the lease brings the message back (and it is sent again with
 * the same Message-ID: the one window for a duplicate). */
static void s_record(notify_sender_t *self, cm_db_t *db, const struct notify_claim *c,
                     const struct notify_result *r)
{
    const struct notify_sender_cfg *cfg = self->cfg;
    for (int i = 0; i < RECORD_TRIES; i++) {
        cm_err_t err;
        if (r->outcome == NOTIFY_REFUSED)
            err = notify_store_failed(db, c, r->reason, true);
        else if (c->attempts >= cfg->max_attempts)
            err = notify_store_failed(db, c, r->reason, false);
        else
            err = notify_store_retry(
                db, c, r->reason,
                notify_sender_backoff(c->attempts, cfg->retry_min_ms, cfg->retry_max_ms));
        if (!err)
            return;
        cm_log_warn("could not record message %s (%s): %s", c->id,
                    r->outcome == NOTIFY_SENT ? "sent" : "not sent", cm_db_error(db));
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    cm_log_error("message %s: outcome not recorded; it is attempted again when its lease ends",
                 c->id);
}

bool notify_sender_staff_kind(const char *kind)
{
    return !strcmp(kind, NOTIFY_STAFF_INVITE_KIND) || !strcmp(kind, NOTIFY_STAFF_RESET_KIND) ||
           !strcmp(kind, NOTIFY_STAFF_NOTICE_KIND);
}

bool notify_sender_marketing_kind(const char *kind)
{
    return !strcmp(kind, NOTIFY_NEWSLETTER_KIND) || !strcmp(kind, NOTIFY_MARKETING_KIND);
}

const char *notify_sender_link_path(const char *kind)
{
    if (!strcmp(kind, NOTIFY_STAFF_INVITE_KIND))
        return NOTIFY_INVITE_PATH;
    if (!strcmp(kind, NOTIFY_STAFF_RESET_KIND))
        return NOTIFY_RESET_PATH;
    return NOTIFY_LINK_PATH;
}

char *notify_sender_fill_link(const char *s, const char *link)
{
    cm_buf_t b;
    cm_buf_init(&b, 0); /* no cap: an append cannot fail */
    const char *p = s;
    int rc = 0;
    for (const char *hit; (hit = strstr(p, "{{link}}")); p = hit + 8)
        rc |= cm_buf_append(&b, p, (size_t)(hit - p)) | cm_buf_append(&b, link, strlen(link));
    rc |= cm_buf_append(&b, p, strlen(p));
    assert(rc == 0);
    size_t len;
    char *out = cm_buf_steal(&b, &len);
    return out ? out : cm_strdup("");
}

/* Opens the link sealed into message m and puts it into the message's text
 * (a copy of m's strings, owned by m from then on). Returns 0, or -1 when the
 * seal does not open (the key changed): the message cannot be sent. */
static int s_unseal(notify_sender_t *self, cm_db_t *db, Crm__Message *m)
{
    uint8_t sealed[256];
    size_t len = 0;
    /* Only a message with a link has a seal: no look-up for a newsletter. */
    if (!strstr(m->subject, "{{link}}") && !strstr(m->text, "{{link}}") &&
        !strstr(m->html, "{{link}}"))
        return 0;
    if (notify_store_sealed_link(db, m->id, sealed, sizeof sealed, &len) || len == 0)
        return 0; /* none (or not readable now: sent as queued) */
    if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return -1;
    char token[128];
    size_t n = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    if (n >= sizeof token ||
        crypto_secretbox_open_easy((uint8_t *)token, sealed + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, sealed, self->cfg->link_key))
        return -1;
    token[n] = '\0';
    char link[1024];
    snprintf(link, sizeof link, "%s%s%s", self->cfg->public_url, notify_sender_link_path(m->kind),
             token);
    char **fields[] = {&m->subject, &m->text, &m->html};
    for (size_t i = 0; i < 3; i++) {
        char *filled = notify_sender_fill_link(*fields[i], link);
        cm_pb_set_str(fields[i], filled);
        free(filled);
    }
    sodium_memzero(token, sizeof token);
    sodium_memzero(link, sizeof link);
    return 0;
}

/* One attempt at m over its channel, into *r. */
static void s_attempt(notify_sender_t *self, notify_smtp_t *smtp, const char *tenant,
                      const Crm__Message *m, const struct thread *thread, cm_buf_t *mail,
                      struct notify_result *r)
{
    const struct notify_sender_cfg *cfg = self->cfg;
    r->outcome = NOTIFY_RETRY;
    if (m->channel == CRM__CHANNEL__CHANNEL_SMS) {
        if (!cfg->sms)
            snprintf(r->reason, sizeof r->reason, "SMS is not configured (CRM_SMS_URL)");
        else
            notify_sms_send(cfg->sms, m->id, m->from, m->to, m->text, r);
        return;
    }
    if (!smtp) {
        snprintf(r->reason, sizeof r->reason, "e-mail is not configured (CRM_SMTP_URL)");
    } else if (s_build(cfg, tenant, m, thread, mail)) {
        r->outcome = NOTIFY_REFUSED;
        snprintf(r->reason, sizeof r->reason, "the message cannot be written as e-mail");
    } else {
        notify_smtp_send(smtp, m->from, m->to, mail->data, mail->len, r);
    }
}

/* Records a sent message in a transaction of its tenant, tried again a few
 * times while the database is away (then the lease brings it back, and it is
 * sent again with the same Message-ID). */
static void s_record_sent(cm_db_t *db, const struct notify_claim *c)
{
    cm_err_t err = CM_OK;
    for (int t = 0; t < RECORD_TRIES; t++) {
        err = notify_store_sent_many(db, c->tenant_id, &c, 1);
        if (!err)
            break;
        cm_log_warn("could not record sent message %s: %s", c->id, cm_db_error(db));
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    if (err)
        cm_log_error("message %s: sent, not recorded; attempted again when its lease ends", c->id);
}

/* One claimed message: load, build, send, and record it, except a sent one:
 * true then, for s_record_sent. */
static bool s_send_one(notify_sender_t *self, cm_db_t *db, notify_smtp_t *smtp,
                       const struct notify_claim *c)
{
    Crm__Message *m = NULL;
    struct notify_result r = {.outcome = NOTIFY_RETRY};
    struct thread thread = {.n = 0};
    cm_buf_t mail;
    cm_buf_init(&mail, MIME_MAX);
    cm_err_t err = cm_db_use_tenant(db, c->tenant_id);
    if (!err)
        err = notify_store_get(db, c->id, &m);
    if (err == CM_ERR_NOT_FOUND) {
        r.outcome = NOTIFY_REFUSED;
        snprintf(r.reason, sizeof r.reason, "the message is gone");
    } else if (err) {
        cm_log_warn("could not load message %s: %s", c->id, cm_db_error(db));
        goto out; /* the lease brings it back */
    } else if (s_unseal(self, db, m)) {
        r.outcome = NOTIFY_REFUSED;
        snprintf(r.reason, sizeof r.reason,
                 "the link in the message cannot be opened (CRM_NOTIFY_LINK_KEY changed); "
                 "send a new one");
    } else if (s_thread_load(db, m, &thread)) {
        cm_log_warn("could not load the thread of message %s: %s", c->id, cm_db_error(db));
        goto out; /* the lease brings it back */
    } else {
        int64_t t0 = cm_mono_ms();
        s_attempt(self, smtp, c->tenant_id, m, &thread, &mail, &r);
        cm_log_info("message %s attempt %d: %s (%s) in %lld ms", c->id, c->attempts,
                    r.outcome == NOTIFY_SENT      ? "sent"
                    : r.outcome == NOTIFY_REFUSED ? "refused"
                                                  : "to retry",
                    r.reason, (long long)(cm_mono_ms() - t0));
    }
    if (r.outcome != NOTIFY_SENT)
        s_record(self, db, c, &r);
out:
    s_thread_release(&thread);
    if (m)
        crm__message__free_unpacked(m, NULL);
    cm_buf_release(&mail);
    return r.outcome == NOTIFY_SENT;
}

static void *s_run(void *ud)
{
    notify_sender_t *self = ud;
    const struct notify_sender_cfg *cfg = self->cfg;
    cm_db_t *db = cm_db_new(cfg->database_url, cfg->db_role);
    notify_smtp_t *smtp = cfg->smtp ? notify_smtp_new(cfg->smtp, &self->stop_now) : NULL;
    pthread_mutex_lock(&self->mu);
    int slot = self->next_slot++;
    self->clients[slot] = smtp;
    pthread_mutex_unlock(&self->mu);
    struct notify_claim claims[CLAIM_MAX];
    int batch = cfg->batch < CLAIM_MAX ? cfg->batch : CLAIM_MAX;
    for (;;) {
        pthread_mutex_lock(&self->mu);
        bool stop = self->stopping;
        unsigned seen = self->wakes;
        pthread_mutex_unlock(&self->mu);
        if (stop)
            break;
        int n = 0;
        cm_err_t err = cm_db_connect(db);
        if (!err)
            err = notify_store_claim(db, batch, self->lease_ms, claims, &n);
        if (err)
            cm_log_warn("could not claim messages: %s", cm_db_error(db));
        /* Each sent message is recorded as soon as the server took it: the
         * window in which a stop makes it go out twice is one message wide. */
        for (int i = 0; i < n; i++)
            if (s_send_one(self, db, smtp, &claims[i]))
                s_record_sent(db, &claims[i]);
        if (n == batch)
            continue; /* there may be more due now */
        /* Idle: until woken or poll_ms passed. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += cfg->poll_ms / 1000;
        ts.tv_nsec += (cfg->poll_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&self->mu);
        while (!self->stopping && self->wakes == seen)
            if (pthread_cond_timedwait(&self->cond, &self->mu, &ts))
                break;
        pthread_mutex_unlock(&self->mu);
    }
    pthread_mutex_lock(&self->mu);
    self->clients[slot] = NULL;
    pthread_mutex_unlock(&self->mu);
    notify_smtp_destroy(&smtp);
    cm_db_destroy(&db);
    return NULL;
}

notify_sender_t *notify_sender_start(const struct notify_sender_cfg *cfg)
{
    notify_sender_t *self = cm_calloc(1, sizeof *self);
    self->cfg = cfg;
    /* Longer than any attempt can take, so a live sender never loses its claim. */
    long attempt_ms = cfg->smtp ? cfg->smtp->connect_timeout_ms + cfg->smtp->timeout_ms : 0;
    long sms_ms = cfg->sms ? cfg->sms->connect_timeout_ms + cfg->sms->timeout_ms : 0;
    if (sms_ms > attempt_ms)
        attempt_ms = sms_ms;
    self->lease_ms = attempt_ms * (cfg->batch > 0 ? cfg->batch : 1) + 30000L;
    atomic_init(&self->stop_now, false);
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cond, NULL);
    self->threads = cm_calloc((size_t)cfg->threads, sizeof *self->threads);
    self->clients = cm_calloc((size_t)cfg->threads, sizeof *self->clients);
    for (int i = 0; i < cfg->threads; i++) {
        if (pthread_create(&self->threads[self->n_threads], NULL, s_run, self)) {
            cm_log_error("could not start sender thread %d", i);
            continue;
        }
        self->n_threads++;
    }
    if (!self->n_threads) {
        notify_sender_stop(&self);
        return NULL;
    }
    cm_log_info("%d sender threads, lease %ld ms", self->n_threads, self->lease_ms);
    return self;
}

void notify_sender_wake(notify_sender_t *self)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->mu);
    self->wakes++;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mu);
}

void notify_sender_stop(notify_sender_t **self_p)
{
    notify_sender_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock(&self->mu);
    self->stopping = true;
    atomic_store(&self->stop_now, true);
    /* A message under way is cut short: it is tried again later, by another
     * copy or after the restart. */
    for (int i = 0; i < self->n_threads; i++)
        if (self->clients[i])
            notify_smtp_interrupt(self->clients[i]);
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->mu);
    for (int i = 0; i < self->n_threads; i++)
        pthread_join(self->threads[i], NULL);
    free(self->threads);
    free(self->clients);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}
