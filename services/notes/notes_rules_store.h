/* Every SQL statement of the automation rules (sql/025_rules.sql): the rules,
 * their runs (claim, outcome, history) and the figures their conditions read.
 * Each names the tenant; row-level security is a second wall. */
#ifndef NOTES_RULES_STORE_H
#define NOTES_RULES_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "notes_rules_eval.h"
#include "customers.pb-c.h"
#include "rules.pb-c.h"

#define NOTES_RULE_ID_SIZE 37

/* The rules of the tenant: how many there are. */
cm_err_t notes_rules_store_count(cm_db_t *db, const char *tenant, int *n) CM_MUSTCHECK;

/* Inserts r (name, enabled, trigger, conditions, actions) and fills in its
 * id and times. CM_ERR_CONFLICT when the name is taken. */
cm_err_t notes_rules_store_insert(cm_db_t *db, const char *tenant, Crm__Rule *r) CM_MUSTCHECK;

/* Replaces rule id's definition with r's and fills r as stored.
 * CM_ERR_NOT_FOUND, CM_ERR_CONFLICT (name taken). */
cm_err_t notes_rules_store_update(cm_db_t *db, const char *tenant, const char *id,
                                  Crm__Rule *r) CM_MUSTCHECK;

/* Deletes a rule and its runs. CM_ERR_NOT_FOUND. */
cm_err_t notes_rules_store_delete(cm_db_t *db, const char *tenant, const char *id) CM_MUSTCHECK;

/* One rule (*out the caller's to free), with its counts of runs (counts) or
 * without (runs and failed_runs 0). CM_ERR_NOT_FOUND. */
cm_err_t notes_rules_store_get(cm_db_t *db, const char *tenant, const char *id, bool counts,
                               Crm__Rule **out) CM_MUSTCHECK;

/* Every rule of the tenant by name into resp. */
cm_err_t notes_rules_store_list(cm_db_t *db, const char *tenant,
                                Crm__ListRulesResponse *resp) CM_MUSTCHECK;

/* A page of a rule's runs, newest first; after: the position of the last
 * run of the page before ("<created_at µs>_<timeline id>", NULL for the
 * first). next gets the next page's position ("" when it is the last). */
cm_err_t notes_rules_store_runs(cm_db_t *db, const char *tenant, const char *rule_id,
                                const char *after, int limit, Crm__ListRuleRunsResponse *resp,
                                char *next, size_t next_size) CM_MUSTCHECK;

/* ---- The worker --------------------------------------------------------- */

/* A claimed run. */
struct notes_rule_claim {
    char tenant[NOTES_RULE_ID_SIZE];
    char rule_id[NOTES_RULE_ID_SIZE];
    char timeline_id[NOTES_RULE_ID_SIZE];
    char lease[NOTES_RULE_ID_SIZE];
};

/* Turns up to max recorded events of any tenant (no tenant on the session)
 * into runs of the rules they start (notes.expand_rule_events); *n gets the
 * events taken. */
cm_err_t notes_rules_store_expand(cm_db_t *db, int max, int *n) CM_MUSTCHECK;

/* Claims up to max due runs of any tenant (no tenant on the session) for
 * lease_s seconds; *n gets how many. */
cm_err_t notes_rules_store_claim(cm_db_t *db, int max, int lease_s, struct notes_rule_claim *out,
                                 int *n) CM_MUSTCHECK;

/* What a run needs: the customer, the event, the change's details, the
 * attempts made before this one. */
struct notes_rule_run {
    char customer_id[NOTES_RULE_ID_SIZE];
    char event_type[64];
    char *details; // owned: JSON
    int attempts;
};

/* The run of c, still held by c's lease (CM_ERR_NOT_FOUND otherwise). */
cm_err_t notes_rules_store_run_load(cm_db_t *db, const struct notes_rule_claim *c,
                                    struct notes_rule_run *run) CM_MUSTCHECK;

/* The run's outcome (result in English, outcomes the JSON array of
 * {"code", "value"}): status DONE, SKIPPED or FAILED (done), or PENDING again
 * after retry_ms; with the attempt counted. Only while c's lease holds (a
 * run whose lease ran out is someone else's; CM_ERR_CONFLICT). A FAILED
 * run also sets the rule's last error. */
cm_err_t notes_rules_store_run_end(cm_db_t *db, const struct notes_rule_claim *c,
                                   const char *status, const char *result, const char *outcomes,
                                   long retry_ms) CM_MUSTCHECK;

/* Gives up c's lease without an outcome (a copy that stops before it ran the
 * run): any copy may claim it again at once. */
cm_err_t notes_rules_store_release(cm_db_t *db, const struct notes_rule_claim *c) CM_MUSTCHECK;

/* The facts rule's conditions are held against for customer c: its tags,
 * groups and source (borrowed from c), and its figures when the rule needs
 * them (notes_rules_store_figures, up to max currencies into spent). zone:
 * the business's time zone (IANA name), for the days. */
cm_err_t notes_rules_store_facts(cm_db_t *db, const char *tenant, const Crm__Rule *rule,
                                 const Crm__Customer *c, const char *zone,
                                 struct notes_rule_facts *f, struct notes_rule_spent *spent,
                                 size_t max) CM_MUSTCHECK;

/* The figures of customer_id (zeros when none) into f's orders, visits,
 * last_visit_ms, and spent (up to max currencies); last_visit_day and today
 * as dates in zone (the business's time zone, an IANA name). */
cm_err_t notes_rules_store_figures(cm_db_t *db, const char *tenant, const char *customer_id,
                                   const char *zone, struct notes_rule_facts *f,
                                   struct notes_rule_spent *spent, size_t max) CM_MUSTCHECK;

/* A customer was deleted (customer.deleted, in the caller's transaction of
 * tenant): their runs keep the rule, the event, the status and each outcome's
 * code, not its value (an Orders bot note filled with their name, what an
 * upstream answered) nor a failed run's result. */
cm_err_t notes_rules_store_erase_customer(cm_db_t *db, const char *tenant,
                                          const char *customer_id) CM_MUSTCHECK;

#endif
