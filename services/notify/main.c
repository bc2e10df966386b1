/* The notify service: wiring only. E-mail over SMTP from a durable outbox of
 * messages (docs/notify.md). */
#include "notify_handlers.h"
#include "notify_mime.h"
#include "notify_sms.h"
#include "cm_cfg.h"
#include "cm_events.h"
#include "cm_http.h"
#include "cm_log.h"
#include "cm_svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

static struct {
    struct cm_svc_settings svc;
    char *events_in_endpoint;
    char *events_out_endpoint;
    char *smtp_url;
    char *smtp_starttls;
    char *smtp_user;
    char *smtp_password;
    char *smtp_ca_file;
    char *smtp_helo;
    char *smtp_from;
    char *smtp_from_name;
    char *trial_mailbox;
    char *public_url;
    char *link_key;
    char *reply_domain;
    long link_hours;
    long sign_in_failures;
    long sign_in_window_s;
    long registrations_per_address;
    long registrations_per_email;
    long registration_window_s;
    char *sms_url;
    char *sms_token;
    char *sms_from;
    long sms_timeout_ms;
    long smtp_connect_timeout_ms;
    long smtp_timeout_ms;
    long senders;
    long batch;
    long poll_ms;
    long retry_min_ms;
    long retry_max_ms;
    long max_attempts;
    long campaign_rate;
    long outbox_retain_hours;
    char *outbox_readers;
    long body_retain_hours;
} cfg;

static int s_smtp_url_check(const char *value, char *why, size_t whysz)
{
    if (!value[0] || !strncmp(value, "smtp://", 7) || !strncmp(value, "smtps://", 8))
        return 0;
    snprintf(why, whysz, "smtp://host:port or smtps://host:port (or empty: no e-mail)");
    return -1;
}

static int s_starttls_check(const char *value, char *why, size_t whysz)
{
    if (!strcmp(value, "auto") || !strcmp(value, "required") || !strcmp(value, "off"))
        return 0;
    snprintf(why, whysz, "auto, required or off");
    return -1;
}

static int s_from_check(const char *value, char *why, size_t whysz)
{
    if (notify_mime_addr_ok(value))
        return 0;
    snprintf(why, whysz, "an e-mail address (user@domain)");
    return -1;
}

static int s_sms_url_check(const char *value, char *why, size_t whysz)
{
    if (!value[0] || !strncmp(value, "https://", 8) || !strncmp(value, "http://", 7))
        return 0;
    snprintf(why, whysz, "an http:// or https:// URL (or empty: no SMS)");
    return -1;
}

static int s_sms_from_check(const char *value, char *why, size_t whysz)
{
    if (notify_sms_from_ok(value))
        return 0;
    snprintf(why, whysz, "1 to 11 letters, digits and spaces, or + and up to 15 digits");
    return -1;
}

static int s_key_check(const char *value, char *why, size_t whysz)
{
    size_t n = strlen(value);
    bool hex = n == 64;
    for (size_t i = 0; i < n && hex; i++)
        hex = strchr("0123456789abcdefABCDEF", value[i]) != NULL;
    if (!n || hex)
        return 0;
    snprintf(why, whysz, "64 hexadecimal digits (32 bytes), or empty");
    return -1;
}

static int s_line_check(const char *value, char *why, size_t whysz)
{
    if (!strpbrk(value, "\r\n"))
        return 0;
    snprintf(why, whysz, "one line");
    return -1;
}

static int s_readers_check(const char *value, char *why, size_t whysz)
{
    if (cm_events_readers_ok(value))
        return 0;
    snprintf(why, whysz, "reader names (a-z, 0-9, '.', '_', '-') separated by commas");
    return -1;
}

static int s_domain_check(const char *value, char *why, size_t whysz)
{
    size_t n = strlen(value);
    bool ok = n < 200;
    for (size_t i = 0; i < n && ok; i++)
        ok = (value[i] >= 'a' && value[i] <= 'z') || (value[i] >= 'A' && value[i] <= 'Z') ||
             (value[i] >= '0' && value[i] <= '9') || value[i] == '-' || value[i] == '.';
    if (ok && (!n || strchr(value, '.')))
        return 0;
    snprintf(why, whysz, "a domain name (replies.example.com), or empty: no Reply-To");
    return -1;
}

static const struct cm_cfg_item s_cfg[] = {
    CM_SVC_CFG_ITEMS(cfg.svc),
    {"events_in_endpoint", CM_CFG_STR, &cfg.events_in_endpoint, "tcp://127.0.0.1:5556"},
    {"events_out_endpoint", CM_CFG_STR, &cfg.events_out_endpoint, "tcp://127.0.0.1:5557"},
    {"smtp_url", CM_CFG_STR, &cfg.smtp_url, "", .check = s_smtp_url_check},
    {"smtp_starttls", CM_CFG_STR, &cfg.smtp_starttls, "auto", .check = s_starttls_check},
    {"smtp_user", CM_CFG_STR, &cfg.smtp_user, ""},
    {"smtp_password", CM_CFG_STR, &cfg.smtp_password, "", .secret = true},
    {"smtp_ca_file", CM_CFG_STR, &cfg.smtp_ca_file, ""},
    {"smtp_helo", CM_CFG_STR, &cfg.smtp_helo, "localhost", .check = s_line_check},
    {"smtp_from", CM_CFG_STR, &cfg.smtp_from, "crm@localhost", .check = s_from_check},
    {"smtp_from_name", CM_CFG_STR, &cfg.smtp_from_name, "", .check = s_line_check},
    {"smtp_connect_timeout_ms", CM_CFG_INT, &cfg.smtp_connect_timeout_ms, "10000", .min = 100,
     .max = 120000},
    {"smtp_timeout_ms", CM_CFG_INT, &cfg.smtp_timeout_ms, "60000", .min = 100, .max = 600000},
    {"notify_trial_mailbox", CM_CFG_STR, &cfg.trial_mailbox, ""},
    {"public_url", CM_CFG_STR, &cfg.public_url, "http://127.0.0.1:8080",
     .check = cm_cfg_check_public_url},
    {"notify_link_key", CM_CFG_STR, &cfg.link_key, "", .secret = true, .check = s_key_check},
    {"notify_reply_domain", CM_CFG_STR, &cfg.reply_domain, "", .check = s_domain_check},
    {"notify_link_hours", CM_CFG_INT, &cfg.link_hours, "72", .min = 1, .max = 24 * 30},
    {"notify_sign_in_failures", CM_CFG_INT, &cfg.sign_in_failures, "5", .min = 1, .max = 1000},
    {"notify_sign_in_window_s", CM_CFG_INT, &cfg.sign_in_window_s, "900", .min = 1, .max = 86400},
    {"notify_registrations_per_address", CM_CFG_INT, &cfg.registrations_per_address, "20", .min = 1,
     .max = 100000},
    {"notify_registrations_per_email", CM_CFG_INT, &cfg.registrations_per_email, "3", .min = 1,
     .max = 1000},
    {"notify_registration_window_s", CM_CFG_INT, &cfg.registration_window_s, "3600", .min = 1,
     .max = 86400 * 7},
    {"sms_url", CM_CFG_STR, &cfg.sms_url, "", .check = s_sms_url_check},
    {"sms_token", CM_CFG_STR, &cfg.sms_token, "", .secret = true, .check = s_line_check},
    {"sms_from", CM_CFG_STR, &cfg.sms_from, "CRM", .check = s_sms_from_check},
    {"sms_timeout_ms", CM_CFG_INT, &cfg.sms_timeout_ms, "15000", .min = 100, .max = 120000},
    {"notify_senders", CM_CFG_INT, &cfg.senders, "4", .min = 1, .max = 64},
    {"notify_batch", CM_CFG_INT, &cfg.batch, "8", .min = 1, .max = 64},
    {"notify_poll_ms", CM_CFG_INT, &cfg.poll_ms, "1000", .min = 10, .max = 60000},
    {"notify_retry_min_ms", CM_CFG_INT, &cfg.retry_min_ms, "30000", .min = 10, .max = 86400000},
    {"notify_retry_max_ms", CM_CFG_INT, &cfg.retry_max_ms, "3600000", .min = 10, .max = 86400000},
    {"notify_max_attempts", CM_CFG_INT, &cfg.max_attempts, "12", .min = 1, .max = 1000},
    {"notify_campaign_rate", CM_CFG_INT, &cfg.campaign_rate, "20", .min = 1, .max = 10000},
    /* Hours; -1 keeps forever. */
    {"notify_outbox_retain_hours", CM_CFG_INT, &cfg.outbox_retain_hours, "720", .min = -1,
     .max = 24 * 36500},
    {"notify_outbox_readers", CM_CFG_STR, &cfg.outbox_readers, "notes", .check = s_readers_check},
    {"notify_body_retain_hours", CM_CFG_INT, &cfg.body_retain_hours, "2160", .min = -1,
     .max = 24 * 36500},
    {NULL},
};

int main(int argc, char **argv)
{
    cm_log_init("notify");
    cm_cfg_main("notify", s_cfg, argc, argv);
    cm_http_init();
    if (cfg.retry_max_ms < cfg.retry_min_ms) {
        fprintf(stderr, "notify: CRM_NOTIFY_RETRY_MAX_MS must be at least "
                        "CRM_NOTIFY_RETRY_MIN_MS\n");
        cm_cfg_free(s_cfg);
        return 2;
    }
    struct notify_smtp_cfg smtp = {
        .url = cfg.smtp_url,
        .starttls = !strcmp(cfg.smtp_starttls, "required") ? NOTIFY_STARTTLS_REQUIRED
                    : !strcmp(cfg.smtp_starttls, "off")    ? NOTIFY_STARTTLS_OFF
                                                           : NOTIFY_STARTTLS_AUTO,
        .user = cfg.smtp_user,
        .password = cfg.smtp_password,
        .ca_file = cfg.smtp_ca_file,
        .helo = cfg.smtp_helo,
        .connect_timeout_ms = cfg.smtp_connect_timeout_ms,
        .timeout_ms = cfg.smtp_timeout_ms,
    };
    struct notify_sms_cfg sms = {
        .url = cfg.sms_url,
        .token = cfg.sms_token,
        .from = cfg.sms_from,
        .connect_timeout_ms = cfg.smtp_connect_timeout_ms,
        .timeout_ms = cfg.sms_timeout_ms,
    };
    struct notify_state state = {
        .events_in_endpoint = cfg.events_in_endpoint,
        .events_out_endpoint = cfg.events_out_endpoint,
        .from_addr = cfg.smtp_from,
        .from_name = cfg.smtp_from_name,
        .email = cfg.smtp_url[0] != '\0',
        .sms = cfg.sms_url[0] != '\0',
        .sms_from = cfg.sms_from,
        .trial_dir = cfg.trial_mailbox,
        .link_hours = cfg.link_hours,
        .sign_in_failures = (int)cfg.sign_in_failures,
        .sign_in_window_s = cfg.sign_in_window_s,
        .registrations_per_address = (int)cfg.registrations_per_address,
        .registrations_per_email = (int)cfg.registrations_per_email,
        .registration_window_s = cfg.registration_window_s,
        .bus = cfg.svc.bus_endpoint,
        .campaign_rate = (int)cfg.campaign_rate,
        .outbox_retain_hours = cfg.outbox_retain_hours,
        .outbox_readers = cfg.outbox_readers,
        .body_retain_hours = cfg.body_retain_hours,
        .sender_cfg =
            {
                .database_url = cfg.svc.database_url,
                .db_role = cfg.svc.db_role,
                .threads = (int)cfg.senders,
                .batch = (int)cfg.batch,
                .poll_ms = cfg.poll_ms,
                .retry_min_ms = cfg.retry_min_ms,
                .retry_max_ms = cfg.retry_max_ms,
                .max_attempts = (int)cfg.max_attempts,
                .smtp = cfg.smtp_url[0] ? &smtp : NULL,
                .sms = cfg.sms_url[0] ? &sms : NULL,
                .public_url = cfg.public_url,
                .reply_domain = cfg.reply_domain,
            },
    };
    if (sodium_init() < 0) {
        fprintf(stderr, "notify: libsodium does not start\n");
        cm_cfg_free(s_cfg);
        return 1;
    }
    if (cfg.link_key[0]) {
        (void)sodium_hex2bin(state.sender_cfg.link_key, sizeof state.sender_cfg.link_key,
                             cfg.link_key, strlen(cfg.link_key), NULL, NULL, NULL);
    } else {
        /* Links queued before a restart cannot be opened then: make run keeps a key. */
        randombytes_buf(state.sender_cfg.link_key, sizeof state.sender_cfg.link_key);
        cm_log_warn("CRM_NOTIFY_LINK_KEY is not set: a key for this run only");
    }
    if (!state.email)
        cm_log_warn("CRM_SMTP_URL is not set: e-mail cannot be sent");
    if (!state.sms)
        cm_log_info("CRM_SMS_URL is not set: SMS cannot be sent");
    /* RFC 8058 one-click needs an https URL: Gmail and Yahoo ignore another. */
    if (state.email && strncmp(cfg.public_url, "https://", 8) != 0)
        cm_log_warn("CRM_PUBLIC_URL is not https: mail providers offer no one-click "
                    "unsubscribe for newsletters (List-Unsubscribe)");
    struct cm_svc_def def = {
        .name = "notify",
        .methods = notify_methods,
        .n_methods = notify_n_methods,
        .start = notify_start,
        .stop = notify_stop,
        .tick = notify_tick,
        .tick_ms = 200,
        .user = &state,
    };
    struct cm_svc_cfg svc_cfg = cm_svc_cfg_of(&cfg.svc);
    int rc = cm_svc_run(&def, &svc_cfg);
    cm_cfg_free(s_cfg);
    return rc;
}
