/* Checking and normalising a customer as a whole before it is stored: every
 * field's rules, the tenant's required fields, consents' timestamps. Pure: no
 * database; problems are reported as field violations on the call. */
#ifndef CUSTOMERS_CHECK_H
#define CUSTOMERS_CHECK_H

#include <stdint.h>
#include "cm_svc.h"
#include "customers.pb-c.h"

#define CUSTOMERS_NAME_MAX 100
#define CUSTOMERS_DESCRIPTION_MAX 10000
#define CUSTOMERS_TAG_MAX 50
#define CUSTOMERS_TAGS_MAX 100
#define CUSTOMERS_GROUPS_MAX 50
#define CUSTOMERS_ADDRESSES_MAX 10
#define CUSTOMERS_EXTERNAL_IDS_MAX 20
#define CUSTOMERS_PHOTO_MAX (2 * 1024 * 1024)

struct customers_tenant;

/* Normalises c in place (trims, e-mail, E.164 phone, VAT, country case, tag
 * and group de-duplication, consent times) and adds a violation to call for
 * every problem. old is the stored customer for an update (NULL on create).
 * now_ms is the current time; a birth date is checked against tenant's today
 * (its time zone), or UTC's without a tenant. */
void customers_check(struct cm_call *call, Crm__Customer *c, const Crm__Customer *old,
                     const struct customers_tenant *tenant, int64_t now_ms);

/* Clears the fields a client cannot set (id, times, etag, hasPhoto). */
void customers_check_clear_output_only(Crm__Customer *c);

/* True for an output-only field path ("id", "createdAt", ...). */
bool customers_check_output_only(const char *path);

/* The image type of a photo by its content ("image/jpeg", "image/png",
 * "image/webp"), or NULL when it is none of them. */
const char *customers_check_image_type(const uint8_t *data, size_t len);

/* True when s is a canonical lower-case UUID. */
bool customers_check_uuid(const char *s);

/* The field names a tenant may require, NULL-terminated. */
extern const char *const customers_requirable_fields[];

#endif
