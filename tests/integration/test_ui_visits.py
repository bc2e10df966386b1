"""The customer card's "Visits" and "Purchases" in the browser (headless
Chromium at 390 px), in Bulgarian and in German: open a visit's parameters,
fill them from a preset, add a row, save; return part of a purchase to the
balance and cancel another, each confirmed; make a preset in Settings; the
page never gets wider than the phone (docs/visits.md)."""

from crm import api, unique, unique_email
from test_ui import _browser, _no_js_errors, _open
from test_ui_seeds import PHONE, _fits, _shot, _sign_in, _width

# What the tests read on the page, per language (the catalogue's words).
WORDS = {
    "bg": {"visits": "Посещения", "purchases": "Покупки", "saved": "Параметрите са запазени.",
           "partly": "Частично върната", "cancelled": "Анулирана",
           "tl": "Променени параметри на посещението", "tlReturn": "върнати",
           "toBalance": "по баланса (сега"},
    "de": {"visits": "Besuche", "purchases": "Käufe", "saved": "Parameter gespeichert.",
           "partly": "Teilweise zurückgegeben", "cancelled": "Storniert",
           "presets": "Vorlagen für Besuchsparameter",
           "tl": "Parameter des Besuchs geändert", "tlReturn": "erstattet",
           "toBalance": "auf das Guthaben erstattet (jetzt"},
}


def _customer_with_history():
    person = {"externalId": unique("c"), "firstName": "Мария", "lastName": unique("Иванова"),
              "email": unique_email("maria")}
    bid, paid, placed = unique("bk"), unique("or"), unique("or")
    events = [{"source": "booking", "type": "booking.created",
               "booking": {"id": bid, "service": "Лазерна епилация", "staff": "Ева",
                           "startsAt": "2026-11-27T10:00:00Z"}}]
    for oid, types in [(paid, ["order.placed", "order.paid"]), (placed, ["order.placed"])]:
        for t in types:
            events.append({"source": "store", "type": t, "order": {
                "id": oid, "total": {"amountMinor": "6000", "currency": "EUR"},
                "items": [{"name": "Крем", "quantity": 2, "amountMinor": "4000"},
                          {"name": "Четка", "quantity": 1, "amountMinor": "2000"}]}})
    cid = None
    for ev in events:
        ev.update({"eventId": unique("ev"), "occurredAt": "2026-11-20T10:00:00Z",
                   "customer": person})
        st, _, js = api("POST", "/v1/events", ev)
        assert st == 202, js
        cid = js["customerId"]
    return cid, bid, paid, placed


def _card(lang):
    w = WORDS[lang]
    preset = unique("Лазер")
    if lang == "bg":
        st, _, p = api("POST", "/v1/visitPresets", {"name": preset, "parameterNames": [
            "Енергия", "Размер на петното"]})
        assert st == 201, p
    cid, bid, paid, placed = _customer_with_history()
    # The default tenant's wallet may be in another currency: the return goes
    # to the balance only when it is EUR.
    st, _, wallet = api("GET", "/v1/customers/%s/wallet" % cid)
    to_balance = st == 200 and wallet.get("currency") == "EUR"
    with _browser("visits-" + lang) as b:
        _sign_in(b, lang)
        _width(b, PHONE)
        if lang == "de":
            # The preset made in Settings.
            _open(b, "/settings")
            b.wait("#preset-form")
            assert b.find("#presets-title").text == w["presets"]
            b.find("#preset-name").send_keys(preset)
            b.find("#preset-names").send_keys("Енергия\nРазмер на петното")
            b.find("#preset-save").click()
            b.wait_until(lambda: preset in b.find("#presets-list").text, what="the preset listed")
            _fits(b, "settings with the presets at 390 px")
            st, _, js = api("GET", "/v1/visitPresets")
            p = next(x for x in js["presets"] if x["name"] == preset)
            assert p["parameterNames"] == ["Енергия", "Размер на петното"], p
        _open(b, "/customers/%s" % cid)
        b.wait("#visits-section")
        assert b.find("#visits-title").text == w["visits"]
        assert b.find("#purchases-title").text == w["purchases"]
        visit = b.wait('#visits-list li[data-booking="%s"]' % bid)
        visit.find(".visit-open").click()
        form = b.wait("#visit-form")
        form.find("#visit-preset").select(p["id"])
        b.wait_until(lambda: len(b.find_all("#param-rows .param-row")) == 2, what="the preset's rows")
        values = b.find_all("#param-rows .param-value")
        values[0].send_keys("12 J/cm²")
        values[1].send_keys("10 mm")
        b.find("#param-add").click()
        b.wait_until(lambda: len(b.find_all("#param-rows .param-row")) == 3, what="a new row")
        b.find_all("#param-rows .param-name")[2].send_keys("Импулс")
        b.find_all("#param-rows .param-value")[2].send_keys("30 ms")
        b.find("#visit-remark").send_keys("Без реакция.")
        _fits(b, "the visit's parameters at 390 px")
        b.find("#param-save").click()
        b.wait_gone("#visit-form")
        st, _, got = api("GET", "/v1/customers/%s/visits/%s/parameters" % (cid, bid))
        assert st == 200 and got["parameters"] == [
            {"name": "Енергия", "value": "12 J/cm²"}, {"name": "Размер на петното", "value": "10 mm"},
            {"name": "Импулс", "value": "30 ms"}] and got["remark"] == "Без реакция.", got
        # Return one cream of the paid order (to the balance when it can), confirmed.
        row = b.wait('#purchases-list li[data-order="%s"]' % paid)
        row.find(".purchase-return").click()
        form = b.wait("#return-form")
        form.find("#return-mode").select("items")
        b.find('.return-qty[data-index="0"]').clear()
        b.find('.return-qty[data-index="0"]').send_keys("1")
        if to_balance:
            b.find("#return-balance").click()
        b.find("#return-reason").send_keys("Повреден")
        _fits(b, "the return form at 390 px")
        b.find("#return-go").click()
        b.wait(".dialog .confirm-yes").click()
        b.wait_until(lambda: w["partly"] in b.find('#purchases-list li[data-order="%s"]' % paid).text,
                     what="the purchase partly returned")
        if to_balance:
            # The toast says the credit was made, and the balance after it.
            b.wait_until(lambda: w["toBalance"] in b.find("#toasts").text,
                         what="the credit to the balance in the toast")
        st, _, js = api("GET", "/v1/customers/%s/purchases" % cid)
        got = next(x for x in js["purchases"] if x["id"] == paid)
        assert got["refundedMinor"] == "2000" and got["returnedQuantities"] == [1, 0], got
        # Cancel the order not paid yet; "no" in the dialog first changes nothing.
        b.find('#purchases-list li[data-order="%s"] .purchase-cancel' % placed).click()
        b.wait("#cancel-form")
        b.find("#cancel-go").click()
        b.wait(".dialog .confirm-no").click()
        st, _, js = api("GET", "/v1/customers/%s/purchases" % cid)
        assert next(x for x in js["purchases"] if x["id"] == placed)["status"] == "PLACED"
        b.find("#cancel-go").click()
        b.wait(".dialog .confirm-yes").click()
        b.wait_until(lambda: w["cancelled"] in b.find('#purchases-list li[data-order="%s"]' % placed).text,
                     what="the purchase cancelled")
        # The timeline says both in words, with the parameters' values.
        b.wait_until(lambda: w["tl"] in b.find("#timeline").text, what="the parameters on the timeline")
        b.wait_until(lambda: w["tlReturn"] in b.find("#timeline").text, what="the return on the timeline")
        assert "12 J/cm²" in b.find("#timeline").text
        _fits(b, "the card with visits and purchases at 390 px")
        _shot(b, "visits-" + lang, "card")
        _no_js_errors(b)


def test_ui_card_visits_and_purchases_in_bulgarian_at_390_px():
    _card("bg")


def test_ui_card_visits_and_purchases_in_german_at_390_px():
    _card("de")
