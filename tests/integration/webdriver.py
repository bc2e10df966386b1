"""A tiny W3C WebDriver client (Python standard library only) for headless
Chromium through chromedriver (Debian: chromium, chromium-driver).

    with webdriver.Browser() as b:
        b.get(crm.URL + "/")
        b.find("#f-email").send_keys("anna@example.com")
        b.find("#save").click()
        b.wait_text("#customer-name", "Anna")

Browser() starts chromedriver on a free loopback port and a session with a
throw-away profile; close() (or leaving the with block) deletes the session,
stops chromedriver and its process group, and removes the profile. Every
wait is bounded polling: wait_until(fn) calls fn until it returns something
true, treating a vanished ("stale") element as "not yet".
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = os.environ.get("CRM_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CRM_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element reference key

# WebDriver key codes.
ENTER = "\ue007"
TAB = "\ue004"
ESCAPE = "\ue00c"
BACKSPACE = "\ue003"


class WebDriverError(Exception):
    """An error answer: error is the W3C code ("no such element")."""

    def __init__(self, error, message):
        super().__init__("%s: %s" % (error, message.splitlines()[0] if message else ""))
        self.error = error


def available():
    """True when Chromium and chromedriver are installed."""
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


def _free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Element:
    """A found element; its methods send commands for it."""

    def __init__(self, browser, ref):
        self.b = browser
        self.ref = ref

    def _cmd(self, method, what, body=None):
        return self.b.cmd(method, "/element/%s%s" % (self.ref, what), body)

    def click(self):
        """Scrolls the element to the middle of the window (clear of sticky
        bars), then clicks it as a user would."""
        self.b.js("arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});", {ELEMENT: self.ref})
        self._cmd("POST", "/click", {})
        return self

    def clear(self):
        self._cmd("POST", "/clear", {})
        return self

    def send_keys(self, text):
        """Types text (or a file path into a file input)."""
        self._cmd("POST", "/value", {"text": text})
        return self

    def fill(self, text):
        """Clears the field, then types text."""
        return self.clear().send_keys(text)

    @property
    def text(self):
        """The rendered text, as a user sees it."""
        return self._cmd("GET", "/text")

    def prop(self, name):
        return self._cmd("GET", "/property/%s" % name)

    def attr(self, name):
        return self._cmd("GET", "/attribute/%s" % name)

    @property
    def tag(self):
        return self._cmd("GET", "/name")

    def displayed(self):
        return bool(self._cmd("GET", "/displayed"))

    def enabled(self):
        return bool(self._cmd("GET", "/enabled"))

    def find(self, css):
        return Element(self.b, self.b._ref(self._cmd("POST", "/element", {"using": "css selector", "value": css})))

    def find_all(self, css):
        found = self._cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self.b, self.b._ref(v)) for v in found]

    def select(self, value):
        """Picks the option with this value in a <select>, as a user would."""
        for opt in self.find_all("option"):
            if opt.prop("value") == value:
                opt.click()
                return self
        raise AssertionError("no option %r in the select" % value)


class Browser:
    """One headless Chromium session. Use it as a context manager."""

    def __init__(self, width=1366, height=900, timeout=60):
        if not available():
            raise AssertionError("chromium and chromedriver are needed (apt-get install chromium chromium-driver)")
        self.timeout = timeout
        self.session = None
        self.profile = tempfile.mkdtemp(prefix="crm-chromium-")
        self.log_path = os.path.join(self.profile, "chromedriver.log")
        self._log = open(self.log_path, "wb")
        self.proc = None
        try:
            self._start_driver()
            caps = {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--user-data-dir=" + self.profile + "/profile",
                        "--window-size=%d,%d" % (width, height), "--lang=en-GB",
                    ],
                },
                "goog:loggingPrefs": {"browser": "ALL"},
                "timeouts": {"implicit": 0, "pageLoad": 30000, "script": 30000},
                "unhandledPromptBehavior": "ignore",
            }
            value = self._http("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
            self.session = value["sessionId"]
        except BaseException:
            self.close()
            raise

    # ---- plumbing

    def _start_driver(self, tries=3):
        """Starts chromedriver on a free port. The port is free when chosen,
        but another program may take it before chromedriver binds it: a
        driver that exits before it is ready is started again on another
        port, and the last one's log goes into the error."""
        for attempt in range(tries):
            self.port = _free_port()
            self.base = "http://127.0.0.1:%d" % self.port
            # Its own process group, so close() can end Chromium too if the
            # session could not be deleted cleanly.
            self.proc = subprocess.Popen(
                [CHROMEDRIVER, "--port=%d" % self.port, "--allowed-ips=127.0.0.1"],
                stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
            if self._wait_driver():
                return
            if attempt + 1 == tries:
                self._log.flush()
                with open(self.log_path, "rb") as fh:
                    tail = fh.read()[-2000:].decode("utf-8", "replace")
                raise AssertionError("chromedriver exited (%s) %d times; its log ends:\n%s"
                                     % (self.proc.returncode, tries, tail))

    def _wait_driver(self):
        """True once the driver answers; False when it exited first."""
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                return False
            try:
                if self._http("GET", "/status", timeout=2).get("ready"):
                    return True
            except (OSError, WebDriverError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("chromedriver did not start within 20 s")
            time.sleep(0.1)

    def _http(self, method, path, body=None, timeout=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                payload = json.loads(resp.read().decode("utf-8") or "{}")
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read().decode("utf-8")).get("value", {})
            except ValueError:
                err = {}
            raise WebDriverError(err.get("error", "http %d" % e.code), err.get("message", "")) from None
        return payload.get("value")

    def cmd(self, method, what, body=None):
        """One command in this session: cmd("POST", "/url", {"url": u})."""
        return self._http(method, "/session/%s%s" % (self.session, what), body)

    def _ref(self, value):
        return value[ELEMENT]

    # ---- navigation and finding

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    @property
    def url(self):
        return self.cmd("GET", "/url")

    @property
    def title(self):
        return self.cmd("GET", "/title")

    def find(self, css):
        """The first element matching css; raises WebDriverError when none."""
        return Element(self, self._ref(self.cmd("POST", "/element", {"using": "css selector", "value": css})))

    def find_all(self, css):
        found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, self._ref(v)) for v in found]

    def active(self):
        """The element that has the keyboard focus."""
        return Element(self, self._ref(self.cmd("GET", "/element/active")))

    def js(self, script, *args):
        """Runs script (a function body; arguments in `arguments`) and returns its value."""
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def alert_text(self):
        """The text of an open alert/confirm, or None when there is none."""
        try:
            return self.cmd("GET", "/alert/text")
        except WebDriverError as e:
            if e.error == "no such alert":
                return None
            raise

    # ---- waiting

    def wait_until(self, fn, timeout=15, interval=0.1, what=None):
        """Calls fn until it returns something true and returns that; raises
        AssertionError after timeout seconds."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                result = fn()
                if result:
                    return result
                last = result
            except WebDriverError as e:
                if e.error not in ("no such element", "stale element reference"):
                    raise
                last = e
            if time.monotonic() >= deadline:
                raise AssertionError("timed out after %s s waiting for %s (last: %r)"
                                     % (timeout, what or getattr(fn, "__name__", "condition"), last))
            time.sleep(interval)

    def wait(self, css, timeout=15, visible=True):
        """Waits until an element matching css exists (and is displayed) and returns it."""
        def found():
            el = self.find(css)
            return el if not visible or el.displayed() else None
        return self.wait_until(found, timeout, what="element %s" % css)

    def wait_gone(self, css, timeout=15):
        self.wait_until(lambda: not self.find_all(css), timeout, what="no element %s" % css)

    def wait_text(self, css, text, timeout=15):
        """Waits until the element's text contains text; returns the element."""
        def has():
            el = self.find(css)
            return el if text in el.text else None
        return self.wait_until(has, timeout, what="%r in %s" % (text, css))

    # ---- evidence

    def screenshot(self, path):
        """Saves a PNG of the viewport; returns path."""
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(png)
        return path

    def full_screenshot(self, path, width=None):
        """Saves a PNG of the whole page: resizes the window to the page's
        height first (headless Chromium allows any size), then restores it."""
        rect = self.cmd("GET", "/window/rect")
        height = self.js("return Math.ceil(document.documentElement.scrollHeight);")
        self.cmd("POST", "/window/rect", {"width": width or rect["width"], "height": min(max(height + 120, 400), 6000)})
        try:
            return self.screenshot(path)
        finally:
            self.cmd("POST", "/window/rect", {"width": rect["width"], "height": rect["height"]})

    def overflow(self):
        """How far the page sticks out to the right of the window (px; 0 when
        it holds at its width), and up to eight elements that stick out
        (tag.class#id right), leaving out those inside a .table-scroll."""
        width = self.js("return document.documentElement.scrollWidth - "
                        "document.documentElement.clientWidth;")
        wide = self.js("""
            const w = document.documentElement.clientWidth;
            return Array.from(document.querySelectorAll('body *'))
              .filter(el => el.getBoundingClientRect().right > w + 1 && !el.closest('.table-scroll'))
              .slice(0, 8).map(el => el.tagName + '.' + el.className + '#' + el.id + ' '
                               + Math.round(el.getBoundingClientRect().right));""")
        return width, wide

    def console(self):
        """The browser console's messages so far ([{level, message}]); [] if unsupported."""
        try:
            return self.cmd("POST", "/se/log", {"type": "browser"}) or []
        except WebDriverError:
            return []

    # ---- life cycle

    def close(self):
        """Deletes the session, stops chromedriver (and Chromium), removes the profile."""
        if self.session:
            try:
                self._http("DELETE", "/session/%s" % self.session, timeout=15)
            except (OSError, WebDriverError, ValueError):
                pass
            self.session = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc:
            # Anything left in the driver's process group (a Chromium whose
            # session could not be deleted) goes too.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
