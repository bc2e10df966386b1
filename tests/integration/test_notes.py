"""Notes and tasks (services/notes) through the gateway: notes on a customer,
tasks across customers, and the iCalendar feed a calendar app subscribes to.

Each test that lists "my tasks" works in a tenant of its own, so other tests'
data never shows up in its lists.
"""

import datetime as dt

import crm
from crm import api, q, unique

EM = "\U0001F600"  # a 4-byte UTF-8 character
MULTILINGUAL = ("Zażółć gęślą jaźń — Grüße, ça va? Ελληνικά, русский, 日本語の文章, "
                "العربية, עברית, हिन्दी " + EM + "\nSecond line\twith a tab")


def _tenant(country="PL"):
    """A fresh tenant with an administrator key; returns (tenant, key)."""
    tenant = crm.crmctl(["tenant", "create", unique("Notes"), "--country", country]).strip()
    key = crm.crmctl(["key", "create", "--tenant", tenant, "--role", "admin",
                      "--name", "Admin " + unique("a")]).strip()
    return tenant, key


def _key(tenant, role, name):
    return crm.crmctl(["key", "create", "--tenant", tenant, "--role", role, "--name", name]).strip()


def _customer(key=crm.DEFAULT, **fields):
    body = {"firstName": "Anna", "lastName": unique("Nowak")}
    body.update(fields)
    st, _, js = api("POST", "/v1/customers", body, key=key)
    assert st == 201, js
    return js


def _violation(js, field):
    """The reason of the violation naming field, or None."""
    for d in js.get("error", {}).get("details", []):
        for v in d.get("fieldViolations", [d]):
            if v.get("field") == field:
                return v.get("reason")
    return None


def _iso(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unfold(data):
    """Checks the physical lines of an iCalendar body (CRLF, <= 75 octets) and
    returns the logical lines."""
    assert data.endswith(b"\r\n"), data[-20:]
    physical = data[:-2].split(b"\r\n")
    out = []
    for ln in physical:
        assert b"\n" not in ln and b"\r" not in ln, ln
        assert len(ln) <= 75, (len(ln), ln)
        ln.decode("utf-8")  # a folded line never splits a character
        if ln.startswith(b" ") and out:
            out[-1] += ln[1:]
        else:
            out.append(ln)
    return [x.decode("utf-8") for x in out]


def _components(lines, kind):
    """The components of a kind as dicts {property name with params: value}."""
    comps, cur = [], None
    for ln in lines:
        if ln == "BEGIN:" + kind:
            cur = {}
        elif ln == "END:" + kind:
            comps.append(cur)
            cur = None
        elif cur is not None:
            name, _, value = ln.partition(":")
            cur[name] = value
    return comps


def _ical_text(v):
    """Undoes RFC 5545 TEXT escaping."""
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append("\n" if v[i + 1] in "nN" else v[i + 1])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


# ---------------------------------------------------------------- notes


def test_notes_crud_multilingual():
    c = _customer()
    base = f"/v1/customers/{c['id']}/notes"
    st, hdr, n = api("POST", base, {"body": MULTILINGUAL})
    assert st == 201, n
    assert hdr["Location"] == f"{base}/{n['id']}", hdr
    assert n["body"] == MULTILINGUAL and n["customerId"] == c["id"] and not n["pinned"]
    assert n["author"]["id"] and n["author"]["name"], n
    assert n["createdAt"].endswith("Z") and n["editedBy"] is None, n
    st, hdr, got = api("GET", f"{base}/{n['id']}")
    assert st == 200 and got == n, got
    etag = hdr["ETag"]
    # Edit the text: edited by and updated at change; created at stays.
    st, hdr, ed = api("PATCH", f"{base}/{n['id']}", {"body": "Geändert: " + EM},
                      headers={"If-Match": etag})
    assert st == 200, ed
    assert ed["body"] == "Geändert: " + EM and ed["editedBy"]["id"] == n["author"]["id"]
    assert ed["createdAt"] == n["createdAt"] and ed["updatedAt"] > n["updatedAt"], ed
    # The old etag no longer matches.
    st, _, js = api("PATCH", f"{base}/{n['id']}", {"pinned": True}, headers={"If-Match": etag})
    assert st == 412, js
    st, _, pn = api("PATCH", f"{base}/{n['id']}", {"pinned": True})
    assert st == 200 and pn["pinned"] and pn["body"] == ed["body"], pn
    # Output-only fields sent back are ignored; unknown ones are refused.
    st, _, js = api("PATCH", f"{base}/{n['id']}", {"author": {"id": "x"}, "pinned": False})
    assert st == 200 and js["author"] == n["author"] and not js["pinned"], js
    st, _, js = api("PATCH", f"{base}/{n['id']}", {"colour": "red"})
    assert st == 400, js
    st, _, _ = api("DELETE", f"{base}/{n['id']}")
    assert st == 204
    st, _, js = api("GET", f"{base}/{n['id']}")
    assert st == 404 and n["id"] in js["error"]["message"], js
    st, _, js = api("DELETE", f"{base}/{n['id']}")
    assert st == 404, js
    # The row is gone, not flagged.
    rows = crm.psql_rows(f"SELECT count(*) FROM notes.notes WHERE id = '{n['id']}'")
    assert rows == [("0",)], rows


def test_note_length_limits_count_characters():
    c = _customer()
    base = f"/v1/customers/{c['id']}/notes"
    # 10,000 characters of 4 bytes each (40,000 bytes) are allowed...
    st, _, js = api("POST", base, {"body": EM * 10000})
    assert st == 201 and len(js["body"]) == 10000, (st, js if st != 201 else "")
    st, _, js = api("POST", base, {"body": "a" * 10000})
    assert st == 201
    # ... 10,001 are not, and the error names the field and the limit.
    for text in (EM * 10001, "ł" * 10001):
        st, _, js = api("POST", base, {"body": text})
        assert st == 400, js
        assert _violation(js, "note.body") == "TOO_LONG", js
        assert "10001" in js["error"]["message"] or "10001" in str(js), js
    st, _, js = api("POST", base, {"body": "  \n\t "})
    assert st == 400 and _violation(js, "note.body") == "REQUIRED", js
    st, _, js = api("POST", base, {})
    assert st == 400 and _violation(js, "note.body") == "REQUIRED", js
    st, _, js = api("POST", base, {"body": "bell \u0007 here"})
    assert st == 400 and _violation(js, "note.body") == "INVALID", js
    # Windows line ends are stored as newlines.
    st, _, js = api("POST", base, {"body": "one\r\ntwo"})
    assert st == 201 and js["body"] == "one\ntwo", js


def test_notes_pinned_first_then_newest_and_paging():
    c = _customer()
    base = f"/v1/customers/{c['id']}/notes"
    ids = []
    for i in range(5):
        st, _, js = api("POST", base, {"body": f"note {i}", "pinned": i in (1, 3)})
        assert st == 201, js
        ids.append(js["id"])
    st, _, js = api("GET", base)
    assert st == 200, js
    order = [n["id"] for n in js["notes"]]
    assert order == [ids[3], ids[1], ids[4], ids[2], ids[0]], order
    assert js["nextPageToken"] == ""
    # Pages of two walk the same order without repeats.
    seen, tok = [], None
    for _ in range(5):
        st, _, page = api("GET", q(base, pageSize=2, pageToken=tok))
        assert st == 200 and len(page["notes"]) <= 2, page
        seen += [n["id"] for n in page["notes"]]
        tok = page["nextPageToken"]
        if not tok:
            break
    assert seen == order, seen
    st, _, js = api("GET", q(base, pageSize=101))
    assert st == 400 and _violation(js, "pageSize") == "OUT_OF_RANGE", js
    st, _, js = api("GET", q(base, pageToken="garbage"))
    assert st == 400 and _violation(js, "pageToken") == "INVALID_FORMAT", js


def test_notes_need_a_customer_of_this_tenant():
    mine = _customer()
    tenant, key = _tenant()
    # Another tenant's customer does not exist for this key.
    st, _, js = api("POST", f"/v1/customers/{mine['id']}/notes", {"body": "hello"}, key=key)
    assert st == 404 and mine["id"] in js["error"]["message"], js
    st, _, js = api("GET", f"/v1/customers/{mine['id']}/notes", key=key)
    assert st == 404, js
    st, _, js = api("POST", f"/v1/customers/{mine['id']}/tasks", {"title": "x"}, key=key)
    assert st == 404 and mine["id"] in js["error"]["message"], js
    # Nor do its notes, even by id.
    st, _, n = api("POST", f"/v1/customers/{mine['id']}/notes", {"body": "private"})
    assert st == 201
    st, _, js = api("GET", f"/v1/customers/{mine['id']}/notes/{n['id']}", key=key)
    assert st == 404, js
    st, _, js = api("DELETE", f"/v1/customers/{mine['id']}/notes/{n['id']}", key=key)
    assert st == 404, js
    # A customer that never existed.
    missing = "00000000-0000-4000-8000-00000000dead"
    st, _, js = api("POST", f"/v1/customers/{missing}/notes", {"body": "x"})
    assert st == 404 and missing in js["error"]["message"], js


def test_note_roles_and_authorship():
    tenant, admin = _tenant()
    staff = _key(tenant, "staff", "Eva")
    other = _key(tenant, "staff", "Olaf")
    reader = _key(tenant, "readonly", "Auditor")
    c = _customer(key=admin)
    base = f"/v1/customers/{c['id']}/notes"
    st, _, n = api("POST", base, {"body": "by Eva"}, key=staff)
    assert st == 201 and n["author"]["name"] == "Eva", n
    st, _, js = api("POST", base, {"body": "x"}, key=reader)
    assert st == 403, js
    st, _, js = api("GET", base, key=reader)
    assert st == 200 and [x["id"] for x in js["notes"]] == [n["id"]], js
    # Only the author or an administrator changes or deletes a note.
    st, _, js = api("PATCH", f"{base}/{n['id']}", {"body": "hijack"}, key=other)
    assert st == 403, js
    st, _, js = api("DELETE", f"{base}/{n['id']}", key=other)
    assert st == 403, js
    st, _, js = api("PATCH", f"{base}/{n['id']}", {"body": "fixed"}, key=admin)
    assert st == 200 and js["editedBy"]["name"].startswith("Admin"), js
    st, _, js = api("PATCH", f"{base}/{n['id']}", {"body": "by Eva again"}, key=staff)
    assert st == 200, js
    st, _, _ = api("DELETE", f"{base}/{n['id']}", key=staff)
    assert st == 204


def test_create_note_is_idempotent():
    c = _customer()
    base = f"/v1/customers/{c['id']}/notes"
    k = unique("idem")
    st1, _, a = api("POST", base, {"body": "once"}, headers={"Idempotency-Key": k})
    st2, _, b = api("POST", base, {"body": "once"}, headers={"Idempotency-Key": k})
    assert st1 == 201 and st2 == 201 and a["id"] == b["id"], (a, b)
    st, _, js = api("GET", base)
    assert [n["body"] for n in js["notes"]].count("once") == 1, js
    st, _, js = api("POST", base, {"body": "twice"}, headers={"Idempotency-Key": k})
    assert st == 400 and "idempotency key" in js["error"]["message"], js
    k2 = unique("idem")
    st, _, a = api("POST", "/v1/tasks", {"title": "once"}, headers={"Idempotency-Key": k2})
    st, _, b = api("POST", "/v1/tasks", {"title": "once"}, headers={"Idempotency-Key": k2})
    assert a["id"] == b["id"], (a, b)


# ---------------------------------------------------------------- tasks


def test_tasks_crud_and_validation():
    c = _customer(firstName="Jürgen", lastName=unique("Groß"))
    st, hdr, t = api("POST", f"/v1/customers/{c['id']}/tasks",
                     {"title": "Rückruf wegen Termin", "description": "Details " + EM,
                      "dueAt": "2030-05-06T10:00:00+02:00"})
    assert st == 201, t
    assert hdr["Location"] == f"/v1/tasks/{t['id']}"
    assert t["customerId"] == c["id"] and t["customerName"] == f"Jürgen {c['lastName']}", t
    assert t["dueAt"] == "2030-05-06T08:00:00Z" and not t["done"] and t["doneAt"] == "", t
    # The assignee defaults to the creator.
    assert t["assignee"] == t["createdBy"] and t["assignee"]["id"], t
    st, _, got = api("GET", f"/v1/tasks/{t['id']}")
    assert st == 200 and got == t
    # Done records when; undone clears it.
    st, _, d = api("PATCH", f"/v1/tasks/{t['id']}", {"done": True})
    assert st == 200 and d["done"] and d["doneAt"].endswith("Z"), d
    assert d["title"] == t["title"] and d["dueAt"] == t["dueAt"], d
    st, _, d2 = api("PATCH", f"/v1/tasks/{t['id']}", {"title": "Renamed"})
    assert d2["doneAt"] == d["doneAt"], d2  # still done: the time stays
    st, _, u = api("PATCH", f"/v1/tasks/{t['id']}", {"done": False, "dueAt": "2030-05-07"})
    assert st == 200 and not u["done"] and u["doneAt"] == "" and u["dueAt"] == "2030-05-07", u
    # Clearing the due date and the customer.
    st, _, u = api("PATCH", f"/v1/tasks/{t['id']}", {"dueAt": "", "customerId": ""})
    assert st == 200 and u["dueAt"] == "" and u["customerId"] == "" and u["customerName"] == "", u
    st, _, js = api("PATCH", f"/v1/tasks/{t['id']}",
                    {"customerId": "00000000-0000-4000-8000-00000000dead"})
    assert st == 404 and "00000000-0000-4000-8000-00000000dead" in js["error"]["message"], js
    st, _, _ = api("DELETE", f"/v1/tasks/{t['id']}")
    assert st == 204
    st, _, _ = api("GET", f"/v1/tasks/{t['id']}")
    assert st == 404

    # Limits, each naming its field.
    st, _, js = api("POST", "/v1/tasks", {"title": "ę" * 200})
    assert st == 201, js
    cases = [
        ({"title": "ę" * 201}, "task.title", "TOO_LONG"),
        ({}, "task.title", "REQUIRED"),
        ({"title": "two\nlines"}, "task.title", "INVALID"),
        ({"title": "x", "description": EM * 10001}, "task.description", "TOO_LONG"),
        ({"title": "x", "dueAt": "next tuesday"}, "task.dueAt", "INVALID_FORMAT"),
        ({"title": "x", "dueAt": "2030-05-06T10:00:00"}, "task.dueAt", "INVALID_FORMAT"),
        ({"title": "x", "dueAt": "2030-02-30"}, "task.dueAt", "INVALID_FORMAT"),
        ({"title": "x", "dueAt": "1999-12-31"}, "task.dueAt", "OUT_OF_RANGE"),
        ({"title": "x", "dueAt": "2200-01-01"}, "task.dueAt", "OUT_OF_RANGE"),
        ({"title": "x", "assignee": {"id": "has space"}}, "task.assignee.id", "INVALID_FORMAT"),
    ]
    for body, field, reason in cases:
        st, _, js = api("POST", "/v1/tasks", body)
        assert st == 400 and _violation(js, field) == reason, (body, js)
    st, _, js = api("POST", "/v1/tasks", {"title": "x", "description": EM * 10000})
    assert st == 201, js
    st, _, js = api("POST", f"/v1/customers/{c['id']}/tasks",
                    {"title": "x", "customerId": "00000000-0000-4000-8000-00000000beef"})
    assert st == 400 and _violation(js, "task.customerId") == "INVALID", js


def test_my_open_tasks_overdue_and_due_order():
    tenant, admin = _tenant()
    eva = _key(tenant, "staff", "Eva Kowalska")
    olaf = _key(tenant, "staff", "Olaf")
    c1 = _customer(key=admin, firstName="Ania")
    c2 = _customer(key=admin, isCompany=True, company={"name": "Kwiaciarnia Róża"})
    now = dt.datetime.now(dt.timezone.utc)
    yesterday = now - dt.timedelta(days=1)

    def task(key, **body):
        st, _, js = api("POST", "/v1/tasks", body, key=key)
        assert st == 201, js
        return js

    # Eva's tasks, created in a shuffled order.
    t_later = task(eva, title="later", dueAt=_iso(now + dt.timedelta(days=3)),
                   customerId=c1["id"])
    t_none = task(eva, title="no due date")
    t_over = task(eva, title="overdue", dueAt=_iso(now - dt.timedelta(hours=2)),
                  customerId=c2["id"])
    t_soon = task(eva, title="soon", dueAt=_iso(now + dt.timedelta(hours=5)))
    t_oldday = task(eva, title="all day yesterday", dueAt=yesterday.strftime("%Y-%m-%d"))
    t_today = task(eva, title="all day today", dueAt=now.strftime("%Y-%m-%d"))
    t_done = task(eva, title="done", dueAt=_iso(now - dt.timedelta(days=2)))
    st, _, _ = api("PATCH", f"/v1/tasks/{t_done['id']}", {"done": True}, key=eva)
    assert st == 200
    # Olaf's, and one Olaf assigns to Eva by her id.
    eva_id = t_later["assignee"]["id"]
    task(olaf, title="olaf's own", dueAt=_iso(now - dt.timedelta(days=5)))
    t_given = task(olaf, title="from olaf", dueAt=_iso(now + dt.timedelta(days=1)),
                   assignee={"id": eva_id, "name": "Eva K."})
    assert t_given["assignee"] == {"id": eva_id, "name": "Eva K."}, t_given
    assert t_given["createdBy"]["name"] == "Olaf"
    assert t_over["customerName"] == "Kwiaciarnia Róża", t_over

    st, _, js = api("GET", q("/v1/tasks", assignee="me", done="false"), key=eva)
    assert st == 200, js
    titles = [t["title"] for t in js["tasks"]]
    # By due time (an all-day task at the start of its day, UTC); no due date last.
    def key(t):
        d = t["dueAt"]
        if not d:
            return (1, "")
        return (0, d + "T00:00:00Z" if len(d) == 10 else d)
    mine = [t_later, t_none, t_over, t_soon, t_oldday, t_today, t_given]
    want = [t["title"] for t in sorted(mine, key=key)]
    assert titles == want and titles[-1] == "no due date", (titles, want)
    by_title = {t["title"]: t for t in js["tasks"]}
    assert by_title["overdue"]["overdue"] and by_title["all day yesterday"]["overdue"]
    assert not by_title["all day today"]["overdue"] and not by_title["soon"]["overdue"]

    st, _, js = api("GET", q("/v1/tasks", assignee="me", overdue="true"), key=eva)
    assert sorted(t["title"] for t in js["tasks"]) == ["all day yesterday", "overdue"], js
    st, _, js = api("GET", q("/v1/tasks", assignee="me", done="true"), key=eva)
    assert [t["title"] for t in js["tasks"]] == ["done"], js
    st, _, js = api("GET", q("/v1/tasks", overdue="true"), key=admin)
    assert sorted(t["title"] for t in js["tasks"]) == [
        "all day yesterday", "olaf's own", "overdue"], js
    st, _, js = api("GET", q("/v1/tasks", assignee=eva_id, dueAfter=_iso(now),
                             dueBefore=_iso(now + dt.timedelta(days=2))), key=olaf)
    assert [t["title"] for t in js["tasks"]] == ["soon", "from olaf"], js
    st, _, js = api("GET", f"/v1/customers/{c1['id']}/tasks", key=olaf)
    assert [t["id"] for t in js["tasks"]] == [t_later["id"]], js
    st, _, js = api("GET", q("/v1/tasks", customerId=c2["id"]), key=olaf)
    assert [t["id"] for t in js["tasks"]] == [t_over["id"]], js

    # Paging through Eva's open tasks two at a time gives the same order.
    seen, tok = [], None
    for _ in range(10):
        st, _, page = api("GET", q("/v1/tasks", assignee="me", done="false", pageSize=2,
                                   pageToken=tok), key=eva)
        assert st == 200, page
        seen += [t["title"] for t in page["tasks"]]
        tok = page["nextPageToken"]
        if not tok:
            break
    assert seen == titles, seen

    for bad, field in (({"dueBefore": "soon"}, "dueBefore"), ({"pageSize": "500"}, "pageSize"),
                       ({"customerId": "nope"}, None)):
        st, _, js = api("GET", q("/v1/tasks", **bad), key=eva)
        assert st in (400, 404), (bad, js)
        if field:
            assert _violation(js, field), js
    # Read-only keys read tasks, and write none.
    reader = _key(tenant, "readonly", "Auditor")
    st, _, js = api("GET", q("/v1/tasks", assignee=eva_id), key=reader)
    assert st == 200 and len(js["tasks"]) == 8, js
    st, _, js = api("PATCH", f"/v1/tasks/{t_soon['id']}", {"done": True}, key=reader)
    assert st == 403, js
    _ = (t_none, t_oldday, t_today)


# ---------------------------------------------------------------- the calendar


def _check_calendar(data, tasks, base_url=None):
    lines = _unfold(data)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR", lines[:3]
    assert "VERSION:2.0" in lines
    events = _components(lines, "VEVENT")
    by_uid = {e["UID"]: e for e in events}
    for t in tasks:
        e = by_uid[t["id"] + "@tasks.crm"]
        assert "DTSTAMP" in e and e["DTSTAMP"].endswith("Z"), e
        summary = _ical_text(e["SUMMARY"])
        assert summary.startswith(("✓ " if t["done"] else "") + t["title"]), summary
        if t["customerName"]:
            assert summary.endswith(" — " + t["customerName"]), summary
        if len(t["dueAt"]) == 10:
            assert e["DTSTART;VALUE=DATE"] == t["dueAt"].replace("-", ""), e
        else:
            due = dt.datetime.strptime(t["dueAt"], "%Y-%m-%dT%H:%M:%SZ")
            assert e["DTSTART"] == due.strftime("%Y%m%dT%H%M%SZ"), e
        if base_url and t["customerId"]:
            assert e["URL"] == f"{base_url}/#/customers/{t['customerId']}", e
        if t["description"]:
            assert _ical_text(e["DESCRIPTION"]).startswith(t["description"]), e
    return by_uid


def test_task_calendar_with_api_key():
    tenant, admin = _tenant()
    eva = _key(tenant, "staff", "Eva")
    c = _customer(key=admin, firstName="Zoë", lastName="O'Brien; Smith, Jr.")
    desc = "Bring: shampoo, brush; \\ backslash\n" + MULTILINGUAL + " " + "x" * 200
    st, _, t1 = api("POST", "/v1/tasks", {
        "title": "Call, then; write \\ " + EM * 30, "description": desc,
        "dueAt": "2031-03-04T09:15:00Z", "customerId": c["id"]}, key=eva)
    assert st == 201, t1
    st, _, t2 = api("POST", "/v1/tasks", {"title": "All day", "dueAt": "2031-03-05"}, key=eva)
    st, _, t3 = api("POST", "/v1/tasks", {"title": "No date"}, key=eva)
    st, _, t4 = api("POST", "/v1/tasks", {"title": "Finished", "dueAt": "2031-03-01"}, key=eva)
    st, _, t4 = api("PATCH", f"/v1/tasks/{t4['id']}", {"done": True}, key=eva)
    st, _, other = api("POST", "/v1/tasks", {"title": "Not Eva's", "dueAt": "2031-03-04"},
                       key=admin)

    st, hdr, data = api("GET", q("/v1/tasks.ics", baseUrl="https://crm.example.com"), key=eva)
    assert st == 200, data
    assert hdr["Content-Type"] == "text/calendar; charset=utf-8", hdr
    by_uid = _check_calendar(data, [t1, t2, t4], base_url="https://crm.example.com")
    assert t3["id"] + "@tasks.crm" not in by_uid  # no due date: not an event
    assert other["id"] + "@tasks.crm" not in by_uid
    assert _ical_text(by_uid[t1["id"] + "@tasks.crm"]["SUMMARY"]).endswith(
        "— Zoë O'Brien; Smith, Jr."), by_uid
    # Unchanged tasks give the same bytes: the ETag lets a client skip the download.
    st, hdr2, _ = api("GET", q("/v1/tasks.ics", baseUrl="https://crm.example.com"), key=eva,
                      headers={"If-None-Match": hdr["ETag"]})
    assert st == 304, st
    # As VTODOs every task is there, with its status.
    st, _, data = api("GET", q("/v1/tasks.ics", component="todo"), key=eva)
    todos = {c["UID"]: c for c in _components(_unfold(data), "VTODO")}
    assert len(todos) == 4, todos.keys()
    assert todos[t4["id"] + "@tasks.crm"]["STATUS"] == "COMPLETED"
    assert "COMPLETED" in todos[t4["id"] + "@tasks.crm"]
    assert todos[t1["id"] + "@tasks.crm"]["STATUS"] == "NEEDS-ACTION"
    assert todos[t2["id"] + "@tasks.crm"]["DUE;VALUE=DATE"] == "20310305"
    assert "DUE" not in todos[t3["id"] + "@tasks.crm"]
    # Someone else's calendar by assignee id.
    st, _, data = api("GET", q("/v1/tasks.ics", assignee=other["assignee"]["id"]), key=eva)
    assert other["id"] + "@tasks.crm" in data.decode()
    st, _, js = api("GET", q("/v1/tasks.ics", baseUrl="javascript:alert(1)"), key=eva)
    assert st == 400 and _violation(js, "baseUrl") == "INVALID_FORMAT", js
    st, _, js = api("GET", q("/v1/tasks.ics", component="journal"), key=eva)
    assert st == 400 and _violation(js, "component") == "INVALID", js
    st, _, js = api("GET", "/v1/tasks.ics", key=None)
    assert st == 401, js


def test_task_calendar_secret_feed():
    tenant, admin = _tenant()
    eva = _key(tenant, "staff", "Eva")
    st, _, t = api("POST", "/v1/tasks", {"title": "Feed me", "dueAt": "2031-06-01T12:00:00Z"},
                   key=eva)
    assert st == 201
    st, _, feed = api("POST", "/v1/taskFeeds", {"baseUrl": "https://crm.example.com"}, key=eva)
    assert st == 201, feed
    token = feed["token"]
    assert len(token) == 43 and feed["path"] == "/v1/feeds/tasks.ics?token=" + token, feed
    assert feed["assignee"]["name"] == "Eva" and feed["component"] == "event", feed
    # A calendar app fetches it with no Authorization header at all.
    st, hdr, data = api("GET", feed["path"], key=None)
    assert st == 200 and hdr["Content-Type"].startswith("text/calendar"), data
    _check_calendar(data, [t])
    assert "X-WR-CALNAME:Tasks: Eva" in _unfold(data)
    # The token is kept only as a hash, is never listed, and is not logged.
    st, _, js = api("GET", "/v1/taskFeeds", key=eva)
    assert [f["id"] for f in js["feeds"]] == [feed["id"]] and js["feeds"][0]["token"] == "", js
    rows = crm.psql_rows(f"SELECT count(*) FROM notes.task_feeds WHERE id = '{feed['id']}' "
                         f"AND position(convert_to('{token}', 'UTF8') in token_hash) = 0")
    assert rows == [("1",)], rows
    assert not crm.logs_contain("gateway", token) and not crm.logs_contain("notes", token)
    # Wrong or malformed tokens find nothing.
    for bad in ("A" * 43, "short", token[:-1] + ("A" if token[-1] != "A" else "B")):
        st, _, js = api("GET", q("/v1/feeds/tasks.ics", token=bad), key=None)
        assert st == 404, (bad, js)
    st, _, js = api("GET", "/v1/feeds/tasks.ics", key=None)
    assert st == 404, js
    # Other staff cannot revoke Eva's feed; she can, and then it is dead.
    olaf = _key(tenant, "staff", "Olaf")
    st, _, js = api("DELETE", f"/v1/taskFeeds/{feed['id']}", key=olaf)
    assert st == 403, js
    st, _, js = api("GET", "/v1/taskFeeds", key=admin)
    assert feed["id"] in [f["id"] for f in js["feeds"]], js
    st, _, _ = api("DELETE", f"/v1/taskFeeds/{feed['id']}", key=eva)
    assert st == 204
    st, _, js = api("GET", feed["path"], key=None)
    assert st == 404, js
