"""Helpers for the integration tests (Python 3 standard library only).

tests/integration/run.sh starts the stack and exports where it is:
CRM_TEST_URL, CRM_TEST_API_KEY (the administrator key of the default tenant),
CRM_TEST_BIN (the directory with crmctl), CRM_TEST_SUPERVISOR_CONF,
CRM_TEST_ROOT, plus the suite's own CRM_DATA_DIR, CRM_DATABASE_URL and bus
endpoints. Each test creates its own uniquely named data (unique()), so tests
never depend on their order. The services log every handled request (at info,
and more at debug, the tests' level), which served_by_copy() and
logs_contain() rely on.

    import crm
    from crm import api, unique, wait_until
    st, hdr, js = api("POST", "/v1/customers", {"firstName": unique("Ann")})
    assert st == 201, js
    tenant = crm.crmctl(["tenant", "create", unique("Salon")]).strip()
"""

import configparser
import contextlib
import email
import email.policy
import glob
import http.client
import itertools
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
import xmlrpc.client

ROOT = os.environ.get(
    "CRM_TEST_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
URL = os.environ.get("CRM_TEST_URL", "http://127.0.0.1:8080").rstrip("/")
API_KEY = os.environ.get("CRM_TEST_API_KEY", "")
KEY = API_KEY
BIN = os.environ.get("CRM_TEST_BIN", os.path.join(ROOT, "build", "bin"))
CRMCTL = os.path.join(BIN, "crmctl")
DATA_DIR = os.environ.get("CRM_DATA_DIR", os.path.join(ROOT, "var"))
LOG_DIR = os.path.join(DATA_DIR, "log")
SUPERVISOR_CONF = os.environ.get(
    "CRM_TEST_SUPERVISOR_CONF", os.path.join(DATA_DIR, "supervisord.conf")
)
DATABASE_URL = os.environ.get("CRM_DATABASE_URL", "")
# The environment for subprocesses (crmctl and friends): the stack's settings.
ENV = dict(os.environ)
# The default tenant (crmctl bootstrap creates it; the administrator key belongs to it).
TENANT = "00000000-0000-4000-8000-000000000001"
PSQL = "/usr/lib/postgresql/15/bin/psql"

# The marker for "use the administrator key" in api(); key=None sends none.
DEFAULT = object()


class Headers(dict):
    """Response headers; lookups ignore case (keys are stored lower-case)."""

    def __init__(self, items=()):
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, k):
        return super().__getitem__(k.lower())

    def __contains__(self, k):
        return super().__contains__(k.lower())

    def get(self, k, default=None):
        return super().get(k.lower(), default)


def api(method, path, body=None, headers=None, key=DEFAULT, raw=None, timeout=30, check=True):
    """Sends one HTTP request to the gateway (redirects are not followed).

    body: a JSON value to send (Content-Type: application/json).
    raw: bytes or str to send as they are (set Content-Type in headers).
    key: an API key; DEFAULT is the administrator's, None sends no
    Authorization header.
    Returns (status, headers, body): the body parsed when the response is
    JSON, else the bytes (b"" when empty). A server that answers early (413)
    and closes while the body is still being sent still yields its answer.
    Every answer is checked against the OpenAPI document the gateway serves
    (conform(); an AssertionError names the route, status and JSON path of a
    mismatch). check=False skips that, for the few answers the document
    cannot describe; say why at the call.
    """
    url = urllib.parse.urlsplit(path if path.startswith("http") else URL + path)
    target = url.path or "/"
    if url.query:
        target += "?" + url.query
    # Spaces and non-ASCII text in a test's path or query are escaped here
    # (UTF-8); what is already escaped and the URL's delimiters stay.
    target = urllib.parse.quote(target, safe="/?&=:;,+@!$'()*[]~%")
    hdrs = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    elif raw is not None:
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
        hdrs["Content-Type"] = "application/octet-stream"
    if key is DEFAULT:
        key = API_KEY
    if key:
        hdrs["Authorization"] = "Bearer " + key
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
    try:
        try:
            conn.request(method.upper(), target, body=data, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the answer may be waiting in the socket
        resp = conn.getresponse()
        status = resp.status
        rh = Headers(resp.getheaders())
        payload = resp.read()
    finally:
        conn.close()
    ctype = rh.get("content-type", "")
    result = (status, rh, payload)
    if payload and "json" in ctype:
        try:
            result = (status, rh, json.loads(payload.decode("utf-8")))
        except ValueError:
            pass
    if check:
        conform(method, url.path or "/", result)
    return result


def q(path, **params):
    """Adds a query string: q("/v1/customers", pageSize=10) (None values skipped)."""
    params = {k: v for k, v in params.items() if v is not None}
    if not params:
        return path
    return path + ("&" if "?" in path else "?") + urllib.parse.urlencode(params)


# ------------------------------------------------------------------ the OpenAPI document
#
# Every answer api() gets is checked against the document the gateway serves
# (docs/api.md): the status is one the operation lists, the Content-Type the
# one it documents, and a JSON body validates against the schema for that
# status, strictly (docs/api.md, "JSON": responses contain every field, so
# every property is required, and none the document does not name may be
# there). An answer to a request off the document (no such path, a method the
# path does not take) must still be the documented Error.

_DOC_LOCK = threading.Lock()
_DOC = {}
_VALIDATORS = {}

# The errors an operation lists by code when it can get them (the rest, 5xx,
# fall to its "default"): an answer with one of these codes that its operation
# does not list is a drift.
_LISTED_ERRORS = {400, 401, 403, 404, 409, 410, 412, 413, 415, 429}

# docs/api.md, "Errors": the status name that goes with each HTTP code.
ERROR_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 405: "UNIMPLEMENTED", 409: "ALREADY_EXISTS", 410: "GONE",
                412: "FAILED_PRECONDITION", 413: "RESOURCE_EXHAUSTED", 415: "INVALID_ARGUMENT",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
                504: "DEADLINE_EXCEEDED"}


def _openable(schema, strict):
    """The OpenAPI 3.0 schema as JSON Schema: `nullable: true` admits null.
    With strict, an object schema with properties requires every one of them
    (unless it says which it requires) and admits no other."""
    if isinstance(schema, list):
        return [_openable(s, strict) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _openable(v, strict) for k, v in schema.items() if k != "nullable"}
    if strict and isinstance(out.get("properties"), dict) and out.get("type") == "object":
        out.setdefault("required", sorted(out["properties"]))
        out.setdefault("additionalProperties", False)
    if schema.get("nullable"):
        return {"anyOf": [{"type": "null"}, out]}
    return out


def openapi():
    """The document the gateway serves (GET /v1/openapi.json, no key), fetched
    once per test run."""
    with _DOC_LOCK:
        if not _DOC:
            st, _, doc = api("GET", "/v1/openapi.json", key=None, check=False)
            assert st == 200 and isinstance(doc, dict), (st, doc)
            assert doc["openapi"].startswith("3.0"), doc["openapi"]
            _DOC["doc"] = doc
            _DOC[True] = _openable(doc["components"], True)
            _DOC[False] = _openable(doc["components"], False)
        return _DOC["doc"]


def deref(obj):
    """obj, or what its $ref ("#/components/...") points to in the document."""
    doc = openapi()
    while "$ref" in obj:
        node = doc
        for part in obj["$ref"][2:].split("/"):
            node = node[part]
        obj = node
    return obj


def json_schema(holder):
    """The application/json schema of a request body or response."""
    content = holder.get("content") or {}
    media = [m for m in content if m.split(";")[0].strip() == "application/json"]
    assert media, "no application/json content in %r" % list(content)
    return content[media[0]]["schema"]


def _validator(cache_key, schema, strict):
    v = _VALIDATORS.get(cache_key)
    if v is None:
        import jsonschema  # python3-jsonschema; only the tests need it

        openapi()
        # The document's $refs ("#/components/schemas/X") resolve inside this one.
        root = {"allOf": [_openable(schema, strict)], "components": _DOC[strict]}
        v = jsonschema.Draft7Validator(root)
        _VALIDATORS[cache_key] = v
    return v


def validate(value, schema, strict, what, cache_key=None):
    """Checks value against an OpenAPI schema of the document (strict: as a
    response, _openable); raises AssertionError naming what and the JSON path
    of each problem. cache_key keeps the compiled schema for the next call."""
    v = _validator(cache_key, schema, strict) if cache_key else _validator(
        ("adhoc", json.dumps(schema, sort_keys=True), strict), schema, strict)
    errors = sorted(v.iter_errors(value), key=lambda e: list(e.absolute_path))
    assert not errors, "%s disagrees with the OpenAPI document:\n%s" % (
        what, "\n".join("  at /%s: %s" % ("/".join(map(str, e.absolute_path)),
                                          e.message[:300]) for e in errors[:10]))


def _fits(template, path):
    """True when path has the shape of the document's path template, as the
    gateway matches them (gateway_routes_match): a {param} takes one segment,
    with the template's ":verb" after it."""
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    want, got = template.split("/"), path.split("/")
    if len(want) != len(got):
        return False
    for w, g in zip(want, got):
        if w.startswith("{") and "}" in w:
            verb = w[w.index("}") + 1:]
            if len(g) <= len(verb) or not g.endswith(verb):
                return False
        elif w != g:
            return False
    return True


def operation(method, path):
    """(template, operation) of the document that the gateway answers method
    on path with; (None, allowed methods) when only other methods fit the path;
    (None, None) when no path template fits."""
    doc = openapi()
    want = "get" if method.lower() == "head" else method.lower()
    allowed = set()
    for template, item in doc["paths"].items():
        if not _fits(template, path):
            continue
        if want in item:
            return template, item[want]
        allowed.update(m.upper() for m in item if m != "parameters")
    return None, (allowed or None)


def _media(value):
    """A media type with its parameters, normalised: "application/json;charset=utf-8"."""
    parts = [p.strip().lower() for p in value.split(";")]
    return ";".join(p.replace(" ", "") for p in parts if p)


def _check_error(what, st, js, hdr):
    media = [_media(m) for m in deref({"$ref": "#/components/responses/Error"})["content"]]
    assert _media(hdr.get("Content-Type", "")) in media, (
        "%s answered %d with Content-Type %r, not the documented Error's %s"
        % (what, st, hdr.get("Content-Type"), " or ".join(media)))
    validate(js, openapi()["components"]["schemas"]["Error"], True,
             "the %d answer of %s" % (st, what), cache_key=("Error",))
    err = js["error"]
    assert err["code"] == st, "%s answered %d: at /error/code: %r" % (what, st, err["code"])
    if st in ERROR_STATUS:
        assert err["status"] == ERROR_STATUS[st], "%s answered %d: at /error/status: %r, " \
            "docs/api.md says %s" % (what, st, err["status"], ERROR_STATUS[st])


def conform(method, path, answer):
    """Checks one answer (status, headers, body as api() returns them) to
    method on path (no query) against the OpenAPI document; raises
    AssertionError naming the route, the status and the JSON path of what
    differs. The web UI's files (/, /ui/...) are not in the document."""
    if path == "/" or path == "/ui" or path.startswith("/ui/"):
        return
    st, hdr, js = answer
    template, op = operation(method, path)
    if template is None:
        # Off the document: still the documented Error.
        what = "%s %s (%s)" % (method.upper(), path,
                               "no such path" if op is None else "a method the path does not take")
        want = 404 if op is None else 405
        assert st == want, "%s answered %d, not %d" % (what, st, want)
        _check_error(what, st, js, hdr)
        if st == 405:
            got = {m.strip() for m in hdr.get("Allow", "").split(",") if m.strip()}
            assert got >= op, "%s: Allow %r does not name %s" % (what, hdr.get("Allow"), op)
        return
    what = "%s %s" % (method.upper(), template)
    declared = op["responses"]
    if str(st) in declared:
        key = str(st)
    else:
        assert st >= 400 and st not in _LISTED_ERRORS, (
            "%s answered %d, which the document does not list for it (it lists %s)"
            % (what, st, ", ".join(declared)))
        key = "default"
    resp = deref(declared[key])
    content = resp.get("content") or {}
    ctype = hdr.get("Content-Type")
    if not content:
        assert js == b"", "%s answered %d with a body the document does not have: %.200r" % (
            what, st, js)
        return
    if method.upper() == "HEAD":
        return
    media = {_media(m): m for m in content}
    got = _media(ctype or "")
    if got not in media and "*/*" not in media:
        # A binary answer's type may carry parameters its listing does not.
        bare = {m.split(";")[0] for m in media}
        assert got.split(";")[0] in bare and not media.get(got.split(";")[0], "").startswith(
            "application/json"), "%s answered %d with Content-Type %r; the document says %s" % (
                what, st, ctype, " or ".join(content))
    for name in resp.get("headers", {}):
        assert name in hdr, "%s answered %d without its documented %s header" % (what, st, name)
    if not got.startswith("application/json"):
        return
    if st >= 400:
        _check_error(what, st, js, hdr)
        return
    schema = json_schema(resp)
    validate(js, schema, True, "the %d answer of %s" % (st, what),
             cache_key=(method.upper(), template, key))


def _args(args):
    return shlex.split(args) if isinstance(args, str) else [str(a) for a in args]


# ------------------------------------------------------------------ supervisor


def ctl(args, check=False, timeout=60):
    """Runs supervisorctl for this stack, e.g. ctl("restart customers:*").
    Returns a CompletedProcess (text; stdout and stderr together in .stdout)."""
    cmd = ["supervisorctl", "-c", SUPERVISOR_CONF] + _args(args)
    r = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stdout))
    return r


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self._path = path

    def make_connection(self, host):
        return _UnixConnection(self._path, 10)


def _supervisor_socket():
    cp = configparser.RawConfigParser()
    cp.read(SUPERVISOR_CONF)
    url = cp.get("supervisorctl", "serverurl")
    assert url.startswith("unix://"), url
    return url[len("unix://"):].replace("%%", "%")


def supervisor():
    """supervisord's XML-RPC interface (the supervisor.* namespace), e.g.
    supervisor().getAllProcessInfo(); faster than running supervisorctl."""
    proxy = xmlrpc.client.ServerProxy("http://localhost", transport=_UnixTransport(_supervisor_socket()))
    return proxy.supervisor


def status():
    """{process: (state, pid)} for every process, e.g.
    {"broker": ("RUNNING", 120), "customers:customers-0": ("RUNNING", 123)}."""
    out = {}
    for p in supervisor().getAllProcessInfo():
        name = p["name"] if p["group"] == p["name"] else "%s:%s" % (p["group"], p["name"])
        out[name] = (p["statename"], p["pid"])
    return out


def pids(program):
    """The pids of the running processes of one program (all its copies), sorted."""
    return sorted(
        p["pid"]
        for p in supervisor().getAllProcessInfo()
        if p["group"] == program and p["statename"] == "RUNNING" and p["pid"]
    )


def stack_healthy():
    """True when every process runs and /readyz answers 2xx."""
    try:
        st = status()
    except (OSError, xmlrpc.client.Error):
        return False
    if not st or any(state != "RUNNING" for state, _ in st.values()):
        return False
    try:
        code = api("GET", "/readyz", key=None, timeout=5)[0]
    except OSError:
        return False
    return 200 <= code < 300


def wait_ready(timeout=60):
    """Waits until /readyz answers 2xx."""

    def ready():
        try:
            return 200 <= api("GET", "/readyz", key=None, timeout=5)[0] < 300
        except OSError:
            return False

    return wait_until(ready, timeout, what="GET /readyz")


def restart(program, timeout=60):
    """Restarts every copy of a program and waits until the stack is ready."""
    old = set(pids(program))
    ctl(["restart", program + ":*"], check=True)
    wait_until(lambda: len(pids(program)) == len(old) and not set(pids(program)) & old,
               timeout, what="%s to come back" % program)
    wait_ready(timeout)


# ------------------------------------------------------------------ logs


def log_files(program):
    """The log files of a program's processes: {process name: path}, e.g.
    {"customers-0": ".../log/customers-0.log", "customers-1": ...}."""
    out = {}
    for path in sorted(glob.glob(os.path.join(glob.escape(LOG_DIR), program + "*.log"))):
        name = os.path.basename(path)[:-4]
        if name == program or re.fullmatch(re.escape(program) + r"-\d+", name):
            out[name] = path
    return out


def log(name):
    """The text of one process's log, e.g. log("customers-0") or log("gateway")."""
    with open(os.path.join(LOG_DIR, name + ".log"), encoding="utf-8", errors="replace") as fh:
        return fh.read()


def logs_contain(program, text):
    """True when the log of any copy of the program contains the text."""
    for path in log_files(program).values():
        with open(path, encoding="utf-8", errors="replace") as fh:
            if text in fh.read():
                return True
    return False


# A handled request, as cm_svc logs it at info level:
# "<time> DEBUG customers req=<id> customers.CreateCustomer ok in 3 ms".
_HANDLED = re.compile(r" req=\S+ [\w.]+ \w+ in \d+ ms$")


def served_by_copy(program):
    """How many requests each copy of a service has handled so far:
    {"customers-0": 31, "customers-1": 29}."""
    counts = {}
    for name, path in log_files(program).items():
        with open(path, encoding="utf-8", errors="replace") as fh:
            counts[name] = sum(1 for line in fh if _HANDLED.search(line.rstrip("\n")))
    return counts


# ------------------------------------------------------------------ crmctl, psql


@contextlib.contextmanager
def extra_process(program, log_name, **env):
    """One more process of the stack's program (build/bin/<program>) with the
    stack's environment and these settings on top, logging to
    <log dir>/<log_name>.log, stopped (SIGTERM, then SIGKILL) when the block ends."""
    with open(os.path.join(LOG_DIR, log_name + ".log"), "ab") as log:
        p = subprocess.Popen([os.path.join(BIN, program)], env=dict(ENV, **env), stdout=log,
                             stderr=subprocess.STDOUT, cwd="/")
    try:
        yield p
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def crmctl_run(args, input=None, timeout=60, env=None):
    """Runs crmctl with the stack's environment; returns the CompletedProcess
    (text) whatever the exit status."""
    e = dict(ENV)
    e.update(env or {})
    return subprocess.run([CRMCTL] + _args(args), input=input, capture_output=True, text=True,
                          timeout=timeout, env=e)


def crmctl(args, input=None, timeout=60, env=None):
    """Runs crmctl with the stack's environment and returns its standard
    output; raises AssertionError (with stderr) when it exits non-zero."""
    r = crmctl_run(args, input=input, timeout=timeout, env=env)
    if r.returncode != 0:
        raise AssertionError("crmctl %s exited %d\nstdout: %s\nstderr: %s"
                             % (" ".join(_args(args)), r.returncode, r.stdout, r.stderr))
    return r.stdout


def crmctl_popen(args, env=None, **kwargs):
    """Starts a long-running crmctl (e.g. events) with stdout piped as text;
    the caller terminates it."""
    e = dict(ENV)
    e.update(env or {})
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([CRMCTL] + _args(args), text=True, env=e, **kwargs)


def _psql(sql, extra, timeout):
    cmd = [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"] + extra + ["-d", DATABASE_URL, "-c", sql]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("psql failed: %s\n%s" % (r.stderr.strip(), sql))
    return r.stdout


@contextlib.contextmanager
def _held(lock_sql, what):
    """Runs lock_sql in a transaction of a psql session of its own (as user
    postgres), which must print "locked", and holds it until the block ends,
    then commits."""
    p = subprocess.Popen([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
                          DATABASE_URL], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        p.stdin.write("BEGIN;\n%s\n" % lock_sql)
        p.stdin.flush()
        assert p.stdout.readline().strip() == "locked", what
        yield
        p.stdin.write("COMMIT;\n")
        p.stdin.close()
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def row_locked(table, row_id, key="id"):
    """Holds the row of table whose key (column) is row_id locked (SELECT ...
    FOR UPDATE in a psql session of its own, as user postgres) until the block
    ends, then commits."""
    return _held("SELECT 'locked' FROM %s WHERE %s = '%s' FOR UPDATE;" % (table, key, row_id),
                 "%s %s: no such row" % (table, row_id))


def table_locked(table, mode="EXCLUSIVE"):
    """Holds table locked in mode (LOCK TABLE in a psql session of its own,
    as user postgres) until the block ends, then commits. EXCLUSIVE lets
    plain reads through and makes every write wait."""
    return _held("LOCK TABLE %s IN %s MODE;\nSELECT 'locked';" % (table, mode),
                 "could not lock %s" % table)


def advisory_locked(name):
    """Holds the session advisory lock hashtext(name) (pg_advisory_lock in a
    psql session of its own, waiting for it) until the block ends; cm_follow's
    leader takes hashtext(<its cursor table>), so holding that one keeps a
    service from following its streams."""
    return _held("SELECT 'locked' FROM (SELECT pg_advisory_lock(hashtext('%s'))) l;" % name,
                 "could not take the advisory lock %s" % name)


def backends_of(pid):
    """The PostgreSQL backends (their pids) whose client is process pid: the
    server ends of the process's Unix-socket connections, found with ss(8)
    (the stack's services reach its private cluster over its socket)."""
    mine = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            mine.add(target[len("socket:["):-1])
    out = subprocess.run(["ss", "-xpnH"], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    backends = set()
    for line in out.splitlines():
        # netid state recv-q send-q local-addr local-inode peer-addr peer-inode process
        f = line.split()
        if len(f) >= 9 and f[7] in mine and "postgres" in f[8]:
            backends.update(int(b) for b in re.findall(r"pid=(\d+)", f[8]))
    return backends


def psql(sql, timeout=60):
    """Runs SQL as user postgres (a superuser) on the stack's database and
    returns psql's unaligned, tuples-only output ("a|b" lines). Several
    statements may be given; SET ROLE crm_app tests as the services' role."""
    return _psql(sql, [], timeout)


def psql_rows(sql, timeout=60):
    """Like psql() but returns the rows as tuples of strings (NULL is "")."""
    out = _psql(sql, ["-F", "\x1f", "-0"], timeout)
    if out.endswith("\n"):
        out = out[:-1]
    return [tuple(rec.split("\x1f")) for rec in out.split("\0") if rec != ""]


# ------------------------------------------------------------------ waiting, names


def wait_until(fn, timeout=10, interval=0.1, what=None):
    """Calls fn until it returns something true and returns that; raises
    AssertionError after timeout seconds (an exception from fn counts as a
    false result and is chained to the error)."""
    deadline = time.monotonic() + timeout
    last, last_exc = None, None
    while True:
        try:
            last = fn()
            last_exc = None
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last_exc = e
        if time.monotonic() >= deadline:
            name = what or getattr(fn, "__name__", "condition")
            raise AssertionError(
                "timed out after %s s waiting for %s (last: %r)"
                % (timeout, name, last_exc if last_exc else last)
            ) from last_exc
        time.sleep(interval)


_counter = itertools.count(1)


def unique(prefix="t"):
    """A name no other test (or earlier run) uses: prefix-<pid>-<n>-<random>."""
    return "%s-%d-%d-%s" % (prefix, os.getpid(), next(_counter), uuid.uuid4().hex[:8])


def unique_email(prefix="user"):
    """A unique address in a reserved domain (RFC 2606)."""
    return "%s@example.test" % unique(prefix).lower()


# ------------------------------------------------------------------ ports, sanitizers


def free_ports(n):
    """n distinct TCP ports on 127.0.0.1 that nothing listens on right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer print
# when they find something (tests/integration/run.sh greps for the same).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_reports(log_dir):
    """{log file: the report's first lines} for every log in log_dir (rotated
    ones too) that holds a sanitizer report; {} when there is none."""
    found = {}
    for path in sorted(glob.glob(os.path.join(glob.escape(log_dir), "*.log*"))):
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
        for i, line in enumerate(lines):
            if any(m in line for m in SANITIZER_MARKERS):
                found[path] = "\n".join(lines[i:i + 30])
                break
    return found


# ------------------------------------------------------------------ staff sessions

class StaffSession:
    """A browser's view of a staff member's session: the crm_session cookie
    (a jar of one) and the CSRF token, sent with every request through api().

        s = crm.StaffSession()
        st, _, js = s.sign_in("owner@example.com", "a long password")
        st, _, js = s.api("POST", "/v1/customers", {"firstName": "Ann"})
    """

    def __init__(self, base=""):
        self.base = base  # another gateway's URL ("": the test stack's)
        self.cookie = None
        self.csrf = None

    def _take(self, hdr, js):
        for k, v in (hdr or {}).items():
            if k == "set-cookie" and v.startswith("crm_session="):
                value = v.split(";", 1)[0].split("=", 1)[1]
                self.cookie = value or None
        if isinstance(js, dict) and js.get("csrfToken"):
            self.csrf = js["csrfToken"]

    def api(self, method, path, body=None, headers=None, csrf=True, check=True):
        """crm.api() with the cookie (and X-CSRF-Token on a write, unless
        csrf is False); remembers a cookie the answer sets or clears. check:
        as crm.api()'s."""
        h = {}
        if self.cookie:
            h["Cookie"] = "crm_session=" + self.cookie
        if csrf and self.csrf and method.upper() not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        h.update(headers or {})
        st, hdr, js = api(method, self.base + path, body, headers=h, key=None, check=check)
        self._take(hdr, js)
        return st, hdr, js

    def sign_in(self, email, password, tenant=None):
        body = {"email": email, "password": password}
        if tenant:
            body["tenant"] = tenant
        return self.api("POST", "/v1/session", body)


def mails_to(addr):
    """What the test stack's SMTP server (CRM_TEST_SMTP) received for addr:
    [{"data": the raw message, ...}], oldest first."""
    url = os.environ["CRM_TEST_SMTP"] + "/_smtp/messages?to=" + urllib.parse.quote(addr)
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode())


def staff_mail_token(addr, page, n=1, timeout=20):
    """The token of the n-th staff e-mail to addr whose link opens
    /ui/#/<page>/ (invite or reset), waited for. Returns (token, the e-mail's
    text, its subject)."""
    got = wait_until(lambda: (lambda r: r if len(r) >= n else None)(mails_to(addr)),
                     timeout=timeout, what="staff e-mail %d to %s" % (n, addr))
    msg = email.message_from_string(got[n - 1]["data"], policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    m = re.search(r"/ui/#/%s/([A-Za-z0-9_-]{43})" % page, text)
    assert m, text
    return m.group(1), text, str(msg["Subject"])


def staff_invite_token(invite, n=1, timeout=20):
    """The token of an invitation (the answer of POST /v1/staff:invite): from
    its inviteUrl, or (e-mailed, as in the test stack) from the n-th e-mail to
    the member, waited for. Returns (token, the e-mail's text or None)."""
    if invite.get("inviteUrl"):
        return invite["inviteUrl"].rsplit("/", 1)[1], None
    token, text, _ = staff_mail_token(invite["staff"]["email"], "invite", n, timeout)
    return token, text


def staff_owner(tenant=None, password="correct horse battery"):
    """A fresh tenant (unless given) with an owner made by crmctl; returns
    (tenant, email, password)."""
    if tenant is None:
        tenant = crmctl(["tenant", "create", unique("Salon")]).strip()
    email = unique_email("owner")
    crmctl(["staff", "create-owner", "--tenant", tenant, "--email", email, "--name",
            unique("Owner"), "--password-stdin"], input=password + "\n")
    return tenant, email, password
