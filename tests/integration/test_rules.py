"""Automation rules (docs/rules.md): an event starts a rule, its conditions
are held against the customer and notes' figures, its actions run as the rule
(audit and timeline name it), once per event, whichever copy of notes runs it.
The test stack retries a failed run after 200 ms and gives up after 3 attempts
(CRM_NOTES_RULE_RETRY_MS, CRM_NOTES_RULE_ATTEMPTS in run.sh)."""

import email
import email.policy
import functools
import json
import urllib.parse

import crm
from crm import api, mails_to, unique, unique_email, wait_until


def _person(**kw):
    p = {"externalId": unique("c"), "firstName": "Anna", "lastName": unique("Nowak"),
         "email": unique_email("anna")}
    p.update(kw)
    return p


def _order(person, n, event_id=None, type_="order.placed"):
    return {"source": "store", "eventId": event_id or unique("or"), "type": type_,
            "occurredAt": "2026-11-0%dT10:00:00Z" % n, "customer": person,
            "order": {"id": unique("o"), "total": {"amountMinor": 5000, "currency": "EUR"}}}


def _rule(body, key=crm.DEFAULT, status=201):
    body.setdefault("name", unique("Rule"))
    body.setdefault("enabled", True)
    st, _, js = api("POST", "/v1/rules", body, key=key)
    assert st == status, (st, js)
    return js


def _runs(rule_id, key=crm.DEFAULT):
    st, _, js = api("GET", "/v1/rules/%s/runs" % rule_id, key=key)
    assert st == 200, js
    return js.get("runs", [])


def _settled(rule_id, n, key=crm.DEFAULT, what="runs"):
    """The rule's runs once n of them have ended (none PENDING)."""
    def done():
        runs = _runs(rule_id, key)
        ended = [r for r in runs if r["status"] != "PENDING"]
        return runs if len(runs) >= n and len(ended) == len(runs) else None
    return wait_until(done, timeout=30, what=what)


def _settled_for(rule_id, cids):
    """The rule's runs of these customers once each has one that ended: a
    customer.created of another test's, still on its way into the timeline
    when the rule was made, starts a rule on new customers too."""
    def done():
        runs = [r for r in _runs(rule_id) if r["customerId"] in cids]
        ended = [r for r in runs if r["status"] != "PENDING"]
        return runs if len({r["customerId"] for r in ended}) == len(cids) else None
    return wait_until(done, timeout=30, what="the runs of %d customers" % len(cids))


def _customer(cid, key=crm.DEFAULT):
    st, _, js = api("GET", "/v1/customers/%s" % cid, key=key)
    assert st == 200, js
    return js


def _ingest(ev, key=crm.DEFAULT):
    st, _, js = api("POST", "/v1/events", ev, key=key)
    assert st == 202, (st, js)
    return js["customerId"]


def _tenant_key(role="admin"):
    tenant = crm.crmctl(["tenant", "create", unique("Salon")]).strip()
    key = crm.crmctl(["keys", "create", "--tenant", tenant, "--name", unique("key"),
                      "--role", role]).strip()
    return tenant, key


def _alone(test):
    """Deletes the default tenant's rules after the test, so that its rules do
    not start on the next test's events (only this module makes rules)."""
    @functools.wraps(test)
    def run():
        try:
            test()
        finally:
            st, _, js = api("GET", "/v1/rules")
            for r in js.get("rules", []):
                api("DELETE", "/v1/rules/%s" % r["id"])
    return run


@_alone
def test_an_order_over_the_bus_makes_a_rule_add_a_tag_from_the_second_order():
    tag = unique("regular")
    rule = _rule({"name": unique("Big spender"), "trigger": "RULE_TRIGGER_ORDER_PLACED",
                  "conditions": [{"kind": "RULE_CONDITION_MIN_ORDERS", "number": 2}],
                  "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": tag}]})
    p = _person()
    first = _order(p, 1)
    out = crm.crmctl(["publish", json.dumps(first), "--key", crm.API_KEY])
    cid = json.loads(out)["body"]["customerId"]
    runs = _settled(rule["id"], 1)
    assert runs[0]["status"] == "SKIPPED" and "conditions" in runs[0]["result"], runs
    assert tag not in _customer(cid).get("tags", [])
    crm.crmctl(["publish", json.dumps(_order(p, 2)), "--key", crm.API_KEY])
    runs = _settled(rule["id"], 2)
    assert runs[0]["status"] == "DONE" and runs[0]["customerId"] == cid, runs
    assert runs[0]["result"] == "tag %s added" % tag, runs
    assert runs[0]["outcomes"] == [{"code": "TAG_ADDED", "value": tag}], runs
    assert runs[1]["outcomes"] == [{"code": "CONDITIONS_NOT_MET", "value": ""}], runs
    assert runs[0]["eventType"] == "order.placed"
    assert tag in _customer(cid)["tags"]
    # The audit and the timeline say the rule did it.
    st, _, audit = api("GET", "/v1/customers/%s/audit" % cid)
    assert st == 200, audit
    by = [e for e in audit["entries"] if "rule: " + rule["name"] in json.dumps(e)]
    assert by, audit
    # The timeline follows the customers stream: the rule's change arrives.
    wait_until(lambda: [e for e in api("GET", "/v1/customers/%s/timeline" % cid)[2]["entries"]
                        if e.get("actor") == "rule: " + rule["name"]
                        and e["type"] == "customer.updated"],
               timeout=20, what="the rule's change in the timeline")
    # The same event delivered again (over HTTP this time) acts no more.
    again = crm.crmctl(["publish", json.dumps(first), "--key", crm.API_KEY])
    assert json.loads(again)["body"]["duplicate"] is True
    st, _, r = api("GET", "/v1/rules/%s" % rule["id"])
    assert r["runs"] == 2, r


@_alone
def test_thresholds_of_spent_and_visits():
    tag = unique("vip")
    rule = _rule({"trigger": "RULE_TRIGGER_ORDER_PAID",
                  "conditions": [{"kind": "RULE_CONDITION_MIN_SPENT", "number": "9000",
                                  "currency": "EUR"}],
                  "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": tag}]})
    p = _person()
    o = _order(p, 1, type_="order.paid")
    cid = _ingest(o)
    assert _settled(rule["id"], 1)[0]["status"] == "SKIPPED"
    _ingest(_order(p, 2, type_="order.paid"))
    runs = _settled(rule["id"], 2)
    assert runs[0]["status"] == "DONE", runs
    assert tag in _customer(cid)["tags"]


@_alone
def test_marketing_email_needs_the_consents_and_a_service_mail_does_not():
    tag = unique("welcome")
    rule = _rule({"trigger": "RULE_TRIGGER_CUSTOMER_CREATED",
                  "conditions": [{"kind": "RULE_CONDITION_HAS_TAG", "value": tag}],
                  "actions": [{"kind": "RULE_ACTION_SEND_EMAIL", "marketing": True,
                               "subject": "Hallo {{firstName}}", "text": "Schön, {{fullName}}."}]})
    yes, no = unique_email("yes"), unique_email("no")
    granted = {"marketing": {"granted": True, "source": "web"},
               "email": {"granted": True, "source": "web"}}
    st, _, a = api("POST", "/v1/customers", {"firstName": "Jürgen", "lastName": "Ja",
                                             "email": yes, "tags": [tag], "preferences": granted})
    assert st == 201, a
    st, _, b = api("POST", "/v1/customers", {"firstName": "Nina", "lastName": "Nein",
                                             "email": no, "tags": [tag]})
    assert st == 201, b
    runs = _settled_for(rule["id"], {a["id"], b["id"]})
    by = {r["customerId"]: r for r in runs}
    assert by[a["id"]]["result"] == "e-mail queued", runs
    assert by[b["id"]]["result"] == "e-mail not sent: no marketing consent", runs
    got = wait_until(lambda: mails_to(yes), timeout=20, what="the rule's e-mail")
    assert "Hallo J" in got[0]["data"] or "=?UTF-8?" in got[0]["data"], got[0]["data"][:400]
    assert mails_to(no) == []
    # A service mail (not marketing) goes to a customer without consents.
    service = _rule({"trigger": "RULE_TRIGGER_CUSTOMER_CREATED",
                     "conditions": [{"kind": "RULE_CONDITION_HAS_TAG", "value": tag + "s"}],
                     "actions": [{"kind": "RULE_ACTION_SEND_EMAIL", "subject": "Your account",
                                  "text": "Hello {{firstName}}"}]})
    plain = unique_email("plain")
    st, _, c = api("POST", "/v1/customers", {"firstName": "Pia", "email": plain,
                                             "tags": [tag + "s"]})
    assert st == 201, c
    assert _settled_for(service["id"], {c["id"]})[0]["result"] == "e-mail queued"
    wait_until(lambda: mails_to(plain), timeout=20, what="the service e-mail")


def test_a_rules_marketing_email_carries_list_unsubscribe_and_one_click_works():
    """A rule's marketing mail is unsubscribable as a newsletter is (RFC 2369,
    RFC 8058, the visible link); its service mail is not."""
    tag = unique("mkt")
    _rule({"trigger": "RULE_TRIGGER_CUSTOMER_CREATED",
           "conditions": [{"kind": "RULE_CONDITION_HAS_TAG", "value": tag}],
           "actions": [{"kind": "RULE_ACTION_SEND_EMAIL", "marketing": True,
                        "subject": "Angebot", "text": "Hallo {{firstName}}, 10 % Rabatt."},
                       {"kind": "RULE_ACTION_SEND_EMAIL", "subject": "Ihr Konto",
                        "text": "Hallo {{firstName}}."}]})
    addr = unique_email("mkt")
    granted = {"marketing": {"granted": True, "source": "web"},
               "email": {"granted": True, "source": "web"}, "language": "de"}
    st, _, c = api("POST", "/v1/customers", {"firstName": "Jürgen", "email": addr, "tags": [tag],
                                             "preferences": granted})
    assert st == 201, c
    got = wait_until(lambda: len(mails_to(addr)) == 2 and mails_to(addr), timeout=30,
                     what="the rule's two e-mails")
    msgs = [email.message_from_string(m["data"], policy=email.policy.default) for m in got]
    by = {str(m["Subject"]): m for m in msgs}
    offer, account = by["Angebot"], by["Ihr Konto"]
    assert account["List-Unsubscribe"] is None, account.items()
    lu = str(offer["List-Unsubscribe"])
    assert lu.startswith("<") and lu.endswith(">") and "/v1/unsubscribe/" in lu, lu
    assert str(offer["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    text = offer.get_body(("plain",)).get_content()
    assert "Hallo Jürgen, 10 % Rabatt." in text and "Abmelden: " in text, text
    assert "/ui/unsubscribe.html?token=" in text, text
    # It is kept as marketing among the customer's messages.
    st, _, lst = api("GET", "/v1/customers/%s/messages" % c["id"])
    kinds = sorted(m["kind"] for m in lst["messages"])
    assert kinds == ["marketing", "message"], lst
    # The one-click POST, as a mail provider sends it, withdraws the e-mail consent.
    path = urllib.parse.urlsplit(lu[1:-1]).path
    st, _, js = api("POST", path, raw="List-Unsubscribe=One-Click", key=None,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 200 and js["channel"] == "EMAIL", js
    cust = _customer(c["id"])
    assert cust["preferences"]["email"].get("granted") is not True, cust["preferences"]
    assert cust["preferences"]["email"]["source"] == "unsubscribe link", cust["preferences"]
    # notify itself refuses marketing mail without the consents, and on SMS.
    send = "/v1/customers/%s:sendMessage" % c["id"]
    st, _, js = api("POST", send, {"subject": "S", "text": "T", "marketing": True})
    assert st == 400 and js["error"]["details"][0]["reason"] == "NO_MARKETING_CONSENT", js
    st, _, js = api("POST", send, {"channel": "SMS", "text": "T", "marketing": True})
    assert st == 400 and "marketing" in [d["field"] for d in js["error"]["details"]], js


@_alone
def test_a_rule_switched_off_does_nothing():
    tag = unique("off")
    body = {"name": unique("Off"), "trigger": "RULE_TRIGGER_ORDER_PLACED",
            "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": tag}]}
    rule = _rule(dict(body, enabled=False))
    on = _rule({"trigger": "RULE_TRIGGER_ORDER_PLACED",
                "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": tag + "on"}]})
    cid = _ingest(_order(_person(), 1))
    # The enabled rule's run ending shows the event was taken in and processed.
    _settled(on["id"], 1)
    assert _runs(rule["id"]) == []
    assert tag not in _customer(cid).get("tags", [])
    # Switched on, it acts on the next event.
    st, _, r = api("PUT", "/v1/rules/%s" % rule["id"], dict(body, enabled=True))
    assert st == 200 and r["enabled"] is True, r
    _ingest(_order(_person(), 2))
    assert _settled(rule["id"], 1)[0]["status"] == "DONE"


@_alone
def test_a_tag_a_rule_adds_starts_no_rule():
    first, second = unique("first"), unique("second")
    a = _rule({"trigger": "RULE_TRIGGER_TAG_ADDED", "triggerTag": first,
               "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": second}]})
    b = _rule({"trigger": "RULE_TRIGGER_TAG_ADDED", "triggerTag": second,
               "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": first + "x"}]})
    st, _, c = api("POST", "/v1/customers", {"firstName": "Loop", "tags": ["plain"]})
    assert st == 201, c
    st, _, c2 = api("PATCH", "/v1/customers/%s" % c["id"], {"tags": ["plain", first]})
    assert st == 200, c2
    runs = _settled(a["id"], 1)
    assert runs[0]["status"] == "DONE", runs
    # The rule's change is in the timeline, in the transaction that would
    # have started b: b has no run, and the customer has no first+"x".
    tl = wait_until(lambda: [e for e in api("GET", "/v1/customers/%s/timeline" % c["id"])[2]
                             ["entries"] if e.get("actor", "").startswith("rule: ")],
                    timeout=20, what="the rule's change in the timeline")
    assert tl
    assert _runs(b["id"]) == []
    assert sorted(_customer(c["id"])["tags"]) == sorted(["plain", first, second])


@_alone
def test_a_failing_action_is_retried_and_shown():
    group = unique("nogroup")
    rule = _rule({"trigger": "RULE_TRIGGER_ORDER_PLACED",
                  "actions": [{"kind": "RULE_ACTION_ADD_TO_GROUP", "value": group}]})
    _ingest(_order(_person(), 1))
    runs = _settled(rule["id"], 1, what="the failed run")
    assert runs[0]["status"] == "FAILED" and runs[0]["attempts"] == 3, runs
    assert "could not change groups" in runs[0]["result"], runs
    st, _, r = api("GET", "/v1/rules/%s" % rule["id"])
    assert r["lastError"] == runs[0]["result"] and r["lastErrorAt"] and r["failedRuns"] == 1, r


@_alone
def test_another_tenants_rules_never_act():
    tenant, key = _tenant_key()
    theirs = _rule({"trigger": "RULE_TRIGGER_ORDER_PLACED",
                    "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": "theirs"}]}, key=key)
    ours = _rule({"trigger": "RULE_TRIGGER_ORDER_PLACED",
                  "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": unique("ours")}]})
    _ingest(_order(_person(), 1))
    _settled(ours["id"], 1)
    assert _runs(theirs["id"], key=key) == []
    # Nor can one tenant see or change another's rule.
    st, _, js = api("GET", "/v1/rules/%s" % theirs["id"])
    assert st == 404, js
    st, _, js = api("GET", "/v1/rules")
    assert theirs["id"] not in [r["id"] for r in js["rules"]]


@_alone
def test_two_notes_copies_act_once_per_event():
    tag = unique("twice")
    rule = _rule({"trigger": "RULE_TRIGGER_ORDER_PLACED",
                  "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": tag},
                              {"kind": "RULE_ACTION_SEND_EMAIL", "subject": "Danke",
                               "text": "Danke für die Bestellung"}]})
    with crm.extra_process("notes", "notes-rules-extra"):
        people = [_person() for _ in range(12)]
        cids = [_ingest(_order(p, 1)) for p in people]
        runs = _settled(rule["id"], len(cids))
    assert len(runs) == len(cids), runs
    assert all(r["status"] == "DONE" and r["attempts"] == 1 for r in runs), runs
    # The history in pages of five, newest first, each run once.
    paged, token = [], None
    for _ in range(5):
        st, _, js = api("GET", crm.q("/v1/rules/%s/runs" % rule["id"], pageSize=5,
                                     pageToken=token))
        assert st == 200 and len(js["runs"]) <= 5, js
        paged += js["runs"]
        token = js.get("nextPageToken")
        if not token:
            break
    assert [r["eventId"] for r in paged] == [r["eventId"] for r in runs], (paged, runs)
    for bad in ({"pageSize": 201}, {"pageSize": -1}, {"pageToken": "nope"}):
        st, _, js = api("GET", crm.q("/v1/rules/%s/runs" % rule["id"], **bad))
        assert st == 400 and list(bad)[0] in json.dumps(js), (bad, st, js)
    for p, cid in zip(people, cids):
        assert tag in _customer(cid)["tags"]
        assert len(wait_until(lambda: mails_to(p["email"]), timeout=20)) == 1


def test_scopes_limits_and_bad_input():
    _, staff = _tenant_key("staff")
    body = {"name": "x", "trigger": "RULE_TRIGGER_ORDER_PLACED",
            "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": "t"}]}
    st, _, js = api("POST", "/v1/rules", body, key=staff)
    assert st == 403, js
    st, _, js = api("GET", "/v1/rules", key=staff)
    assert st == 403, js
    _, admin = _tenant_key("admin")
    # Too many conditions, too many actions, none, a bad currency, no trigger.
    cases = [
        (dict(body, conditions=[{"kind": "RULE_CONDITION_MIN_ORDERS", "number": 1}] * 11),
         "rule.conditions"),
        (dict(body, actions=[{"kind": "RULE_ACTION_ADD_TAG", "value": "t"}] * 6), "rule.actions"),
        (dict(body, actions=[]), "rule.actions"),
        (dict(body, conditions=[{"kind": "RULE_CONDITION_MIN_SPENT", "number": 1,
                                 "currency": "euro"}]), "rule.conditions[0].currency"),
        (dict(body, trigger="RULE_TRIGGER_UNSPECIFIED"), "rule.trigger"),
        (dict(body, name=""), "rule.name"),
        (dict(body, name="n" * 101), "rule.name"),
        (dict(body, actions=[{"kind": "RULE_ACTION_SEND_EMAIL", "subject": "a\nb", "text": "t"}]),
         "rule.actions[0].subject"),
    ]
    for case, field in cases:
        st, _, js = api("POST", "/v1/rules", case, key=admin)
        assert st == 400, (field, st, js)
        assert field in json.dumps(js), (field, js)
    # Ten conditions and five actions are fine.
    ok = dict(body, name="ten", conditions=[{"kind": "RULE_CONDITION_MIN_ORDERS", "number": 1}]
              * 10, actions=[{"kind": "RULE_ACTION_ADD_TAG", "value": "t"}] * 5)
    _rule(ok, key=admin)
    st, _, js = api("POST", "/v1/rules", dict(ok), key=admin)
    assert st == 409 and "rule.name" in json.dumps(js), js
    for i in range(49):
        _rule(dict(body, name="r%d" % i), key=admin)
    st, _, js = api("POST", "/v1/rules", dict(body, name="one too many"), key=admin)
    assert st == 429, js
    st, _, js = api("GET", "/v1/rules", key=admin)
    assert len(js["rules"]) == 50


@_alone
def test_dry_run_lists_the_customers_the_conditions_hold_for():
    tag = unique("dry")
    st, _, a = api("POST", "/v1/customers", {"firstName": "Dora", "tags": [tag]})
    assert st == 201, a
    st, _, b = api("POST", "/v1/customers", {"firstName": "Dirk", "tags": [tag, "vip" + tag]})
    assert st == 201, b
    rule = {"name": "dry", "trigger": "RULE_TRIGGER_ORDER_PLACED",
            "conditions": [{"kind": "RULE_CONDITION_HAS_TAG", "value": tag},
                           {"kind": "RULE_CONDITION_NOT_TAG", "value": "vip" + tag}],
            "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": "x"}]}
    st, _, js = api("POST", "/v1/rules:dryRun", {"rule": rule})
    assert st == 200, js
    assert [m["customerId"] for m in js["matches"]] == [a["id"]], js
    assert js["complete"] is True and js["scanned"] == 2, js
    saved = _rule(dict(rule, name=unique("dry")))
    st, _, js = api("POST", "/v1/rules:dryRun", {"id": saved["id"]})
    assert st == 200 and [m["name"] for m in js["matches"]] == ["Dora"], js
    # The ORDER condition reads notes' figures.
    p = _person()
    cid = _ingest(_order(p, 1))
    st, _, js = api("PATCH", "/v1/customers/%s" % cid, {"tags": [tag + "o"]})
    assert st == 200, js
    st, _, js = api("POST", "/v1/rules:dryRun", {"rule": dict(
        rule, conditions=[{"kind": "RULE_CONDITION_HAS_TAG", "value": tag + "o"},
                          {"kind": "RULE_CONDITION_MIN_ORDERS", "number": 1}])})
    assert [m["customerId"] for m in js["matches"]] == [cid], js
    st, _, js = api("POST", "/v1/rules:dryRun", {"rule": dict(
        rule, conditions=[{"kind": "RULE_CONDITION_HAS_TAG", "value": tag + "o"},
                          {"kind": "RULE_CONDITION_MIN_ORDERS", "number": 2}])})
    assert js.get("matches", []) == [], js


@_alone
def test_work_left_by_a_stopped_notes_is_done_once_after_it_starts():
    """An event committed just before notes went away (its rule not yet run),
    and a run a copy had claimed when it died (its lease running): both are
    done once notes runs again, once each."""
    tag = unique("later")
    rule = _rule({"trigger": "RULE_TRIGGER_ORDER_PLACED",
                  "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": tag}]})
    other = _ingest(_order(_person(), 2))
    _settled(rule["id"], 1)
    st, _, fresh = api("POST", "/v1/customers", {"firstName": "Fresh", "lastName": unique("F")})
    assert st == 201, fresh
    cid = fresh["id"]
    crm.ctl(["stop", "notes:*"], check=True)
    try:
        # What the intake commits as notes dies: the event's timeline row
        # (the trigger records it), and a run another copy held.
        crm.psql("INSERT INTO notes.timeline (tenant_id, customer_id, occurred_at, kind, type, "
                 "source, event_id) VALUES ('%s', '%s', now(), 'ORDER', 'order.placed', 'store', "
                 "'%s')" % (crm.TENANT, cid, unique("crash")))
        crm.psql("UPDATE notes.rule_runs SET status = 'PENDING', lease = gen_random_uuid(), "
                 "leased_until = now() + interval '1 second', result = '' "
                 "WHERE rule_id = '%s' AND customer_id = '%s'" % (rule["id"], other))
    finally:
        crm.ctl(["start", "notes:*"], check=True)
        crm.wait_ready()
    runs = _settled(rule["id"], 2, what="the runs left behind")
    assert len(runs) == 2 and all(r["status"] == "DONE" for r in runs), runs
    by = {r["customerId"]: r for r in runs}
    assert by[other]["attempts"] == 2, by[other]  # its first, then the one after the lease
    assert by[cid]["attempts"] == 1 and by[cid]["result"] == "tag %s added" % tag, by[cid]
    assert tag in _customer(cid)["tags"] and tag in _customer(other)["tags"]


@_alone
def test_customer_created_by_source():
    """A rule on new customers from the store acts on the person the store's
    first order brings, not on one staff add through the API."""
    tag = unique("from-store")
    rule = _rule({"trigger": "RULE_TRIGGER_CUSTOMER_CREATED",
                  "conditions": [{"kind": "RULE_CONDITION_SOURCE", "source": "SOURCE_STORE"}],
                  "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": tag}]})
    st, _, by_api = api("POST", "/v1/customers", {"firstName": "Api", "lastName": unique("A")})
    assert st == 201, by_api
    from_store = _ingest(_order(_person(), 1))
    runs = _settled_for(rule["id"], {by_api["id"], from_store})
    by = {r["customerId"]: r for r in runs}
    assert by[by_api["id"]]["status"] == "SKIPPED", runs
    assert by[from_store]["status"] == "DONE" and by[from_store]["eventType"] == "customer.created"
    assert tag in _customer(from_store)["tags"]
    assert tag not in _customer(by_api["id"]).get("tags", [])


def test_dry_run_stops_at_its_limits():
    """A dry run looks at 2,000 customers at most and answers 100 matches at
    most, and says it did not see everyone."""
    from test_exchange import _import
    _, key = _tenant_key()
    rows = "".join("Dry,%s\r\n" % unique("Run") for _ in range(2005))
    job = _import(key, ("firstName,lastName\r\n" + rows).encode(), timeout=300)
    assert job["state"] == "DONE", job
    actions = [{"kind": "RULE_ACTION_ADD_TAG", "value": "x"}]
    # Everyone matches: the answer stops at 100.
    st, _, js = api("POST", "/v1/rules:dryRun", {"rule": {"actions": actions}}, key=key)
    assert st == 200, js
    assert len(js["matches"]) == 100 and js["complete"] is False, (len(js["matches"]), js["scanned"])
    # Nobody matches (no orders): it stops after 2,000 customers.
    st, _, js = api("POST", "/v1/rules:dryRun", {"rule": {"conditions": [
        {"kind": "RULE_CONDITION_MIN_ORDERS", "number": 1}]}}, key=key, timeout=120)
    assert st == 200, js
    assert js.get("matches", []) == [] and js["scanned"] == 2000 and js["complete"] is False, js
