/* Unit tests for notes_forms: a form's questions, answers checked against
 * them (each problem naming the question), what a card change touched, and
 * a survey's results. */
#include "notes_forms.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "../unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The problems a check reported. */
struct s_problems {
    size_t n;
    char field[16][64];
    char reason[16][32];
    char description[16][512];
};

static void s_collect(void *ud, const char *field, const char *reason, const char *description)
{
    struct s_problems *p = ud;
    if (p->n < 16) {
        snprintf(p->field[p->n], sizeof p->field[0], "%s", field);
        snprintf(p->reason[p->n], sizeof p->reason[0], "%s", reason);
        snprintf(p->description[p->n], sizeof p->description[0], "%s", description);
    }
    p->n++;
}

/* A message of type desc from JSON text (the test's own, always valid). */
static ProtobufCMessage *s_from(const ProtobufCMessageDescriptor *desc, const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    CHECK(j != NULL);
    struct cm_pbjson_error err;
    ProtobufCMessage *m = cm_pbjson_decode(desc, j, NULL, &err);
    json_decref(j);
    CHECK(m != NULL);
    return m;
}

static const char *FORM =
    "{\"id\": \"f\", \"title\": \"Card\", \"version\": 3, \"questions\": ["
    "{\"id\": \"skin\", \"text\": \"Skin type\", \"type\": \"ONE_CHOICE\", \"required\": true,"
    " \"choices\": [\"dry\", \"oily\", \"normal\"]},"
    "{\"id\": \"allergies\", \"text\": \"Allergies\", \"type\": \"LONG_TEXT\"},"
    "{\"id\": \"products\", \"text\": \"Products\", \"type\": \"MANY_CHOICES\","
    " \"choices\": [\"serum\", \"cream\", \"mask\"]},"
    "{\"id\": \"age\", \"text\": \"Age\", \"type\": \"NUMBER\", \"min\": 16, \"max\": 120},"
    "{\"id\": \"pregnant\", \"text\": \"Pregnant\", \"type\": \"YES_NO\"},"
    "{\"id\": \"last\", \"text\": \"Last visit\", \"type\": \"DATE\"},"
    "{\"id\": \"name\", \"text\": \"Nickname\", \"type\": \"SHORT_TEXT\"}]}";

/* Checks the answers in JSON against FORM; returns the filling (caller
 * frees) and the problems in *p. */
static Crm__FormFilling *s_answer(const char *answers, struct s_problems *p, bool *ok)
{
    Crm__Form *form = (Crm__Form *)s_from(&crm__form__descriptor, FORM);
    char *text = cm_strfmt("{\"answers\": %s}", answers);
    Crm__UpdateCardRequest *req =
        (Crm__UpdateCardRequest *)s_from(&crm__update_card_request__descriptor, text);
    free(text);
    Crm__FormFilling *out = (Crm__FormFilling *)cm_pb_new(&crm__form_filling__descriptor);
    memset(p, 0, sizeof *p);
    *ok = notes_forms_check_answers(form, req->answers, req->n_answers, out, s_collect, p);
    protobuf_c_message_free_unpacked(&req->base, NULL);
    protobuf_c_message_free_unpacked(&form->base, NULL);
    return out;
}

/* True when the single problem reported is field/reason, its description
 * holding words. */
static bool s_one(const struct s_problems *p, const char *field, const char *reason,
                  const char *words)
{
    if (p->n != 1 || strcmp(p->field[0], field) || strcmp(p->reason[0], reason) ||
        !strstr(p->description[0], words)) {
        fprintf(stderr, "got %zu: %s %s %s\n", p->n, p->field[0], p->reason[0], p->description[0]);
        return false;
    }
    return true;
}

static void test_answers_normalised_in_question_order(void)
{
    struct s_problems p;
    bool ok;
    Crm__FormFilling *f =
        s_answer("[{\"questionId\": \"age\", \"value\": \"034.50\"},"
                 " {\"questionId\": \"products\", \"values\": [\"mask\", \"serum\"]},"
                 " {\"questionId\": \"skin\", \"value\": \"dry\"},"
                 " {\"questionId\": \"allergies\", \"value\": \"latex\\r\\npollen\"},"
                 " {\"questionId\": \"name\", \"value\": \"\"},"
                 " {\"questionId\": \"pregnant\", \"value\": \"no\"},"
                 " {\"questionId\": \"last\", \"value\": \"2024-02-29\"}]",
                 &p, &ok);
    CHECK(ok && p.n == 0);
    CHECK(f->n_answers == 6); // the empty nickname is no answer
    CHECK_STR(f->answers[0]->question_id, "skin");
    CHECK_STR(f->answers[0]->question_text, "Skin type");
    CHECK(f->answers[0]->type == CRM__QUESTION_TYPE__QUESTION_TYPE_ONE_CHOICE);
    CHECK_STR(f->answers[1]->value, "latex\npollen");
    CHECK(f->answers[2]->n_values == 2);
    CHECK_STR(f->answers[2]->values[0], "serum"); // the form's order
    CHECK_STR(f->answers[2]->values[1], "mask");
    CHECK_STR(f->answers[3]->value, "34.5");
    CHECK_STR(f->answers[4]->value, "no");
    CHECK_STR(f->answers[5]->value, "2024-02-29");
    protobuf_c_message_free_unpacked(&f->base, NULL);
}

static void test_numbers_keep_their_digits(void)
{
    /* Written plainly, every digit kept: no exponent a second check would
     * refuse, no rounding. */
    const char *cases[][2] = {
        {"20", "20"},
        {"+20", "20"},
        {"020.500", "20.5"},
        {"-0", "0"},
        {"-0.000", "0"},
        {".5", "0.5"},
        {"-.25", "-0.25"},
        {"16.", "16"},
        {"0.00001", "0.00001"},
        {"100000000000000000000", "100000000000000000000"},
        {"119.99999999999999999", "119.99999999999999999"},
    };
    Crm__Form *form = (Crm__Form *)s_from(&crm__form__descriptor,
                                          "{\"title\": \"t\", \"questions\": [{\"id\": \"n\","
                                          " \"text\": \"N\", \"type\": \"NUMBER\"}]}");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Crm__FormAnswer in = CRM__FORM_ANSWER__INIT;
        in.question_id = "n";
        in.value = (char *)cases[i][0];
        Crm__FormAnswer *list[] = {&in};
        Crm__FormFilling *f = (Crm__FormFilling *)cm_pb_new(&crm__form_filling__descriptor);
        struct s_problems p = {0};
        CHECK(notes_forms_check_answers(form, list, 1, f, s_collect, &p));
        CHECK_STR(f->answers[0]->value, cases[i][1]);
        /* Checked again, the same. */
        Crm__FormFilling *g = (Crm__FormFilling *)cm_pb_new(&crm__form_filling__descriptor);
        CHECK(notes_forms_check_answers(form, f->answers, 1, g, s_collect, &p));
        CHECK_STR(g->answers[0]->value, cases[i][1]);
        protobuf_c_message_free_unpacked(&g->base, NULL);
        protobuf_c_message_free_unpacked(&f->base, NULL);
    }
    protobuf_c_message_free_unpacked(&form->base, NULL);
}

static void test_answer_problems_name_the_question(void)
{
    struct {
        const char *answers, *field, *reason, *words;
    } cases[] = {
        {"[]", "answers.skin", "REQUIRED", "\"Skin type\" needs an answer"},
        {"[{\"questionId\": \"skin\", \"value\": \" \\t\"}]", "answers.skin", "REQUIRED",
         "Skin type"},
        {"[{\"questionId\": \"skin\", \"value\": \"green\"}]", "answers.skin", "NOT_A_CHOICE",
         "\"green\" is not one of the choices of \"Skin type\""},
        {"[{\"questionId\": \"skin\", \"values\": [\"dry\", \"oily\"]}]", "answers.skin",
         "TOO_MANY", "one choice"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"age\", "
         "\"value\": \"twelve\"}]",
         "answers.age", "INVALID", "\"Age\" is not a number"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"age\", "
         "\"value\": \"0x10\"}]",
         "answers.age", "INVALID", "not a number"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"age\", "
         "\"value\": \"inf\"}]",
         "answers.age", "INVALID", "not a number"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"age\", "
         "\"value\": \"15.99\"}]",
         "answers.age", "OUT_OF_RANGE", "from 16 to 120"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"pregnant\", "
         "\"value\": \"true\"}]",
         "answers.pregnant", "INVALID", "\"yes\" or \"no\""},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"last\", "
         "\"value\": \"2023-02-29\"}]",
         "answers.last", "INVALID_FORMAT", "YYYY-MM-DD"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"last\", "
         "\"value\": \"2023-02-01T10:00:00Z\"}]",
         "answers.last", "INVALID_FORMAT", "Last visit"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"products\", "
         "\"values\": [\"mask\", \"mask\"]}]",
         "answers.products", "DUPLICATE", "mask"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"products\", "
         "\"value\": \"mask\"}]",
         "answers.products", "INVALID", "as a list"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"name\", "
         "\"value\": \"two\\nlines\"}]",
         "answers.name", "INVALID", "Nickname"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"gone\", "
         "\"value\": \"x\"}]",
         "answers[1].questionId", "NOT_FOUND", "no question gone"},
        {"[{\"questionId\": \"skin\", \"value\": \"dry\"}, {\"questionId\": \"skin\", "
         "\"value\": \"oily\"}]",
         "answers[1].questionId", "DUPLICATE", "answered twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct s_problems p;
        bool ok;
        Crm__FormFilling *f = s_answer(cases[i].answers, &p, &ok);
        CHECK(!ok);
        CHECK(s_one(&p, cases[i].field, cases[i].reason, cases[i].words));
        protobuf_c_message_free_unpacked(&f->base, NULL);
    }
}

static void test_answer_length_limits(void)
{
    char *long_text = malloc(NOTES_ANSWER_LONG_MAX * 2 + 1);
    for (size_t i = 0; i < NOTES_ANSWER_LONG_MAX; i++)
        memcpy(long_text + 2 * i, "\xc5\x82", 2); // ł: two bytes, one character
    long_text[NOTES_ANSWER_LONG_MAX * 2] = '\0';
    char *answers = cm_strfmt("[{\"questionId\": \"skin\", \"value\": \"dry\"},"
                              " {\"questionId\": \"allergies\", \"value\": \"%s\"}]",
                              long_text);
    struct s_problems p;
    bool ok;
    Crm__FormFilling *f = s_answer(answers, &p, &ok);
    CHECK(ok);
    protobuf_c_message_free_unpacked(&f->base, NULL);
    free(answers);
    answers = cm_strfmt("[{\"questionId\": \"skin\", \"value\": \"dry\"},"
                        " {\"questionId\": \"allergies\", \"value\": \"%sx\"}]",
                        long_text);
    f = s_answer(answers, &p, &ok);
    CHECK(!ok && s_one(&p, "answers.allergies", "TOO_LONG", "at most 5000"));
    protobuf_c_message_free_unpacked(&f->base, NULL);
    free(answers);
    free(long_text);
}

static Crm__Form *s_form(const char *json, struct s_problems *p, bool *ok)
{
    Crm__Form *f = (Crm__Form *)s_from(&crm__form__descriptor, json);
    memset(p, 0, sizeof *p);
    *ok = notes_forms_check_form(f, s_collect, p);
    return f;
}

static void test_form_check(void)
{
    struct s_problems p;
    bool ok;
    Crm__Form *f = s_form("{\"title\": \"Survey\", \"questions\": ["
                          "{\"text\": \"How?\", \"type\": \"YES_NO\", \"choices\": [\"x\"],"
                          " \"min\": 1},"
                          "{\"id\": \"kept\", \"text\": \"Score\", \"type\": \"NUMBER\","
                          " \"min\": 0, \"max\": 10}]}",
                          &p, &ok);
    CHECK(ok && p.n == 0);
    /* A new question gets an id; what does not belong to its type is dropped. */
    CHECK(strlen(f->questions[0]->id) == 9 && f->questions[0]->id[0] == 'q');
    CHECK(f->questions[0]->n_choices == 0 && f->questions[0]->min == NULL);
    CHECK_STR(f->questions[1]->id, "kept");
    CHECK(f->questions[1]->max && f->questions[1]->max->value == 10);
    protobuf_c_message_free_unpacked(&f->base, NULL);

    struct {
        const char *json, *field, *reason;
    } cases[] = {
        {"{\"title\": \" \", \"questions\": [{\"text\": \"a\", \"type\": \"DATE\"}]}", "form.title",
         "REQUIRED"},
        {"{\"title\": \"t\"}", "form.questions", "REQUIRED"},
        {"{\"title\": \"t\", \"questions\": [{\"text\": \"a\"}]}", "form.questions[0].type",
         "REQUIRED"},
        {"{\"title\": \"t\", \"questions\": [{\"text\": \"\", \"type\": \"DATE\"}]}",
         "form.questions[0].text", "REQUIRED"},
        {"{\"title\": \"t\", \"questions\": [{\"text\": \"a\", \"type\": \"ONE_CHOICE\"}]}",
         "form.questions[0].choices", "REQUIRED"},
        {"{\"title\": \"t\", \"questions\": [{\"text\": \"a\", \"type\": \"ONE_CHOICE\","
         " \"choices\": [\"x\", \"x\"]}]}",
         "form.questions[0].choices[1]", "DUPLICATE"},
        {"{\"title\": \"t\", \"questions\": [{\"text\": \"a\", \"type\": \"NUMBER\","
         " \"min\": 3, \"max\": 2}]}",
         "form.questions[0].max", "OUT_OF_RANGE"},
        {"{\"title\": \"t\", \"questions\": [{\"id\": \"Bad Id\", \"text\": \"a\","
         " \"type\": \"DATE\"}]}",
         "form.questions[0].id", "INVALID_FORMAT"},
        {"{\"title\": \"t\", \"questions\": [{\"id\": \"x\", \"text\": \"a\", \"type\": \"DATE\"},"
         " {\"id\": \"x\", \"text\": \"b\", \"type\": \"DATE\"}]}",
         "form.questions[1].id", "DUPLICATE"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        f = s_form(cases[i].json, &p, &ok);
        CHECK(!ok);
        CHECK(p.n == 1);
        CHECK_STR(p.field[0], cases[i].field);
        CHECK_STR(p.reason[0], cases[i].reason);
        protobuf_c_message_free_unpacked(&f->base, NULL);
    }
}

static void test_form_limits(void)
{
    /* NOTES_QUESTIONS_MAX questions pass, one more does not; the same for
     * choices. */
    for (int extra = 0; extra <= 1; extra++) {
        Crm__Form *f = (Crm__Form *)cm_pb_new(&crm__form__descriptor);
        cm_pb_set_str(&f->title, "t");
        f->n_questions = NOTES_QUESTIONS_MAX + (size_t)extra;
        f->questions = cm_calloc(f->n_questions, sizeof *f->questions);
        for (size_t i = 0; i < f->n_questions; i++) {
            Crm__Question *q = (Crm__Question *)cm_pb_new(&crm__question__descriptor);
            cm_pb_set_str(&q->text, "q");
            q->type = CRM__QUESTION_TYPE__QUESTION_TYPE_ONE_CHOICE;
            q->n_choices = i == 0 ? NOTES_CHOICES_MAX + (size_t)extra : 1;
            q->choices = cm_calloc(q->n_choices, sizeof *q->choices);
            for (size_t c = 0; c < q->n_choices; c++)
                q->choices[c] = cm_strfmt("c%zu", c);
            f->questions[i] = q;
        }
        struct s_problems p = {0};
        bool ok = notes_forms_check_form(f, s_collect, &p);
        CHECK(ok == !extra);
        if (extra) {
            CHECK(p.n == 1);
            CHECK_STR(p.field[0], "form.questions");
            CHECK_STR(p.reason[0], "TOO_MANY");
        }
        protobuf_c_message_free_unpacked(&f->base, NULL);
    }
}

static void test_changed_questions(void)
{
    struct s_problems p;
    bool ok;
    Crm__FormFilling *before = s_answer("[{\"questionId\": \"skin\", \"value\": \"dry\"},"
                                        " {\"questionId\": \"allergies\", \"value\": \"latex\"},"
                                        " {\"questionId\": \"age\", \"value\": \"30\"}]",
                                        &p, &ok);
    Crm__FormFilling *after = s_answer("[{\"questionId\": \"skin\", \"value\": \"oily\"},"
                                       " {\"questionId\": \"age\", \"value\": \"30.0\"},"
                                       " {\"questionId\": \"pregnant\", \"value\": \"no\"}]",
                                       &p, &ok);
    const char *out[8];
    size_t n = notes_forms_changed(before, after, out, 8);
    CHECK(n == 3);
    CHECK_STR(out[0], "Skin type");
    CHECK_STR(out[1], "Pregnant");
    CHECK_STR(out[2], "Allergies"); // removed
    CHECK(notes_forms_changed(after, after, out, 8) == 0);
    CHECK(notes_forms_changed(NULL, after, out, 8) == 3);
    CHECK(notes_forms_changed(NULL, after, out, 1) == 1);
    protobuf_c_message_free_unpacked(&before->base, NULL);
    protobuf_c_message_free_unpacked(&after->base, NULL);
}

static void test_results(void)
{
    struct s_problems p;
    bool ok;
    Crm__FormFilling *f[3];
    f[0] = s_answer("[{\"questionId\": \"skin\", \"value\": \"dry\"},"
                    " {\"questionId\": \"products\", \"values\": [\"serum\", \"mask\"]},"
                    " {\"questionId\": \"age\", \"value\": \"20\"},"
                    " {\"questionId\": \"pregnant\", \"value\": \"yes\"},"
                    " {\"questionId\": \"name\", \"value\": \"newest\"}]",
                    &p, &ok);
    f[1] = s_answer("[{\"questionId\": \"skin\", \"value\": \"dry\"},"
                    " {\"questionId\": \"products\", \"values\": [\"mask\"]},"
                    " {\"questionId\": \"age\", \"value\": \"40.5\"},"
                    " {\"questionId\": \"pregnant\", \"value\": \"no\"},"
                    " {\"questionId\": \"name\", \"value\": \"older\"}]",
                    &p, &ok);
    f[2] = s_answer("[{\"questionId\": \"skin\", \"value\": \"oily\"},"
                    " {\"questionId\": \"pregnant\", \"value\": \"no\"}]",
                    &p, &ok);
    /* An answer given while "age" was another type is not counted. */
    f[2]->answers[1]->type = CRM__QUESTION_TYPE__QUESTION_TYPE_SHORT_TEXT;
    cm_pb_set_str(&f[2]->answers[1]->question_id, "age");
    Crm__Form *form = (Crm__Form *)s_from(&crm__form__descriptor, FORM);
    Crm__SurveyResults *r = notes_forms_results(form, f, 3);
    CHECK(r->fillings == 3 && r->n_questions == 7);
    CHECK_STR(r->form->title, "Card");
    Crm__QuestionResult *skin = r->questions[0];
    CHECK(skin->answered == 3 && skin->n_choices == 3);
    CHECK_STR(skin->choices[0]->choice, "dry");
    CHECK(skin->choices[0]->count == 2 && skin->choices[1]->count == 1 &&
          skin->choices[2]->count == 0);
    Crm__QuestionResult *products = r->questions[2];
    CHECK(products->answered == 2);
    CHECK(products->choices[0]->count == 1 && products->choices[1]->count == 0 &&
          products->choices[2]->count == 2);
    Crm__QuestionResult *age = r->questions[3];
    CHECK(age->answered == 2);
    CHECK(age->min->value == 20 && age->max->value == 40.5 && age->avg->value == 30.25);
    Crm__QuestionResult *pregnant = r->questions[4];
    CHECK(pregnant->yes == 1 && pregnant->no == 1 && pregnant->answered == 2);
    Crm__QuestionResult *last = r->questions[5];
    CHECK(last->answered == 0 && last->n_texts == 0 && last->min == NULL);
    Crm__QuestionResult *name = r->questions[6];
    CHECK(name->n_texts == 2);
    CHECK_STR(name->texts[0], "newest");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    protobuf_c_message_free_unpacked(&form->base, NULL);
    for (int i = 0; i < 3; i++)
        protobuf_c_message_free_unpacked(&f[i]->base, NULL);
}

int main(void)
{
    RUN(test_answers_normalised_in_question_order);
    RUN(test_numbers_keep_their_digits);
    RUN(test_answer_problems_name_the_question);
    RUN(test_answer_length_limits);
    RUN(test_form_check);
    RUN(test_form_limits);
    RUN(test_changed_questions);
    RUN(test_results);
    return 0;
}
