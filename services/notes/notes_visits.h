/* Visits and purchases on the customer card (docs/visits.md): the customer's
 * bookings with the parameters staff attach to them and the tenant's
 * presets of parameter names (notes_visits.c), and the customer's orders
 * with staff returns and cancellations, published on the notes stream
 * (notes_purchases.c). main.c joins the tables into the service's. */
#ifndef NOTES_VISITS_H
#define NOTES_VISITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_err.h"
#include "cm_svc.h"

#define NOTES_VISIT_PARAMETERS_MAX 50
#define NOTES_VISIT_NAME_MAX 100
#define NOTES_VISIT_VALUE_MAX 500
#define NOTES_VISIT_REMARK_MAX 2000
#define NOTES_VISIT_PRESETS_MAX 100

/* The name of the request's principal, for timelines and records ("" for
 * none); borrowed from the call. */
struct cm_call;
const char *notes_caller_name(const struct cm_call *call);

/* The card's lists (visits, purchases): a customer id that is no UUID is
 * NOT_FOUND, pageSize 0..200 (0: 50) else OUT_OF_RANGE. Returns true with
 * *limit set, or false with the call failed. */
bool notes_list_begin(struct cm_call *call, const char *customer_id, int32_t page_size, int *limit);
/* After the store's read (err): a page token it refused is INVALID_FORMAT, a
 * database error fails the call with what, and an empty first page asks
 * customers whether the customer exists (404 otherwise). Returns true when
 * the page may be answered. */
bool notes_list_end(struct cm_call *call, cm_err_t err, const char *what, size_t n,
                    const char *customer_id, const char *page_token);

extern const struct cm_method notes_visits_methods[];
extern const size_t notes_visits_n_methods;

extern const struct cm_method notes_purchases_methods[];
extern const size_t notes_purchases_n_methods;

/* Their events go on the "notes" stream, which notes_orders.c publishes. */

#endif
