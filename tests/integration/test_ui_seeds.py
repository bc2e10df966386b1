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
import tempfile
import urllib.parse

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


def _sign_in(b, lang):
    """Signs in with the administrator key, the language chosen in the top bar first."""
    b.get(crm.URL + "/")
    b.wait("input[name=apiKey]")
    b.js("const s = document.getElementById('lang-select'); s.value = arguments[0];"
         "s.dispatchEvent(new Event('change'));", lang)
    b.wait_until(lambda: b.js("return document.documentElement.lang;") == lang, what="<html lang> " + lang)
    b.wait("input[name=apiKey]").send_keys(crm.API_KEY)
    b.find(".signin-card button[type=submit]").click()
    b.wait("#customer-table")


def _set_date(b, css, value):
    """Fills a date input with YYYY-MM-DD as its picker would (typing depends on the locale)."""
    b.js("const i = document.querySelector(arguments[0]); i.value = arguments[1];"
         "i.dispatchEvent(new Event('input', {bubbles: true})); i.dispatchEvent(new Event('change', {bubbles: true}));",
         css, value)


# ------------------------------------------------------------------ 000: Calendesk, "Add a customer" (en)


def test_seed_000_add_a_customer_with_photo_groups_company_vies_and_password_link():
    from test_company import _de, _fake

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
    os.unlink(png)
    os.rmdir(os.path.dirname(png))
