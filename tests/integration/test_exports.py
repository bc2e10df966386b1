"""Export jobs (POST /v1/exports): built in the background by any copy of
exchange, watched with GET /v1/exports/{id}, downloaded from
GET /v1/exports/{id}/file until the file expires (docs/exchange.md, "Export
jobs"). The stack runs jobs at CRM_EXCHANGE_EXPORT_RATE=500 customers a
second (run.sh), so a job of a few thousand can be watched and killed."""
import os
import signal

import crm
from crm import api, q, unique
from test_exchange import _create, _export, _import, _rows, _sheet, _tenant, COLUMNS, XLSX


def _start(key, body, status=201):
    st, hdr, js = api("POST", "/v1/exports", body, key=key)
    assert st == status, (st, js)
    if status == 201:
        assert hdr["Location"] == "/v1/exports/" + js["id"], hdr
    return js


def _wait(key, job_id, timeout=120, states=("DONE", "FAILED")):
    seen = {}

    def ended():
        try:
            st, _, job = api("GET", "/v1/exports/" + job_id, key=key)
        except OSError:
            return False  # the gateway between two answers of a restarting service
        if st != 200:
            return False
        seen.clear()
        seen.update(job)
        return job["state"] in states

    crm.wait_until(ended, timeout=timeout, what="export %s to end" % job_id)
    return seen


def _file(key, job_id):
    return api("GET", "/v1/exports/%s/file" % job_id, key=key, timeout=120)


def _people(key, tag, n):
    """n customers with tag, made through one import (quicker than n POSTs)."""
    lines = ["firstName,lastName,email,tags,description"]
    for i in range(n):
        lines.append('J%05d,%s,%s,%s,"line one\nline ""two"", =1+%d"'
                     % (i, unique("L"), unique("j%d" % i) + "@example.com", tag, i))
    job = _import(key, ("\r\n".join(lines) + "\r\n").encode(), timeout=300)
    assert job["state"] == "DONE" and int(job.get("created", 0)) == n, job


def test_export_job_csv_semicolon_is_the_streamed_export():
    """A CSV job with the list's filters: progress to DONE, rowsWritten of
    rowsTotal, and a file row for row what GET /v1/customers:export gives."""
    key = _tenant()
    tag = unique("job").lower()
    _people(key, tag, 40)
    _create(key, {"firstName": "Not", "lastName": "Tagged", "email": unique("n") + "@example.com"})
    job = _start(key, {"format": "csv", "delimiter": ";", "tag": tag})
    assert job["state"] in ("QUEUED", "RUNNING", "DONE") and job["rowsTotal"] == "40", job
    assert job["format"] == "csv" and job["delimiter"] == ";" and job["filename"].endswith(".csv")
    done = _wait(key, job["id"])
    assert done["state"] == "DONE", done
    assert done["rowsWritten"] == done["rowsTotal"] == "40", done
    assert done["finishedAt"] and done["expiresAt"] > done["finishedAt"], done
    st, hdr, body = _file(key, job["id"])
    assert st == 200 and hdr["Content-Type"] == "text/csv; charset=utf-8", (st, hdr)
    assert hdr["Content-Disposition"] == 'attachment; filename="%s"' % done["filename"]
    assert int(done["size"]) == len(body)
    header, rows = _rows(body, ";")
    assert header == COLUMNS
    st, _, streamed = _export(key, tag=tag, delimiter=";")
    assert st == 200
    assert rows == _rows(streamed, ";")[1] and len(rows) == 40
    assert {r["tags"] for r in rows} == {tag}
    first = [r for r in rows if r["firstName"] == "J00000"]
    assert first[0]["description"] == 'line one\nline "two", =1+0', first


def test_export_job_xlsx_and_a_search_query():
    """An Excel job of what a search finds: a workbook with the header and
    one row per customer found."""
    key = _tenant()
    tag = unique("jx").lower()
    _people(key, tag, 12)
    mark = unique("Zyx")
    for i in range(3):
        _create(key, {"firstName": mark, "lastName": "Q%d" % i,
                      "email": unique("q%d" % i) + "@example.com"})

    def found():
        return len(api("GET", q("/v1/customers:search", q=mark), key=key)[2]
                   .get("customers", [])) == 3

    crm.wait_until(found, timeout=30, what="search to see the new customers")
    job = _start(key, {"format": "xlsx", "q": mark})
    done = _wait(key, job["id"])
    assert done["state"] == "DONE" and done["rowsWritten"] == "3", done
    st, hdr, body = _file(key, job["id"])
    assert st == 200 and hdr["Content-Type"] == XLSX, (st, hdr)
    _, rows = _sheet(body)
    assert [c[2] for c in rows[0].values()][:3] == COLUMNS[:3]
    assert sorted(r["B"][2] for r in rows[1:]) == [mark] * 3
    job = _start(key, {"format": "xlsx", "tag": tag})
    done = _wait(key, job["id"])
    assert done["state"] == "DONE" and done["rowsWritten"] == "12", done
    assert len(_sheet(_file(key, job["id"])[2])[1]) == 13


def test_export_job_bad_requests_name_the_field():
    key = _tenant()
    for body, field in (({"format": "pdf"}, "format"),
                        ({"format": "xlsx", "delimiter": ";"}, "delimiter"),
                        ({"delimiter": "|"}, "delimiter"),
                        ({"accountStatus": "SLEEPING"}, "accountStatus"),
                        ({"cursor": "c1.x"}, "cursor")):
        st, _, js = api("POST", "/v1/exports", body, key=key)
        assert st == 400, (body, st, js)
        assert field in [d["field"] for d in js["error"].get("details", [])] \
            or field in js["error"]["message"], (body, js)
    st, _, js = api("POST", "/v1/exports", raw="format=csv", key=key,
                    headers={"Content-Type": "text/plain"})
    assert st == 415, js
    missing = "00000000-0000-4000-8000-000000000000"
    assert api("GET", "/v1/exports/" + missing, key=key)[0] == 404
    assert _file(key, missing)[0] == 404
    assert api("GET", "/v1/exports/not-an-id", key=key)[0] == 404
    # Another tenant's job is not there.
    job = _start(key, {})
    assert api("GET", "/v1/exports/" + job["id"], key=_tenant())[0] == 404
    done = _wait(key, job["id"])
    assert done["state"] == "DONE" and done["rowsWritten"] == "0", done
    header, rows = _rows(_file(key, job["id"])[2])
    assert header == COLUMNS and rows == []
    st, _, js = api("GET", q("/v1/exports/%s/file" % job["id"]), key=key)
    assert st == 200


def test_export_job_file_gone_after_its_time_is_410():
    """Past expires_at the job says EXPIRED, the file answers 410 and its
    parts are removed from the database."""
    key = _tenant()
    job = _start(key, {"format": "csv"})
    done = _wait(key, job["id"])
    assert done["state"] == "DONE", done
    assert _file(key, job["id"])[0] == 200
    n = crm.psql("SELECT count(*) FROM exchange.export_parts WHERE export_id = '%s'" % job["id"])
    assert int(n) >= 1
    crm.psql("UPDATE exchange.exports SET expires_at = now() - interval '1 second' "
             "WHERE id = '%s'" % job["id"])
    assert api("GET", "/v1/exports/" + job["id"], key=key)[2]["state"] == "EXPIRED"
    st, _, js = _file(key, job["id"])
    assert st == 410 and js["error"]["status"] == "GONE", (st, js)
    n = crm.psql("SELECT count(*) FROM exchange.export_parts WHERE export_id = '%s'" % job["id"])
    assert int(n) == 0


def test_export_job_survives_sigkill_of_exchange_with_every_row_once():
    """exchange killed (SIGKILL) while a CSV job is halfway: once it is back
    (supervisord restarts it) the job is taken up again after its last
    committed part and its file holds every customer exactly once, one
    header, nothing cut."""
    key = _tenant()
    tag = unique("jk").lower()
    n = 3000
    _people(key, tag, n)
    job = _start(key, {"tag": tag})
    path = "/v1/exports/" + job["id"]

    def halfway():
        j = api("GET", path, key=key)[2]
        return j["state"] == "RUNNING" and 500 <= int(j.get("rowsWritten", 0)) < n

    crm.wait_until(halfway, timeout=120, what="the export to be halfway")
    st, _, js = _file(key, job["id"])
    assert st == 412 and "not done yet" in js["error"]["message"], (st, js)
    for pid in crm.pids("exchange"):
        os.kill(pid, signal.SIGKILL)
    done = _wait(key, job["id"], timeout=240)
    assert done["state"] == "DONE" and done["rowsWritten"] == str(n), done
    attempts = crm.psql("SELECT attempts FROM exchange.exports WHERE id = '%s'" % job["id"])
    assert int(attempts) == 2, attempts
    assert crm.logs_contain("exchange", "export %s taken up again after" % job["id"])
    st, _, body = _file(key, job["id"])
    assert st == 200
    header, rows = _rows(body)
    assert header == COLUMNS and body.count(b"\xef\xbb\xbf") == 1
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == n
    assert sorted(r["firstName"] for r in rows) == ["J%05d" % i for i in range(n)]
    crm.wait_ready(60)


def test_ui_export_job_in_polish_at_390_px():
    """The Import & export screen prepares an export in the background: the
    state and a progress bar while it runs, then a download of the file;
    every string in Polish, nothing wider than a phone."""
    from test_ui import SHOTS, _browser, _no_js_errors, _open

    key = _tenant()
    tag = unique("ju").lower()
    _people(key, tag, 1200)
    with _browser("exports") as b:
        b.get(crm.URL + "/")
        b.wait("input[name=apiKey]").send_keys(key)
        b.find(".signin-card button[type=submit]").click()
        b.wait("#customer-table")
        b.js("localStorage.setItem('crm.lang', 'pl');")
        b.cmd("POST", "/window/rect", {"width": 390, "height": 844})
        _open(b, "/exchange")
        b.js("location.reload();")
        b.wait_text("h1", "Import i eksport")
        b.js("document.getElementById('export-delimiter').value = ';';")
        b.find("#export-job-start").click()
        # Under way (500 customers a second in the test stack): a bar that moves.
        b.wait_text("#export-job-state", "z 1200 klientów", timeout=60)
        assert b.js("return document.querySelector('#export-job progress').max;") == 1200
        b.wait("#export-job-download", timeout=120)
        assert b.js("return document.querySelector('#export-job progress').value;") == 1200
        text = b.js("return document.getElementById('export-job').textContent;")
        assert "Plik jest gotowy." in text and "Dostępny do" in text, text
        assert "1200 z 1200 klientów" in text, text
        overflow = b.js("return document.documentElement.scrollWidth - "
                        "document.documentElement.clientWidth;")
        assert overflow <= 1, overflow
        b.full_screenshot(os.path.join(SHOTS, "export-job-narrow.png"))
        b.find("#export-job-download").click()
        b.wait_text("#export-status", "Pobrano customers-")
        b.js("localStorage.removeItem('crm.lang');")
        _no_js_errors(b)


def test_export_job_settings_in_print_config_and_checked():
    """The export jobs' settings show in --print-config; a bad one stops
    exchange at start, naming it."""
    import subprocess
    env = dict(crm.ENV, CRM_EXCHANGE_EXPORT_RATE="250", CRM_EXCHANGE_EXPORT_THREADS="3",
               CRM_EXCHANGE_FILE_HOURS="48")
    r = subprocess.run([os.path.join(crm.BIN, "exchange"), "--print-config"], env=env,
                       capture_output=True, text=True, timeout=20, cwd="/")
    assert r.returncode == 0, r
    for line in ("CRM_EXCHANGE_EXPORT_RATE=250", "CRM_EXCHANGE_EXPORT_THREADS=3",
                 "CRM_EXCHANGE_FILE_HOURS=48"):
        assert line in r.stdout.splitlines(), r.stdout
    for name, bad in (("CRM_EXCHANGE_EXPORT_THREADS", "9"), ("CRM_EXCHANGE_EXPORT_RATE", "-1"),
                      ("CRM_EXCHANGE_FILE_HOURS", "0")):
        r = subprocess.run([os.path.join(crm.BIN, "exchange"), "--print-config"],
                           env=dict(env, **{name: bad}), capture_output=True, text=True,
                           timeout=20, cwd="/")
        assert r.returncode == 2 and name in r.stderr and bad in r.stderr, r


def _taken_by(job_id):
    """The copy (host:pid:thread) that took a job, from exchange's logs."""
    import re
    for path in crm.log_files("exchange").values():
        with open(path, encoding="utf-8", errors="replace") as fh:
            m = re.search(r"export %s taken by (\S+)" % job_id, fh.read())
        if m:
            return m.group(1)
    return None


def test_export_jobs_shared_by_two_copies_of_exchange():
    """Two copies of exchange (run.sh: CRM_SCALE_EXCHANGE=2), one export
    thread each: two jobs started together are built at once, one by each
    copy (exchange.claim_export, FOR UPDATE SKIP LOCKED), and both files are
    whole."""
    assert len(crm.pids("exchange")) == 2, crm.pids("exchange")
    key = _tenant()
    tag = unique("js").lower()
    _people(key, tag, 1500)
    a = _start(key, {"tag": tag})
    b = _start(key, {"tag": tag, "delimiter": ";"})
    for job, delim in ((a, ","), (b, ";")):
        done = _wait(key, job["id"])
        assert done["state"] == "DONE" and done["rowsWritten"] == "1500", done
        assert len(_rows(_file(key, job["id"])[2], delim)[1]) == 1500
    owners = crm.wait_until(lambda: (_taken_by(a["id"]), _taken_by(b["id"])) if
                            _taken_by(a["id"]) and _taken_by(b["id"]) else None,
                            timeout=10, what="both jobs' claims in the logs")
    pids = {o.split(":")[1] for o in owners}
    assert len(pids) == 2, owners
