/* Bus keys: key files, the registry of admitted keys, the process's identity.
 * See cm_curve.h for the formats and docs/bus.md for the trust model. */
#include "cm_curve.h"
#include "cm_log.h"
#include "cm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

int cm_curve_pair_new(struct cm_curve_pair *out)
{
    memset(out, 0, sizeof *out);
    return zmq_curve_keypair(out->public_key, out->secret_key) == 0 ? 0 : -1;
}

bool cm_curve_key_ok(const char *s)
{
    if (!s || strlen(s) != CM_CURVE_KEY_LEN)
        return false;
    uint8_t bin[32];
    return zmq_z85_decode(bin, s) != NULL;
}

bool cm_curve_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > CM_CURVE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = cm_ascii_lower(c) || cm_ascii_digit(c);
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

/* Overwrites secret bytes; the volatile pointer keeps the stores. */
static void s_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

/* Reads a whole file of at most max bytes. Returns a new NUL-terminated
 * buffer (length in *len), or NULL with errno (EFBIG when too large). */
static char *s_slurp(const char *path, size_t max, size_t *len, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = NULL;
    if (fstat(fd, st) != 0)
        goto fail;
    if ((size_t)st->st_size > max) {
        errno = EFBIG;
        goto fail;
    }
    size_t cap = (size_t)st->st_size + 1, n = 0;
    buf = cm_malloc(cap + 1);
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto fail;
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) { /* grew while read */
            errno = EFBIG;
            goto fail;
        }
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
fail:;
    int e = errno;
    free(buf);
    close(fd);
    errno = e;
    return NULL;
}

/* The next line of text[*pos..len) without its newline; NULL at the end. */
static const char *s_next_line(const char *text, size_t len, size_t *pos, size_t *line_len)
{
    if (*pos >= len)
        return NULL;
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - start) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    if (n && start[n - 1] == '\r')
        n--;
    *line_len = n;
    return start;
}

/* Splits a line into at most max space-separated words (pointers into buf,
 * which it NUL-terminates). Returns the number of words, max + 1 when more. */
static int s_words(char *buf, char **w, int max)
{
    int n = 0;
    char *p = buf;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return n;
        if (n == max)
            return max + 1;
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

/* The words of a line (see s_words), copied into buf (bufsz bytes). Returns
 * their number, 0 for a blank line or a comment, -1 when the line does not
 * fit or holds a NUL. */
static int s_line_words(const char *line, size_t n, char *buf, size_t bufsz, char **w, int max)
{
    if (n >= bufsz || memchr(line, '\0', n))
        return -1;
    memcpy(buf, line, n);
    buf[n] = '\0';
    int nw = s_words(buf, w, max);
    return nw > 0 && w[0][0] == '#' ? 0 : nw;
}

int cm_curve_file_read(const char *path, bool need_secret, struct cm_curve_pair *out, char *err,
                       size_t errsz)
{
    memset(out, 0, sizeof *out);
    size_t len = 0;
    struct stat st;
    char *text = s_slurp(path, 4096, &len, &st);
    if (!text) {
        snprintf(err, errsz, "cannot read key file %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    if (need_secret && (st.st_mode & 077)) {
        snprintf(err, errsz, "key file %s is open to others (mode %03o): make it 0600", path,
                 (unsigned)(st.st_mode & 0777));
        goto out;
    }
    size_t pos = 0, n, lineno = 0;
    const char *line;
    while ((line = s_next_line(text, len, &pos, &n))) {
        lineno++;
        char buf[128], *w[3];
        int nw = s_line_words(line, n, buf, sizeof buf, w, 2);
        if (nw < 0) {
            snprintf(err, errsz, "key file %s line %zu: too long", path, lineno);
            goto out;
        }
        if (nw == 0)
            continue;
        char ignored[CM_CURVE_KEY_LEN + 1];
        char *dest = nw == 2 && !strcmp(w[0], "public")   ? out->public_key
                     : nw == 2 && !strcmp(w[0], "secret") ? out->secret_key
                     : nw == 2 && !strcmp(w[0], "broker") ? ignored
                                                          : NULL;
        if (!dest || !cm_curve_key_ok(w[1])) {
            snprintf(err, errsz,
                     "key file %s line %zu: expected \"public KEY\", \"secret KEY\" or "
                     "\"broker KEY\" with a 40-character Z85 key",
                     path, lineno);
            goto out;
        }
        memcpy(dest, w[1], CM_CURVE_KEY_LEN + 1);
    }
    if (!out->public_key[0]) {
        snprintf(err, errsz, "key file %s has no public key", path);
        goto out;
    }
    if (need_secret) {
        char derived[CM_CURVE_KEY_LEN + 1];
        if (!out->secret_key[0]) {
            snprintf(err, errsz, "key file %s has no secret key", path);
            goto out;
        }
        if (zmq_curve_public(derived, out->secret_key) != 0 ||
            strcmp(derived, out->public_key) != 0) {
            snprintf(err, errsz, "key file %s: the public key is not the secret key's", path);
            goto out;
        }
    }
    rc = 0;
out:
    if (rc)
        memset(out, 0, sizeof *out);
    s_wipe(text, len);
    free(text);
    return rc;
}

char *cm_curve_file_text(const char *name, const struct cm_curve_pair *pair, bool with_secret)
{
    if (with_secret)
        return cm_strfmt("# bus key pair of \"%s\" (ZeroMQ CURVE, Z85); keep it secret\n"
                         "public %s\nsecret %s\n",
                         name, pair->public_key, pair->secret_key);
    return cm_strfmt("# bus public key of \"%s\" (ZeroMQ CURVE, Z85)\npublic %s\n", name,
                     pair->public_key);
}

int cm_curve_file_write(const char *path, const char *name, const struct cm_curve_pair *pair,
                        bool with_secret, char *err, size_t errsz)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, with_secret ? 0600 : 0644);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errsz, "cannot create key file %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    char *text = cm_curve_file_text(name, pair, with_secret);
    size_t n = strlen(text), done = 0;
    int rc = 0;
    while (done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = -1;
            break;
        }
        done += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -1;
    if (rc)
        snprintf(err, errsz, "cannot write key file %s: %s", path, strerror(errno));
    close(fd);
    s_wipe(text, n);
    free(text);
    if (rc)
        unlink(path);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Registry                                                                 */

struct cm_curve_registry {
    struct cm_curve_entry *entries; // owned
    size_t n, cap;
    size_t *by_key, *by_name; // owned: open addressing, slot = entry index + 1 (0: empty)
    size_t slots;             // power of two, at least twice n
};

static const char *const s_kinds[] = {NULL, "service", "gateway", "crmctl", "system"};

const char *cm_curve_kind_name(enum cm_curve_kind kind)
{
    return kind >= CM_CURVE_SERVICE && kind <= CM_CURVE_SYSTEM ? s_kinds[kind] : "unknown";
}

enum cm_curve_kind cm_curve_kind_parse(const char *s)
{
    for (int k = CM_CURVE_SERVICE; k <= CM_CURVE_SYSTEM; k++)
        if (!strcmp(s, s_kinds[k]))
            return (enum cm_curve_kind)k;
    return 0;
}

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot of `key` in a table: where it is, or the empty one it would take. */
static size_t *s_slot(const cm_curve_registry_t *self, size_t *table, const char *key, bool by_key)
{
    size_t mask = self->slots - 1;
    for (size_t i = s_hash(key) & mask;; i = (i + 1) & mask) {
        if (!table[i])
            return &table[i];
        const struct cm_curve_entry *e = &self->entries[table[i] - 1];
        if (!strcmp(by_key ? e->public_key : e->name, key))
            return &table[i];
    }
}

static void s_entry_free(struct cm_curve_entry *e)
{
    free(e->name);
    free(e->tenant);
    for (size_t i = 0; i < e->n_scopes; i++)
        free(e->scopes[i]);
    free(e->scopes);
}

void cm_curve_registry_destroy(cm_curve_registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cm_curve_registry_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        s_entry_free(&self->entries[i]);
    free(self->entries);
    free(self->by_key);
    free(self->by_name);
    free(self);
    *self_p = NULL;
}

static bool s_scope_ok(const char *s, size_t len)
{
    if (len == 0 || len > CM_CURVE_SCOPE_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!cm_ascii_lower((unsigned char)s[i]) && s[i] != ':' && s[i] != '_')
            return false;
    return true;
}

/* Parses the scope list "a,b,c" into e. Returns 0 or -1 with the problem. */
static int s_parse_scopes(struct cm_curve_entry *e, const char *list, char *why, size_t whysz)
{
    e->scopes = cm_calloc(CM_CURVE_SCOPES_MAX, sizeof *e->scopes);
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        if (!s_scope_ok(p, n)) {
            snprintf(why, whysz, "a scope is 1..%d of a-z, ':' and '_', separated by commas",
                     CM_CURVE_SCOPE_MAX);
            return -1;
        }
        if (e->n_scopes == CM_CURVE_SCOPES_MAX) {
            snprintf(why, whysz, "more than %d scopes", CM_CURVE_SCOPES_MAX);
            return -1;
        }
        e->scopes[e->n_scopes++] = cm_strndup(p, n);
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

/* Parses one registry line's words into e. Returns 0 or -1 with the problem. */
static int s_parse_entry(struct cm_curve_entry *e, char **w, int nw, char *why, size_t whysz)
{
    if (nw < 3) {
        snprintf(why, whysz, "expected \"KEY NAME KIND [TENANT SCOPES]\"");
        return -1;
    }
    if (!cm_curve_key_ok(w[0])) {
        snprintf(why, whysz, "the key is not 40 characters of Z85");
        return -1;
    }
    memcpy(e->public_key, w[0], CM_CURVE_KEY_LEN + 1);
    if (!cm_curve_name_ok(w[1], strlen(w[1]))) {
        snprintf(why, whysz, "the name is 1..%d of a-z, 0-9, '.', '_', '-'", CM_CURVE_NAME_MAX);
        return -1;
    }
    e->name = cm_strdup(w[1]);
    e->kind = cm_curve_kind_parse(w[2]);
    if (!e->kind) {
        snprintf(why, whysz, "the kind is service, gateway, crmctl or system, not \"%.32s\"", w[2]);
        return -1;
    }
    if (e->kind != CM_CURVE_SYSTEM) {
        e->tenant = cm_strdup("");
        if (nw > 3) {
            snprintf(why, whysz, "only a system key has a tenant and scopes");
            return -1;
        }
        return 0;
    }
    if (nw != 5) {
        snprintf(why, whysz, "a system key names its tenant and its scopes");
        return -1;
    }
    if (!cm_uuid_valid(w[3])) {
        snprintf(why, whysz, "the tenant is not a tenant id (a UUID)");
        return -1;
    }
    e->tenant = cm_strdup(w[3]);
    return s_parse_scopes(e, w[4], why, whysz);
}

/* Puts entry i into both tables; -1 if its key or name is taken. */
static int s_index(cm_curve_registry_t *self, size_t i, char *why, size_t whysz)
{
    struct cm_curve_entry *e = &self->entries[i];
    size_t *k = s_slot(self, self->by_key, e->public_key, true);
    size_t *n = s_slot(self, self->by_name, e->name, false);
    if (*k) {
        snprintf(why, whysz, "the key is already admitted as \"%s\"", self->entries[*k - 1].name);
        return -1;
    }
    if (*n) {
        snprintf(why, whysz, "the name \"%s\" is already taken", e->name);
        return -1;
    }
    *k = *n = i + 1;
    return 0;
}

cm_curve_registry_t *cm_curve_registry_parse(const char *text, size_t len, char *err, size_t errsz)
{
    cm_curve_registry_t *self = cm_calloc(1, sizeof *self);
    size_t pos = 0, n, lineno = 0;
    const char *line;
    char why[160];
    char *buf = cm_malloc(CM_CURVE_LINE_MAX + 1);
    while ((line = s_next_line(text, len, &pos, &n))) {
        lineno++;
        char *w[6];
        int nw = s_line_words(line, n, buf, CM_CURVE_LINE_MAX + 1, w, 5);
        if (nw < 0) {
            snprintf(why, sizeof why, "longer than %d bytes or holds a NUL", CM_CURVE_LINE_MAX);
            goto bad;
        }
        if (nw == 0)
            continue;
        if (self->n == CM_CURVE_ENTRIES_MAX) {
            snprintf(why, sizeof why, "more than %d keys", CM_CURVE_ENTRIES_MAX);
            goto bad;
        }
        if (self->n == self->cap) {
            self->cap = self->cap ? 2 * self->cap : 16;
            self->entries = cm_realloc(self->entries, self->cap * sizeof *self->entries);
        }
        struct cm_curve_entry *e = &self->entries[self->n];
        memset(e, 0, sizeof *e);
        self->n++;
        if (s_parse_entry(e, w, nw, why, sizeof why) != 0)
            goto bad;
    }
    self->slots = 16;
    while (self->slots < 2 * self->n)
        self->slots *= 2;
    self->by_key = cm_calloc(self->slots, sizeof *self->by_key);
    self->by_name = cm_calloc(self->slots, sizeof *self->by_name);
    for (size_t i = 0; i < self->n; i++) {
        if (s_index(self, i, why, sizeof why) != 0) {
            /* Find the line again for the message: entry i is the (i+1)th key line. */
            snprintf(err, errsz, "registry key %zu (\"%s\"): %s", i + 1, self->entries[i].name,
                     why);
            free(buf);
            cm_curve_registry_destroy(&self);
            return NULL;
        }
    }
    free(buf);
    return self;
bad:
    snprintf(err, errsz, "registry line %zu: %s", lineno, why);
    free(buf);
    cm_curve_registry_destroy(&self);
    return NULL;
}

cm_curve_registry_t *cm_curve_registry_load(const char *path, char *err, size_t errsz)
{
    size_t len = 0;
    struct stat st;
    char *text = s_slurp(path, CM_CURVE_FILE_MAX, &len, &st);
    if (!text) {
        snprintf(err, errsz, "cannot read the key registry %s: %s", path, strerror(errno));
        return NULL;
    }
    char why[256];
    cm_curve_registry_t *self = cm_curve_registry_parse(text, len, why, sizeof why);
    if (!self)
        snprintf(err, errsz, "%s: %s", path, why);
    free(text);
    return self;
}

static const struct cm_curve_entry *s_find(const cm_curve_registry_t *self, bool by_key,
                                           const char *key)
{
    if (!self || !key)
        return NULL;
    size_t i = *s_slot(self, by_key ? self->by_key : self->by_name, key, by_key);
    return i ? &self->entries[i - 1] : NULL;
}

const struct cm_curve_entry *cm_curve_registry_by_key(const cm_curve_registry_t *self,
                                                      const char *public_z85)
{
    return s_find(self, true, public_z85);
}

const struct cm_curve_entry *cm_curve_registry_by_name(const cm_curve_registry_t *self,
                                                       const char *name)
{
    return s_find(self, false, name);
}

size_t cm_curve_registry_count(const cm_curve_registry_t *self)
{
    return self ? self->n : 0;
}

const struct cm_curve_entry *cm_curve_registry_entry(const cm_curve_registry_t *self, size_t i)
{
    return self && i < self->n ? &self->entries[i] : NULL;
}

char *cm_curve_registry_line(const struct cm_curve_entry *e)
{
    if (e->kind != CM_CURVE_SYSTEM)
        return cm_strfmt("%s %s %s\n", e->public_key, e->name, cm_curve_kind_name(e->kind));
    size_t len = 1;
    for (size_t i = 0; i < e->n_scopes; i++)
        len += strlen(e->scopes[i]) + 1;
    char *scopes = cm_calloc(1, len);
    for (size_t i = 0; i < e->n_scopes; i++) {
        if (i)
            strcat(scopes, ",");
        strcat(scopes, e->scopes[i]);
    }
    char *line = cm_strfmt("%s %s system %s %s\n", e->public_key, e->name, e->tenant, scopes);
    free(scopes);
    return line;
}

/* ---------------------------------------------------------------------- */
/* Identity                                                                 */

static struct {
    bool curve;
    char *keys_dir;        // owned by the cfg table
    char *key_file;        // owned by the cfg table
    char *server_key_file; // owned by the cfg table
    char *registry;        // owned by the cfg table
    char dir_default[1024];
    bool loaded;
    struct cm_curve_pair pair;
    char server_key[CM_CURVE_KEY_LEN + 1];
} s_id;

static const struct cm_cfg_item s_items[] = {
    {"bus_curve", CM_CFG_BOOL, &s_id.curve, "true"},
    {"bus_keys_dir", CM_CFG_STR, &s_id.keys_dir, s_id.dir_default},
    {"bus_key_file", CM_CFG_STR, &s_id.key_file, ""},
    {"bus_server_key_file", CM_CFG_STR, &s_id.server_key_file, ""},
    {"bus_registry", CM_CFG_STR, &s_id.registry, ""},
    {NULL},
};

const struct cm_cfg_item *cm_curve_cfg_items(void)
{
    const char *data = getenv("CRM_DATA_DIR");
    snprintf(s_id.dir_default, sizeof s_id.dir_default, "%s%skeys", data && *data ? data : "",
             data && *data ? "/" : "");
    return s_items;
}

/* Replaces an empty path setting with dir/file. */
static void s_default_path(char **target, const char *dir, const char *file)
{
    if (*target && **target)
        return;
    free(*target);
    *target = cm_strfmt("%s/%s", dir, file);
}

void cm_curve_cfg_resolve(const char *name)
{
    char file[CM_CURVE_NAME_MAX + 8];
    snprintf(file, sizeof file, "%s.key", name);
    const char *dir = s_id.keys_dir && *s_id.keys_dir ? s_id.keys_dir : ".";
    s_default_path(&s_id.key_file, dir, file);
    s_default_path(&s_id.server_key_file, dir, "broker.pub");
    s_default_path(&s_id.registry, dir, "registry");
}

int cm_curve_start(const char *name, char *err, size_t errsz)
{
    s_id.loaded = false;
    if (!s_id.curve)
        return 0;
    if (cm_curve_file_read(s_id.key_file, true, &s_id.pair, err, errsz) != 0)
        return -1;
    if (strcmp(name, "broker") != 0) {
        struct cm_curve_pair server;
        if (cm_curve_file_read(s_id.server_key_file, false, &server, err, errsz) != 0)
            return -1;
        memcpy(s_id.server_key, server.public_key, sizeof s_id.server_key);
    } else {
        memcpy(s_id.server_key, s_id.pair.public_key, sizeof s_id.server_key);
    }
    s_id.loaded = true;
    return 0;
}

const struct cm_curve_pair *cm_curve_identity(void)
{
    return s_id.loaded ? &s_id.pair : NULL;
}

const char *cm_curve_registry_path(void)
{
    return s_id.registry;
}

const char *cm_curve_keys_dir(void)
{
    return s_id.keys_dir;
}

int cm_curve_client_apply(void *sock)
{
    if (!s_id.loaded)
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, s_id.server_key, CM_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, s_id.pair.public_key, CM_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, s_id.pair.secret_key, CM_CURVE_KEY_LEN) != 0)
        return -1;
    return 0;
}
