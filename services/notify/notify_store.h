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

/* The session tenant's sender settings into out (its fields "" when it has
 * none), and their replacement. */
cm_err_t notify_store_settings_get(cm_db_t *db, Crm__NotifySettings *out) CM_MUSTCHECK;
cm_err_t notify_store_settings_put(cm_db_t *db, const char *tenant,
                                   const Crm__NotifySettings *s) CM_MUSTCHECK;

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
    const char *message_id;      // RFC 5322 Message-ID without <>
    const char *conversation_id; // the conversation it continues; NULL/"": it starts one
    const char *request_key;     // idempotency key, NULL/"" for none
    const char *send_at;         // RFC 3339: a scheduled message's time; NULL/"": now
    const uint8_t *sealed_link;  // the message's link sealed (notify_compose_link), or NULL
    size_t sealed_len;
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

/* "SELECT <the message's columns> FROM notify.messages m LEFT JOIN
 * notify.queue q ... ": a statement goes on with WHERE; each row is read with
 * notify_store_message_row (dynamic, the caller frees it). */
extern const char *const notify_store_message_columns;
Crm__Message *notify_store_message_row(const PGresult *res, int row);

/* A keyset list's next position from res (limit + 1 rows asked; the id in
 * column 0, µs in us_column): next_id "" when there is no next page. */
void notify_store_next_position(const PGresult *res, int limit, int us_column, int64_t *next_us,
                                char *next_id);

/* Writes a message.* event of msg (and reply, when not NULL) to the outbox,
 * in the caller's transaction, as notify. */
cm_err_t notify_store_event(cm_db_t *db, const char *type, const Crm__Message *msg,
                            const Crm__Reply *reply, const char *tenant_id) CM_MUSTCHECK;

/* customer.merged: moves every row notify keeps under merged_id to keep_id
 * (notify.merge_customer, 063_merge.sql, which says what happens where one
 * row per customer is allowed) and records where merged_id leads. *first is
 * false when this event (event_id) was applied before: nothing is written.
 * In the caller's transaction of tenant. */
cm_err_t notify_store_merge(cm_db_t *db, const char *tenant, const char *keep_id,
                            const char *merged_id, const char *event_id, bool *first) CM_MUSTCHECK;

/* A customer was deleted (docs/operations.md, "Erasure"): in the caller's
 * transaction of tenant, their messages not sent yet (queued, scheduled)
 * leave the queue and end CANCELLED, saying so; every message of theirs
 * loses its address, name, subject, text, HTML, link and error text, and
 * every reply of theirs its sender, subject, text, attachment names and raw
 * message. Ids, status, channel, kind, times and conversations stay. Their
 * sign-in account goes with its set-password links (they no longer work),
 * and so do their registrations, the failed sign-ins of their addresses and
 * a welcome still to send; a newsletter's cancelled message counts as
 * cancelled in its campaign. */
cm_err_t notify_store_erase_customer(cm_db_t *db, const char *tenant,
                                     const char *customer_id) CM_MUSTCHECK;

/* The message with id in the session's tenant: CM_ERR_NOT_FOUND when none. */
cm_err_t notify_store_get(cm_db_t *db, const char *id, Crm__Message **out) CM_MUSTCHECK;

/* A set-password link (its hash) of kind for the customer, valid for hours;
 * the customer's older unused links are voided. In the caller's transaction. */
cm_err_t notify_store_link_create(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *kind, const char *hash, long hours) CM_MUSTCHECK;

/* The link with this hash (any tenant). CM_ERR_NOT_FOUND when there is none.
 * state: "VALID", "EXPIRED" or "USED" (voided counts as used). */
struct notify_link_row {
    char tenant_id[40];
    char customer_id[40];
    char kind[32];
    char state[16];
    char expires_at[40];
};
cm_err_t notify_store_link_find(cm_db_t *db, const char *hash,
                                struct notify_link_row *out) CM_MUSTCHECK;

/* Uses the link: true in *used when it was still valid (and is used now). In
 * the caller's transaction. */
cm_err_t notify_store_link_use(cm_db_t *db, const char *hash, bool *used) CM_MUSTCHECK;

/* Sets the customer's password hash and sign-in address. In the caller's
 * transaction of the tenant. */
cm_err_t notify_store_account_put(cm_db_t *db, const char *tenant, const char *customer_id,
                                  const char *email_key, const char *hash) CM_MUSTCHECK;

/* The account of an address: *found, its customer and hash. */
cm_err_t notify_store_account_find(cm_db_t *db, const char *email_key, bool *found,
                                   char *customer_id, char *hash, size_t hashsz) CM_MUSTCHECK;

/* Failed sign-ins of (tenant, address) within window_s: *failures and the
 * seconds until the window ends. */
cm_err_t notify_store_failures(cm_db_t *db, const char *tenant, const char *email_key,
                               long window_s, int *failures, long *left_s) CM_MUSTCHECK;
/* Counts one more failure (a new window when the last ended); clears them. */
cm_err_t notify_store_failure_add(cm_db_t *db, const char *tenant, const char *email_key,
                                  long window_s) CM_MUSTCHECK;
cm_err_t notify_store_failures_clear(cm_db_t *db, const char *tenant,
                                     const char *email_key) CM_MUSTCHECK;

/* The sealed link of a message (*len 0 when it has none), into buf (size). */
cm_err_t notify_store_sealed_link(cm_db_t *db, const char *id, uint8_t *buf, size_t size,
                                  size_t *len) CM_MUSTCHECK;

/* Message-IDs a reply's thread headers name at most (RFC 5322 3.6.4). */
#define NOTIFY_STORE_THREAD_MAX 20

/* The Message-IDs of the e-mails of conversation conversation_id before
 * message id, for its In-Reply-To and References: the conversation's first
 * message and the newest NOTIFY_STORE_THREAD_MAX - 1 others (our messages
 * and the customer's replies), oldest first. Into ids (the caller frees
 * each), *n; *n 0 when there are none. Returns CM_OK or the database's
 * error (cm_db_exec). */
cm_err_t notify_store_thread(cm_db_t *db, const char *conversation_id, const char *id,
                             char *ids[NOTIFY_STORE_THREAD_MAX], size_t *n) CM_MUSTCHECK;

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

/* Runs a claim across tenants: sql takes $1 the most rows and $2 the lease
 * in ms, chooses its rows once (a materialized CTE ... FOR UPDATE SKIP
 * LOCKED) and moves their lease ahead. The result, or NULL with *err; more
 * rows than max (which would wait for their lease) are logged. */
PGresult *notify_store_claim_rows(cm_db_t *db, const char *sql, int max, long lease_ms,
                                  cm_err_t *err);

/* Runs a claim of notify.queue rows (sql as for notify_store_claim_rows,
 * returning message_id, tenant_id, attempts) into out; sets *n. */
cm_err_t notify_store_claim_queue(cm_db_t *db, const char *sql, int max, long lease_ms,
                                  struct notify_claim *out, int *n) CM_MUSTCHECK;

/* Takes up to max due messages of any tenant (FOR UPDATE SKIP LOCKED: never
 * one another sender holds) and moves them lease_ms ahead, so they come back
 * if this sender dies. One statement, committed at once. Sets *n. */
cm_err_t notify_store_claim(cm_db_t *db, int max, long lease_ms, struct notify_claim *out,
                            int *n) CM_MUSTCHECK;

/* The fate of an attempt, each in one transaction of the claim's tenant:
 * sent (message.sent; a batch of them at once), failed for good
 * (message.failed, with the reason and whether it was a refusal), or retried
 * after retry_ms (no event). A message that is no longer QUEUED is left
 * alone. */
/* Records messages c[0..n) of one tenant as SENT, in one transaction of the
 * tenant: one statement each for the messages, the queue and the bodies to
 * drop later, then a message.sent event per message. */
cm_err_t notify_store_sent_many(cm_db_t *db, const char *tenant,
                                const struct notify_claim *const *c, int n) CM_MUSTCHECK;
cm_err_t notify_store_failed(cm_db_t *db, const struct notify_claim *c, const char *reason,
                             bool permanent) CM_MUSTCHECK;
cm_err_t notify_store_retry(cm_db_t *db, const struct notify_claim *c, const char *reason,
                            long retry_ms) CM_MUSTCHECK;

#endif
