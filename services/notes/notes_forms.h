/* Pure logic of the forms (the customer card and surveys): checking a form's
 * questions, checking answers against the form they answer, which answers a
 * card change touched, and a survey's results. No database, no bus. */
#ifndef NOTES_FORMS_H
#define NOTES_FORMS_H

#include <stdbool.h>
#include <stddef.h>
#include "forms.pb-c.h"

/* Limits, in characters (Unicode code points) for texts. */
#define NOTES_FORMS_MAX 50               // forms a business has (deleted ones not counted)
#define NOTES_FORM_TITLE_MAX 200         // a form's title
#define NOTES_QUESTIONS_MAX 100          // questions in a form
#define NOTES_QUESTION_TEXT_MAX 500      // a question's text
#define NOTES_CHOICES_MAX 30             // choices of a question
#define NOTES_CHOICE_MAX 200             // one choice's text
#define NOTES_QUESTION_ID_MAX 32         // bytes of a-z, 0-9, '_', '-'
#define NOTES_ANSWER_SHORT_MAX 500       // SHORT_TEXT answer
#define NOTES_ANSWER_LONG_MAX 5000       // LONG_TEXT answer
#define NOTES_ANSWER_NUMBER_MAX 32       // bytes of a NUMBER answer
#define NOTES_RESULTS_FILLINGS_MAX 10000 // fillings a survey's results count (the newest)
#define NOTES_RESULTS_TEXTS_MAX 200      // text answers a question's results list

/* One problem found: field is lowerCamelCase ("form.questions[2].choices",
 * "answers.allergies"), reason e.g. "REQUIRED", "OUT_OF_RANGE". Called once
 * per problem. */
typedef void (*notes_forms_report_fn)(void *ud, const char *field, const char *reason,
                                      const char *description);

/* Checks and normalises form's title and questions in place (form is a
 * dynamic message, cm_pbjson): texts as notes_validate_text makes them;
 * a question without an id gets a new random one ("q" and 8 hex digits);
 * min and max are dropped from questions that are not NUMBER, choices from
 * those that are not choice questions. Returns true when the form is fine,
 * else false after reporting every problem. */
bool notes_forms_check_form(Crm__Form *form, notes_forms_report_fn report, void *ud);

/* Checks answers (in[0..n), any order) against form's questions and appends
 * the normalised answers to out->answers (out a dynamic message), in the order
 * of the questions, each with its question's text and type; empty answers
 * are left out. Problems name "answers[i].questionId" (no such question, or
 * answered twice) or "answers.<questionId>" (required and missing, not a
 * number, out of range, not one of the choices, too long, ...), the
 * description quoting the question's text. Returns true when all is fine;
 * else false (out may hold some answers: the caller frees it). */
bool notes_forms_check_answers(const Crm__Form *form, Crm__FormAnswer *const *in, size_t n,
                               Crm__FormFilling *out, notes_forms_report_fn report, void *ud);

/* The questions whose answers differ between the card before (NULL: none)
 * and after: writes up to max question texts (borrowed from after or
 * before) into out, in after's order then before's. Returns how many. */
size_t notes_forms_changed(const Crm__FormFilling *before, const Crm__FormFilling *after,
                           const char **out, size_t max);

/* A survey's results over fillings[0..n) (newest first) for the questions of
 * form's current version: a new dynamic message (the caller frees it) with a
 * copy of form. Answers whose type differs from the question's now are not
 * counted. */
Crm__SurveyResults *notes_forms_results(const Crm__Form *form, Crm__FormFilling *const *fillings,
                                        size_t n);

/* The name of a purpose as stored ("CARD", "SURVEY"), or NULL. */
const char *notes_forms_purpose_name(Crm__FormPurpose p);

#endif
