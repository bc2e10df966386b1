"""Erasure reaches the events already stored for publishing (docs/operations.md,
"Erasure"): a customer of a business with an Orders bot note, a cancelled
order with a reason, an e-mail, the customer's reply and a message scheduled
for later is deleted; then the customers, notes and notify outboxes (the
events readers replay) hold none of their name, e-mail address, phone number
or free text, and every event is still there with its type and ids; notify's
messages and replies and the timeline's message entries keep their fate, not
their words; the scheduled message is cancelled. Her sign-in account,
registration and set-password links go too: no table of notify or notes holds
any of it, and she can neither sign in nor set a password. A message event
notes applies after the deletion (notify had not erased yet) reaches her
timeline without its words."""
import contextlib
import datetime

import crm
from crm import api, psql, psql_rows, unique, unique_email, wait_until
from test_bus_trust import _parse as _fields
from test_notify import _link_of, _parse, _phone, _public, _received
from test_orders_bot import _business, _ingest, _order, _rule, _settled
from test_registration import _register, _token
from test_replies import _answer, _post_mail

OUTBOXES = ("customers.outbox", "notes.outbox", "notify.outbox")


def _events(table, since):
    """The outbox's events written since (a psql now()): (id, type, bytes)."""
    rows = psql_rows("SELECT id, encode(event, 'hex') FROM %s WHERE created_at >= '%s' "
                     "ORDER BY id" % (table, since))
    out = []
    for rid, hexed in rows:
        raw = bytes.fromhex(hexed)
        out.append((rid, _type_of(raw), raw))
    return out


def _type_of(raw):
    """A stored crm.Event's type (field 4)."""
    return _fields(raw).get(4, [b""])[-1].decode(errors="replace")


def _leaks(since, personal):
    """Each outbox's events that still carry one of the personal strings."""
    found = []
    for table in OUTBOXES:
        for rid, typ, raw in _events(since=since, table=table):
            for s in personal:
                if s.encode() in raw:
                    found.append((table, rid, typ, s))
    return found


def test_erasing_a_customer_scrubs_their_stored_events_in_every_outbox():
    since = crm.psql("SELECT now()").strip()
    tenant, key = _business()
    rule = _rule(key, {"actions": [{"kind": "RULE_ACTION_ORDER_NOTE",
                                    "text": "Geschenk für {{fullName}}"}]})
    first, last = unique("Bożena"), unique("Wróbel")
    email, phone = unique_email("erase"), _phone()
    person = {"externalId": unique("c"), "firstName": first, "lastName": last,
              "email": email, "phone": phone}
    order = _order(person, 9900)
    cid = _ingest(key, order)
    _settled(key, rule["id"], 1)
    # A cancellation with a reason staff typed about her.
    reason = unique("zieht nach Lyon")
    st, _, r = api("POST", "/v1/customers/%s/purchases/%s:cancel" % (cid, order["order"]["id"]),
                   {"reason": reason}, key=key)
    assert st == 200, r
    # An e-mail to her, and her answer.
    subject = "Termin für " + first
    m, got = _emailed(key, cid, email, subject, "Hallo " + first)
    answer = unique("Meine neue Adresse ist Rue Merci")
    st, _, rep = _post_mail(_answer(_parse(got[-1]["data"]), answer), key=key)
    assert st == 200 and rep["reply"]["customerId"] == cid, rep
    _wait_status_as(key, m["id"], "REPLIED")

    # On her timeline (notes follows the notify stream), and one more sent later.
    wait_until(lambda: any(e["type"] == "message.replied" for e in api(
        "GET", "/v1/customers/%s/timeline?kind=MESSAGE" % cid, key=key)[2].get("entries", [])),
        timeout=30, what="the reply on the timeline")
    st, _, later = api("POST", "/v1/customers/%s:sendMessage" % cid,
                       {"subject": subject, "text": "Bis morgen, " + first,
                        "sendAt": _days_ahead(30)}, key=key)
    assert st == 202 and later["status"] == "SCHEDULED", later

    # Her sign-in account: she registers at the business's page (she is found
    # by her address), sets her password, signs in, mistypes it once, and has
    # an unused set-password link.
    password = "Zielona łąka 2026"
    st, _, js = api("PUT", "/v1/notifySettings", {"selfRegistration": True}, key=key)
    assert st == 200, js
    st, _, js = _register(tenant, email, firstName=first, lastName=last)
    assert st == 202, js
    st, _, js = _public("/v1/passwordLinks:setPassword",
                        {"token": _token(_parse(_mail_n(email, 2)["data"])), "password": password})
    assert st == 200 and js["activated"] is True, js
    st, _, js = api("POST", "/v1/customers:signIn", {"email": email, "password": password},
                    key=key)
    assert st == 200 and js["customerId"] == cid, js
    st, _, js = api("POST", "/v1/customers:signIn", {"email": email, "password": "not hers 123"},
                    key=key)
    assert st == 401, js
    st, _, js = api("POST", "/v1/customers/%s:sendPasswordLink" % cid, {}, key=key)
    assert st == 202, js
    _, unused, _ = _link_of(email, 3)
    assert _public("/v1/passwordLinks:inspect", {"token": unused})[2]["state"] == "VALID"

    personal = [first, last, email, phone, reason, answer, subject]
    assert {t.split(".")[1] for t, _ in _tables_with(personal)} >= {
        "accounts", "registrations", "sign_in_failures", "messages", "replies", "outbox",
        "timeline"}
    # Before: each outbox carries some of it (the test would prove nothing otherwise).
    before = {t: len(_events(t, since)) for t in OUTBOXES}
    leaks = _leaks(since, personal)
    assert {t for t, *_ in leaks} == set(OUTBOXES), leaks
    types = {t: [(rid, typ) for rid, typ, _ in _events(t, since)] for t in OUTBOXES}
    assert {kind for kind, _ in _rows_with(cid, personal)} == {"message", "reply", "timeline"}

    st, _, js = api("DELETE", "/v1/customers/" + cid, key=key)
    assert st == 204, js
    # customers rewrites at once; notes and notify when they apply customer.deleted.
    wait_until(lambda: not _leaks(since, personal), timeout=30,
               what="no personal data left in the outboxes")
    # Nothing was deleted: the same events with the same types and ids, in
    # order (plus what was written since, customer.deleted among them).
    for t in OUTBOXES:
        now = [(rid, typ) for rid, typ, _ in _events(t, since)]
        assert now[:before[t]] == types[t], (t, now, types[t])
    # What notify and notes keep of her messages: their fate, not their words;
    # the one not sent yet never goes.
    wait_until(lambda: not _rows_with(cid, personal), timeout=30,
               what="no personal data left in messages, replies and the timeline")
    for mid, status in ((m["id"], "REPLIED"), (later["id"], "CANCELLED")):
        got = _wait_status_as(key, mid, status)
        assert got["to"] == "" and got.get("subject", "") == "" and got.get("text", "") == "", got
    assert "deleted" in _wait_status_as(key, later["id"], "CANCELLED")["lastError"]
    assert psql_rows("SELECT count(*) FROM notify.queue WHERE message_id = '%s'"
                     % later["id"]) == [("0",)]
    assert psql_rows("SELECT length(raw) FROM notify.replies WHERE customer_id = '%s'"
                     % cid) == [("0",)]
    # The order's and the message's ids are still there for their readers.
    notes_raw = b"".join(raw for _, _, raw in _events("notes.outbox", since))
    assert order["order"]["id"].encode() in notes_raw
    notify_raw = b"".join(raw for _, _, raw in _events("notify.outbox", since))
    assert m["id"].encode() in notify_raw and rep["reply"]["id"].encode() in notify_raw
    # No table of notify or notes holds any of it, in text or in bytes.
    _wait_none_left(personal)
    # Her account is gone: she cannot sign in, and her link sets no password
    # and brings no new one.
    st, _, js = api("POST", "/v1/customers:signIn", {"email": email, "password": password},
                    key=key)
    assert st == 401, js
    assert _public("/v1/passwordLinks:inspect", {"token": unused})[2]["state"] == "UNKNOWN"
    st, _, js = _public("/v1/passwordLinks:setPassword", {"token": unused, "password": password})
    assert st == 400 and js["error"]["details"][0]["reason"] == "UNKNOWN", js
    links = _count("notify.messages WHERE tenant_id = '%s' AND kind = 'password_link'" % tenant)
    st, _, js = _public("/v1/passwordLinks:renew", {"token": unused})
    assert st == 200, js
    assert _count("notify.messages WHERE tenant_id = '%s' AND kind = 'password_link'"
                  % tenant) == links
    st, _, js = api("POST", "/v1/customers/%s:sendPasswordLink" % cid, {}, key=key)
    assert st == 404, js
    assert _count("notify.accounts WHERE customer_id = '%s'" % cid) == 0
    assert _count("notify.password_links WHERE customer_id = '%s'" % cid) == 0


def test_a_message_event_notes_applies_after_the_deletion_keeps_only_its_fate():
    """The streams are independent: notify, not yet erasing (its follower of
    the customers stream held back), takes her reply after notes has applied
    her deletion; the message.replied event it publishes still carries her
    words, and notes puts it on her timeline without them."""
    _, key = _business()
    first, last, email = unique("Halina"), unique("Zając"), unique_email("late")
    st, _, c = api("POST", "/v1/customers", {"firstName": first, "lastName": last,
                                             "email": email}, key=key)
    assert st == 201, c
    cid = c["id"]
    subject = "Rechnung für " + first
    _, got = _emailed(key, cid, email, subject, "Hallo " + first)
    wait_until(lambda: _timeline_messages(cid), timeout=30, what="the message on the timeline")
    answer = unique("Bitte an Rue Merci schicken")
    personal = [first, last, email, subject, answer]

    with _notify_not_following():
        st, _, js = api("DELETE", "/v1/customers/" + cid, key=key)
        assert st == 204, js
        wait_until(lambda: _count("notes.timeline WHERE customer_id = '%s' AND type = "
                                  "'customer.deleted'" % cid) == 1,
                   timeout=30, what="notes to apply customer.deleted")
        st, _, rep = _post_mail(_answer(_parse(got[-1]["data"]), answer), key=key)
        assert st == 200 and rep["reply"]["customerId"] == cid, rep
        replied = wait_until(lambda: [t for t, _ in _timeline_messages(cid)
                                      if t == "message.replied"],
                             timeout=30, what="the reply on the timeline")
        assert replied
        # The order was forced: the event notes applied carried her words.
        assert [t for t, _ in _tables_with([answer, subject])
                if t == "notify.outbox"], "notify erased before notes applied the event"
        for typ, details in _timeline_messages(cid):
            assert not [s for s in personal if s in details], (typ, details)
    # notify follows again and erases her reply with the rest.
    _wait_none_left(personal)


@contextlib.contextmanager
def _notify_not_following():
    """notify runs but does not follow the customers stream (so it erases
    nothing) until the block ends: the test holds its follower's lock."""
    crm.ctl(["stop", "notify:*"], check=True)
    try:
        with crm.advisory_locked("notify.stream_cursor"):
            crm.ctl(["start", "notify:*"], check=True)
            wait_until(lambda: crm.pids("notify"), timeout=60, what="notify to start")
            crm.wait_ready()
            yield
    finally:
        crm.ctl(["start", "notify:*"])
        crm.wait_ready()


def _timeline_messages(cid):
    """The customer's MESSAGE timeline rows: (type, details as text)."""
    return psql_rows("SELECT type, details::text FROM notes.timeline "
                     "WHERE customer_id = '%s' AND kind = 'MESSAGE'" % cid)


def _count(where):
    return int(psql("SELECT count(*) FROM " + where).strip())


def _mail_n(addr, n):
    """The n-th e-mail to addr at the test's SMTP server (waits for it)."""
    return wait_until(lambda: (lambda r: r[n - 1] if len(r) >= n else None)(_received(addr)),
                      timeout=20, what="e-mail %d to %s" % (n, addr))


def _wait_none_left(personal):
    """Waits until no table of notify or notes holds any of the strings; says
    which still do when it times out."""
    try:
        wait_until(lambda: not _tables_with(personal), timeout=30,
                   what="no personal data left in any notify or notes table")
    except AssertionError:
        left = _tables_with(personal)
        assert not left, left
        raise


def _tables_with(personal):
    """(table, string) for every table of the notify and notes schemas with a
    row that holds one of the strings, as text or as UTF-8 bytes (a bytea
    column shows as hex)."""
    tables = [r[0] for r in psql_rows(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN ('notify', 'notes') AND table_type = 'BASE TABLE' ORDER BY 1")]
    needles = []
    for s in personal:
        needles += [s.replace("'", "''"), s.encode().hex()]
    cond = " OR ".join("strpos(t::text, '%s') > 0" % n for n in needles)
    rows = psql_rows(" UNION ALL ".join("SELECT '%s', t::text FROM %s t WHERE %s" % (tb, tb, cond)
                                        for tb in tables))
    return sorted({(tb, s) for tb, text in rows for s in personal
                   if s in text or s.encode().hex() in text})


def _emailed(key, cid, addr, subject, text):
    """An e-mail to the customer, sent and received at addr: (the message, the
    e-mails addr has received)."""
    st, _, m = api("POST", "/v1/customers/%s:sendMessage" % cid,
                   {"subject": subject, "text": text}, key=key)
    assert st == 202, m
    _wait_status_as(key, m["id"], "SENT")
    return m, wait_until(lambda: _received(addr), what="the e-mail")


def _days_ahead(n):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=n)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rows_with(cid, personal):
    """The customer's rows of notify.messages, notify.replies and notes.timeline
    (as text, the reply's raw message included) that carry one of the strings."""
    rows = psql_rows(
        "SELECT 'message', m::text FROM notify.messages m WHERE customer_id = '%s' "
        "UNION ALL SELECT 'reply', r::text || convert_from(r.raw, 'UTF8') "
        "  FROM notify.replies r WHERE customer_id = '%s' "
        "UNION ALL SELECT 'timeline', t.details::text FROM notes.timeline t "
        "  WHERE customer_id = '%s' AND kind = 'MESSAGE'" % (cid, cid, cid))
    return [(kind, s) for kind, text in rows for s in personal if s in text]


def _wait_status_as(key, mid, status):
    def check():
        st, _, got = api("GET", "/v1/messages/" + mid, key=key)
        assert st == 200, got
        return got if got["status"] == status else None
    return wait_until(check, timeout=30, what="message %s %s" % (mid, status))
