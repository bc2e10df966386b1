/* What every send to a customer does, whatever wrote the text: read the
 * customer (as the caller, no transaction open), check they can be reached
 * on the channel, address the message, and queue it (with its link, when it
 * carries one) in one transaction. */
#ifndef NOTIFY_COMPOSE_H
#define NOTIFY_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_svc.h"
#include "customers.pb-c.h"
#include "notify_handlers.h"
#include "notify_store.h"

/* The principal notify acts as for a caller without one (a public link):
 * ROLE_SERVICE "notify". */
extern const Crm__Principal notify_compose_service;

/* The customer id from customers.GetCustomer as the caller (or as tenant and
 * principal when tenant is not NULL). NULL, the call failed (NOT_FOUND,
 * UNAVAILABLE), when there is none to have. Dynamic: the caller frees it. */
Crm__Customer *notify_compose_customer(struct cm_call *call, const char *id, const char *tenant);

/* True when the call's tenant has customer id; false with the call failed
 * (NOT_FOUND, or as notify_compose_customer) otherwise. For a list that found
 * nothing: another tenant's customer is not found, not empty. */
bool notify_compose_known(struct cm_call *call, const char *id);

/* False, with a violation on customerId (NO_EMAIL_ADDRESS, EMAIL_NOT_SENDABLE,
 * NO_PHONE_NUMBER), when the customer cannot be reached on the channel. */
bool notify_compose_reachable(struct cm_call *call, const Crm__Customer *c, bool sms);

/* The tenant's sender (the session's tenant, set by the caller): its own
 * settings over the installation's, into s's effective_* fields. False, the
 * call failed, on a database error. s is a dynamic message the caller frees. */
bool notify_compose_sender(struct cm_call *call, const struct notify_state *st,
                           Crm__NotifySettings *s);

/* Withdraws the channel's consent (preferences.email, or preferences.sms) on
 * the customer, with source, as notify in tenant; *lang the customer's
 * language. A customer who is gone has nothing to withdraw. False, the call
 * failed, when customers did not take it. */
bool notify_compose_withdraw(struct cm_call *call, const char *tenant, const char *customer,
                             bool sms, const char *source, const char **lang);

/* A marketing e-mail's text and HTML (a newsletter's, an automation rule's)
 * with the visible unsubscribe link (the page, in the customer's language)
 * at the end; the HTML gets it only when there is one. Dynamic: the caller
 * frees both. */
void notify_compose_unsubscribe_link(const struct notify_state *st, const char *tenant,
                                     const Crm__Customer *c, const char *text_in,
                                     const char *html_in, char **text, char **html);

/* The recipient's name on a message to customer c ("First Last") into out,
 * cut to size. */
void notify_compose_name(const Crm__Customer *c, char *out, size_t size);

/* The parts of a message that come from the customer and the sender:
 * recipient, sender, a new Message-ID (in the sender's domain). False, the
 * call failed, when the tenant's sender cannot be read. */
struct notify_address {
    char name[512];
    char message_id[300];
    char from[300];
    char from_name[300];
};
bool notify_compose_address(struct cm_call *call, const struct notify_state *st,
                            const Crm__Customer *c, bool sms, struct notify_address *a,
                            struct notify_new_message *m);
/* The same with the tenant's sender s (notify_compose_sender) read before:
 * a page of a newsletter reads it once. Cannot fail. */
void notify_compose_address_from(const struct notify_state *st, const Crm__NotifySettings *s,
                                 const Crm__Customer *c, bool sms, struct notify_address *a,
                                 struct notify_new_message *m);

/* A set-password link to create with the message: the customer's older
 * links are voided, this one stored by its hash; the token is sealed into the
 * message for the sender (never stored in the clear). */
struct notify_link {
    const char *kind;
    char token[64]; // base64url of 32 random bytes
    char hash[65];  // hex BLAKE2b-256 of the token
    uint8_t sealed[24 + 16 + 64];
    size_t sealed_len;
};
/* A new link sealed with the service's key. */
void notify_compose_link(const struct notify_state *st, const char *kind, struct notify_link *l);
/* Seals token (at most 64 bytes, given by another service) into l->sealed, as
 * notify_compose_link does a new one's; l->hash is left empty. */
void notify_compose_seal(const struct notify_state *st, const char *token, struct notify_link *l);

/* Queues m (and creates link, when not NULL) in one transaction of tenant,
 * then wakes the senders. The stored message, or NULL with the call failed. */
Crm__Message *notify_compose_queue(struct cm_call *call, struct notify_state *st,
                                   const char *tenant, struct notify_new_message *m,
                                   const struct notify_link *link);

/* Asks any copy of notify (itself included) to run an internal method over
 * client, as notify in tenant on channel, to be answered within
 * answer_within_ms (before the caller's lease ends). The answer is not
 * waited for. Returns 0, or -1 when it could not be sent (logged by the
 * caller). */
struct cm_mdp_client;
int notify_compose_ask(struct cm_mdp_client *client, const char *tenant, const char *method,
                       const char *channel, const ProtobufCMessage *req, long answer_within_ms);

#endif
