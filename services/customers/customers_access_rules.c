/* The pure logic of access control (customers_access_rules.h). */
#include "customers_access_rules.h"
#include "customers_subs_rules.h"

#include <stdio.h>
#include <string.h>

bool customers_access_value_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > CUSTOMERS_ACCESS_VALUE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* The two digits at s as a number, or -1. */
static int s_two(const char *s)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

int customers_access_parse_hhmm(const char *s, bool end, int *minute)
{
    if (strlen(s) != 5 || s[2] != ':')
        return -1;
    int h = s_two(s), m = s_two(s + 3);
    if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && (m || !end)))
        return -1;
    *minute = h * 60 + m;
    return 0;
}

void customers_access_format_hhmm(int minute, char out[6])
{
    char buf[16];
    snprintf(buf, sizeof buf, "%02d:%02d", (minute / 60) % 100, minute % 60);
    memcpy(out, buf, 5);
    out[5] = '\0';
}

int customers_access_parse_time(const char *s, int64_t *ms)
{
    char date[11];
    if (strlen(s) < 20 || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        return -1;
    memcpy(date, s, 10);
    date[10] = '\0';
    int64_t days = 0;
    int h = s_two(s + 11), mi = s_two(s + 14), sec = s_two(s + 17);
    if (customers_subs_parse_date(date, &days) || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60)
        return -1;
    const char *p = s + 19;
    int frac = 0, digits = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        if (!digits || digits > 9)
            return -1;
        for (int d = digits; d < 3; d++)
            frac *= 10;
    }
    int offset = 0;
    if ((*p == 'Z' || *p == 'z') && !p[1]) {
        offset = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh = s_two(p + 1), om = s_two(p + 4);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    } else {
        return -1;
    }
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + (sec > 59 ? 59 : sec) - offset * 60;
    if (secs < 0)
        return -1;
    *ms = secs * 1000 + frac;
    return 0;
}

int customers_access_days_mask(const int32_t *days, size_t n)
{
    int mask = 0;
    for (size_t i = 0; i < n; i++) {
        if (days[i] < 1 || days[i] > 7)
            return -1;
        mask |= 1 << (days[i] - 1);
    }
    return mask;
}

/* The reasons a grant can fail, nearest last: one that failed later in its
 * checks came nearer to letting the bearer in. */
static int s_rank(Crm__AccessReason r)
{
    switch (r) {
    case CRM__ACCESS_REASON__ACCESS_REASON_EXPIRED:
        return 1;
    case CRM__ACCESS_REASON__ACCESS_REASON_NO_SUBSCRIPTION:
        return 2;
    case CRM__ACCESS_REASON__ACCESS_REASON_OUTSIDE_HOURS:
        return 3;
    default:
        return 0;
    }
}

/* Why grant g does not hold on day (days since 1970-01-01) at minute of the
 * day; UNSPECIFIED when it does. A span whose end is before its start
 * crosses midnight and belongs to the day it starts: before the end, the
 * span (its dates and its day of the week) is yesterday's. */
static Crm__AccessReason s_grant(const struct customers_access_grant *g, int64_t day, int minute)
{
    bool crosses = g->from_minute >= 0 && g->until_minute < g->from_minute;
    bool in_hours = true;
    if (crosses && minute < g->until_minute)
        day--;
    else if (g->from_minute >= 0)
        in_hours = minute >= g->from_minute && (crosses || minute < g->until_minute);
    int wday = (int)(((day + 3) % 7 + 7) % 7) + 1; // 1970-01-01 was a Thursday (ISO 4)
    if ((g->valid_from >= 0 && day < g->valid_from) ||
        (g->valid_until >= 0 && day > g->valid_until))
        return CRM__ACCESS_REASON__ACCESS_REASON_EXPIRED;
    if (g->needs_plan && !g->plan_active)
        return CRM__ACCESS_REASON__ACCESS_REASON_NO_SUBSCRIPTION;
    if (!in_hours || (g->days && !(g->days & (1u << (wday - 1)))))
        return CRM__ACCESS_REASON__ACCESS_REASON_OUTSIDE_HOURS;
    return CRM__ACCESS_REASON__ACCESS_REASON_UNSPECIFIED;
}

Crm__AccessReason customers_access_decide(const struct customers_access_facts *f, int64_t ms)
{
    if (!f->known)
        return CRM__ACCESS_REASON__ACCESS_REASON_UNKNOWN_CREDENTIAL;
    if (f->blocked)
        return CRM__ACCESS_REASON__ACCESS_REASON_BLOCKED;
    if (f->disabled)
        return CRM__ACCESS_REASON__ACCESS_REASON_ACCOUNT_DISABLED;
    if (!f->n_grants)
        return CRM__ACCESS_REASON__ACCESS_REASON_NO_GRANT;
    int64_t day = ms / 86400000 - (ms % 86400000 < 0); // floored: before 1970 too
    int minute = (int)((ms - day * 86400000) / 60000);
    Crm__AccessReason nearest = CRM__ACCESS_REASON__ACCESS_REASON_UNSPECIFIED;
    for (size_t i = 0; i < f->n_grants; i++) {
        Crm__AccessReason r = s_grant(&f->grants[i], day, minute);
        if (r == CRM__ACCESS_REASON__ACCESS_REASON_UNSPECIFIED)
            return r;
        if (s_rank(r) > s_rank(nearest))
            nearest = r;
    }
    return nearest;
}
