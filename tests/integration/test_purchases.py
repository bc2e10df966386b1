"""Purchases on the customer card: the customer's orders, and staff returns
and cancellations (whole, items, amount; never more than was paid, even for
20 returns at once; idempotent; published on the notes stream; to the
wallet; the store's later refund taken once) (docs/visits.md)."""
import contextlib
import json
import os
import signal
import threading

import crm
from crm import api, q, unique, unique_email, wait_until
from test_visits import _fields, _key, _reasons, _tenant


KEY = None


def _k():
    global KEY
    if KEY is None:
        KEY = _key(_tenant())
    return KEY


ITEMS = [{"name": "Cream", "quantity": 3, "amountMinor": "3000", "sku": "CR-1"},
         {"name": "Brush", "quantity": 1, "amountMinor": "1000"}]


def _order(paid=True, currency="PLN", items=ITEMS, total=4000, person=None, key=None):
    """An order of a new store customer; (customer id, order id)."""
    key = key or _k()
    person = person or {"externalId": unique("c"), "firstName": "Olga",
                        "lastName": unique("Nowak"), "email": unique_email("olga")}
    oid = unique("or")
    order = {"id": oid, "total": {"amountMinor": str(total), "currency": currency},
             "items": items}
    cid = None
    for t, at in [("order.placed", "2026-11-20T10:00:00Z"), ("order.paid", "2026-11-20T10:05:00Z")]:
        if t == "order.paid" and not paid:
            break
        st, _, js = api("POST", "/v1/events", {"source": "store", "eventId": unique("ev"),
                                               "type": t, "occurredAt": at, "customer": person,
                                               "order": order}, key=key)
        assert st == 202, js
        cid = js["customerId"]
    return cid, oid


def _action(cid, oid, verb, body, key=None, headers=None):
    return api("POST", "/v1/customers/%s/purchases/%s:%s" % (cid, oid, verb), body,
               key=key or _k(), headers=headers)


def _purchase(cid, oid, key=None):
    st, _, js = api("GET", "/v1/customers/%s/purchases" % cid, key=key or _k())
    assert st == 200, js
    return next(p for p in js["purchases"] if p["id"] == oid)


def _spent(cid, currency="PLN", key=None):
    st, _, s = api("GET", "/v1/customers/%s/summary" % cid, key=key or _k())
    assert st == 200, s
    return int(next((m["amountMinor"] for m in s.get("totalSpent", [])
                     if m["currency"] == currency), 0))


def test_list_newest_first_with_items_and_paging():
    person = {"externalId": unique("c"), "firstName": "Olga", "lastName": unique("List")}
    cid, first = _order(person=person)
    _, second = _order(paid=False, person=person)
    st, _, js = api("GET", "/v1/customers/%s/purchases" % cid, key=_k())
    assert st == 200, js
    assert [p["id"] for p in js["purchases"]] == [second, first] or \
        [p["id"] for p in js["purchases"]] == [first, second]
    p = next(p for p in js["purchases"] if p["id"] == first)
    assert p["status"] == "PAID" and p["total"] == {"amountMinor": "4000", "currency": "PLN"}
    assert p["paidMinor"] == "4000" and p.get("refundedMinor", "0") == "0"
    assert [i["name"] for i in p["items"]] == ["Cream", "Brush"] and p["source"] == "store"
    st, _, page = api("GET", q("/v1/customers/%s/purchases" % cid, pageSize=1), key=_k())
    assert st == 200 and len(page["purchases"]) == 1 and page["nextPageToken"]
    st, _, page2 = api("GET", q("/v1/customers/%s/purchases" % cid, pageSize=1,
                                pageToken=page["nextPageToken"]), key=_k())
    assert st == 200 and len(page2["purchases"]) == 1 and not page2.get("nextPageToken")
    assert page2["purchases"][0]["id"] != page["purchases"][0]["id"]


def test_cancel_placed_and_paid_then_refused():
    cid, oid = _order(paid=False)
    st, _, r = _action(cid, oid, "cancel", {"reason": "Customer changed her mind"})
    assert st == 200, r
    assert r["purchase"]["status"] == "CANCELLED" and r["reference"].startswith("purchase.cancelled:")
    st, _, err = _action(cid, oid, "cancel", {})
    assert st == 412, err
    st, _, err = _action(cid, oid, "return", {"whole": True})
    assert st == 412, err
    cid2, oid2 = _order()
    st, _, r = _action(cid2, oid2, "cancel", {})
    assert st == 200 and r["purchase"]["status"] == "CANCELLED", r
    # On the timeline, as staff did it.
    st, _, tl = api("GET", q("/v1/customers/%s/timeline" % cid, kind="ORDER"), key=_k())
    row = tl["entries"][0]
    assert row["type"] == "purchase.cancelled" and row["actor"], row
    assert row["purchase"]["reason"] == "Customer changed her mind"
    assert row["order"]["id"] == oid


def test_whole_and_partial_returns_and_figures():
    cid, oid = _order()
    assert _spent(cid) == 4000
    # One cream of three: a third of its line.
    st, _, r = _action(cid, oid, "return", {"items": [{"index": 0, "quantity": 1}],
                                            "reason": "Damaged"})
    assert st == 200, r
    assert r["amount"] == {"amountMinor": "1000", "currency": "PLN"}
    assert r["purchase"]["status"] == "PARTIALLY_REFUNDED"
    assert r["purchase"]["refundedMinor"] == "1000"
    assert r["purchase"]["returnedQuantities"] == [1, 0]
    assert _spent(cid) == 3000
    # Three more creams than are left: named.
    st, _, err = _action(cid, oid, "return", {"items": [{"index": 0, "quantity": 3}]})
    assert st == 400 and _fields(err) == ["items[0].quantity"], err
    # An amount above what is left: refused, nothing changed.
    st, _, err = _action(cid, oid, "return", {"amountMinor": "3001"})
    assert st == 400 and _reasons(err) == {"amountMinor": "OVER_REFUND"}, err
    assert _purchase(cid, oid)["refundedMinor"] == "1000"
    # The whole of what is left.
    st, _, r = _action(cid, oid, "return", {"whole": True})
    assert st == 200 and r["amount"]["amountMinor"] == "3000", r
    assert r["purchase"]["status"] == "REFUNDED" and r["purchase"]["refundedMinor"] == "4000"
    assert _spent(cid) == 0
    st, _, err = _action(cid, oid, "return", {"amountMinor": "1"})
    assert st == 412, err
    # A placed order not paid has nothing to return.
    cid2, oid2 = _order(paid=False)
    st, _, err = _action(cid2, oid2, "return", {"whole": True})
    assert st == 412, err
    st, _, tl = api("GET", q("/v1/customers/%s/timeline" % cid, kind="ORDER"), key=_k())
    returns = [e for e in tl["entries"] if e["type"] == "purchase.returned"]
    assert len(returns) == 2 and all(e["actor"] for e in returns)
    assert returns[1]["purchase"]["reason"] == "Damaged"
    assert returns[1]["order"]["refund"]["amountMinor"] == "1000"


def test_bad_requests_name_fields():
    cid, oid = _order()
    cases = [({}, "whole"),
             ({"whole": True, "amountMinor": "5"}, "whole"),
             ({"amountMinor": "-5"}, "amountMinor"),
             ({"items": [{"index": 9, "quantity": 1}]}, "items[0].index"),
             ({"items": [{"index": 1, "quantity": 0}]}, "items[0].quantity"),
             ({"items": [{"index": 1, "quantity": 1}, {"index": 1, "quantity": 1}]},
              "items[1].index"),
             ({"whole": True, "reason": "r" * 501}, "reason"),
             ({"whole": True, "reason": "bad\x07"}, "reason")]
    for body, field in cases:
        st, _, err = _action(cid, oid, "return", body)
        assert st == 400 and field in _fields(err), (body, err)
    st, _, err = _action(cid, oid, "cancel", {"reason": "r" * 501})
    assert st == 400 and _fields(err) == ["reason"], err
    # 500 characters are fine.
    st, _, r = _action(cid, oid, "return", {"amountMinor": "1", "reason": "r" * 500})
    assert st == 200, r
    assert _purchase(cid, oid)["refundedMinor"] == "1"
    # Unknown order, customer or another customer's order: 404.
    other, _ = _order()
    for c, o in [(cid, "nope-" + unique("o")), (other, oid), ("x", oid)]:
        st, _, err = _action(c, o, "return", {"whole": True})
        assert st == 404, (c, o, err)
        st, _, err = _action(c, o, "cancel", {})
        assert st == 404, (c, o, err)


def test_twenty_concurrent_returns_never_over_refund():
    cid, oid = _order()
    results = []

    def ret():
        st, _, js = _action(cid, oid, "return", {"amountMinor": "300"})
        results.append(st)

    threads = [threading.Thread(target=ret) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 4000 paid: thirteen returns of 300 fit, the rest are refused.
    assert results.count(200) == 13, results
    assert all(s in (400, 412) for s in results if s != 200), results
    p = _purchase(cid, oid)
    assert p["refundedMinor"] == "3900" and p["status"] == "PARTIALLY_REFUNDED", p
    assert _spent(cid) == 100


def test_idempotency_key():
    cid, oid = _order()
    h = {"Idempotency-Key": unique("idem")}
    st, _, first = _action(cid, oid, "return", {"amountMinor": "500"}, headers=h)
    assert st == 200, first
    st, _, again = _action(cid, oid, "return", {"amountMinor": "500"}, headers=h)
    assert st == 200 and again["actionId"] == first["actionId"], again
    assert _purchase(cid, oid)["refundedMinor"] == "500"
    # Another body under the same key is refused.
    st, _, err = _action(cid, oid, "return", {"amountMinor": "600"}, headers=h)
    assert st == 400, err


def test_published_on_the_notes_stream():
    cid, oid = _order()
    st, _, r = _action(cid, oid, "return", {"items": [{"index": 1, "quantity": 1}],
                                            "reason": "Too small"})
    assert st == 200, r
    cid2, oid2 = _order(paid=False)
    st, _, c = _action(cid2, oid2, "cancel", {"reason": "Out of stock"})
    assert st == 200, c

    def seen():
        out = crm.crmctl(["events", "--stream", "notes", "--from", "0", "--idle-exit-ms", "1000"],
                         timeout=60)
        evs = [json.loads(line) for line in out.splitlines()]
        return {e["purchase"]["orderId"]: e for e in evs
                if e.get("purchase", {}).get("orderId") in (oid, oid2)} or None

    evs = wait_until(lambda: (lambda s: s if s and len(s) == 2 else None)(seen()), timeout=20,
                     what="both events on the notes stream")
    ret, can = evs[oid], evs[oid2]
    assert ret["type"] == "purchase.returned" and ret["stream"] == "notes"
    assert ret["purchase"]["source"] == "store" and ret["purchase"]["reference"] == r["reference"]
    assert ret["purchase"]["amount"] == {"amountMinor": "1000", "currency": "PLN"}
    assert ret["purchase"]["items"] == [{"index": 1, "quantity": 1}]
    assert ret["purchase"]["reason"] == "Too small" and ret["purchase"]["doneBy"]
    assert ret["purchase"]["status"] == "PARTIALLY_REFUNDED"
    assert can["type"] == "purchase.cancelled" and can["purchase"]["status"] == "CANCELLED"
    assert can["purchase"]["customerId"] == cid2


def test_refund_to_balance():
    key = _key(_tenant())
    cid, oid = _order(key=key)
    st, _, w = api("GET", "/v1/customers/%s/wallet" % cid, key=key)
    assert st == 200 and w["currency"] == "PLN", w
    before = int(w.get("money", "0"))
    st, _, r = _action(cid, oid, "return", {"amountMinor": "1500", "refundToBalance": True,
                                            "reason": "Store credit"}, key=key)
    assert st == 200, r
    assert r["walletEntry"]["amount"] == "1500" and r["walletEntry"]["reference"] == r["reference"]
    assert r["walletEntry"]["balanceAfter"] == str(before + 1500)
    assert r["walletCredit"] == "DONE" and not r.get("walletCreditError"), r
    st, _, w = api("GET", "/v1/customers/%s/wallet" % cid, key=key)
    assert int(w["money"]) == before + 1500
    assert _credit(r["actionId"]) == "DONE"
    # An order in another currency than the wallet's: 400 naming refundToBalance, nothing done.
    cid2, oid2 = _order(key=key, currency="EUR")
    st, _, err = _action(cid2, oid2, "return", {"whole": True, "refundToBalance": True}, key=key)
    assert st == 400 and _fields(err) == ["refundToBalance"], err
    p = _purchase(cid2, oid2, key=key)
    assert p.get("refundedMinor", "0") == "0" and p["status"] == "PAID"


def _credit(action_id):
    """The credit state notes keeps for a return to the balance."""
    return crm.psql("SELECT credit FROM notes.order_returns WHERE id = '%s'" % action_id).strip()


def _money(cid, key):
    st, _, w = api("GET", "/v1/customers/%s/wallet" % cid, key=key)
    assert st == 200, w
    return int(w.get("money", "0"))


def _entries_of(cid, reference, key):
    st, _, js = api("GET", "/v1/customers/%s/wallet/entries" % cid, key=key)
    assert st == 200, js
    return [e for e in js.get("entries", []) if e.get("reference") == reference]


def test_a_return_retried_under_its_key_credits_once():
    key = _key(_tenant())
    cid, oid = _order(key=key)
    before = _money(cid, key)
    h = {"Idempotency-Key": unique("idem")}
    body = {"amountMinor": "800", "refundToBalance": True}
    st, _, r1 = _action(cid, oid, "return", body, key=key, headers=h)
    assert st == 200 and r1["walletCredit"] == "DONE", r1
    st, _, r2 = _action(cid, oid, "return", body, key=key, headers=h)
    assert st == 200 and r2["walletCredit"] == "DONE", r2
    assert r2["actionId"] == r1["actionId"] and r2["walletEntry"]["id"] == r1["walletEntry"]["id"]
    assert _money(cid, key) == before + 800
    assert len(_entries_of(cid, r1["reference"], key)) == 1
    assert _purchase(cid, oid, key=key)["refundedMinor"] == "800"


@contextlib.contextmanager
def _customers_stopped_behind_the_order(oid, copies, start):
    """Holds the order's row while start() sends a return, waits until the
    return waits for that row (after its read of the wallet's currency), stops
    every copy of customers and lets the row go: the return then commits
    while customers cannot answer. The copies go on when the block ends."""
    try:
        with crm._held("SELECT 'locked' FROM notes.orders WHERE order_id = '%s' FOR UPDATE;"
                       % oid, "the order"):
            start()
            wait_until(lambda: crm.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%notes.orders%'").strip() != "0", 30,
                what="the return waiting for the order")
            for pid in copies:
                os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in copies:
            os.kill(pid, signal.SIGCONT)


def test_a_credit_customers_did_not_take_is_made_when_it_is_back():
    """The return commits before its credit: with customers stopped between
    the two (the return waits for the order's row while every copy of
    customers is stopped), the return is answered with its credit PENDING;
    once customers is back, notes' credit worker makes it, once."""
    key = _key(_tenant())
    cid, oid = _order(key=key)
    before = _money(cid, key)
    copies = wait_until(lambda: crm.pids("customers"), 10)
    result = {}

    def give_back():
        result["r"] = _action(cid, oid, "return", {"amountMinor": "700", "refundToBalance": True,
                                                   "reason": "Later"}, key=key)

    t = threading.Thread(target=give_back)
    with _customers_stopped_behind_the_order(oid, copies, t.start):
        t.join(60)
        st, _, r = result["r"]
        assert st == 200, r
        assert r["walletCredit"] == "PENDING" and not r.get("walletEntry"), r
        assert r["purchase"]["refundedMinor"] == "700"
        assert _credit(r["actionId"]) == "PENDING"
    wait_until(lambda: _credit(r["actionId"]) == "DONE", 90, what="the credit made")
    assert _money(cid, key) == before + 700
    got = _entries_of(cid, r["reference"], key)
    assert len(got) == 1 and got[0]["amount"] == "700", got
    assert got[0]["reason"] == "Return of %s: Later" % oid, got


def test_a_credit_left_by_a_killed_notes_copy_is_made_once():
    """Every copy of notes is killed between the return's commit and its
    credit (the credit waiting on a stopped customers): the return stands
    with its credit PENDING, a retry under the same key answers the same
    return, and the credit is made once (by the retry's finish step or a
    restarted copy's credit worker, whichever comes first)."""
    key = _key(_tenant())
    cid, oid = _order(key=key)
    before = _money(cid, key)
    copies = wait_until(lambda: crm.pids("customers"), 10)
    notes = wait_until(lambda: crm.pids("notes"), 10)
    h = {"Idempotency-Key": unique("idem")}
    body = {"amountMinor": "600", "refundToBalance": True}
    result = {}

    def give_back():
        result["r"] = _action(cid, oid, "return", body, key=key, headers=h)

    def credit_of_the_order():
        return crm.psql("SELECT credit FROM notes.order_returns WHERE order_id = '%s'"
                        % oid).strip()

    t = threading.Thread(target=give_back)
    with _customers_stopped_behind_the_order(oid, copies, t.start):
        # Committed, its credit waiting on customers: notes dies now.
        wait_until(lambda: credit_of_the_order() == "PENDING", 10, what="the return committed")
        for pid in notes:
            os.kill(pid, signal.SIGKILL)
    t.join(90)
    wait_until(lambda: crm.pids("notes") and not set(crm.pids("notes")) & set(notes), 60,
               what="notes restarted")
    # Whatever the first answer was, the retry under its key is the same return.
    st, _, r = wait_until(lambda: (lambda a: a if a[0] == 200 else None)(
        _action(cid, oid, "return", body, key=key, headers=h)), 60, what="the retry answered")
    assert r["purchase"]["refundedMinor"] == "600", r
    wait_until(lambda: _credit(r["actionId"]) == "DONE", 90, what="the credit made")
    assert _money(cid, key) == before + 600
    assert len(_entries_of(cid, r["reference"], key)) == 1
    assert crm.psql("SELECT count(*) FROM notes.order_returns WHERE order_id = '%s'"
                    % oid).strip() == "1"
    wait_until(crm.stack_healthy, 60, what="the stack healthy again")


def test_later_store_refund_is_not_counted_twice():
    person = {"externalId": unique("c"), "firstName": "Olga", "lastName": unique("Later")}
    cid, oid = _order(person=person)
    st, _, r = _action(cid, oid, "return", {"amountMinor": "1000"})
    assert st == 200, r

    def store_refund(amount, reference=None):
        order = {"id": oid, "total": {"amountMinor": "4000", "currency": "PLN"},
                 "refund": {"amountMinor": str(amount), "currency": "PLN"}}
        if reference:
            order["reference"] = reference
        st, _, js = api("POST", "/v1/events", {"source": "store", "eventId": unique("ev"),
                                               "type": "order.refunded",
                                               "occurredAt": "2026-12-01T10:00:00Z",
                                               "customer": person, "order": order}, key=_k())
        assert st == 202, js

    # The store confirms the staff return, naming it: the same refund.
    store_refund(1000, r["reference"])
    p = _purchase(cid, oid)
    assert p["refundedMinor"] == "1000", p
    assert _spent(cid) == 3000
    # A refund of its own (no reference, or another amount) adds.
    store_refund(500)
    assert _purchase(cid, oid)["refundedMinor"] == "1500"
    store_refund(700, r["reference"])
    assert _purchase(cid, oid)["refundedMinor"] == "2200"
    assert _spent(cid) == 1800
    # A reference on another event type is refused.
    st, _, err = api("POST", "/v1/events", {
        "source": "store", "eventId": unique("ev"), "type": "order.paid",
        "occurredAt": "2026-12-01T10:00:00Z", "customer": person,
        "order": {"id": oid, "total": {"amountMinor": "4000", "currency": "PLN"},
                  "reference": "x"}}, key=_k())
    assert st == 400 and _fields(err) == ["order.reference"], err


def test_cross_tenant():
    cid, oid = _order()
    stranger = _key(_tenant())
    st, _, _ = api("GET", "/v1/customers/%s/purchases" % cid, key=stranger)
    assert st == 404
    for verb, body in [("cancel", {}), ("return", {"whole": True})]:
        st, _, _ = _action(cid, oid, verb, body, key=stranger)
        assert st == 404
    assert _purchase(cid, oid)["status"] == "PAID"


def test_return_over_the_bus():
    cid, oid = _order()
    r = crm.crmctl_run(["call", "notes", "ReturnPurchase",
                        json.dumps({"customerId": cid, "orderId": oid, "amountMinor": "250"}),
                        "--key", _k()])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "OK", out
    assert out["body"]["purchase"]["refundedMinor"] == "250"
