/* SMS: how a text is encoded and split into parts (3GPP TS 23.038 GSM 7-bit
 * default alphabet and its extension table, else UCS-2), and the request to
 * the HTTP provider (docs/notify.md, "SMS"). The measure is pure; the send
 * blocks (a sender thread). */
#ifndef NOTIFY_SMS_H
#define NOTIFY_SMS_H

#include <stdbool.h>
#include <stddef.h>
#include "notify_smtp.h" // struct notify_result

/* One SMS: 160 septets or 70 UCS-2 units; a part of a longer one 153 or 67
 * (the rest carries the concatenation header). */
#define NOTIFY_SMS_GSM_SINGLE 160
#define NOTIFY_SMS_GSM_PART 153
#define NOTIFY_SMS_UCS2_SINGLE 70
#define NOTIFY_SMS_UCS2_PART 67
/* Most parts a message may take. */
#define NOTIFY_SMS_MAX_PARTS 10

enum notify_sms_encoding { NOTIFY_SMS_GSM7 = 0, NOTIFY_SMS_UCS2 };

struct notify_sms_measure {
    enum notify_sms_encoding encoding;
    size_t characters; // Unicode code points
    size_t units;      // GSM7: septets (an extension character is 2); UCS2: 16-bit units
    int parts;         // 0 for an empty text
    int per_part;      // units a part holds (single or concatenated)
    int remaining;     // units still free in the last part
};

/* Measures UTF-8 text (invalid UTF-8: -1). GSM7 when every character is in
 * the default alphabet or its extension table, else UCS2; parts are filled
 * without splitting an escape sequence or a surrogate pair. Returns 0. */
int notify_sms_measure(const char *text, struct notify_sms_measure *m);

/* The provider's settings. */
struct notify_sms_cfg {
    const char *url;   // POST target (borrowed, config)
    const char *token; // sent as "Authorization: Bearer <token>"
    const char *from;  // the sender name or number
    long connect_timeout_ms;
    long timeout_ms;
};

/* Whether s is a sender the networks take: 1 to 11 letters, digits and
 * spaces (an alphanumeric sender), or '+' and 1 to 15 digits. */
bool notify_sms_from_ok(const char *s);

/* Sends one SMS from `from` (a sender notify_sms_from_ok takes; "" for the
 * configured one; reference: the message's id, also its Idempotency-Key) and
 * fills *r: 2xx sent; 408, 429, 5xx, timeouts and unreachable retried;
 * other 4xx refused, with the provider's answer in the reason. */
void notify_sms_send(const struct notify_sms_cfg *cfg, const char *reference, const char *from,
                     const char *to, const char *text, struct notify_result *r);

/* The outcome of an HTTP status (0: no answer). Pure, for tests. */
enum notify_outcome notify_sms_classify(long status);

#endif
