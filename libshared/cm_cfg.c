/* Table-driven configuration from the environment. */
#include "cm_cfg.h"
#include "cm_curve.h"
#include "cm_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_env_name(char *out, size_t size, const char *service, const char *key)
{
    size_t n = 0;
    n += (size_t)snprintf(out, size, "CRM_");
    if (service)
        for (const char *p = service; *p && n + 2 < size; p++)
            out[n++] = (char)toupper((unsigned char)*p);
    if (service && n + 2 < size)
        out[n++] = '_';
    for (const char *p = key; *p && n + 1 < size; p++)
        out[n++] = (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

int cm_cfg_parse(const struct cm_cfg_item *item, const char *value)
{
    switch (item->type) {
    case CM_CFG_STR: {
        char **t = item->target;
        free(*t);
        *t = cm_strdup(value);
        return 0;
    }
    case CM_CFG_INT:
        return cm_parse_long(value, item->min, item->max, item->target);
    case CM_CFG_BOOL:
        if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes")) {
            *(bool *)item->target = true;
            return 0;
        }
        if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no") || !*value) {
            *(bool *)item->target = false;
            return 0;
        }
        return -1;
    }
    return -1;
}

int cm_cfg_load(const char *service, const struct cm_cfg_item *items, char *err, size_t errsz)
{
    for (const struct cm_cfg_item *it = items; it->key; it++) {
        char shared[128], own[128];
        s_env_name(shared, sizeof shared, NULL, it->key);
        s_env_name(own, sizeof own, service, it->key);
        const char *v = getenv(own);
        const char *from = own;
        if (!v) {
            v = getenv(shared);
            from = shared;
        }
        if (!v) {
            v = it->def ? it->def : "";
            from = "default";
        }
        char why[200];
        int bad = cm_cfg_parse(it, v);
        if (!bad && it->type == CM_CFG_STR && it->check && it->check(v, why, sizeof why)) {
            snprintf(err, errsz, "%s: invalid value \"%s\" (from %s): %s", shared, v, from, why);
            return -1;
        }
        if (bad) {
            if (it->type == CM_CFG_INT)
                snprintf(err, errsz, "%s: invalid value \"%s\" (from %s): expected %ld..%ld",
                         shared, v, from, it->min, it->max);
            else
                snprintf(err, errsz, "%s: invalid value \"%s\" (from %s)", shared, v, from);
            return -1;
        }
    }
    return 0;
}

void cm_cfg_print(const char *service, const struct cm_cfg_item *items)
{
    (void)service;
    for (const struct cm_cfg_item *it = items; it->key; it++) {
        char name[128];
        s_env_name(name, sizeof name, NULL, it->key);
        switch (it->type) {
        case CM_CFG_STR: {
            const char *s = *(char **)it->target;
            printf("%s=%s\n", name, it->secret && s && *s ? "********" : (s ? s : ""));
            break;
        }
        case CM_CFG_INT:
            printf("%s=%ld\n", name, *(long *)it->target);
            break;
        case CM_CFG_BOOL:
            printf("%s=%s\n", name, *(bool *)it->target ? "true" : "false");
            break;
        }
    }
}

void cm_cfg_main(const char *service, const struct cm_cfg_item *items, int argc, char **argv)
{
    char err[512];
    if (cm_cfg_load(service, items, err, sizeof err)) {
        fprintf(stderr, "%s: configuration error: %s\n", service, err);
        exit(2);
    }
    /* Every program speaks on the bus: its keys are settings too. */
    const struct cm_cfg_item *bus = cm_curve_cfg_items();
    if (cm_cfg_load(service, bus, err, sizeof err)) {
        fprintf(stderr, "%s: configuration error: %s\n", service, err);
        exit(2);
    }
    cm_curve_cfg_resolve(service);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--print-config")) {
            cm_cfg_print(service, items);
            cm_cfg_print(service, bus);
            exit(0);
        }
    }
    if (cm_curve_start(service, err, sizeof err)) {
        fprintf(stderr, "%s: bus keys: %s\n", service, err);
        exit(2);
    }
}

void cm_cfg_free(const struct cm_cfg_item *items)
{
    for (const struct cm_cfg_item *it = items; it->key; it++) {
        if (it->type == CM_CFG_STR) {
            char **t = it->target;
            free(*t);
            *t = NULL;
        }
    }
}

int cm_cfg_check_public_url(const char *value, char *why, size_t whysz)
{
    size_t n = strlen(value);
    if ((!strncmp(value, "https://", 8) || !strncmp(value, "http://", 7)) && n < 400 &&
        value[n - 1] != '/' && !strpbrk(value, " \"<>\r\n?#"))
        return 0;
    snprintf(why, whysz,
             "an http:// or https:// address without a trailing slash, query or "
             "fragment");
    return -1;
}
