/* Unit tests for notes_ical: what a calendar app parsing the feed relies on.
 * Every rendered text is checked line by line: CRLF only, at most 75 octets
 * per physical line, each physical line valid UTF-8 on its own, and the
 * unfolded text carrying the values back exactly. */
#include "notes_ical.h"
#include "notes_validate.h"
#include "cm_util.h"
#include "../unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checks the physical shape of an iCalendar text and returns it unfolded
 * (LF-separated logical lines, malloc'd). */
static char *s_unfold_checked(const char *text, size_t len)
{
    CHECK(len >= 2 && text[len - 2] == '\r' && text[len - 1] == '\n');
    char *out = malloc(len + 1);
    size_t o = 0;
    const char *p = text, *end = text + len;
    bool first = true;
    while (p < end) {
        const char *cr = strstr(p, "\r\n");
        CHECK(cr != NULL);
        size_t n = (size_t)(cr - p);
        CHECK(memchr(p, '\n', n) == NULL); // no bare LF
        CHECK(memchr(p, '\r', n) == NULL); // no bare CR
        CHECK(n <= 75);
        CHECK(cm_utf8_valid(p, n, NULL)); // no character split across lines
        if (n > 0 && p[0] == ' ' && !first) {
            memcpy(out + o, p + 1, n - 1); // a continuation
            o += n - 1;
        } else {
            if (!first)
                out[o++] = '\n';
            memcpy(out + o, p, n);
            o += n;
        }
        first = false;
        p = cr + 2;
    }
    out[o] = '\0';
    return out;
}

/* The value of the first logical line starting with name (e.g. "SUMMARY:"), malloc'd. */
static char *s_prop(const char *unfolded, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = unfolded; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len >= n && !memcmp(p, name, n))
            return cm_strndup(p + n, len - n);
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static int s_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_escape(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    CHECK(notes_ical_escape(&b, "a,b;c\\d\ne\r\nf") == 0);
    CHECK_STR(b.data, "a\\,b\\;c\\\\d\\ne\\nf");
    cm_buf_reset(&b);
    CHECK(notes_ical_escape(&b, "") == 0);
    CHECK(b.len == 0);
    cm_buf_release(&b);
    /* A capped buffer refuses rather than truncate silently. */
    cm_buf_init(&b, 4);
    CHECK(notes_ical_escape(&b, "abc,def") == -1);
    cm_buf_release(&b);
}

static void test_fold(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 0);
    /* Exactly 75 octets stay on one line. */
    char line[400];
    memset(line, 'x', 75);
    CHECK(notes_ical_fold(&b, line, 75) == 0);
    CHECK(b.len == 77 && !memcmp(b.data + 75, "\r\n", 2));
    cm_buf_reset(&b);
    /* 76 octets: 75, then CRLF, space and 1. */
    memset(line, 'y', 76);
    CHECK(notes_ical_fold(&b, line, 76) == 0);
    CHECK(b.len == 75 + 3 + 1 + 2);
    CHECK(!memcmp(b.data + 75, "\r\n y\r\n", 6));
    cm_buf_reset(&b);
    /* Three-byte characters from an offset of 1 would straddle octet 75:
     * the fold moves before the character. */
    size_t n = 0;
    line[n++] = 'S';
    for (int i = 0; i < 100; i++) {
        memcpy(line + n, "\xe6\x97\xa5", 3); // 日
        n += 3;
    }
    CHECK(notes_ical_fold(&b, line, n) == 0);
    char *u = s_unfold_checked(b.data, b.len);
    CHECK(strlen(u) == n && !memcmp(u, line, n));
    free(u);
    cm_buf_reset(&b);
    /* Four-byte emoji as well. */
    n = 0;
    for (int i = 0; i < 60; i++) {
        memcpy(line + n, "\xf0\x9f\x98\x80", 4);
        n += 4;
    }
    CHECK(notes_ical_fold(&b, line, n) == 0);
    u = s_unfold_checked(b.data, b.len);
    CHECK(strlen(u) == n && !memcmp(u, line, n));
    free(u);
    cm_buf_release(&b);
}

/* Bytes that are not UTF-8 (the edge refuses them; found by fuzz_notes):
 * folding still makes lines of at most 75 octets that unfold to the input,
 * rather than appending empty continuation lines until the cap. */
static void test_fold_not_utf8(void)
{
    cm_buf_t b;
    cm_buf_init(&b, 4096); // the old code looped on empty lines until a cap
    char line[200];
    memset(line, 0x80, sizeof line); // continuation bytes only
    CHECK(notes_ical_fold(&b, line, sizeof line) == 0);
    CHECK(b.len == 200 + 2 * 3 + 2); // 75 + 74 + 51 octets: two folds
    size_t o = 0, lines = 0;
    char back[200];
    for (const char *p = b.data, *end = b.data + b.len; p < end; lines++) {
        const char *cr = memchr(p, '\r', (size_t)(end - p));
        CHECK(cr && cr[1] == '\n');
        size_t n = (size_t)(cr - p);
        CHECK(n <= 75);
        size_t skip = lines ? 1 : 0;
        CHECK(!skip || p[0] == ' ');
        CHECK(o + n - skip <= sizeof back);
        memcpy(back + o, p + skip, n - skip);
        o += n - skip;
        p = cr + 2;
    }
    CHECK(lines == 3 && o == sizeof back && !memcmp(back, line, sizeof back));
    cm_buf_release(&b);

    /* A calendar holding such a title still renders. */
    char title[101];
    memset(title, 0xa0, 100);
    title[100] = '\0';
    struct notes_ical_task t = {.id = "00000000-0000-4000-8000-000000000001",
                                .title = title,
                                .description = "",
                                .customer_id = "",
                                .customer_name = "",
                                .has_due = true,
                                .due_ms = 1795168800000LL};
    struct notes_ical_opts opts = {.name = "Tasks", .base_url = "", .component = NOTES_ICAL_EVENT};
    size_t len = 0;
    char *text = notes_ical_render(&t, 1, &opts, &len);
    CHECK(text != NULL && len < 2000);
    free(text);
}

static void test_time(void)
{
    char buf[24];
    int64_t ms = cm_days_from_civil(2026, 11, 27) * 86400000 + (9 * 3600 + 5 * 60 + 7) * 1000;
    CHECK_STR(notes_ical_time(ms, false, buf, sizeof buf), "20261127T090507Z");
    CHECK_STR(notes_ical_time(ms, true, buf, sizeof buf), "20261127");
    CHECK_STR(notes_ical_time(0, false, buf, sizeof buf), "19700101T000000Z");
}

#define DAY(y, m, d) (cm_days_from_civil(y, m, d) * 86400000)
#define HOUR 3600000

static const char *s_id1 = "11111111-1111-4111-8111-111111111111";
static const char *s_id2 = "22222222-2222-4222-8222-222222222222";
static const char *s_id3 = "33333333-3333-4333-8333-333333333333";
static const char *s_cust = "c0ffee00-0000-4000-8000-000000000001";

static void s_tasks(struct notes_ical_task t[3])
{
    memset(t, 0, 3 * sizeof *t);
    t[0] = (struct notes_ical_task){
        .id = s_id1,
        .title = "Call back, about the refund; urgent \\ really",
        .description = "Line one\nZa\xc5\xbc\xc3\xb3\xc5\x82\xc4\x87 g\xc4\x99\xc5\x9bl\xc4\x85 "
                       "ja\xc5\xba\xc5\x84 \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
                       "\xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9 \xf0\x9f\x98\x80 "
                       "and a long tail that certainly needs folding in the output",
        .customer_id = s_cust,
        .customer_name = "Anna Nowak",
        .has_due = true,
        .due_ms = DAY(2026, 11, 27) + 10 * HOUR,
        .created_ms = DAY(2026, 11, 1),
        .updated_ms = DAY(2026, 11, 2) + HOUR,
        .version = 3,
    };
    t[1] = (struct notes_ical_task){
        .id = s_id2,
        .title = "Send the invoice",
        .description = "",
        .customer_id = "",
        .customer_name = "",
        .has_due = true,
        .all_day = true,
        .due_ms = DAY(2026, 12, 31),
        .done = true,
        .done_ms = DAY(2026, 12, 30) + 5 * HOUR,
        .created_ms = DAY(2026, 11, 1),
        .updated_ms = DAY(2026, 12, 30) + 5 * HOUR,
        .version = 2,
    };
    t[2] = (struct notes_ical_task){
        .id = s_id3,
        .title = "Someday",
        .description = "",
        .customer_id = "",
        .customer_name = "",
        .created_ms = DAY(2026, 11, 1),
        .updated_ms = DAY(2026, 11, 1),
        .version = 1,
    };
}

static void test_render_events(void)
{
    struct notes_ical_task t[3];
    s_tasks(t);
    struct notes_ical_opts o = {.name = "Tasks: Eva, front desk",
                                .base_url = "https://crm.example.com",
                                .component = NOTES_ICAL_EVENT};
    size_t len = 0;
    char *text = notes_ical_render(t, 3, &o, &len);
    CHECK(text && strlen(text) == len);
    char *u = s_unfold_checked(text, len);
    CHECK(!strncmp(u, "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:", 35));
    CHECK(strstr(u, "\nEND:VCALENDAR") && u[strlen(u) - 1] == 'R');
    CHECK(strstr(u, "\nX-WR-CALNAME:Tasks: Eva\\, front desk\n"));
    /* The task without a due date has nowhere to go in a calendar of events. */
    CHECK(s_count(u, "BEGIN:VEVENT") == 2 && s_count(u, "END:VEVENT") == 2);
    CHECK(!strstr(u, s_id3));
    CHECK(!strstr(u, "VTODO"));

    char *v = s_prop(u, "UID:");
    CHECK_STR(v, "11111111-1111-4111-8111-111111111111@tasks.crm");
    free(v);
    v = s_prop(u, "SUMMARY:");
    CHECK_STR(v, "Call back\\, about the refund\\; urgent \\\\ really \xe2\x80\x94 Anna Nowak");
    free(v);
    v = s_prop(u, "DESCRIPTION:");
    CHECK(!strncmp(v, "Line one\\nZa\xc5\xbc\xc3\xb3\xc5\x82\xc4\x87", 18));
    CHECK(strstr(v, "\\n\\nhttps://crm.example.com/#/customers/c0ffee00-") != NULL);
    free(v);
    v = s_prop(u, "URL:");
    CHECK_STR(v, "https://crm.example.com/#/customers/c0ffee00-0000-4000-8000-000000000001");
    free(v);
    v = s_prop(u, "DTSTART:");
    CHECK_STR(v, "20261127T100000Z");
    free(v);
    v = s_prop(u, "DTEND:");
    CHECK_STR(v, "20261127T103000Z");
    free(v);
    /* DTSTAMP is the last change, so an unchanged task renders the same. */
    v = s_prop(u, "DTSTAMP:");
    CHECK_STR(v, "20261102T010000Z");
    free(v);
    v = s_prop(u, "SEQUENCE:");
    CHECK_STR(v, "2");
    free(v);
    /* The all-day, done task: a date, a check mark. */
    CHECK(strstr(u, "\nDTSTART;VALUE=DATE:20261231\nDTEND;VALUE=DATE:20270101\n"));
    CHECK(strstr(u, "\nSUMMARY:\xe2\x9c\x93 Send the invoice\n"));
    CHECK(s_count(u, "TRANSP:TRANSPARENT") == 2);
    free(u);

    /* Same input, same bytes: calendar clients and ETags see no change. */
    size_t len2 = 0;
    char *again = notes_ical_render(t, 3, &o, &len2);
    CHECK(len2 == len && !memcmp(again, text, len));
    free(again);
    free(text);
}

static void test_render_todos(void)
{
    struct notes_ical_task t[3];
    s_tasks(t);
    struct notes_ical_opts o = {.name = "Tasks", .base_url = "", .component = NOTES_ICAL_TODO};
    size_t len = 0;
    char *text = notes_ical_render(t, 3, &o, &len);
    char *u = s_unfold_checked(text, len);
    CHECK(s_count(u, "BEGIN:VTODO") == 3 && s_count(u, "END:VTODO") == 3);
    CHECK(!strstr(u, "VEVENT"));
    CHECK(!strstr(u, "\nURL:")); // no base URL, no links
    CHECK(strstr(u, "\nDUE:20261127T100000Z\nSTATUS:NEEDS-ACTION\n"));
    CHECK(strstr(u, "\nDUE;VALUE=DATE:20261231\nSTATUS:COMPLETED\nCOMPLETED:20261230T050000Z\n"
                    "PERCENT-COMPLETE:100\n"));
    /* No check mark in a VTODO: STATUS says it. */
    CHECK(strstr(u, "\nSUMMARY:Send the invoice\n"));
    /* The task without a due date is there, without DUE. */
    const char *someday = strstr(u, "UID:33333333");
    CHECK(someday && !strstr(someday, "DUE"));
    free(u);
    free(text);
}

static void test_render_empty(void)
{
    struct notes_ical_opts o = {.name = "Tasks", .base_url = "", .component = NOTES_ICAL_EVENT};
    size_t len = 0;
    char *text = notes_ical_render(NULL, 0, &o, &len);
    char *u = s_unfold_checked(text, len);
    CHECK(!strstr(u, "BEGIN:VEVENT"));
    CHECK(strstr(u, "BEGIN:VCALENDAR") && strstr(u, "END:VCALENDAR"));
    free(u);
    free(text);
}

int main(void)
{
    RUN(test_escape);
    RUN(test_fold);
    RUN(test_fold_not_utf8);
    RUN(test_time);
    RUN(test_render_events);
    RUN(test_render_todos);
    RUN(test_render_empty);
    return 0;
}
