/* Asking VIES on behalf of a request: the cache, the flights (one call per
 * number however many ask at once), the call slots and the member states
 * backed off. */
#include "company_ask.h"
#include "company_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "cm_vat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

/* A number (and requester) being asked now, and what came back for those
 * who waited. */
struct company_flight {
    struct company_flight *next;   // borrowed (the state's list)
    char key[2 * CM_VAT_SIZE + 1]; // "<vat>|<requester>"
    int refs;                      // the asker and every waiter
    bool done;
    enum company_vies_outcome outcome;
    char code[48];
    int retry_after_s;
    uint8_t *packed; // owned: the lookup packed, for the waiters
    size_t packed_len;
    char *raw; // owned
};

static void s_flight_unref(struct company_flight *f)
{
    if (--f->refs > 0)
        return;
    free(f->packed);
    free(f->raw);
    free(f);
}

void company_answer_release(struct company_answer *a)
{
    if (a->lookup)
        crm__vat_lookup__free_unpacked(a->lookup, NULL);
    free(a->raw);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------------- */
/* The cache                                                               */

Crm__VatLookup *company_ask_cached(struct cm_call *call, struct company_state *st, const char *vat)
{
    char hours[24];
    snprintf(hours, sizeof hours, "%ld", st->cache_hours);
    const char *p[] = {vat, hours};
    cm_err_t err;
    PGresult *res = cm_db_exec(call->db,
                               "SELECT answer::text, (extract(epoch FROM checked_at) * 1000)"
                               "::bigint FROM company.vat_checks WHERE vat_number = $1 AND "
                               "checked_at > now() - make_interval(hours => $2::int)",
                               2, p, &err);
    if (!res) {
        cm_log_warn("could not read the VIES cache: %s", cm_db_error(call->db));
        return NULL;
    }
    Crm__VatLookup *l = NULL;
    if (PQntuples(res) == 1) {
        json_error_t jerr;
        json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
        struct cm_pbjson_error perr;
        if (doc)
            l = (Crm__VatLookup *)cm_pbjson_decode(&crm__vat_lookup__descriptor, doc, NULL, &perr);
        json_decref(doc);
        if (l) {
            char at[40];
            l->from_cache = true;
            cm_pb_set_str(&l->checked_at,
                          cm_time_rfc3339(strtoll(PQgetvalue(res, 0, 1), NULL, 10), at, sizeof at));
        }
    }
    PQclear(res);
    return l;
}

/* Keeps an answer, without its consultation number: the cache serves every
 * tenant, and the number is the evidence of one tenant's call. */
static void s_cache_put(struct cm_call *call, const Crm__VatLookup *l, const char *raw)
{
    json_t *doc = cm_pbjson_encode(&l->base, CM_PBJSON_OMIT_DEFAULTS);
    json_object_del(doc, "fromCache");
    json_object_del(doc, "consultationNumber");
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    const char *p[] = {l->vat_number, l->valid ? "t" : "f", text, raw ? raw : ""};
    if (cm_db_run(call->db,
                  "INSERT INTO company.vat_checks (vat_number, valid, answer, raw, checked_at) "
                  "VALUES ($1, $2, $3::jsonb, $4, now()) ON CONFLICT (vat_number) DO UPDATE SET "
                  "valid = EXCLUDED.valid, answer = EXCLUDED.answer, raw = EXCLUDED.raw, "
                  "checked_at = EXCLUDED.checked_at",
                  4, p))
        cm_log_warn("could not keep the VIES answer: %s", cm_db_error(call->db));
    free(text);
}

/* ---------------------------------------------------------------------- */
/* Member states VIES reported unavailable                                 */

/* Seconds until cc may be asked again (0: now). Under mu. */
static int s_backed_off(struct company_state *st, const char *cc, int64_t now)
{
    for (size_t i = 0; i < st->n_backoff; i++)
        if (!strcmp(st->backoff[i].cc, cc) && st->backoff[i].until_ms > now)
            return (int)((st->backoff[i].until_ms - now + 999) / 1000);
    return 0;
}

/* The mirror of company.state_backoff: cc waits until until_ms (mono) and
 * then, or when check-status says it is back. Under mu. */
static void s_mirror_set(struct company_state *st, const char *cc, int seconds, int64_t until_ms,
                         int64_t now, bool fresh)
{
    size_t i = 0;
    while (i < st->n_backoff && strcmp(st->backoff[i].cc, cc))
        i++;
    if (i == st->n_backoff) {
        if (st->n_backoff == COMPANY_STATES)
            return;
        snprintf(st->backoff[i].cc, sizeof st->backoff[i].cc, "%s", cc);
        st->n_backoff++;
    }
    st->backoff[i].seconds = seconds;
    st->backoff[i].until_ms = until_ms;
    /* check-status soon after a fresh report, then every 30 s while a state waits
     * (company_tick). */
    if (!st->next_status_ms || (fresh && st->next_status_ms > now + 5000))
        st->next_status_ms = now + 5000;
}

/* Drops cc from the mirror; true when it was there. Under mu. */
static bool s_mirror_clear(struct company_state *st, const char *cc)
{
    for (size_t i = 0; i < st->n_backoff; i++)
        if (!strcmp(st->backoff[i].cc, cc)) {
            st->backoff[i] = st->backoff[--st->n_backoff];
            return true;
        }
    return false;
}

/* After an answer from VIES about cc: MS_UNAVAILABLE backs the state off for
 * every copy (company.state_backoff: 30 s, doubling to 10 min); anything else
 * ends a backoff this copy knows of. */
static void s_note_state(struct cm_call *call, struct company_state *st, const char *cc,
                         bool unavailable)
{
    int64_t now = cm_mono_ms();
    if (!unavailable) {
        pthread_mutex_lock(&st->mu);
        bool was = s_mirror_clear(st, cc);
        pthread_mutex_unlock(&st->mu);
        if (was && company_store_backoff_end(call->db, cc))
            cm_log_warn("could not end the backoff of %s: %s", cc, cm_db_error(call->db));
        return;
    }
    int seconds = 30;
    int64_t left_ms = 30000;
    if (company_store_backoff_start(call->db, cc, &seconds, &left_ms))
        cm_log_warn("could not share the backoff of %s (this copy waits %d s): %s", cc, seconds,
                    cm_db_error(call->db));
    cm_log_info("VIES: %s unavailable, not asked for %d s (or until check-status says so)", cc,
                seconds);
    pthread_mutex_lock(&st->mu);
    s_mirror_set(st, cc, seconds, now + left_ms, now, true);
    pthread_mutex_unlock(&st->mu);
}

static void s_mirror_row(void *ud, const char *cc, int seconds, int64_t left_ms)
{
    struct company_state *st = ud;
    int64_t now = cm_mono_ms();
    s_mirror_set(st, cc, seconds, now + left_ms, now, false);
}

void company_ask_backoff_refresh(struct company_state *st, cm_db_t *db)
{
    pthread_mutex_lock(&st->mu);
    size_t before = st->n_backoff;
    st->n_backoff = 0;
    int n = company_store_backoff_load(db, s_mirror_row, st);
    if (n < 0) {
        st->n_backoff = before; /* keep what this copy knew */
        cm_log_warn("could not read the shared backoff: %s", cm_db_error(db));
    }
    pthread_mutex_unlock(&st->mu);
}

void company_ask_available(struct company_state *st, cm_db_t *db, char available[][3], size_t n)
{
    for (size_t k = 0; k < n; k++) {
        pthread_mutex_lock(&st->mu);
        bool was = s_mirror_clear(st, available[k]);
        pthread_mutex_unlock(&st->mu);
        if (was && company_store_backoff_end(db, available[k]))
            cm_log_warn("could not end the backoff of %s: %s", available[k], cm_db_error(db));
    }
}

/* ---------------------------------------------------------------------- */
/* Asking                                                                  */

/* Waits on cond until the call's deadline; false when it passed. */
static bool s_wait(struct company_state *st, struct cm_call *call)
{
    if (!call->hdr->deadline_unix_ms) {
        pthread_cond_wait(&st->cond, &st->mu);
        return true;
    }
    int64_t left = call->hdr->deadline_unix_ms - cm_now_ms() - CM_CALL_MARGIN_MS;
    if (left <= 0)
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    (void)pthread_cond_timedwait(&st->cond, &st->mu, &ts); /* the caller checks again */
    return true;
}

static bool s_in_time(struct company_state *st, struct cm_call *call)
{
    return s_wait(st, call) && (!call->hdr->deadline_unix_ms ||
                                cm_now_ms() < call->hdr->deadline_unix_ms - CM_CALL_MARGIN_MS);
}

static void s_error(struct company_answer *out, const char *code, int retry_after_s)
{
    out->outcome = COMPANY_VIES_ERROR;
    snprintf(out->code, sizeof out->code, "%s", code);
    out->retry_after_s = retry_after_s;
    out->raw = cm_strdup("");
}

/* A flight's answer, copied for one asker. */
static void s_copy(const struct company_flight *f, struct company_answer *out)
{
    out->outcome = f->outcome;
    snprintf(out->code, sizeof out->code, "%s", f->code);
    out->retry_after_s = f->retry_after_s;
    out->raw = cm_strdup(f->raw ? f->raw : "");
    if (f->outcome == COMPANY_VIES_ANSWER) {
        out->lookup = crm__vat_lookup__unpack(NULL, f->packed_len, f->packed);
        if (!out->lookup) {
            /* Our own packing: cannot happen but for memory trouble. */
            free(out->raw);
            out->raw = NULL;
            s_error(out, "SERVICE_UNAVAILABLE", 5);
        }
    }
}

/* The call itself, by the flight's asker, outside the lock. */
static void s_call(struct cm_call *call, struct company_state *st, struct company_flight *f,
                   const char *vat, const char *requester)
{
    char cc[3] = {vat[0], vat[1], '\0'};
    struct company_vies_result r;
    double took = 0;
    char *raw = NULL;
    company_vies_check(st->vies_url, st->connect_timeout_ms, st->timeout_ms, cc, vat + 2, requester,
                       &r, &raw, &took);
    company_metrics_call(&st->metrics,
                         r.outcome == COMPANY_VIES_ANSWER  ? (r.lookup->valid ? "valid" : "invalid")
                         : r.outcome == COMPANY_VIES_INPUT ? "INVALID_INPUT"
                                                           : r.code,
                         took);
    f->outcome = r.outcome;
    snprintf(f->code, sizeof f->code, "%s", r.code);
    f->retry_after_s = r.retry_after_s;
    f->raw = raw;
    if (r.outcome == COMPANY_VIES_ANSWER) {
        Crm__VatLookup *l = r.lookup;
        char at[40];
        cm_pb_set_str(&l->checked_at, cm_time_rfc3339(cm_now_ms(), at, sizeof at));
        s_cache_put(call, l, raw);
        f->packed_len = crm__vat_lookup__get_packed_size(l);
        f->packed = cm_malloc(f->packed_len ? f->packed_len : 1);
        crm__vat_lookup__pack(l, f->packed);
    }
    cm_log_info("VIES %s: %s (%.3f s)", vat,
                r.outcome == COMPANY_VIES_ANSWER  ? (r.lookup->valid ? "valid" : "invalid")
                : r.outcome == COMPANY_VIES_INPUT ? "INVALID_INPUT"
                                                  : r.code,
                took);
    company_vies_result_release(&r);
}

void company_ask(struct cm_call *call, struct company_state *st, const char *vat,
                 const char *requester, struct company_answer *out)
{
    memset(out, 0, sizeof *out);
    char cc[3] = {vat[0], vat[1], '\0'};
    char key[sizeof((struct company_flight *)0)->key];
    snprintf(key, sizeof key, "%s|%s", vat, requester);
    int64_t now = cm_mono_ms();

    pthread_mutex_lock(&st->mu);
    int wait_s = s_backed_off(st, cc, now);
    if (wait_s) {
        pthread_mutex_unlock(&st->mu);
        s_error(out, "MS_UNAVAILABLE", wait_s);
        return;
    }
    struct company_flight *f = st->flights;
    while (f && strcmp(f->key, key))
        f = f->next;
    if (f) {
        /* Someone asks VIES about this number now: wait for that answer. */
        f->refs++;
        bool in_time = true;
        while (!f->done && in_time)
            in_time = s_in_time(st, call);
        if (f->done)
            s_copy(f, out);
        else
            s_error(out, "TIMEOUT", 5);
        s_flight_unref(f);
        pthread_mutex_unlock(&st->mu);
        return;
    }
    f = cm_calloc(1, sizeof *f);
    snprintf(f->key, sizeof f->key, "%s", key);
    f->refs = 1;
    f->next = st->flights;
    st->flights = f;
    /* A call slot: at most max_in_flight calls to VIES at once. */
    bool slot = true;
    while (st->in_flight >= st->max_in_flight && slot)
        slot = s_in_time(st, call);
    if (slot && st->in_flight < st->max_in_flight)
        st->in_flight++;
    else
        slot = false;
    pthread_mutex_unlock(&st->mu);

    if (slot) {
        s_call(call, st, f, vat, requester);
    } else {
        f->outcome = COMPANY_VIES_ERROR;
        snprintf(f->code, sizeof f->code, "GLOBAL_MAX_CONCURRENT_REQ");
        f->retry_after_s = 5;
        cm_log_info("VIES %s: no call slot before the deadline", vat);
    }

    /* Before the waiters hear of it: a state down is backed off for them too. */
    s_note_state(call, st, cc,
                 f->outcome == COMPANY_VIES_ERROR && !strcmp(f->code, "MS_UNAVAILABLE"));
    pthread_mutex_lock(&st->mu);
    if (slot)
        st->in_flight--;
    f->done = true;
    struct company_flight **pp = &st->flights;
    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
    pthread_cond_broadcast(&st->cond);
    s_copy(f, out);
    s_flight_unref(f);
    pthread_mutex_unlock(&st->mu);
}
