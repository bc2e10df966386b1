/* The web UI's files: which paths are the UI's, path sanitising (no way out of
 * the directory, encoded or not), Content-Types, ETags and 304s, finding the
 * directory from the executable, and the answers with their headers. */
#include "gateway_static.h"
#include "../unit.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_root[64]; // a temporary tree: services/gateway/ui, build/x/bin, secret.txt

static void s_write(const char *rel, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s_root, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    CHECK(fclose(f) == 0);
}

static void s_mkdir(const char *rel)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s_root, rel);
    CHECK(mkdir(path, 0755) == 0);
}

static void s_setup(void)
{
    snprintf(s_root, sizeof s_root, "/tmp/test_static.XXXXXX");
    CHECK(mkdtemp(s_root) != NULL);
    s_mkdir("services");
    s_mkdir("services/gateway");
    s_mkdir("services/gateway/ui");
    s_mkdir("services/gateway/ui/js");
    s_mkdir("build");
    s_mkdir("build/x");
    s_mkdir("build/x/bin");
    s_write("build/x/bin/gateway", "not really a program");
    s_write("services/gateway/ui/index.html", "<!doctype html><title>crm</title>");
    s_write("services/gateway/ui/js/app.js", "export const x = 1;\n");
    s_write("services/gateway/ui/.secret", "hidden");
    s_write("secret.txt", "outside the UI");
    char target[PATH_MAX], link[PATH_MAX];
    snprintf(target, sizeof target, "%s/secret.txt", s_root);
    snprintf(link, sizeof link, "%s/services/gateway/ui/escape.txt", s_root);
    CHECK(symlink(target, link) == 0);
}

static void s_teardown(void)
{
    static const char *const files[] = {
        "services/gateway/ui/escape.txt",
        "services/gateway/ui/.secret",
        "services/gateway/ui/js/app.js",
        "services/gateway/ui/index.html",
        "build/x/bin/gateway",
        "secret.txt",
    };
    static const char *const dirs[] = {
        "services/gateway/ui/js",
        "services/gateway/ui",
        "services/gateway",
        "services",
        "build/x/bin",
        "build/x",
        "build",
    };
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", s_root, files[i]);
        CHECK(unlink(path) == 0);
    }
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", s_root, dirs[i]);
        CHECK(rmdir(path) == 0);
    }
    CHECK(rmdir(s_root) == 0);
}

static void test_claims(void)
{
    CHECK(gateway_static_claims("/"));
    CHECK(gateway_static_claims("/ui"));
    CHECK(gateway_static_claims("/ui/"));
    CHECK(gateway_static_claims("/ui/js/app.js"));
    CHECK(!gateway_static_claims("/uix"));
    CHECK(!gateway_static_claims("/ui.js"));
    CHECK(!gateway_static_claims("/v1/customers"));
    CHECK(!gateway_static_claims("/healthz"));
    CHECK(!gateway_static_claims(""));
    CHECK(!gateway_static_claims("//"));
}

/* The file a path maps to, or "(refused)". */
static const char *s_clean(const char *path)
{
    static char out[256];
    if (gateway_static_sanitize(path, out, sizeof out))
        return "(refused)";
    return out;
}

static void test_sanitize_accepts_the_ui_names(void)
{
    CHECK_STR(s_clean("/"), "index.html");
    CHECK_STR(s_clean("/ui"), "index.html");
    CHECK_STR(s_clean("/ui/"), "index.html");
    CHECK_STR(s_clean("/ui/app.css"), "app.css");
    CHECK_STR(s_clean("/ui/js/views/list.js"), "js/views/list.js");
    CHECK_STR(s_clean("/ui/a-b_c.d.svg"), "a-b_c.d.svg");
    /* Escapes are decoded: an escaped letter is that letter. */
    CHECK_STR(s_clean("/ui/%61pp.js"), "app.js");
    CHECK_STR(s_clean("/ui/js%2Fapp.js"), "js/app.js");
}

static void test_sanitize_refuses_traversal(void)
{
    static const char *const bad[] = {
        "/ui/..",
        "/ui/../secret.txt",
        "/ui/js/../../secret.txt",
        "/ui/js/..",
        "/ui/%2e%2e/secret.txt",
        "/ui/%2E%2E/secret.txt",
        "/ui/.%2e/secret.txt",
        "/ui/%2e./secret.txt",
        "/ui/js%2f..%2f..%2fsecret.txt",
        "/ui/js%2F%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/ui/%252e%252e/secret.txt", // double-encoded: "%2e" stays, '%' is refused
        "/ui/..%5csecret.txt",       // a backslash
        "/ui/js\\..\\secret.txt",
        "/ui/.",
        "/ui/./index.html",
        "/ui/.secret",
        "/ui/js/.hidden.js",
        "/ui//index.html",
        "/ui/js/",
        "/ui/index.html%00.js",
        "/ui/%",
        "/ui/%zz",
        "/ui/%4",
        "/ui/a b.js",
        "/ui/%20",
        "/ui/caf%C3%A9.js", // only the plain names the UI uses
        "/ui/a?b",
        "/uix/index.html",
        "/v1/customers",
        "/ui/%2fetc/passwd", // an absolute path after decoding: an empty segment
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (strcmp(s_clean(bad[i]), "(refused)")) {
            fprintf(stderr, "accepted %s as %s\n", bad[i], s_clean(bad[i]));
            CHECK(!"a bad path was accepted");
        }
    }
    /* A name of more than 100 characters, and an output buffer too small. */
    char longname[160] = "/ui/";
    memset(longname + 4, 'a', 101);
    longname[105] = '\0';
    CHECK_STR(s_clean(longname), "(refused)");
    longname[104] = '\0'; // 100 characters
    CHECK(strlen(s_clean(longname)) == 100);
    char small[8];
    CHECK(gateway_static_sanitize("/ui/app.css", small, sizeof small) == 0);
    CHECK(gateway_static_sanitize("/ui/index.css", small, sizeof small) == -1);
    CHECK(gateway_static_sanitize("/", small, sizeof small) == -1);
}

static void test_content_types(void)
{
    CHECK_STR(gateway_static_content_type("index.html"), "text/html; charset=utf-8");
    CHECK_STR(gateway_static_content_type("app.css"), "text/css; charset=utf-8");
    CHECK_STR(gateway_static_content_type("js/app.js"), "text/javascript; charset=utf-8");
    CHECK_STR(gateway_static_content_type("JS/APP.JS"), "text/javascript; charset=utf-8");
    CHECK_STR(gateway_static_content_type("icon.svg"), "image/svg+xml");
    CHECK_STR(gateway_static_content_type("logo.png"), "image/png");
    CHECK_STR(gateway_static_content_type("favicon.ico"), "image/x-icon");
    CHECK_STR(gateway_static_content_type("data.json"), "application/json; charset=utf-8");
    CHECK_STR(gateway_static_content_type("README"), "application/octet-stream");
    CHECK_STR(gateway_static_content_type("x.exe"), "application/octet-stream");
    CHECK_STR(gateway_static_content_type("js.d/noext"), "application/octet-stream");
}

static void test_etag_matches(void)
{
    const char *tag = "\"abc123\"";
    CHECK(gateway_static_etag_matches("\"abc123\"", tag));
    CHECK(gateway_static_etag_matches("W/\"abc123\"", tag));
    CHECK(gateway_static_etag_matches("\"zzz\", \"abc123\"", tag));
    CHECK(gateway_static_etag_matches("\"zzz\",W/\"abc123\" ", tag));
    CHECK(gateway_static_etag_matches("*", tag));
    CHECK(!gateway_static_etag_matches(NULL, tag));
    CHECK(!gateway_static_etag_matches("", tag));
    CHECK(!gateway_static_etag_matches("\"abc12\"", tag));
    CHECK(!gateway_static_etag_matches("abc123", tag));
    CHECK(!gateway_static_etag_matches("\"abc123\"x", tag));
}

static void test_find_dir(void)
{
    char want[PATH_MAX], exe[PATH_MAX], path[PATH_MAX];
    snprintf(path, sizeof path, "%s/services/gateway/ui", s_root);
    CHECK(realpath(path, want) != NULL);
    /* From build/x/bin/gateway, three levels up. */
    snprintf(exe, sizeof exe, "%s/build/x/bin/gateway", s_root);
    char *dir = gateway_static_find_dir(NULL, exe);
    CHECK_STR(dir, want);
    free(dir);
    dir = gateway_static_find_dir("", exe);
    CHECK_STR(dir, want);
    free(dir);
    /* A configured one wins, and must be a directory. */
    snprintf(path, sizeof path, "%s/build/x", s_root);
    dir = gateway_static_find_dir(path, exe);
    CHECK(dir != NULL && strstr(dir, "/build/x") && !strstr(dir, "/bin"));
    free(dir);
    snprintf(path, sizeof path, "%s/secret.txt", s_root);
    CHECK(gateway_static_find_dir(path, exe) == NULL);
    snprintf(path, sizeof path, "%s/nothing-here", s_root);
    CHECK(gateway_static_find_dir(path, exe) == NULL);
    /* Not near the executable: the current directory is the last try. */
    char cwd[PATH_MAX];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(s_root) == 0);
    dir = gateway_static_find_dir(NULL, "/nonexistent/bin/gateway");
    CHECK_STR(dir, want);
    free(dir);
    CHECK(chdir("/") == 0);
    CHECK(gateway_static_find_dir(NULL, "/nonexistent/bin/gateway") == NULL);
    CHECK(gateway_static_find_dir(NULL, NULL) == NULL);
    CHECK(chdir(cwd) == 0);
}

static const char *s_hdr(const struct gateway_response *r, const char *name)
{
    const char *v = gateway_response_get_header(r, name);
    return v ? v : "(none)";
}

static void s_check_page_headers(const struct gateway_response *r)
{
    CHECK_STR(s_hdr(r, "Content-Security-Policy"),
              "default-src 'self'; img-src 'self' blob: data:");
    CHECK_STR(s_hdr(r, "X-Content-Type-Options"), "nosniff");
}

static void test_serve(void)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/services/gateway/ui", s_root);
    gateway_static_t *ui = gateway_static_new(dir);
    CHECK_STR(gateway_static_dir(ui), dir);

    struct gateway_response r = {0};
    gateway_static_serve(ui, "GET", "/", NULL, &r);
    CHECK(r.code == 200);
    CHECK_STR(r.content_type, "text/html; charset=utf-8");
    CHECK(r.body_len == strlen("<!doctype html><title>crm</title>"));
    CHECK(!memcmp(r.body, "<!doctype html>", 15));
    CHECK_STR(s_hdr(&r, "Cache-Control"), "no-cache");
    s_check_page_headers(&r);
    char etag[80];
    snprintf(etag, sizeof etag, "%s", s_hdr(&r, "ETag"));
    CHECK(etag[0] == '"' && strlen(etag) == 34 && etag[33] == '"');
    gateway_response_release(&r);

    /* The same file under /ui/ has the same ETag; a known one gives 304. */
    gateway_static_serve(ui, "GET", "/ui/index.html", etag, &r);
    CHECK(r.code == 304);
    CHECK(r.body == NULL && r.body_len == 0);
    CHECK_STR(s_hdr(&r, "ETag"), etag);
    s_check_page_headers(&r);
    gateway_response_release(&r);

    gateway_static_serve(ui, "HEAD", "/ui/js/app.js", "\"other\"", &r);
    CHECK(r.code == 200);
    CHECK_STR(r.content_type, "text/javascript; charset=utf-8");
    CHECK(strcmp(s_hdr(&r, "ETag"), etag) != 0);
    gateway_response_release(&r);

    /* Missing, hidden, outside, through a symbolic link: all 404 JSON. */
    static const char *const missing[] = {
        "/ui/nothing.js",          "/ui/.secret",
        "/ui/../../../secret.txt", "/ui/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/ui/escape.txt",          "/ui/js",
    };
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        gateway_static_serve(ui, "GET", missing[i], NULL, &r);
        CHECK(r.code == 404);
        CHECK_STR(r.content_type, "application/json; charset=utf-8");
        CHECK(strstr(r.body, "\"NOT_FOUND\"") != NULL);
        CHECK(strstr(r.body, "outside") == NULL);
        s_check_page_headers(&r);
        gateway_response_release(&r);
    }

    gateway_static_serve(ui, "POST", "/ui/index.html", NULL, &r);
    CHECK(r.code == 405);
    CHECK_STR(s_hdr(&r, "Allow"), "GET, HEAD");
    gateway_response_release(&r);

    gateway_static_destroy(&ui);
    CHECK(ui == NULL);
    gateway_static_destroy(&ui);

    /* No UI installed: 404 that says so. */
    gateway_static_serve(NULL, "GET", "/", NULL, &r);
    CHECK(r.code == 404);
    CHECK(strstr(r.body, "not installed") != NULL);
    gateway_response_release(&r);
}

int main(void)
{
    s_setup();
    RUN(test_claims);
    RUN(test_sanitize_accepts_the_ui_names);
    RUN(test_sanitize_refuses_traversal);
    RUN(test_content_types);
    RUN(test_etag_matches);
    RUN(test_find_dir);
    RUN(test_serve);
    s_teardown();
    return 0;
}
