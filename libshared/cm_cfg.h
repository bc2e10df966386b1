/* Configuration from a static table: defaults, then CRM_<KEY> (shared), then
 * CRM_<SERVICE>_<KEY> (per service). A bad value exits 2 naming the key. */
#ifndef CM_CFG_H
#define CM_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_err.h"

typedef enum { CM_CFG_STR, CM_CFG_INT, CM_CFG_BOOL } cm_cfg_type_t;

struct cm_cfg_item {
    const char *key; // lower case, e.g. "bus_endpoint" -> CRM_BUS_ENDPOINT
    cm_cfg_type_t type;
    void *target;    // borrowed: char ** (result owned by the table), long * or bool *
    const char *def; // default as text
    long min, max;   // for CM_CFG_INT
    bool secret;     // masked by --print-config
    /* Optional: checks a CM_CFG_STR value beyond its type; returns 0, or -1
     * with what it expects written into why. */
    int (*check)(const char *value, char *why, size_t whysz);
};

/* Loads every item of a table terminated by a NULL key. Returns 0, or -1 with
 * a message naming the key written into err (size errsz). */
int cm_cfg_load(const char *service, const struct cm_cfg_item *items, char *err,
                size_t errsz) CM_MUSTCHECK;

/* Parses one value for an item into its target; used by cm_cfg_load and tests. */
int cm_cfg_parse(const struct cm_cfg_item *item, const char *value) CM_MUSTCHECK;

/* Prints KEY=value lines, secrets masked, to stdout. */
void cm_cfg_print(const char *service, const struct cm_cfg_item *items);

/* Loads the table and the bus key settings (cm_curve.h), handles
 * --print-config (both), then loads the program's bus keys; exits 2 on a bad
 * value or an unreadable key. For main(). */
void cm_cfg_main(const char *service, const struct cm_cfg_item *items, int argc, char **argv);

/* Frees the strings the table owns. */
void cm_cfg_free(const struct cm_cfg_item *items);

/* A check (cm_cfg_item.check) for the public address of the suite, which
 * links in messages point at: http:// or https://, no trailing slash, query
 * or fragment, under 400 bytes. */
int cm_cfg_check_public_url(const char *value, char *why, size_t whysz);

#endif
