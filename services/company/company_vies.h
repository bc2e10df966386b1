/* The EU's VIES service over its REST interface (check-vat-number,
 * check-status): what to send, and what an answer means. The parsing is pure
 * and unit-tested; company_vies_check makes the call (libshared/cm_http). */
#ifndef COMPANY_VIES_H
#define COMPANY_VIES_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_err.h"
#include "company.pb-c.h"

/* What an answer of VIES was. */
enum company_vies_outcome {
    COMPANY_VIES_ANSWER = 0, // valid or invalid: a VatLookup
    COMPANY_VIES_INPUT,      // INVALID_INPUT: the caller's number is wrong
    COMPANY_VIES_ERROR,      // VIES could not answer (code says why): try again later
};

struct company_vies_result {
    enum company_vies_outcome outcome;
    char code[48];          // the VIES error code ("MS_UNAVAILABLE"), or ours ("TIMEOUT")
    int retry_after_s;      // for COMPANY_VIES_ERROR: when asking again makes sense
    Crm__VatLookup *lookup; // owned (dynamic) for COMPANY_VIES_ANSWER
};

/* Reads an answer of POST check-vat-number: HTTP status and body. An error
 * sent with a 200 (actionSucceed false, errorWrappers) is an error too, never
 * "invalid"; a name or address of "---" is withheld. cc and number are what
 * was asked. Fills *out (release with company_vies_result_release). */
void company_vies_parse(long http_status, const char *body, const char *cc, const char *number,
                        struct company_vies_result *out);

/* Seconds to wait before asking again after the VIES error code. */
int company_vies_retry_after(const char *code);

/* Splits VIES's address into lines, and where the last line starts with a
 * postal code ("10115 Berlin", "31-539 Kraków", "1010 WIEN") the postal code
 * and the city; the street is the first line when there are two or more. */
void company_vies_split_address(Crm__VatLookup *l);

/* Seconds until a PENDING check is tried again after its attempts-th
 * failure (1, 2, ...): min_s doubled each time, at most max_s. */
long company_vies_retry_delay(int attempts, long min_s, long max_s);

/* True for a VIES error that asking again will not cure by itself: the
 * requester number refused (INVALID_REQUESTER_INFO: the tenant's own VAT
 * number must be fixed), or checks of this number blocked (VAT_BLOCKED). A
 * check that meets one is UNAVAILABLE, not retried. */
bool company_vies_gives_up(const char *code);

/* The JSON body of check-vat-number for cc + number; with requester (a
 * normalised VAT number, "" for none) its requesterMemberStateCode and
 * requesterNumber, so that VIES gives a requestIdentifier. Caller frees. */
char *company_vies_request_body(const char *cc, const char *number, const char *requester);

/* Asks VIES (url: its REST base, e.g. https://ec.europa.eu/taxation_customs/vies/rest-api)
 * about cc + number, as requester (see company_vies_request_body). raw_out, when not NULL,
 * receives VIES's answer as it came (caller frees). *elapsed_s, when not NULL, receives how
 * long the call took, in seconds. */
void company_vies_check(const char *url, long connect_timeout_ms, long timeout_ms, const char *cc,
                        const char *number, const char *requester, struct company_vies_result *out,
                        char **raw_out, double *elapsed_s);

/* Asks check-status: fills available (27+1 entries at most) with the member
 * states VIES reports as available. Returns 0, or -1 when it could not tell. */
int company_vies_status(const char *url, long timeout_ms, char available[][3], size_t *n,
                        size_t max);

void company_vies_result_release(struct company_vies_result *r);

#endif
