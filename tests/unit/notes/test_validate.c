/* Unit tests for notes_validate: the limits a person typing a note or a task
 * meets, due dates as calendars and APIs write them, and page tokens. */
#include "notes_validate.h"
#include "cm_util.h"
#include "../unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A string of n copies of the UTF-8 character ch. */
static char *s_repeat(const char *ch, size_t n)
{
    size_t len = strlen(ch);
    char *s = malloc(len * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * len, ch, len);
    s[len * n] = '\0';
    return s;
}

static void test_text_limit_counts_characters(void)
{
    struct notes_problem p;
    /* 10,000 characters of 2, 3 and 4 bytes each are all within the limit. */
    const char *chars[] = {"a", "\xc5\x82" /* ł */, "\xe6\x97\xa5" /* 日 */,
                           "\xf0\x9f\x98\x80" /* 😀 */};
    for (size_t i = 0; i < 4; i++) {
        char *s = s_repeat(chars[i], NOTES_BODY_MAX);
        char *out = notes_validate_text(s, NOTES_BODY_MAX, NOTES_TEXT_MULTILINE, "note", &p);
        CHECK(out != NULL);
        CHECK(p.reason == NULL);
        CHECK_STR(out, s);
        free(out);
        free(s);
        s = s_repeat(chars[i], NOTES_BODY_MAX + 1);
        out = notes_validate_text(s, NOTES_BODY_MAX, NOTES_TEXT_MULTILINE, "the note", &p);
        CHECK(out == NULL);
        CHECK_STR(p.reason, "TOO_LONG");
        CHECK(strstr(p.description, "10001 characters") != NULL);
        CHECK(strstr(p.description, "at most 10000") != NULL);
        free(s);
    }
}

static void test_text_control_characters(void)
{
    struct notes_problem p;
    char *out = notes_validate_text("line one\r\nline two\rthree\n\tindented", 100,
                                    NOTES_TEXT_MULTILINE, "note", &p);
    CHECK_STR(out, "line one\nline two\nthree\n\tindented");
    free(out);
    /* A title is one line. */
    CHECK(notes_validate_text("two\nlines", 100, 0, "the title", &p) == NULL);
    CHECK_STR(p.reason, "INVALID");
    CHECK(strstr(p.description, "U+000A") != NULL);
    CHECK(strstr(p.description, "character 4") != NULL);
    /* NUL cannot arrive in a C string; BEL, ESC, DEL and C1 controls can. */
    const char *bad[] = {"a\x07", "\x1b[31mred", "x\x7f", "c1 \xc2\x85 next line"};
    for (size_t i = 0; i < 4; i++) {
        CHECK(notes_validate_text(bad[i], 100, NOTES_TEXT_MULTILINE, "note", &p) == NULL);
        CHECK_STR(p.reason, "INVALID");
    }
    /* Invalid UTF-8 is refused even though the edge should have caught it. */
    CHECK(notes_validate_text("bad \xc3\x28", 100, NOTES_TEXT_MULTILINE, "note", &p) == NULL);
    CHECK_STR(p.reason, "INVALID");
}

static void test_text_required(void)
{
    struct notes_problem p;
    const char *blank[] = {"", "   ", "\n\t \n", "\xc2\xa0", "\xe3\x80\x80"};
    for (size_t i = 0; i < 5; i++) {
        CHECK(notes_validate_text(blank[i], 100, NOTES_TEXT_MULTILINE | NOTES_TEXT_REQUIRED,
                                  "the note", &p) == NULL);
        CHECK_STR(p.reason, "REQUIRED");
    }
    /* Without REQUIRED an empty text is fine (a task's description). */
    char *out = notes_validate_text("", 100, NOTES_TEXT_MULTILINE, "description", &p);
    CHECK_STR(out, "");
    free(out);
    out = notes_validate_text(" . ", 100, NOTES_TEXT_REQUIRED, "title", &p);
    CHECK_STR(out, " . ");
    free(out);
}

static void s_due_ok(const char *in, const char *want, bool all_day, int line)
{
    struct notes_due d;
    char buf[40];
    if (notes_due_parse(in, &d) != NOTES_DUE_OK || d.all_day != all_day ||
        strcmp(notes_due_format(&d, buf, sizeof buf), want) != 0) {
        fprintf(stderr, "%s:%d: due \"%s\" not read as %s\n", __FILE__, line, in, want);
        abort();
    }
}
#define DUE_OK(in, want, all_day) s_due_ok(in, want, all_day, __LINE__)

static void test_due_parse(void)
{
    DUE_OK("2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z", false);
    DUE_OK("2026-11-27T10:00:00+01:00", "2026-11-27T09:00:00Z", false);
    DUE_OK("2026-11-27t10:00:00z", "2026-11-27T10:00:00Z", false);
    DUE_OK("2026-11-27 23:30:00-02:30", "2026-11-28T02:00:00Z", false);
    DUE_OK("2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00Z", false);
    DUE_OK("2026-11-27T10:00:00.5Z", "2026-11-27T10:00:00.500Z", false);
    DUE_OK("2026-11-27T10:00:00.123456789Z", "2026-11-27T10:00:00.123Z", false);
    DUE_OK("2028-02-29", "2028-02-29", true);
    DUE_OK("2026-11-27", "2026-11-27", true);
    struct notes_due d;
    CHECK(notes_due_parse("2026-11-27", &d) == NOTES_DUE_OK);
    CHECK(d.ms == cm_days_from_civil(2026, 11, 27) * 86400000);
    const char *bad[] = {"",
                         "tomorrow",
                         "2026-11-27T10:00:00", // no offset: ambiguous
                         "2026-11-27T10:00Z",   // no seconds
                         "2026-02-29",          // not a leap year
                         "2026-13-01",
                         "2026-11-31",
                         "2026-11-27T24:00:00Z",
                         "2026-11-27T10:00:60Z", // leap second
                         "2026-11-27T10:00:00.Z",
                         "2026-11-27T10:00:00+1:00",
                         "2026-11-27T10:00:00Z ",
                         "26-11-27",
                         "2026/11/27"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (notes_due_parse(bad[i], &d) != NOTES_DUE_FORMAT) {
            fprintf(stderr, "%s:%d: \"%s\" was accepted\n", __FILE__, __LINE__, bad[i]);
            abort();
        }
    CHECK(notes_due_parse("1999-12-31", &d) == NOTES_DUE_RANGE);
    CHECK(notes_due_parse("2200-01-01T00:00:00Z", &d) == NOTES_DUE_RANGE);
    CHECK(notes_due_parse("2000-01-01T00:30:00+01:00", &d) == NOTES_DUE_RANGE);
    CHECK(notes_due_parse("2000-01-01", &d) == NOTES_DUE_OK);
    CHECK(notes_due_parse("2199-12-31T23:59:59Z", &d) == NOTES_DUE_OK);
}

static void test_civil_round_trip(void)
{
    CHECK(cm_days_from_civil(1970, 1, 1) == 0);
    CHECK(cm_days_from_civil(2000, 3, 1) == 11017);
    for (int64_t z = -800000; z < 800000; z += 37) {
        int y, m, d;
        cm_civil_from_days(z, &y, &m, &d);
        CHECK(cm_days_from_civil(y, m, d) == z);
    }
}

static void test_ids_and_urls(void)
{
    CHECK(notes_staff_id_valid("key_0a1b2c"));
    CHECK(notes_staff_id_valid("eva@example.com"));
    CHECK(!notes_staff_id_valid(""));
    CHECK(!notes_staff_id_valid("two words"));
    CHECK(!notes_staff_id_valid("\xc5\x82"));
    char *long_id = s_repeat("x", NOTES_STAFF_ID_MAX + 1);
    CHECK(!notes_staff_id_valid(long_id));
    long_id[NOTES_STAFF_ID_MAX] = '\0';
    CHECK(notes_staff_id_valid(long_id));
    free(long_id);

    CHECK(notes_base_url_valid(""));
    CHECK(notes_base_url_valid("https://crm.example.com"));
    CHECK(notes_base_url_valid("http://127.0.0.1:8080"));
    CHECK(notes_base_url_valid("https://example.com/crm"));
    CHECK(!notes_base_url_valid("https://crm.example.com/"));
    CHECK(!notes_base_url_valid("ftp://crm.example.com"));
    CHECK(!notes_base_url_valid("javascript:alert(1)"));
    CHECK(!notes_base_url_valid("https://"));
    CHECK(!notes_base_url_valid("https://a b"));
    CHECK(!notes_base_url_valid("https://a\r\nX-Evil: 1"));
    CHECK(!notes_base_url_valid("https://a/#/x"));
    CHECK(!notes_base_url_valid("https://a/?q=1"));

    CHECK(cm_uuid_valid("0a1b2c3d-0000-4000-8000-00000000abcd"));
    CHECK(!cm_uuid_valid("0A1B2C3D-0000-4000-8000-00000000ABCD"));
    CHECK(!cm_uuid_valid("0a1b2c3d00004000800000000000abcd"));
    CHECK(!cm_uuid_valid("../../etc/passwd"));
}

static void test_page_tokens(void)
{
    char buf[96], id[NOTES_ID_SIZE];
    int flag;
    int64_t key;
    const char *uuid = "0a1b2c3d-0000-4000-8000-00000000abcd";
    notes_token_make(1, -1234567890123LL, uuid, buf, sizeof buf);
    CHECK(notes_token_parse(buf, &flag, &key, id) == 0);
    CHECK(flag == 1 && key == -1234567890123LL);
    CHECK_STR(id, uuid);
    notes_token_make(0, 0, uuid, buf, sizeof buf);
    CHECK(notes_token_parse(buf, &flag, &key, id) == 0 && flag == 0 && key == 0);
    const char *bad[] = {"",
                         "2.5.0a1b2c3d-0000-4000-8000-00000000abcd",
                         "1..0a1b2c3d-0000-4000-8000-00000000abcd",
                         "1.x.0a1b2c3d-0000-4000-8000-00000000abcd",
                         "1.99999999999999999999.0a1b2c3d-0000-4000-8000-00000000abcd",
                         "1.5.not-a-uuid",
                         "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(notes_token_parse(bad[i], &flag, &key, id) == -1);
}

int main(void)
{
    RUN(test_text_limit_counts_characters);
    RUN(test_text_control_characters);
    RUN(test_text_required);
    RUN(test_due_parse);
    RUN(test_civil_round_trip);
    RUN(test_ids_and_urls);
    RUN(test_page_tokens);
    return 0;
}
