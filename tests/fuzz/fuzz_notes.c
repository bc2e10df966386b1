/* Fuzzes the notes service's pure logic: intake events, the out-of-order
 * state rule, text/due-date/token checks and the iCalendar feed. Byte 0
 * (mod 6) picks what runs, byte 1 is a parameter, the rest is the input:
 *
 * 0 JSON of a crm.IntakeEvent: notes_intake_check says yes exactly when it
 *   names no problem, every problem has a field and a known reason, and an
 *   accepted event really has what the check promises (a known type, a valid
 *   source and times, its part present, texts within their limits without
 *   control characters); checking is stable through a JSON round trip.
 * 1 text: notes_intake_time against timegm.
 * 2 bytes (status, time) of events of one booking (param bit 0: an order):
 *   applying them in arrival order with notes_intake_status_wins ends in the
 *   latest stage's latest event, the last to arrive on a tie.
 * 3 text: notes_validate_text (param: flags and limit) gives valid UTF-8
 *   within the limit, no control characters, no CR, and is a fixed point;
 *   notes_due_parse / notes_due_format round trip, in range; page tokens
 *   round trip; staff ids, base URLs and UUIDs have their documented shape.
 * 4 "name|baseUrl|title|description|customerName|due|title|..." (param:
 *   component, done, customer links, unchecked texts): the rendered calendar
 *   has CRLF line ends only, at most 75 octets per line, no UTF-8 character
 *   split by folding, and unfolding and unescaping gives back each SUMMARY
 *   and DESCRIPTION; rendering is deterministic.
 * 5 a content line: notes_ical_fold alone. */
#include "fuzz.h"
#include "notes_intake.h"
#include "notes_validate.h"
#include "notes_ical.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdbool.h>
#include <time.h>

static bool s_valid(const char *s, size_t n)
{
    return cm_utf8_valid(s, n, NULL);
}

/* ---- intake --------------------------------------------------------------- */

static void s_call_init(struct cm_call *call, Crm__RequestHeader *hdr)
{
    memset(call, 0, sizeof *call);
    crm__request_header__init(hdr);
    crm__reply_header__init(&call->reply);
    call->hdr = hdr;
}

static void s_call_release(struct cm_call *call)
{
    for (size_t i = 0; i < call->reply.n_details; i++)
        protobuf_c_message_free_unpacked(&call->reply.details[i]->base, NULL);
    free(call->reply.details);
}

/* No control character (C0, DEL, C1) in valid UTF-8. */
static bool s_no_control(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; u[i]; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f)
            return false;
        if (u[i] == 0xc2 && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

static void s_text_ok(const char *s, size_t max, bool required)
{
    if (!s[0]) {
        FUZZ_CHECK(!required);
        return;
    }
    FUZZ_CHECK(cm_utf8_length(s) <= max);
    if (!s_no_control(s)) {
        fprintf(stderr, "intake accepted a control character in \"%s\"\n", s);
        abort();
    }
}

static void s_accepted(const Crm__IntakeEvent *ev)
{
    enum notes_intake_family fam = notes_intake_family(ev->type);
    FUZZ_CHECK(fam != NOTES_INTAKE_NONE);
    size_t sl = strlen(ev->source);
    FUZZ_CHECK(sl >= 1 && sl <= NOTES_INTAKE_SOURCE_MAX);
    FUZZ_CHECK(strspn(ev->source, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == sl);
    s_text_ok(ev->event_id, NOTES_INTAKE_EVENT_ID_MAX, true);
    int64_t at, start, end;
    FUZZ_CHECK(notes_intake_time(ev->occurred_at, &at) == 0);
    FUZZ_CHECK(ev->customer);
    s_text_ok(ev->customer->external_id, NOTES_INTAKE_ID_MAX, true);
    s_text_ok(ev->customer->first_name, NOTES_INTAKE_NAME_MAX, false);
    s_text_ok(ev->customer->last_name, NOTES_INTAKE_NAME_MAX, false);
    s_text_ok(ev->customer->email, NOTES_INTAKE_EMAIL_MAX, false);
    s_text_ok(ev->customer->phone, NOTES_INTAKE_PHONE_MAX, false);
    FUZZ_CHECK((ev->booking != NULL) == (fam == NOTES_INTAKE_BOOKING));
    FUZZ_CHECK((ev->order != NULL) == (fam == NOTES_INTAKE_ORDER));
    FUZZ_CHECK((ev->message != NULL) == (fam == NOTES_INTAKE_MESSAGE));
    FUZZ_CHECK((notes_intake_status(ev->type) != NULL) ==
               (fam == NOTES_INTAKE_BOOKING || fam == NOTES_INTAKE_ORDER));
    if (ev->booking) {
        const Crm__IntakeBooking *b = ev->booking;
        s_text_ok(b->id, NOTES_INTAKE_ID_MAX, true);
        s_text_ok(b->service, NOTES_INTAKE_NAME_MAX, false);
        s_text_ok(b->staff, NOTES_INTAKE_NAME_MAX, false);
        FUZZ_CHECK(notes_intake_time(b->starts_at, &start) == 0);
        if (b->ends_at[0]) {
            FUZZ_CHECK(notes_intake_time(b->ends_at, &end) == 0);
            FUZZ_CHECK(end >= start);
        }
    }
    if (ev->order) {
        const Crm__IntakeOrder *o = ev->order;
        s_text_ok(o->id, NOTES_INTAKE_ID_MAX, true);
        FUZZ_CHECK(o->total && o->total->amount_minor >= 0 &&
                   o->total->amount_minor <= NOTES_INTAKE_AMOUNT_MAX);
        FUZZ_CHECK(strlen(o->total->currency) == 3);
        FUZZ_CHECK(!o->refund || (!strcmp(ev->type, "order.refunded") &&
                                  !strcmp(o->refund->currency, o->total->currency) &&
                                  o->refund->amount_minor >= 0));
        FUZZ_CHECK(o->n_items <= NOTES_INTAKE_ITEMS_MAX);
        for (size_t i = 0; i < o->n_items; i++) {
            s_text_ok(o->items[i]->name, NOTES_INTAKE_TEXT_MAX, true);
            s_text_ok(o->items[i]->sku, NOTES_INTAKE_TEXT_MAX, false);
            FUZZ_CHECK(o->items[i]->quantity >= 1 &&
                       o->items[i]->quantity <= NOTES_INTAKE_QUANTITY_MAX);
            FUZZ_CHECK(o->items[i]->amount_minor >= 0);
        }
    }
    if (ev->message) {
        s_text_ok(ev->message->id, NOTES_INTAKE_ID_MAX, true);
        s_text_ok(ev->message->channel, NOTES_INTAKE_TEXT_MAX, false);
        s_text_ok(ev->message->subject, NOTES_INTAKE_TEXT_MAX, false);
    }
}

/* Checks ev; returns whether it was accepted. */
static bool s_check_event(const Crm__IntakeEvent *ev)
{
    static const char *const reasons[] = {"REQUIRED", "TOO_LONG", "INVALID_FORMAT", "OUT_OF_RANGE",
                                          "TOO_MANY"};
    struct cm_call call;
    Crm__RequestHeader hdr;
    s_call_init(&call, &hdr);
    bool ok = notes_intake_check(&call, ev);
    FUZZ_CHECK(ok == (call.reply.n_details == 0));
    for (size_t i = 0; i < call.reply.n_details; i++) {
        const Crm__FieldViolation *v = call.reply.details[i];
        FUZZ_CHECK(v->field[0] && v->description[0]);
        bool known = false;
        for (size_t k = 0; k < sizeof reasons / sizeof reasons[0]; k++)
            known |= !strcmp(v->reason, reasons[k]);
        FUZZ_CHECK(known);
    }
    s_call_release(&call);
    if (ok)
        s_accepted(ev);
    return ok;
}

static void s_intake(const uint8_t *data, size_t size)
{
    json_t *json = json_loadb((const char *)data, size, 0, NULL);
    if (!json)
        return;
    struct cm_pbjson_error err = {{0}};
    Crm__IntakeEvent *ev =
        (Crm__IntakeEvent *)cm_pbjson_decode(&crm__intake_event__descriptor, json, NULL, &err);
    json_decref(json);
    if (!ev) {
        FUZZ_CHECK(err.description[0]);
        return;
    }
    bool ok = s_check_event(ev);
    /* What the service stores (as JSON) checks the same way. */
    json_t *j = cm_pbjson_encode(&ev->base, 0);
    FUZZ_CHECK(j);
    Crm__IntakeEvent *back =
        (Crm__IntakeEvent *)cm_pbjson_decode(&crm__intake_event__descriptor, j, NULL, &err);
    FUZZ_CHECK(back);
    FUZZ_CHECK(s_check_event(back) == ok);
    crm__intake_event__free_unpacked(back, NULL);
    json_decref(j);
    crm__intake_event__free_unpacked(ev, NULL);
}

static int s_num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* The instant of an RFC 3339 time the parser accepted
 * ("YYYY-MM-DD?HH:MM:SS[.f+](Z|+hh:mm|-hh:mm)"), by timegm. */
static int64_t s_ref_ms(const char *s)
{
    struct tm tm = {0};
    tm.tm_year = s_num(s, 4) - 1900;
    tm.tm_mon = s_num(s + 5, 2) - 1;
    tm.tm_mday = s_num(s + 8, 2);
    tm.tm_hour = s_num(s + 11, 2);
    tm.tm_min = s_num(s + 14, 2);
    int sec = s_num(s + 17, 2);
    tm.tm_sec = sec == 60 ? 59 : sec; // a leap second counts as the one before
    FUZZ_CHECK(tm.tm_mon >= 0 && tm.tm_mon < 12 && tm.tm_hour < 24 && tm.tm_min < 60);
    int64_t ms = (int64_t)timegm(&tm) * 1000;
    /* timegm carries an impossible day into the next month. */
    FUZZ_CHECK(tm.tm_mday == s_num(s + 8, 2));
    const char *p = s + 19;
    int frac = 0, digits = 0;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
    for (; digits < 3; digits++)
        frac *= 10;
    ms += frac;
    if (*p == '+' || *p == '-')
        ms -=
            (*p == '+' ? 1 : -1) * ((int64_t)s_num(p + 1, 2) * 3600 + s_num(p + 4, 2) * 60) * 1000;
    return ms;
}

static void s_intake_time(const char *s)
{
    int64_t ms;
    if (notes_intake_time(s, &ms))
        return;
    FUZZ_CHECK(strlen(s) >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') &&
               s[13] == ':' && s[16] == ':');
    FUZZ_CHECK(s_num(s, 4) >= 1970);
    int64_t want = s_ref_ms(s);
    if (ms != want) {
        fprintf(stderr, "notes_intake_time(\"%s\") = %lld, timegm says %lld\n", s, (long long)ms,
                (long long)want);
        abort();
    }
}

/* ---- the out-of-order rule ------------------------------------------------ */

static int s_stage(bool order, int status)
{
    static const int booking[4] = {1, 2, 2, 2}, orders[4] = {1, 2, 3, 3};
    return order ? orders[status] : booking[status];
}

static void s_status_rule(bool order, const uint8_t *data, size_t size)
{
    static const char *const booking[4] = {"BOOKED", "CANCELLED", "ATTENDED", "NO_SHOW"};
    static const char *const orders[4] = {"PLACED", "PAID", "REFUNDED", "CANCELLED"};
    const char *const *names = order ? orders : booking;
    int cur = -1, want = -1;
    int64_t cur_ms = 0, want_ms = 0;
    for (size_t i = 0; i + 1 < size && i < 64; i += 2) {
        int st = data[i] % 4;
        /* A few distinct times, so ties happen; some far apart. */
        int64_t ms = (int64_t)(data[i + 1] % 8) * 1000 + (data[i + 1] & 0x80 ? 1795000000000 : 0);
        if (cur < 0 || notes_intake_status_wins(order, names[cur], cur_ms, names[st], ms)) {
            cur = st;
            cur_ms = ms;
        }
        /* The reference: the greatest (stage, time), the last to arrive on a tie. */
        if (want < 0 || s_stage(order, st) > s_stage(order, want) ||
            (s_stage(order, st) == s_stage(order, want) && ms >= want_ms)) {
            want = st;
            want_ms = ms;
        }
    }
    FUZZ_CHECK(cur == want && cur_ms == want_ms);
    /* Nothing stored yet: any event wins. */
    FUZZ_CHECK(notes_intake_status_wins(order, "", 5, names[0], 0));
    FUZZ_CHECK(notes_intake_status_wins(order, NULL, 5, names[0], 0));
}

/* ---- texts, due dates, tokens --------------------------------------------- */

static void s_text(const char *in, unsigned param)
{
    unsigned flags = param & 3;
    size_t max = param >> 2;
    struct notes_problem p;
    char *out = notes_validate_text(in, max, flags, "text", &p);
    if (!out) {
        FUZZ_CHECK(p.reason && p.description[0]);
        FUZZ_CHECK(memchr(p.description, '\0', sizeof p.description));
        return;
    }
    FUZZ_CHECK(p.reason == NULL);
    size_t n = strlen(out);
    FUZZ_CHECK(s_valid(out, n));
    FUZZ_CHECK(cm_utf8_length(out) <= max);
    FUZZ_CHECK(!strchr(out, '\r'));
    for (const unsigned char *u = (const unsigned char *)out; *u; u++) {
        if (*u < 0x20)
            FUZZ_CHECK((flags & NOTES_TEXT_MULTILINE) && (*u == '\n' || *u == '\t'));
        FUZZ_CHECK(*u != 0x7f && !(*u == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f));
    }
    if (flags & NOTES_TEXT_REQUIRED)
        FUZZ_CHECK(n > 0 && strspn(out, " \t\n") < n);
    char *again = notes_validate_text(out, max, flags, "text", &p);
    if (!again || strcmp(again, out)) {
        fprintf(stderr, "notes_validate_text not a fixed point: \"%s\" -> \"%s\" -> \"%s\"\n", in,
                out, again ? again : p.description);
        abort();
    }
    free(again);
    free(out);
}

static void s_due(const char *in)
{
    struct notes_due d = {0}, d2 = {0};
    enum notes_due_result r = notes_due_parse(in, &d);
    FUZZ_CHECK(r == NOTES_DUE_OK || r == NOTES_DUE_FORMAT || r == NOTES_DUE_RANGE);
    if (r != NOTES_DUE_OK)
        return;
    char buf[40];
    notes_due_format(&d, buf, sizeof buf);
    int y = s_num(buf, 4);
    FUZZ_CHECK(y >= NOTES_DUE_MIN_YEAR && y <= NOTES_DUE_MAX_YEAR);
    if (d.all_day) {
        FUZZ_CHECK(d.ms % 86400000 == 0 && strlen(in) == 10 && !strcmp(buf, in));
    } else {
        int64_t want = s_ref_ms(in);
        if (d.ms != want) {
            fprintf(stderr, "notes_due_parse(\"%s\") = %lld, timegm says %lld\n", in,
                    (long long)d.ms, (long long)want);
            abort();
        }
    }
    if (notes_due_parse(buf, &d2) != NOTES_DUE_OK || d2.ms != d.ms || d2.all_day != d.all_day) {
        fprintf(stderr, "due \"%s\" -> \"%s\" does not parse back the same\n", in, buf);
        abort();
    }
    /* The iCalendar form names the same day and time. */
    char ical[24];
    notes_ical_time(d.ms, d.all_day, ical, sizeof ical);
    char want[24];
    size_t o = 0;
    for (const char *p = buf; *p && o + 1 < sizeof want; p++) {
        if (*p == '.')
            p += 3; // the milliseconds: iCalendar has none
        else if (*p != '-' && *p != ':')
            want[o++] = *p;
    }
    want[o] = '\0';
    FUZZ_CHECK(!strcmp(ical, want));
}

static void s_ids(const char *in)
{
    int flag;
    int64_t key;
    char id[NOTES_ID_SIZE];
    if (notes_token_parse(in, &flag, &key, id) == 0) {
        FUZZ_CHECK((flag == 0 || flag == 1) && cm_uuid_valid(id));
        char tok[96];
        notes_token_make(flag, key, id, tok, sizeof tok);
        int flag2;
        int64_t key2;
        char id2[NOTES_ID_SIZE];
        FUZZ_CHECK(notes_token_parse(tok, &flag2, &key2, id2) == 0);
        FUZZ_CHECK(flag2 == flag && key2 == key && !strcmp(id2, id));
    }
    size_t n = strlen(in);
    if (notes_staff_id_valid(in)) {
        FUZZ_CHECK(n >= 1 && n <= NOTES_STAFF_ID_MAX);
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(in[i] > 0x20 && in[i] < 0x7f);
    }
    if (notes_base_url_valid(in) && n) {
        FUZZ_CHECK(n <= NOTES_BASE_URL_MAX && in[n - 1] != '/');
        FUZZ_CHECK(!strncmp(in, "http://", 7) || !strncmp(in, "https://", 8));
        FUZZ_CHECK(!strpbrk(in, " \"\\#?"));
    }
    if (cm_uuid_valid(in))
        FUZZ_CHECK(n == 36 && strspn(in, "0123456789abcdef-") == 36);
}

/* ---- iCalendar ------------------------------------------------------------ */

/* Checks the physical lines; returns the logical lines, LF-separated (malloc'd). */
static char *s_unfold(const char *text, size_t len, bool utf8)
{
    FUZZ_CHECK(strlen(text) == len);
    FUZZ_CHECK(len >= 2 && text[len - 2] == '\r' && text[len - 1] == '\n');
    char *out = cm_malloc(len + 1);
    size_t o = 0;
    for (const char *p = text; p < text + len;) {
        const char *cr = strstr(p, "\r\n");
        FUZZ_CHECK(cr);
        size_t n = (size_t)(cr - p);
        FUZZ_CHECK(!memchr(p, '\n', n) && !memchr(p, '\r', n));
        if (n > 75) {
            fprintf(stderr, "iCalendar line of %zu octets: %.*s\n", n, (int)n, p);
            abort();
        }
        if (utf8 && !s_valid(p, n)) {
            fprintf(stderr, "iCalendar line splits a character: %.*s\n", (int)n, p);
            abort();
        }
        if (p != text && p[0] == ' ') {
            FUZZ_CHECK(n > 1); // a continuation carries something
            memcpy(out + o, p + 1, n - 1);
            o += n - 1;
        } else {
            if (p != text)
                out[o++] = '\n';
            memcpy(out + o, p, n);
            o += n;
        }
        p = cr + 2;
    }
    out[o] = '\0';
    return out;
}

/* The TEXT value unescaped (malloc'd); aborts on a bad escape or a raw , ; */
static char *s_unescape(const char *v, size_t n)
{
    char *out = cm_malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(v[i] != ',' && v[i] != ';');
        if (v[i] != '\\') {
            out[o++] = v[i];
            continue;
        }
        FUZZ_CHECK(i + 1 < n);
        char c = v[++i];
        FUZZ_CHECK(c == '\\' || c == ';' || c == ',' || c == 'n');
        out[o++] = c == 'n' ? '\n' : c;
    }
    out[o] = '\0';
    return out;
}

/* text with CR dropped (malloc'd): what unescaping must give back. */
static char *s_no_cr(const char *s)
{
    char *out = cm_strdup(s);
    size_t o = 0;
    for (size_t i = 0; s[i]; i++)
        if (s[i] != '\r')
            out[o++] = s[i];
    out[o] = '\0';
    return out;
}

#define ICAL_TASKS 4

struct s_task_src {
    char *title, *description, *customer_name, *due; // owned
};

static void s_ical(unsigned param, const uint8_t *data, size_t size)
{
    char *name = fuzz_take(&data, &size, '|');
    char *base = fuzz_take(&data, &size, '|');
    struct s_task_src src[ICAL_TASKS];
    struct notes_ical_task tasks[ICAL_TASKS];
    char ids[ICAL_TASKS][40];
    char *checked[ICAL_TASKS][3];
    size_t n = 0;
    bool raw = param & 8, utf8 = s_valid(name, strlen(name));
    memset(checked, 0, sizeof checked);
    while (size && n < ICAL_TASKS) {
        struct s_task_src *s = &src[n];
        s->title = fuzz_take(&data, &size, '|');
        s->description = fuzz_take(&data, &size, '|');
        s->customer_name = fuzz_take(&data, &size, '|');
        s->due = fuzz_take(&data, &size, '|');
        struct notes_ical_task *t = &tasks[n];
        memset(t, 0, sizeof *t);
        snprintf(ids[n], sizeof ids[n], "00000000-0000-4000-8000-%012zu", n + 1);
        t->id = ids[n];
        /* As the service stores them: checked texts (unless raw). */
        const char *texts[3] = {s->title, s->description, s->customer_name};
        unsigned flags[3] = {NOTES_TEXT_REQUIRED, NOTES_TEXT_MULTILINE, 0};
        size_t max[3] = {NOTES_TITLE_MAX, NOTES_DESCRIPTION_MAX, NOTES_STAFF_NAME_MAX};
        for (int k = 0; k < 3; k++) {
            struct notes_problem p;
            if (raw) {
                checked[n][k] = cm_strdup(texts[k]);
                utf8 = utf8 && s_valid(texts[k], strlen(texts[k]));
            } else {
                checked[n][k] = notes_validate_text(texts[k], max[k], flags[k], "text", &p);
                if (!checked[n][k])
                    checked[n][k] = cm_strdup("");
            }
        }
        t->title = checked[n][0];
        t->description = checked[n][1];
        t->customer_name = checked[n][2];
        t->customer_id = param & 16 ? "00000000-0000-4000-8000-0000000000ff" : "";
        struct notes_due due;
        if (notes_due_parse(s->due, &due) == NOTES_DUE_OK) {
            t->has_due = true;
            t->all_day = due.all_day;
            t->due_ms = due.ms;
        }
        t->done = (param >> (5 + n % 3)) & 1;
        t->created_ms = 1767225600000LL + (int64_t)n * 61001;
        t->done_ms = t->created_ms + 3600000;
        t->updated_ms = t->created_ms + 7;
        t->version = (int)n;
        n++;
    }
    /* The calendar is named after the staff member (a checked name). */
    struct notes_problem np;
    char *cal_name =
        raw ? cm_strdup(name) : notes_validate_text(name, NOTES_STAFF_NAME_MAX, 0, "name", &np);
    if (!cal_name)
        cal_name = cm_strdup("Tasks");
    utf8 = utf8 || !raw;
    struct notes_ical_opts opts = {
        .name = cal_name,
        .base_url = notes_base_url_valid(base) ? base : "", // checked at start-up
        .component = param & 1 ? NOTES_ICAL_TODO : NOTES_ICAL_EVENT,
    };
    utf8 = utf8 && s_valid(opts.base_url, strlen(opts.base_url));
    size_t len = 0, len2 = 0;
    char *text = notes_ical_render(tasks, n, &opts, &len);
    /* NULL only past the cap: not with these few short texts. */
    FUZZ_CHECK(text);
    char *again = notes_ical_render(tasks, n, &opts, &len2);
    FUZZ_CHECK(again && len2 == len && !memcmp(text, again, len));
    free(again);

    char *u = s_unfold(text, len, utf8);
    /* Walk the logical lines: the calendar, then each shown task in order. */
    size_t task = 0, events = 0;
    bool in_task = false;
    for (char *line = u; line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        const char *colon = memchr(line, ':', ll);
        FUZZ_CHECK(colon && colon > line);
        for (const char *c = line; c < colon; c++)
            FUZZ_CHECK((*c >= 'A' && *c <= 'Z') || *c == '-' || *c == ';' || *c == '=');
        const char *v = colon + 1;
        size_t vn = ll - (size_t)(v - line);
        if (!strncmp(line, "BEGIN:VEVENT", ll) || !strncmp(line, "BEGIN:VTODO", ll)) {
            FUZZ_CHECK(!in_task);
            in_task = true;
            if (opts.component == NOTES_ICAL_EVENT)
                while (task < n && !tasks[task].has_due)
                    task++;
            FUZZ_CHECK(task < n);
            events++;
        } else if (!strncmp(line, "END:VEVENT", ll) || !strncmp(line, "END:VTODO", ll)) {
            FUZZ_CHECK(in_task);
            in_task = false;
            task++;
        } else if (in_task &&
                   (!strncmp(line, "SUMMARY:", 8) || !strncmp(line, "DESCRIPTION:", 12))) {
            const struct notes_ical_task *t = &tasks[task];
            char *got = s_unescape(v, vn), *want;
            if (line[0] == 'S') {
                const char *mark =
                    opts.component == NOTES_ICAL_EVENT && t->done ? "\xe2\x9c\x93 " : "";
                want = t->customer_name[0]
                           ? cm_strfmt("%s%s \xe2\x80\x94 %s", mark, t->title, t->customer_name)
                           : cm_strfmt("%s%s", mark, t->title);
            } else {
                /* The description, then the customer's link when there is one. */
                bool link = opts.base_url[0] && t->customer_id[0];
                FUZZ_CHECK(t->description[0] || link);
                want = cm_strfmt("%s%s%s%s%s", t->description,
                                 t->description[0] && link ? "\n\n" : "", link ? opts.base_url : "",
                                 link ? "/#/customers/" : "", link ? t->customer_id : "");
            }
            char *want_nocr = s_no_cr(want);
            if (strcmp(got, want_nocr)) {
                fprintf(stderr, "%.*s gives back \"%s\", not \"%s\"\n", (int)(v - line), line, got,
                        want_nocr);
                abort();
            }
            free(want_nocr);
            free(want);
            free(got);
        } else if (!strncmp(line, "X-WR-CALNAME:", 13)) {
            char *got = s_unescape(v, vn), *want = s_no_cr(cal_name);
            FUZZ_CHECK(!strcmp(got, want));
            free(got);
            free(want);
        }
        line = nl ? nl + 1 : NULL;
    }
    FUZZ_CHECK(!in_task);
    size_t shown = 0;
    for (size_t i = 0; i < n; i++)
        shown += opts.component == NOTES_ICAL_TODO || tasks[i].has_due;
    FUZZ_CHECK(events == shown);
    FUZZ_CHECK(!strncmp(u, "BEGIN:VCALENDAR\n", 16));
    FUZZ_CHECK(strlen(u) >= 14 && !strcmp(u + strlen(u) - 14, "\nEND:VCALENDAR"));
    free(u);
    free(text);
    free(cal_name);
    for (size_t i = 0; i < n; i++) {
        free(src[i].title);
        free(src[i].description);
        free(src[i].customer_name);
        free(src[i].due);
        for (int k = 0; k < 3; k++)
            free(checked[i][k]);
    }
    free(name);
    free(base);
}

static void s_fold(const uint8_t *data, size_t size)
{
    /* A content line as the renderer builds one: valid UTF-8, no CR or LF. */
    if (!s_valid((const char *)data, size) || memchr(data, '\r', size) ||
        memchr(data, '\n', size) || memchr(data, '\0', size))
        return;
    cm_buf_t b;
    cm_buf_init(&b, 0);
    FUZZ_CHECK(notes_ical_fold(&b, (const char *)data, size) == 0);
    FUZZ_CHECK(cm_buf_append(&b, "", 1) == 0);
    char *u = s_unfold(b.data, b.len - 1, true);
    if (strlen(u) != size || memcmp(u, data, size)) {
        fprintf(stderr, "unfolding gives \"%s\", not \"%.*s\"\n", u, (int)size, (const char *)data);
        abort();
    }
    free(u);
    cm_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 8192)
        return 0;
    unsigned pick = data[0] % 6, param = data[1];
    data += 2;
    size -= 2;
    char *in = NULL;
    switch (pick) {
    case 0:
        s_intake(data, size);
        break;
    case 1:
        in = fuzz_strndup(data, size);
        s_intake_time(in);
        break;
    case 2:
        s_status_rule(param & 1, data, size);
        break;
    case 3:
        in = fuzz_strndup(data, size);
        s_text(in, param);
        s_due(in);
        s_ids(in);
        break;
    case 4:
        s_ical(param, data, size);
        break;
    default:
        s_fold(data, size);
        break;
    }
    free(in);
    return 0;
}
