"""The bus trusts only the keys it knows (docs/bus.md, "Who may speak").

Every bus socket uses ZeroMQ CURVE; the broker admits the public keys of its
registry ($CRM_DATA_DIR/keys/registry) and binds what a request may say about
itself to the key that sent it. These tests speak to the broker directly with
pyzmq (/usr/bin/python3 has it, with CURVE), as an outside system would: a
client without a known key, a booking system's key made with
`crmctl bus-keys new-system`, and the suite's own service and gateway keys
(read from the keys directory, as a process on the broker's host could).
"""

import os
import re
import subprocess
import tempfile
import time
import uuid

import zmq

import crm
from crm import api, unique, wait_until

KEYS = os.environ.get("CRM_BUS_KEYS_DIR", os.path.join(crm.DATA_DIR, "keys"))
BUS = crm.ENV.get("CRM_BUS_ENDPOINT", "tcp://127.0.0.1:5555")
EVENTS_OUT = crm.ENV.get("CRM_EVENTS_OUT_ENDPOINT", "tcp://127.0.0.1:5557")

STATUS = ["OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "FAILED_PRECONDITION",
          "PERMISSION_DENIED", "UNAUTHENTICATED", "RESOURCE_EXHAUSTED", "UNAVAILABLE",
          "DEADLINE_EXCEEDED", "INTERNAL"]
ROLE_ADMIN, ROLE_SERVICE = 1, 4
KIND_STAFF, KIND_SYSTEM = 1, 3

# How long a request that must get no answer is waited for: several broker
# heartbeats, far beyond a loopback round trip.
SILENT_S = 3.0

_ctx = zmq.Context.instance()


# ---------------------------------------------------------------- the wire format


def _varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(no, value):
    if isinstance(value, int):
        return _varint(no << 3) + _varint(value) if value else b""
    if isinstance(value, str):
        value = value.encode()
    return _varint(no << 3 | 2) + _varint(len(value)) + value if value else b""


def _parse(buf):
    fields, i = {}, 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        no, wt = key >> 3, key & 7
        if wt == 0:
            val, i = _read_varint(buf, i)
        elif wt == 2:
            n, i = _read_varint(buf, i)
            val, i = buf[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
        fields.setdefault(no, []).append(val)
    return fields


def _read_varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def _principal(pid="", name="", role=0, kind=0, scopes=()):
    return (_field(1, pid) + _field(2, name) + _field(3, role)
            + b"".join(_field(4, s) for s in scopes) + _field(5, kind))


def _header(request_id, method, tenant="", principal=b"", channel="", timeout_s=5.0):
    deadline = int(time.time() * 1000 + timeout_s * 1000)
    return (_field(1, request_id) + _field(2, tenant) + _field(3, principal)
            + _field(4, deadline) + _field(5, method) + _field(7, channel))


def _intake_event(source, event_id, external_id, email):
    customer = _field(1, external_id) + _field(4, email)
    return (_field(1, source) + _field(2, event_id) + _field(3, "customer.signed_up")
            + _field(4, "2026-11-20T10:00:00Z") + _field(5, customer))


# ---------------------------------------------------------------- keys and sockets


def _read_key_file(path):
    """{"public": ..., "secret": ..., "broker": ...} from a key file's lines."""
    out = {}
    with open(path, encoding="ascii") as fh:
        for line in fh:
            words = line.split()
            if len(words) == 2 and not words[0].startswith("#"):
                out[words[0]] = words[1]
    return out


def _broker_key():
    return _read_key_file(os.path.join(KEYS, "broker.pub"))["public"]


def _suite_key(name):
    return _read_key_file(os.path.join(KEYS, name + ".key"))


def _curve(sock, keys):
    """Makes sock a CURVE client of the broker with keys {public, secret}."""
    sock.curve_serverkey = _broker_key().encode()
    sock.curve_publickey = keys["public"].encode()
    sock.curve_secretkey = keys["secret"].encode()


def _stranger():
    public, secret = zmq.curve_keypair()
    return {"public": public.decode(), "secret": secret.decode()}


class _Client:
    """A DEALER speaking MDP to the broker with the given keys."""

    def __init__(self, keys):
        self.sock = _ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        # A socket whose connection the broker refused has no peer left, and
        # a DEALER's send then waits for one for ever: give up after a second.
        self.sock.sndtimeo = 1000
        if keys:
            _curve(self.sock, keys)
        self.sock.connect(BUS)

    def send(self, service, method, body=b"", **header):
        rid = str(uuid.uuid4())
        self.sock.send_multipart([b"MDPC02", b"\x01", service.encode(),
                                  _header(rid, method, **header), body])
        return rid

    def recv(self, timeout_s):
        """The reply ({status, message, request_id}, body) or None."""
        end = time.monotonic() + timeout_s
        while True:
            left = end - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return None
            frames = self.sock.recv_multipart()
            if len(frames) >= 4 and frames[:2] == [b"MDPC02", b"\x04"]:
                f = _parse(frames[3])
                rh = {"status": STATUS[f.get(1, [0])[-1]],
                      "message": f.get(2, [b""])[-1].decode(),
                      "request_id": f.get(4, [b""])[-1].decode()}
                return rh, frames[4] if len(frames) > 4 else b""

    def call(self, service, method, body=b"", timeout_s=10.0, **header):
        rid = self.send(service, method, body, **header)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            got = self.recv(end - time.monotonic())
            if got and got[0]["request_id"] == rid:
                return got
        raise AssertionError("no answer to %s within %.0f s" % (method, timeout_s))

    def close(self):
        self.sock.close()


def _system_key(tenant, scopes="events:publish"):
    """A new outside system's key for tenant, registered; (name, keys)."""
    name = unique("booking").lower()
    out = crm.crmctl(["bus-keys", "new-system", "--tenant", tenant, "--name", name,
                      "--scopes", scopes])
    keys = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) == 2 and not words[0].startswith("#"):
            keys[words[0]] = words[1]
    assert keys["broker"] == _broker_key(), out
    return name, keys


def _admitted(keys, timeout=15):
    """A client with keys, once the broker has reloaded its registry (it looks
    at the file about once a second) and answers it. A connection the broker
    refused is not tried again by libzmq, so each attempt is a new socket."""
    held = []

    def answered():
        client = _Client(keys)
        try:
            rid = client.send("mmi.service", "mmi.service", b"notes")
        except zmq.Again:  # refused before the send: no peer to send to
            client.close()
            return False
        got = client.recv(1.0)
        if got and got[0]["request_id"] == rid:
            held.append(client)
            return True
        client.close()
        return False

    wait_until(answered, timeout=timeout, interval=0.2, what="the broker admits the new key")
    return held[0]


# ---------------------------------------------------------------- tests


def test_a_client_without_a_known_key_gets_no_reply():
    stranger = _Client(_stranger())
    plain = _Client(None)  # no CURVE at all
    try:
        stranger.send("mmi.service", "mmi.service", b"customers")
        plain.send("mmi.service", "mmi.service", b"customers")
        assert stranger.recv(SILENT_S) is None
        assert plain.recv(0.5) is None
    finally:
        stranger.close()
        plain.close()
    wait_until(lambda: crm.logs_contain("broker", "connection refused domain=bus")
               and crm.logs_contain("broker", "unknown key"),
               what="the broker logs the refused key")


def test_a_booking_system_key_publishes_for_its_tenant_only():
    tenant_b = crm.crmctl(["tenant", "create", unique("Other")]).strip()
    name, keys = _system_key(crm.TENANT)
    client = _admitted(keys)
    try:
        external = unique("c")
        email = crm.unique_email("bus")
        body = _intake_event("booking", unique("ev"), external, email)
        rh, out = client.call("notes", "notes.IngestEvent", body, tenant=crm.TENANT,
                              channel="booking")
        assert rh["status"] == "OK", rh
        customer_id = _parse(out)[1][0].decode()
        # Without a tenant the key's own is filled in.
        rh, _ = client.call("notes", "notes.IngestEvent",
                            _intake_event("booking", unique("ev"), unique("c"),
                                          crm.unique_email("bus")), channel="booking")
        assert rh["status"] == "OK", rh
        # Another tenant's id is refused by the broker, and nothing is taken in there.
        rh, _ = client.call("notes", "notes.IngestEvent",
                            _intake_event("booking", unique("ev"), unique("c"), email),
                            tenant=tenant_b, channel="booking")
        assert rh["status"] == "PERMISSION_DENIED", rh
        assert "another tenant" in rh["message"], rh
        assert crm.logs_contain("broker", "request refused key=%s" % name)
        # Whatever principal the request claimed, the services saw the key's:
        # the customer it made is audited as made by the system, ROLE_SERVICE.
        st, _, js = api("GET", "/v1/customers/%s/audit" % customer_id)
        assert st == 200, js
        entries = js.get("entries") or js.get("auditEntries") or []
        assert entries, js
        first = entries[-1]["principal"]
        assert first["id"] == name and first["name"] == name, first
        assert first["role"] == "SERVICE", first
    finally:
        client.close()


def test_a_forged_principal_from_a_system_key_is_replaced():
    name, keys = _system_key(crm.TENANT)
    client = _admitted(keys)
    try:
        forged = _principal("admin-1", "Boss", ROLE_ADMIN, KIND_STAFF)
        rh, out = client.call("notes", "notes.IngestEvent",
                              _intake_event("booking", unique("ev"), unique("c"),
                                            crm.unique_email("bus")),
                              tenant=crm.TENANT, principal=forged, channel="booking")
        assert rh["status"] == "OK", rh
        customer_id = _parse(out)[1][0].decode()
        st, _, js = api("GET", "/v1/customers/%s/audit" % customer_id)
        assert st == 200, js
        entries = js.get("entries") or js.get("auditEntries") or []
        who = entries[-1]["principal"]
        assert who["id"] == name and who["role"] == "SERVICE", who
    finally:
        client.close()


def test_a_booking_system_key_cannot_delete_a_customer():
    """Refused by the services' permission check on the key's scopes
    (events:publish only); needs the perms part of issue 19."""
    st, _, js = api("POST", "/v1/customers", {"firstName": unique("Keep")})
    assert st == 201, js
    _, keys = _system_key(crm.TENANT)
    client = _admitted(keys)
    try:
        body = _field(1, js["id"])  # DeleteCustomerRequest.id
        rh, _ = client.call("customers", "customers.DeleteCustomer", body, tenant=crm.TENANT)
        assert rh["status"] == "PERMISSION_DENIED", rh
    finally:
        client.close()
    st, _, _ = api("GET", "/v1/customers/" + js["id"])
    assert st == 200


def test_a_service_key_cannot_speak_for_a_person_on_its_own():
    st, _, js = api("POST", "/v1/customers", {"firstName": unique("Ann")})
    assert st == 201, js
    client = _Client(_suite_key("search"))
    try:
        staff = _principal("staff-1", "Jane", ROLE_ADMIN, KIND_STAFF)
        rh, _ = client.call("customers", "customers.GetCustomer", _field(1, js["id"]),
                            tenant=crm.TENANT, principal=staff)
        assert rh["status"] == "PERMISSION_DENIED", rh
        assert "only while serving" in rh["message"], rh
        # On its own account (kind SERVICE) it is let through.
        own = _principal("search", "search", ROLE_SERVICE, 4)
        rh, _ = client.call("customers", "customers.GetCustomer", _field(1, js["id"]),
                            tenant=crm.TENANT, principal=own)
        assert rh["status"] == "OK", rh
    finally:
        client.close()


def test_the_gateway_key_cannot_claim_to_be_a_system():
    client = _Client(_suite_key("gateway"))
    try:
        system = _principal("booking", "booking", ROLE_SERVICE, KIND_SYSTEM, ["events:publish"])
        rh, _ = client.call("notes", "notes.IngestEvent",
                            _intake_event("booking", unique("ev"), unique("c"),
                                          crm.unique_email("bus")),
                            tenant=crm.TENANT, principal=system)
        assert rh["status"] == "PERMISSION_DENIED", rh
    finally:
        client.close()


def _ready_then_disconnected(keys, service):
    """Announces a worker for service with keys; True when the broker answers
    DISCONNECT (a refused worker)."""
    sock = _ctx.socket(zmq.DEALER)
    sock.linger = 0
    _curve(sock, keys)
    sock.connect(BUS)
    try:
        sock.send_multipart([b"MDPW02", b"\x01", service.encode()])
        end = time.monotonic() + SILENT_S
        while time.monotonic() < end:
            if not sock.poll(int((end - time.monotonic()) * 1000)):
                return False
            frames = sock.recv_multipart()
            if frames[:2] == [b"MDPW02", b"\x06"]:
                return True
        return False
    finally:
        sock.close()


def test_only_a_service_key_serves_and_only_its_own_service():
    _, keys = _system_key(crm.TENANT)
    _admitted(keys).close()
    assert _ready_then_disconnected(keys, "customers")
    assert _ready_then_disconnected(_suite_key("gateway"), "customers")
    assert _ready_then_disconnected(_suite_key("search"), "customers")
    wait_until(lambda: crm.logs_contain("broker", "key search may not serve customers"),
               what="the broker logs the refused worker")


def test_the_event_stream_cannot_be_read_without_a_key():
    def sub(keys):
        s = _ctx.socket(zmq.SUB)
        s.linger = 0
        if keys:
            _curve(s, keys)
        s.setsockopt(zmq.SUBSCRIBE, b"customers")
        s.connect(EVENTS_OUT)
        return s

    _, system = _system_key(crm.TENANT)
    keyed, stranger, booking = sub(_suite_key("crmctl")), sub(_stranger()), sub(system)
    try:
        # Customers written until the keyed subscriber hears of one (it
        # joins a moment after connecting: the slow joiner).
        def heard():
            st, _, js = api("POST", "/v1/customers", {"firstName": unique("Ev")})
            assert st == 201, js
            return keyed.poll(200)

        wait_until(heard, timeout=20, what="a keyed subscriber receives events")
        assert keyed.recv_multipart()[0] == b"customers"
        st, _, js = api("POST", "/v1/customers", {"firstName": unique("Ev")})
        assert st == 201, js
        assert keyed.poll(5000)
        assert not stranger.poll(0) and not booking.poll(0)
        assert not stranger.poll(500) and not booking.poll(100)
    finally:
        for s in (keyed, stranger, booking):
            s.close()
    wait_until(lambda: crm.logs_contain("broker", "connection refused domain=events-out"),
               what="the broker logs the refused subscriber")


def test_a_revoked_key_is_refused_from_the_next_look_at_the_registry():
    name, keys = _system_key(crm.TENANT)
    client = _admitted(keys)
    try:
        out = crm.crmctl(["bus-keys", "revoke", name])
        assert name in out

        def refused():
            rh, _ = client.call("mmi.service", "mmi.service", b"notes", timeout_s=2)
            return rh["status"] == "PERMISSION_DENIED" and "no longer admitted" in rh["message"]

        wait_until(refused, timeout=15, what="the revoked key is refused")
    finally:
        client.close()
    assert name not in crm.crmctl(["bus-keys", "list"])


def _replay(client, after_seq, limit=1000, **header):
    """customers.ReplayEvents: (reply header, [event dicts], last_seq)."""
    body = _field(1, after_seq) + _field(2, limit)
    rh, out = client.call("customers", "customers.ReplayEvents", body, **header)
    f = _parse(out)
    events = []
    for raw in f.get(1, []):
        e = _parse(raw)
        events.append({"seq": e.get(2, [0])[-1], "type": e.get(4, [b""])[-1].decode(),
                       "tenant_id": e.get(5, [b""])[-1].decode(),
                       "payload": e.get(10, [b""])[-1]})
    return rh, events, f.get(2, [0])[-1]


def test_an_outside_system_replays_only_its_tenants_events():
    tenant_b = crm.crmctl(["tenant", "create", unique("Other")]).strip()
    key_b = crm.crmctl(["key", "create", "--tenant", tenant_b, "--role", "admin"]).strip()
    _, keys = _system_key(crm.TENANT, "events:read")
    client = _admitted(keys)
    try:
        rh, _, start = _replay(client, 0, limit=1)
        assert rh["status"] == "OK", rh
        mine = unique("Mine")
        st, _, a = api("POST", "/v1/customers", {"firstName": mine})
        assert st == 201, a
        st, _, b = api("POST", "/v1/customers", {"firstName": unique("Theirs")}, key=key_b)
        assert st == 201, b

        # Asking for tenant B's is refused by the broker.
        rh, _, _ = _replay(client, start, tenant=tenant_b)
        assert rh["status"] == "PERMISSION_DENIED", rh

        def both():
            rh, events, _ = _replay(client, start)
            assert rh["status"] == "OK", rh
            return events if len(events) >= 2 else None

        events = wait_until(both, what="both customers' events")
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(start + 1, start + 1 + len(events))), seqs
        own = [e for e in events if e["type"] != "stream.elided"]
        others = [e for e in events if e["type"] == "stream.elided"]
        assert own and others, events
        assert all(e["tenant_id"] == crm.TENANT for e in own), own
        assert any(mine.encode() in e["payload"] for e in own), own
        assert all(e["tenant_id"] == "" and e["payload"] == b"" for e in others), others
        # A durable reader is not for an outside system.
        rh, _ = client.call("customers", "customers.ReplayEvents",
                            _field(1, start) + _field(3, "booking-reader"))
        assert rh["status"] == "INVALID_ARGUMENT", rh
    finally:
        client.close()


def test_an_import_runs_as_the_exchange_service_for_who_asked():
    """An import's rows are written after its HTTP request was answered: the
    exchange service then speaks as itself (kind SERVICE) in the name of who
    asked, which the audit shows."""
    tenant = crm.crmctl(["tenant", "create", unique("Import")]).strip()
    name = unique("Importer")
    key = crm.crmctl(["key", "create", "--tenant", tenant, "--role", "admin",
                      "--name", name]).strip()
    data = ("firstName,lastName,email\r\nAnna,%s,%s\r\n"
            % (unique("L"), crm.unique_email("imp"))).encode()
    st, _, js = api("POST", "/v1/imports", raw=data, key=key,
                    headers={"Content-Type": "text/csv"})
    assert st == 201, js

    def done():
        st2, _, job = api("GET", "/v1/imports/" + js["id"], key=key)
        assert st2 == 200, job
        return job if job["state"] in ("DONE", "FAILED") else None

    job = wait_until(done, timeout=60, what="the import ends")
    assert job["state"] == "DONE" and int(job.get("created", 0)) == 1, job
    st, _, page = api("GET", "/v1/customers?pageSize=10", key=key)
    assert st == 200 and len(page["customers"]) == 1, page
    st, _, audit = api("GET", "/v1/customers/%s/audit" % page["customers"][0]["id"], key=key)
    assert st == 200, audit
    who = audit["entries"][-1]["principal"]
    assert who["name"] == "import by " + name, who
    # (The audit keeps id, name and role; the kind went over the bus.)
    assert who["role"] == "SERVICE", who
    assert not crm.logs_contain("broker", "request refused key=exchange")


def test_private_content_never_reaches_a_system_key_on_the_bus():
    """A customer's description and a note's body reach no principal without
    a staff role over the bus either: an outside system's key that may read
    customers and notes gets them without, also when it claims to be an
    administrator with private:read."""
    secret = unique("private")
    st, _, c = api("POST", "/v1/customers", {"firstName": unique("Priv"), "description": secret})
    assert st == 201 and c["description"] == secret, c
    st, _, note = api("POST", "/v1/customers/%s/notes" % c["id"], {"body": secret})
    assert st == 201 and note["body"] == secret, note
    _, keys = _system_key(crm.TENANT, scopes="customers:read,notes:read")
    client = _admitted(keys)
    try:
        forged = _principal("admin-1", "Boss", ROLE_ADMIN, KIND_STAFF, scopes=("private:read",))
        for principal in (b"", forged):
            rh, out = client.call("customers", "customers.GetCustomer", _field(1, c["id"]),
                                  tenant=crm.TENANT, principal=principal)
            assert rh["status"] == "OK" and c["id"].encode() in out, rh
            assert secret.encode() not in out, out
            rh, out = client.call("notes", "notes.ListNotes", _field(1, c["id"]),
                                  tenant=crm.TENANT, principal=principal)
            assert rh["status"] == "OK" and note["id"].encode() in out, rh
            assert secret.encode() not in out, out
    finally:
        client.close()


def _worked_example():
    """The Python code blocks of docs/bus.md's "A worked example in Python":
    crmbus.py, its use, crmevents.py."""
    text = open(os.path.join(crm.ROOT, "docs", "bus.md"), encoding="utf-8").read()
    section = text.split("## A worked example in Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 3, "docs/bus.md's worked example has %d Python blocks" % len(blocks)
    return blocks


def test_the_worked_client_in_docs_bus_md_runs_with_curve():
    """docs/bus.md's worked example, as printed there, against the stack: its
    worker serves with a service key of its own, its client calls with
    crmctl's key, and its subscriber follows the customers stream."""
    crmbus, example, crmevents = _worked_example()
    subprocess.run([crm.CRMCTL, "bus-keys", "init", KEYS, "--programs", "pyecho"], check=True,
                   env=crm.ENV, capture_output=True)
    try:
        _admitted(_suite_key("pyecho")).close()
        with tempfile.TemporaryDirectory(prefix="crm-bus-example-") as tmp:
            for name, code in (("crmbus.py", crmbus), ("example.py", example),
                               ("crmevents.py", crmevents)):
                with open(os.path.join(tmp, name), "w", encoding="utf-8") as fh:
                    fh.write(code)
            env = dict(crm.ENV, CRM_DATA_DIR=os.path.dirname(KEYS))
            out = subprocess.run(["/usr/bin/python3", "example.py", BUS], cwd=tmp, env=env,
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            lines = out.stdout.splitlines()
            assert len(lines) == 4, out.stdout
            assert "'status': 'OK'" in lines[0] and lines[0].endswith("b'200')"), lines
            assert "'status': 'OK'" in lines[1] and lines[1].endswith("b'HELLO')"), lines
            assert "'status': 'UNAVAILABLE'" in lines[2], lines
            assert "'status': 'DEADLINE_EXCEEDED'" in lines[3], lines
            # The subscriber: the customers stream from its first event on, in order.
            st, _, c = api("POST", "/v1/customers", {"firstName": unique("Follow")})
            assert st == 201, c
            follow = (
                "import os, sys, zmq\n"
                "from crmbus import load_keys\n"
                "from crmevents import follow\n"
                "keys = os.path.join(os.environ['CRM_DATA_DIR'], 'keys')\n"
                "seen = []\n"
                "def apply(ev):\n"
                "    seen.append(ev)\n"
                "    print(ev['seq'], ev['type'], flush=True)\n"
                "follow(zmq.Context(), sys.argv[1], sys.argv[2], 'customers', 0, apply,\n"
                "       load_keys(os.path.join(keys, 'crmctl.key'), os.path.join(keys, 'broker.pub')),\n"
                "       stop=lambda: any(sys.argv[3].encode() in e['payload'] for e in seen))\n")
            with open(os.path.join(tmp, "follow.py"), "w", encoding="utf-8") as fh:
                fh.write(follow)
            out = subprocess.run(["/usr/bin/python3", "follow.py", BUS, EVENTS_OUT, c["id"]],
                                 cwd=tmp, env=env, capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            seqs = [int(line.split()[0]) for line in out.stdout.splitlines()]
            assert seqs and seqs == list(range(1, len(seqs) + 1)), out.stdout[-2000:]
    finally:
        subprocess.run([crm.CRMCTL, "bus-keys", "revoke", "pyecho", "--dir", KEYS], env=crm.ENV,
                       capture_output=True)


def test_an_outside_systems_replay_carries_no_private_content():
    """An outside system's key with events:read replays its tenant's customer
    events without a customer's description, in the customer and in the
    changes (private:read is the staff roles'); the suite's own keys keep it."""
    _, keys = _system_key(crm.TENANT, "events:read")
    client = _admitted(keys)
    try:
        rh, _, start = _replay(client, 0, limit=1)
        assert rh["status"] == "OK", rh
        secret, later = unique("private"), unique("private")
        st, _, c = api("POST", "/v1/customers", {"firstName": unique("Priv"),
                                                 "description": secret})
        assert st == 201, c
        st, _, c = api("PATCH", "/v1/customers/" + c["id"], {"description": later})
        assert st == 200, c

        def mine():
            rh, events, _ = _replay(client, start)
            assert rh["status"] == "OK", rh
            own = [e for e in events if c["id"].encode() in e["payload"]]
            return own if len(own) >= 2 else None

        own = wait_until(mine, what="the customer's two events")
        for e in own:
            assert secret.encode() not in e["payload"], e
            assert later.encode() not in e["payload"], e
        # crmctl's key (the suite's own) reads them whole.
        ctl = _admitted(_suite_key("crmctl"))
        try:
            rh, body = ctl.call("customers", "customers.ReplayEvents", _field(1, start))
            assert rh["status"] == "OK", rh
            assert secret.encode() in body and later.encode() in body
        finally:
            ctl.close()
    finally:
        client.close()


def test_a_batch_with_text_that_is_not_utf8_keeps_every_event_its_own_customer():
    """notes.IngestEvents from a system key, with an event whose customer id
    is not UTF-8 (the bus does not check text) between two of known people:
    each known person's event goes to that person, and the bad one is not
    taken in as anyone's."""
    name, keys = _system_key(crm.TENANT)
    client = _admitted(keys)
    try:
        people = []
        for _ in range(2):
            ext, email = unique("c"), crm.unique_email("u8")
            rh, out = client.call("notes", "notes.IngestEvent",
                                  _intake_event("booking", unique("ev"), ext, email),
                                  tenant=crm.TENANT, channel="booking")
            assert rh["status"] == "OK", rh
            people.append((ext, email, _parse(out)[1][0].decode()))
        bad = _intake_event("booking", unique("ev"), b"\xff\xfe" + unique("c").encode(),
                            crm.unique_email("u8"))
        events = [_intake_event("booking", unique("ev"), people[0][0], people[0][1]), bad,
                  _intake_event("booking", unique("ev"), people[1][0], people[1][1])]
        rh, out = client.call("notes", "notes.IngestEvents",
                              b"".join(_field(1, e) for e in events), tenant=crm.TENANT,
                              channel="booking")
        assert rh["status"] == "OK", rh
        results = [_parse(r) for r in _parse(out)[1]]
        assert len(results) == 3, results
        status = lambda r: STATUS[_parse(r[1][0]).get(1, [0])[-1]] if 1 in r else "OK"
        cid = lambda r: _parse(r[2][0])[1][0].decode() if 2 in r else None
        assert status(results[0]) == "OK" and cid(results[0]) == people[0][2], results[0]
        assert status(results[2]) == "OK" and cid(results[2]) == people[1][2], results[2]
        assert status(results[1]) != "OK", results[1]
    finally:
        client.close()
