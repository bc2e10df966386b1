"""A customer's first and last times when the rows that held them change at
the same moment in two transactions (services/notes/sql/059_figures_times.sql):
neither commit waits for the other's figures, no deadlock, and the summary is
what the rows say. Before 059 each commit computed the time again while
holding its own figures row and waiting for all of the customer's others:
the sequence of _commit_at_once deadlocked every time."""
import subprocess

import crm
from test_history import (_booking_event, _call, _order_event, _person, _recount,
                          _summary_figures)


def _deadlocks():
    return int(crm.psql("SELECT deadlocks FROM pg_stat_database "
                        "WHERE datname = current_database()").strip())


class _Session:
    """A psql session of its own (as user postgres), fed line by line."""

    def __init__(self):
        self.p = subprocess.Popen([crm.PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                   "-d", crm.DATABASE_URL], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pid = int(self.ask("SELECT pg_backend_pid();"))

    def ask(self, sql):
        """Runs sql, which prints one line, and returns that line."""
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def send(self, sql):
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()

    def end(self):
        """Closes the session; returns (exit status, what it printed, errors)."""
        out, err = self.p.communicate(timeout=60)
        return self.p.returncode, out, err

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def _sessions_in_slots(n, avoid):
    """n sessions whose figures slots (their backend's pid modulo 8) differ
    from each other and from avoid; the others opened meanwhile are closed."""
    kept, spare = [], []
    while len(kept) < n:
        s = _Session()
        taken = {k.pid % 8 for k in kept} | {avoid}
        (spare if s.pid % 8 in taken else kept).append(s)
        assert len(spare) < 64, "no backend in a free slot"
    for s in spare:
        s.kill()
    return kept


def _waiting_or_done(pids):
    """True when every backend in pids waits for a lock or has left its
    transaction."""
    rows = crm.psql_rows("SELECT pid, coalesce(wait_event_type, ''), xact_start IS NULL "
                         "FROM pg_stat_activity WHERE pid IN (%s)" % ",".join(map(str, pids)))
    state = {int(r[0]): (r[1], r[2]) for r in rows}
    return all(p not in state or state[p][0] == "Lock" or state[p][1] == "t" for p in pids)


def _commit_at_once(tenant, cid, updates):
    """Runs each of the two updates in a transaction of its own session (in
    two different figures slots, neither 0) and commits both while a third
    session holds the customer's figures row of slot 0 locked, until both
    commits have ended or wait for a lock; then lets it go. With figures
    computed again at the commit (before 059), both waited on that row while
    holding their own slot's, and then deadlocked. Asserts both commit and no
    deadlock is counted."""
    before = _deadlocks()
    sessions = []
    holder = _Session()
    try:
        sessions = _sessions_in_slots(2, 0)
        # Rows of figures that add nothing, committed, in slot 0 (for the
        # holder to lock: the first row a computation of the old kind
        # locked) and in the two sessions' slots (each of which the other
        # session's computation would have had to lock).
        for slot in [0] + [s.pid % 8 for s in sessions]:
            crm.psql("INSERT INTO notes.customer_figures (tenant_id, customer_id, slot) "
                     "VALUES ('%s', '%s', %d) ON CONFLICT DO NOTHING" % (tenant, cid, slot))
        assert holder.ask("BEGIN; SELECT 'locked' FROM notes.customer_figures WHERE tenant_id = "
                          "'%s' AND customer_id = '%s' AND slot = 0 FOR UPDATE;"
                          % (tenant, cid)) == "locked"
        for s, update in zip(sessions, updates):
            s.send("BEGIN; %s;" % update)
        for s in sessions:
            s.send("COMMIT; SELECT 'done';")
        pids = [s.pid for s in sessions]
        crm.wait_until(lambda: _waiting_or_done(pids), timeout=30,
                       what="both commits waiting or done")
        holder.send("COMMIT;")
        results = [s.end() for s in sessions + [holder]]
    finally:
        for s in sessions + [holder]:
            s.kill()
    for rc, out, err in results[:2]:
        assert rc == 0 and out.strip() == "done", err
    assert "deadlock" not in " ".join(r[2] for r in results)
    assert _deadlocks() == before


def _taken_in(events):
    """Takes events in (one batch); returns (tenant, customer id)."""
    out = _call("notes", "IngestEvents", {"events": events})
    assert out["status"] == "OK", out
    cid = out["body"]["results"][0]["response"]["customerId"]
    tenant = crm.psql("SELECT DISTINCT tenant_id FROM notes.timeline WHERE customer_id = '%s'"
                      % cid).strip()
    return tenant, cid


def test_two_commits_moving_a_customers_last_visits_do_not_deadlock():
    """Two attended bookings share the customer's latest visit; two
    transactions each move one of them earlier, so each takes the last visit
    away from its row. Both commit without a deadlock, and the summary's
    figures are what the rows say: the later of the two new starts."""
    p = _person()
    bks = [{"id": crm.unique("dl"), "service": "Cut", "startsAt": at}
           for at in ("2025-06-01T10:00:00Z", "2025-06-01T10:00:00Z", "2025-03-01T10:00:00Z")]
    events = []
    for b in bks:
        events.append(_booking_event(p, "booking.created", b, "2025-02-01T10:00:00Z"))
        events.append(_booking_event(p, "booking.attended", b, "2025-02-02T10:00:00Z"))
    tenant, cid = _taken_in(events)
    assert _summary_figures(cid)["lastVisitAt"] == "2025-06-01T10:00:00Z"
    _commit_at_once(tenant, cid, [
        "UPDATE notes.bookings SET starts_at = '%s' WHERE booking_id = '%s'" % (at, b["id"])
        for b, at in zip(bks, ("2025-05-01T10:00:00Z", "2025-05-15T10:00:00Z"))])
    figures = _summary_figures(cid)
    assert figures == _recount(cid), figures
    assert figures["lastVisitAt"] == "2025-05-15T10:00:00Z", figures
    assert (figures["bookings"], figures["attended"]) == (3, 3), figures


def test_two_commits_taking_a_customers_first_booking_and_order_do_not_deadlock():
    """One transaction makes the customer's first booking later (its
    creation seen later than first thought), the other their first order
    (placed later than it was first seen): each takes a first time away from
    its row. Both commit without a deadlock, and the summary's first booking
    and first order are the next ones the rows hold."""
    p = _person()
    b1 = {"id": crm.unique("dl"), "service": "Cut", "startsAt": "2025-06-01T10:00:00Z"}
    b2 = dict(b1, id=crm.unique("dl"))
    o1 = {"id": crm.unique("dl"), "total": {"amountMinor": 5000, "currency": "PLN"}}
    o2 = dict(o1, id=crm.unique("dl"))
    tenant, cid = _taken_in([
        _booking_event(p, "booking.created", b1, "2025-02-01T10:00:00Z"),
        _booking_event(p, "booking.created", b2, "2025-03-01T10:00:00Z"),
        _order_event(p, "order.placed", o1, "2025-02-05T10:00:00Z"),
        _order_event(p, "order.placed", o2, "2025-03-05T10:00:00Z")])
    figures = _summary_figures(cid)
    assert (figures["firstBookingAt"], figures["firstOrderAt"]) == (
        "2025-02-01T10:00:00Z", "2025-02-05T10:00:00Z"), figures
    _commit_at_once(tenant, cid, [
        "UPDATE notes.bookings SET booked_at = '2025-04-01T10:00:00Z' "
        "WHERE booking_id = '%s'" % b1["id"],
        "UPDATE notes.orders SET placed_at = '2025-04-05T10:00:00Z' "
        "WHERE order_id = '%s'" % o1["id"]])
    figures = _summary_figures(cid)
    assert figures == _recount(cid), figures
    assert (figures["firstBookingAt"], figures["firstOrderAt"]) == (
        "2025-03-01T10:00:00Z", "2025-03-05T10:00:00Z"), figures
