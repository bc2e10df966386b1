"""The customer book through the gateway: what a user of the HTTP API does and sees."""
import http.client
import json
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request

import crm

from crm import api, unique


def _new(first="Anna", last=None, **fields):
    body = {"firstName": first, "lastName": last or unique("Nowak")}
    body.update(fields)
    st, hdr, js = api("POST", "/v1/customers", body)
    assert st == 201, (st, js)
    return js, hdr


def test_round_trip_in_five_languages():
    people = [
        ("Łukasz", "Żółkiewski-Świętochowski", "Kraków"),   # Polish
        ("Jürgen", "Müller-Lüdenscheidt", "Straße"),          # German
        ("Øyvind", "Ødegård", "Tromsø"),                      # Norwegian
        ("Иван", "Петров", "Пловдив"),                        # Bulgarian Cyrillic
        ("John", "Smith", "Springfield"),                     # ASCII
    ]
    for first, last, city in people:
        email = unique("p") + "@example.com"
        body = {
            "firstName": first, "lastName": last, "email": email,
            "phone": "+48 600 100 200" if first == "Łukasz" else "",
            "gender": "FEMALE", "birthDate": "1990-05-17",
            "description": f"Prefers mornings. {first} – ☕",
            "groups": ["Standard"], "tags": ["vip", unique("t")],
            "addresses": [{"kind": "BILLING", "line1": f"{city} 1", "postalCode": "00-001",
                           "city": city, "country": "PL"}],
            "preferences": {"language": "pl", "marketing": {"granted": True, "source": "web"}},
            "externalIds": [{"system": "legacy", "id": unique("L")}],
        }
        st, hdr, created = api("POST", "/v1/customers", body)
        assert st == 201, (st, created)
        assert hdr.get("Location") == f"/v1/customers/{created['id']}"
        assert created["etag"] and created["createdAt"] and created["updatedAt"]
        st, hdr, got = api("GET", f"/v1/customers/{created['id']}")
        assert st == 200
        assert hdr.get("ETag", "").strip('"') == got["etag"]
        for k in ("firstName", "lastName", "email", "description", "birthDate", "gender"):
            assert got[k] == body[k], (k, got[k], body[k])
        assert got["addresses"][0]["city"] == city
        assert got["groups"] == ["Standard"]
        assert got["preferences"]["marketing"]["granted"] is True
        assert got["preferences"]["marketing"]["changedAt"]
        assert got["source"] == "API"
        if body["phone"]:
            assert got["phone"] == "+48600100200"


def _bad(body, field, status=400, reason=None):
    st, _, js = api("POST", "/v1/customers", body)
    assert st == status, (st, js)
    fields = [d.get("field") for d in js["error"].get("details", [])]
    assert field in fields, (field, js)
    if reason:
        d = [d for d in js["error"]["details"] if d["field"] == field][0]
        assert d.get("reason") == reason, d
    return js


def test_validation_names_each_field():
    _bad({"email": "x@example.com"}, "firstName", reason="REQUIRED")
    _bad({"firstName": "A", "email": "not-an-email"}, "email")
    _bad({"firstName": "A", "phone": "call me maybe"}, "phone")
    _bad({"firstName": "A", "birthDate": "2999-01-01"}, "birthDate")
    _bad({"firstName": "A", "birthDate": "2023-02-29"}, "birthDate")
    _bad({"firstName": "A", "birthDate": "17.05.1990"}, "birthDate")
    js = _bad({"firstName": "Ż" * 101}, "firstName", reason="TOO_LONG")
    assert "100" in json.dumps(js)
    _bad({"firstName": "A", "description": "x" * 10001}, "description", reason="TOO_LONG")
    _bad({"firstName": "A", "gender": "SOMETIMES"}, "gender")
    _bad({"firstName": "A", "addresses": [{"kind": "BILLING", "city": "X", "country": "ZZ"}]},
         "addresses[0].country")
    _bad({"firstName": "A", "company": {"vatNumber": "PL12"}}, "company.vatNumber")
    _bad({"firstName": "A", "groups": ["no such group " + unique("g")]}, "groups[0]")
    # Exactly at the limits is fine.
    _new(first="Ż" * 100, description="x" * 10000)


def test_unknown_field_and_wrong_type():
    st, _, js = api("POST", "/v1/customers", {"firstName": "A", "favouriteColour": "red"})
    assert st == 400 and "favouriteColour" in json.dumps(js), js
    st, _, js = api("POST", "/v1/customers", {"firstName": 42})
    assert st == 400 and "firstName" in json.dumps(js), js
    st, _, js = api("POST", "/v1/customers", {"firstName": "A", "tags": "vip"})
    assert st == 400 and "tags" in json.dumps(js), js


def test_malformed_bodies():
    st, _, js = api("POST", "/v1/customers", raw=b'{"firstName": "A",',
                    headers={"Content-Type": "application/json"})
    assert st == 400 and js["error"]["status"] == "INVALID_ARGUMENT", js
    assert "line" in js["error"]["message"] or "position" in js["error"]["message"], js
    st, _, js = api("POST", "/v1/customers", raw=b'{"firstName": "Jan\xff\xfe"}',
                    headers={"Content-Type": "application/json"})
    assert st == 400, js
    st, _, js = api("POST", "/v1/customers", raw=b'[1,2]',
                    headers={"Content-Type": "application/json"})
    assert st == 400, js
    st, _, js = api("POST", "/v1/customers", raw=b'firstName=A',
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 415, (st, js)
    big = b'{"firstName": "A", "description": "' + b"x" * (1024 * 1024) + b'"}'
    st, _, js = api("POST", "/v1/customers", raw=big, headers={"Content-Type": "application/json"})
    assert st == 413, (st, js)


def _urllib(method, path, data, headers):
    """What many HTTP clients do: write the whole body, then read the answer."""
    req = urllib.request.Request(crm.URL + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_request_target_limits_are_answered_in_json():
    auth = {"Authorization": "Bearer " + crm.API_KEY}
    # 200 query parameters are taken; the 201st is refused, naming the limit,
    # and so are as many as the HTTP library can hold (it closes past them).
    st, _, body = _urllib("GET", "/v1/customers?" + "&".join(["tag=a"] * 200), None, auth)
    assert st == 200, (st, body[:200])
    for n in (201, 600):
        st, hdr, body = _urllib("GET", "/v1/customers?" + "&".join(["tag=a"] * n), None, auth)
        assert st == 400 and "json" in hdr["Content-Type"], (n, st, body[:200])
        err = json.loads(body)["error"]
        assert err["status"] == "INVALID_ARGUMENT", err
        assert err["message"] == "more than 200 query parameters", err
    # A request target (path and query) past 8 KiB: 414, in the API's shape.
    st, hdr, body = _urllib("GET", "/v1/customers?q=" + "a" * 8200, None, auth)
    assert st == 414 and "json" in hdr["Content-Type"], (st, body[:200])
    err = json.loads(body)["error"]
    assert err["message"] == "request target (path and query) exceeds 8192 bytes", err
    # One just under the limit reaches the route (which names what is wrong).
    st, _, body = _urllib("GET", "/v1/customers?tag=" + "a" * 1100, None, auth)
    assert st == 400 and "longer than 1024 bytes" in json.loads(body)["error"]["message"], body


def test_too_large_body_is_answered_413_to_a_client_that_writes_it_all_first():
    auth = {"Authorization": "Bearer " + crm.API_KEY, "Content-Type": "application/json"}
    big = b'{"firstName": "A", "description": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    st, hdr, body = _urllib("POST", "/v1/customers", big, auth)
    assert st == 413, (st, body[:200])
    assert "json" in hdr["Content-Type"]
    err = json.loads(body)["error"]
    assert err["status"] == "RESOURCE_EXHAUSTED" and "1048576 bytes" in err["message"], err
    # Other refusals of a request with a body too: no key, an unknown route.
    st, _, body = _urllib("POST", "/v1/customers", big, {"Content-Type": "application/json"})
    assert st == 401 and json.loads(body)["error"]["status"] == "UNAUTHENTICATED"
    st, _, body = _urllib("POST", "/v1/nothing-here", big, auth)
    assert st == 404 and json.loads(body)["error"]["status"] == "NOT_FOUND"
    # The connection stays usable after a 413 read to its end.
    url = urllib.parse.urlsplit(crm.URL)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("POST", "/v1/customers", body=big, headers=auth)
        resp = conn.getresponse()
        assert resp.status == 413
        resp.read()
        conn.request("GET", "/v1/customers?pageSize=1", headers=auth)
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        resp.read()
    finally:
        conn.close()


def test_too_large_body_with_expect_100_continue_is_refused_before_it_is_sent():
    url = urllib.parse.urlsplit(crm.URL)
    with socket.create_connection((url.hostname, url.port), timeout=30) as s:
        s.sendall(("POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\n"
                   "Expect: 100-continue\r\n\r\n" % (crm.API_KEY, 5 * 1024 * 1024)).encode())
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(65536)
            assert chunk, got
            got += chunk
    assert got.startswith(b"HTTP/1.1 413"), got[:200]


def test_authentication_required():
    st, hdr, js = api("GET", "/v1/customers", key=None)
    assert st == 401 and js["error"]["status"] == "UNAUTHENTICATED"
    st, _, _ = api("GET", "/v1/customers", key="crm_" + "0" * 48)
    assert st == 401


def test_one_person_one_customer():
    email = unique("dup") + "@Example.com"
    first, _ = _new(email=email, externalIds=[{"system": "shop", "id": unique("s")}])
    st, _, js = api("POST", "/v1/customers", {"firstName": "B", "email": email.upper()})
    assert st == 409, js
    d = js["error"]["details"][0]
    assert d["field"] == "email" and d["resourceId"] == first["id"], d
    ext = first["externalIds"][0]
    st, _, js = api("POST", "/v1/customers", {"firstName": "C", "externalIds": [ext]})
    assert st == 409 and js["error"]["details"][0]["resourceId"] == first["id"], js
    # Changing another customer to the same e-mail is refused too.
    other, _ = _new()
    st, _, js = api("PATCH", f"/v1/customers/{other['id']}", {"email": email.lower()})
    assert st == 409 and js["error"]["details"][0]["resourceId"] == first["id"], js
    assert js["error"]["details"][0]["field"] == "email", js
    # ... and nothing of the refused change was kept.
    st, _, js = api("GET", f"/v1/customers/{other['id']}")
    assert st == 200 and js["email"] == other.get("email", "") and js["etag"] == other["etag"], js
    # The e-mail is free again once its holder lets it go.
    st, _, _ = api("PATCH", f"/v1/customers/{first['id']}", {"email": "moved-" + email})
    assert st == 200
    st, _, js = api("PATCH", f"/v1/customers/{other['id']}", {"email": email.lower()})
    assert st == 200 and js["email"] == email.lower(), js


def test_get_missing_is_404():
    st, _, js = api("GET", "/v1/customers/00000000-0000-4000-8000-00000000dead")
    assert st == 404 and js["error"]["status"] == "NOT_FOUND"
    st, _, js = api("GET", "/v1/customers/not-a-uuid")
    assert st == 404


def test_patch_partial_null_clears_and_if_match():
    c, _ = _new(email=unique("e") + "@example.com", phone="+4791234567", tags=["a", "b"])
    st, _, js = api("PATCH", f"/v1/customers/{c['id']}", {"lastName": "Kowalska", "phone": None})
    assert st == 200, js
    assert js["lastName"] == "Kowalska" and js["phone"] == "" and js["email"] == c["email"]
    assert js["tags"] == ["a", "b"] and js["etag"] != c["etag"]
    st, _, js2 = api("PATCH", f"/v1/customers/{c['id']}", {"firstName": "Late"},
                     headers={"If-Match": f'"{c["etag"]}"'})
    assert st == 412 and js2["error"]["status"] == "FAILED_PRECONDITION", js2
    st, _, js3 = api("PATCH", f"/v1/customers/{c['id']}", {"firstName": "OnTime"},
                     headers={"If-Match": f'"{js["etag"]}"'})
    assert st == 200 and js3["firstName"] == "OnTime"
    st, _, js4 = api("PATCH", f"/v1/customers/{c['id']}", {"company": {"vatNumber": "DE 123456788"}})
    assert st == 200 and js4["company"]["vatNumber"] == "DE123456788"


def test_concurrent_patches_one_wins():
    c, _ = _new()
    results = []

    def worker(i):
        st, _, _ = api("PATCH", f"/v1/customers/{c['id']}", {"firstName": f"W{i}"},
                       headers={"If-Match": f'"{c["etag"]}"'})
        results.append(st)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [412] * 7, results


def test_delete_and_batch_delete():
    a, _ = _new()
    st, _, _ = api("DELETE", f"/v1/customers/{a['id']}")
    assert st == 204
    st, _, _ = api("GET", f"/v1/customers/{a['id']}")
    assert st == 404
    st, _, _ = api("DELETE", f"/v1/customers/{a['id']}")
    assert st == 404
    b, _ = _new()
    c, _ = _new()
    missing = "00000000-0000-4000-8000-0000000000aa"
    st, _, js = api("POST", "/v1/customers:batchDelete", {"ids": [b["id"], c["id"], missing]})
    assert st == 200, js
    assert sorted(js["deletedIds"]) == sorted([b["id"], c["id"]])
    assert js["notFoundIds"] == [missing]
    st, _, js = api("POST", "/v1/customers:batchDelete", {"ids": []})
    assert st == 400


def test_list_pages_orders_and_filters():
    tag = unique("page")
    names = [f"{unique('Zz')}{i:02d}" for i in range(25)]
    ids = []
    for i, n in enumerate(names):
        js, _ = _new(first=f"F{i:02d}", last=n, tags=[tag], isCompany=(i % 5 == 0),
                     account={"status": "ACTIVE" if i % 2 else "NONE"})
        ids.append(js["id"])
    seen, token = [], ""
    while True:
        q = f"/v1/customers?tag={tag}&pageSize=10&orderBy=lastName"
        if token:
            q += f"&pageToken={token}"
        st, _, js = api("GET", q)
        assert st == 200, js
        assert js["totalSize"] == 25
        seen += [c["id"] for c in js["customers"]]
        if not seen or len(seen) == 10:
            _new(first="Added", last="Aaaa" + unique("x"), tags=[tag + "-other"])  # rows added mid-paging
        token = js["nextPageToken"]
        if not token:
            break
    assert len(seen) == 25 and len(set(seen)) == 25
    lasts = [api("GET", f"/v1/customers/{i}")[2]["lastName"] for i in seen]
    assert lasts == sorted(lasts)
    st, _, js = api("GET", f"/v1/customers?tag={tag}&orderBy=createdAt desc&pageSize=1000")
    assert [c["id"] for c in js["customers"]] == list(reversed(ids))
    st, _, js = api("GET", f"/v1/customers?tag={tag}&isCompany=true")
    assert js["totalSize"] == 5
    st, _, js = api("GET", f"/v1/customers?tag={tag}&hasAccount=true")
    assert js["totalSize"] == 12
    st, _, js = api("GET", f"/v1/customers?tag={tag}&accountStatus=ACTIVE&isCompany=false")
    assert js["totalSize"] == 10
    st, _, js = api("GET", "/v1/customers?pageSize=1001")
    assert st == 400 and "pageSize" in json.dumps(js)
    st, _, js = api("GET", "/v1/customers?orderBy=shoeSize")
    assert st == 400 and "orderBy" in json.dumps(js)
    st, _, js = api("GET", "/v1/customers?pageToken=garbage")
    assert st == 400 and "pageToken" in json.dumps(js)
    st, _, js = api("GET", "/v1/customers?colour=red")
    assert st == 400 and "colour" in json.dumps(js)


def test_groups_and_tags():
    st, _, js = api("GET", "/v1/groups")
    names = [g["name"] for g in js["groups"]]
    assert "Standard" in names and "Business" in names
    gname = unique("VIP")
    st, hdr, g = api("POST", "/v1/groups", {"name": gname, "description": "best", "color": "#ff0000"})
    assert st == 201, g
    st, _, js = api("POST", "/v1/groups", {"name": gname.upper()})
    assert st == 409 and js["error"]["details"][0]["resourceId"] == g["id"]
    st, _, js = api("POST", "/v1/groups", {"name": "x", "color": "red"})
    assert st == 400 and "color" in json.dumps(js)
    c, _ = _new(groups=[gname.lower()])
    assert c["groups"] == [gname]
    st, _, js = api("GET", f"/v1/customers?group={gname}")
    assert [x["id"] for x in js["customers"]] == [c["id"]]
    renamed = unique("Gold")
    st, _, js = api("PATCH", f"/v1/groups/{g['id']}", {"name": renamed})
    assert st == 200 and js["name"] == renamed and js["customerCount"] == 1
    assert api("GET", f"/v1/customers/{c['id']}")[2]["groups"] == [renamed]
    st, _, _ = api("DELETE", f"/v1/groups/{g['id']}")
    assert st == 204
    assert api("GET", f"/v1/customers/{c['id']}")[2]["groups"] == []
    tag = unique("tag")
    _new(tags=[tag])
    _new(tags=[tag, "other"])
    st, _, js = api("GET", "/v1/tags")
    counts = {t["name"]: t["customerCount"] for t in js["tags"]}
    assert counts[tag] == 2


def test_groups_and_tags_are_sets_an_order_is_no_change():
    a, b = unique("Alpha"), unique("beta")
    for name in (a, b):
        assert api("POST", "/v1/groups", {"name": name})[0] == 201
    t1, t2 = unique("zeta"), unique("Eta")
    c, _ = _new(groups=[b, a], tags=[t1, t2])
    # One canonical order (by case fold), whatever order the client sent.
    assert c["groups"] == sorted([a, b], key=str.casefold), c["groups"]
    assert c["tags"] == sorted([t1, t2], key=str.casefold), c["tags"]
    st, _, before = api("GET", f"/v1/customers/{c['id']}/audit")
    assert st == 200
    # The same sets in the other order, and a real change beside them.
    st, _, got = api("PATCH", f"/v1/customers/{c['id']}",
                     {"groups": [a, b], "tags": [t2, t1], "phone": "+48 600 700 800"})
    assert st == 200, got
    assert got["groups"] == c["groups"] and got["tags"] == c["tags"]
    st, _, after = api("GET", f"/v1/customers/{c['id']}/audit")
    latest = after["entries"][0]
    assert len(after["entries"]) == len(before["entries"]) + 1
    assert [x["field"] for x in latest["changes"]] == ["phone"], latest["changes"]
    # Only an order: nothing changes, no new version, no audit entry.
    st, _, same = api("PATCH", f"/v1/customers/{c['id']}", {"groups": [b, a], "tags": [t2, t1]})
    assert st == 200 and same["etag"] == got["etag"], (same, got)
    assert len(api("GET", f"/v1/customers/{c['id']}/audit")[2]["entries"]) == len(after["entries"])


def test_audit_says_who_changed_what():
    c, _ = _new(email=unique("a") + "@example.com")
    api("PATCH", f"/v1/customers/{c['id']}", {"lastName": "Changed"}, headers={"X-Channel": "ui"})
    st, _, js = api("GET", f"/v1/customers/{c['id']}/audit")
    assert st == 200
    latest = js["entries"][0]
    assert latest["action"] == "updated" and latest["channel"] == "ui"
    assert latest["principal"]["role"] == "ADMIN"
    ch = {x["field"]: x for x in latest["changes"]}
    assert json.loads(ch["lastName"]["oldValue"]) == c["lastName"]
    assert json.loads(ch["lastName"]["newValue"]) == "Changed"
    assert js["entries"][-1]["action"] == "created"
    # Deleting the customer keeps who changed which field and when, not the values.
    assert api("DELETE", f"/v1/customers/{c['id']}")[0] == 204
    st, _, js = api("GET", f"/v1/customers/{c['id']}/audit")
    assert st == 200 and js["entries"][0]["action"] == "deleted", js
    values = [(x["oldValue"], x["newValue"]) for e in js["entries"] for x in e["changes"]]
    assert values and all(v == ("", "") for v in values), values
    assert c["email"] not in json.dumps(js)


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def test_photo():
    c, _ = _new()
    path = f"/v1/customers/{c['id']}/photo"
    st, _, js = api("PUT", path, raw=PNG, headers={"Content-Type": "image/png"})
    assert st == 200 and js["contentType"] == "image/png", js
    st, hdr, body = api("GET", path)
    assert st == 200 and body == PNG and hdr["Content-Type"] == "image/png"
    assert api("GET", f"/v1/customers/{c['id']}")[2]["hasPhoto"] is True
    # The content decides, not the declared type.
    st, _, js = api("PUT", path, raw=b"GIF89a" + b"\0" * 100, headers={"Content-Type": "image/png"})
    assert st == 400, js
    st, _, js = api("PUT", path, raw=b"\xff\xd8\xff" + b"\0" * (2 * 1024 * 1024),
                    headers={"Content-Type": "image/jpeg"})
    assert st == 413, (st, js)
    st, _, _ = api("DELETE", path)
    assert st == 204
    st, _, _ = api("GET", path)
    assert st == 404


def test_idempotency_key_answers_a_retried_change_and_deletion_once():
    c, _ = _new()
    path = f"/v1/customers/{c['id']}"
    key = unique("k")
    st1, _, a = api("PATCH", path, {"lastName": "Once"}, headers={"Idempotency-Key": key})
    st2, _, b = api("PATCH", path, {"lastName": "Once"}, headers={"Idempotency-Key": key})
    assert st1 == st2 == 200 and a["etag"] == b["etag"] and a["etag"] != c["etag"], (a, b)
    # The retry made no second version: the next change is the one after it.
    st, _, d = api("PATCH", path, {"lastName": "Twice"})
    assert st == 200 and int(d["etag"]) == int(a["etag"]) + 1, (a, d)
    # The same key with another change is refused, and changes nothing.
    st, _, js = api("PATCH", path, {"lastName": "Other"}, headers={"Idempotency-Key": key})
    assert st == 400 and "idempotency key" in js["error"]["message"], js
    assert api("GET", path)[2]["lastName"] == "Twice"
    # A retried deletion answers as the first did; without the key it is gone.
    key2 = unique("k")
    st1, _, _ = api("DELETE", path, headers={"Idempotency-Key": key2})
    st2, _, _ = api("DELETE", path, headers={"Idempotency-Key": key2})
    assert (st1, st2) == (204, 204)
    assert api("DELETE", path)[0] == 404
    # A deletion of nobody did not use up its key: it serves a change after.
    key3 = unique("k")
    assert api("DELETE", path, headers={"Idempotency-Key": key3})[0] == 404
    other, _ = _new()
    st, _, js = api("PATCH", f"/v1/customers/{other['id']}", {"lastName": "K"},
                    headers={"Idempotency-Key": key3})
    assert st == 200 and js["lastName"] == "K", js


def test_idempotency_key_makes_one_customer():
    email = unique("idem") + "@example.com"
    key = unique("k")
    st1, _, a = api("POST", "/v1/customers", {"firstName": "I", "email": email},
                    headers={"Idempotency-Key": key})
    st2, _, b = api("POST", "/v1/customers", {"firstName": "I", "email": email},
                    headers={"Idempotency-Key": key})
    assert st1 == 201 and st2 == 201 and a["id"] == b["id"], (a, b)
    st, _, js = api("GET", f"/v1/customers?pageSize=1000&orderBy=createdAt desc")
    assert [c["email"] for c in js["customers"]].count(email) == 1
    # The key stands for that request: the same key with another body is refused.
    st3, _, js = api("POST", "/v1/customers", {"firstName": "Other", "email": "x" + email},
                     headers={"Idempotency-Key": key})
    assert st3 == 400 and "idempotency key" in js["error"]["message"], js
    # A request that failed validation did not use up its key.
    key2 = unique("k")
    st4, _, _ = api("POST", "/v1/customers", {"email": "bad"}, headers={"Idempotency-Key": key2})
    st5, _, _ = api("POST", "/v1/customers", {"firstName": "Ok"}, headers={"Idempotency-Key": key2})
    assert (st4, st5) == (400, 201)
