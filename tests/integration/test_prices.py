"""Price rules and the store's price question (docs/api.md, "Price rules";
docs/bus.md, "Price rules"): rules for a customer, a tag and a group, which
one wins, validity dates, rounding, an unknown customer, tags and groups
taken away, other tenants, scopes, bad input naming the field, the limits,
and the customer's timeline."""

import datetime

import crm
from crm import api, q, unique, unique_email, wait_until
from test_perms import _key


def _tenant(prefix="Prices", country="PL"):
    return crm.crmctl(["tenant", "create", unique(prefix), "--country", country]).strip()


def _customer(key=crm.DEFAULT, **fields):
    body = {"firstName": unique("Ann"), "email": unique_email("ann")}
    body.update(fields)
    st, _, js = api("POST", "/v1/customers", body, key=key)
    assert st == 201, js
    return js


def _rule(key=crm.DEFAULT, **rule):
    st, _, js = api("POST", "/v1/priceRules", rule, key=key)
    assert st == 201, js
    return js


def _quote(lines, key=crm.DEFAULT, **who):
    body = dict(who)
    body["lines"] = lines
    st, _, js = api("POST", "/v1/prices:quote", body, key=key)
    assert st == 200, js
    # int64 fields are JSON strings (the proto3 mapping): numbers here.
    for k in ("listTotalMinor", "totalMinor", "discountMinor"):
        js[k] = int(js.get(k, 0))
    for line in js["lines"]:
        for k in ("quantity", "unitPriceMinor", "priceMinor", "lineTotalMinor", "discountMinor"):
            line[k] = int(line.get(k, 0))
    return js


def _line(code, price, qty=1, category=None):
    line = {"productCode": code, "quantity": qty, "unitPriceMinor": price}
    if category:
        line["categoryCode"] = category
    return line


def _violations(js):
    return {v["field"]: v for v in js["error"].get("details", [])}


def _day(delta):
    return (datetime.datetime.now(datetime.timezone.utc).date()
            + datetime.timedelta(days=delta)).isoformat()


def test_rules_of_the_customer_a_tag_and_a_group_and_which_wins():
    tag = unique("vip")
    st, _, group = api("POST", "/v1/groups", {"name": unique("Regulars")})
    assert st == 201, group
    c = _customer(tags=[tag], groups=[group["name"]])
    sku, cat = unique("SKU"), unique("shoes")
    own = _rule(customerId=c["id"], target="PRODUCT", code=sku, percentOffBp=1000,
                name="Anna's boots")
    by_tag = _rule(tag=tag, target="ALL", percentOffBp=500)
    by_group = _rule(groupId=group["id"], target="CATEGORY", code=cat, amountOffMinor=1500)
    js = _quote([_line(sku, 10000, 2, cat), _line(unique("SKU"), 10000, 1, cat),
                 _line(unique("SKU"), 999, 3)], customerId=c["id"])
    assert js["customerId"] == c["id"] and len(js["currency"]) == 3, js
    a, b, d = js["lines"]
    # 10 % off 100.00 (own, product) beats 15.00 off (group) and 5 % (tag).
    assert a["priceMinor"] == 8500 and a["rule"]["id"] == by_group["id"], a
    assert b["priceMinor"] == 8500 and b["rule"]["via"] == "GROUP", b
    assert b["rule"]["groupName"] == group["name"], b
    # 999 * 0.95 = 949.05 -> 949; the tag's rule is the only one off the category.
    assert d["priceMinor"] == 949 and d["lineTotalMinor"] == 2847, d
    assert d["discountMinor"] == 150 and d["rule"]["id"] == by_tag["id"], d
    assert js["listTotalMinor"] == 20000 + 10000 + 2997, js
    assert js["totalMinor"] == 17000 + 8500 + 2847, js
    assert js["discountMinor"] == js["listTotalMinor"] - js["totalMinor"], js
    # Raise the own rule to 20 %: now it gives the lowest price on its product.
    st, _, upd = api("PATCH", "/v1/priceRules/%s" % own["id"], {"percentOffBp": 2000})
    assert st == 200 and upd["percentOffBp"] == 2000 and upd["code"] == sku, upd
    js = _quote([_line(sku, 10000, 1, cat)], customerId=c["id"])
    assert js["lines"][0]["priceMinor"] == 8000, js
    assert js["lines"][0]["rule"]["via"] == "CUSTOMER", js
    # The card's list: all three, each saying whence.
    st, _, mine = api("GET", "/v1/customers/%s/priceRules" % c["id"])
    assert st == 200, mine
    assert {(r["id"], r["via"]) for r in mine["rules"]} == {
        (own["id"], "CUSTOMER"), (by_tag["id"], "TAG"),
        (by_group["id"], "GROUP")}, mine
    # The rules of the tag and of the group, as their screens list them.
    st, _, js = api("GET", q("/v1/priceRules", tag=tag))
    assert st == 200 and [r["id"] for r in js["rules"]] == [by_tag["id"]], js
    st, _, js = api("GET", q("/v1/priceRules", groupId=group["id"]))
    assert st == 200 and [r["id"] for r in js["rules"]] == [by_group["id"]], js
    # Every rule, and the business's currency with them.
    st, _, js = api("GET", "/v1/priceRules")
    assert st == 200 and {own["id"], by_tag["id"], by_group["id"]} <= {r["id"] for r in js["rules"]}
    assert js["currency"] == mine["currency"] and len(js["currency"]) == 3, js


def test_a_tie_goes_to_the_more_specific_rule_and_rules_never_combine():
    tag = unique("vip")
    c = _customer(tags=[tag])
    sku, cat = unique("SKU"), unique("cat")
    _rule(tag=tag, target="ALL", amountOffMinor=100)
    by_cat = _rule(tag=tag, target="CATEGORY", code=cat, amountOffMinor=100)
    js = _quote([_line(sku, 1000, 1, cat)], customerId=c["id"])
    # Both give 9.00; the category's rule is named, and only 1.00 comes off.
    assert js["lines"][0]["priceMinor"] == 900, js
    assert js["lines"][0]["rule"]["id"] == by_cat["id"], js
    by_sku = _rule(customerId=c["id"], target="PRODUCT", code=sku, amountOffMinor=100)
    js = _quote([_line(sku, 1000, 1, cat)], customerId=c["id"])
    assert js["lines"][0]["rule"]["id"] == by_sku["id"], js
    assert js["lines"][0]["priceMinor"] == 900, js


def test_the_customer_by_e_mail_and_an_unknown_customer_pays_list_prices():
    email = unique_email("Store.Buyer")
    c = _customer(email=email)
    _rule(customerId=c["id"], target="ALL", percentOffBp=10000)
    js = _quote([_line("X-1", 1234, 2)], email=email.upper())
    assert js["customerId"] == c["id"] and js["lines"][0]["priceMinor"] == 0, js
    assert js["totalMinor"] == 0 and js["discountMinor"] == 2468, js
    for who in ({"email": unique_email("nobody")}, {"customerId": crm.TENANT},
                {"customerId": "not-an-id"}, {}):
        js = _quote([_line("X-1", 1234, 2)], **who)
        assert js.get("customerId", "") == "", (who, js)
        line = js["lines"][0]
        assert line["priceMinor"] == 1234 and not line.get("rule"), (who, js)
        assert js["totalMinor"] == js["listTotalMinor"] == 2468, (who, js)


def test_validity_dates():
    c = _customer()
    past = _rule(customerId=c["id"], target="ALL", percentOffBp=5000,
                 validFrom=_day(-10), validUntil=_day(-1))
    future = _rule(customerId=c["id"], target="ALL", percentOffBp=4000, validFrom=_day(1))
    today = _rule(customerId=c["id"], target="ALL", percentOffBp=1000, validFrom=_day(0),
                  validUntil=_day(0))
    js = _quote([_line("A", 1000)], customerId=c["id"])
    assert js["lines"][0]["rule"]["id"] == today["id"], js
    js = _quote([_line("A", 1000)], customerId=c["id"], date=_day(-5))
    assert js["lines"][0]["rule"]["id"] == past["id"], js
    js = _quote([_line("A", 1000)], customerId=c["id"], date=_day(30))
    assert js["lines"][0]["rule"]["id"] == future["id"], js
    st, _, js = api("GET", q("/v1/customers/%s/priceRules" % c["id"], date=_day(-1)))
    assert st == 200 and [r["id"] for r in js["rules"]] == [past["id"]], js


def test_rounding_is_half_up_to_the_minor_unit():
    c = _customer()
    _rule(customerId=c["id"], target="PRODUCT", code="HALF", percentOffBp=5000)
    _rule(customerId=c["id"], target="PRODUCT", code="EIGHTH", percentOffBp=1250)
    _rule(customerId=c["id"], target="PRODUCT", code="BIG", amountOffMinor=5000)
    js = _quote([_line("HALF", 1, 3), _line("HALF", 3), _line("EIGHTH", 1996),
                 _line("EIGHTH", 1999), _line("BIG", 4000, 2)], customerId=c["id"])
    got = [(l["priceMinor"], l["lineTotalMinor"]) for l in js["lines"]]
    # 0.5 -> 1 (per unit, then times 3); 1.5 -> 2; 1746.5 -> 1747; 1749.125 -> 1749;
    # 50.00 off 40.00 costs nothing, never less.
    assert got == [(1, 3), (2, 2), (1747, 1747), (1749, 1749), (0, 0)], got


def test_taking_the_tag_or_group_away_takes_the_discount_away():
    tag = unique("vip")
    st, _, group = api("POST", "/v1/groups", {"name": unique("Club")})
    assert st == 201, group
    c = _customer(tags=[tag], groups=[group["name"]])
    _rule(tag=tag, target="ALL", percentOffBp=1000)
    _rule(groupId=group["id"], target="ALL", percentOffBp=500)
    assert _quote([_line("A", 1000)], customerId=c["id"])["lines"][0]["priceMinor"] == 900
    st, _, js = api("PATCH", "/v1/customers/%s" % c["id"], {"tags": []})
    assert st == 200, js
    assert _quote([_line("A", 1000)], customerId=c["id"])["lines"][0]["priceMinor"] == 950
    st, _, js = api("DELETE", "/v1/groups/%s" % group["id"])
    assert st == 204, js
    js = _quote([_line("A", 1000)], customerId=c["id"])
    assert js["lines"][0]["priceMinor"] == 1000 and not js["lines"][0].get("rule"), js
    st, _, js = api("GET", "/v1/customers/%s/priceRules" % c["id"])
    assert st == 200 and js.get("rules", []) == [], js


def test_another_tenants_rules_never_apply():
    tenant = _tenant("Other")
    other = _key(tenant, role="admin")
    tag = unique("vip")
    mine = _customer(tags=[tag])
    theirs = _customer(key=other, tags=[tag], email=mine["email"])
    rule = _rule(key=other, tag=tag, target="ALL", percentOffBp=9000)
    _rule(key=other, customerId=theirs["id"], target="ALL", percentOffBp=9900)
    for who in ({"customerId": mine["id"]}, {"email": mine["email"]},
                {"customerId": theirs["id"]}):
        js = _quote([_line("A", 1000)], **who)
        assert js["lines"][0]["priceMinor"] == 1000, (who, js)
    # Their tenant prices its own customer; the rule ids are theirs alone.
    js = _quote([_line("A", 1000)], key=other, email=mine["email"])
    assert js["customerId"] == theirs["id"] and js["lines"][0]["priceMinor"] == 10, js
    assert js["currency"] == "PLN", js
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        st, _, js = api(method, "/v1/priceRules/%s" % rule["id"], body)
        assert st == 404, (method, js)
    # A rule for their customer cannot be made here.
    st, _, js = api("POST", "/v1/priceRules",
                    {"customerId": theirs["id"], "target": "ALL", "percentOffBp": 100})
    assert st == 400 and "customerId" in _violations(js), js


def test_scopes_a_store_key_reads_prices_but_cannot_change_rules():
    tenant = _tenant("Store")
    admin = _key(tenant, role="admin")
    c = _customer(key=admin)
    rule = _rule(key=admin, customerId=c["id"], target="ALL", percentOffBp=1000)
    store = _key(tenant, scopes=["customers:read"])
    js = _quote([_line("A", 1000)], key=store, customerId=c["id"])
    assert js["lines"][0]["priceMinor"] == 900, js
    st, _, js = api("GET", "/v1/customers/%s/priceRules" % c["id"], key=store)
    assert st == 200 and len(js["rules"]) == 1, js
    st, _, js = api("POST", "/v1/priceRules",
                    {"customerId": c["id"], "target": "ALL", "percentOffBp": 100}, key=store)
    assert st == 403 and "customers:write" in js["error"]["message"], js
    st, _, js = api("DELETE", "/v1/priceRules/%s" % rule["id"], key=store)
    assert st == 403, js
    booking = _key(tenant, scopes=["events:publish"])
    st, _, js = api("POST", "/v1/prices:quote", {"lines": [_line("A", 1)]}, key=booking)
    assert st == 403 and "customers:read" in js["error"]["message"], js
    readonly = _key(tenant, role="readonly")
    st, _, js = api("PATCH", "/v1/priceRules/%s" % rule["id"], {"name": "x"}, key=readonly)
    assert st == 403, js


def test_bad_rules_are_refused_naming_the_field():
    c = _customer()
    cases = [
        ({"target": "ALL", "percentOffBp": 100}, "customerId", "REQUIRED"),
        ({"customerId": c["id"], "tag": "x", "target": "ALL", "percentOffBp": 100},
         "customerId", "ONE_OF"),
        ({"customerId": c["id"], "percentOffBp": 100}, "target", "REQUIRED"),
        ({"customerId": c["id"], "target": "ALL", "code": "X", "percentOffBp": 100},
         "code", "NOT_ALLOWED"),
        ({"customerId": c["id"], "target": "PRODUCT", "percentOffBp": 100}, "code", "REQUIRED"),
        ({"customerId": c["id"], "target": "PRODUCT", "code": "x" * 65, "percentOffBp": 100},
         "code", "TOO_LONG"),
        ({"customerId": c["id"], "target": "ALL"}, "percentOffBp", "REQUIRED"),
        ({"customerId": c["id"], "target": "ALL", "percentOffBp": 10001}, "percentOffBp",
         "OUT_OF_RANGE"),
        ({"customerId": c["id"], "target": "ALL", "percentOffBp": -500}, "percentOffBp",
         "OUT_OF_RANGE"),
        ({"customerId": c["id"], "target": "ALL", "amountOffMinor": -1}, "amountOffMinor",
         "OUT_OF_RANGE"),
        ({"customerId": c["id"], "target": "ALL", "amountOffMinor": 100000000001},
         "amountOffMinor", "OUT_OF_RANGE"),
        ({"customerId": c["id"], "target": "ALL", "amountOffMinor": 5, "percentOffBp": 5},
         "amountOffMinor", "ONE_OF"),
        ({"customerId": c["id"], "target": "ALL", "percentOffBp": 5, "validFrom": "2026-02-30"},
         "validFrom", "INVALID_FORMAT"),
        ({"customerId": c["id"], "target": "ALL", "percentOffBp": 5, "validFrom": "2026-03-02",
          "validUntil": "2026-03-01"}, "validUntil", "OUT_OF_RANGE"),
        ({"customerId": c["id"], "target": "ALL", "percentOffBp": 5, "name": "n" * 101},
         "name", "TOO_LONG"),
        ({"tag": "t" * 51, "target": "ALL", "percentOffBp": 5}, "tag", "TOO_LONG"),
        ({"tag": "a\tb", "target": "ALL", "percentOffBp": 5}, "tag", "INVALID_FORMAT"),
        ({"customerId": c["id"], "target": "PRODUCT", "code": "a\nb", "percentOffBp": 5},
         "code", "INVALID_FORMAT"),
        ({"groupId": crm.TENANT, "target": "ALL", "percentOffBp": 5}, "groupId", "NOT_FOUND"),
        ({"customerId": "nope", "target": "ALL", "percentOffBp": 5}, "customerId", "NOT_FOUND"),
    ]
    for body, field, reason in cases:
        st, _, js = api("POST", "/v1/priceRules", body)
        assert st == 400, (body, js)
        v = _violations(js)
        assert field in v and v[field]["reason"] == reason, (body, field, js)
    # A rule's limits are inclusive; whom it is for never changes.
    r = _rule(customerId=c["id"], target="PRODUCT", code="x" * 64, percentOffBp=10000,
              name="n" * 100)
    assert r["percentOffBp"] == 10000 and r["via"] == "CUSTOMER", r
    st, _, js = api("PATCH", "/v1/priceRules/%s" % r["id"], {"tag": "x"})
    assert st == 400 and "updateMask" in _violations(js), js
    st, _, js = api("PATCH", "/v1/priceRules/%s" % r["id"], {"target": "ALL", "code": "",
                                                                 "percentOffBp": 1})
    assert st == 200 and js["code"] == "" and js["target"] == "ALL", js


def test_bad_carts_are_refused_naming_the_field():
    cases = [
        ({"lines": []}, "lines", "REQUIRED"),
        ({"lines": [_line("A", 100, 0)]}, "lines[0].quantity", "OUT_OF_RANGE"),
        ({"lines": [_line("A", 100, 100001)]}, "lines[0].quantity", "OUT_OF_RANGE"),
        ({"lines": [_line("A", 100), _line("B", -1)]}, "lines[1].unitPriceMinor",
         "OUT_OF_RANGE"),
        ({"lines": [_line("A", 100000000001)]}, "lines[0].unitPriceMinor", "OUT_OF_RANGE"),
        ({"lines": [_line("", 100)]}, "lines[0].productCode", "REQUIRED"),
        ({"lines": [_line("A" * 65, 100)]}, "lines[0].productCode", "TOO_LONG"),
        ({"lines": [_line("A", 100, 1, "c" * 65)]}, "lines[0].categoryCode", "TOO_LONG"),
        ({"lines": [_line("A", 1)] * 501}, "lines", "TOO_MANY"),
        ({"lines": [_line("A", 1)], "email": "not mail"}, "email", "INVALID_FORMAT"),
        ({"lines": [_line("A", 1)], "email": "a@example.com", "customerId": crm.TENANT},
         "email", "ONE_OF"),
        ({"lines": [_line("A", 1)], "date": "tomorrow"}, "date", "INVALID_FORMAT"),
    ]
    for body, field, reason in cases:
        st, _, js = api("POST", "/v1/prices:quote", body)
        assert st == 400, (body, js)
        v = _violations(js)
        assert field in v and v[field]["reason"] == reason, (field, js)
    # The largest cart is priced exactly.
    js = _quote([_line("A%d" % i, 100000000000, 100000) for i in range(500)])
    assert js["totalMinor"] == 500 * 100000 * 100000000000, js["totalMinor"]


def test_at_most_a_thousand_rules_per_business():
    tenant = _tenant("Many")
    key = _key(tenant, role="admin")
    # Fill up to the limit in one statement (the limit is on what is stored).
    crm.psql("INSERT INTO customers.price_rules (tenant_id, id, tag, target, percent_off_bp) "
             "SELECT '%s', gen_random_uuid(), 't' || i, 1, 100 FROM generate_series(1, 999) i"
             % tenant)
    last = _rule(key=key, tag="last", target="ALL", percentOffBp=100)
    st, _, js = api("POST", "/v1/priceRules", {"tag": "more", "target": "ALL",
                                               "percentOffBp": 100}, key=key)
    assert st == 412, js
    assert js["error"]["status"] == "FAILED_PRECONDITION" and "1000" in js["error"]["message"], js
    st, _, js = api("DELETE", "/v1/priceRules/%s" % last["id"], key=key)
    assert st == 204, js
    _rule(key=key, tag="again", target="ALL", percentOffBp=100)


def test_a_customers_own_rule_shows_on_the_timeline():
    c = _customer()
    r = _rule(customerId=c["id"], target="CATEGORY", code="boots", percentOffBp=1500,
              name="Winter boots")
    st, _, js = api("PATCH", "/v1/priceRules/%s" % r["id"], {"percentOffBp": 2000})
    assert st == 200, js
    st, _, js = api("DELETE", "/v1/priceRules/%s" % r["id"])
    assert st == 204, js
    st, _, js = api("DELETE", "/v1/priceRules/%s" % r["id"])
    assert st == 404 and r["id"] in js["error"]["message"], js

    def rows():
        st, _, js = api("GET", "/v1/customers/%s/timeline" % c["id"])
        assert st == 200, js
        got = [e for e in js.get("entries", []) if e["type"].startswith("customer.discount_")]
        return got if len(got) == 3 else None

    got = wait_until(rows, timeout=20, what="the discount's timeline rows")
    assert [e["type"] for e in got] == ["customer.discount_removed", "customer.discount_changed",
                                        "customer.discount_added"], got
    assert "Winter boots" in got[2]["changes"][0]["newValue"], got
    changed = got[1]["changes"][0]
    assert '"percentOffBp":1500' in changed["oldValue"], changed
    assert '"percentOffBp":2000' in changed["newValue"], changed
    st, _, js = api("GET", "/v1/customers/%s/audit" % c["id"])
    assert st == 200, js
    assert {"discount_added", "discount_changed", "discount_removed"} <= {
        e["action"] for e in js["entries"]}, js
    # A tag's or a group's rule is no change of a customer: nothing on anyone's timeline.
    tag = unique("vip")
    other = _customer(tags=[tag])
    _rule(tag=tag, target="ALL", percentOffBp=100)
    st, _, js = api("GET", "/v1/customers/%s/audit" % other["id"])
    assert st == 200 and {e["action"] for e in js["entries"]} == {"created"}, js


def test_the_store_asks_over_the_bus():
    """QuotePrices and ListCustomerPriceRules as an outside system calls them
    on the bus (crmctl call with a store's key: customers:read)."""
    import json

    tenant = _tenant("Bus")
    admin = _key(tenant, role="admin")
    store = _key(tenant, scopes=["customers:read"])
    c = _customer(key=admin)
    rule = _rule(key=admin, customerId=c["id"], target="PRODUCT", code="SKU-9", amountOffMinor=250)

    def bus(method, body, key):
        r = crm.crmctl_run(["call", "customers", method, json.dumps(body), "--key", key],
                           timeout=60)
        assert r.stdout.strip(), r.stderr
        return json.loads(r.stdout)

    reply = bus("QuotePrices", {"email": c["email"], "lines": [
        {"productCode": "SKU-9", "quantity": 4, "unitPriceMinor": 1000},
        {"productCode": "SKU-1", "quantity": 1, "unitPriceMinor": 1000}]}, store)
    assert reply["status"] == "OK", reply
    js = reply["body"]
    assert js["customerId"] == c["id"] and js["currency"] == "PLN", js
    assert int(js["lines"][0]["priceMinor"]) == 750 and js["lines"][0]["rule"]["id"] == rule["id"]
    assert int(js["totalMinor"]) == 4000 and int(js["discountMinor"]) == 1000, js
    reply = bus("ListCustomerPriceRules", {"id": c["id"]}, store)
    assert reply["status"] == "OK", reply
    assert [r["id"] for r in reply["body"]["rules"]] == [rule["id"]], reply
    # A store's key may not change rules on the bus either.
    reply = bus("DeletePriceRule", {"id": rule["id"]}, store)
    assert reply["status"] == "PERMISSION_DENIED", reply
    reply = bus("QuotePrices", {"lines": [{"productCode": "A", "quantity": 0,
                                           "unitPriceMinor": 1}]}, store)
    assert reply["status"] == "INVALID_ARGUMENT", reply
    assert "lines[0].quantity" in json.dumps(reply), reply


def test_the_business_currency_follows_its_country_until_set():
    tenant = _tenant("Krone", country="NO")
    key = _key(tenant, role="admin")
    st, _, s = api("GET", "/v1/settings", key=key)
    assert st == 200 and s.get("currency", "") == "" and s["effectiveCurrency"] == "NOK", s
    c = _customer(key=key)
    _rule(key=key, customerId=c["id"], target="ALL", amountOffMinor=5000)
    assert _quote([_line("A", 20000)], key=key, customerId=c["id"])["currency"] == "NOK"
    st, _, s = api("PATCH", "/v1/settings", {"currency": "eur"}, key=key)
    assert st == 200 and s["currency"] == "EUR" and s["effectiveCurrency"] == "EUR", s
    js = _quote([_line("A", 20000)], key=key, customerId=c["id"])
    assert js["currency"] == "EUR" and js["lines"][0]["priceMinor"] == 15000, js
    st, _, js = api("GET", "/v1/customers/%s/priceRules" % c["id"], key=key)
    assert st == 200 and js["currency"] == "EUR", js
    for bad in ("EURO", "E1R", "€"):
        st, _, js = api("PATCH", "/v1/settings", {"currency": bad}, key=key)
        assert st == 400 and "currency" in _violations(js), (bad, js)
    # Back to the country's: Poland's zloty once the country says PL.
    st, _, s = api("PATCH", "/v1/settings", {"currency": "", "defaultCountry": "PL"}, key=key)
    assert st == 200 and s.get("currency", "") == "" and s["effectiveCurrency"] == "PLN", s
    # Once money is on an account (the wallet), the currency stays.
    st, _, js = api("POST", "/v1/customers/%s/wallet:adjust" % c["id"],
                    {"kind": "MONEY", "amount": "500", "reason": "Paid in advance"}, key=key)
    assert st == 200 and js["entry"]["currency"] == "PLN", js
    st, _, js = api("PATCH", "/v1/settings", {"currency": "EUR"}, key=key)
    assert st == 412 and "currency" in _violations(js), js
    st, _, s = api("PATCH", "/v1/settings", {"defaultCountry": "NO"}, key=key)
    assert st == 200 and s["currency"] == "PLN" and s["effectiveCurrency"] == "PLN", s
