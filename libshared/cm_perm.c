/* The role table and the permission check (cm_perm.h). */
#include "cm_perm.h"

#include "cm_pbjson.h"

#include <string.h>

static const struct {
    const char *name;
    const char *what;
} s_scopes[CM_SCOPE_END] = {
    [CM_SCOPE_UNSET] = {"", "do this"},
    [CM_SCOPE_CUSTOMERS_READ] = {"customers:read", "read customers"},
    [CM_SCOPE_CUSTOMERS_WRITE] = {"customers:write", "change customers"},
    [CM_SCOPE_NOTES_READ] = {"notes:read", "read notes and tasks"},
    [CM_SCOPE_NOTES_WRITE] = {"notes:write", "write notes and tasks"},
    [CM_SCOPE_PRIVATE_READ] = {"private:read", "read private content"},
    [CM_SCOPE_MESSAGES_SEND] = {"messages:send", "send messages"},
    [CM_SCOPE_COMPANY_READ] = {"company:read", "look up companies"},
    [CM_SCOPE_EVENTS_PUBLISH] = {"events:publish", "publish events"},
    [CM_SCOPE_EVENTS_READ] = {"events:read", "read event streams"},
    [CM_SCOPE_EXCHANGE] = {"exchange", "import or export"},
    [CM_SCOPE_SETTINGS] = {"settings", "change settings"},
    [CM_SCOPE_STAFF] = {"staff", "manage staff and keys"},
    [CM_SCOPE_ACCESS_CHECK] = {"access:check", "check access at a door"},
    [CM_SCOPE_PUBLIC] = {"public", "do this"},
    [CM_SCOPE_AUTHENTICATED] = {"authenticated", "do this"},
    [CM_SCOPE_INTERNAL] = {"internal", "use internal methods"},
};

const char *cm_scope_name(enum cm_scope scope)
{
    return (unsigned)scope < CM_SCOPE_END ? s_scopes[scope].name : "";
}

const char *cm_scope_what(enum cm_scope scope)
{
    return (unsigned)scope < CM_SCOPE_END ? s_scopes[scope].what : "do this";
}

enum cm_scope cm_scope_parse(const char *name, size_t n)
{
    for (int s = CM_SCOPE_FIRST; s <= CM_SCOPE_LAST; s++)
        if (strlen(s_scopes[s].name) == n && !memcmp(s_scopes[s].name, name, n))
            return (enum cm_scope)s;
    return CM_SCOPE_UNSET;
}

unsigned cm_scopes_mask(char *const *names, size_t n)
{
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++)
        if (names[i])
            mask |= 1u << cm_scope_parse(names[i], strlen(names[i]));
    return mask & ~1u; // CM_SCOPE_UNSET: a name it does not know
}

size_t cm_scopes_names(unsigned mask, const char **out)
{
    size_t n = 0;
    for (int s = CM_SCOPE_FIRST; s <= CM_SCOPE_LAST; s++)
        if (mask & (1u << s))
            out[n++] = s_scopes[s].name;
    return n;
}

#define BIT(s) (1u << (s))
#define ALL_NAMED (((1u << (CM_SCOPE_LAST + 1)) - 1) & ~1u)

static unsigned s_grants(Crm__Role role)
{
    switch (role) {
    case CRM__ROLE__ROLE_OWNER:
    case CRM__ROLE__ROLE_ADMIN:
        return ALL_NAMED;
    case CRM__ROLE__ROLE_STAFF:
        return ALL_NAMED & ~(BIT(CM_SCOPE_EXCHANGE) | BIT(CM_SCOPE_SETTINGS) | BIT(CM_SCOPE_STAFF) |
                             BIT(CM_SCOPE_EVENTS_PUBLISH));
    case CRM__ROLE__ROLE_READONLY:
        return BIT(CM_SCOPE_CUSTOMERS_READ) | BIT(CM_SCOPE_NOTES_READ) |
               BIT(CM_SCOPE_PRIVATE_READ) | BIT(CM_SCOPE_COMPANY_READ);
    case CRM__ROLE__ROLE_SERVICE:
        return ALL_NAMED &
               ~(BIT(CM_SCOPE_PRIVATE_READ) | BIT(CM_SCOPE_SETTINGS) | BIT(CM_SCOPE_STAFF));
    default:
        return 0;
    }
}

bool cm_role_grants(Crm__Role role, enum cm_scope scope)
{
    if (scope < CM_SCOPE_FIRST || scope > CM_SCOPE_LAST)
        return false;
    return (s_grants(role) & BIT(scope)) != 0;
}

static bool s_listed(const Crm__Principal *p, enum cm_scope scope)
{
    if (!p->n_scopes)
        return true;
    const char *name = s_scopes[scope].name;
    for (size_t i = 0; i < p->n_scopes; i++)
        if (p->scopes[i] && !strcmp(p->scopes[i], name))
            return true;
    return false;
}

bool cm_perm_allows(const Crm__Principal *principal, enum cm_scope scope)
{
    if (scope == CM_SCOPE_PUBLIC || scope == CM_SCOPE_AUTHENTICATED)
        return true;
    if (scope == CM_SCOPE_INTERNAL)
        return !principal || principal->kind == CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    if (scope < CM_SCOPE_FIRST || scope > CM_SCOPE_LAST)
        return false;
    if (!principal)
        return cm_role_grants(CRM__ROLE__ROLE_SERVICE, scope);
    return cm_role_grants(principal->role, scope) && s_listed(principal, scope);
}

bool cm_perm_private(const Crm__Principal *principal)
{
    /* The suite's own services hold the content anyway (search indexes it). */
    if (!principal || principal->kind == CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE)
        return true;
    return cm_perm_allows(principal, CM_SCOPE_PRIVATE_READ);
}

bool cm_perm_hide_customer(const Crm__Principal *principal, Crm__Customer *c)
{
    if (!c || cm_perm_private(principal) || !c->description[0])
        return false;
    cm_pb_set_str(&c->description, "");
    return true;
}

bool cm_perm_hide_changes(const Crm__Principal *principal, Crm__FieldChange **changes, size_t n)
{
    if (cm_perm_private(principal))
        return false;
    bool hid = false;
    for (size_t i = 0; i < n; i++)
        if (changes[i] && !strcmp(changes[i]->field, CM_PERM_PRIVATE_FIELD)) {
            cm_pb_set_str(&changes[i]->old_value, "");
            cm_pb_set_str(&changes[i]->new_value, "");
            hid = true;
        }
    return hid;
}
