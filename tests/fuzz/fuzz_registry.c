/* Fuzzes the broker's registry of bus keys (cm_curve_registry_parse): any
 * text either parses or is refused with a message naming a line or key; a
 * registry that parses finds every entry by its key and by its name, holds
 * only valid keys, names, kinds, tenants and scopes, and each entry's line
 * (cm_curve_registry_line) parses back to the same entry. The input is the
 * registry's text. */
#include "fuzz.h"
#include "cm_curve.h"
#include "cm_util.h"

static void s_same(const struct cm_curve_entry *a, const struct cm_curve_entry *b)
{
    FUZZ_CHECK(!strcmp(a->public_key, b->public_key));
    FUZZ_CHECK(!strcmp(a->name, b->name));
    FUZZ_CHECK(a->kind == b->kind);
    FUZZ_CHECK(!strcmp(a->tenant, b->tenant));
    FUZZ_CHECK(a->n_scopes == b->n_scopes);
    for (size_t i = 0; i < a->n_scopes; i++)
        FUZZ_CHECK(!strcmp(a->scopes[i], b->scopes[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    cm_curve_registry_t *r = cm_curve_registry_parse((const char *)data, size, err, sizeof err);
    if (!r) {
        FUZZ_CHECK(!strncmp(err, "registry line ", 14) || !strncmp(err, "registry key ", 13));
        return 0;
    }
    for (size_t i = 0; i < cm_curve_registry_count(r); i++) {
        const struct cm_curve_entry *e = cm_curve_registry_entry(r, i);
        FUZZ_CHECK(cm_curve_key_ok(e->public_key));
        FUZZ_CHECK(cm_curve_name_ok(e->name, strlen(e->name)));
        FUZZ_CHECK(strcmp(cm_curve_kind_name(e->kind), "unknown") != 0);
        FUZZ_CHECK((e->kind == CM_CURVE_SYSTEM) == (e->tenant[0] != '\0'));
        FUZZ_CHECK(e->kind != CM_CURVE_SYSTEM || (cm_uuid_valid(e->tenant) && e->n_scopes > 0));
        FUZZ_CHECK(cm_curve_registry_by_key(r, e->public_key) == e);
        FUZZ_CHECK(cm_curve_registry_by_name(r, e->name) == e);
        char *line = cm_curve_registry_line(e);
        cm_curve_registry_t *again = cm_curve_registry_parse(line, strlen(line), err, sizeof err);
        FUZZ_CHECK(again && cm_curve_registry_count(again) == 1);
        s_same(e, cm_curve_registry_entry(again, 0));
        cm_curve_registry_destroy(&again);
        free(line);
    }
    FUZZ_CHECK(cm_curve_registry_entry(r, cm_curve_registry_count(r)) == NULL);
    cm_curve_registry_destroy(&r);
    return 0;
}
