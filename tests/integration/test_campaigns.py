"""Newsletters: a campaign to the customers with a tag, each read from the
customers service page by page and queued once in notify's durable queue,
only to those whose consents allow it, throttled, cancellable, and complete
when notify is SIGKILLed while it expands a 1,000-recipient campaign. The
e-mails are read back from the local SMTP server the tests run
(smtp_server.py) and parsed with Python's `email` package."""
import email
import email.policy
import json
import os
import signal
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import crm
from crm import api, unique, unique_email, wait_until

SMTP = os.environ.get("CRM_TEST_SMTP", "")


def _received(addr=""):
    url = SMTP + "/_smtp/messages?to=" + urllib.parse.quote(addr)
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read().decode())


def _consents(marketing=True, channel=True):
    return {"marketing": {"granted": marketing, "source": "web"},
            "email": {"granted": channel, "source": "web"}}


def _customer(tag, email_addr=None, preferences=None, first="Anna"):
    body = {"firstName": first, "lastName": unique("Camp"), "tags": [tag]}
    if email_addr is not False:
        body["email"] = email_addr or unique_email("camp")
    if preferences is not None:
        body["preferences"] = preferences
    st, _, c = api("POST", "/v1/customers", body)
    assert st == 201, c
    return c


def _campaign(tag, **extra):
    body = {"name": "Spring " + tag, "tag": tag, "subject": "Frühling bei uns",
            "text": "Hallo,\nneue Termine sind frei.", **extra}
    st, h, c = api("POST", "/v1/campaigns", body)
    assert st == 201, c
    assert h["location"] == "/v1/campaigns/" + c["id"], h
    return c


def _get(cid):
    st, _, c = api("GET", "/v1/campaigns/" + cid)
    assert st == 200, c
    return c


def _wait(cid, status, timeout=60):
    return wait_until(lambda: (lambda c: c if c["status"] == status else None)(_get(cid)),
                      timeout=timeout, what="campaign %s %s" % (cid, status))


def test_only_customers_with_both_consents_get_it():
    tag = unique("news")
    yes = _customer(tag, preferences=_consents())
    no_channel = _customer(tag, preferences=_consents(channel=False))
    no_marketing = _customer(tag, preferences=_consents(marketing=False))
    nothing = _customer(tag)
    no_address = _customer(tag, email_addr=False, preferences=_consents())
    other = _customer(unique("other"), preferences=_consents())
    c = _campaign(tag)
    assert c["status"] == "EXPANDING" and c["channel"] == "EMAIL" and c["rate"] == 500, c
    done = _wait(c["id"], "DONE")
    assert done["total"] == 5 and done["queued"] == 1 and done["sent"] == 1, done
    assert done["skippedNoConsent"] == 3 and done["skippedNoAddress"] == 1, done
    assert not done.get("failed") and done["finishedAt"], done
    got = wait_until(lambda: _received(yes["email"]), what="the newsletter")
    assert len(got) == 1, got
    msg = email.message_from_string(got[0]["data"], policy=email.policy.default)
    assert str(msg["Subject"]) == "Frühling bei uns", msg["Subject"]
    assert "neue Termine sind frei" in msg.get_content(), msg.get_content()
    for c2 in (no_channel, no_marketing, nothing, other):
        assert _received(c2["email"]) == [], c2["email"]
    # The customer's own list shows it, as a newsletter.
    st, _, ms = api("GET", "/v1/customers/%s/messages" % yes["id"])
    assert st == 200 and [m["kind"] for m in ms["messages"]] == ["newsletter"], ms
    # And the list of campaigns, newest first.
    st, _, lst = api("GET", "/v1/campaigns?pageSize=100")
    assert st == 200 and any(x["id"] == c["id"] for x in lst["campaigns"]), lst


def _bad(body, field):
    st, _, js = api("POST", "/v1/campaigns", body)
    assert st == 400, (body, js)
    assert field in json.dumps(js), (field, js)


def test_bad_campaigns_name_the_field_and_store_nothing():
    before = api("GET", "/v1/campaigns?pageSize=100")[2].get("campaigns", [])
    good = {"name": "N", "tag": "t", "subject": "S", "text": "T"}
    _bad({**good, "name": ""}, "name")
    _bad({**good, "name": "a\nb"}, "name")
    _bad({**good, "name": "x" * 201}, "name")
    _bad({**good, "group": "g"}, "ONE_OF")
    _bad({k: v for k, v in good.items() if k != "tag"}, "group")
    _bad({**good, "subject": ""}, "subject")
    _bad({**good, "text": ""}, "text")
    _bad({**good, "rate": 501}, "rate")
    _bad({**good, "rate": -1}, "rate")
    _bad({**good, "channel": "SMS"}, "subject")
    after = api("GET", "/v1/campaigns?pageSize=100")[2].get("campaigns", [])
    assert len(after) == len(before)
    st, _, js = api("GET", "/v1/campaigns/00000000-0000-4000-8000-000000000000")
    assert st == 404, js
    st, _, js = api("GET", "/v1/campaigns?pageToken=garbage")
    assert st == 400 and "pageToken" in json.dumps(js), js


def _many(tag, n, **kw):
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: _customer(tag, preferences=_consents(), **kw), range(n)))


def _forget(people):
    """Deletes a test's many customers, so that the tests after it find a
    book of the usual size (some list one page of 1,000)."""
    ids = [p["id"] for p in people]
    for i in range(0, len(ids), 100):
        st, _, js = api("POST", "/v1/customers:batchDelete", {"ids": ids[i:i + 100]})
        assert st == 200, js


def test_throttled_and_cancel_stops_what_is_not_sent():
    tag = unique("cancel")
    people = _many(tag, 60)
    c = _campaign(tag, rate=5)  # 60 at 5 a second: 12 s
    # The throttle: the queued messages are due 1/5 s apart.
    wait_until(lambda: _get(c["id"])["sent"] >= 2, timeout=30, what="the first ones sent")
    st, _, cancelled = api("POST", "/v1/campaigns/%s:cancel" % c["id"], {})
    assert st == 200 and cancelled["status"] == "CANCELLED", cancelled
    assert cancelled["cancelled"] > 0 and cancelled["finishedAt"], cancelled
    # Nothing of the campaign is left in the queue; what was not sent never is.
    final = wait_until(lambda: (lambda x: x if x["sent"] + x["failed"] + x["cancelled"]
                                == x["queued"] else None)(_get(c["id"])), timeout=30,
                       what="every message of the campaign settled")
    assert final["sent"] < 60 and final["cancelled"] > 0 and final["status"] == "CANCELLED", final
    addrs = {p["email"] for p in people}
    got = [m for m in _received() if set(m["to"]) & addrs]
    # A message already handed to the server when the cancel came may still
    # arrive: at most one per sender thread.
    assert final["sent"] <= len(got) <= final["sent"] + 4 and len(got) < 60, (len(got), final)
    st, _, again = api("POST", "/v1/campaigns/%s:cancel" % c["id"], {})
    assert st == 412, again
    st, _, js = api("POST", "/v1/campaigns/00000000-0000-4000-8000-000000000000:cancel", {})
    assert st == 404, js
    _forget(people)


def test_notify_killed_while_expanding_1000_every_recipient_gets_it():
    """notify is SIGKILLed while it expands a campaign to 1,000 customers:
    every one gets the newsletter; duplicates (if any) are counted and printed."""
    tag = unique("kill")
    people = _many(tag, 1000)
    try:
        addrs = {p["email"] for p in people}
        before = crm.pids("notify")
        c = _campaign(tag, rate=100)
        wait_until(lambda: _get(c["id"])["queued"] >= 200, timeout=60, what="expansion under way")
        at_kill = _get(c["id"])
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: crm.pids("notify") and not set(crm.pids("notify")) & set(before), 60,
                   what="notify to be restarted")
        # Messages the killed copy had claimed come back when their lease ends (docs/notify.md,
        # "Sending": (connect timeout + timeout) x batch + 30 s, 64 s in this stack: run.sh).
        done = _wait(c["id"], "DONE", timeout=300)
        assert done["total"] == 1000 and done["queued"] == 1000 and done["sent"] == 1000, done
        per = {}
        wait_until(lambda: len({a for m in _received() for a in m["to"] if a in addrs}) == 1000,
                   timeout=60, what="all 1,000 at the server")
        for m in _received():
            for a in m["to"]:
                if a in addrs:
                    per[a] = per.get(a, 0) + 1
        dups = sum(n - 1 for n in per.values())
        print("campaign of 1,000, notify SIGKILLed while %s at %s queued (%s sent): %d recipients "
              "got it, %d duplicates" % (at_kill["status"], at_kill["queued"], at_kill["sent"],
                                         len(per), dups))
        assert len(per) == 1000
        # A duplicate is possible only for a message in the window between the
        # server's 250 and the record of it: at most one per sender thread per copy.
        assert dups <= 4 * max(1, len(before)), dups
    finally:
        _forget(people)


test_notify_killed_while_expanding_1000_every_recipient_gets_it.timeout = 600


def _one_click(url, body="List-Unsubscribe=One-Click", key=None):
    return api("POST", urllib.parse.urlsplit(url).path, raw=body, key=key,
               headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_list_unsubscribe_one_click_withdraws_the_consent():
    tag = unique("unsub")
    prefs = {**_consents(), "language": "de-AT"}
    c = _customer(tag, preferences=prefs, first="Jürgen")
    camp = _campaign(tag, html="<p>Hallo <b>Jürgen</b></p>")
    _wait(camp["id"], "DONE")
    got = wait_until(lambda: _received(c["email"]), what="the newsletter")
    msg = email.message_from_string(got[0]["data"], policy=email.policy.default)
    # RFC 2369 and RFC 8058, as a mail client reads them.
    lu = str(msg["List-Unsubscribe"])
    assert lu.startswith("<") and lu.endswith(">") and "/v1/unsubscribe/" in lu, lu
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    post_url = lu[1:-1]
    token = urllib.parse.urlsplit(post_url).path.rsplit("/", 1)[1]
    assert len(token) == 60, token
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    page = "/ui/unsubscribe.html?token=%s&lang=de" % token
    assert ("Abmelden: " in text and page in text), text
    assert ('href="' in html and page.replace("&", "&amp;") in html) or page in html, html
    # Refused: no one-click body (a link checker's stray POST), a forged token.
    st, _, js = _one_click(post_url, body="")
    assert st == 400 and "body" in json.dumps(js), js
    forged = post_url.replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    st, _, js = _one_click(forged)
    assert st == 400 and "token" in json.dumps(js), js
    st, _, cust = api("GET", "/v1/customers/" + c["id"])
    assert cust["preferences"]["email"]["granted"] is True, cust["preferences"]
    # The one-click POST, with no key, as a mail provider sends it.
    st, _, js = _one_click(post_url)
    assert st == 200 and js["channel"] == "EMAIL" and js["language"] == "de", js
    st, _, cust = api("GET", "/v1/customers/" + c["id"])
    email_consent = cust["preferences"]["email"]
    assert email_consent.get("granted") is not True, email_consent
    assert email_consent["source"] == "unsubscribe link" and email_consent["changedAt"], email_consent
    assert cust["preferences"]["marketing"]["granted"] is True, cust["preferences"]
    # In the customer's audit and timeline, as any change of a consent.
    st, _, audit = api("GET", "/v1/customers/%s/audit" % c["id"])
    assert st == 200 and "unsubscribe link" in json.dumps(audit), audit
    wait_until(lambda: "unsubscribe link" in json.dumps(
        api("GET", "/v1/customers/%s/timeline" % c["id"])[2]), what="the change on the timeline")
    # Used again: the same answer, nothing more to withdraw.
    st, _, js = _one_click(post_url)
    assert st == 200, js
    # The next newsletter skips them.
    again = _wait(_campaign(tag)["id"], "DONE")
    assert again["total"] == 1 and again["skippedNoConsent"] == 1 and again["queued"] == 0, again


def test_ui_unsubscribe_page_in_the_customers_language():
    from test_ui import _browser, _no_js_errors

    tag = unique("unsubui")
    c = _customer(tag, preferences={**_consents(), "language": "pl"}, first="Ola")
    _wait(_campaign(tag)["id"], "DONE")
    got = wait_until(lambda: _received(c["email"]), what="the newsletter")
    text = email.message_from_string(got[0]["data"], policy=email.policy.default) \
        .get_body(("plain",)).get_content()
    link = [w for w in text.split() if "/ui/unsubscribe.html?token=" in w][0]
    assert "Wypisz się: " + link in text, text
    with _browser("unsubscribe") as b:
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        b.get(link)
        b.wait("#unsub-confirm")
        assert b.find("h1").text == "Wypisz się"
        assert b.js("return document.documentElement.lang;") == "pl"
        assert b.js("return document.documentElement.scrollWidth - window.innerWidth;") <= 0
        # Opening the page withdraws nothing; the button does.
        st, _, cust = api("GET", "/v1/customers/" + c["id"])
        assert cust["preferences"]["email"]["granted"] is True, cust["preferences"]
        b.find("#unsub-confirm").click()
        b.wait_text("#unsub-status", "Wypisano Cię.")
        st, _, cust = api("GET", "/v1/customers/" + c["id"])
        assert cust["preferences"]["email"].get("granted") is not True, cust["preferences"]
        assert cust["preferences"]["email"]["source"] == "unsubscribe link", cust["preferences"]
        # A forged link says so.
        b.get(link.replace("token=", "token=x"))
        b.find("#unsub-confirm").click()
        b.wait_text("#unsub-status", "Ten link do wypisania jest nieprawidłowy.")
        _no_js_errors(b)


def test_ui_campaigns_screen_creates_shows_progress_and_cancels():
    from test_ui import _browser, _no_js_errors, _open, _sign_in

    tag = unique("uicamp")
    people = _many(tag, 3) + [_customer(tag)]  # the last: no consent, counted and skipped
    slow = unique("uislow")
    people += _many(slow, 40)
    with _browser("campaigns") as b:
        _sign_in(b)
        b.js("localStorage.setItem('crm.lang', 'de');")
        try:
            b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
            _open(b, "/campaigns")
            b.wait_text("h1", "Kampagnen")
            assert b.find("nav a[data-nav=campaigns]").text == "Kampagnen"
            title = "Frühling " + tag
            b.find("#camp-name").fill(title)
            b.find("#camp-tag").fill(tag)
            b.wait_text("#camp-count", "4 Kunden in dieser Zielgruppe")
            b.find("#camp-subject").fill("Neue Termine")
            b.find("#camp-text").fill("Hallo, neue Termine sind frei.")
            b.find("#camp-send").click()
            made = wait_until(lambda: [x for x in api("GET", "/v1/campaigns")[2]["campaigns"]
                                       if x["name"] == title], what="the campaign made")
            row = "#campaign-list li[data-id='%s']" % made[0]["id"]
            b.wait(row + "[data-status=DONE]", timeout=60)
            done = b.find(row).text
            assert title in done and "Fertig" in done and "3 von 3 gesendet" in done, done
            assert "1 ohne Einwilligung" in done, done
            overflow = b.js("return document.documentElement.scrollWidth - "
                            "document.documentElement.clientWidth;")
            assert overflow <= 0, overflow
            # A bad field: the API's reason next to it, nothing sent.
            b.find("#camp-name").fill("")
            b.find("#camp-tag").fill(tag)
            b.find("#camp-subject").fill("S")
            b.find("#camp-text").fill("T")
            b.find("#camp-send").click()
            b.wait("#camp-name[aria-invalid=true]")
            assert len(b.find_all("#campaign-list li.campaign")) >= 1
        finally:
            b.js("localStorage.removeItem('crm.lang');")
        # A slow one, stopped from the screen (the API makes it slow: 1 a second).
        st, _, c = api("POST", "/v1/campaigns", {"name": "Langsam", "tag": slow, "subject": "S",
                                                 "text": "T", "rate": 1})
        assert st == 201, c
        _open(b, "/customers")
        _open(b, "/campaigns")
        sel = "#campaign-list li[data-id='%s'] .campaign-cancel" % c["id"]
        b.wait(sel).click()
        b.wait("#campaign-list li[data-id='%s'][data-status=CANCELLED]" % c["id"])
        got = _get(c["id"])
        assert got["status"] == "CANCELLED" and got["sent"] < 40, got
        _no_js_errors(b)
    _forget(people)


test_ui_campaigns_screen_creates_shows_progress_and_cancels.timeout = 180
