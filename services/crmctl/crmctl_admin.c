/* Migrations, tenants and API keys, straight against PostgreSQL. */
#include "crmctl.h"
#include "customers.pb-c.h"
#include "cm_apikey.h"
#include "cm_db.h"
#include "cm_events.h"
#include "cm_log.h"
#include "cm_outbox.h"
#include "cm_perm.h"
#include "cm_util.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

const char *crmctl_opt(int argc, char **argv, const char *name)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

static cm_db_t *s_db(void)
{
    const char *url = getenv("CRM_DATABASE_URL");
    cm_db_t *db = cm_db_new(url && *url ? url : "dbname=crm", NULL);
    if (cm_db_connect(db)) {
        fprintf(stderr, "crmctl: could not connect to the database: %s\n", cm_db_error(db));
        cm_db_destroy(&db);
    }
    return db;
}

cm_db_t *crmctl_db(void)
{
    return s_db();
}

/* ---------------------------------------------------------------------- */

int crmctl_migrate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cm_db_t *db = s_db();
    if (!db)
        return 1;
    int rc = 1;
    /* One migrator at a time, whoever runs it. */
    if (cm_db_run(db, "SET client_min_messages = warning", 0, NULL) ||
        cm_db_run(db,
                  "CREATE TABLE IF NOT EXISTS public.crm_migrations (name text PRIMARY KEY, "
                  "applied_at timestamptz NOT NULL DEFAULT now())",
                  0, NULL) ||
        cm_db_run(db, "SELECT pg_advisory_lock(hashtext('crm_migrations'))", 0, NULL)) {
        fprintf(stderr, "crmctl: could not prepare migrations: %s\n", cm_db_error(db));
        goto out;
    }
    int applied = 0;
    for (size_t i = 0; i < crmctl_n_migrations; i++) {
        const struct crmctl_migration *m = &crmctl_migrations[i];
        const char *p[] = {m->name};
        cm_err_t err;
        PGresult *res =
            cm_db_exec(db, "SELECT 1 FROM public.crm_migrations WHERE name = $1", 1, p, &err);
        if (!res) {
            fprintf(stderr, "crmctl: %s\n", cm_db_error(db));
            goto out;
        }
        bool done = PQntuples(res) == 1;
        PQclear(res);
        if (done)
            continue;
        /* A migration is many statements: run it as one simple query in a transaction. */
        PGconn *conn = cm_db_conn(db);
        char *sql = cm_strfmt("BEGIN;\n%s\nINSERT INTO public.crm_migrations (name) VALUES ('%s');"
                              "\nCOMMIT;",
                              m->sql, m->name);
        res = PQexec(conn, sql);
        free(sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "crmctl: migration %s failed: %s", m->name, PQresultErrorMessage(res));
            PQclear(res);
            PQclear(PQexec(conn, "ROLLBACK"));
            goto out;
        }
        PQclear(res);
        printf("applied %s\n", m->name);
        applied++;
    }
    if (!applied)
        printf("schema is up to date (%zu migrations)\n", crmctl_n_migrations);
    rc = 0;
out:
    cm_db_destroy(&db);
    return rc;
}

/* ---------------------------------------------------------------------- */

static int s_role_of(const char *name)
{
    if (!name || !strcmp(name, "admin"))
        return 1;
    if (!strcmp(name, "staff"))
        return 2;
    if (!strcmp(name, "readonly"))
        return 3;
    if (!strcmp(name, "service"))
        return 4;
    if (!strcmp(name, "owner"))
        return 5;
    return -1;
}

/* Creates a tenant with the default groups, in one transaction. */
static cm_err_t s_tenant_create(cm_db_t *db, const char *id, const char *name, const char *country)
{
    cm_err_t err = cm_db_begin(db, id);
    if (err)
        return err;
    const char *p[] = {id, name, country ? country : ""};
    err = cm_db_run(db,
                    "INSERT INTO customers.tenants (id, name, default_country) VALUES ($1, $2, $3) "
                    "ON CONFLICT DO NOTHING",
                    3, p);
    static const char *groups[][3] = {
        {"Standard", "Customers with no special terms", "#607d8b"},
        {"Business", "Companies and business customers", "#3f51b5"},
    };
    for (size_t i = 0; !err && i < 2; i++) {
        char gid[40];
        cm_uuid(gid);
        const char *q[] = {id, gid, groups[i][0], groups[i][1], groups[i][2]};
        err = cm_db_run(db,
                        "INSERT INTO customers.groups (tenant_id, id, name, name_key, description, "
                        "color) VALUES ($1, $2, $3, lower($3), $4, $5) ON CONFLICT DO NOTHING",
                        5, q);
    }
    if (err) {
        cm_db_rollback(db);
        return err;
    }
    return cm_db_commit(db);
}

/* The security event a key made or revoked leaves (as the customers
 * service's customers_keys_store_event writes it), from a CTE k(id,
 * tenant_id, name); kind is KEY_CREATED or KEY_REVOKED. */
#define KEY_CREATED "11"
#define KEY_REVOKED "12"
_Static_assert(CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_KEY_CREATED == 11 &&
                   CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_KEY_REVOKED == 12,
               "crm.SecurityEventKind");
#define KEY_EVENT(kind)                                                                            \
    " INSERT INTO customers.security_events (tenant_id, kind, actor_id, actor_name, subject) "     \
    "SELECT tenant_id, " kind ", 'crmctl', 'crmctl', name || ' (' || id || ')' FROM k"

/* Stores a key (hashed) with its scopes (a PostgreSQL array literal such as
 * "{customers:read}"; "{}" for none); key_id is its id. */
static cm_err_t s_key_store(cm_db_t *db, const char *tenant, const char *key, const char *name,
                            int role, const char *scopes, const char *key_id)
{
    uint8_t hash[CM_APIKEY_HASH_SIZE];
    cm_apikey_hash(key, hash);
    char rolebuf[8];
    snprintf(rolebuf, sizeof rolebuf, "%d", role);
    const char *p[] = {key_id, tenant, name, rolebuf, (const char *)hash, scopes};
    int lens[] = {0, 0, 0, 0, (int)sizeof hash, 0};
    int fmts[] = {0, 0, 0, 0, 1, 0};
    cm_err_t err;
    PGresult *res = cm_db_exec_bin(db,
                                   "WITH k AS (INSERT INTO customers.api_keys (id, tenant_id, "
                                   "name, role, key_hash, scopes, created_by) "
                                   "VALUES ($1, $2, $3, $4, $5, $6::text[], 'crmctl') "
                                   "RETURNING id, tenant_id, name)" KEY_EVENT(KEY_CREATED),
                                   6, p, lens, fmts, 0, &err);
    PQclear(res);
    return err;
}

/* "a,b" as the array literal "{a,b}" into out, each a scope of docs/api.md
 * and given once; -1 (said on stderr) otherwise. */
static int s_scopes_literal(const char *list, char *out, size_t size)
{
    unsigned seen = 0;
    size_t len = 0;
    out[len++] = '{';
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        enum cm_scope s = cm_scope_parse(p, n);
        if (s == CM_SCOPE_UNSET || (seen & (1u << s))) {
            fprintf(stderr, "crmctl: %.*s is %s\n", (int)n, p,
                    s == CM_SCOPE_UNSET ? "not a scope (docs/api.md, \"Roles and scopes\")"
                                        : "given twice");
            return -1;
        }
        seen |= 1u << s;
        const char *name = cm_scope_name(s);
        if (len + strlen(name) + 2 >= size)
            return -1;
        if (len > 1)
            out[len++] = ',';
        memcpy(out + len, name, strlen(name));
        len += strlen(name);
        p += n + (p[n] == ',');
    }
    if (len == 1) {
        fprintf(stderr, "crmctl: --scopes names no scope\n");
        return -1;
    }
    out[len++] = '}';
    out[len] = '\0';
    return 0;
}

int crmctl_bootstrap(int argc, char **argv)
{
    const char *key_file = crmctl_opt(argc, argv, "--key-file");
    const char *given = getenv("CRM_BOOTSTRAP_API_KEY");
    const char *country = getenv("CRM_DEFAULT_COUNTRY");
    cm_db_t *db = s_db();
    if (!db)
        return 1;
    int rc = 1;
    if (s_tenant_create(db, CRMCTL_DEFAULT_TENANT, "Default", country)) {
        fprintf(stderr, "crmctl: could not create the default tenant: %s\n", cm_db_error(db));
        goto out;
    }
    const char *p[] = {CRMCTL_DEFAULT_TENANT};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT count(*) FROM customers.api_keys WHERE tenant_id = $1 "
                               "AND role = 1 AND revoked_at IS NULL",
                               1, p, &err);
    if (!res) {
        fprintf(stderr, "crmctl: %s\n", cm_db_error(db));
        goto out;
    }
    bool has_admin = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
    PQclear(res);
    if (has_admin) {
        rc = 0;
        goto out;
    }
    char key[160], key_id[CM_APIKEY_ID_SIZE], secret[CM_APIKEY_SIZE];
    cm_apikey_new(secret, key_id);
    if (given && *given) {
        if (strlen(given) < 16 || strlen(given) > 128) {
            fprintf(stderr, "crmctl: CRM_BOOTSTRAP_API_KEY must be 16..128 characters\n");
            goto out;
        }
        snprintf(key, sizeof key, "%s", given);
    } else {
        snprintf(key, sizeof key, "%s", secret);
    }
    if (s_key_store(db, CRMCTL_DEFAULT_TENANT, key, "bootstrap administrator", 1, "{}", key_id)) {
        fprintf(stderr, "crmctl: could not store the key: %s\n", cm_db_error(db));
        goto out;
    }
    if (!(given && *given) && key_file) {
        int fd = open(key_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || write(fd, key, strlen(key)) != (ssize_t)strlen(key) ||
            write(fd, "\n", 1) != 1) {
            fprintf(stderr, "crmctl: could not write %s: %s\n", key_file, strerror(errno));
            if (fd >= 0)
                close(fd);
            goto out;
        }
        fchmod(fd, 0600);
        close(fd);
    }
    if (!(given && *given))
        printf("api key: %s\n", key);
    else
        printf("api key: as set by CRM_BOOTSTRAP_API_KEY (id %s)\n", key_id);
    rc = 0;
out:
    cm_db_destroy(&db);
    return rc;
}

int crmctl_tenant(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    cm_db_t *db = s_db();
    if (!db)
        return 1;
    int rc = 1;
    if (!strcmp(argv[1], "create") && argc >= 3) {
        char id[40];
        cm_uuid(id);
        const char *country = crmctl_opt(argc, argv, "--country");
        if (s_tenant_create(db, id, argv[2], country)) {
            fprintf(stderr, "crmctl: could not create tenant: %s\n", cm_db_error(db));
            goto out;
        }
        printf("%s\n", id);
        rc = 0;
    } else if (!strcmp(argv[1], "list")) {
        cm_err_t err;
        PGresult *res = cm_db_exec(db,
                                   "SELECT id, name, default_country FROM customers.tenants "
                                   "ORDER BY created_at",
                                   0, NULL, &err);
        if (!res) {
            fprintf(stderr, "crmctl: %s\n", cm_db_error(db));
            goto out;
        }
        for (int i = 0; i < PQntuples(res); i++)
            printf("%s\t%s\t%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2));
        PQclear(res);
        rc = 0;
    } else {
        rc = 2;
    }
out:
    cm_db_destroy(&db);
    return rc;
}

int crmctl_key(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    cm_db_t *db = s_db();
    if (!db)
        return 1;
    int rc = 1;
    if (!strcmp(argv[1], "create")) {
        const char *tenant = crmctl_opt(argc, argv, "--tenant");
        const char *name = crmctl_opt(argc, argv, "--name");
        const char *scopes = crmctl_opt(argc, argv, "--scopes");
        const char *role_name = crmctl_opt(argc, argv, "--role");
        /* A key with scopes is an integration's: role SERVICE (docs/api.md). */
        int role = s_role_of(scopes && !role_name ? "service" : role_name);
        char literal[512] = "{}";
        if (!tenant || role < 0) {
            fprintf(stderr, "crmctl: key create needs --tenant ID and a valid --role\n");
            rc = 2;
            goto out;
        }
        if (scopes && s_scopes_literal(scopes, literal, sizeof literal)) {
            rc = 2;
            goto out;
        }
        char key[CM_APIKEY_SIZE], key_id[CM_APIKEY_ID_SIZE];
        cm_apikey_new(key, key_id);
        if (s_key_store(db, tenant, key, name ? name : "api key", role, literal, key_id)) {
            fprintf(stderr, "crmctl: could not create key: %s\n", cm_db_error(db));
            goto out;
        }
        printf("%s\n", key);
        rc = 0;
    } else if (!strcmp(argv[1], "list")) {
        const char *tenant = crmctl_opt(argc, argv, "--tenant");
        const char *p[] = {tenant};
        cm_err_t err;
        PGresult *res = cm_db_exec(db,
                                   "SELECT id, tenant_id, name, role, created_at, revoked_at, "
                                   "array_to_string(scopes, ','), "
                                   "coalesce(last_used_at::text, 'never used') "
                                   "FROM customers.api_keys WHERE $1::uuid IS NULL OR "
                                   "tenant_id = $1::uuid ORDER BY created_at",
                                   1, p, &err);
        if (!res) {
            fprintf(stderr, "crmctl: %s\n", cm_db_error(db));
            goto out;
        }
        static const char *roles[] = {"?", "admin", "staff", "readonly", "service", "owner"};
        for (int i = 0; i < PQntuples(res); i++) {
            int r = (int)strtol(PQgetvalue(res, i, 3), NULL, 10);
            const char *scopes = PQgetvalue(res, i, 6);
            printf("%s\t%s\t%s\t%s\t%s\t%s\t%s%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2), roles[r >= 0 && r <= 5 ? r : 0], *scopes ? scopes : "-",
                   PQgetvalue(res, i, 4), PQgetvalue(res, i, 7),
                   PQgetisnull(res, i, 5) ? "" : "\trevoked");
        }
        PQclear(res);
        rc = 0;
    } else if (!strcmp(argv[1], "revoke") && argc >= 3) {
        const char *p[] = {argv[2]};
        cm_err_t err;
        PGresult *res =
            cm_db_exec(db,
                       "WITH k AS (UPDATE customers.api_keys SET revoked_at = now() "
                       "WHERE id = $1 AND revoked_at IS NULL "
                       "RETURNING id, tenant_id, name)" KEY_EVENT(KEY_REVOKED) " RETURNING 1",
                       1, p, &err);
        if (!res) {
            fprintf(stderr, "crmctl: %s\n", cm_db_error(db));
            goto out;
        }
        if (PQntuples(res) == 1) {
            printf("revoked %s\n", argv[2]);
            rc = 0;
        } else {
            fprintf(stderr, "crmctl: no active key %s\n", argv[2]);
        }
        PQclear(res);
    } else {
        rc = 2;
    }
out:
    cm_db_destroy(&db);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The customers stream's outbox: what it keeps, its readers, retention     */

static int s_outbox_status(cm_db_t *db)
{
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0), count(*), "
                               "count(*) FILTER (WHERE seq IS NULL), "
                               "pg_size_pretty(pg_total_relation_size('customers.outbox')), "
                               "coalesce(to_char(min(published_at) AT TIME ZONE 'UTC', "
                               "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-') "
                               "FROM customers.outbox",
                               0, NULL, &err);
    if (!res) {
        fprintf(stderr, "crmctl: %s\n", cm_db_error(db));
        return 1;
    }
    unsigned long long oldest = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    unsigned long long newest = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    printf("events kept\t%llu..%llu\n", oldest, newest);
    if (oldest > 1)
        printf("events deleted\t1..%llu\n", oldest - 1);
    else
        printf("events deleted\tnone\n");
    printf("rows\t%s (%s unpublished), %s\n", PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
           PQgetvalue(res, 0, 4));
    printf("oldest published\t%s\n", PQgetvalue(res, 0, 5));
    PQclear(res);
    res =
        cm_db_exec(db,
                   "SELECT name, seq, to_char(seen_at AT TIME ZONE 'UTC', "
                   "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM customers.stream_readers ORDER BY name",
                   0, NULL, &err);
    if (!res) {
        fprintf(stderr, "crmctl: %s\n", cm_db_error(db));
        return 1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        unsigned long long seq = strtoull(PQgetvalue(res, i, 1), NULL, 10);
        printf("reader %s\tseq %llu, %llu behind, seen %s%s\n", PQgetvalue(res, i, 0), seq,
               newest > seq ? newest - seq : 0, PQgetvalue(res, i, 2),
               oldest > 1 && seq + 1 < oldest ? " (cannot go on: its events are deleted)" : "");
    }
    PQclear(res);
    return 0;
}

/* The customers stream's outbox, as the customers service names it. */
static const struct cm_outbox s_customers_outbox = {
    .stream = "customers", .table = "customers.outbox", .readers = "customers.stream_readers"};

/* Prunes (cm_outbox_prune) until a batch comes back short. */
static int s_outbox_prune(cm_db_t *db, int argc, char **argv)
{
    const char *days_s = crmctl_opt(argc, argv, "--older-than-days");
    const char *readers = crmctl_opt(argc, argv, "--readers");
    long days = 30;
    if (!days_s)
        days_s = getenv("CRM_OUTBOX_RETAIN_DAYS");
    if (days_s && cm_parse_long(days_s, 0, 36500, &days)) {
        fprintf(stderr, "crmctl: --older-than-days: expected 0..36500 days\n");
        return 2;
    }
    if (!readers)
        readers = getenv("CRM_OUTBOX_READERS");
    if (!readers)
        readers = "notes, notify";
    if (!cm_events_readers_ok(readers)) {
        fprintf(stderr, "crmctl: --readers: comma-separated reader names (a-z, 0-9, '.', '_', "
                        "'-')\n");
        return 2;
    }
    long total = 0;
    for (;;) {
        long n = 0;
        uint64_t gone = 0;
        char held[200];
        cm_err_t err = cm_outbox_prune(db, &s_customers_outbox, days * 86400, readers, 10000, &n,
                                       &gone, held, sizeof held);
        if (err) {
            fprintf(stderr, "crmctl: %s\n", cm_db_error(db));
            return 1;
        }
        total += n;
        if (n < 10000) {
            printf("deleted %ld events older than %ld days; events up to seq %" PRIu64
                   " are gone%s%s\n",
                   total, days, gone, *held ? "; held back by " : "", held);
            return 0;
        }
    }
}

int crmctl_outbox(int argc, char **argv)
{
    const char *what = argc >= 2 ? argv[1] : "status";
    if (strcmp(what, "status") && strcmp(what, "prune") && strcmp(what, "forget"))
        return 2;
    if (!strcmp(what, "forget") && argc < 3)
        return 2;
    cm_db_t *db = s_db();
    if (!db)
        return 1;
    int rc = 1;
    if (!strcmp(what, "status")) {
        rc = s_outbox_status(db);
    } else if (!strcmp(what, "prune")) {
        rc = s_outbox_prune(db, argc, argv);
    } else {
        uint64_t seq = 0;
        cm_err_t err = cm_outbox_forget(db, &s_customers_outbox, argv[2], &seq);
        if (err == CM_ERR_NOT_FOUND) {
            fprintf(stderr, "crmctl: no reader %s\n", argv[2]);
        } else if (err) {
            fprintf(stderr, "crmctl: %s\n", cm_db_error(db));
        } else {
            printf("forgot reader %s (it was at seq %" PRIu64 "); events it has not read may now "
                   "be deleted\n",
                   argv[2], seq);
            rc = 0;
        }
    }
    cm_db_destroy(&db);
    return rc;
}
