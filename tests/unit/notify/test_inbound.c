/* Reply addresses and their tokens, SMS senders' numbers, stop words and
 * the stop hint of SMS newsletters. */
#include "notify_inbound.h"
#include "../unit.h"

#define ID "7f3e1c2a-9b8d-4c6e-a5f4-1e2d3c4b5a69"

static void test_reply_address_round_trip(void)
{
    char addr[NOTIFY_INBOUND_ADDRESS], id[37];
    notify_inbound_reply_address(ID, "replies.example.com", addr, sizeof addr);
    CHECK_STR(addr, "reply+7f3e1c2a9b8d4c6ea5f41e2d3c4b5a69@replies.example.com");
    CHECK(notify_inbound_reply_token(addr, id));
    CHECK_STR(id, ID);
    /* Any case and any domain: the token is what names the message. */
    CHECK(notify_inbound_reply_token("REPLY+7F3E1C2A9B8D4C6EA5F41E2D3C4B5A69@Other.Example", id));
    CHECK_STR(id, ID);
    notify_inbound_reply_address("not-a-uuid", "x.example", addr, sizeof addr);
    CHECK_STR(addr, "");
    CHECK(!notify_inbound_reply_token("reply@x.example", id));
    CHECK(!notify_inbound_reply_token("reply+7f3e1c2a9b8d4c6ea5f41e2d3c4b5a6@x", id));
    CHECK(!notify_inbound_reply_token("reply+7f3e1c2a9b8d4c6ea5f41e2d3c4b5a69x@x", id));
    CHECK(!notify_inbound_reply_token("reply+7f3e1c2a9b8d4c6ea5f41e2d3c4b5g69@x", id));
    CHECK(!notify_inbound_reply_token("other+7f3e1c2a9b8d4c6ea5f41e2d3c4b5a69@x", id));
    CHECK(!notify_inbound_reply_token("reply+7f3e1c2a9b8d4c6ea5f41e2d3c4b5a69", id));
}

static void test_phone(void)
{
    char out[20];
    CHECK(notify_inbound_phone("+48 601-234-567", out, sizeof out));
    CHECK_STR(out, "+48601234567");
    CHECK(notify_inbound_phone("0047 (912) 34.567", out, sizeof out));
    CHECK_STR(out, "+4791234567");
    CHECK(notify_inbound_phone("+123456789012345", out, sizeof out)); /* 15 digits */
    CHECK(!notify_inbound_phone("+1234567890123456", out, sizeof out));
    CHECK(!notify_inbound_phone("+1234567", out, sizeof out));  /* 7 digits */
    CHECK(!notify_inbound_phone("601234567", out, sizeof out)); /* no country */
    CHECK(!notify_inbound_phone("+48 60x 234", out, sizeof out));
    CHECK(!notify_inbound_phone("+0123456789", out, sizeof out));
    CHECK(!notify_inbound_phone("", out, sizeof out));
    /* Prefixes alone, and a "00" that is all there is: nothing past the end. */
    CHECK(!notify_inbound_phone("0", out, sizeof out));
    CHECK(!notify_inbound_phone("00", out, sizeof out));
    CHECK(!notify_inbound_phone("+", out, sizeof out));
    CHECK(!notify_inbound_phone("( )", out, sizeof out));
    CHECK(!notify_inbound_phone("+48601234567", out, 12)); /* no room */
}

static void test_stop_words(void)
{
    static const char *const yes[] = {
        "STOP",        "stop",     " Stop! ", "STOPP",     "stop all",  "STOP   ALL", "StopAll",
        "UNSUBSCRIBE", "Abmelden", "STOPPEN", "wypisz",    "Rezygnuję", "AVMELD",     "meld av.",
        "СТОП",        "стоп",     "Отпиши",  "отписване", "END",       "cancel",
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (!notify_inbound_is_stop(yes[i]))
            fprintf(stderr, "not a stop: \"%s\"\n", yes[i]);
        CHECK(notify_inbound_is_stop(yes[i]));
    }
    static const char *const no[] = {
        "", "stop by tomorrow?", "Please don't stop", "STOPPING", "Danke", "ok", "\xff",
    };
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        CHECK(!notify_inbound_is_stop(no[i]));
}

static void test_stop_hint(void)
{
    CHECK_STR(notify_inbound_stop_hint("en"), "Unsubscribe: reply STOP");
    CHECK_STR(notify_inbound_stop_hint("de"), "Abmelden: STOPP antworten");
    CHECK_STR(notify_inbound_stop_hint("pl"), "Rezygnacja: odpisz STOP");
    CHECK_STR(notify_inbound_stop_hint("nb"), "Meld deg av: svar STOPP");
    CHECK_STR(notify_inbound_stop_hint("bg"), "Отписване: отговорете СТОП");
    CHECK_STR(notify_inbound_stop_hint("fr"), "Unsubscribe: reply STOP");
    CHECK_STR(notify_inbound_stop_hint(NULL), "Unsubscribe: reply STOP");
    /* Each hint's word is one the stop list takes. */
    CHECK(notify_inbound_is_stop("STOPP") && notify_inbound_is_stop("СТОП"));
}

int main(void)
{
    RUN(test_reply_address_round_trip);
    RUN(test_phone);
    RUN(test_stop_words);
    RUN(test_stop_hint);
    return 0;
}
