"""The SQLite journal and `nitools history`."""

import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nitools.errors import UsageError
from nitools.journal.attempts import (
    SCHEMA_VERSION,
    AttemptRow,
    Journal,
    JournalError,
    parse_since,
)
from nitools.journal.stores import SQLITE_SCHEMA
from nitools.netinstall.messages import Announcement
from tests.helpers import run_cli

INFO = Announcement("ABCD-EFGH", "", "RB5009", "arm64", "7.12", "7.16.1")


def test_an_attempt_from_found_to_installed(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    row = journal.insert(AttemptRow.of_board(
        1.0e9, "02:00:00:00:00:01", INFO, config_mode="script",
        files=[{"name": "routeros.npk", "size": 10, "sha256": "ab", "source": "x"}]))
    journal.finish(row, "installed", "installed", None, 10)
    (attempt,) = journal.attempts()
    assert attempt.outcome == "installed" and attempt.bytes == 10
    assert attempt.software_id == "ABCD-EFGH" and attempt.image_version == "7.16.1"
    assert attempt.files[0]["sha256"] == "ab" and attempt.config_mode == "script"
    assert attempt.duration >= 0 and attempt.ended_at >= attempt.started_at
    assert journal.installed_before("ABCD-EFGH", "02:00:00:00:00:09").id == row
    assert journal.installed_before("OTHER-ID00", "02:00:00:00:00:01") is None
    assert journal.installed_before("", "02:00:00:00:00:01").id == row


def test_rows_left_open_by_a_crash_are_closed_as_interrupted(tmp_path):
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    journal.insert(AttemptRow.of_board(1.0e9, "02:00:00:00:00:01", INFO))
    journal.store.db.close()  # the station dies without closing the attempt
    again = Journal(path)
    assert again.close_stale() == 1
    assert again.attempts()[0].outcome == "interrupted"


def test_every_write_is_committed_at_once(tmp_path):
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    journal.insert(AttemptRow.of_board(1.0e9, "02:00:00:00:00:01", INFO))
    with sqlite3.connect(path) as other:  # another process sees it without any close
        assert other.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 1
    assert journal.store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unwritable_journal_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError, match="--journal PATH"):
        Journal(blocker / "j.sqlite3")


def test_since_forms():
    now = 1_000_000.0
    assert parse_since("2h", now) == now - 7200
    assert parse_since("3d", now) == now - 3 * 86400
    assert parse_since("2026-11-25T08:00:00+00:00") == 1795593600.0
    with pytest.raises(UsageError):
        parse_since("yesterday")


def test_history_cli(tmp_path):
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    for outcome in ("installed", "failed"):
        row = journal.insert(AttemptRow.of_board(1.0e9, "02:00:00:00:00:01", INFO))
        journal.finish(row, outcome, f"reason {outcome}", None, 5)
    journal.close()
    result = run_cli("history", "--journal", str(path), "--json")
    rows = json.loads(result.stdout)
    assert [r["outcome"] for r in rows] == ["installed", "failed"]
    assert run_cli("history", "--journal", str(path), "--json", "--limit", "1").stdout.count(
        '"outcome"') == 1
    assert json.loads(run_cli("history", "--journal", str(path), "--json", "--since",
                              "2030-01-01").stdout) == []
    table = run_cli("history", "--journal", str(path))
    assert "reason failed" in table.stdout and "RB5009" in table.stdout
    missing = run_cli("history", "--journal", str(tmp_path / "none.sqlite3"))
    assert missing.returncode == 1 and "no journal" in missing.stderr


# ------------------------------------------------------- the writer and faults

def _events(mac: bytes, outcome: str = "rebooted", offered: bool = True):
    from nitools.netinstall import events

    announcement = Announcement("ID-" + mac.hex(), "", "RB", "arm64", "7.12", "7.16.1")
    out = [events.Found(0.0, mac, announcement)]
    if offered:
        out.append(events.Validated(0.1, mac, (events.SentFile("r.npk", 10, "ab", "x"),),
                                    "default"))
    out.append(events.Finished(1.0, mac, events.Outcome(outcome), f"reason {outcome}",
                               bytes_acked=10, macs=(mac,)))
    return out


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
        for event in _events(bytes([2, 0, 0, 0, 0, index + 1])):
            writer(event)  # never raises: installs go on
    assert journal.attempts() == []
    monkeypatch.setattr(journal.store, "write", real_write)
    clock[0] = 5.0
    writer.flush()
    rows = journal.attempts()
    assert [r.outcome for r in rows] == ["rebooted"] * 3
    assert all(r.files[0]["name"] == "r.npk" for r in rows)


def test_refusals_are_journaled_at_a_bounded_rate(tmp_path):
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    writer = JournalWriter(journal, clock=lambda: 0.0)
    for index in range(500):
        for event in _events(bytes([2, 0, 0, 1, index >> 8, index & 0xFF]), "refused",
                             offered=False):
            writer(event)
    rows = journal.attempts()
    assert len(rows) == JournalWriter.REFUSAL_BURST
    assert all(r.outcome == "refused" and r.reason for r in rows)
    assert writer.refusals_not_journaled == 500 - len(rows)


def test_history_on_damaged_read_only_or_foreign_files_says_so(tmp_path):
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    result = run_cli("history", "--journal", str(garbage))
    assert result.returncode != 0 and "not a nitools journal" in result.stderr
    assert "Traceback" not in result.stderr
    readonly = tmp_path / "ro"
    readonly.mkdir()
    journal = Journal(readonly / "j.sqlite3")
    journal.close_stale()
    journal.close()
    (readonly / "j.sqlite3").chmod(0o444)
    readonly.chmod(0o555)
    try:
        listed = run_cli("history", "--journal", str(readonly / "j.sqlite3"))
        assert listed.returncode == 0, listed.stderr
    finally:
        readonly.chmod(0o755)


@pytest.mark.parametrize("since", ["1" + "0" * 400 + "w", "9999-99-99", "yesterday"])
def test_history_since_values_out_of_range_are_usage_errors(since, tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    journal.close()
    result = run_cli("history", "--journal", str(tmp_path / "j.sqlite3"), "--since", since)
    assert result.returncode == 2 and "--since" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


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


def test_a_board_asking_for_term_after_a_confirmed_reboot_amends_its_row(tmp_path):
    from nitools.journal.writer import JournalWriter
    from nitools.netinstall import events

    journal = Journal(tmp_path / "j.sqlite3")
    writer = JournalWriter(journal)
    mac = bytes.fromhex("024e49000007")
    for event in _events(mac):  # journaled rebooted
        writer(event)
    writer(events.Released(5.0, mac))  # ... yet it was still waiting for TERM
    rows = journal.attempts()
    assert [r.outcome for r in rows] == ["unconfirmed", "released"]
    assert "asked for TERM again" in rows[0].reason


def test_an_attempt_whose_start_failed_is_written_once_when_the_journal_is_back(
        tmp_path, monkeypatch):
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    clock = [0.0]
    writer = JournalWriter(journal, clock=lambda: clock[0])
    real_write = journal.store.write
    mac = bytes.fromhex("024e49000009")
    found, validated, finished = _events(mac)

    def failing(sql, values):
        raise JournalError("cannot write the journal: disk I/O error")

    writer(found)
    monkeypatch.setattr(journal.store, "write", failing)
    writer(validated)  # the open row cannot be written
    monkeypatch.setattr(journal.store, "write", real_write)
    writer(finished)  # the journal works again: start and end, in one row
    clock[0] = 5.0
    writer.flush()
    (row,) = journal.attempts()
    assert row.outcome == "rebooted" and row.files[0]["name"] == "r.npk"


def test_history_filters_by_mac_software_id_and_outcome_and_writes_csv(tmp_path):
    import csv
    import io

    from nitools.journal.writer import JournalWriter

    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    writer = JournalWriter(journal)
    for index, outcome in enumerate(("rebooted", "failed", "rebooted")):
        for event in _events(bytes([2, 0, 0, 0, 0, index + 1]), outcome):
            writer(event)
    journal.close()

    def listed(*args):
        result = run_cli("history", "--journal", str(path), "--csv", *args)
        assert result.returncode == 0, result.stderr
        return list(csv.DictReader(io.StringIO(result.stdout)))

    assert [r["answered_mac"] for r in listed("--outcome", "rebooted")] == [
        "02:00:00:00:00:01", "02:00:00:00:00:03"]
    assert [r["outcome"] for r in listed("--mac", "02-00-00-00-00-02")] == ["failed"]
    assert [r["answered_mac"] for r in listed("--software-id", "ID-020000000003")] == [
        "02:00:00:00:00:03"]
    assert listed("--outcome", "rebooted", "--limit", "1")[0]["files"] == "r.npk"
    bad = run_cli("history", "--journal", str(path), "--mac", "nonsense")
    assert bad.returncode == 2 and "six hex pairs" in bad.stderr


def test_an_old_journal_migrates_in_place_and_rows_name_their_station(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # a journal as nitools 0.1 wrote it
        db.executescript(SQLITE_SCHEMA)
        db.execute("INSERT INTO attempts (started_at, answered_mac, macs, outcome) "
                   "VALUES (1.0, '02:00:00:00:00:01', '02:00:00:00:00:01', 'installed')")
    journal = Journal(path, station="lab-1:eth1")
    row = journal.insert(AttemptRow.of_board(1.0e9, "02:00:00:00:00:02", INFO))
    journal.finish(row, "rebooted", "reboot confirmed", None, 10)
    stations = [(r.answered_mac, r.station) for r in journal.attempts()]
    assert stations == [("02:00:00:00:00:01", None), ("02:00:00:00:00:02", "lab-1:eth1")]
    assert journal.store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    journal.close()
    again = Journal(path)  # opening a migrated journal changes nothing
    assert len(again.attempts()) == 2
    again.close()
    only = run_cli("history", "--journal", str(path), "--csv", "--station", "lab-1:eth1")
    assert only.returncode == 0 and only.stdout.count("lab-1:eth1") == 1, only.stderr


def test_the_background_writer_never_makes_the_loop_wait_and_loses_nothing(tmp_path,
                                                                          monkeypatch):
    import time

    from nitools.journal.background import BackgroundWriter
    from nitools.journal.writer import JournalWriter

    journal = Journal(tmp_path / "j.sqlite3")
    real_write = journal.store.write

    def slow_disk(sql, values):
        time.sleep(0.05)  # a slow fsync or a far database
        return real_write(sql, values)

    monkeypatch.setattr(journal.store, "write", slow_disk)
    background = BackgroundWriter(JournalWriter(journal))
    started = time.monotonic()
    for index in range(10):
        for event in _events(bytes([2, 0, 0, 0, 0, index + 1])):
            background(event)
    handed_over = time.monotonic() - started
    background.close()  # waits for every row
    rows = journal.attempts()
    assert handed_over < 0.05 < 10 * 2 * 0.05 <= time.monotonic() - started
    assert [r.answered_mac[-2:] for r in rows] == [f"{i:02x}" for i in range(1, 11)]
    assert {r.outcome for r in rows} == {"rebooted"}
