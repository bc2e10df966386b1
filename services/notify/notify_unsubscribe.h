/* The unsubscribe link of a newsletter (docs/notify.md, "Unsubscribing"):
 * a token naming the tenant, the customer and the channel, sealed with a
 * 96-bit MAC (HMAC-SHA-256 cut short) under a key derived from
 * CRM_NOTIFY_LINK_KEY, so that nobody can make one for another customer. Using it twice withdraws
 * the same consent twice: harmless, so it needs no record of use. Pure: no I/O. */
#ifndef NOTIFY_UNSUBSCRIBE_H
#define NOTIFY_UNSUBSCRIBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for a token and its terminator: base64url of 16 + 16 + 1 + 12 bytes,
 * 60 characters, so that it is a path segment the gateway takes (at most 64
 * of [A-Za-z0-9_-]). */
#define NOTIFY_UNSUBSCRIBE_TOKEN 64
/* The route a mail client posts the one-click request to (RFC 8058), and the
 * page a person opens; each followed by the token. */
#define NOTIFY_UNSUBSCRIBE_POST_PATH "/v1/unsubscribe/"
#define NOTIFY_UNSUBSCRIBE_PAGE_PATH "/ui/unsubscribe.html?token="
/* The body of a one-click request (RFC 8058 3.1). */
#define NOTIFY_UNSUBSCRIBE_ONE_CLICK "List-Unsubscribe=One-Click"

/* The token of (tenant, customer, channel) into out (size at least
 * NOTIFY_UNSUBSCRIBE_TOKEN). False when tenant or customer is not a UUID. */
bool notify_unsubscribe_token(const uint8_t key[32], const char *tenant, const char *customer,
                              bool sms, char *out, size_t size);

/* Checks a token: true, with tenant and customer (each at least 37 bytes,
 * lower-case UUIDs) and the channel, when it is one this key made. */
bool notify_unsubscribe_parse(const uint8_t key[32], const char *token, char *tenant,
                              char *customer, bool *sms);

/* "Unsubscribe" in lang (one of notify_languages; English otherwise). */
const char *notify_unsubscribe_label(const char *lang);

#endif
