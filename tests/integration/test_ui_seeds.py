"""The five help-centre articles the product started from
(/work/shared/seeds in the design's terms: 000 Calendesk's "Add a customer",
001 a booking service's "Customers", 002 Shore's "Kunden", 003 a store's
"Customers", 004 a Bulgarian salon system's "customer profile"), each walked
step by step in the real web UI as its reader would: in the article's
language, on a phone-sized window (390 px) and at desktop width. Each test
asserts what the reader would check (the customer they added is in the list,
the export has the columns the article names, ...) and leaves screenshots in
the screenshot directory (seeds-<article>-<step>.png) to look at.
"""

import csv
import io
import os
import random
import string
import re
import tempfile
import urllib.parse
import zipfile

import crm
import webdriver
from crm import api, unique, unique_email
from test_ui import SHOTS, _browser, _customer_id, _names, _no_js_errors, _open, _png

PHONE = 390
DESKTOP = 1366


def _word(prefix):
    """A name-like word nobody else has: prefix and 8 random letters."""
    return prefix + "".join(random.choice(string.ascii_lowercase) for _ in range(8))


def _width(b, width):
    """Resizes the window (headless Chromium allows 390 px only this way)."""
    b.cmd("POST", "/window/rect", {"width": width, "height": 844 if width == PHONE else 900})
    b.wait_until(lambda: b.js("return innerWidth;") == width, what="the window %d px wide" % width)


def _fits(b, what):
    """The page is no wider than the window and nothing sticks out at its side
    (the menu bar and the list's table scroll sideways by design; what only a
    screen reader reads is clipped)."""
    got = b.js("""
        const w = document.documentElement.clientWidth;
        const wide = Array.from(document.querySelectorAll('body *'))
          .filter(el => el.getClientRects().length && el.getBoundingClientRect().right > w + 1
                        && !el.closest('.nav, .table-wrap, .sr-only'))
          .slice(0, 6).map(el => el.tagName + '.' + el.className + '#' + el.id);
        return [document.documentElement.scrollWidth, w, wide];""")
    assert got[0] <= got[1] and not got[2], "%s: %s" % (what, got)


def _list_words_fit(b):
    """On the list, the search box's hint and each filter's choice read whole
    (measured in the control's own font against its room for text; a select
    keeps about 1.5 rem for its arrow)."""
    cut = b.js("""
        const c = document.createElement('canvas').getContext('2d');
        const room = (el, arrow) => {
          const st = getComputedStyle(el);
          return el.clientWidth - parseFloat(st.paddingLeft) - parseFloat(st.paddingRight) - arrow;
        };
        const out = [];
        const box = document.getElementById('search');
        c.font = getComputedStyle(box).font;
        if (c.measureText(box.placeholder).width > room(box, 0)) out.push(box.placeholder);
        for (const s of document.querySelectorAll('.filter select')) {
          c.font = getComputedStyle(s).font;
          const text = s.options[s.selectedIndex].text;
          if (c.measureText(text).width > room(s, 18)) out.push(text);
        }
        return out;""")
    assert not cut, "cut off at %d px: %s" % (b.js("return innerWidth;"), cut)


def _menu_fits(b):
    """At desktop width every menu entry reads on one line, none cut off."""
    got = b.js("""
        const nav = document.getElementById('nav');
        const tall = Array.from(nav.querySelectorAll('a:not([hidden])'))
          .filter(a => a.getBoundingClientRect().height > 48 || a.getBoundingClientRect().top < 0)
          .map(a => a.textContent);
        return [tall, nav.scrollWidth, nav.clientWidth];""")
    assert not got[0] and got[1] <= got[2], "the menu at %d px: %s" % (b.js("return innerWidth;"), got)


def _shot(b, article, step):
    b.full_screenshot(os.path.join(SHOTS, "seeds-%s-%s.png" % (article, step)))


def _sign_in(b, lang, key=None):
    """Signs in with an administrator's key (the default tenant's unless key),
    the language chosen in the top bar first."""
    b.get(crm.URL + "/")
    b.wait("input[name=apiKey]")
    b.js("const s = document.getElementById('lang-select'); s.value = arguments[0];"
         "s.dispatchEvent(new Event('change'));", lang)
    b.wait_until(lambda: b.js("return document.documentElement.lang;") == lang, what="<html lang> " + lang)
    b.wait("input[name=apiKey]").send_keys(key or crm.API_KEY)
    b.find(".signin-card button[type=submit]").click()
    b.wait("#customer-table")


def _tenant(country):
    """A business of its own (its settings and whole customer book are this
    test's alone): (tenant id, administrator key)."""
    tenant = crm.crmctl(["tenant", "create", unique("Salon"), "--country", country]).strip()
    key = crm.crmctl(["key", "create", "--tenant", tenant, "--role", "admin", "--name", "Admin " + unique("a")]).strip()
    return tenant, key


def _downloads(b):
    """Lets the browser save downloads into a fresh directory; returns it."""
    d = tempfile.mkdtemp(prefix="crm-seed-dl-")
    b.cmd("POST", "/goog/cdp/execute", {"cmd": "Browser.setDownloadBehavior",
                                        "params": {"behavior": "allow", "downloadPath": d}})
    return d


def _downloaded(b, d, suffix):
    """The one finished download in d whose name ends with suffix: (name, bytes)."""
    def done():
        names = [n for n in os.listdir(d) if n.endswith(suffix)]
        return names[0] if len(names) == 1 and not [n for n in os.listdir(d) if n.endswith(".crdownload")] else None
    name = b.wait_until(done, what="a %s file downloaded" % suffix)
    with open(os.path.join(d, name), "rb") as fh:
        return name, fh.read()


def _booking(key, first, last, email, service="Haircut", days=3):
    """A booking.created event as the booking system sends it; answers the customer's id."""
    st, _, js = api("POST", "/v1/events", {
        "source": "booking", "eventId": unique("bk"), "type": "booking.created",
        "occurredAt": "2026-12-01T10:00:00Z",
        "customer": {"externalId": unique("x"), "firstName": first, "lastName": last, "email": email},
        "booking": {"id": unique("b"), "service": service, "staff": "Eva",
                    "startsAt": "2030-03-%02dT10:00:00Z" % days, "endsAt": "2030-03-%02dT11:00:00Z" % days}},
        key=key)
    assert st == 202 and js["customerId"], (st, js)
    return js["customerId"]


def _in_row(b, text, css):
    """Clicks css in the list's row that shows text, once the list has settled
    (a search typed is answered: its head and rows move when it draws); again
    when the list was drawn anew between finding and clicking."""
    def click():
        if b.find("#customer-table").attr("aria-busy") == "true":
            return None
        rows = [r for r in b.find_all("#customer-table tbody tr[data-id]") if text in r.text]
        return rows and rows[0].find(css).click()
    b.wait_until(click, what="%s in the row of %s" % (css, text))


def _reload_card_until(b, name, ok, what):
    """Opens the card on screen again (as its reader would) until ok() holds:
    for what reaches it over the bus after it was drawn."""
    def again():
        b.js("location.reload();")
        b.wait_text("#customer-name", name)
        return ok()
    b.wait_until(again, timeout=30, interval=1, what=what)


def _set_date(b, css, value):
    """Fills a date input with YYYY-MM-DD as its picker would (typing depends on the locale)."""
    b.js("const i = document.querySelector(arguments[0]); i.value = arguments[1];"
         "i.dispatchEvent(new Event('input', {bubbles: true})); i.dispatchEvent(new Event('change', {bubbles: true}));",
         css, value)


# ------------------------------------------------------------------ 000: Calendesk, "Add a customer" (en)


def test_seed_000_add_a_customer_with_photo_groups_company_vies_and_password_link():
    from test_company import _de, _fake
    from test_ui_staff import member, sign_in

    vat = _de()
    _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Lindqvist Hair Studio AB",
                                           "address": "Friedrichstraße 12\n10117 Berlin"}})
    last = _word("Lindqvist").capitalize()
    email = unique_email("anna")
    png = os.path.join(tempfile.mkdtemp(prefix="crm-seed-photo-"), "anna.png")
    with open(png, "wb") as fh:
        fh.write(_png())
    with _browser("seeds-000") as b:
        _width(b, PHONE)
        _sign_in(b, "en")
        # "The Add a customer view is where you can add new customers."
        b.find("#add-customer").click()
        b.wait("#f-firstName").send_keys("Anna")
        # first name, last name, e-mail, contact number, gender, date of birth
        b.find("#f-lastName").send_keys(last)
        b.find("#f-email").send_keys(email)
        b.find("#f-phone").send_keys("+48 601 234 567")
        b.find("#f-gender").select("FEMALE")
        _set_date(b, "#f-birthDate", "1988-03-14")
        # A private description, visible only to you and your employees.
        desc = b.find("#f-description")
        assert "never shown to the customer" in b.find("#main").text
        desc.send_keys("Prefers mornings; allergic to lavender oil.")
        # A photo (the customer may see it on their account: the form says so).
        assert "Customers may see their photo" in b.find("#main").text
        b.find("#f-photo").send_keys(png)
        b.wait("#main .photo-box img")
        # Groups: "it will help you to find them later".
        b.find("input[name=groups][value='Standard']").click()
        # "Is the customer a company?" and "Download data" from VIES.
        b.find("#f-isCompany").click()
        b.wait("#f-company-vatNumber").send_keys(vat)
        b.find("#vat-download").click()
        b.wait_text("#vat-status", "VIES: valid")
        assert b.find("#f-company-name").prop("value") == "Lindqvist Hair Studio AB"
        assert b.find("#f-company-address").prop("value") == "Friedrichstraße 12\n10117 Berlin"
        _fits(b, "the add form at 390 px")
        _shot(b, "000", "form-390")
        b.find("#save").click()
        b.wait_text("#customer-name", last)
        cid = _customer_id(b)
        _fits(b, "the card at 390 px")
        _shot(b, "000", "card-390")
        page = b.find("#main").text
        for want in (email, "Female", "Prefers mornings; allergic to lavender oil.", "Standard",
                     "Lindqvist Hair Studio AB", vat):
            assert want in page, (want, page)
        img = b.wait(".card-head .avatar img")
        b.wait_until(lambda: b.js("return arguments[0].complete && arguments[0].naturalWidth;",
                                  {webdriver.ELEMENT: img.ref}) == 48, what="the photo")
        # "Send a create password link ... only if you provide a valid e-mail address."
        b.find("#send-password-link").click()
        b.wait("#messages li.message")
        b.wait_text("#messages", email)
        st, _, c = api("GET", "/v1/customers/" + cid)
        assert st == 200 and c["birthDate"] == "1988-03-14" and c["gender"] == "FEMALE", c
        assert c["phone"] == "+48601234567" and c["hasPhoto"] and c["groups"] == ["Standard"], c

        # "Assign customers to groups. It will help you to find them later."
        _width(b, DESKTOP)
        _open(b, "/customers?group=Standard&q=" + urllib.parse.quote(last))
        b.wait_until(lambda: _names(b) == ["%s, Anna" % last], what="her in the Standard group")
        _menu_fits(b)
        _shot(b, "000", "list-group-desktop")

        # A customer without an e-mail: the link cannot go, and the card says why.
        st, _, nomail = api("POST", "/v1/customers", {"firstName": "Bea", "lastName": _word("Nomail")})
        assert st == 201, nomail
        _width(b, PHONE)
        _open(b, "/customers/" + nomail["id"])
        b.wait_text("#needs-email", "need the customer's e-mail address")
        assert not b.find_all("#send-password-link")
        _fits(b, "the card of a customer without e-mail at 390 px")
        _shot(b, "000", "card-no-email-390")
        _no_js_errors(b)
    # A member who may only read is offered no "+ Add customer" anywhere.
    addr, password, _, _ = member(role="READONLY")
    with _browser("seeds-000-readonly") as b:
        sign_in(b, addr, password)
        assert not b.find("#add-customer").displayed()
        _open(b, "/customers/" + cid)
        b.wait_text("#customer-name", last)
        assert not b.find("#top-add").displayed()
    os.unlink(png)
    os.rmdir(os.path.dirname(png))


# ------------------------------------------------------------------ 001: a booking service's "Customers" (en)


def test_seed_001_booking_registers_welcome_add_export_import_search_edit_delete():
    tenant, key = _tenant("NO")
    stem = _word("Haug").capitalize()
    with _browser("seeds-001") as b:
        _width(b, PHONE)
        _sign_in(b, "en", key)
        dl = _downloads(b)
        # "You must activate a workflow yourself to send the user name and password."
        _open(b, "/settings")
        b.wait("#notify-welcome").click()
        # A sender no SMS provider takes: said at its field, nothing saved.
        b.find("#notify-smsFrom").send_keys("Haugen&Co")
        b.find("#save-notify").click()
        b.wait_text("#notify-smsFrom-error", "1 to 11 letters")
        assert b.find("#notify-smsFrom").attr("aria-invalid") == "true"
        assert not api("GET", "/v1/notifySettings", key=key)[2]["welcomeOnAutoRegistration"]
        b.find("#notify-smsFrom").fill("SalonHaugen")
        b.find("#save-notify").click()
        b.wait_text("#notify-welcome-since", "On since")
        assert b.find("#notify-smsFrom-error").attr("hidden") is not None
        _fits(b, "the settings at 390 px")
        _shot(b, "001", "settings-welcome-390")
        st, _, ns = api("GET", "/v1/notifySettings", key=key)
        assert ns["welcomeOnAutoRegistration"] and ns["welcomeChannel"] == "EMAIL" and ns["smsFrom"] == "SalonHaugen", ns

        # "Customer registration takes place when your customer makes a booking for the first time."
        booked_email = unique_email("ingrid")
        booked = _booking(key, "Ingrid", stem + "sen", booked_email)
        _open(b, "/customers")
        b.wait_until(lambda: "%ssen, Ingrid" % stem in _names(b), what="the booked customer in the list")
        # "... a password is generated and can be sent to the customer via notification;
        # the user name will be the customer's e-mail": here a welcome with a set-password
        # link, on the card once it went (the reader opens the card again).
        _open(b, "/customers/" + booked)

        _reload_card_until(b, "Ingrid", lambda: b.wait("#messages li") and "Welcome" in b.find("#messages").text,
                           "the welcome on the card")
        b.wait_text("#messages", booked_email)
        assert "Booking" in b.find("#main").text
        _shot(b, "001", "card-booked-390")

        # "Enter customer manually": ADD CUSTOMER, the fields, SAVE.
        _open(b, "/customers")
        b.wait("#add-customer").click()
        b.wait("#f-firstName").send_keys("Ola")
        b.find("#f-lastName").send_keys(stem + "nes")
        manual_email = unique_email("ola")
        b.find("#f-email").send_keys(manual_email)
        b.find("#f-phone").send_keys("+47 412 34 567")
        b.find("#f-gender").select("MALE")
        _set_date(b, "#f-birthDate", "1979-11-02")
        b.find("#save").click()
        b.wait_text("#customer-name", stem + "nes")

        # "Export your customers' data to a CSV file ... opened in Microsoft Excel."
        _width(b, DESKTOP)
        _open(b, "/customers")
        b.wait_until(lambda: len(_names(b)) == 2, what="both customers")
        b.find("#list-export summary").click()
        b.find("#list-export button[data-format=csv]").click()
        name, data = _downloaded(b, dl, ".csv")
        text = data.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        by_email = {r.get("email") or r.get("E-mail") or "": r for r in rows}
        assert set(by_email) == {booked_email, manual_email}, (name, text[:400])
        header = text.splitlines()[0]
        # "It is important that the layout in the file is exactly the same as the
        # file you get when exporting": the exported file, one customer added, imported.
        added_email = unique_email("kari")
        fields = next(csv.reader(io.StringIO(text)))
        row = {f: "" for f in fields}
        for f in fields:
            low = f.lower()
            if low in ("firstname", "first name"):
                row[f] = "Kari"
            elif low in ("lastname", "last name"):
                row[f] = stem + "lie"
            elif low in ("email", "e-mail"):
                row[f] = added_email
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
        w.writeheader()
        for r in rows:
            w.writerow(r)
        w.writerow(row)
        path = os.path.join(dl, "customers-again.csv")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(out.getvalue())
        _open(b, "/exchange")
        b.wait("#import-file", visible=False).send_keys(path)
        b.find("#import-start").click()
        b.wait_text("#import-status", "Import finished", timeout=60)
        counts = b.js("return Object.fromEntries(Array.from(document.querySelectorAll("
                      "'#import-counts dd'), d => [d.dataset.count, d.textContent]));")
        _shot(b, "001", "import-desktop")
        assert counts["Created"] == "1" and counts["Unchanged"] == "2" and counts["Failed"] == "0", counts
        # Every column of the export (headed in the screen's language) was read
        # as the field it holds, each as a different one.
        read_as = b.js("return Array.from(document.querySelectorAll('#import-mapping select'),"
                       " s => [s.dataset.header, s.value]);")
        assert len(read_as) == len(fields) and all(v for _, v in read_as), read_as
        assert len({v for _, v in read_as}) == len(read_as), read_as
        assert ["First name", "firstName"] in read_as and ["E-mail", "email"] in read_as, read_as
        _open(b, "/customers")
        b.wait_until(lambda: len(_names(b)) == 3, what="three customers after the import")

        # "Search by customer name, last name, phone number and e-mail. Sort a list by column."
        box = b.find("#search")
        for q, want in (("Ingrid", "%ssen, Ingrid" % stem), (stem + "nes", "%snes, Ola" % stem),
                        ("412 34 567", "%snes, Ola" % stem), (booked_email, "%ssen, Ingrid" % stem)):
            box.clear()
            box.send_keys(q)
            b.wait_until(lambda: _names(b) == [want], what="%r finds %s" % (q, want))
        box.send_keys(webdriver.ESCAPE)
        b.wait_until(lambda: len(_names(b)) == 3, what="everyone again")
        b.find("button[data-sort=firstName]").click()
        b.wait_until(lambda: [n.split(", ")[1] for n in _names(b)] == ["Ingrid", "Kari", "Ola"], what="by first name")
        b.find("button[data-sort=firstName]").click()
        b.wait_until(lambda: [n.split(", ")[1] for n in _names(b)] == ["Ola", "Kari", "Ingrid"], what="descending")
        _menu_fits(b)
        _shot(b, "001", "list-desktop")

        # "Edit or delete customer": each row's Edit and Delete.
        _width(b, PHONE)
        _open(b, "/customers")
        b.wait_until(lambda: len(_names(b)) == 3, what="three rows")
        _fits(b, "the list at 390 px")
        _shot(b, "001", "list-390")
        _in_row(b, "Ola", "a[href$='/edit']")
        b.wait("#f-phone").fill("+47 412 00 000")
        b.find("#save").click()
        b.wait_text(".card-head", "+4741200000")
        # "Delete customers in bulk by selecting them with the checkbox ... and clicking Delete."
        _open(b, "/customers")
        b.wait_until(lambda: len(_names(b)) == 3, what="three rows")
        for first in ("Ingrid", "Kari"):
            _in_row(b, first, "input.row-select")
        b.wait_text("#bulk-delete", "Delete 2 selected").click()
        b.wait("dialog[open] .confirm-yes").click()
        b.wait_until(lambda: _names(b) == ["%snes, Ola" % stem], what="only Ola left")
        _in_row(b, "Ola", ".row-delete")
        b.wait("dialog[open] .confirm-yes").click()
        b.wait_text("#total", "0 customers")
        _no_js_errors(b)


# ------------------------------------------------------------------ 002: Shore, "Kunden" (de)


def _xlsx_strings(data):
    """The text of an Excel workbook's cells (its shared strings and inline strings)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist()
                      if n == "xl/sharedStrings.xml" or n.startswith("xl/worksheets/"))
    return re.findall(r"<t(?: [^>]*)?>([^<]*)</t>", xml)


def test_seed_002_kunden_anlegen_suchen_exportieren_kartei_nachricht_in_german():
    from test_replies import _answer, _post_mail
    from test_notify import _parse, _received

    tenant, key = _tenant("DE")
    with _browser("seeds-002") as b:
        _width(b, PHONE)
        _sign_in(b, "de", key)
        dl = _downloads(b)
        # Tipp: Kunden in Gruppen einteilen (Stammkunden, Neukunden, VIP).
        b.find("#nav a[data-nav=groups]").click()
        for g in ("Stammkunden", "Neukunden", "VIP"):
            b.wait("#new-group-name").send_keys(g)
            b.find("#create-group").click()
            b.wait_until(lambda: [r for r in b.find_all("#group-table tbody tr") if g in r.text], what="Gruppe " + g)
        _fits(b, "Gruppen bei 390 px")
        _shot(b, "002", "gruppen-390")

        # Online-Buchung: das System legt die Kartei mit den eingegebenen Daten an.
        berta_email = unique_email("berta")
        berta = _booking(key, "Berta", "Brandt", berta_email, service="Schnitt", days=3)
        assert _booking(key, "Berta", "Brandt", berta_email, service="Schnitt", days=10) == berta
        assert _booking(key, "Berta", "Brandt", berta_email, service="Farbe", days=17) == berta
        st, _, c = api("POST", "/v1/customers", {"firstName": "Anna", "lastName": "Albers"}, key=key)
        assert st == 201, c

        # Kunden erstellen: "+ Neuer Kunde" -> ausfüllen und speichern.
        _open(b, "/customers")
        b.wait("#add-customer").click()
        b.wait("#f-firstName").send_keys("Bernd")
        b.find("#f-lastName").send_keys("Bauer")
        bernd_email = unique_email("bernd")
        b.find("#f-email").send_keys(bernd_email)
        b.find("input[name=groups][value='Stammkunden']").click()
        b.find("#save").click()
        b.wait_text("#customer-name", "Bernd Bauer")

        # Kundenliste: alle vom System und von Ihnen angelegten Kunden.
        _open(b, "/customers")
        b.wait_until(lambda: sorted(_names(b)) == ["Albers, Anna", "Bauer, Bernd", "Brandt, Berta"],
                     what="alle drei in der Liste")
        # Suche: schon ein "B" schlägt alle vor, deren Vor- oder Nachname mit B beginnt.
        box = b.find("#search")
        box.send_keys("B")
        b.wait_until(lambda: sorted(_names(b)) == ["Bauer, Bernd", "Brandt, Berta"], what="die zwei mit B")
        _fits(b, "Suche nach B bei 390 px")
        _list_words_fit(b)
        _shot(b, "002", "suche-b-390")
        # Auch nach Stammdaten wie der E-Mail-Adresse.
        box.clear()
        box.send_keys(bernd_email)
        b.wait_until(lambda: _names(b) == ["Bauer, Bernd"], what="Bernd über seine E-Mail")
        box.send_keys(webdriver.ESCAPE)
        b.wait_until(lambda: len(_names(b)) == 3, what="wieder alle")

        # Alle Kunden exportieren: eine Excel-Datei mit allen Kundeninformationen.
        b.find("#list-export summary").click()
        b.find("#list-export button[data-format=xlsx]").click()
        b.wait_text(".list-message", "xlsx")
        name, data = _downloaded(b, dl, ".xlsx")
        cells = _xlsx_strings(data)
        # Headed in the screen's language.
        for col in ("Vorname", "Nachname", "E-Mail", "Telefon", "Geschlecht", "Geburtsdatum", "Gruppen",
                    "Schlagwörter", "Firmenname", "Rechnungsadresse Ort", "Interne Beschreibung",
                    "Herkunft", "Angelegt am"):
            assert col in cells, (col, cells[:60])
        for want in ("Berta", "Brandt", berta_email, "Bernd", "Bauer", bernd_email, "Stammkunden", "Anna"):
            assert want in cells, (want, cells)

        # Kundenkartei: Stammdaten, Notizen (für den Kunden nicht sichtbar), Termine,
        # Beliebteste Leistungen, Buchungs- und Kommunikationsverlauf.
        _in_row(b, "Berta", ".customer-link")
        b.wait_text("#customer-name", "Berta Brandt")
        assert berta_email in b.find(".card-head").text
        b.wait_until(lambda: b.find("#summary-strip [data-stat=bookings] .stat-value").text == "3",
                     timeout=30, what="drei Buchungen in der Übersicht")
        b.wait_text("#summary-top", "Schnitt")
        assert "× 2" in b.find("#summary-top").text, b.find("#summary-top").text
        assert "Schnitt" in b.find("#summary-upcoming").text
        assert "wird dem Kunden nie gezeigt" in b.find("#notes-section").text, b.find("#notes-section").text
        b.find("#note-form textarea").send_keys("Mag keinen Kaffee, lieber Tee.")
        b.find("#note-add").click()
        b.wait_text("#notes", "Mag keinen Kaffee, lieber Tee.")
        b.wait("#timeline .tl-entry[data-kind=BOOKING]", timeout=30)
        # Eine Nachricht direkt an den Kunden, auf die er direkt antworten kann.
        b.find("#conv-new summary").click()
        b.find("#conv-new .conv-subject").send_keys("Ihr Termin am Dienstag")
        b.find("#conv-new .conv-text").send_keys("Passt Ihnen 10 Uhr?")
        b.find("#conv-new .conv-send").click()
        b.wait("#conversations li.conversation")
        orig = _parse(crm.wait_until(lambda: _received(berta_email), timeout=30, what="die E-Mail")[-1]["data"])
        st, _, got = _post_mail(_answer(orig, "Ja, 10 Uhr passt."), key=key)
        assert st == 200 and got["reply"]["customerId"] == berta, got

        _reload_card_until(b, "Berta Brandt", lambda: b.wait("#conversations li")
                           and "Ja, 10 Uhr passt." in b.find("#conversations").text, "die Antwort in der Kartei")
        assert "Antwort des Kunden" in b.find("#conversations").text
        _fits(b, "die Kartei bei 390 px")
        _shot(b, "002", "kartei-390")
        msg = b.wait_until(lambda: b.find_all("#timeline .tl-entry[data-kind=MESSAGE]"), timeout=30,
                           what="die Nachricht in der Zeitleiste")[0]
        # No service's name ("notify") among what a member of staff reads.
        assert "notify" not in msg.find(".tl-meta").text, msg.text

        # "+ Neuer Kunde" auf jeder Seite (rechts oben): öffnet eine neue, leere Kartei.
        top = b.find("#top-add")
        assert top.displayed() and top.attr("aria-label") == "Kunden anlegen", top.attr("aria-label")
        top.click()
        b.wait_text("#form-title", "Kunden anlegen")
        assert b.find("#f-firstName").prop("value") == "" and b.find("#f-email").prop("value") == ""
        assert not b.find("#top-add").displayed()  # not on the form itself
        _open(b, "/customers")
        b.wait("#add-customer")
        assert not b.find("#top-add").displayed()  # the list has its own, beside the search

        # Newsletter gezielt an eine Gruppe.
        _width(b, DESKTOP)
        _open(b, "/campaigns")
        b.wait("#camp-kind").select("group")
        assert b.find("#top-add").text.endswith("Kunden anlegen"), b.find("#top-add").text
        b.wait_until(lambda: b.find("#camp-group option[value='Stammkunden']"), what="die Gruppe zur Auswahl")
        _menu_fits(b)
        _shot(b, "002", "newsletter-desktop")
        _no_js_errors(b)


# ------------------------------------------------------------------ 003: a store's "Customers" (en)


def _order(key, person, total_minor, at, items=()):
    """An order.placed event as the store sends it; answers the customer's id."""
    st, _, js = api("POST", "/v1/events", {
        "source": "store", "eventId": unique("or"), "type": "order.placed", "occurredAt": at, "customer": person,
        "order": {"id": unique("o"), "total": {"amountMinor": total_minor, "currency": "EUR"},
                  "items": [{"name": n, "quantity": 1, "amountMinor": total_minor} for n in items]}},
        key=key)
    assert st == 202 and js["customerId"], (st, js)
    return js["customerId"]


def _rows(b):
    """The list's rows as the reader sees them: {name: row text}."""
    return {r.find(".customer-link").text: r.text for r in b.find_all("#customer-table tbody tr[data-id]")}


def test_seed_003_store_customers_add_edit_history_tags_addresses_tasks_list_and_filters():
    tenant, key = _tenant("RO")
    buyer = {"externalId": unique("shop"), "firstName": "Radu", "lastName": "Popescu",
             "email": unique_email("radu")}
    radu = _order(key, buyer, 15900, "2026-11-02T10:00:00Z", ["Hair dryer"])
    assert _order(key, buyer, 2500, "2026-11-20T10:00:00Z", ["Shampoo"]) == radu
    st, _, g = api("POST", "/v1/groups", {"name": "Wholesale", "color": "#8e24aa"}, key=key)
    assert st in (200, 201), g
    # A walk-in customer without an account in the store.
    st, _, dan = api("POST", "/v1/customers", {"firstName": "Dan", "lastName": "Vasile"}, key=key)
    assert st == 201, dan
    with _browser("seeds-003") as b:
        _width(b, DESKTOP)
        _sign_in(b, "en", key)
        # "A list with all customers that have purchased from your store."
        b.wait_until(lambda: "Popescu, Radu" in _names(b), what="the store's buyer in the list")

        # "Add Customer, top-right": e-mail, (password: an invitation to set one), note,
        # group, sales agent, last name, first name, company, phone.
        b.find("#add-customer").click()
        email = unique_email("elena")
        b.wait("#f-email").send_keys(email)
        b.find("#f-account-status").select("INVITED")
        b.find("#f-description").send_keys("Orders for her salon every month.")
        b.find("input[name=groups][value='Business']").click()
        b.find("#f-salesAgent").send_keys("Mihai")
        b.find("#f-lastName").send_keys("Ionescu")
        b.find("#f-firstName").send_keys("Elena")
        # The company she works for: a person's, no company checkbox needed.
        assert not b.find("#f-isCompany").prop("checked")
        b.find("#f-company-name").send_keys("Salon Bella SRL")
        b.find("#f-phone").send_keys("+40 721 234 567")
        _shot(b, "003", "add-desktop")
        b.find("#save").click()
        b.wait_text("#customer-name", "Elena Ionescu")
        elena = _customer_id(b)
        st, _, c = api("GET", "/v1/customers/" + elena, key=key)
        assert c["company"]["name"] == "Salon Bella SRL" and not c["isCompany"], c
        assert c["account"]["status"] == "INVITED" and c["salesAgent"] == "Mihai" and c["groups"] == ["Business"], c
        assert "Salon Bella SRL" in b.find(".card-head").text
        # The password: the customer sets it through the link (staff never know it).
        b.find("#send-password-link").click()
        b.wait_text("#messages", email)

        # "Edit a customer": History (registered, first order, how many orders, notes, add one).
        _width(b, PHONE)
        _open(b, "/customers/" + radu)
        b.wait_text("#customer-name", "Radu Popescu")
        b.wait_until(lambda: b.find("#summary-strip [data-stat=orders] .stat-value").text == "2",
                     timeout=30, what="two orders in the summary")
        strip = b.find("#summary-strip").text
        assert "REGISTERED" in strip.upper() and "FIRST ORDER" in strip.upper() and "Nov 2, 2026" in strip, strip
        b.find("#note-form textarea").send_keys("Asked about a discount for the next order.")
        b.find("#note-add").click()
        b.wait_text("#notes", "Asked about a discount")
        # Details: tags ("RECURRENT", "PROBLEM") to segment customers; group; agent; names; company; phone.
        b.find("#edit-customer").click()
        b.wait("#f-tags").send_keys("RECURRENT" + webdriver.ENTER)
        b.find("#f-tags").send_keys("PROBLEM" + webdriver.ENTER)
        b.find("input[name=groups][value='Wholesale']").click()
        b.find("#f-salesAgent").send_keys("Mihai")
        b.find("#f-phone").send_keys("+40 722 000 111")
        # Addresses: a new shipping and a new billing address.
        for i, (kind, line) in enumerate((("SHIPPING", "Strada Lipscani 5"), ("BILLING", "Bulevardul Unirii 10"))):
            b.find("#add-address").click()
            b.wait("#f-addresses-%d-line1" % i).send_keys(line)
            b.find("#f-addresses-%d-postalCode" % i).send_keys("030167")
            b.find("#f-addresses-%d-city" % i).send_keys("București")
            b.find("#f-addresses-%d-kind" % i).select(kind)
        _fits(b, "the edit form at 390 px")
        b.find("#save").click()
        b.wait_text("#customer-name", "Radu Popescu")
        page = b.find("#main").text
        for want in ("recurrent", "problem", "Wholesale", "Mihai", "+40722000111", "Strada Lipscani 5",
                     "Bulevardul Unirii 10", "Shipping", "Billing"):
            assert want.lower() in page.lower(), (want, page)
        # Account: its status and the e-mail it was made with.
        assert buyer["email"] in page
        # Tasks: add one, with its time (and so in the calendar feed).
        b.find("#task-add").click()
        b.wait("#tasks-section .task-title-input").send_keys("Send the invoice copy")
        b.js("document.querySelector('#tasks-section .task-due-input').value = '2030-01-15T09:30';")
        b.find("#tasks-section .task-save").click()
        b.wait_text("#customer-tasks .task", "Send the invoice copy")
        _fits(b, "the card at 390 px")
        _shot(b, "003", "card-390")
        st, _, feed = api("GET", "/v1/tasks.ics", key=key)
        assert st == 200 and b"Send the invoice copy" in feed, feed[:300]

        # The full list: Customer (last, first, group, e-mail), Company, Tags, modify and delete;
        # sorted by name A to Z or back.
        everyone = ["Ionescu, Elena", "Popescu, Radu", "Vasile, Dan"]
        _width(b, DESKTOP)
        _open(b, "/customers")
        b.wait_until(lambda: _names(b) == everyone, what="all three, A to Z")
        heads = b.js("return Array.from(document.querySelectorAll('#customer-table thead th'), th => th.textContent);")
        assert any(h.startswith("Customer") for h in heads) and "Company" in heads and "Tags" in heads, heads
        rows = _rows(b)
        assert "Wholesale" in rows["Popescu, Radu"] and buyer["email"] in rows["Popescu, Radu"], rows
        assert "RECURRENT" in rows["Popescu, Radu"] and "Salon Bella SRL" in rows["Ionescu, Elena"], rows
        assert "Edit" in rows["Popescu, Radu"] and "Delete" in rows["Popescu, Radu"], rows
        b.find("button[data-sort=lastName]").click()
        b.wait_until(lambda: _names(b) == everyone[::-1], what="Z to A")
        _menu_fits(b)
        # The confirmations of quick work do not pile up over the rows.
        assert len(b.find_all("#toasts .toast")) <= 3, b.find("#toasts").text
        _shot(b, "003", "list-desktop")
        b.find("button[data-sort=lastName]").click()
        b.wait_until(lambda: _names(b) == everyone, what="A to Z again")

        # Customer search: by name or e-mail; with or without an account; by group; by tag;
        # "Delete filters" brings everyone back.
        box = b.find("#search")
        box.send_keys(email)
        b.wait_until(lambda: _names(b) == ["Ionescu, Elena"], what="Elena by her e-mail")
        box.send_keys(webdriver.ESCAPE)
        b.wait_until(lambda: _names(b) == everyone, what="all again")
        b.find("#filter-account").select("true")
        b.wait_until(lambda: _names(b) == everyone[:2], what="those with an account")
        b.find("#filter-account").select("false")
        b.wait_until(lambda: _names(b) == ["Vasile, Dan"], what="those without")
        b.find("#filter-account").select("")
        b.find("#filter-group").select("Business")
        b.wait_until(lambda: _names(b) == ["Ionescu, Elena"], what="the Business group")
        b.find("#filter-group").select("")
        b.wait_until(lambda: b.find("#filter-tag option[value='PROBLEM']"), what="the tag in the filter")
        b.find("#filter-tag").select("PROBLEM")
        b.wait_until(lambda: _names(b) == ["Popescu, Radu"], what="the PROBLEM tag")
        b.find("#filter-account").select("true")
        b.wait_until(lambda: "accountStatus" in b.url or "hasAccount=true" in b.url, what="two filters at once")
        b.wait_until(lambda: _names(b) == ["Popescu, Radu"], what="tag and account together")
        b.find("#clear-filters").click()
        b.wait_until(lambda: _names(b) == everyone, what="the complete list")
        assert b.find("#filter-tag").prop("value") == "" and b.find("#filter-account").prop("value") == ""
        _no_js_errors(b)


# ------------------------------------------------------------------ 004: a salon system's customer profile (bg)


def test_seed_004_profil_na_klient_ot_tarseneto_zadalzhitelen_pol_redakciya_i_komunikaciya_in_bulgarian():
    tenant, key = _tenant("BG")
    last = "Георгиева"
    with _browser("seeds-004") as b:
        _width(b, PHONE)
        _sign_in(b, "bg", key)
        # "Задължителните полета са имена и пол": пол е задължителен (настройки).
        _open(b, "/settings")
        b.wait("#req-gender").click()
        b.find("#save-settings").click()
        b.wait("#main .banner-ok")
        assert "gender" in api("GET", "/v1/settings", key=key)[2]["requiredFields"]
        # Търсене на клиент, който не съществува: системата предлага да го добавим,
        # с попълнени първо име и фамилия.
        _open(b, "/customers")
        b.wait("#search").send_keys("мария " + last.lower())
        offer = b.wait("#add-suggested")
        assert "Мария Георгиева" in offer.text, offer.text
        _fits(b, "предложението за нов клиент при 390 px")
        _list_words_fit(b)
        _shot(b, "004", "tarsene-390")
        offer.click()
        b.wait_until(lambda: b.find("#f-firstName").prop("value") == "Мария", what="първото име попълнено")
        assert b.find("#f-lastName").prop("value") == last
        assert b.find("#f-gender").attr("aria-required") == "true"
        # Без пол: не се запазва, грешката е до полето.
        b.find("#save").click()
        err = b.wait_text("#f-gender-error", "Задължително поле за тази фирма")
        assert b.find("#f-gender").attr("aria-invalid") == "true", err.text
        assert "Пол: Задължително поле" in b.find(".form-summary").text, b.find(".form-summary").text
        assert "/customers/new" in b.url
        _shot(b, "004", "zadalzhitelen-pol-390")
        b.find("#f-gender").select("FEMALE")
        email = unique_email("maria")
        b.find("#f-email").send_keys(email)
        b.find("#f-phone").send_keys("+359 888 123 456")
        b.find("#save").click()
        b.wait_text("#customer-name", "Мария Георгиева")
        cid = _customer_id(b)

        # Редакция: клиенти -> намираме клиента -> кликаме на него -> бутон за редакция.
        _open(b, "/customers")
        box = b.wait("#search")
        box.send_keys("георг")
        b.wait_until(lambda: _names(b) == ["Георгиева, Мария"], what="намерена")
        _in_row(b, "Мария", ".customer-link")
        b.wait_text("#customer-name", "Мария Георгиева")
        # Активиращ имейл или SMS.
        b.find("#send-activation").click()
        b.wait_text("#messages", email)
        b.find("#send-activation-sms").click()
        b.wait_until(lambda: len(b.find_all("#messages li.message")) == 2, what="имейл и SMS")
        # Тя още няма избран език: пише ѝ се на езика на фирмата (България), не на английски.
        sent = b.find("#messages").text
        assert "Активирайте профила си" in sent and "Здравейте, Мария" in sent, sent
        assert "Activate" not in sent and "Hello" not in sent, sent
        # The link in the SMS is hers alone: named, not shown as a template's "{{link}}".
        assert "[личната връзка на клиента]" in sent and "{{link}}" not in sent, sent
        # Статусът на онлайн профила (още няма: ще има, щом тя си зададе парола от връзката).
        account = b.find("#main").text
        assert "Профил\nБез профил" in account, account
        # "От иконката за чат може да напишем коментар на клиента": бележка.
        b.find("#note-form textarea").send_keys("Предпочита следобедни часове.")
        b.find("#note-add").click()
        b.wait_text("#notes", "Предпочита следобедни часове.")
        # Съобщение до клиента (комуникация).
        b.find("#conv-new summary").click()
        b.find("#conv-new .conv-subject").send_keys("Вашият час")
        b.find("#conv-new .conv-text").send_keys("Очакваме ви в петък в 15:00.")
        b.find("#conv-new .conv-send").click()
        b.wait_text("#conversations", "Очакваме ви в петък")
        _fits(b, "профилът при 390 px")
        _shot(b, "004", "profil-390")

        # Посещения и покупки: от резервациите и магазина, в хронологията и обобщението.
        person = {"externalId": unique("x"), "firstName": "Мария", "lastName": last, "email": email}
        st, _, js = api("POST", "/v1/events", {
            "source": "booking", "eventId": unique("bk"), "type": "booking.attended",
            "occurredAt": "2026-11-20T15:00:00Z", "customer": person,
            "booking": {"id": unique("b"), "service": "Маникюр", "staff": "Ива",
                        "startsAt": "2026-11-20T15:00:00Z", "endsAt": "2026-11-20T16:00:00Z"}}, key=key)
        assert st == 202 and js["customerId"] == cid, js
        assert _order(key, person, 4500, "2026-11-21T10:00:00Z", ["Крем за ръце"]) == cid

        # Настройки на клиента: език по подразбиране, известия по имейл, SMS и push, маркетинг.
        b.find("#edit-customer").click()
        b.wait("#f-preferences-language").send_keys("bg")
        for ch in ("email", "sms", "push"):
            b.find("#f-consent-%s" % ch).click()
            b.find("#f-consent-%s-source" % ch).send_keys("на място")
        _fits(b, "формата при 390 px")
        _shot(b, "004", "nastroiki-390")
        b.find("#save").click()
        b.wait_text("#customer-name", "Мария Георгиева")

        _reload_card_until(b, "Мария Георгиева", lambda: b.find("#summary-strip [data-stat=orders] .stat-value").text
                           == "1" and "Маникюр" in b.find("#summary-top").text, "посещението и покупката в профила")
        b.wait("#timeline .tl-entry[data-kind=ORDER]", timeout=30)
        st, _, c = api("GET", "/v1/customers/" + cid, key=key)
        p = c["preferences"]
        assert p["language"] == "bg" and p["email"]["granted"] and p["sms"]["granted"] and p["push"]["granted"], p
        assert not (p.get("marketing") or {}).get("granted"), p

        _width(b, DESKTOP)
        _open(b, "/customers/" + cid)
        b.wait_text("#customer-name", "Мария Георгиева")
        _menu_fits(b)
        assert b.find("#top-add").displayed()
        _shot(b, "004", "profil-desktop")

        # Ключ само за четене: настройките за съобщения не се променят, и това се казва.
        readonly = crm.crmctl(["key", "create", "--tenant", tenant, "--role", "readonly",
                               "--name", "Четене " + unique("r")]).strip()
        b.find("#sign-out").click()
        b.wait("input[name=apiKey]").send_keys(readonly)
        b.find(".signin-card button[type=submit]").click()
        b.wait("#customer-table")
        _open(b, "/settings")
        b.wait("#notify-welcome").click()
        b.find("#save-notify").click()
        b.wait_text("#notify-settings .banner-error", "Само администратор")
        assert not api("GET", "/v1/notifySettings", key=key)[2]["welcomeOnAutoRegistration"]
        _no_js_errors(b)
