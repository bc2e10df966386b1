"""Two things staff notice on a phone (headless Chromium at 390 px, in German
and in Bulgarian, whose labels are the longest). Typing a search turns the
customer list into search mode (a "best match" order in the head), yet the
rows stay where they are while the answer is awaited (aria-busy) and when it
is drawn, so a finger about to tap a row hits the row it aimed at. And a
purchase's credit to the balance refused for good shows its reason and the
buttons that settle it (docs/visits.md)."""

import os

import crm
from crm import api, unique, unique_email
from test_purchase_credit import _failed_credit
from test_purchases import _money
from test_ui import SHOTS, _browser, _no_js_errors
from test_ui_seeds import PHONE, _fits, _sign_in, _width
from test_visits import _key, _tenant

# Holds the page's requests whose address contains a text until the test lets
# them go (window.__held), so the test can look at the page while an answer is
# awaited.
HOLD = """
const part = arguments[0];
window.__held = [];
const send = window.fetch;
window.fetch = (url, opts) => String(url).includes(part)
  ? new Promise((ok, fail) => window.__held.push(() => send(url, opts).then(ok, fail)))
  : send(url, opts);"""
RELEASE = "window.__held.splice(0).forEach((go) => go());"


FIRST_ROW_TOP = """
const r = document.querySelector('#customer-table tbody tr');
return r ? Math.round(r.getBoundingClientRect().top * 10) / 10 : null;"""
# What stands above the rows, by height (for a failure's message).
ABOVE = """
return ['.view-head', '#total', '.searchbar', '.filters', '.list-message', '#customer-table thead',
        '#customer-table caption']
  .map(s => document.querySelector(s)).map(e => e ? Math.round(e.getBoundingClientRect().height) : null);"""


def _rows_stay_while_searching(lang):
    word = unique("Zyx")
    # First in the list before the search (by last name), and wider than the
    # customers found: the customer column narrows when the answer comes.
    st, _, js = api("POST", "/v1/customers", {"firstName": "Aada", "lastName": "Aaaa" + "x" * 40,
                                              "email": unique_email("aada")})
    assert st == 201, js
    for first in ("Anna", "Berit"):
        st, _, js = api("POST", "/v1/customers", {"firstName": first, "lastName": word,
                                                  "email": unique_email(first.lower())})
        assert st == 201, js
    with _browser("phone-list-" + lang) as b:
        _sign_in(b, lang)
        _width(b, PHONE)
        b.wait("#customer-table tbody tr[data-id]")
        b.wait_until(lambda: not b.js("return document.getElementById('customer-table')"
                                      ".hasAttribute('aria-busy');"), what="the list drawn")
        before, above = b.js(FIRST_ROW_TOP), b.js(ABOVE)
        b.js(HOLD, "/v1/customers:search")
        b.find("#search").send_keys(word)
        b.wait_until(lambda: b.js("return window.__held.length;") == 1, what="the search asked")
        busy = b.js("return document.getElementById('customer-table').getAttribute('aria-busy');")
        assert busy == "true", busy
        waiting = b.js(FIRST_ROW_TOP)
        b.js(RELEASE)
        b.wait_until(lambda: b.js("return !document.getElementById('customer-table')"
                                  ".hasAttribute('aria-busy') && document.querySelectorAll("
                                  "'#customer-table tbody tr[data-id]').length === 2;"),
                     what="the answer drawn")
        after = b.js(FIRST_ROW_TOP)
        assert before == waiting == after, "%s: first row at %s, %s while busy, %s after; %s %s" % (
            lang, before, waiting, after, above, b.js(ABOVE))
        assert word in b.find("#customer-table tbody tr[data-id]").text
        # Search mode: the best-match order is in the head.
        assert b.find('button.sort[data-sort="relevance"]').displayed()
        b.screenshot(os.path.join(SHOTS, "phone-search-%s.png" % lang))
        # Back to browsing (the box emptied): the rows stay put again.
        b.js(HOLD, "/v1/customers?")
        b.find("#search").clear()
        b.js("const s = document.getElementById('search');"
             "s.dispatchEvent(new Event('input', {bubbles: true}));")
        b.wait_until(lambda: b.js("return window.__held.length;") == 1, what="the list asked")
        assert b.js(FIRST_ROW_TOP) == after
        assert not b.find('button.sort[data-sort="relevance"]').displayed()
        _fits(b, "the list at 390 px in %s" % lang)
        b.screenshot(os.path.join(SHOTS, "phone-list-%s.png" % lang))
        _no_js_errors(b)


def test_ui_phone_list_rows_stay_put_while_searching_in_german():
    _rows_stay_while_searching("de")


def test_ui_phone_list_rows_stay_put_while_searching_in_bulgarian():
    _rows_stay_while_searching("bg")


# ------------------------------------------------------------------ a credit refused for good

CREDIT_WORDS = {
    "de": {"failed": "ist fehlgeschlagen", "retry": "Gutschrift erneut versuchen",
           "settle": "Als erledigt markieren", "settled": "anders beglichen"},
    "bg": {"failed": "не успя", "retry": "Опитай добавянето отново",
           "settle": "Отбележи като уредено", "settled": "уредена по друг начин"},
}


def _credit_buttons(lang, fix):
    """The card's purchase shows the FAILED credit's reason and its two
    buttons at 390 px; de: the cause fixed, "Try the credit again" credits
    the balance once; bg: "Mark as settled", confirmed, shows who and when."""
    w = CREDIT_WORDS[lang]
    tenant = _tenant()
    key = _key(tenant)
    cid, oid, r, wrong = _failed_credit(tenant, key)
    before = _money(cid, key)
    with _browser("phone-credit-" + lang) as b:
        _sign_in(b, lang, key)
        _width(b, PHONE)
        b.get(b.url.split("#")[0] + "#/customers/%s" % cid)
        sel = '.purchase-credit[data-credit="%s"]' % r["actionId"]
        credit = b.wait(sel + '[data-state="FAILED"]')
        assert w["failed"] in credit.text and "already posted" in credit.text, credit.text
        retry = b.find(sel + " .credit-retry")
        settle = b.find(sel + " .credit-settle")
        assert retry.text == w["retry"] and settle.text == w["settle"]
        _fits(b, "the card's failed credit at 390 px in %s" % lang)
        if fix:
            crm.psql("UPDATE customers.wallet_entries SET reference = 'mistaken' "
                     "WHERE id::text = '%s'" % wrong)
            # The purchases read again after it: the one shown stays (busy)
            # until the answer replaces it, so nothing below moves meanwhile.
            b.js(HOLD, "/purchases?")
            retry.click()
            b.wait_until(lambda: b.js("return window.__held.length;") == 1, what="the reload")
            assert b.find("#purchases-list").attr("aria-busy") == "true"
            assert b.find('#purchases-list li[data-order="%s"]' % oid).displayed()
            b.js(RELEASE)
            b.wait_gone(sel)
            assert b.find("#purchases-list").attr("aria-busy") is None
            assert _money(cid, key) == before + 1500
        else:
            settle.click()
            b.wait(".dialog .confirm-yes").click()
            done = b.wait(sel + '[data-state="SETTLED"]')
            assert w["settled"] in done.text, done.text
            assert _money(cid, key) == before
        _fits(b, "the card after the credit at 390 px in %s" % lang)
        _no_js_errors(b)


def test_ui_phone_failed_credit_tried_again_in_german():
    _credit_buttons("de", fix=True)


def test_ui_phone_failed_credit_settled_in_bulgarian():
    _credit_buttons("bg", fix=False)
