/* The route table and path matching. */
#include "gateway_routes.h"
#include "cm_perm.h"
#include "cm_util.h"
#include "company.pb-c.h"
#include "customers.pb-c.h"
#include "exchange.pb-c.h"
#include "files.pb-c.h"
#include "forms.pb-c.h"
#include "history.pb-c.h"
#include "notes.pb-c.h"
#include "notify.pb-c.h"
#include "prices.pb-c.h"
#include "rules.pb-c.h"
#include "search.pb-c.h"
#include "subscriptions.pb-c.h"
#include "visits.pb-c.h"
#include "access.pb-c.h"
#include "wallet.pb-c.h"

#include <stdio.h>
#include <string.h>

/* One bus method: service, rpc, request and response types (C prefixes). */
#define RPC(svc, name, req, resp)                                                                  \
    .kind = GATEWAY_ROUTE_BUS, .service = (svc), .rpc = (name), .request = &req##__descriptor,     \
    .response = &resp##__descriptor
/* What the route's key needs (cm_perm bits; the OpenAPI document's x-crm-scopes). */
#define SCOPE(s) (1u << CM_SCOPE_##s)
#define CUSTOMERS(name, req, resp) RPC("customers", name, req, resp)
#define SEARCH(name, req, resp) RPC("search", name, req, resp)
#define NOTES(name, req, resp) RPC("notes", name, req, resp)
#define COMPANY(name, req, resp) RPC("company", name, req, resp)
#define NOTIFY(name, req, resp) RPC("notify", name, req, resp)
#define EXCHANGE(name, req, resp) RPC("exchange", name, req, resp)

const struct gateway_route gateway_routes[] = {
    /* The gateway's own. */
    {"GET", "/healthz", .kind = GATEWAY_ROUTE_HEALTHZ, .flags = GATEWAY_PUBLIC, .success = 200},
    {"GET", "/readyz", .kind = GATEWAY_ROUTE_READYZ, .flags = GATEWAY_PUBLIC, .success = 200},
    {"GET", "/metrics", .kind = GATEWAY_ROUTE_METRICS, .flags = GATEWAY_PUBLIC, .success = 200},
    {"GET", "/v1/openapi.json", .kind = GATEWAY_ROUTE_OPENAPI, .flags = GATEWAY_PUBLIC,
     .success = 200},

    /* customers */
    {"POST", "/v1/customers",
     CUSTOMERS("CreateCustomer", crm__create_customer_request, crm__customer), .body = "customer",
     .success = 201, .location = "/v1/customers/{id}", .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers",
     CUSTOMERS("ListCustomers", crm__list_customers_request, crm__list_customers_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/customers:batchDelete",
     CUSTOMERS("BatchDeleteCustomers", crm__batch_delete_customers_request,
               crm__batch_delete_customers_response),
     .body = "*", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers/{id}",
     CUSTOMERS("GetCustomer", crm__get_customer_request, crm__customer), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"PATCH", "/v1/customers/{id}",
     CUSTOMERS("UpdateCustomer", crm__update_customer_request, crm__customer), .body = "customer",
     .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"DELETE", "/v1/customers/{id}",
     CUSTOMERS("DeleteCustomer", crm__delete_customer_request, crm__empty), .success = 204,
     .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{id}:merge",
     CUSTOMERS("MergeCustomers", crm__merge_customers_request, crm__merge_customers_response),
     .body = "*", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"PUT", "/v1/customers/{id}/photo", CUSTOMERS("PutPhoto", crm__put_photo_request, crm__photo),
     .body = "data", .flags = GATEWAY_RAW_BODY, .success = 200, .omit = "data", .max_body = 2097152,
     .body_types = "image/jpeg,image/png,image/webp", .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers/{id}/photo", CUSTOMERS("GetPhoto", crm__get_photo_request, crm__photo),
     .flags = GATEWAY_RAW_REPLY, .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"DELETE", "/v1/customers/{id}/photo",
     CUSTOMERS("DeletePhoto", crm__delete_photo_request, crm__empty), .success = 204,
     .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers/{id}/audit",
     CUSTOMERS("ListAudit", crm__list_audit_request, crm__list_audit_response), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"GET", "/v1/groups",
     CUSTOMERS("ListGroups", crm__list_groups_request, crm__list_groups_response), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/groups", CUSTOMERS("CreateGroup", crm__create_group_request, crm__group),
     .body = "group", .success = 201, .location = "/v1/groups/{id}",
     .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/groups/{id}", CUSTOMERS("GetGroup", crm__get_group_request, crm__group),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"PATCH", "/v1/groups/{id}", CUSTOMERS("UpdateGroup", crm__update_group_request, crm__group),
     .body = "group", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"DELETE", "/v1/groups/{id}", CUSTOMERS("DeleteGroup", crm__delete_group_request, crm__empty),
     .success = 204, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/tags", CUSTOMERS("ListTags", crm__list_tags_request, crm__list_tags_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    /* price rules, and what a cart costs a customer (docs/api.md, "Price rules") */
    {"GET", "/v1/priceRules",
     CUSTOMERS("ListPriceRules", crm__list_price_rules_request, crm__list_price_rules_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/priceRules",
     CUSTOMERS("CreatePriceRule", crm__create_price_rule_request, crm__price_rule), .body = "rule",
     .success = 201, .location = "/v1/priceRules/{id}", .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/priceRules/{id}",
     CUSTOMERS("GetPriceRule", crm__get_price_rule_request, crm__price_rule), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"PATCH", "/v1/priceRules/{id}",
     CUSTOMERS("UpdatePriceRule", crm__update_price_rule_request, crm__price_rule), .body = "rule",
     .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"DELETE", "/v1/priceRules/{id}",
     CUSTOMERS("DeletePriceRule", crm__delete_price_rule_request, crm__empty), .success = 204,
     .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers/{id}/priceRules",
     CUSTOMERS("ListCustomerPriceRules", crm__list_customer_price_rules_request,
               crm__list_price_rules_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/prices:quote",
     CUSTOMERS("QuotePrices", crm__quote_prices_request, crm__quote_prices_response), .body = "*",
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"GET", "/v1/settings", CUSTOMERS("GetSettings", crm__get_settings_request, crm__settings),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"PATCH", "/v1/settings",
     CUSTOMERS("UpdateSettings", crm__update_settings_request, crm__settings), .body = "settings",
     .success = 200, .scopes = SCOPE(SETTINGS)},

    /* the wallet: money on the account, loyalty points, gift vouchers */
    {"GET", "/v1/customers/{id}/wallet",
     CUSTOMERS("GetWallet", crm__get_wallet_request, crm__wallet), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"GET", "/v1/customers/{id}/wallet/entries",
     CUSTOMERS("ListWalletEntries", crm__list_wallet_entries_request,
               crm__list_wallet_entries_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/customers/{id}/wallet:adjust",
     CUSTOMERS("AdjustWallet", crm__adjust_wallet_request, crm__wallet_entry_response), .body = "*",
     .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{id}/wallet:earnPoints",
     CUSTOMERS("EarnPoints", crm__earn_points_request, crm__wallet_entry_response), .body = "*",
     .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{id}/wallet:spendPoints",
     CUSTOMERS("SpendPoints", crm__spend_points_request, crm__wallet_entry_response), .body = "*",
     .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{id}/wallet:redeemVoucher",
     CUSTOMERS("RedeemVoucher", crm__redeem_voucher_request, crm__redeem_voucher_response),
     .body = "*", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/vouchers",
     CUSTOMERS("ListVouchers", crm__list_vouchers_request, crm__list_vouchers_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/vouchers",
     CUSTOMERS("IssueVoucher", crm__issue_voucher_request, crm__issue_voucher_response),
     .body = "*", .success = 201, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/vouchers/{id}:cancel",
     CUSTOMERS("CancelVoucher", crm__cancel_voucher_request, crm__voucher), .body = "*",
     .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/walletSettings",
     CUSTOMERS("GetWalletSettings", crm__get_wallet_settings_request, crm__wallet_settings),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"PATCH", "/v1/walletSettings",
     CUSTOMERS("UpdateWalletSettings", crm__update_wallet_settings_request, crm__wallet_settings),
     .body = "settings", .success = 200, .scopes = SCOPE(SETTINGS)},

    /* subscriptions and packages: plans (settings), sold to a customer, visits used */
    {"GET", "/v1/plans", CUSTOMERS("ListPlans", crm__list_plans_request, crm__list_plans_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/plans", CUSTOMERS("CreatePlan", crm__create_plan_request, crm__plan),
     .body = "plan", .success = 201, .location = "/v1/plans/{id}", .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/plans/{id}", CUSTOMERS("GetPlan", crm__get_plan_request, crm__plan),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"PATCH", "/v1/plans/{id}", CUSTOMERS("UpdatePlan", crm__update_plan_request, crm__plan),
     .body = "plan", .success = 200, .scopes = SCOPE(SETTINGS)},
    {"DELETE", "/v1/plans/{id}", CUSTOMERS("DeletePlan", crm__delete_plan_request, crm__empty),
     .success = 204, .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/customers/{customer_id}/subscriptions",
     CUSTOMERS("ListSubscriptions", crm__list_subscriptions_request,
               crm__list_subscriptions_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/customers/{customer_id}/subscriptions",
     CUSTOMERS("SellSubscription", crm__sell_subscription_request, crm__subscription_response),
     .body = "*", .success = 201, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{customer_id}/subscriptions:useVisit",
     CUSTOMERS("UseVisit", crm__use_visit_request, crm__subscription_response), .body = "*",
     .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{customer_id}/subscriptions:undoVisit",
     CUSTOMERS("UndoVisit", crm__undo_visit_request, crm__subscription_response), .body = "*",
     .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers/{customer_id}/subscriptions/{id}",
     CUSTOMERS("GetSubscription", crm__get_subscription_request, crm__subscription), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"PATCH", "/v1/customers/{customer_id}/subscriptions/{id}",
     CUSTOMERS("UpdateSubscription", crm__update_subscription_request, crm__subscription),
     .body = "subscription", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{customer_id}/subscriptions/{id}:cancel",
     CUSTOMERS("CancelSubscription", crm__cancel_subscription_request, crm__subscription_response),
     .body = "*", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},

    /* access control: zones (settings), a customer's credentials and grants, the door */
    {"GET", "/v1/accessZones",
     CUSTOMERS("ListAccessZones", crm__list_access_zones_request, crm__list_access_zones_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/accessZones",
     CUSTOMERS("CreateAccessZone", crm__create_access_zone_request, crm__access_zone),
     .body = "zone", .success = 201, .location = "/v1/accessZones/{id}", .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/accessZones/{id}",
     CUSTOMERS("GetAccessZone", crm__get_access_zone_request, crm__access_zone), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"PATCH", "/v1/accessZones/{id}",
     CUSTOMERS("UpdateAccessZone", crm__update_access_zone_request, crm__access_zone),
     .body = "zone", .success = 200, .scopes = SCOPE(SETTINGS)},
    {"DELETE", "/v1/accessZones/{id}",
     CUSTOMERS("DeleteAccessZone", crm__delete_access_zone_request, crm__empty), .success = 204,
     .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/customers/{customer_id}/accessCredentials",
     CUSTOMERS("ListAccessCredentials", crm__list_access_credentials_request,
               crm__list_access_credentials_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/customers/{customer_id}/accessCredentials",
     CUSTOMERS("CreateAccessCredential", crm__create_access_credential_request,
               crm__access_credential),
     .body = "credential", .success = 201, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"PATCH", "/v1/customers/{customer_id}/accessCredentials/{id}",
     CUSTOMERS("UpdateAccessCredential", crm__update_access_credential_request,
               crm__access_credential),
     .body = "credential", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"DELETE", "/v1/customers/{customer_id}/accessCredentials/{id}",
     CUSTOMERS("DeleteAccessCredential", crm__delete_access_credential_request, crm__empty),
     .success = 204, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers/{customer_id}/accessGrants",
     CUSTOMERS("ListAccessGrants", crm__list_access_grants_request,
               crm__list_access_grants_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/customers/{customer_id}/accessGrants",
     CUSTOMERS("CreateAccessGrant", crm__create_access_grant_request, crm__access_grant),
     .body = "grant", .success = 201, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"DELETE", "/v1/customers/{customer_id}/accessGrants/{id}",
     CUSTOMERS("DeleteAccessGrant", crm__delete_access_grant_request, crm__empty), .success = 204,
     .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers/{customer_id}/accessLog",
     CUSTOMERS("ListAccessLog", crm__list_access_log_request, crm__list_access_log_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/access:check",
     CUSTOMERS("CheckAccess", crm__check_access_request, crm__check_access_response), .body = "*",
     .flags = GATEWAY_NAMES_RESOURCE, .success = 200, .scopes = SCOPE(ACCESS_CHECK)},

    /* API keys: made with scopes, the secret answered once; revoked at once here */
    {"GET", "/v1/apiKeys",
     CUSTOMERS("ListApiKeys", crm__list_api_keys_request, crm__list_api_keys_response),
     .success = 200, .scopes = SCOPE(STAFF)},
    {"POST", "/v1/apiKeys",
     CUSTOMERS("CreateApiKey", crm__create_api_key_request, crm__create_api_key_response),
     .body = "*", .success = 201, .scopes = SCOPE(STAFF)},
    {"DELETE", "/v1/apiKeys/{id}",
     CUSTOMERS("RevokeApiKey", crm__revoke_api_key_request, crm__empty), .success = 204,
     .scopes = SCOPE(STAFF)},

    /* staff: sign-in, sessions, members, invitations, security events */
    {"POST", "/v1/session",
     CUSTOMERS("SignInStaff", crm__sign_in_staff_request, crm__staff_session), .body = "*",
     .flags = GATEWAY_PUBLIC | GATEWAY_NO_NOT_FOUND | GATEWAY_CLIENT_ADDRESS | GATEWAY_SESSION_SET,
     .success = 200, .omit = "token"},
    /* Any valid key or session: it only tells the caller about itself. */
    {"GET", "/v1/whoami", CUSTOMERS("WhoAmI", crm__get_caller_request, crm__caller), .success = 200,
     .scopes = SCOPE(AUTHENTICATED)},
    {"GET", "/v1/session", CUSTOMERS("GetSession", crm__session_token_request, crm__staff_session),
     .flags = GATEWAY_PUBLIC | GATEWAY_SESSION_TOKEN, .success = 200, .omit = "token"},
    {"DELETE", "/v1/session", CUSTOMERS("SignOut", crm__session_token_request, crm__staff),
     .flags =
         GATEWAY_PUBLIC | GATEWAY_SESSION_TOKEN | GATEWAY_SESSION_CLEAR | GATEWAY_SESSION_EVICT,
     .success = 204},
    {"POST", "/v1/session:signOutEverywhere",
     CUSTOMERS("SignOutEverywhere", crm__session_token_request, crm__staff),
     .flags =
         GATEWAY_PUBLIC | GATEWAY_SESSION_TOKEN | GATEWAY_SESSION_CLEAR | GATEWAY_SESSION_EVICT,
     .success = 204},
    {"GET", "/v1/staff", CUSTOMERS("ListStaff", crm__list_staff_request, crm__list_staff_response),
     .success = 200, .scopes = SCOPE(PRIVATE_READ)},
    {"POST", "/v1/staff:invite",
     CUSTOMERS("InviteStaff", crm__invite_staff_request, crm__invite_staff_response), .body = "*",
     .success = 201, .scopes = SCOPE(STAFF)},
    {"PATCH", "/v1/staff/{id}", CUSTOMERS("UpdateStaff", crm__update_staff_request, crm__staff),
     .body = "*", .flags = GATEWAY_SESSION_EVICT, .success = 200, .scopes = SCOPE(STAFF)},
    {"POST", "/v1/invites:inspect",
     CUSTOMERS("InspectInvite", crm__inspect_invite_request, crm__invite_info), .body = "*",
     .flags = GATEWAY_PUBLIC | GATEWAY_NO_NOT_FOUND, .success = 200},
    {"POST", "/v1/invites:accept",
     CUSTOMERS("AcceptInvite", crm__accept_invite_request, crm__staff_session), .body = "*",
     .flags = GATEWAY_PUBLIC | GATEWAY_NO_NOT_FOUND | GATEWAY_CLIENT_ADDRESS | GATEWAY_SESSION_SET,
     .success = 200, .omit = "token"},
    {"POST", "/v1/session:forgotPassword",
     CUSTOMERS("ForgotPassword", crm__forgot_password_request, crm__empty), .body = "*",
     .flags = GATEWAY_PUBLIC | GATEWAY_NO_NOT_FOUND | GATEWAY_CLIENT_ADDRESS, .success = 202},
    {"POST", "/v1/session:resetPassword",
     CUSTOMERS("ResetPassword", crm__reset_password_request, crm__staff_session), .body = "*",
     .flags = GATEWAY_PUBLIC | GATEWAY_NO_NOT_FOUND | GATEWAY_CLIENT_ADDRESS | GATEWAY_SESSION_SET |
              GATEWAY_SESSION_EVICT,
     .success = 200, .omit = "token"},
    {"GET", "/v1/securityEvents",
     CUSTOMERS("ListSecurityEvents", crm__list_security_events_request,
               crm__list_security_events_response),
     .success = 200, .scopes = SCOPE(STAFF)},

    /* company: EU VAT numbers checked against VIES */
    {"POST", "/v1/company:lookup", COMPANY("LookupVat", crm__lookup_vat_request, crm__vat_lookup),
     .body = "*", .success = 200, .scopes = SCOPE(COMPANY_READ)},
    {"POST", "/v1/customers/{id}:verifyVat",
     COMPANY("VerifyVat", crm__verify_vat_request, crm__customer), .body = "*", .success = 200,
     .scopes = SCOPE(CUSTOMERS_WRITE) | SCOPE(CUSTOMERS_READ)},

    /* notify: messages to customers, sent from a durable queue (202: queued) */
    {"POST", "/v1/customers/{customer_id}:sendMessage",
     NOTIFY("SendMessage", crm__send_message_request, crm__message), .body = "*", .success = 202,
     .location = "/v1/messages/{id}", .scopes = SCOPE(MESSAGES_SEND)},
    {"POST", "/v1/customers/{customer_id}:sendPasswordLink",
     NOTIFY("SendPasswordLink", crm__send_password_link_request, crm__message), .body = "*",
     .success = 202, .location = "/v1/messages/{id}", .scopes = SCOPE(MESSAGES_SEND)},
    {"POST", "/v1/customers/{customer_id}:sendActivation",
     NOTIFY("SendActivation", crm__send_activation_request, crm__message), .body = "*",
     .success = 202, .location = "/v1/messages/{id}", .scopes = SCOPE(MESSAGES_SEND)},
    {"POST", "/v1/customers:signIn", NOTIFY("SignIn", crm__sign_in_request, crm__sign_in_response),
     .body = "*", .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    /* The set-password page's calls: no key; the link's token is the credential. */
    {"POST", "/v1/passwordLinks:inspect",
     NOTIFY("InspectPasswordLink", crm__inspect_password_link_request, crm__password_link),
     .body = "*", .flags = GATEWAY_PUBLIC | GATEWAY_NO_NOT_FOUND, .success = 200},
    {"POST", "/v1/passwordLinks:setPassword",
     NOTIFY("SetPassword", crm__set_password_request, crm__set_password_response), .body = "*",
     .flags = GATEWAY_PUBLIC | GATEWAY_NO_NOT_FOUND, .success = 200},
    {"POST", "/v1/passwordLinks:renew",
     NOTIFY("RenewPasswordLink", crm__renew_password_link_request,
            crm__renew_password_link_response),
     .body = "*", .flags = GATEWAY_PUBLIC | GATEWAY_NO_NOT_FOUND, .success = 200},
    /* The registration page's calls: no key; the business's id comes from its link. */
    {"GET", "/v1/registrationForms/{business}",
     NOTIFY("GetRegistrationForm", crm__get_registration_form_request, crm__registration_form),
     .flags = GATEWAY_PUBLIC, .success = 200},
    {"POST", "/v1/registrations",
     NOTIFY("CreateRegistration", crm__create_registration_request,
            crm__create_registration_response),
     .body = "*", .flags = GATEWAY_PUBLIC | GATEWAY_CLIENT_ADDRESS, .success = 202},
    {"GET", "/v1/customers/{customer_id}/messages",
     NOTIFY("ListMessages", crm__list_messages_request, crm__list_messages_response),
     .success = 200, .scopes = SCOPE(NOTES_READ)},
    {"GET", "/v1/messages/{id}", NOTIFY("GetMessage", crm__get_message_request, crm__message),
     .success = 200, .scopes = SCOPE(NOTES_READ)},
    /* A scheduled message, cancelled before it goes (412 once it is being sent). */
    {"POST", "/v1/messages/{id}:cancel",
     NOTIFY("CancelMessage", crm__cancel_message_request, crm__message), .body = "*",
     .success = 200, .scopes = SCOPE(MESSAGES_SEND)},
    {"GET", "/v1/notifySettings",
     NOTIFY("GetSettings", crm__get_notify_settings_request, crm__notify_settings), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"PUT", "/v1/notifySettings",
     NOTIFY("UpdateSettings", crm__update_notify_settings_request, crm__notify_settings),
     .body = "settings", .success = 200, .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/templates",
     NOTIFY("ListTemplates", crm__list_templates_request, crm__list_templates_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/templates:preview",
     NOTIFY("PreviewTemplate", crm__preview_template_request, crm__rendered_message), .body = "*",
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"GET", "/v1/templates/{kind}/{language}",
     NOTIFY("GetTemplate", crm__get_template_request, crm__template), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"PUT", "/v1/templates/{kind}/{language}",
     NOTIFY("UpdateTemplate", crm__update_template_request, crm__template), .body = "template",
     .success = 200, .scopes = SCOPE(SETTINGS)},
    {"DELETE", "/v1/templates/{kind}/{language}",
     NOTIFY("ResetTemplate", crm__reset_template_request, crm__template), .success = 200,
     .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/trialMailbox",
     NOTIFY("ListTrialMailbox", crm__list_trial_mailbox_request, crm__list_trial_mailbox_response),
     .success = 200, .scopes = SCOPE(NOTES_READ)},
    {"POST", "/v1/sms:measure", NOTIFY("MeasureSms", crm__measure_sms_request, crm__sms_measure),
     .body = "*", .success = 200, .scopes = SCOPE(MESSAGES_SEND)},
    /* notify: newsletters to a group or a tag (docs/notify.md, "Newsletters") */
    {"POST", "/v1/campaigns", NOTIFY("CreateCampaign", crm__create_campaign_request, crm__campaign),
     .body = "campaign", .success = 201, .location = "/v1/campaigns/{id}",
     .scopes = SCOPE(MESSAGES_SEND)},
    {"GET", "/v1/campaigns",
     NOTIFY("ListCampaigns", crm__list_campaigns_request, crm__list_campaigns_response),
     .success = 200, .scopes = SCOPE(NOTES_READ)},
    {"GET", "/v1/campaigns/{id}", NOTIFY("GetCampaign", crm__get_campaign_request, crm__campaign),
     .success = 200, .scopes = SCOPE(NOTES_READ)},
    {"POST", "/v1/campaigns/{id}:cancel",
     NOTIFY("CancelCampaign", crm__cancel_campaign_request, crm__campaign), .body = "*",
     .success = 200, .scopes = SCOPE(MESSAGES_SEND)},
    /* A newsletter's unsubscribe link: no key; the token is the credential. The
     * body is the one-click form (RFC 8058), not JSON. */
    {"POST", "/v1/unsubscribe/{token}",
     NOTIFY("Unsubscribe", crm__unsubscribe_request, crm__unsubscribe_response), .body = "body",
     .flags = GATEWAY_PUBLIC | GATEWAY_RAW_BODY, .success = 200, .max_body = 1024},

    /* notify: replies, posted by a mail provider's or an SMS provider's inbound
     * webhook (docs/notify.md, "Replies"); the e-mail is the raw message. */
    {"POST", "/v1/inbound/email",
     NOTIFY("InboundEmail", crm__inbound_email_request, crm__inbound_response), .body = "raw",
     .flags = GATEWAY_RAW_BODY, .success = 200, .max_body = 1048576,
     .body_types = "message/rfc822,text/plain,application/octet-stream",
     .scopes = SCOPE(NOTES_WRITE)},
    {"POST", "/v1/inbound/sms",
     NOTIFY("InboundSms", crm__inbound_sms_request, crm__inbound_response), .body = "*",
     .success = 200, .scopes = SCOPE(NOTES_WRITE)},
    {"GET", "/v1/replies",
     NOTIFY("ListReplies", crm__list_replies_request, crm__list_replies_response), .success = 200,
     .scopes = SCOPE(NOTES_READ)},
    {"GET", "/v1/customers/{customer_id}/conversations",
     NOTIFY("ListConversations", crm__list_conversations_request, crm__list_conversations_response),
     .success = 200, .scopes = SCOPE(NOTES_READ)},

    /* exchange: the customer book out as CSV and Excel files */
    {"GET", "/v1/customers:export",
     EXCHANGE("ExportCustomers", crm__export_customers_request, crm__export_chunk),
     .flags = GATEWAY_STREAM_REPLY, .success = 200,
     .scopes = SCOPE(EXCHANGE) | SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/imports", EXCHANGE("CreateImport", crm__create_import_request, crm__import),
     .flags = GATEWAY_STREAM_BODY, .part_rpc = "PutUploadPart",
     .part_request = &crm__put_upload_part_request__descriptor,
     .part_response = &crm__put_upload_part_response__descriptor, .success = 201,
     .location = "/v1/imports/{id}", .max_body = 512L * 1024 * 1024,
     .body_types = "text/csv,text/plain,application/octet-stream,"
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     .scopes = SCOPE(EXCHANGE)},
    {"GET", "/v1/imports:columns",
     EXCHANGE("ListColumns", crm__list_columns_request, crm__list_columns_response), .success = 200,
     .scopes = SCOPE(EXCHANGE)},
    {"GET", "/v1/imports/{id}", EXCHANGE("GetImport", crm__get_import_request, crm__import),
     .success = 200, .scopes = SCOPE(EXCHANGE)},
    /* exchange: an export as a job, its file kept for download (docs/exchange.md) */
    {"POST", "/v1/exports", EXCHANGE("CreateExport", crm__create_export_request, crm__export),
     .body = "*", .success = 201, .location = "/v1/exports/{id}",
     .scopes = SCOPE(EXCHANGE) | SCOPE(CUSTOMERS_READ)},
    {"GET", "/v1/exports/{id}", EXCHANGE("GetExport", crm__get_export_request, crm__export),
     .success = 200, .scopes = SCOPE(EXCHANGE)},
    {"GET", "/v1/exports/{id}/file",
     EXCHANGE("GetExportFile", crm__get_export_file_request, crm__export_chunk),
     .flags = GATEWAY_STREAM_REPLY | GATEWAY_MAY_BE_GONE, .success = 200,
     .scopes = SCOPE(EXCHANGE)},
    {"POST", "/v1/imports/{id}:revert",
     EXCHANGE("RevertImport", crm__revert_import_request, crm__import), .body = "*", .success = 200,
     .scopes = SCOPE(EXCHANGE) | SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/imports/{id}/failedRows",
     EXCHANGE("ExportFailedRows", crm__export_failed_rows_request, crm__export_chunk),
     .flags = GATEWAY_STREAM_REPLY, .success = 200, .scopes = SCOPE(EXCHANGE)},

    /* search */
    {"GET", "/v1/customers:search",
     SEARCH("SearchCustomers", crm__search_customers_request, crm__search_customers_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},

    /* a customer's files, and the terms a customer signs on a tablet (notes) */
    {"GET", "/v1/customers/{customer_id}/files",
     NOTES("ListFiles", crm__list_files_request, crm__list_files_response), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/customers/{customer_id}/files",
     NOTES("UploadFile", crm__upload_file_request, crm__customer_file), .body = "data",
     .flags = GATEWAY_RAW_BODY, .success = 201,
     .location = "/v1/customers/{customer_id}/files/{id}", .max_body = GATEWAY_FILE_MAX,
     .body_types = "*/*", .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{customer_id}/files:signTerms",
     NOTES("SignTerms", crm__sign_terms_request, crm__customer_file), .body = "*", .success = 201,
     .location = "/v1/customers/{customer_id}/files/{id}", .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers/{customer_id}/files/{id}",
     NOTES("GetFile", crm__get_file_request, crm__customer_file), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"PATCH", "/v1/customers/{customer_id}/files/{id}",
     NOTES("RenameFile", crm__rename_file_request, crm__customer_file), .body = "*", .success = 200,
     .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"DELETE", "/v1/customers/{customer_id}/files/{id}",
     NOTES("DeleteFile", crm__delete_file_request, crm__empty), .success = 204,
     .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers/{customer_id}/files/{id}/content",
     NOTES("GetFileContent", crm__get_file_request, crm__file_content),
     .flags = GATEWAY_RAW_REPLY | GATEWAY_ATTACHMENT, .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"GET", "/v1/terms", NOTES("GetTerms", crm__get_terms_request, crm__terms), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"PUT", "/v1/terms", NOTES("UpdateTerms", crm__update_terms_request, crm__terms),
     .body = "terms", .success = 200, .scopes = SCOPE(SETTINGS)},

    /* notes and tasks */
    {"GET", "/v1/customers/{customer_id}/notes",
     NOTES("ListNotes", crm__list_notes_request, crm__list_notes_response), .success = 200,
     .scopes = SCOPE(NOTES_READ)},
    {"POST", "/v1/customers/{customer_id}/notes",
     NOTES("CreateNote", crm__create_note_request, crm__note), .body = "note", .success = 201,
     .location = "/v1/customers/{customer_id}/notes/{id}", .scopes = SCOPE(NOTES_WRITE)},
    {"GET", "/v1/customers/{customer_id}/notes/{id}",
     NOTES("GetNote", crm__get_note_request, crm__note), .success = 200,
     .scopes = SCOPE(NOTES_READ)},
    {"PATCH", "/v1/customers/{customer_id}/notes/{id}",
     NOTES("UpdateNote", crm__update_note_request, crm__note), .body = "note", .success = 200,
     .scopes = SCOPE(NOTES_WRITE)},
    {"DELETE", "/v1/customers/{customer_id}/notes/{id}",
     NOTES("DeleteNote", crm__delete_note_request, crm__empty), .success = 204,
     .scopes = SCOPE(NOTES_WRITE)},
    {"GET", "/v1/customers/{customer_id}/tasks",
     NOTES("ListCustomerTasks", crm__list_tasks_request, crm__list_tasks_response), .success = 200,
     .scopes = SCOPE(NOTES_READ)},
    {"POST", "/v1/customers/{customer_id}/tasks",
     NOTES("CreateCustomerTask", crm__create_task_request, crm__task), .body = "task",
     .success = 201, .location = "/v1/tasks/{id}", .scopes = SCOPE(NOTES_WRITE)},
    {"GET", "/v1/tasks", NOTES("ListTasks", crm__list_tasks_request, crm__list_tasks_response),
     .flags = GATEWAY_NAMES_RESOURCE, .success = 200, .scopes = SCOPE(NOTES_READ)},
    {"POST", "/v1/tasks", NOTES("CreateTask", crm__create_task_request, crm__task), .body = "task",
     .success = 201, .location = "/v1/tasks/{id}", .scopes = SCOPE(NOTES_WRITE)},
    {"GET", "/v1/tasks.ics",
     NOTES("GetTaskCalendar", crm__task_calendar_request, crm__task_calendar),
     .flags = GATEWAY_RAW_REPLY, .success = 200, .scopes = SCOPE(NOTES_READ)},
    {"GET", "/v1/tasks/{id}", NOTES("GetTask", crm__get_task_request, crm__task), .success = 200,
     .scopes = SCOPE(NOTES_READ)},
    {"PATCH", "/v1/tasks/{id}", NOTES("UpdateTask", crm__update_task_request, crm__task),
     .body = "task", .success = 200, .scopes = SCOPE(NOTES_WRITE)},
    {"DELETE", "/v1/tasks/{id}", NOTES("DeleteTask", crm__delete_task_request, crm__empty),
     .success = 204, .scopes = SCOPE(NOTES_WRITE)},
    {"POST", "/v1/taskFeeds",
     NOTES("CreateTaskFeed", crm__create_task_feed_request, crm__task_feed), .body = "feed",
     .success = 201, .scopes = SCOPE(NOTES_WRITE)},
    {"GET", "/v1/taskFeeds",
     NOTES("ListTaskFeeds", crm__list_task_feeds_request, crm__list_task_feeds_response),
     .success = 200, .scopes = SCOPE(NOTES_READ)},
    {"DELETE", "/v1/taskFeeds/{id}",
     NOTES("DeleteTaskFeed", crm__delete_task_feed_request, crm__empty), .success = 204,
     .scopes = SCOPE(NOTES_WRITE)},
    /* A calendar app's subscription: no API key; the secret token in the
     * query (the gateway logs paths without their query) finds the feed. */
    {"GET", "/v1/feeds/tasks.ics",
     NOTES("GetTaskFeedCalendar", crm__task_calendar_request, crm__task_calendar),
     .flags = GATEWAY_PUBLIC | GATEWAY_RAW_REPLY, .success = 200},

    /* timeline, summary and intake */
    {"GET", "/v1/customers/{id}/timeline",
     NOTES("ListTimeline", crm__list_timeline_request, crm__list_timeline_response), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"GET", "/v1/customers/{id}/summary",
     NOTES("GetSummary", crm__get_summary_request, crm__summary), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/events", NOTES("IngestEvent", crm__intake_event, crm__ingest_event_response),
     .body = "*", .success = 202, .scopes = SCOPE(EVENTS_PUBLISH)},
    {"POST", "/v1/events:batch",
     NOTES("IngestEvents", crm__ingest_events_request, crm__ingest_events_response), .body = "*",
     .success = 200, .scopes = SCOPE(EVENTS_PUBLISH)},

    /* visits with their parameters, presets, purchases returned or cancelled
     * (docs/visits.md) */
    {"GET", "/v1/customers/{customer_id}/visits",
     NOTES("ListVisits", crm__list_visits_request, crm__list_visits_response), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"GET", "/v1/customers/{customer_id}/visits/{booking_id}/parameters",
     NOTES("GetVisitParameters", crm__get_visit_parameters_request, crm__visit_parameters),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"PUT", "/v1/customers/{customer_id}/visits/{booking_id}/parameters",
     NOTES("PutVisitParameters", crm__put_visit_parameters_request, crm__visit_parameters),
     .body = "*", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/visitPresets",
     NOTES("ListVisitPresets", crm__list_visit_presets_request, crm__list_visit_presets_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/visitPresets",
     NOTES("CreateVisitPreset", crm__create_visit_preset_request, crm__visit_preset),
     .body = "preset", .success = 201, .location = "/v1/visitPresets/{id}",
     .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/visitPresets/{id}",
     NOTES("GetVisitPreset", crm__get_visit_preset_request, crm__visit_preset), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"PUT", "/v1/visitPresets/{id}",
     NOTES("UpdateVisitPreset", crm__update_visit_preset_request, crm__visit_preset),
     .body = "preset", .success = 200, .scopes = SCOPE(SETTINGS)},
    {"DELETE", "/v1/visitPresets/{id}",
     NOTES("DeleteVisitPreset", crm__delete_visit_preset_request, crm__empty), .success = 204,
     .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/customers/{customer_id}/purchases",
     NOTES("ListPurchases", crm__list_purchases_request, crm__list_purchases_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/customers/{customer_id}/purchases/{order_id}:cancel",
     NOTES("CancelPurchase", crm__cancel_purchase_request, crm__purchase_action_response),
     .body = "*", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{customer_id}/purchases/{order_id}:return",
     NOTES("ReturnPurchase", crm__return_purchase_request, crm__purchase_action_response),
     .body = "*", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{customer_id}/purchases/{order_id}:retryCredit",
     NOTES("RetryPurchaseCredit", crm__purchase_credit_request, crm__purchase_action_response),
     .body = "*", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"POST", "/v1/customers/{customer_id}/purchases/{order_id}:settleCredit",
     NOTES("SettlePurchaseCredit", crm__purchase_credit_request, crm__purchase_action_response),
     .body = "*", .success = 200, .scopes = SCOPE(CUSTOMERS_WRITE)},

    /* automation rules (docs/rules.md) */
    {"GET", "/v1/rules", NOTES("ListRules", crm__list_rules_request, crm__list_rules_response),
     .success = 200, .scopes = SCOPE(SETTINGS)},
    {"POST", "/v1/rules", NOTES("CreateRule", crm__create_rule_request, crm__rule), .body = "rule",
     .success = 201, .location = "/v1/rules/{id}", .scopes = SCOPE(SETTINGS)},
    {"POST", "/v1/rules:dryRun",
     NOTES("DryRunRule", crm__dry_run_rule_request, crm__dry_run_rule_response), .body = "*",
     .success = 200, .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/rules/{id}", NOTES("GetRule", crm__get_rule_request, crm__rule), .success = 200,
     .scopes = SCOPE(SETTINGS)},
    {"PUT", "/v1/rules/{id}", NOTES("UpdateRule", crm__update_rule_request, crm__rule),
     .body = "rule", .success = 200, .scopes = SCOPE(SETTINGS)},
    {"DELETE", "/v1/rules/{id}", NOTES("DeleteRule", crm__delete_rule_request, crm__empty),
     .success = 204, .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/rules/{id}/runs",
     NOTES("ListRuleRuns", crm__list_rule_runs_request, crm__list_rule_runs_response),
     .success = 200, .scopes = SCOPE(SETTINGS)},
    /* the Orders bot's instructions for one order (docs/rules.md, "Orders bot"):
     * the order in the query (?source=&orderId=), since a store's order ids
     * hold what a path segment may not ('.', '#', '/', over 64 characters) */
    {"GET", "/v1/customers/{customer_id}/orderInstructions",
     NOTES("ListOrderInstructions", crm__list_order_instructions_request,
           crm__list_order_instructions_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    /* forms: the customer card and surveys */
    {"GET", "/v1/forms", NOTES("ListForms", crm__list_forms_request, crm__list_forms_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/forms", NOTES("CreateForm", crm__create_form_request, crm__form), .body = "form",
     .success = 201, .location = "/v1/forms/{id}", .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/forms/{id}", NOTES("GetForm", crm__get_form_request, crm__form), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
    {"PATCH", "/v1/forms/{id}", NOTES("UpdateForm", crm__update_form_request, crm__form),
     .body = "form", .success = 200, .scopes = SCOPE(SETTINGS)},
    {"DELETE", "/v1/forms/{id}", NOTES("DeleteForm", crm__delete_form_request, crm__empty),
     .success = 204, .scopes = SCOPE(SETTINGS)},
    {"GET", "/v1/forms/{id}/results",
     NOTES("GetSurveyResults", crm__get_survey_results_request, crm__survey_results),
     .flags = GATEWAY_STATE_CHECKED, .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"GET", "/v1/customers/{customer_id}/card",
     NOTES("GetCard", crm__get_card_request, crm__customer_card), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ) | SCOPE(PRIVATE_READ)},
    {"PUT", "/v1/customers/{customer_id}/card",
     NOTES("UpdateCard", crm__update_card_request, crm__customer_card), .body = "*", .success = 200,
     .scopes = SCOPE(CUSTOMERS_WRITE) | SCOPE(PRIVATE_READ)},
    {"GET", "/v1/customers/{customer_id}/card/history",
     NOTES("ListCardHistory", crm__list_fillings_request, crm__list_fillings_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ) | SCOPE(PRIVATE_READ)},
    {"GET", "/v1/customers/{customer_id}/surveys",
     NOTES("ListSurveyFillings", crm__list_fillings_request, crm__list_fillings_response),
     .success = 200, .scopes = SCOPE(CUSTOMERS_READ)},
    {"POST", "/v1/customers/{customer_id}/surveys",
     NOTES("FillSurvey", crm__fill_survey_request, crm__form_filling), .body = "*", .success = 201,
     .location = "/v1/customers/{customer_id}/surveys/{id}", .scopes = SCOPE(CUSTOMERS_WRITE)},
    {"GET", "/v1/customers/{customer_id}/surveys/{id}",
     NOTES("GetFilling", crm__get_filling_request, crm__form_filling), .success = 200,
     .scopes = SCOPE(CUSTOMERS_READ)},
};
const size_t gateway_n_routes = sizeof gateway_routes / sizeof gateway_routes[0];

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

bool gateway_request_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n == 64)
            return false;
    }
    return n > 0;
}

long gateway_percent_decode(const char *s, size_t len, bool plus_space, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = cm_hex_digit(s[i + 1]), lo = cm_hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0')
            return GATEWAY_DECODE_NUL;
        if (o + 1 >= size)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

/* True for 1..64 of [A-Za-z0-9_-]. */
static bool s_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok || n == GATEWAY_MAX_ID)
            return false;
    }
    return n > 0;
}

/* ---------------------------------------------------------------------- */
/* Matching                                                                */

/* Next segment of a path or pattern at *p (just after a '/'): start and length;
 * advances *p past it and its trailing slash. */
static void s_segment(const char **p, const char **seg, size_t *len)
{
    const char *s = *p;
    const char *e = strchr(s, '/');
    if (!e)
        e = s + strlen(s);
    *seg = s;
    *len = (size_t)(e - s);
    *p = *e ? e + 1 : e;
}

/* Matches path against pattern structurally; fills the raw parameter spans.
 * Returns the number of parameters, or -1 when the pattern does not fit. */
static int s_fit(const char *pattern, const char *path, size_t path_len, const char **raw,
                 size_t *raw_len, const char **names, size_t *name_len)
{
    /* Both start with '/'; walk them segment by segment. */
    const char *pp = pattern + 1;
    const char *end = path + path_len;
    const char *sp = path + 1;
    int np = 0;
    for (;;) {
        bool pat_done = *pp == '\0';
        bool path_done = sp >= end;
        if (pat_done || path_done)
            return pat_done && path_done ? np : -1;
        const char *pseg;
        size_t plen;
        s_segment(&pp, &pseg, &plen);
        const char *e = memchr(sp, '/', (size_t)(end - sp));
        if (!e)
            e = end;
        const char *seg = sp;
        size_t slen = (size_t)(e - sp);
        sp = e < end ? e + 1 : end;
        /* A path ending in "/x/" left sp at end with nothing after: the
         * caller strips one trailing slash, so an empty segment is a miss. */
        if (e < end && sp == end)
            return -1;
        if (plen > 2 && pseg[0] == '{') {
            const char *close = memchr(pseg, '}', plen);
            if (!close)
                return -1;
            size_t verb_len = plen - (size_t)(close + 1 - pseg); // ":merge" or 0
            if (slen <= verb_len || memcmp(seg + slen - verb_len, close + 1, verb_len) != 0)
                return -1;
            if (np == GATEWAY_MAX_PARAMS)
                return -1;
            names[np] = pseg + 1;
            name_len[np] = (size_t)(close - pseg - 1);
            raw[np] = seg;
            raw_len[np] = slen - verb_len;
            np++;
        } else if (plen != slen || memcmp(pseg, seg, slen) != 0) {
            return -1;
        }
    }
}

static void s_allow_add(char *allow, size_t size, const char *method)
{
    /* Each method once. */
    size_t mlen = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += mlen)
        if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || p[mlen] == '\0'))
            return;
    size_t n = strlen(allow);
    snprintf(allow + n, size - n, "%s%s", n ? ", " : "", method);
}

enum gateway_match_result gateway_routes_match(const struct gateway_route *routes, size_t n,
                                               const char *method, const char *path,
                                               struct gateway_match *m)
{
    memset(m, 0, sizeof *m);
    if (path[0] != '/')
        return GATEWAY_MATCH_NO_ROUTE;
    size_t path_len = strlen(path);
    if (path_len > 1 && path[path_len - 1] == '/')
        path_len--;
    const char *want = strcmp(method, "HEAD") ? method : "GET";
    const struct gateway_route *hit = NULL;
    const char *raw[GATEWAY_MAX_PARAMS], *names[GATEWAY_MAX_PARAMS];
    size_t raw_len[GATEWAY_MAX_PARAMS], name_len[GATEWAY_MAX_PARAMS];
    int np = -1;
    bool fits = false;
    for (size_t i = 0; i < n && !hit; i++) {
        const char *r[GATEWAY_MAX_PARAMS], *nm[GATEWAY_MAX_PARAMS];
        size_t rl[GATEWAY_MAX_PARAMS], nl[GATEWAY_MAX_PARAMS];
        int k = s_fit(routes[i].pattern, path, path_len, r, rl, nm, nl);
        if (k < 0)
            continue;
        fits = true;
        if (strcmp(routes[i].method, want))
            continue;
        hit = &routes[i];
        np = k;
        memcpy(raw, r, sizeof r);
        memcpy(raw_len, rl, sizeof rl);
        memcpy(names, nm, sizeof nm);
        memcpy(name_len, nl, sizeof nl);
    }
    if (!hit) {
        if (!fits)
            return GATEWAY_MATCH_NO_ROUTE;
        /* Collect the methods of every route whose pattern fits. */
        for (size_t i = 0; i < n; i++) {
            const char *r[GATEWAY_MAX_PARAMS], *nm[GATEWAY_MAX_PARAMS];
            size_t rl[GATEWAY_MAX_PARAMS], nl[GATEWAY_MAX_PARAMS];
            if (s_fit(routes[i].pattern, path, path_len, r, rl, nm, nl) < 0)
                continue;
            s_allow_add(m->allow, sizeof m->allow, routes[i].method);
            if (!strcmp(routes[i].method, "GET"))
                s_allow_add(m->allow, sizeof m->allow, "HEAD");
        }
        return GATEWAY_MATCH_NO_METHOD;
    }
    m->route = hit;
    m->n_params = (size_t)np;
    for (int i = 0; i < np; i++) {
        snprintf(m->params[i].name, sizeof m->params[i].name, "%.*s", (int)name_len[i], names[i]);
        if (gateway_percent_decode(raw[i], raw_len[i], false, m->params[i].value,
                                   sizeof m->params[i].value) < 0 ||
            !s_id_valid(m->params[i].value))
            return GATEWAY_MATCH_BAD_PARAM;
    }
    return GATEWAY_MATCH_OK;
}
