"""Who may do what, generated from the OpenAPI document the gateway serves
(x-crm-scopes on each operation) and the role table of docs/api.md, so a new
route is covered without a new test:

- every role's API key, and a key per scope, against every route: 403 exactly
  when the role table (narrowed by the key's scopes) lacks a scope the route
  needs, and never 403 otherwise;
- tenant A's administrator on tenant B's ids, for every route with a path
  id: 404, and B's data unchanged (a dump through B's key before and after);
- a booking system's key (events:publish only) posts events and nothing else;
- API keys made, listed (last use) and revoked over HTTP, and with crmctl;
- private content (a customer's description, a note's body) hidden from a
  key without private:read, and kept when such a key writes.
"""
import base64
import json
import os
import re
import struct
import zlib

import crm
import test_openapi
from crm import api, unique, unique_email, wait_until
from test_openapi import _served

# An id of the right shape that names nothing.
SOME_ID = "00000000-0000-4000-8000-000000000000"
ROLES = ("owner", "admin", "staff", "readonly", "service")
DOC = os.path.join(crm.ROOT, "docs", "api.md")


# ------------------------------------------------------------------ helpers

def _operations(doc):
    """(METHOD, path, operation) for every operation that needs a key."""
    for method, path, op in test_openapi._operations(doc):
        if op.get("security") not in ([], [{"sessionCookie": []}]):
            yield method.upper(), path, op


def _doc_section(title):
    text = open(DOC, encoding="utf-8").read()
    m = re.search(r"^## %s\n(.*?)(?=^## )" % re.escape(title), text, re.S | re.M)
    assert m, "docs/api.md has no section %r" % title
    return m.group(1)


def _table(section, first):
    """The rows of the Markdown table whose header starts with `| first |`."""
    lines = section.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("| %s |" % first))
    head = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return head, rows


def _role_table():
    """{role: set of scopes} from docs/api.md, "Roles and scopes"."""
    head, rows = _table(_doc_section("Roles and scopes"), "role")
    scopes = [h.strip("`") for h in head[1:]]
    return {r[0].strip("`"): {s for s, cell in zip(scopes, r[1:]) if cell == "yes"}
            for r in rows}, scopes


def _tenant(prefix="Perms"):
    return crm.crmctl(["tenant", "create", unique(prefix), "--country", "PL"]).strip()


def _key(tenant, role=None, scopes=None):
    args = ["keys", "create", "--tenant", tenant, "--name", unique("key")]
    if role:
        args += ["--role", role]
    if scopes:
        args += ["--scopes", ",".join(scopes)]
    return crm.crmctl(args).strip()


def _ok(st, js, *want):
    assert st in want, (st, js)
    return js


def _request(method, path, key):
    """One request as the role test sends it: a JSON body {} where the route
    takes one."""
    return api(method, path, {} if method in ("POST", "PUT", "PATCH") else None, key=key)


# ------------------------------------------------------------------ the doc and the code

# The routes any valid key or session may use, whatever its role and scopes.
ANY_KEY = "any key or session"
ANY_KEY_ROUTES = {"GET /v1/whoami"}


def test_every_route_names_its_scopes_and_the_doc_lists_them():
    """Every operation that needs a key says what (x-crm-scopes, scopes the
    role table knows), and docs/api.md's route table says the same."""
    roles, scopes = _role_table()
    assert set(roles) == set(ROLES), roles
    _, rows = _table(_doc_section("Roles and scopes"), "route")
    # "any key or session": a route any valid key may use (x-crm-scopes []).
    documented = {r[0].strip("`"): set() if r[1].strip() == ANY_KEY
                  else {s.strip("` ") for s in r[1].split(",")} for r in rows}
    served = {}
    for method, path, op in _operations(_served()):
        need = op.get("x-crm-scopes")
        assert need is not None, "%s %s names no scope (gateway_routes.c .scopes)" % (method, path)
        assert need or "%s %s" % (method, path) in ANY_KEY_ROUTES, (method, path)
        assert set(need) <= set(scopes), (method, path, need)
        served["%s %s" % (method, path)] = set(need)
    missing = {r: served[r] for r in served if documented.get(r) != served[r]}
    listing = "\n".join("| `%s` | %s |" % (r, ", ".join("`%s`" % s for s in sorted(served[r]))
                                            or ANY_KEY) for r in sorted(served))
    assert not missing and set(documented) == set(served), (
        "docs/api.md's route table differs from the OpenAPI document; it should read:\n"
        + listing)


# ------------------------------------------------------------------ role against route

def test_each_role_and_scope_against_every_route():
    """403 exactly when the key's role (and scopes) lack a scope the route
    needs; every other answer is not 403."""
    roles, scopes = _role_table()
    tenant = _tenant()
    keys = {("role", r): (_key(tenant, role=r), roles[r]) for r in ROLES}
    for s in scopes:
        # A key made with scopes has role service: it may do what both allow.
        keys[("scope", s)] = (_key(tenant, scopes=[s]), {s} & roles["service"])
    wrong, checked = [], 0
    for method, path, op in _operations(_served()):
        need = set(op["x-crm-scopes"])
        checked += 1
        url = re.sub(r"\{[^}]+\}", SOME_ID, path)
        for (kind, name), (key, granted) in sorted(keys.items()):
            st, _, js = _request(method, url, key)
            denied = not need <= granted
            if (st == 403) != denied:
                wrong.append("%s %s as %s %s: %d %s" % (method, path, kind, name, st,
                                                         js if st != 200 else ""))
            elif denied:
                missing = sorted(need - granted)[0]
                msg = js["error"]["message"]
                if "(%s)" % missing not in msg and not any("(%s)" % m in msg for m in need):
                    wrong.append("%s %s as %s %s: 403 without the scope: %s"
                                 % (method, path, kind, name, msg))
    assert checked > 70 and not wrong, "\n".join(wrong)


def _member_session(owner, role):
    """A signed-in member of owner's tenant with role (invited, accepted)."""
    email = unique_email(role)
    st, _, inv = owner.api("POST", "/v1/staff:invite",
                           {"email": email, "name": unique(role), "role": role.upper()})
    assert st == 201, inv
    s = crm.StaffSession()
    st, _, js = s.api("POST", "/v1/invites:accept",
                      {"token": crm.staff_invite_token(inv)[0], "name": inv["staff"]["name"],
                       "password": "a member's long password"})
    assert st == 200 and js["staff"]["role"] == role.upper(), js
    return s


def test_each_signed_in_role_against_every_route():
    """The role table holds for people too: a signed-in member of each role
    (a session cookie, with its CSRF token) is refused exactly the routes
    whose scopes the role lacks."""
    roles, _ = _role_table()
    tenant = _tenant()
    email = unique_email("owner")
    crm.crmctl(["staff", "create-owner", "--tenant", tenant, "--email", email, "--name",
                unique("Owner"), "--password-stdin"], input="the owner's long password\n")
    owner = crm.StaffSession()
    assert owner.sign_in(email, "the owner's long password")[0] == 200
    sessions = {"owner": owner}
    for role in ("admin", "staff", "readonly"):
        sessions[role] = _member_session(owner, role)
    wrong, checked = [], 0
    for method, path, op in _operations(_served()):
        need = set(op["x-crm-scopes"])
        url = re.sub(r"\{[^}]+\}", SOME_ID, path)
        checked += 1
        for role, s in sorted(sessions.items()):
            st, _, js = s.api(method, url, {} if method in ("POST", "PUT", "PATCH") else None)
            if (st == 403) != (not need <= roles[role]):
                wrong.append("%s %s as a signed-in %s: %d %s" % (method, path, role, st,
                                                                  js if st != 200 else ""))
    assert checked > 70 and not wrong, "\n".join(wrong)
    for s in sessions.values():
        assert s.api("GET", "/v1/session")[0] == 200


def test_a_booking_systems_key_publishes_events_and_nothing_else():
    tenant = _tenant("Booking")
    admin = _key(tenant, role="admin")
    booking = _key(tenant, scopes=["events:publish"])
    ev = {"source": "booking", "eventId": unique("bk"), "type": "booking.created",
          "occurredAt": "2026-11-20T10:00:00Z",
          "customer": {"externalId": unique("c"), "firstName": "Ola",
                       "lastName": unique("Nowak"), "email": unique_email("ola")},
          "booking": {"id": unique("b"), "service": "Cut", "startsAt": "2026-12-01T09:00:00Z",
                      "endsAt": "2026-12-01T10:00:00Z"}}
    st, _, js = api("POST", "/v1/events", ev, key=booking)
    assert st == 202, (st, js)
    # The customer it registered is there, but the booking key cannot read it...
    st, _, found = api("GET", "/v1/customers", key=admin)
    assert st == 200 and len(found["customers"]) == 1, found
    cid = found["customers"][0]["id"]
    st, _, js = api("GET", "/v1/customers/" + cid, key=booking)
    assert st == 403 and "(customers:read)" in js["error"]["message"], js
    # ...nor delete it, nor anything else (but ask who it is).
    st, _, js = api("DELETE", "/v1/customers/" + cid, key=booking)
    assert st == 403 and "(customers:write)" in js["error"]["message"], js
    for method, path, op in _operations(_served()):
        if op["x-crm-scopes"] in (["events:publish"], []):
            continue
        st, _, js = _request(method, re.sub(r"\{[^}]+\}", cid, path), booking)
        assert st == 403, (method, path, st, js)
    st, _, js = api("GET", "/v1/customers/" + cid, key=admin)
    assert st == 200, js


# ------------------------------------------------------------------ cross-tenant

# The tenant object a path's id names, by the collection before it.
COLLECTIONS = {"customers": "customer", "groups": "group", "notes": "note", "tasks": "task",
               "messages": "message", "campaigns": "campaign", "imports": "import",
               "exports": "export", "taskFeeds": "taskFeed", "apiKeys": "apiKey",
               "staff": "staff", "priceRules": "priceRule", "files": "file", "rules": "rule",
               "forms": "form", "surveys": "filling", "plans": "plan",
               "subscriptions": "subscription", "visits": "visit", "purchases": "purchase",
               "visitPresets": "visitPreset", "accessZones": "accessZone",
               "accessCredentials": "accessCredential", "accessGrants": "accessGrant",
               "vouchers": "voucher"}
# Path parameters that name no tenant object: the route answers with the
# caller's own tenant's (A's) copy, never B's.
NOT_TENANT_OBJECTS = {"kind", "language"}


def _fill_tenant(key):
    """A tenant's data, one of each object a route's path can name; {kind: id}."""
    ids = {}
    st, _, c = api("POST", "/v1/customers", {"firstName": "Bea", "lastName": unique("B"),
                                              "email": unique_email("bea"),
                                              "description": "private to B"}, key=key)
    ids["customer"] = _ok(st, c, 201)["id"]
    # A second record of Bea's, for the merge (folded into ids["customer"]).
    st, _, dup = api("POST", "/v1/customers", {"firstName": "Bea", "lastName": unique("B")},
                     key=key)
    ids["mergeDuplicate"] = _ok(st, dup, 201)["id"]
    st, _, g = api("POST", "/v1/groups", {"name": unique("G")}, key=key)
    ids["group"] = _ok(st, g, 201)["id"]
    st, _, n = api("POST", "/v1/customers/%s/notes" % ids["customer"], {"body": "B's note"},
                   key=key)
    ids["note"] = _ok(st, n, 201)["id"]
    st, _, fl = api("POST", "/v1/customers/%s/files?filename=b.txt" % ids["customer"],
                    raw=b"B's file", headers={"Content-Type": "text/plain"}, key=key)
    ids["file"] = _ok(st, fl, 201)["id"]
    st, _, terms = api("PUT", "/v1/terms", {"text": "B's terms"}, key=key)
    _ok(st, terms, 200)
    st, _, t = api("POST", "/v1/tasks", {"title": "B's task", "customerId": ids["customer"]},
                   key=key)
    ids["task"] = _ok(st, t, 201)["id"]
    st, _, m = api("POST", "/v1/customers/%s:sendMessage" % ids["customer"],
                   {"subject": "Hi", "text": "Hello"}, key=key)
    ids["message"] = _ok(st, m, 202)["id"]
    st, _, cp = api("POST", "/v1/campaigns", {"name": unique("C"), "tag": unique("t"),
                                              "subject": "S", "text": "T"}, key=key)
    ids["campaign"] = _ok(st, cp, 201)["id"]
    st, _, imp = api("POST", "/v1/imports?dryRun=true", raw=b"firstName\r\nZed\r\n", key=key,
                     headers={"Content-Type": "text/csv"})
    ids["import"] = _ok(st, imp, 201)["id"]
    st, _, ex = api("POST", "/v1/exports", {}, key=key)
    ids["export"] = _ok(st, ex, 201)["id"]
    st, _, f = api("POST", "/v1/taskFeeds", {}, key=key)
    ids["taskFeed"] = _ok(st, f, 201)["id"]
    st, _, k = api("POST", "/v1/apiKeys", {"name": "B's integration",
                                           "scopes": ["customers:read"]}, key=key)
    ids["apiKey"] = _ok(st, k, 201)["apiKey"]["id"]
    st, _, m = api("POST", "/v1/staff:invite", {"email": unique_email("bstaff"), "name": "B's",
                                                "role": "STAFF"}, key=key)
    ids["staff"] = _ok(st, m, 201)["staff"]["id"]
    st, _, r = api("POST", "/v1/priceRules", {"customerId": ids["customer"], "target": "ALL",
                                              "percentOffBp": 1000}, key=key)
    ids["priceRule"] = _ok(st, r, 201)["id"]
    # The wallet: loyalty on, a point to spend, a voucher to redeem.
    st, _, ws = api("PATCH", "/v1/walletSettings", {"loyaltyEnabled": True}, key=key)
    _ok(st, ws, 200)
    st, _, w = api("POST", "/v1/customers/%s/wallet:earnPoints" % ids["customer"],
                   {"amountMinor": "500", "reference": unique("order")}, key=key)
    _ok(st, w, 200)
    st, _, v = api("POST", "/v1/vouchers", {"amount": "1000"}, key=key)
    ids["voucherCode"] = _ok(st, v, 201)["code"]
    # Another voucher, for the routes that name one by its id (:cancel).
    st, _, v = api("POST", "/v1/vouchers", {"amount": "500"}, key=key)
    ids["voucher"] = _ok(st, v, 201)["voucher"]["id"]
    st, _, r = api("POST", "/v1/rules", dict(RULE_SAMPLE, name=unique("R")), key=key)
    ids["rule"] = _ok(st, r, 201)["id"]
    st, _, fm = api("POST", "/v1/forms", {"title": "B's survey", "purpose": "SURVEY", "questions": [
        {"text": "How was it?", "type": "SHORT_TEXT"}]}, key=key)
    ids["form"] = _ok(st, fm, 201)["id"]
    st, _, fl = api("POST", "/v1/customers/%s/surveys" % ids["customer"], {
        "formId": ids["form"], "answers": [{"questionId": fm["questions"][0]["id"],
                                            "value": "B's answer"}]}, key=key)
    ids["filling"] = _ok(st, fl, 201)["id"]
    # A plan and a subscription sold from it.
    st, _, p = api("POST", "/v1/plans", {"name": unique("P"), "kind": "PACKAGE", "visits": 5},
                   key=key)
    ids["plan"] = _ok(st, p, 201)["id"]
    st, _, s = api("POST", "/v1/customers/%s/subscriptions" % ids["customer"],
                   {"planId": ids["plan"]}, key=key)
    ids["subscription"] = _ok(st, s, 201)["subscription"]["id"]
    # A visit and a paid purchase the booking system and the store sent, and
    # a preset of visit parameters.
    # (the same person as B's customer, found by e-mail)
    person = {"externalId": unique("c"), "email": c["email"]}
    ids["visit"], ids["purchase"] = unique("bk"), unique("or")
    order = {"id": ids["purchase"], "total": {"amountMinor": "1000", "currency": "PLN"}}
    for ev in [{"source": "booking", "type": "booking.created",
                "booking": {"id": ids["visit"], "startsAt": "2026-12-01T10:00:00Z"}},
               {"source": "store", "type": "order.placed", "order": order},
               {"source": "store", "type": "order.paid", "order": order}]:
        ev.update({"eventId": unique("ev"), "occurredAt": "2026-11-30T10:00:00Z",
                   "customer": person})
        st, _, js = api("POST", "/v1/events", ev, key=key)
        assert _ok(st, js, 202)["customerId"] == ids["customer"], js
    # Two returns to the balance whose credits customers refused for good
    # (FAILED), for :retryCredit and :settleCredit.
    for name in ("creditRetry", "creditSettle"):
        st, _, r = api("POST", "/v1/customers/%s/purchases/%s:return" % (ids["customer"],
                                                                        ids["purchase"]),
                       {"amountMinor": "100", "refundToBalance": True}, key=key)
        ids[name] = _ok(st, r, 200)["actionId"]
        crm.psql("UPDATE notes.order_returns SET credit = 'FAILED', credit_error = 'refused' "
                 "WHERE id = '%s'" % ids[name])
    st, _, vp = api("PUT", "/v1/customers/%s/visits/%s/parameters" % (ids["customer"],
                                                                      ids["visit"]),
                    {"parameters": [{"name": "Laser", "value": "B's"}]}, key=key)
    _ok(st, vp, 200)
    st, _, pr = api("POST", "/v1/visitPresets", {"name": unique("Preset"),
                                                 "parameterNames": ["Laser"]}, key=key)
    ids["visitPreset"] = _ok(st, pr, 201)["id"]
    # Access control: a zone, a credential and a grant to it, one check logged.
    st, _, z = api("POST", "/v1/accessZones", {"name": unique("Z")}, key=key)
    ids["accessZone"] = _ok(st, z, 201)["id"]
    st, _, k = api("POST", "/v1/customers/%s/accessCredentials" % ids["customer"],
                   {"kind": "CARD", "value": unique("B-card")}, key=key)
    ids["accessCredential"] = _ok(st, k, 201)["id"]
    ids["accessValue"] = k["value"]
    st, _, g = api("POST", "/v1/customers/%s/accessGrants" % ids["customer"],
                   {"zoneId": ids["accessZone"]}, key=key)
    ids["accessGrant"] = _ok(st, g, 201)["id"]
    st, _, c = api("POST", "/v1/access:check", {"credentialValue": ids["accessValue"],
                                                "zoneId": ids["accessZone"]}, key=key)
    assert _ok(st, c, 200)["decision"] == "ALLOW", c
    return ids


def _png(side=1):
    """A side x side RGB PNG, red."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    rows = (b"\x00" + b"\xff\x00\x00" * side) * side
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# An automation rule no event of the test starts.
RULE_SAMPLE = {"name": "from A", "enabled": True, "trigger": "RULE_TRIGGER_NO_SHOW",
               "actions": [{"kind": "RULE_ACTION_ADD_TAG", "value": "a"}]}

# Bodies the routes accept (so the answer is about the ids, not the body);
# a route with a body and no entry here is sent {}.
SAMPLES = {
    "POST /v1/customers/{customer_id}/notes": {"body": "from A"},
    "PATCH /v1/customers/{customer_id}/notes/{id}": {"body": "from A"},
    "POST /v1/customers/{customer_id}/tasks": {"title": "from A"},
    "POST /v1/customers/{customer_id}:sendMessage": {"subject": "From A", "text": "Hello"},
    "PATCH /v1/customers/{id}": {"lastName": "from A"},
    "PATCH /v1/groups/{id}": {"name": "from A"},
    "PATCH /v1/priceRules/{id}": {"name": "from A"},
    "PATCH /v1/tasks/{id}": {"title": "from A"},
    "POST /v1/customers/{id}/wallet:adjust": {"kind": "MONEY", "amount": "1", "reason": "A"},
    "POST /v1/customers/{id}/wallet:earnPoints": {"amountMinor": "100", "reference": "A"},
    "POST /v1/customers/{id}/wallet:spendPoints": {"points": "1"},
    # B's own voucher (_fill_tenant issues it): A's tenant has no such code.
    "POST /v1/customers/{id}/wallet:redeemVoucher": lambda ids: {"code": ids["voucherCode"]},
    "POST /v1/vouchers/{id}:cancel": {"reason": "from A"},
    "PATCH /v1/customers/{customer_id}/files/{id}": {"filename": "from-a.txt"},
    "POST /v1/customers/{customer_id}/files:signTerms":
        {"version": 1, "signature": base64.b64encode(_png(16)).decode()},
    "PUT /v1/rules/{id}": RULE_SAMPLE,
    "PATCH /v1/forms/{id}": {"title": "from A"},
    "PATCH /v1/plans/{id}": {"price": "1"},
    "POST /v1/customers/{customer_id}/subscriptions": lambda ids: {"planId": ids["plan"]},
    "PATCH /v1/customers/{customer_id}/subscriptions/{id}": {"note": "from A"},
    "POST /v1/customers/{customer_id}/subscriptions:useVisit": {"reference": "A"},
    "POST /v1/customers/{customer_id}/subscriptions:undoVisit": {"reference": "A"},
    "PUT /v1/customers/{customer_id}/visits/{booking_id}/parameters":
        {"parameters": [{"name": "Laser", "value": "from A"}]},
    "POST /v1/visitPresets": {"name": "from A", "parameterNames": ["Laser"]},
    "PUT /v1/visitPresets/{id}": {"name": "renamed by A", "parameterNames": ["Laser"]},
    "POST /v1/customers/{customer_id}/purchases/{order_id}:return": {"whole": True},
    "POST /v1/customers/{customer_id}/purchases/{order_id}:retryCredit":
        lambda ids: {"returnId": ids["creditRetry"]},
    "POST /v1/customers/{customer_id}/purchases/{order_id}:settleCredit":
        lambda ids: {"returnId": ids["creditSettle"]},
    "PATCH /v1/accessZones/{id}": {"name": "from A"},
    "POST /v1/customers/{customer_id}/accessCredentials": {"kind": "CARD", "value": "from-A"},
    "POST /v1/customers/{customer_id}/accessGrants": lambda ids: {"zoneId": ids["accessZone"]},
    "PATCH /v1/customers/{customer_id}/accessCredentials/{id}": {"blocked": True},
    # B's second record of the customer: A's tenant has neither. Last, as it
    # removes that record when B's own key sends it.
    "POST /v1/customers/{id}:merge": lambda ids: {"duplicateId": ids["mergeDuplicate"]},
}
RAW_SAMPLES = {"PUT /v1/customers/{id}/photo": (_png(), "image/png", ""),
               "POST /v1/customers/{customer_id}/files": (b"from A", "text/plain",
                                                          "?filename=a.txt")}


def _send_sample(method, path, url, key, ids=None):
    name = "%s %s" % (method, path)
    if name in RAW_SAMPLES:
        data, ctype, query = RAW_SAMPLES[name]
        return api(method, url + query, raw=data, headers={"Content-Type": ctype}, key=key)
    if method in ("POST", "PUT", "PATCH"):
        body = SAMPLES.get(name, {})
        return api(method, url, body(ids) if callable(body) else body, key=key)
    return api(method, url, key=key)


def _url_for(path, ids):
    """path with B's ids, or None when it names no tenant object."""
    parts = path.strip("/").split("/")
    out = []
    for i, part in enumerate(parts):
        m = re.match(r"^\{([^}]+)\}(.*)$", part)
        if not m:
            out.append(part)
            continue
        name, verb = m.groups()
        if name in NOT_TENANT_OBJECTS:
            return None
        coll = "customers" if name == "customer_id" else parts[i - 1]
        assert coll in COLLECTIONS, "no tenant object known for {%s} in %s" % (name, path)
        out.append(ids[COLLECTIONS[coll]] + verb)
    return "/" + "/".join(out)


VOLATILE = {"lastUsedAt", "servedBy"}


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _dump(key, ids, doc):
    """Everything B's key can GET: every GET route, with B's ids."""
    out = {}
    for method, path, _ in _operations(doc):
        if method != "GET" or path.startswith("/v1/feeds"):
            continue
        url = _url_for(path, ids) if "{" in path else path
        if url is None:
            continue
        st, _, body = api("GET", url, key=key)
        out[path] = (st, _strip(body) if isinstance(body, (dict, list)) else len(body))
    return out


def test_tenant_a_cannot_reach_tenant_b_by_its_ids():
    a = _key(_tenant("A"), role="admin")
    b = _key(_tenant("B"), role="admin")
    ids = _fill_tenant(b)
    _fill_tenant(a)
    doc = _served()
    # Jobs settle before the dump (their state would change it).
    for kind in ("import", "export"):
        wait_until(lambda: api("GET", "/v1/%ss/%s" % (kind, ids[kind]), key=b)[2]["state"]
                   in ("DONE", "FAILED"), timeout=60, what="B's %s ends" % kind)

    def settled():
        # What happens after the requests (the message's sending, its events
        # on the timeline, the campaign's end) is over before the dump.
        m = api("GET", "/v1/messages/" + ids["message"], key=b)[2]
        if m["status"] not in ("FAILED", "SENT"):
            return False
        tl = api("GET", "/v1/customers/%s/timeline" % ids["customer"], key=b)[2]
        types = {e["type"] for e in tl.get("entries", [])}
        if not types & {"message.sent", "message.failed"} or "message.queued" not in types:
            return False
        cp = api("GET", "/v1/campaigns/" + ids["campaign"], key=b)[2]
        return cp["status"] in ("DONE", "CANCELLED")
    wait_until(settled, timeout=60, what="B's message, its timeline and its campaign settled")
    before = _dump(b, ids, doc)
    wrong, checked = [], 0
    for method, path, op in _operations(doc):
        if "{" not in path:
            continue
        url = _url_for(path, ids)
        if url is None:
            continue
        st, _, js = _send_sample(method, path, url, a, ids)
        checked += 1
        if st != 404:
            wrong.append("%s %s with B's ids as A: %d %s" % (method, path, st, js))
    assert checked > 20 and not wrong, "\n".join(wrong)
    after = _dump(b, ids, doc)
    assert after == before, {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                             if before.get(k) != after.get(k)}
    # The samples are good: B's own key is answered with success.
    for name in list(SAMPLES) + list(RAW_SAMPLES):
        method, path = name.split(" ")
        st, _, js = _send_sample(method, path, _url_for(path, ids), b, ids)
        assert st < 300, (name, st, js)


# ------------------------------------------------------------------ API keys

def test_api_keys_are_made_listed_used_and_revoked():
    tenant = _tenant("Keys")
    admin = _key(tenant, role="admin")
    st, _, made = api("POST", "/v1/apiKeys", {"name": "Shop", "scopes": ["customers:read",
                                                                        "events:publish"]},
                      key=admin)
    assert st == 201, made
    k = made["apiKey"]
    assert made["secret"].startswith("crm_") and k["role"] == "SERVICE", made
    assert k["scopes"] == ["customers:read", "events:publish"] and not k.get("lastUsedAt"), k
    assert k["createdBy"], k
    # It reads, and its use is recorded (once a minute at most).
    st, _, js = api("GET", "/v1/customers", key=made["secret"])
    assert st == 200, js
    st, _, js = api("POST", "/v1/customers", {"firstName": "X"}, key=made["secret"])
    assert st == 403 and js["error"]["message"] == \
        "this key may not change customers (customers:write)", js
    st, _, listed = api("GET", "/v1/apiKeys", key=admin)
    assert st == 200, listed
    mine = [x for x in listed["apiKeys"] if x["id"] == k["id"]]
    assert len(mine) == 1 and mine[0]["lastUsedAt"] and "secret" not in mine[0], mine
    assert all("secret" not in x and "keyHash" not in x for x in listed["apiKeys"])
    # The secret is never shown again; a key it made may not make keys.
    st, _, js = api("GET", "/v1/apiKeys", key=made["secret"])
    assert st == 403 and "(staff)" in js["error"]["message"], js
    # Revoked: refused at once on this gateway, listed with its time.
    st, _, js = api("DELETE", "/v1/apiKeys/" + k["id"], key=admin)
    assert st == 204, js
    st, _, js = api("GET", "/v1/customers", key=made["secret"])
    assert st == 401, js
    st, _, js = api("DELETE", "/v1/apiKeys/" + k["id"], key=admin)
    assert st == 404, js
    st, _, listed = api("GET", "/v1/apiKeys", key=admin)
    assert [x for x in listed["apiKeys"] if x["id"] == k["id"]][0]["revokedAt"], listed
    # Made and revoked are security events.
    st, _, ev = api("GET", "/v1/securityEvents", key=admin)
    assert st == 200, ev
    kinds = [e["kind"] for e in ev["events"] if k["id"] in e["subject"]]
    assert kinds == ["KEY_REVOKED", "KEY_CREATED"], ev


def test_whoami_says_what_the_caller_may_do():
    tenant = _tenant("Who")
    roles, scopes = _role_table()
    for role in ("admin", "staff", "readonly"):
        st, _, me = api("GET", "/v1/whoami", key=_key(tenant, role=role))
        assert st == 200 and me["tenantId"] == tenant, me
        assert me["role"].replace("_", "").lower() == role, me
        assert set(me["scopes"]) == roles[role], (role, me)
    # A key made with scopes: its role's narrowed by its list.
    narrow = _key(tenant, scopes=["customers:read", "notes:read"])
    st, _, me = api("GET", "/v1/whoami", key=narrow)
    assert st == 200 and me["scopes"] == ["customers:read", "notes:read"], me
    assert me["kind"] and me["principalId"] and me["name"], me
    # Any valid key is told, whatever it may do: a booking system's, a door's.
    for only in ("events:publish", "access:check"):
        st, _, me = api("GET", "/v1/whoami", key=_key(tenant, scopes=[only]))
        assert st == 200 and me["scopes"] == [only] and me["tenantId"] == tenant, (only, me)
        assert me["role"] == "SERVICE", me
    # A key without customers:read is still refused the customers.
    door = _key(tenant, scopes=["access:check"])
    assert api("GET", "/v1/customers", key=door)[0] == 403
    assert api("GET", "/v1/whoami", key=None)[0] == 401
    assert api("GET", "/v1/whoami", key="crm_not_a_key")[0] == 401


def test_a_new_key_is_checked_field_by_field():
    admin = _key(_tenant("KeyCheck"), role="admin")
    cases = [
        ({"scopes": ["customers:read"]}, "name", "REQUIRED"),
        ({"name": "x" * 101, "scopes": ["customers:read"]}, "name", "TOO_LONG"),
        ({"name": "n"}, "scopes", "REQUIRED"),
        ({"name": "n", "scopes": ["customers:read", "root"]}, "scopes[1]", "INVALID_FORMAT"),
        ({"name": "n", "scopes": ["internal"]}, "scopes[0]", "INVALID_FORMAT"),
        ({"name": "n", "scopes": ["staff", "staff"]}, "scopes[1]", "DUPLICATE"),
    ]
    for body, field, reason in cases:
        st, _, js = api("POST", "/v1/apiKeys", body, key=admin)
        assert st == 400, (body, js)
        details = {(d["field"], d["reason"]) for d in js["error"]["details"]}
        assert (field, reason) in details, (body, js)
    st, _, listed = api("GET", "/v1/apiKeys", key=admin)
    assert len(listed["apiKeys"]) == 1, listed  # only the admin's own: nothing half made


def test_crmctl_makes_lists_and_revokes_scoped_keys():
    tenant = _tenant("Ctl")
    secret = _key(tenant, scopes=["customers:read", "notes:read"])
    st, _, js = api("GET", "/v1/customers", key=secret)
    assert st == 200, js
    st, _, js = api("GET", "/v1/settings", key=secret)
    assert st == 200, js
    st, _, js = api("POST", "/v1/groups", {"name": "G"}, key=secret)
    assert st == 403, js
    listing = crm.crmctl(["keys", "list", "--tenant", tenant])
    line = [l for l in listing.splitlines() if "customers:read,notes:read" in l]
    assert len(line) == 1 and "\tservice\t" in line[0], listing
    key_id = line[0].split("\t")[0]
    r = crm.crmctl_run(["keys", "create", "--tenant", tenant, "--scopes", "customers:read,oops"])
    assert r.returncode == 2 and "oops is not a scope" in r.stderr, r
    assert crm.crmctl(["keys", "revoke", key_id]).strip() == "revoked " + key_id
    rows = crm.psql_rows("SELECT kind, actor_name FROM customers.security_events WHERE "
                         "tenant_id = '%s' AND subject LIKE '%%(%s)' ORDER BY id" % (tenant, key_id))
    assert rows == [("11", "crmctl"), ("12", "crmctl")], rows
    # Another gateway's cache (or this one's, for a key crmctl revoked) forgets it
    # within its 30 s.
    wait_until(lambda: api("GET", "/v1/customers", key=secret)[0] == 401, timeout=40,
               what="the revoked key is refused")


# ------------------------------------------------------------------ private content

def test_private_content_reaches_only_keys_with_private_read():
    tenant = _tenant("Private")
    admin = _key(tenant, role="admin")
    readonly = _key(tenant, role="readonly")
    service = _key(tenant, role="service")
    shop = _key(tenant, scopes=["customers:read", "customers:write", "notes:read",
                                "notes:write"])
    st, _, c = api("POST", "/v1/customers", {"firstName": "Pia", "lastName": unique("P"),
                                             "email": unique_email("pia"),
                                             "description": "prefers mornings; allergic"},
                   key=admin)
    assert st == 201, c
    cid = c["id"]
    st, _, n = api("POST", "/v1/customers/%s/notes" % cid, {"body": "owes 20 EUR"}, key=admin)
    assert st == 201, n
    for key in (admin, readonly):
        assert api("GET", "/v1/customers/" + cid, key=key)[2]["description"] == \
            "prefers mornings; allergic"
        assert api("GET", "/v1/customers/%s/notes" % cid, key=key)[2]["notes"][0]["body"] == \
            "owes 20 EUR"
    for key in (service, shop):
        st, _, got = api("GET", "/v1/customers/" + cid, key=key)
        assert st == 200 and not got["description"], got
        st, _, listed = api("GET", "/v1/customers", key=key)
        assert listed["customers"] and not any(x["description"] for x in listed["customers"])
        st, _, found = api("GET", "/v1/customers:search?q=Pia&consistentWith=%s:%s" % (cid, c["etag"]), key=key)
        assert st == 200 and found["customers"] and \
            not any(x["description"] for x in found["customers"]), found
        st, _, notes = api("GET", "/v1/customers/%s/notes" % cid, key=key)
        assert st == 200 and notes["notes"] and not notes["notes"][0]["body"], notes
        st, _, audit = api("GET", "/v1/customers/%s/audit" % cid, key=key)
        for e in audit["entries"]:
            for ch in e.get("changes", []):
                if ch["field"] == "description":
                    assert not ch.get("newValue") and not ch.get("oldValue"), ch
        st, _, tl = api("GET", "/v1/customers/%s/timeline" % cid, key=key)
        assert st == 200, tl
        assert "owes 20 EUR" not in str(tl) and "allergic" not in str(tl), tl
    # A write from a key that cannot read them keeps them: what it read,
    # sent back whole, and a mask that names them.
    st, _, got = api("GET", "/v1/customers/" + cid, key=shop)
    got["lastName"] = "Changed"
    st, _, js = api("PATCH", "/v1/customers/" + cid, got, key=shop)
    assert st == 200 and not js["description"], js
    st, _, js = api("PATCH", "/v1/customers/" + cid, {"description": ""}, key=shop)
    assert st == 200, js
    st, _, js = api("PATCH", "/v1/customers/%s/notes/%s" % (cid, n["id"]), {"body": "wiped"},
                    key=shop)
    assert st in (200, 403), js  # a note is its author's to change
    st, _, after = api("GET", "/v1/customers/" + cid, key=admin)
    assert after["lastName"] == "Changed" and \
        after["description"] == "prefers mornings; allergic", after
    assert api("GET", "/v1/customers/%s/notes" % cid, key=admin)[2]["notes"][0]["body"] == \
        "owes 20 EUR"


# ------------------------------------------------------------------ event streams

def _replay(key, body):
    r = crm.crmctl_run(["call", "customers", "ReplayEvents", json.dumps(body), "--key", key])
    return json.loads(r.stdout) if r.stdout.strip() else {"status": r.stderr}


def test_a_key_with_events_read_replays_only_its_own_tenant():
    t1, t2 = _tenant("Stream"), _tenant("Stream")
    k1, k2 = _key(t1, role="admin"), _key(t2, role="admin")
    reader = _key(t1, scopes=["events:read"])
    js = _replay(reader, {"afterSeq": "9223372036854775807", "limit": 1})
    assert js["status"] == "OK", js
    after = int(js["body"]["lastSeq"])
    c1 = api("POST", "/v1/customers", {"firstName": "One", "lastName": unique("S")}, key=k1)[2]
    c2 = api("POST", "/v1/customers", {"firstName": "Two", "lastName": unique("S")}, key=k2)[2]
    c3 = api("POST", "/v1/customers", {"firstName": "Three", "lastName": unique("S")}, key=k1)[2]
    seen = []
    for _ in range(1000):
        js = _replay(reader, {"afterSeq": str(after), "limit": 2})
        assert js["status"] == "OK", js
        events = js["body"].get("events", [])
        if not events:
            break
        for e in events:
            # Another tenant's event comes, if at all, as a placeholder with
            # its seq only (no tenant, no payload).
            if e.get("tenantId"):
                assert e["tenantId"] == t1, e
                seen.append(e["type"])
            else:
                assert not e.get("payload"), e
        after = int(events[-1]["seq"])
    # c1 and c3 (tenant 1), not c2 (tenant 2).
    assert c1["id"] and c2["id"] and c3["id"]
    assert seen.count("customer.created") == 2, seen
    # It keeps no durable position, and a key without the scope reads nothing.
    js = _replay(reader, {"afterSeq": "0", "reader": "notes"})
    assert js["status"] == "INVALID_ARGUMENT", js
    js = _replay(_key(t1, scopes=["customers:read"]), {"afterSeq": "0"})
    assert js["status"] == "PERMISSION_DENIED" and "(events:read)" in js["message"], js


def test_wrong_api_keys_lock_the_address_out_for_a_while():
    """A gateway of its own (3 wrong keys lock an address out for 4 s, then
    8 s): the stack's gateway keeps its defaults."""
    port = crm.free_ports(1)[0]
    base = "http://127.0.0.1:%d" % port
    with crm.extra_process("gateway", "gateway-limit", CRM_GATEWAY_HTTP_ADDR="127.0.0.1:%d" % port,
                           CRM_GATEWAY_API_KEY_FAILURES="3",
                           CRM_GATEWAY_API_KEY_FAILURE_WINDOW_S="60",
                           CRM_GATEWAY_API_KEY_LOCKOUT_S="4",
                           CRM_GATEWAY_API_KEY_LOCKOUT_MAX_S="60"):
        wait_until(lambda: _up(base + "/readyz"), timeout=30, what="the second gateway")
        # A key that works, used once: the gateway knows it as good.
        assert api("GET", base + "/v1/customers?pageSize=1")[0] == 200
        wrong = ["crm_wrong_%d_%s" % (i, unique("k")) for i in range(4)]
        for k in wrong[:2]:
            assert api("GET", base + "/v1/customers", key=k)[0] == 401
        st, h, js = api("GET", base + "/v1/customers", key=wrong[2])
        assert st == 401, js
        # The fourth is not even looked at: 429, and when to come back.
        st, h, js = api("GET", base + "/v1/customers", key=wrong[3])
        assert st == 429 and 1 <= int(h.get("retry-after", "0")) <= 4, (st, h, js)
        assert "too many wrong API keys" in js["error"]["message"], js
        # The key known as good still works from the locked-out address.
        assert api("GET", base + "/v1/customers?pageSize=1")[0] == 200
        # The lock-out ends by itself; the next one, right after, lasts longer.
        wait_until(lambda: api("GET", base + "/v1/customers", key=wrong[3])[0] == 401,
                   timeout=20, what="the lock-out's end")
        api("GET", base + "/v1/customers", key=wrong[0])
        st, h, js = api("GET", base + "/v1/customers", key=wrong[1])
        assert st == 401, js
        st, h, js = api("GET", base + "/v1/customers", key=wrong[2])
        assert st == 429 and 4 < int(h.get("retry-after", "0")) <= 8, (st, h, js)
        assert crm.logs_contain("gateway-limit", "locked out for")


def _up(url):
    try:
        return api("GET", url, key=None, timeout=2)[0] == 200
    except OSError:
        return False


def test_scheduled_message_cancelled_only_by_its_tenant():
    """A's key cannot cancel B's scheduled message (404, as if it were not
    there); a key without messages:send cannot cancel B's own (403)."""
    import datetime
    a = _key(_tenant("A"), role="admin")
    tenant_b = _tenant("B")
    b = _key(tenant_b, role="admin")
    reader = _key(tenant_b, scopes=["notes:read"])
    st, _, c = api("POST", "/v1/customers", {"firstName": "Bea", "lastName": unique("B"),
                                              "email": unique_email("bea")}, key=b)
    _ok(st, c, 201)
    at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    st, _, m = api("POST", "/v1/customers/%s:sendMessage" % c["id"],
                   {"subject": "Later", "text": "Hello", "sendAt": at}, key=b)
    assert _ok(st, m, 202)["status"] == "SCHEDULED", m
    st, _, js = api("POST", "/v1/messages/%s:cancel" % m["id"], {}, key=a)
    assert st == 404, js
    st, _, js = api("POST", "/v1/messages/%s:cancel" % m["id"], {}, key=reader)
    assert st == 403, js
    assert api("GET", "/v1/messages/" + m["id"], key=b)[2]["status"] == "SCHEDULED"
    st, _, js = api("POST", "/v1/messages/%s:cancel" % m["id"], {}, key=b)
    assert _ok(st, js, 200)["status"] == "CANCELLED", js
