"""Visits on the customer card: the customer's bookings, the parameters staff
attach to one (limits, If-Match, the timeline), the tenant's presets, and the
404s (docs/visits.md)."""
import json
import threading

import crm
from crm import api, q, unique, unique_email


def _fields(err):
    """The fields an error's violations name."""
    return [v.get("field") for d in err.get("error", {}).get("details", [])
            for v in d.get("fieldViolations", [d])]


def _reasons(err):
    return {v.get("field"): v.get("reason") for d in err.get("error", {}).get("details", [])
            for v in d.get("fieldViolations", [d])}


def _tenant():
    return crm.crmctl(["tenant", "create", unique("Visits"), "--country", "PL"]).strip()


def _key(tenant, role="admin", scopes=None):
    args = ["keys", "create", "--tenant", tenant, "--name", unique("key"), "--role", role]
    if scopes:
        args += ["--scopes", ",".join(scopes)]
    return crm.crmctl(args).strip()


KEY = None


def _k():
    global KEY
    if KEY is None:
        KEY = _key(_tenant())
    return KEY


def _booked(key=None, n=1, source="booking", person=None):
    """A customer the booking system registered with n bookings; (customer id,
    booking ids, newest start first)."""
    key = key or _k()
    person = person or {"externalId": unique("c"), "firstName": "Ivana",
                        "lastName": unique("Petrova"), "email": unique_email("ivana")}
    ids, cid = [], None
    for i in range(n):
        bid = unique("bk")
        ev = {"source": source, "eventId": unique("ev"), "type": "booking.created",
              "occurredAt": "2026-11-20T10:00:00Z", "customer": person,
              "booking": {"id": bid, "service": "Laser hair removal", "staff": "Eva",
                          "startsAt": "2026-11-%02dT10:00:00Z" % (10 + i),
                          "endsAt": "2026-11-%02dT11:00:00Z" % (10 + i)}}
        st, _, js = api("POST", "/v1/events", ev, key=key)
        assert st == 202, js
        cid = js["customerId"]
        ids.append(bid)
    return cid, list(reversed(ids))


def _params_path(cid, bid):
    return "/v1/customers/%s/visits/%s/parameters" % (cid, bid)


LASER = [{"name": "Laser", "value": "12 J/cm²"}, {"name": "Spot size", "value": "10 mm"}]


def test_visits_list_newest_first_and_paged():
    cid, ids = _booked(n=3)
    st, _, js = api("GET", "/v1/customers/%s/visits" % cid, key=_k())
    assert st == 200, js
    assert [v["id"] for v in js["visits"]] == ids
    v = js["visits"][0]
    assert v["status"] == "BOOKED" and v["service"] == "Laser hair removal" and v["staff"] == "Eva"
    assert v["startsAt"] == "2026-11-12T10:00:00Z" and v["source"] == "booking"
    assert not v.get("hasParameters")
    # Pages of one, in the same order, and the last page has no token.
    seen, token = [], None
    for _ in range(5):
        st, _, page = api("GET", q("/v1/customers/%s/visits" % cid, pageSize=1, pageToken=token),
                          key=_k())
        assert st == 200, page
        seen += [v["id"] for v in page["visits"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == ids
    # Parameters show in the list.
    st, _, _ = api("PUT", _params_path(cid, ids[1]), {"parameters": LASER}, key=_k())
    assert st == 200
    st, _, js = api("GET", "/v1/customers/%s/visits" % cid, key=_k())
    assert [bool(v.get("hasParameters")) for v in js["visits"]] == [False, True, False]
    # Bad paging is named.
    st, _, err = api("GET", q("/v1/customers/%s/visits" % cid, pageSize=201), key=_k())
    assert st == 400 and _fields(err) == ["pageSize"], err
    st, _, err = api("GET", q("/v1/customers/%s/visits" % cid, pageToken="zz"), key=_k())
    assert st == 400 and _fields(err) == ["pageToken"], err
    # A customer without bookings has an empty list; an unknown one is 404.
    st, _, c = api("POST", "/v1/customers", {"firstName": "No", "lastName": unique("Visits")},
                   key=_k())
    st, _, js = api("GET", "/v1/customers/%s/visits" % c["id"], key=_k())
    assert st == 200 and js.get("visits", []) == [], js
    st, _, _ = api("GET", "/v1/customers/00000000-0000-4000-8000-000000000000/visits", key=_k())
    assert st == 404


def test_parameters_put_get_etag_and_timeline():
    cid, (bid,) = _booked()
    st, h, js = api("GET", _params_path(cid, bid), key=_k())
    assert st == 200, js
    assert js.get("parameters", []) == [] and js["etag"] == "0" and h["ETag"] == '"0"'
    st, h, js = api("PUT", _params_path(cid, bid),
                    {"parameters": LASER, "remark": "Skin type II.\nNo reaction."},
                    key=_k(), headers={"If-Match": '"0"'})
    assert st == 200, js
    assert js["parameters"] == LASER and js["remark"] == "Skin type II.\nNo reaction."
    assert js["etag"] == "1" and h["ETag"] == '"1"' and js["updatedAt"]
    assert js["bookingId"] == bid and js["source"] == "booking"
    # A stale If-Match is 412 and changes nothing.
    st, _, err = api("PUT", _params_path(cid, bid), {"parameters": []}, key=_k(),
                     headers={"If-Match": '"0"'})
    assert st == 412, err
    st, _, js = api("GET", _params_path(cid, bid), key=_k())
    assert js["parameters"] == LASER and js["etag"] == "1"
    # The list is replaced: one changed, one removed, one added.
    new = [{"name": "Laser", "value": "14 J/cm²"}, {"name": "Pulse", "value": "30 ms"}]
    st, _, js = api("PUT", _params_path(cid, bid), {"parameters": new,
                                                    "remark": "Skin type II.\nNo reaction."},
                    key=_k(), headers={"If-Match": '"1"'})
    assert st == 200 and js["parameters"] == new and js["etag"] == "2", js
    # The same again is no new version.
    st, _, js = api("PUT", _params_path(cid, bid), {"parameters": new,
                                                    "remark": "Skin type II.\nNo reaction."},
                    key=_k())
    assert st == 200 and js["etag"] == "2"
    # Each change is on the timeline: who, when, what.
    st, _, tl = api("GET", q("/v1/customers/%s/timeline" % cid, kind="VISIT_PARAMETERS"),
                    key=_k())
    assert st == 200, tl
    rows = tl["entries"]
    assert [r["type"] for r in rows] == ["visit.parameters_changed"] * 2
    assert all(r["kind"] == "VISIT_PARAMETERS" and r["actor"] and r["occurredAt"] for r in rows)
    latest = rows[0]["visit"]
    assert latest["bookingId"] == bid and latest["service"] == "Laser hair removal"
    changes = {c["field"]: (c.get("oldValue", ""), c.get("newValue", ""))
               for c in latest["changes"]}
    assert changes == {"Laser": ('"12 J/cm²"', '"14 J/cm²"'),
                       "Spot size": ('"10 mm"', ""),
                       "Pulse": ("", '"30 ms"')}, changes
    first = {c["field"] for c in rows[1]["visit"]["changes"]}
    assert first == {"Laser", "Spot size", "remark"}


def test_concurrent_puts_with_one_etag_one_wins():
    cid, (bid,) = _booked()
    results = []

    def put(i):
        st, _, _ = api("PUT", _params_path(cid, bid),
                       {"parameters": [{"name": "Laser", "value": "%d J" % i}]}, key=_k(),
                       headers={"If-Match": '"0"'})
        results.append(st)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [412] * 7, results
    st, _, js = api("GET", _params_path(cid, bid), key=_k())
    assert js["etag"] == "1"


def test_parameters_limits():
    cid, (bid,) = _booked()
    path = _params_path(cid, bid)
    ok = [{"name": "n" * 100, "value": "v" * 500}]
    st, _, js = api("PUT", path, {"parameters": ok, "remark": "r" * 2000}, key=_k())
    assert st == 200, js
    cases = [
        ({"parameters": [{"name": "n" * 101, "value": ""}]}, "parameters[0].name", "TOO_LONG"),
        ({"parameters": [{"name": "", "value": "x"}]}, "parameters[0].name", "REQUIRED"),
        ({"parameters": [{"name": "ok", "value": "v" * 501}]}, "parameters[0].value", "TOO_LONG"),
        ({"parameters": [{"name": "a\tb", "value": ""}]}, "parameters[0].name", None),
        ({"parameters": [{"name": "Laser", "value": "1"}, {"name": "Laser", "value": "2"}]},
         "parameters[1].name", "DUPLICATE"),
        ({"parameters": [{"name": "p%d" % i, "value": ""} for i in range(51)]}, "parameters",
         "TOO_MANY"),
        ({"parameters": [], "remark": "r" * 2001}, "remark", "TOO_LONG"),
    ]
    for body, field, reason in cases:
        st, _, err = api("PUT", path, body, key=_k())
        assert st == 400, (body, err)
        assert field in _fields(err), (field, err)
        if reason:
            assert _reasons(err)[field] == reason, err
    # Nothing of a refused write was kept: the first write stands.
    st, _, js = api("GET", path, key=_k())
    assert js["parameters"] == ok and js["etag"] == "1"
    # 50 parameters are fine.
    st, _, js = api("PUT", path, {"parameters": [{"name": "p%d" % i, "value": str(i)}
                                                 for i in range(50)]}, key=_k())
    assert st == 200 and len(js["parameters"]) == 50


def test_parameters_404s_and_source():
    cid, (bid,) = _booked()
    other, (obid,) = _booked()
    # A booking never taken in, another customer's booking, no such customer.
    for c, b in [(cid, "never-" + unique("b")), (cid, obid), (other, bid),
                 ("not-a-uuid", bid)]:
        st, _, err = api("GET", _params_path(c, b), key=_k())
        assert st == 404, (c, b, err)
        st, _, err = api("PUT", _params_path(c, b), {"parameters": LASER}, key=_k())
        assert st == 404, (c, b, err)
    # Another tenant sees none of it.
    stranger = _key(_tenant())
    st, _, _ = api("GET", _params_path(cid, bid), key=stranger)
    assert st == 404
    st, _, _ = api("PUT", _params_path(cid, bid), {"parameters": LASER}, key=stranger)
    assert st == 404
    st, _, js = api("GET", "/v1/customers/%s/visits" % cid, key=stranger)
    assert st == 404, js
    # Two systems that sent the same booking id: source names the one meant.
    person = {"externalId": unique("c"), "firstName": "Two", "lastName": unique("Systems")}
    cid2, (b1,) = _booked(person=person)
    ev = {"source": "clinic", "eventId": unique("ev"), "type": "booking.created",
          "occurredAt": "2026-11-21T10:00:00Z",
          "customer": person, "booking": {"id": b1, "service": "Peel",
                                          "startsAt": "2026-11-22T10:00:00Z"}}
    st, _, js = api("POST", "/v1/events", ev, key=_k())
    assert st == 202 and js["customerId"], js
    cid3 = js["customerId"]
    if cid3 == cid2:
        st, _, err = api("GET", _params_path(cid2, b1), key=_k())
        assert st == 400 and _fields(err) == ["source"], err
    st, _, js = api("GET", q(_params_path(cid3, b1), source="clinic"), key=_k())
    assert st == 200 and js["source"] == "clinic", js


def test_presets_crud_and_limits():
    key = _key(_tenant())
    body = {"name": "Laser hair removal", "parameterNames": ["Laser", "Spot size", "Pulse"]}
    st, h, p = api("POST", "/v1/visitPresets", body, key=key)
    assert st == 201, p
    assert p["name"] == body["name"] and p["parameterNames"] == body["parameterNames"]
    assert h["Location"].endswith("/v1/visitPresets/" + p["id"])
    st, _, got = api("GET", "/v1/visitPresets/" + p["id"], key=key)
    assert st == 200 and got == p
    # The name is unique in the tenant whatever its case.
    st, _, err = api("POST", "/v1/visitPresets", dict(body, name="LASER HAIR REMOVAL"), key=key)
    assert st == 409 and _fields(err) == ["preset.name"], err
    # Update with If-Match; a stale one is 412.
    st, _, up = api("PUT", "/v1/visitPresets/" + p["id"],
                    {"name": "Laser", "parameterNames": ["Laser"]}, key=key,
                    headers={"If-Match": '"%s"' % p["etag"]})
    assert st == 200 and up["parameterNames"] == ["Laser"] and up["etag"] != p["etag"], up
    st, _, err = api("PUT", "/v1/visitPresets/" + p["id"], body, key=key,
                     headers={"If-Match": '"%s"' % p["etag"]})
    assert st == 412, err
    # Checks, each naming its field.
    cases = [({"name": "", "parameterNames": ["a"]}, "preset.name"),
             ({"name": "x" * 101, "parameterNames": ["a"]}, "preset.name"),
             ({"name": "ok", "parameterNames": []}, "preset.parameterNames"),
             ({"name": "ok", "parameterNames": ["a"] * 2}, "preset.parameterNames[1]"),
             ({"name": "ok", "parameterNames": ["n" * 101]}, "preset.parameterNames[0]"),
             ({"name": "ok", "parameterNames": ["p%d" % i for i in range(51)]},
              "preset.parameterNames")]
    for b, field in cases:
        st, _, err = api("POST", "/v1/visitPresets", b, key=key)
        assert st == 400 and field in _fields(err), (b, err)
    # At most 100 in a tenant.
    for i in range(99):
        st, _, js = api("POST", "/v1/visitPresets", {"name": "P%03d" % i,
                                                     "parameterNames": ["a"]}, key=key)
        assert st == 201, (i, js)
    st, _, err = api("POST", "/v1/visitPresets", {"name": "one more", "parameterNames": ["a"]},
                     key=key)
    assert st == 429, err
    st, _, js = api("GET", "/v1/visitPresets", key=key)
    assert st == 200 and len(js["presets"]) == 100 and js["presets"][0]["name"] == "Laser"
    # Delete; then 404.
    st, _, _ = api("DELETE", "/v1/visitPresets/" + p["id"], key=key)
    assert st == 204
    st, _, _ = api("GET", "/v1/visitPresets/" + p["id"], key=key)
    assert st == 404
    st, _, _ = api("DELETE", "/v1/visitPresets/" + p["id"], key=key)
    assert st == 404
    # Another tenant has its own presets.
    st, _, js = api("GET", "/v1/visitPresets", key=_k())
    assert all(x["id"] != p["id"] for x in js.get("presets", []))


def test_parameters_over_the_bus():
    cid, (bid,) = _booked()
    st, _, js = api("PUT", _params_path(cid, bid), {"parameters": LASER}, key=_k())
    assert st == 200
    r = crm.crmctl_run(["call", "notes", "GetVisitParameters",
                        json.dumps({"customerId": cid, "bookingId": bid}), "--key", _k()])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "OK", out
    assert out["body"]["parameters"] == LASER


def test_deleted_customer_loses_parameters_keeps_what_changed_when():
    cid, (bid,) = _booked()
    st, _, _ = api("PUT", _params_path(cid, bid), {"parameters": LASER, "remark": "Private"},
                   key=_k())
    assert st == 200
    st, _, _ = api("DELETE", "/v1/customers/" + cid, key=_k())
    assert st == 204

    def erased():
        st, _, js = api("GET", _params_path(cid, bid), key=_k())
        return st == 200 and js["etag"] == "0" and not js.get("parameters") and js

    crm.wait_until(erased, timeout=20, what="the parameters erased")
    st, _, tl = api("GET", q("/v1/customers/%s/timeline" % cid, kind="VISIT_PARAMETERS"),
                    key=_k())
    assert st == 200, tl
    changes = tl["entries"][0]["visit"]["changes"]
    assert {c["field"] for c in changes} == {"Laser", "Spot size", "remark"}
    assert not any(c.get("oldValue") or c.get("newValue") for c in changes), changes
