/* The forms: the business defines forms (settings), used as the customer
 * card (one per business; each change of a customer's card is a new filling,
 * the newest is the card) or as surveys (filled any number of times). Answers
 * are checked against the form's current version (notes_forms.c); a filling
 * keeps the version it answered and each answer's question text. Writes put
 * a row on the customer's timeline. */
#include "notes_forms_handlers.h"
#include "notes_forms.h"
#include "notes_forms_store.h"
#include "notes_handlers.h"
#include "notes_history_store.h"
#include "notes_validate.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_perm.h"
#include "cm_util.h"
#include "customers.pb-c.h"
#include "forms.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TENANT(call) ((call)->hdr->tenant_id)

static const char *s_caller_id(const struct cm_call *call)
{
    return call->hdr->principal ? call->hdr->principal->id : "";
}

static const char *s_caller_name(const struct cm_call *call)
{
    return call->hdr->principal ? call->hdr->principal->name : "";
}

/* notes_forms_report_fn: a field violation of the call. */
static void s_violation(void *ud, const char *field, const char *reason, const char *description)
{
    cm_call_violation(ud, field, reason, "%s", description);
}

/* True when the customer exists in the caller's tenant (else the call failed). */
static bool s_customer(struct cm_call *call, const char *customer_id)
{
    char *name = notes_customer(call, customer_id);
    free(name);
    return name != NULL;
}

/* The {"<field>": [...]} object the store keeps a repeated field of msg in. */
static char *s_json_of(const ProtobufCMessage *msg, const char *field)
{
    const ProtobufCFieldDescriptor *f = cm_pbjson_find_field(msg->descriptor, field);
    json_t *o = json_object();
    json_object_set_new(o, field, cm_pbjson_encode_field(msg, f));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static Crm__Form *s_load_form(struct cm_call *call, const char *id, int version, bool for_update)
{
    Crm__Form *f = NULL;
    if (cm_uuid_valid(id)) {
        cm_err_t err = notes_forms_store_get(call->db, TENANT(call), id, version, version == 0,
                                             for_update, &f);
        if (err) {
            cm_call_db_fail(call, err, "could not read form");
            return NULL;
        }
    }
    if (!f && version)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no version %d of form %s", version, id);
    else if (!f)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no form %s", id);
    return f;
}

/* Puts a row on the customer's timeline: card.updated or survey.filled. */
static bool s_timeline(struct cm_call *call, const char *type, const Crm__FormFilling *filling,
                       const char *title, const char **questions, size_t n_questions)
{
    json_t *qs = json_array();
    for (size_t i = 0; i < n_questions; i++)
        json_array_append_new(qs, json_string(questions[i]));
    json_t *details = json_pack("{s:{s:s, s:s, s:s, s:o, s:b}}", "form", "formId", filling->form_id,
                                "title", title, "fillingId", filling->id, "questions", qs,
                                "byCustomer", filling->by_customer);
    char *text = json_dumps(details, JSON_COMPACT);
    json_decref(details);
    struct notes_timeline_row row = {.customer_id = filling->customer_id,
                                     .at_ms = cm_now_ms(),
                                     .kind = "FORM",
                                     .type = type,
                                     .source = "",
                                     .actor = s_caller_name(call),
                                     .event_id = filling->id,
                                     .details = text};
    cm_err_t err = notes_history_store_timeline_add(call->db, TENANT(call), &row);
    free(text);
    if (err)
        cm_call_db_fail(call, err, "could not add to the timeline");
    return !err;
}

/* ---------------------------------------------------------------------- */
/* Forms (settings)                                                        */

static void s_list_forms(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__ListFormsRequest *req = (const Crm__ListFormsRequest *)msg;
    Crm__ListFormsResponse *r =
        (Crm__ListFormsResponse *)cm_pb_new(&crm__list_forms_response__descriptor);
    cm_err_t err =
        notes_forms_store_list(call->db, TENANT(call), notes_forms_purpose_name(req->purpose), r);
    if (err) {
        cm_call_db_fail(call, err, "could not list forms");
        crm__list_forms_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

static void s_get_form(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetFormRequest *req = (const Crm__GetFormRequest *)msg;
    if (req->version < 0) {
        cm_call_violation(call, "version", "OUT_OF_RANGE", "version is 1 or more (0: the current)");
        return;
    }
    Crm__Form *f = s_load_form(call, req->id, req->version, false);
    if (f)
        *resp = &f->base;
}

static void s_create_form(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__CreateFormRequest *req = (const Crm__CreateFormRequest *)msg;
    Crm__Form *form = NULL;
    char *json = NULL;
    const char *purpose = req->form ? notes_forms_purpose_name(req->form->purpose) : NULL;
    if (!purpose) {
        cm_call_violation(call, "form.purpose", "REQUIRED", "a form is a CARD or a SURVEY");
        goto out;
    }
    form = (Crm__Form *)cm_pb_clone(&req->form->base);
    for (size_t i = 0; i < form->n_questions; i++)
        cm_pb_set_str(&form->questions[i]->id, ""); // a new form's questions are new
    if (!notes_forms_check_form(form, s_violation, call))
        goto out;
    int n = 0;
    cm_err_t err = notes_forms_store_count(call->db, TENANT(call), &n);
    if (err) {
        cm_call_db_fail(call, err, "could not count forms");
        goto out;
    }
    if (n >= NOTES_FORMS_MAX) {
        cm_call_fail(call, CM_ERR_TOO_LARGE,
                     "the business has %d forms, the most it can have; delete one first", n);
        goto out;
    }
    if (form->purpose == CRM__FORM_PURPOSE__FORM_PURPOSE_CARD) {
        Crm__Form *card = NULL;
        err = notes_forms_store_card_form(call->db, TENANT(call), &card);
        if (err) {
            cm_call_db_fail(call, err, "could not read the card form");
            goto out;
        }
        if (card) {
            cm_call_duplicate(call, "form.purpose", card->id,
                              "the business has a card form already (%s); change that one",
                              card->id);
            crm__form__free_unpacked(card, NULL);
            goto out;
        }
    }
    char id[NOTES_ID_SIZE];
    cm_uuid(id);
    json = s_json_of(&form->base, "questions");
    struct notes_form_row row = {.id = id,
                                 .purpose = purpose,
                                 .version = 1,
                                 .title = form->title,
                                 .questions_json = json,
                                 .by_id = s_caller_id(call),
                                 .by_name = s_caller_name(call)};
    err = notes_forms_store_insert(call->db, TENANT(call), &row);
    if (err == CM_ERR_CONFLICT) { // another request made the card form meanwhile
        cm_call_fail(call, CM_ERR_CONFLICT, "the business has a card form already");
        goto out;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not insert form");
        goto out;
    }
    Crm__Form *f = s_load_form(call, id, 0, false);
    if (f) {
        cm_log_info("created form %s (%s, %zu questions)", id, purpose, f->n_questions);
        *resp = &f->base;
    }
out:
    free(json);
    if (form)
        crm__form__free_unpacked(form, NULL);
}

static bool s_path_is(const char *path, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(path, name, n) && (path[n] == '\0' || path[n] == '.' || path[n] == '[');
}

static void s_update_form(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__UpdateFormRequest *req = (const Crm__UpdateFormRequest *)msg;
    Crm__Form *old = NULL, *form = NULL;
    char *json = NULL, *old_json = NULL;
    old = s_load_form(call, req->id, 0, true);
    if (!old)
        goto out;
    if (req->etag[0] && strcmp(req->etag, old->etag)) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "form %s changed since it was read (etag %s, now %s)", old->id, req->etag,
                     old->etag);
        goto out;
    }
    const Crm__Form empty = CRM__FORM__INIT;
    const Crm__Form *in = req->form ? req->form : &empty;
    bool title = req->n_update_mask == 0, questions = req->n_update_mask == 0;
    /* A form read and sent back whole is fine: its output-only fields and an
     * unchanged purpose are left alone. */
    static const char *const output_only[] = {"id",        "purpose",   "version", "updatedBy",
                                              "createdAt", "updatedAt", "etag",    NULL};
    for (size_t i = 0; i < req->n_update_mask; i++) {
        const char *p = req->update_mask[i];
        bool known = false;
        for (size_t k = 0; output_only[k]; k++)
            known = known || s_path_is(p, output_only[k]);
        if (s_path_is(p, "title"))
            title = true;
        else if (s_path_is(p, "questions"))
            questions = true;
        else if (!known)
            cm_call_violation(call, p, "UNKNOWN_FIELD",
                              "%s is not a field of a form that can be changed (title, questions)",
                              p);
    }
    if (in->purpose && in->purpose != old->purpose)
        cm_call_violation(call, "form.purpose", "IMMUTABLE",
                          "a form's purpose is set when it is made; make a new form instead");
    if (cm_call_failed(call))
        goto out;
    form = (Crm__Form *)cm_pb_clone(&old->base);
    if (title)
        cm_pb_set_str(&form->title, in->title);
    if (questions) {
        for (size_t i = 0; i < form->n_questions; i++)
            crm__question__free_unpacked(form->questions[i], NULL);
        free(form->questions);
        form->questions = NULL;
        form->n_questions = 0;
        if (in->n_questions) {
            Crm__Form *copy = (Crm__Form *)cm_pb_clone(&in->base);
            form->questions = copy->questions;
            form->n_questions = copy->n_questions;
            copy->questions = NULL;
            copy->n_questions = 0;
            crm__form__free_unpacked(copy, NULL);
        }
    }
    if (!notes_forms_check_form(form, s_violation, call))
        goto out;
    json = s_json_of(&form->base, "questions");
    old_json = s_json_of(&old->base, "questions");
    if (!strcmp(json, old_json) && !strcmp(form->title, old->title)) {
        *resp = &old->base; // nothing changed: no new version
        old = NULL;
        goto out;
    }
    struct notes_form_row row = {.id = old->id,
                                 .version = old->version + 1,
                                 .title = form->title,
                                 .questions_json = json,
                                 .by_id = s_caller_id(call),
                                 .by_name = s_caller_name(call)};
    cm_err_t err = notes_forms_store_add_version(call->db, TENANT(call), &row);
    if (err) {
        cm_call_db_fail(call, err, "could not update form");
        goto out;
    }
    Crm__Form *f = s_load_form(call, old->id, 0, false);
    if (f) {
        cm_log_info("form %s is at version %d", f->id, f->version);
        *resp = &f->base;
    }
out:
    free(json);
    free(old_json);
    if (old)
        crm__form__free_unpacked(old, NULL);
    if (form)
        crm__form__free_unpacked(form, NULL);
}

static void s_delete_form(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__DeleteFormRequest *req = (const Crm__DeleteFormRequest *)msg;
    Crm__Form *old = s_load_form(call, req->id, 0, true);
    if (!old)
        return;
    cm_err_t err = notes_forms_store_delete(call->db, TENANT(call), old->id);
    if (err) {
        cm_call_db_fail(call, err, "could not delete form");
    } else {
        cm_log_info("deleted form %s", old->id);
        *resp = cm_pb_new(&crm__empty__descriptor);
    }
    crm__form__free_unpacked(old, NULL);
}

/* ---------------------------------------------------------------------- */
/* The customer card                                                       */

/* The card of a customer known to exist: the card form and their newest
 * filling of it. NULL with the call failed on a database error. */
static Crm__CustomerCard *s_card(struct cm_call *call, const char *customer_id)
{
    Crm__CustomerCard *card = (Crm__CustomerCard *)cm_pb_new(&crm__customer_card__descriptor);
    cm_pb_set_str(&card->customer_id, customer_id);
    cm_err_t err = notes_forms_store_card_form(call->db, TENANT(call), &card->form);
    if (!err && card->form)
        err = notes_forms_store_latest(call->db, TENANT(call), customer_id, card->form->id,
                                       &card->filling);
    if (err) {
        cm_call_db_fail(call, err, "could not read the card");
        crm__customer_card__free_unpacked(card, NULL);
        return NULL;
    }
    cm_pb_set_str(&card->etag, card->filling ? card->filling->id : "new");
    return card;
}

static void s_get_card(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetCardRequest *req = (const Crm__GetCardRequest *)msg;
    if (!s_customer(call, req->customer_id))
        return;
    Crm__CustomerCard *card = s_card(call, req->customer_id);
    if (card)
        *resp = &card->base;
}

/* Checks answers against form and fills a new filling of it (dynamic; the
 * caller frees it), or NULL with the call failed. */
static Crm__FormFilling *s_filling(struct cm_call *call, const Crm__Form *form,
                                   const char *customer_id, Crm__FormAnswer *const *answers,
                                   size_t n, bool by_customer)
{
    Crm__FormFilling *f = (Crm__FormFilling *)cm_pb_new(&crm__form_filling__descriptor);
    if (!notes_forms_check_answers(form, answers, n, f, s_violation, call)) {
        crm__form_filling__free_unpacked(f, NULL);
        return NULL;
    }
    char id[NOTES_ID_SIZE];
    cm_uuid(id);
    cm_pb_set_str(&f->id, id);
    cm_pb_set_str(&f->customer_id, customer_id);
    cm_pb_set_str(&f->form_id, form->id);
    cm_pb_set_str(&f->form_title, form->title);
    f->form_version = form->version;
    f->purpose = form->purpose;
    f->by_customer = by_customer;
    return f;
}

/* Stores a filling checked by s_filling. */
static bool s_store_filling(struct cm_call *call, const Crm__FormFilling *f)
{
    char *json = s_json_of(&f->base, "answers");
    struct notes_filling_row row = {.id = f->id,
                                    .customer_id = f->customer_id,
                                    .form_id = f->form_id,
                                    .form_version = f->form_version,
                                    .purpose = notes_forms_purpose_name(f->purpose),
                                    .answers_json = json,
                                    .by_id = s_caller_id(call),
                                    .by_name = s_caller_name(call),
                                    .by_customer = f->by_customer};
    cm_err_t err = notes_forms_store_filling_insert(call->db, TENANT(call), &row);
    free(json);
    if (err)
        cm_call_db_fail(call, err, "could not store the answers");
    return !err;
}

static void s_update_card(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__UpdateCardRequest *req = (const Crm__UpdateCardRequest *)msg;
    Crm__CustomerCard *card = NULL;
    Crm__FormFilling *f = NULL;
    if (!cm_perm_private(call->hdr->principal)) {
        cm_call_fail(call, CM_ERR_PERMISSION,
                     "this key may not write the customer card: it holds private content "
                     "(private:read)");
        goto out;
    }
    if (!s_customer(call, req->customer_id))
        goto out;
    cm_err_t err = notes_forms_store_lock_card(call->db, TENANT(call), req->customer_id);
    if (err) {
        cm_call_db_fail(call, err, "could not lock the card");
        goto out;
    }
    card = s_card(call, req->customer_id);
    if (!card)
        goto out;
    if (!card->form) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "the business has no card form; make one in Settings first");
        goto out;
    }
    if (req->etag[0] && strcmp(req->etag, card->etag)) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "the card of customer %s changed since it was read (etag %s, now %s)",
                     req->customer_id, req->etag, card->etag);
        goto out;
    }
    f = s_filling(call, card->form, req->customer_id, req->answers, req->n_answers, false);
    if (!f)
        goto out;
    const char *changed[NOTES_QUESTIONS_MAX * 2];
    size_t n_changed = notes_forms_changed(card->filling, f, changed, NOTES_QUESTIONS_MAX * 2);
    if (card->filling && n_changed == 0 && card->filling->form_version == f->form_version) {
        *resp = &card->base; // nothing changed: no new version
        card = NULL;
        goto out;
    }
    if (!s_store_filling(call, f) ||
        !s_timeline(call, "card.updated", f, card->form->title, changed, n_changed))
        goto out;
    cm_log_info("card of customer %s updated (%zu answers changed)", req->customer_id, n_changed);
    crm__customer_card__free_unpacked(card, NULL);
    card = s_card(call, req->customer_id);
    if (card) {
        *resp = &card->base;
        card = NULL;
    }
out:
    if (f)
        crm__form_filling__free_unpacked(f, NULL);
    if (card)
        crm__customer_card__free_unpacked(card, NULL);
}

/* ---------------------------------------------------------------------- */
/* Fillings and surveys                                                    */

static void s_fill_survey(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__FillSurveyRequest *req = (const Crm__FillSurveyRequest *)msg;
    Crm__Form *form = NULL;
    Crm__FormFilling *f = NULL;
    if (!s_customer(call, req->customer_id))
        goto out;
    if (!cm_uuid_valid(req->form_id)) {
        cm_call_violation(call, "formId", req->form_id[0] ? "NOT_FOUND" : "REQUIRED",
                          "formId names the survey to fill");
        goto out;
    }
    form = s_load_form(call, req->form_id, 0, false);
    if (!form)
        goto out;
    if (form->purpose != CRM__FORM_PURPOSE__FORM_PURPOSE_SURVEY) {
        cm_call_violation(call, "formId", "NOT_A_SURVEY",
                          "form %s is the customer card: fill it with the card", form->id);
        goto out;
    }
    f = s_filling(call, form, req->customer_id, req->answers, req->n_answers, req->by_customer);
    if (!f || !s_store_filling(call, f) ||
        !s_timeline(call, "survey.filled", f, form->title, NULL, 0))
        goto out;
    Crm__FormFilling *stored = NULL;
    cm_err_t err =
        notes_forms_store_filling_get(call->db, TENANT(call), req->customer_id, f->id, &stored);
    if (err || !stored) {
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not read the filling back");
        goto out;
    }
    cm_log_info("survey %s filled for customer %s", form->id, req->customer_id);
    *resp = &stored->base;
out:
    if (form)
        crm__form__free_unpacked(form, NULL);
    if (f)
        crm__form_filling__free_unpacked(f, NULL);
}

static void s_get_filling(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__GetFillingRequest *req = (const Crm__GetFillingRequest *)msg;
    Crm__FormFilling *f = NULL;
    if (cm_uuid_valid(req->customer_id) && cm_uuid_valid(req->id)) {
        cm_err_t err =
            notes_forms_store_filling_get(call->db, TENANT(call), req->customer_id, req->id, &f);
        if (err) {
            cm_call_db_fail(call, err, "could not read the filling");
            return;
        }
    }
    /* A card's version is private content: not there for a caller without private:read. */
    if (f && f->purpose == CRM__FORM_PURPOSE__FORM_PURPOSE_CARD &&
        !cm_perm_private(call->hdr->principal)) {
        crm__form_filling__free_unpacked(f, NULL);
        f = NULL;
    }
    if (!f)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no filling %s of customer %s", req->id,
                     req->customer_id);
    else
        *resp = &f->base;
}

/* A page of the customer's fillings of purpose. */
static void s_list_fillings(struct cm_call *call, const Crm__ListFillingsRequest *req,
                            const char *purpose, ProtobufCMessage **resp)
{
    if (req->page_size < 0 || req->page_size > NOTES_PAGE_MAX) {
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize must be 0..%d (0 means %d)",
                          NOTES_PAGE_MAX, NOTES_PAGE_DEFAULT);
        return;
    }
    if (req->form_id[0] && !cm_uuid_valid(req->form_id)) {
        cm_call_violation(call, "formId", "INVALID_FORMAT", "formId is a form's id");
        return;
    }
    struct notes_page after = {0};
    char after_id[NOTES_ID_SIZE];
    if (req->page_token[0]) {
        if (notes_token_parse(req->page_token, &after.flag, &after.key, after_id)) {
            cm_call_violation(call, "pageToken", "INVALID_FORMAT",
                              "pageToken is not one this list gave out; start again without it");
            return;
        }
        after.set = true;
        after.id = after_id;
    }
    if (!s_customer(call, req->customer_id))
        return;
    Crm__ListFillingsResponse *r =
        (Crm__ListFillingsResponse *)cm_pb_new(&crm__list_fillings_response__descriptor);
    struct notes_page next;
    int limit = req->page_size ? req->page_size : NOTES_PAGE_DEFAULT;
    cm_err_t err =
        notes_forms_store_fillings(call->db, TENANT(call), req->customer_id, purpose,
                                   req->form_id[0] ? req->form_id : NULL, &after, limit, r, &next);
    if (err) {
        cm_call_db_fail(call, err, "could not list fillings");
        crm__list_fillings_response__free_unpacked(r, NULL);
        return;
    }
    if (next.set) {
        char buf[96];
        cm_pb_set_str(&r->next_page_token, notes_token_make(0, next.key, next.id, buf, sizeof buf));
        free((char *)next.id);
    }
    *resp = &r->base;
}

static void s_list_card_history(struct cm_call *call, const ProtobufCMessage *msg,
                                ProtobufCMessage **resp)
{
    s_list_fillings(call, (const Crm__ListFillingsRequest *)msg, "CARD", resp);
}

static void s_list_survey_fillings(struct cm_call *call, const ProtobufCMessage *msg,
                                   ProtobufCMessage **resp)
{
    s_list_fillings(call, (const Crm__ListFillingsRequest *)msg, "SURVEY", resp);
}

static void s_survey_results(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__GetSurveyResultsRequest *req = (const Crm__GetSurveyResultsRequest *)msg;
    Crm__Form *form = s_load_form(call, req->id, 0, false);
    if (!form)
        return;
    Crm__ListFillingsResponse *r =
        (Crm__ListFillingsResponse *)cm_pb_new(&crm__list_fillings_response__descriptor);
    if (form->purpose != CRM__FORM_PURPOSE__FORM_PURPOSE_SURVEY) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "form %s is the customer card; results are a survey's", form->id);
    } else {
        cm_err_t err = notes_forms_store_form_answers(call->db, TENANT(call), form->id,
                                                      NOTES_RESULTS_FILLINGS_MAX, r);
        if (err)
            cm_call_db_fail(call, err, "could not read the fillings");
        else
            *resp = &notes_forms_results(form, r->fillings, r->n_fillings)->base;
    }
    crm__list_fillings_response__free_unpacked(r, NULL);
    crm__form__free_unpacked(form, NULL);
}

#define M(name, req, resp, fn, flags, scope) CM_METHOD("notes", name, req, resp, fn, flags, scope)

/* Forms are settings; the card and surveys are the customer's data. The card
 * holds what a salon or a clinic notes about a body (allergies, a medical
 * history): reading it needs private:read, as a note's body does, and so does
 * writing it (UpdateCard checks that itself, its scope being customers:write).
 * Surveys are feedback and stay customers:read (docs/forms.md, "Who may"). */
const struct cm_method notes_forms_methods[] = {
    M("ListForms", list_forms_request, list_forms_response, s_list_forms, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("GetForm", get_form_request, form, s_get_form, CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("CreateForm", create_form_request, form, s_create_form, CM_METHOD_WRITE, SETTINGS),
    M("UpdateForm", update_form_request, form, s_update_form, CM_METHOD_WRITE, SETTINGS),
    M("DeleteForm", delete_form_request, empty, s_delete_form, CM_METHOD_WRITE, SETTINGS),
    M("GetCard", get_card_request, customer_card, s_get_card, CM_METHOD_NO_TXN, PRIVATE_READ),
    M("UpdateCard", update_card_request, customer_card, s_update_card, CM_METHOD_WRITE,
      CUSTOMERS_WRITE),
    M("ListCardHistory", list_fillings_request, list_fillings_response, s_list_card_history,
      CM_METHOD_NO_TXN, PRIVATE_READ),
    M("FillSurvey", fill_survey_request, form_filling, s_fill_survey, CM_METHOD_WRITE,
      CUSTOMERS_WRITE),
    M("GetFilling", get_filling_request, form_filling, s_get_filling, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("ListSurveyFillings", list_fillings_request, list_fillings_response, s_list_survey_fillings,
      CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("GetSurveyResults", get_survey_results_request, survey_results, s_survey_results,
      CM_METHOD_NO_TXN, CUSTOMERS_READ),
};
const size_t notes_forms_n_methods = sizeof notes_forms_methods / sizeof *notes_forms_methods;
