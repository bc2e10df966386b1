/* The pure parts of taking replies in (docs/notify.md, "Replies"): the
 * per-message reply address and its token, SMS senders' numbers, and the
 * words that ask to stop SMS newsletters. No I/O. */
#ifndef NOTIFY_INBOUND_H
#define NOTIFY_INBOUND_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a reply address: "reply+" 32 hex digits "@" a domain of < 200. */
#define NOTIFY_INBOUND_ADDRESS 240
/* Longest SMS text taken, in bytes (ten UCS-2 parts with room to spare). */
#define NOTIFY_INBOUND_SMS_TEXT 1600

/* "reply+<message id as 32 hex digits>@domain" into out (size at least
 * NOTIFY_INBOUND_ADDRESS); "" when id is not a UUID. */
void notify_inbound_reply_address(const char *id, const char *domain, char *out, size_t size);

/* The message id (a UUID, 36 characters and NUL) a reply address names:
 * false when addr's local part is not "reply+" and 32 hex digits (any
 * domain, any case). */
bool notify_inbound_reply_token(const char *addr, char id[37]);

/* A sender's number as E.164 into out (size at least 17): spaces, dashes,
 * dots and parentheses dropped, a leading "00" made "+". False when what is
 * left is not "+" and 8 to 15 digits. */
bool notify_inbound_phone(const char *in, char *out, size_t size);

/* Whether an SMS text asks to stop: after trimming white space and final
 * punctuation, and folding case and accents, one of the words of
 * docs/notify.md ("STOP", "STOPP", "STOP ALL", "UNSUBSCRIBE", "СТОП", ...). */
bool notify_inbound_is_stop(const char *text);

/* The line an SMS newsletter ends with, in the language (en, de, pl, nb,
 * bg; others en): how to stop. Static. */
const char *notify_inbound_stop_hint(const char *lang);

#endif
