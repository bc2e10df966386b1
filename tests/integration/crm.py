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


def api(method, path, body=None, headers=None, key=DEFAULT, raw=None, timeout=30):
    """Sends one HTTP request to the gateway (redirects are not followed).

    body: a JSON value to send (Content-Type: application/json).
    raw: bytes or str to send as they are (set Content-Type in headers).
    key: an API key; DEFAULT is the administrator's, None sends no
    Authorization header.
    Returns (status, headers, body): the body parsed when the response is
    JSON, else the bytes (b"" when empty). A server that answers early (413)
    and closes while the body is still being sent still yields its answer.
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
    if payload and "json" in ctype:
        try:
            return status, rh, json.loads(payload.decode("utf-8"))
        except ValueError:
            pass
    return status, rh, payload


def q(path, **params):
    """Adds a query string: q("/v1/customers", pageSize=10) (None values skipped)."""
    params = {k: v for k, v in params.items() if v is not None}
    if not params:
        return path
    return path + ("&" if "?" in path else "?") + urllib.parse.urlencode(params)


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

    def api(self, method, path, body=None, headers=None, csrf=True):
        """crm.api() with the cookie (and X-CSRF-Token on a write, unless
        csrf is False); remembers a cookie the answer sets or clears."""
        h = {}
        if self.cookie:
            h["Cookie"] = "crm_session=" + self.cookie
        if csrf and self.csrf and method.upper() not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        h.update(headers or {})
        st, hdr, js = api(method, self.base + path, body, headers=h, key=None)
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
