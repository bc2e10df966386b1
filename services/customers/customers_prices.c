/* Price rules: their checks, CRUD with the customer's timeline events, and
 * pricing a cart (customers_prices.h; the arithmetic is customers_pricing.c,
 * the SQL customers_prices_store.c). */
#include "customers_prices.h"
#include "customers_changes.h"
#include "customers_check.h"
#include "customers_prices_store.h"
#include "customers_pricing.h"
#include "customers_store.h"
#include "customers_validate.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <inttypes.h>
#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENANT(call) ((call)->hdr->tenant_id)

/* ---------------------------------------------------------------------- */
/* Checks                                                                  */

/* Trims spaces and tabs off both ends of *s. */
static void s_trim(char **s)
{
    const char *b = *s;
    b += strspn(b, " \t");
    size_t n = strlen(b);
    while (n && (b[n - 1] == ' ' || b[n - 1] == '\t'))
        n--;
    if (b == *s && n == strlen(*s))
        return;
    char *copy = cm_malloc(n + 1);
    memcpy(copy, b, n);
    copy[n] = '\0';
    cm_pb_set_str(s, copy);
    free(copy);
}

/* A code of the store's (or a tag): required or not, at most max
 * characters, no control characters. */
static void s_code_max(struct cm_call *call, const char *field, const char *code, bool required,
                       int max)
{
    if (!code[0]) {
        if (required)
            cm_call_violation(call, field, "REQUIRED", "%s is required", field);
        return;
    }
    if (customers_validate_length(code, (size_t)max))
        cm_call_violation(call, field, "TOO_LONG", "%s is too long: at most %d characters", field,
                          max);
    for (const unsigned char *p = (const unsigned char *)code; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            cm_call_violation(call, field, "INVALID_FORMAT", "%s has a control character", field);
            return;
        }
    }
}

static void s_code(struct cm_call *call, const char *field, const char *code, bool required)
{
    s_code_max(call, field, code, required, CUSTOMERS_PRICE_CODE_MAX);
}

/* A day, YYYY-MM-DD: empty is allowed when optional. */
static void s_day(struct cm_call *call, const char *field, const char *day)
{
    const char *why = NULL;
    if (day[0] && customers_validate_date(day, INT64_MAX, &why))
        cm_call_violation(call, field, "INVALID_FORMAT", "%s is not a date YYYY-MM-DD: %s", field,
                          why);
}

/* Whom a new rule is for: exactly one of customerId, tag and groupId, and
 * the customer or group must be the tenant's. */
static void s_check_who(struct cm_call *call, Crm__PriceRule *r)
{
    s_trim(&r->tag);
    int given = (r->customer_id[0] != 0) + (r->tag[0] != 0) + (r->group_id[0] != 0);
    if (given != 1) {
        cm_call_violation(call, "customerId", given ? "ONE_OF" : "REQUIRED",
                          "give exactly one of customerId, tag and groupId");
        return;
    }
    bool exists = true;
    cm_err_t err = CM_OK;
    if (r->customer_id[0]) {
        err =
            customers_prices_store_customer_exists(call->db, TENANT(call), r->customer_id, &exists);
        if (!err && !exists)
            cm_call_violation(call, "customerId", "NOT_FOUND", "no customer %.64s", r->customer_id);
        r->via = CRM__PRICE_RULE_VIA__PRICE_RULE_VIA_CUSTOMER;
    } else if (r->group_id[0]) {
        err = customers_prices_store_group_exists(call->db, TENANT(call), r->group_id, &exists);
        if (!err && !exists)
            cm_call_violation(call, "groupId", "NOT_FOUND", "no group %.64s", r->group_id);
        r->via = CRM__PRICE_RULE_VIA__PRICE_RULE_VIA_GROUP;
    } else {
        s_code_max(call, "tag", r->tag, true, CUSTOMERS_TAG_MAX);
        r->via = CRM__PRICE_RULE_VIA__PRICE_RULE_VIA_TAG;
    }
    if (err)
        cm_call_db_fail(call, err, "could not read whom the rule is for");
}

/* What a rule discounts, by how much and when: every violation. */
static void s_check_terms(struct cm_call *call, Crm__PriceRule *r)
{
    s_trim(&r->name);
    s_trim(&r->code);
    if (customers_validate_length(r->name, CUSTOMERS_PRICE_NAME_MAX))
        cm_call_violation(call, "name", "TOO_LONG", "name is too long: at most %d characters",
                          CUSTOMERS_PRICE_NAME_MAX);
    switch (r->target) {
    case CRM__PRICE_RULE_TARGET__PRICE_RULE_TARGET_ALL:
        if (r->code[0])
            cm_call_violation(call, "code", "NOT_ALLOWED",
                              "code must be empty for a rule on every product (target ALL)");
        break;
    case CRM__PRICE_RULE_TARGET__PRICE_RULE_TARGET_CATEGORY:
    case CRM__PRICE_RULE_TARGET__PRICE_RULE_TARGET_PRODUCT:
        s_code(call, "code", r->code, true);
        break;
    default:
        cm_call_violation(call, "target", "REQUIRED",
                          "target is required: ALL, CATEGORY or PRODUCT");
    }
    /* Discounts only: a mark-up would raise the price the store shows. */
    if (r->percent_off_bp < 0 || r->percent_off_bp > CUSTOMERS_PRICE_BP_MAX)
        cm_call_violation(call, "percentOffBp", "OUT_OF_RANGE",
                          "percentOffBp must be 1..%d (hundredths of a percent off; no mark-ups)",
                          CUSTOMERS_PRICE_BP_MAX);
    if (r->amount_off_minor < 0 || r->amount_off_minor > CUSTOMERS_PRICE_UNIT_MAX)
        cm_call_violation(call, "amountOffMinor", "OUT_OF_RANGE",
                          "amountOffMinor must be 1..%lld (minor units off each unit; no "
                          "mark-ups)",
                          (long long)CUSTOMERS_PRICE_UNIT_MAX);
    if (!r->percent_off_bp && !r->amount_off_minor)
        cm_call_violation(call, "percentOffBp", "REQUIRED",
                          "give percentOffBp or amountOffMinor: the discount");
    else if (r->percent_off_bp && r->amount_off_minor)
        cm_call_violation(call, "amountOffMinor", "ONE_OF",
                          "give percentOffBp or amountOffMinor, not both");
    s_day(call, "validFrom", r->valid_from);
    s_day(call, "validUntil", r->valid_until);
    if (r->valid_from[0] && r->valid_until[0] && !cm_call_failed(call) &&
        strcmp(r->valid_from, r->valid_until) > 0)
        cm_call_violation(call, "validUntil", "OUT_OF_RANGE",
                          "validUntil must not be before validFrom");
}

/* ---------------------------------------------------------------------- */
/* The customer's timeline                                                 */

/* A customer's own rule added, changed or removed: the audit entry and a
 * customer.discount_added / _changed / _removed event carrying the
 * customer and the rule as a change of "discounts" (the notes service puts
 * it on the timeline). Returns false with the call failed. */
static bool s_record(struct cm_call *call, const Crm__PriceRule *before,
                     const Crm__PriceRule *after)
{
    assert(before || after); /* added, changed or removed: one side at least */
    const Crm__PriceRule *r = after ? after : before;
    if (!r->customer_id[0])
        return true;
    Crm__Customer *c = NULL;
    cm_err_t err = customers_store_get(call->db, TENANT(call), r->customer_id, false, &c);
    if (err) {
        cm_call_db_fail(call, err, "could not read the rule's customer");
        return false;
    }
    if (!c)
        return true; /* the customer is being deleted with their rules */
    char *old_json = before
                         ? cm_pbjson_encode_text(&before->base, CM_PBJSON_OMIT_DEFAULTS, NULL, NULL)
                         : cm_strdup("");
    char *new_json = after
                         ? cm_pbjson_encode_text(&after->base, CM_PBJSON_OMIT_DEFAULTS, NULL, NULL)
                         : cm_strdup("");
    Crm__FieldChange fc = CRM__FIELD_CHANGE__INIT;
    fc.field = (char *)"discounts";
    fc.old_value = old_json;
    fc.new_value = new_json;
    Crm__FieldChange *items[] = {&fc};
    struct customers_changes ch = {.items = items, .n = 1, .json = json_array()};
    json_array_append_new(ch.json, json_pack("{s:s, s:s, s:s}", "field", "discounts", "oldValue",
                                             old_json, "newValue", new_json));
    const char *action = !before  ? "discount_added"
                         : !after ? "discount_removed"
                                  : "discount_changed";
    char type[40];
    snprintf(type, sizeof type, "customer.%s", action);
    const char *const types[] = {type, NULL};
    bool ok = customers_changes_record(call, r->customer_id, action, types, c, &ch);
    json_decref(ch.json);
    free(old_json);
    free(new_json);
    crm__customer__free_unpacked(c, NULL);
    return ok;
}

/* ---------------------------------------------------------------------- */
/* CRUD                                                                    */

void customers_prices_create(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__CreatePriceRuleRequest *req = (const Crm__CreatePriceRuleRequest *)msg;
    Crm__PriceRule *r = req->rule ? (Crm__PriceRule *)cm_pb_clone(&req->rule->base)
                                  : (Crm__PriceRule *)cm_pb_new(&crm__price_rule__descriptor);
    Crm__PriceRule *stored = NULL;
    s_check_terms(call, r);
    s_check_who(call, r);
    if (cm_call_failed(call))
        goto out;
    long n = 0;
    cm_err_t err = customers_prices_store_count(call->db, TENANT(call), &n);
    if (err) {
        cm_call_db_fail(call, err, "could not count price rules");
        goto out;
    }
    if (n >= CUSTOMERS_PRICE_RULES_MAX) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "this business has %d price rules, the most it may; remove one first",
                     CUSTOMERS_PRICE_RULES_MAX);
        goto out;
    }
    char id[CUSTOMERS_ID_SIZE];
    cm_uuid(id);
    err = customers_prices_store_insert(call->db, TENANT(call), id, r, &stored);
    if (err || !stored) {
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not store the price rule");
        goto out;
    }
    if (s_record(call, NULL, stored)) {
        *resp = &stored->base;
        stored = NULL;
    }
out:
    if (stored)
        crm__price_rule__free_unpacked(stored, NULL);
    crm__price_rule__free_unpacked(r, NULL);
}

/* Rule id, or NULL with the call failed (NOT_FOUND naming it). */
static Crm__PriceRule *s_load(struct cm_call *call, const char *id, bool for_update)
{
    Crm__PriceRule *r = NULL;
    cm_err_t err = customers_prices_store_get(call->db, TENANT(call), id, for_update, &r);
    if (err)
        cm_call_db_fail(call, err, "could not read the price rule");
    else if (!r)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no price rule %.64s", id);
    return r;
}

void customers_prices_get(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__GetPriceRuleRequest *req = (const Crm__GetPriceRuleRequest *)msg;
    Crm__PriceRule *r = s_load(call, req->id, false);
    if (r)
        *resp = &r->base;
}

/* The fields an update may name: whom a rule is for stays. */
static const char *const s_editable[] = {"name",           "target",    "code",      "percentOffBp",
                                         "amountOffMinor", "validFrom", "validUntil"};
#define N_EDITABLE (sizeof s_editable / sizeof *s_editable)

static bool s_is_editable(const char *path)
{
    for (size_t i = 0; i < N_EDITABLE; i++)
        if (!strcmp(path, s_editable[i]))
            return true;
    return false;
}

void customers_prices_update(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__UpdatePriceRuleRequest *req = (const Crm__UpdatePriceRuleRequest *)msg;
    for (size_t i = 0; i < req->n_update_mask; i++) {
        if (!s_is_editable(req->update_mask[i]))
            cm_call_violation(call, "updateMask", "NOT_ALLOWED",
                              "%.64s cannot be changed; choose from name, target, code, "
                              "percentOffBp, amountOffMinor, validFrom, validUntil",
                              req->update_mask[i]);
    }
    if (cm_call_failed(call))
        return;
    Crm__PriceRule *before = s_load(call, req->id, true);
    if (!before)
        return;
    Crm__PriceRule *r = (Crm__PriceRule *)cm_pb_clone(&before->base);
    Crm__PriceRule *stored = NULL;
    Crm__PriceRule empty = CRM__PRICE_RULE__INIT;
    struct cm_pbjson_error perr;
    char **paths = req->n_update_mask ? req->update_mask : (char **)s_editable;
    size_t n_paths = req->n_update_mask ? req->n_update_mask : N_EDITABLE;
    if (cm_pb_apply_mask(&r->base, req->rule ? &req->rule->base : &empty.base, paths, n_paths,
                         &perr)) {
        cm_call_violation(call, perr.field, "UNKNOWN_FIELD", "%s", perr.description);
        goto out;
    }
    s_check_terms(call, r);
    if (cm_call_failed(call))
        goto out;
    cm_err_t err = customers_prices_store_update(call->db, TENANT(call), r, &stored);
    if (err || !stored) {
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not store the price rule");
        goto out;
    }
    if (s_record(call, before, stored)) {
        *resp = &stored->base;
        stored = NULL;
    }
out:
    if (stored)
        crm__price_rule__free_unpacked(stored, NULL);
    crm__price_rule__free_unpacked(r, NULL);
    crm__price_rule__free_unpacked(before, NULL);
}

void customers_prices_delete(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__DeletePriceRuleRequest *req = (const Crm__DeletePriceRuleRequest *)msg;
    Crm__PriceRule *before = s_load(call, req->id, true);
    if (!before)
        return;
    bool deleted = false;
    cm_err_t err = customers_prices_store_delete(call->db, TENANT(call), req->id, &deleted);
    if (err)
        cm_call_db_fail(call, err, "could not delete the price rule");
    else if (s_record(call, before, NULL))
        *resp = cm_pb_new(&crm__empty__descriptor);
    crm__price_rule__free_unpacked(before, NULL);
}

void customers_prices_list(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__ListPriceRulesRequest *req = (const Crm__ListPriceRulesRequest *)msg;
    int given = (req->customer_id[0] != 0) + (req->tag[0] != 0) + (req->group_id[0] != 0);
    if (given > 1) {
        cm_call_violation(call, "customerId", "ONE_OF",
                          "give at most one of customerId, tag and groupId");
        return;
    }
    Crm__ListPriceRulesResponse *r =
        (Crm__ListPriceRulesResponse *)cm_pb_new(&crm__list_price_rules_response__descriptor);
    /* An id that is no UUID names nothing: no rules. */
    bool bad_id = (req->customer_id[0] && !cm_uuid_valid(req->customer_id)) ||
                  (req->group_id[0] && !cm_uuid_valid(req->group_id));
    char currency[4] = "";
    cm_err_t err = customers_prices_store_currency(call->db, TENANT(call), currency);
    cm_pb_set_str(&r->currency, currency);
    if (!err && !bad_id)
        err = customers_prices_store_list(
            call->db, TENANT(call), req->customer_id[0] ? req->customer_id : NULL,
            req->tag[0] ? req->tag : NULL, req->group_id[0] ? req->group_id : NULL, r);
    if (err) {
        cm_call_db_fail(call, err, "could not list price rules");
        crm__list_price_rules_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* What applies to a customer, and what a cart costs them                  */

void customers_prices_for_customer(struct cm_call *call, const ProtobufCMessage *msg,
                                   ProtobufCMessage **resp)
{
    const Crm__ListCustomerPriceRulesRequest *req = (const Crm__ListCustomerPriceRulesRequest *)msg;
    s_day(call, "date", req->date);
    if (cm_call_failed(call))
        return;
    struct customers_prices_found f;
    cm_err_t err = customers_prices_store_applying(call->db, TENANT(call), req->id, NULL,
                                                   req->date[0] ? req->date : NULL, NULL, NULL, &f);
    if (err)
        cm_call_db_fail(call, err, "could not read the customer's price rules");
    else if (!f.tenant)
        cm_call_fail(call, CM_ERR_PERMISSION, "unknown tenant");
    else if (!f.customer[0])
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", req->id);
    else {
        Crm__ListPriceRulesResponse *r =
            (Crm__ListPriceRulesResponse *)cm_pb_new(&crm__list_price_rules_response__descriptor);
        r->rules = f.rules;
        r->n_rules = f.n_rules;
        cm_pb_set_str(&r->currency, f.currency);
        f.rules = NULL;
        f.n_rules = 0;
        *resp = &r->base;
    }
    customers_prices_found_release(&f);
}

/* Every violation of a cart: whom it is for, the day, and each line. */
static void s_check_cart(struct cm_call *call, const Crm__QuotePricesRequest *req)
{
    if (req->customer_id[0] && req->email[0])
        cm_call_violation(call, "email", "ONE_OF", "give customerId or email, not both");
    if (req->email[0]) {
        char email[CUSTOMERS_EMAIL_SIZE];
        const char *why = NULL;
        if (customers_validate_email(req->email, email, sizeof email, &why))
            cm_call_violation(call, "email", "INVALID_FORMAT", "email is not an e-mail address: %s",
                              why);
    }
    s_day(call, "date", req->date);
    if (!req->n_lines)
        cm_call_violation(call, "lines", "REQUIRED", "lines is required: at least one line");
    if (req->n_lines > CUSTOMERS_PRICE_LINES_MAX) {
        cm_call_violation(call, "lines", "TOO_MANY", "lines has %zu entries: at most %d",
                          req->n_lines, CUSTOMERS_PRICE_LINES_MAX);
        return;
    }
    for (size_t i = 0; i < req->n_lines; i++) {
        const Crm__PriceLine *l = req->lines[i];
        char f[48];
        snprintf(f, sizeof f, "lines[%zu].productCode", i);
        s_code(call, f, l->product_code, true);
        snprintf(f, sizeof f, "lines[%zu].categoryCode", i);
        s_code(call, f, l->category_code, false);
        snprintf(f, sizeof f, "lines[%zu].quantity", i);
        if (l->quantity < 1 || l->quantity > CUSTOMERS_PRICE_QTY_MAX)
            cm_call_violation(call, f, "OUT_OF_RANGE", "%s must be 1..%d", f,
                              CUSTOMERS_PRICE_QTY_MAX);
        snprintf(f, sizeof f, "lines[%zu].unitPriceMinor", i);
        if (l->unit_price_minor < 0 || l->unit_price_minor > CUSTOMERS_PRICE_UNIT_MAX)
            cm_call_violation(call, f, "OUT_OF_RANGE", "%s must be 0..%lld minor units", f,
                              (long long)CUSTOMERS_PRICE_UNIT_MAX);
    }
}

/* The cart's product and category codes as two JSON arrays (caller frees). */
static void s_codes_json(const Crm__QuotePricesRequest *req, char **products, char **categories)
{
    json_t *p = json_array(), *c = json_array();
    for (size_t i = 0; i < req->n_lines; i++) {
        json_array_append_new(p, json_string(req->lines[i]->product_code));
        if (req->lines[i]->category_code[0])
            json_array_append_new(c, json_string(req->lines[i]->category_code));
    }
    *products = json_dumps(p, JSON_COMPACT);
    *categories = json_dumps(c, JSON_COMPACT);
    json_decref(p);
    json_decref(c);
}

/* Prices each line of req under the rules found into r. */
static void s_price(const Crm__QuotePricesRequest *req, const struct customers_prices_found *f,
                    Crm__QuotePricesResponse *r)
{
    struct customers_price_rule *rules = f->n_rules ? cm_calloc(f->n_rules, sizeof *rules) : NULL;
    for (size_t i = 0; i < f->n_rules; i++) {
        const Crm__PriceRule *pr = f->rules[i];
        rules[i] = (struct customers_price_rule){.id = pr->id,
                                                 .via = (int)pr->via,
                                                 .target = (int)pr->target,
                                                 .code = pr->code,
                                                 .percent_off_bp = pr->percent_off_bp,
                                                 .amount_off_minor = pr->amount_off_minor};
    }
    r->lines = cm_calloc(req->n_lines, sizeof *r->lines);
    for (size_t i = 0; i < req->n_lines; i++) {
        const Crm__PriceLine *l = req->lines[i];
        struct customers_priced p;
        if (customers_pricing_line(rules, f->n_rules, l->product_code, l->category_code,
                                   l->quantity, l->unit_price_minor, &p))
            continue; /* s_check_cart refused it before */
        Crm__PricedLine *pl = (Crm__PricedLine *)cm_pb_new(&crm__priced_line__descriptor);
        cm_pb_set_str(&pl->product_code, l->product_code);
        cm_pb_set_str(&pl->category_code, l->category_code);
        pl->quantity = l->quantity;
        pl->unit_price_minor = l->unit_price_minor;
        pl->price_minor = p.price;
        pl->line_total_minor = p.total;
        pl->discount_minor = p.discount;
        if (p.rule >= 0)
            pl->rule = (Crm__PriceRule *)cm_pb_clone(&f->rules[p.rule]->base);
        r->lines[r->n_lines++] = pl;
        r->list_total_minor += l->unit_price_minor * l->quantity;
        r->total_minor += p.total;
        r->discount_minor += p.discount;
    }
    free(rules);
}

void customers_prices_quote(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__QuotePricesRequest *req = (const Crm__QuotePricesRequest *)msg;
    s_check_cart(call, req);
    if (cm_call_failed(call))
        return;
    char key[CUSTOMERS_EMAIL_KEY_SIZE] = "";
    if (req->email[0]) {
        char email[CUSTOMERS_EMAIL_SIZE];
        const char *why = NULL;
        if (!customers_validate_email(req->email, email, sizeof email, &why))
            customers_validate_email_key(email, key, sizeof key);
    }
    char *products = NULL, *categories = NULL;
    s_codes_json(req, &products, &categories);
    struct customers_prices_found f;
    cm_err_t err = customers_prices_store_applying(
        call->db, TENANT(call), req->customer_id, key[0] ? key : NULL,
        req->date[0] ? req->date : NULL, products, categories, &f);
    free(products);
    free(categories);
    if (err)
        cm_call_db_fail(call, err, "could not read the customer's price rules");
    else if (!f.tenant)
        cm_call_fail(call, CM_ERR_PERMISSION, "unknown tenant");
    else {
        Crm__QuotePricesResponse *r =
            (Crm__QuotePricesResponse *)cm_pb_new(&crm__quote_prices_response__descriptor);
        cm_pb_set_str(&r->customer_id, f.customer);
        cm_pb_set_str(&r->currency, f.currency);
        s_price(req, &f, r);
        *resp = &r->base;
    }
    customers_prices_found_release(&f);
}
