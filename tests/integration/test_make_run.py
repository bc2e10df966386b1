"""`make run`, the user's first command: compose/run.sh with the binaries the
suite was built with, on a fresh data directory and free ports of its own (the
main test stack is not touched). It prints the URL and the API key, keeps the
key in the data directory, stops everything on SIGTERM or Ctrl-C (SIGINT) and
exits 0, and finds its customers again at the next start. A bad setting stops
a program with exit status 2 naming the variable.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import crm
from crm import api, unique

# run.sh takes the build directory; the binaries are in BUILD/bin.
BUILD = os.path.dirname(crm.BIN)
RUN_SH = os.path.join(crm.ROOT, "compose", "run.sh")
BANNER_S = 90  # from start to "Press Ctrl-C to stop."
STOP_S = 30  # from the signal to run.sh's exit
PG_BIN = "/usr/lib/postgresql/15/bin"


def _alive(pid):
    """True when the process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _clean_env():
    """The caller's environment without any CRM_* setting (the main test
    stack's data directory, database, ports and key must not leak in)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}


class MakeRun:
    """One `make run` installation: a data directory under /tmp and free
    ports. start() runs compose/run.sh and waits for its banner; stop(sig)
    signals it and checks that it stopped everything; leaving the `with`
    block stops whatever is left and removes the directory, also when the
    test failed (the output and the end of every log are printed then)."""

    def __init__(self, **settings):
        self.dir = tempfile.mkdtemp(prefix="crm-makerun.", dir="/tmp")
        os.chmod(self.dir, 0o755)  # user postgres must traverse it
        http, bus, ev_in, ev_out, pg = crm.free_ports(5)
        self.url = "http://127.0.0.1:%d" % http
        self.env = _clean_env()
        self.env.update(
            CRM_DATA_DIR=self.dir,
            CRM_HTTP_ADDR="127.0.0.1:%d" % http,
            CRM_BUS_ENDPOINT="tcp://127.0.0.1:%d" % bus,
            CRM_EVENTS_IN_ENDPOINT="tcp://127.0.0.1:%d" % ev_in,
            CRM_EVENTS_OUT_ENDPOINT="tcp://127.0.0.1:%d" % ev_out,
            CRM_PG_PORT=str(pg),
        )
        self.env.update(settings)
        self.log_dir = os.path.join(self.dir, "log")
        self.key_file = os.path.join(self.dir, "bootstrap-api-key")
        self.proc = None  # the running compose/run.sh
        self.lines = []  # its output so far (the reader thread appends)
        self.outputs = []  # the output of every run, for failure reports
        self._reader = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # A test timeout (SIGALRM) must not cut the clean-up short: it is
        # held back until the stack is gone.
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            if exc_type is not None:
                print("--- the test failed; the `make run` installation it used:")
                print(self.report())
            self.close()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return False

    # -------------------------------------------------------------- running

    def start(self):
        """Runs compose/run.sh in the background and starts reading its
        output. SIGINT reaches it as it reaches `make run` in a terminal."""
        assert self.proc is None or self.proc.poll() is not None, "run.sh already runs"
        self.lines = []
        self.outputs.append(self.lines)
        # An ignored SIGINT would be inherited, and bash cannot trap a signal
        # ignored at its start; a caught one is reset to the default by exec.
        old = signal.getsignal(signal.SIGINT)
        if old == signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self.proc = subprocess.Popen(
                [RUN_SH, BUILD], cwd=self.dir, env=self.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                start_new_session=True)
        finally:
            if old == signal.SIG_IGN:
                signal.signal(signal.SIGINT, old)
        self._reader = threading.Thread(target=self._read, args=(self.proc, self.lines),
                                        daemon=True)
        self._reader.start()

    @staticmethod
    def _read(proc, lines):
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    def output(self):
        return "\n".join(self.lines)

    def wait_banner(self):
        """Waits (BANNER_S) until run.sh says it runs; returns {"url": ...,
        "key": ..., "key_from": ..., "text": the whole banner} from its
        banner (key and key_from None when it names no key)."""
        deadline = time.monotonic() + BANNER_S
        while "Press Ctrl-C to stop." not in self.lines:
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise AssertionError("run.sh exited %d before saying it runs"
                                     % self.proc.returncode)
            if time.monotonic() > deadline:
                raise AssertionError("run.sh did not say it runs within %d s" % BANNER_S)
            time.sleep(0.2)
        out = self.output()
        url = re.search(r"^  Web UI:\s+(\S+)", out, re.M)
        key = re.search(r"^  API key:\s+(\S+)\s+\(from (.+)\)$", out, re.M)
        assert url, "no URL in the banner:\n" + out
        return {"url": url.group(1), "key": key.group(1) if key else None,
                "key_from": key.group(2) if key else None,
                "text": out[out.index("CRM is running."):]}

    def start_and_wait(self):
        self.start()
        return self.wait_banner()

    # -------------------------------------------------------------- processes

    def pids(self):
        """The live processes of this installation: everything that works in
        its data directory (run.sh, supervisord, the services, PostgreSQL and
        its children) or names it on its command line."""
        found = set()
        prefix = self.dir + "/"
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            pid = int(name)
            try:
                cwd = os.readlink("/proc/%d/cwd" % pid)
            except OSError:
                cwd = ""
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as fh:
                    cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if (cwd == self.dir or cwd.startswith(prefix) or self.dir in cmd) and _alive(pid):
                found.add(pid)
        return found

    def _pidfile(self, *path):
        try:
            with open(os.path.join(self.dir, *path)) as fh:
                return int(fh.readline().strip())
        except (OSError, ValueError):
            return None

    def stop(self, sig):
        """Sends sig to run.sh and checks what a user expects of Ctrl-C: exit
        status 0 within STOP_S, nothing of the installation left running
        (PostgreSQL included), no sanitizer report in its logs. SIGINT goes
        to run.sh's whole process group, as a terminal's Ctrl-C does."""
        before = self.pids()
        postmaster = self._pidfile("pg", "postmaster.pid")
        supervisord = self._pidfile("supervisord.pid")
        assert postmaster in before, ("PostgreSQL's pid %r is not among the processes seen %r"
                                      % (postmaster, sorted(before)))
        assert supervisord in before, ("supervisord's pid %r is not among the processes seen %r"
                                       % (supervisord, sorted(before)))
        names = {_comm(p) for p in before}
        for svc in ("broker", "customers", "gateway"):
            assert svc in names, "no %s process seen: %s" % (svc, sorted(names))

        if sig == signal.SIGINT:
            os.killpg(self.proc.pid, sig)  # run.sh leads its own group
        else:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            raise AssertionError("run.sh still runs %d s after %s" % (STOP_S, sig.name))
        self._reader.join(5)
        assert rc == 0, "run.sh exited %d after %s" % (rc, sig.name)
        assert any(line.startswith("CRM stopped.") for line in self.lines), \
            "no 'CRM stopped.' after %s" % sig.name
        left = [(p, _comm(p)) for p in sorted(before) if _alive(p)]
        assert not left, "still running after run.sh exited: %r" % left
        left = [(p, _comm(p)) for p in sorted(self.pids())]
        assert not left, "still running after run.sh exited: %r" % left
        assert not os.path.exists(os.path.join(self.dir, "pg", "postmaster.pid")), \
            "pg/postmaster.pid is still there"
        reports = crm.sanitizer_reports(self.log_dir)
        assert not reports, "sanitizer reports:\n" + "\n".join(
            "--- %s\n%s" % kv for kv in reports.items())

    def close(self):
        """Stops whatever is left (run.sh, supervisord and its services,
        PostgreSQL) and removes the data directory."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(STOP_S)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(10)
            self.proc.stdout.close()
        if self.pids():
            conf = os.path.join(self.dir, "supervisord.conf")
            if os.path.exists(conf):
                subprocess.run(["supervisorctl", "-c", conf, "shutdown"], capture_output=True,
                               timeout=30)
            if self._pidfile("pg", "postmaster.pid"):
                cmd = [PG_BIN + "/pg_ctl", "stop", "-D", os.path.join(self.dir, "pg"), "-m",
                       "immediate", "-w", "-t", "20", "-s"]
                if os.geteuid() == 0:
                    cmd = ["runuser", "-u", "postgres", "--"] + cmd
                subprocess.run(cmd, capture_output=True, timeout=30, cwd="/")
            deadline = time.monotonic() + 20
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.2)
            for pid in self.pids():
                print("note: killing %d (%s) left by %s" % (pid, _comm(pid), self.dir))
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def report(self):
        """run.sh's output of every run and the end of every log."""
        parts = []
        for i, lines in enumerate(self.outputs, 1):
            parts.append("--- compose/run.sh output, run %d\n%s" % (i, "\n".join(lines)))
        logs = [os.path.join(self.dir, "supervisord.log")]
        if os.path.isdir(self.log_dir):
            logs += [os.path.join(self.log_dir, f) for f in sorted(os.listdir(self.log_dir))]
        for path in logs:
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    tail = fh.read().splitlines()[-20:]
            except OSError:
                continue
            parts.append("--- last lines of %s\n%s" % (path, "\n".join(tail)))
        return "\n".join(parts)


def _bad_setting(binary, args, settings, timeout=20):
    """Runs a program with one bad setting (and the bus on a port nobody
    listens on); returns (exit status, stdout, stderr)."""
    env = _clean_env()
    env["CRM_BUS_ENDPOINT"] = "tcp://127.0.0.1:%d" % crm.free_ports(1)[0]
    env.update(settings)
    r = subprocess.run([os.path.join(crm.BIN, binary)] + args, env=env, capture_output=True,
                       text=True, timeout=timeout, cwd="/")
    return r.returncode, r.stdout, r.stderr


# ------------------------------------------------------------------ tests


def _trial_mailbox_receives(r, key, cid):
    """Without CRM_SMTP_URL and CRM_SMS_URL, make run's trial mailbox takes
    what notify sends, keeps it under the data directory, and the API shows
    it (only the caller's tenant's), marked as the trial mailbox."""
    sent = []
    for body in ({"subject": "Witamy w salonie", "text": "Dzień dobry!"},
                 {"channel": "SMS", "text": "Do zobaczenia jutro"}):
        st, _, m = api("POST", r.url + "/v1/customers/%s:sendMessage" % cid, body, key=key)
        assert st == 202, (st, m)
        sent.append(m)
    for m in sent:
        crm.wait_until(lambda m=m: api("GET", r.url + "/v1/messages/" + m["id"],
                                       key=key)[2]["status"] == "SENT",
                       timeout=30, what="message %s sent to the trial mailbox" % m["id"])
    st, _, box = api("GET", r.url + "/v1/trialMailbox", key=key)
    assert st == 200 and box["trial"] is True, box
    got = {e["message"]["id"]: e for e in box["entries"]}
    assert set(got) == {m["id"] for m in sent}, box
    mail = got[sent[0]["id"]]
    assert "Message-ID: <%s>" % sent[0]["messageId"] in mail["raw"], mail
    assert mail["message"]["subject"] == "Witamy w salonie" and mail["receivedAt"], mail
    sms = got[sent[1]["id"]]
    assert '"Do zobaczenia jutro"' in sms["raw"] and sms["message"]["channel"] == "SMS", sms
    new = os.path.join(r.dir, "mailbox", "mail", "new")
    assert len(os.listdir(new)) == 1, os.listdir(new)
    assert os.path.getsize(os.path.join(r.dir, "mailbox", "sms.jsonl")) > 0


def test_make_run_prints_key_stops_cleanly_and_keeps_the_data():
    with MakeRun() as r:
        banner = r.start_and_wait()
        assert banner["url"] == r.url + "/", banner
        key = banner["key"]
        assert key, "no API key in the banner:\n" + banner["text"]
        assert banner["key_from"] == r.key_file, banner
        # crmctl bootstrap printed the key it generated, once.
        out = r.output()
        assert out.count("api key: %s" % key) == 1, out
        st = os.stat(r.key_file)
        assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
        with open(r.key_file) as fh:
            assert fh.read().strip() == key
        assert api("GET", r.url + "/v1/customers", key=None)[0] == 401
        # The first owner was made, and the banner says how to sign in.
        owner = re.search(r"^  Sign in:\s+(\S+)\s+password: (\S+)$", out, re.M)
        assert owner, "no sign-in in the banner:\n" + banner["text"]
        owner_file = os.path.join(r.dir, "first-owner")
        assert os.stat(owner_file).st_mode & 0o777 == 0o600
        # The suite's own bus keys were made on first start: a pair for each
        # program, readable by the owner alone, and the broker's registry.
        keys = os.path.join(r.dir, "keys")
        assert os.stat(keys).st_mode & 0o777 == 0o700, oct(os.stat(keys).st_mode)
        for program in ("broker", "customers", "search", "notes", "company", "notify",
                        "exchange", "gateway", "crmctl"):
            path = os.path.join(keys, program + ".key")
            assert os.stat(path).st_mode & 0o777 == 0o600, (path, oct(os.stat(path).st_mode))
        with open(os.path.join(keys, "registry")) as fh:
            names = {line.split()[1] for line in fh if line.strip() and not line.startswith("#")}
        assert {"customers", "gateway", "crmctl"} <= names, names
        staff = crm.StaffSession(r.url)
        st, _, js = staff.sign_in(owner.group(1), owner.group(2))
        assert st == 200 and js["staff"]["role"] == "OWNER", (st, js)
        last = unique("Nowak")
        st, _, js = api("POST", r.url + "/v1/customers",
                        {"firstName": "Łukasz", "lastName": last,
                         "email": crm.unique_email("lukasz"), "phone": "+48601000001"}, key=key)
        assert st == 201, (st, js)
        cid = js["id"]
        _trial_mailbox_receives(r, key, cid)
        # A second `make run` on the same data directory refuses to start and
        # leaves the first one alone.
        second = subprocess.run([RUN_SH, BUILD], cwd=r.dir, env=r.env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=STOP_S)
        assert second.returncode == 1, (second.returncode, second.stdout, second.stderr)
        assert "CRM already runs from %s" % r.dir in second.stderr, second.stderr
        assert api("GET", r.url + "/readyz", key=None)[0] == 200
        r.stop(signal.SIGTERM)

        # The next start finds the customer, and the key still works.
        banner = r.start_and_wait()
        out = r.output()
        assert not re.search(r"^api key: ", out, re.M), "a new key was made:\n" + out
        assert banner["key"] == key and banner["key_from"] == r.key_file, banner
        assert re.search(r"^  Sign in:\s+%s\s+password: %s$"
                         % (re.escape(owner.group(1)), re.escape(owner.group(2))), out, re.M), out
        st, _, js = api("GET", r.url + "/v1/customers/" + cid, key=key)
        assert st == 200 and js["lastName"] == last and js["firstName"] == "Łukasz", (st, js)
        r.stop(signal.SIGINT)


test_make_run_prints_key_stops_cleanly_and_keeps_the_data.timeout = 2 * (BANNER_S + STOP_S) + 60


def test_make_run_uses_the_given_key_and_a_bad_setting_stops_it():
    given = "mr-given-" + unique("k")
    with MakeRun(CRM_BOOTSTRAP_API_KEY=given) as r:
        banner = r.start_and_wait()
        assert banner["key"] == given and banner["key_from"] == "CRM_BOOTSTRAP_API_KEY", banner
        assert not os.path.exists(r.key_file), "a key was written though one was given"
        st, _, js = api("POST", r.url + "/v1/customers", {"firstName": "Given"}, key=given)
        assert st == 201, (st, js)
        assert api("GET", r.url + "/v1/customers", key=given + "x")[0] == 401
        # Only crmctl needs the secret: the services do not get it.
        for pid in r.pids():
            if _comm(pid) in ("broker", "customers", "gateway"):
                with open("/proc/%d/environ" % pid, "rb") as fh:
                    assert b"CRM_BOOTSTRAP_API_KEY" not in fh.read(), _comm(pid)
        with open(os.path.join(r.dir, "supervisord.conf")) as fh:
            assert given not in fh.read()
        r.stop(signal.SIGTERM)

        # Later the variable no longer makes the key: another value is not
        # printed as the key, and the first one still works.
        other = "mr-other-" + unique("k")
        r.env["CRM_BOOTSTRAP_API_KEY"] = other
        banner = r.start_and_wait()
        assert banner["key"] is None and other not in banner["text"], \
            "the banner offers a key that does not work:\n" + banner["text"]
        assert "not valid here" in banner["text"], banner["text"]
        assert api("GET", r.url + "/v1/customers", key=other)[0] == 401
        assert api("GET", r.url + "/v1/customers", key=given)[0] == 200
        r.stop(signal.SIGINT)

        # A bad value found after PostgreSQL started: run.sh names it, fails
        # and leaves nothing running.
        r.env["CRM_SCALE_CUSTOMERS"] = "abc"
        r.start()
        try:
            rc = r.proc.wait(BANNER_S)
        except subprocess.TimeoutExpired:
            raise AssertionError("run.sh still runs %d s after starting" % BANNER_S)
        r._reader.join(5)
        out = r.output()
        assert rc != 0, out
        assert 'CRM_SCALE_CUSTOMERS: invalid value "abc"' in out, out
        assert "starting PostgreSQL" in out and "CRM is running." not in out, out
        left = [(p, _comm(p)) for p in sorted(r.pids())]
        assert not left, "still running after run.sh failed: %r" % left
        assert not os.path.exists(os.path.join(r.dir, "pg", "postmaster.pid"))


test_make_run_uses_the_given_key_and_a_bad_setting_stops_it.timeout = 3 * BANNER_S + 2 * STOP_S + 60


def test_bad_settings_exit_2_naming_the_variable():
    rc, out, err = _bad_setting("gateway", ["--print-config"], {"CRM_REQUEST_TIMEOUT_MS": "abc"})
    assert rc == 2 and "CRM_REQUEST_TIMEOUT_MS" in err and "abc" in err, (rc, out, err)
    assert out == "", out  # no configuration printed
    # A per-service override is named too.
    rc, out, err = _bad_setting("gateway", ["--print-config"],
                                {"CRM_GATEWAY_REQUEST_TIMEOUT_MS": "50"})
    assert rc == 2 and "CRM_GATEWAY_REQUEST_TIMEOUT_MS" in err, (rc, out, err)
    # Good values are printed back.
    rc, out, err = _bad_setting("gateway", ["--print-config"],
                                {"CRM_HTTP_ADDR": "127.0.0.1:18080",
                                 "CRM_REQUEST_TIMEOUT_MS": "2500"})
    assert rc == 0, (rc, out, err)
    lines = out.splitlines()
    assert "CRM_HTTP_ADDR=127.0.0.1:18080" in lines and "CRM_REQUEST_TIMEOUT_MS=2500" in lines, out
    # An address that is no host:port stops the gateway at start, naming it.
    rc, out, err = _bad_setting("gateway", [], {"CRM_HTTP_ADDR": "nonsense"})
    assert rc == 2, (rc, out, err)
    assert "http_addr" in err.lower() and "nonsense" in err, err
    for text in (out, err):
        assert not any(m in text for m in crm.SANITIZER_MARKERS), text
