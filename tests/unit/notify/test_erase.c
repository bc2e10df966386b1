/* Erasure of a customer's notify events (notify_erase_scrub): the message
 * and the reply keep what they were and became, not to whom or what. */
#include "notify_erase.h"
#include "notify.pb-c.h"
#include "../unit.h"

static Crm__MessageEvent *s_scrubbed(const Crm__MessageEvent *in)
{
    size_t plen = crm__message_event__get_packed_size(in);
    uint8_t *pbuf = malloc(plen ? plen : 1);
    crm__message_event__pack(in, pbuf);
    Crm__Event ev = CRM__EVENT__INIT;
    ev.type = "message.replied";
    ev.payload.data = pbuf;
    ev.payload.len = plen;
    size_t len = 0;
    uint8_t *out = notify_erase_scrub(&ev, &len);
    CHECK(out);
    Crm__MessageEvent *me = crm__message_event__unpack(NULL, len, out);
    CHECK(me);
    free(out);
    free(pbuf);
    return me;
}

static void test_message_and_reply(void)
{
    Crm__Message m = CRM__MESSAGE__INIT;
    m.id = "5f3e0000-0000-4000-8000-000000000001";
    m.customer_id = "7f3e0000-0000-4000-8000-000000000002";
    m.channel = CRM__CHANNEL__CHANNEL_EMAIL;
    m.kind = "message";
    m.to = "anna@example.com";
    m.to_name = "Anna Nowak";
    m.subject = "Termin für Anna";
    m.text = "Hallo Anna";
    m.last_error = "SMTP 550: <anna@example.com> unknown";
    m.status = CRM__MESSAGE_STATUS__MESSAGE_STATUS_REPLIED;
    m.attempts = 2;
    m.sent_at = "2026-12-07T09:00:00.000Z";
    m.conversation_id = m.id;
    Crm__Reply r = CRM__REPLY__INIT;
    r.id = "9a000000-0000-4000-8000-000000000003";
    r.customer_id = m.customer_id;
    r.message_id = m.id;
    r.joined_by = "REPLY_ADDRESS";
    r.from = "anna@example.com";
    r.from_name = "Anna Nowak";
    r.subject = "Re: Termin";
    r.text = "Ja, Montag passt.";
    char *files[] = {"Überweisung.pdf"};
    r.attachments = files;
    r.n_attachments = 1;
    r.external_id = "<abc@mail.example.com>";
    r.received_at = "2026-12-07T10:00:00.000Z";
    Crm__MessageEvent in = CRM__MESSAGE_EVENT__INIT;
    in.message = &m;
    in.reply = &r;
    Crm__MessageEvent *me = s_scrubbed(&in);
    const Crm__Message *o = me->message;
    CHECK_STR(o->id, m.id);
    CHECK_STR(o->customer_id, m.customer_id);
    CHECK_STR(o->conversation_id, m.id);
    CHECK_STR(o->kind, "message");
    CHECK(o->status == m.status && o->attempts == 2 && o->channel == m.channel);
    CHECK_STR(o->sent_at, m.sent_at);
    CHECK_STR(o->to, "");
    CHECK_STR(o->to_name, "");
    CHECK_STR(o->subject, "");
    CHECK_STR(o->text, "");
    CHECK_STR(o->last_error, "");
    const Crm__Reply *p = me->reply;
    CHECK_STR(p->id, r.id);
    CHECK_STR(p->message_id, m.id);
    CHECK_STR(p->joined_by, "REPLY_ADDRESS");
    CHECK_STR(p->received_at, r.received_at);
    CHECK_STR(p->from, "");
    CHECK_STR(p->from_name, "");
    CHECK_STR(p->subject, "");
    CHECK_STR(p->text, "");
    CHECK_STR(p->external_id, "");
    CHECK(p->n_attachments == 0);
    crm__message_event__free_unpacked(me, NULL);
}

static void test_not_a_message_event(void)
{
    Crm__Event ev = CRM__EVENT__INIT;
    uint8_t junk[] = {0xff, 0xff, 0xff};
    ev.payload.data = junk;
    ev.payload.len = sizeof junk;
    size_t len = 0;
    CHECK(notify_erase_scrub(&ev, &len) == NULL);
}

int main(void)
{
    RUN(test_message_and_reply);
    RUN(test_not_a_message_event);
    return 0;
}
