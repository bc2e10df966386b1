/* The background senders: threads, each with its own database connection
 * and SMTP client, that claim due messages from notify.queue, send them and
 * record what became of them. Several copies of the service share the queue
 * safely (FOR UPDATE SKIP LOCKED, a lease per claim). The threads never
 * serve requests, so a slow SMTP server holds up only them. */
#ifndef NOTIFY_SENDER_H
#define NOTIFY_SENDER_H

#include <stdbool.h>
#include <stdint.h>
#include "notify_sms.h"
#include "notify_smtp.h"

struct notify_sender_cfg {
    const char *database_url; // borrowed (config)
    const char *db_role;
    int threads;                        // sender threads
    int batch;                          // messages claimed at once per thread
    long poll_ms;                       // how often an idle sender looks for due messages
    long retry_min_ms;                  // the first retry's wait, doubled per attempt
    long retry_max_ms;                  // the longest wait between attempts
    int max_attempts;                   // attempts before a message fails for good
    const struct notify_smtp_cfg *smtp; // borrowed; NULL: e-mail not configured
    const struct notify_sms_cfg *sms;   // borrowed; NULL: SMS not configured
    const char *public_url;             // where the gateway is reached: links point there
    uint8_t link_key[32];               // seals a message's link until it is sent
    const char *reply_domain;           // "": no Reply-To; else reply+<token>@reply_domain
};

typedef struct notify_sender notify_sender_t;

/* Starts the threads. Returns the owned pool, or NULL if no thread started. */
notify_sender_t *notify_sender_start(const struct notify_sender_cfg *cfg);

/* Wakes an idle sender (a message was just queued). Any thread. */
void notify_sender_wake(notify_sender_t *self);

/* Stops the threads (each finishes the message it is sending) and frees the
 * pool; NULL-safe. */
void notify_sender_stop(notify_sender_t **self_p);

/* The page a set-password token opens, under public_url. */
#define NOTIFY_LINK_PATH "/ui/password.html?token="
/* The page a staff invitation's token opens (a message of this kind). */
#define NOTIFY_STAFF_INVITE_KIND "staff_invite"
#define NOTIFY_INVITE_PATH "/ui/#/invite/"
/* The page a staff member's password reset token opens (a message of this kind). */
#define NOTIFY_STAFF_RESET_KIND "staff_password_reset"
#define NOTIFY_RESET_PATH "/ui/#/reset/"
/* A service e-mail to a staff member (notify.SendStaffNotice: notes' Orders bot). */
#define NOTIFY_STAFF_NOTICE_KIND "staff_notice"

/* The page under public_url a message of kind's sealed token opens. Pure. */
const char *notify_sender_link_path(const char *kind);
/* Whether a message of kind goes to a staff member (no customer, no replies). Pure. */
bool notify_sender_staff_kind(const char *kind);

/* The kinds of marketing e-mail: a newsletter's, and the one an automation
 * rule sends with marketing (notify.SendMessage with marketing). */
#define NOTIFY_NEWSLETTER_KIND "newsletter"
#define NOTIFY_MARKETING_KIND "marketing"
/* Whether a message of kind is marketing e-mail, which carries List-Unsubscribe. Pure. */
bool notify_sender_marketing_kind(const char *kind);

/* Copies s with every "{{link}}" replaced by link. Returns a string the
 * caller frees. Pure, for tests. */
char *notify_sender_fill_link(const char *s, const char *link);

/* The wait before attempt `attempts` + 1 after a temporary failure: min,
 * doubled for each attempt after the first, at most max. Pure. */
long notify_sender_backoff(int attempts, long min_ms, long max_ms);

#endif
