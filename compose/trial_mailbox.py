#!/usr/bin/python3
"""The trial mailbox of `make run`: when no SMTP server (CRM_SMTP_URL) or SMS
provider (CRM_SMS_URL) is configured, compose/stack.sh runs this on loopback
so that the suite works out of the box. Nothing leaves the machine:

- an SMTP server (Debian's aiosmtpd, run with /usr/bin/python3) that accepts
  every message and keeps it whole in a Maildir, DIR/mail (new/, cur/, tmp/);
- an SMS sink speaking the provider request the notify service sends
  (docs/notify.md, "SMS"), keeping each SMS as one JSON line in DIR/sms.jsonl.

The notify service reads both back for the UI's trial mailbox.
Usage: trial_mailbox.py SMTP_PORT SMS_PORT DIR TOKEN
"""
import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

SMTP_PORT, SMS_PORT, DIR, TOKEN = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.makedirs(DIR, exist_ok=True)
SMS_FILE = os.path.join(DIR, "sms.jsonl")
lock = threading.Lock()


class Sink(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def _reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if self.path != "/sms":
            return self._reply(404, {"error": "POST /sms"})
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self._reply(401, {"error": "bad token"})
        length = int(self.headers.get("Content-Length", 0))
        if length > 1 << 20:
            return self._reply(413, {"error": "too large"})
        try:
            body = json.loads(self.rfile.read(length))
            record = {k: body[k] for k in ("reference", "to", "from", "text", "encoding", "parts")}
        except (ValueError, KeyError, TypeError):
            return self._reply(400, {"error": "bad request"})
        record["id"] = str(uuid.uuid4())
        record["receivedAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with lock, open(SMS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._reply(202, {"id": record["id"]})


controller = Controller(Mailbox(os.path.join(DIR, "mail")), hostname="127.0.0.1", port=SMTP_PORT)
controller.start()
server = ThreadingHTTPServer(("127.0.0.1", SMS_PORT), Sink)
print("trial mailbox: SMTP on 127.0.0.1:%d, SMS on http://127.0.0.1:%d/sms, kept in %s"
      % (SMTP_PORT, SMS_PORT, DIR), flush=True)
try:
    server.serve_forever()
finally:
    controller.stop()
