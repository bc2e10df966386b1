"""The web UI on the business's clock (format.js): a browser in UTC (the test
machine) signed in to a business in Pacific/Kiritimati (UTC+14) or
America/Los_Angeles shows a task's due time on the business's wall clock,
names the zone beside the time inputs (and in the header on a wide screen),
and a task's due time and a message's send-later time typed in the UI land
at the instant they mean there (read back over HTTP); at 390 px, in Polish
and in German."""
import datetime
import zoneinfo

from crm import api, unique, unique_email
from webdriver import ELEMENT
from test_ui import _browser, _no_js_errors, _open
from test_ui_seeds import DESKTOP, PHONE, _fits, _sign_in, _tenant, _width

# The zone's name as the note shows it, and the note's words.
WORDS = {
    "pl": {"zone": "Pacific/Kiritimati", "shown": "Pacific/Kiritimati",
           "note": "Godziny w strefie", "input": "Czas w strefie"},
    "de": {"zone": "America/Los_Angeles", "shown": "America/Los Angeles",
           "note": "Zeiten in", "input": "Uhrzeit in"},
}

# What Intl shows for an instant in a zone, as format.js formats a date-time.
SHOWN = """return new Intl.DateTimeFormat(arguments[0], { dateStyle: "medium", timeStyle: "short",
  timeZone: arguments[2] || undefined }).format(new Date(arguments[1]));"""

SET_INPUT = """const input = arguments[0]; input.value = arguments[1];
input.dispatchEvent(new Event("input", { bubbles: true }));"""


def _instant(wall, zone):
    """The instant of a wall-clock time in zone."""
    return wall.replace(tzinfo=zoneinfo.ZoneInfo(zone))


def _read(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))


def _business_clock(lang):
    w = WORDS[lang]
    _, key = _tenant("PL" if lang == "pl" else "DE")
    st, _, s = api("PATCH", "/v1/settings", {"timeZone": w["zone"]}, key=key)
    assert st == 200 and s["timeZone"] == w["zone"], s
    st, _, c = api("POST", "/v1/customers", {"firstName": "Ada", "lastName": unique("Zone"),
                                              "email": unique_email("zone")}, key=key)
    assert st == 201, c
    # A task due at 20:00 UTC: 10:00 the next day in Kiritimati, 12:00 in Los Angeles.
    due = "2030-01-15T20:00:00Z"
    st, _, task = api("POST", "/v1/customers/%s/tasks" % c["id"],
                      {"title": unique("Call back"), "dueAt": due}, key=key)
    assert st in (200, 201), task
    with _browser("zone-" + lang) as b:
        _sign_in(b, lang, key)
        # On a wide screen the header names the zone (the device's is UTC).
        _width(b, DESKTOP)
        b.wait_until(lambda: w["shown"] in b.find("#tenant-zone").text, what="the zone in the header")
        assert w["note"] in b.find("#tenant-zone").text
        _width(b, PHONE)
        _open(b, "/customers/%s" % c["id"])
        item = b.wait('#customer-tasks .task[data-id="%s"]' % task["id"])
        here = b.js(SHOWN, lang, due, w["zone"])
        utc = b.js(SHOWN, lang, due, "UTC")
        assert here != utc
        b.wait_until(lambda: here in item.find(".task-meta").text, what="the due time on the business's clock")
        assert utc not in item.text, item.text

        # A task typed in: 09:30 on 1 February on the business's clock.
        b.find("#task-add").click()
        form = b.wait("#tasks-section .task-form")
        title = unique("Invoice")
        form.find(".task-title-input").send_keys(title)
        hint = form.find(".task-due-input").attr("aria-describedby")
        note = b.js("return document.getElementById(arguments[0]).textContent;", hint.split()[0])
        assert w["input"] in note and w["shown"] in note, note
        b.js(SET_INPUT, {ELEMENT: form.find(".task-due-input").ref}, "2030-02-01T09:30")
        _fits(b, "the task form with the zone named at 390 px")
        form.find(".task-save").click()
        b.wait_text("#customer-tasks", title)
        st, _, page = api("GET", "/v1/customers/%s/tasks" % c["id"], key=key)
        made = next(t for t in page["tasks"] if t["title"] == title)
        assert _read(made["dueAt"]) == _instant(datetime.datetime(2030, 2, 1, 9, 30), w["zone"]), made

        # A message sent later: 08:00 in ten days on the business's clock (at most a year ahead).
        day = datetime.datetime.now(zoneinfo.ZoneInfo(w["zone"])).date() + datetime.timedelta(days=10)
        wall = datetime.datetime(day.year, day.month, day.day, 8, 0)
        b.find("#conv-new summary").click()
        conv = b.wait("#conv-new .conv-form")
        subject = unique("Reminder")
        conv.find(".conv-subject").send_keys(subject)
        conv.find(".conv-text").send_keys("See you soon.")
        conv.find(".conv-later").click()
        at = conv.find(".conv-send-at")
        note = b.js("return document.getElementById(arguments[0]).textContent;",
                    at.attr("aria-describedby").split()[0])
        assert w["shown"] in note, note
        b.js(SET_INPUT, {ELEMENT: at.ref}, wall.strftime("%Y-%m-%dT%H:%M"))
        _fits(b, "the composer with the zone named at 390 px")
        conv.find(".conv-send").click()
        b.wait('#messages li[data-status="SCHEDULED"]')
        st, _, msgs = api("GET", "/v1/customers/%s/messages" % c["id"], key=key)
        m = next(x for x in msgs["messages"] if x["subject"] == subject)
        assert _read(m["sendAt"]) == _instant(wall, w["zone"]), m
        _fits(b, "the card with the scheduled message at 390 px")
        _no_js_errors(b)


def test_ui_times_on_a_kiritimati_business_clock_in_polish_at_390_px():
    _business_clock("pl")


def test_ui_times_on_a_los_angeles_business_clock_in_german_at_390_px():
    _business_clock("de")
