/* The rules of a merge for the fields of a customer. */
#include "customers_merge_rules.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An empty string of keep takes dup's. */
static void s_fill(char **keep, const char *dup)
{
    if (!(*keep)[0] && dup[0])
        cm_pb_set_str(keep, dup);
}

/* Reads n digits of s at *i into *out. */
static bool s_digits(const char *s, size_t *i, int n, int *out)
{
    int v = 0;
    for (int k = 0; k < n; k++, (*i)++) {
        if (!isdigit((unsigned char)s[*i]))
            return false;
        v = v * 10 + (s[*i] - '0');
    }
    *out = v;
    return true;
}

bool customers_merge_time_ms(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec;
    size_t i = 0;
    if (!s_digits(s, &i, 4, &y) || s[i++] != '-' || !s_digits(s, &i, 2, &mo) || s[i++] != '-' ||
        !s_digits(s, &i, 2, &d) || (s[i] != 'T' && s[i] != 't'))
        return false;
    i++;
    if (!s_digits(s, &i, 2, &h) || s[i++] != ':' || !s_digits(s, &i, 2, &mi) || s[i++] != ':' ||
        !s_digits(s, &i, 2, &sec))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    int frac = 0;
    if (s[i] == '.') {
        i++;
        int scale = 100, n = 0;
        for (; isdigit((unsigned char)s[i]); i++, n++) {
            frac += (s[i] - '0') * scale;
            scale /= 10;
        }
        if (n == 0)
            return false;
    }
    int64_t offset_min = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i++] == '-' ? -1 : 1, oh, om;
        if (!s_digits(s, &i, 2, &oh) || s[i++] != ':' || !s_digits(s, &i, 2, &om))
            return false;
        offset_min = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (s[i])
        return false;
    int64_t secs = cm_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    *ms = (secs - offset_min * 60) * 1000 + frac;
    return true;
}

int customers_merge_status_rank(Crm__AccountStatus status)
{
    switch (status) {
    case CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED:
        return 1;
    case CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_INVITED:
        return 2;
    case CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE:
        return 3;
    default:
        return 0;
    }
}

/* The consent changed later: dup's when it has a time after keep's (or keep
 * has none, or no time at all while dup has one). */
static void s_consent(Crm__Consent **keep, const Crm__Consent *dup)
{
    if (!dup)
        return;
    int64_t k = 0, d = 0;
    bool has_d = customers_merge_time_ms(dup->changed_at, &d);
    bool later = !*keep || (has_d && (!customers_merge_time_ms((*keep)->changed_at, &k) || d > k));
    if (!later)
        return;
    if (*keep)
        protobuf_c_message_free_unpacked(&(*keep)->base, NULL);
    *keep = (Crm__Consent *)cm_pb_clone(&dup->base);
}

static void s_preferences(Crm__Customer *keep, const Crm__Customer *dup)
{
    if (!dup->preferences)
        return;
    if (!keep->preferences)
        keep->preferences = (Crm__Preferences *)cm_pb_new(&crm__preferences__descriptor);
    Crm__Preferences *k = keep->preferences;
    const Crm__Preferences *d = dup->preferences;
    s_fill(&k->language, d->language);
    s_consent(&k->email, d->email);
    s_consent(&k->sms, d->sms);
    s_consent(&k->push, d->push);
    s_consent(&k->marketing, d->marketing);
}

static void s_company(Crm__Customer *keep, const Crm__Customer *dup)
{
    if (!dup->company)
        return;
    if (!keep->company) {
        keep->company = (Crm__Company *)cm_pb_clone(&dup->company->base);
        return;
    }
    Crm__Company *k = keep->company;
    const Crm__Company *d = dup->company;
    s_fill(&k->name, d->name);
    s_fill(&k->address, d->address);
    /* A VAT number taken starts its check again (customers_check), as any
     * change of the number does. */
    s_fill(&k->vat_number, d->vat_number);
}

/* Appends copies of the strings of add to *list. */
static void s_unite_strings(char ***list, size_t *n, char *const *add, size_t n_add)
{
    if (!n_add)
        return;
    *list = cm_realloc(*list, (*n + n_add) * sizeof **list);
    for (size_t i = 0; i < n_add; i++)
        (*list)[(*n)++] = cm_strdup(add[i]);
}

static bool s_same_address(const Crm__Address *a, const Crm__Address *b)
{
    return a->kind == b->kind && !strcmp(a->line1, b->line1) && !strcmp(a->line2, b->line2) &&
           !strcmp(a->postal_code, b->postal_code) && !strcmp(a->city, b->city) &&
           !strcmp(a->region, b->region) && !strcasecmp(a->country, b->country);
}

static void s_unite_addresses(Crm__Customer *keep, const Crm__Customer *dup)
{
    for (size_t i = 0; i < dup->n_addresses; i++) {
        bool known = false;
        for (size_t k = 0; k < keep->n_addresses && !known; k++)
            known = s_same_address(keep->addresses[k], dup->addresses[i]);
        if (known)
            continue;
        keep->addresses =
            cm_realloc(keep->addresses, (keep->n_addresses + 1) * sizeof *keep->addresses);
        keep->addresses[keep->n_addresses++] =
            (Crm__Address *)cm_pb_clone(&dup->addresses[i]->base);
    }
}

static void s_unite_external_ids(Crm__Customer *keep, const Crm__Customer *dup)
{
    for (size_t i = 0; i < dup->n_external_ids; i++) {
        const Crm__ExternalId *d = dup->external_ids[i];
        bool known = false;
        for (size_t k = 0; k < keep->n_external_ids && !known; k++)
            known = !strcmp(keep->external_ids[k]->system, d->system) &&
                    !strcmp(keep->external_ids[k]->id, d->id);
        if (known)
            continue;
        keep->external_ids =
            cm_realloc(keep->external_ids, (keep->n_external_ids + 1) * sizeof *keep->external_ids);
        keep->external_ids[keep->n_external_ids++] = (Crm__ExternalId *)cm_pb_clone(&d->base);
    }
}

static void s_description(Crm__Customer *keep, const Crm__Customer *dup)
{
    if (!dup->description[0] || !strcmp(keep->description, dup->description))
        return;
    if (!keep->description[0]) {
        cm_pb_set_str(&keep->description, dup->description);
        return;
    }
    char *both = cm_strfmt("%s\n\n%s", keep->description, dup->description);
    cm_pb_set_str(&keep->description, both);
    free(both);
}

void customers_merge_fields(Crm__Customer *keep, const Crm__Customer *dup)
{
    s_fill(&keep->first_name, dup->first_name);
    s_fill(&keep->last_name, dup->last_name);
    s_fill(&keep->email, dup->email);
    s_fill(&keep->phone, dup->phone);
    s_fill(&keep->birth_date, dup->birth_date);
    s_fill(&keep->sales_agent, dup->sales_agent);
    if (keep->gender == CRM__GENDER__GENDER_UNSPECIFIED)
        keep->gender = dup->gender;
    s_description(keep, dup);
    s_company(keep, dup);
    s_preferences(keep, dup);
    if (dup->account &&
        (!keep->account || customers_merge_status_rank(dup->account->status) >
                               customers_merge_status_rank(keep->account->status))) {
        if (keep->account)
            protobuf_c_message_free_unpacked(&keep->account->base, NULL);
        keep->account = (Crm__Account *)cm_pb_clone(&dup->account->base);
    }
    s_unite_strings(&keep->tags, &keep->n_tags, dup->tags, dup->n_tags);
    s_unite_strings(&keep->groups, &keep->n_groups, dup->groups, dup->n_groups);
    s_unite_addresses(keep, dup);
    s_unite_external_ids(keep, dup);
    keep->has_photo = keep->has_photo || dup->has_photo;
}
