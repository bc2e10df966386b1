"""Settings › Automations (#/automations) in headless Chromium at 390 px, in
German and in English: a rule made in the screen acts on the next order (the
card's timeline says the rule added the tag, the rule's history says done);
a dry run lists the customers; a rule is switched off; a missing name is named."""
import json

import crm
from crm import api, unique, unique_email, wait_until


def _overflow(b):
    return b.js("return document.documentElement.scrollWidth - "
                "document.documentElement.clientWidth;")


def _cleanup():
    st, _, js = api("GET", "/v1/rules")
    for r in js.get("rules", []):
        api("DELETE", "/v1/rules/%s" % r["id"])


def _order(person):
    return {"source": "store", "eventId": unique("or"), "type": "order.placed",
            "occurredAt": "2026-11-05T10:00:00Z", "customer": person,
            "order": {"id": unique("o"), "total": {"amountMinor": 2500, "currency": "EUR"}}}


def test_ui_a_rule_made_in_german_tags_the_next_buyer():
    from test_ui import _browser, _no_js_errors, _open, _sign_in
    tag = unique("Stammkunde")
    name = unique("Großer Käufer")
    _cleanup()
    with _browser("rules-de") as b:
        _sign_in(b)
        b.js("localStorage.setItem('crm.lang', 'de');")
        try:
            b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
            _open(b, "/settings")
            b.wait("#settings-automations").click()
            b.wait_text("h1", "Automatisierungen")
            b.wait("#auto-new").click()
            b.wait("#auto-name").fill(name)
            b.find("#auto-trigger").select("ORDER_PLACED")
            assert "Eine Bestellung geht ein" in b.find("#auto-trigger").text
            b.find("#auto-actions .auto-act-kind").select("ADD_TAG")
            b.find("#auto-actions .auto-tag").fill(tag)
            assert _overflow(b) <= 0, _overflow(b)
            b.find("#auto-save").click()
            b.wait("#auto-list li.auto-rule[data-enabled=true]")
            assert name in b.find("#auto-list").text
            assert "Schlagwort %s hinzufügen" % tag in b.find("#auto-list .auto-summary").text
            assert _overflow(b) <= 0, _overflow(b)
            # The next order makes the rule act.
            p = {"externalId": unique("c"), "firstName": "Jürgen", "lastName": unique("Käufer"),
                 "email": unique_email("jk")}
            st, _, ev = api("POST", "/v1/events", _order(p))
            assert st == 202, ev
            cid = ev["customerId"]
            wait_until(lambda: tag in api("GET", "/v1/customers/%s" % cid)[2].get("tags", []),
                       timeout=30, what="the rule's tag")
            b.find("#auto-list .auto-history").click()
            b.wait_text("#auto-list .auto-run", "Erledigt")
            assert "Schlagwort %s hinzugefügt" % tag in b.find("#auto-list .auto-run").text
            # The card's timeline says the rule did it.
            _open(b, "/customers/%s" % cid)
            want = "Schlagwort %s von Regel „%s“ hinzugefügt" % (tag, name)

            def shown():
                if want in b.find("#timeline").text:
                    return True
                b.js("location.reload();")
                return False
            b.wait("#timeline")
            b.wait_until(shown, timeout=30, interval=1, what="the rule's line in the timeline")
            assert _overflow(b) <= 0, _overflow(b)
            _no_js_errors(b)
        finally:
            b.js("localStorage.removeItem('crm.lang');")
            _cleanup()


def test_ui_automations_in_english_dry_run_switch_off_and_a_missing_name():
    from test_ui import _browser, _no_js_errors, _open, _sign_in
    tag = unique("dryui")
    st, _, c = api("POST", "/v1/customers", {"firstName": "Dora", "lastName": unique("Dry"),
                                             "tags": [tag]})
    assert st == 201, c
    _cleanup()
    with _browser("rules-en") as b:
        _sign_in(b)
        b.js("localStorage.setItem('crm.lang', 'en');")
        try:
            b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
            _open(b, "/automations")
            b.wait_text("h1", "Automations")
            b.wait("#auto-new").click()
            b.wait("#auto-name")
            b.find("#auto-add-condition").click()
            b.find("#auto-conditions .auto-cond-kind").select("HAS_TAG")
            b.find("#auto-conditions .auto-tag").fill(tag)
            b.find("#auto-actions .auto-tag").fill("seen")
            # The dry run of the unsaved rule.
            b.find("#auto-form-dry").click()
            b.wait_text("#auto-form-dry-result", "act on now: 1")
            assert "Dora" in b.find("#auto-form-dry-result").text
            # A rule without a name: named at its field, and nothing is stored.
            b.find("#auto-save").click()
            b.wait("#auto-name[aria-invalid=true]")
            assert api("GET", "/v1/rules")[2].get("rules", []) == []
            b.find("#auto-name").fill("Dry run rule")
            b.find("#auto-save").click()
            b.wait("#auto-list li.auto-rule[data-enabled=true]")
            assert _overflow(b) <= 0, _overflow(b)
            b.find("#auto-list .auto-toggle").click()
            b.wait("#auto-list li.auto-rule[data-enabled=false]")
            rules = api("GET", "/v1/rules")[2]["rules"]
            assert len(rules) == 1 and rules[0]["enabled"] is False, rules
            b.find("#auto-list .auto-dry-run").click()
            b.wait_text("#auto-list .auto-detail", "Dora")
            assert _overflow(b) <= 0, _overflow(b)
            _no_js_errors(b)
        finally:
            b.js("localStorage.removeItem('crm.lang');")
            _cleanup()
