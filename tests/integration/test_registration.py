"""Self-registration: a person registers at the business's public page
(POST /v1/registrations, no key), confirms through the e-mailed link by
setting a password (the set-password page's calls), and only then becomes a
customer, found by e-mail when already one, with the consents they gave and an
ACTIVE account. Each test has a tenant of its own; the e-mails arrive at the
local SMTP server (smtp_server.py) and are parsed as a mail client parses
them."""
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
PASSWORD = "Fjord og fjell 2026"


def _received(addr):
    req = urllib.request.Request(SMTP + "/_smtp/messages?to=" + urllib.parse.quote(addr))
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def _mail(addr, n=1):
    got = wait_until(lambda: (lambda r: r if len(r) >= n else None)(_received(addr)),
                     timeout=20, what="e-mail %d to %s" % (n, addr))
    return email.message_from_string(got[n - 1]["data"], policy=email.policy.default)


def _token(msg):
    text = msg.get_body(("plain",)).get_content()
    m = re.search(r"https?://\S+/ui/password\.html\?token=([A-Za-z0-9_-]{43})", text)
    assert m, text
    return m.group(1)


def _tenant(country="NO", on=True):
    """A tenant of its own: (tenant id, administrator key), registration on or off."""
    tenant = crm.crmctl(["tenant", "create", unique("Studio"), "--country", country]).strip()
    key = crm.crmctl(["key", "create", "--tenant", tenant, "--role", "admin",
                      "--name", "Admin " + unique("a")]).strip()
    if on:
        st, _, js = api("PUT", "/v1/notifySettings", {"selfRegistration": True}, key=key)
        assert st == 200 and js["selfRegistration"] is True, js
    return tenant, key


def _register(tenant, addr, **extra):
    body = {"business": tenant, "firstName": "Kari", "lastName": unique("Nordmann"),
            "email": addr, **extra}
    return api("POST", "/v1/registrations", body, key=None)


def _public(path, body):
    return api("POST", path, body, key=None)


def _asks(tenant):
    return int(psql("SELECT count(*) FROM notify.registrations WHERE tenant_id = '%s'"
                    % tenant).strip())


def _staff_customer(key, first, last, addr):
    """A customer staff made (no account): the registration must find them."""
    st, _, c = api("POST", "/v1/customers", {"firstName": first, "lastName": last,
                                             "email": addr}, key=key)
    assert st == 201, c
    return c


def _customers_with(tenant, addr):
    return psql("SELECT id FROM customers.customers WHERE tenant_id = '%s' AND lower(email) = "
                "lower('%s')" % (tenant, addr)).split()


def test_register_confirm_and_sign_in():
    tenant, key = _tenant("NO")
    st, _, form = api("GET", "/v1/registrationForms/" + tenant, key=None)
    assert st == 200 and form["language"] == "nb" and form["businessName"].startswith("Studio")
    addr = unique_email("reg")
    st, h, js = _register(tenant, addr, phone="912 34 567", language="de",
                          consents={"email": True, "sms": False})
    assert st == 202 and js == {"validHours": 72}, js
    # Nothing is created until the person confirms.
    assert _customers_with(tenant, addr) == []
    msg = _mail(addr)
    assert msg["Subject"].startswith("Bestätigen Sie Ihre Registrierung"), msg["Subject"]
    token = _token(msg)
    st, _, info = _public("/v1/passwordLinks:inspect", {"token": token})
    assert st == 200 and info["state"] == "VALID" and info["language"] == "de", info
    st, _, js = _public("/v1/passwordLinks:setPassword", {"token": token, "password": "1234567890"})
    assert st == 400 and js["error"]["details"][0]["field"] == "password", js
    assert _customers_with(tenant, addr) == []
    st, _, js = _public("/v1/passwordLinks:setPassword", {"token": token, "password": PASSWORD})
    assert st == 200 and js == {"activated": True, "language": "de"}, js
    [cid] = _customers_with(tenant, addr)
    st, _, c = api("GET", "/v1/customers/" + cid, key=key)
    assert st == 200 and c["source"] == "SIGNUP" and c["account"]["status"] == "ACTIVE", c
    assert c["phone"] == "+4791234567" and c["preferences"]["language"] == "de", c
    consent = c["preferences"]["email"]
    assert consent["granted"] is True and consent["source"] == "signup", consent
    assert consent["changedAt"], consent
    assert not (c["preferences"].get("sms") or {}).get("granted"), c
    # The timeline shows the registration and the consent.
    def kinds():
        _, _, tl = api("GET", "/v1/customers/%s/timeline" % cid, key=key)
        got = {e["kind"] for e in tl.get("entries", [])}
        return got if {"CUSTOMER", "CONSENT"} <= got else None
    wait_until(kinds, timeout=20, what="the registration on the timeline")
    st, _, js = api("POST", "/v1/customers:signIn", {"email": addr.upper(), "password": PASSWORD},
                    key=key)
    assert st == 200 and js["customerId"] == cid, js
    # The link works once.
    st, _, js = _public("/v1/passwordLinks:setPassword", {"token": token, "password": PASSWORD})
    assert st == 400 and js["error"]["details"][0]["reason"] == "USED", js
    assert _public("/v1/passwordLinks:inspect", {"token": token})[2]["state"] == "USED"
    # A new link asked for on the page: the account's set-password link, in its language.
    st, _, js = _public("/v1/passwordLinks:renew", {"token": token})
    assert st == 200 and js == {"language": "de"}, js
    assert _mail(addr, 2)["Subject"].startswith("Legen Sie Ihr Passwort")


def test_known_customer_is_not_doubled_and_an_account_gets_a_link():
    tenant, key = _tenant("PL")
    addr = unique_email("known")
    known = _staff_customer(key, "Ola", "Kowalska", addr)
    st, _, first = _register(tenant, addr.upper(), consents={"sms": True})
    assert st == 202
    msg = _mail(addr)
    assert msg["Subject"].startswith("Potwierdź rejestrację"), msg["Subject"]
    st, _, js = _public("/v1/passwordLinks:setPassword", {"token": _token(msg),
                                                          "password": PASSWORD})
    assert st == 200 and js["activated"] is True, js
    assert _customers_with(tenant, addr) == [known["id"]]
    st, _, c = api("GET", "/v1/customers/" + known["id"], key=key)
    assert c["account"]["status"] == "ACTIVE" and c["source"] != "SIGNUP", c
    assert c["preferences"]["sms"]["granted"] is True, c
    assert c["preferences"]["sms"]["source"] == "signup", c
    # Registering again: the same answer, and a set-password link for the account.
    st, _, again = _register(tenant, addr)
    assert st == 202 and again == first, again
    msg = _mail(addr, 2)
    assert msg["Subject"].startswith("Ustaw hasło"), msg["Subject"]
    token = _token(msg)
    st, _, js = _public("/v1/passwordLinks:setPassword", {"token": token,
                                                          "password": PASSWORD + "!"})
    assert st == 200, js
    assert _customers_with(tenant, addr) == [known["id"]]


def test_a_disabled_account_is_not_opened_again():
    tenant, key = _tenant("DE")
    addr = unique_email("disabled")
    c = _staff_customer(key, "Jürgen", "Groß", addr)
    st, _, _ = api("PATCH", "/v1/customers/" + c["id"], {"account": {"status": "DISABLED"}},
                   key=key)
    assert st == 200
    assert _register(tenant, addr)[0] == 202
    token = _token(_mail(addr))
    st, _, js = _public("/v1/passwordLinks:setPassword", {"token": token, "password": PASSWORD})
    assert st == 403 and "disabled" in js["error"]["message"], js
    st, _, c = api("GET", "/v1/customers/" + c["id"], key=key)
    assert c["account"]["status"] == "DISABLED", c
    assert psql("SELECT count(*) FROM notify.accounts WHERE customer_id = '%s'"
                % c["id"]).strip() == "0"
    assert _public("/v1/passwordLinks:inspect", {"token": token})[2]["state"] == "VALID"


def test_off_unknown_and_malformed_businesses():
    tenant, key = _tenant("DE", on=False)
    st, _, js = api("GET", "/v1/notifySettings", key=key)
    assert st == 200 and not js.get("selfRegistration"), js
    addr = unique_email("off")
    assert _register(tenant, addr)[0] == 404
    assert api("GET", "/v1/registrationForms/" + tenant, key=None)[0] == 404
    assert _register("5d0c8a9e-0000-4000-8000-000000000001", addr)[0] == 404
    assert _register("not-a-tenant", addr)[0] == 404
    assert _register("", addr)[0] == 404
    assert api("GET", "/v1/registrationForms/not-a-tenant", key=None)[0] == 404
    assert _asks(tenant) == 0 and _received(addr) == []


def test_bad_fields_named_and_nothing_stored():
    tenant, _ = _tenant("DE")
    addr = unique_email("bad")
    st, _, js = api("POST", "/v1/registrations",
                    {"business": tenant, "firstName": "", "lastName": "x" * 101,
                     "email": "not-an-address", "phone": "12", "language": "fr"}, key=None)
    assert st == 400, js
    fields = {d["field"] for d in js["error"]["details"]}
    assert {"firstName", "language"} <= fields, js
    st, _, js = api("POST", "/v1/registrations",
                    {"business": tenant, "firstName": "Anna", "lastName": "x" * 101,
                     "email": "not-an-address", "phone": "12"}, key=None)
    assert st == 400, js
    assert {d["field"] for d in js["error"]["details"]} == {"lastName", "email", "phone"}, js
    assert _asks(tenant) == 0
    assert _register(tenant, addr, phone="12")[0] == 400 and _received(addr) == []


def test_limits_per_email_and_per_address():
    tenant, _ = _tenant("DE")
    addr = unique_email("limit")
    for _ in range(3):
        assert _register(tenant, addr)[0] == 202
    st, _, js = _register(tenant, addr)
    assert st == 429 and "retry in" in js["error"]["message"], js
    assert _asks(tenant) == 3
    # From one client address: the asks it made (to any business) count.
    other, _ = _tenant("DE")
    filler = [unique("f") for _ in range(20)]
    try:
        for f in filler:
            psql("INSERT INTO notify.registrations (id, tenant_id, email_key, email, first_name, "
                 "last_name, language, consent_email, consent_sms, client_address, expires_at) "
                 "VALUES (gen_random_uuid(), '%s', '%s@x.example', '%s@x.example', 'F', 'F', "
                 "'en', false, false, '127.0.0.1', now() + interval '1 hour')" % (other, f, f))
        st, _, js = _register(tenant, unique_email("limit"))
        assert st == 429, js
    finally:
        psql("DELETE FROM notify.registrations WHERE tenant_id = '%s'" % other)
    assert _register(tenant, unique_email("limit"))[0] == 202


def test_an_expired_registration_out_of_the_window_is_not_kept():
    """A person who never confirmed is not kept: the ask goes once it has
    expired and the limits no longer count it; a fresh one stays."""
    tenant, _ = _tenant("DE")
    old, new = unique_email("old"), unique_email("new")
    assert _register(tenant, old)[0] == 202 and _register(tenant, new)[0] == 202
    psql("UPDATE notify.registrations SET created_at = now() - interval '2 hours', "
         "expires_at = now() - interval '1 second' WHERE tenant_id = '%s' AND email_key = '%s'"
         % (tenant, old.lower()))
    wait_until(lambda: psql("SELECT count(*) FROM notify.registrations WHERE email_key = '%s'"
                            % old.lower()).strip() == "0", timeout=30,
               what="the expired registration removed")
    assert psql("SELECT count(*) FROM notify.registrations WHERE email_key = '%s'"
                % new.lower()).strip() == "1"


def test_expired_link_refused_and_nothing_created():
    tenant, _ = _tenant("BG")
    addr = unique_email("exp")
    assert _register(tenant, addr, language="")[0] == 202
    msg = _mail(addr)
    assert msg["Subject"].startswith("Потвърдете регистрацията"), msg["Subject"]
    token = _token(msg)
    psql("UPDATE notify.registrations SET expires_at = now() - interval '1 second' "
         "WHERE tenant_id = '%s'" % tenant)
    st, _, info = _public("/v1/passwordLinks:inspect", {"token": token})
    assert info["state"] == "EXPIRED" and info["language"] == "bg", info
    st, _, js = _public("/v1/passwordLinks:setPassword", {"token": token, "password": PASSWORD})
    assert st == 400 and js["error"]["details"][0]["reason"] == "EXPIRED", js
    assert _customers_with(tenant, addr) == []
    # A new link asked for on the page: the registration again, with a new token.
    st, _, js = _public("/v1/passwordLinks:renew", {"token": token})
    assert st == 200 and js == {"language": "bg"}, js
    again = _token(_mail(addr, 2))
    assert again != token
    assert _public("/v1/passwordLinks:inspect", {"token": token})[2]["state"] == "UNKNOWN"
    st, _, js = _public("/v1/passwordLinks:setPassword", {"token": again, "password": PASSWORD})
    assert st == 200 and js["language"] == "bg", js
    assert len(_customers_with(tenant, addr)) == 1


def _overflow(b):
    return b.js("return document.documentElement.scrollWidth - "
                "document.documentElement.clientWidth;")


def test_ui_settings_turn_registration_on_and_share_the_link():
    from test_ui import _browser, _no_js_errors

    tenant, key = _tenant("DE", on=False)
    with _browser("registration-settings") as b:
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        b.get(crm.URL + "/")
        b.wait("input[name=apiKey]").send_keys(key)
        b.find(".signin-card button[type=submit]").click()
        b.wait("#customer-table")
        b.get(crm.URL + "/#/settings")
        box = b.wait("#notify-selfRegistration")
        assert not box.prop("checked")
        assert not b.find("#notify-registration-share").displayed()
        box.click()
        b.wait("#notify-registration-share")
        link = b.find("#notify-registrationLink").prop("value")
        assert link.endswith("/ui/register.html?business=" + tenant), link
        assert b.find("#notify-registrationLink-copy").text
        assert _overflow(b) <= 0
        b.find("#save-notify").click()
        b.wait_until(lambda: api("GET", "/v1/notifySettings", key=key)[2].get("selfRegistration"),
                     what="registration saved on")
        b.find("#notify-registrationLink-copy").click()
        _no_js_errors(b)
    assert api("GET", "/v1/registrationForms/" + tenant, key=None)[0] == 200


test_ui_settings_turn_registration_on_and_share_the_link.timeout = 180


def test_ui_register_page_in_two_languages_at_390px():
    from test_ui import _browser, _no_js_errors

    tenant, key = _tenant("NO")
    addr = unique_email("ui-reg")
    with _browser("registration-page") as b:
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        b.get(crm.URL + "/ui/register.html?business=" + tenant)
        b.wait("#reg-firstName")
        # The business's country speaks first: Norwegian.
        assert b.find("h1").text == "Registrer deg"
        assert b.js("return document.documentElement.lang;") == "nb"
        assert _overflow(b) <= 0
        assert not b.find("#reg-consentEmail").prop("checked")
        assert not b.find("#reg-consentSms").prop("checked")
        b.find("#reg-submit").click()
        b.wait_text("#reg-firstName-error", "Fyll ut dette.")
        b.wait_text("#reg-email-error", "Fyll ut dette.")
        # The person chooses German.
        b.find("#reg-language").select("de")
        b.wait_text("h1", "Registrieren")
        assert b.js("return document.documentElement.lang;") == "de"
        b.find("#reg-firstName").send_keys("Jürgen")
        b.find("#reg-lastName").send_keys("Groß")
        b.find("#reg-email").send_keys("not-an-address")
        b.find("#reg-phone").send_keys("12")
        b.find("#reg-submit").click()
        b.wait_text("#reg-email-error", "Das scheint nicht zu stimmen.")
        b.wait_text("#reg-phone-error", "Das scheint nicht zu stimmen.")
        assert _asks(tenant) == 0
        b.find("#reg-email").fill(addr)
        b.find("#reg-phone").fill("")
        b.find("#reg-consentEmail").click()
        b.find("#reg-submit").click()
        b.wait_text("#reg-status", "Danke.")
        assert _overflow(b) <= 0
        msg = _mail(addr)
        assert msg["Subject"].startswith("Bestätigen Sie Ihre Registrierung"), msg["Subject"]
        text = msg.get_body(("plain",)).get_content()
        link = re.search(r"https?://\S+/ui/password\.html\?token=[A-Za-z0-9_-]{43}", text).group(0)
        b.get(link)
        b.wait("#pw-password")
        assert b.find("h1").text == "Passwort festlegen"
        b.find("#pw-password").send_keys(PASSWORD)
        b.find("#pw-repeat").send_keys(PASSWORD)
        b.find("#pw-save").click()
        b.wait_text("#pw-status", "Ihr Passwort ist festgelegt.")
        _no_js_errors(b)
    [cid] = _customers_with(tenant, addr)
    st, _, c = api("GET", "/v1/customers/" + cid, key=key)
    assert c["firstName"] == "Jürgen" and c["account"]["status"] == "ACTIVE", c
    assert c["preferences"]["email"]["granted"] is True, c


test_ui_register_page_in_two_languages_at_390px.timeout = 240
