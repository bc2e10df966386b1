"""Erasure reaches the events already stored for publishing (docs/operations.md,
"Erasure"): a customer of a business with an Orders bot note, a cancelled
order with a reason, an e-mail and the customer's reply is deleted; then the
customers, notes and notify outboxes (the events readers replay) hold none of
their name, e-mail address, phone number or free text, and every event is
still there with its type and ids."""
import crm
from crm import api, psql_rows, unique, unique_email, wait_until
from test_bus_trust import _parse as _fields
from test_notify import _parse, _phone, _received
from test_orders_bot import _business, _ingest, _order, _rule, _settled
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
    _, key = _business()
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
    st, _, m = api("POST", "/v1/customers/%s:sendMessage" % cid,
                   {"subject": subject, "text": "Hallo " + first}, key=key)
    assert st == 202, m
    _wait_status_as(key, m["id"], "SENT")
    got = wait_until(lambda: _received(email), what="the e-mail")
    answer = unique("Meine neue Adresse ist Rue Merci")
    st, _, rep = _post_mail(_answer(_parse(got[-1]["data"]), answer), key=key)
    assert st == 200 and rep["reply"]["customerId"] == cid, rep
    _wait_status_as(key, m["id"], "REPLIED")

    personal = [first, last, email, phone, reason, answer, subject]
    # Before: each outbox carries some of it (the test would prove nothing otherwise).
    before = {t: len(_events(t, since)) for t in OUTBOXES}
    leaks = _leaks(since, personal)
    assert {t for t, *_ in leaks} == set(OUTBOXES), leaks
    types = {t: [(rid, typ) for rid, typ, _ in _events(t, since)] for t in OUTBOXES}

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
    # The order's and the message's ids are still there for their readers.
    notes_raw = b"".join(raw for _, _, raw in _events("notes.outbox", since))
    assert order["order"]["id"].encode() in notes_raw
    notify_raw = b"".join(raw for _, _, raw in _events("notify.outbox", since))
    assert m["id"].encode() in notify_raw and rep["reply"]["id"].encode() in notify_raw


def _wait_status_as(key, mid, status):
    def check():
        st, _, got = api("GET", "/v1/messages/" + mid, key=key)
        assert st == 200, got
        return got if got["status"] == status else None
    return wait_until(check, timeout=30, what="message %s %s" % (mid, status))
