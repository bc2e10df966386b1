/* Price rules (docs/bus.md, "Price rules"): their CRUD, the rules that apply
 * to a customer, and the store's question, what a cart costs this customer.
 * The entries of the service's method table are CUSTOMERS_PRICES_METHODS. */
#ifndef CUSTOMERS_PRICES_H
#define CUSTOMERS_PRICES_H

#include "cm_svc.h"
#include "prices.pb-c.h"

void customers_prices_create(struct cm_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);
void customers_prices_get(struct cm_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp);
void customers_prices_update(struct cm_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);
void customers_prices_delete(struct cm_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);
void customers_prices_list(struct cm_call *call, const ProtobufCMessage *req,
                           ProtobufCMessage **resp);
void customers_prices_for_customer(struct cm_call *call, const ProtobufCMessage *req,
                                   ProtobufCMessage **resp);
void customers_prices_quote(struct cm_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp);

/* Reading rules and pricing a cart needs customers:read (a store's key);
 * changing them customers:write. QuotePrices and ListCustomerPriceRules run
 * one statement (no transaction): the store's checkout path. */
#define CUSTOMERS_PRICES_METHODS                                                                   \
    CM_METHOD("customers", "CreatePriceRule", create_price_rule_request, price_rule,               \
              customers_prices_create, CM_METHOD_WRITE, CUSTOMERS_WRITE),                          \
        CM_METHOD("customers", "GetPriceRule", get_price_rule_request, price_rule,                 \
                  customers_prices_get, CM_METHOD_NO_TXN, CUSTOMERS_READ),                         \
        CM_METHOD("customers", "UpdatePriceRule", update_price_rule_request, price_rule,           \
                  customers_prices_update, CM_METHOD_WRITE, CUSTOMERS_WRITE),                      \
        CM_METHOD("customers", "DeletePriceRule", delete_price_rule_request, empty,                \
                  customers_prices_delete, CM_METHOD_WRITE, CUSTOMERS_WRITE),                      \
        CM_METHOD("customers", "ListPriceRules", list_price_rules_request,                         \
                  list_price_rules_response, customers_prices_list, CM_METHOD_NO_TXN,              \
                  CUSTOMERS_READ),                                                                 \
        CM_METHOD("customers", "ListCustomerPriceRules", list_customer_price_rules_request,        \
                  list_price_rules_response, customers_prices_for_customer, CM_METHOD_NO_TXN,      \
                  CUSTOMERS_READ),                                                                 \
        CM_METHOD("customers", "QuotePrices", quote_prices_request, quote_prices_response,         \
                  customers_prices_quote, CM_METHOD_NO_TXN, CUSTOMERS_READ)

#endif
