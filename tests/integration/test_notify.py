"""Notifications: e-mail to customers from notify's durable queue, through a
real SMTP server run locally (Debian's aiosmtpd, smtp_server.py: STARTTLS and
a login required), each message parsed with Python's `email` package as a
mail client parses it."""
import email
import email.policy
import email.utils
import json
import os
import urllib.parse
import urllib.request

from crm import api, unique, unique_email, wait_until

SMTP = os.environ.get("CRM_TEST_SMTP", "")
SMS = os.environ.get("CRM_TEST_SMS", "")


def _smtp(method, path, body=None, base=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request((base or SMTP) + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def _received(addr):
    return _smtp("GET", "/_smtp/messages?to=" + urllib.parse.quote(addr))


def _customer(first="Jürgen", last="Groß", email_addr=None, **extra):
    body = {"firstName": first, "lastName": last, **extra}
    if email_addr is not False:
        body["email"] = email_addr or unique_email("notify")
    st, _, c = api("POST", "/v1/customers", body)
    assert st == 201, c
    return c


def _send(cid, body, headers=None):
    return api("POST", "/v1/customers/%s:sendMessage" % cid, body, headers=headers)


def _message(mid):
    st, _, m = api("GET", "/v1/messages/" + mid)
    assert st == 200, m
    return m


def _wait_status(mid, status, timeout=20):
    return wait_until(lambda: (lambda m: m if m["status"] == status else None)(_message(mid)),
                      timeout=timeout, what="message %s %s" % (mid, status))


def _parse(raw):
    return email.message_from_string(raw, policy=email.policy.default)


def test_email_as_a_mail_client_reads_it():
    c = _customer()
    subject = "Ihr Termin am Montag — Größe ändert sich ✂ " + "x" * 80
    text = ("Hallo Jürgen,\nwir freuen uns auf Sie.\n" + "Lange Zeile " * 20 +
            "\n.eine Zeile mit Punkt\nTrailing space \nGrüße, Łucja")
    html = "<p>Hallo <b>Jürgen</b>,</p><p>" + "lange Zeile " * 30 + "</p>"
    st, h, m = _send(c["id"], {"subject": subject, "text": text, "html": html})
    assert st == 202, m
    assert m["status"] == "QUEUED" and m["to"] == c["email"] and m["messageId"], m
    assert h["location"] == "/v1/messages/" + m["id"], h
    sent = _wait_status(m["id"], "SENT")
    assert sent["attempts"] == 1 and sent["sentAt"] and not sent.get("lastError"), sent
    got = wait_until(lambda: _received(c["email"]), what="the e-mail at the server")
    assert len(got) == 1, got
    rec = got[0]
    assert rec["tls"] is True and rec["login"] == "crm-test", rec
    assert rec["from"] == "crm@example.test" and rec["to"] == [c["email"]], rec
    raw = rec["data"]
    # CRLF line ends throughout, no line over 78 characters.
    lines = raw.split("\r\n")
    assert "\n" not in raw.replace("\r\n", ""), "a bare LF"
    assert max(len(x) for x in lines) <= 78, max(lines, key=len)
    msg = _parse(raw)
    assert msg["Subject"] == subject
    assert msg["From"].addresses[0].display_name == "Salon Łucja"
    assert msg["From"].addresses[0].addr_spec == "crm@example.test"
    assert msg["To"].addresses[0].display_name == "Jürgen Groß"
    assert msg["To"].addresses[0].addr_spec == c["email"]
    assert msg["Message-ID"] == "<%s>" % m["messageId"]
    assert msg["MIME-Version"] == "1.0"
    assert email.utils.parsedate_to_datetime(msg["Date"]).tzinfo is not None
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p["Content-Transfer-Encoding"] == "quoted-printable" for p in parts)
    assert parts[0].get_content().replace("\r\n", "\n") == text + "\n" or \
        parts[0].get_content().replace("\r\n", "\n").rstrip("\n") == text
    assert parts[1].get_content().replace("\r\n", "\n").rstrip("\n") == html
    # Text only: one text/plain part.
    st, _, m2 = _send(c["id"], {"subject": "Kurz", "text": "Nur Text."})
    assert st == 202, m2
    _wait_status(m2["id"], "SENT")
    two = wait_until(lambda: [r for r in _received(c["email"])
                              if _parse(r["data"])["Subject"] == "Kurz"])
    only = _parse(two[0]["data"])
    assert only.get_content_type() == "text/plain" and not only.is_multipart()
    assert only.get_content().strip() == "Nur Text."


def test_status_on_the_timeline_and_in_the_list():
    c = _customer(first="Ola", last="Nowak")
    st, _, m = _send(c["id"], {"subject": "Przypomnienie", "text": "Do zobaczenia!"})
    assert st == 202, m
    _wait_status(m["id"], "SENT")

    def entries():
        st2, _, tl = api("GET", "/v1/customers/%s/timeline?kind=MESSAGE" % c["id"])
        assert st2 == 200, tl
        types = sorted(e["type"] for e in tl.get("entries", [])
                       if e.get("message", {}).get("id") == m["id"])
        return tl if types == ["message.queued", "message.sent"] else None
    tl = wait_until(entries, timeout=20, what="queued and sent on the timeline")
    e = [x for x in tl["entries"] if x["type"] == "message.sent"][0]
    assert e["kind"] == "MESSAGE" and e["message"]["channel"] == "email"
    assert e["message"]["subject"] == "Przypomnienie", e
    # The customer's messages, newest first, in pages.
    st, _, m2 = _send(c["id"], {"subject": "Drugi", "text": "Druga wiadomość"})
    assert st == 202, m2
    st, _, page = api("GET", "/v1/customers/%s/messages?pageSize=1" % c["id"])
    assert st == 200 and [x["id"] for x in page["messages"]] == [m2["id"]], page
    st, _, page2 = api("GET", "/v1/customers/%s/messages?pageSize=1&pageToken=%s"
                       % (c["id"], page["nextPageToken"]))
    assert st == 200 and [x["id"] for x in page2["messages"]] == [m["id"]], page2
    assert not page2.get("nextPageToken"), page2


def test_server_answers_4xx_then_accepts():
    c = _customer()
    _smtp("POST", "/_smtp/rules", {c["email"]: {"tempfail": 2}})
    st, _, m = _send(c["id"], {"subject": "Retry", "text": "Third time lucky"})
    assert st == 202, m
    sent = _wait_status(m["id"], "SENT")
    assert sent["attempts"] == 3, sent
    assert _smtp("GET", "/_smtp/attempts?to=" + urllib.parse.quote(c["email"]))["data"] == 3
    got = _received(c["email"])
    assert len(got) == 1 and _parse(got[0]["data"])["Message-ID"] == "<%s>" % m["messageId"]


def test_refused_recipient_fails_with_the_reason():
    c = _customer()
    _smtp("POST", "/_smtp/rules", {c["email"]: {"reject": True}})
    st, _, m = _send(c["id"], {"subject": "Nope", "text": "Refused"})
    assert st == 202, m
    failed = _wait_status(m["id"], "FAILED")
    assert failed["permanent"] is True and "550" in failed["lastError"], failed
    assert failed["attempts"] == 1 and failed["failedAt"], failed
    assert _received(c["email"]) == []

    def failed_on_timeline():
        _, _, tl = api("GET", "/v1/customers/%s/timeline?kind=MESSAGE" % c["id"])
        return [e for e in tl.get("entries", []) if e["type"] == "message.failed"]
    e = wait_until(failed_on_timeline, timeout=20)[0]
    assert "550" in e["message"]["reason"], e


def test_server_down_for_a_while_sent_once_it_is_back():
    c = _customer()
    _smtp("POST", "/_smtp/down", {"ms": 2500})
    st, _, m = _send(c["id"], {"subject": "Later", "text": "When you are back"})
    assert st == 202, m
    # Refused connections are retried: the message waits, with the reason.
    queued = wait_until(lambda: (lambda x: x if x["attempts"] >= 1 and x.get("lastError")
                                 else None)(_message(m["id"])), timeout=20)
    assert queued["status"] == "QUEUED" and queued["nextAttemptAt"], queued
    sent = _wait_status(m["id"], "SENT", timeout=30)
    assert sent["attempts"] >= 2, sent
    got = _received(c["email"])
    assert len(got) == 1, got


def test_slow_server_does_not_stop_the_service():
    slow = _customer()
    _smtp("POST", "/_smtp/rules", {slow["email"]: {"delay_ms": 4000}})
    st, _, m = _send(slow["id"], {"subject": "Slow", "text": "Takes a while"})
    assert st == 202, m
    wait_until(lambda: _smtp("GET", "/_smtp/attempts?to=" +
                             urllib.parse.quote(slow["email"]))["data"] == 1,
               what="the slow DATA under way")
    # While the server sits on it, notify answers and another message goes out.
    fast = _customer()
    st, _, m2 = _send(fast["id"], {"subject": "Fast", "text": "Right away"})
    assert st == 202, m2
    _wait_status(m2["id"], "SENT")
    assert _message(m["id"])["status"] == "QUEUED"
    _wait_status(m["id"], "SENT")
    assert len(_received(slow["email"])) == 1


def test_idempotency_key_queues_one_message():
    c = _customer()
    key = {"Idempotency-Key": unique("send")}
    st, _, m1 = _send(c["id"], {"subject": "Once", "text": "Only once"}, headers=key)
    st2, _, m2 = _send(c["id"], {"subject": "Once", "text": "Only once"}, headers=key)
    assert st == 202 and st2 == 202 and m1["id"] == m2["id"], (m1, m2)
    _wait_status(m1["id"], "SENT")
    st, _, page = api("GET", "/v1/customers/%s/messages" % c["id"])
    assert [x["id"] for x in page["messages"]] == [m1["id"]], page
    assert len(_received(c["email"])) == 1


def _bad(cid, body, field, status=400):
    st, _, js = _send(cid, body)
    assert st == status, (st, js)
    if field:
        fields = [d.get("field") for d in js["error"]["details"]]
        assert field in fields, js
    return js


def test_bad_sends_name_the_field_and_queue_nothing():
    c = _customer()
    _bad(c["id"], {"text": "no subject"}, "subject")
    _bad(c["id"], {"subject": "two\nlines", "text": "x"}, "subject")
    _bad(c["id"], {"subject": "s" * 201, "text": "x"}, "subject")
    _bad(c["id"], {"subject": "no text"}, "text")
    _bad(c["id"], {"subject": "big", "text": "x" * 100001}, "text")
    _bad(c["id"], {"subject": "big", "text": "x", "html": "x" * 200001}, "html")
    _bad(c["id"], {"subject": "s", "text": "x", "channel": "FAX"}, "channel")
    _bad(c["id"], {"subject": "sms", "text": "x", "channel": "SMS"}, "subject")
    _bad(c["id"], {"text": "x", "html": "<p>x</p>", "channel": "SMS"}, "html")
    _bad(c["id"], {"text": "x" * 1531, "channel": "SMS"}, "text")  # 11 parts of 153
    _bad(c["id"], {"subject": "s", "text": "x", "unknownField": 1}, "unknownField")
    st, _, page = api("GET", "/v1/customers/%s/messages" % c["id"])
    assert st == 200 and page.get("messages", []) == [], page
    # No e-mail address on the record: the customer is named.
    bare = _customer(email_addr=False, phone="+48601234567")
    js = _bad(bare["id"], {"subject": "s", "text": "x"}, "customerId")
    assert js["error"]["details"][0]["reason"] == "NO_EMAIL_ADDRESS", js
    # A customer that does not exist.
    st, _, js = _send("00000000-0000-4000-8000-000000000000", {"subject": "s", "text": "x"})
    assert st == 404, js
    st, _, js = api("GET", "/v1/messages/00000000-0000-4000-8000-000000000000")
    assert st == 404, js


# ------------------------------------------------------------------ SMS


def _sms(method, path, body=None):
    return _smtp(method, path, body, base=SMS)


def _phone():
    return "+48601%06d" % (int(unique("p").split("-")[2]) * 7919 % 1000000)


def _texts(phone):
    return _sms("GET", "/_sms/messages?to=" + urllib.parse.quote(phone))


def test_sms_measure_before_sending():
    st, _, m = api("POST", "/v1/sms:measure", {"text": "Termin jutro o 10:00 €"})
    assert st == 200, m
    assert (m["encoding"], m["characters"], m["units"], m["parts"]) == ("GSM7", 22, 23, 1), m
    assert m["perPart"] == 160 and m["remaining"] == 137, m
    st, _, m = api("POST", "/v1/sms:measure", {"text": "Zażółć gęślą jaźń " * 5})
    assert st == 200 and m["encoding"] == "UCS2" and m["units"] == 90 and m["parts"] == 2, m
    assert m["perPart"] == 67 and m["remaining"] == 44, m
    st, _, js = api("POST", "/v1/sms:measure", {"text": "x" * 100001})
    assert st == 400 and js["error"]["details"][0]["field"] == "text", js


def test_sms_sent_with_encoding_and_parts():
    phone = _phone()
    c = _customer(phone=phone)
    st, _, m = _send(c["id"], {"channel": "SMS", "text": "Dobry wieczór! Zapraszamy jutro."})
    assert st == 202 and m["channel"] == "SMS" and m["to"] == phone, m
    assert m["sms"]["encoding"] == "UCS2" and m["sms"]["parts"] == 1, m
    _wait_status(m["id"], "SENT")
    got = _texts(phone)
    assert len(got) == 1, got
    assert got[0]["text"] == "Dobry wieczór! Zapraszamy jutro." and got[0]["from"] == "SalonLucja"
    assert (got[0]["encoding"], got[0]["parts"]) == ("UCS2", 1), got
    assert got[0]["reference"] == m["id"] and got[0]["idempotencyKey"] == m["id"], got
    # GSM 7-bit, two parts.
    st, _, m2 = _send(c["id"], {"channel": "SMS", "text": "Hello [VIP] " * 20})
    assert st == 202 and m2["sms"]["encoding"] == "GSM7" and m2["sms"]["parts"] == 2, m2
    _wait_status(m2["id"], "SENT")
    two = [x for x in _texts(phone) if x["reference"] == m2["id"]]
    assert (two[0]["encoding"], two[0]["parts"]) == ("GSM7", 2), two
    # A customer without a phone number is named.
    bare = _customer()
    js = _bad(bare["id"], {"channel": "SMS", "text": "x"}, "customerId")
    assert js["error"]["details"][0]["reason"] == "NO_PHONE_NUMBER", js


def test_sms_provider_failing_for_a_while_then_sent_once():
    phone = _phone()
    c = _customer(phone=phone)
    _sms("POST", "/_sms/fail", {"count": 3, "status": 503})
    st, _, m = _send(c["id"], {"channel": "SMS", "text": "Retry me"})
    assert st == 202, m
    sent = _wait_status(m["id"], "SENT")
    assert sent["attempts"] == 4, sent
    assert len(_texts(phone)) == 1
    assert _sms("GET", "/_sms/requests?to=" + urllib.parse.quote(phone))["count"] == 4


def test_sms_refused_by_the_provider_fails_with_its_answer():
    phone = _phone()
    c = _customer(phone=phone)
    _sms("POST", "/_sms/reject", {"to": phone})
    st, _, m = _send(c["id"], {"channel": "SMS", "text": "Nobody home"})
    assert st == 202, m
    failed = _wait_status(m["id"], "FAILED")
    assert failed["permanent"] is True and "HTTP 400" in failed["lastError"], failed
    assert "not reachable" in failed["lastError"], failed


# ------------------------------------------------------------------ templates


def test_templates_defaults_in_five_languages():
    st, _, js = api("GET", "/v1/templates")
    assert st == 200, js
    got = {(t["kind"], t["language"]): t for t in js["templates"]}
    assert len(got) == 20, sorted(got)
    for kind in ("password_link", "activation", "welcome", "registration"):
        for lang in ("en", "de", "pl", "nb", "bg"):
            t = got[(kind, lang)]
            assert "{{link}}" in t["text"] and t["subject"], t
    assert got[("password_link", "de")]["subject"].startswith("Legen Sie Ihr Passwort")
    assert got[("welcome", "bg")]["subject"].startswith("Добре дошли")
    assert got[("registration", "nb")]["subject"].startswith("Bekreft registreringen")


def test_template_override_preview_and_reset():
    path = "/v1/templates/welcome/pl"
    # Bad templates name the field and save nothing.
    for tpl, field in (({"subject": "", "text": "x"}, "template.subject"),
                       ({"subject": "a\nb", "text": "x"}, "template.subject"),
                       ({"subject": "Hej {{imie}}", "text": "x"}, "template.subject"),
                       ({"subject": "s", "text": "{{link"}, "template.text"),
                       ({"subject": "s", "text": "x", "html": "{{bad}}"}, "template.html")):
        st, _, js = api("PUT", path, tpl)
        assert st == 400 and js["error"]["details"][0]["field"] == field, (tpl, js)
    st, _, js = api("PUT", "/v1/templates/birthday/pl", {"subject": "s", "text": "x"})
    assert st == 400 and js["error"]["details"][0]["field"] == "kind", js
    st, _, js = api("PUT", "/v1/templates/welcome/fr", {"subject": "s", "text": "x"})
    assert st == 400 and js["error"]["details"][0]["field"] == "language", js
    # A tenant's own, previewed for a customer whose language is Polish.
    own = {"subject": "Cześć {{firstName}} w {{businessName}}",
           "text": "Witaj {{fullName}} <3\n\nUstaw hasło: {{link}}"}
    st, _, t = api("PUT", path, own)
    assert st == 200 and t["custom"] is True and t["updatedAt"], t
    c = _customer(first="Łucja", last="Kowalska", preferences={"language": "pl-PL"})
    st, _, r = api("POST", "/v1/templates:preview", {"kind": "welcome", "customerId": c["id"]})
    assert st == 200 and r["language"] == "pl", r
    assert r["subject"].startswith("Cześć Łucja w "), r
    assert r["text"].startswith("Witaj Łucja Kowalska <3\n\nUstaw hasło: https://"), r
    assert "Witaj Łucja Kowalska &lt;3</p>" in r["html"] and '<a href="https://' in r["html"], r
    # An unsaved draft previews with sample values; German falls to the default.
    st, _, r = api("POST", "/v1/templates:preview",
                   {"kind": "welcome", "language": "de", "template": {"subject": "Hallo {{firstName}}",
                                                                      "text": "x"}})
    assert st == 200 and r["subject"] == "Hallo Anna", r
    st, _, r = api("POST", "/v1/templates:preview", {"kind": "welcome", "language": "de"})
    assert st == 200 and r["subject"].startswith("Willkommen bei"), r
    # Reset: the default again.
    st, _, t = api("DELETE", path)
    assert st == 200 and not t.get("custom") and t["subject"] == "Witamy w {{businessName}}", t
    st, _, t = api("GET", path)
    assert st == 200 and not t.get("custom"), t


# ------------------------------------------------------------------ customer accounts

import re  # noqa: E402

from crm import psql  # noqa: E402


def _link_of(addr, n=1):
    """The set-password link in the n-th e-mail to addr (waits for it), and the message."""
    got = wait_until(lambda: (lambda r: r if len(r) >= n else None)(_received(addr)),
                     timeout=20, what="e-mail %d to %s" % (n, addr))
    msg = _parse(got[n - 1]["data"])
    text = msg.get_body(("plain",)).get_content()
    m = re.search(r"(https?://\S+/ui/password\.html\?token=([A-Za-z0-9_-]{43}))", text)
    assert m, text
    return m.group(1), m.group(2), msg


def _public(path, body):
    return api("POST", path, body, key=None)


def test_password_link_in_the_customers_language_sets_the_password_once():
    c = _customer(first="Jürgen", last="Groß", preferences={"language": "de-DE"})
    st, h, m = api("POST", "/v1/customers/%s:sendPasswordLink" % c["id"], {})
    assert st == 202 and m["kind"] == "password_link" and h["location"], m
    # Staff never see the token: the stored text keeps the placeholder.
    assert "{{link}}" in m["text"] and "token=" not in m["text"], m["text"]
    link, token, msg = _link_of(c["email"])
    assert msg["Subject"].startswith("Legen Sie Ihr Passwort"), msg["Subject"]
    assert "Hallo Jürgen" in msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert 'href="%s"' % link in html, html
    # Only the hash is kept, and the sent message no longer holds the sealed link.
    rows = psql("SELECT count(*) FROM notify.password_links WHERE token_hash LIKE '%%%s%%'"
                % token).strip()
    assert rows == "0", rows
    sealed = wait_until(lambda: psql("SELECT sealed_link IS NULL FROM notify.messages "
                                     "WHERE id = '%s'" % m["id"]).strip() == "t")
    assert sealed
    st, _, info = _public("/v1/passwordLinks:inspect", {"token": token})
    assert st == 200 and info["state"] == "VALID" and info["language"] == "de", info
    # Weak passwords are refused, naming the field and the rule.
    for pw, reason in (("short", "TOO_SHORT"), ("1234567890", "COMMON"),
                       ("password123", "COMMON"), (c["email"], "COMMON"),
                       ("abcabcabcabc", "COMMON")):
        st, _, js = _public("/v1/passwordLinks:setPassword", {"token": token, "password": pw})
        assert st == 400, (pw, js)
        assert js["error"]["details"][0]["field"] == "password", js
        assert js["error"]["details"][0]["reason"] == reason, (pw, js)
    st, _, js = _public("/v1/passwordLinks:setPassword",
                        {"token": token, "password": "Grüne Wiese 2026!"})
    assert st == 200 and js["activated"] is True and js["language"] == "de", js
    st, _, cust = api("GET", "/v1/customers/" + c["id"])
    assert cust["account"]["status"] == "ACTIVE", cust
    # The link works once.
    st, _, js = _public("/v1/passwordLinks:setPassword", {"token": token, "password": "x" * 12})
    assert st == 400 and js["error"]["details"][0]["reason"] == "USED", js
    st, _, info = _public("/v1/passwordLinks:inspect", {"token": token})
    assert info["state"] == "USED", info
    # Sign-in with the new password.
    st, _, js = api("POST", "/v1/customers:signIn",
                    {"email": c["email"].upper(), "password": "Grüne Wiese 2026!"})
    assert st == 200 and js["customerId"] == c["id"], js


def test_newer_link_voids_older_and_expired_link_renews_by_email():
    c = _customer(first="Ola", preferences={"language": "pl"})
    api("POST", "/v1/customers/%s:sendPasswordLink" % c["id"], {})
    _, first, _ = _link_of(c["email"], 1)
    api("POST", "/v1/customers/%s:sendPasswordLink" % c["id"], {})
    _, second, msg = _link_of(c["email"], 2)
    assert msg["Subject"].startswith("Ustaw hasło"), msg["Subject"]
    assert _public("/v1/passwordLinks:inspect", {"token": first})[2]["state"] == "USED"
    assert _public("/v1/passwordLinks:inspect", {"token": second})[2]["state"] == "VALID"
    # Expired: the page can ask for a new one, which goes to the address on file.
    psql("UPDATE notify.password_links SET expires_at = now() - interval '1 second' "
         "WHERE customer_id = '%s' AND used_at IS NULL AND voided_at IS NULL" % c["id"])
    st, _, info = _public("/v1/passwordLinks:inspect", {"token": second})
    assert info["state"] == "EXPIRED" and info["language"] == "pl", info
    st, _, js = _public("/v1/passwordLinks:setPassword",
                        {"token": second, "password": "Zielona łąka 77"})
    assert st == 400 and js["error"]["details"][0]["reason"] == "EXPIRED", js
    st, _, js = _public("/v1/passwordLinks:renew", {"token": second})
    assert st == 200 and js == {"language": "pl"}, js
    _, third, _ = _link_of(c["email"], 3)
    assert _public("/v1/passwordLinks:inspect", {"token": third})[2]["state"] == "VALID"
    # An unknown token answers the same as any other renew: nothing tells.
    st, _, js = _public("/v1/passwordLinks:renew", {"token": "A" * 43})
    assert st == 200 and js == {"language": "en"}, js
    st, _, info = _public("/v1/passwordLinks:inspect", {"token": "not-a-token"})
    assert st == 200 and info["state"] == "UNKNOWN", info


def test_sign_in_rate_limited_and_disabled_refused():
    c = _customer(first="Kari", preferences={"language": "nb"})
    api("POST", "/v1/customers/%s:sendActivation" % c["id"], {})
    _, token, msg = _link_of(c["email"])
    assert msg["Subject"].startswith("Aktiver kontoen din"), msg["Subject"]
    assert _public("/v1/passwordLinks:setPassword",
                   {"token": token, "password": "Fjord og fjell 9"})[0] == 200
    st, _, js = api("POST", "/v1/customers:signIn", {"email": c["email"], "password": "wrong one!"})
    assert st == 401 and js["error"]["message"] == "wrong e-mail address or password", js
    st, _, js2 = api("POST", "/v1/customers:signIn",
                     {"email": "nobody-" + c["email"], "password": "wrong one!"})
    assert st == 401 and js2["error"]["message"] == js["error"]["message"], js2
    for _ in range(4):
        api("POST", "/v1/customers:signIn", {"email": c["email"], "password": "wrong one!"})
    st, _, js = api("POST", "/v1/customers:signIn",
                    {"email": c["email"], "password": "Fjord og fjell 9"})
    assert st == 429 and "retry in" in js["error"]["message"], js
    psql("DELETE FROM notify.sign_in_failures WHERE email_key = '%s'" % c["email"].lower())
    st, _, js = api("POST", "/v1/customers:signIn",
                    {"email": c["email"], "password": "Fjord og fjell 9"})
    assert st == 200 and js["customerId"] == c["id"], js
    st, _, _ = api("PATCH", "/v1/customers/" + c["id"], {"account": {"status": "DISABLED"}})
    assert st == 200
    st, _, js = api("POST", "/v1/customers:signIn",
                    {"email": c["email"], "password": "Fjord og fjell 9"})
    assert st == 403 and "disabled" in js["error"]["message"], js
    st, _, js = api("POST", "/v1/customers:signIn", {"email": "", "password": ""})
    assert st == 400 and {d["field"] for d in js["error"]["details"]} == {"email", "password"}


def test_activation_by_sms_and_links_need_an_address():
    phone = _phone()
    c = _customer(first="Мария", phone=phone, preferences={"language": "bg"})
    st, _, m = api("POST", "/v1/customers/%s:sendActivation" % c["id"], {"channel": "SMS"})
    assert st == 202 and m["channel"] == "SMS", m
    _wait_status(m["id"], "SENT")
    text = _texts(phone)[0]["text"]
    assert text.startswith("Здравейте, Мария") and "/ui/password.html?token=" in text, text
    # Asked to activate, the account is invited from now on.
    st, _, js = api("GET", "/v1/customers/%s" % c["id"])
    assert st == 200 and js["account"]["status"] == "INVITED", js
    # An active or disabled account stays as it is.
    st, _, js = api("PATCH", "/v1/customers/%s" % c["id"],
                    {"account": {"status": "DISABLED"}})
    assert st == 200, js
    st, _, m = api("POST", "/v1/customers/%s:sendActivation" % c["id"], {"channel": "SMS"})
    assert st == 202, m
    st, _, js = api("GET", "/v1/customers/%s" % c["id"])
    assert js["account"]["status"] == "DISABLED", js
    bare = _customer(email_addr=False, phone=_phone())
    st, _, js = api("POST", "/v1/customers/%s:sendPasswordLink" % bare["id"], {})
    assert st == 400 and js["error"]["details"][0]["reason"] == "NO_EMAIL_ADDRESS", js
    st, _, js = api("POST", "/v1/customers/%s:sendPasswordLink"
                    % "00000000-0000-4000-8000-000000000000", {})
    assert st == 404, js


def _overflow(b):
    return b.js("return document.documentElement.scrollWidth - "
                "document.documentElement.clientWidth;")


def test_ui_set_password_page_with_a_reused_and_an_expired_link():
    from test_ui import _browser, _no_js_errors

    c = _customer(first="Jürgen", preferences={"language": "de-AT"})
    api("POST", "/v1/customers/%s:sendPasswordLink" % c["id"], {})
    link, _, _ = _link_of(c["email"], 1)
    with _browser("set-password") as b:
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        b.get(link)
        b.wait("#pw-password")
        assert b.find("h1").text == "Passwort festlegen"
        assert b.js("return document.documentElement.lang;") == "de"
        assert _overflow(b) <= 0
        # Two different passwords, then a common one: said in German, nothing set.
        b.find("#pw-password").send_keys("Sonnenblume 42!")
        b.find("#pw-repeat").send_keys("Sonnenblume 43!")
        b.find("#pw-save").click()
        b.wait_text("#pw-error", "Die beiden Passwörter stimmen nicht überein.")
        b.find("#pw-password").fill("1234567890")
        b.find("#pw-repeat").fill("1234567890")
        b.find("#pw-save").click()
        b.wait_text("#pw-error", "Dieses Passwort ist zu leicht zu erraten.")
        b.find("#pw-password").fill("Sonnenblume 42!")
        b.find("#pw-repeat").fill("Sonnenblume 42!")
        b.find("#pw-save").click()
        b.wait_text("#pw-status", "Ihr Passwort ist festgelegt.")
        st, _, cust = api("GET", "/v1/customers/" + c["id"])
        assert cust["account"]["status"] == "ACTIVE", cust
        # The same link again: used, and a new one can be asked for.
        b.get(link)
        b.wait_text("#pw-status", "Dieser Link wurde bereits verwendet.")
        assert not b.find_all("#pw-password")
        b.find("#pw-renew").click()
        b.wait_text("#pw-status", "Wenn wir eine E-Mail-Adresse für dieses Konto haben")
        assert c["email"] not in b.js("return document.body.innerText;")
        _link_of(c["email"], 2)
        _no_js_errors(b)

    o = _customer(first="Ola", preferences={"language": "pl"})
    api("POST", "/v1/customers/%s:sendPasswordLink" % o["id"], {})
    old_link, _, _ = _link_of(o["email"], 1)
    psql("UPDATE notify.password_links SET expires_at = now() - interval '1 second' "
         "WHERE customer_id = '%s'" % o["id"])
    with _browser("set-password-expired") as b:
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        b.get(old_link)
        b.wait_text("#pw-status", "Ten link wygasł.")
        assert b.find("#pw-renew").text == "Wyślij mi nowy link"
        assert _overflow(b) <= 0
        b.find("#pw-renew").click()
        b.wait_text("#pw-status", "Jeśli mamy adres e-mail do tego konta")
        new_link, _, msg = _link_of(o["email"], 2)
        assert msg["Subject"].startswith("Ustaw hasło") and new_link != old_link
        b.get(new_link)
        b.wait("#pw-password")
        assert b.find("h1").text == "Ustaw hasło"
        # A link that never was names no customer, so no language: English, not
        # valid, and nothing to ask for.
        b.get(old_link.split("?")[0] + "?token=" + "B" * 43)
        b.wait_text("#pw-status", "This link is not valid")
        assert not b.find_all("#pw-renew")
        _no_js_errors(b)


test_ui_set_password_page_with_a_reused_and_an_expired_link.timeout = 240


def test_ui_card_sends_links_and_shows_the_messages():
    from test_ui import _browser, _no_js_errors, _open, _sign_in

    phone = _phone()
    c = _customer(first="Łucja", phone=phone, preferences={"language": "pl"})
    _smtp("POST", "/_smtp/rules", {c["email"]: {"reject": True}})
    bare = _customer(first="Bez", email_addr=False, phone=_phone())
    with _browser("card-messages") as b:
        _sign_in(b)
        _open(b, "/customers/" + c["id"])
        b.wait_text("#messages", "No messages sent yet.")
        assert not b.find("#trial-note").text  # a real SMTP server here: no trial mailbox
        b.find("#send-activation-sms").click()
        b.wait("#messages li[data-status=SENT]")
        b.find("#send-password-link").click()
        # The server refuses this address: failed, and why.
        b.wait("#messages li[data-status=FAILED]")
        failed = b.find("#messages li[data-status=FAILED]").text
        assert "Set-password link" in failed and "550" in failed, failed
        sent = b.find("#messages li[data-status=SENT]").text
        assert "Activation" in sent and phone in sent, sent
        # In German, at 390 px.
        b.js("localStorage.setItem('crm.lang', 'de');")
        try:
            b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
            _open(b, "/customers")
            _open(b, "/customers/" + c["id"])
            b.wait_text("#messages-title", "Nachrichten")
            b.wait_text("#messages", "Fehlgeschlagen")
            assert b.find("#send-password-link").text == "Link zum Passwort senden"
            overflow = b.js("return document.documentElement.scrollWidth - "
                            "document.documentElement.clientWidth;")
            assert overflow <= 0, overflow
            # A customer without an e-mail address: no e-mail link is offered, the
            # card says why (in German), and the SMS activation still is.
            _open(b, "/customers/" + bare["id"])
            b.wait_text("#needs-email", "braucht es die E-Mail-Adresse des Kunden")
            assert not b.find_all("#send-password-link") and not b.find_all("#send-activation")
            assert b.find("#send-activation-sms").text == "Aktivierung per SMS senden"
            # The API still refuses it, naming the reason.
            st, _, js = api("POST", "/v1/customers/%s:sendPasswordLink" % bare["id"], {})
            assert st == 400 and js["error"]["details"][0]["reason"] == "NO_EMAIL_ADDRESS", (st, js)
        finally:
            b.js("localStorage.removeItem('crm.lang');")
        _no_js_errors(b)


test_ui_card_sends_links_and_shows_the_messages.timeout = 180


def test_each_kind_in_each_language_as_a_mail_client_reads_it():
    """Every template the suite sends by e-mail, in all five languages, as it
    arrives: the subject and text of the default filled in, the link in both
    parts, a multipart/alternative a client shows either way."""
    st, _, settings = api("GET", "/v1/settings")
    business = settings.get("name", "")
    st, _, js = api("GET", "/v1/templates")
    defaults = {(t["kind"], t["language"]): t for t in js["templates"]}
    sends = (("password_link", "sendPasswordLink"), ("activation", "sendActivation"))
    for lang, first in (("en", "Emma"), ("de", "Jürgen"), ("pl", "Łucja"), ("nb", "Åse"),
                        ("bg", "Мария")):
        c = _customer(first=first, last="Test", preferences={"language": lang})
        for n, (kind, verb) in enumerate(sends, start=1):
            st, _, m = api("POST", "/v1/customers/%s:%s" % (c["id"], verb), {})
            assert st == 202 and m["kind"] == kind, m
            link, _, msg = _link_of(c["email"], n)
            t = defaults[(kind, lang)]
            assert not t.get("custom"), t
            assert msg["Subject"] == t["subject"].replace("{{businessName}}", business), \
                (lang, kind, msg["Subject"])
            assert msg.get_content_type() == "multipart/alternative"
            assert msg["To"].addresses[0].display_name == first + " Test"
            text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
            expected = (t["text"].replace("{{firstName}}", first).replace("{{link}}", link)
                        .replace("{{businessName}}", business).replace("{{validHours}}", "72"))
            assert text.rstrip("\n") == expected, (lang, kind, text, expected)
            html = msg.get_body(("html",)).get_content()
            assert '<a href="%s">' % link.replace("&", "&amp;") in html, html
            assert first in html and "{{" not in html and "{{" not in text


def test_sender_per_tenant():
    st, _, s = api("GET", "/v1/notifySettings")
    assert st == 200 and s["effectiveEmailFrom"] == "crm@example.test", s
    assert s["effectiveEmailFromName"] == "Salon Łucja" and s["effectiveSmsFrom"] == "SalonLucja"
    for body, field in (({"emailFrom": "not an address"}, "settings.emailFrom"),
                        ({"emailFromName": "two\nlines"}, "settings.emailFromName"),
                        ({"smsFrom": "Far too long sender"}, "settings.smsFrom")):
        st, _, js = api("PUT", "/v1/notifySettings", body)
        assert st == 400 and js["error"]["details"][0]["field"] == field, (body, js)
    try:
        st, _, s = api("PUT", "/v1/notifySettings", {"emailFrom": "hello@anna.example",
                                                    "emailFromName": "Studio Anna — Kraków",
                                                    "smsFrom": "StudioAnna"})
        assert st == 200 and s["effectiveEmailFrom"] == "hello@anna.example", s
        phone = _phone()
        c = _customer(phone=phone)
        st, _, m = _send(c["id"], {"subject": "Od nas", "text": "Cześć"})
        assert st == 202 and m["from"] == "hello@anna.example", m
        assert m["messageId"].endswith("@anna.example"), m
        _wait_status(m["id"], "SENT")
        rec = _received(c["email"])[0]
        assert rec["from"] == "hello@anna.example", rec
        sender = _parse(rec["data"])["From"].addresses[0]
        assert (sender.display_name, sender.addr_spec) == ("Studio Anna — Kraków",
                                                           "hello@anna.example")
        st, _, m2 = _send(c["id"], {"channel": "SMS", "text": "Hej"})
        _wait_status(m2["id"], "SENT")
        assert _texts(phone)[0]["from"] == "StudioAnna"
    finally:
        st, _, s = api("PUT", "/v1/notifySettings", {})
        assert st == 200 and s["effectiveEmailFrom"] == "crm@example.test", s


def test_two_copies_share_the_queue_and_send_each_message_once():
    import crm

    sent = []
    for i in range(30):
        c = _customer(first="Kopia%d" % i)
        st, _, m = _send(c["id"], {"subject": "Jeden raz %d" % i, "text": "Raz."})
        assert st == 202, m
        sent.append((c, m))
    for c, m in sent:
        _wait_status(m["id"], "SENT", timeout=30)
    for c, m in sent:
        got = _received(c["email"])
        assert len(got) == 1, (c["email"], got)
        assert _parse(got[0]["data"])["Message-ID"] == "<%s>" % m["messageId"]
    # Both copies' senders took some.
    by_copy = {}
    for name, path in crm.log_files("notify").items():
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        by_copy[name] = sum(1 for _, m in sent if "message %s attempt 1: sent" % m["id"] in text)
    assert len(by_copy) == 2 and sum(by_copy.values()) == 30, by_copy
    assert all(n > 0 for n in by_copy.values()), by_copy


def test_stopping_notify_cuts_a_slow_send_short_and_sends_it_after():
    import crm

    c = _customer()
    _smtp("POST", "/_smtp/rules", {c["email"]: {"delay_ms": 60000, "delay_count": 1}})
    st, _, m = _send(c["id"], {"subject": "Przerwane", "text": "Stop and go"})
    assert st == 202, m
    wait_until(lambda: _smtp("GET", "/_smtp/attempts?to=" +
                             urllib.parse.quote(c["email"]))["data"] == 1,
               what="the slow DATA under way")
    # Stopped while the server sits on the message: the copies stop within
    # supervisord's 10 s, not after the 60 s the server would take (only
    # this restart's lines count: other tests kill notify on purpose).
    log = os.path.join(crm.DATA_DIR, "supervisord.log")
    seen = os.path.getsize(log)
    crm.ctl(["restart", "notify:*"], check=True)
    with open(log, encoding="utf-8") as fh:
        fh.seek(seen)
        killed = [line for line in fh if "SIGKILL" in line and "notify-" in line]
    assert not killed, killed
    sent = _wait_status(m["id"], "SENT", timeout=30)
    assert sent["attempts"] == 2, sent
    got = _received(c["email"])
    assert len(got) == 1 and _parse(got[0]["data"])["Message-ID"] == "<%s>" % m["messageId"]
