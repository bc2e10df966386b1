/* The checks on a SendMessage's sendAt: RFC 3339 parsed to the millisecond
 * with its offset, "now" within the last 5 minutes, at most 366 days ahead. */
#include "notify_schedule.h"
#include <string.h>
#include "customers.pb-c.h"
#include "../unit.h"

/* 2026-12-07T09:00:00Z */
#define NOW 1796634000000LL

static void test_parse(void)
{
    int64_t ms = 0;
    CHECK(notify_schedule_parse("2026-12-07T09:00:00Z", &ms) == 0 && ms == NOW);
    CHECK(notify_schedule_parse("2026-12-07T09:00:00.25Z", &ms) == 0 && ms == NOW + 250);
    CHECK(notify_schedule_parse("2026-12-07T09:00:00.123456789Z", &ms) == 0 && ms == NOW + 123);
    CHECK(notify_schedule_parse("2026-12-07T10:30:00+01:30", &ms) == 0 && ms == NOW);
    CHECK(notify_schedule_parse("2026-12-07T04:00:00-05:00", &ms) == 0 && ms == NOW);
    CHECK(notify_schedule_parse("2026-12-07t09:00:00z", &ms) == 0 && ms == NOW);
    CHECK(notify_schedule_parse("2028-02-29T00:00:00Z", &ms) == 0);
    const char *bad[] = {"",
                         "tomorrow",
                         "2026-12-07",
                         "2026-12-07 09:00:00Z",
                         "2026-12-07T09:00:00",
                         "2026-12-07T09:00Z",
                         "2026-13-01T00:00:00Z",
                         "2026-02-29T00:00:00Z",
                         "2026-12-32T00:00:00Z",
                         "2026-12-07T24:00:00Z",
                         "2026-12-07T09:60:00Z",
                         "2026-12-07T09:00:60Z",
                         "2026-12-07T09:00:00.Z",
                         "2026-12-07T09:00:00.1234567891Z",
                         "2026-12-07T09:00:00+1:00",
                         "2026-12-07T09:00:00+01:00x",
                         "2026-12-07T09:00:00Zjunk",
                         "1969-12-31T23:59:59Z",
                         "２026-12-07T09:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(notify_schedule_parse(bad[i], &ms) == -1);
}

static void test_check(void)
{
    int64_t at = 0;
    CHECK(notify_schedule_check("", NOW, &at) == NOTIFY_SEND_AT_NOW && at == NOW);
    CHECK(notify_schedule_check("2026-12-07T09:00:01Z", NOW, &at) == NOTIFY_SEND_AT_LATER &&
          at == NOW + 1000);
    /* Up to 5 minutes back is "now"; a second more is the past. */
    CHECK(notify_schedule_check("2026-12-07T08:55:00Z", NOW, &at) == NOTIFY_SEND_AT_NOW);
    CHECK(notify_schedule_check("2026-12-07T08:54:59Z", NOW, &at) == NOTIFY_SEND_AT_PAST);
    CHECK(notify_schedule_check("2026-12-07T09:00:00Z", NOW, &at) == NOTIFY_SEND_AT_NOW);
    /* 366 days ahead at most (2027-12-08T09:00:00Z is 366 days on). */
    CHECK(notify_schedule_check("2027-12-08T09:00:00Z", NOW, &at) == NOTIFY_SEND_AT_LATER);
    CHECK(notify_schedule_check("2027-12-08T09:00:00.001Z", NOW, &at) == NOTIFY_SEND_AT_TOO_FAR);
    CHECK(notify_schedule_check("next week", NOW, &at) == NOTIFY_SEND_AT_INVALID);
}

/* The customer as they are at the release decides: their consent now (one
 * withdrawn and granted again is granted) and their address now. */
static void test_refusal(void)
{
    Crm__Consent granted = CRM__CONSENT__INIT, withdrawn = CRM__CONSENT__INIT,
                 unknown = CRM__CONSENT__INIT;
    granted.granted = true;
    granted.changed_at = "2026-12-07T09:00:00Z";
    withdrawn.changed_at = "2026-12-07T08:00:00Z";
    Crm__Preferences p = CRM__PREFERENCES__INIT;
    Crm__Customer c = CRM__CUSTOMER__INIT;
    c.email = "anna@example.com";
    c.phone = "+48600100200";
    c.preferences = &p;
    CHECK(notify_schedule_refusal(&c, false, "message") == NULL);
    p.email = &unknown; // never asked: not withdrawn
    CHECK(!notify_schedule_withdrawn(&c, false));
    CHECK(notify_schedule_refusal(&c, false, "message") == NULL);
    p.email = &withdrawn;
    CHECK(notify_schedule_withdrawn(&c, false) && !notify_schedule_withdrawn(&c, true));
    CHECK(strstr(notify_schedule_refusal(&c, false, "message"), "e-mail consent"));
    CHECK(notify_schedule_refusal(&c, true, "message") == NULL);
    p.email = &granted; // granted again
    CHECK(!notify_schedule_withdrawn(&c, false));
    CHECK(notify_schedule_refusal(&c, false, "message") == NULL);
    p.sms = &withdrawn;
    CHECK(strstr(notify_schedule_refusal(&c, true, "message"), "SMS consent"));
    /* The address now: gone, or one SMTP cannot carry. */
    c.email = "";
    CHECK(strstr(notify_schedule_refusal(&c, false, "message"), "no e-mail address"));
    c.email = "jürgen@example.de";
    CHECK(strstr(notify_schedule_refusal(&c, false, "message"), "cannot be sent to"));
    c.phone = "";
    CHECK(strstr(notify_schedule_refusal(&c, true, "message"), "no phone number"));
    /* Marketing mail needs both consents now. */
    c.email = "anna@example.com";
    CHECK(strstr(notify_schedule_refusal(&c, false, "marketing"), "marketing"));
    p.marketing = &granted;
    CHECK(notify_schedule_refusal(&c, false, "marketing") == NULL);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_check);
    RUN(test_refusal);
    return 0;
}
