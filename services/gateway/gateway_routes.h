/* The route table: every HTTP route the gateway serves, as data, and the
 * matcher that finds the route for a method and a raw path. A new service's
 * endpoints are one line each in gateway_routes.c. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

enum gateway_route_kind {
    GATEWAY_ROUTE_BUS = 0, // turned into a bus request to service/rpc
    GATEWAY_ROUTE_HEALTHZ, // answered by the gateway itself
    GATEWAY_ROUTE_READYZ,  // asks every configured service for "<service>.Health"
    GATEWAY_ROUTE_METRICS,
    GATEWAY_ROUTE_OPENAPI,
};

enum {
    GATEWAY_PUBLIC = 1 << 0,    // no Authorization needed
    GATEWAY_RAW_BODY = 1 << 1,  // the body is bytes for field `body`; Content-Type goes into
                                // the request's `content_type`
    GATEWAY_RAW_REPLY = 1 << 2, // the reply's `data` is sent as is, with its `content_type`
    /* A public route that answers every token alike (state UNKNOWN, or a 400
     * naming the token), never 404: it must not tell which tokens exist. */
    GATEWAY_NO_NOT_FOUND = 1 << 3,
    /* The reply is the first chunk of a file (data, content_type, filename,
     * next_cursor, done): the gateway streams the file to the client
     * (chunked), asking the service for each next chunk with the request's
     * `cursor` set to next_cursor, one chunk in memory at a time. */
    GATEWAY_STREAM_REPLY = 1 << 4,
    /* The body is a file of up to max_body bytes, sent on as it arrives: in
     * parts of GATEWAY_UPLOAD_PART bytes, each a call of part_rpc (its
     * request has upload_id, seq, data), then the route's own call with the
     * request built from the query and its upload_id and parts set. */
    GATEWAY_STREAM_BODY = 1 << 5,
    /* The resource can be gone for good (GONE, 410): an export's file past its time. */
    GATEWAY_MAY_BE_GONE = 1 << 6,
    /* Staff sessions (gateway_session.h). The request's `token` is the
     * crm_session cookie's value (401 without one; a write needs the CSRF
     * header). */
    GATEWAY_SESSION_TOKEN = 1 << 7,
    GATEWAY_SESSION_SET = 1 << 8,    // the reply's `token` becomes the cookie
    GATEWAY_SESSION_CLEAR = 1 << 9,  // on success the cookie is cleared
    GATEWAY_SESSION_EVICT = 1 << 10, // the reply is a crm.Staff (with SESSION_SET a
                                     // crm.StaffSession): its member's cached sessions go
    /* The request's `client_address` is the client's address (for the
     * sign-in rate limit); a cross-site Origin is refused. */
    GATEWAY_CLIENT_ADDRESS = 1 << 11,
    /* With RAW_REPLY: the reply (data, content_type, filename) is a file a
     * customer's staff uploaded, sent as an attachment: any media type but
     * one a browser would run (gateway_download_type), Content-Disposition
     * naming it, and a CSP sandbox, so that nothing uploaded renders on the
     * gateway's origin. */
    GATEWAY_ATTACHMENT = 1 << 12,
    /* The body or query names a resource that may not be there (404),
     * though the path names none: a door's zone, a task list's customer. */
    GATEWAY_NAMES_RESOURCE = 1 << 13,
    /* A read the resource's state may refuse (412): a card's survey results. */
    GATEWAY_STATE_CHECKED = 1 << 14,
};

#define GATEWAY_UPLOAD_PART (1024 * 1024)
/* The body limit of a file upload (POST /v1/customers/{id}/files): the most
 * the notes service's file_max_bytes may be set to (NOTES_FILE_MAX_CAP); the
 * setting itself answers 413 below it. Well under the broker's frame limit. */
#define GATEWAY_FILE_MAX (32 * 1024 * 1024)

struct gateway_route {
    const char *method;  // "GET", "POST", "PUT", "PATCH", "DELETE"
    const char *pattern; // "/v1/customers/{id}"; `{name}` is one path segment set into the
                         // request field `name`, and may carry a custom verb: "{id}:merge"
    enum gateway_route_kind kind;
    const char *service;                       // "customers"
    const char *rpc;                           // "GetCustomer"; the bus method is "<service>.<rpc>"
    const ProtobufCMessageDescriptor *request; // borrowed (generated code)
    const ProtobufCMessageDescriptor *response; // borrowed (generated code)
    const char *body;       // NULL: no body; "*": the body is the whole request; else the request
                            // field (proto name) the body fills
    unsigned flags;         // GATEWAY_*
    int success;            // HTTP code on OK: 200, 201 (creates) or 204 (crm.Empty replies)
    const char *location;   // creates (201) and queued work (202): "/v1/customers/{id}", filled
                            // from the reply's fields
    const char *omit;       // reply field (proto name) left out of the JSON: PutPhoto's data
    size_t max_body;        // 0: the configured max_body_bytes
    const char *body_types; // RAW_BODY, STREAM_BODY: accepted media types, for the OpenAPI
                            // document
    const char *part_rpc;   // STREAM_BODY: the bus method of each part, "<service>.<part_rpc>"
    const ProtobufCMessageDescriptor *part_request;  // borrowed (generated code)
    const ProtobufCMessageDescriptor *part_response; // borrowed (generated code)
    unsigned scopes; // what a key needs for the route (cm_perm bits: 1u << CM_SCOPE_...); the
                     // services check it, the OpenAPI document says it (x-crm-scopes)
};

extern const struct gateway_route gateway_routes[];
extern const size_t gateway_n_routes;

#define GATEWAY_MAX_PARAMS 4
#define GATEWAY_MAX_ID 64

enum gateway_match_result {
    GATEWAY_MATCH_OK = 0,
    GATEWAY_MATCH_NO_ROUTE,  // 404: no pattern fits the path
    GATEWAY_MATCH_NO_METHOD, // 405: a pattern fits, not with this method; see allow
    GATEWAY_MATCH_BAD_PARAM, // 404: a path parameter is not a valid id
};

struct gateway_match {
    const struct gateway_route *route; // borrowed (table); set when OK or BAD_PARAM
    size_t n_params;
    struct {
        char name[32];                  // the pattern's name, a request field
        char value[GATEWAY_MAX_ID + 1]; // percent-decoded
    } params[GATEWAY_MAX_PARAMS];
    char allow[96]; // NO_METHOD: "GET, HEAD, PATCH, DELETE"
};

/* Finds the route for method and path (raw, percent-encoded, no query) in
 * routes[0..n). HEAD matches GET routes. One trailing slash is ignored. Path
 * parameters are percent-decoded and must be 1..64 of [A-Za-z0-9_-]. */
enum gateway_match_result gateway_routes_match(const struct gateway_route *routes, size_t n,
                                               const char *method, const char *path,
                                               struct gateway_match *m);

/* True for 1..64 characters of [A-Za-z0-9._-]: a client's X-Request-Id. */
bool gateway_request_id_valid(const char *s);

/* Decodes %XX escapes (and '+' as a space when plus_space) of s[0..len) into
 * out (size bytes). Returns the decoded length, GATEWAY_DECODE_NUL for a NUL
 * byte (%00), or -1 on a bad escape or when out is too small. */
#define GATEWAY_DECODE_NUL (-2)
long gateway_percent_decode(const char *s, size_t len, bool plus_space, char *out, size_t size);

#endif
