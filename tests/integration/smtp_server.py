#!/usr/bin/python3
"""A local SMTP server for the tests of the notify service: Debian's aiosmtpd
(run with /usr/bin/python3), offering STARTTLS with a throw-away certificate
and requiring it and a login before anything is accepted, as a careful
provider does. Every message it accepts is kept whole (the bytes after DATA),
with the envelope, whether the session was TLS and who logged in.

What it answers is steered per recipient, for the failure tests:
  POST /_smtp/rules  {"addr@x": {"tempfail": 2}}   the next 2 DATA commands for
                                                   addr answer 451 4.3.0
                     {"addr@x": {"reject": true}}  RCPT TO answers 550 5.1.1
                     {"addr@x": {"delay_ms": 3000}} DATA answers after a pause
                     (with "delay_count": n only the next n DATA commands); a
                     client gone meanwhile leaves nothing accepted
  POST /_smtp/down   {"ms": 3000}   the server stops listening (connections are
                                    refused) and comes back after ms
  GET  /_smtp/messages?to=addr@x    [{"from", "to": [...], "data" (the message,
                                    text), "raw" (its bytes exactly, base64),
                                    "tls", "login", "at"}] as received
  GET  /_smtp/attempts?to=addr@x    {"data": n} DATA commands seen for addr
Usage: smtp_server.py SMTP_PORT CONTROL_PORT CERT KEY USER PASSWORD
(prints "smtp-server: listening").
"""
import asyncio
import base64
import json
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import ThreadingHTTPServer

from jsonhttp import JsonHandler

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

SMTP_PORT, CONTROL_PORT = int(sys.argv[1]), int(sys.argv[2])
CERT, KEY, USER, PASSWORD = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]

lock = threading.Lock()
messages = []  # every accepted message, in order
rules = {}     # recipient -> {"tempfail": n, "reject": bool, "delay_ms": n}
attempts = {}  # recipient -> DATA commands seen


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with lock:
            rule = dict(rules.get(address.lower(), {}))
        if rule.get("reject"):
            return "550 5.1.1 <%s>: no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rcpt = [a.lower() for a in envelope.rcpt_tos]
        delay = 0
        with lock:
            for a in rcpt:
                attempts[a] = attempts.get(a, 0) + 1
                rule = rules.get(a, {})
                if rule.get("delay_count", 1) > 0 and rule.get("delay_ms", 0):
                    delay = max(delay, rule["delay_ms"])
                    if "delay_count" in rule:
                        rule["delay_count"] -= 1
                if rule.get("tempfail", 0) > 0:
                    rule["tempfail"] -= 1
                    return "451 4.3.0 temporary trouble here, try again later"
        if delay:
            await asyncio.sleep(delay / 1000)
            if server.transport is None or server.transport.is_closing():
                return "421 4.4.2 the client went away"
        login = getattr(session, "crm_login", None)
        with lock:
            messages.append({"from": envelope.mail_from, "to": rcpt,
                             "data": envelope.original_content.decode("utf-8", "replace"),
                             "raw": base64.b64encode(envelope.original_content).decode(),
                             "tls": session.ssl is not None, "login": login,
                             "at": time.time()})
        return "250 2.0.0 OK: queued"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER
          and auth_data.password.decode() == PASSWORD)
    if ok:
        session.crm_login = auth_data.login.decode()
    return AuthResult(success=ok, handled=False)


live = set()  # the open connections, so that going down closes them as a dead server does


class Session(SMTP):
    def connection_made(self, transport):
        live.add(transport)
        super().connection_made(transport)

    def connection_lost(self, exc):
        live.discard(self.transport)
        super().connection_lost(exc)


class Server(Controller):
    def factory(self):
        return Session(self.handler, **self.SMTP_kwargs)


tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(CERT, KEY)
controller = [None]


def start():
    c = Server(Handler(), hostname="127.0.0.1", port=SMTP_PORT, tls_context=tls,
                   require_starttls=True, auth_required=True, auth_require_tls=True,
                   authenticator=authenticator, ready_timeout=10)
    c.start()
    controller[0] = c


def down(ms):
    with lock:
        c, controller[0] = controller[0], None
    if c is not None:
        def close_all():
            for t in list(live):
                t.abort()
        c.loop.call_soon_threadsafe(close_all)
        c.stop()
    threading.Timer(ms / 1000, start).start()


class Control(JsonHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        to = urllib.parse.parse_qs(url.query).get("to", [""])[0].lower()
        with lock:
            if url.path == "/_smtp/messages":
                return self.reply(200, [m for m in messages if not to or to in m["to"]])
            if url.path == "/_smtp/attempts":
                return self.reply(200, {"data": attempts.get(to, 0)})
        self.send_error(404)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/_smtp/rules":
            with lock:
                for addr, rule in body.items():
                    rules[addr.lower()] = rule
            return self.reply(200, {})
        if self.path == "/_smtp/down":
            down(int(body.get("ms", 1000)))
            return self.reply(200, {})
        self.send_error(404)


start()
server = ThreadingHTTPServer(("127.0.0.1", CONTROL_PORT), Control)
print("smtp-server: listening", flush=True)
server.serve_forever()
