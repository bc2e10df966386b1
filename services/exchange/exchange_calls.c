/* A batch of requests to the customers service sent at once. */
#include "exchange_calls.h"
#include "cm_util.h"

#include <stdlib.h>
#include <string.h>

void exchange_calls_init(struct exchange_calls *c, size_t n)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->hdr = cm_calloc(n, sizeof *c->hdr);
    c->hp = cm_calloc(n, sizeof *c->hp);
    c->req = cm_calloc(n, sizeof *c->req);
    c->rid = cm_calloc(n, sizeof *c->rid);
    c->key = cm_calloc(n, sizeof *c->key);
    c->err = cm_calloc(n, sizeof *c->err);
    c->rh = cm_calloc(n, sizeof *c->rh);
    c->resp = cm_calloc(n, sizeof *c->resp);
    for (size_t i = 0; i < n; i++) {
        crm__request_header__init(&c->hdr[i]);
        c->hp[i] = &c->hdr[i];
    }
}

void exchange_calls_run(struct exchange_calls *c, cm_mdp_client_t *client,
                        const ProtobufCMessageDescriptor *resp_desc, int timeout_ms)
{
    cm_svc_call_many(client, "customers", c->n, c->hp, c->req, resp_desc, timeout_ms, c->err, c->rh,
                     c->resp);
}

bool exchange_calls_transient(const struct exchange_calls *c, size_t i)
{
    return c->err[i] || !c->rh[i] || c->rh[i]->status == CRM__STATUS__STATUS_UNAVAILABLE ||
           c->rh[i]->status == CRM__STATUS__STATUS_DEADLINE_EXCEEDED ||
           c->rh[i]->status == CRM__STATUS__STATUS_INTERNAL;
}

const char *exchange_calls_error(const struct exchange_calls *c, size_t i)
{
    if (c->err[i])
        return cm_err_name(c->err[i]);
    return c->rh[i] ? c->rh[i]->message : "no answer";
}

void exchange_calls_release(struct exchange_calls *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->rh && c->rh[i])
            crm__reply_header__free_unpacked(c->rh[i], NULL);
        if (c->resp && c->resp[i])
            protobuf_c_message_free_unpacked(c->resp[i], NULL);
    }
    free(c->hdr);
    free(c->hp);
    free(c->req);
    free(c->rid);
    free(c->key);
    free(c->err);
    free(c->rh);
    free(c->resp);
    memset(c, 0, sizeof *c);
}

Crm__Principal *exchange_job_principal(const uint8_t *packed, size_t len, const char *what)
{
    Crm__Principal *p = crm__principal__unpack(NULL, len, packed);
    if (!p)
        return NULL;
    /* Strings of an unpacked message are separate allocations of the default
     * allocator (malloc), except the shared empty string. */
    char *name = cm_strfmt("%s by %s", what, p->name[0] ? p->name : p->id[0] ? p->id : "unknown");
    if (p->name != protobuf_c_empty_string)
        free(p->name);
    p->name = name;
    p->role = CRM__ROLE__ROLE_SERVICE;
    p->kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    return p;
}
