/* The customers event stream: events written to the outbox with the change,
 * the relay that numbers and publishes them, and replay for subscribers. */
#ifndef CUSTOMERS_EVENTS_H
#define CUSTOMERS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "cm_outbox.h"
#include "customers.pb-c.h"
#include "customers_store.h"

struct cm_events_pub;

#define CUSTOMERS_STREAM "customers"
/* The type of a wallet ledger entry's event (payload crm.WalletEvent). */
#define CUSTOMERS_WALLET_EVENT "wallet.entry"
/* The type of a gift voucher's cancellation (payload crm.VoucherEvent). */
#define CUSTOMERS_VOUCHER_CANCELLED_EVENT "voucher.cancelled"
/* The types of a subscription's events (payload crm.SubscriptionEvent):
 * subscription.sold, .updated, .cancelled, .visit_used, .visit_undone. */
#define CUSTOMERS_SUBS_EVENT_PREFIX "subscription."
/* The type of a merge's event (payload crm.CustomerMergedEvent, not
 * crm.CustomerEvent). */
#define CUSTOMERS_MERGED_EVENT "customer.merged"
/* The type of a change to the business's settings (payload crm.SettingsEvent). */
#define CUSTOMERS_SETTINGS_EVENT "settings.updated"

/* The stream's outbox: relayed, heartbeated and replayed with cm_outbox_*. */
extern const struct cm_outbox customers_outbox;

/* Writes a customer.* event into the outbox, in the caller's transaction. */
cm_err_t customers_events_add(cm_db_t *db, const Crm__RequestHeader *hdr, const char *type,
                              const Crm__Customer *customer, Crm__FieldChange **changes,
                              size_t n_changes) CM_MUSTCHECK;

/* Writes an event of type with payload (any message: a wallet.entry's
 * crm.WalletEvent) into the outbox, in the caller's transaction; customer_id
 * (NULL: none) marks it for erasure. */
cm_err_t customers_events_add_payload(cm_db_t *db, const Crm__RequestHeader *hdr, const char *type,
                                      const ProtobufCMessage *payload,
                                      const char *customer_id) CM_MUSTCHECK;

/* Writes a settings.updated event carrying t (the tenant's settings as they
 * are after the change) into the outbox, in the caller's transaction. */
cm_err_t customers_events_settings(cm_db_t *db, const Crm__RequestHeader *hdr,
                                   const struct customers_tenant *t) CM_MUSTCHECK;

/* A customer was deleted: rewrites their earlier events in the outbox so that
 * the customer in them is only its id and etag, and each change keeps its
 * field but not the values. Replays after this carry no personal data of the
 * customer. In the caller's transaction. */
cm_err_t customers_events_erase(cm_db_t *db, const char *tenant,
                                const char *customer_id) CM_MUSTCHECK;

/* Fills resp with what the outbox keeps and its readers' positions. */
cm_err_t customers_events_stats(cm_db_t *db, Crm__OutboxStatsResponse *resp) CM_MUSTCHECK;

#endif
