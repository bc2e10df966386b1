/* E-mail over SMTP with libcurl: one client per sender thread, which keeps
 * its connection to the server between messages. Blocking: run it on a
 * sender thread, never on a thread that serves requests. */
#ifndef NOTIFY_SMTP_H
#define NOTIFY_SMTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum notify_starttls {
    NOTIFY_STARTTLS_AUTO = 0, // used when the server offers it
    NOTIFY_STARTTLS_REQUIRED, // a server without it fails the attempt (temporarily)
    NOTIFY_STARTTLS_OFF,
};

struct notify_smtp_cfg {
    const char *url; // smtp://host:port or smtps://host:port (borrowed, config)
    enum notify_starttls starttls;
    const char *user; // "" for no login
    const char *password;
    const char *ca_file; // "" for the system's trust store
    const char *helo;    // the EHLO name; "" for "localhost"
    long connect_timeout_ms;
    long timeout_ms; // a whole message, DATA included
};

/* What became of one attempt. */
enum notify_outcome {
    NOTIFY_SENT = 0, // the server accepted the message (250 after DATA)
    NOTIFY_RETRY,    // a temporary failure: 4xx, no answer, timeout, refused, TLS
    NOTIFY_REFUSED,  // a permanent refusal: 5xx
};

struct notify_result {
    enum notify_outcome outcome;
    char reason[256]; // what the server or the transport said, for the record
};

typedef struct notify_smtp notify_smtp_t;

/* A client for cfg (borrowed; it must outlive the client). stop (borrowed,
 * may be NULL) cuts a message short when it turns true: the service is
 * stopping, and the message is tried again later. */
notify_smtp_t *notify_smtp_new(const struct notify_smtp_cfg *cfg, const atomic_bool *stop);
void notify_smtp_destroy(notify_smtp_t **self_p);

/* Cuts the message under way short from another thread (the service
 * stops): its connection is shut down, so the attempt fails at once and the
 * message is tried again later. Safe at any time. */
void notify_smtp_interrupt(notify_smtp_t *self);

/* Sends one message (the whole RFC 5322 text, CRLF line ends) from `from` to
 * `to` (addr-specs) and fills *r. */
void notify_smtp_send(notify_smtp_t *self, const char *from, const char *to, const char *data,
                      size_t len, struct notify_result *r);

/* The outcome of a libcurl result and the last SMTP reply code (0: none):
 * 5xx is a refusal, 4xx and transport failures are temporary. Pure, for tests. */
enum notify_outcome notify_smtp_classify(int curl_code, long smtp_code);

#endif
