/* Look-ups in the generated table of .proto comments. */
#include "gateway_protodoc.h"

#include <stdlib.h>
#include <string.h>

static int s_compare(const void *key, const void *entry)
{
    return strcmp(key, ((const struct gateway_protodoc *)entry)->key);
}

const char *gateway_protodoc_find(const struct gateway_protodoc *table, size_t n, const char *key)
{
    const struct gateway_protodoc *e = bsearch(key, table, n, sizeof *table, s_compare);
    return e ? e->text : NULL;
}

const char *gateway_protodoc(const char *key)
{
    return gateway_protodoc_find(gateway_protodocs, gateway_protodocs_n, key);
}
