/* Status table, AIP-193 error bodies and the response record. */
#include "gateway_status.h"
#include "cm_util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void gateway_response_release(struct gateway_response *resp)
{
    free(resp->content_type);
    free(resp->body);
    for (size_t i = 0; i < resp->n_headers; i++)
        free(resp->headers[i].value);
    memset(resp, 0, sizeof *resp);
}

void gateway_response_header(struct gateway_response *resp, const char *name, const char *value)
{
    for (size_t i = 0; i < resp->n_headers; i++) {
        if (!strcasecmp(resp->headers[i].name, name)) {
            free(resp->headers[i].value);
            resp->headers[i].value = cm_strdup(value);
            return;
        }
    }
    /* The gateway sets at most a handful per response; more is a bug. */
    if (resp->n_headers == GATEWAY_MAX_HEADERS)
        abort();
    resp->headers[resp->n_headers].name = name;
    resp->headers[resp->n_headers].value = cm_strdup(value);
    resp->n_headers++;
}

const char *gateway_response_get_header(const struct gateway_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (!strcasecmp(resp->headers[i].name, name))
            return resp->headers[i].value;
    return NULL;
}

void gateway_response_json(struct gateway_response *resp, int code, json_t *json)
{
    free(resp->body);
    free(resp->content_type);
    resp->code = code;
    /* Everything the gateway encodes is valid UTF-8 already (cm_pbjson repairs
     * bad strings), so dumping cannot fail but for memory. */
    resp->body = json_dumps(json, JSON_COMPACT);
    if (!resp->body)
        resp->body = cm_strdup("{}");
    resp->body_len = strlen(resp->body);
    resp->content_type = cm_strdup("application/json; charset=utf-8");
    json_decref(json);
}

/* ---------------------------------------------------------------------- */
/* The one table                                                           */

static const struct {
    int status;
    int http;
    const char *name;
} s_table[] = {
    {CRM__STATUS__STATUS_OK, 200, "OK"},
    {CRM__STATUS__STATUS_INVALID_ARGUMENT, 400, "INVALID_ARGUMENT"},
    {CRM__STATUS__STATUS_NOT_FOUND, 404, "NOT_FOUND"},
    {CRM__STATUS__STATUS_ALREADY_EXISTS, 409, "ALREADY_EXISTS"},
    {CRM__STATUS__STATUS_FAILED_PRECONDITION, 412, "FAILED_PRECONDITION"},
    {CRM__STATUS__STATUS_PERMISSION_DENIED, 403, "PERMISSION_DENIED"},
    {CRM__STATUS__STATUS_UNAUTHENTICATED, 401, "UNAUTHENTICATED"},
    {CRM__STATUS__STATUS_RESOURCE_EXHAUSTED, 429, "RESOURCE_EXHAUSTED"},
    {CRM__STATUS__STATUS_UNAVAILABLE, 503, "UNAVAILABLE"},
    {CRM__STATUS__STATUS_DEADLINE_EXCEEDED, 504, "DEADLINE_EXCEEDED"},
    {CRM__STATUS__STATUS_INTERNAL, 500, "INTERNAL"},
    {CRM__STATUS__STATUS_GONE, 410, "GONE"},
};

int gateway_status_http(int status)
{
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; i++)
        if (s_table[i].status == status)
            return s_table[i].http;
    return 500;
}

const char *gateway_status_name(int status)
{
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; i++)
        if (s_table[i].status == status)
            return s_table[i].name;
    return "INTERNAL";
}

/* ---------------------------------------------------------------------- */
/* Error bodies                                                            */

json_t *gateway_error_json(int code, const char *status_name, const char *message,
                           Crm__FieldViolation *const *details, size_t n_details)
{
    json_t *err = json_object();
    json_object_set_new(err, "code", json_integer(code));
    json_object_set_new(err, "status", json_string(status_name));
    /* A service's message may hold bad UTF-8; never let that drop the body. */
    json_t *msg = json_string(message ? message : "");
    json_object_set_new(err, "message", msg ? msg : json_string("(message not valid UTF-8)"));
    if (n_details) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n_details; i++) {
            const Crm__FieldViolation *d = details[i];
            json_t *o = json_object();
            json_object_set_new(o, "field", json_string(d->field ? d->field : ""));
            json_object_set_new(o, "description",
                                json_string(d->description ? d->description : ""));
            if (d->reason && *d->reason)
                json_object_set_new(o, "reason", json_string(d->reason));
            if (d->resource_id && *d->resource_id)
                json_object_set_new(o, "resourceId", json_string(d->resource_id));
            json_array_append_new(arr, o);
        }
        json_object_set_new(err, "details", arr);
    }
    json_t *root = json_object();
    json_object_set_new(root, "error", err);
    return root;
}

void gateway_response_error(struct gateway_response *resp, int status, const char *message,
                            Crm__FieldViolation *const *details, size_t n_details)
{
    int code = gateway_status_http(status);
    /* A service says a body is over its limit with a TOO_LARGE detail: 413. */
    for (size_t i = 0; status == CRM__STATUS__STATUS_RESOURCE_EXHAUSTED && i < n_details; i++)
        if (details[i]->reason && !strcmp(details[i]->reason, "TOO_LARGE"))
            code = 413;
    gateway_response_json(
        resp, code,
        gateway_error_json(code, gateway_status_name(status), message, details, n_details));
    if (code == 401)
        gateway_response_header(resp, "WWW-Authenticate", "Bearer");
    /* A rate limit says when to come back in a detail (RETRY_AFTER: whole seconds). */
    for (size_t i = 0; code == 429 && i < n_details; i++) {
        const char *d = details[i]->description;
        if (!details[i]->reason || strcmp(details[i]->reason, "RETRY_AFTER") || !d || !*d ||
            strlen(d) > 9 || strspn(d, "0123456789") != strlen(d))
            continue;
        gateway_response_header(resp, "Retry-After", d);
        break;
    }
}

void gateway_response_error_http(struct gateway_response *resp, int code, const char *status_name,
                                 const char *message)
{
    gateway_response_json(resp, code, gateway_error_json(code, status_name, message, NULL, 0));
}

void gateway_response_field_error(struct gateway_response *resp, const char *message,
                                  const char *field, const char *description)
{
    Crm__FieldViolation d = CRM__FIELD_VIOLATION__INIT;
    d.field = (char *)field;
    d.description = (char *)description;
    Crm__FieldViolation *dp = &d;
    gateway_response_error(resp, CRM__STATUS__STATUS_INVALID_ARGUMENT, message, &dp, 1);
}
