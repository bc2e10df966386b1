/* Every SQL statement about replies: storing one (joined to the message it
 * answers, or unassigned) with its event, listing them, and a customer's
 * conversations. */
#ifndef NOTIFY_REPLIES_STORE_H
#define NOTIFY_REPLIES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "notify.pb-c.h"

/* A reply to store; every string borrowed. */
struct notify_reply_in {
    const char *tenant_id;
    const char *channel;     // "EMAIL" or "SMS"
    const char *external_id; // Message-ID or the provider's id
    const char *from, *from_name, *to, *subject, *text;
    bool from_html;
    const char *attachments_json; // a JSON array of file names
    const uint8_t *raw;
    size_t raw_len;
    bool stop;
    const char *received_at; // RFC 3339 or NULL: now
    /* What it may join, tried in this order: */
    const char *token_ids_json; // message ids named by reply addresses (JSON array)
    const char *in_reply_to;    // a Message-ID, or ""
    const char *refs_json;      // Message-IDs of References (JSON array)
    const char *phone;          // SMS: the sender's E.164 number, or NULL
};

/* Stores the reply in the caller's transaction of its tenant: joined to the
 * message it answers (that message REPLIED when it was SENT, and a
 * message.replied event), or unassigned. The same channel and external id
 * stored before is *duplicate and answers that reply. *out is dynamic. */
cm_err_t notify_replies_store_add(cm_db_t *db, const struct notify_reply_in *in, Crm__Reply **out,
                                  bool *duplicate) CM_MUSTCHECK;

/* Up to limit replies of the session's tenant (only unassigned ones when
 * asked), newest first, after the keyset position (after_id NULL: the
 * first page); next_id "" on the last page (size 40). */
cm_err_t notify_replies_store_list(cm_db_t *db, bool unassigned, int limit, int64_t after_us,
                                   const char *after_id, Crm__ListRepliesResponse *resp,
                                   int64_t *next_us, char *next_id) CM_MUSTCHECK;

/* The conversation a message of the customer belongs to, into root (size
 * 40): CM_ERR_NOT_FOUND when the customer has no message with that id. */
cm_err_t notify_replies_store_conversation_of(cm_db_t *db, const char *message_id,
                                              const char *customer_id, char *root) CM_MUSTCHECK;

/* The customer's latest `limit` conversations, each with its messages and
 * replies in order, appended to resp. */
cm_err_t notify_replies_store_conversations(cm_db_t *db, const char *customer_id, int limit,
                                            Crm__ListConversationsResponse *resp) CM_MUSTCHECK;

#endif
