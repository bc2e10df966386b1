"""The staff web UI in headless Chromium (webdriver.py): what a member of
staff does and sees. Each test signs in with the administrator key, makes its
own uniquely named customers, and leaves a screenshot (plus the console and
the page's text) in the screenshot directory when it fails:
$CRM_TEST_SCREENSHOTS, else <data dir>/screenshots. The list and the card
are photographed on success too, to look at.
"""

import contextlib
import json
import os
import re
import random
import struct
import tempfile
import urllib.parse
import zlib

import crm
import webdriver
from crm import api, unique, unique_email

SHOTS = os.environ.get("CRM_TEST_SCREENSHOTS") or os.path.join(crm.DATA_DIR, "screenshots")
XSS = "<img src=x onerror=alert(1)>"


@contextlib.contextmanager
def _browser(name):
    """A signed-out browser on the UI; on failure, evidence goes to SHOTS."""
    b = webdriver.Browser()
    try:
        yield b
    except BaseException:
        try:
            b.screenshot(os.path.join(SHOTS, name + "-failure.png"))
            with open(os.path.join(SHOTS, name + "-failure.txt"), "w", encoding="utf-8") as fh:
                fh.write("url: %s\n\n--- console\n%s\n\n--- page text\n%s\n" % (
                    b.url, json.dumps(b.console(), indent=1, ensure_ascii=False),
                    b.js("return document.body.innerText;")))
        except Exception as e:  # noqa: BLE001 - the test's own error matters more
            print("note: no failure evidence for %s: %s" % (name, e))
        raise
    finally:
        b.close()


def _open(b, route):
    """Goes to a UI route ("/customers/new") and returns when the view is drawn."""
    b.get(crm.URL + "/#" + route)


def _sign_in(b):
    b.get(crm.URL + "/")
    b.wait("input[name=apiKey]").send_keys(crm.API_KEY)
    b.find(".signin-card button[type=submit]").click()
    b.wait("#customer-table")


def _no_js_errors(b):
    """The console has no error but the network answers a test provoked (4xx)."""
    bad = [m for m in b.console() if m.get("level") == "SEVERE" and m.get("source") != "network"]
    assert not bad, bad


def _names(b):
    """The customer names of the list's rows, top to bottom."""
    return b.js("return Array.from(document.querySelectorAll("
                "'#customer-table tbody tr[data-id] .customer-link'), a => a.textContent);")


def _customer_id(b):
    frag = urllib.parse.urlsplit(b.url).fragment  # "/customers/<id>"
    parts = frag.split("/")
    assert len(parts) == 3 and parts[1] == "customers", frag
    return parts[2]


def _png(width=48, height=48):
    """A small valid PNG (a gradient), made here."""
    rows = b"".join(b"\x00" + b"".join(bytes((x * 5 % 256, y * 5 % 256, 160)) for x in range(width))
                    for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# ---------------------------------------------------------------------- serving


def test_ui_files_are_served_safely():
    st, hdr, body = api("GET", "/", key=None)
    assert st == 200, st
    assert hdr["Content-Type"].startswith("text/html"), hdr
    assert b"<script type=\"module\" src=\"/ui/js/app.js\">" in body
    assert hdr["Content-Security-Policy"] == "default-src 'self'; img-src 'self' blob: data:"
    assert hdr["X-Content-Type-Options"] == "nosniff"
    assert hdr["Cache-Control"] == "no-cache"
    etag = hdr["ETag"]
    st, hdr2, body2 = api("GET", "/ui/index.html", key=None, headers={"If-None-Match": etag})
    assert st == 304 and body2 == b"", (st, body2)
    for path, ctype in (("/ui/app.css", "text/css"), ("/ui/js/app.js", "text/javascript"),
                        ("/ui/js/views/list.js", "text/javascript"), ("/ui/favicon.svg", "image/svg+xml")):
        st, hdr, _ = api("GET", path, key=None)
        assert st == 200 and hdr["Content-Type"].startswith(ctype), (path, st, hdr.get("Content-Type"))
    # No way out of the UI directory, plain or encoded; a miss is JSON.
    for path in ("/ui/../../Makefile", "/ui/%2e%2e/%2e%2e/Makefile", "/ui/js%2f..%2f..%2f..%2fMakefile",
                 "/ui/.%2e/gateway_http.c", "/ui/nothing.js"):
        st, hdr, js = api("GET", path, key=None)
        assert st == 404 and js["error"]["status"] == "NOT_FOUND", (path, st, js)
    st, hdr, _ = api("POST", "/ui/index.html", {}, key=None)
    assert st == 405 and hdr["Allow"] == "GET, HEAD"
    # The OpenAPI document is the API's: no UI paths in it.
    st, _, doc = api("GET", "/v1/openapi.json", key=None)
    assert st == 200
    assert not [p for p in doc["paths"] if p == "/" or p.startswith("/ui")], list(doc["paths"])


# ---------------------------------------------------------------------- signing in


def test_ui_sign_in_with_wrong_key_then_right_key_then_sign_out():
    with _browser("sign-in") as b:
        b.get(crm.URL + "/")
        key = b.wait("input[name=apiKey]")
        assert key.attr("type") == "password"
        # The label names the input (accessibility), and the nav hides while signed out.
        assert b.js("return document.querySelector('label[for=\"' + arguments[0] + '\"]').textContent;",
                    key.attr("id")) == "API key"
        assert not b.find("#nav").displayed()
        key.send_keys("not-a-real-key-" + unique("k"))
        b.find(".signin-card button[type=submit]").click()
        err = b.wait_text(".signin-card .field-error", "invalid API key")
        assert "401" in err.text
        assert b.js("return sessionStorage.getItem('crm.apiKey');") is None
        # Keyboard only: the key, then Enter.
        b.find("input[name=apiKey]").fill(crm.API_KEY + webdriver.ENTER)
        b.wait("#customer-table")
        assert b.js("return sessionStorage.getItem('crm.apiKey');") == crm.API_KEY
        assert b.find("#nav").displayed()
        b.find("#sign-out").click()
        b.wait("input[name=apiKey]")
        assert b.js("return sessionStorage.getItem('crm.apiKey');") is None
        # Signed out, a deep link leads to sign-in and back after it.
        _open(b, "/groups")
        b.wait("input[name=apiKey]").send_keys(crm.API_KEY + webdriver.ENTER)
        b.wait("#group-table")
        _no_js_errors(b)


# ---------------------------------------------------------------------- the form, the card


def test_ui_add_customer_shows_field_error_then_card_and_audit():
    first = "Łukasz"
    last = unique("Brzęczyszczykiewicz")
    with _browser("add-customer") as b:
        _sign_in(b)
        b.find("#add-customer").click()
        b.wait("#f-firstName").send_keys(first)
        b.find("#f-lastName").send_keys(last)
        b.find("#f-email").send_keys("lukasz.at.example.com")
        b.find("#f-phone").send_keys("+48 600 100 200")
        b.find("#f-description").send_keys("Woli poranki. Kawa bez cukru ☕")
        b.find("#save").click()

        # The API's message, next to the e-mail input, and the input marked invalid.
        err = b.wait_text("#f-email-error", "not valid")
        assert "missing @" in err.text, err.text
        assert b.js("var i = document.getElementById('f-email');"
                    "return i.closest('.field').contains(document.getElementById('f-email-error'));")
        assert b.find("#f-email").attr("aria-invalid") == "true"
        assert "f-email-error" in b.find("#f-email").attr("aria-describedby")
        assert b.active().attr("id") == "f-email"  # focus went to the field to fix
        assert "/customers/new" in b.url  # nothing saved
        st, _, js = api("GET", crm.q("/v1/customers", pageSize=5, orderBy="createdAt desc"))
        assert last not in json.dumps(js, ensure_ascii=False)

        email = unique_email("lukasz")
        b.find("#f-email").fill(email)
        b.find("#save").click()
        b.wait_text("#customer-name", "%s %s" % (first, last))
        cid = _customer_id(b)
        assert email in b.find(".card-head").text
        assert "Woli poranki. Kawa bez cukru ☕" in b.find("#customer-description").text
        b.wait_text("#audit", "Created")
        st, _, c = api("GET", "/v1/customers/" + cid)
        assert st == 200 and c["lastName"] == last and c["phone"] == "+48600100200", c

        # Edit the last name: the card's history shows old -> new, from the web UI.
        b.find("#edit-customer").click()
        new_last = unique("Wiśniewski")
        b.wait("#f-lastName").fill(new_last)
        b.find("#save").click()
        b.wait_text("#customer-name", new_last)
        entry = b.wait_text("#audit .audit-entry", "Changed")
        row = b.wait_until(lambda: [r for r in entry.find_all(".changes tbody tr")
                                    if r.find("th").text == "Last name"], what="the last-name change")[0]
        assert row.find(".old").text == last and row.find(".new").text == new_last, row.text
        assert "Web UI" in entry.text and "administrator" in entry.text, entry.text
        # Only the changed field was sent.
        assert len(entry.find_all(".changes tbody tr")) == 1, entry.text
        st, _, audit = api("GET", "/v1/customers/%s/audit" % cid)
        assert audit["entries"][0]["channel"] == "ui", audit["entries"][0]
        b.full_screenshot(os.path.join(SHOTS, "card.png"))
        _no_js_errors(b)


def test_ui_company_address_consent_groups_tags_and_photo():
    last = unique("Müller")
    tag = unique("stammkunde").lower()
    png = os.path.join(tempfile.mkdtemp(prefix="crm-ui-photo-"), "face.png")
    with open(png, "wb") as fh:
        fh.write(_png())
    with _browser("company") as b:
        _sign_in(b)
        _open(b, "/customers/new")
        b.wait("#f-firstName").send_keys("Jürgen")
        b.find("#f-lastName").send_keys(last)
        # The company's fields appear with the checkbox.
        assert not b.find("#company-fields").displayed()
        b.find("#f-isCompany").click()
        b.wait("#f-company-name").send_keys("Müller & Söhne GmbH")
        b.find("#f-company-vatNumber").send_keys("DE 123 456 788")
        b.find("#add-address").click()
        b.wait("#f-addresses-0-line1").send_keys("Königstraße 5")
        b.find("#f-addresses-0-postalCode").send_keys("70173")
        b.find("#f-addresses-0-city").send_keys("Stuttgart")
        b.find("#f-addresses-0-country").clear()
        b.find("#f-addresses-0-kind").select("SHIPPING")
        # Tags as chips: Enter adds one.
        b.find("#f-tags").send_keys(tag + webdriver.ENTER)
        b.find("#f-tags").send_keys("vip" + webdriver.ENTER)
        b.wait_text(".tag-chips", tag)
        b.js("document.querySelector('input[name=groups][value=\"Standard\"]').scrollIntoView();")
        b.find("input[name=groups][value='Standard']").click()
        b.find("#f-consent-marketing").click()
        b.find("#f-consent-marketing-source").send_keys("paper form")
        b.find("#f-preferences-language").send_keys("de-AT")
        b.find("#f-account-status").select("INVITED")
        b.find("#f-photo").send_keys(png)
        b.wait("#main .photo-box img")
        b.find("#save").click()

        # The address without a country: the error sits at that input.
        err = b.wait_text("#f-addresses-0-country-error", "addresses[0].country")
        assert b.find("#f-addresses-0-country").attr("aria-invalid") == "true", err.text
        b.find("#f-addresses-0-country").send_keys("de")
        b.find("#save").click()

        b.wait_text("#customer-name", last)
        cid = _customer_id(b)
        page = b.find("#main").text
        for want in ("Müller & Söhne GmbH", "DE123456788", "Königstraße 5", "70173 Stuttgart", "Shipping",
                     "de-AT", "Invited", "paper form", "Standard", tag, "vip"):
            assert want in page, (want, page)
        marketing = [r for r in b.find_all("#consents tbody tr") if r.find("th").text == "Marketing"][0]
        assert "Agreed" in marketing.text, marketing.text
        # The photo, fetched with the key and shown through a blob: URL.
        img = b.wait(".card-head .avatar img")
        b.wait_until(lambda: b.js("return arguments[0].complete && arguments[0].naturalWidth;", {webdriver.ELEMENT: img.ref}) == 48,
                     what="the photo to load")
        assert img.attr("src").startswith("blob:")
        st, _, c = api("GET", "/v1/customers/" + cid)
        assert c["isCompany"] and c["company"]["vatNumber"] == "DE123456788", c
        assert c["addresses"][0]["country"] == "DE" and c["addresses"][0]["kind"] == "SHIPPING"
        assert c["hasPhoto"] and c["groups"] == ["Standard"] and sorted(c["tags"]) == sorted([tag, "vip"])
        assert c["preferences"]["marketing"]["granted"] and c["preferences"]["marketing"]["source"] == "paper form"
        assert c["preferences"]["marketing"]["changedAt"], c["preferences"]
        assert c["account"]["status"] == "INVITED"
        _no_js_errors(b)
    os.unlink(png)
    os.rmdir(os.path.dirname(png))


def test_ui_stale_edit_says_so_and_reloads_and_duplicate_links_to_holder():
    email = unique_email("holder")
    st, _, holder = api("POST", "/v1/customers", {"firstName": "Мария", "lastName": unique("Георгиева"), "email": email})
    assert st == 201, holder
    st, _, other = api("POST", "/v1/customers", {"firstName": "Anna", "lastName": unique("Nowak")})
    assert st == 201, other
    with _browser("stale") as b:
        _sign_in(b)
        _open(b, "/customers/%s/edit" % other["id"])
        b.wait("#f-firstName")
        # Meanwhile someone else renames her.
        st, _, _ = api("PATCH", "/v1/customers/" + other["id"], {"firstName": "Anne"})
        assert st == 200
        b.find("#f-salesAgent").send_keys("Kasia")
        b.find("#save").click()
        b.wait_text(".form-summary", "Someone else changed this customer")
        b.find("#reload-customer").click()
        b.wait_until(lambda: b.find("#f-firstName").prop("value") == "Anne", what="their version")
        assert b.find("#f-salesAgent").prop("value") == ""

        # The e-mail of another customer: 409 with a link to that customer.
        b.find("#f-email").fill(email.upper())
        b.find("#save").click()
        link = b.wait("#f-email-error a.duplicate-link")
        assert link.attr("href").endswith("#/customers/" + holder["id"]), link.attr("href")
        assert "already exists" in b.find(".form-summary").text
        link.click()
        b.wait_text("#customer-name", holder["lastName"])
        _no_js_errors(b)


# ---------------------------------------------------------------------- the list


def test_ui_list_sorts_filters_and_pages_through_60_customers():
    tag = unique("paging").lower()
    order = list(range(60))
    random.shuffle(order)  # created out of name order
    created = []
    for i in order:
        st, _, c = api("POST", "/v1/customers", {"firstName": "Zofia", "lastName": "Nowak-%02d" % i,
                                                 "email": unique_email("p%02d" % i), "tags": [tag]})
        assert st == 201, c
        created.append(c)
    names = ["Nowak-%02d, Zofia" % i for i in range(60)]
    with _browser("list") as b:
        _sign_in(b)
        tag_select = b.find("#filter-tag")
        b.wait_until(lambda: b.find("#filter-tag option[value='%s']" % tag), what="the tag in the filter")
        tag_select.select(tag)
        b.wait_text("#total", "60 customers")
        b.find("#page-size").select("25")
        b.wait_until(lambda: _names(b) == names[:25], what="page 1 by last name")
        assert "tag=" + urllib.parse.quote(tag) in b.url  # the filter is in the address
        assert b.find("#prev-page").prop("disabled") and not b.find("#next-page").prop("disabled")
        b.screenshot(os.path.join(SHOTS, "list.png"))

        # Sort by last name, descending, then back.
        b.find("button[data-sort=lastName]").click()
        b.wait_until(lambda: _names(b) == names[::-1][:25], what="descending")
        assert b.find("th.col-customer").attr("aria-sort") == "descending"
        b.find("button[data-sort=lastName]").click()
        b.wait_until(lambda: _names(b) == names[:25], what="ascending again")

        # Forward to the end, back to the start.
        b.find("#next-page").click()
        b.wait_until(lambda: _names(b) == names[25:50], what="page 2")
        assert "26–50 of 60" in b.find("#page-info").text
        b.find("#next-page").click()
        b.wait_until(lambda: _names(b) == names[50:], what="page 3")
        assert b.find("#next-page").prop("disabled")
        b.find("#prev-page").click()
        b.wait_until(lambda: _names(b) == names[25:50], what="page 2 again")
        b.find("#prev-page").click()
        b.wait_until(lambda: _names(b) == names[:25], what="page 1 again")
        assert b.find("#prev-page").prop("disabled")

        # Oldest first: the order they were made in.
        b.find("button[data-sort=createdAt]").click()
        first25 = ["%s, Zofia" % c["lastName"] for c in created[:25]]
        b.wait_until(lambda: _names(b) == first25, what="order of creation")
        # Clearing the filters shows everyone again.
        b.find("#clear-filters").click()
        # (#total is empty while the new list loads.)
        b.wait_until(lambda: "tag=" not in b.url
                     and re.match(r"[\d,]+ ", b.find("#total").text + " ")
                     and int(b.find("#total").text.split()[0].replace(",", "")) >= 60,
                     what="the unfiltered list")
        _no_js_errors(b)


def test_ui_bulk_delete_two_selected():
    tag = unique("bulk").lower()
    made = []
    for last in ("Ćwik", "Dąb", "Żak"):
        st, _, c = api("POST", "/v1/customers", {"firstName": "Ola", "lastName": unique(last), "tags": [tag]})
        assert st == 201, c
        made.append(c)
    with _browser("bulk-delete") as b:
        _sign_in(b)
        _open(b, "/customers?tag=" + urllib.parse.quote(tag))
        b.wait_text("#total", "3 customers")
        b.wait_until(lambda: len(b.find_all("tr[data-id]")) == 3, what="3 rows")
        assert b.find("#bulk-delete").prop("disabled")
        for c in made[:2]:
            b.find("tr[data-id='%s'] input.row-select" % c["id"]).click()
        bulk = b.find("#bulk-delete")
        assert bulk.text == "Delete 2 selected" and bulk.enabled()
        bulk.click()
        # A confirm dialog first; Cancel keeps them.
        b.wait("dialog[open] .confirm-no").click()
        b.wait_gone("dialog[open]")
        assert len(b.find_all("tr[data-id]")) == 3
        b.find("#bulk-delete").click()
        dialog = b.wait("dialog[open]")
        assert "Delete 2 customers?" in dialog.text, dialog.text
        b.find("dialog[open] .confirm-yes").click()
        b.wait_text("#total", "1 customer")
        b.wait_until(lambda: [r.attr("data-id") for r in b.find_all("tr[data-id]")] == [made[2]["id"]],
                     what="only the third left")
        for c in made[:2]:
            assert api("GET", "/v1/customers/" + c["id"])[0] == 404
        assert api("GET", "/v1/customers/" + made[2]["id"])[0] == 200

        # One row's own Delete button, with its confirm.
        b.find("tr[data-id='%s'] .row-delete" % made[2]["id"]).click()
        b.wait("dialog[open] .confirm-yes").click()
        b.wait_text("#total", "0 customers")
        assert api("GET", "/v1/customers/" + made[2]["id"])[0] == 404
        _no_js_errors(b)


def test_ui_renders_hostile_names_as_text():
    last = unique("Xss")
    tag = unique("x").lower()
    st, _, c = api("POST", "/v1/customers", {
        "firstName": XSS, "lastName": last, "tags": [tag, "<b>bold</b>"],
        "description": "<script>alert(2)</script>", "salesAgent": "<svg onload=alert(3)>",
    })
    assert st == 201, c
    with _browser("xss") as b:
        _sign_in(b)
        _open(b, "/customers?tag=" + urllib.parse.quote(tag))
        link = b.wait("tr[data-id='%s'] .customer-link" % c["id"])
        assert link.text == "%s, %s" % (last, XSS), link.text
        assert "<b>bold</b>" in b.find("tr[data-id='%s'] .col-tags" % c["id"]).text
        link.click()
        name = b.wait_text("#customer-name", XSS)
        assert name.text == "%s %s" % (XSS, last)
        assert b.find("#customer-description").text == "<script>alert(2)</script>"
        assert "<svg onload=alert(3)>" in b.find("#main").text
        # Nothing of it became markup: no such image, script or svg, no alert.
        assert b.js("return document.querySelectorAll('img[src=\"x\"], #main script, #main svg, #main b').length;") == 0
        assert b.alert_text() is None
        b.find("#edit-customer").click()
        b.wait_until(lambda: b.find("#f-firstName").prop("value") == XSS, what="the raw name in the input")
        assert b.alert_text() is None
        _no_js_errors(b)


# ---------------------------------------------------------------------- groups, settings


def test_ui_groups_create_rename_delete():
    name = unique("Stammkunden")
    renamed = unique("Постоянни")
    with _browser("groups") as b:
        _sign_in(b)
        b.find("#nav a[data-nav=groups]").click()
        b.wait("#new-group-name").send_keys(name)
        b.find("#new-group-description").send_keys("kommen jede Woche")
        b.find("#create-group").click()
        row = b.wait_until(lambda: [r for r in b.find_all("#group-table tbody tr") if name in r.text],
                           what="the new group's row")[0]
        gid = row.attr("data-id")
        assert "kommen jede Woche" in row.text and row.find(".num").text == "0"
        # The same name again is refused next to the name.
        b.find("#new-group-name").send_keys(name)
        b.find("#create-group").click()
        b.wait_text("#new-group-name-error", "Another group already has this name")

        b.find("tr[data-id='%s'] .group-edit" % gid).click()
        b.wait("tr[data-id='%s'] .group-rename" % gid).fill(renamed)
        b.find("tr[data-id='%s'] .group-save" % gid).click()
        b.wait_until(lambda: renamed in b.find("tr[data-id='%s']" % gid).text, what="the new name")
        groups = {g["id"]: g for g in api("GET", "/v1/groups")[2]["groups"]}
        assert groups[gid]["name"] == renamed

        b.find("tr[data-id='%s'] .group-delete" % gid).click()
        b.wait("dialog[open] .confirm-yes").click()
        b.wait_gone("tr[data-id='%s']" % gid)
        assert gid not in {g["id"] for g in api("GET", "/v1/groups")[2]["groups"]}
        _no_js_errors(b)


def test_ui_settings_required_field_round_trip():
    st, _, before = api("GET", "/v1/settings")
    assert st == 200
    try:
        with _browser("settings") as b:
            _sign_in(b)
            b.find("#nav a[data-nav=settings]").click()
            box = b.wait("#req-salesAgent")
            assert not box.prop("checked")
            box.click()
            b.find("#save-settings").click()
            b.wait_text("#main .banner-ok", "Settings saved")
            assert "salesAgent" in api("GET", "/v1/settings")[2]["requiredFields"]
            # The form marks it, and the API's REQUIRED error lands next to it.
            _open(b, "/customers/new")
            b.wait("#f-firstName").send_keys("Иван")
            assert b.find("#f-salesAgent").attr("aria-required") == "true"
            b.find("#save").click()
            b.wait_text("#f-salesAgent-error", "required")
            _open(b, "/settings")
            b.wait("#req-salesAgent").click()
            b.find("#save-settings").click()
            b.wait_text("#main .banner-ok", "Settings saved")
            assert "salesAgent" not in api("GET", "/v1/settings")[2]["requiredFields"]
            _no_js_errors(b)
    finally:
        api("PATCH", "/v1/settings", {"requiredFields": before["requiredFields"]})
