"""Two stations in two lab namespaces share one PostgreSQL journal: both write, a board
installed at station A is left alone at station B (--once), and a database stopped
mid-run loses nothing: installs go on, rows are written when it is back."""

from __future__ import annotations

import time

import pytest

from nitools.emulation.synthetic import build_npk
from nitools.journal.attempts import Journal
from tests.lab.netns import FLASHER_IF, NamespacesUnavailable, NetnsPair
from tests.lab.stations import Station, ini
from tests.postgres import cluster, server_bin

pytest.importorskip("psycopg")
pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(server_bin() is None, reason="PostgreSQL server not "
                                 "installed (Debian: apt-get install postgresql)")]


@pytest.fixture
def second_station(tmp_path):
    try:
        pair = NetnsPair.create()
    except NamespacesUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield Station(pair, tmp_path / "b")
    finally:
        pair.destroy()


def wait_for(condition, timeout: float = 30, what: str = ""):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return result


def test_two_stations_one_history_once_and_an_outage(station, second_station, tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "routeros-7.16.1-arm64.npk").write_bytes(
        build_npk("system", "7.16.1", "arm64", size=120_000, seed=95))
    config = ini(tmp_path, f"[nitools]\nfirmware = {tmp_path}/routeros-7.16.1-arm64.npk\n")
    with cluster() as server:
        url = server.new_database("fleet")
        journal = Journal(url)

        def start(where: Station, name: str):
            return where.pair.start(where.pair.flasher_ns, "flash", "--plain", "-c",
                                    str(config), "-i", FLASHER_IF, "--journal", url,
                                    "--station-name", name, "--once", "-m")

        station_a, station_b = start(station, "line-a"), start(second_station, "line-b")
        station.emulate("--seed", "95", "--software-id", "BOARD-ONE")
        wait_for(lambda: [r for r in journal.attempts() if r.outcome == "rebooted"],
                 what="station A never journaled its install")
        # the same board, cabled to station B next: left alone
        second_station.emulate("--seed", "96", "--software-id", "BOARD-ONE", timeout=8)
        (moved,) = second_station.summaries()
        assert moved["offers_seen"] == 0 and not moved["files"]

        server.stop()  # the database goes away while station B runs
        second_station.emulators.clear()
        second_station.emulate("--seed", "97", "--software-id", "BOARD-TWO")
        (installed,) = second_station.summaries()
        assert installed["installed"]  # installs go on without the database
        server.start()
        # The kept attempt is written as its start, then its end: wait for the end.
        rows = wait_for(lambda: [r for r in Journal(url).attempts()
                                 if r.software_id == "BOARD-TWO" and r.ended_at],
                        timeout=30, what="the row kept during the outage was never written")
        assert [(r.station, r.outcome) for r in rows] == [("line-b", "rebooted")]
        logs = {}
        for name, process in (("a", station_a), ("b", station_b)):
            process.terminate()
            _, logs[name] = process.communicate(timeout=30)
            assert process.returncode == 0, logs[name]
        first_row = [r for r in Journal(url).attempts() if r.software_id == "BOARD-ONE"]
        assert f"installed before (journal row {first_row[0].id}): not installing again " \
            "(--once)" in logs["b"]
        everything = Journal(url).attempts()
        assert {(r.station, r.software_id, r.outcome) for r in everything} >= {
            ("line-a", "BOARD-ONE", "rebooted"), ("line-b", "BOARD-TWO", "rebooted")}
        assert len({r.id for r in everything}) == len(everything)
