"""The business's day wherever a user sees one, for a business at UTC+14
(Pacific/Kiritimati) and one at UTC-11 (Pacific/Pago_Pago): an all-day task
turns overdue when the business's day ends (the flag, the overdue filter,
and the calendar's DATE values); LAST_VISIT_DAYS counts calendar days there;
a birth date may be the business's today, not its tomorrow; an export's file
name is stamped with its wall clock. Each test computes "now" in the zone."""
import datetime as dt
import re
import zoneinfo

import crm
from crm import api, q, unique, unique_email
from test_access import _key
from test_notes import _components, _unfold
from test_wallet import _tenant

ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago")


def _business(zone):
    """A new business in zone (set before anything asks for it) and its admin key."""
    key = _key(_tenant())
    st, _, s = api("PATCH", "/v1/settings", {"timeZone": zone}, key=key)
    assert st == 200 and s["timeZone"] == zone, (st, s)
    return key


def _local_now(zone):
    return dt.datetime.now(zoneinfo.ZoneInfo(zone))


def _on_same_day(zone, check):
    """Runs check(today) with the business's today; again should its day
    end meanwhile (the only way a day-based answer could be read wrong)."""
    for _ in range(2):
        today = _local_now(zone).date()
        result = check(today)
        if _local_now(zone).date() == today:
            return result
    raise AssertionError("the day ended twice during one check")


def _task(key, **body):
    st, _, js = api("POST", "/v1/tasks", body, key=key)
    assert st == 201, (st, js)
    return js


def test_all_day_tasks_turn_overdue_when_the_business_day_ends():
    for zone in ZONES:
        key = _business(zone)

        def check(today, key=key):
            tag = unique("day")
            yesterday = _task(key, title=tag + " yesterday",
                              dueAt=(today - dt.timedelta(days=1)).isoformat())
            on_day = _task(key, title=tag + " today", dueAt=today.isoformat())
            tomorrow = _task(key, title=tag + " tomorrow",
                             dueAt=(today + dt.timedelta(days=1)).isoformat())
            # The flag as written, as read, and in the list.
            assert yesterday["overdue"] is True, (zone, today, yesterday)
            assert not on_day.get("overdue") and not tomorrow.get("overdue"), (zone, on_day)
            st, _, got = api("GET", "/v1/tasks/" + on_day["id"], key=key)
            assert st == 200 and not got.get("overdue"), (zone, got)
            st, _, got = api("GET", "/v1/tasks/" + yesterday["id"], key=key)
            assert got["overdue"] is True, (zone, got)
            st, _, js = api("GET", q("/v1/tasks", overdue="true"), key=key)
            overdue = [t["title"] for t in js.get("tasks", []) if t["title"].startswith(tag)]
            assert overdue == [tag + " yesterday"], (zone, today, js)
            # Done is never overdue; a timed task an hour ago is.
            st, _, done = api("PATCH", "/v1/tasks/" + yesterday["id"], {"done": True}, key=key)
            assert st == 200 and not done.get("overdue"), (zone, done)
            hour_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
            timed = _task(key, title=tag + " timed",
                          dueAt=hour_ago.strftime("%Y-%m-%dT%H:%M:%SZ"))
            assert timed["overdue"] is True, (zone, timed)
            return on_day, tomorrow, timed

        on_day, tomorrow, timed = _on_same_day(zone, check)
        # The calendar: all-day tasks as DATE values, timed ones in UTC.
        st, hdr, data = api("GET", "/v1/tasks.ics", key=key)
        assert st == 200 and hdr["Content-Type"].startswith("text/calendar"), (st, hdr)
        events = {e["UID"]: e for e in _components(_unfold(data), "VEVENT")}
        for t in (on_day, tomorrow):
            e = events[t["id"] + "@tasks.crm"]
            assert e["DTSTART;VALUE=DATE"] == t["dueAt"].replace("-", ""), (zone, e)
        e = events[timed["id"] + "@tasks.crm"]
        want = dt.datetime.strptime(timed["dueAt"], "%Y-%m-%dT%H:%M:%SZ")
        assert e["DTSTART"] == want.strftime("%Y%m%dT%H%M%SZ"), (zone, e)


def _visit(key, person, starts):
    """An attended booking that started at starts (an aware datetime)."""
    at = starts.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    booking = {"id": unique("b"), "service": "Cut", "staff": "Eva", "startsAt": at}
    ev = {"source": "booking", "eventId": unique("bk"), "type": "booking.attended",
          "occurredAt": at, "customer": person, "booking": booking}
    st, _, js = api("POST", "/v1/events", ev, key=key)
    assert st == 202, (st, js)
    return js["customerId"]


def _dry_run(key, tag, days):
    rule = {"trigger": "RULE_TRIGGER_TAG_ADDED", "triggerTag": tag,
            "conditions": [{"kind": "RULE_CONDITION_HAS_TAG", "value": tag},
                           {"kind": "RULE_CONDITION_LAST_VISIT_DAYS", "number": days}],
            "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": "x"}]}
    st, _, js = api("POST", "/v1/rules:dryRun", {"rule": rule}, key=key)
    assert st == 200, (st, js)
    return sorted(m["customerId"] for m in js.get("matches", []))


def test_last_visit_days_counts_the_business_calendar_days():
    for zone in ZONES:
        key = _business(zone)
        tz = zoneinfo.ZoneInfo(zone)

        def check(today, key=key, tz=tz):
            tag = unique("visit").lower()
            midnight = dt.datetime.combine(today, dt.time(0, 0), tz)
            people = {}
            # Yesterday just after midnight: one calendar day ago, though
            # more than 24 hours may have passed.
            for name, starts in (("one", midnight - dt.timedelta(days=1) + dt.timedelta(minutes=1)),
                                 # The day before yesterday just before midnight:
                                 # two days ago, though under 48 hours may have passed.
                                 ("two", midnight - dt.timedelta(minutes=1)
                                  - dt.timedelta(days=1)),
                                 ("today", midnight + dt.timedelta(minutes=1))):
                person = {"externalId": unique("c"), "firstName": name, "lastName": unique("V"),
                          "email": unique_email("visit")}
                cid = _visit(key, person, starts)
                st, _, c = api("PATCH", "/v1/customers/" + cid, {"tags": [tag]}, key=key)
                assert st == 200, (st, c)
                people[name] = cid
            crm.wait_until(lambda: len(_dry_run(key, tag, 0)) == 2, timeout=30)
            assert _dry_run(key, tag, 0) == sorted([people["one"], people["two"]]), (zone, today)
            assert _dry_run(key, tag, 1) == [people["two"]], (zone, today)
            assert _dry_run(key, tag, 2) == [], (zone, today)
            # The rule itself, run by notes' worker on a tag added.
            from test_rules import _rule, _runs
            go = unique("go").lower()
            rule = _rule({"trigger": "RULE_TRIGGER_TAG_ADDED", "triggerTag": go,
                          "conditions": [{"kind": "RULE_CONDITION_LAST_VISIT_DAYS", "number": 1}],
                          "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": go + "-lapsed"}]},
                         key=key)
            for name in ("one", "two"):
                st, _, c = api("PATCH", "/v1/customers/" + people[name], {"tags": [tag, go]},
                               key=key)
                assert st == 200, (st, c)

            def ended():
                got = {r["customerId"]: r for r in _runs(rule["id"], key)
                       if r["status"] != "PENDING"}
                return got if len(got) == 2 else None

            runs = crm.wait_until(ended, timeout=30, what="the rule's two runs")
            assert runs[people["two"]]["status"] == "DONE", (zone, runs)
            assert runs[people["one"]]["status"] == "SKIPPED", (zone, runs)

        if _local_now(zone).time() < dt.time(0, 2):
            crm.wait_until(lambda: _local_now(zone).time() >= dt.time(0, 2), timeout=150)
        _on_same_day(zone, check)


def test_a_birth_date_may_be_the_business_today_not_its_tomorrow():
    for zone in ZONES:
        key = _business(zone)

        def check(today, key=key):
            st, _, c = api("POST", "/v1/customers",
                           {"firstName": "Born", "lastName": unique("Today"),
                            "birthDate": today.isoformat()}, key=key)
            assert st == 201 and c["birthDate"] == today.isoformat(), (zone, st, c)
            tomorrow = (today + dt.timedelta(days=1)).isoformat()
            st, _, err = api("POST", "/v1/customers",
                             {"firstName": "Born", "lastName": unique("Tomorrow"),
                              "birthDate": tomorrow}, key=key)
            assert st == 400, (zone, st, err)
            fields = [d.get("field") for d in err["error"].get("details", [])]
            assert fields == ["birthDate"] and "future" in err["error"]["details"][0].get(
                "description", err["error"]["message"]), (zone, err)
            # An update is held to the same day.
            st, _, u = api("PATCH", "/v1/customers/" + c["id"], {"birthDate": tomorrow}, key=key)
            assert st == 400, (zone, st, u)

        _on_same_day(zone, check)


def _stamp_near(name, zone, ext):
    m = re.fullmatch(r"customers-(\d{8}-\d{6})\." + ext, name)
    assert m, name
    stamped = dt.datetime.strptime(m.group(1), "%Y%m%d-%H%M%S")
    local = _local_now(zone).replace(tzinfo=None)
    assert abs((local - stamped).total_seconds()) < 120, (zone, name, local)


def test_export_file_names_carry_the_business_wall_clock():
    for zone in ZONES:
        key = _business(zone)
        st, _, c = api("POST", "/v1/customers",
                       {"firstName": "Export", "lastName": unique("Me")}, key=key)
        assert st == 201, c
        st, hdr, _body = api("GET", "/v1/customers:export", key=key, timeout=120)
        assert st == 200, (st, hdr)
        name = re.fullmatch(r'attachment; filename="(.*)"', hdr["Content-Disposition"]).group(1)
        _stamp_near(name, zone, "csv")
        st, _, job = api("POST", "/v1/exports", {"format": "xlsx"}, key=key)
        assert st == 201, (st, job)
        _stamp_near(job["filename"], zone, "xlsx")


def test_ui_offers_the_business_today_as_a_subscription_start_at_390px_in_two_languages():
    import os
    from test_subscriptions import _plan
    from test_ui import SHOTS, _browser, _no_js_errors, _open
    from test_wallet import _fits, _phone_signed_in

    for zone, lang, label in (("Pacific/Pago_Pago", None, "Starts on"),
                              ("Pacific/Kiritimati", "pl", "Początek")):
        key = _business(zone)
        _plan(key)
        st, _, c = api("POST", "/v1/customers", {"firstName": "Sub", "lastName": unique("Start")},
                       key=key)
        assert st == 201, c
        with _browser("business-day") as b:
            _phone_signed_in(b, key)
            if lang:
                b.js("localStorage.setItem('crm.lang', '%s');" % lang)
            try:
                _open(b, "/customers")
                _open(b, "/customers/" + c["id"])
                b.wait("#subs-sell-open").click()
                start = b.wait("#subs-start")
                b.wait_text("#subs-sell-form", label)
                _on_same_day(zone, lambda today: crm.wait_until(
                    lambda: start.prop("value") == today.isoformat(), timeout=10))
                _fits(b)
                b.full_screenshot(os.path.join(SHOTS, "subs-start-%s.png" % (lang or "en")))
            finally:
                b.js("localStorage.removeItem('crm.lang');")
            _no_js_errors(b)
