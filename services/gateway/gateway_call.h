/* The generic middle of the gateway: an HTTP request (route, path parameters,
 * query, headers, body) becomes the route's protobuf request, and a bus reply
 * (crm.ReplyHeader + the response message) becomes an HTTP response. Nothing
 * here knows an endpoint: all of it follows the route table and descriptors. */
#ifndef GATEWAY_CALL_H
#define GATEWAY_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "cm_err.h"
#include "gateway_routes.h"
#include "gateway_status.h"

/* Longest query parameter value, in bytes after decoding. */
#define GATEWAY_MAX_QUERY_VALUE 1024
/* Longest request target (path and query, as sent), in bytes: past it 414. */
#define GATEWAY_MAX_TARGET 8192
/* Most query parameters a request may carry: past it 400. */
#define GATEWAY_MAX_QUERY_PARAMS 200
/* Longest Idempotency-Key. */
#define GATEWAY_MAX_IDEMPOTENCY_KEY 128

/* What the HTTP layer hands over; everything borrowed for the call. */
struct gateway_input {
    const struct gateway_match *match; // route and path parameters
    const char *query;                 // raw query string after '?', or NULL
    const char *content_type;          // Content-Type header, or NULL
    const char *if_match;              // If-Match header, or NULL
    const char *body;                  // may be NULL when body_len is 0
    size_t body_len;
};

/* Builds the route's request message. Returns a dynamic message (free with
 * protobuf_c_message_free_unpacked(msg, NULL)), or NULL with err filled (400,
 * naming the field or parameter). */
ProtobufCMessage *gateway_call_build(const struct gateway_input *in, struct gateway_response *err);

/* Turns a reply into resp: an error from the ReplyHeader, or the response
 * message as JSON (or raw bytes for GATEWAY_RAW_REPLY routes) with the route's
 * success code, ETag and Location. if_none_match (may be NULL) lets a raw reply
 * answer 304. A malformed reply is a 500, and so is a raw reply whose
 * content_type gateway_reply_media_type does not allow (logged). */
void gateway_call_reply(const struct gateway_route *route, const uint8_t *header, size_t header_len,
                        const uint8_t *body, size_t body_len, const char *if_none_match,
                        struct gateway_response *resp);

/* The Content-Type the gateway sends a raw reply of type response with, when
 * the service's content_type value is one it serves for that type (exactly as
 * the service writes it): a string literal of the gateway's own, never value.
 * NULL for anything else, a type with no raw replies, or a NULL value. */
const char *gateway_reply_media_type(const ProtobufCMessageDescriptor *response, const char *value);

/* The media types a raw or streamed reply of type response may be sent as
 * (NULL-terminated), or NULL when it has none. */
const char *const *gateway_reply_media_types(const ProtobufCMessageDescriptor *response);

/* ---- Files streamed a chunk at a time (GATEWAY_STREAM_REPLY) ------------ */

/* One chunk of a file, as the gateway passes it on. */
struct gateway_chunk {
    uint8_t *data; // owned
    size_t len;
    const char *media_type; // borrowed (gateway_reply_media_type's literal)
    char *filename;         // owned: safe for Content-Disposition, or NULL
    char *next_cursor;      // owned: what the next call's cursor is; NULL after the last chunk
};

void gateway_chunk_release(struct gateway_chunk *c);

/* Decodes a chunk reply (the route's response type has data, content_type,
 * filename, next_cursor and done). Returns 0 with out filled, or -1 with err
 * filled as gateway_call_reply would (the service's error, or a 500 for a
 * malformed reply or a content type the gateway does not serve). */
int gateway_call_chunk(const struct gateway_route *route, const uint8_t *header, size_t header_len,
                       const uint8_t *body, size_t body_len, struct gateway_chunk *out,
                       struct gateway_response *err) CM_MUSTCHECK;

/* Sets the string field (proto name) of request (a dynamic message from
 * gateway_call_build) to value. Returns 0, or -1 when request has no such
 * singular string field. */
int gateway_call_set_str(ProtobufCMessage *request, const char *field,
                         const char *value) CM_MUSTCHECK;

/* Sets the request's `cursor` field, as gateway_call_set_str. */
int gateway_call_set_cursor(ProtobufCMessage *request, const char *cursor) CM_MUSTCHECK;

/* Packs a part of an upload: a message of type desc with upload_id, seq and
 * data set. Returns the packed bytes (malloc'd, *len), or NULL when desc
 * lacks those fields. */
uint8_t *gateway_call_pack_part(const ProtobufCMessageDescriptor *desc, const char *upload_id,
                                int seq, const void *data, size_t n, size_t *len);

/* Sets the request's `upload_id` and `parts` (a dynamic message from
 * gateway_call_build). Returns 0, or -1 when it lacks them. */
int gateway_call_set_upload(ProtobufCMessage *request, const char *upload_id,
                            int parts) CM_MUSTCHECK;

/* ---- Header parsing ----------------------------------------------------- */

/* The entity tag of an If-Match value, without W/ and quotes, into out.
 * Returns 0; -1 for "*" or an empty or unusable value (then no condition). */
int gateway_parse_if_match(const char *value, char *out, size_t size);

/* True for application/json, optionally with charset=utf-8, any case. */
bool gateway_content_type_is_json(const char *value);

/* The key of "Bearer <key>" (scheme in any case), borrowed from value; NULL
 * when value is NULL, another scheme, or the key is empty, over 512 bytes or
 * holds anything but visible ASCII. */
const char *gateway_parse_bearer(const char *value);

/* The X-Channel value to put in the envelope: value if it is one of api, ui,
 * import, booking, store; else "api". */
const char *gateway_channel(const char *value);

/* True when an Idempotency-Key is 1..128 visible ASCII characters. */
bool gateway_idempotency_key_valid(const char *value);

#endif
