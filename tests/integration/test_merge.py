"""Merging two records of one customer (POST /v1/customers/{id}:merge,
customers.MergeCustomers; docs/api.md, "Merging two records"): the kept
record's values stay and its empty fields take the duplicate's, sets are
united, external ids move (the next booking under the duplicate's id lands on
the kept customer), the wallet's balances add up and money in two currencies
is refused, etags and idempotency hold, the duplicate's id answers 404 with
reason MERGED naming the kept one (through a chain too), the dry run writes
nothing, the customers stream carries customer.updated and customer.merged,
and search shows one customer afterwards."""
import random
import uuid

import crm
from crm import api, psql, q, unique, unique_email, wait_until
from test_docs_client import Bus, msg, system_key


def _make(key=crm.DEFAULT, **fields):
    st, hdr, c = api("POST", "/v1/customers", fields, key=key)
    assert st == 201, (st, c)
    return c


def _get(cid, key=crm.DEFAULT):
    return api("GET", "/v1/customers/" + cid, key=key)


def _merge(keep, dup, etag=None, dup_etag=None, headers=None, key=crm.DEFAULT, **more):
    body = {"duplicateId": dup}
    if dup_etag:
        body["duplicateEtag"] = dup_etag
    body.update(more)
    h = dict(headers or {})
    if etag:
        h["If-Match"] = '"%s"' % etag
    return api("POST", "/v1/customers/%s:merge" % keep, body, headers=h, key=key)


def _details(js):
    return [(d.get("field"), d.get("reason")) for d in js["error"].get("details", [])]


def test_fields_and_sets_are_merged_and_the_duplicate_id_leads_to_the_kept_one():
    last = unique("Merge")
    group_a, group_b = unique("GA"), unique("GB")
    for g in (group_a, group_b):
        st, _, js = api("POST", "/v1/groups", {"name": g})
        assert st == 201, js
    home = {"kind": "BILLING", "line1": "Storgata 1", "postalCode": "0155", "city": "Oslo",
            "country": "NO"}
    work = {"kind": "SHIPPING", "line1": "Kirkegata 5", "postalCode": "0153", "city": "Oslo",
            "country": "NO"}
    keep = _make(firstName="Anna", lastName=last, email=unique_email("anna"),
                 description="Prefers mornings.", tags=["vip"], groups=[group_a],
                 addresses=[home],
                 preferences={"email": {"granted": True, "changedAt": "2025-01-01T10:00:00Z",
                                        "source": "web"}},
                 externalIds=[{"system": "store", "id": unique("st")}])
    dup_ext = unique("bk")
    dup_email = unique_email("anna.b")
    dup = _make(lastName=last, email=dup_email, phone="+4791234567", birthDate="1990-05-17",
                description="Allergic to latex.", tags=["VIP", "booking"], groups=[group_b],
                addresses=[dict(home), work],
                preferences={"email": {"granted": False, "changedAt": "2026-02-01T10:00:00Z",
                                       "source": "booking"},
                             "sms": {"granted": True, "changedAt": "2025-06-01T10:00:00Z"}},
                externalIds=[{"system": "booking", "id": dup_ext}])

    st, hdr, js = _merge(keep["id"], dup["id"], etag=keep["etag"], dup_etag=dup["etag"])
    assert st == 200, (st, js)
    c = js["customer"]
    assert hdr["ETag"] == '"%s"' % c["etag"] and c["etag"] != keep["etag"]
    # The kept record's values stay; its empty fields take the duplicate's.
    assert (c["id"], c["firstName"], c["email"]) == (keep["id"], "Anna", keep["email"])
    assert (c["phone"], c["birthDate"]) == ("+4791234567", "1990-05-17")
    assert c["description"] == "Prefers mornings.\n\nAllergic to latex."
    # Sets united: a tag once whatever its case, an identical address once.
    assert sorted(t.lower() for t in c["tags"]) == ["booking", "vip"], c["tags"]
    assert sorted(c["groups"]) == sorted([group_a, group_b])
    assert len(c["addresses"]) == 2 and work in [
        {k: a[k] for k in work} for a in c["addresses"]], c["addresses"]
    assert {(e["system"], e["id"]) for e in c["externalIds"]} == {
        ("store", keep["externalIds"][0]["id"]), ("booking", dup_ext)}
    # Each consent: the one changed later.
    email = c["preferences"]["email"]
    assert email.get("granted", False) is False and email["source"] == "booking", email
    assert c["preferences"]["sms"]["granted"] is True
    st, _, again = _get(keep["id"])
    assert st == 200 and again == c

    # The duplicate's id says where the customer is now.
    st, _, gone = _get(dup["id"])
    assert st == 404, gone
    assert gone["error"]["message"] == "customer was merged into %s" % keep["id"]
    assert gone["error"]["details"] == [{
        "field": "id", "reason": "MERGED", "resourceId": keep["id"],
        "description": "customer was merged into %s" % keep["id"]}], gone
    # Its e-mail is free: nobody else has it, the kept one does not take it.
    assert c["email"] != dup_email

    # The audit: the kept one names the record that came in and the fields.
    st, _, audit = api("GET", "/v1/customers/%s/audit" % keep["id"])
    assert st == 200, audit
    top = audit["entries"][0]
    assert top["action"] == "merged", top
    fields = [ch["field"] for ch in top["changes"]]
    assert fields[0] == "mergedId" and "phone" in fields and "birthDate" in fields, fields
    # The duplicate's audit names where it went and keeps no values.
    st, _, daudit = api("GET", "/v1/customers/%s/audit" % dup["id"])
    assert st == 200, daudit
    assert daudit["entries"][0]["action"] == "merged"
    assert daudit["entries"][0]["changes"][0]["field"] == "mergedInto"
    assert all(not ch.get("newValue") for e in daudit["entries"][1:] for ch in e["changes"])

    # The next booking under the duplicate's booking id lands on the kept one.
    st, _, ing = api("POST", "/v1/events", {
        "source": "booking", "eventId": unique("ev"), "type": "booking.created",
        "occurredAt": "2026-11-20T10:00:00Z",
        "customer": {"externalId": dup_ext, "lastName": last, "email": dup_email},
        "booking": {"id": unique("b"), "service": "Haircut", "startsAt": "2026-12-01T10:00:00Z"}})
    assert st == 202, ing
    assert ing["customerId"] == keep["id"], ing


def test_a_chain_of_merges_resolves_to_the_last_one_kept():
    last = unique("Chain")
    a, b, c = (_make(firstName=n, lastName=last) for n in ("A", "B", "C"))
    st, _, js = _merge(b["id"], a["id"])
    assert st == 200, js
    st, _, js = _merge(c["id"], b["id"])
    assert st == 200, js
    for gone in (a, b):
        st, _, js = _get(gone["id"])
        assert st == 404 and _details(js) == [("id", "MERGED")], js
        assert js["error"]["details"][0]["resourceId"] == c["id"], js
    # A merged id is no customer to merge either.
    st, _, js = _merge(c["id"], a["id"])
    assert st == 404 and _details(js) == [("duplicateId", "MERGED")], js
    # The bus says the same (docs/bus.md, customers.GetCustomer).
    _, keys = system_key()
    bus = Bus(keys)
    try:
        st, hdr, _ = bus.call("customers.GetCustomer", msg("GetCustomerRequest")(id=a["id"]))
        assert st == "NOT_FOUND", hdr
        assert [(d.field, d.reason, d.resource_id) for d in hdr.details] == [
            ("id", "MERGED", c["id"])]
    finally:
        bus.close()
    # Deleting the last one kept forgets the merged ids: plain 404s now.
    st, _, _ = api("DELETE", "/v1/customers/" + c["id"])
    assert st == 204
    for gone in (a, b, c):
        st, _, js = _get(gone["id"])
        assert st == 404 and not js["error"].get("details"), js
    assert psql("SELECT count(*) FROM customers.merged_customers WHERE into_id = '%s' "
                "OR merged_id IN ('%s', '%s')" % (c["id"], a["id"], b["id"])).strip() == "0"


def test_merge_over_the_bus():
    """customers.MergeCustomers as docs/bus.md describes it: etags, the
    answer, a retry under one idempotency key, the errors' details."""
    last = unique("Bus")
    keep = _make(firstName="Keep", lastName=last)
    dup = _make(lastName=last, email=unique_email("bus"))
    _, keys = system_key()
    bus = Bus(keys)
    req = msg("MergeCustomersRequest")
    try:
        st, hdr, _ = bus.call("customers.MergeCustomers",
                              req(id=keep["id"], duplicate_id=dup["id"], duplicate_etag="99"))
        assert st == "FAILED_PRECONDITION", hdr
        st, hdr, _ = bus.call("customers.MergeCustomers", req(id=keep["id"]))
        assert st == "INVALID_ARGUMENT", hdr
        assert [(d.field, d.reason) for d in hdr.details] == [("duplicateId", "REQUIRED")]
        key = unique("idem")
        good = req(id=keep["id"], duplicate_id=dup["id"], etag=keep["etag"],
                   duplicate_etag=dup["etag"])
        st, hdr, first = bus.call("customers.MergeCustomers", good, idempotency_key=key)
        assert st == "OK", hdr
        assert first.customer.id == keep["id"] and first.customer.email == dup["email"]
        st, hdr, again = bus.call("customers.MergeCustomers", good, idempotency_key=key)
        assert st == "OK" and again == first, hdr
    finally:
        bus.close()


def test_bad_requests_etags_and_limits():
    last = unique("Bad")
    keep = _make(firstName="Keep", lastName=last)
    dup = _make(firstName="Dup", lastName=last)
    st, _, js = _merge(keep["id"], keep["id"])
    assert st == 400 and _details(js) == [("duplicateId", "SAME_AS_ID")], js
    st, _, js = api("POST", "/v1/customers/%s:merge" % keep["id"], {})
    assert st == 400 and _details(js) == [("duplicateId", "REQUIRED")], js
    st, _, js = _merge(keep["id"], str(uuid.uuid4()))
    assert st == 404, js
    st, _, js = _merge(str(uuid.uuid4()), dup["id"])
    assert st == 404, js
    st, _, js = api("POST", "/v1/customers/%s:merge" % keep["id"],
                    {"duplicateId": dup["id"], "colour": "red"})
    assert st == 400, js
    # Stale versions of either: 412, nothing changed.
    st, _, js = _merge(keep["id"], dup["id"], etag="999")
    assert st == 412 and js["error"]["status"] == "FAILED_PRECONDITION", js
    st, _, js = _merge(keep["id"], dup["id"], dup_etag="999")
    assert st == 412, js
    assert _get(dup["id"])[0] == 200 and _get(keep["id"])[2]["etag"] == keep["etag"]
    # Descriptions that together pass the field's limit: refused, not cut.
    st, _, k = api("PATCH", "/v1/customers/" + keep["id"], {"description": "k" * 6000})
    assert st == 200, k
    st, _, d = api("PATCH", "/v1/customers/" + dup["id"], {"description": "d" * 4000})
    assert st == 200, d
    st, _, js = _merge(keep["id"], dup["id"])
    assert st == 400 and _details(js) == [("description", "TOO_LONG")], js
    assert "descriptions together" in js["error"]["details"][0]["description"]
    assert _get(dup["id"])[0] == 200
    # Sets that together pass a count limit (100 tags): refused, naming the field.
    many = _make(firstName="Many", lastName=last, tags=["a%d" % i for i in range(60)])
    more = _make(firstName="More", lastName=last, tags=["b%d" % i for i in range(60)])
    st, _, js = _merge(many["id"], more["id"])
    assert st == 400 and [f for f, _ in _details(js)] == ["tags"], js
    assert _get(more["id"])[0] == 200
    # Exactly at the limit (6000 + 2 + 3998): merged whole.
    st, _, d = api("PATCH", "/v1/customers/" + dup["id"], {"description": "d" * 3998})
    assert st == 200, d
    st, _, js = _merge(keep["id"], dup["id"])
    assert st == 200, js
    assert len(js["customer"]["description"]) == 10000


def test_dry_run_writes_nothing_and_a_retry_is_answered_once():
    last = unique("Dry")
    keep = _make(firstName="Keep", lastName=last)
    dup = _make(lastName=last, email=unique_email("dry"), tags=["dup"])
    st, _, js = _merge(keep["id"], dup["id"], validateOnly=True)
    assert st == 200, js
    preview = js["customer"]
    assert preview["email"] == dup["email"] and preview["tags"] == ["dup"]
    assert preview["etag"] == keep["etag"]
    assert _get(dup["id"])[0] == 200 and _get(keep["id"])[2] == keep
    # The real one, twice with one Idempotency-Key: one merge, one answer.
    h = {"Idempotency-Key": unique("idem")}
    st, _, first = _merge(keep["id"], dup["id"], headers=h)
    assert st == 200, first
    st, _, second = _merge(keep["id"], dup["id"], headers=h)
    assert st == 200 and second == first
    assert {k: v for k, v in first["customer"].items() if k not in ("etag", "updatedAt")} == {
        k: v for k, v in preview.items() if k not in ("etag", "updatedAt")}
    # Without the key, the merge is done: the duplicate is gone.
    st, _, js = _merge(keep["id"], dup["id"])
    assert st == 404 and _details(js) == [("duplicateId", "MERGED")], js


def _adjust(key, cid, amount, kind="MONEY"):
    st, _, js = api("POST", "/v1/customers/%s/wallet:adjust" % cid,
                    {"kind": kind, "amount": str(amount), "reason": "test"}, key=key)
    assert st == 200, js


def test_wallet_balances_add_up_and_two_currencies_are_refused():
    # A business of its own, with loyalty points on.
    tenant = crm.crmctl(["tenant", "create", unique("Merge"), "--country", "NO"]).strip()
    key = crm.crmctl(["keys", "create", "--tenant", tenant, "--name", unique("key"),
                      "--role", "admin"]).strip()
    st, _, ws = api("PATCH", "/v1/walletSettings", {"loyaltyEnabled": True}, key=key)
    assert st == 200, ws
    last = unique("Wallet")
    keep = _make(key, firstName="Keep", lastName=last)
    dup = _make(key, firstName="Dup", lastName=last)
    _adjust(key, keep["id"], 1500)
    _adjust(key, dup["id"], 700)
    _adjust(key, dup["id"], 40, kind="POINTS")
    st, _, js = _merge(keep["id"], dup["id"], key=key)
    assert st == 200, js
    st, _, w = api("GET", "/v1/customers/%s/wallet" % keep["id"], key=key)
    assert st == 200, w
    assert (int(w["money"]), int(w["points"])) == (2200, 40), w
    st, _, entries = api("GET", "/v1/customers/%s/wallet/entries" % keep["id"], key=key)
    assert st == 200, entries
    amounts = sorted(int(e["amount"]) for e in entries["entries"])
    assert amounts == [40, 700, 1500], entries

    # Money in another currency (a ledger from before the business's
    # currency changed): the merge is refused, nothing moves.
    other = _make(key, firstName="Other", lastName=last)
    _adjust(key, other["id"], 100)
    psql("UPDATE customers.wallet_entries SET currency = 'SEK' WHERE customer_id = '%s'"
         % other["id"])
    st, _, js = _merge(keep["id"], other["id"], key=key)
    assert st == 412 and _details(js) == [("duplicateId", "CURRENCY_MISMATCH")], js
    assert _get(other["id"], key=key)[0] == 200
    st, _, w = api("GET", "/v1/customers/%s/wallet" % other["id"], key=key)
    assert st == 200 and int(w["money"]) == 100, w


def _found(text):
    st, _, js = api("GET", q("/v1/customers:search", q=text))
    assert st == 200, js
    return [c["id"] for c in js.get("customers", [])]


def test_events_on_the_stream_and_search_shows_one_customer():
    last = unique("Stream")
    keep = _make(firstName="Keep", lastName=last, description="private")
    phone = "+4798%06d" % random.randrange(10 ** 6)
    dup = _make(firstName="Dup", lastName=last, phone=phone)
    # Search knows both first.
    wait_until(lambda: len(_found(last)) == 2, timeout=20, what="search finds both records")
    _, keys = system_key()
    bus = Bus(keys)
    try:
        st, hdr, where = bus.call("customers.ReplayEvents",
                                  msg("ReplayEventsRequest")(after_seq=2 ** 63 - 1))
        assert st == "OK", hdr
        start = where.last_seq
        st, _, js = _merge(keep["id"], dup["id"])
        assert st == 200, js

        def events():
            found, last_seq = [], start
            while True:
                st, hdr, page = bus.call("customers.ReplayEvents",
                                         msg("ReplayEventsRequest")(after_seq=last_seq, limit=50))
                assert st == "OK", hdr
                for ev in page.events:
                    last_seq = ev.seq
                    if ev.type == "customer.merged":
                        body = msg("CustomerMergedEvent").FromString(ev.payload)
                        if body.customer.id == keep["id"]:
                            found.append((ev, body))
                    elif ev.type in ("customer.updated", "customer.deleted"):
                        body = msg("CustomerEvent").FromString(ev.payload)
                        if body.customer.id in (keep["id"], dup["id"]):
                            found.append((ev, body))
                if last_seq >= page.last_seq or not page.events:
                    return found if len(found) >= 2 else None

        got = wait_until(events, timeout=20, what="the merge's events")
        types = [ev.type for ev, _ in got]
        assert types == ["customer.updated", "customer.merged"], types
        upd, merged = got[0][1], got[1][1]
        assert upd.customer.phone == phone
        assert "phone" in [ch.field for ch in upd.changes]
        assert merged.merged_id == dup["id"] and merged.merged_etag == dup["etag"]
        assert merged.customer.phone == phone
        assert merged.customer.description == "", "no private content for an outside system"
        assert got[0][0].seq + 1 == got[1][0].seq, "one transaction, one after the other"
    finally:
        bus.close()
    # Search shows one customer: the kept one, with the duplicate's phone.
    # Each search copy follows the stream on its own and either may answer,
    # so both searches wait (docs/search.md, "Copies").
    wait_until(lambda: _found(last) == [keep["id"]] and _found(phone) == [keep["id"]],
               timeout=20, what="search shows one customer, the kept one, by name and phone")
