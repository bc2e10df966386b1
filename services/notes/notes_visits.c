/* Visits on the customer card: the customer's bookings, the parameters staff
 * attach to one (with a version for If-Match and a timeline entry for each
 * change), and the tenant's presets of parameter names (notes_visits.h). */
#include "notes_visits.h"
#include "notes_handlers.h"
#include "notes_history_store.h"
#include "notes_validate.h"
#include "notes_visits_store.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "visits.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#define TENANT(call) ((call)->hdr->tenant_id)
#define LIST_DEFAULT 50
#define LIST_MAX 200

const char *notes_caller_name(const struct cm_call *call)
{
    return call->hdr->principal ? call->hdr->principal->name : "";
}

/* A text checked and normalised (notes_validate_text) into *out (malloc'd,
 * the caller frees it; what *out held before is freed); a violation on
 * field otherwise. */
static bool s_text(struct cm_call *call, const char *field, const char *value, size_t max,
                   unsigned flags, char **out)
{
    struct notes_problem p;
    char *t = notes_validate_text(value, max, flags, field, &p);
    if (!t) {
        cm_call_violation(call, field, p.reason, "%s", p.description);
        return false;
    }
    free(*out);
    *out = t;
    return true;
}

/* ---------------------------------------------------------------------- */
/* The visits list                                                         */

bool notes_list_begin(struct cm_call *call, const char *customer_id, int32_t page_size, int *limit)
{
    if (!cm_uuid_valid(customer_id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", customer_id);
        return false;
    }
    if (page_size < 0 || page_size > LIST_MAX) {
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize must be 0..%d (0 means %d)",
                          LIST_MAX, LIST_DEFAULT);
        return false;
    }
    *limit = page_size ? page_size : LIST_DEFAULT;
    return true;
}

bool notes_list_end(struct cm_call *call, cm_err_t err, const char *what, size_t n,
                    const char *customer_id, const char *page_token)
{
    if (err == CM_ERR_INVALID) {
        cm_call_violation(call, "pageToken", "INVALID_FORMAT",
                          "pageToken is not one this list gave out; start again without it");
    } else if (err) {
        cm_call_db_fail(call, err, what);
    } else if (!n && !page_token[0]) {
        /* Nothing: a customer without any, or no such customer. */
        char *name = notes_customer(call, customer_id);
        free(name);
    }
    return !cm_call_failed(call);
}

static void s_list_visits(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__ListVisitsRequest *req = (const Crm__ListVisitsRequest *)msg;
    int limit = 0;
    if (!notes_list_begin(call, req->customer_id, req->page_size, &limit))
        return;
    Crm__ListVisitsResponse *r =
        (Crm__ListVisitsResponse *)cm_pb_new(&crm__list_visits_response__descriptor);
    cm_err_t err = notes_visits_store_list(call->db, TENANT(call), req->customer_id, limit,
                                           req->page_token, r);
    if (!notes_list_end(call, err, "could not list visits", r->n_visits, req->customer_id,
                        req->page_token)) {
        crm__list_visits_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Parameters of a visit                                                   */

/* The booking of the request, locked when lock; NULL-params visit with the
 * call failed: 404 for no such booking of the customer (one never taken in),
 * 400 on source when two systems sent that booking id. */
static bool s_visit(struct cm_call *call, const char *customer_id, const char *booking_id,
                    const char *source, bool lock, struct notes_visit *v)
{
    if (!cm_uuid_valid(customer_id) || !booking_id[0]) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no visit %s of customer %s", booking_id, customer_id);
        return false;
    }
    cm_err_t err =
        notes_visits_store_get(call->db, TENANT(call), customer_id, booking_id, source, lock, v);
    if (err == CM_ERR_NOT_FOUND) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no visit %s of customer %s", booking_id, customer_id);
        return false;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not read the visit");
        return false;
    }
    if (v->matches > 1) {
        cm_call_violation(call, "source", "REQUIRED",
                          "visit %s came from more than one system: name its source", booking_id);
        notes_visit_release(v);
        return false;
    }
    return true;
}

static void s_get_parameters(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__GetVisitParametersRequest *req = (const Crm__GetVisitParametersRequest *)msg;
    struct notes_visit v = {0};
    if (!s_visit(call, req->customer_id, req->booking_id, req->source, false, &v))
        return;
    *resp = &v.params->base;
    v.params = NULL;
    notes_visit_release(&v);
}

/* The request's parameters checked and normalised, as a JSON array of
 * {name, value}; NULL with the violations added. */
static json_t *s_parameters(struct cm_call *call, const Crm__PutVisitParametersRequest *req)
{
    if (req->n_parameters > NOTES_VISIT_PARAMETERS_MAX) {
        cm_call_violation(call, "parameters", "TOO_MANY", "a visit has at most %d parameters",
                          NOTES_VISIT_PARAMETERS_MAX);
        return NULL;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < req->n_parameters; i++) {
        char field[48];
        char *name = NULL, *value = NULL;
        snprintf(field, sizeof field, "parameters[%zu].name", i);
        bool ok = s_text(call, field, req->parameters[i]->name, NOTES_VISIT_NAME_MAX,
                         NOTES_TEXT_REQUIRED, &name);
        for (size_t j = 0; ok && j < json_array_size(arr); j++)
            if (!strcmp(json_string_value(json_object_get(json_array_get(arr, j), "name")), name)) {
                cm_call_violation(call, field, "DUPLICATE", "%s: parameter %s is given twice",
                                  field, name);
                ok = false;
            }
        snprintf(field, sizeof field, "parameters[%zu].value", i);
        ok = s_text(call, field, req->parameters[i]->value, NOTES_VISIT_VALUE_MAX, 0, &value) && ok;
        if (ok)
            json_array_append_new(arr, json_pack("{s:s, s:s}", "name", name, "value", value));
        free(name);
        free(value);
    }
    if (cm_call_failed(call)) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* The value of parameter name in ps, or NULL. */
static const char *s_value_of(Crm__VisitParameter **ps, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ps[i]->name, name))
            return ps[i]->value;
    return NULL;
}

/* A value as the timeline's FieldChange keeps it: compact JSON. */
static json_t *s_json_value(const char *value)
{
    json_t *v = json_string(value);
    char *t = json_dumps(v, JSON_ENCODE_ANY);
    json_t *out = json_string(t);
    free(t);
    json_decref(v);
    return out;
}

/* One change of field; NULL old_value or new_value: absent. */
static void s_change(json_t *changes, const char *field, const char *old_value,
                     const char *new_value)
{
    json_t *c = json_pack("{s:s}", "field", field);
    if (old_value)
        json_object_set_new(c, "oldValue", s_json_value(old_value));
    if (new_value)
        json_object_set_new(c, "newValue", s_json_value(new_value));
    json_array_append_new(changes, c);
}

/* What changed from old to the new list and remark: parameters added,
 * changed and removed by name, and the remark. */
static json_t *s_changes(const Crm__VisitParameters *old, const Crm__VisitParameters *neu)
{
    json_t *changes = json_array();
    for (size_t i = 0; i < neu->n_parameters; i++) {
        const char *was = s_value_of(old->parameters, old->n_parameters, neu->parameters[i]->name);
        if (!was || strcmp(was, neu->parameters[i]->value))
            s_change(changes, neu->parameters[i]->name, was, neu->parameters[i]->value);
    }
    for (size_t i = 0; i < old->n_parameters; i++)
        if (!s_value_of(neu->parameters, neu->n_parameters, old->parameters[i]->name))
            s_change(changes, old->parameters[i]->name, old->parameters[i]->value, NULL);
    if (strcmp(old->remark, neu->remark))
        s_change(changes, "remark", old->remark[0] ? old->remark : NULL,
                 neu->remark[0] ? neu->remark : NULL);
    return changes;
}

static bool s_timeline(struct cm_call *call, const struct notes_visit *v, json_t *changes)
{
    json_t *d = json_pack("{s:{s:s, s:s, s:s, s:s, s:O}}", "visit", "bookingId",
                          v->params->booking_id, "source", v->params->source, "service", v->service,
                          "startsAt", v->starts_at, "changes", changes);
    char *details = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    struct notes_timeline_row row = {.customer_id = v->params->customer_id,
                                     .at_ms = cm_now_ms(),
                                     .kind = "VISIT_PARAMETERS",
                                     .type = "visit.parameters_changed",
                                     .source = call->hdr->channel,
                                     .actor = notes_caller_name(call),
                                     .event_id = "",
                                     .details = details};
    cm_err_t err = notes_history_store_timeline_add(call->db, TENANT(call), &row);
    free(details);
    if (err)
        cm_call_db_fail(call, err, "could not add to the timeline");
    return !err;
}

static void s_put_parameters(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__PutVisitParametersRequest *req = (const Crm__PutVisitParametersRequest *)msg;
    struct notes_visit v = {0};
    char *remark = NULL, *text = NULL;
    json_t *list = s_parameters(call, req), *changes = NULL;
    Crm__VisitParameters *neu = NULL;
    (void)s_text(call, "remark", req->remark, NOTES_VISIT_REMARK_MAX, NOTES_TEXT_MULTILINE,
                 &remark);
    if (cm_call_failed(call) ||
        !s_visit(call, req->customer_id, req->booking_id, req->source, true, &v))
        goto out;
    if (req->etag[0] && strcmp(req->etag, v.params->etag)) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "the parameters of visit %s changed since they were read (etag %s, now %s)",
                     req->booking_id, req->etag, v.params->etag);
        goto out;
    }
    json_t *shown = json_pack("{s:O, s:s}", "parameters", list, "remark", remark);
    struct cm_pbjson_error perr = {0};
    neu = (Crm__VisitParameters *)cm_pbjson_decode(&crm__visit_parameters__descriptor, shown, NULL,
                                                   &perr);
    json_decref(shown);
    if (!neu) {
        cm_call_fail(call, CM_ERR_INTERNAL, "could not read the parameters back");
        goto out;
    }
    changes = s_changes(v.params, neu);
    if (json_array_size(changes) == 0) {
        *resp = &v.params->base; // nothing changed: no new version
        v.params = NULL;
        goto out;
    }
    text = json_dumps(list, JSON_COMPACT);
    cm_pb_set_str(&v.params->remark, remark);
    cm_err_t err =
        notes_visits_store_put(call->db, TENANT(call), v.params, text, notes_caller_name(call));
    if (err) {
        cm_call_db_fail(call, err, "could not save the parameters");
        goto out;
    }
    if (!s_timeline(call, &v, changes))
        goto out;
    cm_log_info("parameters of visit %s of customer %s changed (%zu changes)", req->booking_id,
                req->customer_id, json_array_size(changes));
    char source[64];
    snprintf(source, sizeof source, "%s", v.params->source);
    notes_visit_release(&v);
    if (s_visit(call, req->customer_id, req->booking_id, source, false, &v)) {
        *resp = &v.params->base;
        v.params = NULL;
    }
out:
    notes_visit_release(&v);
    if (neu)
        crm__visit_parameters__free_unpacked(neu, NULL);
    json_decref(list);
    json_decref(changes);
    free(remark);
    free(text);
}

/* ---------------------------------------------------------------------- */
/* Presets                                                                 */

static void s_list_presets(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    (void)msg;
    Crm__ListVisitPresetsResponse *r =
        (Crm__ListVisitPresetsResponse *)cm_pb_new(&crm__list_visit_presets_response__descriptor);
    cm_err_t err = notes_presets_store_list(call->db, TENANT(call), r);
    if (err) {
        cm_call_db_fail(call, err, "could not list presets");
        crm__list_visit_presets_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

static Crm__VisitPreset *s_load_preset(struct cm_call *call, const char *id, bool lock)
{
    Crm__VisitPreset *p = NULL;
    cm_err_t err = cm_uuid_valid(id) ? notes_presets_store_get(call->db, TENANT(call), id, lock, &p)
                                     : CM_ERR_NOT_FOUND;
    if (err == CM_ERR_NOT_FOUND)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no preset %s", id);
    else if (err)
        cm_call_db_fail(call, err, "could not read the preset");
    return p;
}

static void s_get_preset(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp)
{
    const Crm__GetVisitPresetRequest *req = (const Crm__GetVisitPresetRequest *)msg;
    Crm__VisitPreset *p = s_load_preset(call, req->id, false);
    if (p)
        *resp = &p->base;
}

/* Checks a preset's name and names and writes it (id "": a new one), then
 * answers it. */
static void s_save_preset(struct cm_call *call, const char *id, const Crm__VisitPreset *in,
                          ProtobufCMessage **resp)
{
    char *name = NULL;
    json_t *names = json_array();
    if (!in) {
        cm_call_violation(call, "preset", "REQUIRED", "preset is required");
        goto out;
    }
    (void)s_text(call, "preset.name", in->name, NOTES_VISIT_NAME_MAX, NOTES_TEXT_REQUIRED, &name);
    if (in->n_parameter_names == 0 || in->n_parameter_names > NOTES_VISIT_PARAMETERS_MAX)
        cm_call_violation(call, "preset.parameterNames",
                          in->n_parameter_names ? "TOO_MANY" : "REQUIRED",
                          "preset.parameterNames: 1..%d names", NOTES_VISIT_PARAMETERS_MAX);
    for (size_t i = 0; i < in->n_parameter_names && i < NOTES_VISIT_PARAMETERS_MAX; i++) {
        char field[48];
        char *n = NULL;
        snprintf(field, sizeof field, "preset.parameterNames[%zu]", i);
        if (!s_text(call, field, in->parameter_names[i], NOTES_VISIT_NAME_MAX, NOTES_TEXT_REQUIRED,
                    &n))
            continue;
        for (size_t j = 0; n && j < json_array_size(names); j++)
            if (!strcmp(json_string_value(json_array_get(names, j)), n)) {
                cm_call_violation(call, field, "DUPLICATE", "%s: %s is named twice", field, n);
                break;
            }
        json_array_append_new(names, json_string(n));
        free(n);
    }
    if (cm_call_failed(call))
        goto out;
    char new_id[NOTES_ID_SIZE];
    char *text = json_dumps(names, JSON_COMPACT);
    cm_err_t err = notes_presets_store_put(call->db, TENANT(call), id, name, text, new_id);
    free(text);
    if (err == CM_ERR_CONFLICT) {
        cm_call_duplicate(call, "preset.name", "", "a preset named %s exists", name);
        goto out;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not save the preset");
        goto out;
    }
    Crm__VisitPreset *p = s_load_preset(call, new_id, false);
    if (p)
        *resp = &p->base;
out:
    free(name);
    json_decref(names);
}

static void s_create_preset(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__CreateVisitPresetRequest *req = (const Crm__CreateVisitPresetRequest *)msg;
    int n = 0;
    cm_err_t err = notes_presets_store_count(call->db, TENANT(call), &n);
    if (err) {
        cm_call_db_fail(call, err, "could not count presets");
        return;
    }
    if (n >= NOTES_VISIT_PRESETS_MAX) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "a business has at most %d presets",
                     NOTES_VISIT_PRESETS_MAX);
        return;
    }
    s_save_preset(call, "", req->preset, resp);
}

static void s_update_preset(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__UpdateVisitPresetRequest *req = (const Crm__UpdateVisitPresetRequest *)msg;
    Crm__VisitPreset *old = s_load_preset(call, req->id, true);
    if (!old)
        return;
    if (req->etag[0] && strcmp(req->etag, old->etag))
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "preset %s changed since it was read (etag %s, now %s)", req->id, req->etag,
                     old->etag);
    else
        s_save_preset(call, req->id, req->preset, resp);
    crm__visit_preset__free_unpacked(old, NULL);
}

static void s_delete_preset(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__DeleteVisitPresetRequest *req = (const Crm__DeleteVisitPresetRequest *)msg;
    cm_err_t err = cm_uuid_valid(req->id)
                       ? notes_presets_store_delete(call->db, TENANT(call), req->id)
                       : CM_ERR_NOT_FOUND;
    if (err == CM_ERR_NOT_FOUND)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no preset %s", req->id);
    else if (err)
        cm_call_db_fail(call, err, "could not delete the preset");
    else
        *resp = cm_pb_new(&crm__empty__descriptor);
}

#define M(name, req, resp, fn, flags, scope) CM_METHOD("notes", name, req, resp, fn, flags, scope)

const struct cm_method notes_visits_methods[] = {
    M("ListVisits", list_visits_request, list_visits_response, s_list_visits, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("GetVisitParameters", get_visit_parameters_request, visit_parameters, s_get_parameters,
      CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("PutVisitParameters", put_visit_parameters_request, visit_parameters, s_put_parameters,
      CM_METHOD_WRITE, CUSTOMERS_WRITE),
    M("ListVisitPresets", list_visit_presets_request, list_visit_presets_response, s_list_presets,
      CM_METHOD_NO_TXN, CUSTOMERS_READ),
    M("GetVisitPreset", get_visit_preset_request, visit_preset, s_get_preset, CM_METHOD_NO_TXN,
      CUSTOMERS_READ),
    M("CreateVisitPreset", create_visit_preset_request, visit_preset, s_create_preset,
      CM_METHOD_WRITE, SETTINGS),
    M("UpdateVisitPreset", update_visit_preset_request, visit_preset, s_update_preset,
      CM_METHOD_WRITE, SETTINGS),
    M("DeleteVisitPreset", delete_visit_preset_request, empty, s_delete_preset, CM_METHOD_WRITE,
      SETTINGS),
};
const size_t notes_visits_n_methods = sizeof notes_visits_methods / sizeof *notes_visits_methods;
