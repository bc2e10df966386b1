"""A return's credit to the balance that customers refused for good (FAILED):
staff try it again once the cause is gone (DONE once, never a second credit)
or mark it settled (paid another way: who and when, no credit); both on the
timeline and on the purchase (docs/visits.md, "A credit refused for good")."""
import hashlib
import uuid

import crm
from crm import api, unique, unique_email
from test_purchases import _action, _entries_of, _money, _order, _purchase
from test_visits import _key, _tenant


def _return_id(tenant, oid, before=0):
    """The id the next return of the store's order gets (notes_purchases_store_lock)."""
    return str(uuid.UUID(hashlib.md5(("%s/store/%s/%d" % (tenant, oid, before)).encode())
                         .hexdigest()))


def _failed_credit(tenant, key):
    """A return to the balance whose credit customers refuses for good: the
    store posted the return's reference to another customer's wallet first
    (a mistake). (customer, order, return answer, the mistaken entry's id)."""
    cid, oid = _order(key=key)
    st, _, other = api("POST", "/v1/customers", {"firstName": "Ola", "lastName": unique("Other"),
                                                 "email": unique_email("ola")}, key=key)
    assert st == 201, other
    reference = "purchase.returned:" + _return_id(tenant, oid)
    st, _, wrong = api("POST", "/v1/customers/%s/wallet:adjust" % other["id"],
                       {"kind": "WALLET_KIND_MONEY", "amount": "100", "reason": "store credit",
                        "source": "WALLET_SOURCE_STORE", "reference": reference}, key=key)
    assert st == 200, wrong
    st, _, r = _action(cid, oid, "return", {"amountMinor": "1500", "refundToBalance": True,
                                            "reason": "Store credit"}, key=key)
    assert st == 200, r
    assert r["reference"] == reference, r
    assert r["walletCredit"] == "FAILED" and "already posted" in r["walletCreditError"], r
    credit = _purchase(cid, oid, key=key)["credits"][0]
    assert credit["state"] == "FAILED" and credit["returnId"] == r["actionId"], credit
    assert credit["error"] == r["walletCreditError"] and credit["amount"]["amountMinor"] == "1500"
    return cid, oid, r, wrong["entry"]["id"]


def _timeline_types(cid, key):
    st, _, js = api("GET", "/v1/customers/%s/timeline" % cid, key=key)
    assert st == 200, js
    return [e["type"] for e in js.get("entries", [])]


def test_retry_after_the_cause_is_fixed_credits_once():
    tenant = _tenant()
    key = _key(tenant)
    cid, oid, r, wrong = _failed_credit(tenant, key)
    before = _money(cid, key)
    body = {"returnId": r["actionId"]}
    # The cause still there: FAILED again, with customers' reason.
    st, _, again = _action(cid, oid, "retryCredit", body, key=key)
    assert st == 200 and again["walletCredit"] == "FAILED", again
    assert "already posted" in again["walletCreditError"]
    assert _money(cid, key) == before
    # The mistaken entry corrected (its reference was not the return's), then tried again.
    crm.psql("UPDATE customers.wallet_entries SET reference = 'mistaken' WHERE id::text = '%s'"
             % wrong)
    st, _, done = _action(cid, oid, "retryCredit", body, key=key)
    assert st == 200 and done["walletCredit"] == "DONE", done
    assert done["walletEntry"]["amount"] == "1500"
    assert done["walletEntry"]["reference"] == r["reference"]
    assert _money(cid, key) == before + 1500
    credit = _purchase(cid, oid, key=key)["credits"][0]
    assert credit["state"] == "DONE" and not credit.get("error"), credit
    # Once more: refused (412), never a second credit.
    st, _, err = _action(cid, oid, "retryCredit", body, key=key)
    assert st == 412 and "made already" in err["error"]["message"], err
    assert _money(cid, key) == before + 1500
    assert len(_entries_of(cid, r["reference"], key)) == 1
    # Nor may a credit made be marked settled.
    st, _, err = _action(cid, oid, "settleCredit", body, key=key)
    assert st == 412, err
    assert _timeline_types(cid, key).count("purchase.credit_retried") == 2


def test_settle_by_hand_records_who_and_when_and_credits_nothing():
    tenant = _tenant()
    key = _key(tenant)
    cid, oid, r, _ = _failed_credit(tenant, key)
    before = _money(cid, key)
    body = {"returnId": r["actionId"]}
    st, _, s = _action(cid, oid, "settleCredit", body, key=key)
    assert st == 200 and s["walletCredit"] == "SETTLED", s
    credit = next(c for c in s["purchase"]["credits"] if c["returnId"] == r["actionId"])
    assert credit["state"] == "SETTLED" and credit["settledBy"] and credit["settledAt"], credit
    assert _money(cid, key) == before
    # Settled: no retry, no second settling.
    for verb in ("retryCredit", "settleCredit"):
        st, _, err = _action(cid, oid, verb, body, key=key)
        assert st == 412 and "settled by hand" in err["error"]["message"], err
    assert "purchase.credit_settled" in _timeline_types(cid, key)


def test_bad_requests():
    tenant = _tenant()
    key = _key(tenant)
    cid, oid = _order(key=key)
    # No such return (a malformed id, an id of nothing): 404.
    for rid in ("", "nope", "00000000-0000-4000-8000-000000000000"):
        st, _, err = _action(cid, oid, "retryCredit", {"returnId": rid}, key=key)
        assert st == 404, err
    # A return that did not go to the balance has no credit.
    st, _, r = _action(cid, oid, "return", {"amountMinor": "100"}, key=key)
    assert st == 200, r
    st, _, err = _action(cid, oid, "settleCredit", {"returnId": r["actionId"]}, key=key)
    assert st == 404, err
    # Another customer's purchase: 404.
    cid2, _ = _order(key=key)
    st, _, err = _action(cid2, oid, "retryCredit", {"returnId": r["actionId"]}, key=key)
    assert st == 404, err
    # A read-only key may not.
    ro = _key(tenant, role="readonly")
    st, _, err = _action(cid, oid, "retryCredit", {"returnId": r["actionId"]}, key=ro)
    assert st == 403, err
