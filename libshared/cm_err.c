/* Names of error codes and their envelope status. */
#include "cm_err.h"
#include "envelope.pb-c.h"

const char *cm_err_name(cm_err_t err)
{
    switch (err) {
    case CM_OK:
        return "ok";
    case CM_ERR_INVALID:
        return "invalid";
    case CM_ERR_NOT_FOUND:
        return "not found";
    case CM_ERR_CONFLICT:
        return "conflict";
    case CM_ERR_PRECONDITION:
        return "precondition failed";
    case CM_ERR_PERMISSION:
        return "permission denied";
    case CM_ERR_UNAVAILABLE:
        return "unavailable";
    case CM_ERR_TIMEOUT:
        return "timeout";
    case CM_ERR_UPSTREAM:
        return "upstream error";
    case CM_ERR_TOO_LARGE:
        return "too large";
    case CM_ERR_UNAUTHENTICATED:
        return "unauthenticated";
    case CM_ERR_INTERNAL:
        return "internal";
    case CM_ERR_GONE:
        return "gone";
    }
    return "unknown";
}

int cm_err_status(cm_err_t err)
{
    switch (err) {
    case CM_OK:
        return CRM__STATUS__STATUS_OK;
    case CM_ERR_INVALID:
        return CRM__STATUS__STATUS_INVALID_ARGUMENT;
    case CM_ERR_NOT_FOUND:
        return CRM__STATUS__STATUS_NOT_FOUND;
    case CM_ERR_CONFLICT:
        return CRM__STATUS__STATUS_ALREADY_EXISTS;
    case CM_ERR_PRECONDITION:
        return CRM__STATUS__STATUS_FAILED_PRECONDITION;
    case CM_ERR_PERMISSION:
        return CRM__STATUS__STATUS_PERMISSION_DENIED;
    case CM_ERR_UNAVAILABLE:
        return CRM__STATUS__STATUS_UNAVAILABLE;
    case CM_ERR_TIMEOUT:
        return CRM__STATUS__STATUS_DEADLINE_EXCEEDED;
    case CM_ERR_TOO_LARGE:
        return CRM__STATUS__STATUS_RESOURCE_EXHAUSTED;
    case CM_ERR_UNAUTHENTICATED:
        return CRM__STATUS__STATUS_UNAUTHENTICATED;
    case CM_ERR_GONE:
        return CRM__STATUS__STATUS_GONE;
    case CM_ERR_UPSTREAM:
    case CM_ERR_INTERNAL:
        break;
    }
    return CRM__STATUS__STATUS_INTERNAL;
}

cm_err_t cm_err_of_status(int status)
{
    switch (status) {
    case CRM__STATUS__STATUS_OK:
        return CM_OK;
    case CRM__STATUS__STATUS_INVALID_ARGUMENT:
        return CM_ERR_INVALID;
    case CRM__STATUS__STATUS_NOT_FOUND:
        return CM_ERR_NOT_FOUND;
    case CRM__STATUS__STATUS_ALREADY_EXISTS:
        return CM_ERR_CONFLICT;
    case CRM__STATUS__STATUS_FAILED_PRECONDITION:
        return CM_ERR_PRECONDITION;
    case CRM__STATUS__STATUS_PERMISSION_DENIED:
    case CRM__STATUS__STATUS_UNAUTHENTICATED:
        return CM_ERR_PERMISSION;
    case CRM__STATUS__STATUS_DEADLINE_EXCEEDED:
    case CRM__STATUS__STATUS_UNAVAILABLE:
    case CRM__STATUS__STATUS_RESOURCE_EXHAUSTED:
        return CM_ERR_UNAVAILABLE;
    case CRM__STATUS__STATUS_GONE:
        return CM_ERR_GONE;
    default:
        return CM_ERR_INTERNAL;
    }
}
