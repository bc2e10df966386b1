/* cm_curve: key pairs and files, the registry parser and its look-ups. */
#include "cm_curve.h"
#include "cm_util.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define TENANT "00000000-0000-4000-8000-000000000001"

static struct cm_curve_pair s_pair(void)
{
    struct cm_curve_pair p;
    CHECK(cm_curve_pair_new(&p) == 0);
    CHECK(cm_curve_key_ok(p.public_key) && cm_curve_key_ok(p.secret_key));
    return p;
}

static void test_keys_and_names_are_checked(void)
{
    struct cm_curve_pair p = s_pair();
    CHECK(!cm_curve_key_ok(""));
    CHECK(!cm_curve_key_ok("short"));
    char bad[CM_CURVE_KEY_LEN + 1];
    memcpy(bad, p.public_key, sizeof bad);
    bad[3] = '"'; /* not in the Z85 alphabet */
    CHECK(!cm_curve_key_ok(bad));
    CHECK(cm_curve_name_ok("booking-1.shop_a", 16));
    CHECK(!cm_curve_name_ok("", 0));
    CHECK(!cm_curve_name_ok("-x", 2));
    CHECK(!cm_curve_name_ok("Booking", 7));
    CHECK(!cm_curve_name_ok("a b", 3));
    char longest[CM_CURVE_NAME_MAX + 2];
    memset(longest, 'a', sizeof longest);
    CHECK(cm_curve_name_ok(longest, CM_CURVE_NAME_MAX));
    CHECK(!cm_curve_name_ok(longest, CM_CURVE_NAME_MAX + 1));
}

static void test_registry_parses_every_kind(void)
{
    struct cm_curve_pair a = s_pair(), b = s_pair(), c = s_pair(), d = s_pair();
    char *text = cm_strfmt("# the suite\n\n%s customers service\n"
                           "  %s\tgateway gateway\r\n"
                           "%s crmctl crmctl\n"
                           "%s booking system " TENANT " events:publish,events:read", /* no \n */
                           a.public_key, b.public_key, c.public_key, d.public_key);
    char err[256];
    cm_curve_registry_t *r = cm_curve_registry_parse(text, strlen(text), err, sizeof err);
    CHECK(r);
    CHECK(cm_curve_registry_count(r) == 4);
    const struct cm_curve_entry *e = cm_curve_registry_by_key(r, a.public_key);
    CHECK(e && e->kind == CM_CURVE_SERVICE);
    CHECK_STR(e->name, "customers");
    CHECK_STR(e->tenant, "");
    CHECK(e->n_scopes == 0);
    CHECK(cm_curve_registry_by_name(r, "gateway")->kind == CM_CURVE_GATEWAY);
    CHECK(cm_curve_registry_by_name(r, "crmctl")->kind == CM_CURVE_CRMCTL);
    e = cm_curve_registry_by_name(r, "booking");
    CHECK(e && e->kind == CM_CURVE_SYSTEM);
    CHECK_STR(e->public_key, d.public_key);
    CHECK_STR(e->tenant, TENANT);
    CHECK(e->n_scopes == 2);
    CHECK_STR(e->scopes[0], "events:publish");
    CHECK_STR(e->scopes[1], "events:read");
    CHECK(cm_curve_registry_entry(r, 3) == e);
    CHECK(cm_curve_registry_entry(r, 4) == NULL);
    CHECK(cm_curve_registry_by_key(r, s_pair().public_key) == NULL);
    CHECK(cm_curve_registry_by_name(r, "store") == NULL);
    /* A line written back parses to the same entry. */
    char *line = cm_curve_registry_line(e);
    cm_curve_registry_t *again = cm_curve_registry_parse(line, strlen(line), err, sizeof err);
    CHECK(again);
    CHECK_STR(cm_curve_registry_by_name(again, "booking")->scopes[1], "events:read");
    cm_curve_registry_destroy(&again);
    free(line);
    cm_curve_registry_destroy(&r);
    cm_curve_registry_destroy(&r); /* safe twice */
    CHECK(r == NULL);
    free(text);
}

/* Expects the text to be refused with a message containing want. */
static void s_refused(const char *text, const char *want)
{
    char err[256] = "";
    cm_curve_registry_t *r = cm_curve_registry_parse(text, strlen(text), err, sizeof err);
    if (r || !strstr(err, want)) {
        fprintf(stderr, "registry \"%s\": got \"%s\", expected \"%s\"\n", text, err, want);
        abort();
    }
}

static void test_registry_refuses_bad_lines_naming_them(void)
{
    struct cm_curve_pair a = s_pair(), b = s_pair();
    s_refused("nonsense\n", "line 1: expected");
    s_refused("012345678901234567890123456789012345678 customers service\n", "Z85");
    /* Each a line with one key, between before and after. */
    static const struct {
        const char *before, *after, *want;
    } one[] = {
        {"\n", " customers\n", "line 2: expected"},
        {"", " Customers service\n", "the name"},
        {"", " customers daemon\n", "the kind is"},
        {"", " customers service " TENANT " x\n", "only a system key"},
        {"", " booking system " TENANT "\n", "names its tenant and its scopes"},
        {"", " booking system acme events:publish\n", "not a tenant id"},
        {"", " booking system " TENANT " events:publish,,x\n", "a scope is"},
        {"", " booking system " TENANT " Events\n", "a scope is"},
    };
    char buf[1024];
    for (size_t i = 0; i < sizeof one / sizeof *one; i++) {
        snprintf(buf, sizeof buf, "%s%s%s", one[i].before, a.public_key, one[i].after);
        s_refused(buf, one[i].want);
    }
    snprintf(buf, sizeof buf, "%s a service\n%s a gateway\n", a.public_key, b.public_key);
    s_refused(buf, "the name \"a\" is already taken");
    snprintf(buf, sizeof buf, "%s a service\n%s b gateway\n", a.public_key, a.public_key);
    s_refused(buf, "already admitted as \"a\"");
    /* Too many scopes, too long a line. */
    char *many = cm_strfmt("%s s system " TENANT " ", a.public_key);
    for (int i = 0; i <= CM_CURVE_SCOPES_MAX; i++) {
        char *next = cm_strfmt("%s%sa", many, i ? "," : "");
        free(many);
        many = next;
    }
    s_refused(many, "more than");
    free(many);
    char *longline = cm_malloc(CM_CURVE_LINE_MAX + 2);
    memset(longline, 'a', CM_CURVE_LINE_MAX + 1);
    longline[CM_CURVE_LINE_MAX + 1] = '\0';
    s_refused(longline, "longer than");
    free(longline);
    /* Empty, and comments only: a registry admitting nobody. */
    char err[64];
    cm_curve_registry_t *r = cm_curve_registry_parse("# none\n", 7, err, sizeof err);
    CHECK(r && cm_curve_registry_count(r) == 0);
    CHECK(cm_curve_registry_by_name(r, "x") == NULL);
    cm_curve_registry_destroy(&r);
}

static void test_registry_of_many_keys_finds_each(void)
{
    enum { N = 2000 };
    char(*keys)[CM_CURVE_KEY_LEN + 1] = cm_malloc(N * sizeof *keys);
    size_t cap = N * 80, len = 0;
    char *text = cm_malloc(cap);
    for (int i = 0; i < N; i++) {
        struct cm_curve_pair p = s_pair();
        memcpy(keys[i], p.public_key, sizeof keys[i]);
        len += (size_t)snprintf(text + len, cap - len, "%s svc%d service\n", p.public_key, i);
    }
    char err[256];
    cm_curve_registry_t *r = cm_curve_registry_parse(text, len, err, sizeof err);
    CHECK(r && cm_curve_registry_count(r) == N);
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "svc%d", i);
        CHECK_STR(cm_curve_registry_by_key(r, keys[i])->name, name);
        CHECK_STR(cm_curve_registry_by_name(r, name)->public_key, keys[i]);
    }
    cm_curve_registry_destroy(&r);
    free(text);
    free(keys);
}

static void test_key_files_round_trip_and_are_private(void)
{
    char dir[] = "/tmp/test_curve.XXXXXX";
    CHECK(mkdtemp(dir));
    char *path = cm_strfmt("%s/customers.key", dir);
    char *pub = cm_strfmt("%s/broker.pub", dir);
    struct cm_curve_pair p = s_pair(), got;
    char err[512];
    CHECK(cm_curve_file_write(path, "customers", &p, true, err, sizeof err) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(cm_curve_file_read(path, true, &got, err, sizeof err) == 0);
    CHECK_STR(got.public_key, p.public_key);
    CHECK_STR(got.secret_key, p.secret_key);
    /* Never over an existing file. */
    CHECK(cm_curve_file_write(path, "customers", &p, true, err, sizeof err) == -1);
    CHECK(errno == EEXIST);
    /* The public half alone; it is not enough where the secret is needed. */
    CHECK(cm_curve_file_write(pub, "broker", &p, false, err, sizeof err) == 0);
    CHECK(cm_curve_file_read(pub, false, &got, err, sizeof err) == 0);
    CHECK_STR(got.public_key, p.public_key);
    CHECK(got.secret_key[0] == '\0');
    CHECK(cm_curve_file_read(pub, true, &got, err, sizeof err) == -1);
    /* A secret key file others may read is refused. */
    CHECK(chmod(path, 0644) == 0);
    CHECK(cm_curve_file_read(path, true, &got, err, sizeof err) == -1);
    CHECK(strstr(err, "make it 0600"));
    CHECK(chmod(path, 0600) == 0);
    unlink(path);
    /* A public key that is not the secret key's. */
    struct cm_curve_pair other = s_pair();
    FILE *f = fopen(path, "w");
    CHECK(f);
    fprintf(f, "public %s\nsecret %s\nbroker %s\n", other.public_key, p.secret_key, p.public_key);
    fclose(f);
    CHECK(chmod(path, 0600) == 0);
    CHECK(cm_curve_file_read(path, true, &got, err, sizeof err) == -1);
    CHECK(strstr(err, "not the secret key's"));
    unlink(path);
    f = fopen(path, "w");
    fprintf(f, "public %s\nsecrit %s\n", p.public_key, p.secret_key);
    fclose(f);
    CHECK(chmod(path, 0600) == 0);
    CHECK(cm_curve_file_read(path, true, &got, err, sizeof err) == -1);
    CHECK(strstr(err, "line 2"));
    unlink(path);
    CHECK(cm_curve_file_read(path, true, &got, err, sizeof err) == -1);
    CHECK(strstr(err, "cannot read"));
    unlink(pub);
    rmdir(dir);
    free(path);
    free(pub);
}

int main(void)
{
    RUN(test_keys_and_names_are_checked);
    RUN(test_registry_parses_every_kind);
    RUN(test_registry_refuses_bad_lines_naming_them);
    RUN(test_registry_of_many_keys_finds_each);
    RUN(test_key_files_round_trip_and_are_private);
    return 0;
}
