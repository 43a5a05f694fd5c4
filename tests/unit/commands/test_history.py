"""nitools history: the journal as a table, JSON or CSV, with filters."""

import json

import pytest

from nitools.journal.attempts import (
    AttemptRow,
    Journal,
)
from nitools.netinstall.messages import Announcement
from tests.helpers import attempt_events, run_cli

INFO = Announcement("ABCD-EFGH", "", "RB5009", "arm64", "7.12", "7.16.1")


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


def test_history_filters_by_mac_software_id_and_outcome_and_writes_csv(tmp_path):
    import csv
    import io

    from nitools.journal.writer import JournalWriter

    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    writer = JournalWriter(journal)
    for index, outcome in enumerate(("rebooted", "failed", "rebooted")):
        for event in attempt_events(bytes([2, 0, 0, 0, 0, index + 1]), outcome):
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


def test_csv_cells_a_spreadsheet_would_run_are_kept_as_text(tmp_path):
    import csv
    import io

    from nitools.journal.attempts import AttemptRow

    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    hostile = Announcement("=HYPERLINK(\"http://x\")", "", "@SUM(A1)", "arm64", "7.12", "")
    row = journal.insert(AttemptRow.of_board(1.0e9, "02:00:00:00:00:01", hostile))
    journal.finish(row, "failed", "+cmd|' /C calc'!A0", None, 0)
    journal.close()
    result = run_cli("history", "--journal", str(path), "--csv")
    (listed,) = csv.DictReader(io.StringIO(result.stdout))
    assert listed["software_id"] == "'=HYPERLINK(\"http://x\")"
    assert listed["model"] == "'@SUM(A1)" and listed["reason"].startswith("'+cmd")
    assert listed["answered_mac"] == "02:00:00:00:00:01"  # ordinary text is untouched


def test_times_are_iso_8601_and_an_empty_history_says_so(tmp_path):
    from datetime import datetime

    from nitools.journal.attempts import AttemptRow

    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    row = journal.insert(AttemptRow.of_board(1.0e9, "02:00:00:00:00:01", INFO))
    journal.finish(row, "rebooted", "ok", None, 10, ended_at=1.0e9 + 30)
    journal.close()
    (listed,) = json.loads(run_cli("history", "--journal", str(path), "--json").stdout)
    started = datetime.fromisoformat(listed["started_at"])
    assert started.timestamp() == 1.0e9 and started.utcoffset() is not None
    assert datetime.fromisoformat(listed["ended_at"]).timestamp() == 1.0e9 + 30
    empty = run_cli("history", "--journal", str(path), "--outcome", "failed")
    assert empty.returncode == 0 and empty.stdout.strip() == "no attempts match"


def test_at_80_columns_history_keeps_the_mac_whole_and_a_row_short(tmp_path):
    """Issue 29 row 8: history cut the MAC ('02…') and wrapped each row into ~20 lines."""
    from nitools.journal.attempts import Journal
    from nitools.journal.writer import JournalWriter
    from tests.helpers import attempt_events

    journal = Journal(tmp_path / "j.sqlite3", station="a-long-station-name:eth1")
    writer = JournalWriter(journal)
    for event in attempt_events(bytes.fromhex("024e49000001"), "failed"):
        writer(event)
    journal.close()
    narrow = run_cli("history", "--journal", str(tmp_path / "j.sqlite3"),
                     env={"COLUMNS": "80"})
    lines = narrow.stdout.splitlines()
    assert "02:4e:49:00:00:01" in narrow.stdout
    assert max(len(line) for line in lines) <= 80 and len(lines) <= 6, narrow.stdout
    wide = run_cli("history", "--journal", str(tmp_path / "j.sqlite3"),
                   env={"COLUMNS": "200"})
    assert "a-long-station-name:eth1" in wide.stdout  # every column where there is room
