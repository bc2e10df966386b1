/* Fuzzes the forms' pure logic (notes_forms.c). The input is JSON
 * {"form": crm.Form, "answers": [crm.FormAnswer]}:
 *
 * - notes_forms_check_form says yes exactly when it reports no problem;
 *   every problem names a field under "form." and a reason; a form it takes
 *   has 1..NOTES_QUESTIONS_MAX questions with distinct, well-formed ids and
 *   non-empty texts, choices only on choice questions, min <= max.
 * - for a form it takes, notes_forms_check_answers says yes exactly when it
 *   reports no problem, every problem under "answers"; the answers it gives
 *   follow the questions' order, each with its question's type and text,
 *   every required question answered, a choice one of the choices, several
 *   choices distinct in the choices' order; checking them again gives them
 *   back unchanged (a fixed point).
 * - the results of those answers filled three times count each answered
 *   question three times, yes + no and the choices' counts agree, and a
 *   number's min, max and average (up to rounding) are the number. */
#include "fuzz.h"
#include "notes_forms.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>

struct s_seen {
    size_t n;
    bool prefix_ok;
    const char *prefix;
};

static void s_report(void *ud, const char *field, const char *reason, const char *description)
{
    struct s_seen *s = ud;
    s->n++;
    FUZZ_CHECK(field && reason && description && reason[0] && description[0]);
    if (strncmp(field, s->prefix, strlen(s->prefix)) != 0)
        s->prefix_ok = false;
}

static const Crm__Question *s_question(const Crm__Form *f, const char *id)
{
    for (size_t i = 0; i < f->n_questions; i++)
        if (!strcmp(f->questions[i]->id, id))
            return f->questions[i];
    return NULL;
}

static bool s_choice(const Crm__Question *q, const char *v)
{
    for (size_t c = 0; c < q->n_choices; c++)
        if (!strcmp(q->choices[c], v))
            return true;
    return false;
}

static void s_check_form(const Crm__Form *f)
{
    FUZZ_CHECK(f->n_questions >= 1 && f->n_questions <= NOTES_QUESTIONS_MAX);
    FUZZ_CHECK(f->title[0]);
    for (size_t i = 0; i < f->n_questions; i++) {
        const Crm__Question *q = f->questions[i];
        FUZZ_CHECK(q->text[0] && q->id[0] && strlen(q->id) <= NOTES_QUESTION_ID_MAX);
        FUZZ_CHECK(strspn(q->id, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(q->id));
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(q->id, f->questions[j]->id) != 0);
        bool choice = q->type == CRM__QUESTION_TYPE__QUESTION_TYPE_ONE_CHOICE ||
                      q->type == CRM__QUESTION_TYPE__QUESTION_TYPE_MANY_CHOICES;
        FUZZ_CHECK(choice ? q->n_choices >= 1 && q->n_choices <= NOTES_CHOICES_MAX
                          : q->n_choices == 0);
        FUZZ_CHECK(!q->min || !q->max || q->min->value <= q->max->value);
    }
}

static void s_check_answers(const Crm__Form *f, const Crm__FormFilling *out)
{
    size_t last = 0;
    for (size_t i = 0; i < out->n_answers; i++) {
        const Crm__FormAnswer *a = out->answers[i];
        const Crm__Question *q = s_question(f, a->question_id);
        FUZZ_CHECK(q);
        size_t pos = 0;
        while (f->questions[pos] != q)
            pos++;
        FUZZ_CHECK(i == 0 || pos > last);
        last = pos;
        FUZZ_CHECK(a->type == q->type && !strcmp(a->question_text, q->text));
        if (q->type == CRM__QUESTION_TYPE__QUESTION_TYPE_ONE_CHOICE)
            FUZZ_CHECK(s_choice(q, a->value) && a->n_values == 0);
        if (q->type == CRM__QUESTION_TYPE__QUESTION_TYPE_MANY_CHOICES) {
            FUZZ_CHECK(a->n_values >= 1 && !a->value[0]);
            for (size_t v = 0; v < a->n_values; v++) {
                FUZZ_CHECK(s_choice(q, a->values[v]));
                for (size_t w = 0; w < v; w++)
                    FUZZ_CHECK(strcmp(a->values[v], a->values[w]) != 0);
            }
        }
        if (q->type == CRM__QUESTION_TYPE__QUESTION_TYPE_YES_NO)
            FUZZ_CHECK(!strcmp(a->value, "yes") || !strcmp(a->value, "no"));
    }
    for (size_t i = 0; i < f->n_questions; i++) {
        if (!f->questions[i]->required)
            continue;
        bool found = false;
        for (size_t j = 0; j < out->n_answers; j++)
            found |= !strcmp(out->answers[j]->question_id, f->questions[i]->id);
        FUZZ_CHECK(found);
    }
}

static void s_check_results(const Crm__Form *f, Crm__FormFilling *filling)
{
    Crm__FormFilling *three[3] = {filling, filling, filling};
    Crm__SurveyResults *r = notes_forms_results(f, three, 3);
    FUZZ_CHECK(r->fillings == 3 && r->n_questions == f->n_questions);
    for (size_t i = 0; i < r->n_questions; i++) {
        const Crm__QuestionResult *q = r->questions[i];
        FUZZ_CHECK(q->answered == 0 || q->answered == 3);
        if (q->type == CRM__QUESTION_TYPE__QUESTION_TYPE_YES_NO)
            FUZZ_CHECK(q->yes + q->no == q->answered);
        if (q->type == CRM__QUESTION_TYPE__QUESTION_TYPE_ONE_CHOICE) {
            int32_t sum = 0;
            for (size_t c = 0; c < q->n_choices; c++)
                sum += q->choices[c]->count;
            FUZZ_CHECK(sum == q->answered);
        }
        /* Three times the same number: the average is it, up to rounding. */
        if (q->min)
            FUZZ_CHECK(q->avg && q->max && q->min->value == q->max->value &&
                       fabs(q->avg->value - q->min->value) <= 1e-9 * fmax(1, fabs(q->min->value)));
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    Crm__Form *form = NULL;
    Crm__UpdateCardRequest *req = NULL;
    Crm__FormFilling *out = NULL, *again = NULL;
    json_t *fj = json_object_get(j, "form");
    json_t *aj = json_pack("{s:O?}", "answers", json_object_get(j, "answers"));
    if (json_is_object(fj))
        form = (Crm__Form *)cm_pbjson_decode(&crm__form__descriptor, fj, NULL, NULL);
    if (aj)
        req = (Crm__UpdateCardRequest *)cm_pbjson_decode(&crm__update_card_request__descriptor, aj,
                                                         NULL, NULL);
    if (!form || !req)
        goto out;
    struct s_seen seen = {0, true, "form."};
    bool ok = notes_forms_check_form(form, s_report, &seen);
    FUZZ_CHECK(ok == (seen.n == 0) && seen.prefix_ok);
    if (!ok)
        goto out;
    s_check_form(form);
    cm_pb_set_str(&form->id, "f");
    out = (Crm__FormFilling *)cm_pb_new(&crm__form_filling__descriptor);
    seen = (struct s_seen){0, true, "answers"};
    ok = notes_forms_check_answers(form, req->answers, req->n_answers, out, s_report, &seen);
    FUZZ_CHECK(ok == (seen.n == 0) && seen.prefix_ok);
    if (!ok)
        goto out;
    s_check_answers(form, out);
    again = (Crm__FormFilling *)cm_pb_new(&crm__form_filling__descriptor);
    seen = (struct s_seen){0, true, "answers"};
    FUZZ_CHECK(
        notes_forms_check_answers(form, out->answers, out->n_answers, again, s_report, &seen));
    const char *changed[1];
    FUZZ_CHECK(notes_forms_changed(out, again, changed, 1) == 0);
    s_check_results(form, out);
out:
    if (again)
        protobuf_c_message_free_unpacked(&again->base, NULL);
    if (out)
        protobuf_c_message_free_unpacked(&out->base, NULL);
    if (req)
        protobuf_c_message_free_unpacked(&req->base, NULL);
    if (form)
        protobuf_c_message_free_unpacked(&form->base, NULL);
    json_decref(aj);
    json_decref(j);
    return 0;
}
