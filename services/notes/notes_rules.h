/* Automation rules (docs/rules.md): the bus methods (CreateRule, ...,
 * DryRunRule, ListRuleRuns) and the worker that runs the rules' actions
 * after the events that start them are committed. */
#ifndef NOTES_RULES_H
#define NOTES_RULES_H

#include <stddef.h>
#include "cm_svc.h"

/* How long a call to customers or notify waits: under the broker's worker
 * liveness, as elsewhere. */
#define NOTES_RULES_CALL_MS 2500
/* Currencies of a customer's money spent that a condition looks at. */
#define NOTES_RULES_SPENT_MAX 16

extern const struct cm_method notes_rules_methods[];
extern const size_t notes_rules_n_methods;

/* The worker's settings (main's config; borrowed for the service's life). */
struct notes_rules_cfg {
    const char *bus_endpoint; // borrowed (config)
    const char *database_url; // borrowed (config)
    const char *db_role;      // borrowed (config)
    long attempts;            // attempts of a run before it fails for good
    long retry_ms;            // the first retry's delay; doubling, at most an hour
    long poll_ms;             // how often an idle worker looks for work
    long threads;             // worker threads of this copy, 1..NOTES_RULES_THREADS_MAX
};
#define NOTES_RULES_THREADS_MAX 16

/* Starts the worker threads of this copy; stops and joins them. */
void notes_rules_start(cm_svc_t *svc, const struct notes_rules_cfg *cfg);
void notes_rules_stop(void);

#endif
