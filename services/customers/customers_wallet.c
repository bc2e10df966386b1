/* The wallet's handlers (customers_wallet.h): each checks its request, then
 * posts through customers.wallet_post, which keeps the balances and the
 * ledger together under the balance row's lock. */
#include "customers_wallet.h"
#include "customers_check.h"
#include "customers_events.h"
#include "customers_handlers.h"
#include "customers_tenant_cache.h"
#include "customers_staff_limit.h"
#include "customers_validate.h"
#include "customers_wallet_rules.h"
#include "customers_wallet_store.h"
#include "customers_store.h"
#include "cm_money.h"
#include "cm_pbjson.h"
#include "cm_log.h"
#include "cm_util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENANT(call) ((call)->hdr->tenant_id)
/* How far ahead a voucher's expiry may be: ten years. */
#define VOUCHER_EXPIRY_MAX_DAYS 3660

/* Who acts, as the ledger and the vouchers record it. */
static const char *s_who(const struct cm_call *call)
{
    const Crm__Principal *p = call->hdr->principal;
    return p && p->name[0] ? p->name : "";
}

/* The caller the voucher rate limit counts: a member or a key by its id. */
static const char *s_caller(const struct cm_call *call)
{
    const Crm__Principal *p = call->hdr->principal;
    return p && p->id[0] ? p->id : "service";
}

/* The business's settings with the currency in force. Fails the call on a
 * database error. */
static bool s_cfg(struct cm_call *call, struct customers_wallet_cfg *cfg)
{
    cm_err_t err = customers_wallet_store_cfg(call->db, TENANT(call), cfg);
    if (err) {
        cm_call_db_fail(call, err, "could not read the wallet settings");
        return false;
    }
    if (!cfg->pinned)
        snprintf(cfg->currency, sizeof cfg->currency, "%s",
                 customers_currency_of_country(cfg->country));
    return true;
}

/* The customer's wallet, or NULL with the call failed (no such customer, a
 * database error). */
static Crm__Wallet *s_wallet(struct cm_call *call, const struct customers_wallet_cfg *cfg,
                             const char *customer)
{
    bool exists = false;
    int64_t money = 0, points = 0;
    cm_err_t err = customers_check_uuid(customer)
                       ? customers_wallet_store_balances(call->db, TENANT(call), customer, &exists,
                                                         &money, &points)
                       : CM_OK;
    if (err) {
        cm_call_db_fail(call, err, "could not read the wallet");
        return NULL;
    }
    if (!exists) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", customer);
        return NULL;
    }
    Crm__Wallet *w = (Crm__Wallet *)cm_pb_new(&crm__wallet__descriptor);
    cm_pb_set_str(&w->customer_id, customer);
    cm_pb_set_str(&w->currency, cfg->currency);
    w->money = money;
    w->points = points;
    w->loyalty_enabled = cfg->loyalty;
    return w;
}

void customers_wallet_get(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__GetWalletRequest *req = (const Crm__GetWalletRequest *)msg;
    struct customers_wallet_cfg cfg;
    if (!s_cfg(call, &cfg))
        return;
    Crm__Wallet *w = s_wallet(call, &cfg, req->id);
    if (w)
        *resp = &w->base;
}

void customers_wallet_balances(struct cm_call *call, const ProtobufCMessage *msg,
                               ProtobufCMessage **resp)
{
    const Crm__ListWalletsRequest *req = (const Crm__ListWalletsRequest *)msg;
    if (!req->n_ids || req->n_ids > CUSTOMERS_WALLET_BALANCES_MAX)
        cm_call_violation(call, "ids", "OUT_OF_RANGE", "ids: 1 to %d customer ids, not %zu",
                          CUSTOMERS_WALLET_BALANCES_MAX, req->n_ids);
    for (size_t i = 0; i < req->n_ids && !cm_call_failed(call); i++)
        if (!cm_uuid_valid(req->ids[i]))
            cm_call_violation(call, "ids", "INVALID_FORMAT", "ids[%zu] is not a customer id", i);
    if (cm_call_failed(call))
        return;
    struct customers_wallet_cfg cfg;
    if (!s_cfg(call, &cfg))
        return;
    Crm__ListWalletsResponse *r =
        (Crm__ListWalletsResponse *)cm_pb_new(&crm__list_wallets_response__descriptor);
    cm_err_t err = customers_wallet_store_many(call->db, TENANT(call), req->ids, req->n_ids, r);
    if (err) {
        cm_call_db_fail(call, err, "could not read the balances");
        crm__list_wallets_response__free_unpacked(r, NULL);
        return;
    }
    for (size_t i = 0; i < r->n_wallets; i++) {
        Crm__WalletBalance *w = r->wallets[i];
        /* The number alone: the currency has a field of its own. */
        char text[CM_MONEY_SIZE];
        cm_money_format(w->money, cfg.currency, text, sizeof text);
        cm_pb_set_str(&w->currency, cfg.currency);
        cm_pb_set_str(&w->money_text, text);
    }
    *resp = &r->base;
}

/* A page request's size and token; false with violations. */
static bool s_page(struct cm_call *call, int32_t size, const char *token, int *limit, long *before)
{
    *before = 0;
    if (size < 0)
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize must be 0 or more");
    if (token[0] && cm_parse_long(token, 1, (long)(~0UL >> 1), before))
        cm_call_violation(call, "pageToken", "INVALID_FORMAT",
                          "pageToken is not one this list gave");
    *limit = size <= 0                          ? CUSTOMERS_WALLET_PAGE_DEFAULT
             : size > CUSTOMERS_WALLET_PAGE_MAX ? CUSTOMERS_WALLET_PAGE_MAX
                                                : size;
    return !cm_call_failed(call);
}

/* A page's next_page_token: the number of the last row shown, or "" at the end. */
static void s_set_token(char **field, long next)
{
    char tok[24] = "";
    if (next)
        snprintf(tok, sizeof tok, "%ld", next);
    cm_pb_set_str(field, tok);
}

void customers_wallet_list(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__ListWalletEntriesRequest *req = (const Crm__ListWalletEntriesRequest *)msg;
    int limit;
    long before, next = 0;
    if (!s_page(call, req->page_size, req->page_token, &limit, &before))
        return;
    struct customers_wallet_cfg cfg;
    if (!s_cfg(call, &cfg))
        return;
    Crm__Wallet *w = s_wallet(call, &cfg, req->id); /* 404 for no such customer */
    if (!w)
        return;
    crm__wallet__free_unpacked(w, NULL);
    Crm__ListWalletEntriesResponse *r =
        (Crm__ListWalletEntriesResponse *)cm_pb_new(&crm__list_wallet_entries_response__descriptor);
    cm_err_t err = customers_wallet_store_entries(call->db, TENANT(call), req->id, req->kind,
                                                  before, limit, r, &next);
    if (err) {
        cm_call_db_fail(call, err, "could not list the wallet's entries");
        crm__list_wallet_entries_response__free_unpacked(r, NULL);
        return;
    }
    s_set_token(&r->next_page_token, next);
    *resp = &r->base;
}

/* ---------------------------------------------------------------------- */
/* Posting                                                                 */

/* Why a posting was refused, as a 409 naming the amount. */
static void s_insufficient(struct cm_call *call, const struct customers_wallet_post *p,
                           int64_t balance, const char *field)
{
    if (p->kind == CRM__WALLET_KIND__WALLET_KIND_MONEY) {
        char have[CM_MONEY_TEXT_SIZE], take[CM_MONEY_TEXT_SIZE];
        cm_money_text(balance, p->currency, have, sizeof have);
        cm_money_text(-p->amount, p->currency, take, sizeof take);
        cm_call_fail(call, CM_ERR_CONFLICT,
                     "the balance is %s: taking off %s would take it below zero", have, take);
    } else {
        cm_call_fail(call, CM_ERR_CONFLICT,
                     "the customer has %lld points: taking off %lld would take them below zero",
                     (long long)balance, (long long)-p->amount);
    }
    cm_call_violation(call, field, "INSUFFICIENT_BALANCE", "at most %lld may be taken off",
                      (long long)balance);
}

/* The settings.updated event of a change to the business's currency (set,
 * or pinned by the first money): the settings read back in the transaction
 * (not this copy's kept ones, which the change made stale). False when the
 * call failed. */
static bool s_settings_event(struct cm_call *call)
{
    struct customers_tenant t = {0};
    customers_tenant_cache_forget(TENANT(call));
    if (!customers_tenant_of(call, &t))
        return false;
    cm_err_t err = customers_events_settings(call->db, call->hdr, &t);
    customers_tenant_release(&t);
    if (err)
        cm_call_db_fail(call, err, "could not store the settings event");
    return !err;
}

/* Pins the currency in force at the first money entry or voucher (the
 * currency as set changes, the one in effect does not), with its event.
 * False when the call failed. */
static bool s_pin(struct cm_call *call, const struct customers_wallet_cfg *cfg)
{
    bool pinned = false;
    cm_err_t err = cfg->pinned
                       ? CM_OK
                       : customers_wallet_store_pin(call->db, TENANT(call), cfg->currency, &pinned);
    if (err)
        cm_call_db_fail(call, err, "could not settle the currency");
    else if (pinned)
        return s_settings_event(call);
    return !err;
}

/* Posts p and answers the entry and the wallet after it; fails the call
 * when it cannot be posted. amount_field names the request's field. */
static void s_post(struct cm_call *call, const struct customers_wallet_cfg *cfg,
                   struct customers_wallet_post *p, const char *amount_field,
                   ProtobufCMessage **resp)
{
    if (p->kind == CRM__WALLET_KIND__WALLET_KIND_MONEY) {
        p->currency = cfg->currency;
        if (!s_pin(call, cfg))
            return;
    } else {
        p->currency = "";
    }
    enum customers_wallet_outcome outcome;
    Crm__WalletEntry *entry = NULL;
    int64_t balance = 0;
    cm_err_t err =
        customers_wallet_store_post(call->db, TENANT(call), p, &outcome, &entry, &balance);
    if (err) {
        cm_call_db_fail(call, err, "could not post to the wallet");
        goto out;
    }
    switch (outcome) {
    case CUSTOMERS_WALLET_NO_CUSTOMER:
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", p->customer_id);
        goto out;
    case CUSTOMERS_WALLET_INSUFFICIENT:
        s_insufficient(call, p, balance, amount_field);
        goto out;
    case CUSTOMERS_WALLET_REFERENCE_USED:
        cm_call_fail(call, CM_ERR_CONFLICT,
                     "reference %.200s was already posted for another customer or amount",
                     p->reference);
        cm_call_violation(call, "reference", "ALREADY_USED", "entry %s has it", entry->id);
        goto out;
    case CUSTOMERS_WALLET_CREATED: {
        Crm__WalletEvent ev = CRM__WALLET_EVENT__INIT;
        ev.entry = entry;
        err = customers_events_add_payload(call->db, call->hdr, CUSTOMERS_WALLET_EVENT, &ev.base,
                                           entry->customer_id);
        if (err) {
            cm_call_db_fail(call, err, "could not record the wallet's event");
            goto out;
        }
        break;
    }
    case CUSTOMERS_WALLET_REPLAYED:
        break;
    }
    Crm__Wallet *w = s_wallet(call, cfg, p->customer_id);
    if (!w)
        goto out;
    Crm__WalletEntryResponse *r =
        (Crm__WalletEntryResponse *)cm_pb_new(&crm__wallet_entry_response__descriptor);
    r->entry = entry;
    r->wallet = w;
    r->replayed = outcome == CUSTOMERS_WALLET_REPLAYED;
    entry = NULL;
    *resp = &r->base;
out:
    if (entry)
        crm__wallet_entry__free_unpacked(entry, NULL);
}

/* Posts amount of kind to customer from source, with the request's reason
 * and reference, as the principal; answers as s_post. */
static void s_post_one(struct cm_call *call, const struct customers_wallet_cfg *cfg,
                       const char *customer, Crm__WalletKind kind, int64_t amount,
                       const char *reason, Crm__WalletSource source, const char *reference,
                       const char *amount_field, ProtobufCMessage **resp)
{
    struct customers_wallet_post p = {.customer_id = customer,
                                      .kind = kind,
                                      .amount = amount,
                                      .reason = reason,
                                      .source = source,
                                      .reference = reference,
                                      .by = s_who(call)};
    s_post(call, cfg, &p, amount_field, resp);
}

void customers_wallet_post_money(struct cm_call *call, const char *customer, int64_t amount,
                                 const char *reason, const char *reference, const char *field,
                                 Crm__WalletEntryResponse **out)
{
    struct customers_wallet_cfg cfg;
    ProtobufCMessage *r = NULL;
    if (s_cfg(call, &cfg))
        s_post_one(call, &cfg, customer, CRM__WALLET_KIND__WALLET_KIND_MONEY, amount, reason,
                   CRM__WALLET_SOURCE__WALLET_SOURCE_STAFF, reference, field, &r);
    *out = (Crm__WalletEntryResponse *)r;
}

bool customers_wallet_currency(struct cm_call *call, char out[4])
{
    struct customers_wallet_cfg cfg;
    if (!s_cfg(call, &cfg))
        return false;
    memcpy(out, cfg.currency, 4);
    return true;
}

/* Checks what every posting request carries alike: the customer, a reason
 * and a reference within their limits, and a source the method takes
 * (allowed: a bit per crm.WalletSource), a reference being required from any
 * source but STAFF. */
static void s_check_common(struct cm_call *call, const char *customer, const char *reason,
                           Crm__WalletSource source, unsigned allowed, const char *reference)
{
    if (!customers_check_uuid(customer)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", customer);
        return;
    }
    if (customers_validate_length(reason, CUSTOMERS_WALLET_REASON_MAX))
        cm_call_violation(call, "reason", "TOO_LONG", "reason is too long: at most %d characters",
                          CUSTOMERS_WALLET_REASON_MAX);
    if ((unsigned)source > 31 || !(allowed & (1u << source)))
        cm_call_violation(call, "source", "INVALID_FORMAT", "this method does not take source %d",
                          (int)source);
    if (customers_validate_length(reference, CUSTOMERS_WALLET_REFERENCE_MAX))
        cm_call_violation(call, "reference", "TOO_LONG",
                          "reference is too long: at most %d characters",
                          CUSTOMERS_WALLET_REFERENCE_MAX);
    else if (!reference[0] && source != CRM__WALLET_SOURCE__WALLET_SOURCE_STAFF)
        cm_call_violation(call, "reference", "REQUIRED",
                          "reference is required from the booking system, the store or an "
                          "import: the order or visit it is for");
}

#define SRC(s) (1u << CRM__WALLET_SOURCE__WALLET_SOURCE_##s)

/* Refuses points while the business does not count them (after the
 * customer is known: no such customer is NOT_FOUND whatever the settings). */
static bool s_loyalty_on(struct cm_call *call, const struct customers_wallet_cfg *cfg,
                         const char *customer)
{
    Crm__Wallet *w = s_wallet(call, cfg, customer);
    if (!w)
        return false;
    crm__wallet__free_unpacked(w, NULL);
    if (!cfg->loyalty)
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "loyalty points are off for this business; an admin turns them on in the "
                     "wallet settings");
    return cfg->loyalty;
}

void customers_wallet_adjust(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__AdjustWalletRequest *req = (const Crm__AdjustWalletRequest *)msg;
    Crm__WalletSource source = req->source ? req->source : CRM__WALLET_SOURCE__WALLET_SOURCE_STAFF;
    s_check_common(call, req->id, req->reason, source,
                   SRC(STAFF) | SRC(BOOKING) | SRC(STORE) | SRC(IMPORT), req->reference);
    if (req->kind != CRM__WALLET_KIND__WALLET_KIND_MONEY &&
        req->kind != CRM__WALLET_KIND__WALLET_KIND_POINTS)
        cm_call_violation(call, "kind", "REQUIRED", "kind is required: MONEY or POINTS");
    if (!req->amount)
        cm_call_violation(call, "amount", "REQUIRED",
                          "amount is required: above zero adds, below zero takes off");
    else if (req->amount > CUSTOMERS_WALLET_AMOUNT_MAX ||
             req->amount < -CUSTOMERS_WALLET_AMOUNT_MAX)
        cm_call_violation(call, "amount", "OUT_OF_RANGE", "amount is beyond +-%lld",
                          (long long)CUSTOMERS_WALLET_AMOUNT_MAX);
    if (source == CRM__WALLET_SOURCE__WALLET_SOURCE_STAFF && !req->reason[0])
        cm_call_violation(call, "reason", "REQUIRED", "reason is required: why staff change it");
    if (cm_call_failed(call))
        return;
    struct customers_wallet_cfg cfg;
    if (!s_cfg(call, &cfg))
        return;
    if (req->kind == CRM__WALLET_KIND__WALLET_KIND_POINTS && !s_loyalty_on(call, &cfg, req->id))
        return;
    s_post_one(call, &cfg, req->id, req->kind, req->amount, req->reason, source, req->reference,
               "amount", resp);
}

void customers_wallet_earn(struct cm_call *call, const ProtobufCMessage *msg,
                           ProtobufCMessage **resp)
{
    const Crm__EarnPointsRequest *req = (const Crm__EarnPointsRequest *)msg;
    Crm__WalletSource source = req->source ? req->source : CRM__WALLET_SOURCE__WALLET_SOURCE_STORE;
    s_check_common(call, req->id, req->reason, source, SRC(BOOKING) | SRC(STORE), req->reference);
    if (req->amount_minor <= 0 || req->amount_minor > CUSTOMERS_WALLET_AMOUNT_MAX)
        cm_call_violation(call, "amountMinor", "OUT_OF_RANGE",
                          "amountMinor must be 1 to %lld: the money paid, in minor units",
                          (long long)CUSTOMERS_WALLET_AMOUNT_MAX);
    if (cm_call_failed(call))
        return;
    struct customers_wallet_cfg cfg;
    if (!s_cfg(call, &cfg) || !s_loyalty_on(call, &cfg, req->id))
        return;
    if (req->currency[0] && strcmp(req->currency, cfg.currency)) {
        cm_call_violation(call, "currency", "INVALID_FORMAT",
                          "currency must be %s, the business's currency", cfg.currency);
        return;
    }
    int64_t points =
        customers_loyalty_points(req->amount_minor, cfg.points_per_unit, cfg.unit_minor);
    if (points <= 0) {
        /* Less than one unit paid earns nothing: the wallet as it is. */
        Crm__Wallet *w = points == 0 ? s_wallet(call, &cfg, req->id) : NULL;
        if (points < 0)
            cm_call_fail(call, CM_ERR_INTERNAL, "the loyalty rule could not be applied");
        if (!w)
            return;
        Crm__WalletEntryResponse *r =
            (Crm__WalletEntryResponse *)cm_pb_new(&crm__wallet_entry_response__descriptor);
        r->wallet = w;
        *resp = &r->base;
        return;
    }
    s_post_one(call, &cfg, req->id, CRM__WALLET_KIND__WALLET_KIND_POINTS, points, req->reason,
               source, req->reference, "amountMinor", resp);
}

void customers_wallet_spend(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__SpendPointsRequest *req = (const Crm__SpendPointsRequest *)msg;
    Crm__WalletSource source = req->source ? req->source : CRM__WALLET_SOURCE__WALLET_SOURCE_STAFF;
    s_check_common(call, req->id, req->reason, source, SRC(STAFF) | SRC(BOOKING) | SRC(STORE),
                   req->reference);
    if (req->points <= 0 || req->points > CUSTOMERS_WALLET_AMOUNT_MAX)
        cm_call_violation(call, "points", "OUT_OF_RANGE", "points must be 1 to %lld",
                          (long long)CUSTOMERS_WALLET_AMOUNT_MAX);
    if (cm_call_failed(call))
        return;
    struct customers_wallet_cfg cfg;
    if (!s_cfg(call, &cfg) || !s_loyalty_on(call, &cfg, req->id))
        return;
    s_post_one(call, &cfg, req->id, CRM__WALLET_KIND__WALLET_KIND_POINTS, -req->points, req->reason,
               source, req->reference, "points", resp);
}

/* ---------------------------------------------------------------------- */
/* Vouchers                                                                */

/* The hash a code is kept as: BLAKE2b-256 of the tenant and the code's
 * canonical form (so one code means nothing to another tenant). */
static void s_code_hash(const char *tenant, const char *canonical,
                        uint8_t hash[CUSTOMERS_WALLET_HASH_SIZE])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, CUSTOMERS_WALLET_HASH_SIZE);
    crypto_generichash_update(&st, (const unsigned char *)tenant, strlen(tenant));
    crypto_generichash_update(&st, (const unsigned char *)":", 1);
    crypto_generichash_update(&st, (const unsigned char *)canonical, strlen(canonical));
    crypto_generichash_final(&st, hash, CUSTOMERS_WALLET_HASH_SIZE);
}

/* Checks an expiry date: "" or a real YYYY-MM-DD from the business's today
 * (in its time zone; UTC's should the read fail, and the insert that follows
 * then reports it) to ten years ahead. */
static void s_check_expiry(struct cm_call *call, const char *date)
{
    if (!date[0])
        return;
    int64_t today = cm_now_ms() / 86400000;
    if (customers_store_tenant_today(call->db, TENANT(call), &today))
        cm_log_warn("could not read the business's day: %s", cm_db_error(call->db));
    const char *why = NULL;
    /* The format and the calendar here (any date up to 9999-12-31); the range below. */
    if (customers_validate_date(date, cm_days_from_civil(9999, 12, 31), &why)) {
        cm_call_violation(call, "expiresOn", "INVALID_FORMAT", "expiresOn: %s", why);
        return;
    }
    int y = (int)strtol(date, NULL, 10), m = (int)strtol(date + 5, NULL, 10),
        d = (int)strtol(date + 8, NULL, 10);
    int64_t days = cm_days_from_civil(y, m, d);
    if (days < today)
        cm_call_violation(call, "expiresOn", "OUT_OF_RANGE", "expiresOn is in the past");
    else if (days > today + VOUCHER_EXPIRY_MAX_DAYS)
        cm_call_violation(call, "expiresOn", "OUT_OF_RANGE",
                          "expiresOn is more than ten years ahead");
}

void customers_wallet_issue(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__IssueVoucherRequest *req = (const Crm__IssueVoucherRequest *)msg;
    if (req->amount <= 0 || req->amount > CUSTOMERS_WALLET_AMOUNT_MAX)
        cm_call_violation(call, "amount", "OUT_OF_RANGE",
                          "amount must be 1 to %lld minor units of the business's currency",
                          (long long)CUSTOMERS_WALLET_AMOUNT_MAX);
    s_check_expiry(call, req->expires_on);
    if (customers_validate_length(req->note, CUSTOMERS_WALLET_NOTE_MAX))
        cm_call_violation(call, "note", "TOO_LONG", "note is too long: at most %d characters",
                          CUSTOMERS_WALLET_NOTE_MAX);
    if (cm_call_failed(call))
        return;
    struct customers_wallet_cfg cfg;
    if (!s_cfg(call, &cfg))
        return;
    char code[CUSTOMERS_VOUCHER_CODE_SIZE], canonical[CUSTOMERS_VOUCHER_CHARS + 1];
    uint8_t hash[CUSTOMERS_WALLET_HASH_SIZE];
    customers_voucher_new(code);
    if (customers_voucher_normalize(code, canonical)) {
        cm_call_fail(call, CM_ERR_INTERNAL, "could not make a voucher code");
        return;
    }
    s_code_hash(TENANT(call), canonical, hash);
    Crm__Voucher *v = NULL;
    if (!s_pin(call, &cfg)) {
        sodium_memzero(canonical, sizeof canonical);
        sodium_memzero(code, sizeof code);
        return;
    }
    cm_err_t err = customers_wallet_store_voucher_add(
        call->db, TENANT(call), hash, canonical + CUSTOMERS_VOUCHER_CHARS - 4, req->amount,
        cfg.currency, req->expires_on, req->note, s_who(call), &v);
    sodium_memzero(canonical, sizeof canonical);
    if (err) {
        cm_call_db_fail(call, err, "could not issue the voucher");
        sodium_memzero(code, sizeof code);
        return;
    }
    Crm__IssueVoucherResponse *r =
        (Crm__IssueVoucherResponse *)cm_pb_new(&crm__issue_voucher_response__descriptor);
    r->voucher = v;
    cm_pb_set_str(&r->code, code);
    sodium_memzero(code, sizeof code);
    *resp = &r->base;
}

void customers_wallet_vouchers(struct cm_call *call, const ProtobufCMessage *msg,
                               ProtobufCMessage **resp)
{
    const Crm__ListVouchersRequest *req = (const Crm__ListVouchersRequest *)msg;
    int limit;
    long before, next = 0;
    if (!s_page(call, req->page_size, req->page_token, &limit, &before))
        return;
    Crm__ListVouchersResponse *r =
        (Crm__ListVouchersResponse *)cm_pb_new(&crm__list_vouchers_response__descriptor);
    cm_err_t err = customers_wallet_store_vouchers(call->db, TENANT(call), req->state, before,
                                                   limit, r, &next);
    if (err) {
        cm_call_db_fail(call, err, "could not list the vouchers");
        crm__list_vouchers_response__free_unpacked(r, NULL);
        return;
    }
    s_set_token(&r->next_page_token, next);
    *resp = &r->base;
}

/* Outside the transaction, so that a wrong code stays counted: the rate
 * limit, then the code looked up; the voucher's id is left for the handler. */
void customers_wallet_redeem_prepare(struct cm_call *call, const ProtobufCMessage *msg)
{
    const Crm__RedeemVoucherRequest *req = (const Crm__RedeemVoucherRequest *)msg;
    if (!req->code[0]) {
        cm_call_violation(call, "code", "REQUIRED", "code is required");
        return;
    }
    struct customers_quota_counts n = {0};
    cm_err_t err = customers_wallet_store_failures(
        call->db, TENANT(call), s_caller(call), CUSTOMERS_VOUCHER_WINDOW_S, &n.n, &n.oldest_age_ms);
    if (err) {
        cm_call_db_fail(call, err, "could not check the voucher");
        return;
    }
    long wait =
        customers_limit_quota_wait_s(&n, CUSTOMERS_VOUCHER_FAILURES, CUSTOMERS_VOUCHER_WINDOW_S);
    if (wait) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "too many wrong voucher codes; try again in %ld s",
                     wait);
        cm_call_violation(call, "retryAfter", "RETRY_AFTER", "%ld", wait);
        return;
    }
    char canonical[CUSTOMERS_VOUCHER_CHARS + 1];
    Crm__Voucher *v = NULL;
    if (!customers_voucher_normalize(req->code, canonical)) {
        uint8_t hash[CUSTOMERS_WALLET_HASH_SIZE];
        s_code_hash(TENANT(call), canonical, hash);
        err = customers_wallet_store_voucher_find(call->db, TENANT(call), hash, &v);
        if (err) {
            cm_call_db_fail(call, err, "could not check the voucher");
            return;
        }
    }
    if (v && v->state == CRM__VOUCHER_STATE__VOUCHER_STATE_CANCELLED) {
        /* A cancelled code is a wrong code: it says nothing about the voucher. */
        crm__voucher__free_unpacked(v, NULL);
        v = NULL;
    }
    if (!v) {
        /* One answer for a mistyped code, an unknown one and a cancelled one. */
        if (customers_wallet_store_failure_add(call->db, TENANT(call), s_caller(call),
                                               CUSTOMERS_VOUCHER_WINDOW_S))
            cm_call_db_fail(call, CM_ERR_INTERNAL, "could not check the voucher");
        else
            cm_call_fail(call, CM_ERR_NOT_FOUND, "no voucher has this code");
        return;
    }
    call->prep = cm_strdup(v->id);
    crm__voucher__free_unpacked(v, NULL);
}

void customers_wallet_redeem(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__RedeemVoucherRequest *req = (const Crm__RedeemVoucherRequest *)msg;
    const char *voucher_id = call->prep;
    if (!customers_check_uuid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", req->id);
        return;
    }
    struct customers_wallet_cfg cfg;
    if (!s_cfg(call, &cfg))
        return;
    bool redeemed = false;
    Crm__Voucher *v = NULL;
    ProtobufCMessage *posted = NULL;
    cm_err_t err = customers_wallet_store_voucher_redeem(call->db, TENANT(call), voucher_id,
                                                         req->id, s_who(call), &redeemed, &v);
    if (err) {
        cm_call_db_fail(call, err, "could not redeem the voucher");
        goto out;
    }
    if (!redeemed) {
        if (v->state == CRM__VOUCHER_STATE__VOUCHER_STATE_CANCELLED)
            /* Cancelled since the code was looked up: as a wrong code. */
            cm_call_fail(call, CM_ERR_NOT_FOUND, "no voucher has this code");
        else if (v->state == CRM__VOUCHER_STATE__VOUCHER_STATE_REDEEMED)
            cm_call_fail(call, CM_ERR_CONFLICT, "this voucher was already redeemed, at %s",
                         v->redeemed_at);
        else
            cm_call_fail(call, CM_ERR_PRECONDITION, "this voucher expired at %s", v->expires_at);
        goto out;
    }
    if (strcmp(v->currency, cfg.currency)) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "this voucher is in %s, the business's currency is %s", v->currency,
                     cfg.currency);
        goto out;
    }
    struct customers_wallet_post p = {.customer_id = req->id,
                                      .kind = CRM__WALLET_KIND__WALLET_KIND_MONEY,
                                      .amount = v->amount,
                                      .reason = v->note,
                                      .source = CRM__WALLET_SOURCE__WALLET_SOURCE_VOUCHER,
                                      .reference = v->id,
                                      .voucher_id = v->id,
                                      .by = s_who(call)};
    s_post(call, &cfg, &p, "code", &posted);
    if (!posted)
        goto out;
    Crm__WalletEntryResponse *pr = (Crm__WalletEntryResponse *)posted;
    Crm__RedeemVoucherResponse *r =
        (Crm__RedeemVoucherResponse *)cm_pb_new(&crm__redeem_voucher_response__descriptor);
    r->entry = pr->entry;
    r->wallet = pr->wallet;
    pr->entry = NULL;
    pr->wallet = NULL;
    r->voucher = v;
    v = NULL;
    *resp = &r->base;
out:
    if (posted)
        protobuf_c_message_free_unpacked(posted, NULL);
    if (v)
        crm__voucher__free_unpacked(v, NULL);
}

void customers_wallet_cancel(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const Crm__CancelVoucherRequest *req = (const Crm__CancelVoucherRequest *)msg;
    if (!customers_check_uuid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no voucher %.64s", req->id);
        return;
    }
    /* Blank is missing: the reason is what the list shows later. */
    if (strspn(req->reason, " \t\r\n") == strlen(req->reason))
        cm_call_violation(call, "reason", "REQUIRED",
                          "reason is required: say why it is cancelled");
    else if (customers_validate_length(req->reason, CUSTOMERS_WALLET_REASON_MAX))
        cm_call_violation(call, "reason", "TOO_LONG", "reason is too long: at most %d characters",
                          CUSTOMERS_WALLET_REASON_MAX);
    if (cm_call_failed(call))
        return;
    bool cancelled = false;
    Crm__Voucher *v = NULL;
    cm_err_t err = customers_wallet_store_voucher_cancel(call->db, TENANT(call), req->id,
                                                         s_who(call), req->reason, &cancelled, &v);
    if (err == CM_ERR_NOT_FOUND) {
        cm_call_fail(call, err, "no voucher %s", req->id);
        return;
    }
    if (err) {
        cm_call_db_fail(call, err, "could not cancel the voucher");
        return;
    }
    if (v->state == CRM__VOUCHER_STATE__VOUCHER_STATE_REDEEMED) {
        cm_call_fail(call, CM_ERR_CONFLICT,
                     "this voucher was redeemed at %s; a redeemed voucher cannot be cancelled",
                     v->redeemed_at);
        crm__voucher__free_unpacked(v, NULL);
        return;
    }
    /* Only the cancellation itself is an event: one cancelled before is
     * answered as it is. A voucher belongs to no customer until redeemed, so
     * no erasure would reach what staff typed (the note, the reason): the
     * event carries neither, as a subscription's does not. */
    if (cancelled) {
        Crm__Voucher told = *v;
        told.note = "";
        told.cancel_reason = "";
        Crm__VoucherEvent ev = CRM__VOUCHER_EVENT__INIT;
        ev.voucher = &told;
        err = customers_events_add_payload(call->db, call->hdr, CUSTOMERS_VOUCHER_CANCELLED_EVENT,
                                           &ev.base, NULL);
        if (err) {
            cm_call_db_fail(call, err, "could not record the voucher's event");
            crm__voucher__free_unpacked(v, NULL);
            return;
        }
        cm_log_info("voucher %s cancelled", v->id);
    }
    *resp = &v->base;
}

/* ---------------------------------------------------------------------- */
/* Settings                                                                */

static Crm__WalletSettings *s_settings_of(const struct customers_wallet_cfg *cfg)
{
    Crm__WalletSettings *s = (Crm__WalletSettings *)cm_pb_new(&crm__wallet_settings__descriptor);
    cm_pb_set_str(&s->currency, cfg->currency);
    s->loyalty_enabled = cfg->loyalty;
    s->points_per_unit = (int32_t)cfg->points_per_unit;
    s->unit_minor = cfg->unit_minor;
    return s;
}

void customers_wallet_settings_get(struct cm_call *call, const ProtobufCMessage *msg,
                                   ProtobufCMessage **resp)
{
    (void)msg;
    struct customers_wallet_cfg cfg;
    if (s_cfg(call, &cfg)) {
        Crm__WalletSettings *s = s_settings_of(&cfg);
        *resp = &s->base;
    }
}

void customers_wallet_settings_update(struct cm_call *call, const ProtobufCMessage *msg,
                                      ProtobufCMessage **resp)
{
    const Crm__UpdateWalletSettingsRequest *req = (const Crm__UpdateWalletSettingsRequest *)msg;
    struct customers_wallet_cfg cfg;
    if (!s_cfg(call, &cfg))
        return;
    Crm__WalletSettings *s = s_settings_of(&cfg);
    Crm__WalletSettings empty = CRM__WALLET_SETTINGS__INIT;
    static char *all[] = {"currency", "loyaltyEnabled", "pointsPerUnit", "unitMinor"};
    char **paths = req->n_update_mask ? req->update_mask : all;
    size_t n_paths = req->n_update_mask ? req->n_update_mask : sizeof all / sizeof *all;
    struct cm_pbjson_error perr;
    if (cm_pb_apply_mask(&s->base, req->settings ? &req->settings->base : &empty.base, paths,
                         n_paths, &perr)) {
        cm_call_violation(call, perr.field, "UNKNOWN_FIELD", "%s", perr.description);
        goto out;
    }
    for (char *c = s->currency; *c; c++)
        *c = cm_ascii_toupper(*c);
    if (!cm_money_taken(s->currency))
        cm_call_violation(
            call, "currency", "INVALID_FORMAT",
            "currency must be an ISO 4217 code the suite takes: " CM_MONEY_CURRENCIES);
    if (s->points_per_unit < 1 || s->points_per_unit > 1000)
        cm_call_violation(call, "pointsPerUnit", "OUT_OF_RANGE", "pointsPerUnit must be 1 to 1000");
    if (s->unit_minor < 1 || s->unit_minor > 100000000)
        cm_call_violation(call, "unitMinor", "OUT_OF_RANGE",
                          "unitMinor must be 1 to 100000000 minor units");
    if (cm_call_failed(call))
        goto out;
    if (strcmp(s->currency, cfg.currency)) {
        bool any = false;
        cm_err_t err = customers_wallet_store_has_money(call->db, TENANT(call), &any);
        if (err) {
            cm_call_db_fail(call, err, "could not read the wallet");
            goto out;
        }
        if (any) {
            cm_call_fail(call, CM_ERR_PRECONDITION,
                         "the currency is settled: money on accounts or vouchers are in %s",
                         cfg.currency);
            cm_call_violation(call, "currency", "SETTLED", "it stays %s", cfg.currency);
            goto out;
        }
    }
    struct customers_wallet_cfg next = cfg;
    snprintf(next.currency, sizeof next.currency, "%s", s->currency);
    next.loyalty = s->loyalty_enabled;
    next.points_per_unit = s->points_per_unit;
    next.unit_minor = s->unit_minor;
    cm_err_t err = customers_wallet_store_cfg_put(call->db, TENANT(call), next.currency, &next);
    if (err) {
        cm_call_db_fail(call, err, "could not store the wallet settings");
        goto out;
    }
    if (!s_settings_event(call))
        goto out;
    *resp = &s->base;
    s = NULL;
out:
    if (s)
        crm__wallet_settings__free_unpacked(s, NULL);
}
