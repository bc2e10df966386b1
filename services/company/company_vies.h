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

/* Asks VIES (url: its REST base, e.g. https://ec.europa.eu/taxation_customs/vies/rest-api)
 * about cc + number. raw_out, when not NULL, receives VIES's answer as it came (caller
 * frees). */
void company_vies_check(const char *url, long connect_timeout_ms, long timeout_ms, const char *cc,
                        const char *number, struct company_vies_result *out, char **raw_out);

/* Asks check-status: fills available (27+1 entries at most) with the member
 * states VIES reports as available. Returns 0, or -1 when it could not tell. */
int company_vies_status(const char *url, long timeout_ms, char available[][3], size_t *n,
                        size_t max);

void company_vies_result_release(struct company_vies_result *r);

#endif
