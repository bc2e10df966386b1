"""Messages sent later (docs/notify.md, "Sending later"): SendMessage with
sendAt stores the message SCHEDULED at once; it goes at sendAt (the SMTP test
server's receive time is checked against it), can be cancelled until then,
and is checked again when it goes: the customer as they are then decides (a
consent withdrawn now, or granted again; a changed or removed address), a
customer deleted meanwhile gets nothing, and the message says why. The
cancel-vs-release race is forced both ways with row locks."""
import datetime
import threading

from crm import api, psql, row_locked, unique_email, wait_until
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


def _waiting_on_lock(sql_start):
    """Whether a backend is waiting for a lock in a statement that starts with sql_start."""
    out = psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
               "AND query LIKE '%s%%'" % sql_start.replace("'", "''"))
    return int(out.strip()) > 0


def _cancel_blocked(mid, what):
    """Starts cancelling message mid in a thread and returns once its
    statement waits for a row lock; join() on the thread answers (status,
    headers, body)."""
    done = {}

    class Cancel(threading.Thread):
        def run(self):
            done["answer"] = _cancel(mid)

        def join(self, timeout=30):
            super().join(timeout)
            return done["answer"]
    t = Cancel()
    t.start()
    wait_until(lambda: _waiting_on_lock("WITH d AS (DELETE FROM notify.queue"), timeout=10,
               what=what)
    return t


def test_cancel_losing_to_the_release_answers_412_and_it_is_sent_once():
    """Release first: the message row is held from a psql session, so the
    release (which has already taken the queue row) waits for it; a cancel
    then waits behind the release for the queue row, and finds it released."""
    c = _customer()
    st, _, m = _send(c["id"], {"subject": "Wettlauf verloren", "text": "x", "sendAt": _at(2)})
    assert st == 202 and m["status"] == "SCHEDULED", m
    with row_locked("notify.messages", m["id"]):
        wait_until(lambda: _waiting_on_lock("WITH u AS (UPDATE notify.queue SET held = false"),
                   timeout=30, what="the release waiting for the message row")
        cancel = _cancel_blocked(m["id"], "the cancel waiting behind the release")
    st, _, js = cancel.join()
    assert st == 412 and js["error"]["status"] == "FAILED_PRECONDITION", js
    assert "not scheduled any more" in js["error"]["message"], js
    _wait_status(m["id"], "SENT", timeout=30)
    assert len(wait_until(lambda: _received(c["email"]), what="the e-mail")) == 1


def test_cancel_winning_at_the_due_time_means_never_sent():
    """Cancel first: the due queue row is held from a psql session, so no
    copy can claim it (SKIP LOCKED); the cancel waits for it and deletes it."""
    c = _customer()
    st, _, m = _send(c["id"], {"subject": "Wettlauf gewonnen", "text": "x", "sendAt": _at(2)})
    assert st == 202 and m["status"] == "SCHEDULED", m
    with row_locked("notify.queue", m["id"], key="message_id"):
        wait_until(lambda: psql("SELECT due_at <= now() FROM notify.queue WHERE message_id = "
                                "'%s'" % m["id"]).strip() == "t", timeout=30, what="due")
        cancel = _cancel_blocked(m["id"], "the cancel waiting for the queue row")
    st, _, cm = cancel.join()
    assert st == 200 and cm["status"] == "CANCELLED", cm
    assert psql("SELECT count(*) FROM notify.queue WHERE message_id = '%s'" % m["id"]).strip() == "0"
    # A message sent after it goes; the cancelled one never does.
    st, _, marker = _send(c["id"], {"subject": "Danach", "text": "Marker."})
    _wait_status(marker["id"], "SENT")
    assert len(_received(c["email"])) == 1
    assert _message(m["id"])["status"] == "CANCELLED"


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


def test_consent_withdrawn_then_granted_again_is_sent():
    c = _customer(preferences={"email": {"granted": True, "source": "web"}})
    st, _, m = _send(c["id"], {"subject": "Doch", "text": "Bis bald.", "sendAt": _at(3)})
    assert st == 202 and m["status"] == "SCHEDULED", m
    for granted in (False, True):
        st, _, upd = api("PATCH", "/v1/customers/" + c["id"],
                         {"preferences": {"email": {"granted": granted, "source": "phone"}}})
        assert st == 200 and upd["preferences"]["email"]["granted"] is granted, upd
    sent = _wait_status(m["id"], "SENT", timeout=30)
    assert sent["to"] == c["email"], sent
    assert len(wait_until(lambda: _received(c["email"]), what="the e-mail")) == 1


def test_changed_address_gets_it_and_the_message_says_so():
    c = _customer()
    st, _, m = _send(c["id"], {"subject": "Umgezogen", "text": "Neue Adresse.", "sendAt": _at(3)})
    assert st == 202 and m["to"] == c["email"], m
    new = unique_email("moved")
    st, _, upd = api("PATCH", "/v1/customers/" + c["id"], {"email": new, "firstName": "Jörg"})
    assert st == 200, upd
    sent = _wait_status(m["id"], "SENT", timeout=30)
    assert sent["to"] == new and sent["toName"] == "Jörg Groß", sent
    got = wait_until(lambda: _received(new), what="the e-mail at the new address")
    assert len(got) == 1 and got[0]["to"] == [new], got
    assert _received(c["email"]) == []


def test_removed_address_fails_naming_it():
    c = _customer()
    st, _, m = _send(c["id"], {"subject": "Weg", "text": "x", "sendAt": _at(3)})
    assert st == 202, m
    st, _, upd = api("PATCH", "/v1/customers/" + c["id"], {"email": None})
    assert st == 200 and not upd.get("email"), upd
    failed = _wait_status(m["id"], "FAILED", timeout=30)
    assert "no e-mail address" in failed["lastError"] and failed["permanent"], failed
    assert failed["to"] == c["email"], failed  # where it would have gone
    assert _received(c["email"]) == []


def test_changed_number_gets_the_sms():
    old, new = _phone(), _phone()
    c = _customer(phone=old)
    st, _, m = _send(c["id"], {"channel": "SMS", "text": "Termin 9:00", "sendAt": _at(3)})
    assert st == 202 and m["to"] == old, m
    assert api("PATCH", "/v1/customers/" + c["id"], {"phone": new})[0] == 200
    sent = _wait_status(m["id"], "SENT", timeout=30)
    assert sent["to"] == new, sent
    assert len(wait_until(lambda: _texts(new), what="the SMS at the new number")) == 1
    assert _texts(old) == []
    st, _, upd = api("PATCH", "/v1/customers/" + c["id"], {"phone": None})
    st, _, m2 = _send(c["id"], {"channel": "SMS", "text": "Noch eins", "sendAt": _at(60)})
    assert st == 400, m2  # no number now: refused at once


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
    # Once notes has applied every notify event up to the scheduling's own
    # (message.queued), the timeline has nothing of the message.
    def applied():
        seq = psql("SELECT coalesce(max(seq), 0) FROM notify.outbox WHERE seq IS NOT NULL "
                   "AND position(convert_to('%s', 'UTF8') IN event) > 0" % m["id"]).strip()
        cur = psql("SELECT last_seq FROM notes.stream_cursor WHERE stream = 'notify'").strip()
        return int(seq) > 0 and int(cur) >= int(seq)
    wait_until(applied, 20, what="notes to apply the scheduling's event")
    st, _, tl = api("GET", "/v1/customers/%s/timeline" % c["id"])
    assert st == 200, tl
    assert not any(m["id"] in str(e) for e in tl.get("entries", tl.get("items", []))), tl
    assert _cancel(m["id"])[0] == 200
