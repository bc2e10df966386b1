"""Subscriptions and packages sold to a customer: plans (settings) created,
changed, retired and refused with the field named; selling a plan with its
end date computed, paid outside or from the money balance (a short balance is
a 409 with nothing written); visits used by booking reference (a retry uses
no second visit, concurrent uses never go below zero, the subscription ending
soonest first, 412 when none is usable) and given back; editing (every change
kept), cancelling with a refund, expiry, tenants kept apart, scopes, the
customer's deletion, and the timeline."""
import datetime as dt
import json
import threading

import crm
from crm import api, psql, q, unique, unique_email, wait_until
from test_wallet import _fields, _fits, _key, _tenant


def _customer(key):
    st, _, c = api("POST", "/v1/customers", {"firstName": "Sara", "lastName": unique("S"),
                                             "email": unique_email("sara")}, key=key)
    assert st == 201, (st, c)
    return c["id"]


def _plan(key, **more):
    body = {"name": unique("Yoga 10"), "kind": "PACKAGE", "visits": 10, "price": "12000"}
    body.update(more)
    st, _, p = api("POST", "/v1/plans", body, key=key)
    assert st == 201, (st, p)
    return p


def _sell(key, cid, plan_id, expect=201, **more):
    body = {"planId": plan_id}
    body.update(more)
    st, _, r = api("POST", "/v1/customers/%s/subscriptions" % cid, body, key=key)
    assert st == expect, (st, r)
    return r


def _use(key, cid, ref):
    return api("POST", "/v1/customers/%s/subscriptions:useVisit" % cid, {"reference": ref},
               key=key)


def _undo(key, cid, ref):
    return api("POST", "/v1/customers/%s/subscriptions:undoVisit" % cid, {"reference": ref},
               key=key)


def _subs(key, cid, **params):
    st, _, js = api("GET", q("/v1/customers/%s/subscriptions" % cid, **params), key=key)
    assert st == 200, (st, js)
    return js.get("subscriptions", [])


def _money(key, cid):
    st, _, w = api("GET", "/v1/customers/%s/wallet" % cid, key=key)
    assert st == 200, w
    return int(w["money"])


def _today():
    return dt.datetime.now(dt.timezone.utc).date()


def test_plans_crud_and_validation():
    key = _key(_tenant())
    p = _plan(key, name=unique("Monthly"), kind="SUBSCRIPTION", periodUnit="MONTH",
              periodCount=1, visits=0, price="9900")
    assert p["active"] and p["currency"] == "PLN" and p["periodUnit"] == "MONTH", p
    st, _, got = api("GET", "/v1/plans/%s" % p["id"], key=key)
    assert st == 200 and got["name"] == p["name"]
    st, _, ch = api("PATCH", "/v1/plans/%s" % p["id"], {"price": "10900"}, key=key)
    assert st == 200 and ch["price"] == "10900" and ch["name"] == p["name"], ch
    # Refused, naming the field.
    cases = [({"kind": "PACKAGE", "visits": 1, "price": "1"}, "plan.name"),
             ({"name": "x" * 101, "kind": "PACKAGE", "visits": 1}, "plan.name"),
             ({"name": unique("n"), "visits": 1}, "plan.kind"),
             ({"name": unique("n"), "kind": "SUBSCRIPTION", "visits": 1}, "plan.periodUnit"),
             ({"name": unique("n"), "kind": "SUBSCRIPTION", "periodUnit": "DAY",
               "periodCount": 3661}, "plan.periodCount"),
             ({"name": unique("n"), "kind": "SUBSCRIPTION", "periodUnit": "MONTH",
               "periodCount": 121}, "plan.periodCount"),
             ({"name": unique("n"), "kind": "PACKAGE"}, "plan.visits"),
             ({"name": unique("n"), "kind": "PACKAGE", "visits": 1001}, "plan.visits"),
             ({"name": unique("n"), "kind": "PACKAGE", "visits": 2, "price": "-1"},
              "plan.price"),
             ({"name": unique("n"), "kind": "PACKAGE", "visits": 2,
               "price": "100000000001"}, "plan.price")]
    for body, field in cases:
        st, _, err = api("POST", "/v1/plans", body, key=key)
        assert st == 400 and field in _fields(err), (body, st, err)
    # The currency and the times are the service's.
    st, _, err = api("PATCH", "/v1/plans/%s" % p["id"], {"currency": "USD"}, key=key)
    assert st == 400 and "updateMask" in _fields(err), err
    # A second plan of the same name: 409.
    st, _, err = api("POST", "/v1/plans", {"name": p["name"], "kind": "PACKAGE", "visits": 1},
                     key=key)
    assert st == 409 and "plan.name" in _fields(err), err
    # Retired plans leave the list unless asked for, and are not sold.
    st, _, r = api("PATCH", "/v1/plans/%s" % p["id"], {"active": False}, key=key)
    assert st == 200 and not r.get("active"), r
    st, _, lst = api("GET", "/v1/plans", key=key)
    assert p["id"] not in [x["id"] for x in lst.get("plans", [])]
    st, _, lst = api("GET", "/v1/plans?includeRetired=true", key=key)
    assert p["id"] in [x["id"] for x in lst["plans"]]
    err = _sell(key, _customer(key), p["id"], expect=412)
    assert "planId" in _fields(err), err
    # A plan never sold may be deleted; a sold one stays.
    sold = _plan(key)
    _sell(key, _customer(key), sold["id"])
    st, _, _ = api("DELETE", "/v1/plans/%s" % sold["id"], key=key)
    assert st == 412
    st, _, _ = api("DELETE", "/v1/plans/%s" % p["id"], key=key)
    assert st == 204
    assert api("GET", "/v1/plans/%s" % p["id"], key=key)[0] == 404


def test_sell_paid_outside_and_the_end_date():
    key = _key(_tenant())
    cid = _customer(key)
    plan = _plan(key, kind="SUBSCRIPTION", periodUnit="DAY", periodCount=30, visits=8)
    r = _sell(key, cid, plan["id"], note="paid cash")
    s = r["subscription"]
    today = _today()
    assert s["startsOn"] == today.isoformat()
    assert s["endsOn"] == (today + dt.timedelta(days=29)).isoformat()
    assert s["visitsLeft"] == 8 and s["state"] == "ACTIVE" and not s.get("paidFromBalance")
    assert not r.get("wallet"), r
    # A month plan from 31 January ends on the last day of February.
    month = _plan(key, kind="SUBSCRIPTION", periodUnit="MONTH", periodCount=1, visits=0)
    start = dt.date(today.year, 1, 31)  # within 366 days of any day of the year
    r = _sell(key, cid, month["id"], startsOn=start.isoformat())
    feb_end = (dt.date(start.year, 3, 1) - dt.timedelta(days=1)).isoformat()
    assert r["subscription"]["endsOn"] == feb_end and r["subscription"]["unlimited"], r
    # Bad input names the field and writes nothing.
    before = len(_subs(key, cid))
    for body, field in [({"startsOn": "2025-02-30"}, "startsOn"),
                        ({"startsOn": (today + dt.timedelta(days=400)).isoformat()}, "startsOn"),
                        ({"note": "n" * 501}, "note")]:
        err = _sell(key, cid, plan["id"], expect=400, **body)
        assert field in _fields(err), (body, err)
    err = _sell(key, cid, "", expect=400)
    assert "planId" in _fields(err)
    _sell(key, cid, "6f1c0c3e-1111-4111-8111-111111111111", expect=404)
    assert len(_subs(key, cid)) == before


def test_sell_from_the_balance_and_short_balance_writes_nothing():
    key = _key(_tenant())
    cid = _customer(key)
    plan = _plan(key, price="5000")
    st, _, _ = api("POST", "/v1/customers/%s/wallet:adjust" % cid,
                   {"kind": "MONEY", "amount": "7000", "reason": "top up"}, key=key)
    assert st == 200
    r = _sell(key, cid, plan["id"], payFromBalance=True)
    assert r["subscription"]["paidFromBalance"] and r["wallet"]["money"] == "2000", r
    st, _, ent = api("GET", "/v1/customers/%s/wallet/entries" % cid, key=key)
    assert ent["entries"][0]["amount"] == "-5000"
    assert ent["entries"][0]["reason"] == "subscription %s" % plan["name"]
    # 2000 left: a second sale from the balance is refused, nothing written.
    err = _sell(key, cid, plan["id"], expect=409, payFromBalance=True)
    assert "payFromBalance" in _fields(err), err
    assert len(_subs(key, cid)) == 1
    assert _money(key, cid) == 2000
    assert psql("SELECT count(*) FROM customers.subscriptions WHERE customer_id = '%s'"
                % cid).strip() == "1"


def test_use_a_visit_idempotently_then_undo():
    key = _key(_tenant())
    cid = _customer(key)
    plan = _plan(key, visits=3)
    sid = _sell(key, cid, plan["id"])["subscription"]["id"]
    ref = unique("booking")
    st, _, r = _use(key, cid, ref)
    assert st == 200 and r["subscription"]["visitsLeft"] == 2 and not r.get("replayed"), r
    st, _, r = _use(key, cid, ref)  # the booking system retries
    assert st == 200 and r["subscription"]["visitsLeft"] == 2 and r["replayed"], r
    st, _, r = _undo(key, cid, ref)
    assert st == 200 and r["subscription"]["visitsLeft"] == 3 and r["subscription"]["id"] == sid
    st, _, r = _undo(key, cid, ref)
    assert st == 200 and r["subscription"]["visitsLeft"] == 3 and r["replayed"], r
    # A cancelled booking's reference uses no visit again.
    st, _, err = _use(key, cid, ref)
    assert st == 409 and "reference" in _fields(err), err
    st, _, err = _undo(key, cid, unique("never"))
    assert st == 404
    st, _, err = _use(key, cid, "")
    assert st == 400 and "reference" in _fields(err)
    st, _, err = _use(key, cid, "r" * 201)
    assert st == 400 and "reference" in _fields(err)
    # Used up: 412.
    for _ in range(3):
        assert _use(key, cid, unique("b"))[0] == 200
    assert _subs(key, cid)[0]["state"] == "USED_UP"
    st, _, err = _use(key, cid, unique("b"))
    assert st == 412, err
    # Another customer of the tenant has none: 412.
    assert _use(key, _customer(key), unique("b"))[0] == 412


def test_the_one_ending_soonest_is_used():
    key = _key(_tenant())
    cid = _customer(key)
    later = _plan(key, kind="SUBSCRIPTION", periodUnit="DAY", periodCount=60, visits=5)
    sooner = _plan(key, kind="SUBSCRIPTION", periodUnit="DAY", periodCount=10, visits=5)
    never = _plan(key, visits=5)
    ids = {n: _sell(key, cid, p["id"])["subscription"]["id"]
           for n, p in (("later", later), ("sooner", sooner), ("never", never))}
    # Starting tomorrow: not usable today.
    _sell(key, cid, sooner["id"], startsOn=(_today() + dt.timedelta(days=1)).isoformat())
    st, _, r = _use(key, cid, unique("b"))
    assert st == 200 and r["subscription"]["id"] == ids["sooner"], r


def test_concurrent_uses_never_go_below_zero():
    key = _key(_tenant())
    cid = _customer(key)
    plan = _plan(key, visits=5)
    _sell(key, cid, plan["id"])
    results = []

    def use():
        results.append(_use(key, cid, unique("b"))[0])

    threads = [threading.Thread(target=use) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [200] * 5 + [412] * 7, results
    assert _subs(key, cid)[0]["visitsLeft"] == 0
    assert psql("SELECT count(*) FROM customers.subscription_visits WHERE customer_id = '%s'"
                % cid).strip() == "5"


def test_edit_is_audited_and_expiry():
    key = _key(_tenant())
    cid = _customer(key)
    plan = _plan(key, kind="SUBSCRIPTION", periodUnit="DAY", periodCount=30, visits=10)
    s = _sell(key, cid, plan["id"])["subscription"]
    path = "/v1/customers/%s/subscriptions/%s" % (cid, s["id"])
    st, _, r = api("PATCH", path, {"visitsLeft": 4, "note": "moved from paper"}, key=key)
    assert st == 200 and r["visitsLeft"] == 4 and r["note"] == "moved from paper", r
    assert [(c["field"], c["oldValue"], c["newValue"]) for c in r["changes"]] == \
        [("visitsLeft", "10", "4"), ("note", "", "moved from paper")], r
    for body, field in [({"visitsLeft": 11}, "subscription.visitsLeft"),
                        ({"endsOn": "2020-01-01"}, "subscription.endsOn"),
                        ({"endsOn": "tomorrow"}, "subscription.endsOn"),
                        ({"note": "n" * 501}, "subscription.note")]:
        st, _, err = api("PATCH", path, body, key=key)
        assert st == 400 and field in _fields(err), (body, err)
    # Ending yesterday: expired, and no visit is used from it.
    yesterday = (_today() - dt.timedelta(days=1)).isoformat()
    psql("UPDATE customers.subscriptions SET starts_on = '%s' WHERE id = '%s'"
         % ((_today() - dt.timedelta(days=5)).isoformat(), s["id"]))
    st, _, r = api("PATCH", path, {"endsOn": yesterday}, key=key)
    assert st == 200 and r["state"] == "EXPIRED" and len(r["changes"]) == 3, r
    assert _use(key, cid, unique("b"))[0] == 412
    assert [x["id"] for x in _subs(key, cid, state="EXPIRED")] == [s["id"]]
    assert _subs(key, cid, state="ACTIVE") == []


def test_cancel_with_refund():
    key = _key(_tenant())
    cid = _customer(key)
    plan = _plan(key, price="3000", visits=4)
    s = _sell(key, cid, plan["id"])["subscription"]
    path = "/v1/customers/%s/subscriptions/%s:cancel" % (cid, s["id"])
    st, _, err = api("POST", path, {"refund": "3001"}, key=key)
    assert st == 400 and "refund" in _fields(err), err
    st, _, r = api("POST", path, {"reason": "moved away", "refund": "1500"}, key=key)
    assert st == 200, r
    c = r["subscription"]
    assert c["state"] == "CANCELLED" and c["cancelReason"] == "moved away" and c["cancelledBy"]
    assert c["refunded"] == "1500" and r["wallet"]["money"] == "1500", r
    st, _, _ = api("POST", path, {}, key=key)
    assert st == 409
    assert _use(key, cid, unique("b"))[0] == 412
    st, _, _ = api("PATCH", "/v1/customers/%s/subscriptions/%s" % (cid, s["id"]),
                   {"note": "x"}, key=key)
    assert st == 412
    assert _subs(key, cid, state="CANCELLED")[0]["id"] == s["id"]


def test_another_tenant_sees_nothing():
    key_a, key_b = _key(_tenant()), _key(_tenant())
    cid = _customer(key_a)
    plan = _plan(key_a)
    s = _sell(key_a, cid, plan["id"])["subscription"]
    st, _, lst = api("GET", "/v1/plans", key=key_b)
    assert st == 200 and not lst.get("plans"), lst
    assert api("GET", "/v1/plans/%s" % plan["id"], key=key_b)[0] == 404
    assert api("GET", "/v1/customers/%s/subscriptions" % cid, key=key_b)[0] == 404
    assert api("GET", "/v1/customers/%s/subscriptions/%s" % (cid, s["id"]),
               key=key_b)[0] == 404
    assert _sell(key_b, _customer(key_b), plan["id"], expect=404)
    assert _use(key_b, cid, unique("b"))[0] == 404
    assert _subs(key_a, cid)[0]["visitsLeft"] == 10


def test_scopes():
    tenant = _tenant()
    admin, readonly, staff = _key(tenant), _key(tenant, "readonly"), _key(tenant, "staff")
    plan = _plan(admin)
    cid = _customer(admin)
    # Plans are settings: staff read them but do not make them.
    st, _, _ = api("POST", "/v1/plans", {"name": unique("p"), "kind": "PACKAGE", "visits": 1},
                   key=staff)
    assert st == 403
    assert api("GET", "/v1/plans", key=staff)[0] == 200
    s = _sell(staff, cid, plan["id"])["subscription"]
    assert _sell(readonly, cid, plan["id"], expect=403)
    assert _subs(readonly, cid)[0]["id"] == s["id"]
    assert _use(readonly, cid, unique("b"))[0] == 403
    booking = _key(tenant, "service", scopes=["customers:read", "customers:write"])
    ref = unique("b")
    body = {"customerId": cid, "reference": ref}
    out = json.loads(crm.crmctl(["call", "customers", "UseVisit", json.dumps(body),
                                 "--key", booking]))
    assert out["status"] == "OK" and out["body"]["subscription"]["visitsLeft"] == 9, out
    again = json.loads(crm.crmctl(["call", "customers", "UseVisit", json.dumps(body),
                                   "--key", booking]))
    assert again["body"]["replayed"] and again["body"]["subscription"]["visitsLeft"] == 9


def test_timeline_and_erasure():
    key = _key(_tenant())
    cid = _customer(key)
    plan = _plan(key, name=unique("Yoga 10"), visits=10)
    words = unique("private note")
    s = _sell(key, cid, plan["id"], note=words)["subscription"]
    assert _use(key, cid, unique("b"))[0] == 200
    st, _, _ = api("POST", "/v1/customers/%s/subscriptions/%s:cancel" % (cid, s["id"]),
                   {"reason": "moved"}, key=key)
    assert st == 200

    def rows():
        st, _, js = api("GET", q("/v1/customers/%s/timeline" % cid, kind="SUBSCRIPTION"),
                        key=key)
        assert st == 200, js
        got = js.get("entries", [])
        return got if len(got) == 3 else None

    got = wait_until(rows, timeout=20, what="three subscription entries in the timeline")
    assert sorted(r["type"] for r in got) == ["subscription.cancelled", "subscription.sold",
                                              "subscription.visit_used"]
    used = [r for r in got if r["type"] == "subscription.visit_used"][0]
    assert used["subscription"]["planName"] == plan["name"]
    assert used["subscription"]["visitsLeft"] == 9
    # What staff typed stays on the subscription, out of the events and the timeline.
    assert not used["subscription"].get("note"), used
    assert psql("SELECT count(*) FROM customers.outbox WHERE position('%s'::bytea IN event) > 0"
                % words).strip() == "0"
    st, _, _ = api("DELETE", "/v1/customers/%s" % cid, key=key)
    assert st == 204
    for table in ("subscriptions", "subscription_visits"):
        assert psql("SELECT count(*) FROM customers.%s WHERE customer_id = '%s'"
                    % (table, cid)).strip() == "0"
    assert psql("SELECT count(*) FROM customers.subscription_changes WHERE subscription_id = "
                "'%s'" % s["id"]).strip() == "0"



def test_ui_plans_sell_use_edit_cancel_at_390px_in_two_languages():
    import os
    from test_ui import SHOTS, _browser, _no_js_errors, _open

    key = _key(_tenant("BG"))
    cid = _customer(key)
    st, _, _ = api("POST", "/v1/customers/%s/wallet:adjust" % cid,
                   {"kind": "MONEY", "amount": "15000", "reason": "top up"}, key=key)
    assert st == 200
    name = unique("Yoga 10")
    with _browser("subs-card") as b:
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        b.get(crm.URL + "/")
        b.wait("input[name=apiKey]").send_keys(key)
        b.find(".signin-card button[type=submit]").click()
        b.wait("#customer-table")
        # Settings › plans: a package of 10 visits for 120.00.
        _open(b, "/settings")
        b.wait("#plan-name").send_keys(name)
        b.find("#plan-visits").send_keys("10")
        b.find("#plan-price").send_keys("120")
        b.find("#plan-add").click()
        b.wait_text("#plans-list", name)
        assert "€120.00" in b.find("#plans-list").text, b.find("#plans-list").text
        _fits(b)
        # The card: sell it, paid from the balance.
        _open(b, "/customers/" + cid)
        b.wait_text("#subs-list", "No subscriptions yet.")
        b.find("#subs-sell-open").click()
        b.wait("#subs-plan")
        b.find("#subs-pay-balance").click()
        b.find("#subs-sell").click()
        b.wait_text("#subs-list", name)
        b.wait_text("#subs-list", "10 of 10 visits left")
        b.wait_text("#wallet-money", "30.00")
        _fits(b)
        # The booking system uses a visit: the card shows it after a reload.
        assert _use(key, cid, unique("b"))[0] == 200
        _open(b, "/customers")
        _open(b, "/customers/" + cid)
        b.wait_text("#subs-list", "9 of 10 visits left")
        b.wait_text("#timeline", "Visit used (%s), 9 left" % name)
        # Click it: see and edit it, the change kept.
        b.find("#subs-list .subs-open").click()
        b.wait("#subs-visits").fill("7")
        b.find("#subs-save").click()
        b.wait_text("#subs-changes", "Visits left: 9 → 7")
        b.wait_text("#subs-list", "7 of 10 visits left")
        _fits(b)
        b.full_screenshot(os.path.join(SHOTS, "subs-card-narrow.png"))
        # In Bulgarian: the list, the timeline, then cancelling with a refund.
        b.js("localStorage.setItem('crm.lang', 'bg');")
        try:
            _open(b, "/customers")
            _open(b, "/customers/" + cid)
            b.wait_text("#subs-list", "Остават 7 от 10 посещения")
            b.wait_text("#subs-list", "Активен")
            b.wait_text("#timeline", "Продаден абонамент „%s“" % name)
            b.find("#subs-list .subs-open").click()
            b.wait("#subs-refund").send_keys("50")
            b.find("#subs-cancel-reason").send_keys("Премества се")
            b.find("#subs-cancel").click()
            b.wait(".dialog .confirm-yes").click()
            b.wait_text("#subs-list", "Анулиран")
            b.wait_text("#wallet-money", "80,00")
            _fits(b)
            b.full_screenshot(os.path.join(SHOTS, "subs-card-narrow-bg.png"))
        finally:
            b.js("localStorage.removeItem('crm.lang');")
        _no_js_errors(b)
    s = _subs(key, cid)[0]
    assert s["state"] == "CANCELLED" and s["refunded"] == "5000" and s["visitsLeft"] == 7, s


def test_limits_of_plans_and_of_subscriptions_a_customer_has():
    key = _key(_tenant())
    plan = _plan(key, name="p000", visits=1)
    for i in range(1, 200):
        st, _, p = api("POST", "/v1/plans", {"name": "p%03d" % i, "kind": "PACKAGE", "visits": 1},
                       key=key)
        assert st == 201, (i, st, p)
    st, _, err = api("POST", "/v1/plans", {"name": "p200", "kind": "PACKAGE", "visits": 1},
                     key=key)
    assert st == 429 and "200 plans" in err["error"]["message"], (st, err)
    # Retired plans count too; changing one is still possible.
    st, _, _ = api("PATCH", "/v1/plans/%s" % plan["id"], {"active": False}, key=key)
    assert st == 200
    assert api("POST", "/v1/plans", {"name": "p201", "kind": "PACKAGE", "visits": 1},
               key=key)[0] == 429
    assert api("PATCH", "/v1/plans/%s" % plan["id"], {"active": True}, key=key)[0] == 200
    cid = _customer(key)
    for i in range(200):
        _sell(key, cid, plan["id"])
    err = _sell(key, cid, plan["id"], expect=429)
    assert "200 subscriptions" in err["error"]["message"], err
    assert len(_subs(key, cid)) == 200


def test_ui_a_read_only_member_sees_subscriptions_but_sells_edits_and_cancels_nothing():
    from test_ui import _browser, _no_js_errors, _open
    from test_ui_staff import member, sign_in

    plan = _plan(crm.DEFAULT, name=unique("Pilates 5"), visits=5)
    cid = _customer(crm.DEFAULT)
    _sell(crm.DEFAULT, cid, plan["id"])
    addr, password, _, _ = member("READONLY")
    with _browser("subs-read-only") as b:
        sign_in(b, addr, password)
        _open(b, "/customers/" + cid)
        b.wait_text("#subs-list", plan["name"])
        assert not b.find("#subs-sell-open").displayed()
        b.find("#subs-list .subs-open").click()
        b.wait_text("#subs-detail", "5 of 5 visits left")
        for css in ("#subs-edit", "#subs-cancel-form"):
            assert not b.find(css).displayed(), css
        _no_js_errors(b)
