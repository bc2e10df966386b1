/* The OpenAPI 3.0.3 document of the HTTP API, generated from the route table
 * and the protobuf descriptors, so it cannot drift from what the gateway does. */
#ifndef GATEWAY_OPENAPI_H
#define GATEWAY_OPENAPI_H

#include <stddef.h>
#include <jansson.h>
#include "gateway_routes.h"

/* Builds the document for routes[0..n); a new reference (json_decref it). */
json_t *gateway_openapi_build(const struct gateway_route *routes, size_t n);

#endif
