"""Intake in batches (notes.IngestEvents): a batch's take-in statements go to
PostgreSQL at once, in one transaction; each event is still answered as
IngestEvent would answer it. These check what a batch adds to the single
event's rules: events of one customer out of order within one batch,
repeats within one batch, and many batches of one hot customer from several
connections at once, each ending with the figures the rows imply."""
import json
import os
import random

import crm
from crm import unique
from test_history import (_booking_event, _call, _order_event, _person, _recount,
                          _summary_figures, _timeline)


def _ok(result):
    return result.get("header", {}).get("status", "OK") == "OK"


def _status(table, key, value):
    return crm.psql("SELECT status FROM notes.%s WHERE %s = '%s'" % (table, key, value)).strip()


def test_one_customers_events_out_of_order_in_one_batch_end_right():
    """Within one batch the later stage arrives first: a booking attended
    before it was created, another cancelled before it was moved, an order
    refunded before it was paid and placed. Each booking and order ends in
    its latest stage, and the summary is what the rows say."""
    p = _person()
    b1 = {"id": unique("b"), "service": "Cut", "startsAt": "2025-05-01T10:00:00Z"}
    b2 = {"id": unique("b"), "service": "Colour", "startsAt": "2025-06-01T10:00:00Z"}
    o1 = {"id": unique("o"), "total": {"amountMinor": 9000, "currency": "PLN"}}
    events = [
        _booking_event(p, "booking.attended", b1, "2025-05-01T11:00:00Z"),
        _order_event(p, "order.refunded", dict(o1, refund={"amountMinor": 2000, "currency": "PLN"}),
                     "2025-05-20T10:00:00Z"),
        _booking_event(p, "booking.cancelled", b2, "2025-05-10T10:00:00Z"),
        _booking_event(p, "booking.created", b1, "2025-04-01T10:00:00Z"),
        _order_event(p, "order.paid", o1, "2025-05-02T10:01:00Z"),
        _booking_event(p, "booking.moved", dict(b2, startsAt="2025-06-02T10:00:00Z"),
                       "2025-05-05T10:00:00Z"),
        _order_event(p, "order.placed", o1, "2025-05-02T10:00:00Z"),
        _booking_event(p, "booking.created", b2, "2025-05-03T10:00:00Z"),
    ]
    out = _call("notes", "IngestEvents", {"events": events})
    assert out["status"] == "OK", out
    res = out["body"]["results"]
    assert all(_ok(r) for r in res), res
    cids = {r["response"]["customerId"] for r in res}
    assert len(cids) == 1, cids
    assert not any(r["response"].get("duplicate") for r in res), res
    cid = cids.pop()
    assert _status("bookings", "booking_id", b1["id"]) == "ATTENDED"
    assert _status("bookings", "booking_id", b2["id"]) == "CANCELLED"
    assert _status("orders", "order_id", o1["id"]) == "REFUNDED"
    figures = _summary_figures(cid)
    assert figures == _recount(cid), figures
    assert (figures["bookings"], figures["attended"], figures["cancellations"]) == (2, 1, 1), figures
    assert figures["firstBookingAt"] == "2025-04-01T10:00:00Z", figures
    assert figures["lastVisitAt"] == "2025-05-01T10:00:00Z", figures
    assert figures["totalSpent"] == [("PLN", 7000)], figures
    # Every event is one entry of the timeline.
    mine = {e["eventId"] for e in events}
    assert sorted(e["eventId"] for e in _timeline(cid) if e.get("eventId") in mine) == sorted(mine)


def test_repeats_within_one_batch_are_duplicates_of_the_first():
    """The same event three times in one batch, among other events of the
    same customer: the first is taken in, the others are duplicates naming the
    same customer; a fourth copy with other content is refused as REUSED; the
    booking counts once, and the other events of the batch are taken in."""
    p = _person()
    b = {"id": unique("b"), "service": "Cut", "startsAt": "2025-07-01T10:00:00Z"}
    created = _booking_event(p, "booking.created", b, "2025-06-01T10:00:00Z")
    other = _booking_event(p, "booking.created", dict(b, id=unique("b")), "2025-06-02T10:00:00Z")
    attended = _booking_event(p, "booking.attended", b, "2025-07-01T11:00:00Z")
    changed = dict(created, occurredAt="2025-06-01T10:30:00Z")
    batch = [created, other, created, attended, changed, created]
    out = _call("notes", "IngestEvents", {"events": batch})
    assert out["status"] == "OK", out
    res = out["body"]["results"]
    assert len(res) == 6, res
    for i in (0, 1, 2, 3, 5):
        assert _ok(res[i]), (i, res[i])
    assert [bool(res[i]["response"].get("duplicate")) for i in (0, 1, 2, 3, 5)] == \
        [False, False, True, False, True], res
    cid = res[0]["response"]["customerId"]
    assert {res[i]["response"]["customerId"] for i in (0, 1, 2, 3, 5)} == {cid}, res
    assert res[4]["header"]["status"] == "INVALID_ARGUMENT", res[4]
    assert [(d["field"], d["reason"]) for d in res[4]["header"]["details"]] == \
        [("eventId", "REUSED")], res[4]
    assert res[4].get("response") is None, res[4]
    rows = crm.psql("SELECT count(*) FROM notes.timeline WHERE event_id = '%s'"
                    % created["eventId"]).strip()
    assert rows == "1", rows
    figures = _summary_figures(cid)
    assert figures == _recount(cid), figures
    assert (figures["bookings"], figures["attended"]) == (2, 1), figures
    # The same batch again: every event a duplicate (the changed copy refused again).
    again = _call("notes", "IngestEvents", {"events": batch})["body"]["results"]
    assert [bool(r.get("response") and r["response"].get("duplicate")) for r in again] == \
        [True, True, True, True, False, True], again
    assert _summary_figures(cid) == figures


def _publish(path, batch, window):
    fh = open(path, encoding="utf-8")
    return crm.crmctl_popen(["publish", "--key", crm.API_KEY, "--batch", str(batch),
                             "--window", str(window)], stdin=fh), fh


def test_many_batches_of_one_hot_customer_at_once_end_with_exact_figures():
    """Four publishers send batches at once from connections of their own,
    most events of one customer: bookings created, attended, moved earlier
    and later (the last visit moves back: the figures are computed again, and
    batches' commits meet on the customer's figures) and cancelled, orders
    placed, paid and refunded, each booking's and order's events spread over
    the publishers. Every event is taken in once, and the hot customer's
    figures (and the others') are what the rows say."""
    rnd = random.Random(2055)
    run = unique("hot")
    hot = _person()
    others = [_person() for _ in range(3)]
    events = []
    for i in range(80):
        who = hot if i % 5 else others[i % 3]
        b = {"id": "%s-b%d" % (run, i), "service": rnd.choice(["Cut", "Colour", "Nails"]),
             "startsAt": "2025-%02d-%02dT10:00:00Z" % (1 + i % 12, 1 + i % 28)}
        earlier = dict(b, startsAt="2024-%02d-%02dT09:00:00Z" % (1 + i % 12, 1 + i % 28))
        later = dict(b, startsAt="2025-%02d-%02dT15:00:00Z" % (1 + i % 12, 1 + i % 28))
        steps = [("booking.created", b), ("booking.attended", b),
                 ("booking.moved", earlier if i % 2 else later)]
        if i % 7 == 0:
            steps.append(("booking.cancelled", b))
        for k, (t, body) in enumerate(steps):
            events.append(_booking_event(who, t, body, "2025-%02d-%02dT%02d:00:00Z"
                                         % (1 + i % 12, 1 + i % 28, 8 + k)))
    for i in range(40):
        who = hot if i % 4 else others[i % 3]
        o = {"id": "%s-o%d" % (run, i),
             "total": {"amountMinor": 1000 + i, "currency": ["PLN", "EUR"][i % 2]}}
        events.append(_order_event(who, "order.placed", o, "2025-03-%02dT10:00:00Z" % (1 + i % 28)))
        events.append(_order_event(who, "order.paid", o, "2025-03-%02dT10:05:00Z" % (1 + i % 28)))
        if i % 3 == 0:
            events.append(_order_event(
                who, "order.refunded",
                dict(o, refund={"amountMinor": 100 + i, "currency": o["total"]["currency"]}),
                "2025-04-%02dT10:00:00Z" % (1 + i % 28)))
    rnd.shuffle(events)
    procs = []
    for n in range(4):
        path = os.path.join(crm.DATA_DIR, "%s-%d.jsonl" % (run, n))
        with open(path, "w") as f:
            f.write("\n".join(json.dumps(e) for e in events[n::4]) + "\n")
        proc, fh = _publish(path, 10, 4)
        procs.append((proc, path, fh))
    accepted = 0
    for proc, path, fh in procs:
        out, err = proc.communicate(timeout=180)
        fh.close()
        os.unlink(path)
        assert proc.returncode == 0, (out, err)
        s = json.loads(out.strip().splitlines()[-1])
        assert s["rejected"] == 0 and s["undelivered"] == 0 and s["duplicates"] == 0, s
        accepted += s["accepted"]
    assert accepted == len(events), accepted
    ids = ", ".join("'%s'" % e["eventId"] for e in events)
    assert crm.psql("SELECT count(*) FROM notes.timeline WHERE event_id IN (%s)"
                    % ids).strip() == str(len(events))
    cids = {r[0] for r in crm.psql_rows("SELECT DISTINCT customer_id FROM notes.intake "
                                         "WHERE event_id IN (%s)" % ids)}
    assert len(cids) == 4, cids
    for cid in cids:
        assert _summary_figures(cid) == _recount(cid), cid


test_many_batches_of_one_hot_customer_at_once_end_with_exact_figures.timeout = 240
