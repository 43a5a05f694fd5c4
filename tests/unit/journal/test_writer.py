"""The journal writer: events into rows, kept through failures, rate-limited refusals."""


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nitools.journal.attempts import (
    Journal,
    JournalError,
)
from nitools.netinstall import events
from nitools.netinstall.messages import Announcement
from tests.helpers import attempt_events

INFO = Announcement("ABCD-EFGH", "", "RB5009", "arm64", "7.12", "7.16.1")


def test_a_failing_journal_keeps_rows_in_memory_and_writes_them_later(tmp_path, monkeypatch):
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    clock = [0.0]
    writer = JournalWriter(journal, clock=lambda: clock[0])
    real_write = journal.store.write

    def full_disk(sql, values):
        raise JournalError("cannot write the journal: database or disk is full")

    monkeypatch.setattr(journal.store, "write", full_disk)  # no real disk fills on demand here
    for index in range(3):
        for event in attempt_events(bytes([2, 0, 0, 0, 0, index + 1])):
            writer(event)  # never raises: installs go on
    assert journal.attempts() == []
    monkeypatch.setattr(journal.store, "write", real_write)
    clock[0] = 5.0
    writer.flush()
    rows = journal.attempts()
    assert [r.outcome for r in rows] == ["rebooted"] * 3
    assert all(r.files[0]["name"] == "r.npk" for r in rows)


def test_a_row_kept_through_a_journal_outage_keeps_the_boards_real_times(tmp_path,
                                                                          monkeypatch):
    """The journal fails while a board finishes and works again 30 s later: the row's
    end and duration are the board's, not the time the row was finally written."""
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    clock = [0.0]
    epoch = 1_800_000_000.0  # the wall clock when the station's clock read 0
    writer = JournalWriter(journal, clock=lambda: clock[0], wall_clock=lambda: epoch + clock[0])
    mac = bytes.fromhex("024e49000001")
    found, validated, accepted, finished = attempt_events(mac)
    for event in (found, validated, accepted):
        clock[0] = event.at
        writer(event)  # the open row is written
    real_write = journal.store.write

    def outage(sql, values):
        raise JournalError("cannot write the journal: the database server went away")

    monkeypatch.setattr(journal.store, "write", outage)
    clock[0] = finished.at
    writer(finished)  # kept in memory
    monkeypatch.setattr(journal.store, "write", real_write)
    clock[0] = finished.at + 30.0  # the journal is back
    writer.flush()
    (row,) = journal.attempts()
    assert row.outcome == "rebooted"
    assert row.ended_at == epoch + finished.at
    assert row.duration == pytest.approx(finished.at - validated.at)  # offer to end
    assert row.timeline[-1] == {"event": "rebooted", "at": epoch + finished.at}


def test_a_row_first_written_after_an_outage_keeps_its_real_start_and_end(tmp_path,
                                                                          monkeypatch):
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    clock = [0.0]
    epoch = 1_800_000_000.0
    writer = JournalWriter(journal, clock=lambda: clock[0], wall_clock=lambda: epoch + clock[0])
    real_write = journal.store.write
    monkeypatch.setattr(journal.store, "write",
                        lambda sql, values: (_ for _ in ()).throw(JournalError("down")))
    events = attempt_events(bytes.fromhex("024e49000002"))
    for event in events:
        clock[0] = event.at
        writer(event)
    monkeypatch.setattr(journal.store, "write", real_write)
    clock[0] = 60.0
    writer.flush()
    (row,) = journal.attempts()
    assert row.started_at == epoch + events[1].at and row.ended_at == epoch + events[-1].at


def test_refusals_are_journaled_at_a_bounded_rate(tmp_path):
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    writer = JournalWriter(journal, clock=lambda: 0.0)
    for index in range(500):
        for event in attempt_events(bytes([2, 0, 0, 1, index >> 8, index & 0xFF]), "refused",
                             offered=False):
            writer(event)
    rows = journal.attempts()
    assert len(rows) == JournalWriter.REFUSAL_BURST
    assert all(r.outcome == "refused" and r.reason for r in rows)
    assert writer.refusals_not_journaled == 500 - len(rows)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=300), min_size=6, max_size=6), st.text(max_size=300))
def test_the_journal_writer_takes_any_board_text(tmp_path, fields, reason):
    from nitools.journal.writer import JournalWriter
    from nitools.netinstall import events

    path = tmp_path / f"j-{abs(hash((tuple(fields), reason)))}.sqlite3"
    journal = Journal(path)
    writer = JournalWriter(journal)
    mac = bytes.fromhex("024e49000001")
    writer(events.Found(0.0, mac, Announcement(*fields)))
    writer(events.Finished(1.0, mac, events.Outcome.REFUSED, reason, macs=(mac,)))
    (row,) = journal.attempts()
    assert (row.model, row.reason) == (fields[2], reason)
    journal.close()


def test_a_wtrm_after_a_confirmed_reboot_is_journaled_but_changes_no_finished_row(tmp_path):
    from nitools.journal.writer import JournalWriter
    from nitools.netinstall import events

    journal = Journal(tmp_path / "j.sqlite3")
    writer = JournalWriter(journal)
    mac = bytes.fromhex("024e49000007")
    for event in attempt_events(mac):  # journaled rebooted
        writer(event)
    writer(events.Released(5.0, mac))  # ... yet it was still waiting for TERM
    rows = journal.attempts()
    assert [r.outcome for r in rows] == ["rebooted", "released"]  # never changed afterwards
    assert f"journaled rebooted in row {rows[0].id}" in rows[1].reason
    assert "asked for TERM again" in rows[1].reason


def test_an_attempt_whose_start_failed_is_written_once_when_the_journal_is_back(
        tmp_path, monkeypatch):
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    clock = [0.0]
    writer = JournalWriter(journal, clock=lambda: clock[0])
    real_write = journal.store.write
    mac = bytes.fromhex("024e49000009")
    found, validated, accepted, finished = attempt_events(mac)

    def failing(sql, values):
        raise JournalError("cannot write the journal: disk I/O error")

    writer(found)
    writer(validated)
    monkeypatch.setattr(journal.store, "write", failing)
    writer(accepted)  # the open row cannot be written
    monkeypatch.setattr(journal.store, "write", real_write)
    writer(finished)  # the journal works again: start and end, in one row
    clock[0] = 5.0
    writer.flush()
    (row,) = journal.attempts()
    assert row.outcome == "rebooted" and row.files[0]["name"] == "r.npk"


def test_releases_and_boards_ignoring_offers_are_journaled_at_a_bounded_rate(tmp_path):
    from nitools.journal.writer import JournalWriter
    from nitools.netinstall import events

    journal = Journal(tmp_path / "j.sqlite3")
    writer = JournalWriter(journal, clock=lambda: 0.0)
    for index in range(300):
        writer(events.Released(0.0, bytes([2, 1, 0, 0, index >> 8, index & 0xFF])))
    for index in range(300):
        mac = bytes([2, 2, 0, 0, index >> 8, index & 0xFF])
        found, validated, _, _ = attempt_events(mac)
        writer(found)
        writer(validated)  # offered, never accepted: no row yet
        writer(events.Finished(1.0, mac, events.Outcome.FAILED, "ignored the offer",
                               events.FailureCause.OFFER_IGNORED))
    rows = journal.attempts()
    released = [r for r in rows if r.outcome == "released"]
    failed = [r for r in rows if r.outcome == "failed"]
    assert len(released) + len(failed) == JournalWriter.REFUSAL_BURST  # one shared bucket
    assert writer.releases_not_journaled == 300 - len(released)
    assert writer.refusals_not_journaled == 300 - len(failed)
    assert all(r.cause == "offer-ignored" and r.files for r in failed)


def test_silent_rows_have_their_own_budget_and_leave_the_refusals_theirs(tmp_path):
    """Issue 27 row 6: a spray of forged TFTP failures made 127 silent rows, which used up
    the budget shared with refusals, so real refusals were only counted."""
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    writer = JournalWriter(journal, clock=lambda: 0.0)
    for index in range(300):
        writer(events.Silent(0.0, bytes([2, 3, 0, 0, index >> 8, index & 0xFF]),
                             "boot image transfer failed", events.FailureCause.BOOT_IMAGE_FAILED))
    refused = bytes.fromhex("024e490000aa")
    found, _ = attempt_events(refused, offered=False)
    writer(found)
    writer(events.Finished(0.0, refused, events.Outcome.REFUSED, "files refused",
                           events.FailureCause.FILES_REFUSED))
    rows = journal.attempts()
    assert sum(r.outcome == "silent" for r in rows) == JournalWriter.REFUSAL_BURST
    assert writer.silent_not_journaled == 300 - JournalWriter.REFUSAL_BURST
    assert [r.cause for r in rows if r.outcome == "refused"] == ["files-refused"]


def test_events_of_one_instant_keep_their_order_in_the_timeline(tmp_path):
    """The wall time of an event is its station time plus one offset between the clocks:
    two events of one instant (an operator's approve and the offer it sends) get one time,
    so the step that came first stays first (two readings of two clocks would not)."""
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    # The station's clock moves on between the two events; the wall clock is read anew
    writer = JournalWriter(journal, wall_clock=lambda: 1_800_000_000.0)
    mac = bytes.fromhex("024e49000001")
    found, validated, accepted, finished = attempt_events(mac)
    for event in (found, validated, events.Held(0.15, mac),
                  events.OperatorActed(0.2, mac, "approve", "socket uid 0 pid 1"),
                  events.Offered(0.2, mac), accepted, finished):
        writer(event)
    (row,) = journal.attempts()
    assert [step["event"] for step in row.timeline] == [
        "found", "held", "approve", "offered", "rebooted"]
