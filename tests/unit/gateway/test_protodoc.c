/* The .proto comments as a C table: protodoc_gen.py run over the fixture
 * (tests/unit/gateway/protodoc_fixture.proto, build/gen/protodoc_fixture.c),
 * and the real table the OpenAPI document reads. */
#include "gateway_protodoc.h"
#include "../unit.h"

extern const struct gateway_protodoc protodoc_fixture[];
extern const size_t protodoc_fixture_n;

static const char *s_fixture(const char *key)
{
    return gateway_protodoc_find(protodoc_fixture, protodoc_fixture_n, key);
}

static void test_generator_takes_each_kind_of_comment(void)
{
    /* Lines trimmed and joined, paragraphs kept; quotes, backslashes, '?'
     * and UTF-8 come through as written. */
    CHECK_STR(s_fixture("fixture.Thing"),
              "A thing with a \"quoted\" name, two lines long.\n\nA second paragraph: ?\?) is no "
              "trigraph, \\ a backslash, Zo\xc3\xab a name.");
    CHECK_STR(s_fixture("fixture.Thing.name"), "Leading wins over trailing.");
    CHECK_STR(s_fixture("fixture.Thing.size"), "Only a trailing comment.");
    CHECK_STR(s_fixture("fixture.Thing.Inner.x"), "A nested message's field.");
    CHECK_STR(s_fixture("fixture.Thing.Kind"), "A nested enum.");
    CHECK_STR(s_fixture("fixture.Thing.Kind.KIND_BIG"), "Big.");
    CHECK_STR(s_fixture("fixture.Colour.COLOUR_RED"), "Red, as in stop.");
    CHECK_STR(s_fixture("rpc GetThing fixture.Req fixture.Thing"), "Gets a thing.");
    CHECK_STR(s_fixture("rpc Heading fixture.Req fixture.Req"), "The trailing comment then.");
}

static void test_generator_leaves_out_what_has_no_comment(void)
{
    CHECK(!s_fixture("fixture.Thing.bare"));
    CHECK(!s_fixture("fixture.Thing.Inner"));
    CHECK(!s_fixture("fixture.Req"));
    /* A detached comment belongs to nothing. */
    CHECK(!s_fixture("fixture.Colour"));
    CHECK(!s_fixture("fixture.Colour.COLOUR_UNSPECIFIED"));
    /* A method two services have names no one operation. */
    CHECK(!s_fixture("rpc Replay fixture.Req fixture.Req"));
    CHECK(!s_fixture("fixture.Nothing"));
    CHECK(!s_fixture(""));
}

static void test_tables_are_sorted_and_complete(void)
{
    CHECK(protodoc_fixture_n == 9);
    CHECK(gateway_protodocs_n > 1000);
    for (size_t i = 0; i < gateway_protodocs_n; i++) {
        CHECK(gateway_protodocs[i].text[0] != '\0');
        if (i > 0)
            CHECK(strcmp(gateway_protodocs[i - 1].key, gateway_protodocs[i].key) < 0);
        CHECK_STR(gateway_protodoc(gateway_protodocs[i].key), gateway_protodocs[i].text);
    }
    for (size_t i = 1; i < protodoc_fixture_n; i++)
        CHECK(strcmp(protodoc_fixture[i - 1].key, protodoc_fixture[i].key) < 0);
    /* The real comments, one of each kind. */
    CHECK(gateway_protodoc("crm.Customer"));
    CHECK(gateway_protodoc("crm.Customer.email"));
    CHECK(gateway_protodoc("crm.Source.SOURCE_SIGNUP"));
    CHECK(gateway_protodoc("rpc GetCustomer crm.GetCustomerRequest crm.Customer"));
}

int main(void)
{
    RUN(test_generator_takes_each_kind_of_comment);
    RUN(test_generator_leaves_out_what_has_no_comment);
    RUN(test_tables_are_sorted_and_complete);
    return 0;
}
