"""Company look-up: EU VAT numbers checked against VIES (here its faithful
local fake, tests/integration/fake_vies.py), through the gateway."""
import json
import os
import random
import threading
import urllib.request

from crm import api, psql, psql_rows, restart, wait_until

FAKE = os.environ.get("CRM_TEST_FAKE_VIES", "")


def _fake(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(FAKE + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def _calls(vat):
    return _fake("GET", "/_fake/calls").get(vat, 0)


def _de():
    """A German number no other test uses: 8 digits and the check digit
    (ISO 7064 MOD 11,10), as the service checks it."""
    digits = "%08d" % random.randrange(10 ** 7, 10 ** 8)
    product = 10
    for d in digits:
        total = (int(d) + product) % 10 or 10
        product = (2 * total) % 11
    check = (11 - product) % 10
    return "DE" + digits + str(check)


def _es():
    """A Spanish company's number (CIF) no other test uses: B, 7 digits, the check digit."""
    digits = "%07d" % random.randrange(10 ** 6, 10 ** 7)
    total = 0
    for i, d in enumerate(digits):  # Luhn over the 7 digits: odd places doubled
        v = int(d) * (2 if i % 2 == 0 else 1)
        total += v // 10 + v % 10
    return "ESB" + digits + str((10 - total % 10) % 10)


def _pl():
    """A Polish number no other test uses: 9 digits and the check digit."""
    while True:
        digits = "%09d" % random.randrange(10 ** 8, 10 ** 9)
        check = sum(int(d) * w for d, w in zip(digits, (6, 5, 7, 2, 3, 4, 5, 6, 7))) % 11
        if check < 10:
            return "PL" + digits + str(check)


def _lookup(body):
    return api("POST", "/v1/company:lookup", body)


def test_lookup_valid_with_name_and_address_split():
    vat = _de()
    _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Größmann & Söhne GmbH",
                                           "address": "Schloßstraße 7\n10115 Berlin"}})
    st, _, js = _lookup({"vatNumber": "%s %s.%s" % (vat[:2].lower(), vat[2:5], vat[5:])})
    assert st == 200, js
    assert js["valid"] is True and js["vatNumber"] == vat and js["countryCode"] == "DE"
    assert js["name"] == "Größmann & Söhne GmbH"
    assert js["addressLines"] == ["Schloßstraße 7", "10115 Berlin"]
    assert (js["street"], js["postalCode"], js["city"]) == ("Schloßstraße 7", "10115", "Berlin")
    assert js["requestDate"] and js["checkedAt"]
    assert not js.get("fromCache")
    # Again: from the cache, VIES not asked a second time.
    st, _, again = _lookup({"countryCode": "DE", "number": vat[2:]})
    assert st == 200 and again["fromCache"] is True and again["name"] == js["name"], again
    assert _calls(vat) == 1


def test_lookup_invalid_and_withheld_names():
    vat = _de()
    st, _, js = _lookup({"vatNumber": vat})  # unknown to the fake: invalid, name "---"
    assert st == 200 and js["valid"] is False, js
    es = _es()
    _fake("POST", "/_fake/numbers", {es: {"valid": True, "name": "---", "address": "---"}})
    st, _, js = _lookup({"vatNumber": es})
    assert st == 200 and js["valid"] is True, js
    assert js["nameWithheld"] is True and js["addressWithheld"] is True
    assert js.get("name", "") == "" and js.get("address", "") == ""


def test_syntax_is_checked_before_vies_is_asked():
    for body, field in (({"vatNumber": "DE12345"}, "vatNumber"),
                        ({"vatNumber": "GR123456789"}, "vatNumber"),
                        ({"vatNumber": "US123456789"}, "vatNumber"),
                        ({"countryCode": "PL", "number": "12"}, "number"),
                        ({}, "vatNumber")):
        st, _, js = _lookup(body)
        assert st == 400, (body, js)
        assert js["error"]["details"][0]["field"] == field, (body, js)
    st, _, js = _lookup({"vatNumber": "GR123456789"})
    assert "EL" in js["error"]["details"][0]["description"], js
    assert _calls("DE12345") == 0
    # The check digit, where the member state defines one: here and on the customer.
    for wrong in ("DE136695975", "PL5260250275", "FR40303265046", "ESA13585626"):
        st, _, js = _lookup({"vatNumber": wrong})
        assert st == 400, (wrong, js)
        d = js["error"]["details"][0]
        assert d["field"] == "vatNumber" and "check digit is wrong" in d["description"], js
        assert _calls(wrong) == 0
    st, _, js = api("POST", "/v1/customers", {"firstName": "Ole", "isCompany": True,
                                              "company": {"vatNumber": "DK13585629"}})
    assert st == 400, js
    d = js["error"]["details"][0]
    assert d["field"] == "company.vatNumber" and "check digit is wrong" in d["description"], js


def test_vies_errors_are_unavailable_never_invalid():
    cases = {}
    for code, http in (("MS_MAX_CONCURRENT_REQ", 200), ("GLOBAL_MAX_CONCURRENT_REQ", 500),
                       ("SERVICE_UNAVAILABLE", 500), ("TIMEOUT", 500)):
        vat = _de()
        cases[vat] = code
        _fake("POST", "/_fake/numbers", {vat: {"error": code, "http": http}})
    for vat, code in cases.items():
        st, _, js = _lookup({"vatNumber": vat})
        assert st == 503, (code, js)
        d = js["error"]["details"][0]
        assert d["field"] == "vatNumber" and d["reason"] == code, js
        assert "retry in" in js["error"]["message"], js
    # INVALID_INPUT from VIES is the caller's.
    vat = _de()
    _fake("POST", "/_fake/numbers", {vat: {"error": "INVALID_INPUT", "http": 400}})
    st, _, js = _lookup({"vatNumber": vat})
    assert st == 400 and js["error"]["details"][0]["reason"] == "INVALID_INPUT", js
    # Nothing of that was kept: once VIES answers, so does the service.
    vat = next(iter(cases))
    _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Back GmbH",
                                           "address": "Weg 1\n80331 München"}})
    st, _, js = _lookup({"vatNumber": vat})
    assert st == 200 and js["valid"] is True and not js.get("fromCache"), js


def test_a_slow_vies_times_out_as_unavailable_and_slows_nothing_else():
    slow = _de()
    # The fake holds this number's call until released: slower than any timeout.
    _fake("POST", "/_fake/numbers", {slow: {"valid": True, "name": "Slow AG", "hold": True}})
    out = {}
    t = threading.Thread(target=lambda: out.update(r=_lookup({"vatNumber": slow})))
    t.start()
    try:
        wait_until(lambda: _fake("GET", "/_fake/held").get(slow) == 1, 10,
                   what="the slow call under way")
        # Meanwhile other look-ups are answered: the slow call is still held.
        quick = _de()
        _fake("POST", "/_fake/numbers", {quick: {"valid": True, "name": "Quick GmbH",
                                                 "address": "Gasse 2\n1010 Wien"}})
        st, _, js = _lookup({"vatNumber": quick})
        assert st == 200 and js["name"] == "Quick GmbH", js
        assert _fake("GET", "/_fake/held").get(slow) == 1, "the quick one waited for the slow one"
        t.join(60)
        # The service gave up (CRM_VIES_TIMEOUT_MS): unavailable, not invalid.
        st, _, js = out["r"]
        assert st == 503 and js["error"]["details"][0]["reason"] == "TIMEOUT", js
    finally:
        _fake("POST", "/_fake/release", {"vat": slow})


def test_concurrent_lookups_of_one_number_make_one_call():
    vat = _de()
    _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Once GmbH",
                                           "address": "Platz 3\n20095 Hamburg", "delay_ms": 500}})
    results = []
    lock = threading.Lock()

    def ask():
        r = _lookup({"vatNumber": vat})
        with lock:
            results.append(r)

    threads = [threading.Thread(target=ask) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 100
    assert all(st == 200 and js["name"] == "Once GmbH" for st, _, js in results), \
        [r for r in results if r[0] != 200][:3]
    assert _calls(vat) == 1, _calls(vat)


def test_an_unavailable_member_state_is_backed_off_then_asked_again():
    vat = _pl()
    _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Pracownia sp. z o.o.",
                                           "address": "ul. Długa 5\n31-539 Kraków"}})
    _fake("POST", "/_fake/countries", {"PL": False})
    try:
        st, _, js = _lookup({"vatNumber": vat})
        assert st == 503 and js["error"]["details"][0]["reason"] == "MS_UNAVAILABLE", js
        # Asked again at once: answered without a call while the state is backed off.
        st, _, js = _lookup({"vatNumber": vat})
        assert st == 503 and js["error"]["details"][0]["reason"] == "MS_UNAVAILABLE", js
        assert _calls(vat) == 1
        # The backoff is shared by every copy, in PostgreSQL: a new process (as another
        # copy would) does not ask either.
        assert psql_rows("SELECT seconds FROM company.state_backoff WHERE cc = 'PL'") == [("30",)]
        restart("company")
        st, _, js = _lookup({"vatNumber": vat})
        assert st == 503 and js["error"]["details"][0]["reason"] == "MS_UNAVAILABLE", js
        assert _calls(vat) == 1
    finally:
        _fake("POST", "/_fake/countries", {"PL": True})
    # check-status says PL is back (the service asks it while a state waits): answered.
    def answered():
        st, _, js = _lookup({"vatNumber": vat})
        return st == 200 and js

    js = wait_until(answered, 60, interval=1, what="PL asked again after check-status")
    assert (js["postalCode"], js["city"]) == ("31-539", "Kraków"), js
    assert psql_rows("SELECT cc FROM company.state_backoff WHERE cc = 'PL'") == []


def test_ui_download_data_fills_the_company_and_says_when_vies_is_down():
    from test_ui import SHOTS, _browser, _no_js_errors, _open, _sign_in

    vat = _de()
    _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Größmann & Söhne GmbH",
                                           "address": "Schloßstraße 7\n10115 Berlin"}})
    down = _pl()
    with _browser("vat-download") as b:
        _sign_in(b)
        _open(b, "/customers/new")
        b.wait("#f-firstName").send_keys("Jürgen")
        b.find("#f-isCompany").click()
        # A name staff typed is kept; the empty address is filled.
        b.wait("#f-company-name").send_keys("Größmann (our name)")
        b.find("#f-company-vatNumber").send_keys("%s %s" % (vat[:2].lower(), vat[2:]))
        b.find("#vat-download").click()
        b.wait_text("#vat-status", "VIES: valid")
        assert b.find("#f-company-vatNumber").prop("value") == vat
        assert b.find("#f-company-name").prop("value") == "Größmann (our name)"
        assert b.find("#f-company-address").prop("value") == "Schloßstraße 7\n10115 Berlin"
        assert "the address" in b.find("#vat-status").text
        # In German, with the member state down: said plainly, nothing changed.
        b.js("localStorage.setItem('crm.lang', 'de');")
        _fake("POST", "/_fake/countries", {"PL": False})
        try:
            _open(b, "/customers")
            _open(b, "/customers/new")
            b.wait("#f-isCompany").click()
            assert b.wait("#vat-download").text == "Daten abrufen"
            b.find("#f-company-vatNumber").send_keys(down)
            b.find("#vat-download").click()
            b.wait_text("#vat-status", "VIES kann die Nummer gerade nicht prüfen (MS_UNAVAILABLE)")
            assert b.find("#f-company-name").prop("value") == ""
        finally:
            _fake("POST", "/_fake/countries", {"PL": True})
            b.js("localStorage.removeItem('crm.lang');")
        # At 390 px the form still fits.
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        overflow = b.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        wide = b.js("""
            const w = document.documentElement.clientWidth;
            return Array.from(document.querySelectorAll('body *'))
              .filter(el => el.getBoundingClientRect().right > w + 1)
              .slice(0, 8).map(el => el.tagName + '.' + el.className + '#' + el.id + ' '
                               + Math.round(el.getBoundingClientRect().right));""")
        assert overflow <= 1, (overflow, wide)
        b.full_screenshot(os.path.join(SHOTS, "vat-download-narrow.png"))
        _no_js_errors(b)


def test_lookup_refuses_bad_input_naming_the_field():
    # Wrong types, too long, not UTF-8, unknown fields: 400 before any call.
    for raw, field in ((b'{"vatNumber": 123}', "vatNumber"),
                       (b'{"vatNumber": ["DE123456789"]}', "vatNumber"),
                       (('{"vatNumber": "DE%s"}' % ("1" * 300)).encode(), "vatNumber"),
                       (b'{"countryCode": "DE", "number": "12345678\\u0000"}', None),
                       (b'{"vatNumber": "DE12345678\xff"}', None),
                       (b'{"vatNumber": "DE123456789", "nonsense": 1}', None),
                       (b'not json', None)):
        st, _, js = api("POST", "/v1/company:lookup", raw=raw,
                        headers={"Content-Type": "application/json"})
        assert st == 400, (raw, st, js)
        if field:
            assert js["error"].get("details", [{}])[0].get("field") == field, (raw, js)


# ------------------------------------------------------------------ verifyVat


def _company_customer(vat, name="", address=""):
    st, _, c = api("POST", "/v1/customers", {
        "firstName": "Vera", "lastName": "Verify", "isCompany": True,
        "company": {"vatNumber": vat, "name": name, "address": address}})
    assert st == 201, c
    return c


def _verify(cid, fill=None):
    return api("POST", "/v1/customers/%s:verifyVat" % cid, {} if fill is None else {"fill": fill})


def _vat_check(c):
    return (c.get("company") or {}).get("vatCheck") or {}


def _timeline_vat(cid):
    st, _, js = api("GET", "/v1/customers/%s/timeline" % cid)
    assert st == 200, js
    return [e for e in js.get("entries", []) if e.get("type") == "customer.vat_checked"]


def test_verify_vat_records_the_status_with_its_evidence_and_fills_the_company():
    vat = _de()
    _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Prüfwerk GmbH",
                                           "address": "Am Markt 1\n04109 Leipzig"}})
    c = _company_customer(vat, name="Prüfwerk (as we call them)")
    assert _vat_check(c).get("status", "UNVERIFIED") == "UNVERIFIED"
    st, _, js = _verify(c["id"], fill=True)
    assert st == 200, js
    v = _vat_check(js)
    assert v["status"] == "VALID" and v["vatNumber"] == vat, v
    assert v["checkedAt"] and v["requestDate"] and v["name"] == "Prüfwerk GmbH", v
    assert json.loads(v["raw"])["valid"] is True, v
    # What staff typed stays; the empty address is filled and remembered as the fill.
    assert js["company"]["name"] == "Prüfwerk (as we call them)", js
    assert js["company"]["address"] == "Am Markt 1\n04109 Leipzig", js
    assert v["filledAddress"] == "Am Markt 1\n04109 Leipzig" and not v.get("filledName"), v
    # The client cannot set the status itself.
    st, _, js2 = api("PATCH", "/v1/customers/" + c["id"],
                     {"company": {"vatNumber": vat, "name": js["company"]["name"],
                                  "address": js["company"]["address"],
                                  "vatCheck": {"status": "INVALID"}}})
    assert st == 200 and _vat_check(js2)["status"] == "VALID", js2
    # In the audit, and readably in the timeline.
    st, _, audit = api("GET", "/v1/customers/%s/audit" % c["id"])
    assert st == 200 and any(e["action"] == "vat_checked" for e in audit["entries"]), audit
    rows = wait_until(lambda: _timeline_vat(c["id"]), 20, what="the check in the timeline")
    assert rows[0]["vatCheck"]["status"] == "VALID" and not rows[0]["vatCheck"].get("raw"), rows
    # A changed number is unverified again.
    other = _de()
    st, _, js3 = api("PATCH", "/v1/customers/" + c["id"], {"company": {
        "vatNumber": other, "name": js["company"]["name"], "address": js["company"]["address"]}},
    )
    assert st == 200, js3
    assert _vat_check(js3).get("status", "UNVERIFIED") == "UNVERIFIED", js3
    # The fill still knows the address came from VIES: the next fill replaces it.
    _fake("POST", "/_fake/numbers", {other: {"valid": True, "name": "Neu AG",
                                             "address": "Ring 2\n50667 Köln"}})
    st, _, js4 = _verify(c["id"], fill=True)
    assert st == 200 and _vat_check(js4)["status"] == "VALID", js4
    assert js4["company"]["address"] == "Ring 2\n50667 Köln", js4
    assert js4["company"]["name"] == "Prüfwerk (as we call them)", js4


def test_verify_vat_invalid_and_without_a_number():
    vat = _de()  # unknown to the fake: invalid
    c = _company_customer(vat)
    st, _, js = _verify(c["id"], fill=True)
    assert st == 200 and _vat_check(js)["status"] == "INVALID", js
    assert not js["company"].get("name"), js  # nothing filled from an invalid number
    st, _, c2 = api("POST", "/v1/customers", {"firstName": "No", "lastName": "Vat"})
    assert st == 201
    st, _, js = _verify(c2["id"])
    assert st == 400 and js["error"]["details"][0]["field"] == "company.vatNumber", js
    st, _, js = _verify("00000000-0000-4000-8000-000000000000")
    assert st == 404, js
    st, _, js = api("POST", "/v1/customers/%s:verifyVat" % c["id"], {"fill": "yes"})
    assert st == 400 and js["error"]["details"][0]["field"] == "fill", js


def test_verify_vat_blocked_number_is_unavailable_not_retried():
    vat = _de()
    _fake("POST", "/_fake/numbers", {vat: {"error": "VAT_BLOCKED"}})
    c = _company_customer(vat)
    st, _, js = _verify(c["id"])
    assert st == 200, js
    v = _vat_check(js)
    assert v["status"] == "UNAVAILABLE" and v["errorCode"] == "VAT_BLOCKED", v
    assert psql_rows("SELECT count(*) FROM company.vat_retries WHERE customer_id = '%s'"
                     % c["id"])[0][0] == "0"


def test_a_pending_check_is_retried_until_vies_answers_also_across_a_restart():
    vat = _de()
    _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Geduld KG",
                                           "address": "Warteweg 3\n01067 Dresden"}})
    c = _company_customer(vat)
    _fake("POST", "/_fake/down", {"down": True})
    try:
        st, _, js = _verify(c["id"], fill=True)
        assert st == 200, js
        v = _vat_check(js)
        assert v["status"] == "PENDING" and v["errorCode"] == "SERVICE_UNAVAILABLE", v
        assert not js["company"].get("name"), js
        # Retried in the background while VIES is down: still pending, asked again.
        wait_until(lambda: _calls(vat) >= 3, 30, what="retries while VIES is down")
        st, _, now = api("GET", "/v1/customers/" + c["id"])
        assert _vat_check(now)["status"] == "PENDING", now
        # The service restarts in between; the queue is in PostgreSQL.
        restart("company")
    finally:
        _fake("POST", "/_fake/down", {"down": False})

    def valid():
        st, _, got = api("GET", "/v1/customers/" + c["id"])
        return st == 200 and _vat_check(got).get("status") == "VALID" and got

    got = wait_until(valid, 60, interval=0.5, what="the pending check to become VALID")
    assert got["company"]["name"] == "Geduld KG", got
    assert got["company"]["address"] == "Warteweg 3\n01067 Dresden", got
    rows = wait_until(lambda: [r for r in _timeline_vat(c["id"])
                               if r["vatCheck"]["status"] == "VALID"], 20,
                      what="the retried check in the timeline")
    assert rows[0]["actor"] == "VIES check (automatic retry)", rows
    wait_until(lambda: psql_rows("SELECT count(*) FROM company.vat_retries WHERE customer_id = "
                                 "'%s'" % c["id"])[0][0] == "0", 10, what="the retry row gone")


def test_the_tenants_own_vat_number_gets_a_consultation_number():
    st, _, s = api("PATCH", "/v1/settings", {"vatNumber": "xx123"})
    assert st == 400 and s["error"]["details"][0]["field"] == "vatNumber", s
    st, _, s = api("PATCH", "/v1/settings", {"vatNumber": "pl 526-025-02-74"})
    assert st == 200 and s["vatNumber"] == "PL5260250274", s
    try:
        vat = _de()
        _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Beleg GmbH",
                                               "address": "Hof 4\n80331 München"}})
        c = _company_customer(vat)
        st, _, js = _verify(c["id"])
        assert st == 200, js
        v = _vat_check(js)
        assert v["status"] == "VALID" and v["consultationNumber"].startswith("WAPI"), v
        assert json.loads(v["raw"])["requestIdentifier"] == v["consultationNumber"], v
        rows = wait_until(lambda: _timeline_vat(c["id"]), 20, what="the check in the timeline")
        assert rows[0]["vatCheck"]["consultationNumber"] == v["consultationNumber"], rows
        # A look-up that asks VIES has one too; one from the cache has none (it was
        # another call's evidence).
        other = _de()
        st, _, js = _lookup({"vatNumber": other})
        assert st == 200 and js["consultationNumber"].startswith("WAPI"), js
        st, _, js = _lookup({"vatNumber": other})
        assert st == 200 and js["fromCache"] and not js.get("consultationNumber"), js
    finally:
        st, _, s = api("PATCH", "/v1/settings", {"vatNumber": ""}, headers={})
        assert st == 200 and not s.get("vatNumber"), s


def test_ui_card_shows_the_vat_status_and_verifies_again_and_a_pending_download():
    from test_ui import SHOTS, _browser, _no_js_errors, _open, _sign_in

    vat = _de()
    _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Karten GmbH",
                                           "address": "Allee 9\n28195 Bremen"}})
    c = _company_customer(vat, name="Karten GmbH")
    down = _pl()
    _fake("POST", "/_fake/numbers", {down: {"valid": True, "name": "Cierpliwa sp. z o.o.",
                                            "address": "ul. Krótka 2\n00-001 Warszawa"}})
    with _browser("vat-card") as b:
        _sign_in(b)
        _open(b, "/customers/" + c["id"])
        assert b.wait("#vat-check-status").text == "Not verified"
        b.find("#vat-verify").click()
        b.wait_text("#vat-check-status", "Valid")
        assert "Karten GmbH" in b.find("#vat-check").text
        assert b.find("#vat-verify").text == "Verify again"
        # The check in the timeline, in words (once notes has taken the event in).
        wait_until(lambda: _timeline_vat(c["id"]), 20, what="the check in the timeline")
        _open(b, "/customers")
        _open(b, "/customers/" + c["id"])
        b.wait_text("#timeline", "VAT number %s checked with VIES: Valid" % vat)
        # In German: Download data while the member state is down says the check will be
        # retried; saved, the card shows it pending; VIES back, the retry fills the company.
        b.js("localStorage.setItem('crm.lang', 'de');")
        _fake("POST", "/_fake/countries", {"PL": False})
        try:
            _open(b, "/customers")
            _open(b, "/customers/new")
            b.wait("#f-firstName").send_keys("Zofia")
            b.find("#f-isCompany").click()
            b.wait("#f-company-vatNumber").send_keys(down)
            b.find("#vat-download").click()
            b.wait_text("#vat-status", "VIES kann die Nummer gerade nicht prüfen (MS_UNAVAILABLE)")
            assert "Nach dem Speichern wird die Prüfung automatisch wiederholt" in \
                b.find("#vat-status").text
            b.find("#save").click()
            b.wait_text("#vat-check-status", "Ausstehend")
            cid = b.js("return location.hash.split('/')[2];")
        finally:
            _fake("POST", "/_fake/countries", {"PL": True})

        def filled():
            st, _, got = api("GET", "/v1/customers/" + cid)
            return st == 200 and _vat_check(got).get("status") == "VALID" and got

        got = wait_until(filled, 90, interval=0.5, what="the pending check answered")
        assert got["company"]["name"] == "Cierpliwa sp. z o.o.", got
        wait_until(lambda: [r for r in _timeline_vat(cid) if r["vatCheck"]["status"] == "VALID"],
                   20, what="the answered check in the timeline")
        _open(b, "/customers")
        _open(b, "/customers/" + cid)
        b.wait_text("#vat-check-status", "Gültig")
        assert b.find("#vat-verify").text == "Erneut prüfen"
        b.wait_text("#timeline", "bei VIES geprüft: Gültig")
        # At 390 px the card still fits.
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        overflow = b.js("return document.documentElement.scrollWidth - "
                        "document.documentElement.clientWidth;")
        wide = b.js("""
            const w = document.documentElement.clientWidth;
            return Array.from(document.querySelectorAll('body *'))
              .filter(el => el.getBoundingClientRect().right > w + 1 && !el.closest('.table-scroll'))
              .slice(0, 8).map(el => el.tagName + '.' + el.className + '#' + el.id + ' '
                               + Math.round(el.getBoundingClientRect().right));""")
        assert overflow <= 1, (overflow, wide)
        b.full_screenshot(os.path.join(SHOTS, "vat-card-narrow.png"))
        b.js("localStorage.removeItem('crm.lang');")
        _no_js_errors(b)


def _metric_sum(body, name, **labels):
    """The sum over every instance of a metric's samples with these labels."""
    total = 0.0
    for line in body.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, value = line.rsplit(" ", 1)
        if all('%s="%s"' % kv in head for kv in labels.items()):
            total += float(value)
    return total


def test_metrics_count_vies_calls_by_result_with_their_latency():
    def metrics():
        st, _, body = api("GET", "/metrics", key=None)
        assert st == 200
        return body.decode() if isinstance(body, bytes) else body

    before = metrics()
    valid, down = _de(), _de()
    _fake("POST", "/_fake/numbers", {valid: {"valid": True, "name": "Mess GmbH"},
                                     down: {"error": "MS_MAX_CONCURRENT_REQ", "http": 200}})
    assert _lookup({"vatNumber": valid})[0] == 200
    assert _lookup({"vatNumber": down})[0] == 503
    after = metrics()
    assert "# TYPE crm_vies_calls_total counter" in after
    assert "# TYPE crm_vies_call_duration_seconds histogram" in after
    for result in ("valid", "MS_MAX_CONCURRENT_REQ"):
        assert _metric_sum(after, "crm_vies_calls_total", result=result) == \
            _metric_sum(before, "crm_vies_calls_total", result=result) + 1, result
    count = _metric_sum(after, "crm_vies_call_duration_seconds_count")
    assert count == _metric_sum(before, "crm_vies_call_duration_seconds_count") + 2
    assert _metric_sum(after, "crm_vies_call_duration_seconds_bucket", le="+Inf") == count
    # A cached answer is no call.
    assert _lookup({"vatNumber": valid})[0] == 200
    assert _metric_sum(metrics(), "crm_vies_call_duration_seconds_count") == count


def test_record_vat_check_over_the_bus_refuses_what_it_cannot_keep():
    from crm import TENANT, crmctl_run

    vat = _de()
    c = _company_customer(vat)

    def record(check, fill=False):
        r = crmctl_run(["call", "customers", "RecordVatCheck",
                        json.dumps({"id": c["id"], "check": check, "fill": fill}),
                        "--tenant", TENANT])
        return json.loads(r.stdout)

    out = record({"status": "VALID", "vatNumber": vat, "raw": "x" * (64 * 1024 + 1),
                  "errorCode": "E" * 65})
    assert out["status"] == "INVALID_ARGUMENT", out
    fields = sorted(d["field"] for d in out["details"])
    assert fields == ["check.errorCode", "check.raw"], out
    out = record({"status": "VALID"})
    assert out["status"] == "INVALID_ARGUMENT" and out["details"][0]["field"] == "check.vatNumber"
    # A check of a number the customer no longer has is refused: it changed meanwhile.
    out = record({"status": "VALID", "vatNumber": _de()})
    assert out["status"] == "FAILED_PRECONDITION", out
    out = record({"status": "VALID", "vatNumber": vat, "raw": "x" * (64 * 1024),
                  "name": "Grenz GmbH"}, fill=True)
    assert out["status"] == "OK" and out["body"]["company"]["name"] == "Grenz GmbH", out


def test_a_requester_vies_refuses_makes_the_check_unavailable_not_retried():
    ours = _pl()
    _fake("POST", "/_fake/numbers", {ours: {"valid": False}})
    st, _, s = api("PATCH", "/v1/settings", {"vatNumber": ours})
    assert st == 200, s
    try:
        vat = _de()
        _fake("POST", "/_fake/numbers", {vat: {"valid": True, "name": "Prüfling GmbH"}})
        c = _company_customer(vat)
        st, _, js = _verify(c["id"])
        assert st == 200, js
        v = _vat_check(js)
        assert v["status"] == "UNAVAILABLE" and v["errorCode"] == "INVALID_REQUESTER_INFO", v
        assert psql_rows("SELECT count(*) FROM company.vat_retries WHERE customer_id = '%s'"
                         % c["id"])[0][0] == "0"
        st, _, js = _lookup({"vatNumber": _de()})
        assert st == 503 and js["error"]["details"][0]["reason"] == "INVALID_REQUESTER_INFO", js
    finally:
        st, _, s = api("PATCH", "/v1/settings", {"vatNumber": ""})
        assert st == 200, s


def test_the_retry_queue_hands_a_row_to_one_claimer_at_a_time():
    """company.claim_vat_retries, as each copy's tick calls it: a claimed row is not
    claimed again while its lease runs, nor while another session holds it locked
    (SKIP LOCKED), and is claimed again once the lease ran out. The company service is
    stopped meanwhile, so that only the test claims."""
    import subprocess
    import uuid

    import crm

    ids = [str(uuid.uuid4()) for _ in range(3)]
    crm.ctl(["stop", "company:*"], check=True)
    holder = None
    try:
        psql("INSERT INTO company.vat_retries (tenant_id, customer_id, vat_number, next_at) "
             "SELECT '%s', id::uuid, 'DE136695976', now() - interval '1 second' "
             "FROM unnest(ARRAY['%s']) id" % (crm.TENANT, "','".join(ids)))

        def claim():
            rows = psql_rows("SELECT customer_id FROM company.claim_vat_retries(100, 60)")
            return sorted(r[0] for r in rows if r[0] in ids)

        # Another session holds the first row (as a copy in the middle of its claim would).
        holder = subprocess.Popen(
            [crm.PSQL, "-X", "-q", "-A", "-t", "-d", crm.DATABASE_URL], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        holder.stdin.write("BEGIN; SELECT 1 FROM company.vat_retries WHERE customer_id = '%s' "
                           "FOR UPDATE; SELECT 'held';\n" % ids[0])
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "1"
        assert holder.stdout.readline().strip() == "held"
        assert claim() == sorted(ids[1:]), "the locked row was taken, or a free one was not"
        assert claim() == [], "a leased row was claimed twice"
        holder.stdin.write("COMMIT;\n")
        holder.stdin.close()
        holder.wait(10)
        holder = None
        assert claim() == [ids[0]]
        # A claimer that died: its lease runs out and the row is claimed again.
        psql("UPDATE company.vat_retries SET leased_until = now() - interval '1 second' "
             "WHERE customer_id = '%s'" % ids[1])
        assert claim() == [ids[1]]
    finally:
        if holder:
            holder.kill()
            holder.wait(10)
        psql("DELETE FROM company.vat_retries WHERE customer_id IN ('%s')" % "','".join(ids))
        crm.ctl(["start", "company:*"], check=True)
        crm.wait_ready(60)
