/* A VAT check recorded on the customer: the fill and customers.RecordVatCheck. */
#include "customers_vat.h"
#include "customers_changes.h"
#include "customers_check.h"
#include "customers_store.h"
#include "customers_validate.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "cm_vat.h"

#include <string.h>

/* The longest company name and address customers_check accepts. */
#define VAT_NAME_MAX 200
#define VAT_ADDRESS_MAX 1000
/* What a check may carry of VIES's name and address. */
#define VAT_EVIDENCE_MAX 4000

static bool s_fits(const char *s, size_t max_chars, bool multiline)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == 0x7f || (*p < 0x20 && !(multiline && *p == '\n')))
            return false;
    return customers_validate_length(s, max_chars) == 0;
}

/* Fills *field with value where it is empty or still last_fill; remembers
 * what it wrote in *filled. */
static void s_fill_one(char **field, char **filled, const char *value, const char *last_fill,
                       size_t max_chars, bool multiline)
{
    cm_pb_set_str(filled, last_fill);
    if (!value[0] || !s_fits(value, max_chars, multiline))
        return;
    if ((*field)[0] && strcmp(*field, last_fill) != 0)
        return; /* staff typed it */
    cm_pb_set_str(field, value);
    cm_pb_set_str(filled, value);
}

void customers_vat_fill(Crm__Company *company, Crm__VatCheck *check, const Crm__VatCheck *last)
{
    const char *last_name = last ? last->filled_name : "";
    const char *last_address = last ? last->filled_address : "";
    bool valid = check->status == CRM__VAT_STATUS__VAT_STATUS_VALID;
    s_fill_one(&company->name, &check->filled_name,
               valid && !check->name_withheld ? check->name : "", last_name, VAT_NAME_MAX, false);
    s_fill_one(&company->address, &check->filled_address,
               valid && !check->address_withheld ? check->address : "", last_address,
               VAT_ADDRESS_MAX, true);
}

void customers_vat_record(struct cm_call *call, const ProtobufCMessage *msg,
                          ProtobufCMessage **resp)
{
    const Crm__RecordVatCheckRequest *req = (const Crm__RecordVatCheckRequest *)msg;
    const char *tenant = call->hdr->tenant_id;
    Crm__Customer *old = NULL, *c = NULL, *stored = NULL;
    struct customers_changes ch = {0};

    const Crm__VatCheck *check = req->check;
    if (!check || !check->vat_number[0]) {
        cm_call_violation(call, "check.vatNumber", "REQUIRED", "check.vatNumber is required");
        return;
    }
    if ((int)check->status < 0 || check->status > CRM__VAT_STATUS__VAT_STATUS_UNAVAILABLE)
        cm_call_violation(call, "check.status", "INVALID_FORMAT",
                          "check.status must be UNVERIFIED, PENDING, VALID, INVALID or "
                          "UNAVAILABLE");
    const struct {
        const char *field, *value;
        size_t max; // bytes
    } limits[] = {
        {"check.vatNumber", check->vat_number, 32},
        {"check.checkedAt", check->checked_at, 64},
        {"check.requestDate", check->request_date, 64},
        {"check.consultationNumber", check->consultation_number, 64},
        {"check.errorCode", check->error_code, 64},
        {"check.name", check->name, VAT_EVIDENCE_MAX},
        {"check.address", check->address, VAT_EVIDENCE_MAX},
        {"check.raw", check->raw, CM_VAT_RAW_MAX},
    };
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++)
        if (strlen(limits[i].value) > limits[i].max)
            cm_call_violation(call, limits[i].field, "TOO_LONG", "%s: at most %zu bytes",
                              limits[i].field, limits[i].max);
    if (cm_call_failed(call))
        return;
    if (!customers_check_uuid(req->id)) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", req->id);
        return;
    }
    cm_err_t err = customers_store_get(call->db, tenant, req->id, true, &old);
    if (err) {
        cm_call_db_fail(call, err, "could not read customer");
        goto out;
    }
    if (!old) {
        cm_call_fail(call, CM_ERR_NOT_FOUND, "no customer %s", req->id);
        goto out;
    }
    if (!old->company || strcmp(old->company->vat_number, check->vat_number) != 0) {
        cm_call_fail(call, CM_ERR_PRECONDITION,
                     "the VAT number of customer %s is no longer %s (now \"%s\")", req->id,
                     check->vat_number, old->company ? old->company->vat_number : "");
        goto out;
    }
    c = (Crm__Customer *)cm_pb_clone(&old->base);
    Crm__VatCheck *v = (Crm__VatCheck *)cm_pb_clone(&check->base);
    const Crm__VatCheck *last = old->company->vat_check;
    if (req->fill) {
        customers_vat_fill(c->company, v, last);
    } else {
        cm_pb_set_str(&v->filled_name, last ? last->filled_name : "");
        cm_pb_set_str(&v->filled_address, last ? last->filled_address : "");
    }
    if (c->company->vat_check)
        crm__vat_check__free_unpacked(c->company->vat_check, NULL);
    c->company->vat_check = v;
    customers_changes_compute(&ch, old, c);
    if (ch.n == 0) {
        cm_perm_hide_customer(call->hdr->principal, old);
        *resp = &old->base;
        old = NULL;
        goto out;
    }
    err = customers_store_update(call->db, tenant, c, NULL, 0, false, NULL);
    if (!err)
        err = customers_store_get(call->db, tenant, req->id, false, &stored);
    if (err || !stored) {
        cm_call_db_fail(call, err ? err : CM_ERR_INTERNAL, "could not record the VAT check");
        goto out;
    }
    static const char *const types[] = {"customer.updated", NULL};
    if (!customers_changes_record(call, req->id, "vat_checked", types, stored, &ch))
        goto out;
    cm_perm_hide_customer(call->hdr->principal, stored);
    *resp = &stored->base;
    stored = NULL;
out:
    if (ch.json)
        customers_changes_release(&ch);
    if (old)
        crm__customer__free_unpacked(old, NULL);
    if (c)
        crm__customer__free_unpacked(c, NULL);
    if (stored)
        crm__customer__free_unpacked(stored, NULL);
}
