/* Unit tests for cm_perm: the role table of docs/api.md cell by cell, a
 * key's scopes narrowing its role, the two kinds of methods (public and
 * internal), and scope names read back exactly. */
#include "cm_perm.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "unit.h"

/* The table as docs/api.md writes it: one row per role, a column per named
 * scope (customers:read ... staff, access:check), 1 where the role grants it. */
static const struct {
    Crm__Role role;
    const char *row; // CM_SCOPE_FIRST .. CM_SCOPE_LAST
} s_table[] = {
    {CRM__ROLE__ROLE_OWNER, "1111111111111"},   {CRM__ROLE__ROLE_ADMIN, "1111111111111"},
    {CRM__ROLE__ROLE_STAFF, "1111111010001"},   {CRM__ROLE__ROLE_READONLY, "1010101000000"},
    {CRM__ROLE__ROLE_SERVICE, "1111011111001"}, {CRM__ROLE__ROLE_UNSPECIFIED, "0000000000000"},
};

static void test_roles_grant_what_the_table_says(void)
{
    for (size_t i = 0; i < sizeof s_table / sizeof *s_table; i++)
        for (int s = CM_SCOPE_FIRST; s <= CM_SCOPE_LAST; s++) {
            bool want = s_table[i].row[s - CM_SCOPE_FIRST] == '1';
            if (cm_role_grants(s_table[i].role, (enum cm_scope)s) != want) {
                fprintf(stderr, "role %d, scope %s: expected %d\n", (int)s_table[i].role,
                        cm_scope_name((enum cm_scope)s), want);
                abort();
            }
            Crm__Principal p = CRM__PRINCIPAL__INIT;
            p.role = s_table[i].role;
            CHECK(cm_perm_allows(&p, (enum cm_scope)s) == want);
        }
    /* A role the table does not know grants nothing. */
    CHECK(!cm_role_grants((Crm__Role)99, CM_SCOPE_CUSTOMERS_READ));
}

static void test_scopes_narrow_the_role(void)
{
    char *scopes[] = {"customers:read", "events:publish", "private:read"};
    Crm__Principal p = CRM__PRINCIPAL__INIT;
    p.role = CRM__ROLE__ROLE_SERVICE;
    p.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_API_KEY;
    p.scopes = scopes;
    p.n_scopes = 2;
    CHECK(cm_perm_allows(&p, CM_SCOPE_CUSTOMERS_READ));
    CHECK(cm_perm_allows(&p, CM_SCOPE_EVENTS_PUBLISH));
    CHECK(!cm_perm_allows(&p, CM_SCOPE_CUSTOMERS_WRITE));
    CHECK(!cm_perm_allows(&p, CM_SCOPE_NOTES_READ));
    /* A scope the role does not grant stays refused even when listed. */
    p.n_scopes = 3;
    CHECK(!cm_perm_allows(&p, CM_SCOPE_PRIVATE_READ));
    CHECK(!cm_perm_private(&p));
    /* The suite's own services see it (they hold it anyway), though their
     * role does not grant private:read to a key. */
    p.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    CHECK(cm_perm_private(&p));
    CHECK(cm_perm_private(NULL));
    CHECK(!cm_perm_allows(NULL, CM_SCOPE_PRIVATE_READ));
    p.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_API_KEY;
    /* An admin key with one scope may do that one only. */
    p.role = CRM__ROLE__ROLE_ADMIN;
    p.scopes = scopes + 1;
    p.n_scopes = 1;
    CHECK(cm_perm_allows(&p, CM_SCOPE_EVENTS_PUBLISH));
    CHECK(!cm_perm_allows(&p, CM_SCOPE_CUSTOMERS_READ));
    CHECK(!cm_perm_private(&p));
    /* A scope list entry must match exactly. */
    char *near[] = {"customers:rea", "customers:readx", "CUSTOMERS:READ"};
    p.scopes = near;
    p.n_scopes = 3;
    CHECK(!cm_perm_allows(&p, CM_SCOPE_CUSTOMERS_READ));
}

static void test_public_and_internal_methods(void)
{
    Crm__Principal p = CRM__PRINCIPAL__INIT;
    CHECK(cm_perm_allows(NULL, CM_SCOPE_PUBLIC));
    CHECK(cm_perm_allows(&p, CM_SCOPE_PUBLIC));
    /* Internal: a service acting for itself, or no principal at all. */
    CHECK(cm_perm_allows(NULL, CM_SCOPE_INTERNAL));
    CHECK(!cm_perm_allows(&p, CM_SCOPE_INTERNAL));
    p.role = CRM__ROLE__ROLE_OWNER;
    p.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_STAFF;
    CHECK(!cm_perm_allows(&p, CM_SCOPE_INTERNAL));
    p.role = CRM__ROLE__ROLE_SERVICE;
    p.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SYSTEM;
    CHECK(!cm_perm_allows(&p, CM_SCOPE_INTERNAL));
    p.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_API_KEY;
    CHECK(!cm_perm_allows(&p, CM_SCOPE_INTERNAL));
    p.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_SERVICE;
    CHECK(cm_perm_allows(&p, CM_SCOPE_INTERNAL));
    /* No principal: the service role, without private content. */
    CHECK(cm_perm_allows(NULL, CM_SCOPE_CUSTOMERS_WRITE));
    CHECK(!cm_perm_allows(NULL, CM_SCOPE_PRIVATE_READ));
    CHECK(!cm_perm_allows(NULL, CM_SCOPE_STAFF));
    /* Authenticated: every principal whatever its role and scopes, and none. */
    Crm__Principal door = CRM__PRINCIPAL__INIT;
    char *only[] = {"access:check"};
    door.role = CRM__ROLE__ROLE_SERVICE;
    door.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_API_KEY;
    door.scopes = only;
    door.n_scopes = 1;
    CHECK(!cm_perm_allows(&door, CM_SCOPE_CUSTOMERS_READ));
    CHECK(cm_perm_allows(&door, CM_SCOPE_AUTHENTICATED));
    door.role = CRM__ROLE__ROLE_READONLY;
    door.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_STAFF;
    door.n_scopes = 0;
    CHECK(cm_perm_allows(&door, CM_SCOPE_AUTHENTICATED));
    CHECK(cm_perm_allows(NULL, CM_SCOPE_AUTHENTICATED));
    CHECK_STR(cm_scope_name(CM_SCOPE_AUTHENTICATED), "authenticated");
    /* Not a scope a key holds. */
    CHECK(cm_scope_parse("authenticated", 13) == CM_SCOPE_UNSET);
    /* A method without a scope is refused to everyone. */
    CHECK(!cm_perm_allows(NULL, CM_SCOPE_UNSET));
    p.role = CRM__ROLE__ROLE_OWNER;
    CHECK(!cm_perm_allows(&p, CM_SCOPE_UNSET));
    CHECK(!cm_perm_allows(&p, CM_SCOPE_END));
}

static void test_names_read_back(void)
{
    for (int s = CM_SCOPE_FIRST; s <= CM_SCOPE_LAST; s++) {
        const char *n = cm_scope_name((enum cm_scope)s);
        CHECK(*n);
        CHECK(cm_scope_parse(n, strlen(n)) == (enum cm_scope)s);
        CHECK(strcmp(cm_scope_what((enum cm_scope)s), "do this"));
    }
    CHECK_STR(cm_scope_name(CM_SCOPE_EVENTS_PUBLISH), "events:publish");
    CHECK(cm_scope_parse("public", 6) == CM_SCOPE_UNSET);
    CHECK(cm_scope_parse("internal", 8) == CM_SCOPE_UNSET);
    CHECK(cm_scope_parse("customers:read,x", 14) == CM_SCOPE_CUSTOMERS_READ);
    CHECK(cm_scope_parse("", 0) == CM_SCOPE_UNSET);
    CHECK_STR(cm_scope_name(CM_SCOPE_UNSET), "");
    CHECK_STR(cm_scope_name((enum cm_scope)1000), "");
}

static void test_masks_read_back(void)
{
    char *names[] = {"staff", "customers:read", "nonsense", "internal", NULL, "customers:read"};
    unsigned m = cm_scopes_mask(names, 6);
    CHECK(m == ((1u << CM_SCOPE_STAFF) | (1u << CM_SCOPE_CUSTOMERS_READ)));
    const char *out[CM_SCOPE_LAST];
    CHECK(cm_scopes_names(m, out) == 2);
    CHECK_STR(out[0], "customers:read");
    CHECK_STR(out[1], "staff");
    CHECK(cm_scopes_mask(names, 0) == 0);
    CHECK(cm_scopes_names(0, out) == 0);
    CHECK(cm_scopes_names(~0u, out) == CM_SCOPE_LAST);
}

static void test_private_content_is_hidden(void)
{
    Crm__Customer *c = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    cm_pb_set_str(&c->description, "allergic to latex");
    cm_pb_set_str(&c->first_name, "Ida");
    Crm__Principal staff = CRM__PRINCIPAL__INIT, shop = CRM__PRINCIPAL__INIT;
    staff.role = CRM__ROLE__ROLE_STAFF;
    shop.role = CRM__ROLE__ROLE_SERVICE;
    shop.kind = CRM__PRINCIPAL_KIND__PRINCIPAL_KIND_API_KEY;
    CHECK(!cm_perm_hide_customer(&staff, c));
    CHECK_STR(c->description, "allergic to latex");
    CHECK(!cm_perm_hide_customer(NULL, c));
    CHECK(cm_perm_hide_customer(&shop, c));
    CHECK_STR(c->description, "");
    CHECK_STR(c->first_name, "Ida");
    CHECK(!cm_perm_hide_customer(&shop, c)); // nothing left to hide
    CHECK(!cm_perm_hide_customer(&shop, NULL));
    crm__customer__free_unpacked(c, NULL);

    Crm__FieldChange a = CRM__FIELD_CHANGE__INIT, b = CRM__FIELD_CHANGE__INIT;
    a.field = "description";
    a.old_value = cm_strdup("\"old\"");
    a.new_value = cm_strdup("\"new\"");
    b.field = "email";
    b.old_value = "\"a@b.test\"";
    b.new_value = "\"c@d.test\"";
    Crm__FieldChange *changes[] = {&a, &b};
    CHECK(!cm_perm_hide_changes(&staff, changes, 2));
    CHECK_STR(a.old_value, "\"old\"");
    CHECK(cm_perm_hide_changes(&shop, changes, 2));
    CHECK_STR(a.old_value, "");
    CHECK_STR(a.new_value, "");
    CHECK_STR(b.new_value, "\"c@d.test\"");
}

int main(void)
{
    RUN(test_roles_grant_what_the_table_says);
    RUN(test_scopes_narrow_the_role);
    RUN(test_public_and_internal_methods);
    RUN(test_names_read_back);
    RUN(test_masks_read_back);
    RUN(test_private_content_is_hidden);
    return 0;
}
