/* Every SQL statement of newsletters (docs/notify.md, "Newsletters"):
 * campaigns, their recipients and the work of reading them page by page. */
#ifndef NOTIFY_CAMPAIGNS_STORE_H
#define NOTIFY_CAMPAIGNS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "notify.pb-c.h"

/* Inserts campaign c (its id set by the caller) and its work row, sent at
 * rate messages a second, in the caller's transaction of tenant. */
cm_err_t notify_campaigns_store_create(cm_db_t *db, const char *tenant, const Crm__Campaign *c,
                                       int rate) CM_MUSTCHECK;

/* The campaign with id in the session's tenant, with its counts:
 * CM_ERR_NOT_FOUND when none. *out is dynamic (caller frees). */
cm_err_t notify_campaigns_store_get(cm_db_t *db, const char *id, Crm__Campaign **out) CM_MUSTCHECK;

/* Up to limit campaigns, newest first, after the keyset position (after_id
 * NULL for the first page); appends to resp and writes the next position
 * (next_id "" on the last page; size 40). */
cm_err_t notify_campaigns_store_list(cm_db_t *db, int limit, int64_t after_us, const char *after_id,
                                     Crm__ListCampaignsResponse *resp, int64_t *next_us,
                                     char *next_id) CM_MUSTCHECK;

/* Cancels a campaign still expanding or sending, in the caller's
 * transaction: its work row goes, and its messages still queued leave the
 * queue, FAILED with "campaign cancelled". *found false when there is no
 * such campaign; *cancelled false when it had ended already. */
cm_err_t notify_campaigns_store_cancel(cm_db_t *db, const char *id, bool *found,
                                       bool *cancelled) CM_MUSTCHECK;

/* A campaign a copy's tick took to expand. */
struct notify_campaign_claim {
    char id[40];
    char tenant_id[40];
};

/* Takes up to max campaigns of any tenant still to expand whose lease has
 * ended (FOR UPDATE SKIP LOCKED) and moves their lease lease_ms ahead. One
 * statement. Sets *n. */
cm_err_t notify_campaigns_store_claim(cm_db_t *db, int max, long lease_ms,
                                      struct notify_campaign_claim *out, int *n) CM_MUSTCHECK;

/* Moves a claimed campaign's lease lease_ms from now, so it is claimed again
 * soon after (0: at once). */
cm_err_t notify_campaigns_store_release(cm_db_t *db, const char *id, long lease_ms) CM_MUSTCHECK;

/* Where the expansion of campaign id stands: *expanding false when it is
 * not expanding any more (sending, cancelled, gone); cursor (size) the
 * customers page token of the next page, "" for the first. */
cm_err_t notify_campaigns_store_cursor(cm_db_t *db, const char *id, bool *expanding, char *cursor,
                                       size_t size) CM_MUSTCHECK;

/* Records one customer of a page in the caller's transaction: *inserted
 * false when the customer was recorded before (the page is being read
 * again), and nothing is done then. skipped: NULL, or "NO_CONSENT",
 * "NO_ADDRESS". */
cm_err_t notify_campaigns_store_recipient(cm_db_t *db, const char *tenant, const char *campaign,
                                          const char *customer, const char *skipped,
                                          bool *inserted) CM_MUSTCHECK;

/* Ties a queued message to its recipient and makes it due at the
 * campaign's next slot (the throttle: one every 1/rate seconds). */
cm_err_t notify_campaigns_store_queued(cm_db_t *db, const char *campaign, const char *customer,
                                       const char *message_id) CM_MUSTCHECK;

/* Ends a page in the caller's transaction: adds the page's counts and moves
 * the cursor from cursor to next (next "" : the last page, the campaign is
 * SENDING and its work row goes). *moved false when the campaign was not at
 * cursor or not expanding any more (another copy did it, or it was
 * cancelled): the caller rolls back. */
cm_err_t notify_campaigns_store_advance(cm_db_t *db, const char *id, const char *cursor,
                                        const char *next, int total, int no_consent, int no_address,
                                        bool *moved) CM_MUSTCHECK;

#endif
