/* Unit tests for notes_rules_eval: the conditions a rule holds a customer
 * to, the tag a change added, an e-mail's variables, tag lists, and the
 * checks and limits of a rule as a person writes it. */
#include "notes_rules_eval.h"
#include "cm_util.h"
#include "../unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define NOW_MS (20000 * DAY_MS)

static Crm__RuleCondition *s_cond(Crm__RuleConditionKind kind, int64_t number, const char *value)
{
    Crm__RuleCondition *c = cm_calloc(1, sizeof *c);
    crm__rule_condition__init(c);
    c->kind = kind;
    c->number = number;
    if (value)
        c->value = (char *)value;
    return c;
}

/* A rule of one condition (freed by s_free). */
static Crm__Rule s_rule1(Crm__RuleCondition *c)
{
    Crm__Rule r = CRM__RULE__INIT;
    r.conditions = cm_calloc(1, sizeof *r.conditions);
    r.conditions[0] = c;
    r.n_conditions = 1;
    return r;
}

static void s_free(Crm__Rule *r)
{
    for (size_t i = 0; i < r->n_conditions; i++)
        free(r->conditions[i]);
    free(r->conditions);
}

static void test_thresholds_hold_from_the_number_on(void)
{
    struct notes_rule_facts f = {.orders = 2, .visits = 3};
    struct {
        Crm__RuleConditionKind kind;
        int64_t at, below;
    } cases[] = {{CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_ORDERS, 2, 3},
                 {CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_VISITS, 3, 4}};
    for (size_t i = 0; i < 2; i++) {
        Crm__Rule r = s_rule1(s_cond(cases[i].kind, cases[i].at, NULL));
        CHECK(notes_rules_holds(&r, &f));
        r.conditions[0]->number = cases[i].below;
        CHECK(!notes_rules_holds(&r, &f));
        r.conditions[0]->number = 0;
        CHECK(notes_rules_holds(&r, &f));
        s_free(&r);
    }
}

static void test_spent_counts_only_its_currency(void)
{
    struct notes_rule_spent spent[] = {{"EUR", 10000}, {"PLN", 50000}};
    struct notes_rule_facts f = {.spent = spent, .n_spent = 2};
    Crm__Rule r = s_rule1(s_cond(CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_SPENT, 10000, NULL));
    r.conditions[0]->currency = "EUR";
    CHECK(notes_rules_holds(&r, &f));
    r.conditions[0]->number = 10001;
    CHECK(!notes_rules_holds(&r, &f));
    r.conditions[0]->currency = "CZK"; /* never spent in it: 0 */
    r.conditions[0]->number = 1;
    CHECK(!notes_rules_holds(&r, &f));
    r.conditions[0]->number = 0;
    CHECK(notes_rules_holds(&r, &f));
    s_free(&r);
}

static void test_last_visit_more_than_days_ago(void)
{
    /* Calendar days in the business's zone: the store gives both dates. */
    struct notes_rule_facts f = {
        .last_visit_ms = NOW_MS - 30 * DAY_MS, .last_visit_day = 19970, .today = 20000};
    Crm__Rule r =
        s_rule1(s_cond(CRM__RULE_CONDITION_KIND__RULE_CONDITION_LAST_VISIT_DAYS, 29, NULL));
    CHECK(notes_rules_holds(&r, &f));
    r.conditions[0]->number = 30; /* exactly 30 days is not more than 30 */
    CHECK(!notes_rules_holds(&r, &f));
    /* A visit late yesterday evening, a few hours ago: one day ago, not zero. */
    f.last_visit_ms = NOW_MS - 3600000;
    f.last_visit_day = 19999;
    r.conditions[0]->number = 0;
    CHECK(notes_rules_holds(&r, &f));
    f.last_visit_day = 20000; /* today's: not more than 0 days ago */
    CHECK(!notes_rules_holds(&r, &f));
    f.last_visit_ms = 0; /* never visited: no last visit to be long ago */
    f.last_visit_day = 0;
    CHECK(!notes_rules_holds(&r, &f));
    s_free(&r);
}

static void test_tags_groups_and_source(void)
{
    const char *tags[] = {"VIP", "newsletter"};
    const char *groups[] = {"Stammkunden"};
    struct notes_rule_facts f = {.tags = tags,
                                 .n_tags = 2,
                                 .groups = groups,
                                 .n_groups = 1,
                                 .source = CRM__SOURCE__SOURCE_STORE};
    Crm__Rule r = s_rule1(s_cond(CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_TAG, 0, "vip"));
    CHECK(notes_rules_holds(&r, &f)); /* case does not count */
    r.conditions[0]->kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_NOT_TAG;
    CHECK(!notes_rules_holds(&r, &f));
    r.conditions[0]->value = "other";
    CHECK(notes_rules_holds(&r, &f));
    r.conditions[0]->kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_IN_GROUP;
    CHECK(!notes_rules_holds(&r, &f));
    r.conditions[0]->value = "stammkunden";
    CHECK(notes_rules_holds(&r, &f));
    r.conditions[0]->kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_SOURCE;
    r.conditions[0]->source = CRM__SOURCE__SOURCE_STORE;
    CHECK(notes_rules_holds(&r, &f));
    r.conditions[0]->source = CRM__SOURCE__SOURCE_BOOKING;
    CHECK(!notes_rules_holds(&r, &f));
    s_free(&r);
}

static void test_all_conditions_must_hold(void)
{
    const char *tags[] = {"vip"};
    struct notes_rule_facts f = {.tags = tags, .n_tags = 1, .orders = 5};
    Crm__Rule r = CRM__RULE__INIT;
    CHECK(notes_rules_holds(&r, &f)); /* none: holds */
    CHECK(!notes_rules_needs_figures(&r));
    Crm__RuleCondition *cs[] = {
        s_cond(CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_TAG, 0, "vip"),
        s_cond(CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_ORDERS, 5, NULL)};
    r.conditions = cs;
    r.n_conditions = 2;
    CHECK(notes_rules_holds(&r, &f));
    CHECK(notes_rules_needs_figures(&r));
    f.orders = 4;
    CHECK(!notes_rules_holds(&r, &f));
    f.orders = 5;
    f.n_tags = 0;
    CHECK(!notes_rules_holds(&r, &f));
    free(cs[0]);
    free(cs[1]);
}

static void test_tag_added_reads_the_change(void)
{
    const char *d = "{\"changes\":[{\"field\":\"tags\",\"oldValue\":\"[\\\"a\\\"]\","
                    "\"newValue\":\"[\\\"a\\\",\\\"VIP\\\"]\"}]}";
    CHECK(notes_rules_tag_added(d, "vip"));
    CHECK(notes_rules_tag_added(d, ""));
    CHECK(!notes_rules_tag_added(d, "a")); /* there before */
    CHECK(!notes_rules_tag_added(d, "b"));
    /* The first tag of a customer without tags: oldValue absent. */
    CHECK(notes_rules_tag_added("{\"changes\":[{\"field\":\"tags\",\"newValue\":\"[\\\"x\\\"]\"}]}",
                                "x"));
    /* A tag taken away adds nothing; other fields are not tags. */
    CHECK(!notes_rules_tag_added("{\"changes\":[{\"field\":\"tags\",\"oldValue\":\"[\\\"x\\\"]\","
                                 "\"newValue\":\"[]\"}]}",
                                 ""));
    CHECK(!notes_rules_tag_added("{\"changes\":[{\"field\":\"firstName\",\"newValue\":"
                                 "\"[\\\"x\\\"]\"}]}",
                                 "x"));
    CHECK(!notes_rules_tag_added("not json", ""));
    CHECK(!notes_rules_tag_added("{}", ""));
    CHECK(!notes_rules_tag_added(NULL, ""));
}

static void test_fill_variables(void)
{
    char *s = notes_rules_fill("Hallo {{firstName}} {{lastName}}, {{fullName}}! {{other}} {{",
                               "Jürgen", "Łukasz");
    CHECK_STR(s, "Hallo Jürgen Łukasz, Jürgen Łukasz! {{other}} {{");
    free(s);
    s = notes_rules_fill("{{fullName}}{{fullName}}{{fullName}}", "", "Nowak");
    CHECK_STR(s, "NowakNowakNowak");
    free(s);
    s = notes_rules_fill("", "a", "b");
    CHECK_STR(s, "");
    free(s);
}

static void test_tags_edit(void)
{
    char *tags[] = {"a", "VIP"};
    char **out = NULL;
    size_t n = 0;
    CHECK(!notes_rules_tags_edit(tags, 2, "vip", true, &out, &n)); /* there already */
    CHECK(!notes_rules_tags_edit(tags, 2, "b", false, &out, &n));  /* not there */
    CHECK(notes_rules_tags_edit(tags, 2, "b", true, &out, &n));
    CHECK(n == 3 && !strcmp(out[2], "b"));
    free(out);
    CHECK(notes_rules_tags_edit(tags, 2, "vip", false, &out, &n));
    CHECK(n == 1 && !strcmp(out[0], "a"));
    free(out);
    CHECK(notes_rules_tags_edit(NULL, 0, "x", true, &out, &n));
    CHECK(n == 1);
    free(out);
}

static void test_trigger_names(void)
{
    CHECK_STR(notes_rules_trigger_name(CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PLACED),
              "ORDER_PLACED");
    CHECK(notes_rules_trigger_of("TAG_ADDED") == CRM__RULE_TRIGGER__RULE_TRIGGER_TAG_ADDED);
    CHECK(notes_rules_trigger_name(CRM__RULE_TRIGGER__RULE_TRIGGER_UNSPECIFIED) == NULL);
    CHECK(notes_rules_trigger_of("nope") == CRM__RULE_TRIGGER__RULE_TRIGGER_UNSPECIFIED);
    CHECK(notes_rules_trigger_of(NULL) == CRM__RULE_TRIGGER__RULE_TRIGGER_UNSPECIFIED);
}

/* ---- Checking: a cm_call without a service, for its violations ---------- */

static bool s_field(const struct cm_call *call, const char *field)
{
    for (size_t i = 0; i < call->reply.n_details; i++)
        if (!strcmp(call->reply.details[i]->field, field))
            return true;
    return false;
}

static void s_call_free(struct cm_call *call)
{
    for (size_t i = 0; i < call->reply.n_details; i++)
        crm__field_violation__free_unpacked(call->reply.details[i], NULL);
    free(call->reply.details);
}

/* Checks r; true when it passes. want: a field that must be named, or NULL. */
static bool s_check(const Crm__Rule *r, const char *want)
{
    struct cm_call call;
    Crm__RequestHeader hdr = CRM__REQUEST_HEADER__INIT;
    memset(&call, 0, sizeof call);
    crm__reply_header__init(&call.reply);
    call.hdr = &hdr;
    bool ok = notes_rules_check(&call, r);
    if (want && !s_field(&call, want)) {
        fprintf(stderr, "no violation of %s\n", want);
        abort();
    }
    s_call_free(&call);
    return ok;
}

static void test_check_limits(void)
{
    Crm__RuleAction tag = CRM__RULE_ACTION__INIT;
    tag.kind = CRM__RULE_ACTION_KIND__RULE_ACTION_ADD_TAG;
    tag.value = "vip";
    Crm__RuleAction *actions[NOTES_RULE_ACTIONS_MAX + 1];
    for (size_t i = 0; i <= NOTES_RULE_ACTIONS_MAX; i++)
        actions[i] = &tag;
    Crm__RuleCondition cond = CRM__RULE_CONDITION__INIT;
    cond.kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_ORDERS;
    cond.number = 1;
    Crm__RuleCondition *conds[NOTES_RULE_CONDITIONS_MAX + 1];
    for (size_t i = 0; i <= NOTES_RULE_CONDITIONS_MAX; i++)
        conds[i] = &cond;
    Crm__Rule r = CRM__RULE__INIT;
    r.name = "Big spender";
    r.trigger = CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PLACED;
    r.actions = actions;
    r.n_actions = NOTES_RULE_ACTIONS_MAX;
    r.conditions = conds;
    r.n_conditions = NOTES_RULE_CONDITIONS_MAX;
    CHECK(s_check(&r, NULL));
    r.n_actions = NOTES_RULE_ACTIONS_MAX + 1;
    CHECK(!s_check(&r, "rule.actions"));
    r.n_actions = 0;
    CHECK(!s_check(&r, "rule.actions"));
    r.n_actions = 1;
    r.n_conditions = NOTES_RULE_CONDITIONS_MAX + 1;
    CHECK(!s_check(&r, "rule.conditions"));
    r.n_conditions = 1;
    char name[NOTES_RULE_NAME_MAX * 2 + 2];
    memset(name, 0, sizeof name);
    for (size_t i = 0; i < NOTES_RULE_NAME_MAX; i++)
        memcpy(name + 2 * i, "\xc5\x82", 2); /* ł: characters, not bytes, count */
    r.name = name;
    CHECK(s_check(&r, NULL));
    memcpy(name + 2 * NOTES_RULE_NAME_MAX, "x", 2);
    CHECK(!s_check(&r, "rule.name"));
    r.name = "";
    CHECK(!s_check(&r, "rule.name"));
    r.name = "ok";
    r.trigger = CRM__RULE_TRIGGER__RULE_TRIGGER_UNSPECIFIED;
    CHECK(!s_check(&r, "rule.trigger"));
    r.trigger = CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PLACED;
    r.trigger_tag = "vip"; /* only TAG_ADDED has a tag */
    CHECK(!s_check(&r, "rule.triggerTag"));
    r.trigger = CRM__RULE_TRIGGER__RULE_TRIGGER_TAG_ADDED;
    CHECK(s_check(&r, NULL));
    cond.number = -1;
    CHECK(!s_check(&r, "rule.conditions[0].number"));
    cond.number = NOTES_RULE_NUMBER_MAX;
    CHECK(s_check(&r, NULL));
    cond.kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_LAST_VISIT_DAYS;
    CHECK(!s_check(&r, "rule.conditions[0].number"));
    cond.kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_MIN_SPENT;
    cond.number = 1;
    cond.currency = "eur";
    CHECK(!s_check(&r, "rule.conditions[0].currency"));
    cond.currency = "EUR";
    CHECK(s_check(&r, NULL));
    cond.kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_SOURCE;
    CHECK(!s_check(&r, "rule.conditions[0].source"));
    cond.source = CRM__SOURCE__SOURCE_SIGNUP;
    CHECK(s_check(&r, NULL));
    cond.kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_UNSPECIFIED;
    CHECK(!s_check(&r, "rule.conditions[0].kind"));
    cond.kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_TAG;
    CHECK(!s_check(&r, "rule.conditions[0].value"));
}

static void test_check_email(void)
{
    Crm__RuleAction mail = CRM__RULE_ACTION__INIT;
    mail.kind = CRM__RULE_ACTION_KIND__RULE_ACTION_SEND_EMAIL;
    mail.subject = "Hallo {{firstName}}";
    mail.text = "Zeile eins\nZeile zwei";
    Crm__RuleAction *actions[] = {&mail};
    Crm__Rule r = CRM__RULE__INIT;
    r.name = "welcome";
    r.trigger = CRM__RULE_TRIGGER__RULE_TRIGGER_CUSTOMER_CREATED;
    r.actions = actions;
    r.n_actions = 1;
    CHECK(s_check(&r, NULL));
    mail.subject = "two\nlines";
    CHECK(!s_check(&r, "rule.actions[0].subject"));
    mail.subject = "";
    CHECK(!s_check(&r, "rule.actions[0].subject"));
    mail.subject = "ok";
    mail.text = "";
    CHECK(!s_check(&r, "rule.actions[0].text"));
    CHECK(!s_check(NULL, "rule"));
}

static void test_check_conditions_alone(void)
{
    /* A dry run of a rule being written: no name, no actions yet. */
    Crm__RuleCondition cond = CRM__RULE_CONDITION__INIT;
    cond.kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_TAG;
    cond.value = "vip";
    Crm__RuleCondition *conds[] = {&cond};
    Crm__Rule r = CRM__RULE__INIT;
    r.conditions = conds;
    r.n_conditions = 1;
    Crm__RequestHeader hdr = CRM__REQUEST_HEADER__INIT;
    struct cm_call call;
    memset(&call, 0, sizeof call);
    crm__reply_header__init(&call.reply);
    call.hdr = &hdr;
    CHECK(notes_rules_check_conditions(&call, &r));
    CHECK(!notes_rules_check(&call, &r)); /* as a rule to store: name and actions missing */
    CHECK(s_field(&call, "rule.name") && s_field(&call, "rule.actions"));
    s_call_free(&call);
    memset(&call, 0, sizeof call);
    crm__reply_header__init(&call.reply);
    call.hdr = &hdr;
    cond.value = "";
    CHECK(!notes_rules_check_conditions(&call, &r));
    CHECK(s_field(&call, "rule.conditions[0].value"));
    s_call_free(&call);
}

/* ---- The Orders bot ---------------------------------------------------- */

static void test_order_total_counts_only_its_currency(void)
{
    struct notes_rule_order o = {.total_minor = 15000, .currency = "EUR"};
    struct notes_rule_facts f = {.order = &o};
    Crm__Rule r =
        s_rule1(s_cond(CRM__RULE_CONDITION_KIND__RULE_CONDITION_ORDER_TOTAL_AT_LEAST, 15000, NULL));
    r.conditions[0]->currency = "EUR";
    CHECK(notes_rules_holds(&r, &f));
    r.conditions[0]->number = 15001;
    CHECK(!notes_rules_holds(&r, &f));
    r.conditions[0]->number = 100;
    r.conditions[0]->currency = "PLN"; /* another currency's total is not compared */
    CHECK(!notes_rules_holds(&r, &f));
    r.conditions[0]->currency = "EUR";
    f.order = NULL; /* no order: never */
    CHECK(!notes_rules_holds(&r, &f));
    r.conditions[0]->number = 0;
    CHECK(!notes_rules_holds(&r, &f));
    s_free(&r);
}

static void test_first_order_and_company(void)
{
    struct notes_rule_order o = {.first = true};
    struct notes_rule_facts f = {.order = &o};
    Crm__Rule r = s_rule1(s_cond(CRM__RULE_CONDITION_KIND__RULE_CONDITION_FIRST_ORDER, 0, NULL));
    CHECK(notes_rules_holds(&r, &f));
    o.first = false;
    CHECK(!notes_rules_holds(&r, &f));
    f.order = NULL;
    CHECK(!notes_rules_holds(&r, &f));
    r.conditions[0]->kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_COMPANY;
    CHECK(!notes_rules_holds(&r, &f));
    f.has_company = true; /* holds without an order: any trigger */
    CHECK(notes_rules_holds(&r, &f));
    CHECK(!notes_rules_needs_order(&r));
    r.conditions[0]->kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_FIRST_ORDER;
    CHECK(notes_rules_needs_order(&r));
    CHECK(!notes_rules_needs_figures(&r));
    s_free(&r);
}

static void test_order_kinds(void)
{
    CHECK(notes_rules_order_trigger(CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PLACED));
    CHECK(notes_rules_order_trigger(CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PAID));
    CHECK(!notes_rules_order_trigger(CRM__RULE_TRIGGER__RULE_TRIGGER_TAG_ADDED));
    CHECK_STR(notes_rules_instruction_kind(CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_HOLD), "HOLD");
    CHECK_STR(notes_rules_instruction_kind(CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_PRIORITY),
              "PRIORITY");
    CHECK_STR(notes_rules_instruction_kind(CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTE), "NOTE");
    CHECK(notes_rules_instruction_kind(CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTIFY_STAFF) ==
          NULL);
    CHECK(notes_rules_order_action(CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTIFY_STAFF));
    CHECK(!notes_rules_order_action(CRM__RULE_ACTION_KIND__RULE_ACTION_SEND_EMAIL));
    CHECK_STR(notes_rules_role_name(CRM__ROLE__ROLE_OWNER), "ROLE_OWNER");
    CHECK_STR(notes_rules_role_name(CRM__ROLE__ROLE_READONLY), "ROLE_READONLY");
    CHECK_STR(notes_rules_role_name(CRM__ROLE__ROLE_SERVICE), "");
}

/* A string of n copies of the two-byte character "ł". */
static char *s_chars(size_t n)
{
    char *s = cm_malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + 2 * i, "\xc5\x82", 2);
    s[2 * n] = '\0';
    return s;
}

/* r passes with *text of max characters and fails on field with max + 1. */
static void s_check_length(const Crm__Rule *r, char **text, size_t max, const char *field)
{
    char *at_max = s_chars(max), *over = s_chars(max + 1);
    *text = at_max;
    CHECK(s_check(r, NULL));
    *text = over;
    CHECK(!s_check(r, field));
    *text = "";
    free(at_max);
    free(over);
}

static void test_check_order_actions(void)
{
    Crm__RuleAction a = CRM__RULE_ACTION__INIT;
    Crm__RuleAction *actions[] = {&a};
    Crm__RuleCondition cond = CRM__RULE_CONDITION__INIT;
    Crm__RuleCondition *conds[] = {&cond};
    Crm__Rule r = CRM__RULE__INIT;
    r.name = "Problem orders";
    r.trigger = CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PLACED;
    r.actions = actions;
    r.n_actions = 1;
    a.kind = CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_HOLD;
    a.value = "customer tagged PROBLEM";
    CHECK(s_check(&r, NULL));
    /* Only an order trigger has an order: the action is named. */
    r.trigger = CRM__RULE_TRIGGER__RULE_TRIGGER_CUSTOMER_CREATED;
    CHECK(!s_check(&r, "rule.actions[0].kind"));
    r.trigger = CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PAID;
    s_check_length(&r, &a.value, NOTES_RULE_HOLD_MAX, "rule.actions[0].value");
    a.value = "";
    CHECK(!s_check(&r, "rule.actions[0].value"));
    a.kind = CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_PRIORITY;
    s_check_length(&r, &a.value, NOTES_RULE_PRIORITY_MAX, "rule.actions[0].value");
    a.kind = CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTE;
    s_check_length(&r, &a.text, NOTES_RULE_NOTE_MAX, "rule.actions[0].text");
    a.kind = CRM__RULE_ACTION_KIND__RULE_ACTION_ORDER_NOTIFY_STAFF;
    a.subject = "Check the VAT number";
    a.text = "Order of {{fullName}}";
    CHECK(!s_check(&r, "rule.actions[0].staffEmail")); /* whom? */
    a.staff_email = "shop@example.com";
    CHECK(s_check(&r, NULL));
    a.staff_role = CRM__ROLE__ROLE_ADMIN; /* not both */
    CHECK(!s_check(&r, "rule.actions[0].staffRole"));
    a.staff_email = "";
    CHECK(s_check(&r, NULL));
    a.staff_role = CRM__ROLE__ROLE_SERVICE;
    CHECK(!s_check(&r, "rule.actions[0].staffRole"));
    a.staff_role = CRM__ROLE__ROLE_UNSPECIFIED;
    a.staff_email = "two@example.com, three@example.com";
    CHECK(!s_check(&r, "rule.actions[0].staffEmail"));
    /* Order conditions also need an order trigger; HAS_COMPANY does not. */
    a.staff_email = "shop@example.com";
    r.conditions = conds;
    r.n_conditions = 1;
    cond.kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_FIRST_ORDER;
    CHECK(s_check(&r, NULL));
    a.kind = CRM__RULE_ACTION_KIND__RULE_ACTION_ADD_TAG;
    a.value = "vip";
    r.trigger = CRM__RULE_TRIGGER__RULE_TRIGGER_VISIT_COMPLETED;
    CHECK(!s_check(&r, "rule.conditions[0].kind"));
    cond.kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_HAS_COMPANY;
    CHECK(s_check(&r, NULL));
    cond.kind = CRM__RULE_CONDITION_KIND__RULE_CONDITION_ORDER_TOTAL_AT_LEAST;
    r.trigger = CRM__RULE_TRIGGER__RULE_TRIGGER_ORDER_PLACED;
    cond.currency = "";
    CHECK(!s_check(&r, "rule.conditions[0].currency"));
    cond.currency = "EUR";
    cond.number = -5;
    CHECK(!s_check(&r, "rule.conditions[0].number"));
    cond.number = 5000;
    CHECK(s_check(&r, NULL));
}

int main(void)
{
    RUN(test_thresholds_hold_from_the_number_on);
    RUN(test_spent_counts_only_its_currency);
    RUN(test_last_visit_more_than_days_ago);
    RUN(test_tags_groups_and_source);
    RUN(test_all_conditions_must_hold);
    RUN(test_tag_added_reads_the_change);
    RUN(test_fill_variables);
    RUN(test_tags_edit);
    RUN(test_trigger_names);
    RUN(test_check_limits);
    RUN(test_check_email);
    RUN(test_check_conditions_alone);
    RUN(test_order_total_counts_only_its_currency);
    RUN(test_first_order_and_company);
    RUN(test_order_kinds);
    RUN(test_check_order_actions);
    return 0;
}
