"""A customer's files and the terms signed on a tablet (services/notes,
notes_files*.c) through the gateway: upload, list, download (the same bytes,
as an attachment that never renders), rename, delete; every limit; tenants
apart; scopes; the timeline's entries; erasure with the customer; the terms'
versions and a signature PNG checked on the server.
"""

import base64
import hashlib
import http.client
import os
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse
import zlib

import crm
import webdriver
from crm import api, q, unique, wait_until

MAX_BYTES = 10 * 1024 * 1024  # file_max_bytes' default
GATEWAY_MAX = 32 * 1024 * 1024  # the upload route's body limit
PER_CUSTOMER = 200  # files_per_customer's default


def _tenant():
    tenant = crm.crmctl(["tenant", "create", unique("Files"), "--country", "BG"]).strip()
    key = crm.crmctl(["key", "create", "--tenant", tenant, "--role", "admin",
                      "--name", "Admin " + unique("a")]).strip()
    return tenant, key


def _key(tenant, role, name):
    return crm.crmctl(["key", "create", "--tenant", tenant, "--role", role, "--name", name]).strip()


def _customer(key=crm.DEFAULT):
    st, _, js = api("POST", "/v1/customers", {"firstName": "Мария", "lastName": unique("Иванова")},
                    key=key)
    assert st == 201, js
    return js


def _upload(cid, data, filename, ctype="application/octet-stream", key=crm.DEFAULT):
    return api("POST", q(f"/v1/customers/{cid}/files", filename=filename), raw=data,
               headers={"Content-Type": ctype}, key=key)


def _violation(js, field):
    for d in js.get("error", {}).get("details", []):
        if d.get("field") == field:
            return d.get("reason")
    return None


def _png(width, height, pixel):
    """An RGBA PNG whose every pixel is pixel(x, y) -> 4 bytes."""
    raw = b"".join(b"\0" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _stroke(x, y):
    """A diagonal line in black on transparent, as a signature pad draws."""
    return b"\0\0\0\xff" if abs(x - y) < 2 else b"\0\0\0\0"


def _timeline(cid, key=crm.DEFAULT):
    st, _, js = api("GET", q(f"/v1/customers/{cid}/timeline", kind="FILE"), key=key)
    assert st == 200, js
    return js.get("entries", [])


def test_upload_list_download_same_bytes():
    c = _customer()
    data = os.urandom(300 * 1024) + bytes(range(256))
    name = "Договор – łódź \"2026\".pdf"
    st, hdr, js = _upload(c["id"], data, name, "application/pdf")
    assert st == 201, js
    assert js["filename"] == name and js["contentType"] == "application/pdf", js
    assert int(js["size"]) == len(data) and js["sha256"] == hashlib.sha256(data).hexdigest(), js
    assert js["kind"] == "FILE" and js["createdBy"]["id"], js
    assert hdr["Location"] == f"/v1/customers/{c['id']}/files/{js['id']}", hdr
    fid = js["id"]

    st, _, lst = api("GET", f"/v1/customers/{c['id']}/files")
    assert st == 200 and [f["id"] for f in lst["files"]] == [fid], lst
    st, _, one = api("GET", f"/v1/customers/{c['id']}/files/{fid}")
    assert st == 200 and one["filename"] == name, one

    st, hdr, body = api("GET", f"/v1/customers/{c['id']}/files/{fid}/content")
    assert st == 200 and body == data
    assert hdr["Content-Type"] == "application/pdf", hdr
    assert hdr["X-Content-Type-Options"] == "nosniff", hdr
    assert "sandbox" in hdr["Content-Security-Policy"], hdr
    cd = hdr["Content-Disposition"]
    assert cd.startswith("attachment; filename=\""), cd
    star = cd.split("filename*=UTF-8''", 1)[1]
    assert urllib.parse.unquote(star, encoding="utf-8") == name, cd
    # The ASCII fallback holds no quote that would end it early.
    assert cd.split('"')[1].count("\\") == 0 and "\"2026\"" not in cd, cd

    # A name of plain ASCII has no filename*.
    st, _, js = _upload(c["id"], b"plain", "notes.txt", "text/plain; charset=utf-8")
    assert st == 201, js
    st, hdr, body = api("GET", f"/v1/customers/{c['id']}/files/{js['id']}/content")
    assert body == b"plain" and hdr["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert hdr["Content-Type"] == "text/plain; charset=utf-8", hdr

    # Rename keeps the bytes.
    st, _, js2 = api("PATCH", f"/v1/customers/{c['id']}/files/{js['id']}", {"filename": "a/b\\c.md"})
    assert st == 200 and js2["filename"] == "c.md", js2
    st, _, lst = api("GET", f"/v1/customers/{c['id']}/files")
    assert [f["filename"] for f in lst["files"]] == ["c.md", name], lst


def test_hostile_uploads_never_render():
    c = _customer()
    for ctype, body in [("text/html", b"<script>alert(1)</script>"),
                        ("image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
                        ("application/xhtml+xml; charset=utf-8", b"<html/>"),
                        ("TEXT/HTML", b"<b>x</b>")]:
        st, _, js = _upload(c["id"], body, "x.html", ctype)
        assert st == 201, js
        st, hdr, got = api("GET", f"/v1/customers/{c['id']}/files/{js['id']}/content")
        assert st == 200 and got == body
        assert hdr["Content-Type"] == "application/octet-stream", (ctype, hdr)
        assert hdr["Content-Disposition"].startswith("attachment;"), hdr
        assert hdr["X-Content-Type-Options"] == "nosniff", hdr


def test_limits():
    c = _customer()
    path = f"/v1/customers/{c['id']}/files"
    # Bytes per file: the setting answers 413 naming the field ...
    st, _, js = _upload(c["id"], b"\0" * (MAX_BYTES + 1), "big.bin")
    assert st == 413 and _violation(js, "data") == "TOO_LARGE", (st, js)
    st, _, js = _upload(c["id"], b"\0" * MAX_BYTES, "exactly.bin")
    assert st == 201, js
    # ... and the route's own limit, past which the gateway takes nothing.
    st, _, js = _upload(c["id"], b"\0" * (GATEWAY_MAX + 1), "huge.bin")
    assert st == 413 and js["error"]["status"] == "RESOURCE_EXHAUSTED", (st, js)
    # Names: required, at most 255 characters, no control characters.
    st, _, js = api("POST", path, raw=b"x", headers={"Content-Type": "text/plain"})
    assert st == 400 and _violation(js, "filename") == "REQUIRED", js
    st, _, js = _upload(c["id"], b"x", "ä" * 256)
    assert st == 400 and _violation(js, "filename") == "TOO_LONG", js
    st, _, js = _upload(c["id"], b"x", "ä" * 255)
    assert st == 201, js
    st, _, js = _upload(c["id"], b"x", "a\x01b.txt")
    assert st == 400 and _violation(js, "filename") == "INVALID", js
    st, _, js = _upload(c["id"], b"x", "..")
    assert st == 400 and _violation(js, "filename") == "INVALID", js
    # Not UTF-8: refused at the edge.
    st, _, js = api("POST", path + "?filename=%FF.txt", raw=b"x", headers={"Content-Type": "text/plain"})
    assert st == 400 and [d for d in js["error"]["details"] if d["field"] == "filename"], js
    # An empty file, a media type that is none.
    st, _, js = _upload(c["id"], b"", "empty.txt")
    assert st == 400 and _violation(js, "data") == "REQUIRED", js
    st, _, js = _upload(c["id"], b"x", "x.txt", "not a type")
    assert st == 400 and _violation(js, "contentType") == "INVALID_FORMAT", js
    # A customer that does not exist.
    st, _, js = _upload("00000000-0000-4000-8000-000000000000", b"x", "x.txt")
    assert st == 404, js


def test_files_per_customer():
    c = _customer()
    for i in range(PER_CUSTOMER):
        st, _, js = _upload(c["id"], b"%d" % i, "f%d.txt" % i)
        assert st == 201, (i, js)
    st, _, js = _upload(c["id"], b"one more", "over.txt")
    assert st == 400 and _violation(js, "customerId") == "TOO_MANY_FILES", js
    st, _, lst = api("GET", f"/v1/customers/{c['id']}/files")
    assert len(lst["files"]) == PER_CUSTOMER
    # Deleting one makes room.
    assert api("DELETE", f"/v1/customers/{c['id']}/files/{lst['files'][0]['id']}")[0] == 204
    st, _, js = _upload(c["id"], b"fits", "again.txt")
    assert st == 201, js


test_files_per_customer.timeout = 300


def test_tenants_apart_and_scopes():
    tenant, key = _tenant()
    c = _customer(key)
    st, _, f = _upload(c["id"], b"secret", "secret.txt", key=key)
    assert st == 201, f
    base = f"/v1/customers/{c['id']}/files"
    # Another tenant's administrator sees nothing of it.
    _, other = _tenant()
    st, _, js = api("GET", base, key=other)
    assert st == 404, js
    # A customer of one's own without files has an empty list.
    st, _, js = api("GET", "/v1/customers/%s/files" % _customer(other)["id"], key=other)
    assert st == 200 and js.get("files", []) == [], js
    for method, path in [("GET", f"{base}/{f['id']}"), ("GET", f"{base}/{f['id']}/content"),
                         ("DELETE", f"{base}/{f['id']}")]:
        assert api(method, path, key=other)[0] == 404, (method, path)
    st, _, js = _upload(c["id"], b"x", "x.txt", key=other)
    assert st == 404, js
    assert api("PATCH", f"{base}/{f['id']}", {"filename": "y"}, key=other)[0] == 404
    # A read-only key reads and downloads, and writes nothing.
    ro = _key(tenant, "readonly", "Reader " + unique("r"))
    assert api("GET", base, key=ro)[0] == 200
    st, _, body = api("GET", f"{base}/{f['id']}/content", key=ro)
    assert st == 200 and body == b"secret"
    assert _upload(c["id"], b"x", "x.txt", key=ro)[0] == 403
    assert api("DELETE", f"{base}/{f['id']}", key=ro)[0] == 403
    assert api("PUT", "/v1/terms", {"text": "T"}, key=ro)[0] == 403
    st, _, body = api("GET", f"{base}/{f['id']}/content", key=key)
    assert st == 200 and body == b"secret"


def test_delete_and_timeline():
    c = _customer()
    st, _, f = _upload(c["id"], b"abc", "zdjęcie.jpg", "image/jpeg")
    assert st == 201, f
    assert api("DELETE", f"/v1/customers/{c['id']}/files/{f['id']}")[0] == 204
    assert api("DELETE", f"/v1/customers/{c['id']}/files/{f['id']}")[0] == 404
    assert api("GET", f"/v1/customers/{c['id']}/files/{f['id']}/content")[0] == 404
    entries = _timeline(c["id"])
    assert [e["type"] for e in entries] == ["file.deleted", "file.added"], entries
    for e in entries:
        assert e["kind"] == "FILE" and e["actor"], e
        assert e["file"]["filename"] == "zdjęcie.jpg" and e["file"]["id"] == f["id"], e


def test_customer_deletion_erases_files():
    c = _customer()
    st, _, f = _upload(c["id"], b"personal", "passport.jpg", "image/jpeg")
    assert st == 201, f
    st, _, cur = api("GET", f"/v1/customers/{c['id']}")
    st, _, _ = api("DELETE", f"/v1/customers/{c['id']}", headers={"If-Match": '"%s"' % cur["etag"]})
    assert st == 204

    def erased():
        n = crm.psql_rows("SELECT count(*) FROM notes.files WHERE customer_id = '%s'" % c["id"])
        return n[0][0] == "0"
    wait_until(erased, timeout=20, what="the customer's files erased")
    rows = crm.psql_rows("SELECT details::text FROM notes.timeline WHERE customer_id = '%s' "
                         "AND kind = 'FILE'" % c["id"])
    assert rows and all("passport" not in r[0] for r in rows), rows


def test_terms_and_signature():
    tenant, key = _tenant()
    c = _customer(key)
    st, _, t = api("GET", "/v1/terms", key=key)
    assert st == 200 and t.get("version", 0) == 0, t
    drawn = _png(64, 32, _stroke)
    body = {"version": 1, "signature": base64.b64encode(drawn).decode()}
    sign = f"/v1/customers/{c['id']}/files:signTerms"
    st, _, js = api("POST", sign, body, key=key)
    assert st == 412, js  # no terms yet
    text1 = "Общи условия\nВерсия едно."
    st, _, t = api("PUT", "/v1/terms", {"text": text1}, key=key)
    assert st == 200 and t["version"] == 1, t
    assert t["sha256"] == hashlib.sha256(text1.encode()).hexdigest(), t
    st, _, t = api("PUT", "/v1/terms", {"text": text1}, key=key)
    assert t["version"] == 1, t  # the same text is the same version
    text2 = text1 + "\nВтора точка."
    st, _, t = api("PUT", "/v1/terms", {"text": text2}, key=key)
    assert t["version"] == 2, t
    st, _, js = api("PUT", "/v1/terms", {"text": " "}, key=key)
    assert st == 400 and _violation(js, "terms.text") == "REQUIRED", js
    st, _, js = api("PUT", "/v1/terms", {"text": "x" * 20001}, key=key)
    assert st == 400 and _violation(js, "terms.text") == "TOO_LONG", js

    # The customer saw version 1: signing it now is refused.
    st, _, js = api("POST", sign, body, key=key)
    assert st == 412 and _violation(js, "version") == "STALE", js
    b64 = base64.b64encode
    # An empty pad, something that is not a PNG, a PNG of silly size.
    for png, reason in [(_png(64, 32, lambda x, y: b"\0\0\0\0"), "REQUIRED"),
                        (b"GIF89a" + b"\0" * 64, "INVALID_FORMAT"),
                        (_png(8, 8, _stroke), "INVALID_FORMAT"),
                        (drawn[:-20], "INVALID_FORMAT")]:
        st, _, js = api("POST", sign, {"version": 2, "signature": b64(png).decode()}, key=key)
        assert st == 400 and _violation(js, "signature") == reason, (reason, js)
    st, _, js = api("POST", sign, {"version": 2}, key=key)
    assert st == 400 and _violation(js, "signature") == "REQUIRED", js
    # Over 512 KiB the service refuses it before looking inside.
    big = drawn + os.urandom(512 * 1024)
    st, _, js = api("POST", sign, {"version": 2, "signature": b64(big).decode()}, key=key)
    assert st == 413 and _violation(js, "signature") == "TOO_LARGE", (st, js)

    st, _, f = api("POST", sign, {"version": 2, "signature": b64(drawn).decode()}, key=key)
    assert st == 201, f
    assert f["kind"] == "SIGNATURE" and f["termsVersion"] == 2, f
    assert f["termsSha256"] == hashlib.sha256(text2.encode()).hexdigest(), f
    assert f["contentType"] == "image/png" and f["createdBy"]["name"], f
    st, hdr, got = api("GET", f"/v1/customers/{c['id']}/files/{f['id']}/content", key=key)
    assert st == 200 and got == drawn and hdr["Content-Type"] == "image/png"
    st, _, lst = api("GET", q(f"/v1/customers/{c['id']}/files", kind="SIGNATURE"),
                     key=key)
    assert [x["id"] for x in lst["files"]] == [f["id"]], lst
    entries = _timeline(c["id"], key=key)
    assert entries[0]["type"] == "terms.signed" and entries[0]["file"]["termsVersion"] == 2, entries


# ------------------------------------------------------------------ the UI

def _draw(b, css):
    """Draws a stroke across the element with the pointer, as a hand would."""
    el = b.find(css)
    b.js("arguments[0].scrollIntoView({block: 'center'});", {webdriver.ELEMENT: el.ref})
    origin = {webdriver.ELEMENT: el.ref}
    b.cmd("POST", "/actions", {"actions": [{
        "type": "pointer", "id": "pen", "parameters": {"pointerType": "mouse"},
        "actions": [
            {"type": "pointerMove", "origin": origin, "x": -100, "y": 10, "duration": 0},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerMove", "origin": "pointer", "x": 60, "y": -30, "duration": 80},
            {"type": "pointerMove", "origin": "pointer", "x": 80, "y": 40, "duration": 80},
            {"type": "pointerUp", "button": 0}]}]})
    b.cmd("DELETE", "/actions")


def _fits(b):
    """At this width the page does not scroll sideways, and nothing of the
    files section or the tablet page sticks out."""
    overflow = b.js("return document.documentElement.scrollWidth - "
                    "document.documentElement.clientWidth;")
    wide = b.js("""
        const w = document.documentElement.clientWidth;
        return Array.from(document.querySelectorAll(
            '#files-section, #files-section *, .sign-page, .sign-page *'))
          .filter(el => el.getBoundingClientRect().right > w + 1 && el.getBoundingClientRect().width > 1)
          .slice(0, 8).map(el => el.tagName + '.' + el.className + '#' + el.id + ' '
                           + Math.round(el.getBoundingClientRect().right));""")
    assert overflow <= 1 and not wide, (overflow, wide)


def _ui_files_and_signature(lang, texts):
    from test_ui import SHOTS, _browser, _no_js_errors, _open, _sign_in

    st, _, _ = api("PUT", "/v1/terms", {"text": "Общи условия: " + unique("v")})
    assert st == 200
    c = _customer()
    name = "Сканиране %s.txt" % unique("d")
    path = os.path.join(tempfile.mkdtemp(prefix="crm-ui-files-"), name)
    with open(path, "wb") as fh:
        fh.write(b"scanned bytes")
    with _browser("files-" + lang) as b:
        _sign_in(b)
        b.js("localStorage.setItem('crm.lang', arguments[0]);", lang)
        try:
            b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
            _open(b, "/customers/" + c["id"])
            b.wait("#files-section")
            assert b.find("#files-title").text == texts["title"]
            b.wait_text("#signature-latest", texts["noSignature"])
            # Upload: the file picker gets the file, the list shows it.
            b.find("#file-upload").send_keys(path)
            b.wait_text("#files", name)
            item = b.find("#files .file-item")
            assert "13" in item.find(".file-meta").text, item.text
            st, _, lst = api("GET", "/v1/customers/%s/files" % c["id"])
            assert [f["filename"] for f in lst["files"]] == [name], lst
            _fits(b)
            b.full_screenshot(os.path.join(SHOTS, "files-%s-card.png" % lang))
            # The tablet page: no top bar, the name only, the terms, the pad.
            b.find("#sign-on-tablet").click()
            b.wait("#signature-pad")
            assert not b.find(".topbar").displayed()
            assert b.find("#sign-for").text == texts["for"] % (c["firstName"] + " " + c["lastName"])
            # Nothing else of the customer's is on the page.
            assert c["id"] not in b.js("return document.body.innerText;")
            # An empty pad is refused in the page.
            b.find("#terms-accept").click()
            b.wait_text(".sign-message", texts["empty"])
            _draw(b, "#signature-pad")
            assert b.find("#signature-pad").attr("data-strokes") == "1"
            _fits(b)
            b.full_screenshot(os.path.join(SHOTS, "files-%s-tablet.png" % lang))
            b.find("#terms-accept").click()
            b.wait("#sign-done")
            b.find("#sign-back").click()
            # Back on the card: the signature and its version; the timeline says so.
            b.wait("#signature-latest img.signature-image")
            st, _, t = api("GET", "/v1/terms")
            b.wait_text("#signature-version", "v%d" % t["version"])
            b.wait_text("#timeline", texts["signed"] % t["version"])
            b.wait_until(lambda: b.js(
                "const i = document.querySelector('#signature-latest img');"
                "return i && i.complete && i.naturalWidth > 0;"), what="the signature image shown")
            _fits(b)
            b.full_screenshot(os.path.join(SHOTS, "files-%s-signed.png" % lang))
            st, _, lst = api("GET", q("/v1/customers/%s/files" % c["id"], kind="SIGNATURE"))
            assert len(lst["files"]) == 1 and lst["files"][0]["termsVersion"] == t["version"], lst
            _no_js_errors(b)
        finally:
            b.js("localStorage.removeItem('crm.lang');")


def test_ui_files_and_signature_in_bulgarian():
    _ui_files_and_signature("bg", {"title": "Файлове",
                                   "noSignature": "Клиентът все още не е подписал общите условия.",
                                   "for": "За %s", "empty": "Моля, подпишете се, преди да приемете.",
                                   "signed": "Подписани общи условия v%d"})


def test_ui_files_and_signature_in_english():
    _ui_files_and_signature("en", {"title": "Files",
                                   "noSignature": "The customer has not signed the terms yet.",
                                   "for": "For %s", "empty": "Please sign before you accept.",
                                   "signed": "Terms v%d signed"})


test_ui_files_and_signature_in_bulgarian.timeout = 180
test_ui_files_and_signature_in_english.timeout = 180


def _metric(base, name):
    """An unlabelled metric of the gateway at base."""
    st, _, body = api("GET", base + "/metrics", key=None)
    assert st == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric %s" % name)


def _gateway_up(base):
    try:
        return api("GET", base + "/readyz", key=None, timeout=2)[0] == 200
    except OSError:
        return False


def test_the_gateways_body_budget():
    """Request bodies held in memory at once have a total budget
    (CRM_GATEWAY_BODY_BUDGET_BYTES): a body that would pass it gets 503 with
    Retry-After, and its bytes come back when a request ends. A gateway of
    its own with a budget of 3 MiB."""
    budget = 3 << 20
    port = crm.free_ports(1)[0]
    base = "http://127.0.0.1:%d" % port
    c = _customer()
    path = q(f"/v1/customers/{c['id']}/files", filename="held.bin")
    octets = {"Content-Type": "application/octet-stream"}
    with crm.extra_process("gateway", "gateway-budget", CRM_GATEWAY_HTTP_ADDR="127.0.0.1:%d" % port,
                           CRM_GATEWAY_BODY_BUDGET_BYTES=str(budget)):
        wait_until(lambda: _gateway_up(base), 30, what="the gateway with a small budget")
        held = lambda: _metric(base, "crm_http_body_bytes_held")  # noqa: E731
        assert held() == 0
        # A 2 MiB upload whose body is half sent holds 2 MiB of the budget.
        first = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        data = os.urandom(2 << 20)
        first.putrequest("POST", path)
        first.putheader("Authorization", "Bearer " + crm.KEY)
        first.putheader("Content-Type", "application/octet-stream")
        first.putheader("Content-Length", str(len(data)))
        first.endheaders()
        first.send(data[:1 << 20])
        wait_until(lambda: held() == len(data), 15, what="the first upload's bytes held")
        # Another 2 MiB does not fit now: 503, come back later.
        refused_before = _metric(base, "crm_http_body_budget_refusals_total")
        st, hdr, js = api("POST", base + path, raw=os.urandom(2 << 20), headers=octets)
        assert st == 503 and hdr["Retry-After"] == "1", (st, hdr, js)
        assert js["error"]["status"] == "UNAVAILABLE", js
        assert "request bodies" in js["error"]["message"], js
        # Nor does one of unknown length (chunked): it is refused as it comes.
        chunked = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        chunked.request("POST", path, body=iter([os.urandom(512 << 10)] * 4),
                        headers=dict(octets, Authorization="Bearer " + crm.KEY),
                        encode_chunked=True)
        r = chunked.getresponse()
        assert r.status == 503 and r.getheader("Retry-After") == "1", (r.status, r.read())
        r.read()
        chunked.close()
        assert _metric(base, "crm_http_body_budget_refusals_total") == refused_before + 2
        # A small body still fits beside it.
        st, _, js = api("POST", base + "/v1/customers", {"firstName": "B", "lastName": unique("L")})
        assert st == 201, js
        # The first upload ends and gives its bytes back.
        first.send(data[1 << 20:])
        r = first.getresponse()
        assert r.status == 201, (r.status, r.read())
        r.read()
        first.close()
        wait_until(lambda: held() == 0, 15, what="the budget given back")
        # A body larger than the whole budget can never fit: 413, not a retry.
        st, hdr, js = api("POST", base + path, raw=b"\0" * (budget + 1), headers=octets)
        assert st == 413 and "budget" in js["error"]["message"], (st, js)
        assert "Retry-After" not in hdr, hdr

        # Concurrent uploads of 1 MiB, more than fit at once: those refused
        # come back after Retry-After; in the end every one is stored once.
        results = {}

        def upload(i):
            body = os.urandom(1 << 20)
            deadline = time.monotonic() + 60
            while True:
                st, hdr, js = api("POST", base + q(f"/v1/customers/{c['id']}/files",
                                                   filename="c%d.bin" % i),
                                  raw=body, headers=octets)
                if st != 503 or time.monotonic() > deadline:
                    results[i] = (st, js)
                    return
                assert hdr["Retry-After"] == "1", hdr
                time.sleep(int(hdr["Retry-After"]))  # what a client is told to do

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        assert [results[i][0] for i in range(8)] == [201] * 8, results
        wait_until(lambda: held() == 0, 15, what="the budget given back")
    st, _, lst = api("GET", f"/v1/customers/{c['id']}/files")
    names = sorted(f["filename"] for f in lst["files"])
    assert names == sorted(["held.bin"] + ["c%d.bin" % i for i in range(8)]), names
    # The setting: shown by --print-config (256 MiB unless set), checked at start.
    gw = os.path.join(crm.BIN, "gateway")
    env = {k: v for k, v in crm.ENV.items() if not k.startswith("CRM_")}
    r = subprocess.run([gw, "--print-config"], env=env, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and "BODY_BUDGET_BYTES=268435456" in r.stdout, r
    env["CRM_GATEWAY_BODY_BUDGET_BYTES"] = str(budget)
    r = subprocess.run([gw, "--print-config"], env=env, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and "BODY_BUDGET_BYTES=%d" % budget in r.stdout, r
    env["CRM_GATEWAY_BODY_BUDGET_BYTES"] = "1000"
    r = subprocess.run([gw, "--print-config"], env=env, capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and "BODY_BUDGET_BYTES" in r.stderr, r
