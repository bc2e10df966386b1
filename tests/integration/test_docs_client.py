"""A client of the suite written from README.md and docs/ alone, as an outside
system (a booking system, a web store) would write it.

The bus half follows docs/bus.md step by step: an outside system's key from
`crmctl bus-keys new-system`, a DEALER socket with CURVE, the MDP request and
reply frames, crm.RequestHeader and crm.ReplyHeader, the customers methods,
booking events one at a time and in batches, field violations, idempotency
keys, deadlines and replay of the customers stream. The messages are classes
built at run time from proto/*.proto: protoc-c writes a descriptor set into a
temporary directory and Debian's python3-protobuf makes the classes from it
(docs/bus.md, "A worked example in Python").

The HTTP half reads the OpenAPI document the gateway serves (docs/api.md) and
checks a representative set of operations as a generated client would use
them: the requests sent (query parameters, bodies) against the schemas it
declares (python3-jsonschema). The answers are checked by crm.api() itself,
as every integration test's are (crm.conform()).
"""

import copy
import json
import os
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import zmq
import zmq.utils.monitor
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import crm
from crm import api, unique, unique_email

# ------------------------------------------------------------------ messages

_POOL = None
_CLASSES = {}


def _pool():
    """The descriptor pool of every proto/*.proto, compiled once per run."""
    global _POOL
    if _POOL is not None:
        return _POOL
    proto_dir = os.path.join(crm.ROOT, "proto")
    files = sorted(f for f in os.listdir(proto_dir) if f.endswith(".proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "crm.desc")
        subprocess.run(
            ["protoc-c", "--proto_path=" + proto_dir, "--include_imports",
             "--descriptor_set_out=" + out] + files,
            check=True, capture_output=True, text=True)
        with open(out, "rb") as fh:
            fds = descriptor_pb2.FileDescriptorSet.FromString(fh.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    _POOL = pool
    return pool


def msg(name):
    """The class of message crm.<name>."""
    full = "crm." + name
    if full not in _CLASSES:
        desc = _pool().FindMessageTypeByName(full)
        make = getattr(message_factory, "GetMessageClass", None)
        _CLASSES[full] = make(desc) if make else message_factory.MessageFactory(
            _pool()).GetPrototype(desc)
    return _CLASSES[full]


# The proto services whose methods each bus service answers (docs/bus.md, "Methods").
_PROTO_SERVICES = {
    "customers": ["Customers", "WalletService", "SubscriptionService", "CustomerPrices",
                  "AccessService"],
    "notes": ["Notes", "History", "Files", "Forms", "Rules", "Visits"],
    "search": ["Search"],
}


def method_types(method):
    """(request class, response class) of a bus method such as customers.GetCustomer."""
    service, rpc = method.split(".", 1)
    for proto_service in _PROTO_SERVICES[service]:
        sd = _pool().FindServiceByName("crm." + proto_service)
        md = sd.methods_by_name.get(rpc)
        if md is not None:
            return msg(md.input_type.name), msg(md.output_type.name)
    raise KeyError(method)


STATUS = None


def status_name(number):
    """STATUS_OK -> "OK", and so on, from envelope.proto's enum."""
    global STATUS
    if STATUS is None:
        enum = _pool().FindEnumTypeByName("crm.Status")
        STATUS = {v.number: v.name[len("STATUS_"):] for v in enum.values}
    return STATUS.get(number, str(number))


# ------------------------------------------------------------------ keys and sockets


def bus_endpoint():
    """The broker's TCP request endpoint (README: CRM_BUS_ENDPOINT; the stack's
    own processes use a Unix socket, the broker binds TCP too)."""
    for var in ("CRM_BROKER_BUS_ENDPOINT", "CRM_BUS_ENDPOINT"):
        for member in os.environ.get(var, "").split(","):
            if member.startswith("tcp://"):
                return member
    return "tcp://127.0.0.1:5555"


def parse_key_file(text):
    """{"public", "secret", "broker"} from the pair file `crmctl bus-keys
    new-system` prints (docs/bus.md, "How an outside system gets a key")."""
    keys = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and not words[0].startswith("#"):
            keys[words[0]] = words[1]
    assert set(keys) >= {"public", "secret", "broker"}, text
    for k in ("public", "secret", "broker"):
        assert len(keys[k]) == 40, keys
    return keys


_SYSTEM = {}


def system_key(scopes="customers:read,customers:write,events:publish,events:read"):
    """An outside system's bus key for the default tenant, made once per scope set."""
    if scopes not in _SYSTEM:
        name = unique("docs-client").lower()
        out = crm.crmctl(["bus-keys", "new-system", "--tenant", crm.TENANT, "--name", name,
                          "--scopes", scopes])
        keys = parse_key_file(out)
        admitted_bus(keys).close()
        _SYSTEM[scopes] = (name, keys)
    return _SYSTEM[scopes]


class Bus:
    """An MDP client (docs/bus.md, "Request and reply") on one DEALER socket."""

    def __init__(self, keys, endpoint=None):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        # A refused connection (an unknown key) leaves no peer to queue for:
        # never block the test on a send.
        self.sock.sndtimeo = 2000
        if keys is not None:
            self.sock.curve_serverkey = keys["broker"].encode()
            self.sock.curve_publickey = keys["public"].encode()
            self.sock.curve_secretkey = keys["secret"].encode()
        self.sock.connect(endpoint or bus_endpoint())

    def close(self):
        self.sock.close()

    def refused(self, wait_s):
        """True when the broker refused this socket's CURVE handshake within
        wait_s (libzmq's monitor: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), False when
        the handshake succeeded, None when neither happened."""
        mon = self.sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH
                                           | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        try:
            end = time.monotonic() + wait_s
            while True:
                left = end - time.monotonic()
                if left <= 0 or not mon.poll(int(left * 1000)):
                    return None
                ev = zmq.utils.monitor.recv_monitor_message(mon)
                return ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH
        finally:
            self.sock.disable_monitor()
            mon.close()


    def send(self, service, method, body=b"", timeout_s=5.0, request_id=None, deadline_ms=None,
             **header):
        """Sends one request; returns its request id. body: a message or bytes."""
        request_id = request_id or str(uuid.uuid4())
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        hdr = msg("RequestHeader")(request_id=request_id, method=method,
                                   deadline_unix_ms=deadline_ms, **header)
        if not isinstance(body, bytes):
            body = body.SerializeToString()
        self.sock.send_multipart([b"MDPC02", b"\x01", service.encode(),
                                  hdr.SerializeToString(), body])
        return request_id

    def recv(self, request_id, wait_s):
        """(crm.ReplyHeader, body bytes) of the reply to request_id, or None when
        none came within wait_s. Replies to other requests are dropped."""
        end = time.monotonic() + wait_s
        while True:
            left = end - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return None
            frames = self.sock.recv_multipart()
            assert frames[0] == b"MDPC02" and frames[1] == b"\x04", frames[:2]
            assert len(frames) == 5, "a reply has five frames, got %d" % len(frames)
            hdr = msg("ReplyHeader").FromString(frames[3])
            if hdr.request_id == request_id:
                return hdr, frames[4]

    def call(self, method, request=None, timeout_s=5.0, **kw):
        """Calls a method and waits for its answer: (status name, ReplyHeader,
        response message or None). The broker answers by the deadline, so no
        answer a second past it is a failure."""
        req_cls, resp_cls = method_types(method)
        body = request if request is not None else req_cls()
        assert isinstance(body, req_cls), (method, type(body))
        rid = self.send(method.split(".")[0], method, body, timeout_s=timeout_s, **kw)
        got = self.recv(rid, max(timeout_s, 0) + 1.0)
        assert got is not None, "no answer to %s within its deadline" % method
        hdr, raw = got
        assert hdr.request_id == rid
        status = status_name(hdr.status)
        if status != "OK":
            assert raw == b"", "a reply that is not OK has an empty body"
            return status, hdr, None
        return status, hdr, resp_cls.FromString(raw)


def admitted_bus(keys, timeout=15):
    """A client with a key just made: the broker admits it once it has read its
    registry again (about once a second), and a connection it refused before
    that is not tried again, so each attempt is a new socket (docs/bus.md,
    "How an outside system gets a key")."""
    held = []

    def answered():
        bus = Bus(keys)
        try:
            rid = bus.send("mmi.service", "mmi.service", b"customers", timeout_s=1.0)
            got = bus.recv(rid, 1.5)
        except zmq.Again:  # refused before the send: no peer left to send to
            got = None
        if got is None:
            bus.close()
            return False
        held.append(bus)
        return True

    crm.wait_until(answered, timeout=timeout, interval=0.2, what="the broker admits the key")
    return held[0]


def _violations(hdr):
    return {(d.field, d.reason) for d in hdr.details}


def _customer(**fields):
    return msg("CreateCustomerRequest")(customer=msg("Customer")(**fields))


# ------------------------------------------------------------------ the bus


def test_bus_connects_with_curve_and_asks_mmi():
    _, keys = system_key()
    bus = Bus(keys)
    try:
        rid = bus.send("mmi.service", "mmi.service", b"customers")
        hdr, body = bus.recv(rid, 5.0)
        assert status_name(hdr.status) == "OK" and body == b"200", (hdr, body)
        rid = bus.send("mmi.service", "mmi.service", b"nosuch-service")
        hdr, body = bus.recv(rid, 5.0)
        assert body == b"404", body
        # The key speaks for the system, whatever principal the header claims.
        st, hdr, caller = bus.call("customers.WhoAmI", principal=msg("Principal")(
            id="someone", name="someone", role=1))
        assert st == "OK", hdr
        assert caller.tenant_id == crm.TENANT
        assert caller.kind == _pool().FindEnumTypeByName(
            "crm.PrincipalKind").values_by_name["PRINCIPAL_KIND_SYSTEM"].number
        assert set(caller.scopes) == {"customers:read", "customers:write", "events:publish",
                                      "events:read"}, caller
    finally:
        bus.close()


def test_bus_refuses_unknown_and_plain_clients():
    """An unknown key and a client without CURVE get no answer at all."""
    pub, sec = zmq.curve_keypair()
    _, known = system_key()
    stranger = {"broker": known["broker"], "public": pub.decode(), "secret": sec.decode()}
    bus = Bus(stranger)
    try:
        assert bus.refused(5.0) is True, "the monitor sees the refusal"
    finally:
        bus.close()
    for keys in (stranger, None):
        bus = Bus(keys)
        try:
            try:
                rid = bus.send("mmi.service", "mmi.service", b"customers", timeout_s=1.0)
            except zmq.Again:
                continue  # refused before the send: nothing to wait for
            assert bus.recv(rid, 2.0) is None
        finally:
            bus.close()


def test_bus_creates_and_reads_a_customer():
    _, keys = system_key()
    bus = Bus(keys)
    email = unique_email("bus")
    try:
        st, hdr, created = bus.call(
            "customers.CreateCustomer",
            _customer(first_name="Łucja", last_name="Bus", email=email, phone="+48 600 100 200"),
            idempotency_key=unique("create"), channel="booking")
        assert st == "OK", hdr
        assert hdr.message == "" and not hdr.details
        assert len(created.id) == 36 and created.etag == "1"
        assert created.phone == "+48600100200"
        source = _pool().FindEnumTypeByName("crm.Source")
        assert source.values_by_number[created.source].name.endswith("BOOKING"), created.source

        st, hdr, got = bus.call("customers.GetCustomer", msg("GetCustomerRequest")(id=created.id))
        assert st == "OK", hdr
        assert got.first_name == "Łucja" and got.email == email and got.etag == "1"

        # The same over HTTP, with the administrator key of the same tenant.
        code, _, js = api("GET", "/v1/customers/" + created.id)
        assert code == 200 and js["email"] == email, js

        # Another tenant than the key's is refused by the broker.
        st, hdr, _ = bus.call("customers.GetCustomer", msg("GetCustomerRequest")(id=created.id),
                              tenant_id=str(uuid.uuid4()))
        assert st == "PERMISSION_DENIED" and "another tenant" in hdr.message, hdr
        # A method outside the key's scopes is refused by the service.
        st, hdr, _ = bus.call("customers.UpdateSettings")
        assert st == "PERMISSION_DENIED" and "(settings)" in hdr.message, hdr
    finally:
        bus.close()


def test_bus_error_replies_name_the_fields():
    _, keys = system_key()
    bus = Bus(keys)
    try:
        st, hdr, _ = bus.call("customers.CreateCustomer",
                              _customer(first_name="x" * 101, email="not-an-address"))
        assert st == "INVALID_ARGUMENT", hdr
        assert hdr.message == "2 invalid fields", hdr.message
        assert _violations(hdr) == {("firstName", "TOO_LONG"), ("email", "INVALID_FORMAT")}
        assert all(d.description for d in hdr.details)

        st, hdr, _ = bus.call("customers.CreateCustomer", _customer(last_name="Errors", email="not-an-address"))
        assert st == "INVALID_ARGUMENT" and hdr.message == "invalid email", hdr

        email = unique_email("dup")
        st, hdr, first = bus.call("customers.CreateCustomer",
                                 _customer(last_name="Dup", email=email))
        assert st == "OK", hdr
        st, hdr, _ = bus.call("customers.CreateCustomer",
                              _customer(last_name="Dup", email=email.upper()))
        assert st == "ALREADY_EXISTS", hdr
        assert hdr.message == "email already belongs to another record", hdr.message
        assert [(d.field, d.reason, d.resource_id) for d in hdr.details] == [
            ("email", "DUPLICATE", first.id)]

        for cid in (str(uuid.uuid4()), "not-a-uuid"):
            st, hdr, _ = bus.call("customers.GetCustomer", msg("GetCustomerRequest")(id=cid))
            assert st == "NOT_FOUND", hdr

        rid = bus.send("customers", "customers.NoSuchMethod", b"")
        hdr, body = bus.recv(rid, 6.0)
        assert status_name(hdr.status) == "INVALID_ARGUMENT" and body == b""
        assert hdr.message == "unknown method customers.NoSuchMethod", hdr.message

        rid = bus.send("customers", "customers.GetCustomer", b"\xff\xff\xff")
        hdr, _ = bus.recv(rid, 6.0)
        assert status_name(hdr.status) == "INVALID_ARGUMENT"
        assert hdr.message == "request body does not decode as crm.GetCustomerRequest", hdr
    finally:
        bus.close()


def test_bus_retry_with_the_same_idempotency_key():
    """A write whose answer was lost is sent again, the very same bytes, on a
    new socket: it answers the first reply and has no second effect."""
    _, keys = system_key()
    email = unique_email("retry")
    key = unique("idem")
    request = _customer(first_name="Retry", email=email)
    rid = str(uuid.uuid4())
    lost = Bus(keys)
    try:
        lost.send("customers", "customers.CreateCustomer", request, request_id=rid,
                  idempotency_key=key)
        first = lost.recv(rid, 6.0)  # as if the connection broke before the answer came
        assert first is not None and status_name(first[0].status) == "OK", first
    finally:
        lost.close()
    first_customer = msg("Customer").FromString(first[1])

    bus = Bus(keys)
    try:
        st, hdr, again = bus.call("customers.CreateCustomer", request, request_id=rid,
                                  idempotency_key=key)
        assert st == "OK", hdr
        assert again == first_customer
        # A new request id with the same key and bytes: the same stored reply.
        st, hdr, third = bus.call("customers.CreateCustomer", request, idempotency_key=key)
        assert st == "OK" and third.id == first_customer.id
        # The same key with another body is refused, and changes nothing.
        st, hdr, _ = bus.call("customers.CreateCustomer", _customer(last_name="Other", email=unique_email("o")),
                              idempotency_key=key)
        assert st == "INVALID_ARGUMENT", hdr
        assert hdr.message == ("idempotency key already used for a different request; "
                               "use a new key"), hdr.message
        assert not hdr.details
        # One customer holds the address.
        st, hdr, _ = bus.call("customers.CreateCustomer", request)
        assert st == "ALREADY_EXISTS" and hdr.details[0].resource_id == first_customer.id, hdr
    finally:
        bus.close()


def test_bus_deadlines_and_no_worker():
    _, keys = system_key()
    bus = Bus(keys)
    try:
        st, hdr, _ = bus.call("customers.GetCustomer", msg("GetCustomerRequest")(id="x"),
                              deadline_ms=int(time.time() * 1000) - 1000)
        assert st == "DEADLINE_EXCEEDED", hdr
        st, hdr, _ = bus.call("customers.GetCustomer", deadline_ms=-5)
        assert st == "INVALID_ARGUMENT", hdr
        # 0: the broker's own 30 s.
        st, hdr, _ = bus.call("customers.GetCustomer", msg("GetCustomerRequest")(id="x"),
                              deadline_ms=0)
        assert st == "NOT_FOUND", hdr
        t0 = time.monotonic()
        rid = bus.send("nosuch", "nosuch.Get", b"", timeout_s=0.5)
        hdr, _ = bus.recv(rid, 3.0)
        assert status_name(hdr.status) == "UNAVAILABLE", hdr
        assert hdr.message == "no worker for service nosuch", hdr.message
        assert 0.4 <= time.monotonic() - t0 < 2.5
    finally:
        bus.close()


def _booking_event(source, event_id, external_id, email, booking_id, **extra):
    ev = msg("IntakeEvent")(
        source=source, event_id=event_id, type="booking.created",
        occurred_at="2026-11-20T10:00:00Z",
        customer=msg("IntakeCustomer")(external_id=external_id, first_name="Anna",
                                       last_name="Bookings", email=email),
        booking=msg("IntakeBooking")(id=booking_id, service="Haircut", staff="Eva",
                                     starts_at="2026-11-27T10:00:00Z"))
    for k, v in extra.items():
        setattr(ev, k, v)
    return ev


def test_bus_publishes_a_booking_event():
    _, keys = system_key()
    bus = Bus(keys)
    email = unique_email("anna")
    ext = unique("c")
    ev = _booking_event("booking", unique("bk-1"), ext, email, unique("bk"))
    try:
        st, hdr, resp = bus.call("notes.IngestEvent", ev, channel="booking")
        assert st == "OK", hdr
        assert resp.customer_id and not resp.duplicate
        # Sent again after a lost answer: acknowledged, no second effect.
        st, hdr, again = bus.call("notes.IngestEvent", ev, channel="booking")
        assert st == "OK" and again.duplicate and again.customer_id == resp.customer_id
        # The same id with other content is refused for good.
        changed = copy.deepcopy(ev)
        changed.booking.staff = "Olga"
        st, hdr, _ = bus.call("notes.IngestEvent", changed, channel="booking")
        assert st == "INVALID_ARGUMENT", hdr
        assert _violations(hdr) == {("eventId", "REUSED")}
        assert hdr.message == "eventId already used for a different event; use a new one"

        st, hdr, cust = bus.call("customers.GetCustomer",
                                 msg("GetCustomerRequest")(id=resp.customer_id))
        assert st == "OK" and cust.email == email and cust.first_name == "Anna", hdr
        assert [(x.system, x.id) for x in cust.external_ids] == [("booking", ext)]

        # A bad event names the event's fields: its own first, then, when
        # those pass, the customer's.
        bad = _booking_event("booking", unique("bk-2"), unique("c"), "nope", unique("bk"))
        bad.occurred_at = "yesterday"
        st, hdr, _ = bus.call("notes.IngestEvent", bad, channel="booking")
        assert st == "INVALID_ARGUMENT", hdr
        assert _violations(hdr) == {("occurredAt", "INVALID_FORMAT")}, hdr
        bad.occurred_at = "2026-11-20T11:00:00+01:00"
        st, hdr, _ = bus.call("notes.IngestEvent", bad, channel="booking")
        assert st == "INVALID_ARGUMENT", hdr
        assert _violations(hdr) == {("customer.email", "INVALID_FORMAT")}, hdr
    finally:
        bus.close()


def test_bus_publishes_a_batch_of_events():
    _, keys = system_key()
    bus = Bus(keys)
    a, b = unique_email("ba"), unique_email("bb")
    good = _booking_event("store", unique("e"), unique("c"), a, unique("bk"))
    other = _booking_event("booking", unique("e"), unique("c"), b, unique("bk"))
    bad = _booking_event("booking", unique("e"), unique("c"), b, unique("bk"))
    bad.booking.ends_at = "2026-11-26T10:00:00Z"  # before startsAt
    req = msg("IngestEventsRequest")(events=[good, other, bad, good])
    try:
        st, hdr, resp = bus.call("notes.IngestEvents", req, channel="store", timeout_s=15)
        assert st == "OK", hdr
        assert len(resp.results) == 4
        sts = [status_name(r.header.status) for r in resp.results]
        assert sts == ["OK", "OK", "INVALID_ARGUMENT", "OK"], sts
        assert not resp.results[0].response.duplicate
        assert resp.results[3].response.duplicate
        assert resp.results[3].response.customer_id == resp.results[0].response.customer_id
        assert _violations(resp.results[2].header) == {("booking.endsAt", "OUT_OF_RANGE")}
        assert resp.results[2].header.message == "invalid booking.endsAt"

        # The whole batch again: every event a duplicate, the same customers.
        st, hdr, again = bus.call("notes.IngestEvents", req, channel="store", timeout_s=15)
        assert st == "OK"
        assert [r.response.duplicate for r in again.results[:2]] == [True, True]

        st, hdr, _ = bus.call("notes.IngestEvents", msg("IngestEventsRequest")())
        assert st == "INVALID_ARGUMENT" and _violations(hdr) == {("events", "REQUIRED")}
        many = msg("IngestEventsRequest")(events=[good] * 101)
        st, hdr, _ = bus.call("notes.IngestEvents", many)
        assert st == "INVALID_ARGUMENT" and _violations(hdr) == {("events", "TOO_MANY")}
    finally:
        bus.close()


def test_bus_replays_the_tenants_customer_events():
    """An outside system with events:read follows its tenant's customers
    stream by replay (docs/bus.md, "Replay")."""
    _, keys = system_key()
    bus = Bus(keys)
    try:
        st, hdr, where = bus.call("customers.ReplayEvents",
                                  msg("ReplayEventsRequest")(after_seq=2 ** 63 - 1))
        assert st == "OK", hdr
        assert not where.events
        start = where.last_seq
        st, hdr, created = bus.call("customers.CreateCustomer",
                                    _customer(first_name="Replay", email=unique_email("rp"),
                                              description="private"))
        assert st == "OK", hdr

        def find():
            last, found = start, None
            while True:
                st, hdr, page = bus.call("customers.ReplayEvents",
                                         msg("ReplayEventsRequest")(after_seq=last, limit=50))
                assert st == "OK", hdr
                for ev in page.events:
                    assert ev.seq == last + 1, (ev.seq, last)
                    last = ev.seq
                    if ev.type == "stream.elided":
                        continue
                    assert ev.tenant_id == crm.TENANT
                    if ev.type == "customer.created":
                        body = msg("CustomerEvent").FromString(ev.payload)
                        if body.customer.id == created.id:
                            found = (ev, body)
                if last >= page.last_seq or not page.events:
                    return found

        ev, body = crm.wait_until(find, timeout=20, what="the customer.created event")
        assert body.customer.first_name == "Replay"
        assert body.customer.description == "", "no private content for an outside system"
        st, hdr, _ = bus.call("customers.ReplayEvents", msg("ReplayEventsRequest")(reader="mine"))
        assert st == "INVALID_ARGUMENT" and _violations(hdr) == {("reader", "NOT_ALLOWED")}
    finally:
        bus.close()


# ------------------------------------------------------------------ HTTP against the OpenAPI document
#
# crm.api() checks every answer against the document (crm.conform()); here a
# client's side too: the request it sends is one the document describes.


def checked(method, path, template, body=None, headers=None, key=crm.DEFAULT, schema_body=True):
    """Checks the request against the operation the document declares for it
    (its query parameters, and the body against its request schema), then
    sends it (crm.api() checks the answer); returns (status, headers, body).
    schema_body=False: a body wrong on purpose, in a way the request schema
    already refuses."""
    assert crm.operation(method, urllib.parse.urlsplit(path).path)[0] == template, (
        method, path, template)
    op = crm.openapi()["paths"][template][method.lower()]
    # Every query parameter sent is one the operation declares, with a word
    # on what it takes where its type does not say it (a string).
    query = urllib.parse.urlsplit(path).query
    params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    for name, _ in urllib.parse.parse_qsl(query):
        assert name in params, "%s %s: no query parameter %s" % (method, template, name)
        if params[name]["schema"].get("type") == "string":
            assert params[name].get("description"), "%s %s: %s undescribed" % (
                method, template, name)
    if body is not None and schema_body:
        crm.validate(body, crm.json_schema(crm.deref(op["requestBody"])), False,
                     "the request body of %s %s" % (method, template))
    st, hdr, js = api(method, path, body, headers=headers, key=key)
    if st >= 400:
        assert js["error"]["message"], js
    return st, hdr, js


def test_http_customers_match_the_openapi_document():
    email = unique_email("oa")
    name = unique("Openapi")
    new = {"firstName": "Zoë", "lastName": name, "email": email, "phone": "+48601234567",
           "tags": ["vip"], "addresses": [{"kind": "BILLING", "line1": "ul. Długa 5",
                                           "postalCode": "00-001", "city": "Warszawa",
                                           "country": "PL"}]}
    idem = {"Idempotency-Key": unique("oa")}
    st, hdr, c = checked("POST", "/v1/customers", "/v1/customers", new, headers=idem)
    assert st == 201 and hdr["Location"] == "/v1/customers/" + c["id"], hdr
    assert hdr["ETag"] == '"1"'
    # A retry with the same key and body: the first answer again, no second customer.
    st, hdr, again = checked("POST", "/v1/customers", "/v1/customers", new, headers=idem)
    assert st == 201 and again == c, again
    st, hdr, err = checked("POST", "/v1/customers", "/v1/customers", dict(new, salesAgent="X"),
                           headers=idem)
    assert st == 400 and "idempotency key" in err["error"]["message"], err
    cid = c["id"]
    tmpl = "/v1/customers/{id}"

    st, hdr, got = checked("GET", "/v1/customers/" + cid, tmpl)
    assert st == 200 and got == c

    st, hdr, changed = checked("PATCH", "/v1/customers/" + cid, tmpl, {"salesAgent": "Eva"},
                               headers={"If-Match": '"1"'})
    assert st == 200 and changed["etag"] == "2" and hdr["ETag"] == '"2"', changed
    st, hdr, err = checked("PATCH", "/v1/customers/" + cid, tmpl, {"salesAgent": "Olga"},
                           headers={"If-Match": '"1"'})
    assert st == 412, err

    st, hdr, page = checked("GET", "/v1/customers?pageSize=2&orderBy=createdAt%20desc",
                            "/v1/customers")
    assert st == 200 and len(page["customers"]) <= 2 and page["totalSize"] >= 1, page

    def found():
        st, hdr, res = checked("GET", crm.q("/v1/customers:search", q=name,
                                                   consistentWith=cid + ":2"),
                               "/v1/customers:search")
        assert st == 200, res
        return res if any(r["id"] == cid for r in res["customers"]) else None

    crm.wait_until(found, timeout=10, what="the customer in search")

    st, hdr, err = checked("POST", "/v1/customers", "/v1/customers",
                           {"lastName": name, "email": "not-an-address"})
    assert st == 400 and [(d["field"], d["reason"]) for d in err["error"]["details"]] == [
        ("email", "INVALID_FORMAT")], err
    assert err["error"]["message"] == "invalid email", err
    st, hdr, err = checked("POST", "/v1/customers", "/v1/customers",
                           {"lastName": name, "email": email})
    assert st == 409 and err["error"]["details"][0]["resourceId"] == cid, err
    assert err["error"]["message"] == "email already belongs to another record", err
    st, hdr, err = checked("POST", "/v1/customers", "/v1/customers",
                           {"lastName": name, "fristName": "Typo"}, schema_body=False)
    assert st == 400 and err["error"]["message"] == "fristName: unknown field", err
    st, hdr, err = checked("GET", "/v1/customers/" + str(uuid.uuid4()), tmpl)
    assert st == 404, err
    st, hdr, err = checked("GET", "/v1/customers/" + cid, tmpl, key=None)
    assert st == 401, err
    st, hdr, err = api("POST", "/v1/customers", raw=json.dumps({"lastName": name}),
                       headers={"Content-Type": "text/plain"})
    # crm.api() checked the 415 against the operation's listing, and the 405
    # (and its Allow) against the Error schema and the path's methods.
    assert st == 415 and err["error"]["status"] == "INVALID_ARGUMENT", err
    st, hdr, err = api("PUT", "/v1/customers/" + cid)
    assert st == 405 and err["error"]["status"] == "UNIMPLEMENTED", err
    assert set(hdr["Allow"].replace(" ", "").split(",")) >= {"GET", "PATCH", "DELETE"}, hdr
    st, hdr, err = checked("DELETE", "/v1/customers/" + cid, tmpl, headers={"If-Match": '"1"'})
    assert st == 412, err
    st, hdr, _ = checked("DELETE", "/v1/customers/" + cid, tmpl, headers={"If-Match": '"2"'})
    assert st == 204


def test_http_events_match_the_openapi_document():
    email = unique_email("oe")
    one = {"source": "booking", "eventId": unique("bk"), "type": "booking.created",
           "occurredAt": "2026-11-20T10:00:00Z",
           "customer": {"externalId": unique("c"), "firstName": "Anna", "email": email},
           "booking": {"id": unique("bk"), "service": "Haircut", "startsAt":
                       "2026-11-27T10:00:00Z"}}
    st, hdr, res = checked("POST", "/v1/events", "/v1/events", one)
    assert st == 202 and res["customerId"] and res["duplicate"] is False, res
    st, hdr, again = checked("POST", "/v1/events", "/v1/events", one)
    assert st == 202 and again == dict(res, duplicate=True), again

    bad = dict(one, eventId=unique("bk"), occurredAt="yesterday")
    st, hdr, res = checked("POST", "/v1/events:batch", "/v1/events:batch",
                           {"events": [one, bad]})
    assert st == 200, res
    first, second = res["results"]
    assert first["response"]["duplicate"] is True and first["header"]["status"] == "OK", first
    assert second["header"]["status"] == "INVALID_ARGUMENT", second
    assert [(d["field"], d["reason"]) for d in second["header"]["details"]] == [
        ("occurredAt", "INVALID_FORMAT")], second
    st, hdr, err = checked("POST", "/v1/events:batch", "/v1/events:batch", {"events": []})
    assert st == 400 and err["error"]["details"][0]["field"] == "events", err
    st, hdr, err = checked("POST", "/v1/events", "/v1/events", bad)
    assert st == 400 and err["error"]["details"][0]["field"] == "occurredAt", err


def test_bus_updates_with_an_etag_and_searches():
    _, keys = system_key()
    bus = Bus(keys)
    name = unique("Etag")
    try:
        st, hdr, c = bus.call("customers.CreateCustomer",
                              _customer(last_name=name, email=unique_email("et")))
        assert st == "OK", hdr
        upd = msg("UpdateCustomerRequest")
        st, hdr, c2 = bus.call("customers.UpdateCustomer", upd(
            id=c.id, etag="1", update_mask=["salesAgent"],
            customer=msg("Customer")(sales_agent="Eva", first_name="ignored")))
        assert st == "OK", hdr
        assert c2.etag == "2" and c2.sales_agent == "Eva" and c2.first_name == "", c2
        st, hdr, _ = bus.call("customers.UpdateCustomer", upd(
            id=c.id, etag="1", update_mask=["salesAgent"],
            customer=msg("Customer")(sales_agent="Olga")))
        assert st == "FAILED_PRECONDITION", hdr
        assert hdr.message == "customer %s changed since it was read (etag 1, now 2)" % c.id, hdr
        st, hdr, _ = bus.call("customers.UpdateCustomer", upd(
            id=c.id, update_mask=["nickname"], customer=msg("Customer")()))
        assert st == "INVALID_ARGUMENT" and _violations(hdr) == {("nickname", "UNKNOWN_FIELD")}

        search = msg("SearchCustomersRequest")
        st, hdr, res = bus.call("search.SearchCustomers", search(
            q=name, consistent_with=["%s:%s" % (c.id, c2.etag)]))
        assert st == "OK", hdr
        assert [x.id for x in res.customers] == [c.id] and res.served_by, res
        st, hdr, _ = bus.call("search.SearchCustomers", search(q="x" * 201))
        assert st == "INVALID_ARGUMENT" and _violations(hdr) == {("q", "TOO_LONG")}, hdr
    finally:
        bus.close()
    # A key without customers:read may not search.
    _, publish_only = system_key("events:publish")
    bus = Bus(publish_only)
    try:
        st, hdr, _ = bus.call("search.SearchCustomers", msg("SearchCustomersRequest")(q="anna"))
        assert st == "PERMISSION_DENIED" and "(customers:read)" in hdr.message, hdr
    finally:
        bus.close()
