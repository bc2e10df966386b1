"""The wallet: money on a customer's account and loyalty points as a ledger
whose balances never go below zero (also under concurrent spends from many
connections), idempotent postings (Idempotency-Key, and source + reference
for the booking system and the store), gift vouchers (issued, redeemed once,
expired, wrong codes refused alike and rate limited), the loyalty rule,
entries in the customer's timeline, tenants kept apart, and scopes."""
import datetime as dt
import json
import re
import threading
import uuid

import crm
from crm import api, psql, q, unique, unique_email, wait_until

CODE = re.compile(r"^[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{4}){3}$")


def _fields(err):
    """The fields an error's violations name."""
    return [v.get("field") for d in err.get("error", {}).get("details", [])
            for v in d.get("fieldViolations", [d])]


def _tenant(country="PL"):
    return crm.crmctl(["tenant", "create", unique("Wallet"), "--country", country]).strip()


def _key(tenant, role="admin", scopes=None):
    args = ["keys", "create", "--tenant", tenant, "--name", unique("key"), "--role", role]
    if scopes:
        args += ["--scopes", ",".join(scopes)]
    return crm.crmctl(args).strip()


def _customer(key):
    st, _, c = api("POST", "/v1/customers", {"firstName": "Wanda", "lastName": unique("W"),
                                             "email": unique_email("wanda")}, key=key)
    assert st == 201, (st, c)
    return c["id"]


def _adjust(key, cid, amount, kind="MONEY", reason="test", headers=None, **more):
    body = {"kind": kind, "amount": str(amount), "reason": reason}
    body.update(more)
    return api("POST", "/v1/customers/%s/wallet:adjust" % cid, body, key=key, headers=headers)


def _wallet(key, cid):
    st, _, w = api("GET", "/v1/customers/%s/wallet" % cid, key=key)
    assert st == 200, (st, w)
    return w


def _entries(key, cid, **params):
    st, _, js = api("GET", q("/v1/customers/%s/wallet/entries" % cid, **params), key=key)
    assert st == 200, (st, js)
    return js


def _loyalty(key, on, points=1, unit="100"):
    st, _, s = api("PATCH", "/v1/walletSettings",
                   {"loyaltyEnabled": on, "pointsPerUnit": points, "unitMinor": unit}, key=key)
    assert st == 200, (st, s)
    return s


def _issue(key, amount, **more):
    body = {"amount": str(amount)}
    body.update(more)
    st, _, v = api("POST", "/v1/vouchers", body, key=key)
    assert st == 201, (st, v)
    return v


def _redeem(key, cid, code):
    return api("POST", "/v1/customers/%s/wallet:redeemVoucher" % cid, {"code": code}, key=key)


def test_add_take_off_and_history():
    key = _key(_tenant("BG"))
    cid = _customer(key)
    w = _wallet(key, cid)
    # Bulgaria's currency is the euro; a new account holds nothing.
    assert w["currency"] == "EUR" and w.get("money", "0") == "0" and not w.get("loyaltyEnabled")
    st, _, r = _adjust(key, cid, 1000, reason="paid in cash")
    assert st == 200, r
    assert r["entry"]["amount"] == "1000" and r["entry"]["balanceAfter"] == "1000"
    assert r["entry"]["currency"] == "EUR" and r["entry"]["source"] == "STAFF"
    assert r["wallet"]["money"] == "1000"
    st, _, r = _adjust(key, cid, -250, reason="haircut")
    assert st == 200 and r["wallet"]["money"] == "750", r
    # Below zero: 409 naming the amount, nothing written.
    st, _, err = _adjust(key, cid, -751, reason="too much")
    assert st == 409, err
    assert "7.50 EUR" in err["error"]["message"] and "7.51 EUR" in err["error"]["message"]
    assert "amount" in _fields(err), err
    assert _wallet(key, cid)["money"] == "750"
    hist = _entries(key, cid)["entries"]
    assert [e["amount"] for e in hist] == ["-250", "1000"]
    assert hist[0]["reason"] == "haircut" and hist[0]["createdBy"]
    # Paging: one at a time.
    first = _entries(key, cid, pageSize=1)
    assert len(first["entries"]) == 1 and first["nextPageToken"]
    rest = _entries(key, cid, pageSize=1, pageToken=first["nextPageToken"])
    assert rest["entries"][0]["amount"] == "1000" and not rest.get("nextPageToken")
    # Bad input names the field; a staff change needs a reason.
    for body, field in (({"kind": "MONEY", "amount": "0", "reason": "x"}, "amount"),
                        ({"amount": "5", "reason": "x"}, "kind"),
                        ({"kind": "MONEY", "amount": "5"}, "reason"),
                        ({"kind": "MONEY", "amount": "5", "reason": "x" * 501}, "reason"),
                        ({"kind": "MONEY", "amount": "5", "reason": "x",
                          "source": "STORE"}, "reference"),
                        ({"kind": "MONEY", "amount": "5", "reason": "x",
                          "source": "VOUCHER", "reference": "v"}, "source")):
        st, _, err = api("POST", "/v1/customers/%s/wallet:adjust" % cid, body, key=key)
        assert st == 400, (body, err)
        assert field in _fields(err), (body, err)
    st, _, _ = _adjust(key, str(uuid.uuid4()), 5)
    assert st == 404


def test_concurrent_spends_never_overdraw():
    key = _key(_tenant())
    cid = _customer(key)
    assert _adjust(key, cid, 1000)[0] == 200
    results = []
    lock = threading.Lock()

    def spend():
        st, _, _ = _adjust(key, cid, -100, reason="spend")
        with lock:
            results.append(st)

    threads = [threading.Thread(target=spend) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(set(results)) == [200, 409], results
    assert results.count(200) == 10 and results.count(409) == 20
    assert _wallet(key, cid)["money"] == "0"
    amounts = [int(e["amount"]) for e in _entries(key, cid, pageSize=200)["entries"]]
    assert sum(amounts) == 0 and len(amounts) == 11


def test_idempotent_retries():
    key = _key(_tenant())
    cid = _customer(key)
    hk = {"Idempotency-Key": unique("idem")}
    st1, _, a = _adjust(key, cid, 500, headers=hk)
    st2, _, b = _adjust(key, cid, 500, headers=hk)
    assert st1 == st2 == 200 and a["entry"]["id"] == b["entry"]["id"]
    assert _wallet(key, cid)["money"] == "500"
    # The store's own reference: the second post is the first answered again.
    ref = unique("order")
    st, _, a = _adjust(key, cid, -200, reason="paid with balance", source="STORE",
                       reference=ref)
    assert st == 200 and not a.get("replayed"), a
    st, _, b = _adjust(key, cid, -200, reason="paid with balance", source="STORE",
                       reference=ref)
    assert st == 200 and b["replayed"] and b["entry"]["id"] == a["entry"]["id"], b
    assert _wallet(key, cid)["money"] == "300"
    # The same reference with another amount: 409 naming the reference.
    st, _, err = _adjust(key, cid, -100, reason="x", source="STORE", reference=ref)
    assert st == 409 and "reference" in err["error"]["message"], err


def test_loyalty_off_then_on_and_the_rule():
    key = _key(_tenant())
    cid = _customer(key)
    ref = unique("visit")
    earn = {"amountMinor": "1234", "source": "BOOKING", "reference": ref}
    # Off by default: earning and spending refused, the wallet says so.
    st, _, err = api("POST", "/v1/customers/%s/wallet:earnPoints" % cid, earn, key=key)
    assert st == 412 and "loyalty" in err["error"]["message"], err
    st, _, err = api("POST", "/v1/customers/%s/wallet:spendPoints" % cid, {"points": "1"}, key=key)
    assert st == 412, err
    st, _, err = _adjust(key, cid, 5, kind="POINTS")
    assert st == 412, err
    # On: 2 points per 5.00 spent; 12.34 earns 4.
    s = _loyalty(key, True, points=2, unit="500")
    assert s["loyaltyEnabled"] and s["pointsPerUnit"] == 2 and s["unitMinor"] == "500"
    st, _, r = api("POST", "/v1/customers/%s/wallet:earnPoints" % cid, earn, key=key)
    assert st == 200 and r["entry"]["amount"] == "4" and r["wallet"]["points"] == "4", r
    assert r["entry"]["reference"] == ref and r["entry"]["kind"] == "POINTS"
    # The same visit again: replayed, no second entry.
    st, _, again = api("POST", "/v1/customers/%s/wallet:earnPoints" % cid, earn, key=key)
    assert st == 200 and again["replayed"] and again["entry"]["id"] == r["entry"]["id"]
    # Less than a unit earns nothing; another currency is refused.
    st, _, r = api("POST", "/v1/customers/%s/wallet:earnPoints" % cid,
                   {"amountMinor": "499", "reference": unique("o")}, key=key)
    assert st == 200 and not r.get("entry") and r["wallet"]["points"] == "4", r
    st, _, err = api("POST", "/v1/customers/%s/wallet:earnPoints" % cid,
                     {"amountMinor": "1000", "currency": "EUR", "reference": unique("o")},
                     key=key)
    assert st == 400 and "PLN" in str(err), err
    # Spending: at most what there is.
    st, _, err = api("POST", "/v1/customers/%s/wallet:spendPoints" % cid,
                     {"points": "5", "reason": "discount"}, key=key)
    assert st == 409 and "4 points" in err["error"]["message"], err
    st, _, r = api("POST", "/v1/customers/%s/wallet:spendPoints" % cid,
                   {"points": "3", "reason": "discount"}, key=key)
    assert st == 200 and r["wallet"]["points"] == "1", r
    # Settings: bad values name their field; the currency is settled by money.
    st, _, err = api("PATCH", "/v1/walletSettings",
                     {"pointsPerUnit": 0}, key=key)
    assert st == 400 and "pointsPerUnit" in str(err), err
    st, _, err = api("PATCH", "/v1/walletSettings",
                     {"currency": "XXX"}, key=key)
    assert st == 400 and "currency" in str(err), err
    assert _adjust(key, cid, 100)[0] == 200
    st, _, err = api("PATCH", "/v1/walletSettings",
                     {"currency": "EUR"}, key=key)
    assert st == 412, err


def test_currency_follows_the_country_until_money_settles_it():
    key = _key(_tenant("NO"))
    st, _, s = api("GET", "/v1/walletSettings", key=key)
    assert st == 200 and s["currency"] == "NOK" and not s.get("loyaltyEnabled"), s
    st, _, s = api("PATCH", "/v1/walletSettings", {"currency": "eur"},
                   key=key)
    assert st == 200 and s["currency"] == "EUR", s


def test_vouchers_issue_redeem_once_expired_and_list():
    key = _key(_tenant())
    cid, other = _customer(key), _customer(key)
    until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)).date()
    v = _issue(key, 5000, note="Birthday", expiresOn=until.isoformat())
    code = v["code"]
    assert CODE.match(code), code
    assert v["voucher"]["codeHint"] == code[-4:] and v["voucher"]["state"] == "ISSUED"
    assert v["voucher"]["expiresAt"].startswith(
        (until + dt.timedelta(days=1)).isoformat() + "T00:00:00")
    # Only its hash is kept: the code is nowhere in the table.
    dump = psql("SELECT row_to_json(v)::text FROM customers.vouchers v WHERE id = '%s'"
                % v["voucher"]["id"])
    assert code.replace("-", "") not in dump and code not in dump
    # Typed loosely: lower case, spaces instead of dashes.
    st, _, r = _redeem(key, cid, code.lower().replace("-", " "))
    assert st == 200, r
    assert r["entry"]["amount"] == "5000" and r["entry"]["source"] == "VOUCHER"
    assert r["voucher"]["state"] == "REDEEMED" and r["voucher"]["customerId"] == cid
    assert r["wallet"]["money"] == "5000"
    # Once only.
    st, _, err = _redeem(key, other, code)
    assert st == 409 and "already redeemed" in err["error"]["message"], err
    assert _wallet(key, other).get("money", "0") == "0"
    # Expired.
    old = _issue(key, 1000)
    psql("UPDATE customers.vouchers SET expires_at = now() - interval '1 day' WHERE id = '%s'"
         % old["voucher"]["id"])
    st, _, err = _redeem(key, cid, old["code"])
    assert st == 412 and "expired" in err["error"]["message"], err
    assert _wallet(key, cid)["money"] == "5000"
    # The list: by state, redeemed by whom.
    st, _, lst = api("GET", "/v1/vouchers", key=key)
    assert st == 200
    states = {x["id"]: x for x in lst["vouchers"]}
    assert states[v["voucher"]["id"]]["state"] == "REDEEMED"
    assert states[v["voucher"]["id"]]["redeemedBy"]
    assert states[old["voucher"]["id"]]["state"] == "EXPIRED"
    st, _, lst = api("GET", q("/v1/vouchers", state="EXPIRED"), key=key)
    assert [x["id"] for x in lst["vouchers"]] == [old["voucher"]["id"]]
    # Issue: bad input names the field.
    for body, field in (({"amount": "0"}, "amount"),
                        ({"amount": "5", "expiresOn": "2020-01-01"}, "expiresOn"),
                        ({"amount": "5", "expiresOn": "2027-02-30"}, "expiresOn"),
                        ({"amount": "5", "expiresOn": "2099-01-01"}, "expiresOn"),
                        ({"amount": "5", "note": "n" * 501}, "note")):
        st, _, err = api("POST", "/v1/vouchers", body, key=key)
        assert st == 400 and field in str(err), (body, err)


def test_wrong_codes_are_refused_alike_and_rate_limited():
    tenant = _tenant()
    key, other_key = _key(tenant), _key(tenant)
    cid = _customer(key)
    good = _issue(key, 700)["code"]
    # A well-formed code that was never issued, and a mistyped one: the same 404.
    body = good.replace("-", "")
    never = body[:14] + ("3" if body[14] != "3" else "4")
    never += "23456789ABCDEFGHJKMNPQRSTUVWXYZ"[(sum((i + 1) * "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
                                                   .index(ch) for i, ch in enumerate(never)))
                                                 % 31]
    answers = set()
    for wrong in (never, good[:-1] + ("2" if good[-1] != "2" else "3"), "hello"):
        st, _, err = _redeem(key, cid, wrong)
        assert st == 404, err
        answers.add(err["error"]["message"])
    assert len(answers) == 1, answers
    for _ in range(7):
        assert _redeem(key, cid, "WRONG")[0] == 404
    # The eleventh try in the window: 429, even with the right code.
    st, _, err = _redeem(key, cid, good)
    assert st == 429, err
    # Another caller is not held back.
    st, _, r = _redeem(other_key, cid, good)
    assert st == 200 and r["wallet"]["money"] == "700", r


def _stream_seq():
    """The customers stream's newest seq (0 when none yet)."""
    return int(crm.psql("SELECT coalesce(max(seq), 0) FROM customers.outbox"))


def _voucher_events(voucher_id, after):
    """The customers stream's voucher.* events of one voucher after seq
    after (crmctl events: earlier ones may be gone with retention)."""
    out = crm.crmctl(["events", "--stream", "customers", "--from", str(after), "--idle-exit-ms",
                      "1000"], timeout=60)
    evs = [json.loads(line) for line in out.splitlines()]
    return [e for e in evs if e.get("voucher", {}).get("id") == voucher_id]


def test_cancelling_a_voucher():
    tenant = _tenant()
    key = _key(tenant)
    cid = _customer(key)
    v = _issue(key, 900, note="Gift")
    vid, code = v["voucher"]["id"], v["code"]
    # A reason is required, and has a limit.
    for body, why in (({}, "REQUIRED"), ({"reason": "  "}, "REQUIRED"),
                      ({"reason": "x" * 501}, "TOO_LONG")):
        st, _, err = api("POST", "/v1/vouchers/%s:cancel" % vid, body, key=key)
        assert st == 400 and _fields(err) == ["reason"] and why in json.dumps(err), (body, err)
    st, _, ok = api("POST", "/v1/vouchers/%s:cancel" % vid, {"reason": "x" * 500}, key=key)
    assert st == 200 and ok["state"] == "CANCELLED", ok
    # Cancelled: who, when, why; answered as it is when cancelled again.
    w = _issue(key, 400, note="For Anna")
    after = _stream_seq()
    st, _, c = api("POST", "/v1/vouchers/%s:cancel" % w["voucher"]["id"],
                   {"reason": "Sold by mistake"}, key=key)
    assert st == 200 and c["state"] == "CANCELLED" and c["cancelReason"] == "Sold by mistake", c
    assert c["cancelledAt"] and c["cancelledBy"], c
    st, _, again = api("POST", "/v1/vouchers/%s:cancel" % w["voucher"]["id"],
                       {"reason": "Another reason"}, key=key)
    assert st == 200 and again["cancelReason"] == "Sold by mistake" \
        and again["cancelledAt"] == c["cancelledAt"], again
    # The cancellation is on the customers stream, once (none for the second).
    evs = wait_until(lambda: _voucher_events(w["voucher"]["id"], after), timeout=20,
                     what="voucher.cancelled on the customers stream")
    assert [e["type"] for e in evs] == ["voucher.cancelled"], evs
    ev = evs[0]
    assert ev["stream"] == "customers" and ev["tenantId"] == tenant, ev
    assert ev["voucher"]["state"] == "CANCELLED", ev
    # What staff typed (the note, the reason) stays off the stream.
    assert "cancelReason" not in ev["voucher"] and "note" not in ev["voucher"], ev
    assert ev["voucher"]["amount"] == "400" and ev["voucher"]["currency"] == "PLN", ev
    assert ev["voucher"]["cancelledBy"] == c["cancelledBy"], ev
    assert ev["voucher"]["codeHint"] == w["voucher"]["codeHint"], ev
    # Its code now redeems nothing, with the very answer of a wrong code.
    st, _, wrong = _redeem(key, cid, "ABCD-EFGH-JKMN-PQRS")
    st2, _, err = _redeem(key, cid, w["code"])
    assert st == st2 == 404 and err == wrong, (err, wrong)
    st, _, err = _redeem(key, cid, code)
    assert st == 404 and err == wrong, err
    assert _wallet(key, cid)["money"] == "0"
    # A redeemed voucher cannot be cancelled: 409, and it stays redeemed.
    r = _issue(key, 300)
    assert _redeem(key, cid, r["code"])[0] == 200
    st, _, err = api("POST", "/v1/vouchers/%s:cancel" % r["voucher"]["id"],
                     {"reason": "Too late"}, key=key)
    assert st == 409 and "redeemed" in err["error"]["message"], err
    # An expired one that was never redeemed may be.
    old = _issue(key, 200)
    psql("UPDATE customers.vouchers SET expires_at = now() - interval '1 day' WHERE id = '%s'"
         % old["voucher"]["id"])
    st, _, c = api("POST", "/v1/vouchers/%s:cancel" % old["voucher"]["id"], {"reason": "Old"},
                   key=key)
    assert st == 200 and c["state"] == "CANCELLED", c
    # Unknown ids, another tenant's voucher: 404.
    st, _, _ = api("POST", "/v1/vouchers/%s:cancel" % uuid.uuid4(), {"reason": "x"}, key=key)
    assert st == 404
    other = _key(_tenant())
    st, _, _ = api("POST", "/v1/vouchers/%s:cancel" % _issue(key, 100)["voucher"]["id"],
                   {"reason": "x"}, key=other)
    assert st == 404
    # The list shows them under their own state.
    st, _, lst = api("GET", q("/v1/vouchers", state="CANCELLED"), key=key)
    assert st == 200 and sorted(x["id"] for x in lst["vouchers"]) == sorted(
        [vid, w["voucher"]["id"], old["voucher"]["id"]]), lst
    st, _, lst = api("GET", q("/v1/vouchers", state="ISSUED"), key=key)
    assert vid not in [x["id"] for x in lst.get("vouchers", [])], lst
    # Over the bus, as the booking system or a tool would call it.
    x = _issue(key, 100)
    out = crm.crmctl(["call", "customers", "CancelVoucher",
                      json.dumps({"id": x["voucher"]["id"], "reason": "bus"}), "--tenant", tenant])
    assert json.loads(out)["body"]["state"] == "CANCELLED", out
    assert _redeem(key, cid, x["code"])[0] == 404


def test_entries_in_the_timeline():
    key = _key(_tenant())
    cid = _customer(key)
    _loyalty(key, True)
    assert _adjust(key, cid, 1050, reason="gift")[0] == 200
    ref = unique("1234")
    st, _, _ = api("POST", "/v1/customers/%s/wallet:earnPoints" % cid,
                   {"amountMinor": "2500", "reference": ref}, key=key)
    assert st == 200

    def wallet_rows():
        st, _, js = api("GET", q("/v1/customers/%s/timeline" % cid, kind="WALLET"), key=key)
        assert st == 200, js
        rows = js.get("entries", [])
        return rows if len(rows) == 2 else None

    rows = wait_until(wallet_rows, timeout=20, what="two wallet entries in the timeline")
    assert {r["type"] for r in rows} == {"wallet.entry"}
    assert {r["kind"] for r in rows} == {"WALLET"}
    by_kind = {r["wallet"]["kind"]: r["wallet"] for r in rows}
    assert by_kind["MONEY"]["amount"] == "1050"
    assert by_kind["POINTS"]["amount"] == "25"
    assert by_kind["POINTS"]["reference"] == ref


def test_another_tenant_sees_nothing():
    key_a, key_b = _key(_tenant()), _key(_tenant())
    cid = _customer(key_a)
    assert _adjust(key_a, cid, 900)[0] == 200
    code = _issue(key_a, 300)["code"]
    st, _, _ = api("GET", "/v1/customers/%s/wallet" % cid, key=key_b)
    assert st == 404
    st, _, _ = api("GET", "/v1/customers/%s/wallet/entries" % cid, key=key_b)
    assert st == 404
    assert _adjust(key_b, cid, -900)[0] == 404
    st, _, lst = api("GET", "/v1/vouchers", key=key_b)
    assert st == 200 and not lst.get("vouchers"), lst
    # B's customer cannot take A's voucher.
    assert _redeem(key_b, _customer(key_b), code)[0] == 404
    assert _wallet(key_a, cid)["money"] == "900"


def test_scopes():
    tenant = _tenant()
    admin, readonly, staff = _key(tenant), _key(tenant, "readonly"), _key(tenant, "staff")
    cid = _customer(admin)
    assert _adjust(admin, cid, 100)[0] == 200
    # A read-only member reads, but neither changes money nor issues vouchers.
    assert _wallet(readonly, cid)["money"] == "100"
    assert _adjust(readonly, cid, 5)[0] == 403
    st, _, _ = api("POST", "/v1/vouchers", {"amount": "100"}, key=readonly)
    assert st == 403
    # Staff may issue; the loyalty settings are an admin's.
    assert _issue(staff, 100)["code"]
    st, _, _ = api("PATCH", "/v1/walletSettings",
                   {"loyaltyEnabled": True}, key=staff)
    assert st == 403
    # A store's key with customers:write earns and spends.
    store = _key(tenant, "service", scopes=["customers:read", "customers:write"])
    _loyalty(admin, True)
    st, _, r = api("POST", "/v1/customers/%s/wallet:earnPoints" % cid,
                   {"amountMinor": "300", "source": "STORE",
                    "reference": unique("o")}, key=store)
    assert st == 200 and r["entry"]["amount"] == "3", r


def test_deleting_the_customer_removes_the_ledger_and_the_reasons():
    key = _key(_tenant())
    cid = _customer(key)
    words = unique("private words")
    assert _adjust(key, cid, 100, reason=words)[0] == 200
    wait_until(lambda: api("GET", q("/v1/customers/%s/timeline" % cid, kind="WALLET"),
                           key=key)[2].get("entries"), timeout=20, what="the entry in the timeline")
    hits = ("SELECT (SELECT count(*) FROM customers.outbox WHERE position('%s'::bytea IN event) > 0)"
            " + (SELECT count(*) FROM notes.timeline WHERE details::text LIKE '%%%s%%')"
            % (words, words))
    assert psql(hits).strip() == "2"
    st, _, _ = api("DELETE", "/v1/customers/%s" % cid, key=key)
    assert st == 204
    assert psql("SELECT count(*) FROM customers.wallet_entries WHERE customer_id = '%s'"
                % cid).strip() == "0"
    # The event keeps its amount for the books, not what staff wrote.
    wait_until(lambda: psql(hits).strip() == "0", timeout=20, what="the reason erased")


def _phone_signed_in(b, key):
    """b as wide as a phone (390 px), signed in with key, on the customer list."""
    b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
    b.get(crm.URL + "/")
    b.wait("input[name=apiKey]").send_keys(key)
    b.find(".signin-card button[type=submit]").click()
    b.wait("#customer-table")


def _fits(b):
    """Nothing on the page is wider than the window."""
    overflow = b.js("return document.documentElement.scrollWidth - "
                    "document.documentElement.clientWidth;")
    wide = b.js("""
        const w = document.documentElement.clientWidth;
        return Array.from(document.querySelectorAll('body *'))
          .filter(el => el.getBoundingClientRect().right > w + 1 && !el.closest('.table-scroll'))
          .slice(0, 8).map(el => el.tagName + '.' + el.className + '#' + el.id);""")
    assert overflow <= 1, (overflow, wide)


def test_ui_card_adds_money_shows_history_and_redeems_at_390px_in_two_languages():
    import os
    from test_ui import SHOTS, _browser, _no_js_errors, _open

    key = _key(_tenant("BG"))
    cid = _customer(key)
    with _browser("wallet-card") as b:
        _phone_signed_in(b, key)
        # Issue a voucher: its code once, then the list.
        _open(b, "/vouchers")
        b.wait("#voucher-amount").send_keys("50")
        b.find("#voucher-note").send_keys("Birthday")
        b.find("#voucher-issue").click()
        code = b.wait("#voucher-new-code").text
        assert CODE.match(code), code
        b.wait_text("#voucher-table", "…" + code[-4:])
        assert "Can be redeemed" in b.find("#voucher-table").text
        _fits(b)
        _open(b, "/customers/" + cid)
        b.wait_text("#wallet-money", "0.00")
        # The business counts no points: no points button.
        assert not b.find("#wallet-points-open").displayed()
        # Add money with a reason; the history shows it.
        b.find("#wallet-money-open").click()
        b.wait("#wallet-amount").send_keys("10.50")
        b.find("#wallet-reason").send_keys("Paid in advance")
        b.find("#wallet-save").click()
        b.wait_text("#wallet-money", "10.50")
        b.wait_text("#wallet-entries", "Paid in advance")
        assert "+€10.50" in b.find("#wallet-entries").text
        # Too much taken off: said plainly, nothing changes.
        b.find("#wallet-direction").select("take")
        b.find("#wallet-amount").fill("11")
        b.find("#wallet-reason").fill("Too much")
        b.find("#wallet-save").click()
        b.wait_text("#wallet-adjust", "There is not that much on the account.")
        _fits(b)
        # A wrong code, then the right one typed in lower case.
        b.find("#wallet-redeem-open").click()
        b.wait("#voucher-code").send_keys("ABCD-EFGH-JKMN-PQRS")
        b.find("#voucher-redeem").click()
        b.wait_text("#wallet-redeem", "No voucher has this code")
        b.find("#voucher-code").fill(code.lower())
        b.find("#voucher-redeem").click()
        b.wait_text("#wallet-money", "60.50")
        b.full_screenshot(os.path.join(SHOTS, "wallet-card-narrow.png"))
        # In German, with loyalty points on: the money in German digits, the
        # points button, the history's sources, the timeline's lines.
        b.js("localStorage.setItem('crm.lang', 'de');")
        _open(b, "/settings")
        b.wait("#wallet-loyalty").click()
        b.find("#save-wallet").click()
        b.wait_text("#wallet-settings", "Einstellungen gespeichert")
        assert "1 Punkt je 1,00 € Umsatz" in b.find("#wallet-rule").text
        assert api("GET", "/v1/walletSettings", key=key)[2]["loyaltyEnabled"]
        assert api("POST", "/v1/customers/%s/wallet:earnPoints" % cid,
                   {"amountMinor": "2500", "reference": "1234"}, key=key)[0] == 200
        wait_until(lambda: len(api("GET", q("/v1/customers/%s/timeline" % cid, kind="WALLET"),
                                   key=key)[2].get("entries", [])) == 3,
                   timeout=20, what="three wallet entries in the timeline")
        try:
            _open(b, "/customers")
            _open(b, "/customers/" + cid)
            b.wait_text("#wallet-money", "60,50")
            b.wait_text("#wallet-points", "25")
            b.find("#wallet-money-open").click()
            b.wait_text("#wallet-entries", "Geschenkgutschein")
            b.find("#wallet-points-open").click()
            b.wait_text("#wallet-entries", "+25 Punkte")
            b.wait_text("#timeline", "10,50 € gutgeschrieben")
            b.wait_text("#timeline", "+25 Punkte (Shop · 1234)")
            _fits(b)
            b.full_screenshot(os.path.join(SHOTS, "wallet-card-narrow-de.png"))
            # The voucher list in German: redeemed, with who redeemed it.
            _open(b, "/vouchers")
            b.wait_text("#voucher-table", "Eingelöst")
            _fits(b)
        finally:
            b.js("localStorage.removeItem('crm.lang');")
        _no_js_errors(b)


def test_one_voucher_redeemed_at_once_by_many_goes_to_one_account():
    key = _key(_tenant())
    customers = [_customer(key) for _ in range(8)]
    code = _issue(key, 2500)["code"]
    results = {}
    lock = threading.Lock()

    def redeem(cid):
        st, _, _ = _redeem(key, cid, code)
        with lock:
            results[cid] = st

    threads = [threading.Thread(target=redeem, args=(c,)) for c in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results.values()) == [200] + [409] * 7, results
    winner = [c for c, st in results.items() if st == 200][0]
    assert [_wallet(key, c).get("money", "0") for c in customers].count("2500") == 1
    assert _wallet(key, winner)["money"] == "2500"
    # The same request again under its Idempotency-Key: the first answer, not a second credit.
    other = _issue(key, 100)["code"]
    hk = {"Idempotency-Key": unique("redeem")}
    body = {"code": other}
    url = "/v1/customers/%s/wallet:redeemVoucher" % winner
    st1, _, a = api("POST", url, body, key=key, headers=hk)
    st2, _, b = api("POST", url, body, key=key, headers=hk)
    assert st1 == st2 == 200 and a["entry"]["id"] == b["entry"]["id"]
    assert _wallet(key, winner)["money"] == "2600"


def test_the_store_earns_points_over_the_bus():
    tenant = _tenant()
    admin = _key(tenant)
    store = _key(tenant, "service", scopes=["customers:read", "customers:write"])
    cid = _customer(admin)
    _loyalty(admin, True)
    body = {"id": cid, "amountMinor": "4999", "source": "STORE", "reference": unique("order")}
    out = json.loads(crm.crmctl(["call", "customers", "EarnPoints", json.dumps(body),
                                 "--key", store]))
    assert out["status"] == "OK" and out["body"]["entry"]["amount"] == "49", out
    again = json.loads(crm.crmctl(["call", "customers", "EarnPoints", json.dumps(body),
                                   "--key", store]))
    assert again["status"] == "OK" and again["body"]["replayed"], again
    assert again["body"]["entry"]["id"] == out["body"]["entry"]["id"]
    assert _wallet(admin, cid)["points"] == "49"
    # Spending more than there is, over the bus: ALREADY_EXISTS naming the field.
    spend = {"id": cid, "points": "50", "source": "STORE", "reference": unique("order")}
    r = crm.crmctl_run(["call", "customers", "SpendPoints", json.dumps(spend), "--key", store])
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["status"] == "ALREADY_EXISTS", out
    assert "49 points" in out["message"], out


def test_ui_cancels_a_voucher_with_a_reason_at_390px_in_two_languages():
    from test_ui import _browser, _no_js_errors, _open

    key = _key(_tenant("DE"))
    first, second = _issue(key, 2500, note="Geburtstag"), _issue(key, 1000)
    redeemed = _issue(key, 700)
    assert _redeem(key, _customer(key), redeemed["code"])[0] == 200

    def row(v):
        return "#voucher-table tr[data-id='%s']" % v["voucher"]["id"]

    with _browser("voucher-cancel") as b:
        _phone_signed_in(b, key)
        _open(b, "/vouchers")
        b.wait(row(first) + " .voucher-cancel")
        # A redeemed voucher offers no cancel.
        assert not b.js("return !!document.querySelector(\"%s .voucher-cancel\");" % row(redeemed))
        # Asked first: the confirm waits for a reason; keeping it changes nothing.
        b.find(row(first) + " .voucher-cancel").click()
        b.wait("dialog .confirm-yes")
        assert "…" + first["voucher"]["codeHint"] in b.find("dialog h2").text
        assert not b.find("dialog .confirm-yes").enabled()
        _fits(b)
        b.find("dialog .confirm-no").click()
        assert not api("GET", q("/v1/vouchers", state="CANCELLED"), key=key)[2].get("vouchers")
        b.find(row(first) + " .voucher-cancel").click()
        b.wait("#voucher-cancel-reason").send_keys("Sold by mistake")
        b.find("dialog .confirm-yes").click()
        b.wait_text(row(first), "Cancelled")
        assert "Sold by mistake" in b.find(row(first)).text
        assert not b.js("return !!document.querySelector(\"%s .voucher-cancel\");" % row(first))
        _fits(b)
        st, _, lst = api("GET", q("/v1/vouchers", state="CANCELLED"), key=key)
        assert [v["cancelReason"] for v in lst["vouchers"]] == ["Sold by mistake"], lst
        # In German.
        b.js("localStorage.setItem('crm.lang', 'de');")
        _open(b, "/customers")
        _open(b, "/vouchers")
        b.wait_text(row(second), "Stornieren")
        b.find(row(second) + " .voucher-cancel").click()
        b.wait("dialog .confirm-yes")
        assert "Gutschein …%s stornieren?" % second["voucher"]["codeHint"] in b.find("dialog h2").text
        b.wait("#voucher-cancel-reason").send_keys("Doppelt ausgestellt")
        assert b.find("dialog .confirm-yes").text == "Gutschein stornieren"
        b.find("dialog .confirm-yes").click()
        b.wait_text(row(second), "Storniert")
        assert "Doppelt ausgestellt" in b.find(row(second)).text
        _fits(b)
        _no_js_errors(b)
    st, _, err = _redeem(key, _customer(key), second["code"])
    assert st == 404, err
