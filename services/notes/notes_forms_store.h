/* Every SQL statement of the forms (the customer card and surveys): forms
 * and their versions, fillings, and erasing a customer's. Tables in
 * sql/020_forms.sql. Each returns CM_OK or the database's error (cm_db_exec). */
#ifndef NOTES_FORMS_STORE_H
#define NOTES_FORMS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "notes_store.h"
#include "forms.pb-c.h"

/* Forms of the tenant not deleted, into *n. */
cm_err_t notes_forms_store_count(cm_db_t *db, const char *tenant, int *n) CM_MUSTCHECK;

/* A form's version as written: questions_json is {"questions": [...]}. */
struct notes_form_row {
    const char *id;
    const char *purpose; // "CARD", "SURVEY"
    int version;
    const char *title;
    const char *questions_json;
    const char *by_id;
    const char *by_name;
};

/* Inserts a new form with its version 1. CM_ERR_CONFLICT: the tenant has a
 * card form already (the one-card index). */
cm_err_t notes_forms_store_insert(cm_db_t *db, const char *tenant,
                                  const struct notes_form_row *row) CM_MUSTCHECK;

/* Adds version row->version of form row->id and makes it the current one. */
cm_err_t notes_forms_store_add_version(cm_db_t *db, const char *tenant,
                                       const struct notes_form_row *row) CM_MUSTCHECK;

/* Marks a form deleted (its versions stay for the fillings that name them). */
cm_err_t notes_forms_store_delete(cm_db_t *db, const char *tenant, const char *id) CM_MUSTCHECK;

/* Loads form id at version (0: the current one) into *out (dynamic message,
 * caller frees; NULL when there is none). live: only a form not deleted.
 * for_update locks the form's row. */
cm_err_t notes_forms_store_get(cm_db_t *db, const char *tenant, const char *id, int version,
                               bool live, bool for_update, Crm__Form **out) CM_MUSTCHECK;

/* The tenant's card form (current version) into *out, NULL when it has none. */
cm_err_t notes_forms_store_card_form(cm_db_t *db, const char *tenant, Crm__Form **out) CM_MUSTCHECK;

/* The forms not deleted (purpose NULL: both), the card first, then by title. */
cm_err_t notes_forms_store_list(cm_db_t *db, const char *tenant, const char *purpose,
                                Crm__ListFormsResponse *r) CM_MUSTCHECK;

/* A filling as written: answers_json is {"answers": [...]}. */
struct notes_filling_row {
    const char *id;
    const char *customer_id;
    const char *form_id;
    int form_version;
    const char *purpose;
    const char *answers_json;
    const char *by_id;
    const char *by_name;
    bool by_customer;
};
cm_err_t notes_forms_store_filling_insert(cm_db_t *db, const char *tenant,
                                          const struct notes_filling_row *row) CM_MUSTCHECK;

/* Serialises writes of one customer's card until the transaction ends. */
cm_err_t notes_forms_store_lock_card(cm_db_t *db, const char *tenant,
                                     const char *customer_id) CM_MUSTCHECK;

/* One filling of the customer's (NULL when none) into *out. */
cm_err_t notes_forms_store_filling_get(cm_db_t *db, const char *tenant, const char *customer_id,
                                       const char *id, Crm__FormFilling **out) CM_MUSTCHECK;

/* The customer's newest filling of form_id (their current card), or NULL. */
cm_err_t notes_forms_store_latest(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *form_id, Crm__FormFilling **out) CM_MUSTCHECK;

/* A page of the customer's fillings of purpose ("CARD", "SURVEY"), of form_id
 * only when it is not NULL, newest first, appended to r; the next position in
 * *next (next->set false on the last page; next->id malloc'd). */
cm_err_t notes_forms_store_fillings(cm_db_t *db, const char *tenant, const char *customer_id,
                                    const char *purpose, const char *form_id,
                                    const struct notes_page *after, int limit,
                                    Crm__ListFillingsResponse *r,
                                    struct notes_page *next) CM_MUSTCHECK;

/* The answers of the newest limit fillings of a form, every customer's,
 * appended to r newest first: each filling with its id and answers only
 * (what a survey's results count). */
cm_err_t notes_forms_store_form_answers(cm_db_t *db, const char *tenant, const char *form_id,
                                        int limit, Crm__ListFillingsResponse *r) CM_MUSTCHECK;

/* Erases a deleted customer's card and surveys. */
cm_err_t notes_forms_store_erase_customer(cm_db_t *db, const char *tenant,
                                          const char *customer_id) CM_MUSTCHECK;

#endif
