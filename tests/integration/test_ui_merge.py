"""The customer card's "Merge with another record…" in the browser (headless
Chromium at 390 px), in German and in Norwegian: find the other record of the
person, see the side-by-side preview of what the card will hold (the
server's dry run), merge, and find the card showing the other record's
values; the other record's old address (its id) leads to the card kept. The
page never gets wider than the phone."""

import random

import crm
from crm import api, unique_email
from test_ui import _browser, _no_js_errors, _open
from test_ui_seeds import PHONE, _fits, _shot, _sign_in, _width, _word

# What the tests read on the page, per language (the catalogue's words).
WORDS = {
    "de": {"button": "Mit einem anderen Eintrag zusammenführen…", "after": "Nach dem Zusammenführen",
           "merged": "Zusammengeführt", "gone": "Dieser Eintrag wurde mit einem anderen zusammengeführt."},
    "nb": {"button": "Slå sammen med en annen oppføring…", "after": "Etter sammenslåingen",
           "merged": "Slått sammen", "gone": "Denne oppføringen er slått sammen med en annen."},
}


def _merge(lang):
    first = _word("Mia")
    st, _, keep = api("POST", "/v1/customers", {"firstName": first, "lastName": "Hansen",
                                                "email": unique_email("mia")})
    assert st == 201, keep
    phone = "+4791%06d" % random.randrange(10 ** 6)
    st, _, dup = api("POST", "/v1/customers", {"firstName": first, "lastName": "Hansen",
                                               "phone": phone, "tags": ["booking"]})
    assert st == 201, dup
    crm.wait_until(lambda: dup["id"] in [c["id"] for c in api(
        "GET", crm.q("/v1/customers:search", q=first))[2].get("customers", [])],
        timeout=20, what="search knows the other record")
    w = WORDS[lang]
    with _browser("merge-" + lang) as b:
        _sign_in(b, lang)
        _width(b, PHONE)
        _open(b, "/customers/%s" % keep["id"])
        button = b.wait("#merge-open")
        assert button.text == w["button"], button.text
        button.click()
        b.wait("#merge-search").send_keys(first)
        b.find("#merge-find").click()
        # The card's own record is not offered; the other one is.
        pick = b.wait('.merge-pick[data-id="%s"]' % dup["id"])
        assert not b.find_all('.merge-pick[data-id="%s"]' % keep["id"])
        _fits(b, "the records found at 390 px")
        pick.click()
        b.wait("#merge-table")
        # On the phone the columns' names head each value (the stacked table's labels).
        labels = b.js("return Array.from(document.querySelectorAll('#merge-table .merge-after'),"
                      " td => getComputedStyle(td, '::before').content);")
        assert labels and all(w["after"] in x for x in labels), labels
        # The preview's last column is the server's dry run: the phone taken, nothing written yet.
        after = [td.text for td in b.find_all("#merge-table .merge-after")]
        assert dup["phone"] in after and "booking" in after, after
        assert api("GET", "/v1/customers/" + dup["id"])[0] == 200
        _fits(b, "the merge preview at 390 px")
        _shot(b, "merge-" + lang, "preview")
        b.find("#merge-confirm").click()
        # The card again, with the other record's phone and tag; its history says so.
        b.wait_until(lambda: dup["phone"] in b.find(".card-head").text, what="the card after the merge")
        assert "booking" in b.find("#customer-chips").text
        b.wait_until(lambda: w["merged"] in b.find("#audit").text, what="the audit's merge entry")
        _fits(b, "the card after the merge at 390 px")
        st, _, gone = api("GET", "/v1/customers/" + dup["id"])
        assert st == 404 and gone["error"]["details"][0]["resourceId"] == keep["id"], gone
        # The other record's card leads to the one kept.
        _open(b, "/customers/%s" % dup["id"])
        b.wait_until(lambda: w["gone"] in b.find("#card-merged").text, what="the merged record's page")
        b.find("#card-merged-link").click()
        b.wait_until(lambda: keep["id"] in b.js("return location.hash;"), what="the kept card")
        b.wait("#merge-open")
        _fits(b, "the kept card at 390 px")
        _no_js_errors(b)


def test_ui_merge_in_german_at_390_px():
    _merge("de")


def test_ui_merge_in_norwegian_at_390_px():
    _merge("nb")
