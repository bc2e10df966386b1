/* crmctl: the operator's command line. Applies migrations, bootstraps the
 * default tenant, manages tenants and API keys (talking to PostgreSQL as the
 * owning role), calls any bus method, and follows an event stream. */
#include "crmctl.h"
#include "cm_log.h"

#include <stdio.h>
#include <string.h>

/* crmctl_publish.c */
int crmctl_publish(int argc, char **argv);

static int s_usage(void)
{
    fprintf(stderr,
            "usage: crmctl <command> [options]\n"
            "\n"
            "  migrate                         apply schema migrations to CRM_DATABASE_URL\n"
            "  bootstrap [--key-file PATH]     create the default tenant and its first admin key\n"
            "                                  (CRM_BOOTSTRAP_API_KEY, or a generated one)\n"
            "  tenant create NAME [--country CC]\n"
            "  tenant list\n"
            "  key create --tenant ID [--name NAME] [--role admin|staff|readonly|service]\n"
            "  key list [--tenant ID]\n"
            "  key revoke KEY_ID\n"
            "  staff create-owner --tenant ID|default --email E --name N\n"
            "         [--password-stdin | --generate-password] [--if-no-owner]\n"
            "                                  make a tenant's owner, who signs in to the web UI\n"
            "                                  (asks for the password, or reads one line)\n"
            "  staff set-password --tenant ID|default --email E\n"
            "         [--password-stdin | --generate-password]\n"
            "                                  a member's new password; their sessions end\n"
            "  keys create --tenant ID [--name NAME] [--scopes a,b | --role ROLE]\n"
            "                                  make an API key (printed once); with --scopes\n"
            "                                  (docs/api.md, \"Roles and scopes\") its role is\n"
            "                                  service; ROLE: owner|admin|staff|readonly|service\n"
            "  keys list [--tenant ID]         id, tenant, name, role, scopes, made, last used\n"
            "  keys revoke KEY_ID              (\"key\" works for \"keys\" too)\n"
            "  call SERVICE METHOD [JSON] [--key API_KEY | --tenant ID] [--timeout-ms N]\n"
            "                                  send one request over the bus; prints the reply\n"
            "  events [--stream NAME] [--out FILE | --state FILE] [--from SEQ]\n"
            "         [--count N] [--idle-exit-ms N] [--reader NAME]\n"
            "                                  follow an event stream as JSON lines; with\n"
            "                                  --reader, the events it has not read are kept\n"
            "  outbox [status]                 what the customers outbox keeps, and its readers\n"
            "  outbox prune [--older-than-days N] [--readers LIST]\n"
            "                                  delete events now as the retention would\n"
            "                                  (CRM_OUTBOX_RETAIN_DAYS, CRM_OUTBOX_READERS)\n"
            "  outbox forget READER            stop keeping events for a reader\n"
            "  publish [JSON] (--key API_KEY | --tenant ID) [--window N] [--timeout-ms N]\n"
            "          [--give-up-s N]         send booking/store events to the intake; without\n"
            "                                  JSON, one event per line on stdin (docs/bus.md)\n"
            "  bus-keys init [DIR] [--programs LIST]\n"
            "                                  a bus key pair for each program of the suite that\n"
            "                                  has none, broker.pub and their registry lines\n"
            "  bus-keys new-system --tenant ID --name NAME --scopes LIST\n"
            "                                  an outside system's key: registered, printed once\n"
            "  bus-keys list                   the keys the broker admits\n"
            "  bus-keys revoke NAME            remove a key from the registry\n"
            "\n"
            "Environment: CRM_DATABASE_URL, CRM_BUS_ENDPOINT, CRM_EVENTS_OUT_ENDPOINT.\n"
            "Bus keys: $CRM_DATA_DIR/keys (CRM_BUS_KEYS_DIR; CRM_BUS_CURVE).\n");
    return 2;
}

int main(int argc, char **argv)
{
    cm_log_init("crmctl");
    if (argc < 2)
        return s_usage();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "migrate"))
        return crmctl_migrate(argc - 1, argv + 1);
    if (!strcmp(cmd, "bootstrap"))
        return crmctl_bootstrap(argc - 1, argv + 1);
    if (!strcmp(cmd, "tenant"))
        return crmctl_tenant(argc - 1, argv + 1);
    if (!strcmp(cmd, "key") || !strcmp(cmd, "keys"))
        return crmctl_key(argc - 1, argv + 1);
    if (!strcmp(cmd, "staff")) {
        int rc = crmctl_staff(argc - 1, argv + 1);
        return rc == 2 ? s_usage() : rc;
    }
    if (!strcmp(cmd, "bus-keys"))
        return crmctl_bus_keys(argc - 1, argv + 1);
    /* The commands that speak on the bus, with crmctl's key. */
    if ((!strcmp(cmd, "call") || !strcmp(cmd, "events") || !strcmp(cmd, "publish")) &&
        crmctl_bus_identity() != 0)
        return 1;
    if (!strcmp(cmd, "call"))
        return crmctl_call(argc - 1, argv + 1);
    if (!strcmp(cmd, "events"))
        return crmctl_events(argc - 1, argv + 1);
    if (!strcmp(cmd, "outbox")) {
        int rc = crmctl_outbox(argc - 1, argv + 1);
        return rc == 2 ? s_usage() : rc;
    }
    if (!strcmp(cmd, "publish"))
        return crmctl_publish(argc - 1, argv + 1);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        s_usage();
        return 0;
    }
    fprintf(stderr, "crmctl: unknown command %s\n", cmd);
    return s_usage();
}
