/* Access control (docs/access.md; docs/api.md and docs/bus.md, "Access
 * control"): the business's zones (settings), a customer's credentials and
 * grants, and the door's question, CheckAccess, answered from one read and
 * logged with its decision (kept CUSTOMERS_ACCESS_LOG_DAYS days). */
#ifndef CUSTOMERS_ACCESS_H
#define CUSTOMERS_ACCESS_H

#include "cm_db.h"
#include "cm_svc.h"
#include "access.pb-c.h"

/* Limits (docs/access.md, "Limits"). */
#define CUSTOMERS_ACCESS_ZONE_NAME_MAX 100  // characters of a zone's name
#define CUSTOMERS_ACCESS_ZONES_MAX 200      // zones of a business
#define CUSTOMERS_ACCESS_CREDENTIALS_MAX 20 // credentials of a customer
#define CUSTOMERS_ACCESS_GRANTS_MAX 50      // grants of a customer
#define CUSTOMERS_ACCESS_REASON_MAX 200     // characters of a block's reason
#define CUSTOMERS_ACCESS_LOG_PAGE 50        // log entries answered by default
#define CUSTOMERS_ACCESS_LOG_PAGE_MAX 200   // and at most
#define CUSTOMERS_ACCESS_LOG_DAYS 90        // days a log entry is kept
#define CUSTOMERS_ACCESS_PRUNE_BATCH 1000   // entries one tick deletes at most

void customers_access_zones(struct cm_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp);
void customers_access_zone_get(struct cm_call *call, const ProtobufCMessage *req,
                               ProtobufCMessage **resp);
void customers_access_zone_create(struct cm_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp);
void customers_access_zone_update(struct cm_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp);
void customers_access_zone_delete(struct cm_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp);
void customers_access_credentials(struct cm_call *call, const ProtobufCMessage *req,
                                  ProtobufCMessage **resp);
void customers_access_credential_create(struct cm_call *call, const ProtobufCMessage *req,
                                        ProtobufCMessage **resp);
void customers_access_credential_update(struct cm_call *call, const ProtobufCMessage *req,
                                        ProtobufCMessage **resp);
void customers_access_credential_delete(struct cm_call *call, const ProtobufCMessage *req,
                                        ProtobufCMessage **resp);
void customers_access_grants(struct cm_call *call, const ProtobufCMessage *req,
                             ProtobufCMessage **resp);
void customers_access_grant_create(struct cm_call *call, const ProtobufCMessage *req,
                                   ProtobufCMessage **resp);
void customers_access_grant_delete(struct cm_call *call, const ProtobufCMessage *req,
                                   ProtobufCMessage **resp);
void customers_access_log(struct cm_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp);
void customers_access_check(struct cm_call *call, const ProtobufCMessage *req,
                            ProtobufCMessage **resp);

/* The tick's retention: deletes at most CUSTOMERS_ACCESS_PRUNE_BATCH log
 * entries older than CUSTOMERS_ACCESS_LOG_DAYS days. Returns how many, or -1
 * on a database error (logged). */
long customers_access_prune(cm_db_t *db);

/* The entries of customers_methods[]: zones are settings; the door needs
 * access:check. */
#define CUSTOMERS_ACCESS_METHOD(name, req, resp, fn, flags, scope)                                 \
    CM_METHOD("customers", name, req, resp, fn, flags, scope)
#define CUSTOMERS_ACCESS_METHODS                                                                   \
    CUSTOMERS_ACCESS_METHOD("ListAccessZones", list_access_zones_request,                          \
                            list_access_zones_response, customers_access_zones, CM_METHOD_NO_TXN,  \
                            CUSTOMERS_READ),                                                       \
        CUSTOMERS_ACCESS_METHOD("GetAccessZone", get_access_zone_request, access_zone,             \
                                customers_access_zone_get, CM_METHOD_NO_TXN, CUSTOMERS_READ),      \
        CUSTOMERS_ACCESS_METHOD("CreateAccessZone", create_access_zone_request, access_zone,       \
                                customers_access_zone_create, CM_METHOD_WRITE, SETTINGS),          \
        CUSTOMERS_ACCESS_METHOD("UpdateAccessZone", update_access_zone_request, access_zone,       \
                                customers_access_zone_update, CM_METHOD_WRITE, SETTINGS),          \
        CUSTOMERS_ACCESS_METHOD("DeleteAccessZone", delete_access_zone_request, empty,             \
                                customers_access_zone_delete, CM_METHOD_WRITE, SETTINGS),          \
        CUSTOMERS_ACCESS_METHOD("ListAccessCredentials", list_access_credentials_request,          \
                                list_access_credentials_response, customers_access_credentials,    \
                                CM_METHOD_NO_TXN, CUSTOMERS_READ),                                 \
        CUSTOMERS_ACCESS_METHOD("CreateAccessCredential", create_access_credential_request,        \
                                access_credential, customers_access_credential_create,             \
                                CM_METHOD_WRITE, CUSTOMERS_WRITE),                                 \
        CUSTOMERS_ACCESS_METHOD("UpdateAccessCredential", update_access_credential_request,        \
                                access_credential, customers_access_credential_update,             \
                                CM_METHOD_WRITE, CUSTOMERS_WRITE),                                 \
        CUSTOMERS_ACCESS_METHOD("DeleteAccessCredential", delete_access_credential_request, empty, \
                                customers_access_credential_delete, CM_METHOD_WRITE,               \
                                CUSTOMERS_WRITE),                                                  \
        CUSTOMERS_ACCESS_METHOD("ListAccessGrants", list_access_grants_request,                    \
                                list_access_grants_response, customers_access_grants,              \
                                CM_METHOD_NO_TXN, CUSTOMERS_READ),                                 \
        CUSTOMERS_ACCESS_METHOD("CreateAccessGrant", create_access_grant_request, access_grant,    \
                                customers_access_grant_create, CM_METHOD_WRITE, CUSTOMERS_WRITE),  \
        CUSTOMERS_ACCESS_METHOD("DeleteAccessGrant", delete_access_grant_request, empty,           \
                                customers_access_grant_delete, CM_METHOD_WRITE, CUSTOMERS_WRITE),  \
        CUSTOMERS_ACCESS_METHOD("ListAccessLog", list_access_log_request,                          \
                                list_access_log_response, customers_access_log, CM_METHOD_NO_TXN,  \
                                CUSTOMERS_READ),                                                   \
        CUSTOMERS_ACCESS_METHOD("CheckAccess", check_access_request, check_access_response,        \
                                customers_access_check, CM_METHOD_WRITE, ACCESS_CHECK)

#endif
