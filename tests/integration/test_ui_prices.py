"""The customer card's "Discounts" in the browser (headless Chromium at
390 px), in Polish and in Bulgarian: add a discount of the customer's own,
see it listed with whence it comes (a tag's discount too), check a price
with the "Price check" box, and remove the discount; the page never gets
wider than the phone. And a group's and a tag's discounts on the groups screen."""

import crm
from crm import api, unique, unique_email
from test_ui import _browser, _no_js_errors, _open
from test_ui_seeds import PHONE, _fits, _shot, _sign_in, _width

# What the tests read on the page, per language (the catalogue's words).
WORDS = {
    "pl": {"title": "Rabaty", "own": "(własny)", "tag": "(tag {tag})", "instead": "zamiast",
           "none": "bez rabatu", "added": "Dodano rabat"},
    "bg": {"title": "Отстъпки", "own": "(собствена)", "tag": "(етикет {tag})", "instead": "вместо",
           "none": "няма отстъпка", "added": "Добавена отстъпка"},
}


def _card(lang):
    tag = unique("vip")
    st, _, c = api("POST", "/v1/customers", {"firstName": unique("Ola"), "lastName": "Nowak",
                                             "email": unique_email("ola"), "tags": [tag]})
    assert st == 201, c
    st, _, r = api("POST", "/v1/priceRules", {"tag": tag, "target": "ALL", "percentOffBp": 500})
    assert st == 201, r
    w = WORDS[lang]
    with _browser("prices-" + lang) as b:
        _sign_in(b, lang)
        _width(b, PHONE)
        _open(b, "/customers/%s" % c["id"])
        b.wait("#discounts-section")
        assert b.find("#discounts-title").text == w["title"]
        b.wait_until(lambda: w["tag"].format(tag=tag) in b.find("#discounts").text,
                     what="the tag's discount listed")
        # Add the customer's own: 10 % off the category "buty".
        b.find("#discounts-section .rule-add").click()
        form = b.wait("#discounts-section .rule-form")
        form.find(".rule-target").select("CATEGORY")
        b.wait("#discounts-section .rule-code").send_keys("buty")
        form.find(".rule-value").send_keys("12,5")
        _fits(b, "the discount form at 390 px")
        form.find(".rule-save").click()
        b.wait_gone("#discounts-section .rule-form")
        b.wait_until(lambda: w["own"] in b.find("#discounts").text, what="the own discount listed")
        st, _, js = api("GET", "/v1/priceRules?customerId=%s" % c["id"])
        assert st == 200 and len(js["rules"]) == 1, js
        own = js["rules"][0]
        assert own["percentOffBp"] == 1250 and own["code"] == "buty", own
        # The timeline says so in words, once the notes service has the event.
        def added():
            st, _, tl = api("GET", "/v1/customers/%s/timeline" % c["id"])
            return st == 200 and any(e["type"] == "customer.discount_added"
                                     for e in tl.get("entries", []))
        crm.wait_until(added, timeout=20, what="the discount on the timeline")
        b.js("location.reload();")
        b.wait_until(lambda: w["added"] in b.find("#timeline").text, what="the timeline's line")
        assert "buty" in b.find("#timeline").text
        # Price check: 199.99 in the category costs 12.5 % less (the own rule beats the tag's 5 %).
        b.find("#price-code").send_keys("BOOT-1")
        b.find("#price-category").send_keys("buty")
        b.find("#price-amount").send_keys("199,99")
        b.find("#price-check").click()
        b.wait_until(lambda: w["instead"] in b.find("#price-result").text, what="the price checked")
        text = b.find("#price-result").text
        assert "174,99" in text and "199,99" in text and w["own"] in text, text
        # Outside the category only the tag's 5 % applies.
        b.find("#price-category").clear()
        b.find("#price-check").click()
        b.wait_until(lambda: "189,99" in b.find("#price-result").text, what="the tag's price")
        _fits(b, "the card with its discounts at 390 px")
        _shot(b, "prices-" + lang, "card")
        # Remove the own discount.
        b.find('#discounts li[data-via="CUSTOMER"] .rule-remove').click()
        b.wait(".dialog .confirm-yes").click()
        b.wait_until(lambda: w["own"] not in b.find("#discounts").text, what="the discount gone")
        st, _, js = api("GET", "/v1/priceRules?customerId=%s" % c["id"])
        assert st == 200 and not js.get("rules"), js
        _no_js_errors(b)


def test_ui_card_discounts_in_polish_at_390_px():
    _card("pl")


def test_ui_card_discounts_in_bulgarian_at_390_px():
    _card("bg")


def test_ui_group_and_tag_discounts_on_the_groups_screen():
    st, _, g = api("POST", "/v1/groups", {"name": unique("Club")})
    assert st == 201, g
    tag = unique("club")
    with _browser("prices-groups") as b:
        _sign_in(b, "en")
        _width(b, PHONE)
        _open(b, "/groups")
        row = b.wait('#group-table tr[data-id="%s"]' % g["id"])
        row.find(".group-discounts").click()
        panel = b.wait("#group-rules-%s" % g["id"])
        assert "No discounts." in panel.text
        b.find(".group-rules-row .rule-add").click()
        form = b.wait(".group-rules-row .rule-form")
        form.find(".rule-kind").select("AMOUNT")
        form.find(".rule-value").send_keys("5")
        form.find(".rule-save").click()
        b.wait_until(lambda: "off each" in b.find("#group-rules-%s" % g["id"]).text,
                     what="the group's discount listed")
        st, _, js = api("GET", "/v1/priceRules?groupId=%s" % g["id"])
        assert st == 200 and len(js["rules"]) == 1, js
        assert int(js["rules"][0]["amountOffMinor"]) == 10 ** {"JPY": 0}.get(js["currency"], 2) * 5
        _fits(b, "the groups screen with a group's discounts at 390 px")
        # A tag's discounts, below the groups: pick the tag, add one on a product.
        b.find("#tag-rules-tag").send_keys(tag)
        b.find("#tag-rules-show").click()
        b.wait_until(lambda: "No discounts." in b.find("#tag-rules-list").text, what="the tag's list")
        b.find("#tag-rules .rule-add").click()
        form = b.wait("#tag-rules .rule-form")
        form.find(".rule-target").select("PRODUCT")
        b.wait("#tag-rules .rule-code").send_keys("SKU-77")
        form.find(".rule-value").send_keys("100")
        form.find(".rule-save").click()
        b.wait_until(lambda: "SKU-77" in b.find("#tag-rules-list").text, what="the tag's discount")
        st, _, js = api("GET", "/v1/priceRules?tag=%s" % tag)
        assert st == 200 and [(r["code"], r["percentOffBp"]) for r in js["rules"]] == [
            ("SKU-77", 10000)], js
        _fits(b, "the groups screen with a tag's discounts at 390 px")
        _no_js_errors(b)
