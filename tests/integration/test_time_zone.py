"""The business's time zone: Settings.timeZone ("UTC" for a new business,
an IANA name PostgreSQL knows, 400 naming timeZone otherwise, kept apart per
business; over HTTP and the bus); a door reads a grant's days and hours on the
business's wall clock (now, and an offline controller's `at`, across daylight
saving time); a weekly span that crosses midnight belongs to the day it
starts; price rules apply, subscriptions start and are used, and vouchers
expire on the business's days; the settings screen sets the zone at 390 px
in English and German."""
import datetime
import json
import os
import zoneinfo

import crm
from crm import api
from test_access import _check, _credential, _customer, _grant, _key, _says, _zone
from test_wallet import _fields, _tenant


def _settings(key):
    st, _, s = api("GET", "/v1/settings", key=key)
    assert st == 200, (st, s)
    return s


def _set_zone(key, zone, expect=200):
    st, _, s = api("PATCH", "/v1/settings", {"timeZone": zone}, key=key)
    assert st == expect, (st, s)
    return s


def test_a_business_starts_in_utc_and_sets_a_zone_postgresql_knows():
    key = _key(_tenant())
    other = _key(_tenant())
    assert _settings(key)["timeZone"] == "UTC"
    assert _set_zone(key, "Europe/Sofia")["timeZone"] == "Europe/Sofia"
    assert _settings(key)["timeZone"] == "Europe/Sofia"
    # Changing another setting keeps the zone; the other business stays in UTC.
    st, _, s = api("PATCH", "/v1/settings", {"name": "Sofia Gym"}, key=key)
    assert st == 200 and s["timeZone"] == "Europe/Sofia", s
    assert _settings(other)["timeZone"] == "UTC"
    for bad, code in (("Mars/Olympus_Mons", "INVALID_VALUE"), ("europe/sofia", "INVALID_VALUE"),
                      ("Europe/" + "x" * 58, "TOO_LONG")):
        err = _set_zone(key, bad, expect=400)
        assert _fields(err) == ["timeZone"], err
        assert err["error"]["details"][0]["reason"] == code, err
    assert _settings(key)["timeZone"] == "Europe/Sofia"
    # Empty is UTC again.
    assert _set_zone(key, "")["timeZone"] == "UTC"
    # A staff member without the settings scope cannot change it.
    staff = _key(_tenant(), role="staff")
    st, _, _err = api("PATCH", "/v1/settings", {"timeZone": "Europe/Oslo"}, key=staff)
    assert st == 403


def test_the_zone_over_the_bus_and_a_door_on_the_bus_reads_it():
    from test_access import _bus

    tenant = _tenant()
    key = _key(tenant)
    door = _key(tenant, scopes=["access:check"])
    r = _bus(key, "UpdateSettings", {"settings": {"timeZone": "Asia/Tokyo"},
                                     "updateMask": ["timeZone"]})
    assert r["status"] == "OK" and r["body"]["timeZone"] == "Asia/Tokyo", r
    r = _bus(key, "UpdateSettings", {"settings": {"timeZone": "Asia/Edo"},
                                     "updateMask": ["timeZone"]})
    assert r["status"] == "INVALID_ARGUMENT" and "timeZone" in json.dumps(r), r
    r = _bus(key, "GetSettings", {})
    assert r["body"]["timeZone"] == "Asia/Tokyo", r
    gym = _zone(key, "Gym")
    cid = _customer(key)["id"]
    card = _credential(key, cid)["value"]
    _grant(key, cid, gym["id"], days=[2], fromTime="08:00", untilTime="09:00")  # Tuesdays
    # Monday 23:30 UTC is Tuesday 08:30 in Tokyo.
    r = _bus(door, "CheckAccess", {"credentialValue": card, "zoneId": gym["id"],
                                   "at": "2026-12-07T23:30:00Z"})
    assert r["status"] == "OK" and r["body"]["decision"] == "ALLOW", r
    r = _bus(door, "CheckAccess", {"credentialValue": card, "zoneId": gym["id"],
                                   "at": "2026-12-08T08:30:00Z"})
    assert r["body"]["decision"] == "DENY" and r["body"]["reason"] == "OUTSIDE_HOURS", r


def _hours_around(local):
    """A span from the local hour to two hours later ("23:00".."01:00" crosses
    midnight), so a check in the next minutes still falls in it."""
    start = local.replace(minute=0, second=0, microsecond=0)
    return start.strftime("%H:%M"), (start + datetime.timedelta(hours=2)).strftime("%H:%M")


def test_a_door_reads_now_on_the_business_wall_clock_not_in_utc():
    tenant = _tenant()
    key = _key(tenant)
    door = _key(tenant, scopes=["access:check"])
    _set_zone(key, "Pacific/Kiritimati")  # UTC+14: its day is mostly UTC's tomorrow
    gym = _zone(key, "Gym")
    now = datetime.datetime.now(datetime.timezone.utc)
    local = now.astimezone(zoneinfo.ZoneInfo("Pacific/Kiritimati"))
    local_cid = _customer(key)["id"]
    local_card = _credential(key, local_cid)["value"]
    frm, until = _hours_around(local)
    _grant(key, local_cid, gym["id"], days=[local.isoweekday()], fromTime=frm, untilTime=until)
    utc_cid = _customer(key)["id"]
    utc_card = _credential(key, utc_cid)["value"]
    frm, until = _hours_around(now)
    _grant(key, utc_cid, gym["id"], days=[now.isoweekday()], fromTime=frm, untilTime=until)
    assert _says(_check(door, local_card, gym["id"])) == "ALLOW"
    assert _says(_check(door, utc_card, gym["id"])) == "OUTSIDE_HOURS"
    # Back in UTC, the two swap.
    _set_zone(key, "UTC")
    assert _says(_check(door, local_card, gym["id"])) == "OUTSIDE_HOURS"
    assert _says(_check(door, utc_card, gym["id"])) == "ALLOW"


def test_daylight_saving_time_keeps_the_hours_a_business_entered():
    tenant = _tenant()
    key = _key(tenant)
    door = _key(tenant, scopes=["access:check"])
    _set_zone(key, "America/Los_Angeles")
    pool = _zone(key, "Pool")
    cid = _customer(key)["id"]
    card = _credential(key, cid)["value"]
    _grant(key, cid, pool["id"], days=[1], fromTime="09:00", untilTime="10:00")  # Mondays
    # 09:30 on a Monday in summer (UTC-7) and in winter (UTC-8).
    assert _says(_check(door, card, pool["id"], "2026-07-06T16:30:00Z")) == "ALLOW"
    assert _says(_check(door, card, pool["id"], "2026-12-07T17:30:00Z")) == "ALLOW"
    # 08:30 and 10:30 local in winter; an offline controller's local offset.
    assert _says(_check(door, card, pool["id"], "2026-12-07T16:30:00Z")) == "OUTSIDE_HOURS"
    assert _says(_check(door, card, pool["id"], "2026-12-07T18:30:00Z")) == "OUTSIDE_HOURS"
    assert _says(_check(door, card, pool["id"], "2026-12-07T09:45:00-08:00")) == "ALLOW"
    # Monday 09:30 UTC is Monday 01:30 in Los Angeles: outside.
    assert _says(_check(door, card, pool["id"], "2026-12-07T09:30:00Z")) == "OUTSIDE_HOURS"


def test_a_night_span_crosses_midnight_and_belongs_to_the_day_it_starts():
    tenant = _tenant()
    key = _key(tenant)
    door = _key(tenant, scopes=["access:check"])
    _set_zone(key, "Europe/Sofia")  # UTC+2 in December
    club = _zone(key, "Club")
    cid = _customer(key)["id"]
    card = _credential(key, cid)["value"]
    g = _grant(key, cid, club["id"], days=[5], fromTime="22:00", untilTime="02:00")  # Fridays
    assert g["fromTime"] == "22:00" and g["untilTime"] == "02:00", g

    def says(at):
        return _says(_check(door, card, club["id"], at))

    assert says("2026-12-11T19:59:00Z") == "OUTSIDE_HOURS"  # Friday 21:59 in Sofia
    assert says("2026-12-11T20:00:00Z") == "ALLOW"          # Friday 22:00
    assert says("2026-12-11T23:30:00Z") == "ALLOW"          # Saturday 01:30: Friday's night
    assert says("2026-12-12T00:00:00Z") == "OUTSIDE_HOURS"  # Saturday 02:00
    assert says("2026-12-12T20:30:00Z") == "OUTSIDE_HOURS"  # Saturday 22:30
    assert says("2026-12-04T20:30:00Z") == "ALLOW"          # the Friday before
    assert says("2026-12-10T23:30:00Z") == "OUTSIDE_HOURS"  # Friday 01:30: Thursday's night
    # A span of no length is refused, naming it.
    err = _grant(key, cid, club["id"], expect=400, fromTime="22:00", untilTime="22:00")
    assert _fields(err) == ["grant.untilTime"], err
    # Sunday's night ends on Monday morning.
    _grant(key, cid, club["id"], days=[7], fromTime="23:00", untilTime="01:00")
    assert says("2026-12-13T22:30:00Z") == "ALLOW"          # Monday 00:30 in Sofia
    assert says("2026-12-14T22:30:00Z") == "OUTSIDE_HOURS"  # Tuesday 00:30


def test_price_rules_apply_on_the_business_today():
    # At any hour one of the two zones is on another day than UTC.
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        key = _key(_tenant())
        _set_zone(key, zone)
        cid = _customer(key)["id"]
        today = datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date().isoformat()
        st, _, rule = api("POST", "/v1/priceRules", {"customerId": cid, "target": "ALL",
                                                     "percentOffBp": 1000, "validFrom": today,
                                                     "validUntil": today}, key=key)
        assert st == 201, rule
        st, _, js = api("POST", "/v1/prices:quote",
                        {"customerId": cid, "lines": [{"productCode": "A", "quantity": 1,
                                                       "unitPriceMinor": 1000}]}, key=key)
        assert st == 200 and js["lines"][0].get("rule", {}).get("id") == rule["id"], (zone, js)
        st, _, js = api("GET", "/v1/customers/%s/priceRules" % cid, key=key)
        assert st == 200 and [r["id"] for r in js.get("rules", [])] == [rule["id"]], (zone, js)


def test_a_subscription_sold_today_starts_on_the_business_today_and_lets_in():
    from test_subscriptions import _plan, _sell, _use

    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        tenant = _tenant()
        key = _key(tenant)
        door = _key(tenant, scopes=["access:check"])
        _set_zone(key, zone)
        today = datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date().isoformat()
        cid = _customer(key)["id"]
        plan = _plan(key, visits=0, kind="SUBSCRIPTION", periodUnit="DAY", periodCount=1)
        sub = _sell(key, cid, plan["id"])["subscription"]
        assert sub["startsOn"] == today and sub["endsOn"] == today, (zone, sub)
        assert sub["state"] == "ACTIVE", (zone, sub)
        st, _, r = _use(key, cid, crm.unique("booking"))
        assert st == 200, (zone, st, r)
        # The door asks about the same day.
        gym = _zone(key, "Gym")
        card = _credential(key, cid)["value"]
        _grant(key, cid, gym["id"], planId=plan["id"])
        assert _says(_check(door, card, gym["id"])) == "ALLOW", zone


def test_a_voucher_is_valid_through_its_last_day_in_the_business_zone():
    from test_wallet import _issue

    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        key = _key(_tenant())
        _set_zone(key, zone)
        today = datetime.datetime.now(zoneinfo.ZoneInfo(zone)).date()
        v = _issue(key, 500, expiresOn=today.isoformat())["voucher"]
        assert v["state"] == "ISSUED", (zone, v)
        st, _, err = api("POST", "/v1/vouchers", {"amount": "500", "expiresOn": (
            today - datetime.timedelta(days=1)).isoformat()}, key=key)
        assert st == 400 and _fields(err) == ["expiresOn"], (zone, err)
    key = _key(_tenant())
    _set_zone(key, "America/Los_Angeles")
    v = _issue(key, 500, expiresOn="2027-01-15")["voucher"]
    # Midnight after 15 January in Los Angeles (UTC-8 in winter).
    assert v["expiresAt"].startswith("2027-01-16T08:00:00"), v
    from test_ui import _browser, _no_js_errors, _open
    from test_wallet import _phone_signed_in

    with _browser("voucher-zone") as b:
        _phone_signed_in(b, key)
        _open(b, "/vouchers")
        b.wait_text("#voucher-table tr[data-id='%s']" % v["id"], "Jan 15, 2027")
        _no_js_errors(b)


def test_ui_sets_the_time_zone_at_390px_in_two_languages():
    from test_ui import SHOTS, _browser, _no_js_errors, _open
    from test_wallet import _fits, _phone_signed_in

    key = _key(_tenant())
    with _browser("time-zone") as b:
        _phone_signed_in(b, key)
        _open(b, "/settings")
        zone = b.wait("#settings-timeZone")
        assert zone.prop("value") == "UTC"
        b.wait_text("#settings-form-main", "Time zone")
        # The browser's own zone is offered; the list holds IANA names.
        assert b.js("return document.querySelectorAll('#time-zones option').length") > 100
        zone.clear()
        zone.send_keys("Mars/Base")
        b.find("#save-settings").click()
        b.wait_text("#settings-form-main", "timeZone must be an IANA time zone name")
        zone.clear()
        zone.send_keys("Europe/Sofia")
        b.find("#save-settings").click()
        b.wait_text("#settings-message", "Settings saved.")
        assert _settings(key)["timeZone"] == "Europe/Sofia"
        _fits(b)
        b.full_screenshot(os.path.join(SHOTS, "settings-time-zone-narrow.png"))
        b.js("localStorage.setItem('crm.lang', 'de');")
        try:
            _open(b, "/customers")
            _open(b, "/settings")
            zone = b.wait("#settings-timeZone")
            assert zone.prop("value") == "Europe/Sofia"
            b.wait_text("#settings-form-main", "Zeitzone")
            b.find("#time-zone-suggest").click()
            suggested = b.js("return Intl.DateTimeFormat().resolvedOptions().timeZone")
            assert zone.prop("value") == suggested
            zone.clear()
            zone.send_keys("Europe/Oslo")
            b.find("#save-settings").click()
            b.wait_text("#settings-message", "Einstellungen gespeichert.")
            assert _settings(key)["timeZone"] == "Europe/Oslo"
            _fits(b)
            b.full_screenshot(os.path.join(SHOTS, "settings-time-zone-narrow-de.png"))
        finally:
            b.js("localStorage.removeItem('crm.lang');")
        _no_js_errors(b)
