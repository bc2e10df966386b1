/* The comments of the .proto files, as data: what the OpenAPI document says
 * about each message, field, enum, enum value and method. The table is
 * generated at build time (services/gateway/protodoc_gen.py, from protoc-c's
 * descriptor set with source info) into build/gen/protodoc.c, so the .proto
 * files are the one place these texts are written. */
#ifndef GATEWAY_PROTODOC_H
#define GATEWAY_PROTODOC_H

#include <stddef.h>

/* One documented element. Keys, by kind:
 *   "crm.Customer"                           a message
 *   "crm.Customer.email"                     a field of it
 *   "crm.Gender", "crm.Gender.GENDER_MALE"   an enum and one of its values
 *   "rpc GetCustomer crm.GetCustomerRequest crm.Customer"
 *                                            a method, by name, request and reply type
 * text is the comment: lines joined with spaces, paragraphs by "\n\n". */
struct gateway_protodoc {
    const char *key;  // borrowed (static)
    const char *text; // borrowed (static)
};

/* The generated table of the .proto files in proto/, sorted by key (strcmp). */
extern const struct gateway_protodoc gateway_protodocs[];
extern const size_t gateway_protodocs_n;

/* The text of key in table[0..n) (sorted by key), or NULL when the element has
 * no comment. */
const char *gateway_protodoc_find(const struct gateway_protodoc *table, size_t n, const char *key);

/* gateway_protodoc_find in gateway_protodocs. */
const char *gateway_protodoc(const char *key);

#endif
