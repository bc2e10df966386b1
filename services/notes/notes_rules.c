/* Automation rules: the bus methods, and the worker that runs the actions.
 *
 * The trigger on notes.timeline (sql/025_rules.sql) records an event that
 * starts a rule in the transaction that records the event; this file's worker
 * threads (CRM_NOTES_RULE_THREADS per copy) turn it into a run per rule
 * afterwards, claim the runs and act, so the intake never waits for a rule.
 * The worker calls customers and notify as the rule itself (a SERVICE
 * principal named "rule: <name>"), so the audit and the timeline say who did
 * it; the timeline's trigger starts no rule for a row of such an actor. */
#include "notes_rules.h"
#include "notes_rules_eval.h"
#include "notes_rules_store.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "notify.pb-c.h"
#include "rules.pb-c.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TENANT(call) ((call)->hdr->tenant_id)
#define RUNS_PAGE_DEFAULT 50
#define RUNS_PAGE_MAX 200
/* A customer call's wait: under the broker's worker liveness, as elsewhere. */
#define CALL_TIMEOUT_MS 2500
/* Runs claimed at once, and how long a claim holds: longer than a batch's
 * calls can take (8 runs x 5 actions x 2 calls x the timeout). */
#define CLAIM_MAX 8
/* Events turned into runs at once. */
#define EXPAND_MAX 64
#define LEASE_S 300
#define RETRY_MAX_MS 3600000L
/* The dry run: customers looked at, and matches answered, at most. */
#define DRY_RUN_SCAN_MAX 2000
#define DRY_RUN_PAGE 200
#define DRY_RUN_MATCHES_MAX 100
#define SPENT_MAX 16

/* ---------------------------------------------------------------------- */
/* Methods                                                                 */

/* A copy of r as a message of its own (the caller frees it). */
static Crm__Rule *s_copy(const Crm__Rule *r)
{
    size_t len = crm__rule__get_packed_size(r);
    uint8_t *buf = cm_malloc(len + 1);
    crm__rule__pack(r, buf);
    Crm__Rule *c = crm__rule__unpack(NULL, len, buf);
    free(buf);
    return c;
}

/* Fails the call for a store error about rule id (none: false): 404 naming
 * it, 409 on rule.name for a name in use (name), else the database's. */
static bool s_store_failed(struct cm_call *call, cm_err_t err, const char *id, const char *name,
                           const char *what)
{
    if (err == CM_ERR_NOT_FOUND)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no rule %s", id);
    else if (err == CM_ERR_CONFLICT && name)
        cm_call_duplicate(call, "rule.name", "", "a rule named %s exists", name);
    else if (err)
        cm_call_db_fail(call, err, what);
    return err != CM_OK;
}

static void s_create(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__CreateRuleRequest *req = (const Crm__CreateRuleRequest *)msg;
    if (!notes_rules_check(call, req->rule))
        return;
    int n = 0;
    cm_err_t err = notes_rules_store_count(call->db, TENANT(call), &n);
    if (err) {
        cm_call_db_fail(call, err, "could not count the rules");
        return;
    }
    if (n >= NOTES_RULES_PER_BUSINESS) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "a business has at most %d rules",
                     NOTES_RULES_PER_BUSINESS);
        return;
    }
    Crm__Rule *r = s_copy(req->rule);
    err = notes_rules_store_insert(call->db, TENANT(call), r);
    if (s_store_failed(call, err, "", r->name, "could not store the rule")) {
        crm__rule__free_unpacked(r, NULL);
        return;
    }
    cm_log_info("rule %s created", r->id);
    *resp = &r->base;
}

static bool s_id_ok(struct cm_call *call, const char *id)
{
    if (!cm_uuid_valid(id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no rule %s", id);
        return false;
    }
    return true;
}

static void s_update(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__UpdateRuleRequest *req = (const Crm__UpdateRuleRequest *)msg;
    if (!s_id_ok(call, req->id) || !notes_rules_check(call, req->rule))
        return;
    Crm__Rule *r = s_copy(req->rule);
    cm_err_t err = notes_rules_store_update(call->db, TENANT(call), req->id, r);
    if (s_store_failed(call, err, req->id, r->name, "could not store the rule")) {
        crm__rule__free_unpacked(r, NULL);
        return;
    }
    cm_log_info("rule %s updated enabled=%d", r->id, (int)r->enabled);
    *resp = &r->base;
}

static void s_delete(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__DeleteRuleRequest *req = (const Crm__DeleteRuleRequest *)msg;
    if (!s_id_ok(call, req->id))
        return;
    cm_err_t err = notes_rules_store_delete(call->db, TENANT(call), req->id);
    if (!s_store_failed(call, err, req->id, NULL, "could not delete the rule"))
        *resp = cm_pb_new(&crm__empty__descriptor);
}

static void s_get(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetRuleRequest *req = (const Crm__GetRuleRequest *)msg;
    if (!s_id_ok(call, req->id))
        return;
    Crm__Rule *r = NULL;
    cm_err_t err = notes_rules_store_get(call->db, TENANT(call), req->id, true, &r);
    if (!s_store_failed(call, err, req->id, NULL, "could not read the rule"))
        *resp = &r->base;
}

static void s_list(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    (void)msg;
    Crm__ListRulesResponse *r =
        (Crm__ListRulesResponse *)cm_pb_new(&crm__list_rules_response__descriptor);
    cm_err_t err = notes_rules_store_list(call->db, TENANT(call), r);
    if (err) {
        cm_call_db_fail(call, err, "could not read the rules");
        crm__list_rules_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

/* A runs page token: "<microseconds>_<timeline id>". */
static bool s_token_ok(const char *tok)
{
    const char *sep = strchr(tok, '_');
    if (!sep || sep == tok || sep - tok > 19 || !cm_uuid_valid(sep + 1))
        return false;
    for (const char *p = tok; p < sep; p++)
        if (!cm_ascii_digit((unsigned char)*p))
            return false;
    return true;
}

static void s_runs(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ListRuleRunsRequest *req = (const Crm__ListRuleRunsRequest *)msg;
    if (!s_id_ok(call, req->id))
        return;
    if (req->page_size < 0 || req->page_size > RUNS_PAGE_MAX)
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize must be 0..%d",
                          RUNS_PAGE_MAX);
    if (req->page_token[0] && !s_token_ok(req->page_token))
        cm_call_violation(call, "pageToken", "INVALID_FORMAT",
                          "pageToken is not one this service gave out");
    if (cm_call_failed(call))
        return;
    Crm__Rule *rule = NULL;
    cm_err_t err = notes_rules_store_get(call->db, TENANT(call), req->id, false, &rule);
    if (s_store_failed(call, err, req->id, NULL, "could not read the rule"))
        return;
    if (rule)
        crm__rule__free_unpacked(rule, NULL);
    Crm__ListRuleRunsResponse *r =
        (Crm__ListRuleRunsResponse *)cm_pb_new(&crm__list_rule_runs_response__descriptor);
    char next[96];
    err = notes_rules_store_runs(
        call->db, TENANT(call), req->id, req->page_token[0] ? req->page_token : NULL,
        req->page_size ? req->page_size : RUNS_PAGE_DEFAULT, r, next, sizeof next);
    if (err) {
        cm_call_db_fail(call, err, "could not read the rule's runs");
        crm__list_rule_runs_response__free_unpacked(r, NULL);
        return;
    }
    cm_pb_set_str(&r->next_page_token, next);
    *resp = &r->base;
}

/* ---- Dry run ------------------------------------------------------------ */

/* The facts of customer c (tags, groups, source; the figures when the rule
 * needs them) into f. */
static cm_err_t s_facts(cm_db_t *db, const char *tenant, const Crm__Rule *rule,
                        const Crm__Customer *c, struct notes_rule_facts *f,
                        struct notes_rule_spent *spent)
{
    memset(f, 0, sizeof *f);
    f->tags = (const char *const *)c->tags;
    f->n_tags = c->n_tags;
    f->groups = (const char *const *)c->groups;
    f->n_groups = c->n_groups;
    f->source = (int)c->source;
    if (!notes_rules_needs_figures(rule))
        return CM_OK;
    return notes_rules_store_figures(db, tenant, c->id, f, spent, SPENT_MAX);
}

static char *s_display_name(const Crm__Customer *c)
{
    if (c->first_name[0] || c->last_name[0])
        return cm_strfmt("%s%s%s", c->first_name, c->first_name[0] && c->last_name[0] ? " " : "",
                         c->last_name);
    if (c->company && c->company->name[0])
        return cm_strdup(c->company->name);
    return cm_strdup(c->email);
}

/* The tag or group the rule's conditions name first, to narrow the pages of
 * customers read (customers.ListCustomers filters on one of each). */
static void s_narrow(const Crm__Rule *r, Crm__ListCustomersRequest *lr)
{
    for (size_t i = 0; i < r->n_conditions; i++) {
        const Crm__RuleCondition *c = r->conditions[i];
        if (c->kind == CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_TAG && !lr->tag[0])
            lr->tag = c->value;
        if (c->kind == CRM__RULE_CONDITION_KIND__RULE_CONDITION_IN_GROUP && !lr->group[0])
            lr->group = c->value;
    }
}

/* Reads customers page by page (as the caller) and keeps those the rule's
 * conditions hold for. */
static void s_dry_scan(struct cm_call *call, const Crm__Rule *rule, Crm__DryRunRuleResponse *out)
{
    Crm__ListCustomersRequest lr = CRM__LIST_CUSTOMERS_REQUEST__INIT;
    lr.page_size = DRY_RUN_PAGE;
    lr.order_by = "createdAt";
    s_narrow(rule, &lr);
    char *token = cm_strdup("");
    int64_t now = cm_now_ms();
    out->matches = cm_calloc(DRY_RUN_MATCHES_MAX + 1, sizeof *out->matches);
    out->complete = false;
    while (out->scanned < DRY_RUN_SCAN_MAX && out->n_matches < DRY_RUN_MATCHES_MAX) {
        lr.page_token = token;
        Crm__ReplyHeader *rh = NULL;
        ProtobufCMessage *resp = NULL;
        cm_err_t err =
            cm_call_service(call, "customers", "customers.ListCustomers", NULL, &lr.base,
                            &crm__list_customers_response__descriptor, CALL_TIMEOUT_MS, &rh, &resp);
        if (err || rh->status != CRM__STATUS__STATUS_OK) {
            cm_call_fail(call, CM_ERR_UNAVAILABLE, "customers did not answer; try again");
        } else {
            const Crm__ListCustomersResponse *page = (const Crm__ListCustomersResponse *)resp;
            for (size_t i = 0; i < page->n_customers && out->n_matches < DRY_RUN_MATCHES_MAX; i++) {
                struct notes_rule_facts f;
                struct notes_rule_spent spent[SPENT_MAX];
                const Crm__Customer *c = page->customers[i];
                out->scanned++;
                if (s_facts(call->db, TENANT(call), rule, c, &f, spent)) {
                    cm_call_db_fail(call, CM_ERR_UNAVAILABLE, "could not read the figures");
                    break;
                }
                if (!notes_rules_holds(rule, &f, now))
                    continue;
                Crm__DryRunMatch *m =
                    (Crm__DryRunMatch *)cm_pb_new(&crm__dry_run_match__descriptor);
                cm_pb_set_str(&m->customer_id, c->id);
                char *name = s_display_name(c);
                cm_pb_set_str(&m->name, name);
                free(name);
                out->matches[out->n_matches++] = m;
            }
            free(token);
            token = cm_strdup(page->next_page_token);
            out->complete = !token[0];
        }
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        if (rh)
            crm__reply_header__free_unpacked(rh, NULL);
        if (cm_call_failed(call) || out->complete)
            break;
    }
    free(token);
}

static void s_dry_run(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__DryRunRuleRequest *req = (const Crm__DryRunRuleRequest *)msg;
    Crm__Rule *stored = NULL;
    const Crm__Rule *rule = req->rule;
    if (req->id[0]) {
        if (!s_id_ok(call, req->id))
            return;
        cm_err_t err = notes_rules_store_get(call->db, TENANT(call), req->id, false, &stored);
        if (s_store_failed(call, err, req->id, NULL, "could not read the rule"))
            return;
        rule = stored;
    } else if (!notes_rules_check_conditions(call, rule)) {
        return;
    }
    Crm__DryRunRuleResponse *r =
        (Crm__DryRunRuleResponse *)cm_pb_new(&crm__dry_run_rule_response__descriptor);
    s_dry_scan(call, rule, r);
    if (stored)
        crm__rule__free_unpacked(stored, NULL);
    if (cm_call_failed(call)) {
        crm__dry_run_rule_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

#define M(name, req, resp, fn, flags) CM_METHOD("notes", name, req, resp, fn, flags, SETTINGS)

const struct cm_method notes_rules_methods[] = {
    M("CreateRule", create_rule_request, rule, s_create, CM_METHOD_WRITE),
    M("GetRule", get_rule_request, rule, s_get, CM_METHOD_NO_TXN),
    M("UpdateRule", update_rule_request, rule, s_update, CM_METHOD_WRITE),
    M("DeleteRule", delete_rule_request, empty, s_delete, CM_METHOD_WRITE),
    M("ListRules", list_rules_request, list_rules_response, s_list, CM_METHOD_NO_TXN),
    /* It calls customers page by page: no transaction held meanwhile. */
    M("DryRunRule", dry_run_rule_request, dry_run_rule_response, s_dry_run, CM_METHOD_NO_TXN),
    M("ListRuleRuns", list_rule_runs_request, list_rule_runs_response, s_runs, CM_METHOD_NO_TXN),
};
const size_t notes_rules_n_methods = sizeof notes_rules_methods / sizeof *notes_rules_methods;

/* ---------------------------------------------------------------------- */
/* The worker                                                              */

static struct {
    const struct notes_rules_cfg *cfg; // borrowed (main)
    void *zctx;                        // borrowed (cm_svc)
    pthread_t threads[NOTES_RULES_THREADS_MAX];
    long n_started;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stopping; // under mu
} s_w = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* One run in progress. */
struct s_job {
    cm_db_t *db;             // borrowed (the thread's)
    cm_mdp_client_t *client; // borrowed (the thread's)
    struct notes_rule_claim claim;
    struct notes_rule_run run;
    Crm__Rule *rule;         // owned
    Crm__Customer *customer; // owned: as the last call left it
    Crm__Principal who;      // the rule as principal
    char who_id[64];
    char *who_name;    // owned
    char result[1024]; // what each action did, "; " between
    json_t *outcomes;  // owned: [{"code", "value"}, ...], the same as data
    unsigned calls;
};

/* Records what happened: the outcome's code and value (the UI words it in the
 * reader's language; docs/rules.md lists the codes) and the same in English
 * in the run's result. */
static void s_out(struct s_job *j, const char *code, const char *value, const char *fmt, ...)
    CM_PRINTF(4, 5);
static void s_out(struct s_job *j, const char *code, const char *value, const char *fmt, ...)
{
    json_array_append_new(j->outcomes, json_pack("{s:s, s:s}", "code", code, "value", value));
    size_t len = strlen(j->result);
    if (len && len + 2 < sizeof j->result) {
        memcpy(j->result + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->result + len, sizeof j->result - len, fmt, ap);
    va_end(ap);
}

/* Calls service's method as the rule. Returns the reply's status (and *resp
 * for OK), or STATUS_UNAVAILABLE when there was no answer. */
static Crm__Status s_call(struct s_job *j, const char *service, const char *method,
                          const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
                          const char *key, char *message, size_t msize, ProtobufCMessage **resp)
{
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    char rid[40];
    snprintf(rid, sizeof rid, "rule.%.8s.%.8s.%u", j->claim.rule_id, j->claim.timeline_id,
             j->calls++);
    h.request_id = rid;
    h.tenant_id = j->claim.tenant;
    h.principal = &j->who;
    h.method = (char *)method;
    h.channel = "rule";
    h.deadline_unix_ms = cm_now_ms() + CALL_TIMEOUT_MS;
    if (key)
        h.idempotency_key = (char *)key;
    Crm__ReplyHeader *rh = NULL;
    *resp = NULL;
    cm_err_t err = cm_svc_call(j->client, service, &h, req, desc, CALL_TIMEOUT_MS, &rh, resp);
    Crm__Status st = CRM__STATUS__STATUS_UNAVAILABLE;
    if (err) {
        snprintf(message, msize, "%s did not answer (%s)", service, cm_err_name(err));
    } else {
        st = rh->status;
        snprintf(message, msize, "%s", rh->message);
    }
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    return st;
}

/* Reads the customer. Returns 1 found, 0 gone, -1 failed (noted). */
static int s_read_customer(struct s_job *j)
{
    Crm__GetCustomerRequest req = CRM__GET_CUSTOMER_REQUEST__INIT;
    req.id = j->run.customer_id;
    char msg[256];
    ProtobufCMessage *resp = NULL;
    Crm__Status st = s_call(j, "customers", "customers.GetCustomer", &req.base,
                            &crm__customer__descriptor, NULL, msg, sizeof msg, &resp);
    if (st == CRM__STATUS__STATUS_OK && resp) {
        if (j->customer)
            crm__customer__free_unpacked(j->customer, NULL);
        j->customer = (Crm__Customer *)resp;
        return 1;
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (st == CRM__STATUS__STATUS_NOT_FOUND)
        return 0;
    s_out(j, "FAILED", msg, "could not read the customer: %s", msg);
    return -1;
}

/* The outcome of a tag or group edit: changed, or nothing to change. */
static void s_edit_out(struct s_job *j, bool groups, bool add, bool changed, const char *value)
{
    if (groups)
        s_out(j, changed ? "GROUP_ADDED" : "GROUP_ALREADY", value, "%s %s",
              changed ? "added to group" : "already in group", value);
    else if (add)
        s_out(j, changed ? "TAG_ADDED" : "TAG_ALREADY", value, "tag %s %s", value,
              changed ? "added" : "was there already");
    else
        s_out(j, changed ? "TAG_REMOVED" : "TAG_NOT_THERE", value, "tag %s %s", value,
              changed ? "removed" : "was not there");
}

/* The number of times a list's write is tried again on a customer that
 * changed meanwhile (another rule, staff, the intake), within one attempt. */
#define EDIT_TRIES 4

/* Adds value to (add) or takes it from the customer's tags, or adds it to
 * the groups (groups), as the rule, with the customer's etag: a customer
 * that changed since it was read is read again and the edit made anew. */
static bool s_edit(struct s_job *j, bool groups, const char *value, bool add)
{
    const char *field = groups ? "groups" : "tags";
    char msg[256] = "";
    for (int t = 0; t < EDIT_TRIES; t++) {
        char **list = NULL;
        size_t n = 0;
        char **have = groups ? j->customer->groups : j->customer->tags;
        size_t n_have = groups ? j->customer->n_groups : j->customer->n_tags;
        if (!notes_rules_tags_edit(have, n_have, value, add, &list, &n)) {
            s_edit_out(j, groups, add, false, value);
            return true;
        }
        Crm__Customer c = CRM__CUSTOMER__INIT;
        char *mask[] = {(char *)field};
        if (groups) {
            c.groups = list;
            c.n_groups = n;
        } else {
            c.tags = list;
            c.n_tags = n;
        }
        Crm__UpdateCustomerRequest req = CRM__UPDATE_CUSTOMER_REQUEST__INIT;
        req.id = j->customer->id;
        req.customer = &c;
        req.update_mask = mask;
        req.n_update_mask = 1;
        req.etag = j->customer->etag;
        ProtobufCMessage *resp = NULL;
        Crm__Status st = s_call(j, "customers", "customers.UpdateCustomer", &req.base,
                                &crm__customer__descriptor, NULL, msg, sizeof msg, &resp);
        free(list);
        if (st == CRM__STATUS__STATUS_OK && resp) {
            crm__customer__free_unpacked(j->customer, NULL);
            j->customer = (Crm__Customer *)resp;
            s_edit_out(j, groups, add, true, value);
            return true;
        }
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        if (st != CRM__STATUS__STATUS_FAILED_PRECONDITION || s_read_customer(j) <= 0)
            break;
    }
    s_out(j, "FAILED", msg, "could not change %s: %s", field, msg);
    return false;
}

static bool s_granted(const Crm__Consent *c)
{
    return c && c->granted;
}

/* The e-mail, to a customer who may get it: a marketing one only with the
 * marketing and e-mail consents; a service one to anyone with an address.
 * Idempotent on the run and the action's place: a retry never sends twice. */
static bool s_email(struct s_job *j, const Crm__RuleAction *a, size_t index)
{
    const Crm__Customer *c = j->customer;
    const Crm__Preferences *p = c->preferences;
    if (a->marketing && (!p || !s_granted(p->marketing) || !s_granted(p->email))) {
        s_out(j, "EMAIL_NO_CONSENT", "", "e-mail not sent: no marketing consent");
        return true;
    }
    if (!c->email[0]) {
        s_out(j, "EMAIL_NO_ADDRESS", "", "e-mail not sent: no e-mail address");
        return true;
    }
    char *subject = notes_rules_fill(a->subject, c->first_name, c->last_name);
    char *text = notes_rules_fill(a->text, c->first_name, c->last_name);
    Crm__SendMessageRequest req = CRM__SEND_MESSAGE_REQUEST__INIT;
    req.customer_id = c->id;
    req.channel = CRM__CHANNEL__CHANNEL_EMAIL;
    req.subject = subject;
    req.text = text;
    char key[128], msg[256];
    snprintf(key, sizeof key, "rule:%s:%s:%zu", j->claim.rule_id, j->claim.timeline_id, index);
    ProtobufCMessage *resp = NULL;
    Crm__Status st = s_call(j, "notify", "notify.SendMessage", &req.base, &crm__message__descriptor,
                            key, msg, sizeof msg, &resp);
    free(subject);
    free(text);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (st == CRM__STATUS__STATUS_OK) {
        s_out(j, "EMAIL_QUEUED", a->subject, "e-mail queued");
        return true;
    }
    if (st == CRM__STATUS__STATUS_INVALID_ARGUMENT) {
        /* No address SMTP can carry: nothing a retry changes. */
        s_out(j, "EMAIL_REFUSED", msg, "e-mail not sent: %s", msg);
        return true;
    }
    s_out(j, "FAILED", msg, "could not send the e-mail: %s", msg);
    return false;
}

static bool s_act(struct s_job *j, const Crm__RuleAction *a, size_t index)
{
    switch (a->kind) {
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ADD_TAG:
        return s_edit(j, false, a->value, true);
    case CRM__RULE_ACTION_KIND__RULE_ACTION_REMOVE_TAG:
        return s_edit(j, false, a->value, false);
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ADD_TO_GROUP:
        return s_edit(j, true, a->value, true);
    case CRM__RULE_ACTION_KIND__RULE_ACTION_SEND_EMAIL:
        return s_email(j, a, index);
    default:
        s_out(j, "FAILED", "unknown action", "unknown action");
        return false;
    }
}

/* The run's work: returns the status to record ("DONE", "SKIPPED", or NULL
 * for a failure: the result says why). */
static const char *s_work(struct s_job *j)
{
    if (!j->rule->enabled) {
        s_out(j, "SWITCHED_OFF", "", "rule switched off");
        return "SKIPPED";
    }
    if (j->rule->trigger == CRM__RULE_TRIGGER__RULE_TRIGGER_TAG_ADDED &&
        !notes_rules_tag_added(j->run.details, j->rule->trigger_tag)) {
        s_out(j, "NOT_THE_TAG", j->rule->trigger_tag, "not the rule's tag");
        return "SKIPPED";
    }
    int found = s_read_customer(j);
    if (found <= 0) {
        if (found == 0)
            s_out(j, "CUSTOMER_DELETED", "", "customer deleted");
        return found == 0 ? "SKIPPED" : NULL;
    }
    struct notes_rule_facts f;
    struct notes_rule_spent spent[SPENT_MAX];
    if (s_facts(j->db, j->claim.tenant, j->rule, j->customer, &f, spent)) {
        s_out(j, "FAILED", "could not read the figures", "could not read the figures");
        return NULL;
    }
    if (!notes_rules_holds(j->rule, &f, cm_now_ms())) {
        s_out(j, "CONDITIONS_NOT_MET", "", "conditions did not hold");
        return "SKIPPED";
    }
    for (size_t i = 0; i < j->rule->n_actions; i++)
        if (!s_act(j, j->rule->actions[i], i))
            return NULL;
    return "DONE";
}

static void s_run_one(struct s_job *j)
{
    cm_err_t err = cm_db_use_tenant(j->db, j->claim.tenant);
    if (!err)
        err = notes_rules_store_run_load(j->db, &j->claim, &j->run);
    if (!err)
        err = notes_rules_store_get(j->db, j->claim.tenant, j->claim.rule_id, false, &j->rule);
    if (err) {
        if (err != CM_ERR_NOT_FOUND)
            cm_log_warn("could not load rule run: %s", cm_db_error(j->db));
        return; /* the lease brings it back; a deleted rule took its runs */
    }
    snprintf(j->who_id, sizeof j->who_id, "rule:%s", j->claim.rule_id);
    j->who_name = cm_strfmt("rule: %s", j->rule->name);
    crm__principal__init(&j->who);
    j->who.id = j->who_id;
    j->who.name = j->who_name;
    j->who.role = CRM__ROLE__ROLE_SERVICE;
    j->who.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    const char *status = s_work(j);
    long retry = 0;
    if (!status) {
        int attempt = j->run.attempts + 1;
        if (attempt >= s_w.cfg->attempts) {
            status = "FAILED";
        } else {
            status = "PENDING";
            retry = s_w.cfg->retry_ms;
            for (int i = 1; i < attempt && retry < RETRY_MAX_MS; i++)
                retry *= 2;
            if (retry > RETRY_MAX_MS)
                retry = RETRY_MAX_MS;
        }
        cm_log_warn("rule %s run failed attempt=%d: %s", j->claim.rule_id, attempt, j->result);
    }
    char *outcomes = json_dumps(j->outcomes, JSON_COMPACT);
    err = notes_rules_store_run_end(j->db, &j->claim, status, j->result, outcomes, retry);
    free(outcomes);
    if (err == CM_ERR_CONFLICT)
        cm_log_warn("rule %s run's lease ran out before it ended", j->claim.rule_id);
    else if (err)
        cm_log_warn("could not record rule run: %s", cm_db_error(j->db));
    else
        cm_log_info("rule %s run %s", j->claim.rule_id, status);
}

static void s_job_release(struct s_job *j)
{
    json_decref(j->outcomes);
    free(j->run.details);
    free(j->who_name);
    if (j->rule)
        crm__rule__free_unpacked(j->rule, NULL);
    if (j->customer)
        crm__customer__free_unpacked(j->customer, NULL);
}

static bool s_stopping(void)
{
    pthread_mutex_lock(&s_w.mu);
    bool stopping = s_w.stopping;
    pthread_mutex_unlock(&s_w.mu);
    return stopping;
}

static void *s_main(void *arg)
{
    (void)arg;
    cm_db_t *db = cm_db_new(s_w.cfg->database_url, s_w.cfg->db_role);
    cm_mdp_client_t *client = cm_mdp_client_new(s_w.zctx, s_w.cfg->bus_endpoint);
    for (;;) {
        struct notes_rule_claim claims[CLAIM_MAX];
        int n = 0, expanded = 0;
        cm_err_t err = cm_db_connect(db);
        if (!err)
            err = cm_db_use_tenant(db, NULL);
        if (!err)
            err = notes_rules_store_expand(db, EXPAND_MAX, &expanded);
        if (!err)
            err = notes_rules_store_claim(db, CLAIM_MAX, LEASE_S, claims, &n);
        if (err)
            cm_log_warn("could not look for rule runs: %s", cm_db_error(db));
        for (int i = 0; i < n; i++) {
            if (s_stopping()) {
                /* Not run: left to any copy now, not after the lease. */
                if (cm_db_use_tenant(db, claims[i].tenant) ||
                    notes_rules_store_release(db, &claims[i]))
                    cm_log_warn("could not give a rule run back: %s", cm_db_error(db));
                continue;
            }
            struct s_job j = {
                .db = db, .client = client, .claim = claims[i], .outcomes = json_array()};
            s_run_one(&j);
            s_job_release(&j);
        }
        if (!cm_nap(&s_w.mu, &s_w.wake, &s_w.stopping,
                    n == CLAIM_MAX || expanded == EXPAND_MAX ? 0 : (err ? 2000 : s_w.cfg->poll_ms)))
            break;
    }
    cm_mdp_client_destroy(&client);
    cm_db_destroy(&db);
    return NULL;
}

void notes_rules_start(cm_svc_t *svc, const struct notes_rules_cfg *cfg)
{
    s_w.cfg = cfg;
    s_w.zctx = cm_svc_zctx(svc);
    s_w.stopping = false;
    s_w.n_started = 0;
    for (long i = 0; i < cfg->threads; i++) {
        if (pthread_create(&s_w.threads[i], NULL, s_main, NULL)) {
            cm_log_error("could not start rules worker %ld", i);
            break;
        }
        s_w.n_started++;
    }
}

void notes_rules_stop(void)
{
    pthread_mutex_lock(&s_w.mu);
    s_w.stopping = true;
    pthread_cond_broadcast(&s_w.wake);
    pthread_mutex_unlock(&s_w.mu);
    for (long i = 0; i < s_w.n_started; i++)
        pthread_join(s_w.threads[i], NULL);
    s_w.n_started = 0;
}
