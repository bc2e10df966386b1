/* The iCalendar (RFC 5545) rendering of a staff member's tasks: TEXT
 * escaping, lines folded at 75 octets without splitting a UTF-8 character,
 * CRLF line ends, UTC times, UIDs that stay the same across renders.
 *
 * Tasks become VEVENTs by default, because the calendars people use
 * (Google Calendar, Outlook, Apple Calendar) show events from a subscribed
 * feed but ignore VTODOs; a task with a due time is a 30-minute event at that
 * time, an all-day task an all-day event, done tasks carry a check mark, and
 * tasks without a due date are left out (there is nowhere to put them). As
 * VTODOs (for task apps such as Thunderbird, Apple Reminders via CalDAV
 * tools, DAVx5/jtx) every task is included with DUE, STATUS and COMPLETED. */
#ifndef NOTES_ICAL_H
#define NOTES_ICAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_buf.h"

/* The rendered calendar is refused past this size (a feed holds at most
 * a few thousand tasks). */
#define NOTES_ICAL_MAX_BYTES (8u << 20)
/* Length of a timed task's event. */
#define NOTES_ICAL_EVENT_MINUTES 30

/* One task as the calendar shows it; strings borrowed, "" when absent. */
struct notes_ical_task {
    const char *id; // the task's UUID: the UID is "<id>@tasks.crm"
    const char *title;
    const char *description;
    const char *customer_id;
    const char *customer_name;
    bool has_due;
    bool all_day;   // due_ms is the day's 00:00 UTC
    int64_t due_ms; // UTC milliseconds
    bool done;
    int64_t done_ms;
    int64_t created_ms;
    int64_t updated_ms; // DTSTAMP and LAST-MODIFIED: the output changes only when the task does
    int version;        // SEQUENCE is version - 1
};

enum notes_ical_component {
    NOTES_ICAL_EVENT = 0,
    NOTES_ICAL_TODO = 1,
};

struct notes_ical_opts {
    const char *name;     // calendar name (X-WR-CALNAME), e.g. "Tasks: Eva"; borrowed
    const char *base_url; // "https://crm.example.com" or "" (then no URL property); borrowed
    enum notes_ical_component component;
};

/* Renders the calendar. Returns a malloc'd text of *len bytes (NUL after
 * it), or NULL when it would exceed NOTES_ICAL_MAX_BYTES. */
char *notes_ical_render(const struct notes_ical_task *tasks, size_t n,
                        const struct notes_ical_opts *opts, size_t *len);

/* Appends text escaped as an RFC 5545 TEXT value (\\ \; \, and \n for a
 * newline; CR dropped) to out. Returns 0, or -1 past the buffer's cap. */
int notes_ical_escape(cm_buf_t *out, const char *text) CM_MUSTCHECK;

/* Appends one content line (without its line end) folded to 75 octets per
 * physical line, never inside a UTF-8 character, each ended by CRLF and
 * continued lines starting with one space. Returns 0, or -1 past the cap. */
int notes_ical_fold(cm_buf_t *out, const char *line, size_t len) CM_MUSTCHECK;

/* Writes a UTC time as 20261127T090000Z, or a date as 20261127 (date_only),
 * into buf (>= 17 bytes). Returns buf. */
char *notes_ical_time(int64_t ms, bool date_only, char *buf, size_t size);

#endif
