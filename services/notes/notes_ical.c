/* iCalendar rendering of tasks (RFC 5545, with RFC 7986's REFRESH-INTERVAL). */
#include "notes_ical.h"
#include "notes_validate.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int notes_ical_escape(cm_buf_t *out, const char *text)
{
    const char *run = text;
    for (const char *p = text;; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '\\':
            esc = "\\\\";
            break;
        case ';':
            esc = "\\;";
            break;
        case ',':
            esc = "\\,";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "";
            break;
        case '\0':
            break;
        default:
            continue;
        }
        if (cm_buf_append(out, run, (size_t)(p - run)))
            return -1;
        if (*p == '\0')
            return 0;
        if (cm_buf_append(out, esc, strlen(esc)))
            return -1;
        run = p + 1;
    }
}

int notes_ical_fold(cm_buf_t *out, const char *line, size_t len)
{
    /* The first physical line holds 75 octets; a continuation holds its
     * leading space and 74 more. */
    size_t limit = 75;
    while (len > limit) {
        size_t cut = limit;
        /* Back up to the start of the character the cut would split: at
         * most 3 bytes, as a character has at most 4. More continuation
         * bytes than that are not UTF-8 and are cut anywhere, so a line
         * always gets shorter. */
        while (cut > limit - 3 && ((unsigned char)line[cut] & 0xc0) == 0x80)
            cut--;
        if (((unsigned char)line[cut] & 0xc0) == 0x80)
            cut = limit;
        if (cm_buf_append(out, line, cut) || cm_buf_append(out, "\r\n ", 3))
            return -1;
        line += cut;
        len -= cut;
        limit = 74;
    }
    return cm_buf_append(out, line, len) || cm_buf_append(out, "\r\n", 2) ? -1 : 0;
}

char *notes_ical_time(int64_t ms, bool date_only, char *buf, size_t size)
{
    int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
    int64_t rest = ms - days * 86400000;
    int y, m, d;
    cm_civil_from_days(days, &y, &m, &d);
    if (date_only)
        snprintf(buf, size, "%04d%02d%02d", y, m, d);
    else
        snprintf(buf, size, "%04d%02d%02dT%02d%02d%02dZ", y, m, d, (int)(rest / 3600000),
                 (int)(rest / 60000 % 60), (int)(rest / 1000 % 60));
    return buf;
}

/* ---------------------------------------------------------------------- */

struct s_out {
    cm_buf_t doc;  // the calendar
    cm_buf_t line; // the content line being built
    bool full;     // a cap was hit
};

/* Emits the line built so far, folded, and starts the next. */
static void s_end_line(struct s_out *o)
{
    if (notes_ical_fold(&o->doc, o->line.data ? o->line.data : "", o->line.len))
        o->full = true;
    cm_buf_reset(&o->line);
}

/* NAME:value with value as it is (already a valid property value). */
static void s_raw(struct s_out *o, const char *name, const char *value)
{
    if (cm_buf_printf(&o->line, "%s:%s", name, value))
        o->full = true;
    s_end_line(o);
}

/* NAME:value with value escaped as TEXT. */
static void s_text(struct s_out *o, const char *name, const char *value)
{
    if (cm_buf_printf(&o->line, "%s:", name) || notes_ical_escape(&o->line, value))
        o->full = true;
    s_end_line(o);
}

static void s_time(struct s_out *o, const char *name, int64_t ms)
{
    char t[24];
    s_raw(o, name, notes_ical_time(ms, false, t, sizeof t));
}

static void s_task(struct s_out *o, const struct notes_ical_task *t,
                   const struct notes_ical_opts *opts)
{
    bool todo = opts->component == NOTES_ICAL_TODO;
    char buf[64];
    s_raw(o, "BEGIN", todo ? "VTODO" : "VEVENT");
    snprintf(buf, sizeof buf, "%s@tasks.crm", t->id);
    s_raw(o, "UID", buf);
    s_time(o, "DTSTAMP", t->updated_ms);
    s_time(o, "CREATED", t->created_ms);
    s_time(o, "LAST-MODIFIED", t->updated_ms);
    snprintf(buf, sizeof buf, "%d", t->version > 0 ? t->version - 1 : 0);
    s_raw(o, "SEQUENCE", buf);

    /* The summary names the customer, as a calendar shows little else. */
    char *summary;
    const char *mark = !todo && t->done ? "\xe2\x9c\x93 " : ""; // U+2713 CHECK MARK
    if (t->customer_name[0])
        summary = cm_strfmt("%s%s \xe2\x80\x94 %s", mark, t->title, t->customer_name); // em dash
    else
        summary = cm_strfmt("%s%s", mark, t->title);
    s_text(o, "SUMMARY", summary);
    free(summary);

    char *link = NULL;
    if (opts->base_url[0] && t->customer_id[0])
        link = cm_strfmt("%s/#/customers/%s", opts->base_url, t->customer_id);
    /* Google Calendar ignores URL: the link also ends the description. */
    if (t->description[0] || link) {
        char *desc = cm_strfmt("%s%s%s", t->description, t->description[0] && link ? "\n\n" : "",
                               link ? link : "");
        s_text(o, "DESCRIPTION", desc);
        free(desc);
    }
    if (link)
        s_raw(o, "URL", link);
    free(link);

    if (todo) {
        if (t->has_due) {
            if (t->all_day)
                s_raw(o, "DUE;VALUE=DATE", notes_ical_time(t->due_ms, true, buf, sizeof buf));
            else
                s_time(o, "DUE", t->due_ms);
        }
        s_raw(o, "STATUS", t->done ? "COMPLETED" : "NEEDS-ACTION");
        if (t->done) {
            s_time(o, "COMPLETED", t->done_ms);
            s_raw(o, "PERCENT-COMPLETE", "100");
        }
        s_raw(o, "END", "VTODO");
        return;
    }
    if (t->all_day) {
        s_raw(o, "DTSTART;VALUE=DATE", notes_ical_time(t->due_ms, true, buf, sizeof buf));
        s_raw(o, "DTEND;VALUE=DATE", notes_ical_time(t->due_ms + 86400000, true, buf, sizeof buf));
    } else {
        s_time(o, "DTSTART", t->due_ms);
        s_time(o, "DTEND", t->due_ms + (int64_t)NOTES_ICAL_EVENT_MINUTES * 60000);
    }
    /* A reminder to do something does not make anyone busy. */
    s_raw(o, "TRANSP", "TRANSPARENT");
    s_raw(o, "STATUS", "CONFIRMED");
    s_raw(o, "END", "VEVENT");
}

char *notes_ical_render(const struct notes_ical_task *tasks, size_t n,
                        const struct notes_ical_opts *opts, size_t *len)
{
    struct s_out o = {0};
    cm_buf_init(&o.doc, NOTES_ICAL_MAX_BYTES);
    cm_buf_init(&o.line, NOTES_ICAL_MAX_BYTES);
    s_raw(&o, "BEGIN", "VCALENDAR");
    s_raw(&o, "VERSION", "2.0");
    s_raw(&o, "PRODID", "-//crm//tasks//EN");
    s_raw(&o, "CALSCALE", "GREGORIAN");
    s_text(&o, "NAME", opts->name);
    s_text(&o, "X-WR-CALNAME", opts->name);
    /* How often a subscribing calendar should fetch the feed again. */
    s_raw(&o, "REFRESH-INTERVAL;VALUE=DURATION", "PT15M");
    s_raw(&o, "X-PUBLISHED-TTL", "PT15M");
    for (size_t i = 0; i < n && !o.full; i++) {
        if (opts->component == NOTES_ICAL_EVENT && !tasks[i].has_due)
            continue;
        s_task(&o, &tasks[i], opts);
    }
    s_raw(&o, "END", "VCALENDAR");
    cm_buf_release(&o.line);
    if (o.full) {
        cm_buf_release(&o.doc);
        return NULL;
    }
    return cm_buf_steal(&o.doc, len);
}
