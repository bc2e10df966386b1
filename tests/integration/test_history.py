"""The customer's history: intake of booking and store events (HTTP and bus),
identity resolution, the timeline and the summary."""
import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid

import crm
from crm import api, q, unique, unique_email, wait_until


# ------------------------------------------------------------------ helpers


def _phone():
    """A Polish mobile number nobody else in the test data has: (E.164, spaced 00 form)."""
    digits = "6%08d" % random.randrange(10 ** 8)
    return "+48" + digits, "0048 %s %s %s" % (digits[:3], digits[3:6], digits[6:])


def _person(**kw):
    p = {"externalId": unique("c"), "firstName": "Anna", "lastName": unique("Nowak"),
         "email": unique_email("anna")}
    p.update(kw)
    return p


def _booking_event(person, type_, booking, at, source="booking", event_id=None):
    return {"source": source, "eventId": event_id or unique("bk"), "type": type_,
            "occurredAt": at, "customer": person, "booking": booking}


def _order_event(person, type_, order, at, source="store", event_id=None):
    return {"source": source, "eventId": event_id or unique("or"), "type": type_,
            "occurredAt": at, "customer": person, "order": order}


def _ingest(ev, status=202):
    st, _, js = api("POST", "/v1/events", ev)
    assert st == status, (st, js, ev)
    return js


def _timeline(cid, **params):
    """Every entry of a customer's timeline, following the pages."""
    out, token = [], None
    for _ in range(200):
        st, _, js = api("GET", q("/v1/customers/%s/timeline" % cid, pageToken=token, **params))
        assert st == 200, js
        out += js.get("entries", [])
        token = js.get("nextPageToken")
        if not token:
            return out
    raise AssertionError("too many pages")


def _summary(cid):
    st, _, js = api("GET", "/v1/customers/%s/summary" % cid)
    assert st == 200, js
    return js


def _types(entries):
    return [e["type"] for e in entries]


def _future(days):
    return time.strftime("%Y-%m-%dT10:00:00Z", time.gmtime(time.time() + days * 86400))


# ------------------------------------------------------------------ tests


def test_every_event_kind_into_timeline_and_summary():
    anna = _person()
    b1 = {"id": unique("b"), "service": "Haircut", "staff": "Eva",
          "startsAt": "2025-03-01T10:00:00Z", "endsAt": "2025-03-01T11:00:00Z"}
    js = _ingest(_booking_event(anna, "booking.created", b1, "2025-02-20T09:00:00Z"))
    cid = js["customerId"]
    assert js.get("duplicate", False) is False
    # The booking registered her: source BOOKING, account INVITED, the booking system's id.
    st, _, c = api("GET", "/v1/customers/" + cid)
    assert st == 200, c
    assert c["source"] == "BOOKING" and c["account"]["status"] == "INVITED", c
    assert {"system": "booking", "id": anna["externalId"]} in c["externalIds"], c
    assert c["email"] == anna["email"] and c["lastName"] == anna["lastName"]

    moved = dict(b1, startsAt="2025-03-02T10:00:00Z", endsAt="2025-03-02T11:00:00Z")
    _ingest(_booking_event(anna, "booking.moved", moved, "2025-02-21T09:00:00Z"))
    _ingest(_booking_event(anna, "booking.attended", moved, "2025-03-02T11:00:00Z"))
    b2 = {"id": unique("b"), "service": "Colour", "staff": "Eva", "startsAt": "2025-04-01T10:00:00Z"}
    _ingest(_booking_event(anna, "booking.created", b2, "2025-03-10T09:00:00Z"))
    _ingest(_booking_event(anna, "booking.no_show", b2, "2025-04-01T10:30:00Z"))
    b3 = {"id": unique("b"), "service": "Haircut", "staff": "Jan", "startsAt": "2025-05-01T10:00:00Z"}
    _ingest(_booking_event(anna, "booking.created", b3, "2025-04-10T09:00:00Z"))
    _ingest(_booking_event(anna, "booking.cancelled", b3, "2025-04-11T09:00:00Z"))
    b4 = {"id": unique("b"), "service": "Haircut", "staff": "Eva", "startsAt": _future(30)}
    _ingest(_booking_event(anna, "booking.created", b4, "2025-05-01T09:00:00Z"))

    o1 = {"id": unique("o"), "total": {"amountMinor": 12900, "currency": "PLN"},
          "items": [{"name": "Shampoo", "quantity": 1, "amountMinor": 4900},
                    {"name": "Conditioner", "quantity": 2, "amountMinor": 8000}]}
    _ingest(_order_event(anna, "order.placed", o1, "2025-03-05T12:00:00Z"))
    _ingest(_order_event(anna, "order.paid", o1, "2025-03-05T12:01:00Z"))
    _ingest(_order_event(anna, "order.refunded", dict(o1, refund={"amountMinor": 4900, "currency": "PLN"}),
                         "2025-03-20T12:00:00Z"))
    o2 = {"id": unique("o"), "total": {"amountMinor": 5000, "currency": "EUR"}}
    _ingest(_order_event(anna, "order.placed", o2, "2025-04-05T12:00:00Z"))
    _ingest(_order_event(anna, "order.paid", o2, "2025-04-05T12:05:00Z"))
    o3 = {"id": unique("o"), "total": {"amountMinor": 999, "currency": "PLN"}}
    _ingest(_order_event(anna, "order.placed", o3, "2025-04-06T12:00:00Z"))
    _ingest(_order_event(anna, "order.cancelled", o3, "2025-04-06T13:00:00Z"))
    _ingest({"source": "notify", "eventId": unique("m"), "type": "message.sent",
             "occurredAt": "2025-04-07T08:00:00Z", "customer": {"externalId": anna["externalId"],
                                                               "email": anna["email"]},
             "message": {"id": unique("msg"), "channel": "email", "subject": "See you soon"}})

    # The customer stream brings customer.created (and registered) in too.
    entries = wait_until(lambda: (lambda e: e if "customer.created" in _types(e) else None)(
        _timeline(cid)), 20, what="customer.created in the timeline")
    times = [e["occurredAt"] for e in entries]
    assert times == sorted(times, reverse=True), times
    kinds = {e["kind"] for e in entries}
    assert {"BOOKING", "ORDER", "MESSAGE", "CUSTOMER"} <= kinds, kinds
    types = _types(entries)
    for t in ("booking.created", "booking.moved", "booking.attended", "booking.no_show",
              "booking.cancelled", "order.placed", "order.paid", "order.refunded",
              "order.cancelled", "message.sent", "customer.registered"):
        assert t in types, (t, types)
    attended = [e for e in entries if e["type"] == "booking.attended"][0]
    assert attended["booking"]["service"] == "Haircut" and attended["booking"]["staff"] == "Eva"
    placed = [e for e in entries if e["type"] == "order.placed" and e["order"]["id"] == o1["id"]][0]
    assert placed["order"]["total"] == {"amountMinor": "12900", "currency": "PLN"}, placed
    assert [i["name"] for i in placed["order"]["items"]] == ["Shampoo", "Conditioner"]
    # Only bookings, when asked.
    only = _timeline(cid, kind="BOOKING")
    assert only and {e["kind"] for e in only} == {"BOOKING"}
    assert len(only) == 8, _types(only)

    s = _summary(cid)
    assert s["customerId"] == cid
    assert s["bookings"] == 4 and s["cancellations"] == 1 and s["noShows"] == 1 and s["attended"] == 1, s
    assert s["lastVisitAt"].startswith("2025-03-02T10:00:00"), s
    assert s["firstBookingAt"].startswith("2025-02-20T09:00:00"), s
    assert s["firstOrderAt"].startswith("2025-03-05T12:00:00"), s
    assert s["orders"] == 3, s
    spent = {m["currency"]: int(m["amountMinor"]) for m in s["totalSpent"]}
    assert spent == {"EUR": 5000, "PLN": 8000}, spent   # 129.00 paid - 49.00 refunded
    assert [u["id"] for u in s["upcoming"]] == [b4["id"]], s
    assert s["topServices"][0] == {"service": "Haircut", "count": 2}, s
    assert {"service": "Colour", "count": 1} in s["topServices"]
    assert s["registeredAt"], s


def _implied(bookings, orders):
    """The summary the final states of a customer's bookings and orders imply
    (times cut to the second): bookings as {id: {status, service, staff,
    startsAt, endsAt, firstAt}}, orders as {id: {currency, paid, refunded,
    firstAt}}."""
    b, o = list(bookings.values()), list(orders.values())
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    attended = [x["startsAt"] for x in b if x["status"] == "ATTENDED"]
    spent = {}
    for x in o:
        if x["paid"] or x["refunded"]:
            spent[x["currency"]] = spent.get(x["currency"], 0) + x["paid"] - x["refunded"]
    services = {}
    for x in b:
        if x["status"] != "CANCELLED" and x["service"]:
            services[x["service"]] = services.get(x["service"], 0) + 1
    upcoming = sorted((x["startsAt"], i) for i, x in bookings.items()
                      if x["status"] == "BOOKED" and x["startsAt"] > now)[:10]
    return {"bookings": len(b),
            "cancellations": sum(x["status"] == "CANCELLED" for x in b),
            "noShows": sum(x["status"] == "NO_SHOW" for x in b),
            "attended": len(attended),
            "orders": len(o),
            "firstBookingAt": min((x["firstAt"] for x in b), default=None),
            "lastVisitAt": max(attended, default=None),
            "firstOrderAt": min((x["firstAt"] for x in o), default=None),
            "totalSpent": sorted(spent.items()),
            "upcoming": [i for _, i in upcoming],
            "topServices": sorted(services.items(), key=lambda kv: (-kv[1], kv[0]))[:5]}


def _summary_figures(cid):
    """The summary in _implied's terms."""
    s = _summary(cid)
    at = lambda k: s[k][:19] + "Z" if s.get(k) else None
    return {"bookings": s.get("bookings", 0), "cancellations": s.get("cancellations", 0),
            "noShows": s.get("noShows", 0), "attended": s.get("attended", 0),
            "orders": s.get("orders", 0), "firstBookingAt": at("firstBookingAt"),
            "lastVisitAt": at("lastVisitAt"), "firstOrderAt": at("firstOrderAt"),
            "totalSpent": [(m["currency"], int(m["amountMinor"])) for m in s.get("totalSpent", [])],
            "upcoming": [u["id"] for u in s.get("upcoming", [])],
            "topServices": [(t["service"], t["count"]) for t in s.get("topServices", [])]}


def test_summary_follows_status_changes_refunds_moves_and_deletion():
    """The summary's figures are kept as bookings and orders change: each step
    is compared with what the events so far imply."""
    anna, bob = _person(), _person()
    bk, od = {}, {}                      # customer id -> {booking/order id -> final state}

    def booking(person, type_, b, at, status, first_at):
        cid = _ingest(_booking_event(person, type_, b, at))["customerId"]
        for other in bk.values():        # a booking belongs to one customer at a time
            other.pop(b["id"], None)
        bk.setdefault(cid, {})[b["id"]] = {
            "status": status, "service": b.get("service", ""), "startsAt": b["startsAt"],
            "firstAt": first_at}
        return cid

    def order(person, type_, o, at, paid, refunded, first_at):
        cid = _ingest(_order_event(person, type_, o, at))["customerId"]
        od.setdefault(cid, {})[o["id"]] = {"currency": o["total"]["currency"], "paid": paid,
                                           "refunded": refunded, "firstAt": first_at}
        return cid

    def check(cid):
        assert _summary_figures(cid) == _implied(bk.get(cid, {}), od.get(cid, {})), cid

    # The earliest booking, still to come: her first booking and her next one.
    b4 = {"id": unique("b"), "service": "Haircut", "staff": "Eva", "startsAt": _future(40)}
    a = booking(anna, "booking.created", b4, "2025-01-05T09:00:00Z", "BOOKED", "2025-01-05T09:00:00Z")
    check(a)
    b1 = {"id": unique("b"), "service": "Haircut", "staff": "Eva", "startsAt": "2025-03-01T10:00:00Z"}
    booking(anna, "booking.created", b1, "2025-02-01T09:00:00Z", "BOOKED", "2025-02-01T09:00:00Z")
    booking(anna, "booking.attended", b1, "2025-03-01T11:00:00Z", "ATTENDED", "2025-02-01T09:00:00Z")
    b2 = {"id": unique("b"), "service": "Colour", "staff": "Jan", "startsAt": "2025-02-10T10:00:00Z"}
    booking(anna, "booking.created", b2, "2025-02-02T09:00:00Z", "BOOKED", "2025-02-02T09:00:00Z")
    booking(anna, "booking.attended", b2, "2025-02-10T11:00:00Z", "ATTENDED", "2025-02-02T09:00:00Z")
    b3 = {"id": unique("b"), "service": "Nails", "startsAt": "2025-02-20T10:00:00Z"}
    booking(anna, "booking.created", b3, "2025-02-03T09:00:00Z", "BOOKED", "2025-02-03T09:00:00Z")
    booking(anna, "booking.no_show", b3, "2025-02-20T10:30:00Z", "NO_SHOW", "2025-02-03T09:00:00Z")
    b5 = {"id": unique("b"), "service": "Massage", "startsAt": _future(10)}
    booking(anna, "booking.created", b5, "2025-02-04T09:00:00Z", "BOOKED", "2025-02-04T09:00:00Z")
    b6 = {"id": unique("b"), "service": "Colour", "startsAt": _future(20)}
    booking(anna, "booking.created", b6, "2025-02-05T09:00:00Z", "BOOKED", "2025-02-05T09:00:00Z")
    check(a)
    assert _summary(a)["lastVisitAt"].startswith("2025-03-01T10:00:00")
    # Status changes: the latest visit is no longer attended (its time falls
    # back to the visit before), a future booking is cancelled.
    booking(anna, "booking.cancelled", b1, "2025-03-02T09:00:00Z", "CANCELLED", "2025-02-01T09:00:00Z")
    booking(anna, "booking.cancelled", b5, "2025-02-06T09:00:00Z", "CANCELLED", "2025-02-04T09:00:00Z")
    check(a)
    assert _summary(a)["lastVisitAt"].startswith("2025-02-10T10:00:00")
    # The first booking moves to another customer (the booking system says it
    # is Bob's): her first booking is the next one, Bob's is this one.
    b = booking(bob, "booking.moved", dict(b4, startsAt=_future(41)), "2025-03-05T09:00:00Z",
                "BOOKED", "2025-01-05T09:00:00Z")
    bk[b][b4["id"]]["startsAt"] = _future(41)
    assert b != a
    check(a)
    check(b)
    assert _summary(a)["firstBookingAt"].startswith("2025-02-01T09:00:00")

    # Orders in three currencies, payments and refunds.
    o1 = {"id": unique("o"), "total": {"amountMinor": 10000, "currency": "PLN"}}
    order(anna, "order.placed", o1, "2025-04-01T10:00:00Z", 0, 0, "2025-04-01T10:00:00Z")
    check(a)
    order(anna, "order.paid", o1, "2025-04-01T10:05:00Z", 10000, 0, "2025-04-01T10:00:00Z")
    order(anna, "order.refunded", dict(o1, refund={"amountMinor": 2500, "currency": "PLN"}),
          "2025-04-10T10:00:00Z", 10000, 2500, "2025-04-01T10:00:00Z")
    order(anna, "order.refunded", dict(o1, refund={"amountMinor": 1000, "currency": "PLN"}),
          "2025-04-11T10:00:00Z", 10000, 3500, "2025-04-01T10:00:00Z")
    o2 = {"id": unique("o"), "total": {"amountMinor": 5000, "currency": "EUR"}}
    order(anna, "order.placed", o2, "2025-04-02T10:00:00Z", 0, 0, "2025-04-02T10:00:00Z")
    order(anna, "order.paid", o2, "2025-04-02T10:05:00Z", 5000, 0, "2025-04-02T10:00:00Z")
    o3 = {"id": unique("o"), "total": {"amountMinor": 700, "currency": "EUR"}}
    order(anna, "order.placed", o3, "2025-04-03T10:00:00Z", 0, 0, "2025-04-03T10:00:00Z")
    order(anna, "order.cancelled", o3, "2025-04-03T11:00:00Z", 0, 0, "2025-04-03T10:00:00Z")
    # Paid and refunded in full: the currency shows, with 0.
    o4 = {"id": unique("o"), "total": {"amountMinor": 200, "currency": "SEK"}}
    order(anna, "order.paid", o4, "2025-04-04T10:05:00Z", 200, 0, "2025-04-04T10:05:00Z")
    order(anna, "order.refunded", o4, "2025-04-05T10:00:00Z", 200, 200, "2025-04-04T10:05:00Z")
    # Its placing arrives late and earlier: the first order's time follows.
    o5 = {"id": unique("o"), "total": {"amountMinor": 300, "currency": "PLN"}}
    order(anna, "order.paid", o5, "2025-03-20T10:05:00Z", 300, 0, "2025-03-20T10:05:00Z")
    check(a)
    order(anna, "order.placed", o5, "2025-03-20T10:00:00Z", 300, 0, "2025-03-20T10:00:00Z")
    check(a)
    s = _summary(a)
    assert [(m["currency"], m["amountMinor"]) for m in s["totalSpent"]] == \
        [("EUR", "5000"), ("PLN", "6800"), ("SEK", "0")], s
    assert s["firstOrderAt"].startswith("2025-03-20T10:00:00"), s
    # Placed later than it was paid: the first order's time moves later.
    o6 = {"id": unique("o"), "total": {"amountMinor": 100, "currency": "EUR"}}
    order(anna, "order.paid", o6, "2025-03-01T10:00:00Z", 100, 0, "2025-03-01T10:00:00Z")
    check(a)
    order(anna, "order.placed", o6, "2025-03-01T12:00:00Z", 100, 0, "2025-03-01T12:00:00Z")
    check(a)
    assert _summary(a)["firstOrderAt"].startswith("2025-03-01T12:00:00")

    # Deleted: the figures stay readable as they were.
    before = _summary(a)
    assert api("DELETE", "/v1/customers/" + a)[0] == 204
    wait_until(lambda: _timeline(a)[0]["type"] == "customer.deleted", 20,
               what="customer.deleted in the timeline")
    assert _summary(a) == before
    check(a)
    # A booking and an order deleted outright (by hand: nothing in the suite
    # deletes them) take their part of the figures with them.
    crm.psql("DELETE FROM notes.bookings WHERE booking_id = '%s'" % b2["id"])
    crm.psql("DELETE FROM notes.orders WHERE order_id = '%s'" % o5["id"])
    del bk[a][b2["id"]], od[a][o5["id"]]
    check(a)
    # Changed by hand too: a booking cancelled outside the intake.
    crm.psql("UPDATE notes.bookings SET status = 'CANCELLED' WHERE booking_id = '%s'" % b6["id"])
    bk[a][b6["id"]]["status"] = "CANCELLED"
    check(a)
    assert "lastVisitAt" not in _summary(a) or not _summary(a)["lastVisitAt"]
    check(b)


def _recount(cid):
    """The summary in _implied's terms, from the customer's rows of bookings
    and orders as they are (the triggers' figures must say the same)."""
    ts = "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    bk = {r[0]: {"status": r[1], "service": r[2], "startsAt": r[3], "firstAt": r[4]}
          for r in crm.psql_rows("SELECT booking_id, status, service, %s, %s FROM notes.bookings "
                                 "WHERE customer_id = '%s'"
                                 % (ts % "starts_at", ts % "coalesce(booked_at, details_at)", cid))}
    od = {r[0]: {"currency": r[1], "paid": int(r[2]), "refunded": int(r[3]), "firstAt": r[4]}
          for r in crm.psql_rows("SELECT order_id, currency, paid_minor, refunded_minor, %s "
                                 "FROM notes.orders WHERE customer_id = '%s'"
                                 % (ts % "coalesce(placed_at, first_seen_at)", cid))}
    return _implied(bk, od)


def test_figures_match_the_rows_after_events_at_once():
    """Events of the same bookings and orders sent at once (crmctl publish, 64
    in flight) and out of order, bookings moving between customers, refunds
    in three currencies: every customer's figures are what their rows say."""
    rnd = random.Random(15)
    run = unique("fig")
    people = [_person() for _ in range(4)]
    times = lambda: "2025-%02d-%02dT%02d:%02d:00Z" % (rnd.randrange(1, 13), rnd.randrange(1, 29),
                                                     rnd.randrange(24), rnd.randrange(60))
    events = []
    for i in range(40):
        b = {"id": "%s-b%d" % (run, i), "service": rnd.choice(["Cut", "Colour", "Nails", ""]),
             "startsAt": _future(5 + i) if i % 5 == 0 else times()}
        owner = people[i % 4]
        for t in ["booking.created"] + rnd.sample(["booking.moved", "booking.attended",
                                                  "booking.cancelled", "booking.no_show"], 3):
            who = people[(i + 1) % 4] if t == "booking.moved" and i % 3 == 0 else owner
            moved = dict(b, service=rnd.choice(["Cut", "Massage"])) if t == "booking.moved" else b
            events.append(_booking_event(who, t, moved, times()))
    for i in range(30):
        o = {"id": "%s-o%d" % (run, i),
             "total": {"amountMinor": 1000 + i, "currency": ["PLN", "EUR", "SEK"][i % 3]}}
        owner = people[i % 4]
        events.append(_order_event(owner, "order.placed", o, times()))
        events.append(_order_event(owner, "order.paid", o, times()))
        for k in range(i % 3):
            events.append(_order_event(owner, "order.refunded",
                                       dict(o, refund={"amountMinor": 100 + k, "currency": o["total"]["currency"]}),
                                       times()))
    rnd.shuffle(events)
    out = crm.crmctl(["publish", "--key", crm.API_KEY, "--window", "64"],
                     input="\n".join(json.dumps(e) for e in events) + "\n", timeout=120)
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["accepted"] == len(events) and summary["undelivered"] == 0, summary
    cids = {r[0] for r in crm.psql_rows("SELECT DISTINCT customer_id FROM notes.intake "
                                         "WHERE event_id IN (%s)"
                                         % ", ".join("'%s'" % e["eventId"] for e in events))}
    assert len(cids) == 4, cids
    moved = crm.psql("SELECT count(DISTINCT customer_id) FROM notes.bookings "
                     "WHERE booking_id LIKE '%s-%%'" % run).strip()
    assert moved == "4", moved
    for cid in cids:
        assert _summary_figures(cid) == _recount(cid), cid


def test_duplicate_delivery_has_one_effect():
    p = _person()
    o = {"id": unique("o"), "total": {"amountMinor": 10000, "currency": "PLN"}}
    first = _ingest(_order_event(p, "order.paid", o, "2025-06-01T10:00:00Z", event_id="dup-" + o["id"]))
    refund = _order_event(p, "order.refunded", dict(o, refund={"amountMinor": 2500, "currency": "PLN"}),
                          "2025-06-02T10:00:00Z")
    _ingest(refund)
    again = _ingest(refund)
    assert again["duplicate"] is True and again["customerId"] == first["customerId"], again
    # Over the bus too (crmctl publish): a duplicate, acknowledged.
    out = crm.crmctl(["publish", json.dumps(refund), "--key", crm.API_KEY])
    assert json.loads(out)["body"]["duplicate"] is True, out
    cid = first["customerId"]
    entries = _timeline(cid, kind="ORDER")
    assert _types(entries).count("order.refunded") == 1, _types(entries)
    s = _summary(cid)
    assert s["totalSpent"] == [{"amountMinor": "7500", "currency": "PLN"}], s


def test_an_event_id_sent_again_with_other_content_is_refused():
    p = _person()
    b = {"id": unique("b"), "service": "Haircut", "staff": "Eva",
         "startsAt": "2025-11-03T10:00:00Z", "endsAt": "2025-11-03T11:00:00Z"}
    ev = _booking_event(p, "booking.created", b, "2025-10-20T10:00:00Z")
    first = _ingest(ev)
    assert first.get("duplicate", False) is False, first
    cid = first["customerId"]
    # The same event again, its fields in another order and an empty field
    # spelt out: a duplicate, acknowledged, over HTTP and over the bus.
    same = dict(reversed(list(ev.items())))
    same["customer"] = dict(reversed(list(p.items())), phone="")
    again = _ingest(same)
    assert again["duplicate"] is True and again["customerId"] == cid, again
    out = crm.crmctl(["publish", json.dumps(ev), "--key", crm.API_KEY])
    assert json.loads(out)["body"]["duplicate"] is True, out

    # The customer's own events reach the timeline from the stream; let them
    # arrive, so that whatever changes after this is the refused events' doing.
    wait_until(lambda: "customer.registered" in _types(_timeline(cid, kind="CUSTOMER")),
               what="the registration in the timeline")

    def state():
        return (_types(_timeline(cid)), _summary(cid),
                api("GET", "/v1/customers/" + cid)[2]["etag"],
                crm.psql("SELECT staff, starts_at, status FROM notes.bookings WHERE booking_id = '%s'"
                         % b["id"]),
                crm.psql("SELECT count(*), min(type) FROM notes.intake WHERE event_id = '%s'"
                         % ev["eventId"]))

    before = state()
    # Other content under the same (source, eventId): refused naming eventId,
    # as customer writes refuse an idempotency key sent with another body.
    moved = json.loads(json.dumps(ev))
    moved["type"] = "booking.moved"
    moved["booking"]["staff"] = "Ola"
    moved["booking"]["startsAt"], moved["booking"]["endsAt"] = "2025-11-04T10:00:00Z", ""
    st, _, js = api("POST", "/v1/events", moved)
    assert st == 400 and js["error"]["status"] == "INVALID_ARGUMENT", (st, js)
    assert [(d["field"], d.get("reason")) for d in js["error"]["details"]] == [("eventId", "REUSED")], js
    assert "different event" in js["error"]["message"], js
    r = crm.crmctl_run(["publish", json.dumps(moved), "--key", crm.API_KEY])
    assert r.returncode != 0, (r.stdout, r.stderr)
    reply = json.loads(r.stdout)
    assert reply["status"] == "INVALID_ARGUMENT", reply
    assert reply["details"][0]["field"] == "eventId" and reply["details"][0]["reason"] == "REUSED", reply
    # One field changed is enough.
    st, _, js = api("POST", "/v1/events", dict(ev, occurredAt="2025-10-20T10:00:01Z"))
    assert st == 400, (st, js)
    # Nothing changed, and the event as first sent is still a duplicate.
    assert state() == before, (state(), before)
    assert before[3].split("|")[0] == "Eva" and before[4].strip() == "1|booking.created", before
    assert _ingest(ev)["duplicate"] is True
    # The changed booking goes in under an id of its own.
    moved["eventId"] = unique("bk")
    assert _ingest(moved).get("duplicate", False) is False
    assert crm.psql("SELECT staff FROM notes.bookings WHERE booking_id = '%s'" % b["id"]).strip() == "Ola"


def test_an_event_taken_in_before_digests_were_kept_stays_a_duplicate():
    # A row from before migration 013 has no digest: any later delivery of
    # its id is acknowledged as a duplicate, as it was then.
    p = _person()
    b = {"id": unique("b"), "startsAt": "2025-11-05T10:00:00Z"}
    ev = _booking_event(p, "booking.created", b, "2025-10-21T10:00:00Z")
    first = _ingest(ev)
    crm.psql("UPDATE notes.intake SET body_hash = '' WHERE event_id = '%s'" % ev["eventId"])
    again = _ingest(dict(ev, occurredAt="2025-10-21T10:00:01Z"))
    assert again["duplicate"] is True and again["customerId"] == first["customerId"], again


def test_out_of_order_events_end_right():
    p = _person()
    b = {"id": unique("b"), "service": "Massage", "staff": "Ola", "startsAt": _future(10)}
    # The cancellation arrives before the booking it cancels.
    js = _ingest(_booking_event(p, "booking.cancelled", b, "2025-07-02T10:00:00Z"))
    cid = js["customerId"]
    _ingest(_booking_event(p, "booking.created", b, "2025-07-01T10:00:00Z"))
    s = _summary(cid)
    assert s["bookings"] == 1 and s["cancellations"] == 1, s
    assert s.get("upcoming", []) == [], s
    assert s.get("topServices", []) == [], s
    assert s["firstBookingAt"].startswith("2025-07-01T10:00:00"), s
    entries = _timeline(cid, kind="BOOKING")
    assert _types(entries) == ["booking.cancelled", "booking.created"], _types(entries)
    # A paid order whose order.placed arrives late stays paid; a move that
    # happened before the latest known details does not overwrite them.
    o = {"id": unique("o"), "total": {"amountMinor": 300, "currency": "PLN"}}
    _ingest(_order_event(p, "order.paid", o, "2025-07-03T10:05:00Z"))
    _ingest(_order_event(p, "order.placed", o, "2025-07-03T10:00:00Z"))
    s = _summary(cid)
    assert s["orders"] == 1 and s["totalSpent"] == [{"amountMinor": "300", "currency": "PLN"}], s
    b2 = {"id": unique("b"), "service": "Nails", "startsAt": _future(20)}
    _ingest(_booking_event(p, "booking.moved", dict(b2, startsAt=_future(21)), "2025-07-05T10:00:00Z"))
    _ingest(_booking_event(p, "booking.created", b2, "2025-07-04T10:00:00Z"))
    up = _summary(cid)["upcoming"]
    assert [u["startsAt"][:10] for u in up] == [_future(21)[:10]], up
    rows = crm.psql("SELECT status FROM notes.bookings WHERE booking_id = '%s'" % b["id"])
    assert rows.strip() == "CANCELLED", rows


def test_same_person_by_booking_email_and_by_order_phone():
    e164, spaced = _phone()
    email = unique_email("Ewa")
    booking_person = {"externalId": unique("bk"), "firstName": "Ewa", "lastName": "Kowalska",
                      "email": email.upper().replace("EXAMPLE.TEST", "Example.Test")}
    b = {"id": unique("b"), "service": "Haircut", "startsAt": "2025-08-01T10:00:00Z"}
    a = _ingest(_booking_event(dict(booking_person, phone=e164), "booking.created", b,
                               "2025-07-20T10:00:00Z"))
    # The store knows her by another id and her phone written another way.
    store_person = {"externalId": unique("st"), "firstName": "Ewa", "phone": spaced}
    o = {"id": unique("o"), "total": {"amountMinor": 100, "currency": "PLN"}}
    b_ = _ingest(_order_event(store_person, "order.placed", o, "2025-07-21T10:00:00Z"))
    assert b_["customerId"] == a["customerId"], (a, b_)
    # And by e-mail in another case, from a third system.
    c_ = _ingest(_order_event({"externalId": unique("x"), "email": email}, "order.placed",
                              {"id": unique("o"), "total": {"amountMinor": 1, "currency": "PLN"}},
                              "2025-07-22T10:00:00Z", source="shop2"))
    assert c_["customerId"] == a["customerId"]
    st, _, c = api("GET", "/v1/customers/" + a["customerId"])
    systems = sorted(x["system"] for x in c["externalIds"])
    assert systems == ["booking", "shop2", "store"], c["externalIds"]
    assert c["phone"] == e164
    st, _, lst = api("GET", q("/v1/customers", pageSize=1000))
    same = [x for x in lst["customers"] if x.get("phone") == e164]
    assert len(same) == 1, same


def test_guest_who_signs_up_is_the_same_customer():
    guest = _person()
    o = {"id": unique("o"), "total": {"amountMinor": 2000, "currency": "PLN"}}
    a = _ingest(_order_event(guest, "order.placed", o, "2025-09-01T10:00:00Z"))
    st, _, c = api("GET", "/v1/customers/" + a["customerId"])
    assert c["source"] == "STORE" and c["account"]["status"] == "INVITED", c
    signup = {"source": "store", "eventId": unique("su"), "type": "customer.signed_up",
              "occurredAt": "2025-09-02T10:00:00Z",
              "customer": {"externalId": unique("acct"), "email": guest["email"].upper(),
                           "firstName": "Anna"}}
    b = _ingest(signup)
    assert b["customerId"] == a["customerId"]
    st, _, c = api("GET", "/v1/customers/" + a["customerId"])
    assert c["account"]["status"] == "ACTIVE", c
    assert c["source"] == "STORE"
    assert len([x for x in c["externalIds"] if x["system"] == "store"]) == 2
    assert "customer.signed_up" in _types(_timeline(a["customerId"], kind="CUSTOMER"))


def _refused(ev, field, reason=None):
    st, _, js = api("POST", "/v1/events", ev)
    assert st == 400, (st, js, field)
    details = js["error"].get("details", [])
    fields = [d.get("field") for d in details]
    assert field in fields, (field, js)
    if reason:
        assert [d for d in details if d["field"] == field][0].get("reason") == reason, js


def test_malformed_events_are_refused_naming_the_field():
    p = _person()
    good = _booking_event(p, "booking.created", {"id": unique("b"), "startsAt": "2025-10-01T10:00:00Z"},
                          "2025-09-20T10:00:00Z")

    def bad(**changes):
        ev = json.loads(json.dumps(good))
        for k, v in changes.items():
            parts = k.split("__")
            tgt = ev
            for part in parts[:-1]:
                tgt = tgt.setdefault(part, {})
            if v is None:
                tgt.pop(parts[-1], None)
            else:
                tgt[parts[-1]] = v
        return ev

    _refused(bad(source=None), "source", "REQUIRED")
    _refused(bad(source="Booking System"), "source", "INVALID_FORMAT")
    _refused(bad(source="s" * 51), "source")
    _refused(bad(eventId=None), "eventId", "REQUIRED")
    _refused(bad(eventId="e" * 201), "eventId", "TOO_LONG")
    _refused(bad(type="booking.exploded"), "type", "INVALID_FORMAT")
    _refused(bad(occurredAt="20.09.2025"), "occurredAt", "INVALID_FORMAT")
    _refused(bad(occurredAt="2025-02-30T10:00:00Z"), "occurredAt")
    _refused(bad(customer=None), "customer", "REQUIRED")
    _refused(bad(customer__externalId=None), "customer.externalId", "REQUIRED")
    _refused(bad(customer__firstName="Ż" * 101), "customer.firstName", "TOO_LONG")
    _refused(bad(customer__email="not-an-email"), "customer.email")
    _refused(bad(customer__phone="call me maybe"), "customer.phone")
    _refused(bad(booking=None), "booking", "REQUIRED")
    _refused(bad(booking__id=None), "booking.id", "REQUIRED")
    _refused(bad(booking__startsAt=None), "booking.startsAt", "REQUIRED")
    _refused(bad(booking__endsAt="2025-10-01T09:00:00Z"), "booking.endsAt", "OUT_OF_RANGE")
    order = _order_event(p, "order.placed", {"id": "o1", "total": {"amountMinor": 1, "currency": "PLN"}},
                         "2025-09-20T10:00:00Z")
    o = json.loads(json.dumps(order)); o["order"]["total"]["currency"] = "zł"
    _refused(o, "order.total.currency", "INVALID_FORMAT")
    o = json.loads(json.dumps(order)); del o["order"]["total"]
    _refused(o, "order.total", "REQUIRED")
    o = json.loads(json.dumps(order)); o["order"]["total"]["amountMinor"] = -5
    _refused(o, "order.total.amountMinor", "OUT_OF_RANGE")
    o = json.loads(json.dumps(order)); o["order"]["items"] = [{"name": "x", "quantity": 0}]
    _refused(o, "order.items[0].quantity", "OUT_OF_RANGE")
    o = json.loads(json.dumps(order)); o["order"]["items"] = [{"name": "x", "quantity": 1}] * 101
    _refused(o, "order.items", "TOO_MANY")
    o = json.loads(json.dumps(order)); o["order"]["total"]["amountMinor"] = 12.5
    st, _, js = api("POST", "/v1/events", o)
    assert st == 400, js
    o = json.loads(json.dumps(order)); o["booking"] = {"id": "b"}
    _refused(o, "booking", "INVALID_FORMAT")
    # Nothing was recorded: the same event id is new when it comes right.
    js = _ingest(good)
    assert js.get("duplicate", False) is False
    assert crm.psql("SELECT count(*) FROM notes.intake WHERE event_id = '%s'" % good["eventId"]).strip() == "1"
    st, _, lst = api("GET", q("/v1/customers", pageSize=1000))
    assert len([c for c in lst["customers"] if c.get("email") == p["email"]]) == 1


def test_customer_changes_show_in_the_timeline():
    st, _, c = api("POST", "/v1/customers", {"firstName": "Olga", "lastName": unique("Lis")})
    assert st == 201, c
    cid = c["id"]
    st, _, c2 = api("PATCH", "/v1/customers/" + cid, {"lastName": "Lis-Nowak"})
    assert st == 200, c2
    st, _, c3 = api("PATCH", "/v1/customers/" + cid,
                    {"preferences": {"marketing": {"granted": True, "source": "web"}}})
    assert st == 200, c3

    def ready():
        e = _timeline(cid)
        return e if len(e) >= 3 else None

    entries = wait_until(ready, 20, what="three customer entries")
    assert [e["kind"] for e in entries] == ["CONSENT", "CUSTOMER", "CUSTOMER"], entries
    assert _types(entries) == ["customer.updated", "customer.updated", "customer.created"]
    change = entries[1]["changes"]
    assert change == [{"field": "lastName", "oldValue": json.dumps(c["lastName"]),
                       "newValue": '"Lis-Nowak"'}], change
    assert any(ch["field"] == "preferences.marketing.granted" for ch in entries[0]["changes"])
    assert entries[2]["source"] == "api" and entries[2]["actor"]
    only = _timeline(cid, kind="CONSENT")
    assert len(only) == 1 and only[0]["kind"] == "CONSENT"


def test_timeline_pages_newest_first():
    p = _person()
    cid = None
    for i in range(25):
        b = {"id": unique("b"), "service": "S%d" % (i % 3), "startsAt": "2025-01-01T10:00:00Z"}
        js = _ingest(_booking_event(p, "booking.created", b, "2024-12-%02dT10:00:00Z" % (i + 1)))
        cid = js["customerId"]
    seen, token, pages = [], None, 0
    while True:
        st, _, js = api("GET", q("/v1/customers/%s/timeline" % cid, pageSize=10, kind="BOOKING",
                                 pageToken=token))
        assert st == 200, js
        assert len(js["entries"]) <= 10
        seen += js["entries"]
        pages += 1
        token = js.get("nextPageToken")
        if not token:
            break
    assert pages == 3 and len(seen) == 25
    assert len({e["id"] for e in seen}) == 25
    assert seen[0]["occurredAt"].startswith("2024-12-25") and seen[-1]["occurredAt"].startswith("2024-12-01")
    st, _, js = api("GET", q("/v1/customers/%s/timeline" % cid, pageToken="garbage"))
    assert st == 400, js
    st, _, js = api("GET", q("/v1/customers/%s/timeline" % cid, kind="NONSENSE"))
    assert st == 400, js


def test_ten_thousand_events_survive_a_killed_notes_service():
    """10,000 events sent over the bus (crmctl publish) while notes is SIGKILLed
    and restarted by the supervisor are all in the timeline afterwards, once each."""
    run = unique("kill")
    people = [_person() for _ in range(20)]
    lines = []
    for i in range(10000):
        p = people[i % len(people)]
        b = {"id": "%s-b%d" % (run, i), "service": "Svc%d" % (i % 7), "startsAt": "2025-11-01T10:00:00Z"}
        ev = _booking_event(p, "booking.created", b, "2025-10-01T10:00:00Z", event_id="%s-%d" % (run, i))
        lines.append(json.dumps(ev))
    before = wait_until(lambda: crm.pids("notes"), 30, what="notes running")
    path = os.path.join(crm.DATA_DIR, run + ".jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(path, encoding="utf-8") as events:
        proc = crm.crmctl_popen(["publish", "--key", crm.API_KEY, "--window", "64",
                                 "--timeout-ms", "20000", "--give-up-s", "400"], stdin=events)
    t0 = time.monotonic()
    # Kill it once a good part is in.
    wait_until(lambda: int(crm.psql("SELECT count(*) FROM notes.intake WHERE event_id LIKE '%s-%%'"
                                    % run).strip()) > 1500, 120, what="events flowing")
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: crm.pids("notes") and not set(crm.pids("notes")) & set(before), 60,
               what="notes to be restarted")
    out, err = proc.communicate(timeout=500)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, (proc.returncode, out, err[-2000:])
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["events"] == 10000 and summary["undelivered"] == 0, summary
    assert summary["accepted"] + summary["duplicates"] == 10000, summary
    print("10,000 events in %.1f s with notes killed once: %s" % (elapsed, summary))
    rows = crm.psql("SELECT count(*), count(DISTINCT event_id) FROM notes.timeline "
                    "WHERE event_id LIKE '%s-%%'" % run).strip()
    assert rows == "10000|10000", rows
    # The same through the API for one customer: 500 bookings, each once.
    cid = crm.psql("SELECT DISTINCT customer_id FROM notes.intake WHERE event_id = '%s-0'" % run).strip()
    entries = _timeline(cid, kind="BOOKING", pageSize=200)
    ids = [e["eventId"] for e in entries if e["eventId"].startswith(run)]
    assert len(ids) == 500 and len(set(ids)) == 500, len(ids)
    assert _summary(cid)["bookings"] == 500


test_ten_thousand_events_survive_a_killed_notes_service.timeout = 600


def test_deleting_a_customer_erases_what_staff_wrote():
    """Deleting a customer erases their notes and tasks and the values of their
    changes in the timeline; the timeline keeps what happened and when."""
    email = unique_email("erase")
    st, _, c = api("POST", "/v1/customers", {"firstName": "Zofia", "lastName": unique("Erase"),
                                             "email": email})
    assert st == 201, c
    cid = c["id"]
    assert api("PATCH", "/v1/customers/" + cid, {"phone": "+48600999111"})[0] == 200
    st, _, note = api("POST", "/v1/customers/%s/notes" % cid, {"body": "allergic to latex"})
    assert st == 201, note
    st, _, task = api("POST", "/v1/customers/%s/tasks" % cid, {"title": "call about latex"})
    assert st == 201, task
    wait_until(lambda: len(_timeline(cid)) >= 4, 20, what="created, updated, note and task")
    assert api("DELETE", "/v1/customers/" + cid)[0] == 204

    def erased():
        e = _timeline(cid)
        return e if e and e[0]["type"] == "customer.deleted" else None

    entries = wait_until(erased, 20, what="customer.deleted in the timeline")
    assert not [e for e in entries if e["kind"] in ("NOTE", "TASK")], entries
    text = json.dumps(entries)
    assert email not in text and "600999111" not in text and "latex" not in text, text
    changed = [e for e in entries if e["type"] == "customer.updated"]
    assert changed and changed[0]["changes"][0]["field"] == "phone", changed
    rows = crm.psql_rows("SELECT count(*) FROM notes.notes WHERE customer_id = '%s'" % cid)
    assert rows == [("0",)], rows
    rows = crm.psql_rows("SELECT count(*) FROM notes.tasks WHERE customer_id = '%s'" % cid)
    assert rows == [("0",)], rows


def test_an_unknown_customer_has_no_story():
    """An id nobody has is answered 404 naming it, not as an empty story; a
    customer whose story holds nothing of a kind gets an empty page, before
    and after it is deleted."""
    nobody = str(uuid.uuid4())
    for path in ("timeline", "summary"):
        st, _, js = api("GET", "/v1/customers/%s/%s" % (nobody, path))
        assert st == 404, (path, st, js)
        assert nobody in json.dumps(js), js
    st, _, c = api("POST", "/v1/customers", {"firstName": "Ewa", "lastName": unique("Story")})
    assert st == 201, c
    cid = c["id"]
    # At once (the created event may not be in yet) and once it is.
    for _ in range(2):
        st, _, js = api("GET", q("/v1/customers/%s/timeline" % cid, kind="ORDER"))
        assert st == 200 and not js.get("entries"), (st, js)
        st, _, js = api("GET", "/v1/customers/%s/summary" % cid)
        assert st == 200 and js.get("bookings", 0) == 0, (st, js)
        wait_until(lambda: _timeline(cid), 20, what="customer.created in the timeline")
    assert api("DELETE", "/v1/customers/" + cid)[0] == 204
    wait_until(lambda: _timeline(cid)[0]["type"] == "customer.deleted", 20,
               what="customer.deleted in the timeline")
    st, _, js = api("GET", q("/v1/customers/%s/timeline" % cid, kind="ORDER"))
    assert st == 200 and not js.get("entries"), (st, js)
    st, _, js = api("GET", "/v1/customers/%s/summary" % cid)
    assert st == 200 and js.get("registeredAt"), (st, js)


def test_timeline_follows_on_when_the_database_lost_its_last_commits():
    """As after a restore, or a crash with asynchronous commits: the database's
    cursor of the customers stream falls behind what notes applied, and the
    rows those events made are gone with it. Notes follows on from the cursor
    the database has: the lost rows come back once, and new events arrive."""
    cur = int(crm.psql("SELECT last_seq FROM notes.stream_cursor WHERE stream = 'customers'"))
    st, _, x = api("POST", "/v1/customers", {"firstName": "Lost", "lastName": unique("Commit")})
    assert st == 201, x
    wait_until(lambda: "customer.created" in _types(_timeline(x["id"])), 20,
               what="customer.created of the first")
    # The last commits lost: the rows after the old cursor, and the cursor's move.
    crm.psql("BEGIN; DELETE FROM notes.timeline WHERE customer_id = '%s'; "
             "UPDATE notes.stream_cursor SET last_seq = %d WHERE stream = 'customers'; COMMIT;"
             % (x["id"], cur))
    assert _timeline(x["id"]) == []
    st, _, y = api("POST", "/v1/customers", {"firstName": "After", "lastName": unique("Commit")})
    assert st == 201, y
    wait_until(lambda: "customer.created" in _types(_timeline(y["id"])), 30,
               what="customer.created of the next")
    assert _types(_timeline(x["id"])).count("customer.created") == 1, _timeline(x["id"])


def test_intake_holds_no_transaction_while_customers_answers():
    """Intake asks the customers service who the event's person is before it
    opens its transaction: with every customers copy stopped, an event sent
    over the bus waits (and is refused as unavailable) without a notes
    transaction open in PostgreSQL all that time; once customers is back it
    is taken in once."""
    copies = wait_until(lambda: crm.pids("customers"), 10)
    ev = _booking_event(_person(), "booking.created",
                        {"id": unique("b"), "service": "Cut",
                         "startsAt": "2026-11-02T10:00:00Z"}, "2026-10-20T10:00:00Z")
    call = ["publish", json.dumps(ev), "--tenant", crm.TENANT, "--timeout-ms", "20000",
            "--give-up-s", "3"]
    result = {}
    held = []

    def send():
        result["r"] = crm.crmctl_run(call)

    for pid in copies:
        os.kill(pid, signal.SIGSTOP)
    t = threading.Thread(target=send)
    try:
        t.start()
        # Until intake gives up on customers: no transaction of notes' intake
        # stays open (taking the claim first held its insert open meanwhile).
        while t.is_alive():
            held += crm.psql_rows(
                "SELECT pid FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' "
                "AND query LIKE '%notes.intake%'")
            t.join(0.05)
    finally:
        for pid in copies:
            os.kill(pid, signal.SIGCONT)
    r = result["r"]
    assert json.loads(r.stdout.splitlines()[-1])["undelivered"] == 1, (r.stdout, r.stderr)
    assert held == [], held
    # Sent again with customers back: taken in once (a duplicate when the
    # attempt crmctl gave up on was answered after customers came back).
    out = json.loads(crm.crmctl(call[:-2]).splitlines()[-1])
    js = out["body"]
    assert crm.psql("SELECT count(*) FROM notes.intake WHERE event_id = '%s' "
                    "AND customer_id = '%s'" % (ev["eventId"], js["customerId"])).strip() == "1"


def _customer_row(cid):
    """(version, audit entries) of a customer as stored."""
    version = crm.psql("SELECT version FROM customers.customers WHERE id = '%s'" % cid).strip()
    audits = crm.psql("SELECT count(*) FROM customers.audit WHERE customer_id = '%s'" % cid).strip()
    return version, audits


def test_a_known_person_with_nothing_new_is_only_read():
    """The second event of a person the source's id names, with the same
    details, resolves to the same customer and writes nothing to it (no new
    version, no audit entry, no customer.updated on the timeline)."""
    p = _person()
    b = {"id": unique("b"), "service": "Cut", "startsAt": "2025-10-01T10:00:00Z"}
    a = _ingest(_booking_event(p, "booking.created", b, "2025-09-20T10:00:00Z"))
    before = _customer_row(a["customerId"])
    for i in range(3):
        again = _ingest(_booking_event(p, "booking.moved", b, "2025-09-2%dT10:00:00Z" % (i + 1)))
        assert again["customerId"] == a["customerId"], (a, again)
    assert _customer_row(a["customerId"]) == before
    assert "customer.updated" not in _types(_timeline(a["customerId"], kind="CUSTOMER"))


def test_a_known_person_resolves_while_their_row_is_locked():
    """Resolving a known person with nothing new takes no lock: with the
    customer's row locked by another transaction (as an edit holds it), the
    event is still taken in at once; the write path would wait for the row
    and give up."""
    p = _person()
    b = {"id": unique("b"), "service": "Cut", "startsAt": "2025-10-01T10:00:00Z"}
    a = _ingest(_booking_event(p, "booking.created", b, "2025-09-20T10:00:00Z"))
    lock = subprocess.Popen([crm.PSQL, "-X", "-q", "-A", "-t", "-d", crm.DATABASE_URL],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        lock.stdin.write("BEGIN;\nSELECT 'locked' FROM customers.customers WHERE id = '%s' "
                         "FOR UPDATE;\n" % a["customerId"])
        lock.stdin.flush()
        assert lock.stdout.readline().strip() == "locked"
        again = _ingest(_booking_event(p, "booking.attended", b, "2025-09-21T10:00:00Z"))
        assert again["customerId"] == a["customerId"], (a, again)
    finally:
        lock.stdin.write("COMMIT;\n")
        lock.stdin.close()
        lock.wait(30)


def test_resolve_known_only_answers_a_known_person_and_writes_nothing_else():
    """customers.ResolveCustomer with knownOnly: the customer the source's id
    names when nothing is new; NOT_FOUND, and nothing registered or filled
    in, for a stranger or for a record with something to add."""
    p = _person()
    a = _ingest(_booking_event(p, "booking.created",
                               {"id": unique("b"), "service": "Cut",
                                "startsAt": "2025-10-01T10:00:00Z"}, "2025-09-20T10:00:00Z"))

    def resolve(**kw):
        body = {"system": "booking", "externalId": p["externalId"], "firstName": p["firstName"],
                "lastName": p["lastName"], "email": p["email"], "knownOnly": True}
        body.update(kw)
        r = crm.crmctl_run(["call", "customers", "ResolveCustomer", json.dumps(body),
                            "--tenant", crm.TENANT])
        assert r.stdout.strip(), r.stderr
        return json.loads(r.stdout)

    known = resolve()
    assert known["body"]["customerId"] == a["customerId"], known
    assert known["body"]["matchedBy"] == "externalId", known
    before = _customer_row(a["customerId"])
    e164, _ = _phone()
    assert resolve(phone=e164)["status"] == "NOT_FOUND"
    assert _customer_row(a["customerId"]) == before
    st, _, c = api("GET", "/v1/customers/" + a["customerId"])
    assert not c.get("phone"), c
    stranger = unique_email("nobody")
    assert resolve(externalId=unique("x"), email=stranger)["status"] == "NOT_FOUND"
    assert crm.psql("SELECT count(*) FROM customers.customers WHERE email = '%s'"
                    % stranger).strip() == "0"


def test_a_known_person_with_new_details_is_still_updated():
    """What a later event adds (a phone, a last name) is filled in, and a
    sign-up under the same source id activates the account: these go the
    write path, not the read."""
    e164, spaced = _phone()
    p = _person(lastName="")
    o = {"id": unique("o"), "total": {"amountMinor": 100, "currency": "PLN"}}
    a = _ingest(_order_event(p, "order.placed", o, "2025-09-01T10:00:00Z"))
    st, _, c = api("GET", "/v1/customers/" + a["customerId"])
    assert not c.get("phone") and not c.get("lastName") and c["account"]["status"] == "INVITED", c
    b = _ingest(_order_event(dict(p, phone=spaced, lastName="Lis"), "order.paid", o,
                             "2025-09-02T10:00:00Z"))
    assert b["customerId"] == a["customerId"]
    st, _, c = api("GET", "/v1/customers/" + a["customerId"])
    assert c["phone"] == e164 and c["lastName"] == "Lis", c
    signup = {"source": "store", "eventId": unique("su"), "type": "customer.signed_up",
              "occurredAt": "2025-09-03T10:00:00Z", "customer": p}
    assert _ingest(signup)["customerId"] == a["customerId"]
    st, _, c = api("GET", "/v1/customers/" + a["customerId"])
    assert c["account"]["status"] == "ACTIVE", c


def test_a_deleted_customers_source_id_is_not_resolved_to_them():
    """After the customer is deleted, the next event with the same source id
    (and details) registers a new customer rather than naming the gone one."""
    p = _person()
    b = {"id": unique("b"), "service": "Cut", "startsAt": "2025-10-01T10:00:00Z"}
    a = _ingest(_booking_event(p, "booking.created", b, "2025-09-20T10:00:00Z"))
    _ingest(_booking_event(p, "booking.moved", b, "2025-09-21T10:00:00Z"))
    assert api("DELETE", "/v1/customers/" + a["customerId"])[0] == 204
    again = _ingest(_booking_event(p, "booking.attended", b, "2025-09-22T10:00:00Z"))
    assert again["customerId"] != a["customerId"], again
    st, _, c = api("GET", "/v1/customers/" + again["customerId"])
    assert st == 200 and c["email"] == p["email"].lower(), c


def test_an_event_sent_again_after_its_customer_was_deleted_stays_a_duplicate():
    """A repeat of an event taken in before its customer was deleted is a
    duplicate: it brings the person back neither by the bus nor through the
    gateway."""
    p = _person()
    ev = _booking_event(p, "booking.created",
                        {"id": unique("b"), "service": "Cut", "startsAt": "2025-10-01T10:00:00Z"},
                        "2025-09-20T10:00:00Z")
    first = _ingest(ev)
    assert api("DELETE", "/v1/customers/" + first["customerId"])[0] == 204
    again = _ingest(ev)
    assert again["duplicate"] is True and again["customerId"] == first["customerId"], again
    out = json.loads(crm.crmctl(["publish", json.dumps(ev), "--tenant", crm.TENANT]).splitlines()[-1])
    assert out["body"]["duplicate"] is True, out
    assert out["body"]["customerId"] == first["customerId"], out
    assert crm.psql("SELECT count(*) FROM customers.customers WHERE email = '%s'"
                    % p["email"].lower()).strip() == "0"


def test_events_of_a_new_person_at_once_make_one_customer():
    """Sixteen events of a person nobody knows yet, sent at once over the bus
    (some of one booking, some of one order), make one customer, and each
    booking and order ends with one row."""
    p = _person()
    b = {"id": unique("b"), "service": "Cut", "startsAt": "2025-10-01T10:00:00Z"}
    o = {"id": unique("o"), "total": {"amountMinor": 500, "currency": "PLN"}}
    evs = []
    for i in range(16):
        at = "2025-09-%02dT10:00:00Z" % (i + 1)
        if i % 2:
            evs.append(_order_event(p, ["order.placed", "order.paid"][i % 4 // 2], o, at))
        else:
            evs.append(_booking_event(p, ["booking.created", "booking.moved"][i % 4 // 2], b, at))
    out = crm.crmctl(["publish", "--tenant", crm.TENANT, "--window", "16"],
                     input="".join(json.dumps(e) + "\n" for e in evs))
    summary = json.loads(out.splitlines()[-1])
    assert summary["accepted"] == 16 and summary["rejected"] == 0, out
    ids = crm.psql_rows("SELECT DISTINCT customer_id FROM notes.intake WHERE event_id IN (%s)"
                        % ",".join("'%s'" % e["eventId"] for e in evs))
    assert len(ids) == 1, ids
    assert crm.psql("SELECT count(*) FROM customers.customers WHERE email = '%s'"
                    % p["email"].lower()).strip() == "1"
    assert crm.psql("SELECT count(*) FROM notes.bookings WHERE booking_id = '%s'"
                    % b["id"]).strip() == "1"
    assert crm.psql("SELECT count(*) FROM notes.orders WHERE order_id = '%s'"
                    % o["id"]).strip() == "1"
    # Out of order and at once, each ends by the rule: the booking at its
    # latest move, the order paid.
    assert crm.psql("SELECT status, starts_at = '2025-10-01T10:00:00Z', details_at FROM "
                    "notes.bookings WHERE booking_id = '%s'" % b["id"]).strip() \
        == "BOOKED|t|2025-09-15 10:00:00+00", b
    assert crm.psql("SELECT status, paid_minor FROM notes.orders WHERE order_id = '%s'"
                    % o["id"]).strip() == "PAID|500"
    # Sent again: every one a duplicate, nothing written twice.
    out = crm.crmctl(["publish", "--tenant", crm.TENANT, "--window", "16"],
                     input="".join(json.dumps(e) + "\n" for e in evs))
    summary = json.loads(out.splitlines()[-1])
    assert summary["duplicates"] == 16, out
    cid = ids[0][0]
    entries = [e for e in _timeline(cid) if e["type"].startswith(("booking.", "order."))]
    assert len(entries) == 16, _types(entries)


def test_an_event_retried_under_its_idempotency_key_gets_the_first_answer():
    """Through the gateway a retry with the same Idempotency-Key gets the
    first answer again (duplicate false); another delivery of the event
    without it is answered as the duplicate it is."""
    ev = _booking_event(_person(), "booking.created",
                        {"id": unique("b"), "service": "Cut", "startsAt": "2025-10-01T10:00:00Z"},
                        "2025-09-20T10:00:00Z")
    key = {"Idempotency-Key": unique("ik")}
    st, _, first = api("POST", "/v1/events", ev, headers=key)
    assert st == 202 and first["duplicate"] is False, first
    st, _, again = api("POST", "/v1/events", ev, headers=key)
    assert st == 202 and again == first, (first, again)
    st, _, other = api("POST", "/v1/events", ev)
    assert st == 202 and other["duplicate"] is True and other["customerId"] == first["customerId"]


# ------------------------------------------------------------ intake in batches


def _call(service, method, body):
    r = crm.crmctl_run(["call", service, method, json.dumps(body), "--tenant", crm.TENANT],
                       timeout=60)
    assert r.stdout.strip(), r.stderr
    return json.loads(r.stdout)


def test_a_batch_of_events_is_answered_event_by_event():
    """notes.IngestEvents takes each event as IngestEvent would and answers
    each on its own: a bad event is refused naming its field while the rest
    are taken in, a repeat in the same batch is a duplicate, an event id
    reused with other content is refused, and nothing of the refused ones
    is written."""
    known = _person()
    k = _ingest(_booking_event(known, "booking.created",
                               {"id": unique("b"), "startsAt": "2025-10-01T10:00:00Z"},
                               "2025-09-20T10:00:00Z"))
    earlier = _order_event(known, "order.placed",
                           {"id": unique("o"), "total": {"amountMinor": 500, "currency": "PLN"}},
                           "2025-09-21T10:00:00Z")
    _ingest(earlier)
    new = _person()
    first = _booking_event(new, "booking.created",
                           {"id": unique("b"), "service": "Cut", "startsAt": "2025-10-02T10:00:00Z"},
                           "2025-09-22T10:00:00Z")
    second = _booking_event(known, "booking.attended",
                            {"id": unique("b"), "startsAt": "2025-09-01T10:00:00Z"},
                            "2025-09-01T11:00:00Z")
    bad = dict(_booking_event(_person(), "booking.created", {"id": unique("b")}, "yesterday"))
    reused = dict(earlier, type="order.paid")
    out = _call("notes", "IngestEvents", {"events": [first, second, bad, first, reused]})
    assert out["status"] == "OK", out
    res = out["body"]["results"]
    assert len(res) == 5, res
    ok = lambda r: r.get("header", {}).get("status", "OK") == "OK"
    assert ok(res[0]) and not res[0]["response"].get("duplicate"), res[0]
    assert ok(res[1]) and res[1]["response"]["customerId"] == k["customerId"], res[1]
    assert res[2]["header"]["status"] == "INVALID_ARGUMENT", res[2]
    assert "occurredAt" in [d["field"] for d in res[2]["header"]["details"]], res[2]
    assert ok(res[3]) and res[3]["response"].get("duplicate") is True, res[3]
    assert res[3]["response"]["customerId"] == res[0]["response"]["customerId"], res
    assert res[4]["header"]["status"] == "INVALID_ARGUMENT", res[4]
    assert [d["reason"] for d in res[4]["header"]["details"]] == ["REUSED"], res[4]
    # The new person is one customer with one timeline entry of the event;
    # the refused event left no record.
    cid = res[0]["response"]["customerId"]
    bookings = [e for e in _timeline(cid) if e.get("kind") == "BOOKING"]
    assert [e.get("eventId") for e in bookings] == [first["eventId"]], bookings
    assert crm.psql("SELECT count(*) FROM notes.intake WHERE event_id = '%s'"
                    % bad["eventId"]).strip() == "0"
    assert _summary(k["customerId"]).get("attended") == 1


def test_a_batch_has_limits():
    """1 to 100 events a request: an empty batch and one of 101 are refused
    as a whole, naming events, and nothing of the 101 is taken in."""
    out = _call("notes", "IngestEvents", {"events": []})
    assert out["status"] == "INVALID_ARGUMENT", out
    assert [(d["field"], d["reason"]) for d in out["details"]] == [("events", "REQUIRED")], out
    p = _person()
    run = unique("lim")
    evs = [_booking_event(p, "booking.created", {"id": "%s-%d" % (run, i),
                                                 "startsAt": "2025-10-01T10:00:00Z"},
                          "2025-09-20T10:00:00Z", event_id="%s-e%d" % (run, i))
           for i in range(101)]
    out = _call("notes", "IngestEvents", {"events": evs})
    assert out["status"] == "INVALID_ARGUMENT", out
    assert [(d["field"], d["reason"]) for d in out["details"]] == [("events", "TOO_MANY")], out
    assert crm.psql("SELECT count(*) FROM notes.intake WHERE event_id LIKE '%s-%%'"
                    % run).strip() == "0"
    out = _call("notes", "IngestEvents", {"events": evs[:100]})
    assert out["status"] == "OK" and len(out["body"]["results"]) == 100, out
    assert all(r["response"]["customerId"] for r in out["body"]["results"]), out


def test_batches_of_the_same_events_sent_twice_at_once_have_one_effect():
    """Two publishers send the same events of the same people at once, in
    batches, each in another order: every event is taken in once (the other
    delivery is a duplicate), and the figures are what the rows say."""
    rnd = random.Random(7)
    run = unique("twice")
    people = [_person() for _ in range(5)]
    events = []
    for i in range(60):
        b = {"id": "%s-b%d" % (run, i), "service": rnd.choice(["Cut", "Colour"]),
             "startsAt": "2025-%02d-10T10:00:00Z" % (1 + i % 12)}
        for t in ("booking.created", "booking.attended"):
            events.append(_booking_event(people[i % 5], t, b,
                                         "2025-%02d-09T%02d:00:00Z" % (1 + i % 12, i % 24)))
    for i in range(40):
        o = {"id": "%s-o%d" % (run, i), "total": {"amountMinor": 700 + i, "currency": "EUR"}}
        for t in ("order.placed", "order.paid"):
            events.append(_order_event(people[(i + 2) % 5], t, o,
                                       "2025-%02d-11T10:00:00Z" % (1 + i % 12)))
    procs = []
    for seed in (1, 2):
        mine = list(events)
        random.Random(seed).shuffle(mine)
        path = os.path.join(crm.DATA_DIR, "%s-%d.jsonl" % (run, seed))
        with open(path, "w") as f:
            f.write("\n".join(json.dumps(e) for e in mine) + "\n")
        fh = open(path, encoding="utf-8")
        procs.append((crm.crmctl_popen(["publish", "--key", crm.API_KEY, "--batch", "7",
                                        "--window", "8"], stdin=fh), path, fh))
    totals = {"accepted": 0, "duplicates": 0}
    for p, path, fh in procs:
        out, err = p.communicate(timeout=120)
        fh.close()
        os.unlink(path)
        assert p.returncode == 0, (out, err)
        s = json.loads(out.strip().splitlines()[-1])
        assert s["rejected"] == 0 and s["undelivered"] == 0, s
        totals["accepted"] += s["accepted"]
        totals["duplicates"] += s["duplicates"]
    assert totals == {"accepted": len(events), "duplicates": len(events)}, totals
    rows = crm.psql("SELECT count(*) FROM notes.timeline WHERE event_id IN (%s)"
                    % ", ".join("'%s'" % e["eventId"] for e in events)).strip()
    assert rows == str(len(events)), rows
    cids = {r[0] for r in crm.psql_rows("SELECT DISTINCT customer_id FROM notes.intake "
                                         "WHERE event_id IN (%s)"
                                         % ", ".join("'%s'" % e["eventId"] for e in events))}
    assert len(cids) == 5, cids
    for cid in cids:
        assert _summary_figures(cid) == _recount(cid), cid


def test_resolve_known_answers_many_records_with_one_read():
    """customers.ResolveKnown: a known person with nothing new gets their id;
    one with something to add, a stranger and a bad record get "" (the
    intake resolves those one by one); nothing is written."""
    p = _person()
    a = _ingest(_booking_event(p, "booking.created",
                               {"id": unique("b"), "startsAt": "2025-10-01T10:00:00Z"},
                               "2025-09-20T10:00:00Z"))
    item = {"system": "booking", "externalId": p["externalId"], "firstName": p["firstName"],
            "lastName": p["lastName"], "email": p["email"]}
    e164, _ = _phone()
    before = _customer_row(a["customerId"])
    out = _call("customers", "ResolveKnown", {"items": [
        item, dict(item, phone=e164), dict(item, externalId=unique("x")),
        dict(item, email="not an address"), item]})
    assert out["status"] == "OK", out
    assert out["body"]["customerIds"] == [a["customerId"], "", "", "", a["customerId"]], out
    assert _customer_row(a["customerId"]) == before
    out = _call("customers", "ResolveKnown", {"items": []})
    assert out["status"] == "INVALID_ARGUMENT", out
    assert [(d["field"], d["reason"]) for d in out["details"]] == [("items", "REQUIRED")], out


def test_a_batch_over_http_is_answered_event_by_event():
    """POST /v1/events:batch: the same batch over HTTP, for a system that
    cannot speak the bus: 200 with a result per event; a bad one names its
    field, the others are taken in; 0 or 101 events are a 400 naming
    events."""
    p = _person()
    good = _booking_event(p, "booking.created",
                          {"id": unique("b"), "startsAt": "2025-10-01T10:00:00Z"},
                          "2025-09-20T10:00:00Z")
    bad = dict(good, eventId=unique("bk"), occurredAt="2025-13-01T10:00:00Z")
    st, _, js = api("POST", "/v1/events:batch", {"events": [good, bad, good]})
    assert st == 200, (st, js)
    res = js["results"]
    assert len(res) == 3, js
    assert res[0]["response"]["customerId"] and not res[0]["response"].get("duplicate"), res
    assert res[0]["header"]["status"] == "OK" and not res[0]["header"]["details"], res
    assert res[1]["header"]["status"] == "INVALID_ARGUMENT", res
    assert [d["field"] for d in res[1]["header"]["details"]] == ["occurredAt"], res
    assert res[1]["response"] is None, res
    assert res[2]["response"]["duplicate"] is True, res
    assert res[2]["response"]["customerId"] == res[0]["response"]["customerId"], res
    st, _, js = api("POST", "/v1/events:batch", {"events": []})
    assert st == 400 and [d["field"] for d in js["error"]["details"]] == ["events"], (st, js)
    st, _, js = api("POST", "/v1/events:batch", {"events": [good] * 101})
    assert st == 400 and [d["reason"] for d in js["error"]["details"]] == ["TOO_MANY"], (st, js)
    st, _, js = api("POST", "/v1/events:batch", {"events": [good]}, key=None)
    assert st == 401, (st, js)
