"""Workbook times on the business's wall clock (docs/exchange.md, "Times in a
workbook"): Excel cells carry no zone, so an XLSX export writes createdAt,
updatedAt and consent times as the business's local time (its timeZone
setting), names the zone in the workbook's custom property "timeZone", and an
XLSX import reads date-time cells back in the importing business's zone, so
export -> import round-trips exactly; CSV keeps RFC 3339 UTC. Tenants at
Pacific/Kiritimati (UTC+14) and America/Los_Angeles (UTC-8/-7), the test
machine in UTC."""
import datetime
import io
import zipfile
import zoneinfo

from crm import api, unique
from test_exchange import (COLUMNS, XLSX, _col, _counts, _create, _export, _full, _import,
                           _rows, _sheet, _tenant, _workbook)
from test_exports import _file, _start, _wait

KIRITIMATI = "Pacific/Kiritimati"
LOS_ANGELES = "America/Los_Angeles"
TIMES = ["createdAt", "updatedAt", "emailConsentChangedAt", "marketingConsentChangedAt"]


def _zoned(zone):
    """A tenant of its own (an admin key) whose business is in zone."""
    key = _tenant()
    st, _, s = api("PATCH", "/v1/settings", {"timeZone": zone}, key=key)
    assert st == 200 and s["timeZone"] == zone, (st, s)
    return key


def _utc(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _serial(dt):
    """Excel's serial of a wall-clock time (the 1900 system, past 1900-03-01)."""
    return (dt - datetime.datetime(1899, 12, 30)) / datetime.timedelta(days=1)


def _wall(text, zone):
    """An RFC 3339 time on zone's wall clock, without a zone (as Excel keeps it)."""
    return _utc(text).astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


def _book_cells(body):
    """The workbook's data rows by customer id: column name -> (type, format, value)."""
    _, rows = _sheet(body)
    assert [rows[0][_col(i)][2] for i in range(len(COLUMNS))] == COLUMNS
    return {r[_col(0)][2]: {n: r.get(_col(i)) for i, n in enumerate(COLUMNS)} for r in rows[1:]}


def _zone_property(body):
    custom = zipfile.ZipFile(io.BytesIO(body)).read("docProps/custom.xml").decode()
    assert 'name="timeZone"' in custom, custom
    return custom


def _check_local(cells, customer, zone):
    """Each time cell of a row is the CSV row's (UTC) time on zone's wall clock."""
    for name in TIMES:
        t, fmt, v = cells[name]
        assert t == "n" and fmt == "yyyy-mm-dd hh:mm:ss", (name, cells[name])
        want = _serial(_wall(customer[name], zone))
        # A millisecond is 1.2e-8 of a day.
        assert abs(float(v) - want) < 1e-8, (name, zone, v, want, customer[name])


def test_xlsx_times_are_the_business_wall_clock_csv_stays_utc():
    for zone in (KIRITIMATI, LOS_ANGELES):
        key = _zoned(zone)
        made = _create(key, _full(unique("tz") + "@example.com"))
        st, _, csv_body = _export(key)
        assert st == 200
        rows = _rows(csv_body)[1]
        row = next(r for r in rows if r["id"] == made["id"])
        # CSV: RFC 3339 UTC, as the API answers.
        assert row["createdAt"] == made["createdAt"] and row["createdAt"].endswith("Z"), row
        st, _, book = _export(key, format="xlsx")
        assert st == 200 and book[:2] == b"PK"
        _check_local(_book_cells(book)[made["id"]], row, zone)
        assert zone in _zone_property(book)


def test_export_job_workbook_is_on_the_business_clock():
    key = _zoned(KIRITIMATI)
    made = _create(key, _full(unique("tzj") + "@example.com"))
    job = _wait(key, _start(key, {"format": "xlsx"})["id"])
    assert job["state"] == "DONE", job
    st, _, book = _file(key, job["id"])
    assert st == 200
    st, _, csv_body = _export(key)
    row = next(r for r in _rows(csv_body)[1] if r["id"] == made["id"])
    _check_local(_book_cells(book)[made["id"]], row, KIRITIMATI)
    assert KIRITIMATI in _zone_property(book)


def _consents(key):
    st, _, body = _export(key)
    assert st == 200
    return {r["email"]: (r["emailConsentChangedAt"], r["marketingConsentChangedAt"])
            for r in _rows(body)[1]}


def test_xlsx_round_trip_exact_in_kiritimati_and_los_angeles_and_read_in_the_importers_zone():
    for zone in (KIRITIMATI, LOS_ANGELES):
        key = _zoned(zone)
        email = unique("rt") + "@example.com"
        _create(key, _full(email))
        st, _, book = _export(key, format="xlsx")
        assert st == 200
        other = _zoned(zone)
        job = _import(other, book, content_type=XLSX)
        assert job["state"] == "DONE" and _counts(job) == (1, 0, 0, 0), job
        # The consent times come back to the millisecond.
        assert _consents(other)[email] == _consents(key)[email]
        assert all(_consents(other)[email])
    # A Kiritimati workbook read by a business in Los Angeles: the same wall
    # clock, Los Angeles' instant (22 or 21 hours later).
    key = _zoned(KIRITIMATI)
    email = unique("x") + "@example.com"
    _create(key, _full(email))
    st, _, book = _export(key, format="xlsx")
    la = _zoned(LOS_ANGELES)
    job = _import(la, book, content_type=XLSX)
    assert _counts(job) == (1, 0, 0, 0), job
    sent, got = _consents(key)[email][0], _consents(la)[email][0]
    wall = _wall(sent, KIRITIMATI).replace(tzinfo=zoneinfo.ZoneInfo(LOS_ANGELES))
    assert _utc(got) == wall.astimezone(datetime.timezone.utc), (sent, got)
    assert _utc(got) - _utc(sent) in (datetime.timedelta(hours=21), datetime.timedelta(hours=22))


def test_xlsx_import_of_a_time_los_angeles_skips_or_repeats():
    """Another program's workbook with times on the nights the clock changes:
    02:30 on 2024-03-10 does not exist in Los Angeles (read as 03:30 PDT,
    10:30Z); 01:30 on 2024-11-03 happens twice (the first, PDT, 08:30Z)."""
    key = _zoned(LOS_ANGELES)
    a, b = unique("gap") + "@example.com", unique("rep") + "@example.com"
    rows = [["lastName", "email", "emailConsent", "emailConsentChangedAt"],
            ["Gap", a, "true", _serial(datetime.datetime(2024, 3, 10, 2, 30))],
            ["Repeat", b, "true", _serial(datetime.datetime(2024, 11, 3, 1, 30))]]
    # A date format with a time in the serial: read as a date-time.
    job = _import(key, _workbook(rows, date_cells={(1, 3), (2, 3)}), content_type=XLSX)
    assert job["state"] == "DONE" and _counts(job) == (2, 0, 0, 0), job
    got = _consents(key)
    assert _utc(got[a][0]) == datetime.datetime(2024, 3, 10, 10, 30, tzinfo=datetime.timezone.utc)
    assert _utc(got[b][0]) == datetime.datetime(2024, 11, 3, 8, 30, tzinfo=datetime.timezone.utc)
