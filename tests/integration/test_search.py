"""The search service through the gateway: find customers as you type.

Every test makes its own customers with a unique marker word in a name, so the
results can be checked exactly although other tests share the tenant.
"""
import json
import os
import random
import signal
import string
import threading
import time

import crm
from crm import api, q, unique, unique_email, wait_until

SEARCH = "/v1/customers:search"


def _marker(prefix="Zq"):
    """A unique, purely alphabetic name part (the folded index splits digits off)."""
    return prefix + "".join(random.choice(string.ascii_lowercase) for _ in range(10))


def _create(first, last, **fields):
    body = {"firstName": first, "lastName": last}
    body.update(fields)
    st, _, js = api("POST", "/v1/customers", body)
    assert st == 201, (st, js)
    return js


def _search(text, **params):
    st, _, js = api("GET", q(SEARCH, q=text, **params))
    assert st == 200, (st, js)
    return js


def _ids(js):
    return [c["id"] for c in js.get("customers", [])]


def _eventually(text, want_ids, timeout=5, **params):
    """Waits until the search for text returns exactly want_ids (a list, in
    order) from every running copy of search: each follows the stream on its
    own, so one may be a moment behind the other."""
    last, right = {}, set()
    copies = max(1, len(crm.pids("search")))

    def ok():
        js = last["js"] = _search(text, **params)
        if _ids(js) == want_ids:
            right.add(js.get("servedBy"))
            return len(right) >= copies
        right.discard(js.get("servedBy"))
        return False

    try:
        wait_until(ok, timeout=timeout, interval=0.05)
    except Exception:
        raise AssertionError("search %r: want %s, got %s" % (text, want_ids, last.get("js")))
    return last["js"]


def test_search_follows_creates_renames_groups_and_deletes():
    m = _marker()
    t0 = time.monotonic()
    a = _create("Jan", m + "ski")
    _eventually(m, [a["id"]], timeout=1)
    assert time.monotonic() - t0 < 1.5
    # A rename: the old name no longer finds it, the new one does.
    st, _, a2 = api("PATCH", "/v1/customers/" + a["id"], {"lastName": m + "owa"})
    assert st == 200, a2
    _eventually(m + "ow", [a["id"]], timeout=1)
    _eventually(m + "sk", [], timeout=1)
    # A group change shows through the group filter.
    gname = unique("SearchGroup")
    st, _, g = api("POST", "/v1/groups", {"name": gname})
    assert st == 201, g
    _eventually(m, [], timeout=1, group=gname)
    st, _, a3 = api("PATCH", "/v1/customers/" + a["id"], {"groups": [gname]})
    assert st == 200, a3
    js = _eventually(m, [a["id"]], timeout=1, group=gname)
    assert js["customers"][0]["groups"] == [gname]
    # A delete.
    st, _, _ = api("DELETE", "/v1/customers/" + a["id"])
    assert st == 204
    js = _eventually(m, [], timeout=1)
    assert js.get("noMatch") is True


def test_search_consistent_with_own_write_at_once():
    m = _marker()
    a = _create("Ada", m)
    js = _search(m, consistentWith="%s:%s" % (a["id"], a["etag"]))
    assert _ids(js) == [a["id"]], js
    st, _, a2 = api("PATCH", "/v1/customers/" + a["id"], {"lastName": m + "x"})
    assert st == 200
    js = _search(m + "x", consistentWith="%s:%s" % (a["id"], a2["etag"]))
    assert _ids(js) == [a["id"]] and js["customers"][0]["etag"] == a2["etag"], js
    st, _, _ = api("DELETE", "/v1/customers/" + a["id"])
    assert st == 204
    js = _search(m, consistentWith=a["id"] + ":deleted")
    assert _ids(js) == [], js


def test_search_prefixes_names_email_and_phone():
    m = _marker("Bq")
    # Its last four digits start with 00 (as +48 698 460 063 does): "0063" is
    # the end of a number as typed, not an international prefix.
    phone = "+48 6%02d %02d0 0%02d" % (random.randrange(100), random.randrange(100),
                                       random.randrange(100))
    digits = phone.replace(" ", "").lstrip("+")
    email = unique_email("jan.kowalski" + m.lower())
    jan = _create("Jan", "Kowalski " + m, email=email, phone=phone)
    son = _create("Xavier", m + "son")
    bea = _create(m + "ata", "Nowak")
    ola = _create("Ola", m)
    # Ranking: the exact name, then last-name prefixes (in the list's order:
    # last name, first name), then first-name prefixes.
    _eventually(m.lower(), [ola["id"], son["id"], jan["id"], bea["id"]], timeout=2)
    # "jan kow" finds Jan Kowalski (among others of that name).
    assert jan["id"] in _ids(_search("jan kow " + m[:5]))
    assert jan["id"] in _ids(_search("JAN KOWALSKI", pageSize=100))
    # The e-mail: whole, its local part, a part after a dot.
    local = email.split("@")[0]
    for text in (email, local, local[:6], "kowalski" + m.lower()[:4]):
        assert jan["id"] in _ids(_search(text, pageSize=100)), text
    # The phone: any run of its digits, however written.
    national = digits[2:]
    for text in (national[:3] + " " + national[3:6], "+" + digits[:8], "00" + digits[:5],
                 " ".join(national), national[-4:], "0" + national):
        assert jan["id"] in _ids(_search(text, pageSize=100)), (text, phone)


def test_search_folds_accents_and_scripts():
    m = _marker()
    people = [("Łukasz", "Müller " + m), ("Øyvind", "Ødegård " + m), ("Иван", "Петров " + m),
              ("Άννα", "Straße " + m)]
    made = [_create(f, l) for f, l in people]
    want = sorted(c["id"] for c in made)
    # By both copies: each follows the stream on its own.
    wait_until(lambda: all(sorted(_ids(_search(m))) == want for _ in range(6)), timeout=2,
               what="all four indexed")
    for text, who in (("lukasz muller " + m, 0), ("MÜLLER " + m, 0), ("odegard " + m, 1),
                      ("OYVIND " + m, 1), ("ив " + m, 2), ("петр " + m, 2), ("αννα " + m, 3),
                      ("Αννα " + m, 3), ("strasse " + m, 3), ("STRASSE " + m, 3)):
        ids = _ids(_search(text, pageSize=100))
        assert made[who]["id"] in ids, (text, ids)


def test_search_filters_paging_and_order():
    m = _marker()
    made = [_create("Fil%d" % i, m, isCompany=(i % 2 == 0), tags=["t" + m] if i < 3 else [])
            for i in range(7)]
    _eventually(m, [c["id"] for c in sorted(made, key=lambda c: (c["firstName"], c["id"]))],
                timeout=2, pageSize=100)
    # Two copies follow the stream each on their own: wait until both have
    # everything (each may lag the other by milliseconds).
    wait_until(lambda: all(_search(m, pageSize=100)["totalSize"] == 7 for _ in range(6)),
               timeout=2, what="both copies")
    js = _search(m, isCompany="true", pageSize=100)
    assert _ids(js) == [c["id"] for c in made[::2]], js
    js = _search(m, tag="t" + m, pageSize=100)
    assert _ids(js) == [c["id"] for c in made[:3]], js
    js = _search(m, hasAccount="false", pageSize=100)
    assert js["totalSize"] == 7
    # Pages of 3 walk the whole order, each once.
    seen, token = [], None
    for _ in range(5):
        js = _search(m, pageSize=3, orderBy="firstName desc", pageToken=token)
        assert js["totalSize"] == 7
        seen += _ids(js)
        token = js.get("nextPageToken")
        if not token:
            break
    assert seen == [c["id"] for c in sorted(made, key=lambda c: c["firstName"], reverse=True)]
    # The list's other orders: e-mail, and the times of creation and of the last change.
    emails = {}
    for i, c in enumerate(made):
        e = "%s.%d@example.com" % (chr(ord("g") - i), i)
        st, _, js = api("PATCH", "/v1/customers/" + c["id"], {"email": e})
        assert st == 200, js
        emails[c["id"]] = (e, js["updatedAt"])
    wait_until(lambda: all(_search(m, pageSize=100, orderBy="email")["customers"][0]["email"]
                           == min(e for e, _ in emails.values()) for _ in range(6)),
               timeout=2, what="the new e-mails")
    for order, key in (("email", lambda i: (emails[i][0], i)),
                       ("updatedAt desc", lambda i: (emails[i][1], i)),
                       ("createdAt", lambda i: (next(c["createdAt"] for c in made
                                                     if c["id"] == i), i))):
        seen, token = [], None
        for _ in range(5):
            js = _search(m, pageSize=3, orderBy=order, pageToken=token)
            seen += _ids(js)
            token = js.get("nextPageToken")
            if not token:
                break
        want = sorted(emails, key=key, reverse=order.endswith("desc"))
        assert seen == want, (order, seen, want)
    # A token from another query is refused.
    js1 = _search(m, pageSize=3)
    st, _, err = api("GET", q(SEARCH, q=m + "x", pageToken=js1["nextPageToken"]))
    assert st == 400 and err["error"]["details"][0]["field"] == "pageToken", err


def test_search_empty_result_suggests_names():
    js = _search("Jan Kowalskiqqq" + _marker())
    assert js.get("noMatch") is True and not js.get("customers")
    assert js["suggestion"]["firstName"] == "Jan"
    assert js["suggestion"]["lastName"].startswith("Kowalskiqqq")
    js = _search("Nobodyxq" + _marker())
    assert js["suggestion"]["lastName"].startswith("Nobodyxq")
    assert not js["suggestion"].get("firstName")
    e = "zz" + _marker().lower() + "@example.org"
    js = _search(e)
    assert js["suggestion"]["email"] == e


def test_search_empty_result_offers_what_one_slip_away_finds():
    # "Kowalsky" for Kowalski: before offering to add a customer twice, the
    # search offers the queries one typing slip away that find someone.
    m = _marker("Kow")
    c = _create("Jarogniew", m + "ski")
    typo = "Jarogniew " + m + "sky"
    # Each search names the write, so whichever copy of search answers holds it.
    cw = "%s:%s" % (c["id"], c["etag"])
    js = _search(typo, consistentWith=cw)
    assert js.get("noMatch") is True and not js.get("customers"), js
    assert js["suggestion"]["lastName"] == m + "sky"  # the add offer stays
    meant = js["suggestion"]["didYouMean"]
    # (The corrected word as the customer writes it.)
    assert meant == [{"q": "Jarogniew " + m + "ski", "totalSize": 1}], meant
    # Following it finds the customer.
    assert _ids(_search(meant[0]["q"], consistentWith=cw)) == [c["id"]]
    # A filter the customer fails applies to the correction too.
    js = _search(typo, isCompany="true", consistentWith=cw)
    assert js.get("noMatch") is True and not js["suggestion"].get("didYouMean"), js
    # Nothing one slip away: nothing offered.
    js = _search("Jarogniew " + m + "xyz", consistentWith=cw)
    assert not js["suggestion"].get("didYouMean"), js


def test_search_validation_errors():
    def bad(params, field, reason=None):
        st, _, js = api("GET", q(SEARCH, **params))
        assert st == 400, (params, st, js)
        d = [d for d in js["error"].get("details", []) if d["field"] == field]
        assert d, (field, js)
        if reason:
            assert d[0]["reason"] == reason, d
    bad({"q": "x" * 201}, "q", "TOO_LONG")
    assert api("GET", q(SEARCH, q="ż" * 200))[0] == 200
    bad({"q": " ".join(["a"] * 11)}, "q", "TOO_MANY")
    assert api("GET", q(SEARCH, q=" ".join(["a"] * 10)))[0] == 200
    bad({"q": ""}, "q", "REQUIRED")
    bad({"q": "a", "pageSize": 101}, "pageSize", "OUT_OF_RANGE")
    assert api("GET", q(SEARCH, q="a", pageSize=100))[0] == 200
    bad({"q": "a", "orderBy": "phone"}, "orderBy")
    bad({"q": "a", "pageToken": "garbage"}, "pageToken")
    many = ["00000000-0000-4000-8000-%012d:1" % i for i in range(11)]
    path = q(SEARCH, q="a") + "".join("&consistentWith=" + c for c in many)
    st, _, js = api("GET", path)
    assert st == 400 and js["error"]["details"][0]["field"] == "consistentWith", js
    bad({"q": "a", "consistentWith": "nope"}, "consistentWith[0]", "INVALID_FORMAT")
    # Bytes that are not UTF-8 ("jan" then a lone 0xFF) and a broken escape, named by field.
    for raw in ("jan%FF", "jan%C3%28", "jan%G1"):
        st, _, js = api("GET", SEARCH + "?q=" + raw)
        assert st == 400 and js["error"]["details"][0]["field"] == "q", (raw, js)


def test_search_two_copies_answer_the_same():
    pids = crm.pids("search")
    assert len(pids) >= 2, pids
    m = _marker()
    made = [_create("Two%d" % i, m) for i in range(3)]
    want = [c["id"] for c in sorted(made, key=lambda c: (c["firstName"], c["id"]))]
    _eventually(m, want, timeout=2)
    answers = {}

    # Each copy follows the stream on its own: one may be a moment behind the
    # other, so each copy's latest answer counts, and both must reach the
    # same one within the time the stream takes (a second).
    def poll():
        js = _search(m)
        answers[js["servedBy"]] = _ids(js)
        return len(answers) >= 2 and all(v == want for v in answers.values())

    try:
        wait_until(poll, timeout=20, interval=0.01, what="both copies to give the same answer")
    except AssertionError:
        raise AssertionError(answers)
    assert len(answers) >= 2 and all(v == want for v in answers.values()), answers


def test_search_metrics_show_index_size():
    st, _, body = api("GET", "/metrics", key=None)
    assert st == 200
    text = body.decode() if isinstance(body, bytes) else str(body)
    assert "crm_search_index_customers{" in text, text[-2000:]
    assert "crm_search_index_bytes{" in text
    # /metrics needs no key: it names no business, nor how many customers one has.
    assert "tenant=" not in text and crm.TENANT not in text, text[-2000:]


def test_search_survives_kill_during_burst():
    """5,000 changes through the API while one copy of search is killed."""
    m = _marker("Kq")
    n_create, n_workers = 1500, 8
    made, lock = [], threading.Lock()
    errors = []

    def work(k):
        try:
            for i in range(k, n_create, n_workers):
                js = _create("B%05d" % i, m)
                with lock:
                    made.append(js)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_workers)]
    for t in threads:
        t.start()
    # Killed while the creates flow: once a tenth of them is done.
    wait_until(lambda: len(made) >= n_create // 10 or errors or not any(t.is_alive() for t in threads),
               timeout=120, what="the first creates")
    victim = crm.pids("search")[0]
    os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    # Then renames and deletes: 1500 + 2000 + 1500 = 5000 changes.
    _changed = [0]

    def change(k):
        try:
            for i in range(k, n_create, n_workers):
                c = made[i]
                if i % 3 == 0:
                    st, _, _ = api("DELETE", "/v1/customers/" + c["id"])
                    assert st == 204
                else:
                    st, _, js = api("PATCH", "/v1/customers/" + c["id"],
                                    {"firstName": "R" + c["firstName"]})
                    assert st == 200, js
                    st, _, js = api("PATCH", "/v1/customers/" + c["id"],
                                    {"firstName": "S" + c["firstName"]})
                    assert st == 200, js
                with lock:
                    _changed[0] += 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=change, args=(k,)) for k in range(n_workers)]
    for t in threads:
        t.start()
    # Killed while the changes flow: once the first have been answered.
    wait_until(lambda: len(errors) or not any(t.is_alive() for t in threads)
               or _changed[0] >= 100, timeout=120, what="the first changes")
    victim = crm.pids("search")[-1]
    os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    # The truth, from the customers service.
    truth = {}
    token = None
    while True:
        st, _, js = api("GET", q("/v1/customers", pageSize=1000, pageToken=token))
        assert st == 200
        for c in js.get("customers", []):
            if c["lastName"] == m:
                truth[c["id"]] = c["firstName"]
        token = js.get("nextPageToken")
        if not token:
            break
    assert len(truth) == n_create - len(range(0, n_create, 3))
    wait_until(lambda: len(crm.pids("search")) >= 2, timeout=60, what="search restarted")

    def index_matches():
        for _ in range(4):  # ask several times: both copies must be right
            got = {}
            token = None
            while True:
                js = _search(m, pageSize=100, pageToken=token)
                for c in js.get("customers", []):
                    got[c["id"]] = c["firstName"]
                token = js.get("nextPageToken")
                if not token:
                    break
            if got != truth:
                return False
        return True

    wait_until(index_matches, timeout=60, interval=0.5, what="the index to match the API")


test_search_survives_kill_during_burst.timeout = 400


def _snapshot_ids(bounds):
    """Every customer id of the snapshot within bounds (idFrom/idBefore), page by page."""
    ids, after_t, after_id = [], "", ""
    for _ in range(1000):
        req = dict(bounds, afterTenantId=after_t, afterId=after_id, limit=500)
        out = json.loads(crm.crmctl(["call", "customers", "SnapshotCustomers", json.dumps(req),
                                     "--tenant", crm.TENANT]))
        assert out["status"] == "OK", out
        page = out["body"].get("customers", [])
        ids += [c["customer"]["id"] for c in page]
        if page:
            after_t, after_id = page[-1]["tenantId"], page[-1]["customer"]["id"]
        if out["body"].get("done"):
            return ids
    raise AssertionError("the snapshot did not end")


def test_snapshot_parts_cover_every_customer_once():
    """search reads the snapshot in two halves of the id space at once: together they are
    the whole snapshot, each customer in exactly one, each half in id order."""
    for i in range(40):
        st, _, js = api("POST", "/v1/customers", {"firstName": "Part", "lastName": unique(f"S{i}")})
        assert st == 201, js
    mid = "80000000-0000-0000-0000-000000000000"
    whole = _snapshot_ids({})
    low = _snapshot_ids({"idBefore": mid})
    high = _snapshot_ids({"idFrom": mid})
    assert sorted(low + high) == sorted(whole) and len(set(whole)) == len(whole)
    assert all(i < mid for i in low) and all(i >= mid for i in high)
    assert low and high
    r = crm.crmctl_run(["call", "customers", "SnapshotCustomers", json.dumps({"idFrom": "nope"}),
                        "--tenant", crm.TENANT])
    bad = json.loads(r.stdout)
    assert bad["status"] == "INVALID_ARGUMENT" and bad["details"][0]["field"] == "idFrom", bad
