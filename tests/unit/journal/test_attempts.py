"""The SQLite journal and `nitools history`."""

import sqlite3

import pytest

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




# ------------------------------------------------------- the writer and faults



















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




def test_history_is_filtered_and_paged_by_the_database(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3", station="a:eth1")
    for index in range(300):
        mac = f"02:00:00:00:{index >> 8:02x}:{index & 0xFF:02x}"
        outcome = "failed" if index % 3 == 0 else "rebooted"
        row = journal.insert(AttemptRow.of_board(1.0e9 + index, mac, INFO,
                                                 macs=[mac, "02:ff:00:00:00:01"]))
        journal.finish(row, outcome, "why", None, 0)
    last = journal.attempts(limit=5, outcome="failed")
    assert [r.answered_mac for r in last] == [
        f"02:00:00:00:01:{i:02x}" for i in (0x1d, 0x20, 0x23, 0x26, 0x29)]  # oldest first
    assert [r.id for r in journal.attempts(mac="02:00:00:00:00:07")] == [8]
    assert len(journal.attempts(mac="02:ff:00:00:00:01")) == 300  # any port it announced
    assert journal.attempts(station="b:eth1") == []
    assert len(journal.attempts(since=1.0e9 + 290)) == 10
    plan = journal.store.db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM attempts WHERE station = ?", ("x",)).fetchall()
    assert "attempts_station" in " ".join(str(tuple(step)) for step in plan)
