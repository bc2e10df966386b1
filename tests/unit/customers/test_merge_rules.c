/* Unit tests for customers_merge_rules: which values the kept record ends
 * with when a duplicate is folded into it (scalars, the description, sets,
 * consents, the account), and the times and statuses the rules compare. */
#include "customers_merge_rules.h"
#include "cm_pbjson.h"
#include "../unit.h"

#include <stdint.h>

static Crm__Customer *s_customer(const char *first, const char *email)
{
    Crm__Customer *c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    cm_pb_set_str(&c->first_name, first);
    cm_pb_set_str(&c->email, email);
    return c;
}

static void s_add_tag(Crm__Customer *c, const char *tag)
{
    c->tags = realloc(c->tags, (c->n_tags + 1) * sizeof *c->tags);
    c->tags[c->n_tags++] = strdup(tag);
}

static Crm__Address *s_address(const char *line1, const char *country)
{
    Crm__Address *a = (Crm__Address *)cm_pb_new(&crm__address__descriptor);
    a->kind = CRM__ADDRESS_KIND__ADDRESS_KIND_BILLING;
    cm_pb_set_str(&a->line1, line1);
    cm_pb_set_str(&a->country, country);
    return a;
}

static void s_add_address(Crm__Customer *c, Crm__Address *a)
{
    c->addresses = realloc(c->addresses, (c->n_addresses + 1) * sizeof *c->addresses);
    c->addresses[c->n_addresses++] = a;
}

static Crm__Consent *s_consent(bool granted, const char *at, const char *source)
{
    Crm__Consent *k = (Crm__Consent *)cm_pb_new(&crm__consent__descriptor);
    k->granted = granted;
    cm_pb_set_str(&k->changed_at, at);
    cm_pb_set_str(&k->source, source);
    return k;
}

static void test_empty_scalars_take_the_duplicates(void)
{
    Crm__Customer *keep = s_customer("Anna", "anna@example.com");
    Crm__Customer *dup = s_customer("Ann", "ann.b@example.com");
    cm_pb_set_str(&dup->last_name, "Berg");
    cm_pb_set_str(&dup->phone, "+4791234567");
    cm_pb_set_str(&dup->birth_date, "1990-05-17");
    dup->gender = CRM__GENDER__GENDER_FEMALE;
    keep->source = CRM__SOURCE__SOURCE_MANUAL;
    dup->source = CRM__SOURCE__SOURCE_BOOKING;
    customers_merge_fields(keep, dup);
    CHECK_STR(keep->first_name, "Anna");
    CHECK_STR(keep->email, "anna@example.com");
    CHECK_STR(keep->last_name, "Berg");
    CHECK_STR(keep->phone, "+4791234567");
    CHECK_STR(keep->birth_date, "1990-05-17");
    CHECK(keep->gender == CRM__GENDER__GENDER_FEMALE);
    CHECK(keep->source == CRM__SOURCE__SOURCE_MANUAL);
    crm__customer__free_unpacked(keep, NULL);
    crm__customer__free_unpacked(dup, NULL);
}

static void test_descriptions_are_joined_kept_first(void)
{
    Crm__Customer *keep = s_customer("A", "");
    Crm__Customer *dup = s_customer("B", "");
    cm_pb_set_str(&keep->description, "Mornings.");
    cm_pb_set_str(&dup->description, "Latex.");
    customers_merge_fields(keep, dup);
    CHECK_STR(keep->description, "Mornings.\n\nLatex.");
    /* The same text once; an empty one adds nothing. */
    cm_pb_set_str(&dup->description, "Mornings.\n\nLatex.");
    customers_merge_fields(keep, dup);
    CHECK_STR(keep->description, "Mornings.\n\nLatex.");
    cm_pb_set_str(&keep->description, "");
    cm_pb_set_str(&dup->description, "Only here.");
    customers_merge_fields(keep, dup);
    CHECK_STR(keep->description, "Only here.");
    crm__customer__free_unpacked(keep, NULL);
    crm__customer__free_unpacked(dup, NULL);
}

static void test_sets_are_united(void)
{
    Crm__Customer *keep = s_customer("A", "");
    Crm__Customer *dup = s_customer("B", "");
    s_add_tag(keep, "vip");
    s_add_tag(dup, "booking");
    s_add_address(keep, s_address("Storgata 1", "NO"));
    s_add_address(dup, s_address("Storgata 1", "no"));
    s_add_address(dup, s_address("Kirkegata 5", "NO"));
    Crm__ExternalId *e = (Crm__ExternalId *)cm_pb_new(&crm__external_id__descriptor);
    cm_pb_set_str(&e->system, "booking");
    cm_pb_set_str(&e->id, "b-1");
    dup->external_ids = calloc(1, sizeof *dup->external_ids);
    dup->external_ids[dup->n_external_ids++] = e;
    customers_merge_fields(keep, dup);
    CHECK(keep->n_tags == 2);
    CHECK_STR(keep->tags[0], "vip");
    CHECK_STR(keep->tags[1], "booking");
    CHECK(keep->n_addresses == 2);
    CHECK_STR(keep->addresses[1]->line1, "Kirkegata 5");
    CHECK(keep->n_external_ids == 1);
    CHECK_STR(keep->external_ids[0]->id, "b-1");
    /* Merged again: nothing new. */
    customers_merge_fields(keep, dup);
    CHECK(keep->n_addresses == 2 && keep->n_external_ids == 1);
    crm__customer__free_unpacked(keep, NULL);
    crm__customer__free_unpacked(dup, NULL);
}

static void test_the_consent_changed_later_wins(void)
{
    Crm__Customer *keep = s_customer("A", "");
    Crm__Customer *dup = s_customer("B", "");
    keep->preferences = (Crm__Preferences *)cm_pb_new(&crm__preferences__descriptor);
    dup->preferences = (Crm__Preferences *)cm_pb_new(&crm__preferences__descriptor);
    keep->preferences->email = s_consent(true, "2025-01-01T10:00:00Z", "web");
    dup->preferences->email = s_consent(false, "2026-02-01T10:00:00Z", "booking");
    keep->preferences->sms = s_consent(true, "2026-03-01T10:00:00.500Z", "web");
    dup->preferences->sms = s_consent(false, "2026-03-01T11:00:00+02:00", "paper form");
    dup->preferences->push = s_consent(true, "2024-01-01T00:00:00Z", "app");
    cm_pb_set_str(&dup->preferences->language, "nb");
    customers_merge_fields(keep, dup);
    CHECK(!keep->preferences->email->granted);
    CHECK_STR(keep->preferences->email->source, "booking");
    /* 11:00 at +02:00 is 09:00 UTC: before the kept one's. */
    CHECK(keep->preferences->sms->granted);
    CHECK(keep->preferences->push && keep->preferences->push->granted);
    CHECK_STR(keep->preferences->language, "nb");
    crm__customer__free_unpacked(keep, NULL);
    crm__customer__free_unpacked(dup, NULL);
}

static void test_the_more_active_account_and_the_company(void)
{
    Crm__Customer *keep = s_customer("A", "");
    Crm__Customer *dup = s_customer("B", "");
    dup->account = (Crm__Account *)cm_pb_new(&crm__account__descriptor);
    dup->account->status = CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_INVITED;
    dup->company = (Crm__Company *)cm_pb_new(&crm__company__descriptor);
    cm_pb_set_str(&dup->company->name, "Berg AS");
    dup->has_photo = true;
    customers_merge_fields(keep, dup);
    CHECK(keep->account->status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_INVITED);
    CHECK_STR(keep->company->name, "Berg AS");
    CHECK(!keep->is_company && keep->has_photo);
    keep->account->status = CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE;
    dup->account->status = CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED;
    customers_merge_fields(keep, dup);
    CHECK(keep->account->status == CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_ACTIVE);
    CHECK(customers_merge_status_rank(CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_NONE) <
          customers_merge_status_rank(CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED));
    CHECK(customers_merge_status_rank(CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_DISABLED) <
          customers_merge_status_rank(CRM__ACCOUNT_STATUS__ACCOUNT_STATUS_INVITED));
    crm__customer__free_unpacked(keep, NULL);
    crm__customer__free_unpacked(dup, NULL);
}

static void test_times(void)
{
    int64_t ms = 0;
    CHECK(customers_merge_time_ms("1970-01-01T00:00:00Z", &ms) && ms == 0);
    CHECK(customers_merge_time_ms("1970-01-01T00:00:01.25Z", &ms) && ms == 1250);
    CHECK(customers_merge_time_ms("1970-01-01T01:00:00+01:00", &ms) && ms == 0);
    CHECK(customers_merge_time_ms("2026-12-07T16:00:00.123456Z", &ms) && ms == 1796659200123LL);
    CHECK(!customers_merge_time_ms("", &ms));
    CHECK(!customers_merge_time_ms("2026-12-07", &ms));
    CHECK(!customers_merge_time_ms("2026-13-07T16:00:00Z", &ms));
    CHECK(!customers_merge_time_ms("2026-12-07T16:00:00", &ms));
    CHECK(!customers_merge_time_ms("2026-12-07T16:00:00Zjunk", &ms));
}

int main(void)
{
    RUN(test_empty_scalars_take_the_duplicates);
    RUN(test_descriptions_are_joined_kept_first);
    RUN(test_sets_are_united);
    RUN(test_the_consent_changed_later_wins);
    RUN(test_the_more_active_account_and_the_company);
    RUN(test_times);
    return 0;
}
