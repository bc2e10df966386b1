/* The staff web UI's files: GET / and GET /ui/... answered from a directory
 * (config key ui_dir), with safe paths, Content-Types, ETags and the security
 * headers of a page. Nothing here is an API route, so the OpenAPI document
 * never lists it. */
#ifndef GATEWAY_STATIC_H
#define GATEWAY_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_err.h"
#include "gateway_status.h"

/* Largest file served; the UI's files are a few kilobytes each. */
#define GATEWAY_STATIC_MAX_FILE (8u << 20)

/* The Content-Security-Policy of every UI response. */
#define GATEWAY_STATIC_CSP "default-src 'self'; img-src 'self' blob: data:"

typedef struct gateway_static gateway_static_t;

/* True when a raw request path (no query) belongs to the UI: "/", "/ui" or
 * anything under "/ui/". */
bool gateway_static_claims(const char *path);

/* Turns a raw UI path into a file name relative to the UI directory, written
 * into out (size bytes): "/", "/ui" and "/ui/" give "index.html",
 * "/ui/js/app.js" gives "js/app.js". Percent-escapes are decoded first, then
 * every segment must be 1..100 of [A-Za-z0-9._-], not start with a dot (so
 * no ".", "..", or hidden file) and not be empty (no "//"). Returns 0, or -1
 * for a path outside the UI, one that breaks a rule, or out too small. */
int gateway_static_sanitize(const char *path, char *out, size_t size) CM_MUSTCHECK;

/* The Content-Type for a file name, by extension (case ignored): html, css,
 * js/mjs (text/javascript), json, svg, png, ico, jpg, webp, txt, map, woff2;
 * "application/octet-stream" for any other. Borrowed (static). */
const char *gateway_static_content_type(const char *name);

/* True when an If-None-Match header value (a list of entity tags, W/ and
 * spaces allowed, or "*") names etag (given with its quotes). */
bool gateway_static_etag_matches(const char *if_none_match, const char *etag);

/* Finds the UI directory. A configured (non-empty) one must be a directory,
 * else NULL. Without one: "services/gateway/ui" under the executable's
 * directory or one of its four parents (build/bin/gateway finds the source
 * tree's), then under the current directory. exe is the executable's path
 * ("/proc/self/exe" in the gateway; NULL skips that search). Returns an owned
 * absolute path, or NULL when none is found. */
char *gateway_static_find_dir(const char *configured, const char *exe);

/* Serves files from dir (copied). Never NULL. */
gateway_static_t *gateway_static_new(const char *dir);

/* The directory served. Borrowed. */
const char *gateway_static_dir(const gateway_static_t *self);

/* Frees self; accepts NULL and a NULL *self_p. */
void gateway_static_destroy(gateway_static_t **self_p);

/* Answers a UI request into resp (zeroed by the caller): 200 with the file,
 * its Content-Type, ETag and Cache-Control: no-cache; 304 when if_none_match
 * (may be NULL) names the ETag; 404 JSON for a missing file or a refused
 * path; 405 with Allow for a method other than GET and HEAD. self may be NULL
 * (no UI installed): 404. Every answer carries the CSP, nosniff, no-referrer
 * and frame headers. */
void gateway_static_serve(const gateway_static_t *self, const char *method, const char *path,
                          const char *if_none_match, struct gateway_response *resp);

#endif
