"""The kept customer's card after a merge in the browser (headless Chromium at
390 px), in Polish and in Bulgarian: the timeline shows the duplicate's
history (its note and its booking) and the line "merged with <name>" in the
user's language, and the page never gets wider than the phone."""

import crm
from crm import api, unique, unique_email
from test_ui import _browser, _no_js_errors, _open
from test_ui_seeds import PHONE, _fits, _shot, _sign_in, _width, _word

MERGED = {"pl": "Scalono z {name}", "bg": "Обединен с {name}"}


def _card_after_merge(lang):
    last = _word("Nowak")
    st, _, keep = api("POST", "/v1/customers", {"firstName": "Ewa", "lastName": last,
                                                "email": unique_email("ewa")})
    assert st == 201, keep
    person = {"externalId": unique("bk"), "firstName": "Ewka", "lastName": last,
              "email": unique_email("ewka")}
    service = _word("Facial")
    st, _, js = api("POST", "/v1/events", {
        "source": "booking", "eventId": unique("ev"), "type": "booking.created",
        "occurredAt": "2025-04-01T09:00:00Z", "customer": person,
        "booking": {"id": unique("b"), "service": service, "startsAt": "2025-04-10T10:00:00Z"}})
    assert st == 202, js
    dup = js["customerId"]
    note = _word("Allergy")
    assert api("POST", "/v1/customers/%s/notes" % dup, {"body": note})[0] == 201
    st, _, js = api("POST", "/v1/customers/%s:merge" % keep["id"], {"duplicateId": dup})
    assert st == 200, js
    crm.wait_until(lambda: "customer.merged" in [e["type"] for e in api(
        "GET", "/v1/customers/%s/timeline" % keep["id"])[2].get("entries", [])],
        timeout=20, what="notes applied the merge")
    line = MERGED[lang].format(name="Ewka " + last)
    with _browser("merge-history-" + lang) as b:
        _sign_in(b, lang)
        _width(b, PHONE)
        _open(b, "/customers/%s" % keep["id"])
        b.wait_until(lambda: line in b.find("#timeline").text, what="the merged-with line")
        text = b.find("#timeline").text
        assert note in text and service in text, text
        _fits(b, "the card after the merge at 390 px")
        _shot(b, "merge-history-" + lang, "timeline")
        _no_js_errors(b)


def test_ui_merged_history_in_polish_at_390_px():
    _card_after_merge("pl")


def test_ui_merged_history_in_bulgarian_at_390_px():
    _card_after_merge("bg")
