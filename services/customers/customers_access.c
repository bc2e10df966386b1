/* The handlers of access control (customers_access.h): each checks its
 * request, naming every field that is wrong, then works in the call's
 * transaction. */
#include "customers_access.h"
#include "customers_access_rules.h"
#include "customers_access_store.h"
#include "customers_check.h"
#include "customers_subs_rules.h"
#include "customers_subs_store.h"
#include "customers_validate.h"
#include "cm_log.h"
#include "cm_pbjson.h"
#include "cm_util.h"

#include <stdio.h>
#include <string.h>

#define TENANT(call) ((call)->hdr->tenant_id)

/* ---------------------------------------------------------------------- */
/* Zones                                                                   */

void customers_access_zones(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    (void)msg;
    Crm__ListAccessZonesResponse *r =
        (Crm__ListAccessZonesResponse *)cm_pb_new(&crm__list_access_zones_response__descriptor);
    cm_err_t err = customers_access_store_zones(call->db, TENANT(call), r);
    if (err) {
        cm_call_db_fail(call, err, "could not list the zones");
        crm__list_access_zones_response__free_unpacked(r, NULL);
        return;
    }
    *resp = &r->base;
}

void customers_access_zone_get(struct cm_call *call, const ProtobufCMessage *msg,
                               ProtobufCMessage **resp)
{
    const char *id = ((const Crm__GetAccessZoneRequest *)msg)->id;
    Crm__AccessZone *z = NULL;
    cm_err_t err = customers_check_uuid(id)
                       ? customers_access_store_zone(call->db, TENANT(call), id, &z)
                       : CM_OK;
    if (err)
        cm_call_db_fail(call, err, "could not read the zone");
    else if (!z)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no zone %.64s", id);
    else
        *resp = &z->base;
}

/* Stores zone id named name (a new one when insert) after checking the name
 * and, for a new one, the business's room; answers it. */
static void s_put_zone(struct cm_call *call, const char *id, const Crm__AccessZone *in, bool insert,
                       ProtobufCMessage **resp)
{
    const char *name = in ? in->name : "";
    const char *first = name;
    while (cm_ascii_space((unsigned char)*first))
        first++;
    if (!*first)
        cm_call_violation(call, "zone.name", "REQUIRED", "name is required");
    else if (customers_validate_length(name, CUSTOMERS_ACCESS_ZONE_NAME_MAX))
        cm_call_violation(call, "zone.name", "TOO_LONG", "name is too long: at most %d characters",
                          CUSTOMERS_ACCESS_ZONE_NAME_MAX);
    if (cm_call_failed(call))
        return;
    long count = 0;
    cm_err_t err =
        insert ? customers_access_store_zone_count(call->db, TENANT(call), &count) : CM_OK;
    if (!err && insert && count >= CUSTOMERS_ACCESS_ZONES_MAX) {
        cm_call_fail(call, CM_ERR_TOO_LARGE,
                     "a business has at most %d zones; delete or rename one",
                     CUSTOMERS_ACCESS_ZONES_MAX);
        return;
    }
    Crm__AccessZone *z = NULL;
    if (!err)
        err = customers_access_store_zone_put(call->db, TENANT(call), id, name, insert, &z);
    if (err == CM_ERR_CONFLICT) {
        cm_call_fail(call, CM_ERR_CONFLICT, "a zone is named %.100s already", name);
        cm_call_violation(call, "zone.name", "ALREADY_EXISTS", "another zone has this name");
    } else if (err) {
        cm_call_db_fail(call, err, "could not store the zone");
    } else if (!z) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no zone %.64s", id);
    } else {
        *resp = &z->base;
    }
}

void customers_access_zone_create(struct cm_call *call, const ProtobufCMessage *msg,
                                  ProtobufCMessage **resp)
{
    char id[40];
    cm_uuid(id);
    s_put_zone(call, id, ((const Crm__CreateAccessZoneRequest *)msg)->zone, true, resp);
}

void customers_access_zone_update(struct cm_call *call, const ProtobufCMessage *msg,
                                  ProtobufCMessage **resp)
{
    const Crm__UpdateAccessZoneRequest *req = (const Crm__UpdateAccessZoneRequest *)msg;
    if (!customers_check_uuid(req->id))
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no zone %.64s", req->id);
    else
        s_put_zone(call, req->id, req->zone, false, resp);
}

void customers_access_zone_delete(struct cm_call *call, const ProtobufCMessage *msg,
                                  ProtobufCMessage **resp)
{
    const char *id = ((const Crm__DeleteAccessZoneRequest *)msg)->id;
    bool deleted = false;
    cm_err_t err = customers_check_uuid(id)
                       ? customers_access_store_zone_delete(call->db, TENANT(call), id, &deleted)
                       : CM_OK;
    if (err)
        cm_call_db_fail(call, err, "could not delete the zone");
    else if (!deleted)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no zone %.64s", id);
    else
        *resp = cm_pb_new(&crm__empty__descriptor);
}

/* ---------------------------------------------------------------------- */
/* Credentials                                                             */

/* False with the call failed NOT_FOUND when customer is not a customer's id
 * (exists as a list read it). */
static bool s_customer(struct cm_call *call, const char *customer, bool exists)
{
    if (!exists)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", customer);
    return exists;
}

void customers_access_credentials(struct cm_call *call, const ProtobufCMessage *msg,
                                  ProtobufCMessage **resp)
{
    const char *customer = ((const Crm__ListAccessCredentialsRequest *)msg)->customer_id;
    Crm__ListAccessCredentialsResponse *r = (Crm__ListAccessCredentialsResponse *)cm_pb_new(
        &crm__list_access_credentials_response__descriptor);
    bool exists = false;
    long count = 0;
    cm_err_t err = customers_check_uuid(customer)
                       ? customers_access_store_credentials(call->db, TENANT(call), customer,
                                                            &exists, &count, r)
                       : CM_OK;
    if (err)
        cm_call_db_fail(call, err, "could not list the credentials");
    else if (s_customer(call, customer, exists)) {
        *resp = &r->base;
        return;
    }
    crm__list_access_credentials_response__free_unpacked(r, NULL);
}

/* Checks a block's reason. */
static void s_check_reason(struct cm_call *call, const char *reason)
{
    if (customers_validate_length(reason, CUSTOMERS_ACCESS_REASON_MAX))
        cm_call_violation(call, "credential.blockReason", "TOO_LONG",
                          "blockReason is too long: at most %d characters",
                          CUSTOMERS_ACCESS_REASON_MAX);
}

/* Answers the stored credential, or fails the call: a value another
 * credential not blocked holds is a 409 on credential.value. */
static void s_put_credential(struct cm_call *call, const Crm__AccessCredential *c, bool insert,
                             ProtobufCMessage **resp)
{
    Crm__AccessCredential *out = NULL;
    cm_err_t err = customers_access_store_credential_put(call->db, TENANT(call), c, insert, &out);
    if (err == CM_ERR_CONFLICT) {
        cm_call_fail(call, CM_ERR_CONFLICT,
                     "another credential that is not blocked has this value already");
        cm_call_violation(call, "credential.value", "ALREADY_EXISTS",
                          "another credential has this value");
    } else if (err) {
        cm_call_db_fail(call, err, "could not store the credential");
    } else {
        *resp = &out->base;
    }
}

void customers_access_credential_create(struct cm_call *call, const ProtobufCMessage *msg,
                                        ProtobufCMessage **resp)
{
    const Crm__CreateAccessCredentialRequest *req = (const Crm__CreateAccessCredentialRequest *)msg;
    Crm__AccessCredential empty = CRM__ACCESS_CREDENTIAL__INIT;
    const Crm__AccessCredential *in = req->credential ? req->credential : &empty;
    if (!customers_check_uuid(req->customer_id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", req->customer_id);
        return;
    }
    if (in->kind < CRM__CREDENTIAL_KIND__CREDENTIAL_KIND_CARD ||
        in->kind > CRM__CREDENTIAL_KIND__CREDENTIAL_KIND_QR)
        cm_call_violation(call, "credential.kind", "REQUIRED",
                          "kind is required: CARD, FOB, CODE or QR");
    if (!in->value[0])
        cm_call_violation(call, "credential.value", "REQUIRED",
                          "value is required: what the reader sends");
    else if (!customers_access_value_ok(in->value))
        cm_call_violation(call, "credential.value", "INVALID_FORMAT",
                          "value must be 1 to %d printable ASCII characters",
                          CUSTOMERS_ACCESS_VALUE_MAX);
    s_check_reason(call, in->block_reason);
    if (cm_call_failed(call))
        return;
    bool exists = false;
    long count = 0;
    cm_err_t err = customers_access_store_credentials(call->db, TENANT(call), req->customer_id,
                                                      &exists, &count, NULL);
    if (err) {
        cm_call_db_fail(call, err, "could not read the credentials");
        return;
    }
    if (!s_customer(call, req->customer_id, exists))
        return;
    if (count >= CUSTOMERS_ACCESS_CREDENTIALS_MAX) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "a customer has at most %d credentials",
                     CUSTOMERS_ACCESS_CREDENTIALS_MAX);
        return;
    }
    char id[40];
    cm_uuid(id);
    Crm__AccessCredential c = *in;
    c.id = id;
    c.customer_id = req->customer_id;
    s_put_credential(call, &c, true, resp);
}

void customers_access_credential_update(struct cm_call *call, const ProtobufCMessage *msg,
                                        ProtobufCMessage **resp)
{
    const Crm__UpdateAccessCredentialRequest *req = (const Crm__UpdateAccessCredentialRequest *)msg;
    Crm__AccessCredential empty = CRM__ACCESS_CREDENTIAL__INIT;
    const Crm__AccessCredential *in = req->credential ? req->credential : &empty;
    static char *all[] = {"blocked", "blockReason"};
    char **paths = req->n_update_mask ? req->update_mask : all;
    size_t n_paths = req->n_update_mask ? req->n_update_mask : sizeof all / sizeof *all;
    for (size_t i = 0; i < n_paths; i++)
        if (strcmp(paths[i], "blocked") && strcmp(paths[i], "blockReason"))
            cm_call_violation(call, "updateMask", "UNKNOWN_FIELD",
                              "%.64s cannot be changed: blocked or blockReason", paths[i]);
    s_check_reason(call, in->block_reason);
    if (cm_call_failed(call))
        return;
    Crm__AccessCredential *c = NULL;
    cm_err_t err = customers_check_uuid(req->customer_id) && customers_check_uuid(req->id)
                       ? customers_access_store_credential(call->db, TENANT(call), req->customer_id,
                                                           req->id, true, &c)
                       : CM_OK;
    if (err || !c) {
        if (err)
            cm_call_db_fail(call, err, "could not read the credential");
        else
            cm_call_fail(call, CM_ERR_NOT_FOUND, "customer %.64s has no credential %.64s",
                         req->customer_id, req->id);
        return;
    }
    for (size_t i = 0; i < n_paths; i++) {
        if (!strcmp(paths[i], "blocked"))
            c->blocked = in->blocked;
        else
            cm_pb_set_str(&c->block_reason, in->block_reason);
    }
    if (!c->blocked)
        cm_pb_set_str(&c->block_reason, "");
    s_put_credential(call, c, false, resp);
    crm__access_credential__free_unpacked(c, NULL);
}

void customers_access_credential_delete(struct cm_call *call, const ProtobufCMessage *msg,
                                        ProtobufCMessage **resp)
{
    const Crm__DeleteAccessCredentialRequest *req = (const Crm__DeleteAccessCredentialRequest *)msg;
    bool deleted = false;
    cm_err_t err = customers_check_uuid(req->customer_id) && customers_check_uuid(req->id)
                       ? customers_access_store_credential_delete(
                             call->db, TENANT(call), req->customer_id, req->id, &deleted)
                       : CM_OK;
    if (err)
        cm_call_db_fail(call, err, "could not delete the credential");
    else if (!deleted)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "customer %.64s has no credential %.64s",
                     req->customer_id, req->id);
    else
        *resp = cm_pb_new(&crm__empty__descriptor);
}

/* ---------------------------------------------------------------------- */
/* Grants                                                                  */

void customers_access_grants(struct cm_call *call, const ProtobufCMessage *msg,
                             ProtobufCMessage **resp)
{
    const char *customer = ((const Crm__ListAccessGrantsRequest *)msg)->customer_id;
    Crm__ListAccessGrantsResponse *r =
        (Crm__ListAccessGrantsResponse *)cm_pb_new(&crm__list_access_grants_response__descriptor);
    bool exists = false;
    long count = 0;
    cm_err_t err =
        customers_check_uuid(customer)
            ? customers_access_store_grants(call->db, TENANT(call), customer, &exists, &count, r)
            : CM_OK;
    if (err)
        cm_call_db_fail(call, err, "could not list the grants");
    else if (s_customer(call, customer, exists)) {
        *resp = &r->base;
        return;
    }
    crm__list_access_grants_response__free_unpacked(r, NULL);
}

/* Checks a grant's dates, days and hours, naming each field that is wrong;
 * the days as a mask and the hours as minutes (-1: all day) into the out
 * parameters. */
static void s_check_grant(struct cm_call *call, const Crm__AccessGrant *g, int *days, int *from,
                          int *until)
{
    int64_t first = -1, last = -1;
    if (!g->zone_id[0])
        cm_call_violation(call, "grant.zoneId", "REQUIRED", "zoneId is required: the zone");
    else if (!customers_check_uuid(g->zone_id))
        cm_call_violation(call, "grant.zoneId", "INVALID_FORMAT", "zoneId is not a zone's id");
    if (g->plan_id[0] && !customers_check_uuid(g->plan_id))
        cm_call_violation(call, "grant.planId", "INVALID_FORMAT", "planId is not a plan's id");
    if (g->valid_from[0] && customers_subs_parse_date(g->valid_from, &first))
        cm_call_violation(call, "grant.validFrom", "INVALID_FORMAT",
                          "validFrom must be a real date as YYYY-MM-DD");
    if (g->valid_until[0] && customers_subs_parse_date(g->valid_until, &last))
        cm_call_violation(call, "grant.validUntil", "INVALID_FORMAT",
                          "validUntil must be a real date as YYYY-MM-DD");
    else if (first >= 0 && last >= 0 && last < first)
        cm_call_violation(call, "grant.validUntil", "OUT_OF_RANGE",
                          "validUntil is before validFrom");
    *days = customers_access_days_mask(g->days, g->n_days);
    if (*days < 0)
        cm_call_violation(call, "grant.days", "OUT_OF_RANGE",
                          "days must be days of the week, 1 (Monday) to 7 (Sunday)");
    *from = *until = -1;
    if (!g->from_time[0] != !g->until_time[0])
        cm_call_violation(call, g->from_time[0] ? "grant.untilTime" : "grant.fromTime", "REQUIRED",
                          "fromTime and untilTime go together");
    else if (g->from_time[0] && customers_access_parse_hhmm(g->from_time, false, from))
        cm_call_violation(call, "grant.fromTime", "INVALID_FORMAT",
                          "fromTime must be a time as HH:MM, 00:00 to 23:59");
    else if (g->until_time[0] && customers_access_parse_hhmm(g->until_time, true, until))
        cm_call_violation(call, "grant.untilTime", "INVALID_FORMAT",
                          "untilTime must be a time as HH:MM, 00:00 to 24:00");
    else if (g->from_time[0] && *until == *from)
        cm_call_violation(call, "grant.untilTime", "OUT_OF_RANGE",
                          "untilTime must differ from fromTime (an earlier one ends the next "
                          "day)");
}

void customers_access_grant_create(struct cm_call *call, const ProtobufCMessage *msg,
                                   ProtobufCMessage **resp)
{
    const Crm__CreateAccessGrantRequest *req = (const Crm__CreateAccessGrantRequest *)msg;
    Crm__AccessGrant empty = CRM__ACCESS_GRANT__INIT;
    const Crm__AccessGrant *in = req->grant ? req->grant : &empty;
    if (!customers_check_uuid(req->customer_id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %.64s", req->customer_id);
        return;
    }
    int days = 0, from = -1, until = -1;
    s_check_grant(call, in, &days, &from, &until);
    if (cm_call_failed(call))
        return;
    bool exists = false;
    long count = 0;
    cm_err_t err = customers_access_store_grants(call->db, TENANT(call), req->customer_id, &exists,
                                                 &count, NULL);
    if (err) {
        cm_call_db_fail(call, err, "could not read the grants");
        return;
    }
    if (!s_customer(call, req->customer_id, exists))
        return;
    if (count >= CUSTOMERS_ACCESS_GRANTS_MAX) {
        cm_call_fail(call, CM_ERR_TOO_LARGE, "a customer has at most %d grants",
                     CUSTOMERS_ACCESS_GRANTS_MAX);
        return;
    }
    Crm__AccessZone *zone = NULL;
    err = customers_access_store_zone(call->db, TENANT(call), in->zone_id, &zone);
    if (err) {
        cm_call_db_fail(call, err, "could not read the zone");
        return;
    }
    if (!zone) {
        cm_call_violation(call, "grant.zoneId", "NOT_FOUND", "no zone %.64s", in->zone_id);
        return;
    }
    crm__access_zone__free_unpacked(zone, NULL);
    Crm__Plan *plan = NULL;
    err = in->plan_id[0] ? customers_subs_store_plan(call->db, TENANT(call), in->plan_id, &plan)
                         : CM_OK;
    if (err) {
        cm_call_db_fail(call, err, "could not read the plan");
        return;
    }
    if (in->plan_id[0] && !plan) {
        cm_call_violation(call, "grant.planId", "NOT_FOUND", "no plan %.64s", in->plan_id);
        return;
    }
    if (plan)
        crm__plan__free_unpacked(plan, NULL);
    char id[40];
    cm_uuid(id);
    Crm__AccessGrant g = *in;
    g.id = id;
    g.customer_id = req->customer_id;
    Crm__AccessGrant *out = NULL;
    err = customers_access_store_grant_insert(call->db, TENANT(call), &g, days, from, until, &out);
    if (err)
        cm_call_db_fail(call, err, "could not store the grant");
    else
        *resp = &out->base;
}

void customers_access_grant_delete(struct cm_call *call, const ProtobufCMessage *msg,
                                   ProtobufCMessage **resp)
{
    const Crm__DeleteAccessGrantRequest *req = (const Crm__DeleteAccessGrantRequest *)msg;
    bool deleted = false;
    cm_err_t err = customers_check_uuid(req->customer_id) && customers_check_uuid(req->id)
                       ? customers_access_store_grant_delete(call->db, TENANT(call),
                                                             req->customer_id, req->id, &deleted)
                       : CM_OK;
    if (err)
        cm_call_db_fail(call, err, "could not delete the grant");
    else if (!deleted)
        cm_call_fail(call, CM_ERR_NOT_FOUND, "customer %.64s has no grant %.64s", req->customer_id,
                     req->id);
    else
        *resp = cm_pb_new(&crm__empty__descriptor);
}

/* ---------------------------------------------------------------------- */
/* The log and the door                                                    */

void customers_access_log(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__ListAccessLogRequest *req = (const Crm__ListAccessLogRequest *)msg;
    if (req->page_size < 0 || req->page_size > CUSTOMERS_ACCESS_LOG_PAGE_MAX) {
        cm_call_violation(call, "pageSize", "OUT_OF_RANGE", "pageSize must be 1 to %d",
                          CUSTOMERS_ACCESS_LOG_PAGE_MAX);
        return;
    }
    Crm__ListAccessLogResponse *r =
        (Crm__ListAccessLogResponse *)cm_pb_new(&crm__list_access_log_response__descriptor);
    bool exists = false;
    int limit = req->page_size ? req->page_size : CUSTOMERS_ACCESS_LOG_PAGE;
    cm_err_t err = customers_check_uuid(req->customer_id)
                       ? customers_access_store_log(call->db, TENANT(call), req->customer_id, limit,
                                                    &exists, r)
                       : CM_OK;
    if (err)
        cm_call_db_fail(call, err, "could not read the access log");
    else if (s_customer(call, req->customer_id, exists)) {
        *resp = &r->base;
        return;
    }
    crm__list_access_log_response__free_unpacked(r, NULL);
}

void customers_access_check(struct cm_call *call, const ProtobufCMessage *msg,
                            ProtobufCMessage **resp)
{
    const Crm__CheckAccessRequest *req = (const Crm__CheckAccessRequest *)msg;
    int64_t at = cm_now_ms();
    if (!req->credential_value[0])
        cm_call_violation(call, "credentialValue", "REQUIRED",
                          "credentialValue is required: what the reader read");
    else if (!customers_access_value_ok(req->credential_value))
        cm_call_violation(call, "credentialValue", "INVALID_FORMAT",
                          "credentialValue must be 1 to %d printable ASCII characters",
                          CUSTOMERS_ACCESS_VALUE_MAX);
    if (!req->zone_id[0])
        cm_call_violation(call, "zoneId", "REQUIRED", "zoneId is required: the zone of the door");
    else if (!customers_check_uuid(req->zone_id))
        cm_call_violation(call, "zoneId", "INVALID_FORMAT", "zoneId is not a zone's id");
    if (req->at[0] && customers_access_parse_time(req->at, &at))
        cm_call_violation(call, "at", "INVALID_FORMAT",
                          "at must be an RFC 3339 time, e.g. 2026-12-07T18:30:00Z");
    if (cm_call_failed(call))
        return;
    char when[40];
    cm_time_rfc3339(at, when, sizeof when);
    struct customers_access_read rd;
    cm_err_t err = customers_access_store_read(call->db, TENANT(call), req->credential_value,
                                               req->zone_id, when, &rd);
    if (err) {
        cm_call_db_fail(call, err, "could not read the credential");
        return;
    }
    if (!rd.zone_found) {
        customers_access_store_read_free(&rd);
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no zone %.64s", req->zone_id);
        return;
    }
    Crm__AccessReason reason = customers_access_decide(&rd.facts, rd.local_ms);
    Crm__AccessDecision decision = reason ? CRM__ACCESS_DECISION__ACCESS_DECISION_DENY
                                          : CRM__ACCESS_DECISION__ACCESS_DECISION_ALLOW;
    customers_access_store_log_add(call->db, TENANT(call), when, req->zone_id, rd.zone_name,
                                   req->credential_value, rd.customer_id, decision, reason);
    Crm__CheckAccessResponse *r =
        (Crm__CheckAccessResponse *)cm_pb_new(&crm__check_access_response__descriptor);
    r->decision = decision;
    r->reason = reason;
    cm_pb_set_str(&r->customer_id, rd.customer_id);
    cm_pb_set_str(&r->display_name, rd.display_name);
    cm_pb_set_str(&r->zone_name, rd.zone_name);
    cm_pb_set_str(&r->at, when);
    customers_access_store_read_free(&rd);
    *resp = &r->base;
}

long customers_access_prune(cm_db_t *db)
{
    long deleted = 0;
    cm_err_t err = customers_access_store_prune(db, CUSTOMERS_ACCESS_LOG_DAYS,
                                                CUSTOMERS_ACCESS_PRUNE_BATCH, &deleted);
    if (err) {
        cm_log_warn("could not prune the access log: %s", cm_db_error(db));
        return -1;
    }
    if (deleted)
        cm_log_info("access log: deleted %ld entries older than %d days", deleted,
                    CUSTOMERS_ACCESS_LOG_DAYS);
    return deleted;
}
