"""A merge's history (docs/architecture.md, "Merging"): after two records of
one person are merged over HTTP, notes and notify move what they keep of the
duplicate to the customer kept when they apply customer.merged. The kept
customer's card shows both stories (timeline, notes, tasks, bookings and
orders with the summary's figures recomputed, files, surveys and the card form,
a purchase's return, messages sent through notify, a rule's runs) and one
"merged with" timeline row; the duplicate's id answers 404 MERGED; a booking
for the duplicate's external id lands on the kept customer; the event applied
again (a follower's replay) changes nothing; the kept customer's deletion
erases all of it; and an import's revert leaves a customer merged since."""
import json
import os
import uuid
import urllib.parse
import urllib.request

import crm
from crm import api, psql, psql_rows, q, unique, unique_email, wait_until
from test_visits import _key, _tenant

SMTP = os.environ.get("CRM_TEST_SMTP", "")

CARD = {"title": "Card", "purpose": "CARD",
        "questions": [{"text": "Skin", "type": "ONE_CHOICE", "choices": ["dry", "oily"]}]}
SURVEY = {"title": "Visit", "purpose": "SURVEY",
          "questions": [{"text": "How was it?", "type": "ONE_CHOICE", "required": True,
                         "choices": ["great", "fine", "poor"]}]}


def _ok(st, js, want=200):
    assert st == want, (st, js)
    return js


def _event(key, person, type_, at, booking=None, order=None):
    ev = {"source": "booking" if booking else "store", "eventId": unique("ev"), "type": type_,
          "occurredAt": at, "customer": person}
    if booking:
        ev["booking"] = booking
    if order:
        ev["order"] = order
    return _ok(*api("POST", "/v1/events", ev, key=key)[::2], want=202)


def _all(key, path, field, **params):
    st, _, js = api("GET", q(path, **params), key=key)
    assert st == 200, (path, st, js)
    return js.get(field, [])


def _timeline(key, cid):
    out, token = [], None
    for _ in range(50):
        st, _, js = api("GET", q("/v1/customers/%s/timeline" % cid, pageToken=token), key=key)
        assert st == 200, js
        out += js.get("entries", [])
        token = js.get("nextPageToken")
        if not token:
            return out
    raise AssertionError("too many pages")


def _types(entries):
    return [e["type"] for e in entries]


def _received(addr):
    url = SMTP + "/_smtp/messages?to=" + urllib.parse.quote(addr)
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode())


def _story(key, forms, rule, name, service, currency, day):
    """A customer with one of everything: (customer id, person, order id)."""
    person = {"externalId": unique("bk"), "firstName": name, "lastName": unique("Merge"),
              "email": unique_email(name.lower())}
    past = {"id": unique("b"), "service": service, "staff": "Eva",
            "startsAt": "2025-0%d-10T10:00:00Z" % day}
    cid = _event(key, person, "booking.created", "2025-0%d-01T09:00:00Z" % day,
                 booking=past)["customerId"]
    _event(key, person, "booking.attended", "2025-0%d-10T11:00:00Z" % day, booking=past)
    soon = {"id": unique("b"), "service": service, "staff": "Eva",
            "startsAt": "2030-0%d-10T10:00:00Z" % day}
    _event(key, person, "booking.created", "2025-0%d-02T09:00:00Z" % day, booking=soon)
    order = {"id": unique("o"), "total": {"amountMinor": "4000", "currency": currency},
             "items": [{"name": "Cream", "quantity": 2, "amountMinor": "4000"}]}
    sperson = dict(person, externalId=unique("st"))
    _event(key, sperson, "order.placed", "2025-0%d-03T12:00:00Z" % day, order=order)
    _event(key, sperson, "order.paid", "2025-0%d-03T12:05:00Z" % day, order=order)
    _ok(*api("POST", "/v1/customers/%s/notes" % cid, {"body": name + "'s note"}, key=key)[::2],
        want=201)
    _ok(*api("POST", "/v1/customers/%s/tasks" % cid, {"title": name + "'s task"}, key=key)[::2],
        want=201)
    _ok(*api("POST", q("/v1/customers/%s/files" % cid, filename=name + ".txt"),
             raw=(name + " file").encode(), headers={"Content-Type": "text/plain"},
             key=key)[::2], want=201)
    survey, card = forms
    _ok(*api("POST", "/v1/customers/%s/surveys" % cid,
             {"formId": survey["id"], "answers": [{"questionId": survey["questions"][0]["id"],
                                                   "value": "great"}]}, key=key)[::2], want=201)
    _ok(*api("PUT", "/v1/customers/%s/card" % cid,
             {"answers": [{"questionId": card["questions"][0]["id"],
                           "value": "dry" if name == "Keep" else "oily"}]},
             headers={"If-Match": '"new"'}, key=key)[::2])
    m = _ok(*api("POST", "/v1/customers/%s:sendMessage" % cid,
                 {"subject": "Hello " + name, "text": "Welcome"}, key=key)[::2], want=202)
    wait_until(lambda: _ok(*api("GET", "/v1/messages/" + m["id"], key=key)[::2])["status"]
               == "SENT", 20, what="message sent")
    # The rule ran for the order (its tag added) before the merge.
    wait_until(lambda: [r for r in _all(key, "/v1/rules/%s/runs" % rule["id"], "runs")
                        if r["customerId"] == cid and r["status"] != "PENDING"], 20,
               what="the rule's run")
    return cid, person, order["id"]


def _merge(key, keep, dup):
    return api("POST", "/v1/customers/%s:merge" % keep, {"duplicateId": dup}, key=key)


def _moved(key, dup):
    """The 404 of a merged id: (reason, resource id)."""
    st, _, js = api("GET", "/v1/customers/%s/timeline" % dup, key=key)
    assert st == 404, (st, js)
    d = js["error"].get("details") or [{}]
    return d[0].get("reason"), d[0].get("resourceId")


def _merged_seq(dup):
    return int(psql("SELECT seq FROM customers.outbox WHERE seq IS NOT NULL "
                    "AND position(convert_to('customer.merged', 'UTF8') IN event) > 0 "
                    "AND position(convert_to('%s', 'UTF8') IN event) > 0" % dup).strip())


def _cursor(schema):
    return int(psql("SELECT last_seq FROM %s.stream_cursor WHERE stream = 'customers'"
                    % schema).strip())


def test_the_kept_customer_has_both_stories_and_the_duplicate_leads_there():
    key = _key(_tenant())
    forms = (_ok(*api("POST", "/v1/forms", SURVEY, key=key)[::2], want=201),
             _ok(*api("POST", "/v1/forms", CARD, key=key)[::2], want=201))
    tag = unique("buyer").lower()
    rule = _ok(*api("POST", "/v1/rules", {
        "name": unique("Buyer"), "enabled": True, "trigger": "RULE_TRIGGER_ORDER_PLACED",
        "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": tag}]}, key=key)[::2], want=201)
    keep, kp, _ = _story(key, forms, rule, "Keep", "Haircut", "PLN", 3)
    dup, dp, dup_order = _story(key, forms, rule, "Dup", "Colour", "EUR", 2)
    # A return of the duplicate's purchase.
    _ok(*api("POST", "/v1/customers/%s/purchases/%s:return" % (dup, dup_order),
             {"whole": True, "reason": "Changed mind"}, key=key)[::2])
    wait_until(lambda: "purchase.returned" in _types(_timeline(key, dup)), 20,
               what="the return on the duplicate's timeline")
    before_keep, before_dup = _timeline(key, keep), _timeline(key, dup)
    summary_keep = _ok(*api("GET", "/v1/customers/%s/summary" % keep, key=key)[::2])
    assert summary_keep["bookings"] == 2, summary_keep

    c = _ok(*_merge(key, keep, dup)[::2])
    assert c["customer"]["id"] == keep, c
    # Notes applies customer.merged: one "merged with" row naming the duplicate.
    entries = wait_until(lambda: (lambda e: e if "customer.merged" in _types(e) else None)(
        _timeline(key, keep)), 20, what="customer.merged on the kept timeline")
    merged = [e for e in entries if e["type"] == "customer.merged"]
    # Notify follows the customers stream on its own: its part (messages)
    # is there once its cursor passed the merge.
    seq = _merged_seq(dup)
    wait_until(lambda: _cursor("notify") >= seq, 20, what="notify past the merge")
    assert len(merged) == 1 and merged[0]["kind"] == "CUSTOMER", merged
    assert merged[0]["merged"] == {"id": dup, "name": "Dup " + dp["lastName"]}, merged
    # Everything of both, on the kept customer.
    ids = {e["id"] for e in entries}
    assert {e["id"] for e in before_keep + before_dup} <= ids
    notes = [n["body"] for n in _all(key, "/v1/customers/%s/notes" % keep, "notes")]
    assert sorted(notes) == ["Dup's note", "Keep's note"], notes
    files = [f["filename"] for f in _all(key, "/v1/customers/%s/files" % keep, "files")]
    assert sorted(files) == ["Dup.txt", "Keep.txt"], files
    assert len(_all(key, "/v1/customers/%s/surveys" % keep, "fillings")) == 2
    # Both filled the card: the newer filling (the duplicate's) is the card's.
    card = _ok(*api("GET", "/v1/customers/%s/card" % keep, key=key)[::2])
    assert card["filling"]["answers"][0]["value"] == "oily", card
    subjects = sorted(m["subject"] for m in _all(key, "/v1/customers/%s/messages" % keep,
                                                  "messages"))
    assert subjects == ["Hello Dup", "Hello Keep"], subjects
    purchases = _all(key, "/v1/customers/%s/purchases" % keep, "purchases")
    assert dup_order in json.dumps(purchases), purchases
    runs = [r for r in _all(key, "/v1/rules/%s/runs" % rule["id"], "runs")]
    assert {r["customerId"] for r in runs} == {keep}, runs
    assert len(runs) == 2, runs
    # The summary's figures add up: counts, first and last times, money per
    # currency (the duplicate's EUR returned), top services, upcoming.
    s = _ok(*api("GET", "/v1/customers/%s/summary" % keep, key=key)[::2])
    assert s["bookings"] == 4 and s["attended"] == 2 and s["orders"] == 2, s
    assert s["firstBookingAt"].startswith("2025-02-01T09:00:00"), s
    assert s["lastVisitAt"].startswith("2025-03-10T10:00:00"), s
    assert s["firstOrderAt"].startswith("2025-02-03T12:00:00"), s
    spent = {m["currency"]: int(m["amountMinor"]) for m in s.get("totalSpent", [])}
    assert spent.get("PLN") == 4000 and spent.get("EUR", 0) == 0, s
    assert {t["service"] for t in s["topServices"]} == {"Haircut", "Colour"}, s
    assert len(s["upcoming"]) == 2, s
    left = psql("SELECT count(*) FROM notes.customer_figures WHERE customer_id = '%s'" % dup)
    assert left.strip() == "0", psql("SELECT * FROM notes.customer_figures "
                                     "WHERE customer_id IN ('%s', '%s')" % (dup, keep))

    # The duplicate's id: 404 MERGED naming the kept customer, everywhere.
    assert _moved(key, dup) == ("MERGED", keep)
    for path in ("/v1/customers/%s", "/v1/customers/%s/summary", "/v1/customers/%s/notes",
                 "/v1/customers/%s/tasks", "/v1/customers/%s/files"):
        st, _, js = api("GET", path % dup, key=key)
        assert st == 404 and js["error"]["details"][0]["reason"] == "MERGED", (path, js)
    st, _, js = api("POST", "/v1/customers/%s/notes" % dup, {"body": "late"}, key=key)
    assert st == 404 and js["error"]["details"][0]["resourceId"] == keep, js

    # A booking for the duplicate's external id lands on the kept customer.
    late = {"id": unique("b"), "service": "Colour", "startsAt": "2031-01-01T10:00:00Z"}
    got = _event(key, dp, "booking.created", "2026-01-01T09:00:00Z", booking=late)
    assert got["customerId"] == keep, got
    wait_until(lambda: late["id"] in json.dumps(_timeline(key, keep)), 20,
               what="the late booking on the kept timeline")

    # The event applied again by both followers changes nothing.
    before = (_timeline(key, keep), _ok(*api("GET", "/v1/customers/%s/summary" % keep,
                                             key=key)[::2]))
    msgs = _all(key, "/v1/customers/%s/messages" % keep, "messages")
    for schema in ("notes", "notify"):
        psql("UPDATE %s.stream_cursor SET last_seq = %d WHERE stream = 'customers'"
             % (schema, seq - 1))
    st, _, other = api("POST", "/v1/customers", {"firstName": "Next", "lastName": unique("M")},
                       key=key)
    assert st == 201, other
    wait_until(lambda: "customer.created" in _types(_timeline(key, other["id"])), 30,
               what="notes past the merge again")
    wait_until(lambda: _cursor("notify") > seq, 30, what="notify past the merge again")
    after = (_timeline(key, keep), _ok(*api("GET", "/v1/customers/%s/summary" % keep,
                                            key=key)[::2]))
    assert after == before
    assert _all(key, "/v1/customers/%s/messages" % keep, "messages") == msgs
    for schema in ("notes", "notify"):
        assert psql("SELECT count(*) FROM %s.merged_customers WHERE merged_id = '%s' "
                    "AND into_id = '%s'" % (schema, dup, keep)).strip() == "1"

    # Deleting the kept customer erases all of it, the duplicate's part too.
    assert api("DELETE", "/v1/customers/" + keep, key=key)[0] == 204
    wait_until(lambda: psql("SELECT count(*) FROM notes.notes WHERE customer_id IN "
                            "('%s', '%s')" % (keep, dup)).strip() == "0", 20,
               what="the notes erased")
    assert psql("SELECT count(*) FROM notes.files WHERE customer_id IN ('%s', '%s')"
                % (keep, dup)).strip() == "0"
    wait_until(lambda: psql("SELECT count(*) FROM notify.messages WHERE customer_id = '%s' "
                            "AND subject <> ''" % keep).strip() == "0", 20,
               what="the messages erased")
    for schema in ("notes", "notify"):
        wait_until(lambda: psql("SELECT count(*) FROM %s.merged_customers WHERE into_id = '%s'"
                                % (schema, keep)).strip() == "0", 20,
                   what="%s forgets the merge" % schema)
    details = psql("SELECT details::text FROM notes.timeline WHERE customer_id = '%s' "
                   "AND type = 'customer.merged'" % keep)
    assert dup in details and dp["lastName"] not in details, details


def test_an_imports_revert_leaves_a_customer_merged_since():
    """A customer an import made, merged since into another record: the revert
    deletes neither (the kept record holds another's history too) and says
    why, MERGED naming the record kept; the import's other customer goes."""
    from test_exchange import _create, _customers, _import, _revert
    from test_exchange import _tenant as _xtenant
    key = _xtenant()
    kept = _create(key, {"firstName": "Kept", "lastName": unique("Rec"),
                         "email": unique("k") + "@x.com"})
    n1, n2 = unique("n1") + "@x.com", unique("n2") + "@x.com"
    job = _import(key, ("firstName,lastName,email\r\nNew,One,%s\r\nNew,Two,%s\r\n"
                        % (n1, n2)).encode())
    made = {r["email"]: r for r in _customers(key)}
    st, _, js = _merge(key, kept["id"], made[n1]["id"])
    assert st == 200, js
    rv = _revert(key, job["id"])["revert"]
    assert (int(rv["removed"]), int(rv["skipped"])) == (1, 1), rv
    skip = rv["skips"][0]
    assert skip["reason"] == "MERGED" and kept["id"] in skip["message"], skip
    assert api("GET", "/v1/customers/" + kept["id"], key=key)[0] == 200
    assert api("GET", "/v1/customers/" + made[n2]["id"], key=key)[0] == 404


def _account(cid, email):
    """A sign-in account for the customer, as setting a password leaves one."""
    psql("INSERT INTO notify.accounts (tenant_id, customer_id, email_key, password_hash) "
         "SELECT tenant_id, id, '%s', 'x' FROM customers.customers WHERE id = '%s'"
         % (email, cid))


def test_one_sign_in_account_per_customer_the_kept_ones_wins():
    """notify.accounts holds one account per customer: merging two records that
    both have one keeps the kept customer's (the duplicate's goes with its
    unused links); a kept customer without one takes the duplicate's."""
    last = unique("Acct")
    pairs = []
    for n in range(2):
        keep = _ok(*api("POST", "/v1/customers", {"firstName": "K%d" % n, "lastName": last,
                                                  "email": unique_email("k")})[::2], want=201)
        dup = _ok(*api("POST", "/v1/customers", {"firstName": "D%d" % n, "lastName": last,
                                                 "email": unique_email("d")})[::2], want=201)
        if n == 0:
            _account(keep["id"], keep["email"])
        _account(dup["id"], dup["email"])
        pairs.append((keep, dup))
    # One recipient row per customer and campaign: both records got campaign
    # a, only the duplicate got campaign b.
    k0, d0 = pairs[0][0]["id"], pairs[0][1]["id"]
    camp_a, camp_b = str(uuid.uuid4()), str(uuid.uuid4())
    for camp, cid in ((camp_a, k0), (camp_a, d0), (camp_b, d0)):
        psql("INSERT INTO notify.campaign_recipients (tenant_id, campaign_id, customer_id) "
             "SELECT tenant_id, '%s', id FROM customers.customers WHERE id = '%s'" % (camp, cid))
    for keep, dup in pairs:
        _ok(*_merge(crm.DEFAULT, keep["id"], dup["id"])[::2])
    for keep, dup in pairs:
        wait_until(lambda: psql("SELECT count(*) FROM notify.merged_customers "
                                "WHERE merged_id = '%s'" % dup["id"]).strip() == "1", 20,
                   what="notify applied the merge")
    accounts = [psql("SELECT string_agg(email_key, ',') FROM notify.accounts "
                     "WHERE customer_id IN ('%s', '%s')" % (k["id"], d["id"])).strip()
                for k, d in pairs]
    assert accounts[0] == pairs[0][0]["email"].lower(), accounts
    assert accounts[1] == pairs[1][1]["email"].lower(), accounts
    owner = psql("SELECT customer_id FROM notify.accounts WHERE email_key = '%s'"
                 % pairs[1][1]["email"].lower()).strip()
    assert owner == pairs[1][0]["id"], owner
    # Campaign a keeps both rows (two messages went), b's moved to the kept one.
    rows = sorted(tuple(r) for r in psql_rows(
        "SELECT campaign_id::text, customer_id::text FROM notify.campaign_recipients "
        "WHERE campaign_id IN ('%s', '%s')" % (camp_a, camp_b)))
    assert rows == sorted([(camp_a, k0), (camp_a, d0), (camp_b, k0)]), rows


def test_a_message_event_that_comes_after_the_merge_lands_on_the_kept_customer():
    """The streams are independent: a message.* event of the notify stream
    naming the duplicate's id may reach notes after it applied the merge. Notes
    reads the notify stream again from before the duplicate's message (as
    when it lags behind): the rows land on the kept customer, none on the
    duplicate's id."""
    last = unique("Late")
    keep = _ok(*api("POST", "/v1/customers", {"firstName": "Kim", "lastName": last,
                                              "email": unique_email("kim")})[::2], want=201)
    dup = _ok(*api("POST", "/v1/customers", {"firstName": "Kimmy", "lastName": last,
                                             "email": unique_email("kimmy")})[::2], want=201)
    m = _ok(*api("POST", "/v1/customers/%s:sendMessage" % dup["id"],
                 {"subject": "Late one", "text": "Hi"})[::2], want=202)
    wait_until(lambda: "message.sent" in _types(_timeline(crm.DEFAULT, dup["id"])), 20,
               what="the message on the duplicate's timeline")
    seq = int(psql("SELECT min(seq) FROM notify.outbox WHERE seq IS NOT NULL "
                   "AND position(convert_to('%s', 'UTF8') IN event) > 0" % m["id"]).strip())
    _ok(*_merge(crm.DEFAULT, keep["id"], dup["id"])[::2])
    wait_until(lambda: "customer.merged" in _types(_timeline(crm.DEFAULT, keep["id"])), 20,
               what="notes applied the merge")
    before = _types(_timeline(crm.DEFAULT, keep["id"])).count("message.sent")
    psql("UPDATE notes.stream_cursor SET last_seq = %d WHERE stream = 'notify'" % (seq - 1))
    # The next event of the stream makes notes find its cursor moved back.
    nxt = _ok(*api("POST", "/v1/customers/%s:sendMessage" % keep["id"],
                   {"subject": "Next one", "text": "Hi"})[::2], want=202)
    wait_until(lambda: nxt["id"] in json.dumps(_timeline(crm.DEFAULT, keep["id"])), 30,
               what="notes past the message again")
    sent = [e for e in _timeline(crm.DEFAULT, keep["id"]) if e["type"] == "message.sent"]
    assert len(sent) >= before + 1, sent
    assert [e for e in sent if e["message"]["id"] == m["id"]][1:], sent
    assert psql("SELECT count(*) FROM notes.timeline WHERE customer_id = '%s'"
                % dup["id"]).strip() == "0"


def test_a_merge_moves_nothing_of_another_tenant():
    """As the services' role, a session of one tenant sees none of another's
    merged ids, and the merge functions refuse a tenant not the session's."""
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    for schema in ("notes", "notify"):
        psql("INSERT INTO %s.merged_customers (tenant_id, merged_id, into_id, event_id) "
             "VALUES ('%s', '%s', '%s', 'ev')" % (schema, other, a, b))
        seen = psql("SET ROLE crm_app; SELECT set_config('app.tenant', '%s', false); "
                    "SELECT count(*) FROM %s.merged_customers WHERE merged_id = '%s'"
                    % (mine, schema, a)).split()
        assert seen[-1] == "0", seen
        try:
            psql("SET ROLE crm_app; SELECT set_config('app.tenant', '%s', false); "
                 "SELECT %s.merge_customer('%s', '%s', '%s', 'ev2')"
                 % (mine, schema, other, b, a))
        except AssertionError as e:
            assert "not the session's tenant" in str(e), e
        else:
            raise AssertionError("%s.merge_customer ran for another tenant" % schema)
        assert psql("SELECT into_id FROM %s.merged_customers WHERE merged_id = '%s'"
                    % (schema, a)).strip() == b
        psql("DELETE FROM %s.merged_customers WHERE merged_id = '%s'" % (schema, a))
