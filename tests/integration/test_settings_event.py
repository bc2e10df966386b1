"""A change to the business's settings reaches the other services at once:
customers publishes settings.updated on its stream in the change's
transaction (UpdateSettings, UpdateWalletSettings), and notes, which keeps
the business's zone for 30 s, takes the new one from the event, so an
all-day task turns overdue (or back) on the new zone's day well before its
kept answer would have lapsed. The event carries the documented fields and
no VAT number, makes no timeline row, and search goes on past it."""
import datetime as dt
import json
import time
import zoneinfo

import crm
from crm import api, q, unique, wait_until
from test_access import _key
from test_wallet import _tenant

EAST, WEST = "Pacific/Kiritimati", "Pacific/Pago_Pago"  # UTC+14 and UTC-11
# Well inside notes' 30 s: only the event can explain a change seen this soon.
SOON_S = 10
# Handler threads of a notes copy, each a worker at the broker
# (CM_SVC_THREADS_DEFAULT): the broker hands requests to idle workers in
# turn, so this many reads per copy, in a row, reach every copy.
NOTES_THREADS = 16
EXTRA = "notes-9"  # a second copy, which does not lead (log name: notes-N)


def _last_seq():
    out = crm.crmctl(["call", "customers", "ReplayEvents",
                      '{"afterSeq":"9223372036854775807","limit":1}', "--tenant", crm.TENANT])
    return int(json.loads(out)["body"]["lastSeq"])


def _settings_events(tenant, after):
    """The settings.updated events of tenant after seq `after`, as crmctl
    events prints them."""
    out = crm.crmctl(["events", "--from", str(after), "--idle-exit-ms", "1500"], timeout=60)
    evs = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [e for e in evs if e.get("type") == "settings.updated" and e.get("tenantId") == tenant]


def _patch(key, path, body):
    st, _, js = api("PATCH", path, body, key=key)
    assert st == 200, (st, js)
    return js


def _overdue(key, task_id):
    st, _, got = api("GET", "/v1/tasks/" + task_id, key=key)
    assert st == 200, (st, got)
    return bool(got.get("overdue"))


def _all_say(key, task_id, overdue):
    """True when reads in a row, enough for both copies of notes to answer
    some, find the task overdue (or not)."""
    return all(_overdue(key, task_id) == overdue for _ in range(2 * NOTES_THREADS + 1))


def _both_served(before):
    """True when both copies of notes handled requests since before."""
    now = crm.served_by_copy("notes")
    return all(now.get(n, 0) > before.get(n, 0) for n in ("notes-0", EXTRA))


def test_a_zone_change_turns_an_all_day_task_overdue_at_once_on_every_copy():
    key = _key(_tenant())
    _patch(key, "/v1/settings", {"timeZone": WEST})
    with crm.extra_process("notes", EXTRA):
        for _ in range(2):
            # Due the day before the east's today: over there the day has
            # ended; in the west (25 hours behind) it is today or to come.
            east_today = dt.datetime.now(zoneinfo.ZoneInfo(EAST)).date()
            due = (east_today - dt.timedelta(days=1)).isoformat()
            st, _, task = api("POST", "/v1/tasks", {"title": unique("due"), "dueAt": due},
                              key=key)
            assert st == 201 and not task.get("overdue"), (st, task)
            # Both copies answer, and keep the west's zone for 30 s.
            served = crm.served_by_copy("notes")
            wait_until(lambda: _all_say(key, task["id"], False) and _both_served(served),
                       timeout=SOON_S, what="both copies to read the task in the west")

            started = time.monotonic()
            _patch(key, "/v1/settings", {"timeZone": EAST})
            served = crm.served_by_copy("notes")
            wait_until(lambda: _all_say(key, task["id"], True), timeout=SOON_S,
                       what="the task overdue on the east's day")
            assert _both_served(served), (served, crm.served_by_copy("notes"))
            st, _, js = api("GET", q("/v1/tasks", overdue="true"), key=key)
            assert [t["id"] for t in js.get("tasks", [])] == [task["id"]], js
            # And back: the west's day has not ended.
            _patch(key, "/v1/settings", {"timeZone": WEST})
            wait_until(lambda: _all_say(key, task["id"], False), timeout=SOON_S,
                       what="the task not overdue on the west's day")
            assert time.monotonic() - started < 30
            if dt.datetime.now(zoneinfo.ZoneInfo(EAST)).date() == east_today:
                return
            api("DELETE", "/v1/tasks/" + task["id"], key=key)  # the day ended meanwhile
    raise AssertionError("the east's day ended twice during one check")


def test_settings_updated_on_the_stream_with_the_documented_fields():
    tenant = _tenant("DE")
    key = _key(tenant)
    before = _last_seq()
    name = unique("Studio")
    _patch(key, "/v1/settings", {"timeZone": "Europe/Berlin", "name": name,
                                 "defaultCountry": "DE", "vatNumber": "PL5260250274"})
    # A refused change publishes nothing.
    st, _, err = api("PATCH", "/v1/settings", {"timeZone": "Mars/Olympus"}, key=key)
    assert st == 400 and "timeZone" in json.dumps(err), (st, err)
    # The wallet's currency is a setting too.
    _patch(key, "/v1/walletSettings", {"currency": "PLN"})

    evs = wait_until(lambda: (lambda e: e if len(e) >= 2 else None)(
        _settings_events(tenant, before)), timeout=30, what="two settings events")
    assert len(evs) == 2, evs
    first, second = evs
    assert first["stream"] == "customers" and int(first["seq"]) > before, first
    assert first["settings"] == {"timeZone": "Europe/Berlin", "defaultCountry": "DE",
                                 "currency": "", "effectiveCurrency": "EUR", "name": name}, first
    assert second["settings"]["currency"] == "PLN", second
    assert second["settings"]["effectiveCurrency"] == "PLN", second
    assert second["settings"]["timeZone"] == "Europe/Berlin", second
    assert int(second["seq"]) > int(first["seq"])
    # What the settings event leaves out: the VAT number, and any customer.
    text = json.dumps(evs)
    assert "5260250274" not in text and "vatNumber" not in text, text
    assert "customer" not in first and "customer" not in second, evs
    # No customer's timeline shows it, and search follows on past it.
    rows = crm.psql("SELECT count(*) FROM notes.timeline WHERE tenant_id = '%s' "
                    "AND type = 'settings.updated'" % tenant).strip()
    assert rows == "0", rows
    last = unique("After")
    st, _, c = api("POST", "/v1/customers", {"firstName": "Sol", "lastName": last}, key=key)
    assert st == 201, (st, c)
    wait_until(lambda: api("GET", q("/v1/customers:search", q=last), key=key)[2]
               .get("customers"), timeout=SOON_S, what="search to find the customer")


def test_the_first_money_pins_the_currency_with_an_event():
    from test_wallet import _adjust, _customer
    tenant = _tenant("PL")  # no currency set: the country's, PLN
    key = _key(tenant)
    cid = _customer(key)
    before = _last_seq()
    for amount in (500, 700):
        st, _, js = _adjust(key, cid, amount)
        assert st == 200, (st, js)
    evs = wait_until(lambda: _settings_events(tenant, before), timeout=30,
                     what="the settings event of the pinned currency")
    # Once: the first money pins the currency as set; the second finds it set.
    assert len(evs) == 1, evs
    assert evs[0]["settings"]["currency"] == "PLN", evs
    assert evs[0]["settings"]["effectiveCurrency"] == "PLN", evs
    st, _, s = api("GET", "/v1/settings", key=key)
    assert st == 200 and s["currency"] == "PLN", s
