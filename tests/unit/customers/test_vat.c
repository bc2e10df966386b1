/* Unit tests for the VAT check on a customer: the fill from VIES
 * (customers_vat_fill) and the status carried over or reset by an update
 * (customers_check). No database. */
#include "customers_check.h"
#include "customers_store.h"
#include "customers_vat.h"
#include "cm_pbjson.h"
#include "cm_util.h"
#include "../unit.h"

#define NOW_MS 1795000000000LL /* 2026-11-18 */

static Crm__VatCheck *s_valid(const char *name, const char *address)
{
    Crm__VatCheck *v = (Crm__VatCheck *)cm_pb_new(&crm__vat_check__descriptor);
    v->status = CRM__VAT_STATUS__VAT_STATUS_VALID;
    cm_pb_set_str(&v->vat_number, "DE136695976");
    cm_pb_set_str(&v->name, name);
    cm_pb_set_str(&v->address, address);
    return v;
}

static Crm__Company *s_company(const char *name, const char *address)
{
    Crm__Company *c = (Crm__Company *)cm_pb_new(&crm__company__descriptor);
    cm_pb_set_str(&c->vat_number, "DE136695976");
    cm_pb_set_str(&c->name, name);
    cm_pb_set_str(&c->address, address);
    return c;
}

static void test_fill_takes_empty_fields_and_keeps_typed_ones(void)
{
    Crm__Company *c = s_company("Our name for them", "");
    Crm__VatCheck *v = s_valid("Größmann GmbH", "Schloßstraße 7\n10115 Berlin");
    customers_vat_fill(c, v, NULL);
    CHECK_STR(c->name, "Our name for them");
    CHECK_STR(c->address, "Schloßstraße 7\n10115 Berlin");
    CHECK_STR(v->filled_name, "");
    CHECK_STR(v->filled_address, "Schloßstraße 7\n10115 Berlin");
    crm__company__free_unpacked(c, NULL);
    crm__vat_check__free_unpacked(v, NULL);
}

static void test_fill_replaces_what_the_last_fill_wrote(void)
{
    Crm__VatCheck *last = s_valid("", "");
    cm_pb_set_str(&last->filled_name, "Alt GmbH");
    cm_pb_set_str(&last->filled_address, "Weg 1\n10115 Berlin");
    /* The name is still the last fill's; the address was edited since. */
    Crm__Company *c = s_company("Alt GmbH", "Weg 1a\n10115 Berlin");
    Crm__VatCheck *v = s_valid("Neu GmbH", "Ring 2\n50667 Köln");
    customers_vat_fill(c, v, last);
    CHECK_STR(c->name, "Neu GmbH");
    CHECK_STR(c->address, "Weg 1a\n10115 Berlin");
    CHECK_STR(v->filled_name, "Neu GmbH");
    CHECK_STR(v->filled_address, "Weg 1\n10115 Berlin"); /* still what the last fill wrote */
    crm__company__free_unpacked(c, NULL);
    crm__vat_check__free_unpacked(v, NULL);
    crm__vat_check__free_unpacked(last, NULL);
}

static void test_fill_skips_invalid_withheld_and_unfit_values(void)
{
    Crm__Company *c = s_company("", "");
    Crm__VatCheck *v = s_valid("Ungültig AG", "Gasse 1\n1010 Wien");
    v->status = CRM__VAT_STATUS__VAT_STATUS_INVALID;
    customers_vat_fill(c, v, NULL);
    CHECK_STR(c->name, "");
    CHECK_STR(c->address, "");
    v->status = CRM__VAT_STATUS__VAT_STATUS_VALID;
    v->name_withheld = true;
    cm_pb_set_str(&v->name, "");
    customers_vat_fill(c, v, NULL);
    CHECK_STR(c->name, "");
    CHECK_STR(c->address, "Gasse 1\n1010 Wien");
    /* A name longer than company.name takes (200 code points), or with a
     * control character, is left alone. */
    char longname[260];
    memset(longname, 'x', 201);
    longname[201] = '\0';
    cm_pb_set_str(&c->address, "");
    cm_pb_set_str(&v->name, longname);
    v->name_withheld = false;
    cm_pb_set_str(&v->address, "Gasse 1\x01");
    customers_vat_fill(c, v, NULL);
    CHECK_STR(c->name, "");
    CHECK_STR(c->address, "");
    longname[200] = '\0';
    cm_pb_set_str(&v->name, longname);
    customers_vat_fill(c, v, NULL);
    CHECK_STR(c->name, longname);
    crm__company__free_unpacked(c, NULL);
    crm__vat_check__free_unpacked(v, NULL);
}

/* customers_check on an update from old to c: the check's fate. */
static Crm__Customer *s_checked(const Crm__Customer *old, const char *new_vat, bool forged)
{
    Crm__Customer *c = (Crm__Customer *)cm_pb_clone(&old->base);
    cm_pb_set_str(&c->company->vat_number, new_vat);
    if (forged)
        c->company->vat_check->status = CRM__VAT_STATUS__VAT_STATUS_INVALID;
    struct cm_call call = {0};
    crm__reply_header__init(&call.reply);
    struct customers_tenant t = {0};
    customers_check(&call, c, old, &t, NOW_MS);
    CHECK(call.err == CM_OK);
    return c;
}

static void test_an_update_keeps_the_check_or_resets_it_with_the_number(void)
{
    Crm__Customer *old = (Crm__Customer *)cm_pb_new(&crm__customer__descriptor);
    cm_pb_set_str(&old->first_name, "Vera");
    old->is_company = true;
    old->company = s_company("Alt GmbH", "Weg 1\n10115 Berlin");
    old->company->vat_check = s_valid("Alt GmbH", "Weg 1\n10115 Berlin");
    cm_pb_set_str(&old->company->vat_check->filled_address, "Weg 1\n10115 Berlin");
    /* Same number: the stored check stays, whatever the client sent. */
    Crm__Customer *c = s_checked(old, "de 136 695 976", true);
    CHECK_STR(c->company->vat_number, "DE136695976");
    CHECK(c->company->vat_check &&
          c->company->vat_check->status == CRM__VAT_STATUS__VAT_STATUS_VALID);
    crm__customer__free_unpacked(c, NULL);
    /* Another number: UNVERIFIED, remembering only what the last fill wrote. */
    c = s_checked(old, "DE129273398", false);
    CHECK(c->company->vat_check);
    CHECK(c->company->vat_check->status == CRM__VAT_STATUS__VAT_STATUS_UNVERIFIED);
    CHECK_STR(c->company->vat_check->name, "");
    CHECK_STR(c->company->vat_check->filled_address, "Weg 1\n10115 Berlin");
    crm__customer__free_unpacked(c, NULL);
    /* A new customer has none. */
    c = (Crm__Customer *)cm_pb_clone(&old->base);
    struct cm_call call = {0};
    crm__reply_header__init(&call.reply);
    struct customers_tenant t = {0};
    customers_check(&call, c, NULL, &t, NOW_MS);
    CHECK(call.err == CM_OK && !c->company->vat_check);
    crm__customer__free_unpacked(c, NULL);
    crm__customer__free_unpacked(old, NULL);
    CHECK(customers_check_output_only("company.vatCheck"));
    CHECK(customers_check_output_only("company.vatCheck.status"));
    CHECK(!customers_check_output_only("company.vatNumber"));
    CHECK(!customers_check_output_only("company.vatCheckx"));
}

int main(void)
{
    RUN(test_fill_takes_empty_fields_and_keeps_typed_ones);
    RUN(test_fill_replaces_what_the_last_fill_wrote);
    RUN(test_fill_skips_invalid_withheld_and_unfit_values);
    RUN(test_an_update_keeps_the_check_or_resets_it_with_the_number);
    return 0;
}
