/* Every SQL statement of the notify service: messages, the send queue and
 * the events of the "notify" stream written with each change. */
#ifndef NOTIFY_STORE_H
#define NOTIFY_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "cm_outbox.h"
#include "notify.pb-c.h"

#define NOTIFY_STREAM "notify"
extern const struct cm_outbox notify_outbox;

struct notify_sms_measure;
/* Fills out (an SmsMeasure) from a measure. */
void notify_store_sms_measure(const struct notify_sms_measure *m, Crm__SmsMeasure *out);

/* The tenant's own template of kind and language: CM_ERR_NOT_FOUND when it
 * has none. *out is dynamic (caller frees). */
cm_err_t notify_store_template_get(cm_db_t *db, const char *kind, const char *language,
                                   Crm__Template **out) CM_MUSTCHECK;
/* Every template the tenant has, appended to resp. */
cm_err_t notify_store_template_list(cm_db_t *db, Crm__ListTemplatesResponse *resp) CM_MUSTCHECK;
/* Saves (replaces) the tenant's template; deletes it (*deleted: whether one was there). */
cm_err_t notify_store_template_put(cm_db_t *db, const char *tenant, const char *kind,
                                   const char *language, const Crm__Template *t) CM_MUSTCHECK;
cm_err_t notify_store_template_delete(cm_db_t *db, const char *kind, const char *language,
                                      bool *deleted) CM_MUSTCHECK;

/* A message to queue; every string borrowed. */
struct notify_new_message {
    const char *tenant_id;
    const char *customer_id;
    const char *channel; // "EMAIL" or "SMS"
    const char *kind;
    const char *to, *to_name, *from, *from_name;
    const char *subject, *text, *html;
    const char *message_id;  // RFC 5322 Message-ID without <>
    const char *request_key; // idempotency key, NULL/"" for none
    /* For the event. */
    const Crm__Principal *principal;
    const char *channel_name; // the envelope's channel ("api", "ui", ...)
    const char *request_id;
};

/* Inserts the message, its queue row and a message.queued event, in the
 * caller's transaction. A request_key queued before returns that message
 * with *existed true and writes nothing. *out is dynamic (caller frees). */
cm_err_t notify_store_queue(cm_db_t *db, const struct notify_new_message *m, Crm__Message **out,
                            bool *existed) CM_MUSTCHECK;

/* The message with id in the session's tenant: CM_ERR_NOT_FOUND when none. */
cm_err_t notify_store_get(cm_db_t *db, const char *id, Crm__Message **out) CM_MUSTCHECK;

/* The messages of the session's tenant whose Message-ID or id is one of
 * keys_json (a JSON array of strings). Appends them to *out (a growing array
 * of dynamic messages, *n its count; the caller frees each and the array). */
cm_err_t notify_store_by_keys(cm_db_t *db, const char *keys_json, Crm__Message ***out,
                              size_t *n) CM_MUSTCHECK;

/* Up to limit messages of a customer, newest first, after the keyset position
 * (after_id NULL for the first page); appends to resp and writes the next
 * position (next_id "" on the last page; size 40). */
cm_err_t notify_store_list(cm_db_t *db, const char *customer_id, int limit, int64_t after_us,
                           const char *after_id, Crm__ListMessagesResponse *resp, int64_t *next_us,
                           char *next_id) CM_MUSTCHECK;

/* A queued message a sender took. */
struct notify_claim {
    char id[40];
    char tenant_id[40];
    int attempts; // this one included
};

/* Takes up to max due messages of any tenant (FOR UPDATE SKIP LOCKED: never
 * one another sender holds) and moves them lease_ms ahead, so they come back
 * if this sender dies. One statement, committed at once. Sets *n. */
cm_err_t notify_store_claim(cm_db_t *db, int max, long lease_ms, struct notify_claim *out,
                            int *n) CM_MUSTCHECK;

/* The fate of an attempt, each in one transaction of the claim's tenant:
 * sent (message.sent), failed for good (message.failed, with the reason and
 * whether it was a refusal), or retried after retry_ms (no event). A message
 * that is no longer QUEUED is left alone. */
cm_err_t notify_store_sent(cm_db_t *db, const struct notify_claim *c,
                           const char *reason) CM_MUSTCHECK;
cm_err_t notify_store_failed(cm_db_t *db, const struct notify_claim *c, const char *reason,
                             bool permanent) CM_MUSTCHECK;
cm_err_t notify_store_retry(cm_db_t *db, const struct notify_claim *c, const char *reason,
                            long retry_ms) CM_MUSTCHECK;

#endif
