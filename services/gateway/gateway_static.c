/* The web UI's files, read from the UI directory at each request (they are
 * small, and an edited file shows at the next reload). The path rules are
 * strict on purpose: a name the UI does not use is refused, so no spelling
 * of "..", encoded or not, ever reaches open(). */
#include "gateway_static.h"
#include "gateway_routes.h"
#include "cm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#define SEGMENT_MAX 100
#define UI_SUBDIR "services/gateway/ui"

struct gateway_static {
    char *dir; // owned: absolute path of the UI directory
};

/* ---------------------------------------------------------------------- */
/* Paths                                                                   */

bool gateway_static_claims(const char *path)
{
    if (!strcmp(path, "/"))
        return true;
    return !strncmp(path, "/ui", 3) && (path[3] == '\0' || path[3] == '/');
}

static bool s_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int gateway_static_sanitize(const char *path, char *out, size_t size)
{
    if (!gateway_static_claims(path))
        return -1;
    const char *rest = !strcmp(path, "/") ? "" : path + 3; // after "/ui"
    if (*rest == '/')
        rest++;
    if (*rest == '\0') {
        if (size < sizeof "index.html")
            return -1;
        memcpy(out, "index.html", sizeof "index.html");
        return 0;
    }
    /* Decode first, so an escaped dot or slash meets the same rules. */
    long n = gateway_percent_decode(rest, strlen(rest), false, out, size);
    if (n <= 0)
        return -1;
    size_t seg = 0; // length of the segment being read
    for (long i = 0; i <= n; i++) {
        char c = out[i];
        if (c == '/' || c == '\0') {
            if (seg == 0)
                return -1; // "//" or a trailing slash
            seg = 0;
            continue;
        }
        if (!s_name_char(c) || (seg == 0 && c == '.') || ++seg > SEGMENT_MAX)
            return -1;
    }
    return 0;
}

const char *gateway_static_content_type(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json; charset=utf-8"},
        {"map", "application/json; charset=utf-8"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"ico", "image/x-icon"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"webp", "image/webp"},
        {"txt", "text/plain; charset=utf-8"},
        {"woff2", "font/woff2"},
    };
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcasecmp(dot + 1, types[i].ext))
                return types[i].type;
    }
    return "application/octet-stream";
}

bool gateway_static_etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match)
        return false;
    size_t elen = strlen(etag);
    for (const char *p = if_none_match; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ",");
        const char *tag = p;
        p += len;
        while (len && (tag[len - 1] == ' ' || tag[len - 1] == '\t'))
            len--;
        if (len == 1 && tag[0] == '*')
            return true;
        /* A weak comparison is what If-None-Match asks for (RFC 9110 13.1.2). */
        if (len > 2 && tag[0] == 'W' && tag[1] == '/')
            tag += 2, len -= 2;
        if (len == elen && !memcmp(tag, etag, len))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* Finding the directory                                                   */

static bool s_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* realpath of path when it is a directory; owned, or NULL. */
static char *s_real_dir(const char *path)
{
    if (!s_is_dir(path))
        return NULL;
    char *real = realpath(path, NULL);
    if (!real)
        return NULL;
    char *copy = cm_strdup(real); // ours come from cm_ allocators
    free(real);
    return copy;
}

char *gateway_static_find_dir(const char *configured, const char *exe)
{
    if (configured && configured[0])
        return s_real_dir(configured);
    char *found = NULL;
    char *real = exe ? realpath(exe, NULL) : NULL;
    if (real) {
        char *slash = strrchr(real, '/');
        /* Walk up from the executable's directory: build/bin, build, the tree. */
        for (int up = 0; slash && up <= 4 && !found; up++) {
            *slash = '\0';
            char *candidate = cm_strfmt("%s/" UI_SUBDIR, real[0] ? real : "");
            found = s_real_dir(candidate);
            free(candidate);
            slash = strrchr(real, '/');
        }
        free(real);
    }
    if (!found)
        found = s_real_dir(UI_SUBDIR);
    return found;
}

/* ---------------------------------------------------------------------- */
/* Serving                                                                 */

gateway_static_t *gateway_static_new(const char *dir)
{
    gateway_static_t *self = cm_calloc(1, sizeof *self);
    self->dir = cm_strdup(dir);
    /* For the ETag hash; safe to call more than once. */
    if (sodium_init() < 0)
        abort();
    return self;
}

const char *gateway_static_dir(const gateway_static_t *self)
{
    return self->dir;
}

void gateway_static_destroy(gateway_static_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->dir);
    free(*self_p);
    *self_p = NULL;
}

/* Reads a regular file of at most GATEWAY_STATIC_MAX_FILE bytes. Returns an
 * owned buffer with its length in *len, or NULL (missing, not a regular file,
 * a symbolic link, too big, unreadable). */
static char *s_read(const char *path, size_t *len)
{
    char *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (off_t)GATEWAY_STATIC_MAX_FILE)
        goto out;
    size_t want = (size_t)st.st_size, got = 0;
    data = cm_malloc(want ? want : 1);
    while (got < want) {
        ssize_t r = read(fd, data + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(data);
            data = NULL;
            goto out;
        }
        got += (size_t)r;
    }
    *len = got;
out:
    close(fd);
    return data;
}

/* The headers every UI answer carries, error or not. */
static void s_page_headers(struct gateway_response *resp)
{
    gateway_response_header(resp, "Content-Security-Policy", GATEWAY_STATIC_CSP);
    gateway_response_header(resp, "X-Content-Type-Options", "nosniff");
    gateway_response_header(resp, "Referrer-Policy", "no-referrer");
    gateway_response_header(resp, "X-Frame-Options", "DENY");
}

void gateway_static_serve(const gateway_static_t *self, const char *method, const char *path,
                          const char *if_none_match, struct gateway_response *resp)
{
    char name[PATH_MAX / 2];
    char *full = NULL;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        char *msg = cm_strfmt("method %s is not allowed on %.200s", method, path);
        gateway_response_error_http(resp, 405, "UNIMPLEMENTED", msg);
        free(msg);
        gateway_response_header(resp, "Allow", "GET, HEAD");
        goto out;
    }
    if (!self) {
        gateway_response_error(resp, CRM__STATUS__STATUS_NOT_FOUND,
                               "the web UI is not installed (set ui_dir)", NULL, 0);
        goto out;
    }
    if (gateway_static_sanitize(path, name, sizeof name)) {
        gateway_response_error(resp, CRM__STATUS__STATUS_NOT_FOUND, "no such file", NULL, 0);
        goto out;
    }
    full = cm_strfmt("%s/%s", self->dir, name);
    size_t len = 0;
    char *data = s_read(full, &len);
    if (!data) {
        gateway_response_error(resp, CRM__STATUS__STATUS_NOT_FOUND, "no such file", NULL, 0);
        goto out;
    }
    unsigned char hash[16];
    char hex[2 * sizeof hash + 1], etag[sizeof hex + 2];
    crypto_generichash(hash, sizeof hash, (const unsigned char *)data, len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    snprintf(etag, sizeof etag, "\"%s\"", hex);
    gateway_response_header(resp, "ETag", etag);
    /* Revalidate every time: a new UI version shows at the next load. */
    gateway_response_header(resp, "Cache-Control", "no-cache");
    if (gateway_static_etag_matches(if_none_match, etag)) {
        free(data);
        resp->code = 304;
        goto out;
    }
    resp->code = 200;
    resp->body = data;
    resp->body_len = len;
    resp->content_type = cm_strdup(gateway_static_content_type(name));
out:
    s_page_headers(resp);
    free(full);
}
