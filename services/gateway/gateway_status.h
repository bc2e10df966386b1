/* The one table from envelope status to HTTP, the AIP-193 error body, and the
 * response record every part of the gateway fills before the HTTP layer sends
 * it. */
#ifndef GATEWAY_STATUS_H
#define GATEWAY_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "envelope.pb-c.h"

#define GATEWAY_MAX_HEADERS 8

/* An HTTP response waiting to be sent. Start from a zeroed record; release it
 * with gateway_response_release. */
struct gateway_response {
    int code;           // HTTP status
    char *content_type; // owned; NULL when there is no body
    char *body;         // owned (malloc); NULL for none
    size_t body_len;
    size_t n_headers;
    struct {
        const char *name; // borrowed (a string literal)
        char *value;      // owned
    } headers[GATEWAY_MAX_HEADERS];
};

/* Frees what the response holds and zeroes it. */
void gateway_response_release(struct gateway_response *resp);

/* Adds a header (value copied); replaces one of the same name. */
void gateway_response_header(struct gateway_response *resp, const char *name, const char *value);

/* The value of a header set on resp, or NULL. Borrowed. */
const char *gateway_response_get_header(const struct gateway_response *resp, const char *name);

/* Sets code and a compact JSON body (application/json; charset=utf-8) from json,
 * whose reference this call takes. */
void gateway_response_json(struct gateway_response *resp, int code, json_t *json);

/* HTTP code for a crm.Status; 500 for a value the table does not know. */
int gateway_status_http(int status);

/* Canonical name ("INVALID_ARGUMENT") for a crm.Status; "INTERNAL" if unknown. */
const char *gateway_status_name(int status);

/* The AIP-193 error object {"error":{code,status,message,details}} as a new
 * reference. details (may be NULL) become [{field, description, reason,
 * resourceId}], empty reason/resourceId left out; no details, no key. */
json_t *gateway_error_json(int code, const char *status_name, const char *message,
                           Crm__FieldViolation *const *details, size_t n_details);

/* Fills resp with the error for a crm.Status (code from the table). */
void gateway_response_error(struct gateway_response *resp, int status, const char *message,
                            Crm__FieldViolation *const *details, size_t n_details);

/* Fills resp with an error whose HTTP code is not the table's (405, 413, 415). */
void gateway_response_error_http(struct gateway_response *resp, int code, const char *status_name,
                                 const char *message);

/* Error with one field detail, for the gateway's own 400s. */
void gateway_response_field_error(struct gateway_response *resp, const char *message,
                                  const char *field, const char *description);

#endif
