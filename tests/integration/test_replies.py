"""Replies: a customer answers a message by e-mail or SMS, the provider's
inbound webhook posts it (POST /v1/inbound/email with the raw message,
POST /v1/inbound/sms with JSON), and it joins the conversation: on the sent
message (REPLIED), the customer's conversations, the timeline. The e-mails
are what the local SMTP server received, answered as a mail client would
(Python's `email` package)."""
import email
import email.policy
import email.utils
from email.message import EmailMessage

import crm
from crm import api, unique, unique_email, wait_until
from test_notify import _customer, _parse, _phone, _received, _send, _wait_status

RAW = {"Content-Type": "message/rfc822"}


def _post_mail(msg, key=crm.DEFAULT):
    raw = msg if isinstance(msg, bytes) else msg.as_bytes(policy=email.policy.SMTP)
    return api("POST", "/v1/inbound/email", raw=raw, headers=RAW, key=key)


def _sent_mail(c, subject="Ihr Termin am Montag", text="Hallo Jürgen,\npasst Montag um 10?"):
    st, _, m = _send(c["id"], {"subject": subject, "text": text})
    assert st == 202, m
    _wait_status(m["id"], "SENT")
    got = wait_until(lambda: _received(c["email"]), what="the e-mail at the server")
    return m, _parse(got[-1]["data"])


def _answer(orig, text, html=None, reply_to=True, in_reply_to=True, subject=None):
    """A reply as a mail client builds it: To the Reply-To address, the
    thread headers, the quoted original below the answer."""
    r = EmailMessage()
    r["From"] = email.utils.formataddr(("Jürgen Groß", str(orig["To"].addresses[0].addr_spec)))
    r["To"] = str(orig["Reply-To"]) if reply_to else str(orig["From"])
    r["Subject"] = subject or "Re: " + str(orig["Subject"])
    r["Message-ID"] = email.utils.make_msgid(domain="mail.example.de")
    r["Date"] = email.utils.formatdate()
    if in_reply_to:
        r["In-Reply-To"] = orig["Message-ID"]
        r["References"] = orig["Message-ID"]
    quoted = "\n".join("> " + x for x in orig.get_body(("plain",)).get_content().splitlines())
    if html is None:
        r.set_content(text + "\n\nAm Montag schrieb Salon Łucja:\n" + quoted + "\n")
    else:
        r.set_content(html + "<blockquote>" + quoted + "</blockquote>", subtype="html")
    return r


def _conversations(cid):
    st, _, cv = api("GET", "/v1/customers/%s/conversations" % cid)
    assert st == 200, cv
    return cv.get("conversations", [])


def test_email_reply_joins_the_conversation_card_and_timeline():
    c = _customer()
    m, orig = _sent_mail(c)
    # Sent with a Reply-To naming the message.
    assert str(orig["Reply-To"]).startswith("reply+") and \
        str(orig["Reply-To"]).endswith("@replies.example.test"), orig["Reply-To"]
    r = _answer(orig, "Ja, Montag um 10 passt. Grüße, Jürgen")
    r.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf",
                     filename="Überweisung.pdf")
    st, _, got = _post_mail(r)
    assert st == 200, got
    rep = got["reply"]
    assert not got.get("duplicate"), got
    assert rep["customerId"] == c["id"] and rep["messageId"] == m["id"], rep
    assert rep["joinedBy"] == "REPLY_ADDRESS" and rep["conversationId"] == m["id"], rep
    assert rep["text"] == "Ja, Montag um 10 passt. Grüße, Jürgen", rep["text"]
    assert rep["subject"] == "Re: Ihr Termin am Montag" and rep["fromName"] == "Jürgen Groß", rep
    assert rep["attachments"] == ["Überweisung.pdf"], rep
    assert _wait_status(m["id"], "REPLIED")["status"] == "REPLIED"
    # The conversation: what was sent, then the reply.
    cv = _conversations(c["id"])
    assert len(cv) == 1 and cv[0]["id"] == m["id"], cv
    kinds = [("message" if e.get("message") else "reply") for e in cv[0]["entries"]]
    assert kinds == ["message", "reply"], cv
    assert cv[0]["entries"][0]["message"]["subject"] == "Ihr Termin am Montag"
    assert cv[0]["entries"][1]["reply"]["id"] == rep["id"]

    def on_timeline():
        st2, _, tl = api("GET", "/v1/customers/%s/timeline?kind=MESSAGE" % c["id"])
        assert st2 == 200, tl
        return [e for e in tl.get("entries", []) if e["type"] == "message.replied"] or None
    got_tl = wait_until(on_timeline, timeout=20, what="message.replied on the timeline")
    assert got_tl[0]["message"]["id"] == m["id"], got_tl
    assert got_tl[0]["message"]["reply"] == "Ja, Montag um 10 passt. Grüße, Jürgen", got_tl

    # The same reply posted again is stored once.
    st, _, again = _post_mail(r)
    assert st == 200 and again["duplicate"] is True and again["reply"]["id"] == rep["id"], again
    cv = _conversations(c["id"])
    assert len(cv[0]["entries"]) == 2, cv


def test_html_only_reply_by_in_reply_to_with_an_encoded_subject():
    c = _customer(first="Zofia", last="Wójcik")
    m, orig = _sent_mail(c, subject="Przypomnienie", text="Do zobaczenia jutro")
    # Sent to the From address (a client that ignores Reply-To): In-Reply-To joins it.
    r = _answer(orig, None, html="<p>Dziękuję, <b>będę</b> o czasie!</p>", reply_to=False,
                subject="Re: Przypomnienie — żółw ✓")
    raw = r.as_bytes(policy=email.policy.SMTP)
    assert b"=?utf-8?" in raw.lower(), raw[:400]
    st, _, got = _post_mail(raw)
    assert st == 200, got
    rep = got["reply"]
    assert rep["joinedBy"] == "IN_REPLY_TO" and rep["messageId"] == m["id"], rep
    assert rep["subject"] == "Re: Przypomnienie — żółw ✓", rep
    assert rep["fromHtml"] is True and rep["text"] == "Dziękuję, będę o czasie!", rep


def test_references_join_when_in_reply_to_is_missing():
    c = _customer(first="Kari", last="Nordmann")
    m, orig = _sent_mail(c, subject="Time", text="Hei")
    r = EmailMessage()
    r["From"] = c["email"]
    r["To"] = "salon@example.test"
    r["Subject"] = "SV: Time"
    r["Message-ID"] = email.utils.make_msgid(domain="mail.example.no")
    r["References"] = "<older@example.test> " + orig["Message-ID"]
    r.set_content("Takk!")
    st, _, got = _post_mail(r)
    assert st == 200 and got["reply"]["joinedBy"] == "REFERENCES", got
    assert got["reply"]["messageId"] == m["id"], got


def test_unknown_reply_is_kept_unassigned_and_listed():
    r = EmailMessage()
    r["From"] = "stranger@example.org"
    r["To"] = "salon@example.test"
    r["Subject"] = "Hallo " + unique("u")
    r["Message-ID"] = email.utils.make_msgid(domain="example.org")
    r.set_content("Haben Sie am Samstag offen?")
    st, _, got = _post_mail(r)
    assert st == 200, got
    rep = got["reply"]
    assert not rep.get("customerId") and not rep.get("joinedBy"), rep
    st, _, ls = api("GET", "/v1/replies?unassigned=true&pageSize=100")
    assert st == 200, ls
    assert rep["id"] in [x["id"] for x in ls["replies"]], ls
    assert all(not x.get("customerId") for x in ls["replies"]), ls
    # Without a Message-ID, the same bytes are the same message.
    bare = b"From: someone@example.org\r\nSubject: no id\r\n\r\nhello\r\n"
    st, _, a = _post_mail(bare)
    st2, _, b = _post_mail(bare)
    assert st == 200 and st2 == 200 and a["reply"]["id"] == b["reply"]["id"], (a, b)
    assert b["duplicate"] is True and a["reply"]["externalId"].startswith("sha256:"), a
    # In pages, newest first.
    st, _, p1 = api("GET", "/v1/replies?pageSize=1")
    assert st == 200 and len(p1["replies"]) == 1 and p1["nextPageToken"], p1
    st, _, p2 = api("GET", "/v1/replies?pageSize=1&pageToken=" + p1["nextPageToken"])
    assert st == 200 and p2["replies"][0]["receivedAt"] <= p1["replies"][0]["receivedAt"], p2
    assert p2["replies"][0]["id"] != p1["replies"][0]["id"], p2
    for bad, field in (("pageSize=101", "pageSize"), ("pageToken=nope", "pageToken")):
        st, _, js = api("GET", "/v1/replies?" + bad)
        assert st == 400 and js["error"]["details"][0]["field"] == field, js


def test_hostile_mail_is_refused_and_nothing_is_stored():
    def refused(raw, status, reason):
        st, _, js = _post_mail(raw)
        assert st == status, (st, js)
        if status == 400:
            d = js["error"]["details"][0]
            assert d["field"] == "raw" and reason in str(js), js
    before = crm.psql_rows("SELECT count(*) FROM notify.replies")[0][0]
    refused(b"From: a@b\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nhi\r\n", 400,
            "unknown charset")
    deep = b"From: a@b\r\n" + b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i) for i in range(12))
    refused(deep, 400, "nested deeper than 8")
    wide = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n" + b"--z\r\n\r\nx\r\n" * 150
    refused(wide, 400, "more than 100 body parts")
    refused(b"From: a@b\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\nx\r\n", 400,
            "header section is larger")
    refused(b"From: a@b\r\n\r\n" + b"x" * (1024 * 1024 + 1), 413, "")
    refused(b"From: a@b\r\nSubject: \xc3\x28\r\n\r\nx\r\n", 400, "Subject: not UTF-8")
    st, _, js = api("POST", "/v1/inbound/email", raw=b"", headers=RAW)
    assert st == 400, js
    after = crm.psql_rows("SELECT count(*) FROM notify.replies")[0][0]
    assert before == after, (before, after)


def test_webhooks_need_a_key_that_may_write():
    r = b"From: a@b\r\nMessage-ID: <k@x>\r\n\r\nhi\r\n"
    st, _, _ = api("POST", "/v1/inbound/email", raw=r, headers=RAW, key=None)
    assert st == 401
    tenant = crm.TENANT
    reader = crm.crmctl(["key", "create", "--tenant", tenant, "--role", "readonly",
                         "--name", "Reader"]).strip()
    st, _, js = api("POST", "/v1/inbound/email", raw=r, headers=RAW, key=reader)
    assert st == 403, js
    st, _, js = api("POST", "/v1/inbound/sms", {"from": "+4712345678", "text": "x",
                                                "messageId": unique("k")}, key=reader)
    assert st == 403, js


def _sms_in(phone, text, mid=None, **extra):
    return api("POST", "/v1/inbound/sms", {"from": phone, "to": "SalonLucja", "text": text,
                                           "messageId": mid or unique("sms"), **extra})


def test_sms_reply_joins_by_phone_and_bad_ones_name_the_field():
    phone = _phone()
    c = _customer(first="Ola", last="Nowak", phone=phone)
    st, _, m = _send(c["id"], {"channel": "SMS", "text": "Wizyta jutro o 10:00"})
    assert st == 202, m
    _wait_status(m["id"], "SENT")
    spaced = "00" + phone[1:3] + " " + phone[3:6] + "-" + phone[6:]
    mid = unique("prov")
    st, _, got = _sms_in(spaced, "Dziękuję, będę!", mid, receivedAt="2026-12-06T10:00:00Z")
    assert st == 200, got
    rep = got["reply"]
    assert rep["joinedBy"] == "PHONE" and rep["customerId"] == c["id"], rep
    assert rep["from"] == phone and rep["messageId"] == m["id"] and not rep.get("stop"), rep
    assert rep["receivedAt"].startswith("2026-12-06T10:00:00"), rep
    assert _wait_status(m["id"], "REPLIED")
    st, _, again = _sms_in(phone, "Dziękuję, będę!", mid)
    assert st == 200 and again["duplicate"] is True and again["reply"]["id"] == rep["id"], again
    for body, field in (({"from": "12", "text": "x", "messageId": "a"}, "from"),
                        ({"from": phone, "text": "", "messageId": "a"}, "text"),
                        ({"from": phone, "text": "x" * 1601, "messageId": "a"}, "text"),
                        ({"from": phone, "text": "x", "messageId": ""}, "messageId"),
                        ({"from": phone, "text": "x", "messageId": "a",
                          "receivedAt": "yesterday"}, "receivedAt")):
        st, _, js = api("POST", "/v1/inbound/sms", body)
        assert st == 400, js
        assert js["error"]["details"][0]["field"] == field, js
    # A number we never wrote to is unassigned.
    st, _, got = _sms_in("+4790000001", "Hei")
    assert st == 200 and not got["reply"].get("customerId"), got


def test_sms_stop_withdraws_consent_and_the_next_newsletter_skips():
    tag = unique("stop").replace("-", "")
    phone = _phone()
    c = _customer(first="Per", last="Hansen", phone=phone, tags=[tag],
                  preferences={"language": "nb", "marketing": {"granted": True, "source": "t"},
                               "sms": {"granted": True, "source": "t"}})
    st, _, cp = api("POST", "/v1/campaigns", {"name": "N1", "tag": tag, "channel": "SMS",
                                              "text": "Nye timer i desember"})
    assert st == 201, cp
    from test_notify import _texts
    texts = wait_until(lambda: _texts(phone), timeout=30, what="the SMS newsletter")
    assert texts[-1]["text"].endswith("Meld deg av: svar STOPP"), texts[-1]
    st, _, got = _sms_in(phone, "  Stopp! ")
    assert st == 200 and got["reply"]["stop"] is True, got
    assert got["reply"]["customerId"] == c["id"], got
    st, _, cust = api("GET", "/v1/customers/" + c["id"])
    sms = cust["preferences"]["sms"]
    assert sms["granted"] is False and sms["source"] == "SMS STOP" and sms.get("changedAt"), sms
    st, _, cp2 = api("POST", "/v1/campaigns", {"name": "N2", "tag": tag, "channel": "SMS",
                                               "text": "Siste sjanse"})
    assert st == 201, cp2
    done = wait_until(lambda: (lambda x: x if x["status"] in ("SENDING", "DONE") else None)(
        api("GET", "/v1/campaigns/" + cp2["id"])[2]), timeout=30, what="the second campaign")
    assert done["skippedNoConsent"] == 1 and done.get("queued", 0) == 0, done
    # The stop line counts: ten full GSM parts leave it no room.
    st, _, js = api("POST", "/v1/campaigns", {"name": "N3", "tag": tag, "channel": "SMS",
                                              "text": "a" * 1530})
    assert st == 400 and js["error"]["details"][0]["field"] == "text", js
    assert "how to stop" in str(js), js


def test_reply_from_the_card_continues_the_conversation():
    c = _customer(first="Anna", last="Berg")
    m, orig = _sent_mail(c, subject="Termin", text="Passt Dienstag?")
    st, _, got = _post_mail(_answer(orig, "Lieber Mittwoch."))
    assert st == 200 and got["reply"]["conversationId"] == m["id"], got
    st, _, m2 = _send(c["id"], {"subject": "Re: Termin", "text": "Mittwoch ist gut.",
                                "conversationId": m["id"]})
    assert st == 202 and m2["conversationId"] == m["id"], m2
    cv = _conversations(c["id"])
    assert len(cv) == 1 and [("message" if e.get("message") else "reply")
                             for e in cv[0]["entries"]] == ["message", "reply", "message"], cv
    st, _, js = _send(c["id"], {"subject": "x", "text": "y",
                                "conversationId": "00000000-0000-4000-8000-00000000abcd"})
    assert st == 400 and js["error"]["details"][0]["field"] == "conversationId", js


def test_ui_conversation_on_the_card_in_english_and_german_at_390px():
    from test_ui import _browser, _no_js_errors, _open, _sign_in

    c = _customer(first="Greta", last="Lund")
    with _browser("card-conversations") as b:
        _sign_in(b)
        _open(b, "/customers/" + c["id"])
        b.wait_text("#conversations-title", "Conversations")
        b.wait_text("#conversations", "No conversations yet.")
        # A new message from the card.
        b.find("#conv-new summary").click()
        b.find("#conv-new .conv-subject").send_keys("Ihre Buchung")
        b.find("#conv-new .conv-text").send_keys("Passt Ihnen Freitag?")
        b.find("#conv-new .conv-send").click()
        b.wait("#conversations li.conversation")
        st, _, ms = api("GET", "/v1/customers/%s/messages" % c["id"])
        m = ms["messages"][0]
        assert m["subject"] == "Ihre Buchung" and m["text"] == "Passt Ihnen Freitag?", m
        _wait_status(m["id"], "SENT")
        orig = _parse(wait_until(lambda: _received(c["email"]), what="the e-mail")[-1]["data"])
        st, _, got = _post_mail(_answer(orig, "Freitag passt, danke!"))
        assert st == 200 and got["reply"]["conversationId"] == m["id"], got
        # The customer's answer shows in the conversation, after what was sent.
        _open(b, "/customers")
        _open(b, "/customers/" + c["id"])
        b.wait("#conversations li.conv-reply")
        conv = b.find("#conversations li.conversation").text
        assert conv.index("Passt Ihnen Freitag?") < conv.index("Freitag passt, danke!"), conv
        assert "Replied" in conv and "Customer's reply" in conv, conv
        # Answer from the card: it goes in the same conversation.
        b.find("#conversations .conv-reply-open").click()
        b.find("#conversations .conv-reply-box .conv-text").send_keys("Bis Freitag!")
        b.find("#conversations .conv-reply-box .conv-send").click()

        def three():
            cv = api("GET", "/v1/customers/%s/conversations" % c["id"])[2]["conversations"]
            return cv if len(cv) == 1 and len(cv[0]["entries"]) == 3 else None
        cv = wait_until(three, timeout=20, what="the answer in the conversation")
        last = cv[0]["entries"][2]["message"]
        assert last["text"] == "Bis Freitag!" and last["subject"] == "Re: Ihre Buchung", last
        b.wait_text("#conversations", "Bis Freitag!")
        # In German, at 390 px.
        b.js("localStorage.setItem('crm.lang', 'de');")
        try:
            b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
            _open(b, "/customers")
            _open(b, "/customers/" + c["id"])
            b.wait_text("#conversations-title", "Unterhaltungen")
            b.wait_text("#conversations", "Antwort des Kunden")
            assert "Beantwortet" in b.find("#conversations").text
            assert b.find("#conversations .conv-reply-open").text == "Antworten"
            assert b.find("#conv-new summary").text == "Nachricht schreiben"
            overflow = b.js("return document.documentElement.scrollWidth - "
                            "document.documentElement.clientWidth;")
            assert overflow <= 0, overflow
            # Staff see what joined nothing on the Replies screen.
            stray = EmailMessage()
            stray["From"] = "Fremder <fremder@example.org>"
            stray["To"] = "salon@example.test"
            stray["Subject"] = "Offen am Samstag? " + unique("s")
            stray["Message-ID"] = email.utils.make_msgid(domain="example.org")
            stray.set_content("Haben Sie Samstag offen?")
            st, _, got = _post_mail(stray)
            assert st == 200 and not got["reply"].get("customerId"), got
            b.find("#nav a[data-nav=replies]").click()
            b.wait_text("h1", "Antworten")
            b.wait_text("#replies", str(stray["Subject"]))
            item = b.find("#replies li[data-id='%s']" % got["reply"]["id"]).text
            assert "Nicht zugeordnet" in item and "fremder@example.org" in item, item
            # Every reply: the one that joined links to the card.
            b.find("#replies-all").click()
            b.wait("#replies a[href='#/customers/%s']" % c["id"])
            overflow = b.js("return document.documentElement.scrollWidth - "
                            "document.documentElement.clientWidth;")
            assert overflow <= 0, overflow
        finally:
            b.js("localStorage.removeItem('crm.lang');")
        _no_js_errors(b)


test_ui_conversation_on_the_card_in_english_and_german_at_390px.timeout = 180
