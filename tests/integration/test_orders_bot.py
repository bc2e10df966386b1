"""The Orders bot (docs/rules.md, "Orders bot"): rules of an order trigger
that act on the order that started them. Each order action writes an order
instruction, shows it on the customer's timeline and publishes
order.instruction on the "notes" event stream once, however often the run is
tried; the store follows the stream and applies it. Every test works in a
business of its own, so its rules never start on another test's events."""

import email
import email.policy

import zmq

import crm
from crm import api, mails_to, unique, unique_email, wait_until
from test_bus_trust import (EVENTS_OUT, _admitted, _curve, _ctx, _field, _parse, _suite_key,
                            _system_key)


def _business():
    """A new business and an admin key of it: (tenant, key)."""
    tenant = crm.crmctl(["tenant", "create", unique("Shop")]).strip()
    key = crm.crmctl(["keys", "create", "--tenant", tenant, "--name", unique("key"),
                      "--role", "admin"]).strip()
    return tenant, key


def _person(**kw):
    p = {"externalId": unique("c"), "firstName": "Olga", "lastName": unique("Kowalska"),
         "email": unique_email("olga")}
    p.update(kw)
    return p


def _order(person, total, type_="order.placed", order_id=None, currency="EUR"):
    return {"source": "shop", "eventId": unique("ev"), "type": type_,
            "occurredAt": "2026-11-20T10:00:00Z", "customer": person,
            "order": {"id": order_id or unique("o"),
                      "total": {"amountMinor": total, "currency": currency}}}


def _ingest(key, ev):
    st, _, js = api("POST", "/v1/events", ev, key=key)
    assert st == 202, (st, js)
    return js["customerId"]


def _rule(key, body, status=201):
    body.setdefault("name", unique("Orders bot"))
    body.setdefault("enabled", True)
    body.setdefault("trigger", "RULE_TRIGGER_ORDER_PLACED")
    st, _, js = api("POST", "/v1/rules", body, key=key)
    assert st == status, (st, js)
    return js


def _settled(key, rule_id, n):
    """The rule's runs, newest first, once n of them have ended."""
    def done():
        st, _, js = api("GET", "/v1/rules/%s/runs" % rule_id, key=key)
        assert st == 200, js
        runs = js.get("runs", [])
        ended = [r for r in runs if r["status"] not in ("PENDING",)]
        return runs if len(runs) >= n and len(ended) == len(runs) else None
    return wait_until(done, timeout=30, what="the rule's runs end")


def _instructions(key, cid, order_id, source="shop"):
    st, _, js = api("GET", crm.q("/v1/customers/%s/orderInstructions" % cid, source=source,
                                 orderId=order_id), key=key)
    assert st == 200, (st, js)
    return js.get("instructions", [])


# ---------------------------------------------------------------- the stream


def _instruction_of(payload):
    """An order.instruction event's payload (crm.OrderInstruction) as a dict."""
    f = _parse(payload)
    names = {1: "id", 2: "customerId", 3: "orderSource", 4: "orderId", 5: "kind", 6: "value",
             7: "ruleId", 8: "ruleName", 9: "eventId", 10: "createdAt"}
    return {name: f.get(no, [b""])[-1].decode() for no, name in names.items()}


def _replay(client, after_seq):
    """notes.ReplayEvents: (reply header, [(seq, type, instruction)], last_seq)."""
    rh, out = client.call("notes", "notes.ReplayEvents", _field(1, after_seq) + _field(2, 1000))
    f = _parse(out)
    events = []
    for raw in f.get(1, []):
        e = _parse(raw)
        typ = e.get(4, [b""])[-1].decode()
        events.append((e.get(2, [0])[-1], typ,
                       _instruction_of(e.get(10, [b""])[-1]) if typ == "order.instruction"
                       else None))
    return rh, events, f.get(2, [0])[-1]


class _Store:
    """What a store does (docs/rules.md, "The store's side"): subscribes to
    the "notes" topic first, then replays from where it stands with its
    tenant's events:read key, and applies each order.instruction of its
    tenant once, by seq."""

    def __init__(self, tenant):
        self.sub = _ctx.socket(zmq.SUB)
        self.sub.linger = 0
        _curve(self.sub, _suite_key("crmctl"))
        self.sub.setsockopt(zmq.SUBSCRIBE, b"notes")
        self.sub.connect(EVENTS_OUT)
        _, keys = _system_key(tenant, "events:read")
        self.client = _admitted(keys)
        rh, _, self.last = _replay(self.client, 1 << 62)
        assert rh["status"] == "OK", rh
        self.applied = []
        self.live = 0

    def follow(self):
        """Takes in what the topic carried, then replays past the last seq."""
        while self.sub.poll(0):
            topic, _ = self.sub.recv_multipart()
            assert topic == b"notes"
            self.live += 1
        rh, events, _ = _replay(self.client, self.last)
        assert rh["status"] == "OK", rh
        for seq, typ, ins in events:
            assert seq == self.last + 1, (seq, self.last)
            self.last = seq
            if typ == "order.instruction":
                self.applied.append(ins)
        return self.applied

    def close(self):
        self.sub.close()
        self.client.close()


# ---------------------------------------------------------------- tests


def test_order_actions_write_instructions_once_on_the_timeline_and_the_stream():
    tenant, key = _business()
    store = _Store(tenant)
    try:
        rule = _rule(key, {
            "name": unique("VIP orders"),
            "conditions": [{"kind": "RULE_CONDITION_ORDER_TOTAL_AT_LEAST", "number": "10000",
                            "currency": "EUR"}],
            "actions": [{"kind": "RULE_ACTION_ORDER_HOLD", "value": "check the address"},
                        {"kind": "RULE_ACTION_ORDER_PRIORITY", "value": "express"},
                        {"kind": "RULE_ACTION_ORDER_NOTE", "text": "A gift for {{firstName}}"}]})
        p = _person()
        small = _order(p, 5000)
        cid = _ingest(key, small)
        runs = _settled(key, rule["id"], 1)
        assert runs[0]["outcomes"] == [{"code": "CONDITIONS_NOT_MET", "value": ""}], runs
        big = _order(p, 15000)
        _ingest(key, big)
        runs = _settled(key, rule["id"], 2)
        assert runs[0]["status"] == "DONE", runs
        assert runs[0]["outcomes"] == [
            {"code": "ORDER_HOLD", "value": "check the address"},
            {"code": "ORDER_PRIORITY", "value": "express"},
            {"code": "ORDER_NOTE", "value": "A gift for Olga"}], runs
        oid = big["order"]["id"]
        got = _instructions(key, cid, oid)
        assert [(i["kind"], i["value"]) for i in got] == [
            ("HOLD", "check the address"), ("PRIORITY", "express"), ("NOTE", "A gift for Olga")]
        assert all(i["ruleId"] == rule["id"] and i["ruleName"] == rule["name"]
                   and i["orderSource"] == "shop" and i["eventId"] == big["eventId"]
                   for i in got), got
        assert _instructions(key, cid, small["order"]["id"]) == []
        # The customer's timeline shows them on the order.
        st, _, tl = api("GET", "/v1/customers/%s/timeline?kind=ORDER_INSTRUCTION"
                        % cid, key=key)
        assert st == 200, tl
        shown = [e["orderInstruction"] for e in tl["entries"]]
        assert sorted(i["kind"] for i in shown) == ["HOLD", "NOTE", "PRIORITY"], tl
        assert all(e["actor"] == "rule: " + rule["name"] and e["source"] == "shop"
                   for e in tl["entries"]), tl
        # The store receives each once, with the order's source and id.
        applied = wait_until(lambda: (lambda a: a if len(a) >= 3 else None)(store.follow()),
                             timeout=20, what="the store receives the instructions")
        assert [(i["orderSource"], i["orderId"], i["kind"], i["value"]) for i in applied] == [
            ("shop", oid, "HOLD", "check the address"), ("shop", oid, "PRIORITY", "express"),
            ("shop", oid, "NOTE", "A gift for Olga")], applied
        # The topic carries the stream live too (its events, its heartbeat).
        wait_until(lambda: store.follow() and store.live >= 1, timeout=20,
                   what="the topic carries the notes stream")
        # The same order event again: no run, no instruction.
        st, _, again = api("POST", "/v1/events", big, key=key)
        assert st == 202 and again["duplicate"] is True, again
        assert len(_instructions(key, cid, oid)) == 3
    finally:
        store.close()


def test_a_retried_run_writes_its_instruction_once():
    tenant, key = _business()
    store = _Store(tenant)
    try:
        # The group does not exist: the second action fails on every attempt
        # (3 in the test stack), after the hold was written on the first.
        rule = _rule(key, {"actions": [
            {"kind": "RULE_ACTION_ORDER_HOLD", "value": "PROBLEM customer"},
            {"kind": "RULE_ACTION_ADD_TO_GROUP", "value": unique("no such group")}]})
        o = _order(_person(), 2500)
        cid = _ingest(key, o)
        runs = _settled(key, rule["id"], 1)
        assert runs[0]["status"] == "FAILED" and runs[0]["attempts"] == 3, runs
        got = _instructions(key, cid, o["order"]["id"])
        assert [(i["kind"], i["value"]) for i in got] == [("HOLD", "PROBLEM customer")], got
        applied = wait_until(lambda: store.follow() or None, timeout=20,
                             what="the store receives the hold")
        assert [i["kind"] for i in applied] == ["HOLD"], applied
    finally:
        store.close()


def test_first_order_of_a_business_customer():
    _, key = _business()
    rule = _rule(key, {
        "conditions": [{"kind": "RULE_CONDITION_FIRST_ORDER"},
                       {"kind": "RULE_CONDITION_HAS_COMPANY"}],
        "actions": [{"kind": "RULE_ACTION_ORDER_HOLD", "value": "check the VAT number"}]})
    email = unique_email("firma")
    st, _, c = api("POST", "/v1/customers", {"firstName": "Piotr", "email": email,
                                             "company": {"name": unique("Firma")}}, key=key)
    assert st == 201, c
    p = _person(email=email, firstName="Piotr")
    first = _order(p, 1000)
    assert _ingest(key, first) == c["id"]
    runs = _settled(key, rule["id"], 1)
    assert runs[0]["status"] == "DONE", runs
    _ingest(key, _order(p, 1000))
    runs = _settled(key, rule["id"], 2)
    assert runs[0]["status"] == "SKIPPED", runs  # not the first
    # A private customer's first order: no company.
    _ingest(key, _order(_person(), 1000))
    runs = _settled(key, rule["id"], 3)
    assert runs[0]["status"] == "SKIPPED", runs
    assert [i["kind"] for i in _instructions(key, c["id"], first["order"]["id"])] == ["HOLD"]


def test_staff_are_emailed_by_address_and_by_role():
    tenant, key = _business()
    _, owner, _ = crm.staff_owner(tenant)
    shop = unique_email("shop")
    rule = _rule(key, {"trigger": "RULE_TRIGGER_ORDER_PAID", "actions": [
        {"kind": "RULE_ACTION_ORDER_NOTIFY_STAFF", "staffEmail": shop,
         "subject": "Paid: {{fullName}}", "text": "Pack it today."},
        {"kind": "RULE_ACTION_ORDER_NOTIFY_STAFF", "staffRole": "ROLE_OWNER",
         "subject": "Owner, look", "text": "An order of {{firstName}}."}]})
    o = _order(_person(firstName="Ewa"), 4200, type_="order.paid")
    _ingest(key, o)
    runs = _settled(key, rule["id"], 1)
    assert runs[0]["status"] == "DONE", runs
    assert runs[0]["outcomes"] == [{"code": "STAFF_NOTIFIED", "value": shop},
                                   {"code": "STAFF_NOTIFIED", "value": "ROLE_OWNER"}], runs
    got = wait_until(lambda: mails_to(shop), timeout=20, what="the staff e-mail")
    assert "Pack it today." in got[0]["data"] and o["order"]["id"] in got[0]["data"]
    got = wait_until(lambda: mails_to(owner), timeout=20, what="the owner's e-mail")
    assert "An order of Ewa." in got[0]["data"], got[0]["data"][:600]
    assert len(mails_to(shop)) == 1


def test_the_staff_e_mail_writes_the_total_with_its_currencys_digits():
    """JPY has no minor digits, KWD three, EUR two: 1234 minor units read
    "1234 JPY", "1.234 KWD", "12.34 EUR" in the e-mail staff get."""
    tenant, key = _business()
    shop = unique_email("shop")
    _rule(key, {"trigger": "RULE_TRIGGER_ORDER_PAID", "actions": [
        {"kind": "RULE_ACTION_ORDER_NOTIFY_STAFF", "staffEmail": shop,
         "subject": "Paid", "text": "Pack it."}]})
    want = {"JPY": "1234 JPY", "KWD": "1.234 KWD", "EUR": "12.34 EUR"}
    ids = {}
    for currency in want:
        o = _order(_person(), 1234, type_="order.paid", currency=currency)
        ids[currency] = o["order"]["id"]
        _ingest(key, o)
    got = wait_until(lambda: (lambda m: m if len(m) == 3 else None)(mails_to(shop)),
                     timeout=30, what="the three staff e-mails")
    texts = [email.message_from_string(m["data"], policy=email.policy.default)
             .get_body(("plain",)).get_content().replace("\r\n", "\n") for m in got]
    for currency, total in want.items():
        line = "order %s (shop), %s\n" % (ids[currency], total)
        assert len([t for t in texts if line in t]) == 1, (line, texts)


def test_order_actions_need_an_order_trigger_and_limits_hold():
    _, key = _business()
    st, _, js = api("POST", "/v1/rules", {
        "name": unique("Wrong"), "enabled": True, "trigger": "RULE_TRIGGER_CUSTOMER_CREATED",
        "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": "x"},
                    {"kind": "RULE_ACTION_ORDER_PRIORITY", "value": "express"}]}, key=key)
    assert st == 400, js
    assert "rule.actions[1].kind" in str(js) and "RULE_ACTION_ORDER_PRIORITY" in str(js), js
    st, _, js = api("POST", "/v1/rules", {
        "name": unique("Wrong"), "enabled": True, "trigger": "RULE_TRIGGER_BOOKING_MADE",
        "conditions": [{"kind": "RULE_CONDITION_FIRST_ORDER"}],
        "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": "x"}]}, key=key)
    assert st == 400 and "rule.conditions[0].kind" in str(js), js
    cases = [({"kind": "RULE_ACTION_ORDER_PRIORITY", "value": "x" * 51}, "rule.actions[0].value"),
             ({"kind": "RULE_ACTION_ORDER_HOLD", "value": "x" * 201}, "rule.actions[0].value"),
             ({"kind": "RULE_ACTION_ORDER_NOTE", "text": "x" * 1001}, "rule.actions[0].text"),
             ({"kind": "RULE_ACTION_ORDER_NOTIFY_STAFF", "subject": "s", "text": "t"},
              "rule.actions[0].staffEmail")]
    for action, field in cases:
        st, _, js = api("POST", "/v1/rules", {"name": unique("Limit"), "enabled": True,
                                              "trigger": "RULE_TRIGGER_ORDER_PLACED",
                                              "actions": [action]}, key=key)
        assert st == 400 and field in str(js), (action, js)
    # At the limits they are taken.
    _rule(key, {"actions": [{"kind": "RULE_ACTION_ORDER_PRIORITY", "value": "x" * 50},
                            {"kind": "RULE_ACTION_ORDER_NOTE", "text": "x" * 1000}]})
    st, _, js = api("GET", "/v1/rules", key=key)
    assert len(js["rules"]) == 1, js  # nothing of the refused ones was stored


def test_dry_run_shows_the_order_actions_on_the_latest_order():
    _, key = _business()
    p = _person(firstName="Jan")
    _ingest(key, _order(p, 3000))
    latest = _order(p, 20000)
    cid = _ingest(key, latest)
    _ingest(key, _order(_person(), 500))  # too small
    body = {"rule": {"trigger": "RULE_TRIGGER_ORDER_PLACED",
                     "conditions": [{"kind": "RULE_CONDITION_ORDER_TOTAL_AT_LEAST",
                                     "number": "10000", "currency": "EUR"}],
                     "actions": [{"kind": "RULE_ACTION_ORDER_PRIORITY", "value": "express"},
                                 {"kind": "RULE_ACTION_ORDER_NOTE", "text": "Hi {{firstName}}"}]}}
    st, _, js = api("POST", "/v1/rules:dryRun", body, key=key)
    assert st == 200, js
    assert [m["customerId"] for m in js["matches"]] == [cid], js
    m = js["matches"][0]
    assert m["orderId"] == latest["order"]["id"] and m["orderSource"] == "shop", m
    assert m["orderActions"] == [{"code": "ORDER_PRIORITY", "value": "express"},
                                 {"code": "ORDER_NOTE", "value": "Hi Jan"}], m


def test_instructions_and_stream_stay_in_their_business():
    tenant_a, key_a = _business()
    tenant_b, key_b = _business()
    store_b = _Store(tenant_b)
    try:
        rule = _rule(key_a, {"actions": [{"kind": "RULE_ACTION_ORDER_HOLD", "value": "A only"}]})
        o = _order(_person(), 100)
        cid = _ingest(key_a, o)
        _settled(key_a, rule["id"], 1)
        assert len(_instructions(key_a, cid, o["order"]["id"])) == 1
        # B reads no instruction of A's customer (no such customer for B), and
        # sees no rule of A's.
        st, _, js = api("GET", crm.q("/v1/customers/%s/orderInstructions" % cid, source="shop",
                                     orderId=o["order"]["id"]), key=key_b)
        assert st == 404, js
        st, _, js = api("GET", "/v1/rules/%s" % rule["id"], key=key_b)
        assert st == 404, js
        # B's store replays A's event only as a placeholder.
        rh, events, _ = _replay(store_b.client, 0)
        assert rh["status"] == "OK", rh
        mine = [e for e in events if e[1] == "order.instruction"]
        assert not any(e[2]["orderId"] == o["order"]["id"] for e in mine), mine
        assert any(e[1] == "stream.elided" for e in events), events
    finally:
        store_b.close()


def test_any_order_id_is_read_and_bad_ones_are_refused():
    _, key = _business()
    _rule(key, {"actions": [{"kind": "RULE_ACTION_ORDER_PRIORITY", "value": "express"}]})
    o = _order(_person(), 100, order_id="#%s/1.2" % unique("A"))
    cid = _ingest(key, o)

    def read():
        st, _, js = api("GET", crm.q("/v1/customers/%s/orderInstructions" % cid, source="shop",
                                     orderId=o["order"]["id"]), key=key)
        assert st == 200, js
        return js.get("instructions")

    got = wait_until(read, timeout=30, what="the instruction of an order id with # / .")
    assert [(i["kind"], i["orderId"]) for i in got] == [("PRIORITY", o["order"]["id"])], got
    for params, field in (({"source": "shop", "orderId": "o" * 201}, "orderId"),
                          ({"source": "shop"}, "orderId"),
                          ({"source": "s" * 51, "orderId": "1"}, "source")):
        st, _, js = api("GET", crm.q("/v1/customers/%s/orderInstructions" % cid, **params),
                        key=key)
        assert st == 400 and field in str(js), (params, js)
    st, _, js = api("GET", "/v1/customers/not-a-uuid/orderInstructions?source=shop&orderId=1",
                    key=key)
    assert st == 404, js


def test_a_deleted_customers_order_notes_lose_their_text():
    _, key = _business()
    rule = _rule(key, {"actions": [{"kind": "RULE_ACTION_ORDER_NOTE", "text": "For {{fullName}}"},
                                   {"kind": "RULE_ACTION_ORDER_HOLD", "value": "wait"}]})
    o = _order(_person(firstName="Greta"), 700)
    cid = _ingest(key, o)
    _settled(key, rule["id"], 1)
    assert [i["kind"] for i in _instructions(key, cid, o["order"]["id"])] == ["NOTE", "HOLD"]
    st, _, js = api("DELETE", "/v1/customers/%s" % cid, key=key)
    assert st == 204, js

    def erased():
        rows = crm.psql_rows("SELECT kind, value FROM notes.order_instructions "
                             "WHERE customer_id = '%s' ORDER BY created_at, kind" % cid)
        return rows if rows and all(r[1] != "For Greta " + o["customer"]["lastName"]
                                    for r in rows) else None
    rows = wait_until(erased, timeout=30, what="the note's text erased")
    assert sorted(tuple(r) for r in rows) == [("HOLD", "wait"), ("NOTE", "")], rows
