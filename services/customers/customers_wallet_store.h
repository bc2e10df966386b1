/* Every SQL statement of the wallet (customers_wallet.c): settings, the
 * ledger and its balances, vouchers, and the wrong codes of the rate limit.
 * Each runs in the caller's transaction (or, outside one, alone) with the
 * tenant set for row-level security; each returns CM_OK or the database's
 * error (cm_db_exec), and allocates what it hands back as dynamic messages
 * the caller frees. */
#ifndef CUSTOMERS_WALLET_STORE_H
#define CUSTOMERS_WALLET_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "cm_db.h"
#include "cm_err.h"
#include "wallet.pb-c.h"

/* The business's wallet settings as the service uses them. */
struct customers_wallet_cfg {
    char currency[4]; // the currency in force (pinned, or the country's)
    bool pinned;      // customers.tenants.currency is set
    char country[3];  // the business's default country ("" when none)
    bool loyalty;     // points are counted
    int64_t points_per_unit;
    int64_t unit_minor;
};

cm_err_t customers_wallet_store_cfg(cm_db_t *db, const char *tenant,
                                    struct customers_wallet_cfg *out) CM_MUSTCHECK;

/* Sets the currency (NULL: leave it), loyalty and the rule. */
cm_err_t customers_wallet_store_cfg_put(cm_db_t *db, const char *tenant, const char *currency,
                                        const struct customers_wallet_cfg *cfg) CM_MUSTCHECK;

/* Pins the currency in force when none is pinned yet (the first money entry
 * or voucher); *pinned says whether this call did. */
cm_err_t customers_wallet_store_pin(cm_db_t *db, const char *tenant, const char *currency,
                                    bool *pinned) CM_MUSTCHECK;

/* True in *any when a money entry or a voucher exists (the currency is then
 * settled). */
cm_err_t customers_wallet_store_has_money(cm_db_t *db, const char *tenant, bool *any) CM_MUSTCHECK;

/* One posting (customers.wallet_post). Strings borrowed. */
struct customers_wallet_post {
    const char *customer_id;
    Crm__WalletKind kind;
    int64_t amount;       // signed
    const char *currency; // "" for points
    const char *reason;
    Crm__WalletSource source;
    const char *reference;  // "" for none
    const char *voucher_id; // NULL for none
    const char *by;         // who
};

/* What a posting came to. */
enum customers_wallet_outcome {
    CUSTOMERS_WALLET_CREATED,
    CUSTOMERS_WALLET_REPLAYED,       // the same reference was posted alike before
    CUSTOMERS_WALLET_REFERENCE_USED, // ... but for another customer or amount
    CUSTOMERS_WALLET_NO_CUSTOMER,
    CUSTOMERS_WALLET_INSUFFICIENT, // *balance is the balance now
};

/* Posts p. *entry (CREATED, REPLAYED, REFERENCE_USED: the entry) and
 * *balance (the balance after it, or now for INSUFFICIENT) are set. */
cm_err_t customers_wallet_store_post(cm_db_t *db, const char *tenant,
                                     const struct customers_wallet_post *p,
                                     enum customers_wallet_outcome *outcome,
                                     Crm__WalletEntry **entry, int64_t *balance) CM_MUSTCHECK;

/* The customer's balances; *exists false when there is no such customer. */
cm_err_t customers_wallet_store_balances(cm_db_t *db, const char *tenant, const char *customer,
                                         bool *exists, int64_t *money,
                                         int64_t *points) CM_MUSTCHECK;

/* A page of the customer's entries, newest first, of kind (UNSPECIFIED:
 * both), before the entry numbered before_seq (0: from the newest), at most
 * limit; *next_seq the last one's number when there may be more, else 0. */
cm_err_t customers_wallet_store_entries(cm_db_t *db, const char *tenant, const char *customer,
                                        Crm__WalletKind kind, long before_seq, int limit,
                                        Crm__ListWalletEntriesResponse *resp,
                                        long *next_seq) CM_MUSTCHECK;

/* A new voucher (code_hash of CUSTOMERS_WALLET_HASH_SIZE bytes); expires_on
 * "YYYY-MM-DD" or "" for never. */
#define CUSTOMERS_WALLET_HASH_SIZE 32
cm_err_t customers_wallet_store_voucher_add(cm_db_t *db, const char *tenant, const uint8_t *hash,
                                            const char *hint, int64_t amount, const char *currency,
                                            const char *expires_on, const char *note,
                                            const char *by, Crm__Voucher **out) CM_MUSTCHECK;

/* The voucher of a code's hash; *out NULL when there is none. */
cm_err_t customers_wallet_store_voucher_find(cm_db_t *db, const char *tenant, const uint8_t *hash,
                                             Crm__Voucher **out) CM_MUSTCHECK;

/* Marks voucher id redeemed onto customer by `by` when it is ISSUED (not
 * redeemed, not expired), under its row lock. *out the voucher after, with
 * *redeemed true when this call redeemed it (else *out says its state). */
cm_err_t customers_wallet_store_voucher_redeem(cm_db_t *db, const char *tenant, const char *id,
                                               const char *customer, const char *by, bool *redeemed,
                                               Crm__Voucher **out) CM_MUSTCHECK;

/* Marks voucher id cancelled by `by` for reason when it is neither redeemed
 * nor cancelled, under its row lock. *cancelled says whether it was; *out the
 * voucher after, with either outcome (dynamic, the caller frees it).
 * CM_ERR_NOT_FOUND when the tenant has no such voucher. */
cm_err_t customers_wallet_store_voucher_cancel(cm_db_t *db, const char *tenant, const char *id,
                                               const char *by, const char *reason, bool *cancelled,
                                               Crm__Voucher **out) CM_MUSTCHECK;

/* The money and points of customers ids (n of them, UUIDs) of tenant, in
 * the order given, into resp->wallets (currency and money_text left to the
 * caller); a customer the tenant does not have is left out. */
cm_err_t customers_wallet_store_many(cm_db_t *db, const char *tenant, char *const *ids, size_t n,
                                     Crm__ListWalletsResponse *resp) CM_MUSTCHECK;

/* A page of vouchers, newest first, of state (UNSPECIFIED: all); paging as
 * customers_wallet_store_entries. */
cm_err_t customers_wallet_store_vouchers(cm_db_t *db, const char *tenant, Crm__VoucherState state,
                                         long before_seq, int limit,
                                         Crm__ListVouchersResponse *resp,
                                         long *next_seq) CM_MUSTCHECK;

/* The caller's wrong codes in the last window_s seconds, and ms since the
 * oldest of them. */
cm_err_t customers_wallet_store_failures(cm_db_t *db, const char *tenant, const char *caller,
                                         long window_s, long *n,
                                         int64_t *oldest_age_ms) CM_MUSTCHECK;

/* Counts a wrong code of the caller's, forgetting its ones older than
 * window_s. Outside a transaction: it stays when the call fails. */
cm_err_t customers_wallet_store_failure_add(cm_db_t *db, const char *tenant, const char *caller,
                                            long window_s) CM_MUSTCHECK;

#endif
