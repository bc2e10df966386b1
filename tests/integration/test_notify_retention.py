"""What notify keeps, and for how long: while these tests run, one more copy
of notify runs with both retentions at 0, so a sent message loses its text
and HTML at that copy's next pass, and the notify stream's published events go
once notes, its durable reader, has applied them; never before. (The stack's
own copies keep the defaults, so that other tests can read what was sent.)"""
import crm
from crm import api, psql, unique, unique_email, wait_until


def _pruning_copy():
    """One more notify, pruning at once, logging beside the stack's copies."""
    return crm.extra_process("notify", "notify-9", CRM_NOTIFY_OUTBOX_RETAIN_HOURS="0",
                             CRM_NOTIFY_BODY_RETAIN_HOURS="0")


def _customer():
    st, _, c = api("POST", "/v1/customers", {"firstName": unique("Ret"),
                                             "email": unique_email("retention")})
    assert st == 201, c
    return c


def _send(cid):
    st, _, m = api("POST", "/v1/customers/%s:sendMessage" % cid,
                   {"subject": "Ihr Termin", "text": "Bis morgen!", "html": "<p>Bis morgen!</p>"})
    assert st == 202, m
    return m


def _message(mid):
    st, _, m = api("GET", "/v1/messages/" + mid)
    assert st == 200, m
    return m


def _outbox():
    """(oldest seq, newest seq) of notify.outbox, and notes' reported position."""
    lo, hi = psql("SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM notify.outbox "
                  "WHERE seq IS NOT NULL").strip().split("|")
    notes = psql("SELECT seq FROM notify.stream_readers WHERE name = 'notes'").strip()
    return int(lo), int(hi), int(notes or 0)


def _timeline_types(cid):
    st, _, js = api("GET", "/v1/customers/%s/timeline?kind=MESSAGE" % cid)
    assert st == 200, js
    return [e["type"] for e in js.get("entries", [])]


def test_sent_message_keeps_its_history_and_loses_its_text():
    with _pruning_copy():
        _loses_its_text()


def _loses_its_text():
    c = _customer()
    m = _send(c["id"])
    wait_until(lambda: _message(m["id"])["status"] == "SENT", 20, what="sent")
    dropped = wait_until(lambda: psql(
        "SELECT body_dropped_at IS NOT NULL AND body_text = '' AND body_html = '' "
        "FROM notify.messages WHERE id = '%s'" % m["id"]).strip() == "t", 20,
        what="the text dropped")
    assert dropped
    kept = _message(m["id"])
    assert kept["status"] == "SENT" and kept["subject"] == "Ihr Termin", kept
    assert not kept.get("text") and not kept.get("html"), kept
    assert psql("SELECT count(*) FROM notify.sent_bodies WHERE message_id = '%s'"
                % m["id"]).strip() == "0"


def test_outbox_pruned_behind_notes_and_held_while_notes_is_away():
    with _pruning_copy():
        _pruned_behind_notes()


def _held_passes():
    """How many pruning passes of any notify copy so far were held back by notes."""
    n = 0
    for path in crm.log_files("notify").values():
        with open(path, encoding="utf-8", errors="replace") as fh:
            n += fh.read().count("held back by reader: notes")
    return n


def _pruned_behind_notes():
    c = _customer()
    m = _send(c["id"])
    wait_until(lambda: "message.sent" in _timeline_types(c["id"]), 30, what="on the timeline")
    # notes registered and applied it: what is behind notes goes, the newest stays.
    wait_until(lambda: (lambda o: o[2] and o[0] > 1 and o[0] == min(o[1], o[2] + 1))(_outbox()),
               30, what="the outbox pruned up to notes' position")
    crm.ctl(["stop", "notes:*"], check=True)
    try:
        held = _outbox()[2]
        c2 = _customer()
        m2 = _send(c2["id"])
        wait_until(lambda: _message(m2["id"])["status"] == "SENT", 20, what="sent")
        wait_until(lambda: _outbox()[1] > held, 20, what="the new events numbered")
        # A pass after the new events (not one of those before): they stay for notes.
        passes = _held_passes()
        wait_until(lambda: _held_passes() > passes, 30, what="a pass held back by notes")
        oldest, newest, _ = _outbox()
        assert oldest <= held + 1 and newest > held, (oldest, newest, held)
    finally:
        crm.ctl(["start", "notes:*"], check=True)
    crm.wait_ready()
    # notes comes back and finds every event it missed.
    wait_until(lambda: "message.sent" in _timeline_types(c2["id"]), 30, what="the missed events")
    assert m["id"] != m2["id"]
