"""The mail the suite sends, as mail providers and mail clients judge it: one
e-mail of every kind notify sends (a message staff wrote, text only and with
HTML, a reply in a conversation, a message scheduled days before it goes, a
rule's marketing mail, a newsletter with HTML, the set-password link, the
activation, the welcome, a registration, a staff invitation and password
reset), in English, German and Bulgarian, taken from the local SMTP server as
the bytes it received, and

- scored by SpamAssassin (`spamassassin -L -t`: local tests only, no
  network), failing on a rule that points at how the mail is built and on a
  total of 2.0 or more;
- parsed with Python's `email` package under `policy.strict` and
  `policy.default`, failing on any defect of the message or of a part;
- checked for what clients need (RFC 5322, 2045-2047, 2369, 3834, 8058).

notify sends no attachments, so there is no attachment mail to check."""
import base64
import datetime
import email
import email.policy
import email.utils
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import crm
from crm import api, mails_to, psql, unique, unique_email, wait_until
from test_notify import _customer, _send, _wait_status
from test_replies import _answer, _post_mail
from test_welcome import _booking, _settings, _tenant

# SpamAssassin rules that may hit, each only because of the test set-up.
EXPECTED = {
    # The mail is taken from the test's SMTP server, before any MTA has
    # added a Received line (informational, scored 0).
    "NO_RECEIVED": "no MTA in the test set-up, so no Received line",
    "NO_RELAYS": "no MTA in the test set-up, so no relay",
    # HTML is what the newsletter and the HTML message are meant to carry;
    # SA marks it for information (0.001). It always goes with a text/plain
    # alternative, checked below.
    "HTML_MESSAGE": "the mail has an HTML part by design, with a text/plain alternative",
    # The test stack's public URL is http://127.0.0.1:<a free port>, so every
    # link has a port (informational, 0.001); a real one has none.
    "WEIRD_PORT": "the test stack's links carry a port",
    # SA's vertical-words heuristic (0.001) counts a short text's spaces: a
    # template of a few lines with a 100-character set-password link in it
    # falls under its 10 % now and then, depending on the random token. It
    # reads the text, not how the mail is built.
    "TVD_SPACE_RATIO": "a short template text with a long link in it",
}

# Rules that point at how a mail is built (headers, MIME, encodings, HTML).
STRUCTURAL = re.compile(
    r"^(MIME_|HTML_|MISSING_|INVALID_|FROM_|SUBJ_|BASE64_|TVD_|MPART_|HEADER_|DATE_IN_|"
    r"CTE_|PP_MIME_|CHARSET_|TO_NO_BRKTS|TO_MALFORMED|EMPTY_|UNPARSEABLE_|FORGED_|"
    r"REPTO_|MALFORMED_|T_HTML_|T_MIME_|T_KAM_HTML|__)|MSGID|_ENCODED|QUOTED_PRINTABLE|"
    r"BLANK_LINES|LONG_LINE|OBFU|UNDISC|NO_DNS_FOR_FROM|TRACKER")

KINDS_AUTOMATIC = {"password_link", "activation", "welcome", "registration", "staff_invite",
                   "staff_password_reset", "newsletter", "marketing"}
KINDS_BULK = {"newsletter", "marketing"}

_cache = {}


def _raw_of(addr, n=1, timeout=30):
    got = wait_until(lambda: (lambda r: r if len(r) >= n else None)(mails_to(addr)),
                     timeout=timeout, what="%d e-mail(s) to %s" % (n, addr))
    return base64.b64decode(got[n - 1]["raw"])


def _granted():
    return {"marketing": {"granted": True, "source": "web"},
            "email": {"granted": True, "source": "web"}}


def _messages():
    """Sends one mail of every kind; answers [(label, kind, raw bytes,
    extra)] where extra names what the check needs (customer id, etc.)."""
    if "mails" in _cache:
        return _cache["mails"]
    out = []
    people = {
        "en": ("Mary", "O'Brien", "Your appointment on Monday"),
        "de": ("Jürgen", "Größe-Übel", "Ihr Termin am Montag – bitte bestätigen Sie"),
        "bg": ("Мария", "Иванова", "Вашият час в понеделник, моля потвърдете"),
    }
    for lang, (first, last, subject) in people.items():
        # A message staff wrote, text only, and one with HTML.
        c = _customer(first=first, last=last, preferences={"language": lang})
        st, _, m = _send(c["id"], {"subject": subject, "text": "Hello %s,\nsee you on Monday at "
                                   "10:00.\n\nKind regards\nSalon" % first})
        assert st == 202, m
        _wait_status(m["id"], "SENT")
        out.append(("message text " + lang, "message", _raw_of(c["email"]), {}))
        c = _customer(first=first, last=last, preferences={"language": lang})
        html = ("<p>Hello <b>%s</b>,</p><p>see you on Monday at 10:00.</p>"
                "<p>Kind regards<br>Salon</p>" % first)
        st, _, m = _send(c["id"], {"subject": subject, "text": "Hello %s,\nsee you on Monday "
                                   "at 10:00.\n\nKind regards\nSalon" % first, "html": html})
        assert st == 202, m
        _wait_status(m["id"], "SENT")
        orig_raw = _raw_of(c["email"])
        out.append(("message html " + lang, "message", orig_raw, {}))
        # The customer answers; staff reply in the same conversation.
        orig = email.message_from_bytes(orig_raw, policy=email.policy.default)
        answer = _answer(orig, "Monday suits me.")
        st, _, got = _post_mail(answer)
        assert st == 200 and got["reply"]["conversationId"] == m["id"], got
        st, _, m2 = _send(c["id"], {"subject": "Re: " + subject, "text": "Good, see you then.",
                                    "conversationId": m["id"]})
        assert st == 202, m2
        _wait_status(m2["id"], "SENT")
        out.append(("reply " + lang, "message", _raw_of(c["email"], 2),
                    {"thread": [orig["Message-ID"], answer["Message-ID"]]}))
        if lang == "de":
            # Scheduled long ago, sent now: dated when it goes, not when it
            # was written (a Date days back is what spam filters look for).
            c = _customer(first=first, last=last, preferences={"language": lang})
            at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=4)
            st, _, m = _send(c["id"], {"subject": subject, "text": "Bis morgen!",
                                       "sendAt": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
            assert st == 202 and m["status"] == "SCHEDULED", m
            psql("UPDATE notify.messages SET created_at = now() - interval '3 days' "
                 "WHERE id = '%s'" % m["id"])
            _wait_status(m["id"], "SENT", timeout=30)
            out.append(("scheduled " + lang, "message", _raw_of(c["email"]), {}))
        # The set-password link and the activation, from the templates.
        for route, kind in (("sendPasswordLink", "password_link"),
                            ("sendActivation", "activation")):
            c = _customer(first=first, last=last, preferences={"language": lang})
            st, _, m = api("POST", "/v1/customers/%s:%s" % (c["id"], route), {})
            assert st == 202, m
            out.append(("%s %s" % (kind, lang), kind, _raw_of(c["email"]), {}))
        # A rule's marketing mail goes as SendMessage with marketing.
        c = _customer(first=first, last=last, preferences={"language": lang, **_granted()})
        st, _, m = _send(c["id"], {"subject": subject, "text": "Hello %s,\nnew dates are "
                                   "open." % first, "marketing": True})
        assert st == 202, m
        out.append(("marketing " + lang, "marketing", _raw_of(c["email"]), {"customer": c["id"]}))
        # A newsletter with HTML.
        tag = unique("mq")
        c = _customer(first=first, last=last, tags=[tag],
                      preferences={"language": lang, **_granted()})
        st, _, camp = api("POST", "/v1/campaigns", {
            "name": "Spring " + tag, "tag": tag, "subject": subject,
            "text": "Hello,\nnew dates are open in spring.",
            "html": "<h1>Spring</h1><p>New dates are <a href=\"https://salon.example.com/"
                    "book\">open</a>.</p>"})
        assert st == 201, camp
        out.append(("newsletter " + lang, "newsletter", _raw_of(c["email"]),
                    {"customer": c["id"]}))
        # A registration at the business's link.
        tenant, key = _tenant()
        st, _, js = api("PUT", "/v1/notifySettings", {"selfRegistration": True}, key=key)
        assert st == 200, js
        addr = unique_email("mqreg")
        st, _, js = api("POST", "/v1/registrations", {
            "business": tenant, "firstName": first, "lastName": last, "email": addr,
            "language": lang}, key=None)
        assert st == 202, js
        out.append(("registration " + lang, "registration", _raw_of(addr), {}))
        # The welcome after a booking registered the customer.
        _settings(key, welcomeOnAutoRegistration=True, welcomeChannel="EMAIL")
        addr = unique_email("mqwelcome")
        _booking(tenant, addr, language=lang)
        out.append(("welcome " + lang, "welcome", _raw_of(addr), {}))
        # A staff invitation and a password reset.
        addr = unique_email("mqstaff")
        st, _, js = api("POST", "/v1/staff:invite", {"email": addr, "name": first + " " + last,
                                                     "role": "STAFF", "language": lang})
        assert st == 201, js
        out.append(("staff_invite " + lang, "staff_invite", _raw_of(addr), {}))
        owner_tenant, owner, _ = crm.staff_owner()
        st, _, js = api("POST", "/v1/session:forgotPassword",
                        {"tenant": owner_tenant, "email": owner, "language": lang}, key=None)
        assert st == 202, js
        out.append(("staff_password_reset " + lang, "staff_password_reset", _raw_of(owner), {}))
    _cache["mails"] = out
    # Kept for a look: each as the SMTP server received it.
    keep = tempfile.mkdtemp(prefix="mail-quality-")
    for label, _, raw, _ in out:
        with open(os.path.join(keep, label.replace(" ", "-") + ".eml"), "wb") as f:
            f.write(raw)
    print("mail-quality: the mails are in", keep)
    return out


def _report(failures):
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- SpamAssassin

def _spamassassin(raw):
    """(score, {rule: points}) of `spamassassin -L -t` on one mail."""
    exe = shutil.which("spamassassin")
    assert exe, "spamassassin is not installed (compose/install-deps.sh installs it)"
    res = subprocess.run([exe, "-L", "-t"], input=raw, capture_output=True, timeout=300)
    assert res.returncode in (0, 1), res.stderr.decode(errors="replace")[-2000:]
    text = res.stdout.decode("utf-8", "replace")
    # The report is the last "Content analysis details" of the output.
    rep = text.rsplit("Content analysis details:", 1)[1]
    score = float(re.match(r"\s*\((-?[\d.]+) points", rep).group(1))
    rules = {}
    table = rep.split("\n---- ", 1)[1].split("\n", 1)[1]
    for line in table.splitlines():
        if not line.strip():
            break  # the table ends; the rest of the message may follow
        hit = re.match(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\b", line)
        if hit:
            rules[hit.group(2)] = float(hit.group(1))
    return score, rules


def test_spamassassin_finds_nothing_in_how_the_mail_is_built():
    mails = _messages()
    # A run takes seconds, mostly waiting: several at once.
    with ThreadPoolExecutor(max_workers=6) as pool:
        scored = dict(zip([m[0] for m in mails], pool.map(_spamassassin, [m[2] for m in mails])))
    failures = []
    for label, _, _, _ in mails:
        score, rules = scored[label]
        print("%-28s %5.2f  %s" % (label, score, " ".join(
            "%s=%s" % r for r in sorted(rules.items()))))
        bad = [r for r in rules if STRUCTURAL.search(r) and r not in EXPECTED]
        if bad:
            failures.append("%s: rules about how it is built: %s" % (label, bad))
        if score >= 2.0:
            failures.append("%s: score %.2f >= 2.0 (%s)" % (label, score, rules))
    _report(failures)


test_spamassassin_finds_nothing_in_how_the_mail_is_built.timeout = 600


# ---------------------------------------------------------------- Python's parser

def _all_defects(raw, policy):
    msg = email.message_from_bytes(raw, policy=policy)
    found = []
    for part in msg.walk():
        found += ["%s: %r" % (part.get_content_type(), d) for d in part.defects]
        for name, value in part.items():
            found += ["%s: %r" % (name, d) for d in getattr(value, "defects", ())]
        if not part.is_multipart():
            part.get_content()  # decodes the body: a bad charset or encoding raises
    return found


def test_python_parses_every_mail_without_a_defect():
    failures = []
    for label, _, raw, _ in _messages():
        for name, policy in (("default", email.policy.default),
                             ("strict", email.policy.strict)):
            try:
                found = _all_defects(raw, policy)
            except Exception as e:  # strict raises on the first defect
                found = [repr(e)]
            if found:
                failures.append("%s (%s): %s" % (label, name, found))
    _report(failures)


test_python_parses_every_mail_without_a_defect.timeout = 600


# ---------------------------------------------------------------- what clients need

DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
                  r"Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
MSGID = re.compile(r"^<%s@%s>$" % (DOT_ATOM, DOT_ATOM))
WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")


def _header_section(raw):
    head = raw.split(b"\r\n\r\n", 1)[0]
    return head.decode("ascii").split("\r\n")


def _fields(lines):
    """{lower name: [raw values with their folds]} of a header section."""
    fields, name = {}, None
    for line in lines:
        if line[:1] in (" ", "\t"):
            fields[name][-1] += "\r\n" + line
            continue
        name, _, value = line.partition(":")
        name = name.lower()
        fields.setdefault(name, []).append(value)
    return fields


def _check_words(label, field, value, failures):
    """Each encoded word valid on its own (RFC 2047): at most 75 characters,
    its charset declared, its text decoding to whole characters."""
    for word in WORD.finditer(value):
        charset, enc, text = word.groups()
        if len(word.group(0)) > 75:
            failures.append("%s: %s: encoded word over 75 characters" % (label, field))
        try:
            data = (base64.b64decode(text, validate=True) if enc in "Bb" else
                    text.replace("_", " ").encode())
            data.decode(charset)
        except Exception as e:
            failures.append("%s: %s: encoded word %r does not decode: %s"
                            % (label, field, word.group(0), e))
    unencoded = WORD.sub("", value)
    if "=?" in unencoded:
        failures.append("%s: %s: a broken encoded word: %r" % (label, field, value))


def _check_headers(label, kind, raw, extra, failures):
    try:
        lines = _header_section(raw)
    except UnicodeDecodeError:
        failures.append("%s: raw 8-bit bytes in the header section" % label)
        return
    for line in lines:
        # A URL cannot be folded (List-Unsubscribe): a field of one URL may
        # pass 78 characters, never 998.
        alone = re.match(r"^[A-Za-z-]+: <https?://\S+>$", line)
        if len(line) > 998 or (len(line) > 78 and not alone):
            failures.append("%s: header line of %d characters: %r" % (label, len(line), line))
    f = _fields(lines)
    for one in ("from", "to", "subject", "date", "message-id", "mime-version"):
        if len(f.get(one, [])) != 1:
            failures.append("%s: %s appears %d times" % (label, one, len(f.get(one, []))))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    date = str(msg["Date"] or "")
    if not DATE.match(date):
        failures.append("%s: Date %r is not RFC 5322" % (label, date))
    elif abs(email.utils.parsedate_to_datetime(date).timestamp() - time.time()) > 900:
        failures.append("%s: Date %r is not about now" % (label, date))
    if not MSGID.match(str(msg["Message-ID"] or "")):
        failures.append("%s: Message-ID %r" % (label, msg["Message-ID"]))
    for field in ("from", "to", "subject", "reply-to"):
        for value in f.get(field, []):
            _check_words(label, field, value, failures)
    sender = msg["From"].addresses[0]
    if sender.display_name and not sender.display_name.isascii() \
            and "=?UTF-8?B?" not in f["from"][0]:
        failures.append("%s: From display name not encoded: %r" % (label, f["from"][0]))
    auto = str(msg["Auto-Submitted"] or "")
    if kind in KINDS_AUTOMATIC and auto != "auto-generated":
        failures.append("%s: Auto-Submitted %r on a mail nobody wrote by hand" % (label, auto))
    if kind not in KINDS_AUTOMATIC and auto:
        failures.append("%s: Auto-Submitted %r on a mail staff wrote" % (label, auto))
    if kind in KINDS_BULK and str(msg["Precedence"] or "") != "bulk":
        failures.append("%s: bulk mail without Precedence: bulk" % label)
    if kind in KINDS_BULK and not re.match(r"^<%s>$" % DOT_ATOM, str(msg["List-Id"] or "")):
        failures.append("%s: bulk mail without an RFC 2919 List-Id: %r" % (label, msg["List-Id"]))
    if "thread" in extra:
        parent = extra["thread"][-1]
        if str(msg["In-Reply-To"] or "") != parent:
            failures.append("%s: In-Reply-To %r, not %r" % (label, msg["In-Reply-To"], parent))
        refs = str(msg["References"] or "").split()
        if refs[-len(extra["thread"]):] != extra["thread"]:
            failures.append("%s: References %r, not ending in %r"
                            % (label, refs, extra["thread"]))


def _check_body(label, raw, failures):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for line in raw.split(b"\r\n"):
        if len(line) > 998:
            failures.append("%s: a line over 998 octets" % label)
        if any(b > 0x7F for b in line):
            failures.append("%s: raw 8-bit bytes, and no 8BITMIME is asked for: %r"
                            % (label, line[:60]))
            break
    if b"\n" in raw.replace(b"\r\n", b"") or b"\r" in raw.replace(b"\r\n", b""):
        failures.append("%s: a bare CR or LF" % label)
    types = [p.get_content_type() for p in msg.walk()]
    if "text/html" in types:
        alt = [p for p in msg.walk() if p.get_content_type() == "multipart/alternative"]
        if not alt or [p.get_content_type() for p in alt[0].iter_parts()] != \
                ["text/plain", "text/html"]:
            failures.append("%s: HTML without multipart/alternative of text and HTML: %s"
                            % (label, types))
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_maintype() == "text" and not part.get_param("charset"):
            failures.append("%s: %s without a charset" % (label, part.get_content_type()))
        cte = part.get("Content-Transfer-Encoding", "7bit").lower()
        if cte not in ("7bit", "quoted-printable", "base64"):
            failures.append("%s: Content-Transfer-Encoding %s" % (label, cte))
        payload = part.get_payload(decode=False)
        if cte == "quoted-printable" and any(len(x) > 76 for x in payload.split("\r\n")):
            failures.append("%s: quoted-printable line over 76 characters" % label)
        part.get_payload(decode=True).decode(part.get_content_charset())


def test_what_mail_clients_need_is_there():
    failures = []
    for label, kind, raw, extra in _messages():
        _check_headers(label, kind, raw, extra, failures)
        _check_body(label, raw, failures)
    _report(failures)


test_what_mail_clients_need_is_there.timeout = 600


def test_bulk_mail_unsubscribes_with_one_click():
    """RFC 2369 and RFC 8058, what Gmail and Yahoo ask of bulk senders: a
    List-Unsubscribe https URL (the configured public URL's scheme: the test
    stack's is http) and List-Unsubscribe-Post; the one-click POST really
    takes the recipient out."""
    public = urllib.parse.urlsplit(os.environ.get("CRM_PUBLIC_URL", crm.URL))
    for label, kind, raw, extra in _messages():
        if kind not in KINDS_BULK:
            continue
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        lu = str(msg["List-Unsubscribe"] or "")
        assert re.match(r"^<https?://[^<>\s]+>$", lu), (label, lu)
        url = urllib.parse.urlsplit(lu[1:-1])
        assert url.scheme == public.scheme and url.netloc == public.netloc, (label, lu)
        assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click", label
        st, _, cust = api("GET", "/v1/customers/" + extra["customer"])
        assert cust["preferences"]["email"]["granted"] is True, (label, cust["preferences"])
        st, _, js = api("POST", url.path, raw="List-Unsubscribe=One-Click", key=None,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert st == 200 and js["channel"] == "EMAIL", (label, st, js)
        st, _, cust = api("GET", "/v1/customers/" + extra["customer"])
        assert cust["preferences"]["email"].get("granted") is not True, (label, cust)
        assert cust["preferences"]["email"]["source"] == "unsubscribe link", cust


test_bulk_mail_unsubscribes_with_one_click.timeout = 600
