/* Asking VIES about a number on behalf of a request: the cache, one call per
 * number (and requester) however many ask at once, at most max_in_flight
 * calls, and no call for a member state VIES reported unavailable a moment
 * ago. Shared by company.LookupVat, company.VerifyVat and the background
 * retries. */
#ifndef COMPANY_ASK_H
#define COMPANY_ASK_H

#include <stdbool.h>
#include "company_handlers.h"
#include "company_vies.h"

/* What came back for one number. */
struct company_answer {
    enum company_vies_outcome outcome;
    char code[48];          // COMPANY_VIES_ERROR, COMPANY_VIES_INPUT: the code
    int retry_after_s;      // COMPANY_VIES_ERROR: when asking again makes sense
    Crm__VatLookup *lookup; // owned (dynamic) for COMPANY_VIES_ANSWER
    char *raw;              // owned: VIES's answer as it came ("" from the cache)
};

void company_answer_release(struct company_answer *a);

/* A cached answer about vat (normalised) no older than the cache's hours, or
 * NULL (dynamic; caller frees). It carries no consultation number: that is
 * the evidence of the call that made it, for its tenant. */
Crm__VatLookup *company_ask_cached(struct cm_call *call, struct company_state *st, const char *vat);

/* Asks VIES about vat (normalised) as requester (the tenant's own VAT
 * number, or ""), and keeps a valid or invalid answer in the cache. Waits no
 * longer than the call's deadline. Fills *out (release with
 * company_answer_release). */
void company_ask(struct cm_call *call, struct company_state *st, const char *vat,
                 const char *requester, struct company_answer *out);

/* Member states VIES reported unavailable are backed off for every copy
 * (company.state_backoff); each copy keeps a mirror, which these keep up to
 * date from the main thread's tick (db: its connection). */

/* Reads the shared backoff into the mirror (on a database error the mirror
 * stays as it was). */
void company_ask_backoff_refresh(struct company_state *st, cm_db_t *db);

/* Takes check-status's list of available member states: their backoff ends,
 * for every copy. */
void company_ask_available(struct company_state *st, cm_db_t *db, char available[][3], size_t n);

#endif
