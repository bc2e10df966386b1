"""Messages sent later (docs/notify.md, "Sending later"): SendMessage with
sendAt stores the message SCHEDULED at once; it goes at sendAt (the SMTP test
server's receive time is checked against it), can be cancelled until then,
and is checked again when it goes: a customer who withdrew consent or was
deleted meanwhile gets nothing, and the message says why."""
import datetime
import threading
import time

from crm import api, psql, unique_email, wait_until
from test_notify import _customer, _message, _phone, _received, _send, _texts, _wait_status


def _at(seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def _epoch(rfc3339):
    return datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def _cancel(mid):
    return api("POST", "/v1/messages/%s:cancel" % mid, {})


def _field(js):
    return [(d.get("field"), d.get("reason")) for d in js["error"]["details"]]


def test_scheduled_email_arrives_at_send_at_not_before():
    c = _customer()
    send_at = _at(3)
    st, _, m = _send(c["id"], {"subject": "Erinnerung", "text": "Morgen um 10.", "sendAt": send_at})
    assert st == 202, m
    assert m["status"] == "SCHEDULED" and _epoch(m["sendAt"]) == _epoch(send_at), m
    # Listed on the card with its time, and nothing sent yet.
    st, _, page = api("GET", "/v1/customers/%s/messages" % c["id"])
    assert st == 200 and page["messages"][0]["status"] == "SCHEDULED", page
    assert page["messages"][0]["sendAt"] == m["sendAt"], page
    assert _received(c["email"]) == []
    got = wait_until(lambda: _received(c["email"]), timeout=30, what="the scheduled e-mail")
    assert len(got) == 1, got
    assert got[0]["at"] >= _epoch(m["sendAt"]), (got[0]["at"], m["sendAt"])
    sent = _wait_status(m["id"], "SENT")
    assert sent["sendAt"] == m["sendAt"], sent


def test_cancelled_before_it_goes_is_never_sent():
    c = _customer()
    st, _, m = _send(c["id"], {"subject": "Später", "text": "Nie.", "sendAt": _at(2)})
    assert st == 202 and m["status"] == "SCHEDULED", m
    st, _, cm = _cancel(m["id"])
    assert st == 200 and cm["status"] == "CANCELLED" and cm["lastError"], cm
    # Again: nothing to cancel, 412 naming the state.
    st, _, js = _cancel(m["id"])
    assert st == 412 and js["error"]["status"] == "FAILED_PRECONDITION", js
    # Sent at once: not cancellable either.
    st, _, now = _send(c["id"], {"subject": "Jetzt", "text": "Sofort."})
    assert st == 202
    _wait_status(now["id"], "SENT")
    st, _, js = _cancel(now["id"])
    assert st == 412, js
    # Wait past its time (plus a sender poll) for a message sent after it:
    # then it would have gone before.
    st, _, later = _send(c["id"], {"subject": "Danach", "text": "Marker.", "sendAt": _at(3)})
    _wait_status(later["id"], "SENT", timeout=30)
    subjects = [r["data"] for r in _received(c["email"])]
    assert not any("Später" in s or "Sp=C3=A4ter" in s for s in subjects), subjects
    assert _message(m["id"])["status"] == "CANCELLED"
    st, _, js = _cancel("00000000-0000-4000-8000-000000000000")
    assert st == 404, js


def test_cancel_racing_the_sender_is_exactly_one():
    outcomes = []
    lock = threading.Lock()

    def race(cid, addr, due):
        st, _, m = _send(cid, {"subject": "Wettlauf", "text": "x", "sendAt": due})
        assert st == 202, m
        target = _epoch(m["sendAt"])
        while time.time() < target - 0.05:
            time.sleep(0.01)
        codes = []
        for _ in range(40):
            st, _, _ = _cancel(m["id"])
            codes.append(st)
            if st == 200:
                break
        final = wait_until(lambda: (lambda x: x if x["status"] in ("SENT", "CANCELLED") else None)(
            _message(m["id"])), timeout=30, what="the race's end")
        with lock:
            outcomes.append((addr, final["status"], codes))

    people = [_customer() for _ in range(6)]
    due = _at(3)
    threads = [threading.Thread(target=race, args=(p["id"], p["email"], due)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 6, outcomes
    for addr, status, codes in outcomes:
        got = _received(addr)
        if status == "CANCELLED":
            assert 200 in codes and got == [], (addr, codes, got)
        else:
            assert 200 not in codes and set(codes) == {412}, codes
            assert len(wait_until(lambda: _received(addr), what="sent")) == 1


def test_bad_send_at_is_400_naming_it():
    c = _customer()
    for value, reason in [("tomorrow", "INVALID_FORMAT"), ("2026-13-01T00:00:00Z", "INVALID_FORMAT"),
                          ("2026-12-08 09:00", "INVALID_FORMAT"), (_at(-600), "OUT_OF_RANGE"),
                          (_at(367 * 86400), "OUT_OF_RANGE")]:
        st, _, js = _send(c["id"], {"subject": "S", "text": "T", "sendAt": value})
        assert st == 400 and ("sendAt", reason) in _field(js), (value, js)
    # A few minutes back is now; 366 days ahead is fine.
    st, _, m = _send(c["id"], {"subject": "S", "text": "T", "sendAt": _at(-60)})
    assert st == 202 and m["status"] == "QUEUED" and not m.get("sendAt"), m
    st, _, m = _send(c["id"], {"subject": "S", "text": "T", "sendAt": _at(365 * 86400)})
    assert st == 202 and m["status"] == "SCHEDULED", m
    assert _cancel(m["id"])[0] == 200
    # What today's send refuses is refused at scheduling too.
    bare = _customer(email_addr=False)
    st, _, js = _send(bare["id"], {"subject": "S", "text": "T", "sendAt": _at(60)})
    assert st == 400 and ("customerId", "NO_EMAIL_ADDRESS") in _field(js), js


def test_consent_withdrawn_before_it_goes_is_not_sent():
    c = _customer(preferences={"email": {"granted": True, "source": "web"}})
    st, _, m = _send(c["id"], {"subject": "Angebot", "text": "Bis bald.", "sendAt": _at(3)})
    assert st == 202 and m["status"] == "SCHEDULED", m
    st, _, upd = api("PATCH", "/v1/customers/" + c["id"],
                     {"preferences": {"email": {"granted": False, "source": "phone"}}})
    assert st == 200, upd
    assert upd["preferences"]["email"]["granted"] is False, upd
    failed = _wait_status(m["id"], "FAILED", timeout=30)
    assert "withdrew" in failed["lastError"] and "consent" in failed["lastError"], failed
    assert _received(c["email"]) == []
    # Withdrawn before: refused at once, naming the customer.
    st, _, js = _send(c["id"], {"subject": "Noch mal", "text": "x", "sendAt": _at(60)})
    assert st == 400 and ("customerId", "CONSENT_WITHDRAWN") in _field(js), js


def test_customer_deleted_before_it_goes_is_not_sent():
    c = _customer()
    st, _, m = _send(c["id"], {"subject": "Hallo", "text": "Bis bald.", "sendAt": _at(3)})
    assert st == 202, m
    assert api("DELETE", "/v1/customers/" + c["id"])[0] in (200, 204)
    gone = _wait_status(m["id"], "CANCELLED", timeout=30)
    assert "deleted" in gone["lastError"], gone
    assert _received(c["email"]) == []


def test_scheduled_sms_goes_at_its_time():
    phone = _phone()
    c = _customer(phone=phone, email_addr=unique_email("sms"))
    st, _, m = _send(c["id"], {"channel": "SMS", "text": "Termin morgen 9:00", "sendAt": _at(3)})
    assert st == 202 and m["status"] == "SCHEDULED" and m["channel"] == "SMS", m
    assert _texts(phone) == []
    got = wait_until(lambda: _texts(phone), timeout=30, what="the scheduled SMS")
    assert len(got) == 1 and got[0]["at"] >= _epoch(m["sendAt"]), got
    _wait_status(m["id"], "SENT")


def test_scheduling_adds_nothing_to_the_timeline_until_sent():
    c = _customer()
    st, _, m = _send(c["id"], {"subject": "Zeitlinie", "text": "x", "sendAt": _at(600)})
    assert st == 202
    rows = psql("SELECT count(*) FROM notify.queue WHERE message_id = '%s' AND held" % m["id"])
    assert rows.strip() == "1", rows
    st, _, tl = api("GET", "/v1/customers/%s/timeline" % c["id"])
    assert st == 200, tl
    assert not any(m["id"] in str(e) for e in tl.get("entries", tl.get("items", []))), tl
    assert _cancel(m["id"])[0] == 200
