/* The exchange service's methods and its state (docs/exchange.md). */
#ifndef EXCHANGE_HANDLERS_H
#define EXCHANGE_HANDLERS_H

#include "cm_svc.h"

struct exchange_state {
    const char *tmpdir; // borrowed (config): where workbooks are built
    long file_hours;    // how long a built file is kept
};

extern const struct cm_method exchange_methods[];
extern const size_t exchange_n_methods;

/* Deletes built files past their time, now and then. */
void exchange_tick(cm_svc_t *svc, void *user);

/* exchange.ExportCustomers (exchange_export.c). */
void exchange_export_customers(struct cm_call *call, const ProtobufCMessage *msg,
                               ProtobufCMessage **resp);

#endif
