/* Automation rules: checking a rule, evaluating its conditions, reading a tag
 * change, filling an e-mail's variables. Pure. */
#include "notes_rules_eval.h"
#include "notes_validate.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

static const struct {
    Crm__RuleTrigger trigger;
    const char *name;
} s_triggers[] = {
    {CRM__RULE_TRIGGER__RULE_TRIGGER_CUSTOMER_CREATED, "CUSTOMER_CREATED"},
    {CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PLACED, "ORDER_PLACED"},
    {CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PAID, "ORDER_PAID"},
    {CRM__RULE_TRIGGER__RULE_TRIGGER_BOOKING_MADE, "BOOKING_MADE"},
    {CRM__RULE_TRIGGER__RULE_TRIGGER_VISIT_COMPLETED, "VISIT_COMPLETED"},
    {CRM__RULE_TRIGGER__RULE_TRIGGER_NO_SHOW, "NO_SHOW"},
    {CRM__RULE_TRIGGER__RULE_TRIGGER_TAG_ADDED, "TAG_ADDED"},
};
#define N_TRIGGERS (sizeof s_triggers / sizeof *s_triggers)

const char *notes_rules_trigger_name(Crm__RuleTrigger t)
{
    for (size_t i = 0; i < N_TRIGGERS; i++)
        if (s_triggers[i].trigger == t)
            return s_triggers[i].name;
    return NULL;
}

Crm__RuleTrigger notes_rules_trigger_of(const char *name)
{
    for (size_t i = 0; name && i < N_TRIGGERS; i++)
        if (!strcmp(s_triggers[i].name, name))
            return s_triggers[i].trigger;
    return CRM__RULE_TRIGGER__RULE_TRIGGER_UNSPECIFIED;
}

/* ---------------------------------------------------------------------- */
/* Checking                                                                */

/* A one-line text of 1..max characters at field (required) or 0..max. */
static void s_text(struct cm_call *call, const char *s, size_t max, unsigned flags,
                   const char *field)
{
    struct notes_problem p;
    char *ok = notes_validate_text(s, max, flags, field, &p);
    if (ok)
        free(ok);
    else
        cm_call_violation(call, field, p.reason, "%s", p.description);
}

static void s_number(struct cm_call *call, int64_t n, int64_t max, const char *field)
{
    if (n < 0 || n > max)
        cm_call_violation(call, field, "OUT_OF_RANGE", "%s must be 0..%lld", field, (long long)max);
}

static bool s_currency_valid(const char *c)
{
    return strlen(c) == 3 && cm_ascii_upper((unsigned char)c[0]) &&
           cm_ascii_upper((unsigned char)c[1]) && cm_ascii_upper((unsigned char)c[2]);
}

/* "rule.<list>[i].<leaf>" into out. */
static const char *s_path(char *out, size_t size, const char *list, size_t i, const char *leaf)
{
    snprintf(out, size, "rule.%s[%zu].%s", list, i, leaf);
    return out;
}

static void s_check_condition(struct cm_call *call, const Crm__RuleCondition *c, size_t i)
{
    char f[64];
    switch (c->kind) {
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_ORDERS:
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_VISITS:
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_SPENT:
        s_number(call, c->number, NOTES_RULE_NUMBER_MAX,
                 s_path(f, sizeof f, "conditions", i, "number"));
        if (c->kind == CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_SPENT &&
            !s_currency_valid(c->currency)) {
            s_path(f, sizeof f, "conditions", i, "currency");
            cm_call_violation(call, f, "INVALID_FORMAT", "%s must be an ISO 4217 code such as EUR",
                              f);
        }
        break;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_LAST_VISIT_DAYS:
        s_number(call, c->number, NOTES_RULE_DAYS_MAX,
                 s_path(f, sizeof f, "conditions", i, "number"));
        break;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_TAG:
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_NOT_TAG:
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_IN_GROUP:
        s_text(call, c->value, NOTES_RULE_VALUE_MAX, NOTES_TEXT_REQUIRED,
               s_path(f, sizeof f, "conditions", i, "value"));
        break;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_SOURCE:
        if (c->source <= CRM__SOURCE__SOURCE_UNSPECIFIED ||
            c->source > CRM__SOURCE__SOURCE_SIGNUP) {
            s_path(f, sizeof f, "conditions", i, "source");
            cm_call_violation(call, f, "REQUIRED", "%s must name a source", f);
        }
        break;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_ORDER_TOTAL_AT_LEAST:
        s_number(call, c->number, NOTES_RULE_NUMBER_MAX,
                 s_path(f, sizeof f, "conditions", i, "number"));
        if (!s_currency_valid(c->currency)) {
            s_path(f, sizeof f, "conditions", i, "currency");
            cm_call_violation(call, f, "INVALID_FORMAT", "%s must be an ISO 4217 code such as EUR",
                              f);
        }
        break;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_FIRST_ORDER:
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_COMPANY:
        break;
    default:
        s_path(f, sizeof f, "conditions", i, "kind");
        cm_call_violation(call, f, "REQUIRED", "%s must name a kind of condition", f);
    }
}

/* An e-mail's subject and text (SEND_EMAIL, ORDER_NOTIFY_STAFF). */
static void s_mail(struct cm_call *call, const Crm__RuleAction *a, size_t i)
{
    char f[64];
    s_text(call, a->subject, NOTES_RULE_SUBJECT_MAX, NOTES_TEXT_REQUIRED,
           s_path(f, sizeof f, "actions", i, "subject"));
    s_text(call, a->text, NOTES_RULE_TEXT_MAX, NOTES_TEXT_REQUIRED | NOTES_TEXT_MULTILINE,
           s_path(f, sizeof f, "actions", i, "text"));
}

/* Whom ORDER_NOTIFY_STAFF mails: one address, or every member of a role. */
static void s_staff(struct cm_call *call, const Crm__RuleAction *a, size_t i)
{
    char f[64];
    bool role = a->staff_role != CRM__ROLE__ROLE_UNSPECIFIED;
    if (a->staff_email[0] && role) {
        s_path(f, sizeof f, "actions", i, "staffRole");
        cm_call_violation(call, f, "INVALID_FORMAT", "%s: give staffEmail or staffRole, not both",
                          f);
    } else if (a->staff_email[0]) {
        s_path(f, sizeof f, "actions", i, "staffEmail");
        if (strlen(a->staff_email) > NOTES_RULE_STAFF_EMAIL_MAX || !strchr(a->staff_email, '@') ||
            strpbrk(a->staff_email, " \t\r\n<>,;"))
            cm_call_violation(call, f, "INVALID_FORMAT",
                              "%s must be one e-mail address of at most %d characters", f,
                              NOTES_RULE_STAFF_EMAIL_MAX);
    } else if (!role) {
        s_path(f, sizeof f, "actions", i, "staffEmail");
        cm_call_violation(call, f, "REQUIRED", "%s or staffRole is required", f);
    } else if (a->staff_role != CRM__ROLE__ROLE_OWNER && a->staff_role != CRM__ROLE__ROLE_ADMIN &&
               a->staff_role != CRM__ROLE__ROLE_STAFF &&
               a->staff_role != CRM__ROLE__ROLE_READONLY) {
        s_path(f, sizeof f, "actions", i, "staffRole");
        cm_call_violation(call, f, "INVALID_FORMAT",
                          "%s must be ROLE_OWNER, ROLE_ADMIN, ROLE_STAFF or ROLE_READONLY", f);
    }
}

static void s_check_action(struct cm_call *call, const Crm__RuleAction *a, size_t i)
{
    char f[64];
    switch (a->kind) {
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ADD_TAG:
    case CRM__RULE_ACTION_KIND__RULE_ACTION_REMOVE_TAG:
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ADD_TO_GROUP:
        s_text(call, a->value, NOTES_RULE_VALUE_MAX, NOTES_TEXT_REQUIRED,
               s_path(f, sizeof f, "actions", i, "value"));
        break;
    case CRM__RULE_ACTION_KIND__RULE_ACTION_SEND_EMAIL:
        s_mail(call, a, i);
        break;
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_HOLD:
        s_text(call, a->value, NOTES_RULE_HOLD_MAX, NOTES_TEXT_REQUIRED,
               s_path(f, sizeof f, "actions", i, "value"));
        break;
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_PRIORITY:
        s_text(call, a->value, NOTES_RULE_PRIORITY_MAX, NOTES_TEXT_REQUIRED,
               s_path(f, sizeof f, "actions", i, "value"));
        break;
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTE:
        s_text(call, a->text, NOTES_RULE_NOTE_MAX, NOTES_TEXT_REQUIRED | NOTES_TEXT_MULTILINE,
               s_path(f, sizeof f, "actions", i, "text"));
        break;
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTIFY_STAFF:
        s_staff(call, a, i);
        s_mail(call, a, i);
        break;
    default:
        s_path(f, sizeof f, "actions", i, "kind");
        cm_call_violation(call, f, "REQUIRED", "%s must name a kind of action", f);
    }
}

bool notes_rules_check_conditions(struct cm_call *call, const Crm__Rule *r)
{
    if (!r) {
        cm_call_violation(call, "rule", "REQUIRED", "rule is required");
        return false;
    }
    if (r->n_conditions > NOTES_RULE_CONDITIONS_MAX)
        cm_call_violation(call, "rule.conditions", "TOO_MANY", "a rule has at most %d conditions",
                          NOTES_RULE_CONDITIONS_MAX);
    else
        for (size_t i = 0; i < r->n_conditions; i++)
            s_check_condition(call, r->conditions[i], i);
    return !cm_call_failed(call);
}

/* Names the kind of item i of list ("conditions", "actions") that needs an
 * order trigger: what it does ("is about", "acts on") the order. */
static void s_needs_order(struct cm_call *call, const char *list, size_t i,
                          const ProtobufCEnumDescriptor *desc, int value, const char *does)
{
    char f[64], kind[64];
    s_path(f, sizeof f, list, i, "kind");
    cm_pbjson_enum_name(desc, value, kind, sizeof kind);
    cm_call_violation(call, f, "NEEDS_ORDER_TRIGGER",
                      "%s: %s %s the order that started the rule; only the triggers "
                      "RULE_TRIGGER_ORDER_PLACED and RULE_TRIGGER_ORDER_PAID have one",
                      f, kind, does);
}

/* The Orders bot's actions and order conditions act on the order that
 * started the rule: only an order trigger has one. */
static void s_check_order_trigger(struct cm_call *call, const Crm__Rule *r)
{
    if (notes_rules_order_trigger(r->trigger) || !notes_rules_trigger_name(r->trigger))
        return;
    for (size_t i = 0; i < r->n_conditions && i < NOTES_RULE_CONDITIONS_MAX; i++)
        if (notes_rules_order_condition(r->conditions[i]->kind))
            s_needs_order(call, "conditions", i, &crm__rule_condition_kind__descriptor,
                          r->conditions[i]->kind, "is about");
    for (size_t i = 0; i < r->n_actions && i < NOTES_RULE_ACTIONS_MAX; i++)
        if (notes_rules_order_action(r->actions[i]->kind))
            s_needs_order(call, "actions", i, &crm__rule_action_kind__descriptor,
                          r->actions[i]->kind, "acts on");
}

bool notes_rules_check(struct cm_call *call, const Crm__Rule *r)
{
    if (!r) {
        cm_call_violation(call, "rule", "REQUIRED", "rule is required");
        return false;
    }
    s_text(call, r->name, NOTES_RULE_NAME_MAX, NOTES_TEXT_REQUIRED, "rule.name");
    if (!notes_rules_trigger_name(r->trigger))
        cm_call_violation(call, "rule.trigger", "REQUIRED",
                          "rule.trigger must name what starts the rule");
    if (r->trigger_tag[0] && r->trigger != CRM__RULE_TRIGGER__RULE_TRIGGER_TAG_ADDED)
        cm_call_violation(call, "rule.triggerTag", "INVALID_FORMAT",
                          "rule.triggerTag is only for the trigger TAG_ADDED");
    else if (r->trigger_tag[0])
        s_text(call, r->trigger_tag, NOTES_RULE_VALUE_MAX, 0, "rule.triggerTag");
    (void)notes_rules_check_conditions(call, r);
    if (r->n_actions == 0)
        cm_call_violation(call, "rule.actions", "REQUIRED", "a rule needs at least one action");
    else if (r->n_actions > NOTES_RULE_ACTIONS_MAX)
        cm_call_violation(call, "rule.actions", "TOO_MANY", "a rule has at most %d actions",
                          NOTES_RULE_ACTIONS_MAX);
    else
        for (size_t i = 0; i < r->n_actions; i++)
            s_check_action(call, r->actions[i], i);
    s_check_order_trigger(call, r);
    return !cm_call_failed(call);
}

/* ---------------------------------------------------------------------- */
/* Evaluating                                                              */

static bool s_has(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(list[i], s))
            return true;
    return false;
}

static int64_t s_spent(const struct notes_rule_facts *f, const char *currency)
{
    for (size_t i = 0; i < f->n_spent; i++)
        if (!strcmp(f->spent[i].currency, currency))
            return f->spent[i].amount_minor;
    return 0;
}

static bool s_condition_holds(const Crm__RuleCondition *c, const struct notes_rule_facts *f)
{
    switch (c->kind) {
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_ORDERS:
        return f->orders >= c->number;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_VISITS:
        return f->visits >= c->number;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_SPENT:
        return s_spent(f, c->currency) >= c->number;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_LAST_VISIT_DAYS:
        return f->last_visit_ms > 0 && f->today - f->last_visit_day > c->number;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_TAG:
        return s_has(f->tags, f->n_tags, c->value);
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_NOT_TAG:
        return !s_has(f->tags, f->n_tags, c->value);
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_IN_GROUP:
        return s_has(f->groups, f->n_groups, c->value);
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_SOURCE:
        return f->source == (int)c->source;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_ORDER_TOTAL_AT_LEAST:
        return f->order && !strcmp(f->order->currency, c->currency) &&
               f->order->total_minor >= c->number;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_FIRST_ORDER:
        return f->order && f->order->first;
    case CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_COMPANY:
        return f->has_company;
    default:
        return false; /* a stored rule was checked: never */
    }
}

bool notes_rules_holds(const Crm__Rule *r, const struct notes_rule_facts *f)
{
    for (size_t i = 0; i < r->n_conditions; i++)
        if (!s_condition_holds(r->conditions[i], f))
            return false;
    return true;
}

bool notes_rules_needs_figures(const Crm__Rule *r)
{
    for (size_t i = 0; i < r->n_conditions; i++) {
        Crm__RuleConditionKind k = r->conditions[i]->kind;
        if (k == CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_ORDERS ||
            k == CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_VISITS ||
            k == CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_SPENT ||
            k == CRM__RULE_CONDITION_KIND__RULE_CONDITION_LAST_VISIT_DAYS)
            return true;
    }
    return false;
}

bool notes_rules_order_trigger(Crm__RuleTrigger t)
{
    return t == CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PLACED ||
           t == CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PAID;
}

bool notes_rules_order_action(Crm__RuleActionKind k)
{
    return k == CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_HOLD ||
           k == CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_PRIORITY ||
           k == CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTE ||
           k == CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTIFY_STAFF;
}

bool notes_rules_order_condition(Crm__RuleConditionKind k)
{
    return k == CRM__RULE_CONDITION_KIND__RULE_CONDITION_ORDER_TOTAL_AT_LEAST ||
           k == CRM__RULE_CONDITION_KIND__RULE_CONDITION_FIRST_ORDER;
}

bool notes_rules_needs_order(const Crm__Rule *r)
{
    for (size_t i = 0; i < r->n_conditions; i++)
        if (notes_rules_order_condition(r->conditions[i]->kind))
            return true;
    for (size_t i = 0; i < r->n_actions; i++)
        if (notes_rules_order_action(r->actions[i]->kind))
            return true;
    return false;
}

const char *notes_rules_role_name(Crm__Role role)
{
    switch (role) {
    case CRM__ROLE__ROLE_OWNER:
        return "ROLE_OWNER";
    case CRM__ROLE__ROLE_ADMIN:
        return "ROLE_ADMIN";
    case CRM__ROLE__ROLE_STAFF:
        return "ROLE_STAFF";
    case CRM__ROLE__ROLE_READONLY:
        return "ROLE_READONLY";
    default:
        return "";
    }
}

const char *notes_rules_instruction_kind(Crm__RuleActionKind k)
{
    switch (k) {
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_HOLD:
        return "HOLD";
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_PRIORITY:
        return "PRIORITY";
    case CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTE:
        return "NOTE";
    default:
        return NULL;
    }
}

/* ---------------------------------------------------------------------- */
/* A tag change                                                            */

/* The JSON array of strings in text (a FieldChange value), or NULL. */
static json_t *s_string_array(const char *text)
{
    if (!text || !text[0])
        return json_array();
    json_t *a = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static bool s_in(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && !strcasecmp(json_string_value(v), s))
            return true;
    }
    return false;
}

bool notes_rules_tag_added(const char *details_json, const char *tag)
{
    json_t *d = json_loads(details_json ? details_json : "", 0, NULL);
    json_t *changes = json_object_get(d, "changes");
    bool added = false;
    size_t i;
    json_t *ch;
    json_array_foreach(changes, i, ch)
    {
        const char *field = json_string_value(json_object_get(ch, "field"));
        if (!field || strcmp(field, "tags"))
            continue;
        json_t *before = s_string_array(json_string_value(json_object_get(ch, "oldValue")));
        json_t *after = s_string_array(json_string_value(json_object_get(ch, "newValue")));
        size_t j;
        json_t *v;
        json_array_foreach(after, j, v)
        {
            const char *t = json_string_value(v);
            if (t && (!tag[0] || !strcasecmp(t, tag)) && before && !s_in(before, t))
                added = true;
        }
        json_decref(before);
        json_decref(after);
    }
    json_decref(d);
    return added;
}

/* ---------------------------------------------------------------------- */
/* Variables and tag lists                                                 */

char *notes_rules_fill(const char *text, const char *first_name, const char *last_name)
{
    char *full =
        cm_strfmt("%s%s%s", first_name, first_name[0] && last_name[0] ? " " : "", last_name);
    const struct {
        const char *var;
        const char *value;
    } vars[] = {{"{{firstName}}", first_name}, {"{{lastName}}", last_name}, {"{{fullName}}", full}};
    size_t cap = strlen(text) + 1, len = 0;
    for (const char *p = text; (p = strstr(p, "{{")); p += 2)
        cap += strlen(full) + strlen(first_name) + strlen(last_name);
    char *out = cm_malloc(cap);
    const char *p = text;
    while (*p) {
        bool done = false;
        for (size_t i = 0; i < sizeof vars / sizeof *vars && !done; i++) {
            size_t vl = strlen(vars[i].var);
            if (!strncmp(p, vars[i].var, vl)) {
                size_t n = strlen(vars[i].value);
                memcpy(out + len, vars[i].value, n);
                len += n;
                p += vl;
                done = true;
            }
        }
        if (!done)
            out[len++] = *p++;
    }
    out[len] = '\0';
    free(full);
    return out;
}

bool notes_rules_tags_edit(char *const *tags, size_t n, const char *tag, bool add, char ***out,
                           size_t *n_out)
{
    bool present = s_has((const char *const *)tags, n, tag);
    if (present == add)
        return false;
    char **list = cm_malloc((n + 1) * sizeof *list);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (add || strcasecmp(tags[i], tag))
            list[k++] = tags[i];
    if (add)
        list[k++] = (char *)tag;
    *out = list;
    *n_out = k;
    return true;
}
