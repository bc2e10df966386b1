"""The staff web UI's search, customer card story (summary, notes, tasks,
timeline) and Tasks page, in headless Chromium (webdriver.py). Each test
makes its own uniquely named customers; evidence of a failure goes where
test_ui.py puts it."""

import os
import random
import string
import time
import urllib.parse

import crm
import webdriver
from crm import api, unique, unique_email
from test_ui import SHOTS, _browser, _customer_id, _names, _no_js_errors, _open, _sign_in


def _word(prefix):
    """A name-like word nobody else has: prefix and 10 random letters."""
    return prefix + "".join(random.choice(string.ascii_lowercase) for _ in range(10))


def _record_requests(b):
    """Makes the page remember the URL of every fetch from now on (window.__urls)."""
    b.js("""
        const fresh = !window.__urls;
        window.__urls = [];
        if (fresh) {
          const orig = window.fetch;
          window.fetch = function (url, opts) { window.__urls.push(String(url)); return orig.apply(this, arguments); };
        }""")


def _urls(b):
    return b.js("return window.__urls || [];")


def _search_box(b):
    return b.wait("#search")


def _future(days, hour=10):
    return time.strftime("%Y-%m-%dT" + "%02d" % hour + ":00:00Z", time.gmtime(time.time() + days * 86400))


def _past(days):
    return time.strftime("%Y-%m-%dT09:00:00Z", time.gmtime(time.time() - days * 86400))


# ---------------------------------------------------------------------- search


def test_ui_search_as_you_type_keyboard_and_url():
    stem = _word("Qa")
    made = []
    for first in ("Ewa", "Jan", "Ola"):
        st, _, c = api("POST", "/v1/customers", {"firstName": first, "lastName": stem + first.lower(),
                                                 "email": unique_email("s")})
        assert st == 201, c
        made.append(c)
    with _browser("ui-search") as b:
        _sign_in(b)
        box = _search_box(b)
        # The list's search box has the focus and a label.
        assert b.active().attr("id") == "search"
        assert b.js("return document.querySelector('label[for=search]').textContent;") == "Search by name, e-mail or phone"
        # A prefix, typed without Enter: the three appear, best match first.
        box.send_keys(stem[:8])
        b.wait_until(lambda: sorted(_names(b)) == sorted("%s, %s" % (c["lastName"], c["firstName"]) for c in made),
                     what="the three matches")
        b.wait_text("#total", "3 customers match")
        assert b.find("#total").attr("aria-live") == "polite"
        assert "q=" + stem[:8] in urllib.parse.unquote(b.url), b.url
        # Still typing in the same box (focus stayed); narrower: one left.
        # The answer for the query in between is held back 1.5 s (and not
        # cancelled): when it comes, the newer result stays on screen.
        assert b.active().attr("id") == "search"
        b.js("""
            window.__slow = arguments[0];
            const orig = window.fetch;
            window.fetch = function (url, opts) {
              if (new URL(String(url), location.href).searchParams.get('q') === window.__slow) {
                const o = Object.assign({}, opts);
                delete o.signal;
                window.__slowSent = (window.__slowSent || 0) + 1;
                return new Promise(r => setTimeout(r, 1500)).then(() => orig(url, o))
                  .then(resp => {
                    window.__slowDone = (window.__slowDone || 0) + 1;
                    // Handled: the app has read the body and done all it does
                    // with it (its work follows in microtasks; a task runs after).
                    const read = resp.json.bind(resp);
                    resp.json = () => read().then(v => {
                      setTimeout(() => { window.__slowHandled = 1; }, 0);
                      return v;
                    });
                    return resp;
                  });
              }
              return orig.apply(this, arguments);
            };""", stem[:9])
        box.send_keys(stem[8])
        b.wait_until(lambda: b.js("return window.__slowSent;") == 1, what="the slow request sent")
        box.send_keys(stem[9:] + "j")
        b.wait_until(lambda: _names(b) == ["%s, Jan" % made[1]["lastName"]], what="only Jan")
        b.wait_text("#total", "1 customer matches")
        b.wait_until(lambda: b.js("return window.__slowHandled;") == 1, what="the slow answer handled")
        assert _names(b) == ["%s, Jan" % made[1]["lastName"]], _names(b)
        assert b.find("#total").text == "1 customer matches"
        # Fast typing then a backspace never leaves an older answer on screen.
        box.send_keys("xyz")
        box.send_keys(webdriver.BACKSPACE * 3)
        # The list is busy from the first key until the pause's search is done
        # (here: found to be the query on screen, so nothing is asked).
        b.wait_until(lambda: b.js("return document.querySelector('#customer-table')"
                                  ".getAttribute('aria-busy');") is None, what="the typing settled")
        assert _names(b) == ["%s, Jan" % made[1]["lastName"]], _names(b)
        # Down arrow moves into the results; up goes back to the box.
        box.send_keys("\ue015")  # ArrowDown
        assert "customer-link" in b.active().attr("class")
        b.active().send_keys("\ue013")  # ArrowUp
        assert b.active().attr("id") == "search"
        # Enter opens the first result.
        box.send_keys(webdriver.ENTER)
        b.wait_text("#customer-name", made[1]["lastName"])
        # Back returns to the search, query and rows.
        b.js("history.back();")
        b.wait_until(lambda: b.find("#search").prop("value") == stem + "j", what="the query restored")
        b.wait_until(lambda: _names(b) == ["%s, Jan" % made[1]["lastName"]], what="its result again")
        # Filters apply to the search: a tag only Ola has.
        tag = unique("st").lower()
        st, _, _ = api("PATCH", "/v1/customers/" + made[2]["id"], {"tags": [tag]})
        assert st == 200
        # (A list opened from its URL: the query is in the box, the new tag in the filter.)
        _open(b, "/customers?q=" + stem[:8])
        b.wait_until(lambda: b.find("#search").prop("value") == stem[:8], what="the query from the URL")
        b.wait_text("#total", "3 customers match")
        b.wait_until(lambda: b.find("#filter-tag option[value='%s']" % tag), what="the tag in the filter")
        b.find("#filter-tag").select(tag)
        b.wait_until(lambda: _names(b) == ["%s, Ola" % made[2]["lastName"]], what="the search within the tag")
        assert b.find("#search").prop("value") == stem[:8]
        # Esc clears the box and brings the whole list (with the filter) back.
        b.find("#search").send_keys(webdriver.ESCAPE)
        b.wait_until(lambda: "q=" not in b.url, what="the query gone from the URL")
        b.wait_text("#total", "1 customer")
        b.full_screenshot(os.path.join(SHOTS, "search.png"))
        _no_js_errors(b)


def test_ui_search_marks_what_matched():
    last = _word("Müller").capitalize()
    # (Not a 0 where the query starts: a leading 0 is a trunk prefix.)
    digits = "".join(random.choice(string.digits[1:] if i == 1 else string.digits) for i in range(8))
    phone = "+48 6%s %s %s" % (digits[:2], digits[2:5], digits[5:])
    st, _, c = api("POST", "/v1/customers", {"firstName": "Łukasz", "lastName": last,
                                             "email": "lukasz.%s@example.com" % last[6:].lower(),
                                             "phone": phone})
    assert st == 201, c
    marks = "return Array.from(document.querySelectorAll(arguments[0] + ' mark'), m => m.textContent);"

    def searched(q):
        """The list shows the answer to q (in the URL, not loading, counted as matches)."""
        return (b.js("return new URLSearchParams(location.hash.split('?')[1] || '').get('q');") == q
                and b.find("#customer-table").attr("aria-busy") is None
                and "match" in b.find("#total").text)
    with _browser("ui-search-marks") as b:
        _sign_in(b)
        box = _search_box(b)
        # Typed without accents or capitals: the name parts that matched are marked.
        query = "lukasz muller" + last[6:12].lower()
        box.send_keys(query)
        b.wait_until(lambda: searched(query), what="the search for %r drawn" % query)
        assert _names(b) == ["%s, Łukasz" % c["lastName"]]
        row = "#customer-table tbody tr[data-id='%s']" % c["id"]
        got = b.js(marks, row + " .customer-link")
        assert got == [last[:12], "Łukasz"], (got, last)
        got = b.js(marks, row + " .email")
        assert got == ["lukasz"], got
        # The names read as before (the marks hold their own letters only).
        assert b.find(row + " .customer-link").text == "%s, Łukasz" % last
        assert b.js(marks, row + " .col-phone") == []
        b.full_screenshot(os.path.join(SHOTS, "search-marks.png"))
        # Digits, spaced another way: the same digits in the number are marked.
        box.clear()
        box.send_keys("%s %s" % (digits[1:4], digits[4:8]))
        b.wait_until(lambda: searched("%s %s" % (digits[1:4], digits[4:8])), what="the phone search drawn")
        assert c["id"] in b.js("return Array.from(document.querySelectorAll("
                               "'#customer-table tbody tr[data-id]'), r => r.dataset.id);")
        stored = c["phone"]  # as the service wrote it
        at = [i for i, ch in enumerate(stored) if ch.isdigit()]
        k = "".join(stored[i] for i in at).index(digits[1:])
        assert b.js(marks, row + " .col-phone") == [stored[at[k]:at[k + 6] + 1]]
        assert b.js(marks, row + " .customer-link") == []
        _no_js_errors(b)


def test_ui_search_typo_offers_did_you_mean_before_add():
    last = _word("Kowalsk").capitalize()
    st, _, c = api("POST", "/v1/customers", {"firstName": "Bogumiła", "lastName": last})
    assert st == 201, c
    typo = last[:-1] + ("x" if last[-1] != "x" else "y")
    with _browser("ui-search-typo") as b:
        _sign_in(b)
        _search_box(b).send_keys(typo)
        b.wait_until(lambda: b.find_all(".did-you-mean-link"), what="the did-you-mean link")
        assert b.find(".did-you-mean").text == "Did you mean %s (1 customer)?" % last
        # Adding is still offered, after it.
        assert b.find("#add-suggested").text == "Add " + typo
        b.find(".did-you-mean-link").click()
        b.wait_until(lambda: _names(b) == ["%s, Bogumiła" % last], what="the customer found")
        assert b.find("#search").prop("value") == last
        _no_js_errors(b)


def test_ui_add_form_lists_possible_duplicates():
    last = _word("Duplik").capitalize()
    digits = "".join(random.choice(string.digits) for _ in range(7))
    st, _, c = api("POST", "/v1/customers", {"firstName": "Zofia", "lastName": last,
                                             "email": unique_email("zofia"),
                                             "phone": "+48 61%s" % digits})
    assert st == 201, c
    box = "#possible-duplicates"
    with _browser("ui-add-duplicates") as b:
        _sign_in(b)
        _open(b, "/customers/new")
        b.wait("#f-firstName").send_keys("Zofia")
        assert not b.find(box).displayed()  # no last name yet: nothing looked up
        b.find("#f-lastName").send_keys(last)
        b.wait_until(lambda: b.find(box).displayed(), what="the possible duplicate")
        items = b.find_all(box + " li.duplicate")
        assert [i.attr("data-id") for i in items] == [c["id"]]
        assert b.find(box + " .duplicate-why").text == "matching name"
        assert b.find(box + " .duplicate-link").text == "%s, Zofia" % last
        # The phone typed another way matches too; the reasons add up.
        b.find("#f-phone").send_keys("0048 61 %s %s" % (digits[:3], digits[3:]))
        b.wait_until(lambda: b.find(box + " .duplicate-why").text == "matching name, phone",
                     what="the phone as a second reason")
        # Another name clears the list.
        b.find("#f-lastName").clear()
        b.find("#f-lastName").send_keys(_word("Nobody").capitalize())
        b.find("#f-phone").clear()
        b.wait_until(lambda: not b.find(box).displayed(), what="the list gone")
        # The link opens the customer who is already there.
        b.find("#f-lastName").clear()
        b.find("#f-lastName").send_keys(last)
        b.wait_until(lambda: b.find(box).displayed(), what="the possible duplicate again")
        b.full_screenshot(os.path.join(SHOTS, "add-duplicates.png"))
        b.find(box + " .duplicate-link").click()
        b.wait_text("#customer-name", last)
        _no_js_errors(b)


def test_ui_search_no_match_offers_prefilled_add_and_sees_own_write():
    first, last = "Jarogniew", _word("Kowalsk").capitalize()
    with _browser("ui-search-add") as b:
        _sign_in(b)
        _record_requests(b)
        _search_box(b).send_keys("jarogniew " + last.lower())
        msg = b.wait_text("#customer-table .no-match", "No customer matches")
        assert "“jarogniew %s”" % last.lower() in msg.text, msg.text
        b.wait_text("#total", "No customer matches")
        add = b.wait("#add-suggested")
        assert add.text == "Add Jarogniew %s" % last, add.text
        add.click()
        b.wait_until(lambda: b.find("#f-firstName").prop("value") == first, what="the prefilled first name")
        assert b.find("#f-lastName").prop("value") == last
        assert "firstName=Jarogniew" in b.url
        b.find("#save").click()
        b.wait_text("#customer-name", last)
        cid = _customer_id(b)
        # Right after: the search passes the write, and finds the customer.
        _record_requests(b)
        b.find(".crumbs a").click()
        _search_box(b).send_keys(last.lower())
        b.wait_until(lambda: _names(b) == ["%s, %s" % (last, first)], what="the new customer found")
        searches = [u for u in _urls(b) if "/v1/customers:search" in u]
        assert searches and all("consistentWith=" + cid in urllib.parse.unquote(u) for u in searches), searches
        # Delete it from the row; the same search then says it is gone at once.
        b.find("tr[data-id='%s'] .row-delete" % cid).click()
        b.wait("dialog[open] .confirm-yes").click()
        b.wait_text("#customer-table .no-match", "No customer matches")
        assert any("consistentWith=%s:deleted" % cid in urllib.parse.unquote(u) for u in _urls(b)), _urls(b)
        # An unknown e-mail address: the add form gets the address.
        email = unique_email("nobody")
        b.find("#search").fill(email)
        add = b.wait_text("#add-suggested", email)
        assert add.text == "Add " + email, add.text
        add.click()
        b.wait_until(lambda: b.find("#f-email").prop("value") == email, what="the prefilled e-mail")
        assert b.find("#f-firstName").prop("value") == "" and b.find("#f-lastName").prop("value") == ""
        _no_js_errors(b)


# ---------------------------------------------------------------------- notes


def test_ui_card_notes_add_pin_edit_limit_delete():
    st, _, c = api("POST", "/v1/customers", {"firstName": "Zuzanna", "lastName": unique("Notatka")})
    assert st == 201, c
    text = "Prefers Eva.\nAllergic to <b>latex</b> — ask first."
    with _browser("ui-notes") as b:
        _sign_in(b)
        _open(b, "/customers/" + c["id"])
        box = b.wait("#note-new")
        assert b.js("return document.querySelector('label[for=note-new]').textContent;") == "New note"
        box.send_keys(text)
        b.wait_text("#note-new-count", "%d / 10,000 characters" % len(text))
        b.find("#note-add").click()
        body = b.wait_text("#notes .note-body", "Prefers Eva.")
        assert body.text == text, body.text
        assert b.find("#note-new").prop("value") == ""
        # After a reload it is still there, with its author and time.
        b.get(crm.URL + "/#/customers/" + c["id"])
        item = b.wait_text("#notes .note-item", "Prefers Eva.")
        assert "administrator" in item.find(".note-author").text.lower() or item.find(".note-author").text, item.text
        assert item.find("time").attr("datetime"), item.text
        # A second note, then pin the first: pinned notes list first.
        b.find("#note-new").send_keys("Second note")
        b.find("#note-add").click()
        b.wait_until(lambda: b.find("#notes .note-item .note-body").text == "Second note", what="newest first")
        first_id = [li.attr("data-id") for li in b.find_all("#notes .note-item")][1]
        b.find("#notes li[data-id='%s'] .note-pin" % first_id).click()
        b.wait_until(lambda: b.find("#notes .note-item").attr("data-id") == first_id, what="the pinned note on top")
        assert "Pinned" in b.find("#notes .note-item").text
        assert b.find("#notes li[data-id='%s'] .note-pin" % first_id).attr("aria-pressed") == "true"
        # Edit it.
        b.find("#notes li[data-id='%s'] .note-edit" % first_id).click()
        edit = b.wait("#notes li[data-id='%s'] textarea" % first_id)
        edit.fill("Prefers Eva, Tuesdays.")
        b.find("#notes li[data-id='%s'] .note-save" % first_id).click()
        b.wait_text("#notes li[data-id='%s'] .note-body" % first_id, "Tuesdays")
        assert "edited" in b.find("#notes li[data-id='%s']" % first_id).text
        st, _, notes = api("GET", "/v1/customers/%s/notes" % c["id"])
        assert notes["notes"][0]["body"] == "Prefers Eva, Tuesdays." and notes["notes"][0]["pinned"], notes
        # Over 10,000 characters: the counter warns, the API's error shows at the field.
        b.js("const t = document.getElementById('note-new'); t.value = 'x'.repeat(10001);"
             "t.dispatchEvent(new Event('input', {bubbles: true}));")
        b.wait_text("#note-new-count", "10,001 / 10,000")
        assert "counter-over" in b.find("#note-new-count").attr("class")
        b.find("#note-add").click()
        err = b.wait("#note-new-error")
        assert "10000" in err.text.replace(",", "") or "long" in err.text, err.text
        assert b.find("#note-new").attr("aria-invalid") == "true"
        assert len(api("GET", "/v1/customers/%s/notes" % c["id"])[2]["notes"]) == 2
        # Delete the second, with a confirm.
        second = [li.attr("data-id") for li in b.find_all("#notes .note-item") if li.attr("data-id") != first_id][0]
        b.find("#notes li[data-id='%s'] .note-delete" % second).click()
        b.wait("dialog[open] .confirm-yes").click()
        b.wait_gone("#notes li[data-id='%s']" % second)
        assert [n["id"] for n in api("GET", "/v1/customers/%s/notes" % c["id"])[2]["notes"]] == [first_id]
        # The note is in the timeline too.
        b.wait_text("#timeline", "Prefers Eva")
        _no_js_errors(b)


# ---------------------------------------------------------------------- tasks


def test_ui_task_on_card_shows_on_tasks_page_and_feed():
    last = unique("Zadanie")
    st, _, c = api("POST", "/v1/customers", {"firstName": "Piotr", "lastName": last})
    assert st == 201, c
    title = unique("Call back about the voucher")
    later = unique("Send the invoice")
    with _browser("ui-tasks") as b:
        _sign_in(b)
        _open(b, "/customers/" + c["id"])
        b.wait("#task-add").click()
        b.wait("#tasks-section .task-title-input").send_keys(title)
        b.find("#tasks-section .task-description-input").send_keys("She asked twice.")
        # Due yesterday morning, local time: overdue.
        b.js("const d = new Date(Date.now() - 86400000); d.setHours(9, 30, 0, 0);"
             "const p = (n) => String(n).padStart(2, '0');"
             "document.querySelector('#tasks-section .task-due-input').value ="
             " `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;")
        b.find("#tasks-section .task-save").click()
        item = b.wait_text("#customer-tasks .task", title)
        assert "task-overdue" in item.attr("class") and "Overdue" in item.text, item.text
        # A second one, due in a week; an empty title is refused at the field.
        b.find("#task-add").click()
        b.wait("#tasks-section .task-save").click()
        err = b.wait("#tasks-section .task-form .field-error:not([hidden])")
        assert err.text, "no error at the title"
        assert b.find("#tasks-section .task-title-input").attr("aria-invalid") == "true"
        b.find("#tasks-section .task-title-input").send_keys(later)
        b.js("const d = new Date(Date.now() + 7 * 86400000); d.setHours(15, 0, 0, 0);"
             "const p = (n) => String(n).padStart(2, '0');"
             "document.querySelector('#tasks-section .task-due-input').value ="
             " `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;")
        b.find("#tasks-section .task-save").click()
        b.wait_text("#customer-tasks", later)
        st, _, tasks = api("GET", "/v1/customers/%s/tasks" % c["id"])
        mine = {t["title"]: t for t in tasks["tasks"]}
        assert mine[title]["description"] == "She asked twice." and mine[title]["overdue"], mine
        assert mine[title]["dueAt"].endswith("Z"), mine[title]

        # The Tasks page: mine, open, by due date; overdue marked; a link to the customer.
        b.find("#nav a[data-nav=tasks]").click()
        row = b.wait_text("#task-list li[data-id='%s']" % mine[title]["id"], title)
        assert "task-overdue" in row.attr("class")
        ids = [li.attr("data-id") for li in b.find_all("#task-list li[data-id]")]
        assert ids.index(mine[title]["id"]) < ids.index(mine[later]["id"]), "not by due date"
        link = row.find("a.task-customer")
        assert link.attr("href").endswith("#/customers/" + c["id"]) and last in link.text, link.text
        # Overdue only: the later one is not there.
        b.find("#tasks-overdue").click()
        b.wait_until(lambda: "overdue=1" in b.url, what="the filter in the URL")
        b.wait_text("#task-list", title)
        assert mine[later]["id"] not in [li.attr("data-id") for li in b.find_all("#task-list li[data-id]")]
        b.find("#tasks-overdue").click()
        # Tick it done: it leaves the open list, and shows under Done.
        b.wait("#task-list li[data-id='%s'] .task-done" % mine[title]["id"]).click()
        b.wait_gone("#task-list li[data-id='%s']" % mine[title]["id"])
        assert api("GET", "/v1/tasks/" + mine[title]["id"])[2]["done"] is True
        b.find("#tasks-status").select("done")
        done = b.wait_text("#task-list li[data-id='%s']" % mine[title]["id"], title)
        assert "task-is-done" in done.attr("class")
        assert b.find("#task-list li[data-id='%s'] .task-done" % mine[title]["id"]).prop("checked")

        # Subscribe in a calendar: an address with a token, that answers iCalendar without a key.
        b.find("#feed-create").click()
        url = b.wait("#feed-url").prop("value")
        assert "/v1/feeds/tasks.ics?token=" in url, url
        assert b.find("#feed-copy").displayed()
        path = url[len(crm.URL):] if url.startswith(crm.URL) else urllib.parse.urlsplit(url).path + "?" + urllib.parse.urlsplit(url).query
        st, hdr, ics = api("GET", path, key=None)
        assert st == 200 and hdr["Content-Type"].startswith("text/calendar"), (st, hdr)
        assert b"BEGIN:VCALENDAR" in ics and later.encode() in ics, ics[:400]
        b.wait_until(lambda: len(b.find_all("#feeds li[data-id]")) >= 1, what="the feed listed")
        b.full_screenshot(os.path.join(SHOTS, "tasks.png"))

        # Back on the card: the open task, and the done one behind "Show done".
        b.find("#task-list li[data-id='%s'] a.task-customer" % mine[title]["id"]).click()
        b.wait_text("#customer-tasks", later)
        assert title not in b.find("#customer-tasks").text
        b.find("#tasks-show-done").click()
        b.wait_text("#customer-tasks", title)
        _no_js_errors(b)


# ---------------------------------------------------------------------- timeline and summary


def test_ui_card_timeline_and_summary_from_intake_events():
    email = unique_email("story")
    st, _, c = api("POST", "/v1/customers", {"firstName": "Anna", "lastName": unique("Historia"), "email": email})
    assert st == 201, c
    person = {"externalId": unique("c"), "firstName": "Anna", "lastName": c["lastName"], "email": email}
    starts = _future(30)
    events = [
        {"source": "booking", "eventId": unique("bk"), "type": "booking.created", "occurredAt": _past(2),
         "customer": person, "booking": {"id": unique("b"), "service": "Haircut", "staff": "Eva",
                                         "startsAt": starts, "endsAt": starts.replace("T10:", "T11:")}},
        {"source": "store", "eventId": unique("or"), "type": "order.placed", "occurredAt": _past(1),
         "customer": person, "order": {"id": "o-9", "total": {"amountMinor": 12900, "currency": "PLN"},
                                       "items": [{"name": "Shampoo", "quantity": 1, "amountMinor": 4900}]}},
        {"source": "store", "eventId": unique("or"), "type": "order.paid", "occurredAt": _past(1).replace("T09:", "T10:"),
         "customer": person, "order": {"id": "o-9", "total": {"amountMinor": 12900, "currency": "PLN"}}},
    ]
    for ev in events:
        st, _, js = api("POST", "/v1/events", ev)
        assert st == 202 and js["customerId"] == c["id"], (st, js)
    # 22 messages, so the timeline has more than one page.
    for i in range(22):
        st, _, js = api("POST", "/v1/events", {
            "source": "mailer", "eventId": unique("m"), "type": "message.sent", "occurredAt": _past(3),
            "customer": person, "message": {"id": unique("msg"), "channel": "email", "subject": "Newsletter %02d" % i}})
        assert st == 202, js
    new_email = unique_email("story2")
    st, _, _ = api("PATCH", "/v1/customers/" + c["id"], {"email": new_email})
    assert st == 200
    with _browser("ui-timeline") as b:
        _sign_in(b)
        _open(b, "/customers/" + c["id"])
        # The summary strip.
        strip = b.wait("#summary-strip")
        b.wait_until(lambda: b.find("#summary-strip [data-stat=bookings] .stat-value").text == "1", what="1 booking")
        assert b.find("#summary-strip [data-stat=orders] .stat-value").text == "1"
        spent = b.find("#summary-strip [data-stat=spent]").text
        assert "129.00" in spent and "PLN" in spent, spent
        assert b.find("#summary-strip [data-stat=registered] .stat-value").text != "—", strip.text
        assert b.find("#summary-strip [data-stat=firstBooking] .stat-value").text != "—", strip.text
        assert "Haircut" in b.find("#summary-upcoming").text and "Eva" in b.find("#summary-upcoming").text
        assert "Haircut" in b.find("#summary-top").text
        # The timeline: readable lines, newest first; the e-mail change arrives
        # through the customers' events (reload until it is in).
        def has_change():
            if "Changed e-mail from" not in b.find("#timeline").text:
                b.find("#timeline-section .filter-chip[data-kind='']").click()
                return False
            return True
        b.wait_until(has_change, timeout=20, interval=0.5, what="the e-mail change in the timeline")
        tl = b.find("#timeline").text
        assert "Changed e-mail from %s to %s" % (email, new_email) in tl, tl
        lines = [e.text for e in b.find_all("#timeline .tl-line")]
        assert lines[0].startswith("Changed e-mail"), lines[:3]
        assert len(lines) == 20, len(lines)  # one page
        assert not b.find("#timeline-more").prop("hidden")
        b.find("#timeline-more").click()
        b.wait_until(lambda: len(b.find_all("#timeline .tl-line")) > 20, what="the second page")
        tl = b.find("#timeline").text
        assert "Order o-9 paid: PLN 129.00" in tl or ("Order o-9 paid" in tl and "129.00" in tl), tl
        assert "Booked Haircut with Eva for" in tl, tl
        assert "Shampoo × 1" in tl, tl
        assert "E-mail “Newsletter 00” sent" in tl, tl
        # Filter chips: only orders, then orders and bookings.
        b.find("#timeline-section .filter-chip[data-kind=ORDER]").click()
        b.wait_until(lambda: {e.attr("data-kind") for e in b.find_all("#timeline .tl-entry")} == {"ORDER"},
                     what="orders only")
        assert b.find("#timeline-section .filter-chip[data-kind=ORDER]").attr("aria-pressed") == "true"
        assert len(b.find_all("#timeline .tl-entry")) == 2
        b.find("#timeline-section .filter-chip[data-kind=BOOKING]").click()
        b.wait_until(lambda: {e.attr("data-kind") for e in b.find_all("#timeline .tl-entry")} == {"ORDER", "BOOKING"},
                     what="orders and bookings")
        b.full_screenshot(os.path.join(SHOTS, "card-story.png"))
        # At a narrow width the card still fits the screen.
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        overflow = b.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        wide = b.js("""
            const w = document.documentElement.clientWidth;
            return Array.from(document.querySelectorAll('body *'))
              .filter(el => el.getBoundingClientRect().right > w + 1 && !el.closest('.table-wrap, .changes-wrap'))
              .slice(0, 8).map(el => el.tagName + '.' + el.className + '#' + el.id + ' ' + Math.round(el.getBoundingClientRect().right));""")
        assert overflow <= 1, (overflow, wide)
        b.full_screenshot(os.path.join(SHOTS, "card-story-narrow.png"))
        _no_js_errors(b)
