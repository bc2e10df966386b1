/* The rules a customer's new password must meet, and the list of the most
 * common passwords it may not be. Pure. */
#ifndef NOTIFY_PASSWORD_H
#define NOTIFY_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define NOTIFY_PASSWORD_MIN 10  // characters
#define NOTIFY_PASSWORD_MAX 128 // characters

/* NULL when password may be used by the customer with this e-mail address,
 * else the rule it breaks as a reason code: "TOO_SHORT", "TOO_LONG",
 * "INVALID_FORMAT" (not UTF-8, or a control character), "COMMON" (a common
 * password, a run like "1234567890", a short pattern repeated, or the e-mail
 * address or its local part). */
const char *notify_password_problem(const char *password, const char *email);

/* True when t has the shape of a link's token: 43 characters of base64url. */
bool notify_password_token_ok(const char *t);

/* The hex BLAKE2b-256 of a link's token: what is stored instead of it. */
void notify_password_token_hash(const char *token, char hex[65]);

#endif
