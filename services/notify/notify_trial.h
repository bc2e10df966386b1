/* The trial mailbox of `make run` read back (compose/trial_mailbox.py keeps
 * what it receives under one directory): the e-mails of its Maildir (DIR/mail
 * new/ and cur/) and the SMS of DIR/sms.jsonl, newest first, each with the
 * key that finds its message in notify.messages. */
#ifndef NOTIFY_TRIAL_H
#define NOTIFY_TRIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The newest entries looked at, and the most of one kept as raw text. */
#define NOTIFY_TRIAL_SCAN 500
#define NOTIFY_TRIAL_RAW_MAX (256 * 1024)

struct notify_trial_entry {
    char key[300]; // e-mail: its Message-ID without <>; SMS: its reference (message id)
    bool sms;
    int64_t received_ms;
    char *raw; // owned: the e-mail's source or the SMS's JSON line (capped)
};

/* Reads dir; fills *out (owned array, release with notify_trial_free) with up
 * to NOTIFY_TRIAL_SCAN entries, newest first. A missing directory or file is
 * no entry. Returns the count. */
size_t notify_trial_read(const char *dir, struct notify_trial_entry **out);

void notify_trial_free(struct notify_trial_entry *entries, size_t n);

/* The Message-ID of a message's header (without <>) into id (size idsz);
 * false when it has none. Pure, for tests. */
bool notify_trial_message_id(const char *raw, char *id, size_t idsz);

#endif
