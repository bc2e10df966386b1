/* Automation rules: the bus methods (create, change, list, dry run,
 * history). The worker that runs the rules' actions is notes_rules_worker.c. */
#include "notes_rules.h"
#include "notes_rules_eval.h"
#include "notes_rules_store.h"
#include "notes_orders_store.h"
#include "notes_zone.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "rules.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENANT(call) ((call)->hdr->tenant_id)
#define RUNS_PAGE_DEFAULT 50
#define RUNS_PAGE_MAX 200
/* The dry run: customers looked at, and matches answered, at most. */
#define DRY_RUN_SCAN_MAX 2000
#define DRY_RUN_PAGE 200
#define DRY_RUN_MATCHES_MAX 100

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

/* What the rule's order actions would do to the match's order: the
 * instructions (ORDER_HOLD, ORDER_PRIORITY, ORDER_NOTE, the note filled in)
 * and the staff e-mails (STAFF_NOTIFIED, the address or the role). */
static void s_dry_order_actions(const Crm__Rule *rule, const Crm__Customer *c,
                                const struct notes_rule_order *o, Crm__DryRunMatch *m)
{
    cm_pb_set_str(&m->order_source, o->source);
    cm_pb_set_str(&m->order_id, o->id);
    m->order_actions = cm_calloc(rule->n_actions + 1, sizeof *m->order_actions);
    for (size_t i = 0; i < rule->n_actions; i++) {
        const Crm__RuleAction *a = rule->actions[i];
        if (!notes_rules_order_action(a->kind))
            continue;
        Crm__RuleOutcome *x = (Crm__RuleOutcome *)cm_pb_new(&crm__rule_outcome__descriptor);
        const char *kind = notes_rules_instruction_kind(a->kind);
        char code[32] = "STAFF_NOTIFIED";
        if (kind)
            snprintf(code, sizeof code, "ORDER_%s", kind);
        cm_pb_set_str(&x->code, code);
        if (a->kind == CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTE) {
            char *note = notes_rules_fill(a->text, c->first_name, c->last_name);
            cm_pb_set_str(&x->value, note);
            free(note);
        } else if (a->kind == CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTIFY_STAFF) {
            cm_pb_set_str(&x->value, a->staff_email[0] ? a->staff_email
                                                       : notes_rules_role_name(a->staff_role));
        } else {
            cm_pb_set_str(&x->value, a->value);
        }
        m->order_actions[m->n_order_actions++] = x;
    }
}

/* Reads customers page by page (as the caller) and keeps those the rule's
 * conditions hold for. A rule about an order is tried on each customer's
 * latest order (a customer without one cannot match). */
static void s_dry_scan(struct cm_call *call, const Crm__Rule *rule, Crm__DryRunRuleResponse *out)
{
    Crm__ListCustomersRequest lr = CRM__LIST_CUSTOMERS_REQUEST__INIT;
    lr.page_size = DRY_RUN_PAGE;
    lr.order_by = "createdAt";
    s_narrow(rule, &lr);
    char *token = cm_strdup("");
    char zone[NOTES_ZONE_SIZE] = "UTC"; /* read only for the figures' days */
    if (notes_rules_needs_figures(rule))
        notes_zone_of_call(call, zone);
    bool on_order = notes_rules_order_trigger(rule->trigger) && notes_rules_needs_order(rule);
    out->matches = cm_calloc(DRY_RUN_MATCHES_MAX + 1, sizeof *out->matches);
    out->complete = false;
    while (out->scanned < DRY_RUN_SCAN_MAX && out->n_matches < DRY_RUN_MATCHES_MAX) {
        lr.page_token = token;
        Crm__ReplyHeader *rh = NULL;
        ProtobufCMessage *resp = NULL;
        cm_err_t err = cm_call_service(call, "customers", "customers.ListCustomers", NULL, &lr.base,
                                       &crm__list_customers_response__descriptor,
                                       NOTES_RULES_CALL_MS, &rh, &resp);
        if (err || rh->status != CRM__STATUS__STATUS_OK) {
            cm_call_fail(call, CM_ERR_UNAVAILABLE, "customers did not answer; try again");
        } else {
            const Crm__ListCustomersResponse *page = (const Crm__ListCustomersResponse *)resp;
            for (size_t i = 0; i < page->n_customers && out->n_matches < DRY_RUN_MATCHES_MAX; i++) {
                struct notes_rule_facts f;
                struct notes_rule_spent spent[NOTES_RULES_SPENT_MAX];
                const Crm__Customer *c = page->customers[i];
                out->scanned++;
                struct notes_rule_order order;
                if (notes_rules_store_facts(call->db, TENANT(call), rule, c, zone, &f, spent,
                                            NOTES_RULES_SPENT_MAX)) {
                    cm_call_db_fail(call, CM_ERR_UNAVAILABLE, "could not read the figures");
                    break;
                }
                if (on_order) {
                    cm_err_t oerr =
                        notes_orders_store_latest(call->db, TENANT(call), c->id, &order);
                    if (oerr == CM_ERR_NOT_FOUND)
                        continue;
                    if (oerr) {
                        cm_call_db_fail(call, oerr, "could not read the orders");
                        break;
                    }
                    f.order = &order;
                }
                if (!notes_rules_holds(rule, &f))
                    continue;
                Crm__DryRunMatch *m =
                    (Crm__DryRunMatch *)cm_pb_new(&crm__dry_run_match__descriptor);
                cm_pb_set_str(&m->customer_id, c->id);
                char *name = s_display_name(c);
                cm_pb_set_str(&m->name, name);
                free(name);
                if (on_order)
                    s_dry_order_actions(rule, c, &order, m);
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
