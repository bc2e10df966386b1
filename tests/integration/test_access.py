"""Access control: zones (settings) made, renamed, deleted and refused with
the field named; a customer's credentials (unique among those not blocked,
blocked and unblocked, at most 20) and grants (dates, weekly hours, a plan's
subscription, at most 50); the door's check over HTTP (a key with only
access:check) and over the bus, every reason it says no and the one it says
yes, each check in the customer's log (pruned after 90 days); the value's
lookup an index hit; erasure; tenants kept apart; the card's Access panel and
Settings › Access zones at 390 px in English and Polish."""
import json

import crm
from crm import api, q, unique, unique_email
from test_wallet import _fields, _tenant

# 2026-12-07 is a Monday.
MONDAY_NOON = "2026-12-07T12:00:00Z"
MONDAY_NIGHT = "2026-12-07T22:30:00Z"
SUNDAY_NOON = "2026-12-13T12:00:00Z"


def _key(tenant, role="admin", scopes=None):
    """A key of role, or one holding only scopes."""
    args = ["keys", "create", "--tenant", tenant, "--name", unique("key")]
    args += ["--scopes", ",".join(scopes)] if scopes else ["--role", role]
    return crm.crmctl(args).strip()


def _customer(key, **more):
    body = {"firstName": "Dora", "lastName": unique("Door"), "email": unique_email("dora")}
    body.update(more)
    st, _, c = api("POST", "/v1/customers", body, key=key)
    assert st == 201, (st, c)
    return c


def _zone(key, name=None):
    st, _, z = api("POST", "/v1/accessZones", {"name": name or unique("Pool")}, key=key)
    assert st == 201, (st, z)
    return z


def _credential(key, cid, value=None, kind="CARD", expect=201, **more):
    body = {"kind": kind, "value": value or unique("card")}
    body.update(more)
    st, _, c = api("POST", "/v1/customers/%s/accessCredentials" % cid, body, key=key)
    assert st == expect, (st, c)
    return c


def _grant(key, cid, zone_id, expect=201, **more):
    body = {"zoneId": zone_id}
    body.update(more)
    st, _, g = api("POST", "/v1/customers/%s/accessGrants" % cid, body, key=key)
    assert st == expect, (st, g)
    return g


def _check(key, value, zone_id, at=None, expect=200):
    body = {"credentialValue": value, "zoneId": zone_id}
    if at:
        body["at"] = at
    st, _, r = api("POST", "/v1/access:check", body, key=key)
    assert st == expect, (st, r)
    return r


def _says(r):
    return r["decision"] if r["decision"] == "ALLOW" else r["reason"]


def _log(key, cid, **params):
    st, _, js = api("GET", q("/v1/customers/%s/accessLog" % cid, **params), key=key)
    assert st == 200, (st, js)
    return js.get("entries", [])


# ------------------------------------------------------------------ zones

def test_zones_are_made_renamed_listed_deleted_and_refused_with_the_field():
    key = _key(_tenant())
    pool = _zone(key, "Pool " + unique())
    st, _, z = api("GET", "/v1/accessZones/" + pool["id"], key=key)
    assert st == 200 and z["name"] == pool["name"], z
    # Names are unique whatever their case.
    st, _, err = api("POST", "/v1/accessZones", {"name": pool["name"].upper()}, key=key)
    assert st == 409 and "zone.name" in _fields(err), err
    st, _, z = api("PATCH", "/v1/accessZones/" + pool["id"], {"name": "Sauna"}, key=key)
    assert st == 200 and z["name"] == "Sauna", z
    for body, field in (({}, "zone.name"), ({"name": "  "}, "zone.name"),
                        ({"name": "x" * 101}, "zone.name")):
        st, _, err = api("POST", "/v1/accessZones", body, key=key)
        assert st == 400 and field in _fields(err), (body, err)
    st, _, z = api("POST", "/v1/accessZones", {"name": "é" * 100}, key=key)
    assert st == 201, z
    st, _, js = api("GET", "/v1/accessZones", key=key)
    assert [z["name"] for z in js["zones"]] == ["Sauna", "é" * 100], js
    assert api("DELETE", "/v1/accessZones/" + pool["id"], key=key)[0] == 204
    assert api("GET", "/v1/accessZones/" + pool["id"], key=key)[0] == 404
    assert api("DELETE", "/v1/accessZones/" + pool["id"], key=key)[0] == 404


def test_a_business_has_at_most_200_zones():
    key = _key(_tenant())
    for i in range(200):
        _zone(key, "Door %03d" % i)
    st, _, err = api("POST", "/v1/accessZones", {"name": "One too many"}, key=key)
    assert st == 429 and "200 zones" in err["error"]["message"], err
    assert len(api("GET", "/v1/accessZones", key=key)[2]["zones"]) == 200


# ------------------------------------------------------------------ credentials

def test_credentials_are_unique_among_those_not_blocked_and_at_most_20():
    key = _key(_tenant())
    anna, ben = _customer(key)["id"], _customer(key)["id"]
    card = _credential(key, anna, "04:A2:19:7F")
    assert card["kind"] == "CARD" and not card.get("blocked"), card
    err = _credential(key, ben, "04:A2:19:7F", expect=409)
    assert "credential.value" in _fields(err), err
    # Blocked, the value is free for another; unblocked again, it clashes.
    url = "/v1/customers/%s/accessCredentials/%s" % (anna, card["id"])
    st, _, c = api("PATCH", url, {"blocked": True, "blockReason": "lost"}, key=key)
    assert st == 200 and c["blocked"] and c["blockReason"] == "lost", c
    _credential(key, ben, "04:A2:19:7F", kind="FOB")
    st, _, err = api("PATCH", url, {"blocked": False}, key=key)
    assert st == 409 and "credential.value" in _fields(err), err
    # The bad ones, each naming its field.
    for body, field in (({"value": "1"}, "credential.kind"),
                        ({"kind": "CARD"}, "credential.value"),
                        ({"kind": "CARD", "value": "x" * 65}, "credential.value"),
                        ({"kind": "CODE", "value": "12\t34"}, "credential.value"),
                        ({"kind": "CODE", "value": "ü"}, "credential.value"),
                        ({"kind": "QR", "value": "q", "blockReason": "r" * 201},
                         "credential.blockReason")):
        st, _, err = api("POST", "/v1/customers/%s/accessCredentials" % anna, body, key=key)
        assert st == 400 and field in _fields(err), (body, err)
    st, _, err = api("PATCH", url + "?updateMask=value", {"value": "new"}, key=key)
    assert st == 400 and "updateMask" in _fields(err), err
    _credential(key, anna, "x" * 64, kind="QR")
    for i in range(18):
        _credential(key, anna, kind="CODE")
    err = _credential(key, anna, expect=429)
    assert "20 credentials" in err["error"]["message"], err
    st, _, js = api("GET", "/v1/customers/%s/accessCredentials" % anna, key=key)
    assert st == 200 and len(js["credentials"]) == 20, js
    assert api("DELETE", url, key=key)[0] == 204
    assert api("DELETE", url, key=key)[0] == 404
    assert api("GET", "/v1/customers/%s/accessCredentials" % crm_missing(), key=key)[0] == 404


def crm_missing():
    return "00000000-0000-4000-8000-000000000000"


# ------------------------------------------------------------------ grants and the door

def test_each_reason_a_door_says_no_and_the_one_it_says_yes():
    tenant = _tenant()
    key = _key(tenant)
    door = _key(tenant, role=None, scopes=["access:check"])
    gym, pool = _zone(key, "Gym"), _zone(key, "Pool")
    c = _customer(key, firstName="Olga", lastName="Open")
    cid = c["id"]
    card = _credential(key, cid)["value"]
    assert _says(_check(door, "nobody's card", gym["id"])) == "UNKNOWN_CREDENTIAL"
    r = _check(door, card, gym["id"])
    assert _says(r) == "NO_GRANT" and r["customerId"] == cid, r
    assert r["displayName"] == "Olga Open" and r["zoneName"] == "Gym", r
    _grant(key, cid, gym["id"])
    r = _check(door, card, gym["id"])
    assert r["decision"] == "ALLOW" and r["reason"] == "UNSPECIFIED", r
    # Dates: through the whole last day, not a day more.
    _grant(key, cid, pool["id"], validFrom="2026-12-01", validUntil="2026-12-07")
    assert _says(_check(door, card, pool["id"], "2026-12-07T23:59:59Z")) == "ALLOW"
    assert _says(_check(door, card, pool["id"], "2026-12-08T00:00:00Z")) == "EXPIRED"
    assert _says(_check(door, card, pool["id"], "2026-11-30T23:59:59Z")) == "EXPIRED"
    # Hours: weekdays 06:00-21:00 (UTC), the end itself outside.
    sauna = _zone(key, "Sauna")
    _grant(key, cid, sauna["id"], days=[1, 2, 3, 4, 5], fromTime="06:00", untilTime="21:00")
    assert _says(_check(door, card, sauna["id"], MONDAY_NOON)) == "ALLOW"
    assert _says(_check(door, card, sauna["id"], MONDAY_NIGHT)) == "OUTSIDE_HOURS"
    assert _says(_check(door, card, sauna["id"], "2026-12-07T21:00:00Z")) == "OUTSIDE_HOURS"
    assert _says(_check(door, card, sauna["id"], "2026-12-07T06:00:00Z")) == "ALLOW"
    assert _says(_check(door, card, sauna["id"], SUNDAY_NOON)) == "OUTSIDE_HOURS"
    # An offset is honoured: 23:30 in Warsaw is 22:30 UTC.
    assert _says(_check(door, card, sauna["id"], "2026-12-07T23:30:00+01:00")) == "OUTSIDE_HOURS"
    assert _says(_check(door, card, sauna["id"], "2026-12-07T13:00:00+01:00")) == "ALLOW"
    # A second grant to the zone that holds lets the bearer in.
    _grant(key, cid, sauna["id"], days=[7])
    assert _says(_check(door, card, sauna["id"], SUNDAY_NOON)) == "ALLOW"
    # Blocked, then the account disabled.
    creds = api("GET", "/v1/customers/%s/accessCredentials" % cid, key=key)[2]["credentials"]
    url = "/v1/customers/%s/accessCredentials/%s" % (cid, creds[0]["id"])
    assert api("PATCH", url, {"blocked": True}, key=key)[0] == 200
    assert _says(_check(door, card, gym["id"])) == "BLOCKED"
    assert api("PATCH", url, {"blocked": False}, key=key)[0] == 200
    st, _, js = api("PATCH", "/v1/customers/" + cid, {"account": {"status": "DISABLED"}}, key=key)
    assert st == 200, js
    assert _says(_check(door, card, gym["id"])) == "ACCOUNT_DISABLED"
    # The door's key does nothing else.
    assert api("GET", "/v1/customers/" + cid, key=door)[0] == 403
    assert api("POST", "/v1/access:check", {"credentialValue": card, "zoneId": gym["id"]},
               key=_key(tenant, role="readonly"))[0] == 403
    # Each check is in the customer's log, newest first, with its reason.
    log = _log(key, cid)
    assert log[0]["reason"] == "ACCOUNT_DISABLED" and log[0]["zoneName"] == "Gym", log[0]
    assert log[0]["credentialValue"] == card and log[0]["decision"] == "DENY", log[0]
    assert sum(e["decision"] == "ALLOW" for e in log) == 6, log
    assert {e["reason"] for e in log if e["decision"] == "DENY"} == {
        "NO_GRANT", "EXPIRED", "OUTSIDE_HOURS", "BLOCKED", "ACCOUNT_DISABLED"}, log
    assert any(e["at"] == "2026-12-07T22:30:00.000Z" for e in log), log
    assert len(_log(key, cid, pageSize=3)) == 3
    st, _, err = api("GET", q("/v1/customers/%s/accessLog" % cid, pageSize=201), key=key)
    assert st == 400 and "pageSize" in _fields(err), err


def test_a_grant_by_plan_follows_the_subscription_sold_used_up_and_cancelled():
    key = _key(_tenant())
    gym = _zone(key, "Gym")
    cid = _customer(key)["id"]
    card = _credential(key, cid)["value"]
    st, _, plan = api("POST", "/v1/plans", {"name": unique("Gym 2"), "kind": "PACKAGE",
                                            "visits": 1, "price": "0"}, key=key)
    assert st == 201, plan
    g = _grant(key, cid, gym["id"], planId=plan["id"])
    assert g["planName"] == plan["name"] and g["zoneName"] == "Gym", g
    assert _says(_check(key, card, gym["id"])) == "NO_SUBSCRIPTION"
    st, _, sold = api("POST", "/v1/customers/%s/subscriptions" % cid, {"planId": plan["id"]},
                      key=key)
    assert st == 201, sold
    sub = sold["subscription"]["id"]
    assert _says(_check(key, card, gym["id"])) == "ALLOW"
    # The last visit used: no visits left, no entry.
    st, _, js = api("POST", "/v1/customers/%s/subscriptions:useVisit" % cid,
                    {"reference": unique("visit")}, key=key)
    assert st == 200, js
    assert _says(_check(key, card, gym["id"])) == "NO_SUBSCRIPTION"
    st, _, sold = api("POST", "/v1/customers/%s/subscriptions" % cid, {"planId": plan["id"]},
                      key=key)
    assert st == 201 and _says(_check(key, card, gym["id"])) == "ALLOW"
    st, _, js = api("POST", "/v1/customers/%s/subscriptions/%s:cancel"
                    % (cid, sold["subscription"]["id"]), {"reason": "moved"}, key=key)
    assert st == 200, js
    assert _says(_check(key, card, gym["id"])) == "NO_SUBSCRIPTION"
    assert sub
    # Grants are listed with their conditions and removed.
    st, _, js = api("GET", "/v1/customers/%s/accessGrants" % cid, key=key)
    assert st == 200 and [x["id"] for x in js["grants"]] == [g["id"]], js
    assert api("DELETE", "/v1/customers/%s/accessGrants/%s" % (cid, g["id"]), key=key)[0] == 204
    assert _says(_check(key, card, gym["id"])) == "NO_GRANT"


def test_bad_grants_and_checks_are_400s_naming_the_field_and_grants_are_at_most_50():
    key = _key(_tenant())
    gym = _zone(key, "Gym")
    cid = _customer(key)["id"]
    cases = [({}, "grant.zoneId"),
             ({"zoneId": "nope"}, "grant.zoneId"),
             ({"zoneId": crm_missing()}, "grant.zoneId"),
             ({"zoneId": gym["id"], "planId": crm_missing()}, "grant.planId"),
             ({"zoneId": gym["id"], "validFrom": "2026-02-30"}, "grant.validFrom"),
             ({"zoneId": gym["id"], "validFrom": "2026-03-02", "validUntil": "2026-03-01"},
              "grant.validUntil"),
             ({"zoneId": gym["id"], "days": [0]}, "grant.days"),
             ({"zoneId": gym["id"], "days": [8]}, "grant.days"),
             ({"zoneId": gym["id"], "fromTime": "06:00"}, "grant.untilTime"),
             ({"zoneId": gym["id"], "fromTime": "6:00", "untilTime": "09:00"}, "grant.fromTime"),
             ({"zoneId": gym["id"], "fromTime": "24:00", "untilTime": "24:00"}, "grant.fromTime"),
             ({"zoneId": gym["id"], "fromTime": "10:00", "untilTime": "10:00"},
              "grant.untilTime")]
    for body, field in cases:
        st, _, err = api("POST", "/v1/customers/%s/accessGrants" % cid, body, key=key)
        assert st == 400 and field in _fields(err), (body, err)
    g = _grant(key, cid, gym["id"], days=[6, 7], fromTime="18:00", untilTime="24:00",
               validFrom="2026-01-01")
    assert g["days"] == [6, 7] and g["untilTime"] == "24:00" and g["validFrom"] == "2026-01-01"
    for _ in range(49):
        _grant(key, cid, gym["id"])
    err = _grant(key, cid, gym["id"], expect=429)
    assert "50 grants" in err["error"]["message"], err
    for body, field in (({"zoneId": gym["id"]}, "credentialValue"),
                        ({"credentialValue": "x" * 65, "zoneId": gym["id"]}, "credentialValue"),
                        ({"credentialValue": "x"}, "zoneId"),
                        ({"credentialValue": "x", "zoneId": "gym"}, "zoneId"),
                        ({"credentialValue": "x", "zoneId": gym["id"], "at": "yesterday"}, "at"),
                        ({"credentialValue": "x", "zoneId": gym["id"],
                          "at": "2026-12-07 12:00:00"}, "at")):
        st, _, err = api("POST", "/v1/access:check", body, key=key)
        assert st == 400 and field in _fields(err), (body, err)
    st, _, err = api("POST", "/v1/access:check", {"credentialValue": "x",
                                                  "zoneId": crm_missing()}, key=key)
    assert st == 404, err
    # Deleting the zone takes its grants with it.
    assert api("DELETE", "/v1/accessZones/" + gym["id"], key=key)[0] == 204
    st, _, js = api("GET", "/v1/customers/%s/accessGrants" % cid, key=key)
    assert st == 200 and not js.get("grants"), js


# ------------------------------------------------------------------ erasure, tenants, the bus

def test_an_erased_customer_is_unknown_at_the_door_and_the_log_keeps_no_value():
    key = _key(_tenant())
    gym = _zone(key, "Gym")
    cid = _customer(key)["id"]
    card = _credential(key, cid)["value"]
    _grant(key, cid, gym["id"])
    assert _says(_check(key, card, gym["id"])) == "ALLOW"
    assert api("DELETE", "/v1/customers/" + cid, key=key)[0] == 204
    r = _check(key, card, gym["id"])
    assert _says(r) == "UNKNOWN_CREDENTIAL" and not r.get("customerId"), r
    rows = crm.psql_rows("SELECT credential_value, decision, reason FROM customers.access_log "
                         "WHERE customer_id = '%s'" % cid)
    assert rows == [("", "1", "0")], rows
    # The credential and the grant went with the customer: the value is free.
    other = _customer(key)["id"]
    _credential(key, other, card)
    assert crm.psql_rows("SELECT count(*) FROM customers.access_grants WHERE customer_id = '%s'"
                         % cid) == [("0",)]


def test_tenants_are_kept_apart_at_the_door():
    a, b = _key(_tenant()), _key(_tenant())
    gym_a, gym_b = _zone(a, "Gym"), _zone(b, "Gym")
    cid = _customer(a)["id"]
    card = _credential(a, cid)["value"]
    _grant(a, cid, gym_a["id"])
    assert _says(_check(a, card, gym_a["id"])) == "ALLOW"
    # B's door does not know A's card, nor A's zone.
    r = _check(b, card, gym_b["id"])
    assert _says(r) == "UNKNOWN_CREDENTIAL" and not r.get("displayName"), r
    _check(b, card, gym_a["id"], expect=404)
    assert api("GET", "/v1/accessZones/" + gym_a["id"], key=b)[0] == 404
    # B may use the same value for its own customer.
    _credential(b, _customer(b)["id"], card)
    # A B grant cannot name A's zone or A's plan.
    st, _, plan = api("POST", "/v1/plans", {"name": unique("P"), "kind": "PACKAGE", "visits": 1},
                      key=a)
    assert st == 201, plan
    bc = _customer(b)["id"]
    _grant(b, bc, gym_a["id"], expect=400)
    err = _grant(b, bc, gym_b["id"], planId=plan["id"], expect=400)
    assert "grant.planId" in _fields(err), err


def test_a_value_belongs_to_the_credential_not_blocked_and_its_lookup_is_an_index_hit():
    tenant = _tenant()
    key = _key(tenant)
    gym = _zone(key, "Gym")
    anna, ben = _customer(key, firstName="Anna")["id"], _customer(key, firstName="Ben")["id"]
    lost = _credential(key, anna, "0042", kind="CODE")
    st, _, js = api("PATCH", "/v1/customers/%s/accessCredentials/%s" % (anna, lost["id"]),
                    {"blocked": True, "blockReason": "shared"}, key=key)
    assert st == 200, js
    _grant(key, anna, gym["id"])
    r = _check(key, "0042", gym["id"])
    assert _says(r) == "BLOCKED" and r["customerId"] == anna, r
    # The same code given to Ben: the door now answers for Ben.
    _credential(key, ben, "0042", kind="CODE")
    r = _check(key, "0042", gym["id"])
    assert _says(r) == "NO_GRANT" and r["customerId"] == ben, r
    # With many credentials the door's lookup reads an index, not the table.
    crm.psql("INSERT INTO customers.access_credentials (id, tenant_id, customer_id, kind, value) "
             "SELECT gen_random_uuid(), '%s', '%s', 3, 'bulk-' || g "
             "FROM generate_series(1, 5000) g; ANALYZE customers.access_credentials" % (tenant, anna))
    plan = crm.psql("EXPLAIN SELECT customer_id, blocked FROM customers.access_credentials "
                    "WHERE tenant_id = '%s' AND value = 'bulk-77' ORDER BY blocked, seq LIMIT 1"
                    % tenant)
    assert "access_credentials_lookup" in plan or "access_credentials_value" in plan, plan
    assert "Seq Scan" not in plan, plan


def test_log_entries_older_than_90_days_are_pruned_by_the_service():
    tenant = _tenant()
    key = _key(tenant)
    gym = _zone(key, "Gym")
    cid = _customer(key)["id"]
    card = _credential(key, cid)["value"]
    _check(key, card, gym["id"])
    crm.psql("INSERT INTO customers.access_log (tenant_id, checked_at, zone_id, zone_name, "
             "credential_value, customer_id, decision, reason, logged_at) SELECT '%s', "
             "now() - interval '91 days', '%s', 'Gym', '%s', '%s', 2, 2, "
             "now() - interval '91 days' FROM generate_series(1, 3)" % (tenant, gym["id"], card, cid))
    assert len(_log(key, cid)) == 4
    # A copy's first tick prunes: restart one rather than wait its ten minutes.
    crm.restart("customers")
    crm.wait_until(lambda: len(_log(key, cid)) == 1, timeout=30, what="old entries pruned")
    assert _log(key, cid)[0]["reason"] == "NO_GRANT", _log(key, cid)


def _bus(key, method, body):
    r = crm.crmctl_run(["call", "customers", method, json.dumps(body), "--key", key], timeout=60)
    assert r.stdout.strip(), r.stderr
    return json.loads(r.stdout)


def test_check_access_over_the_bus():
    tenant = _tenant()
    key = _key(tenant)
    door = _key(tenant, role=None, scopes=["access:check"])
    gym = _zone(key, "Gym")
    cid = _customer(key, firstName="Bo", lastName="Bus")["id"]
    card = _credential(key, cid)["value"]
    _grant(key, cid, gym["id"], fromTime="08:00", untilTime="20:00")
    r = _bus(door, "CheckAccess", {"credentialValue": card, "zoneId": gym["id"],
                                   "at": MONDAY_NOON})
    assert r["status"] == "OK", r
    assert r["body"]["decision"] == "ALLOW" and r["body"]["displayName"] == "Bo Bus", r
    r = _bus(door, "CheckAccess", {"credentialValue": card, "zoneId": gym["id"],
                                   "at": MONDAY_NIGHT})
    assert r["body"]["decision"] == "DENY" and r["body"]["reason"] == "OUTSIDE_HOURS", r
    r = _bus(door, "CheckAccess", {"credentialValue": "", "zoneId": gym["id"]})
    assert r["status"] == "INVALID_ARGUMENT", r
    r = _bus(door, "ListAccessZones", {})
    assert r["status"] == "PERMISSION_DENIED", r
    # Zones, credentials and grants over the bus too, as the staff's key.
    r = _bus(key, "CreateAccessZone", {"zone": {"name": "Bus pool"}})
    assert r["status"] == "OK" and r["body"]["name"] == "Bus pool", r
    pool = r["body"]["id"]
    r = _bus(key, "CreateAccessZone", {"zone": {"name": "BUS POOL"}})
    assert r["status"] == "ALREADY_EXISTS", r
    r = _bus(key, "CreateAccessGrant", {"customerId": cid, "grant": {"zoneId": pool,
                                                                    "days": [1]}})
    assert r["status"] == "OK" and r["body"]["days"] == [1], r
    r = _bus(door, "CheckAccess", {"credentialValue": card, "zoneId": pool, "at": MONDAY_NIGHT})
    assert r["body"]["decision"] == "ALLOW", r
    r = _bus(key, "DeleteAccessZone", {"id": pool})
    assert r["status"] == "OK", r
    r = _bus(key, "ListAccessGrants", {"customerId": cid})
    assert [g["zoneName"] for g in r["body"]["grants"]] == ["Gym"], r
    assert [(e["at"], e["zoneName"]) for e in _log(key, cid)] == [
        ("2026-12-07T22:30:00.000Z", "Bus pool"), ("2026-12-07T22:30:00.000Z", "Gym"),
        ("2026-12-07T12:00:00.000Z", "Gym")]


def test_ui_adds_a_credential_and_a_grant_and_sees_the_check_at_390px_in_two_languages():
    import os
    from test_ui import SHOTS, _browser, _no_js_errors, _open
    from test_wallet import _fits

    tenant = _tenant()
    key = _key(tenant)
    door = _key(tenant, scopes=["access:check"])
    cid = _customer(key, firstName="Ula", lastName="Ui")["id"]
    zone = unique("Pool")
    value = unique("CARD")
    with _browser("access-card") as b:
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        b.get(crm.URL + "/")
        b.wait("input[name=apiKey]").send_keys(key)
        b.find(".signin-card button[type=submit]").click()
        b.wait("#customer-table")
        # Settings › Access zones: add one.
        _open(b, "/settings")
        b.wait("#zone-name").send_keys(zone)
        b.find("#zone-add").click()
        b.wait_text("#zones-list", zone)
        _fits(b)
        # The card: open Access, add a card and a grant on weekdays.
        _open(b, "/customers/" + cid)
        b.wait("#access-open").click()
        b.wait_text("#access-credentials", "No cards, fobs or codes yet.")
        b.wait("#access-value").send_keys(value)
        b.find("#access-add-credential").click()
        b.wait_text("#access-credentials", value)
        b.wait("#access-zone")
        for d in (1, 2, 3, 4, 5):
            b.find("#access-day-%d" % d).click()
        b.find("#access-add-grant").click()
        b.wait_text("#access-grants", zone)
        b.wait_text("#access-grants", "Mon, Tue, Wed, Thu, Fri")
        _fits(b)
        # The door asks on a Monday and a Sunday; the panel shows both checks.
        zid = api("GET", "/v1/accessZones", key=key)[2]["zones"][0]["id"]
        assert _says(_check(door, value, zid, MONDAY_NOON)) == "ALLOW"
        assert _says(_check(door, value, zid, SUNDAY_NOON)) == "OUTSIDE_HOURS"
        b.find("#access-close").click()
        b.find("#access-open").click()
        b.wait_text("#access-log", "Let in")
        b.wait_text("#access-log", "Refused: outside the allowed hours")
        _fits(b)
        b.full_screenshot(os.path.join(SHOTS, "access-card-narrow.png"))
        # In Polish: block the card with a reason; the door then refuses it.
        b.js("localStorage.setItem('crm.lang', 'pl');")
        try:
            _open(b, "/customers")
            _open(b, "/customers/" + cid)
            b.wait("#access-open").click()
            b.wait_text("#access-log", "Wpuszczono")
            b.wait_text("#access-grants", "pon., wt., śr., czw., pt.")
            b.wait("#access-credentials .access-toggle").click()
            b.wait("#access-credentials .access-reason").send_keys("zgubiona")
            b.find("#access-credentials .access-block-go").click()
            b.wait_text("#access-credentials", "Zablokowana: zgubiona")
            assert _says(_check(door, value, zid, MONDAY_NOON)) == "BLOCKED"
            b.find("#access-close").click()
            b.find("#access-open").click()
            b.wait_text("#access-log", "Odmowa: zablokowana")
            _fits(b)
            b.full_screenshot(os.path.join(SHOTS, "access-card-narrow-pl.png"))
        finally:
            b.js("localStorage.removeItem('crm.lang');")
        _no_js_errors(b)
