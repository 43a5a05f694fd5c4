"""The spool: rows a stopped station could not write, kept whole and written once."""

import json

import pytest

from nitools.journal.attempts import AttemptRow, Journal, JournalError
from nitools.journal.spool import read_spool, replay, spool_path, write_spool


def row(mac_end: str, **more):
    values = {"outcome": "rebooted", "reason": "ok", "ended_at": 1.0e9 + 5, "bytes": 10,
              "station": "line-1", **more}
    return AttemptRow(1.0e9, f"02:00:00:00:00:{mac_end}", [f"02:00:00:00:00:{mac_end}"],
                      **values)


def test_rows_go_round_the_file_unchanged(tmp_path):
    path = tmp_path / "unwritten.jsonl"
    rows = [row("01", files=[{"name": "r.npk", "size": 10}], cause=None),
            row("02", id=7, outcome="failed", cause="stalled")]
    write_spool(path, rows[:1])
    write_spool(path, rows[1:])  # adds, never replaces what is there
    assert read_spool(path) == rows


def test_a_damaged_line_is_skipped_and_the_rest_is_kept(tmp_path, caplog):
    path = tmp_path / "unwritten.jsonl"
    write_spool(path, [row("01")])
    with open(path, "a") as out:
        out.write("{not json\n[1, 2]\n")
    write_spool(path, [row("02")])
    assert [r.answered_mac[-2:] for r in read_spool(path)] == ["01", "02"]
    assert "damaged line" in caplog.text


def test_replay_writes_each_row_once_and_keeps_what_failed(tmp_path):
    path = tmp_path / "unwritten.jsonl"
    write_spool(path, [row("01"), row("02"), row("03")])
    journal = Journal(tmp_path / "j.sqlite3")
    real_insert = journal.insert
    calls = []

    def insert_twice_then_fail(attempt):
        calls.append(attempt.answered_mac)
        if len(calls) == 3:
            raise JournalError("the database went away")
        return real_insert(attempt)

    journal.insert = insert_twice_then_fail  # type: ignore[method-assign]
    with pytest.raises(JournalError):
        replay(path, journal)
    assert [r.answered_mac[-2:] for r in read_spool(path)] == ["03"]  # only the unwritten
    journal.insert = real_insert  # type: ignore[method-assign]
    assert replay(path, journal) == 1 and not path.exists()
    assert [r.answered_mac[-2:] for r in journal.attempts()] == ["01", "02", "03"]


def test_a_spool_an_earlier_nitools_wrote_is_still_read(tmp_path):
    path = tmp_path / "unwritten.jsonl"
    path.write_text(json.dumps({"row": 4, "started_at": 1.0, "ended_at": 2.0,
                                "answered_mac": "02:00:00:00:00:09", "macs": [],
                                "outcome": "rebooted", "reason": "ok", "bytes": 1,
                                "unknown_key": "ignored"}) + "\n")
    (spooled,) = read_spool(path)
    assert spooled.id == 4 and spooled.outcome == "rebooted" and spooled.cause is None


def test_each_station_has_its_own_spool_with_a_safe_name(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert spool_path("host:eth1") == tmp_path / "nitools" / "unwritten-host_eth1.jsonl"
    assert spool_path("../../etc/x").parent == tmp_path / "nitools"


def test_a_full_disk_while_replaying_is_no_failure_and_writes_no_row_twice(tmp_path,
                                                                          monkeypatch):
    import errno

    from nitools.journal import spool

    path = tmp_path / "unwritten.jsonl"
    write_spool(path, [row("01"), row("02")])
    journal = Journal(tmp_path / "j.sqlite3", station="line-1")

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(spool, "_replace", disk_full)
        with pytest.raises(JournalError, match="No space left on device"):
            replay(path, journal)  # row 01 written; the file could not be rewritten
    assert [r.answered_mac[-2:] for r in read_spool(path)] == ["01", "02"]
    assert replay(path, journal) == 1  # the next start: 01 is there already
    assert [r.answered_mac[-2:] for r in journal.attempts()] == ["01", "02"]
    assert not path.exists()
