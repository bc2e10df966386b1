/* crmctl staff: the first owner of a tenant, straight against PostgreSQL (as
 * `key create` makes the first key). Everyone after is invited in the UI. */
#include "crmctl.h"
#include "customers.pb-c.h"
#include "cm_db.h"
#include "cm_session.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>
#include <utf8proc.h>

#define PASSWORD_MIN 10
#define PASSWORD_MAX 256
#define ROLE_OWNER 5
#define STATUS_ACTIVE 2

/* What an operator did, as a security event the tenant's admins see. */
#define EVENT(kind)                                                                                \
    "INSERT INTO customers.security_events (tenant_id, kind, actor_id, actor_name, subject) "      \
    "VALUES ($1, " kind ", 'crmctl', 'crmctl', $2)"
#define OWNER_CREATED "13"
#define PASSWORD_SET "14"
_Static_assert(CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_OWNER_CREATED == 13 &&
                   CRM__SECURITY_EVENT_KIND__SECURITY_EVENT_KIND_PASSWORD_SET == 14,
               "crm.SecurityEventKind");

/* Reads one line of stdin into buf without its newline; with prompt (a
 * terminal), without echo. Returns 0, or -1 at end of input. */
static int s_read_line(const char *prompt, char *buf, size_t size)
{
    struct termios old, quiet;
    bool tty = prompt && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(buf, (int)size, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (!got)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* The e-mail's sign-in key: trimmed, Unicode case-folded and NFC-composed,
 * as the customers service keys staff (customers_validate_email_key). NULL
 * when it is not UTF-8. Caller frees. */
static char *s_email_key(const char *email)
{
    while (*email == ' ' || *email == '\t')
        email++;
    size_t n = strlen(email);
    while (n && (email[n - 1] == ' ' || email[n - 1] == '\t'))
        n--;
    utf8proc_uint8_t *folded = NULL;
    utf8proc_ssize_t len =
        utf8proc_map((const utf8proc_uint8_t *)email, (utf8proc_ssize_t)n, &folded,
                     (utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
    return len < 0 ? NULL : (char *)folded;
}

/* True when tenant has an active owner. */
static int s_has_owner(cm_db_t *db, const char *tenant, bool *has)
{
    const char *p[] = {tenant};
    cm_err_t err;
    PGresult *res = cm_db_exec(db,
                               "SELECT count(*) FROM customers.staff WHERE tenant_id = $1 "
                               "AND role = 5 AND status = 2",
                               1, p, &err);
    if (!res)
        return -1;
    *has = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
    PQclear(res);
    return 0;
}

/* The password of a command: generated (printed by the caller), one line of
 * stdin, or asked twice on a terminal. 0, or -1 having said why. */
static int s_password(bool from_stdin, bool generate, char *password, size_t size)
{
    if (generate) {
        char raw[CM_SESSION_TOKEN_LEN + 1];
        cm_session_token_new(raw);
        snprintf(password, size, "%.20s", raw);
        sodium_memzero(raw, sizeof raw);
        return 0;
    }
    char again[PASSWORD_MAX * 4 + 2];
    if (s_read_line(from_stdin ? NULL : "password: ", password, size)) {
        fprintf(stderr, "crmctl: no password given\n");
        return -1;
    }
    int rc = 0;
    if (!from_stdin && isatty(STDIN_FILENO) &&
        (s_read_line("password again: ", again, sizeof again) || strcmp(again, password))) {
        fprintf(stderr, "crmctl: the passwords differ\n");
        rc = -1;
    }
    sodium_memzero(again, sizeof again);
    size_t chars = cm_utf8_valid(password, strlen(password), NULL) ? cm_utf8_length(password) : 0;
    if (!rc && (chars < PASSWORD_MIN || chars > PASSWORD_MAX)) {
        fprintf(stderr, "crmctl: the password must be %d to %d characters\n", PASSWORD_MIN,
                PASSWORD_MAX);
        rc = -1;
    }
    return rc;
}

/* The tenant of --tenant (an id or "default"), or NULL. */
static const char *s_tenant(int argc, char **argv)
{
    const char *tenant = crmctl_opt(argc, argv, "--tenant");
    if (tenant && !strcmp(tenant, "default"))
        return CRMCTL_DEFAULT_TENANT;
    if (!tenant || !cm_uuid_valid(tenant)) {
        fprintf(stderr, "crmctl: --tenant: a tenant id (or default) is required\n");
        return NULL;
    }
    return tenant;
}

static int s_create_owner(int argc, char **argv)
{
    const char *email = crmctl_opt(argc, argv, "--email");
    const char *name = crmctl_opt(argc, argv, "--name");
    bool from_stdin = false, generate = false, if_none = false;
    for (int i = 1; i < argc; i++) {
        from_stdin |= !strcmp(argv[i], "--password-stdin");
        generate |= !strcmp(argv[i], "--generate-password");
        if_none |= !strcmp(argv[i], "--if-no-owner");
    }
    if (!email || !name || !*name || (from_stdin && generate))
        return 2;
    const char *tenant = s_tenant(argc, argv);
    if (!tenant)
        return 2;
    char *key = s_email_key(email);
    if (!key || !strchr(key, '@') || strlen(key) > 254) {
        fprintf(stderr, "crmctl: --email: not an e-mail address\n");
        free(key);
        return 2;
    }
    char password[PASSWORD_MAX * 4 + 2] = "";
    int rc = 1;
    cm_db_t *db = crmctl_db();
    if (!db)
        goto out;
    bool has = false;
    if (s_has_owner(db, tenant, &has)) {
        fprintf(stderr, "crmctl: %s\n", cm_db_error(db));
        goto out;
    }
    if (has && if_none) {
        rc = 0;
        goto out;
    }
    if (s_password(from_stdin, generate, password, sizeof password))
        goto out;
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), CM_SESSION_PWHASH_OPS,
                          CM_SESSION_PWHASH_MEM)) {
        fprintf(stderr, "crmctl: could not hash the password (out of memory)\n");
        goto out;
    }
    char id[40], role[8], status[8];
    cm_uuid(id);
    snprintf(role, sizeof role, "%d", ROLE_OWNER);
    snprintf(status, sizeof status, "%d", STATUS_ACTIVE);
    const char *p[] = {tenant, id, email, key, name, role, status, hash};
    cm_err_t err = cm_db_begin(db, tenant);
    if (!err)
        err = cm_db_run(db,
                        "INSERT INTO customers.staff (tenant_id, id, email, email_key, name, role, "
                        "status, password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        8, p);
    const char *ev[] = {tenant, email};
    if (!err)
        err = cm_db_run(db, EVENT(OWNER_CREATED), 2, ev);
    if (!err)
        err = cm_db_commit(db);
    cm_db_rollback(db);
    sodium_memzero(hash, sizeof hash);
    if (err == CM_ERR_CONFLICT) {
        fprintf(stderr, "crmctl: a member with this e-mail exists in the tenant\n");
        goto out;
    }
    if (err) {
        fprintf(stderr, "crmctl: could not create the owner: %s\n", cm_db_error(db));
        goto out;
    }
    if (generate)
        printf("owner: %s\npassword: %s\n", email, password);
    else
        printf("owner: %s (id %s)\n", email, id);
    rc = 0;
out:
    sodium_memzero(password, sizeof password);
    free(key);
    cm_db_destroy(&db);
    return rc;
}

/* A member's new password (they forgot theirs): their sessions end, and a
 * disabled member stays disabled. */
static int s_set_password(int argc, char **argv)
{
    const char *email = crmctl_opt(argc, argv, "--email");
    bool from_stdin = false, generate = false;
    for (int i = 1; i < argc; i++) {
        from_stdin |= !strcmp(argv[i], "--password-stdin");
        generate |= !strcmp(argv[i], "--generate-password");
    }
    if (!email || (from_stdin && generate))
        return 2;
    const char *tenant = s_tenant(argc, argv);
    if (!tenant)
        return 2;
    char *key = s_email_key(email);
    char password[PASSWORD_MAX * 4 + 2] = "", hash[crypto_pwhash_STRBYTES] = "";
    int rc = 1;
    cm_db_t *db = NULL;
    if (!key || s_password(from_stdin, generate, password, sizeof password))
        goto out;
    if (crypto_pwhash_str(hash, password, strlen(password), CM_SESSION_PWHASH_OPS,
                          CM_SESSION_PWHASH_MEM)) {
        fprintf(stderr, "crmctl: could not hash the password (out of memory)\n");
        goto out;
    }
    db = crmctl_db();
    if (!db)
        goto out;
    const char *p[] = {tenant, key, hash};
    cm_err_t err = cm_db_begin(db, tenant);
    PGresult *res = err ? NULL
                        : cm_db_exec(db,
                                     "UPDATE customers.staff SET password_hash = $3, "
                                     "status = CASE WHEN status = 1 THEN 2 ELSE status END "
                                     "WHERE tenant_id = $1 AND email_key = $2 RETURNING id, email",
                                     3, p, &err);
    bool found = res && PQntuples(res) == 1;
    char stored[512] = "";
    if (found) {
        snprintf(stored, sizeof stored, "%s", PQgetvalue(res, 0, 1));
        const char *q[] = {tenant, PQgetvalue(res, 0, 0)};
        err = cm_db_run(db,
                        "DELETE FROM customers.staff_sessions WHERE tenant_id = $1 "
                        "AND staff_id = $2",
                        2, q);
    }
    PQclear(res);
    const char *ev[] = {tenant, stored};
    if (!err && found)
        err = cm_db_run(db, EVENT(PASSWORD_SET), 2, ev);
    if (!err && found)
        err = cm_db_commit(db);
    cm_db_rollback(db);
    if (err) {
        fprintf(stderr, "crmctl: could not set the password: %s\n", cm_db_error(db));
        goto out;
    }
    if (!found) {
        fprintf(stderr, "crmctl: no member with this e-mail in the tenant\n");
        goto out;
    }
    if (generate)
        printf("member: %s\npassword: %s\n", email, password);
    else
        printf("member: %s: password set; their sessions ended\n", email);
    rc = 0;
out:
    sodium_memzero(password, sizeof password);
    sodium_memzero(hash, sizeof hash);
    free(key);
    cm_db_destroy(&db);
    return rc;
}

int crmctl_staff(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "create-owner"))
        return s_create_owner(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "set-password"))
        return s_set_password(argc, argv);
    return 2;
}
