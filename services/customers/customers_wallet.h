/* The wallet: money on a customer's account and loyalty points as an
 * append-only ledger, gift vouchers, and the business's currency and loyalty
 * rule (docs/api.md, "Wallet"; docs/bus.md, "Wallet"). Each ledger entry is
 * a wallet.entry event on the customers stream. */
#ifndef CUSTOMERS_WALLET_H
#define CUSTOMERS_WALLET_H

#include "cm_svc.h"
#include "wallet.pb-c.h"

/* Limits (docs/api.md, "Limits"). */
#define CUSTOMERS_WALLET_REASON_MAX 500            // characters of a reason
#define CUSTOMERS_WALLET_REFERENCE_MAX 200         // characters of a source's reference
#define CUSTOMERS_WALLET_NOTE_MAX 500              // characters of a voucher's note
#define CUSTOMERS_WALLET_AMOUNT_MAX 100000000000LL // minor units or points in one entry (10^11)
#define CUSTOMERS_WALLET_PAGE_DEFAULT 50
#define CUSTOMERS_WALLET_PAGE_MAX 200
/* Wrong voucher codes one caller (member or key) may try in the window
 * before RedeemVoucher answers RESOURCE_EXHAUSTED until the oldest leaves it. */
#define CUSTOMERS_VOUCHER_FAILURES 10
#define CUSTOMERS_VOUCHER_WINDOW_S 900

void customers_wallet_get(struct cm_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp);
void customers_wallet_list(struct cm_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp);
void customers_wallet_adjust(struct cm_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);
void customers_wallet_earn(struct cm_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp);
void customers_wallet_spend(struct cm_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp);
void customers_wallet_issue(struct cm_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp);
void customers_wallet_vouchers(struct cm_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp);
void customers_wallet_redeem_prepare(struct cm_call *call, const ProtobufCMessage *req);
void customers_wallet_redeem(struct cm_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);
/* ListWallets: the balances of up to CUSTOMERS_WALLET_BALANCES_MAX customers
 * (the export's page). */
#define CUSTOMERS_WALLET_BALANCES_MAX 500
void customers_wallet_balances(struct cm_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp);
/* CancelVoucher: an unredeemed voucher cancelled with a reason (CONFLICT when
 * it was redeemed; one cancelled before is answered as it is). */
void customers_wallet_cancel(struct cm_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);
void customers_wallet_settings_get(struct cm_call *call, const ProtobufCMessage *req,
                                   ProtobufCMessage **resp);
void customers_wallet_settings_update(struct cm_call *call, const ProtobufCMessage *req,
                                      ProtobufCMessage **resp);

/* Money posted for another part of the service: a subscription paid from
 * (amount < 0) or refunded to (amount > 0) the customer's balance, by the
 * principal (source STAFF) with reference, in the call's transaction and with
 * its wallet.entry event. *out the entry and the wallet after it, or NULL
 * with the call failed (CONFLICT naming field when the balance is short). */
void customers_wallet_post_money(struct cm_call *call, const char *customer, int64_t amount,
                                 const char *reason, const char *reference, const char *field,
                                 Crm__WalletEntryResponse **out);

/* The business's currency in force into out; false with the call failed. */
bool customers_wallet_currency(struct cm_call *call, char out[4]);

/* The wallet's entries of customers_methods[]. A voucher's code is answered
 * once: IssueVoucher keeps no idempotency record (a retry issues another,
 * as CreateApiKey makes another key). */
#define CUSTOMERS_WALLET_METHOD(name, req, resp, fn, flags, scope)                                 \
    CM_METHOD("customers", name, req, resp, fn, flags, scope)
#define CUSTOMERS_WALLET_METHODS                                                                   \
    CUSTOMERS_WALLET_METHOD("GetWallet", get_wallet_request, wallet, customers_wallet_get,         \
                            CM_METHOD_NO_TXN, CUSTOMERS_READ),                                     \
        CUSTOMERS_WALLET_METHOD("ListWalletEntries", list_wallet_entries_request,                  \
                                list_wallet_entries_response, customers_wallet_list,               \
                                CM_METHOD_NO_TXN, CUSTOMERS_READ),                                 \
        CUSTOMERS_WALLET_METHOD("AdjustWallet", adjust_wallet_request, wallet_entry_response,      \
                                customers_wallet_adjust, CM_METHOD_WRITE, CUSTOMERS_WRITE),        \
        CUSTOMERS_WALLET_METHOD("EarnPoints", earn_points_request, wallet_entry_response,          \
                                customers_wallet_earn, CM_METHOD_WRITE, CUSTOMERS_WRITE),          \
        CUSTOMERS_WALLET_METHOD("SpendPoints", spend_points_request, wallet_entry_response,        \
                                customers_wallet_spend, CM_METHOD_WRITE, CUSTOMERS_WRITE),         \
        CUSTOMERS_WALLET_METHOD("IssueVoucher", issue_voucher_request, issue_voucher_response,     \
                                customers_wallet_issue, 0, CUSTOMERS_WRITE),                       \
        CUSTOMERS_WALLET_METHOD("ListVouchers", list_vouchers_request, list_vouchers_response,     \
                                customers_wallet_vouchers, CM_METHOD_NO_TXN, CUSTOMERS_READ),      \
        CM_METHOD_PREPARED("customers", "RedeemVoucher", redeem_voucher_request,                   \
                           redeem_voucher_response, customers_wallet_redeem_prepare,               \
                           customers_wallet_redeem, CM_METHOD_WRITE, CUSTOMERS_WRITE),             \
        CUSTOMERS_WALLET_METHOD("ListWallets", list_wallets_request, list_wallets_response,        \
                                customers_wallet_balances, CM_METHOD_NO_TXN, CUSTOMERS_READ),      \
        CUSTOMERS_WALLET_METHOD("CancelVoucher", cancel_voucher_request, voucher,                  \
                                customers_wallet_cancel, CM_METHOD_WRITE, CUSTOMERS_WRITE),        \
        CUSTOMERS_WALLET_METHOD("GetWalletSettings", get_wallet_settings_request, wallet_settings, \
                                customers_wallet_settings_get, CM_METHOD_NO_TXN, CUSTOMERS_READ),  \
        CUSTOMERS_WALLET_METHOD("UpdateWalletSettings", update_wallet_settings_request,            \
                                wallet_settings, customers_wallet_settings_update,                 \
                                CM_METHOD_WRITE, SETTINGS)

#endif
