"""Tenants, settings, the bus under failure, the event stream, and the operational endpoints."""
import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse

import crm
from crm import api, unique, wait_until


def _new(**fields):
    body = {"firstName": "T", "lastName": unique("L")}
    body.update(fields)
    st, _, js = api("POST", "/v1/customers", body)
    assert st == 201, js
    return js


def test_tenants_are_isolated():
    tenant = crm.crmctl(["tenant", "create", unique("Salon"), "--country", "DE"]).strip()
    key = crm.crmctl(["key", "create", "--tenant", tenant, "--role", "staff"]).strip()
    mine = _new(email=unique("iso") + "@example.com")
    # The other tenant cannot see, change or delete it, and may reuse the e-mail.
    assert api("GET", f"/v1/customers/{mine['id']}", key=key)[0] == 404
    assert api("PATCH", f"/v1/customers/{mine['id']}", {"firstName": "X"}, key=key)[0] == 404
    assert api("DELETE", f"/v1/customers/{mine['id']}", key=key)[0] == 404
    st, _, theirs = api("POST", "/v1/customers",
                        {"firstName": "Other", "email": mine["email"], "phone": "030 1234567"},
                        key=key)
    assert st == 201 and theirs["phone"] == "+49301234567", theirs
    st, _, js = api("GET", "/v1/customers?pageSize=1000", key=key)
    assert [c["id"] for c in js["customers"]] == [theirs["id"]]
    assert api("GET", f"/v1/customers/{theirs['id']}")[0] == 404
    # Row-level security is a second wall: the services' role sees nothing without a tenant.
    out = crm.psql("SET ROLE crm_app; SELECT count(*) FROM customers.customers;")
    assert out.strip().splitlines()[-1].strip() == "0", out
    # A staff key may not change settings.
    st, _, js = api("PATCH", "/v1/settings", {"requiredFields": ["gender"]}, key=key)
    assert st == 403, js


def test_required_fields_per_tenant():
    tenant = crm.crmctl(["tenant", "create", unique("Studio"), "--country", "BG"]).strip()
    key = crm.crmctl(["key", "create", "--tenant", tenant, "--role", "admin"]).strip()
    st, _, js = api("PATCH", "/v1/settings", {"requiredFields": ["gender"]}, key=key)
    assert st == 200 and js["requiredFields"] == ["gender"], js
    st, _, js = api("POST", "/v1/customers", {"firstName": "Иван"}, key=key)
    assert st == 400 and js["error"]["details"][0]["field"] == "gender", js
    st, _, js = api("POST", "/v1/customers", {"firstName": "Иван", "gender": "MALE",
                                              "phone": "0888 123 456"}, key=key)
    assert st == 201 and js["phone"] == "+359888123456", js
    st, _, js = api("PATCH", "/v1/settings", {"requiredFields": ["shoeSize"]}, key=key)
    assert st == 400, js
    st, _, js = api("PATCH", "/v1/settings", {"defaultCountry": "XX"}, key=key)
    assert st == 400 and "defaultCountry" in json.dumps(js)


def test_create_survives_a_killed_worker():
    """Creates in flight at a copy that is SIGKILLed mid-request are served by
    the other copy, each once: none acknowledged is lost, none retried doubled."""
    # (Right after the stack starts, supervisord may not count the copies as
    # RUNNING yet: it waits a second for that.)
    pids = wait_until(lambda: len(crm.pids("customers")) >= 2 and crm.pids("customers"), 10,
                      what="two customers copies running")
    victim = pids[0]
    broker_log_before = len(crm.log("broker"))
    emails = [unique("kill") + "@example.com" for _ in range(2 * 16 + 8)]
    results = {}

    def create(email):
        results[email] = api("POST", "/v1/customers", {"firstName": "K", "email": email})

    def victim_waiting():
        # The victim's own connections, waiting for the table lock: requests
        # in flight there, not yet written.
        backends = crm.backends_of(victim)
        if not backends:
            return 0
        return int(crm.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND pid IN (%s)" % ",".join(map(str, backends))).strip())

    threads = [threading.Thread(target=create, args=(e,)) for e in emails]
    # With every write to the table held back, the requests stay in flight:
    # each thread of a copy is a worker of its own at the broker, which hands
    # requests to idle workers in turn, so more requests than the two copies
    # have threads reach every worker, the victim's included.
    with crm.table_locked("customers.customers"):
        for t in threads:
            t.start()
        wait_until(victim_waiting, 30, what="creates waiting at the victim copy")
        os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join(60)
    for e in emails:
        st, _, js = results[e]
        assert st == 201, (e, st, js)
    st, _, js = api("GET", "/v1/customers?pageSize=1000&orderBy=createdAt desc")
    listed = [c["email"] for c in js["customers"]]
    for e in emails:
        assert listed.count(e) == 1, (e, listed.count(e))
    # The broker gave up on the killed copy's workers (gone from the socket,
    # or silent for its liveness window) and re-queued what they held.
    assert re.search(r"worker (?:gone|expired) service=customers worker=\S+ held=[1-9]",
                     crm.log("broker")[broker_log_before:]), "no request of the killed copy re-queued"
    # The supervisor brings the copy back.
    wait_until(lambda: len(crm.pids("customers")) >= 2 and victim not in crm.pids("customers"), 30)


def test_a_request_longer_than_the_brokers_patience_is_served_once():
    """A thread busy with one request for longer than the broker waits for a
    silent worker (three heartbeats) keeps its place: the copy's main thread
    heartbeats the busy thread's worker, so the broker neither drops it nor
    hands its request to another thread."""
    c = _new()
    expired = "worker expired service=customers"
    before = crm.log("broker").count(expired)
    out = {}

    def patch():
        out["r"] = api("PATCH", f"/v1/customers/{c['id']}", {"firstName": "Held"})

    with crm.row_locked("customers.customers", c["id"]):
        t = threading.Thread(target=patch)
        t.start()
        wait_until(lambda: crm.psql("SELECT count(*) FROM pg_stat_activity WHERE "
                                    "wait_event_type = 'Lock' AND query LIKE '%customers%'"
                                    ).strip() != "0", 15, what="the update waiting for the lock")
        # Held longer than the broker's liveness window (3 x 1 s).
        time.sleep(4.5)
    t.join(30)
    st, _, js = out["r"]
    assert st == 200 and js["firstName"] == "Held", (st, js)
    assert crm.log("broker").count(expired) == before, "the broker dropped a busy worker"


def test_two_copies_both_serve():
    for _ in range(60):
        _new()
    counts = crm.served_by_copy("customers")
    assert len([c for c in counts.values() if c > 0]) >= 2, counts


def test_the_broker_listens_on_the_unix_socket_and_on_tcp():
    # The stack's own processes use the Unix socket in the run directory; the
    # TCP address stays open for tools and for copies on other machines.
    local = crm.ENV["CRM_BUS_ENDPOINT"]
    binds = crm.ENV["CRM_BROKER_BUS_ENDPOINT"].split(",")
    assert local.startswith("ipc://") and local in binds, (local, binds)
    tcp = [b for b in binds if b.startswith("tcp://")]
    assert len(tcp) == 1, binds
    c = _new()
    for endpoint in (local, tcp[0]):
        out = crm.crmctl(["call", "customers", "GetCustomer", json.dumps({"id": c["id"]}),
                          "--tenant", crm.TENANT], env={"CRM_BUS_ENDPOINT": endpoint})
        assert json.loads(out)["body"]["lastName"] == c["lastName"], (endpoint, out)


def test_the_services_run_with_the_larger_malloc_cache():
    # compose/stack.sh gives every service glibc.malloc.tcache_count=64
    # (docs/operations.md); a GLIBC_TUNABLES of the user's would follow it.
    seen = set()
    for name, (_, pid) in crm.status().items():
        if not pid or name == "postgres":  # the services, not the private database
            continue
        seen.add(name.split(":")[0])
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        tunables = env.get(b"GLIBC_TUNABLES", b"").split(b":")
        assert tunables[0] == b"glibc.malloc.tcache_count=64", (name, pid, tunables)
    assert seen >= {"broker", "customers", "search", "notes", "gateway"}, seen


def _threads(pid):
    """{tid: name} of a process's threads."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            out[int(tid)] = f.read().strip()
    return out


def test_the_bus_io_threads_run_under_sched_batch():
    # Every service's libzmq I/O thread runs under SCHED_BATCH and its own
    # threads under the normal policy (CRM_BUS_IO_BATCH, docs/operations.md).
    # A scrape first, so the gateway's second context (for search.Stats) exists.
    assert api("GET", "/metrics", key=None)[0] == 200
    seen = set()
    for name, (_, pid) in crm.status().items():
        if not pid or name == "postgres":
            continue
        program = name.split(":")[0]
        seen.add(program)
        threads = _threads(pid)
        io = [t for t, comm in threads.items() if comm.startswith("ZMQbg/IO/")]
        assert io, (name, threads)
        for tid in io:
            assert os.sched_getscheduler(tid) == os.SCHED_BATCH, (name, tid)
        assert os.sched_getscheduler(pid) == os.SCHED_OTHER, name
    assert seen >= {"broker", "customers", "search", "notes", "gateway"}, seen

    # CRM_BUS_IO_BATCH=false keeps them normal: a broker of its own, on
    # endpoints nobody else uses.
    ports = crm.free_ports(3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    # The stack's data directory: its bus keys (the broker's pair, the registry).
    env.update({"CRM_DATA_DIR": crm.DATA_DIR,
                "CRM_BUS_ENDPOINT": "tcp://127.0.0.1:%d" % ports[0],
                "CRM_EVENTS_IN_ENDPOINT": "tcp://127.0.0.1:%d" % ports[1],
                "CRM_EVENTS_OUT_ENDPOINT": "tcp://127.0.0.1:%d" % ports[2],
                "CRM_BUS_IO_BATCH": "false"})
    p = subprocess.Popen([os.path.join(crm.BIN, "broker")], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, cwd="/")
    try:
        io = wait_until(lambda: [t for t, c in _threads(p.pid).items()
                                 if c.startswith("ZMQbg/IO/")], 10,
                        what="the broker's I/O thread")
        for tid in io:
            assert os.sched_getscheduler(tid) == os.SCHED_OTHER, tid
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(10)
    # A value that is no boolean stops the service at start, naming it.
    env["CRM_BUS_IO_BATCH"] = "sometimes"
    r = subprocess.run([os.path.join(crm.BIN, "search"), "--print-config"], env=env,
                       capture_output=True, text=True, timeout=20, cwd="/")
    assert r.returncode == 2 and "CRM_BUS_IO_BATCH" in r.stderr and "sometimes" in r.stderr, r
    assert r.stdout == "", r.stdout


def _last_seq():
    """The newest seq of the customers stream (a replay after the end of it
    answers with no events and lastSeq)."""
    st = crm.crmctl(["call", "customers", "ReplayEvents",
                     '{"afterSeq":"9223372036854775807","limit":1}', "--tenant", crm.TENANT])
    return int(json.loads(st)["body"]["lastSeq"])


def test_subscriber_restarted_gets_every_event_in_order():
    out = os.path.join(crm.DATA_DIR, unique("events") + ".jsonl")
    c = _new()
    first_seq = None

    def start():
        return subprocess.Popen([crm.CRMCTL, "events", "--out", out], env=crm.ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # Start from the current end of the stream.
    first_seq = _last_seq()
    with open(out, "w") as f:
        f.write(json.dumps({"seq": first_seq}) + "\n")
    sub = start()
    try:
        for i in range(1000):
            st, _, js = api("PATCH", f"/v1/customers/{c['id']}", {"firstName": f"U{i}"})
            assert st == 200, js
            if i == 300:
                sub.send_signal(signal.SIGKILL)
                sub.wait()
            if i == 600:
                sub = start()
        last = int(api("GET", f"/v1/customers/{c['id']}")[2]["etag"])

        def caught_up():
            with open(out) as f:
                lines = [json.loads(x) for x in f if x.endswith("\n")]
            mine = [x for x in lines if x.get("customer", {}).get("id") == c["id"]]
            return len(mine) >= 1000 and lines
        lines = wait_until(caught_up, 60)
    finally:
        sub.send_signal(signal.SIGTERM)
        sub.wait()
    seqs = [x["seq"] for x in lines]
    assert seqs == list(range(first_seq, first_seq + len(seqs))), "gaps or repeats in the stream"
    mine = [x for x in lines if x.get("customer", {}).get("id") == c["id"]]
    assert [x["customer"]["firstName"] for x in mine] == [f"U{i}" for i in range(1000)]
    assert all(x["type"] == "customer.updated" for x in mine)
    ch = mine[0]["changes"][0]
    assert ch["field"] == "firstName" and json.loads(ch["newValue"]) == "U0"


def test_events_carry_principal_and_channel():
    c = _new()
    api("DELETE", f"/v1/customers/{c['id']}", headers={"X-Channel": "ui"})
    last = _last_seq()
    out = crm.crmctl(["events", "--from", str(last - 1), "--count", "1"], timeout=20)
    ev = json.loads(out.splitlines()[-1])
    assert ev["type"] == "customer.deleted" and ev["customer"]["id"] == c["id"], ev
    assert ev["channel"] == "ui" and ev["principal"]["role"] == "ADMIN"


def test_bus_call_from_the_command_line():
    out = crm.crmctl(["call", "customers", "CreateCustomer",
                      json.dumps({"customer": {"firstName": "Bus", "lastName": unique("C")}}),
                      "--key", crm.API_KEY])
    js = json.loads(out)
    assert js["status"] == "OK" and js["body"]["source"] == "API"
    st, _, got = api("GET", f"/v1/customers/{js['body']['id']}")
    assert st == 200 and got["firstName"] == "Bus"


def test_health_ready_metrics_and_request_ids():
    assert api("GET", "/healthz", key=None)[0] == 200
    assert api("GET", "/readyz", key=None)[0] == 200
    st, hdr, _ = api("GET", "/v1/customers?pageSize=1", headers={"X-Request-Id": "trace-abc-123"})
    assert hdr.get("X-Request-Id") == "trace-abc-123"
    st, hdr, _ = api("GET", "/v1/customers?pageSize=1")
    assert len(hdr.get("X-Request-Id", "")) >= 16
    st, _, _ = api("POST", "/v1/customers", {"firstName": "Log"},
                   headers={"X-Request-Id": "trace-log-456"})
    assert st == 201
    wait_until(lambda: crm.logs_contain("customers", "trace-log-456"), 10)
    st, hdr, body = api("GET", "/metrics", key=None)
    text = body.decode() if isinstance(body, bytes) else str(body)
    assert st == 200 and "crm_http_requests_total" in text
    assert 'route="/v1/customers/{id}"' in text or 'route="/v1/customers"' in text
    assert "crm_bus_request_duration_seconds" in text


def test_openapi_documents_every_route():
    st, _, doc = api("GET", "/v1/openapi.json", key=None)
    assert st == 200 and doc["openapi"].startswith("3.")
    expected = {
        ("post", "/v1/customers"), ("get", "/v1/customers"), ("get", "/v1/customers/{id}"),
        ("patch", "/v1/customers/{id}"), ("delete", "/v1/customers/{id}"),
        ("post", "/v1/customers:batchDelete"), ("put", "/v1/customers/{id}/photo"),
        ("get", "/v1/customers/{id}/photo"), ("delete", "/v1/customers/{id}/photo"),
        ("get", "/v1/customers/{id}/audit"), ("get", "/v1/groups"), ("post", "/v1/groups"),
        ("get", "/v1/groups/{id}"), ("patch", "/v1/groups/{id}"), ("delete", "/v1/groups/{id}"),
        ("get", "/v1/tags"), ("get", "/v1/settings"), ("patch", "/v1/settings"),
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops
                  if m in ("get", "post", "put", "patch", "delete")}
    assert expected <= documented, expected - documented
    # Every documented route exists: it answers with something other than "no route".
    for method, path in sorted(documented):
        url = path.replace("{id}", "00000000-0000-4000-8000-000000000000")
        st, _, js = api(method.upper(), url, {} if method in ("post", "patch") else None)
        assert st != 405, (method, path)
        if st == 404:
            assert "no route" not in json.dumps(js), (method, path, js)


def test_broker_killed_and_restarted_the_suite_recovers():
    """The supervisor restarts a killed broker; workers re-register, the gateway reconnects."""
    before = wait_until(lambda: crm.pids("broker"), 10)
    assert len(before) == 1, crm.status()
    os.kill(before[0], signal.SIGKILL)
    wait_until(lambda: crm.pids("broker") and crm.pids("broker") != before, 30)

    def serves():
        st, _, js = api("POST", "/v1/customers", {"firstName": "After", "lastName": unique("B")},
                        timeout=20)
        return st == 201 and js
    created = wait_until(serves, 60)
    assert api("GET", f"/v1/customers/{created['id']}")[0] == 200
    wait_until(lambda: api("GET", "/readyz", key=None)[0] == 200, 30)


def _metric(name):
    """The value of an unlabelled metric in /metrics."""
    st, _, body = api("GET", "/metrics", key=None)
    assert st == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric %s" % name)


def test_requests_in_flight_when_the_broker_dies_are_sent_again():
    """The broker killed while requests wait in it: the gateway sees the
    connection come back and sends them again (writes under their idempotency
    key), so each is answered and done once, instead of a 504 after the
    gateway's whole deadline."""
    copies = wait_until(lambda: crm.pids("customers"), 10)
    broker = wait_until(lambda: crm.pids("broker"), 10)
    resent_before = _metric("crm_bus_requests_resent_total")
    emails = [unique("inflight") + "@example.com" for _ in range(4)]
    results = {}

    def create(email):
        results[email] = api("POST", "/v1/customers", {"firstName": "F", "lastName": "Light",
                                                       "email": email}, timeout=60)

    # Every copy of customers stopped: the creates wait in the broker (or at a copy).
    for pid in copies:
        os.kill(pid, signal.SIGSTOP)
    threads = [threading.Thread(target=create, args=(e,)) for e in emails]
    try:
        for t in threads:
            t.start()
        # The /metrics request itself is one of those in flight.
        wait_until(lambda: _metric("crm_http_in_flight") >= len(emails) + 1, 30,
                   what="the creates in flight")
        os.kill(broker[0], signal.SIGKILL)
        wait_until(lambda: crm.pids("broker") and crm.pids("broker") != broker, 30,
                   what="a new broker")
    finally:
        for pid in copies:
            os.kill(pid, signal.SIGCONT)
    for t in threads:
        t.join(60)
    for e in emails:
        st, _, js = results[e]
        assert st == 201, (e, st, js)
    assert _metric("crm_bus_requests_resent_total") >= resent_before + len(emails)
    # Each done once (e-mail addresses are unique, so a second would have been refused:
    # count the rows and their creation events).
    keys = ",".join("'%s'" % e.lower() for e in emails)
    assert crm.psql("SELECT count(*) FROM customers.customers WHERE email_key IN (%s)"
                    % keys).strip() == str(len(emails))


def test_database_restart_is_survived():
    """PostgreSQL restarts under the suite: the next requests reconnect and succeed."""
    c = _new(email=unique("pg") + "@example.com")
    # The private cluster runs under supervisord (RUNNING once up for 2 s).
    old = wait_until(lambda: crm.pids("postgres"), 30, what="postgres RUNNING")
    assert len(old) == 1, crm.status()
    crm.ctl(["restart", "postgres"], check=True)
    wait_until(lambda: crm.pids("postgres") and crm.pids("postgres") != old, 60,
               what="postgres restarted")
    # Every service with a database lost its connection: the first readiness
    # check already finds them able to serve (their health check reconnects).
    wait_until(lambda: api("GET", "/readyz", key=None)[0] == 200, 60, what="ready again")
    # Both customers copies lost their connection; every request still succeeds.
    for i in range(6):
        st, _, js = api("PATCH", f"/v1/customers/{c['id']}", {"firstName": f"R{i}"})
        assert st == 200, (i, st, js)
        st, _, js = api("GET", f"/v1/customers/{c['id']}")
        assert st == 200 and js["firstName"] == f"R{i}", (i, st, js)
    assert api("GET", "/readyz", key=None)[0] == 200


def test_database_killed_comes_back_by_itself():
    """The postmaster killed with SIGKILL: supervisord starts it again (after its
    crash recovery), and writes succeed again without anyone's help; nothing
    acknowledged before is lost."""
    c = _new(email=unique("pgk") + "@example.com")
    # The test cluster commits without waiting for the disk
    # (synchronous_commit=off), so a crash may lose the last moments of
    # commits; make run's waits. Wait until the WAL holding the create is
    # flushed, as a durable commit would have before answering.
    lsn = crm.psql("SELECT pg_current_wal_insert_lsn()").strip()
    wait_until(lambda: crm.psql("SELECT pg_current_wal_flush_lsn() >= '%s'::pg_lsn" % lsn).strip()
               == "t", 30, what="the create flushed to the WAL")
    old = wait_until(lambda: crm.pids("postgres"), 30, what="postgres RUNNING")
    assert len(old) == 1, crm.status()
    os.kill(old[0], signal.SIGKILL)
    wait_until(lambda: crm.pids("postgres") and crm.pids("postgres") != old, 120,
               what="postgres started again by supervisord")

    def writes():
        st, _, js = api("PATCH", f"/v1/customers/{c['id']}", {"firstName": "Back"}, timeout=20)
        return st == 200 and js

    wait_until(writes, 120, interval=0.5, what="a write after the database came back")
    st, _, js = api("GET", f"/v1/customers/{c['id']}")
    assert st == 200 and js["firstName"] == "Back" and js["email"] == c["email"], js
    wait_until(lambda: api("GET", "/readyz", key=None)[0] == 200, 60, what="ready again")
    # The timeline follows the stream again: notes had applied events whose
    # commits the crash may have taken (its cursor then behind what it
    # applied), and it follows on from where the database is.
    after = _new(email=unique("pgk2") + "@example.com")

    def in_timeline():
        st, _, js = api("GET", f"/v1/customers/{after['id']}/timeline")
        return st == 200 and any(e.get("type") == "customer.created"
                                 for e in js.get("entries", []))
    wait_until(in_timeline, 60, interval=0.5, what="the new customer in its timeline")


def test_deleting_a_customer_erases_them_from_the_event_stream():
    email = unique("gone") + "@example.com"
    c = _new(email=email, phone="+48600555123")
    assert api("PATCH", f"/v1/customers/{c['id']}", {"firstName": "Erased"})[0] == 200
    before = _last_seq()
    assert api("DELETE", f"/v1/customers/{c['id']}")[0] == 204
    # Replayed from the outbox, the customer's events keep what happened but
    # no personal data: the customer is its id, the changes name their fields.
    out = crm.crmctl(["events", "--from", str(max(before - 5, 0)), "--idle-exit-ms", "1500"],
                     timeout=30)
    mine = [json.loads(x) for x in out.splitlines() if c["id"] in x]
    assert [e["type"] for e in mine] == ["customer.created", "customer.updated",
                                         "customer.deleted"], mine
    text = json.dumps(mine)
    assert email not in text and "600555123" not in text and "Erased" not in text, text
    assert mine[1]["changes"] == [{"field": "firstName"}], mine[1]
    assert all(set(e["customer"]) <= {"id", "etag"} for e in mine), mine


def test_the_gateway_serves_a_thousand_connections_at_once():
    # The gateway's limit (docs/api.md): 1,000 clients each with a search in flight all get
    # their answers, and the gateway goes on serving. Select mode caps its descriptors at 1024.
    url = urllib.parse.urlsplit(crm.URL)
    who = _new(firstName=unique("Kilo"))
    path = "/v1/customers:search?pageSize=1&q=" + urllib.parse.quote(who["firstName"])
    wait_until(lambda: api("GET", path)[2].get("customers"), what="search to have the customer")
    conns = []
    try:
        for _ in range(1000):
            c = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
            c.connect()
            conns.append(c)
        for c in conns:
            c.request("GET", path, headers={"Authorization": "Bearer " + crm.API_KEY})
        found = []
        for c in conns:
            r = c.getresponse()
            body = r.read()
            found.append((r.status, json.loads(body)["customers"][0]["id"] if r.status == 200 else body))
    finally:
        for c in conns:
            c.close()
    assert found == [(200, who["id"])] * 1000, [f for f in found if f != (200, who["id"])][:3]
    # It goes on serving: once it has seen the thousand closed (until then
    # it is at its connection limit and turns a new one away), a new client
    # gets its answer.
    st, _, js = wait_until(lambda: api("GET", f"/v1/customers/{who['id']}"), 30,
                           what="an answer after the thousand closed")
    assert st == 200 and js["id"] == who["id"], js


def _outbox():
    """What `crmctl outbox` says: (oldest kept seq, newest seq, {reader: seq})."""
    out = crm.crmctl(["outbox"])
    kept = re.search(r"^events kept\t(\d+)\.\.(\d+)$", out, re.M)
    assert kept, out
    readers = {m[1]: int(m[2]) for m in re.finditer(r"^reader (\S+)\tseq (\d+)", out, re.M)}
    return int(kept[1]), int(kept[2]), readers


def _replay(after, reader=None):
    body = {"afterSeq": str(after), "limit": 1000}
    if reader:
        body["reader"] = reader
    r = crm.crmctl_run(["call", "customers", "ReplayEvents", json.dumps(body),
                        "--tenant", crm.TENANT])
    return json.loads(r.stdout)


def test_outbox_retention_keeps_what_readers_have_not_applied():
    # Runs last in this file: the events it deletes are gone for later
    # readers too (every earlier test here reads the stream from its end).
    # notes follows the stream as a durable reader and reports where it is.
    _new()
    seq = _last_seq()
    wait_until(lambda: _outbox()[2].get("notes", 0) >= seq, 30, what="notes' position")
    # /metrics shows the same: the stream's ends and how far behind each reader is.
    st, _, body = api("GET", "/metrics", key=None)
    text = body.decode() if isinstance(body, bytes) else str(body)
    newest = re.search(r"^crm_outbox_newest_seq (\d+)$", text, re.M)
    behind = re.search(r'^crm_stream_reader_behind\{reader="notes"\} (\d+)$', text, re.M)
    silent = re.search(r'^crm_stream_reader_silent_seconds\{reader="notes"\} ([0-9.]+)$', text,
                       re.M)
    assert st == 200 and newest and behind and silent, text[-2000:]
    assert int(newest[1]) >= seq and float(silent[1]) < 60, (newest[1], silent[1])
    assert int(behind[1]) <= int(newest[1]) - seq  # notes is at seq or later

    # Each copy of customers prunes by itself as it starts (then every ten
    # minutes), with the default retention of 30 days (nothing is that old),
    # unless notes has not registered yet.
    assert (crm.logs_contain("customers", "outbox: pruned 0 events older than 30 days") or
            crm.logs_contain("customers", "outbox: nothing deleted, a reader has not registered "
                             "yet (unregistered: "))
    assert not crm.logs_contain("customers", "could not prune")

    # A reader named in the list that never registered holds everything.
    out = crm.crmctl(["outbox", "prune", "--older-than-days", "0", "--readers", "notes, billing"])
    assert out.startswith("deleted 0 events") and "unregistered: billing" in out, out
    # A retention the events are not old enough for deletes nothing either.
    out = crm.crmctl(["outbox", "prune", "--older-than-days", "1"])
    assert out.startswith("deleted 0 events"), out

    # With notes stopped, the events it has not applied stay, however old.
    crm.ctl(["stop", "notes:*"], check=True)
    try:
        held = _outbox()[2]["notes"]
        c = _new(email=unique("kept") + "@example.com")
        assert api("PATCH", f"/v1/customers/{c['id']}", {"firstName": "Kept"})[0] == 200
        # notify, the other durable reader, goes on and reports past notes.
        wait_until(lambda: _outbox()[2].get("notify", 0) > held, 30, what="notify past notes")
        out = crm.crmctl(["outbox", "prune", "--older-than-days", "0"])
        assert f"events up to seq {held} are gone; held back by reader: notes" in out, out
        oldest, newest, _ = _outbox()
        assert oldest == held + 1 and newest > held, (oldest, newest, held)
    finally:
        crm.ctl(["start", "notes:*"], check=True)
    crm.wait_ready()
    # notes comes back, catches up from its position, and the customer's
    # timeline has what happened while it was away.
    def timeline_has_rename():
        st, _, js = api("GET", f"/v1/customers/{c['id']}/timeline")
        return st == 200 and "Kept" in json.dumps(js)
    wait_until(timeline_has_rename, 30, what="the rename in the timeline")

    # Asking for deleted events is an error that says so, not a silent jump.
    r = _replay(0)
    assert r["status"] == "FAILED_PRECONDITION", r
    assert f"events 1 to {held} are no longer kept" in r["message"], r
    r = _replay(held)
    assert r["status"] == "OK" and int(r["body"]["events"][0]["seq"]) == held + 1, r
    # A reader's name is checked, and a follower that asks too late is told.
    r = _replay(held, reader="Bad Name")
    assert r["status"] == "INVALID_ARGUMENT" and "reader" in r["message"], r
    r = _replay(held, reader="x" * 65)
    assert r["status"] == "INVALID_ARGUMENT" and "reader" in r["message"], r
    r = _replay("18446744073709551615")
    assert r["status"] == "INVALID_ARGUMENT" and "afterSeq" in r["message"], r
    # The command line refuses bad values before doing anything.
    for args in (["outbox", "prune", "--older-than-days", "-1"],
                 ["outbox", "prune", "--older-than-days", "ten"],
                 ["outbox", "prune", "--readers", "Notes;x"],
                 ["events", "--reader", "Bad Name"],
                 ["outbox", "forget"]):
        bad = crm.crmctl_run(args)
        assert bad.returncode == 2 and bad.stderr, (args, bad.returncode, bad.stderr)
    assert crm.crmctl_run(["outbox", "forget", "nobody"]).returncode == 1
    ev = crm.crmctl_run(["events", "--from", "0", "--idle-exit-ms", "20000"], timeout=30)
    assert ev.returncode == 1 and "no longer kept" in ev.stderr, (ev.returncode, ev.stderr)

    # A reader that is forgotten holds nothing back any more; the newest
    # event always stays (new events are numbered on from it).
    crm.crmctl(["outbox", "forget", "notes"])
    out = crm.crmctl(["outbox", "prune", "--older-than-days", "0", "--readers", ""])
    oldest, newest, readers = _outbox()
    assert oldest == newest and "notes" not in readers, out
    # notes registers again at its next report, and new events flow on.
    c2 = _new()
    wait_until(lambda: _outbox()[2].get("notes", 0) > newest, 30, what="notes registered again")
    assert _outbox()[1] > newest

    # Search started again after the events were deleted loads its snapshot
    # and finds both customers.
    crm.restart("search")
    for cust in (c, c2):
        found = wait_until(lambda cust=cust: api(
            "GET", crm.q("/v1/customers:search", q=cust["lastName"]))[2].get("customers"), 30)
        assert [x["id"] for x in found] == [cust["id"]], found
