"""The Orders bot in Settings › Automations (#/automations), in headless
Chromium at 390 px, in Polish and in English, each in a business of its own:
an Orders-bot rule made in the screen holds the next big order (its history
and the customer's timeline say so) and is listed under the Orders bot tab;
the order conditions and actions are offered only for an order trigger; the
dry run says what the order actions would do; a staff e-mail by role."""

import contextlib

import crm
from crm import api, unique, unique_email, wait_until


def _overflow(b):
    return b.js("return document.documentElement.scrollWidth - "
                "document.documentElement.clientWidth;")


def _business():
    tenant = crm.crmctl(["tenant", "create", unique("Sklep")]).strip()
    return crm.crmctl(["keys", "create", "--tenant", tenant, "--name", unique("key"),
                       "--role", "admin"]).strip()


def _sign_in(b, key):
    b.get(crm.URL + "/")
    b.wait("input[name=apiKey]").send_keys(key)
    b.find(".signin-card button[type=submit]").click()
    b.wait("#customer-table")


@contextlib.contextmanager
def _editor(name, key, lang, rule_name):
    """A browser signed in with key, speaking lang at 390 px, on a new rule's
    form with its name typed; the language is forgotten after."""
    from test_ui import _browser, _open
    with _browser(name) as b:
        _sign_in(b, key)
        b.js("localStorage.setItem('crm.lang', arguments[0]);", lang)
        try:
            b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
            _open(b, "/automations")
            b.wait("#auto-new").click()
            b.wait("#auto-name").fill(rule_name)
            yield b
        finally:
            b.js("localStorage.removeItem('crm.lang');")


def _offered(b, css):
    """The values a kind chooser offers (its options not hidden)."""
    return b.js("return Array.from(document.querySelector(arguments[0]).options)"
                ".filter((o) => !o.hidden).map((o) => o.value);", css)


def _order(person, total):
    return {"source": "sklep", "eventId": unique("ev"), "type": "order.placed",
            "occurredAt": "2026-11-21T10:00:00Z", "customer": person,
            "order": {"id": unique("zam"), "total": {"amountMinor": total, "currency": "PLN"}}}


def test_ui_an_orders_bot_rule_made_in_polish_holds_the_next_big_order():
    from test_ui import _no_js_errors, _open
    key = _business()
    name = unique("Duże zamówienia")
    with _editor("orders-bot-pl", key, "pl", name) as b:
        b.find("#auto-trigger").select("ORDER_PLACED")
        b.find("#auto-add-condition").click()
        assert "ORDER_TOTAL_AT_LEAST" in _offered(b, "#auto-conditions .auto-cond-kind")
        b.find("#auto-conditions .auto-cond-kind").select("ORDER_TOTAL_AT_LEAST")
        b.find("#auto-conditions .auto-amount").fill("100.00")
        b.find("#auto-conditions .auto-currency").fill("PLN")
        b.find("#auto-actions .auto-act-kind").select("ORDER_HOLD")
        b.find("#auto-actions .auto-hold").fill("Sprawdź adres")
        assert _overflow(b) <= 0, _overflow(b)
        b.find("#auto-save").click()
        b.wait("#auto-list li.auto-rule[data-enabled=true]")
        summary = b.find("#auto-list .auto-summary").text
        assert "wartość zamówienia co najmniej 100.00 PLN" in summary, summary
        assert "wstrzymaj zamówienie (Sprawdź adres)" in summary, summary
        # The Orders bot tab lists it.
        b.find(".auto-tab[data-tab=orders]").click()
        b.wait_text(".auto-tab[aria-pressed=true]", "Bot zamówień")
        assert name in b.find("#auto-list").text
        assert _overflow(b) <= 0, _overflow(b)
        # A small order is not held, a big one is.
        p = {"externalId": unique("c"), "firstName": "Zofia", "lastName": unique("Nowak"),
             "email": unique_email("zofia")}
        for total in (5000, 25000):
            st, _, ev = api("POST", "/v1/events", _order(p, total), key=key)
            assert st == 202, ev
        cid = ev["customerId"]
        rule = api("GET", "/v1/rules", key=key)[2]["rules"][0]
        wait_until(lambda: len([r for r in api("GET", "/v1/rules/%s/runs" % rule["id"],
                                               key=key)[2].get("runs", [])
                                if r["status"] != "PENDING"]) == 2,
                   timeout=30, what="both runs end")
        b.find("#auto-list .auto-history").click()
        b.wait_text("#auto-list .auto-runs", "zamówienie wstrzymane: Sprawdź adres")
        # The customer's timeline shows the hold on the order.
        _open(b, "/customers/%s" % cid)
        b.wait("#timeline")
        b.wait_text("#timeline", "wstrzymane: Sprawdź adres", timeout=30)
        assert name in b.find("#timeline").text
        assert _overflow(b) <= 0, _overflow(b)
        _no_js_errors(b)


def test_ui_order_actions_only_for_order_triggers_and_the_dry_run_in_english():
    from test_ui import _no_js_errors
    key = _business()
    p = {"externalId": unique("c"), "firstName": "Ella", "lastName": unique("Order"),
         "email": unique_email("ella")}
    st, _, ev = api("POST", "/v1/events", _order(p, 9900), key=key)
    assert st == 202, ev
    with _editor("orders-bot-en", key, "en", unique("Staff alert")) as b:
        b.find("#auto-trigger").select("CUSTOMER_CREATED")
        offered = _offered(b, "#auto-actions .auto-act-kind")
        assert "ADD_TAG" in offered and "ORDER_HOLD" not in offered, offered
        b.find("#auto-trigger").select("ORDER_PLACED")
        offered = _offered(b, "#auto-actions .auto-act-kind")
        assert "ORDER_NOTIFY_STAFF" in offered and "ORDER_NOTE" in offered, offered
        b.find("#auto-actions .auto-act-kind").select("ORDER_PRIORITY")
        b.find("#auto-actions .auto-priority").fill("express")
        b.find("#auto-add-action").click()
        second = "#auto-actions li:nth-child(2)"
        b.find(second + " .auto-act-kind").select("ORDER_NOTIFY_STAFF")
        b.find(second + " .auto-staff-to").select("role")
        b.find(second + " .auto-staff-role").select("ADMIN")
        b.find(second + " .auto-staff-subject").fill("New order")
        b.find(second + " .auto-staff-text").fill("Pack it for {{firstName}}.")
        assert _overflow(b) <= 0, _overflow(b)
        b.find("#auto-form-dry").click()
        b.wait_text("#auto-form-dry-result", "Latest order")
        out = b.find("#auto-form-dry-result").text
        assert "order given priority express" in out and "staff e-mailed: Administrators" in out, out
        b.find("#auto-save").click()
        b.wait("#auto-list li.auto-rule[data-enabled=true]")
        rules = api("GET", "/v1/rules", key=key)[2]["rules"]
        assert rules[0]["actions"][1]["staffRole"] in ("ADMIN", "ROLE_ADMIN"), rules
        assert "e-mail Administrators" in b.find("#auto-list .auto-summary").text
        assert _overflow(b) <= 0, _overflow(b)
        _no_js_errors(b)
