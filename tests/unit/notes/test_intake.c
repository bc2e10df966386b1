/* The intake's pure parts: checking events field by field, RFC 3339 times,
 * and the rule that makes out-of-order events end in the right state. */
#include "notes_intake.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "../unit.h"

#include <jansson.h>

/* A call with no database: only violations are collected. */
struct s_call {
    struct cm_call call;
    Crm__RequestHeader hdr;
};

static void s_call_init(struct s_call *c)
{
    memset(c, 0, sizeof *c);
    crm__request_header__init(&c->hdr);
    crm__reply_header__init(&c->call.reply);
    c->call.hdr = &c->hdr;
}

static void s_call_release(struct s_call *c)
{
    for (size_t i = 0; i < c->call.reply.n_details; i++)
        protobuf_c_message_free_unpacked(&c->call.reply.details[i]->base, NULL);
    free(c->call.reply.details);
}

/* The field names of the violations, in order, comma-separated. */
static void s_fields(const struct s_call *c, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < c->call.reply.n_details; i++) {
        size_t n = strlen(out);
        snprintf(out + n, size - n, "%s%s", i ? "," : "", c->call.reply.details[i]->field);
    }
}

static const char *s_reason(const struct s_call *c, const char *field)
{
    for (size_t i = 0; i < c->call.reply.n_details; i++)
        if (!strcmp(c->call.reply.details[i]->field, field))
            return c->call.reply.details[i]->reason;
    return NULL;
}

static Crm__IntakeEvent *s_event(const char *json_text)
{
    json_t *j = json_loads(json_text, 0, NULL);
    CHECK(j);
    struct cm_pbjson_error err;
    Crm__IntakeEvent *ev =
        (Crm__IntakeEvent *)cm_pbjson_decode(&crm__intake_event__descriptor, j, NULL, &err);
    json_decref(j);
    CHECK(ev);
    return ev;
}

/* Checks an event given as JSON; returns the fields named, comma-separated. */
static void s_check(const char *json_text, char *fields, size_t size, bool *ok, struct s_call *c)
{
    Crm__IntakeEvent *ev = s_event(json_text);
    s_call_init(c);
    *ok = notes_intake_check(&c->call, ev);
    s_fields(c, fields, size);
    crm__intake_event__free_unpacked(ev, NULL);
}

#define BOOKING_OK                                                                                 \
    "{\"source\":\"booking\",\"eventId\":\"bk-123-1\",\"type\":\"booking.created\","               \
    "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c-77\","               \
    "\"firstName\":\"Anna\",\"email\":\"anna@example.com\",\"phone\":\"+48600100200\"},"           \
    "\"booking\":{\"id\":\"bk-123\",\"service\":\"Haircut\",\"staff\":\"Eva\","                    \
    "\"startsAt\":\"2026-11-27T10:00:00Z\",\"endsAt\":\"2026-11-27T11:00:00Z\"}}"

static void expect(const char *json_text, const char *want_fields)
{
    char fields[1024];
    bool ok;
    struct s_call c;
    s_check(json_text, fields, sizeof fields, &ok, &c);
    if (strcmp(fields, want_fields) != 0)
        fprintf(stderr, "event %s\n", json_text);
    CHECK_STR(fields, want_fields);
    CHECK(ok == (want_fields[0] == '\0'));
    CHECK(ok || c.call.err == CM_ERR_INVALID);
    s_call_release(&c);
}

static void test_valid_events_pass(void)
{
    expect(BOOKING_OK, "");
    expect("{\"source\":\"store\",\"eventId\":\"o-9-1\",\"type\":\"order.placed\","
           "\"occurredAt\":\"2026-11-20T10:00:00.123+01:00\",\"customer\":{\"externalId\":\"s1\"},"
           "\"order\":{\"id\":\"o-9\",\"total\":{\"amountMinor\":12900,\"currency\":\"PLN\"},"
           "\"items\":[{\"name\":\"Shampoo\",\"quantity\":1,\"amountMinor\":4900}]}}",
           "");
    expect("{\"source\":\"store\",\"eventId\":\"r1\",\"type\":\"order.refunded\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"s1\"},"
           "\"order\":{\"id\":\"o-9\",\"total\":{\"amountMinor\":100,\"currency\":\"EUR\"},"
           "\"refund\":{\"amountMinor\":50,\"currency\":\"EUR\"}}}",
           "");
    expect("{\"source\":\"store\",\"eventId\":\"su\",\"type\":\"customer.signed_up\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"s1\"}}",
           "");
    expect("{\"source\":\"notify\",\"eventId\":\"m\",\"type\":\"message.failed\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"x\"},"
           "\"message\":{\"id\":\"m1\",\"channel\":\"sms\"}}",
           "");
}

static void test_each_required_field_is_named(void)
{
    expect("{}", "source,eventId,type,occurredAt,customer");
    expect("{\"source\":\"booking\",\"eventId\":\"e\",\"type\":\"booking.created\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{}}",
           "customer.externalId,booking");
    expect("{\"source\":\"booking\",\"eventId\":\"e\",\"type\":\"booking.created\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"},"
           "\"booking\":{}}",
           "booking.id,booking.startsAt");
    expect("{\"source\":\"store\",\"eventId\":\"e\",\"type\":\"order.paid\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"},"
           "\"order\":{\"total\":{}}}",
           "order.id,order.total.currency");
    expect("{\"source\":\"store\",\"eventId\":\"e\",\"type\":\"order.paid\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"}}",
           "order");
    expect("{\"source\":\"x\",\"eventId\":\"e\",\"type\":\"message.sent\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"},"
           "\"message\":{}}",
           "message.id");
    struct s_call c;
    char fields[256];
    bool ok;
    s_check("{}", fields, sizeof fields, &ok, &c);
    CHECK_STR(s_reason(&c, "source"), "REQUIRED");
    CHECK_STR(s_reason(&c, "eventId"), "REQUIRED");
    s_call_release(&c);
}

static void test_bad_values_and_types(void)
{
    /* Source names: lower-case system names only. */
    expect("{\"source\":\"Booking\",\"eventId\":\"e\",\"type\":\"customer.signed_up\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"}}",
           "source");
    expect("{\"source\":\"booking\",\"eventId\":\"e\",\"type\":\"booking.deleted\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"}}",
           "type");
    static const char *const bad_times[] = {
        "2026-11-20",           "2026-11-20 10:00:00Z",      "2026-11-20T10:00:00",
        "2026-13-01T00:00:00Z", "2026-02-29T10:00:00Z",      "2026-11-20T24:00:00Z",
        "20.11.2026 10:00",     "2026-11-20T10:00:00+25:00", "2026-11-20T10:00:00.Z",
        "1969-12-31T23:59:59Z", "2026-11-20T10:00:00Zjunk"};
    for (size_t i = 0; i < sizeof bad_times / sizeof *bad_times; i++) {
        char *ev = cm_strfmt("{\"source\":\"s\",\"eventId\":\"e\",\"type\":\"customer.signed_up\","
                             "\"occurredAt\":\"%s\",\"customer\":{\"externalId\":\"c\"}}",
                             bad_times[i]);
        expect(ev, "occurredAt");
        free(ev);
    }
    /* Money: currency in capitals, amounts not negative. */
    expect("{\"source\":\"store\",\"eventId\":\"e\",\"type\":\"order.paid\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"},"
           "\"order\":{\"id\":\"o\",\"total\":{\"amountMinor\":-1,\"currency\":\"pln\"}}}",
           "order.total.amountMinor,order.total.currency");
    expect("{\"source\":\"store\",\"eventId\":\"e\",\"type\":\"order.paid\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"},"
           "\"order\":{\"id\":\"o\",\"total\":{\"amountMinor\":1,\"currency\":\"PLN\"},"
           "\"refund\":{\"amountMinor\":1,\"currency\":\"PLN\"}}}",
           "order.refund");
    expect("{\"source\":\"store\",\"eventId\":\"e\",\"type\":\"order.refunded\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"},"
           "\"order\":{\"id\":\"o\",\"total\":{\"amountMinor\":1,\"currency\":\"PLN\"},"
           "\"refund\":{\"amountMinor\":1,\"currency\":\"EUR\"}}}",
           "order.refund.currency");
    /* A booking that ends before it starts; a part of another family. */
    expect("{\"source\":\"b\",\"eventId\":\"e\",\"type\":\"booking.moved\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"},"
           "\"booking\":{\"id\":\"b\",\"startsAt\":\"2026-11-27T10:00:00Z\","
           "\"endsAt\":\"2026-11-27T09:00:00Z\"},\"order\":{\"id\":\"o\"}}",
           "booking.endsAt,order");
    /* Control characters. */
    expect("{\"source\":\"b\",\"eventId\":\"e\\u0001\",\"type\":\"customer.signed_up\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"}}",
           "eventId");
    /* C1 controls too (U+0085 NEXT LINE breaks lines; found by fuzz_notes), but not the
     * letters next to them (U+00A0.., U+0100..). */
    expect("{\"source\":\"b\",\"eventId\":\"e\",\"type\":\"customer.signed_up\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\","
           "\"firstName\":\"Jan\\u0085Kowalski\",\"lastName\":\"\\u0080\\u009f\"}}",
           "customer.firstName,customer.lastName");
    expect("{\"source\":\"b\",\"eventId\":\"e\",\"type\":\"customer.signed_up\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\","
           "\"firstName\":\"Jos\\u00e9\\u00a0Mar\\u00eda\",\"lastName\":\"\\u0141\\u0105ka\"}}",
           "");
}

static char *s_repeat(const char *s, size_t n)
{
    size_t len = strlen(s);
    char *out = cm_malloc(len * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * len, s, len);
    out[len * n] = '\0';
    return out;
}

static void test_limits(void)
{
    /* Exactly at each limit passes; one more is refused. Characters, not bytes. */
    char *src50 = s_repeat("a", 50), *src51 = s_repeat("a", 51);
    char *id200 = s_repeat("\xc5\xbc", 200), *id201 = s_repeat("\xc5\xbc", 201);
    char *name100 = s_repeat("\xc5\xbc", 100), *name101 = s_repeat("\xc5\xbc", 101);
    char *ev = cm_strfmt("{\"source\":\"%s\",\"eventId\":\"%s\",\"type\":\"customer.signed_up\","
                         "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":"
                         "\"%s\",\"firstName\":\"%s\"}}",
                         src50, id200, id200, name100);
    expect(ev, "");
    free(ev);
    ev = cm_strfmt("{\"source\":\"%s\",\"eventId\":\"%s\",\"type\":\"customer.signed_up\","
                   "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":"
                   "\"%s\",\"firstName\":\"%s\"}}",
                   src51, id201, id201, name101);
    expect(ev, "source,eventId,customer.externalId,customer.firstName");
    free(ev);
    /* 100 items pass, 101 do not; quantities 1..1000000. */
    for (int n = 100; n <= 101; n++) {
        char *items = s_repeat("{\"name\":\"x\",\"quantity\":1,\"amountMinor\":1},", (size_t)n);
        items[strlen(items) - 1] = '\0';
        ev = cm_strfmt("{\"source\":\"store\",\"eventId\":\"e\",\"type\":\"order.placed\","
                       "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":"
                       "\"c\"},\"order\":{\"id\":\"o\",\"total\":{\"amountMinor\":1,"
                       "\"currency\":\"PLN\"},\"items\":[%s]}}",
                       items);
        expect(ev, n == 100 ? "" : "order.items");
        free(ev);
        free(items);
    }
    expect("{\"source\":\"store\",\"eventId\":\"e\",\"type\":\"order.placed\","
           "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c\"},"
           "\"order\":{\"id\":\"o\",\"total\":{\"amountMinor\":1000000000000000,"
           "\"currency\":\"PLN\"},\"items\":[{\"name\":\"x\",\"quantity\":1000001},"
           "{\"name\":\"\",\"quantity\":1,\"amountMinor\":1000000000000001}]}}",
           "order.items[0].quantity,order.items[1].name,order.items[1].amountMinor");
    free(src50);
    free(src51);
    free(id200);
    free(id201);
    free(name100);
    free(name101);
}

static void test_times(void)
{
    int64_t ms = 0;
    CHECK(notes_intake_time("1970-01-01T00:00:00Z", &ms) == 0 && ms == 0);
    CHECK(notes_intake_time("2026-11-20T10:00:00Z", &ms) == 0 && ms == 1795168800000LL);
    CHECK(notes_intake_time("2026-11-20T11:00:00+01:00", &ms) == 0 && ms == 1795168800000LL);
    CHECK(notes_intake_time("2026-11-20T09:30:00-00:30", &ms) == 0 && ms == 1795168800000LL);
    CHECK(notes_intake_time("2026-11-20T10:00:00.5Z", &ms) == 0 && ms == 1795168800500LL);
    CHECK(notes_intake_time("2026-11-20t10:00:00.123456789z", &ms) == 0 && ms == 1795168800123LL);
    CHECK(notes_intake_time("2024-02-29T00:00:00Z", &ms) == 0);
    CHECK(notes_intake_time("2100-02-29T00:00:00Z", &ms) == -1);
    CHECK(notes_intake_time("", &ms) == -1);
}

static void test_out_of_order_state(void)
{
    /* Bookings: BOOKED < CANCELLED = ATTENDED = NO_SHOW, so a cancellation
     * that arrived first is not undone by its creation, and among final
     * states the later event is the correction. */
    CHECK(notes_intake_stage(false, "BOOKED") == 1);
    CHECK(notes_intake_stage(false, "CANCELLED") == 2 &&
          notes_intake_stage(false, "ATTENDED") == 2 && notes_intake_stage(false, "NO_SHOW") == 2);
    /* Orders: PLACED < PAID < REFUNDED = CANCELLED. */
    CHECK(notes_intake_stage(true, "PLACED") == 1 && notes_intake_stage(true, "PAID") == 2);
    CHECK(notes_intake_stage(true, "REFUNDED") == 3 && notes_intake_stage(true, "CANCELLED") == 3);
    /* A status of the other kind, or none, is stage 0: anything replaces it. */
    CHECK(notes_intake_stage(true, "BOOKED") == 0 && notes_intake_stage(false, "PAID") == 0);
    CHECK(notes_intake_stage(false, "") == 0);
    /* Every status of a kind to the statement that applies the rule, as JSON. */
    char out[NOTES_INTAKE_STAGES_SIZE];
    notes_intake_stages(false, out);
    CHECK(!strcmp(out, "{\"BOOKED\": 1, \"CANCELLED\": 2, \"ATTENDED\": 2, \"NO_SHOW\": 2}"));
    notes_intake_stages(true, out);
    CHECK(!strcmp(out, "{\"PLACED\": 1, \"PAID\": 2, \"REFUNDED\": 3, \"CANCELLED\": 3, "
                       "\"PARTIALLY_REFUNDED\": 3}"));
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    CHECK(doc && json_integer_value(json_object_get(doc, "PAID")) == 2);
    json_decref(doc);
    /* The rule: a cancellation that arrived first is not undone by its creation. */
    CHECK(notes_intake_status_wins(false, "", 0, "CANCELLED", 200));
    CHECK(!notes_intake_status_wins(false, "CANCELLED", 200, "BOOKED", 100));
    CHECK(!notes_intake_status_wins(false, "CANCELLED", 200, "BOOKED", 300));
    CHECK(notes_intake_status_wins(false, "BOOKED", 100, "BOOKED", 150)); /* moved */
    CHECK(!notes_intake_status_wins(false, "BOOKED", 150, "BOOKED", 100));
    CHECK(notes_intake_status_wins(false, "ATTENDED", 200, "NO_SHOW", 250));
    CHECK(!notes_intake_status_wins(false, "NO_SHOW", 250, "ATTENDED", 200));
    CHECK(!notes_intake_status_wins(true, "PAID", 200, "PLACED", 100));
    CHECK(notes_intake_status_wins(true, "PAID", 200, "REFUNDED", 100));
    CHECK(notes_intake_status_wins(true, "REFUNDED", 300, "CANCELLED", 300));
}

#define BOOKING_DIGEST "aedb465aa486f3a1988f7a1b99c470d3"
#define ORDER_DIGEST "4f3917ba7c0eb0e6075050e9e22596fd"

/* The digest of an event given as JSON. */
static void s_digest(const char *json_text, char out[NOTES_INTAKE_DIGEST_SIZE])
{
    Crm__IntakeEvent *ev = s_event(json_text);
    notes_intake_digest(ev, out);
    crm__intake_event__free_unpacked(ev, NULL);
}

static void test_digest(void)
{
    char a[NOTES_INTAKE_DIGEST_SIZE], b[NOTES_INTAKE_DIGEST_SIZE];
    /* Known answers: digests are stored with events, so the canonical form
     * must never drift. BLAKE2b-128 of
     * {"booking":{"id":"b1","startsAt":"2026-11-27T10:00:00Z"},"customer":{"externalId":"c-77"},
     *  "eventId":"e1","occurredAt":"2026-11-20T10:00:00Z","source":"booking",
     *  "type":"booking.created"} (one line), and of the order event below with
     * its int64 amount written as a JSON string, as proto3 JSON writes it. */
    s_digest("{\"source\":\"booking\",\"eventId\":\"e1\",\"type\":\"booking.created\","
             "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"c-77\"},"
             "\"booking\":{\"id\":\"b1\",\"startsAt\":\"2026-11-27T10:00:00Z\"}}",
             a);
    CHECK_STR(a, BOOKING_DIGEST);
    s_digest("{\"source\":\"store\",\"eventId\":\"o1\",\"type\":\"order.placed\","
             "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"s1\"},"
             "\"order\":{\"id\":\"o-9\",\"total\":{\"amountMinor\":12900,\"currency\":\"PLN\"}}}",
             a);
    CHECK_STR(a, ORDER_DIGEST);
    /* The same content in another field order, with defaults spelt out. */
    s_digest(
        "{\"booking\":{\"startsAt\":\"2026-11-27T10:00:00Z\",\"id\":\"b1\",\"staff\":\"\"},"
        "\"customer\":{\"firstName\":\"\",\"externalId\":\"c-77\"},\"type\":\"booking.created\","
        "\"eventId\":\"e1\",\"occurredAt\":\"2026-11-20T10:00:00Z\",\"source\":\"booking\"}",
        b);
    CHECK_STR(b, BOOKING_DIGEST);
    /* A field the service does not know (a newer sender's) does not count. */
    Crm__IntakeEvent *ev = s_event(BOOKING_OK);
    size_t n = crm__intake_event__get_packed_size(ev);
    uint8_t *buf = malloc(n + 3);
    CHECK(buf);
    crm__intake_event__pack(ev, buf);
    buf[n] = 15 << 3 | 0; /* field 15, a varint */
    buf[n + 1] = 1;
    Crm__IntakeEvent *more = crm__intake_event__unpack(NULL, n + 2, buf);
    CHECK(more);
    notes_intake_digest(ev, a);
    notes_intake_digest(more, b);
    CHECK_STR(b, a);
    /* Any change of content is another event: a field, an item's order. */
    char *staff = more->booking->staff;
    more->booking->staff = "Ola";
    notes_intake_digest(more, b);
    CHECK(strcmp(a, b) != 0);
    more->booking->staff = staff;
    crm__intake_event__free_unpacked(more, NULL);
    crm__intake_event__free_unpacked(ev, NULL);
    free(buf);
    s_digest("{\"source\":\"store\",\"eventId\":\"o1\",\"type\":\"order.placed\","
             "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"s1\"},"
             "\"order\":{\"id\":\"o-9\",\"total\":{\"amountMinor\":12900,\"currency\":\"PLN\"},"
             "\"items\":[{\"name\":\"A\",\"quantity\":1},{\"name\":\"B\",\"quantity\":1}]}}",
             a);
    s_digest("{\"source\":\"store\",\"eventId\":\"o1\",\"type\":\"order.placed\","
             "\"occurredAt\":\"2026-11-20T10:00:00Z\",\"customer\":{\"externalId\":\"s1\"},"
             "\"order\":{\"id\":\"o-9\",\"total\":{\"amountMinor\":12900,\"currency\":\"PLN\"},"
             "\"items\":[{\"name\":\"B\",\"quantity\":1},{\"name\":\"A\",\"quantity\":1}]}}",
             b);
    CHECK(strcmp(a, b) != 0);
    CHECK(strspn(a, "0123456789abcdef") == 32 && a[32] == '\0');
}

int main(void)
{
    RUN(test_valid_events_pass);
    RUN(test_each_required_field_is_named);
    RUN(test_bad_values_and_types);
    RUN(test_limits);
    RUN(test_times);
    RUN(test_out_of_order_state);
    RUN(test_digest);
    return 0;
}
