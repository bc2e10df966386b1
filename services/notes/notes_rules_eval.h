/* Automation rules: the pure parts. Checking a rule a person wrote, whether
 * its conditions hold for a customer's facts, whether a change added the
 * tag a TAG_ADDED rule waits for, and filling an e-mail's variables. No
 * database, no bus (docs/rules.md). */
#ifndef NOTES_RULES_EVAL_H
#define NOTES_RULES_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_svc.h"
#include "rules.pb-c.h"

/* Limits, each checked and tested. */
#define NOTES_RULES_PER_BUSINESS 50
#define NOTES_RULE_NAME_MAX 100 // characters
#define NOTES_RULE_CONDITIONS_MAX 10
#define NOTES_RULE_ACTIONS_MAX 5
#define NOTES_RULE_VALUE_MAX 100                 // characters of a tag or group name
#define NOTES_RULE_SUBJECT_MAX 200               // characters
#define NOTES_RULE_TEXT_MAX 20000                // bytes
#define NOTES_RULE_NUMBER_MAX 1000000000000000LL // thresholds (minor units, counts, days)
#define NOTES_RULE_DAYS_MAX 36500
#define NOTES_RULE_HOLD_MAX 200    // characters of a hold's reason
#define NOTES_RULE_PRIORITY_MAX 50 // characters of a priority label
#define NOTES_RULE_NOTE_MAX 1000   // characters of an order note
#define NOTES_RULE_STAFF_EMAIL_MAX 254

/* Checks every field of r (as a create or an update sends it) and adds a
 * violation to call for each problem, under prefix ("rule"): "rule.name",
 * "rule.conditions[2].currency", ... Returns true when it may be stored. */
bool notes_rules_check(struct cm_call *call, const Crm__Rule *r);

/* Checks only r's conditions (a dry run of a rule being written, which needs
 * no name nor actions yet), as notes_rules_check does. */
bool notes_rules_check_conditions(struct cm_call *call, const Crm__Rule *r);

/* What a rule's conditions are held against: the customer as customers has
 * it, and the figures notes keeps. */
struct notes_rule_spent {
    char currency[4];
    int64_t amount_minor;
};
/* The order that started the rule (or, in a dry run, the customer's latest). */
struct notes_rule_order {
    char source[64];
    char id[256];
    char event_id[256];
    int64_t total_minor;
    char currency[4];
    bool first; // no other order of the customer was seen before it
};
struct notes_rule_facts {
    const char *const *tags; // borrowed
    size_t n_tags;
    const char *const *groups; // borrowed
    size_t n_groups;
    int source; // crm.Source
    int64_t orders;
    int64_t visits;                       // attended bookings
    int64_t last_visit_ms;                // 0: none
    int64_t last_visit_day;               // its date in the business's zone (days since 1970)
    int64_t today;                        // the business's today, likewise
    const struct notes_rule_spent *spent; // borrowed
    size_t n_spent;
    bool has_company;                     // a company name or a VAT number
    const struct notes_rule_order *order; // borrowed; NULL: no order (ORDER_* never hold)
};

/* True when every condition of r holds for f (true without conditions).
 * Tags and groups compare case-insensitively (ASCII), as customers keeps them
 * unique. LAST_VISIT_DAYS holds only for a customer who has visited, more
 * calendar days ago than the number, counted in the business's time zone
 * (f->today less f->last_visit_day). */
bool notes_rules_holds(const Crm__Rule *r, const struct notes_rule_facts *f);

/* True when the conditions of r need the figures (orders, visits, spent). */
bool notes_rules_needs_figures(const Crm__Rule *r);

/* The Orders bot. True for the triggers that carry an order (ORDER_PLACED,
 * ORDER_PAID); for an action that acts on the order (ORDER_*); for a
 * condition about the order (ORDER_TOTAL_AT_LEAST, FIRST_ORDER). */
bool notes_rules_order_trigger(Crm__RuleTrigger t);
bool notes_rules_order_action(Crm__RuleActionKind k);
bool notes_rules_order_condition(Crm__RuleConditionKind k);
/* True when r has an order action or an order condition: it needs the
 * order that started it. */
bool notes_rules_needs_order(const Crm__Rule *r);

/* The instruction kind an order action writes ("HOLD", "PRIORITY", "NOTE"),
 * NULL for another action (NOTIFY_STAFF e-mails, it writes none). */
const char *notes_rules_instruction_kind(Crm__RuleActionKind k);

/* A staff role ORDER_NOTIFY_STAFF may name, as the API spells it
 * ("ROLE_OWNER"); "" for another. */
const char *notes_rules_role_name(Crm__Role role);

/* A TAG_ADDED row's changes (the timeline details' JSON, {"changes": [{"field":
 * "tags", "oldValue": "[...]", "newValue": "[...]"}]}): true when the change
 * added tag (any tag when tag is ""). False for anything that does not read. */
bool notes_rules_tag_added(const char *details_json, const char *tag);

/* The text with {{firstName}}, {{lastName}} and {{fullName}} filled in
 * (malloc'd, the caller frees). Other braces stay as they are. */
char *notes_rules_fill(const char *text, const char *first_name, const char *last_name);

/* A tag list with tag added (add) or taken out, into a new array of
 * borrowed strings (*out, malloc'd, the caller frees the array only).
 * Returns false when nothing changes (already there, or not there). */
bool notes_rules_tags_edit(char *const *tags, size_t n, const char *tag, bool add, char ***out,
                           size_t *n_out);

/* The trigger's name as the store keeps it ("ORDER_PLACED"), NULL for none. */
const char *notes_rules_trigger_name(Crm__RuleTrigger t);
/* The trigger of its stored name, UNSPECIFIED for none. */
Crm__RuleTrigger notes_rules_trigger_of(const char *name);

#endif
