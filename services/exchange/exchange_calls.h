/* A batch of requests to the customers service sent at once over one
 * client (cm_svc_call_many), as the import and its revert make them: the
 * headers, ids and keys they carry, and what came back. */
#ifndef EXCHANGE_CALLS_H
#define EXCHANGE_CALLS_H

#include <stddef.h>
#include "cm_mdp.h"
#include "cm_svc.h"

struct exchange_calls {
    size_t n;
    Crm__RequestHeader *hdr;      // owned: n headers, initialised; the caller fills them in
    const ProtobufCMessage **req; // owned array of borrowed requests; the caller sets them
    char (*rid)[40];              // owned: room for each request id
    char (*key)[96];              // owned: room for each idempotency key
    cm_err_t *err;                // after exchange_calls_run: as cm_svc_call_many's
    Crm__ReplyHeader **rh;        // owned (dynamic), after exchange_calls_run
    ProtobufCMessage **resp;      // owned (dynamic), after exchange_calls_run (STATUS_OK only)
    Crm__RequestHeader **hp;      // owned
};

/* Room for n calls (n > 0). Release with exchange_calls_release. */
void exchange_calls_init(struct exchange_calls *c, size_t n);

/* Sends the n requests to customers at once and waits for their answers
 * (at most timeout_ms), each of type resp_desc. */
void exchange_calls_run(struct exchange_calls *c, cm_mdp_client_t *client,
                        const ProtobufCMessageDescriptor *resp_desc, int timeout_ms);

/* True when call i failed on the way or with a status that says try again
 * later (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL). */
bool exchange_calls_transient(const struct exchange_calls *c, size_t i);

/* What went wrong with call i, for a log line. */
const char *exchange_calls_error(const struct exchange_calls *c, size_t i);

void exchange_calls_release(struct exchange_calls *c);

/* The principal a job speaks as when it runs, after the request that made it
 * has been answered: the stored principal of who asked (packed), turned into
 * kind SERVICE and role SERVICE, keeping its id and scopes, with the name
 * "<what> by <name>" for the audit. The broker lets a service's key speak for
 * a person only while serving that person's request (docs/bus.md, "Who may
 * speak"). Returns a message to free with crm__principal__free_unpacked, or
 * NULL if the bytes do not decode. */
Crm__Principal *exchange_job_principal(const uint8_t *packed, size_t len, const char *what);

#endif
