"""The export's header row in a language people read (docs/exchange.md,
"Header row"): headers=api (the default) or en/de/pl/nb/bg, from one table
in exchange that the UI's message catalogue agrees with; the import reads
every language's headers back, and other tools' usual names; workbook cells
typed as a spreadsheet user wants them (numbers, dates, text for phones,
VAT numbers, postcodes and ids); formulas never run."""
import csv
import io
import json
import os
import re

import crm
from crm import api, q, unique
from test_exchange import (COLUMNS, NS, XLSX, _col, _counts, _create, _export, _full, _import,
                           _capture_exports, _rows, _sheet, _tenant)

# A few columns' headers, as docs/exchange.md lists them.
GERMAN = {"id": "Kunden-ID", "firstName": "Vorname", "lastName": "Nachname", "email": "E-Mail",
          "phone": "Telefon", "birthDate": "Geburtsdatum", "companyVatNumber": "USt-IdNr.",
          "billingPostalCode": "Rechnungsadresse PLZ", "balance": "Guthaben", "points": "Punkte"}
BULGARIAN = {"firstName": "Име", "lastName": "Фамилия", "email": "Имейл", "phone": "Телефон",
             "shippingCity": "Адрес за доставка (населено място)", "points": "Точки"}
# The columns kept by the service, which differ between two tenants' books.
OWN = {"id", "source", "createdAt", "updatedAt", "hasPhoto", "accountStatus"}
# Columns named like a field of the UI (i18n.js key) carry the UI's word for it.
I18N_KEYS = {
    "firstName": "enum.field.firstName", "lastName": "enum.field.lastName",
    "email": "enum.field.email", "phone": "enum.field.phone", "gender": "enum.field.gender",
    "birthDate": "enum.field.birthDate", "language": "enum.field.language",
    "companyName": "enum.field.company.name", "companyVatNumber": "enum.field.company.vatNumber",
    "companyAddress": "enum.field.company.address", "groups": "enum.field.groups",
    "tags": "enum.field.tags", "externalIds": "enum.field.externalIds",
    "emailConsent": "enum.field.consent.email", "smsConsent": "enum.field.consent.sms",
    "pushConsent": "enum.field.consent.push", "marketingConsent": "enum.field.consent.marketing",
    "salesAgent": "enum.field.salesAgent", "accountStatus": "enum.field.account.status",
    "source": "enum.field.source", "description": "enum.field.description",
    "points": "wallet.pointsAmount", "balance": "wallet.title",
}
LANGS = ["en", "de", "pl", "nb", "bg"]


def _book(key):
    """A customer with every kind of cell, and one whose text looks like formulas."""
    full = _create(key, _full(unique("hd") + "@example.com"))
    odd = _create(key, {"firstName": "=HYPERLINK(\"http://x\")", "lastName": "@Ödegård",
                        "phone": "+4791234567", "birthDate": "1970-01-01", "tags": ["-minus"],
                        "addresses": [{"kind": "BILLING", "line1": "Storgata 2",
                                       "postalCode": "0155", "city": "Oslo", "country": "NO"}]})
    st, _, js = api("POST", "/v1/customers/%s/wallet:adjust" % full["id"],
                    {"kind": "MONEY", "amount": "1050", "reason": "Paid in advance"}, key=key)
    assert st == 200, js
    return full, odd


def _norm(key):
    """The book as API-named CSV rows, but what the service keeps itself."""
    st, _, body = _export(key)
    assert st == 200, body
    header, rows = _rows(body)
    return sorted(tuple((c, r[c]) for c in header if c not in OWN | {"balance"}) for r in rows)


def _cells(body):
    """The first sheet (test_exchange._sheet) by row number; no formula anywhere."""
    root, rows = _sheet(body)
    assert not root.findall(".//m:f", NS), "no formulas anywhere"
    return dict(enumerate(rows, start=1))


def test_export_headers_default_api_german_csv_bulgarian_xlsx_and_a_bad_value():
    key = _tenant()
    _book(key)
    st, _, body = _export(key)
    assert st == 200 and _rows(body)[0] == COLUMNS  # scripts keep the names they know
    st, _, body = _export(key, headers="api", delimiter=";")
    assert st == 200 and _rows(body, ";")[0] == COLUMNS
    st, _, body = _export(key, headers="de", delimiter=";")
    assert st == 200, body
    header, rows = _rows(body, ";")
    assert len(header) == len(COLUMNS) and len(set(header)) == len(COLUMNS), header
    for name, label in GERMAN.items():
        assert header[COLUMNS.index(name)] == label, (name, header)
    assert len(rows) == 2
    st, _, book = _export(key, format="xlsx", headers="bg")
    assert st == 200 and book[:2] == b"PK"
    top = _cells(book)[1]
    for name, label in BULGARIAN.items():
        assert top[_col(COLUMNS.index(name))][2] == label, (name, top)
    for bad in ("DE", "fr", "german", "de,bg"):
        st, _, js = _export(key, headers=bad)
        assert st == 400, (bad, st, js)
        assert js["error"]["details"][0]["field"] == "headers", js
        assert "api, en, de, pl, nb or bg" in js["error"]["details"][0]["description"], js


def test_export_job_takes_the_header_language():
    key = _tenant()
    _book(key)
    st, _, job = api("POST", "/v1/exports", {"format": "csv", "headers": "pl"}, key=key)
    assert st == 201, job
    crm.wait_until(lambda: api("GET", "/v1/exports/" + job["id"], key=key)[2]["state"]
                   in ("DONE", "FAILED"), timeout=60, what="the export job")
    st, _, shown = api("GET", "/v1/exports/" + job["id"], key=key)
    assert shown["headers"] == "pl" and shown["state"] == "DONE", shown
    st, _, got = api("GET", "/v1/exports/%s/file" % job["id"], key=key)
    assert st == 200, got
    header = _rows(got)[0]
    assert header[1:4] == ["Imię", "Nazwisko", "E-mail"], header
    st, _, plain = api("POST", "/v1/exports", {}, key=key)
    assert st == 201 and plain["headers"] == "api", plain
    st, _, js = api("POST", "/v1/exports", {"headers": "xx"}, key=key)
    assert st == 400 and js["error"]["details"][0]["field"] == "headers", js


def test_round_trip_in_german_and_bulgarian_csv_and_xlsx():
    """A file exported with German or Bulgarian headers, CSV or workbook,
    imports into an empty tenant as the same book; every header known."""
    key = _tenant()
    _book(key)
    want = _norm(key)
    for lang in ("de", "bg"):
        for fmt, ctype in (("csv", "text/csv"), ("xlsx", XLSX)):
            st, _, body = _export(key, format=fmt, headers=lang)
            assert st == 200, (lang, fmt, body)
            other = _tenant()
            job = _import(other, body, content_type=ctype)
            assert job["state"] == "DONE" and _counts(job) == (2, 0, 0, 0), (lang, fmt, job)
            assert not job.get("unknownColumns"), (lang, fmt, job)
            assert job["columns"] == COLUMNS, (lang, fmt, job["columns"])
            assert _norm(other) == want, (lang, fmt)
            # The same file again: every row found and unchanged.
            again = _import(other, body, content_type=ctype)
            assert _counts(again) == (0, 0, 2, 0), (lang, fmt, again)


def test_import_reads_other_tools_headers_in_any_case_and_names_an_unknown_one():
    key = _tenant()
    mail = unique("vn") + "@example.com"
    text = ("Vorname;NACHNAME;e-mail; Telefon ;Geburtsdatum;Schuhgröße\r\n"
            "Grete;Ölmann;%s;+49 30 1234567;1990-05-17;38\r\n" % mail)
    job = _import(key, text.encode("utf-8"))
    assert job["state"] == "DONE" and _counts(job) == (1, 0, 0, 0), job
    assert job["columns"] == ["firstName", "lastName", "email", "phone", "birthDate", ""], job
    assert job["unknownColumns"] == ["Schuhgröße"], job
    text = ("Име,Фамилия,Имейл,Телефон,Email,Phone\r\n")
    job = _import(key, (text + "Иван,Петров,%s,,,\r\n" % unique("bg")).encode("utf-8"),
                  dryRun="true")
    # Two columns for one field: the later wins (as before), none unknown.
    assert job["columns"] == ["firstName", "lastName", "email", "phone", "email", "phone"], job
    assert not job.get("unknownColumns"), job


def test_columns_route_labels_agree_with_the_ui_catalogue():
    """GET /v1/imports:columns?headers=<lang> gives each column's header in
    that language; the UI's words for the same fields (i18n.js) are the same."""
    path = os.path.join(crm.ROOT, "services", "gateway", "ui", "js", "i18n.js")
    with open(path, encoding="utf-8") as f:
        source = f.read()
    st, _, api_cols = api("GET", "/v1/imports:columns")
    assert st == 200 and api_cols["labels"] == api_cols["columns"] == COLUMNS, api_cols
    for lang in LANGS:
        st, _, js = api("GET", q("/v1/imports:columns", headers=lang))
        assert st == 200, js
        assert js["columns"] == COLUMNS and len(js["labels"]) == len(COLUMNS), js
        assert len(set(js["labels"])) == len(COLUMNS), (lang, js["labels"])
        labels = dict(zip(js["columns"], js["labels"]))
        # Each key is in the catalogue once per language, in the order en, de, pl, nb, bg.
        for column, i18n_key in I18N_KEYS.items():
            found = re.findall(r'"%s": ("(?:[^"\\]|\\.)*")' % re.escape(i18n_key), source)
            assert len(found) == len(LANGS), (i18n_key, found)
            word = json.loads(found[LANGS.index(lang)])
            assert labels[column] == word, (lang, column, labels[column], word)
    st, _, js = api("GET", q("/v1/imports:columns", headers="fr"))
    assert st == 400 and js["error"]["details"][0]["field"] == "headers", js


def test_xlsx_cells_numbers_dates_text_and_no_formula():
    """Balance and points are numbers, dates are dates; phone, VAT number,
    postcodes and ids stay text with their "+" and leading zeros; text that
    looks like a formula is text. The workbook imports back to the same."""
    key = _tenant()
    full, odd = _book(key)
    st, _, book = _export(key, format="xlsx", headers="de")
    assert st == 200
    sheet = _cells(book)
    rows = {r[_col(0)][2]: r for n, r in sheet.items() if n > 1}
    at = {name: rows[full["id"]].get(_col(i)) for i, name in enumerate(COLUMNS)}
    t, fmt, v = at["balance"]
    # "#,##0.00" is also Excel's built-in format 4, "#,##0" its 3.
    assert t == "n" and fmt in ("#,##0.00", "4") and float(v) == 10.5, at["balance"]
    t, fmt, v = at["points"]
    assert t == "n" and fmt in ("#,##0", "3") and v == "0", at["points"]
    t, fmt, v = at["birthDate"]
    assert t == "n" and fmt == "yyyy-mm-dd" and float(v) == 31106.0, at["birthDate"]
    t, fmt, v = at["createdAt"]
    assert t == "n" and fmt == "yyyy-mm-dd hh:mm:ss", at["createdAt"]
    text = ("inlineStr", "s", "str")
    for name, value in (("phone", "+48601234567"), ("companyVatNumber", "PL5260250274"),
                        ("billingPostalCode", "00-001"), ("id", full["id"])):
        assert at[name][0] in text and at[name][2] == value, (name, at[name])
    assert at["balanceCurrency"][0] in text and at["balanceCurrency"][2] == "PLN"
    o = {name: rows[odd["id"]].get(_col(i)) for i, name in enumerate(COLUMNS)}
    assert o["billingPostalCode"][0] in text and o["billingPostalCode"][2] == "0155", o
    assert o["phone"][0] in text and o["phone"][2] == "+4791234567", o
    assert o["firstName"][0] in text and o["firstName"][2].startswith("=HYPERLINK"), o
    assert o["balance"][0] == "n" and float(o["balance"][2]) == 0, o["balance"]
    other = _tenant()
    job = _import(other, book, content_type=XLSX)
    assert _counts(job) == (2, 0, 0, 0), job
    got = {r["firstName"]: r for r in _rows(_export(other)[2])[1]}
    assert got[full["firstName"]]["birthDate"] == "1985-02-28"
    back = got["'" + odd["firstName"]]  # the CSV's formula guard
    assert back["billingPostalCode"] == "0155" and back["birthDate"] == "1970-01-01", back
    assert back["phone"] == "'+4791234567", back


def test_csv_formula_guard_keeps_phone_numbers_whole():
    """OWASP's CSV injection advice: a cell starting = + - @ tab or CR gets a
    leading ' inside its quotes; the import takes it off, so a phone number
    +47... comes back as it was, and a formula stays text."""
    key = _tenant()
    _, odd = _book(key)
    st, _, body = _export(key, headers="en")
    assert st == 200
    header, rows = _rows(body)
    row = next(r for r in rows if r["Customer ID"] == odd["id"])
    assert row["Phone"] == "'+4791234567", row
    assert row["First name"] == "'=HYPERLINK(\"http://x\")", row
    assert row["Last name"] == "'@Ödegård" and row["Tags"] == "'-minus", row
    assert row["Billing postcode"] == "0155", row  # a leading zero is no formula
    other = _tenant()
    job = _import(other, body)
    assert _counts(job) == (2, 0, 0, 0), job
    back = next(r for r in _rows(_export(other)[2])[1] if r["lastName"] == "'@Ödegård")
    st, _, c = api("GET", "/v1/customers/" + back["id"], key=other)
    assert c["phone"] == "+4791234567" and c["firstName"] == "=HYPERLINK(\"http://x\")", c
    assert c["lastName"] == "@Ödegård" and c["tags"] == ["-minus"], c


def test_ui_export_headers_in_german_and_bulgarian_at_390_px():
    """The Import & export screen at phone width: the export's column headings
    default to the screen's language (German, then Bulgarian), and "API field
    names" gives the names scripts use; the column mapping shows the labels."""
    from test_ui import SHOTS, _browser, _no_js_errors, _open, _sign_in

    _create(crm.API_KEY, {"firstName": "Hilde", "lastName": unique("Kopf"),
                          "email": unique("uih") + "@example.com"})
    cases = (("de", "Import und Export", "Spaltenüberschriften", ["Kunden-ID", "Vorname"]),
             ("bg", None, "Заглавия на колоните", ["ID на клиента", "Име"]))
    with _browser("export-headers") as b:
        _sign_in(b)
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        for lang, title, label, first in cases:
            b.js("localStorage.setItem('crm.lang', arguments[0]);", lang)
            _open(b, "/exchange")
            b.js("location.reload();")
            b.wait("#export-headers")
            if title:
                b.wait_text("h1", title)
            assert b.js("return document.querySelector('label[for=\"export-headers\"]')"
                        ".textContent;") == label
            assert b.js("return document.getElementById('export-headers').value;") == lang
            _capture_exports(b)
            b.find("#export-download").click()
            b.wait_until(lambda: b.js("return window.__exports.length;") == 1, what="the export")
            got = b.js("return window.__exports[0];")
            assert "headers=" + lang in got["url"], got["url"]
            header = next(csv.reader([got["text"].lstrip("\ufeff").split("\r\n")[0]]))
            assert header[:2] == first, header
            # The API's names, for a script.
            b.js("const s = document.getElementById('export-headers'); s.value = 'api';"
                 "s.dispatchEvent(new Event('change'));")
            b.find("#export-download").click()
            b.wait_until(lambda: b.js("return window.__exports.length;") == 2, what="the export")
            got = b.js("return window.__exports[1];")
            assert got["text"].lstrip("\ufeff").startswith('"id","firstName"'), got["text"][:40]
            overflow = b.js("return document.documentElement.scrollWidth - "
                            "document.documentElement.clientWidth;")
            assert overflow <= 1, (lang, overflow)
            b.full_screenshot(os.path.join(SHOTS, "export-headers-%s-narrow.png" % lang))
        b.js("localStorage.removeItem('crm.lang');")
        _no_js_errors(b)


def test_xlsx_read_back_by_openpyxl_as_a_spreadsheet_user_sees_it():
    """The workbook as a spreadsheet program reads it (openpyxl, Debian's
    python3-openpyxl): German headings, numbers as numbers, dates as dates,
    booleans as booleans, phones, VAT numbers, postcodes and ids as text."""
    import datetime
    import openpyxl

    key = _tenant()
    full, odd = _book(key)
    st, _, book = _export(key, format="xlsx", headers="de")
    assert st == 200
    ws = openpyxl.load_workbook(io.BytesIO(book), read_only=True).worksheets[0]
    table = [list(r) for r in ws.iter_rows()]
    header = [c.value for c in table[0]]
    assert header[:5] == ["Kunden-ID", "Vorname", "Nachname", "E-Mail", "Telefon"], header
    assert header[COLUMNS.index("balance")] == "Guthaben", header
    rows = {r[0].value: dict(zip(COLUMNS, r)) for r in table[1:]}
    r = rows[full["id"]]
    assert r["balance"].data_type == "n" and r["balance"].value == 10.5, r["balance"].value
    assert r["balance"].number_format == "#,##0.00", r["balance"].number_format
    assert r["points"].data_type == "n" and r["points"].value == 0
    assert r["birthDate"].is_date and r["birthDate"].value == datetime.datetime(1985, 2, 28)
    assert r["createdAt"].is_date and isinstance(r["createdAt"].value, datetime.datetime)
    assert r["isCompany"].data_type == "b" and r["isCompany"].value is True
    for name, value in (("phone", "+48601234567"), ("companyVatNumber", "PL5260250274"),
                        ("billingPostalCode", "00-001"), ("id", full["id"])):
        assert r[name].data_type == "s" and r[name].value == value, (name, r[name].value)
    o = rows[odd["id"]]
    assert o["billingPostalCode"].value == "0155" and o["phone"].value == "+4791234567", o
    assert o["firstName"].data_type == "s" and o["firstName"].value.startswith("=HYPERLINK"), o
