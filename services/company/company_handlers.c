/* company.LookupVat: the syntax first, then the cache, then VIES, once per
 * number however many ask at once, never more than max_in_flight calls, and
 * not at all for a member state VIES reported unavailable a moment ago. */
#include "company_handlers.h"
#include "company_vies.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "cm_vat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

/* The number being asked now, and what came back for those who waited. */
struct company_flight {
    struct company_flight *next; // borrowed (the state's list)
    char vat[CM_VAT_SIZE];
    int refs; // the asker and every waiter
    bool done;
    struct company_vies_result result; // owned once done
    uint8_t *packed;                   // owned: the lookup packed, for the waiters
    size_t packed_len;
};

static void s_flight_unref(struct company_flight *f)
{
    if (--f->refs > 0)
        return;
    company_vies_result_release(&f->result);
    free(f->packed);
    free(f);
}

/* ---------------------------------------------------------------------- */
/* The cache                                                               */

static Crm__VatLookup *s_cache_get(struct cm_call *call, struct company_state *st, const char *vat)
{
    char hours[24];
    snprintf(hours, sizeof hours, "%ld", st->cache_hours);
    const char *p[] = {vat, hours};
    cm_err_t err;
    PGresult *res = cm_db_exec(call->db,
                               "SELECT answer::text, to_char(checked_at AT TIME ZONE 'UTC', "
                               "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM company.vat_checks "
                               "WHERE vat_number = $1 AND checked_at > now() - make_interval("
                               "hours => $2::int)",
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
            l->from_cache = true;
            cm_pb_set_str(&l->checked_at, PQgetvalue(res, 0, 1));
        }
    }
    PQclear(res);
    return l;
}

static void s_cache_put(struct cm_call *call, const Crm__VatLookup *l, const char *raw)
{
    json_t *doc = cm_pbjson_encode(&l->base, CM_PBJSON_OMIT_DEFAULTS);
    json_object_del(doc, "fromCache");
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

/* After an answer from VIES about cc: MS_UNAVAILABLE backs the state off
 * (30 s, doubling to 10 min); anything else clears it. Under mu. */
static void s_note_state(struct company_state *st, const char *cc, const char *code, int64_t now)
{
    size_t i = 0;
    while (i < st->n_backoff && strcmp(st->backoff[i].cc, cc))
        i++;
    if (strcmp(code, "MS_UNAVAILABLE")) {
        if (i < st->n_backoff)
            st->backoff[i] = st->backoff[--st->n_backoff];
        return;
    }
    if (i == st->n_backoff) {
        if (st->n_backoff == COMPANY_STATES)
            return;
        snprintf(st->backoff[i].cc, sizeof st->backoff[i].cc, "%s", cc);
        st->backoff[i].seconds = 15;
        st->n_backoff++;
    }
    struct company_backoff *b = &st->backoff[i];
    b->seconds = b->seconds * 2 > 600 ? 600 : b->seconds * 2;
    b->until_ms = now + b->seconds * 1000LL;
    /* check-status soon, then every 30 s while a state waits (company_tick). */
    if (!st->next_status_ms || st->next_status_ms > now + 5000)
        st->next_status_ms = now + 5000;
}

/* ---------------------------------------------------------------------- */
/* The method                                                              */

/* Fails the call for a VIES outage: UNAVAILABLE, the code as the reason. */
static void s_fail_vies(struct cm_call *call, const char *code, int retry_s)
{
    cm_call_fail(call, CM_ERR_UNAVAILABLE,
                 "VIES could not check the number now (%s); nothing was decided, retry in %d s",
                 code, retry_s);
    cm_call_violation(call, "vatNumber", code, "VIES answered %s; retry in %d s", code, retry_s);
}

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

/* The answer of a flight to its asker or a waiter. */
static void s_answer(struct cm_call *call, const struct company_flight *f, ProtobufCMessage **resp)
{
    switch (f->result.outcome) {
    case COMPANY_VIES_ANSWER:
        *resp =
            protobuf_c_message_unpack(&crm__vat_lookup__descriptor, NULL, f->packed_len, f->packed);
        if (!*resp)
            cm_call_fail(call, CM_ERR_INTERNAL, "could not copy the VIES answer");
        return;
    case COMPANY_VIES_INPUT:
        cm_call_violation(call, "vatNumber", "INVALID_INPUT",
                          "VIES does not take %s as a VAT number", f->vat);
        return;
    case COMPANY_VIES_ERROR:
        s_fail_vies(call, f->result.code, f->result.retry_after_s);
        return;
    }
}

static void s_lookup(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__LookupVatRequest *req = (const Crm__LookupVatRequest *)msg;
    struct company_state *st = call->user;
    const char *field = "vatNumber";
    char in[64], vat[CM_VAT_SIZE];
    if (req->vat_number[0]) {
        snprintf(in, sizeof in, "%s", req->vat_number);
    } else {
        field = req->country_code[0] ? "number" : "countryCode";
        snprintf(in, sizeof in, "%.2s%.60s", req->country_code, req->number);
    }
    const char *why = NULL;
    if (!in[0]) {
        cm_call_violation(call, "vatNumber", "REQUIRED",
                          "vatNumber (or countryCode and number) is required");
        return;
    }
    if (strlen(in) >= sizeof in - 1 || cm_vat_normalise(in, vat, sizeof vat, &why)) {
        cm_call_violation(call, field, "INVALID_FORMAT", "%s is not a valid EU VAT number: %s",
                          field, why ? why : "too long");
        return;
    }
    Crm__VatLookup *cached = s_cache_get(call, st, vat);
    if (cached) {
        *resp = &cached->base;
        return;
    }
    char cc[3] = {vat[0], vat[1], '\0'};
    int64_t now = cm_mono_ms();

    pthread_mutex_lock(&st->mu);
    int wait_s = s_backed_off(st, cc, now);
    if (wait_s) {
        pthread_mutex_unlock(&st->mu);
        s_fail_vies(call, "MS_UNAVAILABLE", wait_s);
        return;
    }
    struct company_flight *f = st->flights;
    while (f && strcmp(f->vat, vat))
        f = f->next;
    if (f) {
        /* Someone asks VIES about this number now: wait for that answer. */
        f->refs++;
        bool in_time = true;
        while (!f->done && in_time)
            in_time =
                s_wait(st, call) && (!call->hdr->deadline_unix_ms ||
                                     cm_now_ms() < call->hdr->deadline_unix_ms - CM_CALL_MARGIN_MS);
        if (f->done)
            s_answer(call, f, resp);
        else
            s_fail_vies(call, "TIMEOUT", 5);
        s_flight_unref(f);
        pthread_mutex_unlock(&st->mu);
        return;
    }
    f = cm_calloc(1, sizeof *f);
    snprintf(f->vat, sizeof f->vat, "%s", vat);
    f->refs = 1;
    f->next = st->flights;
    st->flights = f;
    /* A call slot: at most max_in_flight calls to VIES at once. */
    bool slot = true;
    while (st->in_flight >= st->max_in_flight && slot)
        slot = s_wait(st, call) && (!call->hdr->deadline_unix_ms ||
                                    cm_now_ms() < call->hdr->deadline_unix_ms - CM_CALL_MARGIN_MS);
    if (slot && st->in_flight < st->max_in_flight)
        st->in_flight++;
    else
        slot = false;
    pthread_mutex_unlock(&st->mu);

    char *raw = NULL;
    if (slot) {
        company_vies_check(st->vies_url, st->connect_timeout_ms, st->timeout_ms, cc, vat + 2,
                           &f->result, &raw);
    } else {
        memset(&f->result, 0, sizeof f->result);
        f->result.outcome = COMPANY_VIES_ERROR;
        snprintf(f->result.code, sizeof f->result.code, "GLOBAL_MAX_CONCURRENT_REQ");
        f->result.retry_after_s = 5;
    }
    if (f->result.outcome == COMPANY_VIES_ANSWER) {
        Crm__VatLookup *l = f->result.lookup;
        char at[40];
        cm_pb_set_str(&l->checked_at, cm_time_rfc3339(cm_now_ms(), at, sizeof at));
        s_cache_put(call, l, raw);
        f->packed_len = crm__vat_lookup__get_packed_size(l);
        f->packed = cm_malloc(f->packed_len ? f->packed_len : 1);
        crm__vat_lookup__pack(l, f->packed);
    }
    cm_log_info("VIES %s: %s%s", vat,
                f->result.outcome == COMPANY_VIES_ANSWER
                    ? (f->result.lookup->valid ? "valid" : "invalid")
                : f->result.outcome == COMPANY_VIES_INPUT ? "INVALID_INPUT"
                                                          : f->result.code,
                slot ? "" : " (no call slot)");
    free(raw);

    pthread_mutex_lock(&st->mu);
    if (slot)
        st->in_flight--;
    s_note_state(st, cc, f->result.outcome == COMPANY_VIES_ERROR ? f->result.code : "",
                 cm_mono_ms());
    f->done = true;
    struct company_flight **pp = &st->flights;
    while (*pp != f)
        pp = &(*pp)->next;
    *pp = f->next;
    pthread_cond_broadcast(&st->cond);
    s_answer(call, f, resp);
    s_flight_unref(f);
    pthread_mutex_unlock(&st->mu);
}

/* ---------------------------------------------------------------------- */

void company_start(cm_svc_t *svc, void *user)
{
    (void)svc;
    struct company_state *st = user;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cond, NULL);
}

void company_stop(cm_svc_t *svc, void *user)
{
    (void)svc;
    struct company_state *st = user;
    pthread_cond_destroy(&st->cond);
    pthread_mutex_destroy(&st->mu);
}

void company_tick(cm_svc_t *svc, void *user)
{
    (void)svc;
    struct company_state *st = user;
    int64_t now = cm_mono_ms();
    pthread_mutex_lock(&st->mu);
    bool due = st->n_backoff && st->next_status_ms && now >= st->next_status_ms;
    if (due)
        st->next_status_ms = now + 30000;
    pthread_mutex_unlock(&st->mu);
    if (!due)
        return;
    /* Short: the tick runs on the thread that heartbeats. */
    char available[40][3];
    size_t n = 0;
    if (company_vies_status(st->vies_url, 1000, available, &n, 40))
        return;
    pthread_mutex_lock(&st->mu);
    for (size_t k = 0; k < n; k++)
        s_note_state(st, available[k], "", now);
    pthread_mutex_unlock(&st->mu);
}

#define M(name, req, resp, fn, flags) CM_METHOD("company", name, req, resp, fn, flags)

const struct cm_method company_methods[] = {
    /* Reads and writes only the cache, one statement at a time: no transaction, so none is
     * held while VIES is asked. */
    M("LookupVat", lookup_vat_request, vat_lookup, s_lookup, CM_METHOD_NO_TXN),
};
const size_t company_n_methods = sizeof company_methods / sizeof *company_methods;
