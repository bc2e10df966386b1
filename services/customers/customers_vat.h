/* A VAT check of a customer's company number, recorded on the customer for
 * the company service (docs/company.md, "Verifying a customer's number"). */
#ifndef CUSTOMERS_VAT_H
#define CUSTOMERS_VAT_H

#include <stdbool.h>
#include "cm_svc.h"
#include "customers.pb-c.h"

/* The fill of company.name and company.address from a VALID check: each takes
 * VIES's value where it is empty or still what the last fill put there (so
 * what staff typed stays), and the check remembers what it wrote. A value
 * VIES withheld, or one the company field could not hold (over max_chars
 * code points, or a control character other than a line break in the
 * address), is left alone. Pure. */
void customers_vat_fill(Crm__Company *company, Crm__VatCheck *check, const Crm__VatCheck *last);

/* customers.RecordVatCheck, a write: the check becomes company.vatCheck (with
 * fill, the name and address as customers_vat_fill says), in one transaction
 * with its audit entry (action vat_checked) and a customer.updated event.
 * NOT_FOUND without such a customer; FAILED_PRECONDITION when the customer's
 * VAT number is no longer check.vatNumber. */
void customers_vat_record(struct cm_call *call, const ProtobufCMessage *req,
                          ProtobufCMessage **resp);

#endif
