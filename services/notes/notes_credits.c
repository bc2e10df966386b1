/* A return's credit to the balance: the request, recording an attempt, and
 * the worker that retries what is still pending (notes_credits.h). */
#include "notes_credits.h"
#include "notes_returns.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Credits claimed a round, how long a claim holds them, and how long a
 * call to customers may take (under the broker's worker liveness). */
#define CLAIM_MAX 16
#define LEASE_S 60
#define CALL_MS 2500
/* Characters customers takes in a wallet entry's reason (docs/api.md): a
 * longer one is cut, an ellipsis its last character, so that a return's long
 * reason never makes its credit fail for good. */
#define WALLET_REASON_MAX 500

void notes_credit_request(const struct notes_return_credit *c, Crm__AdjustWalletRequest *ar,
                          char **reason)
{
    crm__adjust_wallet_request__init(ar);
    *reason = cm_strfmt("Return of %s%s%s", c->order_id, c->reason[0] ? ": " : "", c->reason);
    if (cm_utf8_length(*reason) > WALLET_REASON_MAX) {
        char *whole = *reason;
        *reason = cm_strfmt("%.*s\xe2\x80\xa6", (int)cm_utf8_prefix(whole, WALLET_REASON_MAX - 1),
                            whole); // U+2026 HORIZONTAL ELLIPSIS
        free(whole);
    }
    ar->id = (char *)c->customer_id;
    ar->kind = CRM__WALLET_KIND__WALLET_KIND_MONEY;
    ar->amount = c->amount;
    ar->reason = *reason;
    ar->source = !strcmp(c->source, "booking") ? CRM__WALLET_SOURCE__WALLET_SOURCE_BOOKING
                                               : CRM__WALLET_SOURCE__WALLET_SOURCE_STORE;
    ar->reference = c->reference;
}

bool notes_credit_record(cm_db_t *db, struct notes_return_credit *c, Crm__Status status,
                         const char *message, const Crm__WalletEntry *entry)
{
    cm_err_t err = CM_OK;
    switch (notes_credit_judge(status)) {
    case NOTES_CREDIT_DONE:
        err = notes_purchases_store_credit_settle(db, c->tenant, c->id, "DONE",
                                                  entry ? entry->id : "", "");
        snprintf(c->state, sizeof c->state, "DONE");
        break;
    case NOTES_CREDIT_FAILED:
        cm_log_warn("customers refused the credit of return %s: %s", c->id, message);
        err = notes_purchases_store_credit_settle(db, c->tenant, c->id, "FAILED", "", message);
        snprintf(c->state, sizeof c->state, "FAILED");
        free(c->error);
        c->error = cm_strdup(message);
        break;
    case NOTES_CREDIT_RETRY:
        cm_log_info("credit of return %s not made yet (%s): tried again later", c->id, message);
        err = notes_purchases_store_credit_later(db, c->tenant, c->id,
                                                 notes_credit_delay_s(c->attempts + 1));
        break;
    }
    if (err)
        cm_log_warn("could not record the credit of return %s: %s", c->id, cm_db_error(db));
    return !err;
}

/* ---------------------------------------------------------------------- */
/* The worker                                                              */

static struct {
    void *zctx;               // borrowed (cm_svc)
    const char *bus_endpoint; // borrowed (cm_svc)
    const char *database_url; // borrowed (config)
    const char *db_role;      // borrowed (config)
    long poll_ms;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stopping; // under mu
} s_w = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* One more try of a claimed credit, as the notes service acting for the
 * staff member who made the return. */
static void s_try(cm_db_t *db, cm_mdp_client_t *client, struct notes_return_credit *c)
{
    cm_err_t err = cm_db_use_tenant(db, c->tenant);
    if (!err)
        err = notes_purchases_store_credit_load(db, c);
    if (err || strcmp(c->state, "PENDING"))
        return; /* settled meanwhile, or the database is away: the next round */
    Crm__AdjustWalletRequest ar;
    char *reason = NULL;
    notes_credit_request(c, &ar, &reason);
    Crm__Principal who = CRM__PRINCIPAL__INIT;
    who.id = "notes:return-credit";
    who.name = c->by[0] ? c->by : "notes";
    who.role = CRM__ROLE__ROLE_SERVICE;
    who.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    /* Each try a request id of its own: the broker takes a repeated one for
     * a retry of the same request. */
    char rid[40];
    snprintf(rid, sizeof rid, "credit.%.8s.%d.%lld", c->id, c->attempts,
             (long long)(cm_now_ms() % 1000000000));
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.request_id = rid;
    h.tenant_id = c->tenant;
    h.principal = &who;
    h.method = "customers.AdjustWallet";
    h.channel = "notes";
    h.deadline_unix_ms = cm_now_ms() + CALL_MS;
    Crm__ReplyHeader *rh = NULL;
    ProtobufCMessage *resp = NULL;
    err = cm_svc_call(client, "customers", &h, &ar.base, &crm__wallet_entry_response__descriptor,
                      CALL_MS, &rh, &resp);
    free(reason);
    /* cm_svc_call answers CM_OK only with rh; testing both says so here. */
    Crm__Status st = !err && rh ? rh->status : CRM__STATUS__STATUS_UNAVAILABLE;
    const Crm__WalletEntryResponse *r = (const Crm__WalletEntryResponse *)resp;
    notes_credit_record(db, c, st, !err && rh ? rh->message : "customers did not answer",
                        r ? r->entry : NULL);
    if (!strcmp(c->state, "DONE"))
        cm_log_info("credited return %s after %d attempts", c->id, c->attempts + 1);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
}

static void *s_main(void *arg)
{
    (void)arg;
    cm_db_t *db = cm_db_new(s_w.database_url, s_w.db_role);
    cm_mdp_client_t *client = cm_mdp_client_new(s_w.zctx, s_w.bus_endpoint);
    for (;;) {
        struct notes_return_credit claims[CLAIM_MAX];
        int n = 0;
        cm_err_t err = cm_db_connect(db);
        if (!err)
            err = cm_db_use_tenant(db, NULL);
        if (!err)
            err = notes_purchases_store_credit_claim(db, CLAIM_MAX, LEASE_S, claims, &n);
        if (err)
            cm_log_warn("could not look for pending credits: %s", cm_db_error(db));
        /* A claim left untried at a stop is due again after its lease (a nap
         * of 0 ms only asks whether to go on). */
        for (int i = 0; i < n && cm_nap(&s_w.mu, &s_w.wake, &s_w.stopping, 0); i++)
            s_try(db, client, &claims[i]);
        for (int i = 0; i < n; i++)
            notes_return_credit_release(&claims[i]);
        if (!cm_nap(&s_w.mu, &s_w.wake, &s_w.stopping,
                    n == CLAIM_MAX ? 0 : (err ? 2000 : s_w.poll_ms)))
            break;
    }
    cm_mdp_client_destroy(&client);
    cm_db_destroy(&db);
    return NULL;
}

void notes_credits_start(cm_svc_t *svc, const char *database_url, const char *db_role, long poll_ms)
{
    s_w.zctx = cm_svc_zctx(svc);
    s_w.bus_endpoint = cm_svc_bus_endpoint(svc);
    s_w.database_url = database_url;
    s_w.db_role = db_role;
    s_w.poll_ms = poll_ms;
    s_w.stopping = false;
    s_w.started = !pthread_create(&s_w.thread, NULL, s_main, NULL);
    if (!s_w.started)
        cm_log_error("could not start the credit worker");
}

void notes_credits_stop(void)
{
    pthread_mutex_lock(&s_w.mu);
    s_w.stopping = true;
    pthread_cond_broadcast(&s_w.wake);
    pthread_mutex_unlock(&s_w.mu);
    if (s_w.started)
        pthread_join(s_w.thread, NULL);
    s_w.started = false;
}
