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
    _bad({**good, "group": "g"}, "group")
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


def test_notify_killed_while_expanding_1000_every_recipient_gets_it():
    """notify is SIGKILLed while it expands a campaign to 1,000 customers:
    every one gets the newsletter; duplicates (if any) are counted and printed."""
    tag = unique("kill")
    people = _many(tag, 1000)
    addrs = {p["email"] for p in people}
    before = crm.pids("notify")
    c = _campaign(tag, rate=100)
    wait_until(lambda: _get(c["id"])["queued"] >= 200, timeout=60, what="expansion under way")
    at_kill = _get(c["id"])
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: crm.pids("notify") and not set(crm.pids("notify")) & set(before), 60,
               what="notify to be restarted")
    done = _wait(c["id"], "DONE", timeout=180)
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


test_notify_killed_while_expanding_1000_every_recipient_gets_it.timeout = 600
