/* Each tenant's settings as this copy last read them, so that a write does
 * not read them again: customers_tenant_of takes them from here on a
 * write's first try and queues customers_store_tenant_check with it, which
 * fails the transaction (to be tried again reading afresh) when the row
 * changed since. An entry stands until the business's day it was read on
 * ends (its today). Thread-safe: every handler thread shares it. */
#ifndef CUSTOMERS_TENANT_CACHE_H
#define CUSTOMERS_TENANT_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include "customers_store.h"

#define CUSTOMERS_TENANT_CACHE_SLOTS 1024 // tenants kept; two that share a slot take turns

/* Copies the kept settings of tenant into out (release them) and returns
 * true, or returns false when there are none standing at now_ms (ms since
 * 1970-01-01 UTC). */
bool customers_tenant_cache_get(const char *tenant, int64_t now_ms, struct customers_tenant *out);
/* Keeps a copy of t, read from the database, as tenant's settings. */
void customers_tenant_cache_put(const char *tenant, const struct customers_tenant *t);
/* Forgets tenant's settings (this copy changed them). */
void customers_tenant_cache_forget(const char *tenant);

#endif
