/* crmctl bus-keys: the bus's key pairs and the broker's registry of admitted
 * keys (docs/bus.md, "Who may speak"; docs/operations.md, "Bus keys"). Also
 * the identity crmctl itself uses on the bus. */
#include "crmctl.h"
#include "cm_cfg.h"
#include "cm_curve.h"
#include "cm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The suite's own programs, each with its key: the broker (the server's
 * pair), the services, the gateway and crmctl. */
#define S_SUITE "broker,customers,search,notes,company,notify,exchange,gateway,crmctl"

int crmctl_bus_identity(void)
{
    char err[512];
    const struct cm_cfg_item *items = cm_curve_cfg_items();
    if (cm_cfg_load("crmctl", items, err, sizeof err) != 0) {
        fprintf(stderr, "crmctl: configuration error: %s\n", err);
        return -1;
    }
    cm_curve_cfg_resolve("crmctl");
    if (cm_curve_start("crmctl", err, sizeof err) != 0) {
        fprintf(stderr, "crmctl: bus keys: %s\n", err);
        return -1;
    }
    return 0;
}

/* The keys directory: --dir, else the bus_keys_dir setting. */
static const char *s_dir(int argc, char **argv)
{
    const char *dir = crmctl_opt(argc, argv, "--dir");
    if (dir)
        return dir;
    char err[512];
    if (cm_cfg_load("crmctl", cm_curve_cfg_items(), err, sizeof err) != 0) {
        fprintf(stderr, "crmctl: configuration error: %s\n", err);
        return NULL;
    }
    return cm_curve_keys_dir();
}

static int s_mkdir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "crmctl: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "crmctl: %s is not a directory\n", dir);
        return -1;
    }
    if ((st.st_mode & 077) && chmod(dir, 0700) != 0) {
        fprintf(stderr, "crmctl: cannot make %s private (0700): %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* The registry's text, "" when there is none yet. NULL on a read error. */
static char *s_registry_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return cm_strdup("");
        fprintf(stderr, "crmctl: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *text = cm_malloc(cap);
    size_t r;
    while ((r = fread(text + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            if (cap > CM_CURVE_FILE_MAX) {
                fprintf(stderr, "crmctl: %s is larger than a registry may be\n", path);
                fclose(f);
                free(text);
                return NULL;
            }
            cap *= 2;
            text = cm_realloc(text, cap);
        }
    }
    fclose(f);
    text[n] = '\0';
    return text;
}

/* Replaces the registry by `text` after checking that it parses: a new file
 * renamed over the old one, so the broker never reads half of it. */
static int s_registry_write(const char *path, const char *text)
{
    char err[512];
    cm_curve_registry_t *check = cm_curve_registry_parse(text, strlen(text), err, sizeof err);
    if (!check) {
        fprintf(stderr, "crmctl: the registry would not be valid: %s\n", err);
        return -1;
    }
    cm_curve_registry_destroy(&check);
    char *tmp = cm_strfmt("%s.new.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t n = strlen(text);
    int rc = -1;
    if (fd >= 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0 && close(fd) == 0) {
        fd = -1;
        rc = rename(tmp, path);
    }
    if (rc != 0) {
        fprintf(stderr, "crmctl: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* The text with a line appended (adding the newline a last line may lack). */
static char *s_append(const char *text, const char *line)
{
    size_t n = strlen(text);
    return cm_strfmt("%s%s%s", text, n && text[n - 1] != '\n' ? "\n" : "", line);
}

static enum cm_curve_kind s_suite_kind(const char *name)
{
    return !strcmp(name, "gateway")  ? CM_CURVE_GATEWAY
           : !strcmp(name, "crmctl") ? CM_CURVE_CRMCTL
                                     : CM_CURVE_SERVICE;
}

/* Makes <dir>/<name>.key unless it exists; reads it either way. */
static int s_ensure_pair(const char *dir, const char *name, struct cm_curve_pair *pair, bool *made)
{
    char *path = cm_strfmt("%s/%s.key", dir, name);
    char err[512];
    int rc = -1;
    *made = false;
    if (access(path, F_OK) == 0) {
        rc = cm_curve_file_read(path, true, pair, err, sizeof err);
    } else if (cm_curve_pair_new(pair) != 0) {
        snprintf(err, sizeof err, "libzmq has no CURVE");
    } else {
        rc = cm_curve_file_write(path, name, pair, true, err, sizeof err);
        *made = rc == 0;
    }
    if (rc)
        fprintf(stderr, "crmctl: %s\n", err);
    free(path);
    return rc;
}

/* bus-keys init: a key pair for every program of the suite that has none,
 * broker.pub, and a registry line for every suite key it lacks. Existing
 * files and lines are kept. */
static int s_init(int argc, char **argv)
{
    const char *dir = argc >= 2 && argv[1][0] != '-' ? argv[1] : s_dir(argc, argv);
    const char *list = crmctl_opt(argc, argv, "--programs");
    if (!dir || s_mkdir(dir) != 0)
        return 1;
    char *names = cm_strdup(list ? list : S_SUITE);
    char *reg_path = cm_strfmt("%s/registry", dir);
    char *text = s_registry_text(reg_path);
    int rc = 1, made = 0;
    if (!text)
        goto out;
    char err[512];
    cm_curve_registry_t *reg = cm_curve_registry_parse(text, strlen(text), err, sizeof err);
    if (!reg) {
        fprintf(stderr, "crmctl: %s: %s\n", reg_path, err);
        goto out;
    }
    bool added = false;
    char *save = NULL;
    for (char *name = strtok_r(names, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        struct cm_curve_pair pair;
        bool fresh;
        if (!cm_curve_name_ok(name, strlen(name))) {
            fprintf(stderr, "crmctl: \"%s\" is not a key name\n", name);
            cm_curve_registry_destroy(&reg);
            goto out;
        }
        if (s_ensure_pair(dir, name, &pair, &fresh) != 0) {
            cm_curve_registry_destroy(&reg);
            goto out;
        }
        made += fresh;
        if (!strcmp(name, "broker")) {
            char *pub = cm_strfmt("%s/broker.pub", dir);
            if (access(pub, F_OK) != 0 &&
                cm_curve_file_write(pub, "broker", &pair, false, err, sizeof err) != 0) {
                fprintf(stderr, "crmctl: %s\n", err);
                free(pub);
                cm_curve_registry_destroy(&reg);
                goto out;
            }
            free(pub);
            continue; /* the broker is the server: it needs no admission */
        }
        if (cm_curve_registry_by_name(reg, name))
            continue;
        struct cm_curve_entry e = {.name = name, .kind = s_suite_kind(name), .tenant = ""};
        memcpy(e.public_key, pair.public_key, sizeof e.public_key);
        char *line = cm_curve_registry_line(&e);
        char *next = s_append(text, line);
        free(line);
        free(text);
        text = next;
        added = true;
    }
    cm_curve_registry_destroy(&reg);
    if (added && s_registry_write(reg_path, text) != 0)
        goto out;
    printf("bus keys in %s: %d made\n", dir, made);
    rc = 0;
out:
    free(text);
    free(reg_path);
    free(names);
    return rc;
}

/* bus-keys new-system: an outside system's pair, registered for one tenant
 * and its scopes; the key file goes to stdout, once. */
static int s_new_system(int argc, char **argv)
{
    const char *tenant = crmctl_opt(argc, argv, "--tenant");
    const char *name = crmctl_opt(argc, argv, "--name");
    const char *scopes = crmctl_opt(argc, argv, "--scopes");
    if (!tenant || !name || !scopes) {
        fprintf(stderr, "usage: crmctl bus-keys new-system --tenant ID --name NAME --scopes "
                        "SCOPE[,SCOPE] [--dir DIR]\n");
        return 2;
    }
    const char *dir = s_dir(argc, argv);
    if (!dir)
        return 1;
    char *reg_path = cm_strfmt("%s/registry", dir);
    char *pub_path = cm_strfmt("%s/broker.pub", dir);
    char *text = s_registry_text(reg_path), *next = NULL, *line = NULL;
    int rc = 1;
    struct cm_curve_pair pair, broker;
    char err[512];
    if (!text)
        goto out;
    if (cm_curve_file_read(pub_path, false, &broker, err, sizeof err) != 0) {
        fprintf(stderr, "crmctl: %s (run crmctl bus-keys init first)\n", err);
        goto out;
    }
    if (cm_curve_pair_new(&pair) != 0) {
        fprintf(stderr, "crmctl: libzmq has no CURVE\n");
        goto out;
    }
    char *scope_list[CM_CURVE_SCOPES_MAX + 1];
    size_t n_scopes = 0;
    char *copy = cm_strdup(scopes), *save = NULL;
    for (char *s = strtok_r(copy, ",", &save); s && n_scopes <= CM_CURVE_SCOPES_MAX;
         s = strtok_r(NULL, ",", &save))
        scope_list[n_scopes++] = s;
    struct cm_curve_entry e = {.name = (char *)name,
                               .kind = CM_CURVE_SYSTEM,
                               .tenant = (char *)tenant,
                               .scopes = scope_list,
                               .n_scopes = n_scopes};
    memcpy(e.public_key, pair.public_key, sizeof e.public_key);
    line = cm_curve_registry_line(&e);
    free(copy);
    next = s_append(text, line);
    /* s_registry_write parses the result: a bad tenant, name or scope, or a
     * name already taken, is refused there with the reason. */
    if (s_registry_write(reg_path, next) != 0)
        goto out;
    char *file = cm_curve_file_text(name, &pair, true);
    printf("%s# the broker's public key (CURVE server key)\nbroker %s\n", file, broker.public_key);
    free(file);
    fprintf(stderr,
            "crmctl: registered bus key \"%s\" for tenant %s (%s); the key file above is shown "
            "once\n",
            name, tenant, scopes);
    rc = 0;
out:
    free(line);
    free(next);
    free(text);
    free(pub_path);
    free(reg_path);
    return rc;
}

/* bus-keys list: the admitted keys. */
static int s_list(int argc, char **argv)
{
    const char *dir = s_dir(argc, argv);
    if (!dir)
        return 1;
    char *reg_path = cm_strfmt("%s/registry", dir);
    char err[512];
    cm_curve_registry_t *reg = cm_curve_registry_load(reg_path, err, sizeof err);
    free(reg_path);
    if (!reg) {
        fprintf(stderr, "crmctl: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < cm_curve_registry_count(reg); i++) {
        const struct cm_curve_entry *e = cm_curve_registry_entry(reg, i);
        printf("%-24s %-8s %s", e->name, cm_curve_kind_name(e->kind), e->public_key);
        if (e->kind == CM_CURVE_SYSTEM) {
            printf(" tenant=%s scopes=", e->tenant);
            for (size_t k = 0; k < e->n_scopes; k++)
                printf("%s%s", k ? "," : "", e->scopes[k]);
        }
        printf("\n");
    }
    cm_curve_registry_destroy(&reg);
    return 0;
}

/* bus-keys revoke NAME: the key's line leaves the registry; the broker
 * refuses it from its next look at the file (about a second). */
static int s_revoke(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: crmctl bus-keys revoke NAME [--dir DIR]\n");
        return 2;
    }
    const char *name = argv[1];
    const char *dir = s_dir(argc, argv);
    if (!dir)
        return 1;
    char *reg_path = cm_strfmt("%s/registry", dir);
    char *text = s_registry_text(reg_path);
    int rc = 1;
    if (!text)
        goto out;
    size_t n = strlen(text), o = 0;
    char *kept = cm_malloc(n + 1);
    bool found = false;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        /* The second word of a key line is its name. */
        const char *w = p + strspn(p, " \t");
        w += strcspn(w, " \t\n");
        w += strspn(w, " \t");
        size_t wl = strcspn(w, " \t\r\n");
        bool match = p[0] != '#' && w < p + len && wl == strlen(name) && !memcmp(w, name, wl);
        if (match)
            found = true;
        else {
            memcpy(kept + o, p, len);
            o += len;
        }
        p += len;
    }
    kept[o] = '\0';
    if (!found)
        fprintf(stderr, "crmctl: no bus key named %s in %s\n", name, reg_path);
    else if (s_registry_write(reg_path, kept) == 0) {
        printf("revoked bus key %s\n", name);
        rc = 0;
    }
    free(kept);
out:
    free(text);
    free(reg_path);
    return rc;
}

int crmctl_bus_keys(int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (!strcmp(sub, "init"))
        return s_init(argc - 1, argv + 1);
    if (!strcmp(sub, "new-system"))
        return s_new_system(argc - 1, argv + 1);
    if (!strcmp(sub, "list"))
        return s_list(argc - 1, argv + 1);
    if (!strcmp(sub, "revoke"))
        return s_revoke(argc - 1, argv + 1);
    fprintf(stderr, "usage: crmctl bus-keys init [DIR] [--programs LIST] | new-system --tenant ID "
                    "--name NAME --scopes LIST | list | revoke NAME   [--dir DIR]\n");
    return 2;
}
