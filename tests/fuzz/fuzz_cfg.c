/* Fuzzes configuration values as they come from the environment, and the
 * UTF-8 helpers every input check relies on. The first byte picks the config
 * item type and integer bounds; the rest is the value. Every input also goes
 * through cm_utf8_valid and cm_utf8_length, compared with a decoder written
 * here from the UTF-8 definition (RFC 3629). */
#include "fuzz.h"
#include "cm_cfg.h"
#include "cm_util.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>

/* Reference decoder: the length of the well-formed sequence at s (n bytes
 * left), or 0 when it is not one. */
static size_t s_ref_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    /* RFC 3629 table 4: the allowed second bytes depend on the first. */
    unsigned lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    return len;
}

/* Valid? Then *count code points; else *bad the offset of the bad sequence. */
static bool s_ref_utf8(const unsigned char *s, size_t n, size_t *count, size_t *bad)
{
    size_t i = 0, k = 0;
    while (i < n) {
        size_t len = s_ref_seq(s + i, n - i);
        if (!len) {
            *bad = i;
            return false;
        }
        i += len;
        k++;
    }
    *count = k;
    return true;
}

static void s_utf8(const uint8_t *data, size_t size)
{
    size_t bad = (size_t)-1, ref_count = 0, ref_bad = 0;
    bool ok = cm_utf8_valid((const char *)data, size, &bad);
    bool ref = s_ref_utf8(data, size, &ref_count, &ref_bad);
    if (ok != ref || (!ok && bad != ref_bad)) {
        fprintf(stderr, "cm_utf8_valid says %d (offset %zu), RFC 3629 says %d (offset %zu)\n", ok,
                bad, ref, ref_bad);
        abort();
    }
    if (!ok) {
        FUZZ_CHECK(bad < size);
        FUZZ_CHECK(cm_utf8_valid((const char *)data, bad, NULL));
        return;
    }
    /* cm_utf8_length reads a C string: count up to the first NUL. */
    const uint8_t *nul = memchr(data, 0, size);
    size_t n = nul ? (size_t)(nul - data) : size;
    char *s = fuzz_strndup(data, n);
    size_t count = 0, unused = 0;
    FUZZ_CHECK(s_ref_utf8((const unsigned char *)s, n, &count, &unused));
    if (cm_utf8_length(s) != count) {
        fprintf(stderr, "cm_utf8_length %zu, code points %zu\n", cm_utf8_length(s), count);
        abort();
    }
    FUZZ_CHECK(count <= n);
    free(s);
}

/* What a decimal value should parse to: all of it a base-10 long in range. */
static bool s_ref_long(const char *s, long min, long max, long *out)
{
    if (!*s)
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static void s_cfg(unsigned pick, const char *value)
{
    static const long bounds[][2] = {
        {0, 65535}, {1, 1000}, {LONG_MIN, LONG_MAX}, {-5, 5}, {0, 0}, {100, 3600000},
    };
    char *str = NULL;
    long num = 424242;
    bool flag = true;
    struct cm_cfg_item item = {.key = "fuzz_item", .def = "x"};
    switch (pick % 3) {
    case 0:
        item.type = CM_CFG_STR;
        item.target = &str;
        FUZZ_CHECK(cm_cfg_parse(&item, value) == 0);
        FUZZ_CHECK(str && !strcmp(str, value));
        /* Parsing again replaces (and frees) the old copy. */
        FUZZ_CHECK(cm_cfg_parse(&item, "again") == 0);
        FUZZ_CHECK(!strcmp(str, "again"));
        free(str);
        break;
    case 1: {
        const long *b = bounds[(pick / 3) % (sizeof bounds / sizeof bounds[0])];
        item.type = CM_CFG_INT;
        item.target = &num;
        item.min = b[0];
        item.max = b[1];
        long want = 0;
        bool ok = s_ref_long(value, b[0], b[1], &want);
        int rc = cm_cfg_parse(&item, value);
        FUZZ_CHECK((rc == 0) == ok);
        FUZZ_CHECK(rc == 0 ? num == want : num == 424242);
        long direct = 7;
        FUZZ_CHECK((cm_parse_long(value, b[0], b[1], &direct) == 0) == ok);
        break;
    }
    default: {
        item.type = CM_CFG_BOOL;
        item.target = &flag;
        static const char *const yes[] = {"1", "true", "yes"};
        static const char *const no[] = {"0", "false", "no", ""};
        int want = -1;
        for (size_t i = 0; i < 3; i++)
            if (!strcmp(value, yes[i]))
                want = 1;
        for (size_t i = 0; i < 4; i++)
            if (!strcmp(value, no[i]))
                want = 0;
        int rc = cm_cfg_parse(&item, value);
        FUZZ_CHECK((rc == 0) == (want >= 0));
        if (rc == 0)
            FUZZ_CHECK(flag == (want == 1));
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_utf8(data, size);
    if (size < 1)
        return 0;
    char *value = fuzz_strndup(data + 1, size - 1);
    s_cfg(data[0], value);
    free(value);
    return 0;
}
