"""Sending a message later from the customer card (headless Chromium at
390 px), in Polish and in Norwegian: "Send later" with a local date-time,
sent as UTC; the message listed as scheduled with its time, then cancelled
with its button (docs/notify.md, "Sending later"); every message of the
customer reachable on the card, a scheduled one followed until it is sent."""
import datetime

from crm import api, row_locked, unique, unique_email
from webdriver import ELEMENT
from test_ui import _browser, _no_js_errors, _open
from test_ui_seeds import PHONE, _fits, _shot, _sign_in, _width

WORDS = {
    "pl": {"later": "Wyślij później", "scheduled": "Zaplanowana", "cancelled": "Anulowana",
           "cancel": "Anuluj wysyłkę"},
    "nb": {"later": "Send senere", "scheduled": "Planlagt", "cancelled": "Avbrutt",
           "cancel": "Avbryt sending"},
}

# A local date-time a day ahead as the input takes it, and its UTC reading.
LOCAL_TOMORROW = """
const d = new Date(Date.now() + 86400000); d.setSeconds(0, 0);
const p = (n) => String(n).padStart(2, "0");
const local = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
const input = arguments[0];
input.value = local;
input.dispatchEvent(new Event("input", { bubbles: true }));
return new Date(local).toISOString();
"""


def _schedule_and_cancel(lang):
    w = WORDS[lang]
    st, _, c = api("POST", "/v1/customers", {"firstName": "Ola", "lastName": unique("Nord"),
                                              "email": unique_email("later")})
    assert st == 201, c
    subject = unique("Påminnelse")
    with _browser("schedule-" + lang) as b:
        _sign_in(b, lang)
        _width(b, PHONE)
        _open(b, "/customers/%s" % c["id"])
        b.wait("#conv-new")
        b.find("#conv-new summary").click()
        form = b.wait("#conv-new .conv-form")
        form.find(".conv-subject").send_keys(subject)
        form.find(".conv-text").send_keys("Vi sees i morgen kl. 10.")
        assert w["later"] in form.find(".conv-later-row").text
        form.find(".conv-later").click()
        utc = b.js(LOCAL_TOMORROW, {ELEMENT: form.find(".conv-send-at").ref})
        _fits(b, "the composer with a send-later time at 390 px")
        form.find(".conv-send").click()
        item = b.wait('#messages li[data-status="SCHEDULED"]')
        assert w["scheduled"] in item.text and subject in item.text, item.text
        st, _, page = api("GET", "/v1/customers/%s/messages" % c["id"])
        m = page["messages"][0]
        assert m["status"] == "SCHEDULED" and m["subject"] == subject, m
        assert m["sendAt"] == utc, (m["sendAt"], utc)
        _fits(b, "the scheduled message at 390 px")
        _shot(b, "schedule-" + lang, "scheduled")
        button = item.find(".message-cancel")
        assert button.text == w["cancel"]
        button.click()
        b.wait('#messages li[data-status="CANCELLED"]')
        assert w["cancelled"] in b.find('#messages li[data-status="CANCELLED"]').text
        st, _, got = api("GET", "/v1/messages/" + m["id"])
        assert got["status"] == "CANCELLED", got
        _fits(b, "the cancelled message at 390 px")
        _no_js_errors(b)


def test_ui_send_later_and_cancel_in_polish_at_390_px():
    _schedule_and_cancel("pl")


def test_ui_send_later_and_cancel_in_norwegian_at_390_px():
    _schedule_and_cancel("nb")


# ---------------------------------------------------------------- the card's list
# The seed (Bulgarian help centre, the card's communication): "which messages
# were sent to the customer, and set up a message to be sent to them". Every
# message is reachable ("Load more", a page of 20 at a time), and one sent
# later turns from scheduled to sent on the open card when it goes.

LIST_WORDS = {
    "bg": {"more": "Зареждане на още", "scheduled": "Насрочено", "sent": "Изпратено"},
    "de": {"more": "Mehr laden", "scheduled": "Geplant", "sent": "Gesendet"},
}


def _every_message_and_the_scheduled_one_going(lang):
    w = LIST_WORDS[lang]
    st, _, c = api("POST", "/v1/customers", {"firstName": "Мила", "lastName": unique("Петрова"),
                                              "email": unique_email("list")})
    assert st == 201, c
    path = "/v1/customers/%s:sendMessage" % c["id"]
    for i in range(22):
        st, _, m = api("POST", path, {"subject": "Съобщение %02d" % i, "text": "Здравейте"})
        assert st == 202, m
    # Due in a few seconds: its queue row is held (below) well before then.
    due = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    st, _, later = api("POST", path, {"subject": "По-късно", "text": "Утре в 10.",
                                      "sendAt": due.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert st == 202 and later["status"] == "SCHEDULED", later
    with _browser("messages-" + lang) as b:
        # Its queue row held (no sender can claim a locked one): it stays
        # scheduled, however long the card takes to open, until let go below.
        with row_locked("notify.queue", later["id"], key="message_id"):
            _sign_in(b, lang)
            _width(b, PHONE)
            _open(b, "/customers/%s" % c["id"])
            item = b.wait('#messages li[data-id="%s"]' % later["id"])
            assert w["scheduled"] in item.text, item.text
            b.wait_until(lambda: len(b.find_all("#messages li.message")) == 20, what="the first page")
            more = b.wait("#messages-more")
            assert more.text == w["more"], more.text
            _fits(b, "the messages with Load more at 390 px")
            more.click()
            b.wait_until(lambda: len(b.find_all("#messages li.message")) == 23, what="every message")
            b.wait_until(lambda: not b.find("#messages-more").displayed(), what="no more to load")
            subjects = [e.find(".message-what").text for e in b.find_all("#messages li.message")]
            assert any("Съобщение 00" in s for s in subjects), subjects
        # The scheduled one goes while the card is open; the list shows it sent.
        sent = b.wait('#messages li[data-id="%s"][data-status="SENT"]' % later["id"], timeout=40)
        assert w["sent"] in sent.text, sent.text
        assert len(b.find_all("#messages li.message")) == 23
        _fits(b, "the messages after it went at 390 px")
        _shot(b, "messages-" + lang, "all")
        _no_js_errors(b)


def test_ui_every_message_listed_and_a_scheduled_one_goes_in_bulgarian_at_390_px():
    _every_message_and_the_scheduled_one_going("bg")


def test_ui_every_message_listed_and_a_scheduled_one_goes_in_german_at_390_px():
    _every_message_and_the_scheduled_one_going("de")
