#!/usr/bin/python3
"""A local fake of an SMS provider's HTTP API, speaking the request format the
notify service documents (docs/notify.md, "SMS"):

  POST /sms   Authorization: Bearer TOKEN, Idempotency-Key: REF
              {"reference", "to", "from", "text", "encoding": "GSM7"|"UCS2", "parts"}
  -> 202 {"id": "..."}   401 for a wrong token, 400 for a bad body

Control, for the tests (under /_sms/):
  POST /_sms/fail    {"count": 3, "status": 503}  the next 3 sends answer 503
  POST /_sms/reject  {"to": "+48..."}             sends to that number answer 400
  GET  /_sms/messages?to=+48...                   what was accepted, in order
  GET  /_sms/requests?to=+48...                   {"count": n} every send tried
Usage: sms_provider.py PORT TOKEN (prints "sms-provider: listening").
"""
import json
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import ThreadingHTTPServer

from jsonhttp import JsonHandler

PORT, TOKEN = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
accepted = []
requests = {}
fail = {"count": 0, "status": 503}
rejected = set()


class Handler(JsonHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        to = urllib.parse.parse_qs(url.query).get("to", [""])[0]
        with lock:
            if url.path == "/_sms/messages":
                return self.reply(200, [m for m in accepted if not to or m["to"] == to])
            if url.path == "/_sms/requests":
                return self.reply(200, {"count": requests.get(to, 0)})
        self.reply(404, {"error": "no such path"})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.startswith("/_sms/"):
            body = json.loads(raw or b"{}")
            with lock:
                if self.path == "/_sms/fail":
                    fail.update(body)
                elif self.path == "/_sms/reject":
                    rejected.add(body["to"])
            return self.reply(200, {})
        if self.path != "/sms":
            return self.reply(404, {"error": "no such path"})
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.reply(401, {"error": "bad token"})
        try:
            body = json.loads(raw)
            to, text = body["to"], body["text"]
            assert body["encoding"] in ("GSM7", "UCS2") and body["parts"] >= 1
        except (ValueError, KeyError, AssertionError, TypeError):
            return self.reply(400, {"error": "bad request"})
        with lock:
            requests[to] = requests.get(to, 0) + 1
            if fail["count"] > 0:
                fail["count"] -= 1
                return self.reply(fail["status"], {"error": "provider trouble, try later"})
            if to in rejected:
                return self.reply(400, {"error": "number not reachable"})
            mid = str(uuid.uuid4())
            accepted.append({"id": mid, "to": to, "from": body.get("from"), "text": text,
                             "encoding": body["encoding"], "parts": body["parts"],
                             "reference": body.get("reference"),
                             "idempotencyKey": self.headers.get("Idempotency-Key"),
                             "at": time.time()})
        self.reply(202, {"id": mid})


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print("sms-provider: listening", flush=True)
server.serve_forever()
