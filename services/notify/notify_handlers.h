/* The notify service's method table, its state (shared by the handler
 * threads, read-only but for the password-hashing slots) and its hooks. */
#ifndef NOTIFY_HANDLERS_H
#define NOTIFY_HANDLERS_H

#include <pthread.h>
#include <stdint.h>
#include "cm_follow.h"
#include "cm_svc.h"
#include "notify_sender.h"
#include "notify.pb-c.h"

struct cm_events_pub;
struct cm_follow;

struct notify_state {
    /* Config, borrowed. */
    const char *events_in_endpoint;
    const char *from_addr; // the sender's address
    const char *from_name;
    bool email;            // CRM_SMTP_URL is set
    bool sms;              // CRM_SMS_URL is set
    const char *sms_from;  // the SMS sender name or number
    const char *trial_dir; // the trial mailbox's directory, "" when there is none
    long link_hours;       // a set-password link is valid this long
    int sign_in_failures;  // failed sign-ins of an address allowed per window
    long sign_in_window_s;
    /* Self-registration (notify_register.c): asks allowed per window from one
     * client address (across businesses) and for one address of a business. */
    int registrations_per_address;
    int registrations_per_email;
    long registration_window_s;
    /* Password hashing (notify_accounts.c): at most two at once (each takes
     * 64 MiB). */
    struct cm_pwhash *pw; // owned: made by start
    struct notify_sender_cfg sender_cfg;
    /* Set by start, used by the handler threads (wake only) and the main thread. */
    notify_sender_t *sender;   // owned
    struct cm_events_pub *pub; // owned; main thread only
    int64_t next_heartbeat_ms; // main thread only
    /* Newsletters (notify_campaigns.c). */
    const char *bus;                       // borrowed (config): the broker
    int campaign_rate;                     // messages a second of one campaign
    struct cm_mdp_client *campaign_client; // owned; main thread only: the tick's requests
    int64_t next_campaign_ms;              // main thread only
    /* Welcome on auto-registration (notify_welcome.c); main thread only. */
    const char *events_out_endpoint;  // borrowed (config): where the streams come from
    struct cm_follow_def welcome_def; // what welcome_follow follows
    struct cm_follow *welcome_follow; // owned: the customers stream
    int64_t next_welcome_ms;
    int64_t next_schedule_ms; // main thread only: the scheduled messages' tick
    /* Retention (notify_retention.c); main thread only. Hours, -1: forever. */
    long outbox_retain_hours;
    const char *outbox_readers; // borrowed (config): who must have read an event first
    long body_retain_hours;
    int64_t next_outbox_prune_ms;
    int64_t next_body_prune_ms;
    int64_t next_registration_prune_ms;
};

extern const struct cm_method notify_methods[];

/* The content of a message on a channel (EMAIL when unspecified): subject,
 * text and html within their limits, violations named "channel", "subject",
 * "text", "html". False when one failed. */
/* A page token of a list ("<created_at in µs>_<id>"): false when tok is not
 * one. */
bool notify_page_token_parse(const char *tok, int64_t *us, char id[40]);
/* Checks a list request's pageSize (0..max) and pageToken (violations on
 * the call); a token's position into *after_us and after_id ("" for none). */
void notify_page_check(struct cm_call *call, int32_t page_size, int32_t max, const char *token,
                       int64_t *after_us, char after_id[40]);

/* Sets *field (a string of a dynamic message) to the page token of position
 * (us, id); leaves it when id is "" (the last page). */
void notify_page_token_set(char **field, int64_t us, const char *id);

bool notify_check_content(struct cm_call *call, Crm__Channel channel, const char *subject,
                          const char *text, const char *html);
extern const size_t notify_n_methods;

/* Starts the senders and the event publisher. */
void notify_start(cm_svc_t *svc, void *user);
/* Stops the senders (each finishes its message) and the publisher. */
void notify_stop(cm_svc_t *svc, void *user);
/* Relays the "notify" stream's outbox and heartbeats it. */
void notify_tick(cm_svc_t *svc, void *user);

#endif
