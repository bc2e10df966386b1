/* Who may do what: the scopes a method needs, what each role grants, and the
 * one check every request passes before its handler runs (cm_svc). Pure: no
 * I/O, no state. docs/api.md, "Roles and scopes", has the table. */
#ifndef CM_PERM_H
#define CM_PERM_H

#include <stdbool.h>
#include <stddef.h>
#include "customers.pb-c.h"
#include "envelope.pb-c.h"

/* What a method needs. The named ones are the scopes of docs/api.md (the
 * strings a key's scopes list holds); CM_SCOPE_PUBLIC and CM_SCOPE_INTERNAL
 * are kinds of methods, never held by a key. */
enum cm_scope {
    CM_SCOPE_UNSET = 0, // a method that names none: cm_svc_run refuses to start
    CM_SCOPE_CUSTOMERS_READ,
    CM_SCOPE_CUSTOMERS_WRITE,
    CM_SCOPE_NOTES_READ,
    CM_SCOPE_NOTES_WRITE,
    CM_SCOPE_PRIVATE_READ,
    CM_SCOPE_MESSAGES_SEND,
    CM_SCOPE_COMPANY_READ,
    CM_SCOPE_EVENTS_PUBLISH,
    CM_SCOPE_EVENTS_READ,
    CM_SCOPE_EXCHANGE,
    CM_SCOPE_SETTINGS,
    CM_SCOPE_STAFF,
    CM_SCOPE_ACCESS_CHECK, // a door controller asks whether to open (docs/access.md)
    /* Anyone, with a principal or without: a page a link opens (its token
     * names the tenant and the customer). */
    CM_SCOPE_PUBLIC,
    /* Anyone the suite knows, whatever their role and scopes: any valid key
     * or session (the gateway refuses the others with 401), an outside
     * system's bus key, the suite's services. For what only tells callers
     * about themselves (WhoAmI). A route that needs it shows an empty
     * x-crm-scopes. */
    CM_SCOPE_AUTHENTICATED,
    /* Only the suite's services acting for themselves: a principal of kind
     * SERVICE, or none (docs/bus.md, "Principal, roles and scopes"). */
    CM_SCOPE_INTERNAL,
    CM_SCOPE_END
};

/* The named scopes run from CM_SCOPE_FIRST to CM_SCOPE_LAST. */
#define CM_SCOPE_FIRST CM_SCOPE_CUSTOMERS_READ
#define CM_SCOPE_LAST CM_SCOPE_ACCESS_CHECK

/* The scope's name ("customers:read"; "public" and "internal" for the two
 * kinds; "" for CM_SCOPE_UNSET or a value out of range). Static. */
const char *cm_scope_name(enum cm_scope scope);

/* What a person is told a principal without the scope may not do ("read
 * customers", "publish events", "use internal methods"). Static. */
const char *cm_scope_what(enum cm_scope scope);

/* The named scope spelt name (exactly, n bytes), or CM_SCOPE_UNSET when it
 * names none (the two kinds included: a key never holds them). */
enum cm_scope cm_scope_parse(const char *name, size_t n);

/* A set of named scopes as bits (1u << scope): the scopes in names[0..n)
 * that cm_scope_parse knows (others are left out). */
unsigned cm_scopes_mask(char *const *names, size_t n);

/* The names of the scopes in mask, in table order, into out (at most
 * CM_SCOPE_LAST entries, static strings); returns how many. */
size_t cm_scopes_names(unsigned mask, const char **out);

/* True when role grants the named scope (the role table). */
bool cm_role_grants(Crm__Role role, enum cm_scope scope);

/* True when principal may call a method that needs scope: its role grants
 * it and its scopes list is empty or names it. A NULL principal is one of
 * the suite's services acting for itself (kind SERVICE, role SERVICE, no
 * scopes). CM_SCOPE_PUBLIC and CM_SCOPE_AUTHENTICATED allow everyone (the
 * latter's callers were authenticated on their way in); CM_SCOPE_INTERNAL only a
 * principal of kind SERVICE or none; CM_SCOPE_UNSET nobody. */
bool cm_perm_allows(const Crm__Principal *principal, enum cm_scope scope);

/* True when the principal may see private content (a customer's
 * description, a note's body): cm_perm_allows(p, private:read), or one of
 * the suite's services acting for itself (kind SERVICE, or no principal),
 * which holds that content anyway (search indexes it). */
bool cm_perm_private(const Crm__Principal *principal);

/* What a principal without private:read sees of private content: the
 * customer's description ("") and the values of a change to it ("" both);
 * each leaves what it is given alone for a principal with private:read.
 * Returns true when it hid something. */
bool cm_perm_hide_customer(const Crm__Principal *principal, Crm__Customer *c);
bool cm_perm_hide_changes(const Crm__Principal *principal, Crm__FieldChange **changes, size_t n);

/* The fields private content lives in: a customer's description. */
#define CM_PERM_PRIVATE_FIELD "description"

#endif
