/* The export's column layout: a getter per column, in the documented order. */
#include "exchange_layout.h"
#include "cm_pbjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Out has no cap (cm_buf_init(out, 0)), so an append cannot fail. */
static void s_put(cm_buf_t *out, const char *s)
{
    if (s && cm_buf_append(out, s, strlen(s)))
        abort();
}

void exchange_layout_list_item(cm_buf_t *out, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == ';' || *p == '\\')
            s_put(out, "\\");
        if (cm_buf_append(out, p, 1))
            abort();
    }
}

static void s_list(cm_buf_t *out, char *const *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            s_put(out, EXCHANGE_LIST_SEP);
        exchange_layout_list_item(out, items[i]);
    }
}

static void s_enum(cm_buf_t *out, const ProtobufCEnumDescriptor *desc, int value)
{
    char name[64];
    if (!value || !cm_pbjson_enum_name(desc, value, name, sizeof name))
        return;
    s_put(out, name);
}

static void s_bool(cm_buf_t *out, bool v)
{
    s_put(out, v ? "true" : "false");
}

/* The first address of a kind; further ones go to otherAddresses. */
static const Crm__Address *s_address(const Crm__Customer *c, Crm__AddressKind kind)
{
    for (size_t i = 0; i < c->n_addresses; i++)
        if (c->addresses[i]->kind == kind)
            return c->addresses[i];
    return NULL;
}

#define TEXT(col, expr)                                                                            \
    static void s_##col(const Crm__Customer *c, cm_buf_t *out)                                     \
    {                                                                                              \
        s_put(out, (expr));                                                                        \
    }
TEXT(id, c->id)
TEXT(first_name, c->first_name)
TEXT(last_name, c->last_name)
TEXT(email, c->email)
TEXT(phone, c->phone)
TEXT(birth_date, c->birth_date)
TEXT(language, c->preferences ? c->preferences->language : NULL)
TEXT(company_name, c->company ? c->company->name : NULL)
TEXT(company_vat, c->company ? c->company->vat_number : NULL)
TEXT(company_address, c->company ? c->company->address : NULL)
TEXT(sales_agent, c->sales_agent)
TEXT(description, c->description)
TEXT(created_at, c->created_at)
TEXT(updated_at, c->updated_at)
#undef TEXT

static void s_gender(const Crm__Customer *c, cm_buf_t *out)
{
    s_enum(out, &crm__gender__descriptor, (int)c->gender);
}

static void s_is_company(const Crm__Customer *c, cm_buf_t *out)
{
    s_bool(out, c->is_company);
}

static void s_groups(const Crm__Customer *c, cm_buf_t *out)
{
    s_list(out, c->groups, c->n_groups);
}

static void s_tags(const Crm__Customer *c, cm_buf_t *out)
{
    s_list(out, c->tags, c->n_tags);
}

#define ADDRESS(kind, KIND, member)                                                                \
    static void s_##kind##_##member(const Crm__Customer *c, cm_buf_t *out)                         \
    {                                                                                              \
        const Crm__Address *a = s_address(c, CRM__ADDRESS_KIND__ADDRESS_KIND_##KIND);              \
        s_put(out, a ? a->member : NULL);                                                          \
    }
ADDRESS(billing, BILLING, line1)
ADDRESS(billing, BILLING, line2)
ADDRESS(billing, BILLING, postal_code)
ADDRESS(billing, BILLING, city)
ADDRESS(billing, BILLING, region)
ADDRESS(billing, BILLING, country)
ADDRESS(shipping, SHIPPING, line1)
ADDRESS(shipping, SHIPPING, line2)
ADDRESS(shipping, SHIPPING, postal_code)
ADDRESS(shipping, SHIPPING, city)
ADDRESS(shipping, SHIPPING, region)
ADDRESS(shipping, SHIPPING, country)
#undef ADDRESS

/* Every address past the first of its kind, as the JSON API writes an
 * address list (rare: at most 10 addresses in all). */
static void s_other_addresses(const Crm__Customer *c, cm_buf_t *out)
{
    json_t *list = NULL;
    for (size_t i = 0; i < c->n_addresses; i++) {
        const Crm__Address *a = c->addresses[i];
        if (s_address(c, a->kind) == a)
            continue;
        if (!list)
            list = json_array();
        json_array_append_new(list, cm_pbjson_encode(&a->base, CM_PBJSON_OMIT_DEFAULTS));
    }
    if (!list)
        return;
    char *text = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    s_put(out, text);
    free(text);
}

static void s_external_ids(const Crm__Customer *c, cm_buf_t *out)
{
    for (size_t i = 0; i < c->n_external_ids; i++) {
        if (i)
            s_put(out, EXCHANGE_LIST_SEP);
        s_put(out, c->external_ids[i]->system);
        s_put(out, ":");
        exchange_layout_list_item(out, c->external_ids[i]->id);
    }
}

#define CONSENT(kind)                                                                              \
    static void s_##kind##_consent(const Crm__Customer *c, cm_buf_t *out)                          \
    {                                                                                              \
        if (c->preferences && c->preferences->kind)                                                \
            s_bool(out, c->preferences->kind->granted);                                            \
    }                                                                                              \
    static void s_##kind##_changed_at(const Crm__Customer *c, cm_buf_t *out)                       \
    {                                                                                              \
        if (c->preferences && c->preferences->kind)                                                \
            s_put(out, c->preferences->kind->changed_at);                                          \
    }                                                                                              \
    static void s_##kind##_source(const Crm__Customer *c, cm_buf_t *out)                           \
    {                                                                                              \
        if (c->preferences && c->preferences->kind)                                                \
            s_put(out, c->preferences->kind->source);                                              \
    }
CONSENT(email)
CONSENT(sms)
CONSENT(push)
CONSENT(marketing)
#undef CONSENT

static void s_account_status(const Crm__Customer *c, cm_buf_t *out)
{
    if (c->account)
        s_enum(out, &crm__account_status__descriptor, (int)c->account->status);
}

static void s_source(const Crm__Customer *c, cm_buf_t *out)
{
    s_enum(out, &crm__source__descriptor, (int)c->source);
}

static void s_has_photo(const Crm__Customer *c, cm_buf_t *out)
{
    s_bool(out, c->has_photo);
}

static void s_balance(const Crm__WalletBalance *w, cm_buf_t *out)
{
    if (w)
        s_put(out, w->money_text);
}

static void s_balance_currency(const Crm__WalletBalance *w, cm_buf_t *out)
{
    if (w)
        s_put(out, w->currency);
}

static void s_points(const Crm__WalletBalance *w, cm_buf_t *out)
{
    char n[24];
    if (!w)
        return;
    snprintf(n, sizeof n, "%lld", (long long)w->points);
    s_put(out, n);
}

#define T EXCHANGE_TEXT
#define D EXCHANGE_DATE
#define DT EXCHANGE_DATETIME
#define B EXCHANGE_BOOL
#define N EXCHANGE_NUMBER
const struct exchange_column exchange_columns[] = {
    {"id", T, 38, s_id},
    {"firstName", T, 16, s_first_name},
    {"lastName", T, 18, s_last_name},
    {"email", T, 28, s_email},
    {"phone", T, 16, s_phone},
    {"gender", T, 8, s_gender},
    {"birthDate", D, 11, s_birth_date},
    {"language", T, 8, s_language},
    {"isCompany", B, 9, s_is_company},
    {"companyName", T, 24, s_company_name},
    {"companyVatNumber", T, 16, s_company_vat},
    {"companyAddress", T, 30, s_company_address},
    {"groups", T, 20, s_groups},
    {"tags", T, 20, s_tags},
    {"billingLine1", T, 24, s_billing_line1},
    {"billingLine2", T, 16, s_billing_line2},
    {"billingPostalCode", T, 10, s_billing_postal_code},
    {"billingCity", T, 16, s_billing_city},
    {"billingRegion", T, 12, s_billing_region},
    {"billingCountry", T, 7, s_billing_country},
    {"shippingLine1", T, 24, s_shipping_line1},
    {"shippingLine2", T, 16, s_shipping_line2},
    {"shippingPostalCode", T, 10, s_shipping_postal_code},
    {"shippingCity", T, 16, s_shipping_city},
    {"shippingRegion", T, 12, s_shipping_region},
    {"shippingCountry", T, 7, s_shipping_country},
    {"otherAddresses", T, 20, s_other_addresses},
    {"externalIds", T, 24, s_external_ids},
    {"emailConsent", B, 8, s_email_consent},
    {"emailConsentChangedAt", DT, 19, s_email_changed_at},
    {"emailConsentSource", T, 12, s_email_source},
    {"smsConsent", B, 8, s_sms_consent},
    {"smsConsentChangedAt", DT, 19, s_sms_changed_at},
    {"smsConsentSource", T, 12, s_sms_source},
    {"pushConsent", B, 8, s_push_consent},
    {"pushConsentChangedAt", DT, 19, s_push_changed_at},
    {"pushConsentSource", T, 12, s_push_source},
    {"marketingConsent", B, 8, s_marketing_consent},
    {"marketingConsentChangedAt", DT, 19, s_marketing_changed_at},
    {"marketingConsentSource", T, 12, s_marketing_source},
    {"salesAgent", T, 16, s_sales_agent},
    {"accountStatus", T, 10, s_account_status},
    {"source", T, 9, s_source},
    {"hasPhoto", B, 8, s_has_photo},
    {"description", T, 40, s_description},
    {"createdAt", DT, 19, s_created_at},
    {"updatedAt", DT, 19, s_updated_at},
    {"balance", N, 10, NULL, s_balance},
    {"balanceCurrency", T, 8, NULL, s_balance_currency},
    {"points", N, 8, NULL, s_points},
};
#undef T
#undef D
#undef DT
#undef B
#undef N
const size_t exchange_n_columns = sizeof exchange_columns / sizeof exchange_columns[0];

void exchange_layout_cell(size_t i, const Crm__Customer *c, const Crm__WalletBalance *w,
                          cm_buf_t *out)
{
    cm_buf_reset(out);
    if (exchange_columns[i].get)
        exchange_columns[i].get(c, out);
    else
        exchange_columns[i].get_wallet(w, out);
}
