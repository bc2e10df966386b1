/* What notify erases when a customer is deleted (docs/operations.md,
 * "Erasure"): their messages not sent yet are cancelled; their messages and
 * replies, and their stored events of the notify stream, keep ids, status and
 * times, without the address, name, subject, text, error text or reply; their
 * sign-in account, set-password links and registrations go. */
#ifndef NOTIFY_ERASE_H
#define NOTIFY_ERASE_H

#include <stddef.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "envelope.pb-c.h"

/* The payload of one of an erased customer's message.* events without
 * personal data (a cm_outbox_scrub_fn); NULL when it does not decode.
 * Dynamic: the caller frees it. */
uint8_t *notify_erase_scrub(const Crm__Event *ev, size_t *len);

/* Applies a customers event (cm_follow's apply, in its transaction): a
 * customer.deleted erases that customer (notify_erase_customer), a
 * customer.merged moves the duplicate's rows to the customer kept
 * (notify_store_merge); any other type, or one without a customer id, does
 * nothing. Returns CM_OK or the database's error. */
cm_err_t notify_erase_apply(cm_db_t *db, const Crm__Event *ev) CM_MUSTCHECK;

/* Erases tenant's customer_id from notify's messages, replies, account and
 * registrations (notify_store_erase_customer) and rewrites their events in notify.outbox
 * through notify_erase_scrub, in the caller's transaction (cm_follow's,
 * applying customer.deleted, with app.tenant set). Returns CM_OK or the
 * database's error. */
cm_err_t notify_erase_customer(cm_db_t *db, const char *tenant,
                               const char *customer_id) CM_MUSTCHECK;

#endif
