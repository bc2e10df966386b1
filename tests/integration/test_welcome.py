"""Welcome on auto-registration: notify follows the customers stream, and a
customer the booking system or the store registered gets the welcome message
with a set-password link, once, when the tenant turned it on. Each test has a
tenant of its own, so the setting never reaches another test; the e-mails
arrive at the local SMTP server (smtp_server.py) and are parsed as a mail
client parses them."""
import email
import email.policy
import json
import os
import re
import urllib.parse
import urllib.request

import crm
from crm import api, psql, unique, unique_email, wait_until

SMTP = os.environ.get("CRM_TEST_SMTP", "")


def _received(addr):
    req = urllib.request.Request(SMTP + "/_smtp/messages?to=" + urllib.parse.quote(addr))
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def _tenant():
    """A tenant of its own: (tenant id, administrator key)."""
    tenant = crm.crmctl(["tenant", "create", unique("Salon"), "--country", "DE"]).strip()
    key = crm.crmctl(["key", "create", "--tenant", tenant, "--role", "admin",
                      "--name", "Admin " + unique("a")]).strip()
    return tenant, key


def _settings(key, **welcome):
    st, _, js = api("PUT", "/v1/notifySettings", welcome, key=key)
    assert st == 200, js
    return js


def _booking(tenant, email_addr, language="de", event_id=None):
    """A booking.created event over the bus (crmctl publish), as the booking
    system sends it; answers the event and the customer's id."""
    ev = {"source": "booking", "eventId": event_id or unique("bk"), "type": "booking.created",
          "occurredAt": "2026-12-01T10:00:00Z",
          "customer": {"externalId": unique("c"), "firstName": "Jürgen",
                       "lastName": unique("Groß"), "email": email_addr, "language": language},
          "booking": {"id": unique("b"), "service": "Haircut",
                      "startsAt": "2026-12-20T10:00:00Z"}}
    out = json.loads(crm.crmctl(["publish", json.dumps(ev), "--tenant", tenant]))
    assert out["body"]["customerId"], out
    return ev, out["body"]["customerId"]


def _welcomes(tenant, cid):
    return int(psql("SELECT count(*) FROM notify.messages WHERE tenant_id = '%s' "
                    "AND customer_id = '%s' AND kind = 'welcome'" % (tenant, cid)).strip())


def _applied(tenant, cid):
    """notify has applied the customer's registration (the cursor is past it)
    and left no welcome to send: whatever it was going to do is done."""
    seq = psql("SELECT last_seq FROM notify.stream_cursor WHERE stream = 'customers'").strip()
    newest = psql("SELECT max(seq) FROM customers.outbox").strip()
    pending = psql("SELECT count(*) FROM notify.welcome_work WHERE tenant_id = '%s' "
                   "AND customer_id = '%s'" % (tenant, cid)).strip()
    return newest and int(seq) >= int(newest) and pending == "0"


def test_settings_default_off_validated_and_kept():
    tenant, key = _tenant()
    st, _, js = api("GET", "/v1/notifySettings", key=key)
    assert st == 200 and not js.get("welcomeOnAutoRegistration") and not js.get("welcomeSince")
    assert js["welcomeChannel"] == "EMAIL", js
    on = _settings(key, welcomeOnAutoRegistration=True, welcomeChannel="SMS")
    assert on["welcomeOnAutoRegistration"] is True and on["welcomeChannel"] == "SMS", on
    # Saving again keeps the time it was turned on.
    again = _settings(key, welcomeOnAutoRegistration=True)
    assert again["welcomeSince"] == on["welcomeSince"] and again["welcomeChannel"] == "EMAIL"
    st, _, js = api("PUT", "/v1/notifySettings", {"welcomeChannel": "PUSH"}, key=key)
    assert st == 400, js
    assert js["error"]["details"][0]["field"].endswith("welcomeChannel"), js
    off = _settings(key, welcomeOnAutoRegistration=False)
    assert not off.get("welcomeOnAutoRegistration") and not off.get("welcomeSince"), off


def test_welcome_off_sends_nothing():
    tenant, key = _tenant()
    addr = unique_email("welcome-off")
    _, cid = _booking(tenant, addr)
    wait_until(lambda: _applied(tenant, cid), timeout=20, what="the registration applied")
    assert _welcomes(tenant, cid) == 0
    assert _received(addr) == []


def test_booking_registration_gets_one_welcome_in_its_language():
    tenant, key = _tenant()
    _settings(key, welcomeOnAutoRegistration=True, welcomeChannel="EMAIL")
    addr = unique_email("welcome")
    ev, cid = _booking(tenant, addr, language="de-AT")
    got = wait_until(lambda: _received(addr) or None, timeout=30, what="the welcome e-mail")
    assert len(got) == 1, got
    msg = email.message_from_string(got[0]["data"], policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert msg["Subject"].startswith("Willkommen"), msg["Subject"]
    assert "Hallo Jürgen" in text, text
    m = re.search(r"https?://\S+/ui/password\.html\?token=([A-Za-z0-9_-]{43})", text)
    assert m, text
    token = m.group(1)
    # The link works: the customer sets a password and the account is active.
    st, _, info = api("POST", "/v1/passwordLinks:inspect", {"token": token}, key=None)
    assert st == 200 and info["state"] == "VALID" and info["language"] == "de", info
    st, _, js = api("POST", "/v1/passwordLinks:setPassword",
                    {"token": token, "password": "Sommer am See 2026"}, key=None)
    assert st == 200 and js["activated"] is True, js
    st, _, cust = api("GET", "/v1/customers/" + cid, key=key)
    assert cust["account"]["status"] == "ACTIVE", cust
    # The same event again over the bus: a duplicate for intake, no new welcome.
    again = json.loads(crm.crmctl(["publish", json.dumps(ev), "--tenant", tenant]))
    assert again["body"]["duplicate"] is True, again
    # A booking of the same person later: matched, not registered, no welcome.
    _, same = _booking(tenant, addr)
    assert same == cid
    wait_until(lambda: _applied(tenant, cid), timeout=20, what="the events applied")
    assert _welcomes(tenant, cid) == 1
    assert len(_received(addr)) == 1


def test_registration_replayed_from_the_stream_welcomes_once():
    """The cursor moved back (as after a restore): notify applies the
    customers stream again from there, and the registration's welcome is not
    queued again (its idempotency key is the event's id)."""
    tenant, key = _tenant()
    _settings(key, welcomeOnAutoRegistration=True)
    addr = unique_email("welcome-replay")
    _, cid = _booking(tenant, addr, language="pl")
    got = wait_until(lambda: _received(addr) or None, timeout=30, what="the welcome e-mail")
    msg = email.message_from_string(got[0]["data"], policy=email.policy.default)
    assert "Witaj" in msg["Subject"] or "Witamy" in msg["Subject"], msg["Subject"]
    wait_until(lambda: _applied(tenant, cid), timeout=20, what="the registration applied")
    seq = int(psql("SELECT seq FROM customers.outbox WHERE customer_id = '%s' "
                   "ORDER BY seq LIMIT 1" % cid).strip())
    psql("UPDATE notify.stream_cursor SET last_seq = %d WHERE stream = 'customers'" % (seq - 1))
    crm.restart("notify")
    wait_until(lambda: _applied(tenant, cid), timeout=30, what="the stream applied again")
    assert _welcomes(tenant, cid) == 1
    assert len(_received(addr)) == 1


def test_staff_created_customers_get_no_welcome():
    tenant, key = _tenant()
    _settings(key, welcomeOnAutoRegistration=True)
    addr = unique_email("welcome-staff")
    st, _, c = api("POST", "/v1/customers", {"firstName": "Eva", "email": addr}, key=key)
    assert st == 201, c
    # A registration after it, so the cursor passing it proves staff's was applied.
    later = unique_email("welcome-after")
    _, cid2 = _booking(tenant, later, language="en")
    wait_until(lambda: _received(later) or None, timeout=30, what="the later welcome")
    wait_until(lambda: _applied(tenant, c["id"]), timeout=20, what="the events applied")
    assert _welcomes(tenant, c["id"]) == 0
    assert _received(addr) == []


def test_intake_language_checked_and_kept_on_the_new_customer():
    tenant, key = _tenant()
    ev = {"source": "store", "eventId": unique("or"), "type": "order.placed",
          "occurredAt": "2026-12-01T10:00:00Z",
          "customer": {"externalId": unique("c"), "email": unique_email("lang"),
                       "language": "Deutsch"},
          "order": {"id": unique("o"), "total": {"amountMinor": 1000, "currency": "EUR"}}}
    st, _, js = api("POST", "/v1/events", ev, key=key)
    assert st == 400, js
    assert [d["field"] for d in js["error"]["details"]] == ["customer.language"], js
    ev["customer"]["language"] = "nb-NO"
    st, _, js = api("POST", "/v1/events", ev, key=key)
    assert st == 202, js
    st, _, c = api("GET", "/v1/customers/" + js["customerId"], key=key)
    assert c["preferences"]["language"] == "nb-NO" and c["source"] == "STORE", c


def test_templates_listed_with_a_tenants_own_in_the_middle():
    """A tenant's own template is listed in its place among the defaults (a
    list with one in the middle used to crash notify)."""
    tenant, key = _tenant()
    st, _, t = api("PUT", "/v1/templates/welcome/de", {"subject": "Hallo", "text": "x"}, key=key)
    assert st == 200, t
    st, _, js = api("GET", "/v1/templates", key=key)
    assert st == 200 and len(js["templates"]) == 20, js
    own = [(x["kind"], x["language"]) for x in js["templates"] if x.get("custom")]
    assert own == [("welcome", "de")], own
