/* Automation rules: the worker threads that run the rules' actions.
 *
 * The trigger on notes.timeline (sql/025_rules.sql) records an event that
 * starts a rule in the transaction that records the event; these threads
 * (CRM_NOTES_RULE_THREADS per copy) turn it into a run per rule afterwards,
 * claim the runs and act, so the intake never waits for a rule. They call
 * customers and notify as the rule itself (a SERVICE principal named
 * "rule: <name>"), so the audit and the timeline say who did it; the
 * timeline's trigger starts no rule for a row of such an actor. */
#include "notes_rules.h"
#include "notes_rules_eval.h"
#include "notes_rules_store.h"
#include "notes_orders_store.h"
#include "notes_zone.h"
#include "cm_log.h"
#include "cm_mdp.h"
#include "cm_money.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "notify.pb-c.h"
#include "rules.pb-c.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

/* Runs claimed at once, and how long a claim holds: longer than a batch's
 * calls can take (8 runs x 5 actions x 2 calls x the timeout). */
#define CLAIM_MAX 8
/* Events turned into runs at once. */
#define EXPAND_MAX 64
#define LEASE_S 300
#define RETRY_MAX_MS 3600000L

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
    char *who_name;                // owned
    char result[1024];             // what each action did, "; " between
    struct notes_rule_order order; // the Orders bot's: the order that started the rule
    json_t *outcomes;              // owned: [{"code", "value"}, ...], the same as data
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
    h.deadline_unix_ms = cm_now_ms() + NOTES_RULES_CALL_MS;
    if (key)
        h.idempotency_key = (char *)key;
    Crm__ReplyHeader *rh = NULL;
    *resp = NULL;
    cm_err_t err = cm_svc_call(j->client, service, &h, req, desc, NOTES_RULES_CALL_MS, &rh, resp);
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

/* customers.GetSettings as the rule, for the business's time zone
 * (notes_zone_ask_fn). */
static bool s_ask_zone(void *ctx, const char *tenant, char zone[NOTES_ZONE_SIZE])
{
    struct s_job *j = ctx;
    (void)tenant; /* the job's own */
    Crm__GetSettingsRequest req = CRM__GET_SETTINGS_REQUEST__INIT;
    char msg[256];
    ProtobufCMessage *resp = NULL;
    Crm__Status st = s_call(j, "customers", "customers.GetSettings", &req.base,
                            &crm__settings__descriptor, NULL, msg, sizeof msg, &resp);
    bool ok = st == CRM__STATUS__STATUS_OK && resp;
    if (ok)
        snprintf(zone, NOTES_ZONE_SIZE, "%s", ((const Crm__Settings *)resp)->time_zone);
    else
        cm_log_warn("customers.GetSettings: %s", msg);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return ok;
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
    req.marketing = a->marketing; /* notify adds the unsubscribe headers and link */
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

/* ---- The Orders bot ---------------------------------------------------- */

/* An order action's instruction (HOLD, PRIORITY, NOTE): written with its
 * timeline row and its order.instruction event once per (rule, event,
 * action); a retry finds it written and changes nothing. */
static bool s_instruct(struct s_job *j, const Crm__RuleAction *a, size_t index)
{
    const char *kind = notes_rules_instruction_kind(a->kind);
    const Crm__Customer *c = j->customer;
    bool note = a->kind == CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTE;
    char *value =
        note ? notes_rules_fill(a->text, c->first_name, c->last_name) : cm_strdup(a->value);
    Crm__OrderInstruction ins = CRM__ORDER_INSTRUCTION__INIT;
    ins.customer_id = c->id;
    ins.order_source = j->order.source;
    ins.order_id = j->order.id;
    ins.kind = (char *)kind;
    ins.value = value;
    ins.rule_id = j->claim.rule_id;
    ins.rule_name = j->rule->name;
    ins.event_id = j->order.event_id;
    char rid[64];
    snprintf(rid, sizeof rid, "rule.%.8s.%.8s.%zu", j->claim.rule_id, j->claim.timeline_id, index);
    bool written = false;
    cm_err_t err = notes_orders_store_instruct(j->db, j->claim.tenant, j->claim.timeline_id,
                                               (int)index, &ins, &j->who, rid, &written);
    /* The store set ins.id and ins.created_at to copies of its own. */
    cm_pb_set_str(&ins.id, NULL);
    cm_pb_set_str(&ins.created_at, NULL);
    bool ok = !err;
    char code[32];
    snprintf(code, sizeof code, "ORDER_%s", kind);
    if (ok)
        s_out(j, code, value, "order %s %s: %s%s", j->order.id, kind, note ? "note" : value,
              written ? "" : " (written before)");
    else
        s_out(j, "FAILED", "could not write the order instruction",
              "could not write the order instruction: %s", cm_db_error(j->db));
    free(value);
    return ok;
}

/* The text of a staff e-mail: the rule's, filled, and the order it is about,
 * its total with its currency's minor digits ("1234 JPY", "12.345 KWD"). */
static char *s_staff_text(const struct s_job *j, const Crm__RuleAction *a)
{
    const Crm__Customer *c = j->customer;
    char *text = notes_rules_fill(a->text, c->first_name, c->last_name);
    char total[CM_MONEY_TEXT_SIZE];
    cm_money_text(j->order.total_minor, j->order.currency, total, sizeof total);
    char *full =
        cm_strfmt("%s\n\n--\norder %s (%s), %s\ncustomer %s %s <%s> (%s)\n", text, j->order.id,
                  j->order.source, total, c->first_name, c->last_name, c->email, c->id);
    free(text);
    return full;
}

/* Queues one staff e-mail through notify.SendStaffNotice, idempotent on the
 * run, the action and the address. OK, or false with the failure noted. */
static bool s_staff_mail(struct s_job *j, const Crm__RuleAction *a, size_t index, const char *email,
                         const char *name)
{
    const Crm__Customer *c = j->customer;
    char *subject = notes_rules_fill(a->subject, c->first_name, c->last_name);
    char *text = s_staff_text(j, a);
    Crm__SendStaffNoticeRequest req = CRM__SEND_STAFF_NOTICE_REQUEST__INIT;
    req.email = (char *)email;
    req.name = (char *)name;
    req.subject = subject;
    req.text = text;
    char key[400], msg[256];
    snprintf(key, sizeof key, "rule:%s:%s:%zu:%s", j->claim.rule_id, j->claim.timeline_id, index,
             email);
    ProtobufCMessage *resp = NULL;
    Crm__Status st = s_call(j, "notify", "notify.SendStaffNotice", &req.base,
                            &crm__message__descriptor, key, msg, sizeof msg, &resp);
    free(subject);
    free(text);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (st == CRM__STATUS__STATUS_OK)
        return true;
    s_out(j, "FAILED", msg, "could not e-mail staff %s: %s", email, msg);
    return false;
}

/* ORDER_NOTIFY_STAFF: the address, or every active member of the role. */
static bool s_notify_staff(struct s_job *j, const Crm__RuleAction *a, size_t index)
{
    const char *role = notes_rules_role_name(a->staff_role);
    if (a->staff_email[0]) {
        if (!s_staff_mail(j, a, index, a->staff_email, ""))
            return false;
        s_out(j, "STAFF_NOTIFIED", a->staff_email, "staff e-mailed: %s", a->staff_email);
        return true;
    }
    Crm__ListStaffRequest req = CRM__LIST_STAFF_REQUEST__INIT;
    char msg[256];
    ProtobufCMessage *resp = NULL;
    Crm__Status st = s_call(j, "customers", "customers.ListStaffInternal", &req.base,
                            &crm__list_staff_response__descriptor, NULL, msg, sizeof msg, &resp);
    if (st != CRM__STATUS__STATUS_OK || !resp) {
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        s_out(j, "FAILED", msg, "could not read the staff: %s", msg);
        return false;
    }
    const Crm__ListStaffResponse *staff = (const Crm__ListStaffResponse *)resp;
    int sent = 0;
    bool ok = true;
    for (size_t i = 0; i < staff->n_staff && ok; i++) {
        const Crm__Staff *m = staff->staff[i];
        if (m->role != a->staff_role || m->status != CRM__STAFF_STATUS__STAFF_STATUS_ACTIVE)
            continue;
        ok = s_staff_mail(j, a, index, m->email, m->name);
        sent += ok;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    if (!ok)
        return false;
    if (sent)
        s_out(j, "STAFF_NOTIFIED", role, "staff e-mailed: %d of %s", sent, role);
    else
        s_out(j, "STAFF_NONE", role, "no active staff of %s to e-mail", role);
    return true;
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
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_HOLD:
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_PRIORITY:
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTE:
        return s_instruct(j, a, index);
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTIFY_STAFF:
        return s_notify_staff(j, a, index);
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
    struct notes_rule_spent spent[NOTES_RULES_SPENT_MAX];
    char zone[NOTES_ZONE_SIZE] = "UTC"; /* read only for the figures' days */
    if (notes_rules_needs_figures(j->rule))
        notes_zone_get(j->claim.tenant, cm_mono_ms(), s_ask_zone, j, zone);
    if (notes_rules_store_facts(j->db, j->claim.tenant, j->rule, j->customer, zone, &f, spent,
                                NOTES_RULES_SPENT_MAX)) {
        s_out(j, "FAILED", "could not read the figures", "could not read the figures");
        return NULL;
    }
    if (notes_rules_needs_order(j->rule)) {
        cm_err_t err =
            notes_orders_store_of_run(j->db, j->claim.tenant, j->claim.timeline_id, &j->order);
        if (err == CM_ERR_NOT_FOUND) {
            s_out(j, "ORDER_GONE", "", "the order's record is gone");
            return "SKIPPED";
        }
        if (err) {
            s_out(j, "FAILED", "could not read the order", "could not read the order");
            return NULL;
        }
        f.order = &j->order;
    }
    if (!notes_rules_holds(j->rule, &f)) {
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
