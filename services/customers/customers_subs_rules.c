/* The pure logic of subscriptions (customers_subs_rules.h). */
#include "customers_subs_rules.h"
#include "customers_validate.h"
#include "cm_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int s_month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int customers_subs_parse_date(const char *s, int64_t *days)
{
    int y, m, d, n = 0;
    // NOLINTNEXTLINE(cert-err34-c): field widths bound every number; the count is checked
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || s[10] || s[4] != '-' ||
        s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > s_month_days(y, m))
        return -1;
    *days = cm_days_from_civil(y, m, d);
    return 0;
}

void customers_subs_format_date(int64_t days, char out[11])
{
    int y, m, d;
    cm_civil_from_days(days, &y, &m, &d);
    char buf[40];
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", y % 10000, m, d);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

int64_t customers_subs_add_months(int64_t day, int months)
{
    int y, m, d;
    cm_civil_from_days(day, &y, &m, &d);
    int64_t total = (int64_t)y * 12 + (m - 1) + months;
    int ny = (int)(total / 12), nm = (int)(total % 12) + 1;
    int last = s_month_days(ny, nm);
    return cm_days_from_civil(ny, nm, d > last ? last : d);
}

int64_t customers_subs_end(int64_t start, Crm__PeriodUnit unit, int count)
{
    if (count < 1)
        return -1;
    switch (unit) {
    case CRM__PERIOD_UNIT__PERIOD_UNIT_DAY:
        return start + count - 1;
    case CRM__PERIOD_UNIT__PERIOD_UNIT_MONTH: {
        int y, m, d, ny, nm, nd;
        cm_civil_from_days(start, &y, &m, &d);
        int64_t same = customers_subs_add_months(start, count);
        cm_civil_from_days(same, &ny, &nm, &nd);
        return nd < d ? same : same - 1; // no such day: the month's last
    }
    default:
        return -1;
    }
}

Crm__SubscriptionState customers_subs_state(const struct customers_sub_facts *s, int64_t today)
{
    if (s->cancelled)
        return CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_CANCELLED;
    if (s->visits_total > 0 && s->visits_left <= 0)
        return CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_USED_UP;
    if (s->ends_on >= 0 && s->ends_on < today)
        return CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_EXPIRED;
    if (s->starts_on > today)
        return CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_PENDING;
    return CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_ACTIVE;
}

/* True when a goes before b by the pick rule. */
static bool s_before(const struct customers_sub_facts *a, const struct customers_sub_facts *b)
{
    int64_t ea = a->ends_on < 0 ? INT64_MAX : a->ends_on;
    int64_t eb = b->ends_on < 0 ? INT64_MAX : b->ends_on;
    if (ea != eb)
        return ea < eb;
    bool ua = a->visits_total == 0, ub = b->visits_total == 0;
    if (ua != ub)
        return !ua;
    return a->seq < b->seq;
}

int customers_subs_pick(const struct customers_sub_facts *subs, size_t n, int64_t today)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (customers_subs_state(&subs[i], today) !=
            CRM__SUBSCRIPTION_STATE__SUBSCRIPTION_STATE_ACTIVE)
            continue;
        if (best < 0 || s_before(&subs[i], &subs[best]))
            best = (int)i;
    }
    return best;
}
