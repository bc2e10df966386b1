/* Replies: notify.InboundEmail and notify.InboundSms (the webhooks of a mail
 * and an SMS provider), ListReplies and ListConversations (docs/notify.md,
 * "Replies"). */
#ifndef NOTIFY_REPLIES_H
#define NOTIFY_REPLIES_H

#include "cm_svc.h"

void notify_replies_email(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp);
void notify_replies_sms(struct cm_call *call, const ProtobufCMessage *msg, ProtobufCMessage **resp);
void notify_replies_list(struct cm_call *call, const ProtobufCMessage *msg,
                         ProtobufCMessage **resp);
void notify_replies_conversations(struct cm_call *call, const ProtobufCMessage *msg,
                                  ProtobufCMessage **resp);

/* The conversation a SendMessage continues: the root of the customer's
 * message conversation_id, into root (size 40). False, with a violation on
 * conversationId, when the customer has no such message (or the call failed
 * on the database). */
bool notify_replies_conversation_of(struct cm_call *call, const char *conversation_id,
                                    const char *customer_id, char *root);

#endif
