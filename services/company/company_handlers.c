/* company.LookupVat and company.VerifyVat (with its background retries,
 * company.RetryVatCheck), company.Stats, and the tick that claims the
 * retries that are due. The asking itself is company_ask.c. */
#include "company_handlers.h"
#include "company_ask.h"
#include "company_store.h"
#include "customers.pb-c.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "cm_vat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long the customers service may take over a read or the record. */
#define CUSTOMERS_TIMEOUT_MS 5000
/* Who a background retry acts as, in the customer's audit and timeline. */
#define RETRY_PRINCIPAL_ID "company"
#define RETRY_PRINCIPAL_NAME "VIES check (automatic retry)"
#define RETRY_CHANNEL "company"

/* ---------------------------------------------------------------------- */
/* company.LookupVat                                                       */

/* Fails the call for a VIES outage: UNAVAILABLE, the code as the reason. */
static void s_fail_vies(struct cm_call *call, const char *code, int retry_s)
{
    cm_call_fail(call, CM_ERR_UNAVAILABLE,
                 "VIES could not check the number now (%s); nothing was decided, retry in %d s",
                 code, retry_s);
    cm_call_violation(call, "vatNumber", code, "VIES answered %s; retry in %d s", code, retry_s);
}

/* Calls customers as the caller. Returns the response (caller frees), or
 * NULL with *err set (a status customers replied, as cm_err_of_status
 * reads it, or CM_ERR_UNAVAILABLE when it did not answer) and, when rh_out
 * is not NULL, *rh_out its reply header (caller frees; NULL without one). */
static ProtobufCMessage *s_customers_try(struct cm_call *call, const char *method,
                                         const ProtobufCMessage *req,
                                         const ProtobufCMessageDescriptor *desc, cm_err_t *err,
                                         Crm__ReplyHeader **rh_out)
{
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = NULL;
    *err = cm_call_service(call, "customers", method, NULL, req, desc, CUSTOMERS_TIMEOUT_MS, &rh,
                           &resp);
    if (*err) {
        cm_log_warn("%s: %s", method, cm_err_name(*err));
        *err = CM_ERR_UNAVAILABLE;
    } else if (rh->status != CRM__STATUS__STATUS_OK || !resp) {
        *err = rh->status != CRM__STATUS__STATUS_OK ? cm_err_of_status((int)rh->status)
                                                    : CM_ERR_INTERNAL;
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        resp = NULL;
    }
    if (rh_out && !resp)
        *rh_out = rh;
    else if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return resp;
}

/* The same, failing the call as customers did (what names what failed). */
static ProtobufCMessage *s_customers(struct cm_call *call, const char *method,
                                     const ProtobufCMessage *req,
                                     const ProtobufCMessageDescriptor *desc, const char *what)
{
    cm_err_t err;
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = s_customers_try(call, method, req, desc, &err, &rh);
    if (resp)
        return resp;
    if (!rh) {
        cm_call_fail(call, err, "could not %s: the customers service did not answer", what);
        return NULL;
    }
    cm_call_fail(call, err, "%s", rh->message);
    for (size_t i = 0; i < rh->n_details; i++)
        cm_call_violation(call, rh->details[i]->field, rh->details[i]->reason, "%s",
                          rh->details[i]->description);
    crm__reply_header__free_unpacked(rh, NULL);
    return NULL;
}

/* The tenant's own VAT number from its settings, into out ("" when none is
 * set or the settings cannot be read: VIES is asked without a requester). */
static void s_requester(struct cm_call *call, char out[CM_VAT_SIZE])
{
    out[0] = '\0';
    ProtobufCMessage *s = cm_call_settings(call, NULL, NULL, CUSTOMERS_TIMEOUT_MS);
    if (!s) {
        cm_log_info("asking VIES without a requester");
        return;
    }
    snprintf(out, CM_VAT_SIZE, "%s", ((Crm__Settings *)s)->vat_number);
    protobuf_c_message_free_unpacked(s, NULL);
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
    Crm__VatLookup *cached = company_ask_cached(call, st, vat);
    if (cached) {
        *resp = &cached->base;
        return;
    }
    /* The tenant's own number, for a consultation number: asked only now, so
     * that an answer from the cache costs no call to customers. */
    char requester[CM_VAT_SIZE];
    s_requester(call, requester);
    struct company_answer a;
    company_ask(call, st, vat, requester, &a);
    switch (a.outcome) {
    case COMPANY_VIES_ANSWER:
        *resp = &a.lookup->base;
        a.lookup = NULL;
        break;
    case COMPANY_VIES_INPUT:
        cm_call_violation(call, "vatNumber", "INVALID_INPUT",
                          "VIES does not take %s as a VAT number", vat);
        break;
    case COMPANY_VIES_ERROR:
        s_fail_vies(call, a.code, a.retry_after_s);
        break;
    }
    company_answer_release(&a);
}

/* ---------------------------------------------------------------------- */
/* company.VerifyVat and its retries                                       */

/* The customer's status after an answer. PENDING: ask again later. */
static Crm__VatStatus s_status_of(const struct company_answer *a)
{
    switch (a->outcome) {
    case COMPANY_VIES_ANSWER:
        return a->lookup->valid ? CRM__VAT_STATUS__VAT_STATUS_VALID
                                : CRM__VAT_STATUS__VAT_STATUS_INVALID;
    case COMPANY_VIES_INPUT:
        return CRM__VAT_STATUS__VAT_STATUS_INVALID;
    case COMPANY_VIES_ERROR:
        break;
    }
    return company_vies_gives_up(a->code) ? CRM__VAT_STATUS__VAT_STATUS_UNAVAILABLE
                                          : CRM__VAT_STATUS__VAT_STATUS_PENDING;
}

/* The check to record for an answer about vat, with status; the strings
 * borrow from a and at. */
static void s_check_of(const struct company_answer *a, const char *vat, Crm__VatStatus status,
                       char at[40], Crm__VatCheck *v)
{
    v->status = status;
    v->vat_number = (char *)vat;
    v->raw = a->raw ? a->raw : (char *)"";
    if (strlen(v->raw) > CM_VAT_RAW_MAX) {
        cm_log_warn("VIES's answer about %s is %zu bytes: not kept as evidence", vat,
                    strlen(v->raw));
        v->raw = (char *)"";
    }
    v->checked_at = cm_time_rfc3339(cm_now_ms(), at, 40);
    const Crm__VatLookup *l = a->lookup;
    if (l) {
        v->checked_at = l->checked_at;
        v->request_date = l->request_date;
        v->consultation_number = l->consultation_number;
        v->name = l->name;
        v->address = l->address;
        v->name_withheld = l->name_withheld;
        v->address_withheld = l->address_withheld;
    } else {
        v->error_code = (char *)a->code;
    }
}

/* The request that records the check on the customer; borrows v. */
static Crm__RecordVatCheckRequest s_record_req(const char *id, Crm__VatCheck *v, bool fill)
{
    Crm__RecordVatCheckRequest req = CRM__RECORD_VAT_CHECK_REQUEST__INIT;
    req.id = (char *)id;
    req.check = v;
    req.fill = fill;
    return req;
}

static void s_verify(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__VerifyVatRequest *req = (const Crm__VerifyVatRequest *)msg;
    struct company_state *st = call->user;
    const char *tenant = call->hdr->tenant_id;
    Crm__GetCustomerRequest get = CRM__GET_CUSTOMER_REQUEST__INIT;
    get.id = req->id;
    Crm__Customer *c = (Crm__Customer *)s_customers(
        call, "customers.GetCustomer", &get.base, &crm__customer__descriptor, "read the customer");
    if (!c)
        return;
    char vat[CM_VAT_SIZE];
    snprintf(vat, sizeof vat, "%s", c->company ? c->company->vat_number : "");
    crm__customer__free_unpacked(c, NULL);
    if (!vat[0]) {
        cm_call_violation(call, "company.vatNumber", "REQUIRED",
                          "customer %s has no company.vatNumber to verify: set it first", req->id);
        return;
    }
    char requester[CM_VAT_SIZE];
    s_requester(call, requester);
    struct company_answer a;
    company_ask(call, st, vat, requester, &a);
    Crm__VatStatus status = s_status_of(&a);
    /* The retry row first: a PENDING customer always has its retry. An answer
     * ends a retry still waiting from an earlier check. */
    cm_err_t err = status == CRM__VAT_STATUS__VAT_STATUS_PENDING
                       ? company_store_retry_start(
                             call->db, tenant, req->id, vat, req->fill, a.code,
                             company_vies_retry_delay(1, st->retry_min_s, st->retry_max_s))
                       : company_store_retry_done(call->db, tenant, req->id, NULL);
    if (err) {
        cm_call_db_fail(call, err, "could not keep the check for a retry");
        company_answer_release(&a);
        return;
    }
    Crm__VatCheck v = CRM__VAT_CHECK__INIT;
    char at[40];
    s_check_of(&a, vat, status, at, &v);
    Crm__RecordVatCheckRequest rec = s_record_req(req->id, &v, req->fill);
    Crm__Customer *done =
        (Crm__Customer *)s_customers(call, "customers.RecordVatCheck", &rec.base,
                                     &crm__customer__descriptor, "record the VAT check");
    if (done)
        *resp = &done->base;
    company_answer_release(&a);
}

static void s_retry(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__RetryVatCheckRequest *req = (const Crm__RetryVatCheckRequest *)msg;
    struct company_state *st = call->user;
    const char *tenant = call->hdr->tenant_id;
    Crm__RetryVatCheckResponse *r =
        (Crm__RetryVatCheckResponse *)cm_pb_new(&crm__retry_vat_check_response__descriptor);
    struct company_retry row;
    bool found = false;
    cm_err_t err =
        company_store_retry_take(call->db, tenant, req->customer_id, req->lease, &row, &found);
    if (err) {
        cm_call_db_fail(call, err, "could not read the retry");
        goto out;
    }
    if (!found) {
        /* Done meanwhile, or its lease ran out and another copy has it. */
        *resp = &r->base;
        r = NULL;
        goto out;
    }
    char requester[CM_VAT_SIZE];
    s_requester(call, requester);
    struct company_answer a;
    company_ask(call, st, row.vat, requester, &a);
    Crm__VatStatus status = s_status_of(&a);
    if (status == CRM__VAT_STATUS__VAT_STATUS_PENDING && row.age_s >= st->give_up_s)
        status = CRM__VAT_STATUS__VAT_STATUS_UNAVAILABLE;
    if (status == CRM__VAT_STATUS__VAT_STATUS_PENDING) {
        /* Still no answer: the customer stays PENDING as recorded; only the row moves on. */
        long delay = company_vies_retry_delay(row.attempts + 1, st->retry_min_s, st->retry_max_s);
        err = company_store_retry_later(call->db, tenant, req->customer_id, req->lease, a.code,
                                        delay);
        if (err)
            cm_call_db_fail(call, err, "could not put the retry off");
        cm_log_info("VAT check of customer %s still pending (%s, attempt %d); again in %ld s",
                    req->customer_id, a.code, row.attempts + 1, delay);
    } else {
        Crm__VatCheck v = CRM__VAT_CHECK__INIT;
        char at[40];
        s_check_of(&a, row.vat, status, at, &v);
        Crm__RecordVatCheckRequest rec = s_record_req(req->customer_id, &v, row.fill);
        Crm__Customer *c = (Crm__Customer *)s_customers_try(
            call, "customers.RecordVatCheck", &rec.base, &crm__customer__descriptor, &err, NULL);
        if (c)
            crm__customer__free_unpacked(c, NULL);
        if (c || err == CM_ERR_NOT_FOUND || err == CM_ERR_PRECONDITION) {
            /* Recorded; or the customer is gone, or its number changed since: over. */
            err = company_store_retry_done(call->db, tenant, req->customer_id, req->lease);
            if (err)
                cm_call_db_fail(call, err, "could not end the retry");
        } else {
            /* Not recorded (customers down): the lease runs out and the row is claimed again. */
            cm_call_fail(call, err, "could not record the VAT check of customer %s; retried",
                         req->customer_id);
        }
    }
    company_answer_release(&a);
    r->status = status;
    if (!cm_call_failed(call)) {
        *resp = &r->base;
        r = NULL;
    }
out:
    if (r)
        crm__retry_vat_check_response__free_unpacked(r, NULL);
}

/* ---------------------------------------------------------------------- */
/* company.Stats                                                           */

static void s_stats(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    struct company_state *st = call->user;
    Crm__CompanyStats *s = company_metrics_stats(&st->metrics);
    cm_pb_set_str(&s->instance, st->instance);
    *resp = &s->base;
}

/* ---------------------------------------------------------------------- */

void company_start(cm_svc_t *svc, void *user)
{
    struct company_state *st = user;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cond, NULL);
    company_metrics_init(&st->metrics);
    st->client = cm_mdp_client_new(cm_svc_zctx(svc), st->bus);
    if (!st->client)
        cm_log_error("could not connect to the bus at %s: PENDING checks are not retried by "
                     "this copy",
                     st->bus);
}

void company_stop(cm_svc_t *svc, void *user)
{
    (void)svc;
    struct company_state *st = user;
    /* Retries sent and not answered are claimed again when their lease runs out. */
    cm_mdp_client_destroy(&st->client);
    company_metrics_destroy(&st->metrics);
    pthread_cond_destroy(&st->cond);
    pthread_mutex_destroy(&st->mu);
}

/* Sends one claimed retry to any copy (this one included): the work, a VIES
 * call and a record, runs on a handler thread, never on the tick's. */
static void s_send_retry(void *ud, const char *tenant, const char *customer_id, const char *lease)
{
    struct company_state *st = ud;
    Crm__RetryVatCheckRequest req = CRM__RETRY_VAT_CHECK_REQUEST__INIT;
    req.customer_id = (char *)customer_id;
    req.lease = (char *)lease;
    Crm__Principal who = CRM__PRINCIPAL__INIT;
    who.id = RETRY_PRINCIPAL_ID;
    who.name = RETRY_PRINCIPAL_NAME;
    who.role = CRM__ROLE__ROLE_SERVICE;
    who.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.tenant_id = (char *)tenant;
    h.principal = &who;
    h.channel = RETRY_CHANNEL;
    h.method = "company.RetryVatCheck";
    /* Done before the lease runs out, or another copy may take the row. */
    h.deadline_unix_ms = cm_now_ms() + (st->lease_s - 2) * 1000;
    char rid[40];
    if (cm_svc_send(st->client, "company", &h, &req.base, 0, rid)) {
        cm_log_warn("could not send the retry of customer %s; claimed again later", customer_id);
        return;
    }
    for (size_t i = 0; i < COMPANY_RETRIES_OUT; i++)
        if (!st->retries_out[i].request_id[0]) {
            snprintf(st->retries_out[i].request_id, sizeof st->retries_out[i].request_id, "%s",
                     rid);
            st->retries_out[i].until_ms = h.deadline_unix_ms;
            return;
        }
}

/* Frees the slots of retries answered (each did its work where it ran) or
 * past their deadline; returns the free slots. */
static int s_retries_free(struct company_state *st)
{
    for (;;) {
        struct cm_mdp_msg m = {0}; /* recv fills only the client's fields */
        if (cm_mdp_client_recv(st->client, 0, &m) != 1)
            break;
        Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, m.header_len, m.header);
        for (size_t i = 0; rh && i < COMPANY_RETRIES_OUT; i++)
            if (!strcmp(st->retries_out[i].request_id, rh->request_id))
                st->retries_out[i].request_id[0] = '\0';
        if (rh)
            crm__reply_header__free_unpacked(rh, NULL);
        cm_mdp_msg_release(&m);
    }
    int free_slots = 0;
    int64_t now = cm_now_ms();
    for (size_t i = 0; i < COMPANY_RETRIES_OUT; i++) {
        if (st->retries_out[i].request_id[0] && st->retries_out[i].until_ms <= now)
            st->retries_out[i].request_id[0] = '\0';
        free_slots += !st->retries_out[i].request_id[0];
    }
    return free_slots;
}

void company_tick(cm_svc_t *svc, void *user)
{
    struct company_state *st = user;
    int64_t now = cm_mono_ms();
    int free_slots = st->client ? s_retries_free(st) : 0;
    if (free_slots > 0 &&
        company_store_retry_claim(cm_svc_db(svc), free_slots, st->lease_s, s_send_retry, st) < 0)
        cm_log_warn("could not claim VAT checks to retry: %s", cm_db_error(cm_svc_db(svc)));

    /* What every copy knows of member states down (one small read a second). */
    company_ask_backoff_refresh(st, cm_svc_db(svc));
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
    company_ask_available(st, cm_svc_db(svc), available, n);
}

#define M(name, req, resp, fn, flags, scope) CM_METHOD("company", name, req, resp, fn, flags, scope)

const struct cm_method company_methods[] = {
    /* None holds a transaction: each statement on its own, so none is held while VIES or the
     * customers service is asked. */
    M("LookupVat", lookup_vat_request, vat_lookup, s_lookup, CM_METHOD_NO_TXN, COMPANY_READ),
    M("VerifyVat", verify_vat_request, customer, s_verify, CM_METHOD_NO_TXN, CUSTOMERS_WRITE),
    M("RetryVatCheck", retry_vat_check_request, retry_vat_check_response, s_retry, CM_METHOD_NO_TXN,
      CUSTOMERS_WRITE),
    M("Stats", company_stats_request, company_stats, s_stats,
      CM_METHOD_NO_TENANT | CM_METHOD_NO_TXN, INTERNAL),
};
const size_t company_n_methods = sizeof company_methods / sizeof *company_methods;
