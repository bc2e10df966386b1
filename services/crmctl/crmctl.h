/* The commands of crmctl; each takes argv from its own name on and returns
 * the process exit code (0 ok, 1 failure, 2 usage). */
#ifndef CRMCTL_H
#define CRMCTL_H

#include <stddef.h>

struct crmctl_migration {
    const char *name;
    const char *sql;
};
extern const struct crmctl_migration crmctl_migrations[]; // generated (sql_bundle.c)
extern const size_t crmctl_n_migrations;

/* The default tenant's fixed id. */
#define CRMCTL_DEFAULT_TENANT "00000000-0000-4000-8000-000000000001"

int crmctl_migrate(int argc, char **argv);
int crmctl_bootstrap(int argc, char **argv);
int crmctl_tenant(int argc, char **argv);
int crmctl_key(int argc, char **argv);
int crmctl_call(int argc, char **argv);
int crmctl_events(int argc, char **argv);
int crmctl_outbox(int argc, char **argv);
int crmctl_bus_keys(int argc, char **argv);
/* Loads crmctl's own bus keys (the bus_* settings); 0, or -1 after saying why. */
int crmctl_bus_identity(void);

int crmctl_staff(int argc, char **argv);

struct cm_db;
/* A connection to CRM_DATABASE_URL (caller destroys), or NULL having said why on stderr. */
struct cm_db *crmctl_db(void);

/* Returns the value of --name in argv (or NULL). */
const char *crmctl_opt(int argc, char **argv, const char *name);

#endif
