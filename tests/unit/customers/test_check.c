/* Unit tests for customers_check: what the service accepts, how it stores it,
 * and which field each refusal names. No database. */
#include "customers_check.h"
#include "customers_store.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "../unit.h"

#define NOW_MS 1795000000000LL /* 2026-11-18 */

struct fixture {
    struct cm_call call;
    Crm__Customer *c;
    struct customers_tenant tenant;
};

static void s_begin(struct fixture *f, const char *json_text)
{
    memset(f, 0, sizeof *f);
    crm__reply_header__init(&f->call.reply);
    json_error_t jerr;
    json_t *j = json_loads(json_text, 0, &jerr);
    CHECK(j);
    struct cm_pbjson_error perr;
    f->c = (Crm__Customer *)cm_pbjson_decode(&crm__customer__descriptor, j, NULL, &perr);
    json_decref(j);
    CHECK(f->c);
    snprintf(f->tenant.default_country, sizeof f->tenant.default_country, "PL");
    f->tenant.today = NOW_MS / 86400000; /* a business on UTC's day */
}

static void s_end(struct fixture *f)
{
    for (size_t i = 0; i < f->call.reply.n_details; i++)
        protobuf_c_message_free_unpacked(&f->call.reply.details[i]->base, NULL);
    free(f->call.reply.details);
    crm__customer__free_unpacked(f->c, NULL);
}

/* The violation for a field, or NULL. */
static const Crm__FieldViolation *s_violation(const struct fixture *f, const char *field)
{
    for (size_t i = 0; i < f->call.reply.n_details; i++)
        if (!strcmp(f->call.reply.details[i]->field, field))
            return f->call.reply.details[i];
    return NULL;
}

static void test_normalises_a_good_customer(void)
{
    struct fixture f;
    s_begin(&f,
            "{\"firstName\":\"  Łukasz \",\"lastName\":\"Żółć\",\"email\":\" Lukasz@Example.COM\","
            "\"phone\":\"600 100 200\",\"birthDate\":\"1990-02-28\",\"tags\":[\"VIP\",\" vip\","
            "\"\",\"new\"],\"company\":{\"name\":\"Ab\",\"vatNumber\":\"pl 526-025-02-74\"},"
            "\"addresses\":[{\"kind\":\"BILLING\",\"city\":\"Kraków\",\"country\":\"pl\"}]}");
    customers_check(&f.call, f.c, NULL, &f.tenant, NOW_MS);
    CHECK(!cm_call_failed(&f.call));
    CHECK_STR(f.c->first_name, "Łukasz");
    CHECK_STR(f.c->email, "Lukasz@example.com");
    CHECK_STR(f.c->phone, "+48600100200");
    /* Repeats (in any case) and empty tags go; the set comes out in its canonical order. */
    CHECK(f.c->n_tags == 2);
    CHECK_STR(f.c->tags[0], "new");
    CHECK_STR(f.c->tags[1], "VIP");
    CHECK_STR(f.c->company->vat_number, "PL5260250274");
    CHECK_STR(f.c->addresses[0]->country, "PL");
    s_end(&f);
}

static void test_needs_a_name(void)
{
    struct fixture f;
    s_begin(&f, "{\"firstName\":\"   \",\"email\":\"a@example.com\"}");
    customers_check(&f.call, f.c, NULL, &f.tenant, NOW_MS);
    CHECK(f.call.err == CM_ERR_INVALID);
    const Crm__FieldViolation *v = s_violation(&f, "firstName");
    CHECK(v);
    CHECK_STR(v->reason, "REQUIRED");
    s_end(&f);
}

static void test_lengths_count_characters(void)
{
    /* 100 two-byte letters are fine; 101 are not, and the error says the limit. */
    char json[1024] = "{\"firstName\":\"";
    size_t n = strlen(json);
    for (int i = 0; i < 100; i++) {
        memcpy(json + n, "ż", 2);
        n += 2;
    }
    memcpy(json + n, "\"}", 3);
    struct fixture f;
    s_begin(&f, json);
    customers_check(&f.call, f.c, NULL, &f.tenant, NOW_MS);
    CHECK(!cm_call_failed(&f.call));
    s_end(&f);

    memcpy(json + n, "ż\"}", 5);
    s_begin(&f, json);
    customers_check(&f.call, f.c, NULL, &f.tenant, NOW_MS);
    const Crm__FieldViolation *v = s_violation(&f, "firstName");
    CHECK(v);
    CHECK_STR(v->reason, "TOO_LONG");
    CHECK(strstr(v->description, "100"));
    s_end(&f);
}

/* "Not in the future" is the business's today: ahead of UTC (UTC+14), its
 * today is accepted while UTC is still on yesterday; behind it (UTC-11), UTC's
 * today is still the business's tomorrow. */
static void test_birth_date_against_the_business_today(void)
{
    static const struct {
        long ahead; /* the business's today less UTC's, in days */
        const char *date;
        bool ok;
    } cases[] = {
        {1, "2026-11-19", true},  {1, "2026-11-20", false}, {0, "2026-11-18", true},
        {0, "2026-11-19", false}, {-1, "2026-11-17", true}, {-1, "2026-11-18", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct fixture f;
        char json[80];
        snprintf(json, sizeof json, "{\"firstName\":\"Ana\",\"birthDate\":\"%s\"}", cases[i].date);
        s_begin(&f, json);
        f.tenant.today = NOW_MS / 86400000 + cases[i].ahead;
        customers_check(&f.call, f.c, NULL, &f.tenant, NOW_MS);
        CHECK(!cm_call_failed(&f.call) == cases[i].ok);
        if (!cases[i].ok)
            CHECK(strstr(s_violation(&f, "birthDate")->description, "future"));
        s_end(&f);
    }
    /* Without a tenant, UTC's today. */
    struct fixture f;
    s_begin(&f, "{\"firstName\":\"Ana\",\"birthDate\":\"2026-11-19\"}");
    customers_check(&f.call, f.c, NULL, NULL, NOW_MS);
    CHECK(cm_call_failed(&f.call));
    s_end(&f);
}

static void test_reports_every_bad_field(void)
{
    struct fixture f;
    s_begin(&f,
            "{\"lastName\":\"Nowak\",\"email\":\"nowak@\",\"phone\":\"12ab\","
            "\"birthDate\":\"2099-01-01\",\"addresses\":[{\"city\":\"Oslo\",\"country\":\"XX\"}],"
            "\"company\":{\"vatNumber\":\"GR123456789\"},\"preferences\":{\"language\":\"polish\"},"
            "\"externalIds\":[{\"system\":\"Booking System\",\"id\":\"\"}]}");
    customers_check(&f.call, f.c, NULL, &f.tenant, NOW_MS);
    CHECK(f.call.err == CM_ERR_INVALID);
    const char *fields[] = {"email",
                            "phone",
                            "birthDate",
                            "addresses[0].kind",
                            "addresses[0].country",
                            "company.vatNumber",
                            "preferences.language",
                            "externalIds[0].system",
                            "externalIds[0].id"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (!s_violation(&f, fields[i])) {
            fprintf(stderr, "no violation for %s\n", fields[i]);
            abort();
        }
    }
    CHECK(strstr(s_violation(&f, "birthDate")->description, "future"));
    s_end(&f);
}

static void test_control_characters_refused(void)
{
    struct fixture f;
    s_begin(&f, "{\"firstName\":\"Jan\\u0007\",\"description\":\"line one\\nline two\"}");
    customers_check(&f.call, f.c, NULL, &f.tenant, NOW_MS);
    CHECK(s_violation(&f, "firstName"));
    CHECK(!s_violation(&f, "description"));
    s_end(&f);
}

static void test_tenant_required_fields(void)
{
    struct fixture f;
    char *req[] = {"gender", "phone"};
    s_begin(&f, "{\"firstName\":\"Ivan\",\"gender\":\"MALE\"}");
    f.tenant.required_fields = req;
    f.tenant.n_required = 2;
    customers_check(&f.call, f.c, NULL, &f.tenant, NOW_MS);
    CHECK(!s_violation(&f, "gender"));
    const Crm__FieldViolation *v = s_violation(&f, "phone");
    CHECK(v);
    CHECK_STR(v->reason, "REQUIRED");
    f.tenant.required_fields = NULL;
    f.tenant.n_required = 0;
    s_end(&f);
}

static void test_consent_times(void)
{
    /* A new consent without a time gets now; an unchanged one keeps its time;
     * a withdrawn one gets a new time. */
    struct fixture f, g;
    s_begin(
        &f,
        "{\"firstName\":\"A\",\"preferences\":{\"marketing\":{\"granted\":true,"
        "\"source\":\"web\"},\"sms\":{\"granted\":true,\"changedAt\":\"2020-01-01T00:00:00Z\"}}}");
    customers_check(&f.call, f.c, NULL, &f.tenant, NOW_MS);
    CHECK(!cm_call_failed(&f.call));
    char now[40];
    cm_time_rfc3339(NOW_MS, now, sizeof now);
    CHECK_STR(f.c->preferences->marketing->changed_at, now);
    CHECK_STR(f.c->preferences->sms->changed_at, "2020-01-01T00:00:00Z");

    s_begin(&g, "{\"firstName\":\"A\",\"preferences\":{\"marketing\":{\"granted\":true,"
                "\"source\":\"web\"},\"sms\":{\"granted\":false}}}");
    customers_check(&g.call, g.c, f.c, &g.tenant, NOW_MS + 5000);
    CHECK_STR(g.c->preferences->marketing->changed_at, now);
    cm_time_rfc3339(NOW_MS + 5000, now, sizeof now);
    CHECK_STR(g.c->preferences->sms->changed_at, now);
    s_end(&g);

    s_begin(&g, "{\"firstName\":\"A\",\"preferences\":{\"email\":{\"granted\":true,"
                "\"changedAt\":\"yesterday\"}}}");
    customers_check(&g.call, g.c, NULL, &g.tenant, NOW_MS);
    CHECK(s_violation(&g, "preferences.email.changedAt"));
    s_end(&g);
    s_end(&f);
}

static void test_output_only_fields(void)
{
    struct fixture f;
    s_begin(&f, "{\"id\":\"x\",\"etag\":\"9\",\"hasPhoto\":true,\"createdAt\":\"2020\"}");
    customers_check_clear_output_only(f.c);
    CHECK_STR(f.c->id, "");
    CHECK_STR(f.c->etag, "");
    CHECK(!f.c->has_photo);
    CHECK(customers_check_output_only("updatedAt"));
    CHECK(!customers_check_output_only("email"));
    s_end(&f);
}

static void test_image_types(void)
{
    const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 0x10};
    const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0};
    const uint8_t webp[] = {'R', 'I', 'F', 'F', 1, 2, 3, 4, 'W', 'E', 'B', 'P', 'V'};
    const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a'};
    CHECK_STR(customers_check_image_type(jpeg, sizeof jpeg), "image/jpeg");
    CHECK_STR(customers_check_image_type(png, sizeof png), "image/png");
    CHECK_STR(customers_check_image_type(webp, sizeof webp), "image/webp");
    CHECK(!customers_check_image_type(gif, sizeof gif));
    CHECK(!customers_check_image_type(jpeg, 2));
}

static void test_uuid(void)
{
    CHECK(customers_check_uuid("ebdadfb0-0b37-4b22-8757-b4c117aa17fb"));
    CHECK(!customers_check_uuid("EBDADFB0-0b37-4b22-8757-b4c117aa17fb"));
    CHECK(!customers_check_uuid("ebdadfb0-0b37-4b22-8757-b4c117aa17f"));
    CHECK(!customers_check_uuid("ebdadfb0x0b37-4b22-8757-b4c117aa17fb"));
    CHECK(!customers_check_uuid("' OR 1=1 --"));
}

/* A blank tag or group is dropped, never freed twice (found by fuzzing: it
 * crashed the service). */
static void test_blank_list_entries(void)
{
    struct fixture f;
    s_begin(&f, "{\"firstName\":\"a\",\"tags\":[\" \",\"x\",\"\\t\"],\"groups\":[\"  \"]}");
    customers_check(&f.call, f.c, NULL, &f.tenant, NOW_MS);
    CHECK(!cm_call_failed(&f.call));
    CHECK(f.c->n_tags == 1);
    CHECK_STR(f.c->tags[0], "x");
    CHECK(f.c->n_groups == 0);
    s_end(&f);
}

int main(void)
{
    RUN(test_normalises_a_good_customer);
    RUN(test_needs_a_name);
    RUN(test_birth_date_against_the_business_today);
    RUN(test_lengths_count_characters);
    RUN(test_reports_every_bad_field);
    RUN(test_control_characters_refused);
    RUN(test_tenant_required_fields);
    RUN(test_consent_times);
    RUN(test_output_only_fields);
    RUN(test_image_types);
    RUN(test_uuid);
    RUN(test_blank_list_entries);
    return 0;
}
