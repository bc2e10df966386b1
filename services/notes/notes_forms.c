/* Pure logic of the forms: a form's questions, answers against them, the
 * questions a card change touched, a survey's results. */
#include "notes_forms.h"
#include "notes_validate.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

/* Reports one problem with a formatted description. */
static void s_report(notes_forms_report_fn report, void *ud, const char *field, const char *reason,
                     const char *fmt, ...) CM_PRINTF(5, 6);

static void s_report(notes_forms_report_fn report, void *ud, const char *field, const char *reason,
                     const char *fmt, ...)
{
    char description[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(description, sizeof description, fmt, ap);
    va_end(ap);
    report(ud, field, reason, description);
}

const char *notes_forms_purpose_name(Crm__FormPurpose p)
{
    switch (p) {
    case CRM__FORM_PURPOSE__FORM_PURPOSE_CARD:
        return "CARD";
    case CRM__FORM_PURPOSE__FORM_PURPOSE_SURVEY:
        return "SURVEY";
    default:
        return NULL;
    }
}

static bool s_is_choice(Crm__QuestionType t)
{
    return t == CRM__QUESTION_TYPE__QUESTION_TYPE_ONE_CHOICE ||
           t == CRM__QUESTION_TYPE__QUESTION_TYPE_MANY_CHOICES;
}

static bool s_type_valid(Crm__QuestionType t)
{
    return t >= CRM__QUESTION_TYPE__QUESTION_TYPE_SHORT_TEXT &&
           t <= CRM__QUESTION_TYPE__QUESTION_TYPE_MANY_CHOICES;
}

/* ---------------------------------------------------------------------- */
/* A form's questions                                                      */

/* Replaces *s with its normalised text, or reports the problem. */
static bool s_text(char **s, size_t max, unsigned flags, const char *field, const char *what,
                   notes_forms_report_fn report, void *ud)
{
    struct notes_problem p;
    char *out = notes_validate_text(*s, max, flags, what, &p);
    if (!out) {
        report(ud, field, p.reason, p.description);
        return false;
    }
    cm_pb_set_str(s, out);
    free(out);
    return true;
}

static bool s_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > NOTES_QUESTION_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void s_new_id(char **id)
{
    unsigned char r[4];
    randombytes_buf(r, sizeof r);
    char buf[16];
    snprintf(buf, sizeof buf, "q%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
    cm_pb_set_str(id, buf);
}

static void s_free_strings(char **v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i] != protobuf_c_empty_string)
            free(v[i]);
    *n = 0;
}

static void s_drop_double(Crm__DoubleValue **v)
{
    if (*v)
        crm__double_value__free_unpacked(*v, NULL);
    *v = NULL;
}

static bool s_check_choices(Crm__Question *q, const char *field, notes_forms_report_fn report,
                            void *ud)
{
    char f[96];
    if (q->n_choices == 0 || q->n_choices > NOTES_CHOICES_MAX) {
        snprintf(f, sizeof f, "%s.choices", field);
        s_report(report, ud, f, q->n_choices ? "TOO_MANY" : "REQUIRED",
                 "question \"%s\" needs 1..%d choices (it has %zu)", q->text, NOTES_CHOICES_MAX,
                 q->n_choices);
        return false;
    }
    bool ok = true;
    for (size_t c = 0; c < q->n_choices; c++) {
        snprintf(f, sizeof f, "%s.choices[%zu]", field, c);
        if (!s_text(&q->choices[c], NOTES_CHOICE_MAX, NOTES_TEXT_REQUIRED, f, "the choice", report,
                    ud)) {
            ok = false;
            continue;
        }
        for (size_t d = 0; d < c; d++)
            if (!strcmp(q->choices[c], q->choices[d])) {
                s_report(report, ud, f, "DUPLICATE",
                         "question \"%s\" lists the choice \"%s\" twice", q->text, q->choices[c]);
                ok = false;
            }
    }
    return ok;
}

static bool s_check_question(Crm__Question *q, size_t i, notes_forms_report_fn report, void *ud)
{
    char field[64], f[96];
    snprintf(field, sizeof field, "form.questions[%zu]", i);
    bool ok = true;
    snprintf(f, sizeof f, "%s.text", field);
    ok &= s_text(&q->text, NOTES_QUESTION_TEXT_MAX, NOTES_TEXT_REQUIRED, f, "the question", report,
                 ud);
    snprintf(f, sizeof f, "%s.id", field);
    if (!q->id[0]) {
        s_new_id(&q->id);
    } else if (!s_id_valid(q->id)) {
        s_report(report, ud, f, "INVALID_FORMAT",
                 "a question's id is 1..%d of a-z, 0-9, '_' and '-' (or empty for a new one)",
                 NOTES_QUESTION_ID_MAX);
        ok = false;
    }
    if (!s_type_valid(q->type)) {
        snprintf(f, sizeof f, "%s.type", field);
        s_report(report, ud, f, "REQUIRED",
                 "question %zu needs a type: SHORT_TEXT, LONG_TEXT, NUMBER, YES_NO, DATE, "
                 "ONE_CHOICE or MANY_CHOICES",
                 i + 1);
        return false;
    }
    if (s_is_choice(q->type))
        ok &= s_check_choices(q, field, report, ud);
    else
        s_free_strings(q->choices, &q->n_choices);
    if (q->type != CRM__QUESTION_TYPE__QUESTION_TYPE_NUMBER) {
        s_drop_double(&q->min);
        s_drop_double(&q->max);
    } else if ((q->min && !isfinite(q->min->value)) || (q->max && !isfinite(q->max->value))) {
        snprintf(f, sizeof f, "%s.min", field);
        s_report(report, ud, f, "INVALID", "question \"%s\": min and max are finite numbers",
                 q->text);
        ok = false;
    } else if (q->min && q->max && q->min->value > q->max->value) {
        snprintf(f, sizeof f, "%s.max", field);
        s_report(report, ud, f, "OUT_OF_RANGE", "question \"%s\": max %g is below min %g", q->text,
                 q->max->value, q->min->value);
        ok = false;
    }
    return ok;
}

bool notes_forms_check_form(Crm__Form *form, notes_forms_report_fn report, void *ud)
{
    bool ok = s_text(&form->title, NOTES_FORM_TITLE_MAX, NOTES_TEXT_REQUIRED, "form.title",
                     "the title", report, ud);
    if (form->n_questions == 0 || form->n_questions > NOTES_QUESTIONS_MAX) {
        s_report(report, ud, "form.questions", form->n_questions ? "TOO_MANY" : "REQUIRED",
                 "a form has 1..%d questions (this one %zu)", NOTES_QUESTIONS_MAX,
                 form->n_questions);
        return false;
    }
    for (size_t i = 0; i < form->n_questions; i++)
        ok &= s_check_question(form->questions[i], i, report, ud);
    for (size_t i = 0; i < form->n_questions; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(form->questions[i]->id, form->questions[j]->id)) {
                char f[64];
                snprintf(f, sizeof f, "form.questions[%zu].id", i);
                s_report(report, ud, f, "DUPLICATE", "questions %zu and %zu have the same id %s",
                         j + 1, i + 1, form->questions[i]->id);
                ok = false;
            }
    return ok;
}

/* ---------------------------------------------------------------------- */
/* Answers                                                                 */

static const Crm__Question *s_question(const Crm__Form *form, const char *id, size_t *index)
{
    for (size_t i = 0; i < form->n_questions; i++)
        if (!strcmp(form->questions[i]->id, id)) {
            if (index)
                *index = i;
            return form->questions[i];
        }
    return NULL;
}

static bool s_in_choices(const Crm__Question *q, const char *v)
{
    for (size_t c = 0; c < q->n_choices; c++)
        if (!strcmp(q->choices[c], v))
            return true;
    return false;
}

/* Parses a decimal number: an optional '-', digits, optionally '.' and
 * digits. Nothing else (no exponent, no hex, no "inf"). */
static bool s_number(const char *s, double *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (*p || !digits || strlen(s) > NOTES_ANSWER_NUMBER_MAX)
        return false;
    char *end = NULL;
    *out = strtod(s, &end);
    return end && !*end && isfinite(*out);
}

/* The plain form of a number s_number took, written into out (at least
 * strlen(s) + 2 bytes): no '+', no leading zeros, no trailing zeros after the
 * point, no point without digits after it, and "0" for minus zero. Textual,
 * so every digit written stays ("0.00001" is not "1e-05"). */
static char *s_number_text(const char *s, char *out)
{
    bool minus = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    while (*s == '0' && s[1] >= '0' && s[1] <= '9')
        s++; // leading zeros, keeping the one before a point
    char *o = out;
    if (minus)
        *o++ = '-';
    if (*s == '.')
        *o++ = '0';
    size_t n = strlen(s);
    memcpy(o, s, n + 1);
    char *point = strchr(o, '.');
    if (point) {
        char *end = o + strlen(o);
        while (end > point + 1 && end[-1] == '0')
            *--end = '\0';
        if (end == point + 1)
            *point = '\0';
    }
    /* out is whole: its first byte is '-', '0' or the memcpy of s above, which
     * brings its NUL; cppcheck does not follow the writes through o. */
    // cppcheck-suppress uninitvar
    if (!strcmp(out, "-0"))
        memcpy(out, "0", 2);
    return out;
}

static bool s_date(const char *s)
{
    struct notes_due d;
    return strlen(s) == 10 && notes_due_parse(s, &d) == NOTES_DUE_OK && d.all_day;
}

static void s_strings_add(char ***v, size_t *n, const char *s)
{
    *v = cm_realloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = cm_strdup(s);
}

/* Checks one answer's value for question q; sets out's value or values.
 * Returns false after reporting the problem. */
static bool s_check_value(const Crm__Question *q, const Crm__FormAnswer *a, Crm__FormAnswer *out,
                          notes_forms_report_fn report, void *ud)
{
    char field[64];
    snprintf(field, sizeof field, "answers.%s", q->id);
    struct notes_problem p;
    char *text = NULL;
    double x;
    switch (q->type) {
    case CRM__QUESTION_TYPE__QUESTION_TYPE_SHORT_TEXT:
    case CRM__QUESTION_TYPE__QUESTION_TYPE_LONG_TEXT: {
        bool lng = q->type == CRM__QUESTION_TYPE__QUESTION_TYPE_LONG_TEXT;
        char what[NOTES_QUESTION_TEXT_MAX * 4 + 32];
        snprintf(what, sizeof what, "the answer to \"%s\"", q->text);
        text = notes_validate_text(a->value, lng ? NOTES_ANSWER_LONG_MAX : NOTES_ANSWER_SHORT_MAX,
                                   lng ? NOTES_TEXT_MULTILINE : 0, what, &p);
        if (!text) {
            report(ud, field, p.reason, p.description);
            return false;
        }
        cm_pb_set_str(&out->value, text);
        free(text);
        return true;
    }
    case CRM__QUESTION_TYPE__QUESTION_TYPE_NUMBER:
        if (!s_number(a->value, &x)) {
            s_report(report, ud, field, "INVALID",
                     "the answer to \"%s\" is not a number (write it as 12 or 12.5)", q->text);
            return false;
        }
        if ((q->min && x < q->min->value) || (q->max && x > q->max->value)) {
            char range[96];
            if (q->min && q->max)
                snprintf(range, sizeof range, "from %g to %g", q->min->value, q->max->value);
            else if (q->min)
                snprintf(range, sizeof range, "at least %g", q->min->value);
            else
                snprintf(range, sizeof range, "at most %g", q->max->value);
            s_report(report, ud, field, "OUT_OF_RANGE", "the answer to \"%s\" must be %s (not %s)",
                     q->text, range, a->value);
            return false;
        }
        char num[NOTES_ANSWER_NUMBER_MAX + 2];
        cm_pb_set_str(&out->value, s_number_text(a->value, num));
        return true;
    case CRM__QUESTION_TYPE__QUESTION_TYPE_YES_NO:
        if (strcmp(a->value, "yes") && strcmp(a->value, "no")) {
            s_report(report, ud, field, "INVALID", "the answer to \"%s\" is \"yes\" or \"no\"",
                     q->text);
            return false;
        }
        cm_pb_set_str(&out->value, a->value);
        return true;
    case CRM__QUESTION_TYPE__QUESTION_TYPE_DATE:
        if (!s_date(a->value)) {
            s_report(report, ud, field, "INVALID_FORMAT",
                     "the answer to \"%s\" is a date written YYYY-MM-DD", q->text);
            return false;
        }
        cm_pb_set_str(&out->value, a->value);
        return true;
    case CRM__QUESTION_TYPE__QUESTION_TYPE_ONE_CHOICE:
        if (a->n_values > 1 || (a->n_values == 1 && a->value[0])) {
            s_report(report, ud, field, "TOO_MANY", "question \"%s\" takes one choice", q->text);
            return false;
        }
        const char *v = a->n_values ? a->values[0] : a->value;
        if (!s_in_choices(q, v)) {
            s_report(report, ud, field, "NOT_A_CHOICE",
                     "\"%s\" is not one of the choices of \"%s\"", v, q->text);
            return false;
        }
        cm_pb_set_str(&out->value, v);
        return true;
    case CRM__QUESTION_TYPE__QUESTION_TYPE_MANY_CHOICES:
        if (a->value[0]) {
            s_report(report, ud, field, "INVALID",
                     "question \"%s\" takes its choices as a list (values), not value", q->text);
            return false;
        }
        /* Kept in the order of the choices, each once. */
        for (size_t i = 0; i < a->n_values; i++) {
            if (!s_in_choices(q, a->values[i])) {
                s_report(report, ud, field, "NOT_A_CHOICE",
                         "\"%s\" is not one of the choices of \"%s\"", a->values[i], q->text);
                return false;
            }
            for (size_t j = 0; j < i; j++)
                if (!strcmp(a->values[i], a->values[j])) {
                    s_report(report, ud, field, "DUPLICATE", "\"%s\" is chosen twice for \"%s\"",
                             a->values[i], q->text);
                    return false;
                }
        }
        for (size_t c = 0; c < q->n_choices; c++)
            for (size_t i = 0; i < a->n_values; i++)
                if (!strcmp(q->choices[c], a->values[i]))
                    s_strings_add(&out->values, &out->n_values, q->choices[c]);
        return true;
    default:
        return false;
    }
}

static bool s_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

static bool s_empty(const Crm__FormAnswer *a)
{
    return s_blank(a->value) && a->n_values == 0;
}

bool notes_forms_check_answers(const Crm__Form *form, Crm__FormAnswer *const *in, size_t n,
                               Crm__FormFilling *out, notes_forms_report_fn report, void *ud)
{
    bool ok = true;
    /* Which answer answers each question (n: none). */
    size_t *by_q = cm_malloc((form->n_questions + 1) * sizeof *by_q);
    for (size_t q = 0; q < form->n_questions; q++)
        by_q[q] = n;
    for (size_t i = 0; i < n; i++) {
        char field[64];
        snprintf(field, sizeof field, "answers[%zu].questionId", i);
        size_t q;
        if (!s_question(form, in[i]->question_id, &q)) {
            s_report(report, ud, field, "NOT_FOUND", "the form \"%s\" has no question %s",
                     form->title, in[i]->question_id);
            ok = false;
        } else if (by_q[q] != n) {
            s_report(report, ud, field, "DUPLICATE", "question \"%s\" is answered twice",
                     form->questions[q]->text);
            ok = false;
        } else {
            by_q[q] = i;
        }
    }
    for (size_t q = 0; q < form->n_questions; q++) {
        const Crm__Question *qu = form->questions[q];
        const Crm__FormAnswer *a = by_q[q] < n ? in[by_q[q]] : NULL;
        if (!a || s_empty(a)) {
            if (qu->required) {
                char field[64];
                snprintf(field, sizeof field, "answers.%s", qu->id);
                s_report(report, ud, field, "REQUIRED", "question \"%s\" needs an answer",
                         qu->text);
                ok = false;
            }
            continue;
        }
        Crm__FormAnswer *o = (Crm__FormAnswer *)cm_pb_new(&crm__form_answer__descriptor);
        cm_pb_set_str(&o->question_id, qu->id);
        cm_pb_set_str(&o->question_text, qu->text);
        o->type = qu->type;
        out->answers = cm_realloc(out->answers, (out->n_answers + 1) * sizeof *out->answers);
        out->answers[out->n_answers++] = o;
        if (!s_check_value(qu, a, o, report, ud))
            ok = false;
    }
    free(by_q);
    return ok;
}

/* ---------------------------------------------------------------------- */
/* What a card change touched                                              */

static const Crm__FormAnswer *s_answer(const Crm__FormFilling *f, const char *question_id)
{
    if (!f)
        return NULL;
    for (size_t i = 0; i < f->n_answers; i++)
        if (!strcmp(f->answers[i]->question_id, question_id))
            return f->answers[i];
    return NULL;
}

static bool s_same(const Crm__FormAnswer *a, const Crm__FormAnswer *b)
{
    if (!a || !b)
        return a == b;
    if (strcmp(a->value, b->value) || a->n_values != b->n_values || a->type != b->type)
        return false;
    for (size_t i = 0; i < a->n_values; i++)
        if (strcmp(a->values[i], b->values[i]))
            return false;
    return true;
}

size_t notes_forms_changed(const Crm__FormFilling *before, const Crm__FormFilling *after,
                           const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < after->n_answers && n < max; i++) {
        const Crm__FormAnswer *a = after->answers[i];
        if (!s_same(a, s_answer(before, a->question_id)))
            out[n++] = a->question_text;
    }
    for (size_t i = 0; before && i < before->n_answers && n < max; i++)
        if (!s_answer(after, before->answers[i]->question_id))
            out[n++] = before->answers[i]->question_text; // answer removed
    return n;
}

/* ---------------------------------------------------------------------- */
/* A survey's results                                                      */

static Crm__DoubleValue *s_double(double v)
{
    Crm__DoubleValue *d = (Crm__DoubleValue *)cm_pb_new(&crm__double_value__descriptor);
    d->value = v;
    return d;
}

static void s_tally(Crm__QuestionResult *r, const Crm__Question *q, const Crm__FormAnswer *a,
                    double *sum)
{
    r->answered++;
    switch (q->type) {
    case CRM__QUESTION_TYPE__QUESTION_TYPE_ONE_CHOICE:
    case CRM__QUESTION_TYPE__QUESTION_TYPE_MANY_CHOICES:
        for (size_t c = 0; c < r->n_choices; c++) {
            if (a->n_values == 0 && !strcmp(a->value, r->choices[c]->choice))
                r->choices[c]->count++;
            for (size_t i = 0; i < a->n_values; i++)
                if (!strcmp(a->values[i], r->choices[c]->choice))
                    r->choices[c]->count++;
        }
        break;
    case CRM__QUESTION_TYPE__QUESTION_TYPE_YES_NO:
        if (!strcmp(a->value, "yes"))
            r->yes++;
        else
            r->no++;
        break;
    case CRM__QUESTION_TYPE__QUESTION_TYPE_NUMBER: {
        double x = strtod(a->value, NULL);
        *sum += x;
        if (!r->min) {
            r->min = s_double(x);
            r->max = s_double(x);
        } else {
            r->min->value = fmin(r->min->value, x);
            r->max->value = fmax(r->max->value, x);
        }
        break;
    }
    default:
        if (r->n_texts < NOTES_RESULTS_TEXTS_MAX)
            s_strings_add(&r->texts, &r->n_texts, a->value);
        break;
    }
}

static Crm__QuestionResult *s_question_result(const Crm__Question *q,
                                              Crm__FormFilling *const *fillings, size_t n)
{
    Crm__QuestionResult *r = (Crm__QuestionResult *)cm_pb_new(&crm__question_result__descriptor);
    cm_pb_set_str(&r->question_id, q->id);
    cm_pb_set_str(&r->text, q->text);
    r->type = q->type;
    if (q->n_choices) {
        r->choices = cm_calloc(q->n_choices, sizeof *r->choices);
        for (size_t c = 0; c < q->n_choices; c++) {
            r->choices[c] = (Crm__ChoiceCount *)cm_pb_new(&crm__choice_count__descriptor);
            cm_pb_set_str(&r->choices[c]->choice, q->choices[c]);
        }
        r->n_choices = q->n_choices;
    }
    double sum = 0;
    for (size_t f = 0; f < n; f++) {
        const Crm__FormAnswer *a = s_answer(fillings[f], q->id);
        if (a && a->type == q->type)
            s_tally(r, q, a, &sum);
    }
    if (r->min)
        r->avg = s_double(sum / r->answered);
    return r;
}

Crm__SurveyResults *notes_forms_results(const Crm__Form *form, Crm__FormFilling *const *fillings,
                                        size_t n)
{
    Crm__SurveyResults *res = (Crm__SurveyResults *)cm_pb_new(&crm__survey_results__descriptor);
    res->form = (Crm__Form *)cm_pb_clone(&form->base);
    res->fillings = (int32_t)n;
    res->n_questions = form->n_questions;
    res->questions = cm_calloc(form->n_questions ? form->n_questions : 1, sizeof *res->questions);
    for (size_t q = 0; q < form->n_questions; q++)
        res->questions[q] = s_question_result(form->questions[q], fillings, n);
    return res;
}
