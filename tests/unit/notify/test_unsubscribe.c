/* Unsubscribe tokens: made and read back, bound to their key, tenant,
 * customer and channel; anything else refused. */
#include "notify_unsubscribe.h"
#include "../unit.h"

#define TENANT "0b6e2a34-5c1d-4e8f-9a7b-3c2d1e0f9a8b"
#define CUSTOMER "7f3e1c2a-9b8d-4c6e-a5f4-1e2d3c4b5a69"

static const uint8_t KEY[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t OTHER_KEY[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static void test_round_trip(void)
{
    char tok[NOTIFY_UNSUBSCRIBE_TOKEN], tenant[37], customer[37];
    bool sms = true;
    CHECK(notify_unsubscribe_token(KEY, TENANT, CUSTOMER, false, tok, sizeof tok));
    CHECK(strlen(tok) == 60 && strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                           "0123456789-_") == 60);
    CHECK(notify_unsubscribe_parse(KEY, tok, tenant, customer, &sms));
    CHECK(!strcmp(tenant, TENANT) && !strcmp(customer, CUSTOMER) && !sms);
    char tok2[NOTIFY_UNSUBSCRIBE_TOKEN];
    CHECK(notify_unsubscribe_token(KEY, TENANT, CUSTOMER, true, tok2, sizeof tok2));
    CHECK(strcmp(tok, tok2) != 0);
    CHECK(notify_unsubscribe_parse(KEY, tok2, tenant, customer, &sms) && sms);
    /* The same inputs make the same token: the sender remakes the header's. */
    char again[NOTIFY_UNSUBSCRIBE_TOKEN];
    CHECK(notify_unsubscribe_token(KEY, TENANT, CUSTOMER, false, again, sizeof again));
    CHECK(!strcmp(tok, again));
}

static void test_refused(void)
{
    char tok[NOTIFY_UNSUBSCRIBE_TOKEN], tenant[37], customer[37];
    bool sms = false;
    CHECK(notify_unsubscribe_token(KEY, TENANT, CUSTOMER, false, tok, sizeof tok));
    CHECK(!notify_unsubscribe_parse(OTHER_KEY, tok, tenant, customer, &sms));
    /* Any one character changed. */
    for (size_t i = 0; i < strlen(tok); i++) {
        char bad[NOTIFY_UNSUBSCRIBE_TOKEN];
        snprintf(bad, sizeof bad, "%s", tok);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        CHECK(!notify_unsubscribe_parse(KEY, bad, tenant, customer, &sms));
    }
    char cut[NOTIFY_UNSUBSCRIBE_TOKEN];
    snprintf(cut, sizeof cut, "%.*s", 50, tok);
    CHECK(!notify_unsubscribe_parse(KEY, cut, tenant, customer, &sms));
    CHECK(!notify_unsubscribe_parse(KEY, "", tenant, customer, &sms));
    CHECK(!notify_unsubscribe_parse(KEY, "not a token!", tenant, customer, &sms));
    char longer[200];
    snprintf(longer, sizeof longer, "%sAAAA", tok);
    CHECK(!notify_unsubscribe_parse(KEY, longer, tenant, customer, &sms));
    /* Not UUIDs, or no room. */
    CHECK(!notify_unsubscribe_token(KEY, "tenant", CUSTOMER, false, tok, sizeof tok));
    CHECK(!notify_unsubscribe_token(KEY, TENANT, CUSTOMER "0", false, tok, sizeof tok));
    CHECK(!notify_unsubscribe_token(KEY, TENANT, CUSTOMER, false, tok, 20));
}

static void test_label(void)
{
    CHECK(!strcmp(notify_unsubscribe_label("de"), "Abmelden"));
    CHECK(!strcmp(notify_unsubscribe_label("bg"), "Отписване"));
    CHECK(!strcmp(notify_unsubscribe_label("xx"), "Unsubscribe"));
    CHECK(!strcmp(notify_unsubscribe_label(NULL), "Unsubscribe"));
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_refused);
    RUN(test_label);
    return 0;
}
