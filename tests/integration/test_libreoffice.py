"""The export as another spreadsheet program reads it, and a workbook that
program saved, imported: Debian's libreoffice-calc-nogui, headless, converts
the exported CSV (comma and semicolon) and XLSX to CSV, which must hold the
same rows as the export; and the exported CSV saved by it as .xlsx imports
with the right counts (docs/exchange.md). Each conversion runs with a
private profile (-env:UserInstallation) under the test's own directory;
LibreOffice's first start with a new profile is slow, so a test waits for
the output file (a generous bound), never a fixed time."""
import csv
import io
import os
import shutil
import subprocess
import tempfile

import crm
from crm import unique
from test_exchange import COLUMNS, XLSX, _counts, _create, _export, _full, _import, _rows, _tenant

SOFFICE = shutil.which("soffice") or "/usr/bin/soffice"
# The CSV filter's options (LibreOffice's "Filter Options for the CSV Filter"):
# separator, text delimiter, character set (76: UTF-8), first line, and then
# per column a format (2: text), so that what is read is what the file says;
# on export, "quote all text cells" and "save cell contents as shown".
TEXT_COLUMNS = "/".join("%d/2" % (i + 1) for i in range(len(COLUMNS)))


def _csv_in(delim):
    return "CSV:%d,34,76,1,%s" % (ord(delim), TEXT_COLUMNS)


CSV_OUT = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true,false,true"
XLSX_OUT = "xlsx:Calc MS Excel 2007 XML"


def _convert(src, to, infilter=None, timeout=240):
    """Converts src with headless LibreOffice into a new directory beside it;
    returns the output file's path."""
    work = os.path.dirname(src)
    out = tempfile.mkdtemp(prefix="out-", dir=work)
    cmd = [SOFFICE, "--headless", "--norestore", "--nologo", "--nolockcheck", "--nodefault",
           "-env:UserInstallation=file://" + os.path.join(work, "profile")]
    if infilter:
        cmd.append("--infilter=" + infilter)
    cmd += ["--convert-to", to, "--outdir", out, src]
    target = os.path.join(out, os.path.splitext(os.path.basename(src))[0] + "."
                          + to.split(":")[0])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=work)
    try:
        crm.wait_until(lambda: p.poll() is not None and os.path.exists(target), timeout=timeout,
                       interval=0.2, what="LibreOffice to write " + target)
    finally:
        if p.poll() is None:
            p.kill()
        stdout, stderr = p.communicate()
    assert p.returncode == 0, (p.returncode, stdout, stderr)
    return target


def _workdir():
    return tempfile.mkdtemp(prefix=unique("lo") + "-", dir=crm.DATA_DIR)


def _table(path, delim=","):
    with open(path, "rb") as f:
        text = f.read().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True))
    return table[0], [dict(zip(table[0], r)) for r in table[1:]]


def _lines(v):
    """A line break inside a cell as a spreadsheet holds it: LibreOffice
    writes the CRLF of a cell back as LF."""
    return v.replace("\r\n", "\n")


def _book(key):
    """A tenant's book with what a spreadsheet gets wrong first: scripts,
    quotes, separators and line breaks in cells, lists, dates, booleans, and
    text that would run as a formula."""
    _create(key, _full(unique("lo") + "@example.com"))
    _create(key, {"firstName": "=HYPERLINK(\"http://x\")", "lastName": "@SUM(A1)",
                  "description": "-2+3", "tags": ["+cmd"], "phone": "+4915112345678"})
    _create(key, {"firstName": "Øyvind", "lastName": "Ødegård; \"Ø\"", "gender": "MALE",
                  "birthDate": "1970-01-01", "email": unique("oy") + "@example.no"})
    _create(key, {"firstName": "Иван", "lastName": "Петров", "phone": "+359 88 123 4567",
                  "preferences": {"sms": {"granted": True, "source": "форма"}}})


def test_libreoffice_reads_the_exported_csv_with_comma_and_semicolon():
    key = _tenant()
    _book(key)
    for delim in (",", ";"):
        st, _, body = _export(key, delimiter=delim)
        assert st == 200
        header, rows = _rows(body, delim)
        work = _workdir()
        src = os.path.join(work, "book.csv")
        with open(src, "wb") as f:
            f.write(body)
        lo_header, lo_rows = _table(_convert(src, CSV_OUT, _csv_in(delim)))
        assert lo_header == header == COLUMNS, lo_header
        assert len(lo_rows) == len(rows) == 4
        want = [{c: _lines(v) for c, v in r.items()} for r in rows]
        assert lo_rows == want, [(c, a[c], b[c]) for a, b in zip(lo_rows, want)
                                 for c in COLUMNS if a[c] != b[c]]
        shutil.rmtree(work)


def test_libreoffice_runs_no_formula_of_the_export():
    """With formulas evaluated on reading (as a spreadsheet opening the file
    may do), the export's guarded cells stay text: '=HYPERLINK(...) is not
    run, '-2+3 is not 1."""
    key = _tenant()
    _book(key)
    st, _, body = _export(key)
    work = _workdir()
    src = os.path.join(work, "book.csv")
    with open(src, "wb") as f:
        f.write(body)
    # Standard column formats, evaluate formulas: true.
    out = _convert(src, CSV_OUT, "CSV:44,34,76,1,,0,false,false,false,false,false,-1,true")
    _, rows = _table(out)
    evil = [r for r in rows if r["lastName"] == "'@SUM(A1)"]
    assert evil and evil[0]["firstName"] == "'=HYPERLINK(\"http://x\")", rows
    assert evil[0]["description"] == "'-2+3" and evil[0]["tags"] == "'+cmd", evil
    shutil.rmtree(work)


def _as_shown(column, v):
    """An exported cell as a spreadsheet shows the workbook's cell: times in
    the format the workbook gives them (yyyy-mm-dd hh:mm:ss, UTC), booleans
    as TRUE/FALSE, text as typed (a workbook needs no formula guard)."""
    if column.endswith("At") and v:
        return v[:10] + " " + v[11:19]
    if v in ("true", "false") and column in ("isCompany", "hasPhoto") or (
            column.endswith("Consent") and v):
        return v.upper()
    if v[:1] == "'" and v[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return _lines(v[1:])
    return _lines(v)


def test_libreoffice_reads_the_exported_workbook():
    key = _tenant()
    _book(key)
    st, _, book = _export(key, format="xlsx")
    assert st == 200 and book[:2] == b"PK"
    st, _, body = _export(key)
    _, rows = _rows(body)
    work = _workdir()
    src = os.path.join(work, "book.xlsx")
    with open(src, "wb") as f:
        f.write(book)
    lo_header, lo_rows = _table(_convert(src, CSV_OUT))
    assert lo_header == COLUMNS
    want = sorted(([_as_shown(c, r[c]) for c in COLUMNS] for r in rows), key=lambda r: r[0])
    got = sorted(([r[c] for c in COLUMNS] for r in lo_rows), key=lambda r: r[0])
    assert got == want, [(c, a[i], b[i]) for a, b in zip(got, want)
                         for i, c in enumerate(COLUMNS) if a[i] != b[i]]
    shutil.rmtree(work)


def test_workbook_saved_by_libreoffice_imports_with_the_right_counts():
    """The exported CSV saved by LibreOffice as .xlsx (its own writer, shared
    strings and all) imports into an empty tenant: every customer created,
    then, imported again, every one unchanged; the book is the same."""
    key = _tenant()
    _book(key)
    st, _, body = _export(key, delimiter=";")
    work = _workdir()
    src = os.path.join(work, "book.csv")
    with open(src, "wb") as f:
        f.write(body)
    saved = _convert(src, XLSX_OUT, _csv_in(";"))
    with open(saved, "rb") as f:
        data = f.read()
    assert data[:2] == b"PK"
    other = _tenant()
    job = _import(other, data, content_type=XLSX)
    assert job["state"] == "DONE" and _counts(job) == (4, 0, 0, 0), job
    again = _import(other, data, content_type=XLSX)
    assert _counts(again) == (0, 0, 4, 0), again
    own = {"id", "source", "createdAt", "updatedAt", "hasPhoto", "accountStatus"}

    def norm(k):
        st2, _, b = _export(k)
        assert st2 == 200
        header, rows = _rows(b)
        return sorted(tuple((c, _lines(r[c])) for c in header if c not in own) for r in rows)

    assert norm(key) == norm(other)
    shutil.rmtree(work)
