/* EU VAT numbers: syntax per member state, shared by the customers and
 * company services. */
#ifndef CM_VAT_H
#define CM_VAT_H

#include <stddef.h>
#include "cm_err.h"

/* Buffer size for a normalised EU VAT number: 2-letter prefix, at most 12 characters, NUL. */
#define CM_VAT_SIZE 16

/* The most of VIES's raw answer a customer's VAT check keeps as evidence (an
 * answer is about a kilobyte; the company service passes a larger one on
 * without it). */
#define CM_VAT_RAW_MAX (64 * 1024)

/* Normalises an EU VAT number into out (>= CM_VAT_SIZE): spaces, dots and dashes removed,
 * letters upper-cased ("pl 526-025-02-74" -> "PL5260250274"). It must start with the prefix of
 * an EU member state (EL for Greece) or XI (Northern Ireland) and match that country's syntax;
 * check digits are not verified. Returns 0, or -1 with *why set ("missing country prefix", "use
 * EL for Greece", "unknown country prefix XX" (valid until the thread's next call), "does not
 * match the format for XX"); out then holds "". */
int cm_vat_normalise(const char *in, char *out, size_t outsz, const char **why) CM_MUSTCHECK;

#endif
