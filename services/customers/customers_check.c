/* Whole-customer validation and normalisation. */
#include "customers_check.h"
#include "customers_store.h"
#include "customers_validate.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

const char *const customers_requirable_fields[] = {
    "firstName", "lastName", "email",   "phone",     "gender",     "birthDate", "description",
    "groups",    "tags",     "company", "addresses", "salesAgent", NULL};

/* Trims ASCII whitespace around a dynamic string, in place. An element of a
 * repeated field is always freed by protobuf-c, so it must never become the
 * shared empty string that cm_pb_set_str uses. */
static void s_trim_str(char **field, bool repeated)
{
    const char *s = *field;
    size_t n = strlen(s), a = 0;
    while (a < n && isspace((unsigned char)s[a]))
        a++;
    while (n > a && isspace((unsigned char)s[n - 1]))
        n--;
    if (a == 0 && n == strlen(s))
        return;
    char *t = cm_strndup(s + a, n - a);
    if (repeated) {
        free(*field);
        *field = t;
        return;
    }
    cm_pb_set_str(field, t);
    free(t);
}

static void s_trim(char **field)
{
    s_trim_str(field, false);
}

static bool s_has_control(const char *s, bool allow_newlines)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == 0x7f ||
            (*p < 0x20 && !(allow_newlines && (*p == '\n' || *p == '\r' || *p == '\t'))))
            return true;
    }
    return false;
}

/* Trims a text (or one element of a list) and checks its length and characters. */
static void s_text_at(struct cm_call *call, char **field, bool repeated, const char *name,
                      size_t max, bool multiline)
{
    s_trim_str(field, repeated);
    if (customers_validate_length(*field, max))
        cm_call_violation(call, name, "TOO_LONG", "%s is too long: at most %zu characters", name,
                          max);
    else if (s_has_control(*field, multiline))
        cm_call_violation(call, name, "INVALID_FORMAT", "%s contains control characters", name);
}

static void s_text(struct cm_call *call, char **field, const char *name, size_t max, bool multiline)
{
    s_text_at(call, field, false, name, max, multiline);
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
static bool s_rfc3339(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i = 0;
    for (; shape[i]; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return false;
    }
    if (s[i] == '.') {
        i++;
        if (!isdigit((unsigned char)s[i]))
            return false;
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    if (s[i] == 'Z')
        return s[i + 1] == '\0';
    if ((s[i] == '+' || s[i] == '-') && isdigit((unsigned char)s[i + 1]) &&
        isdigit((unsigned char)s[i + 2]) && s[i + 3] == ':' && isdigit((unsigned char)s[i + 4]) &&
        isdigit((unsigned char)s[i + 5]))
        return s[i + 6] == '\0';
    return false;
}

static void s_consent(struct cm_call *call, Crm__Consent *c, const Crm__Consent *old,
                      const char *name, int64_t now_ms)
{
    char field[64];
    if (!c)
        return;
    snprintf(field, sizeof field, "preferences.%s.source", name);
    s_text(call, &c->source, field, 100, false);
    snprintf(field, sizeof field, "preferences.%s.changedAt", name);
    bool changed = !old || old->granted != c->granted;
    if (c->changed_at[0]) {
        if (!s_rfc3339(c->changed_at))
            cm_call_violation(call, field, "INVALID_FORMAT",
                              "%s must be an RFC 3339 time such as 2026-11-24T10:00:00Z", field);
    } else if (changed || !old || !old->changed_at[0]) {
        char when[40];
        cm_pb_set_str(&c->changed_at, cm_time_rfc3339(now_ms, when, sizeof when));
    } else {
        cm_pb_set_str(&c->changed_at, old->changed_at);
    }
}

/* Removes empty and case-insensitively repeated entries of a string list. */
static void s_dedupe(char **items, size_t *n)
{
    size_t out = 0;
    for (size_t i = 0; i < *n; i++) {
        bool dup = !items[i][0];
        for (size_t k = 0; !dup && k < out; k++)
            dup = strcasecmp(items[k], items[i]) == 0;
        if (dup) {
            free(items[i]);
            continue;
        }
        items[out++] = items[i];
    }
    *n = out;
}

static void s_names_list(struct cm_call *call, char **items, size_t *n, const char *name,
                         size_t max_len, size_t max_items)
{
    for (size_t i = 0; i < *n; i++) {
        char field[64];
        snprintf(field, sizeof field, "%s[%zu]", name, i);
        s_text_at(call, &items[i], true, field, max_len, false);
    }
    s_dedupe(items, n);
    customers_validate_sort_names(items, *n);
    if (*n > max_items)
        cm_call_violation(call, name, "TOO_MANY", "at most %zu %s", max_items, name);
}

static void s_address(struct cm_call *call, Crm__Address *a, size_t i)
{
    char f[64];
#define ADDR_TEXT(member, label, max)                                                              \
    snprintf(f, sizeof f, "addresses[%zu]." label, i);                                             \
    s_text(call, &a->member, f, max, false)
    ADDR_TEXT(line1, "line1", 200);
    ADDR_TEXT(line2, "line2", 200);
    ADDR_TEXT(postal_code, "postalCode", 20);
    ADDR_TEXT(city, "city", 100);
    ADDR_TEXT(region, "region", 100);
    ADDR_TEXT(country, "country", 2);
#undef ADDR_TEXT
    if (a->kind != CRM__ADDRESS_KIND__ADDRESS_KIND_BILLING &&
        a->kind != CRM__ADDRESS_KIND__ADDRESS_KIND_SHIPPING) {
        snprintf(f, sizeof f, "addresses[%zu].kind", i);
        cm_call_violation(call, f, "REQUIRED", "%s must be BILLING or SHIPPING", f);
    }
    for (char *p = a->country; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    snprintf(f, sizeof f, "addresses[%zu].country", i);
    if (!a->country[0])
        cm_call_violation(call, f, "REQUIRED", "%s is required (ISO 3166-1 alpha-2, e.g. PL)", f);
    else if (customers_validate_country(a->country))
        cm_call_violation(call, f, "INVALID_FORMAT", "%s is not an ISO 3166-1 alpha-2 country code",
                          f);
    if (!a->line1[0] && !a->city[0] && !a->postal_code[0]) {
        snprintf(f, sizeof f, "addresses[%zu]", i);
        cm_call_violation(call, f, "REQUIRED", "%s needs at least line1, postalCode or city", f);
    }
}

static bool s_system_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 50)
        return false;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && !strchr("_.-", *s))
            return false;
    return true;
}

static void s_required(struct cm_call *call, const Crm__Customer *c,
                       const struct customers_tenant *t)
{
    if (!t || !t->n_required)
        return;
    json_t *doc = cm_pbjson_encode(&c->base, CM_PBJSON_OMIT_DEFAULTS);
    for (size_t i = 0; i < t->n_required; i++) {
        const char *name = t->required_fields[i];
        json_t *v = json_object_get(doc, name);
        bool empty = !v || json_is_null(v) || (json_is_array(v) && !json_array_size(v)) ||
                     (json_is_object(v) && !json_object_size(v));
        if (empty)
            cm_call_violation(call, name, "REQUIRED", "%s is required by this business", name);
    }
    json_decref(doc);
}

/* company.vatCheck is output only: a new customer has none, and an update
 * keeps the stored one while the VAT number stays, or starts again from
 * UNVERIFIED when it changed (remembering what the last fill wrote, so a
 * later fill still knows which name and address staff typed). Runs after
 * the number is normalised. */
static void s_vat_check_carry(Crm__Customer *c, const Crm__Customer *old)
{
    if (!c->company)
        return;
    const Crm__Company *oc = old ? old->company : NULL;
    const Crm__VatCheck *ov = oc ? oc->vat_check : NULL;
    if (c->company->vat_check)
        crm__vat_check__free_unpacked(c->company->vat_check, NULL);
    c->company->vat_check = NULL;
    if (!ov)
        return;
    if (!strcmp(oc->vat_number, c->company->vat_number)) {
        c->company->vat_check = (Crm__VatCheck *)cm_pb_clone(&ov->base);
        return;
    }
    if (!ov->filled_name[0] && !ov->filled_address[0])
        return;
    Crm__VatCheck *v = (Crm__VatCheck *)cm_pb_new(&crm__vat_check__descriptor);
    cm_pb_set_str(&v->filled_name, ov->filled_name);
    cm_pb_set_str(&v->filled_address, ov->filled_address);
    c->company->vat_check = v;
}

void customers_check(struct cm_call *call, Crm__Customer *c, const Crm__Customer *old,
                     const struct customers_tenant *tenant, int64_t now_ms)
{
    s_text(call, &c->first_name, "firstName", CUSTOMERS_NAME_MAX, false);
    s_text(call, &c->last_name, "lastName", CUSTOMERS_NAME_MAX, false);
    if (!c->first_name[0] && !c->last_name[0])
        cm_call_violation(call, "firstName", "REQUIRED",
                          "a customer needs a first name or a last name");
    s_text(call, &c->description, "description", CUSTOMERS_DESCRIPTION_MAX, true);
    s_text(call, &c->sales_agent, "salesAgent", CUSTOMERS_NAME_MAX, false);

    s_trim(&c->email);
    if (c->email[0]) {
        char email[CUSTOMERS_EMAIL_SIZE];
        const char *why = NULL;
        if (customers_validate_email(c->email, email, sizeof email, &why))
            cm_call_violation(call, "email", "INVALID_FORMAT", "email is not valid: %s", why);
        else
            cm_pb_set_str(&c->email, email);
    }
    s_trim(&c->phone);
    if (c->phone[0]) {
        char phone[CUSTOMERS_PHONE_SIZE];
        const char *why = NULL;
        const char *country = tenant ? tenant->default_country : "";
        if (customers_validate_phone(c->phone, country, phone, sizeof phone, &why))
            cm_call_violation(call, "phone", "INVALID_FORMAT", "phone is not valid: %s", why);
        else
            cm_pb_set_str(&c->phone, phone);
    }
    if ((int)c->gender < 0 || c->gender > CRM__GENDER__GENDER_OTHER)
        cm_call_violation(call, "gender", "INVALID_FORMAT",
                          "gender must be FEMALE, MALE, OTHER or UNSPECIFIED");
    s_trim(&c->birth_date);
    if (c->birth_date[0]) {
        const char *why = NULL;
        /* "Not in the future" by the business's calendar, not UTC's. */
        int64_t today = tenant ? tenant->today : now_ms / 86400000;
        if (customers_validate_date(c->birth_date, today, &why))
            cm_call_violation(call, "birthDate", "INVALID_FORMAT", "birthDate is not valid: %s",
                              why);
    }
    s_names_list(call, c->groups, &c->n_groups, "groups", CUSTOMERS_NAME_MAX, CUSTOMERS_GROUPS_MAX);
    s_names_list(call, c->tags, &c->n_tags, "tags", CUSTOMERS_TAG_MAX, CUSTOMERS_TAGS_MAX);

    if (c->company) {
        s_text(call, &c->company->name, "company.name", 200, false);
        s_text(call, &c->company->address, "company.address", 1000, true);
        s_trim(&c->company->vat_number);
        if (c->company->vat_number[0]) {
            char vat[CUSTOMERS_VAT_SIZE];
            const char *why = NULL;
            if (customers_validate_vat(c->company->vat_number, vat, sizeof vat, &why))
                cm_call_violation(call, "company.vatNumber", "INVALID_FORMAT",
                                  "company.vatNumber is not a valid EU VAT number: %s", why);
            else
                cm_pb_set_str(&c->company->vat_number, vat);
        }
        s_vat_check_carry(c, old);
    }
    if (c->n_addresses > CUSTOMERS_ADDRESSES_MAX)
        cm_call_violation(call, "addresses", "TOO_MANY", "at most %d addresses",
                          CUSTOMERS_ADDRESSES_MAX);
    for (size_t i = 0; i < c->n_addresses && i < CUSTOMERS_ADDRESSES_MAX; i++)
        s_address(call, c->addresses[i], i);

    if (c->account && ((int)c->account->status < 0 ||
                       c->account->status > CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED))
        cm_call_violation(call, "account.status", "INVALID_FORMAT",
                          "account.status must be NONE, INVITED, ACTIVE or DISABLED");
    if (c->preferences) {
        Crm__Preferences *p = c->preferences;
        const Crm__Preferences *op = old ? old->preferences : NULL;
        s_trim(&p->language);
        if (p->language[0] && customers_validate_language(p->language))
            cm_call_violation(call, "preferences.language", "INVALID_FORMAT",
                              "preferences.language must be a language tag such as pl or de-AT");
        s_consent(call, p->email, op ? op->email : NULL, "email", now_ms);
        s_consent(call, p->sms, op ? op->sms : NULL, "sms", now_ms);
        s_consent(call, p->push, op ? op->push : NULL, "push", now_ms);
        s_consent(call, p->marketing, op ? op->marketing : NULL, "marketing", now_ms);
    }
    if ((int)c->source < 0 || c->source > CRM__SOURCE__SOURCE_SIGNUP)
        cm_call_violation(call, "source", "INVALID_FORMAT", "source is not a known value");

    if (c->n_external_ids > CUSTOMERS_EXTERNAL_IDS_MAX)
        cm_call_violation(call, "externalIds", "TOO_MANY", "at most %d external ids",
                          CUSTOMERS_EXTERNAL_IDS_MAX);
    for (size_t i = 0; i < c->n_external_ids && i < CUSTOMERS_EXTERNAL_IDS_MAX; i++) {
        Crm__ExternalId *e = c->external_ids[i];
        char f[64];
        s_trim(&e->system);
        snprintf(f, sizeof f, "externalIds[%zu].system", i);
        if (!s_system_name(e->system))
            cm_call_violation(call, f, "INVALID_FORMAT",
                              "%s must be 1..50 characters of a-z, 0-9, '_', '.', '-'", f);
        snprintf(f, sizeof f, "externalIds[%zu].id", i);
        s_text(call, &e->id, f, 200, false);
        if (!e->id[0])
            cm_call_violation(call, f, "REQUIRED", "%s is required", f);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(c->external_ids[k]->system, e->system) &&
                !strcmp(c->external_ids[k]->id, e->id))
                cm_call_violation(call, f, "DUPLICATE", "%s is listed twice", f);
    }
    s_required(call, c, tenant);
}

void customers_check_clear_output_only(Crm__Customer *c)
{
    cm_pb_set_str(&c->id, NULL);
    cm_pb_set_str(&c->created_at, NULL);
    cm_pb_set_str(&c->updated_at, NULL);
    cm_pb_set_str(&c->etag, NULL);
    c->has_photo = false;
}

bool customers_check_output_only(const char *path)
{
    static const char *names[] = {"id", "createdAt", "updatedAt", "etag", "hasPhoto"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(path, names[i]))
            return true;
    /* Set by the company service only (customers.RecordVatCheck). */
    return !strcmp(path, "company.vatCheck") || !strncmp(path, "company.vatCheck.", 17);
}

const char *customers_check_image_type(const uint8_t *d, size_t n)
{
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
        return "image/jpeg";
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
        return "image/webp";
    return NULL;
}

bool customers_check_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}
