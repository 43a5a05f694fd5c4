"""The journal in a real PostgreSQL server (a throw-away cluster from the distribution's
packages, Unix socket only): schema and migrations, concurrent stations, `--once`
across stations, an outage while a station runs, history filters."""

from __future__ import annotations

import itertools
import json
import threading
import time

import pytest

from nitools.journal.attempts import Journal, JournalError
from nitools.journal.stores import RETRY_AFTER, SCHEMA_VERSION
from nitools.journal.writer import JournalWriter
from tests.helpers import attempt_events, run_cli
from tests.postgres import cluster, server_bin

pytest.importorskip("psycopg")
pytestmark = pytest.mark.skipif(server_bin() is None, reason="PostgreSQL server not "
                                "installed (Debian: apt-get install postgresql)")
_names = itertools.count()


@pytest.fixture(scope="module")
def server():
    with cluster() as running:
        yield running


@pytest.fixture
def url(server):
    return server.new_database(f"journal_{next(_names)}")


def mac(index: int) -> bytes:
    return bytes([2, 0, 0, 0, index // 256, index % 256])


def test_rows_migrations_and_station_names(url):
    journal = Journal(url, station="lab-1:eth1")
    writer = JournalWriter(journal)
    for event in attempt_events(mac(1)):
        writer(event)
    (row,) = journal.attempts()
    assert (row.outcome, row.station, row.files[0]["name"]) == (
        "rebooted", "lab-1:eth1", "r.npk")
    assert isinstance(row.started_at, float) and row.duration >= 0
    assert journal.store.read("SELECT version FROM nitools_schema") == [
        {"version": SCHEMA_VERSION}]
    Journal(url).close()  # opening a migrated journal changes nothing
    assert len(journal.attempts()) == 1
    assert "password" not in journal.path


def test_an_old_schema_is_migrated_in_place(url):
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:  # a journal from before migrations
        db.execute("CREATE TABLE attempts (id BIGSERIAL PRIMARY KEY, started_at DOUBLE "
                   "PRECISION NOT NULL, ended_at DOUBLE PRECISION, answered_mac TEXT NOT "
                   "NULL, macs TEXT NOT NULL, software_id TEXT, model TEXT, arch TEXT, "
                   "min_version TEXT, image_version TEXT, files TEXT, config_mode TEXT, "
                   "outcome TEXT NOT NULL, reason TEXT, bytes BIGINT, duration DOUBLE "
                   "PRECISION)")
        db.execute("INSERT INTO attempts (started_at, answered_mac, macs, outcome) VALUES "
                   "(1, 'x', 'x', 'installed')")
    journal = Journal(url, station="b:eth2")
    (old,) = journal.attempts()
    assert (old.outcome, old.station, old.port) == ("installed", None, None)


def test_stations_writing_at_once_lose_and_duplicate_nothing(url):
    stations = [Journal(url, station=f"station-{n}:eth1") for n in range(4)]

    def install(journal: Journal, first: int) -> None:
        writer = JournalWriter(journal)
        for index in range(first, first + 50):
            for event in attempt_events(mac(index)):
                writer(event)

    threads = [threading.Thread(target=install, args=(journal, n * 1000))
               for n, journal in enumerate(stations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = stations[0].attempts()
    assert len(rows) == 200 and len({r.id for r in rows}) == 200
    assert len({r.answered_mac for r in rows}) == 200
    assert {r.outcome for r in rows} == {"rebooted"}
    assert {r.station for r in rows} == {f"station-{n}:eth1" for n in range(4)}


def test_once_holds_across_stations(url):
    station_a, station_b = Journal(url, station="a:eth1"), Journal(url, station="b:eth1")
    writer = JournalWriter(station_a)
    for event in attempt_events(mac(7)):
        writer(event)
    earlier = JournalWriter(station_b).installed_before("ID-" + mac(7).hex(), "x")
    assert earlier == station_a.attempts()[0].id


def test_a_crashed_stations_open_rows_are_its_own_to_close(url):
    station_a, station_b = Journal(url, station="a:eth1"), Journal(url, station="b:eth1")
    writer = JournalWriter(station_b)
    for event in attempt_events(mac(8))[:3]:  # accepted, still installing at station b
        writer(event)
    assert station_a.close_stale() == 0  # a restarting station a leaves b's install alone
    assert station_b.close_stale() == 1


def test_an_outage_loses_nothing(server, url):
    journal = Journal(url, station="a:eth1")
    clock = [0.0]
    writer = JournalWriter(journal, clock=lambda: clock[0])
    for event in attempt_events(mac(1)):
        writer(event)
    server.stop()
    try:
        started = time.monotonic()
        for index in range(2, 6):
            for event in attempt_events(mac(index)):
                writer(event)  # never raises: installs go on
        assert time.monotonic() - started < 5  # a refused socket fails at once
        with pytest.raises(JournalError, match=r"unreachable|failed|cannot reach"):
            journal.attempts()
    finally:
        server.start()
    time.sleep(RETRY_AFTER + 0.2)  # the store does not ask a failed server sooner
    clock[0] += 10
    writer.flush()
    rows = journal.attempts()
    assert sorted(r.answered_mac for r in rows) == sorted(
        ":".join(f"{b:02x}" for b in mac(i)) for i in range(1, 6))
    assert {r.outcome for r in rows} == {"rebooted"}


def test_history_reads_and_filters_a_shared_journal(url):
    for station, index, outcome in (("a:eth1", 1, "rebooted"), ("b:eth1", 2, "failed"),
                                    ("b:eth1", 3, "rebooted")):
        writer = JournalWriter(Journal(url, station=station))
        for event in attempt_events(mac(index), outcome):
            writer(event)
    result = run_cli("history", "--journal", url, "--station", "b:eth1", "--outcome",
                     "rebooted", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["answered_mac"] == "02:00:00:00:00:03"
    csv = run_cli("history", "--journal", url, "--csv").stdout.splitlines()
    assert len(csv) == 4 and csv[0].startswith("id,started_at,ended_at,station,port")


def test_an_unreachable_database_is_one_clear_error_at_start(tmp_path):
    published = tmp_path / "routeros" / "7.16.1"  # a folder mirror that has the version
    published.mkdir(parents=True)
    (published / "routeros-7.16.1-arm64.npk").write_bytes(b"checked only when a board asks")
    result = run_cli("flash", "--loopback", "1:2", "--journal",
                     f"postgresql://nitools@/nitools?host={tmp_path}",
                     "--routeros", "7.16.1", "--mirror", str(tmp_path))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("nitools: error: cannot reach the journal database postgresql://")
    assert "check that PostgreSQL runs and the URL is right" in last


def test_a_station_stopped_during_an_outage_writes_its_rows_at_the_next_start(
        server, url, tmp_path):
    from nitools.journal.spool import read_spool, replay

    journal = Journal(url, station="a:eth1")
    writer = JournalWriter(journal)
    writer.spool = tmp_path / "unwritten.jsonl"
    events_two = attempt_events(mac(2))
    for event in attempt_events(mac(1)) + events_two[:3]:  # board 2 accepted: its row is open
        writer(event)
    server.stop()
    try:
        writer(events_two[3])  # board 2 ends while the database is down
        for event in attempt_events(mac(3), "failed"):  # board 3 entirely during the outage
            writer(event)
        writer.close()  # the station stops before the database is back
    finally:
        server.start()
    spooled = read_spool(tmp_path / "unwritten.jsonl")
    assert [(r.answered_mac[-2:], r.id is not None) for r in spooled] == [
        ("02", True), ("03", False)]
    again = Journal(url, station="a:eth1")  # the next start
    assert replay(tmp_path / "unwritten.jsonl", again) == 2
    assert not (tmp_path / "unwritten.jsonl").exists()
    again.close_stale()
    rows = {r.answered_mac[-2:]: r for r in again.attempts()}
    assert {k: r.outcome for k, r in rows.items()} == {"01": "rebooted", "02": "rebooted",
                                                          "03": "failed"}
    assert rows["02"].files[0]["name"] == "r.npk" and rows["02"].duration >= 0
    assert rows["03"].station == "a:eth1" and rows["03"].reason == "reason failed"


def test_a_replay_cut_short_writes_no_row_twice_in_a_shared_journal(url, tmp_path,
                                                                     monkeypatch):
    import errno

    from nitools.journal import spool
    from nitools.journal.attempts import AttemptRow
    from nitools.journal.spool import replay, write_spool

    path = tmp_path / "unwritten.jsonl"
    rows = [AttemptRow(1.0e9 + n, f"02:00:00:00:00:0{n}", [f"02:00:00:00:00:0{n}"],
                       outcome="rebooted", reason="ok", ended_at=1.0e9 + n + 5, bytes=10,
                       station="a:eth1") for n in (1, 2)]
    write_spool(path, rows)
    journal = Journal(url, station="a:eth1")

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(spool, "_replace", disk_full)
        with pytest.raises(JournalError, match="No space left on device"):
            replay(path, journal)
    assert replay(path, journal) == 1  # the first row is in the database already
    assert [r.answered_mac[-2:] for r in Journal(url).attempts()] == ["01", "02"]
