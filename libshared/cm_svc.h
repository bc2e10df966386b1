/* The service skeleton: a Majordomo worker loop that decodes each request,
 * runs its handler inside a database transaction scoped to the request's
 * tenant, makes writes idempotent on the envelope's idempotency key, replies,
 * and runs periodic work between requests. Signals stop it gracefully.
 *
 * Many requests at once: with threads > 1 a copy runs that many handler
 * threads, each with its own database connection and its own worker on the
 * bus (credit 1), which receives a request, serves it, runs after_commit when
 * it committed events, and replies. The main thread runs start, stop and tick
 * (never at the same time as each other) and heartbeats the workers of
 * threads busy with long requests. A handler must not keep state between
 * calls but in its own thread's arguments; what it shares (call->user) it
 * only reads, or guards itself. With threads == 1 the main thread serves one
 * request at a time itself, between ticks. */
#ifndef CM_SVC_H
#define CM_SVC_H

#include <stdarg.h>
#include <stdbool.h>
#include <protobuf-c/protobuf-c.h>
#include "cm_db.h"
#include "cm_err.h"
#include "cm_perm.h"
#include "envelope.pb-c.h"

typedef struct cm_svc cm_svc_t;

/* What a handler sees of the request it serves. */
struct cm_call {
    const Crm__RequestHeader *hdr; // borrowed (cm_svc)
    cm_db_t *db;                   // borrowed (cm_svc); a transaction is open in fn (not in
                                   // prepare, nor in a CM_METHOD_NO_TXN read); NULL without a
                                   // database
    cm_svc_t *svc;                 // borrowed
    void *user;                    // borrowed (the service's state)
    cm_err_t err;                  // set through cm_call_fail
    char message[512];
    Crm__ReplyHeader reply; // details collected by cm_call_violation
    uint8_t *raw;           // owned: a reply body already packed (cm_call_reply_raw), or NULL
    size_t raw_len;
    struct cm_svc_thread *thread; // borrowed (cm_svc): the thread serving the call
    unsigned n_calls;             // calls made to other services (cm_call_service)
    void *prep;                   // owned (freed with free()): what the method's prepare
                                  // left for its handler, or NULL
    unsigned attempt;             // tries of this call before this one (cm_svc retries a
                                  // transaction that lost a race): a retry takes nothing
                                  // from a cache that may be why the last try failed
};

/* A handler builds a dynamic response message into *resp (cm_pb_new), or fails
 * with cm_call_fail / cm_call_violation and leaves *resp NULL. */
typedef void (*cm_handler_fn)(struct cm_call *call, const ProtobufCMessage *req,
                              ProtobufCMessage **resp);

enum {
    CM_METHOD_WRITE = 1 << 0,     // idempotent on the envelope's key
    CM_METHOD_NO_TENANT = 1 << 1, // runs without a tenant (internal methods)
    /* A read whose statements need no transaction in common (each sees its
     * own snapshot): it runs without BEGIN and COMMIT, so a GetCustomer is
     * one round trip to PostgreSQL (app.tenant is set on the session, and
     * only when it changes). Not for a handler that sets anything with
     * set_config(..., true) or locks rows. */
    CM_METHOD_NO_TXN = 1 << 2,
    /* A write whose handler changes the database with one statement (atomic
     * by itself; what else it runs only reads), is idempotent on its own
     * terms (an event id) and stores no events: sent without an idempotency
     * key it runs without BEGIN and COMMIT, saving two round trips; with one
     * (the gateway always sends one) it runs as any write, in a transaction
     * with the key's record, so the key's promise (the first answer again)
     * holds. */
    CM_METHOD_ONE_STATEMENT = 1 << 3,
    /* A write whose idempotency record is written once, at the end: its
     * first try claims the key with the reply, sent with COMMIT (one
     * statement instead of a claim first and the reply later). A key taken
     * (a retried request, or the same one running at once) fails that
     * statement, so the try commits nothing; then, as after any failure of
     * such a first try, the call runs again with the claim made first, as for
     * every other write, so the answer is always that of a try whose claim
     * came first (the stored reply of a retried request included). Only for
     * a handler that does nothing outside the database (calls no other
     * service in fn): a retried request runs it once in vain. */
    CM_METHOD_CLAIM_LATE = 1 << 4,
};

struct cm_method {
    const char *name; // full method name, e.g. "customers.CreateCustomer"
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *response;
    cm_handler_fn fn;
    unsigned flags;
    /* Optional: runs once before fn, outside any transaction (the tenant
     * set on the session, as for a CM_METHOD_NO_TXN read), for what must not
     * hold a transaction open: calling another service, say. It may leave
     * what it learnt for fn in call->prep (malloc'd), or fail the call, and
     * fn then does not run. It may also answer the call itself with
     * cm_call_reply_raw (a read that found all it needed): the reply is
     * OK with that body, and neither fn, a transaction nor the idempotency
     * record follows. fn may be run again on a retried transaction;
     * prepare is not. */
    void (*prepare)(struct cm_call *call, const ProtobufCMessage *req);
    /* Optional, for a write: runs after fn's transaction committed, and
     * again when a retry under the same idempotency key is answered the
     * stored reply, outside any transaction (the tenant set on the session,
     * as for prepare; it may begin and commit transactions of its own), for
     * what must follow the commit: calling another service about what was
     * committed, say. resp is the reply's body (unpacked; packed again
     * after it). It must not fail the call, as what committed stands: what
     * it could not do now it leaves for later, and says so in resp. */
    void (*finish)(struct cm_call *call, const ProtobufCMessage *req, ProtobufCMessage *resp);
    /* What the caller must be allowed (cm_perm_allows): cm_svc answers
     * PERMISSION_DENIED before prepare or fn runs when it is not. Every
     * method names one; cm_svc_run refuses to start otherwise. */
    enum cm_scope scope;
};

/* An entry of a service's method table: CM_METHOD("notes", "GetNote",
 * get_note_request, note, s_get_note, CM_METHOD_NO_TXN, NOTES_READ) names the
 * method "notes.GetNote" with the crm__get_note_request / crm__note
 * descriptors, needing scope CM_SCOPE_NOTES_READ. CM_METHOD_PREPARED adds a
 * prepare step, CM_METHOD_FINISHED a finish step too. */
#define CM_METHOD(svc, name_, req, resp, fn_, flags_, scope_)                                      \
    {                                                                                              \
        .name = svc "." name_, .request = &crm__##req##__descriptor,                               \
        .response = &crm__##resp##__descriptor, .fn = (fn_), .flags = (flags_),                    \
        .scope = CM_SCOPE_##scope_                                                                 \
    }
#define CM_METHOD_PREPARED(svc, name_, req, resp, prepare_, fn_, flags_, scope_)                   \
    {                                                                                              \
        .name = svc "." name_, .request = &crm__##req##__descriptor,                               \
        .response = &crm__##resp##__descriptor, .fn = (fn_), .flags = (flags_),                    \
        .prepare = (prepare_), .scope = CM_SCOPE_##scope_                                          \
    }
/* A write with a prepare step and a finish step (both may be NULL). */
#define CM_METHOD_FINISHED(svc, name_, req, resp, prepare_, fn_, finish_, flags_, scope_)          \
    {                                                                                              \
        .name = svc "." name_, .request = &crm__##req##__descriptor,                               \
        .response = &crm__##resp##__descriptor, .fn = (fn_), .flags = (flags_),                    \
        .prepare = (prepare_), .finish = (finish_), .scope = CM_SCOPE_##scope_                     \
    }

struct cm_svc_def {
    const char *name;                // service name on the bus
    const struct cm_method *methods; // borrowed, static
    size_t n_methods;
    const char *idempotency_table;            // e.g. "customers.idempotency"; NULL: no dedupe
    void (*start)(cm_svc_t *svc, void *user); // after the bus and database are set up
    void (*stop)(cm_svc_t *svc, void *user);  // before they are torn down
    /* After a write that stored events (cm_outbox_add) committed, before its
     * reply, on the thread that served it with that thread's connection (no
     * transaction open). One call at a time per copy, and one call may stand
     * for several writes that committed before it began; it may run while
     * tick does, so what the two share needs a lock. */
    void (*after_commit)(cm_svc_t *svc, cm_db_t *db, void *user);
    void (*tick)(cm_svc_t *svc, void *user); // every tick_ms
    int tick_ms;
    void *user;
    /* Optional: while it returns false the service does not announce itself
     * to the broker (no requests reach it) and only tick runs, every tick_ms;
     * for a service that must load state before it can answer (search). */
    bool (*ready)(cm_svc_t *svc, void *user);
    /* Optional, for a copy served by its main thread alone (threads 1):
     * requests the broker may queue at its worker at once
     * (cm_mdp_worker_new_credit). 0: CM_SVC_CREDIT_NO_DB for a service
     * without a database (fast, in memory), 1 with one (a slow query must
     * not hold others back at a busy worker). Each pool thread's worker
     * takes 1. */
    unsigned credit;
    /* Optional: requests one copy serves at once, each on a thread of its
     * own (cm_svc_cfg.threads overrides it). 0: CM_SVC_THREADS_DEFAULT with a
     * database, 1 without. 1 for a service whose handlers share state that
     * its tick changes (search's index). */
    unsigned threads;
};

#define CM_SVC_CREDIT_NO_DB 8
/* Handler threads of a copy with a database: requests in flight at once,
 * database connections (one each, and one for the main thread). */
#define CM_SVC_THREADS_DEFAULT 16
#define CM_SVC_THREADS_MAX 64

struct cm_svc_cfg {
    const char *bus_endpoint;
    const char *database_url; // NULL: no database (handlers get call->db NULL, no
                              // transactions, no idempotency; Health answers OK)
    const char *db_role;      // role the connection switches to (row-level security)
    bool bus_io_batch;        // libzmq I/O threads under SCHED_BATCH (cm_mdp_ctx_new)
    long threads;             // 0: the service's default (cm_svc_def.threads)
};

/* The threads a copy serves requests on, from its definition and config. */
unsigned cm_svc_threads(const struct cm_svc_def *def, const struct cm_svc_cfg *cfg);

/* The settings every service with a database reads alike: CRM_BUS_ENDPOINT,
 * CRM_DATABASE_URL, CRM_DB_ROLE, CRM_BUS_IO_BATCH and CRM_THREADS (and their
 * CRM_<SERVICE>_ forms). A service puts CM_SVC_CFG_ITEMS(s) in its cm_cfg
 * table and gives cm_svc_run cm_svc_cfg_of(&s). */
struct cm_svc_settings {
    char *bus_endpoint; // owned by the cm_cfg table
    char *database_url; // owned by the cm_cfg table
    char *db_role;      // owned by the cm_cfg table
    bool bus_io_batch;
    long threads;
};
#define CM_SVC_STR_(x) #x
#define CM_SVC_STR(x) CM_SVC_STR_(x)
#define CM_SVC_CFG_ITEMS(s)                                                                        \
    {"bus_endpoint", CM_CFG_STR, &(s).bus_endpoint, "tcp://127.0.0.1:5555"},                       \
        {"database_url", CM_CFG_STR, &(s).database_url, "dbname=crm", .secret = true},             \
        {"db_role", CM_CFG_STR, &(s).db_role, "crm_app"},                                          \
        {"bus_io_batch", CM_CFG_BOOL, &(s).bus_io_batch, "true"},                                  \
    {                                                                                              \
        "threads", CM_CFG_INT, &(s).threads, CM_SVC_STR(CM_SVC_THREADS_DEFAULT),                   \
            .min = 1, .max = CM_SVC_THREADS_MAX                                                    \
    }

/* What cm_svc_run takes from the shared settings (borrowing their strings). */
struct cm_svc_cfg cm_svc_cfg_of(const struct cm_svc_settings *s);

/* Runs the service until SIGINT/SIGTERM. Returns 0 on a clean stop, 1 on a
 * fatal start-up error. */
int cm_svc_run(const struct cm_svc_def *def, const struct cm_svc_cfg *cfg);

/* The ZeroMQ context and database (NULL without one) of a running service;
 * borrowed. */
void *cm_svc_zctx(cm_svc_t *svc);
cm_db_t *cm_svc_db(cm_svc_t *svc);
/* The broker's endpoint the service is connected to (borrowed, the config):
 * for a client of its own that a hook uses (cm_mdp_client_new). */
const char *cm_svc_bus_endpoint(cm_svc_t *svc);
/* True once a stop was requested. */
bool cm_svc_stopping(cm_svc_t *svc);

/* The reply body as bytes the handler packed itself (taken over, freed by
 * cm_svc; the handler leaves *resp NULL): for a large reply built straight
 * from packed parts, without unpacking and packing them again. */
void cm_call_reply_raw(struct cm_call *call, uint8_t *body, size_t len);

/* Fails the call with err and a message (lower case, no final period). */
void cm_call_fail(struct cm_call *call, cm_err_t err, const char *fmt, ...) CM_PRINTF(3, 4);

/* Adds a field violation (and fails the call with CM_ERR_INVALID unless it
 * already failed otherwise). field is lowerCamelCase; reason e.g. "REQUIRED". */
void cm_call_violation(struct cm_call *call, const char *field, const char *reason, const char *fmt,
                       ...) CM_PRINTF(4, 5);

/* Same, naming the record that already holds a unique value (ALREADY_EXISTS). */
void cm_call_duplicate(struct cm_call *call, const char *field, const char *resource_id,
                       const char *fmt, ...) CM_PRINTF(4, 5);

/* Fails the call with CM_ERR_NOT_FOUND because the record is elsewhere now:
 * the message, and a violation of field with reason (e.g. "MERGED") naming
 * resource_id, the record that took its place. */
void cm_call_moved(struct cm_call *call, const char *field, const char *reason,
                   const char *resource_id, const char *fmt, ...) CM_PRINTF(5, 6);

/* Fails the call with the database's error: logs the detail once, replies a
 * short message. */
void cm_call_db_fail(struct cm_call *call, cm_err_t err, const char *what);

/* Forgets a failure: the error, its message and its field violations (for a
 * handler that answers the same whatever went wrong). */
void cm_call_reset(struct cm_call *call);

/* Batches. A handler of a method that takes many items (each of which the
 * single method would serve alone) serves each item on an item call: the
 * same request, caller, connection and thread as parent, with no failure
 * yet, so that the single method's checks and steps run on it unchanged and
 * an item's failure stays the item's. cm_call_item_end moves the item's
 * outcome into out (a dynamic ReplyHeader: status, message and field
 * violations, as the single method's reply would carry them) and gives the
 * parent back the count of calls made to other services. */
void cm_call_item(struct cm_call *item, const struct cm_call *parent);
Crm__ReplyHeader *cm_call_item_end(struct cm_call *item, struct cm_call *parent);

/* n bytes (or a copy of s) from the request arena of the thread serving
 * call: never NULL, not to be freed, gone when the request is answered. For
 * what a handler needs only while it runs (names, paths, scratch), so that
 * borrowed and owned pointers never share an array. */
void *cm_call_alloc(struct cm_call *call, size_t n);
char *cm_call_strdup(struct cm_call *call, const char *s);

/* True when the call has failed. */
static inline bool cm_call_failed(const struct cm_call *call)
{
    return call->err != CM_OK;
}

/* Calls another service as the caller of call: the request carries the
 * caller's request id (with ".<n>" added, n counting this call's calls, so
 * the broker never takes two of them for one retried request), tenant,
 * principal and channel (channel, when not NULL, names another: intake acts
 * for the booking system), and a deadline of the caller's less
 * CM_CALL_MARGIN_MS (for the answer to travel back), at most timeout_ms from
 * now. It goes over the calling thread's own connection to the broker (made
 * on first use); while it waits the copy's main thread keeps heartbeating
 * and serving. It opens no transaction and takes no database connection; a
 * caller inside a transaction holds it meanwhile, so call first where you
 * can. Returns CM_OK with *reply and *resp (dynamic, caller frees; *resp
 * only for STATUS_OK), CM_ERR_TIMEOUT (also when the caller's deadline has
 * passed), CM_ERR_UNAVAILABLE or CM_ERR_UPSTREAM (an answer that does not
 * decode). */
#define CM_CALL_MARGIN_MS 50
cm_err_t cm_call_service(struct cm_call *call, const char *service, const char *method,
                         const char *channel, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                         Crm__ReplyHeader **reply, ProtobufCMessage **resp) CM_MUSTCHECK;

/* cm_call_service on behalf of another tenant and principal than the
 * caller's: for a method that serves no tenant (a public link that names
 * its tenant itself) and acts for it. tenant and principal are borrowed. */
cm_err_t cm_call_service_as(struct cm_call *call, const char *tenant,
                            const Crm__Principal *principal, const char *service,
                            const char *method, const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                            Crm__ReplyHeader **reply, ProtobufCMessage **resp) CM_MUSTCHECK;

/* customers.GetSettings (the tenant's settings: name, country, currency,
 * time zone) for tenant as principal, or as the caller when both are NULL.
 * Returns a Crm__Settings (dynamic; the caller frees it with
 * protobuf_c_message_free_unpacked), or NULL with the reason logged as a
 * warning: no answer in timeout_ms, or a status other than OK. */
ProtobufCMessage *cm_call_settings(struct cm_call *call, const char *tenant,
                                   const Crm__Principal *principal, int timeout_ms);

/* Packs a request header and body and sends a request to service over a
 * client, then waits for the reply with the same request id (up to
 * timeout_ms). Returns CM_OK with *reply and *resp (dynamic, caller frees), or
 * CM_ERR_TIMEOUT / CM_ERR_UNAVAILABLE. For tools and internal calls. */
struct cm_mdp_client;
cm_err_t cm_svc_call(struct cm_mdp_client *client, const char *service, Crm__RequestHeader *hdr,
                     const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                     int timeout_ms, Crm__ReplyHeader **reply,
                     ProtobufCMessage **resp) CM_MUSTCHECK;

/* The two halves of cm_svc_call, for a caller that works while a request is
 * in flight (one at a time per client). cm_svc_send sets hdr's request id
 * (copied into request_id) and deadline when unset; returns CM_OK or
 * CM_ERR_UNAVAILABLE. cm_svc_recv waits up to timeout_ms for the reply to
 * request_id, dropping late replies to earlier requests; results as
 * cm_svc_call's. */
cm_err_t cm_svc_send(struct cm_mdp_client *client, const char *service, Crm__RequestHeader *hdr,
                     const ProtobufCMessage *req, int timeout_ms, char request_id[40]) CM_MUSTCHECK;
cm_err_t cm_svc_recv(struct cm_mdp_client *client, const char *request_id,
                     const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
                     Crm__ReplyHeader **reply, ProtobufCMessage **resp) CM_MUSTCHECK;

/* Many requests to one service at once over one client, for a caller that
 * has a batch: sends req[i] with hdr[i] (each with its own request id, at
 * most 39 characters, set by the caller) for i < n, then takes the replies
 * as they come, in any order, until all are in or timeout_ms has passed.
 * Fills err[i] (CM_OK, or as cm_svc_recv: CM_ERR_TIMEOUT for a reply that did
 * not come, CM_ERR_UNAVAILABLE, CM_ERR_UPSTREAM), reply[i] and resp[i]
 * (dynamic, caller frees; resp[i] only for STATUS_OK). */
void cm_svc_call_many(struct cm_mdp_client *client, const char *service, size_t n,
                      Crm__RequestHeader *const *hdr, const ProtobufCMessage *const *req,
                      const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, cm_err_t *err,
                      Crm__ReplyHeader **reply, ProtobufCMessage **resp);

#endif
