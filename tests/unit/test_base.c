/* Unit tests for the small libshared modules: cm_util, cm_buf, cm_cfg, cm_err, cm_arena. */
#include "cm_arena.h"
#include "cm_buf.h"
#include "cm_cfg.h"
#include "cm_err.h"
#include "cm_log.h"
#include "cm_util.h"
#include "envelope.pb-c.h"
#include "unit.h"
#include "cm_svc.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_utf8_valid(void)
{
    size_t bad = 0;
    CHECK(cm_utf8_valid("Łukasz Ødegård Иван", strlen("Łukasz Ødegård Иван"), NULL));
    CHECK(cm_utf8_valid("", 0, NULL));
    CHECK(!cm_utf8_valid("ab\xc3", 3, &bad) && bad == 2);           /* truncated */
    CHECK(!cm_utf8_valid("a\xc0\xaf", 3, &bad) && bad == 1);        /* overlong '/' */
    CHECK(!cm_utf8_valid("\xed\xa0\x80", 3, &bad) && bad == 0);     /* surrogate */
    CHECK(!cm_utf8_valid("\xf4\x90\x80\x80", 4, &bad) && bad == 0); /* > U+10FFFF */
    CHECK(!cm_utf8_valid("x\xff", 2, &bad) && bad == 1);
    CHECK(cm_utf8_valid("\xf0\x9f\x98\x80", 4, NULL)); /* emoji */
}

static void test_utf8_length(void)
{
    CHECK(cm_utf8_length("Иван") == 4);
    CHECK(cm_utf8_length("Müller") == 6);
    CHECK(cm_utf8_length("") == 0);
    CHECK(cm_utf8_prefix("Иван", 2) == 4);
    CHECK(cm_utf8_prefix("Иван", 4) == 8);
    CHECK(cm_utf8_prefix("Иван", 9) == 8);
    CHECK(cm_utf8_prefix("Müller", 2) == 3);
    CHECK(cm_utf8_prefix("abc", 0) == 0);
    CHECK(cm_utf8_prefix("", 3) == 0);
}

static void test_time_and_ids(void)
{
    char buf[40];
    CHECK_STR(cm_time_rfc3339(0, buf, sizeof buf), "1970-01-01T00:00:00.000Z");
    CHECK_STR(cm_time_rfc3339(1795000000123LL, buf, sizeof buf), "2026-11-18T11:06:40.123Z");
    char a[37], b[37];
    cm_uuid(a);
    cm_uuid(b);
    CHECK(strlen(a) == 36 && a[14] == '4' && strcmp(a, b) != 0);
    CHECK(cm_uuid_valid(a) && cm_uuid_valid(b));
    CHECK(!cm_uuid_valid("0A1B2C3D-0000-4000-8000-00000000ABCD"));
    CHECK(!cm_uuid_valid("0a1b2c3d-0000-4000-8000-00000000abc"));
    CHECK(!cm_uuid_valid("0a1b2c3d00004000800000000000abcdef12"));
    CHECK(!cm_uuid_valid(""));
    char hex[17];
    cm_random_hex(hex, 8);
    CHECK(strlen(hex) == 16);
    CHECK(cm_mono_ms() > 0 && cm_now_ms() > 1700000000000LL);
}

static int s_str_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Ids come from a pool of random bytes: every one is a well-formed version 4
 * UUID, none repeats, and a forked child does not repeat its parent's. */
static void test_uuid_pool(void)
{
    enum { N = 2000 };
    static char ids[N][37];
    for (int i = 0; i < N; i++) {
        cm_uuid(ids[i]);
        const char *u = ids[i];
        CHECK(strlen(u) == 36 && u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-');
        CHECK(u[14] == '4' && strchr("89ab", u[19]));
        CHECK(strspn(u, "0123456789abcdef-") == 36);
    }
    qsort(ids, N, sizeof ids[0], s_str_cmp);
    for (int i = 1; i < N; i++)
        CHECK(strcmp(ids[i - 1], ids[i]) != 0);
    char mine[37], theirs[37] = {0};
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char child[37];
        cm_uuid(child);
        ssize_t w = write(fds[1], child, 37);
        _exit(w == 37 ? 0 : 1);
    }
    cm_uuid(mine);
    CHECK(read(fds[0], theirs, 37) == 37);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(fds[0]);
    close(fds[1]);
    CHECK(strcmp(mine, theirs) != 0);
}

static void test_parse_long(void)
{
    long v = 0;
    CHECK(cm_parse_long("42", 0, 100, &v) == 0 && v == 42);
    CHECK(cm_parse_long("-1", 0, 100, &v) == -1);
    CHECK(cm_parse_long("101", 0, 100, &v) == -1);
    CHECK(cm_parse_long("4x", 0, 100, &v) == -1);
    CHECK(cm_parse_long("", 0, 100, &v) == -1);
    CHECK(cm_parse_long("99999999999999999999999", 0, 100, &v) == -1);
}

static void test_hex_digit(void)
{
    const char *digits = "0123456789abcdef", *upper = "ABCDEF";
    for (int i = 0; i < 16; i++)
        CHECK(cm_hex_digit((unsigned char)digits[i]) == i);
    for (int i = 0; i < 6; i++)
        CHECK(cm_hex_digit((unsigned char)upper[i]) == 10 + i);
    int valid = 0;
    for (int c = 0; c < 256; c++)
        valid += cm_hex_digit((unsigned char)c) >= 0;
    CHECK(valid == 22); // nothing else: not 'g', '/', ':', '@', '`' or a UTF-8 byte
}

static void test_buf_cap(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 10);
    CHECK(cm_buf_append(&b, "hello", 5) == 0);
    CHECK(cm_buf_printf(&b, "%d", 1234) == 0);
    CHECK(b.len == 9 && !strcmp(b.data, "hello1234"));
    CHECK(cm_buf_append(&b, "xy", 2) == -1); /* would pass the cap: nothing appended */
    CHECK(b.len == 9);
    CHECK(cm_buf_printf(&b, "%s", "zz") == -1);
    size_t len = 0;
    char *s = cm_buf_steal(&b, &len);
    CHECK(len == 9 && !strcmp(s, "hello1234") && b.len == 0);
    free(s);
    cm_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        CHECK(cm_buf_append(&b, "0123456789", 10) == 0);
    CHECK(b.len == 10000);
    cm_buf_reset(&b);
    CHECK(b.len == 0 && b.data[0] == '\0');
    cm_buf_release(&b);
    /* Room reserved ahead: no move while it fills; the cap still holds. */
    cm_buf_init(&b, 100);
    cm_buf_reserve(&b, 500);
    CHECK(b.cap >= 501 && b.len == 0);
    char *at = b.data;
    for (int i = 0; i < 10; i++)
        CHECK(cm_buf_append(&b, "0123456789", 10) == 0);
    CHECK(b.data == at && b.len == 100);
    CHECK(cm_buf_append(&b, "x", 1) == -1 && b.len == 100);
    cm_buf_release(&b);
}

static struct {
    char *endpoint;
    long port;
    bool flag;
    char *secret;
} cfg;

static const struct cm_cfg_item s_items[] = {
    {"unit_endpoint", CM_CFG_STR, &cfg.endpoint, "tcp://127.0.0.1:1"},
    {"unit_port", CM_CFG_INT, &cfg.port, "80", 1, 65535},
    {"unit_flag", CM_CFG_BOOL, &cfg.flag, "false"},
    {"unit_secret", CM_CFG_STR, &cfg.secret, "", .secret = true},
    {NULL},
};

static void test_cfg_defaults_and_env(void)
{
    char err[256];
    unsetenv("CRM_UNIT_PORT");
    unsetenv("CRM_SVC_UNIT_PORT");
    CHECK(cm_cfg_load("svc", s_items, err, sizeof err) == 0);
    CHECK_STR(cfg.endpoint, "tcp://127.0.0.1:1");
    CHECK(cfg.port == 80 && !cfg.flag);
    setenv("CRM_UNIT_PORT", "8080", 1);
    setenv("CRM_UNIT_FLAG", "yes", 1);
    CHECK(cm_cfg_load("svc", s_items, err, sizeof err) == 0);
    CHECK(cfg.port == 8080 && cfg.flag);
    /* The per-service variable wins over the shared one. */
    setenv("CRM_SVC_UNIT_PORT", "9090", 1);
    CHECK(cm_cfg_load("svc", s_items, err, sizeof err) == 0);
    CHECK(cfg.port == 9090);
    unsetenv("CRM_SVC_UNIT_PORT");
    unsetenv("CRM_UNIT_FLAG");
    cm_cfg_free(s_items);
}

static void test_cfg_bad_values_name_the_key(void)
{
    char err[256];
    setenv("CRM_UNIT_PORT", "99999", 1);
    CHECK(cm_cfg_load("svc", s_items, err, sizeof err) == -1);
    CHECK(strstr(err, "CRM_UNIT_PORT") && strstr(err, "1..65535"));
    setenv("CRM_UNIT_PORT", "80", 1);
    setenv("CRM_UNIT_FLAG", "maybe", 1);
    CHECK(cm_cfg_load("svc", s_items, err, sizeof err) == -1);
    CHECK(strstr(err, "CRM_UNIT_FLAG"));
    unsetenv("CRM_UNIT_FLAG");
    unsetenv("CRM_UNIT_PORT");
    cm_cfg_free(s_items);
}

static int s_even_length(const char *value, char *why, size_t whysz)
{
    if (strlen(value) % 2 == 0)
        return 0;
    snprintf(why, whysz, "expected an even length");
    return -1;
}

static void test_cfg_check_hook(void)
{
    static char *value;
    static const struct cm_cfg_item items[] = {
        {"unit_even", CM_CFG_STR, &value, "ab", .check = s_even_length},
        {NULL},
    };
    char err[256];
    CHECK(cm_cfg_load("svc", items, err, sizeof err) == 0);
    setenv("CRM_UNIT_EVEN", "abc", 1);
    CHECK(cm_cfg_load("svc", items, err, sizeof err) == -1);
    CHECK(strstr(err, "CRM_UNIT_EVEN") && strstr(err, "even length"));
    unsetenv("CRM_UNIT_EVEN");
    cm_cfg_free(items);
}

static void test_cfg_public_url_check(void)
{
    char why[200];
    CHECK(cm_cfg_check_public_url("http://127.0.0.1:8080", why, sizeof why) == 0);
    CHECK(cm_cfg_check_public_url("https://crm.salon.example/base", why, sizeof why) == 0);
    CHECK(cm_cfg_check_public_url("https://crm.salon.example/", why, sizeof why) == -1);
    CHECK(strstr(why, "trailing slash"));
    CHECK(cm_cfg_check_public_url("ftp://crm.example", why, sizeof why) == -1);
    CHECK(cm_cfg_check_public_url("https://crm.example/?a=1", why, sizeof why) == -1);
    CHECK(cm_cfg_check_public_url("https://crm.example/#x", why, sizeof why) == -1);
    CHECK(cm_cfg_check_public_url("https://crm example", why, sizeof why) == -1);
}

static void test_err_status(void)
{
    /* And back, for a reply passed on. */
    CHECK(cm_err_of_status(CRM__STATUS__STATUS_OK) == CM_OK);
    CHECK(cm_err_of_status(CRM__STATUS__STATUS_INVALID_ARGUMENT) == CM_ERR_INVALID);
    CHECK(cm_err_of_status(CRM__STATUS__STATUS_NOT_FOUND) == CM_ERR_NOT_FOUND);
    CHECK(cm_err_of_status(CRM__STATUS__STATUS_ALREADY_EXISTS) == CM_ERR_CONFLICT);
    CHECK(cm_err_of_status(CRM__STATUS__STATUS_FAILED_PRECONDITION) == CM_ERR_PRECONDITION);
    CHECK(cm_err_of_status(CRM__STATUS__STATUS_UNAUTHENTICATED) == CM_ERR_PERMISSION);
    CHECK(cm_err_of_status(CRM__STATUS__STATUS_DEADLINE_EXCEEDED) == CM_ERR_UNAVAILABLE);
    CHECK(cm_err_of_status(CRM__STATUS__STATUS_INTERNAL) == CM_ERR_INTERNAL);
    CHECK(cm_err_of_status(CRM__STATUS__STATUS_GONE) == CM_ERR_GONE);
    CHECK(cm_err_of_status(999) == CM_ERR_INTERNAL);
    CHECK(cm_err_status(CM_OK) == CRM__STATUS__STATUS_OK);
    CHECK(cm_err_status(CM_ERR_INVALID) == CRM__STATUS__STATUS_INVALID_ARGUMENT);
    CHECK(cm_err_status(CM_ERR_NOT_FOUND) == CRM__STATUS__STATUS_NOT_FOUND);
    CHECK(cm_err_status(CM_ERR_CONFLICT) == CRM__STATUS__STATUS_ALREADY_EXISTS);
    CHECK(cm_err_status(CM_ERR_PRECONDITION) == CRM__STATUS__STATUS_FAILED_PRECONDITION);
    CHECK(cm_err_status(CM_ERR_TIMEOUT) == CRM__STATUS__STATUS_DEADLINE_EXCEEDED);
    CHECK(cm_err_status(CM_ERR_UPSTREAM) == CRM__STATUS__STATUS_INTERNAL);
    CHECK(cm_err_status(CM_ERR_GONE) == CRM__STATUS__STATUS_GONE);
    CHECK_STR(cm_err_name(CM_ERR_GONE), "gone");
    CHECK_STR(cm_err_name(CM_ERR_NOT_FOUND), "not found");
}

static void test_envelope_round_trip(void)
{
    /* The header every request carries survives packing with Unicode intact. */
    Crm__Principal p = CRM__PRINCIPAL__INIT;
    p.id = "key_1";
    p.name = "Zoë Ødegård";
    p.role = CRM__ROLE__ROLE_STAFF;
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.request_id = "r-1";
    h.tenant_id = "00000000-0000-4000-8000-000000000001";
    h.principal = &p;
    h.deadline_unix_ms = 1795000000000LL;
    h.method = "customers.CreateCustomer";
    h.idempotency_key = "idem-1";
    h.channel = "api";
    uint8_t buf[512];
    size_t n = crm__request_header__pack(&h, buf);
    Crm__RequestHeader *u = crm__request_header__unpack(NULL, n, buf);
    CHECK(u);
    CHECK_STR(u->principal->name, "Zoë Ødegård");
    CHECK(u->deadline_unix_ms == 1795000000000LL);
    CHECK_STR(u->idempotency_key, "idem-1");
    crm__request_header__free_unpacked(u, NULL);
    /* Garbage does not decode. */
    uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    CHECK(crm__request_header__unpack(NULL, sizeof junk, junk) == NULL);
}

static void test_arena(void)
{
    cm_arena_t a;
    cm_arena_init(&a);
    /* Aligned for anything, apart, and past one block. */
    char *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = cm_arena_alloc(&a, (size_t)(i * 997 % 5000) + 1);
        CHECK((uintptr_t)p[i] % alignof(max_align_t) == 0);
        memset(p[i], i, (size_t)(i * 997 % 5000) + 1);
    }
    for (int i = 0; i < 100; i++)
        for (size_t j = 0; j < (size_t)(i * 997 % 5000) + 1; j++)
            CHECK(p[i][j] == (char)i);
    /* A protobuf message unpacked into it, used, and given back whole. */
    Crm__Principal pr = CRM__PRINCIPAL__INIT;
    pr.id = "key_1";
    pr.name = "Zoë Ødegård";
    Crm__RequestHeader h = CRM__REQUEST_HEADER__INIT;
    h.request_id = "r-1";
    h.principal = &pr;
    uint8_t buf[256];
    size_t n = crm__request_header__pack(&h, buf);
    for (int round = 0; round < 3; round++) {
        cm_arena_reset(&a);
        Crm__RequestHeader *u = crm__request_header__unpack(cm_arena_pb(&a), n, buf);
        CHECK(u && u->principal);
        CHECK_STR(u->principal->name, "Zoë Ødegård");
        CHECK_STR(u->request_id, "r-1");
        /* Freeing through the allocator is harmless: the arena owns it. */
        crm__request_header__free_unpacked(u, cm_arena_pb(&a));
    }
    uint8_t junk[] = {0x0a, 0x7f, 0x01};
    CHECK(crm__request_header__unpack(cm_arena_pb(&a), sizeof junk, junk) == NULL);
    cm_arena_release(&a);
    cm_arena_release(&a);
}

/* cm_log_init in a child with stderr into out; its exit status. */
static int s_log_init_child(const char *service, char *out, size_t size)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        cm_log_init(service);
        _exit(0);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], out, size - 1);
    out[got > 0 ? got : 0] = '\0';
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The log level: CRM_<SERVICE>_LOG_LEVEL over CRM_LOG_LEVEL; a bad one exits 2 naming it. */
static void test_log_level_per_service(void)
{
    setenv("CRM_LOG_LEVEL", "warn", 1);
    unsetenv("CRM_UNIT_SVC_LOG_LEVEL");
    cm_log_init("unit-svc");
    CHECK(cm_log_level == CM_LOG_WARN);
    setenv("CRM_UNIT_SVC_LOG_LEVEL", "debug", 1);
    cm_log_init("unit-svc");
    CHECK(cm_log_level == CM_LOG_DEBUG);
    cm_log_init("other"); /* another service keeps the global one */
    CHECK(cm_log_level == CM_LOG_WARN);
    setenv("CRM_UNIT_SVC_LOG_LEVEL", "loud", 1);
    char out[512];
    CHECK(s_log_init_child("unit-svc", out, sizeof out) == 2);
    CHECK(strstr(out, "CRM_UNIT_SVC_LOG_LEVEL") && strstr(out, "loud"));
    unsetenv("CRM_UNIT_SVC_LOG_LEVEL");
    unsetenv("CRM_LOG_LEVEL");
    cm_log_init("unit");
}

/* A finished request's line: at info when it failed or was slow (1000 ms unless
 * CRM_LOG_SLOW_MS says otherwise; 0: always), else at debug. */
static void test_log_requests(void)
{
    unsetenv("CRM_LOG_SLOW_MS");
    unsetenv("CRM_UNIT_SVC_LOG_SLOW_MS");
    cm_log_init("unit-svc");
    CHECK(cm_log_slow_ms == 1000);
    CHECK(cm_log_request_level(false, 3) == CM_LOG_DEBUG);
    CHECK(cm_log_request_level(false, 999) == CM_LOG_DEBUG);
    CHECK(cm_log_request_level(false, 1000) == CM_LOG_INFO);
    CHECK(cm_log_request_level(true, 0) == CM_LOG_INFO);
    setenv("CRM_LOG_SLOW_MS", "0", 1);
    cm_log_init("unit-svc");
    CHECK(cm_log_request_level(false, 0) == CM_LOG_INFO);
    setenv("CRM_UNIT_SVC_LOG_SLOW_MS", "250", 1);
    cm_log_init("unit-svc");
    CHECK(cm_log_slow_ms == 250);
    CHECK(cm_log_request_level(false, 249) == CM_LOG_DEBUG);
    static const char *bad[] = {"-1", "fast", "3600001", "12ms", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("CRM_UNIT_SVC_LOG_SLOW_MS", bad[i], 1);
        char out[512];
        CHECK(s_log_init_child("unit-svc", out, sizeof out) == 2);
        CHECK(strstr(out, "CRM_UNIT_SVC_LOG_SLOW_MS") && strstr(out, bad[i]));
    }
    unsetenv("CRM_UNIT_SVC_LOG_SLOW_MS");
    unsetenv("CRM_LOG_SLOW_MS");
    cm_log_init("unit");
}

/* Item calls of a batch: an item's failure and violations stay its own,
 * come out as a reply header, and the parent's count of calls goes on. */
static void test_call_items(void)
{
    Crm__RequestHeader hdr = CRM__REQUEST_HEADER__INIT;
    struct cm_call parent = {.hdr = &hdr, .n_calls = 3};
    crm__reply_header__init(&parent.reply);
    struct cm_call item;
    cm_call_item(&item, &parent);
    CHECK(item.hdr == &hdr && item.n_calls == 3 && !cm_call_failed(&item));
    cm_call_violation(&item, "occurredAt", "INVALID_FORMAT", "occurredAt is not %s", "RFC 3339");
    cm_call_violation(&item, "source", "REQUIRED", "source is required");
    item.n_calls = 5;
    item.prep = malloc(8); /* freed with the item */
    Crm__ReplyHeader *h = cm_call_item_end(&item, &parent);
    CHECK(h->status == CRM__STATUS__STATUS_INVALID_ARGUMENT);
    CHECK_STR(h->message, "2 invalid fields");
    CHECK(h->n_details == 2);
    CHECK_STR(h->details[0]->field, "occurredAt");
    CHECK_STR(h->details[0]->description, "occurredAt is not RFC 3339");
    CHECK_STR(h->details[1]->reason, "REQUIRED");
    CHECK(!cm_call_failed(&parent) && parent.reply.n_details == 0 && parent.n_calls == 5);
    crm__reply_header__free_unpacked(h, NULL);

    cm_call_item(&item, &parent);
    h = cm_call_item_end(&item, &parent);
    CHECK(h->status == CRM__STATUS__STATUS_OK && h->n_details == 0);
    CHECK_STR(h->message, "");
    crm__reply_header__free_unpacked(h, NULL);

    cm_call_item(&item, &parent);
    cm_call_fail(&item, CM_ERR_UNAVAILABLE, "customers did not answer in time; retry");
    h = cm_call_item_end(&item, &parent);
    CHECK(h->status == CRM__STATUS__STATUS_UNAVAILABLE);
    CHECK_STR(h->message, "customers did not answer in time; retry");
    crm__reply_header__free_unpacked(h, NULL);
}

/* Days and dates of the proleptic Gregorian calendar, both ways, against
 * known days and day by day across leap years, centuries and 1970. */
static void test_civil_days(void)
{
    CHECK(cm_days_from_civil(1970, 1, 1) == 0);
    CHECK(cm_days_from_civil(1969, 12, 31) == -1);
    CHECK(cm_days_from_civil(2000, 2, 29) == 11016);
    CHECK(cm_days_from_civil(2000, 3, 1) == 11017);
    CHECK(cm_days_from_civil(1900, 1, 1) == -25567);
    CHECK(cm_days_from_civil(9999, 12, 31) == 2932896);
    int y = 1599, m = 12, d = 31;
    int64_t day = cm_days_from_civil(y, m, d);
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int i = 0; i < 200000; i++) {
        /* The next date by hand, the next day by arithmetic: the same. */
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        int last = m == 2 && leap ? 29 : month_days[m - 1];
        if (++d > last) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
        day++;
        CHECK(cm_days_from_civil(y, m, d) == day);
        int yy, mm, dd;
        cm_civil_from_days(day, &yy, &mm, &dd);
        CHECK(yy == y && mm == m && dd == d);
    }
}

int main(void)
{
    RUN(test_civil_days);
    RUN(test_hex_digit);
    RUN(test_utf8_valid);
    RUN(test_call_items);
    RUN(test_utf8_length);
    RUN(test_time_and_ids);
    RUN(test_uuid_pool);
    RUN(test_parse_long);
    RUN(test_buf_cap);
    RUN(test_cfg_defaults_and_env);
    RUN(test_cfg_bad_values_name_the_key);
    RUN(test_cfg_check_hook);
    RUN(test_cfg_public_url_check);
    RUN(test_err_status);
    RUN(test_envelope_round_trip);
    RUN(test_arena);
    RUN(test_log_level_per_service);
    RUN(test_log_requests);
    return 0;
}
