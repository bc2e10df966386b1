/* The checks on a SendMessage's send_at and on the customer a scheduled
 * message goes to at its release (notify_schedule.h); pure. */
#include "notify_schedule.h"
#include "notify_mime.h"
#include "notify_sender.h"
#include "customers.pb-c.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

/* n digits at s into *v; false when any is not a digit. */
static bool s_digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

static bool s_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int s_days_in(int y, int mon)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mon == 2 && s_leap(y) ? 29 : days[mon - 1];
}

/* The zone after the seconds (and fraction): "Z" or "+HH:MM"/"-HH:MM", in
 * *offset_min; false when it is neither or text follows. */
static bool s_zone(const char *p, int *offset_min)
{
    int h, m;
    *offset_min = 0;
    if ((p[0] == 'Z' || p[0] == 'z') && !p[1])
        return true;
    if ((p[0] != '+' && p[0] != '-') || !s_digits(p + 1, 2, &h) || p[3] != ':' ||
        !s_digits(p + 4, 2, &m) || p[6] || h > 23 || m > 59)
        return false;
    *offset_min = (p[0] == '-' ? -1 : 1) * (h * 60 + m);
    return true;
}

int notify_schedule_parse(const char *s, int64_t *ms)
{
    int y, mon, d, h, mi, sec, frac_ms = 0, offset_min;
    if (strlen(s) < 20 || !s_digits(s, 4, &y) || s[4] != '-' || !s_digits(s + 5, 2, &mon) ||
        s[7] != '-' || !s_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        !s_digits(s + 11, 2, &h) || s[13] != ':' || !s_digits(s + 14, 2, &mi) || s[16] != ':' ||
        !s_digits(s + 17, 2, &sec))
        return -1;
    if (y < 1970 || mon < 1 || mon > 12 || d < 1 || d > s_days_in(y, mon) || h > 23 || mi > 59 ||
        sec > 59)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; isdigit((unsigned char)*p); p++, n++)
            if (n < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
        if (n == 0 || n > 9)
            return -1;
        for (; n < 3; n++)
            frac_ms *= 10;
    }
    if (!s_zone(p, &offset_min))
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    *ms = ((int64_t)timegm(&tm) - (int64_t)offset_min * 60) * 1000 + frac_ms;
    return 0;
}

notify_send_at_t notify_schedule_check(const char *send_at, int64_t now_ms, int64_t *at_ms)
{
    *at_ms = now_ms;
    if (!send_at[0])
        return NOTIFY_SEND_AT_NOW;
    if (notify_schedule_parse(send_at, at_ms))
        return NOTIFY_SEND_AT_INVALID;
    if (*at_ms < now_ms - NOTIFY_SEND_AT_PAST_MS)
        return NOTIFY_SEND_AT_PAST;
    if (*at_ms > now_ms + NOTIFY_SEND_AT_AHEAD_MS)
        return NOTIFY_SEND_AT_TOO_FAR;
    return *at_ms > now_ms ? NOTIFY_SEND_AT_LATER : NOTIFY_SEND_AT_NOW;
}

bool notify_schedule_withdrawn(const Crm__Customer *c, bool sms)
{
    const Crm__Preferences *p = c->preferences;
    const Crm__Consent *k = p ? (sms ? p->sms : p->email) : NULL;
    /* The consent as it stands: one withdrawn and granted again is granted. */
    return k && !k->granted && k->changed_at[0];
}

const char *notify_schedule_refusal(const Crm__Customer *c, bool sms, const char *kind)
{
    const Crm__Preferences *p = c->preferences;
    if (sms ? !c->phone[0] : !c->email[0])
        return sms ? "the customer has no phone number any more"
                   : "the customer has no e-mail address any more";
    if (notify_schedule_withdrawn(c, sms))
        return sms ? "the customer withdrew their SMS consent"
                   : "the customer withdrew their e-mail consent";
    if (!sms && !notify_mime_addr_ok(c->email))
        return "the customer's e-mail address cannot be sent to";
    if (notify_sender_marketing_kind(kind) &&
        !(p && p->marketing && p->marketing->granted && p->email && p->email->granted))
        return "the customer has not agreed to marketing e-mail";
    return NULL;
}
