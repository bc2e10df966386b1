/* Intake: checking events, their digest, and the out-of-order state rule. */
#include "notes_intake.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sodium.h>

static const struct {
    const char *type;
    enum notes_intake_family family;
    const char *status;
} s_types[] = {
    {"booking.created", NOTES_INTAKE_BOOKING, "BOOKED"},
    {"booking.moved", NOTES_INTAKE_BOOKING, "BOOKED"},
    {"booking.cancelled", NOTES_INTAKE_BOOKING, "CANCELLED"},
    {"booking.attended", NOTES_INTAKE_BOOKING, "ATTENDED"},
    {"booking.no_show", NOTES_INTAKE_BOOKING, "NO_SHOW"},
    {"order.placed", NOTES_INTAKE_ORDER, "PLACED"},
    {"order.paid", NOTES_INTAKE_ORDER, "PAID"},
    {"order.refunded", NOTES_INTAKE_ORDER, "REFUNDED"},
    {"order.cancelled", NOTES_INTAKE_ORDER, "CANCELLED"},
    {"customer.signed_up", NOTES_INTAKE_SIGNUP, NULL},
    {"message.sent", NOTES_INTAKE_MESSAGE, NULL},
    {"message.delivered", NOTES_INTAKE_MESSAGE, NULL},
    {"message.failed", NOTES_INTAKE_MESSAGE, NULL},
    {"message.replied", NOTES_INTAKE_MESSAGE, NULL},
};

#define N_TYPES (sizeof s_types / sizeof s_types[0])

enum notes_intake_family notes_intake_family(const char *type)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (!strcmp(s_types[i].type, type))
            return s_types[i].family;
    return NOTES_INTAKE_NONE;
}

const char *notes_intake_status(const char *type)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (!strcmp(s_types[i].type, type))
            return s_types[i].status;
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Time                                                                    */

/* Reads exactly n digits at *p. */
static int s_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int notes_intake_time(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    const char *p = s;
    if (s_digits(&p, 4, &y) || *p++ != '-' || s_digits(&p, 2, &mo) || *p++ != '-' ||
        s_digits(&p, 2, &d) || (*p != 'T' && *p != 't') || !*p++ || s_digits(&p, 2, &h) ||
        *p++ != ':' || s_digits(&p, 2, &mi) || *p++ != ':' || s_digits(&p, 2, &sec))
        return -1;
    int frac_ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0 || n > 9)
            return -1;
        for (int k = n; k < 3; k++)
            frac_ms *= 10;
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (s_digits(&p, 2, &oh) || *p++ != ':' || s_digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60)
        return -1;
    if (sec == 60)
        sec = 59; /* a leap second counts as the second before it */
    int64_t t = cm_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    t -= sign * (oh * 3600 + om * 60);
    *ms = t * 1000 + frac_ms;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Checking an event                                                       */

/* C0, DEL and C1 (U+0080..U+009F, UTF-8 C2 80..C2 9F: U+0085 is a line
 * break to some readers). */
static bool s_has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return true;
    return false;
}

/* A text field: required or not, at most max characters, no control characters. */
static void s_text(struct cm_call *call, const char *s, const char *field, size_t max,
                   bool required)
{
    if (!s[0]) {
        if (required)
            cm_call_violation(call, field, "REQUIRED", "%s is required", field);
        return;
    }
    if (cm_utf8_length(s) > max)
        cm_call_violation(call, field, "TOO_LONG", "%s is too long: at most %zu characters", field,
                          max);
    else if (s_has_control(s))
        cm_call_violation(call, field, "INVALID_FORMAT", "%s contains control characters", field);
}

static bool s_time(struct cm_call *call, const char *s, const char *field, bool required,
                   int64_t *ms)
{
    if (!s[0]) {
        if (required)
            cm_call_violation(call, field, "REQUIRED", "%s is required (RFC 3339)", field);
        return false;
    }
    if (notes_intake_time(s, ms)) {
        cm_call_violation(call, field, "INVALID_FORMAT",
                          "%s must be an RFC 3339 time such as 2026-11-20T10:00:00Z", field);
        return false;
    }
    return true;
}

static bool s_source_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NOTES_INTAKE_SOURCE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool s_amount_ok(int64_t v)
{
    return v >= -NOTES_INTAKE_AMOUNT_MAX && v <= NOTES_INTAKE_AMOUNT_MAX;
}

static void s_money(struct cm_call *call, const Crm__Money *m, const char *field, bool required)
{
    char f[64];
    if (!m) {
        if (required)
            cm_call_violation(call, field, "REQUIRED", "%s is required", field);
        return;
    }
    snprintf(f, sizeof f, "%s.amountMinor", field);
    if (!s_amount_ok(m->amount_minor) || m->amount_minor < 0)
        cm_call_violation(call, f, "OUT_OF_RANGE",
                          "%s must be 0..%lld minor units (an integer, e.g. 12900 for 129.00)", f,
                          NOTES_INTAKE_AMOUNT_MAX);
    snprintf(f, sizeof f, "%s.currency", field);
    const char *c = m->currency;
    bool iso = strlen(c) == 3 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' &&
               c[2] >= 'A' && c[2] <= 'Z';
    if (!c[0])
        cm_call_violation(call, f, "REQUIRED", "%s is required (ISO 4217, e.g. PLN)", f);
    else if (!iso)
        cm_call_violation(call, f, "INVALID_FORMAT",
                          "%s must be an ISO 4217 code in capitals, e.g. PLN or EUR", f);
}

static void s_customer(struct cm_call *call, const Crm__IntakeCustomer *c)
{
    if (!c) {
        cm_call_violation(call, "customer", "REQUIRED",
                          "customer is required: the source's record with at least externalId");
        return;
    }
    s_text(call, c->external_id, "customer.externalId", NOTES_INTAKE_ID_MAX, true);
    s_text(call, c->first_name, "customer.firstName", NOTES_INTAKE_NAME_MAX, false);
    s_text(call, c->last_name, "customer.lastName", NOTES_INTAKE_NAME_MAX, false);
    s_text(call, c->email, "customer.email", NOTES_INTAKE_EMAIL_MAX, false);
    s_text(call, c->phone, "customer.phone", NOTES_INTAKE_PHONE_MAX, false);
    /* The tag's form is the customers service's to judge (preferences.language). */
    s_text(call, c->language, "customer.language", NOTES_INTAKE_LANGUAGE_MAX, false);
}

static void s_booking(struct cm_call *call, const Crm__IntakeBooking *b)
{
    if (!b) {
        cm_call_violation(call, "booking", "REQUIRED", "booking is required for booking events");
        return;
    }
    s_text(call, b->id, "booking.id", NOTES_INTAKE_ID_MAX, true);
    s_text(call, b->service, "booking.service", NOTES_INTAKE_NAME_MAX, false);
    s_text(call, b->staff, "booking.staff", NOTES_INTAKE_NAME_MAX, false);
    int64_t start = 0, end = 0;
    bool has_start = s_time(call, b->starts_at, "booking.startsAt", true, &start);
    bool has_end = s_time(call, b->ends_at, "booking.endsAt", false, &end);
    if (has_start && has_end && end < start)
        cm_call_violation(call, "booking.endsAt", "OUT_OF_RANGE",
                          "booking.endsAt is before booking.startsAt");
}

static void s_order(struct cm_call *call, const Crm__IntakeOrder *o, bool refund)
{
    if (!o) {
        cm_call_violation(call, "order", "REQUIRED", "order is required for order events");
        return;
    }
    s_text(call, o->id, "order.id", NOTES_INTAKE_ID_MAX, true);
    s_money(call, o->total, "order.total", true);
    if (o->refund) {
        if (!refund)
            cm_call_violation(call, "order.refund", "INVALID_FORMAT",
                              "order.refund belongs to order.refunded events only");
        s_money(call, o->refund, "order.refund", true);
        if (o->total && o->refund->currency[0] && strcmp(o->total->currency, o->refund->currency))
            cm_call_violation(call, "order.refund.currency", "INVALID_FORMAT",
                              "order.refund.currency must be the order's currency");
    }
    if (o->reference[0] && !refund)
        cm_call_violation(call, "order.reference", "INVALID_FORMAT",
                          "order.reference belongs to order.refunded events only");
    s_text(call, o->reference, "order.reference", NOTES_INTAKE_ID_MAX, false);
    if (o->n_items > NOTES_INTAKE_ITEMS_MAX) {
        cm_call_violation(call, "order.items", "TOO_MANY", "at most %d items",
                          NOTES_INTAKE_ITEMS_MAX);
        return;
    }
    for (size_t i = 0; i < o->n_items; i++) {
        const Crm__OrderItem *it = o->items[i];
        char f[64];
        snprintf(f, sizeof f, "order.items[%zu].name", i);
        s_text(call, it->name, f, NOTES_INTAKE_TEXT_MAX, true);
        snprintf(f, sizeof f, "order.items[%zu].sku", i);
        s_text(call, it->sku, f, NOTES_INTAKE_TEXT_MAX, false);
        snprintf(f, sizeof f, "order.items[%zu].quantity", i);
        if (it->quantity < 1 || it->quantity > NOTES_INTAKE_QUANTITY_MAX)
            cm_call_violation(call, f, "OUT_OF_RANGE", "%s must be 1..%d", f,
                              NOTES_INTAKE_QUANTITY_MAX);
        snprintf(f, sizeof f, "order.items[%zu].amountMinor", i);
        if (!s_amount_ok(it->amount_minor) || it->amount_minor < 0)
            cm_call_violation(call, f, "OUT_OF_RANGE", "%s must be 0..%lld minor units", f,
                              NOTES_INTAKE_AMOUNT_MAX);
    }
}

static void s_message(struct cm_call *call, const Crm__IntakeMessage *m)
{
    if (!m) {
        cm_call_violation(call, "message", "REQUIRED", "message is required for message events");
        return;
    }
    s_text(call, m->id, "message.id", NOTES_INTAKE_ID_MAX, true);
    s_text(call, m->channel, "message.channel", NOTES_INTAKE_TEXT_MAX, false);
    s_text(call, m->subject, "message.subject", NOTES_INTAKE_TEXT_MAX, false);
}

bool notes_intake_check(struct cm_call *call, const Crm__IntakeEvent *ev)
{
    if (!ev->source[0])
        cm_call_violation(call, "source", "REQUIRED", "source is required, e.g. booking or store");
    else if (!s_source_valid(ev->source))
        cm_call_violation(call, "source", "INVALID_FORMAT",
                          "source must be 1..%d characters of a-z, 0-9, '_', '.', '-'",
                          NOTES_INTAKE_SOURCE_MAX);
    s_text(call, ev->event_id, "eventId", NOTES_INTAKE_EVENT_ID_MAX, true);
    enum notes_intake_family fam = NOTES_INTAKE_NONE;
    if (!ev->type[0]) {
        cm_call_violation(call, "type", "REQUIRED", "type is required");
    } else {
        fam = notes_intake_family(ev->type);
        if (fam == NOTES_INTAKE_NONE)
            cm_call_violation(call, "type", "INVALID_FORMAT",
                              "type must be one of booking.created, booking.moved, "
                              "booking.cancelled, booking.attended, booking.no_show, "
                              "order.placed, order.paid, order.refunded, order.cancelled, "
                              "customer.signed_up, message.sent, message.delivered, "
                              "message.failed, message.replied");
    }
    int64_t at;
    (void)s_time(call, ev->occurred_at, "occurredAt", true, &at);
    s_customer(call, ev->customer);
    if (fam == NOTES_INTAKE_BOOKING)
        s_booking(call, ev->booking);
    if (fam == NOTES_INTAKE_ORDER)
        s_order(call, ev->order, !strcmp(ev->type, "order.refunded"));
    if (fam == NOTES_INTAKE_MESSAGE)
        s_message(call, ev->message);
    /* A part that does not belong to the type is a mistake, not extra data. */
    if (fam != NOTES_INTAKE_NONE && fam != NOTES_INTAKE_BOOKING && ev->booking)
        cm_call_violation(call, "booking", "INVALID_FORMAT", "booking belongs to booking events");
    if (fam != NOTES_INTAKE_NONE && fam != NOTES_INTAKE_ORDER && ev->order)
        cm_call_violation(call, "order", "INVALID_FORMAT", "order belongs to order events");
    if (fam != NOTES_INTAKE_NONE && fam != NOTES_INTAKE_MESSAGE && ev->message)
        cm_call_violation(call, "message", "INVALID_FORMAT", "message belongs to message events");
    return !cm_call_failed(call);
}

/* ---------------------------------------------------------------------- */
/* What an event says                                                      */

void notes_intake_digest(const Crm__IntakeEvent *ev, char out[NOTES_INTAKE_DIGEST_SIZE])
{
    /* Sorted keys: the digests stored with past events must not change when
     * a field is declared elsewhere in history.proto. */
    json_t *doc = cm_pbjson_encode(&ev->base, CM_PBJSON_OMIT_DEFAULTS);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text)
        abort(); /* only out of memory: fatal, as everywhere */
    unsigned char digest[16];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)text, strlen(text), NULL, 0);
    free(text);
    sodium_bin2hex(out, NOTES_INTAKE_DIGEST_SIZE, digest, sizeof digest);
}

/* ---------------------------------------------------------------------- */
/* Out-of-order events                                                     */

static const char *const s_booking_statuses[] = {"BOOKED", "CANCELLED", "ATTENDED", "NO_SHOW"};
static const int s_booking_stages[] = {1, 2, 2, 2};
/* PARTIALLY_REFUNDED is set by a staff return of part of an order
 * (notes_purchases.c), never by an event. */
static const char *const s_order_statuses[] = {"PLACED", "PAID", "REFUNDED", "CANCELLED",
                                               "PARTIALLY_REFUNDED"};
static const int s_order_stages[] = {1, 2, 3, 3, 3};
#define N_STATUSES(order) ((order) ? 5 : 4)

int notes_intake_stage(bool order, const char *status)
{
    for (size_t i = 0; i < N_STATUSES(order); i++)
        if (!strcmp(order ? s_order_statuses[i] : s_booking_statuses[i], status))
            return order ? s_order_stages[i] : s_booking_stages[i];
    return 0;
}

void notes_intake_stages(bool order, char out[NOTES_INTAKE_STAGES_SIZE])
{
    size_t n = 0;
    out[n++] = '{';
    for (size_t i = 0; i < N_STATUSES(order); i++)
        n += (size_t)snprintf(out + n, NOTES_INTAKE_STAGES_SIZE - n, "%s\"%s\": %d", i ? ", " : "",
                              order ? s_order_statuses[i] : s_booking_statuses[i],
                              order ? s_order_stages[i] : s_booking_stages[i]);
    snprintf(out + n, NOTES_INTAKE_STAGES_SIZE - n, "}");
}

bool notes_intake_status_wins(bool order, const char *cur_status, int64_t cur_ms,
                              const char *new_status, int64_t new_ms)
{
    if (!cur_status || !cur_status[0])
        return true;
    int cur = notes_intake_stage(order, cur_status), neu = notes_intake_stage(order, new_status);
    if (neu != cur)
        return neu > cur;
    return new_ms >= cur_ms;
}
