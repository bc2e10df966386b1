"""A customer's first and last times when the row that held one changes at
the same moment in two transactions (services/notes/sql/059_figures_times.sql):
neither waits for the other's figures, no deadlock, and the summary is what
the rows say. Before 059 each commit computed the last visit again while
holding its own figures row and waiting for all of the customer's others:
the sequence below deadlocked every time."""
import subprocess

import crm
from test_history import _booking_event, _call, _person, _recount, _summary_figures


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


def test_two_commits_moving_a_customers_last_visits_do_not_deadlock():
    """Two attended bookings share the customer's latest visit; two
    transactions each move one of them earlier, so each takes the last visit
    away from its row. A third session holds a figures row of the customer
    (slot 0) locked until both have committed or wait: with figures computed
    again at the commit (before 059), both would be waiting on it while
    holding their own slot's row, and would then deadlock. Both commit, no
    deadlock is counted, and the summary's figures are what the rows say."""
    p = _person()
    bks = [{"id": crm.unique("dl"), "service": "Cut", "startsAt": at}
           for at in ("2025-06-01T10:00:00Z", "2025-06-01T10:00:00Z", "2025-03-01T10:00:00Z")]
    events = []
    for b in bks:
        events.append(_booking_event(p, "booking.created", b, "2025-02-01T10:00:00Z"))
        events.append(_booking_event(p, "booking.attended", b, "2025-02-02T10:00:00Z"))
    out = _call("notes", "IngestEvents", {"events": events})
    assert out["status"] == "OK", out
    cid = out["body"]["results"][0]["response"]["customerId"]
    assert _summary_figures(cid)["lastVisitAt"] == "2025-06-01T10:00:00Z"
    tenant = crm.psql("SELECT tenant_id FROM notes.bookings WHERE booking_id = '%s'"
                      % bks[0]["id"]).strip()
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
        for s, b, at in zip(sessions, bks, ("2025-05-01T10:00:00Z", "2025-05-15T10:00:00Z")):
            s.send("BEGIN; UPDATE notes.bookings SET starts_at = '%s' WHERE booking_id = '%s';"
                   % (at, b["id"]))
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
    for rc, out_, err in results[:2]:
        assert rc == 0 and out_.strip() == "done", err
    assert "deadlock" not in " ".join(r[2] for r in results)
    assert _deadlocks() == before
    figures = _summary_figures(cid)
    assert figures == _recount(cid), figures
    assert figures["lastVisitAt"] == "2025-05-15T10:00:00Z", figures
    assert (figures["bookings"], figures["attended"]) == (3, 3), figures
