#!/usr/bin/python3
"""A faithful local fake of the EU's VIES REST interface, for the tests of
the company service (no network here). It speaks what the real one speaks
(shared/notes/vies.md, the official Swagger "Vies on-the-Web Endpoint"):

  POST <base>/check-vat-number        {countryCode, vatNumber, requester...}
  POST <base>/check-vat-test-service  the documented test numbers: 100 valid,
                                      200 invalid, 201 INVALID_INPUT, 202
                                      INVALID_REQUESTER_INFO, 300
                                      SERVICE_UNAVAILABLE, 301 MS_UNAVAILABLE,
                                      302 TIMEOUT, 400 VAT_BLOCKED, 401
                                      IP_BLOCKED, 500/501 GLOBAL_MAX_..., 600/601
                                      MS_MAX_...
  GET  <base>/check-status            {vow:{available}, countries:[{countryCode,
                                      availability}]}

An answer: {countryCode, vatNumber, requestDate (ISO date-time), valid,
requestIdentifier (only when the requester fields are sent), name, address
(lines joined with "\\n"; "---" when the member state withholds them)}. An
error: {actionSucceed: false, errorWrappers: [{error, message}]}, sent with an
HTTP 500 or, as the real service sometimes does, inside a 200.

Control, for the tests (under /_fake/):
  POST /_fake/numbers   {"DE123456789": {"valid": true, "name": ..., "address": ...}
                         or {"error": "MS_MAX_CONCURRENT_REQ", "http": 200},
                         optionally "delay_ms", or "hold": true (answers once released)}
  POST /_fake/release   {"vat": "DE123456789"}: held calls of that number answer
  GET  /_fake/held      {"DE123456789": 1}: calls being held now
  POST /_fake/countries {"DE": false}   availability per member state (check-status;
                                         an unavailable state answers MS_UNAVAILABLE)
  POST /_fake/down      {"down": true}  every call answers SERVICE_UNAVAILABLE (500)
  GET  /_fake/calls     {"DE123456789": 3, ...}: check-vat-number calls received
  POST /_fake/reset
Unknown numbers are invalid. A requester (requesterMemberStateCode and
requesterNumber) gets a requestIdentifier, unless it is a number set with
"valid": false: then INVALID_REQUESTER_INFO, as the real service answers.
Usage: fake_vies.py PORT (prints "fake-vies: listening").
"""
import datetime
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATES = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU",
          "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI"]
TEST_NUMBERS = {"201": "INVALID_INPUT", "202": "INVALID_REQUESTER_INFO",
                "300": "SERVICE_UNAVAILABLE", "301": "MS_UNAVAILABLE", "302": "TIMEOUT",
                "400": "VAT_BLOCKED", "401": "IP_BLOCKED", "500": "GLOBAL_MAX_CONCURRENT_REQ",
                "501": "GLOBAL_MAX_CONCURRENT_REQ_TIME", "600": "MS_MAX_CONCURRENT_REQ",
                "601": "MS_MAX_CONCURRENT_REQ_TIME"}

lock = threading.Lock()
state = {}


def reset():
    with lock:
        state.clear()
        state.update(numbers={}, countries={cc: True for cc in STATES}, down=False, calls={},
                     held={}, releases={})


reset()


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without TCP_NODELAY a client on a
    # kept-alive connection waits for its delayed ACK (40 ms) before the body.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, code, obj):
        body = json.dumps(obj).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, code, error, http=500):
        self._send(http, {"actionSucceed": False,
                          "errorWrappers": [{"error": error, "message": error.lower()}]})
        del code

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            return None

    def do_GET(self):
        if self.path == "/_fake/calls":
            with lock:
                return self._send(200, dict(state["calls"]))
        if self.path == "/_fake/held":
            with lock:
                return self._send(200, {k: v for k, v in state["held"].items() if v})
        if self.path.endswith("/check-status"):
            with lock:
                countries = [{"countryCode": cc, "availability":
                              "Available" if ok and not state["down"] else "Unavailable"}
                             for cc, ok in sorted(state["countries"].items())]
                return self._send(200, {"vow": {"available": not state["down"]},
                                        "countries": countries})
        self._send(404, {"error": "not found"})

    def do_POST(self):
        body = self._body()
        if self.path.startswith("/_fake/"):
            with lock:
                if self.path == "/_fake/numbers":
                    state["numbers"].update(body)
                elif self.path == "/_fake/countries":
                    state["countries"].update(body)
                elif self.path == "/_fake/down":
                    state["down"] = bool(body.get("down"))
                elif self.path == "/_fake/release":
                    state["releases"].setdefault(body["vat"], threading.Event()).set()
                elif self.path != "/_fake/reset":
                    return self._send(404, {"error": "no such control"})
            if self.path == "/_fake/reset":
                reset()
            return self._send(200, {"ok": True})
        test = self.path.endswith("/check-vat-test-service")
        if not (test or self.path.endswith("/check-vat-number")):
            return self._send(404, {"error": "not found"})
        if not isinstance(body, dict):
            return self._error(400, "INVALID_INPUT", 400)
        cc = str(body.get("countryCode") or "")
        number = str(body.get("vatNumber") or "")
        requester = body.get("requesterNumber")
        if len(cc) != 2 or not cc.isalpha() or not 2 <= len(number) <= 12:
            return self._error(400, "INVALID_INPUT", 400)
        with lock:
            state["calls"][cc + number] = state["calls"].get(cc + number, 0) + 1
            down = state["down"]
            available = state["countries"].get(cc, False)
            known = state["numbers"].get(cc + number)
        if known and known.get("delay_ms"):
            time.sleep(known["delay_ms"] / 1000.0)
        if known and known.get("hold"):
            with lock:
                state["held"][cc + number] = state["held"].get(cc + number, 0) + 1
                release = state["releases"].setdefault(cc + number, threading.Event())
            release.wait(60)
            with lock:
                state["held"][cc + number] -= 1
        if down:
            return self._error(500, "SERVICE_UNAVAILABLE")
        if test:
            if number in TEST_NUMBERS:
                return self._error(500, TEST_NUMBERS[number])
            known = {"valid": number == "100", "name": "Test Company", "address": "Test Street 1\n1000 Test City"}
        elif not available:
            return self._error(500, "MS_UNAVAILABLE")
        if known and known.get("error"):
            return self._error(500, known["error"], known.get("http", 500))
        known = known or {"valid": False, "name": "---", "address": "---"}
        answer = {"countryCode": cc, "vatNumber": number, "requestDate": now_iso(),
                  "valid": bool(known.get("valid")),
                  "name": known.get("name", "---"), "address": known.get("address", "---")}
        if requester:
            answer["requestIdentifier"] = "WAPI" + uuid.uuid4().hex[:12].upper()
            # As the real one: a requester VIES does not know as valid is refused.
            rcc = str(body.get("requesterMemberStateCode") or "")
            with lock:
                who = state["numbers"].get(rcc + str(requester))
            if who is not None and not who.get("valid"):
                return self._error(400, "INVALID_REQUESTER_INFO", 400)
        self._send(200, answer)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("fake-vies: listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
